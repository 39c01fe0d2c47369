//! Tests of the AMD nested page-table format: entry bits, decoding, N_CR3, and the
//! generic walker running on it.

use tessera_addr::{GuestPhysAddr, HostPhysAddr};

use crate::fake::{FakeAllocator, leaves_by_depth};
use crate::format::Geometry;
use crate::{Descriptor, MappingFlags, PageTableFormat, Stage2Error, Stage2Table, X86Npt};

// Entry bits, written out again from the manual so that the tests do not depend on
// the constants of the code under test.
const P: u64 = 1 << 0;
const RW_BIT: u64 = 1 << 1;
const US: u64 = 1 << 2;
const PWT: u64 = 1 << 3;
const PCD: u64 = 1 << 4;
const A: u64 = 1 << 5;
const D: u64 = 1 << 6;
const PS: u64 = 1 << 7;
const G: u64 = 1 << 8;
const AVL9: u64 = 1 << 9;
const NX: u64 = 1 << 63;

const RW: MappingFlags = MappingFlags::READ.union(MappingFlags::WRITE);
const RWX: MappingFlags = RW.union(MappingFlags::EXECUTE);
const KIB4: u64 = 0x1000;
const MIB2: u64 = 0x20_0000;
const GIB1: u64 = 0x4000_0000;

type F = X86Npt;

fn gpa(raw: u64) -> GuestPhysAddr {
    GuestPhysAddr::new(raw)
}

fn hpa(raw: u64) -> HostPhysAddr {
    HostPhysAddr::new(raw)
}

/// The rights nested paging can give for `flags`: nothing at all without READ.
fn expressible(flags: MappingFlags) -> MappingFlags {
    if flags.contains(MappingFlags::READ) {
        flags
    } else {
        MappingFlags::NONE
    }
}

#[test]
fn geometry() {
    assert_eq!((F::LEVELS, F::ROOT_FRAMES), (4, 1));
    assert_eq!((F::INPUT_BITS, F::OUTPUT_BITS), (48, 52));
    for depth in 0..4 {
        assert_eq!(F::index_bits(depth), 9);
    }
    assert!(!F::block_allowed(0) && F::block_allowed(1) && F::block_allowed(2));
    assert!(Geometry::<F>::is_consistent());
    assert_eq!(Geometry::<F>::entries(0), 512);
    assert_eq!(
        (
            Geometry::<F>::span(0),
            Geometry::<F>::span(1),
            Geometry::<F>::span(2),
            Geometry::<F>::span(3)
        ),
        (512 * GIB1, GIB1, MIB2, KIB4)
    );
    let last = (1 << 48) - KIB4;
    for depth in 0..4 {
        assert_eq!(Geometry::<F>::index(last, depth), 511);
    }
}

#[test]
fn leaf_bits_at_every_level() {
    // 1 GiB RWX: PS | D | A | U/S | R/W | P.
    let raw = F::leaf_descriptor(hpa(0x8000_0000), RWX, 1);
    assert_eq!(raw, 0x8000_00e7);
    // 2 MiB read-only: NX | PS | D | A | U/S | P.
    let raw = F::leaf_descriptor(hpa(0x4020_0000), MappingFlags::READ, 2);
    assert_eq!(raw, 0x8000_0000_4020_00e5);
    // 4 KiB read-write: NX | D | A | U/S | R/W | P, no PS (bit 7 is PAT here).
    let raw = F::leaf_descriptor(hpa(0x8020_1000), RW, 3);
    assert_eq!(raw, 0x8000_0000_8020_1067);
    // 4 KiB device read-write: PCD | PWT on top.
    let raw = F::leaf_descriptor(hpa(0xfec0_0000), RW | MappingFlags::DEVICE, 3);
    assert_eq!(raw, 0x8000_0000_fec0_007f);
    // The highest host page: every address bit (51:12) set.
    let raw = F::leaf_descriptor(hpa((1 << 52) - KIB4), RWX, 3);
    assert_eq!(raw, 0x000f_ffff_ffff_f067);
}

