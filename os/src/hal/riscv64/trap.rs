//! Traps taken in HS-mode while the hypervisor itself runs. Guests' traps go through
//! the world switch in `guest.rs` instead; one arriving here is a hypervisor bug,
//! reported with its cause before the hart stops.

use core::arch::global_asm;

/// Points this hart's trap vector at the hypervisor fault handler.
pub fn init() {
    // SAFETY: stvec takes the address of the handler below, 4-byte aligned.
    unsafe {
        core::arch::asm!("la {t}, tessera_hypervisor_trap", "csrw stvec, {t}", t = out(reg) _,
            options(nomem, nostack));
    }
}

global_asm!(
    r#"
    .section .text
    .balign 4
    .global tessera_hypervisor_trap
tessera_hypervisor_trap:
    csrr    a0, scause
    csrr    a1, sepc
    csrr    a2, stval
    j       tessera_hypervisor_fault
"#
);

/// A trap taken while the hypervisor ran: a bug, never a guest action.
#[unsafe(no_mangle)]
extern "C" fn tessera_hypervisor_fault(scause: u64, sepc: u64, stval: u64) -> ! {
    crate::println!(
        "tessera: hypervisor trap on CPU {}: scause {scause:#x} sepc {sepc:#x} stval {stval:#x}; CPU stopped",
        super::cpu_index()
    );
    super::halt()
}
