//! Tests of the I/O APIC model.

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

/// Reads indexed register `index`.
fn rd(io: &mut IoApic, index: u8) -> u32 {
    io.write(0x00, Word, index.into()).unwrap();
    io.read(0x10, Word).unwrap() as u32
}

/// Writes indexed register `index`.
fn wr(io: &mut IoApic, index: u8, value: u32) {
    io.write(0x00, Word, index.into()).unwrap();
    io.write(0x10, Word, value.into()).unwrap();
}

/// Programs pin `pin` the way Linux does: destination (high half) first, then the
/// low half.
fn route(io: &mut IoApic, pin: u8, low: u32, destination: u8) {
    wr(io, 0x11 + 2 * pin, u32::from(destination) << 24);
    wr(io, 0x10 + 2 * pin, low);
}

/// Low halves: vector 0x30 + pin, fixed, physical, active high, unmasked.
fn edge(pin: u8) -> u32 {
    0x30 + u32::from(pin)
}

fn level(pin: u8) -> u32 {
    edge(pin) | 1 << 15
}

#[test]
fn reset_state() {
    let mut io = IoApic::new();
    assert_eq!(io.name(), "ioapic");
    assert_eq!(
        (IoApic::BASE, IoApic::SIZE, IoApic::PINS),
        (0xfec0_0000, 0x1000, 24)
    );
    assert_eq!(rd(&mut io, 0x00), 0);
    assert_eq!(rd(&mut io, 0x01), 0x0017_0011, "24 entries, version 0x11");
    assert_eq!(rd(&mut io, 0x02), 0);
    for pin in 0..24 {
        assert_eq!(rd(&mut io, 0x10 + 2 * pin), 0x0001_0000, "masked");
        assert_eq!(rd(&mut io, 0x11 + 2 * pin), 0);
        io.raise(pin);
        io.set_level(pin, true);
    }
    assert_eq!(io.pending(), None);
    assert_eq!(io.accept(), None);
}

#[test]
fn id_version_and_select() {
    let mut io = IoApic::new();
    io.write(0x00, Word, 0x1234_5602).unwrap();
    assert_eq!(io.read(0x00, Word), Ok(0x02), "IOREGSEL keeps bits 7:0");
    wr(&mut io, 0x00, 0xffff_ffff);
    assert_eq!(rd(&mut io, 0x00), 0x0f00_0000);
    assert_eq!(io.id(), 0x0f);
    assert_eq!(
        rd(&mut io, 0x02),
        0x0f00_0000,
        "arbitration ID follows the ID"
    );
    wr(&mut io, 0x01, 0);
    wr(&mut io, 0x02, 0);
    assert_eq!(rd(&mut io, 0x01), 0x0017_0011);
    assert_eq!(rd(&mut io, 0x02), 0x0f00_0000);
    // Indexes past the table read 0 and ignore writes.
    for index in [0x03, 0x0f, 0x40, 0xff] {
        wr(&mut io, index, 0xffff_ffff);
        assert_eq!(rd(&mut io, index), 0);
    }
}

#[test]
fn edge_triggered_pin() {
    let mut io = IoApic::new();
    route(&mut io, 4, edge(4), 1);
    assert_eq!(rd(&mut io, 0x18), 0x34);
    assert_eq!(rd(&mut io, 0x19), 0x0100_0000);
    io.raise(4);
    assert_eq!(io.pending(), Some((0x34, 1)));
    assert_eq!(rd(&mut io, 0x18), 0x1034, "delivery status: send pending");
    let want = Delivery {
        pin: 4,
        vector: 0x34,
        mode: DeliveryMode::Fixed,
        logical: false,
        destination: 1,
        level_triggered: false,
    };
    assert_eq!(io.accept(), Some(want));
    assert_eq!(io.pending(), None);
    assert_eq!(rd(&mut io, 0x18), 0x34);
    // Edges of the line: only rising ones count.
    io.set_level(4, true);
    assert_eq!(io.accept().map(|d| d.pin), Some(4));
    io.set_level(4, true);
    assert_eq!(io.pending(), None);
    io.set_level(4, false);
    io.set_level(4, true);
    assert_eq!(io.pending(), Some((0x34, 1)));
    // No EOI is needed for edges.
    io.accept();
    io.raise(4);
    assert_eq!(io.pending(), Some((0x34, 1)));
}

