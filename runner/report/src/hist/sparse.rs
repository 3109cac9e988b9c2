//! [`SparseLatency`]: a window's non-empty HDR buckets, packed.
//!
//! A run keeps one per subject per timeline window until its report is written: ms-ref-1 at
//! 1M requests keeps 2.2M buckets, which as `(u64, u64)` pairs were 35 MB, more than half the
//! process. Buckets come out of a histogram in ascending order and most counts are small, so
//! each is stored as varints: the distance from the previous bucket's HDR index, then the
//! count, about 2 bytes a bucket. A value that is not the lowest value of its HDR bucket, or
//! comes out of order (a late sample appended by [`SparseLatency::push_s`], a bucket read from
//! another tool's JSON) is stored as itself, so every sequence of `(value, count)` pairs comes
//! back exactly as it went in, and the JSON is the same as the pairs' (`{"buckets": [[v, n],
//! ...]}`).

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Latency, MAX_US, hdr_index, hdr_range, hdr_value, to_us};

/// A bucket's first varint: the index's distance from the previous one, shifted left by one,
/// or [`LITERAL`], followed by the value itself.
const LITERAL: u64 = 1;

/// Non-empty buckets of a histogram: `(lowest value in microseconds, count)`, ascending when
/// they come from [`Latency::to_sparse`] or [`super::WindowLatency::take_sparse`]; in the
/// order given otherwise. Read them with [`SparseLatency::buckets`].
#[derive(Clone, Default)]
pub struct SparseLatency {
    bytes: Vec<u8>,
    /// The counts' sum (saturating), and whether any bucket is stored by value: kept beside
    /// the bytes so that reading a quantile decodes only up to its bucket.
    count: u64,
    literals: bool,
}

impl SparseLatency {
    /// Keeps these `(value in microseconds, count)` pairs, in this order.
    pub fn from_buckets(buckets: impl IntoIterator<Item = (u64, u64)>) -> SparseLatency {
        let mut bytes = Vec::new();
        let mut w = Writer::new(&mut bytes);
        for (v, n) in buckets {
            w.value(v, n);
        }
        w.finish()
    }

    /// The `(value in microseconds, count)` pairs, in the order they were kept.
    pub fn buckets(&self) -> Buckets<'_> {
        Buckets(self.entries())
    }

    /// The pairs as stored: by HDR index (ascending) or by value.
    pub(super) fn entries(&self) -> Entries<'_> {
        Entries {
            bytes: &self.bytes,
            index: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds one sample (seconds) without re-bucketing; buckets may then repeat or be
    /// unsorted, which [`SparseLatency::to_dense`] does not mind.
    pub fn push_s(&mut self, seconds: f64) {
        // A literal does not depend on the buckets before it, so appending needs no decoding.
        put_varint(&mut self.bytes, LITERAL);
        put_varint(&mut self.bytes, to_us(seconds));
        put_varint(&mut self.bytes, 1);
        self.count = self.count.saturating_add(1);
        self.literals = true;
    }

    pub fn to_dense(&self) -> Latency {
        let mut l = Latency::new();
        l.add_sparse(self);
        l
    }

    /// `self.to_dense().quantile_s(q)`, read from the buckets themselves when they are all
    /// stored by index (a window's, as recorded): reports read a quantile or two of every
    /// window of every subject, and a dense histogram costs a merge, a scan and an emptying.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        let [v] = self.quantiles_s([q]);
        v
    }

    /// [`SparseLatency::quantile_s`] of each of `qs`, in one pass over the buckets.
    pub fn quantiles_s<const N: usize>(&self, qs: [f64; N]) -> [Option<f64>; N] {
        let mut ranks = Ranks::new(&qs);
        self.read_ranks(&mut ranks);
        std::array::from_fn(|k| ranks.get(k))
    }

    /// Reads `ranks`' quantiles of these buckets alone (stopping at the last one needed).
    pub fn read_ranks(&self, ranks: &mut Ranks) {
        if self.literals {
            ranks.set_dense(&self.to_dense());
            return;
        }
        ranks.start(self.count);
        let mut entries = self.entries();
        while !ranks.done() {
            let Some((i, n)) = entries.next_index() else {
                break;
            };
            ranks.visit(i, n);
        }
    }

    /// Whether some bucket is stored by value (so its buckets cannot be read by index).
    pub(super) fn has_literals(&self) -> bool {
        self.literals
    }
}

