//! Expectation evaluation on hand-built recordings: every metric, every kind of window,
//! recovery (0, finite, never), no data, and the abort watcher.
#![allow(clippy::unwrap_used)]

mod support;

use chaos_plan::{Abort, Comparison, Metric, Plan};
use chaos_report::{Cause, Observed, Recorder, evaluate};
use support::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 2e-3 * b.abs().max(1e-9)
}

fn observed(plan: &Plan, rec: &chaos_report::Recording) -> Vec<Observed> {
    evaluate(plan, rec)
        .unwrap()
        .into_iter()
        .map(|v| v.observed)
        .collect()
}

fn value(o: Observed) -> f64 {
    o.value()
        .unwrap_or_else(|| panic!("expected a value, got {o:?}"))
}

fn overall() -> chaos_plan::Window {
    window("overall", vec![interval(10.0, 60.0)])
}

fn during_slow() -> chaos_plan::Window {
    window("during slow", vec![interval(20.0, 30.0)])
}

/// Healthy 10 ms, except during `slow` [20, 30): 100 ms and half the answers fail, backend at 3 replicas.
fn degraded(t: u32) -> Second {
    if (20..30).contains(&t) {
        Second {
            ok: 5,
            errors: 5,
            cause: Cause::Timeout,
            latency_s: 0.100,
            replicas: 3,
        }
    } else {
        healthy()
    }
}

#[test]
fn latency_metrics_on_an_endpoint() {
    let a = endpoint("gateway", "GET /a");
    let metrics = [
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::P999,
        Metric::Mean,
        Metric::Max,
    ];
    let mut exps = Vec::new();
    for m in metrics {
        exps.push(expect(
            "overall",
            m,
            a.clone(),
            overall(),
            Comparison::Lt,
            1.0,
        ));
        exps.push(expect(
            "during",
            m,
            a.clone(),
            during_slow(),
            Comparison::Lt,
            0.05,
        ));
    }
    let plan = plan(exps, vec![]);
    let rec = record(&plan, 60.0, degraded);
    let verdicts = evaluate(&plan, &rec).unwrap();
    // Overall: 400 answers of 10 ms, 100 of 100 ms (20%): p50/p90... read the histogram.
    let get = |i: usize| value(verdicts[i].observed);
    assert!(close(get(0), 0.010), "p50 overall {}", get(0));
    assert!(
        close(get(2), 0.100),
        "p90 overall is in the slow fifth: {}",
        get(2)
    );
    assert!(close(get(6), 0.100), "p99 overall {}", get(6));
    // mean = (400 * 10 + 100 * 100) / 500 = 28 ms
    assert!(close(get(10), 0.028), "mean overall {}", get(10));
    assert!(close(get(12), 0.100), "max overall {}", get(12));
    // During slow every answer took 100 ms, so every latency metric reads 100 ms and fails < 50 ms.
    for i in (1..14).step_by(2) {
        assert!(
            close(get(i), 0.100),
            "{:?} during {}",
            verdicts[i].metric,
            get(i)
        );
        assert!(!verdicts[i].passed);
    }
    assert!(verdicts.iter().step_by(2).all(|v| v.passed));
}

#[test]
fn error_rate_availability_on_a_service_and_a_workload() {
    let exps = vec![
        expect(
            "er gw",
            Metric::ErrorRate,
            service_subject("gateway"),
            during_slow(),
            Comparison::Lt,
            0.01,
        ),
        expect(
            "av gw",
            Metric::Availability,
            service_subject("gateway"),
            during_slow(),
            Comparison::Ge,
            0.5,
        ),
        expect(
            "er users",
            Metric::ErrorRate,
            workload_subject("users"),
            during_slow(),
            Comparison::Eq,
            0.5,
        ),
        expect(
            "er users all",
            Metric::ErrorRate,
            workload_subject("users"),
            overall(),
            Comparison::Lt,
            0.2,
        ),
        expect(
            "av a",
            Metric::Availability,
            endpoint("gateway", "GET /b"),
            overall(),
            Comparison::Eq,
            1.0,
        ),
    ];
    let plan = plan(exps, vec![]);
    let rec = record(&plan, 60.0, degraded);
    let v = evaluate(&plan, &rec).unwrap();
    // gateway = GET /a (5 ok + 5 errors a second) + GET /b (1 ok): 50 errors of 110 attempts.
    assert!(close(value(v[0].observed), 50.0 / 110.0));
    assert!(!v[0].passed);
    assert!(close(value(v[1].observed), 60.0 / 110.0));
    assert!(v[1].passed);
    assert_eq!(value(v[2].observed), 0.5);
    assert!(v[2].passed, "== compares with a tolerance");
    // Overall: 50 errors of 500.
    assert!(close(value(v[3].observed), 0.1));
    assert!(v[3].passed);
    assert_eq!(value(v[4].observed), 1.0);
    assert!(v[4].passed);
}

