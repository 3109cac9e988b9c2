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

#[derive(Debug)]
pub(crate) struct Fifo<T> {
    blocks: VecDeque<Vec<T>>,
    /// Entries of the front block already taken.
    head: usize,
    spare: Option<Vec<T>>,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo {
            blocks: VecDeque::new(),
            head: 0,
            spare: None,
        }
    }
}

impl<T: Copy> Fifo<T> {
    pub(crate) fn push_back(&mut self, value: T) {
        match self.blocks.back_mut() {
            Some(b) if b.len() < BLOCK => b.push(value),
            _ => {
                let mut b = self
                    .spare
                    .take()
                    .unwrap_or_else(|| Vec::with_capacity(BLOCK));
                b.push(value);
                self.blocks.push_back(b);
            }
        }
    }

    pub(crate) fn front(&self) -> Option<&T> {
        self.blocks.front().and_then(|b| b.get(self.head))
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let front = self.blocks.front()?;
        let value = *front.get(self.head)?;
        self.head += 1;
        // Every block but the back one is full, so a front block read to its end is either
        // full and done, or the only block: empty either way, and handed back.
        if self.head == front.len() {
            self.head = 0;
            if let Some(mut b) = self.blocks.pop_front() {
                b.clear();
                self.spare = Some(b);
            }
        }
        Some(value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum::<usize>() - self.head
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
        assert_eq!(f.blocks.len(), 10);
        for _ in 0..9 * BLOCK + 1 {
            f.pop_front();
        }
        assert_eq!(f.blocks.len(), 1, "finished blocks are handed back");
        for _ in 0..BLOCK - 1 {
            f.pop_front();
        }
        assert!(f.blocks.is_empty());
        f.push_back(7);
        assert_eq!(f.pop_front(), Some(7));
        assert!(f.blocks.is_empty() && f.spare.is_some());
    }
}
