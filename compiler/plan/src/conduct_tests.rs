//! The conductor driven by a fake clock: no processes, no sleeps.

use super::*;
use crate::{Balance, Dist, Fault, Interval, Occurrence, PLAN_VERSION, ScaleRule, Service, Target};

/// Built from JSON so fields other work adds with a serde default need no edit here.
fn service(name: &str, replicas: Replicas) -> Service {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "replicas": replicas,
        "workers": 1,
        "queue": null,
        "rate_limit_per_s": null,
        "restart_s": 5.0,
        "balance": Balance::RoundRobin,
        "latency": Dist::ZERO,
        "endpoints": [],
    }))
    .expect("a valid service")
}

fn latency(service: &str) -> Action {
    Action::Latency {
        target: Target {
            service: service.to_string(),
            endpoint: None,
            replicas: None,
        },
        delay: Dist::ZERO,
    }
}

fn fault(name: &str, occurrences: &[(f64, f64)], actions: Vec<Action>) -> Fault {
    Fault {
        name: name.to_string(),
        occurrences: occurrences
            .iter()
            .map(|&(start_s, end_s)| Occurrence { start_s, end_s })
            .collect(),
        active: occurrences
            .iter()
            .map(|&(start_s, end_s)| Interval { start_s, end_s })
            .collect(),
        actions,
    }
}

/// A latency fault on every replica of `api`.
fn slow_api(name: &str, occurrences: &[(f64, f64)]) -> Fault {
    fault(name, occurrences, vec![latency("api")])
}

/// A plan of `duration` seconds, 10 s windows, 5 s drain.
fn plan(duration_s: f64, services: Vec<Service>, faults: Vec<Fault>) -> Plan {
    Plan {
        version: PLAN_VERSION,
        scenario: serde_json::from_value(serde_json::json!({
            "name": "t",
            "duration_s": duration_s,
            "warmup_s": 0.0,
            "seed": 1,
            "window_s": 10.0,
            "drain_s": 5.0,
        }))
        .expect("a valid scenario"),
        params: Vec::new(),
        services,
        workloads: Vec::new(),
        faults,
        expectations: Vec::new(),
        aborts: Vec::new(),
    }
}

fn fixed(name: &str) -> Service {
    service(name, Replicas::Fixed { count: 3 })
}

/// Every decision due by `now`, in planned order, as a runner that wakes at `now` gets them.
fn poll_all(c: &mut Conductor, now: f64) -> Vec<(f64, Decision)> {
    std::iter::from_fn(|| c.poll(now))
        .map(|d| (d.at_s, d.decision))
        .collect()
}

/// Every decision up to `until`, polling at each due instant as a runner would; `react` sees
/// each one as it comes, as the runner carrying it out would (an abort rule firing).
fn run_reacting(
    c: &mut Conductor,
    until: f64,
    mut react: impl FnMut(&mut Conductor, Decision),
) -> Vec<(f64, Decision)> {
    let mut out = Vec::new();
    while let Some(t) = c.next_due() {
        if t > until {
            break;
        }
        while let Some(d) = c.poll(t) {
            out.push((d.at_s, d.decision));
            react(c, d.decision);
        }
    }
    out
}

/// Every decision up to `until`.
fn run_until(c: &mut Conductor, until: f64) -> Vec<(f64, Decision)> {
    run_reacting(c, until, |_, _| {})
}

/// The decisions at instant `t`, in order.
fn at(ds: &[(f64, Decision)], t: f64) -> Vec<Decision> {
    ds.iter()
        .filter(|(at_s, _)| *at_s == t)
        .map(|(_, d)| *d)
        .collect()
}

fn without_windows(ds: &[(f64, Decision)]) -> Vec<(f64, Decision)> {
    ds.iter()
        .copied()
        .filter(|(_, d)| !matches!(d, Decision::ReadWindow { .. } | Decision::CheckAbort { .. }))
        .collect()
}

use Decision::*;

#[test]
fn at_one_instant_reverts_come_before_starts_each_in_declaration_order() {
    // `b` (declared second) ends at 20 when `a` (declared first) starts; `c` starts at 20
    // too; `d` ends at 20 as well.
    let p = plan(
        60.0,
        vec![fixed("api")],
        vec![
            slow_api("a", &[(20.0, 30.0)]),
            slow_api("b", &[(5.0, 20.0)]),
            slow_api("c", &[(20.0, 25.0)]),
            slow_api("d", &[(15.0, 20.0)]),
        ],
    );
    let mut c = Conductor::new(&p, 7);
    assert_eq!(
        at(&run_until(&mut c, 20.0), 20.0),
        vec![
            ReadWindow { window: 1 },
            CheckAbort { window: 1 },
            RevertFault {
                fault: 1,
                occurrence: 0
            },
            RevertFault {
                fault: 3,
                occurrence: 0
            },
            StartFault {
                fault: 0,
                occurrence: 0
            },
            StartFault {
                fault: 2,
                occurrence: 0
            },
        ]
    );
}

