//! The block device the volume is read from, and a disk image held in memory.

use alloc::string::ToString;
use core::fmt;

use crate::error::DeviceError;

/// Bytes in one sector. Only 512-byte sectors are supported, on the device and in
/// the volume.
pub const SECTOR_SIZE: usize = 512;

/// A disk read in whole 512-byte sectors (a virtio-blk device, an image file, ...).
pub trait BlockDevice {
    /// Why a read failed; shown in messages.
    type Error: fmt::Display;

    /// Fills `buf` (a non-empty multiple of [`SECTOR_SIZE`] bytes, at most
    /// [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES)) from the sectors starting at
    /// `first_lba`. A read past the end of the disk must be an error, not a short
    /// read.
    fn read_blocks(&mut self, first_lba: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
}

impl<D: BlockDevice + ?Sized> BlockDevice for &mut D {
    type Error = D::Error;

    fn read_blocks(&mut self, first_lba: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        (**self).read_blocks(first_lba, buf)
    }
}

/// A disk image in memory: sector `n` is bytes `n * 512 ..` of the slice.
#[derive(Clone, Copy, Debug)]
pub struct SliceDevice<'a> {
    bytes: &'a [u8],
}

impl<'a> SliceDevice<'a> {
    /// The image `bytes` (a trailing partial sector cannot be read).
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }
}

/// A read of a [`SliceDevice`] that does not lie wholly inside the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PastEnd {
    /// First sector asked for.
    pub lba: u64,
    /// Bytes asked for.
    pub len: usize,
    /// Size of the image in bytes.
    pub disk_len: usize,
}

impl fmt::Display for PastEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes from sector {} are past the end of the {}-byte disk",
            self.len, self.lba, self.disk_len
        )
    }
}

impl BlockDevice for SliceDevice<'_> {
    type Error = PastEnd;

    fn read_blocks(&mut self, first_lba: u64, buf: &mut [u8]) -> Result<(), PastEnd> {
        let past_end = PastEnd {
            lba: first_lba,
            len: buf.len(),
            disk_len: self.bytes.len(),
        };
        let source = usize::try_from(first_lba)
            .ok()
            .and_then(|lba| lba.checked_mul(SECTOR_SIZE))
            .and_then(|start| Some(start..start.checked_add(buf.len())?))
            .and_then(|range| self.bytes.get(range))
            .ok_or(past_end)?;
        buf.copy_from_slice(source);
        Ok(())
    }
}

/// Reads `buf.len()` bytes (any length) from sector `lba` on: whole sectors straight
/// into `buf`, the tail through a one-sector bounce buffer.
pub(crate) fn read_bytes<D: BlockDevice>(
    device: &mut D,
    lba: u64,
    buf: &mut [u8],
) -> Result<(), DeviceError> {
    let whole = buf.len() / SECTOR_SIZE * SECTOR_SIZE;
    let (head, tail) = buf.split_at_mut(whole);
    if !head.is_empty() {
        read_sectors(device, lba, head)?;
    }
    if !tail.is_empty() {
        let mut sector = [0u8; SECTOR_SIZE];
        read_sectors(device, lba + (whole / SECTOR_SIZE) as u64, &mut sector)?;
        if let Some(part) = sector.get(..tail.len()) {
            tail.copy_from_slice(part);
        }
    }
    Ok(())
}

/// Reads whole sectors, turning the device's error into a [`DeviceError`].
pub(crate) fn read_sectors<D: BlockDevice>(
    device: &mut D,
    lba: u64,
    buf: &mut [u8],
) -> Result<(), DeviceError> {
    device.read_blocks(lba, buf).map_err(|error| DeviceError {
        lba,
        sectors: (buf.len() / SECTOR_SIZE) as u64,
        detail: error.to_string(),
    })
}
