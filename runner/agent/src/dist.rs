//! Sampling the plan's duration distributions (seconds) for real sleeps and arrival gaps.

use chaos_plan::{Dist, Z_99};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Longest sample kept: heavy tails (Pareto) must not make an agent sleep for days.
const MAX_SAMPLE_S: f64 = 3600.0;

/// One sample of `dist` in seconds, never negative, never longer than an hour.
pub fn sample<R: Rng + ?Sized>(dist: &Dist, rng: &mut R) -> f64 {
    let v = match dist {
        Dist::Constant { value_s } => *value_s,
        Dist::Exponential { mean_s } => -mean_s * (1.0 - rng.random::<f64>()).ln(),
        Dist::Normal { mean_s, stddev_s } => {
            let z: f64 = StandardNormal.sample(rng);
            mean_s + stddev_s * z
        }
        Dist::Lognormal { median_s, p99_s } => {
            if *median_s <= 0.0 {
                0.0
            } else {
                let sigma = (p99_s / median_s).ln() / Z_99;
                let z: f64 = StandardNormal.sample(rng);
                (median_s.ln() + sigma * z).exp()
            }
        }
        Dist::Uniform { low_s, high_s } => {
            if high_s > low_s {
                rng.random_range(*low_s..*high_s)
            } else {
                *low_s
            }
        }
        Dist::Pareto { scale_s, shape } => {
            if *shape <= 0.0 {
                *scale_s
            } else {
                scale_s / (1.0 - rng.random::<f64>()).powf(1.0 / shape)
            }
        }
    };
    if v.is_finite() {
        v.clamp(0.0, MAX_SAMPLE_S)
    } else {
        MAX_SAMPLE_S
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn mean_of(d: &Dist) -> f64 {
        let mut rng = StdRng::seed_from_u64(1);
        let n = 200_000;
        (0..n).map(|_| sample(d, &mut rng)).sum::<f64>() / f64::from(n)
    }

    #[test]
    fn sample_means_match_the_plan() {
        for d in [
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
        ] {
            let m = mean_of(&d);
            let want = d.mean_s();
            assert!((m - want).abs() / want < 0.03, "{d:?}: {m} vs {want}");
        }
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
}
