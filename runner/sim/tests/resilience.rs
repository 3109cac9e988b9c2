//! Issue 14 in the simulator: priorities (Cobham's formula), LIFO, shedding, fire-and-forget
//! `send`, faults `on N of S`, outlier ejection, health checks and watermark autoscaling,
//! each against theory or against the same plan without the feature, side by side.
#![allow(clippy::unwrap_used)]

mod common;
use chaos_plan::*;
use chaos_report::{Cause, Recording};
use common::*;

const SEEDS: [u64; 4] = [21, 22, 23, 24];
const WARMUP: f64 = 100.0;

fn with_priority(mut w: Workload, priority: u8) -> Workload {
    w.priority = priority;
    w
}

fn on(service: &str, count: u32) -> Target {
    Target {
        replicas: Some(ReplicaSubset::Count { count }),
        ..target(service)
    }
}

fn cause(s: &Summary, c: Cause) -> u64 {
    s.stats.errors[c.index()]
}

/// Two classes on one M/M/1 server (μ = 100/s): high priority λ1 = 30/s, low λ2 = 50/s.
/// Cobham, non-preemptive: W_k = W0 / ((1 - σ_{k-1})(1 - σ_k)) + 1/μ with W0 = Σ λ_i E[S²]/2
/// = 80 × 2e-4 / 2 = 8 ms, σ1 = 0.3, σ2 = 0.8: 21.43 ms and 67.14 ms. About 1.15 M requests.
#[test]
fn two_priority_classes_follow_cobham() {
    let d = 3600.0;
    let mu = 100.0;
    let (l1, l2) = (30.0, 50.0);
    let p = plan(
        d,
        vec![service("server", 1, 1, vec![work(exp(1.0 / mu))])],
        vec![
            with_priority(open("high", "server", l1, d), 3),
            open("low", "server", l2, d),
        ],
    );
    let recs = runs(&p, &SEEDS);
    let w0 = (l1 + l2) * (2.0 / (mu * mu)) / 2.0;
    let (s1, s2) = (l1 / mu, (l1 + l2) / mu);
    let w_high = w0 / (1.0 - s1) + 1.0 / mu;
    let w_low = w0 / ((1.0 - s1) * (1.0 - s2)) + 1.0 / mu;
    let high = merged(&recs, &workload("high"), WARMUP, d);
    let low = merged(&recs, &workload("low"), WARMUP, d);
    assert!(high.n() + low.n() > 1_000_000, "{}", high.n() + low.n());
    assert!(
        rel(high.mean(), w_high) < 0.03,
        "high {} vs {w_high}",
        high.mean()
    );
    assert!(
        rel(low.mean(), w_low) < 0.03,
        "low {} vs {w_low}",
        low.mean()
    );
    // The queue is still one M/M/1 queue: its length does not depend on the order.
    let (u, lq) = merged_service(&recs, "server", WARMUP, d);
    assert!((u - 0.8).abs() < 0.005, "utilisation {u}");
    assert!(rel(lq, 3.2) < 0.05, "queue {lq}");
}

/// M/M/1 (λ = 80/s, μ = 100/s) under LIFO: the mean response is FIFO's 1/(μ-λ) = 50 ms (the
/// order does not change the work), the tail is much heavier. Both run side by side.
#[test]
fn lifo_keeps_the_mean_and_fattens_the_tail() {
    let d = 3600.0;
    let mut p = plan(
        d,
        vec![service("server", 1, 1, vec![work(exp(0.010))])],
        vec![open("clients", "server", 80.0, d)],
    );
    let fifo = merged(&runs(&p, &SEEDS), &workload("clients"), WARMUP, d);
    p.services[0].discipline = Discipline::Lifo;
    let lifo = merged(&runs(&p, &SEEDS), &workload("clients"), WARMUP, d);
    assert!(rel(fifo.mean(), 0.050) < 0.03, "fifo {}", fifo.mean());
    assert!(rel(lifo.mean(), 0.050) < 0.03, "lifo {}", lifo.mean());
    assert!(
        lifo.q(0.99) > 1.5 * fifo.q(0.99),
        "lifo p99 {} vs fifo p99 {}",
        lifo.q(0.99),
        fifo.q(0.99)
    );
    // Most requests wait less under LIFO (the newest go first).
    assert!(lifo.q(0.5) < fifo.q(0.5), "{} {}", lifo.q(0.5), fifo.q(0.5));
}

