//! The aarch64 vCPU on the hardware: EL2 traps configured for an EL1 guest, the run
//! loop that handles what it can without leaving (PSCI queries, hidden registers),
//! and the state moved in and out when a physical CPU switches vCPUs.

use crate::context::{El1Context, FpContext, SCTLR_EL1_RESET};
use crate::debug::DebugContext;
use crate::esr::{self, AbortOn, DataAbort, Exception};
use crate::gic_cpu::{self, Injection, VirtualCpuInterface};
use crate::lr::VirtualIrq;
use crate::pmu;
use crate::pmu_context::{self, PmuContext};
use crate::psci::{self, Call};
use crate::sysreg::{self, SysRegAction};
use crate::timer;
use aarch64_cpu::registers::{
    CNTHCTL_EL2, CNTPCT_EL0, CNTVOFF_EL2, CPTR_EL2, ELR_EL2, ESR_EL2, FAR_EL2, HCR_EL2, HPFAR_EL2,
    ID_AA64DFR0_EL1, ID_AA64ISAR1_EL1, ID_AA64MMFR0_EL1, MDCR_EL2, MIDR_EL1, Readable, SPSR_EL2,
    VBAR_EL1, VMPIDR_EL2, VTCR_EL2, VTTBR_EL2, Writeable,
};
use core::arch::asm;
use tessera_addr::{GuestPhysAddr, HostPhysAddr};
use tessera_os::hal::gic;
use tessera_os::hal::guest::{self, ExitKind, GuestRegs};
use tessera_stage2::Aarch64Stage2;
use tessera_vcpu::{
    AccessWidth, ArchVcpu, CallAnswer, FaultStreak, VcpuError, VcpuExit, WarnLimit, dropped_note,
};

/// SPSR for EL1h with D, A, I and F masked: how a vCPU starts.
const SPSR_EL1H_MASKED: u64 = 0x3C5;
/// HCR_EL2: VM, SWIO, FMO, IMO, AMO, TID3, TSC, TIDCP, TACR, TSW, RW; TWI and TWE
/// ([`HCR_WAIT_TRAPS`]) come with [`ArchVcpu::set_wait_exits`].
const HCR_GUEST: u64 = (1 << 0)
    | (1 << 1)
    | (1 << 3)
    | (1 << 4)
    | (1 << 5)
    | (1 << 18)
    | (1 << 19)
    | (1 << 20)
    | (1 << 21)
    | (1 << 22)
    | (1 << 31);
/// HCR_EL2.TWI and TWE: WFI and WFE trap.
const HCR_WAIT_TRAPS: u64 = (1 << 13) | (1 << 14);
/// HCR_EL2.APK and API: pointer authentication keys and instructions are not trapped.
const HCR_PAUTH: u64 = (1 << 40) | (1 << 41);
/// SPSR_EL2.SS (bit 21): the guest's software step is active-not-pending.
const SPSR_SS: u64 = 1 << 21;
/// CPTR_EL2 (nVHE): RES1 bits, SVE (TZ) and SME (TSM) trapped, FP/SIMD not trapped.
const CPTR_GUEST: u64 = 0x33FF;
/// CNTHCTL_EL2: EL1PCTEN and EL1PCEN: the guest reads the physical counter and timer.
const CNTHCTL_GUEST: u64 = 0b11;

/// Sets the per-CPU EL2 controls every guest shares; called once on each physical CPU.
pub fn init_cpu_for_guests() {
    let pa_range = ID_AA64MMFR0_EL1.get() & 0xf;
    VTCR_EL2.set(Aarch64Stage2::vtcr_el2(pa_range));
    CNTHCTL_EL2.set(CNTHCTL_GUEST);
    // The guest owns its debug registers (switched with the vCPU, `DebugContext`)
    // and, with a PMUv3, its performance monitors (`PmuContext`).
    let pmcr = if pmu_offered() {
        let pmcr: u64;
        // SAFETY: reading PMCR_EL0 at EL2 has no side effects.
        unsafe { asm!("mrs {}, pmcr_el0", out(reg) pmcr, options(nomem, nostack)) };
        pmcr
    } else {
        0
    };
    MDCR_EL2.set(pmu::mdcr_el2(MDCR_EL2.get(), pmu_version(), pmcr));
    CPTR_EL2.set(CPTR_GUEST);
    // SAFETY: VPIDR_EL2 is what EL1 reads as MIDR_EL1; the real value hides nothing.
    unsafe { asm!("msr vpidr_el2, {}", in(reg) MIDR_EL1.get(), options(nomem, nostack)) };
}

