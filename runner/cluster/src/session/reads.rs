//! Window reads that do not hold up the schedule. Reading every agent's metrics through the
//! Pod proxy takes a round trip per Pod (about a second for 200 Pods on a loaded testbed),
//! and a fault due at the same instant as a window's end used to wait for all of them. A read
//! is now started when the conductor says so, in its order, and runs in a task of its own;
//! the loop takes its answers once they are in. What needs them (an `abort when` check, an
//! autoscale tick) waits for them; a fault does not.

use std::collections::VecDeque;

use chaos_agent::MetricsSnapshot;
use tokio::task::JoinHandle;

use super::proxy::{AgentError, PodProxy};
use crate::collect::Samples;
use chaos_k8s::manifests::AGENT_PORT;

struct Read {
    window: usize,
    interval_s: f64,
    pods: Vec<String>,
    answers: JoinHandle<Vec<Result<String, AgentError>>>,
}

/// Reads started and not yet taken, oldest first.
#[derive(Default)]
pub(crate) struct WindowReads {
    pending: VecDeque<Read>,
}

impl WindowReads {
    /// Starts reading window `window` (`interval_s` long) from every Pod of `pods`.
    pub(crate) fn start(
        &mut self,
        proxy: &PodProxy,
        pods: Vec<String>,
        window: usize,
        interval_s: f64,
    ) {
        let proxy = proxy.clone();
        let names = pods.clone();
        let answers = tokio::spawn(async move {
            proxy
                .to_each(&names, AGENT_PORT, "GET", "/_chaos/metrics", None)
                .await
        });
        self.pending.push_back(Read {
            window,
            interval_s,
            pods,
            answers,
        });
    }

    /// Takes the reads that have finished, oldest first, up to the first one still running: a
    /// Pod's figures are counted from its previous read, so reads are taken in their order.
    /// Returns how many windows are read in full so far (the next window to read), if any
    /// read was taken.
    pub(crate) async fn take_finished(&mut self, samples: &mut Samples) -> Option<usize> {
        let mut read = None;
        while self
            .pending
            .front()
            .is_some_and(|r| r.answers.is_finished())
        {
            read = self.take_front(samples).await;
        }
        read
    }

    /// Waits for every read started, and takes them; as [`Self::take_finished`].
    pub(crate) async fn take_all(&mut self, samples: &mut Samples) -> Option<usize> {
        let mut read = None;
        while !self.pending.is_empty() {
            read = self.take_front(samples).await;
        }
        read
    }

    async fn take_front(&mut self, samples: &mut Samples) -> Option<usize> {
        let r = self.pending.pop_front()?;
        let answers = match r.answers.await {
            Ok(answers) => answers,
            Err(e) => {
                tracing::debug!("reading window {}: {e}", r.window);
                Vec::new()
            }
        };
        for (pod, answer) in r.pods.iter().zip(answers) {
            match answer.map(|text| serde_json::from_str::<MetricsSnapshot>(&text)) {
                Ok(Ok(snapshot)) => samples.scrape(pod, r.window, r.interval_s, snapshot),
                Ok(Err(e)) => tracing::debug!("metrics of {pod} unreadable: {e}"),
                Err(_) => tracing::debug!("metrics of {pod} not available"),
            }
        }
        Some(r.window + 1)
    }
}

impl Drop for WindowReads {
    /// A run that stops early (an error, Ctrl-C) leaves no read behind it.
    fn drop(&mut self) {
        for r in &self.pending {
            r.answers.abort();
        }
    }
}
