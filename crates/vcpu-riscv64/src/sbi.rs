//! The RISC-V Supervisor Binary Interface (SBI specification v2.0) as the hypervisor
//! offers it to its guests: decoding an `ecall` made from VS-mode into what it asks
//! for, and the return values.
//!
//! A call passes the extension id (EID) in a7, the function id (FID) in a6 and its
//! arguments in a0..a5; it returns an error code in a0 and a value in a1. EIDs and
//! FIDs are 32-bit values sign-extended into the registers; every id here is below
//! 2^31, so a register with other upper bits names no extension or function.
//!
//! Legacy extensions (EIDs 0x00..=0x0F, SBI v0.1) ignore a6, return only a0 and must
//! leave every other register, a1 included, unchanged: see [`is_legacy`].

mod hart_mask;

pub use hart_mask::HartMask;
use tessera_vcpu::CallAnswer;

/// SBI error codes, returned in a0 (as the signed values the guest sees).
pub mod error {
    /// SBI_SUCCESS: completed successfully.
    pub const SUCCESS: i64 = 0;
    /// SBI_ERR_FAILED: failed.
    pub const FAILED: i64 = -1;
    /// SBI_ERR_NOT_SUPPORTED: not supported.
    pub const NOT_SUPPORTED: i64 = -2;
    /// SBI_ERR_INVALID_PARAM: invalid parameter(s).
    pub const INVALID_PARAM: i64 = -3;
    /// SBI_ERR_DENIED: denied or not allowed.
    pub const DENIED: i64 = -4;
    /// SBI_ERR_INVALID_ADDRESS: invalid address(es).
    pub const INVALID_ADDRESS: i64 = -5;
    /// SBI_ERR_ALREADY_AVAILABLE: already available.
    pub const ALREADY_AVAILABLE: i64 = -6;
    /// SBI_ERR_ALREADY_STARTED: already started.
    pub const ALREADY_STARTED: i64 = -7;
    /// SBI_ERR_ALREADY_STOPPED: already stopped.
    pub const ALREADY_STOPPED: i64 = -8;
}

/// Extension ids (a7).
pub mod eid {
    /// Legacy sbi_set_timer.
    pub const LEGACY_SET_TIMER: u64 = 0x00;
    /// Legacy sbi_console_putchar.
    pub const LEGACY_CONSOLE_PUTCHAR: u64 = 0x01;
    /// Legacy sbi_console_getchar.
    pub const LEGACY_CONSOLE_GETCHAR: u64 = 0x02;
    /// Legacy sbi_clear_ipi (not supported).
    pub const LEGACY_CLEAR_IPI: u64 = 0x03;
    /// Legacy sbi_send_ipi, with a pointer to a hart mask (not supported).
    pub const LEGACY_SEND_IPI: u64 = 0x04;
    /// Legacy sbi_remote_fence_i, with a pointer to a hart mask (not supported).
    pub const LEGACY_REMOTE_FENCE_I: u64 = 0x05;
    /// Legacy sbi_remote_sfence_vma, with a pointer to a hart mask (not supported).
    pub const LEGACY_REMOTE_SFENCE_VMA: u64 = 0x06;
    /// Legacy sbi_remote_sfence_vma_asid, with a pointer to a hart mask (not supported).
    pub const LEGACY_REMOTE_SFENCE_VMA_ASID: u64 = 0x07;
    /// Legacy sbi_shutdown.
    pub const LEGACY_SHUTDOWN: u64 = 0x08;
    /// Base extension.
    pub const BASE: u64 = 0x10;
    /// Timer extension ("TIME").
    pub const TIME: u64 = 0x5449_4D45;
    /// IPI extension ("sPI").
    pub const IPI: u64 = 0x73_5049;
    /// Remote fence extension ("RFNC").
    pub const RFENCE: u64 = 0x5246_4E43;
    /// Hart state management extension ("HSM").
    pub const HSM: u64 = 0x48_534D;
    /// System reset extension ("SRST").
    pub const SRST: u64 = 0x5352_5354;
    /// Debug console extension ("DBCN").
    pub const DBCN: u64 = 0x4442_434E;
}

