//! A local APIC: one x86 vCPU's interrupt controller, in xAPIC and x2APIC mode.
//!
//! Registers, bits and behaviour follow the Intel SDM vol. 3A chapter 11
//! ("Advanced Programmable Interrupt Controller", chapter 10 in older editions),
//! which AMD APM vol. 2 chapter 16 matches for what is offered here. The version
//! register reads 0x0005_0014: an integrated APIC with six LVT entries (timer,
//! thermal, performance, LINT0, LINT1, error; no CMCI) and no EOI-broadcast
//! suppression. The xAPIC page is at 0xFEE0_0000 and cannot be moved; x2APIC
//! registers are MSRs 0x800 + offset / 16.
//!
//! The hypervisor owns one model per vCPU and calls into it; the model calls
//! nothing. Time is the VM's time-stamp counter, passed as `now` in TSC ticks.
//! The hypervisor routes guest accesses to [`LocalApic::read_mmio`] and
//! [`LocalApic::write_mmio`] (xAPIC), [`LocalApic::read_msr`] and
//! [`LocalApic::write_msr`] (x2APIC; an error is a #GP to inject), IA32_APIC_BASE
//! to [`LocalApic::set_apic_base`] and IA32_TSC_DEADLINE to
//! [`LocalApic::write_tsc_deadline`], and acts on the [`Effect`] of each write.
//! It delivers fixed interrupts with [`LocalApic::accept`], injects what
//! [`LocalApic::acknowledge`] hands over when [`LocalApic::pending_vector`] has
//! one (to be checked after every write: a TPR write or an error can change it),
//! and wakes at [`LocalApic::timer_deadline`] to call [`LocalApic::tick`]. NMI,
//! SMI, INIT, STARTUP and ExtINT never go through the IRR: the hypervisor handles
//! them, reading [`LocalApic::lint0`] and [`LocalApic::lint1`] for the LINT pins.
//!
//! The timer offers TSC-deadline mode: the hypervisor's CPUID must set leaf 1
//! ECX bit 24 to match. Delivery is instant, so delivery status bits read 0.

mod icr;
mod logical;
mod registers;
mod timer;

use core::fmt;

pub use icr::{Destination, IcrMode, Ipi};
pub use logical::LogicalId;
use logical::LogicalModel;
use registers::{
    DELIVERY_MODE_SHIFT, DFR_WRITABLE, ESR_RECEIVE_ILLEGAL, FIRST_LEGAL_VECTOR, LVT_ENTRIES,
    LVT_ERROR, LVT_LINT0, LVT_LINT1, LVT_MASKED, LVT_TIMER, SVR_ENABLE, SVR_RESET,
};
use timer::{Timer, TimerMode};

use crate::AccessWidth;

#[cfg(test)]
mod tests;

/// IA32_APIC_BASE bit 8: this is the bootstrap processor.
const BASE_BSP: u64 = 1 << 8;
/// IA32_APIC_BASE bit 10: x2APIC mode (EXTD).
const BASE_EXTD: u64 = 1 << 10;
/// IA32_APIC_BASE bit 11: the APIC is enabled (EN).
const BASE_ENABLE: u64 = 1 << 11;
/// IA32_APIC_BASE's reserved bits below the base: 7:0 and 9.
const BASE_RESERVED: u64 = 0x2ff;
/// IA32_APIC_BASE bits 11:0, the flags below the base address.
const BASE_FLAGS: u64 = 0xfff;

/// How the APIC is enabled, from IA32_APIC_BASE bits 11 (EN) and 10 (EXTD).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApicMode {
    /// EN clear: no APIC, as if the processor had none.
    Disabled,
    /// EN set, EXTD clear: registers in the MMIO page.
    XApic,
    /// EN and EXTD set: registers as MSRs 0x800-0x8FF.
    X2Apic,
}

/// Why an MSR access or an IA32_APIC_BASE write was refused (a #GP for the guest).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApicError {
    /// An x2APIC MSR was accessed outside x2APIC mode.
    NotX2Apic {
        /// The MSR.
        msr: u32,
    },
    /// No x2APIC register is at this MSR.
    NoRegister {
        /// The MSR.
        msr: u32,
    },
    /// A read of a write-only register (EOI, SELF IPI).
    WriteOnly {
        /// The MSR.
        msr: u32,
    },
    /// A write to a read-only register.
    ReadOnly {
        /// The MSR.
        msr: u32,
    },
    /// A write set reserved bits (any bit of EOI and ESR, which take only 0).
    ReservedBits {
        /// The MSR.
        msr: u32,
        /// The refused value.
        value: u64,
    },
    /// An IA32_APIC_BASE write set reserved bits.
    BaseReserved {
        /// The refused value.
        value: u64,
    },
    /// An IA32_APIC_BASE write moved the page from 0xFEE0_0000 (not offered).
    Relocation {
        /// The base address asked for.
        base: u64,
    },
    /// An IA32_APIC_BASE write set EXTD without EN, an invalid state.
    InvalidMode {
        /// The refused value.
        value: u64,
    },
    /// An IA32_APIC_BASE write asked for a transition the SDM forbids.
    InvalidTransition {
        /// The mode before the write.
        from: ApicMode,
        /// The mode asked for.
        to: ApicMode,
    },
}