/// `send`: the caller's latency is exactly what it was without the send (its answer does
/// not wait, and its failure does not reach the caller), while the callee serves one
/// request per send.
#[test]
fn send_leaves_the_caller_alone_and_loads_the_callee() {
    let d = 600.0;
    let rate = 50.0;
    let build = |send: bool| {
        let mut steps = vec![work(exp(0.010))];
        if send {
            steps.insert(
                0,
                Step::Send {
                    service: "mailer".into(),
                    endpoint: "GET /".into(),
                },
            );
        }
        plan(
            d,
            vec![
                service("api", 1, 4, steps),
                // Slow and failing half the time: none of it may reach the caller.
                service(
                    "mailer",
                    1,
                    1,
                    vec![
                        work(exp(0.015)),
                        Step::Fail {
                            probability: 0.5,
                            status: 500,
                        },
                    ],
                ),
            ],
            vec![open("users", "api", rate, d)],
        )
    };
    let without = runs(&build(false), &SEEDS);
    let with = runs(&build(true), &SEEDS);
    let (a, b) = (
        merged(&without, &workload("users"), 0.0, d + 30.0),
        merged(&with, &workload("users"), 0.0, d + 30.0),
    );
    assert_eq!(a.n(), b.n());
    assert_eq!(b.errors(), 0);
    assert_eq!(a.mean(), b.mean(), "the caller's latency is unchanged");
    assert_eq!(a.q(0.99), b.q(0.99));
    let mailer = merged(&with, &endpoint("mailer"), 0.0, d + 30.0);
    assert_eq!(mailer.n(), b.n(), "one mailer request per send");
    let failed = cause(&mailer, Cause::Failed) as f64 / mailer.n() as f64;
    assert!((failed - 0.5).abs() < 0.01, "{failed}");
    let (u_before, _) = merged_service(&without, "mailer", 10.0, d);
    let (u_after, _) = merged_service(&with, "mailer", 10.0, d);
    assert_eq!(u_before, 0.0);
    assert!(
        (u_after - rate * 0.015).abs() < 0.02,
        "mailer utilisation {u_after}"
    );
}

/// A gateway calls 3 api replicas round robin; one of them answers 503 to everything
/// (`errors 100% on 1 of api`). Without `eject` a third of the calls fail; with
/// `eject after 5 errors for 30s` under 2%.
#[test]
fn one_bad_replica_fails_a_third_until_ejected() {
    let d = 300.0;
    let build = |eject: bool| {
        let mut api = service("api", 3, 8, vec![work(exp(0.005))]);
        if eject {
            api.eject = Some(Eject {
                after: 5,
                for_s: 30.0,
                max_fraction: 0.5,
            });
        }
        let mut p = plan(
            d,
            vec![
                service("gateway", 1, 64, vec![Step::Call(call("api", "GET /"))]),
                api,
            ],
            vec![open("users", "gateway", 100.0, d)],
        );
        p.faults = vec![fault(
            "bad",
            0.0,
            d,
            vec![Action::Errors {
                target: on("api", 1),
                ratio: 1.0,
                status: 503,
            }],
        )];
        p
    };
    let plain = merged(&runs(&build(false), &SEEDS), &endpoint("api"), 0.0, d);
    let ejecting = merged(&runs(&build(true), &SEEDS), &endpoint("api"), 0.0, d);
    let share = |s: &Summary| s.errors() as f64 / s.n() as f64;
    assert!(
        (share(&plain) - 1.0 / 3.0).abs() < 0.01,
        "without eject {}",
        share(&plain)
    );
    assert_eq!(cause(&plain, Cause::Injected), plain.errors());
    assert!(share(&ejecting) < 0.02, "with eject {}", share(&ejecting));
    assert!(ejecting.errors() > 0, "it takes failures to eject");
}

