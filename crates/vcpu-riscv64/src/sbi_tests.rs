//! Tests of SBI call decoding, answers and hart masks.

use tessera_vcpu::CallAnswer;

use crate::sbi::{
    Fence, HartMask, IMPL_ID, IMPL_VERSION, ResetKind, SPEC_VERSION, SbiCall, answer, decode, eid,
    encode_answer, encode_legacy_console_answer, error, fid, hart_state, is_implemented, is_legacy,
};

/// A call with extension `ext`, function `function` and arguments a0..a2.
fn call(ext: u64, function: u64, args: [u64; 3]) -> SbiCall {
    let [a0, a1, a2] = args;
    decode([a0, a1, a2, 0, 0, 0, function, ext])
}

fn ok(value: u64) -> SbiCall {
    SbiCall::Answer {
        error: error::SUCCESS,
        value,
    }
}

fn err(error: i64) -> SbiCall {
    SbiCall::Answer { error, value: 0 }
}

const NOT_SUPPORTED: SbiCall = SbiCall::Answer {
    error: error::NOT_SUPPORTED,
    value: 0,
};

#[test]
fn error_codes() {
    let codes = [
        error::SUCCESS,
        error::FAILED,
        error::NOT_SUPPORTED,
        error::INVALID_PARAM,
        error::DENIED,
        error::INVALID_ADDRESS,
        error::ALREADY_AVAILABLE,
        error::ALREADY_STARTED,
        error::ALREADY_STOPPED,
    ];
    assert_eq!(codes, [0, -1, -2, -3, -4, -5, -6, -7, -8]);
    assert_eq!(answer(error::INVALID_PARAM, 7), (0xffff_ffff_ffff_fffd, 7));
    assert_eq!(answer(error::SUCCESS, u64::MAX), (0, u64::MAX));
}

#[test]
fn extension_ids_spell_their_names() {
    assert_eq!(eid::TIME.to_be_bytes()[4..], *b"TIME");
    assert_eq!(eid::RFENCE.to_be_bytes()[4..], *b"RFNC");
    assert_eq!(eid::SRST.to_be_bytes()[4..], *b"SRST");
    assert_eq!(eid::DBCN.to_be_bytes()[4..], *b"DBCN");
    assert_eq!(eid::HSM.to_be_bytes()[5..], *b"HSM");
    assert_eq!(eid::IPI.to_be_bytes()[5..], *b"sPI");
    assert_eq!(IMPL_ID.to_be_bytes()[4..], *b"TESS");
}

#[test]
fn base_extension() {
    assert_eq!(
        call(eid::BASE, fid::GET_SPEC_VERSION, [0; 3]),
        ok(0x0200_0000)
    );
    assert_eq!(SPEC_VERSION >> 24, 2);
    assert_eq!(call(eid::BASE, fid::GET_IMPL_ID, [0; 3]), ok(IMPL_ID));
    assert_eq!(
        call(eid::BASE, fid::GET_IMPL_VERSION, [0; 3]),
        ok(IMPL_VERSION)
    );
    for function in [fid::GET_MVENDORID, fid::GET_MARCHID, fid::GET_MIMPID] {
        assert_eq!(call(eid::BASE, function, [9, 9, 9]), ok(0));
    }
    for function in [7, 8, 0x100, 1 << 32, u64::MAX] {
        assert_eq!(
            call(eid::BASE, function, [0; 3]),
            NOT_SUPPORTED,
            "{function:#x}"
        );
    }
}

#[test]
fn probe_extension() {
    let probe = |ext: u64| call(eid::BASE, fid::PROBE_EXTENSION, [ext, 0, 0]);
    let offered = [
        eid::LEGACY_SET_TIMER,
        eid::LEGACY_CONSOLE_PUTCHAR,
        eid::LEGACY_CONSOLE_GETCHAR,
        eid::LEGACY_SHUTDOWN,
        eid::BASE,
        eid::TIME,
        eid::IPI,
        eid::RFENCE,
        eid::HSM,
        eid::SRST,
        eid::DBCN,
    ];
    for ext in offered {
        assert_eq!(probe(ext), ok(1), "{ext:#x}");
        assert!(is_implemented(ext));
    }
    let absent = [
        eid::LEGACY_CLEAR_IPI,
        eid::LEGACY_SEND_IPI,
        eid::LEGACY_REMOTE_FENCE_I,
        eid::LEGACY_REMOTE_SFENCE_VMA,
        eid::LEGACY_REMOTE_SFENCE_VMA_ASID,
        0x09,
        0x0f,
        0x11,
        0x50_4D55,      // PMU
        0x5355_5350,    // SUSP
        0x4350_5043,    // CPPC
        0x0A00_0000,    // firmware range
        1 << 32 | 0x10, // BASE with garbage above bit 31
        u64::MAX,
    ];
    for ext in absent {
        assert_eq!(probe(ext), ok(0), "{ext:#x}");
    }
}

