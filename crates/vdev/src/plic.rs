//! A RISC-V Platform-Level Interrupt Controller (PLIC) for one VM.
//!
//! Registers and semantics follow the RISC-V PLIC Specification 1.0.0; the memory
//! map and the 3-bit priorities are those of QEMU's riscv `virt` board, whose
//! context 2h is hart h's M-mode and context 2h+1 its S-mode. Each source has a
//! gateway: a level-triggered line forwards one request per assertion and, while
//! still asserted, another after each completion; an edge forwards one request,
//! and an edge that arrives before the previous request is completed is kept (one
//! deep) and forwarded at completion. A request stays pending until claimed, even
//! if its line drops.
//!
//! The hypervisor feeds device lines in with [`Plic::set_level`] and [`Plic::raise`]
//! and reads each context's external interrupt line with
//! [`Plic::context_interrupt`], [`Plic::contexts_with_interrupts`] and
//! [`Plic::take_changed`].

use alloc::vec;
use alloc::vec::Vec;

use crate::{AccessWidth, DeviceError, MmioDevice};

#[cfg(test)]
mod tests;

/// Start of the pending array.
const PENDING_BASE: u64 = 0x1000;
/// End of the pending array (1024 bits).
const PENDING_END: u64 = 0x1080;
/// Start of the enable bits of context 0.
const ENABLE_BASE: u64 = 0x2000;
/// Distance between the enable bits of consecutive contexts.
const ENABLE_STRIDE: u64 = 0x80;
/// End of the enable bits of the last context the map has room for (15871).
const ENABLE_END: u64 = 0x1f_2000;
/// Start of the threshold and claim/complete registers of context 0.
const CONTEXT_BASE: u64 = 0x20_0000;
/// Distance between the threshold registers of consecutive contexts.
const CONTEXT_STRIDE: u64 = 0x1000;
/// Offset of the claim/complete register from its context's threshold register.
const CLAIM_OFFSET: u64 = 4;
/// The implemented bits of priorities and thresholds (priorities 0 to 7).
const PRIORITY_MASK: u32 = 0x7;

/// A register of the PLIC's map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Register {
    /// The priority of a source (0 and those past the last source read zero).
    Priority(u32),
    /// A word of the pending array.
    Pending(u32),
    /// A word of a context's enable bits.
    Enable { context: u32, word: u32 },
    /// A context's priority threshold.
    Threshold(u32),
    /// A context's claim/complete register.
    Claim(u32),
    /// A hole in the map: reads zero, ignores writes.
    Reserved,
}

impl Register {
    /// The register at `offset`, if it lies in the map.
    fn at(offset: u64) -> Option<Self> {
        let register = match offset {
            ..PENDING_BASE => Self::Priority((offset / 4) as u32),
            PENDING_BASE..PENDING_END => Self::Pending(((offset - PENDING_BASE) / 4) as u32),
            ENABLE_BASE..ENABLE_END => {
                let from = offset - ENABLE_BASE;
                Self::Enable {
                    context: (from / ENABLE_STRIDE) as u32,
                    word: ((from % ENABLE_STRIDE) / 4) as u32,
                }
            }
            CONTEXT_BASE..Plic::SIZE => {
                let from = offset - CONTEXT_BASE;
                let context = (from / CONTEXT_STRIDE) as u32;
                match from % CONTEXT_STRIDE {
                    0 => Self::Threshold(context),
                    CLAIM_OFFSET => Self::Claim(context),
                    _ => Self::Reserved,
                }
            }
            Plic::SIZE.. => return None,
            _ => Self::Reserved,
        };
        Some(register)
    }
}

/// Bit `n` of a word-packed bit array (bit n mod 32 of word n / 32).
fn bit(words: &[u32], n: u32) -> bool {
    words
        .get((n / 32) as usize)
        .is_some_and(|word| word & (1 << (n % 32)) != 0)
}

/// Sets bit `n` of a word-packed bit array to `value`.
fn set_bit(words: &mut [u32], n: u32, value: bool) {
    if let Some(word) = words.get_mut((n / 32) as usize) {
        if value {
            *word |= 1 << (n % 32);
        } else {
            *word &= !(1 << (n % 32));
        }
    }
}

/// The emulated PLIC: priorities, pending bits, per-context enables, thresholds and
/// claims, and the gateway state of each source.
pub struct Plic {
    /// Number of sources: IDs 1 to `sources` exist.
    sources: u32,
    /// Number of contexts.
    contexts: u32,
    /// Words of bits per source array (source IDs 0 to `sources`).
    words: usize,
    /// Priority of each source, by ID; entry 0 stays zero.
    priority: Vec<u8>,
    /// The PLIC core's pending (IP) bits.
    pending: Vec<u32>,
    /// Enable bits, `words` words per context.
    enable: Vec<u32>,
    /// Priority threshold of each context.
    threshold: Vec<u8>,
    /// Gateway: the level of each source's line, as last set.
    level: Vec<u32>,
    /// Gateway: a request was forwarded and its completion has not arrived.
    busy: Vec<u32>,
    /// Gateway: an edge arrived while busy; forwarded at completion.
    queued_edge: Vec<u32>,
    /// The context that claimed each source and has not completed it, by ID.
    claimed_by: Vec<Option<u32>>,
    /// Each context's external interrupt line, as last computed.
    lines: u64,
    /// Contexts whose line changed since the last [`Plic::take_changed`].
    changed: u64,
}

