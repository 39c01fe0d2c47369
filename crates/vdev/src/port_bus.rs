//! The port I/O bus of one VM: devices keyed by port window, found by binary search;
//! accesses take `&self`, the devices lock what they need themselves.
//!
//! A device may answer several windows (the PIT at 0x40-0x43 and at 0x61, the two
//! 8259As at 0x20 and 0xA0): it sees its windows' ports one after the other, in the
//! order given to [`PortBus::insert_windows`]. A port no device claims reads all
//! ones and ignores writes on a PC; [`PortBus::read`] reports it as
//! [`BusError::PortUnclaimed`] and [`PortBus::read_or_open`] answers it that way.

use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::vec::Vec;

use crate::{AccessWidth, BusError, DeviceError, PortRange, SharedPort};

#[cfg(test)]
mod tests;

/// One window of a device on the bus.
#[derive(Clone, Copy)]
struct Window {
    range: PortRange,
    /// Index of the device in [`PortBus::devices`].
    device: usize,
    /// The device's port offset of the window's first port.
    offset: u16,
}

/// The emulated port devices of one VM; windows sorted by base, never overlapping.
#[derive(Default)]
pub struct PortBus {
    windows: Vec<Window>,
    devices: Vec<Box<dyn SharedPort>>,
}

impl PortBus {
    /// An empty bus.
    pub const fn new() -> Self {
        Self {
            windows: Vec::new(),
            devices: Vec::new(),
        }
    }

    /// What a read of `width` returns when nothing drives the bus: all ones.
    pub const fn open_bus(width: AccessWidth) -> u32 {
        width.mask() as u32
    }

    /// Adds `device` at the ports of `range`; refuses empty, wrapping and
    /// overlapping windows.
    pub fn insert(
        &mut self,
        range: PortRange,
        device: Box<dyn SharedPort>,
    ) -> Result<(), BusError> {
        self.insert_windows(&[range], device)
    }

    /// Adds `device` answering every window of `ranges`: the first window's ports
    /// are its offsets from 0, the next window's follow on. Refuses no window at
    /// all, and empty, wrapping and overlapping windows (also among `ranges`).
    pub fn insert_windows(
        &mut self,
        ranges: &[PortRange],
        device: Box<dyn SharedPort>,
    ) -> Result<(), BusError> {
        let bad_range = |range| BusError::PortBadRange {
            device: device.name().to_string(),
            range,
        };
        if ranges.is_empty() {
            return Err(bad_range(PortRange::new(0, 0)));
        }
        for (index, &range) in ranges.iter().enumerate() {
            if !range.is_valid() {
                return Err(bad_range(range));
            }
            let mut earlier = ranges.iter().take(index);
            if let Some(&existing_range) = earlier.find(|r| r.overlaps(range)) {
                return Err(BusError::PortOverlap {
                    device: device.name().to_string(),
                    range,
                    existing: device.name().to_string(),
                    existing_range,
                });
            }
            if let Some(window) = self.windows.iter().find(|w| w.range.overlaps(range)) {
                return Err(BusError::PortOverlap {
                    device: device.name().to_string(),
                    range,
                    existing: self.name_of(window.device).to_string(),
                    existing_range: window.range,
                });
            }
        }
        let index = self.devices.len();
        let mut offset = 0u16;
        for &range in ranges {
            let position = self
                .windows
                .partition_point(|window| window.range.base < range.base);
            let window = Window {
                range,
                device: index,
                offset,
            };
            self.windows.insert(position, window);
            // Disjoint windows hold at most 0x1_0000 ports, so only a window
            // ending at 0xffff can wrap this, and nothing comes after it.
            offset = offset.wrapping_add(range.count);
        }
        self.devices.push(device);
        Ok(())
    }

    /// Whether a device claims `port`.
    pub fn contains(&self, port: u16) -> bool {
        self.find(port).is_some()
    }

    /// The windows on the bus, by ascending port: window and device name.
    pub fn windows(&self) -> impl Iterator<Item = (PortRange, &str)> {
        self.windows
            .iter()
            .map(|window| (window.range, self.name_of(window.device)))
    }

    /// A guest `in` of `width` at `port`; the result has only the low `width` bits set.
    pub fn read(&self, port: u16, width: AccessWidth) -> Result<u32, BusError> {
        let (device, offset) = self.route(port, width)?;
        let device = self
            .devices
            .get(device)
            .ok_or(BusError::PortUnclaimed { port })?;
        match device.read(offset, width) {
            Ok(value) => Ok(value & Self::open_bus(width)),
            Err(error) => Err(port_error(device.as_ref(), port, error)),
        }
    }

    /// A guest `out` of the low `width` bits of `value` at `port`.
    pub fn write(&self, port: u16, width: AccessWidth, value: u32) -> Result<(), BusError> {
        let (device, offset) = self.route(port, width)?;
        let device = self
            .devices
            .get(device)
            .ok_or(BusError::PortUnclaimed { port })?;
        device
            .write(offset, width, value & Self::open_bus(width))
            .map_err(|error| port_error(device.as_ref(), port, error))
    }

    /// A guest `in` answered the way a PC answers it: the device's value, or all
    /// ones (masked to `width`) when [`PortBus::read`] refuses the access: no device
    /// claims the port, the access runs past a device's window, or the device
    /// refuses it. Call [`PortBus::read`] to learn why.
    pub fn read_or_open(&self, port: u16, width: AccessWidth) -> u32 {
        self.read(port, width)
            .unwrap_or_else(|_| Self::open_bus(width))
    }

    /// A guest `out` answered the way a PC answers it: a write [`PortBus::write`]
    /// refuses is dropped.
    pub fn write_or_drop(&self, port: u16, width: AccessWidth, value: u32) {
        let _ = self.write(port, width, value);
    }

    /// The name of device `index`.
    fn name_of(&self, index: usize) -> &str {
        self.devices.get(index).map_or("?", |device| device.name())
    }

    /// Index of the window that contains `port`.
    fn find(&self, port: u16) -> Option<usize> {
        let after = self
            .windows
            .partition_point(|window| window.range.base <= port);
        let index = after.checked_sub(1)?;
        self.windows
            .get(index)
            .filter(|window| window.range.contains(port))
            .map(|_| index)
    }

    /// The device that takes an access of `width` at `port`, and its port offset.
    fn route(&self, port: u16, width: AccessWidth) -> Result<(usize, u16), BusError> {
        if width == AccessWidth::Double {
            return Err(BusError::PortBadWidth { port, width });
        }
        let window = self
            .find(port)
            .and_then(|index| self.windows.get(index))
            .ok_or(BusError::PortUnclaimed { port })?;
        if !window.range.contains_span(port, width.bytes() as u32) {
            return Err(BusError::PortStraddle {
                port,
                width,
                device: self.name_of(window.device).to_string(),
            });
        }
        let offset = window
            .offset
            .wrapping_add(port.wrapping_sub(window.range.base));
        Ok((window.device, offset))
    }
}

/// Wraps a device's error with its name and the accessed port.
fn port_error(device: &dyn SharedPort, port: u16, error: DeviceError) -> BusError {
    BusError::PortDevice {
        device: device.name().to_string(),
        port,
        error,
    }
}
