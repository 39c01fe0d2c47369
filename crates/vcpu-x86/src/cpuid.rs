//! What CPUID tells a guest: the host's answer, filtered.
//!
//! The guest's CPUID is intercepted; the hypervisor executes CPUID itself and passes
//! the result through [`guest_cpuid`], which hides what the guest does not get and
//! describes the VM's own topology, then through [`with_guest_cr4`], which sets the
//! bits that mirror the guest's CR4. Bit positions are those of the Intel SDM volume 2
//! (CPUID) and the AMD CPUID specification / APM volume 3 appendix E.
//!
//! The topology a guest sees: one package of `vcpu_count` cores with one thread
//! each, vCPU `i` having (x)APIC id `i`.

/// The four registers CPUID returns: EAX, EBX, ECX, EDX.
pub type CpuidRegs = (u32, u32, u32, u32);

/// Leaf 1 (feature information) bits.
pub mod leaf1 {
    /// ECX bit 3: MONITOR/MWAIT.
    pub const ECX_MONITOR: u32 = 1 << 3;
    /// ECX bit 5: VMX.
    pub const ECX_VMX: u32 = 1 << 5;
    /// ECX bit 21: x2APIC.
    pub const ECX_X2APIC: u32 = 1 << 21;
    /// ECX bit 24: the APIC timer's TSC-deadline mode.
    pub const ECX_TSC_DEADLINE: u32 = 1 << 24;
    /// EDX bit 9: an on-chip APIC.
    pub const EDX_APIC: u32 = 1 << 9;
    /// ECX bit 27: OSXSAVE, a copy of CR4.OSXSAVE.
    pub const ECX_OSXSAVE: u32 = 1 << 27;
    /// ECX bit 31: running under a hypervisor.
    pub const ECX_HYPERVISOR: u32 = 1 << 31;
    /// EDX bit 28: HTT, EBX[23:16] is valid.
    pub const EDX_HTT: u32 = 1 << 28;
    /// EBX[23:16]: logical processors in the package.
    pub const EBX_COUNT_SHIFT: u32 = 16;
    /// EBX[31:24]: initial APIC id.
    pub const EBX_APIC_ID_SHIFT: u32 = 24;
}

/// Leaf 7 subleaf 0 (structured extended features) bits.
pub mod leaf7 {
    /// EBX bit 2: SGX.
    pub const EBX_SGX: u32 = 1 << 2;
    /// EBX bit 25: Intel Processor Trace.
    pub const EBX_PT: u32 = 1 << 25;
    /// ECX bit 4: OSPKE, a copy of CR4.PKE.
    pub const ECX_OSPKE: u32 = 1 << 4;
    /// ECX bit 5: WAITPKG (UMONITOR, UMWAIT, TPAUSE).
    pub const ECX_WAITPKG: u32 = 1 << 5;
    /// ECX bit 30: SGX launch configuration.
    pub const ECX_SGX_LC: u32 = 1 << 30;
}

/// Leaf 0x8000_0001 (extended features) bits.
pub mod ext1 {
    /// ECX bit 2: SVM.
    pub const ECX_SVM: u32 = 1 << 2;
    /// ECX bit 22: TOPOEXT (leaves 0x8000_001D and 0x8000_001E).
    pub const ECX_TOPOEXT: u32 = 1 << 22;
}

/// The hypervisor's vendor signature "TesseraHV\0\0\0", as EBX, ECX, EDX of leaf
/// 0x4000_0000.
pub const HYPERVISOR_SIGNATURE: (u32, u32, u32) = (
    u32::from_le_bytes(*b"Tess"),
    u32::from_le_bytes(*b"eraH"),
    u32::from_le_bytes(*b"V\0\0\0"),
);

/// The highest hypervisor leaf Tessera answers.
pub const HYPERVISOR_MAX_LEAF: u32 = 0x4000_0000;

/// CR4.OSXSAVE (bit 18).
const CR4_OSXSAVE: u64 = 1 << 18;
/// CR4.PKE (bit 22).
const CR4_PKE: u64 = 1 << 22;

