//! x86_64 interrupts for the benchmarks and the APIC check: an IDT, the local APIC
//! in xAPIC mode (its page reached through this program's own identity map of the
//! low 4 GiB), its one-shot timer and IPIs, and a second CPU started with INIT and
//! STARTUP at a real-mode trampoline that enters long mode on the same page tables.

use crate::irq::{self, Event};
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// "Event" tags of the IPI round trip: each has its own vector.
pub const SGI_PING: u32 = 1;
/// See [`SGI_PING`].
pub const SGI_PONG: u32 = 2;
/// Vectors: the APIC timer, the round trip's two IPIs, the APIC check's self IPI,
/// and the APIC's spurious vector.
const TIMER_VECTOR: u8 = 0x40;
const PING_VECTOR: u8 = 0x41;
const PONG_VECTOR: u8 = 0x42;
const CHECK_VECTOR: u8 = 0x43;
const SPURIOUS_VECTOR: u8 = 0xff;
/// The xAPIC page and its registers.
const APIC: u64 = 0xfee0_0000;
const TPR: u64 = 0x80;
const EOI: u64 = 0xb0;
const SVR: u64 = 0xf0;
const ICR_LOW: u64 = 0x300;
const ICR_HIGH: u64 = 0x310;
const LVT_TIMER: u64 = 0x320;
const TIMER_INITIAL: u64 = 0x380;
const TIMER_CURRENT: u64 = 0x390;
const TIMER_DIVIDE: u64 = 0x3e0;
/// SVR: software enable.
const SVR_ENABLE: u32 = 1 << 8;
/// LVT: masked.
const LVT_MASKED: u32 = 1 << 16;
/// Divide configuration: divide by 1.
const DIVIDE_BY_1: u32 = 0b1011;
/// ICR shorthand 01: self.
const ICR_SELF: u32 = 1 << 18;
/// TSC ticks the APIC timer's rate is measured over.
const CALIBRATION_TSC_TICKS: u64 = 1_000_000;
/// ICR: INIT (assert) and STARTUP delivery modes.
const ICR_INIT: u32 = 0x4500;
const ICR_STARTUP: u32 = 0x4600;
/// Where the trampoline is copied for the second CPU: page 8, below 1 MiB as a
/// STARTUP vector needs (free RAM both natively and under Tessera).
const TRAMPOLINE: u64 = 0x8000;

/// APIC timer ticks per [`CALIBRATION_TSC_TICKS`] TSC ticks (0 until measured).
static APIC_TICKS_PER_WINDOW: AtomicU64 = AtomicU64::new(0);
/// Self IPIs of the APIC check taken.
static CHECK_IPIS: AtomicU64 = AtomicU64::new(0);
/// The identity map and the IDT are built (by the first CPU; the second only loads
/// them).
static TABLES_BUILT: AtomicBool = AtomicBool::new(false);

// The second CPU's way from its STARTUP (real mode at TRAMPOLINE) to 64-bit code:
// protected mode on the trampoline's GDT, PAE with the first CPU's page tables,
// long mode, then the first CPU's GDT and code segment (the IDT's gates name it),
// its stack, and `call` of its entry. Copied to TRAMPOLINE, so every address in it
// is TRAMPOLINE + its offset; the first CPU fills in the fields at its end.
global_asm!(
    r#"
    .section .text
    .code16
    .global tessera_guest_ap_start
tessera_guest_ap_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl (tessera_guest_ap_gdt_pointer - tessera_guest_ap_start + {at})
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(tessera_guest_ap_32 - tessera_guest_ap_start + {at})
    .code32
tessera_guest_ap_32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl (tessera_guest_ap_cr3 - tessera_guest_ap_start + {at}), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax
    movl %eax, %cr0
    ljmpl $0x18, $(tessera_guest_ap_64 - tessera_guest_ap_start + {at})
    .code64
tessera_guest_ap_64:
    lgdt (tessera_guest_ap_host_gdt - tessera_guest_ap_start + {at})
    xorl %eax, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq (tessera_guest_ap_stack - tessera_guest_ap_start + {at}), %rsp
    movzwq (tessera_guest_ap_cs - tessera_guest_ap_start + {at}), %rax
    pushq %rax
    movabsq $tessera_guest_ap_far, %rax
    pushq %rax
    lretq
tessera_guest_ap_far:
    movq (tessera_guest_ap_entry - tessera_guest_ap_start + {at}), %rax
    callq *%rax
    .balign 8
tessera_guest_ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00af9a000000ffff
tessera_guest_ap_gdt_pointer:
    .word 31
    .long tessera_guest_ap_gdt - tessera_guest_ap_start + {at}
    .balign 8
    .global tessera_guest_ap_cr3
tessera_guest_ap_cr3: .quad 0
    .global tessera_guest_ap_stack
tessera_guest_ap_stack: .quad 0
    .global tessera_guest_ap_entry
tessera_guest_ap_entry: .quad 0
    .global tessera_guest_ap_cs
tessera_guest_ap_cs: .quad 0
    .global tessera_guest_ap_host_gdt
tessera_guest_ap_host_gdt: .quad 0, 0
    .global tessera_guest_ap_end
tessera_guest_ap_end:
"#,
    at = const TRAMPOLINE,
    options(att_syntax),
);

