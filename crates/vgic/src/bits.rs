//! Per-interrupt state of a block of INTIDs: the bits and bytes behind the GIC's
//! per-interrupt register arrays.
//!
//! A block covers the INTIDs `first..end` and is indexed by INTID, so register
//! word `w` of a one-bit-per-interrupt array is word `w` of the block. Bits of
//! INTIDs outside `first..end` always read as zero and ignore writes; that is how
//! the Distributor's SGI/PPI words and the INTIDs beyond a VM's SPIs become RAZ/WI.

use alloc::vec;
use alloc::vec::Vec;

/// The one-bit-per-interrupt properties of an interrupt.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Flag {
    /// IGROUPR: 1 for Group 1.
    Group,
    /// ISENABLER/ICENABLER: forwarding enabled.
    Enabled,
    /// ISPENDR/ICPENDR: pending. Read, it is the latch or, for a level-sensitive
    /// interrupt, the input line ([`IrqBlock::set_line`]); written, it is the latch.
    Pending,
    /// ISACTIVER/ICACTIVER: active, as last written by the guest.
    Active,
}

/// The lowest five bits of priority that are implemented: the low three bits of
/// each IPRIORITYR byte read as zero.
pub(crate) const PRIORITY_MASK: u8 = 0xf8;

/// Most INTIDs a block covers: one bit per word of its flag arrays in
/// [`IrqBlock::pending_words`]'s summary (GICv3 SPIs end at 1019).
const MAX_BLOCK_END: u32 = 64 * 32;

/// The bit arrays of one register word (32 INTIDs) side by side, so one look-up
/// reaches every flag of an interrupt and its pending state.
#[derive(Clone, Copy, Debug, Default)]
struct Word {
    group: u32,
    enabled: u32,
    pending: u32,
    active: u32,
    /// The input line of each interrupt, as its source drives it.
    line: u32,
    /// Edge-triggered (ICFGR Int_config[1]); level-sensitive when clear.
    edge: u32,
}

impl Word {
    /// One bit array's bits.
    fn get(&self, field: Field) -> u32 {
        match field {
            Field::Group => self.group,
            Field::Enabled => self.enabled,
            Field::Pending => self.pending,
            Field::Active => self.active,
            Field::Line => self.line,
            Field::Edge => self.edge,
        }
    }

    /// One bit array's bits, to change.
    fn get_mut(&mut self, field: Field) -> &mut u32 {
        match field {
            Field::Group => &mut self.group,
            Field::Enabled => &mut self.enabled,
            Field::Pending => &mut self.pending,
            Field::Active => &mut self.active,
            Field::Line => &mut self.line,
            Field::Edge => &mut self.edge,
        }
    }

    /// The pending interrupts: latched, or level-sensitive with their line high.
    fn pending(&self) -> u32 {
        self.pending | (self.line & !self.edge)
    }
}

/// The state of the interrupts `first..end`.
#[derive(Clone, Debug)]
pub(crate) struct IrqBlock {
    /// Lowest INTID of the block.
    first: u32,
    /// One past the highest INTID of the block.
    end: u32,
    /// INTIDs below this one are always edge-triggered (the SGIs of a redistributor).
    fixed_edge_below: u32,
    /// The bit arrays, a record per register word.
    words: Vec<Word>,
    /// One byte per INTID `0..end`.
    priority: Vec<u8>,
    /// Bit `w` set when word `w` holds a pending interrupt: scans skip empty words.
    pending_summary: u64,
}

impl IrqBlock {
    /// The power-on state of `first..end`: Group 0, disabled, idle, priority 0,
    /// level-sensitive except the INTIDs below `fixed_edge_below`.
    /// `end` is capped at 2048.
    pub(crate) fn new(first: u32, end: u32, fixed_edge_below: u32) -> Self {
        let end = end.min(MAX_BLOCK_END);
        let words = end.div_ceil(32) as usize;
        let mut block = Self {
            first,
            end,
            fixed_edge_below,
            words: vec![Word::default(); words],
            priority: vec![0; end as usize],
            pending_summary: 0,
        };
        for intid in first..end.min(fixed_edge_below) {
            block.set_bit_in(Field::Edge, intid, true);
        }
        block
    }

