//! Decoding of ESR_EL2 for exceptions taken from a guest (Arm ARM D24.2.40: exception
//! class in bits [31:26], instruction-specific syndrome in bits [24:0]).

/// A guest exception, decoded from its syndrome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    /// WFI or WFE (EC 0x01).
    WaitFor {
        /// WFE (or WFET) rather than WFI.
        event: bool,
    },
    /// HVC from AArch64 (EC 0x16), with its immediate.
    Hvc(u16),
    /// SMC from AArch64 (EC 0x17), with its immediate.
    Smc(u16),
    /// A trapped MSR/MRS/SYS instruction (EC 0x18).
    SysReg(SysRegAccess),
    /// Data abort from the guest (EC 0x24).
    DataAbort(DataAbort),
    /// Instruction abort from the guest (EC 0x20), with its fault status code.
    InstructionAbort(u8),
    /// An SVE, SME or FP access trapped by CPTR_EL2 (EC 0x07, 0x19, 0x1D).
    TrappedFeature(u8),
    /// Any other exception class.
    Other(u8),
}

/// A trapped system register access (ISS for EC 0x18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysRegAccess {
    /// op0, op1, CRn, CRm, op2 of the register.
    pub encoding: SysRegEncoding,
    /// Register number Rt (31 is XZR).
    pub rt: u8,
    /// MRS (read) rather than MSR (write).
    pub read: bool,
}

/// The five fields that name a system register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysRegEncoding {
    /// op0.
    pub op0: u8,
    /// op1.
    pub op1: u8,
    /// CRn.
    pub crn: u8,
    /// CRm.
    pub crm: u8,
    /// op2.
    pub op2: u8,
}

/// A data abort syndrome (ISS for EC 0x24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataAbort {
    /// The access details below are valid (ISV): a single-register load or store.
    pub valid: bool,
    /// Access size in bytes (1, 2, 4, 8).
    pub size: u8,
    /// The load sign-extends (SSE).
    pub sign_extend: bool,
    /// Register transferred (SRT); 31 is XZR.
    pub rt: u8,
    /// The register is 64-bit (SF).
    pub sixty_four: bool,
    /// A write (WnR).
    pub write: bool,
    /// Fault on a stage-1 table walk (S1PTW).
    pub stage1_walk: bool,
    /// Data fault status code (DFSC).
    pub status: u8,
}

const EC_WFX: u8 = 0x01;
const EC_FP: u8 = 0x07;
const EC_HVC64: u8 = 0x16;
const EC_SMC64: u8 = 0x17;
const EC_SYSREG: u8 = 0x18;
const EC_SVE: u8 = 0x19;
const EC_SME: u8 = 0x1D;
const EC_IABT_LOWER: u8 = 0x20;
const EC_DABT_LOWER: u8 = 0x24;

fn bits(value: u64, low: u32, count: u32) -> u64 {
    (value >> low) & ((1 << count) - 1)
}

/// The exception class of a syndrome.
pub fn exception_class(esr: u64) -> u8 {
    bits(esr, 26, 6) as u8
}

/// Decodes a syndrome taken from a lower exception level.
pub fn decode(esr: u64) -> Exception {
    let iss = bits(esr, 0, 25);
    match exception_class(esr) {
        EC_WFX => Exception::WaitFor {
            event: iss & 1 == 1,
        },
        EC_HVC64 => Exception::Hvc(iss as u16),
        EC_SMC64 => Exception::Smc(iss as u16),
        EC_SYSREG => Exception::SysReg(SysRegAccess {
            encoding: SysRegEncoding {
                op0: bits(iss, 20, 2) as u8,
                op2: bits(iss, 17, 3) as u8,
                op1: bits(iss, 14, 3) as u8,
                crn: bits(iss, 10, 4) as u8,
                crm: bits(iss, 1, 4) as u8,
            },
            rt: bits(iss, 5, 5) as u8,
            read: iss & 1 == 1,
        }),
        EC_DABT_LOWER => Exception::DataAbort(DataAbort {
            valid: bits(iss, 24, 1) == 1,
            size: 1 << bits(iss, 22, 2),
            sign_extend: bits(iss, 21, 1) == 1,
            rt: bits(iss, 16, 5) as u8,
            sixty_four: bits(iss, 15, 1) == 1,
            write: bits(iss, 6, 1) == 1,
            stage1_walk: bits(iss, 7, 1) == 1,
            status: bits(iss, 0, 6) as u8,
        }),
        EC_IABT_LOWER => Exception::InstructionAbort(bits(iss, 0, 6) as u8),
        ec @ (EC_FP | EC_SVE | EC_SME) => Exception::TrappedFeature(ec),
        ec => Exception::Other(ec),
    }
}

/// The guest-physical address of a stage-2 abort: HPFAR_EL2.FIPA (bits [43:4]) gives
/// IPA bits [51:12]; FAR_EL2 gives the offset in the page.
pub fn fault_ipa(hpfar: u64, far: u64) -> u64 {
    ((bits(hpfar, 4, 40)) << 12) | (far & 0xfff)
}

