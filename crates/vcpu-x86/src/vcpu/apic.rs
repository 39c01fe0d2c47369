//! The vCPU's local APIC (a [`LocalApic`] model per vCPU): its MSRs (IA32_APIC_BASE,
//! IA32_TSC_DEADLINE, the x2APIC block 0x800-0x8FF) and its xAPIC page, answered
//! inside the run loop; the interrupts it holds, injected before each entry; its
//! timer, which the hypervisor's wake-up timer follows. IPIs to other vCPUs leave
//! as [`VcpuExit::SendIpi`] with the [`tessera_vdev::Ipi::to_word`] word, which the
//! VM's interrupt controller routes back into the targets' APICs
//! ([`X86Vcpu::accept_interrupt`]).

use super::{GP, X86Vcpu};
use crate::insn::{MmioInsn, Operand};
use tessera_addr::GuestPhysAddr;
use tessera_os::hal::timer;
use tessera_vcpu::{AccessWidth, VcpuExit};
use tessera_vdev::{
    ApicError, ApicMode, Destination, Effect, IcrMode, Ipi, LintMode, LocalApic, LogicalId,
};

/// The rate of the APIC timer's input clock before its divider, as the guest sees it
/// (the hypervisor states it nowhere; guests measure it, as Linux does against the
/// PIT).
pub(super) const APIC_TIMER_HZ: u64 = 1_000_000_000;
/// The x2APIC MSRs.
const X2APIC_MSRS: core::ops::RangeInclusive<u32> = 0x800..=0x8ff;
/// xAPIC registers the firmware of a PC sets on the bootstrap processor before a
/// kernel runs (the MP specification's virtual wire mode): the spurious vector
/// register with the APIC software-enabled, LINT0 as ExtINT (the 8259 PICs' output
/// comes in there) and LINT1 as NMI.
const SVR: u64 = 0xf0;
const LVT_LINT0: u64 = 0x350;
const LVT_LINT1: u64 = 0x360;
const SVR_ENABLED: u32 = 0x1ff;
const LVT_EXTINT: u32 = 0x700;
const LVT_NMI: u32 = 0x400;

impl X86Vcpu {
    /// The VM's time-stamp counter: the APIC's clock.
    fn guest_tsc(&self) -> u64 {
        // SAFETY: RDTSC only reads the counter.
        let host = unsafe { core::arch::x86_64::_rdtsc() };
        host.wrapping_add(self.vmcb.control.tsc_offset)
    }

    /// The APIC at power-on, as a PC's firmware leaves it: vCPU 0 (the bootstrap
    /// processor) in virtual wire mode, the others untouched.
    pub(super) fn reset_apic(&mut self) {
        self.apic = LocalApic::new(self.index, self.tsc_hz, APIC_TIMER_HZ);
        self.nmi_pending = false;
        self.level_eois = [0; 4];
        if self.index == 0 {
            for (offset, value) in [
                (SVR, SVR_ENABLED),
                (LVT_LINT0, LVT_EXTINT),
                (LVT_LINT1, LVT_NMI),
            ] {
                self.apic.write_mmio(offset, AccessWidth::Word, value, 0);
            }
        }
    }

    /// Whether `msr` is one of the APIC's.
    pub(super) fn is_apic_msr(msr: u32) -> bool {
        msr == LocalApic::APIC_BASE_MSR
            || msr == LocalApic::TSC_DEADLINE_MSR
            || X2APIC_MSRS.contains(&msr)
    }

    /// RDMSR of an APIC MSR: its value, or `None` after injecting #GP.
    pub(super) fn read_apic_msr(&mut self, msr: u32) -> Option<u64> {
        let read = match msr {
            LocalApic::APIC_BASE_MSR => Ok(self.apic.apic_base()),
            LocalApic::TSC_DEADLINE_MSR => Ok(self.apic.read_tsc_deadline()),
            _ => {
                let now = self.guest_tsc();
                self.apic.read_msr(msr, now)
            }
        };
        read.map_err(|error| self.apic_fault(error)).ok()
    }

