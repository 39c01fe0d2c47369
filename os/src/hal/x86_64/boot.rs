//! Entry from QEMU's `-kernel` through the multiboot header (32-bit protected mode,
//! paging off, `eax` = the multiboot magic), BSS clearing, the identity map of the
//! low 4 GiB with 2 MiB pages, the switch to long mode, per-CPU stacks, and the
//! real-mode trampoline the other CPUs start in after INIT-SIPI-SIPI.
//!
//! The header uses the multiboot "address fields" (flags bit 16), so QEMU loads the
//! raw image at its link address without reading an ELF file: the whole file
//! (`load_end_addr` 0), then zeroes up to `bss_end_addr`. Memory types come
//! from the firmware's MTRRs (the APIC windows and the PCI hole are uncached), so
//! physical addresses are usable as pointers.

use crate::platform::CPU_COUNT;
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

/// log2 of the stack size per CPU.
const STACK_SHIFT: usize = 17;
/// Stack size per CPU.
const STACK_SIZE: usize = 1 << STACK_SHIFT;
/// Physical address of the real-mode trampoline page (below 1 MiB, page aligned).
const TRAMPOLINE_ADDR: u64 = 0x8000;

/// Boot stacks, one per CPU (indexed by APIC id).
#[repr(C, align(4096))]
struct Stacks([[u8; STACK_SIZE]; CPU_COUNT]);

#[unsafe(no_mangle)]
static mut BOOT_STACKS: Stacks = Stacks([[0; STACK_SIZE]; CPU_COUNT]);

/// One page-table page.
#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The identity map: one PML4, one PDPT, four page directories of 2 MiB pages. The
/// boot code fills them before paging is on.
#[unsafe(no_mangle)]
static mut BOOT_PML4: Table = Table([0; 512]);
#[unsafe(no_mangle)]
static mut BOOT_PDPT: Table = Table([0; 512]);
#[unsafe(no_mangle)]
static mut BOOT_PD: [Table; 4] = [const { Table([0; 512]) }; 4];

unsafe extern "C" {
    static __image_end: u8;
    static tessera_ap_trampoline: u8;
    static tessera_ap_trampoline_end: u8;
}

/// Address just past the image and its BSS.
pub fn image_end() -> u64 {
    // Only the address of the linker symbol is taken, never its contents.
    core::ptr::addr_of!(__image_end) as u64
}

/// The CPU whose boot stack holds `rsp`.
pub fn cpu_of_stack(rsp: u64) -> usize {
    let base = core::ptr::addr_of!(BOOT_STACKS) as u64;
    (rsp.saturating_sub(base) >> STACK_SHIFT).min(CPU_COUNT as u64 - 1) as usize
}

/// Whether the trampoline is in place.
static TRAMPOLINE_READY: AtomicBool = AtomicBool::new(false);

/// Copies the real-mode trampoline to its page (once); returns the STARTUP IPI
/// vector that names the page.
pub fn install_trampoline() -> u8 {
    if !TRAMPOLINE_READY.swap(true, Ordering::AcqRel) {
        let start = core::ptr::addr_of!(tessera_ap_trampoline);
        let end = core::ptr::addr_of!(tessera_ap_trampoline_end);
        let len = end as usize - start as usize;
        // SAFETY: the trampoline's bytes lie in the image between the two symbols; its
        // page below 1 MiB is RAM the firmware no longer uses and nothing else of ours
        // touches; `len` is well under a page.
        unsafe { core::ptr::copy_nonoverlapping(start, TRAMPOLINE_ADDR as *mut u8, len) };
    }
    (TRAMPOLINE_ADDR >> 12) as u8
}

global_asm!(
    r#"
    .section .text.boot, "ax"
    .code32
    .balign 4
tessera_multiboot_header:
    .long 0x1badb002
    .long 0x00010000
    .long -(0x1badb002 + 0x00010000)
    .long tessera_multiboot_header
    .long __image_start
    .long 0
    .long __image_end
    .long _start

    .global _start
_start:
    cli
    cld
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    movl $BOOT_PDPT, %eax
    orl $3, %eax
    movl %eax, BOOT_PML4
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $BOOT_PD, %eax
    orl $3, %eax
    movl %eax, BOOT_PDPT(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jb 1b
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, BOOT_PD(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b
    movl $1, %esi
    jmp tessera_enter_long_mode

    // Real-mode entry of the other CPUs, copied to TRAMPOLINE_ADDR.
    .code16
    .global tessera_ap_trampoline
tessera_ap_trampoline:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl {trampoline} + (tessera_ap_gdt_pointer - tessera_ap_trampoline)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x18, $tessera_ap_protected
    .balign 4
tessera_ap_gdt_pointer:
    .word tessera_gdt_end - tessera_gdt - 1
    .long tessera_gdt
    .global tessera_ap_trampoline_end
tessera_ap_trampoline_end:

    .code32
tessera_ap_protected:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %esi, %esi

    // 32-bit, flat segments, paging off; esi = 1 on the boot CPU.
tessera_enter_long_mode:
    lgdt tessera_gdt_pointer
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    movl $BOOT_PML4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    andl $~(1 << 2), %eax
    orl $((1 << 31) | (1 << 16) | (1 << 1) | 1), %eax
    movl %eax, %cr0
    ljmp $0x08, $tessera_long_mode

    .code64
tessera_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movl $1, %eax
    cpuid
    shrl $24, %ebx
    cmpl ${cpu_count}, %ebx
    jae 4f
    movq %rbx, %rdi
    leaq BOOT_STACKS(%rip), %rsp
    movq %rbx, %rax
    incq %rax
    shlq ${stack_shift}, %rax
    addq %rax, %rsp
    testl %esi, %esi
    jz 3f
    call __tessera_main
3:  call __tessera_secondary
4:  cli
    hlt
    jmp 4b

    .section .rodata
    .balign 16
tessera_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00cf9a000000ffff
tessera_gdt_end:
tessera_gdt_pointer:
    .word tessera_gdt_end - tessera_gdt - 1
    .quad tessera_gdt
    "#,
    cpu_count = const CPU_COUNT,
    stack_shift = const STACK_SHIFT,
    trampoline = const TRAMPOLINE_ADDR,
    options(att_syntax),
);
