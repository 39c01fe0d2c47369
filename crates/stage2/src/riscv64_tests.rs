//! Tests of the Sv39x4 G-stage format: entry bits, decoding, hgatp, and the generic
//! walker running on it.

use tessera_addr::{GuestPhysAddr, HostPhysAddr};

use crate::fake::{FakeAllocator, leaves_by_depth};
use crate::format::Geometry;
use crate::{
    Descriptor, MappingFlags, PageTableFormat, Riscv64Sv39x4, Stage2Error, Stage2Table, hgatp,
};

// Entry bits, written out again from the specification so that the tests do not
// depend on the constants of the code under test.
const V: u64 = 1 << 0;
const R: u64 = 1 << 1;
const W: u64 = 1 << 2;
const X: u64 = 1 << 3;
const U: u64 = 1 << 4;
const G: u64 = 1 << 5;
const A: u64 = 1 << 6;
const D: u64 = 1 << 7;
const RSW0: u64 = 1 << 8;

const RW: MappingFlags = MappingFlags::READ.union(MappingFlags::WRITE);
const RWX: MappingFlags = RW.union(MappingFlags::EXECUTE);
const KIB4: u64 = 0x1000;
const MIB2: u64 = 0x20_0000;
const GIB1: u64 = 0x4000_0000;

type F = Riscv64Sv39x4;

fn gpa(raw: u64) -> GuestPhysAddr {
    GuestPhysAddr::new(raw)
}

fn hpa(raw: u64) -> HostPhysAddr {
    HostPhysAddr::new(raw)
}

/// The rights Sv39x4 can give for `flags`: WRITE needs READ, DEVICE has no bit.
fn expressible(flags: MappingFlags) -> MappingFlags {
    let mut out = MappingFlags::NONE;
    if flags.contains(MappingFlags::READ) {
        out = out | MappingFlags::READ;
        if flags.contains(MappingFlags::WRITE) {
            out = out | MappingFlags::WRITE;
        }
    }
    if flags.contains(MappingFlags::EXECUTE) {
        out = out | MappingFlags::EXECUTE;
    }
    out
}

#[test]
fn geometry() {
    assert_eq!((F::LEVELS, F::ROOT_FRAMES), (3, 4));
    assert_eq!((F::INPUT_BITS, F::OUTPUT_BITS), (41, 56));
    assert_eq!(
        (F::index_bits(0), F::index_bits(1), F::index_bits(2)),
        (11, 9, 9)
    );
    assert!(F::block_allowed(0) && F::block_allowed(1));
    assert!(Geometry::<F>::is_consistent());
    assert_eq!(Geometry::<F>::entries(0), 2048);
    assert_eq!(
        (
            Geometry::<F>::span(0),
            Geometry::<F>::span(1),
            Geometry::<F>::span(2)
        ),
        (GIB1, MIB2, KIB4)
    );
    let last = (1 << 41) - KIB4;
    assert_eq!(
        (
            Geometry::<F>::index(last, 0),
            Geometry::<F>::index(last, 1),
            Geometry::<F>::index(last, 2)
        ),
        (2047, 511, 511)
    );
}

#[test]
fn leaf_bits_at_every_level() {
    // 1 GiB: PPN 0x80000 << 10 | D A U X W R V.
    let raw = F::leaf_descriptor(hpa(0x8000_0000), RWX, 0);
    assert_eq!(raw, 0x2000_00df);
    // 2 MiB read-only: PPN 0x40200 << 10 | D A U R V.
    let raw = F::leaf_descriptor(hpa(0x4020_0000), MappingFlags::READ, 1);
    assert_eq!(raw, 0x1008_00d3);
    // 4 KiB read-write: PPN 0x80201 << 10 | D A U W R V.
    let raw = F::leaf_descriptor(hpa(0x8020_1000), RW, 2);
    assert_eq!(raw, 0x2008_04d7);
    // Execute-only: D A U X V.
    let raw = F::leaf_descriptor(hpa(0x1000), MappingFlags::EXECUTE, 2);
    assert_eq!(raw, 0x4d9);
    // The highest host page: every PPN bit (53:10) set, nothing above.
    let raw = F::leaf_descriptor(hpa((1 << 56) - KIB4), RW, 2);
    assert_eq!(raw, 0x003f_ffff_ffff_fc00 | 0xd7);
}

