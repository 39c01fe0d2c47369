//! Polled PL011 UART output for the hypervisor console.

use crate::platform::UART_BASE;

/// Data register offset.
const UARTDR: usize = 0x00;
/// Flag register offset.
const UARTFR: usize = 0x18;
/// UARTFR: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;

/// Writes bytes to the UART, turning `\n` into `\r\n`.
pub fn console_write(bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'\n' {
            put(b'\r');
        }
        put(byte);
    }
}

fn put(byte: u8) {
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
