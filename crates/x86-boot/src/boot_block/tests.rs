//! Tests of the boot block: layout, tables, and refused input.

use super::*;

fn u64_at(block: &[u8], offset: u64) -> u64 {
    let offset = offset as usize;
    u64::from_le_bytes(block[offset..offset + 8].try_into().unwrap())
}

#[test]
fn layout_and_tables() {
    let mut zero_page = [0u8; ZERO_PAGE_SIZE];
    zero_page[0x228] = 0x42;
    let block = build_boot_block(0x9_0000, &zero_page, b"console=ttyS0").unwrap();
    assert_eq!(block.len() as u64, BOOT_BLOCK_SIZE);
    assert_eq!(block[0x228], 0x42);
    assert_eq!(&block[0x1000..0x100e], b"console=ttyS0\0");
    assert_eq!(u64_at(&block, GDT_OFFSET), 0);
    assert_eq!(u64_at(&block, GDT_OFFSET + 0x10), 0x00af_9a00_0000_ffff);
    assert_eq!(u64_at(&block, GDT_OFFSET + 0x18), 0x00cf_9200_0000_ffff);
    assert_eq!(u64_at(&block, PML4_OFFSET), 0x9_4003);
    assert_eq!(u64_at(&block, PML4_OFFSET + 8), 0);
    for gib in 0..4 {
        assert_eq!(
            u64_at(&block, 0x4000 + gib * 8),
            (0x9_5000 + gib * 0x1000) | 3
        );
    }
    assert_eq!(u64_at(&block, 0x4000 + 4 * 8), 0);
    assert_eq!(u64_at(&block, 0x5000), 0x83);
    assert_eq!(u64_at(&block, 0x5000 + 8), 0x20_0083);
    // The last 2 MiB page below 4 GiB.
    assert_eq!(u64_at(&block, 0x5000 + 2047 * 8), 0xffe0_0083);
}

#[test]
fn refuses_bad_addresses_and_long_command_lines() {
    let zero_page = [0u8; ZERO_PAGE_SIZE];
    assert_eq!(
        build_boot_block(0x9_0800, &zero_page, b""),
        Err(BootBlockError::Unaligned { addr: 0x9_0800 })
    );
    assert_eq!(
        build_boot_block(0xffff_f000, &zero_page, b""),
        Err(BootBlockError::Above4G { addr: 0xffff_f000 })
    );
    assert_eq!(
        build_boot_block(0xffff_ffff_ffff_f000, &zero_page, b""),
        Err(BootBlockError::Above4G {
            addr: 0xffff_ffff_ffff_f000
        })
    );
    let long = vec![b'x'; CMDLINE_MAX + 1];
    assert_eq!(
        build_boot_block(0, &zero_page, &long),
        Err(BootBlockError::CmdlineTooLong {
            len: CMDLINE_MAX + 1
        })
    );
    assert!(build_boot_block(0, &zero_page, &long[..CMDLINE_MAX]).is_ok());
    assert_eq!(cmdline_address(0x10_0000, b"x"), Ok(0x10_1000));
}
