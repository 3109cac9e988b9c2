//! `GET /metrics` of agents served on loopback: open without the token, free of secrets, the
//! figures of real requests, and accepted by `promtool check metrics` when it is installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use chaos_agent::Running;
use chaos_plan::*;
use chaos_test_support::{repo_root, scratch};

mod common;
use common::{client, endpoint, work};

const TOKEN: &str = "tok-3f9a1c7e5b2d";

fn service(name: &str, workers: u32, endpoints: Vec<Endpoint>) -> Service {
    common::service(name, workers, Some(16), endpoints)
}

fn call(service: &str, endpoint: &str) -> Step {
    Step::Call(Call {
        timeout_s: Some(5.0),
        ..common::call(service, endpoint)
    })
}

fn plan() -> Plan {
    common::plan(vec![
        service(
            "front",
            4,
            vec![
                endpoint("GET /a", vec![work(0.002), call("back", "q")]),
                endpoint("slow", vec![work(0.6)]),
            ],
        ),
        service(
            "back",
            1,
            vec![
                endpoint("q", vec![work(0.001)]),
                // The service's own `GET /metrics` must stay reachable to chaos' callers.
                endpoint("GET /metrics", vec![work(0.0)]),
            ],
        ),
    ])
}

async fn hit(r: &Running, endpoint: &str) -> u16 {
    common::hit(r, endpoint, 0).await.0
}

async fn scrape(r: &Running) -> String {
    let resp = client()
        .get(format!("http://{}/metrics", r.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    resp.text().await.unwrap()
}

/// The value of the one sample of `name` that carries every label in `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
                && labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}\n{text}");
    found[0].rsplit(' ').next().unwrap().parse().unwrap()
}

async fn install(r: &Running, id: &str, action: Action) {
    assert_eq!(common::install_with(r, TOKEN, id, action).await, 201);
}

#[tokio::test]
async fn metrics_need_no_token_hold_no_secret_and_count_real_requests() {
    let p = plan();
    let back = start(&p, "back", &[]).await;
    let front = start(&p, "front", &[("back", &back)]).await;

    // Before any request every series is there, at zero.
    let text = scrape(&front).await;
    let ga = [
        ("service", "front"),
        ("replica", "front-0"),
        ("endpoint", "GET /a"),
    ];
    assert_eq!(value(&text, "chaos_requests_total", &ga), 0.0);
    assert_eq!(
        value(
            &text,
            "chaos_outbound_requests_total",
            &[("callee", "back"), ("endpoint", "q")]
        ),
        0.0
    );

    for _ in 0..3 {
        assert_eq!(hit(&front, "GET /a").await, 200);
    }
    install(
        &back,
        "boom",
        Action::Errors {
            target: Target {
                service: "back".into(),
                endpoint: Some("q".into()),
                replicas: None,
            },
            ratio: 1.0,
            status: 503,
        },
    )
    .await;
    for _ in 0..2 {
        assert_eq!(hit(&front, "GET /a").await, 500);
    }
    // Driven by chaos (with `x-chaos-endpoint`), `GET /metrics` is the service's endpoint.
    assert_eq!(hit(&back, "GET /metrics").await, 200);

    let f = scrape(&front).await;
    assert_eq!(value(&f, "chaos_requests_total", &ga), 5.0);
    let mut down = ga.to_vec();
    down.push(("cause", "downstream"));
    assert_eq!(value(&f, "chaos_request_errors_total", &down), 2.0);
    let mut inj = ga.to_vec();
    inj.push(("cause", "injected"));
    assert_eq!(value(&f, "chaos_request_errors_total", &inj), 0.0);
    assert_eq!(
        value(
            &f,
            "chaos_outbound_request_errors_total",
            &[("callee", "back"), ("endpoint", "q"), ("cause", "injected")]
        ),
        2.0
    );
    assert_eq!(value(&f, "chaos_request_duration_seconds_count", &ga), 5.0);
    let mut inf = ga.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        value(&f, "chaos_request_duration_seconds_bucket", &inf),
        5.0
    );
    let mut fast = ga.to_vec();
    fast.push(("le", "0.001"));
    // Every request worked 2 ms before answering.
    assert_eq!(
        value(&f, "chaos_request_duration_seconds_bucket", &fast),
        0.0
    );
    assert!(value(&f, "chaos_request_duration_seconds_sum", &ga) >= 0.01);
    assert_eq!(value(&f, "chaos_workers", &[("service", "front")]), 4.0);

    let b = scrape(&back).await;
    let q = [("service", "back"), ("endpoint", "q")];
    assert_eq!(value(&b, "chaos_requests_total", &q), 5.0);
    assert_eq!(
        value(&b, "chaos_requests_total", &[("endpoint", "GET /metrics")]),
        1.0
    );
    assert_eq!(
        value(&b, "chaos_faults_active", &[("action", "errors")]),
        1.0
    );
    assert_eq!(
        value(&b, "chaos_faults_active", &[("action", "latency")]),
        0.0
    );

    for text in [&f, &b] {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(
            !text.contains("boom"),
            "fault ids stay in the control API:\n{text}"
        );
        assert!(
            !text.contains("127.0.0.1"),
            "peer addresses stay private:\n{text}"
        );
    }

    // The control API is as closed as before.
    let c = client();
    for path in ["/_chaos/metrics", "/_chaos/faults"] {
        let s = c
            .get(format!("http://{}{path}", back.addr))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(s.as_u16(), 401, "{path}");
    }
    // Scraping is read-only: anything but GET goes to the service, which has no such endpoint.
    let s = c
        .post(format!("http://{}/metrics", front.addr))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(s.as_u16(), 404);
}

