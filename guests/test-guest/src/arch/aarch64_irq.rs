//! aarch64 exceptions and interrupts for the benchmarks and hostile cases: an EL1
//! vector table, the GIC on QEMU `virt`'s layout (a GICv3's system register CPU
//! interface and this CPU's redistributor, or a GICv2's banked distributor registers
//! and memory-mapped CPU interface, whichever ID_AA64PFR0_EL1.GIC says the CPU has),
//! the virtual timer, SGIs, and a second CPU started with PSCI CPU_ON.

use crate::irq::{self, Event};
use core::arch::{asm, global_asm};

/// GICv3 distributor and first redistributor on the `virt` board (and in Tessera's
/// VM configs that give a guest a GIC).
const GICD: usize = 0x0800_0000;
const GICR: usize = 0x080A_0000;
const GICR_STRIDE: usize = 0x2_0000;
/// GICv2 CPU interface on the `virt` board: GICC_CTLR, GICC_PMR, GICC_IAR, GICC_EOIR.
const GICC: usize = 0x0801_0000;
const GICC_PMR: usize = GICC + 0x4;
const GICC_IAR: usize = GICC + 0xc;
const GICC_EOIR: usize = GICC + 0x10;
/// GICv2 GICD_SGIR.
const GICD_SGIR: usize = GICD + 0xf00;
/// The virtual timer's PPI.
const TIMER_PPI: u32 = 27;
/// SGIs of the IPI round trip: there and back.
pub const SGI_PING: u32 = 1;
/// See [`SGI_PING`].
pub const SGI_PONG: u32 = 2;

