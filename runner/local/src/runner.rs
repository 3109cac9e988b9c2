//! One local run from start to end: agents up, load, faults at their times, metrics every
//! window, autoscaling and restarts, then everything reverted and stopped.
//!
//! Where local mode differs from the plan's model (by necessity, and what it costs):
//! - Endpoint subjects are the callers' view: the load generator's own attempts plus every
//!   agent's `sent` metrics, read at each window boundary and attributed to the window that
//!   just ended (off by the few ms a read takes). A caller killed mid-window loses what it
//!   recorded since the last read.
//! - `abort when` is watched on what the load generator sees (workloads and the endpoints they
//!   target); agents' figures join the Recording after the run.
//! - A killed replica is started again `restart` after the kill and serves once it answers
//!   its health check (tens of ms later); autoscaled replicas join `delay` after the decision.
//!   Each autoscale tick uses the utilisation of the windows read since the previous tick.
//! - An agent that dies on its own is started again `restart` later, like a killed replica;
//!   unless its memory fault asked for it, it is warned about at once and kept in the
//!   Recording's `unexpected` (see [`crate::exits`]).
//! - The rate limit is split evenly over the initial replicas; breakers, `least_request` and
//!   `eject` are per caller process, not per caller service. The load generator does not
//!   eject (in a cluster it sends to a Service); it does follow health checks.
//! - `health_check`: the runner checks the replicas ([`crate::health`]) and pushes to the
//!   callers (and the load generator) only those that are in and healthy; a killed replica
//!   stays in its callers' sets until its checks fail. Without it, callers learn of kills at once.
//! - `on N of S`: the replicas are picked by `chaos_plan::pick_replicas` at each occurrence's
//!   start over the service's replica count then; the fault is installed on those agents
//!   only, reinstalled on one of them that restarts while it lasts, and reverted on them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chaos_agent::loadgen::Loadgen;
use chaos_agent::{FaultRequest, MetricsSnapshot, PeersRequest};
use chaos_plan::{Action, Conductor, Decision, Due, Plan, ReplicaSubset, Replicas};
use chaos_report::recording::AbortRecord;
use chaos_report::{Recorder, Recording, ServiceSample, UnexpectedEvent};
use futures::future::join_all;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tokio::sync::{mpsc, watch};

use crate::collect::{AgentWindows, endpoint_index};
use crate::exits::unexpected_exit;
use crate::fleet::Fleet;
use crate::health::{Checked, Health};
use crate::{LocalError, Options, RunStats, Warn};

/// Grace between taking a scaled-in replica out of its callers' sets and stopping it.
const SCALE_IN_GRACE_S: f64 = 1.0;

/// What happens to an agent process later: the local stand-in for what a kubelet and a
/// Deployment do in a cluster. What the plan decides (faults, windows, autoscale ticks,
/// aborts, the end) comes from the [`Conductor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SlotEv {
    Restart { slot: usize },
    Join { slot: usize },
    Stop { slot: usize },
}

struct Queue {
    heap: BinaryHeap<Reverse<(u64, SlotEv)>>,
}

impl Queue {
    fn push(&mut self, t_s: f64, ev: SlotEv) {
        self.heap.push(Reverse(((t_s.max(0.0) * 1e6) as u64, ev)));
    }
    fn peek_s(&self) -> Option<f64> {
        self.heap.peek().map(|Reverse((t, _))| *t as f64 / 1e6)
    }
    /// The next event due at or before `now_s`.
    fn pop_due(&mut self, now_s: f64) -> Option<SlotEv> {
        if self.peek_s()? > now_s {
            return None;
        }
        self.heap.pop().map(|Reverse((_, e))| e)
    }
}

/// A fault currently installed, re-sent to replicas that (re)start while it lasts.
struct Active {
    services: Vec<String>,
    request: FaultRequest,
    /// `on N of S`: the fleet slots picked for this occurrence; `None`: every replica.
    slots: Option<Vec<usize>>,
}

impl Active {
    fn covers(&self, slot: usize) -> bool {
        self.slots.as_ref().is_none_or(|s| s.contains(&slot))
    }
}

enum Ready {
    Up(usize),
    Failed(usize),
}

