//! A fault schedule: the faults explore adds to a scenario, and their text in the language.

use chaos_compiler::quantity::{fmt_seconds, trim};
use serde::Serialize;

use super::space::{FaultKind, LEVELS, Slot, Space};

/// One added fault. Times are whole seconds; a kill has no length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FaultSpec {
    /// Index into [`Space::slots`].
    pub slot: usize,
    pub start_s: u32,
    pub len_s: u32,
    /// `1..=LEVELS`.
    pub level: u8,
}

/// Faults added together; kept sorted so equal schedules compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Schedule {
    pub faults: Vec<FaultSpec>,
}

impl Schedule {
    /// A schedule of these faults, made valid for `space`: one fault per slot (the first
    /// kept), times inside the run, lengths within bounds, sorted.
    pub fn new(mut faults: Vec<FaultSpec>, space: &Space) -> Schedule {
        for f in &mut faults {
            let instant = space.slots.get(f.slot).is_some_and(|s| s.kind.instant());
            f.start_s = f.start_s.clamp(
                space.first_start_s,
                space.last_start_s().max(space.first_start_s),
            );
            f.len_s = if instant {
                0
            } else {
                f.len_s
                    .clamp(space.min_len_s.max(1), space.max_len_s.max(1))
            };
            f.level = f.level.clamp(1, LEVELS);
        }
        let mut seen = Vec::new();
        faults.retain(|f| {
            let fresh = !seen.contains(&f.slot);
            seen.push(f.slot);
            fresh
        });
        faults.truncate(space.max_faults);
        faults.sort();
        Schedule { faults }
    }

    pub fn len(&self) -> usize {
        self.faults.len()
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// The faults as `.chaos` text, named `{prefix}_1`, `{prefix}_2`, ...
    pub fn render(&self, space: &Space, prefix: &str) -> String {
        self.faults
            .iter()
            .enumerate()
            .map(|(i, f)| fault_text(&format!("{prefix}_{}", i + 1), space, f))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `cpu x3 on payments`.
pub fn action_text(space: &Space, f: &FaultSpec) -> String {
    let Some(slot) = space.slots.get(f.slot) else {
        return String::new();
    };
    let x = slot.at(f.level);
    let s = &slot.service;
    match slot.kind {
        FaultKind::Latency => format!("latency +{} on {s}", fmt_seconds(x)),
        FaultKind::Errors => format!("errors {}% on {s}", trim(x * 100.0)),
        FaultKind::Kill => format!("kill {} of {s}", kill_count(slot, f.level)),
        FaultKind::Partition => format!("partition {}", slot.target()),
        FaultKind::Cpu => format!("cpu x{} on {s}", trim(x)),
        FaultKind::Loss => format!("loss {}% on {s}", trim(x * 100.0)),
        FaultKind::Memory => format!(
            "memory {}/s on {s} limit {}",
            size_text(x),
            size_text(slot.limit_bytes)
        ),
    }
}

/// Bytes as `20MiB` when a whole number of KiB, else as bytes.
fn size_text(bytes: f64) -> String {
    const KIB: f64 = 1024.0;
    let mib = bytes / (KIB * KIB);
    if (bytes / KIB).fract() == 0.0 {
        format!("{}MiB", trim(mib))
    } else {
        format!("{}B", trim(bytes.max(1.0)))
    }
}

/// Replicas a kill of this level takes: at least one, at most the slot's `kill_max`.
pub fn kill_count(slot: &Slot, level: u8) -> u32 {
    let n = slot.at(level).ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
    n.clamp(1, slot.kill_max.max(1))
}

/// `fault NAME at 1m30s for 45s { ACTION }` (a kill: `at T` only).
pub fn fault_text(name: &str, space: &Space, f: &FaultSpec) -> String {
    let when = if f.len_s == 0 {
        format!("at {}", fmt_seconds(f64::from(f.start_s)))
    } else {
        format!(
            "at {} for {}",
            fmt_seconds(f64::from(f.start_s)),
            fmt_seconds(f64::from(f.len_s))
        )
    };
    format!("fault {name} {when} {{\n  {}\n}}\n", action_text(space, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn space() -> Space {
        let slot = |kind, service: &str, other: Option<&str>| Slot::new(kind, service, other, 2);
        Space {
            slots: vec![
                slot(FaultKind::Cpu, "w", None),
                slot(FaultKind::Kill, "w", None),
                slot(FaultKind::Partition, "api", Some("w")),
                slot(FaultKind::Memory, "w", None),
                slot(FaultKind::Latency, "w", None),
            ],
            duration_s: 360,
            warmup_s: 30,
            first_start_s: 0,
            max_start_s: 359,
            min_len_s: 1,
            max_len_s: 90,
            max_faults: 2,
            hot_s: vec![],
        }
    }

    #[test]
    fn faults_read_as_the_language() {
        let sp = space();
        let f = |slot, start_s, len_s, level| FaultSpec {
            slot,
            start_s,
            len_s,
            level,
        };
        assert_eq!(action_text(&sp, &f(0, 0, 1, 4)), "cpu x3 on w");
        assert_eq!(action_text(&sp, &f(0, 0, 1, 1)), "cpu x1.5 on w");
        assert_eq!(action_text(&sp, &f(1, 0, 0, 1)), "kill 1 of w");
        assert_eq!(action_text(&sp, &f(2, 0, 1, 4)), "partition api | w");
        assert_eq!(
            action_text(&sp, &f(3, 0, 1, 2)),
            "memory 10MiB/s on w limit 512MiB"
        );
        assert_eq!(action_text(&sp, &f(4, 0, 1, 3)), "latency +225ms on w");
        assert_eq!(
            fault_text("explore_1", &sp, &f(0, 90, 45, 4)),
            "fault explore_1 at 1m30s for 45s {\n  cpu x3 on w\n}\n"
        );
        assert_eq!(
            fault_text("explore_2", &sp, &f(1, 125, 0, 4)),
            "fault explore_2 at 2m5s {\n  kill 2 of w\n}\n"
        );
    }

    #[test]
    fn schedules_are_made_valid() {
        let sp = space();
        let s = Schedule::new(
            vec![
                FaultSpec {
                    slot: 1,
                    start_s: 999,
                    len_s: 50,
                    level: 9,
                },
                FaultSpec {
                    slot: 0,
                    start_s: 10,
                    len_s: 500,
                    level: 0,
                },
                FaultSpec {
                    slot: 0,
                    start_s: 20,
                    len_s: 5,
                    level: 2,
                },
            ],
            &sp,
        );
        assert_eq!(
            s.faults,
            vec![
                FaultSpec {
                    slot: 0,
                    start_s: 10,
                    len_s: 90,
                    level: 1
                },
                FaultSpec {
                    slot: 1,
                    start_s: 359,
                    len_s: 0,
                    level: 4
                },
            ]
        );
    }
}
