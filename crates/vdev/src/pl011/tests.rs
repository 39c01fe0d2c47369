//! Tests of the PL011 register model.

use std::sync::{Arc, Mutex};

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

/// A sink that keeps everything it was given.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl CharSink for Capture {
    fn write_bytes(&mut self, bytes: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(bytes);
    }
}

impl Capture {
    fn taken(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

fn uart() -> (Pl011, Capture) {
    let capture = Capture::default();
    (Pl011::new(Box::new(capture.clone())), capture)
}

/// A UART set up the way Linux leaves it: FIFOs on, enabled, RX and RT interrupts unmasked.
fn linux_uart() -> (Pl011, Capture) {
    let (mut u, c) = uart();
    u.write(LCR_H, Word, 0x70).unwrap(); // 8 bits, FIFOs enabled.
    u.write(CR, Word, 0x301).unwrap();
    u.write(IMSC, Word, u64::from(INT_RX | INT_RT)).unwrap();
    (u, c)
}

#[test]
fn reset_values() {
    let (mut u, _) = uart();
    let expected = [
        (FR, 0x90),
        (CR, 0x300),
        (IFLS, 0x12),
        (RSR_ECR, 0),
        (ILPR, 0),
        (IBRD, 0),
        (FBRD, 0),
        (LCR_H, 0),
        (IMSC, 0),
        (RIS, 0),
        (MIS, 0),
        (DMACR, 0),
        (DR, 0),
    ];
    for (offset, value) in expected {
        assert_eq!(u.read(offset, Word), Ok(value), "offset {offset:#x}");
    }
    assert!(!u.interrupt_pending());
    assert_eq!(u.name(), "pl011");
}

#[test]
fn identification_registers() {
    let (mut u, _) = uart();
    let ids: Vec<u64> = (0..8)
        .map(|i| u.read(0xfe0 + i * 4, Word).unwrap())
        .collect();
    assert_eq!(ids, [0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    // The AMBA bus reads them as a 32-bit PrimeCell ID and periph ID.
    let cell = ids[4..]
        .iter()
        .enumerate()
        .fold(0, |acc, (i, b)| acc | (b << (8 * i)));
    assert_eq!(cell, 0xb105_f00d);
    assert_eq!(u.read(0xfe8, Byte), Ok(0x34));
    for offset in (0xfe0..0x1000).step_by(4) {
        assert_eq!(
            u.write(offset, Word, 0),
            Err(DeviceError::ReadOnly { offset })
        );
    }
}

#[test]
fn transmit_reaches_the_sink() {
    let (mut u, c) = uart();
    for byte in b"hi\n" {
        u.write(DR, Word, u64::from(*byte)).unwrap();
    }
    // Only the low 8 bits are data, whatever the width.
    u.write(DR, Byte, 0x141).unwrap();
    u.write(DR, Half, 0xff42).unwrap();
    assert_eq!(c.taken(), b"hi\nAB");
    assert_eq!(
        u.read(FR, Word).unwrap() & (FR_TXFE | 1 << 5 | 1 << 3),
        FR_TXFE
    );
}

#[test]
fn stored_registers_read_back_masked() {
    let (mut u, _) = uart();
    let cases = [
        (ILPR, 0x1ff, 0xff),
        (IBRD, 0x1_ffff, 0xffff),
        (FBRD, 0xff, 0x3f),
        (LCR_H, 0x1ff, 0xff),
        (CR, 0xffff, 0xff87),
        (IFLS, 0xff, 0x3f),
        (IMSC, 0xffff, 0x7ff),
        (DMACR, 0xff, 0x7),
    ];
    for (offset, written, read) in cases {
        u.write(offset, Word, written).unwrap();
        assert_eq!(u.read(offset, Word), Ok(read), "offset {offset:#x}");
    }
    // 8- and 16-bit accesses work and see the low bits.
    u.write(IBRD, Half, 0x1234).unwrap();
    assert_eq!(u.read(IBRD, Byte), Ok(0x34));
    assert_eq!(u.read(IBRD, Half), Ok(0x1234));
    u.write(IBRD, Byte, 0x5678).unwrap();
    assert_eq!(u.read(IBRD, Word), Ok(0x78));
}

#[test]
fn bad_accesses() {
    let (mut u, c) = uart();
    for offset in [DR, FR, CR, 0xfe0] {
        assert_eq!(
            u.read(offset, Double),
            Err(DeviceError::BadWidth {
                offset,
                width: Double
            })
        );
        assert_eq!(
            u.write(offset, Double, 0x41),
            Err(DeviceError::BadWidth {
                offset,
                width: Double
            })
        );
    }
    for offset in [0x1, 0x2, 0x31, 0xfe3] {
        assert_eq!(
            u.read(offset, Byte),
            Err(DeviceError::Unaligned {
                offset,
                width: Byte
            })
        );
    }
    for offset in [0x8, 0x14, 0x1c, 0x4c, 0x80, 0xfdc, 0x1000, u64::MAX - 3] {
        assert_eq!(
            u.read(offset, Word),
            Err(DeviceError::NoRegister { offset })
        );
        assert_eq!(
            u.write(offset, Word, 0),
            Err(DeviceError::NoRegister { offset })
        );
    }
    for offset in [FR, RIS, MIS] {
        assert_eq!(
            u.write(offset, Word, 0xff),
            Err(DeviceError::ReadOnly { offset })
        );
    }
    assert_eq!(
        u.read(ICR, Word),
        Err(DeviceError::WriteOnly { offset: ICR })
    );
    assert!(c.taken().is_empty());
}

#[test]
fn receive_fifo() {
    let (mut u, _) = linux_uart();
    assert_eq!(u.read(FR, Word).unwrap() & FR_RXFE, FR_RXFE);
    for byte in 0..40u8 {
        u.push_input(byte);
    }
    let fr = u.read(FR, Word).unwrap();
    assert_eq!(fr & (FR_RXFE | FR_RXFF), FR_RXFF);
    // 32 bytes kept in order, 8 dropped as an overrun.
    let got: Vec<u64> = (0..32).map(|_| u.read(DR, Word).unwrap()).collect();
    assert_eq!(got, (0..32).collect::<Vec<u64>>());
    assert_eq!(u.read(FR, Word).unwrap() & FR_RXFE, FR_RXFE);
    assert_eq!(u.read(DR, Byte), Ok(0));
    assert_eq!(u.read(RSR_ECR, Word), Ok(RSR_OE));
    assert_ne!(u.read(RIS, Word).unwrap() & u64::from(INT_OE), 0);
    u.write(RSR_ECR, Word, 0).unwrap();
    assert_eq!(u.read(RSR_ECR, Word), Ok(0));
    u.write(ICR, Word, u64::from(INT_OE)).unwrap();
    assert_eq!(u.read(RIS, Word), Ok(0));
}

#[test]
fn holding_register_without_fifo() {
    let (mut u, _) = uart();
    u.push_input(b'a');
    u.push_input(b'b');
    assert_eq!(u.read(FR, Word).unwrap() & (FR_RXFE | FR_RXFF), FR_RXFF);
    assert_eq!(u.read(DR, Word), Ok(u64::from(b'a')));
    assert_eq!(u.read(RSR_ECR, Word), Ok(RSR_OE));
    assert_eq!(u.read(FR, Word).unwrap() & FR_RXFE, FR_RXFE);
}

#[test]
fn receive_interrupts() {
    let (mut u, _) = linux_uart();
    assert!(!u.interrupt_pending());
    u.push_input(b'x');
    // Below the half-full trigger: only the receive timeout.
    assert_eq!(u.read(RIS, Word), Ok(u64::from(INT_RT)));
    assert_eq!(u.read(MIS, Word), Ok(u64::from(INT_RT)));
    assert!(u.interrupt_pending());
    for _ in 1..16 {
        u.push_input(b'x');
    }
    assert_eq!(u.read(RIS, Word), Ok(u64::from(INT_RX | INT_RT)));
    // A lower trigger level (1/8 = 4 bytes).
    u.write(IFLS, Word, 0).unwrap();
    for _ in 0..12 {
        u.read(DR, Word).unwrap();
    }
    assert_eq!(u.read(RIS, Word), Ok(u64::from(INT_RX | INT_RT)));
    u.read(DR, Word).unwrap();
    assert_eq!(u.read(RIS, Word), Ok(u64::from(INT_RT)));
    for _ in 0..3 {
        u.read(DR, Word).unwrap();
    }
    assert!(!u.interrupt_pending());
    // Masked sources show in RIS but do not assert the line.
    u.write(IMSC, Word, 0).unwrap();
    u.push_input(b'y');
    assert_ne!(u.read(RIS, Word), Ok(0));
    assert_eq!(u.read(MIS, Word), Ok(0));
    assert!(!u.interrupt_pending());
}

#[test]
fn transmit_interrupt() {
    let (mut u, _) = linux_uart();
    u.write(IMSC, Word, u64::from(INT_TX)).unwrap();
    assert!(!u.interrupt_pending());
    u.write(DR, Word, u64::from(b'z')).unwrap();
    assert_eq!(u.read(RIS, Word), Ok(u64::from(INT_TX)));
    assert!(u.interrupt_pending());
    // Clearing other bits leaves it; clearing TXIC drops it.
    u.write(ICR, Word, u64::from(INT_RX | INT_OE)).unwrap();
    assert!(u.interrupt_pending());
    u.write(ICR, Word, u64::from(INT_ALL)).unwrap();
    assert!(!u.interrupt_pending());
    assert_eq!(u.read(RIS, Word), Ok(0));
}

#[test]
fn loopback_receives_transmitted_bytes() {
    let (mut u, c) = linux_uart();
    u.write(CR, Word, u64::from(0x301 | CR_LBE)).unwrap();
    u.write(DR, Word, u64::from(b'q')).unwrap();
    assert!(c.taken().is_empty());
    assert_eq!(u.read(DR, Word), Ok(u64::from(b'q')));
}

#[test]
fn works_behind_the_bus() {
    use crate::{Locked, MmioBus};
    use tessera_addr::{GuestPhysAddr, GuestRange};

    let (u, c) = uart();
    let mut bus = MmioBus::new();
    let base = GuestPhysAddr::new(0x0900_0000);
    bus.insert(
        GuestRange::new(base, Pl011::SIZE),
        Box::new(Locked::mmio(u)),
    )
    .unwrap();
    bus.write(base, Word, u64::from(b'!')).unwrap();
    assert_eq!(c.taken(), b"!");
    let id = bus.read(GuestPhysAddr::new(0x0900_0ffc), Word);
    assert_eq!(id, Ok(0xb1));
    let err = bus
        .read(GuestPhysAddr::new(0x0900_0018), Double)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "device pl011 at 0x9000018: 64-bit access not supported at offset 0x18"
    );
}

#[test]
fn firmware_console_takes_typed_bytes_in_order() {
    let (mut u, _) = linux_uart();
    assert_eq!(u.take_input(), None);
    u.push_input(b'h');
    u.push_input(b'i');
    assert_eq!(u.flags() & FR_RXFE, 0, "two bytes wait");
    assert_eq!(u.take_input(), Some(b'h'));
    assert_eq!(u.take_input(), Some(b'i'));
    assert_eq!(u.take_input(), None);
    assert_ne!(u.flags() & FR_RXFE, 0, "the FIFO is empty again");
}
