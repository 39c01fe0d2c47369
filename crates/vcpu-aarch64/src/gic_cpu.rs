//! The GIC virtual CPU interface of a vCPU: list registers, ICH_VMCR_EL2 and the
//! active-priority registers, moved in and out with the vCPU, and ICH_HCR_EL2.

use crate::lr::{ListRegister, LrState};
use core::arch::asm;

/// Most list registers GICv3 defines.
const MAX_LRS: usize = 16;
/// ICH_HCR_EL2.En: the virtual CPU interface works.
const HCR_EN: u64 = 1;
/// ICH_HCR_EL2.UIE: maintenance interrupt when at most one list register is in use.
const HCR_UIE: u64 = 1 << 1;

macro_rules! lr_access {
    ($($n:literal),*) => {
        /// Reads ICH_LR<n>_EL2 (0 for a number the CPU does not have).
        fn read_lr(n: usize) -> u64 {
            let value: u64;
            match n {
                // SAFETY: reading a list register has no side effects.
                $($n => unsafe { asm!(concat!("mrs {}, ich_lr", $n, "_el2"), out(reg) value, options(nomem, nostack)) },)*
                _ => value = 0,
            }
            value
        }

        /// Writes ICH_LR<n>_EL2 (ignored for a number the CPU does not have).
        fn write_lr(n: usize, value: u64) {
            match n {
                // SAFETY: list registers only affect the virtual CPU interface, which
                // serves the vCPU loaded on this CPU.
                $($n => unsafe { asm!(concat!("msr ich_lr", $n, "_el2, {}"), in(reg) value, options(nomem, nostack)) },)*
                _ => {}
            }
        }
    };
}

lr_access!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

/// Number of list registers this CPU implements (ICH_VTR_EL2.ListRegs + 1).
fn lr_count() -> usize {
    let vtr: u64;
    // SAFETY: reading ICH_VTR_EL2 has no side effects.
    unsafe { asm!("mrs {}, ich_vtr_el2", out(reg) vtr, options(nomem, nostack)) };
    ((vtr & 0x1f) as usize + 1).min(MAX_LRS)
}

/// The saved virtual CPU interface of a vCPU that is not on a CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualCpuInterface {
    lrs: [u64; MAX_LRS],
    vmcr: u64,
    ap0r0: u64,
    ap1r0: u64,
    uie: bool,
}

impl VirtualCpuInterface {
    /// Writes the saved state to this CPU and enables the interface.
    pub fn restore(&self) {
        for (n, &value) in self.lrs.iter().enumerate().take(lr_count()) {
            write_lr(n, value);
        }
        let hcr = HCR_EN | if self.uie { HCR_UIE } else { 0 };
        // SAFETY: these registers only affect the virtual CPU interface of this CPU,
        // which now serves this vCPU.
        unsafe {
            asm!(
                "msr ich_vmcr_el2, {vmcr}",
                "msr ich_ap0r0_el2, {ap0}",
                "msr ich_ap1r0_el2, {ap1}",
                "msr ich_hcr_el2, {hcr}",
                vmcr = in(reg) self.vmcr,
                ap0 = in(reg) self.ap0r0,
                ap1 = in(reg) self.ap1r0,
                hcr = in(reg) hcr,
                options(nomem, nostack),
            );
        }
    }

    /// Reads the state from this CPU, then disables the interface and clears the list
    /// registers so nothing of this vCPU stays live.
    pub fn save(&mut self) {
        for (n, slot) in self.lrs.iter_mut().enumerate().take(lr_count()) {
            *slot = read_lr(n);
            write_lr(n, 0);
        }
        let hcr: u64;
        // SAFETY: reading these registers has no side effects; clearing ICH_HCR_EL2
        // turns the virtual CPU interface off until the next restore.
        unsafe {
            asm!(
                "mrs {vmcr}, ich_vmcr_el2",
                "mrs {ap0}, ich_ap0r0_el2",
                "mrs {ap1}, ich_ap1r0_el2",
                "mrs {hcr}, ich_hcr_el2",
                "msr ich_hcr_el2, xzr",
                vmcr = out(reg) self.vmcr,
                ap0 = out(reg) self.ap0r0,
                ap1 = out(reg) self.ap1r0,
                hcr = out(reg) hcr,
                options(nomem, nostack),
            );
        }
        self.uie = hcr & HCR_UIE != 0;
    }

