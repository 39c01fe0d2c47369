//! riscv64 interrupts for the benchmarks: a supervisor trap vector, the Sstc timer
//! (stimecmp), SBI IPIs (supervisor software interrupts), and a second hart started
//! with SBI HSM.

use crate::irq::{self, Event};
use core::arch::{asm, global_asm};

/// "Event" tags of the IPI round trip (one software interrupt serves both ways; the
/// receiving hart tells them apart).
pub const SGI_PING: u32 = 1;
/// See [`SGI_PING`].
pub const SGI_PONG: u32 = 2;
/// sie/sip bits: software (1) and timer (5).
const SSIE: u64 = 1 << 1;
const STIE: u64 = 1 << 5;
/// scause interrupt codes.
const IRQ_SOFTWARE: u64 = 1;
const IRQ_TIMER: u64 = 5;

global_asm!(
    r#"
    .section .text
    .balign 4
    .global tessera_guest_trap
tessera_guest_trap:
    addi    sp, sp, -128
    sd      ra, 0(sp)
    sd      t0, 8(sp)
    sd      t1, 16(sp)
    sd      t2, 24(sp)
    sd      a0, 32(sp)
    sd      a1, 40(sp)
    sd      a2, 48(sp)
    sd      a3, 56(sp)
    sd      a4, 64(sp)
    sd      a5, 72(sp)
    sd      a6, 80(sp)
    sd      a7, 88(sp)
    sd      t3, 96(sp)
    sd      t4, 104(sp)
    sd      t5, 112(sp)
    sd      t6, 120(sp)
    csrr    a0, scause
    call    {handler}
    ld      ra, 0(sp)
    ld      t0, 8(sp)
    ld      t1, 16(sp)
    ld      t2, 24(sp)
    ld      a0, 32(sp)
    ld      a1, 40(sp)
    ld      a2, 48(sp)
    ld      a3, 56(sp)
    ld      a4, 64(sp)
    ld      a5, 72(sp)
    ld      a6, 80(sp)
    ld      a7, 88(sp)
    ld      t3, 96(sp)
    ld      t4, 104(sp)
    ld      t5, 112(sp)
    ld      t6, 120(sp)
    addi    sp, sp, 128
    sret

    .global tessera_guest_secondary
tessera_guest_secondary:            // a0 = hart id, a1 = top of this hart's stack
    mv      sp, a1
    j       {secondary}
"#,
    handler = sym trap_entry,
    secondary = sym secondary_entry,
);

/// This hart's index (the benchmark guest keeps it in `tp`: 0, or 1 once started).
pub fn cpu() -> usize {
    let tp: usize;
    // SAFETY: reading tp, which this program sets and nothing else changes.
    unsafe { asm!("mv {}, tp", out(reg) tp, options(nomem, nostack)) };
    tp
}

/// Trap vector, timer and software interrupts enabled.
pub fn init_cpu() {
    // SAFETY: this program's own trap vector and interrupt enables.
    unsafe {
        asm!(
            "la {t}, tessera_guest_trap",
            "csrw stvec, {t}",
            "csrs sie, {ie}",
            "csrsi sstatus, 2",
            t = out(reg) _,
            ie = in(reg) SSIE | STIE,
            options(nostack),
        );
    }
}

/// Arms the Sstc timer for `time` value `deadline`.
pub fn arm_timer(deadline: u64) {
    // SAFETY: stimecmp is this program's timer.
    unsafe { asm!("csrw stimecmp, {}", in(reg) deadline, options(nomem, nostack)) };
}

/// Sends a software interrupt to hart `target`.
pub fn send_ipi(target: usize, _event: u32) {
    // SAFETY: an SBI IPI call (a0 hart mask, a1 base); only a0/a1 change.
    unsafe {
        asm!("ecall", inlateout("a0") 1u64 << target => _, inlateout("a1") 0u64 => _,
             in("a6") 0u64, in("a7") 0x73_5049u64, options(nostack));
    }
}

/// Waits for an interrupt.
pub fn wait() {
    // SAFETY: WFI only waits.
    unsafe { asm!("wfi", options(nomem, nostack)) };
}

/// Starts hart 1 with `stack_top` as its stack; it runs `irq::secondary_main`.
pub fn start_secondary(stack_top: u64) -> bool {
    unsafe extern "C" {
        fn tessera_guest_secondary();
    }
    let entry = tessera_guest_secondary as *const () as u64;
    let error: i64;
    // SAFETY: SBI HSM hart_start (a0 hart, a1 start address, a2 opaque).
    unsafe {
        asm!("ecall", inlateout("a0") 1u64 => error, inlateout("a1") entry => _,
             in("a2") stack_top, in("a6") 0u64, in("a7") 0x48_534Du64, options(nostack));
    }
    error == 0
}

extern "C" fn secondary_entry() -> ! {
    // SAFETY: this hart's index lives in tp for `cpu()`.
    unsafe { asm!("li tp, 1", options(nomem, nostack)) };
    irq::secondary_main()
}

/// The trap vector's Rust half.
extern "C" fn trap_entry(scause: u64) {
    if scause >> 63 == 0 {
        return;
    }
    match scause & 0xff {
        IRQ_TIMER => {
            arm_timer(u64::MAX);
            irq::on_event(Event::Timer);
        }
        IRQ_SOFTWARE => {
            // SAFETY: clears this hart's software interrupt, which was just taken.
            unsafe { asm!("csrc sip, {}", in(reg) SSIE, options(nomem, nostack)) };
            irq::on_event(if cpu() == 0 { Event::Pong } else { Event::Ping });
        }
        _ => {}
    }
}
