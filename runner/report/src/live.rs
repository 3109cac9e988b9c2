//! A run watched while it happens: what a runner hands over each window ([`Observer`]), and
//! the live update built from it ([`LiveState`] → [`LiveUpdate`]) that the terminal view,
//! the dashboard and its `/metrics` all show.
//!
//! Built only from what every mode already produces per window (a [`WindowSample`]) and the
//! plan, so `--sim`, `--local` and `--cluster` are watched one way. Expectations are judged
//! by the same [`crate::evaluate`] as the final report, on the windows seen so far: the live
//! verdict of a finished run is the report's verdict.

use std::collections::BTreeMap;
use std::sync::Arc;

use chaos_plan::{Action, Plan};
use serde::{Deserialize, Serialize};

use crate::evaluate::Agg;
use crate::model::{Topology, round3, round6};
use crate::recording::{Cause, Recording, SubjectKey, WindowSample, subjects_of};

/// What a runner tells its observer, as it happens.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// Time 0 of the run: everything is deployed and the load starts now.
    Started,
    /// Window `index` has been read (the load generator's figures and the agents' together).
    Window {
        index: usize,
        window: &'a WindowSample,
    },
}

/// Receives [`Seen`] events from a runner's own thread or task; it must return quickly.
#[derive(Clone)]
pub struct Observer(Arc<ObserverFn>);

