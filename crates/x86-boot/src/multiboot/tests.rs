//! Multiboot headers found and laid out, and information blocks as a kernel reads them.

use super::*;
use crate::bytes::u64_at;

/// A file with a header at `offset` giving `flags` and `addresses`.
fn image(offset: usize, flags: u32, addresses: [u32; 5], len: usize) -> Vec<u8> {
    let mut file = vec![0u8; len];
    let checksum = 0u32.wrapping_sub(HEADER_MAGIC).wrapping_sub(flags);
    for (i, word) in [HEADER_MAGIC, flags, checksum]
        .into_iter()
        .chain(addresses)
        .enumerate()
    {
        put(&mut file, offset + 4 * i, &word.to_le_bytes());
    }
    file
}

const LOAD: u32 = 0x20_0000;

/// The layout of a `len`-byte file loaded at [`LOAD`] whose header, at `offset`, has
/// address fields only, loading from the header's page and entering at [`LOAD`].
fn loaded_from(offset: usize, len: usize) -> MultibootLayout {
    let file = image(offset, FLAG_ADDRESSES, [LOAD + 0x40, LOAD, 0, 0, LOAD], len);
    MultibootHeader::find(&file).unwrap().layout(len).unwrap()
}

#[test]
fn a_header_with_addresses_says_where_the_kernel_goes() {
    // Header 0x40 into a file loaded at 0x200000, 0x3000 bytes loaded, bss to 0x205000.
    let file = image(
        0x40,
        FLAG_ADDRESSES | 1 << 1,
        [
            LOAD + 0x40,
            LOAD,
            LOAD + 0x3000,
            LOAD + 0x5000,
            LOAD + 0x100,
        ],
        0x3800,
    );
    let header = MultibootHeader::find(&file).unwrap();
    assert_eq!(header.offset, 0x40);
    assert!(!header.needs_aligned_modules());
    assert_eq!(
        header.layout(file.len()).unwrap(),
        MultibootLayout {
            file_range: (0, 0x3000),
            load_addr: LOAD as u64,
            bss_end: (LOAD + 0x5000) as u64,
            entry: (LOAD + 0x100) as u64,
        }
    );
    // load_end_addr 0: the rest of the file; bss_end_addr 0: no bss.
    let layout = loaded_from(0x40, 0x3800);
    assert_eq!(layout.file_range, (0, 0x3800));
    assert_eq!(layout.bss_end, (LOAD + 0x3800) as u64);
}

#[test]
fn the_file_may_start_before_the_loaded_part() {
    // The header sits 0x1040 into the file, 0x40 into what is loaded.
    let layout = loaded_from(0x1040, 0x2000);
    assert_eq!(layout.file_range, (0x1000, 0x2000));
}

#[test]
fn headers_that_cannot_be_loaded_are_named() {
    let find = |file: &[u8]| MultibootHeader::find(file);
    assert_eq!(find(&[0u8; 16384]), Err(MultibootError::NoHeader));
    // Past the first 8 KiB, or a bad checksum: not a header.
    let late = image(8192, FLAG_ADDRESSES, [0; 5], 16384);
    assert_eq!(find(&late), Err(MultibootError::NoHeader));
    let mut bad = image(0, FLAG_ADDRESSES, [0; 5], 64);
    bad[8] ^= 1;
    assert_eq!(find(&bad), Err(MultibootError::NoHeader));
    let layout = |flags, addresses| find(&image(0x40, flags, addresses, 0x1000))?.layout(0x1000);
    let fine = [LOAD + 0x40, LOAD, 0, 0, LOAD];
    assert_eq!(layout(0, fine), Err(MultibootError::NoAddresses));
    assert_eq!(
        layout(FLAG_ADDRESSES | FLAG_VIDEO_MODE, fine),
        Err(MultibootError::VideoMode)
    );
    for addresses in [
        [LOAD - 1, LOAD, 0, 0, LOAD],                // header below load_addr
        [LOAD + 0x80, LOAD, 0, 0, LOAD],             // the file would start before byte 0
        [LOAD + 0x40, LOAD, LOAD + 0x2000, 0, LOAD], // past the end of the file
        [LOAD + 0x40, LOAD, LOAD + 0x800, LOAD + 0x400, LOAD], // bss below load_end
    ] {
        assert_eq!(
            layout(FLAG_ADDRESSES, addresses),
            Err(MultibootError::BadAddresses),
            "{addresses:x?}"
        );
    }
}

#[test]
fn the_information_block_describes_memory_command_line_and_module() {
    let at = 0x9000;
    let e820 = [
        E820Entry::new(0, 0x9_fc00, E820Entry::RAM),
        E820Entry::new(0x9_fc00, 0x6_0400, E820Entry::RESERVED),
        E820Entry::new(0x10_0000, 0xf0_0000, E820Entry::RAM),
    ];
    let module = Module {
        start: 0x80_0000,
        size: 0x1234,
    };
    let block = build_multiboot_info(at, &e820, b"tessera.x", Some(module)).unwrap();
    let word = |offset| u32_at(&block, offset).unwrap();
    // The kernel sees addresses; here they are offsets from `at`.
    let local = |addr: u32| (addr as u64 - at) as usize;
    assert_eq!(
        word(0),
        0b10_0100_1101,
        "memory, cmdline, modules, mmap, loader name"
    );
    assert_eq!(
        (word(4), word(8)),
        (639, 15 << 10),
        "KiB below 640K and above 1M"
    );
    let cmdline = local(word(16));
    assert_eq!(&block[cmdline..cmdline + 10], b"tessera.x\0");
    assert_eq!(word(44), 3 * 24);
    let mmap = local(word(48));
    for (i, entry) in e820.iter().enumerate() {
        let at = mmap + i * 24;
        assert_eq!(word(at), 20);
        assert_eq!(u64_at(&block, at + 4), Some(entry.addr));
        assert_eq!(u64_at(&block, at + 12), Some(entry.size));
        assert_eq!(word(at + 20), entry.kind);
    }
    assert_eq!(word(20), 1);
    let modules = local(word(24));
    assert_eq!((word(modules), word(modules + 4)), (0x80_0000, 0x80_1234));
    let name = local(word(64));
    assert_eq!(&block[name..name + 8], b"Tessera\0");
    // Without a module: no module flag, no count.
    let block = build_multiboot_info(at, &e820, b"", None).unwrap();
    assert_eq!(u32_at(&block, 0).unwrap() & (1 << 3), 0);
    assert_eq!(u32_at(&block, 20), Some(0));
}

#[test]
fn an_information_block_above_4g_is_refused() {
    let e820 = [E820Entry::new(0, 0x1000_0000, E820Entry::RAM)];
    assert_eq!(
        build_multiboot_info(0xffff_fff0, &e820, b"", None),
        Err(MultibootError::InfoAbove4G)
    );
}
