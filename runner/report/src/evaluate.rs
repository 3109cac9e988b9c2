//! Expectation evaluation: a [`Plan`]'s expectations judged on a [`Recording`].
//!
//! The rules, as the language reference states them (and the choices where it is silent):
//! - **Window membership.** Timeline window `i` covers `[i·w, (i+1)·w)` (the last one cut short
//!   by the end of the drain). It belongs to an expectation's interval when its *midpoint* lies in
//!   the interval (`start <= mid < end`), so a window is counted once, never split.
//! - **Clipping.** Intervals are clipped to the part of the run that happened: nothing after
//!   `ended_s` (the scenario's end, or the abort). An interval that reaches `ended_s`
//!   (`overall`, `after F` without `for`, a fault lasting to the end) is extended over the
//!   drain, so the answers to requests sent before the end (and the `unfinished` ones) count.
//! - **Throughput** is successful answers per second of *sending time*: the answers in the
//!   chosen windows over the part of those windows before `ended_s` (drain windows add
//!   answers, never seconds).
//! - **No data.** A latency or error metric over windows with no finished request, a window
//!   that selects no timeline window, or a recovery without a baseline gives "no data", and
//!   the expectation **fails**: a gate that could not check something must not pass.
//! - **Recovery** follows the spec: baseline error rate and p99 over `before F`; from the fault's
//!   end, the start of the first run of 5 consecutive windows (midpoint at or after the end,
//!   before `ended_s`) each with an error rate `<= max(2 × baseline, 0.1%)` and a p99
//!   `<= 1.5 × baseline p99`; 0 when the first such run starts right at the end; "never"
//!   (fails) otherwise. A window with no finished request counts as healthy (nothing failed).

use chaos_plan::{Comparison, Expectation, Interval, Metric, Plan, Subject};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::hist::{Latency, SparseLatency};
use crate::recording::{Cause, Recording, ServiceSample, Stats, SubjectKey, WindowSample};

/// Consecutive healthy windows that make a recovery.
pub const RECOVERY_WINDOWS: usize = 5;
/// The error-rate floor of recovery: 0.1%.
pub const RECOVERY_MIN_ERROR_RATE: f64 = 0.001;

/// What an expectation observed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Observed {
    /// In base units (seconds, fractions, per second, counts).
    Value(f64),
    /// Nothing to measure in the window (see the module doc); fails.
    NoData,
    /// `recovery` that did not happen before the run ended; fails.
    Never,
}

impl Observed {
    pub fn value(self) -> Option<f64> {
        match self {
            Observed::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// One expectation's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub text: String,
    pub metric: Metric,
    pub op: Comparison,
    /// In base units.
    pub threshold: f64,
    pub window: String,
    pub observed: Observed,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("the recording has no subject `{0}`; it was not made from this plan")]
    UnknownSubject(String),
    #[error("the recording's window width is not positive")]
    BadWindow,
}

/// Which recording subjects and which service a plan [`Subject`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Indices into the recording's subjects (every endpoint of a service, or one subject).
    pub subjects: Vec<usize>,
    /// The service whose replicas `max_replicas` reads (a workload reads its target's).
    pub service: Option<usize>,
}

/// Resolves `subject` against a recording's subject and service lists.
pub fn resolve(
    plan: &Plan,
    keys: &[SubjectKey],
    services: &[String],
    subject: &Subject,
) -> Result<Resolved, EvalError> {
    let service_idx = |name: &str| services.iter().position(|s| s == name);
    let (subjects, service, label) = match subject {
        Subject::Endpoint { service, endpoint } => {
            let key = SubjectKey::Endpoint {
                service: service.clone(),
                endpoint: endpoint.clone(),
            };
            let found: Vec<usize> = keys.iter().position(|k| *k == key).into_iter().collect();
            (
                found,
                service_idx(service),
                format!("{service} \"{endpoint}\""),
            )
        }
        Subject::Service { service } => {
            let found: Vec<usize> = keys
                .iter()
                .enumerate()
                .filter(
                    |(_, k)| matches!(k, SubjectKey::Endpoint { service: s, .. } if s == service),
                )
                .map(|(i, _)| i)
                .collect();
            (found, service_idx(service), service.clone())
        }
        Subject::Workload { workload } => {
            let key = SubjectKey::Workload {
                workload: workload.clone(),
            };
            let found: Vec<usize> = keys.iter().position(|k| *k == key).into_iter().collect();
            let target = plan
                .workload(workload)
                .and_then(|w| service_idx(&w.target.service));
            (found, target, workload.clone())
        }
    };
    if subjects.is_empty() {
        return Err(EvalError::UnknownSubject(label));
    }
    Ok(Resolved { subjects, service })
}