/// Silences the loaded guest's device behind PPI `intid` at the device itself: a timer
/// (virtual or EL1 physical) is masked (CNT*_CTL_EL0.IMASK, unmasked again when the
/// guest next programs it), the PMU's overflow interrupt disabled. For a VM that has
/// no interrupt controller to take it.
pub fn mask_ppi_source(intid: u32) {
    match intid {
        gic::PMU_PPI if pmu_offered() => pmu_context::mask_loaded_interrupt(),
        gic::PMU_PPI => {}
        other => mask_timer(other == gic::VIRTUAL_TIMER_PPI),
    }
}

/// Masks the loaded guest's virtual (`true`) or physical EL1 timer interrupt at the
/// timer itself (CNT*_CTL_EL0.IMASK).
fn mask_timer(virtual_timer: bool) {
    const IMASK: u64 = 1 << 1;
    // SAFETY: the timer control registers belong to the guest loaded on this CPU;
    // setting IMASK only stops its interrupt output.
    unsafe {
        if virtual_timer {
            asm!("mrs {t}, cntv_ctl_el0", "orr {t}, {t}, {m}", "msr cntv_ctl_el0, {t}",
                t = out(reg) _, m = in(reg) IMASK, options(nomem, nostack));
        } else {
            asm!("mrs {t}, cntp_ctl_el0", "orr {t}, {t}, {m}", "msr cntp_ctl_el0, {t}",
                t = out(reg) _, m = in(reg) IMASK, options(nomem, nostack));
        }
    }
}

/// What the guest waits for from the VM layer.
#[derive(Clone, Copy, Debug)]
enum Pending {
    None,
    MmioRead(DataAbort),
    Answer,
}

/// One virtual CPU of an EL1 guest.
pub struct Aarch64Vcpu {
    regs: GuestRegs,
    pc: u64,
    pstate: u64,
    el1: El1Context,
    fp: FpContext,
    debug: DebugContext,
    pmu: PmuContext,
    gic: VirtualCpuInterface,
    /// CNTVOFF_EL2 of the VM: its virtual counter started at zero when it was created.
    cntvoff: u64,
    /// The saved context is newer than what the CPU holds (the vCPU is not loaded).
    dirty: bool,
    /// HCR_EL2 for it, with the wait traps the VM layer asked for.
    hcr: u64,
    /// HCR_EL2 as this CPU holds it while the vCPU is loaded.
    hcr_live: u64,
    /// The interrupt controller looks again at the next entry: until then, waits
    /// exit whatever `hcr` says ([`Self::exit_next_wait`]).
    look_again: bool,
    vttbr: u64,
    vmpidr: u64,
    pending: Pending,
    /// The last emulated access (a data abort to EL2): its virtual address (FAR) and
    /// whether it was a write, for the abort [`ArchVcpu::fail_access`] gives.
    last_access: (u64, bool),
    /// Faults injected in a row at one pc.
    faults: FaultStreak,
    /// Its log lines about guest instructions it makes undefined, thinned out.
    warnings: WarnLimit,
}

/// ID_AA64DFR0_EL1.PMUVer [11:8] of this CPU.
fn pmu_version() -> u64 {
    (ID_AA64DFR0_EL1.get() >> 8) & 0xf
}

/// Whether this CPU has a PMUv3 for guests (its registers exist and are theirs).
pub fn pmu_offered() -> bool {
    pmu::offered(pmu_version())
}

/// Whether the loaded guest's device behind PPI `intid` (its virtual or EL1 physical
/// timer, its PMU) asserts its interrupt now.
pub fn loaded_ppi_output(intid: u32) -> bool {
    match intid {
        gic::PMU_PPI => pmu_offered() && pmu_context::loaded_output(),
        other => loaded_timer_output(other == gic::VIRTUAL_TIMER_PPI),
    }
}

