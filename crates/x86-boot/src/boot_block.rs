//! The boot block: what the hypervisor puts in a guest's memory, at one page-aligned
//! address, before starting its first vCPU in 64-bit mode as the boot protocol's
//! 64-bit entry asks: the zero page, the command line, a GDT with the boot code and
//! data selectors, and page tables that map the low 4 GiB one to one.
//!
//! Layout (offsets from the block's address):
//!
//! | offset   | content                                           |
//! |----------|---------------------------------------------------|
//! | 0x0000   | zero page (`boot_params`), `rsi` at entry         |
//! | 0x1000   | command line, NUL-terminated (at most 4095 bytes) |
//! | 0x2000   | GDT: null, null, code64 at 0x10, data at 0x18     |
//! | 0x3000   | PML4, `cr3` at entry                              |
//! | 0x4000   | PDPT: four entries                                |
//! | 0x5000   | four page directories of 2 MiB pages              |

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::bytes::put;
use crate::zero_page::ZERO_PAGE_SIZE;

#[cfg(test)]
mod tests;

/// Offset of the zero page.
pub const ZERO_PAGE_OFFSET: u64 = 0x0000;
/// Offset of the command line.
pub const CMDLINE_OFFSET: u64 = 0x1000;
/// Longest command line the block holds (without its NUL).
pub const CMDLINE_MAX: usize = 0xfff;
/// Offset of the GDT.
pub const GDT_OFFSET: u64 = 0x2000;
/// GDTR limit of the GDT (four entries).
pub const GDT_LIMIT: u16 = 4 * 8 - 1;
/// Offset of the PML4 (the value of `cr3` is the block's address plus this).
pub const PML4_OFFSET: u64 = 0x3000;
/// Offset of the PDPT.
const PDPT_OFFSET: u64 = 0x4000;
/// Offset of the first page directory.
const PD_OFFSET: u64 = 0x5000;
/// Size of the block.
pub const BOOT_BLOCK_SIZE: u64 = 0x9000;
/// The boot protocol's code selector (`__BOOT_CS`): a flat 64-bit code segment.
pub const BOOT_CS: u16 = 0x10;
/// The boot protocol's data selector (`__BOOT_DS`): a flat data segment.
pub const BOOT_DS: u16 = 0x18;

/// Descriptors: flat 64-bit code (execute/read, L, G) and flat data (read/write, D/B, G).
const CODE64_DESCRIPTOR: u64 = 0x00af_9a00_0000_ffff;
const DATA_DESCRIPTOR: u64 = 0x00cf_9200_0000_ffff;
/// Page-table entry bits: present, writable; PS for a 2 MiB page.
const PRESENT_WRITABLE: u64 = 0b11;
const LARGE_PAGE: u64 = 1 << 7;

/// Why a boot block cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootBlockError {
    /// The block's address is not 4 KiB aligned.
    Unaligned {
        /// The address given.
        addr: u64,
    },
    /// The block would not lie below 4 GiB, where its own tables map it.
    Above4G {
        /// The address given.
        addr: u64,
    },
    /// The command line does not fit.
    CmdlineTooLong {
        /// Its length.
        len: usize,
    },
}

impl fmt::Display for BootBlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unaligned { addr } => {
                write!(f, "boot block address {addr:#x} is not 4 KiB aligned")
            }
            Self::Above4G { addr } => {
                write!(f, "boot block at {addr:#x} does not fit below 4 GiB")
            }
            Self::CmdlineTooLong { len } => write!(
                f,
                "command line of {len} bytes is longer than the {CMDLINE_MAX} the boot block holds"
            ),
        }
    }
}

impl core::error::Error for BootBlockError {}

/// Checks that a block fits at `addr` and returns the address its command line gets.
pub fn cmdline_address(addr: u64, cmdline: &[u8]) -> Result<u64, BootBlockError> {
    if !addr.is_multiple_of(0x1000) {
        return Err(BootBlockError::Unaligned { addr });
    }
    if addr
        .checked_add(BOOT_BLOCK_SIZE)
        .is_none_or(|end| end > 1 << 32)
    {
        return Err(BootBlockError::Above4G { addr });
    }
    if cmdline.len() > CMDLINE_MAX {
        return Err(BootBlockError::CmdlineTooLong { len: cmdline.len() });
    }
    Ok(addr + CMDLINE_OFFSET)
}

/// The block for guest address `addr` with `zero_page` (built with the command line
/// at [`cmdline_address`]) and `cmdline`.
pub fn build_boot_block(
    addr: u64,
    zero_page: &[u8; ZERO_PAGE_SIZE],
    cmdline: &[u8],
) -> Result<Vec<u8>, BootBlockError> {
    cmdline_address(addr, cmdline)?;
    let mut block = vec![0u8; BOOT_BLOCK_SIZE as usize];
    put(&mut block, ZERO_PAGE_OFFSET as usize, zero_page);
    put(&mut block, CMDLINE_OFFSET as usize, cmdline);
    let gdt = GDT_OFFSET as usize;
    put(
        &mut block,
        gdt + usize::from(BOOT_CS),
        &CODE64_DESCRIPTOR.to_le_bytes(),
    );
    put(
        &mut block,
        gdt + usize::from(BOOT_DS),
        &DATA_DESCRIPTOR.to_le_bytes(),
    );
    let pdpt = addr + PDPT_OFFSET;
    put(
        &mut block,
        PML4_OFFSET as usize,
        &(pdpt | PRESENT_WRITABLE).to_le_bytes(),
    );
    for gib in 0..4u64 {
        let pd = addr + PD_OFFSET + gib * 0x1000;
        put(
            &mut block,
            (PDPT_OFFSET + gib * 8) as usize,
            &(pd | PRESENT_WRITABLE).to_le_bytes(),
        );
    }
    for page in 0..2048u64 {
        let entry = (page << 21) | PRESENT_WRITABLE | LARGE_PAGE;
        put(
            &mut block,
            (PD_OFFSET + page * 8) as usize,
            &entry.to_le_bytes(),
        );
    }
    Ok(block)
}
