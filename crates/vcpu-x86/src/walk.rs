//! Translating a guest-virtual address through the guest's own page tables, as the
//! processor would: to fetch the instruction behind a nested page fault when the
//! processor gives no instruction bytes (no decode assists).
//!
//! Handles the modes a guest runs in: paging off (the address is physical), and
//! 4-level long-mode paging with 4 KiB, 2 MiB and 1 GiB pages (AMD APM volume 2,
//! "Long-Mode Page Translation"). 32-bit legacy paging and 5-level paging give `None`.

/// CR0.PG.
const CR0_PG: u64 = 1 << 31;
/// CR4.PAE and CR4.LA57.
const CR4_PAE: u64 = 1 << 5;
const CR4_LA57: u64 = 1 << 12;
/// EFER.LMA.
const EFER_LMA: u64 = 1 << 10;
/// Entry bits: present, page size.
const P: u64 = 1 << 0;
const PS: u64 = 1 << 7;
/// Bits 51:12 of an entry: the next table's or the page's address.
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// The guest's paging registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagingRegs {
    /// CR0.
    pub cr0: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// EFER.
    pub efer: u64,
}

/// The guest-physical address of guest-virtual `va`, reading 8-byte table entries
/// at guest-physical addresses with `read`; `None` when a table is not readable, an
/// entry is not present, or the paging mode is not handled.
pub fn translate(
    regs: PagingRegs,
    va: u64,
    mut read: impl FnMut(u64) -> Option<u64>,
) -> Option<u64> {
    if regs.cr0 & CR0_PG == 0 {
        return Some(va);
    }
    if regs.efer & EFER_LMA == 0 || regs.cr4 & CR4_PAE == 0 || regs.cr4 & CR4_LA57 != 0 {
        return None;
    }
    let mut table = regs.cr3 & ADDRESS_MASK;
    for level in (0..4u32).rev() {
        let shift = 12 + 9 * level;
        let index = (va >> shift) & 0x1ff;
        let entry = read(table + index * 8)?;
        if entry & P == 0 {
            return None;
        }
        let address = entry & ADDRESS_MASK;
        // A leaf: 1 GiB (level 2) or 2 MiB (level 1) page, or the 4 KiB table entry.
        if level == 0 || (entry & PS != 0 && (level == 1 || level == 2)) {
            let page_mask = (1u64 << shift) - 1;
            return Some((address & !page_mask) | (va & page_mask));
        }
        table = address;
    }
    None
}