#[test]
fn every_present_leaf_sets_p_us_a_d() {
    for bits in 0..16 {
        let flags = MappingFlags::from_bits_truncate(bits);
        if !flags.contains(MappingFlags::READ) {
            continue;
        }
        for depth in 1..4 {
            let raw = F::leaf_descriptor(hpa(0), flags, depth);
            assert_eq!(
                raw & (P | US | A | D),
                P | US | A | D,
                "{flags:?} at {depth}"
            );
            assert_eq!(raw & PS != 0, depth < 3, "PS on large pages only");
            assert_eq!(raw & G, 0);
            assert_eq!(raw & RW_BIT != 0, flags.contains(MappingFlags::WRITE));
            assert_eq!(raw & NX == 0, flags.contains(MappingFlags::EXECUTE));
            let uncached = flags.contains(MappingFlags::DEVICE);
            assert_eq!(raw & (PCD | PWT), if uncached { PCD | PWT } else { 0 });
        }
    }
}

#[test]
fn table_descriptors() {
    let raw = F::table_descriptor(hpa(0x1234_5000), 0);
    assert_eq!(raw, 0x1234_5000 | US | RW_BIT | P);
    for depth in 0..3 {
        assert_eq!(
            F::decode(F::table_descriptor(hpa(0x8765_4000), depth), depth),
            Descriptor::Table(hpa(0x8765_4000))
        );
    }
    // The processor sets A on tables it walks; NX and the AVL bits are allowed.
    for extra in [A, NX, AVL9, 0x7ff << 52] {
        assert_eq!(
            F::decode(raw | extra, 1),
            Descriptor::Table(hpa(0x1234_5000))
        );
    }
    // The highest table address.
    let top = F::table_descriptor(hpa((1 << 52) - KIB4), 2);
    assert_eq!(F::decode(top, 2), Descriptor::Table(hpa((1 << 52) - KIB4)));
}

