//! The local APIC timer of Intel SDM vol. 3A section 11.5.4: one-shot, periodic
//! and TSC-deadline modes, worked out from the VM's time-stamp counter passed to
//! every call, so nothing has to run between accesses.
//!
//! A count runs from the TSC time it was started; the timer's clock ticks
//! `timer_hz / divisor` times a second against the TSC's `tsc_hz`. Products are
//! taken in `u128` and saturate: the guest chooses every count and divisor.

/// LVT timer bits 18:17: the timer mode.
const MODE_SHIFT: u32 = 17;
/// The divide configuration register's bits: 0, 1 and 3.
const DIVIDE_WRITABLE: u32 = 0b1011;

/// The timer's counting mode, from LVT timer bits 18:17.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum TimerMode {
    /// 00: counts down once from the initial count.
    OneShot,
    /// 01: counts down and reloads the initial count at 0.
    Periodic,
    /// 10: fires when the TSC reaches IA32_TSC_DEADLINE.
    TscDeadline,
}

impl TimerMode {
    /// The mode an LVT timer entry selects.
    pub(super) fn from_lvt(lvt: u32) -> Self {
        match (lvt >> MODE_SHIFT) & 0b11 {
            0b01 => Self::Periodic,
            0b10 => Self::TscDeadline,
            // 11 is reserved; it counts as one-shot, the mode of 00.
            _ => Self::OneShot,
        }
    }
}

/// The divisor a divide configuration value selects: 0b1011 divides by 1, any
/// other value by 2 to the power of its 3-bit code (bits 3, 1, 0) plus 1.
fn divisor(divide: u32) -> u32 {
    let code = ((divide >> 1) & 0b100) | (divide & 0b11);
    if code == 0b111 { 1 } else { 2 << code }
}

/// A count in progress (one-shot or periodic).
#[derive(Clone, Copy, Debug)]
struct Run {
    /// The TSC time the count started from.
    start: u64,
    /// The divisor latched when the count started.
    divisor: u32,
    /// Whole periods already delivered (periodic mode): the next expiry ends
    /// period `periods + 1`, which keeps the expiries in phase with `start`.
    periods: u64,
}

/// The timer's registers and count.
#[derive(Clone, Debug)]
pub(super) struct Timer {
    /// TSC ticks a second, at least 1.
    tsc_hz: u64,
    /// Timer input ticks a second before the divider, at least 1.
    timer_hz: u64,
    /// The initial count register.
    initial: u32,
    /// The divide configuration register.
    divide: u32,
    /// The count in progress, if any.
    run: Option<Run>,
    /// IA32_TSC_DEADLINE; 0 is disarmed.
    deadline: u64,
}

impl Timer {
    /// A stopped timer counting `timer_hz` against a TSC of `tsc_hz` (0 counts as 1).
    pub(super) fn new(tsc_hz: u64, timer_hz: u64) -> Self {
        Self {
            tsc_hz: tsc_hz.max(1),
            timer_hz: timer_hz.max(1),
            initial: 0,
            divide: 0,
            run: None,
            deadline: 0,
        }
    }

    /// The rates given to [`Timer::new`], clamped.
    pub(super) fn rates(&self) -> (u64, u64) {
        (self.tsc_hz, self.timer_hz)
    }

    /// Stops the timer: no count, no deadline, initial count 0.
    pub(super) fn disarm(&mut self) {
        self.initial = 0;
        self.run = None;
        self.deadline = 0;
    }

    /// The initial count register.
    pub(super) fn initial(&self) -> u32 {
        self.initial
    }

    /// The divide configuration register.
    pub(super) fn divide(&self) -> u32 {
        self.divide
    }

    /// A write of the divide configuration register; it applies from the next
    /// initial count written.
    pub(super) fn set_divide(&mut self, value: u32) {
        self.divide = value & DIVIDE_WRITABLE;
    }