global_asm!(
    r#"
    // The registers a Rust function may change, on the stack (x18 alone, padded).
    .macro SAVE_CALLER_SAVED
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
    .endm

    .section .text
    .balign 0x800
    .global tessera_guest_vectors
tessera_guest_vectors:
    .rept 4
    .balign 0x80
    b       .
    .endr
    .balign 0x80                    // current EL with SPx, synchronous (offset 0x200)
    SAVE_CALLER_SAVED
    bl      {sync}
    b       tessera_guest_return
    .balign 0x80                    // current EL with SPx, IRQ (offset 0x280)
    SAVE_CALLER_SAVED
    bl      {handler}
tessera_guest_return:
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
    sync = sym sync_entry,
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

/// Whether the GIC is a GICv2: 0 not known yet, 1 GICv3, 2 GICv2 (read once: the ID
/// register read traps to the hypervisor).
static GIC_KIND: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Whether the GIC is a GICv2: the CPU has no GIC system register interface
/// (ID_AA64PFR0_EL1.GIC [27:24] is 0).
pub fn gic_v2() -> bool {
    use core::sync::atomic::Ordering;
    let kind = match GIC_KIND.load(Ordering::Relaxed) {
        0 => {
            let pfr0: u64;
            // SAFETY: reading an ID register has no side effects.
            unsafe { asm!("mrs {}, id_aa64pfr0_el1", out(reg) pfr0, options(nomem, nostack)) };
            let kind = if (pfr0 >> 24) & 0xf == 0 { 2 } else { 1 };
            GIC_KIND.store(kind, Ordering::Relaxed);
            kind
        }
        kind => kind,
    };
    kind == 2
}

/// The frame of this CPU's SGI and PPI registers: a GICv3 redistributor's SGI_base, a
/// GICv2's distributor (banked there).
fn private_frame() -> usize {
    if gic_v2() {
        GICD
    } else {
        GICR + cpu() * GICR_STRIDE + 0x1_0000
    }
}

/// This CPU's index (MPIDR_EL1.Aff0).
pub fn cpu() -> usize {
    let mpidr: u64;
    // SAFETY: reading MPIDR_EL1 has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack)) };
    (mpidr & 0xff) as usize
}

/// Points VBAR_EL1 at this program's vector table.
pub fn install_vectors() {
    // SAFETY: the vector table above is this program's.
    unsafe {
        asm!("adr {t}, tessera_guest_vectors", "msr vbar_el1, {t}", "isb",
             t = out(reg) _, options(nostack));
    }
}

/// Whether ESR_EL1 value `esr` is a data abort taken from EL1 (EC 0x25) for a
/// synchronous external abort (DFSC 0x10).
pub fn is_external_abort(esr: u64) -> bool {
    esr >> 26 == 0x25 && esr & 0x3f == 0x10
}

/// The synchronous exception vector's Rust half: records the syndrome and steps over
/// the instruction that caused it (for a software-step exception, the next one, and
/// the step ends: MDSCR_EL1.SS cleared, or the return would step again at once).
extern "C" fn sync_entry() {
    let esr: u64;
    // SAFETY: reading ESR_EL1 and moving ELR_EL1 past the faulting instruction: the
    // exception returns to the next one.
    unsafe {
        asm!("mrs {esr}, esr_el1", "mrs {t}, elr_el1", "add {t}, {t}, #4", "msr elr_el1, {t}",
             esr = out(reg) esr, t = out(reg) _, options(nostack));
    }
    if crate::arch::is_software_step(esr) {
        // SAFETY: only this program's own single step ends.
        unsafe {
            asm!("mrs {t}, mdscr_el1", "bic {t}, {t}, #1", "msr mdscr_el1, {t}", "isb",
                 t = out(reg) _, options(nostack));
        }
    }
    crate::hostile::exception_taken(esr);
}

/// Vector table, this CPU's redistributor and GIC CPU interface; interrupts unmasked.
pub fn init_cpu() {
    let cpu = cpu();
    if gic_v2() {
        init_cpu_v2(cpu);
        return;
    }
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

/// [`init_cpu`] on a GICv2: Group 0 forwarded (the reset group of everything), this
/// CPU's interrupts enabled in its banked distributor registers, its CPU interface on.
fn init_cpu_v2(cpu: usize) {
    if cpu == 0 {
        write32(GICD, 1);
    }
    write32(
        GICD + 0x100,
        (1 << TIMER_PPI) | (1 << SGI_PING) | (1 << SGI_PONG),
    );
    write32(GICC_PMR, 0xff);
    write32(GICC, 1);
    // SAFETY: the vector table above, then IRQs unmasked: this program's own set-up.
    unsafe {
        asm!(
            "adr {t}, tessera_guest_vectors",
            "msr vbar_el1, {t}",
            "isb",
            "msr daifclr, #2",
            t = out(reg) _,
            options(nostack),
        );
    }
}

/// The device interrupt (an SPI) [`enable_device_interrupt`] enabled, 0 for none.
static DEVICE_INTID: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Sets byte `intid` of the byte array at `array` (IPRIORITYR, ITARGETSR).
fn write_byte_field(array: usize, intid: u32, value: u32) {
    let word = array + (intid as usize & !3);
    let shift = 8 * (intid % 4);
    write32(word, (read32(word) & !(0xff << shift)) | (value << shift));
}

/// Enables SPI `intid` (level-sensitive) to this CPU: routed to CPU 0, middle
/// priority; Group 1 on a GICv3 (Group 0, as it resets, on a GICv2). The IRQ handler
/// hands it to the message exchange.
pub fn enable_device_interrupt(intid: u32) {
    DEVICE_INTID.store(intid, core::sync::atomic::Ordering::Release);
    let (word, bit) = (4 * (intid as usize / 32), 1 << (intid % 32));
    write_byte_field(GICD + 0x400, intid, 0x80);
    if gic_v2() {
        // GICD_ITARGETSR<intid>: CPU interface 0.
        write_byte_field(GICD + 0x800, intid, 1);
    } else {
        write32(GICD + 0x80 + word, read32(GICD + 0x80 + word) | bit);
        // GICD_IROUTER<intid>: affinity 0.0.0.0, in two 32-bit halves.
        write32(GICD + 0x6000 + 8 * intid as usize, 0);
        write32(GICD + 0x6004 + 8 * intid as usize, 0);
    }
    write32(GICD + 0x100 + word, bit);
}

/// Arms the virtual timer for counter value `deadline`.
pub fn arm_timer(deadline: u64) {
    // SAFETY: the EL1 virtual timer belongs to this program.
    unsafe {
        asm!("msr cntv_cval_el0, {}", "msr cntv_ctl_el0, {}", "isb",
             in(reg) deadline, in(reg) 1u64, options(nostack));
    }
}

/// Writes CNTV_CTL_EL0 (ENABLE bit 0, IMASK bit 1).
fn set_timer_control(ctl: u64) {
    // SAFETY: the EL1 virtual timer belongs to this program.
    unsafe { asm!("msr cntv_ctl_el0, {}", "isb", in(reg) ctl, options(nostack)) };
}

/// Whether this CPU's redistributor shows the timer PPI pending (GICR_ISPENDR0).
fn timer_ppi_pending() -> bool {
    private_interrupt_pending(TIMER_PPI)
}

/// Whether this CPU's GIC shows PPI or SGI `intid` pending (ISPENDR0).
pub fn private_interrupt_pending(intid: u32) -> bool {
    read32(private_frame() + 0x200) & (1 << intid) != 0
}

/// Enables PPI or SGI `intid` at this CPU's GIC (ISENABLER0).
pub fn enable_private_interrupt(intid: u32) {
    write32(private_frame() + 0x100, 1 << intid);
}

/// Polls of the pending state a timer that fires gets to show it.
const PENDING_PATIENCE: u32 = 10_000;

/// The timer PPI is the virtual timer's output, a level: pending while the timer
/// asserts it (also while the PPI is disabled), no longer pending once the guest
/// disables or masks the timer, never taken then, and taken when it fires enabled.
pub fn timer_level_check() -> Result<(), &'static str> {
    init_cpu();
    mask_interrupts();
    let sgi = private_frame();
    write32(sgi + 0x180, 1 << TIMER_PPI);
    for (ctl, what) in [
        (0, "timer level: pending after the timer was disabled"),
        (0b11, "timer level: pending after the timer was masked"),
    ] {
        arm_timer(0);
        if !(0..PENDING_PATIENCE).any(|_| timer_ppi_pending()) {
            return Err("timer level: a firing timer's PPI is not pending");
        }
        set_timer_control(ctl);
        if timer_ppi_pending() {
            return Err(what);
        }
    }
    set_timer_control(0);
    irq::forget_timer();
    write32(sgi + 0x100, 1 << TIMER_PPI);
    unmask_interrupts();
    for _ in 0..100 {
        let _ = timer_ppi_pending();
    }
    mask_interrupts();
    if irq::timer_taken() {
        return Err("timer level: the interrupt of a disabled timer was taken");
    }
    arm_timer(0);
    unmask_interrupts();
    let taken = (0..PENDING_PATIENCE).any(|_| irq::timer_taken());
    mask_interrupts();
    if !taken {
        return Err("timer level: the interrupt of a firing timer was not taken");
    }
    Ok(())
}

/// Sends SGI `intid` to CPU `target` (Aff0, cluster 0; CPU interface `target` of a
/// GICv2).
pub fn send_ipi(target: usize, intid: u32) {
    if gic_v2() {
        // GICD_SGIR: CPUTargetList [23:16], SGIINTID [3:0].
        write32(GICD_SGIR, (1 << (16 + (target & 7))) | intid);
        return;
    }
    let value = (1u64 << (target & 0xf)) | (u64::from(intid) << 24);
    // SAFETY: ICC_SGI1R_EL1 only signals interrupts.
    unsafe { asm!("msr icc_sgi1r_el1, {}", "isb", in(reg) value, options(nostack)) };
}

/// Masks IRQs (PSTATE.I).
pub fn mask_interrupts() {
    // SAFETY: only this CPU's interrupt mask changes.
    unsafe { asm!("msr daifset, #2", options(nomem, nostack)) };
}

/// Unmasks IRQs; a pending one is taken at once.
pub fn unmask_interrupts() {
    // SAFETY: only this CPU's interrupt mask changes.
    unsafe { asm!("msr daifclr, #2", "isb", options(nomem, nostack)) };
}

/// Waits for an interrupt (also when IRQs are masked: a pending one ends the wait).
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
    let v2 = gic_v2();
    let iar: u64 = if v2 {
        u64::from(read32(GICC_IAR))
    } else {
        let iar: u64;
        // SAFETY: acknowledging the interrupt this vector was taken for.
        unsafe { asm!("mrs {}, icc_iar1_el1", out(reg) iar, options(nomem, nostack)) };
        iar
    };
    // A GICv2's IAR holds the sender's CPUID in [12:10] for an SGI.
    let intid = (iar & if v2 { 0x3ff } else { 0xff_ffff }) as u32;
    match intid {
        TIMER_PPI => {
            // SAFETY: the timer is this program's; disabling it ends its interrupt.
            unsafe { asm!("msr cntv_ctl_el0, xzr", "isb", options(nostack)) };
            irq::on_event(Event::Timer);
        }
        super::PMU_PPI => super::on_pmu_interrupt(),
        SGI_PING => irq::on_event(Event::Ping),
        SGI_PONG => irq::on_event(Event::Pong),
        id if id == DEVICE_INTID.load(core::sync::atomic::Ordering::Acquire) => {
            crate::messages::on_doorbell()
        }
        _ => {}
    }
    if intid >= 1020 {
        return;
    }
    if v2 {
        // The whole IAR value (with an SGI's sender); EOImode 0 also deactivates.
        write32(GICC_EOIR, iar as u32);
    } else {
        // SAFETY: ends the interrupt acknowledged above (EOImode 0 also deactivates).
        unsafe { asm!("msr icc_eoir1_el1, {}", "isb", in(reg) u64::from(intid), options(nostack)) };
    }
}

