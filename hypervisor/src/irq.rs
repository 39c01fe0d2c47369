//! Interrupts on aarch64: physical interrupts taken at EL2 (timer PPIs of the loaded
//! vCPU, kicks between physical CPUs, list register maintenance), virtual interrupts
//! moved from a VM's vGIC model into the list registers before each guest entry, and
//! SGIs a guest sends to its own vCPUs.

use crate::console;
use crate::vmm::{VmEntry, Vms};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use spin::Mutex;
use tessera_os::hal::gic;
use tessera_os::{hal, platform};
use tessera_vcpu_aarch64::{Aarch64Vcpu, Injection};
use tessera_vdev::{AccessWidth, DeviceError, MmioDevice};
use tessera_vgic::Vgic;
use tessera_vm::VmStatus;

/// A vCPU by (VM index, vCPU index).
pub type TaskId = (usize, usize);

/// The guest's timer PPIs, linked one to one to the physical ones.
const TIMER_PPIS: [u32; 2] = [gic::VIRTUAL_TIMER_PPI, gic::PHYSICAL_TIMER_PPI];

/// Which VM (by id) owns each passthrough SPI.
static SPI_OWNERS: Mutex<BTreeMap<u32, u64>> = Mutex::new(BTreeMap::new());

/// Gives the physical SPIs `intids` to the VM with `vm_id` and routes them to physical
/// CPU `pcpu` (where its vCPU 0 runs); refused when another VM owns one of them.
pub fn claim_spis(vm_id: u64, intids: &[u32], pcpu: usize) -> Result<(), String> {
    let mut owners = SPI_OWNERS.lock();
    if let Some((intid, owner)) = intids
        .iter()
        .find_map(|i| owners.get(i).filter(|&&o| o != vm_id).map(|o| (i, *o)))
    {
        return Err(format!(
            "devices.passthrough_devices: interrupt {intid} already belongs to VM {owner}"
        ));
    }
    for &intid in intids {
        owners.insert(intid, vm_id);
        gic::enable_spi(intid, pcpu);
    }
    Ok(())
}

/// Takes a VM's passthrough SPIs back when it ends: disabled and deactivated.
pub fn release_spis(vm_id: u64) {
    let mut owners = SPI_OWNERS.lock();
    owners.retain(|&intid, owner| {
        let keep = *owner != vm_id;
        if !keep {
            gic::disable_spi(intid);
        }
        keep
    });
}

/// A level-sensitive interrupt line from an emulated device into a VM's vGIC.
#[derive(Clone)]
pub struct IrqLine {
    vgic: Arc<Mutex<Vgic>>,
    intid: u32,
}

impl IrqLine {
    /// The line of shared peripheral interrupt `intid` of `vgic`.
    pub fn new(vgic: Arc<Mutex<Vgic>>, intid: u32) -> Self {
        Self { vgic, intid }
    }

    /// Follows the device's output: high makes the interrupt pending, low withdraws a
    /// pending one the guest has not taken yet.
    pub fn set_level(&self, high: bool) {
        let mut vgic = self.vgic.lock();
        if high {
            let _ = vgic.raise(0, self.intid);
        } else {
            let _ = vgic.clear_pending(0, self.intid);
        }
    }
}

/// Which part of the vGIC a bus window shows.
#[derive(Clone, Copy, Debug)]
pub enum GicFrame {
    /// The distributor (GICD).
    Distributor,
    /// The redistributors (GICR) of every vCPU.
    Redistributors,
}

/// A bus window onto a VM's vGIC model.
pub struct VgicWindow {
    vgic: Arc<Mutex<Vgic>>,
    frame: GicFrame,
}

impl VgicWindow {
    /// The `frame` part of `vgic`.
    pub fn new(vgic: Arc<Mutex<Vgic>>, frame: GicFrame) -> Self {
        Self { vgic, frame }
    }
}

impl MmioDevice for VgicWindow {
    fn name(&self) -> &str {
        match self.frame {
            GicFrame::Distributor => "gicd",
            GicFrame::Redistributors => "gicr",
        }
    }

    fn read(&mut self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        let mut vgic = self.vgic.lock();
        match self.frame {
            GicFrame::Distributor => vgic.read_distributor(offset, width),
            GicFrame::Redistributors => vgic.read_redistributor(offset, width),
        }
    }

    fn write(&mut self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        let mut vgic = self.vgic.lock();
        match self.frame {
            GicFrame::Distributor => vgic.write_distributor(offset, width, value),
            GicFrame::Redistributors => vgic.write_redistributor(offset, width, value),
        }
    }
}

