//! The cluster runner's real kube-rs client against the fake API server (`chaos-cluster-testing`),
//! only for what the real control plane of `scripts/testbed` cannot produce: Pods that cannot pull
//! their image or crash-loop (the testbed has no images and no kubelet), an agent refusing a fault,
//! a failing load generator Job, a load generator that starts sending long after its Pod runs,
//! agents whose metrics take a second to read, a finished load generator Pod the Pod proxy takes
//! 10 s to refuse, a cleanup that hangs, and kubeconfig errors. Full runs, faults, `--keep`, interrupts, aborts,
//! autoscaling, RBAC and an unreachable server run against the real control plane in
//! tests/cluster/run.sh.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaos_cluster::{ClusterError, Options, run_until};
use chaos_cluster_testing::{
    FakeApiServer, FakeConfig, JobOutcome, PodBehaviour, ProxyRequest, ProxyResponse,
};
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
            hop_s: 0.0,
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
    progress: Arc<Mutex<Vec<String>>>,
}

async fn harness(configure: impl FnOnce(&mut FakeConfig)) -> Harness {
    harness_for(loadgen_output(&plan()), configure).await
}

/// `output`: what the load generator's log holds at its end.
async fn harness_for(output: String, configure: impl FnOnce(&mut FakeConfig)) -> Harness {
    let mut config = FakeConfig {
        ready_after: Duration::from_millis(100),
        proxy: Arc::new(move |_: &ProxyRequest| ProxyResponse {
            status: 200,
            body: "{}".into(),
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

    async fn namespace_gone(&self) -> bool {
        for _ in 0..50 {
            if self.server.objects("namespaces").is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
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
    chaos_cluster_testing::write_kubeconfig(&wrong_token, &h.server.url(), "not-the-token")
        .unwrap();
    let options = Options {
        kubeconfig: Some(wrong_token.clone()),
        ..h.options()
    };
    let err = run_until(&plan(), &options, never()).await.unwrap_err();
    assert!(matches!(err, ClusterError::Unauthorized { .. }), "{err}");
    let _ = std::fs::remove_file(wrong_token);
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

#[tokio::test]
async fn a_fault_due_while_windows_are_read_does_not_wait_for_the_reads() {
    // Every agent takes 1 s to answer a metrics read. The first window's read starts at 1.0 s
    // and the latency fault ends at 1.2 s: its revert must go out while that read is still
    // unanswered, not after it (a runner that reads windows in line with the schedule sends
    // the revert only once the agents have answered).
    let answered = Arc::new(AtomicUsize::new(0));
    let at_revert: Arc<Mutex<Option<usize>>> = Arc::default();
    let (count, seen) = (answered.clone(), at_revert.clone());
    let h = harness(move |c| {
        c.proxy_async = Some(Arc::new(move |r: ProxyRequest| {
            let (count, seen) = (count.clone(), seen.clone());
            Box::pin(async move {
                if r.method == "GET" && r.path == "/_chaos/metrics" {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    count.fetch_add(1, Ordering::SeqCst);
                }
                if r.method == "DELETE" && r.path.starts_with("/_chaos/faults/slow") {
                    seen.lock()
                        .unwrap()
                        .get_or_insert(count.load(Ordering::SeqCst));
                }
                ProxyResponse {
                    status: 200,
                    body: "{}".into(),
                }
            })
        }));
    })
    .await;
    run_until(&plan(), &h.options(), never()).await.unwrap();
    let reads = h
        .server
        .proxied()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/_chaos/metrics")
        .count();
    assert!(reads >= 2, "{reads} metrics reads");
    assert_eq!(
        *at_revert.lock().unwrap(),
        Some(0),
        "metrics reads answered before the fault's revert went out"
    );
    assert!(
        answered.load(Ordering::SeqCst) >= 2,
        "the reads were awaited in the end"
    );
    let progress = h.progress.lock().unwrap().join("\n");
    assert!(
        progress.contains("fault slow-0-0 on back_end, installed ")
            && progress.contains(" ms after its time"),
        "the fault's lateness is said:\n{progress}"
    );
}

/// `plan()` for 6 s with an abort on what `api`'s agent measures of its calls to `back_end`
/// (`error_rate(back_end "GET /") > 50% for 2s`) and a latency fault on `back_end` from 2.5 s.
fn plan_with_an_agent_side_abort() -> Plan {
    let mut plan = plan();
    plan.scenario.duration_s = 6.0;
    plan.faults.truncate(1);
    plan.faults[0].occurrences[0] = Occurrence {
        start_s: 2.5,
        end_s: 5.5,
    };
    plan.faults[0].active[0] = Interval {
        start_s: 2.5,
        end_s: 5.5,
    };
    plan.aborts = vec![Abort {
        text: "error_rate(back_end \"GET /\") > 50% for 2s".into(),
        metric: Metric::ErrorRate,
        subject: Subject::Endpoint {
            service: "back_end".into(),
            endpoint: "GET /".into(),
        },
        op: Comparison::Gt,
        threshold: 0.5,
        for_s: 2.0,
    }];
    plan
}

/// What `api`'s agent answers on its `n`-th metrics read (0-based; cumulative, as an agent
/// counts): 20 good calls to `back_end` in each of the first two reads, then 30 failed
/// calls per read.
fn api_metrics(n: usize) -> String {
    let ok = 20 * n.min(1) as u64 + 20;
    let errors = 30 * n.saturating_sub(1) as u64;
    serde_json::json!({
        "service": "api", "replica": "api-0", "instance": 1, "uptime_s": 1.0, "workers": 4,
        "busy_s": 0.0, "queue_area_s": 0.0, "busy_now": 0, "waiting_now": 0, "memory_bytes": 0,
        "received": [],
        "sent": [{ "service": "back_end", "endpoint": "GET /", "ok": ok,
                   "errors": { "timeout": errors }, "latency": { "buckets": [[1000, ok + errors]] } }]
    })
    .to_string()
}

#[tokio::test]
async fn an_abort_sees_windows_read_together_and_does_not_hold_up_the_schedule() {
    // `api`'s second metrics read (window 1's, from 2.0 s) takes 2.4 s: windows 2 and 3 end
    // meanwhile and are read together after it, their 30 failed calls to `back_end` all in
    // window 3's figures. Judged as one stretch of 2 s they hold the abort condition, which
    // fires at 4.0 s, as it would had each window been read alone. (Judged window by window,
    // window 2 has no call and restarts the count: the abort comes a window late, at 5.0 s.)
    // And the fault due at 2.5 s, while that read is unanswered, goes out without waiting
    // for it (a runner whose abort check waits for every read sends it after the read).
    let plan = plan_with_an_agent_side_abort();
    let mut loadgen = Recorder::new(&plan, "loadgen", 1);
    for k in 0..60 {
        loadgen.record(2, 0.05 + k as f64 * 0.1, 0.004, Ok(()));
    }
    let output = format!(
        "{}\n",
        serde_json::to_string(&loadgen.finish(6.0, 6.5, None)).unwrap()
    );
    let reads = Arc::new(AtomicUsize::new(0));
    let slow_answered = Arc::new(AtomicUsize::new(0));
    let slow_answered_at_install: Arc<Mutex<Option<usize>>> = Arc::default();
    let (count, answered, seen) = (
        reads.clone(),
        slow_answered.clone(),
        slow_answered_at_install.clone(),
    );
    let h = harness_for(output.clone(), move |c| {
        c.job = Arc::new(move |_| JobOutcome {
            runs_for: Duration::from_millis(6500),
            logs: output.clone(),
            succeeded: true,
        });
        c.proxy_async = Some(Arc::new(move |r: ProxyRequest| {
            let (count, answered, seen) = (count.clone(), answered.clone(), seen.clone());
            Box::pin(async move {
                if r.method == "POST" && r.path == "/_chaos/faults" {
                    seen.lock()
                        .unwrap()
                        .get_or_insert(answered.load(Ordering::SeqCst));
                }
                if r.method == "GET" && r.path == "/_chaos/metrics" && r.name.starts_with("api-") {
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let body = api_metrics(n);
                    if n == 1 {
                        tokio::time::sleep(Duration::from_millis(2400)).await;
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    return ProxyResponse { status: 200, body };
                }
                ProxyResponse {
                    status: 200,
                    body: "{}".into(),
                }
            })
        }));
    })
    .await;
    let recording = run_until(&plan, &h.options(), never()).await.unwrap();
    let progress = h.progress.lock().unwrap().join("\n");
    assert_eq!(
        *slow_answered_at_install.lock().unwrap(),
        Some(0),
        "the fault due at 2.5 s waited for the slow read:\n{progress}"
    );
    assert!(
        progress.contains("took longer than a window"),
        "the windows were read together:\n{progress}"
    );
    let aborted = recording.aborted.expect("the abort fired");
    assert_eq!(aborted.at_s, 4.0, "{progress}");
}

#[tokio::test]
async fn a_load_generator_pod_gone_before_the_drain_ends_does_not_hold_up_the_run_end() {
    // The load generator finishes half a second after `duration` and its Pod exits; the drain
    // goes on for five windows more, each with an abort check that asks the load generator
    // for its windows (the live view's observer is set, as `chaos run` sets it, so it asks
    // without `abort when`). Through the Pod proxy, the exited Pod is refused only after 10 s,
    // as the real API server's dial timeout does. A runner that waits out each such ask sees
    // the Job's completion only after the drain's checks, about 10 s each (over 50 s here;
    // on the testbed ms-ref-1 shortened ran past its deadline); one that bounds the ask and
    // then leaves the load generator alone ends a few seconds after it.
    let mut plan = plan();
    plan.scenario.window_s = 0.5;
    plan.scenario.drain_s = 3.0;
    let mut loadgen = Recorder::new(&plan, "loadgen", 1);
    for k in 0..20 {
        loadgen.record(2, 0.05 + k as f64 * 0.1, 0.004, Ok(()));
    }
    let output = format!(
        "{}\n",
        serde_json::to_string(&loadgen.finish(2.0, 2.5, None)).unwrap()
    );
    let h = harness_for(output, |c| {
        c.exited_pod_proxy_delay = Some(Duration::from_secs(10));
    })
    .await;
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    let options = Options {
        observer: Some(chaos_report::live::Observer::new(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
        })),
        ..h.options()
    };
    // Setup, the 5 s plan and cleanup take a few seconds: 20 s leaves room on a loaded machine
    // and is less than two of the stalled asks after the Pod's exit at 2.5 s.
    let run = tokio::time::timeout(Duration::from_secs(20), run_until(&plan, &options, never()));
    let outcome = run.await;
    let progress = h.progress.lock().unwrap().join("\n");
    outcome
        .unwrap_or_else(|_| panic!("the run did not end within 20 s:\n{progress}"))
        .unwrap();
    assert!(
        progress.contains("the load generator finished"),
        "{progress}"
    );
    assert!(seen.load(Ordering::SeqCst) > 0, "the observer saw windows");
    assert!(h.namespace_gone().await, "cleaned up:\n{progress}");
}
