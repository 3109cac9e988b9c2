//! The search space of `chaos explore`, made from a plan and the file's `explore { … }` block
//! when it has one: the (kind, target) pairs it lists, their intensity ranges, when faults may
//! start and how long they may last, how many at once. What the block leaves out is the
//! default space: every fault kind on every service (partitions on every caller-callee edge),
//! starting anywhere in the run, lasting up to a quarter of it, at intensities up to those of
//! `docs/language.md`'s examples.

use std::collections::BTreeSet;

use chaos_plan::explore::{ExploreSpace, Intensity};
use chaos_plan::{Load, Plan};
use serde::Serialize;

pub use chaos_plan::explore::FaultKind;

/// Intensity levels: level `k` of [`LEVELS`] is `k / LEVELS` of the way up a kind's range.
pub const LEVELS: u8 = 4;

/// The docs' example intensities, the default upper bounds.
pub const MAX_LATENCY_MS: f64 = 300.0;
pub const MAX_ERRORS_PCT: f64 = 20.0;
pub const MAX_KILL: u32 = 2;
pub const MAX_CPU: f64 = 3.0;
pub const MAX_LOSS_PCT: f64 = 10.0;
pub const MAX_MEMORY_MIB_S: f64 = 20.0;
pub const MEMORY_LIMIT_MIB: f64 = 512.0;
/// `--max-faults` when neither the command line nor the block says.
pub const DEFAULT_MAX_FAULTS: usize = 2;

const MIB: f64 = 1024.0 * 1024.0;

/// The default range of a kind: up to the docs' example.
pub fn default_intensity(kind: FaultKind) -> Intensity {
    let high = match kind {
        FaultKind::Latency => MAX_LATENCY_MS / 1000.0,
        FaultKind::Errors => MAX_ERRORS_PCT / 100.0,
        FaultKind::Kill => f64::from(MAX_KILL),
        FaultKind::Partition => 1.0,
        FaultKind::Cpu => MAX_CPU,
        FaultKind::Loss => MAX_LOSS_PCT / 100.0,
        FaultKind::Memory => MAX_MEMORY_MIB_S * MIB,
    };
    Intensity { low: None, high }
}

/// One (fault kind, target) pair of the space.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub kind: FaultKind,
    /// The service (for a partition: the caller).
    pub service: String,
    /// A partition's other side (the callee).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// For kills: the most replicas to kill at full intensity (the range's top, at most the
    /// replicas the service can have).
    #[serde(skip)]
    pub kill_max: u32,
    /// In base units (see [`chaos_plan::explore::ExploreFault::intensity`]).
    #[serde(skip)]
    pub intensity: Intensity,
    /// A memory fault's limit.
    #[serde(skip)]
    pub limit_bytes: f64,
}

impl Slot {
    /// A slot at the default intensity; `replicas`: the most the service can have.
    pub fn new(kind: FaultKind, service: &str, other: Option<&str>, replicas: u32) -> Slot {
        let intensity = default_intensity(kind);
        Slot {
            kind,
            service: service.to_string(),
            other: other.map(str::to_string),
            kill_max: kill_max(&intensity, replicas),
            intensity,
            limit_bytes: MEMORY_LIMIT_MIB * MIB,
        }
    }

    /// `payments`, `gateway | payments`.
    pub fn target(&self) -> String {
        match &self.other {
            Some(b) => format!("{} | {b}", self.service),
            None => self.service.clone(),
        }
    }

    /// Has levels of intensity to lower while shrinking.
    pub fn graded(&self) -> bool {
        self.kind.graded() && !self.intensity.fixed()
    }

    /// The intensity at `level` (`1..=LEVELS`), in base units.
    pub fn at(&self, level: u8) -> f64 {
        self.intensity.at(self.kind, level, LEVELS)
    }
}

fn kill_max(i: &Intensity, replicas: u32) -> u32 {
    (i.high.floor().max(1.0).min(f64::from(u32::MAX)) as u32).min(replicas.max(1))
}

