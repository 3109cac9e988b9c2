//! Requests through the system: sending (partition, loss, wire delay), arrival (injected
//! errors, rate limit, load balancing, workers and queue), endpoint bodies run by fibers,
//! answers back to callers, call timeouts, retries with backoff, and circuit breakers.

use chaos_plan::{Admission, Balance, BreakerState, Ejector, Offer};
use chaos_report::Cause;
use rand::Rng as _;

use super::{
    Caller, Failure, Fiber, Outcome, RState, Ready, Replica, Req, ReqState, Rng, Sim, SubKind,
    SvcState, Token, none,
};
use crate::TraceEvent;
use crate::engine::Event;
use crate::model::{Instr, NONE};

impl Sim<'_> {
    /// Puts an attempt on its way to its endpoint.
    pub(super) fn send(&mut self, req: u32) {
        let r = self.reqs.get(req);
        let (ep, svc, from) = (r.endpoint as usize, self.svc_of(r.endpoint), r.from);
        let ns = self.svcs.len();
        if !none(from) && self.cut[from as usize * ns + svc as usize] > 0 {
            self.answer(req, Err(Failure::new(Cause::Connection, 0)));
            return;
        }
        let mut ri = NONE;
        if self.ep_faults[ep].sub_wire {
            // A fault `on N of S` on the way in hits only the requests sent to its replicas:
            // the caller's balancer picks the replica now, as a real client does.
            let ejector = self.reqs.get(req).ejector;
            let Some(i) = self.pick_replica(svc as usize, ejector) else {
                self.answer(req, Err(Failure::new(Cause::Connection, 0)));
                return;
            };
            ri = i as u32;
            self.reqs.get_mut(req).replica = ri;
        }
        if self.ep_faults[ep].any_wire || !none(ri) {
            let rng = &mut self.rng_wire[svc as usize];
            let f = &self.ep_faults[ep];
            let lost = f.loss.iter().any(|&ratio| rng.random::<f64>() < ratio)
                || f.sub.iter().any(|sf| match sf.kind {
                    SubKind::Loss(ratio) => sf.covers(ri) && rng.random::<f64>() < ratio,
                    _ => false,
                });
            if lost {
                self.reqs.get_mut(req).state = ReqState::Lost;
                return;
            }
            let mut delay: f64 = f.latency.iter().map(|d| d.sample(rng)).sum();
            for sf in &f.sub {
                if let SubKind::Latency(d) = &sf.kind
                    && sf.covers(ri)
                {
                    delay += d.sample(rng);
                }
            }
            if delay > 0.0 {
                self.arrive_after(req, delay + self.m.hop);
                return;
            }
        }
        if self.m.hop > 0.0 {
            self.arrive_after(req, self.m.hop);
            return;
        }
        self.arrive(req);
    }

    /// The attempt reaches its target `delay` from now: the model's hop (the whole of it on
    /// the way in, so the caller's latency, its timeout and the callee's arrivals all count
    /// it) plus any injected wire latency.
    fn arrive_after(&mut self, req: u32, delay: f64) {
        let generation = self.reqs.generation_of(req);
        self.q
            .push(self.now + delay, Event::ReqArrive { req, generation });
    }

    /// The attempt reaches its target service.
    pub(super) fn arrive(&mut self, req: u32) {
        let r = self.reqs.get(req);
        let (ep, s) = (r.endpoint as usize, self.svc_of(r.endpoint) as usize);
        if !none(r.replica) || !none(r.ejector) || self.ep_faults[ep].sub_errors {
            self.arrive_picked(req);
            return;
        }
        // The common path: faults on every replica, the rate limit, then the balancer.
        let f = &self.ep_faults[ep];
        if !f.errors.is_empty() {
            let rng = &mut self.rng_wire[s];
            if let Some(&(_, status)) = f
                .errors
                .iter()
                .find(|&&(ratio, _)| rng.random::<f64>() < ratio)
            {
                self.answer(req, Err(Failure::new(Cause::Injected, status)));
                return;
            }
        }
        if let Some(bucket) = &mut self.svcs[s].bucket
            && !bucket.take(self.now)
        {
            self.answer(req, Err(Failure::new(Cause::RateLimited, 429)));
            return;
        }
        let Some(ri) = self.pick_replica(s, NONE) else {
            self.answer(req, Err(Failure::new(Cause::Connection, 0)));
            return;
        };
        if self.m.services[s].health_check.is_some()
            && self.svcs[s].replicas[ri].state != RState::Live
        {
            // Dead, but its checks have not noticed yet.
            self.answer(req, Err(Failure::new(Cause::Connection, 0)));
            return;
        }
        self.admit(req, s, ri);
    }

    /// Arrival when the replica is known first: picked when sent (an `on N of S` fault on the
    /// way in), or picked now because an `on N of S` error depends on it or an ejecting
    /// caller counts the outcome against it. Out of line: the common path stays small.
    #[inline(never)]
    fn arrive_picked(&mut self, req: u32) {
        let r = self.reqs.get(req);
        let (ep, s, mut picked, ejector) = (
            r.endpoint as usize,
            self.svc_of(r.endpoint) as usize,
            r.replica,
            r.ejector,
        );
        if none(picked) {
            let Some(i) = self.pick_replica(s, ejector) else {
                self.answer(req, Err(Failure::new(Cause::Connection, 0)));
                return;
            };
            picked = i as u32;
            self.reqs.get_mut(req).replica = picked;
        }
        if self.svcs[s].replicas[picked as usize].state != RState::Live {
            // Picked before it died (on the wire, or still healthy to its checks): a dead
            // replica refuses the connection.
            self.answer(req, Err(Failure::new(Cause::Connection, 0)));
            return;
        }
        let f = &self.ep_faults[ep];
        if !f.errors.is_empty() || f.sub_errors {
            let rng = &mut self.rng_wire[s];
            let status = f
                .errors
                .iter()
                .find(|&&(ratio, _)| rng.random::<f64>() < ratio)
                .map(|&(_, status)| status)
                .or_else(|| {
                    f.sub.iter().find_map(|sf| match sf.kind {
                        SubKind::Errors(ratio, status)
                            if sf.covers(picked) && rng.random::<f64>() < ratio =>
                        {
                            Some(status)
                        }
                        _ => None,
                    })
                });
            if let Some(status) = status {
                self.answer(req, Err(Failure::new(Cause::Injected, status)));
                return;
            }
        }
        if let Some(bucket) = &mut self.svcs[s].bucket
            && !bucket.take(self.now)
        {
            self.answer(req, Err(Failure::new(Cause::RateLimited, 429)));
            return;
        }
        self.admit(req, s, picked as usize);
    }

    /// On replica `ri`: a free worker starts the request, else it waits in the replica's
    /// queue, sheds a lower priority, or is rejected.
    #[inline]
    fn admit(&mut self, req: u32, s: usize, ri: usize) {
        let workers = self.m.services[s].workers;
        let rep = &self.svcs[s].replicas[ri];
        if rep.busy < workers {
            self.touch(s as u32, self.now);
            let sv = &mut self.svcs[s];
            sv.busy += 1;
            sv.replicas[ri].busy += 1;
            let r = self.reqs.get_mut(req);
            r.state = ReqState::Running;
            r.replica = ri as u32;
            // Started at once: the nesting this allows is bounded by the depth of the
            // (acyclic) call graph. Workers freed by an answer go through `ready` instead.
            self.start_exec(req);
        } else {
            let priority = self.reqs.get(req).priority;
            match self.svcs[s].replicas[ri].queue.offer(priority, req) {
                Offer::Queued => {
                    self.touch(s as u32, self.now);
                    self.svcs[s].queued += 1;
                    let r = self.reqs.get_mut(req);
                    r.state = ReqState::Queued;
                    r.replica = ri as u32;
                }
                Offer::Shed(victim) => {
                    // One in, one out: the queue length (and its time integral) is unchanged.
                    let r = self.reqs.get_mut(req);
                    r.state = ReqState::Queued;
                    r.replica = ri as u32;
                    self.answer(victim, Err(Failure::new(Cause::Shed, 503)));
                }
                Offer::Rejected(_) => {
                    self.answer(req, Err(Failure::new(Cause::Rejected, 503)));
                }
            }
        }
    }

    /// The replica a caller sends to: among the live ones, or with `health_check` among those
    /// its checks say are healthy (a dead one too, until its checks notice), minus the ones
    /// the caller's `ejector` (or NONE) ejected.
    #[inline(always)]
    pub(super) fn pick_replica(&mut self, s: usize, ejector: u32) -> Option<usize> {
        let balance = self.m.services[s].balance;
        let checked = self.m.services[s].health_check.is_some();
        let sv = &mut self.svcs[s];
        let rng = &mut self.rng_route[s];
        if !checked && none(ejector) {
            return pick_where(sv, balance, rng, |_, r| r.state == RState::Live);
        }
        let now = self.now;
        let ejector = (!none(ejector)).then(|| &self.ejectors[ejector as usize]);
        pick_where(sv, balance, rng, |i, r| {
            known_up(checked, r) && ejector.is_none_or(|e| e.available(i, now))
        })
        // Every replica ejected (possible with `max 100%`): pick among all of them, as the
        // agents do (Envoy's panic mode), rather than failing calls no replica refused.
        .or_else(|| {
            ejector?;
            pick_where(sv, balance, rng, |_, r| known_up(checked, r))
        })
    }

    /// Replicas of `s` callers may send to, before any ejection.
    fn pickable_count(&self, s: usize) -> usize {
        let checked = self.m.services[s].health_check.is_some();
        self.svcs[s]
            .replicas
            .iter()
            .filter(|r| known_up(checked, r))
            .count()
    }

    /// The ejector of the replica serving `caller_req` towards the callee of `pair`.
    fn ejector_for(&mut self, pair: u32, caller_req: u32) -> u32 {
        let replica = self.reqs.get(caller_req).replica;
        let Some(rule) = self
            .m
            .eject_pairs
            .get(pair as usize)
            .and_then(|&(_, callee)| self.m.services[callee as usize].eject)
        else {
            return NONE;
        };
        let next = self.ejectors.len() as u32;
        let slot = *self.ejector_slots.entry((pair, replica)).or_insert(next);
        if slot == next {
            self.ejectors.push(Ejector::new(rule));
        }
        slot
    }

    /// An ejecting caller learns how its attempt on `replica` went.
    fn eject_record(&mut self, ejector: u32, svc: u32, replica: u32, outcome: Outcome) {
        let failed = match outcome {
            Ok(()) => false,
            Err(f) => f.status >= 500 || matches!(f.cause, Cause::Connection | Cause::Timeout),
        };
        let live = self.pickable_count(svc as usize);
        let now = self.now;
        self.ejectors[ejector as usize].record(replica as usize, !failed, now, live);
    }

    /// A `send`: a request to `endpoint` that no one waits for, at `priority`.
    fn send_detached(&mut self, from: u32, endpoint: u32, priority: u8) {
        self.stats.sent[endpoint as usize] += 1;
        let (req, _) = self.reqs.insert(Req::new(
            endpoint,
            Caller::Detached,
            self.now,
            from,
            priority,
            NONE,
        ));
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.reqs.len());
        self.send(req);
    }

    /// The request got a worker: its endpoint body starts.
    pub(super) fn start_exec(&mut self, req: u32) {
        let r = self.reqs.get(req);
        let (ep, svc, priority) = (r.endpoint, self.svc_of(r.endpoint), r.priority);
        let req_gen = self.reqs.generation_of(req);
        if let Some(dist) = self.m.endpoints[ep as usize].leaf_work {
            // The same draw and the same event, at the same point, as a fiber's `work` step:
            // the run is unchanged, without a fiber to make, wake and free.
            let d = self.work_time(dist, svc as usize, ep as usize, req);
            self.reqs.get_mut(req).fiber = NONE;
            if d > 0.0 {
                self.q.push(
                    self.now + d,
                    Event::LeafDone {
                        req,
                        generation: req_gen,
                    },
                );
            } else {
                self.complete_exec(req, Ok(()));
            }
            return;
        }
        let token = self.new_token();
        let (f, _) = self.fibers.insert(Fiber {
            token,
            req,
            req_gen,
            svc,
            endpoint: ep,
            pc: self.m.endpoints[ep as usize].entry,
            parent: NONE,
            pending: 0,
            fail: None,
            call: NONE,
            attempt: 0,
            cur_req: NONE,
            cur_gen: 0,
            trial: false,
            priority,
        });
        self.reqs.get_mut(req).fiber = f;
        self.run_fiber(f);
    }

    /// A `work` step's duration for an execution of `req` on endpoint `ep`: a draw from the
    /// service's work stream, scaled by the cpu faults in force (on its replica too).
    #[inline]
    fn work_time(&mut self, dist: u32, svc: usize, ep: usize, req: u32) -> f64 {
        let mut d =
            self.m.dists[dist as usize].sample(&mut self.rng_work[svc]) * self.ep_faults[ep].cpu;
        if self.ep_faults[ep].sub_cpu {
            let ri = self.reqs.get(req).replica;
            for sf in &self.ep_faults[ep].sub {
                if let SubKind::Cpu(factor) = sf.kind
                    && sf.covers(ri)
                {
                    d *= factor;
                }
            }
        }
        d
    }

    /// Runs a fiber's steps until it has to wait or ends.
    pub(super) fn run_fiber(&mut self, f: u32) {
        loop {
            let fb = self.fibers.get(f);
            let (pc, svc, ep) = (fb.pc, fb.svc as usize, fb.endpoint as usize);
            match self.m.code[pc as usize] {
                Instr::Work { dist } => {
                    let d = self.work_time(dist, svc, ep, fb.req);
                    let token = self.new_token();
                    let fb = self.fibers.get_mut(f);
                    fb.pc += 1;
                    if d > 0.0 {
                        fb.token = token;
                        self.q
                            .push(self.now + d, Event::WorkDone { fiber: f, token });
                        return;
                    }
                }
                Instr::Call { call } => {
                    let fb = self.fibers.get_mut(f);
                    fb.call = call;
                    fb.attempt = 0;
                    self.issue_attempt(f);
                    return;
                }
                Instr::Send { endpoint } => {
                    let fb = self.fibers.get_mut(f);
                    fb.pc += 1;
                    let priority = fb.priority;
                    // The callee may start at once (nesting bounded by the acyclic call
                    // graph); nothing it does touches this fiber.
                    self.send_detached(svc as u32, endpoint, priority);
                }
                Instr::Fail { p, status } => {
                    if p > 0.0 && self.rng_work[svc].random::<f64>() < p {
                        self.fiber_fail(f, Failure::new(Cause::Failed, status));
                        return;
                    }
                    self.fibers.get_mut(f).pc += 1;
                }
                Instr::Choice { first, n } => {
                    let u: f64 = self.rng_work[svc].random();
                    let table = &self.m.choices[first as usize..(first + n) as usize];
                    let target = table
                        .iter()
                        .find(|(cum, _)| u < *cum)
                        .map_or(pc + 1, |&(_, t)| t);
                    self.fibers.get_mut(f).pc = target;
                }
                Instr::Jump { pc } => self.fibers.get_mut(f).pc = pc,
                Instr::Fork { first, n, cont } => {
                    let token = self.new_token();
                    let fb = self.fibers.get_mut(f);
                    fb.pending = n;
                    fb.pc = cont;
                    fb.token = token;
                    fb.fail = None;
                    let (req, req_gen, priority) = (fb.req, fb.req_gen, fb.priority);
                    for i in first..first + n {
                        let child_token = self.new_token();
                        let (c, _) = self.fibers.insert(Fiber {
                            token: child_token,
                            req,
                            req_gen,
                            svc: svc as u32,
                            endpoint: ep as u32,
                            pc: self.m.forks[i as usize],
                            parent: f,
                            pending: 0,
                            fail: None,
                            call: NONE,
                            attempt: 0,
                            cur_req: NONE,
                            cur_gen: 0,
                            trial: false,
                            priority,
                        });
                        self.ready.push(Ready::Run {
                            fiber: c,
                            token: child_token,
                        });
                    }
                    return;
                }
                Instr::End => {
                    self.fiber_done(f, None);
                    return;
                }
            }
        }
    }

    pub(super) fn fiber_fail(&mut self, f: u32, failure: Failure) {
        self.fiber_done(f, Some(failure));
    }

    /// A fiber reached its end (or failed): a root answers its caller, a child reports to
    /// its parallel group.
    fn fiber_done(&mut self, f: u32, failure: Option<Failure>) {
        let fb = self.fibers.get(f);
        let (parent, req) = (fb.parent, fb.req);
        self.free_fiber(f);
        if none(parent) {
            self.complete_exec(req, failure.map_or(Ok(()), Err));
            return;
        }
        let p = self.fibers.get_mut(parent);
        if p.fail.is_none() {
            p.fail = failure;
        }
        p.pending -= 1;
        if p.pending == 0 {
            let token = p.token;
            self.ready.push(Ready::Join {
                fiber: parent,
                token,
            });
        }
    }

    /// The execution ends: its worker goes to the next queued request and the caller gets
    /// the answer.
    pub(super) fn complete_exec(&mut self, req: u32, outcome: Outcome) {
        let r = self.reqs.get(req);
        let (s, ri) = (self.svc_of(r.endpoint), r.replica as usize);
        self.release_worker(s, ri);
        let out = outcome.map_err(|f| match f.cause {
            Cause::Failed => f,
            _ => Failure::new(Cause::Downstream, 500),
        });
        self.answer(req, out);
    }

    pub(super) fn release_worker(&mut self, s: u32, ri: usize) {
        self.touch(s, self.now);
        let workers = self.m.services[s as usize].workers;
        let sv = &mut self.svcs[s as usize];
        sv.busy -= 1;
        let rep = &mut sv.replicas[ri];
        rep.busy -= 1;
        if rep.busy < workers
            && let Some(next) = rep.queue.take()
        {
            rep.busy += 1;
            sv.busy += 1;
            sv.queued -= 1;
            let r = self.reqs.get_mut(next);
            r.state = ReqState::Running;
            let generation = self.reqs.generation_of(next);
            self.ready.push(Ready::Start {
                req: next,
                generation,
            });
        }
        let rep = &sv.replicas[ri];
        if rep.state == RState::Draining && rep.busy == 0 && rep.queue.is_empty() {
            self.retire(s, ri);
        }
    }

    /// The answer (or failure) of an attempt reaches its caller, now.
    pub(super) fn answer(&mut self, req: u32, outcome: Outcome) {
        let r = self.reqs.get(req);
        let (caller, endpoint, sent) = (r.caller(), r.endpoint, r.sent);
        let latency = self.now - sent;
        let (ejector, svc, replica) = (r.ejector, self.svc_of(r.endpoint), r.replica);
        self.reqs.remove(req);
        match caller {
            Caller::Silent => {}
            Caller::Detached => self.record(endpoint, latency, outcome),
            Caller::Fiber { fiber, token } => {
                // Recorded even when the caller died meanwhile: the attempt still ended here.
                self.record(endpoint, latency, outcome);
                if !none(ejector) && !none(replica) {
                    self.eject_record(ejector, svc, replica, outcome);
                }
                if self.fiber_waiting(fiber, token) {
                    self.call_result(fiber, outcome);
                }
            }
            Caller::Client { wl, user } => {
                self.record(endpoint, latency, outcome);
                self.workload_done(wl, user, sent, outcome);
            }
        }
    }

    /// Sends the next attempt of the fiber's current call.
    pub(super) fn issue_attempt(&mut self, f: u32) {
        let fb = self.fibers.get(f);
        let (call, caller_svc, caller_req) = (fb.call, fb.svc, fb.req);
        let c = &self.m.calls[call as usize];
        let (endpoint, timeout, breaker) = (c.endpoint, c.timeout, c.breaker);
        let priority = c.priority.unwrap_or(fb.priority);
        let pair = c.ejector;
        let ejector = if none(pair) {
            NONE
        } else {
            self.ejector_for(pair, caller_req)
        };
        let mut trial = false;
        if !none(breaker) {
            match self.breaker_admit(breaker) {
                Some(admission) => trial = admission == Admission::Trial,
                None => {
                    self.stats.sent[endpoint as usize] += 1;
                    let out = Err(Failure::new(Cause::CircuitOpen, 503));
                    self.record(endpoint, 0.0, out);
                    let fb = self.fibers.get_mut(f);
                    fb.attempt += 1;
                    fb.trial = false;
                    self.call_result(f, out);
                    return;
                }
            }
        }
        let token = self.new_token();
        self.stats.sent[endpoint as usize] += 1;
        let (req, generation) = self.reqs.insert(Req::new(
            endpoint,
            Caller::Fiber { fiber: f, token },
            self.now,
            caller_svc,
            priority,
            ejector,
        ));
        let fb = self.fibers.get_mut(f);
        fb.token = token;
        fb.attempt += 1;
        fb.cur_req = req;
        fb.cur_gen = generation;
        fb.trial = trial;
        if let Some(t) = timeout {
            self.set_timer(call, t, f, token);
        }
        self.send(req);
    }

    pub(super) fn call_timeout(&mut self, f: u32, token: Token) {
        if !self.fiber_waiting(f, token) {
            return;
        }
        let fb = self.fibers.get(f);
        let (req, generation) = (fb.cur_req, fb.cur_gen);
        if self.reqs.is_current(req, generation) {
            let r = self.reqs.get_mut(req);
            let (endpoint, latency, lost) =
                (r.endpoint, self.now - r.sent, r.state == ReqState::Lost);
            let (ejector, replica) = (r.ejector, r.replica);
            r.set_caller(Caller::Silent);
            let svc = self.svc_of(endpoint);
            if lost {
                self.reqs.remove(req);
            }
            let timeout = Err(Failure::new(Cause::Timeout, 504));
            self.record(endpoint, latency, timeout);
            if !none(ejector) && !none(replica) {
                self.eject_record(ejector, svc, replica, timeout);
            }
        }
        self.call_result(f, Err(Failure::new(Cause::Timeout, 504)));
    }

    /// The current attempt of the fiber's call ended with `outcome`: go on, retry, or fail.
    fn call_result(&mut self, f: u32, outcome: Outcome) {
        let token = self.new_token();
        let fb = self.fibers.get_mut(f);
        fb.token = token;
        let (call, attempt, trial, svc) = (fb.call, fb.attempt, fb.trial, fb.svc);
        let c = &self.m.calls[call as usize];
        if !none(c.breaker)
            && !matches!(
                outcome,
                Err(Failure {
                    cause: Cause::CircuitOpen,
                    ..
                })
            )
        {
            self.breaker_record(c.breaker, outcome.is_err(), trial);
        }
        let c = &self.m.calls[call as usize];
        match outcome {
            Ok(()) => {
                // Continued at once: nesting is bounded by the call graph's depth and the
                // body's length. Failures and retries go through `ready`.
                self.fibers.get_mut(f).pc += 1;
                self.run_fiber(f);
            }
            Err(failure) if failure.retryable() && attempt <= c.retries => {
                let d = chaos_plan::backoff_s(
                    &c.backoff,
                    c.jitter,
                    attempt,
                    &mut self.rng_jitter[svc as usize],
                );
                if d > 0.0 {
                    self.q
                        .push(self.now + d, Event::BackoffDone { fiber: f, token });
                } else {
                    self.ready.push(Ready::Attempt { fiber: f, token });
                }
            }
            Err(_) if c.continue_on_error => {
                self.fibers.get_mut(f).pc += 1;
                self.ready.push(Ready::Run { fiber: f, token });
            }
            Err(_) => {
                let failure = Failure::new(Cause::Downstream, 500);
                self.ready.push(Ready::Fail {
                    fiber: f,
                    token,
                    failure,
                });
            }
        }
    }

    /// Asks breaker `b` whether an attempt may go out now (`None`: circuit open).
    fn breaker_admit(&mut self, b: u32) -> Option<Admission> {
        let before = self.breakers[b as usize].state();
        let admission = self.breakers[b as usize].admit(self.now);
        if self.opts.trace {
            self.trace_breaker(b, before, TraceBreaker::Admit(admission));
        }
        admission
    }

    fn breaker_record(&mut self, b: u32, failed: bool, trial: bool) {
        let admission = if trial {
            Admission::Trial
        } else {
            Admission::Closed
        };
        let before = self.breakers[b as usize].state();
        self.breakers[b as usize].record(self.now, admission, failed);
        if self.opts.trace {
            self.trace_breaker(b, before, TraceBreaker::Record(admission, failed));
        }
    }

    fn trace_breaker(&mut self, b: u32, before: BreakerState, what: TraceBreaker) {
        let (caller, callee) = self.m.breaker_pairs[b as usize];
        let at_s = self.now;
        let after = self.breakers[b as usize].state();
        let t = &mut self.stats.trace;
        t.push(match what {
            TraceBreaker::Admit(admission) => TraceEvent::BreakerAdmit {
                caller,
                callee,
                at_s,
                admission,
            },
            TraceBreaker::Record(admission, failed) => TraceEvent::BreakerRecord {
                caller,
                callee,
                at_s,
                admission,
                failed,
            },
        });
        if after != before {
            t.push(TraceEvent::BreakerState {
                caller,
                callee,
                at_s,
                state: after,
            });
        }
    }
}

