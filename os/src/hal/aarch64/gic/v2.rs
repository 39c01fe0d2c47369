//! The GICv2 driver (GIC-400 and kin, Arm IHI 0048B): the distributor once, then each
//! CPU's banked private interrupts and its memory-mapped CPU interface (GICC).
//!
//! Every interrupt stays in the group it has at reset (Group 0 on a GIC without the
//! Security Extensions, where the hypervisor owns the whole GIC; the firmware's choice,
//! Group 1, in the Non-secure view of one with them, where group registers read as
//! zero and ignore writes), and bit 0 of GICD_CTLR and GICC_CTLR enables exactly that
//! group in both views. Bit 9 of GICC_CTLR is EOImode in both views too.
//!
//! SPIs go to a CPU through ITARGETSR, whose bits name CPU interfaces, not CPU
//! indices: each CPU reads its own interface's bit from the banked ITARGETSR0 once.

use super::{FIRST_SPECIAL_INTID, KICK_SGI, PRIVATE, read, set_priority, write};
use crate::platform::CPU_COUNT;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering};

/// GICD_CTLR: bit 0 enables forwarding (see the module comment).
const GICD_CTLR: usize = 0x000;
const GICD_ISENABLER: usize = 0x100;
const GICD_IPRIORITYR: usize = 0x400;
const GICD_ITARGETSR: usize = 0x800;
/// GICD_SGIR: TargetListFilter [25:24], CPUTargetList [23:16], SGIINTID [3:0].
const GICD_SGIR: usize = 0xf00;
const SGIR_FILTER_OTHERS: u32 = 1 << 24;
/// GICC registers.
const GICC_CTLR: usize = 0x0000;
const GICC_PMR: usize = 0x0004;
const GICC_IAR: usize = 0x000c;
const GICC_EOIR: usize = 0x0010;
const GICC_DIR: usize = 0x1000;
/// GICC_CTLR: enable (bit 0) and EOImode (bit 9).
const GICC_CTLR_ENABLE_EOIMODE: u32 = 1 | (1 << 9);
/// GICC_IAR.InterruptID [9:0]; CPUID [12:10] names an SGI's sender.
const IAR_INTID: u32 = 0x3ff;
/// Highest SGI INTID.
const LAST_SGI: u32 = 15;

/// The CPU interface (GICC) window; every CPU sees its own there.
static GICC: AtomicUsize = AtomicUsize::new(0);
/// By CPU: its CPU interface's bit in ITARGETSR and GICD_SGIR target lists.
static INTERFACE_BIT: [AtomicU8; CPU_COUNT] = [const { AtomicU8::new(0) }; CPU_COUNT];
/// By CPU: the GICC_IAR value of the SGI it acknowledged last, whose sender's CPUID
/// the end and the deactivation of that SGI must repeat.
static LAST_SGI_IAR: [AtomicU32; CPU_COUNT] = [const { AtomicU32::new(0) }; CPU_COUNT];

/// Enables the distributor at `gicd`.
pub fn init_distributor(gicd: usize) {
    write(gicd + GICD_CTLR, 1);
}

/// CPU `cpu`'s interface bit; until that CPU has read it, the usual one-to-one
/// numbering.
fn interface_bit(cpu: usize) -> u8 {
    INTERFACE_BIT
        .get(cpu)
        .map(|bit| bit.load(Ordering::Relaxed))
        .filter(|&bit| bit != 0)
        .unwrap_or(1u8.wrapping_shl(cpu as u32))
}

/// Routes shared peripheral interrupt `intid` to CPU `cpu` and enables it.
pub fn enable_spi(gicd: usize, intid: u32, cpu: usize) {
    let n = intid as usize;
    set_priority(gicd + GICD_IPRIORITYR, intid);
    let word = gicd + GICD_ITARGETSR + (n & !3);
    let shift = (intid % 4) * 8;
    let target = u32::from(interface_bit(cpu));
    write(word, (read(word) & !(0xff << shift)) | (target << shift));
    write(gicd + GICD_ISENABLER + (n / 32) * 4, 1 << (intid % 32));
}

/// Learns CPU `cpu`'s interface bit, enables the private interrupts the hypervisor
/// takes (banked in the distributor) and turns on this CPU's interface.
pub fn init_cpu(gicd: usize, gicc: usize, cpu: usize) {
    GICC.store(gicc, Ordering::Relaxed);
    if let Some(bit) = INTERFACE_BIT.get(cpu) {
        // ITARGETSR0-7 read as this CPU's own interface bit for each SGI and PPI.
        bit.store(read(gicd + GICD_ITARGETSR) as u8, Ordering::Relaxed);
    }
    for intid in PRIVATE {
        set_priority(gicd + GICD_IPRIORITYR, intid);
    }
    write(
        gicd + GICD_ISENABLER,
        PRIVATE.iter().fold(0, |bits, intid| bits | (1 << intid)),
    );
    write(gicc + GICC_PMR, 0xff);
    write(gicc + GICC_CTLR, GICC_CTLR_ENABLE_EOIMODE);
}

fn gicc() -> usize {
    GICC.load(Ordering::Relaxed)
}

/// The value that ends `intid`: for an SGI, the one acknowledged with its sender.
fn end_value(intid: u32) -> u32 {
    match LAST_SGI_IAR.get(crate::hal::cpu_index()) {
        Some(iar) if intid <= LAST_SGI => iar.load(Ordering::Relaxed),
        _ => intid,
    }
}

/// Acknowledges the highest-priority pending interrupt of this CPU, if any.
pub fn acknowledge() -> Option<u32> {
    let iar = read(gicc() + GICC_IAR);
    let intid = iar & IAR_INTID;
    if intid <= LAST_SGI
        && let Some(last) = LAST_SGI_IAR.get(crate::hal::cpu_index())
    {
        last.store(iar, Ordering::Relaxed);
    }
    (intid < FIRST_SPECIAL_INTID).then_some(intid)
}

/// Drops the running priority of an acknowledged interrupt (it stays active).
pub fn end_of_interrupt(intid: u32) {
    write(gicc() + GICC_EOIR, end_value(intid));
}

/// Deactivates an interrupt whose priority was dropped.
pub fn deactivate(intid: u32) {
    write(gicc() + GICC_DIR, end_value(intid));
}

/// Sends the kick SGI to CPU `target`, or to every other CPU when `target` is `None`.
pub fn kick(gicd: usize, target: Option<usize>) {
    let value = match target {
        None => SGIR_FILTER_OTHERS,
        Some(cpu) => u32::from(interface_bit(cpu)) << 16,
    } | KICK_SGI;
    // SAFETY: DSB makes this CPU's writes visible before the SGI is generated.
    unsafe { core::arch::asm!("dsb ish", options(nostack, preserves_flags)) };
    write(gicd + GICD_SGIR, value);
}
