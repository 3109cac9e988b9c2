//! Faults, call policies, workloads and the end of the run, each checked on a small plan
//! whose right answer is known exactly or within a tight statistical band.
#![allow(clippy::unwrap_used)]

mod common;
use chaos_plan::*;
use chaos_report::{Cause, Recording};
use common::*;

fn window_stats(rec: &Recording, key: &chaos_report::SubjectKey, from: f64, to: f64) -> Summary {
    summary(rec, key, from, to)
}

fn cause(s: &Summary, c: Cause) -> u64 {
    s.stats.errors[c.index()]
}

fn two_tier(front_steps: Vec<Step>, back_work: Dist, rate: f64, d: f64) -> Plan {
    plan(
        d,
        vec![
            service("front", 1, 64, front_steps),
            service("back", 1, 64, vec![work(back_work)]),
        ],
        vec![open("load", "front", rate, d)],
    )
}

#[test]
fn sequential_and_parallel_calls_add_and_overlap() {
    let d = 20.0;
    let seq = vec![
        work(constant(0.001)),
        Step::Call(call("a", "GET /")),
        Step::Call(call("b", "GET /")),
    ];
    let par = vec![
        work(constant(0.001)),
        Step::Parallel {
            steps: vec![
                Step::Call(call("a", "GET /")),
                Step::Call(call("b", "GET /")),
            ],
        },
    ];
    for (steps, expected) in [(seq, 0.031), (par, 0.021)] {
        let p = plan(
            d,
            vec![
                service("front", 1, 1000, steps),
                service("a", 1, 1000, vec![work(constant(0.010))]),
                service("b", 1, 1000, vec![work(constant(0.020))]),
            ],
            vec![open("load", "front", 50.0, d)],
        );
        let rec = chaos_sim::simulate(&p, 1).unwrap();
        let s = window_stats(&rec, &endpoint("front"), 0.0, d + 30.0);
        assert!(s.n() > 800);
        assert!(
            (s.latency.min_s().unwrap() - expected).abs() < 1e-4,
            "{}",
            s.latency.min_s().unwrap()
        );
        assert!(
            (s.latency.max_s().unwrap() - expected).abs() < 1e-4,
            "{}",
            s.latency.max_s().unwrap()
        );
    }
}

#[test]
fn choice_fail_and_on_error_continue() {
    let d = 200.0;
    let steps = vec![Step::Choice {
        branches: vec![
            Branch {
                probability: 0.3,
                steps: vec![work(constant(0.002))],
            },
            Branch {
                probability: 0.7,
                steps: vec![Step::Fail {
                    probability: 0.5,
                    status: 500,
                }],
            },
        ],
    }];
    let rec = chaos_sim::simulate(&two_tier(steps, Dist::ZERO, 100.0, d), 3).unwrap();
    let s = window_stats(&rec, &endpoint("front"), 0.0, d + 30.0);
    let failed = cause(&s, Cause::Failed) as f64 / s.n() as f64;
    assert!((failed - 0.35).abs() < 0.015, "{failed}");
    let slow = s.n() as f64 - s.latency.quantile_s(0.69).map(|_| 0.0).unwrap();
    assert!(slow > 0.0);
    // A failing call with `on_error continue` does not fail the endpoint.
    let steps = vec![Step::Call(Call {
        continue_on_error: true,
        ..call("back", "GET /")
    })];
    let mut p = two_tier(steps, constant(0.001), 50.0, 20.0);
    p.faults = vec![fault(
        "e",
        0.0,
        20.0,
        vec![Action::Errors {
            target: target("back"),
            ratio: 1.0,
            status: 500,
        }],
    )];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    assert_eq!(
        window_stats(&rec, &endpoint("front"), 0.0, 60.0).errors(),
        0
    );
    let back = window_stats(&rec, &endpoint("back"), 0.0, 60.0);
    assert_eq!(cause(&back, Cause::Injected), back.n());
}

