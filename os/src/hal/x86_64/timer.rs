//! Time on a PC: the time-stamp counter as the clock, and each CPU's local APIC
//! timer (one-shot) to wake it at a deadline. Both run at rates the hardware does
//! not state, so [`calibrate`] measures them against PIT channel 2, whose input
//! clock is fixed, once at boot.

use super::apic;
use super::cpu::{self, PENDING_TIMER};
use super::io::rdtsc;
use crate::platform::CPU_COUNT;
use core::sync::atomic::{AtomicU64, Ordering};

/// The window the rates are measured over, in microseconds.
const CALIBRATION_US: u64 = 10_000;

/// Time-stamp counter ticks per second (0 until calibrated).
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
/// Local APIC timer ticks per second at divide-by-1 (0 until calibrated).
static APIC_TIMER_HZ: AtomicU64 = AtomicU64::new(0);
/// The deadline (TSC) each CPU's APIC timer is set for; `u64::MAX` for none.
static ARMED: [AtomicU64; CPU_COUNT] = [const { AtomicU64::new(u64::MAX) }; CPU_COUNT];

/// Measures the TSC and the local APIC timer against PIT channel 2 (boot CPU, once).
pub fn calibrate() {
    apic::start_timer_count();
    let tsc_start = rdtsc();
    cpu::delay_us(CALIBRATION_US);
    let tsc_end = rdtsc();
    let apic_ticks = apic::stop_timer_count();
    let per_second = |ticks: u64| ticks.saturating_mul(1_000_000) / CALIBRATION_US;
    TSC_HZ.store(per_second(tsc_end - tsc_start).max(1), Ordering::Relaxed);
    APIC_TIMER_HZ.store(per_second(apic_ticks).max(1), Ordering::Relaxed);
}

/// Counter (TSC) ticks per second.
pub fn counter_frequency() -> u64 {
    TSC_HZ.load(Ordering::Relaxed).max(1)
}

/// Wakes this CPU (a [`PENDING_TIMER`] interrupt) when the TSC reaches `deadline`,
/// unless it is already set to wake earlier: each caller names the time it needs,
/// and the earliest wins until it fires.
pub fn wake_at(deadline: u64) {
    let Some(armed) = ARMED.get(cpu::cpu_index()) else {
        return;
    };
    let now = rdtsc();
    let current = armed.load(Ordering::Acquire);
    if current != u64::MAX && current > now && current <= deadline {
        return;
    }
    armed.store(deadline, Ordering::Release);
    let ticks = u128::from(deadline.saturating_sub(now))
        * u128::from(APIC_TIMER_HZ.load(Ordering::Relaxed))
        / u128::from(counter_frequency());
    apic::start_one_shot(u32::try_from(ticks).unwrap_or(u32::MAX).max(1));
}

/// The timer interrupt arrived: this CPU's deadline is spent.
pub(super) fn fired() {
    if let Some(armed) = ARMED.get(cpu::cpu_index()) {
        armed.store(u64::MAX, Ordering::Release);
    }
    cpu::note_interrupt(PENDING_TIMER);
}
