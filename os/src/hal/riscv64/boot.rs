//! Entry in HS-mode from OpenSBI (a0 = hart id, a1 = device tree), BSS clearing,
//! per-hart stacks, the Sv39 identity map, and the secondary-hart entry used with SBI
//! HSM `hart_start`.
//!
//! The map covers the low 4 GiB one-to-one with 1 GiB pages (devices below
//! 0x8000_0000, RAM above); memory types come from the platform's PMAs, Sv39 has no
//! attribute bits for them. Physical addresses are therefore usable as pointers.

use crate::platform::CPU_COUNT;
use core::arch::global_asm;

/// log2 of the stack size per CPU.
const STACK_SHIFT: usize = 17;
/// Stack size per CPU.
const STACK_SIZE: usize = 1 << STACK_SHIFT;

/// Boot stacks, one per CPU (indexed by hart id).
#[repr(C, align(4096))]
struct Stacks([[u8; STACK_SIZE]; CPU_COUNT]);

#[unsafe(no_mangle)]
static mut BOOT_STACKS: Stacks = Stacks([[0; STACK_SIZE]; CPU_COUNT]);

/// Sv39 PTE bits: V, R, W, X, G, A, D.
const PTE_LEAF_RWX: u64 = 1 | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7);

/// The root table of the identity map: 1 GiB pages for the low 4 GiB.
#[repr(C, align(4096))]
struct Table([u64; 512]);

#[unsafe(no_mangle)]
static BOOT_ROOT_TABLE: Table = {
    let mut entries = [0u64; 512];
    let mut gib = 0;
    while gib < 4 {
        // PPN of the gigabyte at bits [53:10].
        entries[gib] = ((gib as u64) << 30 >> 12 << 10) | PTE_LEAF_RWX;
        gib += 1;
    }
    Table(entries)
};

/// The device tree address OpenSBI passed in a1 (0 if none); written once by the
/// boot hart before anything reads it.
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

/// The secondary entry point's physical address, for SBI `hart_start`.
pub fn secondary_entry_address() -> u64 {
    unsafe extern "C" {
        fn _secondary_start();
    }
    _secondary_start as *const () as u64
}

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    csrw    sie, zero
    csrci   sstatus, 2
    li      t0, {cpu_count}
    bgeu    a0, t0, .Lpark
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  la      t0, BOOT_DTB
    sd      a1, 0(t0)
    li      a2, 1
    j       .Lcommon

    .global _secondary_start
_secondary_start:                   // a0 = hart id, a1 = opaque
    csrw    sie, zero
    csrci   sstatus, 2
    li      a2, 0
.Lcommon:
    mv      tp, a0
    la      sp, BOOT_STACKS
    addi    t0, a0, 1
    slli    t0, t0, {stack_shift}
    add     sp, sp, t0
    la      t0, BOOT_ROOT_TABLE
    srli    t0, t0, 12
    li      t1, 8 << 60
    or      t0, t0, t1
    sfence.vma
    csrw    satp, t0
    sfence.vma
    la      t0, tessera_hypervisor_trap
    csrw    stvec, t0
    beqz    a2, 3f
    call    __tessera_main
3:  call    __tessera_secondary
.Lpark:
    wfi
    j       .Lpark
    "#,
    cpu_count = const CPU_COUNT,
    stack_shift = const STACK_SHIFT,
);
