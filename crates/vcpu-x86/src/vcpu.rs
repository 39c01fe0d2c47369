//! The x86_64 vCPU on the hardware: a VMCB per vCPU, the VMRUN loop, and the
//! intercepts it answers without leaving (CPUID, MSRs, VMMCALL, instructions the
//! guest may not use, its local APIC: `apic`). I/O ports, MMIO (nested page faults),
//! HLT, IPIs to other vCPUs and shutdown go to the VM layer as [`VcpuExit`]s.
//!
//! The guest starts the way its boot protocol asks ([`EntryMode`]): the Linux boot
//! protocol's 64-bit entry (long mode, paging on with the boot block's identity map,
//! the boot block's GDT with `CS` = `__BOOT_CS` and the data segments `__BOOT_DS`,
//! interrupts off, `rsi` = the zero page; the boot block is the `arg` of
//! [`ArchVcpu::reset`]), or multiboot's (32-bit protected mode, paging off, `eax` =
//! 0x2BADB002, `ebx` = the information block, the `arg`).

use crate::cpuid::{guest_cpuid, hide_unvirtualized, with_guest_cr4};
use crate::exit::{ExitInfo, SvmExit};
use crate::insn::{self, MmioInsn, Operand};
use crate::vmcb::{
    NP_ENABLE, Segment, Vmcb, attrib, efer, event_inj, intercept_misc1, intercept_misc2,
    tlb_control, vintr,
};
use crate::walk::{self, PagingRegs};
use alloc::boxed::Box;
use alloc::vec::Vec;
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_os::frames;
use tessera_os::hal::svm::{self, GuestRegs};
use tessera_vcpu::{AccessWidth, ArchVcpu, CallAnswer, VcpuError, VcpuExit};
use tessera_vdev::LocalApic;
use tessera_x86_boot::{BOOT_CS, BOOT_DS, BOOTLOADER_MAGIC, GDT_LIMIT, GDT_OFFSET, PML4_OFFSET};

mod apic;

/// The selectors a multiboot kernel is entered with (GRUB's; the kernel loads its
/// own GDT before it reloads a segment register).
const MULTIBOOT_CS: u16 = 0x10;
const MULTIBOOT_DS: u16 = 0x18;

/// Frames of the I/O permission map (12 KiB) and the MSR permission map (8 KiB).
const IOPM_FRAMES: usize = 3;
const MSRPM_FRAMES: usize = 2;

/// Exceptions (and the NMI's vector) the vCPU injects.
const NMI: u8 = 2;
const UD: u8 = 6;
const GP: u8 = 13;

/// MSRs the vCPU answers itself.
const MSR_TSC: u32 = 0x10;
const MSR_PAT: u32 = 0x277;
const MSR_EFER: u32 = 0xc000_0080;
/// AMD's interrupt pending message register (C1E control): reads 0, C1E off;
/// writes are ignored. Linux reads it unguarded on AMD family 0Fh and later.
const MSR_AMD_INT_PENDING_MSG: u32 = 0xc001_0055;
/// MSRs the guest reaches directly: their guest values live in the VMCB (VMLOAD and
/// VMSAVE move them), so the hypervisor's own stay intact.
const PASSTHROUGH_MSRS: [u32; 10] = [
    0x174,       // SYSENTER_CS
    0x175,       // SYSENTER_ESP
    0x176,       // SYSENTER_EIP
    0xc000_0081, // STAR
    0xc000_0082, // LSTAR
    0xc000_0083, // CSTAR
    0xc000_0084, // SFMASK
    0xc000_0100, // FS_BASE
    0xc000_0101, // GS_BASE
    0xc000_0102, // KERNEL_GS_BASE
];
/// EFER bits a guest may set (SVME is forced on, the guest never sees it).
const EFER_GUEST_BITS: u64 = efer::SCE | efer::LME | efer::LMA | efer::NXE;
/// The power-on PAT.
const PAT_RESET: u64 = 0x0007_0406_0007_0406;

/// Lengths of the fixed-length instructions the vCPU steps over (without NRIP save):
/// CPUID (0F A2), RDMSR/WRMSR (0F 32 / 0F 30), HLT (F4), VMMCALL (0F 01 D9), INVD
/// (0F 08).
const LEN_CPUID: u64 = 2;
const LEN_MSR: u64 = 2;
const LEN_HLT: u64 = 1;
const LEN_VMMCALL: u64 = 3;
const LEN_INVD: u64 = 2;

