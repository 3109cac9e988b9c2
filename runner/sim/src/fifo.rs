//! A FIFO in fixed-size blocks, for the timeout lanes.
//!
//! A `VecDeque` is a ring: as its head and tail go round, every slot of its capacity gets
//! written, so a lane that once held 138k timers keeps a 262k-slot buffer resident for the
//! rest of the run (6.3 MB in ms-ref-1 at 1M requests). Here memory follows the entries
//! actually waiting: a block is handed back as soon as its last entry has left, and one spare
//! is kept so a lane that hovers around a block boundary does not allocate on every push.

use std::collections::VecDeque;

/// Entries per block: 4 KiB blocks of 16-byte entries.
const BLOCK: usize = 256;

/// Read from `front`, written to `back`, full blocks in between: a push and a pop each touch
/// one `Vec` on their common path.
#[derive(Debug)]
pub(crate) struct Fifo<T> {
    /// The block being read; entries before `head` have left.
    front: Vec<T>,
    head: usize,
    middle: VecDeque<Vec<T>>,
    /// The block being written.
    back: Vec<T>,
    spare: Option<Vec<T>>,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo {
            front: Vec::new(),
            head: 0,
            middle: VecDeque::new(),
            back: Vec::new(),
            spare: None,
        }
    }
}

impl<T: Copy> Fifo<T> {
    #[inline]
    pub(crate) fn push_back(&mut self, value: T) {
        if self.back.len() == self.back.capacity() {
            self.new_back();
        }
        self.back.push(value);
    }

    #[cold]
    fn new_back(&mut self) {
        let fresh = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(BLOCK));
        let full = std::mem::replace(&mut self.back, fresh);
        if !full.is_empty() {
            self.middle.push_back(full);
        }
    }

    #[inline]
    pub(crate) fn front(&self) -> Option<&T> {
        self.front
            .get(self.head)
            .or_else(|| self.middle.front().map_or(self.back.first(), |b| b.first()))
    }

    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.head >= self.front.len() && !self.next_front() {
            return None;
        }
        let value = *self.front.get(self.head)?;
        self.head += 1;
        Some(value)
    }

    /// The front block is read: hands it back and reads the next (false: nothing left).
    #[cold]
    fn next_front(&mut self) -> bool {
        let next = match self.middle.pop_front() {
            Some(b) => b,
            None if self.back.is_empty() => return false,
            // The block being written becomes the one read; the next push starts another.
            None => std::mem::take(&mut self.back),
        };
        let mut done = std::mem::replace(&mut self.front, next);
        if done.capacity() > 0 {
            done.clear();
            self.spare = Some(done);
        }
        self.head = 0;
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.front.len() - self.head
            + self.middle.iter().map(Vec::len).sum::<usize>()
            + self.back.len()
    }

    /// Blocks holding entries or being read.
    #[cfg(test)]
    fn blocks(&self) -> usize {
        usize::from(self.head < self.front.len())
            + self.middle.len()
            + usize::from(!self.back.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_vecdeque() {
        let mut f = Fifo::default();
        let mut d = VecDeque::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = 0u32;
        for round in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Phases of growth and of draining, across block boundaries and to empty.
            let pushes = if (round / 500) % 2 == 0 { x % 4 } else { x % 2 };
            for _ in 0..pushes {
                f.push_back(next);
                d.push_back(next);
                next += 1;
            }
            if !x.is_multiple_of(3) {
                assert_eq!(f.pop_front(), d.pop_front());
            }
            assert_eq!(f.front(), d.front());
            assert_eq!(f.len(), d.len());
        }
        while let Some(v) = d.pop_front() {
            assert_eq!(f.pop_front(), Some(v));
        }
        assert_eq!(f.pop_front(), None);
        assert_eq!(f.front(), None);
    }

    #[test]
    fn keeps_only_the_blocks_in_use() {
        let mut f = Fifo::default();
        for i in 0..10 * BLOCK {
            f.push_back(i);
        }
        assert_eq!(f.blocks(), 10);
        for _ in 0..9 * BLOCK + 1 {
            f.pop_front();
        }
        assert_eq!(f.blocks(), 1, "finished blocks are handed back");
        assert_eq!(f.middle.len(), 0);
        for _ in 0..BLOCK - 1 {
            f.pop_front();
        }
        assert_eq!(f.blocks(), 0);
        f.push_back(7);
        assert_eq!(f.pop_front(), Some(7));
        assert_eq!(f.blocks(), 0);
        assert!(f.spare.is_some());
    }
}
