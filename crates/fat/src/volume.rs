//! A mounted FAT32 volume: finding it on the disk, and the path operations.

use alloc::string::String;
use alloc::vec::Vec;

use crate::boot_sector::Geometry;
use crate::device::{BlockDevice, SECTOR_SIZE, read_sectors};
use crate::dir::{DirEntry, walk};
use crate::error::{FileError, FileErrorKind, MountError, MountErrorKind};
use crate::fat::Disk;
use crate::partition::{Table, first_fat_partition};
use crate::path::{Node, resolve};
use crate::read::read_file;

/// A read-only FAT32 volume on a block device.
pub struct Volume<D> {
    disk: Disk<D>,
}

/// Facts about a mounted volume, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Sector of the volume's boot sector (0 unless it sits in a partition).
    pub start_lba: u64,
    /// Sectors in the volume.
    pub sectors: u64,
    /// Bytes per cluster.
    pub cluster_bytes: u64,
    /// Data clusters.
    pub clusters: u32,
}

impl<D: BlockDevice> Volume<D> {
    /// Mounts the FAT32 volume of `device`: sector 0 itself when it is a FAT32 boot
    /// sector (an unpartitioned disk), else the first FAT partition of its MBR.
    pub fn mount(mut device: D) -> Result<Self, MountError> {
        let mut sector = [0u8; SECTOR_SIZE];
        read_sectors(&mut device, 0, &mut sector).map_err(|error| MountError {
            lba: 0,
            kind: error.into(),
        })?;
        let whole_disk = match Geometry::parse(&sector, 0, None) {
            Ok(geometry) => return Ok(Self::with(device, geometry)),
            Err(kind) => MountError { lba: 0, kind },
        };
        let partition = match first_fat_partition(&sector) {
            Table::Fat(partition) => partition,
            Table::Gpt => {
                return Err(MountError {
                    lba: 0,
                    kind: MountErrorKind::Gpt,
                });
            }
            Table::NoFatPartition => return Err(whole_disk),
        };
        let lba = partition.lba;
        read_sectors(&mut device, lba, &mut sector).map_err(|error| MountError {
            lba,
            kind: error.into(),
        })?;
        let geometry = Geometry::parse(&sector, lba, Some(partition.sectors))
            .map_err(|kind| MountError { lba, kind })?;
        Ok(Self::with(device, geometry))
    }

    fn with(device: D, geometry: Geometry) -> Self {
        Self {
            disk: Disk::new(device, geometry),
        }
    }

    /// Where the volume is and how large.
    pub fn info(&self) -> VolumeInfo {
        let geometry = &self.disk.geometry;
        VolumeInfo {
            start_lba: geometry.volume_lba,
            sectors: geometry.total_sectors,
            cluster_bytes: geometry.cluster_bytes(),
            clusters: geometry.cluster_count,
        }
    }

    /// The entries of the directory at `path` (without `.` and `..`), in disk order.
    pub fn read_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, FileError> {
        let disk = &mut self.disk;
        let listed = resolve(disk, path).and_then(|node| {
            let cluster = match node {
                Node::Root => disk.geometry.root_cluster,
                Node::Entry(entry) if entry.is_dir => entry.first_cluster,
                Node::Entry(_) => {
                    return Err(FileErrorKind::NotADirectory {
                        file: String::from(path),
                    });
                }
            };
            let mut entries = Vec::new();
            walk(disk, cluster, |entry| {
                entries.push(entry);
                None::<()>
            })?;
            Ok(entries)
        });
        listed.map_err(|kind| error(path, kind))
    }

    /// The entry `path` names (the root is a directory named `/`).
    pub fn stat(&mut self, path: &str) -> Result<DirEntry, FileError> {
        match resolve(&mut self.disk, path).map_err(|kind| error(path, kind))? {
            Node::Root => Ok(DirEntry {
                name: String::from("/"),
                size: 0,
                is_dir: true,
                first_cluster: self.disk.geometry.root_cluster,
                short_name: String::from("/"),
            }),
            Node::Entry(entry) => Ok(entry),
        }
    }

    /// The size of the file at `path`.
    pub fn file_size(&mut self, path: &str) -> Result<u64, FileError> {
        self.file(path).map(|file| file.size)
    }

    /// The whole file at `path`, which may be at most `max_size` bytes.
    pub fn read_to_vec(&mut self, path: &str, max_size: usize) -> Result<Vec<u8>, FileError> {
        let file = self.file(path)?;
        let size = usize::try_from(file.size)
            .ok()
            .filter(|&size| size <= max_size)
            .ok_or_else(|| {
                error(
                    path,
                    FileErrorKind::TooLarge {
                        size: file.size,
                        max: max_size as u64,
                    },
                )
            })?;
        let mut contents = Vec::new();
        contents
            .try_reserve_exact(size)
            .map_err(|_| error(path, FileErrorKind::OutOfMemory { size: file.size }))?;
        contents.resize(size, 0);
        read_file(&mut self.disk, &file, &mut contents).map_err(|kind| error(path, kind))?;
        Ok(contents)
    }

    /// Reads the file at `path` into the start of `buf`, which must be large enough;
    /// returns its size. The rest of `buf` is left as it was.
    pub fn read_into(&mut self, path: &str, buf: &mut [u8]) -> Result<usize, FileError> {
        let file = self.file(path)?;
        let too_large = FileErrorKind::TooLarge {
            size: file.size,
            max: buf.len() as u64,
        };
        let target = usize::try_from(file.size)
            .ok()
            .and_then(|size| buf.get_mut(..size))
            .ok_or_else(|| error(path, too_large))?;
        read_file(&mut self.disk, &file, target).map_err(|kind| error(path, kind))?;
        Ok(target.len())
    }

    /// Gives the device back.
    pub fn into_device(self) -> D {
        self.disk.device
    }

    /// The entry of the file (not directory) at `path`.
    fn file(&mut self, path: &str) -> Result<DirEntry, FileError> {
        let entry = self.stat(path)?;
        if entry.is_dir {
            return Err(error(path, FileErrorKind::IsADirectory));
        }
        Ok(entry)
    }
}

fn error(path: &str, kind: FileErrorKind) -> FileError {
    FileError {
        path: String::from(path),
        kind,
    }
}