impl fmt::Display for ApicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotX2Apic { msr } => write!(f, "MSR {msr:#x} needs x2APIC mode"),
            Self::NoRegister { msr } => write!(f, "no x2APIC register at MSR {msr:#x}"),
            Self::WriteOnly { msr } => write!(f, "MSR {msr:#x} is write-only"),
            Self::ReadOnly { msr } => write!(f, "MSR {msr:#x} is read-only"),
            Self::ReservedBits { msr, value } => {
                write!(f, "value {value:#x} sets reserved bits of MSR {msr:#x}")
            }
            Self::BaseReserved { value } => {
                write!(f, "APIC base {value:#x} sets reserved bits")
            }
            Self::Relocation { base } => {
                write!(f, "APIC base {base:#x} moves the page from 0xfee00000")
            }
            Self::InvalidMode { value } => {
                write!(f, "APIC base {value:#x} sets x2APIC mode without enabling")
            }
            Self::InvalidTransition { from, to } => {
                write!(f, "APIC mode cannot go from {from:?} to {to:?}")
            }
        }
    }
}

impl core::error::Error for ApicError {}

/// What a register write asks of the hypervisor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Effect {
    /// Nothing.
    None,
    /// Send this IPI (an ICR write).
    Ipi(Ipi),
    /// An EOI ended `vector`; if `level`, its TMR bit was set and the I/O APIC
    /// must see the EOI.
    Eoi {
        /// The vector taken out of service.
        vector: u8,
        /// The vector was level-triggered.
        level: bool,
    },
    /// The timer's next expiry may have moved: read [`LocalApic::timer_deadline`].
    TimerChanged,
}

/// What an LVT LINT entry makes of its pin.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LintMode {
    /// The entry is masked: the pin reaches nothing.
    Masked,
    /// 000: a fixed interrupt with this vector.
    Fixed(u8),
    /// 010: a system management interrupt.
    Smi,
    /// 100: a non-maskable interrupt.
    Nmi,
    /// 101: an INIT.
    Init,
    /// 111: an external interrupt, the vector from the 8259A PIC.
    ExtInt,
    /// 001, 011 and 110, reserved.
    Reserved(u8),
}

/// One vCPU's local APIC.
#[derive(Clone, Debug)]
pub struct LocalApic {
    /// The APIC id hardware assigns: the x2APIC id, fixed at construction.
    apic_id: u32,
    /// The xAPIC ID register's bits 31:24, which the guest may change.
    xapic_id: u8,
    /// The mode IA32_APIC_BASE selects.
    mode: ApicMode,
    /// The task priority.
    tpr: u8,
    /// The xAPIC LDR (bits 31:24).
    ldr: u32,
    /// The DFR's model bits 31:28.
    dfr: u32,
    /// The SVR.
    svr: u32,
    /// In-service vectors, bit n of word n / 32 for vector n.
    isr: [u32; 8],
    /// Level-triggered vectors among those requested or in service.
    tmr: [u32; 8],
    /// Requested vectors.
    irr: [u32; 8],
    /// The ESR as read: the errors collected before the last ESR write.
    esr: u32,
    /// Errors collected since the last ESR write.
    errors: u32,
    /// The ICR; in xAPIC mode the destination is in bits 63:56.
    icr: u64,
    /// The LVT entries, timer first.
    lvt: [u32; LVT_ENTRIES],
    /// The timer's registers and count.
    timer: Timer,
}

impl LocalApic {
    /// Where the xAPIC page is (relocation is not offered).
    pub const BASE: u64 = 0xfee0_0000;
    /// The size of the xAPIC page.
    pub const SIZE: u64 = 0x1000;
    /// IA32_APIC_BASE.
    pub const APIC_BASE_MSR: u32 = 0x1b;
    /// IA32_TSC_DEADLINE.
    pub const TSC_DEADLINE_MSR: u32 = 0x6e0;

