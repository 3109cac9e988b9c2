//! Plans for the back end's tests, built in Rust (on chaos-test-support's `plans`) the way the
//! compiler lowers the spec examples (`scenarios/spec/*.chaos`), plus one plan that uses every
//! fault action.
#![allow(dead_code)]

use chaos_plan::*;
use chaos_test_support::plans;

/// Whether the `kubernetes-validate` tool is on the PATH; when not, says which test is skipped
/// and how to install the tool.
pub fn kubernetes_validate_installed(test: &str) -> bool {
    let probe = std::process::Command::new("kubernetes-validate")
        .arg("--version")
        .output();
    let installed = matches!(&probe, Ok(o) if o.status.success());
    if !installed {
        eprintln!(
            "SKIPPED {test}: `kubernetes-validate` is not installed; \
             install it with `python3 -m pip install kubernetes-validate==1.37.0`"
        );
    }
    installed
}

pub use chaos_test_support::plans::{endpoint, fault};

pub fn scenario(name: &str, duration_s: f64, warmup_s: f64, seed: u64, drain_s: f64) -> Scenario {
    Scenario {
        name: name.into(),
        warmup_s,
        seed,
        drain_s,
        ..plans::scenario(duration_s)
    }
}

/// `count` replicas restarting after 5 s, the compiler's default.
pub fn fixed(
    name: &str,
    count: u32,
    workers: u32,
    latency: Dist,
    endpoints: Vec<Endpoint>,
) -> Service {
    Service {
        replicas: Replicas::Fixed { count },
        workers,
        restart_s: 5.0,
        latency,
        ..plans::service(name, endpoints)
    }
}

pub fn work(dist: Dist) -> Step {
    Step::Work { dist }
}

pub fn call(service: &str, endpoint: &str, timeout_s: Option<f64>, retry: Retry) -> Step {
    Step::Call(Call {
        timeout_s,
        retry,
        ..plans::call(service, endpoint)
    })
}

pub fn on(service: &str, endpoint: Option<&str>) -> Target {
    Target {
        endpoint: endpoint.map(Into::into),
        ..plans::on(service)
    }
}

pub fn open(rate_per_s: f64, duration_s: f64) -> Load {
    Load::Open {
        rate: vec![plans::ramp(0.0, duration_s, rate_per_s, rate_per_s)],
        spikes: vec![],
        arrivals: Arrivals::Poisson,
    }
}

pub fn workload(
    name: &str,
    service: &str,
    endpoint: &str,
    load: Load,
    timeout_s: Option<f64>,
) -> Workload {
    Workload {
        timeout_s,
        ..plans::workload(name, (service, endpoint), load)
    }
}

fn plan(
    scenario: Scenario,
    services: Vec<Service>,
    workloads: Vec<Workload>,
    faults: Vec<Fault>,
) -> Plan {
    Plan {
        scenario,
        workloads,
        faults,
        ..plans::plan(services)
    }
}

