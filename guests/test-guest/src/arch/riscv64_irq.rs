//! riscv64 interrupts for the benchmarks: a supervisor trap vector, the Sstc timer
//! (stimecmp), SBI IPIs (supervisor software interrupts), and a second hart started
//! with SBI HSM.

use super::riscv64::sbi;
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
/// sie bit of supervisor external interrupts.
const SEIE: u64 = 1 << 9;
/// scause interrupt codes.
const IRQ_SOFTWARE: u64 = 1;
const IRQ_TIMER: u64 = 5;
const IRQ_EXTERNAL: u64 = 9;
/// The PLIC on QEMU `virt` (and in Tessera's VM configs that give a guest one), and
/// the registers of context 1, hart 0's S mode: enables, threshold, claim/complete.
const PLIC: usize = 0x0c00_0000;
const PLIC_ENABLES: usize = PLIC + 0x2000 + 0x80;
const PLIC_THRESHOLD: usize = PLIC + 0x20_0000 + 0x1000;
const PLIC_CLAIM: usize = PLIC_THRESHOLD + 4;

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

fn plic_write(addr: usize, value: u32) {
    // SAFETY: PLIC registers of the `virt` layout, device memory this program owns.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

fn plic_read(addr: usize) -> u32 {
    // SAFETY: as in `plic_write`.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// The SBI HSM extension, and hart_get_status's SUSPENDED state.
const EID_HSM: u64 = 0x48_534D;
const HART_SUSPENDED: u64 = 4;

/// A default retentive suspend of this hart; whether it returned SUCCESS.
pub fn suspend_retentive() -> bool {
    super::riscv64::sbi(EID_HSM, 3, 0, 0, 0).0 == 0
}

/// Polls hart `hart`'s HSM status until it reads SUSPENDED; whether it did before
/// the patience ran out.
pub fn watch_suspend_of(hart: u64) -> bool {
    (0..1_000_000).any(|_| super::riscv64::sbi(EID_HSM, 2, hart, 0, 0) == (0, HART_SUSPENDED))
}

/// What the non-retentive suspend of [`hsm_suspend_check`] passes as its opaque
/// value, and the registers it keeps over the suspend, which does not keep them:
/// sp, gp, tp, s0-s11.
const RESUME_OPAQUE: u64 = 0x5eed_5ee0;
static mut RESUME_CONTEXT: [u64; 15] = [0; 15];

/// HSM suspend (SBI 2.0 section 9.4) with the timer as the wake-up: a default
/// retentive suspend returns SUCCESS once the timer it armed is due; a default
/// non-retentive suspend does not return but resumes at its resume address with a0
/// the hart id and a1 the opaque value. Whether the non-retentive kind is offered
/// (the firmware this program runs on natively may answer NOT_SUPPORTED).
pub fn hsm_suspend_check() -> Result<bool, &'static str> {
    const NOT_SUPPORTED: u64 = -2i64 as u64;
    // The timer interrupt enabled but masked (sstatus.SIE clear): it wakes the
    // suspended hart, and is not taken.
    // SAFETY: only this hart's interrupt mask and timer enable change.
    unsafe {
        asm!("csrci sstatus, 2", "csrs sie, {}", in(reg) STIE, options(nomem, nostack));
    }
    let deadline = super::counter() + 1000;
    arm_timer(deadline);
    let returned = suspend_retentive();
    let woken = super::counter() >= deadline;
    arm_timer(u64::MAX);
    if !returned {
        return Err("hsm suspend: a retentive suspend did not return SUCCESS");
    }
    if !woken {
        return Err("hsm suspend: a retentive suspend returned before its wake-up");
    }
    let deadline = super::counter() + 1000;
    arm_timer(deadline);
    let (error, hart, opaque, resumed): (u64, u64, u64, u64);
    // SAFETY: an SBI non-retentive suspend. On success the call does not return: the
    // hart resumes at label 2 with every register but a0/a1 lost, and the code there
    // takes sp, gp, tp and s0-s11 back from RESUME_CONTEXT (saved just before), so to
    // the surrounding code the block keeps them as any call would; the registers
    // named below are clobbered. On failure the ecall returns an error in a0.
    unsafe {
        asm!(
            "la t0, {ctx}",
            "sd sp, 0(t0)", "sd gp, 8(t0)", "sd tp, 16(t0)",
            "sd s0, 24(t0)", "sd s1, 32(t0)", "sd s2, 40(t0)", "sd s3, 48(t0)",
            "sd s4, 56(t0)", "sd s5, 64(t0)", "sd s6, 72(t0)", "sd s7, 80(t0)",
            "sd s8, 88(t0)", "sd s9, 96(t0)", "sd s10, 104(t0)", "sd s11, 112(t0)",
            "li t1, 0",
            "li a0, 0x80000000",
            "la a1, 2f",
            "ecall",
            "j 3f",
            "2:",
            "la t0, {ctx}",
            "ld sp, 0(t0)", "ld gp, 8(t0)", "ld tp, 16(t0)",
            "ld s0, 24(t0)", "ld s1, 32(t0)", "ld s2, 40(t0)", "ld s3, 48(t0)",
            "ld s4, 56(t0)", "ld s5, 64(t0)", "ld s6, 72(t0)", "ld s7, 80(t0)",
            "ld s8, 88(t0)", "ld s9, 96(t0)", "ld s10, 104(t0)", "ld s11, 112(t0)",
            "li t1, 1",
            "3:",
            ctx = sym RESUME_CONTEXT,
            inout("a0") 0u64 => error,
            inout("a1") 0u64 => opaque,
            inout("a2") RESUME_OPAQUE => _,
            in("a6") 3u64,
            in("a7") EID_HSM,
            out("t0") _,
            inout("t1") 0u64 => resumed,
            out("ra") _,
            clobber_abi("C"),
        );
    }
    hart = error;
    arm_timer(u64::MAX);
    // A resumed hart starts afresh: its trap vector is set again.
    install_vectors();
    match resumed {
        0 if error == NOT_SUPPORTED => Ok(false),
        0 => Err("hsm suspend: a non-retentive suspend returned an error"),
        _ if hart != 0 || opaque != RESUME_OPAQUE => {
            Err("hsm suspend: a non-retentive suspend resumed without its hart id and opaque value")
        }
        _ if super::counter() < deadline => {
            Err("hsm suspend: a non-retentive suspend resumed before its wake-up")
        }
        _ => Ok(true),
    }
}

/// Enables PLIC source `source` to hart 0's S mode (priority 1, threshold 0) and
/// external interrupts; the trap handler hands it to the message exchange.
pub fn enable_device_interrupt(source: u32) {
    let index = source as usize;
    plic_write(PLIC + 4 * index, 1);
    let enables = PLIC_ENABLES + 4 * (index / 32);
    plic_write(enables, plic_read(enables) | 1 << (source % 32));
    plic_write(PLIC_THRESHOLD, 0);
    // SAFETY: enables this program's own external interrupts.
    unsafe { asm!("csrs sie, {}", in(reg) SEIE, options(nomem, nostack)) };
}

/// Arms the Sstc timer for `time` value `deadline`.
pub fn arm_timer(deadline: u64) {
    // SAFETY: stimecmp is this program's timer.
    unsafe { asm!("csrw stimecmp, {}", in(reg) deadline, options(nomem, nostack)) };
}

/// Whether the timer interrupt is pending (sip.STIP).
fn timer_pending() -> bool {
    let sip: u64;
    // SAFETY: reading sip has no side effects.
    unsafe { asm!("csrr {}, sip", out(reg) sip, options(nomem, nostack)) };
    sip & STIE != 0
}

/// The Sstc timer interrupt is the comparison's level, as the privileged spec has it:
/// pending while `time` >= stimecmp, not pending once stimecmp lies ahead, and
/// pending again when it is back in the past (its interrupt not enabled, so not
/// taken). The timer is off afterwards.
pub fn timer_level_check() -> Result<(), &'static str> {
    // SAFETY: only this hart's timer interrupt enable changes.
    unsafe { asm!("csrc sie, {}", in(reg) STIE, options(nomem, nostack)) };
    arm_timer(0);
    let due = timer_pending();
    arm_timer(u64::MAX);
    let ahead = timer_pending();
    arm_timer(super::counter());
    let due_again = timer_pending();
    arm_timer(u64::MAX);
    match (due, ahead, due_again) {
        (true, false, true) => Ok(()),
        (false, ..) => Err("timer level: stimecmp in the past, yet no timer interrupt pending"),
        (_, true, _) => Err("timer level: stimecmp ahead, yet the timer interrupt still pending"),
        _ => Err("timer level: stimecmp back in the past, yet no timer interrupt pending"),
    }
}

