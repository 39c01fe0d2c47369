//! The shared console, in front of one of three things ([`Front`]). All together
//! (at boot) and with the hypervisor shell in front, each VM's text is kept until its
//! line ends, then written whole with the VM's name as a prefix; a VM that stops
//! mid-line (a shell prompt) has its partial line shown when its vCPU goes idle, and
//! the line carries on there unless another VM writes first. So lines of different
//! VMs never mix, and every line names its VM. With one VM in front, its bytes go to
//! the console as they are (escape sequences and all) and the others' only to their
//! histories. Every VM's output is kept in a bounded history, shown when the console
//! moves to it. Input: Ctrl+X and a key move the console ([`tessera_shell::ConsoleKeys`]);
//! other typed bytes go to the shell's line editor, to the VM in front, or (all
//! together) to the first running VM with a console.

use crate::arch::{self, IrqLine};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use spin::Mutex;
use tessera_shell::{ConsoleKeys, History, Key, LineEditor, PROMPT, Switch};
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

/// Bytes of console output kept per VM, and how many of them are shown when the
/// console moves to it.
const HISTORY_BYTES: usize = 64 * 1024;
const SHOWN_BYTES: usize = 4 * 1024;

/// Who the console is in front of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// Every VM, each line prefixed; typed bytes to the first running VM with a
    /// console (the console at boot).
    Together,
    /// The hypervisor shell; VM lines shown as all together.
    Shell,
    /// The VM with this id: its bytes raw, typed bytes to it.
    Vm(u64),
}

/// [`Front`] as a word: `u64::MAX` all together, `u64::MAX - 1` the shell, else a VM id.
static FRONT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Where the console is now.
pub fn front() -> Front {
    match FRONT.load(Ordering::Acquire) {
        u64::MAX => Front::Together,
        SHELL_FRONT => Front::Shell,
        id => Front::Vm(id),
    }
}

const SHELL_FRONT: u64 = u64::MAX - 1;

fn set_front(front: Front) {
    let word = match front {
        Front::Together => u64::MAX,
        Front::Shell => SHELL_FRONT,
        Front::Vm(id) => id,
    };
    FRONT.store(word, Ordering::Release);
}

