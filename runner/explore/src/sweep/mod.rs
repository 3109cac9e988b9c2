//! `chaos sweep`: one param over a range; for every expectation, the value at which it stops
//! holding. A grid first (every value × every seed), then, per expectation and seed, bisection
//! between the last value that held and the first that did not. Each round asks the evaluator
//! for one batch of (value, seed) runs, so the result does not depend on the number of cores.

pub mod boundary;
pub mod html;
pub mod output;
pub mod range;

use std::collections::BTreeMap;

use chaos_plan::{Comparison, Plan};

use crate::outcome::Outcome;
pub use boundary::Kind;
pub use output::SweepReport;
pub use range::{ParamRange, RangeError};

/// Bisection stops when the bracket is narrower than this share of the range.
pub const TOLERANCE: f64 = 1e-3;
/// And after this many rounds, whatever the width.
pub const MAX_ROUNDS: usize = 24;

/// What the sweep needs to know about an expectation (from the plan as written).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpInfo {
    pub text: String,
    pub op: Comparison,
    /// Display units (`50.0` with unit `ms`).
    pub threshold: f64,
    pub unit: &'static str,
    /// Display units per base unit.
    pub factor: f64,
}

impl ExpInfo {
    pub fn of_plan(plan: &Plan) -> Vec<ExpInfo> {
        plan.expectations
            .iter()
            .map(|e| {
                let u = e.metric.display_unit();
                ExpInfo {
                    text: e.text.clone(),
                    op: e.op,
                    threshold: e.threshold * u.factor(),
                    unit: u.symbol(),
                    factor: u.factor(),
                }
            })
            .collect()
    }
}

/// The sweep to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub range: ParamRange,
    /// Grid points, ends included.
    pub steps: usize,
    /// Seeds per point: `seed`, `seed + 1`, ...
    pub runs: u32,
    pub seed: u64,
}

impl Config {
    pub fn seeds(&self) -> Vec<u64> {
        (0..u64::from(self.runs.max(1)))
            .map(|k| self.seed.wrapping_add(k))
            .collect()
    }
}

/// Every run the sweep made, by value (display units, as its bits: values are snapped, so
/// equal values are equal bits) and seed.
pub type Runs = BTreeMap<(u64, u64), Outcome>;

/// Result of a sweep: every run and every boundary.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub runs: Runs,
    pub boundaries: Vec<Found>,
    /// Simulations run (grid + bisection).
    pub simulations: usize,
}

/// One expectation's boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub kind: Kind,
    /// Per seed, in seed order (`None` for everywhere / nowhere).
    pub per_seed: Vec<f64>,
}

/// Runs a batch of `(value, seed)` pairs; outcomes in the order given.
pub type Eval<'a, E> = dyn FnMut(&[(f64, u64)]) -> Result<Vec<Outcome>, E> + 'a;

fn key(value: f64, seed: u64) -> (u64, u64) {
    (value.to_bits(), seed)
}

