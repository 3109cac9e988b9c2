//! Rules of the model that every mode carries out the same way: the simulator decides with
//! them in simulated time, the agents and the load generator in real time. They are pure
//! (time is passed in, in seconds) so the simulator stays deterministic and the real runs
//! cannot drift from it.

/// The shortest a closed-loop user's cycle can be: a user never sends again earlier than this
/// after its previous send, even when the answer (a rejection, an injected error, a dead
/// replica) comes back at once and it does not think. In a real system every attempt costs at
/// least a round trip; `--local` measures about 180-220 µs per loopback hop
/// (`runner/local/BENCH.md`), so 100 µs is below anything a real run shows, and it keeps a
/// `think 0s` user whose request fails instantly from sending forever at one simulated instant.
pub const MIN_ROUND_TRIP_S: f64 = 100e-6;

/// When a closed-loop user that sent at `sent_s` and got its answer (or gave up) at
/// `answered_s` sends again, after thinking `think_s`: never earlier than
/// [`MIN_ROUND_TRIP_S`] after the previous send.
pub fn next_user_send_s(sent_s: f64, answered_s: f64, think_s: f64) -> f64 {
    (answered_s + think_s).max(sent_s + MIN_ROUND_TRIP_S)
}

/// The shortest time before a replica that died (a `kill`, a `memory` limit) serves again,
/// whatever `restart` says. Starting a process and seeing it answer its health check is never
/// instantaneous (`--local` takes tens of milliseconds), and without a floor a replica whose
/// memory limit is reached at once would die and come back endlessly at one instant.
pub const MIN_RESTART_S: f64 = 0.01;

/// How long after dying a replica of a service with `restart_s` serves again.
pub fn restart_after_s(restart_s: f64) -> f64 {
    restart_s.max(MIN_RESTART_S)
}

/// A service's rate limit: a token bucket refilled at `rate` per second that holds one
/// second of tokens, but never less than one token, so a rate below one per second
/// (`20/m`) lets a request through every `1 / rate` seconds instead of none at all. It
/// starts full.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate_per_s: f64,
    capacity: f64,
    tokens: f64,
    last_s: f64,
}

impl TokenBucket {
    /// A full bucket at time `start_s`.
    pub fn new(rate_per_s: f64, start_s: f64) -> TokenBucket {
        let rate_per_s = rate_per_s.max(0.0);
        let capacity = TokenBucket::capacity(rate_per_s);
        TokenBucket {
            rate_per_s,
            capacity,
            tokens: capacity,
            last_s: start_s,
        }
    }

    /// The most tokens a bucket of this rate holds: one second's worth, at least one.
    pub fn capacity(rate_per_s: f64) -> f64 {
        rate_per_s.max(1.0)
    }

    /// Takes a token at `now_s` if there is one. A time earlier than the last one adds nothing.
    pub fn take(&mut self, now_s: f64) -> bool {
        let dt = (now_s - self.last_s).max(0.0);
        self.last_s = self.last_s.max(now_s);
        self.tokens = (self.tokens + dt * self.rate_per_s).min(self.capacity);
        // Refills of 1/3 token add up to 0.999...; without the tolerance a token due at
        // exactly its time would be refused.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_one_second_of_tokens_then_refills() {
        let mut b = TokenBucket::new(10.0, 0.0);
        assert_eq!((0..20).filter(|_| b.take(0.0)).count(), 10);
        assert!(!b.take(0.05), "half a token is not enough");
        assert!(b.take(0.15));
    }

    #[test]
    fn a_rate_under_one_per_second_still_lets_requests_through() {
        let mut b = TokenBucket::new(20.0 / 60.0, 0.0);
        assert!(b.take(0.0), "starts with one token");
        assert!(!b.take(0.0));
        assert!(!b.take(2.9));
        assert!(b.take(3.0), "one token every 3 s");
        // One request every 100 ms for a minute: the initial token plus one per 3 s.
        let mut b = TokenBucket::new(20.0 / 60.0, 0.0);
        let passed = (0..600).filter(|&k| b.take(f64::from(k) * 0.1)).count();
        assert_eq!(passed, 20);
    }

    #[test]
    fn time_going_back_adds_no_tokens() {
        let mut b = TokenBucket::new(1.0, 5.0);
        assert!(b.take(5.0));
        assert!(!b.take(4.0));
        assert!(!b.take(5.5));
        assert!(b.take(6.0));
    }

    #[test]
    fn a_user_cycle_is_floored_at_one_round_trip() {
        assert_eq!(next_user_send_s(1.0, 1.0, 0.0), 1.0 + MIN_ROUND_TRIP_S);
        assert_eq!(
            next_user_send_s(1.0, 1.5, 0.0),
            1.5,
            "a real answer time wins"
        );
        assert_eq!(next_user_send_s(1.0, 1.0, 2.0), 3.0, "thinking wins");
    }

    #[test]
    fn restarts_are_floored() {
        assert_eq!(restart_after_s(0.0), MIN_RESTART_S);
        assert_eq!(restart_after_s(5.0), 5.0);
    }
}
