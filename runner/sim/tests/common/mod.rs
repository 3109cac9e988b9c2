//! Plan builders (the simulator's shapes over `chaos_test_support::plans`) and recording
//! summaries shared by the simulator's tests.
#![allow(dead_code, clippy::unwrap_used)]

use chaos_plan::*;
use chaos_report::{Latency, Recording, Stats, SubjectKey};
use chaos_test_support::plans;

pub fn exp(mean_s: f64) -> Dist {
    Dist::Exponential { mean_s }
}

pub fn constant(value_s: f64) -> Dist {
    Dist::Constant { value_s }
}

pub fn work(dist: Dist) -> Step {
    Step::Work { dist }
}

#[allow(unused_imports)] // not every test binary calls
pub use plans::call;

/// The simulator's test service: one endpoint `GET /` doing `steps`, restarting after 5 s (the
/// compiler's default, which the kill tests' recovery times are written for).
pub fn service(name: &str, replicas: u32, workers: u32, steps: Vec<Step>) -> Service {
    Service {
        replicas: Replicas::Fixed { count: replicas },
        workers,
        restart_s: 5.0,
        ..plans::service(name, vec![plans::endpoint("GET /", steps)])
    }
}

/// Poisson arrivals at a constant `rate` on `target`'s `GET /` over `[0, duration]`.
pub fn open(name: &str, target: &str, rate: f64, duration: f64) -> Workload {
    plans::open(
        name,
        (target, "GET /"),
        vec![plans::ramp(0.0, duration, rate, rate)],
        vec![],
    )
}

pub fn closed(name: &str, target: &str, users: u32, think: Dist) -> Workload {
    let mut w = plans::closed(name, (target, "GET /"), users);
    if let Load::Closed { think: t, .. } = &mut w.load {
        *t = think;
    }
    w
}

/// A scenario `test` of `duration_s` with the compiler's 30 s drain.
pub fn plan(duration_s: f64, services: Vec<Service>, workloads: Vec<Workload>) -> Plan {
    Plan {
        scenario: Scenario {
            name: "test".into(),
            drain_s: 30.0,
            ..plans::scenario(duration_s)
        },
        workloads,
        ..plans::plan(services)
    }
}

pub fn fault(name: &str, start_s: f64, end_s: f64, actions: Vec<Action>) -> Fault {
    plans::fault(name, &[(start_s, end_s)], actions)
}

#[allow(unused_imports)] // not every test binary targets a fault
pub use plans::on as target;

/// A subject's stats summed over the windows starting in `[from_s, to_s)`.
pub struct Summary {
    pub stats: Stats,
    pub latency: Latency,
}

impl Summary {
    pub fn mean(&self) -> f64 {
        self.latency.mean_s().unwrap()
    }
    pub fn q(&self, q: f64) -> f64 {
        self.latency.quantile_s(q).unwrap()
    }
    pub fn n(&self) -> u64 {
        self.stats.requests()
    }
    pub fn errors(&self) -> u64 {
        self.stats.error_count()
    }
}

pub fn summary(rec: &Recording, key: &SubjectKey, from_s: f64, to_s: f64) -> Summary {
    let i = rec.subject_index(key).unwrap();
    let mut stats = Stats::default();
    let mut latency = Latency::new();
    for w in rec
        .windows
        .iter()
        .filter(|w| w.start_s >= from_s && w.start_s < to_s)
    {
        stats.add_counts(&w.subjects[i]);
        latency.add_sparse(&w.subjects[i].latency);
    }
    Summary { stats, latency }
}

pub fn endpoint(service: &str) -> SubjectKey {
    SubjectKey::Endpoint {
        service: service.into(),
        endpoint: "GET /".into(),
    }
}

pub fn workload(name: &str) -> SubjectKey {
    SubjectKey::Workload {
        workload: name.into(),
    }
}

/// Mean over windows in `[from_s, to_s)` of a service's sampled utilisation and queue.
pub fn service_means(rec: &Recording, service: &str, from_s: f64, to_s: f64) -> (f64, f64) {
    let i = rec.service_index(service).unwrap();
    let ws: Vec<_> = rec
        .windows
        .iter()
        .filter(|w| w.start_s >= from_s && w.start_s < to_s)
        .collect();
    let n = ws.len() as f64;
    let u = ws.iter().map(|w| w.services[i].utilisation).sum::<f64>() / n;
    let q = ws.iter().map(|w| w.services[i].queue_mean).sum::<f64>() / n;
    (u, q)
}

pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Runs `plan` for each seed (in parallel) and merges `key` over windows in `[from_s, to_s)`.
pub fn runs(plan: &Plan, seeds: &[u64]) -> Vec<Recording> {
    chaos_sim::simulate_many(plan, seeds)
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

pub fn merged(recs: &[Recording], key: &SubjectKey, from_s: f64, to_s: f64) -> Summary {
    let mut stats = Stats::default();
    let mut latency = Latency::new();
    for r in recs {
        let s = summary(r, key, from_s, to_s);
        stats.add_counts(&s.stats);
        latency.add(&s.latency);
    }
    Summary { stats, latency }
}

/// Mean over runs of [`service_means`].
pub fn merged_service(recs: &[Recording], service: &str, from_s: f64, to_s: f64) -> (f64, f64) {
    let n = recs.len() as f64;
    recs.iter()
        .map(|r| service_means(r, service, from_s, to_s))
        .fold((0.0, 0.0), |a, b| (a.0 + b.0 / n, a.1 + b.1 / n))
}

/// Smallest `t` with `cdf(t) >= q`, by bisection on `[0, hi]`.
pub fn quantile_of(cdf: impl Fn(f64) -> f64, q: f64, hi: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, hi);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) >= q { hi = mid } else { lo = mid }
    }
    hi
}