/// Function ids (a6) of the extensions implemented.
pub mod fid {
    /// Base: sbi_get_spec_version.
    pub const GET_SPEC_VERSION: u64 = 0;
    /// Base: sbi_get_impl_id.
    pub const GET_IMPL_ID: u64 = 1;
    /// Base: sbi_get_impl_version.
    pub const GET_IMPL_VERSION: u64 = 2;
    /// Base: sbi_probe_extension.
    pub const PROBE_EXTENSION: u64 = 3;
    /// Base: sbi_get_mvendorid.
    pub const GET_MVENDORID: u64 = 4;
    /// Base: sbi_get_marchid.
    pub const GET_MARCHID: u64 = 5;
    /// Base: sbi_get_mimpid.
    pub const GET_MIMPID: u64 = 6;
    /// TIME: sbi_set_timer.
    pub const SET_TIMER: u64 = 0;
    /// IPI: sbi_send_ipi.
    pub const SEND_IPI: u64 = 0;
    /// RFENCE: sbi_remote_fence_i.
    pub const REMOTE_FENCE_I: u64 = 0;
    /// RFENCE: sbi_remote_sfence_vma.
    pub const REMOTE_SFENCE_VMA: u64 = 1;
    /// RFENCE: sbi_remote_sfence_vma_asid.
    pub const REMOTE_SFENCE_VMA_ASID: u64 = 2;
    /// RFENCE: sbi_remote_hfence_gvma_vmid (for harts with the H extension).
    pub const REMOTE_HFENCE_GVMA_VMID: u64 = 3;
    /// RFENCE: sbi_remote_hfence_gvma (for harts with the H extension).
    pub const REMOTE_HFENCE_GVMA: u64 = 4;
    /// RFENCE: sbi_remote_hfence_vvma_asid (for harts with the H extension).
    pub const REMOTE_HFENCE_VVMA_ASID: u64 = 5;
    /// RFENCE: sbi_remote_hfence_vvma (for harts with the H extension).
    pub const REMOTE_HFENCE_VVMA: u64 = 6;
    /// HSM: sbi_hart_start.
    pub const HART_START: u64 = 0;
    /// HSM: sbi_hart_stop.
    pub const HART_STOP: u64 = 1;
    /// HSM: sbi_hart_get_status.
    pub const HART_GET_STATUS: u64 = 2;
    /// HSM: sbi_hart_suspend.
    pub const HART_SUSPEND: u64 = 3;
    /// SRST: sbi_system_reset.
    pub const SYSTEM_RESET: u64 = 0;
    /// DBCN: sbi_debug_console_write.
    pub const CONSOLE_WRITE: u64 = 0;
    /// DBCN: sbi_debug_console_read.
    pub const CONSOLE_READ: u64 = 1;
    /// DBCN: sbi_debug_console_write_byte.
    pub const CONSOLE_WRITE_BYTE: u64 = 2;
}

/// HSM hart states, the value sbi_hart_get_status returns.
pub mod hart_state {
    /// STARTED: the hart is running.
    pub const STARTED: u64 = 0;
    /// STOPPED: the hart is not running.
    pub const STOPPED: u64 = 1;
    /// START_PENDING: a start of the hart is under way.
    pub const START_PENDING: u64 = 2;
    /// STOP_PENDING: a stop of the hart is under way.
    pub const STOP_PENDING: u64 = 3;
    /// SUSPENDED: the hart is suspended.
    pub const SUSPENDED: u64 = 4;
    /// SUSPEND_PENDING: a suspend of the hart is under way.
    pub const SUSPEND_PENDING: u64 = 5;
    /// RESUME_PENDING: the hart is resuming from a suspend.
    pub const RESUME_PENDING: u64 = 6;
}

/// The specification version offered, 2.0: major in bits 30:24, minor in bits 23:0.
pub const SPEC_VERSION: u64 = 2 << 24;
/// The implementation id sbi_get_impl_id returns: "TESS" in ASCII, after the way
/// extension ids are chosen. Tessera has no id in the SBI specification's table of
/// implementation ids (which assigns small numbers: 0 BBL, 1 OpenSBI, ...), and this
/// value lies far from those.
pub const IMPL_ID: u64 = 0x5445_5353;
/// The implementation version sbi_get_impl_version returns: 0.1 (Tessera's version),
/// encoded `major << 16 | minor` (the encoding is the implementation's choice).
pub const IMPL_VERSION: u64 = 1;

/// sbi_hart_suspend type: default retentive suspend.
const SUSPEND_RETENTIVE: u64 = 0x0000_0000;
/// sbi_hart_suspend type: default non-retentive suspend.
const SUSPEND_NON_RETENTIVE: u64 = 0x8000_0000;
/// sbi_system_reset reason: no reason.
const RESET_REASON_NONE: u64 = 0;
/// sbi_system_reset reason: system failure.
const RESET_REASON_FAILURE: u64 = 1;

