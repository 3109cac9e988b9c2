//! An open workload's rate over time (piecewise linear, spikes added) and exact inversion of
//! its integral, which gives both Poisson arrivals (unit-exponential steps of the integrated
//! rate) and uniform arrivals (unit steps) without thinning.

use chaos_plan::{RatePiece, Spike};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    t0: f64,
    t1: f64,
    /// Rate at `t0`.
    a: f64,
    /// Slope of the rate.
    b: f64,
}

/// The rate `λ(t)` on `[0, end)`, as linear segments.
#[derive(Debug, Clone, PartialEq)]
pub struct RateFn {
    segs: Vec<Segment>,
}

impl RateFn {
    /// Builds `λ` from the plan's pieces and spikes over `[0, end)`. Time not covered by a
    /// piece has rate 0 (the compiler covers the whole run).
    pub fn new(pieces: &[RatePiece], spikes: &[Spike], end: f64) -> RateFn {
        let mut cuts: Vec<f64> = vec![0.0, end];
        for p in pieces {
            cuts.extend([p.start_s, p.end_s]);
        }
        for s in spikes {
            cuts.extend([s.start_s, s.end_s]);
        }
        cuts.retain(|t| t.is_finite() && (0.0..=end).contains(t));
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        let mut segs = Vec::new();
        for w in cuts.windows(2) {
            let (t0, t1) = (w[0], w[1]);
            if t1 <= t0 {
                continue;
            }
            let mid = 0.5 * (t0 + t1);
            let (mut a, mut b) = (0.0, 0.0);
            if let Some(p) = pieces.iter().find(|p| p.start_s <= mid && mid < p.end_s) {
                let len = p.end_s - p.start_s;
                b = if len > 0.0 {
                    (p.to_per_s - p.from_per_s) / len
                } else {
                    0.0
                };
                a = p.from_per_s + b * (t0 - p.start_s);
            }
            a += spikes
                .iter()
                .filter(|s| s.start_s <= mid && mid < s.end_s)
                .map(|s| s.rate_per_s)
                .sum::<f64>();
            segs.push(Segment {
                t0,
                t1,
                a: a.max(0.0),
                b,
            });
        }
        RateFn { segs }
    }

    /// The rate at `t` (0 outside `[0, end)`).
    pub fn at(&self, t: f64) -> f64 {
        self.segs
            .iter()
            .find(|s| s.t0 <= t && t < s.t1)
            .map_or(0.0, |s| (s.a + s.b * (t - s.t0)).max(0.0))
    }

    /// The `t' >= t` with `∫_t^{t'} λ = mass`, or `None` when the rate's end comes first.
    /// `hint` remembers the segment of the last answer, so a whole run costs O(segments + arrivals).
    pub fn advance(&self, t: f64, mut mass: f64, hint: &mut usize) -> Option<f64> {
        let mut i = *hint;
        while i < self.segs.len() && self.segs[i].t1 <= t {
            i += 1;
        }
        let mut t = t;
        while let Some(s) = self.segs.get(i) {
            let from = t.max(s.t0);
            let r = (s.a + s.b * (from - s.t0)).max(0.0);
            let len = s.t1 - from;
            let avail = (r * len + 0.5 * s.b * len * len).max(0.0);
            if mass <= avail && avail > 0.0 {
                // Solve b/2 x² + r x = mass in the form that stays accurate when b is tiny.
                let x = if s.b == 0.0 {
                    mass / r
                } else {
                    let disc = (r * r + 2.0 * s.b * mass).max(0.0);
                    let denom = r + disc.sqrt();
                    if denom > 0.0 { 2.0 * mass / denom } else { len }
                };
                *hint = i;
                return Some((from + x).min(s.t1));
            }
            mass -= avail;
            t = s.t1;
            i += 1;
        }
        *hint = i;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(start_s: f64, end_s: f64, from_per_s: f64, to_per_s: f64) -> RatePiece {
        RatePiece {
            start_s,
            end_s,
            from_per_s,
            to_per_s,
        }
    }

    #[test]
    fn constant_rate_steps_evenly() {
        let r = RateFn::new(&[piece(0.0, 10.0, 4.0, 4.0)], &[], 10.0);
        let mut h = 0;
        assert_eq!(r.advance(0.0, 1.0, &mut h), Some(0.25));
        assert_eq!(r.advance(9.9, 1.0, &mut h), None);
    }

    #[test]
    fn ramp_integral_is_inverted_exactly() {
        // λ(t) = 2t on [0, 10): ∫_0^x = x², so mass 25 is reached at x = 5.
        let r = RateFn::new(&[piece(0.0, 10.0, 0.0, 20.0)], &[], 10.0);
        let mut h = 0;
        let x = r.advance(0.0, 25.0, &mut h).unwrap();
        assert!((x - 5.0).abs() < 1e-12, "{x}");
        // Falling ramp: λ = 20 - 2t, ∫_0^x = 20x - x² = 75 at x = 5.
        let r = RateFn::new(&[piece(0.0, 10.0, 20.0, 0.0)], &[], 10.0);
        let mut h = 0;
        let x = r.advance(0.0, 75.0, &mut h).unwrap();
        assert!((x - 5.0).abs() < 1e-9, "{x}");
    }

    #[test]
    fn spikes_add_and_segments_chain() {
        let spike = Spike {
            start_s: 2.0,
            end_s: 3.0,
            rate_per_s: 10.0,
        };
        let r = RateFn::new(&[piece(0.0, 5.0, 1.0, 1.0)], &[spike], 5.0);
        assert_eq!(r.at(2.5), 11.0);
        assert_eq!(r.at(1.0), 1.0);
        let mut h = 0;
        // Mass 2 from 0: 2 by t=2; then 11/s: mass 2 + 5.5 reached at 2.5.
        let x = r.advance(0.0, 7.5, &mut h).unwrap();
        assert!((x - 2.5).abs() < 1e-12, "{x}");
    }
}
