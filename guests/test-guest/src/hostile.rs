//! Hostile cases (with `tessera.hostile=<case>` on the command line): each does one
//! thing a broken or malicious guest might, then reports whether it is still running
//! and what it saw. A case the hypervisor answers by stopping the VM prints nothing
//! after its first line; the hypervisor's log says why.

use crate::arch;
use crate::{Console, say};
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

/// What a case saw, when the guest is still running after it: the value of the call
/// or read (an exception reaching this guest's own vector is reported instead).
pub enum Outcome {
    /// The hypervisor answered, or the instruction completed.
    Answered(u64),
}

/// Syndrome or cause of the last exception this guest's vector took, plus one (0: none).
static LAST_EXCEPTION: AtomicU64 = AtomicU64::new(0);

/// Called by the architecture's synchronous exception vector.
pub fn exception_taken(syndrome: u64) {
    LAST_EXCEPTION.store(syndrome.wrapping_add(1), Ordering::Release);
}

/// Runs `access` with this guest's vector installed; the syndrome (aarch64 ESR_EL1,
/// riscv64 scause) of the exception it raised, if it raised one.
pub fn fault_of(access: impl FnOnce()) -> Option<u64> {
    arch::install_vectors();
    LAST_EXCEPTION.store(0, Ordering::Release);
    access();
    // Taken back to none: a later hostile case reports only its own exception.
    LAST_EXCEPTION.swap(0, Ordering::AcqRel).checked_sub(1)
}

/// A volatile read at guest-physical `addr`.
pub fn read(addr: u64) -> u64 {
    // SAFETY: deliberately touches whatever is at `addr`: this is the hostile case.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

/// A volatile write at guest-physical `addr`.
pub fn write(addr: u64, value: u64) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile(addr as *mut u64, value) }
}

/// Rings of the doorbell storm.
const DOORBELL_STORM: u32 = 20_000;

/// Runs `case`; `ram_end` is the end of this guest's RAM. Powers off when it survives.
pub fn run(case: &str, ram_end: u64) -> ! {
    arch::install_vectors();
    say!("tessera-hostile: case {case}");
    let generic = match case {
        "read-unmapped" => Some(Outcome::Answered(read(arch::UNMAPPED_GPA))),
        "write-unmapped" => {
            write(arch::UNMAPPED_GPA, 0x5a);
            Some(Outcome::Answered(0))
        }
        "read-past-ram" => Some(Outcome::Answered(read(ram_end))),
        "write-past-ram" => {
            write(ram_end, 0x5a);
            Some(Outcome::Answered(0))
        }
        "write-host-device" => {
            write(arch::HOST_DEVICE_GPA, u64::MAX);
            Some(Outcome::Answered(0))
        }
        "write-readonly-ram" => {
            write(arch::READONLY_GPA, 0x5a);
            Some(Outcome::Answered(0))
        }
        "write-shared-readonly" => {
            write(arch::SHARED_GPA, 0x5a);
            Some(Outcome::Answered(0))
        }
        "doorbell-storm" => {
            for _ in 0..DOORBELL_STORM {
                // SAFETY: the RING register of this VM's doorbell page: it rings
                // every peer of the region, again and again.
                unsafe { core::ptr::write_volatile((arch::DOORBELL_GPA + 0xc) as *mut u32, !0) };
            }
            // SAFETY: the SENT register of the same page.
            let sent =
                unsafe { core::ptr::read_volatile((arch::DOORBELL_GPA + 0x1c) as *const u32) };
            Some(Outcome::Answered(u64::from(sent)))
        }
        "doorbell-wide-read" => Some(Outcome::Answered(read(arch::DOORBELL_GPA))),
        "reset-loop" => arch::reset(),
        _ => None,
    };
    match generic.or_else(|| arch::hostile_case(case)) {
        Some(Outcome::Answered(value)) => {
            let taken = LAST_EXCEPTION.load(Ordering::Acquire);
            if taken != 0 {
                say!(
                    "tessera-hostile: {case} fault injected (syndrome {:#x})",
                    taken - 1
                );
            } else {
                say!("tessera-hostile: {case} answered ({value:#x})");
            }
        }
        None => say!("tessera-hostile: unknown case {case}"),
    }
    arch::power_off()
}
