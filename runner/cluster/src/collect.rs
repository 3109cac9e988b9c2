//! From what the load generator printed and the replica counts sampled during the run to the
//! run's [`Recording`], the same model the simulator and the local runner produce.

use std::collections::BTreeMap;

use chaos_agent::{MetricsSnapshot, SubjectMetrics};
use chaos_plan::Plan;
use chaos_report::{
    Latency, MeasuredHop, Recording, SparseLatency, Stats, SubjectKey, WindowSample,
};

use crate::ClusterError;

/// Ready replicas per service per timeline window, sampled by the runner during the run, and
/// what the agents measured (their `GET /_chaos/metrics`), window by window.
#[derive(Debug, Clone)]
pub(crate) struct Samples {
    window_s: f64,
    services: Vec<String>,
    /// `[window][service]` = (last seen, most seen).
    windows: Vec<Vec<(u32, u32)>>,
    /// Last snapshot per Pod, to subtract from the next one.
    previous: BTreeMap<String, MetricsSnapshot>,
    /// (window, service, endpoint) → attempts agents sent to that endpoint in that window.
    sent: BTreeMap<(usize, String, String), SubjectMetrics>,
    /// (window, service) → (busy worker-seconds, worker-seconds available, queue request-seconds).
    load: BTreeMap<(usize, String), (f64, f64, f64)>,
    /// service → (busy, available) worker-seconds since the autoscaler last looked.
    since_tick: BTreeMap<String, (f64, f64)>,
    /// (Pod, agent instance) → the hops its calls measured since that instance started (the
    /// latest snapshot: cumulative, so the run's hops are the sum over instances).
    hops: BTreeMap<(String, u64), SparseLatency>,
    /// Reads that covered several windows because reads fell behind: last window → first.
    /// The agents' figures of the whole span are in its last window.
    spans: BTreeMap<usize, usize>,
    /// Seconds each read covered, by the window its figures went to.
    read_s: BTreeMap<usize, f64>,
}

impl Samples {
    pub fn new(plan: &Plan) -> Samples {
        Samples {
            window_s: plan.scenario.window_s.max(1e-3),
            services: plan.services.iter().map(|s| s.name.clone()).collect(),
            windows: Vec::new(),
            previous: BTreeMap::new(),
            sent: BTreeMap::new(),
            load: BTreeMap::new(),
            since_tick: BTreeMap::new(),
            hops: BTreeMap::new(),
            spans: BTreeMap::new(),
            read_s: BTreeMap::new(),
        }
    }

    /// The agents' figures of windows `first..=last` came in one read, all counted in `last`.
    pub fn covered(&mut self, first: usize, last: usize) {
        if first < last {
            self.spans.insert(last, first);
        }
    }

    /// The windows `first..=last` whose agent figures came in one read with window `w`'s
    /// (`w..=w` when it was read alone).
    pub fn span_of(&self, w: usize) -> std::ops::RangeInclusive<usize> {
        match self.spans.range(w..).next() {
            Some((&last, &first)) if first <= w => first..=last,
            _ => w..=w,
        }
    }

    /// Worker utilisation of `service` over what was scraped since the last call (the
    /// autoscaler's interval); `None` when nothing was measured.
    pub fn take_utilisation(&mut self, service: &str) -> Option<f64> {
        let (busy, available) = self.since_tick.remove(service)?;
        (available > 0.0).then(|| (busy / available).clamp(0.0, 1.0))
    }

    pub fn record(&mut self, service: &str, t_s: f64, ready: u32) {
        let Some(j) = self.services.iter().position(|s| s == service) else {
            return;
        };
        let w = (t_s / self.window_s).floor().max(0.0) as usize;
        if self.windows.len() <= w {
            // Windows without a sample keep the last known count.
            let last = self
                .windows
                .last()
                .map(|v| v.iter().map(|&(r, _)| (r, r)).collect());
            self.windows.resize(
                w + 1,
                last.unwrap_or_else(|| vec![(0, 0); self.services.len()]),
            );
        }
        let cell = &mut self.windows[w][j];
        cell.0 = ready;
        cell.1 = cell.1.max(ready);
    }

