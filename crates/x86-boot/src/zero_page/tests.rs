//! Tests of the zero page: each field at its offset in zero-page.rst and boot.rst.

use alloc::vec::Vec;

use super::*;
use crate::test_image::TestImage;

/// A memory map like a small PC's: low RAM, the legacy hole, RAM from 1 MiB.
fn e820() -> Vec<E820Entry> {
    vec![
        E820Entry::new(0, 0x9_fc00, E820Entry::RAM),
        E820Entry::new(0x9_fc00, 0x400, E820Entry::RESERVED),
        E820Entry::new(0xf_0000, 0x1_0000, E820Entry::RESERVED),
        E820Entry::new(0x10_0000, 0x7ff0_0000, E820Entry::RAM),
    ]
}

/// The zero page of `image` with the map above, a 13-byte command line at
/// 0x2_0000 and a 1 MiB initrd at 0x7f00_0000.
fn page_of(image: &TestImage) -> [u8; 4096] {
    let file = image.build();
    let image = BzImage::parse(&file).unwrap();
    let initrd = Some((0x7f00_0000, 0x10_0000));
    build_boot_params(&image, &e820(), 0x2_0000, 13, initrd).unwrap()
}

fn page() -> [u8; 4096] {
    page_of(&TestImage::default())
}

fn u8_at(page: &[u8], offset: usize) -> u8 {
    page[offset]
}

fn u16_at(page: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(page[offset..offset + 2].try_into().unwrap())
}

fn u32_at(page: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(page[offset..offset + 4].try_into().unwrap())
}

fn u64_at(page: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(page[offset..offset + 8].try_into().unwrap())
}

#[test]
fn setup_header_copied_at_0x1f1() {
    let file = TestImage::default().build();
    let page = page();
    // Every header byte the loader does not fill in is the kernel's.
    let loader_fields = [
        0x1fa..0x1fc,
        0x210..0x212,
        0x218..0x220,
        0x224..0x226,
        0x228..0x22c,
    ];
    for offset in 0x1f1..0x26c {
        if loader_fields.iter().any(|r| r.contains(&offset)) {
            continue;
        }
        assert_eq!(page[offset], file[offset], "{offset:#x}");
    }
    assert_eq!(&page[0x202..0x206], b"HdrS");
    assert_eq!(u16_at(&page, 0x206), 0x020f);
    assert_eq!(u8_at(&page, 0x1f1), 27, "setup_sects");
    assert_eq!(u16_at(&page, 0x1fe), 0xaa55, "boot_flag");
    assert_eq!(u16_at(&page, 0x236), 0x0003, "xloadflags");
    assert_eq!(u32_at(&page, 0x238), 2047, "cmdline_size");
    assert_eq!(u64_at(&page, 0x258), 0x100_0000, "pref_address");
    assert_eq!(u32_at(&page, 0x260), 0x0280_0000, "init_size");
}

#[test]
fn nothing_past_the_header_is_copied() {
    let image = TestImage {
        jump: 0x66,
        version: 0x020c,
        ..TestImage::default()
    };
    let page = page_of(&image);
    // The 2.12 header ends at 0x268; kernel_info_offset's bytes stay zero.
    assert_eq!(u32_at(&page, 0x264), 0x190, "handover_offset");
    assert_eq!(u32_at(&page, 0x268), 0);
}

#[test]
fn everything_else_is_zero() {
    let page = page();
    let written = [
        0x0c0..0x0cc,
        0x1e8..0x1e9,
        0x1f1..0x26c,
        0x2d0..0x2d0 + 4 * 20,
    ];
    for (offset, byte) in page.iter().enumerate() {
        if !written.iter().any(|r| r.contains(&offset)) {
            assert_eq!(*byte, 0, "{offset:#x}");
        }
    }
    assert_eq!(u8_at(&page, 0x1ef), 0, "sentinel");
    assert_eq!(u64_at(&page, 0x070), 0, "acpi_rsdp_addr");
}

#[test]
fn vid_mode_at_0x1fa() {
    assert_eq!(u16_at(&page(), 0x1fa), 0xffff);
}

#[test]
fn type_of_loader_at_0x210() {
    assert_eq!(u8_at(&page(), 0x210), 0xff);
}

#[test]
fn loadflags_at_0x211() {
    assert_eq!(u8_at(&page(), 0x211), 0x01, "LOADED_HIGH, no CAN_USE_HEAP");
    // The kernel's other bits stay; LOADED_HIGH is set, CAN_USE_HEAP cleared.
    let image = TestImage {
        loadflags: 0xa0,
        ..TestImage::default()
    };
    assert_eq!(u8_at(&page_of(&image), 0x211), 0x21);
}

