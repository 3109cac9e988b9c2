//! Latency histograms: HDR with 3 significant digits, in microseconds.
//!
//! [`Latency`] is the dense form used while recording (fixed memory whatever the number of
//! samples); [`SparseLatency`] keeps only the non-empty buckets, so a run can keep one per
//! timeline window without its memory growing with the number of requests.

mod sparse;

pub use sparse::{Buckets, Ranks, SparseLatency};
use sparse::{Entry, IndexPacker, Writer};

/// Highest latency kept exactly: one day. Longer samples are clamped to it.
const MAX_US: u64 = 86_400_000_000;
/// 3 significant digits: the resolution the HDR buckets below give (and the reference's).
#[cfg(test)]
const SIGFIG: u8 = 3;

/// Seconds to whole microseconds within the histogram's range (sub-microsecond counts as 1 us).
fn to_us(seconds: f64) -> u64 {
    let us = seconds * 1e6;
    if us.is_finite() {
        // Clamping first is exact (the bounds are integers); then rounding half away from
        // zero by hand: below 2^53 `c - trunc(c)` is exact, and this avoids a libm call.
        // Through `i64`, which the clamped value fits: x86-64 converts signed integers to and
        // from floats in one instruction each, unsigned ones in about ten (every recorded
        // attempt comes here).
        let c = us.clamp(1.0, MAX_US as f64);
        let whole = c as i64;
        let rounded = if c - whole as f64 >= 0.5 {
            whole + 1
        } else {
            whole
        };
        rounded.unsigned_abs()
    } else {
        MAX_US
    }
}

/// A whole histogram (any number of windows merged). Dense counts indexed by HDR bucket, plus
/// a bitmap of the non-empty buckets: reports build one per subject per window (thousands per
/// run), so emptying it and reading quantiles cost what it holds, not its ~220 KiB. Every
/// figure is computed exactly as hdrhistogram 7 computes it (tests compare them).
#[derive(Debug, Clone)]
pub struct Latency {
    counts: Vec<u64>,
    touched: Vec<u64>,
    /// The words of `touched` that may have bits set: a window's buckets span a few dozen
    /// words of ~430, and reports read and empty one aggregate per window.
    words: std::ops::Range<usize>,
    total: u64,
    /// Lowest and highest value recorded, in microseconds (`u64::MAX` and 0 when empty).
    min_us: u64,
    max_us: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        let n = hdr_index(MAX_US) + 1;
        Latency {
            counts: vec![0; n],
            touched: vec![0; n.div_ceil(64)],
            words: 0..0,
            total: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }

    /// Adds `n` to the bucket at `index` (within the histogram).
    #[inline]
    fn add_at(&mut self, index: usize, n: u64) {
        if let Some(c) = self.counts.get_mut(index) {
            if *c == 0 {
                let w = index / 64;
                if let Some(word) = self.touched.get_mut(w) {
                    *word |= 1 << (index % 64);
                }
                if self.words.is_empty() {
                    self.words = w..w + 1;
                } else {
                    self.words = self.words.start.min(w)..self.words.end.max(w + 1);
                }
            }
            *c = c.saturating_add(n);
        }
    }

    /// Records one sample given in seconds (negative counts as 0, sub-microsecond as 1 us).
    pub fn record_s(&mut self, seconds: f64) {
        self.record_n_s(seconds, 1);
    }

    pub fn record_n_s(&mut self, seconds: f64, n: u64) {
        self.record_us(to_us(seconds), n);
    }

    /// `us` within `1..=MAX_US` (clamped otherwise, as hdrhistogram's saturating record does).
    fn record_us(&mut self, us: u64, n: u64) {
        let us = us.clamp(1, MAX_US);
        self.add_at(hdr_index(us), n);
        self.max_us = self.max_us.max(us);
        self.min_us = self.min_us.min(us);
        self.total = self.total.saturating_add(n);
    }