    /// Whether `intid` belongs to the block.
    pub(crate) fn contains(&self, intid: u32) -> bool {
        (self.first..self.end).contains(&intid)
    }

    /// The bits of word `word` that belong to INTIDs of the block.
    pub(crate) fn valid_mask(&self, word: u32) -> u32 {
        let lo = word.saturating_mul(32);
        let hi = lo.saturating_add(32);
        let from = self.first.clamp(lo, hi) - lo;
        let to = self.end.clamp(lo, hi) - lo;
        ones_below(to) & !ones_below(from)
    }

    /// Word `word` of a flag array (zero outside the block); pending is the latch or
    /// the line of a level-sensitive interrupt.
    pub(crate) fn word(&self, flag: Flag, word: u32) -> u32 {
        self.words
            .get(word as usize)
            .map_or(0, |record| match flag {
                Flag::Pending => record.pending(),
                _ => record.get(Field::from(flag)),
            })
    }

    /// Takes the input lines of `other` (a block of the same INTIDs).
    pub(crate) fn keep_lines_of(&mut self, other: &Self) {
        for (mine, theirs) in self.words.iter_mut().zip(&other.words) {
            mine.line = theirs.line;
        }
        for word in 0..self.words() {
            self.summarize(word);
        }
    }

    /// Drives the input line of `intid` (nothing outside the block); returns whether
    /// it rose. A level-sensitive interrupt is pending while its line is high; a
    /// rising line latches an edge-triggered one pending.
    pub(crate) fn set_line(&mut self, intid: u32, high: bool) -> bool {
        let rose = high && !self.bit_in(Field::Line, intid);
        self.set_bit_in(Field::Line, intid, high);
        if rose && self.bit_in(Field::Edge, intid) {
            self.set_bit_in(Field::Pending, intid, true);
        }
        rose
    }

    /// Sets the bits of `mask` in word `word` of a flag array; returns the bits
    /// that were clear before (for pending: that were not pending).
    pub(crate) fn set_bits(&mut self, flag: Flag, word: u32, mask: u32) -> u32 {
        let valid = self.valid_mask(word);
        let before = self.word(flag, word);
        match self.words.get_mut(word as usize) {
            Some(record) => {
                *record.get_mut(flag.into()) |= mask & valid;
                self.summarize_after(flag.into(), word);
                mask & valid & !before
            }
            None => 0,
        }
    }

    /// Clears the bits of `mask` in word `word` of a flag array.
    pub(crate) fn clear_bits(&mut self, flag: Flag, word: u32, mask: u32) {
        if let Some(record) = self.words.get_mut(word as usize) {
            *record.get_mut(flag.into()) &= !mask;
            self.summarize_after(flag.into(), word);
        }
    }

    /// Replaces word `word` of a flag array with `value` (bits outside the block dropped).
    pub(crate) fn write_word(&mut self, flag: Flag, word: u32, value: u32) {
        let valid = self.valid_mask(word);
        if let Some(record) = self.words.get_mut(word as usize) {
            *record.get_mut(flag.into()) = value & valid;
            self.summarize_after(flag.into(), word);
        }
    }

    /// One flag of `intid` (false outside the block), as [`IrqBlock::word`] reads it.
    pub(crate) fn flag(&self, flag: Flag, intid: u32) -> bool {
        self.contains(intid) && self.word(flag, intid / 32) & (1 << (intid % 32)) != 0
    }

    /// Sets or clears one flag of `intid`; returns whether it was set before.
    pub(crate) fn set_flag(&mut self, flag: Flag, intid: u32, value: bool) -> bool {
        let before = self.flag(flag, intid);
        self.set_bit_in(Field::from(flag), intid, value);
        before
    }

