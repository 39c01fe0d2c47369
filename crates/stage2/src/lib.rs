//! Stage-2 translation tables: the guest-physical to host-physical mapping of a VM.
//!
//! The walking code in [`Stage2Table`] is generic over a [`PageTableFormat`], which
//! knows how one architecture lays out its tables and encodes its descriptors. Every
//! format compiles on every host so that all of them are unit-tested everywhere; TLB
//! maintenance is not done here, it belongs to the hardware layer.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

mod aarch64;
mod format;
mod riscv64;
mod table;
mod x86_64;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod riscv64_tests;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod x86_64_tests;

use core::fmt;

pub use aarch64::Aarch64Stage2;
pub use format::{Descriptor, FRAME_SIZE, PageTableFormat};
pub use riscv64::{Riscv64Sv39x4, hgatp};
pub use table::Stage2Table;
use tessera_addr::{GuestPhysAddr, HostPhysAddr};
pub use x86_64::X86Npt;

/// Access rights and memory type of a mapping.
///
/// The bit values are those of the `flags` column of a VM config's memory regions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MappingFlags(u64);

impl MappingFlags {
    /// The guest may read.
    pub const READ: Self = Self(1);
    /// The guest may write.
    pub const WRITE: Self = Self(2);
    /// The guest may execute.
    pub const EXECUTE: Self = Self(4);
    /// Device memory (uncached, no speculation) instead of normal memory.
    pub const DEVICE: Self = Self(8);
    /// No rights: every access faults.
    pub const NONE: Self = Self(0);
    /// All defined bits.
    const ALL: u64 = 0xf;

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Flags from raw bits, dropping bits that name no flag.
    pub const fn from_bits_truncate(bits: u64) -> Self {
        Self(bits & Self::ALL)
    }

    /// The union of both sets of flags.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for MappingFlags {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl fmt::Debug for MappingFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::READ, "R"),
            (Self::WRITE, "W"),
            (Self::EXECUTE, "X"),
            (Self::DEVICE, "DEV"),
        ];
        write!(f, "MappingFlags(")?;
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    write!(f, "|")?;
                }
                write!(f, "{name}")?;
                first = false;
            }
        }
        write!(f, ")")
    }
}

/// Why a stage-2 table operation failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage2Error {
    /// An address or size is not a multiple of 4 KiB.
    Unaligned,
    /// The range lies beyond what the format can translate or hold, or wraps around.
    OutOfRange,
    /// Part of the range is already mapped; nothing was changed.
    AlreadyMapped {
        /// First guest-physical address found mapped.
        gpa: GuestPhysAddr,
    },
    /// The frame allocator had no frames left; the table is as it was before the call.
    OutOfMemory,
    /// The allocator gave no pointer for a table frame (a table used with another allocator).
    FrameAccess {
        /// The frame that could not be accessed.
        frame: HostPhysAddr,
    },
    /// The page-table format describes an impossible layout (a bug in the format).
    BadFormat,
}

impl fmt::Display for Stage2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unaligned => write!(f, "address or size not 4 KiB aligned"),
            Self::OutOfRange => write!(f, "range beyond the translatable address space"),
            Self::AlreadyMapped { gpa } => write!(f, "guest address {gpa} is already mapped"),
            Self::OutOfMemory => write!(f, "no free frames for translation tables"),
            Self::FrameAccess { frame } => write!(f, "table frame {frame} is not accessible"),
            Self::BadFormat => write!(f, "inconsistent page-table format"),
        }
    }
}

impl core::error::Error for Stage2Error {}

/// Source of the 4 KiB frames that hold translation tables.
///
/// # Safety
///
/// Implementations promise that [`frame_ptr`](Self::frame_ptr), for every frame
/// that [`alloc_zeroed`](Self::alloc_zeroed) handed out and that has not been freed
/// (each frame of a multi-frame allocation included), returns either null or a
/// pointer, aligned to 8 bytes, valid for reads and writes of 4096 bytes that
/// nothing else accesses while a table method runs. A [`Stage2Table`] must be
/// given the allocator it was created with (or one that agrees with it).
pub unsafe trait FrameAllocator {
    /// `frames` contiguous, zeroed 4 KiB frames aligned to `frames * 4 KiB`, or
    /// `None` when memory is exhausted.
    fn alloc_zeroed(&mut self, frames: usize) -> Option<HostPhysAddr>;

    /// Returns `frames` frames from `base`, as handed out by one `alloc_zeroed` call.
    fn free(&mut self, base: HostPhysAddr, frames: usize);

    /// Where the hypervisor can access the frame at `frame`.
    fn frame_ptr(&self, frame: HostPhysAddr) -> *mut u64;
}
