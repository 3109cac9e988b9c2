//! The cluster runner's real kube-rs client against the in-process fake API server: a full run,
//! cleanup on every exit path, safety (only its own namespace), and the errors users see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaos_cluster::fake::{
    FakeApiServer, FakeConfig, JobOutcome, PodBehaviour, ProxyRequest, ProxyResponse,
};
use chaos_cluster::{ClusterError, Options, run_until};
use chaos_plan::*;
use chaos_report::Recorder;

fn service(name: &str, replicas: u32, steps: Vec<Step>) -> chaos_plan::Service {
    chaos_plan::Service {
        name: name.into(),
        replicas: Replicas::Fixed { count: replicas },
        workers: 4,
        queue: None,
        rate_limit_per_s: None,
        restart_s: 1.0,
        balance: Balance::RoundRobin,
        latency: Dist::Constant { value_s: 0.001 },
        endpoints: vec![Endpoint {
            name: "GET /".into(),
            steps,
        }],
        discipline: Default::default(),
        eject: None,
        health_check: None,
    }
}

/// `api` calls `back_end`; a latency fault on it from 0.3 s to 1.2 s and a kill at 0.6 s.
fn plan() -> Plan {
    let call = Step::Call(Call {
        service: "back_end".into(),
        endpoint: "GET /".into(),
        timeout_s: Some(0.5),
        retry: Retry::NONE,
        circuit_breaker: None,
        continue_on_error: false,
        priority: None,
    });
    let target = Target {
        service: "back_end".into(),
        endpoint: None,
        replicas: None,
    };
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "fake run".into(),
            duration_s: 2.0,
            warmup_s: 0.0,
            seed: 1,
            window_s: 1.0,
            drain_s: 0.5,
        },
        params: vec![],
        services: vec![
            service("api", 1, vec![call]),
            service(
                "back_end",
                2,
                vec![Step::Work {
                    dist: Dist::Constant { value_s: 0.001 },
                }],
            ),
        ],
        workloads: vec![Workload {
            name: "users".into(),
            target: EndpointRef {
                service: "api".into(),
                endpoint: "GET /".into(),
            },
            load: Load::Open {
                rate: vec![RatePiece {
                    start_s: 0.0,
                    end_s: 2.0,
                    from_per_s: 10.0,
                    to_per_s: 10.0,
                }],
                spikes: vec![],
                arrivals: Arrivals::Uniform,
            },
            timeout_s: None,
            priority: 0,
        }],
        faults: vec![
            Fault {
                name: "slow".into(),
                occurrences: vec![Occurrence {
                    start_s: 0.3,
                    end_s: 1.2,
                }],
                active: vec![Interval {
                    start_s: 0.3,
                    end_s: 1.2,
                }],
                actions: vec![Action::Latency {
                    target,
                    delay: Dist::Constant { value_s: 0.1 },
                }],
            },
            Fault {
                name: "crash".into(),
                occurrences: vec![Occurrence {
                    start_s: 0.6,
                    end_s: 0.6,
                }],
                active: vec![Interval {
                    start_s: 0.6,
                    end_s: 1.6,
                }],
                actions: vec![Action::Kill {
                    count: 1,
                    services: vec!["back_end".into()],
                }],
            },
        ],
        expectations: vec![],
        aborts: vec![],
    }
}

/// What the load generator prints: a recording with one successful request per window.
fn loadgen_output(plan: &Plan) -> String {
    let mut r = Recorder::new(plan, "loadgen", 1);
    for t in [0.1, 1.1, 2.1] {
        r.record(2, t, 0.004, Ok(()));
    }
    format!(
        "loadgen: sending\n{}\n",
        serde_json::to_string_pretty(&r.finish(2.0, 2.5, None)).unwrap()
    )
}

struct Harness {
    server: FakeApiServer,
    proxied: Arc<Mutex<Vec<ProxyRequest>>>,
    progress: Arc<Mutex<Vec<String>>>,
}

async fn harness(configure: impl FnOnce(&mut FakeConfig)) -> Harness {
    harness_for(loadgen_output(&plan()), configure).await
}