/// Whether the virtual (`true`) or EL1 physical timer of the guest loaded on this
/// CPU asserts its interrupt now (enabled, not masked, condition met).
fn loaded_timer_output(virtual_timer: bool) -> bool {
    let ctl: u64;
    // SAFETY: reading the timer control registers has no side effects.
    unsafe {
        if virtual_timer {
            asm!("mrs {}, cntv_ctl_el0", out(reg) ctl, options(nomem, nostack));
        } else {
            asm!("mrs {}, cntp_ctl_el0", out(reg) ctl, options(nomem, nostack));
        }
    }
    timer::output_of(ctl)
}

impl Aarch64Vcpu {
    /// A vCPU of the VM with `vmid` and stage-2 root table `stage2_root`, seen by the
    /// guest with affinity `mpidr`, its virtual counter offset by `cntvoff`. It starts
    /// in reset state at address 0; call `reset`.
    pub fn new(vmid: u8, stage2_root: HostPhysAddr, mpidr: u64, cntvoff: u64) -> Self {
        let isar1 = ID_AA64ISAR1_EL1.get();
        // APA [7:4], API [11:8], GPA [27:24], GPI [31:28]: any non-zero means pointer auth.
        let pauth = isar1 & 0xff00_0ff0 != 0;
        let hcr = HCR_GUEST | HCR_WAIT_TRAPS | if pauth { HCR_PAUTH } else { 0 };
        Self {
            regs: GuestRegs::default(),
            pc: 0,
            pstate: SPSR_EL1H_MASKED,
            el1: El1Context {
                sctlr: SCTLR_EL1_RESET,
                ..El1Context::default()
            },
            fp: FpContext::default(),
            debug: DebugContext::default(),
            pmu: PmuContext::default(),
            gic: VirtualCpuInterface::default(),
            cntvoff,
            dirty: true,
            hcr,
            hcr_live: hcr,
            look_again: false,
            vttbr: (u64::from(vmid) << 48) | stage2_root.raw(),
            vmpidr: (1 << 31) | mpidr,
            pending: Pending::None,
            last_access: (0, false),
            faults: FaultStreak::default(),
            warnings: WarnLimit::default(),
        }
    }

    /// Hands virtual interrupt `irq` to the guest (the vCPU is loaded on this CPU).
    pub fn inject(&mut self, irq: VirtualIrq) -> Injection {
        if self.dirty {
            self.load();
        }
        gic_cpu::inject(irq)
    }

    /// The interrupt controller has to look again at the next entry (an interrupt
    /// pending again while the guest holds it): the guest's next wait exits, even
    /// when its waits otherwise stay in the guest.
    pub fn exit_next_wait(&mut self) {
        self.look_again = true;
    }

    /// Puts into `ids` the vINTIDs in the list registers that cannot take another
    /// raise now; returns how many there are.
    pub fn busy_interrupts(&self, ids: &mut [u32; gic_cpu::LR_BUFFER]) -> usize {
        if self.dirty {
            0
        } else {
            gic_cpu::busy_intids(ids)
        }
    }

    /// Whether a list register holds `vintid` in any state: the live ones when the
    /// vCPU is loaded, its saved ones when not.
    pub fn holds_interrupt(&self, vintid: u32) -> bool {
        if self.dirty {
            self.gic.holds(vintid)
        } else {
            gic_cpu::in_list_registers(vintid)
        }
    }

    /// Whether the list registers hold an interrupt the guest has not taken yet.
    pub fn has_pending_interrupt(&self) -> bool {
        if self.dirty {
            self.gic.has_pending()
        } else {
            gic_cpu::has_pending()
        }
    }

    /// Whether its virtual (`true`) or EL1 physical timer asserts its interrupt now:
    /// read from the CPU when the vCPU is loaded, worked out from the saved timer and
    /// the counter when it is not.
    pub fn timer_output(&self, virtual_timer: bool) -> bool {
        if !self.dirty {
            return loaded_timer_output(virtual_timer);
        }
        let count = CNTPCT_EL0.get();
        if virtual_timer {
            let count = count.wrapping_sub(self.cntvoff);
            timer::saved_output(self.el1.cntv_ctl, self.el1.cntv_cval, count)
        } else {
            timer::saved_output(self.el1.cntp_ctl, self.el1.cntp_cval, count)
        }
    }