    /// One Pod's cumulative metrics read at `t_s`: what changed since its previous snapshot
    /// goes to the window being closed. A new `instance` (restarted agent) counts from zero;
    /// what a killed Pod did after its last scrape is lost.
    pub fn scrape(&mut self, pod: &str, window: usize, interval_s: f64, snapshot: MetricsSnapshot) {
        let previous = self
            .previous
            .get(pod)
            .filter(|p| p.instance == snapshot.instance);
        for sent in &snapshot.sent {
            let before = previous
                .and_then(|p| {
                    p.sent
                        .iter()
                        .find(|x| x.service == sent.service && x.endpoint == sent.endpoint)
                })
                .map(|x| x.stats.clone())
                .unwrap_or_default();
            let delta = sent.stats.since(&before);
            if delta.requests() > 0 {
                self.sent
                    .entry((window, sent.service.clone(), sent.endpoint.clone()))
                    .or_default()
                    .add(&delta);
            }
        }
        let busy = snapshot.busy_s - previous.map_or(0.0, |p| p.busy_s);
        let queue = snapshot.queue_area_s - previous.map_or(0.0, |p| p.queue_area_s);
        let cell = self
            .load
            .entry((window, snapshot.service.clone()))
            .or_default();
        cell.0 += busy.max(0.0);
        cell.1 += interval_s.max(0.0) * f64::from(snapshot.workers.max(1));
        cell.2 += queue.max(0.0);
        self.read_s.insert(window, interval_s);
        let tick = self.since_tick.entry(snapshot.service.clone()).or_default();
        tick.0 += busy.max(0.0);
        tick.1 += interval_s.max(0.0) * f64::from(snapshot.workers.max(1));
        self.hops
            .insert((pod.to_string(), snapshot.instance), snapshot.hop.clone());
        self.previous.insert(pod.to_string(), snapshot);
    }

    /// Adds what the runner measured in window `w` (replicas, the agents' sent attempts,
    /// utilisation and queue) to the load generator's `window`, laid out by `subjects` and
    /// `services`: the same merge for the final Recording and for each window watched live.
    pub fn merge(
        &self,
        w: usize,
        window: &mut WindowSample,
        subjects: &[SubjectKey],
        services: &[String],
    ) {
        if window.services.len() < services.len() {
            window.services.resize(services.len(), Default::default());
        }
        for (j, service) in services.iter().enumerate() {
            if let Some((last, most)) = self.get(w, service) {
                let s = &mut window.services[j];
                // The runner sees Pods; the agents may know more (utilisation, queues) and keep it.
                s.replicas = last;
                s.max_replicas = s.max_replicas.max(most);
            }
        }
        for ((sw, service, endpoint), m) in self.sent.range((w, String::new(), String::new())..) {
            if *sw != w {
                break;
            }
            add_to_window(window, subjects, service, endpoint, m);
        }
        // Utilisation and queue length are means over time: a read that covered several
        // windows gives its span's means, which stand for each window of it.
        let span = self.span_of(w);
        let span_s = self
            .read_s
            .get(span.end())
            .copied()
            .filter(|s| *s > 0.0)
            .unwrap_or(self.window_s * (span.end() - span.start() + 1) as f64);
        for (j, service) in services.iter().enumerate() {
            if let (Some((busy, capacity, queue)), Some(s)) = (
                self.load.get(&(*span.end(), service.clone())),
                window.services.get_mut(j),
            ) {
                if *capacity > 0.0 {
                    s.utilisation = (busy / capacity).clamp(0.0, 1.0);
                }
                s.queue_mean = queue / span_s;
            }
        }
    }

    /// Every agent's calls' hops over the run, as far as scraped (what a killed Pod measured
    /// after its last scrape is lost, like its attempts).
    fn call_hops(&self) -> SparseLatency {
        let mut all = Latency::new();
        for h in self.hops.values() {
            all.add_sparse(h);
        }
        all.to_sparse()
    }

