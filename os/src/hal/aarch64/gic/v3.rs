//! The GICv3 driver: the distributor once, then each CPU's redistributor and its
//! system register CPU interface (ICC_*), with EL1 allowed to use the system registers.
//!
//! EOImode is 1: writing ICC_EOIR1_EL1 only drops the running priority and a separate
//! ICC_DIR_EL1 deactivates (see the module above for why).

use super::{FIRST_SPECIAL_INTID, KICK_SGI, PRIVATE, read, set_priority, write};
use core::arch::asm;

/// GICD_CTLR offset and bits: RWP (31), ARE (4), EnableGrp1 (1), EnableGrp0 (0).
const GICD_CTLR: usize = 0x0;
const GICD_CTLR_RWP: u32 = 1 << 31;
const GICD_CTLR_ENABLE: u32 = (1 << 4) | (1 << 1) | 1;
/// GICD per-interrupt registers: IGROUPR, ISENABLER, IPRIORITYR, IROUTER.
const GICD_IGROUPR: usize = 0x80;
const GICD_ISENABLER: usize = 0x100;
const GICD_IPRIORITYR: usize = 0x400;
const GICD_IROUTER: usize = 0x6000;
/// Distance between the redistributors of consecutive CPUs (RD + SGI frames).
const GICR_STRIDE: usize = 0x2_0000;
/// GICR_WAKER offset and bits: ProcessorSleep (1), ChildrenAsleep (2).
const GICR_WAKER: usize = 0x14;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// SGI_base frame registers: IGROUPR0, ISENABLER0, IPRIORITYR0.
const GICR_SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = GICR_SGI_BASE + 0x80;
const GICR_ISENABLER0: usize = GICR_SGI_BASE + 0x100;
const GICR_IPRIORITYR0: usize = GICR_SGI_BASE + 0x400;
/// ICC_CTLR_EL1.EOImode.
const ICC_CTLR_EOIMODE: u64 = 1 << 1;

/// Enables the distributor at `gicd` with affinity routing.
pub fn init_distributor(gicd: usize) {
    let ctlr = gicd + GICD_CTLR;
    write(ctlr, GICD_CTLR_ENABLE);
    while read(ctlr) & GICD_CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

/// Routes shared peripheral interrupt `intid` to CPU `cpu` and enables it.
pub fn enable_spi(gicd: usize, intid: u32, cpu: usize) {
    let n = intid as usize;
    set_priority(gicd + GICD_IPRIORITYR, intid);
    let group = gicd + GICD_IGROUPR + (n / 32) * 4;
    write(group, read(group) | (1 << (intid % 32)));
    let route = gicd + GICD_IROUTER + n * 8;
    let mpidr = crate::hal::mpidr_of(cpu);
    write(route, (mpidr & 0xff_ffff) as u32);
    write(route + 4, (mpidr >> 32) as u32);
    write(gicd + GICD_ISENABLER + (n / 32) * 4, 1 << (intid % 32));
}

/// Wakes CPU `cpu`'s redistributor (in the region at `gicr`), enables the private
/// interrupts the hypervisor takes, and enables its system register interface.
pub fn init_cpu(gicr: usize, cpu: usize) {
    let rd = gicr + cpu * GICR_STRIDE;
    let waker = rd + GICR_WAKER;
    write(waker, read(waker) & !WAKER_PROCESSOR_SLEEP);
    while read(waker) & WAKER_CHILDREN_ASLEEP != 0 {
        core::hint::spin_loop();
    }
    write(rd + GICR_IGROUPR0, u32::MAX);
    for intid in PRIVATE {
        set_priority(rd + GICR_IPRIORITYR0, intid);
    }
    write(
        rd + GICR_ISENABLER0,
        PRIVATE.iter().fold(0, |bits, intid| bits | (1 << intid)),
    );
    // SAFETY: ICC_SRE_EL2 = SRE | DFB | DIB | Enable (EL1 may use ICC_SRE_EL1), then
    // EOImode 1, all priorities unmasked and group 1 enabled at EL2. Only this CPU's
    // interface changes.
    unsafe {
        asm!(
            "msr icc_sre_el2, {sre}",
            "isb",
            "mrs {tmp}, icc_ctlr_el1",
            "orr {tmp}, {tmp}, {eoimode}",
            "msr icc_ctlr_el1, {tmp}",
            "msr icc_pmr_el1, {pmr}",
            "msr icc_igrpen1_el1, {one}",
            "isb",
            sre = in(reg) 0xfu64,
            tmp = out(reg) _,
            eoimode = in(reg) ICC_CTLR_EOIMODE,
            pmr = in(reg) 0xffu64,
            one = in(reg) 1u64,
            options(nostack, preserves_flags),
        );
    }
}

/// Acknowledges the highest-priority pending interrupt of this CPU, if any.
pub fn acknowledge() -> Option<u32> {
    let intid: u64;
    // SAFETY: reading ICC_IAR1_EL1 acknowledges an interrupt; the caller handles it.
    unsafe { asm!("mrs {}, icc_iar1_el1", out(reg) intid, options(nomem, nostack)) };
    let intid = (intid & 0xff_ffff) as u32;
    (intid < FIRST_SPECIAL_INTID).then_some(intid)
}

/// Drops the running priority of an acknowledged interrupt (it stays active).
pub fn end_of_interrupt(intid: u32) {
    // SAFETY: ICC_EOIR1_EL1 with an acknowledged INTID only drops the running priority.
    unsafe { asm!("msr icc_eoir1_el1, {}", in(reg) u64::from(intid), options(nomem, nostack)) };
}

/// Deactivates an interrupt whose priority was dropped.
pub fn deactivate(intid: u32) {
    // SAFETY: ICC_DIR_EL1 only changes the interrupt's active state.
    unsafe { asm!("msr icc_dir_el1, {}", in(reg) u64::from(intid), options(nomem, nostack)) };
}

/// Sends the kick SGI to CPU `target`, or to every other CPU when `target` is `None`.
pub fn kick(target: Option<usize>) {
    let value = match target {
        // IRM (bit 40): every PE but this one.
        None => 1 << 40,
        Some(cpu) => {
            let mpidr = crate::hal::mpidr_of(cpu);
            // TargetList bit for Aff0, Aff1 at [23:16].
            (1u64 << (mpidr & 0xf)) | (((mpidr >> 8) & 0xff) << 16)
        }
    } | (u64::from(KICK_SGI) << 24);
    // SAFETY: DSB makes this CPU's writes visible before the SGI is generated;
    // ICC_SGI1R_EL1 only signals interrupts.
    unsafe {
        asm!(
            "dsb ish",
            "msr icc_sgi1r_el1, {}",
            "isb",
            in(reg) value,
            options(nostack, preserves_flags)
        )
    };
}
