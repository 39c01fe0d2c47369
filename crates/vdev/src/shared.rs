//! Devices as a VM's buses hold them: every vCPU of the VM reaches the same device at
//! once, so an access takes `&self` and the device locks only its own state (the bus
//! itself takes no lock). A register model ([`MmioDevice`], [`PortDevice`], which take
//! `&mut self`) goes on a bus behind a lock of its own: [`Locked`].

use spin::Mutex;

use crate::{AccessWidth, DeviceError, MmioDevice, PortDevice};

/// A device on an [`crate::MmioBus`]: offsets from its base, shared by the VM's vCPUs.
pub trait SharedMmio: Send + Sync {
    /// A short name for messages, such as `"pl011"`.
    fn name(&self) -> &'static str;

    /// A read of `width` at `offset` from the device's base.
    fn read(&self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError>;

    /// A write of the low `width` bits of `value` at `offset` from the device's base.
    fn write(&self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError>;
}

/// A device on a [`crate::PortBus`]: offsets from its first port, shared by the VM's
/// vCPUs.
pub trait SharedPort: Send + Sync {
    /// A short name for messages, such as `"pic8259"`.
    fn name(&self) -> &'static str;

    /// A read of `width` at `port_offset`; only the low `width` bits count.
    fn read(&self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError>;

    /// A write of the low `width` bits of `value` at `port_offset`.
    fn write(&self, port_offset: u16, width: AccessWidth, value: u32) -> Result<(), DeviceError>;
}

/// A register model behind its own lock, so that it can go on a bus.
pub struct Locked<D> {
    name: &'static str,
    device: Mutex<D>,
}

impl<D> Locked<D> {
    /// `device`, which names itself `name`.
    fn named(name: &'static str, device: D) -> Self {
        Self {
            name,
            device: Mutex::new(device),
        }
    }

    /// An MMIO register model behind its own lock.
    pub fn mmio(device: D) -> Self
    where
        D: MmioDevice,
    {
        Self::named(device.name(), device)
    }

    /// A port register model behind its own lock.
    pub fn port(device: D) -> Self
    where
        D: PortDevice,
    {
        Self::named(device.name(), device)
    }
}

impl<D: MmioDevice> SharedMmio for Locked<D> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn read(&self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        self.device.lock().read(offset, width)
    }

    fn write(&self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        self.device.lock().write(offset, width, value)
    }
}

impl<D: PortDevice> SharedPort for Locked<D> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn read(&self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        self.device.lock().read(port_offset, width)
    }

    fn write(&self, port_offset: u16, width: AccessWidth, value: u32) -> Result<(), DeviceError> {
        self.device.lock().write(port_offset, width, value)
    }
}
