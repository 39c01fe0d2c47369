//! Address ranges and hexadecimal formatting shared by the checks.

use core::fmt;

/// One past the highest 64-bit address (2^64), the limit no range may cross.
const ADDRESS_LIMIT: u128 = 1 << 64;

/// The size of the x86 I/O port space: ports are 0..=0xffff.
pub(crate) const PORT_SPACE: u64 = 0x1_0000;

/// A range of addresses `[start, start + size)`, computed without overflow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: u128,
    end: u128,
}

impl Span {
    /// The range of `size` bytes from `start`.
    pub(crate) fn new(start: u64, size: u64) -> Self {
        let start = u128::from(start);
        Self {
            start,
            end: start + u128::from(size),
        }
    }

    /// Whether the range runs past the top of the 64-bit address space.
    pub(crate) fn wraps(self) -> bool {
        self.end > ADDRESS_LIMIT
    }

    /// Whether the two ranges share at least one address.
    pub(crate) fn overlaps(self, other: Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `address` lies inside the range.
    pub(crate) fn contains(self, address: u64) -> bool {
        let address = u128::from(address);
        self.start <= address && address < self.end
    }

    /// Whether the range lies wholly inside the x86 I/O port space (ports 0..=0xffff).
    pub(crate) fn in_port_space(self) -> bool {
        Span::new(0, PORT_SPACE).covers(self)
    }

    /// Whether every address of `inner` lies inside this range.
    pub(crate) fn covers(self, inner: Span) -> bool {
        self.start <= inner.start && inner.end <= self.end
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", Hex(self.start), Hex(self.end))
    }
}

/// Formats a number as hexadecimal with `_` every four digits, as the config
/// files write it: `0x4008_0000`.
pub(crate) struct Hex<T>(pub(crate) T);

impl<T: Into<u128> + Copy> fmt::Display for Hex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: u128 = self.0.into();
        let digits = 32 - (value.leading_zeros() / 4).min(31);
        f.write_str("0x")?;
        for position in (0..digits).rev() {
            let nibble = (value >> (position * 4)) & 0xf;
            let digit = char::from_digit(nibble as u32, 16).unwrap_or('?');
            fmt::Write::write_char(f, digit)?;
            if position != 0 && position % 4 == 0 {
                f.write_str("_")?;
            }
        }
        Ok(())
    }
}
