//! A cluster run whose "Pods" are a real `chaos agent` and the real load generator, in-process
//! on loopback, behind the fake API server: the fault really reaches the agent through the
//! Pod proxy (token in `X-Chaos-Token`, since the API server consumes `Authorization`), and
//! the recording is what the real load generator printed. The Job's Pod runs the real
//! `chaos loadgen --listen` code (`chaos_cluster::pod`): time 0 and the windows watched for
//! `abort when` come from its status API, through the Pod proxy, as on a cluster.
//! One agent serves every Pod of the service: Pods, kills and Services stay fake here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chaos_cluster::fake::{
    FakeApiServer, FakeConfig, FakeView, JobOutcome, ProxyRequest, ProxyResponse,
};
use chaos_cluster::{Options, run_until};
use chaos_plan::*;
use chaos_report::{Cause, SubjectKey};

const NS: &str = "chaos-real-agent-r1";

fn plan() -> Plan {
    plan_with(vec![])
}

fn plan_with(aborts: Vec<Abort>) -> Plan {
    let work = Step::Work {
        dist: Dist::Constant { value_s: 0.001 },
    };
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "real agent".into(),
            duration_s: 3.0,
            warmup_s: 0.0,
            seed: 1,
            window_s: 1.0,
            drain_s: 1.0,
        },
        params: vec![],
        services: vec![chaos_plan::Service {
            name: "api".into(),
            replicas: Replicas::Fixed { count: 1 },
            workers: 8,
            queue: None,
            rate_limit_per_s: None,
            restart_s: 1.0,
            balance: Balance::RoundRobin,
            latency: Dist::Constant { value_s: 0.001 },
            endpoints: vec![Endpoint {
                name: "GET /".into(),
                steps: vec![work],
            }],
            discipline: Default::default(),
            eject: None,
            health_check: None,
        }],
        workloads: vec![Workload {
            name: "users".into(),
            target: EndpointRef {
                service: "api".into(),
                endpoint: "GET /".into(),
            },
            load: Load::Open {
                rate: vec![RatePiece {
                    start_s: 0.0,
                    end_s: 3.0,
                    from_per_s: 40.0,
                    to_per_s: 40.0,
                }],
                spikes: vec![],
                arrivals: Arrivals::Uniform,
            },
            timeout_s: Some(1.0),
            priority: 0,
        }],
        faults: vec![Fault {
            name: "broken".into(),
            occurrences: vec![Occurrence {
                start_s: 1.0,
                end_s: 2.0,
            }],
            active: vec![Interval {
                start_s: 1.0,
                end_s: 2.0,
            }],
            actions: vec![Action::Errors {
                target: Target {
                    service: "api".into(),
                    endpoint: None,
                    replicas: None,
                },
                ratio: 1.0,
                status: 503,
            }],
        }],
        expectations: vec![],
        aborts,
    }
}

/// Forwards a proxied request to a real server on loopback.
async fn forward(url: &str, r: &ProxyRequest) -> ProxyResponse {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
    let query = if r.query.is_empty() {
        String::new()
    } else {
        format!("?{}", r.query)
    };
    let mut request = client
        .request(method, format!("{url}{}{query}", r.path))
        .body(r.body.clone());
    for (k, v) in &r.headers {
        if k == "x-chaos-token" || k == "content-type" {
            request = request.header(k, v);
        }
    }
    match request.send().await {
        Ok(resp) => ProxyResponse {
            status: resp.status().as_u16(),
            body: resp.text().await.unwrap_or_default(),
        },
        Err(e) => ProxyResponse {
            status: 502,
            body: e.to_string(),
        },
    }
}

/// A fake cluster whose agent Pods are one real agent and whose Job Pod is the real
/// in-cluster load generator; returns the server and the agent's URL and token.
async fn cluster(plan: Plan) -> (FakeApiServer, Arc<tokio::sync::OnceCell<(String, String)>>) {
    let view: Arc<OnceLock<FakeView>> = Arc::new(OnceLock::new());
    let agent_url: Arc<tokio::sync::OnceCell<(String, String)>> =
        Arc::new(tokio::sync::OnceCell::new());
    let loadgen_url: Arc<OnceLock<String>> = Arc::new(OnceLock::new());

    // The "kubelet": starts the agent with the token from the run's Secret, as the Pod would get it.
    let start_agent = {
        let (view, agent_url, plan) = (view.clone(), agent_url.clone(), plan.clone());
        move || {
            let (view, agent_url, plan) = (view.clone(), agent_url.clone(), plan.clone());
            async move {
                agent_url
                    .get_or_init(|| async {
                        let token = view
                            .get()
                            .unwrap()
                            .secret(NS, "chaos-token", "token")
                            .unwrap();
                        let running = chaos_agent::start(chaos_agent::AgentConfig {
                            plan,
                            service: "api".into(),
                            replica: "api-0".into(),
                            listen: "127.0.0.1:0".parse().unwrap(),
                            token: Some(token.clone()),
                            peers: BTreeMap::new(),
                        })
                        .await
                        .unwrap();
                        (format!("http://{}", running.addr), token)
                    })
                    .await
                    .clone()
            }
        }
    };
    let proxy_start = start_agent.clone();
    let proxy_loadgen = loadgen_url.clone();
    let config = FakeConfig {
        ready_after: Duration::from_millis(50),
        proxy_async: Some(Arc::new(move |r: ProxyRequest| {
            let start = proxy_start.clone();
            let loadgen = proxy_loadgen.clone();
            Box::pin(async move {
                if r.name.starts_with("loadgen") {
                    return match loadgen.get() {
                        Some(url) => forward(url, &r).await,
                        None => ProxyResponse {
                            status: 503,
                            body: "error trying to reach service: connection refused".into(),
                        },
                    };
                }
                let (url, _) = start().await;
                forward(&url, &r).await
            })
        })),
        job_async: Some(Arc::new(move |_job| {
            let start = start_agent.clone();
            let (loadgen_url, plan) = (loadgen_url.clone(), plan.clone());
            Box::pin(async move {
                let (url, token) = start().await;
                let targets = BTreeMap::from([("api".to_string(), vec![url])]);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                loadgen_url
                    .set(format!("http://{}", listener.local_addr().unwrap()))
                    .unwrap();
                let recording = chaos_cluster::pod::run_loadgen(
                    Arc::new(plan),
                    &targets,
                    1,
                    listener,
                    Some(token),
                    Duration::from_secs(10),
                    |_| {},
                )
                .await
                .unwrap();
                JobOutcome {
                    runs_for: Duration::ZERO,
                    logs: format!("{}\n", serde_json::to_string(&recording).unwrap()),
                    succeeded: true,
                }
            })
        })),
        ..FakeConfig::default()
    };
    let server = FakeApiServer::start(config).await.unwrap();
    view.set(server.view()).ok().unwrap();
    (server, agent_url)
}

