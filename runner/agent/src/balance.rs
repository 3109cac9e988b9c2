//! The live replicas of one callee and how a caller picks one (`balance`).
//!
//! The set can change at run time (kills, restarts, autoscaling): the local runner pushes it
//! through `PUT /_chaos/peers`; in Kubernetes it is one URL, a Service.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use chaos_plan::Balance;
use rand::Rng;

#[derive(Debug)]
pub struct Peer {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:4001`.
    pub url: String,
    in_flight: AtomicU32,
}

/// Counts a request in flight on a peer while it lives (least_request).
pub struct InFlight(Arc<Peer>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl InFlight {
    pub fn peer(&self) -> &Peer {
        &self.0
    }
}

#[derive(Debug)]
pub struct PeerSet {
    balance: Balance,
    peers: RwLock<Vec<Arc<Peer>>>,
    next: AtomicUsize,
}

impl PeerSet {
    pub fn new(balance: Balance, urls: &[String]) -> PeerSet {
        let set = PeerSet {
            balance,
            peers: RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
        };
        set.set(urls);
        set
    }

    /// Replaces the live set, keeping the in-flight counts of peers that stay.
    pub fn set(&self, urls: &[String]) {
        let Ok(mut peers) = self.peers.write() else {
            return;
        };
        let old = std::mem::take(&mut *peers);
        for url in urls {
            let url = url.trim_end_matches('/').to_string();
            let p = old
                .iter()
                .find(|p| p.url == url)
                .cloned()
                .unwrap_or_else(|| {
                    Arc::new(Peer {
                        url,
                        in_flight: AtomicU32::new(0),
                    })
                });
            peers.push(p);
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.peers
            .read()
            .map(|p| p.iter().map(|p| p.url.clone()).collect())
            .unwrap_or_default()
    }

    /// Picks a live replica, or `None` when there is none.
    pub fn pick(&self) -> Option<InFlight> {
        let peers = self.peers.read().ok()?;
        if peers.is_empty() {
            return None;
        }
        let i = match self.balance {
            Balance::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % peers.len(),
            Balance::Random => rand::rng().random_range(0..peers.len()),
            Balance::LeastRequest => {
                // Ties are broken round robin so equal replicas share the load.
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                (0..peers.len())
                    .map(|k| (start + k) % peers.len())
                    .min_by_key(|&k| peers[k].in_flight.load(Ordering::Relaxed))
                    .unwrap_or(0)
            }
        };
        let p = peers[i].clone();
        p.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(InFlight(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("http://127.0.0.1:{}", 4000 + i))
            .collect()
    }

    #[test]
    fn round_robin_visits_every_replica() {
        let s = PeerSet::new(Balance::RoundRobin, &urls(3));
        let picked: Vec<String> = (0..6)
            .map(|_| s.pick().unwrap().peer().url.clone())
            .collect();
        assert_eq!(picked[0..3], picked[3..6]);
        let mut first = picked[0..3].to_vec();
        first.sort();
        assert_eq!(first, urls(3));
    }

    #[test]
    fn least_request_avoids_busy_replicas() {
        let s = PeerSet::new(Balance::LeastRequest, &urls(2));
        let held = s.pick().unwrap();
        for _ in 0..5 {
            let p = s.pick().unwrap();
            assert_ne!(p.peer().url, held.peer().url);
        }
    }

    #[test]
    fn empty_set_picks_nothing_and_updates_apply() {
        let s = PeerSet::new(Balance::Random, &[]);
        assert!(s.pick().is_none());
        s.set(&urls(1));
        assert_eq!(s.pick().unwrap().peer().url, urls(1)[0]);
    }
}
