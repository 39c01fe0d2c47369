//! A range of frames as the fewest naturally aligned power-of-two blocks: the shape
//! a buddy allocator can hand out at a fixed place (each block starts at a multiple
//! of its own size).

/// The blocks `(first, count)` that together cover frames `[first, first + count)`,
/// in address order, each `count` a power of two and `first` a multiple of it.
#[derive(Clone, Debug)]
pub struct AlignedBlocks {
    next: u64,
    end: u64,
}

impl AlignedBlocks {
    /// The blocks of frames `[first, first + count)`; empty if the range would pass
    /// the end of the frame numbers.
    pub fn new(first: u64, count: u64) -> Self {
        let end = first.checked_add(count).unwrap_or(first);
        Self { next: first, end }
    }
}

impl Iterator for AlignedBlocks {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        let left = self.end.checked_sub(self.next).filter(|&n| n > 0)?;
        // The largest power of two the start is aligned to, and that still fits.
        let aligned = if self.next == 0 {
            1 << 63
        } else {
            1 << self.next.trailing_zeros()
        };
        let fits = 1 << (63 - left.leading_zeros());
        let count: u64 = aligned.min(fits);
        let block = (self.next, count);
        self.next += count;
        Some(block)
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedBlocks;

    fn blocks(first: u64, count: u64) -> Vec<(u64, u64)> {
        AlignedBlocks::new(first, count).collect()
    }

    #[test]
    fn an_aligned_power_of_two_is_one_block() {
        assert_eq!(blocks(0x80000, 0x40000), [(0x80000, 0x40000)]);
        assert_eq!(blocks(0, 8), [(0, 8)]);
    }

    #[test]
    fn an_unaligned_range_grows_then_shrinks() {
        assert_eq!(
            blocks(3, 13),
            [(3, 1), (4, 4), (8, 8)],
            "3..16: one frame to reach 4, then 4, then 8"
        );
        assert_eq!(blocks(8, 7), [(8, 4), (12, 2), (14, 1)]);
    }

    #[test]
    fn blocks_cover_the_range_exactly_and_are_aligned() {
        for first in 0..70u64 {
            for count in 0..70u64 {
                let mut at = first;
                for (start, size) in AlignedBlocks::new(first, count) {
                    assert_eq!(start, at);
                    assert!(size.is_power_of_two());
                    assert_eq!(start % size, 0);
                    at += size;
                }
                assert_eq!(at, first + count);
            }
        }
    }

    #[test]
    fn an_empty_or_wrapping_range_has_no_blocks() {
        assert!(blocks(5, 0).is_empty());
        assert!(blocks(u64::MAX, 2).is_empty());
    }
}
