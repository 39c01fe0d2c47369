//! The EL1 system register and FP/SIMD state of a vCPU, moved between the CPU and
//! memory when a physical CPU switches from one vCPU to another.

use core::arch::asm;

macro_rules! el1_context {
    ($($field:ident => $reg:literal),* $(,)?) => {
        /// EL1 (and EL0) system registers a guest owns.
        #[derive(Clone, Copy, Debug, Default)]
        #[allow(missing_docs)]
        pub struct El1Context {
            $(pub $field: u64,)*
        }

        impl El1Context {
            /// Reads every register from the CPU.
            pub fn save(&mut self) {
                // SAFETY: reading EL1 registers at EL2 has no side effects.
                $(unsafe { asm!(concat!("mrs {}, ", $reg), out(reg) self.$field, options(nomem, nostack)) };)*
            }

            /// Writes every register to the CPU.
            pub fn restore(&self) {
                // SAFETY: EL1 registers only affect EL1/EL0 execution, which is the
                // guest whose state this is; EL2 is unaffected.
                $(unsafe { asm!(concat!("msr ", $reg, ", {}"), in(reg) self.$field, options(nomem, nostack)) };)*
                // SAFETY: ISB only synchronises the context.
                unsafe { asm!("isb", options(nomem, nostack)) };
            }
        }
    };
}

el1_context! {
    sctlr => "sctlr_el1",
    cpacr => "cpacr_el1",
    ttbr0 => "ttbr0_el1",
    ttbr1 => "ttbr1_el1",
    tcr => "tcr_el1",
    mair => "mair_el1",
    amair => "amair_el1",
    vbar => "vbar_el1",
    contextidr => "contextidr_el1",
    esr => "esr_el1",
    far => "far_el1",
    afsr0 => "afsr0_el1",
    afsr1 => "afsr1_el1",
    par => "par_el1",
    sp_el0 => "sp_el0",
    sp_el1 => "sp_el1",
    elr => "elr_el1",
    spsr => "spsr_el1",
    tpidr_el0 => "tpidr_el0",
    tpidrro_el0 => "tpidrro_el0",
    tpidr_el1 => "tpidr_el1",
    cntkctl => "cntkctl_el1",
    // Compare values before controls, so a restored enabled timer never fires on a
    // stale compare value.
    cntv_cval => "cntv_cval_el0",
    cntv_ctl => "cntv_ctl_el0",
    cntp_cval => "cntp_cval_el0",
    cntp_ctl => "cntp_ctl_el0",
    csselr => "csselr_el1",
}

/// SCTLR_EL1 at reset: RES1 bits only, MMU and caches off.
pub const SCTLR_EL1_RESET: u64 = 0x30D0_0800;

/// FP/SIMD registers q0..q31 with FPCR and FPSR.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
pub struct FpContext {
    q: [u128; 32],
    fpcr: u64,
    fpsr: u64,
}

impl FpContext {
    /// Reads the FP/SIMD state from the CPU.
    pub fn save(&mut self) {
        // SAFETY: stores 32 q registers and two control registers into `self`, which
        // is 16-byte aligned and large enough (512 + 16 bytes).
        unsafe {
            asm!(
                ".arch_extension fp",
                ".arch_extension simd",
                "stp q0, q1, [{p}, #0]", "stp q2, q3, [{p}, #32]",
                "stp q4, q5, [{p}, #64]", "stp q6, q7, [{p}, #96]",
                "stp q8, q9, [{p}, #128]", "stp q10, q11, [{p}, #160]",
                "stp q12, q13, [{p}, #192]", "stp q14, q15, [{p}, #224]",
                "stp q16, q17, [{p}, #256]", "stp q18, q19, [{p}, #288]",
                "stp q20, q21, [{p}, #320]", "stp q22, q23, [{p}, #352]",
                "stp q24, q25, [{p}, #384]", "stp q26, q27, [{p}, #416]",
                "stp q28, q29, [{p}, #448]", "stp q30, q31, [{p}, #480]",
                "mrs {t}, fpcr", "str {t}, [{p}, #512]",
                "mrs {t}, fpsr", "str {t}, [{p}, #520]",
                p = in(reg) self as *mut Self,
                t = out(reg) _,
                options(nostack),
            );
        }
    }

    /// Writes the FP/SIMD state to the CPU.
    pub fn restore(&self) {
        // SAFETY: loads the state saved by `save` (or the zeroed reset state).
        unsafe {
            asm!(
                ".arch_extension fp",
                ".arch_extension simd",
                "ldp q0, q1, [{p}, #0]", "ldp q2, q3, [{p}, #32]",
                "ldp q4, q5, [{p}, #64]", "ldp q6, q7, [{p}, #96]",
                "ldp q8, q9, [{p}, #128]", "ldp q10, q11, [{p}, #160]",
                "ldp q12, q13, [{p}, #192]", "ldp q14, q15, [{p}, #224]",
                "ldp q16, q17, [{p}, #256]", "ldp q18, q19, [{p}, #288]",
                "ldp q20, q21, [{p}, #320]", "ldp q22, q23, [{p}, #352]",
                "ldp q24, q25, [{p}, #384]", "ldp q26, q27, [{p}, #416]",
                "ldp q28, q29, [{p}, #448]", "ldp q30, q31, [{p}, #480]",
                "ldr {t}, [{p}, #512]", "msr fpcr, {t}",
                "ldr {t}, [{p}, #520]", "msr fpsr, {t}",
                p = in(reg) self as *const Self,
                t = out(reg) _,
                options(nostack),
            );
        }
    }
}
