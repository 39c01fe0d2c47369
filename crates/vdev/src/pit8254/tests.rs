//! Tests of the 8254 model.

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

/// Port offsets: the counters, the control word, port 0x61.
const CH0: u16 = 0;
const CH2: u16 = 2;
const CTRL: u16 = 3;
const PORTB: u16 = 4;

fn wr(p: &mut Pit8254, offset: u16, value: u8, now: u64) {
    p.write_at(offset, Byte, value.into(), now).unwrap();
}

fn rd(p: &mut Pit8254, offset: u16, now: u64) -> u8 {
    p.read_at(offset, Byte, now).unwrap() as u8
}

/// The first nanosecond at which `ticks` counter clocks have passed since 0.
fn at(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000).div_ceil(1_193_182) as u64
}

/// Programs `channel` with control word `control` and a 16-bit count, LSB first.
fn program(p: &mut Pit8254, control: u8, count: u16, now: u64) {
    let channel = u16::from(control >> 6);
    wr(p, CTRL, control, now);
    wr(p, channel, count as u8, now);
    wr(p, channel, (count >> 8) as u8, now);
}

/// Reads a 16-bit count LSB then MSB after latching it.
fn latched_count(p: &mut Pit8254, channel: u16, now: u64) -> u16 {
    wr(p, CTRL, (channel as u8) << 6, now);
    let lsb = rd(p, channel, now);
    let msb = rd(p, channel, now);
    u16::from(lsb) | u16::from(msb) << 8
}

#[test]
fn power_on_state() {
    let mut p = Pit8254::new();
    assert_eq!(p.name(), "pit8254");
    assert_eq!(Pit8254::FREQUENCY_HZ, 1_193_182);
    assert_eq!(Pit8254::IRQ, 0);
    assert_eq!(
        Pit8254::WINDOWS,
        [PortRange::new(0x40, 4), PortRange::new(0x61, 1)]
    );
    assert_eq!(p.tick(1_000_000_000), 0);
    assert_eq!(p.next_deadline_ns(0), None);
    assert!(p.output(0, 0));
    assert!(!p.output(3, 0));
    assert_eq!(rd(&mut p, PORTB, 0), 0x20, "OUT2 high, gate low");
    // Read-back of channel 0's status: OUT high, null count, LSB/MSB mode 3.
    wr(&mut p, CTRL, 0xe2, 0);
    assert_eq!(rd(&mut p, CH0, 0), 0xf6);
    // Programming a mode raises no edge.
    program(&mut p, 0x34, 100, 0);
    assert_eq!(p.tick(0), 0);
}

#[test]
fn rate_generator_at_1000_hz() {
    // What Linux's periodic PIT set-up writes: channel 0, LSB/MSB, mode 2, LATCH.
    let mut p = Pit8254::new();
    program(&mut p, 0x34, 1193, 0);
    assert!(p.output(0, 0));
    assert_eq!(p.tick(0), 0);
    assert_eq!(p.next_deadline_ns(0), Some(999_848));
    assert_eq!(p.tick(999_847), 0);
    assert_eq!(p.tick(999_848), 1);
    assert_eq!(p.next_deadline_ns(999_848), Some(at(2 * 1193)));
    // OUT is low for the one clock before each reload.
    assert!(!p.output(0, at(1192)));
    assert!(p.output(0, at(1193)));
    // 1 193 182 clocks in a second: 1000 whole periods.
    assert_eq!(p.tick(1_000_000_000), 999);
    assert_eq!(p.tick(1_000_000_000), 0);
    // The count runs 1193 down to 1 and reloads.
    assert_eq!(latched_count(&mut p, CH0, at(5)), 1188);
    assert_eq!(latched_count(&mut p, CH0, at(1193 + 1192)), 1);
    assert_eq!(latched_count(&mut p, CH0, at(2 * 1193)), 1193);
}

