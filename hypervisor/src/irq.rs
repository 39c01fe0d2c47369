//! Interrupt routing every architecture shares: which VM owns each physical device
//! interrupt (passthrough), forwarding those to it, console input, and waking the
//! physical CPUs of vCPUs that got an interrupt.

use crate::arch;
use crate::console;
use crate::shell;
use crate::vmm::{VmEntry, Vms};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use spin::Mutex;
use tessera_os::hal;
use tessera_vm::{Host, InterruptController, VmStatus, kick_cpus_of};

/// A vCPU by (VM index, vCPU index).
pub type TaskId = (usize, usize);

/// Which VM (by id) owns each passthrough device interrupt.
static OWNERS: Mutex<BTreeMap<u32, u64>> = Mutex::new(BTreeMap::new());

/// Gives the physical device interrupts `irqs` to the VM with `vm_id` and routes them
/// to physical CPU `pcpu` (where its vCPU 0 runs); refused when another VM owns one.
pub fn claim(vm_id: u64, irqs: &[u32], pcpu: usize) -> Result<(), String> {
    let mut owners = OWNERS.lock();
    if let Some((irq, owner)) = irqs
        .iter()
        .find_map(|i| owners.get(i).filter(|&&o| o != vm_id).map(|o| (i, *o)))
    {
        return Err(format!(
            "devices.passthrough_devices: interrupt {irq} already belongs to VM {owner}"
        ));
    }
    for &irq in irqs {
        owners.insert(irq, vm_id);
        arch::enable_device_irq(irq, pcpu);
    }
    Ok(())
}

/// Takes a VM's device interrupts back when it ends.
pub fn release(vm_id: u64) {
    OWNERS.lock().retain(|&irq, owner| {
        let keep = *owner != vm_id;
        if !keep {
            arch::disable_device_irq(irq);
        }
        keep
    });
}

/// A passthrough device interrupted: the owning VM's interrupt of the same number
/// becomes pending and its vCPU is woken. Returns false when no running VM owns it.
/// (x86_64 offers no passthrough interrupts yet.)
#[cfg(not(target_arch = "x86_64"))]
pub fn forward_device_irq(vms: &Vms, irq: u32) -> bool {
    let Some(owner) = OWNERS.lock().get(&irq).copied() else {
        return false;
    };
    let entry = vms
        .entries
        .iter()
        .find(|e| e.vm.id == owner && e.vm.status() != VmStatus::Stopped);
    match entry {
        Some(entry) if entry.vm.irqchip.raise(0, irq) => {
            send_kicks(vms, entry);
            true
        }
        _ => false,
    }
}

/// Bytes typed on the console: console moves, lines for the shell (run here), bytes
/// for the VM that has the console (whose vCPUs are then kicked).
pub fn console_input(vms: &Vms) {
    let mut bytes = [0u8; 32];
    let mut count = 0;
    while let Some(slot) = bytes.get_mut(count)
        && let Some(byte) = hal::console_read()
    {
        *slot = byte;
        count += 1;
    }
    let running = |id: u64| {
        vms.entries
            .iter()
            .any(|e| e.vm.id == id && e.vm.status() != VmStatus::Stopped)
    };
    let typed = console::take_input(bytes.get(..count).unwrap_or(&[]), running);
    if let Some(entry) = typed
        .vm
        .and_then(|id| vms.entries.iter().find(|e| e.vm.id == id))
    {
        send_kicks(vms, entry);
    }
    for line in typed.lines {
        shell::run_line(&line);
    }
}

/// Wakes the physical CPU of every vCPU of `entry` (it stopped, or is to reset).
pub fn kick_all(entry: &VmEntry) {
    kick_pcpus(entry.vm.cpus.iter().map(|slot| slot.pcpu), u64::MAX);
}

/// From outside any vCPU's loop: wakes the physical CPU of each vCPU in `targets` (a
/// bit mask; `pcpus` gives each vCPU's CPU, in vCPU order), other than this one.
pub fn kick_pcpus(pcpus: impl IntoIterator<Item = usize>, targets: u64) {
    kick_cpus_of(pcpus, targets, hal::cpu_index(), |cpu| {
        arch::kick(Some(cpu))
    });
}

/// Wakes the physical CPUs of `entry`'s vCPUs whose interrupt state changed (from an
/// interrupt handler of this CPU, outside any vCPU's loop).
fn send_kicks(vms: &Vms, entry: &VmEntry) {
    let host = CpuHost {
        vms,
        loaded: None,
        cpu: hal::cpu_index(),
    };
    entry.vm.kick_vcpus(entry.vm.irqchip.take_kicks(), &host);
}

/// The physical CPU running the VM layer's loop: its index, the vCPU loaded on it,
/// and the VMs whose interrupts it takes.
pub struct CpuHost<'a> {
    /// Every VM.
    pub vms: &'a Vms,
    /// The vCPU whose state is on this CPU.
    pub loaded: Option<TaskId>,
    /// This CPU's index.
    pub cpu: usize,
}

impl Host for CpuHost<'_> {
    fn cpu(&self) -> usize {
        self.cpu
    }

    fn kick(&self, cpu: Option<usize>) {
        arch::kick(cpu);
    }

    fn take_interrupts(&self) {
        arch::handle_host_interrupts(self.vms, self.loaded);
    }
}