    /// Non-empty buckets in ascending order: (index, count).
    fn buckets(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let words = self.touched.get(self.words.clone()).unwrap_or_default();
        let first = self.words.start;
        words.iter().enumerate().flat_map(move |(w, &word)| {
            let w = first + w;
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(i)
            })
            .map(|i| (i, self.counts.get(i).copied().unwrap_or(0)))
            .filter(|&(_, c)| c > 0)
        })
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Quantile `q` in `0..=1`, in seconds; `None` when empty. As hdrhistogram: the highest
    /// value of the first bucket at which the running count reaches `ceil(q * count)` (at
    /// least 1); for `q == 0` the lowest value of that bucket.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let q = q.min(1.0);
        let wanted = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        let us = self
            .buckets()
            .find(|&(_, c)| {
                seen += c;
                seen >= wanted
            })
            .map_or(0, |(i, _)| {
                if q == 0.0 {
                    hdr_value(i)
                } else {
                    hdr_value(i) + hdr_range(i) - 1
                }
            });
        Some(us as f64 / 1e6)
    }

    /// The mean of the buckets' midpoints, summed in hdrhistogram's order and rounding.
    pub fn mean_s(&self) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let total = self.total as f64;
        let mean = self.buckets().fold(0.0_f64, |acc, (i, c)| {
            let median = hdr_value(i) + (hdr_range(i) >> 1);
            acc + median as f64 * c as f64 / total
        });
        Some(mean / 1e6)
    }

    /// The highest value of the highest sample's bucket.
    pub fn max_s(&self) -> Option<f64> {
        (!self.is_empty()).then(|| {
            let i = hdr_index(self.max_us);
            (hdr_value(i) + hdr_range(i) - 1) as f64 / 1e6
        })
    }

    /// The lowest value of the lowest sample's bucket.
    pub fn min_s(&self) -> Option<f64> {
        (!self.is_empty()).then(|| hdr_value(hdr_index(self.min_us)) as f64 / 1e6)
    }

    pub fn add(&mut self, other: &Latency) {
        for (i, c) in other.buckets() {
            self.record_us(hdr_value(i), c);
        }
        if !other.is_empty() {
            // The extremes themselves, not their buckets' lowest values, as hdrhistogram keeps.
            self.max_us = self.max_us.max(other.max_us);
            self.min_us = self.min_us.min(other.min_us);
        }
    }

    pub fn add_sparse(&mut self, other: &SparseLatency) {
        if other.has_literals() {
            self.add_entries(other);
            return;
        }
        if let Some((lo, hi)) = self.add_indexed(other, |_, _| {}) {
            self.added_indices(lo, hi, other.count());
        }
    }

    /// [`Latency::add_sparse`] and [`SparseLatency::read_ranks`] of `other` in one pass: a
    /// report sums a subject's windows and reads each window's own quantiles too.
    pub fn add_sparse_reading(&mut self, other: &SparseLatency, ranks: &mut Ranks) {
        if other.has_literals() {
            self.add_entries(other);
            other.read_ranks(ranks);
            return;
        }
        ranks.start(other.count());
        // The running count and the next rank due in locals (registers), as `Ranks::visit`
        // keeps them in `ranks`.
        let mut seen = 0u64;
        let mut next = ranks.next_rank();
        let visit = |i: usize, n: u64| {
            seen = seen.saturating_add(n);
            if seen >= next && n > 0 {
                next = ranks.reached(seen, i);
            }
        };
        if let Some((lo, hi)) = self.add_indexed(other, visit) {
            self.added_indices(lo, hi, other.count());
        }
    }

    /// Adds the buckets of `other`, all stored by index, to their counters and marks them
    /// touched, calling `visit` with each; leaves `words`, the total and the extremes to
    /// [`Latency::added_indices`] (a sparse histogram's buckets ascend, so its first and last
    /// give them once instead of per bucket). The first and last index, if any.
    #[inline(always)]
    fn add_indexed(
        &mut self,
        other: &SparseLatency,
        mut visit: impl FnMut(usize, u64),
    ) -> Option<(usize, usize)> {
        // The slices in locals: a store into a counter cannot move them, so they stay in
        // registers instead of being reloaded from `self` for every bucket.
        let counts = self.counts.as_mut_slice();
        let touched = self.touched.as_mut_slice();
        let mut bump = |index: usize, n: u64| {
            if let (Some(c), Some(word)) = (counts.get_mut(index), touched.get_mut(index / 64)) {
                *c = c.saturating_add(n);
                *word |= 1 << (index % 64);
            }
        };
        let mut entries = other.entries();
        let (lo, n) = entries.next_index()?;
        bump(lo, n);
        visit(lo, n);
        let mut hi = lo;
        while let Some((i, n)) = entries.next_index() {
            bump(i, n);
            visit(i, n);
            hi = i;
        }
        Some((lo, hi))
    }

    /// After [`Latency::add_indexed`] of buckets from `lo` to `hi` (by index) holding `count` samples:
    /// what [`Latency::record_us`] of each bucket's lowest value would have left.
    fn added_indices(&mut self, lo: usize, hi: usize, count: u64) {
        // Saturating sums of counts are the same whatever the grouping.
        self.total = self.total.saturating_add(count);
        self.min_us = self.min_us.min(hdr_value(lo));
        self.max_us = self.max_us.max(hdr_value(hi));
        let n = self.counts.len();
        if lo < n {
            let (first, last) = (lo / 64, hi.min(n - 1) / 64 + 1);
            self.words = if self.words.is_empty() {
                first..last
            } else {
                self.words.start.min(first)..self.words.end.max(last)
            };
        }
    }

    /// [`Latency::add_sparse`] of buckets some of which are stored by value, entry by entry.
    fn add_entries(&mut self, other: &SparseLatency) {
        // Buckets stored by index go straight to their counter, as `record_us` of their
        // lowest value would; they ascend, so the first and last give the extremes.
        let mut by_index: Option<(usize, usize)> = None;
        for e in other.entries() {
            match e {
                Entry::Index(i, n) => {
                    self.add_at(i, n);
                    self.total = self.total.saturating_add(n);
                    by_index = Some(by_index.map_or((i, i), |(lo, _)| (lo, i)));
                }
                Entry::Value(us, n) => self.record_us(us, n),
            }
        }
        if let Some((lo, hi)) = by_index {
            self.min_us = self.min_us.min(hdr_value(lo));
            self.max_us = self.max_us.max(hdr_value(hi));
        }
    }

    pub fn to_sparse(&self) -> SparseLatency {
        let mut bytes = Vec::new();
        let mut w = Writer::new(&mut bytes);
        for (i, c) in self.buckets() {
            w.index(i, c);
        }
        w.finish()
    }

    /// Empties it, touching only the buckets it used.
    pub fn reset(&mut self) {
        if self.total == 0 && self.min_us == u64::MAX {
            return;
        }
        let first = self.words.start;
        let words = self.touched.get_mut(self.words.clone()).unwrap_or_default();
        for (w, word) in words.iter_mut().enumerate() {
            let w = first + w;
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(c) = self.counts.get_mut(i) {
                    *c = 0;
                }
            }
        }
        self.words = 0..0;
        self.total = 0;
        self.min_us = u64::MAX;
        self.max_us = 0;
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