/// Tessera's hypercalls (VMMCALL with the function in RAX; the answer in RAX).
pub mod hypercall {
    /// RAX = 0: the interface version, major in bits 31:16, minor in 15:0.
    pub const VERSION: u64 = 0;
    /// The version [`VERSION`] answers: 1.0.
    pub const VERSION_1_0: u64 = 1 << 16;
    /// The answer to an unknown function.
    pub const UNKNOWN: u64 = u64::MAX;
}

/// x87/SSE state for FXSAVE64/FXRSTOR64.
#[repr(C, align(16))]
struct FxArea([u8; 512]);

impl FxArea {
    /// The power-on state: FCW 0x37F, MXCSR 0x1F80.
    fn reset() -> Self {
        let mut area = [0u8; 512];
        area[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        area[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
        Self(area)
    }
}

/// What the guest waits for from the VM layer.
#[derive(Clone, Copy, Debug)]
enum Pending {
    None,
    MmioRead(MmioInsn),
    PortIn(u8),
}

/// Frames owned by a vCPU, freed with it.
struct Frames {
    base: HostPhysAddr,
    count: usize,
}

impl Frames {
    /// `count` frames filled with `byte`.
    fn filled(count: usize, byte: u8) -> Option<Self> {
        let base = frames::alloc_zeroed(count)?;
        // SAFETY: the frames were just allocated to us and are identity-mapped.
        unsafe { core::ptr::write_bytes(base.raw() as *mut u8, byte, count * 4096) };
        Some(Self { base, count })
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        frames::free(self.base, self.count);
    }
}

/// What a vCPU is created with.
pub struct X86VcpuConfig {
    /// The VM's address-space id (never 0).
    pub asid: u32,
    /// Host-physical address of the VM's nested page table root.
    pub ncr3: HostPhysAddr,
    /// This vCPU's index (its APIC id) and the VM's vCPU count.
    pub index: u32,
    /// Number of vCPUs of the VM.
    pub count: u32,
    /// Added to the host's time-stamp counter for the guest.
    pub tsc_offset: u64,
    /// The time-stamp counter's rate (the local APIC timer's clock is set from it).
    pub tsc_hz: u64,
    /// The VM's RAM: each guest range and the host address it starts at, to read the
    /// guest's page tables and instructions.
    pub ram: Vec<(GuestRange, HostPhysAddr)>,
    /// How the guest is entered at reset.
    pub entry: EntryMode,
}

/// The state a guest kernel is entered in, by the boot protocol it speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryMode {
    /// The Linux boot protocol's 64-bit entry: long mode on the boot block's page
    /// tables and GDT, `rsi` = its zero page (the `arg` of reset: the boot block).
    Linux64,
    /// Multiboot: 32-bit protected mode, paging off, flat 4 GiB code and data
    /// segments, `eax` = 0x2BADB002, `ebx` = the information block (the `arg`).
    Multiboot,
}

/// One virtual CPU of an SVM guest.
pub struct X86Vcpu {
    vmcb: Box<Vmcb>,
    regs: GuestRegs,
    fx: Box<FxArea>,
    _iopm: Frames,
    _msrpm: Frames,
    ram: Vec<(GuestRange, HostPhysAddr)>,
    index: u32,
    count: u32,
    entry: EntryMode,
    pending: Pending,
    /// The local APIC.
    apic: LocalApic,
    /// The TSC rate the APIC was made for.
    tsc_hz: u64,
    /// An NMI waits to be injected.
    nmi_pending: bool,
    /// Level-triggered vectors the guest ended, for the I/O APIC (bit n of word
    /// n / 64).
    level_eois: [u64; 4],
    /// An APIC write changed the logical ID since the run last ended.
    logical_changed: bool,
}

impl X86Vcpu {
    /// A vCPU as `config` says, in reset state at address 0 (call `reset`); `None`
    /// when the host is out of memory for its permission maps.
    pub fn new(config: X86VcpuConfig) -> Option<Self> {
        let iopm = Frames::filled(IOPM_FRAMES, 0xff)?;
        let msrpm = Frames::filled(MSRPM_FRAMES, 0xff)?;
        for msr in PASSTHROUGH_MSRS {
            allow_msr(&msrpm, msr);
        }
        let mut vmcb = Box::new(Vmcb::new());
        let control = &mut vmcb.control;
        control.intercept_misc1 = intercept_misc1::INTR
            | intercept_misc1::NMI
            | intercept_misc1::CPUID
            | intercept_misc1::INVD
            | intercept_misc1::HLT
            | intercept_misc1::INVLPGA
            | intercept_misc1::IOIO_PROT
            | intercept_misc1::MSR_PROT
            | intercept_misc1::TASK_SWITCH
            | intercept_misc1::SHUTDOWN;
        control.intercept_misc2 = intercept_misc2::VMRUN
            | intercept_misc2::VMMCALL
            | intercept_misc2::VMLOAD
            | intercept_misc2::VMSAVE
            | intercept_misc2::STGI
            | intercept_misc2::CLGI
            | intercept_misc2::SKINIT
            | intercept_misc2::MONITOR
            | intercept_misc2::MWAIT
            | intercept_misc2::XSETBV
            | intercept_misc2::RDPRU;
        control.iopm_base_pa = iopm.base.raw();
        control.msrpm_base_pa = msrpm.base.raw();
        control.guest_asid = config.asid.max(1);
        control.tsc_offset = config.tsc_offset;
        control.vintr = vintr::V_INTR_MASKING;
        control.np_enable = NP_ENABLE;
        control.n_cr3 = config.ncr3.raw();
        Some(Self {
            vmcb,
            regs: GuestRegs::default(),
            fx: Box::new(FxArea::reset()),
            _iopm: iopm,
            _msrpm: msrpm,
            ram: config.ram,
            index: config.index,
            count: config.count,
            entry: config.entry,
            pending: Pending::None,
            apic: LocalApic::new(config.index, config.tsc_hz, apic::APIC_TIMER_HZ),
            tsc_hz: config.tsc_hz,
            nmi_pending: false,
            level_eois: [0; 4],
            logical_changed: false,
        })
    }