#[test]
fn interrupt_on_terminal_count() {
    let mut p = Pit8254::new();
    program(&mut p, 0x30, 1000, 0);
    assert!(!p.output(0, 0));
    assert_eq!(p.next_deadline_ns(0), Some(838_096));
    assert_eq!(p.tick(838_095), 0);
    assert!(!p.output(0, 838_095));
    assert!(p.output(0, 838_096));
    assert_eq!(p.next_deadline_ns(838_096), Some(838_096), "due, not taken");
    assert_eq!(p.tick(838_096), 1);
    // One interrupt only; the counter wraps through 0 to 0xFFFF and counts on.
    assert_eq!(p.next_deadline_ns(838_096), None);
    assert_eq!(p.tick(1_000_000_000), 0);
    assert_eq!(latched_count(&mut p, CH0, at(1005)), 0xfffb);
    assert!(p.output(0, at(70_000)));
    // A new count: OUT drops with the first byte and rises at the new end.
    wr(&mut p, CH0, 10, at(2000));
    assert!(!p.output(0, at(2000)));
    assert_eq!(p.tick(at(2100)), 0, "the first byte stopped the count");
    let start = at(2100);
    wr(&mut p, CH0, 0, start);
    assert_eq!(p.next_deadline_ns(start), Some(start + at(10)));
    assert_eq!(p.tick(start + at(10)), 1);
}

#[test]
fn square_wave() {
    let mut p = Pit8254::new();
    program(&mut p, 0x36, 4, 0);
    let outs: Vec<_> = (0..8).map(|t| p.output(0, at(t))).collect();
    assert_eq!(outs, [true, true, false, false, true, true, false, false]);
    let counts: Vec<_> = (0..4).map(|t| latched_count(&mut p, CH0, at(t))).collect();
    assert_eq!(counts, [4, 2, 4, 2]);
    assert_eq!(p.next_deadline_ns(0), Some(at(4)));
    assert_eq!(p.tick(at(4000) - 1), 999);
    assert_eq!(p.tick(at(4000)), 1);
    // Odd counts: high one clock longer than low.
    program(&mut p, 0x36, 5, 0);
    let outs: Vec<_> = (0..10).map(|t| p.output(0, at(t))).collect();
    let want = [
        true, true, true, false, false, true, true, true, false, false,
    ];
    assert_eq!(outs, want);
    // Mode 7 is mode 3 (bit 3 of the mode is "don't care").
    program(&mut p, 0x3e, 4, 0);
    assert!(!p.output(0, at(2)));
    wr(&mut p, CTRL, 0xe2, at(2));
    assert_eq!(
        rd(&mut p, CH0, at(2)),
        0x3e,
        "status keeps the bits written"
    );
}

#[test]
fn software_triggered_strobe() {
    // Linux's one-shot PIT clock event: channel 0, LSB/MSB, mode 4.
    let mut p = Pit8254::new();
    program(&mut p, 0x38, 10, 0);
    assert!(p.output(0, 0));
    assert!(!p.output(0, at(10)), "the strobe is one clock low");
    assert!(p.output(0, at(11)));
    assert_eq!(p.next_deadline_ns(0), Some(9_220));
    assert_eq!(p.tick(9_219), 0);
    assert_eq!(p.tick(9_220), 1);
    assert_eq!(p.next_deadline_ns(9_220), None);
    assert_eq!(p.tick(1_000_000_000), 0);
}

#[test]
fn zero_means_65536() {
    let mut p = Pit8254::new();
    program(&mut p, 0x34, 0, 0);
    assert_eq!(p.next_deadline_ns(0), Some(54_925_402));
    assert_eq!(p.tick(54_925_401), 0);
    assert_eq!(p.tick(54_925_402), 1);
    assert_eq!(latched_count(&mut p, CH0, at(65536)), 0);
    assert_eq!(latched_count(&mut p, CH0, at(65537)), 0xffff);
}

#[test]
fn counts_below_two_in_modes_2_and_3() {
    let mut p = Pit8254::new();
    program(&mut p, 0x34, 1, 0);
    assert_eq!(p.next_deadline_ns(0), Some(at(2)));
    assert_eq!(p.tick(at(100)), 50);
}

#[test]
fn reprogramming_that_raises_out_is_an_edge() {
    let mut p = Pit8254::new();
    program(&mut p, 0x30, 1000, 0);
    // Mode 0 holds OUT low; a control word for mode 2 raises it: IRQ 0 sees an edge.
    wr(&mut p, CTRL, 0x34, at(10));
    assert_eq!(p.tick(at(10)), 1);
    // Nothing more until a count is written.
    assert_eq!(p.next_deadline_ns(at(10)), None);
    assert_eq!(p.tick(1_000_000_000), 0);
    // Back to mode 0 after a terminal count drops OUT: no edge.
    program(&mut p, 0x30, 5, 0);
    assert_eq!(p.tick(at(10)), 1);
    wr(&mut p, CTRL, 0x30, at(10));
    assert_eq!(p.tick(at(20)), 0);
}

