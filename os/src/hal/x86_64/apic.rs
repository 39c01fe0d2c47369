//! The local APIC of each CPU with its timer, and the I/O APIC that routes ISA
//! interrupts. The local APICs stay in xAPIC mode (registers in the MMIO window)
//! unless the firmware handed them over in x2APIC mode, which cannot be left without
//! disabling them: with under 255 CPUs xAPIC addresses every CPU, and its register
//! accesses are memory accesses, which QEMU's TCG counts as I/O under `-icount`
//! (its RDMSR and WRMSR are not, so reading an x2APIC timer there stops QEMU with
//! "Bad icount read"). Vectors: [`UART_VECTOR`] for the console, [`TIMER_VECTOR`] for the
//! timer, [`KICK_VECTOR`] for the IPI that wakes a CPU, [`SPURIOUS_VECTOR`].

use super::io::{rdmsr, wrmsr};
use crate::platform::{IOAPIC_BASE, LAPIC_BASE};
use core::sync::atomic::{AtomicBool, Ordering};

/// Vector of the console UART's interrupt.
pub const UART_VECTOR: u8 = 0x30;
/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 0xef;
/// Vector of the kick IPI.
pub const KICK_VECTOR: u8 = 0xf0;
/// Vector the local APIC gives spurious interrupts.
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// IA32_APIC_BASE and its enable bits: EN (11), EXTD (10, x2APIC).
const IA32_APIC_BASE: u32 = 0x1b;
const APIC_BASE_EN: u64 = 1 << 11;
const APIC_BASE_EXTD: u64 = 1 << 10;
/// First MSR of the x2APIC register block (register offset / 16 is added).
const X2APIC_MSR_BASE: u32 = 0x800;

/// Local APIC register offsets (xAPIC MMIO; x2APIC MSR = 0x800 + offset / 16).
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;
/// Divide configuration: divide by 1.
const TIMER_DIVIDE_BY_1: u32 = 0b1011;
/// LVT: masked.
const LVT_MASKED: u32 = 1 << 16;
/// SVR: APIC software enable.
const SVR_ENABLE: u32 = 1 << 8;
/// ICR delivery modes and flags.
const ICR_INIT: u32 = 5 << 8;
const ICR_STARTUP: u32 = 6 << 8;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;

/// Whether the local APICs run in x2APIC mode (as the firmware left the boot CPU's).
static X2APIC: AtomicBool = AtomicBool::new(false);

/// Enables this CPU's local APIC, in the mode the firmware left it in (xAPIC when it
/// was off), with the spurious vector set.
pub fn init_local() {
    let base = rdmsr(IA32_APIC_BASE);
    let x2 = base & APIC_BASE_EXTD != 0;
    X2APIC.store(x2, Ordering::Relaxed);
    if base & APIC_BASE_EN == 0 {
        // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU; only the enable bit
        // changes, the window stays where the platform has it.
        unsafe { wrmsr(IA32_APIC_BASE, base | APIC_BASE_EN) };
    }
    write(REG_SVR, SVR_ENABLE | u32::from(SPURIOUS_VECTOR));
}

/// Whether the local APICs are in x2APIC mode.
pub fn is_x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

/// Reads local APIC register `offset`.
fn read(offset: u32) -> u32 {
    if is_x2apic() {
        rdmsr(X2APIC_MSR_BASE + offset / 16) as u32
    } else {
        // SAFETY: the xAPIC window is identity-mapped device memory (UC by the MTRRs)
        // and `offset` is one of its registers.
        unsafe { ((LAPIC_BASE + u64::from(offset)) as *const u32).read_volatile() }
    }
}

/// Writes local APIC register `offset`.
fn write(offset: u32, value: u32) {
    if is_x2apic() {
        // SAFETY: an x2APIC register of this CPU; the callers write valid values.
        unsafe { wrmsr(X2APIC_MSR_BASE + offset / 16, u64::from(value)) };
    } else {
        // SAFETY: as in `read`.
        unsafe { ((LAPIC_BASE + u64::from(offset)) as *mut u32).write_volatile(value) };
    }
}

/// Starts the timer counting down from `u32::MAX`, masked, for [`stop_timer_count`]
/// to measure its rate.
pub fn start_timer_count() {
    write(REG_TIMER_DIVIDE, TIMER_DIVIDE_BY_1);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, u32::MAX);
}

/// Stops the timer [`start_timer_count`] started; the ticks it counted.
pub fn stop_timer_count() -> u64 {
    let current = read(REG_TIMER_CURRENT);
    write(REG_TIMER_INITIAL, 0);
    u64::from(u32::MAX - current)
}

/// Interrupts this CPU with [`TIMER_VECTOR`] after `ticks` timer ticks (divide by 1).
pub fn start_one_shot(ticks: u32) {
    write(REG_TIMER_DIVIDE, TIMER_DIVIDE_BY_1);
    write(REG_LVT_TIMER, u32::from(TIMER_VECTOR));
    write(REG_TIMER_INITIAL, ticks);
}

/// Ends the interrupt being handled.
pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}

/// Sends an interrupt command to the CPU with APIC id `target`.
fn send(target: u32, command: u32) {
    if is_x2apic() {
        // SAFETY: the x2APIC ICR is one 64-bit MSR: destination in the high half.
        unsafe {
            wrmsr(
                X2APIC_MSR_BASE + REG_ICR_LOW / 16,
                (u64::from(target) << 32) | u64::from(command),
            )
        };
    } else {
        write(REG_ICR_HIGH, target << 24);
        write(REG_ICR_LOW, command);
        while read(REG_ICR_LOW) & ICR_DELIVERY_PENDING != 0 {
            core::hint::spin_loop();
        }
    }
}

/// Sends the kick IPI to the CPU with APIC id `target`.
pub fn send_kick(target: u32) {
    send(target, u32::from(KICK_VECTOR));
}

/// INIT, then two STARTUP IPIs with the real-mode entry page `page` (its address / 4 KiB).
pub fn start_application_processor(target: u32, page: u8) {
    send(target, ICR_INIT | ICR_LEVEL_ASSERT);
    super::cpu::delay_us(10_000);
    for _ in 0..2 {
        send(target, ICR_STARTUP | u32::from(page));
        super::cpu::delay_us(200);
    }
}

/// I/O APIC registers: index select and data window; redirection table entries start
/// at index 0x10, two 32-bit halves each.
const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const IOREDTBL: u32 = 0x10;
/// Redirection entry: masked.
const REDIR_MASKED: u32 = 1 << 16;

/// Writes I/O APIC register `index`.
fn ioapic_write(index: u32, value: u32) {
    // SAFETY: the I/O APIC window is identity-mapped device memory; the index/data
    // pair is only used with the boot CPU's interrupt set-up (before other CPUs run).
    unsafe {
        ((IOAPIC_BASE + IOREGSEL) as *mut u32).write_volatile(index);
        ((IOAPIC_BASE + IOWIN) as *mut u32).write_volatile(value);
    }
}

/// Routes I/O APIC pin `pin` (edge-triggered, active high: an ISA interrupt) to
/// `vector` on the CPU with APIC id `cpu`.
pub fn route_isa_irq(pin: u32, vector: u8, cpu: u32) {
    ioapic_write(IOREDTBL + 2 * pin, REDIR_MASKED);
    ioapic_write(IOREDTBL + 2 * pin + 1, cpu << 24);
    ioapic_write(IOREDTBL + 2 * pin, u32::from(vector));
}
