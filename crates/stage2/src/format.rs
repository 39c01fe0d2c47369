//! The boundary between the generic table walker and one architecture's encoding.

use tessera_addr::HostPhysAddr;

use crate::MappingFlags;

/// Size of a translation-table frame and of the smallest mapping (4 KiB).
pub const FRAME_SIZE: u64 = 4096;

/// Entries in one 4 KiB frame of 64-bit descriptors.
pub(crate) const ENTRIES_PER_FRAME: usize = 512;

/// What one 64-bit descriptor means.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Descriptor {
    /// No translation: an access faults.
    Invalid,
    /// Points to the next-level table at this address.
    Table(HostPhysAddr),
    /// Maps the whole span of the entry (a page, or a block at a higher level).
    Leaf {
        /// Start of the host-physical span the entry maps.
        hpa: HostPhysAddr,
        /// Rights and memory type of the mapping.
        flags: MappingFlags,
    },
}

/// One stage-2 translation-table layout and its descriptor encoding.
///
/// Levels are counted by *depth*: depth 0 is the root table, depth `LEVELS - 1`
/// holds the 4 KiB pages. Every table below the root is one 4 KiB frame of 512
/// entries (9 index bits); the root may be wider and made of `ROOT_FRAMES`
/// concatenated frames. Formats for all architectures compile on every host.
pub trait PageTableFormat {
    /// Number of levels walked, root included.
    const LEVELS: usize;
    /// Frames that make up the root table (concatenated root tables).
    const ROOT_FRAMES: usize;
    /// Width in bits of the guest-physical addresses the tables translate.
    const INPUT_BITS: u32;
    /// Width in bits of the host-physical addresses a descriptor can hold.
    const OUTPUT_BITS: u32;

    /// Index bits resolved at `depth` (9 below the root).
    fn index_bits(depth: usize) -> u32;

    /// Whether a leaf (block) may sit at `depth`; the last level always holds pages.
    ///
    /// If a block is allowed at some depth it must be allowed at the next depth too,
    /// so that a block can be split.
    fn block_allowed(depth: usize) -> bool;

    /// The descriptor pointing from depth `depth` to the table at `next`.
    fn table_descriptor(next: HostPhysAddr, depth: usize) -> u64;

    /// The descriptor mapping `hpa` with `flags` at `depth`.
    fn leaf_descriptor(hpa: HostPhysAddr, flags: MappingFlags, depth: usize) -> u64;

    /// Decodes a descriptor read at `depth`.
    fn decode(raw: u64, depth: usize) -> Descriptor;
}

/// Layout facts derived from a format, checked once.
pub(crate) struct Geometry<F: PageTableFormat>(core::marker::PhantomData<F>);

impl<F: PageTableFormat> Geometry<F> {
    /// Whether the format's constants describe a layout the walker can use.
    pub(crate) fn is_consistent() -> bool {
        if F::LEVELS == 0 || F::LEVELS > 6 || F::ROOT_FRAMES == 0 {
            return false;
        }
        if F::INPUT_BITS > 60 || F::OUTPUT_BITS > 60 || F::OUTPUT_BITS < 13 {
            return false;
        }
        let mut total = 12;
        for depth in 0..F::LEVELS {
            let bits = F::index_bits(depth);
            if depth > 0 && bits != 9 {
                return false;
            }
            if depth > 0 && F::block_allowed(depth - 1) && !Self::leaf_allowed(depth) {
                return false;
            }
            total += bits;
        }
        if F::index_bits(0) > 16 {
            return false;
        }
        let root_entries = 1usize << F::index_bits(0);
        total == F::INPUT_BITS && root_entries <= F::ROOT_FRAMES * ENTRIES_PER_FRAME
    }

    /// Whether a leaf may be written at `depth`.
    pub(crate) fn leaf_allowed(depth: usize) -> bool {
        depth + 1 == F::LEVELS || F::block_allowed(depth)
    }

    /// log2 of the bytes one entry at `depth` spans.
    pub(crate) fn shift(depth: usize) -> u32 {
        let mut shift = 12;
        for deeper in depth + 1..F::LEVELS {
            shift += F::index_bits(deeper);
        }
        shift
    }

    /// Bytes one entry at `depth` spans.
    pub(crate) fn span(depth: usize) -> u64 {
        1u64 << Self::shift(depth)
    }

    /// Index of the entry at `depth` that translates `gpa`.
    pub(crate) fn index(gpa: u64, depth: usize) -> usize {
        let mask = (1u64 << F::index_bits(depth)) - 1;
        ((gpa >> Self::shift(depth)) & mask) as usize
    }

    /// Number of entries in a table at `depth`.
    pub(crate) fn entries(depth: usize) -> usize {
        1usize << F::index_bits(depth)
    }

    /// Frames that a table at `depth` occupies.
    pub(crate) fn frames(depth: usize) -> usize {
        if depth == 0 { F::ROOT_FRAMES } else { 1 }
    }
}