/// The CPUID result the guest sees for `leaf`/`subleaf`, from the `host`'s result
/// on the physical CPU, for vCPU `vcpu_index` of `vcpu_count`.
///
/// Rules (everything else passes through):
/// - Leaf 1: VMX and MONITOR cleared (no nested virtualization, no MWAIT); APIC,
///   x2APIC and TSC-deadline set (each vCPU's local APIC is emulated, with both
///   modes and the TSC-deadline timer), the hypervisor bit set; EBX[31:24] = the
///   APIC id (`vcpu_index`, low 8 bits), EBX[23:16] = `vcpu_count` (at most 255)
///   with HTT (EDX bit 28) set when there is more than one vCPU and cleared otherwise.
/// - Leaf 5 (MONITOR/MWAIT): zero, as MONITOR is hidden.
/// - Leaf 7 subleaf 0: SGX and Intel PT (EBX bits 2, 25), WAITPKG and SGX launch
///   control (ECX bits 5, 30) cleared.
/// - Leaves 0xB and 0x1F (extended topology): subleaf 0 the thread level (1 thread,
///   shift 0), subleaf 1 the core level (`vcpu_count` cores, shift = bits to number
///   them), later subleaves invalid (level type 0); EDX = the x2APIC id, `vcpu_index`.
/// - Leaves 0x4000_0000..=0x4FFF_FFFF: leaf 0x4000_0000 gives the highest hypervisor
///   leaf (0x4000_0000) and the signature "TesseraHV\0\0\0"; the others read zero,
///   so a guest never sees another hypervisor's leaves from below.
/// - Leaf 0x8000_0001: SVM cleared; TOPOEXT cleared, as leaves 0x8000_001D/1E would
///   describe the host's topology.
/// - Leaf 0x8000_0008: ECX[7:0] (cores - 1) = `vcpu_count` - 1 and ECX[15:12]
///   (APIC id bits for the core) = the core-level shift of leaf 0xB.
/// - Leaf 0x8000_000A (SVM features) and 0x8000_001E (AMD topology): zero.
///
/// Bits that mirror the guest's control registers (OSXSAVE, OSPKE) are set by
/// [`with_guest_cr4`]; leaves that depend on the guest's XCR0 (0xD) pass through
/// and must be answered by the caller if the guest's XCR0 differs from the host's.
pub fn guest_cpuid(
    leaf: u32,
    subleaf: u32,
    host: CpuidRegs,
    vcpu_index: u32,
    vcpu_count: u32,
) -> CpuidRegs {
    let (eax, ebx, ecx, edx) = host;
    let count = vcpu_count.clamp(1, 255);
    match leaf {
        0x1 => {
            let ebx = (ebx & 0xffff)
                | (count << leaf1::EBX_COUNT_SHIFT)
                | ((vcpu_index & 0xff) << leaf1::EBX_APIC_ID_SHIFT);
            let ecx = (ecx & !(leaf1::ECX_VMX | leaf1::ECX_MONITOR))
                | leaf1::ECX_X2APIC
                | leaf1::ECX_TSC_DEADLINE
                | leaf1::ECX_HYPERVISOR;
            let edx = if count > 1 {
                edx | leaf1::EDX_HTT | leaf1::EDX_APIC
            } else {
                (edx & !leaf1::EDX_HTT) | leaf1::EDX_APIC
            };
            (eax, ebx, ecx, edx)
        }
        0x5 | 0x8000_000a | 0x8000_001e => (0, 0, 0, 0),
        0x7 if subleaf == 0 => (
            eax,
            ebx & !(leaf7::EBX_SGX | leaf7::EBX_PT),
            ecx & !(leaf7::ECX_WAITPKG | leaf7::ECX_SGX_LC),
            edx,
        ),
        0xb | 0x1f => topology(subleaf, vcpu_index, count),
        HYPERVISOR_MAX_LEAF => {
            let (b, c, d) = HYPERVISOR_SIGNATURE;
            (HYPERVISOR_MAX_LEAF, b, c, d)
        }
        0x4000_0001..=0x4fff_ffff => (0, 0, 0, 0),
        0x8000_0001 => (eax, ebx, ecx & !(ext1::ECX_SVM | ext1::ECX_TOPOEXT), edx),
        0x8000_0008 => {
            let ecx = (ecx & !0xf0ff) | (core_shift(count) << 12) | (count - 1);
            (eax, ebx, ecx, edx)
        }
        _ => host,
    }
}

