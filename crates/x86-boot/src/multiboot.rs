//! Multiboot (version 1, the Multiboot Specification 0.6.96): the header a kernel
//! carries in its first 8 KiB, where its load fields put it in memory, and the
//! information block a loader hands it in `ebx`.
//!
//! A loader: finds the header with [`MultibootHeader::find`]; copies the file range
//! [`MultibootLayout::file_range`] to [`MultibootLayout::load_addr`] and zeroes up to
//! [`MultibootLayout::bss_end`]; writes the block [`build_multiboot_info`] makes at
//! its address; and enters [`MultibootLayout::entry`] in 32-bit protected mode with
//! paging off, flat 4 GiB code and data segments, interrupts off,
//! `eax` = [`BOOTLOADER_MAGIC`] and `ebx` = the block's address.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::bytes::{put, u32_at};
use crate::e820::E820Entry;

#[cfg(test)]
mod tests;

/// The header's magic number.
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// What a multiboot loader leaves in `eax`.
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// The header lies in the image's first this many bytes, 4-byte aligned.
pub const HEADER_SEARCH: usize = 8192;

/// Header flag: modules must be loaded on page (4 KiB) boundaries. (Flag 1, the
/// memory fields, needs nothing: every block has them.)
const FLAG_PAGE_ALIGN: u32 = 1 << 0;
/// Header flag: the kernel wants a video mode set.
const FLAG_VIDEO_MODE: u32 = 1 << 2;
/// Header flag: the header's address fields say where the kernel goes (no ELF).
const FLAG_ADDRESSES: u32 = 1 << 16;

/// Information block flags: `mem_lower`/`mem_upper`, `cmdline`, `mods_*`, `mmap_*`,
/// `boot_loader_name`.
const INFO_MEMORY: u32 = 1 << 0;
const INFO_CMDLINE: u32 = 1 << 2;
const INFO_MODULES: u32 = 1 << 3;
const INFO_MMAP: u32 = 1 << 6;
const INFO_LOADER_NAME: u32 = 1 << 9;

/// Bytes of the information block's fixed part (through the framebuffer fields).
pub const INFO_SIZE: usize = 120;

/// Offsets of the information block's fields.
mod info {
    pub const FLAGS: usize = 0;
    pub const MEM_LOWER: usize = 4;
    pub const MEM_UPPER: usize = 8;
    pub const CMDLINE: usize = 16;
    pub const MODS_COUNT: usize = 20;
    pub const MODS_ADDR: usize = 24;
    pub const MMAP_LENGTH: usize = 44;
    pub const MMAP_ADDR: usize = 48;
    pub const BOOT_LOADER_NAME: usize = 64;
}

/// Bytes of one memory map entry: its `size` field (4), then 20 bytes it counts.
const MMAP_ENTRY_SIZE: usize = 24;
/// Bytes of one module entry: start, end, string, reserved.
const MODULE_ENTRY_SIZE: usize = 16;

/// Why a kernel cannot be loaded as multiboot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MultibootError {
    /// No header with a valid checksum in the first 8 KiB.
    NoHeader,
    /// The header asks for a video mode, which Tessera's VMs (serial consoles) lack.
    VideoMode,
    /// The header gives no load addresses (flag 16): an ELF kernel, not loaded here.
    NoAddresses,
    /// The load fields do not fit the file or each other.
    BadAddresses,
    /// The information block would pass 4 GiB or not fit 32-bit fields.
    InfoAbove4G,
}

impl fmt::Display for MultibootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoHeader => {
                "no multiboot header (magic 0x1badb002 with a valid checksum) in its first 8 KiB"
            }
            Self::VideoMode => "its multiboot header asks for a video mode (flag 2): a VM has none",
            Self::NoAddresses => {
                "its multiboot header gives no load addresses (flag 16): ELF multiboot kernels \
                 are not loaded yet"
            }
            Self::BadAddresses => {
                "its multiboot header's load addresses do not fit the file (header_addr below \
                 load_addr, load_end_addr below load_addr or past the file, bss_end_addr below \
                 load_end_addr)"
            }
            Self::InfoAbove4G => "the multiboot information must lie below 4 GiB",
        })
    }
}

