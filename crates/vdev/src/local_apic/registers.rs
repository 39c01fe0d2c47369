//! The register file of the local APIC: where each register is in the xAPIC page
//! (x2APIC MSR 0x800 + offset / 16), which bits a write changes, and the reads and
//! writes both access paths share (Intel SDM vol. 3A section 11.4 for the xAPIC
//! page, 11.12.1 for the x2APIC MSRs).

use super::icr::{ICR_HIGH_BITS, ICR_XAPIC_DESTINATION};
use super::timer::TimerMode;
use super::{ApicError, ApicMode, Effect, LocalApic, assign, highest, test, word, x2apic_ldr};
use crate::AccessWidth;

/// The ID register.
pub(super) const ID: u64 = 0x20;
/// The version register.
pub(super) const VERSION: u64 = 0x30;
/// The task priority register.
pub(super) const TPR: u64 = 0x80;
/// The arbitration priority register (xAPIC only, reads 0).
pub(super) const APR: u64 = 0x90;
/// The processor priority register.
pub(super) const PPR: u64 = 0xa0;
/// The EOI register (write-only).
pub(super) const EOI: u64 = 0xb0;
/// The remote read register (xAPIC only, reads 0).
pub(super) const RRD: u64 = 0xc0;
/// The logical destination register.
pub(super) const LDR: u64 = 0xd0;
/// The destination format register (xAPIC only).
pub(super) const DFR: u64 = 0xe0;
/// The spurious interrupt vector register.
pub(super) const SVR: u64 = 0xf0;
/// The first of the eight in-service registers.
pub(super) const ISR: u64 = 0x100;
/// The first of the eight trigger mode registers.
pub(super) const TMR: u64 = 0x180;
/// The first of the eight interrupt request registers.
pub(super) const IRR: u64 = 0x200;
/// The error status register.
pub(super) const ESR: u64 = 0x280;
/// The interrupt command register, bits 31:0 (all 64 bits in x2APIC mode).
pub(super) const ICR_LOW: u64 = 0x300;
/// The interrupt command register, bits 63:32 (xAPIC only).
pub(super) const ICR_HIGH: u64 = 0x310;
/// The first LVT entry, the timer's; the others follow every 16 bytes.
pub(super) const LVT_FIRST: u64 = 0x320;
/// The timer's initial count register.
pub(super) const INITIAL_COUNT: u64 = 0x380;
/// The timer's current count register (read-only).
pub(super) const CURRENT_COUNT: u64 = 0x390;
/// The timer's divide configuration register.
pub(super) const DIVIDE_CONFIG: u64 = 0x3e0;
/// The SELF IPI register (x2APIC only, write-only).
pub(super) const SELF_IPI: u64 = 0x3f0;

/// The version register's value: version 0x14, maximum LVT entry 5.
const VERSION_VALUE: u32 = 0x0005_0014;
/// The xAPIC LDR's writable bits, the logical ID.
const LDR_WRITABLE: u32 = 0xff00_0000;
/// The DFR's writable bits, the model; the others read as 1.
pub(super) const DFR_WRITABLE: u32 = 0xf000_0000;
/// The SVR's writable bits: the spurious vector and the software enable.
const SVR_WRITABLE: u32 = 0x1ff;
/// SVR bit 8: the APIC is software-enabled.
pub(super) const SVR_ENABLE: u32 = 1 << 8;
/// The SVR after reset: vector 0xFF, software-disabled.
pub(super) const SVR_RESET: u32 = 0xff;
/// ESR bit 5: an ICR write named an illegal vector.
pub(super) const ESR_SEND_ILLEGAL: u32 = 1 << 5;
/// ESR bit 6: an interrupt with an illegal vector arrived.
pub(super) const ESR_RECEIVE_ILLEGAL: u32 = 1 << 6;
/// Vectors below this one are illegal for fixed interrupts.
pub(super) const FIRST_LEGAL_VECTOR: u8 = 16;

/// ICR and LVT bits 10:8: the delivery mode.
pub(super) const DELIVERY_MODE_SHIFT: u32 = 8;

/// Index of the LVT timer entry (0x320) in the LVT array.
pub(super) const LVT_TIMER: usize = 0;
/// Index of the LVT LINT0 entry (0x350).
pub(super) const LVT_LINT0: usize = 3;
/// Index of the LVT LINT1 entry (0x360).
pub(super) const LVT_LINT1: usize = 4;
/// Index of the LVT error entry (0x370).
pub(super) const LVT_ERROR: usize = 5;
/// Number of LVT entries: timer, thermal, performance, LINT0, LINT1, error.
pub(super) const LVT_ENTRIES: usize = 6;
/// LVT bit 16: the entry is masked.
pub(super) const LVT_MASKED: u32 = 1 << 16;
/// The bits a write of each LVT entry changes, in register order: the timer
/// takes vector, mask and mode; thermal and performance vector, delivery mode
/// and mask; LINT0 and LINT1 also polarity and trigger mode; error vector and
/// mask. Delivery status and remote IRR read 0.
const LVT_WRITABLE: [u32; LVT_ENTRIES] = [
    0x0007_00ff,
    0x0001_07ff,
    0x0001_07ff,
    0x0001_a7ff,
    0x0001_a7ff,
    0x0001_00ff,
];

