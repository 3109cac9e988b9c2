//! Helpers the agent's integration tests share: plan pieces (the support crate's) and a real
//! agent on loopback.
#![allow(clippy::unwrap_used, dead_code, unused_imports)]

use std::collections::BTreeMap;

use chaos_agent::{AgentConfig, FaultRequest, MetricsSnapshot, Running};
use chaos_plan::*;

pub use chaos_test_support::plans::{call, endpoint, on, plan, work};

/// A service of one replica with `workers` and `queue`, otherwise as the support crate's.
pub fn service(name: &str, workers: u32, queue: Option<u32>, endpoints: Vec<Endpoint>) -> Service {
    Service {
        workers,
        queue,
        ..chaos_test_support::plans::service(name, endpoints)
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