#[test]
fn throughput_counts_successes_per_second_of_sending() {
    let exps = vec![
        expect(
            "tp overall",
            Metric::Throughput,
            endpoint("gateway", "GET /a"),
            overall(),
            Comparison::Ge,
            9.0,
        ),
        expect(
            "tp during",
            Metric::Throughput,
            service_subject("gateway"),
            during_slow(),
            Comparison::Ge,
            9.0,
        ),
        expect(
            "tp between",
            Metric::Throughput,
            workload_subject("users"),
            window("between 0s and 10s", vec![interval(0.0, 10.0)]),
            Comparison::Ge,
            9.0,
        ),
    ];
    let plan = plan(exps, vec![]);
    let rec = record(&plan, 60.0, degraded);
    let v = evaluate(&plan, &rec).unwrap();
    // Overall: 40 healthy seconds of 10 + 10 slow seconds of 5 = 450 successes over 50 s.
    // The drain windows (60..65) count answers but no seconds.
    assert!(close(value(v[0].observed), 9.0), "{:?}", v[0].observed);
    assert!(v[0].passed);
    // During slow, gateway: (5 + 1) per second.
    assert!(close(value(v[1].observed), 6.0));
    assert!(!v[1].passed);
    assert!(close(value(v[2].observed), 10.0));
}

#[test]
fn max_replicas_reads_the_service_of_any_subject() {
    let exps = vec![
        expect(
            "mr",
            Metric::MaxReplicas,
            service_subject("backend"),
            overall(),
            Comparison::Le,
            2.0,
        ),
        expect(
            "mr before",
            Metric::MaxReplicas,
            service_subject("backend"),
            window("before slow", vec![interval(10.0, 20.0)]),
            Comparison::Le,
            2.0,
        ),
        expect(
            "mr gw",
            Metric::MaxReplicas,
            workload_subject("users"),
            overall(),
            Comparison::Eq,
            2.0,
        ),
    ];
    let plan = plan(exps, vec![]);
    let rec = record(&plan, 60.0, degraded);
    let v = evaluate(&plan, &rec).unwrap();
    assert_eq!(value(v[0].observed), 3.0);
    assert!(!v[0].passed);
    assert_eq!(value(v[1].observed), 1.0);
    assert!(v[1].passed);
    assert_eq!(
        value(v[2].observed),
        2.0,
        "a workload reads its target service"
    );
}

#[test]
fn the_summary_max_replicas_is_the_expectation_s_number_warmup_excluded() {
    // Issue 16: 3 replicas during warmup (10s), 1 after; the summary said 3, the expectation 1.
    let exps = vec![expect(
        "mr",
        Metric::MaxReplicas,
        service_subject("backend"),
        overall(),
        Comparison::Le,
        1.0,
    )];
    let plan = plan(exps, vec![]);
    let rec = record(&plan, 60.0, |t| Second {
        replicas: if t < 10 { 3 } else { 1 },
        ..healthy()
    });
    let report = chaos_report::report(&plan, &rec).unwrap();
    assert_eq!(report.expectations[0].observed, Some(1.0));
    assert!(report.expectations[0].passed);
    let backend = report.services.iter().find(|s| s.service == "backend");
    assert_eq!(backend.map(|s| s.max_replicas), Some(1));
    // The timeline still shows the warmup's replicas.
    let first = report.timeline.iter().find(|p| p.service == "backend");
    assert_eq!(first.map(|p| p.max_replicas), Some(3));
}