#[test]
fn edges_on_a_masked_pin_are_lost() {
    let mut io = IoApic::new();
    route(&mut io, 1, edge(1) | 1 << 16, 0);
    io.raise(1);
    io.set_level(1, true);
    route(&mut io, 1, edge(1), 0);
    assert_eq!(io.pending(), None);
    io.set_level(1, false);
    io.set_level(1, true);
    assert_eq!(io.pending(), Some((0x31, 0)));
}

#[test]
fn level_triggered_pin_and_remote_irr() {
    let mut io = IoApic::new();
    route(&mut io, 10, level(10), 2);
    io.set_level(10, true);
    assert_eq!(io.pending(), Some((0x3a, 2)));
    let delivery = io.accept().unwrap();
    assert!(delivery.level_triggered);
    // Remote IRR (bit 14) is set until the EOI: nothing more meanwhile.
    assert_eq!(rd(&mut io, 0x24), 0xc03a);
    assert_eq!(io.pending(), None);
    io.eoi(0x3b);
    assert_eq!(io.pending(), None);
    // The EOI with the line still asserted: sent again.
    io.eoi(0x3a);
    assert_eq!(rd(&mut io, 0x24), 0x903a, "remote IRR clear, send pending");
    assert_eq!(io.accept().map(|d| d.vector), Some(0x3a));
    // The device drops its line before the EOI: then nothing.
    io.set_level(10, false);
    io.eoi(0x3a);
    assert_eq!(io.pending(), None);
    assert_eq!(rd(&mut io, 0x24), 0x803a);
}

#[test]
fn masked_level_pin_sends_when_unmasked() {
    let mut io = IoApic::new();
    route(&mut io, 11, level(11) | 1 << 16, 0);
    io.set_level(11, true);
    assert_eq!(io.pending(), None);
    route(&mut io, 11, level(11), 0);
    assert_eq!(io.pending(), Some((0x3b, 0)));
    // Masking again with remote IRR set keeps it set.
    io.accept();
    route(&mut io, 11, level(11) | 1 << 16, 0);
    assert_eq!(rd(&mut io, 0x26), 0x1_c03b);
}

#[test]
fn switching_to_edge_clears_remote_irr() {
    let mut io = IoApic::new();
    route(&mut io, 3, level(3), 0);
    io.set_level(3, true);
    io.accept();
    assert_ne!(rd(&mut io, 0x16) & 1 << 14, 0);
    // Linux's clear_IO_APIC_pin: masked and edge, then back to level.
    route(&mut io, 3, edge(3) | 1 << 16, 0);
    assert_eq!(rd(&mut io, 0x16) & 1 << 14, 0);
    route(&mut io, 3, level(3), 0);
    assert_eq!(io.pending(), Some((0x33, 0)));
}

#[test]
fn read_only_and_reserved_bits() {
    let mut io = IoApic::new();
    // Delivery status, remote IRR and bits 31:17 are not written.
    wr(&mut io, 0x10, 0xffff_ffff);
    assert_eq!(rd(&mut io, 0x10), 0x0001_afff);
    // The high half keeps only the destination.
    wr(&mut io, 0x11, 0xffff_ffff);
    assert_eq!(rd(&mut io, 0x11), 0xff00_0000);
    assert_eq!(io.redirection(0), Some(0xff00_0000_0001_afff));
    assert_eq!(io.redirection(24), None);
}

