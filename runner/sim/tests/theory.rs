//! The simulator against exact queueing theory. Each test runs several seeds in parallel,
//! drops a warm-up, and compares with closed-form results within tolerances of a few
//! standard errors at these sample sizes (comments give the sample counts).
#![allow(clippy::unwrap_used)]

mod common;
use chaos_plan::{Balance, Dist};
use common::*;

const SEEDS: [u64; 4] = [11, 12, 13, 14];
const WARMUP: f64 = 100.0;

fn single(workers: u32, service_time: Dist, rate: f64, duration: f64) -> chaos_plan::Plan {
    plan(
        duration,
        vec![service("server", 1, workers, vec![work(service_time)])],
        vec![open("clients", "server", rate, duration)],
    )
}

/// M/M/1, λ = 80/s, μ = 100/s (the spec's mm1.chaos): W = 1/(μ-λ) = 50 ms,
/// p99 = ln(100)/(μ-λ) = 230.3 ms, ρ = 0.8, Lq = ρ²/(1-ρ) = 3.2. About 1.1 M requests.
#[test]
fn mm1_mean_p99_utilisation_queue() {
    let d = 3600.0;
    let recs = runs(&single(1, exp(0.010), 80.0, d), &SEEDS);
    let s = merged(&recs, &endpoint("server"), WARMUP, d);
    assert!(s.n() > 1_000_000, "{}", s.n());
    assert_eq!(s.errors(), 0);
    assert!(rel(s.mean(), 0.050) < 0.02, "mean {}", s.mean());
    assert!(rel(s.q(0.99), 0.2303) < 0.03, "p99 {}", s.q(0.99));
    assert!(rel(s.q(0.5), 0.050 * 2f64.ln()) < 0.03, "p50 {}", s.q(0.5));
    let (u, lq) = merged_service(&recs, "server", WARMUP, d);
    assert!((u - 0.8).abs() < 0.005, "utilisation {u}");
    assert!(rel(lq, 3.2) < 0.05, "queue {lq}");
}

/// Erlang C: c = 4, λ = 32/s, μ = 10/s (ρ = 0.8, a = 3.2). P(wait) = C(4, 3.2) = 0.5964;
/// Lq = C ρ/(1-ρ); W = 1/μ + C/(cμ-λ); the response-time tail has a closed form.
#[test]
fn mmc_erlang_c() {
    let (c, lambda, mu) = (4.0f64, 32.0, 10.0);
    let a = lambda / mu;
    let rho = a / c;
    let sum: f64 = (0..4)
        .map(|k| a.powi(k) / (1..=k).map(f64::from).product::<f64>())
        .sum();
    let top = a.powi(4) / 24.0 / (1.0 - rho);
    let erlang_c = top / (sum + top);
    assert!((erlang_c - 0.5964).abs() < 1e-3, "{erlang_c}");
    let d = 6000.0;
    let recs = runs(&single(4, exp(1.0 / mu), lambda, d), &SEEDS);
    let s = merged(&recs, &endpoint("server"), WARMUP, d);
    assert!(s.n() > 700_000, "{}", s.n());
    let w = 1.0 / mu + erlang_c / (c * mu - lambda);
    assert!(rel(s.mean(), w) < 0.02, "mean {} vs {w}", s.mean());
    let (u, lq) = merged_service(&recs, "server", WARMUP, d);
    assert!((u - rho).abs() < 0.005, "utilisation {u}");
    let lq_theory = erlang_c * rho / (1.0 - rho);
    assert!(rel(lq, lq_theory) < 0.05, "queue {lq} vs {lq_theory}");
    // P(T > t) = e^{-μt} (1 + C μ/(cμ-λ-μ) (1 - e^{-(cμ-λ-μ)t})).
    let k = c * mu - lambda - mu;
    let cdf = |t: f64| 1.0 - (-mu * t).exp() * (1.0 + erlang_c * mu / k * (1.0 - (-k * t).exp()));
    let p99 = quantile_of(cdf, 0.99, 10.0);
    assert!(rel(s.q(0.99), p99) < 0.03, "p99 {} vs {p99}", s.q(0.99));
}

/// M/D/1 (Pollaczek-Khinchine): λ = 80/s, D = 10 ms: W = D + ρD/(2(1-ρ)) = 30 ms,
/// Lq = ρ²/(2(1-ρ)) = 1.6. About 1.1 M requests.
#[test]
fn md1_pollaczek_khinchine() {
    let d = 3600.0;
    let recs = runs(&single(1, constant(0.010), 80.0, d), &SEEDS);
    let s = merged(&recs, &endpoint("server"), WARMUP, d);
    assert!(rel(s.mean(), 0.030) < 0.02, "mean {}", s.mean());
    assert!((s.latency.min_s().unwrap() - 0.010).abs() < 1e-4);
    let (u, lq) = merged_service(&recs, "server", WARMUP, d);
    assert!((u - 0.8).abs() < 0.005, "utilisation {u}");
    assert!(rel(lq, 1.6) < 0.05, "queue {lq}");
}

