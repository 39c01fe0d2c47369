//! Tests of the generic walker, run on the aarch64 format and a concatenated-root format.

use tessera_addr::{GuestPhysAddr, HostPhysAddr};

use crate::fake::{FakeAllocator, leaves_by_depth};
use crate::{Aarch64Stage2, Descriptor, MappingFlags, PageTableFormat, Stage2Error, Stage2Table};

const RW: MappingFlags = MappingFlags::READ.union(MappingFlags::WRITE);
const RWX: MappingFlags = RW.union(MappingFlags::EXECUTE);
const KIB4: u64 = 0x1000;
const MIB2: u64 = 0x20_0000;
const GIB1: u64 = 0x4000_0000;

fn gpa(raw: u64) -> GuestPhysAddr {
    GuestPhysAddr::new(raw)
}

fn hpa(raw: u64) -> HostPhysAddr {
    HostPhysAddr::new(raw)
}

fn new_table(alloc: &mut FakeAllocator) -> Stage2Table<Aarch64Stage2> {
    Stage2Table::new(alloc).unwrap()
}

#[test]
fn new_and_destroy_balance_frames() {
    let mut alloc = FakeAllocator::new();
    let table = new_table(&mut alloc);
    assert_eq!(alloc.live(), 1);
    assert_eq!(table.root(), hpa(0x1000_0000));
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}

#[test]
fn two_mib_block_has_expected_descriptor() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    table
        .map(&mut alloc, gpa(0x4000_0000), hpa(0x4020_0000), MIB2, RW)
        .unwrap();
    // Root, level 1 and level 2 tables.
    assert_eq!(alloc.live(), 3);
    let l0 = table.root().raw();
    let Descriptor::Table(l1) = Aarch64Stage2::decode(alloc.entry(l0, 0), 0) else {
        panic!()
    };
    assert_eq!(alloc.entry(l0, 0), l1.raw() | 0b11);
    let Descriptor::Table(l2) = Aarch64Stage2::decode(alloc.entry(l1.raw(), 1), 1) else {
        panic!()
    };
    assert_eq!(alloc.entry(l2.raw(), 0), 0x0040_0000_4020_07fd);
    assert_eq!(
        leaves_by_depth::<Aarch64Stage2>(&alloc, table.root()),
        [0, 0, 1, 0]
    );
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}

#[test]
fn largest_block_is_chosen() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    // 1 GiB + 2 MiB + 4 KiB, both addresses 1 GiB aligned.
    table
        .map(
            &mut alloc,
            gpa(GIB1),
            hpa(2 * GIB1),
            GIB1 + MIB2 + KIB4,
            RWX,
        )
        .unwrap();
    assert_eq!(
        leaves_by_depth::<Aarch64Stage2>(&alloc, table.root()),
        [0, 1, 1, 1]
    );
    // Guest 2 MiB aligned but host only 4 KiB aligned: pages only.
    table
        .map(&mut alloc, gpa(8 * GIB1), hpa(0x1_0000_1000), MIB2, RW)
        .unwrap();
    assert_eq!(
        leaves_by_depth::<Aarch64Stage2>(&alloc, table.root()),
        [0, 1, 1, 513]
    );
    // Starting 4 KiB below a 2 MiB boundary: one page, then a block.
    table
        .map(
            &mut alloc,
            gpa(16 * GIB1 - KIB4),
            hpa(3 * GIB1 - KIB4),
            MIB2 + KIB4,
            RW,
        )
        .unwrap();
    assert_eq!(
        leaves_by_depth::<Aarch64Stage2>(&alloc, table.root()),
        [0, 1, 2, 514]
    );
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}

#[test]
fn translate_every_mapped_page() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    let (g, h, size) = (
        0x4000_0000 - 3 * KIB4,
        0x9000_0000 - 3 * KIB4,
        2 * MIB2 + 5 * KIB4,
    );
    let flags = MappingFlags::READ | MappingFlags::EXECUTE;
    table.map(&mut alloc, gpa(g), hpa(h), size, flags).unwrap();
    for page in (0..size).step_by(KIB4 as usize) {
        for offset in [0, 0x8, 0x123, 0xfff] {
            let got = table.translate(&alloc, gpa(g + page + offset));
            assert_eq!(got, Some((hpa(h + page + offset), flags)), "page {page:#x}");
        }
    }
    assert_eq!(table.translate(&alloc, gpa(g - 1)), None);
    assert_eq!(table.translate(&alloc, gpa(g + size)), None);
    assert_eq!(table.translate(&alloc, gpa(1 << 40)), None);
    assert_eq!(table.translate(&alloc, gpa(u64::MAX)), None);
}

#[test]
fn device_mapping_translates_with_device_flag() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    let flags = RW | MappingFlags::DEVICE;
    table
        .map(&mut alloc, gpa(0x0900_0000), hpa(0x0900_0000), KIB4, flags)
        .unwrap();
    assert_eq!(
        table.translate(&alloc, gpa(0x0900_0018)),
        Some((hpa(0x0900_0018), flags))
    );
}