    /// A local APIC after power-on, in xAPIC mode, with id `apic_id` (the xAPIC
    /// ID register shows its low 8 bits), a timer clock of `timer_hz` before the
    /// divider and a TSC of `tsc_hz` (0 counts as 1 for both). Id 0 is the
    /// bootstrap processor: IA32_APIC_BASE bit 8 is set for it alone.
    pub fn new(apic_id: u32, tsc_hz: u64, timer_hz: u64) -> Self {
        Self {
            apic_id,
            xapic_id: apic_id as u8,
            mode: ApicMode::XApic,
            tpr: 0,
            ldr: 0,
            dfr: DFR_WRITABLE,
            svr: SVR_RESET,
            isr: [0; 8],
            tmr: [0; 8],
            irr: [0; 8],
            esr: 0,
            errors: 0,
            icr: 0,
            lvt: [LVT_MASKED; LVT_ENTRIES],
            timer: Timer::new(tsc_hz, timer_hz),
        }
    }

    /// An INIT: every register as after power-on, timer stopped, but the id (and
    /// a written xAPIC ID) and the mode are kept.
    pub fn reset(&mut self) {
        let (tsc_hz, timer_hz) = self.timer.rates();
        *self = Self {
            xapic_id: self.xapic_id,
            mode: self.mode,
            ..Self::new(self.apic_id, tsc_hz, timer_hz)
        };
    }

