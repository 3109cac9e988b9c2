//! One cluster run: create the namespace, apply, wait for rollouts, start the load generator,
//! apply the fault schedule on time, collect, and clean up whatever happened.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chaos_k8s::manifests::{AGENT_PORT, RUN_ID_LABEL};
use chaos_k8s::schedule::{Entry, Step, Target};
use chaos_k8s::{Bundle, ServiceObjects};
use chaos_plan::{Conductor, Decision, Plan, Replicas};
use chaos_report::recording::{AbortRecord, UnexpectedEvent, subjects_of};
use chaos_report::{AbortWatcher, Recording};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Options;
use crate::cleanup::{EXPIRES_ANNOTATION, HEARTBEAT, HEARTBEAT_ANNOTATION};
use crate::collect::{self, Samples};
use crate::connect::Connection;
use crate::error::{Call, ClusterError};
use crate::events::{self, About};
use crate::outside::ReplicaWatch;
use crate::pod::rfc3339_ms;

mod loadgen;
mod proxy;
mod reads;
mod watch;

use proxy::{AgentError, PodProxy};
use reads::WindowReads;

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "chaos";
/// Header carrying the control token through the API server's proxy (which consumes `Authorization`).
pub const TOKEN_HEADER: &str = "x-chaos-token";
const TICK: Duration = Duration::from_millis(200);
/// The longest an abort check waits for its window's read after the window's end (and at
/// most half a window): the lateness a slow read can add to a fault due then.
const CHECK_WAIT_S: f64 = 0.5;
/// How long the abort watch waits for the load generator's windows, at most, and how long it
/// leaves the load generator alone after an ask that failed or came late. A finished load
/// generator Pod may take the Pod proxy's whole timeout to refuse, and there is an abort check
/// every window: asked each time, the checks of a long drain kept the loop from ever reaching
/// the load generator's end (two scenarios ran past their deadline on the testbed).
const LOADGEN_ASK_MAX_S: f64 = 2.0;
/// Services applied at once.
const APPLY_IN_FLIGHT: usize = 16;
const FATAL_WAITING: [&str; 5] = [
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
];

pub(crate) struct Session<'a> {
    client: Client,
    server: String,
    /// Requests to the agents and the load generator through the Pod proxy.
    pods: PodProxy,
    /// Events being written: off the schedule's path, waited for before the run ends.
    events: tokio::task::JoinSet<()>,
    bundle: &'a Bundle,
    plan: &'a Plan,
    options: &'a Options,
    namespace_created: bool,
    /// Entry index → Pods its fault is installed on.
    installed: BTreeMap<usize, BTreeSet<String>>,
    /// Entries whose fault should be on every ready Pod of its services now (or, for
    /// `on N of S`, on the Pods in `picked`).
    active: BTreeSet<usize>,
    /// `on N of S` entries: the Pods picked at the occurrence's start and every Pod of the
    /// service then; a Pod that appears later takes the place of a picked one that is gone.
    picked: BTreeMap<usize, Picked>,
    /// Callees with `eject`: the peer URLs last pushed to each calling Pod, by (Pod, callee).
    pushed: BTreeMap<(String, String), Vec<String>>,
    loadgen_finished: bool,
    /// The plan's `abort when`, fed each window as soon as both the load generator and the
    /// agents have reported it.
    watcher: AbortWatcher,
    /// The next window to feed the watcher.
    watched: usize,
    /// Run time (s) before which the abort watch does not ask the load generator again.
    loadgen_quiet_until: f64,
    aborted: Option<AbortRecord>,
    /// What is due when: faults, window reads, abort checks, autoscale ticks, the stop.
    conductor: Conductor,
    /// Time 0, once the load generator started: a fault's lateness is counted from it.
    t0: Option<Instant>,
    /// Replica counts changed from outside the run (`kubectl scale`, …), noticed and reported.
    replicas: ReplicaWatch,
    outside: Vec<UnexpectedEvent>,
}

/// The Pods an `on N of S` occurrence affects.
#[derive(Debug, Clone, Default)]
struct Picked {
    pods: BTreeSet<String>,
    /// Every Pod of the service at the occurrence's start, picked or not.
    seen: BTreeSet<String>,
}

/// A Pod of this run, as far as the schedule cares.
#[derive(Debug, Clone)]
struct PodInfo {
    name: String,
    ready: bool,
    ip: Option<String>,
}

