//! A vCPU's self-hosted debug state: its breakpoint and watchpoint registers,
//! MDSCR_EL1, the OS lock and double lock, and the claim tags. The guest reaches them
//! directly (MDCR_EL2 does not trap them); they are moved with the vCPU when a
//! physical CPU switches vCPUs, so one VM's breakpoints never fire in another.
//!
//! Nothing a guest programs here can stop the hypervisor: with MDCR_EL2.TDE and
//! HCR_EL2.TGE clear the debug exceptions' target is EL1, and debug exceptions are
//! never taken from a higher level (EL2) to a lower one, whatever a guest sets in
//! DBGBCR/DBGWCR.HMC.

use aarch64_cpu::registers::{ID_AA64DFR0_EL1, Readable};
use core::arch::asm;

/// Most breakpoints or watchpoints the architecture allows (BRPs, WRPs are 4 bits).
const MAX_POINTS: usize = 16;

/// OSLSR_EL1.OSLK (bit 1): the OS lock is locked, as it is after a cold reset.
const OSLSR_OSLK: u64 = 1 << 1;

/// How many breakpoints and watchpoints this CPU implements (ID_AA64DFR0_EL1 BRPs
/// [15:12] and WRPs [23:20], each one less than the count).
fn points() -> (usize, usize) {
    let dfr0 = ID_AA64DFR0_EL1.get();
    let brps = ((dfr0 >> 12) & 0xf) as usize + 1;
    let wrps = ((dfr0 >> 20) & 0xf) as usize + 1;
    (brps, wrps)
}

macro_rules! numbered_registers {
    ($read:ident, $write:ident, $name:literal, $($n:literal),*) => {
        /// Reads register `n` of the numbered debug registers named in the macro call.
        fn $read(n: usize) -> u64 {
            let value: u64;
            match n {
                $(
                    // SAFETY: reading a debug register has no side effects.
                    $n => unsafe {
                        asm!(concat!("mrs {}, ", $name, stringify!($n), "_el1"),
                             out(reg) value, options(nomem, nostack))
                    },
                )*
                _ => value = 0,
            }
            value
        }

        /// Writes register `n` of the numbered debug registers named in the macro call.
        fn $write(n: usize, value: u64) {
            match n {
                $(
                    // SAFETY: the debug registers belong to the guest loaded on this
                    // CPU; they cannot stop EL2 (see the module comment).
                    $n => unsafe {
                        asm!(concat!("msr ", $name, stringify!($n), "_el1, {}"),
                             in(reg) value, options(nomem, nostack))
                    },
                )*
                _ => {}
            }
        }
    };
}

numbered_registers!(
    read_bvr, write_bvr, "dbgbvr", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
);
numbered_registers!(
    read_bcr, write_bcr, "dbgbcr", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
);
numbered_registers!(
    read_wvr, write_wvr, "dbgwvr", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
);
numbered_registers!(
    read_wcr, write_wcr, "dbgwcr", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
);

/// The self-hosted debug registers of one vCPU.
#[derive(Clone, Copy, Debug)]
pub struct DebugContext {
    mdscr: u64,
    /// OSLSR_EL1 as saved (its OSLK bit is restored through OSLAR_EL1).
    oslsr: u64,
    osdlr: u64,
    /// DBGCLAIMCLR_EL1 as read: the claim tags set.
    claim: u64,
    bvr: [u64; MAX_POINTS],
    bcr: [u64; MAX_POINTS],
    wvr: [u64; MAX_POINTS],
    wcr: [u64; MAX_POINTS],
}

impl Default for DebugContext {
    /// The reset state: every breakpoint and watchpoint disabled, the OS lock locked.
    fn default() -> Self {
        Self {
            mdscr: 0,
            oslsr: OSLSR_OSLK,
            osdlr: 0,
            claim: 0,
            bvr: [0; MAX_POINTS],
            bcr: [0; MAX_POINTS],
            wvr: [0; MAX_POINTS],
            wcr: [0; MAX_POINTS],
        }
    }
}

impl DebugContext {
    /// Reads the debug state from the CPU.
    pub fn save(&mut self) {
        // SAFETY: reading debug registers has no side effects.
        unsafe {
            asm!("mrs {}, mdscr_el1", out(reg) self.mdscr, options(nomem, nostack));
            asm!("mrs {}, oslsr_el1", out(reg) self.oslsr, options(nomem, nostack));
            asm!("mrs {}, osdlr_el1", out(reg) self.osdlr, options(nomem, nostack));
            asm!("mrs {}, dbgclaimclr_el1", out(reg) self.claim, options(nomem, nostack));
        }
        let (brps, wrps) = points();
        for n in 0..brps.min(MAX_POINTS) {
            if let (Some(bvr), Some(bcr)) = (self.bvr.get_mut(n), self.bcr.get_mut(n)) {
                *bvr = read_bvr(n);
                *bcr = read_bcr(n);
            }
        }
        for n in 0..wrps.min(MAX_POINTS) {
            if let (Some(wvr), Some(wcr)) = (self.wvr.get_mut(n), self.wcr.get_mut(n)) {
                *wvr = read_wvr(n);
                *wcr = read_wcr(n);
            }
        }
    }

    /// Writes the debug state to the CPU.
    pub fn restore(&self) {
        let (brps, wrps) = points();
        for n in 0..brps.min(MAX_POINTS) {
            write_bcr(n, self.bcr.get(n).copied().unwrap_or(0));
            write_bvr(n, self.bvr.get(n).copied().unwrap_or(0));
        }
        for n in 0..wrps.min(MAX_POINTS) {
            write_wcr(n, self.wcr.get(n).copied().unwrap_or(0));
            write_wvr(n, self.wvr.get(n).copied().unwrap_or(0));
        }
        let oslk = u64::from(self.oslsr & OSLSR_OSLK != 0);
        // SAFETY: these registers steer debug of the guest loaded on this CPU only
        // (see the module comment); ISB makes them take effect before it runs.
        unsafe {
            asm!("msr dbgclaimclr_el1, {}", in(reg) u64::MAX, options(nomem, nostack));
            asm!("msr dbgclaimset_el1, {}", in(reg) self.claim, options(nomem, nostack));
            asm!("msr osdlr_el1, {}", in(reg) self.osdlr, options(nomem, nostack));
            asm!("msr oslar_el1, {}", in(reg) oslk, options(nomem, nostack));
            asm!("msr mdscr_el1, {}", in(reg) self.mdscr, options(nomem, nostack));
            asm!("isb", options(nomem, nostack));
        }
    }
}
