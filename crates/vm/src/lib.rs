//! A VM: its vCPUs and their power states, its interrupt controller, the
//! guest-physical memory map, the emulated device bus, [`Vm::run_vcpu`], the loop
//! that runs one vCPU, and [`Vm::handle_exit`], the single place where every
//! architecture's decoded guest exits are answered. Generic over the [`Arch`] it
//! runs on. Nothing here panics on guest input: a guest error ends that VM with a
//! logged reason, never the hypervisor or another VM.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

extern crate alloc;

mod arch;
mod boot_data;
mod counts;
mod end;
mod exit;
mod lifecycle;
mod load;
mod memory;
mod run;
mod vcpus;

pub use arch::{Arch, Host, InterruptController};
pub use boot_data::{BOOT_DATA_ROOM, place_boot_data};
pub use counts::{ExitCounts, ExitReason};
pub use end::{EndReason, GuestError};
pub use exit::{Action, CONSOLE_CHUNK};
pub use lifecycle::{Command, Refusal, VmStatus};
pub use load::{ImageError, LoadError, check_load};
pub use memory::{GuestMemory, MemoryError, RamRegion, uncovered};
pub use run::{Turn, kick_cpus_of};
pub use vcpus::{VcpuState, VcpuTable};

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use spin::Mutex;
use tessera_vdev::{FirmwareConsole, MmioBus, PortBus, PowerLatch};

/// Resets a VM gets; the next request stops it ([`EndReason::ResetLoop`]).
pub const MAX_RESETS: u32 = 64;

/// The emulated devices a VM is created with.
pub struct VmDevices {
    /// Devices on guest-physical addresses.
    pub mmio: MmioBus,
    /// Devices on I/O ports (x86).
    pub ports: PortBus,
    /// Where power and reset registers put the guest's requests.
    pub power: Arc<PowerLatch>,
    /// The console firmware calls reach (the VM's console), if it has one.
    pub console: Option<Arc<dyn FirmwareConsole>>,
}

/// One vCPU of a VM and the physical CPU it is pinned to.
pub struct VcpuSlot<V> {
    /// Index of the physical CPU.
    pub pcpu: usize,
    /// The vCPU, locked by the physical CPU running it.
    pub vcpu: Mutex<V>,
    /// No other vCPU (of any VM) is pinned to its physical CPU: its waits for an
    /// interrupt may stay in the guest ([`tessera_vcpu::ArchVcpu::set_wait_exits`]). Set by whoever
    /// knows every VM's pinning, again when a VM is created or deleted (a running
    /// vCPU sees the change at its next host interrupt); `false` until then.
    pub alone: AtomicBool,
}

/// One virtual machine on architecture `A`.
pub struct Vm<A: Arch> {
    /// VM id from its config.
    pub id: u64,
    /// VM name from its config.
    pub name: String,
    /// Guest RAM layout.
    pub memory: GuestMemory,
    /// Emulated devices, shared by the VM's vCPUs (fixed at creation, no lock).
    pub bus: MmioBus,
    /// Emulated I/O port devices (x86; empty elsewhere).
    pub ports: PortBus,
    /// Power requests made through device registers.
    pub power: Arc<PowerLatch>,
    /// The console firmware calls reach.
    console: Option<Arc<dyn FirmwareConsole>>,
    /// Power state of each vCPU.
    pub vcpus: VcpuTable,
    /// The vCPUs by index, each with its physical CPU.
    pub cpus: Vec<VcpuSlot<A::Vcpu>>,
    /// The emulated interrupt controller.
    pub irqchip: A::IrqChip,
    /// Physical interrupts of its passthrough devices (linked to the virtual ones).
    pub passthrough_irqs: Vec<u32>,
    status: AtomicU8,
    /// How it last stopped (kept when it runs again, for the operator).
    end_reason: Mutex<Option<EndReason>>,
    /// Exits of its vCPUs by reason.
    pub exits: ExitCounts,
    resets: core::sync::atomic::AtomicU32,
}

/// What a VM is made of besides its memory and devices: its vCPUs (each with the
/// physical CPU it is pinned to), its interrupt controller and the physical
/// interrupts of its passthrough devices.
pub struct VmCpus<A: Arch> {
    /// (physical CPU, vCPU) by vCPU index; vCPU `i` has architecture id `i`.
    pub vcpus: Vec<(usize, A::Vcpu)>,
    /// The emulated interrupt controller.
    pub irqchip: A::IrqChip,
    /// Physical interrupts of its passthrough devices.
    pub passthrough_irqs: Vec<u32>,
}

