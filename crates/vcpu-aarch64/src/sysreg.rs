//! What to do with a trapped system register access. Debug and performance-monitor
//! registers are hidden (read as zero, writes ignored), set/way cache maintenance is
//! completed by the hypervisor, and anything else trapped is undefined for the guest.

use crate::esr::SysRegEncoding;

/// The hypervisor's answer to a trapped access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysRegAction {
    /// Reads return zero, writes are ignored.
    ReadAsZeroWriteIgnored,
    /// Data cache maintenance by set/way: with no cache state shared between VMs that
    /// needs it, nothing is to be done; the instruction completes.
    SetWayMaintenance,
    /// The guest gets an undefined-instruction exception.
    Undefined,
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
        // Debug registers (op0=2: MDSCR, DBGB*/DBGW*, OSLAR, OSDLR, ...).
        (2, _, _, _, _) => SysRegAction::ReadAsZeroWriteIgnored,
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
    fn hides_debug_and_pmu() {
        assert_eq!(
            classify(enc(2, 0, 0, 2, 2)),
            SysRegAction::ReadAsZeroWriteIgnored
        ); // MDSCR_EL1
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
        assert_eq!(classify(enc(3, 0, 15, 0, 0)), SysRegAction::Undefined); // IMPLEMENTATION DEFINED
        assert_eq!(classify(enc(3, 4, 1, 1, 0)), SysRegAction::Undefined); // HCR_EL2 is not reachable
    }
}
