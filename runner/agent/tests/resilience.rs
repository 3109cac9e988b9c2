//! Issue 14 in real agents on loopback: priorities through the wait queue (shedding, LIFO),
//! priority carried into calls, `send`, outlier ejection and the health check path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaos_agent::{MetricsSnapshot, Running};
use chaos_plan::*;
use chaos_report::Cause;

mod common;
use common::{client, endpoint, hit, on, plan, service, work};

const TOKEN: &str = "secret";

fn call(service: &str, endpoint: &str, priority: Option<u8>) -> Call {
    Call {
        timeout_s: Some(5.0),
        priority,
        ..common::call(service, endpoint)
    }
}

async fn start(plan: &Plan, service: &str, peers: &[(&str, &Running)]) -> Running {
    common::start(plan, service, peers, TOKEN).await
}

async fn metrics(r: &Running) -> MetricsSnapshot {
    common::metrics_with(r, TOKEN).await
}

/// Waits until the agent has `busy` requests in service and `waiting` queued.
async fn until(r: &Running, busy: u32, waiting: u32) {
    for _ in 0..500 {
        let m = metrics(r).await;
        if m.busy_now == busy && m.waiting_now == waiting {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("agent never reached {busy} busy and {waiting} waiting");
}

async fn install(r: &Running, id: &str, action: Action) {
    assert_eq!(common::install_with(r, TOKEN, id, action).await, 201);
}

/// Starts `label`'s request now, in the background; its label goes to `done` when answered.
fn spawn_hit(
    r: &Running,
    endpoint: &'static str,
    priority: u8,
    label: &'static str,
    done: &Arc<Mutex<Vec<&'static str>>>,
) -> tokio::task::JoinHandle<(u16, Option<String>)> {
    let addr = r.addr;
    let done = done.clone();
    tokio::spawn(async move {
        let resp =
            chaos_agent::exec::outbound(&client(), &format!("http://{addr}"), endpoint, priority)
                .send()
                .await
                .unwrap();
        let status = resp.status().as_u16();
        let cause = resp
            .headers()
            .get("x-chaos-cause")
            .map(|v| v.to_str().unwrap().to_string());
        done.lock().unwrap().push(label);
        (status, cause)
    })
}

#[tokio::test]
async fn a_full_queue_sheds_the_lower_priority_waiting_request() {
    let p = plan(vec![service(
        "s",
        1,
        Some(1),
        vec![endpoint("GET /", vec![work(0.2)])],
    )]);
    let s = start(&p, "s", &[]).await;
    let done = Arc::new(Mutex::new(Vec::new()));
    let busy = spawn_hit(&s, "GET /", 0, "busy", &done);
    until(&s, 1, 0).await;
    let low = spawn_hit(&s, "GET /", 0, "low", &done);
    until(&s, 1, 1).await;
    // The queue is full with a priority-0 request: a priority-0 arrival is rejected...
    assert_eq!(
        hit(&s, "GET /", 0).await,
        (503, Some("rejected".to_string()))
    );
    // ...a priority-3 one takes the low one's place, which is shed.
    let high = spawn_hit(&s, "GET /", 3, "high", &done);
    assert_eq!(low.await.unwrap(), (503, Some("shed".to_string())));
    assert_eq!(high.await.unwrap().0, 200);
    assert_eq!(busy.await.unwrap().0, 200);
    let m = metrics(&s).await;
    let r = &m.received[0].stats;
    assert_eq!(r.errors.get(&Cause::Shed), Some(&1));
    assert_eq!(r.errors.get(&Cause::Rejected), Some(&1));
    assert_eq!(r.ok, 2);
}

#[tokio::test]
async fn higher_priorities_are_served_first_and_lifo_serves_the_newest() {
    for (discipline, expected) in [
        (Discipline::Fifo, ["p5", "a", "b", "c"]),
        (Discipline::Lifo, ["p5", "c", "b", "a"]),
    ] {
        let mut svc = service("s", 1, None, vec![endpoint("GET /", vec![work(0.05)])]);
        svc.discipline = discipline;
        let s = start(&plan(vec![svc]), "s", &[]).await;
        let done = Arc::new(Mutex::new(Vec::new()));
        let mut all = vec![spawn_hit(&s, "GET /", 0, "busy", &done)];
        until(&s, 1, 0).await;
        for (n, label) in ["a", "b", "c"].into_iter().enumerate() {
            all.push(spawn_hit(&s, "GET /", 0, label, &done));
            until(&s, 1, n as u32 + 1).await;
        }
        all.push(spawn_hit(&s, "GET /", 5, "p5", &done));
        until(&s, 1, 4).await;
        for h in all {
            assert_eq!(h.await.unwrap().0, 200);
        }
        let order = done.lock().unwrap().clone();
        assert_eq!(order[1..], expected, "{discipline:?}: {order:?}");
    }
}

#[tokio::test]
async fn calls_carry_the_priority_they_inherited_unless_they_set_one() {
    let p = plan(vec![
        service(
            "front",
            8,
            None,
            vec![
                endpoint("inherit", vec![Step::Call(call("back", "q", None))]),
                endpoint("own", vec![Step::Call(call("back", "q", Some(4)))]),
            ],
        ),
        service("back", 1, None, vec![endpoint("q", vec![work(0.05)])]),
    ]);
    let back = start(&p, "back", &[]).await;
    let front = start(&p, "front", &[("back", &back)]).await;
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut all = vec![spawn_hit(&back, "q", 0, "busy", &done)];
    until(&back, 1, 0).await;
    all.push(spawn_hit(&front, "inherit", 0, "inherit-0", &done));
    until(&back, 1, 1).await;
    all.push(spawn_hit(&front, "inherit", 2, "inherit-2", &done));
    until(&back, 1, 2).await;
    all.push(spawn_hit(&front, "own", 0, "own-4", &done));
    until(&back, 1, 3).await;
    for h in all {
        assert_eq!(h.await.unwrap().0, 200);
    }
    let order = done.lock().unwrap().clone();
    assert_eq!(order, ["busy", "own-4", "inherit-2", "inherit-0"]);
}

#[tokio::test]
async fn a_send_ends_the_step_at_once_and_the_callee_counts_it() {
    let p = plan(vec![
        service(
            "front",
            4,
            None,
            vec![endpoint(
                "GET /a",
                vec![Step::Send {
                    service: "mailer".into(),
                    endpoint: "mail".into(),
                }],
            )],
        ),
        service("mailer", 4, None, vec![endpoint("mail", vec![work(1.0)])]),
    ]);
    let mailer = start(&p, "mailer", &[]).await;
    let front = start(&p, "front", &[("mailer", &mailer)]).await;
    for _ in 0..3 {
        assert_eq!(hit(&front, "GET /a", 0).await.0, 200);
    }
    // The caller had its three answers before the mailer finished any of the sends.
    let m = metrics(&mailer).await;
    assert!(m.received.iter().all(|r| r.stats.requests() == 0), "{m:?}");
    let mut served = 0;
    for _ in 0..500 {
        served = metrics(&mailer)
            .await
            .received
            .first()
            .map_or(0, |r| r.stats.ok);
        if served == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(served, 3, "the mailer serves every send");
    // The caller's figures for the callee endpoint count the sends once they are answered.
    let f = metrics(&front).await;
    let sent = f.sent.iter().find(|s| s.endpoint == "mail").unwrap();
    assert_eq!(sent.stats.ok, 3);
}

#[tokio::test]
async fn a_caller_ejects_the_replica_that_keeps_failing() {
    let mut outcomes = Vec::new();
    for eject in [None, Some(5)] {
        let mut back = service("back", 4, None, vec![endpoint("q", vec![work(0.0)])]);
        back.replicas = Replicas::Fixed { count: 3 };
        back.eject = eject.map(|after| Eject {
            after,
            for_s: 30.0,
            max_fraction: 0.5,
        });
        let p = plan(vec![
            service(
                "front",
                4,
                None,
                vec![endpoint(
                    "GET /a",
                    vec![Step::Call(call("back", "q", None))],
                )],
            ),
            back,
        ]);
        let b0 = start(&p, "back", &[]).await;
        let b1 = start(&p, "back", &[]).await;
        let b2 = start(&p, "back", &[]).await;
        install(
            &b1,
            "bad",
            Action::Errors {
                target: on("back"),
                ratio: 1.0,
                status: 503,
            },
        )
        .await;
        let front = start(&p, "front", &[("back", &b0), ("back", &b1), ("back", &b2)]).await;
        let mut failed = 0;
        for _ in 0..90 {
            if hit(&front, "GET /a", 0).await.0 != 200 {
                failed += 1;
            }
        }
        outcomes.push(failed);
    }
    let (without, with) = (outcomes[0], outcomes[1]);
    assert_eq!(without, 30, "round robin over 3, one failing: a third");
    assert_eq!(with, 5, "ejected after its 5th consecutive failure");
}

#[tokio::test]
async fn the_check_path_goes_through_the_inbound_faults() {
    let p = plan(vec![service(
        "s",
        1,
        Some(0),
        vec![endpoint("GET /", vec![work(0.5)])],
    )]);
    let s = start(&p, "s", &[]).await;
    let check = || async {
        let r = client()
            .get(format!("http://{}/_chaos/check", s.addr))
            .timeout(Duration::from_millis(300))
            .send()
            .await;
        r.map(|r| r.status().as_u16()).ok()
    };
    // A busy replica with a full queue still passes: checks need no worker.
    let done = Arc::new(Mutex::new(Vec::new()));
    let _busy = spawn_hit(&s, "GET /", 0, "busy", &done);
    until(&s, 1, 0).await;
    assert_eq!(check().await, Some(200));
    install(
        &s,
        "err",
        Action::Errors {
            target: on("s"),
            ratio: 1.0,
            status: 500,
        },
    )
    .await;
    assert_eq!(check().await, Some(500));
    client()
        .delete(format!("http://{}/_chaos/faults", s.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    install(
        &s,
        "loss",
        Action::Loss {
            target: on("s"),
            ratio: 1.0,
        },
    )
    .await;
    assert_eq!(check().await, None, "a lost check is never answered");
    // A fault on one endpoint is not a fault of the replica's health.
    client()
        .delete(format!("http://{}/_chaos/faults", s.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    install(
        &s,
        "one",
        Action::Errors {
            target: Target {
                service: "s".into(),
                endpoint: Some("GET /".into()),
                replicas: None,
            },
            ratio: 1.0,
            status: 500,
        },
    )
    .await;
    assert_eq!(check().await, Some(200));
}