    /// The id the APIC answers to: the 32-bit x2APIC id in x2APIC mode, the ID
    /// register's bits 31:24 otherwise.
    pub fn id(&self) -> u32 {
        match self.mode {
            ApicMode::X2Apic => self.apic_id,
            _ => self.xapic_id.into(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> ApicMode {
        self.mode
    }

    /// IA32_APIC_BASE: the base 0xFEE0_0000, EN and EXTD for the mode, BSP for id 0.
    pub fn apic_base(&self) -> u64 {
        let mode = match self.mode {
            ApicMode::Disabled => 0,
            ApicMode::XApic => BASE_ENABLE,
            ApicMode::X2Apic => BASE_ENABLE | BASE_EXTD,
        };
        let bsp = if self.apic_id == 0 { BASE_BSP } else { 0 };
        Self::BASE | mode | bsp
    }

    /// A write of IA32_APIC_BASE. Only the SDM's transitions are taken (section
    /// 11.12.5): disabled to xAPIC, xAPIC to x2APIC, either to disabled, or no
    /// change; going to disabled resets the APIC as INIT does. The BSP bit is
    /// ignored; reserved bits and a base other than 0xFEE0_0000 are refused.
    pub fn set_apic_base(&mut self, value: u64) -> Result<(), ApicError> {
        if value & BASE_RESERVED != 0 {
            return Err(ApicError::BaseReserved { value });
        }
        let base = value & !BASE_FLAGS;
        if base != Self::BASE {
            return Err(ApicError::Relocation { base });
        }
        let to = match (value & BASE_ENABLE != 0, value & BASE_EXTD != 0) {
            (false, false) => ApicMode::Disabled,
            (true, false) => ApicMode::XApic,
            (true, true) => ApicMode::X2Apic,
            (false, true) => return Err(ApicError::InvalidMode { value }),
        };
        let from = self.mode;
        if from == to {
            return Ok(());
        }
        let allowed = matches!(
            (from, to),
            (ApicMode::Disabled, ApicMode::XApic)
                | (ApicMode::XApic, ApicMode::X2Apic)
                | (ApicMode::XApic | ApicMode::X2Apic, ApicMode::Disabled)
        );
        if !allowed {
            return Err(ApicError::InvalidTransition { from, to });
        }
        if to == ApicMode::Disabled {
            self.reset();
        }
        self.mode = to;
        Ok(())
    }

    /// A read of the xAPIC page at `offset` (from [`LocalApic::BASE`]). Only
    /// 32-bit reads of a register's first bytes in xAPIC mode see it; any other
    /// read gives 0, as hardware gives no fault on the page.
    pub fn read_mmio(&mut self, offset: u64, width: AccessWidth, now: u64) -> u32 {
        self.mmio_register(offset, width)
            .filter(|reg| !reg.write_only())
            .map_or(0, |reg| self.read_register(reg, now) as u32)
    }

    /// A write of the xAPIC page at `offset`. Writes other than 32-bit ones at a
    /// register, outside xAPIC mode, or to read-only registers are ignored.
    pub fn write_mmio(&mut self, offset: u64, width: AccessWidth, value: u32, now: u64) -> Effect {
        match self.mmio_register(offset, width) {
            Some(reg) => self.write_register(reg, value.into(), now),
            None => Effect::None,
        }
    }

    /// A read of x2APIC MSR `msr` (0x800-0x8FF).
    pub fn read_msr(&mut self, msr: u32, now: u64) -> Result<u64, ApicError> {
        let reg = self.msr_register(msr)?;
        if reg.write_only() {
            return Err(ApicError::WriteOnly { msr });
        }
        Ok(self.read_register(reg, now))
    }

    /// A write of x2APIC MSR `msr` (0x800-0x8FF).
    pub fn write_msr(&mut self, msr: u32, value: u64, now: u64) -> Result<Effect, ApicError> {
        let reg = self.msr_register(msr)?;
        if reg.read_only_in_x2apic() {
            return Err(ApicError::ReadOnly { msr });
        }
        if value & reg.x2apic_reserved() != 0 {
            return Err(ApicError::ReservedBits { msr, value });
        }
        Ok(self.write_register(reg, value, now))
    }

    /// IA32_TSC_DEADLINE: the armed deadline in TSC-deadline mode, 0 otherwise.
    pub fn read_tsc_deadline(&self) -> u64 {
        self.timer.tsc_deadline(self.timer_mode())
    }

    /// A write of IA32_TSC_DEADLINE at `now`: arms the timer for TSC time `value`
    /// (0 disarms; a time already past fires at the next [`LocalApic::tick`]).
    /// Ignored outside TSC-deadline mode.
    pub fn write_tsc_deadline(&mut self, value: u64, now: u64) -> Effect {
        self.tick(now);
        if self.timer.set_tsc_deadline(value, self.timer_mode()) {
            Effect::TimerChanged
        } else {
            Effect::None
        }
    }

    /// The TSC time of the timer's next expiry, perhaps already past. `None` when
    /// the timer is stopped or its LVT entry masked (a masked timer still counts,
    /// silently, so nobody needs to wake for it).
    pub fn timer_deadline(&self) -> Option<u64> {
        if self.lvt_entry(LVT_TIMER) & LVT_MASKED != 0 {
            return None;
        }
        self.timer.next_expiry(self.timer_mode())
    }

    /// Catches the timer up to `now`: if it expired at or before `now`, its vector
    /// is accepted (edge-triggered) unless the LVT entry is masked; a one-shot
    /// count or TSC deadline is then disarmed, and a periodic count moves on by
    /// whole periods, missed ones making a single interrupt.
    pub fn tick(&mut self, now: u64) {
        let entry = self.lvt_entry(LVT_TIMER);
        if self.timer.expire(now, TimerMode::from_lvt(entry)) && entry & LVT_MASKED == 0 {
            self.accept(entry as u8, false);
        }
    }

    /// A fixed interrupt with `vector` arrives (from an IPI, the I/O APIC or an
    /// LVT entry): requested in the IRR, its TMR bit set if `level_triggered`.
    /// Refused (false) when the APIC is disabled or software-disabled, and for
    /// vectors below 16, which set ESR bit 6 (receive illegal vector).
    pub fn accept(&mut self, vector: u8, level_triggered: bool) -> bool {
        if self.mode == ApicMode::Disabled || !self.software_enabled() {
            return false;
        }
        if vector < FIRST_LEGAL_VECTOR {
            self.record_error(ESR_RECEIVE_ILLEGAL);
            return false;
        }
        assign(&mut self.irr, vector, true);
        assign(&mut self.tmr, vector, level_triggered);
        true
    }

    /// The highest requested vector whose priority class (bits 7:4) is above the
    /// processor priority's, if any.
    pub fn pending_vector(&self) -> Option<u8> {
        let vector = highest(&self.irr)?;
        (vector >> 4 > self.ppr() >> 4).then_some(vector)
    }

    /// The interrupt the vCPU takes now, for the hypervisor to inject: the
    /// [`LocalApic::pending_vector`], moved from the IRR to the ISR.
    pub fn acknowledge(&mut self) -> Option<u8> {
        let vector = self.pending_vector()?;
        assign(&mut self.irr, vector, false);
        assign(&mut self.isr, vector, true);
        Some(vector)
    }

    /// Whether logical destination `destination` names this APIC (see
    /// [`LogicalId::matches`]).
    pub fn matches_logical(&self, destination: u32) -> bool {
        self.logical_id().matches(destination)
    }

    /// The logical destinations this APIC answers to, as its mode, LDR and DFR
    /// make them now.
    pub fn logical_id(&self) -> LogicalId {
        match self.mode {
            ApicMode::Disabled => LogicalId::NONE,
            ApicMode::X2Apic => LogicalId::new(LogicalModel::X2Apic, x2apic_ldr(self.apic_id)),
            ApicMode::XApic if self.dfr >> 28 == 0xf => {
                LogicalId::new(LogicalModel::Flat, self.ldr >> 24)
            }
            ApicMode::XApic => LogicalId::new(LogicalModel::Cluster, self.ldr >> 24),
        }
    }

    /// What LVT LINT0 makes of the LINT0 pin, where PCs wire the 8259A PIC's
    /// output. PC firmware programs it as ExtINT on the bootstrap processor; here
    /// it is masked after reset, and what a vCPU that never touched its APIC gets
    /// is the hypervisor's decision. The trigger mode is stored but not reported.
    pub fn lint0(&self) -> LintMode {
        self.lint(LVT_LINT0)
    }

    /// What LVT LINT1 makes of the LINT1 pin (PCs wire NMI there).
    pub fn lint1(&self) -> LintMode {
        self.lint(LVT_LINT1)
    }

    /// The LINT mode of LVT entry `index`.
    fn lint(&self, index: usize) -> LintMode {
        let entry = self.lvt_entry(index);
        if entry & LVT_MASKED != 0 {
            return LintMode::Masked;
        }
        match (entry >> DELIVERY_MODE_SHIFT) & 0b111 {
            0b000 => LintMode::Fixed(entry as u8),
            0b010 => LintMode::Smi,
            0b100 => LintMode::Nmi,
            0b101 => LintMode::Init,
            0b111 => LintMode::ExtInt,
            other => LintMode::Reserved(other as u8),
        }
    }

    /// Whether SVR bit 8 enables the APIC.
    fn software_enabled(&self) -> bool {
        self.svr & SVR_ENABLE != 0
    }

    /// LVT entry `index` (masked if there is none).
    fn lvt_entry(&self, index: usize) -> u32 {
        self.lvt.get(index).copied().unwrap_or(LVT_MASKED)
    }

    /// The timer mode LVT timer selects.
    fn timer_mode(&self) -> TimerMode {
        TimerMode::from_lvt(self.lvt_entry(LVT_TIMER))
    }

    /// The processor priority: the TPR, or the class of the highest vector in
    /// service if that class is above the TPR's.
    fn ppr(&self) -> u8 {
        let in_service = highest(&self.isr).unwrap_or(0);
        if self.tpr >> 4 >= in_service >> 4 {
            self.tpr
        } else {
            in_service & 0xf0
        }
    }

    /// Collects error `bit` for the next ESR write; a new error is delivered
    /// through LVT error when that is unmasked.
    fn record_error(&mut self, bit: u32) {
        let new = bit & !self.errors;
        self.errors |= bit;
        let entry = self.lvt_entry(LVT_ERROR);
        if new == 0 || entry & LVT_MASKED != 0 {
            return;
        }
        let vector = entry as u8;
        if vector < FIRST_LEGAL_VECTOR {
            // An illegal error vector is itself an error, with no interrupt.
            self.errors |= ESR_RECEIVE_ILLEGAL;
        } else {
            self.accept(vector, false);
        }
    }
}

/// The x2APIC LDR, derived from the id: cluster (id bits 31:4) in bits 31:16, one
/// member bit (id bits 3:0) in bits 15:0.
fn x2apic_ldr(id: u32) -> u32 {
    ((id >> 4) << 16) | (1 << (id & 0xf))
}

/// The word of a 256-bit vector set holding `vector`'s bit, and that bit.
fn position(vector: u8) -> (usize, u32) {
    (usize::from(vector / 32), 1 << (vector % 32))
}

/// Whether `vector` is in `set`.
fn test(set: &[u32; 8], vector: u8) -> bool {
    let (index, bit) = position(vector);
    set.get(index).is_some_and(|word| word & bit != 0)
}

/// Puts `vector` in `set` (`on`) or takes it out.
fn assign(set: &mut [u32; 8], vector: u8, on: bool) {
    let (index, bit) = position(vector);
    if let Some(word) = set.get_mut(index) {
        if on {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }
}

/// The highest vector in `set`.
fn highest(set: &[u32; 8]) -> Option<u8> {
    let (index, word) = set.iter().enumerate().rev().find(|(_, word)| **word != 0)?;
    let bit = 31 - word.leading_zeros() as usize;
    u8::try_from(index * 32 + bit).ok()
}

/// Word `index` of `set` (0 past its end).
fn word(set: &[u32; 8], index: usize) -> u32 {
    set.get(index).copied().unwrap_or(0)
}