#[test]
fn every_leaf_sets_u_a_d_and_never_g() {
    for bits in 0..16 {
        let flags = MappingFlags::from_bits_truncate(bits);
        if expressible(flags) == MappingFlags::NONE {
            continue;
        }
        for depth in 0..3 {
            let raw = F::leaf_descriptor(hpa(0), flags, depth);
            assert_eq!(raw & (V | U | A | D), V | U | A | D, "{flags:?} at {depth}");
            assert_eq!(raw & G, 0);
            assert_ne!(raw & (R | W | X), 0, "a leaf, not a pointer");
            assert_ne!(raw & (R | W), W, "never the reserved W-without-R encoding");
        }
    }
}

#[test]
fn table_descriptors_set_only_v() {
    let raw = F::table_descriptor(hpa(0x1234_5000), 0);
    assert_eq!(raw, (0x12345 << 10) | V);
    assert_eq!(raw & !(0x003f_ffff_ffff_fc00), V);
    for depth in 0..2 {
        assert_eq!(
            F::decode(F::table_descriptor(hpa(0x8765_4000), depth), depth),
            Descriptor::Table(hpa(0x8765_4000))
        );
    }
    // G is ignored in a pointer; D, A and U are reserved there and fault.
    assert_eq!(F::decode(raw | G, 1), Descriptor::Table(hpa(0x1234_5000)));
    for reserved in [D, A, U] {
        assert_eq!(F::decode(raw | reserved, 1), Descriptor::Invalid);
    }
    // A pointer at the last level faults.
    assert_eq!(F::decode(raw, 2), Descriptor::Invalid);
}

#[test]
fn decode_round_trips_every_flag_combination_at_every_level() {
    for bits in 0..16 {
        let flags = MappingFlags::from_bits_truncate(bits);
        for (depth, addr) in [(0, 0x1_c000_0000u64), (1, 0x20_0000), (2, 0xfff_f000)] {
            let raw = F::leaf_descriptor(hpa(addr), flags, depth);
            assert_eq!(
                F::decode(raw, depth),
                Descriptor::Leaf {
                    hpa: hpa(addr),
                    flags: expressible(flags)
                },
                "{flags:?} at depth {depth}"
            );
        }
    }
}

#[test]
fn device_has_no_bit() {
    for bits in 0..8 {
        let flags = MappingFlags::from_bits_truncate(bits);
        for depth in 0..3 {
            assert_eq!(
                F::leaf_descriptor(hpa(0), flags | MappingFlags::DEVICE, depth),
                F::leaf_descriptor(hpa(0), flags, depth)
            );
        }
    }
}

#[test]
fn write_without_read_is_narrowed() {
    // Write-only: no right left, an entry with V clear and the software marker.
    let raw = F::leaf_descriptor(hpa(0x2000), MappingFlags::WRITE, 2);
    assert_eq!(raw, (0x2 << 10) | RSW0);
    assert_eq!(
        F::decode(raw, 2),
        Descriptor::Leaf {
            hpa: hpa(0x2000),
            flags: MappingFlags::NONE
        }
    );
    // Write + execute: execute-only.
    let raw = F::leaf_descriptor(hpa(0x3000), MappingFlags::WRITE | MappingFlags::EXECUTE, 2);
    assert_eq!(raw, (0x3 << 10) | D | A | U | X | V);
}

#[test]
fn no_access_leaves_are_never_valid_entries() {
    // At the root and middle level a valid entry with R = W = X = 0 would be a
    // pointer into the mapped memory: a no-access leaf must keep V clear.
    for flags in [
        MappingFlags::NONE,
        MappingFlags::DEVICE,
        MappingFlags::WRITE,
    ] {
        for (depth, addr) in [(0, GIB1), (1, MIB2), (2, KIB4)] {
            let raw = F::leaf_descriptor(hpa(addr), flags, depth);
            assert_eq!(raw & V, 0);
            assert_eq!(raw, ((addr >> 12) << 10) | RSW0);
            assert_eq!(
                F::decode(raw, depth),
                Descriptor::Leaf {
                    hpa: hpa(addr),
                    flags: MappingFlags::NONE
                }
            );
        }
    }
}

