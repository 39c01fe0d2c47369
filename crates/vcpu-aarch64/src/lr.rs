//! List register values: how the hypervisor hands one virtual interrupt to the GIC's
//! virtual CPU interface, which delivers it to the guest.
//!
//! A [`ListRegister`] holds the GICv3 layout (ICH_LR<n>_EL2). A GICv2's list
//! registers (GICH_LR<n>, 32 bits) hold the same fields in less room, and one more,
//! the CPUID of a software SGI's sender: [`ListRegister::to_v2`] and
//! [`ListRegister::from_v2`] translate, keeping the sender in bits [44:42], which the
//! GICv3 layout leaves RES0 when HW is clear (only a GICv2 ever sees one set).

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
/// The sender of a software SGI for a GICv2, bits [44:42] (see the module comment).
const SOURCE_SHIFT: u32 = 42;
const SOURCE_MASK: u64 = 0x7;

/// GICH_LR<n> (GICv2) fields: VirtualID [9:0], PhysicalID [19:10] with HW or the
/// sender's CPUID [12:10] without, Priority [27:23] (the top five bits), State
/// [29:28], Grp1 (30), HW (31).
const V2_ID_MASK: u32 = 0x3ff;
const V2_PHYSICAL_SHIFT: u32 = 10;
const V2_CPUID_MASK: u32 = 0x7;
const V2_PRIORITY_SHIFT: u32 = 23;
const V2_STATE_SHIFT: u32 = 28;
const V2_GROUP1: u32 = 1 << 30;
const V2_HW: u32 = 1 << 31;

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

/// An interrupt to put into a list register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtualIrq {
    /// Its virtual INTID.
    pub intid: u32,
    /// Its priority.
    pub priority: u8,
    /// Group 1 (true) or Group 0: which of the guest's group enables it answers to.
    pub group1: bool,
    /// For an SGI on a GICv2, the vCPU that sent it (the guest reads it with the
    /// INTID); 0 otherwise.
    pub source: u8,
    /// The physical interrupt it is linked to, deactivated with it.
    pub physical: Option<u32>,
}

/// One list register value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ListRegister(pub u64);

impl ListRegister {
    /// A pending interrupt as [`VirtualIrq`] describes it.
    pub fn pending(irq: VirtualIrq) -> Self {
        let mut value = (1 << STATE_SHIFT)
            | if irq.group1 { GROUP1 } else { 0 }
            | (u64::from(irq.priority) << PRIORITY_SHIFT)
            | (u64::from(irq.intid) & VINTID_MASK);
        match irq.physical {
            Some(pintid) => value |= HW | ((u64::from(pintid) & PINTID_MASK) << PINTID_SHIFT),
            None => value |= (u64::from(irq.source) & SOURCE_MASK) << SOURCE_SHIFT,
        }
        Self(value)
    }

    /// The GICH_LR<n> value of a GICv2 that holds the same (vINTIDs and physical
    /// INTIDs above 1023 do not fit and are cut to 10 bits; priorities keep their top
    /// five bits, which are all a GICv2 list register has).
    pub fn to_v2(self) -> u32 {
        let v = self.0;
        let mut raw = (self.vintid() & V2_ID_MASK)
            | ((((v >> PRIORITY_SHIFT) & 0xff) as u32 >> 3) << V2_PRIORITY_SHIFT)
            | (((v >> STATE_SHIFT) as u32) << V2_STATE_SHIFT);
        if v & GROUP1 != 0 {
            raw |= V2_GROUP1;
        }
        raw |= if self.is_hardware() {
            V2_HW | ((((v >> PINTID_SHIFT) & PINTID_MASK) as u32 & V2_ID_MASK) << V2_PHYSICAL_SHIFT)
        } else {
            (((v >> SOURCE_SHIFT) & SOURCE_MASK) as u32) << V2_PHYSICAL_SHIFT
        };
        raw
    }

    /// The list register a GICv2's GICH_LR<n> value `raw` describes.
    pub fn from_v2(raw: u32) -> Self {
        let mut value = (u64::from(raw & V2_ID_MASK))
            | (u64::from((raw >> V2_PRIORITY_SHIFT) & 0x1f) << 3 << PRIORITY_SHIFT)
            | (u64::from((raw >> V2_STATE_SHIFT) & 0x3) << STATE_SHIFT);
        if raw & V2_GROUP1 != 0 {
            value |= GROUP1;
        }
        let id = u64::from((raw >> V2_PHYSICAL_SHIFT) & V2_ID_MASK);
        value |= if raw & V2_HW != 0 {
            HW | (id << PINTID_SHIFT)
        } else {
            (id & u64::from(V2_CPUID_MASK)) << SOURCE_SHIFT
        };
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

    fn irq(intid: u32, priority: u8, physical: Option<u32>) -> VirtualIrq {
        VirtualIrq {
            intid,
            priority,
            group1: true,
            source: 0,
            physical,
        }
    }

    #[test]
    fn encodes_a_pending_software_interrupt() {
        let lr = ListRegister::pending(irq(33, 0xa0, None));
        assert_eq!(lr.0, (1 << 62) | (1 << 60) | (0xa0 << 48) | 33);
        assert_eq!(lr.state(), LrState::Pending);
        assert_eq!(lr.vintid(), 33);
        assert!(!lr.is_hardware());
    }

    #[test]
    fn encodes_a_hardware_linked_interrupt() {
        let lr = ListRegister::pending(irq(27, 0x80, Some(27)));
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

    #[test]
    fn gicv2_layout_round_trips() {
        // A Group 0 SGI 3 from vCPU 2, pending, priority 0xa0 (0x14 in five bits).
        let sgi = ListRegister::pending(VirtualIrq {
            intid: 3,
            priority: 0xa0,
            group1: false,
            source: 2,
            physical: None,
        });
        assert_eq!(sgi.to_v2(), (1 << 28) | (0x14 << 23) | (2 << 10) | 3);
        assert_eq!(ListRegister::from_v2(sgi.to_v2()), sgi);
        // The virtual timer linked to its PPI, Group 1, active.
        let timer = ListRegister::pending(irq(27, 0x80, Some(27)));
        let raw = timer.to_v2();
        assert_eq!(
            raw,
            (1 << 31) | (1 << 30) | (1 << 28) | (0x10 << 23) | (27 << 10) | 27
        );
        let active = ListRegister::from_v2((raw & !(3 << 28)) | (2 << 28));
        assert_eq!(active.state(), LrState::Active);
        assert!(active.is_hardware());
        assert_eq!(active.vintid(), 27);
        assert!(!active.absorbs_raise());
        // Pending again keeps the sender.
        let held = ListRegister::from_v2((2 << 28) | (5 << 10) | 7);
        let again = held.with_pending_again().unwrap();
        assert_eq!(again.to_v2(), (3 << 28) | (5 << 10) | 7);
        assert_eq!(ListRegister::from_v2(0).state(), LrState::Invalid);
    }
}
