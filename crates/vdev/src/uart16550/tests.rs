//! Tests of the 16550A register model.

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

fn uart() -> (Uart16550, Capture) {
    let capture = Capture::default();
    (Uart16550::new(Box::new(capture.clone())), capture)
}

fn rd(u: &mut Uart16550, offset: u64) -> u8 {
    u.read(offset, Byte).unwrap() as u8
}

fn wr(u: &mut Uart16550, offset: u64, value: u8) {
    u.write(offset, Byte, value.into()).unwrap();
}

/// A UART set up the way Linux's 8250 driver leaves it: 8N1, FIFOs on, OUT2 and
/// DTR/RTS set, received data and line status interrupts enabled.
fn linux_uart() -> (Uart16550, Capture) {
    let (mut u, c) = uart();
    wr(&mut u, LCR, 0x83);
    wr(&mut u, RBR_THR, 0x01);
    wr(&mut u, IER, 0x00);
    wr(&mut u, LCR, 0x03);
    wr(&mut u, IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX | 0x04);
    wr(&mut u, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
    wr(&mut u, IER, IER_ERBFI | IER_ELSI);
    (u, c)
}

#[test]
fn reset_values() {
    let (mut u, c) = uart();
    let expected = [
        (IER, 0x00),
        (IIR_FCR, IIR_NO_INT),
        (LCR, 0x00),
        (MCR, 0x00),
        (LSR, LSR_THRE | LSR_TEMT),
        (MSR, MSR_IDLE_LINES),
        (SCR, 0x00),
        (RBR_THR, 0x00),
    ];
    for (offset, value) in expected {
        assert_eq!(rd(&mut u, offset), value, "offset {offset:#x}");
    }
    assert_eq!(MSR_IDLE_LINES, 0xb0);
    assert!(!u.interrupt_pending());
    assert!(u.can_take_input());
    assert_eq!(u.name(), "uart16550");
    assert_eq!(Uart16550::SIZE, 0x100);
    assert!(c.taken().is_empty());
}

#[test]
fn transmit_reaches_the_sink() {
    let (mut u, c) = uart();
    for byte in b"hi\n" {
        wr(&mut u, RBR_THR, *byte);
    }
    // Only the low 8 bits are data.
    u.write(RBR_THR, Byte, 0x141).unwrap();
    assert_eq!(c.taken(), b"hi\nA");
    assert_eq!(rd(&mut u, LSR), LSR_THRE | LSR_TEMT);
}

#[test]
fn stored_registers_read_back() {
    let (mut u, _) = uart();
    let cases = [
        (IER, 0xff, 0x0f),
        (LCR, 0x7f, 0x7f),
        (MCR, 0xff, 0x1f),
        (SCR, 0xa5, 0xa5),
    ];
    for (offset, written, read) in cases {
        wr(&mut u, offset, written);
        assert_eq!(rd(&mut u, offset), read, "offset {offset:#x}");
    }
    // Writes to LSR and MSR are accepted and change nothing.
    wr(&mut u, MCR, 0);
    u.read(MSR, Byte).unwrap();
    wr(&mut u, LSR, 0xff);
    wr(&mut u, MSR, 0xff);
    assert_eq!(rd(&mut u, LSR), LSR_THRE | LSR_TEMT);
    assert_eq!(rd(&mut u, MSR), MSR_IDLE_LINES);
}

#[test]
fn divisor_latch_switching() {
    let (mut u, c) = uart();
    wr(&mut u, IER, IER_ERBFI);
    wr(&mut u, LCR, LCR_DLAB | 0x03);
    assert_eq!(rd(&mut u, LCR), 0x83);
    // With DLAB set, offsets 0 and 1 are DLL and DLM.
    assert_eq!((rd(&mut u, RBR_THR), rd(&mut u, IER)), (0, 0));
    wr(&mut u, RBR_THR, 0x0c);
    wr(&mut u, IER, 0x34);
    assert_eq!((rd(&mut u, RBR_THR), rd(&mut u, IER)), (0x0c, 0x34));
    assert!(c.taken().is_empty(), "a DLL write is not transmitted");
    // The other registers do not move.
    wr(&mut u, SCR, 0x5a);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_NO_INT);
    // With DLAB clear, offsets 0 and 1 are the data and interrupt enable registers.
    wr(&mut u, LCR, 0x03);
    assert_eq!(rd(&mut u, IER), IER_ERBFI);
    u.push_input(b'k');
    assert_eq!(rd(&mut u, RBR_THR), b'k');
    wr(&mut u, RBR_THR, b'o');
    assert_eq!(c.taken(), b"o");
    wr(&mut u, LCR, 0x83);
    assert_eq!(
        (rd(&mut u, RBR_THR), rd(&mut u, IER), rd(&mut u, SCR)),
        (0x0c, 0x34, 0x5a)
    );
}