/// Faults `on N of S` hit only the picked replicas: a 100 ms latency on 1 of 4 replicas
/// delays a quarter of the requests; a memory leak on 1 of 3 kills only that one.
#[test]
fn on_n_of_s_affects_only_the_picked_replicas() {
    let d = 200.0;
    let mut p = plan(
        d,
        vec![service("api", 4, 8, vec![work(constant(0.001))])],
        vec![open("users", "api", 200.0, d)],
    );
    p.faults = vec![fault(
        "slow",
        0.0,
        d,
        vec![Action::Latency {
            target: on("api", 1),
            delay: constant(0.1),
        }],
    )];
    let s = merged(&runs(&p, &SEEDS), &workload("users"), 0.0, d);
    assert!(s.q(0.70) < 0.01, "p70 {}", s.q(0.70));
    assert!(s.q(0.80) > 0.1, "p80 {}", s.q(0.80));

    let mut p = plan(
        d,
        vec![service("api", 3, 8, vec![work(constant(0.001))])],
        vec![open("users", "api", 30.0, d)],
    );
    p.faults = vec![fault(
        "leak",
        0.0,
        d,
        vec![Action::Memory {
            service: "api".into(),
            bytes_per_s: 1e6,
            limit_bytes: 20e6,
            replicas: Some(ReplicaSubset::Count { count: 1 }),
        }],
    )];
    for rec in runs(&p, &SEEDS) {
        let i = rec.service_index("api").unwrap();
        let fewest = rec
            .windows
            .iter()
            .filter(|w| w.start_s < d)
            .map(|w| w.services[i].replicas)
            .min()
            .unwrap();
        // The leaking replica dies every 20 s + restart; the other two never do.
        assert_eq!(fewest, 2);
    }
}

fn last_error_window(rec: &Recording, key: &chaos_report::SubjectKey) -> Option<f64> {
    let i = rec.subject_index(key).unwrap();
    rec.windows
        .iter()
        .rev()
        .find(|w| w.subjects[i].error_count() > 0)
        .map(|w| w.start_s)
}

/// One replica of three loses everything from 11 s on. Health checks every 2 s with a
/// 0.5 s timeout, 3 failures to take it out: it is out by 11 + 2 × 3 + 0.5 = 17.5 s at the
/// latest; requests sent to it until then time out 0.5 s later (the client's timeout), so
/// no error is answered after 18 s. Without checks the errors go on to the end.
#[test]
fn health_checks_take_a_lossy_replica_out() {
    let d = 120.0;
    let build = |checks: bool| {
        let mut api = service("api", 3, 8, vec![work(exp(0.005))]);
        if checks {
            api.health_check = Some(HealthCheck {
                every_s: 2.0,
                timeout_s: 0.5,
                unhealthy: 3,
                healthy: 2,
            });
        }
        let mut users = open("users", "api", 100.0, d);
        users.timeout_s = Some(0.5);
        let mut p = plan(d, vec![api], vec![users]);
        p.faults = vec![fault(
            "lossy",
            11.0,
            d,
            vec![Action::Loss {
                target: on("api", 1),
                ratio: 1.0,
            }],
        )];
        p
    };
    let bound = 11.0 + 2.0 * 3.0 + 0.5 + 0.5;
    for rec in runs(&build(true), &SEEDS) {
        let s = summary(&rec, &workload("users"), 0.0, d);
        assert!(
            cause(&s, Cause::Timeout) > 0,
            "the fault bit before detection"
        );
        let last = last_error_window(&rec, &workload("users")).unwrap();
        assert!(last < bound, "last error in the window at {last}");
        assert!(last >= 11.0);
    }
    for rec in runs(&build(false), &SEEDS) {
        let last = last_error_window(&rec, &workload("users")).unwrap();
        assert!(last > d - 2.0, "without checks the errors go on: {last}");
    }
}

/// A killed replica, with health checks, is still picked until its checks fail: calls to
/// it fail to connect for a while, then stop. Without checks, callers know at once: no
/// connection errors.
#[test]
fn health_checks_notice_a_kill_late_and_a_restart_after_passes() {
    let d = 60.0;
    let build = |checks: bool| {
        let mut api = service("api", 2, 8, vec![work(exp(0.005))]);
        api.restart_s = 10.0;
        if checks {
            api.health_check = Some(HealthCheck {
                every_s: 1.0,
                timeout_s: 0.2,
                unhealthy: 2,
                healthy: 3,
            });
        }
        let mut p = plan(d, vec![api], vec![open("users", "api", 100.0, d)]);
        p.faults = vec![Fault {
            name: "crash".into(),
            occurrences: vec![Occurrence {
                start_s: 20.5,
                end_s: 20.5,
            }],
            active: vec![],
            actions: vec![Action::Kill {
                count: 1,
                services: vec!["api".into()],
            }],
        }];
        p
    };
    for rec in runs(&build(true), &SEEDS) {
        let s = summary(&rec, &workload("users"), 0.0, d);
        assert!(cause(&s, Cause::Connection) > 0);
        let last = last_error_window(&rec, &workload("users")).unwrap();
        // Checks at 21 and 22 fail: out at 22. Back at 30.5, taken in after 3 passes.
        assert!((20.0..23.0).contains(&last), "last error at {last}");
    }
    for rec in runs(&build(false), &SEEDS) {
        let s = summary(&rec, &workload("users"), 0.0, d);
        assert_eq!(cause(&s, Cause::Connection), 0);
    }
}