#[test]
fn counter_latch_command() {
    let mut p = Pit8254::new();
    program(&mut p, 0x34, 0x1000, 0);
    wr(&mut p, CTRL, 0x00, at(0x100));
    // A second latch before the first is read is ignored; time moves on.
    wr(&mut p, CTRL, 0x00, at(0x180));
    assert_eq!(rd(&mut p, CH0, at(0x200)), 0x00);
    wr(&mut p, CTRL, 0x00, at(0x280));
    assert_eq!(rd(&mut p, CH0, at(0x300)), 0x0f);
    // Released: reads are live again, LSB then MSB.
    assert_eq!(rd(&mut p, CH0, at(0x321)), 0xdf);
    assert_eq!(rd(&mut p, CH0, at(0x321)), 0x0c);
    // In LSB-only access one read releases the latch.
    wr(&mut p, CTRL, 0x14, 0);
    wr(&mut p, CH0, 0xf0, 0);
    wr(&mut p, CTRL, 0x00, at(0x10));
    assert_eq!(rd(&mut p, CH0, at(0x20)), 0xe0);
    assert_eq!(rd(&mut p, CH0, at(0x20)), 0xd0);
}

#[test]
fn lsb_only_and_msb_only_access() {
    let mut p = Pit8254::new();
    wr(&mut p, CTRL, 0x10, 0);
    wr(&mut p, CH0, 0x20, 0);
    assert_eq!(p.next_deadline_ns(0), Some(at(0x20)));
    assert_eq!(rd(&mut p, CH0, at(0x10)), 0x10);
    wr(&mut p, CTRL, 0x20, 0);
    wr(&mut p, CH0, 0x01, 0);
    assert_eq!(p.next_deadline_ns(0), Some(at(0x100)));
    assert_eq!(rd(&mut p, CH0, at(0x10)), 0x00);
    assert_eq!(rd(&mut p, CH0, at(0x1ff)), 0xff, "MSB of 0xFF01");
}

#[test]
fn read_back_command() {
    let mut p = Pit8254::new();
    wr(&mut p, PORTB, 0x01, 0);
    wr(&mut p, CTRL, 0xb0, 0);
    // Status only (bit 5 set), channel 2: OUT low, null count, RW 11, mode 0.
    wr(&mut p, CTRL, 0xe8, 0);
    assert_eq!(rd(&mut p, CH2, 0), 0x70);
    wr(&mut p, CH2, 100, 0);
    wr(&mut p, CH2, 0, 0);
    wr(&mut p, CTRL, 0xe8, 0);
    assert_eq!(rd(&mut p, CH2, 0), 0x30, "count loaded");
    // Count and status of channels 0 and 2: status first, then the count.
    wr(&mut p, CTRL, 0xca, at(150));
    assert_eq!(
        rd(&mut p, CH2, at(200)),
        0xb0,
        "OUT high after the terminal count"
    );
    assert_eq!(rd(&mut p, CH2, at(200)), 0xce);
    assert_eq!(rd(&mut p, CH2, at(200)), 0xff);
    assert_eq!(rd(&mut p, CH0, 0), 0xf6, "channel 0 as at power-on");
    assert_eq!(rd(&mut p, CH0, 0), 0x00);
    // Channel 1 counts like channel 0 and drives nothing.
    program(&mut p, 0x74, 100, 0);
    assert_eq!(latched_count(&mut p, 1, at(30)), 70);
    assert!(p.output(1, at(30)));
    assert_eq!(p.tick(at(1000)), 0);
}

#[test]
fn linux_calibration_on_channel_2() {
    let mut p = Pit8254::new();
    // Gate on, speaker off; mode 0 with CAL_LATCH (10 ms), then poll OUT2.
    let b = rd(&mut p, PORTB, 0);
    wr(&mut p, PORTB, (b & !0x02) | 0x01, 0);
    program(&mut p, 0xb0, 11931, 0);
    assert_eq!(rd(&mut p, PORTB, 0) & 0x20, 0);
    assert_eq!(rd(&mut p, PORTB, 9_999_312) & 0x20, 0);
    assert_eq!(rd(&mut p, PORTB, 9_999_313) & 0x20, 0x20);
    // Channel 2 does not touch IRQ 0.
    assert_eq!(p.tick(20_000_000), 0);
    // The quick calibration: 0xFFFF, then read LSB and MSB without latching.
    program(&mut p, 0xb0, 0xffff, 0);
    assert_eq!(rd(&mut p, CH2, at(0x300)), 0xff);
    assert_eq!(rd(&mut p, CH2, at(0x300)), 0xfc);
    assert_eq!(rd(&mut p, CH2, at(0x1000)), 0xff);
    assert_eq!(rd(&mut p, CH2, at(0x1000)), 0xef);
}