/// `output`: what the load generator's log holds at its end.
async fn harness_for(output: String, configure: impl FnOnce(&mut FakeConfig)) -> Harness {
    let proxied = Arc::new(Mutex::new(Vec::new()));
    let seen = proxied.clone();
    let mut config = FakeConfig {
        ready_after: Duration::from_millis(100),
        proxy: Arc::new(move |r: &ProxyRequest| {
            seen.lock().unwrap().push(r.clone());
            ProxyResponse {
                status: 200,
                body: "{}".into(),
            }
        }),
        job: Arc::new(move |_| JobOutcome {
            runs_for: Duration::from_millis(2500),
            logs: output.clone(),
            succeeded: true,
        }),
        ..FakeConfig::default()
    };
    configure(&mut config);
    let server = FakeApiServer::start(config).await.unwrap();
    Harness {
        server,
        proxied,
        progress: Arc::new(Mutex::new(Vec::new())),
    }
}

impl Harness {
    fn options(&self) -> Options {
        let progress = self.progress.clone();
        Options {
            seed: 1,
            kubeconfig: Some(self.server.kubeconfig().unwrap()),
            run_id: Some("t1".into()),
            rollout_timeout: Some(Duration::from_secs(20)),
            progress: chaos_cluster::Progress::new(move |l| {
                progress.lock().unwrap().push(l.to_string())
            }),
            ..Options::default()
        }
    }

    /// Every API request outside `/version` concerns the run's namespace, and nothing else.
    fn assert_only_touched(&self, namespace: &str) {
        for r in self.server.requests() {
            let ok = r.path == "/version"
                || r.path == format!("/api/v1/namespaces/{namespace}")
                || r.path
                    .starts_with(&format!("/api/v1/namespaces/{namespace}/"))
                || (r.path.starts_with("/apis/")
                    && r.path.contains(&format!("/namespaces/{namespace}/")));
            assert!(ok, "touched {} {}", r.method, r.path);
        }
    }

    async fn namespace_gone(&self) -> bool {
        for _ in 0..50 {
            if self.server.objects("namespaces").is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn deletes(&self, resource: &str) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| {
                r.method == "DELETE" && r.path.contains(resource) && !r.path.contains("/proxy/")
            })
            .count()
    }
}

const NS: &str = "chaos-fake-run-t1";

/// A harness and an "interrupt" that fires once the runner has installed a fault (its first
/// POST through the proxy): Ctrl-C in the middle of a run.
async fn harness_interrupted_after_a_fault() -> (Harness, impl std::future::Future<Output = ()>) {
    let installed = Arc::new(tokio::sync::Notify::new());
    let signal = installed.clone();
    let h = harness(move |c| {
        let inner = c.proxy.clone();
        c.proxy = Arc::new(move |r| {
            let answer = inner(r);
            if r.method == "POST" {
                signal.notify_one();
            }
            answer
        });
    })
    .await;
    (h, async move { installed.notified().await })
}

