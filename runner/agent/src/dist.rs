//! The agent's use of the shared sampler (`chaos_plan::sample`) for real sleeps and arrival
//! gaps: the same distributions as the simulator, capped so that a heavy tail (Pareto) never
//! makes an agent sleep for days.

use chaos_plan::Dist;
use rand::Rng;

/// Longest sample kept.
const MAX_SAMPLE_S: f64 = 3600.0;

/// One sample of `dist` in seconds, never negative, never longer than an hour.
pub fn sample<R: Rng + ?Sized>(dist: &Dist, rng: &mut R) -> f64 {
    let v = chaos_plan::sample::sample(dist, rng);
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

    #[test]
    fn heavy_tails_are_capped_at_an_hour() {
        let mut rng = StdRng::seed_from_u64(1);
        let d = Dist::Pareto {
            scale_s: 10.0,
            shape: 0.05,
        };
        let v: Vec<f64> = (0..1000).map(|_| sample(&d, &mut rng)).collect();
        assert!(v.iter().all(|&x| (10.0..=MAX_SAMPLE_S).contains(&x)));
        assert!(v.contains(&MAX_SAMPLE_S));
    }

    #[test]
    fn follows_the_shared_sampler_below_the_cap() {
        let d = Dist::Exponential { mean_s: 0.01 };
        let mut a = StdRng::seed_from_u64(2);
        let mut b = StdRng::seed_from_u64(2);
        for _ in 0..100 {
            assert_eq!(sample(&d, &mut a), chaos_plan::sample::sample(&d, &mut b));
        }
    }
}
