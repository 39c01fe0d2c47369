//! GICv3 list register (ICH_LR<n>_EL2) values: how the hypervisor hands one virtual
//! interrupt to the GIC's virtual CPU interface, which delivers it to the guest.

/// State field, bits [63:62].
const STATE_SHIFT: u32 = 62;
/// HW bit 61: the virtual interrupt is linked to a physical one, deactivated with it.
const HW: u64 = 1 << 61;
/// Group bit 60: Group 1.
const GROUP1: u64 = 1 << 60;
/// Priority, bits [55:48].
const PRIORITY_SHIFT: u32 = 48;
/// Physical INTID, bits [44:32], when HW is set.
const PINTID_SHIFT: u32 = 32;
const PINTID_MASK: u64 = 0x1fff;
/// vINTID, bits [31:0] (INTIDs up to 1019 fit in 10 bits).
const VINTID_MASK: u64 = 0xffff_ffff;

/// The state of a list register entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrState {
    /// Free.
    Invalid,
    /// Waiting for the guest to acknowledge it.
    Pending,
    /// Acknowledged, not yet deactivated.
    Active,
    /// Acknowledged, and pending again.
    PendingActive,
}

/// One list register value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ListRegister(pub u64);

impl ListRegister {
    /// A pending Group 1 interrupt `vintid` with `priority`, linked to the physical
    /// interrupt `physical` when given.
    pub fn pending(vintid: u32, priority: u8, physical: Option<u32>) -> Self {
        let mut value = (1 << STATE_SHIFT)
            | GROUP1
            | (u64::from(priority) << PRIORITY_SHIFT)
            | (u64::from(vintid) & VINTID_MASK);
        if let Some(pintid) = physical {
            value |= HW | ((u64::from(pintid) & PINTID_MASK) << PINTID_SHIFT);
        }
        Self(value)
    }

    /// Its state.
    pub fn state(self) -> LrState {
        match self.0 >> STATE_SHIFT {
            0 => LrState::Invalid,
            1 => LrState::Pending,
            2 => LrState::Active,
            _ => LrState::PendingActive,
        }
    }

    /// The virtual INTID it holds.
    pub fn vintid(self) -> u32 {
        (self.0 & VINTID_MASK) as u32
    }

    /// Whether it is linked to a physical interrupt.
    pub fn is_hardware(self) -> bool {
        self.0 & HW != 0
    }

    /// The same interrupt made pending again while active, for interrupts without a
    /// physical link (a linked one cannot be pending and active at once).
    pub fn with_pending_again(self) -> Option<Self> {
        (self.state() == LrState::Active && !self.is_hardware())
            .then_some(Self(self.0 | (1 << STATE_SHIFT)))
    }

    /// Whether another raise of the same interrupt can be folded into this entry
    /// (it is already pending, or active and can become pending too).
    pub fn absorbs_raise(self) -> bool {
        match self.state() {
            LrState::Invalid => false,
            LrState::Pending | LrState::PendingActive => true,
            LrState::Active => !self.is_hardware(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_pending_software_interrupt() {
        let lr = ListRegister::pending(33, 0xa0, None);
        assert_eq!(lr.0, (1 << 62) | (1 << 60) | (0xa0 << 48) | 33);
        assert_eq!(lr.state(), LrState::Pending);
        assert_eq!(lr.vintid(), 33);
        assert!(!lr.is_hardware());
    }

    #[test]
    fn encodes_a_hardware_linked_interrupt() {
        let lr = ListRegister::pending(27, 0x80, Some(27));
        assert_eq!(
            lr.0,
            (1 << 62) | (1 << 61) | (1 << 60) | (0x80 << 48) | (27 << 32) | 27
        );
        assert!(lr.is_hardware());
        assert!(lr.absorbs_raise());
    }

    #[test]
    fn states_and_raising_again() {
        let active = ListRegister((2 << 62) | (1 << 60) | 5);
        assert_eq!(active.state(), LrState::Active);
        let again = active.with_pending_again().unwrap();
        assert_eq!(again.state(), LrState::PendingActive);
        assert_eq!(again.vintid(), 5);
        assert!(active.absorbs_raise());
        let hw_active = ListRegister((2 << 62) | (1 << 61) | 27);
        assert_eq!(hw_active.with_pending_again(), None);
        assert!(!hw_active.absorbs_raise());
        assert_eq!(ListRegister(0).state(), LrState::Invalid);
        assert!(!ListRegister(0).absorbs_raise());
        assert_eq!(ListRegister(3 << 62).state(), LrState::PendingActive);
    }
}
