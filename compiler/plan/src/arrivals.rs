//! When load arrives, for every mode: an open workload's rate over time ([`RateFn`]), its
//! arrival instants ([`ArrivalTimes`]) and a closed workload's number of users ([`UsersRamp`]).
//!
//! The simulator and the load generator both take their instants from [`ArrivalTimes`], and the
//! report's offered rate is [`RateFn::mean_over`], so one seed gives the same instants in every
//! mode. Each workload draws from a random stream of its own, derived from the run seed and
//! the workload's index only ([`arrival_rng`]): nothing else a mode draws can shift them.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};

use crate::{Arrivals, Load, RatePiece, Spike};

/// The random generator of every decision `chaos-plan` makes from a seed: ChaCha8 is the same
/// on every platform and version of `rand_chacha`, unlike `rand`'s `StdRng`.
pub type PlanRng = ChaCha8Rng;

/// The stream number of workload `workload`'s arrivals. The simulator numbers its other
/// streams the same way (`purpose * 1_000_000 + index`), with purpose 1 left to arrivals.
fn arrival_stream(workload: usize) -> u64 {
    1_000_000 + workload as u64
}

/// The random stream of workload `workload`'s arrivals in a run with `run_seed`.
pub fn arrival_rng(run_seed: u64, workload: usize) -> PlanRng {
    let mut r = PlanRng::seed_from_u64(run_seed);
    r.set_stream(arrival_stream(workload));
    r
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    t0: f64,
    t1: f64,
    /// Rate at `t0`.
    a: f64,
    /// Slope of the rate.
    b: f64,
}

impl Segment {
    fn at(&self, t: f64) -> f64 {
        (self.a + self.b * (t - self.t0)).max(0.0)
    }
}

/// An open workload's rate `λ(t)` on `[0, end)`, as linear segments: the plan's pieces with
/// the spikes added on top.
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
            .map_or(0.0, |s| s.at(t))
    }

    /// The end of the rate: the run's duration.
    pub fn end(&self) -> f64 {
        self.segs.last().map_or(0.0, |s| s.t1)
    }

    /// The highest rate anywhere (a linear segment peaks at one of its ends).
    pub fn peak(&self) -> f64 {
        self.segs
            .iter()
            .map(|s| s.a.max(s.at(s.t1)))
            .fold(0.0, f64::max)
    }

    /// `∫_a^b λ`: the arrivals expected in `[a, b)`.
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        self.segs
            .iter()
            .map(|s| {
                let (lo, hi) = (s.t0.max(a), s.t1.min(b));
                if hi > lo {
                    0.5 * (s.at(lo) + s.at(hi)) * (hi - lo)
                } else {
                    0.0
                }
            })
            .sum()
    }

    /// The mean rate over `[a, b)` (0 for an empty span): the report's offered rate.
    pub fn mean_over(&self, a: f64, b: f64) -> f64 {
        if b > a {
            self.integral(a, b) / (b - a)
        } else {
            0.0
        }
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
            let r = s.at(from);
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

/// The arrival instants of one open workload, in order, by inverting the integrated rate:
/// Poisson arrivals are unit-exponential steps of `∫λ`, uniform ones unit steps (the k-th
/// arrival where `∫_0^t λ = k`), so ramps and spikes are followed exactly without thinning.
/// Each instant costs one draw and amortised O(1) time, without allocating.
#[derive(Debug, Clone)]
pub struct ArrivalTimes {
    rate: RateFn,
    poisson: bool,
    rng: PlanRng,
    t: f64,
    hint: usize,
    done: bool,
}

impl ArrivalTimes {
    /// The instants of a workload with this rate and arrival process, workload index
    /// `workload` (its place in the plan) in a run with `run_seed`.
    pub fn new(rate: RateFn, arrivals: Arrivals, run_seed: u64, workload: usize) -> ArrivalTimes {
        ArrivalTimes {
            rate,
            poisson: arrivals == Arrivals::Poisson,
            rng: arrival_rng(run_seed, workload),
            t: 0.0,
            hint: 0,
            done: false,
        }
    }

    /// The instants of an open `load` over `[0, duration_s)`; `None` for a closed one.
    pub fn of_load(
        load: &Load,
        duration_s: f64,
        run_seed: u64,
        workload: usize,
    ) -> Option<ArrivalTimes> {
        match load {
            Load::Open {
                rate,
                spikes,
                arrivals,
            } => Some(ArrivalTimes::new(
                RateFn::new(rate, spikes, duration_s),
                *arrivals,
                run_seed,
                workload,
            )),
            Load::Closed { .. } => None,
        }
    }

    /// The rate the instants follow.
    pub fn rate(&self) -> &RateFn {
        &self.rate
    }
}

impl Iterator for ArrivalTimes {
    type Item = f64;

    #[inline]
    fn next(&mut self) -> Option<f64> {
        if self.done {
            return None;
        }
        let mass = if self.poisson {
            Exp1.sample(&mut self.rng)
        } else {
            1.0
        };
        match self.rate.advance(self.t, mass, &mut self.hint) {
            // The run is `[0, end)`: an arrival at its very end is not sent.
            Some(t) if t < self.rate.end() => {
                self.t = t;
                Some(t)
            }
            _ => {
                self.done = true;
                None
            }
        }
    }
}

/// A closed workload's number of users over time: `from` until `start_s`, then linearly to
/// `to` over `ramp_s`, then `to`. User `k` (0-based) sends while the count is at least
/// `k + 1`; on a rising ramp it joins when the count reaches `k + 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsersRamp {
    pub from: u32,
    pub to: u32,
    pub start_s: f64,
    pub ramp_s: f64,
}

