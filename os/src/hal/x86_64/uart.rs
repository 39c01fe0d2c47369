//! The console: the PC's COM1, an ns16550 on I/O ports, polled for output, with a
//! receive interrupt for input (ISA IRQ 4 through the I/O APIC).

use super::io::{inb, outb};
use crate::platform::UART_BASE;

/// Register offsets and bits of the 16550.
const THR: u16 = 0;
const RBR: u16 = 0;
const IER: u16 = 1;
const FCR: u16 = 2;
const LCR: u16 = 3;
const MCR: u16 = 4;
const LSR: u16 = 5;
const LSR_DATA_READY: u8 = 1;
const LSR_THR_EMPTY: u8 = 1 << 5;
/// IER: received-data-available interrupt.
const IER_RX: u8 = 1;
/// MCR: DTR, RTS and OUT2 (which gates the interrupt line on a PC).
const MCR_DTR_RTS_OUT2: u8 = 0b1011;

/// The port of register `offset`.
fn port(offset: u16) -> u16 {
    UART_BASE as u16 + offset
}

/// Sets 115200 8N1 with FIFOs on; called once on the boot CPU before any output.
pub fn init() {
    outb(port(IER), 0);
    outb(port(LCR), 0x80);
    outb(port(0), 1);
    outb(port(1), 0);
    outb(port(LCR), 0x03);
    outb(port(FCR), 0x07);
    outb(port(MCR), MCR_DTR_RTS_OUT2);
}

/// Writes one byte, waiting for room in the transmitter.
pub fn console_put(byte: u8) {
    while inb(port(LSR)) & LSR_THR_EMPTY == 0 {
        core::hint::spin_loop();
    }
    outb(port(THR), byte);
}

/// One received byte, if any.
pub fn console_read() -> Option<u8> {
    (inb(port(LSR)) & LSR_DATA_READY != 0).then(|| inb(port(RBR)))
}

/// Lets received bytes raise the UART's interrupt.
pub fn enable_input_interrupt() {
    outb(port(IER), IER_RX);
}
