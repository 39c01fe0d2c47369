//! Tests of the walker on formats other than aarch64: a multi-frame root, a broken layout.

use tessera_addr::{GuestPhysAddr, HostPhysAddr};

use crate::fake::{FakeAllocator, leaves_by_depth};
use crate::{Aarch64Stage2, Descriptor, MappingFlags, PageTableFormat, Stage2Error, Stage2Table};

const RW: MappingFlags = MappingFlags::READ.union(MappingFlags::WRITE);
const KIB4: u64 = 0x1000;
const MIB2: u64 = 0x20_0000;
const GIB1: u64 = 0x4000_0000;

fn gpa(raw: u64) -> GuestPhysAddr {
    GuestPhysAddr::new(raw)
}

fn hpa(raw: u64) -> HostPhysAddr {
    HostPhysAddr::new(raw)
}

/// Level-1 start with two concatenated level-1 tables (VTCR_EL2.SL0 = 0b01), the
/// layout riscv's Sv39x4 also has: exercises a multi-frame root.
struct Concatenated;

impl PageTableFormat for Concatenated {
    const LEVELS: usize = 3;
    const ROOT_FRAMES: usize = 2;
    const INPUT_BITS: u32 = 40;
    const OUTPUT_BITS: u32 = 48;

    fn index_bits(depth: usize) -> u32 {
        if depth == 0 { 10 } else { 9 }
    }
    fn block_allowed(depth: usize) -> bool {
        depth < 2
    }
    fn table_descriptor(next: HostPhysAddr, depth: usize) -> u64 {
        Aarch64Stage2::table_descriptor(next, depth + 1)
    }
    fn leaf_descriptor(hpa: HostPhysAddr, flags: MappingFlags, depth: usize) -> u64 {
        Aarch64Stage2::leaf_descriptor(hpa, flags, depth + 1)
    }
    fn decode(raw: u64, depth: usize) -> Descriptor {
        Aarch64Stage2::decode(raw, depth + 1)
    }
}

#[test]
fn concatenated_root() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<Concatenated>::new(&mut alloc).unwrap();
    assert_eq!(alloc.live(), 2);
    assert_eq!(table.root().raw() % 0x2000, 0);
    // Above 512 GiB: entry 512 of the root, in its second frame.
    let high = 0x80_4000_0000;
    table
        .map(&mut alloc, gpa(high), hpa(GIB1), GIB1 + KIB4, RW)
        .unwrap();
    let second = table.root().raw() + 0x1000;
    assert_eq!(
        alloc.entry(second, 1),
        Aarch64Stage2::leaf_descriptor(hpa(GIB1), RW, 1)
    );
    assert_eq!(
        leaves_by_depth::<Concatenated>(&alloc, table.root()),
        [1, 0, 1]
    );
    assert_eq!(
        table.translate(&alloc, gpa(high + GIB1)),
        Some((hpa(2 * GIB1), RW))
    );
    table.unmap(&mut alloc, gpa(high + MIB2), KIB4).unwrap();
    assert_eq!(
        leaves_by_depth::<Concatenated>(&alloc, table.root()),
        [0, 511, 512]
    );
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}

/// A format whose index bits do not add up to its input width.
struct Broken;

impl PageTableFormat for Broken {
    const LEVELS: usize = 4;
    const ROOT_FRAMES: usize = 1;
    const INPUT_BITS: u32 = 48;
    const OUTPUT_BITS: u32 = 48;

    fn index_bits(_depth: usize) -> u32 {
        8
    }
    fn block_allowed(_depth: usize) -> bool {
        false
    }
    fn table_descriptor(_next: HostPhysAddr, _depth: usize) -> u64 {
        0
    }
    fn leaf_descriptor(_hpa: HostPhysAddr, _flags: MappingFlags, _depth: usize) -> u64 {
        0
    }
    fn decode(_raw: u64, _depth: usize) -> Descriptor {
        Descriptor::Invalid
    }
}

#[test]
fn inconsistent_format_is_refused() {
    let mut alloc = FakeAllocator::new();
    assert!(matches!(
        Stage2Table::<Broken>::new(&mut alloc),
        Err(Stage2Error::BadFormat)
    ));
    assert_eq!(alloc.live(), 0);
}