#[test]
fn receive_fifo_depth_and_overrun() {
    let (mut u, _) = linux_uart();
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
    for byte in 0..20u8 {
        assert_eq!(u.can_take_input(), byte < 16, "byte {byte}");
        u.push_input(byte);
    }
    // 16 bytes kept in order, 4 lost; LSR.OE is reported once.
    assert_eq!(rd(&mut u, LSR), LSR_DR | LSR_OE | LSR_THRE | LSR_TEMT);
    assert_eq!(rd(&mut u, LSR), LSR_DR | LSR_THRE | LSR_TEMT);
    let got: Vec<u8> = (0..16).map(|_| rd(&mut u, RBR_THR)).collect();
    assert_eq!(got, (0..16).collect::<Vec<u8>>());
    assert_eq!(rd(&mut u, LSR), LSR_THRE | LSR_TEMT);
    assert_eq!(rd(&mut u, RBR_THR), 0);
    assert!(u.can_take_input());
}

#[test]
fn holding_register_without_fifo() {
    let (mut u, _) = uart();
    u.push_input(b'a');
    assert!(!u.can_take_input());
    // The 16450-mode overrun destroys the unread byte.
    u.push_input(b'b');
    assert_eq!(rd(&mut u, LSR), LSR_DR | LSR_OE | LSR_THRE | LSR_TEMT);
    assert_eq!(rd(&mut u, RBR_THR), b'b');
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
}

#[test]
fn fifo_control() {
    let (mut u, _) = uart();
    wr(&mut u, IIR_FCR, FCR_ENABLE);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_NO_INT);
    u.push_input(1);
    u.push_input(2);
    // Clearing the receive FIFO.
    wr(&mut u, IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX);
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
    // Rewriting FCR.0 keeps the data...
    u.push_input(3);
    wr(&mut u, IIR_FCR, FCR_ENABLE);
    assert_eq!(rd(&mut u, LSR) & LSR_DR, LSR_DR);
    // ...leaving FIFO mode empties the FIFO...
    wr(&mut u, IIR_FCR, 0);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_NO_INT);
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
    // ...and without FCR.0 the other bits are ignored.
    u.push_input(4);
    wr(&mut u, IIR_FCR, FCR_CLEAR_RX);
    assert_eq!(rd(&mut u, RBR_THR), 4);
    // Entering FIFO mode empties the holding register too.
    u.push_input(5);
    wr(&mut u, IIR_FCR, FCR_ENABLE);
    assert_eq!(rd(&mut u, LSR) & LSR_DR, 0);
    // The identification reads the same with DLAB set.
    wr(&mut u, LCR, LCR_DLAB);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_NO_INT);
}