    /// Whether its device behind PPI `intid` (a timer, its PMU) asserts its
    /// interrupt now: read from the CPU when the vCPU is loaded, worked out from the
    /// saved state when not (its PMU counts nothing then).
    pub fn ppi_output(&self, intid: u32) -> bool {
        match intid {
            gic::PMU_PPI if !self.dirty => loaded_ppi_output(intid),
            gic::PMU_PPI => pmu_offered() && self.pmu.output(),
            other => self.timer_output(other == gic::VIRTUAL_TIMER_PPI),
        }
    }

    /// Asks for a maintenance interrupt when the list registers drain (`true`: more
    /// interrupts wait than fit).
    pub fn notify_when_drained(&mut self, on: bool) {
        if !self.dirty {
            gic_cpu::notify_on_underflow(on);
        }
    }

    fn set_reg(&mut self, rt: u8, value: u64) {
        if let Some(reg) = self.regs.x.get_mut(usize::from(rt)) {
            *reg = value;
        }
    }

    fn reg(&self, rt: u8) -> u64 {
        self.regs.x.get(usize::from(rt)).copied().unwrap_or(0)
    }

    /// Moves the guest past the instruction the hypervisor completed for it. A guest
    /// stepping itself (MDSCR_EL1.SS) then takes its software-step exception before
    /// the next instruction, as after any instruction that completes: PSTATE.SS is
    /// cleared (active-pending).
    fn step_over(&mut self) {
        self.pc = self.pc.wrapping_add(4);
        self.pstate &= !SPSR_SS;
    }

    /// Handles a synchronous exit; `None` means resume the guest at once.
    fn handle_sync(&mut self, esr: u64) -> Result<Option<VcpuExit>, VcpuError> {
        match esr::decode(esr) {
            Exception::WaitFor { .. } => {
                self.step_over();
                Ok(Some(VcpuExit::Idle))
            }
            // HVC's preferred return address is already the next instruction.
            Exception::Hvc(imm) => Ok(self.firmware_call(imm)),
            // A trapped SMC returns to the SMC itself: step over it.
            Exception::Smc(imm) => {
                self.step_over();
                Ok(self.firmware_call(imm))
            }
            Exception::SysReg(access) => {
                match sysreg::classify(access.encoding) {
                    SysRegAction::ReadAsZeroWriteIgnored => {
                        if access.read {
                            self.set_reg(access.rt, 0);
                        }
                        self.step_over();
                    }
                    SysRegAction::SetWayMaintenance => self.step_over(),
                    SysRegAction::SendSgi if !access.read => {
                        self.step_over();
                        return Ok(Some(VcpuExit::SendIpi {
                            value: self.reg(access.rt),
                        }));
                    }
                    SysRegAction::IdRegister { crm, op2 } if access.read => {
                        let value = sysreg::guest_id_value(crm, op2, read_id_register(crm, op2));
                        self.set_reg(access.rt, value);
                        self.step_over();
                    }
                    SysRegAction::SendSgi
                    | SysRegAction::IdRegister { .. }
                    | SysRegAction::Undefined => {
                        if let Some(dropped) = self.warnings.admit() {
                            log::warn!(
                                "guest access to system register {:?} at pc {:#x}: undefined{}",
                                access.encoding,
                                self.pc,
                                dropped_note(dropped)
                            );
                        }
                        self.inject_undefined();
                    }
                }
                Ok(None)
            }
            Exception::DataAbort(abort) => self.data_abort(abort, esr).map(Some),
            // A fetch from an address the VM's map does not cover (or cannot execute):
            // a synchronous external abort, as the hardware gives.
            Exception::InstructionAbort(_) => {
                let far = FAR_EL2.get();
                if !self.faults.note(self.pc, far) {
                    return Err(VcpuError::FaultLoop {
                        addr: GuestPhysAddr::new(esr::fault_ipa(HPFAR_EL2.get(), far)),
                        pc: self.pc,
                    });
                }
                self.inject_abort(AbortOn::Fetch, far);
                Ok(None)
            }
            Exception::TrappedFeature(ec) => {
                if let Some(dropped) = self.warnings.admit() {
                    log::warn!(
                        "guest use of a trapped feature (EC {ec:#x}) at pc {:#x}: undefined{}",
                        self.pc,
                        dropped_note(dropped)
                    );
                }
                self.inject_undefined();
                Ok(None)
            }
            Exception::Other(_) => Err(VcpuError::UnknownExit {
                syndrome: esr,
                pc: self.pc,
            }),
        }
    }

