//! The file allocation table: following a cluster chain without trusting it. Every
//! link is range-checked and loops are found (Brent's cycle detection), so a
//! damaged or hostile FAT gives an error, never a hang or a panic.

use crate::boot_sector::Geometry;
use crate::bytes::u32_at;
use crate::device::{BlockDevice, SECTOR_SIZE, read_sectors};
use crate::error::FileErrorKind;

/// FAT32 entries use the low 28 bits.
const ENTRY_MASK: u32 = 0x0FFF_FFFF;
/// The entry of a cluster marked bad.
const BAD_CLUSTER: u32 = 0x0FFF_FFF7;
/// Entries from here up mark the end of a chain.
const END_OF_CHAIN: u32 = 0x0FFF_FFF8;

/// The device and geometry of a mounted volume, with the last FAT sector read.
pub(crate) struct Disk<D> {
    /// The block device.
    pub(crate) device: D,
    /// Where the volume's parts are.
    pub(crate) geometry: Geometry,
    cached_lba: Option<u64>,
    cached: [u8; SECTOR_SIZE],
}

/// Where a cluster's FAT entry leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// To this data cluster.
    Next(u32),
    /// Nowhere: the chain ends.
    End,
}

impl<D: BlockDevice> Disk<D> {
    /// A disk whose volume has `geometry`.
    pub(crate) fn new(device: D, geometry: Geometry) -> Self {
        Self {
            device,
            geometry,
            cached_lba: None,
            cached: [0; SECTOR_SIZE],
        }
    }

    /// The FAT entry of data cluster `cluster`.
    fn link(&mut self, cluster: u32) -> Result<Link, FileErrorKind> {
        let offset = u64::from(cluster) * 4;
        let lba = self.geometry.fat_lba + offset / SECTOR_SIZE as u64;
        if self.cached_lba != Some(lba) {
            self.cached_lba = None;
            read_sectors(&mut self.device, lba, &mut self.cached)?;
            self.cached_lba = Some(lba);
        }
        let entry = u32_at(&self.cached, (offset % SECTOR_SIZE as u64) as usize) & ENTRY_MASK;
        match entry {
            END_OF_CHAIN.. => Ok(Link::End),
            BAD_CLUSTER => Err(FileErrorKind::BadCluster { cluster }),
            next if self.geometry.is_data_cluster(next) => Ok(Link::Next(next)),
            next => Err(FileErrorKind::BadLink { cluster, next }),
        }
    }
}

/// A walk along one cluster chain.
pub(crate) struct Chain {
    /// The cluster [`Chain::next`] returns next (its FAT entry is already read).
    pending: Option<u32>,
    /// Brent's saved cluster: meeting it again means a loop.
    saved: u32,
    /// Steps allowed before the saved cluster moves on (doubles each time).
    power: u64,
    /// Steps since it last moved.
    since_saved: u64,
    /// Clusters returned so far.
    steps: u64,
}

impl Chain {
    /// A chain starting at `first`, which must be a data cluster of the volume.
    pub(crate) fn new(geometry: &Geometry, first: u32) -> Result<Self, FileErrorKind> {
        if !geometry.is_data_cluster(first) {
            return Err(FileErrorKind::BadFirstCluster { cluster: first });
        }
        Ok(Self {
            pending: Some(first),
            saved: first,
            power: 1,
            since_saved: 0,
            steps: 0,
        })
    }

    /// The next cluster of the chain, or `None` after its last.
    pub(crate) fn next<D: BlockDevice>(
        &mut self,
        disk: &mut Disk<D>,
    ) -> Result<Option<u32>, FileErrorKind> {
        let Some(cluster) = self.pending else {
            return Ok(None);
        };
        self.steps += 1;
        self.pending = match disk.link(cluster)? {
            Link::End => None,
            Link::Next(next) => {
                self.check_loop(next, disk.geometry.cluster_count)?;
                Some(next)
            }
        };
        Ok(Some(cluster))
    }

    /// Whether the chain has ended (the last cluster returned had the end mark).
    pub(crate) fn at_end(&self) -> bool {
        self.pending.is_none()
    }

    /// Brent's cycle detection on the cluster about to be returned, plus a hard
    /// bound: no chain without a loop is longer than the volume's cluster count.
    fn check_loop(&mut self, next: u32, cluster_count: u32) -> Result<(), FileErrorKind> {
        if next == self.saved || self.steps > u64::from(cluster_count) {
            return Err(FileErrorKind::Loop { cluster: next });
        }
        self.since_saved += 1;
        if self.since_saved == self.power {
            self.saved = next;
            self.power *= 2;
            self.since_saved = 0;
        }
        Ok(())
    }
}
