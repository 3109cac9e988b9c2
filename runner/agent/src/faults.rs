//! Faults installed in one agent through the control API, and what they mean for a request.
//!
//! Overlapping faults combine: wire delays add up, cpu factors multiply, error and loss
//! ratios apply one after the other.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chaos_plan::{Action, Dist, Target};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::dist;

/// Body of `POST /_chaos/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRequest {
    /// Chosen by the installer; installing an id again replaces the fault.
    pub id: String,
    pub action: Action,
    /// For `partition`: the services this agent must not reach. When empty, the agent cuts
    /// the side of the partition it is not on.
    #[serde(default)]
    pub peers: Vec<String>,
}

struct Installed {
    request: FaultRequest,
    /// The allocation task of a memory fault; stopping it frees the memory.
    grower: Option<JoinHandle<()>>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(g) = &self.grower {
            g.abort();
        }
    }
}

pub struct Faults {
    service: String,
    installed: RwLock<BTreeMap<String, Installed>>,
    /// Bytes held by memory faults, all together.
    held: Arc<AtomicU64>,
}

impl Faults {
    pub fn new(service: &str) -> Faults {
        Faults {
            service: service.to_string(),
            installed: RwLock::new(BTreeMap::new()),
            held: Arc::new(AtomicU64::new(0)),
        }
    }

    fn hits(&self, target: &Target, endpoint: &str) -> bool {
        target.service == self.service && target.endpoint.as_deref().is_none_or(|e| e == endpoint)
    }

    /// Installs (or replaces) a fault. Must run inside a tokio runtime (memory faults spawn).
    pub fn install(&self, request: FaultRequest) {
        let grower = match &request.action {
            Action::Memory {
                service,
                bytes_per_s,
                limit_bytes,
                ..
            } if *service == self.service => Some(tokio::spawn(grow(
                *bytes_per_s,
                *limit_bytes,
                self.held.clone(),
            ))),
            _ => None,
        };
        if let Ok(mut map) = self.installed.write() {
            map.insert(request.id.clone(), Installed { request, grower });
        }
    }

    pub fn remove(&self, id: &str) -> bool {
        self.installed
            .write()
            .map(|mut m| m.remove(id).is_some())
            .unwrap_or(false)
    }

    pub fn clear(&self) -> usize {
        self.installed
            .write()
            .map(|mut m| {
                let n = m.len();
                m.clear();
                n
            })
            .unwrap_or(0)
    }

    pub fn list(&self) -> Vec<FaultRequest> {
        self.installed
            .read()
            .map(|m| m.values().map(|i| i.request.clone()).collect())
            .unwrap_or_default()
    }

    pub fn memory_held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    fn each(&self, mut f: impl FnMut(&FaultRequest)) {
        if let Ok(m) = self.installed.read() {
            for i in m.values() {
                f(&i.request);
            }
        }
    }

    /// Total extra delay on the wire in front of `endpoint` for one request.
    pub fn wire_delay_s(&self, endpoint: &str) -> f64 {
        let mut delays: Vec<Dist> = Vec::new();
        self.each(|r| {
            if let Action::Latency { target, delay } = &r.action
                && self.hits(target, endpoint)
            {
                delays.push(delay.clone());
            }
        });
        let mut rng = rand::rng();
        delays.iter().map(|d| dist::sample(d, &mut rng)).sum()
    }

    /// Whether this request vanishes (`loss`).
    pub fn lost(&self, endpoint: &str) -> bool {
        let mut ratios = Vec::new();
        self.each(|r| {
            if let Action::Loss { target, ratio } = &r.action
                && self.hits(target, endpoint)
            {
                ratios.push(*ratio);
            }
        });
        let mut rng = rand::rng();
        ratios.into_iter().any(|p| rng.random::<f64>() < p)
    }

    /// The status an `errors` fault answers this request with, if any.
    pub fn injected_status(&self, endpoint: &str) -> Option<u16> {
        let mut errors = Vec::new();
        self.each(|r| {
            if let Action::Errors {
                target,
                ratio,
                status,
            } = &r.action
                && self.hits(target, endpoint)
            {
                errors.push((*ratio, *status));
            }
        });
        let mut rng = rand::rng();
        errors
            .into_iter()
            .find(|(p, _)| rng.random::<f64>() < *p)
            .map(|(_, s)| s)
    }

    /// How many times longer `work` steps of `endpoint` take (1 without cpu faults).
    pub fn cpu_factor(&self, endpoint: &str) -> f64 {
        let mut f = 1.0;
        self.each(|r| {
            if let Action::Cpu { target, factor } = &r.action
                && self.hits(target, endpoint)
            {
                f *= factor;
            }
        });
        f
    }

    /// Whether calls from this agent to `callee` are cut by a partition.
    pub fn partitioned(&self, callee: &str) -> bool {
        let mut cut = false;
        self.each(|r| {
            if let Action::Partition { a, b } = &r.action {
                let me = &self.service;
                cut |= if r.peers.is_empty() {
                    (a.contains(me) && b.iter().any(|s| s == callee))
                        || (b.contains(me) && a.iter().any(|s| s == callee))
                } else {
                    r.peers.iter().any(|s| s == callee)
                };
            }
        });
        cut
    }
}

