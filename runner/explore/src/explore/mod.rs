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
    pub max_faults: usize,
    pub limits: Limits,
    pub strategy: StrategyKind,
    /// Shrink a failure (and measure what each of its faults does).
    pub shrink: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            max_faults: 2,
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

#[derive(Debug, Clone)]
pub struct Found {
    /// 1-based number of the search run that failed.
    pub at_run: usize,
    pub original: Tried,
    pub shrunk: Option<Shrunk>,
    /// One per fault of the shrunk (or original) schedule.
    pub effects: Vec<Effect>,
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
    pub found: Option<Found>,
    pub coverage: Coverage,
}

/// Explores `target`: baseline, search, shrink, effects.
pub fn explore(
    target: &Target,
    config: &Config,
    progress: &mut dyn FnMut(Progress),
) -> Result<Explored, EvalError> {
    let space = Space::from_plan(&target.plan, config.max_faults);
    let baseline = target.run(&space, &Schedule::default())?;
    let mut strategy = config.strategy.make(space.clone(), config.seed);
    let mut eval = |batch: &[Schedule]| target.run_all(&space, batch);
    let searched = if baseline.passed {
        search::search(
            strategy.as_mut(),
            &baseline,
            &config.limits,
            &mut eval,
            progress,
        )?
    } else {
        // The scenario fails as written: there is nothing to find.
        Searched {
            runs: 0,
            failure: None,
            tried: Vec::new(),
            best: 0.0,
        }
    };
    let found = match &searched.failure {
        Some((at_run, tried)) => {
            let shrunk = if config.shrink {
                Some(search::shrink(
                    tried.clone(),
                    &space,
                    &config.limits,
                    &mut eval,
                    progress,
                )?)
            } else {
                None
            };
            let smallest = shrunk.as_ref().map_or(tried, |s| &s.result);
            let without: Vec<Schedule> = (0..smallest.schedule.len())
                .map(|i| {
                    let mut f = smallest.schedule.faults.clone();
                    f.remove(i);
                    Schedule::new(f, &space)
                })
                .collect();
            let effects = if config.shrink {
                eval(&without)?
                    .into_iter()
                    .map(|without| Effect { without })
                    .collect()
            } else {
                Vec::new()
            };
            Some(Found {
                at_run: *at_run,
                original: tried.clone(),
                shrunk,
                effects,
            })
        }
        None => None,
    };
    let coverage = search::coverage(&space, &searched.tried);
    Ok(Explored {
        strategy: strategy.name(),
        space,
        baseline,
        searched,
        found,
        coverage,
    })
}
