//! The ports a PC guest powers off and resets through, without ACPI tables: the
//! PM1a control register of the chipset's ACPI block (SLP_EN with a sleep type),
//! the reset control register at 0xCF9, and the keyboard controller's pulse-reset
//! command (0xFE to port 0x64), the path Linux takes by default to reboot. Each
//! device only latches the request in a shared [`PowerLatch`]; the VM layer acts on
//! it after the access.

use crate::{AccessWidth, DeviceError, PortDevice};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU8, Ordering};

/// What a guest asked of its VM's power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerRequest {
    /// Power the VM off.
    Off,
    /// Reset the VM.
    Reset,
}

/// A power request, set by a device and taken by the VM layer.
#[derive(Debug, Default)]
pub struct PowerLatch(AtomicU8);

impl PowerLatch {
    const NONE: u8 = 0;
    const OFF: u8 = 1;
    const RESET: u8 = 2;

    /// Records `request` (a later one replaces an earlier one not yet taken).
    pub fn request(&self, request: PowerRequest) {
        let value = match request {
            PowerRequest::Off => Self::OFF,
            PowerRequest::Reset => Self::RESET,
        };
        self.0.store(value, Ordering::Release);
    }

    /// The request made since the last call, if any.
    pub fn take(&self) -> Option<PowerRequest> {
        match self.0.swap(Self::NONE, Ordering::AcqRel) {
            Self::OFF => Some(PowerRequest::Off),
            Self::RESET => Some(PowerRequest::Reset),
            _ => None,
        }
    }
}

/// PM1a_CNT: SLP_EN (bit 13) with SLP_TYP (bits 12:10) 0 or 5, the S5 (soft off)
/// values firmware tables use, powers off; other sleep states are not offered and
/// the write is ignored. Reads give the last value written without SLP_EN.
pub struct AcpiPmControl {
    latch: Arc<PowerLatch>,
    value: u16,
}

/// SLP_EN and the SLP_TYP field of PM1a_CNT.
const SLP_EN: u16 = 1 << 13;
const SLP_TYP_SHIFT: u16 = 10;

impl AcpiPmControl {
    /// The register (two ports), latching into `latch`.
    pub fn new(latch: Arc<PowerLatch>) -> Self {
        Self { latch, value: 0 }
    }
}

impl PortDevice for AcpiPmControl {
    fn name(&self) -> &'static str {
        "acpi-pm1a-control"
    }

    fn read(&mut self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        let shift = 8 * u32::from(port_offset);
        Ok((u32::from(self.value) >> shift) & width.mask() as u32)
    }

    fn write(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        if port_offset != 0 || width == AccessWidth::Byte {
            return Err(DeviceError::BadWidth {
                offset: port_offset.into(),
                width,
            });
        }
        let value = value as u16;
        let sleep_type = (value >> SLP_TYP_SHIFT) & 0b111;
        if value & SLP_EN != 0 && matches!(sleep_type, 0 | 5) {
            self.latch.request(PowerRequest::Off);
        }
        self.value = value & !SLP_EN;
        Ok(())
    }
}

/// The reset control register (port 0xCF9): writing RST_CPU (bit 2) resets.
pub struct ResetControl {
    latch: Arc<PowerLatch>,
    value: u8,
}

impl ResetControl {
    /// The register, latching into `latch`.
    pub fn new(latch: Arc<PowerLatch>) -> Self {
        Self { latch, value: 0 }
    }
}

impl PortDevice for ResetControl {
    fn name(&self) -> &'static str {
        "reset-control"
    }

    fn read(&mut self, _port_offset: u16, _width: AccessWidth) -> Result<u32, DeviceError> {
        Ok(u32::from(self.value))
    }

    fn write(
        &mut self,
        _port_offset: u16,
        _width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        if value & (1 << 2) != 0 {
            self.latch.request(PowerRequest::Reset);
        }
        self.value = value as u8 & !(1 << 2);
        Ok(())
    }
}

/// The keyboard controller's command port (0x64), for its one command that matters
/// here: 0xFE pulses the reset line. Its status reads 0 (no data, ready for a
/// command), so a guest waiting to send a command goes on at once.
pub struct KeyboardReset {
    latch: Arc<PowerLatch>,
}

impl KeyboardReset {
    /// The command port, latching into `latch`.
    pub fn new(latch: Arc<PowerLatch>) -> Self {
        Self { latch }
    }
}

impl PortDevice for KeyboardReset {
    fn name(&self) -> &'static str {
        "keyboard-reset"
    }

    fn read(&mut self, _port_offset: u16, _width: AccessWidth) -> Result<u32, DeviceError> {
        Ok(0)
    }

    fn write(
        &mut self,
        _port_offset: u16,
        _width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        if value as u8 == 0xfe {
            self.latch.request(PowerRequest::Reset);
        }
        Ok(())
    }
}
