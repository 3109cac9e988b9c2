//! From what the load generator printed and the replica counts sampled during the run to the
//! run's [`Recording`], the same model the simulator and the local runner produce.

use std::collections::BTreeMap;

use chaos_agent::{MetricsSnapshot, SubjectMetrics};
use chaos_plan::Plan;
use chaos_report::{Recording, SubjectKey, WindowSample};

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
        let tick = self.since_tick.entry(snapshot.service.clone()).or_default();
        tick.0 += busy.max(0.0);
        tick.1 += interval_s.max(0.0) * f64::from(snapshot.workers.max(1));
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
        for (j, service) in services.iter().enumerate() {
            if let (Some((busy, capacity, queue)), Some(s)) = (
                self.load.get(&(w, service.clone())),
                window.services.get_mut(j),
            ) {
                if *capacity > 0.0 {
                    s.utilisation = (busy / capacity).clamp(0.0, 1.0);
                }
                s.queue_mean = queue / self.window_s;
            }
        }
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

/// The load generator prints one JSON document (a [`Recording`]) on stdout; the Pod's log may
/// also hold its stderr lines, so the last complete JSON document in the log is taken.
pub(crate) fn recording(
    plan: &Plan,
    seed: u64,
    logs: &str,
    samples: &Samples,
) -> Result<Recording, ClusterError> {
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
    let Some(mut recording) = found else {
        let tail: Vec<&str> = logs.lines().rev().take(3).collect();
        return Err(ClusterError::Loadgen(format!(
            "its output holds no recording (JSON); last lines: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    };
    recording.mode = "cluster".to_string();
    recording.seed = seed;
    if recording.services.is_empty() {
        recording.services = plan.services.iter().map(|s| s.name.clone()).collect();
    }
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

    fn plan() -> Plan {
        serde_json::from_value(serde_json::json!({
            "version": 1,
            "scenario": { "name": "s", "duration_s": 3.0, "warmup_s": 0.0, "seed": 1, "window_s": 1.0, "drain_s": 1.0 },
            "params": [], "services": [{
                "name": "api", "replicas": { "kind": "fixed", "count": 2 }, "workers": 1, "queue": null,
                "rate_limit_per_s": null, "restart_s": 1.0, "balance": "round_robin",
                "latency": { "dist": "constant", "value_s": 0.0 },
                "endpoints": [{ "name": "GET /", "steps": [{ "step": "work", "dist": { "dist": "constant", "value_s": 0.0 } }] }]
            }],
            "workloads": [], "faults": [], "expectations": [], "aborts": []
        }))
        .unwrap()
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
        let r = recording(&plan, 5, &logs, &samples).unwrap();
        assert_eq!((r.mode.as_str(), r.seed), ("cluster", 5));
        assert_eq!(r.windows[0].subjects[0].ok, 1);
        let replicas: Vec<(u32, u32)> = r
            .windows
            .iter()
            .map(|w| (w.services[0].replicas, w.services[0].max_replicas))
            .collect();
        // Window 1 had no sample: it keeps the last count.
        assert_eq!(replicas, vec![(2, 2), (2, 2), (1, 2), (1, 1)]);
        assert!(recording(&plan, 5, "no json here\n", &samples).is_err());
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
    fn agent_metrics_become_window_deltas() {
        let plan = plan();
        let rec = Recorder::new(&plan, "loadgen", 1).finish(3.0, 4.0, None);
        let logs = serde_json::to_string(&rec).unwrap();
        let mut samples = Samples::new(&plan);
        samples.scrape("p1", 0, 1.0, snapshot(7, 10, 0.5));
        samples.scrape("p1", 1, 1.0, snapshot(7, 15, 1.5));
        // Restarted: counts from zero again.
        samples.scrape("p1", 2, 1.0, snapshot(8, 3, 0.2));
        let r = recording(&plan, 1, &logs, &samples).unwrap();
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
}