/// The exit status of an agent whose memory fault reached its limit: what a shell reports for a
/// process the kernel's OOM killer killed (128 + SIGKILL). Being an exit status and not a signal,
/// it tells a runner the scenario asked for this death, unlike a real SIGKILL.
pub const MEMORY_LIMIT_EXIT_STATUS: i32 = 137;

/// Step of the memory growth: small enough that the limit is hit close to its time.
const GROW_TICK_S: f64 = 0.05;

/// Allocates (and touches, so it is resident) `bytes_per_s` until the limit, then the
/// process exits as if the kernel's OOM killer had killed it (status 137).
async fn grow(bytes_per_s: f64, limit_bytes: f64, held: Arc<AtomicU64>) {
    struct Held(Vec<Vec<u8>>, Arc<AtomicU64>, u64);
    impl Drop for Held {
        fn drop(&mut self) {
            self.1.fetch_sub(self.2, Ordering::Relaxed);
        }
    }
    let mut mine = Held(Vec::new(), held.clone(), 0);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs_f64(GROW_TICK_S));
    let mut carry = 0.0;
    loop {
        tick.tick().await;
        carry += bytes_per_s * GROW_TICK_S;
        let n = carry.floor() as usize;
        carry -= n as f64;
        if n > 0 {
            mine.0.push(vec![0xA5u8; n]);
            mine.2 += n as u64;
            held.fetch_add(n as u64, Ordering::Relaxed);
        }
        if held.load(Ordering::Relaxed) as f64 >= limit_bytes {
            eprintln!(
                "chaos agent: memory limit of {limit_bytes} bytes reached; exiting as killed"
            );
            std::process::exit(MEMORY_LIMIT_EXIT_STATUS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(s: &str, e: Option<&str>) -> Target {
        Target {
            service: s.into(),
            endpoint: e.map(Into::into),
            replicas: None,
        }
    }

    fn install(f: &Faults, id: &str, action: Action) {
        f.install(FaultRequest {
            id: id.into(),
            action,
            peers: vec![],
        });
    }

    #[tokio::test]
    async fn faults_apply_to_their_target_only() {
        let f = Faults::new("pay");
        install(
            &f,
            "a",
            Action::Cpu {
                target: target("pay", Some("charge")),
                factor: 3.0,
            },
        );
        install(
            &f,
            "b",
            Action::Cpu {
                target: target("pay", None),
                factor: 2.0,
            },
        );
        install(
            &f,
            "c",
            Action::Cpu {
                target: target("cart", None),
                factor: 5.0,
            },
        );
        assert_eq!(f.cpu_factor("charge"), 6.0);
        assert_eq!(f.cpu_factor("refund"), 2.0);
        assert!(f.remove("b"));
        assert_eq!(f.cpu_factor("refund"), 1.0);
        assert_eq!(f.clear(), 2);
        assert_eq!(f.cpu_factor("charge"), 1.0);
    }

    #[tokio::test]
    async fn delays_add_up_and_errors_fire_at_ratio_one() {
        let f = Faults::new("pay");
        let d = Dist::Constant { value_s: 0.1 };
        install(
            &f,
            "a",
            Action::Latency {
                target: target("pay", None),
                delay: d.clone(),
            },
        );
        install(
            &f,
            "b",
            Action::Latency {
                target: target("pay", None),
                delay: d,
            },
        );
        assert!((f.wire_delay_s("x") - 0.2).abs() < 1e-12);
        install(
            &f,
            "c",
            Action::Errors {
                target: target("pay", None),
                ratio: 1.0,
                status: 503,
            },
        );
        assert_eq!(f.injected_status("x"), Some(503));
        install(
            &f,
            "d",
            Action::Loss {
                target: target("pay", None),
                ratio: 0.0,
            },
        );
        assert!(!f.lost("x"));
    }

    #[tokio::test]
    async fn partition_cuts_the_other_side() {
        let f = Faults::new("gateway");
        install(
            &f,
            "p",
            Action::Partition {
                a: vec!["gateway".into()],
                b: vec!["inventory".into()],
            },
        );
        assert!(f.partitioned("inventory"));
        assert!(!f.partitioned("cart"));
        let g = Faults::new("inventory");
        install(
            &g,
            "p",
            Action::Partition {
                a: vec!["gateway".into()],
                b: vec!["inventory".into()],
            },
        );
        assert!(g.partitioned("gateway"));
        let h = Faults::new("cart");
        h.install(FaultRequest {
            id: "p".into(),
            action: Action::Partition {
                a: vec!["x".into()],
                b: vec!["y".into()],
            },
            peers: vec!["db".into()],
        });
        assert!(h.partitioned("db") && !h.partitioned("y"));
    }

    #[tokio::test]
    async fn memory_grows_and_is_freed_on_revert() {
        let f = Faults::new("cart");
        install(
            &f,
            "m",
            Action::Memory {
                service: "cart".into(),
                bytes_per_s: 20e6,
                limit_bytes: 1e12,
                replicas: None,
            },
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(f.memory_held() > 1_000_000, "{}", f.memory_held());
        f.clear();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(f.memory_held(), 0);
    }
}