/// The first x2APIC MSR.
const X2APIC_FIRST_MSR: u32 = 0x800;
/// The last MSR of the x2APIC range.
const X2APIC_LAST_MSR: u32 = 0x8ff;

/// A register of the APIC, named by its xAPIC offset.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Reg {
    Id,
    Version,
    Tpr,
    Apr,
    Ppr,
    Eoi,
    Rrd,
    Ldr,
    Dfr,
    Svr,
    Isr(usize),
    Tmr(usize),
    Irr(usize),
    Esr,
    IcrLow,
    IcrHigh,
    Lvt(usize),
    InitialCount,
    CurrentCount,
    DivideConfig,
    SelfIpi,
}

impl Reg {
    /// The register at xAPIC offset `offset`, if there is one.
    fn at(offset: u64) -> Option<Self> {
        if !offset.is_multiple_of(16) {
            return None;
        }
        let slot = |first: u64| (offset.saturating_sub(first) / 16) as usize;
        Some(match offset {
            ID => Self::Id,
            VERSION => Self::Version,
            TPR => Self::Tpr,
            APR => Self::Apr,
            PPR => Self::Ppr,
            EOI => Self::Eoi,
            RRD => Self::Rrd,
            LDR => Self::Ldr,
            DFR => Self::Dfr,
            SVR => Self::Svr,
            ISR..TMR => Self::Isr(slot(ISR)),
            TMR..IRR => Self::Tmr(slot(TMR)),
            IRR..ESR => Self::Irr(slot(IRR)),
            ESR => Self::Esr,
            ICR_LOW => Self::IcrLow,
            ICR_HIGH => Self::IcrHigh,
            LVT_FIRST..INITIAL_COUNT => Self::Lvt(slot(LVT_FIRST)),
            INITIAL_COUNT => Self::InitialCount,
            CURRENT_COUNT => Self::CurrentCount,
            DIVIDE_CONFIG => Self::DivideConfig,
            SELF_IPI => Self::SelfIpi,
            _ => return None,
        })
    }

    /// Whether the register is an x2APIC MSR.
    fn in_x2apic(self) -> bool {
        !matches!(self, Self::Apr | Self::Rrd | Self::Dfr | Self::IcrHigh)
    }

    /// Whether reads are refused.
    pub(super) fn write_only(self) -> bool {
        matches!(self, Self::Eoi | Self::SelfIpi)
    }

    /// Whether x2APIC writes are refused (in xAPIC mode the ID and LDR are
    /// writable and writes to read-only registers are ignored).
    pub(super) fn read_only_in_x2apic(self) -> bool {
        matches!(
            self,
            Self::Id
                | Self::Version
                | Self::Ppr
                | Self::Ldr
                | Self::Isr(_)
                | Self::Tmr(_)
                | Self::Irr(_)
                | Self::CurrentCount
        )
    }

    /// The bits of an x2APIC write that must be 0: the upper 32 of every
    /// register but the ICR, all of EOI and ESR.
    pub(super) fn x2apic_reserved(self) -> u64 {
        match self {
            Self::IcrLow => 0,
            Self::Eoi | Self::Esr => u64::MAX,
            _ => ICR_HIGH_BITS,
        }
    }
}

impl LocalApic {
    /// The register an xAPIC access reaches, if any.
    pub(super) fn mmio_register(&self, offset: u64, width: AccessWidth) -> Option<Reg> {
        if self.mode != ApicMode::XApic || width != AccessWidth::Word {
            return None;
        }
        Reg::at(offset).filter(|reg| *reg != Reg::SelfIpi)
    }

    /// The register an x2APIC MSR access reaches.
    pub(super) fn msr_register(&self, msr: u32) -> Result<Reg, ApicError> {
        if !(X2APIC_FIRST_MSR..=X2APIC_LAST_MSR).contains(&msr) {
            return Err(ApicError::NoRegister { msr });
        }
        if self.mode != ApicMode::X2Apic {
            return Err(ApicError::NotX2Apic { msr });
        }
        let offset = u64::from(msr.saturating_sub(X2APIC_FIRST_MSR)) * 16;
        Reg::at(offset)
            .filter(|reg| reg.in_x2apic())
            .ok_or(ApicError::NoRegister { msr })
    }

