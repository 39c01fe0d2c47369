//! aarch64 interrupts for the benchmarks: an EL1 vector table, the GICv3 CPU interface
//! and this CPU's redistributor on QEMU `virt`'s layout, the virtual timer, SGIs, and a
//! second CPU started with PSCI CPU_ON.

use crate::irq::{self, Event};
use core::arch::{asm, global_asm};

/// GICv3 distributor and first redistributor on the `virt` board (and in Tessera's
/// VM configs that give a guest a GIC).
const GICD: usize = 0x0800_0000;
const GICR: usize = 0x080A_0000;
const GICR_STRIDE: usize = 0x2_0000;
/// The virtual timer's PPI.
const TIMER_PPI: u32 = 27;
/// SGIs of the IPI round trip: there and back.
pub const SGI_PING: u32 = 1;
/// See [`SGI_PING`].
pub const SGI_PONG: u32 = 2;

global_asm!(
    r#"
    .section .text
    .balign 0x800
    .global tessera_guest_vectors
tessera_guest_vectors:
    .rept 5
    .balign 0x80
    b       .
    .endr
    .balign 0x80                    // current EL with SPx, IRQ (offset 0x280)
    stp     x29, x30, [sp, #-16]!
    stp     x0, x1, [sp, #-16]!
    stp     x2, x3, [sp, #-16]!
    stp     x4, x5, [sp, #-16]!
    stp     x6, x7, [sp, #-16]!
    stp     x8, x9, [sp, #-16]!
    stp     x10, x11, [sp, #-16]!
    stp     x12, x13, [sp, #-16]!
    stp     x14, x15, [sp, #-16]!
    stp     x16, x17, [sp, #-16]!
    str     x18, [sp, #-16]!
    bl      {handler}
    ldr     x18, [sp], #16
    ldp     x16, x17, [sp], #16
    ldp     x14, x15, [sp], #16
    ldp     x12, x13, [sp], #16
    ldp     x10, x11, [sp], #16
    ldp     x8, x9, [sp], #16
    ldp     x6, x7, [sp], #16
    ldp     x4, x5, [sp], #16
    ldp     x2, x3, [sp], #16
    ldp     x0, x1, [sp], #16
    ldp     x29, x30, [sp], #16
    eret
    .rept 10
    .balign 0x80
    b       .
    .endr

    .global tessera_guest_secondary
tessera_guest_secondary:            // x0 = context: top of this CPU's stack
    mov     sp, x0
    b       {secondary}
"#,
    handler = sym irq_entry,
    secondary = sym secondary_entry,
);

fn write32(addr: usize, value: u32) {
    // SAFETY: GIC registers of the `virt` layout, device memory this program owns.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

fn read32(addr: usize) -> u32 {
    // SAFETY: as in `write32`.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// This CPU's index (MPIDR_EL1.Aff0).
pub fn cpu() -> usize {
    let mpidr: u64;
    // SAFETY: reading MPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
    (mpidr & 0xff) as usize
}

/// Vector table, this CPU's redistributor and GIC CPU interface; interrupts unmasked.
pub fn init_cpu() {
    let cpu = cpu();
    if cpu == 0 {
        // ARE_NS (4) and EnableGrp1NS (1).
        write32(GICD, (1 << 4) | (1 << 1));
    }
    let rd = GICR + cpu * GICR_STRIDE;
    write32(rd + 0x14, read32(rd + 0x14) & !(1 << 1));
    while read32(rd + 0x14) & (1 << 2) != 0 {}
    let sgi = rd + 0x1_0000;
    write32(sgi + 0x80, u32::MAX);
    write32(
        sgi + 0x100,
        (1 << TIMER_PPI) | (1 << SGI_PING) | (1 << SGI_PONG),
    );
    // SAFETY: the vector table above, the GIC CPU interface of this CPU (system
    // registers), then IRQs unmasked: this program's own interrupt set-up.
    unsafe {
        asm!(
            "adr {t}, tessera_guest_vectors",
            "msr vbar_el1, {t}",
            "msr icc_sre_el1, {one}",
            "isb",
            "msr icc_pmr_el1, {pmr}",
            "msr icc_igrpen1_el1, {one}",
            "isb",
            "msr daifclr, #2",
            t = out(reg) _,
            one = in(reg) 1u64,
            pmr = in(reg) 0xffu64,
            options(nostack),
        );
    }
}

/// Arms the virtual timer for counter value `deadline`.
pub fn arm_timer(deadline: u64) {
    // SAFETY: the EL1 virtual timer belongs to this program.
    unsafe {
        asm!("msr cntv_cval_el0, {}", "msr cntv_ctl_el0, {}", "isb",
             in(reg) deadline, in(reg) 1u64, options(nostack));
    }
}

/// Sends SGI `intid` to CPU `target` (Aff0, cluster 0).
pub fn send_ipi(target: usize, intid: u32) {
    let value = (1u64 << (target & 0xf)) | (u64::from(intid) << 24);
    // SAFETY: ICC_SGI1R_EL1 only signals interrupts.
    unsafe { asm!("msr icc_sgi1r_el1, {}", "isb", in(reg) value, options(nostack)) };
}

/// Waits for an interrupt.
pub fn wait() {
    // SAFETY: WFI only waits.
    unsafe { asm!("wfi", options(nomem, nostack)) };
}

/// Starts CPU 1 with `stack_top` as its stack; it runs `irq::secondary_main`.
pub fn start_secondary(stack_top: u64) -> bool {
    unsafe extern "C" {
        fn tessera_guest_secondary();
    }
    let entry = tessera_guest_secondary as *const () as u64;
    let mut x0 = 0xC400_0003u64; // PSCI CPU_ON (SMC64)
    // SAFETY: an SMCCC call over HVC; the callee may clobber x0-x17.
    unsafe {
        asm!("hvc #0", inout("x0") x0, inout("x1") 1u64 => _, inout("x2") entry => _,
             inout("x3") stack_top => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
             out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
             out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
             options(nostack));
    }
    x0 == 0
}

extern "C" fn secondary_entry() -> ! {
    irq::secondary_main()
}

/// The IRQ vector's Rust half: acknowledge, handle, end.
extern "C" fn irq_entry() {
    let intid: u64;
    // SAFETY: acknowledging the interrupt this vector was taken for.
    unsafe { asm!("mrs {}, icc_iar1_el1", out(reg) intid, options(nomem, nostack)) };
    let intid = (intid & 0xff_ffff) as u32;
    match intid {
        TIMER_PPI => {
            // SAFETY: the timer is this program's; disabling it ends its interrupt.
            unsafe { asm!("msr cntv_ctl_el0, xzr", "isb", options(nostack)) };
            irq::on_event(Event::Timer);
        }
        SGI_PING => irq::on_event(Event::Ping),
        SGI_PONG => irq::on_event(Event::Pong),
        _ => {}
    }
    if intid < 1020 {
        // SAFETY: ends the interrupt acknowledged above (EOImode 0 also deactivates).
        unsafe { asm!("msr icc_eoir1_el1, {}", "isb", in(reg) u64::from(intid), options(nostack)) };
    }
}