#[test]
fn overlapping_map_is_refused_without_change() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    table
        .map(&mut alloc, gpa(0x4000_0000), hpa(0x8000_0000), MIB2, RW)
        .unwrap();
    let frames = alloc.live();
    // Ends inside the existing block.
    let err = table.map(&mut alloc, gpa(0x3ff0_0000), hpa(0x1000_0000), MIB2, RW);
    assert_eq!(
        err,
        Err(Stage2Error::AlreadyMapped {
            gpa: gpa(0x4000_0000)
        })
    );
    // Exactly the same range, and one page inside it.
    let err = table.map(&mut alloc, gpa(0x4000_0000), hpa(0x8000_0000), MIB2, RW);
    assert_eq!(
        err,
        Err(Stage2Error::AlreadyMapped {
            gpa: gpa(0x4000_0000)
        })
    );
    let err = table.map(&mut alloc, gpa(0x4010_0000), hpa(0), KIB4, RW);
    assert_eq!(
        err,
        Err(Stage2Error::AlreadyMapped {
            gpa: gpa(0x4010_0000)
        })
    );
    assert_eq!(alloc.live(), frames);
    assert_eq!(table.translate(&alloc, gpa(0x3ff0_0000)), None);
    assert_eq!(
        table.translate(&alloc, gpa(0x4000_0000)),
        Some((hpa(0x8000_0000), RW))
    );
    // Neighbours on both sides still fit.
    table
        .map(&mut alloc, gpa(0x3fff_f000), hpa(0), KIB4, RW)
        .unwrap();
    table
        .map(&mut alloc, gpa(0x4020_0000), hpa(0), KIB4, RW)
        .unwrap();
}

#[test]
fn bad_ranges_are_refused() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    let cases = [
        (0x4000_0800, 0x8000_0000, KIB4, Stage2Error::Unaligned),
        (0x4000_0000, 0x8000_0800, KIB4, Stage2Error::Unaligned),
        (0x4000_0000, 0x8000_0000, 0x800, Stage2Error::Unaligned),
        ((1 << 40) - KIB4, 0, 2 * KIB4, Stage2Error::OutOfRange),
        (1 << 40, 0, KIB4, Stage2Error::OutOfRange),
        (u64::MAX - 0xfff, 0, KIB4, Stage2Error::OutOfRange),
        (0, (1 << 48) - KIB4, 2 * KIB4, Stage2Error::OutOfRange),
        (0, u64::MAX - 0xfff, KIB4, Stage2Error::OutOfRange),
    ];
    for (g, h, size, want) in cases {
        assert_eq!(
            table.map(&mut alloc, gpa(g), hpa(h), size, RW),
            Err(want),
            "{g:#x} {h:#x}"
        );
    }
    assert_eq!(
        table.unmap(&mut alloc, gpa(0x800), KIB4),
        Err(Stage2Error::Unaligned)
    );
    assert_eq!(
        table.unmap(&mut alloc, gpa(0), 0x10),
        Err(Stage2Error::Unaligned)
    );
    assert_eq!(
        table.unmap(&mut alloc, gpa(1 << 40), KIB4),
        Err(Stage2Error::OutOfRange)
    );
    assert_eq!(alloc.live(), 1);
    // The last page of the IPA space is fine, and so is a zero-sized map.
    table
        .map(
            &mut alloc,
            gpa((1 << 40) - KIB4),
            hpa((1 << 48) - KIB4),
            KIB4,
            RW,
        )
        .unwrap();
    table.map(&mut alloc, gpa(0), hpa(0), 0, RW).unwrap();
    assert_eq!(table.translate(&alloc, gpa(0)), None);
}

#[test]
fn out_of_memory_leaves_nothing_behind() {
    // Root + two level-1 + ... : a 4 KiB page needs three more frames.
    for budget in 1..4 {
        let mut alloc = FakeAllocator::with_budget(budget);
        let mut table = new_table(&mut alloc);
        let err = table.map(&mut alloc, gpa(0x4000_0000), hpa(0), 2 * KIB4, RW);
        assert_eq!(err, Err(Stage2Error::OutOfMemory), "budget {budget}");
        assert_eq!(alloc.live(), 1);
        assert_eq!(table.translate(&alloc, gpa(0x4000_0000)), None);
    }
    // Runs dry in the middle: the first 2 MiB fit, the next level-2 table does not.
    let mut alloc = FakeAllocator::with_budget(4);
    let mut table = new_table(&mut alloc);
    let err = table.map(&mut alloc, gpa(GIB1 - MIB2), hpa(0), MIB2 + KIB4, RW);
    assert_eq!(err, Err(Stage2Error::OutOfMemory));
    assert_eq!(alloc.live(), 1);
    assert_eq!(table.translate(&alloc, gpa(GIB1 - MIB2)), None);
    assert!(Stage2Table::<Aarch64Stage2>::new(&mut FakeAllocator::with_budget(0)).is_err());
}

