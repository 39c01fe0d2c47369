//! Tests of the MC146818 model.

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

/// 2023-11-14 22:13:20 UTC, a Tuesday.
const T0: u64 = 1_700_000_000;
const SECOND: u64 = 1_000_000_000;

/// Reads register `index` at `now`.
fn reg(c: &mut Cmos, index: u8, now: u64) -> u8 {
    c.write_at(0, Byte, index.into(), now).unwrap();
    c.read_at(1, Byte, now).unwrap() as u8
}

/// Writes register `index` at `now`.
fn set_reg(c: &mut Cmos, index: u8, value: u8, now: u64) {
    c.write_at(0, Byte, index.into(), now).unwrap();
    c.write_at(1, Byte, value.into(), now).unwrap();
}

/// Seconds, minutes, hours, weekday, day, month, year, century, read in that order.
fn clock(c: &mut Cmos, now: u64) -> [u8; 8] {
    [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(|index| reg(c, index, now))
}

#[test]
fn bcd_24_hour_fields() {
    let mut c = Cmos::new(T0);
    assert_eq!(c.name(), "cmos");
    assert_eq!((Cmos::PORTS.base, Cmos::PORTS.count), (0x70, 2));
    assert_eq!((Cmos::CENTURY, Cmos::IRQ), (0x32, 8));
    assert_eq!(
        clock(&mut c, 0),
        [0x20, 0x13, 0x22, 0x03, 0x14, 0x11, 0x23, 0x20]
    );
    // Two hours on: past midnight, Wednesday the 15th.
    assert_eq!(
        clock(&mut c, 7200 * SECOND + 999_999_999),
        [0x20, 0x13, 0x00, 0x04, 0x15, 0x11, 0x23, 0x20]
    );
    assert_eq!(c.unix_time(7200 * SECOND), T0 + 7200);
}

#[test]
fn status_registers() {
    let mut c = Cmos::new(0);
    assert_eq!(reg(&mut c, 0x0a, 0), 0x26, "UIP clear, 32.768 kHz, 1024 Hz");
    assert_eq!(reg(&mut c, 0x0b, 0), 0x02, "BCD, 24-hour");
    assert_eq!(reg(&mut c, 0x0c, 0), 0x00);
    assert_eq!(reg(&mut c, 0x0d, 0), 0x80, "valid RAM and time");
    // A's UIP bit cannot be written; C and D cannot be written at all.
    set_reg(&mut c, 0x0a, 0xa5, 0);
    assert_eq!(reg(&mut c, 0x0a, 0), 0x25);
    set_reg(&mut c, 0x0c, 0xff, 0);
    set_reg(&mut c, 0x0d, 0x00, 0);
    assert_eq!(reg(&mut c, 0x0c, 0), 0x00);
    assert_eq!(reg(&mut c, 0x0d, 0), 0x80);
    // B's interrupt enables are stored; no interrupt flag ever rises.
    set_reg(&mut c, 0x0b, 0x72, 0);
    assert_eq!(reg(&mut c, 0x0b, 0), 0x72);
    assert_eq!(reg(&mut c, 0x0c, 10 * SECOND), 0x00);
}

#[test]
fn binary_and_12_hour_modes() {
    let mut c = Cmos::new(T0);
    // DM: binary, still 24-hour; shown at once.
    set_reg(&mut c, 0x0b, 0x06, 0);
    assert_eq!(clock(&mut c, 0), [20, 13, 22, 3, 14, 11, 23, 20]);
    // 12-hour binary: 10 PM.
    set_reg(&mut c, 0x0b, 0x04, 0);
    assert_eq!(reg(&mut c, 0x04, 0), 0x80 | 10);
    // 12-hour BCD.
    set_reg(&mut c, 0x0b, 0x00, 0);
    assert_eq!(reg(&mut c, 0x04, 0), 0x90);
    // Midnight is 12 AM, noon 12 PM, 1 AM is 1.
    let midnight = 1_699_920_000;
    for (offset, want) in [
        (0, 0x12),
        (3600, 0x01),
        (12 * 3600, 0x92),
        (13 * 3600, 0x81),
    ] {
        let mut c = Cmos::new(midnight + offset);
        set_reg(&mut c, 0x0b, 0x00, 0);
        assert_eq!(reg(&mut c, 0x04, 0), want, "{offset}");
    }
}

#[test]
fn rollovers() {
    for (unix, want) in [
        // 2000-02-29, a leap day, then 2000-03-01.
        (
            951_868_799,
            [0x59, 0x59, 0x23, 0x03, 0x29, 0x02, 0x00, 0x20],
        ),
        (
            951_868_800,
            [0x00, 0x00, 0x00, 0x04, 0x01, 0x03, 0x00, 0x20],
        ),
        // 2023-02-28 then 2023-03-01.
        (
            1_677_628_800,
            [0x00, 0x00, 0x00, 0x04, 0x01, 0x03, 0x23, 0x20],
        ),
        // 2099-12-31 23:59:59 then 2100-01-01, a new century.
        (
            4_102_444_799,
            [0x59, 0x59, 0x23, 0x05, 0x31, 0x12, 0x99, 0x20],
        ),
        (
            4_102_444_800,
            [0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00, 0x21],
        ),
        // 1970-01-01, a Thursday.
        (0, [0x00, 0x00, 0x00, 0x05, 0x01, 0x01, 0x70, 0x19]),
        // The last time shown.
        (u64::MAX, [0x59, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x99]),
    ] {
        let mut c = Cmos::new(unix);
        assert_eq!(clock(&mut c, 0), want, "{unix}");
    }
}

#[test]
fn reads_after_the_seconds_are_consistent() {
    // 22:13:59, with the minute about to change.
    let mut c = Cmos::new(T0 + 39);
    assert_eq!(reg(&mut c, 0x00, SECOND - 1), 0x59);
    // The minute turns between the two reads: the minutes still match the seconds.
    assert_eq!(reg(&mut c, 0x02, SECOND + 1), 0x13);
    assert_eq!(reg(&mut c, 0x04, SECOND + 2), 0x22);
    // Reading the seconds again takes a new snapshot.
    assert_eq!(reg(&mut c, 0x00, SECOND + 3), 0x00);
    assert_eq!(reg(&mut c, 0x02, SECOND + 4), 0x14);
    // So does reading register A, as Linux does around its reads.
    let mut c = Cmos::new(T0 + 39);
    assert_eq!(reg(&mut c, 0x0a, SECOND - 1) & 0x80, 0);
    assert_eq!(reg(&mut c, 0x02, SECOND + 1), 0x13);
    assert_eq!(reg(&mut c, 0x0a, SECOND + 2), 0x26);
    assert_eq!(reg(&mut c, 0x02, SECOND + 3), 0x14);
    // A snapshot a second old is not used for other fields.
    let mut c = Cmos::new(T0 + 39);
    assert_eq!(reg(&mut c, 0x02, 0), 0x13);
    assert_eq!(reg(&mut c, 0x02, SECOND), 0x14);
}

#[test]
fn linux_read_sequence() {
    // mc146818_avoid_UIP: seconds, A, the fields, A, seconds; retried when the
    // two seconds differ. Every start time in a minute gives a consistent answer.
    for start in [0, 400_000_000, SECOND - 2, SECOND - 1] {
        let mut c = Cmos::new(T0 + 39);
        let mut now = start;
        let mut next = || {
            now += 1;
            now
        };
        let result = loop {
            let seconds = reg(&mut c, 0x00, next());
            assert_eq!(reg(&mut c, 0x0a, next()) & 0x80, 0);
            let minutes = reg(&mut c, 0x02, next());
            let hours = reg(&mut c, 0x04, next());
            assert_eq!(reg(&mut c, 0x0a, next()) & 0x80, 0);
            if reg(&mut c, 0x00, next()) == seconds {
                break (hours, minutes, seconds);
            }
        };
        assert!(
            result == (0x22, 0x13, 0x59) || result == (0x22, 0x14, 0x00),
            "{start}: {result:x?}"
        );
    }
}

#[test]
fn setting_the_clock_with_set() {
    let mut c = Cmos::new(T0);
    set_reg(&mut c, 0x0b, 0x82, 5 * SECOND);
    // Stopped: the registers keep the time SET was written at.
    assert_eq!(reg(&mut c, 0x00, 9 * SECOND), 0x25);
    // hwclock --systohc: 2024-01-02 03:04:05, BCD.
    for (index, value) in [
        (0x00, 0x05),
        (0x02, 0x04),
        (0x04, 0x03),
        (0x06, 0x03),
        (0x07, 0x02),
        (0x08, 0x01),
        (0x09, 0x24),
        (0x32, 0x20),
    ] {
        set_reg(&mut c, index, value, 10 * SECOND);
    }
    assert_eq!(reg(&mut c, 0x02, 20 * SECOND), 0x04);
    set_reg(&mut c, 0x0b, 0x02, 30 * SECOND);
    assert_eq!(c.unix_time(30 * SECOND), 1_704_164_645);
    assert_eq!(
        clock(&mut c, 90 * SECOND),
        [0x05, 0x05, 0x03, 0x03, 0x02, 0x01, 0x24, 0x20]
    );
}

#[test]
fn setting_a_field_while_running() {
    let mut c = Cmos::new(T0);
    // Long after the last snapshot: the other fields are the current time.
    set_reg(&mut c, 0x04, 0x05, 3600 * SECOND + SECOND / 2);
    assert_eq!(c.unix_time(3600 * SECOND + SECOND / 2), T0 - 17 * 3600);
    assert_eq!(
        clock(&mut c, 3601 * SECOND + SECOND / 2),
        [0x21, 0x13, 0x05, 0x03, 0x14, 0x11, 0x23, 0x20]
    );
}

#[test]
fn invalid_times_are_not_set() {
    let mut c = Cmos::new(T0);
    set_reg(&mut c, 0x0b, 0x82, 0);
    set_reg(&mut c, 0x08, 0x13, 0);
    set_reg(&mut c, 0x0b, 0x02, 0);
    assert_eq!(c.unix_time(SECOND), T0 + 1);
    assert_eq!(
        reg(&mut c, 0x08, 2 * SECOND),
        0x11,
        "the next snapshot repairs it"
    );
    // A bad BCD digit while running.
    set_reg(&mut c, 0x00, 0x5a, 3 * SECOND);
    assert_eq!(c.unix_time(3 * SECOND), T0 + 3);
    // A 12-hour hour of 0.
    set_reg(&mut c, 0x0b, 0x80, 4 * SECOND);
    set_reg(&mut c, 0x04, 0x00, 4 * SECOND);
    set_reg(&mut c, 0x0b, 0x00, 4 * SECOND);
    assert_eq!(c.unix_time(4 * SECOND), T0 + 4);
}

#[test]
fn ram_and_alarms() {
    let mut c = Cmos::new(T0);
    for index in (0x0e..0x80u8).filter(|&i| i != 0x32) {
        set_reg(&mut c, index, index ^ 0x5a, 0);
    }
    for index in (0x0e..0x80u8).filter(|&i| i != 0x32) {
        assert_eq!(reg(&mut c, index, 0), index ^ 0x5a, "{index:#x}");
        assert_eq!(c.byte(index), index ^ 0x5a);
    }
    for index in [0x01, 0x03, 0x05] {
        set_reg(&mut c, index, 0x42, 0);
        assert_eq!(reg(&mut c, index, 10 * SECOND), 0x42);
    }
    // The hypervisor fills the RAM before boot; it cannot touch the clock's registers.
    c.set_byte(0x34, 0x12);
    c.set_byte(0x00, 0x99);
    c.set_byte(0x0b, 0x99);
    assert_eq!(reg(&mut c, 0x34, 0), 0x12);
    assert_eq!(c.byte(0x0b), 0x02);
    assert_eq!(c.byte(0x80), 0);
}

#[test]
fn index_port_and_nmi_mask() {
    let mut c = Cmos::new(T0);
    assert!(!c.nmi_masked());
    c.write_at(0, Byte, 0x8f, 0).unwrap();
    assert!(c.nmi_masked());
    assert_eq!(c.read_at(0, Byte, 0), Ok(0x8f));
    c.write_at(1, Byte, 0x77, 0).unwrap();
    assert_eq!(c.byte(0x0f), 0x77, "bit 7 is not part of the index");
    c.write_at(0, Byte, 0x0f, 0).unwrap();
    assert!(!c.nmi_masked());
    assert_eq!(c.read_at(1, Byte, 0), Ok(0x77));
}

#[test]
fn bad_accesses() {
    let mut c = Cmos::new(T0);
    for offset in 0..2u16 {
        for width in [Half, Word, Double] {
            let err = DeviceError::BadWidth {
                offset: offset.into(),
                width,
            };
            assert_eq!(c.read_at(offset, width, 0), Err(err));
            assert_eq!(c.write_at(offset, width, 0, 0), Err(err));
        }
    }
    for offset in [2u16, 3, 0xffff] {
        let err = DeviceError::NoRegister {
            offset: offset.into(),
        };
        assert_eq!(c.read_at(offset, Byte, 0), Err(err));
        assert_eq!(c.write_at(offset, Byte, 0, 0), Err(err));
    }
}

#[test]
fn no_sequence_panics() {
    let mut c = Cmos::new(T0);
    let times = [0, SECOND, u64::MAX / 2, u64::MAX, 7];
    for value in 0..=255u8 {
        for (step, &now) in times.iter().enumerate() {
            for index in 0..=255u8 {
                let _ = c.write_at(0, Byte, index.into(), now);
                let _ = c.read_at(1, Byte, now);
                let _ = c.write_at(1, Byte, u32::from(value) ^ step as u32, now);
            }
            let _ = c.read_at(0, Byte, now);
            let _ = c.unix_time(now);
        }
    }
    let mut c = Cmos::new(u64::MAX);
    let _ = clock(&mut c, u64::MAX);
}

#[test]
fn works_behind_the_port_bus() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::{Clocked, Locked, PortBus};

    let time = Arc::new(AtomicU64::new(0));
    let clock = {
        let time = time.clone();
        move || time.load(Ordering::Relaxed)
    };
    let mut bus = PortBus::new();
    bus.insert(
        Cmos::PORTS,
        Box::new(Locked::port(Clocked::new(Cmos::new(T0), clock))),
    )
    .unwrap();
    bus.write(0x70, Byte, 0x00).unwrap();
    assert_eq!(bus.read(0x71, Byte), Ok(0x20));
    time.store(7 * SECOND, Ordering::Relaxed);
    assert_eq!(bus.read(0x71, Byte), Ok(0x27));
    assert!(bus.read(0x70, Half).is_err());
}

#[test]
fn time_of_a_real_chips_registers() {
    // 2026-11-26 12:34:56 UTC.
    let when = 1_795_696_496;
    let bcd = Cmos::new(when);
    assert_eq!(Cmos::time_of_registers(|i| bcd.byte(i)), Some(when));
    // Binary 12-hour mode, read through the ports as a guest would set it.
    let mut binary = Cmos::new(when);
    set_reg(&mut binary, REG_B, REG_B_BINARY, 0);
    let mut regs = [0u8; 128];
    for index in TIME_REGISTERS.into_iter().chain([REG_B]) {
        regs[usize::from(index)] = reg(&mut binary, index, 0);
    }
    assert_eq!(regs[usize::from(HOURS)], 12 | PM);
    assert_eq!(
        Cmos::time_of_registers(|i| regs[usize::from(i)]),
        Some(when)
    );
    // No century byte: the 21st century.
    regs[usize::from(CENTURY)] = 0;
    assert_eq!(
        Cmos::time_of_registers(|i| regs[usize::from(i)]),
        Some(when)
    );
    // A chip showing garbage.
    assert_eq!(Cmos::time_of_registers(|_| 0xff), None);
}
