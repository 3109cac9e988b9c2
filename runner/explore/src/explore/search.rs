//! The explore loop: ask the strategy for a batch, run it, read the outcomes in order, and go
//! on until the budget is spent, keeping every failing schedule; then shrink the failures.
//! Pure: the runs are made by the `eval` closure, which returns outcomes in the order asked,
//! through a [`Memo`] so that no schedule is ever run twice (shrinking several failures of the
//! same weakness walks through the same schedules).

use std::collections::{BTreeSet, HashMap};

use super::schedule::Schedule;
use super::shrink;
use super::space::Space;
use super::strategy::Strategy;
use crate::outcome::Outcome;

/// Runs a batch of schedules; outcomes in the order given.
pub type Eval<'a, E> = dyn FnMut(&[Schedule]) -> Result<Vec<Outcome>, E> + 'a;

/// Knobs of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Search runs at most.
    pub budget: usize,
    /// Runs per batch: fixed, so the search does not depend on the number of cores.
    pub batch: usize,
    /// Shrinking runs at most per failure (on top of the budget); all the failures of one
    /// explore together get at most [`SHRINK_TOTAL_FACTOR`] times this.
    pub shrink_budget: usize,
}

/// How many failures' worth of shrinking one explore may spend in all: the first failures
/// found are shrunk in full, later ones (most often variants of the same weakness, which
/// join an earlier shrink's path in a few runs) with what is left, the rest listed unshrunk.
pub const SHRINK_TOTAL_FACTOR: usize = 4;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            budget: 300,
            batch: 8,
            shrink_budget: 200,
        }
    }
}

/// Where the search is, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub stage: Stage,
    pub runs: usize,
    pub of: usize,
    pub best: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Search,
    Shrink,
}

/// A schedule and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Tried {
    pub schedule: Schedule,
    pub outcome: Outcome,
}

/// Every outcome known, by schedule: a schedule asked for again is answered from here.
#[derive(Debug, Default)]
pub struct Memo {
    known: HashMap<Schedule, Outcome>,
}

impl Memo {
    /// Outcomes of `batch` in its order, running (in one call of `eval`) only the schedules
    /// not known yet. Returns them and how many runs were made.
    pub fn eval<E>(
        &mut self,
        batch: &[Schedule],
        eval: &mut Eval<'_, E>,
    ) -> Result<(Vec<Outcome>, usize), E> {
        let mut unknown: Vec<Schedule> = Vec::new();
        for s in batch {
            if !self.known.contains_key(s) && !unknown.contains(s) {
                unknown.push(s.clone());
            }
        }
        if !unknown.is_empty() {
            let outcomes = eval(&unknown)?;
            for (s, o) in unknown.iter().zip(outcomes) {
                self.known.insert(s.clone(), o);
            }
        }
        let outcomes = batch
            .iter()
            .filter_map(|s| self.known.get(s).cloned())
            .collect();
        Ok((outcomes, unknown.len()))
    }
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Searched {
    /// Search runs made.
    pub runs: usize,
    /// Every failing schedule, with its 1-based run number, in the order found.
    pub failures: Vec<(usize, Tried)>,
    /// Every schedule run, in order.
    pub tried: Vec<Schedule>,
    /// The largest movement towards failing seen.
    pub best: f64,
}

/// Searches until `limits.budget` runs are spent (or the strategy has nothing left),
/// collecting every schedule that fails.
pub fn search<E>(
    strategy: &mut dyn Strategy,
    baseline: &Outcome,
    limits: &Limits,
    memo: &mut Memo,
    eval: &mut Eval<'_, E>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Searched, E> {
    let mut runs = 0;
    let mut tried = Vec::new();
    let mut failures = Vec::new();
    let mut best: f64 = 0.0;
    while runs < limits.budget {
        let batch = strategy.propose(limits.batch.min(limits.budget - runs).max(1));
        if batch.is_empty() {
            break;
        }
        // A strategy never proposes a schedule twice, so every one of them is a run.
        let (outcomes, _) = memo.eval(&batch, eval)?;
        for (s, o) in batch.into_iter().zip(outcomes) {
            runs += 1;
            let m = o.movement(baseline);
            best = best.max(m);
            strategy.observe(&s, m);
            tried.push(s.clone());
            if !o.passed {
                failures.push((
                    runs,
                    Tried {
                        schedule: s,
                        outcome: o,
                    },
                ));
            }
        }
        progress(Progress {
            stage: Stage::Search,
            runs,
            of: limits.budget,
            best,
        });
    }
    Ok(Searched {
        runs,
        failures,
        tried,
        best,
    })
}

/// A shrunk failure.
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub result: Tried,
    /// Simulations run for it (schedules already known cost nothing).
    pub runs: usize,
    /// Steps that made it smaller.
    pub steps: usize,
    /// Every schedule it stood on, the failing one first, `result` last.
    pub path: Vec<Schedule>,
}

