//! Tests of the port bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};
use crate::{Clocked, Locked, PortDevice, SharedPort, TimedPortDevice};

/// A device whose every port remembers the last value written to it, and that
/// refuses accesses wider than `widest` bytes.
struct Latches {
    name: &'static str,
    ports: Vec<u32>,
    widest: u64,
}

impl PortDevice for Latches {
    fn name(&self) -> &'static str {
        self.name
    }
    fn read(&mut self, port_offset: u16, width: AccessWidth) -> Result<u32, DeviceError> {
        let offset = u64::from(port_offset);
        if width.bytes() > self.widest {
            return Err(DeviceError::BadWidth { offset, width });
        }
        let value = self.ports.get(usize::from(port_offset));
        value.copied().ok_or(DeviceError::NoRegister { offset })
    }
    fn write(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
    ) -> Result<(), DeviceError> {
        let offset = u64::from(port_offset);
        if width.bytes() > self.widest {
            return Err(DeviceError::BadWidth { offset, width });
        }
        let port = self.ports.get_mut(usize::from(port_offset));
        *port.ok_or(DeviceError::NoRegister { offset })? = value;
        Ok(())
    }
}

fn latches(name: &'static str, ports: usize) -> Box<dyn SharedPort> {
    Box::new(Locked::port(Latches {
        name,
        ports: vec![0; ports],
        widest: 4,
    }))
}

fn r(base: u16, count: u16) -> PortRange {
    PortRange::new(base, count)
}

#[test]
fn routes_by_port() {
    let mut bus = PortBus::new();
    bus.insert(r(0x3f8, 8), latches("com1", 8)).unwrap();
    bus.insert(r(0x80, 1), latches("post", 1)).unwrap();
    bus.insert(r(0x2f8, 8), latches("com2", 8)).unwrap();
    let names: Vec<_> = bus.windows().map(|(w, n)| (w.base, n)).collect();
    assert_eq!(names, [(0x80, "post"), (0x2f8, "com2"), (0x3f8, "com1")]);
    bus.write(0x3f9, Byte, 0x11).unwrap();
    bus.write(0x2f9, Byte, 0x22).unwrap();
    bus.write(0x80, Byte, 0x33).unwrap();
    assert_eq!(bus.read(0x3f9, Byte), Ok(0x11));
    assert_eq!(bus.read(0x2f9, Byte), Ok(0x22));
    assert_eq!(bus.read(0x80, Byte), Ok(0x33));
    assert_eq!(bus.read(0x3f8, Byte), Ok(0));
    // Values are trimmed to the width both ways.
    bus.write(0x3fc, Half, 0xdead_beef).unwrap();
    assert_eq!(bus.read(0x3fc, Word), Ok(0xbeef));
    bus.write(0x3fc, Word, 0xdead_beef).unwrap();
    assert_eq!(bus.read(0x3fc, Byte), Ok(0xef));
    for (port, want) in [(0x7f, false), (0x80, true), (0x81, false), (0x3ff, true)] {
        assert_eq!(bus.contains(port), want, "{port:#x}");
    }
}

#[test]
fn unclaimed_ports_read_all_ones() {
    let mut bus = PortBus::new();
    bus.insert(r(0x3f8, 8), latches("com1", 8)).unwrap();
    assert_eq!(
        bus.read(0x3f7, Byte),
        Err(BusError::PortUnclaimed { port: 0x3f7 })
    );
    assert!(bus.read(0x400, Word).unwrap_err().is_unclaimed());
    assert_eq!(
        bus.write(0xcf8, Word, 0x8000_0000),
        Err(BusError::PortUnclaimed { port: 0xcf8 })
    );
    assert_eq!(bus.read_or_open(0x80, Byte), 0xff);
    assert_eq!(bus.read_or_open(0x80, Half), 0xffff);
    assert_eq!(bus.read_or_open(0xcfc, Word), 0xffff_ffff);
    assert_eq!(bus.read_or_open(0xcfc, Double), 0xffff_ffff);
    bus.write_or_drop(0x80, Byte, 0x12);
    bus.write_or_drop(0x3f8, Byte, 0x34);
    assert_eq!(bus.read_or_open(0x3f8, Byte), 0x34);
    assert_eq!(PortBus::open_bus(Byte), 0xff);
    let err = BusError::PortUnclaimed { port: 0x80 };
    assert_eq!(err.to_string(), "no device at port 0x80");
    assert!(PortBus::new().read(0, Byte).unwrap_err().is_unclaimed());
}

