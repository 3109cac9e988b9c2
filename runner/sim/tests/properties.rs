//! Properties that hold for any plan: every request ends exactly once (sent = finished +
//! unfinished, per subject), no event runs in the past (the engine reports it as an error),
//! Little's law per service, and determinism (same seed, same recording; another seed, another).
#![allow(clippy::unwrap_used)]

mod common;
use chaos_plan::*;
use chaos_report::Recording;
use chaos_sim::{SimOptions, simulate_with};
use common::*;
use proptest::prelude::*;

fn ep(name: &str) -> Endpoint {
    Endpoint {
        name: name.into(),
        steps: vec![work(exp(0.004))],
    }
}

/// A plan using every feature at once: fan-out, choice, fail, timeouts, retries with jitter,
/// breakers, on_error continue, rate limits, bounded queues, autoscaling, every fault kind,
/// open and closed workloads with ramps, spikes and client timeouts.
fn kitchen_sink() -> Plan {
    let d = 120.0;
    let policy = |service: &str, endpoint: &str, timeout: f64, retries: u32| Call {
        timeout_s: Some(timeout),
        retry: Retry {
            retries,
            backoff: Backoff::Exponential {
                base_s: 0.01,
                max_s: Some(0.05),
            },
            jitter: Jitter::Full,
        },
        ..call(service, endpoint)
    };
    let mut gateway = service(
        "gateway",
        2,
        16,
        vec![
            work(exp(0.002)),
            Step::Call(policy("cart", "GET /", 0.05, 2)),
            Step::Parallel {
                steps: vec![
                    Step::Call(Call {
                        circuit_breaker: Some(CircuitBreaker {
                            failure_ratio: 0.5,
                            window_s: 5.0,
                            min_requests: 10,
                            open_s: 3.0,
                        }),
                        ..policy("payments", "POST /charge", 0.2, 1)
                    }),
                    Step::Call(Call {
                        continue_on_error: true,
                        ..policy("inventory", "GET /", 0.1, 0)
                    }),
                ],
            },
            Step::Fail {
                probability: 0.01,
                status: 500,
            },
        ],
    );
    gateway.queue = Some(50);
    gateway.balance = Balance::LeastRequest;
    gateway.rate_limit_per_s = Some(250.0);
    let mut cart = service("cart", 2, 4, vec![work(exp(0.003))]);
    cart.balance = Balance::Random;
    cart.restart_s = 2.0;
    let mut payments = service("payments", 2, 4, vec![]);
    payments.endpoints = vec![ep("POST /charge")];
    payments.replicas = Replicas::Autoscale {
        min: 2,
        max: 5,
        rule: chaos_plan::ScaleRule::Target { utilisation: 0.5 },
        delay_s: 2.0,
        interval_s: 5.0,
    };
    payments.queue = Some(20);
    let inventory = service(
        "inventory",
        1,
        8,
        vec![
            work(Dist::Normal {
                mean_s: 0.004,
                stddev_s: 0.001,
            }),
            Step::Choice {
                branches: vec![
                    Branch {
                        probability: 0.3,
                        steps: vec![Step::Call(policy("db", "GET /", 0.05, 1))],
                    },
                    Branch {
                        probability: 0.7,
                        steps: vec![work(constant(0.001))],
                    },
                ],
            },
        ],
    );
    let db = service(
        "db",
        1,
        8,
        vec![work(Dist::Lognormal {
            median_s: 0.005,
            p99_s: 0.04,
        })],
    );
    let mut shoppers = open("shoppers", "gateway", 0.0, d);
    shoppers.load = Load::Open {
        rate: vec![
            RatePiece {
                start_s: 0.0,
                end_s: 30.0,
                from_per_s: 20.0,
                to_per_s: 150.0,
            },
            RatePiece {
                start_s: 30.0,
                end_s: d,
                from_per_s: 150.0,
                to_per_s: 150.0,
            },
        ],
        spikes: vec![Spike {
            start_s: 60.0,
            end_s: 65.0,
            rate_per_s: 400.0,
        }],
        arrivals: Arrivals::Poisson,
    };
    shoppers.timeout_s = Some(1.0);
    let mut users = closed("users", "gateway", 0, exp(0.2));
    users.load = Load::Closed {
        users_from: 5,
        users_to: 30,
        ramp_start_s: 10.0,
        ramp_s: 40.0,
        think: exp(0.2),
    };
    users.timeout_s = Some(0.5);
    let mut p = plan(
        d,
        vec![gateway, cart, payments, inventory, db],
        vec![shoppers, users],
    );
    p.scenario.drain_s = 1.0;
    let t = |s: &str| target(s);
    p.faults = vec![
        fault(
            "slow",
            20.0,
            35.0,
            vec![Action::Latency {
                target: t("cart"),
                delay: exp(0.03),
            }],
        ),
        fault(
            "flaky",
            30.0,
            50.0,
            vec![Action::Errors {
                target: t("payments"),
                ratio: 0.6,
                status: 503,
            }],
        ),
        fault(
            "split",
            55.0,
            60.0,
            vec![Action::Partition {
                a: vec!["gateway".into()],
                b: vec!["inventory".into()],
            }],
        ),
        fault(
            "hot",
            70.0,
            80.0,
            vec![
                Action::Cpu {
                    target: t("payments"),
                    factor: 4.0,
                },
                Action::Loss {
                    target: t("db"),
                    ratio: 0.2,
                },
            ],
        ),
        fault(
            "leak",
            80.0,
            d,
            vec![Action::Memory {
                service: "cart".into(),
                bytes_per_s: 1e6,
                limit_bytes: 5e6,
                replicas: None,
            }],
        ),
        Fault {
            name: "monkey".into(),
            occurrences: (1..6)
                .map(|k| Occurrence {
                    start_s: 15.0 * f64::from(k),
                    end_s: 15.0 * f64::from(k),
                })
                .collect(),
            active: vec![],
            actions: vec![Action::Kill {
                count: 1,
                services: vec!["cart".into(), "payments".into(), "inventory".into()],
            }],
        },
    ];
    p
}