/// A guest-physical address no VM config maps (between the devices and RAM).
pub const UNMAPPED_GPA: u64 = 0x2000_0000;
/// The physical GIC distributor the hypervisor itself drives.
pub const HOST_DEVICE_GPA: u64 = GICD as u64;
/// The region the hostile VM config shares read-only with its neighbour, and its
/// doorbell page there.
pub const SHARED_GPA: u64 = 0x7000_0000;
/// See [`SHARED_GPA`].
pub const DOORBELL_GPA: u64 = 0x7010_0000;
/// A region the hostile VM config maps read-only (flags 0x1).
pub const READONLY_GPA: u64 = 0x4200_0000;

/// An SMCCC call over HVC with function `x0` and arguments `x1`-`x3`; returns x0.
fn hvc(x0: u64, x1: u64, x2: u64, x3: u64) -> u64 {
    let mut r0 = x0;
    // SAFETY: an SMCCC call; the callee may clobber x0-x17.
    unsafe {
        asm!("hvc #0", inout("x0") r0, inout("x1") x1 => _, inout("x2") x2 => _,
             inout("x3") x3 => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
             out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
             out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
             options(nostack));
    }
    r0
}

/// The aarch64-only hostile cases.
pub fn hostile_case(case: &str) -> Option<crate::hostile::Outcome> {
    use crate::hostile::{Outcome, read};
    const CPU_ON: u64 = 0xC400_0003;
    let value = match case {
        "unmapped-vector" => {
            // SAFETY: points the vector table at an address with nothing behind it,
            // then reads from nothing: the abort's vector cannot be fetched, which
            // aborts again at the same place, without end.
            unsafe {
                asm!("msr vbar_el1, {v}", "isb", v = in(reg) UNMAPPED_GPA, options(nostack));
            }
            read(UNMAPPED_GPA)
        }
        "psci-cpu-on-bad-target" => hvc(CPU_ON, 0xff, 0x4008_0000, 0),
        "psci-cpu-on-bad-entry" => hvc(CPU_ON, 1, 0x10, 0),
        "psci-cpu-on-self" => hvc(CPU_ON, 0, 0x4008_0000, 0),
        "psci-unknown-function" => hvc(0x8400_00ff, 0, 0, 0),
        "psci-affinity-info-bad-target" => hvc(0xC400_0004, 0xff_ff00, 0, 0),
        "psci-system-suspend" => hvc(0xC400_000E, 0x4008_0000, 0, 0),
        "psci-migrate" => hvc(0xC400_0005, 1, 0, 0),
        "hvc-nonzero-immediate" => {
            let mut x0 = 0x8400_0000u64;
            // SAFETY: an HVC with an immediate the SMCCC does not define.
            unsafe { asm!("hvc #0x42", inout("x0") x0, options(nostack)) };
            x0
        }
        "smc-unknown-service" => {
            let mut x0 = 0xC200_0000u64;
            // SAFETY: an SMC to a service (SiP) that is not there.
            unsafe { asm!("smc #0", inout("x0") x0, options(nostack)) };
            x0
        }
        "sysreg-impdef" => {
            let value: u64;
            // SAFETY: reads an IMPLEMENTATION DEFINED register the hypervisor traps.
            unsafe { asm!("mrs {}, s3_0_c15_c0_0", out(reg) value, options(nostack)) };
            value
        }
        "undefined-flood" => {
            for _ in 0..20_000 {
                // SAFETY: as in sysreg-impdef, in a loop: each read is undefined.
                unsafe { asm!("mrs {}, s3_0_c15_c0_0", out(reg) _, options(nostack)) };
            }
            0
        }
        "sysreg-el2" => {
            let value: u64;
            // SAFETY: reads an EL2 register from EL1: undefined by the architecture.
            unsafe { asm!("mrs {}, hcr_el2", out(reg) value, options(nostack)) };
            value
        }
        "cache-set-way" => {
            // SAFETY: clean and invalidate by set/way, which the hypervisor traps.
            unsafe { asm!("dc cisw, xzr", options(nostack)) };
            0
        }
        "debug-registers" => crate::arch::arm_everything(),
        "pmu-count-at-el2" => {
            const PSCI_VERSION: u64 = 0x8400_0000;
            let counted = super::count_at_el2(|| {
                for _ in 0..200 {
                    hvc(PSCI_VERSION, 0, 0, 0);
                }
            });
            if counted != 0 {
                use crate::Console;
                use core::fmt::Write;
                // Not `answered`: the case fails.
                crate::say!("tessera-hostile: pmu-count-at-el2 leaked: {counted} counted at EL2");
                crate::arch::power_off();
            }
            counted
        }
        "sgi-storm" if gic_v2() => {
            for i in 0..20_000u32 {
                // Every target list and filter (3 is reserved), every SGI.
                write32(GICD_SGIR, ((i % 4) << 24) | ((i & 0xff) << 16) | (i % 16));
            }
            0
        }
        "sgi-storm" => {
            for i in 0..20_000u64 {
                // Every target list and Aff1, and IRM (all but self) every 16th time.
                let value = (i & 0xffff)
                    | ((i & 0xff) << 16)
                    | ((i % 16) << 24)
                    | ((i % 16 == 0) as u64) << 40;
                // SAFETY: SGIs only signal interrupts to vCPUs of this VM, if any.
                unsafe { asm!("msr icc_sgi1r_el1, {}", in(reg) value, options(nostack)) };
            }
            0
        }
        "busy-loop-masked" => {
            // SAFETY: masks every exception and spins forever: the hostile case.
            unsafe { asm!("msr daifset, #0xf", "2:", "b 2b", options(noreturn)) }
        }
        "exception-loop" => {
            // SAFETY: a vector table whose every entry raises the next exception; then
            // the first one. The guest loops in its own exceptions forever.
            unsafe {
                asm!(
                    "adr x9, 3f",
                    "msr vbar_el1, x9",
                    "isb",
                    "brk #0",
                    "b .",
                    ".balign 0x800",
                    "3:",
                    ".rept 16",
                    ".balign 0x80",
                    "brk #1",
                    ".endr",
                    options(noreturn),
                )
            }
        }
        "mmio-wide-read" => read(0x0900_0000),
        "mmio-unaligned" => {
            // SAFETY: a 32-bit read at an offset that is no register boundary.
            unsafe { u64::from(core::ptr::read_volatile(0x0900_0002 as *const u32)) }
        }
        "mmio-readonly-register" => {
            // SAFETY: a write to the PL011's read-only flag register.
            unsafe { core::ptr::write_volatile(0x0900_0018 as *mut u32, 0xffff) };
            0
        }
        "mmio-unknown-register" => {
            // SAFETY: a 32-bit write where the PL011 has no register.
            unsafe { core::ptr::write_volatile(0x0900_0f00 as *mut u32, 1) };
            0
        }
        _ => return None,
    };
    Some(Outcome::Answered(value))
}
