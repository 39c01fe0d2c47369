//! Interrupts on aarch64: a VM's emulated GICv3 or GICv2 (`IrqChip`, shown to the guest
//! through `VgicWindow`s on its bus), virtual interrupts moved from the model into
//! the list registers before each guest entry, SGIs a guest sends to its own vCPUs,
//! and the physical interrupts taken at EL2 (timer PPIs of the loaded vCPU, kicks
//! between physical CPUs, list register maintenance, the console, passthrough SPIs).

use crate::irq::{self, TaskId};
use crate::vmm::Vms;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use spin::Mutex;
use tessera_os::hal::{self, gic};
use tessera_os::platform;
use tessera_vcpu::ArchVcpu;
use tessera_vcpu_aarch64::lr::VirtualIrq;
use tessera_vcpu_aarch64::{Aarch64Vcpu, Injection, LR_BUFFER};
use tessera_vdev::{AccessWidth, DeviceError, SharedMmio};
use tessera_vgic::{GicVersion, Vgic};
use tessera_vm::InterruptController;

/// A VM's emulated GICv3 and, beside its lock, the vCPUs it may have something new
/// for: an entry of a vCPU not in that mask takes no lock and scans nothing.
pub struct SharedVgic {
    model: Mutex<Vgic>,
    /// [`Vgic::take_fresh`] gathered under the lock, read without it.
    fresh: AtomicU64,
    /// [`Vgic::take_kicks`] gathered the same way.
    kicks: AtomicU64,
    /// By PPI ([`gic::GUEST_DEVICE_PPIS`] order): the vCPUs whose line of that PPI is high in
    /// the model (set when it fires, cleared when its device's output is seen low),
    /// so that an entry looks only at the lines that fired.
    output_lines: [AtomicU64; gic::GUEST_DEVICE_PPIS.len()],
    /// By physical CPU: the vCPU of this VM that last entered the guest there, whose
    /// timers and list registers the CPU holds while it runs (a redistributor access
    /// on that CPU comes from it).
    entered: [AtomicUsize; platform::CPU_COUNT],
}

impl SharedVgic {
    /// Runs `f` on the model under its lock and publishes the vCPUs it marked fresh.
    fn with<R>(&self, f: impl FnOnce(&mut Vgic) -> R) -> R {
        let mut model = self.model.lock();
        let result = f(&mut model);
        self.fresh.fetch_or(model.take_fresh(), Ordering::Release);
        self.kicks.fetch_or(model.take_kicks(), Ordering::Release);
        result
    }

    /// Whether vCPU `index` may have something new, and forgets it: the caller looks
    /// now. A raise after this sets the bit again.
    fn take_fresh(&self, index: usize) -> bool {
        let bit = vcpu_bit(index);
        self.fresh.load(Ordering::Acquire) & bit != 0
            && self.fresh.fetch_and(!bit, Ordering::AcqRel) & bit != 0
    }

    /// Whether vCPU `index` may have something new (without forgetting it).
    fn is_fresh(&self, index: usize) -> bool {
        self.fresh.load(Ordering::Acquire) & vcpu_bit(index) != 0
    }

    /// Marks vCPU `index` as having something to look at again.
    fn refresh(&self, index: usize) {
        self.fresh.fetch_or(vcpu_bit(index), Ordering::Release);
    }

    /// Records that vCPU `index` enters the guest on this physical CPU.
    fn note_entry(&self, index: usize) {
        if let Some(entered) = self.entered.get(hal::cpu_index())
            && entered.load(Ordering::Relaxed) != index
        {
            entered.store(index, Ordering::Relaxed);
        }
    }

    /// The vCPU running on this physical CPU, if one of this VM's is.
    fn running_here(&self) -> Option<usize> {
        let index = self.entered.get(hal::cpu_index())?.load(Ordering::Relaxed);
        (index != usize::MAX).then_some(index)
    }
}

