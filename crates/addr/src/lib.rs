//! Typed addresses: guest-physical, host-physical and host-virtual addresses are
//! distinct types so that one can never be passed where another is expected; and
//! ranges of frames cut into the aligned power-of-two blocks a buddy allocator deals in.
#![cfg_attr(not(test), no_std)]

mod blocks;

pub use blocks::AlignedBlocks;

use core::fmt;

macro_rules! address_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a raw address.
            pub const fn new(raw: u64) -> Self {
                Self(raw)
            }

            /// The raw address value.
            pub const fn raw(self) -> u64 {
                self.0
            }

            /// This address plus `offset`, or `None` on overflow.
            pub const fn checked_add(self, offset: u64) -> Option<Self> {
                match self.0.checked_add(offset) {
                    Some(raw) => Some(Self(raw)),
                    None => None,
                }
            }

            /// The distance from `base` up to this address, or `None` if this address is below `base`.
            pub const fn offset_from(self, base: Self) -> Option<u64> {
                self.0.checked_sub(base.0)
            }

            /// Whether the address is a multiple of `align` (a power of two).
            pub const fn is_aligned(self, align: u64) -> bool {
                self.0 & (align - 1) == 0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, ":{:#x}"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }
    };
}

address_type!(
    /// An address in a guest's physical address space (an IPA on aarch64, a GPA elsewhere).
    GuestPhysAddr,
    "GPA"
);
address_type!(
    /// An address in the machine's physical address space.
    HostPhysAddr,
    "HPA"
);
address_type!(
    /// An address in the hypervisor's own virtual address space.
    HostVirtAddr,
    "HVA"
);

/// A half-open range of guest-physical addresses `[start, start + size)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GuestRange {
    /// First address of the range.
    pub start: GuestPhysAddr,
    /// Length of the range in bytes.
    pub size: u64,
}

impl GuestRange {
    /// A range of `size` bytes from `start`.
    pub const fn new(start: GuestPhysAddr, size: u64) -> Self {
        Self { start, size }
    }

    /// One past the last address, or `None` if the range wraps around the address space.
    pub const fn end(&self) -> Option<GuestPhysAddr> {
        self.start.checked_add(self.size)
    }

    /// Whether `addr` lies inside the range.
    pub fn contains(&self, addr: GuestPhysAddr) -> bool {
        addr.offset_from(self.start)
            .is_some_and(|offset| offset < self.size)
    }

    /// Whether `[addr, addr + len)` lies wholly inside the range.
    pub fn contains_span(&self, addr: GuestPhysAddr, len: u64) -> bool {
        addr.offset_from(self.start)
            .and_then(|offset| offset.checked_add(len))
            .is_some_and(|end| end <= self.size)
    }

    /// Whether the two ranges share at least one address.
    pub fn overlaps(&self, other: &GuestRange) -> bool {
        let self_end = self.start.raw() as u128 + self.size as u128;
        let other_end = other.start.raw() as u128 + other.size as u128;
        (self.start.raw() as u128) < other_end && (other.start.raw() as u128) < self_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_contains_and_overlaps() {
        let a = GuestRange::new(GuestPhysAddr::new(0x1000), 0x1000);
        assert!(a.contains(GuestPhysAddr::new(0x1fff)));
        assert!(!a.contains(GuestPhysAddr::new(0x2000)));
        assert!(!a.contains(GuestPhysAddr::new(0xfff)));
        assert!(a.contains_span(GuestPhysAddr::new(0x1800), 0x800));
        assert!(!a.contains_span(GuestPhysAddr::new(0x1800), 0x801));
        assert!(!a.contains_span(GuestPhysAddr::new(0x1800), u64::MAX));
        let b = GuestRange::new(GuestPhysAddr::new(0x1fff), 1);
        assert!(a.overlaps(&b) && b.overlaps(&a));
        let c = GuestRange::new(GuestPhysAddr::new(0x2000), 0x10);
        assert!(!a.overlaps(&c));
        let top = GuestRange::new(GuestPhysAddr::new(u64::MAX - 1), 2);
        assert_eq!(top.end(), None);
        assert!(top.overlaps(&GuestRange::new(GuestPhysAddr::new(u64::MAX), 1)));
    }

    #[test]
    fn address_arithmetic() {
        let a = GuestPhysAddr::new(0x4000_0000);
        assert_eq!(a.checked_add(0x10), Some(GuestPhysAddr::new(0x4000_0010)));
        assert_eq!(GuestPhysAddr::new(u64::MAX).checked_add(1), None);
        assert_eq!(GuestPhysAddr::new(0x10).offset_from(a), None);
        assert!(a.is_aligned(0x1000));
        assert_eq!(format!("{a:?}"), "GPA:0x40000000");
    }
}
