//! The riscv64 vCPU on the hardware: a VS-mode guest under HS-mode, its CSRs moved
//! in and out with it, and the run loop that handles what it can without leaving
//! (SBI queries, timers, remote fences, WFI).

use crate::csr;
use crate::insn::{self, MemAccess};
use crate::sbi::{self, Fence, HartMask, ResetKind, SbiCall};
use alloc::vec::Vec;
use core::arch::asm;
use tessera_addr::{GuestPhysAddr, HostPhysAddr};
use tessera_os::hal::guest::{self, GuestRegs};
use tessera_os::hal::sbi as sbi_firmware;
use tessera_vcpu::{
    AccessWidth, ArchVcpu, CallAnswer, FaultStreak, VcpuError, VcpuExit, WarnLimit, dropped_note,
};

/// hstatus: SPV (guest was in V mode), SPVP (its privilege was S); VTW (WFI traps)
/// comes with the vCPU's [`ArchVcpu::set_wait_exits`].
const HSTATUS_GUEST: u64 = csr::HSTATUS_SPV | csr::HSTATUS_SPVP;
/// sstatus: SPP (SRET returns to S level), FS (bits 14:13) = Initial so the guest may
/// use FP.
const SSTATUS_SPP: u64 = 1 << 8;
const SSTATUS_FS_INITIAL: u64 = 1 << 13;
/// vsstatus at reset: FS Initial, UXL 64-bit (bits 33:32 = 2).
const VSSTATUS_RESET: u64 = SSTATUS_FS_INITIAL | (2 << 32);
/// hgatp mode Sv39x4.
const HGATP_SV39X4: u64 = 8 << 60;
/// The WFI instruction, as stval reports it on a virtual instruction trap.
const WFI: u64 = 0x1050_0073;
/// henvcfg.STCE: the guest has the Sstc stimecmp (its vstimecmp).
const HENVCFG_STCE: u64 = 1 << 63;

/// Sets the per-CPU HS-mode controls every guest shares; called once on each CPU.
pub fn init_cpu_for_guests() {
    // SAFETY: these CSRs only steer traps and features of guests run on this hart.
    unsafe {
        asm!(
            "csrw hedeleg, {edeleg}",
            "csrw hideleg, {ideleg}",
            "csrw hcounteren, {counters}",
            "csrs henvcfg, {envcfg}",
            "csrw htimedelta, zero",
            "csrs sstatus, {fs}",
            edeleg = in(reg) csr::HEDELEG_GUEST,
            ideleg = in(reg) csr::HIDELEG_GUEST,
            counters = in(reg) 0b111u64,
            envcfg = in(reg) HENVCFG_STCE,
            fs = in(reg) SSTATUS_FS_INITIAL,
            options(nomem, nostack),
        );
    }
}

macro_rules! vs_csrs {
    ($($field:ident => $csr:literal),* $(,)?) => {
        /// The VS-level CSRs of a guest.
        #[derive(Clone, Copy, Debug, Default)]
        #[allow(missing_docs)]
        pub struct VsCsrs {
            $(pub $field: u64,)*
        }

        impl VsCsrs {
            /// Reads every register from the hart.
            fn save(&mut self) {
                // SAFETY: reading VS CSRs in HS-mode has no side effects.
                $(unsafe { asm!(concat!("csrr {}, ", $csr), out(reg) self.$field, options(nomem, nostack)) };)*
            }

            /// Writes every register to the hart.
            fn restore(&self) {
                // SAFETY: VS CSRs only affect the guest whose state this is.
                $(unsafe { asm!(concat!("csrw ", $csr, ", {}"), in(reg) self.$field, options(nomem, nostack)) };)*
            }
        }
    };
}

vs_csrs! {
    vsstatus => "vsstatus",
    vsie => "vsie",
    vstvec => "vstvec",
    vsscratch => "vsscratch",
    vsepc => "vsepc",
    vscause => "vscause",
    vstval => "vstval",
    vsatp => "vsatp",
    vstimecmp => "vstimecmp",
}

/// Floating-point registers f0-f31 and fcsr of a guest.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct FpRegs {
    f: [u64; 32],
    fcsr: u64,
}