/// The kind of reset sbi_system_reset asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    /// Reset type 0: power the system off.
    Shutdown,
    /// Reset type 1: cold reboot (a power cycle).
    ColdReboot,
    /// Reset type 2: warm reboot (the power stays on).
    WarmReboot,
}

/// What a remote fence call orders on its target harts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fence {
    /// FENCE.I: instruction fetches see earlier stores (sbi_remote_fence_i).
    Instructions,
    /// The guest's address translations (sbi_remote_sfence_vma and its ASID form):
    /// on a hart of the hypervisor, an HFENCE.VVMA for the VM's VMID.
    Translations,
}

/// What an SBI call asks for.
///
/// For a legacy call ([`is_legacy`]) only a0 is written back: the `error` of an
/// [`Answer`](Self::Answer), or the result the legacy function defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbiCall {
    /// Answered at once: `error` in a0, `value` in a1. Covers the base extension,
    /// unknown extensions and functions (NOT_SUPPORTED), and calls refused for their
    /// arguments.
    Answer {
        /// Error code (see [`error`]).
        error: i64,
        /// Return value.
        value: u64,
    },
    /// sbi_set_timer (TIME, or legacy EID 0x00): the next timer interrupt at time
    /// `deadline`; also clears the pending timer interrupt. Returns SUCCESS.
    SetTimer {
        /// Absolute `time` value.
        deadline: u64,
    },
    /// sbi_send_ipi: a supervisor software interrupt to each hart of `targets`.
    SendIpi {
        /// The harts named.
        targets: HartMask,
    },
    /// sbi_remote_fence_i, sbi_remote_sfence_vma or sbi_remote_sfence_vma_asid: the
    /// hypervisor fences the physical harts of the targets (a remote sfence.vma as
    /// the whole VS-stage TLB of the VM, so the range and ASID do not matter) and
    /// answers SUCCESS.
    RemoteFence {
        /// The harts named.
        targets: HartMask,
        /// What is fenced.
        fence: Fence,
    },
    /// sbi_hart_start: start hart `hart` in S-mode at `start_addr` with its hart id
    /// in a0 and `opaque` in a1. Answer with [`encode_answer`].
    HartStart {
        /// Hart id of the target.
        hart: u64,
        /// Guest-physical start address.
        start_addr: u64,
        /// Value for the new hart's a1.
        opaque: u64,
    },
    /// sbi_hart_stop: stop the calling hart. Does not return on success.
    HartStop,
    /// sbi_hart_get_status of `hart`. Answer with [`encode_answer`].
    HartStatus {
        /// Hart id asked about.
        hart: u64,
    },
    /// sbi_hart_suspend: wait for an interrupt, other harts seeing the hart SUSPENDED
    /// meanwhile; then, for the default retentive suspend (`resume` none), return
    /// SUCCESS at the next instruction, for the default non-retentive one resume at
    /// `resume` = (resume_addr, opaque) as a hart started there.
    HartSuspend {
        /// resume_addr and opaque of a non-retentive suspend.
        resume: Option<(u64, u64)>,
    },
    /// sbi_system_reset of the whole VM.
    SystemReset {
        /// Shutdown, cold or warm reboot.
        kind: ResetKind,
        /// The reason given was "system failure" (1) rather than "no reason" (0).
        failure: bool,
    },
    /// sbi_debug_console_write: write `len` bytes from guest-physical `addr`; returns
    /// the number of bytes written in a1.
    ConsoleWrite {
        /// Number of bytes.
        len: u64,
        /// Guest-physical address of the first byte.
        addr: u64,
    },
    /// sbi_debug_console_read: read up to `len` bytes into guest-physical `addr`;
    /// returns the number of bytes read in a1 (0 when none are waiting).
    ConsoleRead {
        /// Size of the buffer.
        len: u64,
        /// Guest-physical address of the buffer.
        addr: u64,
    },
    /// sbi_debug_console_write_byte: write one byte.
    ConsoleWriteByte(u8),
    /// Legacy sbi_console_putchar (EID 0x01): write one byte; 0 in a0.
    LegacyPutchar(u8),
    /// Legacy sbi_console_getchar (EID 0x02): a byte read in a0, or -1 when none waits.
    LegacyGetchar,
    /// Legacy sbi_shutdown (EID 0x08): power the VM off. Does not return.
    LegacyShutdown,
}

/// Whether `eid` (a7) names a legacy (SBI v0.1) extension, whose calls return only
/// a0 and leave a1 unchanged.
pub fn is_legacy(eid: u64) -> bool {
    eid <= 0x0F
}

