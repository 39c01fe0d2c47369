//! An Intel 82093AA I/O APIC: 24 interrupt pins routed to local APICs.
//!
//! Registers and bits follow the 82093AA datasheet: two 32-bit MMIO registers,
//! IOREGSEL at offset 0x00 (the index) and IOWIN at 0x10 (the indexed register),
//! both accessed with 32-bit loads and stores only. Behind them: the ID (0x00,
//! bits 27:24), the version (0x01: version 0x11, 24 entries), the arbitration ID
//! (0x02, which follows the ID) and the 24 64-bit redirection entries at 0x10-0x3F
//! (low half at the even index). Other indexes read 0 and ignore writes.
//!
//! The hypervisor drives the pins with [`IoApic::set_level`] (`high` means
//! asserted: the polarity bit is stored and read back but does not invert, the
//! VM's devices signal assertion) and [`IoApic::raise`] (an edge), asks which
//! interrupt is to be sent with [`IoApic::pending`], sends it with
//! [`IoApic::accept`], and passes the local APICs' EOIs for level-triggered
//! vectors to [`IoApic::eoi`]. An edge-triggered pin sends one message per rising
//! edge (edges on a masked pin are lost); a level-triggered pin sends one while
//! asserted and unmasked, then waits with its remote IRR set until the EOI of its
//! vector, when it sends again if still asserted. Version 0x11 has no EOI register:
//! remote IRR is cleared only by that EOI or by making the entry edge-triggered.

use crate::{AccessWidth, DeviceError, MmioDevice};

#[cfg(test)]
mod tests;

/// Number of pins and redirection entries.
const PINS: usize = 24;
/// IOREGSEL's offset.
const IOREGSEL: u64 = 0x00;
/// IOWIN's offset.
const IOWIN: u64 = 0x10;
/// The indexed registers.
const ID: u8 = 0x00;
const VERSION: u8 = 0x01;
const ARBITRATION: u8 = 0x02;
const REDIRECTION_BASE: u8 = 0x10;
/// The version register: 24 entries (maximum entry 23), version 0x11.
const VERSION_VALUE: u32 = ((PINS as u32 - 1) << 16) | 0x11;
/// The ID's bits in the ID and arbitration registers.
const ID_SHIFT: u32 = 24;
const ID_MASK: u32 = 0xf;

/// Redirection entry bits.
const VECTOR: u64 = 0xff;
const DELIVERY_MODE_SHIFT: u32 = 8;
const DEST_LOGICAL: u64 = 1 << 11;
const DELIVERY_STATUS: u64 = 1 << 12;
const REMOTE_IRR: u64 = 1 << 14;
const LEVEL_TRIGGERED: u64 = 1 << 15;
const MASKED: u64 = 1 << 16;
const DESTINATION_SHIFT: u32 = 56;
/// The bits a write of the low half changes: vector, delivery mode, destination
/// mode, polarity, trigger mode, mask (not delivery status or remote IRR).
const LOW_WRITABLE: u64 = 0x0001_afff;
/// The bits a write of the high half changes: the destination.
const HIGH_WRITABLE: u64 = 0xff00_0000;

/// How a redirection entry's message is delivered (bits 10:8).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeliveryMode {
    /// 000: to every destination, with the vector.
    Fixed,
    /// 001: to the destination processor with the lowest priority.
    LowestPriority,
    /// 010: a system management interrupt.
    Smi,
    /// 100: a non-maskable interrupt (the vector is ignored).
    Nmi,
    /// 101: an INIT.
    Init,
    /// 111: an external interrupt: the vector comes from an 8259A's INTA cycle.
    ExtInt,
    /// 011 and 110, reserved.
    Reserved(u8),
}

impl DeliveryMode {
    /// The mode of the 3-bit field `bits`.
    fn from_bits(bits: u8) -> Self {
        match bits & 7 {
            0 => Self::Fixed,
            1 => Self::LowestPriority,
            2 => Self::Smi,
            4 => Self::Nmi,
            5 => Self::Init,
            7 => Self::ExtInt,
            other => Self::Reserved(other),
        }
    }
}