// One entry stub per vector taken: the caller-saved registers around a call of
// `interrupt_entry(vector)` (RSP is 16-byte aligned there: the CPU aligns it before
// pushing its 40-byte frame, and the stub pushes 9 registers), then IRETQ. One stub
// for every exception: it reports and powers off.
global_asm!(
    r#"
    .section .text
    .macro tessera_guest_vector name, vector
    .global \name
\name:
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    mov edi, \vector
    call {handler}
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    iretq
    .endm
    tessera_guest_vector tessera_guest_timer, 0x40
    tessera_guest_vector tessera_guest_ping, 0x41
    tessera_guest_vector tessera_guest_pong, 0x42
    tessera_guest_vector tessera_guest_check, 0x43
    tessera_guest_vector tessera_guest_spurious, 0xff
    .global tessera_guest_exception
tessera_guest_exception:
    and rsp, -16
    call {fault}
"#,
    handler = sym interrupt_entry,
    fault = sym exception_entry,
);

unsafe extern "C" {
    static tessera_guest_ap_start: u8;
    static tessera_guest_ap_cr3: u8;
    static tessera_guest_ap_stack: u8;
    static tessera_guest_ap_entry: u8;
    static tessera_guest_ap_cs: u8;
    static tessera_guest_ap_host_gdt: u8;
    static tessera_guest_ap_end: u8;
    fn tessera_guest_timer();
    fn tessera_guest_ping();
    fn tessera_guest_pong();
    fn tessera_guest_check();
    fn tessera_guest_spurious();
    fn tessera_guest_exception();
}

/// One page-table page.
#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The identity map of the low 4 GiB in 2 MiB pages: PML4, PDPT, four directories.
static mut MAP_PML4: Table = Table([0; 512]);
static mut MAP_PDPT: Table = Table([0; 512]);
static mut MAP_PDS: [Table; 4] = [const { Table([0; 512]) }; 4];

/// The interrupt descriptor table: 256 gates of 16 bytes.
#[repr(C, align(16))]
struct Idt([u64; 512]);

static mut IDT: Idt = Idt([0; 512]);

/// Page-table entry bits: present, writable, 2 MiB page, cache disable and write
/// through (the APIC's page is device memory).
const PRESENT_WRITABLE: u64 = 0b11;
const HUGE: u64 = 1 << 7;
const UNCACHED: u64 = (1 << 3) | (1 << 4);

/// Builds the identity map of the low 4 GiB (the APIC's 2 MiB uncached) and
/// switches to it: the boot protocols map less (multiboot's entry 1 GiB, Tessera's
/// boot block the RAM).
fn map_low_4gib() {
    // SAFETY: the tables are this program's own, written before CR3 points at them;
    // they map the low 4 GiB one to one, where this program and its data live, so
    // the switch keeps every address it uses.
    unsafe {
        let pds = &mut *core::ptr::addr_of_mut!(MAP_PDS);
        for (gib, pd) in pds.iter_mut().enumerate() {
            for (slot, entry) in pd.0.iter_mut().enumerate() {
                let base = ((gib as u64) << 30) | ((slot as u64) << 21);
                let uncached = if base == APIC & !0x1f_ffff {
                    UNCACHED
                } else {
                    0
                };
                *entry = base | PRESENT_WRITABLE | HUGE | uncached;
            }
            (*core::ptr::addr_of_mut!(MAP_PDPT)).0[gib] =
                pd as *const Table as u64 | PRESENT_WRITABLE;
        }
        let pml4 = &mut *core::ptr::addr_of_mut!(MAP_PML4);
        pml4.0[0] = core::ptr::addr_of!(MAP_PDPT) as u64 | PRESENT_WRITABLE;
        asm!("mov cr3, {}", in(reg) pml4 as *const Table as u64, options(nostack));
    }
}

