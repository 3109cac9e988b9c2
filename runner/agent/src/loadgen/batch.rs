//! A worker's own list of finished requests, handed to the run's shared [`Recorder`] in
//! batches, so that workers take its lock once per batch instead of once per request.
//!
//! A batch is handed over when it is full, when it is 10 ms old, when its worker is about to
//! wait for a later send, and before the first record of a new window: what lands in a window
//! the recorder has already closed is still counted in it (see [`Recorder::record`]).

use std::sync::{Arc, Mutex};

use chaos_report::{Cause, Recorder};

const MAX_LEN: usize = 256;
const MAX_AGE_S: f64 = 0.01;

struct Item {
    subject: usize,
    t_s: f64,
    latency_s: f64,
    outcome: Result<(), Cause>,
}

pub(super) struct Batch {
    recorder: Arc<Mutex<Recorder>>,
    window_s: f64,
    items: Vec<Item>,
    window: usize,
    first_s: f64,
}

impl Batch {
    pub(super) fn new(recorder: Arc<Mutex<Recorder>>) -> Batch {
        let window_s = recorder
            .lock()
            .map(|r| r.window_s())
            .unwrap_or(1.0)
            .max(1e-9);
        Batch {
            recorder,
            window_s,
            items: Vec::with_capacity(MAX_LEN),
            window: 0,
            first_s: 0.0,
        }
    }

    /// As [`Recorder::record`].
    pub(super) fn record(
        &mut self,
        subject: usize,
        t_s: f64,
        latency_s: f64,
        outcome: Result<(), Cause>,
    ) {
        let window = (t_s / self.window_s).floor().max(0.0) as usize;
        if !self.items.is_empty()
            && (window != self.window
                || self.items.len() >= MAX_LEN
                || t_s - self.first_s >= MAX_AGE_S)
        {
            self.flush();
        }
        if self.items.is_empty() {
            self.window = window;
            self.first_s = t_s;
        }
        self.items.push(Item {
            subject,
            t_s,
            latency_s,
            outcome,
        });
    }

    /// Hands every record kept so far to the recorder.
    pub(super) fn flush(&mut self) {
        if self.items.is_empty() {
            return;
        }
        let mut r = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        for i in self.items.drain(..) {
            r.record(i.subject, i.t_s, i.latency_s, i.outcome);
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_plan::*;

    fn plan() -> Plan {
        Plan {
            version: PLAN_VERSION,
            scenario: Scenario {
                name: "t".into(),
                duration_s: 3.0,
                warmup_s: 0.0,
                seed: 1,
                window_s: 1.0,
                drain_s: 1.0,
                hop_s: 0.0,
            },
            params: vec![],
            services: vec![Service {
                name: "s".into(),
                replicas: Replicas::Fixed { count: 1 },
                workers: 1,
                queue: None,
                rate_limit_per_s: None,
                restart_s: 1.0,
                balance: Balance::RoundRobin,
                latency: Dist::ZERO,
                endpoints: vec![Endpoint {
                    name: "GET /".into(),
                    steps: vec![],
                }],
                discipline: Default::default(),
                eject: None,
                health_check: None,
            }],
            workloads: vec![],
            faults: vec![],
            expectations: vec![],
            aborts: vec![],
        }
    }

    #[test]
    fn every_record_reaches_its_window() {
        let p = plan();
        let rec = Arc::new(Mutex::new(Recorder::new(&p, "t", 1)));
        let (mut a, mut b) = (Batch::new(rec.clone()), Batch::new(rec.clone()));
        // Two workers interleave: `b` moves into window 1 while `a` still holds window 0.
        for k in 0..1000 {
            let t = f64::from(k) * 0.0015;
            a.record(0, t, 0.001, Ok(()));
            b.record(0, t + 0.0005, 0.002, Err(Cause::Timeout));
        }
        drop((a, b));
        let r = std::mem::replace(&mut *rec.lock().unwrap(), Recorder::new(&p, "t", 1))
            .finish(3.0, 4.0, None);
        let w0 = &r.windows[0].subjects[0];
        let w1 = &r.windows[1].subjects[0];
        // 0..1 s holds k = 0..=666 for `a` and k = 0..=666 for `b` (t + 0.5 ms < 1 s).
        assert_eq!(w0.ok, 667);
        assert_eq!(w0.errors[Cause::Timeout.index()], 667);
        assert_eq!(w0.ok + w1.ok, 1000);
        assert_eq!(
            w0.errors[Cause::Timeout.index()] + w1.errors[Cause::Timeout.index()],
            1000
        );
    }
}