/// Whether sbi_probe_extension reports `eid` as available.
///
/// The legacy extensions 0x03..=0x07 are not offered: they pass hart masks as
/// pointers into guest memory, which the hypervisor would have to translate and read,
/// and every guest written for SBI v0.2 or later (Linux included) uses the IPI and
/// RFENCE extensions instead. 0x03 (clear IPI) goes with them: a guest clears its
/// software interrupt in sip itself.
///
/// The consoles (legacy 0x01/0x02 and DBCN) are offered: they reach the VM's console,
/// the same one its emulated UART writes to.
pub fn is_implemented(eid: u64) -> bool {
    matches!(
        eid,
        eid::LEGACY_SET_TIMER
            | eid::LEGACY_CONSOLE_PUTCHAR
            | eid::LEGACY_CONSOLE_GETCHAR
            | eid::LEGACY_SHUTDOWN
            | eid::BASE
            | eid::TIME
            | eid::IPI
            | eid::RFENCE
            | eid::HSM
            | eid::SRST
            | eid::DBCN
    )
}

/// The a0 and a1 values for an answer.
pub fn answer(error: i64, value: u64) -> (u64, u64) {
    (error as u64, value)
}

/// The a0 and a1 values for the VM layer's answer to [`SbiCall::HartStart`],
/// [`SbiCall::HartStatus`] or a DBCN call ([`SbiCall::ConsoleWrite`],
/// [`SbiCall::ConsoleRead`], [`SbiCall::ConsoleWriteByte`]).
pub fn encode_answer(call_answer: CallAnswer) -> (u64, u64) {
    match call_answer {
        CallAnswer::Done => answer(error::SUCCESS, 0),
        // A hart being started is as unavailable for another start as a running one.
        CallAnswer::AlreadyOn | CallAnswer::OnPending => answer(error::ALREADY_AVAILABLE, 0),
        CallAnswer::NoSuchCpu => answer(error::INVALID_PARAM, 0),
        CallAnswer::BadAddress => answer(error::INVALID_ADDRESS, 0),
        CallAnswer::StatusOn => answer(error::SUCCESS, hart_state::STARTED),
        CallAnswer::StatusOff => answer(error::SUCCESS, hart_state::STOPPED),
        CallAnswer::StatusPending => answer(error::SUCCESS, hart_state::START_PENDING),
        CallAnswer::StatusSuspended => answer(error::SUCCESS, hart_state::SUSPENDED),
        CallAnswer::Bytes(count) => answer(error::SUCCESS, count),
        CallAnswer::Byte(_) => answer(error::SUCCESS, 0),
        CallAnswer::BadBuffer => answer(error::INVALID_PARAM, 0),
        CallAnswer::NoConsole => answer(error::DENIED, 0),
    }
}

/// The a0 value for the VM layer's answer to a legacy console call
/// ([`SbiCall::LegacyPutchar`], [`SbiCall::LegacyGetchar`]): 0 or the byte read on
/// success, -1 (as the guest sees it) when nothing was typed or the call failed.
pub fn encode_legacy_console_answer(call_answer: CallAnswer) -> u64 {
    match call_answer {
        CallAnswer::Byte(Some(byte)) => u64::from(byte),
        CallAnswer::Bytes(_) | CallAnswer::Done => 0,
        _ => error::FAILED as u64,
    }
}

/// Decodes a call from the guest's a0..a7 (`a[6]` is the FID, `a[7]` the EID).
///
/// Unknown extensions and unknown functions of known extensions, legacy extensions
/// 0x03..=0x07 (see [`is_implemented`]) and 0x09..=0x0F included, are answered
/// NOT_SUPPORTED.
pub fn decode(a: [u64; 8]) -> SbiCall {
    let [a0, a1, a2, _, _, _, fid, eid] = a;
    match eid {
        eid::LEGACY_SET_TIMER => SbiCall::SetTimer { deadline: a0 },
        eid::LEGACY_CONSOLE_PUTCHAR => SbiCall::LegacyPutchar(a0 as u8),
        eid::LEGACY_CONSOLE_GETCHAR => SbiCall::LegacyGetchar,
        eid::LEGACY_SHUTDOWN => SbiCall::LegacyShutdown,
        eid::BASE => base(fid, a0),
        eid::TIME if fid == fid::SET_TIMER => SbiCall::SetTimer { deadline: a0 },
        eid::IPI if fid == fid::SEND_IPI => SbiCall::SendIpi {
            targets: HartMask::new(a0, a1),
        },
        // The hfence functions (3..=6) are only for harts with the H extension, which
        // guests do not get: NOT_SUPPORTED, as the specification asks.
        eid::RFENCE if fid <= fid::REMOTE_SFENCE_VMA_ASID => SbiCall::RemoteFence {
            targets: HartMask::new(a0, a1),
            fence: if fid == fid::REMOTE_FENCE_I {
                Fence::Instructions
            } else {
                Fence::Translations
            },
        },
        eid::HSM => hsm(fid, a0, a1, a2),
        eid::SRST if fid == fid::SYSTEM_RESET => system_reset(a0, a1),
        eid::DBCN => console(fid, a0, a1, a2),
        _ => refuse(error::NOT_SUPPORTED),
    }
}