#[test]
fn retries_multiply_attempts_and_hide_errors() {
    // Half the attempts fail with an injected 503; with 2 retries a call fails only when
    // all three attempts do: 1/8. Attempts per call: 1 + 1/2 + 1/4 = 1.75.
    let d = 400.0;
    let steps = vec![Step::Call(Call {
        retry: Retry {
            retries: 2,
            backoff: Backoff::Exponential {
                base_s: 0.01,
                max_s: None,
            },
            jitter: Jitter::None,
        },
        ..call("back", "GET /")
    })];
    let mut p = two_tier(steps, constant(0.001), 100.0, d);
    p.faults = vec![fault(
        "flaky",
        0.0,
        d,
        vec![Action::Errors {
            target: target("back"),
            ratio: 0.5,
            status: 503,
        }],
    )];
    let rec = chaos_sim::simulate(&p, 5).unwrap();
    let front = window_stats(&rec, &endpoint("front"), 0.0, d + 30.0);
    let back = window_stats(&rec, &endpoint("back"), 0.0, d + 30.0);
    let fail = front.errors() as f64 / front.n() as f64;
    assert!((fail - 0.125).abs() < 0.01, "{fail}");
    assert_eq!(cause(&front, Cause::Downstream), front.errors());
    let per_call = back.n() as f64 / front.n() as f64;
    assert!((per_call - 1.75).abs() < 0.02, "{per_call}");
    // Backoffs of 10 ms then 20 ms (exponential) hold the caller; injected errors answer at
    // once, so the slowest success is 10 + 20 ms of backoff and one 1 ms attempt.
    assert!(
        (front.latency.max_s().unwrap() - 0.031).abs() < 1e-4,
        "{}",
        front.latency.max_s().unwrap()
    );
}

#[test]
fn call_timeout_abandons_but_callee_keeps_working() {
    // back takes 30 ms; the caller waits 10 ms per attempt, so every call times out, and
    // back still does all the work (orphans): its utilisation counts them.
    let d = 100.0;
    let steps = vec![Step::Call(Call {
        timeout_s: Some(0.010),
        ..call("back", "GET /")
    })];
    let p = two_tier(steps, constant(0.030), 10.0, d);
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let back = window_stats(&rec, &endpoint("back"), 0.0, d + 30.0);
    assert_eq!(cause(&back, Cause::Timeout), back.n());
    assert!((back.latency.max_s().unwrap() - 0.010).abs() < 1e-4);
    let (u, _) = service_means(&rec, "back", 10.0, d);
    // 10/s × 30 ms over 64 workers.
    assert!((u - 10.0 * 0.030 / 64.0).abs() < 0.001, "{u}");
}

#[test]
fn latency_fault_adds_wire_delay_without_holding_workers() {
    let d = 60.0;
    let mut p = two_tier(
        vec![Step::Call(call("back", "GET /"))],
        constant(0.005),
        50.0,
        d,
    );
    p.faults = vec![fault(
        "slow",
        20.0,
        40.0,
        vec![Action::Latency {
            target: target("back"),
            delay: constant(0.1),
        }],
    )];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let before = window_stats(&rec, &endpoint("back"), 1.0, 19.0);
    let during = window_stats(&rec, &endpoint("back"), 21.0, 39.0);
    let after = window_stats(&rec, &endpoint("back"), 41.0, 60.0);
    assert!((before.mean() - 0.005).abs() < 1e-4);
    assert!((during.mean() - 0.105).abs() < 1e-4, "{}", during.mean());
    assert!((after.mean() - 0.005).abs() < 1e-4);
    // Workers are held only for the work: utilisation is unchanged during the fault.
    let (u_before, _) = service_means(&rec, "back", 1.0, 19.0);
    let (u_during, _) = service_means(&rec, "back", 21.0, 39.0);
    assert!((u_before - u_during).abs() < 0.001, "{u_before} {u_during}");
}

#[test]
fn cpu_fault_scales_work_started_while_active() {
    let d = 60.0;
    let mut p = two_tier(vec![work(constant(0.004))], Dist::ZERO, 20.0, d);
    p.faults = vec![
        fault(
            "hot",
            20.0,
            40.0,
            vec![Action::Cpu {
                target: target("front"),
                factor: 3.0,
            }],
        ),
        fault(
            "hotter",
            30.0,
            40.0,
            vec![Action::Cpu {
                target: target("front"),
                factor: 2.0,
            }],
        ),
    ];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let mean = |a, b| window_stats(&rec, &endpoint("front"), a, b).mean();
    assert!((mean(1.0, 19.0) - 0.004).abs() < 1e-5);
    assert!((mean(21.0, 29.0) - 0.012).abs() < 1e-5);
    // Overlapping cpu faults multiply.
    assert!((mean(31.0, 39.0) - 0.024).abs() < 1e-5);
    assert!((mean(41.0, 59.0) - 0.004).abs() < 1e-5);
}

