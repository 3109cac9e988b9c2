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

/// Seconds to whole microseconds within the histogram's range (sub-microsecond counts as 1 us).
fn to_us(seconds: f64) -> u64 {
    let us = seconds * 1e6;
    if us.is_finite() {
        // Clamping first is exact (the bounds are integers); then rounding half away from
        // zero by hand: below 2^53 `c - trunc(c)` is exact, and this avoids a libm call.
        let c = us.clamp(1.0, MAX_US as f64);
        let whole = c as u64;
        if c - whole as f64 >= 0.5 {
            whole + 1
        } else {
            whole
        }
    } else {
        MAX_US
    }
}

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
        self.h.saturating_record_n(to_us(seconds), n);
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
        self.buckets.push((to_us(seconds), 1));
    }

    pub fn to_dense(&self) -> Latency {
        let mut l = Latency::new();
        l.add_sparse(self);
        l
    }
}

/// HDR bucketing for 3 significant digits and a unit of 1 us: 2048 sub-buckets, of which each
/// bucket after the first uses the upper half. Identical to hdrhistogram's, so a
/// [`WindowLatency`]'s sparse buckets are exactly what a [`Latency`] would have produced.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF: u64 = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = 2 * SUB_BUCKET_HALF - 1;

fn hdr_index(us: u64) -> usize {
    let bucket = 64 - (us | SUB_BUCKET_MASK).leading_zeros() - (SUB_BUCKET_HALF_MAGNITUDE + 1);
    let sub = us >> bucket;
    (((bucket as u64 + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub - SUB_BUCKET_HALF) as usize
}

/// The lowest value of the bucket at `index`.
fn hdr_value(index: usize) -> u64 {
    let index = index as u64;
    let bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let sub = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 {
        sub - SUB_BUCKET_HALF
    } else {
        sub << bucket
    }
}

/// The histogram of the timeline window being filled. It remembers which buckets it touched,
/// so closing a window costs what the window recorded rather than clearing a whole dense
/// histogram (~230 KiB) per subject per window: that clearing was a quarter of a simulation.
/// The touched buckets are bits of a bitmap (one word per 64 buckets, ~3.4 KiB), which gives
/// them in ascending order without sorting.
#[derive(Debug, Clone)]
pub struct WindowLatency {
    counts: Vec<u64>,
    touched: Vec<u64>,
    n_touched: usize,
}

impl Default for WindowLatency {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowLatency {
    pub fn new() -> Self {
        let n = hdr_index(MAX_US) + 1;
        WindowLatency {
            counts: vec![0; n],
            touched: vec![0; n.div_ceil(64)],
            n_touched: 0,
        }
    }

    pub fn record_s(&mut self, seconds: f64) {
        let i = hdr_index(to_us(seconds));
        if let Some(c) = self.counts.get_mut(i) {
            if *c == 0 {
                if let Some(w) = self.touched.get_mut(i / 64) {
                    *w |= 1 << (i % 64);
                }
                self.n_touched += 1;
            }
            *c += 1;
        }
    }

    /// The window's non-empty buckets, ascending; leaves the histogram empty.
    pub fn take_sparse(&mut self) -> SparseLatency {
        let mut buckets = Vec::with_capacity(self.n_touched);
        if self.n_touched > 0 {
            for (w, word) in self.touched.iter_mut().enumerate() {
                let mut bits = std::mem::take(word);
                while bits != 0 {
                    let i = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let n = self.counts.get_mut(i).map_or(0, std::mem::take);
                    buckets.push((hdr_value(i), n));
                }
            }
        }
        self.n_touched = 0;
        SparseLatency { buckets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_us_rounds_like_f64_round() {
        let reference = |seconds: f64| {
            let us = (seconds * 1e6).round();
            if us.is_finite() {
                us.clamp(1.0, MAX_US as f64) as u64
            } else {
                MAX_US
            }
        };
        let mut samples = vec![
            0.0,
            -0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.5e-6,
            1.5e-6,
            2.5e-6,
            f64::from_bits(0.5f64.to_bits() - 1) * 1e-6,
            MAX_US as f64 / 1e6,
            MAX_US as f64 / 1e6 * 3.0,
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Halves and near-halves of every magnitude, and arbitrary bit patterns.
            let k = (x >> 20) % 2_000_000_000;
            samples.push((k as f64 + 0.5) / 1e6);
            samples.push(f64::from_bits(x));
            samples.push((x % 10_000_000) as f64 * 1e-9);
        }
        for s in samples {
            assert_eq!(to_us(s), reference(s), "{s:e}");
        }
    }

    #[test]
    fn window_buckets_are_hdr_buckets() {
        let mut dense = Latency::new();
        let mut window = WindowLatency::new();
        // Every magnitude from 1 us to the clamp, with values on and between bucket edges.
        let mut us = 1u64;
        while us < MAX_US * 2 {
            for v in [us, us + 1, us * 3 / 2, us.saturating_sub(1).max(1)] {
                let s = v as f64 / 1e6;
                dense.record_s(s);
                window.record_s(s);
            }
            us = us * 7 / 5 + 1;
        }
        assert_eq!(window.take_sparse(), dense.to_sparse());
        assert_eq!(
            window.take_sparse(),
            SparseLatency::default(),
            "taking empties it"
        );
    }

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
