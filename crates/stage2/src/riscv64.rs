//! RISC-V G-stage tables in Sv39x4 mode (hypervisor extension): 41-bit guest-physical
//! addresses, a 16 KiB root, three levels.
//!
//! Bit positions are those of the RISC-V privileged specification: "Sv39:
//! Page-Based 39-bit Virtual-Memory System" for the entry layout and "Two-Stage
//! Address Translation" / "Hypervisor Guest Address Translation and Protection
//! Register (hgatp)" in the hypervisor extension chapter. Depth `n` of the generic
//! walker is level `2 - n` in the specification's numbering.

use tessera_addr::HostPhysAddr;

use crate::{Descriptor, MappingFlags, PageTableFormat};

/// Bit 0, V: the entry is valid.
const V: u64 = 1 << 0;
/// Bit 1, R: readable.
const R: u64 = 1 << 1;
/// Bit 2, W: writable (reserved without R).
const W: u64 = 1 << 2;
/// Bit 3, X: executable.
const X: u64 = 1 << 3;
/// Bit 4, U: user accessible. The G stage treats every guest access as a user-mode
/// access, so a leaf without U faults for every guest access.
const U: u64 = 1 << 4;
/// Bit 6, A: accessed. Set on leaves: without Svadu an access to a leaf with A clear faults.
const A: u64 = 1 << 6;
/// Bit 7, D: dirty. Set on leaves: without Svadu a write to a leaf with D clear faults.
const D: u64 = 1 << 7;
/// Bit 8, the first RSW bit (ignored by hardware, free for software): marks an entry
/// with V clear that stands for a mapping with no access rights (see [`Riscv64Sv39x4`]).
const NO_ACCESS_LEAF: u64 = 1 << 8;
/// The R, W and X bits; all three clear in a valid entry makes it a pointer to a table.
const RWX: u64 = R | W | X;
/// Bits 53:10, the physical page number.
const PPN_MASK: u64 = ((1 << 44) - 1) << 10;
/// Bit where the physical page number starts.
const PPN_SHIFT: u32 = 10;
/// Bits 63:54: reserved, PBMT (Svpbmt) and N (Svnapot). Never set here; an entry
/// with any of them set is treated as invalid.
const HIGH_BITS: u64 = !((1 << 54) - 1);

/// hgatp.MODE value 8: Sv39x4.
const HGATP_MODE_SV39X4: u64 = 8;
/// hgatp.MODE sits in bits 63:60.
const HGATP_MODE_SHIFT: u32 = 60;
/// hgatp.VMID sits in bits 57:44 (at most 14 bits).
const HGATP_VMID_SHIFT: u32 = 44;
/// Mask of a 14-bit VMID.
const HGATP_VMID_MASK: u64 = (1 << 14) - 1;
/// hgatp.PPN, bits 43:0.
const HGATP_PPN_MASK: u64 = (1 << 44) - 1;

/// G-stage translation in Sv39x4 mode.
///
/// Sv39x4 translates 41-bit guest-physical addresses: its root table is widened by
/// two bits to 2048 entries, four concatenated 4 KiB frames (16 KiB, 16 KiB aligned);
/// the two tables below it are 512 entries each. A leaf may sit at every level:
/// 1 GiB at the root, 2 MiB in the middle, 4 KiB pages at the bottom.
///
/// Leaves always set U (bit 4: the G stage checks every guest access as a user-mode
/// one), A and D (bits 6 and 7: so hardware without Svadu does not fault on the first
/// access or write); G (bit 5) is unused by the G stage and never set. Table entries
/// set V only.
///
/// Rights the encoding cannot express are narrowed, never widened:
/// - W without R is a reserved encoding (R = 0, W = 1), so a request for WRITE
///   without READ drops WRITE: write-only becomes no access, write + execute becomes
///   execute-only. [`decode`](PageTableFormat::decode) reports the narrowed rights.
/// - A mapping with no rights left cannot be a valid entry, since V with R = W = X = 0
///   is a pointer to a next-level table (at the root or middle level it would make the
///   hardware walk the mapped memory as a table). It is written with V clear, so every
///   access faults, and with RSW bit 8 set: hardware ignores all other bits of an
///   entry whose V is clear, and the walker still sees the mapping (it decodes as a
///   leaf with [`MappingFlags::NONE`], as on aarch64).
/// - [`MappingFlags::DEVICE`] has no bit: without Svpbmt, Sv39 entries carry no memory
///   type (the platform's physical memory attributes decide it per address). It is
///   recorded nowhere, and decoded leaves never carry it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Riscv64Sv39x4;

impl Riscv64Sv39x4 {
    /// Width of the guest-physical address space.
    pub const GPA_BITS: u32 = 41;
}