/// Lowers the lines of vCPU `index` whose device (a timer, the PMU) stopped
/// asserting its interrupt (`output` tells, by PPI): the guest disabled, masked,
/// reprogrammed or cleared it. A PPI the guest does not hold in a list register
/// (`in_lrs`) is deactivated at the physical GIC too, so that it fires again; one
/// it holds is deactivated by the guest through the link.
fn lower_quiet_lines(
    vgic: &SharedVgic,
    model: &mut Vgic,
    index: usize,
    output: impl Fn(u32) -> bool,
    in_lrs: impl Fn(u32) -> bool,
) {
    let bit = vcpu_bit(index);
    for (intid, lines) in gic::GUEST_DEVICE_PPIS.into_iter().zip(&vgic.output_lines) {
        if lines.load(Ordering::Acquire) & bit == 0 || output(intid) {
            continue;
        }
        lines.fetch_and(!bit, Ordering::AcqRel);
        let _ = model.set_level(index, intid, false);
        if !in_lrs(intid) {
            gic::deactivate(intid);
        }
    }
}

/// The physical interrupt virtual `intid` is linked to: the same INTID, for a PPI of
/// the guest's own devices (linked one to one) and the VM's passthrough SPIs
/// (`linked`); none for the others.
fn hardware_link(intid: u32, linked: &[u32]) -> Option<u32> {
    (gic::GUEST_DEVICE_PPIS.contains(&intid) || linked.contains(&intid)).then_some(intid)
}

/// vCPU `index`'s bit in a vCPU mask (none beyond the 64 a mask holds).
fn vcpu_bit(index: usize) -> u64 {
    u32::try_from(index)
        .ok()
        .and_then(|shift| 1u64.checked_shl(shift))
        .unwrap_or(0)
}

/// A VM's interrupt controller: its emulated GICv3, if the config gives it one.
#[derive(Clone, Default)]
pub struct IrqChip(Option<Arc<SharedVgic>>);

impl IrqChip {
    /// A VM with an emulated GICv3 model.
    pub fn new(vgic: Vgic) -> Self {
        Self(Some(Arc::new(SharedVgic {
            model: Mutex::new(vgic),
            fresh: AtomicU64::new(u64::MAX),
            kicks: AtomicU64::new(0),
            output_lines: core::array::from_fn(|_| AtomicU64::new(0)),
            entered: core::array::from_fn(|_| AtomicUsize::new(usize::MAX)),
        })))
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
            .is_some_and(|vgic| vgic.with(|model| model.raise(vcpu, intid)).is_ok())
    }

    /// PPI `intid` of one of vCPU `vcpu`'s own devices (a timer, the PMU) fired: its
    /// line is high (until the device's output is seen low), and the vCPU looks at
    /// it; whether the VM can take it.
    pub fn ppi_fired(&self, vcpu: usize, intid: u32) -> bool {
        self.0.as_ref().is_some_and(|vgic| {
            let taken = vgic
                .with(|model| model.set_level(vcpu, intid, true))
                .is_ok();
            if let Some(lines) = gic::GUEST_DEVICE_PPIS
                .iter()
                .position(|&ppi| ppi == intid)
                .and_then(|n| vgic.output_lines.get(n))
            {
                lines.fetch_or(vcpu_bit(vcpu), Ordering::Release);
            }
            vgic.refresh(vcpu);
            taken
        })
    }

    /// The window of `frame` onto this model, for the VM's bus.
    pub fn window(&self, frame: GicFrame) -> Option<VgicWindow> {
        self.0.clone().map(|vgic| VgicWindow { vgic, frame })
    }

    /// The interrupt line of SPI `intid` into this model, if the model has it.
    pub fn line(&self, intid: u32) -> Option<IrqLine> {
        let vgic = self.0.clone()?;
        let spis = tessera_vgic::SPI_BASE..tessera_vgic::SPI_BASE + super::VGIC_SPIS;
        spis.contains(&intid).then_some(IrqLine { vgic, intid })
    }
}

impl InterruptController<Aarch64Vcpu> for IrqChip {
    /// Back to the power-on state (VM reset).
    fn reset(&self) {
        if let Some(vgic) = &self.0 {
            vgic.with(Vgic::reset);
        }
    }

    /// The vCPUs (bit mask) whose interrupt state changed since the last call.
    fn take_kicks(&self) -> u64 {
        self.0.as_ref().map_or(0, |vgic| {
            if vgic.kicks.load(Ordering::Acquire) == 0 {
                0
            } else {
                vgic.kicks.swap(0, Ordering::AcqRel)
            }
        })
    }

