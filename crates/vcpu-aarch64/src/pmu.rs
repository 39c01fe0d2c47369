//! The guest's performance monitors (PMUv3), as the architecture defines what it sees:
//! which PMU version a guest is offered, how MDCR_EL2 gives it every counter while
//! nothing counts at EL2, and the overflow interrupt a counter state asserts. The
//! registers themselves are moved with the vCPU (`PmuContext`, on the hardware).

/// ID_AA64DFR0_EL1.PMUVer value of a PMUv3 implementation that is IMPLEMENTATION
/// DEFINED (not PMUv3): not offered.
const PMUVER_IMP_DEF: u64 = 0xf;
/// ID_AA64DFR0_EL1.PMUVer of PMUv3 for Armv8.5 (FEAT_PMUv3p5): MDCR_EL2.HCCD exists.
const PMUVER_V3P5: u64 = 0x6;

/// MDCR_EL2.HPMN [4:0]: event counters 0..HPMN are the guest's.
const MDCR_HPMN_MASK: u64 = 0x1f;
/// MDCR_EL2.TPMCR (5) and TPM (6): PMU registers trap to EL2.
pub const MDCR_PMU_TRAPS: u64 = (1 << 5) | (1 << 6);
/// MDCR_EL2.HPMD (17): event counters do not count at EL2.
const MDCR_HPMD: u64 = 1 << 17;
/// MDCR_EL2.HCCD (23, FEAT_PMUv3p5): the cycle counter does not count at EL2.
const MDCR_HCCD: u64 = 1 << 23;

/// PMCR_EL0.E (0): the counters are enabled.
const PMCR_E: u64 = 1 << 0;
/// PMCR_EL0.N [15:11]: how many event counters there are.
const PMCR_N_SHIFT: u32 = 11;

/// The cycle counter's bit in PMCNTEN/PMINTEN/PMOVS.
pub const CYCLE_COUNTER: u64 = 1 << 31;

/// Whether a CPU whose ID_AA64DFR0_EL1.PMUVer is `pmuver` has a PMUv3 to offer.
pub fn offered(pmuver: u64) -> bool {
    pmuver != 0 && pmuver != PMUVER_IMP_DEF
}

/// How many event counters PMCR_EL0 value `pmcr` (read at EL2) says there are.
pub fn event_counters(pmcr: u64) -> usize {
    ((pmcr >> PMCR_N_SHIFT) & 0x1f) as usize
}

/// The counters' bits (event counters and the cycle counter) of a PMU with
/// `counters` event counters.
pub fn counter_mask(counters: usize) -> u64 {
    let events = u32::try_from(counters.min(31))
        .ok()
        .and_then(|n| 1u64.checked_shl(n))
        .map_or(0, |top| top - 1);
    events | CYCLE_COUNTER
}

/// MDCR_EL2 for guests, from its value `mdcr` at boot, the CPU's PMUVer and its
/// PMCR_EL0 (read at EL2): with a PMU, every event counter is the guest's (HPMN =
/// N), no PMU register traps, and nothing counts at EL2 (HPMD; HCCD from PMUv3p5
/// on), so a guest counts only its own work. Without one, PMU registers trap and read
/// as zero. The other fields keep their boot value; the debug traps (TDA, TDOSA,
/// TDRA, TDE) stay clear.
pub fn mdcr_el2(mdcr: u64, pmuver: u64, pmcr: u64) -> u64 {
    const DEBUG_TRAPS: u64 = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11);
    let kept = mdcr & !(MDCR_HPMN_MASK | MDCR_PMU_TRAPS | MDCR_HPMD | MDCR_HCCD | DEBUG_TRAPS);
    if !offered(pmuver) {
        return kept | (mdcr & MDCR_HPMN_MASK) | MDCR_PMU_TRAPS;
    }
    let hccd = if pmuver >= PMUVER_V3P5 { MDCR_HCCD } else { 0 };
    kept | event_counters(pmcr) as u64 | MDCR_HPMD | hccd
}

/// Whether a PMU whose PMCR_EL0 is `pmcr`, PMINTENSET_EL1 `inten` and PMOVSSET_EL0
/// `ovs` asserts its overflow interrupt: a counter the guest has (all of them: HPMN =
/// N) overflowed with its interrupt enabled, while PMCR_EL0.E is set.
pub fn output_of(pmcr: u64, inten: u64, ovs: u64) -> bool {
    pmcr & PMCR_E != 0 && inten & ovs != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pmuv3_is_offered() {
        assert!(!offered(0));
        assert!(!offered(PMUVER_IMP_DEF));
        for version in [1, 4, 5, 6, 7, 8] {
            assert!(offered(version), "{version}");
        }
    }

    #[test]
    fn guests_get_every_counter_and_nothing_counts_at_el2() {
        let pmcr = 6 << PMCR_N_SHIFT;
        // PMUv3p5: HCCD too; boot-time HPMN and traps replaced.
        assert_eq!(
            mdcr_el2(0x1f | MDCR_PMU_TRAPS | (1 << 9), 6, pmcr),
            6 | MDCR_HPMD | MDCR_HCCD
        );
        // Before PMUv3p5 HCCD does not exist.
        assert_eq!(mdcr_el2(0, 4, pmcr), 6 | MDCR_HPMD);
        // Fields the hypervisor does not own stay as they were (HPME, bit 7 here).
        assert_eq!(mdcr_el2(1 << 7, 4, pmcr), (1 << 7) | 6 | MDCR_HPMD);
        // No PMU: its registers trap; HPMN kept.
        assert_eq!(mdcr_el2(0x1f, 0, 0), 0x1f | MDCR_PMU_TRAPS);
        assert_eq!(mdcr_el2(0, PMUVER_IMP_DEF, pmcr), MDCR_PMU_TRAPS);
    }

    #[test]
    fn counter_masks() {
        assert_eq!(event_counters(6 << PMCR_N_SHIFT | 0x7ff), 6);
        assert_eq!(counter_mask(0), CYCLE_COUNTER);
        assert_eq!(counter_mask(6), 0x3f | CYCLE_COUNTER);
        assert_eq!(counter_mask(31), 0x7fff_ffff | CYCLE_COUNTER);
    }

    #[test]
    fn overflow_interrupt_is_enabled_overflow_while_counting_is_on() {
        assert!(output_of(PMCR_E, 1, 1));
        assert!(output_of(PMCR_E, CYCLE_COUNTER | 2, CYCLE_COUNTER));
        assert!(!output_of(0, 1, 1));
        assert!(!output_of(PMCR_E, 1, 2));
        assert!(!output_of(PMCR_E, 0, u64::MAX));
    }
}