#[test]
fn nothing_is_due_before_its_instant_and_late_polls_keep_the_order() {
    let p = plan(
        60.0,
        vec![fixed("api")],
        vec![slow_api("a", &[(12.0, 18.0)])],
    );
    let mut c = Conductor::new(&p, 7);
    assert_eq!(c.next_due(), Some(10.0));
    assert_eq!(c.poll(9.999), None, "window 0 ends at 10 s");
    // A runner that wakes late (at 19 s) still gets everything in planned order, each
    // with its planned instant (lateness is the runner's to measure).
    assert_eq!(
        poll_all(&mut c, 19.0),
        vec![
            (10.0, ReadWindow { window: 0 }),
            (10.0, CheckAbort { window: 0 }),
            (
                12.0,
                StartFault {
                    fault: 0,
                    occurrence: 0
                }
            ),
            (
                18.0,
                RevertFault {
                    fault: 0,
                    occurrence: 0
                }
            ),
        ]
    );
    assert_eq!(c.next_due(), Some(20.0));
}

#[test]
fn overlapping_faults_are_both_active_between_their_edges() {
    let p = plan(
        60.0,
        vec![fixed("api")],
        vec![
            slow_api("a", &[(5.0, 25.0)]),
            slow_api("b", &[(15.0, 35.0)]),
        ],
    );
    let mut c = Conductor::new(&p, 7);
    run_until(&mut c, 16.0);
    assert_eq!(c.active().collect::<Vec<_>>(), vec![(0, 0), (1, 0)]);
    run_until(&mut c, 26.0);
    assert_eq!(c.active().collect::<Vec<_>>(), vec![(1, 0)]);
    run_until(&mut c, 36.0);
    assert_eq!(c.active().count(), 0);
}

#[test]
fn repeated_occurrences_back_to_back_revert_before_the_next_starts() {
    // `every 10s for 10s`: occurrence k ends exactly when k + 1 starts.
    let p = plan(
        40.0,
        vec![fixed("api")],
        vec![fault(
            "flap",
            &[(10.0, 20.0), (20.0, 30.0), (30.0, 40.0)],
            vec![latency("api")],
        )],
    );
    let mut c = Conductor::new(&p, 7);
    let faults: Vec<(f64, Decision)> = without_windows(&run_until(&mut c, 100.0))
        .into_iter()
        .filter(|(_, d)| !matches!(d, Stop { .. }))
        .collect();
    assert_eq!(
        faults,
        vec![
            (
                10.0,
                StartFault {
                    fault: 0,
                    occurrence: 0
                }
            ),
            (
                20.0,
                RevertFault {
                    fault: 0,
                    occurrence: 0
                }
            ),
            (
                20.0,
                StartFault {
                    fault: 0,
                    occurrence: 1
                }
            ),
            (
                30.0,
                RevertFault {
                    fault: 0,
                    occurrence: 1
                }
            ),
            (
                30.0,
                StartFault {
                    fault: 0,
                    occurrence: 2
                }
            ),
            (
                40.0,
                RevertFault {
                    fault: 0,
                    occurrence: 2
                }
            ),
        ]
    );
}

#[test]
fn kills_come_before_the_timed_actions_of_their_occurrence_and_have_no_revert() {
    let p = plan(
        60.0,
        vec![fixed("api"), fixed("db")],
        vec![
            fault(
                "crash",
                &[(10.0, 10.0)],
                vec![Action::Kill {
                    count: 2,
                    services: vec!["db".to_string()],
                }],
            ),
            fault(
                "both",
                &[(30.0, 40.0)],
                vec![
                    latency("api"),
                    Action::Kill {
                        count: 1,
                        services: vec!["api".to_string()],
                    },
                ],
            ),
        ],
    );
    let mut c = Conductor::new(&p, 7);
    let got: Vec<(f64, Decision)> = without_windows(&run_until(&mut c, 59.0));
    assert_eq!(
        got,
        vec![
            (
                10.0,
                Kill {
                    fault: 0,
                    occurrence: 0,
                    action: 0,
                    service: 1,
                    count: 2
                }
            ),
            (
                30.0,
                Kill {
                    fault: 1,
                    occurrence: 0,
                    action: 1,
                    service: 0,
                    count: 1
                }
            ),
            (
                30.0,
                StartFault {
                    fault: 1,
                    occurrence: 0
                }
            ),
            (
                40.0,
                RevertFault {
                    fault: 1,
                    occurrence: 0
                }
            ),
        ]
    );
}

