//! x86_64: entry in 64-bit mode as the Linux boot protocol's 64-bit entry leaves a
//! kernel (`rsi` = the zero page, paging on with an identity map), or as a multiboot
//! kernel (its header in `.text.boot`, a 32-bit entry that builds an identity map of
//! the low 1 GiB and enters long mode itself, `ebx` = the multiboot information);
//! COM1 on I/O ports, Tessera's VMMCALL hypercalls, and the PC's power-off and reset
//! ports.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU32, Ordering};

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

// The multiboot header (flags: address fields, so the loader needs no ELF) and the
// 32-bit entry: identity map of the low 1 GiB in 2 MiB pages, PAE, EFER.LME, paging,
// a 64-bit GDT, then the 64-bit entry with rdi = eax (the loader's magic) and rsi =
// ebx (the information block). The loader has zeroed the BSS (bss_end_addr).
global_asm!(
    r#"
    .section .text.boot, "ax"
    .code32
    .balign 4
guest_multiboot_header:
    .long 0x1badb002
    .long 0x00010000
    .long -(0x1badb002 + 0x00010000)
    .long guest_multiboot_header
    .long __image_start
    .long 0
    .long __bss_end
    .long guest_multiboot_entry
guest_multiboot_entry:
    cli
    cld
    movl %eax, %edi
    movl %ebx, %esi
    movl $GUEST_PDPT, %eax
    orl $3, %eax
    movl %eax, GUEST_PML4
    movl $GUEST_PD, %eax
    orl $3, %eax
    movl %eax, GUEST_PDPT
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, GUEST_PD(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jb 1b
    movl $GUEST_PML4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    lgdt guest_gdt64_pointer
    ljmpl $0x08, $guest_multiboot_64
    .balign 8
guest_gdt64:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
guest_gdt64_pointer:
    .word guest_gdt64_pointer - guest_gdt64 - 1
    .long guest_gdt64
    .code64
guest_multiboot_64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %edi, %edi
    movl %esi, %esi
    leaq GUEST_STACK + {stack}(%rip), %rsp
    call {main}
2:  hlt
    jmp 2b
"#,
    stack = const STACK_SIZE,
    main = sym entry_multiboot,
    options(att_syntax),
);

const STACK_SIZE: usize = 64 * 1024;

/// One page-table page.
#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The multiboot entry's identity map: PML4, PDPT, one page directory of 2 MiB pages.
#[unsafe(no_mangle)]
static mut GUEST_PML4: Table = Table([0; 512]);
#[unsafe(no_mangle)]
static mut GUEST_PDPT: Table = Table([0; 512]);
#[unsafe(no_mangle)]
static mut GUEST_PD: Table = Table([0; 512]);

/// What a multiboot loader left in `eax`; 0 when entered through the Linux protocol.
static MULTIBOOT_MAGIC: AtomicU32 = AtomicU32::new(0);

/// The loader's magic when this program was entered as a multiboot kernel.
pub fn multiboot_magic() -> Option<u32> {
    Some(MULTIBOOT_MAGIC.load(Ordering::Relaxed)).filter(|&magic| magic != 0)
}

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

#[unsafe(no_mangle)]
static mut GUEST_STACK: Stack = Stack([0; STACK_SIZE]);

extern "C" fn entry(zero_page: usize) -> ! {
    super::super::guest_main(zero_page)
}

extern "C" fn entry_multiboot(magic: u32, info: usize) -> ! {
    // A zero magic would read as "not multiboot": keep it visible as a wrong one.
    MULTIBOOT_MAGIC.store(magic.max(1), Ordering::Relaxed);
    super::super::guest_main(info)
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

/// The time-stamp counter.
pub fn counter() -> u64 {
    // SAFETY: RDTSC only reads the counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// PIT channel 2's counter, the PIT's control word port and the PC/AT system control
/// port B (bit 0 gates channel 2, bit 1 drives the speaker, bit 5 is channel 2's
/// output).
const PIT_CHANNEL2: u16 = 0x42;
const PIT_CONTROL: u16 = 0x43;
const PORT_B: u16 = 0x61;
/// Control word: channel 2, low then high byte, mode 0 (output rises at terminal count).
const PIT_CHANNEL2_ONE_SHOT: u8 = 0b1011_0000;
/// The PIT's input clock, fixed on every PC.
const PIT_HZ: u64 = 1_193_182;
/// PIT ticks the counter is measured over (10 ms).
const CALIBRATION_TICKS: u16 = 11_932;

/// The time-stamp counter's frequency, measured against PIT channel 2 (the CPU does
/// not state it): the TSC ticks while the channel counts [`CALIBRATION_TICKS`] down.
pub fn counter_frequency() -> Option<u64> {
    let port_b = inb(PORT_B);
    outb(PORT_B, (port_b & !0b10) | 0b1);
    outb(PIT_CONTROL, PIT_CHANNEL2_ONE_SHOT);
    let [low, high] = CALIBRATION_TICKS.to_le_bytes();
    outb(PIT_CHANNEL2, low);
    outb(PIT_CHANNEL2, high);
    let start = counter();
    while inb(PORT_B) & (1 << 5) == 0 {}
    let ticks = counter().wrapping_sub(start);
    outb(PORT_B, port_b);
    Some(ticks * PIT_HZ / u64::from(CALIBRATION_TICKS)).filter(|&hz| hz != 0)
}

/// Reads COM1's line status register (an emulated device register under Tessera).
pub fn read_console_status() -> u32 {
    u32::from(inb(COM1_LSR))
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

/// CPUID leaf 0's highest standard leaf.
pub fn cpuid_max_leaf() -> u32 {
    core::arch::x86_64::__cpuid(0).eax
}

/// Whether Tessera runs this program: its signature in CPUID leaf 0x4000_0000
/// (natively there is no VMMCALL interface; QEMU sets the "hypervisor" bit of leaf 1
/// even without one).
pub fn under_tessera() -> bool {
    let leaf = core::arch::x86_64::__cpuid(0x4000_0000);
    [leaf.ebx, leaf.ecx, leaf.edx] == [*b"Tess", *b"eraH", *b"V\0\0\0"].map(u32::from_le_bytes)
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
