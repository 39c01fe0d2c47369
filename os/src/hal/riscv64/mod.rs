//! riscv64 in HS-mode (the H extension) under OpenSBI: boot, Sv39 identity paging,
//! trap vectors, the guest world switch, the ns16550 console, the PLIC, and CPU
//! (hart) control through SBI.

mod boot;
pub mod cpu;
pub mod guest;
pub mod plic;
pub mod sbi;
mod trap;
mod uart;

pub use boot::host_dtb;
pub use cpu::{cpu_index, halt, kick, power_off, start_cpu, wait_for_interrupt, wake_at};
pub use uart::{console_put, console_read};

/// End of the hypervisor image in memory (after BSS): RAM above it is free.
pub fn image_end() -> u64 {
    boot::image_end()
}

/// Per-CPU hardware set-up of the boot CPU (after the heap is up).
pub fn init_boot_cpu() {
    let cpu = cpu_index();
    trap::init();
    uart::enable_input_interrupt();
    plic::init_context(cpu);
    plic::enable(crate::platform::UART_IRQ, cpu);
    cpu::enable_interrupts();
}

/// Per-CPU hardware set-up of a secondary CPU.
pub fn init_secondary_cpu(cpu: usize) {
    trap::init();
    plic::init_context(cpu);
    cpu::enable_interrupts();
}

/// Ticks of the platform timer (the `time` CSR) since boot.
pub fn counter_ticks() -> u64 {
    let ticks: u64;
    // SAFETY: reading `time` has no side effects.
    unsafe { core::arch::asm!("rdtime {}", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// Drops every G-stage translation any hart caches for VM `vmid`, whose tables and
/// RAM are about to go back: a VM created later with the same VMID starts clean.
pub fn forget_guest_translations(vmid: u16) {
    sbi::remote_hfence_gvma_vmid(0, u64::MAX, u64::from(vmid));
}

/// Makes instructions the hypervisor wrote into guest memory visible to every hart's
/// instruction fetch (local FENCE.I, and the same on the other harts through SBI).
pub fn sync_caches_for_guest(_addr: u64, _len: u64) {
    // SAFETY: FENCE.I only orders instruction fetches after earlier stores.
    unsafe { core::arch::asm!("fence rw, rw", "fence.i", options(nostack)) };
    sbi::remote_fence_i(0, u64::MAX);
}
