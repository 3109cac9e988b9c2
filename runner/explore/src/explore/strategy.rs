//! How explore picks the next schedules to run. Pure: a strategy sees the space, its seed and
//! the outcomes of what it proposed (in the order proposed), nothing else.
//!
//! [`Coverage`], the default, in four phases:
//! 1. **singles**: every (kind, target) pair alone, at full intensity, for the longest time a
//!    fault may last, each placed at one of the scenario's hot times or spread over the run;
//! 2. **pairs**: pairs of the singles that moved an expectation most (the sum of their moves
//!    first), overlapping in time, then triples up to `--max-faults`;
//! 3. **windows**: the best schedules so far moved to each hot time (the scenario's own faults,
//!    load peaks and spikes, the starts of expectation windows);
//! 4. **local search**: mutations of the best schedules (new start, length, another fault added
//!    or swapped), with one proposal in four drawn at random, until the budget is spent.
//!
//! [`Uniform`] draws every schedule at random: the baseline the bench compares against.

use std::collections::{HashSet, VecDeque};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::schedule::{FaultSpec, Schedule};
use super::space::{LEVELS, Space};

/// A search strategy.
pub trait Strategy {
    /// `snake_case` name for reports.
    fn name(&self) -> &'static str;
    /// Up to `n` schedules not proposed before; fewer (at least one unless the space is spent)
    /// when the next ones depend on outcomes not yet observed. Empty: nothing left to try.
    fn propose(&mut self, n: usize) -> Vec<Schedule>;
    /// The outcome of a proposed schedule: how far it moved the expectations towards failing.
    fn observe(&mut self, schedule: &Schedule, movement: f64);
}

/// A fault of `slot` at full intensity for `len` from `start`.
fn full(slot: usize, start_s: u32, len_s: u32) -> FaultSpec {
    FaultSpec {
        slot,
        start_s,
        len_s,
        level: LEVELS,
    }
}

/// A random fault anywhere in the space.
fn random_fault(space: &Space, rng: &mut ChaCha8Rng) -> FaultSpec {
    FaultSpec {
        slot: rng.random_range(0..space.slots.len().max(1)),
        start_s: rng
            .random_range(space.first_start_s..=space.last_start_s().max(space.first_start_s)),
        len_s: rng.random_range(space.min_len_s..=space.max_len_s.max(space.min_len_s)),
        level: rng.random_range(1..=LEVELS),
    }
}

fn random_schedule(space: &Space, rng: &mut ChaCha8Rng) -> Schedule {
    let n = rng.random_range(1..=space.max_faults);
    Schedule::new((0..n).map(|_| random_fault(space, rng)).collect(), space)
}

/// Uniform random sampling: every schedule drawn independently.
pub struct Uniform {
    space: Space,
    rng: ChaCha8Rng,
    seen: HashSet<Schedule>,
}

impl Uniform {
    pub fn new(space: Space, seed: u64) -> Uniform {
        Uniform {
            space,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seen: HashSet::new(),
        }
    }
}

impl Strategy for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
    }

    fn propose(&mut self, n: usize) -> Vec<Schedule> {
        let mut out = Vec::new();
        let mut tries = 0;
        while out.len() < n && tries < n * 50 && !self.space.slots.is_empty() {
            tries += 1;
            let s = random_schedule(&self.space, &mut self.rng);
            if self.seen.insert(s.clone()) {
                out.push(s);
            }
        }
        out
    }

    fn observe(&mut self, _: &Schedule, _: f64) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Singles,
    Pairs,
    Windows,
    Local,
}

/// The default strategy (see the module doc).
pub struct Coverage {
    space: Space,
    rng: ChaCha8Rng,
    phase: Phase,
    queue: VecDeque<Schedule>,
    seen: HashSet<Schedule>,
    /// Proposed, not yet observed.
    waiting: usize,
    /// Every observed schedule with its movement, in observation order.
    observed: Vec<(Schedule, f64)>,
    /// Each slot's movement alone (phase 1).
    single: Vec<Option<f64>>,
}

/// How many of the best singles are paired.
const PAIR_POOL: usize = 8;
/// How many of the best schedules phase 3 moves to hot times.
const WINDOW_POOL: usize = 6;

impl Coverage {
    pub fn new(space: Space, seed: u64) -> Coverage {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut order: Vec<usize> = (0..space.slots.len()).collect();
        order.shuffle(&mut rng);
        let len = space.max_len_s;
        let anchors = anchors(&space, len);
        let queue = order
            .iter()
            .enumerate()
            .map(|(i, &slot)| {
                let start = anchors[i % anchors.len()];
                Schedule::new(vec![full(slot, start, len)], &space)
            })
            .collect();
        let single = vec![None; space.slots.len()];
        Coverage {
            space,
            rng,
            phase: Phase::Singles,
            queue,
            seen: HashSet::new(),
            waiting: 0,
            observed: Vec::new(),
            single,
        }
    }

