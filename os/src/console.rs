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
        crate::hal::console_write(s.as_bytes());
        Ok(())
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
    crate::hal::console_write(bytes);
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