/// An answer with `error` and no value.
fn refuse(error: i64) -> SbiCall {
    SbiCall::Answer { error, value: 0 }
}

/// A successful answer with `value`.
fn success(value: u64) -> SbiCall {
    SbiCall::Answer {
        error: error::SUCCESS,
        value,
    }
}

/// The base extension, answered in place.
fn base(function: u64, a0: u64) -> SbiCall {
    match function {
        fid::GET_SPEC_VERSION => success(SPEC_VERSION),
        fid::GET_IMPL_ID => success(IMPL_ID),
        fid::GET_IMPL_VERSION => success(IMPL_VERSION),
        fid::PROBE_EXTENSION => success(u64::from(is_implemented(a0))),
        // 0 is always a legal value for mvendorid, marchid and mimpid.
        fid::GET_MVENDORID | fid::GET_MARCHID | fid::GET_MIMPID => success(0),
        _ => refuse(error::NOT_SUPPORTED),
    }
}

/// The hart state management extension.
fn hsm(function: u64, a0: u64, a1: u64, a2: u64) -> SbiCall {
    match function {
        fid::HART_START => SbiCall::HartStart {
            hart: a0,
            start_addr: a1,
            opaque: a2,
        },
        fid::HART_STOP => SbiCall::HartStop,
        fid::HART_GET_STATUS => SbiCall::HartStatus { hart: a0 },
        // The suspend type is a 32-bit value: the upper register bits are ignored.
        fid::HART_SUSPEND => match a0 & 0xffff_ffff {
            SUSPEND_RETENTIVE => SbiCall::HartSuspend { resume: None },
            SUSPEND_NON_RETENTIVE => SbiCall::HartSuspend {
                resume: Some((a1, a2)),
            },
            // Reserved, or platform-specific (none exist here).
            _ => refuse(error::INVALID_PARAM),
        },
        _ => refuse(error::NOT_SUPPORTED),
    }
}

/// sbi_system_reset: type in a0, reason in a1.
///
/// Reserved and vendor-specific types, and reasons other than "no reason" and
/// "system failure" (reserved, or implementation- or vendor-specific ones, none of
/// which exist here), are refused with INVALID_PARAM.
/// Both are 32-bit values: the upper register bits are ignored.
fn system_reset(kind: u64, reason: u64) -> SbiCall {
    let (kind, reason) = (kind & 0xffff_ffff, reason & 0xffff_ffff);
    if reason != RESET_REASON_NONE && reason != RESET_REASON_FAILURE {
        return refuse(error::INVALID_PARAM);
    }
    let kind = match kind {
        0 => ResetKind::Shutdown,
        1 => ResetKind::ColdReboot,
        2 => ResetKind::WarmReboot,
        _ => return refuse(error::INVALID_PARAM),
    };
    SbiCall::SystemReset {
        kind,
        failure: reason == RESET_REASON_FAILURE,
    }
}

/// The debug console extension.
///
/// The buffer address comes in two registers: base_addr_lo holds its low XLEN bits
/// and base_addr_hi its high XLEN bits, so on RV64 a1 is the whole 64-bit address and
/// a2 holds bits 127:64. A nonzero a2 names memory beyond any guest's reach and is
/// refused with INVALID_PARAM.
fn console(function: u64, a0: u64, a1: u64, a2: u64) -> SbiCall {
    match function {
        fid::CONSOLE_WRITE | fid::CONSOLE_READ if a2 != 0 => refuse(error::INVALID_PARAM),
        fid::CONSOLE_WRITE => SbiCall::ConsoleWrite { len: a0, addr: a1 },
        fid::CONSOLE_READ => SbiCall::ConsoleRead { len: a0, addr: a1 },
        fid::CONSOLE_WRITE_BYTE => SbiCall::ConsoleWriteByte(a0 as u8),
        _ => refuse(error::NOT_SUPPORTED),
    }
}