/// Sends a software interrupt to hart `target`.
pub fn send_ipi(target: usize, _event: u32) {
    // SAFETY: an SBI IPI call (a0 hart mask, a1 base); only a0/a1 change.
    unsafe {
        asm!("ecall", inlateout("a0") 1u64 << target => _, inlateout("a1") 0u64 => _,
             in("a6") 0u64, in("a7") 0x73_5049u64, options(nostack));
    }
}

/// Masks interrupts (sstatus.SIE).
pub fn mask_interrupts() {
    // SAFETY: only this hart's interrupt enable changes.
    unsafe { asm!("csrci sstatus, 2", options(nomem, nostack)) };
}

/// Unmasks interrupts; a pending one is taken at once.
pub fn unmask_interrupts() {
    // SAFETY: only this hart's interrupt enable changes.
    unsafe { asm!("csrsi sstatus, 2", options(nomem, nostack)) };
}

/// Waits for an interrupt (also when interrupts are masked: a pending one ends it).
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

/// Points stvec at this program's trap vector.
pub fn install_vectors() {
    // SAFETY: this program's own trap vector.
    unsafe {
        asm!("la {t}, tessera_guest_trap", "csrw stvec, {t}", t = out(reg) _, options(nostack));
    }
}

/// Whether scause value `scause` is a load access fault (exception 5).
pub fn is_external_abort(scause: u64) -> bool {
    scause == 5
}

