//! Agents served in-process on loopback: steps, calls, faults and the control API for real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chaos_agent::{FaultRequest, MetricsSnapshot, Running};
use chaos_plan::*;
use chaos_report::Cause;

mod common;
use common::{client, endpoint, on, plan, service, work};

const TOKEN: &str = "secret";

fn call(service: &str, endpoint: &str, timeout_s: Option<f64>, retries: u32) -> Step {
    let mut c = Call {
        timeout_s,
        ..common::call(service, endpoint)
    };
    c.retry.retries = retries;
    Step::Call(c)
}

/// Sends one request to `endpoint`; returns status, cause header and seconds taken.
async fn hit(r: &Running, endpoint: &str) -> (u16, Option<String>, f64) {
    let t = Instant::now();
    let (status, cause) = common::hit(r, endpoint, 0).await;
    (status, cause, t.elapsed().as_secs_f64())
}

async fn metrics(r: &Running) -> MetricsSnapshot {
    common::metrics_with(r, TOKEN).await
}

async fn install(r: &Running, id: &str, action: Action) -> u16 {
    common::install_with(r, TOKEN, id, action).await
}

#[tokio::test]
async fn work_and_calls_run_for_real_and_are_counted_on_both_sides() {
    let p = plan(vec![
        service(
            "front",
            4,
            None,
            vec![endpoint(
                "GET /a",
                vec![work(0.02), call("back", "q", Some(1.0), 0)],
            )],
        ),
        service("back", 4, None, vec![endpoint("q", vec![work(0.03)])]),
    ]);
    let back = start(&p, "back", &[]).await;
    let front = start(&p, "front", &[("back", &back)]).await;
    let (status, _, took) = hit(&front, "GET /a").await;
    assert_eq!(status, 200);
    assert!(took >= 0.05, "work 20ms + call 30ms, took {took}");
    let f = metrics(&front).await;
    assert_eq!(f.received[0].stats.ok, 1);
    assert_eq!(
        (
            f.sent[0].service.as_str(),
            f.sent[0].endpoint.as_str(),
            f.sent[0].stats.ok
        ),
        ("back", "q", 1)
    );
    let b = metrics(&back).await;
    assert_eq!(b.received[0].endpoint, "q");
    assert!(
        f.busy_s >= 0.05 && b.busy_s >= 0.03,
        "{} {}",
        f.busy_s,
        b.busy_s
    );
}

#[tokio::test]
async fn timeouts_and_retries_count_every_attempt() {
    let p = plan(vec![
        service(
            "front",
            4,
            None,
            vec![endpoint(
                "GET /a",
                vec![call("back", "slow", Some(0.05), 2)],
            )],
        ),
        service("back", 8, None, vec![endpoint("slow", vec![work(0.3)])]),
    ]);
    let back = start(&p, "back", &[]).await;
    let front = start(&p, "front", &[("back", &back)]).await;
    let (status, cause, took) = hit(&front, "GET /a").await;
    assert_eq!((status, cause.as_deref()), (500, Some("downstream")));
    assert!(took >= 0.15, "3 attempts of 50ms, took {took}");
    let f = metrics(&front).await;
    assert_eq!(f.sent[0].stats.errors.get(&Cause::Timeout), Some(&3));
}