#[test]
fn errors_loss_and_partition_during_their_window_only() {
    let d = 300.0;
    let steps = vec![Step::Call(Call {
        timeout_s: Some(0.05),
        ..call("back", "GET /")
    })];
    let mut p = two_tier(steps, constant(0.001), 100.0, d);
    p.faults = vec![
        fault(
            "errors",
            0.0,
            100.0,
            vec![Action::Errors {
                target: target("back"),
                ratio: 0.2,
                status: 503,
            }],
        ),
        fault(
            "loss",
            100.0,
            200.0,
            vec![Action::Loss {
                target: target("back"),
                ratio: 0.1,
            }],
        ),
        fault(
            "split",
            200.0,
            250.0,
            vec![Action::Partition {
                a: vec!["front".into()],
                b: vec!["back".into()],
            }],
        ),
    ];
    let rec = chaos_sim::simulate(&p, 9).unwrap();
    let back = |a, b| window_stats(&rec, &endpoint("back"), a, b);
    let e = back(0.0, 100.0);
    let injected = cause(&e, Cause::Injected) as f64 / e.n() as f64;
    assert!((injected - 0.2).abs() < 0.01, "{injected}");
    assert_eq!(e.errors(), cause(&e, Cause::Injected));
    let l = back(101.0, 200.0);
    let lost = cause(&l, Cause::Timeout) as f64 / l.n() as f64;
    assert!((lost - 0.1).abs() < 0.01, "{lost}");
    let s = back(200.0, 250.0);
    assert_eq!(cause(&s, Cause::Connection), s.n());
    assert_eq!(
        s.latency.max_s().unwrap(),
        1e-6,
        "connection errors are immediate (1 us floor)"
    );
    assert_eq!(back(251.0, 300.0).errors(), 0);
}

#[test]
fn kill_fails_in_flight_work_and_the_replica_restarts() {
    let d = 40.0;
    let mut p = plan(
        d,
        vec![service("server", 2, 4, vec![work(constant(0.5))])],
        vec![open("load", "server", 8.0, d)],
    );
    p.services[0].restart_s = 5.0;
    p.faults = vec![Fault {
        name: "crash".into(),
        occurrences: vec![Occurrence {
            start_s: 10.0,
            end_s: 10.0,
        }],
        active: vec![],
        actions: vec![Action::Kill {
            count: 1,
            services: vec!["server".into()],
        }],
    }];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let s = rec.service_index("server").unwrap();
    let replicas: Vec<u32> = rec.windows.iter().map(|w| w.services[s].replicas).collect();
    assert_eq!(&replicas[8..17], &[2, 2, 1, 1, 1, 1, 1, 2, 2]);
    let w10 = window_stats(&rec, &endpoint("server"), 10.0, 11.0);
    assert!(cause(&w10, Cause::Killed) > 0);
    assert_eq!(window_stats(&rec, &endpoint("server"), 11.0, d).errors(), 0);
}

#[test]
fn memory_leak_kills_at_the_limit_and_grows_again_after_restart() {
    let d = 60.0;
    let mut p = plan(
        d,
        vec![service("server", 1, 4, vec![work(constant(0.01))])],
        vec![open("load", "server", 10.0, d)],
    );
    p.services[0].restart_s = 2.0;
    p.faults = vec![fault(
        "leak",
        10.0,
        d,
        vec![Action::Memory {
            service: "server".into(),
            bytes_per_s: 1e6,
            limit_bytes: 8e6,
            replicas: None,
        }],
    )];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let s = rec.service_index("server").unwrap();
    // Killed at 18 s, back at 20 s, killed at 28 s, back at 30 s, ...
    let down: Vec<usize> = (0..60)
        .filter(|&i| rec.windows[i].services[s].replicas == 0)
        .collect();
    assert_eq!(down, vec![18, 19, 28, 29, 38, 39, 48, 49, 58, 59]);
    let conn = window_stats(&rec, &endpoint("server"), 18.0, 20.0);
    // No live replica: connection errors (a request in flight at the kill fails as killed).
    assert_eq!(
        cause(&conn, Cause::Connection) + cause(&conn, Cause::Killed),
        conn.n()
    );
    assert!(cause(&conn, Cause::Connection) + 2 >= conn.n());
}