/// `checkout.chaos`.
pub fn checkout() -> Plan {
    let gateway = {
        let mut s = fixed(
            "gateway",
            3,
            64,
            Dist::ZERO,
            vec![endpoint(
                "GET /checkout",
                vec![
                    work(Dist::Lognormal {
                        median_s: 0.002,
                        p99_s: 0.012,
                    }),
                    call(
                        "cart",
                        "GET /items",
                        Some(0.3),
                        Retry {
                            retries: 1,
                            backoff: Backoff::Constant { delay_s: 0.02 },
                            jitter: Jitter::None,
                        },
                    ),
                    Step::Parallel {
                        steps: vec![
                            call("inventory", "POST /reserve", Some(0.3), Retry::NONE),
                            call(
                                "payments",
                                "POST /charge",
                                Some(0.8),
                                Retry {
                                    retries: 2,
                                    backoff: Backoff::Exponential {
                                        base_s: 0.05,
                                        max_s: Some(1.0),
                                    },
                                    jitter: Jitter::Full,
                                },
                            ),
                        ],
                    },
                ],
            )],
        );
        s.queue = Some(200);
        s.balance = Balance::LeastRequest;
        s
    };
    let cart_latency = Dist::Exponential { mean_s: 0.003 };
    let cart = fixed(
        "cart",
        2,
        16,
        cart_latency.clone(),
        vec![endpoint("GET /items", vec![work(cart_latency)])],
    );
    let inventory = fixed(
        "inventory",
        2,
        16,
        Dist::ZERO,
        vec![endpoint(
            "POST /reserve",
            vec![
                work(Dist::Normal {
                    mean_s: 0.004,
                    stddev_s: 0.001,
                }),
                Step::Choice {
                    branches: vec![
                        Branch {
                            probability: 0.3,
                            steps: vec![call("stock_db", "query", Some(0.1), Retry::NONE)],
                        },
                        Branch {
                            probability: 0.7,
                            steps: vec![work(Dist::Constant { value_s: 0.001 })],
                        },
                    ],
                },
            ],
        )],
    );
    let db_latency = Dist::Lognormal {
        median_s: 0.005,
        p99_s: 0.04,
    };
    let stock_db = fixed(
        "stock_db",
        1,
        32,
        db_latency.clone(),
        vec![endpoint("query", vec![work(db_latency)])],
    );
    let pay_latency = Dist::Exponential { mean_s: 0.012 };
    let mut payments = fixed(
        "payments",
        3,
        8,
        pay_latency.clone(),
        vec![endpoint("POST /charge", vec![work(pay_latency)])],
    );
    payments.replicas = Replicas::Autoscale {
        min: 3,
        max: 8,
        rule: chaos_plan::ScaleRule::Target { utilisation: 0.7 },
        delay_s: 20.0,
        interval_s: 15.0,
    };
    payments.queue = Some(100);
    payments.restart_s = 10.0;
    let load = Load::Open {
        rate: vec![
            RatePiece {
                start_s: 0.0,
                end_s: 120.0,
                from_per_s: 50.0,
                to_per_s: 400.0,
            },
            RatePiece {
                start_s: 120.0,
                end_s: 600.0,
                from_per_s: 400.0,
                to_per_s: 400.0,
            },
        ],
        spikes: vec![Spike {
            start_s: 300.0,
            end_s: 320.0,
            rate_per_s: 900.0,
        }],
        arrivals: Arrivals::Poisson,
    };
    plan(
        scenario(
            "checkout survives a slow payment provider",
            600.0,
            30.0,
            7,
            3.0,
        ),
        vec![gateway, cart, inventory, stock_db, payments],
        vec![workload(
            "shoppers",
            "gateway",
            "GET /checkout",
            load,
            Some(3.0),
        )],
        vec![
            fault(
                "slow_payments",
                &[(180.0, 270.0)],
                vec![Action::Cpu {
                    target: on("payments", None),
                    factor: 4.0,
                }],
            ),
            fault(
                "payments_crash",
                &[(360.0, 360.0)],
                vec![Action::Kill {
                    count: 1,
                    services: vec!["payments".into()],
                }],
            ),
            fault(
                "flaky_cart",
                &[(420.0, 480.0)],
                vec![Action::Errors {
                    target: on("cart", Some("GET /items")),
                    ratio: 0.05,
                    status: 503,
                }],
            ),
        ],
    )
}

/// `mm1.chaos`.
pub fn mm1() -> Plan {
    let latency = Dist::Exponential { mean_s: 0.01 };
    plan(
        scenario("single M/M/1 queue", 1800.0, 60.0, 1, 30.0),
        vec![fixed(
            "server",
            1,
            1,
            latency.clone(),
            vec![endpoint("GET /", vec![work(latency)])],
        )],
        vec![workload(
            "clients",
            "server",
            "GET /",
            open(80.0, 1800.0),
            None,
        )],
        vec![],
    )
}

