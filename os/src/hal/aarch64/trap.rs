//! The EL2 exception vector table. Exceptions from the guest (lower EL) end the
//! world switch in `guest.rs`; exceptions taken at EL2 itself are hypervisor bugs,
//! reported with their syndrome before the CPU stops.

use core::arch::global_asm;

// Each vector entry is 0x80 bytes; the table is 2 KiB aligned. Lower-EL entries push
// the guest's x0/x1, put the exit kind in x0 and join `tessera_guest_exit`.
global_asm!(
    r#"
.macro HYP_FAULT kind
    .balign 0x80
    mov     x0, #\kind
    b       tessera_hypervisor_fault
.endm
.macro GUEST_EXIT kind
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x0, #\kind
    b       tessera_guest_exit
.endm

    .section .text
    .balign 0x800
    .global tessera_exception_vectors
tessera_exception_vectors:
    HYP_FAULT 0
    HYP_FAULT 1
    HYP_FAULT 2
    HYP_FAULT 3
    HYP_FAULT 0
    HYP_FAULT 1
    HYP_FAULT 2
    HYP_FAULT 3
    GUEST_EXIT 0
    GUEST_EXIT 1
    GUEST_EXIT 2
    GUEST_EXIT 3
    GUEST_EXIT 4
    GUEST_EXIT 4
    GUEST_EXIT 4
    GUEST_EXIT 4
"#
);

/// An exception taken at EL2: a hypervisor bug, never a guest action. Reports and stops this CPU.
#[unsafe(no_mangle)]
extern "C" fn tessera_hypervisor_fault(kind: u64) -> ! {
    use aarch64_cpu::registers::{ELR_EL2, ESR_EL2, FAR_EL2, Readable};
    crate::println!(
        "tessera: hypervisor exception (kind {kind}) on CPU {}: ESR_EL2 {:#x} ELR_EL2 {:#x} FAR_EL2 {:#x}; CPU stopped",
        super::cpu_index(),
        ESR_EL2.get(),
        ELR_EL2.get(),
        FAR_EL2.get()
    );
    super::halt()
}
