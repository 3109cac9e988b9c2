//! When the clock may spin: a sleep ends on time because a thread spins through its last
//! stretch ([`super::SPIN`] on the timer thread, the lead on the task's worker), and a spin is
//! a core taken from everything else. On an idle core that costs nothing; on a busy machine it
//! takes the CPU the agents need to serve their requests. On the testbed (a control plane and
//! a dozen agents on two cores) the timer threads' spins were half of all the CPU a run used
//! at 1,000 requests/s, so the scenarios with the highest rates failed for want of CPU.
//!
//! So the clock spins only within a budget, and otherwise parks until the deadline itself
//! (with a 1 ns timer slack a futex wakes within the scheduler's delay): a token bucket
//! ([`Budget`]) with bursts of [`BURST`] that fills at [`SHARE`] of one core while the machine's
//! CPU is free, and at [`CONTENDED_SHARE`] while it is contended: in the last [`WINDOW`] tasks
//! waited for a CPU more than [`PRESSURE_LIMIT`] of the time (Linux's pressure stall
//! information, `/proc/pressure/cpu`; where it is missing the CPU counts as free). The small
//! share still covers a process with few deadlines (a queue served at 80/s wants about 3% of
//! a core), whose timing the scenario is about, and starves the busy ones, whose requests need
//! the CPU more. With `CHAOS_REALTIME=1` the share is [`SHARE`] whatever the pressure: whoever
//! turns that on has chosen the timing over the machine's other work.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The share of one core a process's spins take on average, at most, while the CPU is free.
pub const SHARE: f64 = 0.2;
/// The share while the CPU is contended ([`PRESSURE_LIMIT`]).
pub const CONTENDED_SHARE: f64 = 0.025;
/// How much spinning may be done at once after a quiet stretch.
pub const BURST: Duration = Duration::from_millis(50);
/// How often the machine's CPU pressure is read.
pub const WINDOW: Duration = Duration::from_millis(250);
/// Past this share of a window in which some task waited for a CPU, spinning would take the
/// CPU from a task that wants it.
pub const PRESSURE_LIMIT: f64 = 0.1;

/// A token bucket of spinning time: it fills at a share of the time passed ([`SHARE`],
/// [`CONTENDED_SHARE`]), up to [`BURST`], and each spin is charged after the fact (so it may
/// go below zero: the next spin waits until it is paid back).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Spinning time available, in seconds; negative after a spin longer than what was left.
    left_s: f64,
    at: Instant,
}

impl Budget {
    pub fn new(now: Instant) -> Budget {
        Budget {
            left_s: BURST.as_secs_f64(),
            at: now,
        }
    }

    /// Fills the bucket for the time since the last call at `share` of it (the share in
    /// force now: close enough, the pressure changes at most once a [`WINDOW`]).
    fn refill(&mut self, now: Instant, share: f64) {
        let passed = now.saturating_duration_since(self.at).as_secs_f64();
        self.left_s = (self.left_s + passed * share).min(BURST.as_secs_f64());
        self.at = self.at.max(now);
    }

    /// Whether a spin may start now, the bucket filling at `share` of a core.
    pub fn allows(&mut self, now: Instant, share: f64) -> bool {
        self.refill(now, share);
        self.left_s > 0.0
    }

    /// Pays for a spin that took `spun`.
    pub fn charge(&mut self, now: Instant, spun: Duration, share: f64) {
        self.refill(now, share);
        self.left_s -= spun.as_secs_f64();
    }
}

