//! Hand-built plans and recordings for the report tests.
#![allow(dead_code, clippy::unwrap_used)]

use chaos_plan::*;
use chaos_report::{Cause, Recorder, Recording, ServiceSample};

pub fn interval(a: f64, b: f64) -> Interval {
    Interval {
        start_s: a,
        end_s: b,
    }
}

pub fn window(label: &str, intervals: Vec<Interval>) -> Window {
    Window {
        label: label.to_string(),
        intervals,
        recovery_from_s: None,
        baseline: vec![],
    }
}

pub fn expect(
    text: &str,
    metric: Metric,
    subject: Subject,
    w: Window,
    op: Comparison,
    threshold: f64,
) -> Expectation {
    Expectation {
        text: text.to_string(),
        metric,
        subject,
        window: w,
        op,
        threshold,
    }
}

pub fn endpoint(service: &str, endpoint: &str) -> Subject {
    Subject::Endpoint {
        service: service.into(),
        endpoint: endpoint.into(),
    }
}

pub fn service_subject(service: &str) -> Subject {
    Subject::Service {
        service: service.into(),
    }
}

pub fn workload_subject(w: &str) -> Subject {
    Subject::Workload { workload: w.into() }
}

fn svc(name: &str, replicas: Replicas, endpoints: Vec<Endpoint>) -> Service {
    Service {
        name: name.into(),
        replicas,
        workers: 4,
        queue: None,
        rate_limit_per_s: None,
        restart_s: 5.0,
        balance: Balance::RoundRobin,
        latency: Dist::Constant { value_s: 0.01 },
        endpoints,
        discipline: Default::default(),
        eject: None,
        health_check: None,
    }
}

/// gateway ("GET /a", "GET /b") calls backend ("q"); workload `users` at 10/s on "GET /a";
/// fault `slow` during [20, 30); 60 s run, 10 s warmup, 1 s windows, 5 s drain.
pub fn plan(expectations: Vec<Expectation>, aborts: Vec<Abort>) -> Plan {
    let call = Step::Call(Call {
        service: "backend".into(),
        endpoint: "q".into(),
        timeout_s: Some(0.5),
        retry: Retry::NONE,
        circuit_breaker: None,
        continue_on_error: false,
        priority: None,
    });
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "hand-built".into(),
            duration_s: 60.0,
            warmup_s: 10.0,
            seed: 1,
            window_s: 1.0,
            drain_s: 5.0,
            hop_s: 0.0,
        },
        params: vec![Param {
            name: "peak".into(),
            value: "10/s".into(),
            overridden: false,
        }],
        services: vec![
            svc(
                "gateway",
                Replicas::Fixed { count: 2 },
                vec![
                    Endpoint {
                        name: "GET /a".into(),
                        steps: vec![call],
                    },
                    Endpoint {
                        name: "GET /b".into(),
                        steps: vec![Step::Work {
                            dist: Dist::Constant { value_s: 0.002 },
                        }],
                    },
                ],
            ),
            svc(
                "backend",
                Replicas::Autoscale {
                    min: 1,
                    max: 4,
                    rule: chaos_plan::ScaleRule::Target { utilisation: 0.7 },
                    delay_s: 5.0,
                    interval_s: 5.0,
                },
                vec![Endpoint {
                    name: "q".into(),
                    steps: vec![Step::Work {
                        dist: Dist::Exponential { mean_s: 0.01 },
                    }],
                }],
            ),
        ],
        workloads: vec![Workload {
            name: "users".into(),
            target: EndpointRef {
                service: "gateway".into(),
                endpoint: "GET /a".into(),
            },
            load: Load::Open {
                rate: vec![RatePiece {
                    start_s: 0.0,
                    end_s: 60.0,
                    from_per_s: 10.0,
                    to_per_s: 10.0,
                }],
                spikes: vec![Spike {
                    start_s: 40.0,
                    end_s: 40.5,
                    rate_per_s: 20.0,
                }],
                arrivals: Arrivals::Poisson,
            },
            timeout_s: Some(2.0),
            priority: 0,
        }],
        faults: vec![Fault {
            name: "slow".into(),
            occurrences: vec![Occurrence {
                start_s: 20.0,
                end_s: 30.0,
            }],
            active: vec![interval(20.0, 30.0)],
            actions: vec![Action::Cpu {
                target: Target {
                    service: "backend".into(),
                    endpoint: None,
                    replicas: None,
                },
                factor: 4.0,
            }],
        }],
        expectations,
        aborts,
    }
}

/// Subject indices in a recording of [`plan`]: 0 gateway GET /a, 1 gateway GET /b,
/// 2 backend q, 3 users.
pub const GW_A: usize = 0;
pub const GW_B: usize = 1;
pub const BACKEND: usize = 2;
pub const USERS: usize = 3;

/// What each second of a synthetic run looks like.
#[derive(Clone, Copy)]
pub struct Second {
    pub ok: u64,
    pub errors: u64,
    pub cause: Cause,
    pub latency_s: f64,
    pub replicas: u32,
}

pub fn healthy() -> Second {
    Second {
        ok: 10,
        errors: 0,
        cause: Cause::Timeout,
        latency_s: 0.010,
        replicas: 1,
    }
}

/// Records, every second `t` of `[0, ended_s)`, `f(t)` on gateway GET /a, backend q and users
/// (GET /b gets one ok answer of 2 ms a second), then finishes with the plan's drain.
pub fn record(plan: &Plan, ended_s: f64, f: impl Fn(u32) -> Second) -> Recording {
    let mut r = Recorder::new(plan, "sim", 1);
    record_into(&mut r, ended_s, f);
    let horizon = ended_s + plan.scenario.drain_s;
    r.finish(ended_s, horizon, None)
}

pub fn record_into(r: &mut Recorder, ended_s: f64, f: impl Fn(u32) -> Second) {
    for t in 0..(ended_s as u32) {
        let s = f(t);
        let at = f64::from(t) + 0.5;
        for subject in [GW_A, BACKEND, USERS] {
            for _ in 0..s.ok {
                r.record(subject, at, s.latency_s, Ok(()));
            }
            for _ in 0..s.errors {
                r.record(subject, at, s.latency_s, Err(s.cause));
            }
        }
        r.record(GW_B, at, 0.002, Ok(()));
        r.sample_service(
            1,
            at,
            ServiceSample {
                replicas: s.replicas,
                max_replicas: s.replicas,
                utilisation: 0.5,
                queue_mean: 0.25,
            },
        );
        r.sample_service(
            0,
            at,
            ServiceSample {
                replicas: 2,
                max_replicas: 2,
                utilisation: 0.25,
                queue_mean: 0.0,
            },
        );
    }
}
