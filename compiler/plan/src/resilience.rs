//! The resilience patterns of issue 14 as pure state machines, one copy for every mode: a
//! replica's wait queue (priorities, FIFO or LIFO, shedding), its health as seen by checks,
//! a caller's outlier ejection, and which replicas `on N of S` picks. The simulator drives
//! them in simulated time, the agents and runners in real time; time is always passed in.

use std::collections::VecDeque;

use crate::{Discipline, Eject, HealthCheck, ReplicaSubset};

/// Priorities run from 0 (the default) to this, higher served first.
pub const MAX_PRIORITY: u8 = 9;

const CLASSES: usize = MAX_PRIORITY as usize + 1;

/// What became of a request offered to a full or non-full queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<T> {
    /// It waits.
    Queued,
    /// The queue is full and nothing of lower priority waits: the arriving request is
    /// rejected (503, cause `rejected`).
    Rejected(T),
    /// The queue was full, so the newest of the lowest-priority waiting requests (given back
    /// here) was dropped to make room for the arriving one (cause `shed`).
    Shed(T),
}

/// A replica's queue of requests waiting for a worker. A free worker takes the highest
/// priority waiting, within one priority the oldest (`fifo`) or the newest (`lifo`).
/// Non-preemptive: a request being served is never interrupted.
#[derive(Debug, Clone)]
pub struct WaitQueue<T> {
    capacity: u32,
    discipline: Discipline,
    classes: [VecDeque<T>; CLASSES],
    /// Bit p set when priority p has someone waiting.
    occupied: u16,
    len: u32,
}

impl<T> WaitQueue<T> {
    /// `capacity` is `None` for an unbounded queue.
    pub fn new(capacity: Option<u32>, discipline: Discipline) -> WaitQueue<T> {
        WaitQueue {
            capacity: capacity.unwrap_or(u32::MAX),
            discipline,
            classes: std::array::from_fn(|_| VecDeque::new()),
            occupied: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offers an arriving request of `priority` (clamped to [`MAX_PRIORITY`]).
    #[inline]
    pub fn offer(&mut self, priority: u8, item: T) -> Offer<T> {
        let p = usize::from(priority.min(MAX_PRIORITY));
        if self.len < self.capacity {
            self.push(p, item);
            return Offer::Queued;
        }
        let lowest = self.occupied.trailing_zeros() as usize;
        if lowest < p {
            // Newest of the lowest class: it has waited least, so dropping it wastes least.
            let victim = self.classes[lowest].pop_back();
            if self.classes[lowest].is_empty() {
                self.occupied &= !(1 << lowest);
            }
            if let Some(victim) = victim {
                self.classes[p].push_back(item);
                self.occupied |= 1 << p;
                return Offer::Shed(victim);
            }
        }
        Offer::Rejected(item)
    }

    /// The request a free worker serves next.
    #[inline]
    pub fn take(&mut self) -> Option<T> {
        if self.occupied == 0 {
            return None;
        }
        let highest = 15 - self.occupied.leading_zeros() as usize;
        let class = &mut self.classes[highest];
        let item = match self.discipline {
            Discipline::Fifo => class.pop_front(),
            Discipline::Lifo => class.pop_back(),
        };
        if class.is_empty() {
            self.occupied &= !(1 << highest);
        }
        if item.is_some() {
            self.len -= 1;
        }
        item
    }

    /// Keeps only the waiting requests for which `keep` is true (a caller that gave up).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for (p, class) in self.classes.iter_mut().enumerate() {
            let before = class.len();
            class.retain(&mut keep);
            self.len -= (before - class.len()) as u32;
            if class.is_empty() {
                self.occupied &= !(1 << p);
            }
        }
    }

    /// Every waiting request, highest priority first (for draining a replica).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.len = 0;
        self.occupied = 0;
        self.classes.iter_mut().rev().flat_map(|c| c.drain(..))
    }

    #[inline]
    fn push(&mut self, p: usize, item: T) {
        self.classes[p].push_back(item);
        self.occupied |= 1 << p;
        self.len += 1;
    }
}

/// A replica's health as its checks see it. A replica up at the start of the run starts
/// healthy; one that starts or restarts later starts unhealthy and is taken in after
/// `healthy` consecutive successful checks (as a Pod is not Ready before its probe passes).
/// `unhealthy` consecutive failed checks take a healthy replica out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthTracker {
    healthy: bool,
    streak: u32,
}

impl HealthTracker {
    pub fn started_healthy() -> HealthTracker {
        HealthTracker {
            healthy: true,
            streak: 0,
        }
    }

