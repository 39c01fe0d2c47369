//! AMD SVM on this CPU: turning it on (EFER.SVME and the host save area), and the
//! world switch. The switch saves the hypervisor's callee-saved registers, loads the
//! guest's general registers (RAX and RSP travel in the VMCB), and runs
//! VMLOAD/VMRUN/VMSAVE; on #VMEXIT it stores the guest's registers back and restores
//! the hypervisor's FS, GS, TR, LDTR and system-call MSRs with VMLOAD from a
//! per-CPU host page.
//!
//! Interrupts: the switch runs with GIF clear and RFLAGS.IF set, so a physical
//! interrupt that arrives while the guest runs causes #VMEXIT(INTR) (the hypervisor
//! intercepts INTR) and stays pending; after the exit IF is cleared before GIF is
//! set again, and the interrupt is taken later through the interrupt table.

use super::io::{cpuid, rdmsr, wrmsr};
use crate::platform::CPU_COUNT;
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// EFER and its SVM enable bit.
const IA32_EFER: u32 = 0xc000_0080;
const EFER_SVME: u64 = 1 << 12;
/// VM_CR: SVMDIS (bit 4) set means firmware disabled SVM.
const VM_CR: u32 = 0xc001_0114;
const VM_CR_SVMDIS: u64 = 1 << 4;
/// VM_HSAVE_PA: where VMRUN saves the host's state.
const VM_HSAVE_PA: u32 = 0xc001_0117;

/// Each CPU's page for VMSAVE/VMLOAD of the hypervisor's own state.
static HOST_PAGES: [AtomicU64; CPU_COUNT] = [const { AtomicU64::new(0) }; CPU_COUNT];

/// General-purpose registers of a guest other than RAX and RSP (which the VMCB holds).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GuestRegs {
    /// RBX.
    pub rbx: u64,
    /// RCX.
    pub rcx: u64,
    /// RDX.
    pub rdx: u64,
    /// RSI.
    pub rsi: u64,
    /// RDI.
    pub rdi: u64,
    /// RBP.
    pub rbp: u64,
    /// R8 to R15.
    pub r: [u64; 8],
}

/// Why SVM cannot be used on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SvmError {
    /// CPUID Fn8000_0001 ECX bit 2 is clear.
    NoSvm,
    /// CPUID Fn8000_000A EDX bit 0 is clear.
    NoNestedPaging,
    /// The firmware disabled SVM (VM_CR.SVMDIS).
    DisabledByFirmware,
    /// No memory for the host save area.
    OutOfMemory,
}

impl core::fmt::Display for SvmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoSvm => {
                "this CPU has no AMD SVM (CPUID Fn8000_0001 ECX bit 2): run QEMU with an AMD CPU model with svm, such as -cpu EPYC or -cpu qemu64,+svm,+npt"
            }
            Self::NoNestedPaging => {
                "this CPU's SVM has no nested paging (CPUID Fn8000_000A EDX bit 0): run QEMU with +npt"
            }
            Self::DisabledByFirmware => "the firmware disabled SVM (VM_CR.SVMDIS is set)",
            Self::OutOfMemory => "no memory for the SVM host save area",
        })
    }
}

/// Checks that this CPU has SVM with nested paging and turns SVM on.
pub fn enable() -> Result<(), SvmError> {
    let (_, _, ext_ecx, _) = cpuid(0x8000_0001, 0);
    if ext_ecx & (1 << 2) == 0 {
        return Err(SvmError::NoSvm);
    }
    let (max_ext, _, _, _) = cpuid(0x8000_0000, 0);
    if max_ext < 0x8000_000a || cpuid(0x8000_000a, 0).3 & 1 == 0 {
        return Err(SvmError::NoNestedPaging);
    }
    if rdmsr(VM_CR) & VM_CR_SVMDIS != 0 {
        return Err(SvmError::DisabledByFirmware);
    }
    let save = crate::frames::alloc_zeroed(1).ok_or(SvmError::OutOfMemory)?;
    let host = crate::frames::alloc_zeroed(1).ok_or(SvmError::OutOfMemory)?;
    if let Some(slot) = HOST_PAGES.get(super::cpu_index()) {
        slot.store(host.raw(), Ordering::Release);
    }
    // SAFETY: SVM exists (checked above); EFER.SVME only enables the SVM instructions,
    // and the save area is a page of our own that nothing else uses.
    unsafe {
        wrmsr(IA32_EFER, rdmsr(IA32_EFER) | EFER_SVME);
        wrmsr(VM_HSAVE_PA, save.raw());
    }
    Ok(())
}

unsafe extern "C" {
    fn tessera_svm_run(vmcb: u64, regs: *mut GuestRegs, host: u64);
}

/// Runs the guest described by the VMCB at physical address `vmcb` with the general
/// registers `regs` until its next #VMEXIT (the VMCB says why).
///
/// # Safety
/// `vmcb` must be the physical address of a valid VMCB whose nested page table
/// confines the guest to its own memory; SVM must be enabled on this CPU.
pub unsafe fn run(vmcb: u64, regs: &mut GuestRegs) {
    let host = HOST_PAGES
        .get(super::cpu_index())
        .map_or(0, |slot| slot.load(Ordering::Acquire));
    // SAFETY: the caller vouches for the VMCB; `regs` outlives the call; the host page
    // was set by `enable` on this CPU; the assembly restores every callee-saved register.
    unsafe { tessera_svm_run(vmcb, regs, host) }
}

global_asm!(
    r#"
    .section .text
    .global tessera_svm_run
tessera_svm_run:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    push rsi
    push rdx
    push rdi
    mov rax, rdx
    vmsave rax
    clgi
    sti
    mov rax, rsi
    mov rbx, [rax + 0]
    mov rcx, [rax + 8]
    mov rdx, [rax + 16]
    mov rsi, [rax + 24]
    mov rdi, [rax + 32]
    mov rbp, [rax + 40]
    mov r8, [rax + 48]
    mov r9, [rax + 56]
    mov r10, [rax + 64]
    mov r11, [rax + 72]
    mov r12, [rax + 80]
    mov r13, [rax + 88]
    mov r14, [rax + 96]
    mov r15, [rax + 104]
    mov rax, [rsp]
    vmload rax
    vmrun rax
    vmsave rax
    mov rax, [rsp + 16]
    mov [rax + 0], rbx
    mov [rax + 8], rcx
    mov [rax + 16], rdx
    mov [rax + 24], rsi
    mov [rax + 32], rdi
    mov [rax + 40], rbp
    mov [rax + 48], r8
    mov [rax + 56], r9
    mov [rax + 64], r10
    mov [rax + 72], r11
    mov [rax + 80], r12
    mov [rax + 88], r13
    mov [rax + 96], r14
    mov [rax + 104], r15
    pop rax
    pop rax
    vmload rax
    cli
    stgi
    pop rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret
"#
);