struct Run<'a> {
    plan: &'a Plan,
    fleet: &'a mut Fleet,
    loadgen: Arc<Loadgen>,
    recorder: Arc<Mutex<Recorder>>,
    t0: Instant,
    conductor: Conductor,
    queue: Queue,
    active: BTreeMap<String, Active>,
    prev: BTreeMap<usize, MetricsSnapshot>,
    agent_windows: AgentWindows,
    /// Most live replicas per service since the last scrape.
    max_live: BTreeMap<String, u32>,
    /// Busy and available worker-seconds per service since the last autoscale tick.
    busy_acc: BTreeMap<String, (f64, f64)>,
    join_at: BTreeMap<usize, f64>,
    ready_tx: mpsc::UnboundedSender<Ready>,
    rng: StdRng,
    stats: RunStats,
    /// The plan's `abort when` that fired; the run stops sending and ends.
    aborted: Option<AbortRecord>,
    warn: Warn,
    health: Health,
    seed: u64,
}

/// Aborts a spawned task when dropped (an interrupted run must not leave load running).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn drive(
    plan: &Plan,
    opts: &Options,
    fleet: &mut Fleet,
) -> Result<(Recording, RunStats), LocalError> {
    // Every initial replica is live from the start, so callers get all their peers at once.
    for s in &plan.services {
        let n = s.replicas.initial() as usize;
        for slot in fleet
            .slots
            .iter_mut()
            .filter(|x| x.service == s.name)
            .take(n)
        {
            slot.live = true;
        }
    }
    let initial: Vec<usize> = (0..fleet.slots.len())
        .filter(|&i| fleet.slots[i].live)
        .collect();
    for &i in &initial {
        fleet.spawn(i, plan)?;
    }
    for &i in &initial {
        fleet.wait_ready(i).await?;
    }

    let targets: BTreeMap<String, Vec<String>> = plan
        .workloads
        .iter()
        .map(|w| (w.target.service.clone(), fleet.live_urls(&w.target.service)))
        .collect();
    let loadgen = Arc::new(Loadgen::new(Arc::new(plan.clone()), &targets, opts.seed)?);
    let recorder = Arc::new(Mutex::new(Recorder::new(plan, "local", opts.seed)));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (health_tx, mut health_rx) = mpsc::unbounded_channel::<Checked>();
    let mut health = Health::new(plan, health_tx);

    let t0 = Instant::now();
    for &i in &initial {
        let s = &fleet.slots[i];
        health.started(i, &s.service, &s.url, t0, true);
    }
    if let Some(o) = &opts.observer {
        o.started();
    }
    let lg = loadgen.clone();
    let rec = recorder.clone();
    let mut load = AbortOnDrop(tokio::spawn(async move { lg.run(t0, rec, stop_rx).await }));

    let mut run = Run {
        plan,
        fleet,
        loadgen,
        recorder,
        t0,
        conductor: Conductor::new(plan, opts.seed),
        queue: Queue {
            heap: BinaryHeap::new(),
        },
        active: BTreeMap::new(),
        prev: BTreeMap::new(),
        agent_windows: AgentWindows::default(),
        max_live: BTreeMap::new(),
        busy_acc: BTreeMap::new(),
        join_at: BTreeMap::new(),
        ready_tx,
        rng: StdRng::seed_from_u64(opts.seed ^ 0x5EED_10CA1),
        stats: RunStats::default(),
        aborted: None,
        warn: opts.warn.clone(),
        health,
        seed: opts.seed,
    };
    run.reset_max_live();

    let duration = plan.scenario.duration_s;
    let mut load_done = false;
    let mut supervise = tokio::time::interval(Duration::from_millis(50));
    loop {
        // The conductor stops the load at `duration` (or at an abort); the run ends once the
        // load generator has drained what it sent.
        if load_done && run.conductor.stopped() {
            break;
        }
        let next = run
            .conductor
            .next_due()
            .unwrap_or(f64::INFINITY)
            .min(run.queue.peek_s().unwrap_or(f64::INFINITY))
            .min(duration.max(run.now_s()) + 3600.0);
        let at = tokio::time::Instant::from_std(t0 + Duration::from_secs_f64(next.max(0.0)));
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {
                let now = run.now_s();
                while let Some(ev) = run.queue.pop_due(now) {
                    run.handle(ev).await?;
                }
                while let Some(due) = run.conductor.poll(now) {
                    run.carry_out(due, opts, &stop_tx).await?;
                }
            }
            r = &mut load.0, if !load_done => {
                load_done = true;
                if r.is_err() {
                    tracing::warn!("the load generator task ended abnormally");
                }
            }
            Some(msg) = ready_rx.recv() => run.ready(msg).await?,
            Some(c) = health_rx.recv() => run.checked(c).await,
            _ = supervise.tick() => run.supervise().await,
        }
    }
    let _ = stop_tx.send(true);
    // What agents measured since the last window boundary.
    let end = run.now_s();
    let w = plan.scenario.window_s;
    run.scrape((end / w).floor() as usize).await;
    let ended_s = duration.min(end);
    let recorder = std::mem::replace(
        &mut *run.recorder.lock().unwrap_or_else(|p| p.into_inner()),
        Recorder::new(plan, "local", opts.seed),
    );
    let mut recording = recorder.finish(ended_s, plan.horizon_s(), None);
    run.agent_windows.merge_into(&mut recording);
    recording.hop = Some(run.agent_windows.measured_hop(run.loadgen.hop()));
    Ok((recording, run.stats))
}

