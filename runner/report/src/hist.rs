//! Latency histograms: HDR with 3 significant digits, in microseconds.
//!
//! [`Latency`] is the dense form used while recording (fixed memory whatever the number of
//! samples); [`SparseLatency`] keeps only the non-empty buckets, so a run can keep one per
//! timeline window without its memory growing with the number of requests.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency kept exactly: one day. Longer samples are clamped to it.
const MAX_US: u64 = 86_400_000_000;
const SIGFIG: u8 = 3;

#[derive(Debug, Clone)]
pub struct Latency {
    h: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        // Bounds are constants that hdrhistogram accepts; failure would be a programming error.
        #[allow(clippy::expect_used)]
        let h = Histogram::new_with_bounds(1, MAX_US, SIGFIG).expect("valid histogram bounds");
        Latency { h }
    }

    /// Records one sample given in seconds (negative counts as 0, sub-microsecond as 1 us).
    pub fn record_s(&mut self, seconds: f64) {
        self.record_n_s(seconds, 1);
    }

    pub fn record_n_s(&mut self, seconds: f64, n: u64) {
        let us = (seconds * 1e6).round();
        let us = if us.is_finite() {
            us.clamp(1.0, MAX_US as f64) as u64
        } else {
            MAX_US
        };
        self.h.saturating_record_n(us, n);
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    /// Quantile `q` in `0..=1`, in seconds; `None` when empty.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        (!self.is_empty()).then(|| self.h.value_at_quantile(q) as f64 / 1e6)
    }

    pub fn mean_s(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.h.mean() / 1e6)
    }

    pub fn max_s(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.h.max() as f64 / 1e6)
    }

    pub fn min_s(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.h.min() as f64 / 1e6)
    }

    pub fn add(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.h.add(&other.h);
    }

    pub fn add_sparse(&mut self, other: &SparseLatency) {
        for &(us, n) in &other.buckets {
            self.h.saturating_record_n(us, n);
        }
    }

    pub fn to_sparse(&self) -> SparseLatency {
        // Walks the buckets directly, stopping once every sample is found: the simulator
        // closes one window per second of simulated time, and hdrhistogram's generic
        // iterator was most of a run's cost there.
        let mut buckets = Vec::new();
        let total = self.h.len();
        let mut seen = 0;
        let mut v = self.h.min();
        while seen < total {
            let c = self.h.count_at(v);
            if c > 0 {
                buckets.push((self.h.lowest_equivalent(v), c));
                seen += c;
            }
            v = self.h.next_non_equivalent(v);
        }
        SparseLatency { buckets }
    }

    pub fn reset(&mut self) {
        // Clearing zeroes every bucket (~230 KiB); an empty histogram has nothing to clear.
        if !self.h.is_empty() {
            self.h.reset();
        }
    }
}

/// Non-empty buckets of a [`Latency`]: `(lowest value in microseconds, count)`, ascending.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseLatency {
    pub buckets: Vec<(u64, u64)>,
}

impl SparseLatency {
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.1).sum()
    }

    /// Adds one sample (seconds) without re-bucketing; buckets may then repeat or be
    /// unsorted, which [`SparseLatency::to_dense`] does not mind.
    pub fn push_s(&mut self, seconds: f64) {
        let us = (seconds * 1e6).round();
        let us = if us.is_finite() {
            us.clamp(1.0, MAX_US as f64) as u64
        } else {
            MAX_US
        };
        self.buckets.push((us, 1));
    }

    pub fn to_dense(&self) -> Latency {
        let mut l = Latency::new();
        l.add_sparse(self);
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_round_trip_keeps_quantiles() {
        let mut l = Latency::new();
        for i in 1..=10_000u32 {
            l.record_s(f64::from(i) * 1e-4);
        }
        let back = l.to_sparse().to_dense();
        assert_eq!(back.count(), 10_000);
        for q in [0.5, 0.9, 0.99, 0.999] {
            assert_eq!(back.quantile_s(q), l.quantile_s(q));
        }
    }

    #[test]
    fn three_significant_digits() {
        let mut l = Latency::new();
        l.record_s(0.2303);
        let p = l.quantile_s(0.5).unwrap();
        assert!((p - 0.2303).abs() / 0.2303 < 1e-3, "{p}");
    }
}
