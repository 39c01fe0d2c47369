//! What to do with a trapped system register access. Performance-monitor registers
//! trap only on a CPU without a PMUv3, and then read as zero (writes ignored); with
//! one the guest owns them (`PmuContext`). Set/way cache maintenance is completed
//! by the hypervisor, and anything else trapped is undefined for the guest. Debug
//! registers are not trapped: the guest owns them (`DebugContext`).

use crate::esr::SysRegEncoding;

/// The hypervisor's answer to a trapped access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysRegAction {
    /// Reads return zero, writes are ignored.
    ReadAsZeroWriteIgnored,
    /// Data cache maintenance by set/way: with no cache state shared between VMs that
    /// needs it, nothing is to be done; the instruction completes.
    SetWayMaintenance,
    /// A write of ICC_SGI1R_EL1, ICC_ASGI1R_EL1 or ICC_SGI0R_EL1: the guest sends
    /// software-generated interrupts to vCPUs of its VM.
    SendSgi,
    /// A feature ID register (HCR_EL2.TID3 traps them): reads return the hardware
    /// value filtered by [`guest_id_value`]; writes are undefined.
    IdRegister {
        /// CRm of the register (1 to 7).
        crm: u8,
        /// op2 of the register.
        op2: u8,
    },
    /// The guest gets an undefined-instruction exception.
    Undefined,
}

/// Clears bits `[shift + 3 : shift]` of an ID register value: "not implemented".
const fn hide(value: u64, shift: u32) -> u64 {
    value & !(0xf << shift)
}

/// What the guest sees of feature ID register (op0=3, op1=0, CRn=0, `crm`, `op2`)
/// whose hardware value is `value`: features the hypervisor does not give guests
/// (SVE, SME, MTE, MPAM, activity monitors, statistical profiling, trace buffers,
/// branch records, a PMU that is not PMUv3) read as not implemented. A PMUv3 is
/// offered as the CPU has it.
pub fn guest_id_value(crm: u8, op2: u8, value: u64) -> u64 {
    match (crm, op2) {
        // ID_AA64PFR0_EL1: SVE [35:32], MPAM [43:40], AMU [47:44].
        (4, 0) => hide(hide(hide(value, 32), 40), 44),
        // ID_AA64PFR1_EL1: MTE [11:8], SME [27:24], MPAM_frac [19:16].
        (4, 1) => hide(hide(hide(value, 8), 24), 16),
        // ID_AA64ZFR0_EL1 (SVE features), ID_AA64SMFR0_EL1 (SME features).
        (4, 4) | (4, 5) => 0,
        // ID_AA64DFR0_EL1: PMUVer [11:8] (kept for a PMUv3), PMSVer [35:32],
        // TraceBuffer [47:44], BRBE [55:52].
        (5, 0) => {
            let value = hide(hide(hide(value, 32), 44), 52);
            if crate::pmu::offered((value >> 8) & 0xf) {
                value
            } else {
                hide(value, 8)
            }
        }
        // ID_DFR0_EL1 (AArch32 view): PerfMon [27:24], kept for a PMUv3 (3 and up;
        // 0xf is IMPLEMENTATION DEFINED).
        (1, 2) => {
            let perfmon = (value >> 24) & 0xf;
            if (3..0xf).contains(&perfmon) {
                value
            } else {
                hide(value, 24)
            }
        }
        _ => value,
    }
}