async fn never() {
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn full_run_applies_faults_on_time_and_cleans_up() {
    let h = harness(|_| {}).await;
    let recording = run_until(&plan(), &h.options(), never()).await.unwrap();

    assert_eq!(recording.mode, "cluster");
    assert_eq!(recording.windows.len(), 3);
    let users = recording
        .subject_index(&chaos_report::SubjectKey::Workload {
            workload: "users".into(),
        })
        .unwrap();
    assert_eq!(
        recording
            .windows
            .iter()
            .map(|w| w.subjects[users].ok)
            .sum::<u64>(),
        3
    );
    let back_end = recording.service_index("back_end").unwrap();
    assert!(
        recording
            .windows
            .iter()
            .all(|w| w.services[back_end].max_replicas >= 1)
    );

    let proxied = h.proxied.lock().unwrap().clone();
    let installs: Vec<&ProxyRequest> = proxied.iter().filter(|r| r.method == "POST").collect();
    // On both back_end Pods at the start (and on the replacement of the killed one, if it came up in time).
    assert!(installs.len() >= 2, "{installs:?}");
    for r in &installs {
        assert_eq!(r.path, "/_chaos/faults");
        assert_eq!(r.resource, "pods");
        assert!(r.name.starts_with("back-end-"), "{}", r.name);
        assert_eq!(r.port.as_deref(), Some("8080"));
        assert!(!r.headers.contains_key("authorization"));
        assert_eq!(r.headers.get("x-chaos-token").map(String::len), Some(32));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], "slow-0-0");
        assert_eq!(body["action"]["action"], "latency");
    }
    let removes: Vec<&ProxyRequest> = proxied.iter().filter(|r| r.method == "DELETE").collect();
    assert!(removes.iter().all(|r| r.path == "/_chaos/faults/slow-0-0"));
    // Every Pod that got the fault and still exists got it removed.
    assert!(!removes.is_empty());

    // The kill deleted exactly one back_end Pod; its Deployment replaced it.
    let pod_deletes: Vec<_> = h
        .server
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "DELETE" && r.path.contains("/pods/") && !r.path.contains("/proxy/")
        })
        .collect();
    assert_eq!(pod_deletes.len(), 1, "{pod_deletes:?}");
    assert!(pod_deletes[0].path.contains("/pods/back-end-"));

    // Server-side apply with our field manager, for every object.
    let applies: Vec<_> = h
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(applies.len(), 1 + 2 + 2 * 2 + 1);
    assert!(
        applies
            .iter()
            .all(|r| r.query.contains("fieldManager=chaos") && r.query.contains("force=true"))
    );

    assert!(h.namespace_gone().await, "namespace deleted at the end");
    h.assert_only_touched(NS);
    // Time 0 came from the load generator's status API, read through the Pod proxy with the token.
    let status = h
        .server
        .proxied()
        .into_iter()
        .find(|r| r.path == "/_chaos/loadgen")
        .expect("the load generator's status was read");
    assert!(status.name.starts_with("loadgen-"), "{}", status.name);
    assert_eq!(status.port.as_deref(), Some("8081"));
    assert_eq!(
        status.headers.get("x-chaos-token").map(String::len),
        Some(32)
    );
    let progress = h.progress.lock().unwrap().join("\n");
    assert!(progress.contains("load started at 20"), "{progress}");
    assert!(progress.contains("waiting for rollouts"), "{progress}");
    assert!(progress.contains("deleted namespace"), "{progress}");
}

#[tokio::test]
async fn keep_leaves_the_namespace_but_reverts_faults() {
    let h = harness(|_| {}).await;
    let options = Options {
        keep: true,
        ..h.options()
    };
    run_until(&plan(), &options, never()).await.unwrap();
    assert_eq!(
        h.deletes("/api/v1/namespaces/"),
        1,
        "only the killed Pod is deleted"
    );
    assert_eq!(h.server.objects("namespaces").len(), 1);
    let proxied = h.proxied.lock().unwrap().clone();
    assert!(proxied.iter().any(|r| r.method == "DELETE"));
}

#[tokio::test]
async fn ctrl_c_reverts_installed_faults_and_deletes_the_namespace() {
    let (h, interrupt) = harness_interrupted_after_a_fault().await;
    let err = run_until(&plan(), &h.options(), interrupt)
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::Interrupted), "{err}");
    let proxied = h.proxied.lock().unwrap().clone();
    let posts = proxied.iter().filter(|r| r.method == "POST").count();
    let deletes = proxied
        .iter()
        .filter(|r| r.method == "DELETE" && r.path == "/_chaos/faults/slow-0-0")
        .count();
    assert!(posts >= 1);
    assert_eq!(deletes, posts, "every install reverted");
    assert!(h.namespace_gone().await);
    h.assert_only_touched(NS);
}

#[tokio::test]
async fn a_failing_fault_install_still_cleans_up() {
    let h = harness(|c| {
        c.proxy = Arc::new(|r| ProxyResponse {
            status: if r.method == "POST" { 500 } else { 200 },
            body: r#"{"error":"boom"}"#.into(),
        });
    })
    .await;
    let err = run_until(&plan(), &h.options(), never()).await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::Fault { id, what: "installed", .. } if id == "slow-0-0"),
        "{err}"
    );
    assert!(h.namespace_gone().await);
}

