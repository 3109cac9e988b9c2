//! The live view's core ([`LiveState`]) on a hand-built run: windows fed one at a time, as a
//! runner's observer would, give the figures of the newest window, the fault bands so far, the
//! services under fault, and expectations judged so far; at the end, the report's verdicts.
#![allow(clippy::unwrap_used)]

mod support;

use chaos_plan::{Comparison, Metric};
use chaos_report::live::{LiveState, Phase};
use chaos_report::{Cause, Recording};
use support::*;

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

fn run() -> (chaos_plan::Plan, Recording) {
    let plan = plan(
        vec![
            expect(
                "error_rate(users) < 10% during slow",
                Metric::ErrorRate,
                workload_subject("users"),
                window("during slow", vec![interval(20.0, 30.0)]),
                Comparison::Lt,
                0.10,
            ),
            expect(
                "p99(users) < 500ms",
                Metric::P99,
                workload_subject("users"),
                window("overall", vec![interval(10.0, 60.0)]),
                Comparison::Lt,
                0.5,
            ),
        ],
        vec![],
    );
    let rec = record(&plan, 60.0, degraded);
    (plan, rec)
}

/// The state after windows `0..n` were read, at `n` seconds.
fn after(plan: &chaos_plan::Plan, rec: &Recording, n: usize) -> LiveState {
    let mut live = LiveState::new(plan, "local", 1);
    for (i, w) in rec.windows.iter().enumerate().take(n) {
        live.push(i, w);
    }
    live
}

#[test]
fn before_the_fault_nothing_to_judge_during_it_and_no_band() {
    let (plan, rec) = run();
    let u = after(&plan, &rec, 15).update(Some(15.2), Phase::Running);
    let w = u.window.unwrap();
    assert_eq!(w.index, 14);
    let users = &w.workloads[0];
    assert_eq!((users.requests, users.rate_per_s), (10, 10.0));
    assert_eq!(users.error_rate, Some(0.0));
    assert!(!u.faults[0].active);
    assert!(u.faults[0].bands.is_empty());
    assert!(w.services.iter().all(|s| !s.under_fault));
    assert_eq!(u.expectations[0].status, "waiting");
    assert_eq!(u.expectations[1].status, "holding");
}

#[test]
fn during_the_fault_its_band_grows_and_the_expectation_fails_so_far() {
    let (plan, rec) = run();
    let u = after(&plan, &rec, 25).update(Some(25.5), Phase::Running);
    let f = &u.faults[0];
    assert!(f.active);
    assert_eq!(f.services, vec!["backend".to_string()]);
    assert_eq!(f.bands.len(), 1);
    assert_eq!((f.bands[0].start_s, f.bands[0].end_s), (20.0, 25.5));
    let w = u.window.unwrap();
    let backend = w.services.iter().find(|s| s.name == "backend").unwrap();
    assert!(backend.under_fault);
    assert_eq!(backend.errors_by_cause.get("timeout"), Some(&5));
    assert_eq!(backend.replicas, 3);
    assert_eq!(backend.p99_ms.map(|v| v.round()), Some(100.0));
    let e = &u.expectations[0];
    assert_eq!(e.status, "failing");
    assert_eq!(e.observed, Some(50.0), "in the display unit (%)");
    // Edges carry the callee's inbound figures; entries the workload's.
    let entry = w.edges.iter().find(|e| e.from == "workload:users").unwrap();
    assert_eq!(
        (entry.to.as_str(), entry.error_rate),
        ("gateway", Some(0.5))
    );
}

#[test]
fn at_the_end_the_live_verdicts_are_the_report_s() {
    let (plan, rec) = run();
    let mut live = after(&plan, &rec, rec.windows.len());
    let u = live.update(Some(70.0), Phase::Done);
    let report = chaos_report::report(&plan, &rec).unwrap();
    assert_eq!(u.expectations.len(), report.expectations.len());
    for (l, r) in u.expectations.iter().zip(&report.expectations) {
        assert_eq!(l.text, r.text);
        assert_eq!(l.observed, r.observed);
        assert_eq!(l.status == "holding", r.passed, "{}", l.text);
    }
    let totals = live.workload_totals();
    assert_eq!(totals[0].name, "users");
    assert_eq!(totals[0].ok, 50 * 10 + 10 * 5);
    assert_eq!(totals[0].errors[Cause::Timeout.index()], 10 * 5);
}

#[test]
fn a_window_read_twice_replaces_the_first_reading() {
    let (plan, rec) = run();
    let mut live = after(&plan, &rec, 3);
    let mut again = rec.windows[2].clone();
    again.subjects[USERS].ok += 7;
    live.push(2, &again);
    assert_eq!(live.windows_read(), 3);
    let u = live.update(Some(3.0), Phase::Running);
    assert_eq!(u.window.unwrap().workloads[0].requests, 17);
}