#[test]
fn received_data_interrupt() {
    let (mut u, _) = linux_uart();
    assert!(!u.interrupt_pending());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_NO_INT);
    u.push_input(b'x');
    u.push_input(b'y');
    assert!(u.interrupt_pending());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RDA);
    // Reading the IIR does not clear it; emptying the FIFO does.
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RDA);
    rd(&mut u, RBR_THR);
    assert!(u.interrupt_pending());
    rd(&mut u, RBR_THR);
    assert!(!u.interrupt_pending());
    // Disabled in the IER: data waits without an interrupt.
    wr(&mut u, IER, 0);
    u.push_input(b'z');
    assert!(!u.interrupt_pending());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_NO_INT);
    wr(&mut u, IER, IER_ERBFI);
    assert!(u.interrupt_pending());
}

#[test]
fn transmit_holding_register_empty_interrupt() {
    let (mut u, c) = uart();
    // Enabling ETBEI with the THR empty raises it; reading the IIR clears it.
    wr(&mut u, IER, IER_ETBEI);
    assert!(u.interrupt_pending());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_THRE);
    assert!(!u.interrupt_pending());
    assert_eq!(rd(&mut u, IIR_FCR), IIR_NO_INT);
    // Each THR write empties the THR again at once.
    wr(&mut u, RBR_THR, b'a');
    assert!(u.interrupt_pending());
    wr(&mut u, RBR_THR, b'b');
    assert_eq!(rd(&mut u, IIR_FCR), IIR_THRE);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_NO_INT);
    assert_eq!(c.taken(), b"ab");
    // Rewriting ETBEI while set does not raise it; clearing and setting again does
    // (Linux checks this to decide whether the THRE interrupt works).
    wr(&mut u, IER, IER_ETBEI);
    assert!(!u.interrupt_pending());
    wr(&mut u, IER, 0);
    wr(&mut u, IER, IER_ETBEI);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_THRE);
    // Not enabled: no interrupt.
    wr(&mut u, IER, 0);
    wr(&mut u, RBR_THR, b'c');
    assert!(!u.interrupt_pending());
}

#[test]
fn line_status_interrupt() {
    let (mut u, _) = linux_uart();
    for byte in 0..17 {
        u.push_input(byte);
    }
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RLS);
    // Reading the LSR clears it; the data is still there.
    assert_ne!(rd(&mut u, LSR) & LSR_OE, 0);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RDA);
    // With ELSI clear an overrun shows only in the LSR.
    wr(&mut u, IER, IER_ERBFI);
    u.push_input(99);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RDA);
    assert_ne!(rd(&mut u, LSR) & LSR_OE, 0);
}

#[test]
fn interrupt_priority() {
    let (mut u, _) = uart();
    wr(&mut u, IIR_FCR, FCR_ENABLE);
    wr(&mut u, IER, IER_ERBFI | IER_ETBEI | IER_ELSI | IER_EDSSI);
    // THRE (from enabling ETBEI) and a modem status change (entering loopback).
    wr(&mut u, MCR, MCR_LOOP);
    for byte in 0..17 {
        u.push_input(byte);
    }
    // Line status first.
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RLS);
    rd(&mut u, LSR);
    // Then received data; reading the IIR leaves the lower THRE pending.
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RDA);
    for _ in 0..16 {
        rd(&mut u, RBR_THR);
    }
    // Then THRE, cleared by the read that reports it.
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_THRE);
    // Then modem status, cleared by reading the MSR.
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_MSI);
    assert!(u.interrupt_pending());
    assert_eq!(
        rd(&mut u, MSR),
        MSR_DCTS | MSR_DDSR | MSR_DDCD,
        "all lines dropped"
    );
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_NO_INT);
    assert!(!u.interrupt_pending());
}