impl<'a> Session<'a> {
    pub fn new(
        connection: Connection,
        bundle: &'a Bundle,
        plan: &'a Plan,
        options: &'a Options,
    ) -> Session<'a> {
        let token = bundle
            .objects
            .secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(chaos_k8s::manifests::TOKEN_KEY))
            .cloned()
            .unwrap_or_default();
        Session {
            pods: PodProxy::new(connection.client.clone(), bundle.namespace.clone(), token),
            events: tokio::task::JoinSet::new(),
            client: connection.client,
            server: connection.server,
            bundle,
            plan,
            options,
            namespace_created: false,
            installed: BTreeMap::new(),
            active: BTreeSet::new(),
            picked: BTreeMap::new(),
            pushed: BTreeMap::new(),
            loadgen_finished: false,
            loadgen_quiet_until: 0.0,
            watcher: AbortWatcher::new(
                plan,
                &subjects_of(plan),
                &plan
                    .services
                    .iter()
                    .map(|s| s.name.clone())
                    .collect::<Vec<_>>(),
                plan.scenario.window_s,
            ),
            watched: 0,
            aborted: None,
            conductor: Conductor::new(plan, options.seed),
            t0: None,
            replicas: ReplicaWatch::new(
                plan,
                bundle
                    .objects
                    .services
                    .iter()
                    .map(|s| (s.name.as_str(), s.kubernetes.as_str())),
            ),
            outside: Vec::new(),
        }
    }

    fn ns(&self) -> &str {
        &self.bundle.namespace
    }

    fn call<'b>(&'b self, verb: &'b str, resource: &'b str) -> Call<'b> {
        Call {
            verb,
            resource,
            namespace: Some(&self.bundle.namespace),
            server: &self.server,
        }
    }

    fn say(&self, line: &str) {
        self.options.progress.say(line);
    }

    pub async fn execute(&mut self) -> Result<Recording, ClusterError> {
        self.create_namespace().await?;
        // While the run goes on, its namespace says so (`chaos cleanup` leaves it alone).
        let beat = heartbeat(self.client.clone(), self.ns().to_string());
        tokio::select! {
            r = self.execute_in_namespace() => r,
            never = beat => match never {},
        }
    }

    async fn execute_in_namespace(&mut self) -> Result<Recording, ClusterError> {
        self.apply_objects().await?;
        self.wait_for_rollouts().await?;
        let (loadgen_pods, t0) = self.start_loadgen().await?;
        if let Some(o) = &self.options.observer {
            o.started();
        }
        let samples = self.follow_schedule(&loadgen_pods, t0).await?;
        self.revert_all().await?;
        self.events_written(Duration::from_secs(10)).await;
        let logs = self.loadgen_logs(&loadgen_pods).await?;
        let mut recording = collect::recording(self.plan, self.options.seed, &logs, &samples)?;
        recording.unexpected.append(&mut self.outside);
        recording
            .unexpected
            .sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        self.finish_watching(&mut recording, &samples);
        Ok(recording)
    }

    /// Windows the run ended before watching (the last ones) are watched on the final
    /// Recording, so an abort does not depend on how quickly the run was polled; the runner's
    /// watcher, which sees the agents' figures too, decides (the load generator's own only
    /// saw its requests).
    fn finish_watching(&mut self, recording: &mut Recording, samples: &Samples) {
        let window_s = recording.window_s;
        if self.aborted.is_none() {
            let n = recording.windows.len();
            let mut spans = watch::spans(self.watched, n, samples);
            // A read that covered windows past the load generator's last: judged up to it.
            let left = spans.last().map_or(self.watched, |s| s.end);
            if left < n {
                spans.push(left..n);
            }
            for span in spans {
                if let Some(a) =
                    watch::observe(&mut self.watcher, &recording.windows[span], window_s)
                {
                    self.aborted = Some(a);
                    break;
                }
            }
        }
        recording.aborted = self.aborted.clone();
        recording.ended_s = match &self.aborted {
            Some(a) => a.at_s.min(self.plan.scenario.duration_s),
            None => self.plan.scenario.duration_s,
        };
    }

    async fn create_namespace(&mut self) -> Result<(), ClusterError> {
        let api = Api::<Namespace>::all(self.client.clone());
        let call = Call {
            verb: "get",
            resource: "namespaces",
            namespace: None,
            server: &self.server,
        };
        if let Some(existing) = api.get_opt(self.ns()).await.map_err(|e| call.error(e))? {
            // Re-running into a kept run's namespace is the likely case: say whose it is.
            let whose = match existing
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(RUN_ID_LABEL))
            {
                Some(run) => format!(
                    "it holds chaos run `{run}` (kept with `--keep`, or its runner was killed): delete it with `kubectl delete namespace {}` or `chaos cleanup`, or choose another `--namespace`",
                    self.ns()
                ),
                None => "choose another `--namespace` or delete it".to_string(),
            };
            return Err(ClusterError::NamespaceExists(self.ns().to_string(), whose));
        }
        let call = Call {
            verb: "create",
            resource: "namespaces",
            namespace: None,
            server: &self.server,
        };
        let mut namespace = self.bundle.objects.namespace.clone();
        let now = std::time::SystemTime::now();
        // Past this, `chaos cleanup` deletes the namespace even if a runner still beats: the
        // longest a run can take (rollouts, the load generator's start, the schedule, its
        // deadline), plus ten minutes.
        let longest = self.timeout() * 2
            + Duration::from_secs_f64(self.plan.horizon_s().max(0.0) + 300.0 + 600.0);
        let annotations = namespace.metadata.annotations.get_or_insert_default();
        annotations.insert(HEARTBEAT_ANNOTATION.to_string(), rfc3339_ms(now));
        annotations.insert(EXPIRES_ANNOTATION.to_string(), rfc3339_ms(now + longest));
        api.patch(self.ns(), &apply_params(), &Patch::Apply(&namespace))
            .await
            .map_err(|e| call.error(e))?;
        self.namespace_created = true;
        self.say(&format!("created namespace {}", self.ns()));
        Ok(())
    }

    async fn apply<K>(&self, resource: &str, object: &K) -> Result<(), ClusterError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        Api::<K>::namespaced(self.client.clone(), self.ns())
            .patch(&name, &apply_params(), &Patch::Apply(object))
            .await
            .map_err(|e| self.call("create", resource).error(e))?;
        Ok(())
    }

    async fn apply_objects(&self) -> Result<(), ClusterError> {
        let o = &self.bundle.objects;
        self.apply("secrets", &o.secret).await?;
        self.apply("configmaps", &o.config_map).await?;
        // Several services at once: one apply after the other took 28 s for 100 services on
        // the testbed, each a round trip to a busy API server. The runner scales autoscaled
        // services itself by the plan's rule; a CPU HPA acting on the same Deployment would
        // fight it, so it is not applied.
        let applies: Vec<_> = o
            .services
            .iter()
            .map(|s| async move {
                self.apply("deployments.apps", &s.deployment).await?;
                self.apply("services", &s.service).await
            })
            .collect();
        futures::stream::iter(applies)
            .buffer_unordered(APPLY_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        self.say(&format!("applied {} services", o.services.len()));
        let scaled: Vec<&str> = o
            .services
            .iter()
            .filter(|s| s.autoscaler.is_some())
            .map(|s| s.name.as_str())
            .collect();
        if !scaled.is_empty() {
            self.say(&format!(
                "{} scaled by the runner on worker utilisation (the manifests' CPU HPA is not applied)",
                scaled.join(", ")
            ));
        }
        Ok(())
    }

    async fn run_pods(&self, selector: &str) -> Result<Vec<Pod>, ClusterError> {
        Ok(Api::<Pod>::namespaced(self.client.clone(), self.ns())
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| self.call("list", "pods").error(e))?
            .items)
    }

    /// Fails fast on a Pod that cannot start (image pull, crash loop, bad config).
    fn check_pods(pods: &[Pod]) -> Result<(), ClusterError> {
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            for cs in pod
                .status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
            {
                let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
                    continue;
                };
                let reason = waiting.reason.clone().unwrap_or_default();
                if !FATAL_WAITING.contains(&reason.as_str()) {
                    continue;
                }
                let message = waiting.message.clone().unwrap_or_default();
                return Err(if reason.contains("Image") {
                    ClusterError::ImagePull {
                        pod: name,
                        image: cs.image.clone(),
                        reason,
                        message,
                    }
                } else {
                    ClusterError::PodFailing {
                        pod: name,
                        reason,
                        message,
                    }
                });
            }
        }
        Ok(())
    }

    /// Why a Pod is not ready, in one line, for the timeout message.
    fn pod_reason(pods: &[Pod]) -> Option<String> {
        pods.iter().find_map(|pod| {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let status = pod.status.as_ref()?;
            let waiting = status.container_statuses.iter().flatten().find_map(|cs| {
                let w = cs.state.as_ref()?.waiting.as_ref()?;
                Some(format!(
                    "{}: {}",
                    w.reason.clone().unwrap_or_default(),
                    w.message.clone().unwrap_or_default()
                ))
            });
            let condition = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.status == "False" && c.message.is_some())
                .map(|c| {
                    format!(
                        "{} {}: {}",
                        c.type_,
                        c.reason.clone().unwrap_or_default(),
                        c.message.clone().unwrap_or_default()
                    )
                });
            let phase = status.phase.clone().unwrap_or_default();
            waiting
                .or(condition)
                .map(|r| format!("pod {name} ({phase}) {r}"))
        })
    }

    fn timeout(&self) -> Duration {
        self.options
            .rollout_timeout
            .unwrap_or(Duration::from_secs(300))
    }

    async fn wait_for_rollouts(&self) -> Result<(), ClusterError> {
        let started = Instant::now();
        let selector = format!("{RUN_ID_LABEL}={}", self.run_id());
        let mut last = String::new();
        loop {
            let mut pending: Vec<(&ServiceObjects, i32, i32)> = Vec::new();
            let mut counts = Vec::new();
            for s in &self.bundle.objects.services {
                let d = Api::<Deployment>::namespaced(self.client.clone(), self.ns())
                    .get(&s.kubernetes)
                    .await
                    .map_err(|e| self.call("get", "deployments.apps").error(e))?;
                let wanted = d.spec.replicas.unwrap_or(1);
                let ready = d
                    .status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0);
                counts.push(format!("{} {ready}/{wanted}", s.name));
                if ready < wanted {
                    pending.push((s, ready, wanted));
                }
            }
            let line = format!("waiting for rollouts: {}", counts.join(", "));
            if line != last {
                self.say(&line);
                last = line;
            }
            let pods = self.run_pods(&selector).await?;
            Self::check_pods(&pods)?;
            let Some(&(s, ready, wanted)) = pending.first() else {
                self.say("all services ready");
                return Ok(());
            };
            if started.elapsed() > self.timeout() {
                let own: Vec<Pod> = pods
                    .into_iter()
                    .filter(|p| {
                        p.metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get("app.kubernetes.io/instance"))
                            == Some(&s.kubernetes)
                    })
                    .collect();
                return Err(ClusterError::RolloutTimeout {
                    deployment: s.kubernetes.clone(),
                    ready,
                    wanted,
                    waited_s: started.elapsed().as_secs(),
                    reason: Self::pod_reason(&own),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Feeds the abort watcher every window that both the load generator and the agents
    /// have reported (`scraped` windows of agent metrics so far); on an abort, stops the run.
    async fn watch_aborts(
        &mut self,
        pods: &[String],
        samples: &Samples,
        scraped: usize,
    ) -> Result<(), ClusterError> {
        let watching = !self.watcher.is_empty() || self.options.observer.is_some();
        if !watching || self.aborted.is_some() || self.watched >= scraped {
            return Ok(());
        }
        let now = self.run_time_s();
        if now < self.loadgen_quiet_until {
            return Ok(());
        }
        let from = self.watched;
        let window_s = self.plan.scenario.window_s;
        let ask = Duration::from_secs_f64(window_s.clamp(0.5, LOADGEN_ASK_MAX_S));
        // A failed or late ask is made again later: the windows it missed are still unwatched
        // then, and the final Recording is watched too.
        let asked = tokio::time::timeout(ask, self.loadgen_windows(pods, from)).await;
        let mut windows = match asked {
            Ok(Ok(w)) => w,
            failed => {
                match failed {
                    Ok(Err(AgentError::Failed(m))) => tracing::debug!("load generator status: {m}"),
                    Err(_late) => {
                        tracing::debug!("load generator status: no answer within {ask:?}")
                    }
                    _ => {}
                }
                self.loadgen_quiet_until = now + ask.as_secs_f64() + LOADGEN_ASK_MAX_S;
                return Ok(());
            }
        };
        let subjects = subjects_of(self.plan);
        let services: Vec<String> = self.plan.services.iter().map(|s| s.name.clone()).collect();
        windows.truncate(scraped.saturating_sub(from));
        for (i, window) in windows.iter_mut().enumerate() {
            samples.merge(from + i, window, &subjects, &services);
        }
        // Windows whose agent figures came in one read are judged together, once all are in.
        for span in watch::spans(from, from + windows.len(), samples) {
            let these = &windows[span.start - from..span.end - from];
            for (w, window) in span.clone().zip(these) {
                if let Some(o) = &self.options.observer {
                    o.window(w, window);
                }
            }
            self.watched = span.end;
            if let Some(a) = watch::observe(&mut self.watcher, these, window_s) {
                self.abort(a).await;
                break;
            }
        }
        Ok(())
    }

    /// `abort when` fired: the conductor reverts the faults in force at once and stops the
    /// load generator; the run then ends as usual (collect, report, clean up).
    async fn abort(&mut self, a: AbortRecord) {
        self.say(&format!(
            "abort at {:.0}s: {}; reverting faults and stopping the load",
            a.at_s, a.text
        ));
        let message = format!(
            "abort at {:.1}s: {}; faults reverted, load stopped",
            a.at_s, a.text
        );
        events::record(
            &self.client,
            self.ns(),
            About::Namespace,
            events::RUN_ABORTED,
            &message,
        )
        .await;
        // The reverts and the stop are due at the abort's instant: at once.
        self.conductor.abort(a.at_s);
        self.aborted = Some(a);
    }

    /// The plan's autoscale rule for one service, from the agents' utilisation since the last
    /// tick: sets the Deployment's replicas through its scale subresource.
    async fn autoscale(
        &mut self,
        service: &str,
        kubernetes: &str,
        samples: &mut Samples,
    ) -> Result<(), ClusterError> {
        let Some(Replicas::Autoscale { min, max, rule, .. }) =
            self.plan.service(service).map(|s| s.replicas.clone())
        else {
            return Ok(());
        };
        let Some(utilisation) = samples.take_utilisation(service) else {
            return Ok(());
        };
        let api = Api::<Deployment>::namespaced(self.client.clone(), self.ns());
        let deployment = api
            .get(kubernetes)
            .await
            .map_err(|e| self.call("get", "deployments.apps").error(e))?;
        // A scale from outside since the last look is said before the rule acts on it.
        let listed_at_s = self.run_time_s();
        self.note_outside(std::slice::from_ref(&deployment), listed_at_s);
        let current = deployment.spec.replicas.unwrap_or(0).max(0) as u32;
        let want = rule.desired(current, utilisation, min, max);
        if want != current {
            let patch = serde_json::json!({ "spec": { "replicas": want } });
            // Under our field manager, so a scale from outside is told apart from ours.
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PatchParams::default()
            };
            api.patch_scale(kubernetes, &params, &Patch::Merge(&patch))
                .await
                .map_err(|e| self.call("patch", "deployments.apps/scale").error(e))?;
            let scaled_at_s = self.run_time_s();
            self.replicas.set_by_run(kubernetes, want, scaled_at_s);
            self.say(&format!(
                "autoscale {service}: {current} -> {want} replicas (worker utilisation {:.0}%, {})",
                utilisation * 100.0,
                match rule {
                    chaos_plan::ScaleRule::Target { utilisation } =>
                        format!("target {:.0}%", utilisation * 100.0),
                    chaos_plan::ScaleRule::Watermarks { up, down } => format!(
                        "up above {:.0}%, down below {:.0}%",
                        up * 100.0,
                        down * 100.0
                    ),
                }
            ));
        }
        Ok(())
    }

    /// Replica counts changed from outside the run: said at once, and kept for the report.
    fn note_outside(&mut self, deployments: &[Deployment], listed_at_s: f64) {
        let at_s = self.run_time_s();
        for e in self.replicas.check(deployments, listed_at_s, at_s) {
            self.say(&format!(
                "unexpected: {} of {} {} (at {at_s:.1} s)",
                e.replica, e.service, e.what
            ));
            self.outside.push(e);
        }
    }

    /// Lists the Deployments of the run's namespace (all its own), in a task of its own (200
    /// Deployments are megabytes of JSON), to notice replica counts changed from outside the
    /// run: [`Self::watched_replicas`] takes the list.
    fn list_deployments(&self) -> tokio::task::JoinHandle<Result<Vec<Deployment>, kube::Error>> {
        let api = Api::<Deployment>::namespaced(self.client.clone(), self.ns());
        tokio::spawn(async move { Ok(api.list(&ListParams::default()).await?.items) })
    }

    /// Seconds since time 0 (0 before it).
    fn run_time_s(&self) -> f64 {
        self.t0.map_or(0.0, |t| t.elapsed().as_secs_f64())
    }

    /// `listed_at_s`: when the list was asked for.
    async fn watched_replicas(
        &mut self,
        list: tokio::task::JoinHandle<Result<Vec<Deployment>, kube::Error>>,
        listed_at_s: f64,
    ) -> Result<(), ClusterError> {
        let list = list
            .await
            .map_err(|e| ClusterError::Internal(format!("listing the run's Deployments: {e}")))?
            .map_err(|e| self.call("list", "deployments.apps").error(e))?;
        self.note_outside(&list, listed_at_s);
        Ok(())
    }

    /// Applies and reverts faults on time until the load generator finishes; samples replicas.
    async fn follow_schedule(
        &mut self,
        loadgen_pods: &[String],
        t0: Instant,
    ) -> Result<Samples, ClusterError> {
        // Schedule entries (one per action) of each fault occurrence the conductor names.
        let mut entries: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for (i, e) in self.bundle.schedule.entries.iter().enumerate() {
            if let Some(f) = self.plan.faults.iter().position(|f| f.name == e.fault) {
                entries.entry((f, e.occurrence)).or_default().push(i);
            }
        }
        let deadline = self.plan.horizon_s() + 300.0;
        let mut last_sample = -1.0;
        let mut f = Follow {
            entries,
            samples: Samples::new(self.plan),
            // Window reads need the Pods: the latest list, refreshed every upkeep.
            pods: self.service_pods().await?,
            scraped: 0,
            reads: WindowReads::new(self.pods.clone()),
            loadgen_pods,
            window_s: self.plan.scenario.window_s.max(0.1),
        };
        self.t0 = Some(t0);
        let mut replicas_checked = 0.0;
        // The lists in flight: the loop carries out decisions while the API server answers.
        let mut listing = None;
        let mut deployments = None;
        loop {
            self.carry_out_due(&mut f, t0).await?;
            let now = t0.elapsed().as_secs_f64();
            if listing.is_none() && now - last_sample >= 0.5 {
                last_sample = now;
                listing = Some(self.list_service_pods());
            }
            // Every 2 s: one list of the run's Deployments, whatever their number.
            if deployments.is_none() && now - replicas_checked >= 2.0 {
                replicas_checked = now;
                deployments = Some(self.list_deployments());
            }
            if deployments.as_ref().is_some_and(|d| d.is_finished())
                && let Some(list) = deployments.take()
            {
                self.watched_replicas(list, replicas_checked).await?;
            }
            if listing.as_ref().is_some_and(|l| l.is_finished())
                && let Some(list) = listing.take()
            {
                // The upkeep, step by step, with what fell due meanwhile carried out between
                // the steps: a decision waits for one step at most, never for the whole of it.
                f.pods = list
                    .await
                    .map_err(|e| ClusterError::Internal(format!("listing the run's Pods: {e}")))?
                    .map_err(|e| self.call("list", "pods").error(e))?;
                let now = t0.elapsed().as_secs_f64();
                for (s, list) in &f.pods {
                    f.samples
                        .record(s, now, list.iter().filter(|p| p.ready).count() as u32);
                }
                self.carry_out_due(&mut f, t0).await?;
                self.reconcile(&f.pods).await?;
                self.push_peers(&f.pods).await;
                self.carry_out_due(&mut f, t0).await?;
                // A window the load generator had not reported at its check is watched as
                // soon as it has.
                self.watch_aborts(f.loadgen_pods, &f.samples, f.scraped)
                    .await?;
                self.carry_out_due(&mut f, t0).await?;
                let status = self.loadgen_job_status().await?;
                if self.loadgen_succeeded(&status) {
                    // The reads still going, then the last stretch since the last window read.
                    if let Some(read) = f.reads.take_all(&mut f.samples).await {
                        f.scraped = read;
                    }
                    let interval =
                        (t0.elapsed().as_secs_f64() - f.scraped as f64 * f.window_s).max(0.0);
                    f.reads.start(ready_pods(&f.pods), f.scraped, interval);
                    f.reads.take_all(&mut f.samples).await;
                    if f.reads.merged() > 0 {
                        self.say(&format!(
                            "reading {} agents' metrics took longer than a window {} times: those windows' agent figures are counted in the window after them (`abort when` judged such windows together, as one stretch)",
                            ready_pods(&f.pods).len(),
                            f.reads.merged()
                        ));
                    }
                    self.loadgen_finished = true;
                    self.say("the load generator finished");
                    return Ok(f.samples);
                }
                if status.failed.unwrap_or(0) > 0 {
                    self.loadgen_finished = true;
                    return Err(ClusterError::Loadgen(format!(
                        "its Job failed; last lines of its log:\n{}",
                        self.log_tails(f.loadgen_pods).await
                    )));
                }
            }
            if now > deadline {
                return Err(ClusterError::Loadgen(format!(
                    "it did not finish within {deadline:.0} s"
                )));
            }
            // Wake for the conductor's next decision on time rather than on the next tick.
            let until_next = self
                .conductor
                .next_due()
                .map_or(TICK, |t| {
                    Duration::from_secs_f64((t - t0.elapsed().as_secs_f64()).max(0.0))
                })
                .min(TICK);
            tokio::time::sleep(until_next).await;
        }
    }

    /// Carries out every decision the conductor says is due by now, in its order, and takes
    /// the window reads that have come in. A window read only starts here (its answers come
    /// in on their own): nothing that follows it waits for them but what needs them, an
    /// `abort when` check (an abort at an instant cancels the faults due at it) and an
    /// autoscale tick.
    async fn carry_out_due(&mut self, f: &mut Follow<'_>, t0: Instant) -> Result<(), ClusterError> {
        if let Some(read) = f.reads.take_finished(&mut f.samples).await {
            f.scraped = read;
        }
        while let Some(due) = self.conductor.poll(t0.elapsed().as_secs_f64()) {
            let of = |fault, occurrence| {
                f.entries
                    .get(&(fault, occurrence))
                    .cloned()
                    .unwrap_or_default()
            };
            match due.decision {
                Decision::StartFault { fault, occurrence } => {
                    for i in of(fault, occurrence) {
                        self.start(i, None, &f.pods).await?;
                    }
                }
                Decision::Kill {
                    fault,
                    occurrence,
                    action,
                    service,
                    ..
                } => {
                    let plan = self.plan;
                    let name = plan.services.get(service).map(|s| s.name.as_str());
                    for i in of(fault, occurrence) {
                        if action_index(&self.bundle.schedule.entries[i].id) == action {
                            self.start(i, name, &f.pods).await?;
                        }
                    }
                }
                Decision::RevertFault { fault, occurrence } => {
                    for i in of(fault, occurrence) {
                        if !matches!(self.bundle.schedule.entries[i].revert, Step::Nothing { .. }) {
                            self.revert(i).await?;
                        }
                    }
                }
                Decision::ReadWindow { window } => {
                    f.reads.start(ready_pods(&f.pods), window, f.window_s);
                }
                Decision::CheckAbort { .. } => {
                    // The window's figures, if they come soon: then an abort on it comes
                    // before the faults due at its end (the conductor's order). A read that
                    // takes longer is not waited for, or the schedule would fall behind by
                    // its excess every window; its window is judged when it is in (merged
                    // with the windows that end meanwhile, judged together: `watch`).
                    let wait = (f.window_s * 0.5).min(CHECK_WAIT_S);
                    let deadline = t0 + Duration::from_secs_f64(due.at_s + wait);
                    if !self.watcher.is_empty()
                        && let Some(read) =
                            f.reads.take_until(&mut f.samples, deadline.into()).await
                    {
                        f.scraped = read;
                    }
                    self.watch_aborts(f.loadgen_pods, &f.samples, f.scraped)
                        .await?;
                }
                Decision::Autoscale { service } => {
                    if let Some(read) = f.reads.take_all(&mut f.samples).await {
                        f.scraped = read;
                    }
                    let plan = self.plan;
                    let bundle = self.bundle;
                    if let Some(s) = plan.services.get(service)
                        && let Some(k) = bundle.objects.services.iter().find(|k| k.name == s.name)
                    {
                        self.autoscale(&s.name, &k.kubernetes, &mut f.samples)
                            .await?;
                    }
                }
                Decision::Stop { aborted } => {
                    // At `duration` the load generator stops on its own.
                    if aborted {
                        self.stop_loadgens(f.loadgen_pods).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every Pod of every service of this run, by plan service name: one list call, whatever
    /// the number of services (one per service cost 200 round trips a tick at 200 services).
    async fn service_pods(&self) -> Result<BTreeMap<String, Vec<PodInfo>>, ClusterError> {
        self.list_service_pods()
            .await
            .map_err(|e| ClusterError::Internal(format!("listing the run's Pods: {e}")))?
            .map_err(|e| self.call("list", "pods").error(e))
    }

    /// [`Self::service_pods`] in a task of its own: 400 Pods are a few megabytes of JSON to
    /// fetch, parse and sort, which the schedule's loop does not wait for.
    fn list_service_pods(
        &self,
    ) -> tokio::task::JoinHandle<Result<BTreeMap<String, Vec<PodInfo>>, kube::Error>> {
        let selector = format!(
            "app.kubernetes.io/name=chaos-agent,{RUN_ID_LABEL}={}",
            self.run_id()
        );
        let services: Vec<(String, BTreeMap<String, String>)> = self
            .bundle
            .objects
            .services
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.deployment
                        .spec
                        .selector
                        .match_labels
                        .clone()
                        .unwrap_or_default(),
                )
            })
            .collect();
        let api = Api::<Pod>::namespaced(self.client.clone(), self.ns());
        tokio::spawn(async move {
            let pods = api.list(&ListParams::default().labels(&selector)).await?;
            Ok(pods_by_service(&services, &pods.items))
        })
    }

    /// This run's id, as its objects are labelled.
    fn run_id(&self) -> String {
        self.bundle
            .objects
            .namespace
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(RUN_ID_LABEL))
            .cloned()
            .unwrap_or_default()
    }

    async fn pods_of(&self, target: &Target) -> Result<Vec<PodInfo>, ClusterError> {
        Ok(self
            .run_pods(&target.label_selector)
            .await?
            .iter()
            .map(pod_info)
            .collect())
    }

    /// Carries out entry `i`'s apply step; a kill hits `kill_service`, which the conductor
    /// picked among the entry's candidates.
    ///
    /// A fault goes on the Pods of the latest list (at most one upkeep old: a fresh list per
    /// fault cost a round trip to a busy API server each time); a Pod that turned ready since
    /// gets it at the next upkeep ([`Self::reconcile`]), one that is gone answers so.
    async fn start(
        &mut self,
        i: usize,
        kill_service: Option<&str>,
        known: &BTreeMap<String, Vec<PodInfo>>,
    ) -> Result<(), ClusterError> {
        let bundle = self.bundle;
        let entry: &Entry = &bundle.schedule.entries[i];
        match &entry.apply {
            Step::Install { services, .. } => {
                self.active.insert(i);
                let subset = replica_subset(&entry.action);
                let mut picked_names = Vec::new();
                // The Pods of every target service, then one install on all of them at once.
                let mut targets: Vec<String> = Vec::new();
                for t in services {
                    let mut pods: Vec<PodInfo> = known
                        .get(&t.service)
                        .into_iter()
                        .flatten()
                        .filter(|p| p.ready)
                        .cloned()
                        .collect();
                    if let Some(subset) = subset {
                        // `on N of S`: the service's Pods sorted by name are its replica slots.
                        pods.sort_by(|a, b| a.name.cmp(&b.name));
                        let slots = chaos_plan::pick_replicas(
                            self.options.seed,
                            &entry.fault,
                            entry.occurrence,
                            action_index(&entry.id),
                            pods.len() as u32,
                            subset,
                        );
                        let record = self.picked.entry(i).or_default();
                        record.seen.extend(pods.iter().map(|p| p.name.clone()));
                        pods = slots
                            .iter()
                            .filter_map(|&s| pods.get(s as usize).cloned())
                            .collect();
                        record.pods.extend(pods.iter().map(|p| p.name.clone()));
                        picked_names.extend(pods.iter().map(|p| p.name.clone()));
                    }
                    targets.extend(pods.into_iter().map(|p| p.name));
                }
                self.install(i, &targets).await?;
                // From the fault's scheduled instant to the last Pod's answer that it holds it
                // (bench/cluster.sh reads it).
                let late = self.lateness(entry.start_s);
                if subset.is_some() {
                    self.say(&format!(
                        "fault {} on {} (pods {}), installed {late}",
                        entry.id,
                        names(services),
                        picked_names.join(", ")
                    ));
                } else {
                    self.say(&format!(
                        "fault {} on {}, installed {late}",
                        entry.id,
                        names(services)
                    ));
                }
                let pods: Vec<String> = self
                    .installed
                    .get(&i)
                    .map(|p| p.iter().cloned().collect())
                    .unwrap_or_default();
                for t in services {
                    let message = format!(
                        "fault {} started: {} (on pods {})",
                        entry.id,
                        action_text(&entry.action),
                        pods.join(", ")
                    );
                    self.event(
                        On::Deployment(t.kubernetes.clone()),
                        events::FAULT_STARTED,
                        message,
                    );
                }
            }
            Step::DeletePods { count, candidates } => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(
                    self.options.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                let Some(service) = candidates
                    .iter()
                    .find(|t| Some(t.service.as_str()) == kill_service)
                else {
                    return Ok(());
                };
                let mut pods: Vec<PodInfo> = self
                    .pods_of(service)
                    .await?
                    .into_iter()
                    .filter(|p| p.ready)
                    .collect();
                let mut killed = Vec::new();
                for _ in 0..*count {
                    if pods.is_empty() {
                        break;
                    }
                    let pod = pods.swap_remove(rng.random_range(0..pods.len()));
                    Api::<Pod>::namespaced(self.client.clone(), self.ns())
                        .delete(&pod.name, &DeleteParams::default())
                        .await
                        .map_err(|e| self.call("delete", "pods").error(e))?;
                    killed.push(pod.name);
                }
                self.say(&format!(
                    "fault {}: deleted pod(s) {} of {}",
                    entry.id,
                    killed.join(", "),
                    service.service
                ));
                for pod in &killed {
                    let message = format!("fault {} killed pod {pod}", entry.id);
                    self.event(On::Pod(pod.clone()), events::POD_KILLED, message.clone());
                    self.event(
                        On::Deployment(service.kubernetes.clone()),
                        events::POD_KILLED,
                        message,
                    );
                }
            }
            Step::Remove { .. } | Step::Nothing { .. } => {}
        }
        Ok(())
    }

    /// Writes an Event in a task of its own: Events are for people and dashboards, and the
    /// next decision on the schedule does not wait for one.
    fn event(&mut self, on: On, reason: &'static str, message: String) {
        let client = self.client.clone();
        let namespace = self.ns().to_string();
        self.events.spawn(async move {
            let about = match &on {
                On::Deployment(name) => About::Deployment(name),
                On::Pod(name) => About::Pod(name),
            };
            events::record(&client, &namespace, about, reason, &message).await;
        });
    }

    /// Waits for the Events being written (each is bounded to 5 s), at most `limit`.
    async fn events_written(&mut self, limit: Duration) {
        let all = async { while self.events.join_next().await.is_some() {} };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::debug!("some Events were not written within {limit:?}");
        }
    }

    /// How long after its scheduled instant (`at_s` from time 0) this is, in words.
    fn lateness(&self, at_s: f64) -> String {
        match self.t0 {
            Some(t0) => format!(
                "{:.1} ms after its time",
                (t0.elapsed().as_secs_f64() - at_s) * 1000.0
            ),
            None => "before time 0".to_string(),
        }
    }

    async fn revert(&mut self, i: usize) -> Result<(), ClusterError> {
        let bundle = self.bundle;
        let entry = &bundle.schedule.entries[i];
        self.active.remove(&i);
        self.picked.remove(&i);
        let pods = self.installed.remove(&i).unwrap_or_default();
        let names: Vec<String> = pods.iter().cloned().collect();
        // Every Pod at once (a bounded number in flight), as installs.
        let answers = self
            .pods
            .to_each(
                &names,
                AGENT_PORT,
                "DELETE",
                &format!("/_chaos/faults/{}", entry.id),
                None,
            )
            .await;
        for (pod, answer) in names.iter().zip(answers) {
            match answer {
                Ok(_) => {}
                // The Pod is gone (killed, scaled down): nothing left to revert on it.
                Err(AgentError::Gone) => {}
                Err(AgentError::Failed(message)) => {
                    return Err(ClusterError::Fault {
                        id: entry.id.clone(),
                        what: "reverted",
                        pod: pod.clone(),
                        message,
                    });
                }
            }
        }
        self.say(&format!("reverted fault {}", entry.id));
        if let Step::Install { services, .. } = &entry.apply {
            for t in services {
                let message = format!(
                    "fault {} ended: {} removed from pods {}",
                    entry.id,
                    action_text(&entry.action),
                    pods.iter().cloned().collect::<Vec<_>>().join(", ")
                );
                self.event(
                    On::Deployment(t.kubernetes.clone()),
                    events::FAULT_ENDED,
                    message,
                );
            }
        }
        Ok(())
    }

    /// `eject` is kept by each caller per replica of the callee, so callers must see the
    /// callee's Pods, not its Service: the ready Pods' IPs, sorted by Pod name (the slot is the
    /// index), go to every ready Pod of every caller (`PUT /_chaos/peers` through the Pod
    /// proxy), again whenever they change. Until then a caller calls the Service. A failed push
    /// is retried at the next tick.
    async fn push_peers(&mut self, pods: &BTreeMap<String, Vec<PodInfo>>) {
        let plan = self.plan;
        for callee in plan.services.iter().filter(|s| s.eject.is_some()) {
            let mut live: Vec<&PodInfo> = pods
                .get(&callee.name)
                .into_iter()
                .flatten()
                .filter(|p| p.ready && p.ip.is_some())
                .collect();
            if live.is_empty() {
                continue;
            }
            live.sort_by(|a, b| a.name.cmp(&b.name));
            let urls: Vec<String> = live
                .iter()
                .map(|p| {
                    format!(
                        "http://{}:{AGENT_PORT}",
                        p.ip.as_deref().unwrap_or_default()
                    )
                })
                .collect();
            let body = serde_json::json!({
                "service": callee.name,
                "urls": urls,
                "slots": (0..urls.len()).collect::<Vec<_>>(),
            });
            for caller in plan
                .services
                .iter()
                .filter(|s| chaos_k8s::manifests::callees(s).contains(&callee.name))
            {
                for pod in pods
                    .get(&caller.name)
                    .into_iter()
                    .flatten()
                    .filter(|p| p.ready)
                {
                    let key = (pod.name.clone(), callee.name.clone());
                    if self.pushed.get(&key) == Some(&urls) {
                        continue;
                    }
                    match self
                        .pods
                        .request(&pod.name, AGENT_PORT, "PUT", "/_chaos/peers", Some(&body))
                        .await
                    {
                        Ok(_) => {
                            self.pushed.insert(key, urls.clone());
                        }
                        Err(AgentError::Gone) => {}
                        Err(AgentError::Failed(m)) => {
                            tracing::debug!("peers of {} to {}: {m}", callee.name, pod.name)
                        }
                    }
                }
            }
        }
    }

    /// Installs active faults on Pods that became ready after the fault started (recreated or added).
    async fn reconcile(
        &mut self,
        pods: &BTreeMap<String, Vec<PodInfo>>,
    ) -> Result<(), ClusterError> {
        let active: Vec<usize> = self.active.iter().copied().collect();
        for i in active {
            let bundle = self.bundle;
            let Step::Install { services, .. } = &bundle.schedule.entries[i].apply else {
                continue;
            };
            for t in services {
                let now: Vec<&PodInfo> = pods.get(&t.service).into_iter().flatten().collect();
                let mut wanted: Vec<&str> = now
                    .iter()
                    .filter(|p| p.ready)
                    .map(|p| p.name.as_str())
                    .collect();
                if let Some(picked) = self.picked.get_mut(&i) {
                    // A picked Pod that is gone (killed, its memory limit) hands its place to
                    // the Pod that replaced it: the newest one not seen before, by name.
                    let gone: Vec<String> = picked
                        .pods
                        .iter()
                        .filter(|n| !now.iter().any(|p| &p.name == *n))
                        .cloned()
                        .collect();
                    let mut newcomers: Vec<&str> = wanted
                        .iter()
                        .copied()
                        .filter(|n| !picked.seen.contains(*n))
                        .collect();
                    newcomers.sort_unstable();
                    for (old, new) in gone.iter().zip(newcomers) {
                        picked.pods.remove(old);
                        picked.pods.insert(new.to_string());
                    }
                    picked.seen.extend(now.iter().map(|p| p.name.clone()));
                    wanted.retain(|n| picked.pods.contains(*n));
                }
                let missing: Vec<String> = wanted
                    .into_iter()
                    .filter(|pod| !self.installed.get(&i).is_some_and(|s| s.contains(*pod)))
                    .map(str::to_string)
                    .collect();
                self.install(i, &missing).await?;
            }
        }
        Ok(())
    }

    /// Installs entry `i`'s fault on every Pod of `pods` at once (a bounded number in
    /// flight): a fault on 2 Pods or 20 lands in about one round trip through the Pod proxy.
    async fn install(&mut self, i: usize, pods: &[String]) -> Result<(), ClusterError> {
        let bundle = self.bundle;
        let entry = &bundle.schedule.entries[i];
        let Step::Install { body, .. } = &entry.apply else {
            return Ok(());
        };
        if pods.is_empty() {
            return Ok(());
        }
        // Counted as installed before the requests: if the run is interrupted while they are
        // in flight, cleanup still removes them (removing a fault that never landed is harmless).
        self.installed
            .entry(i)
            .or_default()
            .extend(pods.iter().cloned());
        let answers = self
            .pods
            .to_each(pods, AGENT_PORT, "POST", "/_chaos/faults", Some(body))
            .await;
        let mut failed = None;
        for (pod, answer) in pods.iter().zip(answers) {
            match answer {
                Ok(_) => {}
                Err(AgentError::Gone) => {
                    self.installed.entry(i).or_default().remove(pod);
                }
                Err(AgentError::Failed(message)) => {
                    failed.get_or_insert(ClusterError::Fault {
                        id: entry.id.clone(),
                        what: "installed",
                        pod: pod.clone(),
                        message,
                    });
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }

    async fn revert_all(&mut self) -> Result<(), ClusterError> {
        let pending: Vec<usize> = self
            .active
            .iter()
            .chain(self.installed.keys())
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for i in pending {
            self.revert(i).await?;
        }
        Ok(())
    }

    /// Runs on every exit path: reverts faults, stops the load generator when kept, deletes the namespace.
    pub async fn cleanup(&mut self, finished: bool) -> Result<(), String> {
        let mut problems = Vec::new();
        // Every fault is tried, whatever happens to the others. Unless the namespace is kept,
        // its deletion stops the agents anyway, so a failed revert is only reported.
        let mut failed = Vec::new();
        let started = Instant::now();
        let pending: BTreeSet<usize> = self
            .active
            .iter()
            .chain(self.installed.keys())
            .copied()
            .collect();
        for i in pending {
            let left = Duration::from_secs(60).saturating_sub(started.elapsed());
            match tokio::time::timeout(left, self.revert(i)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failed.push(e.to_string()),
                Err(_) => failed.push("reverting faults took longer than 60 s".to_string()),
            }
        }
        // The Events of the reverts (and any still in flight) before the namespace goes.
        self.events_written(Duration::from_secs(10)).await;
        if !failed.is_empty() {
            if self.options.keep || !self.namespace_created {
                problems.push(format!("reverting faults: {}", failed.join("; ")));
            } else {
                self.say(&format!(
                    "could not revert every fault ({}); deleting the namespace stops them",
                    failed.join("; ")
                ));
            }
        }
        if !self.namespace_created {
            return if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("; "))
            };
        }
        if self.options.keep {
            if !finished && !self.loadgen_finished {
                let jobs = Api::<Job>::namespaced(self.client.clone(), self.ns());
                let _ = jobs
                    .delete(
                        chaos_k8s::manifests::LOADGEN_JOB,
                        &DeleteParams::background(),
                    )
                    .await;
            }
            self.say(&format!("kept namespace {} (--keep)", self.ns()));
        } else if let Err(e) =
            tokio::time::timeout(Duration::from_secs(60), self.delete_namespace())
                .await
                .unwrap_or_else(|_| Err("deleting the namespace took longer than 60 s".to_string()))
        {
            problems.push(e);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    async fn delete_namespace(&self) -> Result<(), String> {
        let api = Api::<Namespace>::all(self.client.clone());
        let ns = self.ns();
        // Only ever delete the namespace this run created: it carries our run id.
        let ours = self
            .bundle
            .objects
            .namespace
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(RUN_ID_LABEL));
        match api.get_opt(ns).await {
            Ok(Some(found))
                if found
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(RUN_ID_LABEL))
                    == ours => {}
            Ok(Some(_)) => {
                return Err(format!(
                    "namespace {ns} does not carry this run's id any more; left alone"
                ));
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(crate::error::chain(&e)),
        }
        api.delete(ns, &DeleteParams::foreground())
            .await
            .map_err(|e| {
                Call {
                    verb: "delete",
                    resource: "namespaces",
                    namespace: None,
                    server: &self.server,
                }
                .error(e)
                .to_string()
            })?;
        self.say(&format!("deleting namespace {ns}"));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            match api.get_opt(ns).await {
                Ok(None) => {
                    self.say(&format!("deleted namespace {ns}"));
                    return Ok(());
                }
                Ok(Some(_)) | Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        // Deletion was accepted; Kubernetes finishes it in the background.
        self.say(&format!(
            "namespace {ns} is still terminating; Kubernetes finishes deleting it"
        ));
        Ok(())
    }
}

/// Renews the namespace's heartbeat annotation every [`HEARTBEAT`], for ever. A failed renewal
/// is only logged: the run matters more, and `chaos cleanup` waits six beats.
async fn heartbeat(client: Client, namespace: String) -> std::convert::Infallible {
    let api = Api::<Namespace>::all(client);
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let patch = serde_json::json!({ "metadata": { "annotations": {
            HEARTBEAT_ANNOTATION: rfc3339_ms(std::time::SystemTime::now())
        } } });
        if let Err(e) = api
            .patch(&namespace, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::debug!("heartbeat on namespace {namespace}: {e}");
        }
    }
}

/// What the schedule's loop keeps between its steps.
struct Follow<'p> {
    /// Schedule entries (one per action) of each fault occurrence, by (fault, occurrence).
    entries: BTreeMap<(usize, usize), Vec<usize>>,
    samples: Samples,
    /// The run's Pods by service, as last listed.
    pods: BTreeMap<String, Vec<PodInfo>>,
    /// Windows whose agent figures are all in.
    scraped: usize,
    reads: WindowReads,
    loadgen_pods: &'p [String],
    window_s: f64,
}

/// The names of the ready Pods, every service's.
fn ready_pods(pods: &BTreeMap<String, Vec<PodInfo>>) -> Vec<String> {
    pods.values()
        .flatten()
        .filter(|p| p.ready)
        .map(|p| p.name.clone())
        .collect()
}

/// The object an Event is about, owned (it goes to a task of its own).
enum On {
    Deployment(String),
    Pod(String),
}

fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// The Pods each service's Deployment selects (every label of its selector on the Pod), by
/// service name; a service without Pods has an empty list.
fn pods_by_service(
    services: &[(String, BTreeMap<String, String>)],
    pods: &[Pod],
) -> BTreeMap<String, Vec<PodInfo>> {
    services
        .iter()
        .map(|(name, selector)| {
            let selected = pods.iter().filter(|p| {
                let labels = p.metadata.labels.as_ref();
                selector
                    .iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
            });
            (name.to_string(), selected.map(pod_info).collect())
        })
        .collect()
}

fn pod_info(p: &Pod) -> PodInfo {
    let ready = p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    PodInfo {
        name: p.metadata.name.clone().unwrap_or_default(),
        ready,
        ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
    }
}

/// An action in a few words, for Events.
fn action_text(action: &chaos_plan::Action) -> String {
    use chaos_plan::Action;
    match action {
        Action::Latency { .. } => "latency".to_string(),
        Action::Errors { ratio, status, .. } => {
            format!("errors {:.0}% status {status}", ratio * 100.0)
        }
        Action::Kill { count, .. } => format!("kill {count}"),
        Action::Partition { a, b } => format!("partition {} | {}", a.join(", "), b.join(", ")),
        Action::Cpu { factor, .. } => format!("cpu x{factor}"),
        Action::Loss { ratio, .. } => format!("loss {:.0}%", ratio * 100.0),
        Action::Memory { bytes_per_s, .. } => format!("memory {bytes_per_s:.0} B/s"),
    }
}

/// The `on N of S` of a fault action, if it has one.
fn replica_subset(action: &chaos_plan::Action) -> Option<chaos_plan::ReplicaSubset> {
    use chaos_plan::Action;
    match action {
        Action::Latency { target, .. }
        | Action::Errors { target, .. }
        | Action::Cpu { target, .. }
        | Action::Loss { target, .. } => target.replicas,
        Action::Memory { replicas, .. } => *replicas,
        Action::Kill { .. } | Action::Partition { .. } => None,
    }
}

/// The action's index within its fault, from the entry id `<fault>-<occurrence>-<action>`.
fn action_index(id: &str) -> usize {
    id.rsplit('-')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0)
}

fn names(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| t.service.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, instance: &str, run: &str, ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(BTreeMap::from([
                    (
                        "app.kubernetes.io/name".to_string(),
                        "chaos-agent".to_string(),
                    ),
                    (
                        "app.kubernetes.io/instance".to_string(),
                        instance.to_string(),
                    ),
                    (RUN_ID_LABEL.to_string(), run.to_string()),
                ])),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                pod_ip: Some("10.244.16.2".to_string()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".to_string(),
                    status: if ready { "True" } else { "False" }.to_string(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    fn selector(instance: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "app.kubernetes.io/instance".to_string(),
                instance.to_string(),
            ),
            (RUN_ID_LABEL.to_string(), "r1".to_string()),
        ])
    }

    #[test]
    fn one_list_of_pods_is_split_by_each_deployments_selector() {
        let pods = [
            pod("web-a", "web", "r1", true),
            pod("db-a", "db", "r1", false),
            pod("web-b", "web", "r1", true),
            // Another run's Pod with the same instance label is not this run's.
            pod("web-x", "web", "r2", true),
        ];
        let services = [
            ("web".to_string(), selector("web")),
            ("db".to_string(), selector("db")),
            ("cache".to_string(), selector("cache")),
        ];
        let by = pods_by_service(&services, &pods);
        let names = |s: &str| -> Vec<(String, bool)> {
            by[s].iter().map(|p| (p.name.clone(), p.ready)).collect()
        };
        assert_eq!(
            names("web"),
            [("web-a".to_string(), true), ("web-b".to_string(), true)]
        );
        assert_eq!(names("db"), [("db-a".to_string(), false)]);
        assert!(
            by["cache"].is_empty(),
            "a service without Pods is listed, empty"
        );
        assert_eq!(
            ready_pods(&by),
            ["web-a", "web-b"],
            "ready Pods only, every service's"
        );
    }
}
