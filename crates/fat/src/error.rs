//! Errors: why a volume could not be mounted, and why a path could not be read.

use alloc::string::String;
use core::fmt;

/// A read of the block device failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceError {
    /// First sector of the failed read.
    pub lba: u64,
    /// Sectors asked for.
    pub sectors: u64,
    /// The device's own message.
    pub detail: String,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reading {} sector(s) from sector {} failed: {}",
            self.sectors, self.lba, self.detail
        )
    }
}

/// The disk holds no FAT32 volume this crate can read.
///
/// Displays as `disk: no usable FAT32 volume (boot sector at sector {lba}): {kind}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountError {
    /// Sector of the boot sector that was rejected (0 for an unpartitioned disk).
    pub lba: u64,
    /// What is wrong with it.
    pub kind: MountErrorKind,
}

/// Why a boot sector was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountErrorKind {
    /// The device failed.
    Device(DeviceError),
    /// The sector does not end in 0x55 0xAA.
    BadSignature {
        /// The two bytes found at offset 510, little-endian.
        found: u16,
    },
    /// The disk is partitioned with GPT, which is not read.
    Gpt,
    /// Bytes per sector is not 512.
    BadBytesPerSector(u16),
    /// Sectors per cluster is 0.
    ZeroSectorsPerCluster,
    /// Sectors per cluster is not a power of two.
    BadSectorsPerCluster(u8),
    /// The cluster count makes this a FAT12 or FAT16 volume.
    NotFat32 {
        /// `"FAT12"` or `"FAT16"`.
        kind: &'static str,
        /// Data clusters of the volume.
        clusters: u64,
    },
    /// A field is out of range or the areas do not fit the volume.
    BadLayout(&'static str),
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "disk: no usable FAT32 volume (boot sector at sector {}): {}",
            self.lba, self.kind
        )
    }
}

impl fmt::Display for MountErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(error) => write!(f, "{error}"),
            Self::BadSignature { found } => write!(
                f,
                "no boot signature 0xAA55 at offset 510 (found {found:#06x})"
            ),
            Self::Gpt => write!(
                f,
                "the disk has a GPT partition table; use an MBR or an unpartitioned FAT32 disk"
            ),
            Self::BadBytesPerSector(value) => {
                write!(f, "{value} bytes per sector; only 512 is supported")
            }
            Self::ZeroSectorsPerCluster => write!(f, "0 sectors per cluster"),
            Self::BadSectorsPerCluster(value) => {
                write!(f, "{value} sectors per cluster is not a power of two")
            }
            Self::NotFat32 { kind, clusters } => write!(
                f,
                "a {kind} volume ({clusters} clusters); only FAT32 is supported"
            ),
            Self::BadLayout(reason) => write!(f, "{reason}"),
        }
    }
}

impl core::error::Error for MountError {}

/// A path could not be listed or read.
///
/// Displays as `{path}: {kind}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The path as the caller gave it.
    pub path: String,
    /// What went wrong.
    pub kind: FileErrorKind,
}

/// Why a path could not be listed or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileErrorKind {
    /// The device failed.
    Device(DeviceError),
    /// A component of the path does not exist.
    NotFound {
        /// The missing name.
        name: String,
        /// The directory it was looked for in.
        dir: String,
    },
    /// A component before the last names a file.
    NotADirectory {
        /// The path up to and including that file.
        file: String,
    },
    /// A file was asked for and the path names a directory.
    IsADirectory,
    /// The file is larger than the caller allows.
    TooLarge {
        /// Size of the file.
        size: u64,
        /// The caller's limit.
        max: u64,
    },
    /// Memory for the file's contents could not be allocated.
    OutOfMemory {
        /// Bytes asked for.
        size: u64,
    },
    /// A directory entry names a first cluster outside the volume.
    BadFirstCluster {
        /// The cluster number.
        cluster: u32,
    },
    /// The FAT links a cluster to a number that is no data cluster of the volume
    /// (free, reserved or past the end).
    BadLink {
        /// The cluster whose entry is wrong.
        cluster: u32,
        /// The entry's value.
        next: u32,
    },
    /// The FAT marks a cluster of the chain as bad.
    BadCluster {
        /// The cluster.
        cluster: u32,
    },
    /// The cluster chain comes back to a cluster it already passed.
    Loop {
        /// A cluster on the loop.
        cluster: u32,
    },
    /// The cluster chain ends before the file's size is covered.
    ChainTooShort {
        /// Clusters in the chain.
        clusters: u64,
        /// Clusters the size needs.
        needed: u64,
    },
    /// The cluster chain goes on after the file's size is covered.
    ChainTooLong {
        /// Clusters the size needs.
        needed: u64,
    },
    /// A directory goes past the 65,536 entries FAT allows.
    DirectoryTooLarge,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.kind)
    }
}

impl fmt::Display for FileErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(error) => write!(f, "{error}"),
            Self::NotFound { name, dir } => write!(f, "no \"{name}\" in {dir}"),
            Self::NotADirectory { file } => write!(f, "{file} is a file, not a directory"),
            Self::IsADirectory => write!(f, "is a directory, not a file"),
            Self::TooLarge { size, max } => {
                write!(f, "{size} bytes, larger than the {max} bytes allowed")
            }
            Self::OutOfMemory { size } => write!(f, "no memory for its {size} bytes"),
            Self::BadFirstCluster { cluster } => write!(
                f,
                "its directory entry starts at cluster {cluster}, which is not on the volume"
            ),
            Self::BadLink { cluster, next } => write!(
                f,
                "the FAT links cluster {cluster} to {next:#x}, which is not a cluster of the volume"
            ),
            Self::BadCluster { cluster } => {
                write!(f, "cluster {cluster} of its chain is marked bad")
            }
            Self::Loop { cluster } => {
                write!(f, "its cluster chain loops (through cluster {cluster})")
            }
            Self::ChainTooShort { clusters, needed } => write!(
                f,
                "its cluster chain ends after {clusters} cluster(s); its size needs {needed}"
            ),
            Self::ChainTooLong { needed } => write!(
                f,
                "its cluster chain goes on past the {needed} cluster(s) its size needs"
            ),
            Self::DirectoryTooLarge => write!(
                f,
                "a directory on the way has more than the 65536 entries FAT allows"
            ),
        }
    }
}

impl core::error::Error for FileError {}

impl From<DeviceError> for FileErrorKind {
    fn from(error: DeviceError) -> Self {
        Self::Device(error)
    }
}

impl From<DeviceError> for MountErrorKind {
    fn from(error: DeviceError) -> Self {
        Self::Device(error)
    }
}
