//! The MMIO bus of one VM: devices keyed by guest-physical range, found by binary search.
//! [`BusError`] also names the refusals of the port bus, [`crate::PortBus`].

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use tessera_addr::{GuestPhysAddr, GuestRange};

use crate::{AccessWidth, DeviceError, PortRange, SharedMmio};

/// Why the bus refused a device or an access.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum BusError {
    /// The new device's range overlaps a device already on the bus.
    Overlap {
        /// Name of the device being inserted.
        device: String,
        /// Range of the device being inserted.
        range: GuestRange,
        /// Name of the device already there.
        existing: String,
        /// Range of the device already there.
        existing_range: GuestRange,
    },
    /// The new device's range is empty or wraps around the address space.
    BadRange {
        /// Name of the device being inserted.
        device: String,
        /// The refused range.
        range: GuestRange,
    },
    /// No device covers the address.
    Unmapped {
        /// The accessed address.
        gpa: GuestPhysAddr,
    },
    /// The access starts inside a device and runs past its end.
    Straddle {
        /// The accessed address.
        gpa: GuestPhysAddr,
        /// Width of the access.
        width: AccessWidth,
        /// Name of the device the access starts in.
        device: String,
    },
    /// The device refused the access.
    Device {
        /// Name of the device.
        device: String,
        /// The accessed address.
        gpa: GuestPhysAddr,
        /// What the device said.
        error: DeviceError,
    },
    /// The new port device's window overlaps a device already on the port bus.
    PortOverlap {
        /// Name of the device being inserted.
        device: String,
        /// The window being inserted.
        range: PortRange,
        /// Name of the device already there.
        existing: String,
        /// Window of the device already there.
        existing_range: PortRange,
    },
    /// The new port device's window is empty or runs past port 0xffff (or the
    /// device has no window at all: then the range is empty).
    PortBadRange {
        /// Name of the device being inserted.
        device: String,
        /// The refused window.
        range: PortRange,
    },
    /// No device claims the port: the guest reads all ones and its writes are lost.
    PortUnclaimed {
        /// The accessed port.
        port: u16,
    },
    /// The port access starts inside a device's window and runs past its end.
    PortStraddle {
        /// The accessed port.
        port: u16,
        /// Width of the access.
        width: AccessWidth,
        /// Name of the device the access starts in.
        device: String,
    },
    /// A port access of a width x86 does not have (64 bits).
    PortBadWidth {
        /// The accessed port.
        port: u16,
        /// Width of the access.
        width: AccessWidth,
    },
    /// The port device refused the access.
    PortDevice {
        /// Name of the device.
        device: String,
        /// The accessed port.
        port: u16,
        /// What the device said.
        error: DeviceError,
    },
}

impl BusError {
    /// Whether nothing answers the address or port ([`BusError::Unmapped`],
    /// [`BusError::PortUnclaimed`]), rather than a device refusing the access.
    pub fn is_unclaimed(&self) -> bool {
        matches!(self, Self::Unmapped { .. } | Self::PortUnclaimed { .. })
    }
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overlap {
                device,
                range,
                existing,
                existing_range,
            } => write!(
                f,
                "device {device} at {}+{:#x} overlaps device {existing} at {}+{:#x}",
                range.start, range.size, existing_range.start, existing_range.size
            ),
            Self::BadRange { device, range } => write!(
                f,
                "device {device} has an empty or wrapping range {}+{:#x}",
                range.start, range.size
            ),
            Self::Unmapped { gpa } => write!(f, "no device at {gpa}"),
            Self::Straddle { gpa, width, device } => {
                write!(
                    f,
                    "{width} access at {gpa} runs past the end of device {device}"
                )
            }
            Self::Device { device, gpa, error } => write!(f, "device {device} at {gpa}: {error}"),
            Self::PortOverlap {
                device,
                range,
                existing,
                existing_range,
            } => write!(
                f,
                "device {device} at {range} overlaps device {existing} at {existing_range}"
            ),
            Self::PortBadRange { device, range } => {
                write!(f, "device {device} has an empty or wrapping window {range}")
            }
            Self::PortUnclaimed { port } => write!(f, "no device at port {port:#x}"),
            Self::PortStraddle {
                port,
                width,
                device,
            } => write!(
                f,
                "{width} access at port {port:#x} runs past the end of device {device}"
            ),
            Self::PortBadWidth { port, width } => {
                write!(
                    f,
                    "{width} access at port {port:#x}: x86 has no such port access"
                )
            }
            Self::PortDevice {
                device,
                port,
                error,
            } => write!(f, "device {device} at port {port:#x}: {error}"),
        }
    }
}