#[test]
fn decode_round_trips_every_flag_combination_at_every_level() {
    for bits in 0..16 {
        let flags = MappingFlags::from_bits_truncate(bits);
        for (depth, addr) in [(1, 0x1_c000_0000u64), (2, 0x20_0000), (3, 0xfff_f000)] {
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
fn rights_without_read_are_no_access() {
    // Write-only, execute-only, write + execute, none: P clear with the software marker.
    let cases = [
        MappingFlags::NONE,
        MappingFlags::WRITE,
        MappingFlags::EXECUTE,
        MappingFlags::WRITE | MappingFlags::EXECUTE,
        MappingFlags::DEVICE | MappingFlags::WRITE,
    ];
    for flags in cases {
        for (depth, addr) in [(1, GIB1), (2, MIB2), (3, KIB4)] {
            let raw = F::leaf_descriptor(hpa(addr), flags, depth);
            assert_eq!(raw, addr | AVL9, "{flags:?} at {depth}");
            assert_eq!(raw & P, 0);
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
fn device_is_pcd() {
    let page = F::leaf_descriptor(hpa(0x5000), RW, 3);
    let leaf = |flags| Descriptor::Leaf {
        hpa: hpa(0x5000),
        flags,
    };
    // PCD alone (UC- under the reset PAT) is uncached too; PWT alone (WT) is not.
    assert_eq!(F::decode(page | PCD, 3), leaf(RW | MappingFlags::DEVICE));
    assert_eq!(
        F::decode(page | PCD | PWT, 3),
        leaf(RW | MappingFlags::DEVICE)
    );
    assert_eq!(F::decode(page | PWT, 3), leaf(RW));
}

#[test]
fn decode_rejects_what_the_hardware_faults_on() {
    for depth in 0..5 {
        assert_eq!(F::decode(0, depth), Descriptor::Invalid);
    }
    let page = F::leaf_descriptor(hpa(0x4000_0000), RW, 3);
    // P clear without the software marker, whatever else is set.
    assert_eq!(F::decode(page & !P, 3), Descriptor::Invalid);
    // PS and bit 8 are must-be-zero in a PML4E: no leaves, no pointer either.
    let pml4e = F::table_descriptor(hpa(0x9000), 0);
    assert_eq!(F::decode(pml4e | PS, 0), Descriptor::Invalid);
    assert_eq!(F::decode(pml4e | G, 0), Descriptor::Invalid);
    // A no-access marker at the root is no leaf either.
    assert_eq!(F::decode(GIB1 | AVL9, 0), Descriptor::Invalid);
    // Large pages with address bits below their size: bits 29:13 and 20:13 are MBZ.
    let misaligned_gib = F::leaf_descriptor(hpa(0x4020_0000), RW, 1);
    assert_eq!(F::decode(misaligned_gib, 1), Descriptor::Invalid);
    let misaligned_mib = F::leaf_descriptor(hpa(0x4020_2000), RW, 2);
    assert_eq!(F::decode(misaligned_mib, 2), Descriptor::Invalid);
    // The same misalignment in a no-access marker.
    assert_eq!(F::decode(0x4020_0000 | AVL9, 1), Descriptor::Invalid);
    assert_eq!(F::decode(0x4020_1000 | AVL9, 2), Descriptor::Invalid);
    // No fifth level.
    assert_eq!(F::decode(page, 4), Descriptor::Invalid);
}

#[test]
fn decode_reports_what_the_hardware_allows() {
    let page = F::leaf_descriptor(hpa(0x5000), RWX, 3);
    let leaf = |addr, flags| Descriptor::Leaf {
        hpa: hpa(addr),
        flags,
    };
    // Without U/S every guest access faults (nested walks are user accesses).
    assert_eq!(F::decode(page & !US, 3), leaf(0x5000, MappingFlags::NONE));
    // A and D clear still map (the processor sets them).
    assert_eq!(F::decode(page & !(A | D), 3), leaf(0x5000, RWX));
    // G, the AVL bits 11:9 and 62:52 are ignored in a present leaf.
    assert_eq!(
        F::decode(page | G | (0b111 << 9) | (0x7ff << 52), 3),
        leaf(0x5000, RWX)
    );
    // Bit 7 of a PTE is its PAT bit: still a 4 KiB page.
    assert_eq!(F::decode(page | PS, 3), leaf(0x5000, RWX));
    // Bit 12 of a large page is its PAT bit, not an address bit.
    let gib = F::leaf_descriptor(hpa(0xc000_0000), RW, 1);
    assert_eq!(F::decode(gib | (1 << 12), 1), leaf(0xc000_0000, RW));
    let mib = F::leaf_descriptor(hpa(0x60_0000), MappingFlags::READ, 2);
    assert_eq!(
        F::decode(mib | (1 << 12), 2),
        leaf(0x60_0000, MappingFlags::READ)
    );
}

#[test]
fn ncr3_is_the_root_address() {
    assert_eq!(X86Npt::ncr3(hpa(0x1234_5000)), 0x1234_5000);
    assert_eq!(X86Npt::ncr3(hpa((1 << 52) - KIB4)), 0x000f_ffff_ffff_f000);
    // PWT, PCD and bits above 51 are never set.
    assert_eq!(X86Npt::ncr3(hpa(u64::MAX)), 0x000f_ffff_ffff_f000);
}

#[test]
fn table_maps_translates_and_unmaps() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<F>::new(&mut alloc).unwrap();
    assert_eq!(alloc.live(), 1);
    assert_eq!(table.root().raw() % KIB4, 0);
    // RAM at 4 GiB: one 1 GiB page, one 2 MiB page, one 4 KiB page.
    let base = 4 * GIB1;
    let size = GIB1 + MIB2 + KIB4;
    table
        .map(&mut alloc, gpa(base), hpa(base), size, RWX)
        .unwrap();
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [0, 1, 1, 1]);
    let Descriptor::Table(pdpt) = F::decode(alloc.entry(table.root().raw(), 0), 0) else {
        panic!("no table at PML4 entry 0")
    };
    assert_eq!(
        alloc.entry(table.root().raw(), 0),
        pdpt.raw() | US | RW_BIT | P
    );
    assert_eq!(
        alloc.entry(pdpt.raw(), 4),
        base | PS | D | A | US | RW_BIT | P
    );
    for probe in [0, 0x123, GIB1 - 1, GIB1, GIB1 + MIB2 + 0xfff] {
        assert_eq!(
            table.translate(&alloc, gpa(base + probe)),
            Some((hpa(base + probe), RWX)),
            "{probe:#x}"
        );
    }
    assert_eq!(table.translate(&alloc, gpa(base + size)), None);
    assert_eq!(table.translate(&alloc, gpa(base - 1)), None);
    // The last page of the 48-bit space, onto the last page of the 52-bit one.
    let last = (1 << 48) - KIB4;
    let top = (1 << 52) - KIB4;
    table
        .map(&mut alloc, gpa(last), hpa(top), KIB4, RW)
        .unwrap();
    let mut next = table.root();
    for depth in 0..3 {
        let Descriptor::Table(t) = F::decode(alloc.entry(next.raw(), 511), depth) else {
            panic!("no table at entry 511 of depth {depth}")
        };
        next = t;
    }
    assert_eq!(
        alloc.entry(next.raw(), 511),
        F::leaf_descriptor(hpa(top), RW, 3)
    );
    assert_eq!(
        table.translate(&alloc, gpa(last + 8)),
        Some((hpa(top + 8), RW))
    );
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [0, 1, 1, 2]);
    // Unmapping one page inside the 1 GiB page splits it twice.
    let hole = base + 3 * MIB2 + 5 * KIB4;
    table.unmap(&mut alloc, gpa(hole), KIB4).unwrap();
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [0, 0, 512, 513]);
    assert_eq!(table.translate(&alloc, gpa(hole)), None);
    assert_eq!(
        table.translate(&alloc, gpa(hole + KIB4)),
        Some((hpa(hole + KIB4), RWX))
    );
    table.unmap(&mut alloc, gpa(0), 1 << 48).unwrap();
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [0, 0, 0, 0]);
    assert_eq!(alloc.live(), 1);
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}

#[test]
fn table_refuses_addresses_beyond_the_format() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<F>::new(&mut alloc).unwrap();
    let cases = [
        (1 << 48, 0, KIB4),
        ((1 << 48) - KIB4, 0, 2 * KIB4),
        (0, (1 << 52) - KIB4, 2 * KIB4),
    ];
    for (g, h, size) in cases {
        assert_eq!(
            table.map(&mut alloc, gpa(g), hpa(h), size, RW),
            Err(Stage2Error::OutOfRange),
            "{g:#x} {h:#x}"
        );
    }
    assert_eq!(table.translate(&alloc, gpa(1 << 48)), None);
    assert_eq!(table.translate(&alloc, gpa(u64::MAX)), None);
    assert_eq!(alloc.live(), 1);
    table.destroy(&mut alloc);
}

