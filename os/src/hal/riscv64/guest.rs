//! The world switch between the hypervisor (HS-mode) and a guest (VS-mode): save the
//! hypervisor's callee-saved registers, load the guest's general registers, SRET; on
//! the guest's next trap, store its registers back and return to the caller. The
//! guest's CSRs (sepc, hstatus, the VS registers) are the vCPU's business.

use core::arch::global_asm;

/// General-purpose registers of a guest: `x[1]` to `x[31]`; `x[0]` holds the
/// hypervisor's stack pointer while the guest runs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GuestRegs {
    /// x0 (see above) to x31.
    pub x: [u64; 32],
}

unsafe extern "C" {
    fn tessera_enter_guest(regs: *mut GuestRegs);
}

/// Runs the guest with `regs` until its next trap (scause says which).
///
/// # Safety
/// sepc, sstatus.SPP, hstatus (SPV set), hgatp and the VS CSRs must describe a guest
/// whose memory the G-stage table confines; sstatus.SIE must be clear.
pub unsafe fn run(regs: &mut GuestRegs) {
    // SAFETY: the caller set up the guest context; `regs` outlives the call and the
    // assembly restores every callee-saved register (and tp) before returning.
    unsafe { tessera_enter_guest(regs) }
}

global_asm!(
    r#"
    .section .text
    .global tessera_enter_guest
tessera_enter_guest:
    addi    sp, sp, -112
    sd      ra, 0(sp)
    sd      tp, 8(sp)
    sd      s0, 16(sp)
    sd      s1, 24(sp)
    sd      s2, 32(sp)
    sd      s3, 40(sp)
    sd      s4, 48(sp)
    sd      s5, 56(sp)
    sd      s6, 64(sp)
    sd      s7, 72(sp)
    sd      s8, 80(sp)
    sd      s9, 88(sp)
    sd      s10, 96(sp)
    sd      s11, 104(sp)
    sd      sp, 0(a0)
    csrw    sscratch, a0
    la      t0, tessera_guest_exit
    csrw    stvec, t0
    ld      ra, 8(a0)
    ld      sp, 16(a0)
    ld      gp, 24(a0)
    ld      tp, 32(a0)
    ld      t0, 40(a0)
    ld      t1, 48(a0)
    ld      t2, 56(a0)
    ld      s0, 64(a0)
    ld      s1, 72(a0)
    ld      a1, 88(a0)
    ld      a2, 96(a0)
    ld      a3, 104(a0)
    ld      a4, 112(a0)
    ld      a5, 120(a0)
    ld      a6, 128(a0)
    ld      a7, 136(a0)
    ld      s2, 144(a0)
    ld      s3, 152(a0)
    ld      s4, 160(a0)
    ld      s5, 168(a0)
    ld      s6, 176(a0)
    ld      s7, 184(a0)
    ld      s8, 192(a0)
    ld      s9, 200(a0)
    ld      s10, 208(a0)
    ld      s11, 216(a0)
    ld      t3, 224(a0)
    ld      t4, 232(a0)
    ld      t5, 240(a0)
    ld      t6, 248(a0)
    ld      a0, 80(a0)
    sret

    .balign 4
tessera_guest_exit:
    csrrw   a0, sscratch, a0
    sd      ra, 8(a0)
    sd      sp, 16(a0)
    sd      gp, 24(a0)
    sd      tp, 32(a0)
    sd      t0, 40(a0)
    sd      t1, 48(a0)
    sd      t2, 56(a0)
    sd      s0, 64(a0)
    sd      s1, 72(a0)
    sd      a1, 88(a0)
    sd      a2, 96(a0)
    sd      a3, 104(a0)
    sd      a4, 112(a0)
    sd      a5, 120(a0)
    sd      a6, 128(a0)
    sd      a7, 136(a0)
    sd      s2, 144(a0)
    sd      s3, 152(a0)
    sd      s4, 160(a0)
    sd      s5, 168(a0)
    sd      s6, 176(a0)
    sd      s7, 184(a0)
    sd      s8, 192(a0)
    sd      s9, 200(a0)
    sd      s10, 208(a0)
    sd      s11, 216(a0)
    sd      t3, 224(a0)
    sd      t4, 232(a0)
    sd      t5, 240(a0)
    sd      t6, 248(a0)
    csrr    t0, sscratch
    sd      t0, 80(a0)
    ld      sp, 0(a0)
    la      t0, tessera_hypervisor_trap
    csrw    stvec, t0
    ld      ra, 0(sp)
    ld      tp, 8(sp)
    ld      s0, 16(sp)
    ld      s1, 24(sp)
    ld      s2, 32(sp)
    ld      s3, 40(sp)
    ld      s4, 48(sp)
    ld      s5, 56(sp)
    ld      s6, 64(sp)
    ld      s7, 72(sp)
    ld      s8, 80(sp)
    ld      s9, 88(sp)
    ld      s10, 96(sp)
    ld      s11, 104(sp)
    addi    sp, sp, 112
    ret
"#
);
