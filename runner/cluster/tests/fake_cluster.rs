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
    });
    let target = Target {
        service: "back_end".into(),
        endpoint: None,
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
    let plan = plan();
    let proxied = Arc::new(Mutex::new(Vec::new()));
    let seen = proxied.clone();
    let output = loadgen_output(&plan);
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
    let progress = h.progress.lock().unwrap().join("\n");
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
    let interrupt = async move { installed.notified().await };
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
    let interrupt = async move { installed.notified().await };
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