impl UsersRamp {
    /// The ramp of a closed `load`; `None` for an open one.
    pub fn of_load(load: &Load) -> Option<UsersRamp> {
        match *load {
            Load::Closed {
                users_from,
                users_to,
                ramp_start_s,
                ramp_s,
                ..
            } => Some(UsersRamp {
                from: users_from,
                to: users_to,
                start_s: ramp_start_s,
                ramp_s,
            }),
            Load::Open { .. } => None,
        }
    }

    /// Users that ever send: the larger end of the ramp.
    pub fn max_users(&self) -> u32 {
        self.from.max(self.to)
    }

    /// The (fractional) number of users at `t`.
    pub fn at(&self, t: f64) -> f64 {
        let (from, to) = (f64::from(self.from), f64::from(self.to));
        if t < self.start_s {
            from
        } else if self.ramp_s <= 0.0 || t >= self.start_s + self.ramp_s {
            to
        } else {
            from + (to - from) * (t - self.start_s) / self.ramp_s
        }
    }

    /// When user `user` first sends: at 0 for the first `from`, else when the rising count
    /// reaches `user + 1`.
    pub fn joins_s(&self, user: u32) -> f64 {
        if user < self.from || self.to <= self.from {
            0.0
        } else if self.ramp_s > 0.0 {
            self.start_s
                + self.ramp_s * f64::from(user + 1 - self.from) / f64::from(self.to - self.from)
        } else {
            self.start_s
        }
    }