    /// A PSCI / SMCCC call; only function calls with immediate 0 are defined.
    fn firmware_call(&mut self, imm: u16) -> Option<VcpuExit> {
        if imm != 0 {
            self.set_reg(0, psci::code::NOT_SUPPORTED as u64);
            return None;
        }
        let args = [self.reg(0), self.reg(1), self.reg(2), self.reg(3)];
        match psci::decode(args) {
            Call::Answer(value) => {
                self.set_reg(0, value);
                None
            }
            Call::Suspend => {
                self.set_reg(0, psci::code::SUCCESS as u64);
                Some(VcpuExit::Idle)
            }
            Call::CpuOff => Some(VcpuExit::CpuOff),
            Call::CpuOn {
                target,
                entry,
                context,
            } => {
                self.pending = Pending::Answer;
                Some(VcpuExit::CpuOn {
                    target,
                    entry: GuestPhysAddr::new(entry),
                    arg: context,
                })
            }
            Call::AffinityInfo { target } => {
                self.pending = Pending::Answer;
                Some(VcpuExit::CpuStatus { target })
            }
            Call::SystemOff => Some(VcpuExit::SystemOff),
            Call::SystemReset => Some(VcpuExit::SystemReset),
        }
    }

    /// A stage-2 data abort: an access outside the guest's RAM, to be emulated.
    fn data_abort(&mut self, abort: DataAbort, esr: u64) -> Result<VcpuExit, VcpuError> {
        let addr = GuestPhysAddr::new(esr::fault_ipa(HPFAR_EL2.get(), FAR_EL2.get()));
        if abort.stage1_walk {
            return Err(VcpuError::MemoryFault {
                addr,
                syndrome: esr,
                pc: self.pc,
            });
        }
        let width = match AccessWidth::from_bytes(u64::from(abort.size)) {
            Some(width) if abort.valid => width,
            _ => return Err(VcpuError::UndecodableAccess { addr, pc: self.pc }),
        };
        self.last_access = (FAR_EL2.get(), abort.write);
        self.step_over();
        if abort.write {
            let value = self.reg(abort.rt) & size_mask(abort.size);
            Ok(VcpuExit::MmioWrite { addr, width, value })
        } else {
            self.pending = Pending::MmioRead(abort);
            Ok(VcpuExit::MmioRead { addr, width })
        }
    }

    /// Delivers an undefined-instruction exception for the current instruction to the
    /// guest's EL1 vector table (EC 0, unknown reason, with IL set: a 32-bit
    /// instruction).
    fn inject_undefined(&mut self) {
        self.inject_sync(1 << 25, None);
    }

    /// Delivers a synchronous external abort on `on` at virtual address `far` for the
    /// current instruction to the guest's EL1 vector table.
    fn inject_abort(&mut self, on: AbortOn, far: u64) {
        let from_el0 = self.pstate & 0xf == 0;
        self.inject_sync(esr::external_abort_syndrome(on, from_el0), Some(far));
    }

