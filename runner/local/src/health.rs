//! `health_check` in a local run: the runner checks each replica of a service that has one,
//! as a kubelet's readiness probe would, and callers send only to the replicas whose checks
//! pass. The rule (streaks of passed and failed checks) is `chaos_plan::HealthTracker`; this
//! module only times the checks and carries their results.
//!
//! A check is `GET /_chaos/check` on the agent, which answers through the replica's inbound
//! faults: injected latency counts toward the check's timeout, loss makes it time out,
//! injected errors fail it, and a dead agent fails it (connection refused). Partitions are
//! between services and do not cut checks. Replica r is checked every `every` from the
//! moment it started (time 0 for the replicas up at the start, which start healthy; the
//! (re)start for the others, which join after `healthy` passed checks).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chaos_plan::{HealthCheck, HealthTracker, Plan};
use tokio::sync::mpsc;

/// One check's result, for the runner's loop.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    pub slot: usize,
    /// Which start of the slot's replica the check was for (results of an older one are stale).
    pub generation: u64,
    pub passed: bool,
}

struct SlotHealth {
    rule: HealthCheck,
    tracker: HealthTracker,
    generation: u64,
    /// Taken in by its callers at least once since it started (after `delay` for an
    /// autoscaled one); a killed replica stays joined until its restart.
    joined: bool,
    checker: tokio::task::JoinHandle<()>,
}

impl Drop for SlotHealth {
    fn drop(&mut self) {
        self.checker.abort();
    }
}

/// The health of every checked replica slot of a run.
pub struct Health {
    rules: BTreeMap<String, HealthCheck>,
    slots: BTreeMap<usize, SlotHealth>,
    generation: u64,
    tx: mpsc::UnboundedSender<Checked>,
    client: reqwest::Client,
}

impl Health {
    pub fn new(plan: &Plan, tx: mpsc::UnboundedSender<Checked>) -> Health {
        Health {
            rules: plan
                .services
                .iter()
                .filter_map(|s| s.health_check.map(|h| (s.name.clone(), h)))
                .collect(),
            slots: BTreeMap::new(),
            generation: 0,
            tx,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap_or_default(),
        }
    }

    /// Whether callers of `service` learn its replicas from checks (else: at once).
    pub fn checks(&self, service: &str) -> bool {
        self.rules.contains_key(service)
    }

    /// Starts checking the replica that started in `slot` at `started` (replacing an earlier
    /// replica's checks). `initial`: up at the start of the run, so healthy from the start.
    pub fn started(
        &mut self,
        slot: usize,
        service: &str,
        url: &str,
        started: Instant,
        initial: bool,
    ) {
        let Some(rule) = self.rules.get(service).copied() else {
            return;
        };
        self.generation += 1;
        let generation = self.generation;
        let checker = tokio::spawn(check_every(
            self.client.clone(),
            format!("{url}/_chaos/check"),
            rule,
            started,
            slot,
            generation,
            self.tx.clone(),
        ));
        self.slots.insert(
            slot,
            SlotHealth {
                rule,
                tracker: if initial {
                    HealthTracker::started_healthy()
                } else {
                    HealthTracker::joining()
                },
                generation,
                joined: initial,
                checker,
            },
        );
    }

    /// The replica in `slot` was taken in by its callers (ready, and past any `delay`).
    pub fn joined(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(&slot) {
            s.joined = true;
        }
    }

    /// The replica in `slot` was taken out on purpose (scaled in): no more checks.
    pub fn removed(&mut self, slot: usize) {
        self.slots.remove(&slot);
    }

    /// Records a check; returns true when the replica's health flipped (its callers' sets
    /// must be pushed again).
    pub fn record(&mut self, c: Checked) -> bool {
        let Some(s) = self.slots.get_mut(&c.slot) else {
            return false;
        };
        if s.generation != c.generation {
            return false;
        }
        s.tracker.record(c.passed, &s.rule).is_some()
    }

    /// Whether callers may send to the replica in `slot` of a checked service.
    pub fn routable(&self, slot: usize) -> bool {
        self.slots
            .get(&slot)
            .is_some_and(|s| s.joined && s.tracker.is_healthy())
    }
}

/// Checks `url` every `rule.every_s` from `started`, each check on its own task so a slow
/// one does not delay the next; results go to the runner's loop.
async fn check_every(
    client: reqwest::Client,
    url: String,
    rule: HealthCheck,
    started: Instant,
    slot: usize,
    generation: u64,
    tx: mpsc::UnboundedSender<Checked>,
) {
    let every = Duration::from_secs_f64(rule.every_s.max(0.001));
    let timeout = Duration::from_secs_f64(rule.timeout_s.max(0.0));
    let mut at = started + every;
    loop {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        let (client, url, results) = (client.clone(), url.clone(), tx.clone());
        tokio::spawn(async move {
            let passed = client
                .get(&url)
                .timeout(timeout)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            let _ = results.send(Checked {
                slot,
                generation,
                passed,
            });
        });
        if tx.is_closed() {
            return;
        }
        // A runner that fell behind skips the checks it missed rather than bunching them.
        let now = Instant::now();
        at += every;
        while at <= now {
            at += every;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_plan::*;
    use chaos_test_support::plans;

    /// `api`, checked, and `db`, not: two replicas each.
    fn plan() -> Plan {
        let svc = |name: &str, health_check| Service {
            replicas: Replicas::Fixed { count: 2 },
            health_check,
            ..plans::service(name, vec![])
        };
        plans::plan(vec![
            svc(
                "api",
                Some(HealthCheck {
                    every_s: 60.0,
                    timeout_s: 0.1,
                    unhealthy: 2,
                    healthy: 3,
                }),
            ),
            svc("db", None),
        ])
    }

    fn check(slot: usize, generation: u64, passed: bool) -> Checked {
        Checked {
            slot,
            generation,
            passed,
        }
    }

    #[tokio::test]
    async fn streaks_flip_a_replica_and_stale_results_are_ignored() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let mut h = Health::new(&plan(), tx);
        assert!(h.checks("api") && !h.checks("db"));
        let url = "http://127.0.0.1:9";
        h.started(0, "api", url, Instant::now(), true);
        h.started(7, "db", url, Instant::now(), true);
        assert!(h.routable(0), "up at time 0: healthy at once");
        assert!(!h.routable(7), "an unchecked service is not tracked here");
        assert!(!h.record(check(0, 1, false)));
        assert!(h.record(check(0, 1, false)), "two failures take it out");
        assert!(!h.routable(0));
        // It restarts: a new generation, joining; results of the old replica are stale.
        h.started(0, "api", url, Instant::now(), false);
        assert!(!h.record(check(0, 1, true)));
        assert!(!h.record(check(0, 2, true)));
        assert!(!h.record(check(0, 2, true)));
        assert!(h.record(check(0, 2, true)), "three passes put it back");
        assert!(!h.routable(0), "healthy, but not taken in before it joined");
        h.joined(0);
        assert!(h.routable(0));
        h.removed(0);
        assert!(!h.routable(0) && !h.record(check(0, 2, false)));
    }
}
