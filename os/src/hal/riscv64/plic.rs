//! The platform PLIC: each hart's S-mode context (context 2 * hart + 1 on QEMU
//! `virt`) takes the device interrupts routed to that hart.

use crate::platform::PLIC_BASE;

/// Register blocks: priorities, enables per context, threshold/claim per context.
const PRIORITY: usize = 0x0;
const ENABLE: usize = 0x2000;
const ENABLE_STRIDE: usize = 0x80;
const CONTEXT: usize = 0x20_0000;
const CONTEXT_STRIDE: usize = 0x1000;
const CLAIM: usize = 4;

fn reg(offset: usize) -> *mut u32 {
    (PLIC_BASE as usize + offset) as *mut u32
}

fn read(offset: usize) -> u32 {
    // SAFETY: PLIC_BASE is the platform's PLIC, identity-mapped; offsets come from
    // this module's layout.
    unsafe { core::ptr::read_volatile(reg(offset)) }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile(reg(offset), value) }
}

/// The S-mode context of CPU (hart) `cpu`.
fn context(cpu: usize) -> usize {
    2 * cpu + 1
}

/// Lets every priority through on CPU `cpu`'s context.
pub fn init_context(cpu: usize) {
    write(CONTEXT + context(cpu) * CONTEXT_STRIDE, 0);
}

/// Gives interrupt source `irq` priority 1 and routes it to CPU `cpu` only.
pub fn enable(irq: u32, cpu: usize) {
    let irq = irq as usize;
    write(PRIORITY + irq * 4, 1);
    for other in 0..crate::platform::CPU_COUNT {
        let word = ENABLE + context(other) * ENABLE_STRIDE + (irq / 32) * 4;
        let bit = 1 << (irq % 32);
        let value = read(word);
        write(
            word,
            if other == cpu {
                value | bit
            } else {
                value & !bit
            },
        );
    }
}

/// Stops interrupt source `irq` everywhere.
pub fn disable(irq: u32) {
    let irq = irq as usize;
    write(PRIORITY + irq * 4, 0);
    for cpu in 0..crate::platform::CPU_COUNT {
        let word = ENABLE + context(cpu) * ENABLE_STRIDE + (irq / 32) * 4;
        write(word, read(word) & !(1 << (irq % 32)));
    }
}

/// Claims the highest-priority pending interrupt of this CPU, if any.
pub fn claim() -> Option<u32> {
    let cpu = super::cpu_index();
    let irq = read(CONTEXT + context(cpu) * CONTEXT_STRIDE + CLAIM);
    (irq != 0).then_some(irq)
}

/// Completes a claimed interrupt: the source may interrupt again.
pub fn complete(irq: u32) {
    let cpu = super::cpu_index();
    write(CONTEXT + context(cpu) * CONTEXT_STRIDE + CLAIM, irq);
}
