//! Sampling a [`Dist`]: one sampler for every runner (the simulator, the agents' sleeps, the
//! load generator's think times). Pure: the caller owns the random stream, so a seeded caller
//! gets the same samples on every machine. A [`Sampler`] is the distribution with its derived
//! parameters computed once and its parameters checked.

use crate::{Dist, Z_99};
use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

/// A [`Dist`] with its derived parameters computed once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    Constant(f64),
    Exponential { mean: f64 },
    Normal { mean: f64, sd: f64 },
    Lognormal { mu: f64, sigma: f64 },
    Uniform { low: f64, width: f64 },
    Pareto { scale: f64, inv_shape: f64 },
}

/// Why a distribution cannot be sampled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("distribution {0} has a parameter that is negative, not finite or out of range")]
pub struct BadDist(pub String);

impl Sampler {
    pub fn new(d: &Dist) -> Result<Sampler, BadDist> {
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        let bad = || BadDist(format!("{d:?}"));
        let s = match *d {
            Dist::Constant { value_s } if ok(value_s) => Sampler::Constant(value_s),
            Dist::Exponential { mean_s } if ok(mean_s) => Sampler::Exponential { mean: mean_s },
            Dist::Normal { mean_s, stddev_s } if mean_s.is_finite() && ok(stddev_s) => {
                Sampler::Normal {
                    mean: mean_s,
                    sd: stddev_s,
                }
            }
            Dist::Lognormal { median_s, p99_s }
                if ok(median_s) && median_s > 0.0 && ok(p99_s) && p99_s >= median_s =>
            {
                Sampler::Lognormal {
                    mu: median_s.ln(),
                    sigma: (p99_s / median_s).ln() / Z_99,
                }
            }
            Dist::Uniform { low_s, high_s } if ok(low_s) && ok(high_s) && high_s >= low_s => {
                Sampler::Uniform {
                    low: low_s,
                    width: high_s - low_s,
                }
            }
            Dist::Pareto { scale_s, shape } if ok(scale_s) && shape.is_finite() && shape > 0.0 => {
                Sampler::Pareto {
                    scale: scale_s,
                    inv_shape: 1.0 / shape,
                }
            }
            _ => return Err(bad()),
        };
        Ok(s)
    }

    /// Whether every sample is 0 (lets the engine skip a zero-length wait).
    pub fn is_zero(&self) -> bool {
        matches!(self, Sampler::Constant(v) if *v == 0.0)
    }

    /// One sample in seconds, never negative.
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Sampler::Constant(v) => v,
            Sampler::Exponential { mean } => {
                let e: f64 = Exp1.sample(rng);
                mean * e
            }
            Sampler::Normal { mean, sd } => {
                let z: f64 = StandardNormal.sample(rng);
                (mean + sd * z).max(0.0)
            }
            Sampler::Lognormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Sampler::Uniform { low, width } => low + width * rng.random::<f64>(),
            Sampler::Pareto { scale, inv_shape } => {
                // 1 - U lies in (0, 1], so the power is finite.
                let u = 1.0 - rng.random::<f64>();
                scale * u.powf(-inv_shape)
            }
        }
    }
}

/// One sample of `dist` (built on the spot; a distribution [`Sampler::new`] refuses gives 0).
pub fn sample<R: Rng + ?Sized>(dist: &Dist, rng: &mut R) -> f64 {
    Sampler::new(dist).map_or(0.0, |s| s.sample(rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn all() -> Vec<Dist> {
        vec![
            Dist::Constant { value_s: 0.004 },
            Dist::Exponential { mean_s: 0.01 },
            Dist::Normal {
                mean_s: 0.006,
                stddev_s: 0.001,
            },
            Dist::Lognormal {
                median_s: 0.004,
                p99_s: 0.03,
            },
            Dist::Uniform {
                low_s: 0.002,
                high_s: 0.009,
            },
            Dist::Pareto {
                scale_s: 0.002,
                shape: 3.0,
            },
        ]
    }

    #[test]
    fn sample_means_match_the_plan() {
        for d in all() {
            let s = Sampler::new(&d).unwrap();
            let mut rng = StdRng::seed_from_u64(1);
            let n = 200_000;
            let m = (0..n).map(|_| s.sample(&mut rng)).sum::<f64>() / f64::from(n);
            let want = d.mean_s();
            assert!((m - want).abs() / want < 0.03, "{d:?}: {m} vs {want}");
        }
    }

    #[test]
    fn lognormal_median_and_p99_match_the_plan() {
        let s = Sampler::new(&Dist::Lognormal {
            median_s: 0.004,
            p99_s: 0.03,
        })
        .unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let mut v: Vec<f64> = (0..100_000).map(|_| s.sample(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        assert!(
            (v[50_000] / 0.004 - 1.0).abs() < 0.03,
            "median {}",
            v[50_000]
        );
        assert!((v[99_000] / 0.03 - 1.0).abs() < 0.05, "p99 {}", v[99_000]);
    }

    #[test]
    fn samples_are_never_negative() {
        let mut rng = StdRng::seed_from_u64(2);
        let d = Dist::Normal {
            mean_s: 0.001,
            stddev_s: 0.01,
        };
        assert!((0..10_000).all(|_| sample(&d, &mut rng) >= 0.0));
    }

    #[test]
    fn bad_parameters_are_refused_and_sample_to_zero() {
        let bad = [
            Dist::Exponential { mean_s: -1.0 },
            Dist::Lognormal {
                median_s: 0.0,
                p99_s: 1.0,
            },
            Dist::Lognormal {
                median_s: 2.0,
                p99_s: 1.0,
            },
            Dist::Uniform {
                low_s: 2.0,
                high_s: 1.0,
            },
            Dist::Pareto {
                scale_s: 1.0,
                shape: 0.0,
            },
            Dist::Constant { value_s: f64::NAN },
        ];
        let mut rng = StdRng::seed_from_u64(4);
        for d in bad {
            assert!(Sampler::new(&d).is_err(), "{d:?}");
            assert_eq!(sample(&d, &mut rng), 0.0);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_samples() {
        for d in all() {
            let s = Sampler::new(&d).unwrap();
            let draw = |seed| {
                let mut rng = StdRng::seed_from_u64(seed);
                (0..100).map(|_| s.sample(&mut rng)).collect::<Vec<_>>()
            };
            assert_eq!(draw(7), draw(7));
            if !matches!(d, Dist::Constant { .. }) {
                assert_ne!(draw(7), draw(8));
            }
        }
    }

    #[test]
    fn zero_is_recognised() {
        assert!(Sampler::new(&Dist::ZERO).unwrap().is_zero());
        assert!(
            !Sampler::new(&Dist::Exponential { mean_s: 0.0 })
                .unwrap()
                .is_zero()
        );
    }
}