macro_rules! fp_access {
    ($($n:literal),*) => {
        impl FpRegs {
            /// Reads the hart's FP registers.
            fn save(&mut self) {
                let base = self.f.as_mut_ptr();
                // SAFETY: stores into this struct's array, 8 bytes per register;
                // sstatus.FS is on in HS-mode.
                unsafe {
                    $(asm!(concat!("fsd f", $n, ", ", $n, "*8({})"), in(reg) base, options(nostack));)*
                    asm!("frcsr {}", out(reg) self.fcsr, options(nomem, nostack));
                }
            }

            /// Writes the hart's FP registers.
            fn restore(&self) {
                let base = self.f.as_ptr();
                // SAFETY: loads from this struct's array; only FP state changes.
                unsafe {
                    $(asm!(concat!("fld f", $n, ", ", $n, "*8({})"), in(reg) base, options(nostack));)*
                    asm!("fscsr {}", in(reg) self.fcsr, options(nomem, nostack));
                }
            }
        }
    };
}

fp_access!(
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31
);

/// What the guest waits for from the VM layer.
#[derive(Clone, Copy, Debug)]
enum Pending {
    None,
    MmioRead(MemAccess),
    HartStart,
    HartStatus,
    /// A DBCN call (a0 and a1 answer it).
    Console,
    /// A legacy console call (only a0 answers it).
    LegacyConsole,
}

/// One virtual hart of a VS-mode guest.
pub struct Riscv64Vcpu {
    regs: GuestRegs,
    pc: u64,
    vs: VsCsrs,
    fp: FpRegs,
    hgatp: u64,
    hart_id: u64,
    /// The physical hart each hart of the VM runs on, by hart id (so the VM has
    /// `pinned.len()` harts: hart masks naming others are refused).
    pinned: Vec<u64>,
    /// The guest ran at S level (VS) rather than U level (VU) when it last trapped:
    /// sstatus.SPP as the trap left it, and what SRET returns to.
    supervisor: bool,
    /// Virtual interrupts asserted for the guest (hvip: VSSIP, VSTIP, VSEIP).
    hvip: u64,
    /// The saved context is newer than what the hart holds (the vCPU is not loaded).
    dirty: bool,
    pending: Pending,
    /// The last emulated access: its guest-virtual address (stval), its length and
    /// whether it was a store, for the access fault [`ArchVcpu::fail_access`] gives.
    last_access: (u64, u8, bool),
    /// Faults injected in a row at one pc.
    faults: FaultStreak,
    /// hstatus.VTW while it runs: its WFI traps ([`ArchVcpu::set_wait_exits`]).
    wait_trap: u64,
    /// Its log lines about guest instructions it makes illegal, thinned out.
    warnings: WarnLimit,
}

impl Riscv64Vcpu {
    /// Hart `hart_id` of the VM with `vmid` and G-stage root `root`, whose hart `i`
    /// runs on physical hart `pinned[i]`. It starts in reset state at address 0; call
    /// `reset`.
    pub fn new(vmid: u16, root: HostPhysAddr, hart_id: u64, pinned: Vec<u64>) -> Self {
        Self {
            regs: GuestRegs::default(),
            pc: 0,
            vs: VsCsrs {
                vsstatus: VSSTATUS_RESET,
                vstimecmp: u64::MAX,
                ..VsCsrs::default()
            },
            fp: FpRegs::default(),
            hgatp: HGATP_SV39X4 | (u64::from(vmid) << 44) | (root.raw() >> 12),
            hart_id,
            pinned,
            supervisor: true,
            hvip: 0,
            dirty: true,
            pending: Pending::None,
            last_access: (0, 0, false),
            faults: FaultStreak::default(),
            wait_trap: csr::HSTATUS_VTW,
            warnings: WarnLimit::default(),
        }
    }

    /// Sets (or clears) the guest's virtual external interrupt line (hvip.VSEIP).
    pub fn set_external_interrupt(&mut self, asserted: bool) {
        self.set_hvip(csr::HVIP_VSEIP, asserted);
    }

    /// Sets (or clears) the guest's virtual software interrupt (hvip.VSSIP).
    pub fn set_software_interrupt(&mut self, asserted: bool) {
        self.set_hvip(csr::HVIP_VSSIP, asserted);
    }

    fn set_hvip(&mut self, bit: u64, asserted: bool) {
        if asserted {
            self.hvip |= bit;
        } else {
            self.hvip &= !bit;
        }
    }

