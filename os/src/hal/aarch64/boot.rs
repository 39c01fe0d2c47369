//! Entry at EL2 from the boot loader (QEMU loads us as an arm64 Linux `Image`, so the
//! image starts with that header), BSS clearing, the boot page table, MMU enable, and
//! the secondary-CPU entry used with PSCI CPU_ON.
//!
//! The EL2 translation regime maps the low 4 GiB one-to-one with 1 GiB blocks: the
//! first gigabyte (MMIO on the `virt` board) as Device-nGnRnE, the rest as normal
//! write-back memory. Physical addresses are therefore usable as pointers.

use crate::platform::CPU_COUNT;
use core::arch::global_asm;

/// Stack size per CPU.
const STACK_SIZE: usize = 128 * 1024;

/// Boot stacks, one per CPU.
#[repr(C, align(4096))]
struct Stacks([[u8; STACK_SIZE]; CPU_COUNT]);

#[unsafe(no_mangle)]
static mut BOOT_STACKS: Stacks = Stacks([[0; STACK_SIZE]; CPU_COUNT]);

/// Level-1 table of the EL2 identity map (512 entries of 1 GiB).
#[repr(C, align(4096))]
struct Table([u64; 512]);

#[unsafe(no_mangle)]
static mut BOOT_L1_TABLE: Table = Table([0; 512]);

/// The device tree address the boot loader passed in x0 (0 if none); written once by
/// the boot CPU before anything reads it.
#[unsafe(no_mangle)]
static mut BOOT_DTB: u64 = 0;

/// The platform's device tree from the boot loader, if it passed a valid one.
pub fn host_dtb() -> Option<&'static [u8]> {
    // SAFETY: BOOT_DTB is written once in `_start`, before any Rust code runs, with the
    // address the boot loader passed; that memory lies below the image, which nothing
    // of ours overwrites, in the identity-mapped low 4 GiB.
    unsafe { crate::boot_dtb::blob_at(core::ptr::addr_of!(BOOT_DTB).read()) }
}

unsafe extern "C" {
    static __image_end: u8;
}

/// Address just past the image and its BSS.
pub fn image_end() -> u64 {
    // Only the address of the linker symbol is taken, never its contents.
    core::ptr::addr_of!(__image_end) as u64
}

/// The secondary entry point's physical address, for PSCI CPU_ON.
pub fn secondary_entry_address() -> u64 {
    unsafe extern "C" {
        fn _secondary_start();
    }
    _secondary_start as *const () as u64
}

// Block descriptor attributes: valid block (0b01), AttrIndx, SH, AF (bit 10), XN (bit 54).
// MAIR_EL2 attr0 = 0x00 (Device-nGnRnE), attr1 = 0xff (Normal, write-back RA/WA).
// TCR_EL2: T0SZ = 25 (39-bit VA), IRGN0 = ORGN0 = 1 (WB RA WA), SH0 = 3, TG0 = 4 KiB,
// bit 23 and 31 RES1, PS filled in from ID_AA64MMFR0_EL1.PARange (clamped to 48 bits).
// SCTLR_EL2: RES1 bits 0x30C50830 plus M (0), C (2), SA (3), I (12).
global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    b       1f
    .long   0
    .quad   0                       // text_offset: load 2 MiB into RAM
    .quad   __image_end - _start    // image_size
    .quad   0x2                     // flags: little endian, 4 KiB pages
    .quad   0, 0, 0
    .ascii  "ARM\x64"
    .long   0
1:  msr     daifset, #0xf
    mrs     x1, CurrentEL
    cmp     x1, #(2 << 2)
    b.ne    .Lpark
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
2:  cmp     x1, x2
    b.hs    3f
    stp     xzr, xzr, [x1], #16
    b       2b
3:  adrp    x1, BOOT_DTB
    str     x0, [x1, :lo12:BOOT_DTB]
    adrp    x1, BOOT_L1_TABLE
    add     x1, x1, :lo12:BOOT_L1_TABLE
    ldr     x2, ={device_block}
    str     x2, [x1]
    mov     x3, #1
4:  lsl     x2, x3, #30
    ldr     x4, ={normal_block}
    orr     x2, x2, x4
    str     x2, [x1, x3, lsl #3]
    add     x3, x3, #1
    cmp     x3, #4
    b.lt    4b
    mov     x0, #0
    b       .Lcommon

    .global _secondary_start
_secondary_start:                   // x0 = CPU index (PSCI context id)
    msr     daifset, #0xf
.Lcommon:
    msr     tpidr_el2, x0
    adrp    x1, BOOT_STACKS
    add     x1, x1, :lo12:BOOT_STACKS
    add     x2, x0, #1
    ldr     x3, ={stack_size}
    madd    x1, x2, x3, x1
    mov     sp, x1
    ldr     x1, =0xff00
    msr     mair_el2, x1
    mrs     x2, id_aa64mmfr0_el1
    and     x2, x2, #7
    cmp     x2, #5
    mov     x3, #5
    csel    x2, x2, x3, ls
    ldr     x1, ={tcr}
    orr     x1, x1, x2, lsl #16
    msr     tcr_el2, x1
    adrp    x1, BOOT_L1_TABLE
    msr     ttbr0_el2, x1
    isb
    tlbi    alle2
    dsb     sy
    isb
    ldr     x1, ={sctlr}
    msr     sctlr_el2, x1
    isb
    adrp    x1, tessera_exception_vectors
    add     x1, x1, :lo12:tessera_exception_vectors
    msr     vbar_el2, x1
    isb
    cbnz    x0, 5f
    bl      __tessera_main
5:  bl      __tessera_secondary
.Lpark:
    wfe
    b       .Lpark
    "#,
    device_block = const 0b01u64 | (1 << 10) | (1 << 54),
    normal_block = const 0b01u64 | (1 << 2) | (3 << 8) | (1 << 10),
    stack_size = const STACK_SIZE,
    tcr = const 25u64 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (1 << 31),
    sctlr = const 0x30C5_0830u64 | 1 | (1 << 2) | (1 << 3) | (1 << 12),
);
