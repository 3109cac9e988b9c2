#![allow(clippy::unwrap_used)]
mod common;
use common::*;

#[test]
fn mm1_smoke() {
    let p = plan(
        2000.0,
        vec![service("server", 1, 1, vec![work(exp(0.010))])],
        vec![open("clients", "server", 80.0, 2000.0)],
    );
    let t = std::time::Instant::now();
    let r = chaos_sim::simulate(&p, 1).unwrap();
    let s = summary(&r, &endpoint("server"), 100.0, 2000.0);
    eprintln!(
        "{:?} n={} mean={} p99={} err={}",
        t.elapsed(),
        s.n(),
        s.mean(),
        s.q(0.99),
        s.errors()
    );
    let (u, q) = service_means(&r, "server", 100.0, 2000.0);
    eprintln!("util={u} queue={q}");
}