/// Moves the interrupts pending for vCPU `index` from the VM's vGIC into the list
/// registers; asks for a maintenance interrupt when they do not all fit.
pub fn deliver(entry: &VmEntry, index: usize, vcpu: &mut Aarch64Vcpu) {
    let Some(vgic) = &entry.vgic else { return };
    let mut vgic = vgic.lock();
    let (busy, count) = vcpu.busy_interrupts();
    let busy = busy.get(..count).unwrap_or(&[]);
    let mut overflow = false;
    while let Some(irq) = vgic.take_pending(index, busy) {
        let linked = TIMER_PPIS.contains(&irq.intid) || entry.passthrough_spis.contains(&irq.intid);
        let physical = linked.then_some(irq.intid);
        if vcpu.inject(irq.intid, irq.priority, physical) == Injection::Full {
            // Back into the model; it is delivered when a list register frees up.
            let _ = vgic.raise(index, irq.intid);
            overflow = true;
            break;
        }
    }
    vcpu.notify_when_drained(overflow);
}

/// Whether vCPU `index` of `entry` has an interrupt to take (so it stops waiting).
pub fn has_work(entry: &VmEntry, index: usize, vcpu: &Aarch64Vcpu) -> bool {
    vcpu.has_pending_interrupt()
        || entry
            .vgic
            .as_ref()
            .is_some_and(|vgic| vgic.lock().has_pending(index))
}

/// Routes the SGIs vCPU `sender` of `entry` asked for (ICC_SGI1R_EL1 `value`) and
/// wakes the physical CPUs of the vCPUs that got one.
pub fn send_sgi(entry: &VmEntry, sender: usize, value: u64, cpu: usize) {
    let Some(vgic) = &entry.vgic else { return };
    let targets = vgic.lock().send_sgi(sender, value);
    kick_vcpus(entry, targets, cpu);
}

/// Wakes the physical CPUs of vCPUs whose vGIC state changed through register writes.
pub fn send_kicks(entry: &VmEntry, cpu: usize) {
    let Some(vgic) = &entry.vgic else { return };
    let targets = vgic.lock().take_kicks();
    kick_vcpus(entry, targets, cpu);
}

/// Sends the kick SGI to the physical CPU of each vCPU in `targets` (a bit mask)
/// other than this one.
fn kick_vcpus(entry: &VmEntry, targets: u64, cpu: usize) {
    let mut kicked = 0u64;
    for (index, task) in entry.vcpus.iter().enumerate() {
        if index < 64 && targets & (1 << index) != 0 && task.pcpu != cpu {
            let bit = 1u64 << (task.pcpu % 64);
            if kicked & bit == 0 {
                gic::kick(Some(task.pcpu));
                kicked |= bit;
            }
        }
    }
}

/// Takes every physical interrupt pending on this CPU. `loaded` is the vCPU whose
/// timers are on this CPU: its timer interrupts become its virtual ones.
pub fn handle_host_interrupts(vms: &Vms, loaded: Option<TaskId>) {
    while let Some(intid) = gic::acknowledge() {
        gic::end_of_interrupt(intid);
        if TIMER_PPIS.contains(&intid) {
            forward_timer(vms, loaded, intid);
        } else if intid == platform::UART_IRQ {
            gic::deactivate(intid);
            console_input(vms);
        } else if let Some(owner) = SPI_OWNERS.lock().get(&intid).copied() {
            forward_spi(vms, owner, intid);
        } else {
            gic::deactivate(intid);
            if intid != gic::KICK_SGI && intid != gic::MAINTENANCE_PPI {
                log::warn!("unexpected physical interrupt {intid} ignored");
            }
        }
    }
}

/// Bytes typed on the console: to the VM that has it, whose vCPUs are then kicked.
fn console_input(vms: &Vms) {
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

/// A passthrough device interrupted: its VM's virtual SPI of the same number becomes
/// pending, linked to the physical one, which stays active until the guest is done.
fn forward_spi(vms: &Vms, owner: u64, intid: u32) {
    let entry = vms
        .entries
        .iter()
        .find(|e| e.vm.id == owner && e.vm.status() != VmStatus::Ended);
    match entry.and_then(|e| Some((e, e.vgic.as_ref()?))) {
        Some((entry, vgic)) if vgic.lock().raise(0, intid).is_ok() => {
            send_kicks(entry, hal::cpu_index());
        }
        _ => gic::deactivate(intid),
    }
}

/// A guest timer fired: the loaded vCPU's virtual PPI becomes pending, and the physical
/// one stays active until the guest deactivates the linked virtual interrupt. A VM with
/// no vGIC cannot take it, so its timer is masked instead of firing without end.
fn forward_timer(vms: &Vms, loaded: Option<TaskId>, intid: u32) {
    let target = loaded.and_then(|(v, i)| Some((vms.entries.get(v)?, i)));
    match target.and_then(|(entry, i)| Some((entry.vgic.as_ref()?, i))) {
        Some((vgic, i)) if vgic.lock().raise(i, intid).is_ok() => {}
        _ => {
            tessera_vcpu_aarch64::mask_timer(intid == gic::VIRTUAL_TIMER_PPI);
            gic::deactivate(intid);
        }
    }
}