impl core::error::Error for BusError {}

/// One device on the bus.
struct Slot {
    range: GuestRange,
    device: Box<dyn SharedMmio>,
}

/// The emulated MMIO devices of one VM, sorted by base address, never overlapping.
/// Accesses take `&self`: the devices lock what they need themselves.
#[derive(Default)]
pub struct MmioBus {
    slots: Vec<Slot>,
}

impl MmioBus {
    /// An empty bus.
    pub const fn new() -> Self {
        Self { slots: Vec::new() }
    }

    /// Adds `device` at `range`; refuses empty, wrapping and overlapping ranges.
    pub fn insert(
        &mut self,
        range: GuestRange,
        device: Box<dyn SharedMmio>,
    ) -> Result<(), BusError> {
        if range.size == 0 || range.end().is_none() {
            return Err(BusError::BadRange {
                device: device.name().to_string(),
                range,
            });
        }
        let position = self
            .slots
            .partition_point(|slot| slot.range.start < range.start);
        let neighbours = [position.checked_sub(1), Some(position)];
        for slot in neighbours
            .into_iter()
            .flatten()
            .filter_map(|i| self.slots.get(i))
        {
            if slot.range.overlaps(&range) {
                return Err(BusError::Overlap {
                    device: device.name().to_string(),
                    range,
                    existing: slot.device.name().to_string(),
                    existing_range: slot.range,
                });
            }
        }
        self.slots.insert(position, Slot { range, device });
        Ok(())
    }

    /// Whether a device covers `gpa`.
    pub fn contains(&self, gpa: GuestPhysAddr) -> bool {
        self.find(gpa).is_some()
    }

    /// The devices on the bus, by ascending address: range and name.
    pub fn devices(&self) -> impl Iterator<Item = (GuestRange, &str)> {
        self.slots
            .iter()
            .map(|slot| (slot.range, slot.device.name()))
    }

    /// A guest read of `width` at `gpa`; the result has only the low `width` bits set.
    pub fn read(&self, gpa: GuestPhysAddr, width: AccessWidth) -> Result<u64, BusError> {
        let (slot, offset) = self.slot_for(gpa, width)?;
        match slot.device.read(offset, width) {
            Ok(value) => Ok(value & width.mask()),
            Err(error) => Err(device_error(slot, gpa, error)),
        }
    }

    /// A guest write of the low `width` bits of `value` at `gpa`.
    pub fn write(
        &self,
        gpa: GuestPhysAddr,
        width: AccessWidth,
        value: u64,
    ) -> Result<(), BusError> {
        let (slot, offset) = self.slot_for(gpa, width)?;
        slot.device
            .write(offset, width, value & width.mask())
            .map_err(|error| device_error(slot, gpa, error))
    }

    /// Index of the slot whose range contains `gpa`.
    fn find(&self, gpa: GuestPhysAddr) -> Option<usize> {
        let after = self.slots.partition_point(|slot| slot.range.start <= gpa);
        let index = after.checked_sub(1)?;
        self.slots
            .get(index)
            .filter(|slot| slot.range.contains(gpa))
            .map(|_| index)
    }

    /// The slot that takes an access of `width` at `gpa`, and the offset into it.
    fn slot_for(&self, gpa: GuestPhysAddr, width: AccessWidth) -> Result<(&Slot, u64), BusError> {
        let index = self.find(gpa).ok_or(BusError::Unmapped { gpa })?;
        let slot = self.slots.get(index).ok_or(BusError::Unmapped { gpa })?;
        if !slot.range.contains_span(gpa, width.bytes()) {
            let device = slot.device.name().to_string();
            return Err(BusError::Straddle { gpa, width, device });
        }
        let offset = gpa
            .offset_from(slot.range.start)
            .ok_or(BusError::Unmapped { gpa })?;
        Ok((slot, offset))
    }
}

