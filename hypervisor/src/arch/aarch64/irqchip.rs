//! Interrupts on aarch64: a VM's emulated GICv3 (`IrqChip`, shown to the guest
//! through `VgicWindow`s on its bus), virtual interrupts moved from the model into
//! the list registers before each guest entry, SGIs a guest sends to its own vCPUs,
//! and the physical interrupts taken at EL2 (timer PPIs of the loaded vCPU, kicks
//! between physical CPUs, list register maintenance, the console, passthrough SPIs).

use crate::irq::{self, TaskId};
use crate::vmm::Vms;
use alloc::sync::Arc;
use spin::Mutex;
use tessera_os::hal::gic;
use tessera_os::platform;
use tessera_vcpu_aarch64::{Aarch64Vcpu, Injection};
use tessera_vdev::{AccessWidth, DeviceError, MmioDevice};
use tessera_vgic::Vgic;
use tessera_vm::InterruptController;

/// The guest's timer PPIs, linked one to one to the physical ones.
const TIMER_PPIS: [u32; 2] = [gic::VIRTUAL_TIMER_PPI, gic::PHYSICAL_TIMER_PPI];

/// A VM's interrupt controller: its emulated GICv3, if the config gives it one.
#[derive(Clone, Default)]
pub struct IrqChip(Option<Arc<Mutex<Vgic>>>);

impl IrqChip {
    /// A VM with an emulated GICv3 model.
    pub fn new(vgic: Arc<Mutex<Vgic>>) -> Self {
        Self(Some(vgic))
    }

    /// Whether the VM has an interrupt controller.
    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }

    /// Makes interrupt `intid` pending for the VM (on `vcpu` for private ones);
    /// whether the VM can take it.
    pub fn raise(&self, vcpu: usize, intid: u32) -> bool {
        self.0
            .as_ref()
            .is_some_and(|vgic| vgic.lock().raise(vcpu, intid).is_ok())
    }

    /// The window of `frame` onto this model, for the VM's bus.
    pub fn window(&self, frame: GicFrame) -> Option<VgicWindow> {
        self.0.clone().map(|vgic| VgicWindow { vgic, frame })
    }

    /// The interrupt line of SPI `intid` into this model.
    pub fn line(&self, intid: u32) -> Option<IrqLine> {
        let vgic = self.0.clone()?;
        (intid >= tessera_vgic::SPI_BASE).then_some(IrqLine { vgic, intid })
    }
}

impl InterruptController<Aarch64Vcpu> for IrqChip {
    /// Back to the power-on state (VM reset).
    fn reset(&self) {
        if let Some(vgic) = &self.0 {
            vgic.lock().reset();
        }
    }

    /// The vCPUs (bit mask) whose interrupt state changed since the last call.
    fn take_kicks(&self) -> u64 {
        self.0.as_ref().map_or(0, |vgic| vgic.lock().take_kicks())
    }

    /// Routes the guest's ICC_SGI1R_EL1 write `value` from vCPU `sender`; returns the
    /// vCPUs (bit mask) that got an SGI.
    fn send_ipi(&self, sender: usize, value: u64) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |vgic| vgic.lock().send_sgi(sender, value))
    }

    /// Whether vCPU `index` has an interrupt to take (so it stops waiting).
    fn has_work(&self, index: usize, vcpu: &Aarch64Vcpu) -> bool {
        vcpu.has_pending_interrupt()
            || self
                .0
                .as_ref()
                .is_some_and(|vgic| vgic.lock().has_pending(index))
    }

    /// Moves the interrupts pending for vCPU `index` into the list registers, linking
    /// timer PPIs and the VM's passthrough SPIs (`linked`) to their physical
    /// interrupts; asks for a maintenance interrupt when they do not all fit.
    fn deliver(&self, index: usize, vcpu: &mut Aarch64Vcpu, linked: &[u32]) {
        let Some(vgic) = &self.0 else { return };
        let mut vgic = vgic.lock();
        let (busy, count) = vcpu.busy_interrupts();
        let busy = busy.get(..count).unwrap_or(&[]);
        let mut overflow = false;
        while let Some(pending) = vgic.take_pending(index, busy) {
            let intid = pending.intid;
            let physical =
                (TIMER_PPIS.contains(&intid) || linked.contains(&intid)).then_some(intid);
            if vcpu.inject(intid, pending.priority, physical) == Injection::Full {
                // Back into the model; it is delivered when a list register frees up.
                let _ = vgic.raise(index, intid);
                overflow = true;
                break;
            }
        }
        vcpu.notify_when_drained(overflow);
    }
}

/// A level-sensitive interrupt line from an emulated device into a VM's vGIC.
#[derive(Clone)]
pub struct IrqLine {
    vgic: Arc<Mutex<Vgic>>,
    intid: u32,
}

impl IrqLine {
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

/// Takes every physical interrupt pending on this CPU. `loaded` is the vCPU whose
/// timers are on this CPU: its timer interrupts become its virtual ones.
pub fn handle_host_interrupts(vms: &Vms, loaded: Option<TaskId>) {
    while let Some(intid) = gic::acknowledge() {
        gic::end_of_interrupt(intid);
        if TIMER_PPIS.contains(&intid) {
            forward_timer(vms, loaded, intid);
        } else if intid == platform::UART_IRQ {
            gic::deactivate(intid);
            irq::console_input(vms);
        } else if irq::forward_device_irq(vms, intid) {
            // Deactivated by the guest through the linked virtual interrupt.
        } else {
            gic::deactivate(intid);
            if intid != gic::KICK_SGI && intid != gic::MAINTENANCE_PPI {
                log::warn!("unexpected physical interrupt {intid} ignored");
            }
        }
    }
}

/// A guest timer fired: the loaded vCPU's virtual PPI becomes pending, and the physical
/// one stays active until the guest deactivates the linked virtual interrupt. A VM with
/// no vGIC cannot take it, so its timer is masked instead of firing without end.
fn forward_timer(vms: &Vms, loaded: Option<TaskId>, intid: u32) {
    let target = loaded.and_then(|(v, i)| Some((vms.entries.get(v)?, i)));
    if !target.is_some_and(|(entry, i)| entry.vm.irqchip.raise(i, intid)) {
        tessera_vcpu_aarch64::mask_timer(intid == gic::VIRTUAL_TIMER_PPI);
        gic::deactivate(intid);
    }
}
