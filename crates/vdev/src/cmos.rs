//! The Motorola MC146818 real-time clock and CMOS RAM of a PC.
//!
//! Registers and bits follow the MC146818A datasheet; the ports are the PC/AT's:
//! 0x70 takes the register index in bits 6:0 and the NMI mask in bit 7 (it reads
//! back what was written), 0x71 reads and writes the register. Only byte accesses
//! are accepted. The clock shows UTC from the `unix_seconds` given to
//! [`Cmos::new`] plus the VM's clock (`now_ns`, from the caller on each access),
//! in BCD and 24-hour mode after reset (register B = 0x02), with the century (BCD
//! or binary, like the others) at 0x32, the IBM PC/AT convention ACPI's FADT names.
//! Years 1970 to 9999 are shown; later times show 9999-12-31 23:59:59.
//!
//! Consistent reads: the time registers hold a snapshot. It is taken when the
//! guest reads the seconds or register A (as Linux and PC firmware do before the
//! other fields), and when it reads another time register and the snapshot is a
//! second old or more. So the fields read after the seconds always belong to the
//! same second, and register A's update-in-progress bit is always clear.
//!
//! Setting the clock: while register B's SET bit is 1 the snapshot stays as it is
//! and the guest writes the fields; clearing SET starts the clock from them, as
//! does writing a time register while SET is 0 (the other fields first take the
//! current time; the fraction of the second starts again at 0). Fields that are not a valid time (in the mode register B gives)
//! leave the clock as it was. Alarm registers, register A's divider and rate bits,
//! and register B's interrupt enables are stored and read back, but the clock
//! raises no interrupt: register C reads 0. Register D reads 0x80 (valid RAM).

mod calendar;

use calendar::DateTime;

use crate::port::check_byte_port;
use crate::{AccessWidth, DeviceError, PortRange, TimedPortDevice};

#[cfg(test)]
mod tests;

/// Register indexes of the clock.
const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const WEEKDAY: u8 = 0x06;
const DAY: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
/// Register A: UIP (bit 7), divider (6:4), rate (3:0).
const REG_A: u8 = 0x0a;
/// Register B: SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE.
const REG_B: u8 = 0x0b;
/// Register C: interrupt flags.
const REG_C: u8 = 0x0c;
/// Register D: VRT (bit 7).
const REG_D: u8 = 0x0d;
/// The century, in the RAM (IBM PC/AT).
const CENTURY: u8 = 0x32;
/// The registers a snapshot of the time fills.
const TIME_REGISTERS: [u8; 8] = [SECONDS, MINUTES, HOURS, WEEKDAY, DAY, MONTH, YEAR, CENTURY];
/// Register A at reset: 32.768 kHz time base, 1024 Hz periodic rate.
const REG_A_RESET: u8 = 0x26;
/// Register A bit 7: update in progress.
const REG_A_UIP: u8 = 1 << 7;
/// Register B at reset: 24-hour mode, BCD.
const REG_B_RESET: u8 = REG_B_24H;
/// Register B bit 7: SET, updates stopped.
const REG_B_SET: u8 = 1 << 7;
/// Register B bit 2: DM, binary rather than BCD.
const REG_B_BINARY: u8 = 1 << 2;
/// Register B bit 1: 24-hour rather than 12-hour mode.
const REG_B_24H: u8 = 1 << 1;
/// Register D bit 7: valid RAM and time.
const REG_D_VRT: u8 = 1 << 7;
/// The hours register's PM bit in 12-hour mode.
const PM: u8 = 1 << 7;
/// Port 0x70 bit 7: NMI disabled.
const NMI_MASK: u8 = 1 << 7;
/// Port offsets.
const INDEX_PORT: u16 = 0;
const DATA_PORT: u16 = 1;
/// Nanoseconds per second.
const NS_PER_SECOND: u64 = 1_000_000_000;

/// The RTC and its 128 bytes of CMOS RAM (the first 14 are the clock's registers).
#[derive(Clone, Debug)]
pub struct Cmos {
    ram: [u8; 128],
    /// Port 0x70 as last written.
    index_port: u8,
    /// The unix time at `epoch_ns`.
    epoch_unix: u64,
    /// The VM time the clock was last set at.
    epoch_ns: u64,
    /// When the time registers were last filled.
    snapshot_ns: Option<u64>,
}

