//! GICv3 set-up: the distributor once, then each CPU's redistributor and its system
//! register CPU interface (ICC_*), with EL1 allowed to use the system registers.

use crate::platform::{GICD_BASE, GICR_BASE};
use core::arch::asm;

/// GICD_CTLR offset and bits: RWP (31), ARE (4), EnableGrp1 (1), EnableGrp0 (0).
const GICD_CTLR: usize = 0x0;
const GICD_CTLR_RWP: u32 = 1 << 31;
const GICD_CTLR_ENABLE: u32 = (1 << 4) | (1 << 1) | 1;
/// Distance between the redistributors of consecutive CPUs (RD + SGI frames).
const GICR_STRIDE: usize = 0x2_0000;
/// GICR_WAKER offset and bits: ProcessorSleep (1), ChildrenAsleep (2).
const GICR_WAKER: usize = 0x14;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

fn read(addr: usize) -> u32 {
    // SAFETY: callers pass GIC register addresses from the platform description,
    // identity-mapped as device memory.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write(addr: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

/// Enables the distributor with affinity routing.
pub fn init_distributor() {
    let ctlr = GICD_BASE as usize + GICD_CTLR;
    write(ctlr, GICD_CTLR_ENABLE);
    while read(ctlr) & GICD_CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

/// Wakes CPU `cpu`'s redistributor and enables its system register interface.
pub fn init_cpu(cpu: usize) {
    let waker = GICR_BASE as usize + cpu * GICR_STRIDE + GICR_WAKER;
    write(waker, read(waker) & !WAKER_PROCESSOR_SLEEP);
    while read(waker) & WAKER_CHILDREN_ASLEEP != 0 {
        core::hint::spin_loop();
    }
    // SAFETY: ICC_SRE_EL2 = SRE | DFB | DIB | Enable (EL1 may use ICC_SRE_EL1), then
    // unmask all priorities and enable group 1 at EL2. Only this CPU's interface changes.
    unsafe {
        asm!(
            "msr icc_sre_el2, {sre}",
            "isb",
            "msr icc_pmr_el1, {pmr}",
            "msr icc_igrpen1_el1, {one}",
            "isb",
            sre = in(reg) 0xfu64,
            pmr = in(reg) 0xffu64,
            one = in(reg) 1u64,
            options(nostack, preserves_flags),
        );
    }
}