#[test]
fn unknown_extensions_are_not_supported() {
    for ext in [
        0x09,
        0x0f,
        0x11,
        0x50_4D55,
        0x0800_0000,
        0x0900_0000,
        0xffff_ffff,
        u64::MAX,
        // Known ids with bits above the 32-bit id set.
        1 << 32 | eid::TIME,
        0xffff_ffff_0000_0000 | eid::HSM,
    ] {
        for function in [0, 1, 2, 3] {
            assert_eq!(call(ext, function, [1, 2, 3]), NOT_SUPPORTED, "{ext:#x}");
        }
    }
}

#[test]
fn unsupported_legacy_extensions() {
    // These take pointers to hart masks in guest memory (or clear an IPI the guest
    // clears itself).
    for ext in 0x03..=0x07 {
        for function in [0, 5] {
            assert_eq!(call(ext, function, [0x8000_0000, 0, 0]), NOT_SUPPORTED);
        }
        assert!(is_legacy(ext));
        assert!(!is_implemented(ext));
    }
}

#[test]
fn legacy_extensions_ignore_the_function_id() {
    for function in [0, 1, 0x1234, u64::MAX] {
        assert_eq!(
            call(eid::LEGACY_SET_TIMER, function, [0x1234_5678_9abc, 0, 0]),
            SbiCall::SetTimer {
                deadline: 0x1234_5678_9abc
            }
        );
        assert_eq!(
            call(eid::LEGACY_CONSOLE_PUTCHAR, function, [0x41, 0, 0]),
            SbiCall::LegacyPutchar(b'A')
        );
        assert_eq!(
            call(eid::LEGACY_CONSOLE_GETCHAR, function, [0; 3]),
            SbiCall::LegacyGetchar
        );
        assert_eq!(
            call(eid::LEGACY_SHUTDOWN, function, [0; 3]),
            SbiCall::LegacyShutdown
        );
    }
    // putchar takes an int: only its low byte is written.
    assert_eq!(
        call(eid::LEGACY_CONSOLE_PUTCHAR, 0, [0xffff_ff0a, 0, 0]),
        SbiCall::LegacyPutchar(b'\n')
    );
}

#[test]
fn legacy_range() {
    for ext in 0..=0x0f {
        assert!(is_legacy(ext));
    }
    for ext in [0x10, eid::TIME, eid::DBCN, u64::MAX] {
        assert!(!is_legacy(ext));
    }
}

#[test]
fn timer_extension() {
    assert_eq!(
        call(eid::TIME, fid::SET_TIMER, [u64::MAX, 1, 2]),
        SbiCall::SetTimer { deadline: u64::MAX }
    );
    assert_eq!(
        call(eid::TIME, fid::SET_TIMER, [0, 0, 0]),
        SbiCall::SetTimer { deadline: 0 }
    );
    for function in [1, 2, u64::MAX] {
        assert_eq!(call(eid::TIME, function, [5, 0, 0]), NOT_SUPPORTED);
    }
}

#[test]
fn ipi_extension() {
    assert_eq!(
        call(eid::IPI, fid::SEND_IPI, [0b101, 2, 0]),
        SbiCall::SendIpi {
            targets: HartMask::new(0b101, 2)
        }
    );
    assert_eq!(
        call(eid::IPI, fid::SEND_IPI, [0x1234, u64::MAX, 0]),
        SbiCall::SendIpi {
            targets: HartMask::all()
        }
    );
    for function in [1, 2, u64::MAX] {
        assert_eq!(call(eid::IPI, function, [1, 0, 0]), NOT_SUPPORTED);
    }
}

