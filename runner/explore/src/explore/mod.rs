//! `chaos explore`: search fault schedules in the simulator for one that breaks an
//! expectation, then shrink it. The space ([`space`]) comes from the plan; the strategy
//! ([`strategy`]) and the shrinker ([`shrink`]) are pure; [`search`] is the loop;
//! [`target`] compiles and runs variants; [`output`] is the report.

pub mod output;
pub mod schedule;
pub mod search;
pub mod shrink;
pub mod space;
pub mod strategy;
pub mod target;

use std::collections::HashMap;

use crate::eval::EvalError;
use crate::outcome::Outcome;
pub use schedule::{FaultSpec, Schedule};
pub use search::{Coverage, Limits, Progress, Searched, Shrunk, Stage, Tried};
pub use space::Space;
pub use strategy::{Strategy, Uniform};
pub use target::Target;

/// Which strategy proposes schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StrategyKind {
    #[default]
    Coverage,
    Uniform,
}

impl StrategyKind {
    pub fn make(self, space: Space, seed: u64) -> Box<dyn Strategy> {
        match self {
            StrategyKind::Coverage => Box::new(strategy::Coverage::new(space, seed)),
            StrategyKind::Uniform => Box::new(Uniform::new(space, seed)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub seed: u64,
    /// `--max-faults`: overrides the `explore` block's `max_faults`; `None`: the block's, or
    /// [`space::DEFAULT_MAX_FAULTS`].
    pub max_faults: Option<usize>,
    pub limits: Limits,
    pub strategy: StrategyKind,
    /// Shrink a failure (and measure what each of its faults does).
    pub shrink: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            max_faults: None,
            limits: Limits::default(),
            strategy: StrategyKind::Coverage,
            shrink: true,
        }
    }
}

/// What one fault of the shrunk schedule does: the run without it.
#[derive(Debug, Clone)]
pub struct Effect {
    pub without: Outcome,
}

/// One distinct failure: the first failing schedule of the search that led to it, what it
/// shrank to, and every later failing schedule that shrank to the same.
#[derive(Debug, Clone)]
pub struct Found {
    /// 1-based number of the search run that failed.
    pub at_run: usize,
    pub original: Tried,
    pub shrunk: Option<Shrunk>,
    /// One per fault of the shrunk (or original) schedule.
    pub effects: Vec<Effect>,
    /// Later failing schedules of the search that shrank to this one, with their run numbers.
    pub also: Vec<(usize, Tried)>,
}

impl Found {
    /// The smallest failing schedule known.
    pub fn smallest(&self) -> &Tried {
        self.shrunk.as_ref().map_or(&self.original, |s| &s.result)
    }
}

#[derive(Debug, Clone)]
pub struct Explored {
    pub space: Space,
    pub strategy: &'static str,
    /// The scenario as written.
    pub baseline: Outcome,
    pub searched: Searched,
    /// Every distinct failure (distinct by the schedule it shrank to), in the order found.
    pub failures: Vec<Found>,
    /// The smallest of `failures` (fewest faults, then seconds, then levels; the first found
    /// on a tie): what `-o` writes.
    pub found: Option<Found>,
    /// Simulations made while shrinking, all failures together.
    pub shrink_runs: usize,
    pub coverage: Coverage,
}

/// Whether `schedule` has a fault in every slot (kind and target) that `known` uses.
fn covers(schedule: &Schedule, known: &Schedule) -> bool {
    known
        .faults
        .iter()
        .all(|k| schedule.faults.iter().any(|f| f.slot == k.slot))
}

/// Explores `target`: baseline, search to the budget, shrink every failure, effects.
pub fn explore(
    target: &Target,
    config: &Config,
    progress: &mut dyn FnMut(Progress),
) -> Result<Explored, EvalError> {
    let space = target.space(config.max_faults);
    let baseline = target.run(&space, &Schedule::default())?;
    let mut strategy = config.strategy.make(space.clone(), config.seed);
    let mut eval = |batch: &[Schedule]| target.run_all(&space, batch);
    let mut memo = search::Memo::default();
    let searched = if baseline.passed {
        search::search(
            strategy.as_mut(),
            &baseline,
            &config.limits,
            &mut memo,
            &mut eval,
            progress,
        )?
    } else {
        // The scenario fails as written: there is nothing to find.
        Searched {
            runs: 0,
            failures: Vec::new(),
            tried: Vec::new(),
            best: 0.0,
        }
    };
    let mut failures: Vec<Found> = Vec::new();
    // Every schedule a shrink stood on -> the failure it ended in.
    let mut on_path: HashMap<Schedule, usize> = HashMap::new();
    let shrink_total = config
        .limits
        .shrink_budget
        .saturating_mul(search::SHRINK_TOTAL_FACTOR);
    let mut shrink_runs = 0;
    for (at_run, tried) in &searched.failures {
        if let Some(&i) = on_path.get(&tried.schedule) {
            failures[i].also.push((*at_run, tried.clone()));
            continue;
        }
        // A failing schedule that holds every (kind, target) of a failure already shrunk is
        // most often that weakness again at other times or intensities: listed as one more
        // way to it instead of shrunk again (shrinking every such variant cost the planted
        // pair's search 814 runs instead of 49).
        if let Some(i) = failures
            .iter()
            .position(|f| f.shrunk.is_some() && covers(&tried.schedule, &f.smallest().schedule))
        {
            failures[i].also.push((*at_run, tried.clone()));
            on_path.insert(tried.schedule.clone(), i);
            continue;
        }
        let budget = config.limits.shrink_budget.min(shrink_total - shrink_runs);
        let shrunk = if config.shrink && budget > 0 {
            let s = search::shrink(
                tried.clone(),
                &space,
                &config.limits,
                budget,
                &|s| on_path.contains_key(s),
                &mut memo,
                &mut eval,
                progress,
            )?;
            shrink_runs += s.runs;
            Some(s)
        } else {
            None
        };
        let end = shrunk
            .as_ref()
            .map_or(&tried.schedule, |s| &s.result.schedule);
        let i = match on_path.get(end) {
            Some(&i) => {
                failures[i].also.push((*at_run, tried.clone()));
                i
            }
            None => {
                failures.push(Found {
                    at_run: *at_run,
                    original: tried.clone(),
                    shrunk: shrunk.clone(),
                    effects: Vec::new(),
                    also: Vec::new(),
                });
                failures.len() - 1
            }
        };
        on_path.insert(tried.schedule.clone(), i);
        for s in shrunk.iter().flat_map(|s| &s.path) {
            on_path.entry(s.clone()).or_insert(i);
        }
    }
    // The smallest is what `-o` writes: when the shared shrink budget ran out before it, it
    // gets a shrink of its own (at most one `--shrink-budget` more), so the file is shrunk.
    let smallest_index = |failures: &[Found]| {
        failures
            .iter()
            .enumerate()
            .min_by_key(|(i, f)| (shrink::size(&f.smallest().schedule), *i))
            .map(|(i, _)| i)
    };
    if let Some(i) = smallest_index(&failures).filter(|&i| failures[i].shrunk.is_none())
        && config.shrink
        && config.limits.shrink_budget > 0
    {
        let joins = |s: &Schedule| {
            on_path
                .get(s)
                .copied()
                .filter(|&j| j != i && failures[j].shrunk.is_some())
        };
        let s = search::shrink(
            failures[i].original.clone(),
            &space,
            &config.limits,
            config.limits.shrink_budget,
            &|s| joins(s).is_some(),
            &mut memo,
            &mut eval,
            progress,
        )?;
        shrink_runs += s.runs;
        match joins(&s.result.schedule) {
            // It reached an earlier shrink's path, so it ends where that one ended: one more
            // way to that failure. The one found first stays, the other joins its `also`.
            Some(j) => {
                let (keep, gone) = (i.min(j), i.max(j));
                let g = failures.remove(gone);
                let k = &mut failures[keep];
                if keep == i {
                    k.shrunk = g.shrunk;
                }
                k.also.push((g.at_run, g.original));
                k.also.extend(g.also);
                k.also.sort_by_key(|(r, _)| *r);
            }
            None => failures[i].shrunk = Some(s),
        }
    }
    if config.shrink {
        // What each fault does, for the failures that were shrunk (an unshrunk one, left
        // over when the shrink budget is spent, is most often a variant of a shrunk one).
        for f in failures.iter_mut().filter(|f| f.shrunk.is_some()) {
            let smallest = &f.smallest().schedule;
            let without: Vec<Schedule> = (0..smallest.len())
                .map(|i| {
                    let mut faults = smallest.faults.clone();
                    faults.remove(i);
                    Schedule::new(faults, &space)
                })
                .collect();
            let (outcomes, _) = memo.eval(&without, &mut eval)?;
            f.effects = outcomes
                .into_iter()
                .map(|without| Effect { without })
                .collect();
        }
    }
    let found = smallest_index(&failures).map(|i| failures[i].clone());
    let coverage = search::coverage(&space, &searched.tried);
    Ok(Explored {
        strategy: strategy.name(),
        space,
        baseline,
        searched,
        failures,
        found,
        shrink_runs,
        coverage,
    })
}