/// A few quantiles read in one pass over ascending HDR buckets, exactly as
/// [`Latency::quantile_s`] reads each: the highest value of the first bucket at which the
/// running count reaches `ceil(q * count)` (at least 1), the lowest for `q == 0`. Reports read
/// two or three quantiles of every window of every subject; one pass, shared by all of them
/// and by the merge into the subject's overall histogram, decodes each bucket once.
#[derive(Debug, Clone)]
pub struct Ranks {
    slots: Vec<Slot>,
    /// The lowest rank not reached yet (`u64::MAX` when every quantile is found).
    next: u64,
    seen: u64,
    count: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// `q`, at most 1.
    q: f64,
    wanted: u64,
    /// What was read: `None` until found (or for an empty histogram), in seconds.
    value: Option<f64>,
    found: bool,
}

impl Ranks {
    pub fn new(qs: &[f64]) -> Ranks {
        Ranks {
            slots: qs
                .iter()
                .map(|&q| Slot {
                    q: q.min(1.0),
                    wanted: 0,
                    value: None,
                    found: false,
                })
                .collect(),
            next: u64::MAX,
            seen: 0,
            count: 0,
        }
    }

    /// Starts reading a histogram of `count` samples.
    pub(super) fn start(&mut self, count: u64) {
        self.seen = 0;
        self.count = count;
        self.next = u64::MAX;
        for s in &mut self.slots {
            s.wanted = ((s.q * count as f64).ceil() as u64).max(1);
            s.value = None;
            s.found = count == 0;
            if !s.found {
                self.next = self.next.min(s.wanted);
            }
        }
    }

    /// The next bucket, ascending: HDR index and count.
    #[inline(always)]
    pub(super) fn visit(&mut self, index: usize, n: u64) {
        self.seen = self.seen.saturating_add(n);
        if self.seen >= self.next && n > 0 {
            self.reach(index);
        }
    }

    /// The rank the next [`Ranks::reached`] is due at (`u64::MAX`: none), for a caller that
    /// keeps the running count itself, in a register.
    pub(super) fn next_rank(&self) -> u64 {
        self.next
    }

    /// The running count reached `seen` at the bucket at `index`, at or past
    /// [`Ranks::next_rank`], with a non-empty bucket: records what it found, gives the next rank.
    #[inline(never)]
    pub(super) fn reached(&mut self, seen: u64, index: usize) -> u64 {
        self.seen = seen;
        self.reach(index);
        self.next
    }

    #[inline(never)]
    fn reach(&mut self, index: usize) {
        self.next = u64::MAX;
        for s in &mut self.slots {
            if s.found {
                continue;
            }
            if self.seen >= s.wanted {
                s.found = true;
                let us = if s.q == 0.0 {
                    hdr_value(index)
                } else {
                    hdr_value(index) + hdr_range(index) - 1
                };
                s.value = Some(us as f64 / 1e6);
            } else {
                self.next = self.next.min(s.wanted);
            }
        }
    }

    pub(super) fn done(&self) -> bool {
        self.next == u64::MAX
    }

    /// Takes the quantiles from a whole histogram instead (buckets stored by value).
    pub(super) fn set_dense(&mut self, l: &Latency) {
        self.start(l.count());
        for s in &mut self.slots {
            s.value = l.quantile_s(s.q);
            s.found = true;
        }
        self.next = u64::MAX;
    }