/// Overload by the low class (a spike to 3× capacity): with priorities the high class keeps
/// the latency it had before the spike; without them it drowns with the low class.
#[test]
fn the_high_class_keeps_its_latency_through_an_overload() {
    let d = 300.0;
    let build = |prioritised: bool| {
        let mut svc = service("api", 1, 4, vec![work(exp(0.010))]);
        svc.queue = Some(400);
        let mut low = open("low", "api", 100.0, d);
        if let Load::Open { spikes, .. } = &mut low.load {
            spikes.push(Spike {
                start_s: 150.0,
                end_s: 250.0,
                rate_per_s: 1000.0,
            });
        }
        plan(
            d,
            vec![svc],
            vec![
                with_priority(
                    open("high", "api", 100.0, d),
                    if prioritised { 5 } else { 0 },
                ),
                low,
            ],
        )
    };
    let prio = runs(&build(true), &SEEDS);
    let flat = runs(&build(false), &SEEDS);
    let before = merged(&prio, &workload("high"), 50.0, 150.0);
    let high = merged(&prio, &workload("high"), 160.0, 250.0);
    let low = merged(&prio, &workload("low"), 160.0, 250.0);
    let high_flat = merged(&flat, &workload("high"), 160.0, 250.0);
    assert!(
        high.q(0.99) < 2.0 * before.q(0.99),
        "high p99 {} during vs {} before",
        high.q(0.99),
        before.q(0.99)
    );
    assert_eq!(high.errors(), 0);
    assert!(
        low.errors() as f64 > 0.5 * low.n() as f64,
        "the low class breaks"
    );
    assert!(
        cause(&low, Cause::Shed) > 0,
        "high requests push low ones out"
    );
    assert!(
        high_flat.q(0.99) > 10.0 * before.q(0.99),
        "without priorities the high class drowns too: {}",
        high_flat.q(0.99)
    );
}

/// A full queue with a lower priority waiting sheds the newest of the lowest class
/// (cause `shed`); with only equal priorities waiting, the arrival is rejected.
#[test]
fn a_full_queue_sheds_lower_priorities_and_rejects_equals() {
    let piece = |start_s: f64, end_s: f64, rate: f64| RatePiece {
        start_s,
        end_s,
        from_per_s: rate,
        to_per_s: rate,
    };
    let burst = |name: &str, at: f64, priority: u8| {
        let mut w = open(name, "api", 0.0, 4.0);
        w.priority = priority;
        w.load = Load::Open {
            rate: vec![
                piece(0.0, at, 0.0),
                piece(at, at + 1.0, 10.0),
                piece(at + 1.0, 4.0, 0.0),
            ],
            spikes: vec![],
            arrivals: Arrivals::Uniform,
        };
        w
    };
    let build = |high: u8| {
        let mut api = service("api", 1, 1, vec![work(constant(5.0))]);
        api.queue = Some(3);
        plan(
            4.0,
            vec![api],
            vec![burst("low", 0.0, 0), burst("high", 2.0, high)],
        )
    };
    let rec = chaos_sim::simulate(&build(1), 1).unwrap();
    let low = summary(&rec, &workload("low"), 0.0, 40.0);
    let high = summary(&rec, &workload("high"), 0.0, 40.0);
    // 1 low served, 3 low queued then shed by the first 3 highs, the rest of the lows
    // rejected; the highs after those find only highs waiting: rejected.
    assert_eq!(low.stats.ok, 1);
    assert_eq!(cause(&low, Cause::Shed), 3);
    assert_eq!(cause(&low, Cause::Rejected), low.n() - 4);
    assert_eq!(high.stats.ok, 3);
    assert_eq!(cause(&high, Cause::Shed), 0);
    assert_eq!(cause(&high, Cause::Rejected), high.n() - 3);
    assert!(high.n() > 5);
    // Equal priorities: today's behaviour, nothing shed.
    let rec = chaos_sim::simulate(&build(0), 1).unwrap();
    let low = summary(&rec, &workload("low"), 0.0, 40.0);
    let high = summary(&rec, &workload("high"), 0.0, 40.0);
    assert_eq!(cause(&low, Cause::Shed) + cause(&high, Cause::Shed), 0);
    assert_eq!(low.stats.ok, 4);
    assert_eq!(high.stats.ok, 0);
}

