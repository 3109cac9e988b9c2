//! Workloads: open-loop arrivals at the plan's instants (`chaos_plan::ArrivalTimes`),
//! closed-loop users on the plan's ramp (`chaos_plan::UsersRamp`) with think time, and
//! client-side timeouts.

use chaos_report::Cause;

use super::{Caller, Failure, Outcome, Req, ReqState, Sim};
use crate::engine::Event;
use crate::model::{NONE, WorkloadKind};

impl Sim<'_> {
    pub(super) fn schedule_workload(&mut self, wl: u32) {
        match &self.m.workloads[wl as usize].kind {
            WorkloadKind::Open { .. } => self.next_arrival(wl),
            WorkloadKind::Closed { users, .. } => {
                let users = *users;
                for user in 0..users.max_users() {
                    let start = users.joins_s(user);
                    if start < self.stop_t {
                        self.q.push(start, Event::UserSend { wl, user });
                    }
                }
            }
        }
    }

    /// Whether closed-loop user `user` of `wl` is one of the users sending at `t`.
    fn user_active(&self, wl: u32, user: u32, t: f64) -> bool {
        match &self.m.workloads[wl as usize].kind {
            WorkloadKind::Closed { users, .. } => users.active(user, t),
            WorkloadKind::Open { .. } => false,
        }
    }

    /// Schedules the workload's next arrival from the plan's instants.
    fn next_arrival(&mut self, wl: u32) {
        if let Some(t) = self.arrivals_of[wl as usize]
            .as_mut()
            .and_then(Iterator::next)
            && t < self.stop_t
        {
            self.q.push(t, Event::Arrival { wl });
        }
    }

    pub(super) fn open_arrival(&mut self, wl: u32) {
        if self.now >= self.stop_t {
            return;
        }
        if self
            .opts
            .max_arrivals
            .is_some_and(|max| self.arrivals >= max)
        {
            return;
        }
        self.arrivals += 1;
        if self.opts.trace {
            self.stats.trace.push(crate::TraceEvent::Arrival {
                workload: wl,
                at_s: self.now,
            });
        }
        self.workload_send(wl, NONE);
        self.next_arrival(wl);
    }

    pub(super) fn user_send(&mut self, wl: u32, user: u32) {
        if self.now >= self.stop_t || !self.user_active(wl, user, self.now) {
            return;
        }
        self.workload_send(wl, user);
    }

    fn workload_send(&mut self, wl: u32, user: u32) {
        let w = &self.m.workloads[wl as usize];
        let (endpoint, timeout, priority) = (w.endpoint, w.timeout, w.priority);
        // Clients outside the topology go through the service as through a Kubernetes
        // Service: they do not eject (health checks still decide where they land).
        let (req, generation) = self.reqs.insert(Req::new(
            endpoint,
            Caller::Client { wl, user },
            self.now,
            NONE,
            priority,
            NONE,
        ));
        self.stats.sent[endpoint as usize] += 1;
        self.stats.sent[(self.n_endpoints + wl) as usize] += 1;
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.reqs.len());
        if let Some(t) = timeout {
            let lane = self.m.calls.len() as u32 + wl;
            self.set_timer(lane, t, req, generation);
        }
        self.send(req);
    }

    /// The client of request `req` (sent with slab generation `generation`) stops waiting.
    pub(super) fn client_timeout(&mut self, req: u32, generation: u32) {
        if !self.reqs.is_current(req, generation) {
            return;
        }
        let r = self.reqs.get_mut(req);
        let Caller::Client { wl, user } = r.caller() else {
            return;
        };
        let (endpoint, sent, lost) = (r.endpoint, r.sent, r.state == ReqState::Lost);
        r.set_caller(Caller::Silent);
        if lost {
            self.reqs.remove(req);
        }
        let timeout = Err(Failure::new(Cause::Timeout, 504));
        self.record(endpoint, self.now - sent, timeout);
        self.workload_done(wl, user, sent, timeout);
    }

    /// The client got its answer (or gave up): record it, and a closed-loop user thinks.
    /// `intended` is when the client sent the request.
    pub(super) fn workload_done(&mut self, wl: u32, user: u32, intended: f64, outcome: Outcome) {
        self.record(self.n_endpoints + wl, self.now - intended, outcome);
        self.stats.last_workload_answer_s = self.now;
        if let WorkloadKind::Closed { think, .. } = &self.m.workloads[wl as usize].kind {
            // Floored at a round trip after the previous send: an answer at the instant of the
            // send and no think time would otherwise make the user send forever at one instant.
            let think = think.sample(&mut self.rng_think[wl as usize]);
            let t = chaos_plan::next_user_send_s(intended, self.now, think);
            if t < self.stop_t {
                self.q.push(t, Event::UserSend { wl, user });
            }
        }
    }
}
