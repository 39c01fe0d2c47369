//! Where an image file goes in guest RAM: the bounds check made before a byte of it
//! is read (for images read from the disk at boot), and the message that names the
//! VM, the file and the reason when it does not fit.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};

use crate::memory::GuestMemory;

/// Why a file cannot be loaded at its load address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The load address is in no RAM region.
    Outside {
        /// The load address.
        addr: GuestPhysAddr,
        /// The VM's RAM regions, for the message.
        ram: Vec<GuestRange>,
    },
    /// The file is larger than the RAM from its load address to the end of the
    /// region holding that address.
    TooLarge {
        /// The load address.
        addr: GuestPhysAddr,
        /// Size of the file.
        size: u64,
        /// Bytes of RAM from `addr` to the end of `region`.
        room: u64,
        /// The region holding `addr`.
        region: GuestRange,
    },
}

/// Checks that `size` bytes loaded at `addr` lie wholly inside one RAM region of
/// `memory` and returns the host address of `addr`. A zero-size file still needs
/// its load address inside RAM.
pub fn check_load(
    memory: &GuestMemory,
    addr: GuestPhysAddr,
    size: u64,
) -> Result<HostPhysAddr, LoadError> {
    let outside = || LoadError::Outside {
        addr,
        ram: memory.regions().iter().map(|region| region.guest).collect(),
    };
    let region = memory
        .regions()
        .iter()
        .find(|region| region.guest.contains(addr))
        .ok_or_else(outside)?;
    // `contains` guarantees `addr` is at or above the start and below the end.
    let offset = addr.offset_from(region.guest.start).unwrap_or(0);
    let room = region.guest.size.saturating_sub(offset);
    if size > room {
        return Err(LoadError::TooLarge {
            addr,
            size,
            room,
            region: region.guest,
        });
    }
    memory.host_span(addr, size).map_err(|_| outside())
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Outside { addr, ram } => {
                write!(
                    f,
                    "load address {} is outside guest memory (RAM:",
                    Hex(addr.raw().into())
                )?;
                if ram.is_empty() {
                    write!(f, " none")?;
                }
                for (i, range) in ram.iter().enumerate() {
                    let separator = if i == 0 { " " } else { ", " };
                    write!(f, "{separator}{}", Range(*range))?;
                }
                write!(f, ")")
            }
            Self::TooLarge {
                addr,
                size,
                room,
                region,
            } => write!(
                f,
                "{size} bytes, larger than the {} of RAM from {} (region {})",
                Size(*room),
                Hex(addr.raw().into()),
                Range(*region)
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// An image of a VM that could not be loaded.
///
/// Displays as `VM {vm_id} ({vm_name}): {path}: {reason}`, for example
/// `VM 2 (linux): /images/Image: 12345678 bytes, larger than the 8 MiB of RAM from
/// 0x4008_0000 (region 0x4000_0000..0x4088_0000)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageError<R> {
    /// The VM's id.
    pub vm_id: u64,
    /// The VM's name.
    pub vm_name: String,
    /// The image file, as the config names it.
    pub path: String,
    /// Why it could not be loaded ([`LoadError`], or a disk error).
    pub reason: R,
}

impl<R: fmt::Display> fmt::Display for ImageError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VM {} ({}): {}: {}",
            self.vm_id, self.vm_name, self.path, self.reason
        )
    }
}

impl<R: fmt::Display + fmt::Debug> core::error::Error for ImageError<R> {}

/// An address in hexadecimal with `_` between groups of four digits.
struct Hex(u128);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = (128 - self.0.leading_zeros()).div_ceil(4).max(1);
        write!(f, "0x")?;
        for index in (0..digits).rev() {
            let digit = (self.0 >> (index * 4)) & 0xF;
            let c = char::from_digit(digit as u32, 16).unwrap_or('?');
            write!(f, "{c}")?;
            if index != 0 && index % 4 == 0 {
                write!(f, "_")?;
            }
        }
        Ok(())
    }
}

/// A guest range as `start..end` (end computed without overflow).
struct Range(GuestRange);

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = u128::from(self.0.start.raw());
        write!(
            f,
            "{}..{}",
            Hex(start),
            Hex(start + u128::from(self.0.size))
        )
    }
}

/// A size in the largest of MiB, KiB or bytes that shows it exactly.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1 << 10;
        const MIB: u64 = 1 << 20;
        match self.0 {
            0 => write!(f, "0 bytes"),
            size if size % MIB == 0 => write!(f, "{} MiB", size / MIB),
            size if size % KIB == 0 => write!(f, "{} KiB", size / KIB),
            size => write!(f, "{size} bytes"),
        }
    }
}

#[cfg(test)]
mod tests;
