//! Faults on schedule (combined while they overlap), `on N of S` picks per occurrence
//! ([`chaos_plan::pick_replicas`]), replica kills and restarts, memory growth up to its
//! limit, and the autoscaler.

use chaos_plan::conduct::{EdgeKind, fault_edges};
use chaos_plan::{Decision, HealthTracker, Replicas};
use chaos_report::Cause;
use rand::Rng as _;

use super::{ActiveFault, Failure, MemFault, RState, Replica, ReqState, Sim, SubFault, SubKind};
use crate::engine::Event;
use crate::model::ActionModel;

impl Sim<'_> {
    /// Queues every fault start and end in the order every mode carries them out at one
    /// instant ([`chaos_plan::conduct::fault_edges`]: ends before starts, each in declaration
    /// order); the event queue keeps insertion order among equal instants.
    pub(super) fn schedule_faults(&mut self) {
        let edges = fault_edges(self.m.faults.iter().map(|f| f.occurrences.iter().copied()));
        for e in edges {
            let (fault, occ) = (e.fault as u32, e.occurrence as u32);
            let event = match e.kind {
                EdgeKind::Start => Event::FaultStart { fault, occ },
                EdgeKind::End => Event::FaultEnd { fault, occ },
            };
            self.q.push(e.at_s, event);
        }
    }

    /// Traces a fault decision as the conductor of real runs names it.
    fn note_fault(&mut self, decision: Decision) {
        if self.opts.trace {
            self.stats.trace.push(crate::TraceEvent::Fault {
                at_s: self.now,
                decision,
            });
        }
    }

    pub(super) fn fault_start(&mut self, fault: u32, occ: u32) {
        if self.faults_off {
            return;
        }
        let (s, e) = self.m.faults[fault as usize].occurrences[occ as usize];
        for a in 0..self.m.faults[fault as usize].actions.len() {
            if let ActionModel::Kill { count, services } = &self.m.faults[fault as usize].actions[a]
            {
                let count = *count;
                // The conductor's seeded pick, so that one seed kills the same service of a
                // `random(a, b)` kill in every mode; the replicas stay this mode's own pick.
                let fm = &self.m.faults[fault as usize];
                let svc = services[chaos_plan::conduct::kill_candidate(
                    self.seed,
                    &fm.name,
                    occ as usize,
                    a,
                    services.len(),
                )];
                self.note_fault(Decision::Kill {
                    fault: fault as usize,
                    occurrence: occ as usize,
                    action: a,
                    service: svc as usize,
                    count,
                });
                self.kill_some(fault, svc, count);
            }
        }
        if e > s {
            self.note_fault(Decision::StartFault {
                fault: fault as usize,
                occurrence: occ as usize,
            });
            let fm = &self.m.faults[fault as usize];
            let picks = (0..fm.actions.len())
                .map(|a| {
                    let (svc, subset) = fm.actions[a].subset()?;
                    let candidates = self.replica_count(svc);
                    Some(chaos_plan::pick_replicas(
                        self.seed,
                        &fm.name,
                        occ as usize,
                        a,
                        candidates,
                        subset,
                    ))
                })
                .collect();
            self.active.push(ActiveFault { fault, occ, picks });
            self.recompute_faults();
        }
    }

    /// The service's replica count at this instant, over which `on N of S` picks slots:
    /// the fixed count, or the autoscaled count (serving, starting or down).
    fn replica_count(&self, s: u32) -> u32 {
        match self.m.services[s as usize].replicas {
            Replicas::Fixed { count } => count,
            Replicas::Autoscale { .. } => self.svcs[s as usize]
                .replicas
                .iter()
                .filter(|r| matches!(r.state, RState::Live | RState::Starting | RState::Down))
                .count() as u32,
        }
    }

    pub(super) fn fault_end(&mut self, fault: u32, occ: u32) {
        if let Some(i) = self
            .active
            .iter()
            .position(|a| (a.fault, a.occ) == (fault, occ))
        {
            self.active.remove(i);
            self.note_fault(Decision::RevertFault {
                fault: fault as usize,
                occurrence: occ as usize,
            });
            self.recompute_faults();
        }
    }

    /// Ends every active fault now and ignores those still to come (after an abort).
    pub(super) fn revert_faults(&mut self) {
        self.faults_off = true;
        let mut active: Vec<(u32, u32)> = self.active.iter().map(|a| (a.fault, a.occ)).collect();
        // Declaration order, as the conductor reverts them.
        active.sort_unstable();
        for (fault, occurrence) in active {
            self.note_fault(Decision::RevertFault {
                fault: fault as usize,
                occurrence: occurrence as usize,
            });
        }
        self.active.clear();
        self.recompute_faults();
    }

    /// Rebuilds the combined effect of the active faults.
    fn recompute_faults(&mut self) {
        for f in &mut self.ep_faults {
            f.cpu = 1.0;
            f.latency.clear();
            f.errors.clear();
            f.loss.clear();
            f.sub.clear();
        }
        self.cut.iter_mut().for_each(|c| *c = 0);
        let ns = self.svcs.len();
        let mut mem: Vec<Vec<MemFault>> = vec![Vec::new(); ns];
        for active in &self.active {
            for (ai, a) in self.m.faults[active.fault as usize]
                .actions
                .iter()
                .enumerate()
            {
                if let Some(slots) = &active.picks[ai] {
                    // `on N of S`: only the picked replicas.
                    let (targets, kind) = match a {
                        ActionModel::Latency { targets, delay } => {
                            (targets, SubKind::Latency(*delay))
                        }
                        ActionModel::Errors {
                            targets,
                            ratio,
                            status,
                        } => (targets, SubKind::Errors(*ratio, *status)),
                        ActionModel::Loss { targets, ratio } => (targets, SubKind::Loss(*ratio)),
                        ActionModel::Cpu { targets, factor } => (targets, SubKind::Cpu(*factor)),
                        ActionModel::Memory {
                            service,
                            rate,
                            limit,
                            ..
                        } => {
                            mem[*service as usize].push((*rate, *limit, Some(slots.clone())));
                            continue;
                        }
                        ActionModel::Kill { .. } | ActionModel::Partition { .. } => continue,
                    };
                    for &e in &targets.endpoints {
                        self.ep_faults[e as usize].sub.push(SubFault {
                            slots: slots.clone(),
                            kind: kind.clone(),
                        });
                    }
                    continue;
                }
                match a {
                    ActionModel::Latency { targets, delay } => {
                        for &e in &targets.endpoints {
                            self.ep_faults[e as usize].latency.push(*delay);
                        }
                    }
                    ActionModel::Errors {
                        targets,
                        ratio,
                        status,
                    } => {
                        for &e in &targets.endpoints {
                            self.ep_faults[e as usize].errors.push((*ratio, *status));
                        }
                    }
                    ActionModel::Loss { targets, ratio } => {
                        for &e in &targets.endpoints {
                            self.ep_faults[e as usize].loss.push(*ratio);
                        }
                    }
                    ActionModel::Cpu { targets, factor } => {
                        for &e in &targets.endpoints {
                            self.ep_faults[e as usize].cpu *= factor;
                        }
                    }
                    ActionModel::Partition { a, b } => {
                        for &x in a {
                            for &y in b {
                                if x != y {
                                    self.cut[x as usize * ns + y as usize] += 1;
                                    self.cut[y as usize * ns + x as usize] += 1;
                                }
                            }
                        }
                    }
                    ActionModel::Memory {
                        service,
                        rate,
                        limit,
                        ..
                    } => {
                        mem[*service as usize].push((*rate, *limit, None));
                    }
                    ActionModel::Kill { .. } => {}
                }
            }
        }
        for f in &mut self.ep_faults {
            f.any_wire = !f.latency.is_empty() || !f.loss.is_empty();
            let sub = |k: fn(&SubKind) -> bool| f.sub.iter().any(|sf| k(&sf.kind));
            f.sub_wire = sub(|k| matches!(k, SubKind::Latency(_) | SubKind::Loss(_)));
            f.sub_errors = sub(|k| matches!(k, SubKind::Errors(..)));
            f.sub_cpu = sub(|k| matches!(k, SubKind::Cpu(_)));
        }
        for (s, faults) in mem.into_iter().enumerate() {
            self.svcs[s].mem_faults = faults;
            for ri in 0..self.svcs[s].replicas.len() {
                let (rate, limit) = self.svcs[s].mem_of(ri);
                let rep = &self.svcs[s].replicas[ri];
                if rep.running() && (rep.mem_rate != rate || rep.mem_limit != limit) {
                    self.set_memory(s as u32, ri, rate, limit);
                }
            }
        }
    }

    /// Memory grows at a new rate from now on a running replica: bring its level up to date
    /// and schedule when it reaches the limit.
    fn set_memory(&mut self, s: u32, ri: usize, rate: f64, limit: f64) {
        let now = self.now;
        let rep = &mut self.svcs[s as usize].replicas[ri];
        rep.mem += rep.mem_rate * (now - rep.mem_t);
        rep.mem_t = now;
        rep.mem_rate = rate;
        rep.mem_limit = limit;
        rep.mem_gen = rep.mem_gen.wrapping_add(1);
        if rate > 0.0 {
            let at = now + ((limit - rep.mem).max(0.0) / rate);
            let generation = rep.mem_gen;
            self.q.push(
                at,
                Event::MemoryFull {
                    svc: s,
                    replica: ri as u32,
                    generation,
                },
            );
        }
    }

    pub(super) fn memory_full(&mut self, s: u32, ri: u32, generation: u32) {
        let rep = &self.svcs[s as usize].replicas[ri as usize];
        if rep.mem_gen == generation && rep.running() {
            self.kill_replica(s, ri as usize);
        }
    }

    /// Kills `count` serving replicas of `s`, picked at random.
    fn kill_some(&mut self, fault: u32, s: u32, count: u32) {
        let mut live: Vec<usize> = (0..self.svcs[s as usize].replicas.len())
            .filter(|&i| self.svcs[s as usize].replicas[i].state == RState::Live)
            .collect();
        let rng = &mut self.rng_fault[fault as usize];
        let n = (count as usize).min(live.len());
        for k in 0..n {
            let j = rng.random_range(k..live.len());
            live.swap(k, j);
        }
        for &ri in &live[..n] {
            self.kill_replica(s, ri);
        }
    }

    /// The replica dies: what it was serving or queueing fails with `killed`; it serves
    /// again after the service's restart time (unless autoscaling was removing it).
    pub(super) fn kill_replica(&mut self, s: u32, ri: usize) {
        let now = self.now;
        if !self.svcs[s as usize].replicas[ri].running() {
            return;
        }
        self.touch(s, now);
        let workers = self.m.services[s as usize].workers;
        let restart = self.m.services[s as usize].restart_s;
        let sv = &mut self.svcs[s as usize];
        let rep = &mut sv.replicas[ri];
        let removing = rep.state == RState::Draining;
        rep.state = if removing { RState::Gone } else { RState::Down };
        rep.generation = rep.generation.wrapping_add(1);
        rep.mem_gen = rep.mem_gen.wrapping_add(1);
        let generation = rep.generation;
        let queued: Vec<u32> = rep.queue.drain().collect();
        sv.queued -= queued.len() as u32;
        sv.busy -= rep.busy;
        rep.busy = 0;
        sv.live_workers -= workers;
        sv.running_replicas -= 1;
        let killed = Err(Failure::new(Cause::Killed, 503));
        let running: Vec<u32> = self
            .reqs
            .live_indices()
            .filter(|&r| {
                let q = self.reqs.get(r);
                q.state == ReqState::Running
                    && self.svc_of(q.endpoint) == s
                    && q.replica as usize == ri
            })
            .collect();
        for r in running {
            let f = self.reqs.get(r).fiber;
            // A leaf execution has no fiber.
            if !super::none(f) && self.fibers.get(f).req == r {
                self.free_fiber(f);
            }
            self.answer(r, killed);
        }
        for r in queued {
            self.answer(r, killed);
        }
        if !removing {
            // Never at once: a replica whose memory limit is reached as it starts would
            // otherwise die and restart endlessly at one instant.
            self.q.push(
                now + chaos_plan::restart_after_s(restart),
                Event::ReplicaUp {
                    svc: s,
                    replica: ri as u32,
                    generation,
                },
            );
        }
    }

    pub(super) fn replica_up(&mut self, s: u32, ri: u32, generation: u32) {
        let now = self.now;
        let rep = &self.svcs[s as usize].replicas[ri as usize];
        if rep.generation != generation || !matches!(rep.state, RState::Down | RState::Starting) {
            return;
        }
        self.touch(s, now);
        let workers = self.m.services[s as usize].workers;
        let sv = &mut self.svcs[s as usize];
        let (rate, limit) = sv.mem_of(ri as usize);
        sv.live_workers += workers;
        sv.running_replicas += 1;
        sv.win_max = sv.win_max.max(sv.running_replicas);
        let rep = &mut sv.replicas[ri as usize];
        rep.state = RState::Live;
        rep.mem = 0.0;
        rep.mem_t = now;
        rep.mem_rate = rate;
        rep.mem_limit = limit;
        rep.mem_gen = rep.mem_gen.wrapping_add(1);
        // Started during the run: callers wait for `healthy` passed checks.
        rep.health = HealthTracker::joining();
        if rate > 0.0 {
            let generation = rep.mem_gen;
            self.q.push(
                now + limit.max(0.0) / rate,
                Event::MemoryFull {
                    svc: s,
                    replica: ri,
                    generation,
                },
            );
        }
        self.schedule_checks(s, ri as usize);
    }

    /// A removed replica has finished its last request.
    pub(super) fn retire(&mut self, s: u32, ri: usize) {
        self.touch(s, self.now);
        let workers = self.m.services[s as usize].workers;
        let sv = &mut self.svcs[s as usize];
        let rep = &mut sv.replicas[ri];
        if rep.state == RState::Draining {
            rep.state = RState::Gone;
            rep.generation = rep.generation.wrapping_add(1);
            sv.live_workers -= workers;
            sv.running_replicas -= 1;
        }
    }

    /// The scale rule ([`chaos_plan::ScaleRule::desired`]) over the replicas serving, starting or
    /// down. Replicas still draining after a scale-down count toward `max`: a scale-up takes
    /// them back first, and never has more than `max` replicas in any state but gone.
    pub(super) fn autoscale(&mut self, s: u32) {
        let now = self.now;
        let Replicas::Autoscale {
            min,
            max,
            rule,
            delay_s,
            interval_s,
        } = self.m.services[s as usize].replicas
        else {
            return;
        };
        if now + interval_s < self.horizon {
            self.q.push(now + interval_s, Event::Autoscale { svc: s });
        }
        self.touch(s, now);
        let model = &self.m.services[s as usize];
        let sv = &mut self.svcs[s as usize];
        let db = sv.busy_area - sv.as_busy0;
        let da = sv.avail_area - sv.as_avail0;
        sv.as_busy0 = sv.busy_area;
        sv.as_avail0 = sv.avail_area;
        if da <= 0.0 {
            return;
        }
        let util = db / da;
        let counted =
            |r: &Replica| matches!(r.state, RState::Live | RState::Starting | RState::Down);
        let current = sv.replicas.iter().filter(|r| counted(r)).count() as u32;
        let draining = sv
            .replicas
            .iter()
            .filter(|r| r.state == RState::Draining)
            .count() as u32;
        let desired = rule.desired(current, util, min, max);
        if desired > current {
            // A replica removed earlier that still finishes its requests is running and holds
            // its place under `max`: taking it back is the cheapest new capacity, and starting
            // more than `max - current - draining` would run more than `max` at once.
            let mut add = desired - current;
            for ri in (0..sv.replicas.len()).rev() {
                if add == 0 {
                    break;
                }
                if sv.replicas[ri].state == RState::Draining {
                    sv.replicas[ri].state = RState::Live;
                    add -= 1;
                }
            }
            // Taking a draining replica back leaves the places in use as they were.
            let room = max.saturating_sub(current + draining);
            for _ in 0..add.min(room) {
                let sv = &mut self.svcs[s as usize];
                let ri = match sv.replicas.iter().position(|r| r.state == RState::Gone) {
                    Some(i) => i,
                    None => {
                        sv.replicas.push(Replica::new(RState::Gone, model));
                        sv.replicas.len() - 1
                    }
                };
                let rep = &mut sv.replicas[ri];
                rep.state = RState::Starting;
                rep.generation = rep.generation.wrapping_add(1);
                let generation = rep.generation;
                if delay_s > 0.0 {
                    self.q.push(
                        now + delay_s,
                        Event::ReplicaUp {
                            svc: s,
                            replica: ri as u32,
                            generation,
                        },
                    );
                } else {
                    self.replica_up(s, ri as u32, generation);
                }
            }
        } else if desired < current {
            let mut remove = current - desired;
            // Cheapest first: replicas not started yet, then dead ones, then the newest live.
            for wanted in [RState::Starting, RState::Down, RState::Live] {
                for ri in (0..self.svcs[s as usize].replicas.len()).rev() {
                    if remove == 0 {
                        break;
                    }
                    let rep = &mut self.svcs[s as usize].replicas[ri];
                    if rep.state != wanted {
                        continue;
                    }
                    remove -= 1;
                    if wanted == RState::Live {
                        rep.state = RState::Draining;
                        if rep.busy == 0 && rep.queue.is_empty() {
                            self.retire(s, ri);
                        }
                    } else {
                        rep.state = RState::Gone;
                        rep.generation = rep.generation.wrapping_add(1);
                    }
                }
            }
        }
    }
}