    /// Routes the guest's ICC_SGI1R_EL1 write `value` from vCPU `sender`; returns the
    /// vCPUs (bit mask) that got an SGI.
    fn send_ipi(&self, sender: usize, value: u64) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |vgic| vgic.with(|model| model.send_sgi(sender, value)))
    }

    /// Whether vCPU `index` has an interrupt to take (so it stops waiting): one in its
    /// list registers, its own timer due while it is not loaded (it takes the
    /// interrupt once loaded), or one the model got since its last delivery.
    fn has_work(&self, index: usize, vcpu: &Aarch64Vcpu) -> bool {
        vcpu.has_pending_interrupt()
            || self.0.is_some()
                && vcpu
                    .timer_deadline()
                    .is_some_and(|at| hal::counter_ticks() >= at)
            || self
                .0
                .as_ref()
                .is_some_and(|vgic| vgic.is_fresh(index) && vgic.model.lock().has_pending(index))
    }

    /// Moves the interrupts pending for vCPU `index` into the list registers, linking
    /// timer PPIs and the VM's passthrough SPIs (`linked`) to their physical
    /// interrupts; asks for a maintenance interrupt when they do not all fit. Nothing
    /// to do, and no lock taken, when the model has nothing new for the vCPU.
    fn deliver(&self, index: usize, vcpu: &mut Aarch64Vcpu, linked: &[u32]) {
        let Some(vgic) = &self.0 else { return };
        vgic.note_entry(index);
        if !vgic.take_fresh(index) {
            return;
        }
        // What is in the list registers and cannot take another raise, then what
        // this delivery puts there: a level-sensitive interrupt stays pending in the
        // model while its line is high, and must not be handed over twice.
        let mut in_lrs = [0; LR_BUFFER];
        let mut count = vcpu.busy_interrupts(&mut in_lrs);
        let overflow = vgic.with(|model| {
            // Held in any state, as the guest's own register accesses see it
            // (`VgicWindow::sample_lines`): a pending hardware-linked PPI still
            // links the physical one, which must stay active.
            lower_quiet_lines(
                vgic,
                model,
                index,
                |intid| vcpu.ppi_output(intid),
                |intid| vcpu.holds_interrupt(intid),
            );
            while let Some(pending) = model.take_pending(index, in_lrs.get(..count).unwrap_or(&[]))
            {
                let intid = pending.intid;
                let physical = hardware_link(intid, linked);
                let irq = VirtualIrq {
                    intid,
                    priority: pending.priority,
                    group1: pending.group1,
                    source: pending.source,
                    physical,
                };
                if vcpu.inject(irq) == Injection::Full {
                    // Back into the model (which marks it fresh again); it is
                    // delivered when a list register frees up.
                    let _ = model.raise(index, intid);
                    return true;
                }
                // One per list register, so this always has room.
                let Some(slot) = in_lrs.get_mut(count) else {
                    return true;
                };
                *slot = intid;
                count += 1;
            }
            // Pending again while the guest holds it (a level line still high, an SGI
            // sent again): the next entry looks again, and the guest's next wait
            // exits so that there is one. A hardware-linked one comes back through
            // its physical interrupt once the guest deactivated it.
            if in_lrs.get(..count).unwrap_or(&[]).iter().any(|&intid| {
                hardware_link(intid, linked).is_none() && model.is_pending(index, intid)
            }) {
                vgic.refresh(index);
                vcpu.exit_next_wait();
            }
            false
        });
        vcpu.notify_when_drained(overflow);
    }
}

/// A level-sensitive interrupt line from an emulated device into a VM's vGIC.
#[derive(Clone)]
pub struct IrqLine {
    vgic: Arc<SharedVgic>,
    intid: u32,
}

impl IrqLine {
    /// Follows the device's output level (called when it changes): the interrupt is
    /// pending while it is high.
    pub fn set_level(&self, high: bool) {
        self.vgic.with(|model| {
            let _ = model.set_level(0, self.intid, high);
        });
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
    vgic: Arc<SharedVgic>,
    frame: GicFrame,
}

impl SharedMmio for VgicWindow {
    fn name(&self) -> &'static str {
        match self.frame {
            GicFrame::Distributor => "gicd",
            GicFrame::Redistributors => "gicr",
        }
    }