/// An interrupt message the I/O APIC sends, from its pin's redirection entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Delivery {
    /// The pin, 0-23.
    pub pin: u8,
    /// The vector.
    pub vector: u8,
    /// The delivery mode.
    pub mode: DeliveryMode,
    /// Logical (a set of processors) rather than physical (an APIC ID) destination.
    pub logical: bool,
    /// The destination field, bits 63:56 (in physical mode the 82093AA uses 59:56).
    pub destination: u8,
    /// Level-triggered: the pin waits for an EOI of the vector.
    pub level_triggered: bool,
}

/// The I/O APIC model: registers, pin levels and pending edges.
#[derive(Clone, Debug)]
pub struct IoApic {
    /// The APIC ID, 4 bits.
    id: u32,
    /// IOREGSEL.
    select: u8,
    /// Redirection entries; bit 12 (delivery status) is worked out when read.
    entries: [u64; PINS],
    /// Asserted pins, bit n for pin n.
    levels: u32,
    /// Edges that are still to be sent, bit n for pin n.
    edges: u32,
}

impl Default for IoApic {
    fn default() -> Self {
        Self::new()
    }
}

impl IoApic {
    /// Where PCs have the I/O APIC.
    pub const BASE: u64 = 0xfec0_0000;
    /// The MMIO window: one 4 KiB page (the registers are in its first 0x20 bytes).
    pub const SIZE: u64 = 0x1000;
    /// Number of interrupt pins.
    pub const PINS: u8 = PINS as u8;

    /// An I/O APIC at reset: ID 0, every entry masked, no pin asserted.
    pub fn new() -> Self {
        Self {
            id: 0,
            select: 0,
            entries: [MASKED; PINS],
            levels: 0,
            edges: 0,
        }
    }

    /// Sets pin `pin`'s line (`high`: asserted). A rising line on an unmasked
    /// edge-triggered pin is an edge; a level-triggered pin requests while high.
    /// Pins past 23 are ignored.
    pub fn set_level(&mut self, pin: u8, high: bool) {
        let Some(entry) = self.entry(pin) else { return };
        let bit = 1u32 << pin;
        let rising = high && self.levels & bit == 0;
        if high {
            self.levels |= bit;
        } else {
            self.levels &= !bit;
        }
        if rising && entry & LEVEL_TRIGGERED == 0 && entry & MASKED == 0 {
            self.edges |= bit;
        }
    }

    /// An edge on pin `pin`: one message, unless the pin is masked. On a
    /// level-triggered entry it is sent as level-triggered (waiting for its EOI).
    /// Pins past 23 are ignored.
    pub fn raise(&mut self, pin: u8) {
        if self.entry(pin).is_some_and(|entry| entry & MASKED == 0) {
            self.edges |= 1 << pin;
        }
    }

    /// The vector and destination of the interrupt to send next: the lowest
    /// unmasked pin with an edge to send or asserted and level-triggered with remote
    /// IRR clear. The delivery mode and destination mode are in [`IoApic::accept`]'s
    /// answer.
    pub fn pending(&self) -> Option<(u8, u8)> {
        let pin = self.next_pin()?;
        let entry = self.entry(pin)?;
        Some((vector(entry), destination(entry)))
    }

    /// Sends the interrupt [`IoApic::pending`] names: its edge is consumed, or its
    /// remote IRR set if the entry is level-triggered. `None` if there is none.
    pub fn accept(&mut self) -> Option<Delivery> {
        let pin = self.next_pin()?;
        let entry = self.entry(pin)?;
        self.edges &= !(1 << pin);
        let level_triggered = entry & LEVEL_TRIGGERED != 0;
        if level_triggered && let Some(stored) = self.entries.get_mut(usize::from(pin)) {
            *stored |= REMOTE_IRR;
        }
        Some(Delivery {
            pin,
            vector: vector(entry),
            mode: DeliveryMode::from_bits((entry >> DELIVERY_MODE_SHIFT) as u8),
            logical: entry & DEST_LOGICAL != 0,
            destination: destination(entry),
            level_triggered,
        })
    }

    /// A local APIC's EOI of `vector`: clears remote IRR of the level-triggered
    /// entries with that vector, which send again if still asserted.
    pub fn eoi(&mut self, vector: u8) {
        for entry in &mut self.entries {
            if *entry & VECTOR == u64::from(vector) && *entry & LEVEL_TRIGGERED != 0 {
                *entry &= !REMOTE_IRR;
            }
        }
    }

