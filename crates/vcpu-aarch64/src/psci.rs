//! PSCI 1.1 and SMCCC 1.1 for guests (Arm DEN0022 and DEN0028): decoding a call made
//! with HVC or SMC into what it asks for, and the return codes.

use tessera_vcpu::CallAnswer;

/// PSCI_VERSION.
pub const PSCI_VERSION: u32 = 0x8400_0000;
/// CPU_SUSPEND (SMC32 and SMC64).
pub const CPU_SUSPEND_32: u32 = 0x8400_0001;
/// CPU_SUSPEND, SMC64.
pub const CPU_SUSPEND_64: u32 = 0xC400_0001;
/// CPU_OFF.
pub const CPU_OFF: u32 = 0x8400_0002;
/// CPU_ON, SMC32.
pub const CPU_ON_32: u32 = 0x8400_0003;
/// CPU_ON, SMC64.
pub const CPU_ON_64: u32 = 0xC400_0003;
/// AFFINITY_INFO, SMC32.
pub const AFFINITY_INFO_32: u32 = 0x8400_0004;
/// AFFINITY_INFO, SMC64.
pub const AFFINITY_INFO_64: u32 = 0xC400_0004;
/// MIGRATE_INFO_TYPE.
pub const MIGRATE_INFO_TYPE: u32 = 0x8400_0006;
/// SYSTEM_OFF.
pub const SYSTEM_OFF: u32 = 0x8400_0008;
/// SYSTEM_RESET.
pub const SYSTEM_RESET: u32 = 0x8400_0009;
/// PSCI_FEATURES.
pub const PSCI_FEATURES: u32 = 0x8400_000A;
/// SMCCC_VERSION.
pub const SMCCC_VERSION: u32 = 0x8000_0000;
/// SMCCC_ARCH_FEATURES.
pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;

/// The PSCI version offered: 1.1.
pub const VERSION_1_1: u64 = 0x0001_0001;
/// MIGRATE_INFO_TYPE answer: no trusted OS needs migrating.
const MIGRATE_NOT_REQUIRED: u64 = 2;

/// PSCI return codes (as the signed values the guest sees in x0).
pub mod code {
    /// SUCCESS.
    pub const SUCCESS: i64 = 0;
    /// NOT_SUPPORTED (also SMCCC's "unknown function").
    pub const NOT_SUPPORTED: i64 = -1;
    /// INVALID_PARAMETERS.
    pub const INVALID_PARAMETERS: i64 = -2;
    /// ALREADY_ON.
    pub const ALREADY_ON: i64 = -4;
    /// ON_PENDING.
    pub const ON_PENDING: i64 = -5;
    /// INVALID_ADDRESS.
    pub const INVALID_ADDRESS: i64 = -9;
}

/// What a firmware call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// Answered at once with this value in x0.
    Answer(u64),
    /// CPU_SUSPEND: treated as a standby (the vCPU waits for an interrupt), returns SUCCESS.
    Suspend,
    /// CPU_OFF.
    CpuOff,
    /// CPU_ON of the vCPU with affinity `target`.
    CpuOn {
        /// Target MPIDR affinity.
        target: u64,
        /// Entry point (guest-physical).
        entry: u64,
        /// Context id, passed in the new vCPU's x0.
        context: u64,
    },
    /// AFFINITY_INFO for `target` at affinity level 0.
    AffinityInfo {
        /// Target MPIDR affinity.
        target: u64,
    },
    /// SYSTEM_OFF.
    SystemOff,
    /// SYSTEM_RESET.
    SystemReset,
}

/// Whether PSCI_FEATURES reports `function` as implemented.
pub fn implemented(function: u32) -> bool {
    matches!(
        function,
        PSCI_VERSION
            | CPU_SUSPEND_32
            | CPU_SUSPEND_64
            | CPU_OFF
            | CPU_ON_32
            | CPU_ON_64
            | AFFINITY_INFO_32
            | AFFINITY_INFO_64
            | MIGRATE_INFO_TYPE
            | SYSTEM_OFF
            | SYSTEM_RESET
            | PSCI_FEATURES
            | SMCCC_VERSION
    )
}