impl<A: Arch> Vm<A> {
    /// A VM with the emulated `devices` and the vCPUs and interrupt controller of
    /// `cpus` (vCPU 0 starts on).
    ///
    /// # Safety
    /// Every region of `memory` is the VM's own RAM, readable and writable at its
    /// host address for as long as the VM exists: firmware console calls copy guest
    /// buffers through it.
    pub unsafe fn new(
        id: u64,
        name: String,
        memory: GuestMemory,
        devices: VmDevices,
        cpus: VmCpus<A>,
    ) -> Self {
        let vcpu_ids = (0..cpus.vcpus.len() as u64).collect();
        Self {
            id,
            name,
            memory,
            bus: devices.mmio,
            ports: devices.ports,
            power: devices.power,
            console: devices.console,
            vcpus: VcpuTable::new(vcpu_ids),
            cpus: cpus
                .vcpus
                .into_iter()
                .map(|(pcpu, vcpu)| VcpuSlot {
                    pcpu,
                    vcpu: Mutex::new(vcpu),
                    alone: AtomicBool::new(false),
                })
                .collect(),
            irqchip: cpus.irqchip,
            passthrough_irqs: cpus.passthrough_irqs,
            status: AtomicU8::new(VmStatus::Running as u8),
            end_reason: Mutex::new(None),
            exits: ExitCounts::default(),
            resets: core::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Current life-cycle state.
    pub fn status(&self) -> VmStatus {
        VmStatus::from_code(self.status.load(Ordering::Acquire))
    }

    /// Stops the running VM for `reason` (its guest powered it off or failed). Returns
    /// whether this call stopped it: the first reason given is kept.
    pub fn end(&self, reason: EndReason) -> bool {
        let mut slot = self.end_reason.lock();
        if !matches!(self.status(), VmStatus::Running | VmStatus::Resetting) {
            return false;
        }
        *slot = Some(reason);
        self.status
            .store(VmStatus::Stopped as u8, Ordering::Release);
        true
    }

    /// Why the VM stopped, while it is stopped.
    pub fn end_reason(&self) -> Option<EndReason> {
        let slot = self.end_reason.lock();
        (self.status() == VmStatus::Stopped)
            .then(|| slot.clone())
            .flatten()
    }

    /// How the VM last stopped, if it ever did (also once it runs again).
    pub fn last_end(&self) -> Option<EndReason> {
        self.end_reason.lock().clone()
    }

    /// Carries out the operator's `command` (see [`VmStatus::after`]): a stop stops
    /// the VM at once as far as its state goes (its vCPUs leave the guest at their
    /// next exit, so the caller kicks their CPUs); a start or restart asks the VMM for
    /// a reset with the reset count back at zero. Returns the new status (`None`: the
    /// VM may be deleted).
    pub fn command(&self, command: Command) -> Result<Option<VmStatus>, Refusal> {
        let mut slot = self.end_reason.lock();
        let next = self.status().after(command)?;
        match next {
            Some(VmStatus::Stopped) => *slot = Some(EndReason::StoppedByOperator),
            Some(VmStatus::Resetting) => self.resets.store(0, Ordering::Release),
            _ => {}
        }
        if let Some(status) = next {
            self.status.store(status as u8, Ordering::Release);
        }
        Ok(next)
    }

    /// Asks for a reset (unless the VM does not run); after [`MAX_RESETS`] resets the
    /// VM is stopped instead.
    pub fn request_reset(&self) {
        let resets = self.resets.fetch_add(1, Ordering::AcqRel);
        if resets >= MAX_RESETS {
            self.end(EndReason::ResetLoop { resets });
            return;
        }
        let _ = self.status.compare_exchange(
            VmStatus::Running as u8,
            VmStatus::Resetting as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Whether the VM's console holds a line not finished yet, which
    /// [`Self::flush_console`] shows when a vCPU waits.
    pub fn console_holds_partial_line(&self) -> bool {
        self.console
            .as_ref()
            .is_some_and(|console| console.holds_partial_line())
    }

    /// Shows what the VM's console holds of a line not finished yet (the guest waits,
    /// perhaps at a prompt).
    pub fn flush_console(&self) {
        if let Some(console) = &self.console {
            console.flush();
        }
    }

    /// Marks a reset as carried out: the VM runs again with vCPU 0 only.
    pub fn finish_reset(&self) {
        self.vcpus.reset();
        let _ = self.status.compare_exchange(
            VmStatus::Resetting as u8,
            VmStatus::Running as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

#[cfg(test)]
mod tests;
