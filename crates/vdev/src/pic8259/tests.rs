//! Tests of the 8259A pair.

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

/// Port offsets of the four registers.
const MASTER_CMD: u16 = 0;
const MASTER_DATA: u16 = 1;
const SLAVE_CMD: u16 = 2;
const SLAVE_DATA: u16 = 3;

/// OCW3 commands: read IRR, read ISR, poll.
const READ_IRR: u8 = 0x0a;
const READ_ISR: u8 = 0x0b;
const POLL: u8 = 0x0c;
/// OCW2: non-specific EOI, specific EOI of IR0.
const EOI: u8 = 0x20;
const SPECIFIC_EOI: u8 = 0x60;

fn wr(p: &mut Pic8259, offset: u16, value: u8) {
    p.write(offset, Byte, value.into()).unwrap();
}

fn rd(p: &mut Pic8259, offset: u16) -> u8 {
    p.read(offset, Byte).unwrap() as u8
}

/// ISR and IRR of the chip whose command port is `cmd`.
fn isr(p: &mut Pic8259, cmd: u16) -> u8 {
    wr(p, cmd, READ_ISR);
    rd(p, cmd)
}

fn irr(p: &mut Pic8259, cmd: u16) -> u8 {
    wr(p, cmd, READ_IRR);
    rd(p, cmd)
}

/// The sequence Linux's `init_8259A` writes: master vectors 0x30, slave 0x38,
/// edge triggered, cascade on IR2, 8086 mode, `icw4` as the ICW4 of both; then
/// everything unmasked.
fn initialised_with(icw1: u8, icw4: u8) -> Pic8259 {
    let mut p = Pic8259::new();
    wr(&mut p, MASTER_DATA, 0xff);
    wr(&mut p, SLAVE_DATA, 0xff);
    for (port, value) in [
        (MASTER_CMD, icw1),
        (MASTER_DATA, 0x30),
        (MASTER_DATA, 1 << 2),
        (MASTER_DATA, icw4),
        (SLAVE_CMD, icw1),
        (SLAVE_DATA, 0x38),
        (SLAVE_DATA, 2),
        (SLAVE_DATA, icw4),
        (MASTER_DATA, 0x00),
        (SLAVE_DATA, 0x00),
    ] {
        wr(&mut p, port, value);
    }
    p
}

fn initialised() -> Pic8259 {
    initialised_with(0x11, 0x01)
}

#[test]
fn power_on_state() {
    let mut p = Pic8259::new();
    assert_eq!(p.name(), "pic8259");
    assert_eq!(rd(&mut p, MASTER_DATA), 0xff);
    assert_eq!(rd(&mut p, SLAVE_DATA), 0xff);
    assert_eq!(rd(&mut p, MASTER_CMD), 0);
    assert_eq!(isr(&mut p, SLAVE_CMD), 0);
    // Requests latch but stay masked until the guest programs the chips.
    p.raise(0);
    p.raise(12);
    assert_eq!(irr(&mut p, MASTER_CMD), 0x01);
    assert_eq!(irr(&mut p, SLAVE_CMD), 0x10);
    assert_eq!(p.pending_vector(), None);
    assert!(!p.interrupt_output());
    assert_eq!(p.acknowledge(), None);
    assert_eq!(Pic8259::WINDOWS, [Pic8259::MASTER, Pic8259::SLAVE]);
    assert_eq!((Pic8259::SLAVE.base, Pic8259::SLAVE.count), (0xa0, 2));
}

#[test]
fn initialisation_sequence() {
    let mut p = initialised();
    assert_eq!(rd(&mut p, MASTER_DATA), 0);
    assert_eq!(rd(&mut p, SLAVE_DATA), 0);
    // After ICW4 the data port is OCW1, the mask.
    wr(&mut p, MASTER_DATA, 0xfb);
    assert_eq!(rd(&mut p, MASTER_DATA), 0xfb);
    // ICW2 bits 2:0 are not part of the base.
    let mut p = Pic8259::new();
    for value in [0x11, 0x47, 0x04, 0x01, 0x00] {
        let port = if value == 0x11 {
            MASTER_CMD
        } else {
            MASTER_DATA
        };
        wr(&mut p, port, value);
    }
    p.raise(5);
    assert_eq!(p.pending_vector(), Some(0x45));
}