#[test]
fn decode_rejects_what_the_hardware_faults_on() {
    let page = F::leaf_descriptor(hpa(0x4000_0000), RW, 2);
    for depth in 0..4 {
        assert_eq!(F::decode(0, depth), Descriptor::Invalid);
    }
    // V clear without the software marker, whatever else is set.
    assert_eq!(F::decode(page & !V, 2), Descriptor::Invalid);
    // Reserved R/W/X encodings: write-only and write + execute.
    assert_eq!(F::decode(V | W | U | A | D, 2), Descriptor::Invalid);
    assert_eq!(F::decode(V | W | X | U | A | D, 2), Descriptor::Invalid);
    // Reserved bits 60:54, PBMT (62:61) and N (63).
    for bit in [54, 60, 61, 62, 63] {
        assert_eq!(
            F::decode(page | (1 << bit), 2),
            Descriptor::Invalid,
            "{bit}"
        );
    }
    // Misaligned superpages, also for no-access leaves.
    let misaligned_gib = F::leaf_descriptor(hpa(0x4020_0000), RW, 2);
    assert_eq!(F::decode(misaligned_gib, 0), Descriptor::Invalid);
    assert_eq!(
        F::decode(misaligned_gib, 1),
        Descriptor::Leaf {
            hpa: hpa(0x4020_0000),
            flags: RW
        }
    );
    let misaligned_mib = F::leaf_descriptor(hpa(0x4020_1000), RW, 2);
    assert_eq!(F::decode(misaligned_mib, 1), Descriptor::Invalid);
    let none = F::leaf_descriptor(hpa(0x1000), MappingFlags::NONE, 2);
    assert_eq!(F::decode(none, 1), Descriptor::Invalid);
    // No fourth level.
    assert_eq!(F::decode(page, 3), Descriptor::Invalid);
}

#[test]
fn decode_reports_what_the_hardware_allows() {
    let page = F::leaf_descriptor(hpa(0x5000), RWX, 2);
    // Without U the G stage faults every guest access.
    assert_eq!(
        F::decode(page & !U, 2),
        Descriptor::Leaf {
            hpa: hpa(0x5000),
            flags: MappingFlags::NONE
        }
    );
    // A and D clear still map (hardware with Svadu sets them).
    assert_eq!(
        F::decode(page & !(A | D), 2),
        Descriptor::Leaf {
            hpa: hpa(0x5000),
            flags: RWX
        }
    );
    // G and the RSW bits are ignored in a valid leaf.
    assert_eq!(
        F::decode(page | G | (0b11 << 8), 2),
        Descriptor::Leaf {
            hpa: hpa(0x5000),
            flags: RWX
        }
    );
}

#[test]
fn hgatp_fields() {
    // MODE 8 | VMID 5 | PPN 0x80400.
    assert_eq!(hgatp(hpa(0x8040_0000), 5), 0x8000_5000_0008_0400);
    assert_eq!(hgatp(hpa(0x1000_0000), 0), 0x8000_0000_0001_0000);
    // VMID cut to 14 bits, PPN to 44 bits.
    assert_eq!(hgatp(hpa(0), 0xffff), 0x83ff_f000_0000_0000);
    assert_eq!(
        hgatp(hpa(0xffff_ffff_ffff_c000), 0x3fff),
        0x83ff_ffff_ffff_fffc
    );
    assert_eq!(hgatp(hpa(0x8040_0000), 5) >> 60, 8);
}

#[test]
fn table_maps_translates_and_unmaps() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<F>::new(&mut alloc).unwrap();
    assert_eq!(alloc.live(), 4);
    assert_eq!(table.root().raw() % 0x4000, 0, "16 KiB aligned root");
    assert_eq!(hgatp(table.root(), 1) & 0b11, 0);
    // RAM at 2 GiB: one 1 GiB leaf at the root, one 2 MiB, one 4 KiB.
    let size = GIB1 + MIB2 + KIB4;
    table
        .map(&mut alloc, gpa(0x8000_0000), hpa(0x8000_0000), size, RWX)
        .unwrap();
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [1, 1, 1]);
    assert_eq!(
        alloc.entry(table.root().raw(), 2),
        F::leaf_descriptor(hpa(0x8000_0000), RWX, 0)
    );
    for probe in [0, 0x123, GIB1 - 1, GIB1, GIB1 + MIB2 + 0xfff] {
        assert_eq!(
            table.translate(&alloc, gpa(0x8000_0000 + probe)),
            Some((hpa(0x8000_0000 + probe), RWX)),
            "{probe:#x}"
        );
    }
    assert_eq!(table.translate(&alloc, gpa(0x8000_0000 + size)), None);
    assert_eq!(table.translate(&alloc, gpa(0x7fff_ffff)), None);
    // 1 TiB is root entry 1024, the first of the third root frame; the last page of
    // the space is entry 2047, the last of the fourth.
    table
        .map(&mut alloc, gpa(1 << 40), hpa(4 * GIB1), GIB1, RW)
        .unwrap();
    assert_eq!(
        alloc.entry(table.root().raw() + 0x2000, 0),
        F::leaf_descriptor(hpa(4 * GIB1), RW, 0)
    );
    let last = (1 << 41) - KIB4;
    table
        .map(&mut alloc, gpa(last), hpa((1 << 56) - KIB4), KIB4, RW)
        .unwrap();
    let Descriptor::Table(mid) = F::decode(alloc.entry(table.root().raw() + 0x3000, 511), 0) else {
        panic!("no table at root entry 2047")
    };
    let Descriptor::Table(bottom) = F::decode(alloc.entry(mid.raw(), 511), 1) else {
        panic!("no table at middle entry 511")
    };
    assert_eq!(
        alloc.entry(bottom.raw(), 511),
        F::leaf_descriptor(hpa((1 << 56) - KIB4), RW, 2)
    );
    assert_eq!(
        table.translate(&alloc, gpa(last + 8)),
        Some((hpa((1 << 56) - KIB4 + 8), RW))
    );
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [2, 1, 2]);
    // Unmapping one page inside the 1 GiB leaf splits it.
    let hole = 0x8000_0000 + 3 * MIB2 + 5 * KIB4;
    table.unmap(&mut alloc, gpa(hole), KIB4).unwrap();
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [1, 512, 513]);
    assert_eq!(table.translate(&alloc, gpa(hole)), None);
    assert_eq!(
        table.translate(&alloc, gpa(hole + KIB4)),
        Some((hpa(hole + KIB4), RWX))
    );
    table.unmap(&mut alloc, gpa(0), 1 << 41).unwrap();
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [0, 0, 0]);
    assert_eq!(alloc.live(), 4);
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}

