//! Decoding a #VMEXIT: the exit code and the exit information the processor wrote to
//! the VMCB control area.
//!
//! Exit codes are those of the AMD64 Architecture Programmer's Manual, volume 2,
//! appendix C ("SVM Intercept Exit Codes"); the meaning of EXITINFO1 and EXITINFO2
//! per intercept is in chapter 15 ("Secure Virtual Machine"): 15.10.2 for IOIO,
//! 15.11 for MSR, 15.12 for exceptions, 15.25.6 for nested page faults.

use tessera_addr::GuestPhysAddr;

use crate::insn::{self, MmioInsn};
use crate::vmcb::{ControlArea, event_inj};

/// Exit codes (VMCB EXITCODE, offset 0x070).
pub mod code {
    /// Reads of CR0..CR15: this plus the register number.
    pub const CR_READ: u64 = 0x00;
    /// Writes of CR0..CR15: this plus the register number.
    pub const CR_WRITE: u64 = 0x10;
    /// Reads of DR0..DR15: this plus the register number.
    pub const DR_READ: u64 = 0x20;
    /// Writes of DR0..DR15: this plus the register number.
    pub const DR_WRITE: u64 = 0x30;
    /// Exceptions 0..31: this plus the vector.
    pub const EXCEPTION: u64 = 0x40;
    /// Last exception exit code (vector 31).
    pub const EXCEPTION_LAST: u64 = 0x5f;
    /// Physical maskable interrupt.
    pub const INTR: u64 = 0x60;
    /// Physical NMI.
    pub const NMI: u64 = 0x61;
    /// Physical SMI.
    pub const SMI: u64 = 0x62;
    /// Physical INIT.
    pub const INIT: u64 = 0x63;
    /// Virtual interrupt.
    pub const VINTR: u64 = 0x64;
    /// Selective CR0 write.
    pub const CR0_SEL_WRITE: u64 = 0x65;
    /// IDTR read.
    pub const IDTR_READ: u64 = 0x66;
    /// GDTR read.
    pub const GDTR_READ: u64 = 0x67;
    /// LDTR read.
    pub const LDTR_READ: u64 = 0x68;
    /// TR read.
    pub const TR_READ: u64 = 0x69;
    /// IDTR write.
    pub const IDTR_WRITE: u64 = 0x6a;
    /// GDTR write.
    pub const GDTR_WRITE: u64 = 0x6b;
    /// LDTR write.
    pub const LDTR_WRITE: u64 = 0x6c;
    /// TR write.
    pub const TR_WRITE: u64 = 0x6d;
    /// RDTSC.
    pub const RDTSC: u64 = 0x6e;
    /// RDPMC.
    pub const RDPMC: u64 = 0x6f;
    /// PUSHF.
    pub const PUSHF: u64 = 0x70;
    /// POPF.
    pub const POPF: u64 = 0x71;
    /// CPUID.
    pub const CPUID: u64 = 0x72;
    /// RSM.
    pub const RSM: u64 = 0x73;
    /// IRET.
    pub const IRET: u64 = 0x74;
    /// Software interrupt (INTn).
    pub const SWINT: u64 = 0x75;
    /// INVD.
    pub const INVD: u64 = 0x76;
    /// PAUSE.
    pub const PAUSE: u64 = 0x77;
    /// HLT.
    pub const HLT: u64 = 0x78;
    /// INVLPG.
    pub const INVLPG: u64 = 0x79;
    /// INVLPGA.
    pub const INVLPGA: u64 = 0x7a;
    /// IN, OUT, INS, OUTS.
    pub const IOIO: u64 = 0x7b;
    /// RDMSR or WRMSR.
    pub const MSR: u64 = 0x7c;
    /// Task switch.
    pub const TASK_SWITCH: u64 = 0x7d;
    /// FERR_FREEZE.
    pub const FERR_FREEZE: u64 = 0x7e;
    /// Shutdown.
    pub const SHUTDOWN: u64 = 0x7f;
    /// VMRUN.
    pub const VMRUN: u64 = 0x80;
    /// VMMCALL.
    pub const VMMCALL: u64 = 0x81;
    /// VMLOAD.
    pub const VMLOAD: u64 = 0x82;
    /// VMSAVE.
    pub const VMSAVE: u64 = 0x83;
    /// STGI.
    pub const STGI: u64 = 0x84;
    /// CLGI.
    pub const CLGI: u64 = 0x85;
    /// SKINIT.
    pub const SKINIT: u64 = 0x86;
    /// RDTSCP.
    pub const RDTSCP: u64 = 0x87;
    /// ICEBP.
    pub const ICEBP: u64 = 0x88;
    /// WBINVD or WBNOINVD.
    pub const WBINVD: u64 = 0x89;
    /// MONITOR or MONITORX.
    pub const MONITOR: u64 = 0x8a;
    /// MWAIT or MWAITX, unconditional.
    pub const MWAIT: u64 = 0x8b;
    /// MWAIT or MWAITX with the monitor armed.
    pub const MWAIT_CONDITIONAL: u64 = 0x8c;
    /// XSETBV.
    pub const XSETBV: u64 = 0x8d;
    /// RDPRU.
    pub const RDPRU: u64 = 0x8e;
    /// EFER write (trap).
    pub const EFER_WRITE_TRAP: u64 = 0x8f;
    /// CR0..CR15 writes (trap): this plus the register number.
    pub const CR_WRITE_TRAP: u64 = 0x90;
    /// Nested page fault.
    pub const NPF: u64 = 0x400;
    /// AVIC: an IPI that could not be delivered.
    pub const AVIC_INCOMPLETE_IPI: u64 = 0x401;
    /// AVIC: an APIC register access that is not accelerated.
    pub const AVIC_NOACCEL: u64 = 0x402;
    /// VMGEXIT (SEV-ES).
    pub const VMGEXIT: u64 = 0x403;
    /// VMRUN found invalid guest state (-1).
    pub const INVALID: u64 = u64::MAX;
    /// VMRUN found the VMSA busy (-2, SEV-SNP).
    pub const BUSY: u64 = u64::MAX - 1;
}