impl Cmos {
    /// The index and data ports, 0x70 and 0x71.
    pub const PORTS: PortRange = PortRange::new(0x70, 2);
    /// The index of the century byte.
    pub const CENTURY: u8 = CENTURY;
    /// The interrupt line of the RTC.
    pub const IRQ: u8 = 8;

    /// A clock showing `unix_seconds` at VM time 0, in BCD 24-hour mode, the rest of
    /// the RAM zero.
    pub fn new(unix_seconds: u64) -> Self {
        let mut cmos = Self {
            ram: [0; 128],
            index_port: 0,
            epoch_unix: unix_seconds,
            epoch_ns: 0,
            snapshot_ns: None,
        };
        cmos.set(REG_A, REG_A_RESET);
        cmos.set(REG_B, REG_B_RESET);
        cmos.set(REG_D, REG_D_VRT);
        cmos.take_snapshot(0);
        cmos
    }

    /// The unix time a real MC146818's registers show, each read with `read(index)`
    /// (register B first, for the modes): how a hypervisor learns the wall-clock
    /// time from its machine's own RTC. A century byte (0x32) of 0 is taken as the
    /// 21st century. `None` when the registers do not show a valid time.
    pub fn time_of_registers(mut read: impl FnMut(u8) -> u8) -> Option<u64> {
        let mut chip = Self::new(0);
        chip.set(REG_B, read(REG_B));
        for index in TIME_REGISTERS {
            chip.set(index, read(index));
        }
        if chip.byte(CENTURY) == 0 {
            let century = chip.encode(20);
            chip.set(CENTURY, century);
        }
        chip.shown_time()
    }

    /// Whether the guest masked NMIs (port 0x70 bit 7).
    pub fn nmi_masked(&self) -> bool {
        self.index_port & NMI_MASK != 0
    }

    /// The clock's unix time at `now_ns`.
    pub fn unix_time(&self, now_ns: u64) -> u64 {
        let elapsed = now_ns.saturating_sub(self.epoch_ns) / NS_PER_SECOND;
        self.epoch_unix.saturating_add(elapsed)
    }

    /// Sets a byte of the RAM past the clock's registers (0x0E to 0x7F), for the
    /// hypervisor to fill in before boot; other indexes are ignored.
    pub fn set_byte(&mut self, index: u8, value: u8) {
        if index > REG_D {
            self.set(index, value);
        }
    }

    /// A byte of the RAM, as stored (index 0x00 to 0x7F; others read 0).
    pub fn byte(&self, index: u8) -> u8 {
        self.ram.get(usize::from(index)).copied().unwrap_or(0)
    }

    /// Stores `value` at `index` of the RAM.
    fn set(&mut self, index: u8, value: u8) {
        if let Some(byte) = self.ram.get_mut(usize::from(index)) {
            *byte = value;
        }
    }

    /// Register B.
    fn reg_b(&self) -> u8 {
        self.byte(REG_B)
    }

    /// Encodes a field (0-99) in the mode of register B.
    fn encode(&self, value: u64) -> u8 {
        let value = (value % 100) as u8;
        if self.reg_b() & REG_B_BINARY != 0 {
            value
        } else {
            ((value / 10) << 4) | (value % 10)
        }
    }

    /// Decodes a field in the mode of register B; `None` for a bad BCD digit.
    fn decode(&self, byte: u8) -> Option<u64> {
        if self.reg_b() & REG_B_BINARY != 0 {
            return Some(byte.into());
        }
        let (tens, ones) = (byte >> 4, byte & 0xf);
        (tens < 10 && ones < 10).then_some(u64::from(tens * 10 + ones))
    }

    /// Fills the time registers with the time at `now_ns`.
    fn take_snapshot(&mut self, now_ns: u64) {
        let time = calendar::from_unix(self.unix_time(now_ns));
        let hours = if self.reg_b() & REG_B_24H != 0 {
            self.encode(time.hour)
        } else {
            let pm = if time.hour >= 12 { PM } else { 0 };
            let hour = match time.hour % 12 {
                0 => 12,
                hour => hour,
            };
            self.encode(hour) | pm
        };
        let fields = [
            (SECONDS, self.encode(time.second)),
            (MINUTES, self.encode(time.minute)),
            (HOURS, hours),
            (WEEKDAY, self.encode(time.weekday)),
            (DAY, self.encode(time.day)),
            (MONTH, self.encode(time.month)),
            (YEAR, self.encode(time.year % 100)),
            (CENTURY, self.encode(time.year / 100)),
        ];
        for (index, value) in fields {
            self.set(index, value);
        }
        self.snapshot_ns = Some(now_ns);
    }

