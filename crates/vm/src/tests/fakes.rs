//! The fake architecture the host tests run the VM layer on: a vCPU that replays
//! scripted exits, an interrupt controller that keeps a pending bit per vCPU, a host
//! that records kicks, devices, and VMs built from them.

use crate::*;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_vcpu::{AccessWidth, ArchVcpu, CallAnswer, VcpuError, VcpuExit};
use tessera_vdev::{
    AcpiPmControl, DeviceError, FirmwareConsole, Locked, MmioDevice, PortBus, PortDevice,
    PortRange, PowerLatch, ResetControl,
};

/// The fake architecture.
pub(super) struct FakeArch;

impl Arch for FakeArch {
    type Vcpu = FakeVcpu;
    type IrqChip = FakeIrqChip;
}

/// Pending interrupts (a bit per vCPU) and the vCPUs whose state changed.
#[derive(Default)]
pub(super) struct IrqState {
    pub pending: AtomicU64,
    pub changed: AtomicU64,
    pub resets: AtomicU32,
}

/// An interrupt controller with one interrupt per vCPU; an IPI's request word is
/// the bit mask of its targets.
#[derive(Clone, Default)]
pub(super) struct FakeIrqChip(pub Arc<IrqState>);

impl FakeIrqChip {
    /// Makes the interrupt of the vCPUs in `mask` pending (a timer or device).
    pub fn raise(&self, mask: u64) {
        self.0.pending.fetch_or(mask, Ordering::AcqRel);
        self.0.changed.fetch_or(mask, Ordering::AcqRel);
    }
}

impl InterruptController<FakeVcpu> for FakeIrqChip {
    fn reset(&self) {
        self.0.pending.store(0, Ordering::Release);
        self.0.resets.fetch_add(1, Ordering::Relaxed);
    }
    fn has_work(&self, index: usize, vcpu: &FakeVcpu) -> bool {
        vcpu.timer_due || self.0.pending.load(Ordering::Acquire) & (1 << index) != 0
    }
    fn deliver(&self, index: usize, vcpu: &mut FakeVcpu, _linked: &[u32]) {
        let bit = 1u64 << index;
        if self.0.pending.fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
            vcpu.interrupts += 1;
        }
    }
    fn send_ipi(&self, _sender: usize, value: u64) -> u64 {
        self.0.pending.fetch_or(value, Ordering::AcqRel);
        value
    }
    fn take_kicks(&self) -> u64 {
        self.0.changed.swap(0, Ordering::AcqRel)
    }
}

/// A physical CPU that records what the loop asked of it.
#[derive(Default)]
pub(super) struct FakeHost {
    pub cpu: usize,
    pub kicks: RefCell<Vec<Option<usize>>>,
    pub interrupts_taken: Cell<u32>,
}

impl FakeHost {
    /// Physical CPU `cpu`.
    pub fn on(cpu: usize) -> Self {
        Self {
            cpu,
            ..Self::default()
        }
    }
}

impl Host for FakeHost {
    fn cpu(&self) -> usize {
        self.cpu
    }
    fn kick(&self, cpu: Option<usize>) {
        self.kicks.borrow_mut().push(cpu);
    }
    fn take_interrupts(&self) {
        self.interrupts_taken.set(self.interrupts_taken.get() + 1);
    }
}

/// A device whose register write raises the interrupts of the vCPUs in the value.
pub(super) struct Doorbell(pub FakeIrqChip);

impl MmioDevice for Doorbell {
    fn name(&self) -> &'static str {
        "doorbell"
    }
    fn read(&mut self, _offset: u64, _width: AccessWidth) -> Result<u64, DeviceError> {
        Ok(0)
    }
    fn write(&mut self, _offset: u64, _width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        self.0.raise(value);
        Ok(())
    }
}

