//! aarch64 self-hosted debug: a breakpoint, a watchpoint and a software step, each
//! taken at this program's own EL1 vector with the exception class the architecture
//! gives it; and, as a hostile case, every breakpoint and watchpoint armed for every
//! exception level while the hypervisor runs on this guest's behalf.

use crate::hostile::fault_of;
use core::arch::asm;

/// ESR_EL1 exception classes of debug exceptions taken from the current EL.
const EC_BREAKPOINT: u64 = 0x31;
const EC_STEP: u64 = 0x33;
const EC_WATCHPOINT: u64 = 0x35;
/// MDSCR_EL1: SS (bit 0), KDE (13: debug exceptions at EL1 itself), MDE (15:
/// breakpoints and watchpoints enabled).
const MDSCR_SS: u64 = 1;
const MDSCR_DEBUG: u64 = (1 << 13) | (1 << 15);
/// DBGBCR0_EL1: enabled, PMC 0b11 (EL1 and EL0), BAS 0b1111 (the whole instruction).
const BCR_EL1: u64 = 1 | (0b11 << 1) | (0b1111 << 5);
/// DBGWCR0_EL1: enabled, PAC 0b11 (EL1 and EL0), LSC 0b10 (stores), BAS 0xff (eight
/// bytes).
const WCR_STORES: u64 = 1 | (0b11 << 1) | (0b10 << 3) | (0xff << 5);
/// SPSR_EL1 of the step: EL1h, A, I and F masked, D clear, SS set.
const SPSR_STEP: u64 = 0b0101 | (0b111 << 6) | (1 << 21);

/// The exception class of ESR_EL1 value `esr`.
fn class(esr: u64) -> u64 {
    esr >> 26
}

/// Whether ESR_EL1 value `esr` is a software-step exception from EL1.
pub fn is_software_step(esr: u64) -> bool {
    class(esr) == EC_STEP
}

/// Opens self-hosted debug at EL1 (OS lock unlocked, MDE and KDE, PSTATE.D clear),
/// runs `body`, and closes it again.
fn with_debug<T>(body: impl FnOnce() -> T) -> T {
    // SAFETY: debug registers of this vCPU; nothing is armed yet.
    unsafe {
        asm!("msr oslar_el1, xzr", "isb", "msr mdscr_el1, {m}", "isb", "msr daifclr, #8",
             m = in(reg) MDSCR_DEBUG, options(nostack));
    }
    let result = body();
    // SAFETY: as above: debug exceptions masked and disabled again.
    unsafe {
        asm!(
            "msr daifset, #8",
            "msr mdscr_el1, xzr",
            "isb",
            options(nostack)
        )
    };
    result
}

/// A breakpoint on an instruction, a watchpoint on a store and a software step of
/// one instruction each raise their debug exception; the watched store is not done.
pub fn debug_check() -> Result<(), &'static str> {
    with_debug(|| {
        let breakpoint = fault_of(|| {
            // SAFETY: arms breakpoint 0 on the `nop` below; the exception's handler
            // steps over it; then disarms it.
            unsafe {
                asm!("adr {a}, 2f", "msr dbgbvr0_el1, {a}", "msr dbgbcr0_el1, {c}", "isb",
                     "2: nop", "msr dbgbcr0_el1, xzr", "isb",
                     a = inout(reg) 0u64 => _, c = in(reg) BCR_EL1, options(nostack));
            }
        });
        if breakpoint.map(class) != Some(EC_BREAKPOINT) {
            return Err("debug: a breakpoint raised no breakpoint exception");
        }
        let mut cell = 0u64;
        let watched = &raw mut cell;
        let watchpoint = fault_of(|| {
            // SAFETY: arms watchpoint 0 on `cell`, stores to it (the exception's
            // handler steps over the store), then disarms it.
            unsafe {
                asm!("msr dbgwvr0_el1, {a}", "msr dbgwcr0_el1, {c}", "isb",
                     "str {v}, [{a}]", "msr dbgwcr0_el1, xzr", "isb",
                     a = in(reg) watched, c = in(reg) WCR_STORES, v = in(reg) 0x5au64,
                     options(nostack));
            }
        });
        // SAFETY: `cell` is this function's own.
        let stored = unsafe { watched.read_volatile() };
        if watchpoint.map(class) != Some(EC_WATCHPOINT) || stored != 0 {
            return Err("debug: a watched store raised no watchpoint exception, or was done");
        }
        let mut stepped = 0u64;
        let step = fault_of(|| {
            // SAFETY: returns to the `add` with PSTATE.SS set: one instruction runs,
            // then the software-step exception comes at the `nop`, which its handler
            // steps over.
            unsafe {
                asm!("mrs {d}, daif", "msr mdscr_el1, {m}", "isb",
                     "adr {t}, 2f", "msr elr_el1, {t}", "msr spsr_el1, {s}", "eret",
                     "2: add {n}, {n}, #1", "nop",
                     "msr mdscr_el1, {k}", "isb", "msr daif, {d}",
                     d = inout(reg) 0u64 => _, t = inout(reg) 0u64 => _, n = inout(reg) stepped,
                     m = in(reg) MDSCR_DEBUG | MDSCR_SS, k = in(reg) MDSCR_DEBUG,
                     s = in(reg) SPSR_STEP, options(nostack));
            }
        });
        if step.map(class) != Some(EC_STEP) || stepped != 1 {
            return Err("debug: a software step raised no step exception after one instruction");
        }
        Ok(())
    })
}