fn options(server: &FakeApiServer) -> Options {
    Options {
        seed: 1,
        kubeconfig: Some(server.kubeconfig().unwrap()),
        run_id: Some("r1".into()),
        rollout_timeout: Some(Duration::from_secs(20)),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agent_gets_the_fault_and_the_real_loadgen_sees_it() {
    let (server, agent_url) = cluster(plan()).await;
    let options = options(&server);
    let recording = run_until(&plan(), &options, std::future::pending())
        .await
        .unwrap();

    let users = recording
        .subject_index(&SubjectKey::Workload {
            workload: "users".into(),
        })
        .unwrap();
    let ok: u64 = recording.windows.iter().map(|w| w.subjects[users].ok).sum();
    let injected: u64 = recording
        .windows
        .iter()
        .map(|w| w.subjects[users].errors[Cause::Injected.index()])
        .sum();
    let other: u64 = recording
        .windows
        .iter()
        .map(|w| w.subjects[users].error_count())
        .sum::<u64>()
        - injected;
    assert!(ok > 0, "requests outside the fault succeed");
    assert!(
        injected > 0,
        "the fault reached the agent: {:?}",
        recording
            .windows
            .iter()
            .map(|w| w.subjects[users].errors_by_cause())
            .collect::<Vec<_>>()
    );
    assert_eq!(other, 0);
    // The agent's own metrics were read through the proxy at each window's end.
    assert!(
        server
            .proxied()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/_chaos/metrics")
    );
    let api = recording.service_index("api").unwrap();
    assert!(
        recording
            .windows
            .iter()
            .any(|w| w.services[api].utilisation > 0.0),
        "busy time measured"
    );

    // Installed with the token through the proxy, then removed: the agent holds no fault.
    let proxied = server.proxied();
    assert!(
        proxied
            .iter()
            .any(|r| r.method == "POST" && r.path == "/_chaos/faults")
    );
    assert_fault_removed(&proxied, agent_url.get().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_stops_the_real_load_generator_and_reverts_the_fault() {
    // The fault fails every request from 1 s to 2 s: the abort fires when window [1, 2) closes.
    let plan = plan_with(vec![Abort {
        text: "abort when error_rate(users) > 50% for 1s".into(),
        subject: Subject::Workload {
            workload: "users".into(),
        },
        metric: Metric::ErrorRate,
        op: Comparison::Gt,
        threshold: 0.5,
        for_s: 1.0,
    }]);
    let (server, agent_url) = cluster(plan.clone()).await;
    let recording = run_until(&plan, &options(&server), std::future::pending())
        .await
        .unwrap();
    let aborted = recording.aborted.clone().expect("the abort fired");
    assert_eq!(aborted.at_s, 2.0);
    assert_eq!(recording.ended_s, 2.0);
    // The load generator was stopped in the next window (the window closes, settles 0.25 s,
    // and is read at the next poll): fewer than the 120 requests of the whole plan were sent.
    let users = recording
        .subject_index(&SubjectKey::Workload {
            workload: "users".into(),
        })
        .unwrap();
    let requests: Vec<u64> = recording
        .windows
        .iter()
        .map(|w| w.subjects[users].requests())
        .collect();
    assert!(
        requests.iter().sum::<u64>() < 120,
        "stopped after the abort: {requests:?}"
    );
    let proxied = server.proxied();
    assert!(
        proxied
            .iter()
            .any(|r| r.method == "POST" && r.path == "/_chaos/loadgen/stop"),
        "the stop went through the Pod proxy"
    );
    // Reverted at the abort, and the agent holds no fault.
    assert_fault_removed(&proxied, agent_url.get().unwrap()).await;
}

/// The runner removed the fault through the proxy, and the real agent holds none.
async fn assert_fault_removed(
    proxied: &[chaos_cluster::fake::ProxyRequest],
    agent: &(String, String),
) {
    assert!(
        proxied
            .iter()
            .any(|r| r.method == "DELETE" && r.path == "/_chaos/faults/broken-0-0")
    );
    let (url, token) = agent;
    let faults: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/_chaos/faults"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults, serde_json::json!([]));
}