    /// A write of the initial count register at `now`: starts counting from
    /// `now`, or stops the timer if `value` is 0. Ignored in TSC-deadline mode.
    pub(super) fn set_initial(&mut self, value: u32, now: u64, mode: TimerMode) {
        if mode == TimerMode::TscDeadline {
            return;
        }
        self.initial = value;
        self.run = (value != 0).then(|| Run {
            start: now,
            divisor: divisor(self.divide),
            periods: 0,
        });
    }

    /// The current count register at `now`.
    pub(super) fn current(&self, now: u64, mode: TimerMode) -> u32 {
        let Some(run) = self.run else { return 0 };
        let initial = u128::from(self.initial);
        let elapsed = self.elapsed_ticks(run, now);
        let count = match mode {
            TimerMode::TscDeadline => 0,
            TimerMode::OneShot => initial.saturating_sub(elapsed),
            TimerMode::Periodic => elapsed
                .checked_rem(initial)
                .map_or(0, |into| initial.saturating_sub(into)),
        };
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// IA32_TSC_DEADLINE as read: 0 outside TSC-deadline mode.
    pub(super) fn tsc_deadline(&self, mode: TimerMode) -> u64 {
        if mode == TimerMode::TscDeadline {
            self.deadline
        } else {
            0
        }
    }

    /// A write of IA32_TSC_DEADLINE (0 disarms); whether it was taken (only in
    /// TSC-deadline mode).
    pub(super) fn set_tsc_deadline(&mut self, value: u64, mode: TimerMode) -> bool {
        if mode != TimerMode::TscDeadline {
            return false;
        }
        self.deadline = value;
        true
    }

    /// The TSC time of the next expiry, even if it has passed; `None` if the
    /// timer is stopped.
    pub(super) fn next_expiry(&self, mode: TimerMode) -> Option<u64> {
        if mode == TimerMode::TscDeadline {
            return (self.deadline != 0).then_some(self.deadline);
        }
        let run = self.run?;
        let periods = match mode {
            TimerMode::Periodic => u128::from(run.periods).saturating_add(1),
            _ => 1,
        };
        let ticks = periods.saturating_mul(u128::from(self.initial));
        Some(self.tsc_after(run, ticks))
    }

    /// Whether the timer expired at or before `now`; if so a one-shot count or
    /// a TSC deadline is disarmed and a periodic count moves on past `now` by
    /// whole periods (missed periods make one expiry).
    pub(super) fn expire(&mut self, now: u64, mode: TimerMode) -> bool {
        if self.next_expiry(mode).is_none_or(|at| at > now) {
            return false;
        }
        match mode {
            TimerMode::TscDeadline => self.deadline = 0,
            TimerMode::OneShot => self.run = None,
            TimerMode::Periodic => {
                if let Some(mut run) = self.run {
                    let elapsed = self.elapsed_ticks(run, now);
                    let periods = elapsed.checked_div(u128::from(self.initial)).unwrap_or(0);
                    run.periods = u64::try_from(periods).unwrap_or(u64::MAX);
                    self.run = Some(run);
                }
            }
        }
        true
    }

    /// Timer ticks (after the divider) of `run` from its start to `now` (none if
    /// time went back).
    fn elapsed_ticks(&self, run: Run, now: u64) -> u128 {
        // Both factors are below 2^64, so the product fits in a u128.
        let input = u128::from(now.saturating_sub(run.start)) * u128::from(self.timer_hz);
        let per_tick = u128::from(self.tsc_hz) * u128::from(run.divisor);
        input.checked_div(per_tick).unwrap_or(0)
    }

    /// The first TSC time at which `ticks` timer ticks of `run` have passed
    /// (`u64::MAX` if past the TSC's range).
    fn tsc_after(&self, run: Run, ticks: u128) -> u64 {
        let input = ticks
            .saturating_mul(u128::from(self.tsc_hz))
            .saturating_mul(u128::from(run.divisor));
        let tsc_ticks = input.div_ceil(u128::from(self.timer_hz));
        u64::try_from(tsc_ticks)
            .ok()
            .and_then(|delta| run.start.checked_add(delta))
            .unwrap_or(u64::MAX)
    }
}
