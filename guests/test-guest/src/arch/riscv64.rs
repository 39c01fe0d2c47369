//! riscv64: entry (a0 = hart id, a1 = device tree), the ns16550a of the `virt`
//! board, SBI over ECALL.

use core::arch::{asm, global_asm};

/// The 16550's transmit holding register on the `virt` board.
const UART_THR: usize = 0x1000_0000;
/// Its line status register.
const UART_LSR: usize = 0x1000_0005;
/// What the privilege check calls the level a guest kernel runs at.
pub const PRIVILEGE_NAME: &str = "s-mode";
/// What the firmware check calls the firmware interface.
pub const FIRMWARE_NAME: &str = "sbi";

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    li      tp, 0
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  la      sp, GUEST_STACK
    li      t0, {stack}
    add     sp, sp, t0
    mv      a0, a1
    j       {main}
"#,
    stack = const STACK_SIZE,
    main = sym entry,
);

const STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

#[unsafe(no_mangle)]
static mut GUEST_STACK: Stack = Stack([0; STACK_SIZE]);

extern "C" fn entry(dtb: usize) -> ! {
    super::super::guest_main(dtb)
}

/// Writes one byte to the UART.
pub fn putc(byte: u8) {
    if byte == b'\n' {
        putc(b'\r');
    }
    // SAFETY: the `virt` board's 16550 registers; this program is the only user.
    unsafe {
        while core::ptr::read_volatile(UART_LSR as *const u8) & (1 << 5) == 0 {}
        core::ptr::write_volatile(UART_THR as *mut u8, byte);
    }
}

/// Whether this program runs at the supervisor level. Only S level can read `satp`:
/// from user mode the read traps, this program has no trap handler, and its VM stops
/// before the check's marker is printed. At S level the MMU is still off (bare).
pub fn runs_at_kernel_level() -> bool {
    let satp: u64;
    // SAFETY: reading satp has no side effects at S level.
    unsafe { asm!("csrr {}, satp", out(reg) satp, options(nomem, nostack)) };
    satp >> 60 == 0
}

/// An SBI call with arguments a0 and a1 = 0; returns (error, value).
fn sbi(eid: u64, fid: u64, a0: u64) -> (i64, u64) {
    let (error, value): (i64, u64);
    // SAFETY: an ecall to the hypervisor's SBI, which changes only a0/a1.
    unsafe {
        asm!("ecall", inlateout("a0") a0 => error, inlateout("a1") 0u64 => value,
             in("a6") fid, in("a7") eid, options(nostack));
    }
    (error, value)
}

/// The `time` CSR.
pub fn counter() -> u64 {
    let ticks: u64;
    // SAFETY: reading time has no side effects.
    unsafe { asm!("rdtime {}", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// The counter's frequency, when the CPU says it: on riscv only the device tree
/// does (`/cpus/timebase-frequency`).
pub fn counter_frequency() -> Option<u64> {
    None
}

/// Reads the UART's line status register (an emulated device register under Tessera).
pub fn read_console_status() -> u32 {
    // SAFETY: the `virt` board's 16550 line status register; reading it has no side
    // effects (it clears only the overrun flag, which this program never causes).
    u32::from(unsafe { core::ptr::read_volatile(UART_LSR as *const u8) })
}

/// SBI specification version as (major, minor).
pub fn firmware_version() -> (u32, u32) {
    let (_, version) = sbi(0x10, 0, 0);
    ((version >> 24) as u32 & 0x7f, version as u32 & 0xff_ffff)
}

/// SBI system reset: cold reboot of this VM; never returns.
pub fn reset() -> ! {
    sbi(0x5352_5354, 0, 1);
    park()
}

/// SBI system reset: shutdown; never returns.
pub fn power_off() -> ! {
    sbi(0x5352_5354, 0, 0);
    park()
}

fn park() -> ! {
    loop {
        // SAFETY: waits for an interrupt that never comes.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}