#[test]
fn a_random_kill_picks_one_candidate_by_seed_and_every_candidate_can_be_picked() {
    let services: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let p = plan(
        200.0,
        services.iter().map(|s| fixed(s)).collect(),
        vec![fault(
            "crash",
            &(0..19)
                .map(|k| (10.0 * f64::from(k) + 5.0, 10.0 * f64::from(k) + 5.0))
                .collect::<Vec<_>>(),
            vec![Action::Kill {
                count: 1,
                services: services.clone(),
            }],
        )],
    );
    let picks = |seed| {
        let mut c = Conductor::new(&p, seed);
        run_until(&mut c, 1e9)
            .into_iter()
            .filter_map(|(_, d)| match d {
                Kill { service, .. } => Some(service),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let first = picks(3);
    assert_eq!(first.len(), 19);
    assert_eq!(first, picks(3), "same seed, same picks");
    for s in 0..3 {
        assert!(first.contains(&s), "service {s} never picked in {first:?}");
    }
}

#[test]
fn an_abort_reverts_what_is_in_force_stops_the_load_and_starts_nothing_more() {
    let p = plan(
        100.0,
        vec![fixed("api")],
        vec![
            slow_api("a", &[(5.0, 80.0)]),
            slow_api("b", &[(15.0, 70.0)]),
            slow_api("late", &[(30.0, 40.0)]),
        ],
    );
    let mut c = Conductor::new(&p, 7);
    let got = run_reacting(&mut c, 70.0, |c, d| {
        // The runner's abort rule fires on window 1 (ending at 20 s).
        if d == (CheckAbort { window: 1 }) {
            c.abort(20.5);
        }
    });
    let after: Vec<(f64, Decision)> = got
        .iter()
        .copied()
        .filter(|(t, d)| *t >= 20.0 && !matches!(d, ReadWindow { .. }))
        .collect();
    assert_eq!(
        after,
        vec![
            (20.0, CheckAbort { window: 1 }),
            (
                20.5,
                RevertFault {
                    fault: 0,
                    occurrence: 0
                }
            ),
            (
                20.5,
                RevertFault {
                    fault: 1,
                    occurrence: 0
                }
            ),
            (20.5, Stop { aborted: true }),
        ],
        "no later check, start, revert or planned stop"
    );
    assert!(c.aborted() && c.stopped());
    assert!(
        got.iter()
            .any(|(t, d)| *t > 60.0 && matches!(d, ReadWindow { .. })),
        "windows are still read while requests drain"
    );
}

#[test]
fn autoscale_ticks_every_interval_until_the_horizon_after_the_faults_of_the_instant() {
    let scaled = service(
        "api",
        Replicas::Autoscale {
            min: 1,
            max: 4,
            rule: ScaleRule::Target { utilisation: 0.5 },
            delay_s: 1.0,
            interval_s: 15.0,
        },
    );
    let p = plan(
        50.0,
        vec![fixed("db"), scaled],
        vec![fault("a", &[(30.0, 45.0)], vec![latency("db")])],
    );
    let mut c = Conductor::new(&p, 7);
    let ds = without_windows(&run_until(&mut c, 1e9));
    let ticks: Vec<f64> = ds
        .iter()
        .filter(|(_, d)| *d == Autoscale { service: 1 })
        .map(|(t, _)| *t)
        .collect();
    // The horizon is 55 s (50 + 5 s drain).
    assert_eq!(ticks, vec![15.0, 30.0, 45.0]);
    assert_eq!(
        at(&ds, 30.0),
        vec![
            StartFault {
                fault: 0,
                occurrence: 0
            },
            Autoscale { service: 1 }
        ]
    );
}

#[test]
fn the_load_stops_at_duration_after_the_faults_that_end_there_and_windows_run_to_the_horizon() {
    let p = plan(
        30.0,
        vec![fixed("api")],
        // Without `for`: lasts until the end of the run.
        vec![slow_api("a", &[(10.0, 30.0)])],
    );
    let mut c = Conductor::new(&p, 7);
    let ds = run_until(&mut c, 1e9);
    assert_eq!(
        at(&ds, 30.0),
        vec![
            ReadWindow { window: 2 },
            CheckAbort { window: 2 },
            RevertFault {
                fault: 0,
                occurrence: 0
            },
            Stop { aborted: false },
        ]
    );
    // Windows of 10 s up to the 35 s horizon; the last one ends at the horizon.
    let reads: Vec<(f64, Decision)> = ds
        .iter()
        .copied()
        .filter(|(_, d)| matches!(d, ReadWindow { .. }))
        .collect();
    assert_eq!(reads.len(), 4);
    assert_eq!(reads[3], (35.0, ReadWindow { window: 3 }));
    assert_eq!(c.next_due(), None, "nothing left");
    assert!(c.stopped() && !c.aborted());
}

#[test]
fn fault_edges_order_by_time_then_ends_then_declaration() {
    let edges = fault_edges(vec![
        vec![(10.0, 20.0), (20.0, 30.0)],
        vec![(20.0, 20.0)],
        vec![(0.0, 20.0)],
    ]);
    let at_20: Vec<(EdgeKind, usize, usize)> = edges
        .iter()
        .filter(|e| e.at_s == 20.0)
        .map(|e| (e.kind, e.fault, e.occurrence))
        .collect();
    assert_eq!(
        at_20,
        vec![
            (EdgeKind::End, 0, 0),
            (EdgeKind::End, 2, 0),
            (EdgeKind::Start, 0, 1),
            (EdgeKind::Start, 1, 0),
        ]
    );
    assert_eq!(edges.len(), 7, "the instant fault has no end");
}