/// A kernel's multiboot header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MultibootHeader {
    /// Its offset in the file.
    pub offset: usize,
    /// Its flags.
    pub flags: u32,
    /// `header_addr`, `load_addr`, `load_end_addr`, `bss_end_addr`, `entry_addr`
    /// (meaningful with [`FLAG_ADDRESSES`]).
    pub addresses: [u32; 5],
}

/// Where a kernel goes, from its header's address fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MultibootLayout {
    /// The file bytes to load: `start..end`.
    pub file_range: (usize, usize),
    /// Where they go.
    pub load_addr: u64,
    /// Zero from the end of the loaded bytes up to here.
    pub bss_end: u64,
    /// The 32-bit entry point.
    pub entry: u64,
}

impl MultibootHeader {
    /// The header in `image`'s first 8 KiB, or an error when there is none.
    pub fn find(image: &[u8]) -> Result<Self, MultibootError> {
        let field = |offset: usize, i: usize| u32_at(image, offset + 4 * i);
        (0..HEADER_SEARCH)
            .step_by(4)
            .find_map(|offset| {
                let (magic, flags, checksum) =
                    (field(offset, 0)?, field(offset, 1)?, field(offset, 2)?);
                let valid =
                    magic == HEADER_MAGIC && magic.wrapping_add(flags).wrapping_add(checksum) == 0;
                valid.then(|| {
                    let mut addresses = [0; 5];
                    for (i, slot) in addresses.iter_mut().enumerate() {
                        *slot = field(offset, 3 + i).unwrap_or(0);
                    }
                    Self {
                        offset,
                        flags,
                        addresses,
                    }
                })
            })
            .ok_or(MultibootError::NoHeader)
    }

    /// Whether modules must start on a 4 KiB page.
    pub fn needs_aligned_modules(&self) -> bool {
        self.flags & FLAG_PAGE_ALIGN != 0
    }

    /// Where the kernel in a file of `file_len` bytes goes.
    pub fn layout(&self, file_len: usize) -> Result<MultibootLayout, MultibootError> {
        if self.flags & FLAG_VIDEO_MODE != 0 {
            return Err(MultibootError::VideoMode);
        }
        if self.flags & FLAG_ADDRESSES == 0 {
            return Err(MultibootError::NoAddresses);
        }
        let [
            header_addr,
            load_addr,
            load_end_addr,
            bss_end_addr,
            entry_addr,
        ] = self.addresses.map(u64::from);
        let header_at = header_addr
            .checked_sub(load_addr)
            .ok_or(MultibootError::BadAddresses)?;
        let start = (self.offset as u64)
            .checked_sub(header_at)
            .ok_or(MultibootError::BadAddresses)?;
        let end = if load_end_addr == 0 {
            file_len as u64
        } else {
            load_end_addr
                .checked_sub(load_addr)
                .and_then(|len| start.checked_add(len))
                .filter(|&end| end <= file_len as u64)
                .ok_or(MultibootError::BadAddresses)?
        };
        let loaded_end = load_addr + (end - start);
        let bss_end = if bss_end_addr == 0 {
            loaded_end
        } else if bss_end_addr >= loaded_end {
            bss_end_addr
        } else {
            return Err(MultibootError::BadAddresses);
        };
        Ok(MultibootLayout {
            file_range: (start as usize, end as usize),
            load_addr,
            bss_end,
            entry: entry_addr,
        })
    }
}

/// A module for the kernel (Tessera's initrd): where it lies in guest memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Module {
    /// First byte.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
}

