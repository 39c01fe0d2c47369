//! The device tree the boot loader or firmware hands the hypervisor (x0 on aarch64,
//! a1 on riscv64), read in place: its address is checked and its header's magic and
//! size bound the slice.

/// Largest device tree accepted from the boot loader.
const MAX_DTB_SIZE: usize = 2 << 20;

/// The blob at physical address `addr`, if a plausible device tree starts there.
///
/// # Safety
/// `addr` must be what the boot loader passed for its device tree (or 0): memory the
/// hypervisor never hands out, in the identity-mapped low 4 GiB.
pub unsafe fn blob_at(addr: u64) -> Option<&'static [u8]> {
    if addr == 0 || !addr.is_multiple_of(8) || addr >= 1 << 32 {
        return None;
    }
    // SAFETY: per the contract, 8 bytes at `addr` are readable: the FDT header's magic
    // and total size.
    let header = unsafe { core::slice::from_raw_parts(addr as *const u8, 8) };
    if header.get(..4) != Some(&[0xd0, 0x0d, 0xfe, 0xed][..]) {
        return None;
    }
    let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if size > MAX_DTB_SIZE {
        return None;
    }
    // SAFETY: as above, for the size the header gives.
    Some(unsafe { core::slice::from_raw_parts(addr as *const u8, size) })
}
