//! The shared console. Output: each VM's text goes out as it is written, with the VM's
//! name as a prefix at every line start; when another VM (or the hypervisor) wrote
//! last and stopped mid-line, a line break comes first, so every line names its VM.
//! Input: bytes typed on the console go to the emulated UART of the VM that has the
//! console, the first running VM with a console; when it ends, the next one has it.

use crate::irq::IrqLine;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use spin::Mutex;
use tessera_vdev::{AccessWidth, CharSink, DeviceError, MmioDevice, Pl011};

/// Who wrote the console's current line.
struct LineState {
    /// The console (by serial number) whose line is open, if one is.
    open: Option<usize>,
}

static LINE: Mutex<LineState> = Mutex::new(LineState { open: None });

/// Numbers the consoles, so output knows whose line is open.
static SERIAL: AtomicUsize = AtomicUsize::new(0);

/// Consoles in creation order, for input.
static INPUTS: Mutex<Vec<ConsoleInput>> = Mutex::new(Vec::new());

/// A VM's console output.
pub struct VmConsole {
    serial: usize,
    prefix: String,
}

impl CharSink for VmConsole {
    fn write_bytes(&mut self, bytes: &[u8]) {
        let mut out = Vec::with_capacity(bytes.len() + self.prefix.len() + 1);
        let mut line = LINE.lock();
        for &byte in bytes {
            if byte == b'\r' {
                continue;
            }
            if line.open.is_some_and(|open| open != self.serial) {
                out.push(b'\n');
                line.open = None;
            }
            if line.open.is_none() {
                out.extend_from_slice(self.prefix.as_bytes());
                line.open = Some(self.serial);
            }
            out.push(byte);
            if byte == b'\n' {
                line.open = None;
            }
        }
        // Written under the line lock so the state matches what is on the console.
        tessera_os::console::write_bytes(&out);
    }
}

/// Closes a VM's open line before the hypervisor prints a line of its own.
pub fn end_guest_line() {
    let mut line = LINE.lock();
    if line.open.take().is_some() {
        tessera_os::console::write_bytes(b"\n");
    }
}

/// Where typed bytes for one VM go.
pub struct ConsoleInput {
    uart: Arc<Mutex<Pl011>>,
    line: Option<IrqLine>,
    vm_id: u64,
}

/// Lets the VM of `input` take console input (once the VM exists).
pub fn register_input(input: ConsoleInput) {
    INPUTS.lock().push(input);
}

/// A VM's emulated PL011 on its bus: the UART model plus its interrupt line.
pub struct UartWindow {
    uart: Arc<Mutex<Pl011>>,
    line: Option<IrqLine>,
}

impl UartWindow {
    /// A console UART for the VM named `name`, interrupting through
    /// `line` when the VM has an interrupt controller.
    pub fn new(name: &str, line: Option<IrqLine>) -> Self {
        let console = VmConsole {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            prefix: alloc::format!("[{name}] "),
        };
        let uart = Arc::new(Mutex::new(Pl011::new(alloc::boxed::Box::new(console))));
        Self { uart, line }
    }

    /// The input side of this UART, for [`register_input`].
    pub fn input(&self, vm_id: u64) -> ConsoleInput {
        ConsoleInput {
            uart: self.uart.clone(),
            line: self.line.clone(),
            vm_id,
        }
    }
}

impl MmioDevice for UartWindow {
    fn name(&self) -> &str {
        "pl011"
    }

    fn read(&mut self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        let mut uart = self.uart.lock();
        let value = uart.read(offset, width);
        update_line(&uart, self.line.as_ref());
        value
    }

    fn write(&mut self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        let mut uart = self.uart.lock();
        let result = uart.write(offset, width, value);
        update_line(&uart, self.line.as_ref());
        result
    }
}

/// Drives the UART's level-sensitive interrupt line from its state.
fn update_line(uart: &Pl011, line: Option<&IrqLine>) {
    if let Some(line) = line {
        line.set_level(uart.interrupt_pending());
    }
}

/// Hands bytes typed on the console to the VM that has it; `running` says whether
/// the VM with an id still runs. Returns the id of the VM that got them.
pub fn deliver_input(bytes: &[u8], running: impl Fn(u64) -> bool) -> Option<u64> {
    let inputs = INPUTS.lock();
    let input = inputs.iter().find(|input| running(input.vm_id))?;
    let mut uart = input.uart.lock();
    for &byte in bytes {
        uart.push_input(byte);
    }
    update_line(&uart, input.line.as_ref());
    Some(input.vm_id)
}
