//! Tests of #VMEXIT decoding.

use tessera_addr::GuestPhysAddr;

use crate::exit::{ExitInfo, SvmExit, code, npf, reinjected};
use crate::insn::{Extend, MmioInsn, Operand};
use crate::vmcb::ControlArea;
use crate::vmcb::event_inj;

fn exit(code: u64, info1: u64, info2: u64) -> ExitInfo {
    ExitInfo {
        code,
        info1,
        info2,
        ..ExitInfo::default()
    }
}

fn decode(code: u64, info1: u64, info2: u64) -> SvmExit {
    SvmExit::decode(&exit(code, info1, info2))
}

#[test]
fn exit_code_values() {
    let codes = [
        (code::EXCEPTION, 0x40),
        (code::INTR, 0x60),
        (code::NMI, 0x61),
        (code::VINTR, 0x64),
        (code::CPUID, 0x72),
        (code::HLT, 0x78),
        (code::IOIO, 0x7b),
        (code::MSR, 0x7c),
        (code::SHUTDOWN, 0x7f),
        (code::VMRUN, 0x80),
        (code::VMMCALL, 0x81),
        (code::XSETBV, 0x8d),
        (code::NPF, 0x400),
        (code::INVALID, u64::MAX),
    ];
    for (value, want) in codes {
        assert_eq!(value, want);
    }
}

#[test]
fn io_exits() {
    // out 0x3f8, al: port in 31:16, SZ8, OUT; EXITINFO2 holds the next RIP.
    let out = (0x3f8 << 16) | (1 << 4) | (1 << 9);
    assert_eq!(
        decode(code::IOIO, out, 0x1002),
        SvmExit::Io {
            port: 0x3f8,
            size: 1,
            input: false,
            string: false,
            rep: false,
            next_rip: 0x1002,
        }
    );
    // in eax, dx (port 0xcfc): TYPE = IN, SZ32.
    let input = (0xcfc << 16) | (1 << 6) | 1;
    assert_eq!(
        decode(code::IOIO, input, 0x2001),
        SvmExit::Io {
            port: 0xcfc,
            size: 4,
            input: true,
            string: false,
            rep: false,
            next_rip: 0x2001,
        }
    );
    // rep outsw to port 0x1f0: STR, REP, SZ16, segment DS (3) in 12:10.
    let string = (0x1f0 << 16) | (3 << 10) | (1 << 5) | (1 << 3) | (1 << 2);
    assert_eq!(
        decode(code::IOIO, string, 0x3003),
        SvmExit::Io {
            port: 0x1f0,
            size: 2,
            input: false,
            string: true,
            rep: true,
            next_rip: 0x3003,
        }
    );
}

#[test]
fn io_exit_without_one_size_is_other() {
    assert_eq!(
        decode(code::IOIO, 0x3f8 << 16, 0),
        SvmExit::Other(code::IOIO)
    );
    let two_sizes = (0x60 << 16) | (1 << 4) | (1 << 5);
    assert_eq!(decode(code::IOIO, two_sizes, 0), SvmExit::Other(code::IOIO));
}

#[test]
fn msr_exits() {
    assert_eq!(decode(code::MSR, 0, 0), SvmExit::Msr { write: false });
    assert_eq!(decode(code::MSR, 1, 0), SvmExit::Msr { write: true });
    assert_eq!(decode(code::MSR, 2, 0), SvmExit::Other(code::MSR));
}

#[test]
fn simple_exits() {
    assert_eq!(decode(0x72, 0, 0), SvmExit::Cpuid);
    assert_eq!(decode(0x78, 0, 0), SvmExit::Hlt);
    assert_eq!(decode(0x81, 0, 0), SvmExit::Vmmcall);
    assert_eq!(decode(0x7f, 0, 0), SvmExit::Shutdown);
    assert_eq!(decode(0x60, 0, 0), SvmExit::Intr);
    assert_eq!(decode(0x61, 0, 0), SvmExit::Nmi);
    assert_eq!(decode(0x64, 0, 0), SvmExit::Vintr);
    assert_eq!(decode(u64::MAX, 0, 0), SvmExit::Invalid);
    for other in [
        0x00,
        0x1f,
        0x3f,
        0x62,
        0x77,
        0x80,
        0x8d,
        0x401,
        u64::MAX - 1,
    ] {
        assert_eq!(decode(other, 0, 0), SvmExit::Other(other), "{other:#x}");
    }
}

