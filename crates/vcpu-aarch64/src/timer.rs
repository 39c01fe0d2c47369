//! The output of a guest's generic timer (the virtual or the EL1 physical one), as
//! the architecture defines it from CNT*_CTL_EL0 and the compare value: the timer
//! asserts its interrupt while it is enabled, not masked, and its condition is met.
//! The timer PPI is a level-sensitive line driven by that output.

/// CNT*_CTL_EL0.ENABLE.
const ENABLE: u64 = 1 << 0;
/// CNT*_CTL_EL0.IMASK.
const IMASK: u64 = 1 << 1;
/// CNT*_CTL_EL0.ISTATUS: the condition is met (read-only, kept by the hardware).
const ISTATUS: u64 = 1 << 2;

/// The output of a running timer whose control register reads `ctl`.
pub fn output_of(ctl: u64) -> bool {
    ctl & (ENABLE | IMASK | ISTATUS) == ENABLE | ISTATUS
}

/// Whether a timer with control `ctl` will assert its interrupt when its condition
/// is met: enabled, not masked.
pub fn armed(ctl: u64) -> bool {
    ctl & (ENABLE | IMASK) == ENABLE
}

/// The output of a saved timer (control `ctl`, compare value `cval`) at counter value
/// `count`: the saved ISTATUS is as old as the save, so the condition is worked out.
pub fn saved_output(ctl: u64, cval: u64, count: u64) -> bool {
    armed(ctl) && count >= cval
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_unmasked_and_met() {
        assert!(output_of(ENABLE | ISTATUS));
        assert!(!output_of(ENABLE));
        assert!(!output_of(ENABLE | IMASK | ISTATUS));
        assert!(!output_of(ISTATUS));
        assert!(!output_of(0));
    }

    #[test]
    fn saved_timers_compare_with_the_counter() {
        assert!(saved_output(ENABLE, 100, 100));
        assert!(saved_output(ENABLE, 100, 101));
        assert!(!saved_output(ENABLE, 100, 99));
        assert!(!saved_output(ENABLE | IMASK, 100, 200));
        assert!(!saved_output(0, 100, 200));
        // A stale ISTATUS does not count.
        assert!(!saved_output(ENABLE | ISTATUS, 100, 99));
    }
}
