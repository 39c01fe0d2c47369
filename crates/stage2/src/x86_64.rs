//! AMD nested page tables (SVM nested paging) in long mode: 48-bit guest-physical
//! addresses, four levels, a 4 KiB root.
//!
//! Bit positions are those of the AMD64 Architecture Programmer's Manual, volume 2:
//! "Long-Mode Page Translation" (chapter 5) for the entry layout and "Nested Paging"
//! (section 15.25) for how SVM walks the tables. Depth `n` of the generic walker is,
//! in the manual's names: 0 the PML4, 1 the page-directory-pointer table (PDPE),
//! 2 the page directory (PDE), 3 the page table (PTE).
//!
//! The nested walk uses the paging mode of the host at VMRUN: the hypervisor must run
//! in long mode (CR0.PG, CR4.PAE, EFER.LME) for these 4-level tables to be the ones
//! the processor expects.

use tessera_addr::HostPhysAddr;

use crate::{Descriptor, MappingFlags, PageTableFormat};

/// Bit 0, P: present.
const P: u64 = 1 << 0;
/// Bit 1, R/W: writes allowed.
const RW: u64 = 1 << 1;
/// Bit 2, U/S: user accesses allowed. Every nested-table access counts as a user
/// access, so an entry without U/S, at any level, faults every guest access.
const US: u64 = 1 << 2;
/// Bit 3, PWT: page-level write-through.
const PWT: u64 = 1 << 3;
/// Bit 4, PCD: page-level cache disable.
const PCD: u64 = 1 << 4;
/// Bit 5, A: accessed. Set on leaves so that the first access need not write the entry.
const A: u64 = 1 << 5;
/// Bit 6, D: dirty (leaves only). Set so that the first write need not write the entry.
const D: u64 = 1 << 6;
/// Bit 7 of a PDPE or PDE, PS: the entry maps a 1 GiB or 2 MiB page. Bit 7 is
/// must-be-zero in a PML4E and is the PAT bit in a PTE.
const PS: u64 = 1 << 7;
/// Bit 8: must-be-zero in a PML4E (global bit in leaves, ignored in other tables).
const PML4E_MBZ_8: u64 = 1 << 8;
/// Bit 9, the first AVL bit (available to software): marks an entry with P clear that
/// stands for a mapping with no access rights (see [`X86Npt`]).
const NO_ACCESS_LEAF: u64 = 1 << 9;
/// Bit 12 of a 1 GiB or 2 MiB leaf: its PAT bit, not part of the address.
const LARGE_PAT: u64 = 1 << 12;
/// Bit 63, NX: no instruction fetch (reserved unless the host's EFER.NXE is set).
const NX: u64 = 1 << 63;
/// Bits 51:12: the physical frame address of the next table or of the page.
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// AMD SVM nested page tables in long mode, 4 KiB granule.
///
/// Four levels of 512 entries translate 48-bit guest-physical addresses into 52-bit
/// host-physical ones. Leaves may sit at depth 1 (1 GiB pages), depth 2 (2 MiB) and
/// depth 3 (4 KiB); the root is one frame. [`X86Npt::ncr3`] gives the value of the
/// VMCB's N_CR3 field. Addresses above the processor's MAXPHYADDR (CPUID
/// Fn8000_0008 EAX[7:0], often 48 or less) are reserved bits to the hardware and
/// fault: the caller must not map host memory beyond it.
///
/// Entries written:
/// - Tables: P, R/W and U/S with the next table's address; the hardware sets A.
/// - Leaves: P, U/S (nested walks are user accesses), A and D (so the processor
///   need not write the entry on the first access or write), PS on 1 GiB and 2 MiB
///   pages; R/W for [`MappingFlags::WRITE`]; NX unless [`MappingFlags::EXECUTE`];
///   PCD and PWT for [`MappingFlags::DEVICE`], which with the host's PAT MSR at its
///   reset value (0x0007_0406_0007_0406) selects UC, and an uncacheable nested type
///   wins over whatever the guest's own tables ask for.
///
/// NX (bit 63) is a reserved bit unless the host runs with EFER.NXE set: every
/// non-executable leaf would then fault with a reserved-bit error. The hypervisor
/// must set EFER.NXE before it runs a guest on these tables.
///
/// Rights the encoding cannot express are narrowed, never widened:
/// - x86 has no write-only or execute-only pages: a present entry can always be
///   read. A request without [`MappingFlags::READ`] (write-only, execute-only,
///   write + execute, none) becomes no access at all.
/// - A no-access mapping cannot be a present entry. It is written with P clear, so
///   every access faults, and with AVL bit 9 set: the hardware ignores every other bit
///   of a non-present entry, and the walker still sees the mapping (it decodes as a
///   leaf with [`MappingFlags::NONE`], as on aarch64 and riscv64).
///
/// [`decode`](PageTableFormat::decode) reads the rights back: a leaf without U/S
/// grants nothing; [`MappingFlags::DEVICE`] is reported when PCD is set (UC or UC-
/// under the reset PAT). The PAT bits (bit 7 of a PTE, bit 12 of a large page) are
/// never written and ignored when decoding.
#[derive(Clone, Copy, Debug, Default)]
pub struct X86Npt;