    /// Takes a synchronous exception with syndrome `esr` (and fault address `far`)
    /// to EL1 for the instruction at the current pc, as the hardware would: ELR_EL1
    /// and SPSR_EL1 hold where and how the guest was, execution goes on at the
    /// vector for the level it came from, with every exception masked. The vCPU is
    /// loaded, so EL1 registers are live.
    fn inject_sync(&mut self, esr: u64, far: Option<u64>) {
        let offset = match self.pstate & 0xf {
            0b0101 => 0x200, // from EL1 using SP_EL1
            0b0100 => 0x000, // from EL1 using SP_EL0
            _ => 0x400,      // from EL0 (AArch64)
        };
        let vbar = VBAR_EL1.get();
        // SAFETY: ESR_EL1, ELR_EL1, SPSR_EL1 and FAR_EL1 belong to the guest running
        // on this CPU.
        unsafe {
            asm!(
                "msr esr_el1, {esr}",
                "msr elr_el1, {elr}",
                "msr spsr_el1, {spsr}",
                esr = in(reg) esr,
                elr = in(reg) self.pc,
                spsr = in(reg) self.pstate,
                options(nomem, nostack),
            );
            if let Some(far) = far {
                asm!("msr far_el1, {}", in(reg) far, options(nomem, nostack));
            }
        }
        self.pc = vbar.wrapping_add(offset);
        self.pstate = SPSR_EL1H_MASKED;
    }
}

macro_rules! id_register_reader {
    ($(($crm:literal, $op2:literal)),* $(,)?) => {
        /// The hardware value of feature ID register (op0=3, op1=0, CRn=0, `crm`, `op2`).
        fn read_id_register(crm: u8, op2: u8) -> u64 {
            let value: u64;
            match (crm, op2) {
                // SAFETY: reading an ID register has no side effects.
                $(($crm, $op2) => unsafe { asm!(concat!("mrs {}, s3_0_c0_c", $crm, "_", $op2), out(reg) value, options(nomem, nostack)) },)*
                _ => value = 0,
            }
            value
        }
    };
}

id_register_reader!(
    (1, 0),
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (2, 0),
    (2, 1),
    (2, 2),
    (2, 3),
    (2, 4),
    (2, 5),
    (2, 6),
    (2, 7),
    (3, 0),
    (3, 1),
    (3, 2),
    (3, 3),
    (3, 4),
    (3, 5),
    (3, 6),
    (3, 7),
    (4, 0),
    (4, 1),
    (4, 2),
    (4, 3),
    (4, 4),
    (4, 5),
    (4, 6),
    (4, 7),
    (5, 0),
    (5, 1),
    (5, 2),
    (5, 3),
    (5, 4),
    (5, 5),
    (5, 6),
    (5, 7),
    (6, 0),
    (6, 1),
    (6, 2),
    (6, 3),
    (6, 4),
    (6, 5),
    (6, 6),
    (6, 7),
    (7, 0),
    (7, 1),
    (7, 2),
    (7, 3),
    (7, 4),
    (7, 5),
    (7, 6),
    (7, 7),
);

/// Mask of the low `size` bytes.
fn size_mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (u32::from(size) * 8)) - 1
    }
}

impl ArchVcpu for Aarch64Vcpu {
    /// Writes the saved EL1, FP and virtual interrupt state to this CPU (the vCPU is
    /// about to run here).
    fn load(&mut self) {
        // These change only when another vCPU is loaded: written here, not on
        // every entry.
        HCR_EL2.set(self.hcr);
        self.hcr_live = self.hcr;
        VTTBR_EL2.set(self.vttbr);
        VMPIDR_EL2.set(self.vmpidr);
        CNTVOFF_EL2.set(self.cntvoff);
        self.el1.restore();
        self.fp.restore();
        self.debug.restore();
        if pmu_offered() {
            self.pmu.restore();
        }
        self.gic.restore();
        self.dirty = false;
    }

    /// Saves the EL1, FP and virtual interrupt state from this CPU (another vCPU will
    /// run here).
    fn put(&mut self) {
        if self.dirty {
            // Not loaded, or reset since: the saved state is the newer one.
            return;
        }
        self.el1.save();
        self.fp.save();
        self.debug.save();
        if pmu_offered() {
            self.pmu.save();
        }
        self.gic.save();
        self.dirty = true;
    }