    /// The Linux boot protocol's 64-bit entry state for the boot block at `boot_block`:
    /// long mode with its identity map, its GDT's `__BOOT_CS` / `__BOOT_DS`, `rsi` =
    /// its zero page.
    fn enter_linux64(&mut self, boot_block: u64) {
        self.regs.rsi = boot_block;
        let save = &mut self.vmcb.save;
        let data = Segment::flat_data(BOOT_DS);
        save.cs = Segment::flat_code64(BOOT_CS);
        (save.ds, save.es, save.ss, save.fs, save.gs) = (data, data, data, data, data);
        save.gdtr = Segment {
            selector: 0,
            attrib: 0,
            limit: u32::from(GDT_LIMIT),
            base: boot_block.wrapping_add(GDT_OFFSET),
        };
        save.efer = efer::LME | efer::LMA | efer::SVME;
        // PG, WP, NE, ET, PE.
        save.cr0 = (1 << 31) | (1 << 16) | (1 << 5) | (1 << 4) | 1;
        // PAE.
        save.cr4 = 1 << 5;
        save.cr3 = boot_block.wrapping_add(PML4_OFFSET);
    }

    /// The multiboot entry state for the information block at `info`: 32-bit
    /// protected mode, paging off, flat segments (the kernel loads its own GDT before
    /// it reloads a segment register), `eax` = the loader magic, `ebx` = `info`.
    fn enter_multiboot(&mut self, info: u64) {
        self.regs.rbx = info;
        let save = &mut self.vmcb.save;
        let data = Segment::flat_data(MULTIBOOT_DS);
        save.cs = Segment::flat_code32(MULTIBOOT_CS);
        (save.ds, save.es, save.ss, save.fs, save.gs) = (data, data, data, data, data);
        save.gdtr = Segment::default();
        save.efer = efer::SVME;
        // ET, PE.
        save.cr0 = (1 << 4) | 1;
        save.cr4 = 0;
        save.cr3 = 0;
        save.rax = u64::from(BOOTLOADER_MAGIC);
    }