    fn get(&self, window: usize, service: &str) -> Option<(u32, u32)> {
        let j = self.services.iter().position(|s| s == service)?;
        match self.windows.get(window) {
            Some(v) => v.get(j).copied(),
            // After the last sample: the last count, steady.
            None => self
                .windows
                .last()
                .and_then(|v| v.get(j))
                .map(|&(r, _)| (r, r)),
        }
    }
}

/// Each load generator Pod prints one JSON document (a [`Recording`] of its share of the
/// load) on stdout; their windows are merged by index ([`add_window`]), then what the runner
/// sampled is added.
pub(crate) fn recording(
    plan: &Plan,
    seed: u64,
    logs: &[String],
    samples: &Samples,
) -> Result<Recording, ClusterError> {
    let mut pods = logs.iter().enumerate().map(|(i, log)| {
        pod_recording(log).map_err(|e| match (e, logs.len()) {
            (e, 1) => e,
            (ClusterError::Loadgen(m), _) => {
                ClusterError::Loadgen(format!("load generator Pod {i}: {m}"))
            }
            (e, _) => e,
        })
    });
    let Some(first) = pods.next() else {
        return Err(ClusterError::Loadgen(
            "no load generator Pod left a log".to_string(),
        ));
    };
    let mut recording = first?;
    for other in pods {
        merge_loadgen(&mut recording, other?);
    }
    finish(plan, seed, recording, samples)
}

/// Adds one load generator's Recording to another's: window by index, ending when the later
/// ends, every unexpected event kept.
pub(crate) fn merge_loadgen(into: &mut Recording, other: Recording) {
    // Every Pod closes the same windows (up to the plan's horizon); should one have more, its
    // extra windows start empty here and take its requests below.
    if into.windows.len() < other.windows.len() {
        let n = into.windows.len();
        into.windows
            .extend(other.windows[n..].iter().map(|w| WindowSample {
                start_s: w.start_s,
                subjects: vec![Stats::default(); w.subjects.len()],
                services: w.services.clone(),
            }));
    }
    for (w, o) in into.windows.iter_mut().zip(&other.windows) {
        add_window(w, o);
    }
    into.ended_s = into.ended_s.max(other.ended_s);
    into.hop = match (into.hop.take(), other.hop) {
        (Some(a), Some(b)) => Some(MeasuredHop {
            entry: summed(&a.entry, &b.entry),
            calls: summed(&a.calls, &b.calls),
        }),
        (a, b) => a.or(b),
    };
    if into.aborted.is_none() {
        into.aborted = other.aborted;
    }
    into.unexpected.extend(other.unexpected);
}

/// Two histograms' samples together.
fn summed(a: &SparseLatency, b: &SparseLatency) -> SparseLatency {
    let mut l = Latency::new();
    l.add_sparse(a);
    l.add_sparse(b);
    l.to_sparse()
}

/// Adds the requests of another load generator's window with the same index: counts summed,
/// latency histograms merged bucket by bucket (never averaged), so percentiles are those of
/// all the requests together.
pub(crate) fn add_window(into: &mut WindowSample, other: &WindowSample) {
    if into.subjects.len() < other.subjects.len() {
        into.subjects.resize(other.subjects.len(), Stats::default());
    }
    for (a, b) in into.subjects.iter_mut().zip(&other.subjects) {
        if b.requests() == 0 && b.latency.is_empty() {
            continue;
        }
        a.add_counts(b);
        let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
        for (v, n) in a.latency.buckets().chain(b.latency.buckets()) {
            *buckets.entry(v).or_default() += n;
        }
        a.latency = chaos_report::SparseLatency::from_buckets(buckets);
    }
}