/// Figures of one subject summed over some windows.
#[derive(Debug, Clone)]
pub struct Agg {
    pub ok: u64,
    pub errors: [u64; Cause::COUNT],
    pub latency: Latency,
    pub max_replicas: u32,
    /// Timeline windows summed.
    pub windows: usize,
    /// Seconds of those windows before the end of sending (the throughput denominator).
    pub sending_s: f64,
}

impl Agg {
    pub fn new() -> Agg {
        Agg {
            ok: 0,
            errors: [0; Cause::COUNT],
            latency: Latency::new(),
            max_replicas: 0,
            windows: 0,
            sending_s: 0.0,
        }
    }

    /// Empties it for reuse (cheaper than a new dense histogram per window).
    pub fn reset(&mut self) {
        self.ok = 0;
        self.errors = [0; Cause::COUNT];
        if !self.latency.is_empty() {
            self.latency.reset();
        }
        self.max_replicas = 0;
        self.windows = 0;
        self.sending_s = 0.0;
    }

    pub fn requests(&self) -> u64 {
        self.ok + self.error_count()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn error_rate(&self) -> Option<f64> {
        let n = self.requests();
        (n > 0).then(|| self.error_count() as f64 / n as f64)
    }

    /// Adds one window's figures for `subjects` (and `service`'s sample).
    pub fn add_window(
        &mut self,
        window: &WindowSample,
        subjects: &[usize],
        service: Option<usize>,
        sending_s: f64,
    ) {
        self.add_window_with(window, subjects, service, sending_s, Self::add_stats);
    }

    /// [`Agg::add_window`] for a metric that reads no latency: `latency` stays empty.
    pub fn add_window_counts(
        &mut self,
        window: &WindowSample,
        subjects: &[usize],
        service: Option<usize>,
        sending_s: f64,
    ) {
        self.add_window_with(window, subjects, service, sending_s, Self::add_counts);
    }

    fn add_window_with(
        &mut self,
        window: &WindowSample,
        subjects: &[usize],
        service: Option<usize>,
        sending_s: f64,
        add: impl Fn(&mut Self, &Stats),
    ) {
        for stats in subjects.iter().filter_map(|&i| window.subjects.get(i)) {
            add(self, stats);
        }
        if let Some(sample) = service.and_then(|i| window.services.get(i)) {
            self.add_sample(sample);
        }
        self.windows += 1;
        self.sending_s += sending_s;
    }

    /// [`Agg::add_window`] for a reader of counts and quantiles: with one subject, its
    /// window's buckets are handed back to be read as they are
    /// ([`SparseLatency::quantile_s`]) and `latency` stays empty; with several they are
    /// merged into `latency` as usual and `None` is returned.
    pub fn add_window_for_quantiles<'w>(
        &mut self,
        window: &'w WindowSample,
        subjects: &[usize],
        service: Option<usize>,
        sending_s: f64,
    ) -> Option<&'w SparseLatency> {
        let [one] = subjects else {
            self.add_window(window, subjects, service, sending_s);
            return None;
        };
        let stats = window.subjects.get(*one);
        if let Some(stats) = stats {
            self.add_counts(stats);
        }
        if let Some(sample) = service.and_then(|i| window.services.get(i)) {
            self.add_sample(sample);
        }
        self.windows += 1;
        self.sending_s += sending_s;
        stats.map(|s| &s.latency)
    }

    pub fn add_stats(&mut self, stats: &Stats) {
        self.add_counts(stats);
        self.latency.add_sparse(&stats.latency);
    }

    fn add_counts(&mut self, stats: &Stats) {
        self.ok += stats.ok;
        for (a, b) in self.errors.iter_mut().zip(stats.errors) {
            *a += b;
        }
    }

    pub(crate) fn add_sample(&mut self, sample: &ServiceSample) {
        self.max_replicas = self
            .max_replicas
            .max(sample.max_replicas.max(sample.replicas));
    }

    /// The value of `metric` (any but `recovery`), `None` when there is nothing to measure.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        if let Some(p) = metric.percentile() {
            return self.latency.quantile_s(p / 100.0);
        }
        match metric {
            Metric::Mean => self.latency.mean_s(),
            Metric::Max => self.latency.max_s(),
            Metric::ErrorRate => self.error_rate(),
            Metric::Availability => self.error_rate().map(|e| 1.0 - e),
            Metric::Throughput => (self.sending_s > 0.0).then(|| self.ok as f64 / self.sending_s),
            Metric::MaxReplicas => (self.windows > 0).then_some(f64::from(self.max_replicas)),
            _ => None,
        }
    }

    pub fn errors_of(&self, cause: Cause) -> u64 {
        self.errors[cause.index()]
    }
}