    /// WRMSR of an APIC MSR: `Err` after injecting #GP (the instruction is not
    /// completed), else the exit an IPI to other vCPUs needs.
    pub(super) fn write_apic_msr(
        &mut self,
        msr: u32,
        value: u64,
    ) -> Result<Option<VcpuExit>, ApicError> {
        let now = self.guest_tsc();
        let before = self.apic.logical_id();
        let effect = match msr {
            LocalApic::APIC_BASE_MSR => self.apic.set_apic_base(value).map(|()| Effect::None),
            LocalApic::TSC_DEADLINE_MSR => Ok(self.apic.write_tsc_deadline(value, now)),
            _ => self.apic.write_msr(msr, value, now),
        };
        self.logical_changed |= self.apic.logical_id() != before;
        match effect {
            Ok(effect) => Ok(self.apic_effect(effect)),
            Err(error) => {
                self.apic_fault(error);
                Err(error)
            }
        }
    }

    /// Injects the #GP a refused APIC MSR access gets.
    fn apic_fault(&mut self, error: ApicError) {
        log::debug!(
            "guest APIC MSR access at rip {:#x}: {error}: #GP",
            self.vmcb.save.rip
        );
        self.inject_exception(GP, Some(0));
    }

    /// An access to the xAPIC page the vCPU answers itself (the instruction already
    /// stepped over): `None` when the page is not the APIC's now (the APIC is
    /// disabled or in x2APIC mode), so the access goes to the VM's devices as any.
    pub(super) fn xapic_access(
        &mut self,
        gpa: GuestPhysAddr,
        access: &MmioInsn,
        width: AccessWidth,
    ) -> Option<VcpuExit> {
        let offset = gpa.raw().checked_sub(LocalApic::BASE)?;
        if offset >= LocalApic::SIZE || self.apic.mode() != ApicMode::XApic {
            return None;
        }
        let now = self.guest_tsc();
        if access.write {
            let reg = match access.kind {
                Operand::Register { reg, .. } => self.reg(reg),
                Operand::Immediate(_) => 0,
            };
            let value = access.store_value(reg) as u32;
            let before = self.apic.logical_id();
            let effect = self.apic.write_mmio(offset, width, value, now);
            self.logical_changed |= self.apic.logical_id() != before;
            return Some(self.apic_effect(effect).unwrap_or(VcpuExit::Handled));
        }
        let value = self.apic.read_mmio(offset, width, now);
        if let Operand::Register { reg, .. } = access.kind {
            let old = self.reg(reg);
            self.set_reg(reg, access.load_result(old, u64::from(value)));
        }
        Some(VcpuExit::Handled)
    }

    /// Acts on what an APIC write asks of the outside: an IPI to this vCPU alone is
    /// taken here, one to others leaves as an exit; the EOI of a level-triggered
    /// vector is kept for the VM's I/O APIC ([`X86Vcpu::take_level_eoi`]); a timer
    /// change is seen at the next entry.
    fn apic_effect(&mut self, effect: Effect) -> Option<VcpuExit> {
        match effect {
            Effect::Eoi {
                vector,
                level: true,
            } => {
                if let Some(word) = self.level_eois.get_mut(usize::from(vector / 64)) {
                    *word |= 1 << (vector % 64);
                }
                None
            }
            Effect::Ipi(ipi) if ipi.destination == Destination::SelfOnly => {
                match ipi.mode {
                    IcrMode::Fixed | IcrMode::LowestPriority => {
                        self.apic.accept(ipi.vector, false);
                    }
                    IcrMode::Nmi => self.nmi_pending = true,
                    _ => {}
                }
                None
            }
            // A STARTUP to one vCPU starts it (the VM layer's CPU_ON) at its page,
            // in real mode; the INIT before it has nothing to do, as application
            // processors wait for a STARTUP from power-on.
            Effect::Ipi(Ipi {
                mode: IcrMode::Startup,
                destination: Destination::Physical(target),
                vector,
            }) => Some(VcpuExit::CpuOn {
                target: u64::from(target),
                entry: GuestPhysAddr::new(u64::from(vector) << 12),
                arg: 0,
            }),
            Effect::Ipi(ipi) => Some(VcpuExit::SendIpi {
                value: ipi.to_word(),
            }),
            Effect::None | Effect::Eoi { .. } | Effect::TimerChanged => None,
        }
    }

