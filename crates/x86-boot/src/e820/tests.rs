//! Tests of the e820 map.

use super::*;

const RAM: u32 = E820Entry::RAM;
const RESERVED: u32 = E820Entry::RESERVED;

#[test]
fn entry_types_and_layout() {
    assert_eq!((RAM, RESERVED), (1, 2));
    let entry = E820Entry::new(0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00, 0x0102_0304);
    let bytes = entry.to_bytes();
    assert_eq!(bytes.len(), 20);
    assert_eq!(&bytes[..8], &0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(&bytes[8..16], &0x99aa_bbcc_ddee_ff00u64.to_le_bytes());
    assert_eq!(&bytes[16..], &[4, 3, 2, 1]);
    assert_eq!(E820Entry::new(0x1000, 0x1000, RAM).end(), Some(0x2000));
    assert_eq!(E820Entry::new(u64::MAX, 1, RAM).end(), None);
}

#[test]
fn sorted_by_address() {
    let ram = [
        (0x10_0000, 0x7ff0_0000),
        (0, 0x9_fc00),
        (0x1_0000_0000, 0x4000_0000),
    ];
    let reserved = [
        (0xfec0_0000, 0x1000),
        (0x9_fc00, 0x400),
        (0xf_0000, 0x1_0000),
    ];
    let map = e820_from_regions(&ram, &reserved).unwrap();
    let want = [
        E820Entry::new(0, 0x9_fc00, RAM),
        E820Entry::new(0x9_fc00, 0x400, RESERVED),
        E820Entry::new(0xf_0000, 0x1_0000, RESERVED),
        E820Entry::new(0x10_0000, 0x7ff0_0000, RAM),
        E820Entry::new(0xfec0_0000, 0x1000, RESERVED),
        E820Entry::new(0x1_0000_0000, 0x4000_0000, RAM),
    ];
    assert_eq!(map, want);
}

#[test]
fn touching_regions_stay_separate() {
    let map = e820_from_regions(&[(0, 0x1000), (0x1000, 0x1000)], &[(0x2000, 0x1000)]).unwrap();
    assert_eq!(map.len(), 3);
    assert!(e820_from_regions(&[], &[]).unwrap().is_empty());
}

#[test]
fn overlaps_are_refused() {
    // RAM with RAM.
    let err = e820_from_regions(&[(0, 0x2000), (0x1fff, 0x10)], &[]).unwrap_err();
    assert_eq!(
        err,
        E820Error::Overlap {
            first: E820Entry::new(0, 0x2000, RAM),
            second: E820Entry::new(0x1fff, 0x10, RAM),
        }
    );
    assert_eq!(err.to_string(), "RAM 0x0+0x2000 overlaps RAM 0x1fff+0x10");
    // RAM with a reserved hole inside it.
    let err = e820_from_regions(&[(0, 0x10_0000)], &[(0x9_fc00, 0x400)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RAM 0x0+0x100000 overlaps reserved 0x9fc00+0x400"
    );
    // The same start.
    let err = e820_from_regions(&[(0x1000, 0x1000)], &[(0x1000, 0x10)]).unwrap_err();
    assert!(matches!(err, E820Error::Overlap { .. }));
    // A region inside another that is not its neighbour in order.
    let err = e820_from_regions(&[(0, 0x10_0000), (0x1000, 0x10), (0x2000, 0x10)], &[]);
    assert!(err.is_err());
}

#[test]
fn empty_and_wrapping_regions_are_refused() {
    let err = e820_from_regions(&[(0x1000, 0)], &[]).unwrap_err();
    assert_eq!(
        err,
        E820Error::Empty {
            region: E820Entry::new(0x1000, 0, RAM)
        }
    );
    assert_eq!(err.to_string(), "RAM 0x1000+0x0 is empty");
    let err = e820_from_regions(&[], &[(u64::MAX - 0xfff, 0x1000)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reserved 0xfffffffffffff000+0x1000 runs past the end of the address space"
    );
    assert!(e820_from_regions(&[], &[(u64::MAX - 0xfff, 0xfff)]).is_ok());
}

#[test]
fn pc_map_reserves_the_legacy_hole() {
    let map = pc_memory_map(&[(0, 0x1000_0000)]).unwrap();
    assert_eq!(
        map,
        [
            E820Entry::new(0, 0xa_0000, E820Entry::RAM),
            E820Entry::new(0xa_0000, 0x6_0000, E820Entry::RESERVED),
            E820Entry::new(0x10_0000, 0xff0_0000, E820Entry::RAM),
        ]
    );
    // RAM that ends or starts inside the hole.
    let map = pc_memory_map(&[(0x8_0000, 0x4_0000), (0xf_0000, 0x2_0000)]).unwrap();
    assert_eq!(
        map,
        [
            E820Entry::new(0x8_0000, 0x2_0000, E820Entry::RAM),
            E820Entry::new(0xa_0000, 0x2_0000, E820Entry::RESERVED),
            E820Entry::new(0xf_0000, 0x1_0000, E820Entry::RESERVED),
            E820Entry::new(0x10_0000, 0x1_0000, E820Entry::RAM),
        ]
    );
    // RAM clear of the hole is left alone.
    let map = pc_memory_map(&[(0x20_0000, 0x10_0000)]).unwrap();
    assert_eq!(map, [E820Entry::new(0x20_0000, 0x10_0000, E820Entry::RAM)]);
    // Bad regions are still refused.
    assert!(matches!(
        pc_memory_map(&[(0x1000, 0)]),
        Err(E820Error::Empty { .. })
    ));
    assert!(matches!(
        pc_memory_map(&[(0, 0x20_0000), (0x10_0000, 0x1000)]),
        Err(E820Error::Overlap { .. })
    ));
}