fn check_every_request_ends_once(p: &Plan, seed: u64) -> Recording {
    let (rec, stats) = simulate_with(p, seed, &SimOptions::default(), &mut |_| {}).unwrap();
    for (i, key) in rec.subjects.iter().enumerate() {
        let finished: u64 = rec.windows.iter().map(|w| w.subjects[i].requests()).sum();
        let in_hist: u64 = rec
            .windows
            .iter()
            .map(|w| w.subjects[i].latency.count())
            .sum();
        assert_eq!(
            finished, stats.sent[i],
            "{key:?}: sent {} finished {finished}",
            stats.sent[i]
        );
        assert_eq!(
            in_hist, finished,
            "{key:?}: every finished request has a latency"
        );
    }
    for w in &rec.windows {
        for s in &w.services {
            assert!((0.0..=1.0).contains(&s.utilisation), "{s:?}");
            assert!(s.queue_mean >= 0.0 && s.queue_mean.is_finite(), "{s:?}");
            assert!(s.replicas <= s.max_replicas, "{s:?}");
        }
    }
    rec
}

#[test]
fn kitchen_sink_every_request_ends_exactly_once() {
    let p = kitchen_sink();
    let rec = check_every_request_ends_once(&p, 1);
    let sum = |key, cause: chaos_report::Cause| {
        let i = rec.subject_index(&key).unwrap();
        rec.windows
            .iter()
            .map(|w| w.subjects[i].errors[cause.index()])
            .sum::<u64>()
    };
    use chaos_report::Cause::*;
    let ep = |s: &str, e: &str| chaos_report::SubjectKey::Endpoint {
        service: s.into(),
        endpoint: e.into(),
    };
    // Every mechanism was exercised.
    assert!(sum(ep("payments", "POST /charge"), Injected) > 0);
    assert!(sum(ep("payments", "POST /charge"), CircuitOpen) > 0);
    assert!(sum(ep("inventory", "GET /"), Connection) > 0);
    assert!(sum(ep("db", "GET /"), Timeout) > 0);
    assert!(sum(ep("gateway", "GET /"), Failed) > 0);
    assert!(sum(ep("gateway", "GET /"), RateLimited) > 0);
    let killed = sum(ep("cart", "GET /"), Killed)
        + sum(ep("payments", "POST /charge"), Killed)
        + sum(ep("inventory", "GET /"), Killed);
    assert!(killed > 0);
    let pay = rec.service_index("payments").unwrap();
    let max = rec
        .windows
        .iter()
        .map(|w| w.services[pay].max_replicas)
        .max()
        .unwrap();
    assert!((2..=5).contains(&max), "{max}");
}