/// The last complete JSON document in a load generator Pod's log (which may also hold its
/// stderr lines).
fn pod_recording(logs: &str) -> Result<Recording, ClusterError> {
    let mut found = None;
    let starts = std::iter::once(0).chain(logs.match_indices("\n{").map(|(i, _)| i + 1));
    for start in starts {
        let text = &logs[start..];
        if !text.trim_start().starts_with('{') {
            continue;
        }
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Recording>();
        if let Some(Ok(r)) = stream.next() {
            found = Some(r);
        }
    }
    found.ok_or_else(|| {
        let tail: Vec<&str> = logs.lines().rev().take(3).collect();
        ClusterError::Loadgen(format!(
            "its output holds no recording (JSON); last lines: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    })
}

/// The merged load generators' Recording as the run's: mode, seed, and what the runner sampled.
fn finish(
    plan: &Plan,
    seed: u64,
    mut recording: Recording,
    samples: &Samples,
) -> Result<Recording, ClusterError> {
    recording.mode = "cluster".to_string();
    recording.seed = seed;
    if recording.services.is_empty() {
        recording.services = plan.services.iter().map(|s| s.name.clone()).collect();
    }
    // The load generators measured the hop to the entry replicas, the agents their calls'.
    let entry = recording.hop.take().map(|h| h.entry).unwrap_or_default();
    recording.hop = Some(MeasuredHop {
        entry,
        calls: samples.call_hops(),
    });
    let (subjects, services) = (recording.subjects.clone(), recording.services.clone());
    let n = recording.windows.len();
    for (w, window) in recording.windows.iter_mut().enumerate() {
        samples.merge(w, window, &subjects, &services);
    }
    // Attempts scraped after the load generator's last window count in that window.
    if let Some(last) = recording.windows.last_mut() {
        for ((_, service, endpoint), m) in samples.sent.range((n, String::new(), String::new())..) {
            add_to_window(last, &subjects, service, endpoint, m);
        }
    }
    Ok(recording)
}

/// Adds an endpoint's attempts, as its callers measured them, to a window.
fn add_to_window(
    window: &mut WindowSample,
    subjects: &[SubjectKey],
    service: &str,
    endpoint: &str,
    m: &SubjectMetrics,
) {
    let Some(j) = subjects.iter().position(|s| {
        matches!(s, SubjectKey::Endpoint { service: sv, endpoint: e } if sv == service && e == endpoint)
    }) else {
        return;
    };
    let Some(stats) = window.subjects.get_mut(j) else {
        return;
    };
    m.add_to(stats);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chaos_report::recording::Recorder;
    use chaos_test_support::plans;

    /// Two replicas of `api` in a 3-second scenario.
    fn plan() -> Plan {
        Plan {
            scenario: plans::scenario(3.0),
            ..plans::plan(vec![plans::replicated("api", 2)])
        }
    }

    #[test]
    fn takes_the_last_json_document_and_adds_replicas() {
        let plan = plan();
        let mut rec = Recorder::new(&plan, "local", 9);
        rec.record(0, 0.5, 0.01, Ok(()));
        let json = serde_json::to_string_pretty(&rec.finish(3.0, 4.0, None)).unwrap();
        let logs = format!("starting load\n{{not json\n{json}\n");
        let mut samples = Samples::new(&plan);
        samples.record("api", 0.2, 2);
        samples.record("api", 2.1, 1);
        samples.record("api", 2.6, 1);
        let r = recording(&plan, 5, &[logs], &samples).unwrap();
        assert_eq!((r.mode.as_str(), r.seed), ("cluster", 5));
        assert_eq!(r.windows[0].subjects[0].ok, 1);
        let replicas: Vec<(u32, u32)> = r
            .windows
            .iter()
            .map(|w| (w.services[0].replicas, w.services[0].max_replicas))
            .collect();
        // Window 1 had no sample: it keeps the last count.
        assert_eq!(replicas, vec![(2, 2), (2, 2), (1, 2), (1, 1)]);
        assert!(recording(&plan, 5, &["no json here\n".to_string()], &samples).is_err());
    }

    fn snapshot(instance: u64, ok: u64, busy_s: f64) -> MetricsSnapshot {
        serde_json::from_value(serde_json::json!({
            "service": "api", "replica": "api-x", "instance": instance, "uptime_s": 1.0, "workers": 2,
            "busy_s": busy_s, "queue_area_s": 0.0, "busy_now": 0, "waiting_now": 0, "memory_bytes": 0,
            "received": [],
            "sent": [{ "service": "api", "endpoint": "GET /", "ok": ok, "errors": { "timeout": 1 },
                       "latency": { "buckets": [[1000, ok + 1]] } }]
        }))
        .unwrap()
    }

    #[test]
    fn load_generators_merge_into_what_one_records() {
        let plan = plan();
        // One stream of answers, dealt to three Pods as `--share I/3` deals arrivals.
        let answers: Vec<(f64, f64, bool)> = (0..300)
            .map(|k| (k as f64 * 0.01, 0.001 * (1 + k % 17) as f64, k % 10 == 0))
            .collect();
        let record = |rec: &mut Recorder, &(t, latency, failed): &(f64, f64, bool)| {
            let outcome = if failed {
                Err(chaos_report::Cause::Timeout)
            } else {
                Ok(())
            };
            rec.record(0, t, latency, outcome);
        };
        let mut alone = Recorder::new(&plan, "loadgen", 1);
        let mut pods: Vec<Recorder> = (0..3).map(|_| Recorder::new(&plan, "loadgen", 1)).collect();
        for (k, a) in answers.iter().enumerate() {
            record(&mut alone, a);
            record(&mut pods[k % 3], a);
        }
        let json = |r: Recorder| serde_json::to_string(&r.finish(3.0, 4.0, None)).unwrap();
        let logs: Vec<String> = pods
            .into_iter()
            .enumerate()
            .map(|(i, p)| format!("chaos loadgen: share {i}/3\n{}", json(p)))
            .collect();
        let samples = Samples::new(&plan);
        let merged = recording(&plan, 1, &logs, &samples).unwrap();
        let alone = recording(&plan, 1, &[json(alone)], &samples).unwrap();
        assert_eq!(merged.windows[0].subjects[0].requests(), 100);
        // Counts summed and histograms merged: the same figures, percentiles included.
        assert_eq!(merged.windows, alone.windows);
        let p99 = |r: &Recording| r.windows[1].subjects[0].latency.to_dense().quantile_s(0.99);
        assert_eq!(p99(&merged), p99(&alone));

        // A Pod without a Recording is named.
        let broken = vec![logs[0].clone(), "killed\n".to_string()];
        let e = recording(&plan, 1, &broken, &samples)
            .unwrap_err()
            .to_string();
        assert!(e.contains("load generator Pod 1"), "{e}");
    }

    #[test]
    fn a_longer_load_generator_extends_the_windows() {
        let plan = plan();
        let mut short = Recorder::new(&plan, "loadgen", 1).finish(3.0, 4.0, None);
        let mut long = Recorder::new(&plan, "loadgen", 1);
        long.record(0, 4.5, 0.002, Ok(()));
        let long = long.finish(3.0, 5.0, None);
        assert_eq!((short.windows.len(), long.windows.len()), (4, 5));
        merge_loadgen(&mut short, long);
        assert_eq!(short.windows.len(), 5);
        assert_eq!(short.windows[4].start_s, 4.0);
        assert_eq!(short.windows[4].subjects[0].ok, 1);
    }

    fn hops(us: &[(u64, u64)]) -> SparseLatency {
        let mut l = Latency::new();
        for &(v, n) in us {
            l.record_n_s(v as f64 / 1e6, n);
        }
        l.to_sparse()
    }

    fn with_hop(instance: u64, hop: &[(u64, u64)]) -> MetricsSnapshot {
        let mut s = snapshot(instance, 1, 0.1);
        s.hop = hops(hop);
        s
    }

    #[test]
    fn the_hop_is_every_load_generators_entries_and_every_agent_instances_calls() {
        let plan = plan();
        let pod = |entry: &[(u64, u64)]| {
            let mut r = Recorder::new(&plan, "loadgen", 1).finish(3.0, 4.0, None);
            r.hop = Some(MeasuredHop {
                entry: hops(entry),
                calls: SparseLatency::default(),
            });
            serde_json::to_string(&r).unwrap()
        };
        let mut samples = Samples::new(&plan);
        // Cumulative snapshots: the latest of an instance holds all it measured.
        samples.scrape("p1", 0, 1.0, with_hop(7, &[(300, 2)]));
        samples.scrape("p1", 1, 1.0, with_hop(7, &[(300, 5)]));
        // Restarted: a new instance counts from zero, and the old one's hops stay.
        samples.scrape("p1", 2, 1.0, with_hop(8, &[(1500, 1)]));
        samples.scrape("p2", 2, 1.0, with_hop(3, &[(250, 2)]));
        let logs = vec![pod(&[(200, 3)]), pod(&[(900, 1)])];
        let hop = recording(&plan, 1, &logs, &samples).unwrap().hop.unwrap();
        assert_eq!((hop.entry.count(), hop.calls.count()), (4, 8));
        let q = |h: &SparseLatency, q: f64| (h.to_dense().quantile_s(q).unwrap() * 1e6).round();
        assert_eq!((q(&hop.entry, 0.5), q(&hop.entry, 0.99)), (200.0, 900.0));
        assert_eq!((q(&hop.calls, 0.5), q(&hop.calls, 0.99)), (300.0, 1500.0));

        // A load generator of an older version, without a hop: the agents' calls still count.
        let old = serde_json::to_string(&Recorder::new(&plan, "loadgen", 1).finish(3.0, 4.0, None))
            .unwrap();
        let hop = recording(&plan, 1, &[old], &samples).unwrap().hop.unwrap();
        assert_eq!((hop.entry.count(), hop.calls.count()), (0, 8));
    }

    #[test]
    fn agent_metrics_become_window_deltas() {
        let plan = plan();
        let rec = Recorder::new(&plan, "loadgen", 1).finish(3.0, 4.0, None);
        let logs = serde_json::to_string(&rec).unwrap();
        let mut samples = Samples::new(&plan);
        samples.scrape("p1", 0, 1.0, snapshot(7, 10, 0.5));
        samples.scrape("p1", 1, 1.0, snapshot(7, 15, 1.5));
        // Restarted: counts from zero again.
        samples.scrape("p1", 2, 1.0, snapshot(8, 3, 0.2));
        let r = recording(&plan, 1, &[logs], &samples).unwrap();
        let ok: Vec<u64> = r.windows.iter().map(|w| w.subjects[0].ok).collect();
        assert_eq!(ok, vec![10, 5, 3, 0]);
        let timeouts: Vec<u64> = r
            .windows
            .iter()
            .map(|w| w.subjects[0].errors[chaos_report::Cause::Timeout.index()])
            .collect();
        assert_eq!(timeouts, vec![1, 0, 1, 0]);
        assert_eq!(r.windows[1].subjects[0].latency.to_dense().count(), 5);
        let utilisation: Vec<f64> = r
            .windows
            .iter()
            .map(|w| w.services[0].utilisation)
            .collect();
        assert_eq!(utilisation, vec![0.25, 0.5, 0.1, 0.0]);
    }

    #[test]
    fn a_read_covering_several_windows_gives_each_its_means() {
        let plan = plan();
        let rec = Recorder::new(&plan, "loadgen", 1).finish(3.0, 4.0, None);
        let logs = serde_json::to_string(&rec).unwrap();
        let mut samples = Samples::new(&plan);
        samples.scrape("p1", 0, 1.0, snapshot(7, 10, 0.5));
        // Windows 1 and 2 read together (2 s): 2 busy worker-seconds of 4, 3 request-seconds
        // queued; the 5 calls all counted in window 2.
        let mut later = snapshot(7, 15, 2.5);
        later.queue_area_s = 3.0;
        samples.covered(1, 2);
        samples.scrape("p1", 2, 2.0, later);
        let r = recording(&plan, 1, &[logs], &samples).unwrap();
        let by_window = |f: fn(&WindowSample) -> f64| r.windows.iter().map(f).collect::<Vec<_>>();
        assert_eq!(
            by_window(|w| w.services[0].utilisation),
            vec![0.25, 0.5, 0.5, 0.0]
        );
        assert_eq!(
            by_window(|w| w.services[0].queue_mean),
            vec![0.0, 1.5, 1.5, 0.0]
        );
        assert_eq!(
            by_window(|w| w.subjects[0].ok as f64),
            vec![10.0, 0.0, 5.0, 0.0]
        );
    }
}
