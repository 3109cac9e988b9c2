//! The session's side of the load generator Job: its Pods (one per share of the load, by
//! completion index), their common start, time 0, their windows merged while the run goes,
//! the stop, and their logs.
//!
//! Several Pods start together: each waits, once its targets are ready, for the runner's start
//! (`--wait-for-start`); when every Pod waits, the runner picks one instant on its own clock
//! and tells each Pod how far ahead it is (`POST /_chaos/loadgen/start`, `in_s`), so each
//! starts at that instant plus the one-way latency of its request through the Pod proxy.
//! Time 0 is then read from each Pod as for one (the middle of a status round trip less its
//! `elapsed_s`) and averaged.

use std::time::{Duration, Instant};

use chaos_k8s::manifests::{COMPLETION_INDEX_ANNOTATION, LOADGEN_JOB, LOADGEN_PORT};
use chaos_report::WindowSample;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use super::{AgentError, Session, TICK};
use crate::collect;
use crate::error::ClusterError;
use crate::pod::{LoadgenStatus, START_PATH, STATUS_PATH, STOP_PATH, StartRequest};

/// How far ahead of the start request the common start lies, at least: long enough for every
/// Pod's request to arrive before it.
const START_LEAD: Duration = Duration::from_millis(500);

impl Session<'_> {
    /// The load generator Job's Pods: its `parallelism`.
    pub(super) fn loadgen_count(&self) -> usize {
        let spec = self.bundle.objects.loadgen.spec.as_ref();
        spec.and_then(|s| s.parallelism)
            .map_or(1, |n| usize::try_from(n).unwrap_or(1).max(1))
    }

    fn loadgen_selector(&self) -> String {
        let labels = self
            .bundle
            .objects
            .loadgen
            .metadata
            .labels
            .clone()
            .unwrap_or_default();
        let keep = ["app.kubernetes.io/name", chaos_k8s::manifests::RUN_ID_LABEL];
        chaos_k8s::manifests::selector_string(
            &labels
                .into_iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .collect(),
        )
    }

    /// Starts the Job and waits until each of its Pods runs; returns them in index order and
    /// time 0 of the schedule: when they started sending.
    pub(super) async fn start_loadgen(&self) -> Result<(Vec<String>, Instant), ClusterError> {
        self.apply("jobs.batch", &self.bundle.objects.loadgen)
            .await?;
        let n = self.loadgen_count();
        if n == 1 {
            self.say("started the load generator");
        } else {
            self.say(&format!(
                "started the load generator: {n} Pods, each sending 1/{n} of every workload"
            ));
        }
        let started = Instant::now();
        loop {
            let pods = self.run_pods(&self.loadgen_selector()).await?;
            Self::check_pods(&pods)?;
            let running = running_by_index(&pods);
            if running.len() >= n {
                let names: Vec<String> = running.into_iter().take(n).collect();
                let t0 = self.time_zero(&names, started).await?;
                return Ok((names, t0));
            }
            if started.elapsed() > self.timeout() {
                return Err(ClusterError::RolloutTimeout {
                    deployment: format!("job/{LOADGEN_JOB}"),
                    ready: i32::try_from(running.len()).unwrap_or(i32::MAX),
                    wanted: i32::try_from(n).unwrap_or(i32::MAX),
                    waited_s: started.elapsed().as_secs(),
                    reason: Self::pod_reason(&pods),
                });
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Time 0 on this machine's clock. Each Pod says how long ago (on its own monotonic clock)
    /// it started; half the round trip of that answer is the uncertainty. Pods waiting for the
    /// start are started together once all of them wait.
    async fn time_zero(&self, pods: &[String], since: Instant) -> Result<Instant, ClusterError> {
        let mut zeros: Vec<Option<(Instant, Duration)>> = vec![None; pods.len()];
        let mut started_at = None;
        let mut start_sent = false;
        let mut last_error: Option<String> = None;
        loop {
            let mut waiting = Vec::new();
            for (i, pod) in pods.iter().enumerate() {
                if zeros[i].is_some() {
                    continue;
                }
                let asked = Instant::now();
                match self.loadgen_status(pod, 0).await {
                    Ok(LoadgenStatus {
                        elapsed_s: Some(elapsed),
                        started_at: at,
                        ..
                    }) => {
                        let round_trip = asked.elapsed();
                        let middle = asked + round_trip / 2;
                        let ago = Duration::from_secs_f64(elapsed.max(0.0));
                        zeros[i] = Some((middle.checked_sub(ago).unwrap_or(middle), round_trip));
                        started_at = started_at.or(at);
                    }
                    Ok(LoadgenStatus { waiting: true, .. }) => waiting.push(pod.as_str()),
                    // Not ready yet (waiting for its targets), or its server is not up yet.
                    Ok(_) | Err(AgentError::Gone) => {}
                    Err(AgentError::Failed(m)) => {
                        tracing::debug!("load generator status of {pod}: {m}");
                        last_error = Some(m);
                    }
                }
            }
            if let Some(t0) = combine(&zeros) {
                let (t0, uncertainty, spread) = t0;
                let spread = if pods.len() > 1 {
                    format!(
                        ", {} Pods within {} ms of each other",
                        pods.len(),
                        spread.as_millis()
                    )
                } else {
                    String::new()
                };
                self.say(&format!(
                    "load started at {} (time 0, ±{} ms{spread})",
                    started_at.unwrap_or_default(),
                    uncertainty.as_millis(),
                ));
                return Ok(t0);
            }
            let ready = waiting.len() + zeros.iter().filter(|z| z.is_some()).count();
            if !start_sent && !waiting.is_empty() && ready == pods.len() {
                self.start_together(&waiting).await?;
                start_sent = true;
                continue;
            }
            let status = self.loadgen_job_status().await?;
            if status.failed.unwrap_or(0) > 0 || status.succeeded.unwrap_or(0) > 0 {
                return Err(ClusterError::Loadgen(format!(
                    "it ended before it said that it started sending; last lines of its log:\n{}",
                    self.log_tails(pods).await
                )));
            }
            if since.elapsed() > self.timeout() {
                return Err(ClusterError::Loadgen(format!(
                    "it did not start sending within {} s (it waits for its targets' health checks{}){}; last lines of its log:\n{}",
                    since.elapsed().as_secs(),
                    if pods.len() > 1 {
                        ", then for every Pod to be ready"
                    } else {
                        ""
                    },
                    last_error
                        .map(|m| format!("; its status API answered: {m}"))
                        .unwrap_or_default(),
                    self.log_tails(pods).await
                )));
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Tells every waiting Pod to start at one instant, [`START_LEAD`] from now; the requests
    /// go out together, each saying how far ahead the instant is when it is sent.
    async fn start_together(&self, pods: &[&str]) -> Result<(), ClusterError> {
        let at = Instant::now() + START_LEAD;
        let starts = pods.iter().map(|pod| async move {
            let body = serde_json::to_value(StartRequest {
                in_s: at.saturating_duration_since(Instant::now()).as_secs_f64(),
            })
            .unwrap_or_default();
            let answer = self
                .pods
                .request(pod, LOADGEN_PORT, "POST", START_PATH, Some(&body))
                .await;
            (pod, answer)
        });
        for (pod, answer) in futures::future::join_all(starts).await {
            match answer {
                Ok(_) => {}
                Err(AgentError::Gone) => {
                    return Err(ClusterError::Loadgen(format!(
                        "Pod {pod} was gone when the load was to start"
                    )));
                }
                Err(AgentError::Failed(m)) => {
                    return Err(ClusterError::Loadgen(format!(
                        "Pod {pod} could not be started: {m}"
                    )));
                }
            }
        }
        Ok(())
    }

    pub(super) async fn loadgen_job_status(&self) -> Result<JobStatus, ClusterError> {
        let job = Api::<Job>::namespaced(self.client.clone(), self.ns())
            .get(LOADGEN_JOB)
            .await
            .map_err(|e| self.call("get", "jobs.batch").error(e))?;
        Ok(job.status.unwrap_or_default())
    }

    /// Whether every Pod of the Job has finished well.
    pub(super) fn loadgen_succeeded(&self, status: &JobStatus) -> bool {
        usize::try_from(status.succeeded.unwrap_or(0)).unwrap_or(0) >= self.loadgen_count()
    }

    async fn loadgen_status(&self, pod: &str, from: usize) -> Result<LoadgenStatus, AgentError> {
        let text = self
            .pods
            .request(
                pod,
                LOADGEN_PORT,
                "GET",
                &format!("{STATUS_PATH}?from={from}"),
                None,
            )
            .await?;
        serde_json::from_str(&text)
            .map_err(|e| AgentError::Failed(format!("unreadable load generator status: {e}")))
    }

    /// The windows from `from` on that every Pod has closed, merged by index (counts summed,
    /// histograms merged).
    pub(super) async fn loadgen_windows(
        &self,
        pods: &[String],
        from: usize,
    ) -> Result<Vec<WindowSample>, AgentError> {
        let reads = pods.iter().map(|pod| self.loadgen_status(pod, from));
        let mut merged: Option<Vec<WindowSample>> = None;
        for status in futures::future::join_all(reads).await {
            let windows = status?.windows;
            merged = Some(match merged {
                None => windows,
                Some(mut m) => {
                    m.truncate(windows.len());
                    for (a, b) in m.iter_mut().zip(&windows) {
                        collect::add_window(a, b);
                    }
                    m
                }
            });
        }
        Ok(merged.unwrap_or_default())
    }

    /// Stops every Pod's sending (an abort).
    pub(super) async fn stop_loadgens(&self, pods: &[String]) -> Result<(), ClusterError> {
        let stops = pods.iter().map(|pod| {
            self.pods
                .request(pod, LOADGEN_PORT, "POST", STOP_PATH, None)
        });
        for (pod, answer) in pods.iter().zip(futures::future::join_all(stops).await) {
            match answer {
                // It finished on its own meanwhile.
                Ok(_) | Err(AgentError::Gone) => {}
                Err(AgentError::Failed(m)) => {
                    return Err(ClusterError::Loadgen(format!(
                        "Pod {pod} could not be stopped after the abort: {m}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Each Pod's log, in index order (each ends with its Recording).
    pub(super) async fn loadgen_logs(&self, pods: &[String]) -> Result<Vec<String>, ClusterError> {
        let api = Api::<Pod>::namespaced(self.client.clone(), self.ns());
        let mut logs = Vec::with_capacity(pods.len());
        for pod in pods {
            let params = LogParams {
                container: Some("loadgen".to_string()),
                ..LogParams::default()
            };
            logs.push(
                api.logs(pod, &params)
                    .await
                    .map_err(|e| self.call("get", "pods/log").error(e))?,
            );
        }
        Ok(logs)
    }

    /// The last lines of each Pod's log, named by Pod when there are several.
    pub(super) async fn log_tails(&self, pods: &[String]) -> String {
        let api = Api::<Pod>::namespaced(self.client.clone(), self.ns());
        let mut out = Vec::new();
        for pod in pods {
            let logs = api
                .logs(pod, &LogParams::default())
                .await
                .unwrap_or_default();
            let tail: Vec<&str> = logs.lines().rev().take(5).collect();
            let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
            out.push(if pods.len() > 1 {
                format!("[{pod}]\n{tail}")
            } else {
                tail
            });
        }
        out.join("\n")
    }
}

/// Time 0 from every Pod's own, once all are known: their mean, the largest half round trip
/// (the uncertainty) and how far apart the Pods started.
fn combine(zeros: &[Option<(Instant, Duration)>]) -> Option<(Instant, Duration, Duration)> {
    let known: Vec<(Instant, Duration)> = zeros.iter().copied().collect::<Option<_>>()?;
    let first = known.iter().map(|z| z.0).min()?;
    let last = known.iter().map(|z| z.0).max()?;
    let after: Duration = known.iter().map(|z| z.0 - first).sum();
    let mean = first + after / u32::try_from(known.len()).unwrap_or(1);
    let uncertainty = known.iter().map(|z| z.1 / 2).max().unwrap_or_default();
    Some((mean, uncertainty, last - first))
}

/// The Job's running (or finished) Pods, one per completion index, in index order. A Pod
/// without the index label (a Job controller that does not set it) sorts after, by name.
fn running_by_index(pods: &[Pod]) -> Vec<String> {
    let mut found: Vec<(u32, String)> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Running" | "Succeeded" | "Failed")
            )
        })
        .map(|p| {
            let index = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(COMPLETION_INDEX_ANNOTATION))
                .or_else(|| {
                    p.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(COMPLETION_INDEX_ANNOTATION))
                })
                .and_then(|i| i.parse().ok())
                .unwrap_or(u32::MAX);
            (index, p.metadata.name.clone().unwrap_or_default())
        })
        .collect();
    found.sort();
    // One Pod per index (a replaced Pod's successor would repeat it).
    found.dedup_by(|a, b| a.0 != u32::MAX && a.0 == b.0);
    found.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pod(name: &str, index: Option<&str>, phase: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": index.map(|i| serde_json::json!({ COMPLETION_INDEX_ANNOTATION: i })) },
            "status": { "phase": phase }
        }))
        .unwrap()
    }

    #[test]
    fn pods_in_completion_index_order() {
        let pods = vec![
            pod("loadgen-2-x", Some("2"), "Running"),
            pod("loadgen-0-y", Some("0"), "Running"),
            pod("loadgen-1-z", Some("1"), "Pending"),
            pod("loadgen-b", None, "Running"),
            pod("loadgen-a", None, "Running"),
        ];
        assert_eq!(
            running_by_index(&pods),
            vec!["loadgen-0-y", "loadgen-2-x", "loadgen-a", "loadgen-b"]
        );
    }

    #[test]
    fn time_zero_is_the_pods_mean() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let zeros = vec![
            Some((now, ms(4))),
            Some((now + ms(6), ms(10))),
            Some((now + ms(3), ms(2))),
        ];
        let (t0, uncertainty, spread) = combine(&zeros).unwrap();
        assert_eq!((t0 - now, uncertainty, spread), (ms(3), ms(5), ms(6)));
        assert!(combine(&[Some((now, ms(1))), None]).is_none());
    }
}