#[test]
fn unmap_whole_mappings_frees_tables() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    table
        .map(
            &mut alloc,
            gpa(GIB1),
            hpa(GIB1),
            GIB1 + 3 * MIB2 + 7 * KIB4,
            RW,
        )
        .unwrap();
    table
        .unmap(&mut alloc, gpa(GIB1), GIB1 + 3 * MIB2 + 7 * KIB4)
        .unwrap();
    assert_eq!(alloc.live(), 1);
    assert_eq!(
        leaves_by_depth::<Aarch64Stage2>(&alloc, table.root()),
        [0, 0, 0, 0]
    );
    // Unmapping holes is not an error.
    table.unmap(&mut alloc, gpa(0), 4 * GIB1).unwrap();
    assert_eq!(alloc.live(), 1);
}

#[test]
fn unmap_splits_blocks() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    table
        .map(&mut alloc, gpa(GIB1), hpa(4 * GIB1), GIB1, RWX)
        .unwrap();
    // One page in the middle of the 1 GiB block.
    let hole = GIB1 + 5 * MIB2 + 3 * KIB4;
    table.unmap(&mut alloc, gpa(hole), KIB4).unwrap();
    assert_eq!(
        leaves_by_depth::<Aarch64Stage2>(&alloc, table.root()),
        [0, 0, 511, 511]
    );
    assert_eq!(table.translate(&alloc, gpa(hole)), None);
    for probe in [GIB1, hole - 1, hole + KIB4, 2 * GIB1 - 1] {
        let want = hpa(probe - GIB1 + 4 * GIB1);
        assert_eq!(
            table.translate(&alloc, gpa(probe)),
            Some((want, RWX)),
            "{probe:#x}"
        );
    }
    // The split keeps the attributes bit for bit.
    let expected = Aarch64Stage2::leaf_descriptor(hpa(4 * GIB1), RWX, 2);
    let Descriptor::Table(l1) = Aarch64Stage2::decode(alloc.entry(table.root().raw(), 0), 0) else {
        panic!()
    };
    let Descriptor::Table(l2) = Aarch64Stage2::decode(alloc.entry(l1.raw(), 1), 1) else {
        panic!()
    };
    assert_eq!(alloc.entry(l2.raw(), 0), expected);
    table.unmap(&mut alloc, gpa(GIB1), GIB1).unwrap();
    assert_eq!(alloc.live(), 1);
}

#[test]
fn unmap_split_out_of_memory() {
    let mut alloc = FakeAllocator::with_budget(3);
    let mut table = new_table(&mut alloc);
    table.map(&mut alloc, gpa(0), hpa(0), MIB2, RW).unwrap();
    assert_eq!(
        table.unmap(&mut alloc, gpa(0), KIB4),
        Err(Stage2Error::OutOfMemory)
    );
    assert_eq!(table.translate(&alloc, gpa(0)), Some((hpa(0), RW)));
    assert_eq!(alloc.live(), 3);
}

#[test]
fn destroy_frees_every_frame() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    table
        .map(&mut alloc, gpa(0), hpa(0), 3 * GIB1 + MIB2 + KIB4, RW)
        .unwrap();
    table
        .map(&mut alloc, gpa(0x80_0000_0000), hpa(0), 17 * KIB4, RW)
        .unwrap();
    table
        .map(&mut alloc, gpa(0xff_ffe0_0000), hpa(0), MIB2, RW)
        .unwrap();
    assert!(alloc.live() > 5);
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
    assert!(alloc.allocated_total > 5);
}

#[test]
fn table_used_with_another_allocator_fails_cleanly() {
    let mut alloc = FakeAllocator::new();
    let mut table = new_table(&mut alloc);
    let mut other = FakeAllocator::new();
    other.budget = 0;
    let err = table.map(&mut other, gpa(0), hpa(0), KIB4, RW);
    assert_eq!(
        err,
        Err(Stage2Error::FrameAccess {
            frame: table.root()
        })
    );
    assert_eq!(table.translate(&other, gpa(0)), None);
}

#[test]
fn mapping_flags() {
    let flags = MappingFlags::from_bits_truncate(0xff);
    assert_eq!(flags.bits(), 0xf);
    assert!(flags.contains(RWX | MappingFlags::DEVICE));
    assert!(!RW.contains(MappingFlags::EXECUTE));
    assert!(RW.contains(MappingFlags::NONE));
    assert_eq!(format!("{:?}", RWX), "MappingFlags(R|W|X)");
    assert_eq!(format!("{:?}", MappingFlags::NONE), "MappingFlags()");
    assert_eq!(
        (MappingFlags::READ.bits(), MappingFlags::DEVICE.bits()),
        (1, 8)
    );
}

#[test]
fn error_messages() {
    let err = Stage2Error::AlreadyMapped {
        gpa: gpa(0x4000_0000),
    };
    assert_eq!(
        err.to_string(),
        "guest address 0x40000000 is already mapped"
    );
    assert_eq!(
        Stage2Error::OutOfMemory.to_string(),
        "no free frames for translation tables"
    );
}
