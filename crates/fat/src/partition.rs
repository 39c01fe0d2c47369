//! The MBR partition table: where the first FAT partition starts.

use crate::bytes::{u8_at, u16_at, u32_at};

/// Offset of the four 16-byte partition entries in the MBR.
const TABLE_OFFSET: usize = 446;
/// Partition type of a GPT protective MBR.
const GPT_PROTECTIVE: u8 = 0xEE;
/// Partition types that hold a FAT volume: FAT12, FAT16 (< 32 MiB), FAT16,
/// FAT32 (CHS), FAT32 (LBA), FAT16 (LBA), EFI system partition.
const FAT_TYPES: [u8; 7] = [0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E, 0xEF];

/// A partition: first sector and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Partition {
    /// First sector.
    pub(crate) lba: u64,
    /// Sectors.
    pub(crate) sectors: u64,
}

/// What the partition table of sector 0 says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    /// No MBR, or an MBR without a FAT partition.
    NoFatPartition,
    /// A GPT protective MBR.
    Gpt,
    /// The first FAT partition.
    Fat(Partition),
}

/// Reads the partition table of sector 0.
pub(crate) fn first_fat_partition(sector: &[u8]) -> Table {
    if u16_at(sector, 510) != 0xAA55 {
        return Table::NoFatPartition;
    }
    let mut entries = (0..4).map(|i| TABLE_OFFSET + 16 * i).filter(|&entry| {
        // A status byte other than 0x00 / 0x80 means this is no partition table.
        matches!(u8_at(sector, entry), 0x00 | 0x80)
    });
    if entries
        .clone()
        .any(|entry| u8_at(sector, entry + 4) == GPT_PROTECTIVE)
    {
        return Table::Gpt;
    }
    entries
        .find_map(|entry| {
            let kind = u8_at(sector, entry + 4);
            let lba = u64::from(u32_at(sector, entry + 8));
            let sectors = u64::from(u32_at(sector, entry + 12));
            (FAT_TYPES.contains(&kind) && lba != 0 && sectors != 0)
                .then_some(Partition { lba, sectors })
        })
        .map_or(Table::NoFatPartition, Table::Fat)
}
