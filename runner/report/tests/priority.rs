//! Reports split latency and errors by priority when the workloads use more than one
//! (issue 14): one row per priority, highest first, merged over its workloads.
#![allow(clippy::unwrap_used)]

mod support;

use chaos_plan::Plan;
use chaos_report::{Cause, Recorder, Recording, markdown, terminal};
use support::*;

/// The hand-built plan with two more workloads: `vip` (priority 3), `bulk` (priority 0, like
/// `users`), unless `one_priority`.
fn three_workloads(one_priority: bool) -> Plan {
    let mut p = plan(vec![], vec![]);
    let users = p.workloads[0].clone();
    for (name, priority) in [("vip", 3), ("bulk", 0)] {
        let mut w = users.clone();
        w.name = name.into();
        w.priority = if one_priority { 0 } else { priority };
        p.workloads.push(w);
    }
    p
}

/// Each second after the warm-up: vip 10 ok at 10 ms; users 5 ok at 100 ms and 5 timeouts;
/// bulk 10 ok at 300 ms.
fn recording(p: &Plan) -> Recording {
    let mut r = Recorder::new(p, "sim", 1);
    let (users, vip, bulk) = (USERS, USERS + 1, USERS + 2);
    for t in 0..60 {
        let at = f64::from(t) + 0.5;
        for _ in 0..10 {
            r.record(vip, at, 0.010, Ok(()));
            r.record(bulk, at, 0.300, Ok(()));
        }
        for _ in 0..5 {
            r.record(users, at, 0.100, Ok(()));
            r.record(users, at, 0.100, Err(Cause::Timeout));
        }
    }
    r.finish(60.0, 65.0, None)
}

#[test]
fn by_priority_merges_the_workloads_of_each_priority_highest_first() {
    let p = three_workloads(false);
    let report = chaos_report::report(&p, &recording(&p)).unwrap();
    let rows = &report.by_priority;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (high, low) = (&rows[0], &rows[1]);
    assert_eq!(high.priority, 3);
    assert_eq!(high.workloads, ["vip"]);
    assert_eq!(low.priority, 0);
    assert_eq!(low.workloads, ["users", "bulk"]);
    // The overall window starts after the 10 s warm-up: 50 seconds counted.
    assert_eq!(high.requests, 500);
    assert_eq!(low.requests, 1000);
    assert_eq!(high.errors, 0);
    assert_eq!(low.errors, 250);
    assert_eq!(low.error_rate_pct, Some(25.0));
    let p99 = |r: &chaos_report::model::PrioritySummary| r.latency_ms.p99.unwrap();
    assert!((p99(high) - 10.0).abs() < 0.1, "{}", p99(high));
    // Half of priority 0 took 100 ms, half 300 ms: the median sits on the 100 ms side of the
    // merged histogram, the p99 on the 300 ms side.
    let p50 = low.latency_ms.p50.unwrap();
    assert!((p50 - 100.0).abs() < 1.0, "{p50}");
    assert!((p99(low) - 300.0).abs() < 3.0, "{}", p99(low));

    let text = terminal::render(&report, false);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("priority"))
        .take(3)
        .collect();
    assert_eq!(table.len(), 3, "{text}");
    assert!(table[1].trim_start().starts_with('3'), "{}", table[1]);
    assert!(table[1].contains("vip"), "{}", table[1]);
    assert!(table[2].contains("25%") && table[2].contains("users, bulk"));
    let md = markdown::render(&report);
    assert!(md.contains("| priority | sent | errors | p50 | p99 | workloads |"));
    assert!(md.contains("| 0 | 1000 | 25% |"), "{md}");
    assert!(report.to_json().contains("\"by_priority\""));
}

#[test]
fn one_priority_no_split() {
    let p = three_workloads(true);
    let report = chaos_report::report(&p, &recording(&p)).unwrap();
    assert!(report.by_priority.is_empty());
    assert!(!terminal::render(&report, false).contains("priority"));
    assert!(!markdown::render(&report).contains("| priority |"));
    assert!(!report.to_json().contains("by_priority"));
}