    /// Whether a saved list register holds `vintid` (in any state).
    pub fn holds(&self, vintid: u32) -> bool {
        self.lrs.iter().any(|&lr| {
            let lr = ListRegister(lr);
            lr.state() != LrState::Invalid && lr.vintid() == vintid
        })
    }

    /// Whether a saved list register holds an interrupt the guest has not taken.
    pub fn has_pending(&self) -> bool {
        self.lrs.iter().any(|&lr| {
            matches!(
                ListRegister(lr).state(),
                LrState::Pending | LrState::PendingActive
            )
        })
    }
}

/// What [`inject`] did with an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// It went into a free list register.
    Queued,
    /// A list register already held it; it is pending there now.
    Merged,
    /// Every list register is in use.
    Full,
}

/// The list registers of this CPU that hold an interrupt, as a bit mask: the
/// hardware's empty-LR status (ICH_ELRSR_EL2) inverted, so only those are read.
/// (Tessera never sets an LR's EOI bit, so an empty LR is exactly an invalid one.)
fn used_lrs() -> u64 {
    let empty: u64;
    // SAFETY: reading ICH_ELRSR_EL2 has no side effects.
    unsafe { asm!("mrs {}, ich_elrsr_el2", out(reg) empty, options(nomem, nostack)) };
    !empty & implemented_lrs()
}

/// One bit per list register this CPU implements.
fn implemented_lrs() -> u64 {
    (1u64 << lr_count()) - 1
}

/// The list register numbers of the set bits of `mask`, ascending.
fn lrs_in(mut mask: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        let n = mask.trailing_zeros() as usize;
        (mask != 0).then(|| {
            mask &= mask - 1;
            n
        })
    })
}

/// Hands a virtual interrupt to the live virtual CPU interface of this CPU.
pub fn inject(vintid: u32, priority: u8, physical: Option<u32>) -> Injection {
    let used = used_lrs();
    for n in lrs_in(used) {
        let lr = ListRegister(read_lr(n));
        if lr.vintid() == vintid && lr.absorbs_raise() {
            if let Some(again) = lr.with_pending_again() {
                write_lr(n, again.0);
            }
            return Injection::Merged;
        }
    }
    match lrs_in(!used & implemented_lrs()).next() {
        Some(n) => {
            write_lr(n, ListRegister::pending(vintid, priority, physical).0);
            Injection::Queued
        }
        None => Injection::Full,
    }
}

/// vINTIDs held in the live list registers in a state that cannot take another raise
/// (pending already, or a hardware-linked interrupt that is active).
pub fn busy_intids(out: &mut [u32; MAX_LRS]) -> usize {
    let mut found = 0;
    for n in lrs_in(used_lrs()) {
        let lr = ListRegister(read_lr(n));
        if lr.state() != LrState::Invalid
            && !lr.absorbs_raise()
            && let Some(slot) = out.get_mut(found)
        {
            *slot = lr.vintid();
            found += 1;
        }
    }
    found
}

/// Whether a live list register of this CPU holds `vintid` (in any state).
pub fn in_list_registers(vintid: u32) -> bool {
    lrs_in(used_lrs()).any(|n| {
        let lr = ListRegister(read_lr(n));
        lr.state() != LrState::Invalid && lr.vintid() == vintid
    })
}

/// Whether a live list register holds an interrupt waiting for the guest.
pub fn has_pending() -> bool {
    lrs_in(used_lrs()).any(|n| {
        matches!(
            ListRegister(read_lr(n)).state(),
            LrState::Pending | LrState::PendingActive
        )
    })
}

/// Asks for (or stops asking for) a maintenance interrupt once the list registers
/// drain, when interrupts are waiting that did not fit.
pub fn notify_on_underflow(on: bool) {
    let hcr = HCR_EN | if on { HCR_UIE } else { 0 };
    // SAFETY: only the virtual CPU interface of this CPU changes.
    unsafe { asm!("msr ich_hcr_el2, {}", in(reg) hcr, options(nomem, nostack)) };
}

/// Size of the buffer [`busy_intids`] fills.
pub const LR_BUFFER: usize = MAX_LRS;
