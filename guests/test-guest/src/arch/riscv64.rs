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

/// An SBI call: extension `eid`, function `fid`, arguments a0-a2; returns (a0, a1).
pub(super) fn sbi(eid: u64, fid: u64, a0: u64, a1: u64, a2: u64) -> (u64, u64) {
    let (r0, r1): (u64, u64);
    // SAFETY: an ecall to the hypervisor's SBI (or the firmware's), which changes
    // only a0/a1.
    unsafe {
        asm!("ecall", inlateout("a0") a0 => r0, inlateout("a1") a1 => r1, in("a2") a2,
             in("a6") fid, in("a7") eid, options(nostack));
    }
    (r0, r1)
}

/// SBI extension ids the firmware checks use.
const EID_BASE: u64 = 0x10;
const EID_LEGACY_PUTCHAR: u64 = 0x01;
const EID_IPI: u64 = 0x73_5049;
const EID_RFENCE: u64 = 0x5246_4E43;
const EID_DBCN: u64 = 0x4442_434E;
/// SBI_ERR_INVALID_PARAM as a0 holds it.
const INVALID_PARAM: u64 = -3i64 as u64;

/// Writes `text` through the SBI debug console (DBCN console_write), call after call
/// until all of it is out.
fn dbcn_write(text: &[u8]) -> Result<(), &'static str> {
    let mut done = 0;
    while let Some(rest) = text.get(done..).filter(|rest| !rest.is_empty()) {
        let (error, written) = sbi(EID_DBCN, 0, rest.len() as u64, rest.as_ptr() as u64, 0);
        if error != 0 || written == 0 || written > rest.len() as u64 {
            return Err("sbi debug console: console_write failed");
        }
        done += written as usize;
    }
    Ok(())
}

/// What the SBI specification asks beyond the version: the debug console and the
/// legacy putchar reach the VM's console, and hart masks naming harts that do not
/// exist are refused. Prints a line for each.
pub fn firmware_checks() -> Result<(), &'static str> {
    if sbi(EID_BASE, 3, EID_DBCN, 0, 0) != (0, 1) {
        return Err("sbi debug console: not offered (probe_extension)");
    }
    dbcn_write(b"tessera-guest: sbi debug console ok\n")?;
    for &byte in b"tessera-guest: sbi legacy console ok\n" {
        if sbi(EID_LEGACY_PUTCHAR, 0, u64::from(byte), 0, 0).0 != 0 {
            return Err("sbi legacy console: console_putchar failed");
        }
    }
    // No VM has 1000 harts: a base of 1000 names none that exist. (The specification
    // refuses mask bits naming absent harts too; OpenSBI, which this guest also runs
    // on natively, ignores those, so only the base is checked here.)
    let refused = [
        sbi(EID_IPI, 0, 1, 1000, 0).0,
        sbi(EID_RFENCE, 0, 1, 1000, 0).0,
        sbi(EID_RFENCE, 1, 1, 1000, 0).0,
    ];
    if refused.iter().any(|&error| error != INVALID_PARAM) {
        return Err("sbi hart masks: a mask naming no hart was not refused with INVALID_PARAM");
    }
    b"tessera-guest: sbi hart masks ok\n"
        .iter()
        .for_each(|&byte| putc(byte));
    Ok(())
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
    let (_, version) = sbi(EID_BASE, 0, 0, 0, 0);
    ((version >> 24) as u32 & 0x7f, version as u32 & 0xff_ffff)
}

/// SBI system reset: cold reboot of this VM; never returns.
pub fn reset() -> ! {
    sbi(0x5352_5354, 0, 1, 0, 0);
    park()
}

/// SBI system reset: shutdown; never returns.
pub fn power_off() -> ! {
    sbi(0x5352_5354, 0, 0, 0, 0);
    park()
}

fn park() -> ! {
    loop {
        // SAFETY: waits for an interrupt that never comes.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}