#[test]
fn loopback() {
    let (mut u, c) = linux_uart();
    wr(&mut u, MCR, MCR_LOOP | MCR_OUT2);
    wr(&mut u, RBR_THR, b'q');
    assert!(c.taken().is_empty());
    assert_eq!(rd(&mut u, LSR) & LSR_DR, LSR_DR);
    assert_eq!(rd(&mut u, IIR_FCR), IIR_FIFOS | IIR_RDA);
    assert_eq!(rd(&mut u, RBR_THR), b'q');
    // Looped bytes overrun like received ones.
    for byte in 0..17 {
        wr(&mut u, RBR_THR, byte);
    }
    assert_ne!(rd(&mut u, LSR) & LSR_OE, 0);
    // Leaving loopback: transmission reaches the sink again.
    wr(&mut u, MCR, MCR_OUT2);
    wr(&mut u, RBR_THR, b'r');
    assert_eq!(c.taken(), b"r");
}

#[test]
fn loopback_modem_status() {
    let (mut u, _) = uart();
    // The probe Linux's 8250 driver runs: loopback with RTS and OUT2 reads CTS and DCD.
    wr(&mut u, MCR, MCR_LOOP | 0x0a);
    assert_eq!(rd(&mut u, MSR) & 0xf0, 0x90);
    let cases = [
        (MCR_RTS, MSR_CTS),
        (MCR_DTR, MSR_DSR),
        (MCR_OUT1, MSR_RI),
        (MCR_OUT2, MSR_DCD),
    ];
    for (output, input) in cases {
        wr(&mut u, MCR, MCR_LOOP);
        rd(&mut u, MSR);
        wr(&mut u, MCR, MCR_LOOP | output);
        let delta = if input == MSR_RI { 0 } else { input >> 4 };
        assert_eq!(rd(&mut u, MSR), input | delta, "MCR {output:#x}");
        assert_eq!(rd(&mut u, MSR), input, "deltas clear on read");
    }
    // RI reports its trailing edge.
    wr(&mut u, MCR, MCR_LOOP | MCR_OUT1);
    rd(&mut u, MSR);
    wr(&mut u, MCR, MCR_LOOP);
    assert_eq!(rd(&mut u, MSR), MSR_TERI);
    // Leaving loopback restores the idle modem.
    wr(&mut u, MCR, 0);
    assert_eq!(
        rd(&mut u, MSR),
        MSR_IDLE_LINES | MSR_DCTS | MSR_DDSR | MSR_DDCD
    );
    assert_eq!(rd(&mut u, MSR), MSR_IDLE_LINES);
    // Outside loopback the outputs do not show.
    wr(&mut u, MCR, MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2);
    assert_eq!(rd(&mut u, MSR), MSR_IDLE_LINES);
}

#[test]
fn bad_accesses() {
    let (mut u, c) = uart();
    for offset in 0..8 {
        for width in [Half, Word, Double] {
            let err = DeviceError::BadWidth { offset, width };
            assert_eq!(u.read(offset, width), Err(err));
            assert_eq!(u.write(offset, width, 0x41), Err(err));
        }
    }
    for offset in [8, 9, 0x10, 0x14, 0xff, 0x100, u64::MAX] {
        let err = DeviceError::NoRegister { offset };
        assert_eq!(u.read(offset, Byte), Err(err));
        assert_eq!(u.write(offset, Byte, 0x41), Err(err));
    }
    assert!(c.taken().is_empty());
}

#[test]
fn no_offset_or_width_panics() {
    let (mut u, _) = uart();
    for offset in (0..0x110).chain([u64::MAX - 1, u64::MAX]) {
        for width in [Byte, Half, Word, Double] {
            let _ = u.read(offset, width);
            let _ = u.write(offset, width, u64::MAX);
        }
    }
}

#[test]
fn works_behind_the_bus() {
    use crate::{Locked, MmioBus};
    use tessera_addr::{GuestPhysAddr, GuestRange};

    let (u, c) = uart();
    let mut bus = MmioBus::new();
    let base = GuestPhysAddr::new(0x1000_0000);
    bus.insert(
        GuestRange::new(base, Uart16550::SIZE),
        Box::new(Locked::mmio(u)),
    )
    .unwrap();
    bus.write(base, Byte, u64::from(b'!')).unwrap();
    assert_eq!(c.taken(), b"!");
    let lsr = bus.read(GuestPhysAddr::new(0x1000_0005), Byte);
    assert_eq!(lsr, Ok(u64::from(LSR_THRE | LSR_TEMT)));
    let err = bus.read(base, Word).unwrap_err();
    assert_eq!(
        err.to_string(),
        "device uart16550 at 0x10000000: 32-bit access not supported at offset 0x0"
    );
}

