//! Directories: 32-byte entries, read cluster by cluster, long names put together
//! with their short entries.

use alloc::string::String;

use crate::bytes::{u8_at, u16_at, u32_at};
use crate::device::{BlockDevice, SECTOR_SIZE, read_sectors};
use crate::error::FileErrorKind;
use crate::fat::{Chain, Disk};
use crate::name::{CHARS_PER_ENTRY, LongName, short_name_text};

/// Bytes per directory entry.
const ENTRY_SIZE: usize = 32;
/// Most entries a FAT directory may hold.
const MAX_ENTRIES: u64 = 65536;
/// First name byte of a free entry.
const FREE: u8 = 0xE5;
/// First name byte of the entry after the last one in use.
const END: u8 = 0x00;
/// Attribute: volume label.
const ATTR_VOLUME_ID: u8 = 0x08;
/// Attribute: directory.
const ATTR_DIRECTORY: u8 = 0x10;
/// Attribute bits that together mark a long-name entry.
const ATTR_LONG_NAME: u8 = 0x0F;
/// Attribute bits that decide whether an entry is a long-name entry.
const ATTR_LONG_NAME_MASK: u8 = 0x3F;
/// Offsets of the 13 UTF-16 units of a long-name entry (5 + 6 + 2).
const LONG_NAME_UNITS: [usize; CHARS_PER_ENTRY] = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/// One file or directory in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Its long name, or its short name (`NAME.EXT`) when it has none.
    pub name: String,
    /// Size in bytes (0 for a directory).
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// First cluster (0 for an empty file).
    pub(crate) first_cluster: u32,
    /// Its 8.3 name, which paths may use too.
    pub(crate) short_name: String,
}

/// What one 32-byte slot holds.
enum Slot {
    /// No entries follow.
    End,
    /// A free entry or a volume label.
    Skip,
    /// Part of a long name.
    Long {
        sequence: u8,
        checksum: u8,
        units: [u16; CHARS_PER_ENTRY],
    },
    /// A file or directory.
    Short {
        name: [u8; 11],
        case_flags: u8,
        is_dir: bool,
        first_cluster: u32,
        size: u32,
    },
}

fn parse_slot(raw: &[u8]) -> Slot {
    let first = u8_at(raw, 0);
    let attributes = u8_at(raw, 11);
    if first == END {
        return Slot::End;
    }
    if first == FREE {
        return Slot::Skip;
    }
    if attributes & ATTR_LONG_NAME_MASK == ATTR_LONG_NAME {
        return Slot::Long {
            sequence: first,
            checksum: u8_at(raw, 13),
            units: LONG_NAME_UNITS.map(|offset| u16_at(raw, offset)),
        };
    }
    if attributes & ATTR_VOLUME_ID != 0 {
        return Slot::Skip;
    }
    let mut name = [0u8; 11];
    if let Some(bytes) = raw.get(..11) {
        name.copy_from_slice(bytes);
    }
    Slot::Short {
        name,
        case_flags: u8_at(raw, 12),
        is_dir: attributes & ATTR_DIRECTORY != 0,
        first_cluster: (u32::from(u16_at(raw, 20)) << 16) | u32::from(u16_at(raw, 26)),
        size: u32_at(raw, 28),
    }
}

/// Calls `visit` with each entry of the directory starting at `first_cluster`
/// (without `.` and `..`) until it returns `Some`, which is then returned.
pub(crate) fn walk<D: BlockDevice, T>(
    disk: &mut Disk<D>,
    first_cluster: u32,
    mut visit: impl FnMut(DirEntry) -> Option<T>,
) -> Result<Option<T>, FileErrorKind> {
    let mut chain = Chain::new(&disk.geometry, first_cluster)?;
    let mut long_name = LongName::default();
    let mut entries = 0u64;
    let mut sector = [0u8; SECTOR_SIZE];
    while let Some(cluster) = chain.next(disk)? {
        let lba = disk.geometry.cluster_lba(cluster);
        for index in 0..disk.geometry.sectors_per_cluster {
            read_sectors(&mut disk.device, lba + index, &mut sector)?;
            for raw in sector.chunks_exact(ENTRY_SIZE) {
                entries += 1;
                if entries > MAX_ENTRIES {
                    return Err(FileErrorKind::DirectoryTooLarge);
                }
                match parse_slot(raw) {
                    Slot::End => return Ok(None),
                    Slot::Skip => long_name.clear(),
                    Slot::Long {
                        sequence,
                        checksum,
                        units,
                    } => long_name.push(sequence, checksum, &units),
                    Slot::Short {
                        name,
                        case_flags,
                        is_dir,
                        first_cluster,
                        size,
                    } => {
                        let long = long_name.finish(&name);
                        // `.` and `..`: no real name starts with a dot in 8.3 form.
                        if name[0] == b'.' {
                            continue;
                        }
                        let short_name = short_name_text(&name, case_flags);
                        let entry = DirEntry {
                            name: long.unwrap_or_else(|| short_name.clone()),
                            size: if is_dir { 0 } else { u64::from(size) },
                            is_dir,
                            first_cluster,
                            short_name,
                        };
                        if let Some(found) = visit(entry) {
                            return Ok(Some(found));
                        }
                    }
                }
            }
        }
    }
    Ok(None)
}