    pub fn joining() -> HealthTracker {
        HealthTracker {
            healthy: false,
            streak: 0,
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Records one check's outcome; returns the new state when it changed.
    pub fn record(&mut self, passed: bool, rule: &HealthCheck) -> Option<bool> {
        if passed == self.healthy {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.healthy {
            rule.unhealthy
        } else {
            rule.healthy
        };
        if self.streak >= needed.max(1) {
            self.healthy = passed;
            self.streak = 0;
            Some(passed)
        } else {
            None
        }
    }
}

/// One caller's outlier ejection over the replicas of one callee service (indexed by replica
/// slot). Consecutive failed calls (connection errors, timeouts, 5xx) to one replica reaching
/// `after` eject it for `for_s`; a replica back from ejection that fails again before any
/// success is ejected again at once. Never more than `max_fraction` of the replicas (rounded
/// down) are ejected at one time: past that, failures are counted but nothing is ejected.
#[derive(Debug, Clone)]
pub struct Ejector {
    rule: Eject,
    replicas: Vec<EjectState>,
}

#[derive(Debug, Clone, Copy, Default)]
struct EjectState {
    consecutive: u32,
    ejected_until_s: f64,
    /// Back from an ejection with no success since: one failure ejects it again.
    probation: bool,
}

impl Ejector {
    pub fn new(rule: Eject) -> Ejector {
        Ejector {
            rule,
            replicas: Vec::new(),
        }
    }

    /// Whether the caller may pick `replica` at `now_s`.
    pub fn available(&self, replica: usize, now_s: f64) -> bool {
        self.replicas
            .get(replica)
            .is_none_or(|r| now_s >= r.ejected_until_s)
    }

    /// Replicas ejected at `now_s`.
    pub fn ejected(&self, now_s: f64) -> usize {
        self.replicas
            .iter()
            .filter(|r| now_s < r.ejected_until_s)
            .count()
    }

    /// Records a call's outcome on `replica`, of `live` replicas the caller can pick among;
    /// returns true when this outcome ejected it.
    pub fn record(&mut self, replica: usize, ok: bool, now_s: f64, live: usize) -> bool {
        if self.replicas.len() <= replica {
            self.replicas.resize(replica + 1, EjectState::default());
        }
        let allowed = (self.rule.max_fraction * live as f64 + 1e-9).floor() as usize;
        let ejected_now = self.ejected(now_s);
        let state = &mut self.replicas[replica];
        if ok {
            state.consecutive = 0;
            state.probation = false;
            return false;
        }
        if now_s < state.ejected_until_s {
            // A call sent before the ejection answered after it: nothing new to learn.
            return false;
        }
        state.consecutive += 1;
        if (state.consecutive >= self.rule.after.max(1) || state.probation) && ejected_now < allowed
        {
            state.ejected_until_s = now_s + self.rule.for_s;
            state.consecutive = 0;
            state.probation = true;
            return true;
        }
        false
    }
}

/// How many of `candidates` replicas a subset means: `N` (at most all of them) or `N%`
/// rounded up, and at least one of a non-empty service.
pub fn subset_size(subset: ReplicaSubset, candidates: u32) -> u32 {
    let n = match subset {
        ReplicaSubset::Count { count } => count,
        ReplicaSubset::Fraction { fraction } => {
            (fraction * f64::from(candidates) - 1e-9).ceil().max(1.0) as u32
        }
    };
    n.min(candidates)
}

/// Which replica slots (`0..candidates`) an `on N of S` action affects during one
/// occurrence of a fault: a seeded pick, the same in every mode for the same seed, fault,
/// occurrence and action. Sorted.
pub fn pick_replicas(
    seed: u64,
    fault: &str,
    occurrence: usize,
    action: usize,
    candidates: u32,
    subset: ReplicaSubset,
) -> Vec<u32> {
    let n = subset_size(subset, candidates) as usize;
    let mut state = seed
        ^ fnv1a(fault.as_bytes())
        ^ (occurrence as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (action as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let mut slots: Vec<u32> = (0..candidates).collect();
    // Partial Fisher-Yates: the first n slots are a uniform sample.
    for i in 0..n {
        let remaining = (slots.len() - i) as u64;
        let j = i + (splitmix64(&mut state) % remaining) as usize;
        slots.swap(i, j);
    }
    let mut picked = slots[..n].to_vec();
    picked.sort_unstable();
    picked
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_priority_first_then_queue_order() {
        let mut q = WaitQueue::new(None, Discipline::Fifo);
        for (p, x) in [(0, 'a'), (2, 'b'), (0, 'c'), (2, 'd')] {
            assert_eq!(q.offer(p, x), Offer::Queued);
        }
        let order: Vec<char> = std::iter::from_fn(|| q.take()).collect();
        assert_eq!(order, ['b', 'd', 'a', 'c']);
        let mut q = WaitQueue::new(None, Discipline::Lifo);
        for (p, x) in [(0, 'a'), (2, 'b'), (0, 'c'), (2, 'd')] {
            q.offer(p, x);
        }
        let order: Vec<char> = std::iter::from_fn(|| q.take()).collect();
        assert_eq!(order, ['d', 'b', 'c', 'a']);
    }

    #[test]
    fn a_full_queue_sheds_the_newest_of_the_lowest_class() {
        let mut q = WaitQueue::new(Some(3), Discipline::Fifo);
        q.offer(1, "low-old");
        q.offer(1, "low-new");
        q.offer(5, "high");
        assert_eq!(q.offer(1, "low-late"), Offer::Rejected("low-late"));
        assert_eq!(q.offer(3, "mid"), Offer::Shed("low-new"));
        assert_eq!(q.len(), 3);
        assert_eq!(q.offer(0, "lowest"), Offer::Rejected("lowest"));
        let order: Vec<&str> = std::iter::from_fn(|| q.take()).collect();
        assert_eq!(order, ["high", "mid", "low-old"]);
        let mut zero = WaitQueue::new(Some(0), Discipline::Fifo);
        assert_eq!(zero.offer(9, 1), Offer::Rejected(1));
    }

    #[test]
    fn retain_keeps_counts_right() {
        let mut q = WaitQueue::new(None, Discipline::Fifo);
        for i in 0..10u8 {
            q.offer(i % 3, i);
        }
        q.retain(|x| x % 2 == 0);
        assert_eq!(q.len(), 5);
        let all: Vec<u8> = std::iter::from_fn(|| q.take()).collect();
        assert_eq!(all, [2, 8, 4, 0, 6]);
    }

    #[test]
    fn health_needs_consecutive_streaks() {
        let rule = HealthCheck {
            every_s: 2.0,
            timeout_s: 0.5,
            unhealthy: 3,
            healthy: 2,
        };
        let mut h = HealthTracker::started_healthy();
        assert_eq!(h.record(false, &rule), None);
        assert_eq!(h.record(false, &rule), None);
        assert_eq!(h.record(true, &rule), None, "a success resets the streak");
        assert_eq!(h.record(false, &rule), None);
        assert_eq!(h.record(false, &rule), None);
        assert_eq!(h.record(false, &rule), Some(false));
        assert_eq!(h.record(true, &rule), None);
        assert_eq!(h.record(true, &rule), Some(true));
        assert!(HealthTracker::joining().record(true, &rule).is_none());
    }

    #[test]
    fn ejection_counts_consecutive_failures_and_caps_at_max() {
        let rule = Eject {
            after: 3,
            for_s: 30.0,
            max_fraction: 0.5,
        };
        let mut e = Ejector::new(rule);
        assert!(!e.record(0, false, 0.0, 3));
        assert!(!e.record(0, true, 0.1, 3), "a success resets");
        assert!(!e.record(0, false, 0.2, 3));
        assert!(!e.record(0, false, 0.3, 3));
        assert!(e.record(0, false, 0.4, 3));
        assert!(!e.available(0, 10.0));
        // Half of 3 is one replica: a second bad replica is not ejected.
        for t in 0..5 {
            assert!(!e.record(1, false, 1.0 + f64::from(t), 3));
        }
        assert!(e.available(1, 6.0));
        // Back after 30 s, one more failure ejects it again at once.
        assert!(e.available(0, 30.4));
        assert!(e.record(0, false, 30.5, 3));
    }

    #[test]
    fn picks_are_seeded_and_sized() {
        let a = pick_replicas(7, "bad", 0, 0, 5, ReplicaSubset::Count { count: 2 });
        assert_eq!(a.len(), 2);
        assert_eq!(
            a,
            pick_replicas(7, "bad", 0, 0, 5, ReplicaSubset::Count { count: 2 })
        );
        assert!(a.iter().all(|&r| r < 5));
        let spread: std::collections::BTreeSet<Vec<u32>> = (0..50)
            .map(|seed| pick_replicas(seed, "bad", 0, 0, 5, ReplicaSubset::Count { count: 1 }))
            .collect();
        assert!(spread.len() >= 4, "every replica gets picked for some seed");
        assert_eq!(
            subset_size(ReplicaSubset::Fraction { fraction: 0.34 }, 3),
            2
        );
        assert_eq!(
            subset_size(ReplicaSubset::Fraction { fraction: 0.01 }, 3),
            1
        );
        assert_eq!(subset_size(ReplicaSubset::Count { count: 9 }, 3), 3);
    }
}
