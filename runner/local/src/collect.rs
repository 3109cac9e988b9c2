//! Turning agents' cumulative metrics into per-window figures and merging them into the
//! Recording the load generator filled.

use std::collections::BTreeMap;

use chaos_agent::SubjectMetrics;
use chaos_report::{Recording, SparseLatency, SubjectKey};

/// `into += more`, bucket by bucket.
pub fn add(into: &mut SubjectMetrics, more: &SubjectMetrics) {
    into.ok += more.ok;
    for (c, n) in &more.errors {
        *into.errors.entry(*c).or_default() += n;
    }
    let mut b: BTreeMap<u64, u64> = into.latency.buckets.iter().copied().collect();
    for (v, n) in &more.latency.buckets {
        *b.entry(*v).or_default() += n;
    }
    into.latency = SparseLatency {
        buckets: b.into_iter().collect(),
    };
}

/// What agents reported as callers, per (window, subject index).
#[derive(Debug, Default)]
pub struct AgentWindows {
    pub by_window: BTreeMap<(usize, usize), SubjectMetrics>,
}

impl AgentWindows {
    pub fn add(&mut self, window: usize, subject: usize, m: &SubjectMetrics) {
        if m.requests() > 0 {
            add(self.by_window.entry((window, subject)).or_default(), m);
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
            stats.ok += m.ok;
            for (c, n) in &m.errors {
                stats.errors[c.index()] += n;
            }
            let mut l = stats.latency.to_dense();
            l.add_sparse(&m.latency);
            stats.latency = l.to_sparse();
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
            latency: SparseLatency { buckets },
        }
    }

    #[test]
    fn adds_counts_and_buckets() {
        let mut a = m(1, 0, vec![(100, 1)]);
        add(&mut a, &m(2, 1, vec![(100, 2), (5000, 1)]));
        assert_eq!(a, m(3, 1, vec![(100, 3), (5000, 1)]));
    }
}