#[tokio::test]
async fn rbac_forbidden_names_the_verb_and_resource() {
    let h = harness(|c| c.forbid = vec![("create".into(), "namespaces".into())]).await;
    let err = run_until(&plan(), &h.options(), never()).await.unwrap_err();
    match &err {
        ClusterError::Forbidden { verb, resource, .. } => {
            assert_eq!((verb.as_str(), resource.as_str()), ("create", "namespaces"))
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .starts_with("forbidden by RBAC: cannot create namespaces;"),
        "{err}"
    );
    assert!(h.server.objects("namespaces").is_empty());
    assert_eq!(h.deletes("/"), 0, "nothing was created, nothing is deleted");

    // Forbidden later: the namespace it created is still deleted.
    let h = harness(|c| c.forbid = vec![("create".into(), "deployments".into())]).await;
    let err = run_until(&plan(), &h.options(), never()).await.unwrap_err();
    assert_eq!(
        err.to_string().split(" (").next().unwrap(),
        format!(
            "forbidden by RBAC: cannot create deployments.apps in namespace `{NS}`; grant it to your user or use another context"
        )
    );
    assert!(h.namespace_gone().await);
}

#[tokio::test]
async fn an_existing_namespace_is_never_touched() {
    let h = harness(|_| {}).await;
    h.server.insert(
        "/api/v1",
        "",
        "namespaces",
        serde_json::json!({ "metadata": { "name": NS } }),
    );
    let err = run_until(&plan(), &h.options(), never()).await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::NamespaceExists(n) if n == NS),
        "{err}"
    );
    assert!(h.server.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn image_pull_failures_name_the_pod_and_image() {
    let h = harness(|c| c.pods = PodBehaviour::ImagePullBackOff).await;
    let err = run_until(&plan(), &h.options(), never()).await.unwrap_err();
    eprintln!("{err}");
    match &err {
        ClusterError::ImagePull {
            pod, image, reason, ..
        } => {
            assert!(
                pod.starts_with("api-") || pod.starts_with("back-end-"),
                "{pod}"
            );
            assert_eq!(image, chaos_k8s::DEFAULT_IMAGE);
            assert_eq!(reason, "ImagePullBackOff");
        }
        other => panic!("{other}"),
    }
    assert!(h.namespace_gone().await);
}

#[tokio::test]
async fn crash_loops_and_slow_rollouts_say_why() {
    let h = harness(|c| c.pods = PodBehaviour::CrashLoop).await;
    let err = run_until(&plan(), &h.options(), never()).await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::PodFailing { reason, .. } if reason == "CrashLoopBackOff"),
        "{err}"
    );
    assert!(h.namespace_gone().await);

    let h = harness(|c| c.ready_after = Duration::from_secs(3600)).await;
    let options = Options {
        rollout_timeout: Some(Duration::from_millis(600)),
        ..h.options()
    };
    let err = run_until(&plan(), &options, never()).await.unwrap_err();
    eprintln!("{err}");
    assert!(
        matches!(&err, ClusterError::RolloutTimeout { ready: 0, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("ContainersNotReady: containers with unready status: [agent]"),
        "{err}"
    );
    assert!(h.namespace_gone().await);
}

#[tokio::test]
async fn a_failed_load_generator_reports_its_log() {
    let h = harness(|c| {
        c.job = Arc::new(|_| JobOutcome {
            runs_for: Duration::from_millis(300),
            logs: "error: target api unreachable\n".into(),
            succeeded: false,
        })
    })
    .await;
    let err = run_until(&plan(), &h.options(), never()).await.unwrap_err();
    assert!(
        matches!(&err, ClusterError::Loadgen(m) if m.contains("target api unreachable")),
        "{err}"
    );
    assert!(h.namespace_gone().await);
}

#[tokio::test]
async fn kubeconfig_and_context_errors() {
    let h = harness(|_| {}).await;
    let required = Options {
        require_context: true,
        ..h.options()
    };
    assert!(matches!(
        run_until(&plan(), &required, never()).await,
        Err(ClusterError::ContextRequired)
    ));
    let named = Options {
        require_context: true,
        context: Some("fake".into()),
        run_id: Some("t2".into()),
        ..h.options()
    };
    run_until(&plan(), &named, never()).await.unwrap();
    let unknown = Options {
        context: Some("prod".into()),
        ..h.options()
    };
    let err = run_until(&plan(), &unknown, never()).await.unwrap_err();
    eprintln!("{err}");
    assert!(
        matches!(&err, ClusterError::UnknownContext { context, .. } if context == "prod"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "kubeconfig has no context `prod`: it defines fake"
    );

    let missing = Options {
        kubeconfig: Some("/nonexistent/kubeconfig".into()),
        ..h.options()
    };
    let err = run_until(&plan(), &missing, never()).await.unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, ClusterError::NoKubeconfig(_)), "{err}");

    let wrong_token =
        std::env::temp_dir().join(format!("chaos-wrong-token-{}", std::process::id()));
    chaos_cluster::fake::write_kubeconfig(&wrong_token, &h.server.url(), "not-the-token").unwrap();
    let options = Options {
        kubeconfig: Some(wrong_token.clone()),
        ..h.options()
    };
    let err = run_until(&plan(), &options, never()).await.unwrap_err();
    assert!(matches!(err, ClusterError::Unauthorized { .. }), "{err}");
    let _ = std::fs::remove_file(wrong_token);
}