/// The trap vector's Rust half. Exceptions are recorded and the faulting instruction
/// is stepped over: 2 bytes for a compressed one (low bits not 0b11), else 4.
extern "C" fn trap_entry(scause: u64) {
    if scause >> 63 == 0 {
        let sepc: u64;
        // SAFETY: reading sepc has no side effects.
        unsafe { asm!("csrr {}, sepc", out(reg) sepc, options(nomem, nostack)) };
        // SAFETY: with the MMU off, sepc is the physical address of the faulting
        // instruction in this program's own code; its first halfword says its length.
        let low = unsafe { core::ptr::read_volatile(sepc as *const u16) };
        let next = sepc + if low & 0b11 == 0b11 { 4 } else { 2 };
        // SAFETY: resuming after the faulting instruction.
        unsafe { asm!("csrw sepc, {}", in(reg) next, options(nomem, nostack)) };
        crate::hostile::exception_taken(scause);
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
        IRQ_EXTERNAL => {
            let source = plic_read(PLIC_CLAIM);
            if source != 0 {
                crate::messages::on_doorbell();
                plic_write(PLIC_CLAIM, source);
            }
        }
        _ => {}
    }
}

/// A guest-physical address no VM config maps (between the devices and RAM).
pub const UNMAPPED_GPA: u64 = 0x4000_0000;
/// The physical PLIC the hypervisor itself drives.
pub const HOST_DEVICE_GPA: u64 = 0x0c00_0000;
/// The region the hostile VM config shares read-only with its neighbour, and its
/// doorbell page there.
pub const SHARED_GPA: u64 = 0x9000_0000;
/// See [`SHARED_GPA`].
pub const DOORBELL_GPA: u64 = 0x9010_0000;
/// A region the hostile VM config maps read-only (flags 0x1).
pub const READONLY_GPA: u64 = 0x8200_0000;

