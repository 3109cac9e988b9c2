//! The properties every valid scenario's simulation must have, checked on one scenario text:
//! shared by `runner/sim/tests/generated.rs` and the fuzz target `fuzz/fuzz_targets/sim.rs`.
//!
//! The text goes through the real compiler (it must compile: the generator writes only valid
//! scenarios), then the simulator with the plan's seed, twice, and the report is built from
//! the recording. A broken property is an `Err` naming it; a panic is left to the caller.
#![allow(dead_code)]

use chaos_plan::{Plan, Replicas};
use chaos_report::model::LatencyMs;
use chaos_report::{Recording, Report};
use chaos_sim::{RunStats, SimOptions, simulate_with};

/// What a checked case did, for the tests' statistics.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub requests: u64,
    pub events: u64,
    pub errors: u64,
    pub aborted: bool,
}

/// Compiles `text`; a generated scenario that does not compile is a generator (or checker) bug.
pub fn compile(text: &str) -> Result<Plan, String> {
    let compiled = chaos_compiler::compile_str("generated.chaos", text, &[]);
    match compiled.plan {
        Some(plan) if !compiled.has_errors() => Ok(plan),
        _ => Err(format!(
            "the generated scenario does not compile:\n{}",
            compiled
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| format!("  {} {}", d.code, d.message))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

/// Events at one simulated instant that mean time stopped: a case makes at most ~20,000
/// attempts of a few events each, so this is far above any honest burst.
pub const MAX_EVENTS_PER_INSTANT: u64 = 200_000;

/// Options of every checked run: the engine's watchdog turns time that stops advancing into
/// `SimError::Stalled` (a failure with the scenario) long before the wall-clock guard.
pub fn options() -> SimOptions {
    SimOptions {
        max_events_per_instant: Some(MAX_EVENTS_PER_INSTANT),
        ..SimOptions::default()
    }
}

/// Simulates `text` twice with its seed and checks every property.
pub fn check(text: &str) -> Result<Outcome, String> {
    check_plan(&compile(text)?)
}

/// Simulates `plan` twice with its seed and checks every property.
pub fn check_plan(plan: &Plan) -> Result<Outcome, String> {
    let seed = plan.scenario.seed;
    let run = || {
        simulate_with(plan, seed, &options(), &mut |_| {})
            .map_err(|e| format!("the simulator failed: {e}"))
    };
    let (rec, stats) = run()?;
    recording_holds(plan, &rec, &stats)?;
    let report = chaos_report::report(plan, &rec).map_err(|e| format!("the report failed: {e}"))?;
    report_holds(plan, &report)?;
    let json = report.to_json();
    // Same seed, same recording and byte-identical report.
    let (rec2, stats2) = run()?;
    if rec2 != rec || stats2.sent != stats.sent || stats2.events != stats.events {
        return Err("same seed, another recording".into());
    }
    let json2 = chaos_report::report(plan, &rec2)
        .map_err(|e| format!("the report failed: {e}"))?
        .to_json();
    if json2 != json {
        return Err("same seed, another report".into());
    }
    Ok(Outcome {
        requests: stats.sent.iter().sum(),
        events: stats.events,
        errors: report.endpoints.iter().map(|e| e.errors).sum::<u64>()
            + report.workloads.iter().map(|w| w.errors).sum::<u64>(),
        aborted: rec.aborted.is_some(),
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Properties of the recording and the run's statistics.
pub fn recording_holds(plan: &Plan, rec: &Recording, stats: &RunStats) -> Result<(), String> {
    let sc = &plan.scenario;
    let subjects = chaos_report::recording::subjects_of(plan);
    if rec.subjects != subjects || stats.sent.len() != subjects.len() {
        return Err(format!(
            "subjects {:?} vs the plan's {subjects:?}",
            rec.subjects
        ));
    }
    // Every request ends exactly once: as many answers (or give-ups) as attempts sent, each
    // with one latency, and every answer either ok or one cause.
    for (i, key) in rec.subjects.iter().enumerate() {
        let finished: u64 = rec.windows.iter().map(|w| w.subjects[i].requests()).sum();
        let in_hist: u64 = rec
            .windows
            .iter()
            .map(|w| w.subjects[i].latency.count())
            .sum();
        if finished != stats.sent[i] {
            return Err(format!(
                "{key:?}: sent {} but {finished} ended",
                stats.sent[i]
            ));
        }
        if in_hist != finished {
            return Err(format!(
                "{key:?}: {finished} ended but {in_hist} latencies recorded"
            ));
        }
    }
    // Simulated time: the run ends where it should, windows tile it.
    let ended = rec.ended_s;
    if !(ended.is_finite() && ended >= 0.0 && ended <= sc.duration_s) {
        return Err(format!(
            "ended at {ended} s, the run lasts {} s",
            sc.duration_s
        ));
    }
    if let Some(a) = &rec.aborted {
        if !(a.at_s >= 0.0 && a.at_s <= sc.duration_s) {
            return Err(format!(
                "abort `{}` at {} s, outside the run (0..{} s)",
                a.text, a.at_s, sc.duration_s
            ));
        }
        if a.at_s > ended + 1e-9 {
            return Err(format!("abort at {} s after the end {ended} s", a.at_s));
        }
    } else if !close(ended, sc.duration_s) {
        return Err(format!(
            "not aborted but ended at {ended} s of {} s",
            sc.duration_s
        ));
    }
    let horizon = ended + sc.drain_s;
    for (k, w) in rec.windows.iter().enumerate() {
        let start = k as f64 * sc.window_s;
        if !close(w.start_s, start) {
            return Err(format!(
                "window {k} starts at {} s, not {start} s",
                w.start_s
            ));
        }
        if w.start_s >= horizon + 1e-9 {
            return Err(format!(
                "window {k} at {} s starts after the run and its drain ({horizon} s)",
                w.start_s
            ));
        }
        if w.subjects.len() != subjects.len() || w.services.len() != plan.services.len() {
            return Err(format!(
                "window {k} has the wrong number of subjects or services"
            ));
        }
    }
    let expected = ((horizon / sc.window_s).ceil().max(1.0)) as usize;
    if rec.windows.len() + 1 < expected || rec.windows.len() > expected + 1 {
        return Err(format!(
            "{} windows of {} s for a run and drain of {horizon} s",
            rec.windows.len(),
            sc.window_s
        ));
    }
    // Replicas within the declared bounds; utilisation and queue are proportions and means.
    for (si, svc) in plan.services.iter().enumerate() {
        let max = match svc.replicas {
            Replicas::Fixed { count } => count,
            Replicas::Autoscale { max, .. } => max,
        };
        for w in &rec.windows {
            let s = &w.services[si];
            if s.replicas > s.max_replicas || s.max_replicas > max {
                return Err(format!(
                    "service {} at {} s: {} replicas, {} at most in the window, {max} declared",
                    svc.name, w.start_s, s.replicas, s.max_replicas
                ));
            }
            if !(0.0..=1.0).contains(&s.utilisation) {
                return Err(format!(
                    "service {} at {} s: utilisation {}",
                    svc.name, w.start_s, s.utilisation
                ));
            }
            if !(s.queue_mean.is_finite() && s.queue_mean >= 0.0) {
                return Err(format!(
                    "service {} at {} s: queue mean {}",
                    svc.name, w.start_s, s.queue_mean
                ));
            }
        }
    }
    Ok(())
}

fn ordered(what: &str, l: &LatencyMs) -> Result<(), String> {
    let qs = [
        ("p50", l.p50),
        ("p90", l.p90),
        ("p95", l.p95),
        ("p99", l.p99),
        ("p999", l.p999),
        ("max", l.max),
    ];
    let present = qs.iter().filter(|q| q.1.is_some()).count();
    if present != 0 && (present != qs.len() || l.mean.is_none()) {
        return Err(format!("{what}: some latency figures missing: {l:?}"));
    }
    for pair in qs.windows(2) {
        if let ((a, Some(x)), (b, Some(y))) = (pair[0], pair[1])
            && (x.is_nan() || y.is_nan() || x > y)
        {
            return Err(format!("{what}: {a} {x} ms above {b} {y} ms"));
        }
    }
    if let (Some(mean), Some(max)) = (l.mean, l.max)
        && !(mean >= 0.0 && mean <= max + 0.001)
    {
        return Err(format!("{what}: mean {mean} ms, max {max} ms"));
    }
    if let Some(p50) = l.p50
        && p50 < 0.0
    {
        return Err(format!("{what}: p50 {p50} ms"));
    }
    Ok(())
}

fn adds_up(
    what: &str,
    requests: u64,
    ok: u64,
    errors: u64,
    by_cause: &std::collections::BTreeMap<String, u64>,
) -> Result<(), String> {
    if requests != ok + errors {
        return Err(format!(
            "{what}: {requests} sent but {ok} ok + {errors} errors"
        ));
    }
    let causes: u64 = by_cause.values().sum();
    if causes != errors {
        return Err(format!(
            "{what}: {errors} errors but causes add up to {causes}: {by_cause:?}"
        ));
    }
    if by_cause.values().any(|&n| n == 0) {
        return Err(format!(
            "{what}: a cause with 0 errors listed: {by_cause:?}"
        ));
    }
    Ok(())
}

/// Properties of the report: counts add up, percentiles are ordered, replicas within bounds,
/// windows and the abort inside the run.
pub fn report_holds(plan: &Plan, r: &Report) -> Result<(), String> {
    let sc = &plan.scenario;
    for e in &r.endpoints {
        let what = format!("endpoint {} {:?}", e.service, e.endpoint);
        adds_up(&what, e.requests, e.ok, e.errors, &e.errors_by_cause)?;
        ordered(&what, &e.latency_ms)?;
    }
    for (s, svc) in r.services.iter().zip(&plan.services) {
        let what = format!("service {}", s.service);
        adds_up(&what, s.requests, s.ok, s.errors, &s.errors_by_cause)?;
        ordered(&what, &s.latency_ms)?;
        let (eps, eok): (u64, u64) = r
            .endpoints
            .iter()
            .filter(|e| e.service == s.service)
            .fold((0, 0), |a, e| (a.0 + e.requests, a.1 + e.ok));
        if (eps, eok) != (s.requests, s.ok) {
            return Err(format!(
                "{what}: {} requests, {} ok, its endpoints {eps} and {eok}",
                s.requests, s.ok
            ));
        }
        let max = match svc.replicas {
            Replicas::Fixed { count } => count,
            Replicas::Autoscale { max, .. } => max,
        };
        if s.max_replicas > max {
            return Err(format!(
                "{what}: max_replicas {} above {max}",
                s.max_replicas
            ));
        }
        if !(0.0..=100.0).contains(&s.utilisation_pct)
            || s.queue_mean.is_nan()
            || s.queue_mean < 0.0
        {
            return Err(format!(
                "{what}: utilisation {} %, queue {}",
                s.utilisation_pct, s.queue_mean
            ));
        }
    }
    for w in &r.workloads {
        let what = format!("workload {}", w.name);
        adds_up(&what, w.sent, w.ok, w.errors, &w.errors_by_cause)?;
        ordered(&what, &w.latency_ms)?;
    }
    // Times in the report are rounded to 6 decimals.
    const ROUND: f64 = 1e-6;
    if r.ended_s > sc.duration_s + ROUND || r.ended_s < 0.0 {
        return Err(format!(
            "ended_s {} outside the run of {} s",
            r.ended_s, sc.duration_s
        ));
    }
    if let Some(a) = &r.aborted
        && (a.at_s > r.ended_s + ROUND || a.at_s < 0.0)
    {
        return Err(format!(
            "aborted.at_s {} but ended_s {} (duration {} s)",
            a.at_s, r.ended_s, sc.duration_s
        ));
    }
    if r.passed && (r.aborted.is_some() || r.expectations.iter().any(|e| !e.passed)) {
        return Err("passed with a failed expectation or an abort".into());
    }
    let horizon = r.ended_s + r.drain_s + ROUND;
    for p in &r.timeline {
        let what = format!("timeline {} at {} s", p.service, p.t_s);
        if p.t_s < 0.0 || p.t_s >= horizon + 1e-9 {
            return Err(format!("{what}: outside the run and drain ({horizon} s)"));
        }
        let causes: u64 = p.errors_by_cause.values().sum();
        if causes != p.errors || p.errors > p.requests {
            return Err(format!(
                "{what}: {} requests, {} errors, causes {causes}",
                p.requests, p.errors
            ));
        }
        if let (Some(a), Some(b)) = (p.p50_ms, p.p99_ms)
            && (a.is_nan() || b.is_nan() || a > b)
        {
            return Err(format!("{what}: p50 {a} ms above p99 {b} ms"));
        }
        if p.replicas > p.max_replicas {
            return Err(format!(
                "{what}: {} replicas, {} at most",
                p.replicas, p.max_replicas
            ));
        }
    }
    for p in &r.workload_timeline {
        if p.t_s < 0.0 || p.t_s >= horizon + 1e-9 || p.errors > p.requests {
            return Err(format!(
                "workload timeline {} at {} s: {} requests {} errors (run and drain {horizon} s)",
                p.workload, p.t_s, p.requests, p.errors
            ));
        }
    }
    for f in &r.faults {
        for s in &f.active {
            if !(s.start_s >= 0.0 && s.start_s <= s.end_s && s.end_s <= sc.duration_s + ROUND) {
                return Err(format!(
                    "fault {} active {}..{} s outside the run",
                    f.name, s.start_s, s.end_s
                ));
            }
        }
    }
    for e in &r.expectations {
        if let Some(v) = e.observed
            && !v.is_finite()
        {
            return Err(format!("expectation `{}` observed {v}", e.text));
        }
    }
    // The report reads back as written.
    let back = Report::from_json(&r.to_json()).map_err(|e| format!("report JSON: {e}"))?;
    if back.to_json() != r.to_json() {
        return Err("the report's JSON does not read back to itself".into());
    }
    Ok(())
}