impl Default for Agg {
    fn default() -> Self {
        Agg::new()
    }
}

/// Where a recording's timeline ends and sending ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub window_s: f64,
    /// When the workloads stopped sending.
    pub ended_s: f64,
    /// End of the drain (and of the last timeline window).
    pub horizon_s: f64,
}

impl Span {
    pub fn of(plan: &Plan, rec: &Recording) -> Span {
        let last = rec.windows.len() as f64 * rec.window_s;
        let horizon_s = (rec.ended_s + plan.scenario.drain_s)
            .min(last)
            .max(rec.ended_s.min(last));
        Span {
            window_s: rec.window_s,
            ended_s: rec.ended_s,
            horizon_s,
        }
    }

    /// `[start, end)` of window `i`.
    pub fn bounds(&self, i: usize) -> (f64, f64) {
        let start = i as f64 * self.window_s;
        (
            start,
            (start + self.window_s).min(self.horizon_s.max(start)),
        )
    }

    pub fn midpoint(&self, i: usize) -> f64 {
        let (a, b) = self.bounds(i);
        if b > a { a + (b - a) / 2.0 } else { a }
    }

    /// Seconds of window `i` before sending ended.
    pub fn sending_s(&self, i: usize) -> f64 {
        let (a, b) = self.bounds(i);
        (b.min(self.ended_s) - a).max(0.0)
    }

    /// `intervals` clipped to what happened, those reaching the end extended over the drain.
    pub fn effective(&self, intervals: &[Interval]) -> Vec<Interval> {
        intervals
            .iter()
            .filter_map(|iv| {
                if iv.start_s >= self.ended_s {
                    return None;
                }
                let end_s = if iv.end_s >= self.ended_s {
                    self.horizon_s
                } else {
                    iv.end_s
                };
                (end_s > iv.start_s).then_some(Interval {
                    start_s: iv.start_s,
                    end_s,
                })
            })
            .collect()
    }

    /// Windows whose midpoint lies in one of `intervals` (after [`Span::effective`]).
    pub fn windows_in(&self, n_windows: usize, intervals: &[Interval]) -> Vec<usize> {
        let eff = self.effective(intervals);
        (0..n_windows)
            .filter(|&i| {
                let mid = self.midpoint(i);
                eff.iter().any(|iv| iv.contains(mid))
            })
            .collect()
    }
}

/// Sums `resolved` over `windows`.
pub fn aggregate(rec: &Recording, span: &Span, windows: &[usize], resolved: &Resolved) -> Agg {
    aggregate_for(rec, span, windows, resolved, None)
}

/// [`aggregate`] for reading `metric` (`None`: any): a metric that reads no latency leaves
/// the histogram empty, since merging the windows' buckets is most of the cost.
pub fn aggregate_for(
    rec: &Recording,
    span: &Span,
    windows: &[usize],
    resolved: &Resolved,
    metric: Option<Metric>,
) -> Agg {
    let latency = metric.is_none_or(reads_latency);
    let mut agg = Agg::new();
    for &i in windows {
        if let Some(w) = rec.windows.get(i) {
            let (subjects, service) = (&resolved.subjects, resolved.service);
            if latency {
                agg.add_window(w, subjects, service, span.sending_s(i));
            } else {
                agg.add_window_counts(w, subjects, service, span.sending_s(i));
            }
        }
    }
    agg
}

/// Whether [`Agg::metric`] reads the latency histogram for `metric`.
pub fn reads_latency(metric: Metric) -> bool {
    metric.percentile().is_some() || matches!(metric, Metric::Mean | Metric::Max)
}