/// The information block for a kernel, to be placed at `addr`: the fixed part, then
/// the memory map (`e820`), the command line, the loader's name and the module
/// list, each addressed where it lies.
pub fn build_multiboot_info(
    addr: u64,
    e820: &[E820Entry],
    cmdline: &[u8],
    module: Option<Module>,
) -> Result<Vec<u8>, MultibootError> {
    const LOADER_NAME: &[u8] = b"Tessera\0";
    let mmap_at = INFO_SIZE;
    let cmdline_at = mmap_at + e820.len() * MMAP_ENTRY_SIZE;
    let name_at = cmdline_at + cmdline.len() + 1;
    let modules_at = (name_at + LOADER_NAME.len()).next_multiple_of(4);
    let end = modules_at
        + if module.is_some() {
            MODULE_ENTRY_SIZE
        } else {
            0
        };
    let address = |offset: usize| -> Result<u32, MultibootError> {
        addr.checked_add(offset as u64)
            .and_then(|a| u32::try_from(a).ok())
            .ok_or(MultibootError::InfoAbove4G)
    };
    address(end)?;
    let mut block = vec![0u8; end];
    let mut flags = INFO_MEMORY | INFO_CMDLINE | INFO_MMAP | INFO_LOADER_NAME;
    let (lower, upper) = memory_kib(e820);
    put(&mut block, info::MEM_LOWER, &lower.to_le_bytes());
    put(&mut block, info::MEM_UPPER, &upper.to_le_bytes());
    for (i, entry) in e820.iter().enumerate() {
        let at = mmap_at + i * MMAP_ENTRY_SIZE;
        put(&mut block, at, &20u32.to_le_bytes());
        put(&mut block, at + 4, &entry.to_bytes());
    }
    put(
        &mut block,
        info::MMAP_LENGTH,
        &((e820.len() * MMAP_ENTRY_SIZE) as u32).to_le_bytes(),
    );
    put(
        &mut block,
        info::MMAP_ADDR,
        &address(mmap_at)?.to_le_bytes(),
    );
    put(&mut block, cmdline_at, cmdline);
    put(
        &mut block,
        info::CMDLINE,
        &address(cmdline_at)?.to_le_bytes(),
    );
    put(&mut block, name_at, LOADER_NAME);
    put(
        &mut block,
        info::BOOT_LOADER_NAME,
        &address(name_at)?.to_le_bytes(),
    );
    if let Some(module) = module {
        let start = u32::try_from(module.start).map_err(|_| MultibootError::InfoAbove4G)?;
        let end = module
            .start
            .checked_add(module.size)
            .and_then(|end| u32::try_from(end).ok())
            .ok_or(MultibootError::InfoAbove4G)?;
        put(&mut block, modules_at, &start.to_le_bytes());
        put(&mut block, modules_at + 4, &end.to_le_bytes());
        // The module's string: the command line's (empty string at its NUL).
        let string = address(cmdline_at + cmdline.len())?;
        put(&mut block, modules_at + 8, &string.to_le_bytes());
        put(&mut block, info::MODS_COUNT, &1u32.to_le_bytes());
        put(
            &mut block,
            info::MODS_ADDR,
            &address(modules_at)?.to_le_bytes(),
        );
        flags |= INFO_MODULES;
    }
    put(&mut block, info::FLAGS, &flags.to_le_bytes());
    Ok(block)
}

/// `mem_lower` and `mem_upper` in KiB: RAM from 0 (at most 640 KiB) and RAM from
/// 1 MiB up to the first hole, as the map's RAM entries say.
fn memory_kib(e820: &[E820Entry]) -> (u32, u32) {
    let ram_from = |at: u64| {
        e820.iter()
            .find(|e| {
                e.kind == E820Entry::RAM && e.addr <= at && e.end().is_some_and(|end| end > at)
            })
            .and_then(|e| e.end())
            .map_or(0, |end| end - at)
    };
    let lower = ram_from(0).min(640 << 10) >> 10;
    let upper = (ram_from(1 << 20) >> 10).min(u64::from(u32::MAX));
    (lower as u32, upper as u32)
}
