//! Where an expectation stops holding along the param: the direction from the grid, then one
//! bisection per seed between the last value that held and the first that did not.
//! Pure: values and verdicts in, the next value to try or the boundary out.

use serde::Serialize;

/// Which side of the range an expectation holds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Holds at low values, fails above the boundary (latency against load).
    HoldsUpTo,
    /// Holds at high values, fails below the boundary (latency against workers).
    HoldsDownTo,
    HoldsEverywhere,
    HoldsNowhere,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::HoldsUpTo => "holds up to",
            Kind::HoldsDownTo => "holds down to",
            Kind::HoldsEverywhere => "holds everywhere",
            Kind::HoldsNowhere => "holds nowhere",
        }
    }
}

/// The direction of one expectation from its grid: `holds[seed][point]`. Up to when it holds
/// at the low end at least as often as at the high end.
pub fn direction(holds: &[Vec<bool>]) -> Kind {
    let all = holds.iter().flatten();
    if all.clone().all(|h| *h) {
        return Kind::HoldsEverywhere;
    }
    if !holds.iter().flatten().any(|h| *h) {
        return Kind::HoldsNowhere;
    }
    let at =
        |i: fn(&Vec<bool>) -> Option<&bool>| holds.iter().filter(|s| i(s) == Some(&true)).count();
    if at(|s| s.first()) >= at(|s| s.last()) {
        Kind::HoldsUpTo
    } else {
        Kind::HoldsDownTo
    }
}

/// One seed's search for one expectation's boundary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Search {
    /// Found: the last value at which it held (or the end of the range it held up to).
    Done(f64),
    /// Held at `hold`, failed at `fail`; the boundary lies between.
    Open { hold: f64, fail: f64 },
}

/// The bracket of one seed from its grid (`values` ascending, `holds` per value).
/// For [`Kind::HoldsUpTo`]: the first failure after a run of holds from the low end; a seed
/// that holds everywhere gives the top of the range, one that fails at once the bottom.
/// [`Kind::HoldsDownTo`] mirrors it from the high end.
pub fn bracket(values: &[f64], holds: &[bool], kind: Kind) -> Search {
    let n = values.len().min(holds.len());
    if n == 0 {
        return Search::Done(f64::NAN);
    }
    match kind {
        Kind::HoldsUpTo | Kind::HoldsEverywhere | Kind::HoldsNowhere => {
            match (0..n).find(|&i| !holds[i]) {
                None => Search::Done(values[n - 1]),
                Some(0) => Search::Done(values[0]),
                Some(i) => Search::Open {
                    hold: values[i - 1],
                    fail: values[i],
                },
            }
        }
        Kind::HoldsDownTo => match (0..n).rev().find(|&i| !holds[i]) {
            None => Search::Done(values[0]),
            Some(i) if i == n - 1 => Search::Done(values[n - 1]),
            Some(i) => Search::Open {
                hold: values[i + 1],
                fail: values[i],
            },
        },
    }
}

impl Search {
    /// The next value to try, or `None` when the bracket is as narrow as `tolerance` (for
    /// integers: adjacent).
    pub fn next(&self, integer: bool, tolerance: f64) -> Option<f64> {
        let Search::Open { hold, fail } = *self else {
            return None;
        };
        let width = (fail - hold).abs();
        if integer {
            if width <= 1.0 {
                return None;
            }
            return Some(((hold + fail) / 2.0).floor().max(hold.min(fail) + 1.0));
        }
        if width <= tolerance {
            return None;
        }
        let mid = (hold + fail) / 2.0;
        let snapped = (mid * 1e6).round() / 1e6;
        // Snapping must not land on an end (the bracket would stop narrowing).
        (snapped != hold && snapped != fail).then_some(snapped)
    }

    /// Narrows the bracket with the verdict at `value`.
    pub fn update(&mut self, value: f64, held: bool) {
        if let Search::Open { hold, fail } = self {
            if held {
                *hold = value;
            } else {
                *fail = value;
            }
        }
    }

    /// The boundary: the last value at which the expectation held.
    pub fn value(&self) -> f64 {
        match *self {
            Search::Done(v) => v,
            Search::Open { hold, .. } => hold,
        }
    }
}

/// The median of per-seed boundaries and their range.
pub fn summarise(per_seed: &[f64]) -> Option<(f64, [f64; 2])> {
    let mut v: Vec<f64> = per_seed.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, [v[0], v[n - 1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_from_the_grid() {
        let t = true;
        let f = false;
        assert_eq!(direction(&[vec![t, t, f]]), Kind::HoldsUpTo);
        assert_eq!(
            direction(&[vec![f, t, t], vec![f, f, t]]),
            Kind::HoldsDownTo
        );
        assert_eq!(direction(&[vec![t, t], vec![t, t]]), Kind::HoldsEverywhere);
        assert_eq!(direction(&[vec![f, f], vec![f, f]]), Kind::HoldsNowhere);
    }

    #[test]
    fn bisection_converges_on_a_threshold() {
        // holds while v < 80.3
        let values: Vec<f64> = (0..9).map(|i| 40.0 + 10.0 * i as f64).collect();
        let holds: Vec<bool> = values.iter().map(|v| *v < 80.3).collect();
        let mut s = bracket(&values, &holds, Kind::HoldsUpTo);
        assert_eq!(
            s,
            Search::Open {
                hold: 80.0,
                fail: 90.0
            }
        );
        let mut steps = 0;
        while let Some(v) = s.next(false, 0.08) {
            s.update(v, v < 80.3);
            steps += 1;
        }
        assert!(steps <= 8, "{steps}");
        assert!((s.value() - 80.3).abs() <= 0.08, "{}", s.value());
    }

    #[test]
    fn integers_stop_at_adjacent_values_and_down_to_mirrors() {
        let values = [1.0, 5.0, 9.0, 13.0];
        // holds from 7 workers up
        let holds: Vec<bool> = values.iter().map(|v| *v >= 7.0).collect();
        let mut s = bracket(&values, &holds, Kind::HoldsDownTo);
        assert_eq!(
            s,
            Search::Open {
                hold: 9.0,
                fail: 5.0
            }
        );
        while let Some(v) = s.next(true, 0.0) {
            assert_eq!(v.fract(), 0.0);
            s.update(v, v >= 7.0);
        }
        assert_eq!(s.value(), 7.0);
    }

    #[test]
    fn seeds_that_never_cross_give_the_ends() {
        let values = [1.0, 2.0, 3.0];
        assert_eq!(
            bracket(&values, &[true; 3], Kind::HoldsUpTo),
            Search::Done(3.0)
        );
        assert_eq!(
            bracket(&values, &[false, true, true], Kind::HoldsUpTo),
            Search::Done(1.0)
        );
        assert_eq!(summarise(&[3.0, 1.0, 2.0]), Some((2.0, [1.0, 3.0])));
        assert_eq!(summarise(&[]), None);
    }
}