impl Plic {
    /// Size of the register window (QEMU `virt`'s PLIC, room for 15872 contexts).
    pub const SIZE: u64 = 0x400_0000;
    /// The most interrupt sources a PLIC has (IDs 1 to 1023).
    pub const MAX_SOURCES: u32 = 1023;
    /// The most contexts this model has: one bit each in a `u64` mask (32 harts).
    pub const MAX_CONTEXTS: u32 = 64;
    /// The highest priority (and threshold): three bits, as on QEMU `virt`.
    pub const MAX_PRIORITY: u32 = PRIORITY_MASK;

    /// A PLIC in its reset state (all priorities, enables and thresholds zero) with
    /// sources 1 to `sources` and `contexts` contexts. `sources` is capped at
    /// [`Plic::MAX_SOURCES`] and `contexts` at [`Plic::MAX_CONTEXTS`]; see
    /// [`Plic::sources`] and [`Plic::contexts`].
    pub fn new(sources: u32, contexts: u32) -> Self {
        let sources = sources.min(Self::MAX_SOURCES);
        let contexts = contexts.min(Self::MAX_CONTEXTS);
        let words = (sources / 32 + 1) as usize;
        Self {
            sources,
            contexts,
            words,
            priority: vec![0; sources as usize + 1],
            pending: vec![0; words],
            enable: vec![0; words * contexts as usize],
            threshold: vec![0; contexts as usize],
            level: vec![0; words],
            busy: vec![0; words],
            queued_edge: vec![0; words],
            claimed_by: vec![None; sources as usize + 1],
            lines: 0,
            changed: 0,
        }
    }

    /// The number of interrupt sources (IDs 1 to this).
    pub fn sources(&self) -> u32 {
        self.sources
    }

    /// The number of contexts.
    pub fn contexts(&self) -> u32 {
        self.contexts
    }

    /// The context of hart `hart`'s M mode, as on QEMU `virt`.
    pub const fn machine_context(hart: u32) -> u32 {
        2 * hart
    }

    /// The context of hart `hart`'s S mode (a vCPU's VS mode), as on QEMU `virt`.
    pub const fn supervisor_context(hart: u32) -> u32 {
        2 * hart + 1
    }

    /// Sets the line of a level-triggered source: asserting it forwards a request
    /// unless one is outstanding. Unknown sources (0, past the last) are ignored.
    pub fn set_level(&mut self, source: u32, high: bool) {
        if !self.exists(source) {
            return;
        }
        set_bit(&mut self.level, source, high);
        if high && !bit(&self.busy, source) {
            self.forward(source);
        }
        self.update_lines();
    }

    /// An edge on an edge-triggered source: forwards a request, or keeps the edge
    /// for the next completion if one is outstanding. Unknown sources are ignored.
    pub fn raise(&mut self, source: u32) {
        if !self.exists(source) {
            return;
        }
        if bit(&self.busy, source) {
            set_bit(&mut self.queued_edge, source, true);
        } else {
            self.forward(source);
        }
        self.update_lines();
    }

    /// Whether context `context`'s external interrupt line is asserted: an enabled
    /// source is pending with a priority above the context's threshold.
    pub fn context_interrupt(&self, context: u32) -> bool {
        Self::line_in(self.lines, context)
    }

    /// Whether `lines` (as [`Self::contexts_with_interrupts`] gives them) has
    /// context `context`'s line asserted.
    pub fn line_in(lines: u64, context: u32) -> bool {
        lines
            .checked_shr(context)
            .is_some_and(|lines| lines & 1 != 0)
    }

    /// The contexts whose external interrupt line is asserted, bit n for context n.
    pub fn contexts_with_interrupts(&self) -> u64 {
        self.lines
    }

    /// The contexts whose line changed since the last call, bit n for context n,
    /// and forgets them: the vCPUs whose VSEIP must be updated.
    pub fn take_changed(&mut self) -> u64 {
        core::mem::take(&mut self.changed)
    }

    /// Whether `source` is one of this PLIC's sources.
    fn exists(&self, source: u32) -> bool {
        (1..=self.sources).contains(&source)
    }

    /// The gateway sends a request to the core: the source is pending, and the
    /// gateway forwards nothing more until completion.
    fn forward(&mut self, source: u32) {
        set_bit(&mut self.pending, source, true);
        set_bit(&mut self.busy, source, true);
    }

    /// The enable bits of `context`, empty for contexts that do not exist.
    fn enables(&self, context: u32) -> &[u32] {
        let start = context as usize * self.words;
        self.enable.get(start..start + self.words).unwrap_or(&[])
    }

    /// The priority of `source`, 0 for sources that do not exist.
    fn priority_of(&self, source: u32) -> u32 {
        self.priority
            .get(source as usize)
            .map_or(0, |p| u32::from(*p))
    }

