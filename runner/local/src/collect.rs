//! Turning agents' cumulative metrics into per-window figures and merging them into the
//! Recording the load generator filled.

use std::collections::BTreeMap;

use chaos_agent::SubjectMetrics;
use chaos_report::{MeasuredHop, Recording, SparseLatency, SubjectKey};

/// What agents reported as callers, per (window, subject index), and the hops their calls
/// cost over the whole run.
#[derive(Debug, Default)]
pub struct AgentWindows {
    pub by_window: BTreeMap<(usize, usize), SubjectMetrics>,
    /// Hop buckets (`(lowest µs, count)` as in a `SparseLatency`) of every agent's calls.
    hops: BTreeMap<u64, u64>,
}

impl AgentWindows {
    /// Adds an agent's hops measured since its `earlier` snapshot (`None`: since it started).
    pub fn add_hops(&mut self, now: &SparseLatency, earlier: Option<&SparseLatency>) {
        let old: BTreeMap<u64, u64> = earlier.map(|e| e.buckets().collect()).unwrap_or_default();
        for (v, n) in now.buckets() {
            let d = n.saturating_sub(old.get(&v).copied().unwrap_or(0));
            if d > 0 {
                *self.hops.entry(v).or_default() += d;
            }
        }
    }

    /// The run's hops: the load generator's (`entry`) and every agent's calls.
    pub fn measured_hop(&self, entry: SparseLatency) -> MeasuredHop {
        MeasuredHop {
            entry,
            calls: SparseLatency::from_buckets(self.hops.iter().map(|(v, n)| (*v, *n))),
        }
    }

    pub fn add(&mut self, window: usize, subject: usize, m: &SubjectMetrics) {
        if m.requests() > 0 {
            self.by_window.entry((window, subject)).or_default().add(m);
        }
    }

    /// Adds everything into `rec` (windows past its end go to its last window).
    pub fn merge_into(&self, rec: &mut Recording) {
        let last = rec.windows.len().saturating_sub(1);
        for ((w, s), m) in &self.by_window {
            let Some(stats) = rec
                .windows
                .get_mut((*w).min(last))
                .and_then(|win| win.subjects.get_mut(*s))
            else {
                continue;
            };
            m.add_to(stats);
        }
    }
}

pub fn endpoint_index(rec_subjects: &[SubjectKey], service: &str, endpoint: &str) -> Option<usize> {
    rec_subjects.iter().position(|k| {
        matches!(k, SubjectKey::Endpoint { service: s, endpoint: e } if s == service && e == endpoint)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaos_report::Cause;

    fn m(ok: u64, timeouts: u64, buckets: Vec<(u64, u64)>) -> SubjectMetrics {
        let mut errors = BTreeMap::new();
        if timeouts > 0 {
            errors.insert(Cause::Timeout, timeouts);
        }
        SubjectMetrics {
            ok,
            errors,
            latency: SparseLatency::from_buckets(buckets),
        }
    }

    #[test]
    fn hops_add_what_each_agent_measured_since_its_last_snapshot() {
        let mut w = AgentWindows::default();
        let first = SparseLatency::from_buckets([(200, 3)]);
        w.add_hops(&first, None);
        let second = SparseLatency::from_buckets([(200, 5), (900, 1)]);
        w.add_hops(&second, Some(&first));
        let entry = SparseLatency::from_buckets([(150, 2)]);
        let hop = w.measured_hop(entry.clone());
        assert_eq!(hop.entry, entry);
        assert_eq!(
            hop.calls.buckets().collect::<Vec<_>>(),
            [(200, 5), (900, 1)]
        );
    }

    #[test]
    fn adds_counts_and_buckets() {
        let mut a = m(1, 0, vec![(100, 1)]);
        a.add(&m(2, 1, vec![(100, 2), (5000, 1)]));
        assert_eq!(a, m(3, 1, vec![(100, 3), (5000, 1)]));
    }
}