#[test]
fn exception_exits() {
    // #GP (13) with error code 0x10.
    assert_eq!(
        decode(0x4d, 0x10, 0),
        SvmExit::Exception {
            vector: 13,
            error_code: 0x10
        }
    );
    assert_eq!(
        decode(0x40, 0, 0),
        SvmExit::Exception {
            vector: 0,
            error_code: 0
        }
    );
    assert_eq!(
        decode(0x5f, 0, 0),
        SvmExit::Exception {
            vector: 31,
            error_code: 0
        }
    );
}

#[test]
fn nested_page_fault_with_instruction() {
    // mov [rax], ebx (89 18) faulting on a write to a not-present page at 0xfee0_0030.
    let mut info = exit(
        code::NPF,
        npf::FINAL_TRANSLATION | npf::USER | npf::WRITE,
        0xfee0_0030,
    );
    info.insn_len = 15;
    info.insn_bytes[..2].copy_from_slice(&[0x89, 0x18]);
    let want = MmioInsn {
        write: true,
        width: 4,
        kind: Operand::Register {
            reg: 3,
            high_byte: false,
        },
        extend: Extend::None,
        reg_width: 4,
        len: 2,
    };
    assert_eq!(
        SvmExit::decode(&info),
        SvmExit::NestedPageFault {
            gpa: GuestPhysAddr::new(0xfee0_0030),
            error_code: 0x1_0000_0006,
            insn: Some(want),
        }
    );
    // Through the VMCB control area.
    let mut control = ControlArea::new();
    control.exitcode = info.code;
    control.exitinfo1 = info.info1;
    control.exitinfo2 = info.info2;
    control.insn_len = info.insn_len;
    control.insn_bytes = info.insn_bytes;
    control.next_rip = 0x55;
    let from_vmcb = ExitInfo::from_control(&control);
    assert_eq!(
        from_vmcb,
        ExitInfo {
            next_rip: 0x55,
            ..info
        }
    );
    assert_eq!(SvmExit::decode(&from_vmcb), SvmExit::decode(&info));
}

#[test]
fn nested_page_fault_without_instruction() {
    let bytes = [0x8b, 0x03];
    let cases = [
        // No bytes fetched.
        (npf::FINAL_TRANSLATION | npf::USER, 0),
        // An instruction fetch, a fault on the guest's page walk, neither bit.
        (npf::FINAL_TRANSLATION | npf::FETCH | npf::USER, 2),
        (npf::PAGE_TABLE_WALK | npf::USER, 2),
        (npf::USER, 2),
    ];
    for (error_code, len) in cases {
        let mut info = exit(code::NPF, error_code, 0x1000);
        info.insn_len = len;
        info.insn_bytes[..2].copy_from_slice(&bytes);
        assert_eq!(
            SvmExit::decode(&info),
            SvmExit::NestedPageFault {
                gpa: GuestPhysAddr::new(0x1000),
                error_code,
                insn: None,
            },
            "{error_code:#x}"
        );
    }
    // Bytes that are no MMIO instruction.
    let mut info = exit(code::NPF, npf::FINAL_TRANSLATION, 0x2000);
    info.insn_len = 1;
    info.insn_bytes[0] = 0xa4; // movsb
    assert!(matches!(
        SvmExit::decode(&info),
        SvmExit::NestedPageFault { insn: None, .. }
    ));
}

#[test]
fn instruction_bytes_are_clamped() {
    let mut info = exit(0, 0, 0);
    assert!(info.insn().is_empty());
    info.insn_len = 3;
    assert_eq!(info.insn().len(), 3);
    info.insn_len = 200;
    assert_eq!(info.insn().len(), 15);
}

#[test]
fn events_an_exit_interrupted_go_in_again() {
    let intr = event_inj::encode(0x30, event_inj::TYPE_INTR, None);
    assert_eq!(reinjected(intr), intr);
    let nmi = event_inj::encode(2, event_inj::TYPE_NMI, None);
    assert_eq!(reinjected(nmi), nmi);
    let page_fault = event_inj::encode(14, event_inj::TYPE_EXCEPTION, Some(2));
    assert_eq!(reinjected(page_fault), page_fault);
    // INTn runs again from its instruction; nothing was being delivered.
    assert_eq!(
        reinjected(event_inj::encode(0x80, event_inj::TYPE_SOFT_INT, None)),
        0
    );
    assert_eq!(reinjected(0), 0);
    assert_eq!(reinjected(intr & !event_inj::VALID), 0);
}