/// Sets the CPUID bits that reflect the guest's CR4 in a result of [`guest_cpuid`]
/// (the host's CPUID reports the host's CR4): OSXSAVE (leaf 1 ECX bit 27) from
/// CR4.OSXSAVE and OSPKE (leaf 7 subleaf 0 ECX bit 4) from CR4.PKE.
pub fn with_guest_cr4(leaf: u32, subleaf: u32, regs: CpuidRegs, guest_cr4: u64) -> CpuidRegs {
    let (eax, ebx, ecx, edx) = regs;
    let copy = |ecx: u32, bit: u32, on: bool| if on { ecx | bit } else { ecx & !bit };
    match (leaf, subleaf) {
        (0x1, _) => (
            eax,
            ebx,
            copy(ecx, leaf1::ECX_OSXSAVE, guest_cr4 & CR4_OSXSAVE != 0),
            edx,
        ),
        (0x7, 0) => (
            eax,
            ebx,
            copy(ecx, leaf7::ECX_OSPKE, guest_cr4 & CR4_PKE != 0),
            edx,
        ),
        _ => regs,
    }
}

/// Leaf 1 ECX bit 26 (XSAVE) and bit 28 (AVX).
const LEAF1_ECX_XSAVE: u32 = 1 << 26;
const LEAF1_ECX_AVX: u32 = 1 << 28;
/// Leaf 1 EDX (and AMD's copy in leaf 0x8000_0001 EDX): machine check exception
/// (7), memory type range registers (12), machine check architecture (14).
const EDX_MCE_MTRR_MCA: u32 = (1 << 7) | (1 << 12) | (1 << 14);
/// Leaf 7 subleaf 0 EBX: AVX2 (5), AVX-512 foundation (16) and the other AVX-512
/// bits (17, 21, 26, 27, 28, 30, 31).
const LEAF7_EBX_AVX: u32 = (1 << 5)
    | (1 << 16)
    | (1 << 17)
    | (1 << 21)
    | (1 << 26)
    | (1 << 27)
    | (1 << 28)
    | (1 << 30)
    | (1 << 31);

/// Hides what Tessera's vCPU does not switch or emulate yet, after [`guest_cpuid`]:
/// XSAVE and the AVX families (the vCPU switches the x87/SSE state with FXSAVE, which
/// does not hold the AVX registers; leaf 0xD then reads zero), machine checks and
/// MTRRs (their MSRs are not offered: a guest that saw them would read them; leaf 1
/// and AMD's copy in leaf 0x8000_0001).
pub fn hide_unvirtualized(leaf: u32, subleaf: u32, regs: CpuidRegs) -> CpuidRegs {
    let (eax, ebx, ecx, edx) = regs;
    match (leaf, subleaf) {
        (0x8000_0001, _) => (eax, ebx, ecx, edx & !EDX_MCE_MTRR_MCA),
        (0x1, _) => (
            eax,
            ebx,
            ecx & !(LEAF1_ECX_XSAVE | LEAF1_ECX_AVX | leaf1::ECX_OSXSAVE),
            edx & !EDX_MCE_MTRR_MCA,
        ),
        (0x7, 0) => (eax, ebx & !LEAF7_EBX_AVX, ecx, edx),
        (0xd, _) => (0, 0, 0, 0),
        _ => regs,
    }
}

/// Bits of the APIC id that number the cores: the smallest `n` with `2^n >= count`.
fn core_shift(count: u32) -> u32 {
    u32::BITS - count.saturating_sub(1).leading_zeros()
}

/// Leaf 0xB / 0x1F subleaf `subleaf`: one thread per core, `count` cores.
fn topology(subleaf: u32, vcpu_index: u32, count: u32) -> CpuidRegs {
    /// Level type 1: SMT (threads), in ECX[15:8].
    const LEVEL_SMT: u32 = 1 << 8;
    /// Level type 2: core.
    const LEVEL_CORE: u32 = 2 << 8;
    let level = subleaf & 0xff;
    match subleaf {
        0 => (0, 1, LEVEL_SMT | level, vcpu_index),
        1 => (core_shift(count), count, LEVEL_CORE | level, vcpu_index),
        _ => (0, 0, level, vcpu_index),
    }
}