#[test]
fn table_refuses_addresses_beyond_sv39x4() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<F>::new(&mut alloc).unwrap();
    let cases = [
        (1 << 41, 0, KIB4),
        ((1 << 41) - KIB4, 0, 2 * KIB4),
        (0, (1 << 56) - KIB4, 2 * KIB4),
    ];
    for (g, h, size) in cases {
        assert_eq!(
            table.map(&mut alloc, gpa(g), hpa(h), size, RW),
            Err(Stage2Error::OutOfRange),
            "{g:#x} {h:#x}"
        );
    }
    assert_eq!(table.translate(&alloc, gpa(1 << 41)), None);
    assert_eq!(table.translate(&alloc, gpa(u64::MAX)), None);
    assert_eq!(alloc.live(), 4);
    table.destroy(&mut alloc);
}

#[test]
fn table_device_and_narrowed_mappings() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<F>::new(&mut alloc).unwrap();
    // A UART page: DEVICE is not kept.
    table
        .map(
            &mut alloc,
            gpa(0x1000_0000),
            hpa(0x1000_0000),
            KIB4,
            RW | MappingFlags::DEVICE,
        )
        .unwrap();
    assert_eq!(
        table.translate(&alloc, gpa(0x1000_0010)),
        Some((hpa(0x1000_0010), RW))
    );
    // Write-only: mapped, but with no access.
    table
        .map(
            &mut alloc,
            gpa(0x2000_0000),
            hpa(0x9000_0000),
            KIB4,
            MappingFlags::WRITE,
        )
        .unwrap();
    assert_eq!(
        table.translate(&alloc, gpa(0x2000_0000)),
        Some((hpa(0x9000_0000), MappingFlags::NONE))
    );
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}

#[test]
fn table_no_access_block_stays_a_mapping() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<F>::new(&mut alloc).unwrap();
    table
        .map(&mut alloc, gpa(0), hpa(2 * GIB1), GIB1, MappingFlags::NONE)
        .unwrap();
    let raw = alloc.entry(table.root().raw(), 0);
    assert_eq!(raw & V, 0, "never a pointer to the mapped memory");
    assert_eq!(
        table.translate(&alloc, gpa(0x1234)),
        Some((hpa(2 * GIB1 + 0x1234), MappingFlags::NONE))
    );
    assert_eq!(
        table.map(&mut alloc, gpa(MIB2), hpa(0), KIB4, RW),
        Err(Stage2Error::AlreadyMapped { gpa: gpa(MIB2) })
    );
    // Splitting keeps the no-access entries no-access.
    table.unmap(&mut alloc, gpa(0), KIB4).unwrap();
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [0, 511, 511]);
    assert_eq!(
        table.translate(&alloc, gpa(KIB4)),
        Some((hpa(2 * GIB1 + KIB4), MappingFlags::NONE))
    );
    table.unmap(&mut alloc, gpa(0), GIB1).unwrap();
    assert_eq!(alloc.live(), 4);
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}