#[test]
fn refused_accesses() {
    let mut bus = PortBus::new();
    let narrow = Latches {
        name: "narrow",
        ports: vec![7; 4],
        widest: 1,
    };
    bus.insert(r(0x60, 4), Box::new(Locked::port(narrow)))
        .unwrap();
    let err = bus.read(0x61, Half).unwrap_err();
    let want = BusError::PortDevice {
        device: "narrow".into(),
        port: 0x61,
        error: DeviceError::BadWidth {
            offset: 1,
            width: Half,
        },
    };
    assert_eq!(err, want);
    assert!(!err.is_unclaimed());
    assert_eq!(
        err.to_string(),
        "device narrow at port 0x61: 16-bit access not supported at offset 0x1"
    );
    assert_eq!(bus.read_or_open(0x61, Half), 0xffff);
    bus.write_or_drop(0x61, Half, 0);
    assert_eq!(bus.read(0x61, Byte), Ok(7));
    // Straddling the end of the window.
    let err = bus.read(0x63, Half).unwrap_err();
    let want = BusError::PortStraddle {
        port: 0x63,
        width: Half,
        device: "narrow".into(),
    };
    assert_eq!(err, want);
    assert_eq!(
        err.to_string(),
        "16-bit access at port 0x63 runs past the end of device narrow"
    );
    assert!(matches!(
        bus.write(0x62, Word, 0),
        Err(BusError::PortStraddle { .. })
    ));
    // x86 has no 64-bit port access.
    assert_eq!(
        bus.read(0x60, Double),
        Err(BusError::PortBadWidth {
            port: 0x60,
            width: Double
        })
    );
    assert!(matches!(
        bus.write(0x60, Double, 0),
        Err(BusError::PortBadWidth { .. })
    ));
}

