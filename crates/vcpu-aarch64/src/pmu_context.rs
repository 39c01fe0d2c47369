//! A vCPU's performance-monitor registers, which the guest reaches directly (MDCR_EL2
//! traps none: `pmu::mdcr_el2`). They are moved with the vCPU when a physical CPU
//! switches vCPUs, and every counter is stopped and its overflow interrupt disabled
//! while the vCPU is not loaded: a VM's counters count only its own work, and one
//! VM's overflow never interrupts another.

use crate::pmu::{self, counter_mask};
use core::arch::asm;

/// Most event counters the architecture allows (PMCR_EL0.N is 5 bits, 31 at most).
const MAX_COUNTERS: usize = 31;

/// Reads a PMU system register by name.
macro_rules! read {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading a performance-monitor register has no side effects.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack)) };
        value
    }};
}

/// Writes a PMU system register by name.
macro_rules! write {
    ($name:literal, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: the performance monitors belong to the guest loaded on this CPU;
        // with MDCR_EL2.HPMD (and HCCD) they count nothing at EL2.
        unsafe { asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nomem, nostack)) };
    }};
}

/// How many event counters this CPU has (PMCR_EL0.N read at EL2).
fn counters() -> usize {
    pmu::event_counters(read!("pmcr_el0")).min(MAX_COUNTERS)
}

/// The performance monitors of one vCPU; the default is the reset state: nothing
/// counting, every counter zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct PmuContext {
    pmcr: u64,
    /// PMCNTENSET_EL0: the counters counting.
    enabled: u64,
    /// PMINTENSET_EL1: the counters whose overflow interrupts.
    interrupts: u64,
    /// PMOVSSET_EL0: the counters that overflowed.
    overflows: u64,
    selr: u64,
    userenr: u64,
    ccfiltr: u64,
    ccntr: u64,
    evcntr: [u64; MAX_COUNTERS],
    evtyper: [u64; MAX_COUNTERS],
}

impl PmuContext {
    /// Reads the PMU state from the CPU, then stops every counter and silences its
    /// overflow interrupt there.
    pub fn save(&mut self) {
        let counters = counters();
        let all = counter_mask(counters);
        self.enabled = read!("pmcntenset_el0");
        write!("pmcntenclr_el0", all);
        self.interrupts = read!("pmintenset_el1");
        write!("pmintenclr_el1", all);
        self.overflows = read!("pmovsset_el0");
        write!("pmovsclr_el0", all);
        // PMCR_EL0.P and C read as zero: writing the value back resets nothing.
        self.pmcr = read!("pmcr_el0");
        self.selr = read!("pmselr_el0");
        self.userenr = read!("pmuserenr_el0");
        self.ccfiltr = read!("pmccfiltr_el0");
        self.ccntr = read!("pmccntr_el0");
        for n in 0..counters {
            write!("pmselr_el0", n as u64);
            // SAFETY: the ISB makes the selection take effect before the reads.
            unsafe { asm!("isb", options(nomem, nostack)) };
            if let (Some(count), Some(kind)) = (self.evcntr.get_mut(n), self.evtyper.get_mut(n)) {
                *count = read!("pmxevcntr_el0");
                *kind = read!("pmxevtyper_el0");
            }
        }
    }

    /// Writes the saved PMU state to the CPU, whose counters are stopped (the last
    /// save there, or reset), starting the counters it had counting.
    pub fn restore(&self) {
        let counters = counters();
        let all = counter_mask(counters);
        for n in 0..counters {
            write!("pmselr_el0", n as u64);
            // SAFETY: the ISB makes the selection take effect before the writes.
            unsafe { asm!("isb", options(nomem, nostack)) };
            write!("pmxevtyper_el0", self.evtyper.get(n).copied().unwrap_or(0));
            write!("pmxevcntr_el0", self.evcntr.get(n).copied().unwrap_or(0));
        }
        write!("pmselr_el0", self.selr);
        write!("pmuserenr_el0", self.userenr);
        write!("pmccfiltr_el0", self.ccfiltr);
        write!("pmccntr_el0", self.ccntr);
        write!("pmovsclr_el0", all);
        write!("pmovsset_el0", self.overflows & all);
        write!("pmintenclr_el1", all);
        write!("pmintenset_el1", self.interrupts & all);
        write!("pmcr_el0", self.pmcr);
        write!("pmcntenset_el0", self.enabled & all);
    }

    /// Whether the saved state asserts the overflow interrupt.
    pub fn output(&self) -> bool {
        pmu::output_of(self.pmcr, self.interrupts, self.overflows)
    }
}

/// Whether the PMU of the guest loaded on this CPU asserts its overflow interrupt.
pub fn loaded_output() -> bool {
    pmu::output_of(
        read!("pmcr_el0"),
        read!("pmintenset_el1"),
        read!("pmovsset_el0"),
    )
}

/// Silences the overflow interrupt of the guest loaded on this CPU (PMINTENCLR_EL1):
/// for a VM that has no interrupt controller to take it.
pub fn mask_loaded_interrupt() {
    write!("pmintenclr_el1", counter_mask(counters()));
}
