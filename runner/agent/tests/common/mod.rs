//! Helpers the agent's integration tests share: plan pieces and a real agent on loopback.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;

use chaos_agent::{AgentConfig, FaultRequest, MetricsSnapshot, Running};
use chaos_plan::*;

/// A service of one replica, round robin, no rate limit, the defaults of issue 14.
pub fn service(name: &str, workers: u32, queue: Option<u32>, endpoints: Vec<Endpoint>) -> Service {
    Service {
        name: name.into(),
        replicas: Replicas::Fixed { count: 1 },
        workers,
        queue,
        rate_limit_per_s: None,
        restart_s: 1.0,
        balance: Balance::RoundRobin,
        latency: Dist::ZERO,
        endpoints,
        discipline: Discipline::Fifo,
        eject: None,
        health_check: None,
    }
}

/// A one-second plan of these services, nothing else.
pub fn plan(services: Vec<Service>) -> Plan {
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "t".into(),
            duration_s: 1.0,
            warmup_s: 0.0,
            seed: 1,
            window_s: 1.0,
            drain_s: 1.0,
            hop_s: 0.0,
        },
        params: vec![],
        services,
        workloads: vec![],
        faults: vec![],
        expectations: vec![],
        aborts: vec![],
    }
}

pub fn endpoint(name: &str, steps: Vec<Step>) -> Endpoint {
    Endpoint {
        name: name.into(),
        steps,
    }
}

pub fn work(s: f64) -> Step {
    Step::Work {
        dist: Dist::Constant { value_s: s },
    }
}

/// Starts one replica of `service` on 127.0.0.1, calling `peers` (service name, running agent).
pub async fn start(plan: &Plan, service: &str, peers: &[(&str, &Running)], token: &str) -> Running {
    let mut p: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (s, r) in peers {
        p.entry(s.to_string())
            .or_default()
            .push(format!("http://{}", r.addr));
    }
    chaos_agent::start(AgentConfig {
        plan: plan.clone(),
        service: service.into(),
        replica: format!("{service}-0"),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(token.into()),
        peers: p,
    })
    .await
    .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// One request to `endpoint` at `priority`: the status and the `x-chaos-cause` header.
pub async fn hit(r: &Running, endpoint: &str, priority: u8) -> (u16, Option<String>) {
    let resp =
        chaos_agent::exec::outbound(&client(), &format!("http://{}", r.addr), endpoint, priority)
            .send()
            .await
            .unwrap();
    let cause = resp
        .headers()
        .get("x-chaos-cause")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), cause)
}

/// The agent's counters through the control API.
pub async fn metrics_with(r: &Running, token: &str) -> MetricsSnapshot {
    client()
        .get(format!("http://{}/_chaos/metrics", r.addr))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Installs a fault through the control API; returns the status.
pub async fn install_with(r: &Running, token: &str, id: &str, action: Action) -> u16 {
    let body = FaultRequest {
        id: id.into(),
        action,
        peers: vec![],
    };
    client()
        .post(format!("http://{}/_chaos/faults", r.addr))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A fault target: every replica and endpoint of `service`.
pub fn on(service: &str) -> Target {
    Target {
        service: service.into(),
        endpoint: None,
        replicas: None,
    }
}
