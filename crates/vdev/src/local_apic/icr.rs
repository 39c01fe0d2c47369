//! Interprocessor interrupts: the interrupt command register's fields (Intel SDM
//! vol. 3A section 11.6.1) decoded into the [`Ipi`] a write sends, and the x2APIC
//! SELF IPI register (section 11.12.11).

use super::registers::{DELIVERY_MODE_SHIFT, ESR_SEND_ILLEGAL, FIRST_LEGAL_VECTOR};
use super::{ApicMode, Effect, LocalApic};

/// ICR bits 31:0 a write keeps: vector, delivery mode, destination mode, level,
/// trigger mode and shorthand (not delivery status).
const ICR_LOW_WRITABLE: u64 = 0x000c_cfff;
/// ICR bits 63:32: the destination (bits 63:56 only in xAPIC mode).
pub(super) const ICR_HIGH_BITS: u64 = 0xffff_ffff_0000_0000;
/// ICR bits 63:56, the xAPIC destination, as the ICR high register holds them.
pub(super) const ICR_XAPIC_DESTINATION: u64 = 0xff00_0000;
/// ICR bit 11: logical destination mode.
const ICR_LOGICAL: u64 = 1 << 11;
/// ICR bit 14: level asserted (0 only for the INIT level de-assert).
const ICR_ASSERT: u64 = 1 << 14;
/// ICR bit 15: level trigger mode.
const ICR_LEVEL_TRIGGER: u64 = 1 << 15;
/// ICR bits 19:18: the destination shorthand.
const ICR_SHORTHAND_SHIFT: u32 = 18;

/// The delivery mode of an IPI, ICR bits 10:8.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IcrMode {
    /// 000: the vector to every destination.
    Fixed,
    /// 001: the vector to the destination processor with the lowest priority.
    LowestPriority,
    /// 010: a system management interrupt.
    Smi,
    /// 100: a non-maskable interrupt (the vector is ignored).
    Nmi,
    /// 101 with level asserted: an INIT.
    Init,
    /// 101 with level de-asserted and level trigger: the INIT level de-assert,
    /// which does nothing on modern processors (the hypervisor ignores it).
    InitDeassert,
    /// 110: a STARTUP; the vector is the start page number.
    Startup,
    /// 011 and 111, reserved.
    Reserved(u8),
}

impl IcrMode {
    /// The delivery mode an ICR value names.
    fn from_icr(icr: u64) -> Self {
        match (icr >> DELIVERY_MODE_SHIFT) & 0b111 {
            0b000 => Self::Fixed,
            0b001 => Self::LowestPriority,
            0b010 => Self::Smi,
            0b100 => Self::Nmi,
            0b101 if icr & ICR_ASSERT == 0 && icr & ICR_LEVEL_TRIGGER != 0 => Self::InitDeassert,
            0b101 => Self::Init,
            0b110 => Self::Startup,
            other => Self::Reserved(other as u8),
        }
    }
}

/// Which processors an IPI goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Destination {
    /// The processor with this APIC id (8 bits in xAPIC mode, 32 in x2APIC mode).
    Physical(u32),
    /// The processors for which [`LocalApic::matches_logical`] holds.
    Logical(u32),
    /// Shorthand 01: the sender only.
    SelfOnly,
    /// Shorthand 10, or the physical broadcast id (0xFF in xAPIC mode,
    /// 0xFFFF_FFFF in x2APIC mode): every processor.
    AllIncludingSelf,
    /// Shorthand 11: every processor but the sender.
    AllExcludingSelf,
}

/// An interprocessor interrupt an ICR write sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ipi {
    /// The vector (the start page of a STARTUP).
    pub vector: u8,
    /// The delivery mode.
    pub mode: IcrMode,
    /// The processors it goes to.
    pub destination: Destination,
}

impl IcrMode {
    /// This mode as 4 bits of an [`Ipi::to_word`] word.
    fn code(self) -> u64 {
        match self {
            Self::Fixed => 0,
            Self::LowestPriority => 1,
            Self::Smi => 2,
            Self::Nmi => 3,
            Self::Init => 4,
            Self::InitDeassert => 5,
            Self::Startup => 6,
            Self::Reserved(bits) => 0b1000 | u64::from(bits & 0b111),
        }
    }

    /// The mode of 4 bits of an [`Ipi::to_word`] word.
    fn of_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::Fixed,
            1 => Self::LowestPriority,
            2 => Self::Smi,
            3 => Self::Nmi,
            4 => Self::Init,
            5 => Self::InitDeassert,
            6 => Self::Startup,
            0b1000..=0b1111 => Self::Reserved((code & 0b111) as u8),
            _ => return None,
        })
    }
}

/// Bit positions of an [`Ipi::to_word`] word: the vector in bits 7:0, the mode in
/// 11:8, the destination's kind in 15:12 and its field (an APIC id or a logical
/// destination) in 63:32.
const WORD_MODE_SHIFT: u32 = 8;
const WORD_KIND_SHIFT: u32 = 12;
const WORD_FIELD_SHIFT: u32 = 32;