/// Decodes a call from the guest's x0..x3. SMC32 calls use only the low 32 bits of
/// their arguments. Unknown function ids are answered NOT_SUPPORTED.
pub fn decode(args: [u64; 4]) -> Call {
    let [x0, x1, x2, x3] = args;
    let function = x0 as u32;
    let narrow = |value: u64| {
        if function & 0x4000_0000 == 0 {
            value & 0xffff_ffff
        } else {
            value
        }
    };
    match function {
        PSCI_VERSION => Call::Answer(VERSION_1_1),
        SMCCC_VERSION => Call::Answer(VERSION_1_1),
        MIGRATE_INFO_TYPE => Call::Answer(MIGRATE_NOT_REQUIRED),
        PSCI_FEATURES => Call::Answer(if implemented(x1 as u32) {
            code::SUCCESS as u64
        } else {
            code::NOT_SUPPORTED as u64
        }),
        CPU_SUSPEND_32 | CPU_SUSPEND_64 => Call::Suspend,
        CPU_OFF => Call::CpuOff,
        CPU_ON_32 | CPU_ON_64 => Call::CpuOn {
            target: narrow(x1),
            entry: narrow(x2),
            context: narrow(x3),
        },
        AFFINITY_INFO_32 | AFFINITY_INFO_64 if narrow(x2) == 0 => {
            Call::AffinityInfo { target: narrow(x1) }
        }
        AFFINITY_INFO_32 | AFFINITY_INFO_64 => Call::Answer(code::INVALID_PARAMETERS as u64),
        SYSTEM_OFF => Call::SystemOff,
        SYSTEM_RESET => Call::SystemReset,
        _ => Call::Answer(code::NOT_SUPPORTED as u64),
    }
}

/// The x0 value for the VM layer's answer to CPU_ON or AFFINITY_INFO.
pub fn encode_answer(answer: CallAnswer) -> u64 {
    let value = match answer {
        CallAnswer::Done => code::SUCCESS,
        CallAnswer::AlreadyOn => code::ALREADY_ON,
        CallAnswer::OnPending => code::ON_PENDING,
        CallAnswer::NoSuchCpu => code::INVALID_PARAMETERS,
        CallAnswer::BadAddress => code::INVALID_ADDRESS,
        // A core in a retention state is ON for AFFINITY_INFO.
        CallAnswer::StatusOn | CallAnswer::StatusSuspended => 0,
        CallAnswer::StatusOff => 1,
        CallAnswer::StatusPending => 2,
        // PSCI has no console calls; nothing asks for these answers.
        CallAnswer::Bytes(_)
        | CallAnswer::Byte(_)
        | CallAnswer::BadBuffer
        | CallAnswer::NoConsole => code::NOT_SUPPORTED,
    };
    value as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_features() {
        assert_eq!(
            decode([PSCI_VERSION as u64, 0, 0, 0]),
            Call::Answer(0x10001)
        );
        assert_eq!(
            decode([PSCI_FEATURES as u64, CPU_ON_64 as u64, 0, 0]),
            Call::Answer(0)
        );
        assert_eq!(
            decode([PSCI_FEATURES as u64, 0xC400_0012, 0, 0]),
            Call::Answer(code::NOT_SUPPORTED as u64)
        );
    }

    #[test]
    fn cpu_on_narrows_smc32_arguments() {
        let call = decode([CPU_ON_32 as u64, 0xffff_0000_0000_0001, 0x1_4008_0000, 7]);
        assert_eq!(
            call,
            Call::CpuOn {
                target: 1,
                entry: 0x4008_0000,
                context: 7
            }
        );
        let call = decode([CPU_ON_64 as u64, 0x100, 0x1_4008_0000, 7]);
        assert_eq!(
            call,
            Call::CpuOn {
                target: 0x100,
                entry: 0x1_4008_0000,
                context: 7
            }
        );
    }

    #[test]
    fn unknown_functions_and_bad_levels_are_refused() {
        assert_eq!(
            decode([0xC200_0000, 0, 0, 0]),
            Call::Answer(code::NOT_SUPPORTED as u64)
        );
        assert_eq!(
            decode([0xffff_ffff_8400_0000, 0, 0, 0]),
            Call::Answer(VERSION_1_1)
        );
        assert_eq!(
            decode([AFFINITY_INFO_64 as u64, 1, 1, 0]),
            Call::Answer(code::INVALID_PARAMETERS as u64)
        );
        assert_eq!(
            decode([AFFINITY_INFO_64 as u64, 1, 0, 0]),
            Call::AffinityInfo { target: 1 }
        );
    }

    #[test]
    fn answers_encode_to_psci_codes() {
        assert_eq!(encode_answer(CallAnswer::Done), 0);
        assert_eq!(encode_answer(CallAnswer::AlreadyOn) as i64, -4);
        assert_eq!(encode_answer(CallAnswer::BadAddress) as i64, -9);
        assert_eq!(encode_answer(CallAnswer::NoSuchCpu) as i64, -2);
        assert_eq!(encode_answer(CallAnswer::StatusOff), 1);
    }
}
