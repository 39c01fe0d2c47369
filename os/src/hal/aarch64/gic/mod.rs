//! The host's GIC, a GICv2 or a GICv3 as the boot loader's device tree says (chosen at
//! boot, not at build time): set-up, acknowledging and ending interrupts, routing
//! SPIs, and kicks between CPUs. Both drivers keep the same model:
//!
//! * Every interrupt the hypervisor takes has one priority and goes to EL2 as an IRQ.
//! * EOImode is 1: ending an interrupt only drops the running priority and a separate
//!   deactivation ends it. The hypervisor deactivates its own interrupts at once, but
//!   leaves a guest timer's interrupt active until the guest deactivates the virtual
//!   interrupt linked to it (list register HW bit), so it cannot fire again meanwhile.

mod v2;
mod v3;

use core::sync::atomic::{AtomicBool, Ordering};
pub use tessera_dtb::{Frame, HostGic};

/// SGI one CPU sends another to make it look at its vCPUs again.
pub const KICK_SGI: u32 = 0;
/// PPI of the GIC's virtual CPU interface maintenance interrupt.
pub const MAINTENANCE_PPI: u32 = 25;
/// PPI of the EL1 virtual timer (the guest's timer).
pub const VIRTUAL_TIMER_PPI: u32 = 27;
/// PPI of the EL1 physical timer (the guest's, too: EL1 may use it directly).
pub const PHYSICAL_TIMER_PPI: u32 = 30;
/// PPI of the performance monitors' overflow interrupt (the guest's PMU, QEMU virt
/// and the usual GIC PPI map).
pub const PMU_PPI: u32 = 23;
/// The PPIs a guest's own devices drive while its vCPU is loaded on a CPU: its
/// virtual and EL1 physical timers, its PMU's overflow.
pub const GUEST_DEVICE_PPIS: [u32; 3] = [VIRTUAL_TIMER_PPI, PHYSICAL_TIMER_PPI, PMU_PPI];
/// PPI of the EL2 physical timer: the hypervisor's wake-up (`cpu::wake_at`).
pub const HYPERVISOR_TIMER_PPI: u32 = 26;
/// The private interrupts (SGI, PPIs) every CPU enables for the hypervisor.
const PRIVATE: [u32; 6] = [
    KICK_SGI,
    MAINTENANCE_PPI,
    VIRTUAL_TIMER_PPI,
    PHYSICAL_TIMER_PPI,
    PMU_PPI,
    HYPERVISOR_TIMER_PPI,
];
/// Priority of every interrupt the hypervisor takes (any value the PMR lets through).
const PRIORITY: u32 = 0x80;
/// INTIDs at and above this are special (1020-1023: none pending, spurious).
const FIRST_SPECIAL_INTID: u32 = 1020;
/// Distributor registers at the same offsets in both architectures.
const GICD_ICENABLER: usize = 0x180;
const GICD_ICACTIVER: usize = 0x380;

/// The host's GIC, set once by [`init_distributor`] on the boot CPU.
static HOST: spin::Once<HostGic> = spin::Once::new();
/// Whether it is a GICv2 (read on every interrupt, so kept apart from [`HOST`]).
static IS_V2: AtomicBool = AtomicBool::new(false);