    /// The `k`th quantile of the histogram read last, in seconds; `None` when it was empty.
    pub fn get(&self, k: usize) -> Option<f64> {
        let s = self.slots.get(k)?;
        // A non-empty histogram whose counts never reach a rank reads as 0, as a dense one does.
        s.value.or((self.count > 0).then_some(0.0))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Fills a [`SparseLatency`] bucket by bucket, in a buffer the caller may reuse.
pub(super) struct Writer<'a> {
    bytes: &'a mut Vec<u8>,
    /// The HDR index of the last bucket written by index (literals leave it as it was).
    index: usize,
    count: u64,
    literals: bool,
}

impl<'a> Writer<'a> {
    pub(super) fn new(bytes: &'a mut Vec<u8>) -> Writer<'a> {
        bytes.clear();
        Writer {
            bytes,
            index: 0,
            count: 0,
            literals: false,
        }
    }

    /// The bucket at HDR `index`, which is not below the previous one's.
    pub(super) fn index(&mut self, index: usize, n: u64) {
        put_varint(self.bytes, ((index - self.index) as u64) << 1);
        put_varint(self.bytes, n);
        self.index = index;
        self.count = self.count.saturating_add(n);
    }

    /// Any value: by index when it is its bucket's lowest value, within a histogram's range
    /// (so that [`Latency::add_sparse`] may count it by index) and in order, else literally.
    pub(super) fn value(&mut self, v: u64, n: u64) {
        let i = hdr_index(v);
        if (1..=MAX_US).contains(&v) && i >= self.index && hdr_value(i) == v {
            self.index(i, n);
        } else {
            put_varint(self.bytes, LITERAL);
            put_varint(self.bytes, v);
            put_varint(self.bytes, n);
            self.count = self.count.saturating_add(n);
            self.literals = true;
        }
    }

    /// What was written, in an allocation of exactly its size (the buffer stays for reuse).
    pub(super) fn finish(self) -> SparseLatency {
        SparseLatency {
            bytes: self.bytes.as_slice().to_vec(),
            count: self.count,
            literals: self.literals,
        }
    }
}

/// Packs buckets by index, as [`Writer::index`] does, into a buffer sized for them in
/// advance ([`IndexPacker::MAX_BUCKET_BYTES`] a bucket). Every window's buckets are packed as
/// it closes; [`Writer`]'s pushes keep the vector's length in memory and check its capacity at
/// each byte, which cost twice the packing itself.
pub(super) struct IndexPacker<'a> {
    buf: &'a mut [u8],
    pos: usize,
    index: usize,
    count: u64,
}

impl<'a> IndexPacker<'a> {
    /// Two varints of a `u64` at most.
    pub(super) const MAX_BUCKET_BYTES: usize = 20;

    pub(super) fn new(buf: &'a mut [u8]) -> IndexPacker<'a> {
        IndexPacker {
            buf,
            pos: 0,
            index: 0,
            count: 0,
        }
    }

    /// The bucket at HDR `index`, which is not below the previous one's.
    #[inline(always)]
    pub(super) fn index(&mut self, index: usize, n: u64) {
        self.varint(((index - self.index) as u64) << 1);
        self.varint(n);
        self.index = index;
        self.count = self.count.saturating_add(n);
    }

    #[inline(always)]
    fn varint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.put((x as u8) | 0x80);
            x >>= 7;
        }
        self.put(x as u8);
    }

    #[inline(always)]
    fn put(&mut self, b: u8) {
        // The buffer has room for every bucket (`MAX_BUCKET_BYTES` each), so this always
        // writes; `finish` checks that nothing was dropped.
        if let Some(slot) = self.buf.get_mut(self.pos) {
            *slot = b;
        }
        self.pos += 1;
    }

    /// What was packed, in an allocation of exactly its size; `None` if the buffer was too
    /// small for it.
    pub(super) fn finish(self) -> Option<SparseLatency> {
        Some(SparseLatency {
            bytes: self.buf.get(..self.pos)?.to_vec(),
            count: self.count,
            literals: false,
        })
    }
}

fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// A stored bucket.
pub(super) enum Entry {
    /// HDR index and count: a bucket's lowest value, in `1..=MAX_US`, above the previous one.
    Index(usize, u64),
    /// Value in microseconds and count.
    Value(u64, u64),
}

/// The buckets of a [`SparseLatency`] as stored, decoded as they are read.
#[derive(Clone)]
pub(super) struct Entries<'a> {
    bytes: &'a [u8],
    index: usize,
}

