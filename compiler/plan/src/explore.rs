//! The search space an `explore { … }` block declares, checked and resolved by the compiler
//! (names, units, `*` expanded, base units) and read only by `chaos explore`: a run ignores it,
//! so it is not part of [`crate::Plan`] but travels beside it.

use serde::{Deserialize, Serialize};

use crate::{Service, Step};

/// A kind of fault `chaos explore` adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

    /// Has an intensity (a partition cuts or does not).
    pub fn graded(self) -> bool {
        !matches!(self, FaultKind::Partition)
    }

    /// The action's word in the language.
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

    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The intensity at which the kind does nothing: `up to H` explores from here (exclusive)
    /// to H. A multiplier's is x1; a count's, a delay's, a ratio's and a rate's is 0.
    pub fn zero(self) -> f64 {
        match self {
            FaultKind::Cpu => 1.0,
            _ => 0.0,
        }
    }
}

/// What an `explore` block declares; every part it leaves out is `None` (or empty) and takes
/// the default space's value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExploreSpace {
    /// `max_faults N`: the most faults added at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_faults: Option<u32>,
    /// One entry per (kind, target), in the order written, lists and `*` expanded. Empty: every
    /// kind on every service, partitions on every call edge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<ExploreFault>,
    /// `at`: the whole seconds at which an added fault may start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_s: Option<Seconds>,
    /// `for`: the whole seconds an added fault may last (kills are instant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_s: Option<Seconds>,
}

/// Whole seconds `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seconds {
    pub min: u32,
    pub max: u32,
}

/// One (kind, target) the block allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExploreFault {
    pub kind: FaultKind,
    /// The service (a partition's caller).
    pub service: String,
    /// A partition's other side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// In base units: seconds (latency), a fraction (errors, loss), a count (kill), a factor
    /// (cpu), bytes per second (memory). `None`: the default bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<Intensity>,
    /// A memory fault's limit in bytes (`None`: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<f64>,
}

/// An intensity range: `up to H` (`low` `None`: from the kind's [`FaultKind::zero`],
/// exclusive), `L..H`, or one value (`low == high`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intensity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    pub high: f64,
}

impl Intensity {
    /// Level `level` of `levels` (`1..=levels`): `up to H` spreads the levels evenly above the
    /// kind's zero (`H/levels` to `H`); `L..H` from `L` (level 1) to `H` (the last level).
    pub fn at(&self, kind: FaultKind, level: u8, levels: u8) -> f64 {
        let levels = levels.max(1);
        let level = level.clamp(1, levels);
        match self.low {
            None => {
                let zero = kind.zero();
                zero + (self.high - zero) * f64::from(level) / f64::from(levels)
            }
            Some(low) if levels == 1 => (low + self.high) / 2.0,
            Some(low) => low + (self.high - low) * f64::from(level - 1) / f64::from(levels - 1),
        }
    }

    /// A single value: every level is the same, so there is nothing to lower.
    pub fn fixed(&self) -> bool {
        self.low.is_some_and(|l| l >= self.high)
    }
}

/// Caller-callee pairs of services (calls and sends), each once, in declaration order: the
/// edges a partition can cut.
pub fn call_edges(services: &[Service]) -> Vec<(String, String)> {
    fn walk(steps: &[Step], from: &str, out: &mut Vec<(String, String)>) {
        for s in steps {
            match s {
                Step::Call(crate::Call { service, .. }) | Step::Send { service, .. } => {
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
    for s in services {
        for e in &s.endpoints {
            walk(&e.steps, &s.name, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_spread_over_the_range() {
        let up_to = Intensity {
            low: None,
            high: 0.2,
        };
        let got: Vec<f64> = (1..=4).map(|l| up_to.at(FaultKind::Errors, l, 4)).collect();
        assert_eq!(got, vec![0.05, 0.1, 0.15000000000000002, 0.2]);
        let cpu = Intensity {
            low: None,
            high: 3.0,
        };
        assert_eq!(cpu.at(FaultKind::Cpu, 1, 4), 1.5);
        let between = Intensity {
            low: Some(0.1),
            high: 0.4,
        };
        assert!((between.at(FaultKind::Loss, 1, 4) - 0.1).abs() < 1e-12);
        assert!((between.at(FaultKind::Loss, 2, 4) - 0.2).abs() < 1e-12);
        assert!((between.at(FaultKind::Loss, 4, 4) - 0.4).abs() < 1e-12);
        let one = Intensity {
            low: Some(0.3),
            high: 0.3,
        };
        assert!(one.fixed() && !between.fixed() && !up_to.fixed());
        assert_eq!(one.at(FaultKind::Loss, 1, 4), 0.3);
        assert_eq!(one.at(FaultKind::Loss, 4, 4), 0.3);
    }
}