/// What a traced breaker was asked.
enum TraceBreaker {
    Admit(Option<Admission>),
    Record(Admission, bool),
}

/// Whether callers may send to `r`: live, or with health checks (`checked`) healthy to them
/// (a killed replica stays picked until its checks fail).
#[inline]
fn known_up(checked: bool, r: &Replica) -> bool {
    if checked {
        r.health.is_healthy() && matches!(r.state, RState::Live | RState::Down)
    } else {
        r.state == RState::Live
    }
}

/// The service's balancer over the replicas `ok` accepts (`ok(slot, replica)`).
#[inline(always)]
fn pick_where(
    sv: &mut SvcState,
    balance: Balance,
    rng: &mut Rng,
    ok: impl Fn(usize, &Replica) -> bool,
) -> Option<usize> {
    let n = sv.replicas.len();
    if n == 1 {
        return ok(0, &sv.replicas[0]).then_some(0);
    }
    match balance {
        Balance::RoundRobin => {
            let i = (0..n)
                .map(|k| (sv.rr + k) % n)
                .find(|&i| ok(i, &sv.replicas[i]))?;
            sv.rr = (i + 1) % n;
            Some(i)
        }
        Balance::Random => {
            let live = sv
                .replicas
                .iter()
                .enumerate()
                .filter(|&(i, r)| ok(i, r))
                .count();
            if live == 0 {
                return None;
            }
            let k = rng.random_range(0..live);
            sv.replicas
                .iter()
                .enumerate()
                .filter(|&(i, r)| ok(i, r))
                .nth(k)
                .map(|(i, _)| i)
        }
        Balance::LeastRequest => {
            let mut best: Option<(usize, usize)> = None;
            for k in 0..n {
                let i = (sv.rr + k) % n;
                let r = &sv.replicas[i];
                if !ok(i, r) {
                    continue;
                }
                let load = r.busy as usize + r.queue.len() as usize;
                if best.is_none_or(|(_, l)| load < l) {
                    best = Some((i, load));
                }
            }
            let (i, _) = best?;
            sv.rr = (i + 1) % n;
            Some(i)
        }
    }
}
