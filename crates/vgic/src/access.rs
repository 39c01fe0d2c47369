//! Checks shared by every frame: range, alignment and the widths a register allows.
//!
//! Arm IHI 0069 says which accesses a GICv3 register supports: 32-bit accesses to
//! every register, 8-bit accesses to the byte arrays (IPRIORITYR, ITARGETSR,
//! CPENDSGIR, SPENDSGIR), and 64-bit accesses, or 32-bit accesses to either half,
//! to the 64-bit registers (GICD_IROUTER, GICR_TYPER, the LPI registers). No
//! register takes a 16-bit access. Accesses must be naturally aligned.

use crate::{AccessWidth, DeviceError};

/// The accesses a register location takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RegClass {
    /// A 32-bit register: 32-bit accesses only.
    Word,
    /// An array of byte registers: 8-bit or 32-bit accesses.
    Bytes,
    /// A 64-bit register: 64-bit accesses or 32-bit accesses to a half.
    Double,
}

/// Refuses an access that does not fit in a frame of `size` bytes.
pub(crate) fn check_range(offset: u64, width: AccessWidth, size: u64) -> Result<(), DeviceError> {
    match offset.checked_add(width.bytes()) {
        Some(end) if end <= size => Ok(()),
        _ => Err(DeviceError::NoRegister { offset }),
    }
}

/// Refuses an access that is not naturally aligned.
pub(crate) fn check_alignment(offset: u64, width: AccessWidth) -> Result<(), DeviceError> {
    if offset.is_multiple_of(width.bytes()) {
        Ok(())
    } else {
        Err(DeviceError::Unaligned { offset, width })
    }
}

/// Refuses a width the register does not take; `offset` is only for the error.
pub(crate) fn check_width(
    offset: u64,
    width: AccessWidth,
    class: RegClass,
) -> Result<(), DeviceError> {
    let allowed = match width {
        AccessWidth::Byte => class == RegClass::Bytes,
        AccessWidth::Half => false,
        AccessWidth::Word => true,
        AccessWidth::Double => class == RegClass::Double,
    };
    if allowed {
        Ok(())
    } else {
        Err(DeviceError::BadWidth { offset, width })
    }
}

/// What a `width` read at `offset` returns from a 64-bit register holding `reg`:
/// the whole register, or the half `offset` names.
pub(crate) fn read_part64(reg: u64, offset: u64, width: AccessWidth) -> u64 {
    match width {
        AccessWidth::Double => reg,
        _ if offset & 4 != 0 => reg >> 32,
        _ => reg & 0xffff_ffff,
    }
}

/// The value a 64-bit register holding `reg` would have after a `width` write of
/// `value` at `offset` (a 32-bit write replaces one half).
pub(crate) fn merge_part64(reg: u64, offset: u64, width: AccessWidth, value: u64) -> u64 {
    match width {
        AccessWidth::Double => value,
        _ if offset & 4 != 0 => (reg & 0xffff_ffff) | ((value & 0xffff_ffff) << 32),
        _ => (reg & !0xffff_ffff) | (value & 0xffff_ffff),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_handles_overflow() {
        assert!(check_range(0xfffc, AccessWidth::Word, 0x1_0000).is_ok());
        assert!(check_range(0xfffd, AccessWidth::Word, 0x1_0000).is_err());
        assert!(check_range(u64::MAX, AccessWidth::Byte, 0x1_0000).is_err());
    }

    #[test]
    fn halves_of_64_bit_registers() {
        let reg = 0x1122_3344_5566_7788;
        assert_eq!(read_part64(reg, 0, AccessWidth::Word), 0x5566_7788);
        assert_eq!(read_part64(reg, 4, AccessWidth::Word), 0x1122_3344);
        assert_eq!(read_part64(reg, 0, AccessWidth::Double), reg);
        assert_eq!(
            merge_part64(reg, 4, AccessWidth::Word, 0xaabb_ccdd),
            0xaabb_ccdd_5566_7788
        );
        assert_eq!(
            merge_part64(reg, 0, AccessWidth::Word, 0xffff_aabb_ccdd),
            0x1122_3344_aabb_ccdd
        );
    }
}