#[tokio::test]
async fn wire_latency_errors_and_loss_faults() {
    let p = plan(vec![service(
        "s",
        2,
        None,
        vec![endpoint("GET /", vec![work(0.0)])],
    )]);
    let s = start(&p, "s", &[]).await;
    assert_eq!(
        install(
            &s,
            "lat",
            Action::Latency {
                target: on("s"),
                delay: Dist::Constant { value_s: 0.1 }
            }
        )
        .await,
        201
    );
    let (status, _, took) = hit(&s, "GET /").await;
    assert_eq!(status, 200);
    assert!(took >= 0.1, "{took}");
    assert_eq!(
        install(
            &s,
            "err",
            Action::Errors {
                target: on("s"),
                ratio: 1.0,
                status: 503
            }
        )
        .await,
        201
    );
    let (status, cause, _) = hit(&s, "GET /").await;
    assert_eq!((status, cause.as_deref()), (503, Some("injected")));
    let del = client()
        .delete(format!("http://{}/_chaos/faults", s.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status().as_u16(), 200);
    install(
        &s,
        "loss",
        Action::Loss {
            target: on("s"),
            ratio: 1.0,
        },
    )
    .await;
    let lost = tokio::time::timeout(Duration::from_millis(300), hit(&s, "GET /")).await;
    assert!(lost.is_err(), "a lost request is never answered");
}

#[tokio::test]
async fn partition_fails_only_the_cut_calls() {
    let p = plan(vec![
        service(
            "front",
            4,
            None,
            vec![
                endpoint("GET /a", vec![call("a", "x", Some(1.0), 0)]),
                endpoint("GET /b", vec![call("b", "x", Some(1.0), 0)]),
            ],
        ),
        service("a", 1, None, vec![endpoint("x", vec![work(0.0)])]),
        service("b", 1, None, vec![endpoint("x", vec![work(0.0)])]),
    ]);
    let a = start(&p, "a", &[]).await;
    let b = start(&p, "b", &[]).await;
    let front = start(&p, "front", &[("a", &a), ("b", &b)]).await;
    install(
        &front,
        "cut",
        Action::Partition {
            a: vec!["front".into()],
            b: vec!["a".into()],
        },
    )
    .await;
    assert_eq!(hit(&front, "GET /a").await.0, 500);
    assert_eq!(hit(&front, "GET /b").await.0, 200);
    let f = metrics(&front).await;
    let to_a = f.sent.iter().find(|s| s.service == "a").unwrap();
    assert_eq!(to_a.stats.errors.get(&Cause::Connection), Some(&1));
}

#[tokio::test]
async fn a_full_queue_rejects_with_503() {
    let p = plan(vec![service(
        "s",
        1,
        Some(1),
        vec![endpoint("GET /", vec![work(0.3)])],
    )]);
    let s = start(&p, "s", &[]).await;
    let results = futures::future::join_all((0..4).map(|_| hit(&s, "GET /"))).await;
    let rejected = results
        .iter()
        .filter(|r| r.0 == 503 && r.1.as_deref() == Some("rejected"))
        .count();
    assert_eq!(rejected, 2, "1 served, 1 waiting, 2 rejected: {results:?}");
}

#[tokio::test]
async fn control_api_refuses_without_the_token_and_changes_nothing() {
    let p = plan(vec![service(
        "s",
        1,
        None,
        vec![endpoint("GET /", vec![work(0.0)])],
    )]);
    let s = start(&p, "s", &[]).await;
    let body = FaultRequest {
        id: "e".into(),
        action: Action::Errors {
            target: on("s"),
            ratio: 1.0,
            status: 500,
        },
        peers: vec![],
    };
    let c = client();
    let url = format!("http://{}/_chaos/faults", s.addr);
    assert_eq!(
        c.post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        c.post(&url)
            .bearer_auth("wrong")
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        c.get(format!("http://{}/_chaos/metrics", s.addr))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        c.get(format!("http://{}/_chaos/health", s.addr))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let bad = c
        .get(format!("http://{}/_chaos/faults", s.addr))
        .header("x-chaos-token", "wrong");
    assert_eq!(bad.send().await.unwrap().status().as_u16(), 401);
    assert!(s.agent.faults.list().is_empty());
    assert_eq!(hit(&s, "GET /").await.0, 200);
    // The token in `x-chaos-token` (through the Kubernetes API proxy) is accepted.
    let ok = c
        .post(&url)
        .header("x-chaos-token", TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 201);
    assert_eq!(hit(&s, "GET /").await.0, 500);
}

#[tokio::test]
async fn closed_loop_users_wait_for_each_answer() {
    let mut p = plan(vec![service(
        "s",
        8,
        None,
        vec![endpoint("GET /", vec![work(0.05)])],
    )]);
    p.workloads = vec![Workload {
        name: "u".into(),
        target: EndpointRef {
            service: "s".into(),
            endpoint: "GET /".into(),
        },
        load: Load::Closed {
            users_from: 4,
            users_to: 4,
            ramp_start_s: 0.0,
            ramp_s: 0.0,
            think: Dist::ZERO,
        },
        timeout_s: None,
        priority: 0,
    }];
    let s = start(&p, "s", &[]).await;
    let targets: BTreeMap<String, Vec<String>> =
        [("s".to_string(), vec![format!("http://{}", s.addr)])].into();
    let rec = chaos_agent::loadgen::run_to_recording(std::sync::Arc::new(p), &targets, 1)
        .await
        .unwrap();
    let i = rec
        .subject_index(&chaos_report::SubjectKey::Workload {
            workload: "u".into(),
        })
        .unwrap();
    let sent: u64 = rec.windows.iter().map(|w| w.subjects[i].requests()).sum();
    // Each request takes at least 50ms and a user never has two in flight: at most
    // 4 users × 1s / 50ms, and every user sends at least once.
    assert!((4..=80).contains(&sent), "{sent}");
    let received: u64 = s
        .agent
        .metrics
        .snapshot(0)
        .received
        .iter()
        .map(|r| r.stats.requests())
        .sum();
    assert_eq!(received, sent);
}

#[tokio::test]
async fn open_loop_latency_counts_from_the_intended_send_time() {
    // One worker, 100ms of work, 20 requests/s: the queue grows, and the workload latency
    // (from the planned send time) must include the wait, never hide it.
    let mut p = plan(vec![service(
        "s",
        1,
        None,
        vec![endpoint("GET /", vec![work(0.1)])],
    )]);
    p.scenario.duration_s = 1.0;
    p.scenario.drain_s = 5.0;
    p.workloads = vec![Workload {
        name: "w".into(),
        target: EndpointRef {
            service: "s".into(),
            endpoint: "GET /".into(),
        },
        load: Load::Open {
            rate: vec![RatePiece {
                start_s: 0.0,
                end_s: 1.0,
                from_per_s: 20.0,
                to_per_s: 20.0,
            }],
            spikes: vec![],
            arrivals: Arrivals::Uniform,
        },
        timeout_s: None,
        priority: 0,
    }];
    let s = start(&p, "s", &[]).await;
    let targets: BTreeMap<String, Vec<String>> =
        [("s".to_string(), vec![format!("http://{}", s.addr)])].into();
    let rec = chaos_agent::loadgen::run_to_recording(std::sync::Arc::new(p), &targets, 1)
        .await
        .unwrap();
    let i = rec
        .subject_index(&chaos_report::SubjectKey::Workload {
            workload: "w".into(),
        })
        .unwrap();
    let mut l = chaos_report::Latency::new();
    let mut n = 0;
    for w in &rec.windows {
        l.add_sparse(&w.subjects[i].latency);
        n += w.subjects[i].requests();
    }
    assert_eq!(n, 19, "uniform arrivals at 1/20 s within [0, 1)");
    // The last of 19 requests waits for the 18 before it: at least 19 × 100ms − 0.95s.
    assert!(l.max_s().unwrap() >= 1.9 - 0.95, "{:?}", l.max_s());
}

#[tokio::test]
async fn the_circuit_breaker_opens_and_fails_calls_at_once() {
    let mut c = Call {
        timeout_s: Some(1.0),
        circuit_breaker: Some(CircuitBreaker {
            failure_ratio: 0.5,
            window_s: 10.0,
            min_requests: 4,
            open_s: 30.0,
        }),
        ..common::call("back", "q")
    };
    c.retry.retries = 3; // never retried once the breaker is open
    let p = plan(vec![
        service(
            "front",
            4,
            None,
            vec![endpoint("GET /a", vec![Step::Call(c)])],
        ),
        service("back", 4, None, vec![endpoint("q", vec![work(0.0)])]),
    ]);
    let back = start(&p, "back", &[]).await;
    let front = start(&p, "front", &[("back", &back)]).await;
    install(
        &back,
        "err",
        Action::Errors {
            target: on("back"),
            ratio: 1.0,
            status: 500,
        },
    )
    .await;
    // First request: 4 attempts fail (1 + 3 retries), which opens the breaker.
    assert_eq!(hit(&front, "GET /a").await.0, 500);
    for _ in 0..3 {
        assert_eq!(hit(&front, "GET /a").await.0, 500);
    }
    let f = metrics(&front).await;
    let sent = &f.sent[0].stats;
    assert_eq!(sent.errors.get(&Cause::Injected), Some(&4), "{sent:?}");
    assert_eq!(sent.errors.get(&Cause::CircuitOpen), Some(&3), "{sent:?}");
    let b = metrics(&back).await;
    assert_eq!(
        b.received[0].stats.requests(),
        4,
        "open breaker sends nothing"
    );
}

/// A real agent of `service` with this file's token.
async fn start(plan: &Plan, service: &str, peers: &[(&str, &Running)]) -> Running {
    common::start(plan, service, peers, TOKEN).await
}
