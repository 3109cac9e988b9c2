//! Window reads that do not hold up the schedule. Reading every agent's metrics through the
//! Pod proxy takes a round trip per Pod (more than a second for 400 Pods on a loaded testbed),
//! and a fault due at the same instant as a window's end used to wait for all of them. A read
//! is now started when the conductor says so, in its order, and runs in a task of its own
//! (the answers are parsed there too); the loop takes its figures once they are in. What needs
//! them (an `abort when` check, an autoscale tick) waits for them; a fault does not.
//!
//! One read at a time: reads that overlap would pile up on the API server whenever one takes
//! longer than a window, and slow down everything else going through it (the faults). A window
//! that ends while a read is still going is read when it is done; should several have ended
//! meanwhile, one read covers them all and their agent figures go to the last of them (said
//! once on a progress line by the caller, [`WindowReads::merged`]); [`Samples::covered`] keeps
//! the span, so the abort check judges it as one stretch of that many windows
//! (`session/watch.rs`) instead of seeing windows without figures.

use chaos_agent::MetricsSnapshot;
use tokio::task::JoinHandle;

use super::proxy::PodProxy;
use crate::collect::Samples;
use chaos_k8s::manifests::AGENT_PORT;

/// A read of windows `first..=window` covering `interval_s` seconds since the previous one.
struct Read {
    first: usize,
    window: usize,
    interval_s: f64,
    pods: Vec<String>,
}

struct Running {
    read: Read,
    /// Each Pod's snapshot, `None` if it could not be read.
    answers: JoinHandle<Vec<Option<MetricsSnapshot>>>,
}

pub(crate) struct WindowReads {
    proxy: PodProxy,
    running: Option<Running>,
    /// The read due while one runs: the latest window's, covering every window since.
    next: Option<Read>,
    /// Windows whose agent figures went to a later window, because reads fell behind.
    merged: usize,
}

impl WindowReads {
    pub(crate) fn new(proxy: PodProxy) -> WindowReads {
        WindowReads {
            proxy,
            running: None,
            next: None,
            merged: 0,
        }
    }

    /// Reads window `window` (`interval_s` long) from every Pod of `pods`: now, or when the
    /// read going on is done.
    pub(crate) fn start(&mut self, pods: Vec<String>, window: usize, interval_s: f64) {
        let read = match self.next.take() {
            Some(earlier) => {
                self.merged += 1;
                Read {
                    first: earlier.first,
                    window,
                    interval_s: earlier.interval_s + interval_s,
                    pods,
                }
            }
            None => Read {
                first: window,
                window,
                interval_s,
                pods,
            },
        };
        if self.running.is_some() {
            self.next = Some(read);
        } else {
            self.run(read);
        }
    }

    fn run(&mut self, read: Read) {
        let proxy = self.proxy.clone();
        let names = read.pods.clone();
        let answers = tokio::spawn(async move {
            let answers = proxy
                .to_each(&names, AGENT_PORT, "GET", "/_chaos/metrics", None)
                .await;
            names
                .iter()
                .zip(answers)
                .map(
                    |(pod, answer)| match answer.map(|t| serde_json::from_str(&t)) {
                        Ok(Ok(snapshot)) => Some(snapshot),
                        Ok(Err(e)) => {
                            tracing::debug!("metrics of {pod} unreadable: {e}");
                            None
                        }
                        Err(_) => {
                            tracing::debug!("metrics of {pod} not available");
                            None
                        }
                    },
                )
                .collect()
        });
        self.running = Some(Running { read, answers });
    }

    /// Takes the read that has finished, if it has, and starts the one waiting. Returns how
    /// many windows are read in full so far (the next window to read), if a read was taken.
    pub(crate) async fn take_finished(&mut self, samples: &mut Samples) -> Option<usize> {
        if self
            .running
            .as_ref()
            .is_some_and(|r| r.answers.is_finished())
        {
            self.take_running(samples).await
        } else {
            None
        }
    }

    /// Waits for every read started or waiting, and takes them; as [`Self::take_finished`].
    pub(crate) async fn take_all(&mut self, samples: &mut Samples) -> Option<usize> {
        let mut read = None;
        while self.running.is_some() {
            read = self.take_running(samples).await;
        }
        read
    }

    /// How many windows' agent figures went to a later window so far.
    pub(crate) fn merged(&self) -> usize {
        self.merged
    }

    /// Waits for the reads started or waiting until `deadline` at most, and takes those that
    /// finished by then; as [`Self::take_finished`]. What an abort check waits for: the
    /// window's figures if they come soon, without holding up the schedule when reads have
    /// fallen behind (a later check takes them, merged).
    pub(crate) async fn take_until(
        &mut self,
        samples: &mut Samples,
        deadline: tokio::time::Instant,
    ) -> Option<usize> {
        let mut read = None;
        while let Some(running) = self.running.as_mut() {
            let Ok(answers) = tokio::time::timeout_at(deadline, &mut running.answers).await else {
                break;
            };
            let Some(Running { read: done, .. }) = self.running.take() else {
                break;
            };
            read = Some(self.taken(done, answers, samples));
        }
        read
    }

    async fn take_running(&mut self, samples: &mut Samples) -> Option<usize> {
        let Running { read, answers } = self.running.take()?;
        let answers = answers.await;
        Some(self.taken(read, answers, samples))
    }

    /// A finished read's answers into `samples`; starts the read waiting, if any. Returns the
    /// next window to read.
    fn taken(
        &mut self,
        read: Read,
        answers: Result<Vec<Option<MetricsSnapshot>>, tokio::task::JoinError>,
        samples: &mut Samples,
    ) -> usize {
        if let Some(next) = self.next.take() {
            self.run(next);
        }
        let answers = answers.unwrap_or_else(|e| {
            tracing::debug!("reading window {}: {e}", read.window);
            Vec::new()
        });
        samples.covered(read.first, read.window);
        for (pod, snapshot) in read.pods.iter().zip(answers) {
            if let Some(snapshot) = snapshot {
                samples.scrape(pod, read.window, read.interval_s, snapshot);
            }
        }
        read.window + 1
    }
}

impl Drop for WindowReads {
    /// A run that stops early (an error, Ctrl-C) leaves no read behind it.
    fn drop(&mut self) {
        if let Some(r) = &self.running {
            r.answers.abort();
        }
    }
}