#[test]
fn table_device_and_narrowed_mappings() {
    let mut alloc = FakeAllocator::new();
    let mut table = Stage2Table::<F>::new(&mut alloc).unwrap();
    // An IOAPIC page: uncached, kept.
    let device = RW | MappingFlags::DEVICE;
    table
        .map(&mut alloc, gpa(0xfec0_0000), hpa(0xfec0_0000), KIB4, device)
        .unwrap();
    assert_eq!(
        table.translate(&alloc, gpa(0xfec0_0010)),
        Some((hpa(0xfec0_0010), device))
    );
    // Write-only and execute-only: mapped, but with no access.
    for (g, flags) in [
        (0x2000_0000, MappingFlags::WRITE),
        (0x2000_1000, MappingFlags::EXECUTE),
    ] {
        table
            .map(&mut alloc, gpa(g), hpa(0x9000_0000), KIB4, flags)
            .unwrap();
        assert_eq!(
            table.translate(&alloc, gpa(g)),
            Some((hpa(0x9000_0000), MappingFlags::NONE))
        );
        assert_eq!(
            table.map(&mut alloc, gpa(g), hpa(0), KIB4, RW),
            Err(Stage2Error::AlreadyMapped { gpa: gpa(g) })
        );
    }
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
    let Descriptor::Table(pdpt) = F::decode(alloc.entry(table.root().raw(), 0), 0) else {
        panic!("no table at PML4 entry 0")
    };
    assert_eq!(alloc.entry(pdpt.raw(), 0) & P, 0, "never present");
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
    assert_eq!(leaves_by_depth::<F>(&alloc, table.root()), [0, 0, 511, 511]);
    assert_eq!(
        table.translate(&alloc, gpa(KIB4)),
        Some((hpa(2 * GIB1 + KIB4), MappingFlags::NONE))
    );
    table.unmap(&mut alloc, gpa(0), GIB1).unwrap();
    assert_eq!(alloc.live(), 1);
    table.destroy(&mut alloc);
    assert_eq!(alloc.live(), 0);
}
