//! Tests of the power and reset ports.

use crate::power::{AcpiPmControl, KeyboardReset, PowerLatch, PowerRequest, ResetControl};
use crate::{AccessWidth, PortDevice};
use alloc::sync::Arc;

#[test]
fn s5_powers_off_and_other_sleep_states_do_not() {
    let latch = Arc::new(PowerLatch::default());
    let mut pm = AcpiPmControl::new(latch.clone());
    pm.write(0, AccessWidth::Half, 1 << 10 | 1 << 13).unwrap();
    assert_eq!(latch.take(), None);
    pm.write(0, AccessWidth::Half, 1 << 13).unwrap();
    assert_eq!(latch.take(), Some(PowerRequest::Off));
    assert_eq!(latch.take(), None);
    pm.write(0, AccessWidth::Word, 5 << 10 | 1 << 13).unwrap();
    assert_eq!(latch.take(), Some(PowerRequest::Off));
    // SLP_TYP reads back, SLP_EN does not.
    assert_eq!(pm.read(0, AccessWidth::Half).unwrap(), 5 << 10);
    assert_eq!(pm.read(1, AccessWidth::Byte).unwrap(), (5 << 10) >> 8);
}

#[test]
fn pm_control_refuses_byte_writes() {
    let latch = Arc::new(PowerLatch::default());
    let mut pm = AcpiPmControl::new(latch.clone());
    assert!(pm.write(1, AccessWidth::Byte, 0x20).is_err());
    assert!(pm.write(0, AccessWidth::Byte, 0x20).is_err());
    assert_eq!(latch.take(), None);
}

#[test]
fn reset_control_and_keyboard_reset() {
    let latch = Arc::new(PowerLatch::default());
    let mut cf9 = ResetControl::new(latch.clone());
    cf9.write(0, AccessWidth::Byte, 0x02).unwrap();
    assert_eq!(latch.take(), None);
    assert_eq!(cf9.read(0, AccessWidth::Byte).unwrap(), 0x02);
    cf9.write(0, AccessWidth::Byte, 0x06).unwrap();
    assert_eq!(latch.take(), Some(PowerRequest::Reset));
    let mut kbd = KeyboardReset::new(latch.clone());
    assert_eq!(kbd.read(0, AccessWidth::Byte).unwrap(), 0);
    kbd.write(0, AccessWidth::Byte, 0xaa).unwrap();
    assert_eq!(latch.take(), None);
    kbd.write(0, AccessWidth::Byte, 0xfe).unwrap();
    assert_eq!(latch.take(), Some(PowerRequest::Reset));
}