/// A vCPU that replays a script of exits (then waits for an interrupt) and keeps
/// what the VM layer told it.
#[derive(Default)]
pub(super) struct FakeVcpu {
    /// The exits its next runs return, in order; when empty it waits (WFI).
    pub script: VecDeque<Result<VcpuExit, VcpuError>>,
    pub read_value: Option<u64>,
    pub answer: Option<CallAnswer>,
    /// Faults given for accesses to nothing.
    pub faults_given: u32,
    streak: tessera_vcpu::FaultStreak,
    /// Its state is on the (pretend) physical CPU.
    pub loaded: bool,
    /// Guest entries.
    pub runs: u32,
    /// Where it was last reset to start (entry, argument).
    pub started_at: Option<(GuestPhysAddr, u64)>,
    /// Interrupts the interrupt controller handed it, or its own timer gave it.
    pub interrupts: u32,
    /// Its own timer is due (as a hardware timer line: the controller does not
    /// clear it; the guest takes it at its next entry).
    pub timer_due: bool,
    /// Its timer comes due during this run (counting from 1).
    pub timer_fires_during_run: Option<u32>,
    /// What the VM layer last said of its waits ([`ArchVcpu::set_wait_exits`]).
    pub wait_exits: Option<bool>,
}

impl FakeVcpu {
    /// A vCPU whose runs return `exits`, then wait.
    pub fn scripted(exits: impl IntoIterator<Item = VcpuExit>) -> Self {
        Self {
            script: exits.into_iter().map(Ok).collect(),
            ..Self::default()
        }
    }
}

impl ArchVcpu for FakeVcpu {
    fn load(&mut self) {
        self.loaded = true;
    }
    fn put(&mut self) {
        self.loaded = false;
    }
    fn run(&mut self) -> Result<VcpuExit, VcpuError> {
        self.runs += 1;
        if core::mem::take(&mut self.timer_due) {
            self.interrupts += 1;
        }
        if self.timer_fires_during_run == Some(self.runs) {
            self.timer_due = true;
        }
        self.script.pop_front().unwrap_or(Ok(VcpuExit::Idle))
    }
    fn complete_mmio_read(&mut self, value: u64) {
        self.read_value = Some(value);
    }
    fn answer(&mut self, answer: CallAnswer) {
        self.answer = Some(answer);
    }
    fn fail_access(&mut self) -> bool {
        let pc = self.pc();
        self.streak.note(pc, 0x1234_0000) && {
            self.faults_given += 1;
            true
        }
    }
    fn reset(&mut self, entry: GuestPhysAddr, arg: u64) {
        self.started_at = Some((entry, arg));
    }
    fn pc(&self) -> u64 {
        0x4008_0000
    }
    fn set_wait_exits(&mut self, exits: bool) {
        self.wait_exits = Some(exits);
    }
}

pub(super) struct Register(pub u64);

impl MmioDevice for Register {
    fn name(&self) -> &'static str {
        "register"
    }
    fn read(&mut self, offset: u64, _width: AccessWidth) -> Result<u64, DeviceError> {
        if offset == 0 {
            Ok(self.0)
        } else {
            Err(DeviceError::NoRegister { offset })
        }
    }
    fn write(&mut self, offset: u64, _width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        if offset == 0 {
            self.0 = value;
            Ok(())
        } else {
            Err(DeviceError::NoRegister { offset })
        }
    }
}

/// One 8-bit register at port offset 0.
pub(super) struct PortRegister(pub u8);

impl PortDevice for PortRegister {
    fn name(&self) -> &'static str {
        "port-register"
    }
    fn read(&mut self, offset: u16, _width: AccessWidth) -> Result<u32, DeviceError> {
        match offset {
            0 => Ok(u32::from(self.0)),
            _ => Err(DeviceError::NoRegister {
                offset: offset.into(),
            }),
        }
    }
    fn write(&mut self, offset: u16, _width: AccessWidth, value: u32) -> Result<(), DeviceError> {
        match offset {
            0 => {
                self.0 = value as u8;
                Ok(())
            }
            _ => Err(DeviceError::NoRegister {
                offset: offset.into(),
            }),
        }
    }
}

pub(super) fn gpa(raw: u64) -> GuestPhysAddr {
    GuestPhysAddr::new(raw)
}

/// Guest RAM of the test VMs: 16 MiB at 0x4000_0000.
pub(super) const RAM_BASE: u64 = 0x4000_0000;
pub(super) const RAM_SIZE: u64 = 0x100_0000;
/// The doorbell device: a write raises the interrupts of the vCPUs in its value.
pub(super) const DOORBELL: u64 = 0x0a00_0000;