/// What explore may try.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Space {
    pub slots: Vec<Slot>,
    /// Whole seconds.
    pub duration_s: u32,
    pub warmup_s: u32,
    /// Added faults start from this whole second (`at`; default 0) ...
    pub first_start_s: u32,
    /// ... up to this one (default the run's last second).
    pub max_start_s: u32,
    /// A fault lasts at least this long (`for`; default 1 s) ...
    pub min_len_s: u32,
    /// ... and at most this long (default a quarter of the run).
    pub max_len_s: u32,
    /// At most this many faults at once.
    pub max_faults: usize,
    /// Times worth aiming at: the scenario's own faults, load peaks and spikes, the starts of
    /// expectation windows (whole seconds, ascending, where added faults may be active).
    pub hot_s: Vec<u32>,
}

impl Space {
    /// The default space, with `max_faults` at once.
    pub fn from_plan(plan: &Plan, max_faults: usize) -> Space {
        Space::new(plan, None, Some(max_faults))
    }

    /// The space of `explore` (the file's block) over `plan`; `max_faults` from the command
    /// line overrides the block's `max_faults`.
    pub fn new(plan: &Plan, explore: Option<&ExploreSpace>, max_faults: Option<usize>) -> Space {
        let duration_s = plan.scenario.duration_s.floor().max(1.0) as u32;
        let replicas = |name: &str| {
            plan.services
                .iter()
                .find(|s| s.name == name)
                .map_or(1, |s| match s.replicas {
                    chaos_plan::Replicas::Fixed { count } => count,
                    chaos_plan::Replicas::Autoscale { max, .. } => max,
                })
        };
        let declared = explore.map(|e| e.faults.as_slice()).unwrap_or_default();
        let slots = if declared.is_empty() {
            default_slots(plan, &replicas)
        } else {
            declared
                .iter()
                .map(|f| {
                    let mut slot =
                        Slot::new(f.kind, &f.service, f.other.as_deref(), replicas(&f.service));
                    if let Some(i) = f.intensity {
                        slot.intensity = i;
                        slot.kill_max = kill_max(&i, replicas(&f.service));
                    }
                    if let Some(l) = f.limit_bytes {
                        slot.limit_bytes = l;
                    }
                    slot
                })
                .collect()
        };
        let last = duration_s.saturating_sub(1);
        let (first_start_s, max_start_s) = explore
            .and_then(|e| e.start_s)
            .map_or((0, last), |r| (r.min.min(last), r.max.min(last)));
        let (min_len_s, max_len_s) = explore
            .and_then(|e| e.length_s)
            .map_or((1, (duration_s / 4).max(1)), |r| {
                (r.min.max(1), r.max.max(r.min).max(1))
            });
        let max_faults = max_faults
            .or_else(|| explore.and_then(|e| e.max_faults).map(|n| n as usize))
            .unwrap_or(DEFAULT_MAX_FAULTS)
            .max(1);
        let reach = max_start_s.saturating_add(max_len_s);
        let hot_s = hot_times(plan, duration_s)
            .into_iter()
            .filter(|&t| t >= first_start_s && t <= reach)
            .collect();
        Space {
            slots,
            duration_s,
            warmup_s: plan.scenario.warmup_s.floor().max(0.0) as u32,
            first_start_s,
            max_start_s,
            min_len_s,
            max_len_s,
            max_faults,
            hot_s,
        }
    }

    /// The latest whole second a fault may start at.
    pub fn last_start_s(&self) -> u32 {
        self.max_start_s
    }

    /// Where the run's quiet part (after warmup) begins within the start range.
    pub fn settled_start_s(&self) -> u32 {
        self.warmup_s.clamp(self.first_start_s, self.max_start_s)
    }
}

/// Every kind on every service; partitions on every call edge.
fn default_slots(plan: &Plan, replicas: &dyn Fn(&str) -> u32) -> Vec<Slot> {
    let mut slots = Vec::new();
    for s in &plan.services {
        for kind in FaultKind::ALL {
            if kind != FaultKind::Partition {
                slots.push(Slot::new(kind, &s.name, None, replicas(&s.name)));
            }
        }
    }
    for (a, b) in chaos_plan::explore::call_edges(&plan.services) {
        slots.push(Slot::new(FaultKind::Partition, &a, Some(&b), 1));
    }
    slots
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
