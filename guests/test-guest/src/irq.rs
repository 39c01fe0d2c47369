//! Interrupt benchmarks shared by the architectures: how long after its deadline the
//! guest's timer interrupt reaches its handler, and how long an IPI round trip to a
//! second vCPU (started through the firmware interface) takes.

use crate::arch;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What an interrupt handler saw.
pub enum Event {
    /// The timer fired.
    Timer,
    /// CPU 1 got the IPI of a round trip.
    Ping,
    /// CPU 0 got the answer.
    Pong,
}

/// Counter value when the timer handler ran (0: not yet).
static TIMER_AT: AtomicU64 = AtomicU64::new(0);
/// Answers CPU 0 got.
static PONGS: AtomicU64 = AtomicU64::new(0);
/// CPU 1 runs and takes interrupts.
static SECONDARY_UP: AtomicBool = AtomicBool::new(false);

/// Stack of CPU 1.
#[repr(C, align(16))]
struct Stack([u8; 32 * 1024]);

static mut SECONDARY_STACK: Stack = Stack([0; 32 * 1024]);

/// Ticks the timer is armed ahead.
const TIMER_AHEAD: u64 = 200;
/// Busy iterations CPU 0 waits at most for CPU 1 to come up.
const START_PATIENCE: u64 = 50_000_000;

/// Waits until `done` holds. The check and the WFI run with interrupts masked, so an
/// interrupt that arrives between them still ends the WFI (it is pending) and is taken
/// right after: checking with interrupts on and then waiting would lose a wake-up that
/// came in between and sleep for good.
pub fn wait_until(done: impl Fn() -> bool) {
    loop {
        arch::mask_interrupts();
        if done() {
            arch::unmask_interrupts();
            return;
        }
        arch::wait();
        arch::unmask_interrupts();
    }
}

/// Forgets the timer interrupts taken so far (see [`timer_taken`]).
#[cfg(target_arch = "aarch64")]
pub fn forget_timer() {
    TIMER_AT.store(0, Ordering::Release);
}

/// Whether a timer interrupt was taken since [`forget_timer`].
#[cfg(target_arch = "aarch64")]
pub fn timer_taken() -> bool {
    TIMER_AT.load(Ordering::Acquire) != 0
}

/// Called by the architecture's interrupt handler.
pub fn on_event(event: Event) {
    match event {
        Event::Timer => TIMER_AT.store(arch::counter().max(1), Ordering::Release),
        Event::Ping => arch::send_ipi(0, arch::SGI_PONG),
        Event::Pong => {
            PONGS.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// What CPU 1 was asked to look at, and what it saw: the status of CPU 0 while
/// CPU 0 suspends itself ([`suspended_status_check`]).
#[cfg(target_arch = "riscv64")]
static PROBE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(PROBE_NONE);
#[cfg(target_arch = "riscv64")]
const PROBE_NONE: u8 = 0;
#[cfg(target_arch = "riscv64")]
const PROBE_ASKED: u8 = 1;
#[cfg(target_arch = "riscv64")]
const PROBE_SEEN: u8 = 2;
#[cfg(target_arch = "riscv64")]
const PROBE_MISSED: u8 = 3;

/// CPU 1: take interrupts forever (and, when asked, watch CPU 0 suspend itself).
pub fn secondary_main() -> ! {
    arch::init_cpu();
    SECONDARY_UP.store(true, Ordering::Release);
    loop {
        #[cfg(target_arch = "riscv64")]
        if PROBE.load(Ordering::Acquire) == PROBE_ASKED {
            let seen = arch::watch_suspend_of(0);
            PROBE.store(
                if seen { PROBE_SEEN } else { PROBE_MISSED },
                Ordering::Release,
            );
            // Wakes CPU 0 from its suspend (whatever was seen).
            arch::send_ipi(0, arch::SGI_PONG);
        }
        arch::wait();
    }
}

/// Starts CPU 1 unless it runs already; whether it runs.
fn bring_up_secondary() -> bool {
    if SECONDARY_UP.load(Ordering::Acquire) {
        return true;
    }
    let top = core::ptr::addr_of!(SECONDARY_STACK) as u64 + 32 * 1024;
    if !arch::start_secondary(top) {
        return false;
    }
    (0..START_PATIENCE).any(|_| {
        core::hint::spin_loop();
        SECONDARY_UP.load(Ordering::Acquire)
    })
}

/// HSM status of a suspended hart, as another hart sees it: CPU 1 is asked (by an
/// IPI, whose answer CPU 0 waits for) to watch CPU 0's status; CPU 0 suspends itself
/// (retentive) with its interrupts masked; CPU 1 must see it SUSPENDED, then wakes it
/// with an IPI. `None` when there is no second CPU.
#[cfg(target_arch = "riscv64")]
pub fn suspended_status_check() -> Option<Result<(), &'static str>> {
    if !bring_up_secondary() {
        return None;
    }
    arch::init_cpu();
    let before = PONGS.load(Ordering::Acquire);
    PROBE.store(PROBE_ASKED, Ordering::Release);
    arch::send_ipi(1, arch::SGI_PING);
    wait_until(|| PONGS.load(Ordering::Acquire) != before);
    arch::mask_interrupts();
    let suspended = arch::suspend_retentive();
    arch::unmask_interrupts();
    wait_until(|| PROBE.load(Ordering::Acquire) != PROBE_ASKED);
    let seen = PROBE.swap(PROBE_NONE, Ordering::AcqRel);
    Some(match (suspended, seen) {
        (false, _) => Err("hsm status: a retentive suspend did not return SUCCESS"),
        (true, PROBE_SEEN) => Ok(()),
        _ => Err("hsm status: another hart did not see this one SUSPENDED"),
    })
}

/// Arms the timer `ahead` ticks from now and waits for its interrupt; returns how many
/// ticks after the deadline the handler ran.
fn one_tick(ahead: u64) -> u64 {
    TIMER_AT.store(0, Ordering::Release);
    let deadline = arch::counter() + ahead;
    arch::arm_timer(deadline);
    wait_until(|| TIMER_AT.load(Ordering::Acquire) != 0);
    TIMER_AT.load(Ordering::Acquire).saturating_sub(deadline)
}

/// Total ticks from each of `rounds` timer deadlines to its handler.
pub fn timer_latency(rounds: u64) -> u64 {
    (0..rounds).map(|_| one_tick(TIMER_AHEAD)).sum()
}

/// Takes `ticks` timer interrupts `spacing` counter ticks apart.
#[cfg(not(target_arch = "x86_64"))]
pub fn take_ticks(ticks: u64, spacing: u64) {
    for _ in 0..ticks {
        one_tick(spacing);
    }
}

/// Total ticks of `rounds` IPI round trips to CPU 1, or `None` when it cannot start.
pub fn ipi_round_trip(rounds: u64) -> Option<u64> {
    if !bring_up_secondary() {
        return None;
    }
    let mut total = 0;
    for _ in 0..rounds {
        let before = PONGS.load(Ordering::Acquire);
        let start = arch::counter();
        arch::send_ipi(1, arch::SGI_PING);
        wait_until(|| PONGS.load(Ordering::Acquire) != before);
        total += arch::counter() - start;
    }
    Some(total)
}
