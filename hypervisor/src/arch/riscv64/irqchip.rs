//! Interrupts on riscv64: a VM's emulated PLIC (`IrqChip`, shown to the guest through
//! a `PlicWindow` on its bus) drives each vCPU's virtual external interrupt (hvip.VSEIP
//! follows the vCPU's S-mode context), SBI IPIs become virtual software interrupts
//! (hvip.VSSIP), and the hart takes its own interrupts (kicks as supervisor software
//! interrupts, the console and passthrough devices through the platform PLIC). Guest
//! timers need nothing here: with Sstc the hardware raises VSTIP from vstimecmp.

use crate::irq::{self, TaskId};
use crate::vmm::Vms;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use tessera_os::hal::{self, plic};
use tessera_os::platform;
use tessera_vcpu_riscv64::Riscv64Vcpu;
use tessera_vdev::{AccessWidth, DeviceError, MmioDevice, Plic, SharedMmio};
use tessera_vm::InterruptController;

/// sip bits the hypervisor takes: supervisor software (kick), timer (wake-up) and
/// external.
const SIP_SSIP: u64 = 1 << 1;
const SIP_STIP: u64 = 1 << 5;
const SIP_SEIP: u64 = 1 << 9;

/// The PLIC context of vCPU `index`'s supervisor mode.
fn context(index: usize) -> u32 {
    Plic::supervisor_context(u32::try_from(index).unwrap_or(u32::MAX))
}

/// A VM's emulated PLIC (if its config gives it one) and its vCPUs' pending software
/// interrupts (SBI IPIs need no PLIC).
struct Model {
    plic: Option<Mutex<Plic>>,
    sources: u32,
    harts: u32,
    /// vCPUs (bit mask) with an SBI IPI not yet handed to them.
    ipis: AtomicU64,
    /// The PLIC's asserted context lines (bit n for context n), published by every
    /// change to the model ([`Model::change`]): an entry reads its vCPU's line
    /// without the model's lock.
    lines: AtomicU64,
    /// Contexts whose line changed and whose vCPU has not been kicked for it.
    changed: AtomicU64,
}

impl Model {
    /// Runs `change` on the PLIC model (when the VM has one), then publishes its
    /// context lines and the contexts whose line changed.
    fn change<R>(&self, change: impl FnOnce(&mut Plic) -> R) -> Option<R> {
        let mut plic = self.plic.as_ref()?.lock();
        let result = change(&mut plic);
        self.lines
            .store(plic.contexts_with_interrupts(), Ordering::Release);
        // Under QEMU's TCG an atomic read-modify-write costs far more than a load or
        // a test: most changes (a claim with nothing pending) change no line.
        let changed = plic.take_changed();
        if changed != 0 {
            self.changed.fetch_or(changed, Ordering::AcqRel);
        }
        Some(result)
    }

    /// Whether context `context`'s line is asserted, from the published lines.
    fn line_of(&self, context: u32) -> bool {
        Plic::line_in(self.lines.load(Ordering::Acquire), context)
    }
}

/// A VM's interrupt state: IPIs between its vCPUs, and its emulated PLIC.
#[derive(Clone)]
pub struct IrqChip(Arc<Model>);

impl IrqChip {
    /// A VM of `harts` vCPUs, with a PLIC of `sources` interrupt sources when given.
    pub fn new(harts: u32, plic_sources: Option<u32>) -> Self {
        Self(Arc::new(Model {
            plic: plic_sources
                .map(|sources| Mutex::new(Plic::new(sources, harts.saturating_mul(2)))),
            sources: plic_sources.unwrap_or(0),
            harts,
            ipis: AtomicU64::new(0),
            lines: AtomicU64::new(0),
            changed: AtomicU64::new(0),
        }))
    }

    /// Whether the VM has an interrupt controller for devices (a PLIC).
    pub fn is_present(&self) -> bool {
        self.0.plic.is_some()
    }

    /// Makes source `irq` pending (an edge); whether the VM can take it.
    pub fn raise(&self, _vcpu: usize, irq: u32) -> bool {
        if irq == 0 || irq > self.0.sources {
            return false;
        }
        self.0.change(|plic| plic.raise(irq)).is_some()
    }

    /// The window onto the PLIC model, for the VM's bus.
    pub fn window(&self) -> Option<PlicWindow> {
        self.0.plic.as_ref()?;
        Some(PlicWindow {
            model: self.0.clone(),
        })
    }

    /// The interrupt line of source `irq` into the PLIC model.
    pub fn line(&self, irq: u32) -> Option<IrqLine> {
        (self.0.plic.is_some() && (1..=self.0.sources).contains(&irq)).then(|| IrqLine {
            model: self.0.clone(),
            irq,
        })
    }
}

