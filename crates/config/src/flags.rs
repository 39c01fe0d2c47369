//! Memory region permission flags (`memory_regions` column 3).

use core::ops::BitOr;

/// Access flags of a memory region, with AxVisor's bit values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryFlags(u64);

impl MemoryFlags {
    /// The guest may read the region.
    pub const READ: Self = Self(1);
    /// The guest may write the region.
    pub const WRITE: Self = Self(2);
    /// The guest may execute from the region.
    pub const EXECUTE: Self = Self(4);
    /// The region is accessible to guest user mode (AxVisor's `USER`; guest RAM
    /// always is, through the guest's own page tables, so it changes nothing).
    pub const USER: Self = Self(8);
    /// The region is device memory (no speculation, no caching).
    pub const DEVICE: Self = Self(0x10);
    /// The region is normal memory mapped uncached.
    pub const UNCACHED: Self = Self(0x20);
    /// Every flag this type knows.
    pub const ALL: Self = Self(0x3f);

    /// The flags with these bits, or `None` if a bit is not one of the known flags.
    pub const fn from_bits(bits: u64) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 {
            Some(Self(bits))
        } else {
            None
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every flag of `other` is set here.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for MemoryFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}
