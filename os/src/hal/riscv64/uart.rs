//! The ns16550a UART of the console: polled output, interrupt-driven input.

use crate::platform::UART_BASE;

/// Receive buffer / transmit holding register.
const RBR_THR: usize = 0;
/// Interrupt enable register; ERBFI (received data available).
const IER: usize = 1;
const IER_ERBFI: u8 = 1;
/// Line status register: data ready (0), transmit holding register empty (5).
const LSR: usize = 5;
const LSR_DR: u8 = 1;
const LSR_THRE: u8 = 1 << 5;

fn reg(offset: usize) -> *mut u8 {
    (UART_BASE as usize + offset) as *mut u8
}

/// Writes one byte to the UART, waiting while its transmitter is full.
pub fn console_put(byte: u8) {
    // SAFETY: UART_BASE is the platform's 16550, identity-mapped; callers hold the
    // console lock, so only one hart touches the transmitter at a time.
    unsafe {
        while core::ptr::read_volatile(reg(LSR)) & LSR_THRE == 0 {
            core::hint::spin_loop();
        }
        core::ptr::write_volatile(reg(RBR_THR), byte);
    }
}

/// Makes the UART interrupt when input arrives.
pub fn enable_input_interrupt() {
    // SAFETY: as in `put`; only the boot hart calls this, once.
    unsafe { core::ptr::write_volatile(reg(IER), IER_ERBFI) };
}

/// The next byte typed on the console, if one waits.
pub fn console_read() -> Option<u8> {
    // SAFETY: as in `put`; only the hart taking the UART interrupt reads input.
    unsafe {
        if core::ptr::read_volatile(reg(LSR)) & LSR_DR == 0 {
            return None;
        }
        Some(core::ptr::read_volatile(reg(RBR_THR)))
    }
}
