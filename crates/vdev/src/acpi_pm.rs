//! The ACPI power-management timer and the PM1 event block of a PC's chipset
//! (ACPI Specification 6.5, sections 4.8.3.1 "PM1 Event Grouping" and 4.8.3.3
//! "Power Management Timer"); the PM1 control register is [`crate::AcpiPmControl`].
//!
//! [`PmTimer`]: one read-only 32-bit register counting at 3.579545 MHz from the
//! VM's clock (the FADT says TMR_VAL_EXT: all 32 bits count). [`PmEvent`]: PM1_STS
//! (offset 0, two bytes) and PM1_EN (offset 2, two bytes). No event source is
//! modelled (no power or sleep button, no RTC alarm, no timer-carry interrupt), so
//! PM1_STS reads 0 and writing ones to clear it changes nothing; PM1_EN keeps what
//! is written. Both take 8-, 16- and 32-bit accesses within their registers.

use crate::{AccessWidth, DeviceError, PortDevice, PortRange, TimedPortDevice};

#[cfg(test)]
mod tests;

/// The PM timer's rate.
const PM_TIMER_HZ: u128 = 3_579_545;
/// Nanoseconds per second.
const NS_PER_SECOND: u128 = 1_000_000_000;

/// The ACPI PM timer: a 32-bit count of 3.579545 MHz ticks since VM time 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct PmTimer;

impl PmTimer {
    /// Its port on QEMU's q35 chipset (the ACPI block at 0x600 plus 8).
    pub const PORTS: PortRange = PortRange::new(0x608, 4);

    /// The count at VM time `now_ns`.
    pub fn count(now_ns: u64) -> u32 {
        (u128::from(now_ns) * PM_TIMER_HZ / NS_PER_SECOND) as u32
    }
}

impl TimedPortDevice for PmTimer {
    fn name(&self) -> &'static str {
        "acpi-pm-timer"
    }

    fn read_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        now_ns: u64,
    ) -> Result<u32, DeviceError> {
        let shift = within(port_offset, width, 4)?;
        Ok((Self::count(now_ns) >> shift) & width.mask() as u32)
    }

    fn write_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        _value: u32,
        _now_ns: u64,
    ) -> Result<(), DeviceError> {
        within(port_offset, width, 4)?;
        Err(DeviceError::ReadOnly {
            offset: u64::from(port_offset),
        })
    }
}

/// The PM1 event block: PM1_STS and PM1_EN.
#[derive(Clone, Copy, Debug, Default)]
pub struct PmEvent {
    /// PM1_EN as written.
    enable: u16,
}

impl PmEvent {
    /// Its ports on QEMU's q35 chipset (the ACPI block at 0x600).
    pub const PORTS: PortRange = PortRange::new(0x600, 4);

    /// The block at reset: nothing enabled.
    pub fn new() -> Self {
        Self::default()
    }

    /// The 32 bits of the block: PM1_STS (0, no event) below PM1_EN.
    fn block(&self) -> u32 {
        u32::from(self.enable) << 16
    }
}

impl PortDevice for PmEvent {
    fn name(&self) -> &'static str {
        "acpi-pm1-event"
    }

    fn read(&mut self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        let shift = within(port_offset, width, 4)?;
        Ok((self.block() >> shift) & width.mask() as u32)
    }

    fn write(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        let shift = within(port_offset, width, 4)?;
        let mask = (width.mask() as u32) << shift;
        // Only PM1_EN's bits (16-31) keep a value; PM1_STS's are write-one-to-clear
        // status bits no event sets.
        let block = (self.block() & !mask) | ((value << shift) & mask);
        self.enable = (block >> 16) as u16;
        Ok(())
    }
}

/// The bit shift of an access of `width` at `port_offset` within a `size`-byte
/// register block, or the error for one that leaves it or is not aligned to its
/// width.
fn within(port_offset: u16, width: AccessWidth, size: u16) -> Result<u32, DeviceError> {
    let bytes = width.bytes() as u16;
    let offset = u64::from(port_offset);
    if width == AccessWidth::Double || port_offset.saturating_add(bytes) > size {
        return Err(DeviceError::BadWidth { offset, width });
    }
    if !port_offset.is_multiple_of(bytes) {
        return Err(DeviceError::Unaligned { offset, width });
    }
    Ok(u32::from(port_offset) * 8)
}
