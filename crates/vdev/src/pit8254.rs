//! The Intel 8254 programmable interval timer of a PC, with port 0x61's timer 2
//! gate and output.
//!
//! Control words, counter latch and read-back commands, access modes and counting
//! modes follow the Intel 8254 datasheet; the counters run at 1 193 182 Hz.
//! Channel 0's OUT is IRQ 0; channel 1 (memory refresh on the PC/AT) is modelled
//! like channel 0 but drives nothing; channel 2's gate and output are bits 0 and 5
//! of port 0x61, where Linux calibrates its clocks. Ports: 0x40-0x42 the counters,
//! 0x43 the control word (write-only), 0x61 the PC/AT system control port B; as a
//! device on a [`crate::PortBus`] the windows are [`Pit8254::WINDOWS`] (port
//! offsets 0-3, then 4 for 0x61). Only byte accesses are accepted.
//!
//! Time is the caller's: every access and [`Pit8254::tick`] take the VM's clock in
//! nanoseconds, and the counters are worked out from it, so nothing has to run
//! between accesses. [`Pit8254::tick`] counts the IRQ 0 rising edges since its last
//! call and [`Pit8254::next_deadline_ns`] says when the next one falls, for the
//! hypervisor's timer. Wrap the model in [`crate::Clocked`] to put it on a bus.
//!
//! Modes 0 to 5 count as the datasheet says; the simplifications: a count is loaded
//! at the write, not at the next clock; a new count written in mode 2 or 3 restarts
//! the period at once rather than at the end of the current one; counts below 2 are
//! 2 in modes 2 and 3 (1 is illegal there); mode 3 reads step by two through each
//! half period; BCD counting (control word bit 0) is recorded for the status byte
//! but the counters count in binary.

mod channel;

use channel::{Channel, FREQUENCY_HZ, ns_for_ticks};

use crate::port::check_byte_port;
use crate::{AccessWidth, DeviceError, PortRange, TimedPortDevice};

#[cfg(test)]
mod tests;

/// Port offset of the control word register (port 0x43).
const CONTROL: u16 = 3;
/// Port offset of system control port B (port 0x61).
const PORT_B: u16 = 4;
/// Port 0x61 bits the guest writes: timer 2 gate (0), speaker data (1), parity
/// and channel check disables (2, 3).
const PORT_B_WRITABLE: u8 = 0x0f;
/// Port 0x61 bit 0: timer 2 gate.
const PORT_B_GATE2: u8 = 1 << 0;
/// Port 0x61 bit 4: refresh request, toggling every refresh cycle.
const PORT_B_REFRESH: u8 = 1 << 4;
/// Port 0x61 bit 5: timer 2 output.
const PORT_B_OUT2: u8 = 1 << 5;
/// The PC/AT refresh cycle that toggles port 0x61 bit 4, in nanoseconds.
const REFRESH_PERIOD_NS: u64 = 15_085;
/// Read-back command bit 5, active low: latch the counts.
const READ_BACK_NO_COUNT: u8 = 1 << 5;
/// Read-back command bit 4, active low: latch the statuses.
const READ_BACK_NO_STATUS: u8 = 1 << 4;

/// The 8254 timer: three counters and port 0x61.
#[derive(Clone, Debug)]
pub struct Pit8254 {
    channels: [Channel; 3],
    /// Port 0x61 bits 3:0 as last written.
    port_b: u8,
}

impl Default for Pit8254 {
    fn default() -> Self {
        Self::new()
    }
}

impl Pit8254 {
    /// The counter input clock, in Hz.
    pub const FREQUENCY_HZ: u64 = FREQUENCY_HZ;
    /// The interrupt line channel 0 drives.
    pub const IRQ: u8 = 0;
    /// The counter and control ports, 0x40 to 0x43.
    pub const PORTS: PortRange = PortRange::new(0x40, 4);
    /// System control port B, 0x61.
    pub const PORT_B: PortRange = PortRange::new(0x61, 1);
    /// The windows to give [`crate::PortBus::insert_windows`], in port-offset order.
    pub const WINDOWS: [PortRange; 2] = [Self::PORTS, Self::PORT_B];