#[test]
fn gate_stops_and_reloads_channel_2() {
    let mut p = Pit8254::new();
    // Gate low from power-on: mode 0 does not count.
    program(&mut p, 0xb0, 100, 0);
    assert_eq!(latched_count(&mut p, CH2, at(1000)), 100);
    let high = at(1000);
    wr(&mut p, PORTB, 0x01, high);
    assert_eq!(latched_count(&mut p, CH2, high + at(40)), 60);
    // Low again: the count holds; high: it goes on from there.
    wr(&mut p, PORTB, 0x00, high + at(40));
    assert_eq!(latched_count(&mut p, CH2, at(5000)), 60);
    let high = at(5000);
    wr(&mut p, PORTB, 0x01, high);
    assert!(!p.output(2, high + at(59)));
    assert!(p.output(2, high + at(60)));
    // Mode 2: gate low forces OUT high and stops; a rising gate reloads.
    program(&mut p, 0xb4, 50, 0);
    assert!(!p.output(2, at(49)));
    wr(&mut p, PORTB, 0x00, at(49));
    assert!(p.output(2, at(49)));
    assert_eq!(latched_count(&mut p, CH2, at(100)), 1);
    let high = at(100);
    wr(&mut p, PORTB, 0x01, high);
    assert_eq!(latched_count(&mut p, CH2, high + at(10)), 40);
}

#[test]
fn gate_triggered_modes_1_and_5() {
    let mut p = Pit8254::new();
    // Mode 1, LSB only: the count waits for a rising gate.
    wr(&mut p, CTRL, 0x92, 0);
    wr(&mut p, CH2, 50, 0);
    assert!(p.output(2, at(100)));
    wr(&mut p, CTRL, 0xe8, at(100));
    assert_eq!(rd(&mut p, CH2, at(100)), 0xd2, "OUT high, count not loaded");
    let trigger = at(100);
    wr(&mut p, PORTB, 0x01, trigger);
    assert!(!p.output(2, trigger));
    assert!(!p.output(2, trigger + at(49)));
    assert!(p.output(2, trigger + at(50)));
    // Retriggerable: a new rising gate starts again.
    wr(&mut p, PORTB, 0x00, trigger + at(60));
    let trigger = trigger + at(70);
    wr(&mut p, PORTB, 0x01, trigger);
    assert!(!p.output(2, trigger + at(49)));
    assert!(p.output(2, trigger + at(50)));
    // Mode 5: OUT strobes low for one clock at the end.
    wr(&mut p, PORTB, 0x00, at(300));
    wr(&mut p, CTRL, 0x9a, at(300));
    wr(&mut p, CH2, 50, at(300));
    let trigger = at(310);
    wr(&mut p, PORTB, 0x01, trigger);
    assert!(p.output(2, trigger + at(49)));
    assert!(!p.output(2, trigger + at(50)));
    assert!(p.output(2, trigger + at(51)));
    // Channel 0's gate is always high: mode 1 there never starts.
    wr(&mut p, CTRL, 0x12, 0);
    wr(&mut p, CH0, 10, 0);
    assert_eq!(p.next_deadline_ns(0), None);
    assert_eq!(p.tick(1_000_000_000), 0);
}

#[test]
fn port_0x61() {
    let mut p = Pit8254::new();
    wr(&mut p, PORTB, 0xff, 0);
    assert_eq!(rd(&mut p, PORTB, 0), 0x2f);
    // Bit 4 toggles with each 15.085 us refresh cycle.
    assert_eq!(rd(&mut p, PORTB, 15_084), 0x2f);
    assert_eq!(rd(&mut p, PORTB, 15_085), 0x3f);
    assert_eq!(rd(&mut p, PORTB, 30_170), 0x2f);
    // Bit 5 is OUT2: low in mode 0 until the terminal count.
    program(&mut p, 0xb0, 10, 0);
    assert_eq!(rd(&mut p, PORTB, 0), 0x0f);
    assert_eq!(rd(&mut p, PORTB, at(10)), 0x2f);
    // Mode 3 starts high.
    wr(&mut p, CTRL, 0xb6, 0);
    wr(&mut p, CH2, 0, 0);
    wr(&mut p, CH2, 0, 0);
    assert_eq!(rd(&mut p, PORTB, 0), 0x2f);
    wr(&mut p, PORTB, 0x02, 0);
    assert_eq!(rd(&mut p, PORTB, 0), 0x22, "gate off: OUT2 held high");
}

