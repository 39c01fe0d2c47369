//! The boundary between the VM layer and what lies around it: the [`Arch`] a VM runs
//! on (its vCPU type and its emulated interrupt controller) and the [`Host`], the
//! physical CPU that runs the loop. Each architecture implements [`Arch`] once in the
//! hypervisor; the host tests implement it with fakes (`tests.rs`), so the real loop
//! runs on the host.

use tessera_vcpu::ArchVcpu;

/// One architecture as the VM layer uses it.
pub trait Arch: 'static {
    /// Its vCPU.
    type Vcpu: ArchVcpu + Send;
    /// Its VM's emulated interrupt controller (vGIC, vPLIC, PC interrupt chips).
    type IrqChip: InterruptController<Self::Vcpu>;
}

/// A VM's emulated interrupt controller, as the run loop drives it.
pub trait InterruptController<V>: Send + Sync {
    /// Back to the power-on state (VM reset).
    fn reset(&self);
    /// Whether vCPU `index` has an interrupt to take (so it stops waiting).
    fn has_work(&self, index: usize, vcpu: &V) -> bool;
    /// Hands vCPU `index` what is pending for it before it enters the guest; `linked`
    /// are the VM's passthrough interrupts (their physical interrupt follows).
    fn deliver(&self, index: usize, vcpu: &mut V, linked: &[u32]);
    /// Routes inter-processor interrupts vCPU `sender` asked for (the request word of
    /// [`tessera_vcpu::VcpuExit::SendIpi`]); returns the vCPUs (bit mask) that got one.
    fn send_ipi(&self, sender: usize, value: u64) -> u64;
    /// The vCPUs (bit mask) whose interrupt state changed since the last call.
    fn take_kicks(&self) -> u64;
}

/// The physical CPU a vCPU runs on, as the loop needs it.
pub trait Host {
    /// This physical CPU's index.
    fn cpu(&self) -> usize;
    /// Wakes physical CPU `cpu` (every other one for `None`) to look at its vCPUs.
    fn kick(&self, cpu: Option<usize>);
    /// Takes the physical interrupts pending on this CPU (one ended the guest's run).
    fn take_interrupts(&self);
}
