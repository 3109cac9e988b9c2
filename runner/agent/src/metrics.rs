//! What one agent measured: attempts it received per endpoint, attempts it sent per callee
//! endpoint (the caller's view, which is what the Recording's endpoint subjects are), and how
//! busy its workers and queue were. Served cumulatively at `GET /_chaos/metrics`; readers
//! subtract two snapshots of the same `instance` to get an interval. The same figures are
//! served to Prometheus at `GET /metrics` (see [`crate::prometheus`]).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chaos_report::{Cause, Latency, SparseLatency, Stats};
use serde::{Deserialize, Serialize};

use crate::prometheus::{self, Histogram};

/// Counts and latencies of finished attempts of one subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubjectMetrics {
    pub ok: u64,
    /// Failures by cause; absent causes are zero.
    pub errors: BTreeMap<Cause, u64>,
    pub latency: SparseLatency,
}

impl SubjectMetrics {
    pub fn requests(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }

    /// `self += more`, bucket by bucket.
    pub fn add(&mut self, more: &SubjectMetrics) {
        self.ok += more.ok;
        for (c, n) in &more.errors {
            *self.errors.entry(*c).or_default() += n;
        }
        let mut buckets: BTreeMap<u64, u64> = self.latency.buckets().collect();
        for (v, n) in more.latency.buckets() {
            *buckets.entry(v).or_default() += n;
        }
        self.latency = SparseLatency::from_buckets(buckets);
    }

    /// Adds these attempts to a Recording window's figures for the same subject.
    pub fn add_to(&self, stats: &mut Stats) {
        stats.ok += self.ok;
        for (c, n) in &self.errors {
            stats.errors[c.index()] += n;
        }
        let mut latency = stats.latency.to_dense();
        latency.add_sparse(&self.latency);
        stats.latency = latency.to_sparse();
    }

