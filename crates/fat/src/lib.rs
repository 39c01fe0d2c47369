//! Read-only FAT32 over a [`BlockDevice`]: the hypervisor reads guest images and VM
//! configs from its disk with it.
//!
//! [`Volume::mount`] finds the volume (an unpartitioned "superfloppy" disk, or the
//! first FAT partition of an MBR), checks its boot sector, and then resolves paths
//! such as `/images/Image-6.1.gz`: VFAT long names (checksum checked, UTF-16 turned
//! into UTF-8) and 8.3 names, compared without regard to case as FAT does. It lists
//! directories and reads whole files, into a `Vec` up to a caller's limit or into a
//! caller's buffer.
//!
//! The disk is a user's, so it is treated as hostile input: every field and every
//! FAT link is checked, cluster chains are followed with loop detection and must
//! match the file's size, and a directory may hold at most the 65,536 entries FAT
//! allows. A damaged volume gives an error naming the path and the reason; nothing
//! here panics or loops forever on any disk contents.
//!
//! The reader is written for this project from Microsoft's FAT specification
//! ("FAT: General Overview of On-Disk Format"). `embedded-sdmmc` 0.10, the maintained
//! no_std FAT crate, was checked first and not used: it opens files by long name but
//! directories only by 8.3 name (`open_dir` takes a short name), compares long
//! names case-sensitively, panics when a directory entry names a cluster above
//! 0x3FFF_FFFF (`next_cluster`), and walks a directory whose cluster chain loops
//! forever.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

extern crate alloc;

mod boot_sector;
mod bytes;
mod device;
mod dir;
mod error;
mod fat;
mod name;
mod partition;
mod path;
mod read;
mod volume;

#[cfg(test)]
mod tests;

pub use device::{BlockDevice, PastEnd, SECTOR_SIZE, SliceDevice};
pub use dir::DirEntry;
pub use error::{DeviceError, FileError, FileErrorKind, MountError, MountErrorKind};
pub use read::MAX_REQUEST_BYTES;
pub use volume::{Volume, VolumeInfo};
