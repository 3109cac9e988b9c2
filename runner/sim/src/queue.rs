//! The future event list: a binary heap keyed by (time, insertion sequence), so events at
//! the same instant run in the order they were scheduled and every run is reproducible.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::engine::Event;

/// `key` = time bits (high half) then sequence (low half): for the non-negative, finite
/// times of a run, ordering the bits as integers orders the times, so a single integer
/// comparison orders (time, sequence).
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u128,
    ev: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

fn time_of(key: u128) -> f64 {
    f64::from_bits((key >> 64) as u64)
}

#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl EventQueue {
    /// Schedules `ev` at `t` (a negative time would be a bug; it is clamped to 0).
    pub fn push(&mut self, t: f64, ev: Event) {
        self.seq += 1;
        let t = if t > 0.0 { t } else { 0.0 };
        let key = (u128::from(t.to_bits()) << 64) | u128::from(self.seq);
        self.heap.push(Entry { key, ev });
    }

    pub fn pop(&mut self) -> Option<(f64, Event)> {
        self.heap.pop().map(|e| (time_of(e.key), e.ev))
    }

    pub fn peek_time(&self) -> Option<f64> {
        self.heap.peek().map(|e| time_of(e.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_in_scheduling_order() {
        let mut q = EventQueue::default();
        q.push(2.0, Event::Autoscale { svc: 0 });
        q.push(1.0, Event::Autoscale { svc: 1 });
        q.push(1.0, Event::Autoscale { svc: 2 });
        q.push(0.5e-300, Event::Autoscale { svc: 3 });
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                (0.5e-300, Event::Autoscale { svc: 3 }),
                (1.0, Event::Autoscale { svc: 1 }),
                (1.0, Event::Autoscale { svc: 2 }),
                (2.0, Event::Autoscale { svc: 0 }),
            ]
        );
    }
}