/// What a synchronous external abort given to a guest was on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortOn {
    /// An instruction fetch.
    Fetch,
    /// A data access; `write` when it was a store.
    Data {
        /// The access was a write (WnR).
        write: bool,
    },
}

/// The ESR_EL1 value of a synchronous external abort (fault status 0x10, not on a
/// translation table walk) taken to EL1: instruction or data abort from a lower EL
/// (EC 0x20 / 0x24, the guest ran at EL0) or from EL1 itself (EC 0x21 / 0x25), IL set
/// (a 32-bit instruction), no instruction syndrome (ISV clear).
pub const fn external_abort_syndrome(on: AbortOn, from_el0: bool) -> u64 {
    const SYNC_EXTERNAL_ABORT: u64 = 0x10;
    const IL: u64 = 1 << 25;
    const WNR: u64 = 1 << 6;
    let (class, wnr) = match on {
        AbortOn::Fetch => (0x20, 0),
        AbortOn::Data { write } => (0x24, if write { WNR } else { 0 }),
    };
    let class = if from_el0 { class } else { class + 1 };
    (class << 26) | IL | wnr | SYNC_EXTERNAL_ABORT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_word_store() {
        // str w1, [x0]: ISV, SAS=2 (4 bytes), SRT=1, WnR, DFSC=translation fault level 3.
        let esr = (0x24 << 26) | (1 << 25) | (1 << 24) | (2 << 22) | (1 << 16) | (1 << 6) | 0x07;
        let Exception::DataAbort(abort) = decode(esr) else {
            panic!("not a data abort")
        };
        assert!(abort.valid && abort.write && !abort.sign_extend && !abort.sixty_four);
        assert_eq!((abort.size, abort.rt, abort.status), (4, 1, 0x07));
    }

    #[test]
    fn decodes_a_sign_extending_byte_load() {
        let esr = (0x24 << 26) | (1 << 24) | (1 << 21) | (30 << 16) | (1 << 15);
        let Exception::DataAbort(abort) = decode(esr) else {
            panic!("not a data abort")
        };
        assert!(abort.valid && !abort.write && abort.sign_extend && abort.sixty_four);
        assert_eq!((abort.size, abort.rt), (1, 30));
    }

    #[test]
    fn decodes_calls_waits_and_others() {
        assert_eq!(decode((0x16 << 26) | 0x1234), Exception::Hvc(0x1234));
        assert_eq!(decode(0x17 << 26), Exception::Smc(0));
        assert_eq!(decode(0x01 << 26), Exception::WaitFor { event: false });
        assert_eq!(decode((0x01 << 26) | 1), Exception::WaitFor { event: true });
        assert_eq!(decode(0x19 << 26), Exception::TrappedFeature(0x19));
        assert_eq!(
            decode((0x20 << 26) | 0x0f),
            Exception::InstructionAbort(0x0f)
        );
        assert_eq!(decode(0x3f << 26), Exception::Other(0x3f));
    }

    #[test]
    fn decodes_a_system_register_read() {
        // mrs x3, pmcr_el0: op0=3 op1=3 CRn=9 CRm=12 op2=0, read.
        let iss = (3 << 20) | (3 << 14) | (9 << 10) | (3 << 5) | (12 << 1) | 1;
        let Exception::SysReg(access) = decode((0x18 << 26) | iss) else {
            panic!("not a sysreg trap")
        };
        assert_eq!(
            access.encoding,
            SysRegEncoding {
                op0: 3,
                op1: 3,
                crn: 9,
                crm: 12,
                op2: 0
            }
        );
        assert!(access.read);
        assert_eq!(access.rt, 3);
    }

    #[test]
    fn computes_fault_ipa() {
        assert_eq!(fault_ipa(0x40001 << 4, 0xffff_0000_1234_5abc), 0x4000_1abc);
        assert_eq!(fault_ipa(0x9000 << 4, 0x18), 0x0900_0018);
    }

    #[test]
    fn external_abort_syndromes() {
        // Data abort from EL1, a read: EC 0x25, IL, DFSC 0x10.
        assert_eq!(
            external_abort_syndrome(AbortOn::Data { write: false }, false),
            0x9600_0010
        );
        // A write sets WnR.
        assert_eq!(
            external_abort_syndrome(AbortOn::Data { write: true }, false),
            0x9600_0050
        );
        // From EL0: EC 0x24.
        assert_eq!(
            external_abort_syndrome(AbortOn::Data { write: false }, true),
            0x9200_0010
        );
        // Instruction aborts: EC 0x21 from EL1, 0x20 from EL0.
        assert_eq!(external_abort_syndrome(AbortOn::Fetch, false), 0x8600_0010);
        assert_eq!(external_abort_syndrome(AbortOn::Fetch, true), 0x8200_0010);
        // What the guest decodes back is an abort with that status code.
        assert!(matches!(
            decode(external_abort_syndrome(AbortOn::Fetch, true)),
            Exception::InstructionAbort(0x10)
        ));
    }
}
