//! The caller-side circuit breaker of one (caller, callee) pair, as the plan defines it.
//!
//! Pure state machine: time comes in as seconds, so it is tested without clocks.

use std::collections::VecDeque;

use chaos_plan::CircuitBreaker;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open {
        until_s: f64,
    },
    /// One trial attempt is allowed; `trial` says it has been let through.
    HalfOpen {
        trial: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Breaker {
    cfg: CircuitBreaker,
    state: State,
    /// `(time, failed)` of attempts within the last `window_s`, while closed.
    recent: VecDeque<(f64, bool)>,
}

impl Breaker {
    pub fn new(cfg: CircuitBreaker) -> Breaker {
        Breaker {
            cfg,
            state: State::Closed,
            recent: VecDeque::new(),
        }
    }

    /// May an attempt go out at `now_s`? `false` means it fails at once with `circuit_open`.
    pub fn admit(&mut self, now_s: f64) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until_s } if now_s >= until_s => {
                self.state = State::HalfOpen { trial: true };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { trial: true } => false,
            State::HalfOpen { trial: false } => {
                self.state = State::HalfOpen { trial: true };
                true
            }
        }
    }

    /// The outcome of an admitted attempt.
    pub fn record(&mut self, now_s: f64, failed: bool) {
        match self.state {
            State::HalfOpen { .. } => {
                self.state = if failed {
                    State::Open {
                        until_s: now_s + self.cfg.open_s,
                    }
                } else {
                    State::Closed
                };
                self.recent.clear();
            }
            State::Open { .. } => {}
            State::Closed => {
                self.recent.push_back((now_s, failed));
                while self
                    .recent
                    .front()
                    .is_some_and(|(t, _)| *t < now_s - self.cfg.window_s)
                {
                    self.recent.pop_front();
                }
                let n = self.recent.len();
                let bad = self.recent.iter().filter(|(_, f)| *f).count();
                if n >= self.cfg.min_requests as usize
                    && n > 0
                    && bad as f64 / n as f64 >= self.cfg.failure_ratio
                {
                    self.state = State::Open {
                        until_s: now_s + self.cfg.open_s,
                    };
                    self.recent.clear();
                }
            }
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> CircuitBreaker {
        CircuitBreaker {
            failure_ratio: 0.5,
            window_s: 10.0,
            min_requests: 4,
            open_s: 5.0,
        }
    }

    #[test]
    fn opens_only_after_min_requests_at_the_ratio() {
        let mut b = Breaker::new(cfg());
        for i in 0..3 {
            assert!(b.admit(f64::from(i)));
            b.record(f64::from(i), true);
        }
        assert!(!b.is_open(), "3 attempts are fewer than min 4");
        assert!(b.admit(3.0));
        b.record(3.0, false);
        assert!(b.is_open(), "3 failures of 4 >= 50%");
        assert!(!b.admit(4.0));
    }

    #[test]
    fn half_open_lets_one_trial_through() {
        let mut b = Breaker::new(cfg());
        for i in 0..4 {
            b.admit(f64::from(i));
            b.record(f64::from(i), true);
        }
        assert!(!b.admit(7.9));
        assert!(b.admit(8.0), "open_s elapsed: trial");
        assert!(!b.admit(8.1), "only one trial");
        b.record(8.2, false);
        assert!(b.admit(8.3), "trial succeeded: closed");
    }

    #[test]
    fn failed_trial_reopens() {
        let mut b = Breaker::new(cfg());
        for i in 0..4 {
            b.admit(f64::from(i));
            b.record(f64::from(i), true);
        }
        assert!(b.admit(9.0));
        b.record(9.0, true);
        assert!(!b.admit(13.9));
        assert!(b.admit(14.0));
    }

    #[test]
    fn old_failures_leave_the_window() {
        let mut b = Breaker::new(cfg());
        for i in 0..3 {
            b.admit(f64::from(i));
            b.record(f64::from(i), true);
        }
        for i in 20..24 {
            b.admit(f64::from(i));
            b.record(f64::from(i), false);
        }
        assert!(!b.is_open());
    }
}