    fn run(&mut self) -> Result<VcpuExit, VcpuError> {
        if self.dirty {
            self.load();
        }
        let hcr = if core::mem::take(&mut self.look_again) {
            self.hcr | HCR_WAIT_TRAPS
        } else {
            self.hcr
        };
        if hcr != self.hcr_live {
            HCR_EL2.set(hcr);
            self.hcr_live = hcr;
        }
        loop {
            ELR_EL2.set(self.pc);
            SPSR_EL2.set(self.pstate);
            // SAFETY: EL2 now describes this guest: its stage-2 table confines it to
            // its own memory, HCR_EL2 routes its exceptions here, and interrupts are
            // masked at EL2.
            let kind = unsafe {
                asm!("isb", options(nomem, nostack));
                guest::run(&mut self.regs)
            };
            self.pc = ELR_EL2.get();
            self.pstate = SPSR_EL2.get();
            let esr = ESR_EL2.get();
            match kind {
                ExitKind::Sync => {
                    if let Some(exit) = self.handle_sync(esr)? {
                        return Ok(exit);
                    }
                }
                ExitKind::Irq | ExitKind::Fiq => return Ok(VcpuExit::HostInterrupt),
                ExitKind::SError => return Err(VcpuError::HardwareError { syndrome: esr }),
                ExitKind::AArch32 => {
                    return Err(VcpuError::UnknownExit {
                        syndrome: esr,
                        pc: self.pc,
                    });
                }
            }
        }
    }

    fn complete_mmio_read(&mut self, value: u64) {
        if let Pending::MmioRead(abort) = self.pending {
            let mut value = value & size_mask(abort.size);
            if abort.sign_extend && abort.size < 8 {
                let shift = 64 - u32::from(abort.size) * 8;
                value = (((value << shift) as i64) >> shift) as u64;
            }
            if !abort.sixty_four {
                value &= 0xffff_ffff;
            }
            self.set_reg(abort.rt, value);
        }
        self.pending = Pending::None;
    }

    fn fail_access(&mut self) -> bool {
        // The access instruction was stepped over for its emulation: back to it.
        self.pc = self.pc.wrapping_sub(4);
        self.pending = Pending::None;
        let (far, write) = self.last_access;
        if !self.faults.note(self.pc, far) {
            return false;
        }
        self.inject_abort(AbortOn::Data { write }, far);
        true
    }

    fn answer(&mut self, answer: CallAnswer) {
        if let Pending::Answer = self.pending {
            self.set_reg(0, psci::encode_answer(answer));
        }
        self.pending = Pending::None;
    }

    fn reset(&mut self, entry: GuestPhysAddr, arg: u64) {
        self.regs = GuestRegs::default();
        self.regs.x[0] = arg;
        self.pc = entry.raw();
        // A restarted guest starts with a clean slate of faults.
        self.faults = FaultStreak::default();
        self.pstate = SPSR_EL1H_MASKED;
        self.el1 = El1Context {
            sctlr: SCTLR_EL1_RESET,
            ..El1Context::default()
        };
        self.fp = FpContext::default();
        self.debug = DebugContext::default();
        self.pmu = PmuContext::default();
        self.gic = VirtualCpuInterface::default();
        // An interrupt left active for the old guest would never fire again.
        for intid in gic::GUEST_DEVICE_PPIS {
            gic::deactivate(intid);
        }
        self.dirty = true;
        self.pending = Pending::None;
    }

    fn pc(&self) -> u64 {
        self.pc
    }

    /// HCR_EL2.TWI and TWE: without them WFI and WFE wait in the guest, and any
    /// interrupt ends the wait (a virtual one from the list registers, or a physical
    /// one, which the hypervisor takes).
    fn set_wait_exits(&mut self, exits: bool) {
        let traps = if exits { HCR_WAIT_TRAPS } else { 0 };
        self.hcr = (self.hcr & !HCR_WAIT_TRAPS) | traps;
    }

    /// The earlier of its saved virtual timer (its compare value plus CNTVOFF, in
    /// physical counts) and EL1 physical timer, of those enabled and not masked.
    fn timer_deadline(&self) -> Option<u64> {
        if !self.dirty {
            return None;
        }
        let virtual_timer =
            timer::armed(self.el1.cntv_ctl).then(|| self.el1.cntv_cval.wrapping_add(self.cntvoff));
        let physical_timer = timer::armed(self.el1.cntp_ctl).then_some(self.el1.cntp_cval);
        virtual_timer.into_iter().chain(physical_timer).min()
    }
}