    /// Observed schedules, best movement first (ties: the earlier).
    fn best(&self, n: usize) -> Vec<Schedule> {
        let mut v: Vec<(usize, &(Schedule, f64))> = self.observed.iter().enumerate().collect();
        v.sort_by(|a, b| b.1.1.total_cmp(&a.1.1).then(a.0.cmp(&b.0)));
        v.into_iter().take(n).map(|(_, (s, _))| s.clone()).collect()
    }

    /// Fills the queue with the next phase's schedules; false when the phase must wait for
    /// outcomes.
    fn advance(&mut self) -> bool {
        if self.waiting > 0 && self.phase != Phase::Local {
            return false;
        }
        match self.phase {
            Phase::Singles => {
                self.phase = Phase::Pairs;
                self.queue.extend(self.pairs());
            }
            Phase::Pairs => {
                self.phase = Phase::Windows;
                self.queue.extend(self.windows());
            }
            Phase::Windows => self.phase = Phase::Local,
            Phase::Local => {
                let s = self.mutation();
                self.queue.push_back(s);
            }
        }
        true
    }

    fn pairs(&self) -> Vec<Schedule> {
        if self.space.max_faults < 2 {
            return Vec::new();
        }
        let mut ranked: Vec<(usize, f64)> = self
            .single
            .iter()
            .enumerate()
            .filter_map(|(slot, m)| m.map(|m| (slot, m)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let moved = ranked.iter().filter(|(_, m)| *m > 1e-3).count();
        ranked.truncate(moved.clamp(2.min(ranked.len()), PAIR_POOL));
        // Where each single ran: its pair runs there too.
        let start_of = |slot: usize| {
            self.observed
                .iter()
                .find(|(s, _)| s.len() == 1 && s.faults[0].slot == slot)
                .map_or(self.space.settled_start_s(), |(s, _)| s.faults[0].start_s)
        };
        let len = self.space.max_len_s;
        let mut combos: Vec<(f64, Schedule)> = Vec::new();
        for i in 0..ranked.len() {
            for j in i + 1..ranked.len() {
                let ((a, ma), (b, mb)) = (ranked[i], ranked[j]);
                let start = start_of(a);
                combos.push((
                    ma + mb,
                    Schedule::new(vec![full(a, start, len), full(b, start, len)], &self.space),
                ));
            }
        }
        if self.space.max_faults >= 3 {
            for i in 0..ranked.len().min(4) {
                for j in i + 1..ranked.len().min(4) {
                    for k in j + 1..ranked.len().min(4) {
                        let start = start_of(ranked[i].0);
                        let s = Schedule::new(
                            vec![
                                full(ranked[i].0, start, len),
                                full(ranked[j].0, start, len),
                                full(ranked[k].0, start, len),
                            ],
                            &self.space,
                        );
                        combos.push((ranked[i].1 + ranked[j].1 + ranked[k].1, s));
                    }
                }
            }
        }
        combos.sort_by(|a, b| b.0.total_cmp(&a.0));
        combos.into_iter().map(|(_, s)| s).collect()
    }

    fn windows(&self) -> Vec<Schedule> {
        let len = self.space.max_len_s;
        let mut out = Vec::new();
        for s in self.best(WINDOW_POOL) {
            for &hot in &self.space.hot_s {
                let start = hot.saturating_sub(len / 4);
                let moved: Vec<FaultSpec> = s
                    .faults
                    .iter()
                    .map(|f| FaultSpec {
                        start_s: start,
                        ..*f
                    })
                    .collect();
                out.push(Schedule::new(moved, &self.space));
            }
        }
        out
    }

    /// Phase 4: a mutation of one of the best schedules, or (one in four) a random one.
    fn mutation(&mut self) -> Schedule {
        let space = &self.space;
        let pool = self.best(10);
        if pool.is_empty() || self.rng.random_bool(0.25) {
            return random_schedule(space, &mut self.rng);
        }
        // Tournament of two, biased to the better.
        let a = self.rng.random_range(0..pool.len());
        let b = self.rng.random_range(0..pool.len());
        let mut faults = pool[a.min(b)].faults.clone();
        if faults.is_empty() {
            return random_schedule(space, &mut self.rng);
        }
        let i = self.rng.random_range(0..faults.len());
        match self.rng.random_range(0..6) {
            0 => {
                let shift = self.rng.random_range(0..=space.max_len_s);
                let start = faults[i].start_s;
                faults[i].start_s = if self.rng.random_bool(0.5) {
                    start.saturating_add(shift)
                } else {
                    start.saturating_sub(shift)
                };
            }
            1 => {
                let start = self.rng.random_range(
                    space.first_start_s..=space.last_start_s().max(space.first_start_s),
                );
                for f in &mut faults {
                    f.start_s = start;
                }
            }
            2 => {
                faults[i].len_s = self
                    .rng
                    .random_range(space.min_len_s..=space.max_len_s.max(space.min_len_s));
            }
            3 if faults.len() < space.max_faults => {
                let mut f = random_fault(space, &mut self.rng);
                f.start_s = faults[i].start_s;
                f.len_s = faults[i].len_s.max(1);
                f.level = LEVELS;
                faults.push(f);
            }
            _ => faults[i].slot = self.rng.random_range(0..space.slots.len().max(1)),
        }
        Schedule::new(faults, space)
    }
}

/// Starts for the singles: the hot times (a little before each), then the run spread evenly
/// after warmup.
fn anchors(space: &Space, len: u32) -> Vec<u32> {
    let mut out: Vec<u32> = space
        .hot_s
        .iter()
        .map(|h| h.saturating_sub(len / 4))
        .collect();
    // Spread over the starts allowed, from the end of warmup when it falls inside them.
    let from = space.settled_start_s();
    let room = space
        .duration_s
        .saturating_sub(len)
        .min(space.last_start_s())
        .max(from);
    for k in 0..3u32 {
        out.push(from + (room - from) * k / 2);
    }
    out.dedup();
    out
}

impl Strategy for Coverage {
    fn name(&self) -> &'static str {
        "coverage"
    }

    fn propose(&mut self, n: usize) -> Vec<Schedule> {
        let mut out = Vec::new();
        let mut idle = 0;
        while out.len() < n && idle < 200 && !self.space.slots.is_empty() {
            match self.queue.pop_front() {
                Some(s) => {
                    if !s.is_empty() && self.seen.insert(s.clone()) {
                        out.push(s);
                        self.waiting += 1;
                    } else {
                        idle += 1;
                    }
                }
                None => {
                    if !self.advance() {
                        break;
                    }
                    if self.phase == Phase::Local {
                        idle += 1;
                    }
                }
            }
        }
        out
    }

    fn observe(&mut self, schedule: &Schedule, movement: f64) {
        self.waiting = self.waiting.saturating_sub(1);
        if let [f] = schedule.faults.as_slice()
            && self.phase == Phase::Singles
            && let Some(m) = self.single.get_mut(f.slot)
        {
            *m = Some(movement);
        }
        self.observed.push((schedule.clone(), movement));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::space::{FaultKind, Slot};

    fn space() -> Space {
        let kinds = [
            FaultKind::Cpu,
            FaultKind::Kill,
            FaultKind::Latency,
            FaultKind::Errors,
            FaultKind::Loss,
        ];
        Space {
            slots: kinds
                .iter()
                .map(|&kind| Slot::new(kind, "w", None, 2))
                .collect(),
            duration_s: 360,
            warmup_s: 30,
            first_start_s: 0,
            max_start_s: 359,
            min_len_s: 1,
            max_len_s: 90,
            max_faults: 2,
            hot_s: vec![120],
        }
    }

    #[test]
    fn singles_first_then_pairs_of_the_movers_then_hot_windows() {
        let mut c = Coverage::new(space(), 3);
        // Phase 1: every slot alone, at full intensity and length; nothing more until observed.
        let singles = c.propose(8);
        assert_eq!(singles.len(), 5);
        let mut slots: Vec<usize> = singles.iter().map(|s| s.faults[0].slot).collect();
        slots.sort_unstable();
        assert_eq!(slots, vec![0, 1, 2, 3, 4]);
        assert!(singles.iter().all(|s| s.len() == 1
            && s.faults[0].level == LEVELS
            && (s.faults[0].len_s == 90 || s.faults[0].slot == 1)));
        // Only cpu (0) and kill (1) move an expectation.
        for s in &singles {
            let m = match s.faults[0].slot {
                0 => 0.4,
                1 => 0.2,
                _ => 0.0,
            };
            c.observe(s, m);
        }
        // Phase 2: their pair, overlapping; then phase 3 waits for it.
        let pairs = c.propose(8);
        assert_eq!(pairs.len(), 1, "{pairs:?}");
        let p = &pairs[0];
        assert_eq!(
            p.faults.iter().map(|f| f.slot).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(p.faults[0].start_s, p.faults[1].start_s);
        c.observe(p, 0.9);
        // Phase 3: the best schedules moved to the hot time (120 s, a quarter-length early).
        let windows = c.propose(8);
        assert!(!windows.is_empty());
        assert!(windows[0].faults.iter().all(|f| f.start_s == 120 - 90 / 4));
        assert_eq!(windows[0].len(), 2, "the best (the pair) first");
    }

    #[test]
    fn the_same_seed_proposes_the_same_schedules_and_never_one_twice() {
        let run = |seed| {
            let mut c = Coverage::new(space(), seed);
            let mut all = Vec::new();
            for round in 0..12 {
                let batch = c.propose(8);
                for (i, s) in batch.iter().enumerate() {
                    c.observe(s, ((round * 8 + i) % 7) as f64 / 10.0);
                }
                all.extend(batch);
            }
            all
        };
        let a = run(5);
        assert_eq!(a, run(5));
        assert_ne!(a, run(6));
        let distinct: HashSet<&Schedule> = a.iter().collect();
        assert_eq!(distinct.len(), a.len());
        assert!(a.len() > 40);
    }
}