/// Writes the gate of `vector` to call `handler` (an interrupt gate of the current
/// code segment).
fn set_gate(vector: u8, handler: unsafe extern "C" fn()) {
    let cs: u64;
    // SAFETY: reading CS has no side effects.
    unsafe { asm!("mov {:r}, cs", out(reg) cs, options(nomem, nostack)) };
    let offset = handler as usize as u64;
    let low = (offset & 0xffff)
        | ((cs & 0xffff) << 16)
        | (0x8e << 40)
        | (((offset >> 16) & 0xffff) << 48);
    // SAFETY: the IDT is this program's own; the index is below 512.
    unsafe {
        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        idt.0[usize::from(vector) * 2] = low;
        idt.0[usize::from(vector) * 2 + 1] = offset >> 32;
    }
}

/// Fills the IDT: every exception to the reporting stub, the vectors used here to
/// theirs.
fn install_idt() {
    for vector in 0..32 {
        set_gate(vector, tessera_guest_exception);
    }
    for (vector, handler) in [
        (TIMER_VECTOR, tessera_guest_timer as unsafe extern "C" fn()),
        (PING_VECTOR, tessera_guest_ping),
        (PONG_VECTOR, tessera_guest_pong),
        (CHECK_VECTOR, tessera_guest_check),
        (SPURIOUS_VECTOR, tessera_guest_spurious),
    ] {
        set_gate(vector, handler);
    }
}

/// Loads the IDT on this CPU.
fn load_idt() {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer {
        limit: (512 * 8 - 1) as u16,
        base: core::ptr::addr_of!(IDT) as u64,
    };
    // SAFETY: the IDT is this program's own and every gate in use points at a stub.
    unsafe { asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack)) };
}

fn apic_read(offset: u64) -> u32 {
    // SAFETY: an xAPIC register; the page is mapped uncached by `map_low_4gib`.
    unsafe { core::ptr::read_volatile((APIC + offset) as *const u32) }
}

fn apic_write(offset: u64, value: u32) {
    // SAFETY: as in `apic_read`.
    unsafe { core::ptr::write_volatile((APIC + offset) as *mut u32, value) }
}

