//! End-to-end, issue 14 in `--local`: plans built here (the syntax is being added beside
//! this), run by `chaos_local` with real `chaos agent` processes of the binary under test on
//! loopback, judged on the Recording's per-window figures. Every check compares two runs or
//! two classes side by side, or reads which windows still have errors after the bound the
//! issue states; none is about how fast the machine is.

use chaos_plan::*;
use chaos_report::{Recording, Stats, SubjectKey};

// `chaos run --local` on scenario text: the exit code, the JSON report and stderr.
use crate::local::run_local as run_text;
use crate::support::chaos_bin;

fn service(name: &str, replicas: u32, workers: u32, endpoints: Vec<Endpoint>) -> Service {
    Service {
        name: name.into(),
        replicas: Replicas::Fixed { count: replicas },
        workers,
        queue: None,
        rate_limit_per_s: None,
        restart_s: 1.0,
        balance: Balance::RoundRobin,
        latency: Dist::ZERO,
        endpoints,
        discipline: Discipline::Fifo,
        eject: None,
        health_check: None,
    }
}

fn endpoint(name: &str, steps: Vec<Step>) -> Endpoint {
    Endpoint {
        name: name.into(),
        steps,
    }
}

fn work(s: f64) -> Step {
    Step::Work {
        dist: Dist::Constant { value_s: s },
    }
}

fn call(service: &str, endpoint: &str, timeout_s: f64) -> Step {
    Step::Call(Call {
        service: service.into(),
        endpoint: endpoint.into(),
        timeout_s: Some(timeout_s),
        retry: Retry::NONE,
        circuit_breaker: None,
        continue_on_error: false,
        priority: None,
    })
}

fn workload(name: &str, service: &str, endpoint: &str, rate: f64, duration_s: f64) -> Workload {
    Workload {
        name: name.into(),
        target: EndpointRef {
            service: service.into(),
            endpoint: endpoint.into(),
        },
        load: Load::Open {
            rate: vec![RatePiece {
                start_s: 0.0,
                end_s: duration_s,
                from_per_s: rate,
                to_per_s: rate,
            }],
            spikes: vec![],
            arrivals: Arrivals::Uniform,
        },
        timeout_s: Some(2.0),
        priority: 0,
    }
}

/// A fault on `on 1 of <service>` from `start_s` to the end of the run.
fn on_one(name: &str, action: Action, start_s: f64, end_s: f64) -> Fault {
    Fault {
        name: name.into(),
        occurrences: vec![Occurrence { start_s, end_s }],
        active: vec![Interval { start_s, end_s }],
        actions: vec![action],
    }
}

fn one_of(service: &str) -> Target {
    Target {
        service: service.into(),
        endpoint: None,
        replicas: Some(ReplicaSubset::Count { count: 1 }),
    }
}