    /// Whether an interrupt waits for the guest: an asserted virtual line, or its
    /// timer (vstimecmp, live on the hart while the vCPU is loaded) is due.
    pub fn has_pending_interrupt(&self) -> bool {
        let deadline = if self.dirty {
            self.vs.vstimecmp
        } else {
            let live: u64;
            // SAFETY: reading vstimecmp has no side effects.
            unsafe { asm!("csrr {}, vstimecmp", out(reg) live, options(nomem, nostack)) };
            live
        };
        self.hvip != 0 || counter() >= deadline
    }

    /// Carries out a guest's remote fence on the physical harts its targets run on
    /// (through the firmware, which fences with this VM's VMID from hgatp, loaded
    /// here), or on this hart alone when it is the only one: wherever they run,
    /// their stale translations or instructions are gone before the call returns,
    /// and harts of other VMs are left alone.
    fn remote_fence(&self, targets: HartMask, fence: Fence) {
        let own = self
            .pinned
            .get(self.hart_id as usize)
            .filter(|&&hart| hart < 64)
            .map(|&hart| 1u64 << hart);
        let (mask, base) = match targets.physical(&self.pinned) {
            Some(0) => return,
            Some(mask) if Some(mask) == own => {
                // SAFETY: fences only order this hart's fetches or drop its cached
                // translations of the loaded VM (the VMID in hgatp).
                unsafe {
                    match fence {
                        Fence::Instructions => asm!("fence.i", options(nostack)),
                        Fence::Translations => asm!(
                            ".option push",
                            ".option arch, +h",
                            "hfence.vvma zero, zero",
                            ".option pop",
                            options(nostack)
                        ),
                    }
                }
                return;
            }
            Some(mask) => (mask, 0),
            None => (0, u64::MAX),
        };
        match fence {
            Fence::Instructions => sbi_firmware::remote_fence_i(mask, base),
            Fence::Translations => sbi_firmware::remote_hfence_vvma(mask, base),
        }
    }

    fn set_reg(&mut self, reg: u8, value: u64) {
        if reg != 0
            && let Some(slot) = self.regs.x.get_mut(usize::from(reg))
        {
            *slot = value;
        }
    }

    fn reg(&self, reg: u8) -> u64 {
        if reg == 0 {
            0
        } else {
            self.regs.x.get(usize::from(reg)).copied().unwrap_or(0)
        }
    }

    /// a0..a7 (x10..x17).
    fn args(&self) -> [u64; 8] {
        core::array::from_fn(|i| self.reg(10 + i as u8))
    }

    fn answer_sbi(&mut self, error: i64, value: u64) {
        let (a0, a1) = sbi::answer(error, value);
        self.set_reg(10, a0);
        // Legacy (v0.1) calls return only a0 and leave every other register alone.
        if !sbi::is_legacy(self.reg(17)) {
            self.set_reg(11, a1);
        }
    }