#[test]
fn rfence_extension() {
    for function in [
        fid::REMOTE_FENCE_I,
        fid::REMOTE_SFENCE_VMA,
        fid::REMOTE_SFENCE_VMA_ASID,
    ] {
        let fence = if function == fid::REMOTE_FENCE_I {
            Fence::Instructions
        } else {
            Fence::Translations
        };
        // Start, size and ASID (a2..a4) do not matter: the fence is complete.
        let decoded = decode([0b11, 4, 0x8000_0000, 0x1000, 7, 0, function, eid::RFENCE]);
        assert_eq!(
            decoded,
            SbiCall::RemoteFence {
                targets: HartMask::new(0b11, 4),
                fence,
            }
        );
        assert_eq!(
            call(eid::RFENCE, function, [0, u64::MAX, 0]),
            SbiCall::RemoteFence {
                targets: HartMask::all(),
                fence,
            }
        );
    }
    // The hfence functions are for harts with the H extension, which guests lack.
    for function in [
        fid::REMOTE_HFENCE_GVMA_VMID,
        fid::REMOTE_HFENCE_GVMA,
        fid::REMOTE_HFENCE_VVMA_ASID,
        fid::REMOTE_HFENCE_VVMA,
        7,
        u64::MAX,
    ] {
        assert_eq!(call(eid::RFENCE, function, [1, 0, 0]), NOT_SUPPORTED);
    }
}

#[test]
fn hsm_extension() {
    assert_eq!(
        call(eid::HSM, fid::HART_START, [3, 0x8020_0000, 0xdead_beef]),
        SbiCall::HartStart {
            hart: 3,
            start_addr: 0x8020_0000,
            opaque: 0xdead_beef
        }
    );
    assert_eq!(call(eid::HSM, fid::HART_STOP, [1, 2, 3]), SbiCall::HartStop);
    assert_eq!(
        call(eid::HSM, fid::HART_GET_STATUS, [u64::MAX, 0, 0]),
        SbiCall::HartStatus { hart: u64::MAX }
    );
    for function in [4, 5, u64::MAX] {
        assert_eq!(call(eid::HSM, function, [0; 3]), NOT_SUPPORTED);
    }
}

#[test]
fn hsm_suspend_types() {
    let suspend = |kind: u64| call(eid::HSM, fid::HART_SUSPEND, [kind, 0x8020_0000, 7]);
    let retentive = SbiCall::HartSuspend { resume: None };
    assert_eq!(suspend(0), retentive);
    // The type is 32 bits wide: the register's upper half is ignored.
    for kind in [1 << 32, 0xffff_ffff_0000_0000] {
        assert_eq!(suspend(kind), retentive, "{kind:#x}");
    }
    // Default non-retentive: resumes at a1 with the opaque a2.
    let non_retentive = SbiCall::HartSuspend {
        resume: Some((0x8020_0000, 7)),
    };
    assert_eq!(suspend(0x8000_0000), non_retentive);
    assert_eq!(suspend(0xffff_ffff_8000_0000), non_retentive);
    // Reserved and platform-specific types.
    for kind in [
        1,
        0x0fff_ffff,
        0x1000_0000,
        0x7fff_ffff,
        0x8000_0001,
        0x8fff_ffff,
        0x9000_0000,
        0xffff_ffff,
        u64::MAX,
    ] {
        assert_eq!(suspend(kind), err(error::INVALID_PARAM), "{kind:#x}");
    }
}