    /// Pin `pin`'s redirection entry as the guest reads it (`None` past pin 23).
    pub fn redirection(&self, pin: u8) -> Option<u64> {
        let entry = self.entry(pin)?;
        let sending = if self.deliverable(pin) {
            DELIVERY_STATUS
        } else {
            0
        };
        Some(entry | sending)
    }

    /// The APIC ID (bits 27:24 of the ID register).
    pub fn id(&self) -> u8 {
        self.id as u8
    }

    /// Pin `pin`'s stored redirection entry.
    fn entry(&self, pin: u8) -> Option<u64> {
        self.entries.get(usize::from(pin)).copied()
    }

    /// Whether pin `pin` has a message to send.
    fn deliverable(&self, pin: u8) -> bool {
        let Some(entry) = self.entry(pin) else {
            return false;
        };
        let bit = 1u32 << pin;
        if entry & MASKED != 0 {
            return false;
        }
        if entry & LEVEL_TRIGGERED != 0 {
            let requested = self.levels & bit != 0 || self.edges & bit != 0;
            requested && entry & REMOTE_IRR == 0
        } else {
            self.edges & bit != 0
        }
    }

    /// The lowest pin with a message to send.
    fn next_pin(&self) -> Option<u8> {
        (0..Self::PINS).find(|&pin| self.deliverable(pin))
    }

    /// The register IOREGSEL selects, as IOWIN reads it.
    fn read_window(&self) -> u32 {
        match self.select {
            ID | ARBITRATION => self.id << ID_SHIFT,
            VERSION => VERSION_VALUE,
            index => {
                let Some((pin, high)) = redirection_index(index) else {
                    return 0;
                };
                let entry = self.redirection(pin).unwrap_or(0);
                if high {
                    (entry >> 32) as u32
                } else {
                    entry as u32
                }
            }
        }
    }

    /// A write through IOWIN to the register IOREGSEL selects.
    fn write_window(&mut self, value: u32) {
        let index = self.select;
        if index == ID {
            self.id = (value >> ID_SHIFT) & ID_MASK;
            return;
        }
        let Some((pin, high)) = redirection_index(index) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(usize::from(pin)) else {
            return;
        };
        let value = u64::from(value);
        if high {
            let field = HIGH_WRITABLE << 32;
            *entry = (*entry & !field) | ((value << 32) & field);
        } else {
            *entry = (*entry & !LOW_WRITABLE) | (value & LOW_WRITABLE);
            if *entry & LEVEL_TRIGGERED == 0 {
                *entry &= !REMOTE_IRR;
            }
        }
    }

    /// Refuses anything but a 32-bit access to IOREGSEL or IOWIN.
    fn check(offset: u64, width: AccessWidth) -> Result<(), DeviceError> {
        match offset {
            IOREGSEL | IOWIN if width == AccessWidth::Word => Ok(()),
            IOREGSEL | IOWIN => Err(DeviceError::BadWidth { offset, width }),
            0x01..0x04 | 0x11..0x14 => Err(DeviceError::Unaligned { offset, width }),
            _ => Err(DeviceError::NoRegister { offset }),
        }
    }
}

/// The pin and half (high: bits 63:32) of redirection register `index`.
fn redirection_index(index: u8) -> Option<(u8, bool)> {
    let entry = index.checked_sub(REDIRECTION_BASE)?;
    let pin = entry / 2;
    (usize::from(pin) < PINS).then_some((pin, entry & 1 != 0))
}

/// An entry's vector.
fn vector(entry: u64) -> u8 {
    (entry & VECTOR) as u8
}

/// An entry's destination field.
fn destination(entry: u64) -> u8 {
    (entry >> DESTINATION_SHIFT) as u8
}

impl MmioDevice for IoApic {
    fn name(&self) -> &'static str {
        "ioapic"
    }

    fn read(&mut self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        Self::check(offset, width)?;
        let value = match offset {
            IOREGSEL => self.select.into(),
            _ => self.read_window(),
        };
        Ok(value.into())
    }

    fn write(&mut self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        Self::check(offset, width)?;
        match offset {
            IOREGSEL => self.select = value as u8,
            _ => self.write_window(value as u32),
        }
        Ok(())
    }
}