    /// An `ecall` from the guest: an SBI call. `None` means resume at once.
    fn sbi_call(&mut self) -> Option<VcpuExit> {
        self.pc = self.pc.wrapping_add(4);
        match sbi::decode(self.args()) {
            SbiCall::Answer { error, value } => {
                self.answer_sbi(error, value);
                None
            }
            SbiCall::SetTimer { deadline } => {
                // Sstc: the guest's vstimecmp raises VSTIP when its time comes.
                self.vs.vstimecmp = deadline;
                // SAFETY: the vCPU is loaded; vstimecmp is its timer.
                unsafe { asm!("csrw vstimecmp, {}", in(reg) deadline, options(nomem, nostack)) };
                self.answer_sbi(sbi::error::SUCCESS, 0);
                None
            }
            SbiCall::SendIpi { targets } | SbiCall::RemoteFence { targets, .. }
                if !targets.fits(self.pinned.len() as u64) =>
            {
                self.answer_sbi(sbi::error::INVALID_PARAM, 0);
                None
            }
            SbiCall::SendIpi { targets } => {
                self.answer_sbi(sbi::error::SUCCESS, 0);
                let mask = targets.iter_up_to(64).fold(0u64, |m, hart| m | (1 << hart));
                Some(VcpuExit::SendIpi { value: mask })
            }
            SbiCall::RemoteFence { targets, fence } => {
                self.remote_fence(targets, fence);
                self.answer_sbi(sbi::error::SUCCESS, 0);
                None
            }
            SbiCall::HartStart {
                hart,
                start_addr,
                opaque,
            } => {
                self.pending = Pending::HartStart;
                Some(VcpuExit::CpuOn {
                    target: hart,
                    entry: GuestPhysAddr::new(start_addr),
                    arg: opaque,
                })
            }
            SbiCall::HartStop => Some(VcpuExit::CpuOff),
            SbiCall::HartStatus { hart } => {
                self.pending = Pending::HartStatus;
                Some(VcpuExit::CpuStatus { target: hart })
            }
            SbiCall::HartSuspend { resume: None } => {
                // Resumed by an interrupt, the call returns SUCCESS.
                self.answer_sbi(sbi::error::SUCCESS, 0);
                Some(VcpuExit::CpuSuspend { resume: None })
            }
            SbiCall::HartSuspend {
                resume: Some((resume_addr, opaque)),
            } => {
                // Answered only when the address is refused (INVALID_ADDRESS); else
                // the hart resumes there, its state gone.
                self.pending = Pending::HartStart;
                Some(VcpuExit::CpuSuspend {
                    resume: Some((GuestPhysAddr::new(resume_addr), opaque)),
                })
            }
            SbiCall::SystemReset { kind, failure } => Some(match kind {
                ResetKind::Shutdown if failure => VcpuExit::SystemFailure,
                ResetKind::Shutdown => VcpuExit::SystemOff,
                ResetKind::ColdReboot | ResetKind::WarmReboot => VcpuExit::SystemReset,
            }),
            SbiCall::LegacyShutdown => Some(VcpuExit::SystemOff),
            SbiCall::ConsoleWrite { len, addr } => {
                self.pending = Pending::Console;
                Some(VcpuExit::ConsoleWrite {
                    addr: GuestPhysAddr::new(addr),
                    len,
                })
            }
            SbiCall::ConsoleRead { len, addr } => {
                self.pending = Pending::Console;
                Some(VcpuExit::ConsoleRead {
                    addr: GuestPhysAddr::new(addr),
                    len,
                })
            }
            SbiCall::ConsoleWriteByte(byte) => {
                self.pending = Pending::Console;
                Some(VcpuExit::ConsoleWriteByte(byte))
            }
            SbiCall::LegacyPutchar(byte) => {
                self.pending = Pending::LegacyConsole;
                Some(VcpuExit::ConsoleWriteByte(byte))
            }
            SbiCall::LegacyGetchar => {
                self.pending = Pending::LegacyConsole;
                Some(VcpuExit::ConsoleReadByte)
            }
        }
    }

    /// A guest-page fault on a load or store: an access to be emulated.
    fn guest_page_fault(
        &mut self,
        htval: u64,
        stval: u64,
        htinst: u64,
    ) -> Result<VcpuExit, VcpuError> {
        let addr = csr::fault_gpa(htval, stval);
        let Some(access) = insn::decode_transformed(htinst) else {
            return Err(VcpuError::UndecodableAccess { addr, pc: self.pc });
        };
        let Some(width) = AccessWidth::from_bytes(u64::from(access.width)) else {
            return Err(VcpuError::UndecodableAccess { addr, pc: self.pc });
        };
        self.last_access = (stval, access.len, access.write);
        self.pc = self.pc.wrapping_add(u64::from(access.len));
        if access.write {
            let value = self.reg(access.reg) & width.mask();
            Ok(VcpuExit::MmioWrite { addr, width, value })
        } else {
            self.pending = Pending::MmioRead(access);
            Ok(VcpuExit::MmioRead { addr, width })
        }
    }

    /// Delivers exception `cause` with `tval` to the guest's own trap vector, as the
    /// hardware would have done had the trap been delegated.
    fn inject_exception(&mut self, cause: u64, tval: u64) {
        if !self.dirty {
            // The live VS registers are newer than the saved copy.
            self.vs.save();
        }
        let vsstatus = self.vs.vsstatus;
        // SPP = the level the guest ran at, SPIE = SIE, SIE = 0; the handler runs at S.
        let sie = (vsstatus >> 1) & 1;
        let spp = if self.supervisor { SSTATUS_SPP } else { 0 };
        self.vs.vsstatus = (vsstatus & !((1 << 1) | (1 << 5) | SSTATUS_SPP)) | (sie << 5) | spp;
        self.supervisor = true;
        self.vs.vsepc = self.pc;
        self.vs.vscause = cause;
        self.vs.vstval = tval;
        self.vs.restore();
        self.pc = self.vs.vstvec & !3;
    }
}