#[test]
fn works_on_ports_as_com1() {
    use crate::{BusError, Locked, OnPorts, PortBus, PortDevice};

    let (u, c) = uart();
    let u = OnPorts(u);
    assert_eq!(PortDevice::name(&u), "uart16550");
    let mut bus = PortBus::new();
    bus.insert(Uart16550::COM1, Box::new(Locked::port(u)))
        .unwrap();
    assert_eq!((Uart16550::COM1.base, Uart16550::COM1.count), (0x3f8, 8));
    assert_eq!(Uart16550::COM1_IRQ, 4);
    // Linux's 8250 set-up through ports: 115200 8N1, FIFOs, OUT2, RX interrupts.
    for (port, value) in [
        (0x3fb, 0x83),
        (0x3f8, 0x01),
        (0x3f9, 0x00),
        (0x3fb, 0x03),
        (0x3fa, 0x07),
        (0x3fc, 0x0b),
        (0x3f9, 0x05),
    ] {
        bus.write(port, Byte, value).unwrap();
    }
    assert_eq!(bus.read(0x3fb, Byte), Ok(0x03));
    assert_eq!(bus.read(0x3f9, Byte), Ok(0x05));
    assert_eq!(bus.read(0x3fa, Byte), Ok(u32::from(IIR_NO_INT | IIR_FIFOS)));
    for byte in *b"ok\n" {
        bus.write(0x3f8, Byte, byte.into()).unwrap();
    }
    assert_eq!(c.taken(), b"ok\n");
    assert_eq!(bus.read(0x3fd, Byte), Ok(u32::from(LSR_THRE | LSR_TEMT)));
    bus.write(0x3ff, Byte, 0x5a).unwrap();
    assert_eq!(bus.read(0x3ff, Byte), Ok(0x5a));
    let err = bus.read(0x3f8, Half).unwrap_err();
    assert_eq!(
        err,
        BusError::PortDevice {
            device: "uart16550".into(),
            port: 0x3f8,
            error: DeviceError::BadWidth {
                offset: 0,
                width: Half
            },
        }
    );
    assert_eq!(bus.read_or_open(0x3f8, Word), 0xffff_ffff);
}

#[test]
fn port_accesses_match_mmio_accesses() {
    use crate::{OnPorts, PortDevice};

    let (u, _) = uart();
    let mut u = OnPorts(u);
    for offset in 0..0x20u16 {
        for width in [Byte, Half, Word, Double] {
            let by_mmio = MmioDevice::read(&mut u.0, offset.into(), width);
            let by_port = PortDevice::read(&mut u, offset, width);
            assert_eq!(by_port, by_mmio.map(|v| v as u32), "{offset:#x} {width}");
        }
    }
    assert_eq!(
        PortDevice::write(&mut u, 9, Byte, 0),
        Err(DeviceError::NoRegister { offset: 9 })
    );
    PortDevice::write(&mut u, 0x7, Byte, 0x1ab).unwrap();
    assert_eq!(rd(&mut u.0, SCR), 0xab);
}

#[test]
fn firmware_console_takes_typed_bytes_in_order() {
    let (mut u, _) = linux_uart();
    assert_eq!(u.take_input(), None);
    u.push_input(b'h');
    u.push_input(b'i');
    assert!(u.interrupt_pending());
    assert_eq!(u.take_input(), Some(b'h'));
    assert_eq!(u.take_input(), Some(b'i'));
    assert_eq!(u.take_input(), None);
    assert!(!u.interrupt_pending(), "nothing left to receive");
}