/// Identity map and IDT (built once, loaded on each CPU), the APIC software-enabled
/// with its timer masked, and the APIC timer's rate measured against the TSC (once).
pub fn init_cpu() {
    if !TABLES_BUILT.swap(true, Ordering::AcqRel) {
        map_low_4gib();
        install_idt();
    }
    load_idt();
    apic_write(SVR, SVR_ENABLE | u32::from(SPURIOUS_VECTOR));
    apic_write(TPR, 0);
    if APIC_TICKS_PER_WINDOW.load(Ordering::Relaxed) == 0 {
        apic_write(TIMER_DIVIDE, DIVIDE_BY_1);
        apic_write(LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
        apic_write(TIMER_INITIAL, u32::MAX);
        let start = super::counter();
        while super::counter().wrapping_sub(start) < CALIBRATION_TSC_TICKS {}
        let ticks = u32::MAX - apic_read(TIMER_CURRENT);
        apic_write(TIMER_INITIAL, 0);
        APIC_TICKS_PER_WINDOW.store(u64::from(ticks).max(1), Ordering::Relaxed);
    }
}

/// Arms the APIC timer (one-shot) to fire at TSC value `deadline`.
pub fn arm_timer(deadline: u64) {
    let ahead = deadline.saturating_sub(super::counter());
    let ticks = u128::from(ahead) * u128::from(APIC_TICKS_PER_WINDOW.load(Ordering::Relaxed))
        / u128::from(CALIBRATION_TSC_TICKS);
    apic_write(TIMER_DIVIDE, DIVIDE_BY_1);
    apic_write(LVT_TIMER, u32::from(TIMER_VECTOR));
    apic_write(
        TIMER_INITIAL,
        u32::try_from(ticks).unwrap_or(u32::MAX).max(1),
    );
}

/// Sends the round trip's IPI `event` to the CPU with APIC id `target`.
pub fn send_ipi(target: usize, event: u32) {
    let vector = if event == SGI_PING {
        PING_VECTOR
    } else {
        PONG_VECTOR
    };
    apic_write(ICR_HIGH, (target as u32) << 24);
    apic_write(ICR_LOW, u32::from(vector));
}

/// Masks interrupts (RFLAGS.IF).
pub fn mask_interrupts() {
    // SAFETY: only this CPU's interrupt flag changes.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// Unmasks interrupts; a pending one is taken at once.
pub fn unmask_interrupts() {
    // SAFETY: only this CPU's interrupt flag changes.
    unsafe { asm!("sti", options(nomem, nostack)) };
}

/// Waits for an interrupt with interrupts masked on entry and on return: STI's
/// one-instruction shadow keeps an interrupt that is already pending from being
/// taken before HLT starts waiting (a HLT with interrupts off would wait for good).
pub fn wait() {
    // SAFETY: the handlers run on this stack and return; IF is clear again after.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// The address of trampoline symbol `symbol` in the copy at [`TRAMPOLINE`].
fn in_trampoline(symbol: *const u8) -> *mut u64 {
    let start = &raw const tessera_guest_ap_start;
    (TRAMPOLINE + (symbol as u64 - start as u64)) as *mut u64
}

/// Starts the CPU with APIC id 1 (INIT, then STARTUP at the trampoline) on stack
/// `stack_top`; it runs `irq::secondary_main`. Whether the IPIs went out (the caller
/// waits for the CPU to say it runs).
pub fn start_secondary(stack_top: u64) -> bool {
    let cr3: u64;
    let cs: u64;
    let mut gdtr = [0u8; 10];
    // SAFETY: reading CR3, CS and the GDTR has no side effects.
    unsafe {
        asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack));
        asm!("mov {:r}, cs", out(reg) cs, options(nomem, nostack));
        asm!("sgdt [{}]", in(reg) gdtr.as_mut_ptr(), options(nostack));
    }
    // SAFETY: the trampoline's symbols, only their addresses and bytes are used; the
    // copy goes to page 8, RAM this program owns (see TRAMPOLINE), and the second
    // CPU reads it only after the STARTUP below.
    unsafe {
        let start = &raw const tessera_guest_ap_start;
        let len = (&raw const tessera_guest_ap_end) as usize - start as usize;
        core::ptr::copy_nonoverlapping(start, TRAMPOLINE as *mut u8, len);
        in_trampoline(&raw const tessera_guest_ap_cr3).write_volatile(cr3);
        in_trampoline(&raw const tessera_guest_ap_stack).write_volatile(stack_top);
        in_trampoline(&raw const tessera_guest_ap_entry)
            .write_volatile(secondary_entry as *const () as u64);
        in_trampoline(&raw const tessera_guest_ap_cs).write_volatile(cs);
        (in_trampoline(&raw const tessera_guest_ap_host_gdt) as *mut [u8; 10]).write_volatile(gdtr);
    }
    apic_write(ICR_HIGH, 1 << 24);
    apic_write(ICR_LOW, ICR_INIT);
    apic_write(ICR_HIGH, 1 << 24);
    apic_write(ICR_LOW, ICR_STARTUP | (TRAMPOLINE >> 12) as u32);
    true
}

/// The second CPU's first Rust code.
extern "C" fn secondary_entry() -> ! {
    irq::secondary_main()
}

/// The APIC's vectors taken: the timer and the IPIs go to [`irq::on_event`], the
/// check's self IPI is counted; each ends with an EOI (not the spurious vector's).
extern "C" fn interrupt_entry(vector: u64) {
    match vector as u8 {
        TIMER_VECTOR => irq::on_event(Event::Timer),
        PING_VECTOR => irq::on_event(Event::Ping),
        PONG_VECTOR => irq::on_event(Event::Pong),
        CHECK_VECTOR => {
            CHECK_IPIS.fetch_add(1, Ordering::AcqRel);
        }
        _ => return,
    }
    apic_write(EOI, 0);
}

/// An exception this program does not expect: the check fails.
extern "C" fn exception_entry() -> ! {
    use crate::Console;
    use core::fmt::Write;
    crate::say!("tessera-guest: FAILED: an unexpected exception");
    super::power_off()
}

/// The local APIC: its timer interrupt arrives, and a self IPI below the task
/// priority waits until the priority drops, then is taken.
pub fn apic_check() -> Result<(), &'static str> {
    init_cpu();
    irq::timer_latency(1);
    mask_interrupts();
    apic_write(TPR, u32::from(CHECK_VECTOR & 0xf0) + 0x10);
    apic_write(ICR_LOW, ICR_SELF | u32::from(CHECK_VECTOR));
    unmask_interrupts();
    for _ in 0..1000 {
        core::hint::spin_loop();
    }
    if CHECK_IPIS.load(Ordering::Acquire) != 0 {
        return Err("apic: a self IPI below the task priority was taken");
    }
    apic_write(TPR, 0);
    for _ in 0..1000 {
        if CHECK_IPIS.load(Ordering::Acquire) != 0 {
            return Ok(());
        }
        core::hint::spin_loop();
    }
    Err("apic: a self IPI was not taken once the task priority dropped")
}