/// Erlang B: 5 workers, no queue, a = 4 Erlang: B(5, 4) = 0.1991 of requests rejected (503).
#[test]
fn erlang_b_blocking_with_queue_0() {
    let d = 5000.0;
    let mut p = single(5, exp(0.1), 40.0, d);
    p.services[0].queue = Some(0);
    let recs = runs(&p, &SEEDS);
    let s = merged(&recs, &endpoint("server"), WARMUP, d);
    let a: f64 = 4.0;
    let terms: Vec<f64> = (0..=5)
        .map(|k| a.powi(k) / (1..=k).map(f64::from).product::<f64>())
        .collect();
    let b = terms[5] / terms.iter().sum::<f64>();
    let rejected = s.stats.errors[chaos_report::Cause::Rejected.index()] as f64 / s.n() as f64;
    assert_eq!(
        s.errors(),
        s.stats.errors[chaos_report::Cause::Rejected.index()]
    );
    assert!(
        (rejected - b).abs() < 0.004,
        "blocking {rejected} vs {b} over {}",
        s.n()
    );
    // Accepted requests never wait: their mean response is the service time.
    let (u, lq) = merged_service(&recs, "server", WARMUP, d);
    assert_eq!(lq, 0.0);
    assert!((u - a * (1.0 - b) / 5.0).abs() < 0.005, "utilisation {u}");
}

/// A closed loop of N = 10 users, think time Exp(100 ms), one exponential server of 10 ms:
/// exact mean value analysis gives the response time and throughput.
#[test]
fn closed_loop_mean_value_analysis() {
    let (n, s_time, z) = (10, 0.010, 0.100);
    let mut q = 0.0;
    let (mut r, mut x) = (0.0, 0.0);
    for k in 1..=n {
        r = s_time * (1.0 + q);
        x = f64::from(k) / (r + z);
        q = x * r;
    }
    let d = 3000.0;
    let p = plan(
        d,
        vec![service("server", 1, 1, vec![work(exp(s_time))])],
        vec![closed("users", "server", n as u32, exp(z))],
    );
    let recs = runs(&p, &SEEDS);
    let s = merged(&recs, &workload("users"), WARMUP, d);
    assert!(rel(s.mean(), r) < 0.02, "response {} vs {r}", s.mean());
    let throughput = s.n() as f64 / ((d - WARMUP) * SEEDS.len() as f64);
    assert!(rel(throughput, x) < 0.01, "throughput {throughput} vs {x}");
}

/// Random balancing over 4 single-worker replicas splits a Poisson stream into 4 Poisson
/// streams: each replica is M/M/1 with λ/4 = 60/s, μ = 100/s: W = 25 ms.
#[test]
fn random_splitting_over_replicas() {
    let d = 2500.0;
    let mut p = plan(
        d,
        vec![service("server", 4, 1, vec![work(exp(0.010))])],
        vec![open("clients", "server", 240.0, d)],
    );
    p.services[0].balance = Balance::Random;
    let recs = runs(&p, &SEEDS);
    let s = merged(&recs, &endpoint("server"), WARMUP, d);
    assert!(rel(s.mean(), 0.025) < 0.02, "mean {}", s.mean());
    assert!(
        rel(s.q(0.99), 0.025 * 100f64.ln()) < 0.03,
        "p99 {}",
        s.q(0.99)
    );
    // Round robin is not Poisson splitting: each replica sees Erlang-4 arrivals and waits less.
    p.services[0].balance = Balance::RoundRobin;
    let rr = merged(&runs(&p, &SEEDS), &endpoint("server"), WARMUP, d);
    assert!(
        rr.mean() < 0.9 * s.mean(),
        "round robin {} vs random {}",
        rr.mean(),
        s.mean()
    );
}

/// M/M/1 with a client timeout of 100 ms: the fraction of requests timing out is
/// P(T > 0.1) = e^{-(μ-λ) 0.1} = e^{-2} = 0.1353; the system itself is unaffected.
#[test]
fn fraction_over_client_timeout() {
    let d = 3000.0;
    let mut p = single(1, exp(0.010), 80.0, d);
    p.workloads[0].timeout_s = Some(0.1);
    let recs = runs(&p, &SEEDS);
    let w = merged(&recs, &workload("clients"), WARMUP, d);
    let timeouts = w.stats.errors[chaos_report::Cause::Timeout.index()] as f64 / w.n() as f64;
    let expected = (-2.0f64).exp();
    assert!(
        (timeouts - expected).abs() < 0.006,
        "{timeouts} vs {expected}"
    );
    assert!(w.latency.max_s().unwrap() <= 0.1 + 1e-3);
    let (u, _) = merged_service(&recs, "server", WARMUP, d);
    assert!(
        (u - 0.8).abs() < 0.005,
        "utilisation {u}: abandoned requests are still served"
    );
}
