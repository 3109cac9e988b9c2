//! Timeouts. Every call site and every workload has one fixed timeout, so its timers expire
//! in the order they were set: each gets a FIFO lane with only its head in the event queue,
//! and timers cancelled by an earlier answer are dropped from the head without an event.
//! Most attempts are answered in time, so this keeps a third of all events out of the heap.

use super::{Sim, Token};
use crate::engine::Event;
use crate::fifo::Fifo;

#[derive(Debug, Default)]
pub(crate) struct Lane {
    /// (expiry, who, token or generation), in expiry order.
    entries: Fifo<(f64, u32, Token)>,
    armed: bool,
}

impl Sim<'_> {
    /// Lanes `0..calls` are call sites (who = fiber, token), the rest workloads (who = the
    /// client's request, its generation).
    fn lane_is_call(&self, lane: u32) -> bool {
        (lane as usize) < self.m.calls.len()
    }

    fn timer_stale(&self, lane: u32, who: u32, token: Token) -> bool {
        if self.lane_is_call(lane) {
            self.fibers.get(who).token != token
        } else {
            !self.reqs.is_current(who, token)
        }
    }

    pub(super) fn set_timer(&mut self, lane: u32, after: f64, who: u32, token: Token) {
        let at = self.now + after;
        let l = &mut self.lanes[lane as usize];
        l.entries.push_back((at, who, token));
        if !l.armed {
            l.armed = true;
            self.q.push(at, Event::Timers { lane });
        }
    }

    pub(super) fn timers_due(&mut self, lane: u32) {
        self.lanes[lane as usize].armed = false;
        while let Some(&(at, who, token)) = self.lanes[lane as usize].entries.front() {
            if at > self.now {
                break;
            }
            self.lanes[lane as usize].entries.pop_front();
            if self.lane_is_call(lane) {
                self.call_timeout(who, token);
            } else {
                self.client_timeout(who, token);
            }
        }
        while let Some(&(at, who, token)) = self.lanes[lane as usize].entries.front() {
            if !self.timer_stale(lane, who, token) {
                let l = &mut self.lanes[lane as usize];
                if !l.armed {
                    l.armed = true;
                    self.q.push(at, Event::Timers { lane });
                }
                break;
            }
            self.lanes[lane as usize].entries.pop_front();
        }
    }
}