    /// Pending and enabled: what the block would forward if nothing else held it back.
    pub(crate) fn ready_word(&self, word: u32) -> u32 {
        self.words
            .get(word as usize)
            .map_or(0, |record| record.pending() & record.enabled)
    }

    /// The words of the flag arrays from `first_word` on with a pending interrupt,
    /// ascending: a scan of a block where little is pending visits little.
    pub(crate) fn pending_words(&self, first_word: u32) -> impl Iterator<Item = u32> {
        set_bit_indices(self.pending_summary & !ones_below_64(first_word))
    }

    /// Number of words of the flag arrays.
    pub(crate) fn words(&self) -> u32 {
        self.end.div_ceil(32)
    }

    /// The priority byte of `intid` (zero outside the block).
    pub(crate) fn priority(&self, intid: u32) -> u8 {
        if self.contains(intid) {
            self.priority.get(intid as usize).copied().unwrap_or(0)
        } else {
            0
        }
    }

    /// Sets the priority of `intid`; the unimplemented low bits are dropped.
    pub(crate) fn set_priority(&mut self, intid: u32, value: u8) {
        if self.contains(intid)
            && let Some(byte) = self.priority.get_mut(intid as usize)
        {
            *byte = value & PRIORITY_MASK;
        }
    }

    /// ICFGR word `word` (16 interrupts, two bits each: Int_config[1] is edge).
    pub(crate) fn config_word(&self, word: u32) -> u32 {
        let base = word.saturating_mul(16);
        (0..16).fold(0, |acc, k| {
            if self.bit_in(Field::Edge, base.saturating_add(k)) {
                acc | (2 << (2 * k))
            } else {
                acc
            }
        })
    }

    /// Writes ICFGR word `word`: only the odd (edge/level) bits of interrupts whose
    /// configuration is programmable change.
    pub(crate) fn write_config_word(&mut self, word: u32, value: u32) {
        let base = word.saturating_mul(16);
        for k in 0..16 {
            let intid = base.saturating_add(k);
            if intid >= self.fixed_edge_below {
                self.set_bit_in(Field::Edge, intid, value & (2 << (2 * k)) != 0);
            }
        }
    }

    fn bit_in(&self, field: Field, intid: u32) -> bool {
        self.contains(intid)
            && self
                .words
                .get((intid / 32) as usize)
                .is_some_and(|record| record.get(field) & (1 << (intid % 32)) != 0)
    }

    fn set_bit_in(&mut self, field: Field, intid: u32, value: bool) {
        if !self.contains(intid) {
            return;
        }
        let word = intid / 32;
        if let Some(record) = self.words.get_mut(word as usize) {
            let bits = record.get_mut(field);
            if value {
                *bits |= 1 << (intid % 32);
            } else {
                *bits &= !(1 << (intid % 32));
            }
            self.summarize_after(field, word);
        }
    }

    /// Brings the pending summary up to date after `field`'s bits of word `word`
    /// changed (only the latch, the lines and the trigger decide what is pending).
    fn summarize_after(&mut self, field: Field, word: u32) {
        if matches!(field, Field::Pending | Field::Line | Field::Edge) {
            self.summarize(word);
        }
    }

    /// Brings the pending summary's bit of word `word` up to date.
    fn summarize(&mut self, word: u32) {
        if let Some(record) = self.words.get(word as usize) {
            let bit = 1u64 << (word % 64);
            if record.pending() != 0 {
                self.pending_summary |= bit;
            } else {
                self.pending_summary &= !bit;
            }
        }
    }
}

/// Every bit array of a block: the flags, the input lines and the trigger
/// configuration.
#[derive(Clone, Copy)]
enum Field {
    Group,
    Enabled,
    Pending,
    Active,
    Line,
    Edge,
}

impl From<Flag> for Field {
    fn from(flag: Flag) -> Self {
        match flag {
            Flag::Group => Self::Group,
            Flag::Enabled => Self::Enabled,
            Flag::Pending => Self::Pending,
            Flag::Active => Self::Active,
        }
    }
}

