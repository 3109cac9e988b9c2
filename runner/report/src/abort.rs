//! `abort when COND for D`: watches each timeline window as it closes and says when a
//! condition has held in every window for `D` consecutive seconds.
//!
//! Choices where the spec is silent: the condition is checked in every window from the start
//! of the run (warmup included: an abort is a safety stop); `D` is rounded up to whole windows
//! (at least one); a window in which the condition cannot be measured (no finished request)
//! does not hold and restarts the count. A record arriving late for an already closed window is
//! not seen. Drain windows (after `duration`) are not watched. `recovery` cannot be watched per
//! window and never fires.
//!
//! The last window of the sending period may be cut short by the end of `duration` (a
//! `duration` that is not a multiple of `window`). It is clipped to the run: it counts for its
//! seconds inside the run, both towards `D` and as throughput's denominator, and is judged on
//! what it has. So the streak is kept in seconds, and fires once it covers `D` rounded up to
//! whole windows, or, at the end of the run, `D` itself. The abort's instant is the end of the
//! clipped window that completes the streak: never after the end of `duration`.

use chaos_plan::{Comparison, Metric, Plan};

use crate::evaluate::{Agg, resolve};
use crate::recording::{AbortRecord, SubjectKey, WindowSample};

#[derive(Debug, Clone)]
struct Condition {
    text: String,
    metric: Metric,
    subjects: Vec<usize>,
    service: Option<usize>,
    op: Comparison,
    threshold: f64,
    /// `D` in whole windows (at least one), in seconds.
    needed_s: f64,
    /// `D` as written, which a streak ending at the end of the run (clipped) must cover.
    for_s: f64,
    /// Seconds (inside the run) of the windows in which the condition has held in a row.
    streak_s: f64,
}

/// The plan's aborts, checked window by window. Fires at most once.
#[derive(Debug, Clone)]
pub struct AbortWatcher {
    conditions: Vec<Condition>,
    fired: Option<AbortRecord>,
    /// Scratch space reused for every window.
    scratch: Agg,
    /// Windows starting at or after this (the drain) are not watched.
    until_s: f64,
}

impl AbortWatcher {
    /// Builds the watcher for `plan`'s aborts over a recording's subjects and services.
    /// Conditions whose subject is unknown are left out (the compiler has resolved names).
    pub fn new(
        plan: &Plan,
        subjects: &[SubjectKey],
        services: &[String],
        window_s: f64,
    ) -> AbortWatcher {
        let conditions = plan
            .aborts
            .iter()
            .filter_map(|a| {
                let r = resolve(plan, subjects, services, &a.subject).ok()?;
                let needed_s = if window_s > 0.0 {
                    ((a.for_s / window_s) - 1e-9).ceil().max(1.0) * window_s
                } else {
                    0.0
                };
                Some(Condition {
                    text: a.text.clone(),
                    metric: a.metric,
                    subjects: r.subjects,
                    service: r.service,
                    op: a.op,
                    threshold: a.threshold,
                    needed_s,
                    for_s: a.for_s,
                    streak_s: 0.0,
                })
            })
            .collect();
        AbortWatcher {
            conditions,
            fired: None,
            scratch: Agg::new(),
            until_s: plan.scenario.duration_s,
        }
    }

    /// Looks at one closed window `[start_s, end_s)`; returns the abort if it fires now.
    /// A window reaching past the end of `duration` is clipped to it.
    pub fn observe(&mut self, window: &WindowSample, end_s: f64) -> Option<&AbortRecord> {
        if self.fired.is_some() || window.start_s >= self.until_s {
            return None;
        }
        let clipped = end_s > self.until_s;
        let end_s = end_s.min(self.until_s);
        let width = (end_s - window.start_s).max(0.0);
        // Floating-point sums of window widths must not miss a streak by an ulp.
        let slack = 1e-9 * width.max(1.0);
        let agg = &mut self.scratch;
        for c in &mut self.conditions {
            agg.reset();
            agg.add_window(window, &c.subjects, c.service, width);
            let holds = match c.metric {
                Metric::Recovery => false,
                m => agg.metric(m).is_some_and(|v| c.op.holds(v, c.threshold)),
            };
            c.streak_s = if holds { c.streak_s + width } else { 0.0 };
            let covered = holds
                && (c.streak_s + slack >= c.needed_s || (clipped && c.streak_s + slack >= c.for_s));
            if covered && self.fired.is_none() {
                self.fired = Some(AbortRecord {
                    text: c.text.clone(),
                    at_s: end_s,
                });
            }
        }
        self.fired.as_ref()
    }

    pub fn fired(&self) -> Option<&AbortRecord> {
        self.fired.as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }
}