/// The `time` CSR.
fn counter() -> u64 {
    let now: u64;
    // SAFETY: reading time has no side effects.
    unsafe { asm!("rdtime {}", out(reg) now, options(nomem, nostack)) };
    now
}

impl ArchVcpu for Riscv64Vcpu {
    /// Writes the saved VS, FP and G-stage state to this hart.
    fn load(&mut self) {
        self.vs.restore();
        self.fp.restore();
        // SAFETY: hgatp points at this VM's G-stage table; the fence drops stale
        // translations of this VMID cached on this hart.
        unsafe {
            asm!("csrw hgatp, {}", ".option push", ".option arch, +h",
                 "hfence.gvma zero, zero", "hfence.vvma zero, zero", ".option pop",
                 in(reg) self.hgatp, options(nostack));
        }
        self.dirty = false;
    }

    /// Saves the VS and FP state from this hart (another vCPU will run here).
    fn put(&mut self) {
        if self.dirty {
            return;
        }
        self.vs.save();
        self.fp.save();
        self.dirty = true;
    }

    fn run(&mut self) -> Result<VcpuExit, VcpuError> {
        if self.dirty {
            self.load();
        }
        loop {
            let (scause, stval, htval, htinst, live_hvip, sstatus): (u64, u64, u64, u64, u64, u64);
            let spp = if self.supervisor { SSTATUS_SPP } else { 0 };
            // SAFETY: the hart now describes this guest: its G-stage table confines it
            // to its own memory, hstatus.SPV/SPVP and sstatus.SPP make SRET enter VS
            // mode, hideleg/hedeleg send only its own events to it, and sstatus.SIE
            // is clear so the hypervisor takes interrupts only at this switch.
            unsafe {
                asm!(
                    "csrw sepc, {pc}",
                    "csrc sstatus, {spp_bit}",
                    "csrs sstatus, {spp}",
                    "csrr {t}, hstatus",
                    "and {t}, {t}, {no_vtw}",
                    "or {t}, {t}, {hstatus}",
                    "csrw hstatus, {t}",
                    "csrw hvip, {hvip}",
                    pc = in(reg) self.pc,
                    spp_bit = in(reg) SSTATUS_SPP,
                    spp = in(reg) spp,
                    no_vtw = in(reg) !csr::HSTATUS_VTW,
                    hstatus = in(reg) HSTATUS_GUEST | self.wait_trap,
                    hvip = in(reg) self.hvip,
                    t = out(reg) _,
                    options(nomem, nostack),
                );
                guest::run(&mut self.regs);
                asm!(
                    "csrr {hvip}, hvip",
                    "csrr {sstatus}, sstatus",
                    "csrr {pc}, sepc",
                    "csrr {cause}, scause",
                    "csrr {tval}, stval",
                    "csrr {htval}, htval",
                    "csrr {htinst}, htinst",
                    pc = out(reg) self.pc,
                    cause = out(reg) scause,
                    tval = out(reg) stval,
                    htval = out(reg) htval,
                    htinst = out(reg) htinst,
                    hvip = out(reg) live_hvip,
                    sstatus = out(reg) sstatus,
                    options(nomem, nostack),
                );
            }
            // A trap from guest user code (VU) must return there, not to VS.
            self.supervisor = sstatus & SSTATUS_SPP != 0;
            // The guest clears its software interrupt itself (sip.SSIP is hvip.VSSIP).
            self.hvip = (self.hvip & !csr::HVIP_VSSIP) | (live_hvip & csr::HVIP_VSSIP);
            if csr::is_interrupt(scause) {
                return Ok(VcpuExit::HostInterrupt);
            }
            match csr::cause_code(scause) {
                csr::CAUSE_VIRTUAL_SUPERVISOR_ECALL => {
                    if let Some(exit) = self.sbi_call() {
                        return Ok(exit);
                    }
                }
                csr::CAUSE_LOAD_GUEST_PAGE_FAULT | csr::CAUSE_STORE_GUEST_PAGE_FAULT => {
                    return self.guest_page_fault(htval, stval, htinst);
                }
                csr::CAUSE_VIRTUAL_INSTRUCTION if stval == WFI => {
                    self.pc = self.pc.wrapping_add(4);
                    return Ok(VcpuExit::Idle);
                }
                csr::CAUSE_VIRTUAL_INSTRUCTION => {
                    if let Some(dropped) = self.warnings.admit() {
                        log::warn!(
                            "guest instruction {stval:#x} at pc {:#x} is not virtualized: illegal{}",
                            self.pc,
                            dropped_note(dropped)
                        );
                    }
                    self.inject_exception(csr::CAUSE_ILLEGAL_INSTRUCTION, stval);
                }
                csr::CAUSE_ILLEGAL_INSTRUCTION => {
                    // Not delegated so the hypervisor sees it; the guest's own handler
                    // deals with it, as without a hypervisor.
                    self.inject_exception(csr::CAUSE_ILLEGAL_INSTRUCTION, stval);
                }
                // A fetch from an address the VM's map does not cover: an access
                // fault, as the hardware gives for a fetch from nothing.
                csr::CAUSE_INSTRUCTION_GUEST_PAGE_FAULT => {
                    if !self.faults.note(self.pc, stval) {
                        return Err(VcpuError::FaultLoop {
                            addr: csr::fault_gpa(htval, stval),
                            pc: self.pc,
                        });
                    }
                    self.inject_exception(csr::CAUSE_INSTRUCTION_ACCESS_FAULT, stval);
                }
                _ => {
                    return Err(VcpuError::UnknownExit {
                        syndrome: scause,
                        pc: self.pc,
                    });
                }
            }
        }
    }