#[test]
fn hsm_answers() {
    assert_eq!(encode_answer(CallAnswer::Done), (0, 0));
    assert_eq!(
        encode_answer(CallAnswer::AlreadyOn),
        answer(error::ALREADY_AVAILABLE, 0)
    );
    assert_eq!(
        encode_answer(CallAnswer::OnPending),
        answer(error::ALREADY_AVAILABLE, 0)
    );
    assert_eq!(
        encode_answer(CallAnswer::NoSuchCpu),
        answer(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        encode_answer(CallAnswer::BadAddress),
        answer(error::INVALID_ADDRESS, 0)
    );
    assert_eq!(
        encode_answer(CallAnswer::StatusOn),
        (0, hart_state::STARTED)
    );
    assert_eq!(
        encode_answer(CallAnswer::StatusOff),
        (0, hart_state::STOPPED)
    );
    assert_eq!(
        encode_answer(CallAnswer::StatusPending),
        (0, hart_state::START_PENDING)
    );
    assert_eq!(
        encode_answer(CallAnswer::StatusSuspended),
        (0, hart_state::SUSPENDED)
    );
    assert_eq!(encode_answer(CallAnswer::Bytes(12)), (0, 12));
    assert_eq!(
        encode_answer(CallAnswer::BadBuffer),
        answer(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        encode_answer(CallAnswer::NoConsole),
        answer(error::DENIED, 0)
    );
    assert_eq!(
        [
            hart_state::STARTED,
            hart_state::STOPPED,
            hart_state::START_PENDING,
            hart_state::STOP_PENDING,
            hart_state::SUSPENDED,
            hart_state::SUSPEND_PENDING,
            hart_state::RESUME_PENDING
        ],
        [0, 1, 2, 3, 4, 5, 6]
    );
}

#[test]
fn system_reset_extension() {
    let reset = |kind: u64, reason: u64| call(eid::SRST, fid::SYSTEM_RESET, [kind, reason, 0]);
    let kinds = [
        (0, ResetKind::Shutdown),
        (1, ResetKind::ColdReboot),
        (2, ResetKind::WarmReboot),
    ];
    for (raw, kind) in kinds {
        for (reason, failure) in [(0, false), (1, true), (1 << 32 | 1, true)] {
            assert_eq!(
                reset(raw, reason),
                SbiCall::SystemReset { kind, failure },
                "{raw} {reason:#x}"
            );
        }
        // Type and reason are 32 bits wide: the register's upper half is ignored.
        assert_eq!(
            reset(0xffff_ffff_0000_0000 | raw, 0),
            SbiCall::SystemReset {
                kind,
                failure: false
            }
        );
    }
    // Reserved and vendor-specific reset types.
    for kind in [3, 0xefff_ffff, 0xf000_0000, 0xffff_ffff, u64::MAX] {
        assert_eq!(reset(kind, 0), err(error::INVALID_PARAM), "{kind:#x}");
    }
    // Reserved, implementation- and vendor-specific reasons.
    for reason in [2, 0xdfff_ffff, 0xe000_0000, 0xf000_0000, u64::MAX] {
        assert_eq!(reset(0, reason), err(error::INVALID_PARAM), "{reason:#x}");
    }
    for function in [1, 2, u64::MAX] {
        assert_eq!(call(eid::SRST, function, [0; 3]), NOT_SUPPORTED);
    }
}

#[test]
fn debug_console_extension() {
    assert_eq!(
        call(eid::DBCN, fid::CONSOLE_WRITE, [12, 0x8000_1000, 0]),
        SbiCall::ConsoleWrite {
            len: 12,
            addr: 0x8000_1000
        }
    );
    assert_eq!(
        call(eid::DBCN, fid::CONSOLE_READ, [64, 0xffff_ffff_ffff_ff00, 0]),
        SbiCall::ConsoleRead {
            len: 64,
            addr: 0xffff_ffff_ffff_ff00
        }
    );
    assert_eq!(
        call(eid::DBCN, fid::CONSOLE_WRITE, [0, 0, 0]),
        SbiCall::ConsoleWrite { len: 0, addr: 0 }
    );
    // On RV64 base_addr_hi holds address bits 127:64: any bit set is out of reach.
    for function in [fid::CONSOLE_WRITE, fid::CONSOLE_READ] {
        for hi in [1, 0x8000_0000, u64::MAX] {
            assert_eq!(
                call(eid::DBCN, function, [1, 0x8000_0000, hi]),
                err(error::INVALID_PARAM)
            );
        }
    }
    assert_eq!(
        call(eid::DBCN, fid::CONSOLE_WRITE_BYTE, [b'x' as u64, 0, 0]),
        SbiCall::ConsoleWriteByte(b'x')
    );
    assert_eq!(
        call(eid::DBCN, fid::CONSOLE_WRITE_BYTE, [0x1ff, 0, 0]),
        SbiCall::ConsoleWriteByte(0xff)
    );
    for function in [3, 4, u64::MAX] {
        assert_eq!(call(eid::DBCN, function, [1, 2, 0]), NOT_SUPPORTED);
    }
}

#[test]
fn decode_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let ids = [
        0,
        1,
        2,
        3,
        8,
        0x10,
        eid::TIME,
        eid::IPI,
        eid::RFENCE,
        eid::HSM,
    ];
    for round in 0..200_000u64 {
        let mut a = [0u64; 8];
        for value in &mut a {
            *value = next();
        }
        // Mostly real extension ids and small function ids, sometimes anything.
        if round % 4 != 0 {
            a[7] = ids[(round % ids.len() as u64) as usize];
            a[6] = next() % 8;
        }
        let decoded = decode(a);
        if let SbiCall::SendIpi { targets } | SbiCall::RemoteFence { targets, .. } = decoded {
            assert!(targets.iter_up_to(1 << 20).count() <= 64 || targets.is_all());
            let _ = targets.fits(next());
        }
    }
}

#[test]
fn hart_mask_with_base() {
    let mask = HartMask::new(0b1011, 4);
    assert_eq!(
        (mask.mask(), mask.base(), mask.is_all()),
        (0b1011, 4, false)
    );
    for (hart, named) in [
        (3, false),
        (4, true),
        (5, true),
        (6, false),
        (7, true),
        (8, false),
    ] {
        assert_eq!(mask.contains(hart), named, "{hart}");
    }
    assert!(!mask.contains(0) && !mask.contains(4 + 64) && !mask.contains(u64::MAX));
    assert_eq!(mask.iter_up_to(100).collect::<Vec<_>>(), [4, 5, 7]);
    assert_eq!(mask.iter_up_to(6).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(mask.iter_up_to(0).count(), 0);
    assert!(mask.fits(8) && !mask.fits(7));
    // The top bit of a base-0 mask is hart 63.
    let top = HartMask::new(1 << 63, 0);
    assert!(top.contains(63));
    assert_eq!(top.iter_up_to(u64::MAX).collect::<Vec<_>>(), [63]);
    let empty = HartMask::new(0, 0);
    assert_eq!(empty.iter_up_to(u64::MAX).count(), 0);
    assert!(empty.fits(0));
}

#[test]
fn hart_masks_map_to_the_physical_harts_they_run_on() {
    // vCPU harts 0..3 pinned to physical harts 2, 3, 0 and 1.
    let pinned = [2, 3, 0, 1];
    assert_eq!(HartMask::new(0b0001, 0).physical(&pinned), Some(0b0100));
    assert_eq!(HartMask::new(0b0011, 0).physical(&pinned), Some(0b1100));
    assert_eq!(HartMask::new(0b1, 2).physical(&pinned), Some(0b0001));
    assert_eq!(HartMask::all().physical(&pinned), Some(0b1111));
    // Harts the VM does not have add nothing; no hart named, no physical hart.
    assert_eq!(HartMask::new(0b1_0001, 0).physical(&pinned), Some(0b0100));
    assert_eq!(HartMask::new(0, 0).physical(&pinned), Some(0));
    // A physical hart past 63 does not fit a mask.
    assert_eq!(HartMask::new(0b10, 0).physical(&[0, 64]), None);
    assert_eq!(HartMask::new(0b01, 0).physical(&[0, 64]), Some(1));
}

#[test]
fn hart_mask_all() {
    let all = HartMask::new(0x5, u64::MAX);
    assert_eq!(all, HartMask::all());
    assert!(all.is_all());
    assert_eq!(all.mask(), 0, "the mask is ignored");
    assert!(all.contains(0) && all.contains(1000) && all.contains(u64::MAX));
    assert_eq!(all.iter_up_to(4).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(all.iter_up_to(0).count(), 0);
    assert!(all.fits(0));
    // Lazy: asking for the first few of 2^64 - 1 harts is cheap.
    assert_eq!(
        all.iter_up_to(u64::MAX).take(3).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[test]
fn hart_mask_with_huge_base() {
    // Bits 0..=2 name the three highest ids; the ids of bits 3..=63 would overflow
    // and name no hart.
    let near_top = HartMask::new(u64::MAX, u64::MAX - 2);
    assert!(!near_top.is_all());
    assert!(near_top.contains(u64::MAX - 2) && near_top.contains(u64::MAX - 1));
    assert!(near_top.contains(u64::MAX) && !near_top.contains(0) && !near_top.contains(60));
    assert_eq!(
        near_top.iter_up_to(u64::MAX).collect::<Vec<_>>(),
        [u64::MAX - 2, u64::MAX - 1]
    );
    assert_eq!(near_top.iter_up_to(1 << 32).count(), 0);
    assert!(!near_top.fits(u64::MAX));
    let high = HartMask::new(1, 1 << 40);
    assert_eq!(high.iter_up_to(8).count(), 0);
    assert!(!high.fits(8));
    assert!(high.contains(1 << 40));
    let every_bit = HartMask::new(u64::MAX, 0);
    assert_eq!(every_bit.iter_up_to(u64::MAX).count(), 64);
    assert_eq!(every_bit.iter_up_to(3).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(every_bit.fits(64) && !every_bit.fits(63));
}

#[test]
fn legacy_console_answers() {
    assert_eq!(
        encode_legacy_console_answer(CallAnswer::Byte(Some(b'q'))),
        0x71
    );
    assert_eq!(
        encode_legacy_console_answer(CallAnswer::Byte(None)),
        u64::MAX
    );
    assert_eq!(encode_legacy_console_answer(CallAnswer::Bytes(1)), 0);
    assert_eq!(
        encode_legacy_console_answer(CallAnswer::NoConsole),
        u64::MAX
    );
}
