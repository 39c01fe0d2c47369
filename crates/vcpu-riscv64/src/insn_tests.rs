//! Tests of load/store decoding against hand-assembled encodings.

use tessera_vcpu::AccessWidth;

use crate::insn::{MemAccess, decode, decode_transformed};

fn load(width: u8, sign_extend: bool, reg: u8, len: u8) -> Option<MemAccess> {
    Some(MemAccess {
        write: false,
        width,
        sign_extend,
        reg,
        len,
    })
}

fn store(width: u8, reg: u8, len: u8) -> Option<MemAccess> {
    Some(MemAccess {
        write: true,
        width,
        sign_extend: false,
        reg,
        len,
    })
}

/// A small xorshift generator: reproducible pseudo-random values.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn loads() {
    let cases = [
        (0x0005_8503, load(1, true, 10, 4)),  // lb   a0, 0(a1)
        (0xffe4_1283, load(2, true, 5, 4)),   // lh   t0, -2(s0)
        (0x0101_2783, load(4, true, 15, 4)),  // lw   a5, 16(sp)
        (0x0089_3083, load(8, false, 1, 4)),  // ld   ra, 8(s2)
        (0x0035_4483, load(1, false, 9, 4)),  // lbu  s1, 3(a0)
        (0x000f_df83, load(2, false, 31, 4)), // lhu  t6, 0(t6)
        (0x7ff0_ef83, load(4, false, 31, 4)), // lwu  t6, 2047(ra)
        (0x0005_3003, load(8, false, 0, 4)),  // ld   zero, 0(a0)
    ];
    for (raw, want) in cases {
        assert_eq!(decode(raw), want, "{raw:#010x}");
    }
}

#[test]
fn stores() {
    let cases = [
        (0x0005_0023, store(1, 0, 4)),  // sb   zero, 0(a0)
        (0x00b6_1123, store(2, 11, 4)), // sh   a1, 2(a2)
        (0xfe54_ae23, store(4, 5, 4)),  // sw   t0, -4(s1)
        (0xfe19_3c23, store(8, 1, 4)),  // sd   ra, -8(s2)
        (0x00a5_a023, store(4, 10, 4)), // sw   a0, 0(a1)
    ];
    for (raw, want) in cases {
        assert_eq!(decode(raw), want, "{raw:#010x}");
    }
}

#[test]
fn compressed() {
    let cases = [
        (0x41c8, load(4, true, 10, 2)),  // c.lw   a0, 4(a1)
        (0x6784, load(8, false, 9, 2)),  // c.ld   s1, 8(a5)
        (0xc010, store(4, 12, 2)),       // c.sw   a2, 0(s0)
        (0xfef8, store(8, 14, 2)),       // c.sd   a4, 248(a3)
        (0x40b2, load(4, true, 1, 2)),   // c.lwsp ra, 12(sp)
        (0x47c2, load(4, true, 15, 2)),  // c.lwsp a5, 16(sp)
        (0x7ffe, load(8, false, 31, 2)), // c.ldsp t6, 504(sp)
        (0xc002, store(4, 0, 2)),        // c.swsp zero, 0(sp)
        (0xe06e, store(8, 27, 2)),       // c.sdsp s11, 0(sp)
    ];
    for (raw, want) in cases {
        assert_eq!(decode(raw), want, "{raw:#06x}");
        // The halfword after a compressed instruction belongs to the next one.
        assert_eq!(decode(0xffff_0000 | raw), want, "{raw:#06x}");
    }
}

#[test]
fn other_instructions_are_refused() {
    let cases: [u32; 22] = [
        0x0005_2507, // flw      fa0, 0(a0)
        0x0085_3507, // fld      fa0, 8(a0)
        0x00a5_2027, // fsw      fa0, 0(a0)
        0x00b1_3427, // fsd      fa1, 8(sp)
        0x2588,      // c.fld    fa0, 8(a1)
        0xa588,      // c.fsd    fa0, 8(a1)
        0x2522,      // c.fldsp  fa0, 8(sp)
        0xa42a,      // c.fsdsp  fa0, 8(sp)
        0x00b6_252f, // amoadd.w a0, a1, (a2)
        0x1005_b52f, // lr.d     a0, (a1)
        0x18b6_252f, // sc.w     a0, a1, (a2)
        0x0015_0513, // addi     a0, a0, 1
        0x0505,      // c.addi   a0, 1
        0x4505,      // c.li     a0, 1
        0x0000_0073, // ecall
        0x1050_0073, // wfi
        0x6805_c573, // hlv.w    a0, (a1)
        0x8188,      // c.lbu    a0, 0(a1) (Zcb, not decoded)
        0x4002,      // c.lwsp   zero, 0(sp): reserved
        0x6002,      // c.ldsp   zero, 0(sp): reserved
        0x0000,      // the defined illegal instruction
        0xffff_ffff,
    ];
    for raw in cases {
        assert_eq!(decode(raw), None, "{raw:#010x}");
    }
    // LOAD with funct3 = 7 and STORE with funct3 = 4..=7 are reserved.
    assert_eq!(decode(0x0000_7503), None);
    for funct3 in 4..8 {
        assert_eq!(decode(0x00a5_0023 | funct3 << 12), None);
    }
}

