//! Host tests on real FAT32 images made by an independent implementation (the
//! `fatfs` crate), then read, damaged and read again with this crate.

mod damage;
mod fuzz;
mod mount;
mod paths;
mod read;

use std::io::{Cursor, Write};

use crate::boot_sector::Geometry;
use crate::device::{SECTOR_SIZE, SliceDevice};
use crate::volume::Volume;

/// Size of the test images: just above what FAT32 with 512-byte clusters needs
/// (65,525 clusters).
pub(crate) const IMAGE_BYTES: usize = 34 << 20;

/// An in-memory disk image.
pub(crate) struct Image {
    pub(crate) bytes: Vec<u8>,
}

type Fs<'a> = fatfs::FileSystem<Cursor<&'a mut Vec<u8>>>;

impl Image {
    /// A freshly formatted FAT32 volume of `bytes` bytes, 512-byte clusters.
    pub(crate) fn formatted(bytes: usize) -> Self {
        let mut image = Self {
            bytes: vec![0; bytes],
        };
        let options = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .bytes_per_cluster(512);
        fatfs::format_volume(Cursor::new(&mut image.bytes), options).unwrap();
        image
    }

    /// Changes the volume with `fatfs`.
    pub(crate) fn edit(&mut self, change: impl FnOnce(&Fs<'_>)) {
        let fs =
            fatfs::FileSystem::new(Cursor::new(&mut self.bytes), fatfs::FsOptions::new()).unwrap();
        change(&fs);
        fs.unmount().unwrap();
    }

    /// Mounts it with this crate.
    pub(crate) fn mount(&self) -> Volume<SliceDevice<'_>> {
        Volume::mount(SliceDevice::new(&self.bytes)).unwrap()
    }

    /// The volume's geometry, for damaging it on purpose.
    pub(crate) fn geometry(&self) -> Geometry {
        let sector: &[u8; SECTOR_SIZE] = self.bytes[..SECTOR_SIZE].try_into().unwrap();
        Geometry::parse(sector, 0, None).unwrap()
    }

    /// The first cluster of the entry at `path`.
    pub(crate) fn first_cluster(&self, path: &str) -> u32 {
        self.mount().stat(path).unwrap().first_cluster
    }

    /// Byte offset of the FAT entry of `cluster` in the active FAT.
    fn fat_offset(&self, cluster: u32) -> usize {
        self.geometry().fat_lba as usize * SECTOR_SIZE + cluster as usize * 4
    }

    /// The FAT entry of `cluster`.
    pub(crate) fn fat(&self, cluster: u32) -> u32 {
        let at = self.fat_offset(cluster);
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap())
    }

    /// Overwrites the FAT entry of `cluster`.
    pub(crate) fn set_fat(&mut self, cluster: u32, value: u32) {
        let at = self.fat_offset(cluster);
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// Byte offset of the first byte of `cluster`.
    pub(crate) fn cluster_offset(&self, cluster: u32) -> usize {
        self.geometry().cluster_lba(cluster) as usize * SECTOR_SIZE
    }

    /// The clusters of the chain from `first`, as the FAT links them (no checks).
    pub(crate) fn chain(&self, first: u32) -> Vec<u32> {
        let mut chain = vec![first];
        while let Some(&last) = chain.last() {
            let next = self.fat(last) & 0x0FFF_FFFF;
            if next >= 0x0FFF_FFF8 || chain.len() > 100_000 {
                break;
            }
            chain.push(next);
        }
        chain
    }
}

/// Writes `contents` to a new file at `path` (its folders must exist).
pub(crate) fn write_file<T: fatfs::ReadWriteSeek>(
    fs: &fatfs::FileSystem<T>,
    path: &str,
    contents: &[u8],
) {
    let mut file = fs.root_dir().create_file(path).unwrap();
    file.truncate().unwrap();
    file.write_all(contents).unwrap();
}

/// Bytes that differ from position to position, so misplaced clusters show.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// The image most tests use:
///
/// ```text
/// /README.TXT                   short name only, 25 bytes
/// /empty.bin                    0 bytes
/// /images/Image-6.1.gz          300 KiB + 7 (contiguous, 601 clusters)
/// /images/a long name with spaces and ünïcödé letters.dtb   3000 bytes
/// /vms/linux.toml               text
/// /a/b/c/deep.txt               "deep"
/// /frag/one.bin, /frag/two.bin  40 KiB each, written alternately (fragmented)
/// ```
pub(crate) fn sample() -> Image {
    let mut image = Image::formatted(IMAGE_BYTES);
    image.edit(|fs| {
        let root = fs.root_dir();
        write_file(fs, "README.TXT", b"read me, I am a 8.3 file\n");
        write_file(fs, "empty.bin", b"");
        root.create_dir("images").unwrap();
        write_file(fs, "images/Image-6.1.gz", &pattern(300 * 1024 + 7, 1));
        write_file(fs, &format!("images/{LONG_NAME}"), &pattern(3000, 2));
        root.create_dir("vms").unwrap();
        write_file(fs, "vms/linux.toml", b"[base]\nid = 1\n");
        root.create_dir("a").unwrap();
        root.create_dir("a/b").unwrap();
        root.create_dir("a/b/c").unwrap();
        write_file(fs, "a/b/c/deep.txt", b"deep");
        root.create_dir("frag").unwrap();
        let mut one = root.create_file("frag/one.bin").unwrap();
        let mut two = root.create_file("frag/two.bin").unwrap();
        let (a, b) = (pattern(40 * 1024, 3), pattern(40 * 1024, 4));
        for (x, y) in a.chunks(512).zip(b.chunks(512)) {
            one.write_all(x).unwrap();
            one.flush().unwrap();
            two.write_all(y).unwrap();
            two.flush().unwrap();
        }
    });
    image
}

/// A long name that needs four long-name entries and non-ASCII letters.
pub(crate) const LONG_NAME: &str = "a long name with spaces and ünïcödé letters.dtb";