/// Shrinks a failing schedule: candidates in batches of `limits.batch`, the first failing one
/// (in candidate order) taken, until no candidate fails, `budget` runs are spent, or it stands
/// on a schedule `known` says was already shrunk (from there the walk, being deterministic,
/// would go where it went before).
#[allow(clippy::too_many_arguments)] // each is one thing the walk needs; a struct would only rename them
pub fn shrink<E>(
    failing: Tried,
    space: &Space,
    limits: &Limits,
    budget: usize,
    known: &dyn Fn(&Schedule) -> bool,
    memo: &mut Memo,
    eval: &mut Eval<'_, E>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Shrunk, E> {
    let mut current = failing;
    let mut path = vec![current.schedule.clone()];
    let mut runs = 0;
    let mut steps = 0;
    'outer: while !known(&current.schedule) {
        let candidates = shrink::candidates(&current.schedule, space);
        for chunk in candidates.chunks(limits.batch.max(1)) {
            if runs >= budget {
                break 'outer;
            }
            let chunk = &chunk[..chunk.len().min(budget - runs)];
            let (outcomes, ran) = memo.eval(chunk, eval)?;
            runs += ran;
            progress(Progress {
                stage: Stage::Shrink,
                runs,
                of: budget,
                best: 0.0,
            });
            if let Some((s, o)) = chunk.iter().zip(outcomes).find(|(_, o)| !o.passed) {
                current = Tried {
                    schedule: s.clone(),
                    outcome: o,
                };
                path.push(current.schedule.clone());
                steps += 1;
                continue 'outer;
            }
        }
        break;
    }
    Ok(Shrunk {
        result: current,
        runs,
        steps,
        path,
    })
}

/// How much of the space the schedules tried covered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    /// (kind, target) pairs tried in any schedule, and how many there are.
    pub kinds_targets_tried: usize,
    pub kinds_targets_total: usize,
    /// Two (kind, target) pairs tried together.
    pub combinations_tried: usize,
    pub combinations_total: usize,
    /// Twentieths of the run that some tried fault was active in.
    pub time_slices_covered: usize,
    pub time_slices_total: usize,
}

pub const TIME_SLICES: usize = 20;

/// The twentieths of the run an added fault can be active in: all of them by default, fewer
/// when `explore`'s `at` and `for` keep faults to part of the run.
fn reachable_slices(space: &Space) -> usize {
    let d = f64::from(space.duration_s.max(1));
    let slice = |t: f64| t / d * TIME_SLICES as f64;
    let from = slice(f64::from(space.first_start_s)).floor() as usize;
    let end = f64::from(space.last_start_s().saturating_add(space.max_len_s.max(1)));
    let to = (slice(end).ceil() as usize).min(TIME_SLICES);
    to.saturating_sub(from).max(1)
}

pub fn coverage(space: &Space, tried: &[Schedule]) -> Coverage {
    let n = space.slots.len();
    let mut slots = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    let mut slices = BTreeSet::new();
    let d = f64::from(space.duration_s.max(1));
    for s in tried {
        for (i, a) in s.faults.iter().enumerate() {
            slots.insert(a.slot);
            for b in &s.faults[i + 1..] {
                pairs.insert((a.slot.min(b.slot), a.slot.max(b.slot)));
            }
            let from = (f64::from(a.start_s) / d * TIME_SLICES as f64).floor() as usize;
            let end = f64::from(a.start_s + a.len_s.max(1));
            let to = ((end / d * TIME_SLICES as f64).ceil() as usize).min(TIME_SLICES);
            for k in from..to.max(from + 1).min(TIME_SLICES) {
                slices.insert(k);
            }
        }
    }
    Coverage {
        kinds_targets_tried: slots.len(),
        kinds_targets_total: n,
        combinations_tried: pairs.len(),
        combinations_total: if space.max_faults >= 2 {
            n * n.saturating_sub(1) / 2
        } else {
            0
        },
        time_slices_covered: slices.len(),
        time_slices_total: reachable_slices(space),
    }
}
