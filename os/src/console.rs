//! The hypervisor's console: formatted output to the platform UART, one line at a
//! time under a lock so lines from different CPUs never interleave.

use core::fmt::{self, Write};
use spin::Mutex;

/// Serialises output from all CPUs.
static CONSOLE_LOCK: Mutex<()> = Mutex::new(());

/// Writes through the HAL's UART.
struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_translated(s.as_bytes());
        Ok(())
    }
}

/// Writes bytes through the HAL's UART, turning `\n` into `\r\n`; the caller holds
/// the console lock.
fn write_translated(bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'\n' {
            crate::hal::console_put(b'\r');
        }
        crate::hal::console_put(byte);
    }
}

/// Writes formatted text atomically with respect to other CPUs.
pub fn print(args: fmt::Arguments<'_>) {
    let _guard = CONSOLE_LOCK.lock();
    let _ = Uart.write_fmt(args);
}

/// Writes raw bytes (a guest's console output) atomically with respect to other CPUs.
pub fn write_bytes(bytes: &[u8]) {
    let _guard = CONSOLE_LOCK.lock();
    write_translated(bytes);
}

/// Prints to the hypervisor console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the hypervisor console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
