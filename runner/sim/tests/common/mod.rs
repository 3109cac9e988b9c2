//! Plan builders and recording summaries shared by the simulator's tests.
#![allow(dead_code, clippy::unwrap_used)]

use chaos_plan::*;
use chaos_report::{Latency, Recording, Stats, SubjectKey};

pub fn exp(mean_s: f64) -> Dist {
    Dist::Exponential { mean_s }
}

pub fn constant(value_s: f64) -> Dist {
    Dist::Constant { value_s }
}

pub fn work(dist: Dist) -> Step {
    Step::Work { dist }
}

pub fn call(service: &str, endpoint: &str) -> Call {
    Call {
        service: service.into(),
        endpoint: endpoint.into(),
        timeout_s: None,
        retry: Retry::NONE,
        circuit_breaker: None,
        continue_on_error: false,
        priority: None,
    }
}

pub fn service(name: &str, replicas: u32, workers: u32, steps: Vec<Step>) -> Service {
    Service {
        name: name.into(),
        replicas: Replicas::Fixed { count: replicas },
        workers,
        queue: None,
        rate_limit_per_s: None,
        restart_s: 5.0,
        balance: Balance::RoundRobin,
        latency: Dist::ZERO,
        endpoints: vec![Endpoint {
            name: "GET /".into(),
            steps,
        }],
        discipline: Default::default(),
        eject: None,
        health_check: None,
    }
}

pub fn open(name: &str, target: &str, rate: f64, duration: f64) -> Workload {
    Workload {
        name: name.into(),
        target: EndpointRef {
            service: target.into(),
            endpoint: "GET /".into(),
        },
        load: Load::Open {
            rate: vec![RatePiece {
                start_s: 0.0,
                end_s: duration,
                from_per_s: rate,
                to_per_s: rate,
            }],
            spikes: vec![],
            arrivals: Arrivals::Poisson,
        },
        timeout_s: None,
        priority: 0,
    }
}

pub fn closed(name: &str, target: &str, users: u32, think: Dist) -> Workload {
    Workload {
        name: name.into(),
        target: EndpointRef {
            service: target.into(),
            endpoint: "GET /".into(),
        },
        load: Load::Closed {
            users_from: users,
            users_to: users,
            ramp_start_s: 0.0,
            ramp_s: 0.0,
            think,
        },
        timeout_s: None,
        priority: 0,
    }
}

pub fn plan(duration_s: f64, services: Vec<Service>, workloads: Vec<Workload>) -> Plan {
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "test".into(),
            duration_s,
            warmup_s: 0.0,
            seed: 1,
            window_s: 1.0,
            drain_s: 30.0,
            hop_s: 0.0,
        },
        params: vec![],
        services,
        workloads,
        faults: vec![],
        expectations: vec![],
        aborts: vec![],
    }
}

pub fn fault(name: &str, start_s: f64, end_s: f64, actions: Vec<Action>) -> Fault {
    Fault {
        name: name.into(),
        occurrences: vec![Occurrence { start_s, end_s }],
        active: vec![Interval { start_s, end_s }],
        actions,
    }
}

pub fn target(service: &str) -> Target {
    Target {
        service: service.into(),
        endpoint: None,
        replicas: None,
    }
}

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
