//! aarch64 at EL2: boot, exception vectors, the guest world switch, PL011 console,
//! GICv3, the generic timer, and CPU bring-up through PSCI.

mod boot;
pub mod cpu;
pub mod gic;
pub mod guest;
mod pl011;
mod trap;

pub use cpu::{
    cpu_index, halt, mpidr_of, power_off, send_event, start_cpu, wait_for_event,
    wait_for_interrupt, wake_at,
};
pub use pl011::{console_put, console_read};

pub use boot::host_dtb;

/// End of the hypervisor image in memory (after BSS): RAM above it is free.
pub fn image_end() -> u64 {
    boot::image_end()
}

/// Per-CPU hardware set-up of the boot CPU (after the heap is up).
pub fn init_boot_cpu() {
    gic::init_distributor();
    gic::init_cpu(0);
    pl011::enable_input_interrupt();
    gic::enable_spi(crate::platform::UART_IRQ, 0);
}

/// Per-CPU hardware set-up of a secondary CPU.
pub fn init_secondary_cpu(cpu: usize) {
    gic::init_cpu(cpu);
}

/// Ticks of the system counter since boot.
pub fn counter_ticks() -> u64 {
    use aarch64_cpu::registers::{CNTPCT_EL0, Readable};
    CNTPCT_EL0.get()
}

/// Drops every stage-1 and stage-2 translation any CPU of the inner-shareable
/// domain caches for VM `vmid`, whose tables and RAM are about to go back, so a VM
/// created later with the same VMID starts clean. TLBI VMALLS12E1IS acts on the
/// VMID in VTTBR_EL2, which is put back afterwards (a vCPU may be loaded here).
pub fn forget_guest_translations(vmid: u16) {
    // SAFETY: VTTBR_EL2 holds the VMID only while this CPU is at EL2 (no guest runs
    // here meanwhile) and is restored before returning; TLB maintenance only drops
    // cached translations.
    unsafe {
        core::arch::asm!(
            "mrs {saved}, vttbr_el2",
            "msr vttbr_el2, {vmid}",
            "isb",
            "dsb ishst",
            "tlbi vmalls12e1is",
            "dsb ish",
            "msr vttbr_el2, {saved}",
            "isb",
            saved = out(reg) _,
            vmid = in(reg) u64::from(vmid) << 48,
            options(nostack, preserves_flags)
        )
    };
}

/// Cleans `[addr, addr + len)` from the data caches to the point of coherency and
/// invalidates the instruction cache, so a guest running with its MMU off (uncached)
/// sees what the hypervisor wrote there.
pub fn sync_caches_for_guest(addr: u64, len: u64) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 (cache type) has no side effects.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    // CTR_EL0.DminLine (bits 19:16): log2 of the smallest data cache line in words.
    let line = 4u64 << ((ctr >> 16) & 0xf);
    let mut at = addr & !(line - 1);
    while at < addr.saturating_add(len) {
        // SAFETY: cleaning a cache line by address only writes dirty data back.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) at, options(nostack, preserves_flags)) };
        at += line;
    }
    // SAFETY: barriers and instruction cache invalidation have no other effect.
    unsafe {
        core::arch::asm!(
            "dsb sy",
            "ic iallu",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}
