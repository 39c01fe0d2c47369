//! The two cascaded Intel 8259A programmable interrupt controllers of a PC/AT.
//!
//! Commands, bits and priorities follow the Intel 8259A datasheet. The master
//! answers ports 0x20 (A0 = 0) and 0x21 (A0 = 1), the slave 0xA0 and 0xA1; the
//! slave's INT output is wired to the master's IR2. The pair is one model,
//! [`Pic8259`], because the cascade needs both chips at every step: on a
//! [`crate::PortBus`] it is one device on the two windows of [`Pic8259::WINDOWS`]
//! (port offsets 0-1 the master, 2-3 the slave). Only byte accesses are accepted.
//!
//! Modelled: the ICW1-ICW4 initialisation sequence (vector base from ICW2, the
//! cascade from ICW3, auto-EOI and special fully nested mode from ICW4), edge and
//! level triggered inputs (ICW1.LTIM), OCW1 (the interrupt mask), every OCW2
//! command (non-specific and specific EOI, the rotations, set priority), OCW3
//! (read IRR or ISR, poll, special mask mode). Not modelled: 8080/8085 mode (the
//! chips always give 8086 vectors, whatever ICW4.uPM says), buffered mode, and the
//! PIIX edge/level control registers at 0x4D0/0x4D1.
//!
//! Inputs are interrupt request numbers 0-15: 0-7 the master's IR0-IR7, 8-15 the
//! slave's IR0-IR7. IRQ 2 is the cascade and cannot be driven from outside. An edge
//! input latches a request on a rising edge and drops it if the line falls before
//! the request is acknowledged; the cascade input follows the slave's INT level, so
//! a slave request is never lost for want of a new edge.
//!
//! The hypervisor asks [`Pic8259::pending_vector`] whether the CPU's INTR line is
//! up and with what, and calls [`Pic8259::acknowledge`] when it delivers the
//! interrupt (the INTA cycle). Spurious interrupts: an INTA with INTR low does not
//! happen here; `acknowledge` returns `None` and changes nothing (on the chip it
//! would read IR7's vector, the spurious IRQ 7, without setting ISR bit 7). If the
//! master acknowledges its cascade input while the slave has no request left, the
//! slave answers with its IR7 vector (spurious IRQ 15): the slave's ISR is
//! unchanged and the master's ISR bit 2 is set, so the guest sends the master an
//! EOI only, as on the chips.

mod chip;

use chip::{Chip, bit};

use crate::port::check_byte_port;
use crate::{AccessWidth, DeviceError, PortDevice, PortRange};

#[cfg(test)]
mod tests;

/// The master's input the slave's INT drives.
const CASCADE_IR: u8 = 2;

/// The master and slave 8259A of a PC/AT, the slave on the master's IR2.
#[derive(Clone, Debug)]
pub struct Pic8259 {
    master: Chip,
    slave: Chip,
}

impl Default for Pic8259 {
    fn default() -> Self {
        Self::new()
    }
}

impl Pic8259 {
    /// The master's ports, 0x20 and 0x21.
    pub const MASTER: PortRange = PortRange::new(0x20, 2);
    /// The slave's ports, 0xA0 and 0xA1.
    pub const SLAVE: PortRange = PortRange::new(0xa0, 2);
    /// The windows to give [`crate::PortBus::insert_windows`], in port-offset order.
    pub const WINDOWS: [PortRange; 2] = [Self::MASTER, Self::SLAVE];

    /// Both chips at power-on: uninitialised, every input masked.
    pub fn new() -> Self {
        Self {
            master: Chip::new(true),
            slave: Chip::new(false),
        }
    }

    /// An edge on `irq` (0-15): a request held until acknowledged, even in level
    /// triggered mode. IRQ 2 (the cascade) and numbers above 15 are ignored.
    pub fn raise(&mut self, irq: u8) {
        if let Some(chip) = self.input(irq) {
            chip.pulse(irq);
            self.update_cascade();
        }
    }

    /// Sets the line of `irq` (0-15): in edge mode a rising edge requests and a
    /// falling line withdraws a request not yet acknowledged; in level mode the
    /// request follows the line. IRQ 2 and numbers above 15 are ignored.
    pub fn set_level(&mut self, irq: u8, high: bool) {
        if let Some(chip) = self.input(irq) {
            chip.set_line(irq, high);
            self.update_cascade();
        }
    }

    /// Whether the master's INT output (the CPU's INTR line) is asserted.
    pub fn interrupt_output(&self) -> bool {
        self.master.interrupt_output()
    }

    /// The vector an INTA would read now: the highest-priority unmasked request not
    /// blocked by one in service at higher priority, through the slave for IR2.
    /// `None` while INTR is low.
    pub fn pending_vector(&self) -> Option<u8> {
        let irq = self.master.highest_request()?;
        if irq == CASCADE_IR && self.master.has_slave(CASCADE_IR) {
            let slave_irq = self.slave.highest_request().unwrap_or(7);
            return Some(self.slave.vector(slave_irq));
        }
        Some(self.master.vector(irq))
    }

    /// The INTA cycle: the request [`Pic8259::pending_vector`] names goes in service
    /// (not in auto-EOI mode) and its vector is returned; `None`, changing nothing,
    /// while INTR is low. See the module documentation for spurious interrupts.
    pub fn acknowledge(&mut self) -> Option<u8> {
        let irq = self.master.highest_request()?;
        self.master.acknowledge(irq);
        let vector = if irq == CASCADE_IR && self.master.has_slave(CASCADE_IR) {
            match self.slave.highest_request() {
                Some(slave_irq) => {
                    self.slave.acknowledge(slave_irq);
                    self.slave.vector(slave_irq)
                }
                None => self.slave.vector(7),
            }
        } else {
            self.master.vector(irq)
        };
        self.update_cascade();
        Some(vector)
    }

    /// The chip whose input `irq` is, if it can be driven from outside.
    fn input(&mut self, irq: u8) -> Option<&mut Chip> {
        match irq {
            CASCADE_IR => None,
            0..8 => Some(&mut self.master),
            8..16 => Some(&mut self.slave),
            _ => None,
        }
    }

    /// The master's IR2 follows the slave's INT output.
    fn update_cascade(&mut self) {
        let high = self.slave.interrupt_output();
        let mask = bit(CASCADE_IR);
        if high {
            self.master.lines |= mask;
            self.master.irr |= mask;
        } else {
            self.master.lines &= !mask;
            self.master.irr &= !mask;
        }
    }

    /// The chip a port offset reaches and whether it is its A0 = 1 port.
    fn chip(&mut self, port_offset: u16) -> (&mut Chip, bool) {
        let chip = if port_offset < 2 {
            &mut self.master
        } else {
            &mut self.slave
        };
        (chip, port_offset & 1 != 0)
    }
}

impl PortDevice for Pic8259 {
    fn name(&self) -> &'static str {
        "pic8259"
    }

    fn read(&mut self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        check_byte_port(port_offset, width, 4)?;
        let (chip, a0) = self.chip(port_offset);
        let value = if a0 { chip.imr } else { chip.read_command() };
        self.update_cascade();
        Ok(value.into())
    }

    fn write(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        check_byte_port(port_offset, width, 4)?;
        let (chip, a0) = self.chip(port_offset);
        if a0 {
            chip.write_data(value as u8);
        } else {
            chip.write_command(value as u8);
        }
        self.update_cascade();
        Ok(())
    }
}