#[test]
fn icw1_resets_the_chip() {
    let mut p = initialised();
    wr(&mut p, MASTER_DATA, 0x0f);
    p.raise(4);
    p.raise(6);
    assert_eq!(p.acknowledge(), Some(0x34));
    wr(&mut p, MASTER_CMD, READ_ISR);
    // Restarting clears the mask, requests, in-service bits and the read select.
    wr(&mut p, MASTER_CMD, 0x11);
    assert_eq!(rd(&mut p, MASTER_DATA), 0, "the ICW1 write cleared the IMR");
    wr(&mut p, MASTER_DATA, 0x50);
    wr(&mut p, MASTER_DATA, 0x04);
    wr(&mut p, MASTER_DATA, 0x01);
    assert_eq!(rd(&mut p, MASTER_CMD), 0, "IRR, selected again, is empty");
    assert_eq!(isr(&mut p, MASTER_CMD), 0);
    assert_eq!(p.pending_vector(), None);
    p.raise(1);
    assert_eq!(p.pending_vector(), Some(0x51));
}

#[test]
fn single_mode_and_no_icw4() {
    let mut p = Pic8259::new();
    // ICW1: single, no ICW4. Then ICW2; the next data write is already OCW1.
    wr(&mut p, MASTER_CMD, 0x12);
    wr(&mut p, MASTER_DATA, 0x20);
    wr(&mut p, MASTER_DATA, 0xf0);
    assert_eq!(rd(&mut p, MASTER_DATA), 0xf0);
    p.raise(3);
    assert_eq!(p.acknowledge(), Some(0x23));
    assert_eq!(isr(&mut p, MASTER_CMD), 0x08, "no ICW4: normal EOI");
    // Single, with ICW4: ICW2 then ICW4, no ICW3.
    let mut p = Pic8259::new();
    for (port, value) in [(MASTER_CMD, 0x13), (MASTER_DATA, 0x60), (MASTER_DATA, 0x03)] {
        wr(&mut p, port, value);
    }
    assert_eq!(rd(&mut p, MASTER_DATA), 0);
    p.raise(1);
    assert_eq!(p.acknowledge(), Some(0x61));
    assert_eq!(isr(&mut p, MASTER_CMD), 0, "ICW4 set auto-EOI");
    // Without a cascade in ICW3 the master answers IR2 itself.
    p.slave = Chip::new(false);
    p.slave.imr = 0;
    p.set_level(9, true);
    assert_eq!(p.pending_vector(), Some(0x62));
}

#[test]
fn acknowledge_and_non_specific_eoi() {
    let mut p = initialised();
    p.raise(0);
    assert!(p.interrupt_output());
    assert_eq!(irr(&mut p, MASTER_CMD), 0x01);
    assert_eq!(p.pending_vector(), Some(0x30));
    assert_eq!(p.acknowledge(), Some(0x30));
    assert_eq!(irr(&mut p, MASTER_CMD), 0);
    assert_eq!(isr(&mut p, MASTER_CMD), 0x01);
    assert!(!p.interrupt_output());
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(isr(&mut p, MASTER_CMD), 0);
}

#[test]
fn fully_nested_priorities() {
    let mut p = initialised();
    p.raise(5);
    p.raise(3);
    assert_eq!(p.acknowledge(), Some(0x33));
    // IR5 has lower priority than IR3 in service: it waits.
    assert_eq!(p.pending_vector(), None);
    // IR1 has higher priority: it nests.
    p.raise(1);
    assert_eq!(p.acknowledge(), Some(0x31));
    assert_eq!(isr(&mut p, MASTER_CMD), 0x0a);
    // A non-specific EOI ends the highest-priority one in service, IR1.
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(isr(&mut p, MASTER_CMD), 0x08);
    assert_eq!(p.pending_vector(), None);
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(p.acknowledge(), Some(0x35));
    // An in-service input blocks its own new request too.
    p.raise(5);
    assert_eq!(p.pending_vector(), None);
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(p.pending_vector(), Some(0x35));
}

#[test]
fn specific_eoi() {
    let mut p = initialised();
    p.raise(6);
    assert_eq!(p.acknowledge(), Some(0x36));
    p.raise(4);
    assert_eq!(p.acknowledge(), Some(0x34));
    wr(&mut p, MASTER_CMD, SPECIFIC_EOI | 6);
    assert_eq!(isr(&mut p, MASTER_CMD), 0x10);
    wr(&mut p, MASTER_CMD, SPECIFIC_EOI | 4);
    assert_eq!(isr(&mut p, MASTER_CMD), 0);
    // A specific EOI of an input not in service changes nothing; nor does the
    // no-operation command.
    p.raise(7);
    assert_eq!(p.acknowledge(), Some(0x37));
    wr(&mut p, MASTER_CMD, SPECIFIC_EOI | 2);
    wr(&mut p, MASTER_CMD, 0x40);
    assert_eq!(isr(&mut p, MASTER_CMD), 0x80);
}