/// `retry-storm.chaos`.
pub fn retry_storm() -> Plan {
    let latency = Dist::Exponential { mean_s: 0.01 };
    let api = fixed(
        "api",
        2,
        256,
        Dist::ZERO,
        vec![endpoint(
            "GET /search",
            vec![call(
                "backend",
                "query",
                Some(0.1),
                Retry {
                    retries: 3,
                    backoff: Backoff::Constant { delay_s: 0.01 },
                    jitter: Jitter::None,
                },
            )],
        )],
    );
    let backend = fixed(
        "backend",
        2,
        4,
        latency.clone(),
        vec![endpoint("query", vec![work(latency)])],
    );
    plan(
        scenario("retries keep a recovered backend down", 300.0, 30.0, 3, 1.0),
        vec![api, backend],
        vec![workload(
            "users",
            "api",
            "GET /search",
            open(600.0, 300.0),
            Some(1.0),
        )],
        vec![fault(
            "slow_backend",
            &[(60.0, 80.0)],
            vec![Action::Latency {
                target: on("backend", None),
                delay: Dist::Constant { value_s: 0.1 },
            }],
        )],
    )
}

/// Every fault action, an `every` fault, a closed-loop workload and two workloads on one service.
pub fn all_faults() -> Plan {
    let l = Dist::Constant { value_s: 0.002 };
    let front = fixed(
        "front",
        2,
        8,
        l.clone(),
        vec![endpoint(
            "GET /",
            vec![
                call("cart", "GET /items", Some(0.5), Retry::NONE),
                call("inventory", "GET /stock", Some(0.5), Retry::NONE),
            ],
        )],
    );
    let cart = fixed(
        "cart",
        2,
        8,
        l.clone(),
        vec![endpoint("GET /items", vec![work(l.clone())])],
    );
    let inventory = fixed(
        "inventory",
        1,
        8,
        l.clone(),
        vec![endpoint("GET /stock", vec![work(l.clone())])],
    );
    let closed = Load::Closed {
        users_from: 10,
        users_to: 40,
        ramp_start_s: 0.0,
        ramp_s: 60.0,
        think: Dist::Exponential { mean_s: 1.0 },
    };
    plan(
        scenario("Every fault, once", 600.0, 0.0, 11, 30.0),
        vec![front, cart, inventory],
        vec![
            workload("shoppers", "front", "GET /", open(100.0, 600.0), Some(2.0)),
            workload("browsers", "front", "GET /", closed, None),
        ],
        vec![
            fault(
                "monkey",
                &[(60.0, 60.0), (150.0, 150.0), (240.0, 240.0)],
                vec![Action::Kill {
                    count: 1,
                    services: vec!["cart".into(), "inventory".into()],
                }],
            ),
            fault(
                "slow_and_lossy",
                &[(120.0, 150.0)],
                vec![
                    Action::Latency {
                        target: on("cart", Some("GET /items")),
                        delay: Dist::Exponential { mean_s: 0.04 },
                    },
                    Action::Loss {
                        target: on("inventory", None),
                        ratio: 0.1,
                    },
                ],
            ),
            fault(
                "split",
                &[(300.0, 330.0)],
                vec![Action::Partition {
                    a: vec!["front".into()],
                    b: vec!["inventory".into()],
                }],
            ),
            fault(
                "hot_cpu",
                &[(360.0, 420.0)],
                vec![Action::Cpu {
                    target: on("cart", None),
                    factor: 3.0,
                }],
            ),
            fault(
                "leak",
                &[(540.0, 600.0)],
                vec![Action::Memory {
                    service: "inventory".into(),
                    bytes_per_s: 20.0 * 1048576.0,
                    limit_bytes: 512.0 * 1048576.0,
                    replicas: None,
                }],
            ),
        ],
    )
}

pub fn all() -> Vec<(&'static str, Plan)> {
    vec![
        ("checkout", checkout()),
        ("mm1", mm1()),
        ("retry-storm", retry_storm()),
        ("all-faults", all_faults()),
    ]
}
