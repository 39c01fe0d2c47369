//! Polled PL011 UART output for the hypervisor console.

use crate::platform::UART_BASE;

/// Data register offset.
const UARTDR: usize = 0x00;
/// Flag register offset.
const UARTFR: usize = 0x18;
/// UARTFR: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;
/// UARTFR: receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;
/// Interrupt mask set/clear register offset.
const UARTIMSC: usize = 0x38;
/// Interrupt clear register offset.
const UARTICR: usize = 0x44;
/// UARTIMSC/UARTICR: receive (RXIM, bit 4) and receive timeout (RTIM, bit 6).
const INT_RX_AND_TIMEOUT: u32 = (1 << 4) | (1 << 6);

fn reg(offset: usize) -> *mut u32 {
    (UART_BASE as usize + offset) as *mut u32
}

/// Makes the UART interrupt when input arrives.
pub fn enable_input_interrupt() {
    // SAFETY: UART_BASE is the platform's PL011, identity-mapped as device memory;
    // only the boot CPU calls this, once, before input is read.
    unsafe {
        core::ptr::write_volatile(reg(UARTICR), INT_RX_AND_TIMEOUT);
        core::ptr::write_volatile(reg(UARTIMSC), INT_RX_AND_TIMEOUT);
    }
}

/// The next byte typed on the console, if one waits.
pub fn console_read() -> Option<u8> {
    // SAFETY: as in `enable_input_interrupt`; reading UARTDR takes one byte from the
    // receive FIFO, which only the CPU taking the UART interrupt does.
    unsafe {
        if core::ptr::read_volatile(reg(UARTFR)) & FR_RXFE != 0 {
            return None;
        }
        Some(core::ptr::read_volatile(reg(UARTDR)) as u8)
    }
}

/// Writes one byte to the UART, waiting while its transmitter is full.
pub fn console_put(byte: u8) {
    let base = UART_BASE as usize;
    // SAFETY: UART_BASE is the platform's PL011, identity-mapped as device memory;
    // callers hold the console lock, so only one CPU touches the UART at a time.
    unsafe {
        while core::ptr::read_volatile((base + UARTFR) as *const u32) & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        core::ptr::write_volatile((base + UARTDR) as *mut u32, u32::from(byte));
    }
}