/// The width of the bucket at `index` (1 us up to 2048 us, then doubling per bucket).
fn hdr_range(index: usize) -> u64 {
    let bucket = ((index as u64) >> SUB_BUCKET_HALF_MAGNITUDE).saturating_sub(1);
    1 << bucket
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
    /// Where a window's buckets are packed before they are copied out at their exact size.
    scratch: Vec<u8>,
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
            scratch: Vec::new(),
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
        let room = self.n_touched * IndexPacker::MAX_BUCKET_BYTES;
        if self.scratch.len() < room {
            self.scratch.resize(room, 0);
        }
        let mut w = IndexPacker::new(&mut self.scratch);
        // The bits set are the `n_touched` buckets: the words past the last one are not read
        // (a window's buckets span a few dozen words of ~430).
        let mut left = self.n_touched;
        for (k, word) in self.touched.iter_mut().enumerate() {
            if left == 0 {
                break;
            }
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let i = k * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let n = self.counts.get_mut(i).map_or(0, std::mem::take);
                w.index(i, n);
                left = left.saturating_sub(1);
            }
        }
        self.n_touched = 0;
        // The buffer holds `MAX_BUCKET_BYTES` for each of the `n_touched` buckets.
        w.finish().unwrap_or_default()
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
        let mut dense = reference();
        let mut window = WindowLatency::new();
        // Every magnitude from 1 us to the clamp, with values on and between bucket edges.
        let mut us = 1u64;
        while us < MAX_US * 2 {
            for v in [us, us + 1, us * 3 / 2, us.saturating_sub(1).max(1)] {
                let s = v as f64 / 1e6;
                dense.saturating_record_n(to_us(s), 1);
                window.record_s(s);
            }
            us = us * 7 / 5 + 1;
        }
        let want: Vec<(u64, u64)> = dense
            .iter_recorded()
            .map(|v| {
                (
                    dense.lowest_equivalent(v.value_iterated_to()),
                    v.count_at_value(),
                )
            })
            .collect();
        assert_eq!(window.take_sparse().buckets().collect::<Vec<_>>(), want);
        assert_eq!(
            window.take_sparse(),
            SparseLatency::default(),
            "taking empties it"
        );
    }

    #[test]
    fn window_packs_large_counts_and_distances() {
        // Counts and index distances of one, two and three varint bytes, and a second window
        // taken from the same (reused) buffer.
        let mut window = WindowLatency::new();
        let mut want = Vec::new();
        for (us, n) in [
            (1u64, 1u64),
            (2, 127),
            (3, 128),
            (5000, 20_000),
            (MAX_US, 3),
        ] {
            for _ in 0..n {
                window.record_s(us as f64 / 1e6);
            }
            want.push((hdr_value(hdr_index(us)), n));
        }
        let s = window.take_sparse();
        assert_eq!(s.buckets().collect::<Vec<_>>(), want);
        assert_eq!(s.count(), want.iter().map(|b| b.1).sum::<u64>());
        window.record_s(0.5);
        let again = window.take_sparse();
        assert_eq!(again.buckets().count(), 1);
        assert_eq!(again.count(), 1);
    }

    /// hdrhistogram 7, as `Latency` was before it kept its own buckets: the reference.
    fn reference() -> hdrhistogram::Histogram<u64> {
        hdrhistogram::Histogram::new_with_bounds(1, MAX_US, SIGFIG).unwrap()
    }

    /// Every figure a report reads, side by side with hdrhistogram's.
    fn assert_same(l: &Latency, h: &hdrhistogram::Histogram<u64>) {
        assert_eq!(l.count(), h.len());
        if h.is_empty() {
            assert!(l.is_empty());
            return;
        }
        for q in [
            0.0, 1e-9, 0.001, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0, 1.5,
        ] {
            let want = h.value_at_quantile(q) as f64 / 1e6;
            assert_eq!(l.quantile_s(q), Some(want), "q = {q}");
        }
        assert_eq!(l.mean_s(), Some(h.mean() / 1e6), "mean bit for bit");
        assert_eq!(l.max_s(), Some(h.max() as f64 / 1e6));
        assert_eq!(l.min_s(), Some(h.min() as f64 / 1e6));
        let mut buckets = Vec::new();
        for v in h.iter_recorded() {
            buckets.push((
                h.lowest_equivalent(v.value_iterated_to()),
                v.count_at_value(),
            ));
        }
        assert_eq!(l.to_sparse().buckets().collect::<Vec<_>>(), buckets);
    }

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn figures_are_hdrhistograms() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut l = Latency::new();
        let mut h = reference();
        assert_same(&l, &h);
        for round in 0..6 {
            // Few samples then many, narrow spreads then every magnitude, repeated counts.
            for _ in 0..(10u64.pow(round % 4 + 1)) {
                let r = xorshift(&mut x);
                let seconds = match round % 3 {
                    0 => (r % 5000) as f64 * 1e-6,
                    1 => (r % 1_000_000) as f64 * 1e-3 * 3.7,
                    _ => f64::from_bits(0x3e00_0000_0000_0000 | (r >> 14)),
                };
                let n = 1 + (r >> 60);
                l.record_n_s(seconds, n);
                h.saturating_record_n(to_us(seconds), n);
            }
            assert_same(&l, &h);
            // Merging, as reports do: sparse windows into one, then whole histograms.
            let sparse = l.to_sparse();
            let mut merged = Latency::new();
            merged.add_sparse(&sparse);
            merged.add(&l);
            let mut hm = reference();
            for (us, n) in sparse.buckets() {
                hm.saturating_record_n(us, n);
            }
            hm.add(&h).unwrap();
            assert_same(&merged, &hm);
            if round % 2 == 1 {
                l.reset();
                h.reset();
                assert_same(&l, &h);
            }
        }
    }

    #[test]
    fn reset_reuses_cleanly() {
        let mut l = Latency::new();
        l.record_s(5.0);
        l.record_s(0.001);
        l.reset();
        assert!(l.is_empty());
        assert_eq!(l.quantile_s(0.5), None);
        assert_eq!(l.to_sparse(), SparseLatency::default());
        l.record_s(0.002);
        assert_eq!(l.max_s(), l.min_s());
        assert_eq!(l.quantile_s(1.0), Some(0.002));
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