#[test]
fn heap_end_ptr_at_0x224() {
    let mut file = TestImage::default().build();
    file[0x224..0x226].copy_from_slice(&0xfe00u16.to_le_bytes());
    let image = BzImage::parse(&file).unwrap();
    let page = build_boot_params(&image, &[], 0, 0, None).unwrap();
    assert_eq!(u16_at(&page, 0x224), 0);
}

#[test]
fn cmd_line_ptr_at_0x228() {
    let page = page();
    assert_eq!(u32_at(&page, 0x228), 0x2_0000);
    assert_eq!(u32_at(&page, 0x0c8), 0, "ext_cmd_line_ptr");
}

#[test]
fn ramdisk_image_at_0x218_and_size_at_0x21c() {
    let page = page();
    assert_eq!(u32_at(&page, 0x218), 0x7f00_0000);
    assert_eq!(u32_at(&page, 0x21c), 0x10_0000);
    assert_eq!(u32_at(&page, 0x0c0), 0, "ext_ramdisk_image");
    assert_eq!(u32_at(&page, 0x0c4), 0, "ext_ramdisk_size");
}

#[test]
fn no_initrd_and_no_cmdline() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    let page = build_boot_params(&image, &e820(), 0, 0, None).unwrap();
    for offset in [0x218, 0x21c, 0x228, 0x0c0, 0x0c4, 0x0c8] {
        assert_eq!(u32_at(&page, offset), 0, "{offset:#x}");
    }
    // An empty initrd is no initrd either.
    let page = build_boot_params(&image, &e820(), 0, 0, Some((0x1000, 0))).unwrap();
    assert_eq!(u32_at(&page, 0x21c), 0);
}

#[test]
fn ext_cmd_line_ptr_at_0x0c8() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    let page = build_boot_params(&image, &[], 0x1_2345_6000, 100, None).unwrap();
    assert_eq!(u32_at(&page, 0x228), 0x2345_6000);
    assert_eq!(u32_at(&page, 0x0c8), 0x1);
}

#[test]
fn ext_ramdisk_fields_at_0x0c0_and_0x0c4() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    let initrd = Some((0x2_8000_0000, 0xfff0_0000));
    let page = build_boot_params(&image, &[], 0, 0, initrd).unwrap();
    assert_eq!(u32_at(&page, 0x218), 0x8000_0000);
    assert_eq!(u32_at(&page, 0x0c0), 0x2);
    assert_eq!(u32_at(&page, 0x21c), 0xfff0_0000);
    assert_eq!(u32_at(&page, 0x0c4), 0);
}

#[test]
fn e820_entries_at_0x1e8() {
    assert_eq!(u8_at(&page(), 0x1e8), 4);
}

#[test]
fn e820_table_at_0x2d0() {
    let page = page();
    for (index, entry) in e820().iter().enumerate() {
        let offset = 0x2d0 + 20 * index;
        assert_eq!(u64_at(&page, offset), entry.addr, "{index}");
        assert_eq!(u64_at(&page, offset + 8), entry.size, "{index}");
        assert_eq!(u32_at(&page, offset + 16), entry.kind, "{index}");
    }
    assert_eq!(u64_at(&page, 0x2d0 + 20 * 3 + 8), 0x7ff0_0000);
    assert_eq!(u32_at(&page, 0x2d0 + 20 * 2 + 16), 2);
}

#[test]
fn a_full_e820_table() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    let map: Vec<_> = (0..128u64)
        .map(|i| E820Entry::new(i << 20, 1 << 20, 1 + (i % 2) as u32))
        .collect();
    let page = build_boot_params(&image, &map, 0, 0, None).unwrap();
    assert_eq!(u8_at(&page, 0x1e8), 128);
    // The last entry ends at 0xCD0, before eddbuf at 0xD00.
    assert_eq!(u64_at(&page, 0x2d0 + 127 * 20), 127 << 20);
    assert_eq!(u32_at(&page, 0xccc), 2);
    assert!(page[0xcd0..].iter().all(|&b| b == 0));
    let mut map = map;
    map.push(E820Entry::new(1 << 40, 1 << 20, 1));
    let err = build_boot_params(&image, &map, 0, 0, None).unwrap_err();
    assert_eq!(err, BootParamsError::TooManyE820Entries { count: 129 });
    assert_eq!(
        err.to_string(),
        "129 e820 entries: the zero page's e820_table holds 128"
    );
}