/// A VM of `vcpus` vCPUs, vCPU `i` pinned to physical CPU `i`.
pub(super) fn test_vm(vcpus: usize) -> Vm<FakeArch> {
    test_vm_with(vcpus, None)
}

/// A VM whose RAM is a buffer of this process (leaked: the VM may outlive the test's
/// frame), with the firmware console `console`.
pub(super) fn test_vm_with(
    vcpus: usize,
    console: Option<Arc<dyn FirmwareConsole>>,
) -> Vm<FakeArch> {
    let irqchip = FakeIrqChip::default();
    let ram: &'static mut [u8] = vec![0u8; RAM_SIZE as usize].leak();
    let memory = GuestMemory::new(vec![RamRegion {
        guest: GuestRange::new(gpa(RAM_BASE), RAM_SIZE),
        host: HostPhysAddr::new(ram.as_mut_ptr() as u64),
        executable: true,
    }]);
    let mut bus = MmioBus::new();
    bus.insert(
        GuestRange::new(gpa(0x0900_0000), 0x1000),
        Box::new(Locked::mmio(Register(7))),
    )
    .unwrap();
    bus.insert(
        GuestRange::new(gpa(DOORBELL), 0x1000),
        Box::new(Locked::mmio(Doorbell(irqchip.clone()))),
    )
    .unwrap();
    let mut ports = PortBus::new();
    ports
        .insert(
            PortRange::new(0x70, 2),
            Box::new(Locked::port(PortRegister(5))),
        )
        .unwrap();
    let power = Arc::new(PowerLatch::default());
    ports
        .insert(
            PortRange::new(0x604, 2),
            Box::new(Locked::port(AcpiPmControl::new(power.clone()))),
        )
        .unwrap();
    ports
        .insert(
            PortRange::new(0xcf9, 1),
            Box::new(Locked::port(ResetControl::new(power.clone()))),
        )
        .unwrap();
    let devices = VmDevices {
        mmio: bus,
        ports,
        power,
        console,
    };
    // SAFETY: the only region is the leaked buffer above, at its own address.
    unsafe {
        Vm::new(
            1,
            "test".into(),
            memory,
            devices,
            VmCpus {
                vcpus: (0..vcpus).map(|i| (i, FakeVcpu::default())).collect(),
                irqchip,
                passthrough_irqs: Vec::new(),
            },
        )
    }
}

/// A firmware console that keeps what is written and hands out what was "typed".
#[derive(Default)]
pub(super) struct FakeConsole {
    pub written: spin::Mutex<Vec<u8>>,
    pub typed: spin::Mutex<VecDeque<u8>>,
    /// Times a partial line was asked to be shown.
    pub flushes: AtomicU32,
    /// The last write did not end its line, and no flush came since.
    pub partial: AtomicBool,
}

impl FirmwareConsole for FakeConsole {
    fn write(&self, bytes: &[u8]) {
        self.written.lock().extend_from_slice(bytes);
        self.partial
            .store(bytes.last().is_some_and(|&b| b != b'\n'), Ordering::Relaxed);
    }
    fn read(&self, buf: &mut [u8]) -> usize {
        let mut typed = self.typed.lock();
        let mut count = 0;
        for slot in buf.iter_mut() {
            let Some(byte) = typed.pop_front() else { break };
            *slot = byte;
            count += 1;
        }
        count
    }
    fn flush(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.partial.store(false, Ordering::Relaxed);
    }
    fn holds_partial_line(&self) -> bool {
        self.partial.load(Ordering::Relaxed)
    }
}

pub(super) fn console_vm() -> (Vm<FakeArch>, Arc<FakeConsole>) {
    let console = Arc::new(FakeConsole::default());
    (test_vm_with(1, Some(console.clone())), console)
}

/// Puts `bytes` into the VM's RAM at `addr`.
pub(super) fn poke(vm: &Vm<FakeArch>, addr: u64, bytes: &[u8]) {
    // SAFETY: the test VM's RAM is a buffer of this process.
    unsafe { vm.memory.write(gpa(addr), bytes) }.unwrap();
}
