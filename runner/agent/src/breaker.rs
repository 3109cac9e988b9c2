//! The agent's circuit breakers, one per callee service: [`chaos_plan::Breaker`], the state
//! machine the simulator drives too, behind one lock shared by the agent's requests. Time
//! comes in as seconds since the agent started, so a sequence of outcomes replays exactly.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chaos_plan::{Admission, Breaker, BreakerState, CircuitBreaker};

#[derive(Debug, Default)]
pub struct Breakers {
    by_callee: Mutex<BTreeMap<String, Breaker>>,
}

impl Breakers {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Breaker>> {
        // A panic elsewhere cannot leave a breaker half-updated: every change is one call.
        self.by_callee.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May an attempt to `callee` go out at `now_s`? `None`: it fails at once with
    /// `circuit_open`. The first call creates the callee's breaker with `cfg`.
    pub fn admit(&self, callee: &str, cfg: &CircuitBreaker, now_s: f64) -> Option<Admission> {
        let mut map = self.lock();
        match map.get_mut(callee) {
            Some(b) => b.admit(now_s),
            None => map
                .entry(callee.to_string())
                .or_insert_with(|| Breaker::new(cfg))
                .admit(now_s),
        }
    }

    /// The outcome, at `now_s`, of an attempt to `callee` that `admission` let through.
    pub fn record(&self, callee: &str, now_s: f64, admission: Admission, failed: bool) {
        if let Some(b) = self.lock().get_mut(callee) {
            b.record(now_s, admission, failed);
        }
    }

    /// Where the breaker towards `callee` is (`None` before its first attempt).
    pub fn state(&self, callee: &str) -> Option<BreakerState> {
        self.lock().get(callee).map(Breaker::state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_callee_has_its_own_breaker() {
        let cfg = CircuitBreaker {
            failure_ratio: 0.5,
            window_s: 10.0,
            min_requests: 2,
            open_s: 5.0,
        };
        let b = Breakers::default();
        assert_eq!(b.state("a"), None);
        for t in [0.0, 1.0] {
            let adm = b.admit("a", &cfg, t);
            assert_eq!(adm, Some(Admission::Closed));
            b.record("a", t, Admission::Closed, true);
        }
        assert_eq!(b.state("a"), Some(BreakerState::Open));
        assert_eq!(b.admit("a", &cfg, 2.0), None);
        assert_eq!(b.admit("b", &cfg, 2.0), Some(Admission::Closed));
        assert_eq!(b.admit("a", &cfg, 6.0), Some(Admission::Trial));
        b.record("a", 6.5, Admission::Trial, false);
        assert_eq!(b.state("a"), Some(BreakerState::Closed));
    }
}
