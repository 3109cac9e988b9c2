//! A run's record, window by window: what the simulator, the local runner and the cluster
//! runner all produce, and the only input of expectation evaluation and reports.
//!
//! A finished request (or attempt) is attributed to the window in which its answer arrived
//! (or the caller gave up), the way a monitoring system sees it. Window `i` covers
//! `[i * window_s, (i + 1) * window_s)`; the last window may be cut short by the end of the run.

use std::collections::BTreeMap;

use chaos_plan::Plan;
use serde::{Deserialize, Serialize};

use crate::abort::AbortWatcher;
use crate::hist::{SparseLatency, WindowLatency};

/// Why a request or attempt did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The caller (a call's timeout or a client's timeout) stopped waiting.
    Timeout,
    /// The replica's queue was full: 503.
    Rejected,
    /// The service's rate limit refused it: 429.
    RateLimited,
    /// An `errors` fault answered instead of the service.
    Injected,
    /// The endpoint's own `fail` step.
    Failed,
    /// A downstream call failed, so the endpoint answered 500.
    Downstream,
    /// The caller's circuit breaker was open.
    CircuitOpen,
    /// No connection: a partition, or no live replica.
    Connection,
    /// The replica serving it was killed.
    Killed,
    /// Still in flight when the run's drain time ran out.
    Unfinished,
    /// Waiting in a full queue when a higher-priority request arrived, and dropped to make
    /// room for it: 503.
    Shed,
}

impl Cause {
    pub const COUNT: usize = 11;
    pub const ALL: [Cause; Cause::COUNT] = [
        Cause::Timeout,
        Cause::Rejected,
        Cause::RateLimited,
        Cause::Injected,
        Cause::Failed,
        Cause::Downstream,
        Cause::CircuitOpen,
        Cause::Connection,
        Cause::Killed,
        Cause::Unfinished,
        Cause::Shed,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Cause::Timeout => "timeout",
            Cause::Rejected => "rejected",
            Cause::RateLimited => "rate_limited",
            Cause::Injected => "injected",
            Cause::Failed => "failed",
            Cause::Downstream => "downstream",
            Cause::CircuitOpen => "circuit_open",
            Cause::Connection => "connection",
            Cause::Killed => "killed",
            Cause::Unfinished => "unfinished",
            Cause::Shed => "shed",
        }
    }
}

/// Whose requests a [`Stats`] counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubjectKey {
    /// Every attempt sent to this endpoint by a workload or a calling service, as the caller saw it.
    Endpoint { service: String, endpoint: String },
    /// Every request of this workload as its clients saw it (retries and client timeout included).
    Workload { workload: String },
}

/// Counts and latency of finished requests. Latency includes failed requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub ok: u64,
    /// Indexed by [`Cause::index`].
    pub errors: [u64; Cause::COUNT],
    pub latency: SparseLatency,
}

impl Stats {
    pub fn requests(&self) -> u64 {
        self.ok + self.error_count()
    }
    pub fn error_count(&self) -> u64 {
        self.errors.iter().sum()
    }
    pub fn errors_by_cause(&self) -> BTreeMap<&'static str, u64> {
        Cause::ALL
            .iter()
            .filter(|c| self.errors[c.index()] > 0)
            .map(|c| (c.name(), self.errors[c.index()]))
            .collect()
    }
    /// Adds counts; latencies are merged by the caller through [`crate::Latency::add_sparse`].
    pub fn add_counts(&mut self, other: &Stats) {
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
    }
}

/// A service's state over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSample {
    /// Replicas serving at the end of the window.
    pub replicas: u32,
    /// Most replicas serving at any moment of the window.
    pub max_replicas: u32,
    /// Busy worker-time over available worker-time (live replicas × workers), `0..=1`.
    pub utilisation: f64,
    /// Mean number of requests waiting in queues, all replicas together.
    pub queue_mean: f64,
}

/// One timeline window: stats per subject and samples per service, parallel to the
/// [`Recording`]'s `subjects` and `services`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowSample {
    pub start_s: f64,
    pub subjects: Vec<Stats>,
    pub services: Vec<ServiceSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortRecord {
    pub text: String,
    pub at_s: f64,
}

/// Something a real run saw happen that the scenario did not ask for, such as an agent that
/// died on its own (killed from outside, crashed, out of memory). It does not change the
/// verdict, which judges what happened, but every report says it, so a pass is read with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnexpectedEvent {
    pub service: String,
    /// The replica's name (`payments-1`).
    pub replica: String,
    /// When the runner noticed it, seconds from the run's start.
    pub at_s: f64,
    /// What happened, in words: `exited with signal 9 (SIGKILL)`, `exited with status 3`.
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// `sim`, `local` or `cluster`.
    pub mode: String,
    pub seed: u64,
    pub window_s: f64,
    /// When the workloads stopped sending: the scenario's duration, or the abort time.
    pub ended_s: f64,
    pub aborted: Option<AbortRecord>,
    pub subjects: Vec<SubjectKey>,
    pub services: Vec<String>,
    pub windows: Vec<WindowSample>,
    /// In time order; the simulator has none (it only does what the scenario says).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unexpected: Vec<UnexpectedEvent>,
    /// The network hop as a real run measured it, for the report to set beside the model's
    /// (`Scenario::hop_s`); the simulator has none (its hops cost exactly the model's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<MeasuredHop>,
}

