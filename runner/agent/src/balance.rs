//! The live replicas of one callee and how a caller picks one (`balance`), skipping the
//! replicas this caller ejected (`eject`, [`Ejector`]).
//!
//! The set can change at run time (kills, restarts, autoscaling, health checks): the local
//! runner pushes it through `PUT /_chaos/peers`, each peer with its replica slot, which is
//! what ejection is keyed by (a replica restarted in its slot is the same replica); in
//! Kubernetes it is one URL, a Service.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use chaos_plan::{Balance, Eject, Ejector};
use rand::Rng;

#[derive(Debug)]
pub struct Peer {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:4001`.
    pub url: String,
    /// The replica's slot in its service (0-based), stable across restarts.
    pub slot: usize,
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
    /// This caller's outlier ejection of the callee's replicas, when the callee has `eject`.
    ejector: Option<Mutex<Ejector>>,
    started: Instant,
}

impl PeerSet {
    /// Peers given by URL only take their position in `urls` as their slot.
    pub fn new(balance: Balance, urls: &[String]) -> PeerSet {
        PeerSet::with_eject(balance, None, urls)
    }

    pub fn with_eject(balance: Balance, eject: Option<Eject>, urls: &[String]) -> PeerSet {
        let set = PeerSet {
            balance,
            peers: RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
            ejector: eject.map(|e| Mutex::new(Ejector::new(e))),
            started: Instant::now(),
        };
        set.set(urls);
        set
    }

    /// Replaces the live set (slots = positions), keeping the in-flight counts of peers that stay.
    pub fn set(&self, urls: &[String]) {
        let slots: Vec<usize> = (0..urls.len()).collect();
        self.set_slots(urls, &slots);
    }

    /// Replaces the live set: `urls[i]` is the replica in slot `slots[i]` (a missing slot
    /// is the URL's position).
    pub fn set_slots(&self, urls: &[String], slots: &[usize]) {
        let Ok(mut peers) = self.peers.write() else {
            return;
        };
        let old = std::mem::take(&mut *peers);
        for (i, url) in urls.iter().enumerate() {
            let url = url.trim_end_matches('/').to_string();
            let slot = slots.get(i).copied().unwrap_or(i);
            let p = old
                .iter()
                .find(|p| p.url == url && p.slot == slot)
                .cloned()
                .unwrap_or_else(|| {
                    Arc::new(Peer {
                        url,
                        slot,
                        in_flight: AtomicU32::new(0),
                    })
                });
            peers.push(p);
        }
    }

    fn now_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Feeds one call attempt's outcome on `peer` to the ejector (failed: a connection error,
    /// a timeout or a 5xx). Does nothing without `eject`.
    pub fn record(&self, peer: &Peer, failed: bool) {
        let Some(e) = &self.ejector else {
            return;
        };
        let live = self.peers.read().map_or(0, |p| p.len());
        let now = self.now_s();
        if let Ok(mut e) = e.lock() {
            e.record(peer.slot, !failed, now, live);
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.peers
            .read()
            .map(|p| p.iter().map(|p| p.url.clone()).collect())
            .unwrap_or_default()
    }

    /// Picks a live replica, or `None` when there is none. With `eject`, among the replicas
    /// not ejected; when every one is (possible with `max 100%`), among all of them, as
    /// Envoy's panic threshold does, rather than failing calls no replica was tried for.
    pub fn pick(&self) -> Option<InFlight> {
        let all = self.peers.read().ok()?;
        if all.is_empty() {
            return None;
        }
        let available: Vec<Arc<Peer>>;
        let peers: &[Arc<Peer>] = match &self.ejector {
            None => &all,
            Some(e) => {
                let now = self.now_s();
                let e = e.lock().ok()?;
                available = all
                    .iter()
                    .filter(|p| e.available(p.slot, now))
                    .cloned()
                    .collect();
                if available.is_empty() {
                    &all
                } else {
                    &available
                }
            }
        };
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
    fn ejected_slots_are_skipped_and_keep_their_state_across_updates() {
        let rule = Eject {
            after: 2,
            for_s: 60.0,
            max_fraction: 0.5,
        };
        let s = PeerSet::with_eject(Balance::RoundRobin, Some(rule), &urls(3));
        let bad = s.pick().unwrap();
        let bad_url = bad.peer().url.clone();
        s.record(bad.peer(), true);
        s.record(bad.peer(), true);
        for _ in 0..6 {
            assert_ne!(s.pick().unwrap().peer().url, bad_url);
        }
        // The runner pushes the set again (another replica restarted): same slots, still out.
        let mut u = urls(3);
        u.reverse();
        s.set_slots(&u, &[2, 1, 0]);
        for _ in 0..6 {
            assert_ne!(s.pick().unwrap().peer().url, bad_url);
        }
        // Without eject, failures change nothing.
        let plain = PeerSet::new(Balance::RoundRobin, &urls(2));
        let p = plain.pick().unwrap();
        for _ in 0..10 {
            plain.record(p.peer(), true);
        }
        let picked: Vec<String> = (0..4)
            .map(|_| plain.pick().unwrap().peer().url.clone())
            .collect();
        assert!(picked.contains(&p.peer().url));
    }

    #[test]
    fn empty_set_picks_nothing_and_updates_apply() {
        let s = PeerSet::new(Balance::Random, &[]);
        assert!(s.pick().is_none());
        s.set(&urls(1));
        assert_eq!(s.pick().unwrap().peer().url, urls(1)[0]);
    }
}