    /// The time the registers show, if it is a valid one.
    fn shown_time(&self) -> Option<u64> {
        let field = |index| self.decode(self.byte(index));
        let hours = self.byte(HOURS);
        let hour = if self.reg_b() & REG_B_24H != 0 {
            field(HOURS)?
        } else {
            let hour = self.decode(hours & !PM)?;
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour % 12 + if hours & PM != 0 { 12 } else { 0 }
        };
        let time = DateTime {
            year: field(CENTURY)? * 100 + field(YEAR)?,
            month: field(MONTH)?,
            day: field(DAY)?,
            weekday: 0,
            hour,
            minute: field(MINUTES)?,
            second: field(SECONDS)?,
        };
        calendar::to_unix(&time)
    }

    /// Starts the clock from the time the registers show, when it is valid.
    fn set_clock(&mut self, now_ns: u64) {
        if let Some(unix) = self.shown_time() {
            self.epoch_unix = unix;
            self.epoch_ns = now_ns;
            self.snapshot_ns = Some(now_ns);
        }
    }

    /// A read of register `index` through port 0x71.
    fn read_register(&mut self, index: u8, now_ns: u64) -> u8 {
        let running = self.reg_b() & REG_B_SET == 0;
        let stale = self
            .snapshot_ns
            .is_none_or(|at| now_ns.saturating_sub(at) >= NS_PER_SECOND);
        let refresh = match index {
            SECONDS | REG_A => true,
            _ => TIME_REGISTERS.contains(&index) && stale,
        };
        if running && refresh {
            self.take_snapshot(now_ns);
        }
        match index {
            REG_A => self.byte(REG_A) & !REG_A_UIP,
            REG_C => 0,
            REG_D => REG_D_VRT,
            _ => self.byte(index),
        }
    }

    /// A write of register `index` through port 0x71.
    fn write_register(&mut self, index: u8, value: u8, now_ns: u64) {
        match index {
            REG_A => self.set(REG_A, value & !REG_A_UIP),
            REG_B => {
                let old = self.reg_b();
                let was_set = old & REG_B_SET != 0;
                let set = value & REG_B_SET != 0;
                if !was_set {
                    // Stopping: the registers keep the time of this moment.
                    self.take_snapshot(now_ns);
                }
                self.set(REG_B, value);
                let format = REG_B_BINARY | REG_B_24H;
                if was_set && !set {
                    self.set_clock(now_ns);
                } else if !set && (old ^ value) & format != 0 {
                    // Running, in a new format: show the time in it at once.
                    self.take_snapshot(now_ns);
                }
            }
            REG_C | REG_D => {}
            _ => {
                let running = self.reg_b() & REG_B_SET == 0;
                let time = TIME_REGISTERS.contains(&index);
                if running && time {
                    // The other fields are the current time, not an old snapshot.
                    self.take_snapshot(now_ns);
                }
                self.set(index, value);
                if running && time {
                    self.set_clock(now_ns);
                }
            }
        }
    }
}

impl TimedPortDevice for Cmos {
    fn name(&self) -> &'static str {
        "cmos"
    }

    fn read_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        now_ns: u64,
    ) -> Result<u32, DeviceError> {
        check_byte_port(port_offset, width, 2)?;
        let value = match port_offset {
            INDEX_PORT => self.index_port,
            _ => self.read_register(self.index_port & !NMI_MASK, now_ns),
        };
        Ok(value.into())
    }

    fn write_at(
        &mut self,
        port_offset: u16,
        width: AccessWidth,
        value: u32,
        now_ns: u64,
    ) -> Result<(), DeviceError> {
        check_byte_port(port_offset, width, 2)?;
        let value = value as u8;
        match port_offset {
            INDEX_PORT => self.index_port = value,
            DATA_PORT => self.write_register(self.index_port & !NMI_MASK, value, now_ns),
            _ => {}
        }
        Ok(())
    }
}