    /// The state a STARTUP IPI leaves an application processor in: real mode at
    /// the start of page `entry` (CS = `entry` / 16, IP 0), data segments at 0,
    /// 64 KiB limits, CR0 with ET only (CD and NW, set by INIT on hardware, mean
    /// nothing under nested paging), paging and long mode off.
    fn enter_startup(&mut self, entry: u64) {
        let save = &mut self.vmcb.save;
        let data = Segment::real_mode(0, false);
        let selector = u16::try_from(entry >> 4).unwrap_or(0);
        save.cs = Segment::real_mode(selector, true);
        (save.ds, save.es, save.ss, save.fs, save.gs) = (data, data, data, data, data);
        save.gdtr = Segment {
            limit: 0xffff,
            ..Segment::default()
        };
        save.idtr = save.gdtr;
        save.efer = efer::SVME;
        save.cr0 = 1 << 4;
        save.cr4 = 0;
        save.cr3 = 0;
        save.rip = 0;
    }

    /// Whether the guest can take an interrupt now (RFLAGS.IF set, no interrupt shadow).
    pub fn interruptible(&self) -> bool {
        self.vmcb.save.rflags & (1 << 9) != 0
            && self.vmcb.control.interrupt_shadow & crate::vmcb::INTERRUPT_SHADOW == 0
    }

    /// Whether an event waits to be delivered at the next VMRUN (one injected, or
    /// one whose delivery an exit interrupted): no other can be injected before it.
    pub fn event_pending(&self) -> bool {
        self.vmcb.control.event_inj & event_inj::VALID != 0
    }

    /// Delivers external interrupt `vector` at the next VMRUN (the guest must be
    /// [`interruptible`](Self::interruptible) and no event
    /// [pending](Self::event_pending)).
    pub fn inject_interrupt(&mut self, vector: u8) {
        self.vmcb.control.event_inj = event_inj::encode(vector, event_inj::TYPE_INTR, None);
    }

    /// Asks for an exit as soon as the guest can take an interrupt (a virtual
    /// interrupt request with the VINTR intercept), or withdraws the request.
    pub fn request_interrupt_window(&mut self, on: bool) {
        let control = &mut self.vmcb.control;
        if on {
            control.vintr |= vintr::V_IRQ | vintr::V_IGN_TPR;
            control.intercept_misc1 |= intercept_misc1::VINTR;
        } else {
            control.vintr &= !(vintr::V_IRQ | vintr::V_IGN_TPR);
            control.intercept_misc1 &= !intercept_misc1::VINTR;
        }
    }

    /// Delivers a non-maskable interrupt at the next VMRUN (no event may be pending).
    fn inject_nmi(&mut self) {
        self.vmcb.control.event_inj = event_inj::encode(NMI, event_inj::TYPE_NMI, None);
    }

    /// Injects exception `vector` (with `error` pushed when given).
    fn inject_exception(&mut self, vector: u8, error: Option<u32>) {
        self.vmcb.control.event_inj = event_inj::encode(vector, event_inj::TYPE_EXCEPTION, error);
    }

    /// The 64-bit general register `reg` in encoding order (0 RAX ... 15 R15).
    fn reg(&self, reg: u8) -> u64 {
        let r = &self.regs;
        match reg {
            0 => self.vmcb.save.rax,
            1 => r.rcx,
            2 => r.rdx,
            3 => r.rbx,
            4 => self.vmcb.save.rsp,
            5 => r.rbp,
            6 => r.rsi,
            7 => r.rdi,
            8..=15 => r.r.get(usize::from(reg - 8)).copied().unwrap_or(0),
            _ => 0,
        }
    }

    fn set_reg(&mut self, reg: u8, value: u64) {
        let r = &mut self.regs;
        match reg {
            0 => self.vmcb.save.rax = value,
            1 => r.rcx = value,
            2 => r.rdx = value,
            3 => r.rbx = value,
            4 => self.vmcb.save.rsp = value,
            5 => r.rbp = value,
            6 => r.rsi = value,
            7 => r.rdi = value,
            8..=15 => {
                if let Some(slot) = r.r.get_mut(usize::from(reg - 8)) {
                    *slot = value;
                }
            }
            _ => {}
        }
    }

