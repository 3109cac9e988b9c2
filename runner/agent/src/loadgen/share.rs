//! One load generator's share of the load when several run together (`chaos loadgen --share
//! I/N`, one per Pod of an Indexed Job): every generator draws the same arrival stream from the
//! seed and sends arrival `k` only if `k mod N == I`, so the shares partition the stream
//! exactly, whatever the arrival process; closed-loop user `u` belongs to generator `u mod N`.

use std::fmt;
use std::str::FromStr;

/// Generator `index` of `of` (`index < of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    index: u32,
    of: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("expected I/N with 0 <= I < N (this generator's index of N), found `{0}`")]
    Malformed(String),
}

impl Share {
    /// All of the load: one generator alone.
    pub const WHOLE: Share = Share { index: 0, of: 1 };

    pub fn new(index: u32, of: u32) -> Result<Share, ShareError> {
        if of == 0 || index >= of {
            return Err(ShareError::Malformed(format!("{index}/{of}")));
        }
        Ok(Share { index, of })
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many generators share the load.
    pub fn of(&self) -> u32 {
        self.of
    }

    /// Whether arrival (or user) number `k` of a stream is this generator's to send.
    pub fn takes(&self, k: u64) -> bool {
        k % u64::from(self.of) == u64::from(self.index)
    }

    /// The next of `draw`'s items that is this generator's; `drawn` counts every item drawn
    /// from the stream so far (ours and the others').
    pub fn next_of<T>(&self, drawn: &mut u64, mut draw: impl FnMut() -> Option<T>) -> Option<T> {
        loop {
            let item = draw()?;
            let k = *drawn;
            *drawn += 1;
            if self.takes(k) {
                return Some(item);
            }
        }
    }
}

impl Default for Share {
    fn default() -> Share {
        Share::WHOLE
    }
}

impl FromStr for Share {
    type Err = ShareError;

    fn from_str(s: &str) -> Result<Share, ShareError> {
        let malformed = || ShareError::Malformed(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(malformed)?;
        let i = i.trim().parse().map_err(|_| malformed())?;
        let n = n.trim().parse().map_err(|_| malformed())?;
        Share::new(i, n).map_err(|_| malformed())
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shares_partition_a_stream_exactly() {
        let stream: Vec<u64> = (0..1000).map(|k| k * 7 + 3).collect();
        for n in 1..=5u32 {
            let mut taken: Vec<u64> = Vec::new();
            for i in 0..n {
                let share = Share::new(i, n).unwrap();
                let mut it = stream.iter().copied();
                let mut drawn = 0;
                let mine: Vec<u64> =
                    std::iter::from_fn(|| share.next_of(&mut drawn, || it.next())).collect();
                assert_eq!(drawn, 1000, "every share reads the whole stream");
                // Even shares: sizes differ by at most one.
                assert!(
                    mine.len().abs_diff(1000 / n as usize) <= 1,
                    "{n}: {}",
                    mine.len()
                );
                taken.extend(mine);
            }
            // Every arrival to exactly one generator.
            taken.sort_unstable();
            assert_eq!(taken, stream, "{n} generators");
        }
    }

    #[test]
    fn users_go_round_robin() {
        let share = Share::new(1, 3).unwrap();
        let mine: Vec<u64> = (0..10).filter(|&u| share.takes(u)).collect();
        assert_eq!(mine, vec![1, 4, 7]);
        assert!((0..10).all(|u| Share::WHOLE.takes(u)));
    }

    #[test]
    fn parses_index_of_n() {
        assert_eq!("2/3".parse::<Share>(), Ok(Share::new(2, 3).unwrap()));
        assert_eq!(" 0 / 1 ".parse::<Share>(), Ok(Share::WHOLE));
        for bad in [
            "3/3",
            "1/0",
            "x/2",
            "1",
            "-1/2",
            "$(JOB_COMPLETION_INDEX)/2",
            "",
        ] {
            assert!(bad.parse::<Share>().is_err(), "{bad}");
        }
        assert_eq!(Share::new(1, 4).unwrap().to_string(), "1/4");
    }
}