#[test]
fn windows_select_by_midpoint_and_union_occurrences() {
    // Errors only in second 25. [24.6, 25.4) holds no window midpoint (24.5 and 25.5 are
    // outside): no data. [25.2, 26.0) holds 25.5, so it sees window 25 whole.
    let f = |t: u32| {
        if t == 25 {
            Second {
                ok: 0,
                errors: 10,
                ..healthy()
            }
        } else {
            healthy()
        }
    };
    let gw = endpoint("gateway", "GET /a");
    let exps = vec![
        expect(
            "a",
            Metric::ErrorRate,
            gw.clone(),
            window("between", vec![interval(24.6, 25.4)]),
            Comparison::Eq,
            0.0,
        ),
        expect(
            "b",
            Metric::ErrorRate,
            gw.clone(),
            window("between", vec![interval(25.2, 26.0)]),
            Comparison::Eq,
            1.0,
        ),
        // Union of two occurrences: seconds 24 and 25 → 10 errors of 20.
        expect(
            "c",
            Metric::ErrorRate,
            gw.clone(),
            window(
                "during every",
                vec![interval(24.0, 25.0), interval(25.0, 26.0)],
            ),
            Comparison::Eq,
            0.5,
        ),
        // `after slow + 5s`: from 35 to the end of the run, drain included.
        expect(
            "d",
            Metric::ErrorRate,
            gw,
            window("after slow + 5s", vec![interval(35.0, 60.0)]),
            Comparison::Eq,
            0.0,
        ),
    ];
    let plan = plan(exps, vec![]);
    let rec = record(&plan, 60.0, f);
    let v = evaluate(&plan, &rec).unwrap();
    assert_eq!(v[0].observed, Observed::NoData);
    assert_eq!(value(v[1].observed), 1.0);
    assert_eq!(value(v[2].observed), 0.5);
    assert_eq!(value(v[3].observed), 0.0);
    assert!(v[1..].iter().all(|x| x.passed));
}

#[test]
fn the_drain_counts_for_windows_reaching_the_end() {
    // A late answer (an `unfinished` error) arrives in the drain, at 63 s.
    let plan = plan(
        vec![
            expect(
                "o",
                Metric::ErrorRate,
                endpoint("gateway", "GET /a"),
                overall(),
                Comparison::Eq,
                0.0,
            ),
            expect(
                "b",
                Metric::ErrorRate,
                endpoint("gateway", "GET /a"),
                window("between 50s and 59s", vec![interval(50.0, 59.0)]),
                Comparison::Eq,
                0.0,
            ),
        ],
        vec![],
    );
    let mut r = Recorder::new(&plan, "sim", 1);
    record_into(&mut r, 60.0, |_| healthy());
    r.record(GW_A, 63.0, 5.0, Err(Cause::Unfinished));
    let rec = r.finish(60.0, 65.0, None);
    assert_eq!(rec.windows.len(), 65);
    let v = evaluate(&plan, &rec).unwrap();
    assert!(close(value(v[0].observed), 1.0 / 501.0));
    assert!(!v[0].passed);
    assert_eq!(value(v[1].observed), 0.0);
}

#[test]
fn nothing_to_measure_is_no_data_and_fails() {
    let plan = plan(
        vec![
            // After the run ended.
            expect(
                "late",
                Metric::P99,
                endpoint("gateway", "GET /a"),
                window("between", vec![interval(70.0, 80.0)]),
                Comparison::Lt,
                1.0,
            ),
            // Windows exist but no request finished in them.
            expect(
                "quiet",
                Metric::ErrorRate,
                endpoint("gateway", "GET /a"),
                window("between", vec![interval(0.0, 5.0)]),
                Comparison::Lt,
                1.0,
            ),
            expect(
                "quiet tp",
                Metric::Throughput,
                endpoint("gateway", "GET /a"),
                window("between", vec![interval(0.0, 5.0)]),
                Comparison::Ge,
                0.0,
            ),
        ],
        vec![],
    );
    let rec = record(&plan, 60.0, |t| {
        if t < 5 {
            Second { ok: 0, ..healthy() }
        } else {
            healthy()
        }
    });
    let v = evaluate(&plan, &rec).unwrap();
    assert_eq!(v[0].observed, Observed::NoData);
    assert!(!v[0].passed);
    assert_eq!(v[1].observed, Observed::NoData);
    assert!(!v[1].passed);
    assert_eq!(
        v[2].observed,
        Observed::Value(0.0),
        "throughput of a quiet window is 0, not no data"
    );
    assert!(v[2].passed);
}

fn recovery_plan() -> Plan {
    let mut w = window("after slow", vec![interval(30.0, 60.0)]);
    w.recovery_from_s = Some(30.0);
    w.baseline = vec![interval(10.0, 20.0)];
    plan(
        vec![expect(
            "recovery(gateway) < 10s after slow",
            Metric::Recovery,
            service_subject("gateway"),
            w,
            Comparison::Lt,
            10.0,
        )],
        vec![],
    )
}

fn recovery_of(bad_until: u32, blip: Option<u32>) -> Observed {
    let plan = recovery_plan();
    let rec = record(&plan, 60.0, |t| {
        if (20..bad_until).contains(&t) || Some(t) == blip {
            Second {
                ok: 5,
                errors: 5,
                latency_s: 0.1,
                ..healthy()
            }
        } else {
            healthy()
        }
    });
    observed(&plan, &rec)[0]
}