    /// Whether user `user` is one of the users sending at `t`. The tolerance keeps a user whose
    /// join instant was computed by [`UsersRamp::joins_s`] active at that very instant.
    pub fn active(&self, user: u32, t: f64) -> bool {
        self.at(t) + 1e-9 >= f64::from(user) + 1.0
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

    fn times(rate: RateFn, arrivals: Arrivals, seed: u64) -> Vec<f64> {
        ArrivalTimes::new(rate, arrivals, seed, 0).collect()
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
        assert_eq!(r.peak(), 11.0);
        let mut h = 0;
        // Mass 2 from 0: 2 by t=2; then 11/s: mass 2 + 5.5 reached at 2.5.
        let x = r.advance(0.0, 7.5, &mut h).unwrap();
        assert!((x - 2.5).abs() < 1e-12, "{x}");
    }

    #[test]
    fn the_mean_rate_integrates_ramps_and_spikes() {
        let spike = Spike {
            start_s: 2.0,
            end_s: 4.0,
            rate_per_s: 10.0,
        };
        let r = RateFn::new(&[piece(0.0, 10.0, 0.0, 20.0)], &[spike], 10.0);
        // ∫_0^10 2t = 100, plus 2 s of 10/s.
        assert!((r.integral(0.0, 10.0) - 120.0).abs() < 1e-9);
        assert!((r.mean_over(1.0, 3.0) - (4.0 + 5.0)).abs() < 1e-9);
        assert_eq!(r.mean_over(3.0, 3.0), 0.0);
    }

    #[test]
    fn uniform_arrivals_follow_a_ramp_exactly() {
        // λ(t) = 2t: the k-th arrival is where t² = k.
        let r = RateFn::new(&[piece(0.0, 10.0, 0.0, 20.0)], &[], 10.0);
        let all = times(r, Arrivals::Uniform, 1);
        // The 100th is at sqrt(100) = 10, the end of the run, give or take rounding.
        assert!((99..=100).contains(&all.len()), "{}", all.len());
        for (k, t) in all.iter().enumerate() {
            let want = ((k + 1) as f64).sqrt();
            assert!((t - want).abs() < 1e-9, "arrival {k}: {t} vs {want}");
        }
    }

    #[test]
    fn poisson_arrivals_follow_ramps_and_spikes() {
        let rate = [
            piece(0.0, 100.0, 0.0, 200.0),
            piece(100.0, 200.0, 200.0, 200.0),
        ];
        let spikes = [Spike {
            start_s: 150.0,
            end_s: 160.0,
            rate_per_s: 1000.0,
        }];
        let all = times(RateFn::new(&rate, &spikes, 200.0), Arrivals::Poisson, 7);
        let count = |a: f64, b: f64| all.iter().filter(|&&t| a <= t && t < b).count() as f64;
        // 10,000 expected on the ramp (sd 100), 12,000 in the spike (sd ~110).
        assert!((count(0.0, 100.0) - 10_000.0).abs() < 400.0);
        assert!((count(150.0, 160.0) - 12_000.0).abs() < 500.0);
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn the_same_seed_and_workload_give_the_same_instants() {
        let r = RateFn::new(&[piece(0.0, 10.0, 50.0, 150.0)], &[], 10.0);
        let a: Vec<f64> = ArrivalTimes::new(r.clone(), Arrivals::Poisson, 3, 1).collect();
        let b: Vec<f64> = ArrivalTimes::new(r.clone(), Arrivals::Poisson, 3, 1).collect();
        let other_workload: Vec<f64> =
            ArrivalTimes::new(r.clone(), Arrivals::Poisson, 3, 2).collect();
        let other_seed: Vec<f64> = ArrivalTimes::new(r, Arrivals::Poisson, 4, 1).collect();
        assert_eq!(a, b);
        assert_ne!(a, other_workload);
        assert_ne!(a, other_seed);
    }

    #[test]
    fn zero_rate_stretches_send_nothing() {
        let r = RateFn::new(
            &[piece(0.0, 5.0, 0.0, 0.0), piece(5.0, 6.0, 10.0, 10.0)],
            &[],
            6.0,
        );
        let mut it = ArrivalTimes::new(r, Arrivals::Poisson, 3, 0);
        assert!(it.next().is_some_and(|t| t >= 5.0));
        let r = RateFn::new(&[piece(0.0, 5.0, 0.0, 0.0)], &[], 5.0);
        let mut it = ArrivalTimes::new(r, Arrivals::Uniform, 3, 0);
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None, "ended for good");
    }

    #[test]
    fn users_ramp_up_one_by_one() {
        let u = UsersRamp {
            from: 2,
            to: 6,
            start_s: 10.0,
            ramp_s: 40.0,
        };
        assert!(u.active(1, 0.0) && !u.active(2, 0.0));
        assert_eq!(u.joins_s(1), 0.0);
        assert_eq!(u.joins_s(2), 20.0);
        assert!(u.active(2, u.joins_s(2)) && !u.active(3, 20.0));
        assert!(u.active(5, 50.0));
        assert_eq!(u.at(30.0), 4.0);
        assert_eq!(u.max_users(), 6);
        let down = UsersRamp {
            from: 4,
            to: 1,
            start_s: 0.0,
            ramp_s: 3.0,
        };
        assert!(!down.active(3, 1.5) && down.active(0, 100.0));
        assert_eq!(down.joins_s(3), 0.0);
        let step = UsersRamp {
            from: 0,
            to: 3,
            start_s: 5.0,
            ramp_s: 0.0,
        };
        assert_eq!(step.joins_s(2), 5.0);
        assert!(step.active(2, 5.0) && !step.active(0, 4.9));
    }
}
