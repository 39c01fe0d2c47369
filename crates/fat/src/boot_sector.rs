//! The FAT32 boot sector (BIOS parameter block): checked field by field, turned into
//! the volume's geometry.

use crate::bytes::{u8_at, u16_at, u32_at};
use crate::device::SECTOR_SIZE;
use crate::error::MountErrorKind;

/// Clusters below this count make a FAT12 volume (the FAT type is decided by the
/// cluster count alone).
const FAT16_MIN_CLUSTERS: u64 = 4085;
/// Clusters below this count make a FAT16 volume.
const FAT32_MIN_CLUSTERS: u64 = 65525;
/// Highest cluster count FAT32's 28-bit entries can number (clusters 2..=0x0FFF_FFF6).
const FAT32_MAX_CLUSTERS: u64 = 0x0FFF_FFF5;

/// Where the parts of a mounted volume lie on the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// First sector of the volume (its boot sector).
    pub(crate) volume_lba: u64,
    /// Sectors in the volume.
    pub(crate) total_sectors: u64,
    /// First sector of the FAT that is read (the active one).
    pub(crate) fat_lba: u64,
    /// First sector of cluster 2.
    pub(crate) data_lba: u64,
    /// Sectors per cluster (a power of two, 1 to 128).
    pub(crate) sectors_per_cluster: u64,
    /// Data clusters: valid cluster numbers are `2..cluster_count + 2`.
    pub(crate) cluster_count: u32,
    /// First cluster of the root directory.
    pub(crate) root_cluster: u32,
}

impl Geometry {
    /// Checks the boot sector `sector` read from `volume_lba`. `partition_sectors`
    /// bounds the volume when it sits in a partition.
    pub(crate) fn parse(
        sector: &[u8; SECTOR_SIZE],
        volume_lba: u64,
        partition_sectors: Option<u64>,
    ) -> Result<Self, MountErrorKind> {
        let signature = u16_at(sector, 510);
        if signature != 0xAA55 {
            return Err(MountErrorKind::BadSignature { found: signature });
        }
        // A boot sector starts with a jump over the BPB: EB xx 90 or E9 xx xx.
        let jump = (u8_at(sector, 0), u8_at(sector, 2));
        if !matches!(jump, (0xEB, 0x90) | (0xE9, _)) {
            return Err(MountErrorKind::BadLayout(
                "no jump instruction at the start of the boot sector",
            ));
        }
        let bytes_per_sector = u16_at(sector, 11);
        if usize::from(bytes_per_sector) != SECTOR_SIZE {
            return Err(MountErrorKind::BadBytesPerSector(bytes_per_sector));
        }
        let sectors_per_cluster = u8_at(sector, 13);
        if sectors_per_cluster == 0 {
            return Err(MountErrorKind::ZeroSectorsPerCluster);
        }
        if !sectors_per_cluster.is_power_of_two() {
            return Err(MountErrorKind::BadSectorsPerCluster(sectors_per_cluster));
        }
        let fields = Fields::read(sector);
        let layout = fields.layout(u64::from(sectors_per_cluster))?;
        fields.check_fat32(&layout)?;
        if partition_sectors.is_some_and(|sectors| layout.total_sectors > sectors) {
            return Err(MountErrorKind::BadLayout(
                "the volume is larger than its partition",
            ));
        }
        let active_fat = fields.active_fat()?;
        Ok(Self {
            volume_lba,
            total_sectors: layout.total_sectors,
            fat_lba: volume_lba + fields.reserved + active_fat * layout.fat_sectors,
            data_lba: volume_lba + layout.data_offset,
            sectors_per_cluster: u64::from(sectors_per_cluster),
            cluster_count: layout.clusters,
            root_cluster: fields.root_cluster,
        })
    }

    /// Bytes per cluster.
    pub(crate) fn cluster_bytes(&self) -> u64 {
        self.sectors_per_cluster * SECTOR_SIZE as u64
    }

    /// Whether `cluster` is a data cluster of the volume.
    pub(crate) fn is_data_cluster(&self, cluster: u32) -> bool {
        cluster >= 2 && cluster - 2 < self.cluster_count
    }

    /// First sector of data cluster `cluster` (which must be a data cluster).
    pub(crate) fn cluster_lba(&self, cluster: u32) -> u64 {
        self.data_lba + u64::from(cluster.saturating_sub(2)) * self.sectors_per_cluster
    }
}