#[test]
fn interrupt_mask() {
    let mut p = initialised();
    wr(&mut p, MASTER_DATA, 0x02);
    p.raise(1);
    assert_eq!(
        irr(&mut p, MASTER_CMD),
        0x02,
        "a masked request still latches"
    );
    assert_eq!(p.pending_vector(), None);
    p.raise(4);
    assert_eq!(p.acknowledge(), Some(0x34));
    wr(&mut p, MASTER_CMD, EOI);
    wr(&mut p, MASTER_DATA, 0x00);
    assert_eq!(p.acknowledge(), Some(0x31));
}

#[test]
fn cascade_through_ir2() {
    let mut p = initialised();
    p.raise(10);
    assert_eq!(irr(&mut p, SLAVE_CMD), 0x04);
    assert_eq!(irr(&mut p, MASTER_CMD), 0x04, "the slave's INT on IR2");
    assert_eq!(p.pending_vector(), Some(0x3a));
    assert_eq!(p.acknowledge(), Some(0x3a));
    assert_eq!(isr(&mut p, SLAVE_CMD), 0x04);
    assert_eq!(isr(&mut p, MASTER_CMD), 0x04);
    // A lower-priority slave request waits behind the master's IR2 in service,
    // even once the slave has its EOI.
    p.raise(14);
    assert_eq!(p.pending_vector(), None);
    // What Linux's mask_and_ack_8259A sends: specific EOIs, slave then master.
    wr(&mut p, SLAVE_CMD, SPECIFIC_EOI | 2);
    assert_eq!(p.pending_vector(), None);
    wr(&mut p, MASTER_CMD, SPECIFIC_EOI | 2);
    assert_eq!(p.acknowledge(), Some(0x3e));
    wr(&mut p, SLAVE_CMD, EOI);
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(isr(&mut p, MASTER_CMD), 0);
    assert_eq!(isr(&mut p, SLAVE_CMD), 0);
    // The master's priorities order slave requests against its own inputs.
    p.raise(15);
    p.raise(1);
    p.raise(3);
    assert_eq!(p.acknowledge(), Some(0x31));
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(p.acknowledge(), Some(0x3f));
    // Masking IR2 on the master masks the whole slave.
    wr(&mut p, MASTER_CMD, EOI);
    wr(&mut p, SLAVE_CMD, EOI);
    wr(&mut p, MASTER_DATA, 0x04 | 0x08);
    p.raise(8);
    assert_eq!(p.pending_vector(), None);
    wr(&mut p, MASTER_DATA, 0x08);
    assert_eq!(p.acknowledge(), Some(0x38));
}

#[test]
fn slave_mask_drops_its_int() {
    let mut p = initialised();
    p.raise(11);
    assert_eq!(irr(&mut p, MASTER_CMD), 0x04);
    wr(&mut p, SLAVE_DATA, 0x08);
    assert_eq!(irr(&mut p, MASTER_CMD), 0x00);
    assert_eq!(p.pending_vector(), None);
    wr(&mut p, SLAVE_DATA, 0x00);
    assert_eq!(p.pending_vector(), Some(0x3b));
}

#[test]
fn the_cascade_input_cannot_be_driven() {
    let mut p = initialised();
    p.raise(2);
    p.set_level(2, true);
    for irq in [16, 100, 255] {
        p.raise(irq);
        p.set_level(irq, true);
    }
    assert_eq!(irr(&mut p, MASTER_CMD), 0);
    assert_eq!(irr(&mut p, SLAVE_CMD), 0);
    assert_eq!(p.pending_vector(), None);
}