/// EXITINFO1 of an IOIO intercept.
pub mod ioio {
    /// Bit 0, TYPE: 1 for IN (a read of the port), 0 for OUT.
    pub const TYPE_IN: u64 = 1 << 0;
    /// Bit 2, STR: a string instruction (INS, OUTS).
    pub const STR: u64 = 1 << 2;
    /// Bit 3, REP: with a REP prefix.
    pub const REP: u64 = 1 << 3;
    /// Bit 4, SZ8: 8-bit operand.
    pub const SZ8: u64 = 1 << 4;
    /// Bit 5, SZ16: 16-bit operand.
    pub const SZ16: u64 = 1 << 5;
    /// Bit 6, SZ32: 32-bit operand.
    pub const SZ32: u64 = 1 << 6;
    /// Bit 7, A16: 16-bit address size (string forms).
    pub const A16: u64 = 1 << 7;
    /// Bit 8, A32: 32-bit address size.
    pub const A32: u64 = 1 << 8;
    /// Bit 9, A64: 64-bit address size.
    pub const A64: u64 = 1 << 9;
    /// Bits 12:10, SEG: the segment of a string OUTS.
    pub const SEG_SHIFT: u32 = 10;
    /// Bits 31:16: the port.
    pub const PORT_SHIFT: u32 = 16;
}

/// EXITINFO1 of a nested page fault: a page-fault error code with two more bits.
pub mod npf {
    /// Bit 0: the nested entry was present (a protection fault, not a missing page).
    pub const PRESENT: u64 = 1 << 0;
    /// Bit 1: the access was a write.
    pub const WRITE: u64 = 1 << 1;
    /// Bit 2: a user access (always set: nested walks count as user accesses).
    pub const USER: u64 = 1 << 2;
    /// Bit 3: a reserved bit was set in a nested entry.
    pub const RESERVED: u64 = 1 << 3;
    /// Bit 4: an instruction fetch.
    pub const FETCH: u64 = 1 << 4;
    /// Bit 32: the fault happened translating the final guest-physical address of
    /// the access.
    pub const FINAL_TRANSLATION: u64 = 1 << 32;
    /// Bit 33: the fault happened translating the address of one of the guest's own
    /// page tables, during its page walk.
    pub const PAGE_TABLE_WALK: u64 = 1 << 33;
}

/// The exit information of one #VMEXIT, as read from the VMCB control area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitInfo {
    /// EXITCODE.
    pub code: u64,
    /// EXITINFO1.
    pub info1: u64,
    /// EXITINFO2.
    pub info2: u64,
    /// nRIP: the address of the next instruction, for instruction intercepts on
    /// processors with NRIP save (CPUID Fn8000_000A EDX bit 3).
    pub next_rip: u64,
    /// How many of `insn_bytes` are valid (0 when the processor fetched none).
    pub insn_len: u8,
    /// The guest instruction bytes fetched for a nested page fault (decode assists).
    pub insn_bytes: [u8; 15],
}

impl ExitInfo {
    /// The exit information in `control`, after a #VMEXIT.
    pub fn from_control(control: &ControlArea) -> Self {
        Self {
            code: control.exitcode,
            info1: control.exitinfo1,
            info2: control.exitinfo2,
            next_rip: control.next_rip,
            insn_len: control.insn_len,
            insn_bytes: control.insn_bytes,
        }
    }

    /// The valid instruction bytes (at most 15).
    pub fn insn(&self) -> &[u8] {
        let len = usize::from(self.insn_len).min(self.insn_bytes.len());
        self.insn_bytes.get(..len).unwrap_or(&[])
    }
}

