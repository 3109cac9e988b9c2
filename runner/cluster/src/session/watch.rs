//! `abort when` over windows whose agent figures may have come in one read. When reads fall
//! behind (`session/reads.rs`), the agents' figures of several windows arrive together and
//! are all counted in the last of them: the windows before it hold only what the load
//! generator measured. Judged window by window, a condition on an endpoint the agents call
//! would see windows without a request (which do not hold, and restart the count) and then
//! one window with several windows' worth: blind to what happened, and wrong for throughput.
//! So such a span is judged as one stretch: every figure summed over it (counts added,
//! histograms merged), the condition evaluated once over it, and, when it holds, it counts
//! for the span's whole length towards `for D`, firing at the span's end. A window read on
//! its own is judged alone, as in every other mode ([`AbortWatcher::observe`]).

use std::ops::Range;

use chaos_report::{AbortRecord, AbortWatcher, WindowSample};

use crate::collect::{self, Samples};

/// The spans to judge among windows `from..available` (each index a window), in order: each
/// window alone, or the windows one read covered together. A span reaching past `available`
/// is left for later (its windows are not all in yet).
pub(super) fn spans(from: usize, available: usize, samples: &Samples) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut w = from;
    while w < available {
        let end = samples.span_of(w).end() + 1;
        if end > available {
            break;
        }
        spans.push(w..end);
        w = end;
    }
    spans
}

/// Feeds the watcher one span (`windows`, consecutive, each of `window_s` seconds, already
/// holding the agents' figures); returns the abort if it fires now.
pub(super) fn observe(
    watcher: &mut AbortWatcher,
    windows: &[WindowSample],
    window_s: f64,
) -> Option<AbortRecord> {
    match windows {
        [] => None,
        [one] => watcher.observe(one, one.start_s + window_s).cloned(),
        [first, ..] => {
            let span = combined(windows);
            let end_s = first.start_s + windows.len() as f64 * window_s;
            watcher.observe(&span, end_s).cloned()
        }
    }
}

/// Several consecutive windows as one: requests and errors added, latency histograms merged
/// bucket by bucket; replicas as at the end, the most seen anywhere in it.
fn combined(windows: &[WindowSample]) -> WindowSample {
    let mut span = WindowSample {
        start_s: windows.first().map_or(0.0, |w| w.start_s),
        subjects: Vec::new(),
        services: windows
            .last()
            .map(|w| w.services.clone())
            .unwrap_or_default(),
    };
    for w in windows {
        collect::add_window(&mut span, w);
        for (s, o) in span.services.iter_mut().zip(&w.services) {
            s.max_replicas = s.max_replicas.max(o.max_replicas).max(o.replicas);
        }
    }
    span
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chaos_plan::{Abort, Comparison, Metric, Plan, Subject};
    use chaos_report::recording::subjects_of;
    use chaos_report::{Cause, Stats, SubjectKey};
    use chaos_test_support::plans;

    /// `api` calls `db`; abort when `db`'s error rate is above 50% for 2 s (windows of 1 s).
    fn plan(metric: Metric, op: Comparison, threshold: f64) -> Plan {
        let mut api = plans::replicated("api", 1);
        api.endpoints[0].steps = vec![chaos_plan::Step::Call(plans::call("db", "GET /"))];
        Plan {
            scenario: plans::scenario(10.0),
            aborts: vec![Abort {
                text: "db".into(),
                metric,
                subject: Subject::Endpoint {
                    service: "db".into(),
                    endpoint: "GET /".into(),
                },
                op,
                threshold,
                for_s: 2.0,
            }],
            ..plans::plan(vec![api, plans::replicated("db", 1)])
        }
    }

    /// Windows 0..n, `db` getting `(ok, errors)` in each.
    fn windows(plan: &Plan, db: &[(u64, u64)]) -> Vec<WindowSample> {
        let subjects = subjects_of(plan);
        let j = subjects
            .iter()
            .position(|s| matches!(s, SubjectKey::Endpoint { service, .. } if service == "db"))
            .unwrap();
        db.iter()
            .enumerate()
            .map(|(i, &(ok, errors))| {
                let mut stats = vec![Stats::default(); subjects.len()];
                stats[j].ok = ok;
                stats[j].errors[Cause::Timeout.index()] = errors;
                WindowSample {
                    start_s: i as f64,
                    subjects: stats,
                    services: Vec::new(),
                }
            })
            .collect()
    }

    fn watch(plan: &Plan, samples: &Samples, windows: &[WindowSample]) -> Option<AbortRecord> {
        let services: Vec<String> = plan.services.iter().map(|s| s.name.clone()).collect();
        let mut watcher = AbortWatcher::new(plan, &subjects_of(plan), &services, 1.0);
        for span in spans(0, windows.len(), samples) {
            if let Some(a) = observe(&mut watcher, &windows[span], 1.0) {
                return Some(a);
            }
        }
        None
    }

    #[test]
    fn windows_read_together_are_judged_as_one_stretch_of_their_length() {
        let plan = plan(Metric::ErrorRate, Comparison::Gt, 0.5);
        // Windows 2 and 3 were read together: their 30 errors are all in window 3.
        let merged = windows(
            &plan,
            &[(20, 0), (20, 0), (0, 0), (0, 30), (0, 30), (0, 30)],
        );
        let mut samples = Samples::new(&plan);
        samples.covered(2, 3);
        let spans_found = spans(0, merged.len(), &samples);
        assert_eq!(spans_found, vec![0..1, 1..2, 2..4, 4..5, 5..6]);
        // The two windows hold for 2 s: the abort fires at their end, as if read one by one.
        let each = windows(
            &plan,
            &[(20, 0), (20, 0), (0, 15), (0, 15), (0, 30), (0, 30)],
        );
        let alone = watch(&plan, &Samples::new(&plan), &each).unwrap();
        assert_eq!(alone.at_s, 4.0);
        assert_eq!(watch(&plan, &samples, &merged).unwrap().at_s, 4.0);
        // Window by window, window 2 has no request and restarts the count: a second late.
        assert_eq!(
            watch(&plan, &Samples::new(&plan), &merged).unwrap().at_s,
            5.0
        );
    }

    #[test]
    fn throughput_over_a_span_is_its_requests_over_its_length() {
        // 100/s steady, read as windows 1..=3 together: window by window the empty windows
        // would be 0/s (holds `< 50/s`) and the last 300/s.
        let plan = plan(Metric::Throughput, Comparison::Lt, 50.0);
        let merged = windows(&plan, &[(100, 0), (0, 0), (0, 0), (300, 0), (100, 0)]);
        let mut samples = Samples::new(&plan);
        samples.covered(1, 3);
        assert_eq!(watch(&plan, &samples, &merged), None);
        assert!(watch(&plan, &Samples::new(&plan), &merged).is_some());
    }

    #[test]
    fn a_span_whose_windows_are_not_all_in_waits() {
        let plan = plan(Metric::ErrorRate, Comparison::Gt, 0.5);
        let mut samples = Samples::new(&plan);
        samples.covered(3, 5);
        assert_eq!(spans(2, 5, &samples), vec![2..3]);
        assert_eq!(spans(3, 6, &samples), vec![3..6]);
        // Started in the middle (cannot happen: a span is known before any of it is watched).
        assert_eq!(spans(4, 6, &samples), vec![4..6]);
    }
}