#[test]
fn edge_triggered_lines() {
    let mut p = initialised();
    p.set_level(4, true);
    assert_eq!(p.acknowledge(), Some(0x34));
    wr(&mut p, MASTER_CMD, EOI);
    // Still high: no new edge, no new request.
    p.set_level(4, true);
    assert_eq!(p.pending_vector(), None);
    p.set_level(4, false);
    p.set_level(4, true);
    assert_eq!(p.pending_vector(), Some(0x34));
    // A line that falls before the INTA withdraws its request.
    p.set_level(4, false);
    assert_eq!(p.pending_vector(), None);
    assert_eq!(irr(&mut p, MASTER_CMD), 0);
    // The same on the slave, through the cascade.
    p.set_level(13, true);
    assert_eq!(p.pending_vector(), Some(0x3d));
    p.set_level(13, false);
    assert_eq!(p.pending_vector(), None);
}

#[test]
fn level_triggered_lines() {
    // ICW1 with LTIM.
    let mut p = initialised_with(0x19, 0x01);
    p.set_level(5, true);
    assert_eq!(p.acknowledge(), Some(0x35));
    // The request follows the line: still high after the EOI, it comes back.
    assert_eq!(irr(&mut p, MASTER_CMD), 0x20);
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(p.acknowledge(), Some(0x35));
    p.set_level(5, false);
    wr(&mut p, MASTER_CMD, EOI);
    assert_eq!(p.pending_vector(), None);
    assert_eq!(irr(&mut p, MASTER_CMD), 0);
    // A line high during ICW1 requests at once in level mode.
    p.set_level(6, true);
    wr(&mut p, MASTER_CMD, 0x19);
    assert_eq!(irr(&mut p, MASTER_CMD), 0x40);
}

#[test]
fn auto_eoi() {
    // ICW4 with AEOI on both chips.
    let mut p = initialised_with(0x11, 0x03);
    p.raise(3);
    p.raise(5);
    assert_eq!(p.acknowledge(), Some(0x33));
    assert_eq!(isr(&mut p, MASTER_CMD), 0);
    // Nothing in service: the lower-priority request follows at once.
    assert_eq!(p.acknowledge(), Some(0x35));
    p.raise(9);
    p.raise(12);
    assert_eq!(p.acknowledge(), Some(0x39));
    assert_eq!(p.acknowledge(), Some(0x3c));
    assert_eq!(isr(&mut p, MASTER_CMD), 0);
    assert_eq!(isr(&mut p, SLAVE_CMD), 0);
    assert_eq!(p.acknowledge(), None);
}

#[test]
fn rotation_and_set_priority() {
    let mut p = initialised();
    // Set priority: IR4 lowest, so IR5 is the highest.
    wr(&mut p, MASTER_CMD, 0xc4);
    p.raise(0);
    p.raise(6);
    assert_eq!(p.acknowledge(), Some(0x36));
    // IR0 now has lower priority than IR6 in service.
    assert_eq!(p.pending_vector(), None);
    // Rotate on non-specific EOI: IR6 ends and becomes the lowest (IR7 highest).
    wr(&mut p, MASTER_CMD, 0xa0);
    p.raise(7);
    assert_eq!(p.acknowledge(), Some(0x37));
    // Rotate on specific EOI of IR7: IR0 is highest again.
    wr(&mut p, MASTER_CMD, 0xe7);
    assert_eq!(isr(&mut p, MASTER_CMD), 0);
    p.raise(1);
    assert_eq!(p.acknowledge(), Some(0x30));
}

#[test]
fn rotate_in_auto_eoi() {
    let mut p = initialised_with(0x11, 0x03);
    wr(&mut p, MASTER_CMD, 0x80);
    p.raise(1);
    assert_eq!(p.acknowledge(), Some(0x31));
    // IR1 became the lowest: IR3 is served before IR0... and IR1.
    p.raise(0);
    p.raise(3);
    p.raise(1);
    assert_eq!(p.acknowledge(), Some(0x33));
    // Clear rotate in AEOI: the priorities stay where they are.
    wr(&mut p, MASTER_CMD, 0x00);
    assert_eq!(p.acknowledge(), Some(0x30));
    assert_eq!(p.acknowledge(), Some(0x31));
}

#[test]
fn poll_command() {
    let mut p = initialised();
    wr(&mut p, MASTER_CMD, POLL);
    assert_eq!(rd(&mut p, MASTER_CMD), 0x00, "nothing pending");
    p.raise(6);
    wr(&mut p, MASTER_CMD, POLL);
    assert_eq!(rd(&mut p, MASTER_CMD), 0x86);
    assert_eq!(isr(&mut p, MASTER_CMD), 0x40, "the poll acknowledged IR6");
    // The poll lasts one read: the next reads the selected register again.
    wr(&mut p, MASTER_CMD, POLL | READ_ISR);
    assert_eq!(rd(&mut p, MASTER_CMD), 0x00);
    assert_eq!(rd(&mut p, MASTER_CMD), 0x40);
}

