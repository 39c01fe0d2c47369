//! The GICv3 virtual CPU interface controls: ICH_* system registers at EL2.

use crate::lr::ListRegister;
use core::arch::asm;

macro_rules! lr_access {
    ($($n:literal),*) => {
        /// Reads ICH_LR<n>_EL2 (0 for a number the CPU does not have).
        pub fn read_lr(n: usize) -> ListRegister {
            let value: u64;
            match n {
                // SAFETY: reading a list register has no side effects.
                $($n => unsafe { asm!(concat!("mrs {}, ich_lr", $n, "_el2"), out(reg) value, options(nomem, nostack)) },)*
                _ => value = 0,
            }
            ListRegister(value)
        }

        /// Writes ICH_LR<n>_EL2 (ignored for a number the CPU does not have).
        pub fn write_lr(n: usize, lr: ListRegister) {
            match n {
                // SAFETY: list registers only affect the virtual CPU interface, which
                // serves the vCPU loaded on this CPU.
                $($n => unsafe { asm!(concat!("msr ich_lr", $n, "_el2, {}"), in(reg) lr.0, options(nomem, nostack)) },)*
                _ => {}
            }
        }
    };
}

lr_access!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

/// Number of list registers this CPU implements (ICH_VTR_EL2.ListRegs + 1).
pub fn lr_count() -> usize {
    let vtr: u64;
    // SAFETY: reading ICH_VTR_EL2 has no side effects.
    unsafe { asm!("mrs {}, ich_vtr_el2", out(reg) vtr, options(nomem, nostack)) };
    (vtr & 0x1f) as usize + 1
}

/// ICH_ELRSR_EL2: one bit per empty list register.
pub fn empty_lrs() -> u64 {
    let empty: u64;
    // SAFETY: reading ICH_ELRSR_EL2 has no side effects.
    unsafe { asm!("mrs {}, ich_elrsr_el2", out(reg) empty, options(nomem, nostack)) };
    empty
}

/// Writes ICH_HCR_EL2.
pub fn write_hcr(hcr: u64) {
    // SAFETY: only the virtual CPU interface of this CPU changes.
    unsafe { asm!("msr ich_hcr_el2, {}", in(reg) hcr, options(nomem, nostack)) };
}

/// Reads ICH_HCR_EL2.
pub fn read_hcr() -> u64 {
    let hcr: u64;
    // SAFETY: reading ICH_HCR_EL2 has no side effects.
    unsafe { asm!("mrs {}, ich_hcr_el2", out(reg) hcr, options(nomem, nostack)) };
    hcr
}

/// ICH_VMCR_EL2 and the active-priority registers ICH_AP0R0_EL2 and ICH_AP1R0_EL2.
pub fn read_control() -> [u64; 3] {
    let (vmcr, ap0, ap1): (u64, u64, u64);
    // SAFETY: reading these registers has no side effects.
    unsafe {
        asm!(
            "mrs {vmcr}, ich_vmcr_el2",
            "mrs {ap0}, ich_ap0r0_el2",
            "mrs {ap1}, ich_ap1r0_el2",
            vmcr = out(reg) vmcr,
            ap0 = out(reg) ap0,
            ap1 = out(reg) ap1,
            options(nomem, nostack),
        );
    }
    [vmcr, ap0, ap1]
}

/// Writes what [`read_control`] read.
pub fn write_control([vmcr, ap0, ap1]: [u64; 3]) {
    // SAFETY: these registers only affect the virtual CPU interface of this CPU,
    // which now serves the vCPU they were saved from.
    unsafe {
        asm!(
            "msr ich_vmcr_el2, {vmcr}",
            "msr ich_ap0r0_el2, {ap0}",
            "msr ich_ap1r0_el2, {ap1}",
            vmcr = in(reg) vmcr,
            ap0 = in(reg) ap0,
            ap1 = in(reg) ap1,
            options(nomem, nostack),
        );
    }
}