/// The kitchen sink with issue 14 on top: priorities (inherited and per call), LIFO and a
/// small queue that sheds, health checks, ejection, a `send`, watermarks, faults `on N of S`.
fn resilience_sink() -> Plan {
    let mut p = kitchen_sink();
    p.workloads[0].priority = 2;
    let gateway = &mut p.services[0];
    gateway.endpoints[0].steps.insert(
        1,
        Step::Send {
            service: "db".into(),
            endpoint: "GET /".into(),
        },
    );
    if let Step::Call(c) = &mut gateway.endpoints[0].steps[2] {
        c.priority = Some(4);
    }
    let cart = &mut p.services[1];
    cart.discipline = Discipline::Lifo;
    cart.queue = Some(5);
    cart.health_check = Some(HealthCheck {
        every_s: 1.0,
        timeout_s: 0.02,
        unhealthy: 2,
        healthy: 2,
    });
    cart.eject = Some(Eject {
        after: 3,
        for_s: 5.0,
        max_fraction: 0.5,
    });
    let payments = &mut p.services[2];
    payments.replicas = Replicas::Autoscale {
        min: 2,
        max: 5,
        rule: ScaleRule::Watermarks { up: 0.6, down: 0.2 },
        delay_s: 2.0,
        interval_s: 5.0,
    };
    payments.health_check = fast_checks();
    payments.eject = Some(Eject {
        after: 2,
        for_s: 3.0,
        max_fraction: 0.5,
    });
    for f in &mut p.faults {
        for a in &mut f.actions {
            match a {
                Action::Latency { target, .. } | Action::Errors { target, .. } => {
                    target.replicas = Some(ReplicaSubset::Count { count: 1 });
                }
                Action::Cpu { target, .. } => {
                    target.replicas = Some(ReplicaSubset::Fraction { fraction: 0.5 });
                }
                Action::Memory { replicas, .. } => {
                    *replicas = Some(ReplicaSubset::Count { count: 1 });
                }
                _ => {}
            }
        }
    }
    p
}

fn fast_checks() -> Option<HealthCheck> {
    Some(HealthCheck {
        every_s: 0.5,
        timeout_s: 0.01,
        unhealthy: 1,
        healthy: 1,
    })
}