/// The `overall` interval of a plan: from the end of warmup to the end of the run.
pub fn overall(plan: &Plan) -> Interval {
    Interval {
        start_s: plan.scenario.warmup_s.min(plan.scenario.duration_s),
        end_s: plan.scenario.duration_s,
    }
}

/// Judges every expectation of `plan` on `rec`, in the plan's order.
pub fn evaluate(plan: &Plan, rec: &Recording) -> Result<Vec<Verdict>, EvalError> {
    evaluate_with(plan, rec, None)
}

/// [`evaluate`], reading the sums over `overall` from `digest` when it is given (a report
/// builds one for its tables anyway).
pub fn evaluate_with(
    plan: &Plan,
    rec: &Recording,
    digest: Option<&Digest>,
) -> Result<Vec<Verdict>, EvalError> {
    if rec.window_s.is_nan() || rec.window_s <= 0.0 {
        return Err(EvalError::BadWindow);
    }
    let span = Span::of(plan, rec);
    plan.expectations
        .iter()
        .map(|e| evaluate_one(plan, rec, &span, e, digest))
        .collect()
}

fn evaluate_one(
    plan: &Plan,
    rec: &Recording,
    span: &Span,
    e: &Expectation,
    digest: Option<&Digest>,
) -> Result<Verdict, EvalError> {
    let resolved = resolve(plan, &rec.subjects, &rec.services, &e.subject)?;
    let observed = if e.metric == Metric::Recovery {
        recovery(rec, span, e, &resolved)
    } else {
        let windows = span.windows_in(rec.windows.len(), &e.window.intervals);
        let agg = match digest {
            Some(d) if d.overall_windows() == windows.as_slice() => {
                d.overall_agg(rec, span, &resolved.subjects, resolved.service)
            }
            _ => aggregate_for(rec, span, &windows, &resolved, Some(e.metric)),
        };
        agg.metric(e.metric)
            .map_or(Observed::NoData, Observed::Value)
    };
    let passed = match observed {
        Observed::Value(v) => e.op.holds(v, e.threshold),
        Observed::NoData | Observed::Never => false,
    };
    Ok(Verdict {
        text: e.text.clone(),
        metric: e.metric,
        op: e.op,
        threshold: e.threshold,
        window: e.window.label.clone(),
        observed,
        passed,
    })
}

fn recovery(rec: &Recording, span: &Span, e: &Expectation, resolved: &Resolved) -> Observed {
    let Some(from) = e.window.recovery_from_s else {
        return Observed::NoData;
    };
    let baseline_windows = span.windows_in(rec.windows.len(), &e.window.baseline);
    let base = aggregate(rec, span, &baseline_windows, resolved);
    let (Some(base_err), Some(base_p99)) = (base.error_rate(), base.latency.quantile_s(0.99))
    else {
        return Observed::NoData;
    };
    let err_limit = (2.0 * base_err).max(RECOVERY_MIN_ERROR_RATE);
    let p99_limit = 1.5 * base_p99;
    let mut agg = Agg::new();
    let mut healthy = |i: usize| {
        agg.reset();
        // One subject's p99 is read from its window's buckets, without a dense histogram.
        let p99 = match rec.windows.get(i) {
            Some(w) => match agg.add_window_for_quantiles(w, &resolved.subjects, None, 0.0) {
                Some(one) => one.quantile_s(0.99),
                None => agg.latency.quantile_s(0.99),
            },
            None => None,
        };
        let err_ok = agg.error_rate().is_none_or(|r| r <= err_limit);
        let p99_ok = p99.is_none_or(|p| p <= p99_limit);
        err_ok && p99_ok
    };
    let candidates: Vec<usize> = (0..rec.windows.len())
        .filter(|&i| {
            let mid = span.midpoint(i);
            mid >= from && mid < span.ended_s
        })
        .collect();
    let mut streak = 0;
    for (k, &i) in candidates.iter().enumerate() {
        if !healthy(i) {
            streak = 0;
            continue;
        }
        streak += 1;
        if streak >= RECOVERY_WINDOWS {
            let first = k + 1 - RECOVERY_WINDOWS;
            // Healthy from the first window after the fault: it held at once.
            if first == 0 {
                return Observed::Value(0.0);
            }
            let start = candidates.get(first).map_or(from, |&s| span.bounds(s).0);
            return Observed::Value((start - from).max(0.0));
        }
    }
    Observed::Never
}