impl Ipi {
    /// This IPI as one word, to pass it from the sending vCPU to whatever routes it
    /// (the inverse of [`Ipi::from_word`]).
    pub fn to_word(&self) -> u64 {
        let (kind, field) = match self.destination {
            Destination::Physical(id) => (0, id),
            Destination::Logical(destination) => (1, destination),
            Destination::SelfOnly => (2, 0),
            Destination::AllIncludingSelf => (3, 0),
            Destination::AllExcludingSelf => (4, 0),
        };
        u64::from(self.vector)
            | (self.mode.code() << WORD_MODE_SHIFT)
            | (kind << WORD_KIND_SHIFT)
            | (u64::from(field) << WORD_FIELD_SHIFT)
    }

    /// The processors of a system of `count` APICs (APIC id n = processor n, as a
    /// hypervisor numbers its vCPUs) this IPI goes to, as a bit mask (processors
    /// from 64 on are not named), when processor `sender` sends it and
    /// `logical_id(n)` gives processor n's logical ID. A lowest-priority IPI goes
    /// to one of them, the lowest numbered: the SDM leaves the choice among equal
    /// priorities to the implementation, and this model does not weigh TPRs.
    pub fn targets(
        &self,
        sender: usize,
        count: usize,
        logical_id: impl Fn(usize) -> super::LogicalId,
    ) -> u64 {
        let count = count.min(64);
        let all = if count == 64 {
            u64::MAX
        } else {
            (1u64 << count) - 1
        };
        let bit = |n: usize| if n < count { 1u64 << n } else { 0 };
        let targets = match self.destination {
            Destination::Physical(id) => usize::try_from(id).map_or(0, bit),
            Destination::Logical(destination) => (0..count)
                .filter(|&n| logical_id(n).matches(destination))
                .fold(0, |mask, n| mask | bit(n)),
            Destination::SelfOnly => bit(sender),
            Destination::AllIncludingSelf => all,
            Destination::AllExcludingSelf => all & !bit(sender),
        };
        if self.mode == IcrMode::LowestPriority {
            targets & targets.wrapping_neg()
        } else {
            targets
        }
    }

    /// The IPI a [`Ipi::to_word`] word holds; `None` for a word no IPI gives.
    pub fn from_word(word: u64) -> Option<Self> {
        let field = (word >> WORD_FIELD_SHIFT) as u32;
        let destination = match (word >> WORD_KIND_SHIFT) & 0xf {
            0 => Destination::Physical(field),
            1 => Destination::Logical(field),
            2 => Destination::SelfOnly,
            3 => Destination::AllIncludingSelf,
            4 => Destination::AllExcludingSelf,
            _ => return None,
        };
        Some(Self {
            vector: word as u8,
            mode: IcrMode::of_code((word >> WORD_MODE_SHIFT) & 0xf)?,
            destination,
        })
    }
}

impl LocalApic {
    /// An ICR write (bits 31:0 in xAPIC mode, all 64 in x2APIC mode): the IPI it
    /// sends, or nothing for an illegal fixed or lowest-priority vector (ESR bit
    /// 5, send illegal vector).
    pub(super) fn write_icr(&mut self, value: u64) -> Effect {
        let x2apic = self.mode == ApicMode::X2Apic;
        self.icr = if x2apic {
            value & (ICR_HIGH_BITS | ICR_LOW_WRITABLE)
        } else {
            (self.icr & ICR_HIGH_BITS) | (value & ICR_LOW_WRITABLE)
        };
        let icr = self.icr;
        let vector = icr as u8;
        let mode = IcrMode::from_icr(icr);
        let needs_vector = matches!(mode, IcrMode::Fixed | IcrMode::LowestPriority);
        if needs_vector && vector < FIRST_LEGAL_VECTOR {
            self.record_error(ESR_SEND_ILLEGAL);
            return Effect::None;
        }
        let (field, broadcast) = if x2apic {
            ((icr >> 32) as u32, u32::MAX)
        } else {
            (u32::from((icr >> 56) as u8), u32::from(u8::MAX))
        };
        let destination = match (icr >> ICR_SHORTHAND_SHIFT) & 0b11 {
            0b01 => Destination::SelfOnly,
            0b10 => Destination::AllIncludingSelf,
            0b11 => Destination::AllExcludingSelf,
            _ if icr & ICR_LOGICAL != 0 => Destination::Logical(field),
            _ if field == broadcast => Destination::AllIncludingSelf,
            _ => Destination::Physical(field),
        };
        Effect::Ipi(Ipi {
            vector,
            mode,
            destination,
        })
    }

    /// A SELF IPI write: a fixed, edge-triggered `vector` to this APIC (below 16,
    /// ESR bit 5 instead, as for the ICR).
    pub(super) fn send_self(&mut self, vector: u8) {
        if vector < FIRST_LEGAL_VECTOR {
            self.record_error(ESR_SEND_ILLEGAL);
        } else {
            self.accept(vector, false);
        }
    }
}