impl Run<'_> {
    fn now_s(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    fn reset_max_live(&mut self) {
        for s in &self.plan.services {
            let n = self.fleet.live_count(&s.name);
            self.max_live.insert(s.name.clone(), n);
        }
    }

    fn note_live(&mut self, service: &str) {
        let n = self.fleet.live_count(service);
        let m = self.max_live.entry(service.to_string()).or_default();
        *m = (*m).max(n);
    }

    /// Carries out one of the conductor's decisions.
    async fn carry_out(
        &mut self,
        due: Due,
        opts: &Options,
        stop_tx: &watch::Sender<bool>,
    ) -> Result<(), LocalError> {
        match due.decision {
            Decision::ReadWindow { window } => {
                self.scrape(window).await;
                if let Some(o) = &opts.observer {
                    self.observe(o);
                }
            }
            Decision::CheckAbort { .. } => {
                // Checked on what the load generator saw (workloads and the endpoints they
                // target); agents' figures are merged after the run.
                let fired = self
                    .recorder
                    .lock()
                    .ok()
                    .and_then(|r| r.abort_fired().cloned());
                if let Some(a) = fired {
                    tracing::warn!("abort fired at {:.1}s: {}", a.at_s, a.text);
                    self.aborted = Some(a);
                    // The conductor answers with the reverts and the stop.
                    self.conductor.abort(self.now_s());
                }
            }
            Decision::RevertFault { fault, occurrence } => {
                self.fault_end(fault, occurrence).await;
                self.stats.fault_lateness_s.push(self.now_s() - due.at_s);
            }
            Decision::Kill { service, count, .. } => {
                if let Some(s) = self.plan.services.get(service) {
                    let name = s.name.clone();
                    self.kill(count, &name).await;
                }
                self.stats.fault_lateness_s.push(self.now_s() - due.at_s);
            }
            Decision::StartFault { fault, occurrence } => {
                self.fault_start(fault, occurrence).await;
                self.stats.fault_lateness_s.push(self.now_s() - due.at_s);
            }
            Decision::Autoscale { service } => self.autoscale(service).await?,
            Decision::Stop { aborted } => {
                if aborted {
                    let _ = stop_tx.send(true);
                }
            }
        }
        Ok(())
    }

    async fn handle(&mut self, ev: SlotEv) -> Result<(), LocalError> {
        match ev {
            SlotEv::Restart { slot } => self.start_slot(slot, 0.0)?,
            SlotEv::Join { slot } => self.join(slot).await,
            SlotEv::Stop { slot } => self.fleet.kill(slot).await,
        }
        Ok(())
    }

    /// Starts an agent in `slot`; it joins its callers `delay_s` after now (or once ready).
    fn start_slot(&mut self, slot: usize, delay_s: f64) -> Result<(), LocalError> {
        if self.fleet.slots.get(slot).is_none_or(|s| s.running()) {
            return Ok(());
        }
        self.fleet.spawn(slot, self.plan)?;
        let s = &self.fleet.slots[slot];
        self.health
            .started(slot, &s.service, &s.url, Instant::now(), false);
        self.join_at.insert(slot, self.now_s() + delay_s);
        let url = self.fleet.slots[slot].url.clone();
        let client = self.fleet.client.clone();
        let tx = self.ready_tx.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + crate::fleet::READY_TIMEOUT;
            loop {
                let ok = client
                    .get(format!("{url}/_chaos/health"))
                    .timeout(Duration::from_millis(500))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    let _ = tx.send(Ready::Up(slot));
                    return;
                }
                if Instant::now() >= deadline {
                    let _ = tx.send(Ready::Failed(slot));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Ok(())
    }

    async fn ready(&mut self, msg: Ready) -> Result<(), LocalError> {
        match msg {
            Ready::Up(slot) => {
                let at = self.join_at.remove(&slot).unwrap_or(0.0);
                if at > self.now_s() {
                    self.queue.push(at, SlotEv::Join { slot });
                } else {
                    self.join(slot).await;
                }
                Ok(())
            }
            Ready::Failed(slot) => {
                let stderr = self.fleet.log_tail(slot);
                let agent = self
                    .fleet
                    .slots
                    .get(slot)
                    .map(|s| s.id.clone())
                    .unwrap_or_default();
                Err(LocalError::AgentStart {
                    agent,
                    reason: format!(
                        "it did not come back within {}s",
                        crate::fleet::READY_TIMEOUT.as_secs()
                    ),
                    stderr,
                })
            }
        }
    }

    /// A ready replica starts serving: faults in force reach it, then its callers see it.
    async fn join(&mut self, slot: usize) {
        let Some(s) = self.fleet.slots.get(slot) else {
            return;
        };
        if !s.running() {
            return;
        }
        let (service, url) = (s.service.clone(), s.url.clone());
        let reqs: Vec<FaultRequest> = self
            .active
            .values()
            .filter(|a| a.services.contains(&service) && a.covers(slot))
            .map(|a| a.request.clone())
            .collect();
        let client = self.fleet.client.clone();
        let token = self.fleet.token.clone();
        join_all(reqs.iter().map(|r| {
            client
                .post(format!("{url}/_chaos/faults"))
                .bearer_auth(&token)
                .json(r)
                .send()
        }))
        .await;
        if let Some(s) = self.fleet.slots.get_mut(slot) {
            s.live = true;
        }
        self.health.joined(slot);
        self.note_live(&service);
        self.push_callees(slot, &service).await;
        self.push_peers(&service).await;
    }

    /// A check's result; a replica whose health flipped is added to or taken from its callers.
    async fn checked(&mut self, c: Checked) {
        if self.health.record(c)
            && let Some(service) = self.fleet.slots.get(c.slot).map(|s| s.service.clone())
        {
            self.push_peers(&service).await;
        }
    }

    /// The replicas of `service` its callers may send to, with their slots (the slot's
    /// position among the service's slots): the live ones, or with `health_check` the
    /// healthy ones in service.
    fn routable(&self, service: &str) -> (Vec<String>, Vec<usize>) {
        let checks = self.health.checks(service);
        let mut urls = Vec::new();
        let mut slots = Vec::new();
        for (k, (i, s)) in self
            .fleet
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.service == service)
            .enumerate()
        {
            let ok = if checks {
                self.health.routable(i)
            } else {
                s.live
            };
            if ok {
                urls.push(s.url.clone());
                slots.push(k);
            }
        }
        (urls, slots)
    }

    /// Tells a (re)started agent in `slot` which replicas of each of its callees it may call,
    /// with their slots (its command line had the live ones, in order).
    async fn push_callees(&mut self, slot: usize, service: &str) {
        let Some(url) = self.fleet.slots.get(slot).map(|s| s.url.clone()) else {
            return;
        };
        let callees = self
            .plan
            .service(service)
            .map(chaos_agent::callees)
            .unwrap_or_default();
        let mut sends = Vec::new();
        for callee in callees {
            let (urls, slots) = self.routable(&callee);
            let body = PeersRequest {
                service: callee,
                urls,
                slots,
            };
            sends.push(
                self.fleet
                    .client
                    .put(format!("{url}/_chaos/peers"))
                    .bearer_auth(&self.fleet.token)
                    .json(&body)
                    .send(),
            );
        }
        join_all(sends).await;
    }

    /// Tells the load generator and every caller which replicas of `service` they may send to.
    async fn push_peers(&mut self, service: &str) {
        let (urls, slots) = self.routable(service);
        if let Some(set) = self.loadgen.target(service) {
            set.set_slots(&urls, &slots);
        }
        let body = PeersRequest {
            service: service.to_string(),
            urls,
            slots,
        };
        let callers: Vec<String> = self.fleet.callers_of(service).to_vec();
        let mut sends = Vec::new();
        for c in &callers {
            for url in self.fleet.live_urls(c) {
                sends.push(
                    self.fleet
                        .client
                        .put(format!("{url}/_chaos/peers"))
                        .bearer_auth(&self.fleet.token)
                        .json(&body)
                        .send(),
                );
            }
        }
        join_all(sends).await;
    }

    async fn kill_slot(&mut self, slot: usize) {
        let Some(service) = self.fleet.slots.get(slot).map(|s| s.service.clone()) else {
            return;
        };
        self.fleet.kill(slot).await;
        self.push_peers(&service).await;
        let restart = self.plan.service(&service).map_or(5.0, |s| s.restart_s);
        let t = self.now_s() + restart;
        self.queue.push(t, SlotEv::Restart { slot });
        self.prev.remove(&slot);
    }

    /// Agents that died on their own come back after `restart`. Unless it was a memory fault
    /// reaching its limit, the scenario did not ask for it: warned now and kept in the report.
    async fn supervise(&mut self) {
        for i in 0..self.fleet.slots.len() {
            if !self.fleet.slots[i].live {
                continue;
            }
            let Some(status) = self.fleet.exited(i) else {
                continue;
            };
            let (service, replica) = {
                let s = &self.fleet.slots[i];
                (s.service.clone(), s.id.clone())
            };
            match unexpected_exit(self.plan, &service, status.into()) {
                None => tracing::info!(
                    "agent {replica} reached its memory fault's limit; restarting it after its service's restart time"
                ),
                Some(what) => {
                    let at_s = self.now_s();
                    self.warn.say(&format!(
                        "agent {replica} of {service} {what} at {at_s:.1}s, which the scenario did not ask for; restarting it after its service's restart time (the report lists it under unexpected_events)"
                    ));
                    let event = UnexpectedEvent {
                        service,
                        replica,
                        at_s,
                        what,
                    };
                    if let Ok(mut r) = self.recorder.lock() {
                        r.unexpected(event);
                    }
                }
            }
            self.kill_slot(i).await;
        }
    }

    /// The ids [`Run::requests_of`] gives the actions of one occurrence, without picking.
    fn requests_of_ids(&self, fault: usize, occ: usize) -> Vec<String> {
        let Some(f) = self.plan.faults.get(fault) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, action) in f.actions.iter().enumerate() {
            let id = format!("{}.{occ}.{k}", f.name);
            match action {
                Action::Partition { .. } => {
                    out.push(format!("{id}a"));
                    out.push(format!("{id}b"));
                }
                Action::Kill { .. } => {}
                _ => out.push(id),
            }
        }
        out
    }

    fn requests_of(&self, fault: usize, occ: usize) -> Vec<Active> {
        let Some(f) = self.plan.faults.get(fault) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, action) in f.actions.iter().enumerate() {
            let id = format!("{}.{occ}.{k}", f.name);
            let one = |id: String, services: Vec<String>, peers: Vec<String>| Active {
                services,
                request: FaultRequest {
                    id,
                    action: action.clone(),
                    peers,
                },
                slots: None,
            };
            let subset = |id: String, service: &String, replicas: &Option<ReplicaSubset>| {
                let mut a = one(id, vec![service.clone()], vec![]);
                a.slots = replicas.map(|r| self.pick(&f.name, occ, k, service, r));
                a
            };
            match action {
                Action::Latency { target, .. }
                | Action::Errors { target, .. }
                | Action::Cpu { target, .. }
                | Action::Loss { target, .. } => {
                    out.push(subset(id, &target.service, &target.replicas))
                }
                Action::Memory {
                    service, replicas, ..
                } => out.push(subset(id, service, replicas)),
                Action::Partition { a, b } => {
                    out.push(one(format!("{id}a"), a.clone(), b.clone()));
                    out.push(one(format!("{id}b"), b.clone(), a.clone()));
                }
                Action::Kill { .. } => {}
            }
        }
        out
    }

    /// `on N of S`: the fleet slots of `service` this occurrence of the action affects, picked
    /// over the service's replica count now (fixed, or the current autoscaled count).
    fn pick(
        &self,
        fault: &str,
        occ: usize,
        action: usize,
        service: &str,
        subset: ReplicaSubset,
    ) -> Vec<usize> {
        let candidates = match self.plan.service(service).map(|s| &s.replicas) {
            Some(Replicas::Fixed { count }) => *count,
            Some(Replicas::Autoscale { .. }) => self.fleet.live_count(service),
            None => 0,
        };
        let of_service: Vec<usize> = (0..self.fleet.slots.len())
            .filter(|&i| self.fleet.slots[i].service == service)
            .collect();
        chaos_plan::pick_replicas(self.seed, fault, occ, action, candidates, subset)
            .into_iter()
            .filter_map(|k| of_service.get(k as usize).copied())
            .collect()
    }

    /// Installs the occurrence's timed actions (its kills are decisions of their own).
    async fn fault_start(&mut self, fault: usize, occ: usize) {
        let Some(f) = self.plan.faults.get(fault) else {
            return;
        };
        let mut sends = Vec::new();
        for a in self.requests_of(fault, occ) {
            for s in &a.services {
                for url in self.live_urls_covered(s, &a) {
                    sends.push(
                        self.fleet
                            .client
                            .post(format!("{url}/_chaos/faults"))
                            .bearer_auth(&self.fleet.token)
                            .json(&a.request)
                            .send(),
                    );
                }
            }
            self.active.insert(a.request.id.clone(), a);
        }
        for r in join_all(sends).await {
            if let Err(e) = r {
                tracing::warn!("installing fault `{}`: {e}", f.name);
            }
        }
    }

    /// Live replicas of `service` that fault `a` is installed on.
    fn live_urls_covered(&self, service: &str, a: &Active) -> Vec<String> {
        self.fleet
            .slots
            .iter()
            .enumerate()
            .filter(|(i, s)| s.live && s.service == service && a.covers(*i))
            .map(|(_, s)| s.url.clone())
            .collect()
    }

    async fn fault_end(&mut self, fault: usize, occ: usize) {
        let mut sends = Vec::new();
        let ids: Vec<String> = self.requests_of_ids(fault, occ).into_iter().collect();
        for id in ids {
            // Reverted where it was installed (the replicas picked at the start).
            let Some(a) = self.active.remove(&id) else {
                continue;
            };
            for s in &a.services {
                for url in self.live_urls_covered(s, &a) {
                    sends.push(
                        self.fleet
                            .client
                            .delete(format!("{url}/_chaos/faults/{}", a.request.id))
                            .bearer_auth(&self.fleet.token)
                            .send(),
                    );
                }
            }
        }
        join_all(sends).await;
    }

    /// Kills `count` live replicas of `service` (the conductor picked the service of a
    /// `random(...)` kill), picked at random.
    async fn kill(&mut self, count: u32, service: &str) {
        let mut live: Vec<usize> = (0..self.fleet.slots.len())
            .filter(|&i| self.fleet.slots[i].live && self.fleet.slots[i].service == service)
            .collect();
        live.shuffle(&mut self.rng);
        for slot in live.into_iter().take(count as usize) {
            self.kill_slot(slot).await;
        }
    }

    async fn autoscale(&mut self, service: usize) -> Result<(), LocalError> {
        let Some(s) = self.plan.services.get(service) else {
            return Ok(());
        };
        let Replicas::Autoscale {
            min,
            max,
            rule,
            delay_s,
            ..
        } = s.replicas
        else {
            return Ok(());
        };
        let name = s.name.clone();
        let (busy, capacity) = self.busy_acc.remove(&name).unwrap_or((0.0, 0.0));
        let current = self.fleet.live_count(&name);
        if capacity > 0.0 {
            let want = rule.desired(current, busy / capacity, min, max);
            let slots: Vec<usize> = (0..self.fleet.slots.len())
                .filter(|&i| self.fleet.slots[i].service == name)
                .collect();
            if want > current {
                let idle: Vec<usize> = slots
                    .iter()
                    .copied()
                    .filter(|&i| !self.fleet.slots[i].running())
                    .collect();
                for slot in idle.into_iter().take((want - current) as usize) {
                    self.start_slot(slot, delay_s)?;
                }
            } else if want < current {
                let live: Vec<usize> = slots
                    .iter()
                    .rev()
                    .copied()
                    .filter(|&i| self.fleet.slots[i].live)
                    .collect();
                for slot in live.into_iter().take((current - want) as usize) {
                    self.fleet.slots[slot].live = false;
                    self.health.removed(slot);
                    self.queue
                        .push(self.now_s() + SCALE_IN_GRACE_S, SlotEv::Stop { slot });
                }
                self.push_peers(&name).await;
            }
        }
        Ok(())
    }

    /// Hands the live view the newest two closed windows (the load generator's window closes
    /// with its first later record, so the newest may still be open), with what the agents sent.
    fn observe(&self, o: &chaos_report::live::Observer) {
        let Ok(r) = self.recorder.lock() else { return };
        let closed = r.closed_windows();
        for (i, w) in closed
            .iter()
            .enumerate()
            .skip(closed.len().saturating_sub(2))
        {
            let mut w = w.clone();
            for ((_, s), m) in self.agent_windows.by_window.range((i, 0)..(i + 1, 0)) {
                if let Some(stats) = w.subjects.get_mut(*s) {
                    m.add_to(stats);
                }
            }
            o.window(i, &w);
        }
    }

    /// Reads every running agent's metrics; what changed since the last read goes to `window`.
    async fn scrape(&mut self, window: usize) {
        let running: Vec<usize> = (0..self.fleet.slots.len())
            .filter(|&i| self.fleet.slots[i].running())
            .collect();
        let gets = running.iter().map(|&i| {
            let req = self
                .fleet
                .client
                .get(format!("{}/_chaos/metrics", self.fleet.slots[i].url))
                .bearer_auth(&self.fleet.token)
                .timeout(Duration::from_secs(2));
            async move {
                let r = req.send().await.ok()?;
                r.json::<MetricsSnapshot>().await.ok()
            }
        });
        let snaps = join_all(gets).await;
        let w = self.plan.scenario.window_s;
        let subjects = self
            .recorder
            .lock()
            .map(|r| r.subjects().to_vec())
            .unwrap_or_default();
        let mut busy: BTreeMap<String, f64> = BTreeMap::new();
        let mut queue: BTreeMap<String, f64> = BTreeMap::new();
        for (&slot, snap) in running.iter().zip(snaps) {
            let Some(snap) = snap else { continue };
            let prev = self.prev.get(&slot).filter(|p| p.instance == snap.instance);
            for sent in &snap.sent {
                let before = prev
                    .and_then(|p| {
                        p.sent
                            .iter()
                            .find(|x| x.service == sent.service && x.endpoint == sent.endpoint)
                    })
                    .map(|x| x.stats.clone())
                    .unwrap_or_default();
                if let Some(j) = endpoint_index(&subjects, &sent.service, &sent.endpoint) {
                    self.agent_windows
                        .add(window, j, &sent.stats.since(&before));
                }
            }
            self.agent_windows.add_hops(&snap.hop, prev.map(|p| &p.hop));
            *busy.entry(snap.service.clone()).or_default() +=
                snap.busy_s - prev.map_or(0.0, |p| p.busy_s);
            *queue.entry(snap.service.clone()).or_default() +=
                snap.queue_area_s - prev.map_or(0.0, |p| p.queue_area_s);
            self.prev.insert(slot, snap);
        }
        for (i, s) in self.plan.services.iter().enumerate() {
            let live = self.fleet.live_count(&s.name);
            let capacity = w * f64::from(live.max(1)) * f64::from(s.workers.max(1));
            let b = busy.get(&s.name).copied().unwrap_or(0.0).max(0.0);
            let acc = self.busy_acc.entry(s.name.clone()).or_default();
            acc.0 += b;
            acc.1 += capacity;
            let sample = ServiceSample {
                replicas: live,
                max_replicas: self
                    .max_live
                    .get(&s.name)
                    .copied()
                    .unwrap_or(live)
                    .max(live),
                utilisation: (b / capacity).clamp(0.0, 1.0),
                queue_mean: queue.get(&s.name).copied().unwrap_or(0.0).max(0.0) / w,
            };
            if let Ok(mut r) = self.recorder.lock() {
                r.sample_service(i, window as f64 * w, sample);
            }
        }
        self.reset_max_live();
    }
}

/// Removes every fault from every running agent (best effort: the agents are killed next).
pub async fn revert_all(fleet: &Fleet) {
    let sends = fleet.slots.iter().filter(|s| s.running()).map(|s| {
        fleet
            .client
            .delete(format!("{}/_chaos/faults", s.url))
            .bearer_auth(&fleet.token)
            .timeout(Duration::from_secs(1))
            .send()
    });
    join_all(sends).await;
}
