//! The future event list: a binary heap keyed by (time, insertion sequence), so events at
//! the same instant run in the order they were scheduled and every run is reproducible.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::Event;

/// Sequence numbers are 32 bits; when they run out, the live keys are renumbered in order.
const SEQ_LIMIT: u64 = 1 << 32;

/// The heap holds 16-byte keys, `time bits << 64 | seq << 32 | slot`, and the events sit in a
/// side table at `slot`: for the non-negative, finite times of a run, ordering the bits as
/// integers orders the times, and sequences are unique, so one integer comparison orders
/// (time, sequence) and the slot never decides. Half-size entries halve what every sift moves.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<u128>>,
    events: Vec<Event>,
    free: Vec<u32>,
    seq: u64,
    /// The root was taken by `pop` but is still in the heap: the next `push` overwrites it
    /// (one sift instead of two), the next `pop` or `peek_time` removes it.
    taken: bool,
}

#[inline]
fn time_of(key: u128) -> f64 {
    f64::from_bits((key >> 64) as u64)
}

impl EventQueue {
    /// Schedules `ev` at `t` (a negative time would be a bug; it is clamped to 0).
    #[inline]
    pub fn push(&mut self, t: f64, ev: Event) {
        if self.seq == SEQ_LIMIT {
            self.renumber();
        }
        let seq = self.seq;
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(e) = self.events.get_mut(s as usize) {
                    *e = ev;
                }
                s
            }
            None => {
                self.events.push(ev);
                (self.events.len() - 1) as u32
            }
        };
        let t = if t > 0.0 { t } else { 0.0 };
        let key = (u128::from(t.to_bits()) << 64) | (u128::from(seq) << 32) | u128::from(slot);
        if self.taken {
            self.taken = false;
            if let Some(mut top) = self.heap.peek_mut() {
                *top = Reverse(key);
                return;
            }
        }
        self.heap.push(Reverse(key));
    }

    /// Removes a root that `pop` took.
    #[inline]
    fn settle(&mut self) {
        if self.taken {
            self.taken = false;
            self.heap.pop();
        }
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(f64, Event)> {
        self.settle();
        let &Reverse(key) = self.heap.peek()?;
        self.taken = true;
        let slot = key as u32;
        self.free.push(slot);
        let ev = *self.events.get(slot as usize)?;
        Some((time_of(key), ev))
    }

    #[inline]
    pub fn peek_time(&mut self) -> Option<f64> {
        self.settle();
        self.heap.peek().map(|k| time_of(k.0))
    }

    /// Gives the live keys sequence numbers 0.. in their current order, so a run that
    /// schedules more than 2^32 events keeps its exact (time, sequence) order.
    #[cold]
    fn renumber(&mut self) {
        self.settle();
        let mut keys: Vec<u128> = std::mem::take(&mut self.heap)
            .into_iter()
            .map(|k| k.0)
            .collect();
        keys.sort_unstable();
        for (n, k) in keys.iter_mut().enumerate() {
            *k = (*k >> 64 << 64) | ((n as u128) << 32) | (*k & 0xffff_ffff);
        }
        self.seq = keys.len() as u64;
        self.heap = keys.into_iter().map(Reverse).collect();
    }

    #[cfg(test)]
    fn with_seq(seq: u64) -> EventQueue {
        EventQueue {
            seq,
            ..EventQueue::default()
        }
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

    /// A simple reference: a sorted list of (time, sequence, event).
    fn check_against_reference(mut q: EventQueue, ops: &[(bool, f64)]) {
        let mut reference: Vec<(f64, u64, Event)> = Vec::new();
        let mut seq = 0u64;
        let sort = |r: &mut Vec<(f64, u64, Event)>| {
            r.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        };
        for (i, &(is_push, t)) in ops.iter().enumerate() {
            if is_push {
                let ev = Event::Autoscale { svc: i as u32 };
                q.push(t, ev);
                reference.push((t, seq, ev));
                seq += 1;
            } else {
                sort(&mut reference);
                let want = (!reference.is_empty()).then(|| reference.remove(0));
                assert_eq!(q.peek_time(), want.map(|w| w.0));
                assert_eq!(q.pop(), want.map(|w| (w.0, w.2)));
            }
        }
        sort(&mut reference);
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        let want: Vec<_> = reference.iter().map(|w| (w.0, w.2)).collect();
        assert_eq!(rest, want);
    }

    fn ops(n: usize) -> Vec<(bool, f64)> {
        // A fixed pseudo-random mix of pushes (few distinct times, so many ties) and pops.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (!x.is_multiple_of(3), (x >> 40) as f64 % 7.0)
            })
            .collect()
    }

    #[test]
    fn matches_a_sorted_list_with_many_ties() {
        check_against_reference(EventQueue::default(), &ops(5000));
    }

    #[test]
    fn keeps_the_order_across_sequence_renumbering() {
        // Starts just below the limit: renumbering happens with live entries in the heap.
        check_against_reference(EventQueue::with_seq(SEQ_LIMIT - 300), &ops(5000));
    }
}
