//! aarch64 performance monitors: a PMUv3 is offered (ID_AA64DFR0_EL1.PMUVer), its
//! cycle counter rises while enabled, an event counter counts software increments
//! exactly, and, with a GIC, a counter that overflows raises the PMU's PPI, a level
//! that drops when the overflow is cleared.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

/// The PMU's overflow PPI on QEMU `virt` (and in Tessera's VMs).
pub const PMU_PPI: u32 = 23;
/// PMCR_EL0: E (counters on), P (event counters reset), C (cycle counter reset).
const PMCR_E: u64 = 1;
const PMCR_RESET: u64 = (1 << 1) | (1 << 2);
/// The cycle counter's bit in PMCNTEN/PMINTEN/PMOVS, and event counter 0's.
const CYCLE_COUNTER: u64 = 1 << 31;
const COUNTER_0: u64 = 1;
/// PMEVTYPER<n>_EL0 / PMCCFILTR_EL0 filter: not at EL1 (P), not at EL0 (U), at EL2
/// (NSH): only what the hypervisor does.
const ONLY_EL2: u64 = (1 << 31) | (1 << 30) | (1 << 27);
/// Event CPU_CYCLES.
const CPU_CYCLES: u64 = 0x11;
/// Software increments counted in the check.
const INCREMENTS: u64 = 5;

/// Reads a PMU system register by name.
macro_rules! read {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading a performance-monitor register of this vCPU has no side
        // effects.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack)) };
        value
    }};
}

/// Writes a PMU system register by name.
macro_rules! write {
    ($name:literal, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: the performance monitors are this program's.
        unsafe {
            asm!(concat!("msr ", $name, ", {}"), "isb", in(reg) value, options(nomem, nostack))
        };
    }};
}

/// Set by the interrupt handler when the PMU's PPI was taken.
static OVERFLOW_TAKEN: AtomicBool = AtomicBool::new(false);

/// Counters stopped, interrupts off, overflows cleared: as after reset.
fn stop() {
    write!("pmcntenclr_el0", u64::from(u32::MAX));
    write!("pmintenclr_el1", u64::from(u32::MAX));
    write!("pmovsclr_el0", u64::from(u32::MAX));
    write!("pmcr_el0", 0);
}

/// Counts the cycles of a short loop and [`INCREMENTS`] software increments on event
/// counter 0 (event 0, SW_INCR); returns how many event counters there are.
pub fn pmu_check() -> Result<u64, &'static str> {
    let pmuver = (read!("id_aa64dfr0_el1") >> 8) & 0xf;
    if pmuver == 0 || pmuver == 0xf {
        return Err("pmu: ID_AA64DFR0_EL1 offers no PMUv3");
    }
    let counters = (read!("pmcr_el0") >> 11) & 0x1f;
    if counters == 0 {
        return Err("pmu: PMCR_EL0.N shows no event counter");
    }
    stop();
    write!("pmccfiltr_el0", 0);
    write!("pmevtyper0_el0", 0);
    write!("pmcr_el0", PMCR_E | PMCR_RESET);
    write!("pmcntenset_el0", CYCLE_COUNTER | COUNTER_0);
    let before = read!("pmccntr_el0");
    let mut spin = 0u64;
    for i in 0..10_000u64 {
        spin = core::hint::black_box(spin.wrapping_add(i));
    }
    let after = read!("pmccntr_el0");
    for _ in 0..INCREMENTS {
        write!("pmswinc_el0", COUNTER_0);
    }
    let increments = read!("pmevcntr0_el0");
    stop();
    if after <= before {
        return Err("pmu: the cycle counter does not rise while it counts");
    }
    if increments != INCREMENTS {
        return Err("pmu: software increments are not counted one by one");
    }
    Ok(counters)
}

/// Called by the interrupt handler for [`PMU_PPI`]: the overflow is cleared, which
/// drops the PMU's interrupt request before the end of the interrupt.
pub fn on_pmu_interrupt() {
    if read!("pmovsset_el0") & COUNTER_0 != 0 {
        OVERFLOW_TAKEN.store(true, Ordering::Release);
    }
    write!("pmovsclr_el0", COUNTER_0);
}

/// Event counter 0 one increment short of overflow, its interrupt enabled: the next
/// software increment overflows it and the PPI is taken (the GIC set up by
/// [`super::init_cpu`] with the PPI enabled); afterwards it is no longer pending.
pub fn pmu_interrupt_check() -> Result<(), &'static str> {
    super::init_cpu();
    super::mask_interrupts();
    super::enable_private_interrupt(PMU_PPI);
    OVERFLOW_TAKEN.store(false, Ordering::Release);
    stop();
    write!("pmevtyper0_el0", 0);
    write!("pmevcntr0_el0", u64::from(u32::MAX));
    write!("pmintenset_el1", COUNTER_0);
    write!("pmcr_el0", PMCR_E);
    write!("pmcntenset_el0", COUNTER_0);
    write!("pmswinc_el0", COUNTER_0);
    super::unmask_interrupts();
    let taken = (0..10_000).any(|_| OVERFLOW_TAKEN.load(Ordering::Acquire));
    super::mask_interrupts();
    let still_pending = super::private_interrupt_pending(PMU_PPI);
    stop();
    if !taken {
        return Err("pmu: a counter overflow did not raise the PMU interrupt");
    }
    if still_pending {
        return Err("pmu: the PMU interrupt stays pending once the overflow is cleared");
    }
    Ok(())
}

/// The hostile case `pmu-count-at-el2`: the cycle counter and event counter 0
/// (CPU_CYCLES) set to count only at EL2 while `exits` makes the hypervisor work
/// for this guest; what they counted (nothing, when the hypervisor keeps its own
/// work out of a guest's counters).
pub fn count_at_el2(exits: impl FnOnce()) -> u64 {
    stop();
    write!("pmccfiltr_el0", ONLY_EL2);
    write!("pmevtyper0_el0", ONLY_EL2 | CPU_CYCLES);
    write!("pmcr_el0", PMCR_E | PMCR_RESET);
    write!("pmcntenset_el0", CYCLE_COUNTER | COUNTER_0);
    exits();
    let counted = read!("pmccntr_el0").wrapping_add(read!("pmevcntr0_el0"));
    stop();
    counted
}