#[tokio::test]
async fn an_unreachable_server_is_reported_before_anything_happens() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = std::env::temp_dir().join(format!("chaos-unreachable-{}", std::process::id()));
    let url = format!("http://127.0.0.1:{port}");
    chaos_cluster::fake::write_kubeconfig(&path, &url, "t").unwrap();
    let options = Options {
        kubeconfig: Some(path.clone()),
        ..Options::default()
    };
    let err = run_until(&plan(), &options, never()).await.unwrap_err();
    eprintln!("{err}");
    match &err {
        ClusterError::Unreachable { server, .. } => assert_eq!(server, &url),
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().starts_with(&format!(
            "cannot reach the Kubernetes API server at {url}: "
        )),
        "{err}"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_second_interrupt_abandons_cleanup_and_says_so() {
    let (h, interrupt) = harness_interrupted_after_a_fault().await;
    let err = chaos_cluster::run_inner(&plan(), &h.options(), interrupt, async {})
        .await
        .unwrap_err();
    match &err {
        ClusterError::Cleanup {
            namespace,
            message,
            cause,
        } => {
            assert_eq!(namespace, NS);
            assert!(message.contains("interrupted again"), "{message}");
            assert!(
                cause
                    .as_deref()
                    .is_some_and(|c| c.starts_with("interrupted")),
                "{cause:?}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("kubectl delete namespace {NS}")),
        "{err}"
    );
    assert_eq!(
        h.server.objects("namespaces").len(),
        1,
        "left for the user to delete"
    );
}

/// kube-runtime's watcher (list, then watch) works against the fake: a Deployment becomes
/// complete, and deleting a Pod is seen as DELETED plus the replacement ADDED.
#[tokio::test]
async fn kube_runtime_watches_work_against_the_fake() {
    use futures::StreamExt;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::api::{Api, DeleteParams, Patch, PatchParams, WatchEvent, WatchParams};

    let h = harness(|_| {}).await;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(h.server.kubeconfig().unwrap()).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let bundle = chaos_k8s::build(
        &plan(),
        &chaos_k8s::Options {
            image: "i".into(),
            namespace: Some("w".into()),
            run_id: "w1".into(),
        },
        "t",
    )
    .unwrap();
    let pp = PatchParams::apply("test");
    Api::<Namespace>::all(client.clone())
        .patch("w", &pp, &Patch::Apply(&bundle.objects.namespace))
        .await
        .unwrap();
    let deployments = Api::<Deployment>::namespaced(client.clone(), "w");
    let back_end = &bundle.objects.services[1].deployment;
    deployments
        .patch("back-end", &pp, &Patch::Apply(back_end))
        .await
        .unwrap();

    let done = kube::runtime::wait::await_condition(
        deployments.clone(),
        "back-end",
        kube::runtime::wait::conditions::is_deployment_completed(),
    );
    let d = tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(d.status.unwrap().ready_replicas, Some(2));

    let pods = Api::<Pod>::namespaced(client, "w");
    let mut events = pods
        .watch(&WatchParams::default().timeout(10), "0")
        .await
        .unwrap()
        .boxed();
    let mut names = Vec::new();
    while names.len() < 2 {
        if let Some(Ok(WatchEvent::Added(p))) = events.next().await {
            names.push(p.metadata.name.unwrap());
        }
    }
    pods.delete(&names[0], &DeleteParams::default())
        .await
        .unwrap();
    let (mut deleted, mut added) = (None, None);
    while deleted.is_none() || added.is_none() {
        match events.next().await.unwrap().unwrap() {
            WatchEvent::Deleted(p) => deleted = p.metadata.name,
            WatchEvent::Added(p) => added = p.metadata.name,
            _ => {}
        }
    }
    assert_eq!(deleted.as_ref(), Some(&names[0]));
    assert!(
        !names.contains(added.as_ref().unwrap()),
        "a new Pod replaces the deleted one"
    );
}

/// `plan()` made to abort: the latency fault lasts to 5 s, a kill is due at 4 s, and
/// `abort when error_rate(users) > 50% for 1s`.
fn aborting_plan() -> Plan {
    let mut plan = plan();
    plan.scenario.duration_s = 6.0;
    plan.faults[0].occurrences[0].end_s = 5.0;
    plan.faults[0].active[0].end_s = 5.0;
    plan.faults[1].occurrences[0] = Occurrence {
        start_s: 4.0,
        end_s: 4.0,
    };
    plan.faults[1].active[0] = Interval {
        start_s: 4.0,
        end_s: 5.0,
    };
    plan.aborts = vec![Abort {
        text: "abort when error_rate(users) > 50% for 1s".into(),
        metric: Metric::ErrorRate,
        subject: Subject::Workload {
            workload: "users".into(),
        },
        op: Comparison::Gt,
        threshold: 0.5,
        for_s: 1.0,
    }];
    plan
}

#[tokio::test]
async fn an_abort_reverts_faults_stops_the_load_and_cleans_up() {
    let plan = aborting_plan();
    // Every request fails from the start: the abort fires when window [0, 1) closes.
    let mut r = Recorder::new(&plan, "loadgen", 1);
    let users = 2;
    for w in 0..6 {
        for i in 0..10 {
            let t = w as f64 + i as f64 / 10.0;
            r.record(users, t, 0.004, Err(chaos_report::Cause::Injected));
        }
    }
    let output = serde_json::to_string(&r.finish(6.0, 6.5, None)).unwrap() + "\n";
    let h = harness_for(output, |c| {
        let job = c.job.clone();
        // The load would run 6 s; the stop ends it early.
        c.job = Arc::new(move |j| JobOutcome {
            runs_for: Duration::from_secs(20),
            ..job(j)
        });
    })
    .await;
    let started = std::time::Instant::now();
    let recording = run_until(&plan, &h.options(), never()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the stop ended the load generator's Job"
    );

    let aborted = recording.aborted.clone().expect("the abort fired");
    assert_eq!(aborted.text, "abort when error_rate(users) > 50% for 1s");
    assert_eq!((aborted.at_s, recording.ended_s), (1.0, 1.0));
    let report = chaos_report::report(&plan, &recording).unwrap();
    assert!(!report.passed, "an abort fails the run (exit 1)");

    let proxied = h.server.proxied();
    let stops: Vec<&ProxyRequest> = proxied
        .iter()
        .filter(|r| r.path == "/_chaos/loadgen/stop")
        .collect();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].method, "POST");
    assert!(stops[0].name.starts_with("loadgen-"));
    // The fault installed at 0.3 s was reverted on every Pod that got it, before the stop.
    let agents = h.proxied.lock().unwrap().clone();
    let installs = agents.iter().filter(|r| r.method == "POST").count();
    let reverts = agents
        .iter()
        .filter(|r| r.method == "DELETE" && r.path == "/_chaos/faults/slow-0-0")
        .count();
    assert!(installs >= 2);
    assert_eq!(reverts, installs, "{agents:?}");
    // The kill due at 4 s never happened: nothing starts after an abort.
    assert_eq!(h.deletes("/pods/"), 0);
    assert!(h.namespace_gone().await, "namespace deleted");
    h.assert_only_touched(NS);
    let progress = h.progress.lock().unwrap().join("\n");
    assert!(
        progress.contains("abort at 1s: abort when error_rate(users) > 50% for 1s"),
        "{progress}"
    );
}

#[tokio::test]
async fn without_an_abort_condition_holding_the_run_goes_to_its_end() {
    let plan = aborting_plan();
    let mut r = Recorder::new(&plan, "loadgen", 1);
    for w in 0..6 {
        r.record(2, w as f64 + 0.5, 0.004, Ok(()));
    }
    let output = serde_json::to_string(&r.finish(6.0, 6.5, None)).unwrap() + "\n";
    let h = harness_for(output, |c| {
        let job = c.job.clone();
        c.job = Arc::new(move |j| JobOutcome {
            runs_for: Duration::from_millis(6600),
            ..job(j)
        });
    })
    .await;
    let recording = run_until(&plan, &h.options(), never()).await.unwrap();
    assert_eq!(recording.aborted, None);
    assert_eq!(recording.ended_s, 6.0);
    assert!(
        h.server
            .proxied()
            .iter()
            .all(|r| r.path != "/_chaos/loadgen/stop")
    );
    assert_eq!(h.deletes("/pods/"), 1, "the kill at 4 s happened");
}

/// `back_end` autoscaled 1..4 at 50% target every second; its agents report every worker busy.
fn autoscaled_plan() -> Plan {
    let mut plan = plan();
    plan.scenario.duration_s = 3.5;
    plan.faults.clear();
    plan.services[1].replicas = Replicas::Autoscale {
        min: 1,
        max: 4,
        rule: chaos_plan::ScaleRule::Target { utilisation: 0.5 },
        delay_s: 0.0,
        interval_s: 1.0,
    };
    plan
}

#[tokio::test]
async fn autoscale_follows_worker_utilisation_through_the_scale_subresource() {
    let plan = autoscaled_plan();
    let mut r = Recorder::new(&plan, "loadgen", 1);
    for w in 0..4 {
        r.record(2, w as f64 + 0.5, 0.004, Ok(()));
    }
    let output = serde_json::to_string(&r.finish(3.5, 4.0, None)).unwrap() + "\n";
    let t0 = std::time::Instant::now();
    let h = harness_for(output, move |c| {
        c.job = {
            let job = c.job.clone();
            Arc::new(move |j| JobOutcome {
                runs_for: Duration::from_millis(4200),
                ..job(j)
            })
        };
        // Every agent: all 4 workers busy all the time (utilisation 100%).
        c.proxy = Arc::new(move |r: &ProxyRequest| {
            let service = if r.name.starts_with("back-end") {
                "back_end"
            } else {
                "api"
            };
            let up = t0.elapsed().as_secs_f64();
            let body = serde_json::json!({
                "service": service, "replica": r.name, "instance": r.name.len() as u64,
                "uptime_s": up, "workers": 4, "busy_s": up * 4.0, "queue_area_s": 0.0,
                "busy_now": 4, "waiting_now": 0, "memory_bytes": 0, "received": [], "sent": []
            });
            ProxyResponse {
                status: 200,
                body: body.to_string(),
            }
        });
    })
    .await;
    let recording = run_until(&plan, &h.options(), never()).await.unwrap();

    let requests = h.server.requests();
    let scales: Vec<_> = requests
        .iter()
        .filter(|r| r.path == format!("/apis/apps/v1/namespaces/{NS}/deployments/back-end/scale"))
        .collect();
    assert!(scales.iter().any(|r| r.method == "GET"));
    assert!(
        scales.iter().filter(|r| r.method == "PATCH").count() >= 2,
        "1 -> 2 -> 4: {scales:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| !r.path.contains("horizontalpodautoscalers")),
        "the CPU HPA is not applied by the runner"
    );
    // api has fixed replicas: never scaled.
    assert!(
        requests
            .iter()
            .all(|r| !r.path.ends_with("/deployments/api/scale"))
    );
    let back_end = recording.service_index("back_end").unwrap();
    let most = recording
        .windows
        .iter()
        .map(|w| w.services[back_end].max_replicas)
        .max()
        .unwrap();
    assert!(most >= 2, "new Pods became ready and were counted: {most}");
    let progress = h.progress.lock().unwrap().join("\n");
    assert!(
        progress
            .contains("autoscale back_end: 1 -> 2 replicas (worker utilisation 100%, target 50%)"),
        "{progress}"
    );
    assert!(
        progress.contains("autoscale back_end: 2 -> 4 replicas"),
        "{progress}"
    );
    assert!(h.namespace_gone().await);
    h.assert_only_touched(NS);
}

#[tokio::test]
async fn the_scale_subresource_answers_like_the_api_server() {
    let h = harness(|_| {}).await;
    let client = reqwest::Client::new();
    let base = format!(
        "{}/apis/apps/v1/namespaces/ns1/deployments/web/scale",
        h.server.url()
    );
    let get = |url: String| client.get(url).bearer_auth("fake-token").send();
    let missing = get(base.clone()).await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["reason"], "NotFound");

    h.server.insert(
        "/api/v1",
        "",
        "namespaces",
        serde_json::json!({ "metadata": { "name": "ns1" }, "status": { "phase": "Active" } }),
    );
    h.server.insert(
        "/apis/apps/v1",
        "ns1",
        "deployments",
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web", "namespace": "ns1", "generation": 1, "uid": "u1" },
            "spec": { "replicas": 1, "selector": { "matchLabels": { "app": "web" } },
                      "template": { "metadata": { "labels": { "app": "web" } },
                                    "spec": { "containers": [{ "name": "c", "image": "i" }] } } }
        }),
    );
    let scale: serde_json::Value = get(base.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 1);
    assert_eq!(scale["status"]["selector"], "app=web");

    let patch = |content_type: &'static str, body: &'static str| {
        client
            .patch(base.clone())
            .bearer_auth("fake-token")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let wrong = patch("application/json", r#"{"spec":{"replicas":3}}"#)
        .await
        .unwrap();
    assert_eq!(wrong.status(), 415);
    let negative = patch(
        "application/merge-patch+json",
        r#"{"spec":{"replicas":-1}}"#,
    )
    .await
    .unwrap();
    assert_eq!(negative.status(), 422);
    let ok = patch("application/merge-patch+json", r#"{"spec":{"replicas":3}}"#)
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let scale: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(scale["spec"]["replicas"], 3);
    let pods = h.server.objects("pods");
    assert_eq!(pods.len(), 3, "the Deployment controller made the Pods");
    let down = patch("application/merge-patch+json", r#"{"spec":{"replicas":1}}"#)
        .await
        .unwrap();
    assert_eq!(down.status(), 200);
    assert_eq!(h.server.objects("pods").len(), 1);
}

#[tokio::test]
async fn time_zero_is_when_the_load_generator_starts_sending_not_when_its_pod_runs() {
    let plan = plan();
    let output = loadgen_output(&plan);
    let h = harness_for(output.clone(), move |c| {
        // The Pod runs at once, but the load starts 1.5 s later (its targets' health checks).
        c.job_async = Some(Arc::new(move |_| {
            let logs = output.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                JobOutcome {
                    runs_for: Duration::from_millis(2500),
                    logs,
                    succeeded: true,
                }
            })
        }));
    })
    .await;
    run_until(&plan, &h.options(), never()).await.unwrap();
    let proxied = h.server.proxied();
    let first_install = proxied
        .iter()
        .position(|r| r.method == "POST" && r.path == "/_chaos/faults")
        .unwrap();
    let polls = proxied[..first_install]
        .iter()
        .filter(|r| r.path == "/_chaos/loadgen")
        .count();
    // Polled (every 200 ms) while it had not started; the fault due at 0.3 s waited for it.
    assert!(polls >= 3, "{polls} status reads before the first install");
}
