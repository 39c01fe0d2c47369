//! Interrupts on x86_64: the hypervisor's own (console input, kicks) arrive through
//! its interrupt table and are noted by the OS layer; a VM's interrupt state is
//! empty until the PC's interrupt controllers are emulated (a VM without one, like
//! a riscv VM without a PLIC: its devices do not interrupt).

use crate::irq::{self, TaskId};
use crate::vmm::Vms;
use tessera_os::hal;
use tessera_vcpu_x86::X86Vcpu;

/// A VM's interrupt state: none yet.
#[derive(Clone)]
pub struct IrqChip;

impl IrqChip {
    /// The interrupt state of a new VM.
    pub fn new() -> Self {
        Self
    }

    /// Whether the VM has an interrupt controller for devices.
    pub fn is_present(&self) -> bool {
        false
    }

    /// Back to the power-on state (VM reset).
    pub fn reset(&self) {}

    /// The vCPUs (bit mask) whose interrupt state may have changed.
    pub fn take_kicks(&self) -> u64 {
        0
    }

    /// Inter-processor interrupts need a local APIC, which the VM lacks: none sent.
    pub fn send_ipi(&self, _sender: usize, _value: u64) -> u64 {
        0
    }

    /// Whether vCPU `index` has an interrupt to take.
    pub fn has_work(&self, _index: usize, _vcpu: &X86Vcpu) -> bool {
        false
    }

    /// Sets vCPU `index`'s pending interrupt before it runs.
    pub fn deliver(&self, _index: usize, _vcpu: &mut X86Vcpu, _linked: &[u32]) {}

    /// The interrupt line of an emulated device wired to `irq`: none without a
    /// controller.
    pub fn line(&self, _irq: u32) -> Option<IrqLine> {
        None
    }
}

/// An emulated device's interrupt line into its VM's controller.
#[derive(Clone)]
pub struct IrqLine;

impl IrqLine {
    /// Follows the device's output level.
    pub fn set_level(&self, _high: bool) {}
}

/// Takes this CPU's pending interrupts: console input goes to its VM; a kick only
/// had to wake the CPU.
pub fn handle_host_interrupts(vms: &Vms, _loaded: Option<TaskId>) {
    hal::take_pending_interrupts();
    if hal::take_interrupts() & hal::PENDING_UART != 0 {
        irq::console_input(vms);
    }
}
