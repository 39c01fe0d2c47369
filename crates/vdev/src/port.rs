//! x86 port I/O devices: the traits a device implements, the port windows it
//! answers, an adapter that gives a time-dependent device its clock, and one that
//! puts a memory-mapped register model on ports.

use core::fmt;

use crate::{AccessWidth, DeviceError, MmioDevice, SharedMmio, SharedPort};

/// A window of consecutive I/O ports, `base` up to `base + count - 1`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct PortRange {
    /// The first port.
    pub base: u16,
    /// Number of ports.
    pub count: u16,
}

impl PortRange {
    /// The `count` ports from `base`.
    pub const fn new(base: u16, count: u16) -> Self {
        Self { base, count }
    }

    /// One past the last port; up to 0x1_0000, so it never wraps.
    pub const fn end(self) -> u32 {
        self.base as u32 + self.count as u32
    }

    /// Whether `port` is in the window.
    pub const fn contains(self, port: u16) -> bool {
        port >= self.base && (port as u32) < self.end()
    }

    /// Whether the `len` ports from `port` all lie in the window.
    pub const fn contains_span(self, port: u16, len: u32) -> bool {
        self.contains(port) && port as u32 + len <= self.end()
    }

    /// Whether the two windows share a port.
    pub const fn overlaps(self, other: Self) -> bool {
        (self.base as u32) < other.end() && (other.base as u32) < self.end()
    }

    /// Whether the window has ports and stays below port 0x1_0000.
    pub const fn is_valid(self) -> bool {
        self.count != 0 && self.end() <= 0x1_0000
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port {:#x}+{:#x}", self.base, self.count)
    }
}

/// A device a guest reaches with `in` and `out` instructions.
///
/// The device sees offsets from the start of its ports; a device on several
/// windows (see [`crate::PortBus::insert_windows`]) sees them one after the other.
/// A type that is also an [`crate::MmioDevice`] has two `read` methods: call them
/// as `PortDevice::read(&mut device, ..)` where both traits are in scope.
pub trait PortDevice: Send {
    /// A short name for messages, such as `"pic8259"`.
    fn name(&self) -> &'static str;

    /// A read of `width` at `port_offset`; only the low `width` bits count.
    fn read(&mut self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError>;

    /// A write of the low `width` bits of `value` at `port_offset`.
    fn write(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError>;
}

/// A port device whose registers depend on the time of the access (a timer, a
/// clock): the caller says what time it is, in nanoseconds of the VM's clock.
pub trait TimedPortDevice: Send {
    /// A short name for messages, such as `"pit8254"`.
    fn name(&self) -> &'static str;

    /// A read of `width` at `port_offset` at time `now_ns`.
    fn read_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        now_ns: u64,
    ) -> Result<u32, DeviceError>;

    /// A write of the low `width` bits of `value` at `port_offset` at time `now_ns`.
    fn write_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
        now_ns: u64,
    ) -> Result<(), DeviceError>;
}

/// A [`TimedPortDevice`] with the clock it reads on each access, so that it can go
/// on a [`crate::PortBus`] as a [`PortDevice`].
pub struct Clocked<D, C> {
    /// The device.
    pub device: D,
    clock: C,
}

impl<D: TimedPortDevice, C: FnMut() -> u64 + Send> Clocked<D, C> {
    /// `device` reading the time in nanoseconds from `clock`.
    pub fn new(device: D, clock: C) -> Self {
        Self { device, clock }
    }
}

impl<D: TimedPortDevice, C: FnMut() -> u64 + Send> PortDevice for Clocked<D, C> {
    fn name(&self) -> &'static str {
        self.device.name()
    }

    fn read(&mut self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        let now = (self.clock)();
        self.device.read_at(port_offset, width, now)
    }

    fn write(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        let now = (self.clock)();
        self.device.write_at(port_offset, width, value, now)
    }
}

/// Refuses anything but a byte access to one of a device's `count` ports.
pub(crate) fn check_byte_port(
    port_offset: u16,
    width: AccessWidth,
    count: u16,
) -> Result<(), DeviceError> {
    let offset = u64::from(port_offset);
    if width != AccessWidth::Byte {
        return Err(DeviceError::BadWidth { offset, width });
    }
    if port_offset >= count {
        return Err(DeviceError::NoRegister { offset });
    }
    Ok(())
}

/// A register model written for MMIO reached through I/O ports: port offsets are
/// its register offsets (a 16550 is the same chip on a PC's ports, COM1 at
/// [`crate::Uart16550::COM1`], as on a board's bus).
pub struct OnPorts<D>(pub D);

impl<D: MmioDevice> PortDevice for OnPorts<D> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn read(&mut self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        self.0
            .read(port_offset.into(), width)
            .map(|value| value as u32)
    }

    fn write(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        self.0.write(port_offset.into(), width, value.into())
    }
}

impl<D: SharedMmio> SharedPort for OnPorts<D> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn read(&self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        self.0
            .read(port_offset.into(), width)
            .map(|value| value as u32)
    }

    fn write(&self, port_offset: u16, width: AccessWidth, value: u32) -> Result<(), DeviceError> {
        self.0.write(port_offset.into(), width, value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let com1 = PortRange::new(0x3f8, 8);
        assert_eq!(com1.end(), 0x400);
        assert!(com1.contains(0x3f8) && com1.contains(0x3ff));
        assert!(!com1.contains(0x3f7) && !com1.contains(0x400));
        assert!(com1.contains_span(0x3fc, 4));
        assert!(!com1.contains_span(0x3fd, 4));
        assert!(!com1.contains_span(0x3f0, 1));
        assert!(com1.overlaps(PortRange::new(0x3ff, 1)));
        assert!(com1.overlaps(PortRange::new(0, 0xffff)));
        assert!(!com1.overlaps(PortRange::new(0x400, 8)));
        assert!(!com1.overlaps(PortRange::new(0x3f0, 8)));
        let top = PortRange::new(0xffff, 1);
        assert_eq!(top.end(), 0x1_0000);
        assert!(top.is_valid() && top.contains(0xffff));
        assert!(!PortRange::new(0xffff, 2).is_valid());
        assert!(!PortRange::new(0x80, 0).is_valid());
        assert!(PortRange::new(0, 0xffff).is_valid());
        assert_eq!(com1.to_string(), "port 0x3f8+0x8");
    }

    #[test]
    fn byte_port_checks() {
        assert_eq!(check_byte_port(1, AccessWidth::Byte, 2), Ok(()));
        assert_eq!(
            check_byte_port(2, AccessWidth::Byte, 2),
            Err(DeviceError::NoRegister { offset: 2 })
        );
        assert_eq!(
            check_byte_port(0, AccessWidth::Half, 2),
            Err(DeviceError::BadWidth {
                offset: 0,
                width: AccessWidth::Half
            })
        );
    }
}