/// Why the guest exited, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SvmExit {
    /// IN, OUT, INS or OUTS on an intercepted port.
    Io {
        /// The port.
        port: u16,
        /// Operand size in bytes: 1, 2 or 4.
        size: u8,
        /// IN (the guest reads the port) rather than OUT.
        input: bool,
        /// A string instruction (INS, OUTS).
        string: bool,
        /// With a REP prefix.
        rep: bool,
        /// The instruction after it, where the guest resumes (from EXITINFO2, which
        /// IOIO intercepts always fill, with or without NRIP save).
        next_rip: u64,
    },
    /// RDMSR or WRMSR on an intercepted MSR (the MSR number is in the guest's ECX).
    Msr {
        /// WRMSR rather than RDMSR.
        write: bool,
    },
    /// CPUID (leaf and subleaf in the guest's EAX and ECX).
    Cpuid,
    /// HLT.
    Hlt,
    /// VMMCALL: a hypercall.
    Vmmcall,
    /// Shutdown: the guest triple-faulted (or took an exception while delivering a
    /// double fault).
    Shutdown,
    /// An access the nested page tables did not allow.
    NestedPageFault {
        /// The guest-physical address accessed (EXITINFO2).
        gpa: GuestPhysAddr,
        /// The error code (EXITINFO1), see [`npf`].
        error_code: u64,
        /// The instruction that made the access, when the fault is a data access on
        /// the final address (not a fetch, not the guest's own page walk) and the
        /// processor supplied instruction bytes that decode as an MMIO access.
        insn: Option<MmioInsn>,
    },
    /// A physical interrupt arrived.
    Intr,
    /// A physical NMI arrived.
    Nmi,
    /// The guest became able to take the pending virtual interrupt.
    Vintr,
    /// An intercepted exception.
    Exception {
        /// The vector, 0 to 31.
        vector: u8,
        /// EXITINFO1: the error code for exceptions that push one, else undefined.
        error_code: u64,
    },
    /// VMRUN refused the guest state (VMEXIT_INVALID): a hypervisor bug.
    Invalid,
    /// Any other exit code.
    Other(u64),
}

impl SvmExit {
    /// Decodes the exit described by `exit`.
    pub fn decode(exit: &ExitInfo) -> Self {
        match exit.code {
            code::IOIO => decode_io(exit),
            code::MSR => match exit.info1 {
                0 => Self::Msr { write: false },
                1 => Self::Msr { write: true },
                _ => Self::Other(exit.code),
            },
            code::CPUID => Self::Cpuid,
            code::HLT => Self::Hlt,
            code::VMMCALL => Self::Vmmcall,
            code::SHUTDOWN => Self::Shutdown,
            code::NPF => {
                let data_access = exit.info1 & npf::FINAL_TRANSLATION != 0
                    && exit.info1 & (npf::FETCH | npf::PAGE_TABLE_WALK) == 0;
                Self::NestedPageFault {
                    gpa: GuestPhysAddr::new(exit.info2),
                    error_code: exit.info1,
                    insn: if data_access {
                        insn::decode(exit.insn())
                    } else {
                        None
                    },
                }
            }
            code::INTR => Self::Intr,
            code::NMI => Self::Nmi,
            code::VINTR => Self::Vintr,
            code::EXCEPTION..=code::EXCEPTION_LAST => Self::Exception {
                vector: (exit.code - code::EXCEPTION) as u8,
                error_code: exit.info1,
            },
            code::INVALID => Self::Invalid,
            other => Self::Other(other),
        }
    }
}

/// An IOIO exit; one with no (or more than one) operand-size bit is [`SvmExit::Other`].
fn decode_io(exit: &ExitInfo) -> SvmExit {
    let info = exit.info1;
    let size = match info & (ioio::SZ8 | ioio::SZ16 | ioio::SZ32) {
        ioio::SZ8 => 1,
        ioio::SZ16 => 2,
        ioio::SZ32 => 4,
        _ => return SvmExit::Other(exit.code),
    };
    SvmExit::Io {
        port: (info >> ioio::PORT_SHIFT) as u16,
        size,
        input: info & ioio::TYPE_IN != 0,
        string: info & ioio::STR != 0,
        rep: info & ioio::REP != 0,
        next_rip: exit.info2,
    }
}

/// The event to inject again after an exit that interrupted its delivery (EXITINTINFO,
/// same format as EVENTINJ), or 0: interrupts, NMIs and exceptions go in again; a
/// software interrupt (INTn) does not, as RIP still points at its instruction, which
/// runs again.
pub fn reinjected(exitintinfo: u64) -> u64 {
    let kind = (exitintinfo & event_inj::TYPE_MASK) >> event_inj::TYPE_SHIFT;
    let again = matches!(
        kind,
        event_inj::TYPE_INTR | event_inj::TYPE_NMI | event_inj::TYPE_EXCEPTION
    );
    if exitintinfo & event_inj::VALID != 0 && again {
        exitintinfo
    } else {
        0
    }
}
