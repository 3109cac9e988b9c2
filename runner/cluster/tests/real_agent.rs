//! A cluster run whose "Pods" are a real `chaos agent` and the real load generator, in-process
//! on loopback, behind the fake API server: the fault really reaches the agent through the
//! Pod proxy (token in `X-Chaos-Token`, since the API server consumes `Authorization`), and
//! the recording is what the real load generator printed.
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
                },
                ratio: 1.0,
                status: 503,
            }],
        }],
        expectations: vec![],
        aborts: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_agent_gets_the_fault_and_the_real_loadgen_sees_it() {
    let view: Arc<OnceLock<FakeView>> = Arc::new(OnceLock::new());
    let agent_url: Arc<tokio::sync::OnceCell<(String, String)>> =
        Arc::new(tokio::sync::OnceCell::new());

    // The "kubelet": starts the agent with the token from the run's Secret, as the Pod would get it.
    let start_agent = {
        let (view, agent_url) = (view.clone(), agent_url.clone());
        move || {
            let (view, agent_url) = (view.clone(), agent_url.clone());
            async move {
                agent_url
                    .get_or_init(|| async {
                        let token = view
                            .get()
                            .unwrap()
                            .secret(NS, "chaos-token", "token")
                            .unwrap();
                        let running = chaos_agent::start(chaos_agent::AgentConfig {
                            plan: plan(),
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
    let config = FakeConfig {
        ready_after: Duration::from_millis(50),
        proxy_async: Some(Arc::new(move |r: ProxyRequest| {
            let start = proxy_start.clone();
            Box::pin(async move {
                let (url, _) = start().await;
                let client = reqwest::Client::new();
                let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
                let mut request = client
                    .request(method, format!("{url}{}", r.path))
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
            })
        })),
        job_async: Some(Arc::new(move |_job| {
            let start = start_agent.clone();
            Box::pin(async move {
                let (url, _) = start().await;
                let targets = BTreeMap::from([("api".to_string(), vec![url])]);
                let recording =
                    chaos_agent::loadgen::run_to_recording(Arc::new(plan()), &targets, 1)
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
    let options = Options {
        seed: 1,
        kubeconfig: Some(server.kubeconfig().unwrap()),
        run_id: Some("r1".into()),
        rollout_timeout: Some(Duration::from_secs(20)),
        ..Options::default()
    };
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
    assert!(
        proxied
            .iter()
            .any(|r| r.method == "DELETE" && r.path == "/_chaos/faults/broken-0-0")
    );
    let (url, token) = agent_url.get().unwrap().clone();
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