/// Wraps a device's error with its name and the accessed address.
fn device_error(slot: &Slot, gpa: GuestPhysAddr, error: DeviceError) -> BusError {
    BusError::Device {
        device: slot.device.name().to_string(),
        gpa,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Locked, MmioDevice};

    /// A device of 0x100 bytes: one 32-bit register at 0 that remembers writes,
    /// offset 4 reads its own offset, anything else has no register.
    struct Scratch {
        name: &'static str,
        value: u64,
    }

    impl MmioDevice for Scratch {
        fn name(&self) -> &'static str {
            self.name
        }
        fn read(&mut self, offset: u64, _width: AccessWidth) -> Result<u64, DeviceError> {
            match offset {
                0 => Ok(self.value),
                4 => Ok(u64::MAX),
                _ => Err(DeviceError::NoRegister { offset }),
            }
        }
        fn write(
            &mut self,
            offset: u64,
            _width: AccessWidth,
            value: u64,
        ) -> Result<(), DeviceError> {
            match offset {
                0 => {
                    self.value = value;
                    Ok(())
                }
                _ => Err(DeviceError::ReadOnly { offset }),
            }
        }
    }

    fn scratch(name: &'static str) -> Box<dyn SharedMmio> {
        Box::new(Locked::mmio(Scratch { name, value: 0 }))
    }

    fn range(start: u64, size: u64) -> GuestRange {
        GuestRange::new(GuestPhysAddr::new(start), size)
    }

    fn gpa(raw: u64) -> GuestPhysAddr {
        GuestPhysAddr::new(raw)
    }

    fn three_devices() -> MmioBus {
        let mut bus = MmioBus::new();
        // Inserted out of order on purpose.
        bus.insert(range(0x3000, 0x100), scratch("c")).unwrap();
        bus.insert(range(0x1000, 0x100), scratch("a")).unwrap();
        bus.insert(range(0x2000, 0x100), scratch("b")).unwrap();
        bus
    }

    #[test]
    fn devices_are_kept_sorted() {
        let bus = three_devices();
        let names: Vec<_> = bus
            .devices()
            .map(|(r, n)| (r.start.raw(), n.to_string()))
            .collect();
        assert_eq!(
            names,
            [
                (0x1000, "a".into()),
                (0x2000, "b".into()),
                (0x3000, "c".into())
            ]
        );
    }

    #[test]
    fn accesses_reach_the_right_device() {
        let bus = three_devices();
        bus.write(gpa(0x2000), AccessWidth::Word, 0x1234).unwrap();
        assert_eq!(bus.read(gpa(0x2000), AccessWidth::Word), Ok(0x1234));
        assert_eq!(bus.read(gpa(0x1000), AccessWidth::Word), Ok(0));
        assert_eq!(bus.read(gpa(0x3000), AccessWidth::Word), Ok(0));
        // The bus trims values to the access width both ways.
        assert_eq!(bus.read(gpa(0x1004), AccessWidth::Half), Ok(0xffff));
        bus.write(gpa(0x3000), AccessWidth::Byte, 0xabcd).unwrap();
        assert_eq!(bus.read(gpa(0x3000), AccessWidth::Double), Ok(0xcd));
    }

    #[test]
    fn contains_edges() {
        let bus = three_devices();
        for (addr, want) in [
            (0xfff, false),
            (0x1000, true),
            (0x10ff, true),
            (0x1100, false),
            (0x2050, true),
            (0x30ff, true),
            (0x3100, false),
            (0, false),
            (u64::MAX, false),
        ] {
            assert_eq!(bus.contains(gpa(addr)), want, "{addr:#x}");
        }
        assert!(!MmioBus::new().contains(gpa(0)));
    }

    #[test]
    fn unmapped_and_straddling_accesses() {
        let bus = three_devices();
        assert_eq!(
            bus.read(gpa(0x1800), AccessWidth::Word),
            Err(BusError::Unmapped { gpa: gpa(0x1800) })
        );
        assert_eq!(
            bus.write(gpa(0), AccessWidth::Byte, 1),
            Err(BusError::Unmapped { gpa: gpa(0) })
        );
        let err = bus.read(gpa(0x10fe), AccessWidth::Word);
        let want = BusError::Straddle {
            gpa: gpa(0x10fe),
            width: AccessWidth::Word,
            device: "a".into(),
        };
        assert_eq!(err, Err(want));
        assert!(matches!(
            bus.write(gpa(0x10f9), AccessWidth::Double, 0),
            Err(BusError::Straddle { .. })
        ));
        assert_eq!(
            bus.read(gpa(0x10ff), AccessWidth::Byte).map_err(|_| ()),
            Err(())
        );
    }

    #[test]
    fn device_errors_carry_the_device_name() {
        let bus = three_devices();
        let err = bus.write(gpa(0x2008), AccessWidth::Word, 1).unwrap_err();
        let want = BusError::Device {
            device: "b".into(),
            gpa: gpa(0x2008),
            error: DeviceError::ReadOnly { offset: 8 },
        };
        assert_eq!(err, want);
        assert_eq!(
            err.to_string(),
            "device b at 0x2008: register at offset 0x8 is read-only"
        );
    }

    #[test]
    fn overlaps_are_refused() {
        let mut bus = three_devices();
        for (start, size, existing) in [
            (0x10ff, 1, "a"),
            (0x0f00, 0x101, "a"),
            (0x1fff, 2, "b"),
            (0x2080, 0x10, "b"),
            (0x0, 0x10_0000, "a"),
            (0x30ff, 0x1000, "c"),
        ] {
            let err = bus.insert(range(start, size), scratch("new")).unwrap_err();
            let BusError::Overlap {
                device,
                existing: found,
                ..
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(
                (device.as_str(), found.as_str()),
                ("new", existing),
                "{start:#x}"
            );
        }
        // Touching is not overlapping.
        bus.insert(range(0x1100, 0xf00), scratch("between"))
            .unwrap();
        bus.insert(range(0xf00, 0x100), scratch("before")).unwrap();
        assert_eq!(bus.devices().count(), 5);
        let err = bus.insert(range(0x3000, 0x100), scratch("x")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "device x at 0x3000+0x100 overlaps device c at 0x3000+0x100"
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let mut bus = MmioBus::new();
        let err = bus.insert(range(0x1000, 0), scratch("empty")).unwrap_err();
        assert!(matches!(err, BusError::BadRange { ref device, .. } if device == "empty"));
        let err = bus
            .insert(range(u64::MAX - 0xff, 0x200), scratch("wrap"))
            .unwrap_err();
        assert!(matches!(err, BusError::BadRange { .. }));
        // A range ending exactly at 2^64 has no representable end: refused too.
        let err = bus
            .insert(range(u64::MAX - 0xff, 0x100), scratch("top"))
            .unwrap_err();
        assert!(matches!(err, BusError::BadRange { .. }));
        bus.insert(range(u64::MAX - 0x1ff, 0x100), scratch("high"))
            .unwrap();
        assert_eq!(bus.read(gpa(u64::MAX - 0x1ff), AccessWidth::Word), Ok(0));
        let last = gpa(u64::MAX - 0x100);
        assert!(matches!(
            bus.read(last, AccessWidth::Word),
            Err(BusError::Straddle { .. })
        ));
        assert_eq!(
            bus.read(gpa(u64::MAX), AccessWidth::Byte),
            Err(BusError::Unmapped { gpa: gpa(u64::MAX) })
        );
    }

    #[test]
    fn many_devices_binary_search() {
        let mut bus = MmioBus::new();
        for i in (0..64u64).rev() {
            bus.insert(range(0x10_0000 + i * 0x1000, 0x100), scratch("d"))
                .unwrap();
        }
        for i in 0..64u64 {
            let base = 0x10_0000 + i * 0x1000;
            bus.write(gpa(base), AccessWidth::Word, i).unwrap();
            assert!(bus.contains(gpa(base + 0xff)));
            assert!(!bus.contains(gpa(base + 0x100)));
        }
        for i in 0..64u64 {
            assert_eq!(
                bus.read(gpa(0x10_0000 + i * 0x1000), AccessWidth::Word),
                Ok(i)
            );
        }
    }
}