/// The hgatp value that makes the hardware walk the Sv39x4 tables rooted at `root`
/// for the VM with `vmid`.
///
/// Fields: MODE (bits 63:60) = 8, Sv39x4; VMID (bits 57:44) = `vmid`, cut to 14 bits
/// (the hardware may implement fewer: software finds VMIDLEN by writing ones and
/// reading back); PPN (bits 43:0) = `root >> 12`. The root must be 16 KiB aligned
/// (the two low PPN bits read as zero in Sv39x4), as the root of a
/// [`Stage2Table<Riscv64Sv39x4>`](crate::Stage2Table) is.
pub const fn hgatp(root: HostPhysAddr, vmid: u16) -> u64 {
    (HGATP_MODE_SV39X4 << HGATP_MODE_SHIFT)
        | ((vmid as u64 & HGATP_VMID_MASK) << HGATP_VMID_SHIFT)
        | ((root.raw() >> 12) & HGATP_PPN_MASK)
}

/// The PPN field for the frame at `addr`.
const fn ppn_field(addr: u64) -> u64 {
    ((addr >> 12) << PPN_SHIFT) & PPN_MASK
}

/// The address an entry's PPN field names.
const fn ppn_addr(raw: u64) -> u64 {
    ((raw & PPN_MASK) >> PPN_SHIFT) << 12
}

/// The rights the hardware can enforce for `flags`: WRITE only together with READ.
fn effective_rights(flags: MappingFlags) -> u64 {
    let mut rights = 0;
    if flags.contains(MappingFlags::READ) {
        rights |= R;
        if flags.contains(MappingFlags::WRITE) {
            rights |= W;
        }
    }
    if flags.contains(MappingFlags::EXECUTE) {
        rights |= X;
    }
    rights
}

/// Mask of the offset bits inside the span of one entry at `depth`.
fn offset_mask(depth: usize) -> u64 {
    match depth {
        0 => (1 << 30) - 1,
        1 => (1 << 21) - 1,
        _ => (1 << 12) - 1,
    }
}

impl PageTableFormat for Riscv64Sv39x4 {
    const LEVELS: usize = 3;
    const ROOT_FRAMES: usize = 4;
    const INPUT_BITS: u32 = Self::GPA_BITS;
    /// The PPN field holds 44 bits: 56-bit host-physical addresses.
    const OUTPUT_BITS: u32 = 56;

    fn index_bits(depth: usize) -> u32 {
        // The root resolves guest-physical bits 40:30 (two more than Sv39).
        if depth == 0 { 11 } else { 9 }
    }

    fn block_allowed(depth: usize) -> bool {
        depth < 2
    }

    fn table_descriptor(next: HostPhysAddr, _depth: usize) -> u64 {
        // D, A and U are reserved in non-leaf entries and G is unused by the G stage.
        ppn_field(next.raw()) | V
    }

    fn leaf_descriptor(hpa: HostPhysAddr, flags: MappingFlags, _depth: usize) -> u64 {
        let rights = effective_rights(flags);
        if rights == 0 {
            return ppn_field(hpa.raw()) | NO_ACCESS_LEAF;
        }
        ppn_field(hpa.raw()) | D | A | U | rights | V
    }

    fn decode(raw: u64, depth: usize) -> Descriptor {
        if depth >= Self::LEVELS {
            return Descriptor::Invalid;
        }
        let addr = ppn_addr(raw);
        if raw & V == 0 {
            return if raw & NO_ACCESS_LEAF != 0 && addr & offset_mask(depth) == 0 {
                Descriptor::Leaf {
                    hpa: HostPhysAddr::new(addr),
                    flags: MappingFlags::NONE,
                }
            } else {
                Descriptor::Invalid
            };
        }
        // Entries the hardware faults on decode as invalid: reserved high bits, the
        // reserved W-without-R encodings, a pointer at the last level or with D, A or
        // U set, a misaligned superpage.
        if raw & HIGH_BITS != 0 || raw & (R | W) == W {
            return Descriptor::Invalid;
        }
        if raw & RWX == 0 {
            return if depth + 1 < Self::LEVELS && raw & (D | A | U) == 0 {
                Descriptor::Table(HostPhysAddr::new(addr))
            } else {
                Descriptor::Invalid
            };
        }
        if addr & offset_mask(depth) != 0 {
            return Descriptor::Invalid;
        }
        let mut flags = MappingFlags::NONE;
        // Without U every guest access faults.
        if raw & U != 0 {
            if raw & R != 0 {
                flags = flags | MappingFlags::READ;
            }
            if raw & W != 0 {
                flags = flags | MappingFlags::WRITE;
            }
            if raw & X != 0 {
                flags = flags | MappingFlags::EXECUTE;
            }
        }
        Descriptor::Leaf {
            hpa: HostPhysAddr::new(addr),
            flags,
        }
    }
}