    /// Steps RIP over an instruction of `len` bytes.
    fn skip(&mut self, len: u64) {
        self.complete_at(self.vmcb.save.rip.wrapping_add(len));
    }

    /// Ends an emulated instruction: the guest goes on at `next_rip`, and an
    /// interrupt shadow (STI or MOV SS just before) ends with the instruction.
    fn complete_at(&mut self, next_rip: u64) {
        self.vmcb.save.rip = next_rip;
        self.vmcb.control.interrupt_shadow &= !crate::vmcb::INTERRUPT_SHADOW;
    }

    /// Host address of guest-physical `gpa` with `len` bytes in the same RAM region.
    fn host_of(&self, gpa: u64, len: u64) -> Option<u64> {
        self.ram.iter().find_map(|&(range, host)| {
            let offset = gpa.checked_sub(range.start.raw())?;
            (offset.checked_add(len)? <= range.size).then(|| host.raw() + offset)
        })
    }

    /// Reads a u64 of guest RAM.
    fn read_u64(&self, gpa: u64) -> Option<u64> {
        let host = self.host_of(gpa, 8)?;
        // SAFETY: `host_of` proved the 8 bytes lie in this VM's RAM, identity-mapped.
        Some(unsafe { (host as *const u64).read_unaligned() })
    }

    /// Up to 15 bytes of the instruction at the guest's RIP, fetched through its page
    /// tables (stopping at the end of the page or of RAM).
    fn fetch_instruction(&self) -> Option<([u8; insn::MAX_LEN], usize)> {
        let save = &self.vmcb.save;
        let paging = PagingRegs {
            cr0: save.cr0,
            cr3: save.cr3,
            cr4: save.cr4,
            efer: save.efer,
        };
        let rip = save.rip.wrapping_add(save.cs.base);
        let gpa = walk::translate(paging, rip, |at| self.read_u64(at))?;
        let in_page = (0x1000 - (gpa & 0xfff)).min(insn::MAX_LEN as u64);
        let mut bytes = [0u8; insn::MAX_LEN];
        let mut len = in_page as usize;
        while len > 0 && self.host_of(gpa, len as u64).is_none() {
            len -= 1;
        }
        let host = self.host_of(gpa, len as u64)?;
        // SAFETY: `host_of` proved the `len` bytes lie in this VM's RAM.
        let source = unsafe { core::slice::from_raw_parts(host as *const u8, len) };
        bytes.get_mut(..len)?.copy_from_slice(source);
        Some((bytes, len))
    }

    /// A nested page fault on `gpa`: an MMIO access to emulate, or a fault the VM
    /// layer stops the VM for.
    fn nested_page_fault(
        &mut self,
        gpa: GuestPhysAddr,
        error_code: u64,
    ) -> Result<VcpuExit, VcpuError> {
        let pc = self.vmcb.save.rip;
        if self.host_of(gpa.raw(), 1).is_some() {
            return Err(VcpuError::MemoryFault {
                addr: gpa,
                syndrome: error_code,
                pc,
            });
        }
        let decoded = self
            .fetch_instruction()
            .and_then(|(bytes, len)| insn::decode(bytes.get(..len)?));
        let Some(access) = decoded else {
            return Err(VcpuError::UndecodableAccess { addr: gpa, pc });
        };
        let Some(width) = access.access_width() else {
            return Err(VcpuError::UndecodableAccess { addr: gpa, pc });
        };
        self.skip(u64::from(access.len));
        if let Some(exit) = self.xapic_access(gpa, &access, width) {
            return Ok(exit);
        }
        if access.write {
            let reg = match access.kind {
                Operand::Register { reg, .. } => self.reg(reg),
                Operand::Immediate(_) => 0,
            };
            let value = access.store_value(reg);
            Ok(VcpuExit::MmioWrite {
                addr: gpa,
                width,
                value,
            })
        } else {
            self.pending = Pending::MmioRead(access);
            Ok(VcpuExit::MmioRead { addr: gpa, width })
        }
    }

    /// An I/O port access (IN or OUT, not the string forms).
    fn port_access(&mut self, port: u16, size: u8, input: bool, next_rip: u64) -> VcpuExit {
        self.complete_at(next_rip);
        let width = AccessWidth::from_bytes(u64::from(size)).unwrap_or(AccessWidth::Byte);
        if input {
            self.pending = Pending::PortIn(size);
            VcpuExit::PortRead { port, width }
        } else {
            let value = (self.vmcb.save.rax & width.mask()) as u32;
            VcpuExit::PortWrite { port, width, value }
        }
    }