impl Entries<'_> {
    // Always inlined, like `next`: reports decode millions of buckets, and as calls they
    // cost more than the decoding.
    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        // Most are one byte: counts and distances below 128.
        let (&b, rest) = self.bytes.split_first()?;
        if b < 0x80 {
            self.bytes = rest;
            return Some(u64::from(b));
        }
        let (x, rest) = varint_long(self.bytes)?;
        self.bytes = rest;
        Some(x)
    }
}

/// A varint of two bytes or more, and the bytes after it. It takes and gives back the slice by
/// value: given `&mut Entries`, the decoders' state would have to live in memory rather than in
/// registers, every bucket, for the sake of this rare call.
#[inline(never)]
fn varint_long(mut bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut x = 0u64;
    let mut shift = 0u32;
    loop {
        let (&b, rest) = bytes.split_first()?;
        bytes = rest;
        x |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some((x, bytes));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

impl Entries<'_> {
    /// The next bucket of a histogram with no bucket stored by value: its head is a distance.
    #[inline(always)]
    pub(super) fn next_index(&mut self) -> Option<(usize, u64)> {
        // Most buckets are a distance and a count of one byte each: both read at once.
        if let [a, b, rest @ ..] = self.bytes
            && (a | b) < 0x80
        {
            self.bytes = rest;
            self.index += usize::from(*a >> 1);
            return Some((self.index, u64::from(*b)));
        }
        let head = self.varint()?;
        self.index += (head >> 1) as usize;
        Some((self.index, self.varint()?))
    }
}

impl Iterator for Entries<'_> {
    type Item = Entry;

    #[inline(always)]
    fn next(&mut self) -> Option<Entry> {
        let head = self.varint()?;
        if head == LITERAL {
            let v = self.varint()?;
            Some(Entry::Value(v, self.varint()?))
        } else {
            self.index += (head >> 1) as usize;
            Some(Entry::Index(self.index, self.varint()?))
        }
    }
}

/// The `(value in microseconds, count)` pairs of a [`SparseLatency`].
#[derive(Clone)]
pub struct Buckets<'a>(Entries<'a>);

impl Iterator for Buckets<'_> {
    type Item = (u64, u64);

    #[inline]
    fn next(&mut self) -> Option<(u64, u64)> {
        Some(match self.0.next()? {
            Entry::Index(i, n) => (hdr_value(i), n),
            Entry::Value(v, n) => (v, n),
        })
    }
}

impl PartialEq for SparseLatency {
    /// The same pairs in the same order, however they were stored.
    fn eq(&self, other: &SparseLatency) -> bool {
        self.bytes == other.bytes || self.buckets().eq(other.buckets())
    }
}

impl fmt::Debug for SparseLatency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct List<'a>(&'a SparseLatency);
        impl fmt::Debug for List<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.buckets()).finish()
            }
        }
        f.debug_struct("SparseLatency")
            .field("buckets", &List(self))
            .finish()
    }
}