    fn read(&self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        self.vgic.with(|model| match self.frame {
            GicFrame::Distributor => {
                let vcpu = self.banked_reader(model);
                model.read_distributor_from(vcpu, offset, width)
            }
            GicFrame::Redistributors => {
                self.sample_lines(model, offset);
                model.read_redistributor(offset, width)
            }
        })
    }

    fn write(&self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        self.vgic.with(|model| match self.frame {
            GicFrame::Distributor => {
                let vcpu = self.banked_reader(model);
                model.write_distributor_from(vcpu, offset, width, value)
            }
            GicFrame::Redistributors => {
                self.sample_lines(model, offset);
                model.write_redistributor(offset, width, value)
            }
        })
    }
}

impl VgicWindow {
    /// The vCPU a distributor access comes from (the one running on this CPU), which
    /// a GICv2's banked SGI and PPI registers answer for; their lines are sampled
    /// first (see [`VgicWindow::sample_lines`]).
    fn banked_reader(&self, model: &mut Vgic) -> usize {
        let vcpu = self.vgic.running_here().unwrap_or(0);
        if model.version() == GicVersion::V2 {
            self.sample_lines(model, vcpu as u64 * tessera_vgic::REDISTRIBUTOR_STRIDE);
        }
        vcpu
    }

    /// Before an access at `offset` in the redistributors (or a GICv2's banked
    /// distributor registers): when it is the running vCPU's own, the lines of its
    /// devices follow what they assert now (they run on this CPU), so the guest sees
    /// a timer or PMU PPI pending exactly while it is.
    fn sample_lines(&self, model: &mut Vgic, offset: u64) {
        let Some(index) = self.vgic.running_here() else {
            return;
        };
        if offset / tessera_vgic::REDISTRIBUTOR_STRIDE == index as u64 {
            lower_quiet_lines(
                &self.vgic,
                model,
                index,
                tessera_vcpu_aarch64::loaded_ppi_output,
                tessera_vcpu_aarch64::in_list_registers,
            );
        }
    }
}

/// Takes every physical interrupt pending on this CPU. `loaded` is the vCPU whose
/// timers are on this CPU: its timer interrupts become its virtual ones.
pub fn handle_host_interrupts(vms: &Vms, loaded: Option<TaskId>) {
    while let Some(intid) = gic::acknowledge() {
        gic::end_of_interrupt(intid);
        if intid == gic::HYPERVISOR_TIMER_PPI {
            // A waiting vCPU's timer is due: the scheduler looks at its vCPUs.
            hal::wake_at(None);
            gic::deactivate(intid);
        } else if intid == gic::KICK_SGI || intid == gic::MAINTENANCE_PPI {
            // They only bring this CPU back to look at its vCPUs.
            gic::deactivate(intid);
        } else if gic::GUEST_DEVICE_PPIS.contains(&intid) {
            forward_ppi(vms, loaded, intid);
        } else if intid == platform::UART_IRQ {
            gic::deactivate(intid);
            irq::console_input(vms);
        } else if irq::forward_device_irq(vms, intid) {
            // Deactivated by the guest through the linked virtual interrupt.
        } else {
            gic::deactivate(intid);
            log::warn!("unexpected physical interrupt {intid} ignored");
        }
    }
}

/// A guest timer or its PMU fired: the loaded vCPU's virtual PPI line goes high, and
/// the physical PPI stays active until the guest deactivates the linked virtual
/// interrupt, or the line is seen low while the guest does not hold it
/// (`lower_quiet_lines`). A VM with no vGIC cannot take it, so its source is silenced
/// instead of firing without end.
fn forward_ppi(vms: &Vms, loaded: Option<TaskId>, intid: u32) {
    let target = loaded.and_then(|(v, i)| Some((vms.entries.get(v)?, i)));
    if !target.is_some_and(|(entry, i)| entry.vm.irqchip.ppi_fired(i, intid)) {
        tessera_vcpu_aarch64::mask_ppi_source(intid);
        gic::deactivate(intid);
    }
}
