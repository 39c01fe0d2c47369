//! Finding and checking the volume: superfloppy, MBR partition, damaged boot sectors.

use std::io::Cursor;

use super::{IMAGE_BYTES, Image, sample, write_file};
use crate::device::{SECTOR_SIZE, SliceDevice};
use crate::error::{MountError, MountErrorKind};
use crate::volume::Volume;

fn mount_error(bytes: &[u8]) -> MountError {
    match Volume::mount(SliceDevice::new(bytes)) {
        Ok(_) => panic!("mounted a volume that should be refused"),
        Err(error) => error,
    }
}

/// The sample image with its boot sector changed by `damage`.
fn damaged_boot_sector(damage: impl FnOnce(&mut [u8])) -> MountErrorKind {
    let mut image = sample();
    damage(&mut image.bytes[..SECTOR_SIZE]);
    mount_error(&image.bytes).kind
}

#[test]
fn unpartitioned_volume_mounts() {
    let image = sample();
    let volume = image.mount();
    let info = volume.info();
    assert_eq!(info.start_lba, 0);
    assert_eq!(info.cluster_bytes, 512);
    assert!(info.clusters >= 65525, "{info:?}");
    assert_eq!(info.sectors, (IMAGE_BYTES / SECTOR_SIZE) as u64);
}

/// A disk with an MBR whose second entry is a FAT32 (LBA) partition at sector 2048;
/// the first entry is a Linux partition, which is skipped.
fn partitioned() -> Vec<u8> {
    const START: u64 = 2048;
    let volume_bytes = IMAGE_BYTES as u64;
    let mut disk = vec![0u8; START as usize * SECTOR_SIZE + IMAGE_BYTES];
    {
        let cursor = Cursor::new(&mut disk);
        let end = START * 512 + volume_bytes;
        let mut slice = fscommon::StreamSlice::new(cursor, START * 512, end).unwrap();
        let options = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .bytes_per_cluster(512);
        fatfs::format_volume(&mut slice, options).unwrap();
        let fs = fatfs::FileSystem::new(slice, fatfs::FsOptions::new()).unwrap();
        fs.root_dir().create_dir("boot").unwrap();
        write_file(&fs, "boot/hello.txt", b"from a partition");
        fs.unmount().unwrap();
    }
    let mut entry = |index: usize, kind: u8, lba: u32, sectors: u32| {
        let at = 446 + 16 * index;
        disk[at + 4] = kind;
        disk[at + 8..at + 12].copy_from_slice(&lba.to_le_bytes());
        disk[at + 12..at + 16].copy_from_slice(&sectors.to_le_bytes());
    };
    entry(0, 0x83, 1, 100);
    entry(1, 0x0C, START as u32, (volume_bytes / 512) as u32);
    disk[510] = 0x55;
    disk[511] = 0xAA;
    disk
}

#[test]
fn first_fat_partition_of_an_mbr_mounts() {
    let disk = partitioned();
    let mut volume = Volume::mount(SliceDevice::new(&disk)).unwrap();
    assert_eq!(volume.info().start_lba, 2048);
    assert_eq!(
        volume.read_to_vec("/boot/hello.txt", 100).unwrap(),
        b"from a partition"
    );
}

#[test]
fn partition_smaller_than_its_volume_is_refused() {
    let mut disk = partitioned();
    disk[446 + 16 + 12..446 + 16 + 16].copy_from_slice(&1000u32.to_le_bytes());
    let error = mount_error(&disk);
    assert_eq!(error.lba, 2048);
    assert_eq!(
        error.kind,
        MountErrorKind::BadLayout("the volume is larger than its partition")
    );
}

#[test]
fn gpt_disk_is_refused_by_name() {
    let mut disk = vec![0u8; 4096];
    disk[446 + 4] = 0xEE;
    disk[446 + 8] = 1;
    disk[446 + 12] = 7;
    disk[510] = 0x55;
    disk[511] = 0xAA;
    let error = mount_error(&disk);
    assert_eq!(error.kind, MountErrorKind::Gpt);
    assert!(error.to_string().contains("GPT"), "{error}");
}

#[test]
fn missing_boot_signature() {
    let kind = damaged_boot_sector(|sector| sector[510] = 0);
    assert_eq!(kind, MountErrorKind::BadSignature { found: 0xAA00 });
}