#[tokio::test]
async fn in_flight_queue_and_busy_workers_are_live() {
    let p = plan();
    let mut one_worker = p.clone();
    one_worker.services[0].workers = 1;
    let front = start(&one_worker, "front", &[]).await;
    let addr = front.addr;
    let calls: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move {
                chaos_agent::exec::outbound(&client(), &format!("http://{addr}"), "slow", 0)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let text = scrape(&front).await;
    let slow = [("endpoint", "slow")];
    assert_eq!(value(&text, "chaos_requests_in_flight", &slow), 3.0);
    assert_eq!(value(&text, "chaos_workers_busy", &[]), 1.0);
    assert_eq!(value(&text, "chaos_queue_length", &[]), 2.0);
    assert_eq!(value(&text, "chaos_queue_capacity", &[]), 16.0);
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    let text = scrape(&front).await;
    assert_eq!(value(&text, "chaos_requests_in_flight", &slow), 0.0);
    assert_eq!(value(&text, "chaos_queue_length", &[]), 0.0);
    assert!(value(&text, "chaos_worker_busy_seconds_total", &[]) >= 1.7);
}

/// The exposition of a busy agent, checked by Prometheus' own linter. Skipped (with a note)
/// where promtool is not installed; `scripts/test` installs it.
#[tokio::test]
async fn promtool_check_metrics_accepts_the_exposition() {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("promtool not installed (apt-get install prometheus); skipped");
        return;
    }
    let p = plan();
    let back = start(&p, "back", &[]).await;
    let front = start(&p, "front", &[("back", &back)]).await;
    for _ in 0..3 {
        hit(&front, "GET /a").await;
    }
    for r in [&front, &back] {
        let text = scrape(r).await;
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool: {said}\n{text}");
        assert!(said.trim().is_empty(), "promtool: {said}");
    }
}

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// Every `chaos_*` name in a query.
fn metric_names(q: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = q;
    while let Some(i) = rest.find("chaos_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// `deploy/grafana/chaos.json` parses, and each of its queries names only metrics a real agent
/// serves; with promtool installed, each is also valid PromQL (checked as a recording rule).
#[tokio::test]
async fn the_grafana_dashboard_queries_only_metrics_the_agents_serve() {
    let path = repo_root().join("deploy/grafana/chaos.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(dashboard["title"].is_string() && dashboard["panels"].is_array());
    let mut queries = Vec::new();
    exprs(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "{queries:?}");

    let p = plan();
    let back = start(&p, "back", &[]).await;
    let front = start(&p, "front", &[("back", &back)]).await;
    let served: std::collections::BTreeSet<String> = scrape(&front)
        .await
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    for q in &queries {
        let names = metric_names(q);
        assert!(!names.is_empty(), "a query on no chaos metric: {q}");
        for n in names {
            assert!(served.contains(&n), "`{n}` in `{q}` is not served");
        }
    }

    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("promtool not installed; PromQL syntax not checked");
        return;
    }
    let mut rules = String::from("groups:\n- name: dashboard\n  rules:\n");
    for (i, q) in queries
        .iter()
        .filter(|q| !q.starts_with("label_values("))
        .enumerate()
    {
        // Grafana's variables, as Grafana would expand them.
        let q = q
            .replace("$__rate_interval", "1m")
            .replace("$service", ".*");
        rules.push_str(&format!(
            "  - record: dashboard:query{i}\n    expr: {}\n",
            serde_json::to_string(&q).unwrap()
        ));
    }
    let dir = scratch("dashboard-rules");
    let file = dir.write("rules.yml", &rules);
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}\n{rules}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real agent of `service` with this file's token.
async fn start(plan: &Plan, service: &str, peers: &[(&str, &Running)]) -> Running {
    common::start(plan, service, peers, TOKEN).await
}
