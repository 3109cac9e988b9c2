//! The default search space of `chaos explore`, made from a plan: every fault kind on every
//! service (partitions on every caller-callee edge), starting anywhere in the run, lasting up
//! to a quarter of it, at intensities up to those of `docs/language.md`'s examples.

use std::collections::BTreeSet;

use chaos_plan::{Load, Plan, Step};
use serde::Serialize;

/// Intensity levels: level `k` of [`LEVELS`] is `k / LEVELS` of the kind's maximum.
pub const LEVELS: u8 = 4;

/// The docs' example intensities, used as upper bounds.
pub const MAX_LATENCY_MS: f64 = 300.0;
pub const MAX_ERRORS_PCT: f64 = 20.0;
pub const MAX_KILL: u32 = 2;
pub const MAX_CPU: f64 = 3.0;
pub const MAX_LOSS_PCT: f64 = 10.0;
pub const MAX_MEMORY_MIB_S: f64 = 20.0;
pub const MEMORY_LIMIT: &str = "512MiB";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Latency,
    Errors,
    Kill,
    Partition,
    Cpu,
    Loss,
    Memory,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Latency,
        FaultKind::Errors,
        FaultKind::Kill,
        FaultKind::Partition,
        FaultKind::Cpu,
        FaultKind::Loss,
        FaultKind::Memory,
    ];

    /// Instant (a kill): no duration of its own.
    pub fn instant(self) -> bool {
        self == FaultKind::Kill
    }

    /// Has levels of intensity to lower while shrinking.
    pub fn graded(self) -> bool {
        !matches!(self, FaultKind::Partition)
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Errors => "errors",
            FaultKind::Kill => "kill",
            FaultKind::Partition => "partition",
            FaultKind::Cpu => "cpu",
            FaultKind::Loss => "loss",
            FaultKind::Memory => "memory",
        }
    }
}

/// One (fault kind, target) pair of the space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Slot {
    pub kind: FaultKind,
    /// The service (for a partition: the caller).
    pub service: String,
    /// A partition's other side (the callee).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// For kills: the most replicas to kill at full intensity.
    #[serde(skip)]
    pub kill_max: u32,
}

impl Slot {
    /// `payments`, `gateway | payments`.
    pub fn target(&self) -> String {
        match &self.other {
            Some(b) => format!("{} | {b}", self.service),
            None => self.service.clone(),
        }
    }
}

/// What explore may try.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Space {
    pub slots: Vec<Slot>,
    /// Whole seconds.
    pub duration_s: u32,
    pub warmup_s: u32,
    /// A fault lasts at most this long (a quarter of the run).
    pub max_len_s: u32,
    /// At most this many faults at once.
    pub max_faults: usize,
    /// Times worth aiming at: the scenario's own faults, load peaks and spikes, the starts of
    /// expectation windows (whole seconds, ascending).
    pub hot_s: Vec<u32>,
}

impl Space {
    pub fn from_plan(plan: &Plan, max_faults: usize) -> Space {
        let duration_s = plan.scenario.duration_s.floor().max(1.0) as u32;
        let mut slots = Vec::new();
        for s in &plan.services {
            let most = match s.replicas {
                chaos_plan::Replicas::Fixed { count } => count,
                chaos_plan::Replicas::Autoscale { max, .. } => max,
            };
            for kind in FaultKind::ALL {
                if kind == FaultKind::Partition {
                    continue;
                }
                slots.push(Slot {
                    kind,
                    service: s.name.clone(),
                    other: None,
                    kill_max: MAX_KILL.min(most.max(1)),
                });
            }
        }
        for (a, b) in call_edges(plan) {
            slots.push(Slot {
                kind: FaultKind::Partition,
                service: a,
                other: Some(b),
                kill_max: 0,
            });
        }
        Space {
            slots,
            duration_s,
            warmup_s: plan.scenario.warmup_s.floor().max(0.0) as u32,
            max_len_s: (duration_s / 4).max(1),
            max_faults: max_faults.max(1),
            hot_s: hot_times(plan, duration_s),
        }
    }

    /// The latest whole second a fault may start at.
    pub fn last_start_s(&self) -> u32 {
        self.duration_s.saturating_sub(1)
    }
}

/// Caller-callee pairs, each once, in declaration order.
fn call_edges(plan: &Plan) -> Vec<(String, String)> {
    fn walk(steps: &[Step], from: &str, out: &mut Vec<(String, String)>) {
        for s in steps {
            match s {
                Step::Call(chaos_plan::Call { service, .. }) | Step::Send { service, .. } => {
                    let e = (from.to_string(), service.clone());
                    if service != from && !out.contains(&e) {
                        out.push(e);
                    }
                }
                Step::Parallel { steps } => walk(steps, from, out),
                Step::Choice { branches } => {
                    for b in branches {
                        walk(&b.steps, from, out);
                    }
                }
                Step::Work { .. } | Step::Fail { .. } => {}
            }
        }
    }
    let mut out = Vec::new();
    for s in &plan.services {
        for e in &s.endpoints {
            walk(&e.steps, &s.name, &mut out);
        }
    }
    out
}

/// Starts of the scenario's faults, of its spikes and of its highest rate, and of expectation
/// windows that are not the whole run.
fn hot_times(plan: &Plan, duration_s: u32) -> Vec<u32> {
    let mut t: BTreeSet<u32> = BTreeSet::new();
    let mut add = |s: f64| {
        if s.is_finite() && s >= 0.0 && s < f64::from(duration_s) {
            t.insert(s.floor() as u32);
        }
    };
    for f in &plan.faults {
        for o in &f.occurrences {
            add(o.start_s);
        }
    }
    for w in &plan.workloads {
        if let Load::Open { rate, spikes, .. } = &w.load {
            for s in spikes {
                add(s.start_s);
            }
            let peak = rate
                .iter()
                .map(|p| p.from_per_s.max(p.to_per_s))
                .fold(0.0, f64::max);
            if let Some(p) = rate.iter().find(|p| p.from_per_s.max(p.to_per_s) >= peak) {
                add(if p.to_per_s >= p.from_per_s {
                    p.end_s.min(f64::from(duration_s) - 1.0)
                } else {
                    p.start_s
                });
            }
        }
    }
    for e in &plan.expectations {
        if e.window.label != "overall" {
            for iv in &e.window.intervals {
                add(iv.start_s);
            }
        }
    }
    t.into_iter().collect()
}