    /// CPUID, answered from the host's with the guest's view applied.
    fn cpuid(&mut self) {
        let leaf = self.vmcb.save.rax as u32;
        let subleaf = self.regs.rcx as u32;
        let host = core::arch::x86_64::__cpuid_count(leaf, subleaf);
        let regs = guest_cpuid(
            leaf,
            subleaf,
            (host.eax, host.ebx, host.ecx, host.edx),
            self.index,
            self.count,
        );
        let regs = hide_unvirtualized(leaf, subleaf, regs);
        let (eax, ebx, ecx, edx) = with_guest_cr4(leaf, subleaf, regs, self.vmcb.save.cr4);
        self.vmcb.save.rax = u64::from(eax);
        self.regs.rbx = u64::from(ebx);
        self.regs.rcx = u64::from(ecx);
        self.regs.rdx = u64::from(edx);
        self.skip(LEN_CPUID);
    }

    /// RDMSR or WRMSR of an intercepted MSR: the few the vCPU keeps and its APIC's,
    /// #GP for the rest; the exit an APIC write needs (an IPI to other vCPUs).
    fn msr(&mut self, write: bool) -> Option<VcpuExit> {
        let msr = self.regs.rcx as u32;
        let value = (self.vmcb.save.rax & 0xffff_ffff) | (self.regs.rdx << 32);
        if Self::is_apic_msr(msr) {
            return self.apic_msr(msr, write, value);
        }
        let read = match (msr, write) {
            (MSR_EFER, false) => Some(self.vmcb.save.efer & !efer::SVME),
            (MSR_EFER, true) if value & !EFER_GUEST_BITS == 0 => {
                // LMA is the processor's to set; keep it as it is.
                let lma = self.vmcb.save.efer & efer::LMA;
                self.vmcb.save.efer = (value & !efer::LMA) | lma | efer::SVME;
                None
            }
            (MSR_PAT, false) => Some(self.vmcb.save.g_pat),
            (MSR_PAT, true) if valid_pat(value) => {
                self.vmcb.save.g_pat = value;
                None
            }
            (MSR_AMD_INT_PENDING_MSG, false) => Some(0),
            (MSR_AMD_INT_PENDING_MSG, true) => None,
            (MSR_TSC, false) => {
                // SAFETY: RDTSC only reads the counter.
                let host = unsafe { core::arch::x86_64::_rdtsc() };
                Some(host.wrapping_add(self.vmcb.control.tsc_offset))
            }
            _ => {
                log::debug!(
                    "guest {} of MSR {msr:#x} at rip {:#x}: #GP",
                    if write { "write" } else { "read" },
                    self.vmcb.save.rip
                );
                self.inject_exception(GP, Some(0));
                return None;
            }
        };
        if let Some(value) = read {
            self.set_msr_result(value);
        }
        self.skip(LEN_MSR);
        None
    }

    /// RDMSR or WRMSR of one of the APIC's MSRs (#GP when the APIC refuses it).
    fn apic_msr(&mut self, msr: u32, write: bool, value: u64) -> Option<VcpuExit> {
        let exit = if write {
            self.write_apic_msr(msr, value).ok()?
        } else {
            let read = self.read_apic_msr(msr)?;
            self.set_msr_result(read);
            None
        };
        self.skip(LEN_MSR);
        exit
    }

    /// RDMSR's result: EDX:EAX.
    fn set_msr_result(&mut self, value: u64) {
        self.vmcb.save.rax = value & 0xffff_ffff;
        self.regs.rdx = value >> 32;
    }

