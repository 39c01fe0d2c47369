//! Emulated devices and the MMIO and port buses that route a guest's trapped
//! accesses to them.
//!
//! A register model implements [`MmioDevice`] and sees offsets from its own base; the
//! [`MmioBus`] holds the devices of one VM, keyed by guest-physical range, fixed when
//! the VM is created. x86 port I/O models implement [`PortDevice`] (or
//! [`TimedPortDevice`], when their registers depend on the time) and go on a
//! [`PortBus`], keyed by port window. The buses take no lock: the vCPUs of a VM reach
//! a device at once through [`SharedMmio`] and [`SharedPort`] (`&self`), and each
//! device locks only its own state; a model goes on a bus behind its own lock,
//! [`Locked`].
//! Every guest mistake (an unmapped address, a bad width, a write to a read-only
//! register) comes back as an error value, never as a panic. Each device is one
//! file: [`Pl011`], [`Uart16550`] and [`Plic`]; for x86 PCs the [`Pic8259`] pair,
//! the [`Pit8254`] timer, the [`Cmos`] real-time clock, the ACPI [`PmTimer`] and
//! [`PmEvent`] block, the [`IoApic`] and each
//! vCPU's [`LocalApic`] (driven by the hypervisor's calls, not on a bus); the
//! [`DoorbellWindow`] of a region VMs share. The GIC distributor goes beside them.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

extern crate alloc;

mod acpi_pm;
mod bus;
mod cmos;
mod doorbell;
mod ioapic;
mod local_apic;
mod pic8259;
mod pit8254;
mod pl011;
mod plic;
mod port;
mod port_bus;
mod power;
mod shared;
mod uart16550;

use core::fmt;

pub use acpi_pm::{PmEvent, PmTimer};
pub use bus::{BusError, MmioBus};
pub use cmos::Cmos;
pub use doorbell::{DOORBELL_ID, DoorbellEnd, DoorbellGroup, DoorbellSignal, DoorbellWindow};
pub use ioapic::{Delivery, DeliveryMode, IoApic};
pub use local_apic::{
    ApicError, ApicMode, Destination, Effect, IcrMode, Ipi, LintMode, LocalApic, LogicalId,
};
pub use pic8259::Pic8259;
pub use pit8254::Pit8254;
pub use pl011::Pl011;
pub use plic::Plic;
pub use port::{Clocked, OnPorts, PortDevice, PortRange, TimedPortDevice};
pub use port_bus::PortBus;
pub use power::{AcpiPmControl, KeyboardReset, PowerLatch, PowerRequest, ResetControl};
pub use shared::{Locked, SharedMmio, SharedPort};
pub use uart16550::Uart16550;

/// Size of one access.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AccessWidth {
    /// 8 bits.
    Byte,
    /// 16 bits.
    Half,
    /// 32 bits.
    Word,
    /// 64 bits.
    Double,
}

impl AccessWidth {
    /// Number of bytes accessed.
    pub const fn bytes(self) -> u64 {
        match self {
            Self::Byte => 1,
            Self::Half => 2,
            Self::Word => 4,
            Self::Double => 8,
        }
    }

    /// The width of an access of `bytes` bytes, if there is one.
    pub const fn from_bytes(bytes: u64) -> Option<Self> {
        match bytes {
            1 => Some(Self::Byte),
            2 => Some(Self::Half),
            4 => Some(Self::Word),
            8 => Some(Self::Double),
            _ => None,
        }
    }

    /// A mask of the bits an access of this width carries.
    pub const fn mask(self) -> u64 {
        match self {
            Self::Double => u64::MAX,
            _ => (1u64 << (self.bytes() * 8)) - 1,
        }
    }
}

impl fmt::Display for AccessWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-bit", self.bytes() * 8)
    }
}

