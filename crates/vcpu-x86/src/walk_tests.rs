use crate::walk::{PagingRegs, translate};
use std::collections::HashMap;

const LONG_MODE: PagingRegs = PagingRegs {
    cr0: (1 << 31) | 1,
    cr3: 0x1000,
    cr4: 1 << 5,
    efer: (1 << 8) | (1 << 10),
};

fn memory(entries: &[(u64, u64)]) -> HashMap<u64, u64> {
    entries.iter().copied().collect()
}

#[test]
fn paging_off_is_identity() {
    let regs = PagingRegs {
        cr0: 1,
        ..LONG_MODE
    };
    assert_eq!(translate(regs, 0x1234_5678, |_| None), Some(0x1234_5678));
}

#[test]
fn four_kib_pages() {
    // va 0x0040_2123: PML4[0] -> 0x2000, PDPT[0] -> 0x3000, PD[2] -> 0x4000, PT[2] -> 0x9000.
    let mem = memory(&[
        (0x1000, 0x2003),
        (0x2000, 0x3003),
        (0x3000 + 2 * 8, 0x4003),
        (0x4000 + 2 * 8, 0x9003),
    ]);
    let got = translate(LONG_MODE, 0x0040_2123, |gpa| mem.get(&gpa).copied());
    assert_eq!(got, Some(0x9123));
}

#[test]
fn large_pages() {
    // 2 MiB page at PD[1], 1 GiB page at PDPT[1].
    let mem = memory(&[
        (0x1000, 0x2003),
        (0x2000, 0x3003),
        (0x3000 + 8, 0x0060_0083),
        (0x2000 + 8, 0x8000_0083),
    ]);
    let read = |gpa: u64| mem.get(&gpa).copied();
    assert_eq!(translate(LONG_MODE, 0x0020_1234, read), Some(0x0060_1234));
    assert_eq!(translate(LONG_MODE, 0x4123_4567, read), Some(0x8123_4567));
}

#[test]
fn not_present_and_unreadable() {
    let mem = memory(&[(0x1000, 0x2002)]);
    assert_eq!(translate(LONG_MODE, 0, |gpa| mem.get(&gpa).copied()), None);
    assert_eq!(translate(LONG_MODE, 0, |_| None), None);
}

#[test]
fn unhandled_modes() {
    let legacy = PagingRegs {
        efer: 0,
        ..LONG_MODE
    };
    assert_eq!(translate(legacy, 0, |_| Some(0x3)), None);
    let five_level = PagingRegs {
        cr4: (1 << 5) | (1 << 12),
        ..LONG_MODE
    };
    assert_eq!(translate(five_level, 0, |_| Some(0x3)), None);
}

#[test]
fn huge_bit_in_a_pml4_entry_is_not_a_leaf() {
    // PS in a PML4 entry is reserved: the walker goes on as if it were a table.
    let mem = memory(&[
        (0x1000, 0x2083),
        (0x2000, 0x3003),
        (0x3000, 0x4003),
        (0x4000, 0x5003),
    ]);
    assert_eq!(
        translate(LONG_MODE, 0x10, |gpa| mem.get(&gpa).copied()),
        Some(0x5010)
    );
}