#[test]
fn transformed_instructions() {
    let cases = [
        // lw a0, 8(a1): immediate cleared, address offset 0.
        (0x0000_2503, load(4, true, 10, 4)),
        // c.lw a0, 4(a1): expanded to lw a0, then bit 1 cleared.
        (0x0000_2501, load(4, true, 10, 2)),
        // ld a0 with address offset 3 in the rs1 field (a misaligned access).
        (0x0001_b503, load(8, false, 10, 4)),
        // lbu a0.
        (0x0000_4503, load(1, false, 10, 4)),
        // c.lwsp ra, 12(sp): lw ra, compressed.
        (0x0000_2081, load(4, true, 1, 2)),
        // sw a0, 0(a1).
        (0x00a0_2023, store(4, 10, 4)),
        // c.sw a2, 0(s0): sw a2, compressed.
        (0x00c0_2021, store(4, 12, 2)),
        // sd ra, -8(s2).
        (0x0010_3023, store(8, 1, 4)),
        // c.sdsp s11, 0(sp): sd s11, compressed.
        (0x01b0_3021, store(8, 27, 2)),
    ];
    for (htinst, want) in cases {
        assert_eq!(decode_transformed(htinst), want, "{htinst:#x}");
    }
}

#[test]
fn transformed_values_without_an_access() {
    let cases: [u64; 11] = [
        0,           // no information
        0x0000_2000, // pseudoinstruction: 32-bit VS-stage page-table read
        0x0000_2020, // pseudoinstruction: 32-bit VS-stage page-table write
        0x0000_3000, // pseudoinstruction: 64-bit VS-stage page-table read
        0x0000_3020, // pseudoinstruction: 64-bit VS-stage page-table write
        0x0000_2507, // transformed flw fa0
        0x00b0_252f, // transformed amoadd.w a0, a1
        0x0085_a503, // lw a0, 8(a1) untransformed: the immediate must be zero
        0xfe54_ae23, // sw t0, -4(s1) untransformed
        1 << 32 | 0x2503,
        u64::MAX,
    ];
    for htinst in cases {
        assert_eq!(decode_transformed(htinst), None, "{htinst:#x}");
    }
    assert_eq!(decode_transformed(0x0000_7503), None, "LOAD funct3 7");
    assert_eq!(decode_transformed(0x00a0_4023), None, "STORE funct3 4");
}

#[test]
fn transformed_forms_agree_with_the_instructions() {
    // Every integer load and store, every register, with the fields the
    // transformation clears cleared and bit 1 showing the length.
    for funct3 in 0..8u32 {
        for reg in 0..32u32 {
            let load = 0x03 | reg << 7 | funct3 << 12;
            let store = 0x23 | reg << 20 | funct3 << 12;
            for raw in [load, store] {
                let plain = decode(raw);
                assert_eq!(decode_transformed(u64::from(raw)), plain);
                let short = decode_transformed(u64::from(raw & !0b10));
                assert_eq!(short, plain.map(|a| MemAccess { len: 2, ..a }));
            }
        }
    }
}

#[test]
fn access_widths() {
    let widths = [
        (1, AccessWidth::Byte),
        (2, AccessWidth::Half),
        (4, AccessWidth::Word),
        (8, AccessWidth::Double),
    ];
    for (width, want) in widths {
        let access = MemAccess {
            write: false,
            width,
            sign_extend: false,
            reg: 1,
            len: 4,
        };
        assert_eq!(access.access_width(), Some(want));
    }
    let odd = MemAccess {
        write: true,
        width: 3,
        sign_extend: false,
        reg: 1,
        len: 4,
    };
    assert_eq!(odd.access_width(), None);
}

/// Checks the fields of a decoded access are in range.
fn check(access: MemAccess, compressed: bool) {
    assert!(matches!(access.width, 1 | 2 | 4 | 8));
    assert!(access.reg < 32);
    assert_eq!(access.len, if compressed { 2 } else { 4 });
    assert!(!(access.write && access.sign_extend));
    assert!(!(access.sign_extend && access.width == 8));
}

/// Checks an access decoded from an instruction in memory: RVC without Zcb has no
/// compressed byte or halfword accesses.
fn check_decoded(access: MemAccess, compressed: bool) {
    check(access, compressed);
    if compressed {
        assert!(access.width >= 4);
    }
}

#[test]
fn every_halfword() {
    let mut decoded = 0;
    for raw in 0..=u16::MAX {
        let compressed = raw & 0b11 != 0b11;
        if let Some(access) = decode(u32::from(raw)) {
            check_decoded(access, compressed);
            decoded += 1;
        }
        if let Some(access) = decode_transformed(u64::from(raw)) {
            check(access, raw & 0b10 == 0);
        }
    }
    // 8 compressed encodings (op and funct3 fixed: 2^11 values each), less the
    // 2 * 2^6 reserved C.LWSP / C.LDSP with rd = x0; and the 32-bit loads and stores
    // below 0x1_0000 (LOAD funct3 0..=6, STORE funct3 0..=3: bits 11:7 and 15 free).
    assert_eq!(decoded, 8 * (1 << 11) - 2 * (1 << 6) + (7 + 4) * (1 << 6));
}

#[test]
fn random_words_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut decoded = 0u32;
    for _ in 0..4_000_000 {
        let value = xorshift(&mut state);
        let raw = value as u32;
        if let Some(access) = decode(raw) {
            check_decoded(access, raw & 0b11 != 0b11);
            decoded += 1;
        }
        // Half of the htinst values with the upper half clear, as hardware writes them.
        let htinst = if value >> 63 == 0 {
            value & 0xffff_ffff
        } else {
            value
        };
        if let Some(access) = decode_transformed(htinst) {
            check(access, htinst & 0b10 == 0);
        }
    }
    assert!(decoded > 0);
}