    fn complete_mmio_read(&mut self, value: u64) {
        if let Pending::MmioRead(access) = self.pending {
            let bits = u32::from(access.width) * 8;
            let value = if bits >= 64 {
                value
            } else if access.sign_extend {
                let shift = 64 - bits;
                (((value << shift) as i64) >> shift) as u64
            } else {
                value & ((1u64 << bits) - 1)
            };
            self.set_reg(access.reg, value);
        }
        self.pending = Pending::None;
    }

    fn fail_access(&mut self) -> bool {
        let (tval, len, write) = self.last_access;
        // The access instruction was stepped over for its emulation: back to it.
        self.pc = self.pc.wrapping_sub(u64::from(len));
        self.pending = Pending::None;
        if !self.faults.note(self.pc, tval) {
            return false;
        }
        let cause = if write {
            csr::CAUSE_STORE_ACCESS_FAULT
        } else {
            csr::CAUSE_LOAD_ACCESS_FAULT
        };
        self.inject_exception(cause, tval);
        true
    }

    fn answer(&mut self, answer: CallAnswer) {
        match self.pending {
            Pending::HartStart | Pending::HartStatus | Pending::Console => {
                let (a0, a1) = sbi::encode_answer(answer);
                self.set_reg(10, a0);
                self.set_reg(11, a1);
            }
            // Legacy calls return only a0: putchar 0 (or an error), getchar the
            // byte or -1.
            Pending::LegacyConsole => {
                let a0 = sbi::encode_legacy_console_answer(answer);
                self.set_reg(10, a0);
            }
            Pending::None | Pending::MmioRead(_) => {}
        }
        self.pending = Pending::None;
    }

    fn reset(&mut self, entry: GuestPhysAddr, arg: u64) {
        self.regs = GuestRegs::default();
        // SBI boot convention: a0 = hart id, a1 = the opaque argument (the DTB).
        self.regs.x[10] = self.hart_id;
        self.regs.x[11] = arg;
        // A restarted guest starts with a clean slate of faults.
        self.faults = FaultStreak::default();
        self.pc = entry.raw();
        self.supervisor = true;
        self.vs = VsCsrs {
            vsstatus: VSSTATUS_RESET,
            vstimecmp: u64::MAX,
            ..VsCsrs::default()
        };
        self.fp = FpRegs::default();
        self.hvip = 0;
        self.dirty = true;
        self.pending = Pending::None;
    }

    fn pc(&self) -> u64 {
        self.pc
    }

    /// hstatus.VTW: a WFI in VS-mode traps; without it the hart waits in the guest
    /// and any interrupt wakes it (its own from hvip or vstimecmp, or one for the
    /// hypervisor, which then exits).
    fn set_wait_exits(&mut self, exits: bool) {
        self.wait_trap = if exits { csr::HSTATUS_VTW } else { 0 };
    }

    /// Its saved vstimecmp (the VS `time` is the host's: htimedelta is 0), unless it
    /// is disarmed (all ones).
    fn timer_deadline(&self) -> Option<u64> {
        (self.dirty && self.vs.vstimecmp != u64::MAX).then_some(self.vs.vstimecmp)
    }
}