/// Watermarks: under a load that needs about 5 replicas, one replica is added per interval
/// while utilisation is above `up`; after the load drops, one removed per interval.
#[test]
fn watermarks_step_one_replica_per_interval() {
    let d = 400.0;
    let mut api = service("api", 1, 4, vec![work(exp(0.010))]);
    api.replicas = Replicas::Autoscale {
        min: 1,
        max: 8,
        rule: ScaleRule::Watermarks { up: 0.8, down: 0.3 },
        delay_s: 0.0,
        interval_s: 10.0,
    };
    let mut users = open("users", "api", 1600.0, d);
    users.load = Load::Open {
        rate: vec![
            RatePiece {
                start_s: 0.0,
                end_s: 200.0,
                from_per_s: 1600.0,
                to_per_s: 1600.0,
            },
            RatePiece {
                start_s: 200.0,
                end_s: d,
                from_per_s: 50.0,
                to_per_s: 50.0,
            },
        ],
        spikes: vec![],
        arrivals: Arrivals::Poisson,
    };
    let p = plan(d, vec![api], vec![users]);
    let rec = chaos_sim::simulate(&p, 3).unwrap();
    let i = rec.service_index("api").unwrap();
    let counts: Vec<u32> = rec.windows.iter().map(|w| w.services[i].replicas).collect();
    for pair in counts.windows(2) {
        assert!(
            pair[0].abs_diff(pair[1]) <= 1,
            "one step at a time: {counts:?}"
        );
    }
    let peak = *counts.iter().max().unwrap();
    assert!((5..=8).contains(&peak), "{counts:?}");
    // 4 steps up take at least 40 s: the rule does not jump to the HPA's answer.
    assert!(counts[35] < peak, "{counts:?}");
    assert_eq!(counts[d as usize - 1], 1, "{counts:?}");
}

/// A replica restarted during the run is taken in only after `healthy` passed checks: two
/// replicas of 100/s each share 150/s (evenly spaced); one is killed at 20.5 s and is back at
/// 30.5 s. With checks every 1 s and `healthy 3` it joins at 33.5 s, so the survivor alone
/// (and its full queue: rejections) serves the window [32, 33); without checks it joins at
/// once and that window is clean.
#[test]
fn a_restarted_replica_joins_after_healthy_passes() {
    let d = 60.0;
    let build = |checks: bool| {
        let mut api = service("api", 2, 1, vec![work(constant(0.010))]);
        api.queue = Some(5);
        api.restart_s = 10.0;
        if checks {
            api.health_check = Some(HealthCheck {
                every_s: 1.0,
                timeout_s: 0.2,
                unhealthy: 2,
                healthy: 3,
            });
        }
        let mut users = open("users", "api", 150.0, d);
        if let Load::Open { arrivals, .. } = &mut users.load {
            *arrivals = Arrivals::Uniform;
        }
        let mut p = plan(d, vec![api], vec![users]);
        p.faults = vec![Fault {
            name: "crash".into(),
            occurrences: vec![Occurrence {
                start_s: 20.5,
                end_s: 20.5,
            }],
            active: vec![],
            actions: vec![Action::Kill {
                count: 1,
                services: vec!["api".into()],
            }],
        }];
        p
    };
    let checked = chaos_sim::simulate(&build(true), 1).unwrap();
    let instant = chaos_sim::simulate(&build(false), 1).unwrap();
    let rejected = |rec: &Recording, from: f64, to: f64| {
        cause(&summary(rec, &workload("users"), from, to), Cause::Rejected)
    };
    assert_eq!(rejected(&checked, 0.0, 20.0), 0);
    assert_eq!(rejected(&instant, 0.0, 20.0), 0);
    assert!(rejected(&checked, 25.0, 26.0) > 0, "one replica left");
    assert!(rejected(&instant, 25.0, 26.0) > 0, "one replica left");
    assert!(
        rejected(&checked, 32.0, 33.0) > 0,
        "restarted, not yet taken in"
    );
    assert_eq!(rejected(&instant, 32.0, 33.0), 0, "taken in at once");
    assert_eq!(rejected(&checked, 36.0, d), 0, "taken in after 3 passes");
}
