//! Placing and reading guest images from the disk.

use super::{Disk, LINUX_CONFIG};
use crate::images::{ImageProblem, VmLabel, image_specs, place_image, read_image};
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_config::VmConfig;
use tessera_fat::FileErrorKind;
use tessera_vm::{GuestMemory, LoadError, RamRegion};

const LINUX: VmLabel<'static> = VmLabel {
    id: 2,
    name: "linux",
};

/// 8 MiB of RAM at 0x4000_0000.
fn memory() -> GuestMemory {
    GuestMemory::new(vec![RamRegion {
        guest: GuestRange::new(GuestPhysAddr::new(0x4000_0000), 8 << 20),
        host: HostPhysAddr::new(0x1_0000_0000),
        executable: true,
    }])
}

fn disk() -> Disk {
    Disk::with(&[
        ("/images/Image", &[0xA5; 5000]),
        ("/images/big.img", &vec![1u8; (8 << 20) - 0x8_0000 + 1]),
    ])
}

#[test]
fn image_that_fits_is_placed_and_read() {
    let disk = disk();
    let mut volume = disk.mount();
    let at = GuestPhysAddr::new(0x4008_0000);
    let placement = place_image(&mut volume, &memory(), LINUX, "/images/Image", at).unwrap();
    assert_eq!(placement.host, HostPhysAddr::new(0x1_0008_0000));
    assert_eq!(placement.size, 5000);
    let bytes = read_image(&mut volume, &memory(), LINUX, "/images/IMAGE", at).unwrap();
    assert_eq!(bytes, vec![0xA5; 5000]);
}

#[test]
fn missing_image_names_vm_file_and_reason() {
    let disk = disk();
    let error = place_image(
        &mut disk.mount(),
        &memory(),
        LINUX,
        "/images/Image-6.1",
        GuestPhysAddr::new(0x4008_0000),
    )
    .unwrap_err();
    assert!(matches!(
        error.reason,
        ImageProblem::Disk(FileErrorKind::NotFound { .. })
    ));
    assert_eq!(
        error.to_string(),
        "VM 2 (linux): /images/Image-6.1: no \"Image-6.1\" in /images"
    );
}

#[test]
fn image_larger_than_its_ram_is_not_read() {
    let disk = disk();
    let error = read_image(
        &mut disk.mount(),
        &memory(),
        LINUX,
        "/images/big.img",
        GuestPhysAddr::new(0x4008_0000),
    )
    .unwrap_err();
    assert!(matches!(
        error.reason,
        ImageProblem::Load(LoadError::TooLarge { .. })
    ));
    assert_eq!(
        error.to_string(),
        "VM 2 (linux): /images/big.img: 7864321 bytes, larger than the 7680 KiB of RAM \
         from 0x4008_0000 (region 0x4000_0000..0x4080_0000)"
    );
}

#[test]
fn load_address_outside_guest_memory() {
    let disk = disk();
    let error = place_image(
        &mut disk.mount(),
        &memory(),
        LINUX,
        "/images/Image",
        GuestPhysAddr::new(0x8000_0000),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "VM 2 (linux): /images/Image: load address 0x8000_0000 is outside guest memory \
         (RAM: 0x4000_0000..0x4080_0000)"
    );
}

#[test]
fn a_directory_is_no_image() {
    let disk = disk();
    let error = place_image(
        &mut disk.mount(),
        &memory(),
        LINUX,
        "/images",
        GuestPhysAddr::new(0x4000_0000),
    )
    .unwrap_err();
    assert_eq!(
        error.reason,
        ImageProblem::Disk(FileErrorKind::IsADirectory)
    );
}

#[test]
fn specs_list_the_kernel_then_the_optional_images() {
    let config = VmConfig::from_toml("linux.toml", LINUX_CONFIG).unwrap();
    let specs: Vec<(&str, &str, u64)> = image_specs(&config)
        .iter()
        .map(|spec| (spec.what, spec.path, spec.load_addr.raw()))
        .collect();
    assert_eq!(
        specs,
        [
            ("kernel", "target/guests/aarch64/linux/Image", 0x4020_0000),
            (
                "ramdisk",
                "target/guests/aarch64/linux/initramfs.cpio",
                0x4800_0000
            ),
        ]
    );
}
