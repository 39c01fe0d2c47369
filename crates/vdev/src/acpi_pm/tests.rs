//! Tests of the ACPI PM timer and PM1 event block.

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

#[test]
fn the_timer_counts_at_its_rate_from_vm_time() {
    let mut timer = PmTimer;
    assert_eq!(timer.read_at(0, Word, 0), Ok(0));
    assert_eq!(timer.read_at(0, Word, 1_000_000_000), Ok(3_579_545));
    assert_eq!(
        timer.read_at(0, Word, 1_000),
        Ok(3),
        "3.58 ticks in a microsecond"
    );
    // All 32 bits count, then wrap.
    let wrap_ns = (1u64 << 32) * 1_000_000_000 / 3_579_545 + 1;
    assert!(timer.read_at(0, Word, wrap_ns).unwrap() < 4);
    assert!(timer.read_at(0, Word, wrap_ns - 300).unwrap() > u32::MAX - 2000);
}

#[test]
fn the_timer_reads_in_parts_and_refuses_writes() {
    let mut timer = PmTimer;
    let now = 0x1234_5678u64 * 1_000_000_000 / 3_579_545 + 1;
    let count = PmTimer::count(now);
    assert_eq!(timer.read_at(2, Half, now), Ok(count >> 16));
    assert_eq!(timer.read_at(3, Byte, now), Ok(count >> 24));
    assert_eq!(timer.read_at(0, Half, now), Ok(count & 0xffff));
    assert!(matches!(
        timer.read_at(1, Half, now),
        Err(DeviceError::Unaligned { .. })
    ));
    assert!(matches!(
        timer.read_at(0, Double, now),
        Err(DeviceError::BadWidth { .. })
    ));
    assert!(matches!(
        timer.read_at(4, Byte, now),
        Err(DeviceError::BadWidth { .. })
    ));
    assert_eq!(
        timer.write_at(0, Word, 0, now),
        Err(DeviceError::ReadOnly { offset: 0 })
    );
}

#[test]
fn pm1_status_reads_zero_and_enable_keeps_what_is_written() {
    let mut event = PmEvent::new();
    assert_eq!(PortDevice::read(&mut event, 0, Word), Ok(0));
    PortDevice::write(&mut event, 2, Half, 0x0121).unwrap();
    assert_eq!(PortDevice::read(&mut event, 2, Half), Ok(0x0121));
    assert_eq!(PortDevice::read(&mut event, 0, Half), Ok(0), "no event");
    // Writing ones to the status clears nothing and keeps the enables.
    PortDevice::write(&mut event, 0, Half, 0xffff).unwrap();
    assert_eq!(PortDevice::read(&mut event, 0, Word), Ok(0x0121_0000));
    // A 32-bit write sets the enables from its high half; bytes reach one half.
    PortDevice::write(&mut event, 0, Word, 0x0300_ffff).unwrap();
    assert_eq!(PortDevice::read(&mut event, 2, Half), Ok(0x0300));
    PortDevice::write(&mut event, 2, Byte, 0x01).unwrap();
    assert_eq!(PortDevice::read(&mut event, 2, Half), Ok(0x0301));
    assert!(PortDevice::write(&mut event, 3, Half, 1).is_err());
}
