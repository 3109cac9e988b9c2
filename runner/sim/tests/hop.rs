//! The model's network hop (`hop` in a scenario, `Scenario::hop_s`): every attempt that
//! reaches a replica costs it on top of the callee's own time, the load generator's request
//! to the entry endpoint as much as a call between services.
#![allow(clippy::unwrap_used)]

mod common;

use chaos_plan::{Plan, Step};
use common::*;

/// `front` works 5 ms and calls `back`, which works 2 ms: constant times and far more workers
/// than requests, so every latency is the sum of its parts.
fn chain(hop_s: f64, call_timeout_s: Option<f64>) -> Plan {
    let mut to_back = call("back", "GET /");
    to_back.timeout_s = call_timeout_s;
    let mut p = plan(
        20.0,
        vec![
            service(
                "front",
                1,
                64,
                vec![work(constant(0.005)), Step::Call(to_back)],
            ),
            service("back", 1, 64, vec![work(constant(0.002))]),
        ],
        vec![open("users", "front", 20.0, 20.0)],
    );
    p.scenario.hop_s = hop_s;
    p
}

fn mean(rec: &chaos_report::Recording, key: &chaos_report::SubjectKey) -> f64 {
    summary(rec, key, 0.0, 1e9).mean()
}

#[test]
fn each_hop_adds_its_cost_to_the_callers_latency() {
    let plain = chaos_sim::simulate(&chain(0.0, None), 1).unwrap();
    let hopped = chaos_sim::simulate(&chain(250e-6, None), 1).unwrap();
    // HDR buckets hold 3 significant digits: 1-4 µs at these latencies, a tenth of the hop.
    let close = |a: f64, b: f64| (a - b).abs() < 25e-6;
    assert!(close(mean(&plain, &endpoint("back")), 0.002));
    assert!(close(mean(&hopped, &endpoint("back")), 0.00225));
    // The entry endpoint: front's own 5 ms, one hop to back and back's 2 ms, and the load
    // generator's hop to front.
    assert!(close(mean(&plain, &endpoint("front")), 0.007));
    assert!(close(mean(&hopped, &endpoint("front")), 0.0075));
    assert!(close(mean(&hopped, &workload("users")), 0.0075));
    // The same requests: the hop moves answers later, it does not change what arrives.
    assert_eq!(
        summary(&plain, &workload("users"), 0.0, 1e9).n(),
        summary(&hopped, &workload("users"), 0.0, 1e9).n()
    );
}

#[test]
fn a_call_timeout_counts_the_hop() {
    // 2.1 ms is enough for back's 2 ms alone, not with a 250 µs hop on the way.
    let plain = chaos_sim::simulate(&chain(0.0, Some(0.0021)), 1).unwrap();
    let hopped = chaos_sim::simulate(&chain(250e-6, Some(0.0021)), 1).unwrap();
    let back = |r| summary(r, &endpoint("back"), 0.0, 1e9);
    assert_eq!(back(&plain).errors(), 0);
    assert!(back(&plain).n() > 300);
    assert_eq!(back(&hopped).errors(), back(&hopped).n());
}