/// Classifies a trapped access by its encoding.
pub fn classify(reg: SysRegEncoding) -> SysRegAction {
    let SysRegEncoding {
        op0,
        op1,
        crn,
        crm,
        op2,
    } = reg;
    match (op0, op1, crn, crm, op2) {
        // DC ISW / CSW / CISW: op0=1, op1=0, CRn=7, CRm=6/10/14, op2=2.
        (1, 0, 7, 6 | 10 | 14, 2) => SysRegAction::SetWayMaintenance,
        // Feature ID registers: op0=3, op1=0, CRn=0, CRm=1..7.
        (3, 0, 0, 1..=7, _) => SysRegAction::IdRegister { crm, op2 },
        // ICC_SGI1R_EL1, ICC_ASGI1R_EL1, ICC_SGI0R_EL1: op0=3, op1=0, CRn=12, CRm=11, op2=5/6/7.
        (3, 0, 12, 11, 5..=7) => SysRegAction::SendSgi,
        // PMU: PMCR_EL0.. (op1=3, CRn=9), PMEVCNTR/PMEVTYPER (op1=3, CRn=14), PMINTEN (op1=0, CRn=9, CRm=14).
        (3, 3, 9, _, _) | (3, 3, 14, 8..=15, _) | (3, 0, 9, 14, 1 | 2) => {
            SysRegAction::ReadAsZeroWriteIgnored
        }
        _ => SysRegAction::Undefined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(op0: u8, op1: u8, crn: u8, crm: u8, op2: u8) -> SysRegEncoding {
        SysRegEncoding {
            op0,
            op1,
            crn,
            crm,
            op2,
        }
    }

    #[test]
    fn pmu_registers_read_as_zero_where_they_trap() {
        assert_eq!(
            classify(enc(3, 3, 9, 12, 0)),
            SysRegAction::ReadAsZeroWriteIgnored
        ); // PMCR_EL0
        assert_eq!(
            classify(enc(3, 3, 14, 8, 0)),
            SysRegAction::ReadAsZeroWriteIgnored
        ); // PMEVCNTR0_EL0
        assert_eq!(
            classify(enc(3, 0, 9, 14, 1)),
            SysRegAction::ReadAsZeroWriteIgnored
        ); // PMINTENSET_EL1
    }

    #[test]
    fn completes_set_way_and_refuses_the_rest() {
        assert_eq!(
            classify(enc(1, 0, 7, 14, 2)),
            SysRegAction::SetWayMaintenance
        ); // DC CISW
        assert_eq!(classify(enc(3, 0, 12, 11, 5)), SysRegAction::SendSgi); // ICC_SGI1R_EL1
        assert_eq!(classify(enc(3, 0, 12, 11, 7)), SysRegAction::SendSgi); // ICC_SGI0R_EL1
        assert_eq!(classify(enc(3, 0, 12, 11, 3)), SysRegAction::Undefined); // ICC_EOIR1_EL1 is not trapped
        assert_eq!(classify(enc(3, 0, 15, 0, 0)), SysRegAction::Undefined); // IMPLEMENTATION DEFINED
        assert_eq!(classify(enc(3, 4, 1, 1, 0)), SysRegAction::Undefined); // HCR_EL2 is not reachable
    }

    #[test]
    fn id_registers_hide_what_guests_do_not_get() {
        assert_eq!(
            classify(enc(3, 0, 0, 4, 0)),
            SysRegAction::IdRegister { crm: 4, op2: 0 }
        ); // ID_AA64PFR0_EL1
        assert_eq!(classify(enc(3, 0, 0, 0, 0)), SysRegAction::Undefined); // MIDR is not trapped
        let pfr0 = 0x1111_2222_3333_4444;
        assert_eq!(
            guest_id_value(4, 0, pfr0),
            0x1111_0000_3333_4444 & !(0xf << 32) | (0x2 << 36)
        );
        assert_eq!(
            guest_id_value(4, 1, u64::MAX),
            !((0xf << 8) | (0xf << 24) | (0xf << 16))
        );
        assert_eq!(guest_id_value(4, 4, u64::MAX), 0);
        assert_eq!(guest_id_value(4, 5, u64::MAX), 0);
        // An IMPLEMENTATION DEFINED PMU (PMUVer 0xf) is hidden; a PMUv3 is not.
        assert_eq!(
            guest_id_value(5, 0, u64::MAX),
            !((0xf << 8) | (0xfu64 << 32) | (0xf << 44) | (0xf << 52))
        );
        assert_eq!(guest_id_value(5, 0, 0x6 << 8), 0x6 << 8);
        assert_eq!(guest_id_value(1, 2, 0x3 << 24), 0x3 << 24);
        assert_eq!(guest_id_value(1, 2, 0xf << 24), 0);
        assert_eq!(guest_id_value(7, 0, 0x1234), 0x1234); // ID_AA64MMFR0_EL1 as is
    }
}
