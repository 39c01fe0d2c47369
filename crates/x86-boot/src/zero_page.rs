//! The zero page (`struct boot_params`) a loader hands the kernel in `rsi`.
//!
//! The page starts zeroed; the setup header is copied from the kernel file to the
//! same offsets and the loader's fields are filled in. `loadflags` keeps the
//! kernel's bits with LOADED_HIGH (bit 0) set and CAN_USE_HEAP (bit 7) clear,
//! `heap_end_ptr` 0: the 64-bit entry skips the real-mode setup code, the only user
//! of the setup heap. Everything else (screen info, APM, EDD, EFI, the ACPI RSDP
//! pointer, `setup_data`) stays zero: a zero `acpi_rsdp_addr` has the kernel search
//! for the RSDP in the BIOS areas.

use core::fmt;

use crate::bytes::{put, u32_at};
use crate::bzimage::field;
use crate::{BzImage, E820Entry};

#[cfg(test)]
mod tests;

/// Size of the zero page.
pub const ZERO_PAGE_SIZE: usize = 4096;
/// ext_ramdisk_image (4 bytes): initrd address, high 32 bits.
const EXT_RAMDISK_IMAGE: usize = 0x0c0;
/// ext_ramdisk_size (4 bytes): initrd size, high 32 bits.
const EXT_RAMDISK_SIZE: usize = 0x0c4;
/// ext_cmd_line_ptr (4 bytes): command line address, high 32 bits.
const EXT_CMD_LINE_PTR: usize = 0x0c8;
/// e820_entries (1 byte).
const E820_ENTRIES: usize = 0x1e8;
/// e820_table: up to 128 entries of 20 bytes.
const E820_TABLE: usize = 0x2d0;
/// Entries the zero page's e820 table holds.
pub(crate) const E820_MAX_ENTRIES: usize = 128;
/// vid_mode 0xFFFF: "normal", the 80x25 text mode.
const VID_MODE_NORMAL: u16 = 0xffff;
/// type_of_loader 0xFF: a loader without an assigned ID.
const LOADER_UNDEFINED: u8 = 0xff;
/// loadflags bit 0: the protected-mode kernel is loaded high (at 1 MiB or above).
const LOADED_HIGH: u8 = 1 << 0;
/// loadflags bit 7: heap_end_ptr is valid.
const CAN_USE_HEAP: u8 = 1 << 7;
/// The first address a kernel that cannot go above 4 GiB cannot reach.
const FOUR_GIB: u64 = 1 << 32;

/// Why the zero page cannot describe the boot the loader asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BootParamsError {
    /// The command line is longer than the kernel's `cmdline_size`.
    CmdlineTooLong {
        /// Its length, without the NUL.
        len: u32,
        /// The kernel's limit.
        max: u32,
    },
    /// The command line lies above 4 GiB and the kernel lacks
    /// `XLF_CAN_BE_LOADED_ABOVE_4G`.
    CmdlineAbove4G {
        /// Its address.
        addr: u64,
    },
    /// The initrd ends above `initrd_addr_max` and the kernel lacks
    /// `XLF_CAN_BE_LOADED_ABOVE_4G`.
    InitrdTooHigh {
        /// Its last byte's address.
        last: u64,
        /// The kernel's `initrd_addr_max`.
        max: u32,
    },
    /// The initrd runs past the end of the address space.
    InitrdWraps {
        /// Its address.
        addr: u64,
        /// Its size.
        size: u32,
    },
    /// More e820 entries than the zero page's table holds.
    TooManyE820Entries {
        /// The number given.
        count: usize,
    },
}

impl fmt::Display for BootParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CmdlineTooLong { len, max } => write!(
                f,
                "command line of {len} bytes is longer than the kernel's cmdline_size ({max})"
            ),
            Self::CmdlineAbove4G { addr } => write!(
                f,
                "command line at {addr:#x} is above 4 GiB and the kernel's xloadflags \
                 lack XLF_CAN_BE_LOADED_ABOVE_4G"
            ),
            Self::InitrdTooHigh { last, max } => write!(
                f,
                "initrd ends at {last:#x}, above the kernel's initrd_addr_max ({max:#x})"
            ),
            Self::InitrdWraps { addr, size } => {
                write!(f, "initrd at {addr:#x} of {size:#x} bytes wraps around")
            }
            Self::TooManyE820Entries { count } => write!(
                f,
                "{count} e820 entries: the zero page's e820_table holds {E820_MAX_ENTRIES}"
            ),
        }
    }
}

impl core::error::Error for BootParamsError {}

/// Checks that `image` can take the command line and initrd where they are.
fn check(
    image: &BzImage<'_>,
    cmdline_addr: u64,
    cmdline_len: u32,
    initrd: Option<(u64, u32)>,
) -> Result<(), BootParamsError> {
    if cmdline_len > image.cmdline_size() {
        return Err(BootParamsError::CmdlineTooLong {
            len: cmdline_len,
            max: image.cmdline_size(),
        });
    }
    let above_4g = image.can_load_above_4g();
    // The command line and its NUL.
    let cmdline_end = cmdline_addr.saturating_add(u64::from(cmdline_len) + 1);
    if !above_4g && cmdline_end > FOUR_GIB {
        return Err(BootParamsError::CmdlineAbove4G { addr: cmdline_addr });
    }
    if let Some((addr, size)) = initrd.filter(|&(_, size)| size > 0) {
        let last = addr
            .checked_add(u64::from(size) - 1)
            .ok_or(BootParamsError::InitrdWraps { addr, size })?;
        let max = image.initrd_addr_max();
        if !above_4g && last > u64::from(max) {
            return Err(BootParamsError::InitrdTooHigh { last, max });
        }
    }
    Ok(())
}

