//! Sampling the plan's duration distributions, compiled once into a `Copy` sampler.

use chaos_plan::{Dist, Z_99};
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