/// The raw fields that decide the layout.
struct Fields {
    reserved: u64,
    fats: u64,
    root_entries: u16,
    total_16: u16,
    total_32: u32,
    fat_size_16: u16,
    fat_size_32: u32,
    ext_flags: u16,
    version: u16,
    root_cluster: u32,
}

/// Sizes computed from [`Fields`].
struct Layout {
    total_sectors: u64,
    fat_sectors: u64,
    data_offset: u64,
    clusters: u32,
}

impl Fields {
    fn read(sector: &[u8]) -> Self {
        Self {
            reserved: u64::from(u16_at(sector, 14)),
            fats: u64::from(u8_at(sector, 16)),
            root_entries: u16_at(sector, 17),
            total_16: u16_at(sector, 19),
            fat_size_16: u16_at(sector, 22),
            total_32: u32_at(sector, 32),
            fat_size_32: u32_at(sector, 36),
            ext_flags: u16_at(sector, 40),
            version: u16_at(sector, 42),
            root_cluster: u32_at(sector, 44),
        }
    }

    /// Area sizes and the cluster count, as the FAT specification computes them.
    fn layout(&self, sectors_per_cluster: u64) -> Result<Layout, MountErrorKind> {
        if self.reserved == 0 {
            return Err(MountErrorKind::BadLayout("0 reserved sectors"));
        }
        if self.fats == 0 {
            return Err(MountErrorKind::BadLayout("0 FATs"));
        }
        let fat_sectors = if self.fat_size_16 != 0 {
            u64::from(self.fat_size_16)
        } else {
            u64::from(self.fat_size_32)
        };
        if fat_sectors == 0 {
            return Err(MountErrorKind::BadLayout("the FAT is 0 sectors long"));
        }
        let total_sectors = if self.total_16 != 0 {
            u64::from(self.total_16)
        } else {
            u64::from(self.total_32)
        };
        let root_dir_sectors = (u64::from(self.root_entries) * 32).div_ceil(SECTOR_SIZE as u64);
        let data_offset = self.reserved + self.fats * fat_sectors + root_dir_sectors;
        if data_offset >= total_sectors {
            return Err(MountErrorKind::BadLayout(
                "the reserved sectors and FATs fill the whole volume",
            ));
        }
        let clusters = (total_sectors - data_offset) / sectors_per_cluster;
        if clusters < FAT16_MIN_CLUSTERS {
            return Err(MountErrorKind::NotFat32 {
                kind: "FAT12",
                clusters,
            });
        }
        if clusters < FAT32_MIN_CLUSTERS {
            return Err(MountErrorKind::NotFat32 {
                kind: "FAT16",
                clusters,
            });
        }
        let clusters = u32::try_from(clusters)
            .ok()
            .filter(|&count| u64::from(count) <= FAT32_MAX_CLUSTERS)
            .ok_or(MountErrorKind::BadLayout(
                "more clusters than FAT32 can number",
            ))?;
        Ok(Layout {
            total_sectors,
            fat_sectors,
            data_offset,
            clusters,
        })
    }

    /// The FAT32-only rules: no FAT16 fields, version 0.0, a FAT large enough for
    /// every cluster, a root directory on the volume.
    fn check_fat32(&self, layout: &Layout) -> Result<(), MountErrorKind> {
        if self.root_entries != 0 || self.fat_size_16 != 0 {
            return Err(MountErrorKind::BadLayout(
                "FAT12/16 fields are set in a FAT32 boot sector",
            ));
        }
        if self.version != 0 {
            return Err(MountErrorKind::BadLayout("unknown FAT32 version"));
        }
        let entries_per_sector = (SECTOR_SIZE / 4) as u64;
        if layout.fat_sectors * entries_per_sector < u64::from(layout.clusters) + 2 {
            return Err(MountErrorKind::BadLayout(
                "the FAT is too small for the volume's clusters",
            ));
        }
        let root = self.root_cluster;
        if root < 2 || root - 2 >= layout.clusters {
            return Err(MountErrorKind::BadLayout(
                "the root directory's cluster is not on the volume",
            ));
        }
        Ok(())
    }

    /// Index of the FAT to read: the one named in the extended flags when mirroring
    /// is off, else the first.
    fn active_fat(&self) -> Result<u64, MountErrorKind> {
        let mirroring_off = self.ext_flags & 0x80 != 0;
        if !mirroring_off {
            return Ok(0);
        }
        let active = u64::from(self.ext_flags & 0x0F);
        if active >= self.fats {
            return Err(MountErrorKind::BadLayout("the active FAT does not exist"));
        }
        Ok(active)
    }
}