/// The riscv64-only hostile cases.
pub fn hostile_case(case: &str) -> Option<crate::hostile::Outcome> {
    use crate::hostile::{Outcome, read};
    const HSM: u64 = 0x48_534D;
    let value = match case {
        "unmapped-vector" => {
            // SAFETY: points the trap vector at an address with nothing behind it,
            // then reads from nothing: the access fault's vector cannot be fetched,
            // which faults again at the same place, without end.
            unsafe { asm!("csrw stvec, {}", in(reg) UNMAPPED_GPA, options(nostack)) };
            read(UNMAPPED_GPA)
        }
        "sbi-unknown-extension" => sbi(0x0bad_cafe, 0, 0, 0, 0).0,
        "sbi-unknown-function" => sbi(0x10, 99, 0, 0, 0).0,
        "sbi-hart-start-bad-hart" => sbi(HSM, 0, 7, 0x8020_0000, 0).0,
        "sbi-hart-start-bad-entry" => sbi(HSM, 0, 1, 0x10, 0).0,
        "sbi-hart-start-self" => sbi(HSM, 0, 0, 0x8020_0000, 0).0,
        "sbi-hart-status-bad-hart" => sbi(HSM, 2, 1000, 0, 0).0,
        "sbi-ipi-bad-mask" => sbi(0x73_5049, 0, u64::MAX, 1000, 0).0,
        "sbi-rfence-bad-mask" => sbi(0x5246_4E43, 1, u64::MAX, 77, 0).0,
        "sbi-reset-bad-type" => sbi(0x5352_5354, 0, 99, 0, 0).0,
        "sbi-legacy-ipi-pointer" => sbi(0x04, 0, 0xdead_0000, 0, 0).0,
        "sbi-set-timer-past" => sbi(0x5449_4D45, 0, 0, 0, 0).0,
        "sbi-hart-suspend-bad-type" => sbi(HSM, 3, 0x1234, 0, 0).0,
        "sbi-dbcn-write-outside-ram" => sbi(0x4442_434E, 0, 64, 0xdead_0000, 0).0,
        "sbi-pmu-extension" => sbi(0x0050_4D55, 0, 0, 0, 0).0,
        "virtual-instruction-flood" => {
            for _ in 0..20_000 {
                // SAFETY: reads hstatus (CSR 0x600) from VS-mode: a virtual-instruction
                // trap each time, answered with an illegal-instruction exception.
                unsafe { asm!("csrr {}, 0x600", out(reg) _, options(nostack)) };
            }
            0
        }
        "csr-satp-bad-mode" => {
            let value: u64;
            // SAFETY: writes an unsupported translation mode to satp (WARL: ignored),
            // then reads it back; the MMU stays off either way.
            unsafe {
                asm!("csrw satp, {v}", "csrr {v}, satp", v = inout(reg) 15u64 << 60 => value,
                     options(nostack));
            }
            value
        }
        "csr-hypervisor" => {
            let value: u64;
            // SAFETY: reads a hypervisor CSR from VS-mode: a virtual-instruction trap.
            unsafe {
                asm!(".option push", ".option arch, +h", "csrr {}, hstatus", ".option pop", out(reg) value, options(nostack))
            };
            value
        }
        "csr-machine" => {
            let value: u64;
            // SAFETY: reads a machine CSR from S level: an illegal instruction.
            unsafe { asm!("csrr {}, mstatus", out(reg) value, options(nostack)) };
            value
        }
        "busy-loop-masked" => {
            // SAFETY: masks interrupts and spins forever: the hostile case.
            unsafe {
                asm!(
                    "csrw sie, zero",
                    "csrci sstatus, 2",
                    "2:",
                    "j 2b",
                    options(noreturn)
                )
            }
        }
        "exception-loop" => {
            // SAFETY: a trap vector that traps again (ebreak), then the first trap. The
            // guest loops in its own exceptions forever.
            unsafe {
                asm!(
                    "la t0, 3f",
                    "csrw stvec, t0",
                    "ebreak",
                    "j .",
                    ".balign 4",
                    "3:",
                    "ebreak",
                    "j 3b",
                    options(noreturn),
                )
            }
        }
        "mmio-wide-read" => read(0x1000_0000),
        "mmio-unknown-register" => {
            // SAFETY: a byte write where the 16550 has no register.
            unsafe { core::ptr::write_volatile(0x1000_0080 as *mut u8, 1) };
            0
        }
        _ => return None,
    };
    Some(Outcome::Answered(value))
}
