//! The GIC virtual CPU interface of a vCPU: list registers, the virtual machine control
//! register and the active priorities, moved in and out with the vCPU, and the
//! hypervisor control register. A GICv3 holds them in ICH_* system registers
//! ([`ich`]), a GICv2 in its memory-mapped GICH ([`gich`]); which one is the host's
//! GIC's, chosen at boot.

mod gich;
mod ich;

use crate::lr::{ListRegister, LrState, VirtualIrq};
use tessera_os::hal::gic;

/// Most list registers Tessera uses (GICv3 defines 16, GICv2 64).
const MAX_LRS: usize = 16;
/// ICH_HCR_EL2.En and GICH_HCR.En: the virtual CPU interface works.
const HCR_EN: u64 = 1;
/// ICH_HCR_EL2.UIE and GICH_HCR.UIE: maintenance interrupt when at most one list
/// register is in use.
const HCR_UIE: u64 = 1 << 1;

/// Dispatches to the host GIC's form of the same operation.
macro_rules! host_gic {
    ($f:ident($($arg:expr),*)) => {
        if gic::is_v2() { gich::$f($($arg),*) } else { ich::$f($($arg),*) }
    };
}

fn read_lr(n: usize) -> ListRegister {
    host_gic!(read_lr(n))
}

fn write_lr(n: usize, lr: ListRegister) {
    host_gic!(write_lr(n, lr))
}

/// Number of list registers this CPU implements (at most [`MAX_LRS`]).
fn lr_count() -> usize {
    host_gic!(lr_count()).min(MAX_LRS)
}

/// The saved virtual CPU interface of a vCPU that is not on a CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualCpuInterface {
    lrs: [ListRegister; MAX_LRS],
    /// The virtual machine control register and active priorities (see
    /// `ich::read_control`, `gich::read_control`).
    control: [u64; 3],
    uie: bool,
}

impl VirtualCpuInterface {
    /// Writes the saved state to this CPU and enables the interface.
    pub fn restore(&self) {
        for (n, &lr) in self.lrs.iter().enumerate().take(lr_count()) {
            write_lr(n, lr);
        }
        host_gic!(write_control(self.control));
        host_gic!(write_hcr(HCR_EN | if self.uie { HCR_UIE } else { 0 }));
    }

    /// Reads the state from this CPU, then disables the interface and clears the list
    /// registers so nothing of this vCPU stays live.
    pub fn save(&mut self) {
        for (n, slot) in self.lrs.iter_mut().enumerate().take(lr_count()) {
            *slot = read_lr(n);
            write_lr(n, ListRegister(0));
        }
        self.control = host_gic!(read_control());
        self.uie = host_gic!(read_hcr()) & HCR_UIE != 0;
        // Off until the next restore.
        host_gic!(write_hcr(0));
    }

    /// Whether a saved list register holds `vintid` (in any state).
    pub fn holds(&self, vintid: u32) -> bool {
        self.lrs
            .iter()
            .any(|lr| lr.state() != LrState::Invalid && lr.vintid() == vintid)
    }

    /// Whether a saved list register holds an interrupt the guest has not taken.
    pub fn has_pending(&self) -> bool {
        self.lrs
            .iter()
            .any(|lr| matches!(lr.state(), LrState::Pending | LrState::PendingActive))
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
/// hardware's empty-LR status (ICH_ELRSR_EL2, GICH_ELRSR<n>) inverted, so only those
/// are read. (Tessera never sets an LR's EOI bit, so an empty LR is exactly an
/// invalid one.)
fn used_lrs() -> u64 {
    !host_gic!(empty_lrs()) & implemented_lrs()
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
pub fn inject(irq: VirtualIrq) -> Injection {
    let used = used_lrs();
    for n in lrs_in(used) {
        let lr = read_lr(n);
        if lr.vintid() == irq.intid && lr.absorbs_raise() {
            if let Some(again) = lr.with_pending_again() {
                write_lr(n, again);
            }
            return Injection::Merged;
        }
    }
    match lrs_in(!used & implemented_lrs()).next() {
        Some(n) => {
            write_lr(n, ListRegister::pending(irq));
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
        let lr = read_lr(n);
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
        let lr = read_lr(n);
        lr.state() != LrState::Invalid && lr.vintid() == vintid
    })
}

/// Whether a live list register holds an interrupt waiting for the guest.
pub fn has_pending() -> bool {
    lrs_in(used_lrs()).any(|n| {
        matches!(
            read_lr(n).state(),
            LrState::Pending | LrState::PendingActive
        )
    })
}

/// Asks for (or stops asking for) a maintenance interrupt once the list registers
/// drain, when interrupts are waiting that did not fit.
pub fn notify_on_underflow(on: bool) {
    host_gic!(write_hcr(HCR_EN | if on { HCR_UIE } else { 0 }));
}

/// Size of the buffer [`busy_intids`] fills.
pub const LR_BUFFER: usize = MAX_LRS;
