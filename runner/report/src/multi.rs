//! `--runs N`: the same scenario over N seeds, summarised per expectation as "holds in K of N
//! runs" and the mean observed value with a 95% confidence interval (Student t, N − 1 degrees
//! of freedom) over the runs that measured a value.
//!
//! A multi-seed run passes only when every run passed: a gate must not hide a failing seed.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::model::{Report, round6};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunsSummary {
    pub runs: usize,
    pub seeds: Vec<u64>,
    pub passed_runs: usize,
    pub aborted_runs: usize,
    pub expectations: Vec<ExpectationDist>,
}

/// One expectation over every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationDist {
    pub text: String,
    pub window: String,
    pub op: String,
    pub threshold: f64,
    pub unit: String,
    /// Runs in which it held.
    pub held: usize,
    pub runs: usize,
    /// Runs that measured a value (not "no data", not "never").
    pub measured: usize,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    /// 95% confidence interval of the mean; needs two measured runs.
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The observed value of each run, in seed order (`null`: no data or never).
    pub observed: Vec<Option<f64>>,
}

/// The two-sided 95% Student t quantile with `df` degrees of freedom.
pub fn t95(df: usize) -> Option<f64> {
    let t = StudentsT::new(0.0, 1.0, df as f64).ok()?;
    Some(t.inverse_cdf(0.975))
}

/// Summarises `reports` (one per seed, same scenario). The expectations are matched by
/// position (every report comes from the same plan).
pub fn summarise(reports: &[Report]) -> RunsSummary {
    let first = reports.first();
    let expectations = first
        .map(|r| {
            r.expectations
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let all: Vec<_> = reports
                        .iter()
                        .filter_map(|r| r.expectations.get(i))
                        .collect();
                    let observed: Vec<Option<f64>> = all.iter().map(|x| x.observed).collect();
                    let values: Vec<f64> = observed.iter().flatten().copied().collect();
                    let n = values.len();
                    let mean = (n > 0).then(|| values.iter().sum::<f64>() / n as f64);
                    let stddev = mean.filter(|_| n > 1).map(|m| {
                        (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64)
                            .sqrt()
                    });
                    let half = match (stddev, t95(n.saturating_sub(1))) {
                        (Some(sd), Some(t)) if n > 1 => Some(t * sd / (n as f64).sqrt()),
                        _ => None,
                    };
                    let min = values.iter().copied().reduce(f64::min);
                    let max = values.iter().copied().reduce(f64::max);
                    ExpectationDist {
                        text: e.text.clone(),
                        window: e.window.clone(),
                        op: e.op.clone(),
                        threshold: e.threshold,
                        unit: e.unit.clone(),
                        held: all.iter().filter(|x| x.passed).count(),
                        runs: all.len(),
                        measured: n,
                        mean: mean.map(round6),
                        stddev: stddev.map(round6),
                        ci95_low: mean.zip(half).map(|(m, h)| round6(m - h)),
                        ci95_high: mean.zip(half).map(|(m, h)| round6(m + h)),
                        min: min.map(round6),
                        max: max.map(round6),
                        observed,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    RunsSummary {
        runs: reports.len(),
        seeds: reports.iter().map(|r| r.seed).collect(),
        passed_runs: reports.iter().filter(|r| r.passed).count(),
        aborted_runs: reports.iter().filter(|r| r.aborted.is_some()).count(),
        expectations,
    }
}

/// The report of a multi-seed run: the first seed's report, with the distribution over every
/// seed attached and `passed` true only if every run passed. One report is returned as it is.
pub fn combine(mut reports: Vec<Report>) -> Option<Report> {
    if reports.len() == 1 {
        return reports.pop();
    }
    let summary = summarise(&reports);
    let all_passed = summary.passed_runs == summary.runs;
    if reports.is_empty() {
        return None;
    }
    let mut first = reports.swap_remove(0);
    first.passed = all_passed;
    first.runs = Some(summary);
    Some(first)
}