#[test]
fn circuit_breaker_opens_then_probes() {
    let d = 30.0;
    let steps = vec![Step::Call(Call {
        circuit_breaker: Some(CircuitBreaker {
            failure_ratio: 0.5,
            window_s: 10.0,
            min_requests: 20,
            open_s: 5.0,
        }),
        ..call("back", "GET /")
    })];
    let mut p = two_tier(steps, constant(0.001), 100.0, d);
    p.faults = vec![fault(
        "down",
        10.0,
        d,
        vec![Action::Errors {
            target: target("back"),
            ratio: 1.0,
            status: 503,
        }],
    )];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let back = window_stats(&rec, &endpoint("back"), 10.0, d);
    // The last 10 s hold ~1000 successes, so failures reach half of the window after ~5 s
    // (~500 failures); then one probe per 5 s reaches back (and fails, reopening it).
    let injected = cause(&back, Cause::Injected);
    assert!((470..=530).contains(&injected), "{injected}");
    let late = window_stats(&rec, &endpoint("back"), 16.0, d);
    assert!(
        (2..=3).contains(&cause(&late, Cause::Injected)),
        "{}",
        cause(&late, Cause::Injected)
    );
    assert!(cause(&late, Cause::CircuitOpen) > 1300);
    // Circuit-open attempts are not retried and fail at once.
    let front = window_stats(&rec, &endpoint("front"), 11.0, d);
    assert_eq!(front.errors(), front.n());
}

#[test]
fn rate_limit_and_bounded_queue_reject() {
    let d = 200.0;
    let mut p = plan(
        d,
        vec![service("server", 1, 1000, vec![work(constant(0.001))])],
        vec![open("load", "server", 200.0, d)],
    );
    p.services[0].rate_limit_per_s = Some(100.0);
    let rec = chaos_sim::simulate(&p, 2).unwrap();
    let s = window_stats(&rec, &endpoint("server"), 10.0, d);
    let ok_rate = s.stats.ok as f64 / (d - 10.0);
    assert!((ok_rate - 100.0).abs() < 2.0, "{ok_rate}");
    assert_eq!(cause(&s, Cause::RateLimited), s.errors());
}

#[test]
fn autoscaler_follows_utilisation_within_bounds() {
    let d = 300.0;
    let mut p = plan(
        d,
        vec![service("server", 1, 4, vec![work(exp(0.1))])],
        vec![open("load", "server", 0.0, d)],
    );
    p.services[0].replicas = Replicas::Autoscale {
        min: 1,
        max: 6,
        rule: chaos_plan::ScaleRule::Target { utilisation: 0.5 },
        delay_s: 5.0,
        interval_s: 10.0,
    };
    // 80/s × 0.1 s = 8 busy workers: at 50% target, 16 workers = 4 replicas; then 8/s: min.
    p.workloads[0].load = Load::Open {
        rate: vec![
            RatePiece {
                start_s: 0.0,
                end_s: 150.0,
                from_per_s: 80.0,
                to_per_s: 80.0,
            },
            RatePiece {
                start_s: 150.0,
                end_s: d,
                from_per_s: 8.0,
                to_per_s: 8.0,
            },
        ],
        spikes: vec![],
        arrivals: Arrivals::Poisson,
    };
    let rec = chaos_sim::simulate(&p, 4).unwrap();
    let s = rec.service_index("server").unwrap();
    let at = |t: usize| rec.windows[t].services[s].replicas;
    assert_eq!(at(0), 1);
    assert!((4..=5).contains(&at(140)), "{}", at(140));
    assert_eq!(at(290), 1);
    assert!(rec.windows.iter().all(|w| w.services[s].max_replicas <= 6));
}

