//! The GICv2 virtual CPU interface controls: the memory-mapped hypervisor interface
//! GICH (Arm IHI 0048B, chapter 5), each CPU's own at the same address. Without the
//! virtualization extensions there is none: no list registers, nothing to switch.

use crate::lr::ListRegister;
use core::sync::atomic::{AtomicUsize, Ordering};
use tessera_os::hal::gic;

/// GICH registers.
const HCR: usize = 0x00;
const VTR: usize = 0x04;
const VMCR: usize = 0x08;
const ELRSR0: usize = 0x30;
const ELRSR1: usize = 0x34;
const APR: usize = 0xf0;
const LR0: usize = 0x100;

/// GICH_VTR.ListRegs + 1, read once (0 until then).
static LR_COUNT: AtomicUsize = AtomicUsize::new(0);

fn read(offset: usize) -> u32 {
    match gic::hyp_interface() {
        // SAFETY: a GICH register of this CPU, from the host device tree, in the
        // identity-mapped device range; reads have no side effects.
        Some(gich) => unsafe { core::ptr::read_volatile((gich + offset) as *const u32) },
        None => 0,
    }
}

fn write(offset: usize, value: u32) {
    if let Some(gich) = gic::hyp_interface() {
        // SAFETY: as in `read`; GICH only affects the virtual CPU interface of this
        // CPU, which serves the vCPU loaded here.
        unsafe { core::ptr::write_volatile((gich + offset) as *mut u32, value) }
    }
}

/// Number of list registers (GICH_VTR.ListRegs + 1), 0 without GICH.
pub fn lr_count() -> usize {
    match LR_COUNT.load(Ordering::Relaxed) {
        0 if gic::hyp_interface().is_some() => {
            let count = (read(VTR) & 0x3f) as usize + 1;
            LR_COUNT.store(count, Ordering::Relaxed);
            count
        }
        count => count,
    }
}

/// Reads GICH_LR<n>.
pub fn read_lr(n: usize) -> ListRegister {
    ListRegister::from_v2(read(LR0 + 4 * n))
}

/// Writes GICH_LR<n>.
pub fn write_lr(n: usize, lr: ListRegister) {
    write(LR0 + 4 * n, lr.to_v2());
}

/// GICH_ELRSR0 and GICH_ELRSR1: one bit per empty list register.
pub fn empty_lrs() -> u64 {
    u64::from(read(ELRSR0)) | (u64::from(read(ELRSR1)) << 32)
}

/// Writes GICH_HCR (En and UIE sit where ICH_HCR_EL2 has them).
pub fn write_hcr(hcr: u64) {
    write(HCR, hcr as u32);
}

/// Reads GICH_HCR.
pub fn read_hcr() -> u64 {
    u64::from(read(HCR))
}

/// GICH_VMCR and GICH_APR (the third slot is unused).
pub fn read_control() -> [u64; 3] {
    [u64::from(read(VMCR)), u64::from(read(APR)), 0]
}

/// Writes what [`read_control`] read.
pub fn write_control([vmcr, apr, _]: [u64; 3]) {
    write(VMCR, vmcr as u32);
    write(APR, apr as u32);
}