impl Serialize for SparseLatency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Pairs<'a>(&'a SparseLatency);
        impl Serialize for Pairs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.buckets())
            }
        }
        let mut st = s.serialize_struct("SparseLatency", 1)?;
        st.serialize_field("buckets", &Pairs(self))?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for SparseLatency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SparseLatency, D::Error> {
        /// The stored form, as it is written.
        #[derive(Deserialize)]
        #[serde(rename = "SparseLatency")]
        struct Pairs {
            buckets: Vec<(u64, u64)>,
        }
        Pairs::deserialize(d).map(|p| SparseLatency::from_buckets(p.buckets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The form this type had before it was packed: what the JSON must stay.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Plain {
        buckets: Vec<(u64, u64)>,
    }

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Sorted HDR buckets, values off their buckets' lowest, repeats, disorder, extremes.
    fn samples() -> Vec<Vec<(u64, u64)>> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut hdr: Vec<(u64, u64)> = Vec::new();
        let mut i = 0usize;
        while i < 28_000 {
            hdr.push((hdr_value(i), 1 + xorshift(&mut x) % 3));
            i += 1 + (xorshift(&mut x) % 40) as usize;
        }
        let random: Vec<(u64, u64)> = (0..2000)
            .map(|_| (xorshift(&mut x), xorshift(&mut x)))
            .collect();
        vec![
            vec![],
            vec![(0, 0)],
            vec![(u64::MAX, u64::MAX), (0, 1), (u64::MAX, 0)],
            vec![(1, 1), (1, 1), (2048, 3), (2049, 1), (2048, 2), (1000, 7)],
            hdr.clone(),
            hdr.iter().rev().copied().collect(),
            random,
        ]
    }

    #[test]
    fn keeps_every_sequence_exactly() {
        for pairs in samples() {
            let s = SparseLatency::from_buckets(pairs.clone());
            assert_eq!(s.buckets().collect::<Vec<_>>(), pairs);
            assert_eq!(s.is_empty(), pairs.is_empty());
            let sum = pairs.iter().fold(0u64, |a, b| a.wrapping_add(b.1));
            if pairs.iter().all(|b| b.1 < 1 << 32) {
                assert_eq!(s.count(), sum);
            }
        }
    }

    #[test]
    fn json_and_debug_are_the_pairs() {
        for pairs in samples() {
            let s = SparseLatency::from_buckets(pairs.clone());
            let plain = Plain {
                buckets: pairs.clone(),
            };
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, serde_json::to_string(&plain).unwrap());
            let back: SparseLatency = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s);
            assert_eq!(
                format!("{s:?}"),
                format!("{plain:?}").replace("Plain", "SparseLatency")
            );
        }
    }

    #[test]
    fn sorted_hdr_buckets_take_about_two_bytes() {
        // A millisecond-scale window: neighbouring 1 us buckets with small counts (the first
        // bucket's distance from 0 takes two bytes).
        let pairs: Vec<(u64, u64)> = (1000..1800).map(|v| (v, 1 + v % 5)).collect();
        let s = SparseLatency::from_buckets(pairs.clone());
        assert_eq!(s.bytes.len(), 2 * 800 + 1);
        // Above 2,048 us buckets are 2 us wide, and so on: still two bytes each.
        let wider: Vec<(u64, u64)> = (1..=800).map(|k| (4096 + 4 * k, 1)).collect();
        let s = SparseLatency::from_buckets(wider.clone());
        assert_eq!(s.buckets().collect::<Vec<_>>(), wider);
        assert_eq!(s.bytes.len(), 2 * 800 + 1);
    }

    #[test]
    fn quantiles_are_the_dense_histograms() {
        let qs = [
            0.0,
            1e-9,
            0.001,
            0.25,
            0.5,
            0.9,
            0.99,
            0.999,
            1.0,
            1.5,
            f64::NAN,
        ];
        let mut cases = samples();
        // A window as recorded, and one with a late sample appended (read densely).
        let mut window = super::super::WindowLatency::new();
        for k in 1..5000u32 {
            window.record_s(f64::from(k % 997) * 1.7e-4 + f64::from(k % 7) * 0.3);
        }
        let recorded = window.take_sparse();
        cases.push(recorded.buckets().collect());
        let mut late = recorded.clone();
        late.push_s(0.0123);
        // Counts that sum past u64 are left out: the dense histogram's running sum overflows.
        let summable = cases
            .into_iter()
            .filter(|pairs| pairs.iter().all(|b| b.1 < 1 << 32))
            .map(SparseLatency::from_buckets);
        for s in [recorded, late].into_iter().chain(summable) {
            let dense = s.to_dense();
            for q in qs {
                assert_eq!(s.quantile_s(q), dense.quantile_s(q), "q = {q}");
            }
            let both = [0.99, 0.5];
            assert_eq!(s.quantiles_s(both), both.map(|q| dense.quantile_s(q)));
            assert_eq!(s.count(), dense.count());
        }
    }

    #[test]
    fn late_samples_append_after_packed_buckets() {
        let mut s = SparseLatency::from_buckets([(100, 2), (5000, 1)]);
        s.push_s(0.0001);
        s.push_s(0.0000015);
        s.push_s(-1.0);
        assert_eq!(
            s.buckets().collect::<Vec<_>>(),
            [(100, 2), (5000, 1), (100, 1), (2, 1), (1, 1)]
        );
        assert_eq!(s.count(), 6);
        let by_value = SparseLatency::from_buckets(s.buckets());
        assert_eq!(by_value, s, "equal whatever the storage");
    }
}
