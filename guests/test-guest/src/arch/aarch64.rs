//! aarch64: entry, the PL011 of the `virt` board, PSCI over HVC.

use core::arch::{asm, global_asm};

/// PL011 data register on the `virt` board.
const UART_DR: usize = 0x0900_0000;
/// PL011 flag register.
const UART_FR: usize = 0x0900_0018;
/// What the privilege check calls the level a guest kernel runs at.
pub const PRIVILEGE_NAME: &str = "el1";
/// What the firmware check calls the firmware interface.
pub const FIRMWARE_NAME: &str = "psci";

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  adrp    x1, GUEST_STACK
    add     x1, x1, :lo12:GUEST_STACK
    add     sp, x1, #{stack}
    b       {main}
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
    // SAFETY: the `virt` board's PL011 registers; this program is the only user.
    unsafe {
        while core::ptr::read_volatile(UART_FR as *const u32) & (1 << 5) != 0 {}
        core::ptr::write_volatile(UART_DR as *mut u32, u32::from(byte));
    }
}

/// Whether this program runs at EL1 (CurrentEL.EL).
pub fn runs_at_kernel_level() -> bool {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effects.
    unsafe { asm!("mrs {}, CurrentEL", out(reg) el, options(nomem, nostack)) };
    (el >> 2) & 3 == 1
}

fn psci(function: u64, arg: u64) -> u64 {
    let mut x0 = function;
    // SAFETY: an SMCCC call over HVC; the hypervisor may clobber x0-x17.
    unsafe {
        asm!("hvc #0", inout("x0") x0, inout("x1") arg => _, out("x2") _, out("x3") _,
             out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
             out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
             out("x15") _, out("x16") _, out("x17") _, options(nostack));
    }
    x0
}

/// The virtual counter (CNTVCT_EL0).
pub fn counter() -> u64 {
    let ticks: u64;
    // SAFETY: reading the virtual counter has no side effects; ISB orders it.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// The counter's frequency (CNTFRQ_EL0).
pub fn counter_frequency() -> Option<u64> {
    let hz: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) hz, options(nomem, nostack)) };
    Some(hz)
}

/// Reads the UART's flag register (an emulated device register under Tessera).
pub fn read_console_status() -> u32 {
    // SAFETY: the `virt` board's PL011 flag register; reading it has no side effects.
    unsafe { core::ptr::read_volatile(UART_FR as *const u32) }
}

/// PSCI_VERSION as (major, minor).
pub fn firmware_version() -> (u32, u32) {
    let version = psci(0x8400_0000, 0);
    ((version >> 16) as u32 & 0x7fff, version as u32 & 0xffff)
}

/// PSCI SYSTEM_RESET; never returns.
pub fn reset() -> ! {
    psci(0x8400_0009, 0);
    loop {
        // SAFETY: waits for an interrupt that never comes.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}

/// PSCI SYSTEM_OFF; never returns.
pub fn power_off() -> ! {
    psci(0x8400_0008, 0);
    loop {
        // SAFETY: waits for an interrupt that never comes.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}