/// What each answered attempt of a real run cost beyond the callee's own time: the time from
/// the caller's send to the end of the answer, less the time the callee says it held the
/// request (`x-chaos-served-us`). That is the network, both HTTP stacks and the callee's
/// request handling outside the endpoint, which the simulator models as `hop`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeasuredHop {
    /// The load generator's requests to the workloads' entry endpoints.
    pub entry: SparseLatency,
    /// Calls and sends from one service to another.
    pub calls: SparseLatency,
}

impl Recording {
    pub fn subject_index(&self, key: &SubjectKey) -> Option<usize> {
        self.subjects.iter().position(|s| s == key)
    }
    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s == name)
    }
}

/// Subjects every mode records for a plan: every endpoint of every service, then every workload.
pub fn subjects_of(plan: &Plan) -> Vec<SubjectKey> {
    let endpoints = plan.services.iter().flat_map(|s| {
        s.endpoints.iter().map(|e| SubjectKey::Endpoint {
            service: s.name.clone(),
            endpoint: e.name.clone(),
        })
    });
    let workloads = plan.workloads.iter().map(|w| SubjectKey::Workload {
        workload: w.name.clone(),
    });
    endpoints.chain(workloads).collect()
}

/// `q as usize`: `as` truncates, which is `floor` for the non-negative quotients and
/// saturates negatives and NaN to 0 like `.floor().max(0.0)` did, without a libm call per
/// record. Below 2^53 through `i64`: one instruction on x86-64, where `as usize` takes about
/// ten, and every recorded attempt comes here.
#[inline]
fn window_index(q: f64) -> usize {
    if q < (1u64 << 53) as f64 {
        (q as i64).max(0).unsigned_abs() as usize
    } else {
        q as usize
    }
}

/// Builds a [`Recording`] from finished requests reported in (roughly) time order.
///
/// Keeps dense histograms only for the window being filled; earlier windows are kept sparse,
/// so memory grows with the number of windows, never with the number of requests. A late
/// record for an already closed window is still counted in its own window.
#[derive(Debug)]
pub struct Recorder {
    mode: String,
    seed: u64,
    window_s: f64,
    subjects: Vec<SubjectKey>,
    services: Vec<String>,
    closed: Vec<WindowSample>,
    current_index: usize,
    current_counts: Vec<Stats>,
    current_latency: Vec<WindowLatency>,
    current_services: Vec<ServiceSample>,
    abort: AbortWatcher,
    unexpected: Vec<UnexpectedEvent>,
}

impl Recorder {
    pub fn new(plan: &Plan, mode: &str, seed: u64) -> Recorder {
        let subjects = subjects_of(plan);
        let services: Vec<String> = plan.services.iter().map(|s| s.name.clone()).collect();
        let n = subjects.len();
        let abort = AbortWatcher::new(plan, &subjects, &services, plan.scenario.window_s);
        Recorder {
            mode: mode.to_string(),
            seed,
            window_s: plan.scenario.window_s,
            current_counts: vec![Stats::default(); n],
            current_latency: vec![WindowLatency::new(); n],
            current_services: vec![ServiceSample::default(); services.len()],
            subjects,
            services,
            closed: Vec::new(),
            current_index: 0,
            abort,
            unexpected: Vec::new(),
        }
    }

    /// The plan's first `abort when` that fired, checked as each window closes: the caller
    /// (simulator, runner) stops its workloads then and passes it to [`Recorder::finish`].
    pub fn abort_fired(&self) -> Option<&AbortRecord> {
        self.abort.fired()
    }

    /// Notes something the scenario did not ask for (a real runner's observation).
    pub fn unexpected(&mut self, event: UnexpectedEvent) {
        self.unexpected.push(event);
    }

    pub fn subjects(&self) -> &[SubjectKey] {
        &self.subjects
    }

    pub fn window_s(&self) -> f64 {
        self.window_s
    }

    /// The windows closed so far (a live view for a runner that watches a recording in progress).
    pub fn closed_windows(&self) -> &[WindowSample] {
        &self.closed
    }

    #[inline]
    fn window_of(&self, t_s: f64) -> usize {
        window_index(t_s / self.window_s)
    }

