//! Calls to the machine-mode firmware (OpenSBI) through the SBI: hart state
//! management, IPIs, remote fences, system reset.

use core::arch::asm;

/// HSM extension id and functions.
const EID_HSM: u64 = 0x48534D;
const HSM_HART_START: u64 = 0;
/// IPI extension id.
const EID_IPI: u64 = 0x735049;
/// RFENCE extension id, remote FENCE.I function.
const EID_RFENCE: u64 = 0x52464E43;
const RFENCE_FENCE_I: u64 = 0;
/// RFENCE remote HFENCE.GVMA for one VMID.
const RFENCE_HFENCE_GVMA_VMID: u64 = 3;
/// RFENCE remote HFENCE.VVMA (for the VMID in the calling hart's hgatp).
const RFENCE_HFENCE_VVMA: u64 = 6;
/// System reset extension id; shutdown type.
const EID_SRST: u64 = 0x53525354;
const SRST_SHUTDOWN: u64 = 0;

/// An SBI call with arguments a0-a4; returns (error, value).
fn call5(eid: u64, fid: u64, args: [u64; 5]) -> (i64, u64) {
    let (error, value): (i64, u64);
    // SAFETY: an ecall to the firmware, which follows the SBI calling convention and
    // only changes a0/a1.
    unsafe {
        asm!("ecall", inlateout("a0") args[0] => error, inlateout("a1") args[1] => value,
             in("a2") args[2], in("a3") args[3], in("a4") args[4], in("a6") fid,
             in("a7") eid, options(nostack));
    }
    (error, value)
}

/// An SBI call with arguments a0-a3; returns (error, value).
fn call4(eid: u64, fid: u64, args: [u64; 4]) -> (i64, u64) {
    let [a0, a1, a2, a3] = args;
    call5(eid, fid, [a0, a1, a2, a3, 0])
}

/// An SBI call with arguments a0-a2; returns (error, value).
fn call(eid: u64, fid: u64, a0: u64, a1: u64, a2: u64) -> (i64, u64) {
    call4(eid, fid, [a0, a1, a2, 0])
}

/// Starts hart `hart` at physical address `entry` with `opaque` in a1.
pub fn hart_start(hart: u64, entry: u64, opaque: u64) -> Result<(), i64> {
    match call(EID_HSM, HSM_HART_START, hart, entry, opaque) {
        (0, _) => Ok(()),
        (error, _) => Err(error),
    }
}

/// Sends a supervisor software interrupt to the harts of `mask` (relative to `base`;
/// `base` = u64::MAX means every hart).
pub fn send_ipi(mask: u64, base: u64) {
    call(EID_IPI, 0, mask, base, 0);
}

/// FENCE.I on the harts of `mask` (relative to `base`; `base` = u64::MAX means
/// every hart).
pub fn remote_fence_i(mask: u64, base: u64) {
    call(EID_RFENCE, RFENCE_FENCE_I, mask, base, 0);
}

/// HFENCE.VVMA on the harts of `mask` (relative to `base`; `base` = u64::MAX means
/// every hart) for the VMID in this hart's hgatp: every guest translation of the
/// loaded VM there is dropped.
pub fn remote_hfence_vvma(mask: u64, base: u64) {
    call4(EID_RFENCE, RFENCE_HFENCE_VVMA, [mask, base, 0, u64::MAX]);
}

/// HFENCE.GVMA for VMID `vmid` (every guest-physical address) on the harts of `mask`
/// (relative to `base`; `base` = u64::MAX means every hart).
pub fn remote_hfence_gvma_vmid(mask: u64, base: u64, vmid: u64) {
    call5(
        EID_RFENCE,
        RFENCE_HFENCE_GVMA_VMID,
        [mask, base, 0, u64::MAX, vmid],
    );
}

/// Powers the machine off.
pub fn shutdown() {
    call(EID_SRST, 0, SRST_SHUTDOWN, 0, 0);
}