fn read(addr: usize) -> u32 {
    // SAFETY: callers pass GIC register addresses from the host device tree, in the
    // identity-mapped device range.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

fn write(addr: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

/// Sets the priority byte of `intid` in the IPRIORITYR array at `array`.
fn set_priority(array: usize, intid: u32) {
    let word = array + (intid as usize & !3);
    let shift = (intid % 4) * 8;
    write(word, (read(word) & !(0xff << shift)) | (PRIORITY << shift));
}

/// The host's GIC (after [`init_distributor`]).
pub fn host() -> Option<&'static HostGic> {
    HOST.get()
}

/// Whether the host's GIC is a GICv2 (memory-mapped CPU interface).
pub fn is_v2() -> bool {
    IS_V2.load(Ordering::Relaxed)
}

/// The GICv2 hypervisor control interface (GICH) of this CPU, when the host has a
/// GICv2 with the virtualization extensions.
pub fn hyp_interface() -> Option<usize> {
    match HOST.get()? {
        HostGic::V2 {
            virtualization: Some((gich, _)),
            ..
        } => Some(gich.0 as usize),
        _ => None,
    }
}

/// Finds the host's GIC in the boot loader's device tree and enables its
/// distributor. Without one Tessera cannot take an interrupt: it stops, saying why.
pub fn init_distributor() {
    let found = super::host_dtb()
        .ok_or_else(|| alloc::string::String::from("the boot loader passed no device tree"))
        .and_then(tessera_dtb::host_gic);
    let gic = match found {
        Ok(gic) => *HOST.call_once(|| gic),
        Err(why) => panic!("no interrupt controller to drive: {why}"),
    };
    match gic {
        HostGic::V3 { distributor, .. } => v3::init_distributor(distributor.0 as usize),
        HostGic::V2 { distributor, .. } => {
            IS_V2.store(true, Ordering::Relaxed);
            v2::init_distributor(distributor.0 as usize);
        }
    }
}

/// Routes shared peripheral interrupt `intid` to CPU `cpu` and enables it.
pub fn enable_spi(intid: u32, cpu: usize) {
    match HOST.get() {
        Some(HostGic::V3 { distributor, .. }) => {
            v3::enable_spi(distributor.0 as usize, intid, cpu);
        }
        Some(HostGic::V2 { distributor, .. }) => {
            v2::enable_spi(distributor.0 as usize, intid, cpu);
        }
        None => {}
    }
}

/// Disables shared peripheral interrupt `intid` and clears its active state.
pub fn disable_spi(intid: u32) {
    let Some(HostGic::V3 { distributor, .. } | HostGic::V2 { distributor, .. }) = HOST.get() else {
        return;
    };
    let gicd = distributor.0 as usize;
    let n = intid as usize;
    write(gicd + GICD_ICENABLER + (n / 32) * 4, 1 << (intid % 32));
    write(gicd + GICD_ICACTIVER + (n / 32) * 4, 1 << (intid % 32));
}

/// Enables the private interrupts the hypervisor takes on CPU `cpu` (the running
/// one) and its CPU interface.
pub fn init_cpu(cpu: usize) {
    match HOST.get() {
        Some(HostGic::V3 { redistributors, .. }) => v3::init_cpu(redistributors.0 as usize, cpu),
        Some(HostGic::V2 {
            distributor,
            cpu_interface,
            ..
        }) => v2::init_cpu(distributor.0 as usize, cpu_interface.0 as usize, cpu),
        None => {}
    }
}

/// Acknowledges the highest-priority pending interrupt of this CPU, if any.
pub fn acknowledge() -> Option<u32> {
    if is_v2() {
        v2::acknowledge()
    } else {
        v3::acknowledge()
    }
}

/// Drops the running priority of an acknowledged interrupt (it stays active).
pub fn end_of_interrupt(intid: u32) {
    if is_v2() {
        v2::end_of_interrupt(intid);
    } else {
        v3::end_of_interrupt(intid);
    }
}

/// Deactivates an interrupt whose priority was dropped.
pub fn deactivate(intid: u32) {
    if is_v2() {
        v2::deactivate(intid);
    } else {
        v3::deactivate(intid);
    }
}

/// Sends the kick SGI to CPU `target`, or to every other CPU when `target` is `None`.
pub fn kick(target: Option<usize>) {
    match HOST.get() {
        Some(HostGic::V2 { distributor, .. }) => v2::kick(distributor.0 as usize, target),
        Some(HostGic::V3 { .. }) => v3::kick(target),
        None => {}
    }
}