/// A VM's console output: the line it is writing, and its history.
pub struct ConsoleOutput {
    serial: usize,
    vm_id: u64,
    name: String,
    prefix: String,
    line: Vec<u8>,
    /// Whether `line` holds bytes, readable without the output's lock.
    partial: Arc<AtomicBool>,
    history: History,
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
        output.history.push(bytes);
        match front() {
            Front::Vm(id) if id == output.vm_id => {
                tessera_os::console::write_bytes(bytes);
                return;
            }
            Front::Vm(_) => return,
            Front::Together | Front::Shell => {}
        }
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

/// Where typed bytes for one VM go, and its output (for its history).
pub struct ConsoleInput {
    uart: Arc<Mutex<SharedUart>>,
    output: Arc<Mutex<ConsoleOutput>>,
    vm_id: u64,
}

/// Lets the VM of `input` take console input (once the VM exists).
pub fn register_input(input: ConsoleInput) {
    INPUTS.lock().push(input);
}

/// Takes VM `id`'s console input away (the VM is gone); a console in front of it
/// goes back to the shell.
pub fn unregister_input(id: u64) {
    INPUTS.lock().retain(|input| input.vm_id != id);
    if front() == Front::Vm(id) {
        set_front(Front::Shell);
    }
}

/// A VM's emulated console UART on its bus: the model plus its interrupt line.
pub struct UartWindow {
    uart: Arc<Mutex<SharedUart>>,
    output: Arc<Mutex<ConsoleOutput>>,
}

impl UartWindow {
    /// A console UART for VM `vm_id` named `name`, interrupting through `line` when
    /// the VM has an interrupt controller.
    pub fn new(vm_id: u64, name: &str, line: Option<IrqLine>) -> Self {
        let output = Arc::new(Mutex::new(ConsoleOutput {
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            vm_id,
            name: String::from(name),
            prefix: alloc::format!("[{name}] "),
            line: Vec::new(),
            partial: Arc::new(AtomicBool::new(false)),
            history: History::new(HISTORY_BYTES),
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
    pub fn input(&self) -> ConsoleInput {
        ConsoleInput {
            uart: self.uart.clone(),
            output: self.output.clone(),
            vm_id: self.output.lock().vm_id,
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

/// The console's keys and the shell's line being typed.
static TYPING: Mutex<Typing> = Mutex::new(Typing {
    keys: ConsoleKeys::new(),
    editor: LineEditor::new(),
});

struct Typing {
    keys: ConsoleKeys,
    editor: LineEditor,
}

/// What typed bytes asked for: the VM whose UART got bytes (its vCPUs are kicked),
/// and the lines typed at the shell, to run.
#[derive(Default)]
pub struct Typed {
    /// The VM that got bytes.
    pub vm: Option<u64>,
    /// Lines typed at the shell.
    pub lines: Vec<String>,
}

/// Hands bytes typed on the console on: console moves, the shell's line editor, or
/// the UART of the VM they are for; `running` says whether the VM with an id runs.
pub fn take_input(bytes: &[u8], running: impl Fn(u64) -> bool) -> Typed {
    let mut typed = Typed::default();
    let mut typing = TYPING.lock();
    let mut to_vm: Vec<u8> = Vec::new();
    let mut echo = Vec::new();
    for &byte in bytes {
        match typing.keys.feed(byte) {
            Key::Nothing => {}
            Key::Switch(switch) => {
                typed.vm = deliver(&to_vm, &running).or(typed.vm);
                to_vm.clear();
                if move_console(switch) == Front::Shell {
                    write_prompt(typing.editor.pending());
                }
            }
            Key::Byte(byte) if front() == Front::Shell => {
                if let Some(line) = typing.editor.feed(byte, &mut echo) {
                    typed.lines.push(line);
                }
            }
            Key::Byte(byte) => to_vm.push(byte),
        }
    }
    if !echo.is_empty() {
        tessera_os::console::write_bytes(&echo);
    }
    typed.vm = deliver(&to_vm, &running).or(typed.vm);
    typed
}

/// Gives `bytes` to the VM in front, or all together to the first running VM with a
/// console; the VM that got them.
fn deliver(bytes: &[u8], running: &impl Fn(u64) -> bool) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    let inputs = INPUTS.lock();
    let input = match front() {
        Front::Vm(id) => inputs.iter().find(|input| input.vm_id == id)?,
        Front::Together => inputs.iter().find(|input| running(input.vm_id))?,
        Front::Shell => return None,
    };
    let mut shared = input.uart.lock();
    let room = BACKLOG_LIMIT.saturating_sub(shared.backlog.len());
    shared.backlog.extend(bytes.iter().take(room));
    shared.refill();
    shared.update_line();
    Some(input.vm_id)
}

/// Moves the console as Ctrl+X and a key asked (the VMs with a console in id order);
/// where it is now.
fn move_console(switch: Switch) -> Front {
    let mut ids: Vec<u64> = INPUTS.lock().iter().map(|input| input.vm_id).collect();
    ids.sort_unstable();
    let at = match front() {
        Front::Vm(id) => ids.iter().position(|&other| other == id),
        Front::Together | Front::Shell => None,
    };
    let to = match (switch, at) {
        (Switch::Shell, _) => None,
        (Switch::Next, Some(at)) => ids.get((at + 1) % ids.len()).copied(),
        (Switch::Next, None) => ids.first().copied(),
        (Switch::Previous, Some(at)) => ids.get((at + ids.len() - 1) % ids.len()).copied(),
        (Switch::Previous, None) => ids.last().copied(),
    };
    // `to` is a VM with a console: it is shown.
    match to {
        Some(id) => {
            show_vm(id);
        }
        None => {
            end_guest_line();
            set_front(Front::Shell);
            tessera_os::console::write_bytes(
                b"\r\ntessera: console: the hypervisor shell (Ctrl+X n: a VM's console; `help`)\r\n",
            );
        }
    }
    front()
}

/// Shows the shell's prompt and what was typed of its line (from outside typing).
pub fn prompt() {
    write_prompt(TYPING.lock().editor.pending());
}

/// Writes the prompt, then `pending`.
fn write_prompt(pending: &str) {
    tessera_os::console::write_bytes(PROMPT.as_bytes());
    tessera_os::console::write_bytes(pending.as_bytes());
}

/// Puts VM `id`'s console in front, showing the recent part of its history; whether
/// it has a console.
pub fn show_vm(id: u64) -> bool {
    let inputs = INPUTS.lock();
    let Some(input) = inputs.iter().find(|input| input.vm_id == id) else {
        return false;
    };
    end_guest_line();
    let output = input.output.lock();
    set_front(Front::Vm(id));
    let banner = alloc::format!(
        "\r\ntessera: console: VM {id} ({}) (Ctrl+X s: the shell, n/p: the other VMs)\r\n",
        output.name
    );
    tessera_os::console::write_bytes(banner.as_bytes());
    tessera_os::console::write_bytes(&output.history.recent(SHOWN_BYTES));
    true
}
