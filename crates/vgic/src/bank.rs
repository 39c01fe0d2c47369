//! The per-interrupt register arrays at offsets 0x0080-0x0EFF, laid out the same
//! way in the Distributor and in a Redistributor's SGI_base frame.
//!
//! The Distributor's arrays reach INTID 1019; a Redistributor has only the first
//! word of each (INTIDs 0-31), the rest of its range being reserved. Which INTIDs
//! really exist is up to the [`IrqBlock`] behind the registers: everything else
//! reads as zero and ignores writes.

use crate::AccessWidth;
use crate::access::RegClass;
use crate::bits::{Flag, IrqBlock};

/// A per-interrupt register array.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum BankReg {
    /// IGROUPR: group bits.
    Group,
    /// ISENABLER: write 1 to enable.
    SetEnable,
    /// ICENABLER: write 1 to disable.
    ClearEnable,
    /// ISPENDR: write 1 to make pending.
    SetPending,
    /// ICPENDR: write 1 to clear pending.
    ClearPending,
    /// ISACTIVER: write 1 to set active.
    SetActive,
    /// ICACTIVER: write 1 to clear active.
    ClearActive,
    /// IPRIORITYR: one byte per interrupt.
    Priority,
    /// ITARGETSR: one byte per interrupt, RES0 with affinity routing.
    Targets,
    /// ICFGR: two bits per interrupt.
    Config,
    /// IGRPMODR: RAZ/WI when GICD_CTLR.DS is 1.
    GroupModifier,
    /// NSACR: RAZ/WI when GICD_CTLR.DS is 1.
    NonSecureAccess,
}

/// The arrays: first offset, one past the last, register.
const LAYOUT: [(u64, u64, BankReg); 12] = [
    (0x080, 0x100, BankReg::Group),
    (0x100, 0x180, BankReg::SetEnable),
    (0x180, 0x200, BankReg::ClearEnable),
    (0x200, 0x280, BankReg::SetPending),
    (0x280, 0x300, BankReg::ClearPending),
    (0x300, 0x380, BankReg::SetActive),
    (0x380, 0x400, BankReg::ClearActive),
    (0x400, 0x800, BankReg::Priority),
    (0x800, 0xc00, BankReg::Targets),
    (0xc00, 0xd00, BankReg::Config),
    (0xd00, 0xd80, BankReg::GroupModifier),
    (0xe00, 0xf00, BankReg::NonSecureAccess),
];

/// The array at `offset` and the byte offset into it.
pub(crate) fn decode(offset: u64) -> Option<(BankReg, u64)> {
    LAYOUT
        .iter()
        .find(|(start, end, _)| (*start..*end).contains(&offset))
        .map(|&(start, _, reg)| (reg, offset - start))
}

impl BankReg {
    /// The accesses the array takes.
    pub(crate) fn class(self) -> RegClass {
        match self {
            Self::Priority | Self::Targets => RegClass::Bytes,
            _ => RegClass::Word,
        }
    }

    /// The flag a one-bit-per-interrupt array reads.
    fn flag(self) -> Option<Flag> {
        match self {
            Self::Group => Some(Flag::Group),
            Self::SetEnable | Self::ClearEnable => Some(Flag::Enabled),
            Self::SetPending | Self::ClearPending => Some(Flag::Pending),
            Self::SetActive | Self::ClearActive => Some(Flag::Active),
            _ => None,
        }
    }
}

/// Interrupts a register write made pending and enabled that were not both before:
/// bit `k` of `mask` is INTID `32 * word + k`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct NewlyReady {
    /// Word of the one-bit-per-interrupt arrays.
    pub(crate) word: u32,
    /// The interrupts of the word.
    pub(crate) mask: u32,
}

impl IrqBlock {
    /// A read of `width` (already checked) at byte `rel` of the array `reg`.
    pub(crate) fn read_bank(&self, reg: BankReg, rel: u64, width: AccessWidth) -> u64 {
        let word = index(rel / 4);
        match reg {
            BankReg::Priority => (0..width.bytes()).fold(0, |acc, k| {
                acc | u64::from(self.priority(index(rel + k))) << (8 * k)
            }),
            BankReg::Config => u64::from(self.config_word(word)),
            BankReg::Targets | BankReg::GroupModifier | BankReg::NonSecureAccess => 0,
            _ => reg
                .flag()
                .map_or(0, |flag| u64::from(self.word(flag, word))),
        }
    }

    /// A write of `width` (already checked) at byte `rel` of the array `reg`.
    pub(crate) fn write_bank(
        &mut self,
        reg: BankReg,
        rel: u64,
        width: AccessWidth,
        value: u64,
    ) -> NewlyReady {
        let word = index(rel / 4);
        let bits = value as u32;
        let mut ready = NewlyReady { word, mask: 0 };
        match reg {
            BankReg::Group => self.write_word(Flag::Group, word, bits),
            BankReg::SetEnable => {
                ready.mask =
                    self.set_bits(Flag::Enabled, word, bits) & self.word(Flag::Pending, word);
            }
            BankReg::ClearEnable => self.clear_bits(Flag::Enabled, word, bits),
            BankReg::SetPending => {
                ready.mask =
                    self.set_bits(Flag::Pending, word, bits) & self.word(Flag::Enabled, word);
            }
            BankReg::ClearPending => self.clear_bits(Flag::Pending, word, bits),
            BankReg::SetActive => {
                self.set_bits(Flag::Active, word, bits);
            }
            BankReg::ClearActive => self.clear_bits(Flag::Active, word, bits),
            BankReg::Priority => {
                for k in 0..width.bytes() {
                    self.set_priority(index(rel + k), (value >> (8 * k)) as u8);
                }
            }
            BankReg::Config => self.write_config_word(word, bits),
            BankReg::Targets | BankReg::GroupModifier | BankReg::NonSecureAccess => {}
        }
        ready
    }
}

/// An array index from a byte offset inside a bank (always small).
fn index(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_finds_arrays_and_gaps() {
        assert_eq!(decode(0x080), Some((BankReg::Group, 0)));
        assert_eq!(decode(0x17c), Some((BankReg::SetEnable, 0x7c)));
        assert_eq!(decode(0x41f), Some((BankReg::Priority, 0x1f)));
        assert_eq!(decode(0xc04), Some((BankReg::Config, 4)));
        assert_eq!(decode(0x07c), None);
        assert_eq!(decode(0xd80), None);
        assert_eq!(decode(0xf00), None);
    }

    #[test]
    fn set_pending_reports_enabled_only() {
        let mut block = IrqBlock::new(32, 96, 0);
        block.write_bank(BankReg::SetEnable, 4, AccessWidth::Word, 0b0011);
        let ready = block.write_bank(BankReg::SetPending, 4, AccessWidth::Word, 0b0110);
        assert_eq!(
            ready,
            NewlyReady {
                word: 1,
                mask: 0b0010
            }
        );
        let ready = block.write_bank(BankReg::SetEnable, 4, AccessWidth::Word, 0b0100);
        assert_eq!(
            ready,
            NewlyReady {
                word: 1,
                mask: 0b0100
            }
        );
    }
}
