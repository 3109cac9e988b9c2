//! Shrinking a failing schedule: smaller candidates in a fixed order of preference (fewer
//! faults, then shorter, later-starting, gentler ones); the first that still fails replaces
//! the schedule, until none does. Pure: the candidates depend only on the schedule.

use super::schedule::{FaultSpec, Schedule};
use super::space::Space;

/// Every one-step reduction of `s`, most reducing first; none equal to `s`.
pub fn candidates(s: &Schedule, space: &Space) -> Vec<Schedule> {
    let mut out: Vec<Schedule> = Vec::new();
    let push = |faults: Vec<FaultSpec>, out: &mut Vec<Schedule>| {
        let c = Schedule::new(faults, space);
        if c != *s && !c.is_empty() && !out.contains(&c) {
            out.push(c);
        }
    };
    // Fewer faults.
    if s.len() > 1 {
        for i in 0..s.len() {
            let mut f = s.faults.clone();
            f.remove(i);
            push(f, &mut out);
        }
    }
    let with = |i: usize, change: &dyn Fn(&mut FaultSpec)| {
        let mut f = s.faults.clone();
        change(&mut f[i]);
        f
    };
    for (step, fine) in [(2, false), (4, true)] {
        for i in 0..s.len() {
            let f = s.faults[i];
            let graded = space.slots.get(f.slot).is_some_and(|x| x.graded());
            if f.len_s >= 2 {
                let cut = (f.len_s / step).max(1);
                // Shorter (the end earlier), then later-starting (the start later, same end).
                push(with(i, &|g| g.len_s -= cut), &mut out);
                push(
                    with(i, &|g| {
                        g.start_s += cut;
                        g.len_s -= cut;
                    }),
                    &mut out,
                );
            } else if f.len_s == 0 && !fine {
                // A kill: later.
                let room = space.last_start_s().saturating_sub(f.start_s);
                if room >= 2 {
                    push(with(i, &|g| g.start_s += room / 2), &mut out);
                }
            }
            if !fine && graded && f.level > 1 {
                push(with(i, &|g| g.level -= 1), &mut out);
            }
        }
    }
    out
}

/// Size of a schedule, which every candidate strictly lowers (so shrinking ends): faults,
/// then seconds, then levels, then how early the faults start.
pub fn size(s: &Schedule) -> (usize, u32, u32, u64) {
    (
        s.len(),
        s.faults.iter().map(|f| f.len_s).sum(),
        s.faults.iter().map(|f| u32::from(f.level)).sum(),
        u64::MAX - s.faults.iter().map(|f| u64::from(f.start_s)).sum::<u64>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::space::{FaultKind, Slot};

    fn space() -> Space {
        let slot = |kind| Slot::new(kind, "w", None, 2);
        Space {
            slots: vec![
                slot(FaultKind::Cpu),
                slot(FaultKind::Kill),
                slot(FaultKind::Loss),
            ],
            duration_s: 360,
            warmup_s: 30,
            first_start_s: 0,
            max_start_s: 359,
            min_len_s: 1,
            max_len_s: 90,
            max_faults: 3,
            hot_s: vec![],
        }
    }

    /// Greedy shrinking against a pure "fails" rule reaches the smallest failing schedule.
    #[test]
    fn shrinks_to_the_two_faults_that_matter() {
        let sp = space();
        // Fails when cpu (slot 0) at level >= 3 overlaps the kill (slot 1) by 20s or more.
        let fails = |s: &Schedule| {
            let cpu = s.faults.iter().find(|f| f.slot == 0);
            let kill = s.faults.iter().find(|f| f.slot == 1);
            match (cpu, kill) {
                (Some(c), Some(k)) => {
                    c.level >= 3 && k.start_s >= c.start_s && c.start_s + c.len_s >= k.start_s + 20
                }
                _ => false,
            }
        };
        let mut s = Schedule::new(
            vec![
                FaultSpec {
                    slot: 0,
                    start_s: 40,
                    len_s: 90,
                    level: 4,
                },
                FaultSpec {
                    slot: 1,
                    start_s: 60,
                    len_s: 0,
                    level: 4,
                },
                FaultSpec {
                    slot: 2,
                    start_s: 40,
                    len_s: 90,
                    level: 4,
                },
            ],
            &sp,
        );
        assert!(fails(&s));
        let mut steps = 0;
        while let Some(next) = candidates(&s, &sp).into_iter().find(|c| fails(c)) {
            assert!(size(&next) < size(&s), "{next:?} is not smaller than {s:?}");
            s = next;
            steps += 1;
        }
        assert!(steps < 40);
        assert_eq!(s.len(), 2);
        let c = s.faults.iter().find(|f| f.slot == 0).unwrap();
        assert_eq!(c.level, 3);
        // Shrunk to (nearly) the 20s of overlap needed, starting as late as it can.
        assert!(c.len_s <= 30, "{c:?}");
    }
}
