//! Health checks (`health_check`): one event per replica every `every`, from the moment the
//! replica started. A check is answered like a request from outside the topology: it goes
//! through the replica's inbound faults on the whole service (latency counts toward the
//! check's timeout, loss makes it time out, injected errors fail it), a dead replica refuses
//! it at once, and partitions (between services) do not cut it, as a kubelet's readiness
//! probe is not cut by a NetworkPolicy. The verdict goes to the replica's
//! [`chaos_plan::HealthTracker`], which callers read when they pick a replica.

use rand::Rng as _;

use super::{RState, Sim};
use crate::engine::Event;
use crate::model::{ActionModel, Targets};

impl Sim<'_> {
    /// Starts the checks of replica `ri`'s current start (dropping those of an earlier one).
    pub(super) fn schedule_checks(&mut self, s: u32, ri: usize) {
        let Some(h) = self.m.services[s as usize].health_check else {
            return;
        };
        let rep = &mut self.svcs[s as usize].replicas[ri];
        rep.check_gen = rep.check_gen.wrapping_add(1);
        let generation = rep.check_gen;
        let at = self.now + h.every_s;
        if at < self.horizon {
            self.q.push(
                at,
                Event::HealthCheck {
                    svc: s,
                    replica: ri as u32,
                    generation,
                },
            );
        }
    }

    pub(super) fn health_check(&mut self, s: u32, ri: u32, generation: u32) {
        let Some(h) = self.m.services[s as usize].health_check else {
            return;
        };
        let rep = &self.svcs[s as usize].replicas[ri as usize];
        if rep.check_gen != generation {
            return;
        }
        match rep.state {
            // Not started, or removed: nothing to check until it starts again.
            RState::Starting | RState::Gone => return,
            // Dead and already out: its restart starts the checks again.
            RState::Down if !rep.health.is_healthy() => return,
            _ => {}
        }
        let at = self.now + h.every_s;
        if at < self.horizon {
            self.q.push(
                at,
                Event::HealthCheck {
                    svc: s,
                    replica: ri,
                    generation,
                },
            );
        }
        let (passed, after) = self.check_outcome(s, ri, h.timeout_s);
        if after > 0.0 {
            let (svc, replica) = (s, ri);
            let verdict = if passed {
                Event::HealthPassed {
                    svc,
                    replica,
                    generation,
                }
            } else {
                Event::HealthFailed {
                    svc,
                    replica,
                    generation,
                }
            };
            self.q.push(self.now + after, verdict);
        } else {
            self.health_verdict(s, ri, generation, passed);
        }
    }

    /// Whether a check sent now passes, and how long its answer (or its timeout) takes.
    fn check_outcome(&mut self, s: u32, ri: u32, timeout: f64) -> (bool, f64) {
        if self.svcs[s as usize].replicas[ri as usize].state == RState::Down {
            return (false, 0.0);
        }
        let hits = |targets: &Targets, picks: &Option<Vec<u32>>| {
            targets.service == s
                && targets.whole_service
                && picks.as_ref().is_none_or(|p| p.binary_search(&ri).is_ok())
        };
        let rng = &mut self.rng_check[s as usize];
        let mut delay = 0.0;
        let mut errored = false;
        for active in &self.active {
            let fault = &self.m.faults[active.fault as usize];
            for (a, picks) in fault.actions.iter().zip(&active.picks) {
                match a {
                    ActionModel::Loss { targets, ratio }
                        if hits(targets, picks) && rng.random::<f64>() < *ratio =>
                    {
                        return (false, timeout);
                    }
                    ActionModel::Latency { targets, delay: d } if hits(targets, picks) => {
                        delay += d.sample(rng);
                    }
                    // An injected 5xx answer fails the check (docs/language.md).
                    ActionModel::Errors {
                        targets,
                        ratio,
                        status,
                    } if *status >= 500 && hits(targets, picks) => {
                        errored |= rng.random::<f64>() < *ratio;
                    }
                    _ => {}
                }
            }
        }
        if delay > timeout {
            return (false, timeout);
        }
        (!errored, delay)
    }

    pub(super) fn health_verdict(&mut self, s: u32, ri: u32, generation: u32, passed: bool) {
        let Some(h) = self.m.services[s as usize].health_check else {
            return;
        };
        let rep = &mut self.svcs[s as usize].replicas[ri as usize];
        if rep.check_gen == generation {
            rep.health.record(passed, &h);
        }
    }
}
