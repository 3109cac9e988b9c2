//! What one simulated run says about the scenario's expectations, reduced to what the searches
//! need: did each hold, what was observed, and how much room was left.

use chaos_plan::{Comparison, Plan};
use chaos_report::{Observed, Verdict};

/// Margins are clamped to this, so one "no data" does not swamp every other signal.
const MARGIN_CAP: f64 = 10.0;

/// One expectation in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpOutcome {
    pub passed: bool,
    /// In base units (seconds, fractions, per second); `None` for no data or a recovery that
    /// never happened.
    pub observed: Option<f64>,
    /// Room left before the threshold, relative to it: `0.2` = held with 20% to spare,
    /// negative = failed by that much; `-MARGIN_CAP` when nothing could be measured.
    pub margin: f64,
}

/// One run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Every expectation held and no abort fired (the exit code 0 of `chaos run`).
    pub passed: bool,
    /// The text of the `abort when` rule that fired.
    pub aborted: Option<String>,
    /// In the plan's order of expectations.
    pub expectations: Vec<ExpOutcome>,
}

impl Outcome {
    /// Judges `verdicts` (from `chaos_report::evaluate`) of one run.
    pub fn from_verdicts(verdicts: &[Verdict], aborted: Option<String>) -> Outcome {
        let expectations: Vec<ExpOutcome> = verdicts.iter().map(exp_outcome).collect();
        Outcome {
            passed: aborted.is_none() && expectations.iter().all(|e| e.passed),
            aborted,
            expectations,
        }
    }

    /// Texts of the expectations that failed, in the plan's order.
    pub fn failed<'p>(&self, plan: &'p Plan) -> Vec<&'p str> {
        self.expectations
            .iter()
            .zip(&plan.expectations)
            .filter(|(o, _)| !o.passed)
            .map(|(_, e)| e.text.as_str())
            .collect()
    }

    /// How far this run moved towards failing compared with `base`: the largest drop of any
    /// expectation's margin (0 when nothing got worse), plus 1 for an abort.
    pub fn movement(&self, base: &Outcome) -> f64 {
        let drop = self
            .expectations
            .iter()
            .zip(&base.expectations)
            .map(|(c, b)| b.margin - c.margin)
            .fold(0.0, f64::max);
        drop + if self.aborted.is_some() && base.aborted.is_none() {
            1.0
        } else {
            0.0
        }
    }
}

fn exp_outcome(v: &Verdict) -> ExpOutcome {
    let observed = match v.observed {
        Observed::Value(x) => Some(x),
        Observed::NoData | Observed::Never => None,
    };
    ExpOutcome {
        passed: v.passed,
        observed,
        margin: observed.map_or(-MARGIN_CAP, |o| margin(v.op, o, v.threshold)),
    }
}

/// Relative room before `threshold` in the direction `op` wants.
pub fn margin(op: Comparison, observed: f64, threshold: f64) -> f64 {
    let scale = threshold.abs().max(1e-9);
    let m = match op {
        Comparison::Lt | Comparison::Le => (threshold - observed) / scale,
        Comparison::Gt | Comparison::Ge => (observed - threshold) / scale,
        Comparison::Eq => -(observed - threshold).abs() / scale,
        Comparison::Ne => (observed - threshold).abs() / scale,
    };
    m.clamp(-MARGIN_CAP, MARGIN_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_point_the_way_the_comparison_wants() {
        assert!((margin(Comparison::Lt, 0.04, 0.05) - 0.2).abs() < 1e-12);
        assert!((margin(Comparison::Lt, 0.06, 0.05) + 0.2).abs() < 1e-12);
        assert!((margin(Comparison::Ge, 0.999, 0.99) - 0.009 / 0.99).abs() < 1e-12);
        assert!(margin(Comparison::Ge, 0.9, 0.99) < 0.0);
        assert_eq!(margin(Comparison::Lt, 1e9, 1.0), -MARGIN_CAP);
    }

    #[test]
    fn movement_is_the_largest_drop() {
        let o = |m: &[f64]| Outcome {
            passed: true,
            aborted: None,
            expectations: m
                .iter()
                .map(|&margin| ExpOutcome {
                    passed: margin >= 0.0,
                    observed: Some(1.0),
                    margin,
                })
                .collect(),
        };
        let base = o(&[0.5, 0.5]);
        assert!((o(&[0.4, 0.1]).movement(&base) - 0.4).abs() < 1e-12);
        assert_eq!(o(&[0.6, 0.9]).movement(&base), 0.0);
    }
}