#[test]
fn sector_size_other_than_512() {
    let kind = damaged_boot_sector(|sector| sector[11..13].copy_from_slice(&4096u16.to_le_bytes()));
    assert_eq!(kind, MountErrorKind::BadBytesPerSector(4096));
    let error = MountError { lba: 0, kind };
    assert_eq!(
        error.to_string(),
        "disk: no usable FAT32 volume (boot sector at sector 0): 4096 bytes per sector; only 512 is supported"
    );
}

#[test]
fn zero_or_odd_sectors_per_cluster() {
    assert_eq!(
        damaged_boot_sector(|sector| sector[13] = 0),
        MountErrorKind::ZeroSectorsPerCluster
    );
    assert_eq!(
        damaged_boot_sector(|sector| sector[13] = 3),
        MountErrorKind::BadSectorsPerCluster(3)
    );
}

#[test]
fn more_sectors_per_cluster_leaves_too_few_clusters() {
    // The same volume with 8 times larger clusters has 1/8 of the clusters: FAT16 by count.
    let kind = damaged_boot_sector(|sector| sector[13] = 8);
    assert!(
        matches!(kind, MountErrorKind::NotFat32 { kind: "FAT16", .. }),
        "{kind:?}"
    );
}

#[test]
fn fat16_volume_is_refused() {
    let mut bytes = vec![0u8; 16 << 20];
    let options = fatfs::FormatVolumeOptions::new().fat_type(fatfs::FatType::Fat16);
    fatfs::format_volume(Cursor::new(&mut bytes), options).unwrap();
    let error = mount_error(&bytes);
    assert!(
        matches!(error.kind, MountErrorKind::NotFat32 { kind: "FAT16", .. }),
        "{error}"
    );
    assert!(error.to_string().contains("only FAT32 is supported"));
}

/// A change to a boot sector.
type Damage = fn(&mut [u8]);

#[test]
fn inconsistent_layouts_are_refused() {
    let cases: [(Damage, &str); 6] = [
        (|s| s[14..16].fill(0), "0 reserved sectors"),
        (|s| s[16] = 0, "0 FATs"),
        (|s| s[36..40].fill(0), "the FAT is 0 sectors long"),
        (
            |s| s[36..40].copy_from_slice(&1u32.to_le_bytes()),
            "the FAT is too small for the volume's clusters",
        ),
        (
            |s| s[44..48].copy_from_slice(&u32::MAX.to_le_bytes()),
            "the root directory's cluster is not on the volume",
        ),
        (
            |s| s[36..40].copy_from_slice(&0x0100_0000u32.to_le_bytes()),
            "the reserved sectors and FATs fill the whole volume",
        ),
    ];
    for (damage, reason) in cases {
        assert_eq!(
            damaged_boot_sector(damage),
            MountErrorKind::BadLayout(reason)
        );
    }
    assert_eq!(
        damaged_boot_sector(|s| s[0] = 0),
        MountErrorKind::BadLayout("no jump instruction at the start of the boot sector")
    );
    assert_eq!(
        damaged_boot_sector(|s| s[40] = 0x85),
        MountErrorKind::BadLayout("the active FAT does not exist")
    );
    assert_eq!(
        damaged_boot_sector(|s| s[17] = 1),
        MountErrorKind::BadLayout("FAT12/16 fields are set in a FAT32 boot sector")
    );
}

#[test]
fn second_fat_is_read_when_mirroring_is_off() {
    let mut image = sample();
    let geometry = image.geometry();
    // Break the first FAT, select the second one.
    let first_fat = geometry.fat_lba as usize * SECTOR_SIZE;
    image.bytes[first_fat + 8..first_fat + 4096].fill(0);
    image.bytes[40] = 0x81;
    let mut volume = image.mount();
    assert_eq!(volume.info().start_lba, 0);
    assert_eq!(volume.read_dir("/a/b/c").unwrap().len(), 1);
    image.bytes[40] = 0x80;
    assert!(image.mount().read_dir("/a/b/c").is_err());
}

#[test]
fn disk_shorter_than_a_sector() {
    let error = mount_error(&[0u8; 100]);
    assert!(matches!(error.kind, MountErrorKind::Device(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("past the end of the 100-byte disk"),
        "{error}"
    );
}

#[test]
fn blank_disk_reports_the_missing_signature() {
    let error = mount_error(&vec![0u8; 1 << 20]);
    assert_eq!(error.kind, MountErrorKind::BadSignature { found: 0 });
}

#[test]
fn formatted_image_is_accepted_as_is() {
    let image = Image::formatted(IMAGE_BYTES);
    assert!(image.mount().read_dir("/").unwrap().is_empty());
}