    /// `self - earlier`, both cumulative snapshots of the same agent instance.
    pub fn since(&self, earlier: &SubjectMetrics) -> SubjectMetrics {
        let errors = self
            .errors
            .iter()
            .map(|(c, n)| {
                (
                    *c,
                    n.saturating_sub(earlier.errors.get(c).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let old: BTreeMap<u64, u64> = earlier.latency.buckets().collect();
        let buckets = self
            .latency
            .buckets()
            .map(|(v, n)| (v, n.saturating_sub(old.get(&v).copied().unwrap_or(0))))
            .filter(|(_, n)| *n > 0);
        SubjectMetrics {
            ok: self.ok.saturating_sub(earlier.ok),
            errors,
            latency: SparseLatency::from_buckets(buckets),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedMetrics {
    pub endpoint: String,
    #[serde(flatten)]
    pub stats: SubjectMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMetrics {
    pub service: String,
    pub endpoint: String,
    #[serde(flatten)]
    pub stats: SubjectMetrics,
}

/// Body of `GET /_chaos/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    pub service: String,
    pub replica: String,
    /// Random per process: a restarted agent starts its counters again from zero.
    pub instance: u64,
    pub uptime_s: f64,
    pub workers: u32,
    /// Worker-seconds spent serving, since start.
    pub busy_s: f64,
    /// Integral of the number of waiting requests over time (request-seconds), since start.
    pub queue_area_s: f64,
    pub busy_now: u32,
    pub waiting_now: u32,
    /// Bytes held by memory faults.
    pub memory_bytes: u64,
    pub received: Vec<ReceivedMetrics>,
    pub sent: Vec<SentMetrics>,
    /// What each answered call or send cost beyond the callee's own time (`wire::hop_s`),
    /// since start: the network hop as this caller measured it.
    #[serde(default, skip_serializing_if = "no_hops")]
    pub hop: SparseLatency,
}

fn no_hops(h: &SparseLatency) -> bool {
    h.is_empty()
}

#[derive(Default)]
struct Acc {
    ok: u64,
    errors: BTreeMap<Cause, u64>,
    latency: Latency,
    prom: Histogram,
}

impl Acc {
    fn add(&mut self, latency_s: f64, outcome: Result<(), Cause>) {
        match outcome {
            Ok(()) => self.ok += 1,
            Err(c) => *self.errors.entry(c).or_default() += 1,
        }
        self.latency.record_s(latency_s);
        self.prom.observe(latency_s);
    }
    fn counts(&self) -> prometheus::Counts {
        prometheus::Counts {
            errors: self.errors.clone(),
            latency: self.prom.clone(),
        }
    }
    fn snapshot(&self) -> SubjectMetrics {
        SubjectMetrics {
            ok: self.ok,
            errors: self.errors.clone(),
            latency: self.latency.to_sparse(),
        }
    }
}

struct Inner {
    received: BTreeMap<String, Acc>,
    sent: BTreeMap<(String, String), Acc>,
    hop: Latency,
    /// Requests received and not answered yet, by endpoint.
    in_flight: BTreeMap<String, u64>,
    busy: u32,
    waiting: u32,
    busy_s: f64,
    queue_area_s: f64,
    last: Instant,
}

impl Inner {
    fn integrate(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.busy_s += dt * f64::from(self.busy);
        self.queue_area_s += dt * f64::from(self.waiting);
        self.last = now;
    }
}

pub struct Metrics {
    service: String,
    replica: String,
    instance: u64,
    workers: u32,
    started: Instant,
    start_time_s: f64,
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new(service: &str, replica: &str, workers: u32) -> Metrics {
        let now = Instant::now();
        Metrics {
            service: service.to_string(),
            replica: replica.to_string(),
            instance: rand::random(),
            workers,
            started: now,
            start_time_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            inner: Mutex::new(Inner {
                received: BTreeMap::new(),
                sent: BTreeMap::new(),
                hop: Latency::new(),
                in_flight: BTreeMap::new(),
                busy: 0,
                waiting: 0,
                busy_s: 0.0,
                queue_area_s: 0.0,
                last: now,
            }),
        }
    }

    pub fn received(&self, endpoint: &str, latency_s: f64, outcome: Result<(), Cause>) {
        if let Ok(mut i) = self.inner.lock() {
            if let Some(a) = i.received.get_mut(endpoint) {
                a.add(latency_s, outcome);
            } else {
                let mut a = Acc::default();
                a.add(latency_s, outcome);
                i.received.insert(endpoint.to_string(), a);
            }
        }
    }

    pub fn sent(&self, service: &str, endpoint: &str, latency_s: f64, outcome: Result<(), Cause>) {
        if let Ok(mut i) = self.inner.lock() {
            i.sent
                .entry((service.to_string(), endpoint.to_string()))
                .or_default()
                .add(latency_s, outcome);
        }
    }

    /// One hop's cost, in seconds (see [`MetricsSnapshot::hop`]).
    pub fn hop(&self, hop_s: f64) {
        if let Ok(mut i) = self.inner.lock() {
            i.hop.record_s(hop_s);
        }
    }

    /// Adds `d` to the number of busy workers (`busy`) or of waiting requests (`!busy`).
    pub fn gauge(&self, busy: bool, d: i32) {
        if let Ok(mut i) = self.inner.lock() {
            i.integrate();
            let g = if busy { &mut i.busy } else { &mut i.waiting };
            *g = g.saturating_add_signed(d);
        }
    }

    /// Counts a request to `endpoint` as in flight until the guard is dropped (answered,
    /// or abandoned by its caller).
    pub fn in_flight<'a>(&'a self, endpoint: &'a str) -> InFlight<'a> {
        if let Ok(mut i) = self.inner.lock() {
            if let Some(n) = i.in_flight.get_mut(endpoint) {
                *n += 1;
            } else {
                i.in_flight.insert(endpoint.to_string(), 1);
            }
        }
        InFlight(self, endpoint)
    }

    /// Copies the figures Prometheus is served into `v`, keeping entries `v` already has.
    pub fn fill(&self, v: &mut prometheus::View) {
        v.start_time_s = self.start_time_s;
        let Ok(mut i) = self.inner.lock() else {
            return;
        };
        i.integrate();
        for (e, a) in &i.received {
            v.received.insert(e.clone(), a.counts());
        }
        for (k, a) in &i.sent {
            v.sent.insert(k.clone(), a.counts());
        }
        for (e, n) in &i.in_flight {
            v.in_flight.insert(e.clone(), *n);
        }
        v.busy_now = i.busy;
        v.waiting_now = i.waiting;
        v.busy_s = i.busy_s;
    }

    pub fn waiting(&self) -> u32 {
        self.inner.lock().map(|i| i.waiting).unwrap_or(0)
    }

    pub fn snapshot(&self, memory_bytes: u64) -> MetricsSnapshot {
        let (received, sent, hop, busy_s, queue_area_s, busy_now, waiting_now) =
            match self.inner.lock() {
                Ok(mut i) => {
                    i.integrate();
                    let r = i
                        .received
                        .iter()
                        .map(|(e, a)| ReceivedMetrics {
                            endpoint: e.clone(),
                            stats: a.snapshot(),
                        })
                        .collect();
                    let s = i
                        .sent
                        .iter()
                        .map(|((s, e), a)| SentMetrics {
                            service: s.clone(),
                            endpoint: e.clone(),
                            stats: a.snapshot(),
                        })
                        .collect();
                    let hop = i.hop.to_sparse();
                    (r, s, hop, i.busy_s, i.queue_area_s, i.busy, i.waiting)
                }
                Err(_) => (
                    Vec::new(),
                    Vec::new(),
                    SparseLatency::default(),
                    0.0,
                    0.0,
                    0,
                    0,
                ),
            };
        MetricsSnapshot {
            service: self.service.clone(),
            replica: self.replica.clone(),
            instance: self.instance,
            uptime_s: self.started.elapsed().as_secs_f64(),
            workers: self.workers,
            busy_s,
            queue_area_s,
            busy_now,
            waiting_now,
            memory_bytes,
            received,
            sent,
            hop,
        }
    }
}

pub struct InFlight<'a>(&'a Metrics, &'a str);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut i) = self.0.inner.lock()
            && let Some(n) = i.in_flight.get_mut(self.1)
        {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_counts_and_buckets() {
        let m = Metrics::new("a", "a-0", 1);
        m.sent("b", "x", 0.010, Ok(()));
        let first = m.snapshot(0);
        m.sent("b", "x", 0.010, Err(Cause::Timeout));
        m.sent("b", "x", 0.200, Ok(()));
        let second = m.snapshot(0);
        let d = second.sent[0].stats.since(&first.sent[0].stats);
        assert_eq!(d.ok, 1);
        assert_eq!(d.errors.get(&Cause::Timeout), Some(&1));
        assert_eq!(d.latency.count(), 2);
        let q = d.latency.to_dense().max_s().unwrap();
        assert!((q - 0.2).abs() < 0.001, "{q}");
    }

    #[test]
    fn snapshot_serialises_causes_by_name() {
        let m = Metrics::new("a", "a-0", 1);
        m.received("GET /", 0.001, Err(Cause::RateLimited));
        let json = serde_json::to_string(&m.snapshot(0)).unwrap();
        assert!(json.contains("\"rate_limited\":1"), "{json}");
        let back: MetricsSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back.received[0].stats.requests(), 1);
    }
}