#[test]
fn recovery_is_zero_when_healthy_at_once() {
    assert_eq!(recovery_of(30, None), Observed::Value(0.0));
}

#[test]
fn recovery_is_the_start_of_five_healthy_windows() {
    assert_eq!(recovery_of(37, None), Observed::Value(7.0));
    // Healthy 30..33, a bad window at 33, then healthy from 34.
    assert_eq!(recovery_of(30, Some(33)), Observed::Value(4.0));
}

#[test]
fn recovery_never_when_it_does_not_happen_before_the_end() {
    assert_eq!(recovery_of(60, None), Observed::Never);
    // Healthy again at 57: only 3 windows before sending ends; drain windows do not count.
    assert_eq!(recovery_of(57, None), Observed::Never);
    let plan = recovery_plan();
    let rec = record(&plan, 60.0, |t| {
        if t >= 20 {
            Second {
                ok: 5,
                errors: 5,
                ..healthy()
            }
        } else {
            healthy()
        }
    });
    let v = evaluate(&plan, &rec).unwrap();
    assert!(!v[0].passed);
}

#[test]
fn recovery_thresholds_are_relative_to_the_baseline() {
    // Baseline p99 10 ms; after the fault 14 ms (≤ 15 ms) is recovered, 16 ms is not.
    let plan = recovery_plan();
    let at = |ms: f64| {
        let rec = record(&plan, 60.0, |t| {
            if t >= 30 {
                Second {
                    latency_s: ms / 1000.0,
                    ..healthy()
                }
            } else {
                healthy()
            }
        });
        observed(&plan, &rec)[0]
    };
    assert_eq!(at(14.0), Observed::Value(0.0));
    assert_eq!(at(16.0), Observed::Never);
}

fn abort_plan(for_s: f64) -> Plan {
    plan(
        vec![],
        vec![Abort {
            text: "abort when error_rate(gateway) > 50% for 3s".into(),
            metric: Metric::ErrorRate,
            subject: service_subject("gateway"),
            op: Comparison::Gt,
            threshold: 0.5,
            for_s,
        }],
    )
}

fn failing_from(from: u32, to: u32) -> impl Fn(u32) -> Second {
    move |t| {
        if (from..to).contains(&t) {
            Second {
                ok: 0,
                errors: 10,
                ..healthy()
            }
        } else {
            healthy()
        }
    }
}

#[test]
fn abort_fires_after_consecutive_windows() {
    let plan = abort_plan(3.0);
    let mut r = Recorder::new(&plan, "sim", 1);
    record_into(&mut r, 42.0, failing_from(40, 43));
    assert!(
        r.abort_fired().is_none(),
        "two failing windows are not enough"
    );
    record_into(&mut r, 0.0, failing_from(0, 0));
    // Second 42 fails too; the window closes when time moves past 43.
    r.record(GW_B, 42.5, 0.002, Err(Cause::Timeout));
    for _ in 0..10 {
        r.record(GW_A, 42.5, 0.01, Err(Cause::Timeout));
    }
    r.advance_to(43.0);
    let fired = r.abort_fired().cloned().unwrap();
    assert_eq!(fired.at_s, 43.0);
    assert_eq!(fired.text, "abort when error_rate(gateway) > 50% for 3s");
    let rec = r.finish(43.0, 48.0, None);
    assert_eq!(rec.aborted, Some(fired));
}

#[test]
fn abort_needs_the_streak_unbroken() {
    let plan = abort_plan(3.0);
    // Failing 40, 41, healthy 42, failing 43, 44: never 3 in a row.
    let rec = record(&plan, 60.0, |t| {
        if [40, 41, 43, 44].contains(&t) {
            Second {
                ok: 0,
                errors: 10,
                ..healthy()
            }
        } else {
            healthy()
        }
    });
    assert!(rec.aborted.is_none());
    let rec = record(&plan, 60.0, failing_from(40, 43));
    assert_eq!(rec.aborted.as_ref().map(|a| a.at_s), Some(43.0));
}

#[test]
fn abort_rounds_its_duration_up_to_whole_windows() {
    let plan = abort_plan(2.5);
    assert!(record(&plan, 60.0, failing_from(40, 42)).aborted.is_none());
    assert!(record(&plan, 60.0, failing_from(40, 43)).aborted.is_some());
}