    /// VMMCALL: Tessera's hypercalls.
    fn hypercall(&mut self) {
        self.vmcb.save.rax = match self.vmcb.save.rax {
            hypercall::VERSION => hypercall::VERSION_1_0,
            _ => hypercall::UNKNOWN,
        };
        self.skip(LEN_VMMCALL);
    }
}

/// Whether every PAT entry holds a memory type that exists (0, 1, 4, 5, 6, 7).
fn valid_pat(value: u64) -> bool {
    value
        .to_le_bytes()
        .iter()
        .all(|&kind| matches!(kind, 0 | 1 | 4..=7))
}

/// Clears the read and write intercept bits of `msr` in the MSR permission map.
fn allow_msr(map: &Frames, msr: u32) {
    let (base, index) = match msr {
        0..=0x1fff => (0x000, msr),
        0xc000_0000..=0xc000_1fff => (0x800, msr - 0xc000_0000),
        0xc001_0000..=0xc001_1fff => (0x1000, msr - 0xc001_0000),
        _ => return,
    };
    let bit = index as u64 * 2;
    let byte = map.base.raw() + base + bit / 8;
    // SAFETY: the byte lies in the vCPU's own 8 KiB map (offset below 0x1800).
    unsafe {
        let pointer = byte as *mut u8;
        pointer.write(pointer.read() & !(0b11 << (bit % 8)));
    }
}

impl ArchVcpu for X86Vcpu {
    /// Puts the guest's x87/SSE state on this CPU (the hypervisor itself uses none).
    fn load(&mut self) {
        // SAFETY: the area is 512 bytes, 16-byte aligned, and holds a state FXSAVE64
        // wrote or the power-on state; CR4.OSFXSR is set.
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) self.fx.0.as_ptr(), options(nostack)) };
        self.vmcb.control.tlb_control = tlb_control::FLUSH_ASID;
    }

    /// Saves the guest's x87/SSE state (another vCPU will run here).
    fn put(&mut self) {
        // SAFETY: as in `load`; FXSAVE64 writes 512 bytes into the area.
        unsafe {
            core::arch::asm!("fxsave64 [{}]", in(reg) self.fx.0.as_mut_ptr(), options(nostack))
        };
    }

    fn run(&mut self) -> Result<VcpuExit, VcpuError> {
        loop {
            self.prepare_apic();
            let vmcb = &raw const *self.vmcb as u64;
            // SAFETY: the VMCB's nested page table maps only this VM's memory, every
            // instruction that could escape the guest is intercepted, and SVM was
            // enabled on this CPU by `init_cpu_for_guests`.
            unsafe { svm::run(vmcb, &mut self.regs) };
            self.vmcb.control.tlb_control = tlb_control::DO_NOTHING;
            self.vmcb.control.event_inj = crate::exit::reinjected(self.vmcb.control.exitintinfo);
            let info = ExitInfo::from_control(&self.vmcb.control);
            let pc = self.vmcb.save.rip;
            match SvmExit::decode(&info) {
                SvmExit::Intr | SvmExit::Nmi => return Ok(VcpuExit::HostInterrupt),
                SvmExit::Vintr => {
                    self.request_interrupt_window(false);
                    return Ok(VcpuExit::Handled);
                }
                SvmExit::Io {
                    port,
                    size,
                    input,
                    string: false,
                    next_rip,
                    ..
                } => return Ok(self.port_access(port, size, input, next_rip)),
                SvmExit::Io { port, .. } => {
                    return Err(VcpuError::UndecodableAccess {
                        addr: GuestPhysAddr::new(u64::from(port)),
                        pc,
                    });
                }
                SvmExit::Cpuid => self.cpuid(),
                SvmExit::Msr { write } => {
                    if let Some(exit) = self.msr(write) {
                        return Ok(exit);
                    }
                    if self.take_logical_change() {
                        return Ok(VcpuExit::Handled);
                    }
                }
                SvmExit::Vmmcall => self.hypercall(),
                SvmExit::Hlt => {
                    self.skip(LEN_HLT);
                    // With interrupts off nothing can wake it (no NMIs are offered):
                    // the way Linux halts for good without ACPI.
                    if self.vmcb.save.rflags & (1 << 9) == 0 {
                        return Ok(VcpuExit::CpuOff);
                    }
                    return Ok(VcpuExit::Idle);
                }
                SvmExit::Shutdown => return Ok(VcpuExit::SystemReset),
                SvmExit::NestedPageFault {
                    gpa, error_code, ..
                } => match self.nested_page_fault(gpa, error_code)? {
                    VcpuExit::Handled if !self.take_logical_change() => {}
                    exit => return Ok(exit),
                },
                SvmExit::Other(code) if code == crate::exit::code::INVD => self.skip(LEN_INVD),
                SvmExit::Other(code)
                    if matches!(
                        code,
                        crate::exit::code::VMRUN
                            | crate::exit::code::VMLOAD
                            | crate::exit::code::VMSAVE
                            | crate::exit::code::STGI
                            | crate::exit::code::CLGI
                            | crate::exit::code::SKINIT
                            | crate::exit::code::INVLPGA
                            | crate::exit::code::MONITOR
                            | crate::exit::code::MWAIT
                            | crate::exit::code::XSETBV
                            | crate::exit::code::RDPRU
                    ) =>
                {
                    self.inject_exception(UD, None);
                }
                SvmExit::Invalid => {
                    return Err(VcpuError::HardwareError {
                        syndrome: info.code,
                    });
                }
                SvmExit::Exception { vector, .. } => {
                    return Err(VcpuError::UnknownExit {
                        syndrome: crate::exit::code::EXCEPTION + u64::from(vector),
                        pc,
                    });
                }
                SvmExit::Other(code) => {
                    return Err(VcpuError::UnknownExit { syndrome: code, pc });
                }
            }
        }
    }

    fn complete_mmio_read(&mut self, value: u64) {
        match self.pending {
            Pending::MmioRead(access) => {
                if let Operand::Register { reg, .. } = access.kind {
                    let old = self.reg(reg);
                    self.set_reg(reg, access.load_result(old, value));
                }
            }
            Pending::PortIn(size) => {
                // IN to AL/AX keeps the rest of RAX; IN to EAX clears bits 63:32.
                let rax = self.vmcb.save.rax;
                self.vmcb.save.rax = match size {
                    1 => (rax & !0xff) | (value & 0xff),
                    2 => (rax & !0xffff) | (value & 0xffff),
                    _ => value & 0xffff_ffff,
                };
            }
            Pending::None => {}
        }
        self.pending = Pending::None;
    }

    /// A PC raises no bus error for an access to nothing: the read returns all ones
    /// (the floating bus) and the write is dropped.
    fn fail_access(&mut self) -> bool {
        self.complete_mmio_read(u64::MAX);
        true
    }

    fn answer(&mut self, _answer: CallAnswer) {
        self.pending = Pending::None;
    }

    fn reset(&mut self, entry: GuestPhysAddr, arg: u64) {
        self.regs = GuestRegs::default();
        *self.fx = FxArea::reset();
        let save = &mut self.vmcb.save;
        save.idtr = Segment::default();
        save.ldtr = Segment::default();
        save.tr = Segment {
            selector: 0,
            attrib: attrib::TYPE_TSS64_BUSY | attrib::P,
            limit: 0x67,
            base: 0,
        };
        save.cpl = 0;
        save.cr2 = 0;
        save.dr6 = 0xffff_0ff0;
        save.dr7 = 0x400;
        save.rflags = 0x2;
        save.rip = entry.raw();
        save.rsp = 0;
        save.rax = 0;
        save.g_pat = PAT_RESET;
        save.star = 0;
        save.lstar = 0;
        save.cstar = 0;
        save.sfmask = 0;
        save.kernel_gs_base = 0;
        save.sysenter_cs = 0;
        save.sysenter_esp = 0;
        save.sysenter_eip = 0;
        match self.entry {
            // The other vCPUs are application processors: a STARTUP IPI starts them.
            _ if self.index != 0 => self.enter_startup(entry.raw()),
            EntryMode::Linux64 => self.enter_linux64(arg),
            EntryMode::Multiboot => self.enter_multiboot(arg),
        }
        let control = &mut self.vmcb.control;
        control.event_inj = 0;
        control.interrupt_shadow = 0;
        control.tlb_control = tlb_control::FLUSH_ASID;
        self.request_interrupt_window(false);
        self.pending = Pending::None;
        self.reset_apic();
    }

    fn pc(&self) -> u64 {
        self.vmcb.save.rip
    }

    /// The local APIC timer's next expiry (a host counter value), loaded or not:
    /// the APIC is emulated, so the physical CPU must wake for it either way.
    fn timer_deadline(&self) -> Option<u64> {
        self.apic_deadline_on_host()
    }
}
