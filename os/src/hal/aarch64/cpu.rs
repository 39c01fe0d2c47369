//! CPU identity, waiting, and power control through PSCI (the SMC conduit: on QEMU's
//! `virt` board with EL2 the firmware interface lives at EL3).

use aarch64_cpu::registers::{Readable, TPIDR_EL2};
use core::arch::asm;
use smccc::Smc;

/// Index of the running CPU (0 is the boot CPU); stored in TPIDR_EL2 at boot.
pub fn cpu_index() -> usize {
    TPIDR_EL2.get() as usize
}

/// MPIDR affinity of CPU `index` on the `virt` board (16 CPUs per cluster with GICv3).
pub fn mpidr_of(index: usize) -> u64 {
    (((index / 16) as u64) << 8) | (index % 16) as u64
}

/// Starts CPU `index` at the secondary entry point; it then calls the hypervisor's
/// secondary entry with its index.
pub fn start_cpu(index: usize) -> Result<(), smccc::psci::Error> {
    let entry = super::boot::secondary_entry_address();
    smccc::psci::cpu_on::<Smc>(mpidr_of(index), entry, index as u64)
}

/// Sleeps until an event (SEV from another CPU) or an interrupt.
pub fn wait_for_event() {
    // SAFETY: WFE only waits; it has no other effect on state.
    unsafe { asm!("wfe", options(nomem, nostack, preserves_flags)) };
}

/// Sleeps until an interrupt is pending for this CPU, even one masked at EL2; the
/// caller then acknowledges it (see `gic::acknowledge`).
pub fn wait_for_interrupt() {
    // SAFETY: WFI only waits; it has no other effect on state.
    unsafe { asm!("dsb sy", "wfi", options(nomem, nostack, preserves_flags)) };
}

/// Arms this CPU's wake-up at physical counter value `at` (the EL2 physical timer,
/// CNTHP, whose interrupt is `gic::HYPERVISOR_TIMER_PPI`), or disarms it (`None`).
/// The hypervisor's only use of the timer: to wake for a vCPU that waits on its own
/// timer while it is not loaded.
pub fn wake_at(at: Option<u64>) {
    // SAFETY: CNTHP_* belong to EL2, which nothing else here uses; writing them only
    // (re)arms or stops this CPU's hypervisor timer.
    unsafe {
        match at {
            Some(at) => asm!("msr cnthp_cval_el2, {}", "msr cnthp_ctl_el2, {}", "isb",
                             in(reg) at, in(reg) 1u64, options(nomem, nostack, preserves_flags)),
            None => asm!(
                "msr cnthp_ctl_el2, xzr",
                "isb",
                options(nomem, nostack, preserves_flags)
            ),
        }
    }
}

/// Wakes every CPU waiting in [`wait_for_event`].
pub fn send_event() {
    // SAFETY: DSB makes prior writes visible before SEV signals the other CPUs.
    unsafe { asm!("dsb ish", "sev", options(nostack, preserves_flags)) };
}

/// Stops this CPU for good.
pub fn halt() -> ! {
    loop {
        wait_for_event();
    }
}

/// Powers the machine off through PSCI SYSTEM_OFF.
pub fn power_off() -> ! {
    let _ = smccc::psci::system_off::<Smc>();
    halt()
}