    /// Register `reg` as read at `now`; the full 64-bit ICR in x2APIC mode.
    pub(super) fn read_register(&self, reg: Reg, now: u64) -> u64 {
        let x2apic = self.mode == ApicMode::X2Apic;
        let value = match reg {
            Reg::Id if x2apic => self.apic_id,
            Reg::Id => u32::from(self.xapic_id) << 24,
            Reg::Version => VERSION_VALUE,
            Reg::Tpr => self.tpr.into(),
            Reg::Ppr => self.ppr().into(),
            Reg::Ldr if x2apic => x2apic_ldr(self.apic_id),
            Reg::Ldr => self.ldr,
            Reg::Dfr => self.dfr | !DFR_WRITABLE,
            Reg::Svr => self.svr,
            Reg::Isr(index) => word(&self.isr, index),
            Reg::Tmr(index) => word(&self.tmr, index),
            Reg::Irr(index) => word(&self.irr, index),
            Reg::Esr => self.esr,
            Reg::IcrLow if x2apic => return self.icr,
            Reg::IcrLow => self.icr as u32,
            Reg::IcrHigh => (self.icr >> 32) as u32,
            Reg::Lvt(index) => self.lvt_entry(index),
            Reg::InitialCount => self.timer.initial(),
            Reg::CurrentCount => self.timer.current(now, self.timer_mode()),
            Reg::DivideConfig => self.timer.divide(),
            Reg::Apr | Reg::Eoi | Reg::Rrd | Reg::SelfIpi => 0,
        };
        value.into()
    }

    /// A write of `value` to register `reg` at `now`, checked by the caller.
    pub(super) fn write_register(&mut self, reg: Reg, value: u64, now: u64) -> Effect {
        let low = value as u32;
        match reg {
            Reg::Id => self.xapic_id = (low >> 24) as u8,
            Reg::Tpr => self.tpr = low as u8,
            Reg::Ldr => self.ldr = low & LDR_WRITABLE,
            Reg::Dfr => self.dfr = low & DFR_WRITABLE,
            Reg::Svr => return self.write_svr(low, now),
            Reg::Eoi => return self.end_of_interrupt(),
            Reg::Esr => self.esr = core::mem::take(&mut self.errors),
            Reg::IcrLow => return self.write_icr(value),
            Reg::IcrHigh => {
                let destination = (value & ICR_XAPIC_DESTINATION) << 32;
                self.icr = (self.icr & !ICR_HIGH_BITS) | destination;
            }
            Reg::Lvt(index) => return self.write_lvt(index, low, now),
            Reg::InitialCount => {
                self.tick(now);
                self.timer.set_initial(low, now, self.timer_mode());
                return Effect::TimerChanged;
            }
            Reg::DivideConfig => self.timer.set_divide(low),
            Reg::SelfIpi => self.send_self(value as u8),
            Reg::Version
            | Reg::Apr
            | Reg::Ppr
            | Reg::Rrd
            | Reg::Isr(_)
            | Reg::Tmr(_)
            | Reg::Irr(_)
            | Reg::CurrentCount => {}
        }
        Effect::None
    }

    /// An SVR write: clearing the software enable masks every LVT entry.
    fn write_svr(&mut self, value: u32, now: u64) -> Effect {
        let was_enabled = self.software_enabled();
        let disabling = was_enabled && value & SVR_ENABLE == 0;
        if disabling {
            // The timer's expiries up to now still count, before the mask.
            self.tick(now);
        }
        self.svr = value & SVR_WRITABLE;
        if !disabling {
            return Effect::None;
        }
        for entry in &mut self.lvt {
            *entry |= LVT_MASKED;
        }
        Effect::TimerChanged
    }

    /// A write of LVT entry `index`; while software-disabled, the mask stays set.
    fn write_lvt(&mut self, index: usize, value: u32, now: u64) -> Effect {
        let writable = LVT_WRITABLE.get(index).copied().unwrap_or(0);
        let mut entry = value & writable;
        if !self.software_enabled() {
            entry |= LVT_MASKED;
        }
        let is_timer = index == LVT_TIMER;
        if is_timer {
            // Expiries up to now count under the old entry, masked or not.
            self.tick(now);
            if TimerMode::from_lvt(entry) != self.timer_mode() {
                self.timer.disarm();
            }
        }
        if let Some(slot) = self.lvt.get_mut(index) {
            *slot = entry;
        }
        if is_timer {
            Effect::TimerChanged
        } else {
            Effect::None
        }
    }

    /// An EOI: the highest vector in service leaves it.
    fn end_of_interrupt(&mut self) -> Effect {
        let Some(vector) = highest(&self.isr) else {
            return Effect::None;
        };
        assign(&mut self.isr, vector, false);
        let level = test(&self.tmr, vector);
        assign(&mut self.tmr, vector, false);
        Effect::Eoi { vector, level }
    }
}