#[test]
fn overlaps_and_bad_windows_are_refused() {
    let mut bus = PortBus::new();
    bus.insert(r(0x20, 2), latches("pic", 2)).unwrap();
    bus.insert(r(0x40, 4), latches("pit", 4)).unwrap();
    for (base, count, existing) in [
        (0x21, 1, "pic"),
        (0x1f, 2, "pic"),
        (0x0, 0x100, "pic"),
        (0x43, 0x10, "pit"),
        (0x3f, 2, "pit"),
    ] {
        let err = bus.insert(r(base, count), latches("new", 1)).unwrap_err();
        let BusError::PortOverlap {
            device,
            existing: found,
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((device.as_str(), found.as_str()), ("new", existing));
    }
    let err = bus.insert(r(0x41, 1), latches("x", 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "device x at port 0x41+0x1 overlaps device pit at port 0x40+0x4"
    );
    for bad in [r(0x80, 0), r(0xffff, 2), r(0xfff0, 0xffff)] {
        let err = bus.insert(bad, latches("bad", 1)).unwrap_err();
        assert_eq!(
            err,
            BusError::PortBadRange {
                device: "bad".into(),
                range: bad
            }
        );
    }
    let err = bus.insert_windows(&[], latches("none", 1)).unwrap_err();
    assert!(matches!(err, BusError::PortBadRange { .. }));
    assert_eq!(
        err.to_string(),
        "device none has an empty or wrapping window port 0x0+0x0"
    );
    // A device's own windows may not overlap either.
    let err = bus
        .insert_windows(&[r(0x90, 4), r(0x92, 4)], latches("self", 8))
        .unwrap_err();
    assert!(matches!(err, BusError::PortOverlap { ref existing, .. } if existing == "self"));
    // A refused insertion leaves nothing behind.
    assert_eq!(bus.windows().count(), 2);
    assert!(!bus.contains(0x90));
    // Touching is not overlapping; the last port exists.
    bus.insert(r(0x22, 0x1e), latches("between", 0x1e)).unwrap();
    bus.insert(r(0xffff, 1), latches("top", 1)).unwrap();
    bus.write(0xffff, Byte, 9).unwrap();
    assert_eq!(bus.read(0xffff, Byte), Ok(9));
    assert!(matches!(
        bus.read(0xffff, Half),
        Err(BusError::PortStraddle { .. })
    ));
}

#[test]
fn one_device_on_several_windows() {
    let mut bus = PortBus::new();
    // Given out of port order: offsets follow the order of the list.
    bus.insert_windows(&[r(0xa0, 2), r(0x20, 2), r(0x4d0, 2)], latches("pics", 6))
        .unwrap();
    for (offset, port) in [0xa0u16, 0xa1, 0x20, 0x21, 0x4d0, 0x4d1]
        .into_iter()
        .enumerate()
    {
        bus.write(port, Byte, offset as u32 + 1).unwrap();
    }
    let probe = |port| bus.read(port, Byte).unwrap();
    assert_eq!(
        [
            probe(0x20),
            probe(0x21),
            probe(0xa0),
            probe(0xa1),
            probe(0x4d0)
        ],
        [3, 4, 1, 2, 5]
    );
    let windows: Vec<_> = bus.windows().map(|(w, n)| (w.base, n)).collect();
    assert_eq!(windows, [(0x20, "pics"), (0xa0, "pics"), (0x4d0, "pics")]);
    let err = bus.read(0xa2, Byte).unwrap_err();
    assert!(err.is_unclaimed());
    let err = bus.read(0xa1, Half).unwrap_err();
    assert!(matches!(err, BusError::PortStraddle { ref device, .. } if device == "pics"));
}

#[test]
fn many_windows_binary_search() {
    let mut bus = PortBus::new();
    for i in (0..128u16).rev() {
        bus.insert(r(0x1000 + i * 0x10, 4), latches("d", 4))
            .unwrap();
    }
    for i in 0..128u16 {
        bus.write(0x1000 + i * 0x10 + 3, Byte, u32::from(i))
            .unwrap();
        assert!(!bus.contains(0x1000 + i * 0x10 + 4));
    }
    for i in 0..128u16 {
        assert_eq!(bus.read(0x1000 + i * 0x10 + 3, Byte), Ok(u32::from(i)));
    }
}

#[test]
fn no_port_or_width_panics() {
    let mut bus = PortBus::new();
    bus.insert(r(0, 3), latches("low", 3)).unwrap();
    bus.insert(r(0xfffe, 2), latches("high", 2)).unwrap();
    bus.insert_windows(&[r(0x100, 2), r(0x200, 2)], latches("two", 4))
        .unwrap();
    for port in (0..0x300).chain(0xfff0..=0xffff) {
        for width in [Byte, Half, Word, Double] {
            let _ = bus.read(port, width);
            let _ = bus.write(port, width, u32::MAX);
            let _ = bus.read_or_open(port, width);
            bus.write_or_drop(port, width, u32::MAX);
        }
    }
}

/// A clock-driven device: reads the time it is given, in microseconds.
struct Stopwatch;

impl TimedPortDevice for Stopwatch {
    fn name(&self) -> &'static str {
        "stopwatch"
    }
    fn read_at(&mut self, _: u16, _: AccessWidth, now_ns: u64) -> Result<u32, DeviceError> {
        Ok((now_ns / 1000) as u32)
    }
    fn write_at(&mut self, offset: u16, _: AccessWidth, _: u32, _: u64) -> Result<(), DeviceError> {
        Err(DeviceError::ReadOnly {
            offset: offset.into(),
        })
    }
}

#[test]
fn clocked_devices_read_their_clock() {
    let time = Arc::new(AtomicU64::new(5_000));
    let clock = {
        let time = time.clone();
        move || time.load(Ordering::Relaxed)
    };
    let mut bus = PortBus::new();
    let device = Clocked::new(Stopwatch, clock);
    assert_eq!(device.device.name(), "stopwatch");
    bus.insert(r(0x70, 4), Box::new(Locked::port(device)))
        .unwrap();
    assert_eq!(bus.read(0x70, Word), Ok(5));
    time.store(7_000_000, Ordering::Relaxed);
    assert_eq!(bus.read(0x70, Word), Ok(7000));
    assert!(matches!(
        bus.write(0x70, Byte, 0),
        Err(BusError::PortDevice { ref device, .. }) if device == "stopwatch"
    ));
}