#[test]
fn abort_does_not_fire_in_the_drain() {
    let plan = abort_plan(1.0);
    let mut r = Recorder::new(&plan, "sim", 1);
    record_into(&mut r, 60.0, |_| healthy());
    for _ in 0..10 {
        r.record(GW_A, 62.0, 3.0, Err(Cause::Unfinished));
    }
    assert!(r.abort_fired().is_none());
    assert!(r.finish(60.0, 65.0, None).aborted.is_none());
}

/// `duration 5s window 3s`: the last sending window, `[3s, 6s)`, is cut short at 5s.
fn short_last_window(for_s: f64, duration_s: f64) -> Plan {
    let mut plan = abort_plan(for_s);
    plan.scenario.duration_s = duration_s;
    plan.scenario.window_s = 3.0;
    plan.scenario.warmup_s = 0.0;
    plan
}

#[test]
fn a_partial_last_window_aborts_at_the_end_of_the_run_never_after() {
    // Issue 16: errors from 3s tripped the abort at 6s in a run that ended at 5s.
    let plan = short_last_window(1.0, 5.0);
    let rec = record(&plan, 5.0, failing_from(3, 5));
    let a = rec.aborted.as_ref().expect("2s of errors cover `for 1s`");
    assert_eq!(a.at_s, 5.0);
    assert!(a.at_s <= rec.ended_s);
    let report = chaos_report::report(&plan, &rec).unwrap();
    assert!(!report.passed);
    assert_eq!(report.aborted.map(|a| a.at_s), Some(5.0));
    // Only the clipped window held: healthy before 3s.
    let rec = record(&plan, 5.0, failing_from(0, 0));
    assert!(rec.aborted.is_none());
}

#[test]
fn a_partial_window_counts_for_its_seconds_inside_the_run() {
    // `[3s, 4s)` is 1s of the run: not `for 2s`.
    let plan = short_last_window(2.0, 4.0);
    assert!(record(&plan, 4.0, failing_from(3, 4)).aborted.is_none());
    // `for 4s` (two whole windows) is covered by 3s + the clipped 1s at the end of the run.
    let plan = short_last_window(4.0, 4.0);
    let rec = record(&plan, 4.0, failing_from(0, 4));
    assert_eq!(rec.aborted.map(|a| a.at_s), Some(4.0));
}

#[test]
fn an_aborted_run_clips_windows_to_what_happened() {
    let plan = plan(
        vec![
            expect(
                "o",
                Metric::Throughput,
                endpoint("gateway", "GET /a"),
                overall(),
                Comparison::Ge,
                1.0,
            ),
            expect(
                "after",
                Metric::P99,
                endpoint("gateway", "GET /a"),
                window("after", vec![interval(40.0, 60.0)]),
                Comparison::Lt,
                1.0,
            ),
        ],
        vec![],
    );
    let rec = record(&plan, 35.0, |_| healthy());
    let v = evaluate(&plan, &rec).unwrap();
    // [10, 35): 25 s of 10/s.
    assert!(close(value(v[0].observed), 10.0));
    assert_eq!(v[1].observed, Observed::NoData);
}

#[test]
fn records_land_in_their_windows_late_ones_too() {
    let p = plan(vec![], vec![]);
    let mut r = Recorder::new(&p, "sim", 1);
    r.record(0, 0.5, 0.010, Ok(()));
    // Skips window 1: windows 0 and 1 close first.
    r.record(0, 2.2, 0.020, Err(Cause::Timeout));
    r.record(1, 2.9, 0.030, Ok(()));
    // Late, for closed windows 0 and 1 (kept by value, read as their buckets).
    r.record(0, 0.9, 0.040, Ok(()));
    r.record(1, 1.5, 0.050, Err(Cause::Timeout));
    r.record(0, 2.95, 0.060, Ok(()));
    let rec = r.finish(3.0, 3.0, None);
    assert_eq!(rec.windows.len(), 3);
    let counts = |w: usize, s: usize| {
        let st = &rec.windows[w].subjects[s];
        (st.ok, st.error_count(), st.latency.count())
    };
    assert_eq!(counts(0, 0), (2, 0, 2));
    assert_eq!(counts(1, 1), (0, 1, 1));
    assert_eq!(counts(2, 0), (1, 1, 2));
    assert_eq!(counts(2, 1), (1, 0, 1));
    let w0: Vec<u64> = rec.windows[0].subjects[0]
        .latency
        .buckets()
        .map(|b| b.0)
        .collect();
    assert_eq!(w0, [10_000, 40_000], "the late one by its value");
    assert_eq!(
        rec.windows[2].subjects[0].latency.to_dense().max_s(),
        Some(0.060_031)
    );
}
