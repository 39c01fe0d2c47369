//! CPU identity, waiting, waking, delays and power control. A CPU's index is its
//! local APIC id (QEMU numbers them from 0), and each CPU runs on its own boot
//! stack, so the index follows from the stack pointer.

use super::apic;
use super::io::{inb, outb, outw};
use crate::platform::CPU_COUNT;
use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};

/// Interrupts an interrupt handler noted for the hypervisor, per CPU.
static PENDING: [AtomicU32; CPU_COUNT] = [const { AtomicU32::new(0) }; CPU_COUNT];

/// [`take_interrupts`] bit: the console UART interrupted.
pub const PENDING_UART: u32 = 1 << 0;
/// [`take_interrupts`] bit: another CPU kicked this one.
pub const PENDING_KICK: u32 = 1 << 1;
/// [`take_interrupts`] bit: the deadline given to [`super::timer::wake_at`] came.
pub const PENDING_TIMER: u32 = 1 << 2;

/// Index of the running CPU.
pub fn cpu_index() -> usize {
    let rsp: u64;
    // SAFETY: reading the stack pointer has no effect.
    unsafe { asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack, preserves_flags)) };
    super::boot::cpu_of_stack(rsp)
}

/// Starts CPU `index` (INIT-SIPI-SIPI) at the real-mode trampoline.
pub fn start_cpu(index: usize) -> Result<(), &'static str> {
    if index >= CPU_COUNT {
        return Err("no such CPU");
    }
    let page = super::boot::install_trampoline();
    apic::start_application_processor(index as u32, page);
    Ok(())
}

/// Sleeps until an interrupt arrives and lets its handler run. The hypervisor runs
/// with interrupts masked everywhere else.
pub fn wait_for_interrupt() {
    // SAFETY: STI's one-instruction shadow makes `sti; hlt` atomic, so no interrupt is
    // missed between them; the handlers only note the interrupt and end it.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Lets interrupts that are already pending run their handlers, without waiting.
pub fn take_pending_interrupts() {
    // SAFETY: as in `wait_for_interrupt`; NOP gives a pending interrupt its window.
    unsafe { asm!("sti", "nop", "cli", options(nomem, nostack)) };
}

/// Notes interrupt `bits` for this CPU (from the interrupt handler).
pub(super) fn note_interrupt(bits: u32) {
    if let Some(pending) = PENDING.get(cpu_index()) {
        pending.fetch_or(bits, Ordering::AcqRel);
    }
}

/// The interrupts noted since the last call ([`PENDING_UART`], [`PENDING_KICK`],
/// [`PENDING_TIMER`]).
pub fn take_interrupts() -> u32 {
    PENDING
        .get(cpu_index())
        .map_or(0, |pending| pending.swap(0, Ordering::AcqRel))
}

/// Sends the kick IPI to CPU `target`, or to every other CPU when `None`.
pub fn kick(target: Option<usize>) {
    match target {
        Some(cpu) if cpu < CPU_COUNT => apic::send_kick(cpu as u32),
        Some(_) => {}
        None => {
            let me = cpu_index();
            (0..CPU_COUNT)
                .filter(|&cpu| cpu != me)
                .for_each(|cpu| apic::send_kick(cpu as u32));
        }
    }
}

/// Stops this CPU for good.
pub fn halt() -> ! {
    loop {
        // SAFETY: with interrupts masked, HLT waits for good (NMI aside).
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// The PM1a control port of the q35 chipset's ACPI block (base 0x600, which the
/// firmware programs) and the value that enters S5: SLP_EN with sleep type 0, the
/// type QEMU's firmware tables give S5.
const PM1A_CONTROL: u16 = 0x604;
const PM1A_SLEEP_S5: u16 = 1 << 13;

/// Powers the machine off through the chipset's ACPI power-management block.
pub fn power_off() -> ! {
    outw(PM1A_CONTROL, PM1A_SLEEP_S5);
    halt()
}

/// Ports of PIT channel 2 and its gate (port 0x61, bit 0; its output is bit 5).
const PIT_CHANNEL2: u16 = 0x42;
const PIT_COMMAND: u16 = 0x43;
const PIT_GATE: u16 = 0x61;
/// The PIT's input clock in Hz.
const PIT_HZ: u64 = 1_193_182;

/// Waits at least `us` microseconds (up to 54 ms) on PIT channel 2, which runs
/// independently of the CPU's speed.
pub fn delay_us(us: u64) {
    let count = (us * PIT_HZ).div_ceil(1_000_000).clamp(1, 0xffff) as u16;
    let gate = inb(PIT_GATE);
    outb(PIT_GATE, (gate & !0x02) | 0x01);
    // Channel 2, low then high byte, mode 0 (output rises at terminal count), binary.
    outb(PIT_COMMAND, 0b1011_0000);
    outb(PIT_CHANNEL2, count as u8);
    outb(PIT_CHANNEL2, (count >> 8) as u8);
    while inb(PIT_GATE) & 0x20 == 0 {
        core::hint::spin_loop();
    }
    outb(PIT_GATE, gate);
}