#[test]
fn command_line_limits() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    assert!(build_boot_params(&image, &[], 0x2_0000, 2047, None).is_ok());
    let err = build_boot_params(&image, &[], 0x2_0000, 2048, None).unwrap_err();
    assert_eq!(
        err,
        BootParamsError::CmdlineTooLong {
            len: 2048,
            max: 2047
        }
    );
    assert_eq!(
        err.to_string(),
        "command line of 2048 bytes is longer than the kernel's cmdline_size (2047)"
    );
}

#[test]
fn kernels_that_stay_below_4_gib() {
    let image = TestImage {
        xloadflags: 0x0001,
        ..TestImage::default()
    };
    let file = image.build();
    let image = BzImage::parse(&file).unwrap();
    assert!(!image.can_load_above_4g());
    // The command line and its NUL must end by 4 GiB.
    assert!(build_boot_params(&image, &[], 0xffff_ff00, 0xff, None).is_ok());
    let err = build_boot_params(&image, &[], 0xffff_ff00, 0x100, None).unwrap_err();
    assert_eq!(err, BootParamsError::CmdlineAbove4G { addr: 0xffff_ff00 });
    assert!(err.to_string().contains("XLF_CAN_BE_LOADED_ABOVE_4G"));
    // The initrd must end by initrd_addr_max (0x7FFFFFFF).
    assert!(build_boot_params(&image, &[], 0, 0, Some((0x7ff0_0000, 0x10_0000))).is_ok());
    let err = build_boot_params(&image, &[], 0, 0, Some((0x7ff0_0001, 0x10_0000)));
    let want = BootParamsError::InitrdTooHigh {
        last: 0x8000_0000,
        max: 0x7fff_ffff,
    };
    assert_eq!(err, Err(want));
    assert_eq!(
        want.to_string(),
        "initrd ends at 0x80000000, above the kernel's initrd_addr_max (0x7fffffff)"
    );
}

#[test]
fn initrd_wrapping_around() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    let err = build_boot_params(&image, &[], 0, 0, Some((u64::MAX - 0xff, 0x200)));
    assert_eq!(
        err,
        Err(BootParamsError::InitrdWraps {
            addr: u64::MAX - 0xff,
            size: 0x200
        })
    );
    assert!(build_boot_params(&image, &[], 0, 0, Some((u64::MAX - 0xff, 0x100))).is_ok());
}

#[test]
fn plain_page_has_the_loader_fields_and_no_header() {
    let page = build_plain_boot_params(&e820(), 0x9_1000, Some((0x80_0000, 0x1234))).unwrap();
    assert_eq!(u32_at(&page, 0x228), 0x9_1000);
    assert_eq!(u32_at(&page, 0x218), 0x80_0000);
    assert_eq!(u32_at(&page, 0x21c), 0x1234);
    assert_eq!(u8_at(&page, 0x1e8) as usize, e820().len());
    // No setup header: its magic stays zero.
    assert_eq!(u32_at(&page, 0x202), 0);
}

#[test]
fn plain_page_refuses_bad_input() {
    let many = vec![E820Entry::new(0, 0x1000, E820Entry::RAM); 129];
    assert_eq!(
        build_plain_boot_params(&many, 0, None),
        Err(BootParamsError::TooManyE820Entries { count: 129 })
    );
    assert_eq!(
        build_plain_boot_params(&e820(), 0, Some((u64::MAX - 1, 4))),
        Err(BootParamsError::InitrdWraps {
            addr: u64::MAX - 1,
            size: 4
        })
    );
}

#[test]
fn setup_header_added_to_a_plain_page() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    let initrd = Some((0x7f00_0000, 0x10_0000));
    let mut added = build_plain_boot_params(&e820(), 0x2_0000, initrd).unwrap();
    add_setup_header(&mut added, &image, 13).unwrap();
    assert_eq!(added, page());
    // The command line and initrd fields the header covers are kept.
    assert_eq!(u32_at(&added, 0x228), 0x2_0000);
    assert_eq!(u32_at(&added, 0x218), 0x7f00_0000);
    assert_eq!(u32_at(&added, 0x21c), 0x10_0000);
    // A command line longer than the kernel takes is refused, the page unchanged.
    let mut plain = build_plain_boot_params(&e820(), 0x2_0000, None).unwrap();
    let before = plain;
    let err = add_setup_header(&mut plain, &image, image.cmdline_size() + 1).unwrap_err();
    assert!(
        matches!(err, BootParamsError::CmdlineTooLong { .. }),
        "{err}"
    );
    assert_eq!(plain, before);
}
