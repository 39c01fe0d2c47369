//! x86_64 on a PC: multiboot entry and long mode, the interrupt descriptor table,
//! COM1 as the console, the local APICs (x2APIC where present) with their timers
//! and the I/O APIC, and CPU bring-up with INIT-SIPI-SIPI.

mod apic;
mod boot;
pub mod cpu;
pub mod io;
pub mod svm;
pub mod timer;
mod trap;
mod uart;

pub use cpu::{
    PENDING_KICK, PENDING_TIMER, PENDING_UART, cpu_index, halt, kick, power_off, start_cpu,
    take_interrupts, take_pending_interrupts, wait_for_interrupt,
};
pub use uart::{console_put, console_read};

/// The ports of the two legacy 8259 interrupt controllers' mask registers.
const PIC_MASTER_DATA: u16 = 0x21;
const PIC_SLAVE_DATA: u16 = 0xa1;

/// End of the hypervisor image in memory (after BSS): RAM above it is free.
pub fn image_end() -> u64 {
    boot::image_end()
}

/// A PC has no device tree from its boot loader.
pub fn host_dtb() -> Option<&'static [u8]> {
    None
}

/// Hardware set-up of the boot CPU (after the heap is up): console, interrupt
/// table, the legacy PICs masked, the local APIC, the console's interrupt routed here.
pub fn init_boot_cpu() {
    uart::init();
    io::outb(PIC_MASTER_DATA, 0xff);
    io::outb(PIC_SLAVE_DATA, 0xff);
    trap::fill();
    trap::load();
    apic::init_local();
    timer::calibrate();
    apic::route_isa_irq(
        crate::platform::UART_IRQ,
        apic::UART_VECTOR,
        cpu_index() as u32,
    );
    uart::enable_input_interrupt();
}

/// Hardware set-up of a secondary CPU.
pub fn init_secondary_cpu(_cpu: usize) {
    trap::load();
    apic::init_local();
}

/// Ticks of the time-stamp counter.
pub fn counter_ticks() -> u64 {
    io::rdtsc()
}

/// Nothing to drop for a VM that is gone: every vCPU flushes its ASID's
/// translations when it is loaded on a CPU (VMCB TLB_CONTROL), so a VM created
/// later with the same ASID starts clean.
pub fn forget_guest_translations(_vmid: u16) {}

/// x86 keeps instruction fetch coherent with stores: nothing to do.
pub fn sync_caches_for_guest(_addr: u64, _len: u64) {}