#[test]
fn resilience_sink_every_request_ends_once_and_is_deterministic() {
    let p = resilience_sink();
    let rec = check_every_request_ends_once(&p, 1);
    let sum = |cause: chaos_report::Cause| {
        rec.windows
            .iter()
            .flat_map(|w| &w.subjects)
            .map(|s| s.errors[cause.index()])
            .sum::<u64>()
    };
    assert!(sum(chaos_report::Cause::Injected) > 0);
    assert!(sum(chaos_report::Cause::Killed) > 0);
    let again = chaos_sim::simulate(&p, 1).unwrap();
    assert_eq!(
        serde_json::to_string(&rec).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
    let other = chaos_sim::simulate(&p, 2).unwrap();
    assert_ne!(rec.windows, other.windows);
}

#[test]
fn same_seed_same_recording_other_seed_other() {
    let p = kitchen_sink();
    let a = chaos_sim::simulate(&p, 7).unwrap();
    let b = chaos_sim::simulate(&p, 7).unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let c = chaos_sim::simulate(&p, 8).unwrap();
    assert_ne!(a.windows, c.windows);
    // Parallel runs give the same recordings as sequential ones.
    let many = chaos_sim::simulate_many(&p, &[7, 8]);
    assert_eq!(many[0].as_ref().unwrap(), &a);
    assert_eq!(many[1].as_ref().unwrap(), &c);
}

/// Little's law, L = λW, per service: the time-average number of requests at a service
/// (queued + being served, from the samples) equals its arrival rate times the mean time a
/// request spends there (the endpoint's latency: no wire delay or timeouts in this plan).
/// The gateway holds its worker during its downstream call, so its W includes the backend's.
#[test]
fn littles_law_per_service() {
    let d = 1500.0;
    let p = plan(
        d,
        vec![
            service(
                "gateway",
                2,
                3,
                vec![work(exp(0.004)), Step::Call(call("backend", "GET /"))],
            ),
            service("backend", 1, 2, vec![work(exp(0.012))]),
        ],
        vec![open("clients", "gateway", 120.0, d)],
    );
    let recs = runs(&p, &[1, 2]);
    for (svc, workers) in [("gateway", 6.0), ("backend", 2.0)] {
        let s = merged(&recs, &endpoint(svc), WARMUP, d);
        let (u, q) = merged_service(&recs, svc, WARMUP, d);
        let l = q + u * workers;
        let lambda = s.n() as f64 / ((d - WARMUP) * 2.0);
        let lw = lambda * s.mean();
        assert!(rel(l, lw) < 0.03, "{svc}: L {l} vs λW {lw}");
    }
}
const WARMUP: f64 = 50.0;

// One argument per generated dimension, as proptest draws them.
#[allow(clippy::too_many_arguments)]
fn small_plan(
    workers: u32,
    queue: Option<u32>,
    rate: f64,
    timeout: Option<f64>,
    retries: u32,
    fault_kind: u8,
    balance: u8,
    extras: u8,
) -> Plan {
    let d = 40.0;
    let mut front = service(
        "front",
        2,
        workers,
        vec![
            work(exp(0.005)),
            Step::Call(Call {
                timeout_s: timeout,
                retry: Retry {
                    retries,
                    backoff: Backoff::Constant { delay_s: 0.01 },
                    jitter: Jitter::Equal,
                },
                ..call("back", "GET /")
            }),
        ],
    );
    front.queue = queue;
    front.balance =
        [Balance::RoundRobin, Balance::Random, Balance::LeastRequest][balance as usize % 3];
    let mut back = service("back", 2, workers, vec![work(exp(0.02))]);
    back.balance = front.balance;
    let mut load = open("load", "front", rate, d);
    load.timeout_s = timeout.map(|t| t * 3.0);
    // Issue 14, by bit: priorities with LIFO and a small queue, health checks, ejection,
    // faults `on 1 of back`, a send.
    if extras & 1 != 0 {
        load.priority = 3;
        back.discipline = Discipline::Lifo;
        back.queue = Some(3);
        if let Step::Call(c) = &mut front.endpoints[0].steps[1] {
            c.priority = Some(1);
        }
    }
    if extras & 2 != 0 {
        back.health_check = Some(HealthCheck {
            every_s: 0.5,
            timeout_s: 0.02,
            unhealthy: 2,
            healthy: 2,
        });
    }
    if extras & 4 != 0 {
        back.eject = Some(Eject {
            after: 2,
            for_s: 2.0,
            max_fraction: 0.5,
        });
    }
    if extras & 16 != 0 {
        front.endpoints[0].steps.push(Step::Send {
            service: "back".into(),
            endpoint: "GET /".into(),
        });
    }
    let mut p = plan(d, vec![front, back], vec![load]);
    p.scenario.drain_s = timeout.map_or(2.0, |t| t * 3.0);
    let action = match fault_kind % 7 {
        0 => Action::Latency {
            target: target("back"),
            delay: constant(0.05),
        },
        1 => Action::Errors {
            target: target("back"),
            ratio: 0.5,
            status: 503,
        },
        2 => Action::Kill {
            count: 1,
            services: vec!["back".into()],
        },
        3 => Action::Partition {
            a: vec!["front".into()],
            b: vec!["back".into()],
        },
        4 => Action::Cpu {
            target: target("back"),
            factor: 5.0,
        },
        5 => Action::Loss {
            target: target("back"),
            ratio: 0.3,
        },
        _ => Action::Memory {
            service: "back".into(),
            bytes_per_s: 1e6,
            limit_bytes: 2e6,
            replicas: None,
        },
    };
    let mut action = action;
    if extras & 8 != 0 {
        let one = Some(ReplicaSubset::Count { count: 1 });
        match &mut action {
            Action::Latency { target, .. }
            | Action::Errors { target, .. }
            | Action::Cpu { target, .. }
            | Action::Loss { target, .. } => target.replicas = one,
            Action::Memory { replicas, .. } => *replicas = one,
            _ => {}
        }
    }
    let end = if matches!(action, Action::Kill { .. }) {
        10.0
    } else {
        20.0
    };
    p.faults = vec![fault("f", 10.0, end, vec![action])];
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_plan_ends_every_request_once(
        workers in 1u32..6,
        queue in proptest::option::of(0u32..20),
        rate in 1.0f64..300.0,
        timeout in proptest::option::of(0.01f64..0.5),
        retries in 0u32..3,
        fault_kind in 0u8..7,
        balance in 0u8..3,
        extras in 0u8..32,
        seed in 0u64..1000,
    ) {
        let p = small_plan(workers, queue, rate, timeout, retries, fault_kind, balance, extras);
        check_every_request_ends_once(&p, seed);
    }
}