fn plan(duration_s: f64, window_s: f64, services: Vec<Service>, workloads: Vec<Workload>) -> Plan {
    Plan {
        version: PLAN_VERSION,
        scenario: Scenario {
            name: "resilience".into(),
            duration_s,
            warmup_s: 0.0,
            seed: 7,
            window_s,
            drain_s: 2.0,
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

fn run(plan: &Plan) -> Recording {
    chaos_local::run(
        plan,
        &chaos_local::Options {
            seed: plan.scenario.seed,
            chaos_bin: chaos_bin(),
            warn: chaos_local::Warn::default(),
            observer: None,
        },
    )
    .unwrap_or_else(|e| panic!("local run failed: {e}"))
}

fn index(rec: &Recording, key: SubjectKey) -> usize {
    rec.subject_index(&key)
        .unwrap_or_else(|| panic!("no subject {key:?}"))
}

fn of_workload(rec: &Recording, name: &str) -> usize {
    index(
        rec,
        SubjectKey::Workload {
            workload: name.into(),
        },
    )
}

/// A subject's figures over the windows starting in `[from_s, to_s)`.
fn total(
    rec: &Recording,
    subject: usize,
    from_s: f64,
    to_s: f64,
) -> (Stats, chaos_report::Latency) {
    let mut stats = Stats::default();
    let mut latency = chaos_report::Latency::new();
    for w in rec
        .windows
        .iter()
        .filter(|w| w.start_s >= from_s && w.start_s < to_s)
    {
        stats.add_counts(&w.subjects[subject]);
        latency.add_sparse(&w.subjects[subject].latency);
    }
    (stats, latency)
}

fn error_rate(s: &Stats) -> f64 {
    s.error_count() as f64 / s.requests().max(1) as f64
}

/// `front` (one replica) calls `api` (three); one replica of `api` answers 503 to everything.
fn one_bad_replica(eject: Option<Eject>) -> Plan {
    let mut api = service("api", 3, 16, vec![endpoint("x", vec![work(0.001)])]);
    api.eject = eject;
    let mut p = plan(
        5.0,
        1.0,
        vec![
            service(
                "front",
                1,
                64,
                vec![endpoint("GET /", vec![call("api", "x", 1.0)])],
            ),
            api,
        ],
        vec![workload("users", "front", "GET /", 120.0, 5.0)],
    );
    p.faults = vec![on_one(
        "bad",
        Action::Errors {
            target: one_of("api"),
            ratio: 1.0,
            status: 503,
        },
        0.0,
        5.0,
    )];
    p
}

#[test]
fn one_bad_replica_fails_a_third_of_calls_until_its_callers_eject_it() {
    let without = run(&one_bad_replica(None));
    let with = run(&one_bad_replica(Some(Eject {
        after: 5,
        for_s: 30.0,
        max_fraction: 0.5,
    })));
    let w = of_workload(&without, "users");
    let (plain, _) = total(&without, w, 0.0, 5.0);
    let (ejected, _) = total(&with, w, 0.0, 5.0);
    assert!(plain.requests() > 400 && ejected.requests() > 400);
    let (a, b) = (error_rate(&plain), error_rate(&ejected));
    assert!(
        (0.25..0.42).contains(&a),
        "without eject about a third fail: {a} ({plain:?})"
    );
    assert!(b < 0.02, "with eject under 2% fail: {b} ({ejected:?})");
    // The bad replica is the one picked: every failure is the injected 503, passed on.
    let api = index(
        &with,
        SubjectKey::Endpoint {
            service: "api".into(),
            endpoint: "x".into(),
        },
    );
    let (calls, _) = total(&with, api, 0.0, 10.0);
    // Five to eject it, and at most a call or two already on their way then.
    let injected = calls
        .errors_by_cause()
        .get("injected")
        .copied()
        .unwrap_or(0);
    assert!((5..=7).contains(&injected), "{calls:?}");
}

/// Three replicas of `api`, one of which loses everything from 2 s on.
fn one_silent_replica(health_check: Option<HealthCheck>) -> Plan {
    let mut api = service("api", 3, 16, vec![endpoint("x", vec![work(0.001)])]);
    api.health_check = health_check;
    let mut p = plan(
        7.0,
        0.5,
        vec![
            service(
                "front",
                1,
                64,
                vec![endpoint("GET /", vec![call("api", "x", 0.3)])],
            ),
            api,
        ],
        vec![workload("users", "front", "GET /", 100.0, 7.0)],
    );
    p.faults = vec![on_one(
        "silent",
        Action::Loss {
            target: one_of("api"),
            ratio: 1.0,
        },
        2.0,
        7.0,
    )];
    p
}

#[test]
fn health_checks_take_a_silent_replica_out_within_the_bound() {
    let rule = HealthCheck {
        every_s: 0.5,
        timeout_s: 0.25,
        unhealthy: 2,
        healthy: 2,
    };
    let checked = run(&one_silent_replica(Some(rule)));
    let unchecked = run(&one_silent_replica(None));
    let w = of_workload(&checked, "users");
    // Before the fault, nothing fails either way.
    assert_eq!(total(&checked, w, 0.0, 2.0).0.error_count(), 0);
    // The fault hits a third of the calls until the checks notice.
    let (hit, _) = total(&checked, w, 2.0, 2.5);
    assert!(hit.error_count() > 0, "{hit:?}");
    // Errors stop within every × unhealthy + timeout of the fault's start (1.25 s), plus
    // the call timeout of the calls already sent then and one window for reading.
    let stopped_s = 2.0 + rule.every_s * f64::from(rule.unhealthy) + rule.timeout_s + 0.3 + 0.5;
    let (after, _) = total(&checked, w, stopped_s, 7.0);
    assert!(after.requests() > 200);
    assert_eq!(
        after.error_count(),
        0,
        "errors after {stopped_s}s: {after:?}"
    );
    // Without checks, callers keep sending to the silent replica to the end.
    let (blind, _) = total(&unchecked, w, stopped_s, 7.0);
    assert!(error_rate(&blind) > 0.2, "{blind:?}");
}

/// One replica of `api` (2 workers of 10 ms: 200/s) behind a queue of 20, under 320/s:
/// `vip` (40/s) at `vip_priority`, `bulk` (280/s) at 0.
fn overload(vip_priority: u8) -> Plan {
    let mut api = service("api", 1, 2, vec![endpoint("x", vec![work(0.01)])]);
    api.queue = Some(20);
    let mut vip = workload("vip", "api", "x", 40.0, 5.0);
    vip.priority = vip_priority;
    plan(
        5.0,
        1.0,
        vec![api],
        vec![vip, workload("bulk", "api", "x", 280.0, 5.0)],
    )
}

#[test]
fn the_high_class_keeps_its_latency_through_an_overload_that_breaks_the_low_one() {
    let prioritised = run(&overload(5));
    let flat = run(&overload(0));
    let (vip, bulk) = (
        of_workload(&prioritised, "vip"),
        of_workload(&prioritised, "bulk"),
    );
    // From 1 s on, when the queue has filled.
    let (v, v_lat) = total(&prioritised, vip, 1.0, 5.0);
    let (b, b_lat) = total(&prioritised, bulk, 1.0, 5.0);
    let (fv, fv_lat) = total(&flat, vip, 1.0, 5.0);
    // p90: a rejection answers at once, so a broken class's median can be a fast failure.
    let p90 = |l: &chaos_report::Latency| l.quantile_s(0.9).unwrap_or(f64::NAN);
    assert!(error_rate(&b) > 0.2, "bulk breaks: {b:?}");
    assert!(error_rate(&v) < 0.01, "vip is never rejected: {v:?}");
    assert!(
        p90(&v_lat) * 3.0 < p90(&b_lat),
        "vip p90 {} vs bulk p90 {}",
        p90(&v_lat),
        p90(&b_lat)
    );
    // Without its priority the same class suffers like the other one.
    assert!(error_rate(&fv) > 0.2, "{fv:?}");
    assert!(
        p90(&v_lat) * 3.0 < p90(&fv_lat),
        "vip p90 with priority {} vs without {}",
        p90(&v_lat),
        p90(&fv_lat)
    );
    // Bulk requests that waited were shed for vip ones, and said so.
    let shed: u64 = b.errors_by_cause().get("shed").copied().unwrap_or(0);
    assert!(shed > 0, "{:?}", b.errors_by_cause());
}

#[test]
fn a_send_does_not_hold_the_caller_and_the_callee_counts_it() {
    let mut p = plan(
        4.0,
        1.0,
        vec![
            service(
                "front",
                1,
                64,
                vec![endpoint(
                    "GET /",
                    vec![Step::Send {
                        service: "mailer".into(),
                        endpoint: "mail".into(),
                    }],
                )],
            ),
            service("mailer", 1, 64, vec![endpoint("mail", vec![work(0.2)])]),
        ],
        vec![workload("users", "front", "GET /", 50.0, 4.0)],
    );
    // Sending stops at 3 s, so every send is answered before the run ends.
    if let Load::Open { rate, .. } = &mut p.workloads[0].load {
        rate[0].end_s = 3.0;
        rate.push(RatePiece {
            start_s: 3.0,
            end_s: 4.0,
            from_per_s: 0.0,
            to_per_s: 0.0,
        });
    }
    let rec = run(&p);
    let users = of_workload(&rec, "users");
    let mail = index(
        &rec,
        SubjectKey::Endpoint {
            service: "mailer".into(),
            endpoint: "mail".into(),
        },
    );
    let (u, u_lat) = total(&rec, users, 0.0, 10.0);
    let (m, m_lat) = total(&rec, mail, 0.0, 10.0);
    assert_eq!(u.error_count(), 0);
    assert_eq!(m.error_count(), 0);
    // Every send reached the mailer and was counted once its answer came back.
    assert_eq!(m.requests(), u.requests(), "{m:?} vs {u:?}");
    let p50 = |l: &chaos_report::Latency| l.quantile_s(0.5).unwrap_or(f64::NAN);
    assert!(
        p50(&u_lat) * 4.0 < p50(&m_lat),
        "caller p50 {} vs the mailer's {}",
        p50(&u_lat),
        p50(&m_lat)
    );
}

/// Three replicas of `api` (restart 3 s), one killed at 2 s.
fn one_killed(health_check: Option<HealthCheck>) -> Plan {
    let mut api = service("api", 3, 16, vec![endpoint("x", vec![work(0.001)])]);
    api.health_check = health_check;
    api.restart_s = 3.0;
    let mut p = plan(
        7.0,
        0.5,
        vec![
            service(
                "front",
                1,
                64,
                vec![endpoint("GET /", vec![call("api", "x", 0.3)])],
            ),
            api,
        ],
        vec![workload("users", "front", "GET /", 100.0, 7.0)],
    );
    p.faults = vec![Fault {
        name: "crash".into(),
        occurrences: vec![Occurrence {
            start_s: 2.0,
            end_s: 2.0,
        }],
        active: vec![Interval {
            start_s: 2.0,
            end_s: 5.0,
        }],
        actions: vec![Action::Kill {
            count: 1,
            services: vec!["api".into()],
        }],
    }];
    p
}

#[test]
fn with_health_checks_a_killed_replica_is_noticed_by_its_checks_not_at_once() {
    let rule = HealthCheck {
        every_s: 0.5,
        timeout_s: 0.25,
        unhealthy: 2,
        healthy: 2,
    };
    let checked = run(&one_killed(Some(rule)));
    let instant = run(&one_killed(None));
    let w = of_workload(&checked, "users");
    // Callers keep picking the dead replica until two checks failed (their calls fail to
    // connect, so `front` answers 500 downstream).
    let (noticed, _) = total(&checked, w, 2.0, 3.0);
    assert!(noticed.error_count() > 5, "{noticed:?}");
    let (after, _) = total(&checked, w, 3.5, 7.0);
    assert_eq!(after.error_count(), 0, "{after:?}");
    // Without checks the runner tells the callers at once.
    let (told, _) = total(&instant, w, 2.0, 3.0);
    assert!(
        told.error_count() * 5 < noticed.error_count(),
        "{told:?} vs {noticed:?}"
    );
}

#[test]
fn watermarks_add_one_replica_per_interval() {
    let mut api = service("api", 1, 2, vec![endpoint("x", vec![work(0.01)])]);
    api.queue = Some(50);
    api.replicas = Replicas::Autoscale {
        min: 1,
        max: 3,
        rule: ScaleRule::Watermarks {
            up: 0.5,
            down: 0.05,
        },
        delay_s: 0.2,
        interval_s: 1.0,
    };
    // 500/s against 200/s per replica: saturated until the third replica.
    let p = plan(
        5.0,
        1.0,
        vec![api],
        vec![workload("users", "api", "x", 500.0, 5.0)],
    );
    let rec = run(&p);
    let s = rec.service_index("api").unwrap();
    let counts: Vec<u32> = rec.windows.iter().map(|w| w.services[s].replicas).collect();
    let first_up = counts.iter().find(|&&n| n > 1).copied();
    assert_eq!(first_up, Some(2), "one replica at a time: {counts:?}");
    assert_eq!(counts.iter().max(), Some(&3), "{counts:?}");
}

fn bad_replica_text(eject: &str, expect: &str) -> String {
    format!(
        r#"
scenario "bad-replica" {{ duration 4s }}
service api {{
  replicas 3
  workers 16
  {eject}
  endpoint "x" {{ work 1ms }}
}}
service front {{
  workers 64
  endpoint "GET /" {{ call api "x" {{ timeout 1s }} }}
}}
workload users {{ target front "GET /" rate 120/s }}
fault bad at 0s for 4s {{ errors 100% status 503 on 1 of api }}
expect {{
  {expect}
}}
"#
    )
}

#[test]
fn the_bad_replica_scenario_as_written_keeps_its_exit_codes() {
    let (ok, r, err) = run_text(
        "eject",
        &bad_replica_text("eject after 5 errors for 30s", "error_rate(users) < 2%"),
    );
    assert_eq!(ok, 0, "{err}\n{r}");
    let (third, r, err) = run_text(
        "no-eject",
        &bad_replica_text("", "error_rate(users) > 25%\n  error_rate(users) < 42%"),
    );
    assert_eq!(third, 0, "{err}\n{r}");
    // The same expectation fails without eject: the verdict follows the mode's behaviour.
    let (failed, r, err) = run_text(
        "no-eject-fails",
        &bad_replica_text("", "error_rate(users) < 2%"),
    );
    assert_eq!(failed, 1, "{err}\n{r}");
}

#[test]
fn a_memory_fault_on_one_of_three_replicas_kills_only_that_one() {
    let mut api = service("api", 3, 16, vec![endpoint("x", vec![work(0.001)])]);
    // Longer than the run: a replica that reached its limit stays dead.
    api.restart_s = 30.0;
    let mut p = plan(
        5.0,
        0.5,
        vec![api],
        vec![workload("users", "api", "x", 50.0, 5.0)],
    );
    p.faults = vec![on_one(
        "leak",
        Action::Memory {
            service: "api".into(),
            bytes_per_s: 100e6,
            limit_bytes: 50e6,
            replicas: Some(ReplicaSubset::Count { count: 1 }),
        },
        1.0,
        5.0,
    )];
    let rec = run(&p);
    let s = rec.service_index("api").unwrap();
    let late: Vec<u32> = rec
        .windows
        .iter()
        .filter(|w| w.start_s >= 3.0 && w.start_s < 5.0)
        .map(|w| w.services[s].replicas)
        .collect();
    assert!(!late.is_empty());
    assert!(late.iter().all(|&n| n == 2), "one of three died: {late:?}");
}
