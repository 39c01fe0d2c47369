//! The e820 memory map: which guest-physical ranges are RAM and which are reserved.

use alloc::vec::Vec;
use core::fmt;

use crate::bytes::put;

#[cfg(test)]
mod tests;

/// One range of the memory map, as the zero page's `e820_table` holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct E820Entry {
    /// First address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// What the range is: [`E820Entry::RAM`], [`E820Entry::RESERVED`], ...
    pub kind: u32,
}

impl E820Entry {
    /// Usable RAM.
    pub const RAM: u32 = 1;
    /// Reserved: not for the kernel's use (device memory, firmware).
    pub const RESERVED: u32 = 2;
    /// Bytes of one entry in the zero page: address, size (8 bytes each), type (4).
    pub const SIZE: usize = 20;

    /// The range of `size` bytes at `addr`, of kind `kind`.
    pub const fn new(addr: u64, size: u64, kind: u32) -> Self {
        Self { addr, size, kind }
    }

    /// One past the last address, or `None` if the range reaches the end of the
    /// address space.
    pub const fn end(&self) -> Option<u64> {
        self.addr.checked_add(self.size)
    }

    /// The entry as the zero page stores it: little-endian address, size, type.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut bytes = [0; Self::SIZE];
        put(&mut bytes, 0, &self.addr.to_le_bytes());
        put(&mut bytes, 8, &self.size.to_le_bytes());
        put(&mut bytes, 16, &self.kind.to_le_bytes());
        bytes
    }
}

/// Why regions do not make a memory map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum E820Error {
    /// A region has no bytes.
    Empty {
        /// The region.
        region: E820Entry,
    },
    /// A region runs to or past the end of the 64-bit address space.
    Wraps {
        /// The region.
        region: E820Entry,
    },
    /// Two regions share addresses.
    Overlap {
        /// The region with the lower address.
        first: E820Entry,
        /// The region that starts inside it.
        second: E820Entry,
    },
}

/// "RAM 0x0+0x9fc00" and the like.
struct Region(E820Entry);

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.kind {
            E820Entry::RAM => "RAM",
            E820Entry::RESERVED => "reserved",
            _ => "region",
        };
        write!(f, "{kind} {:#x}+{:#x}", self.0.addr, self.0.size)
    }
}

impl fmt::Display for E820Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { region } => write!(f, "{} is empty", Region(*region)),
            Self::Wraps { region } => {
                write!(
                    f,
                    "{} runs past the end of the address space",
                    Region(*region)
                )
            }
            Self::Overlap { first, second } => {
                write!(f, "{} overlaps {}", Region(*first), Region(*second))
            }
        }
    }
}

impl core::error::Error for E820Error {}

/// The PC's legacy hole, 640 KiB to 1 MiB: video memory and the BIOS ROMs on a real
/// PC, never RAM to the operating system.
pub const LEGACY_HOLE: (u64, u64) = (0xa_0000, 0x6_0000);

/// The memory map of a PC whose RAM is `ram`, each `(address, size)`: RAM that falls
/// in the [`LEGACY_HOLE`] is shown reserved, as a PC's firmware shows it (Linux
/// also ignores a map of fewer than two entries). Errors as [`e820_from_regions`].
pub fn pc_memory_map(ram: &[(u64, u64)]) -> Result<Vec<E820Entry>, E820Error> {
    let (hole, hole_size) = LEGACY_HOLE;
    let hole_end = hole + hole_size;
    let mut usable = Vec::new();
    let mut reserved = Vec::new();
    for &(addr, size) in ram {
        let Some(end) = addr.checked_add(size).filter(|&end| end > addr) else {
            // Empty or wrapping: let e820_from_regions name it.
            usable.push((addr, size));
            continue;
        };
        let (low, high) = (addr.max(hole), end.min(hole_end));
        if low >= high {
            usable.push((addr, size));
            continue;
        }
        if addr < low {
            usable.push((addr, low - addr));
        }
        reserved.push((low, high - low));
        if high < end {
            usable.push((high, end - high));
        }
    }
    e820_from_regions(&usable, &reserved)
}

/// The memory map of `ram` and `reserved` regions, each `(address, size)`, sorted
/// by address. Refuses empty regions, regions that reach the end of the address
/// space, and regions that overlap (touching is fine; they stay separate entries).
pub fn e820_from_regions(
    ram: &[(u64, u64)],
    reserved: &[(u64, u64)],
) -> Result<Vec<E820Entry>, E820Error> {
    let ram = ram
        .iter()
        .map(|&(addr, size)| E820Entry::new(addr, size, E820Entry::RAM));
    let reserved = reserved
        .iter()
        .map(|&(addr, size)| E820Entry::new(addr, size, E820Entry::RESERVED));
    let mut map: Vec<E820Entry> = ram.chain(reserved).collect();
    for &region in &map {
        if region.size == 0 {
            return Err(E820Error::Empty { region });
        }
        if region.end().is_none() {
            return Err(E820Error::Wraps { region });
        }
    }
    map.sort_by_key(|region| (region.addr, region.kind));
    for pair in map.windows(2) {
        if let [first, second] = *pair
            && first.end().is_none_or(|end| end > second.addr)
        {
            return Err(E820Error::Overlap { first, second });
        }
    }
    Ok(map)
}
