//! CPU (hart) identity, waiting, waking and power control. A CPU's index is its hart
//! id (QEMU `virt` numbers harts from 0), kept in `tp` from boot on.

use super::sbi;
use core::arch::asm;

/// sie/sip bits: supervisor software (1), timer (5) and external (9) interrupts.
const SIE_SSIE: u64 = 1 << 1;
const SIE_STIE: u64 = 1 << 5;
const SIE_SEIE: u64 = 1 << 9;

/// Index of the running CPU (its hart id).
pub fn cpu_index() -> usize {
    let tp: usize;
    // SAFETY: reading tp, which boot code set to the hart id and nothing else changes.
    unsafe { asm!("mv {}, tp", out(reg) tp, options(nomem, nostack)) };
    tp
}

/// Lets software (kick), timer (the wake-up, [`wake_at`]) and external interrupts
/// reach this CPU while a guest runs or while it waits in [`wait_for_interrupt`];
/// sstatus.SIE stays clear, so the hypervisor itself is never interrupted.
pub fn enable_interrupts() {
    wake_at(None);
    // SAFETY: only this hart's interrupt enables change.
    unsafe {
        asm!("csrs sie, {}", in(reg) SIE_SSIE | SIE_STIE | SIE_SEIE, options(nomem, nostack))
    };
}

/// Arms this CPU's wake-up at `time` value `at` (HS-mode stimecmp, Sstc), or disarms
/// it (`None`). The hypervisor's only use of its timer: to wake for a vCPU that waits
/// on its own timer while it is not loaded.
pub fn wake_at(at: Option<u64>) {
    // SAFETY: stimecmp (CSR 0x14d) is this hart's HS-mode timer, which nothing else
    // here uses; writing it only (re)arms or stops the timer interrupt.
    unsafe { asm!("csrw 0x14d, {}", in(reg) at.unwrap_or(u64::MAX), options(nomem, nostack)) };
}

/// Starts CPU `index` at the secondary entry point.
pub fn start_cpu(index: usize) -> Result<(), i64> {
    sbi::hart_start(index as u64, super::boot::secondary_entry_address(), 0)
}

/// Sleeps until an interrupt is pending for this CPU (even with sstatus.SIE clear).
pub fn wait_for_interrupt() {
    // SAFETY: WFI only waits.
    unsafe { asm!("wfi", options(nomem, nostack)) };
}

/// Sends a software interrupt to CPU `target`, or to every other CPU when `None`:
/// through the ACLINT SSWI when the machine has one (a store, no firmware call),
/// else through the SBI IPI extension.
pub fn kick(target: Option<usize>) {
    // SAFETY: a fence makes this CPU's writes visible before the IPI is sent.
    unsafe { asm!("fence rw, rw", options(nostack)) };
    let count = crate::platform::CPU_COUNT.min(64);
    let me = cpu_index();
    let targets = match target {
        Some(cpu) if cpu < count => 1u64 << cpu,
        Some(_) => 0,
        None => (0..count)
            .filter(|&cpu| cpu != me)
            .fold(0u64, |mask, cpu| mask | (1 << cpu)),
    };
    if targets == 0 {
        return;
    }
    match crate::platform::SSWI_BASE {
        Some(base) => {
            for cpu in (0..count).filter(|&cpu| targets & (1 << cpu) != 0) {
                let setssip = (base as usize + 4 * cpu) as *mut u32;
                // SAFETY: SETSSIP of hart `cpu` in the platform's ACLINT SSWI window,
                // identity-mapped; writing 1 only sets that hart's SSIP.
                unsafe { setssip.write_volatile(1) };
            }
        }
        None => sbi::send_ipi(targets, 0),
    }
}

/// Clears this CPU's pending software interrupt (a kick was seen).
pub fn clear_kick() {
    // SAFETY: only the SSIP bit of this hart changes.
    unsafe { asm!("csrc sip, {}", in(reg) SIE_SSIE, options(nomem, nostack)) };
}

/// Stops this CPU for good.
pub fn halt() -> ! {
    // SAFETY: interrupts off for this hart, then wait forever.
    unsafe { asm!("csrw sie, zero", options(nomem, nostack)) };
    loop {
        wait_for_interrupt();
    }
}

/// Powers the machine off through SBI system reset.
pub fn power_off() -> ! {
    sbi::shutdown();
    halt()
}