    /// Closes every window that ends at or before `t_s`.
    pub fn advance_to(&mut self, t_s: f64) {
        let target = self.window_of(t_s);
        while self.current_index < target {
            self.close_current();
        }
    }

    fn close_current(&mut self) {
        let subjects = self
            .current_counts
            .iter_mut()
            .zip(self.current_latency.iter_mut())
            .map(|(counts, latency)| {
                let mut s = std::mem::take(counts);
                s.latency = latency.take_sparse();
                s
            })
            .collect();
        let services = self.current_services.clone();
        let start_s = self.current_index as f64 * self.window_s;
        let window = WindowSample {
            start_s,
            subjects,
            services,
        };
        self.abort.observe(&window, start_s + self.window_s);
        self.closed.push(window);
        self.current_index += 1;
    }

    /// A request to `subject` finished at `t_s` after `latency_s`, successfully or with a cause.
    #[inline]
    pub fn record(&mut self, subject: usize, t_s: f64, latency_s: f64, outcome: Result<(), Cause>) {
        let w = self.window_of(t_s);
        // Nearly every record falls in the window being filled: that path stays small (few
        // registers to save), closing windows and late records are out of line.
        if w != self.current_index {
            self.record_elsewhere(w, subject, latency_s, outcome);
            return;
        }
        self.record_current(subject, latency_s, outcome);
    }

    #[inline(always)]
    fn record_current(&mut self, subject: usize, latency_s: f64, outcome: Result<(), Cause>) {
        if let (Some(counts), Some(latency)) = (
            self.current_counts.get_mut(subject),
            self.current_latency.get_mut(subject),
        ) {
            match outcome {
                Ok(()) => counts.ok += 1,
                Err(c) => counts.errors[c.index()] += 1,
            }
            latency.record_s(latency_s);
        }
    }

    /// [`Recorder::record`] in window `w`, which is not the current one: a later window (the
    /// ones before it close first) or a closed one.
    #[cold]
    #[inline(never)]
    fn record_elsewhere(
        &mut self,
        w: usize,
        subject: usize,
        latency_s: f64,
        outcome: Result<(), Cause>,
    ) {
        while self.current_index < w {
            self.close_current();
        }
        if w < self.current_index {
            // Late arrival for a closed window: merge into its sparse histogram.
            if let Some(stats) = self
                .closed
                .get_mut(w)
                .and_then(|win| win.subjects.get_mut(subject))
            {
                match outcome {
                    Ok(()) => stats.ok += 1,
                    Err(c) => stats.errors[c.index()] += 1,
                }
                // Appending keeps this cheap; `to_dense` puts the sample in its bucket.
                stats.latency.push_s(latency_s);
            }
            return;
        }
        self.record_current(subject, latency_s, outcome);
    }

    /// Sets a service's sample for the window containing `t_s` (call it before that window
    /// closes; later calls for the same window overwrite earlier ones).
    pub fn sample_service(&mut self, service: usize, t_s: f64, sample: ServiceSample) {
        let w = self.window_of(t_s);
        if w < self.current_index {
            if let Some(s) = self
                .closed
                .get_mut(w)
                .and_then(|win| win.services.get_mut(service))
            {
                *s = sample;
            }
            return;
        }
        self.advance_to(t_s);
        if let Some(s) = self.current_services.get_mut(service) {
            *s = sample;
        }
    }

    /// Ends the recording: every window up to `horizon_s` (the end of the drain) is closed.
    /// `aborted` defaults to the abort the watcher saw fire ([`Recorder::abort_fired`]).
    pub fn finish(
        mut self,
        ended_s: f64,
        horizon_s: f64,
        aborted: Option<AbortRecord>,
    ) -> Recording {
        // Windows of the sending period may still fire the abort; drain windows may not.
        let sending = ((ended_s / self.window_s).ceil().max(0.0)) as usize;
        while self.current_index < sending {
            self.close_current();
        }
        let aborted = aborted.or_else(|| self.abort.fired().cloned());
        let last = ((horizon_s / self.window_s).ceil().max(1.0)) as usize;
        while self.current_index < last {
            self.close_current();
        }
        Recording {
            mode: self.mode,
            seed: self.seed,
            window_s: self.window_s,
            ended_s,
            aborted,
            subjects: self.subjects,
            services: self.services,
            windows: self.closed,
            unexpected: self.unexpected,
            hop: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_index_is_as_usize() {
        let mut qs = vec![
            0.0,
            -0.0,
            -0.5,
            -1e300,
            0.999_999,
            1.0,
            7.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            (1u64 << 53) as f64,
            (1u64 << 53) as f64 - 1.0,
            1e19,
            1e300,
        ];
        qs.extend((0..10_000).map(|k| f64::from(k) * 0.37 - 50.0));
        for q in qs {
            assert_eq!(window_index(q), q as usize, "{q}");
        }
    }
}
