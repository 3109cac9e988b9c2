//! The caller-side circuit breaker of one (caller service, callee service) pair, as
//! [`CircuitBreaker`] defines it, for every mode: the simulator and the agents drive the same
//! state machine. Pure: time comes in as seconds.

use std::collections::VecDeque;

use crate::CircuitBreaker;

/// Where a breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Attempts go through; their outcomes over the last `window_s` decide whether it opens.
    Closed,
    /// Every attempt fails at once (`circuit_open`) until `open_s` after it opened.
    Open,
    /// One trial attempt goes through; its outcome closes or reopens the breaker.
    HalfOpen,
}

/// How an attempt got through: its outcome must be reported with it ([`Breaker::record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Through a closed breaker.
    Closed,
    /// The half-open breaker's one trial.
    Trial,
}

/// The state machine. Amortised O(1) per attempt: the window's attempts sit in a queue with a
/// running count of failures.
#[derive(Debug, Clone, PartialEq)]
pub struct Breaker {
    cfg: CircuitBreaker,
    state: BreakerState,
    /// While open: when the next attempt becomes the trial.
    until_s: f64,
    /// While half-open: the trial went out and has not answered yet.
    trial_out: bool,
    /// `(time, failed)` of the attempts within the last `window_s`, while closed.
    recent: VecDeque<(f64, bool)>,
    fails: u32,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: &CircuitBreaker) -> Breaker {
        Breaker {
            cfg: cfg.clone(),
            state: BreakerState::Closed,
            until_s: 0.0,
            trial_out: false,
            recent: VecDeque::new(),
            fails: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May an attempt go out at `now_s`? `None`: it fails at once with `circuit_open` (and its
    /// outcome is not reported). The first attempt once `open_s` has passed is the trial.
    pub fn admit(&mut self, now_s: f64) -> Option<Admission> {
        match self.state {
            BreakerState::Closed => Some(Admission::Closed),
            BreakerState::Open if now_s >= self.until_s => {
                self.state = BreakerState::HalfOpen;
                self.trial_out = true;
                Some(Admission::Trial)
            }
            BreakerState::Open => None,
            BreakerState::HalfOpen if self.trial_out => None,
            BreakerState::HalfOpen => {
                self.trial_out = true;
                Some(Admission::Trial)
            }
        }
    }

    /// The outcome at `now_s` of an attempt that `admission` let through. An attempt let
    /// through while closed that answers after the breaker opened counts for nothing: only
    /// the trial decides a half-open breaker.
    pub fn record(&mut self, now_s: f64, admission: Admission, failed: bool) {
        match (self.state, admission) {
            (BreakerState::HalfOpen, Admission::Trial) => {
                self.trial_out = false;
                if failed {
                    self.open(now_s);
                } else {
                    self.state = BreakerState::Closed;
                }
            }
            (BreakerState::Closed, Admission::Closed) => {
                self.recent.push_back((now_s, failed));
                self.fails += u32::from(failed);
                while let Some(&(t, f)) = self.recent.front() {
                    if t >= now_s - self.cfg.window_s {
                        break;
                    }
                    self.recent.pop_front();
                    self.fails -= u32::from(f);
                }
                let n = self.recent.len();
                if n > 0
                    && n >= self.cfg.min_requests as usize
                    && f64::from(self.fails) >= self.cfg.failure_ratio * n as f64
                {
                    self.open(now_s);
                }
            }
            _ => {}
        }
    }

    fn open(&mut self, now_s: f64) {
        self.state = BreakerState::Open;
        self.until_s = now_s + self.cfg.open_s;
        self.recent.clear();
        self.fails = 0;
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

    /// `n` failed attempts at 0, 1, 2, ...
    fn failures(b: &mut Breaker, n: u32) {
        for i in 0..n {
            let t = f64::from(i);
            let a = b.admit(t).unwrap();
            b.record(t, a, true);
        }
    }

    #[test]
    fn opens_only_after_min_requests_at_the_ratio() {
        let mut b = Breaker::new(&cfg());
        failures(&mut b, 3);
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "3 attempts are fewer than min 4"
        );
        assert_eq!(b.admit(3.0), Some(Admission::Closed));
        b.record(3.0, Admission::Closed, false);
        assert_eq!(b.state(), BreakerState::Open, "3 failures of 4 >= 50%");
        assert_eq!(b.admit(4.0), None);
    }

    #[test]
    fn half_open_lets_one_trial_through() {
        let mut b = Breaker::new(&cfg());
        failures(&mut b, 4);
        assert_eq!(b.admit(7.9), None, "opened at 3, for 5 s");
        assert_eq!(b.admit(8.0), Some(Admission::Trial));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.admit(8.1), None, "only one trial");
        b.record(8.2, Admission::Trial, false);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.admit(8.3), Some(Admission::Closed));
    }

    #[test]
    fn failed_trial_reopens() {
        let mut b = Breaker::new(&cfg());
        failures(&mut b, 4);
        assert_eq!(b.admit(9.0), Some(Admission::Trial));
        b.record(9.0, Admission::Trial, true);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(13.9), None);
        assert_eq!(b.admit(14.0), Some(Admission::Trial));
    }

    #[test]
    fn a_late_answer_from_before_the_opening_does_not_decide_the_trial() {
        let mut b = Breaker::new(&cfg());
        let early = b.admit(0.0).unwrap();
        failures(&mut b, 4);
        assert_eq!(b.admit(8.0), Some(Admission::Trial));
        b.record(8.5, early, false);
        assert_eq!(b.state(), BreakerState::HalfOpen, "not the trial");
        assert_eq!(b.admit(8.6), None, "the trial is still out");
    }

    #[test]
    fn old_failures_leave_the_window() {
        let mut b = Breaker::new(&cfg());
        failures(&mut b, 3);
        for i in 20..24 {
            let t = f64::from(i);
            let a = b.admit(t).unwrap();
            b.record(t, a, false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        // Failures at 24, 25, 26 against 4 successes: under half; the fourth reaches it.
        for t in [24.0, 25.0, 26.0] {
            b.record(t, Admission::Closed, true);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(27.0, Admission::Closed, true);
        assert_eq!(b.state(), BreakerState::Open);
    }
}