    /// The timer at power-on: every counter in mode 3 without a count (OUT high, no
    /// interrupts; programming a mode then raises no IRQ 0 edge), channel 2's gate
    /// low.
    pub fn new() -> Self {
        let mut channels = [Channel::new(), Channel::new(), Channel::new()];
        channels[2].gate = false;
        Self {
            channels,
            port_b: 0,
        }
    }

    /// The number of IRQ 0 rising edges (channel 0's OUT) since the last call.
    pub fn tick(&mut self, now_ns: u64) -> u32 {
        let channel = &mut self.channels[0];
        channel.catch_up(now_ns);
        let edges = core::mem::take(&mut channel.pending_edges);
        u32::try_from(edges).unwrap_or(u32::MAX)
    }

    /// When the next IRQ 0 rising edge falls: `now_ns` if one is already due and
    /// not yet taken by [`Pit8254::tick`], `None` if channel 0 will not raise one.
    pub fn next_deadline_ns(&self, now_ns: u64) -> Option<u64> {
        let channel = &self.channels[0];
        let run = channel.run.as_ref()?;
        if channel.pending_edges > 0 || channel.edges(run, now_ns) > run.edges_counted {
            return Some(now_ns);
        }
        let tick = channel.next_edge_tick(now_ns)?;
        let ticks = tick.saturating_sub(run.base_ticks);
        Some(run.start_ns.saturating_add(ns_for_ticks(ticks)))
    }

    /// The OUT pin of `channel` (0-2) at `now_ns`; false for other channels.
    pub fn output(&self, channel: usize, now_ns: u64) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|channel| channel.out(now_ns))
    }

    /// A write to port 0x43.
    fn write_control(&mut self, value: u8, now_ns: u64) {
        let select = value >> 6;
        if select == 3 {
            self.read_back(value, now_ns);
            return;
        }
        let Some(channel) = self.channels.get_mut(usize::from(select)) else {
            return;
        };
        if value & 0x30 == 0 {
            channel.latch_count(now_ns);
        } else {
            channel.program(value, now_ns);
        }
    }

    /// The read-back command: latches the counts and/or statuses of the selected
    /// counters (bits 1-3 select counters 0-2).
    fn read_back(&mut self, value: u8, now_ns: u64) {
        for (index, channel) in self.channels.iter_mut().enumerate() {
            if value & (2 << index) == 0 {
                continue;
            }
            if value & READ_BACK_NO_STATUS == 0 {
                channel.latch_status(now_ns);
            }
            if value & READ_BACK_NO_COUNT == 0 {
                channel.latch_count(now_ns);
            }
        }
    }

    /// A read of port 0x61.
    fn read_port_b(&self, now_ns: u64) -> u8 {
        let refresh = if (now_ns / REFRESH_PERIOD_NS) & 1 != 0 {
            PORT_B_REFRESH
        } else {
            0
        };
        let out2 = if self.channels[2].out(now_ns) {
            PORT_B_OUT2
        } else {
            0
        };
        self.port_b | refresh | out2
    }

    /// A write to port 0x61: bit 0 is timer 2's gate.
    fn write_port_b(&mut self, value: u8, now_ns: u64) {
        self.port_b = value & PORT_B_WRITABLE;
        self.channels[2].set_gate(value & PORT_B_GATE2 != 0, now_ns);
    }
}

impl TimedPortDevice for Pit8254 {
    fn name(&self) -> &'static str {
        "pit8254"
    }

    fn read_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        now_ns: u64,
    ) -> Result<u32, DeviceError> {
        check_byte_port(port_offset, width, 5)?;
        let value = match port_offset {
            CONTROL => {
                return Err(DeviceError::WriteOnly {
                    offset: port_offset.into(),
                });
            }
            PORT_B => self.read_port_b(now_ns),
            counter => self
                .channels
                .get_mut(usize::from(counter))
                .map_or(0, |channel| channel.read_byte(now_ns)),
        };
        Ok(value.into())
    }

    fn write_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
        now_ns: u64,
    ) -> Result<(), DeviceError> {
        check_byte_port(port_offset, width, 5)?;
        let value = value as u8;
        match port_offset {
            CONTROL => self.write_control(value, now_ns),
            PORT_B => self.write_port_b(value, now_ns),
            counter => {
                if let Some(channel) = self.channels.get_mut(usize::from(counter)) {
                    channel.write_count_byte(value, now_ns);
                }
            }
        }
        Ok(())
    }
}