impl InterruptController<Riscv64Vcpu> for IrqChip {
    /// Back to the power-on state (VM reset).
    fn reset(&self) {
        let model = &self.0;
        model.change(|plic| *plic = Plic::new(model.sources, model.harts.saturating_mul(2)));
        model.ipis.store(0, Ordering::Release);
    }

    /// The vCPUs (bit mask) whose external interrupt line may have changed.
    fn take_kicks(&self) -> u64 {
        // Looked at before it is taken, as the IPIs in `deliver` are.
        if self.0.changed.load(Ordering::Acquire) == 0 {
            return 0;
        }
        let contexts = self.0.changed.swap(0, Ordering::AcqRel);
        // Context 2h + 1 is hart h's S mode.
        (0..32u32)
            .filter(|hart| contexts & (1u64 << (2 * hart + 1)) != 0)
            .fold(0, |mask, hart| mask | (1 << hart))
    }

    /// SBI IPIs from vCPU `_sender` to the vCPUs in `mask`; returns those that exist.
    fn send_ipi(&self, _sender: usize, mask: u64) -> u64 {
        let model = &self.0;
        let exists = if model.harts >= 64 {
            u64::MAX
        } else {
            (1u64 << model.harts) - 1
        };
        let targets = mask & exists;
        model.ipis.fetch_or(targets, Ordering::AcqRel);
        targets
    }

    /// Whether vCPU `index` has an interrupt to take (so it stops waiting).
    fn has_work(&self, index: usize, vcpu: &Riscv64Vcpu) -> bool {
        let model = &self.0;
        vcpu.has_pending_interrupt()
            || (index < 64 && model.ipis.load(Ordering::Acquire) & (1 << index) != 0)
            || model.line_of(context(index))
    }

    /// Sets vCPU `index`'s virtual interrupt lines before it runs: external from its
    /// PLIC context, software when an IPI waits for it.
    fn deliver(&self, index: usize, vcpu: &mut Riscv64Vcpu, _linked: &[u32]) {
        let model = &self.0;
        vcpu.set_external_interrupt(model.line_of(context(index)));
        if index < 64 {
            let bit = 1u64 << index;
            // Looked at before it is taken: an atomic read-modify-write costs
            // far more than a load under QEMU's TCG, and mostly none waits.
            if model.ipis.load(Ordering::Acquire) & bit != 0
                && model.ipis.fetch_and(!bit, Ordering::AcqRel) & bit != 0
            {
                vcpu.set_software_interrupt(true);
            }
        }
    }
}

/// A level-sensitive interrupt line from an emulated device into a VM's PLIC.
#[derive(Clone)]
pub struct IrqLine {
    model: Arc<Model>,
    irq: u32,
}

impl IrqLine {
    /// Follows the device's output level.
    pub fn set_level(&self, high: bool) {
        self.model.change(|plic| plic.set_level(self.irq, high));
    }
}

/// A bus window onto a VM's PLIC model.
pub struct PlicWindow {
    model: Arc<Model>,
}

impl SharedMmio for PlicWindow {
    fn name(&self) -> &'static str {
        "plic"
    }

    fn read(&self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        // A read changes the model too: a claim takes the interrupt.
        self.model
            .change(|plic| plic.read(offset, width))
            .unwrap_or(Err(DeviceError::NoRegister { offset }))
    }

    fn write(&self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        self.model
            .change(|plic| plic.write(offset, width, value))
            .unwrap_or(Err(DeviceError::NoRegister { offset }))
    }
}

/// Takes every interrupt pending for this hart: kicks (software interrupts), and the
/// platform PLIC's sources (the console, passthrough devices).
pub fn handle_host_interrupts(vms: &Vms, _loaded: Option<TaskId>) {
    let sip: u64;
    // SAFETY: reading sip has no side effects.
    unsafe { core::arch::asm!("csrr {}, sip", out(reg) sip, options(nomem, nostack)) };
    if sip & SIP_SSIP != 0 {
        hal::cpu::clear_kick();
    }
    if sip & SIP_STIP != 0 {
        // A waiting vCPU's timer is due: the scheduler looks at its vCPUs.
        hal::wake_at(None);
    }
    if sip & SIP_SEIP == 0 {
        return;
    }
    while let Some(source) = plic::claim() {
        if source == platform::UART_IRQ {
            irq::console_input(vms);
        } else if !irq::forward_device_irq(vms, source) {
            log::warn!("unexpected platform interrupt {source} ignored");
        }
        plic::complete(source);
    }
}