    /// The priority threshold of `context`.
    fn threshold_of(&self, context: u32) -> u32 {
        self.threshold
            .get(context as usize)
            .map_or(0, |t| u32::from(*t))
    }

    /// The highest-priority pending source enabled for `context` (ties: lowest ID)
    /// and its priority. Sources of priority 0 never interrupt.
    fn best(&self, context: u32) -> Option<(u32, u32)> {
        let mut best = None;
        let mut best_priority = 0;
        let words = self.pending.iter().zip(self.enables(context));
        for (index, (pending, enabled)) in words.enumerate() {
            let mut candidates = pending & enabled;
            while candidates != 0 {
                let source = index as u32 * 32 + candidates.trailing_zeros();
                candidates &= candidates - 1;
                let priority = self.priority_of(source);
                if priority > best_priority {
                    best = Some((source, priority));
                    best_priority = priority;
                }
            }
        }
        best
    }

    /// A read of `context`'s claim register. Per the specification the threshold
    /// does not apply: a context may poll with interrupts masked by it.
    fn claim(&mut self, context: u32) -> u32 {
        let Some((source, _)) = self.best(context) else {
            return 0;
        };
        set_bit(&mut self.pending, source, false);
        if let Some(owner) = self.claimed_by.get_mut(source as usize) {
            *owner = Some(context);
        }
        source
    }

    /// A write of `source` to `context`'s complete register. It is ignored unless
    /// `context` claimed that source and has it enabled; otherwise the gateway
    /// forwards the next request if the line is still high or an edge came.
    fn complete(&mut self, context: u32, source: u32) {
        let enabled = bit(self.enables(context), source);
        let Some(owner) = self.claimed_by.get_mut(source as usize) else {
            return;
        };
        if *owner != Some(context) || !enabled {
            return;
        }
        *owner = None;
        set_bit(&mut self.busy, source, false);
        if bit(&self.level, source) || bit(&self.queued_edge, source) {
            set_bit(&mut self.queued_edge, source, false);
            self.forward(source);
        }
    }

    /// Recomputes every context's line and notes those that changed.
    fn update_lines(&mut self) {
        let lines = (0..self.contexts)
            .filter(|&context| {
                self.best(context)
                    .is_some_and(|(_, priority)| priority > self.threshold_of(context))
            })
            .fold(0u64, |lines, context| lines | 1 << context);
        self.changed |= self.lines ^ lines;
        self.lines = lines;
    }

    /// The enable bits of word `word` that name existing sources.
    fn enable_mask(&self, word: u32) -> u32 {
        let first = word * 32;
        let mut mask = match self.sources.checked_sub(first) {
            None => 0,
            Some(above) if above >= 31 => u32::MAX,
            Some(above) => (1 << (above + 1)) - 1,
        };
        if word == 0 {
            mask &= !1;
        }
        mask
    }

    /// Refuses anything but aligned 32-bit accesses inside the window.
    fn register(offset: u64, width: AccessWidth) -> Result<Register, DeviceError> {
        if width != AccessWidth::Word {
            return Err(DeviceError::BadWidth { offset, width });
        }
        if !offset.is_multiple_of(4) {
            return Err(DeviceError::Unaligned { offset, width });
        }
        Register::at(offset).ok_or(DeviceError::NoRegister { offset })
    }
}

impl MmioDevice for Plic {
    fn name(&self) -> &'static str {
        "plic"
    }

    fn read(&mut self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        let value = match Self::register(offset, width)? {
            Register::Priority(source) => self.priority_of(source),
            Register::Pending(word) => self.pending.get(word as usize).copied().unwrap_or(0),
            Register::Enable { context, word } => self
                .enables(context)
                .get(word as usize)
                .copied()
                .unwrap_or(0),
            Register::Threshold(context) => self.threshold_of(context),
            Register::Claim(context) if context < self.contexts => {
                let source = self.claim(context);
                self.update_lines();
                source
            }
            Register::Claim(_) | Register::Reserved => 0,
        };
        Ok(value.into())
    }

    fn write(&mut self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        let register = Self::register(offset, width)?;
        let value = value as u32;
        match register {
            Register::Priority(source) if self.exists(source) => {
                if let Some(priority) = self.priority.get_mut(source as usize) {
                    *priority = (value & PRIORITY_MASK) as u8;
                }
            }
            Register::Pending(_) => return Err(DeviceError::ReadOnly { offset }),
            Register::Enable { context, word } if context < self.contexts => {
                let mask = self.enable_mask(word);
                let index = context as usize * self.words + word as usize;
                if let Some(enabled) = self.enable.get_mut(index).filter(|_| mask != 0) {
                    *enabled = value & mask;
                }
            }
            Register::Threshold(context) => {
                if let Some(threshold) = self.threshold.get_mut(context as usize) {
                    *threshold = (value & PRIORITY_MASK) as u8;
                }
            }
            Register::Claim(context) if context < self.contexts => self.complete(context, value),
            _ => return Ok(()),
        }
        self.update_lines();
        Ok(())
    }
}
