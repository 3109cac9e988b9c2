//! Turning agents' cumulative metrics into per-window figures and merging them into the
//! Recording the load generator filled.

use std::collections::BTreeMap;

use chaos_agent::SubjectMetrics;
use chaos_report::{Recording, SubjectKey};

/// What agents reported as callers, per (window, subject index).
#[derive(Debug, Default)]
pub struct AgentWindows {
    pub by_window: BTreeMap<(usize, usize), SubjectMetrics>,
}

impl AgentWindows {
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
    use chaos_report::{Cause, SparseLatency};

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
        a.add(&m(2, 1, vec![(100, 2), (5000, 1)]));
        assert_eq!(a, m(3, 1, vec![(100, 3), (5000, 1)]));
    }
}
