//! Host tests of the load bounds check and its messages.

use super::*;
use crate::memory::RamRegion;
use alloc::string::ToString;
use alloc::vec;

const MIB: u64 = 1 << 20;

fn gpa(raw: u64) -> GuestPhysAddr {
    GuestPhysAddr::new(raw)
}

/// Two regions with a hole between them: 8 MiB at 0x4000_0000 (host 0x8000_0000)
/// and 1 MiB at 0x5000_0000 (host 0x9000_0000).
fn memory() -> GuestMemory {
    GuestMemory::new(vec![
        RamRegion {
            guest: GuestRange::new(gpa(0x4000_0000), 8 * MIB),
            host: HostPhysAddr::new(0x8000_0000),
            executable: true,
        },
        RamRegion {
            guest: GuestRange::new(gpa(0x5000_0000), MIB),
            host: HostPhysAddr::new(0x9000_0000),
            executable: false,
        },
    ])
}

#[test]
fn file_inside_a_region() {
    assert_eq!(
        check_load(&memory(), gpa(0x4008_0000), 12345),
        Ok(HostPhysAddr::new(0x8008_0000))
    );
    assert_eq!(
        check_load(&memory(), gpa(0x5000_0010), 0x100),
        Ok(HostPhysAddr::new(0x9000_0010))
    );
}

#[test]
fn file_that_fits_exactly() {
    assert_eq!(
        check_load(&memory(), gpa(0x4000_0000), 8 * MIB),
        Ok(HostPhysAddr::new(0x8000_0000))
    );
    assert_eq!(
        check_load(&memory(), gpa(0x407F_FFFF), 1),
        Ok(HostPhysAddr::new(0x807F_FFFF))
    );
}

#[test]
fn file_one_byte_too_large() {
    let error = check_load(&memory(), gpa(0x4008_0000), 7 * MIB + MIB / 2 + 1).unwrap_err();
    assert_eq!(
        error,
        LoadError::TooLarge {
            addr: gpa(0x4008_0000),
            size: 7 * MIB + MIB / 2 + 1,
            room: 7 * MIB + MIB / 2,
            region: GuestRange::new(gpa(0x4000_0000), 8 * MIB),
        }
    );
    assert_eq!(
        error.to_string(),
        "7864321 bytes, larger than the 7680 KiB of RAM from 0x4008_0000 (region 0x4000_0000..0x4080_0000)"
    );
}

#[test]
fn load_address_before_between_and_after_the_regions() {
    for addr in [
        0x3FFF_FFFF,
        0x0,
        0x4080_0000,
        0x4FFF_FFFF,
        0x5010_0000,
        u64::MAX,
    ] {
        let error = check_load(&memory(), gpa(addr), 1).unwrap_err();
        assert!(
            matches!(error, LoadError::Outside { addr: at, .. } if at == gpa(addr)),
            "{addr:#x}: {error:?}"
        );
    }
    assert_eq!(
        check_load(&memory(), gpa(0x4080_0000), 16)
            .unwrap_err()
            .to_string(),
        "load address 0x4080_0000 is outside guest memory \
         (RAM: 0x4000_0000..0x4080_0000, 0x5000_0000..0x5010_0000)"
    );
    assert_eq!(
        check_load(&GuestMemory::default(), gpa(0x1000), 1)
            .unwrap_err()
            .to_string(),
        "load address 0x1000 is outside guest memory (RAM: none)"
    );
}

#[test]
fn zero_size_file() {
    assert_eq!(
        check_load(&memory(), gpa(0x4000_0000), 0),
        Ok(HostPhysAddr::new(0x8000_0000))
    );
    // Right at the end of a region is outside it, even for nothing.
    assert!(matches!(
        check_load(&memory(), gpa(0x4080_0000), 0),
        Err(LoadError::Outside { .. })
    ));
}

#[test]
fn size_that_overflows_the_address_space() {
    let error = check_load(&memory(), gpa(0x4008_0000), u64::MAX).unwrap_err();
    assert!(matches!(error, LoadError::TooLarge { room, .. } if room == 7 * MIB + MIB / 2));
    // A region at the very top of the address space.
    let top = GuestMemory::new(vec![RamRegion {
        guest: GuestRange::new(gpa(u64::MAX - 0xFFF), 0x1000),
        host: HostPhysAddr::new(0x1000),
        executable: false,
    }]);
    assert_eq!(
        check_load(&top, gpa(u64::MAX - 0xF), 0x10),
        Ok(HostPhysAddr::new(0x1FF0))
    );
    let error = check_load(&top, gpa(u64::MAX - 0xF), 0x11).unwrap_err();
    assert_eq!(
        error.to_string(),
        "17 bytes, larger than the 16 bytes of RAM from 0xffff_ffff_ffff_fff0 \
         (region 0xffff_ffff_ffff_f000..0x1_0000_0000_0000_0000)"
    );
}

#[test]
fn image_error_names_vm_file_and_reason() {
    let region = GuestRange::new(gpa(0x4000_0000), 0x88_0000);
    let error = ImageError {
        vm_id: 2,
        vm_name: "linux".to_string(),
        path: "/images/Image".to_string(),
        reason: check_load(
            &GuestMemory::new(vec![RamRegion {
                guest: region,
                host: HostPhysAddr::new(0x8000_0000),
                executable: true,
            }]),
            gpa(0x4008_0000),
            12_345_678,
        )
        .unwrap_err(),
    };
    assert_eq!(
        error.to_string(),
        "VM 2 (linux): /images/Image: 12345678 bytes, larger than the 8 MiB of RAM \
         from 0x4008_0000 (region 0x4000_0000..0x4088_0000)"
    );
}

#[test]
fn sizes_and_addresses_format_readably() {
    assert_eq!(Size(0).to_string(), "0 bytes");
    assert_eq!(Size(512).to_string(), "512 bytes");
    assert_eq!(Size(3 << 10).to_string(), "3 KiB");
    assert_eq!(Size(64 << 20).to_string(), "64 MiB");
    assert_eq!(Hex(0).to_string(), "0x0");
    assert_eq!(Hex(0xABCDE).to_string(), "0xa_bcde");
    assert_eq!(Hex(0x8000_0000).to_string(), "0x8000_0000");
}
