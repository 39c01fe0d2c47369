//! Benchmarks (with `tessera.bench` on the command line): each figure is measured with
//! the guest's own counter over many operations and printed as one line,
//! `tessera-bench: name=<figure> ops=<n> ticks=<counter ticks> hz=<counter frequency>`,
//! so the same binary gives comparable figures under Tessera and booted natively.

use crate::{Console, arch};
use core::fmt::Write;

/// Operations per exit-heavy figure.
const CALLS: u64 = 2000;
/// Side of the square matrices multiplied.
const MATRIX: usize = 24;
/// Bytes of the pointer-chasing buffer (larger than the caches QEMU models matter
/// little under TCG, but the loop does no exits at all).
const CHASE_BYTES: u64 = 2 << 20;
/// Rounds of the interrupt figures.
const IRQ_ROUNDS: u64 = 200;
/// Steps of the pointer chase.
const CHASE_STEPS: u64 = 200_000;

/// The cheapest call that leaves the guest, and its figure's name: the firmware
/// interface's version call (a hypercall under Tessera, PSCI or SBI natively).
#[cfg(not(target_arch = "x86_64"))]
const TRAPPED_CALL: (&str, fn() -> (u32, u32)) = ("hypercall", arch::firmware_version);
/// On x86_64, natively there is no hypercall (VMMCALL faults): CPUID leaf 0, which
/// SVM always intercepts and QEMU answers natively, both ways.
#[cfg(target_arch = "x86_64")]
const TRAPPED_CALL: (&str, fn() -> u32) = ("cpuid", arch::cpuid_max_leaf);

/// Prints one figure; `hz` is the counter's frequency.
pub fn report(name: &str, ops: u64, ticks: u64, hz: u64) {
    let _ = writeln!(
        Console,
        "tessera-bench: name={name} ops={ops} ticks={ticks} hz={hz}"
    );
}

/// Counter ticks `work` takes.
fn measure(work: impl FnOnce()) -> u64 {
    let start = arch::counter();
    work();
    arch::counter().wrapping_sub(start)
}

/// Runs every figure; `scratch` is RAM (base, size) the guest may overwrite, `hz` the
/// counter's frequency.
pub fn run(scratch: (u64, u64), hz: u64) {
    let (name, call) = TRAPPED_CALL;
    let ticks = measure(|| {
        for _ in 0..CALLS {
            core::hint::black_box(call());
        }
    });
    report(name, CALLS, ticks, hz);
    let ticks = measure(|| {
        for _ in 0..CALLS {
            core::hint::black_box(arch::read_console_status());
        }
    });
    report("mmio_read", CALLS, ticks, hz);
    let mut sum = 0u64;
    let ticks = measure(|| sum = matrix_multiply());
    core::hint::black_box(sum);
    report(
        "matrix_multiply",
        (MATRIX * MATRIX * MATRIX) as u64,
        ticks,
        hz,
    );
    let (base, size) = scratch;
    if size >= CHASE_BYTES {
        let ticks = measure(|| {
            core::hint::black_box(pointer_chase(base));
        });
        report("pointer_chase", CHASE_STEPS, ticks, hz);
    }
    interrupt_figures(hz);
    let _ = writeln!(Console, "tessera-bench: done");
}

/// The timer interrupt latency and the IPI round trip.
fn interrupt_figures(hz: u64) {
    arch::init_cpu();
    let ticks = crate::irq::timer_latency(IRQ_ROUNDS);
    report("timer_irq_latency", IRQ_ROUNDS, ticks, hz);
    match crate::irq::ipi_round_trip(IRQ_ROUNDS) {
        Some(ticks) => report("ipi_round_trip", IRQ_ROUNDS, ticks, hz),
        None => {
            let _ = writeln!(
                Console,
                "tessera-bench: ipi_round_trip skipped (no second CPU)"
            );
        }
    }
}

/// A fixed integer matrix product; returns a checksum of the result.
fn matrix_multiply() -> u64 {
    let mut a = [[0u64; MATRIX]; MATRIX];
    let mut b = [[0u64; MATRIX]; MATRIX];
    for (i, (row_a, row_b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
        for (j, (x, y)) in row_a.iter_mut().zip(row_b.iter_mut()).enumerate() {
            *x = (i * 31 + j * 7) as u64;
            *y = (i * 3 + j * 17) as u64;
        }
    }
    let mut checksum = 0u64;
    for row in &a {
        for j in 0..MATRIX {
            let cell: u64 = row
                .iter()
                .zip(b.iter())
                .map(|(x, b_row)| x.wrapping_mul(b_row.get(j).copied().unwrap_or(0)))
                .fold(0, u64::wrapping_add);
            checksum = checksum.wrapping_add(cell);
        }
    }
    checksum
}

/// Links the buffer at `base` into one cycle with a fixed stride, then follows it.
fn pointer_chase(base: u64) -> u64 {
    let slots = CHASE_BYTES / 8;
    // A stride coprime with the slot count visits every slot once per cycle.
    let stride = 4099;
    for i in 0..slots {
        let next = base + ((i + stride) % slots) * 8;
        // SAFETY: the buffer lies in RAM the caller gave this benchmark to overwrite.
        unsafe { ((base + i * 8) as *mut u64).write_volatile(next) };
    }
    let mut at = base;
    for _ in 0..CHASE_STEPS {
        // SAFETY: every slot holds the address of another slot of the buffer.
        at = unsafe { (at as *const u64).read_volatile() };
    }
    at
}
