//! Host tests on FAT32 images made with the `fatfs` crate.

mod configs;
mod images;

use std::io::{Cursor, Write};

use tessera_fat::{SliceDevice, Volume};

/// The repository's aarch64 Linux config (images compiled in).
pub(crate) const LINUX_CONFIG: &str =
    include_str!("../../../../configs/vms/linux-aarch64-qemu-smp2.toml");
/// The repository's aarch64 test guest config.
pub(crate) const GUEST_CONFIG: &str = include_str!("../../../../configs/vms/guest-aarch64.toml");

/// A FAT32 image holding `files` (path, contents); folders are made as needed, and
/// a path ending in `/` is an empty folder.
pub(crate) struct Disk {
    bytes: Vec<u8>,
}

impl Disk {
    pub(crate) fn with(files: &[(&str, &[u8])]) -> Self {
        let mut bytes = vec![0u8; 34 << 20];
        let options = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .bytes_per_cluster(512);
        fatfs::format_volume(Cursor::new(&mut bytes), options).unwrap();
        let fs = fatfs::FileSystem::new(Cursor::new(&mut bytes), fatfs::FsOptions::new()).unwrap();
        for (path, contents) in files {
            let path = path.trim_start_matches('/');
            let mut folder = String::new();
            for part in path.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
                folder = if folder.is_empty() {
                    part.to_string()
                } else {
                    format!("{folder}/{part}")
                };
                fs.root_dir().create_dir(&folder).unwrap();
            }
            // A path ending in `/` is a folder, made above.
            if path.ends_with('/') {
                continue;
            }
            let mut file = fs.root_dir().create_file(path).unwrap();
            file.truncate().unwrap();
            file.write_all(contents).unwrap();
        }
        fs.unmount().unwrap();
        Self { bytes }
    }

    pub(crate) fn mount(&self) -> Volume<SliceDevice<'_>> {
        Volume::mount(SliceDevice::new(&self.bytes)).unwrap()
    }
}
