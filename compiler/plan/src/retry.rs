//! A call's retry schedule, for every mode: which failures are retried and how long the
//! caller waits before each retry. The simulator and the agents both call these, each with
//! its own random stream for the jitter.

use rand::Rng;

use crate::{Backoff, Jitter, Retry};

/// Whether an attempt that failed with `status` is retried (attempts remaining): no answer
/// (status 0: connection error, timeout, a replica that died), any 5xx, and 429. An open
/// circuit breaker is never retried, whatever status it reports: the caller checks that
/// before asking.
pub fn retryable_status(status: u16) -> bool {
    status == 0 || status == 429 || status >= 500
}

/// The wait before retry `n` (1-based): the backoff's delay, randomised by the jitter
/// (none = d; full = U(0, d); equal = d/2 + U(0, d/2)). Draws one number from `rng` when
/// there is jitter, none otherwise.
pub fn backoff_s<R: Rng + ?Sized>(backoff: &Backoff, jitter: Jitter, n: u32, rng: &mut R) -> f64 {
    let d = backoff.delay_s(n).max(0.0);
    match jitter {
        Jitter::None => d,
        Jitter::Full => d * rng.random::<f64>(),
        Jitter::Equal => d / 2.0 + d / 2.0 * rng.random::<f64>(),
    }
}

impl Retry {
    /// The wait before retry `n` (1-based): [`backoff_s`] with this retry's backoff and jitter.
    pub fn backoff_s<R: Rng + ?Sized>(&self, n: u32, rng: &mut R) -> f64 {
        backoff_s(&self.backoff, self.jitter, n, rng)
    }

    /// Whether a call whose attempt number `attempt` (1-based) failed with `status` goes on
    /// to another attempt.
    pub fn retries_after(&self, attempt: u32, status: u16) -> bool {
        attempt <= self.retries && retryable_status(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrivals::PlanRng;
    use rand::SeedableRng;

    #[test]
    fn jitter_stays_within_its_range() {
        let b = Backoff::Exponential {
            base_s: 0.05,
            max_s: Some(1.0),
        };
        let mut rng = PlanRng::seed_from_u64(3);
        assert_eq!(backoff_s(&b, Jitter::None, 3, &mut rng), 0.2);
        for _ in 0..1000 {
            let f = backoff_s(&b, Jitter::Full, 3, &mut rng);
            assert!((0.0..=0.2).contains(&f));
            let e = backoff_s(&b, Jitter::Equal, 3, &mut rng);
            assert!((0.1..=0.2).contains(&e));
        }
        assert_eq!(backoff_s(&b, Jitter::None, 10, &mut rng), 1.0, "capped");
    }

    #[test]
    fn only_jitter_draws() {
        let b = Backoff::Constant { delay_s: 0.1 };
        let mut a = PlanRng::seed_from_u64(1);
        let mut c = PlanRng::seed_from_u64(1);
        backoff_s(&b, Jitter::None, 1, &mut a);
        assert_eq!(
            backoff_s(&b, Jitter::Full, 1, &mut a),
            backoff_s(&b, Jitter::Full, 1, &mut c)
        );
    }

    #[test]
    fn retries_follow_the_status_and_the_count() {
        let r = Retry {
            retries: 2,
            ..Retry::NONE
        };
        assert!(r.retries_after(1, 0));
        assert!(r.retries_after(2, 503));
        assert!(r.retries_after(1, 429));
        assert!(!r.retries_after(3, 503), "no attempts left");
        assert!(!r.retries_after(1, 404));
        assert!(!Retry::NONE.retries_after(1, 503));
    }
}