/// The indices of the set bits of `mask`, ascending: one step per set bit.
pub(crate) fn set_bit_indices(mut mask: u64) -> impl Iterator<Item = u32> {
    core::iter::from_fn(move || {
        let bit = mask.trailing_zeros();
        (mask != 0).then(|| {
            mask &= mask - 1;
            bit
        })
    })
}

/// A mask of the `n` lowest bits of a `u64` (all of them from 64 on).
fn ones_below_64(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1 << n) - 1 }
}

/// A mask of the `n` lowest bits (`n` at most 32).
fn ones_below(n: u32) -> u32 {
    if n >= 32 { u32::MAX } else { (1 << n) - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_mask_covers_the_block_only() {
        let spis = IrqBlock::new(32, 32 + 988, 0);
        assert_eq!(spis.valid_mask(0), 0);
        assert_eq!(spis.valid_mask(1), u32::MAX);
        assert_eq!(spis.valid_mask(31), 0x0fff_ffff);
        assert_eq!(spis.valid_mask(32), 0);
        assert_eq!(spis.valid_mask(u32::MAX), 0);
        let private = IrqBlock::new(0, 32, 16);
        assert_eq!(private.valid_mask(0), u32::MAX);
        assert_eq!(private.valid_mask(1), 0);
    }

    #[test]
    fn set_bits_reports_newly_set() {
        let mut block = IrqBlock::new(32, 64, 0);
        assert_eq!(block.set_bits(Flag::Pending, 1, 0b1010), 0b1010);
        assert_eq!(block.set_bits(Flag::Pending, 1, 0b0110), 0b0100);
        assert_eq!(block.set_bits(Flag::Pending, 0, u32::MAX), 0);
        assert_eq!(block.set_bits(Flag::Pending, 7, u32::MAX), 0);
        block.clear_bits(Flag::Pending, 1, 0b0010);
        assert_eq!(block.word(Flag::Pending, 1), 0b1100);
        assert!(block.flag(Flag::Pending, 35));
        assert!(!block.flag(Flag::Pending, 33));
    }

    #[test]
    fn pending_words_follow_every_way_of_setting_pending() {
        let mut block = IrqBlock::new(32, 32 + 988, 0);
        assert_eq!(block.pending_words(0).count(), 0);
        block.set_flag(Flag::Pending, 40, true);
        block.set_bits(Flag::Pending, 31, 1);
        block.write_word(Flag::Pending, 5, 0x10);
        assert_eq!(block.pending_words(0).collect::<Vec<_>>(), [1, 5, 31]);
        assert_eq!(block.pending_words(2).collect::<Vec<_>>(), [5, 31]);
        block.set_flag(Flag::Pending, 40, false);
        block.clear_bits(Flag::Pending, 31, 1);
        block.write_word(Flag::Pending, 5, 0);
        block.set_flag(Flag::Enabled, 70, true);
        assert_eq!(block.pending_words(0).count(), 0);
        block.set_flag(Flag::Pending, 5000, true);
        assert_eq!(block.pending_words(0).count(), 0, "outside the block");
    }

    #[test]
    fn sgis_are_fixed_edge() {
        let mut private = IrqBlock::new(0, 32, 16);
        assert_eq!(private.config_word(0), 0xaaaa_aaaa);
        assert_eq!(private.config_word(1), 0);
        private.write_config_word(0, 0);
        private.write_config_word(1, u32::MAX);
        assert_eq!(private.config_word(0), 0xaaaa_aaaa);
        assert_eq!(private.config_word(1), 0xaaaa_aaaa);
    }

    #[test]
    fn priorities_keep_five_bits() {
        let mut block = IrqBlock::new(32, 64, 0);
        block.set_priority(40, 0xff);
        block.set_priority(8, 0xff);
        block.set_priority(1000, 0xff);
        assert_eq!(block.priority(40), 0xf8);
        assert_eq!(block.priority(8), 0);
        assert_eq!(block.priority(1000), 0);
    }
}
