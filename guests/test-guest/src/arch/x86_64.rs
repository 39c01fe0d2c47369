//! x86_64: entry in 64-bit mode as the Linux boot protocol's 64-bit entry leaves a
//! kernel (`rsi` = the zero page, paging on with an identity map), COM1 on I/O
//! ports, Tessera's VMMCALL hypercalls, and the PC's power-off and reset ports.

use core::arch::{asm, global_asm};

/// COM1's transmit holding register and line status register.
const COM1_THR: u16 = 0x3f8;
const COM1_LSR: u16 = 0x3fd;
/// PM1a control register of the chipset's ACPI block, and the value that enters S5.
const PM1A_CONTROL: u16 = 0x604;
const SLEEP_S5: u16 = 1 << 13;
/// The reset control register, and the value of a hard reset.
const RESET_CONTROL: u16 = 0xcf9;
const RESET_HARD: u8 = 0x06;
/// What the privilege check calls the level a guest kernel runs at.
pub const PRIVILEGE_NAME: &str = "ring 0";
/// What the firmware check calls the firmware interface.
pub const FIRMWARE_NAME: &str = "vmmcall";

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    cli
    cld
    mov     r12, rsi
    lea     rdi, [rip + __bss_start]
    lea     rcx, [rip + __bss_end]
    sub     rcx, rdi
    shr     rcx, 3
    xor     eax, eax
    rep stosq
    lea     rsp, [rip + GUEST_STACK + {stack}]
    mov     rdi, r12
    call    {main}
2:  hlt
    jmp     2b
"#,
    stack = const STACK_SIZE,
    main = sym entry,
);

const STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

#[unsafe(no_mangle)]
static mut GUEST_STACK: Stack = Stack([0; STACK_SIZE]);

extern "C" fn entry(zero_page: usize) -> ! {
    super::super::guest_main(zero_page)
}

fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: a port read of the VM's PC devices; no memory is touched.
    unsafe { asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack)) };
    value
}

fn outb(port: u16, value: u8) {
    // SAFETY: a port write to the VM's PC devices; no memory is touched.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack)) };
}

/// Writes one byte to COM1.
pub fn putc(byte: u8) {
    if byte == b'\n' {
        putc(b'\r');
    }
    while inb(COM1_LSR) & (1 << 5) == 0 {}
    outb(COM1_THR, byte);
}

/// Whether this program runs in ring 0: the low bits of CS are the current
/// privilege level.
pub fn runs_at_kernel_level() -> bool {
    let cs: u64;
    // SAFETY: reading CS has no side effects.
    unsafe { asm!("mov {:r}, cs", out(reg) cs, options(nomem, nostack)) };
    cs & 3 == 0
}

/// Tessera's hypercall interface version as (major, minor): VMMCALL with RAX = 0.
pub fn firmware_version() -> (u32, u32) {
    let mut rax: u64 = 0;
    // SAFETY: VMMCALL traps to the hypervisor, which answers in RAX only.
    unsafe { asm!("vmmcall", inout("rax") rax, options(nomem, nostack)) };
    ((rax >> 16) as u32 & 0xffff, rax as u32 & 0xffff)
}

/// Resets the VM through the reset control register; never returns.
pub fn reset() -> ! {
    outb(RESET_CONTROL, RESET_HARD);
    park()
}

/// Powers the VM off through the ACPI PM1a control register (S5); never returns.
pub fn power_off() -> ! {
    // SAFETY: a port write to the VM's power register.
    unsafe {
        asm!("out dx, ax", in("dx") PM1A_CONTROL, in("ax") SLEEP_S5, options(nomem, nostack))
    };
    park()
}

fn park() -> ! {
    loop {
        // SAFETY: interrupts are off; HLT waits for good.
        unsafe { asm!("hlt", options(nomem, nostack)) };
    }
}