#[test]
fn deadlines_match_ticks() {
    for (control, count) in [
        (0x34u8, 3u16),
        (0x34, 1193),
        (0x36, 7),
        (0x36, 11932),
        (0x34, 0),
    ] {
        let mut p = Pit8254::new();
        program(&mut p, control, count, 12_345);
        let mut now = 12_345;
        for _ in 0..20 {
            let deadline = p.next_deadline_ns(now).unwrap();
            assert!(deadline > now);
            assert_eq!(p.tick(deadline - 1), 0, "{control:#x} {count}");
            assert_eq!(p.tick(deadline), 1, "{control:#x} {count}");
            now = deadline;
        }
    }
}

#[test]
fn time_going_back_is_harmless() {
    let mut p = Pit8254::new();
    program(&mut p, 0x34, 100, 1_000_000);
    assert_eq!(p.tick(500_000), 0);
    assert_eq!(p.tick(1_000_000 + at(250)), 2);
    assert_eq!(p.tick(0), 0);
    assert_eq!(p.tick(1_000_000 + at(300)), 1);
    let _ = rd(&mut p, CH0, 0);
    assert_eq!(p.next_deadline_ns(0), Some(1_000_000 + at(400)));
}

#[test]
fn bad_accesses() {
    let mut p = Pit8254::new();
    for offset in 0..5u16 {
        for width in [Half, Word, Double] {
            let err = DeviceError::BadWidth {
                offset: offset.into(),
                width,
            };
            assert_eq!(p.read_at(offset, width, 0), Err(err));
            assert_eq!(p.write_at(offset, width, 0x34, 0), Err(err));
        }
    }
    for offset in [5u16, 6, 0x21, 0xffff] {
        let err = DeviceError::NoRegister {
            offset: offset.into(),
        };
        assert_eq!(p.read_at(offset, Byte, 0), Err(err));
        assert_eq!(p.write_at(offset, Byte, 0x34, 0), Err(err));
    }
    assert_eq!(
        p.read_at(CTRL, Byte, 0),
        Err(DeviceError::WriteOnly { offset: 3 })
    );
    assert_eq!(
        p.next_deadline_ns(0),
        None,
        "refused writes changed nothing"
    );
}

#[test]
fn no_sequence_panics() {
    let mut p = Pit8254::new();
    let times = [0, 1, 1_000, u64::MAX / 2, u64::MAX - 1, u64::MAX, 3, 0];
    for value in 0..=255u8 {
        for (step, &now) in times.iter().enumerate() {
            let offset = (u16::from(value) + step as u16) % 6;
            let _ = p.write_at(offset, Byte, value.into(), now);
            let _ = p.write_at(CTRL, Byte, value.into(), now);
            for port in 0..6 {
                let _ = p.read_at(port, Byte, now);
            }
            let _ = p.write_at(PORTB, Byte, u32::from(value) >> step, now);
            let _ = p.tick(now);
            let _ = p.next_deadline_ns(now);
            let _ = p.output(step, now);
        }
    }
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
    let pit = Clocked::new(Pit8254::new(), clock);
    bus.insert_windows(&Pit8254::WINDOWS, Box::new(Locked::port(pit)))
        .unwrap();
    bus.write(0x61, Byte, 0x01).unwrap();
    bus.write(0x43, Byte, 0xb0).unwrap();
    bus.write(0x42, Byte, 0x00).unwrap();
    bus.write(0x42, Byte, 0x10).unwrap();
    assert_eq!(bus.read(0x61, Byte), Ok(0x01));
    time.store(at(0x1000), Ordering::Relaxed);
    assert_eq!(bus.read(0x61, Byte).map(|b| b & 0x20), Ok(0x20));
    assert_eq!(bus.read_or_open(0x43, Byte), 0xff, "write-only");
    assert!(bus.read(0x43, Byte).is_err());
}
