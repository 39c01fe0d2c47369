//! Interrupt routing every architecture shares: which VM owns each physical device
//! interrupt (passthrough), forwarding those to it, console input, and waking the
//! physical CPUs of vCPUs that got an interrupt.

use crate::arch;
use crate::console;
use crate::vmm::{VmEntry, Vms};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use spin::Mutex;
use tessera_os::hal;
use tessera_vm::VmStatus;

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
        .find(|e| e.vm.id == owner && e.vm.status() != VmStatus::Ended);
    match entry {
        Some(entry) if entry.irqchip.raise(0, irq) => {
            send_kicks(entry, hal::cpu_index());
            true
        }
        _ => false,
    }
}

/// Bytes typed on the console: to the VM that has it, whose vCPUs are then kicked.
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
            .any(|e| e.vm.id == id && e.vm.status() != VmStatus::Ended)
    };
    let Some(id) = console::deliver_input(bytes.get(..count).unwrap_or(&[]), running) else {
        return;
    };
    if let Some(entry) = vms.entries.iter().find(|e| e.vm.id == id) {
        send_kicks(entry, hal::cpu_index());
    }
}

/// Routes the IPIs vCPU `sender` of `entry` asked for and wakes their physical CPUs.
pub fn send_ipi(entry: &VmEntry, sender: usize, value: u64, cpu: usize) {
    let targets = entry.irqchip.send_ipi(sender, value);
    kick_vcpus(entry, targets, cpu);
}

/// Wakes the physical CPUs of vCPUs whose interrupt state changed.
pub fn send_kicks(entry: &VmEntry, cpu: usize) {
    let targets = entry.irqchip.take_kicks();
    kick_vcpus(entry, targets, cpu);
}

/// Sends a kick to the physical CPU of each vCPU in `targets` (a bit mask) other than
/// this one.
fn kick_vcpus(entry: &VmEntry, targets: u64, cpu: usize) {
    let mut kicked = 0u64;
    for (index, task) in entry.vcpus.iter().enumerate() {
        if index < 64 && targets & (1 << index) != 0 && task.pcpu != cpu {
            let bit = 1u64 << (task.pcpu % 64);
            if kicked & bit == 0 {
                arch::kick(Some(task.pcpu));
                kicked |= bit;
            }
        }
    }
}