#[test]
fn special_mask_mode() {
    let mut p = initialised();
    p.raise(3);
    assert_eq!(p.acknowledge(), Some(0x33));
    p.raise(6);
    assert_eq!(p.pending_vector(), None);
    // Mask IR3 and enter special mask mode: IR6 is no longer blocked.
    wr(&mut p, MASTER_DATA, 0x08);
    wr(&mut p, MASTER_CMD, 0x68);
    assert_eq!(p.acknowledge(), Some(0x36));
    // Leave it: IR3 in service blocks again.
    wr(&mut p, MASTER_CMD, SPECIFIC_EOI | 6);
    wr(&mut p, MASTER_CMD, 0x48);
    p.raise(7);
    assert_eq!(p.pending_vector(), None);
}

#[test]
fn special_fully_nested_mode() {
    // ICW4 with SFNM: a higher-priority slave request nests inside a slave one.
    let mut p = initialised_with(0x11, 0x11);
    p.raise(12);
    assert_eq!(p.acknowledge(), Some(0x3c));
    p.raise(9);
    assert_eq!(p.acknowledge(), Some(0x39));
    // Without SFNM the master's IR2 in service would block it.
    let mut p = initialised();
    p.raise(12);
    assert_eq!(p.acknowledge(), Some(0x3c));
    p.raise(9);
    assert_eq!(p.pending_vector(), None);
}

#[test]
fn spurious_irq15() {
    let mut p = initialised();
    // The master latched its cascade input, and the slave has nothing to give.
    p.master.irr |= 1 << CASCADE_IR;
    assert_eq!(p.pending_vector(), Some(0x3f));
    assert_eq!(p.acknowledge(), Some(0x3f));
    assert_eq!(isr(&mut p, SLAVE_CMD), 0);
    assert_eq!(isr(&mut p, MASTER_CMD), 0x04);
}

#[test]
fn bad_accesses() {
    let mut p = initialised();
    for offset in 0..4u16 {
        for width in [Half, Word, Double] {
            let err = DeviceError::BadWidth {
                offset: offset.into(),
                width,
            };
            assert_eq!(p.read(offset, width), Err(err));
            assert_eq!(p.write(offset, width, 0x11), Err(err));
        }
    }
    for offset in [4u16, 5, 0x80, 0xffff] {
        let err = DeviceError::NoRegister {
            offset: offset.into(),
        };
        assert_eq!(p.read(offset, Byte), Err(err));
        assert_eq!(p.write(offset, Byte, 0x11), Err(err));
    }
    assert_eq!(rd(&mut p, MASTER_DATA), 0, "refused writes changed nothing");
}

#[test]
fn no_sequence_panics() {
    let mut p = Pic8259::new();
    for value in 0..=255u8 {
        for offset in 0..6u16 {
            let _ = p.write(offset, Byte, value.into());
            let _ = p.read(offset, Byte);
            let _ = p.write(offset, Word, u32::MAX);
        }
        p.raise(value);
        p.set_level(value, value & 1 != 0);
        p.set_level(value / 16, value & 2 != 0);
        let _ = p.pending_vector();
        let _ = p.acknowledge();
    }
}

#[test]
fn works_behind_the_port_bus() {
    use crate::{Locked, PortBus};

    let mut bus = PortBus::new();
    bus.insert_windows(&Pic8259::WINDOWS, Box::new(Locked::port(Pic8259::new())))
        .unwrap();
    for (port, value) in [
        (0x20, 0x11),
        (0x21, 0x20),
        (0x21, 0x04),
        (0x21, 0x01),
        (0xa0, 0x11),
        (0xa1, 0x28),
        (0xa1, 0x02),
        (0xa1, 0x01),
        (0x21, 0xfa),
        (0xa1, 0xbf),
    ] {
        bus.write(port, Byte, value).unwrap();
    }
    assert_eq!(bus.read(0x21, Byte), Ok(0xfa));
    assert_eq!(bus.read(0xa1, Byte), Ok(0xbf));
    bus.write(0xa0, Byte, 0x0b).unwrap();
    assert_eq!(bus.read(0xa0, Byte), Ok(0));
    assert_eq!(bus.read_or_open(0x22, Byte), 0xff);
}