/// Why a device refused an access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeviceError {
    /// No register at this offset.
    NoRegister {
        /// Offset from the device's base.
        offset: u64,
    },
    /// The register cannot be accessed with this width.
    BadWidth {
        /// Offset from the device's base.
        offset: u64,
        /// Width of the refused access.
        width: AccessWidth,
    },
    /// The access does not start on a register boundary.
    Unaligned {
        /// Offset from the device's base.
        offset: u64,
        /// Width of the refused access.
        width: AccessWidth,
    },
    /// A write to a register that can only be read.
    ReadOnly {
        /// Offset from the device's base.
        offset: u64,
    },
    /// A read of a register that can only be written.
    WriteOnly {
        /// Offset from the device's base.
        offset: u64,
    },
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRegister { offset } => write!(f, "no register at offset {offset:#x}"),
            Self::BadWidth { offset, width } => {
                write!(f, "{width} access not supported at offset {offset:#x}")
            }
            Self::Unaligned { offset, width } => {
                write!(
                    f,
                    "{width} access at offset {offset:#x} is not register aligned"
                )
            }
            Self::ReadOnly { offset } => write!(f, "register at offset {offset:#x} is read-only"),
            Self::WriteOnly { offset } => {
                write!(f, "register at offset {offset:#x} is write-only")
            }
        }
    }
}

impl core::error::Error for DeviceError {}

/// A device a guest reaches through loads and stores to guest-physical memory.
pub trait MmioDevice: Send {
    /// A short name for messages, such as `"pl011"`.
    fn name(&self) -> &'static str;

    /// A read of `width` at `offset` from the device's base.
    fn read(&mut self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError>;

    /// A write of the low `width` bits of `value` at `offset` from the device's base.
    fn write(&mut self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError>;
}

/// An emulated serial port a VM's console is: an MMIO device that takes typed input
/// and drives one level-sensitive interrupt line.
pub trait SerialPort: MmioDevice {
    /// Queues a typed byte for the guest (dropped as an overrun when full).
    fn push_input(&mut self, byte: u8);
    /// Whether another typed byte fits.
    fn can_take_input(&self) -> bool;
    /// Takes the oldest typed byte the guest has not read, as a read of the receive
    /// data register would (for firmware console calls that share the port's input).
    fn take_input(&mut self) -> Option<u8>;
    /// Whether the interrupt line is asserted.
    fn interrupt_pending(&self) -> bool;
}

/// A VM's console as the VM layer reaches it: firmware calls (the SBI debug console)
/// write and read it with the same output and typed input as the VM's console UART,
/// and the run loop shows a partial line when the vCPU waits.
pub trait FirmwareConsole: Send + Sync {
    /// Writes `bytes` to the console.
    fn write(&self, bytes: &[u8]);
    /// Takes up to `buf.len()` typed bytes into `buf`; returns how many (0 when
    /// nothing was typed).
    fn read(&self, buf: &mut [u8]) -> usize;
    /// Shows output kept for a line not finished yet (the guest waits, perhaps at a
    /// prompt).
    fn flush(&self);
    /// Whether output of a line not finished yet is kept (what [`Self::flush`] would
    /// show); cheap, taking no lock.
    fn holds_partial_line(&self) -> bool;
}

/// Where a console device's output goes (the hypervisor's console, a buffer, ...).
pub trait CharSink: Send {
    /// Takes bytes the guest sent.
    fn write_bytes(&mut self, bytes: &[u8]);
}

#[cfg(test)]
mod power_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        for (bytes, width) in [
            (1, AccessWidth::Byte),
            (2, AccessWidth::Half),
            (4, AccessWidth::Word),
            (8, AccessWidth::Double),
        ] {
            assert_eq!(AccessWidth::from_bytes(bytes), Some(width));
            assert_eq!(width.bytes(), bytes);
        }
        for bytes in [0, 3, 5, 16, u64::MAX] {
            assert_eq!(AccessWidth::from_bytes(bytes), None);
        }
        assert_eq!(AccessWidth::Byte.mask(), 0xff);
        assert_eq!(AccessWidth::Half.mask(), 0xffff);
        assert_eq!(AccessWidth::Word.mask(), 0xffff_ffff);
        assert_eq!(AccessWidth::Double.mask(), u64::MAX);
        assert_eq!(AccessWidth::Half.to_string(), "16-bit");
    }

    #[test]
    fn device_error_messages() {
        let err = DeviceError::BadWidth {
            offset: 0x18,
            width: AccessWidth::Double,
        };
        assert_eq!(
            err.to_string(),
            "64-bit access not supported at offset 0x18"
        );
        assert_eq!(
            DeviceError::ReadOnly { offset: 0xfe0 }.to_string(),
            "register at offset 0xfe0 is read-only"
        );
    }
}
