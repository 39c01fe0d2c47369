//! The world switch between the hypervisor and a guest at EL1: save the hypervisor's
//! callee-saved registers, load the guest's general registers, ERET; on the next
//! exception from the guest, store its registers back and return to the caller.
//! Guest system registers (ELR_EL2, SPSR_EL2, EL1 state) are the vCPU's business.

use core::arch::global_asm;

/// General-purpose registers x0..x30 of a guest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GuestRegs {
    /// x0 to x30.
    pub x: [u64; 31],
}

/// Why the guest stopped: the vector the exception came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Synchronous exception (ESR_EL2 says which).
    Sync,
    /// Physical IRQ.
    Irq,
    /// Physical FIQ.
    Fiq,
    /// SError.
    SError,
    /// An exception from AArch32 state, which guests never run in.
    AArch32,
}

unsafe extern "C" {
    fn tessera_enter_guest(regs: *mut GuestRegs) -> u64;
}

/// Runs the guest with `regs` until its next exception. ELR_EL2, SPSR_EL2, VTTBR_EL2,
/// HCR_EL2 and the EL1 registers must hold the guest's state.
///
/// # Safety
/// The EL2 registers above must describe a guest whose memory the stage-2 tables
/// confine; interrupts must be masked at EL2.
pub unsafe fn run(regs: &mut GuestRegs) -> ExitKind {
    // SAFETY: the caller set up the guest context; `regs` outlives the call and the
    // assembly restores every callee-saved register before returning.
    match unsafe { tessera_enter_guest(regs) } {
        0 => ExitKind::Sync,
        1 => ExitKind::Irq,
        2 => ExitKind::Fiq,
        3 => ExitKind::SError,
        _ => ExitKind::AArch32,
    }
}

// Stack while the guest runs: [sp] = &GuestRegs (16 bytes), above it x19..x30.
global_asm!(
    r#"
    .section .text
    .global tessera_enter_guest
tessera_enter_guest:
    stp     x29, x30, [sp, #-16]!
    stp     x27, x28, [sp, #-16]!
    stp     x25, x26, [sp, #-16]!
    stp     x23, x24, [sp, #-16]!
    stp     x21, x22, [sp, #-16]!
    stp     x19, x20, [sp, #-16]!
    stp     x0, xzr, [sp, #-16]!
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0]
    eret

    .global tessera_guest_exit
tessera_guest_exit:                 // x0 = exit kind, guest x0/x1 at [sp]
    ldr     x1, [sp, #16]
    stp     x2, x3, [x1, #16]
    stp     x4, x5, [x1, #32]
    stp     x6, x7, [x1, #48]
    stp     x8, x9, [x1, #64]
    stp     x10, x11, [x1, #80]
    stp     x12, x13, [x1, #96]
    stp     x14, x15, [x1, #112]
    stp     x16, x17, [x1, #128]
    stp     x18, x19, [x1, #144]
    stp     x20, x21, [x1, #160]
    stp     x22, x23, [x1, #176]
    stp     x24, x25, [x1, #192]
    stp     x26, x27, [x1, #208]
    stp     x28, x29, [x1, #224]
    str     x30, [x1, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x1]
    add     sp, sp, #16
    ldp     x19, x20, [sp], #16
    ldp     x21, x22, [sp], #16
    ldp     x23, x24, [sp], #16
    ldp     x25, x26, [sp], #16
    ldp     x27, x28, [sp], #16
    ldp     x29, x30, [sp], #16
    ret
"#
);