type ObserverFn = dyn Fn(Seen<'_>) + Send + Sync;

impl Observer {
    pub fn new(f: impl Fn(Seen<'_>) + Send + Sync + 'static) -> Observer {
        Observer(Arc::new(f))
    }

    pub fn started(&self) {
        (self.0)(Seen::Started)
    }

    pub fn window(&self, index: usize, window: &WindowSample) {
        (self.0)(Seen::Window { index, window })
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer(callback)")
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Before time 0: agents, Pods, the load generator being started.
    Deploying,
    /// Sending, before the scenario's `warmup` ends (not judged by `overall`).
    Warmup,
    Running,
    /// Sending stopped; in-flight requests get the drain time to finish.
    Draining,
    /// Faults reverted, agents stopped, figures collected.
    CleaningUp,
    /// The run is over; the report is written.
    Done,
}

impl Phase {
    /// The phase at `elapsed_s` into the run (`None`: not started yet).
    pub fn at(plan: &Plan, elapsed_s: Option<f64>) -> Phase {
        let Some(t) = elapsed_s else {
            return Phase::Deploying;
        };
        let s = &plan.scenario;
        if t < s.warmup_s.min(s.duration_s) {
            Phase::Warmup
        } else if t < s.duration_s {
            Phase::Running
        } else if t < plan.horizon_s() {
            Phase::Draining
        } else {
            Phase::CleaningUp
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Deploying => "deploying",
            Phase::Warmup => "warmup",
            Phase::Running => "running",
            Phase::Draining => "draining",
            Phase::CleaningUp => "cleaning up",
            Phase::Done => "done",
        }
    }
}

/// Everything a live view shows at one moment; serialised as one SSE event of the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveUpdate {
    pub scenario: String,
    pub mode: String,
    pub window_s: f64,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Duration plus drain: the end of the last window.
    pub total_s: f64,
    /// Seconds since time 0 (0 while deploying).
    pub elapsed_s: f64,
    pub phase: Phase,
    /// The newest window read, if any.
    pub window: Option<LiveWindow>,
    pub faults: Vec<LiveFault>,
    pub expectations: Vec<LiveExpectation>,
    pub topology: Topology,
}

/// One window's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveWindow {
    pub index: usize,
    pub start_s: f64,
    pub end_s: f64,
    pub services: Vec<LiveService>,
    pub workloads: Vec<LiveWorkload>,
    /// Calls (caller → callee) and entries (workload → target), with the callee's inbound
    /// figures: an endpoint's figures count every caller together.
    pub edges: Vec<LiveEdge>,
}

/// One service over one window: every attempt at its endpoints, as the callers saw them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveService {
    pub name: String,
    pub requests: u64,
    pub rate_per_s: f64,
    pub errors: u64,
    pub errors_by_cause: BTreeMap<String, u64>,
    /// `0..=1`; `None` without requests.
    pub error_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub replicas: u32,
    pub utilisation_pct: f64,
    pub queue_mean: f64,
    /// A fault that concerns it is in force now.
    pub under_fault: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveWorkload {
    pub name: String,
    pub requests: u64,
    pub rate_per_s: f64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEdge {
    /// A service, or `workload:NAME`.
    pub from: String,
    pub to: String,
    pub rate_per_s: f64,
    pub error_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveFault {
    pub name: String,
    /// The services it acts on.
    pub services: Vec<String>,
    /// In force now.
    pub active: bool,
    /// Its `during` intervals that have begun, clipped to now: the bands drawn so far.
    pub bands: Vec<crate::model::TimeSpan>,
}

/// An expectation judged on the windows read so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveExpectation {
    pub text: String,
    /// `holding`, `failing`, or `waiting` (nothing to judge yet).
    pub status: String,
    /// In the display unit.
    pub observed: Option<f64>,
    pub op: String,
    pub threshold: f64,
    pub unit: String,
    pub window: String,
}

/// The windows of a run in progress, and the updates made from them. Pure: the caller gives
/// the time.
#[derive(Debug, Clone)]
pub struct LiveState {
    plan: Plan,
    mode: String,
    subjects: Vec<SubjectKey>,
    /// The windows read so far, kept as a Recording so that judging them copies nothing.
    rec: Recording,
    newest: Option<usize>,
    topology: Topology,
    /// The expectations of the windows read (and whether the run was over), until a new
    /// window comes: views ask several times a second, windows change once per window.
    judged: Option<(bool, Vec<LiveExpectation>)>,
}

impl LiveState {
    pub fn new(plan: &Plan, mode: &str, seed: u64) -> LiveState {
        LiveState {
            plan: plan.clone(),
            mode: mode.to_string(),
            subjects: subjects_of(plan),
            rec: Recording {
                mode: mode.to_string(),
                seed,
                window_s: plan.scenario.window_s,
                ended_s: 0.0,
                aborted: None,
                subjects: subjects_of(plan),
                services: plan.services.iter().map(|s| s.name.clone()).collect(),
                windows: Vec::new(),
                unexpected: Vec::new(),
                hop: None,
            },
            newest: None,
            topology: crate::model::topology(plan),
            judged: None,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Window `index` as read; a window read again replaces the earlier one.
    pub fn push(&mut self, index: usize, window: &WindowSample) {
        self.judged = None;
        let windows = &mut self.rec.windows;
        if windows.len() <= index {
            let w = self.plan.scenario.window_s;
            let empty = |i: usize| WindowSample {
                start_s: i as f64 * w,
                subjects: vec![Default::default(); self.subjects.len()],
                services: vec![Default::default(); self.plan.services.len()],
            };
            let from = windows.len();
            windows.extend((from..=index).map(empty));
        }
        windows[index] = window.clone();
        self.newest = Some(self.newest.map_or(index, |n| n.max(index)));
    }

    pub fn windows_read(&self) -> usize {
        self.rec.windows.len()
    }

    /// Each workload's requests so far, by outcome (for counters that only grow).
    pub fn workload_totals(&self) -> Vec<Totals> {
        self.subjects
            .iter()
            .enumerate()
            .filter_map(|(i, k)| match k {
                SubjectKey::Workload { workload } => Some((i, workload)),
                SubjectKey::Endpoint { .. } => None,
            })
            .map(|(i, name)| {
                let mut t = Totals {
                    name: name.clone(),
                    ok: 0,
                    errors: [0; Cause::COUNT],
                };
                for stats in self.rec.windows.iter().filter_map(|w| w.subjects.get(i)) {
                    t.ok += stats.ok;
                    for (a, b) in t.errors.iter_mut().zip(stats.errors) {
                        *a += b;
                    }
                }
                t
            })
            .collect()
    }

    /// The update at `elapsed_s` since time 0 (`None`: not started) in `phase`.
    pub fn update(&mut self, elapsed_s: Option<f64>, phase: Phase) -> LiveUpdate {
        let expectations = self.expectations(phase == Phase::Done);
        let plan = &self.plan;
        let s = &plan.scenario;
        let now = elapsed_s.unwrap_or(0.0);
        let faults = self.faults(elapsed_s);
        let window = self
            .newest
            .and_then(|i| self.rec.windows.get(i).map(|w| (i, w)))
            .map(|(i, w)| self.window(i, w, &faults));
        LiveUpdate {
            scenario: s.name.clone(),
            mode: self.mode.clone(),
            window_s: s.window_s,
            warmup_s: s.warmup_s,
            duration_s: s.duration_s,
            total_s: plan.horizon_s(),
            elapsed_s: round3(now),
            phase,
            window,
            faults,
            expectations,
            topology: self.topology.clone(),
        }
    }

    fn faults(&self, elapsed_s: Option<f64>) -> Vec<LiveFault> {
        let now = elapsed_s.unwrap_or(-1.0);
        self.plan
            .faults
            .iter()
            .map(|f| {
                let bands = f
                    .active
                    .iter()
                    .filter(|iv| iv.start_s <= now)
                    .map(|iv| crate::model::TimeSpan {
                        start_s: iv.start_s,
                        end_s: iv.end_s.min(now),
                    })
                    .collect();
                let mut services: Vec<String> = f.actions.iter().flat_map(services_of).collect();
                services.sort();
                services.dedup();
                LiveFault {
                    name: f.name.clone(),
                    services,
                    active: f
                        .active
                        .iter()
                        .any(|iv| iv.start_s <= now && now < iv.end_s),
                    bands,
                }
            })
            .collect()
    }

    fn window(&self, index: usize, w: &WindowSample, faults: &[LiveFault]) -> LiveWindow {
        let window_s = self.plan.scenario.window_s;
        let mut agg = Agg::new();
        let mut sum = |pick: &dyn Fn(&SubjectKey) -> bool| {
            agg.reset();
            for (key, stats) in self.subjects.iter().zip(&w.subjects) {
                if pick(key) {
                    agg.add_stats(stats);
                }
            }
            Figures::of(&agg, window_s)
        };
        let under: Vec<&str> = faults
            .iter()
            .filter(|f| f.active)
            .flat_map(|f| f.services.iter().map(String::as_str))
            .collect();
        let mut services = Vec::new();
        for (i, s) in self.plan.services.iter().enumerate() {
            let f =
                sum(&|k| matches!(k, SubjectKey::Endpoint { service, .. } if *service == s.name));
            let sample = w.services.get(i).cloned().unwrap_or_default();
            services.push(LiveService {
                name: s.name.clone(),
                requests: f.requests,
                rate_per_s: f.rate_per_s,
                errors: f.errors,
                errors_by_cause: f.by_cause,
                error_rate: f.error_rate,
                p50_ms: f.p50_ms,
                p90_ms: f.p90_ms,
                p99_ms: f.p99_ms,
                replicas: sample.replicas,
                utilisation_pct: round3(sample.utilisation * 100.0),
                queue_mean: round3(sample.queue_mean),
                under_fault: under.contains(&s.name.as_str()),
            });
        }
        let mut workloads = Vec::new();
        for wl in &self.plan.workloads {
            let f =
                sum(&|k| matches!(k, SubjectKey::Workload { workload } if *workload == wl.name));
            workloads.push(LiveWorkload {
                name: wl.name.clone(),
                requests: f.requests,
                rate_per_s: f.rate_per_s,
                errors: f.errors,
                error_rate: f.error_rate,
                p99_ms: f.p99_ms,
            });
        }
        let inbound = |to: &str| services.iter().find(|s| s.name == to);
        let mut edges = Vec::new();
        for e in &self.topology.calls {
            if let Some(s) = inbound(&e.to) {
                edges.push(LiveEdge {
                    from: e.from.clone(),
                    to: e.to.clone(),
                    rate_per_s: s.rate_per_s,
                    error_rate: s.error_rate,
                });
            }
        }
        for e in &self.topology.entries {
            if let Some(w) = workloads.iter().find(|w| w.name == e.from) {
                edges.push(LiveEdge {
                    from: format!("workload:{}", e.from),
                    to: e.to.clone(),
                    rate_per_s: w.rate_per_s,
                    error_rate: w.error_rate,
                });
            }
        }
        LiveWindow {
            index,
            start_s: w.start_s,
            end_s: w.start_s + window_s,
            services,
            workloads,
            edges,
        }
    }

    /// Every expectation on the windows read so far. Until the run is `done`, one without
    /// data yet (its window has not come, or `recovery` not yet seen) is `waiting`.
    fn expectations(&mut self, done: bool) -> Vec<LiveExpectation> {
        if let Some((d, judged)) = &self.judged
            && *d == done
        {
            return judged.clone();
        }
        let s = &self.plan.scenario;
        let read_s = self.rec.windows.len() as f64 * s.window_s;
        self.rec.ended_s = read_s.min(s.duration_s);
        let Ok(verdicts) = crate::evaluate(&self.plan, &self.rec) else {
            return Vec::new();
        };
        let judged: Vec<LiveExpectation> = verdicts
            .iter()
            .map(|v| {
                let row = crate::model::expectation_result(v);
                let status = match (row.observed, v.passed) {
                    (None, _) if !done => "waiting",
                    (_, true) => "holding",
                    (_, false) => "failing",
                };
                LiveExpectation {
                    text: row.text,
                    status: status.to_string(),
                    observed: row.observed,
                    op: row.op,
                    threshold: row.threshold,
                    unit: row.unit,
                    window: row.window,
                }
            })
            .collect();
        self.judged = Some((done, judged.clone()));
        judged
    }
}

/// A workload's requests over the windows read so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub name: String,
    pub ok: u64,
    /// Indexed by [`Cause::index`].
    pub errors: [u64; Cause::COUNT],
}

/// A window's figures for some subjects together.
struct Figures {
    requests: u64,
    rate_per_s: f64,
    errors: u64,
    by_cause: BTreeMap<String, u64>,
    error_rate: Option<f64>,
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
}

impl Figures {
    fn of(agg: &Agg, window_s: f64) -> Figures {
        let ms = |q: f64| agg.latency.quantile_s(q).map(|s| round3(s * 1000.0));
        Figures {
            requests: agg.requests(),
            rate_per_s: round3(agg.requests() as f64 / window_s.max(1e-9)),
            errors: agg.error_count(),
            by_cause: Cause::ALL
                .iter()
                .filter(|c| agg.errors[c.index()] > 0)
                .map(|c| (c.name().to_string(), agg.errors[c.index()]))
                .collect(),
            error_rate: agg.error_rate().map(round6),
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
        }
    }
}

/// The services an action concerns (for highlighting them while it is in force).
pub fn services_of(action: &Action) -> Vec<String> {
    match action {
        Action::Latency { target, .. }
        | Action::Errors { target, .. }
        | Action::Cpu { target, .. }
        | Action::Loss { target, .. } => vec![target.service.clone()],
        Action::Memory { service, .. } => vec![service.clone()],
        Action::Kill { services, .. } => services.clone(),
        Action::Partition { a, b } => a.iter().chain(b).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Recorder;

    fn plan() -> Plan {
        Plan {
            version: chaos_plan::PLAN_VERSION,
            scenario: chaos_plan::Scenario {
                name: "t".into(),
                duration_s: 10.0,
                warmup_s: 2.0,
                seed: 1,
                window_s: 1.0,
                drain_s: 1.0,
                hop_s: 0.0,
            },
            params: vec![],
            services: vec![],
            workloads: vec![],
            faults: vec![],
            expectations: vec![],
            aborts: vec![],
        }
    }

    #[test]
    fn phases_follow_the_clock() {
        let p = plan();
        assert_eq!(Phase::at(&p, None), Phase::Deploying);
        assert_eq!(Phase::at(&p, Some(1.0)), Phase::Warmup);
        assert_eq!(Phase::at(&p, Some(5.0)), Phase::Running);
        assert_eq!(Phase::at(&p, Some(10.5)), Phase::Draining);
        assert_eq!(Phase::at(&p, Some(11.0)), Phase::CleaningUp);
    }

    #[test]
    fn windows_read_out_of_order_fill_the_gaps() {
        let p = plan();
        let mut live = LiveState::new(&p, "sim", 1);
        let mut rec = Recorder::new(&p, "sim", 1);
        rec.advance_to(4.0);
        let w = rec.closed_windows()[3].clone();
        live.push(3, &w);
        assert_eq!(live.windows_read(), 4);
        let u = live.update(Some(4.2), Phase::Running);
        assert_eq!(u.window.as_ref().map(|w| w.index), Some(3));
        assert_eq!(u.phase, Phase::Running);
    }
}
