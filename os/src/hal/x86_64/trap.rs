//! The interrupt descriptor table: exceptions in the hypervisor (a bug: reported,
//! CPU stopped) and the device and IPI vectors, whose handlers only note the
//! interrupt for the hypervisor and end it. Interrupts are taken only inside
//! [`super::cpu::wait_for_interrupt`] and [`super::cpu::take_pending_interrupts`].

use super::apic::{self, KICK_VECTOR, SPURIOUS_VECTOR, TIMER_VECTOR, UART_VECTOR};
use super::cpu::{self, PENDING_KICK, PENDING_UART};
use core::arch::global_asm;

/// What the common stub leaves on the stack: caller-saved registers, then the
/// vector, the error code and the CPU's interrupt frame.
#[repr(C)]
struct TrapFrame {
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rax: u64,
    vector: u64,
    error: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

/// 256 gates of 16 bytes.
#[repr(C, align(16))]
struct Idt([u64; 512]);

static mut IDT: Idt = Idt([0; 512]);

/// The operand of LIDT.
#[repr(C, packed)]
struct IdtPointer {
    limit: u16,
    base: u64,
}

unsafe extern "C" {
    /// Addresses of the entry stubs, in the order of [`VECTORS`].
    static tessera_x86_stubs: [u64; 36];
}

/// The vectors with a stub: the 32 exceptions, then the device and IPI vectors.
const VECTORS: [u8; 36] = {
    let mut v = [0u8; 36];
    let mut i = 0;
    while i < 32 {
        v[i] = i as u8;
        i += 1;
    }
    v[32] = UART_VECTOR;
    v[33] = KICK_VECTOR;
    v[34] = SPURIOUS_VECTOR;
    v[35] = TIMER_VECTOR;
    v
};

/// Type and attributes of a present 64-bit interrupt gate at privilege 0.
const INTERRUPT_GATE: u64 = 0x8e;
/// The hypervisor's code segment selector.
const KERNEL_CS: u64 = 0x08;

/// Fills the table; called once, on the boot CPU, before any CPU loads it.
pub fn fill() {
    let idt = core::ptr::addr_of_mut!(IDT);
    // SAFETY: the stub table has one entry per vector, filled by the linker.
    let stubs = unsafe { &*core::ptr::addr_of!(tessera_x86_stubs) };
    for (&stub, &vector) in stubs.iter().zip(VECTORS.iter()) {
        let low = (stub & 0xffff)
            | (KERNEL_CS << 16)
            | (INTERRUPT_GATE << 40)
            | (((stub >> 16) & 0xffff) << 48);
        let slot = 2 * usize::from(vector);
        // SAFETY: the boot CPU fills the table before any other CPU loads it.
        unsafe {
            (*idt).0[slot] = low;
            (*idt).0[slot + 1] = stub >> 32;
        }
    }
}

/// Loads the table on this CPU.
pub fn load() {
    let idt = core::ptr::addr_of!(IDT);
    let pointer = IdtPointer {
        limit: (core::mem::size_of::<Idt>() - 1) as u16,
        base: idt as u64,
    };
    // SAFETY: the table is filled and lives for the program's life.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack)) };
}

/// Called by the common stub with interrupts masked.
#[unsafe(no_mangle)]
extern "C" fn tessera_x86_trap(frame: &TrapFrame) {
    match frame.vector {
        v if v == u64::from(UART_VECTOR) => {
            cpu::note_interrupt(PENDING_UART);
            apic::end_of_interrupt();
        }
        v if v == u64::from(KICK_VECTOR) => {
            cpu::note_interrupt(PENDING_KICK);
            apic::end_of_interrupt();
        }
        v if v == u64::from(TIMER_VECTOR) => {
            super::timer::fired();
            apic::end_of_interrupt();
        }
        v if v == u64::from(SPURIOUS_VECTOR) => {}
        vector => {
            let cr2: u64;
            // SAFETY: reading CR2 has no side effects.
            unsafe { core::arch::asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack)) };
            crate::println!(
                "tessera: hypervisor exception {vector} (error {:#x}) at rip {:#x}, rsp {:#x}, cr2 {cr2:#x}, rax {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x}",
                frame.error,
                frame.rip,
                frame.rsp,
                frame.rax,
                frame.rcx,
                frame.rdx,
                frame.rsi,
                frame.rdi
            );
            cpu::halt();
        }
    }
}

global_asm!(
    r#"
    .macro tessera_stub vector, error
    .balign 16
tessera_x86_stub_\vector:
    .if \error == 0
    pushq $0
    .endif
    pushq $\vector
    jmp tessera_x86_trap_common
    .endm

    .section .text
    .code64
    tessera_stub 0, 0
    tessera_stub 1, 0
    tessera_stub 2, 0
    tessera_stub 3, 0
    tessera_stub 4, 0
    tessera_stub 5, 0
    tessera_stub 6, 0
    tessera_stub 7, 0
    tessera_stub 8, 1
    tessera_stub 9, 0
    tessera_stub 10, 1
    tessera_stub 11, 1
    tessera_stub 12, 1
    tessera_stub 13, 1
    tessera_stub 14, 1
    tessera_stub 15, 0
    tessera_stub 16, 0
    tessera_stub 17, 1
    tessera_stub 18, 0
    tessera_stub 19, 0
    tessera_stub 20, 0
    tessera_stub 21, 1
    tessera_stub 22, 0
    tessera_stub 23, 0
    tessera_stub 24, 0
    tessera_stub 25, 0
    tessera_stub 26, 0
    tessera_stub 27, 0
    tessera_stub 28, 0
    tessera_stub 29, 1
    tessera_stub 30, 1
    tessera_stub 31, 0
    tessera_stub {uart}, 0
    tessera_stub {kick}, 0
    tessera_stub {spurious}, 0
    tessera_stub {timer}, 0

tessera_x86_trap_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    movq %rsp, %rdi
    cld
    call tessera_x86_trap
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp
    iretq

    .section .rodata
    .balign 8
    .global tessera_x86_stubs
tessera_x86_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,{uart},{kick},{spurious},{timer}
    .quad tessera_x86_stub_\v
    .endr
    .text
    "#,
    uart = const UART_VECTOR,
    kick = const KICK_VECTOR,
    spurious = const SPURIOUS_VECTOR,
    timer = const TIMER_VECTOR,
    options(att_syntax),
);