impl X86Npt {
    /// Width of the guest-physical address space.
    pub const GPA_BITS: u32 = 48;

    /// The N_CR3 value (VMCB offset 0xB0) that makes the processor walk the tables
    /// rooted at `root`: the root's address in bits 51:12, PWT and PCD clear (the
    /// tables themselves are read write-back).
    pub const fn ncr3(root: HostPhysAddr) -> u64 {
        root.raw() & ADDRESS_MASK
    }
}

/// Mask of the offset bits inside the span of one entry at `depth`.
const fn offset_mask(depth: usize) -> u64 {
    match depth {
        1 => (1 << 30) - 1,
        2 => (1 << 21) - 1,
        _ => (1 << 12) - 1,
    }
}

/// Decodes the rights and memory type of a present leaf.
fn leaf(addr: u64, raw: u64) -> Descriptor {
    let mut flags = MappingFlags::NONE;
    // Without U/S every guest access faults.
    if raw & US != 0 {
        flags = flags | MappingFlags::READ;
        if raw & RW != 0 {
            flags = flags | MappingFlags::WRITE;
        }
        if raw & NX == 0 {
            flags = flags | MappingFlags::EXECUTE;
        }
        if raw & PCD != 0 {
            flags = flags | MappingFlags::DEVICE;
        }
    }
    Descriptor::Leaf {
        hpa: HostPhysAddr::new(addr),
        flags,
    }
}

impl PageTableFormat for X86Npt {
    const LEVELS: usize = 4;
    const ROOT_FRAMES: usize = 1;
    const INPUT_BITS: u32 = Self::GPA_BITS;
    /// Address bits 51:12: 52-bit host-physical addresses, the architectural maximum.
    const OUTPUT_BITS: u32 = 52;

    fn index_bits(_depth: usize) -> u32 {
        9
    }

    fn block_allowed(depth: usize) -> bool {
        depth == 1 || depth == 2
    }

    fn table_descriptor(next: HostPhysAddr, _depth: usize) -> u64 {
        // Rights are the intersection of all levels: tables grant everything and
        // leave the decision to the leaf.
        (next.raw() & ADDRESS_MASK) | US | RW | P
    }

    fn leaf_descriptor(hpa: HostPhysAddr, flags: MappingFlags, depth: usize) -> u64 {
        let addr = hpa.raw() & ADDRESS_MASK;
        if !flags.contains(MappingFlags::READ) {
            return addr | NO_ACCESS_LEAF;
        }
        let mut raw = addr | D | A | US | P;
        if depth < 3 {
            raw |= PS;
        }
        if flags.contains(MappingFlags::WRITE) {
            raw |= RW;
        }
        if !flags.contains(MappingFlags::EXECUTE) {
            raw |= NX;
        }
        if flags.contains(MappingFlags::DEVICE) {
            raw |= PCD | PWT;
        }
        raw
    }

    fn decode(raw: u64, depth: usize) -> Descriptor {
        if depth >= Self::LEVELS {
            return Descriptor::Invalid;
        }
        let addr = raw & ADDRESS_MASK;
        if raw & P == 0 {
            // The PML4 holds no leaves, so no no-access leaf either.
            return if raw & NO_ACCESS_LEAF != 0 && depth > 0 && addr & offset_mask(depth) == 0 {
                Descriptor::Leaf {
                    hpa: HostPhysAddr::new(addr),
                    flags: MappingFlags::NONE,
                }
            } else {
                Descriptor::Invalid
            };
        }
        match depth {
            // Bits 8:7 of a PML4E are must-be-zero: a reserved-bit fault.
            0 if raw & (PS | PML4E_MBZ_8) != 0 => Descriptor::Invalid,
            0..=2 if raw & PS == 0 => Descriptor::Table(HostPhysAddr::new(addr)),
            // A 1 GiB or 2 MiB page: bit 12 is its PAT bit, the address bits between
            // 13 and the page size are must-be-zero.
            _ if depth < 3 => {
                let addr = addr & !LARGE_PAT;
                if addr & offset_mask(depth) != 0 {
                    Descriptor::Invalid
                } else {
                    leaf(addr, raw)
                }
            }
            // A 4 KiB page; bit 7 is its PAT bit, not PS.
            _ => leaf(addr, raw),
        }
    }
}
