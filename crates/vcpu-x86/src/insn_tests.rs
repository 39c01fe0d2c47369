//! Tests of MMIO instruction decoding against hand-assembled encodings.

use tessera_vcpu::AccessWidth;

use crate::insn::{Extend, MAX_LEN, MmioInsn, Operand, decode};

const RAX: u8 = 0;
const RCX: u8 = 1;
const RBX: u8 = 3;
const RSP: u8 = 4;
const RDI: u8 = 7;
const R9: u8 = 9;
const R10: u8 = 10;
const R15: u8 = 15;

fn reg(reg: u8) -> Operand {
    Operand::Register {
        reg,
        high_byte: false,
    }
}

fn high(reg: u8) -> Operand {
    Operand::Register {
        reg,
        high_byte: true,
    }
}

fn load(width: u8, kind: Operand, len: u8) -> Option<MmioInsn> {
    Some(MmioInsn {
        write: false,
        width,
        kind,
        extend: Extend::None,
        reg_width: width,
        len,
    })
}

fn store(width: u8, kind: Operand, len: u8) -> Option<MmioInsn> {
    Some(MmioInsn {
        write: true,
        width,
        kind,
        extend: Extend::None,
        reg_width: width,
        len,
    })
}

fn extend(width: u8, extend: Extend, dest: u8, reg_width: u8, len: u8) -> Option<MmioInsn> {
    Some(MmioInsn {
        write: false,
        width,
        kind: reg(dest),
        extend,
        reg_width,
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

fn check(cases: &[(&[u8], Option<MmioInsn>)]) {
    for (bytes, want) in cases {
        assert_eq!(decode(bytes), *want, "{bytes:02x?}");
    }
}

#[test]
fn register_stores() {
    check(&[
        (&[0x89, 0x18], store(4, reg(RBX), 2)),       // mov [rax], ebx
        (&[0x48, 0x89, 0x18], store(8, reg(RBX), 3)), // mov [rax], rbx
        (&[0x66, 0x89, 0x18], store(2, reg(RBX), 3)), // mov [rax], bx
        (&[0x88, 0x18], store(1, reg(RBX), 2)),       // mov [rax], bl
        (&[0x88, 0x3f], store(1, high(RBX), 2)),      // mov [rdi], bh
        (&[0x40, 0x88, 0x3f], store(1, reg(RDI), 3)), // mov [rdi], dil
        (&[0x4c, 0x89, 0x38], store(8, reg(R15), 3)), // mov [rax], r15
        (&[0x89, 0x4c, 0x24, 0x08], store(4, reg(RCX), 4)), // mov [rsp+8], ecx
        (&[0x41, 0x89, 0x45, 0x00], store(4, reg(RAX), 4)), // mov [r13+0], eax
        // mov [rbx+0x12345678], esp
        (&[0x89, 0xa3, 0x78, 0x56, 0x34, 0x12], store(4, reg(RSP), 6)),
    ]);
}

#[test]
fn register_loads() {
    check(&[
        (&[0x8b, 0x03], load(4, reg(RAX), 2)),       // mov eax, [rbx]
        (&[0x48, 0x8b, 0x03], load(8, reg(RAX), 3)), // mov rax, [rbx]
        (&[0x45, 0x8b, 0x08], load(4, reg(R9), 3)),  // mov r9d, [r8]
        (&[0x66, 0x8b, 0x03], load(2, reg(RAX), 3)), // mov ax, [rbx]
        (&[0x8a, 0x23], load(1, high(RAX), 2)),      // mov ah, [rbx]
        (&[0x8a, 0x3b], load(1, high(RBX), 2)),      // mov bh, [rbx]
        (&[0x40, 0x8a, 0x23], load(1, reg(RSP), 3)), // mov spl, [rbx]
        (&[0x8a, 0x03], load(1, reg(RAX), 2)),       // mov al, [rbx]
        (&[0x44, 0x8a, 0x13], load(1, reg(R10), 3)), // mov r10b, [rbx]
        // mov eax, [rip+0x1234]
        (&[0x8b, 0x05, 0x34, 0x12, 0x00, 0x00], load(4, reg(RAX), 6)),
        // mov eax, [rip+0]: REX.B does not turn mod 0, rm 5 into [r13].
        (&[0x41, 0x8b, 0x05, 0, 0, 0, 0], load(4, reg(RAX), 7)),
        // mov eax, [rcx*4+0x1000]: SIB with no base, disp32.
        (
            &[0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00],
            load(4, reg(RAX), 7),
        ),
        // mov eax, [rax+rcx*8]: SIB, no displacement.
        (&[0x8b, 0x04, 0xc8], load(4, reg(RAX), 3)),
        // mov rcx, [rbp-8]: disp8.
        (&[0x48, 0x8b, 0x4d, 0xf8], load(8, reg(RCX), 4)),
        // mov ecx, [rsp+rax*2+0x100]: SIB and disp32.
        (
            &[0x8b, 0x8c, 0x44, 0x00, 0x01, 0x00, 0x00],
            load(4, reg(RCX), 7),
        ),
    ]);
}

#[test]
fn immediate_stores() {
    check(&[
        // mov byte [rdi+8], 0x41
        (
            &[0xc6, 0x47, 0x08, 0x41],
            store(1, Operand::Immediate(0x41), 4),
        ),
        // mov dword [rbx], 0x12345678
        (
            &[0xc7, 0x03, 0x78, 0x56, 0x34, 0x12],
            store(4, Operand::Immediate(0x1234_5678), 6),
        ),
        // mov word [rbx], 0x1234
        (
            &[0x66, 0xc7, 0x03, 0x34, 0x12],
            store(2, Operand::Immediate(0x1234), 5),
        ),
        // mov dword [rbx], 0x80000000: not sign-extended in a 32-bit store.
        (
            &[0xc7, 0x03, 0x00, 0x00, 0x00, 0x80],
            store(4, Operand::Immediate(0x8000_0000), 6),
        ),
        // mov qword [rax+0x12345678], 0xffffffff80000000 (imm32 sign-extended).
        (
            &[
                0x48, 0xc7, 0x80, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x80,
            ],
            store(8, Operand::Immediate(0xffff_ffff_8000_0000), 11),
        ),
        // mov qword [rax], 1: REX.W beats 0x66, imm32.
        (
            &[0x66, 0x48, 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00],
            store(8, Operand::Immediate(1), 8),
        ),
        // mov byte [rip+0x10], 0xff
        (
            &[0xc6, 0x05, 0x10, 0x00, 0x00, 0x00, 0xff],
            store(1, Operand::Immediate(0xff), 7),
        ),
    ]);
}

#[test]
fn zero_and_sign_extending_loads() {
    check(&[
        (&[0x0f, 0xb7, 0x06], extend(2, Extend::Zero, RAX, 4, 3)), // movzx eax, word [rsi]
        (&[0x0f, 0xb6, 0x06], extend(1, Extend::Zero, RAX, 4, 3)), // movzx eax, byte [rsi]
        // movzx r10d, byte [r11]
        (
            &[0x45, 0x0f, 0xb6, 0x13],
            extend(1, Extend::Zero, R10, 4, 4),
        ),
        // movzx ax, byte [rsi]
        (
            &[0x66, 0x0f, 0xb6, 0x06],
            extend(1, Extend::Zero, RAX, 2, 4),
        ),
        // movsx rax, byte [rdx]
        (
            &[0x48, 0x0f, 0xbe, 0x02],
            extend(1, Extend::Sign, RAX, 8, 4),
        ),
        // movsx ecx, word [rdx+4]
        (
            &[0x0f, 0xbf, 0x4a, 0x04],
            extend(2, Extend::Sign, RCX, 4, 4),
        ),
        // movzx esp, byte [rbx]: the destination is never a high byte.
        (&[0x0f, 0xb6, 0x23], extend(1, Extend::Zero, RSP, 4, 3)),
    ]);
}

#[test]
fn prefixes() {
    check(&[
        (&[0x64, 0x8b, 0x03], load(4, reg(RAX), 3)), // mov eax, fs:[rbx]
        (&[0x2e, 0x8b, 0x03], load(4, reg(RAX), 3)), // mov eax, cs:[rbx]
        (&[0x67, 0x8b, 0x03], load(4, reg(RAX), 3)), // mov eax, [ebx]
        // REX then 0x66: the REX is ignored, mov ax, [rbx].
        (&[0x48, 0x66, 0x8b, 0x03], load(2, reg(RAX), 4)),
        // REX then a segment override: ignored, so `mov ah, [rbx]` again.
        (&[0x40, 0x65, 0x8a, 0x23], load(1, high(RAX), 4)),
        // Two REX prefixes: the last one counts.
        (&[0x4c, 0x48, 0x8b, 0x03], load(8, reg(RAX), 4)),
        // 0x66 after REX.W does not undo it.
        (&[0x66, 0x48, 0x8b, 0x03], load(8, reg(RAX), 4)),
        // 0x66 on a byte operation changes nothing.
        (&[0x66, 0x88, 0x18], store(1, reg(RBX), 3)),
    ]);
}

#[test]
fn other_instructions_are_refused() {
    let cases: &[&[u8]] = &[
        &[],
        &[0x89, 0xd8],                   // mov eax, ebx: no memory operand
        &[0x8b, 0xc3],                   // mov eax, ebx
        &[0xc7, 0xc0, 1, 0, 0, 0],       // mov eax, 1
        &[0xc6, 0x08, 0x41],             // C6 /1: not mov
        &[0xc7, 0x38, 0, 0, 0, 0],       // C7 /7
        &[0xf0, 0x89, 0x18],             // lock mov: #UD
        &[0xf3, 0x89, 0x18],             // rep prefix
        &[0xf2, 0x8b, 0x03],             // repne prefix
        &[0xa4],                         // movsb
        &[0xa1, 0, 0, 0, 0, 0, 0, 0, 0], // mov eax, [moffs64]
        &[0x0f, 0xb8, 0x03],             // not movzx/movsx
        &[0x0f, 0x10, 0x03],             // movups
        &[0x87, 0x03],                   // xchg
        &[0x01, 0x03],                   // add [rbx], eax
        &[0x48],                         // a REX prefix alone
        &[0x66, 0x67, 0x64],             // prefixes alone
    ];
    for bytes in cases {
        assert_eq!(decode(bytes), None, "{bytes:02x?}");
    }
}

#[test]
fn truncated_encodings_are_refused() {
    let whole: &[&[u8]] = &[
        &[0x8b, 0x05, 0x34, 0x12, 0x00, 0x00],
        &[0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00],
        &[0x8b, 0x8c, 0x44, 0x00, 0x01, 0x00, 0x00],
        &[
            0x48, 0xc7, 0x80, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x80,
        ],
        &[0x66, 0xc7, 0x03, 0x34, 0x12],
        &[0xc6, 0x47, 0x08, 0x41],
        &[0x48, 0x0f, 0xbe, 0x02],
        &[0x89, 0x4c, 0x24, 0x08],
    ];
    for bytes in whole {
        let Some(insn) = decode(bytes) else {
            panic!("{bytes:02x?} does not decode");
        };
        assert_eq!(usize::from(insn.len), bytes.len());
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "{:02x?}", &bytes[..cut]);
        }
        // Bytes after the instruction are not part of it.
        let mut longer = bytes.to_vec();
        longer.extend_from_slice(&[0x90; 8]);
        assert_eq!(decode(&longer), Some(insn));
    }
}

#[test]
fn the_fifteen_byte_limit() {
    // 11 segment prefixes + mov eax, [rbx+disp32]: 17 bytes, too long.
    let mut bytes = vec![0x3e; 11];
    bytes.extend_from_slice(&[0x8b, 0x83, 0, 0, 0, 0]);
    assert_eq!(decode(&bytes), None);
    // 9 prefixes: exactly 15 bytes.
    let fifteen = &bytes[2..];
    assert_eq!(fifteen.len(), MAX_LEN);
    assert_eq!(decode(fifteen), load(4, reg(RAX), 15));
    // 13 prefixes + mov eax, [rbx]: 15 bytes; 14 prefixes: 16.
    let mut bytes = vec![0x26; 14];
    bytes.extend_from_slice(&[0x8b, 0x03]);
    assert_eq!(decode(&bytes), None);
    assert_eq!(decode(&bytes[1..]), load(4, reg(RAX), 15));
}

#[test]
fn store_values() {
    let ah = decode(&[0x88, 0x23]).unwrap(); // mov [rbx], ah
    assert_eq!(ah.store_value(0x1122_3344_5566_7788), 0x77);
    let al = decode(&[0x88, 0x03]).unwrap(); // mov [rbx], al
    assert_eq!(al.store_value(0x1122_3344_5566_7788), 0x88);
    let ax = decode(&[0x66, 0x89, 0x03]).unwrap(); // mov [rbx], ax
    assert_eq!(ax.store_value(0x1122_3344_5566_7788), 0x7788);
    let eax = decode(&[0x89, 0x03]).unwrap(); // mov [rbx], eax
    assert_eq!(eax.store_value(0x1122_3344_5566_7788), 0x5566_7788);
    let rax = decode(&[0x48, 0x89, 0x03]).unwrap(); // mov [rbx], rax
    assert_eq!(
        rax.store_value(0x1122_3344_5566_7788),
        0x1122_3344_5566_7788
    );
    let imm = decode(&[0xc6, 0x03, 0x41]).unwrap(); // mov byte [rbx], 0x41
    assert_eq!(imm.store_value(0xffff), 0x41);
    assert_eq!(imm.access_width(), Some(AccessWidth::Byte));
    assert_eq!(rax.access_width(), Some(AccessWidth::Double));
}

#[test]
fn load_results_follow_the_register_write_rules() {
    let old = 0x1122_3344_5566_7788;
    let cases: &[(&[u8], u64, u64)] = &[
        (&[0x8a, 0x03], 0xab, 0x1122_3344_5566_77ab), // mov al, [rbx]
        (&[0x8a, 0x23], 0xab, 0x1122_3344_5566_ab88), // mov ah, [rbx]
        (&[0x66, 0x8b, 0x03], 0xabcd, 0x1122_3344_5566_abcd), // mov ax, [rbx]
        (&[0x8b, 0x03], 0xabcd_ef01, 0xabcd_ef01),    // mov eax, [rbx]: clears 63:32
        (&[0x48, 0x8b, 0x03], u64::MAX, u64::MAX),    // mov rax, [rbx]
        (&[0x0f, 0xb6, 0x03], 0xff, 0xff),            // movzx eax, byte [rbx]
        (&[0x0f, 0xbe, 0x03], 0x80, 0xffff_ff80),     // movsx eax, byte [rbx]
        (&[0x48, 0x0f, 0xbf, 0x03], 0x8000, 0xffff_ffff_ffff_8000), // movsx rax, word [rbx]
        (&[0x66, 0x0f, 0xbe, 0x03], 0xfe, 0x1122_3344_5566_fffe), // movsx ax, byte [rbx]
        (&[0x8a, 0x03], 0xffff_ff12, 0x1122_3344_5566_7712), // extra device bits dropped
    ];
    for (bytes, value, want) in cases {
        let insn = decode(bytes).unwrap();
        assert_eq!(insn.load_result(old, *value), *want, "{bytes:02x?}");
    }
    let imm = decode(&[0xc6, 0x03, 0x41]).unwrap();
    assert_eq!(imm.load_result(old, 0), old);
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1d;
    let mut decoded = 0;
    for _ in 0..200_000 {
        let len = (xorshift(&mut state) % 20) as usize;
        let mut bytes = [0u8; 20];
        for byte in bytes.iter_mut() {
            *byte = xorshift(&mut state) as u8;
        }
        // Half the time, start with a byte the decoder knows, so that many decode.
        if xorshift(&mut state).is_multiple_of(2) {
            let opcodes = [0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0x0f, 0x66, 0x48];
            bytes[0] = opcodes[(xorshift(&mut state) % opcodes.len() as u64) as usize];
        }
        let bytes = &bytes[..len];
        let Some(insn) = decode(bytes) else { continue };
        decoded += 1;
        let insn_len = usize::from(insn.len);
        assert!(
            insn_len <= MAX_LEN && insn_len <= bytes.len(),
            "{bytes:02x?}"
        );
        assert!(matches!(insn.width, 1 | 2 | 4 | 8));
        assert!(matches!(insn.reg_width, 1 | 2 | 4 | 8));
        if let Operand::Register { reg, high_byte } = insn.kind {
            assert!(reg < 16);
            assert!(!high_byte || reg < 4);
        }
        assert_eq!(decode(&bytes[..insn_len]), Some(insn));
        assert_eq!(decode(&bytes[..insn_len - 1]), None);
    }
    assert!(decoded > 10_000, "only {decoded} decoded");
}