    /// Before an entry: the APIC's timer catches up with the time, and what the APIC
    /// holds is injected if the guest can take it (an NMI first), else an exit is
    /// asked for when it can; the physical CPU's wake-up timer is set for the APIC
    /// timer's deadline.
    pub(super) fn prepare_apic(&mut self) {
        let now = self.guest_tsc();
        self.apic.tick(now);
        if let Some(at) = self.apic_deadline_on_host() {
            timer::wake_at(at);
        }
        let vector_waits = self.apic.pending_vector().is_some();
        if self.event_pending() {
            if self.nmi_pending || vector_waits {
                self.request_interrupt_window(true);
            }
        } else if self.nmi_pending {
            self.nmi_pending = false;
            self.inject_nmi();
        } else if vector_waits {
            if !self.interruptible() {
                self.request_interrupt_window(true);
            } else if let Some(vector) = self.apic.acknowledge() {
                self.inject_interrupt(vector);
            }
        }
    }

    /// The APIC timer's next expiry as a host counter value, if it is armed.
    pub(super) fn apic_deadline_on_host(&self) -> Option<u64> {
        let deadline = self.apic.timer_deadline()?;
        Some(deadline.wrapping_sub(self.vmcb.control.tsc_offset))
    }

    /// A fixed interrupt (`vector`, edge) another vCPU or a device sent this vCPU's
    /// APIC; whether the APIC took it (a disabled APIC takes nothing).
    pub fn accept_interrupt(&mut self, vector: u8) -> bool {
        self.apic.accept(vector, false)
    }

    /// An NMI for this vCPU, injected before its next entry.
    pub fn accept_nmi(&mut self) {
        self.nmi_pending = true;
    }

    /// Whether the guest has an interrupt it would take now (its APIC holds a
    /// vector above its priority, its APIC timer is due, or an NMI waits): a
    /// halted vCPU wakes for it.
    pub fn has_apic_interrupt(&self) -> bool {
        self.nmi_pending
            || self.apic.pending_vector().is_some()
            || self
                .apic
                .timer_deadline()
                .is_some_and(|deadline| deadline <= self.guest_tsc())
    }

    /// Whether the 8259 PICs' output reaches this vCPU: its APIC is disabled (the
    /// INTR pin then goes to the core directly) or LVT LINT0 is ExtINT.
    pub fn takes_pic_output(&self) -> bool {
        self.apic.mode() == ApicMode::Disabled || self.apic.lint0() == LintMode::ExtInt
    }

    /// Whether the guest ended level-triggered vectors the I/O APIC must hear of.
    pub fn has_level_eois(&self) -> bool {
        self.level_eois.iter().any(|&word| word != 0)
    }

    /// One level-triggered vector the guest ended since the last call, if any.
    pub fn take_level_eoi(&mut self) -> Option<u8> {
        let (index, word) = self
            .level_eois
            .iter_mut()
            .enumerate()
            .find(|(_, word)| **word != 0)?;
        let bit = word.trailing_zeros();
        *word &= *word - 1;
        Some((index as u32 * 64 + bit) as u8)
    }

    /// The logical destinations this vCPU's APIC answers to, for IPI routing (the
    /// VM layer's interrupt controller reads it before each entry; a write that
    /// changes it ends the run, [`X86Vcpu::take_logical_change`]).
    pub fn logical_id(&self) -> LogicalId {
        self.apic.logical_id()
    }

    /// Whether an APIC write since the last call changed the logical ID, so the
    /// run must end for the VM layer to see the new one before IPIs are routed.
    pub(super) fn take_logical_change(&mut self) -> bool {
        core::mem::take(&mut self.logical_changed)
    }
}
