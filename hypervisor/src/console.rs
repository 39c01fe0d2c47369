//! The shared console. Output: each VM's text is kept until its line ends, then
//! written whole with the VM's name as a prefix; a VM that stops mid-line (a shell
//! prompt) has its partial line shown when its vCPU goes idle, and the line carries
//! on there unless another VM writes first. So lines of different VMs never mix, and
//! every line names its VM. Input: bytes typed on the console go to the emulated UART
//! of the VM that has the console, the first running VM with a console; when it ends,
//! the next one has it.

use crate::arch::{self, IrqLine};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use spin::Mutex;
use tessera_vdev::{AccessWidth, CharSink, DeviceError, FirmwareConsole, SerialPort, SharedMmio};

/// Longest line kept before it is written without its end.
const MAX_LINE: usize = 256;

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

/// A VM's console output: the line it is writing.
pub struct ConsoleOutput {
    serial: usize,
    prefix: String,
    line: Vec<u8>,
    /// Whether `line` holds bytes, readable without the output's lock.
    partial: Arc<AtomicBool>,
}

impl ConsoleOutput {
    /// Writes the kept bytes; `complete` when they end the line.
    fn emit(&mut self, complete: bool) {
        if self.line.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.prefix.len() + self.line.len() + 1);
        let mut state = LINE.lock();
        if state.open != Some(self.serial) {
            if state.open.is_some() {
                out.push(b'\n');
            }
            out.extend_from_slice(self.prefix.as_bytes());
        }
        out.extend_from_slice(&self.line);
        state.open = (!complete).then_some(self.serial);
        // Written under the line lock so the state matches what is on the console.
        tessera_os::console::write_bytes(&out);
        self.line.clear();
        self.partial.store(false, Ordering::Relaxed);
    }

    /// Shows a partial line (the VM is waiting, perhaps after a prompt).
    pub fn flush(&mut self) {
        self.emit(false);
    }
}

/// The sink a VM's UART writes to.
struct VmConsole(Arc<Mutex<ConsoleOutput>>);

impl CharSink for VmConsole {
    fn write_bytes(&mut self, bytes: &[u8]) {
        let mut output = self.0.lock();
        for &byte in bytes {
            if byte == b'\r' {
                continue;
            }
            output.line.push(byte);
            if byte == b'\n' {
                output.emit(true);
            } else if output.line.len() >= MAX_LINE {
                output.emit(false);
            }
        }
        let partial = !output.line.is_empty();
        output.partial.store(partial, Ordering::Relaxed);
    }
}

/// Closes a VM's open line before the hypervisor prints a line of its own.
pub fn end_guest_line() {
    let mut line = LINE.lock();
    if line.open.take().is_some() {
        tessera_os::console::write_bytes(b"\n");
    }
}

/// Most typed bytes kept for a VM whose UART is full; more are dropped.
const BACKLOG_LIMIT: usize = 4096;

/// A console UART, the typed bytes waiting for room in its receive FIFO, and its
/// interrupt line with the level last driven on it.
struct SharedUart {
    uart: Box<dyn SerialPort>,
    backlog: VecDeque<u8>,
    line: Option<IrqLine>,
    level: bool,
}

impl SharedUart {
    /// Drives the UART's level-sensitive interrupt line from its state, when the
    /// level changed.
    fn update_line(&mut self) {
        let level = self.uart.interrupt_pending();
        if level != self.level
            && let Some(line) = &self.line
        {
            line.set_level(level);
            self.level = level;
        }
    }

    /// Moves waiting bytes into the receive FIFO while it has room.
    fn refill(&mut self) {
        while self.uart.can_take_input() {
            let Some(byte) = self.backlog.pop_front() else {
                break;
            };
            self.uart.push_input(byte);
        }
    }
}

/// Where typed bytes for one VM go.
pub struct ConsoleInput {
    uart: Arc<Mutex<SharedUart>>,
    vm_id: u64,
}

/// Lets the VM of `input` take console input (once the VM exists).
pub fn register_input(input: ConsoleInput) {
    INPUTS.lock().push(input);
}

/// A VM's emulated console UART on its bus: the model plus its interrupt line.
pub struct UartWindow {
    uart: Arc<Mutex<SharedUart>>,
    output: Arc<Mutex<ConsoleOutput>>,
}

impl UartWindow {
    /// A console UART for the VM named `name`, interrupting through
    /// `line` when the VM has an interrupt controller.
    pub fn new(name: &str, line: Option<IrqLine>) -> Self {
        let output = Arc::new(Mutex::new(ConsoleOutput {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            prefix: alloc::format!("[{name}] "),
            line: Vec::new(),
            partial: Arc::new(AtomicBool::new(false)),
        }));
        let sink = VmConsole(output.clone());
        let uart = Arc::new(Mutex::new(SharedUart {
            uart: arch::new_console_port(Box::new(sink)),
            backlog: VecDeque::new(),
            line,
            level: false,
        }));
        Self { uart, output }
    }

    /// The same console as firmware calls reach it (SBI debug console): its output
    /// and this UART's typed input.
    pub fn firmware_console(&self) -> SharedConsole {
        SharedConsole {
            uart: self.uart.clone(),
            partial: self.output.lock().partial.clone(),
            output: self.output.clone(),
        }
    }

    /// The input side of this UART, for [`register_input`].
    pub fn input(&self, vm_id: u64) -> ConsoleInput {
        ConsoleInput {
            uart: self.uart.clone(),
            vm_id,
        }
    }
}

impl SharedMmio for UartWindow {
    fn name(&self) -> &'static str {
        "console"
    }

    fn read(&self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        let mut shared = self.uart.lock();
        let value = shared.uart.read(offset, width);
        shared.refill();
        shared.update_line();
        value
    }

    fn write(&self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        let mut shared = self.uart.lock();
        let result = shared.uart.write(offset, width, value);
        shared.update_line();
        result
    }
}

/// A VM's console reached through firmware calls rather than its UART registers.
pub struct SharedConsole {
    uart: Arc<Mutex<SharedUart>>,
    output: Arc<Mutex<ConsoleOutput>>,
    /// The output's partial-line flag.
    partial: Arc<AtomicBool>,
}

impl FirmwareConsole for SharedConsole {
    fn write(&self, bytes: &[u8]) {
        VmConsole(self.output.clone()).write_bytes(bytes);
    }

    fn flush(&self) {
        self.output.lock().flush();
    }

    fn holds_partial_line(&self) -> bool {
        self.partial.load(Ordering::Relaxed)
    }

    fn read(&self, buf: &mut [u8]) -> usize {
        let mut shared = self.uart.lock();
        let mut count = 0;
        for slot in buf.iter_mut() {
            // Bytes already in the UART's FIFO come before those still waiting.
            shared.refill();
            let Some(byte) = shared.uart.take_input() else {
                break;
            };
            *slot = byte;
            count += 1;
        }
        shared.refill();
        shared.update_line();
        count
    }
}

/// Hands bytes typed on the console to the VM that has it; `running` says whether
/// the VM with an id still runs. Returns the id of the VM that got them.
pub fn deliver_input(bytes: &[u8], running: impl Fn(u64) -> bool) -> Option<u64> {
    let inputs = INPUTS.lock();
    let input = inputs.iter().find(|input| running(input.vm_id))?;
    let mut shared = input.uart.lock();
    let room = BACKLOG_LIMIT.saturating_sub(shared.backlog.len());
    shared.backlog.extend(bytes.iter().take(room));
    shared.refill();
    shared.update_line();
    Some(input.vm_id)
}