/// The zero page for booting `image` through its 64-bit entry point, with the
/// memory map `e820` (at most 128 entries, in the order given), the command line
/// of `cmdline_len` bytes (without its NUL) at `cmdline_addr` (0 and 0 for none),
/// and the initrd at `initrd`'s address and size. Addresses above 4 GiB go in the
/// `ext_` fields. Refuses what the kernel says it cannot take.
pub fn build_boot_params(
    image: &BzImage<'_>,
    e820: &[E820Entry],
    cmdline_addr: u64,
    cmdline_len: u32,
    initrd: Option<(u64, u32)>,
) -> Result<[u8; ZERO_PAGE_SIZE], BootParamsError> {
    let mut page = build_plain_boot_params(e820, cmdline_addr, initrd)?;
    add_setup_header(&mut page, image, cmdline_len)?;
    Ok(page)
}

/// Turns a zero page from [`build_plain_boot_params`] into one for booting `image`
/// through its 64-bit entry point: copies its setup header in (keeping the page's
/// command line and initrd fields) and sets the loader's header fields. The command
/// line is `cmdline_len` bytes long without its NUL. Refuses what the kernel says it
/// cannot take.
pub fn add_setup_header(
    page: &mut [u8; ZERO_PAGE_SIZE],
    image: &BzImage<'_>,
    cmdline_len: u32,
) -> Result<(), BootParamsError> {
    let joined = |low: usize, high: usize| {
        u64::from(u32_at(page, low).unwrap_or(0))
            | (u64::from(u32_at(page, high).unwrap_or(0)) << 32)
    };
    let cmdline_addr = joined(field::CMD_LINE_PTR, EXT_CMD_LINE_PTR);
    let initrd_addr = joined(field::RAMDISK_IMAGE, EXT_RAMDISK_IMAGE);
    let initrd_size = u32_at(page, field::RAMDISK_SIZE).unwrap_or(0);
    let initrd = (initrd_size > 0).then_some((initrd_addr, initrd_size));
    check(image, cmdline_addr, cmdline_len, initrd)?;
    // The header covers the low halves of the command line and initrd fields.
    let kept = [
        field::CMD_LINE_PTR,
        field::RAMDISK_IMAGE,
        field::RAMDISK_SIZE,
    ]
    .map(|offset| (offset, u32_at(page, offset).unwrap_or(0)));
    put(page, field::HEADER_START, image.setup_header());
    for (offset, value) in kept {
        put(page, offset, &value.to_le_bytes());
    }
    put(page, field::VID_MODE, &VID_MODE_NORMAL.to_le_bytes());
    put(page, field::TYPE_OF_LOADER, &[LOADER_UNDEFINED]);
    let loadflags = (image.loadflags() | LOADED_HIGH) & !CAN_USE_HEAP;
    put(page, field::LOADFLAGS, &[loadflags]);
    put(page, field::HEAP_END_PTR, &0u16.to_le_bytes());
    Ok(())
}

/// The zero page for a program that is not a bzImage (such as Tessera's test guest)
/// but reads the same fields: the memory map `e820`, the command line at
/// `cmdline_addr` (0 for none) and the initrd. There is no setup header to copy.
pub fn build_plain_boot_params(
    e820: &[E820Entry],
    cmdline_addr: u64,
    initrd: Option<(u64, u32)>,
) -> Result<[u8; ZERO_PAGE_SIZE], BootParamsError> {
    if e820.len() > E820_MAX_ENTRIES {
        return Err(BootParamsError::TooManyE820Entries { count: e820.len() });
    }
    if let Some((addr, size)) = initrd.filter(|&(_, size)| size > 0)
        && addr.checked_add(u64::from(size) - 1).is_none()
    {
        return Err(BootParamsError::InitrdWraps { addr, size });
    }
    let mut page = [0u8; ZERO_PAGE_SIZE];
    put_loader_fields(&mut page, e820, cmdline_addr, initrd);
    Ok(page)
}

/// Writes the command line pointer, the initrd and the memory map into `page`.
fn put_loader_fields(
    page: &mut [u8; ZERO_PAGE_SIZE],
    e820: &[E820Entry],
    cmdline_addr: u64,
    initrd: Option<(u64, u32)>,
) {
    let (low, high) = split(cmdline_addr);
    put(page, field::CMD_LINE_PTR, &low);
    put(page, EXT_CMD_LINE_PTR, &high);
    let (addr, size) = initrd.unwrap_or((0, 0));
    let (low, high) = split(addr);
    put(page, field::RAMDISK_IMAGE, &low);
    put(page, EXT_RAMDISK_IMAGE, &high);
    put(page, field::RAMDISK_SIZE, &size.to_le_bytes());
    // The size is 32 bits: its high half is always 0.
    put(page, EXT_RAMDISK_SIZE, &0u32.to_le_bytes());
    put(page, E820_ENTRIES, &[e820.len() as u8]);
    for (index, entry) in e820.iter().enumerate() {
        let offset = E820_TABLE + index * E820Entry::SIZE;
        put(page, offset, &entry.to_bytes());
    }
}

/// The low and high 32 bits of `value`, little-endian.
fn split(value: u64) -> ([u8; 4], [u8; 4]) {
    let low = value as u32;
    let high = (value >> 32) as u32;
    (low.to_le_bytes(), high.to_le_bytes())
}