#[test]
fn delivery_fields() {
    let mut io = IoApic::new();
    // ExtINT, logical, active low, level: bits 10:8 = 7, 11, 13, 15.
    route(&mut io, 0, 0x0000_af00, 0x03);
    io.set_level(0, true);
    let delivery = io.accept().unwrap();
    assert_eq!(
        delivery,
        Delivery {
            pin: 0,
            vector: 0,
            mode: DeliveryMode::ExtInt,
            logical: true,
            destination: 0x03,
            level_triggered: true,
        }
    );
    // The polarity bit does not invert the pin.
    assert_eq!(rd(&mut io, 0x10) & 1 << 13, 1 << 13);
    for (bits, mode) in [
        (0, DeliveryMode::Fixed),
        (1, DeliveryMode::LowestPriority),
        (2, DeliveryMode::Smi),
        (3, DeliveryMode::Reserved(3)),
        (4, DeliveryMode::Nmi),
        (5, DeliveryMode::Init),
        (6, DeliveryMode::Reserved(6)),
        (7, DeliveryMode::ExtInt),
    ] {
        route(&mut io, 5, 0x40 | bits << 8, 0);
        io.raise(5);
        assert_eq!(io.accept().map(|d| d.mode), Some(mode));
    }
}

#[test]
fn lowest_pin_first() {
    let mut io = IoApic::new();
    for pin in [20, 2, 9] {
        route(&mut io, pin, edge(pin), pin);
        io.raise(pin);
    }
    let order: Vec<_> = core::iter::from_fn(|| io.accept().map(|d| d.pin)).collect();
    assert_eq!(order, [2, 9, 20]);
}

#[test]
fn raise_on_a_level_pin_waits_for_its_eoi() {
    let mut io = IoApic::new();
    route(&mut io, 7, level(7), 0);
    io.raise(7);
    assert_eq!(io.accept().map(|d| d.level_triggered), Some(true));
    io.raise(7);
    assert_eq!(io.pending(), None);
    io.eoi(0x37);
    assert_eq!(io.pending(), Some((0x37, 0)));
}

#[test]
fn bad_accesses() {
    let mut io = IoApic::new();
    for offset in [0x00, 0x10] {
        for width in [Byte, Half, Double] {
            let err = DeviceError::BadWidth { offset, width };
            assert_eq!(io.read(offset, width), Err(err));
            assert_eq!(io.write(offset, width, 0), Err(err));
        }
    }
    for offset in [0x01, 0x02, 0x03, 0x11, 0x13] {
        let err = DeviceError::Unaligned {
            offset,
            width: Word,
        };
        assert_eq!(io.read(offset, Word), Err(err));
    }
    for offset in [0x04, 0x08, 0x0c, 0x14, 0x20, 0x40, 0xfff, u64::MAX] {
        let err = DeviceError::NoRegister { offset };
        assert_eq!(io.read(offset, Word), Err(err));
        assert_eq!(io.write(offset, Word, 0), Err(err));
    }
}

#[test]
fn no_sequence_panics() {
    let mut io = IoApic::new();
    for index in 0..=255u8 {
        for value in [0, u32::MAX, 0x0000_8030, 0x0001_0000, u32::from(index) << 8] {
            wr(&mut io, index, value);
            let _ = rd(&mut io, index);
        }
        for offset in (0..0x40).chain([0xffc, 0x1000, u64::MAX]) {
            for width in [Byte, Half, Word, Double] {
                let _ = io.read(offset, width);
                let _ = io.write(offset, width, u64::MAX);
            }
        }
        io.raise(index);
        io.set_level(index, index & 1 == 0);
        io.set_level(index / 8, index & 2 == 0);
        let _ = io.pending();
        let _ = io.accept();
        io.eoi(index);
        let _ = io.redirection(index);
    }
}

#[test]
fn works_behind_the_mmio_bus() {
    use crate::{Locked, MmioBus};
    use tessera_addr::{GuestPhysAddr, GuestRange};

    let base = GuestPhysAddr::new(IoApic::BASE);
    let mut bus = MmioBus::new();
    bus.insert(
        GuestRange::new(base, IoApic::SIZE),
        Box::new(Locked::mmio(IoApic::new())),
    )
    .unwrap();
    bus.write(base, Word, 0x01).unwrap();
    let window = GuestPhysAddr::new(IoApic::BASE + 0x10);
    assert_eq!(bus.read(window, Word), Ok(0x0017_0011));
    assert!(bus.read(window, Byte).is_err());
}