/// `/proc/pressure/cpu`'s cumulative stall time of `some` (at least one runnable task waiting
/// for a CPU), in microseconds; `None` when the text has no such line.
pub fn some_stall_us(pressure: &str) -> Option<u64> {
    let line = pressure.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

/// The share of `window` in which some task waited for a CPU, from two readings of
/// [`some_stall_us`] taken `window` apart.
pub fn stalled_share(before_us: u64, after_us: u64, window: Duration) -> f64 {
    let window_us = window.as_secs_f64() * 1e6;
    if window_us <= 0.0 {
        return 0.0;
    }
    after_us.saturating_sub(before_us) as f64 / window_us
}

static BUDGET: Mutex<Option<Budget>> = Mutex::new(None);
/// Set by the timer thread from the last window's pressure ([`Pressure::sample`]).
static CONTENDED: AtomicBool = AtomicBool::new(false);

/// The share of a core the budget fills at now.
fn share() -> f64 {
    if CONTENDED.load(Ordering::Acquire) && !super::realtime_asked() {
        CONTENDED_SHARE
    } else {
        SHARE
    }
}

/// Whether a spin may start now (the budget has time left).
pub fn may_spin(now: Instant) -> bool {
    let share = share();
    let mut budget = BUDGET.lock().unwrap_or_else(|p| p.into_inner());
    budget
        .get_or_insert_with(|| Budget::new(now))
        .allows(now, share)
}

/// Pays for a spin of `spun` that ended at `now`.
pub fn charge(now: Instant, spun: Duration) {
    let share = share();
    let mut budget = BUDGET.lock().unwrap_or_else(|p| p.into_inner());
    budget
        .get_or_insert_with(|| Budget::new(now))
        .charge(now, spun, share);
}

/// The timer thread's reading of the machine's CPU pressure, one per [`WINDOW`].
pub struct Pressure {
    last: Option<(Instant, u64)>,
    /// False once the file could not be read: it is not tried again.
    available: bool,
}

impl Default for Pressure {
    fn default() -> Pressure {
        Pressure {
            last: None,
            available: true,
        }
    }
}

impl Pressure {
    /// Reads the pressure when a window has passed since the last reading, and says whether
    /// the CPU was contended over it; the timer thread calls it on every turn.
    pub fn sample(&mut self, now: Instant) {
        if !self.available {
            return;
        }
        if let Some((at, _)) = self.last
            && now.saturating_duration_since(at) < WINDOW
        {
            return;
        }
        let Some(stall) = std::fs::read_to_string("/proc/pressure/cpu")
            .ok()
            .as_deref()
            .and_then(some_stall_us)
        else {
            self.available = false;
            CONTENDED.store(false, Ordering::Release);
            return;
        };
        if let Some((at, before)) = self.last {
            let share = stalled_share(before, stall, now.saturating_duration_since(at));
            CONTENDED.store(share > PRESSURE_LIMIT, Ordering::Release);
        }
        self.last = Some((now, stall));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_a_burst_then_its_share_of_the_time() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        assert!(b.allows(t0, SHARE));
        b.charge(t0, BURST, SHARE);
        assert!(!b.allows(t0, SHARE), "the burst is spent");
        // after 1 ms, 0.2 ms of spinning has been earned
        let t1 = t0 + Duration::from_millis(1);
        assert!(b.allows(t1, SHARE));
        b.charge(t1, Duration::from_micros(300), SHARE);
        assert!(!b.allows(t1, SHARE), "0.1 ms over: owed");
        assert!(!b.allows(t1 + Duration::from_micros(400), SHARE));
        assert!(b.allows(t1 + Duration::from_micros(600), SHARE));
        // a long quiet stretch earns no more than the burst
        let later = t1 + Duration::from_secs(60);
        assert!(b.allows(later, SHARE));
        b.charge(later, BURST + Duration::from_micros(1), SHARE);
        assert!(!b.allows(later, SHARE));
    }

    /// Over one second of a deadline every `gap`, each wanting a 200 µs spin (what the timer
    /// thread did on a busy agent), the share of that second spent spinning, past the burst.
    fn spun_share(gap: Duration, share: f64) -> f64 {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        let mut spun = Duration::ZERO;
        let mut now = t0;
        while now < t0 + Duration::from_secs(1) {
            if b.allows(now, share) {
                b.charge(now, Duration::from_micros(200), share);
                spun += Duration::from_micros(200);
            }
            now += gap;
        }
        spun.as_secs_f64() - BURST.as_secs_f64()
    }

    #[test]
    fn dense_deadlines_spin_only_the_share_and_sparse_ones_all_of_theirs_even_when_contended() {
        // 10,000 deadlines a second would spin two cores' worth: they get the share
        let busy = Duration::from_micros(100);
        assert!((spun_share(busy, SHARE) - SHARE).abs() < 0.01);
        assert!((spun_share(busy, CONTENDED_SHARE) - CONTENDED_SHARE).abs() < 0.005);
        // a queue at 80/s (two sleeps each) wants 3.2% of a core: all of it while the CPU is
        // free; contended, its burst and share still cover nearly all of its spins
        let sparse = Duration::from_micros(6_250);
        let all = 0.032;
        assert!((spun_share(sparse, SHARE) + BURST.as_secs_f64() - all).abs() < 0.001);
        assert!(spun_share(sparse, CONTENDED_SHARE) + BURST.as_secs_f64() > all - 0.001);
    }

    #[test]
    fn the_pressure_file_is_read_for_its_some_total() {
        let text = "some avg10=11.21 avg60=24.70 avg300=10.37 total=15001900879\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(some_stall_us(text), Some(15_001_900_879));
        assert_eq!(some_stall_us("full avg10=0.00 total=3\n"), None);
        assert_eq!(some_stall_us("some avg10=1.0 total=x\n"), None);
        let w = Duration::from_millis(250);
        assert!((stalled_share(1_000, 26_000, w) - 0.1).abs() < 1e-9);
        assert_eq!(
            stalled_share(5, 3, w),
            0.0,
            "a counter going back is no stall"
        );
        assert_eq!(stalled_share(0, 10, Duration::ZERO), 0.0);
    }
}