#[test]
fn uniform_arrivals_follow_the_rate_exactly_and_closed_users_ramp() {
    let d = 100.0;
    let mut p = plan(
        d,
        vec![service("server", 1, 1000, vec![work(constant(0.001))])],
        vec![open("load", "server", 0.0, d)],
    );
    p.workloads[0].load = Load::Open {
        rate: vec![RatePiece {
            start_s: 0.0,
            end_s: d,
            from_per_s: 0.0,
            to_per_s: 100.0,
        }],
        spikes: vec![Spike {
            start_s: 50.0,
            end_s: 60.0,
            rate_per_s: 30.0,
        }],
        arrivals: Arrivals::Uniform,
    };
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    // ∫ rate = 100 × 100 / 2 + 30 × 10 = 5300 requests.
    let n = window_stats(&rec, &workload("load"), 0.0, d + 30.0).n();
    assert!((5299..=5300).contains(&n), "{n}");
    // Window [90, 91): rate 90..91/s.
    let w = window_stats(&rec, &workload("load"), 90.0, 91.0).n();
    assert!((90..=91).contains(&w), "{w}");

    // Closed loop, 0 -> 20 users over [10, 30], think 1 s, 1 ms service: throughput ≈ users.
    let mut p = plan(
        60.0,
        vec![service("server", 1, 1000, vec![work(constant(0.001))])],
        vec![closed("users", "server", 0, constant(1.0))],
    );
    p.workloads[0].load = Load::Closed {
        users_from: 0,
        users_to: 20,
        ramp_start_s: 10.0,
        ramp_s: 20.0,
        think: constant(1.0),
    };
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let tp = |a: f64| window_stats(&rec, &workload("users"), a, a + 1.0).n();
    assert_eq!(tp(5.0), 0);
    assert!((9..=11).contains(&tp(20.5)), "{}", tp(20.5));
    assert!((19..=20).contains(&tp(50.0)), "{}", tp(50.0));
}

#[test]
fn end_of_run_drains_then_counts_unfinished() {
    // Every request is lost and nobody times out: all of them end as `unfinished` at the
    // end of the drain, in the last window, latency measured up to it.
    let d = 10.0;
    let mut p = two_tier(
        vec![Step::Call(call("back", "GET /"))],
        constant(0.001),
        10.0,
        d,
    );
    p.scenario.drain_s = 5.0;
    p.faults = vec![fault(
        "void",
        0.0,
        d,
        vec![Action::Loss {
            target: target("back"),
            ratio: 1.0,
        }],
    )];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    assert_eq!(rec.windows.len(), 15);
    assert_eq!(rec.ended_s, d);
    let last = window_stats(&rec, &workload("load"), 14.0, 15.0);
    let all = window_stats(&rec, &workload("load"), 0.0, 15.0);
    assert_eq!(cause(&last, Cause::Unfinished), all.n());
    assert!(all.latency.max_s().unwrap() <= 15.0 && all.latency.min_s().unwrap() >= 5.0);
    let back = window_stats(&rec, &endpoint("back"), 0.0, 15.0);
    assert_eq!(cause(&back, Cause::Unfinished), back.n());
}

#[test]
fn abort_stops_the_workloads_and_reverts_faults() {
    let d = 100.0;
    let mut p = two_tier(vec![work(constant(0.001))], Dist::ZERO, 50.0, d);
    p.scenario.drain_s = 2.0;
    p.faults = vec![fault(
        "broken",
        20.0,
        d,
        vec![Action::Errors {
            target: target("front"),
            ratio: 1.0,
            status: 500,
        }],
    )];
    p.aborts = vec![Abort {
        text: "error_rate(load) > 50% for 3s".into(),
        metric: Metric::ErrorRate,
        subject: Subject::Workload {
            workload: "load".into(),
        },
        op: Comparison::Gt,
        threshold: 0.5,
        for_s: 3.0,
    }];
    let rec = chaos_sim::simulate(&p, 1).unwrap();
    let a = rec.aborted.as_ref().unwrap();
    assert_eq!(a.at_s, 23.0);
    assert_eq!(rec.ended_s, 23.0);
    assert_eq!(rec.windows.len(), 25);
    assert_eq!(window_stats(&rec, &workload("load"), 23.0, 25.0).n(), 0);
}