/// Runs the sweep. `eval` runs a batch of `(value, seed)` pairs and returns their outcomes in
/// the same order (or an error, which ends the sweep).
pub fn run<E>(config: &Config, expectations: usize, eval: &mut Eval<'_, E>) -> Result<Sweep, E> {
    let seeds = config.seeds();
    let grid = config.range.grid(config.steps);
    let mut runs: Runs = BTreeMap::new();
    let mut simulations = 0;
    let mut ask = |jobs: Vec<(f64, u64)>, runs: &mut Runs| -> Result<(), E> {
        let mut todo: Vec<(f64, u64)> = Vec::new();
        for j in jobs {
            if !runs.contains_key(&key(j.0, j.1)) && !todo.contains(&j) {
                todo.push(j);
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let outcomes = eval(&todo)?;
        simulations += todo.len();
        for (j, o) in todo.into_iter().zip(outcomes) {
            runs.insert(key(j.0, j.1), o);
        }
        Ok(())
    };

    let jobs: Vec<(f64, u64)> = grid
        .iter()
        .flat_map(|&v| seeds.iter().map(move |&s| (v, s)))
        .collect();
    ask(jobs, &mut runs)?;

    let held = |runs: &Runs, e: usize, v: f64, s: u64| {
        runs.get(&key(v, s))
            .and_then(|o| o.expectations.get(e))
            .is_some_and(|x| x.passed)
    };
    // Per expectation: the direction, then one search per seed.
    let mut kinds = Vec::with_capacity(expectations);
    let mut searches: Vec<Vec<boundary::Search>> = Vec::with_capacity(expectations);
    for e in 0..expectations {
        let holds: Vec<Vec<bool>> = seeds
            .iter()
            .map(|&s| grid.iter().map(|&v| held(&runs, e, v, s)).collect())
            .collect();
        let kind = boundary::direction(&holds);
        kinds.push(kind);
        searches.push(
            holds
                .iter()
                .map(|h| boundary::bracket(&grid, h, kind))
                .collect(),
        );
    }
    let tolerance = (config.range.to - config.range.from).abs() * TOLERANCE;
    for _ in 0..MAX_ROUNDS {
        let mut jobs = Vec::new();
        for (e, per_seed) in searches.iter().enumerate() {
            if matches!(kinds[e], Kind::HoldsEverywhere | Kind::HoldsNowhere) {
                continue;
            }
            for (k, s) in per_seed.iter().enumerate() {
                if let Some(v) = s.next(config.range.integer, tolerance) {
                    jobs.push((v, seeds[k]));
                }
            }
        }
        if jobs.is_empty() {
            break;
        }
        ask(jobs, &mut runs)?;
        for (e, per_seed) in searches.iter_mut().enumerate() {
            if matches!(kinds[e], Kind::HoldsEverywhere | Kind::HoldsNowhere) {
                continue;
            }
            for (k, s) in per_seed.iter_mut().enumerate() {
                if let Some(v) = s.next(config.range.integer, tolerance) {
                    let h = held(&runs, e, v, seeds[k]);
                    s.update(v, h);
                }
            }
        }
    }
    let boundaries = kinds
        .iter()
        .zip(&searches)
        .map(|(&kind, per_seed)| Found {
            kind,
            per_seed: match kind {
                Kind::HoldsEverywhere | Kind::HoldsNowhere => Vec::new(),
                _ => per_seed.iter().map(boundary::Search::value).collect(),
            },
        })
        .collect();
    Ok(Sweep {
        runs,
        boundaries,
        simulations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ExpOutcome;

    /// A fake scenario: expectation 0 holds below 80.3 (+ 0.1 per seed), expectation 1 always.
    fn fake(jobs: &[(f64, u64)]) -> Result<Vec<Outcome>, String> {
        Ok(jobs
            .iter()
            .map(|&(v, s)| {
                let limit = 80.3 + 0.1 * s as f64;
                Outcome {
                    passed: v < limit,
                    aborted: None,
                    expectations: vec![
                        ExpOutcome {
                            passed: v < limit,
                            observed: Some(v),
                            margin: (limit - v) / limit,
                        },
                        ExpOutcome {
                            passed: true,
                            observed: Some(1.0),
                            margin: 1.0,
                        },
                    ],
                }
            })
            .collect())
    }

    #[test]
    fn finds_each_seeds_boundary_and_marks_the_other_everywhere() {
        let declared = vec![("rate".to_string(), "80/s".to_string())];
        let config = Config {
            range: ParamRange::parse("rate=40/s..120/s", &declared).unwrap(),
            steps: 9,
            runs: 3,
            seed: 0,
        };
        let sweep = run(&config, 2, &mut fake).unwrap();
        assert_eq!(sweep.boundaries[1].kind, Kind::HoldsEverywhere);
        let b = &sweep.boundaries[0];
        assert_eq!(b.kind, Kind::HoldsUpTo);
        for (k, v) in b.per_seed.iter().enumerate() {
            let want = 80.3 + 0.1 * k as f64;
            assert!(
                *v < want && want - v <= 0.08 + 1e-9,
                "seed {k}: {v} vs {want}"
            );
        }
        // 27 grid runs + at most 7 bisection rounds of 3 seeds.
        assert!(sweep.simulations <= 27 + 21, "{}", sweep.simulations);
        // Each (value, seed) run once.
        assert_eq!(sweep.runs.len(), sweep.simulations);
    }
}