/// The hostile case: every breakpoint and watchpoint armed for every exception level
/// (HMC set) on addresses this guest never uses, while the hypervisor answers a few
/// thousand of its exits. Returns MDSCR_EL1 as read back.
pub fn arm_everything() -> u64 {
    let dfr0: u64;
    // SAFETY: reading ID_AA64DFR0_EL1 has no side effects.
    unsafe { asm!("mrs {}, id_aa64dfr0_el1", out(reg) dfr0, options(nomem, nostack)) };
    let breakpoints = ((dfr0 >> 12) & 0xf) + 1;
    let watchpoints = ((dfr0 >> 20) & 0xf) + 1;
    // HMC (13), SSC 0b00, PMC 0b11: EL2, EL1 and EL0.
    let every_level = (1 << 13) | (0b11 << 1) | 1;
    with_debug(|| {
        for n in 0..breakpoints {
            // Instruction addresses across host RAM above this guest's own.
            arm_breakpoint(n, 0x4100_0000 + n * 0x20_0000, every_level | (0b1111 << 5));
        }
        for n in 0..watchpoints {
            // 2 GiB each (MASK 31, bits 28:24, with BAS all ones) from 2 GiB up, where
            // host RAM continues past this guest's own; loads and stores.
            let control = every_level | (0b11 << 3) | (0xff << 5) | (31 << 24);
            arm_watchpoint(n, (n + 1) << 31, control);
        }
        for _ in 0..2000 {
            let _ = crate::arch::read_console_status();
            let _ = crate::arch::firmware_version();
        }
        for n in 0..breakpoints {
            arm_breakpoint(n, 0, 0);
        }
        for n in 0..watchpoints {
            arm_watchpoint(n, 0, 0);
        }
        let mdscr: u64;
        // SAFETY: reading MDSCR_EL1 has no side effects.
        unsafe { asm!("mrs {}, mdscr_el1", out(reg) mdscr, options(nomem, nostack)) };
        mdscr
    })
}

macro_rules! numbered {
    ($fn:ident, $value:literal, $control:literal, $($n:literal),*) => {
        /// Writes value and control register `n` of one kind of debug point.
        fn $fn(n: u64, value: u64, control: u64) {
            match n {
                $(
                    // SAFETY: this vCPU's own debug registers.
                    $n => unsafe {
                        asm!(concat!("msr ", $value, stringify!($n), "_el1, {v}"),
                             concat!("msr ", $control, stringify!($n), "_el1, {c}"), "isb",
                             v = in(reg) value, c = in(reg) control, options(nostack))
                    },
                )*
                _ => {}
            }
        }
    };
}

numbered!(
    arm_breakpoint,
    "dbgbvr",
    "dbgbcr",
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15
);
numbered!(
    arm_watchpoint,
    "dbgwvr",
    "dbgwcr",
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15
);
