//! Doorbells of a region of memory VMs share: each VM that shares it gets a 4 KiB
//! page of 32-bit registers (its [`DoorbellWindow`]); a write to RING raises the
//! doorbell interrupt of the peers it names, a level that stays high until each peer
//! writes its ACK register.
//!
//! | offset | register | access | meaning |
//! |---|---|---|---|
//! | 0x00 | ID | read | [`DOORBELL_ID`] |
//! | 0x04 | MEMBER | read | this VM's index among the region's VMs (by VM id) |
//! | 0x08 | MEMBERS | read | how many VMs share the region |
//! | 0x0c | RING | write | rings the members whose bit is set (this VM's own bit is ignored) |
//! | 0x10 | PENDING | read | 1 while a ring came and was not acknowledged |
//! | 0x14 | ACK | write | acknowledges: PENDING 0, the interrupt line low |
//! | 0x18 | RECEIVED | read | rings that reached this VM since it started |
//! | 0x1c | SENT | read | rings this VM delivered to peers since it started |
//! | 0x20 | SIZE_LO | read | the region's size, low 32 bits |
//! | 0x24 | SIZE_HI | read | the region's size, high 32 bits |
//!
//! A ring that comes while PENDING is 1 is counted, but the line is already high.
//! A guest therefore acknowledges first and then looks at the region: a message a
//! peer wrote before ringing is seen, and a ring after the acknowledgement raises
//! the line again.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use spin::Mutex;

use crate::{AccessWidth, DeviceError, SharedMmio};

/// What the ID register reads: `"TSDB"` in ASCII, little-endian.
pub const DOORBELL_ID: u32 = u32::from_le_bytes(*b"TSDB");

/// Register offsets of a doorbell page.
mod reg {
    pub const ID: u64 = 0x00;
    pub const MEMBER: u64 = 0x04;
    pub const MEMBERS: u64 = 0x08;
    pub const RING: u64 = 0x0c;
    pub const PENDING: u64 = 0x10;
    pub const ACK: u64 = 0x14;
    pub const RECEIVED: u64 = 0x18;
    pub const SENT: u64 = 0x1c;
    pub const SIZE_LO: u64 = 0x20;
    pub const SIZE_HI: u64 = 0x24;
}

/// A doorbell's interrupt output in its VM: a line of the VM's interrupt controller,
/// whose vCPUs are woken when it rises.
pub trait DoorbellSignal: Send + Sync {
    /// Follows the doorbell's level: high while a ring is not acknowledged.
    fn set_level(&self, high: bool);
}

/// One VM's end of a shared region: its index, its pending ring and its counts.
pub struct DoorbellEnd {
    member: u32,
    pending: AtomicBool,
    received: AtomicU32,
    sent: AtomicU32,
    /// Taken while the line is set from `pending`, so that the last setting
    /// follows the last change.
    signal: Mutex<Box<dyn DoorbellSignal>>,
}

impl DoorbellEnd {
    /// The end of member `member`, raising `signal`.
    pub fn new(member: u32, signal: Box<dyn DoorbellSignal>) -> Self {
        Self {
            member,
            pending: AtomicBool::new(false),
            received: AtomicU32::new(0),
            sent: AtomicU32::new(0),
            signal: Mutex::new(signal),
        }
    }

    /// This VM's index among the region's VMs.
    pub fn member(&self) -> u32 {
        self.member
    }

    /// Rings received and delivered since the VM started.
    pub fn counts(&self) -> (u32, u32) {
        (
            self.received.load(Ordering::Acquire),
            self.sent.load(Ordering::Acquire),
        )
    }

    /// Back to the state of a VM that just started: nothing pending, no rings
    /// counted, the line low.
    pub fn reset(&self) {
        self.received.store(0, Ordering::Release);
        self.sent.store(0, Ordering::Release);
        self.pending.store(false, Ordering::Release);
        self.sync_line();
    }

    /// A peer rang: counted, and the line rises if it was low.
    fn ring(&self) {
        self.received.fetch_add(1, Ordering::AcqRel);
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.sync_line();
        }
    }

    /// The guest acknowledged its rings.
    fn acknowledge(&self) {
        if self.pending.swap(false, Ordering::AcqRel) {
            self.sync_line();
        }
    }

    /// Sets the line from `pending`, as it is now.
    fn sync_line(&self) {
        let signal = self.signal.lock();
        signal.set_level(self.pending.load(Ordering::Acquire));
    }
}

/// The VMs that share one region: their doorbell ends, by member index.
pub struct DoorbellGroup {
    size: u64,
    members: u32,
    ends: Mutex<Vec<Arc<DoorbellEnd>>>,
}

impl DoorbellGroup {
    /// The group of a region of `size` bytes that `members` VMs share.
    pub fn new(size: u64, members: u32) -> Self {
        Self {
            size,
            members,
            ends: Mutex::new(Vec::new()),
        }
    }

    /// Adds a VM's end (when the VM is created).
    pub fn join(&self, end: Arc<DoorbellEnd>) {
        self.ends.lock().push(end);
    }

    /// Takes a VM's end out (when the VM is deleted); its peers' rings no longer
    /// reach it.
    pub fn leave(&self, end: &Arc<DoorbellEnd>) {
        self.ends.lock().retain(|other| !Arc::ptr_eq(other, end));
    }

    /// Rings the members in `mask` other than `from`; returns how many were rung.
    fn ring(&self, from: &DoorbellEnd, mask: u32) -> u32 {
        let ends = self.ends.lock();
        let mut rung = 0;
        for end in ends.iter() {
            let bit = 1u32.checked_shl(end.member).unwrap_or(0);
            if end.member != from.member && mask & bit != 0 {
                end.ring();
                rung += 1;
            }
        }
        rung
    }
}

/// A VM's doorbell page on its bus: its end of one region's group.
pub struct DoorbellWindow {
    group: Arc<DoorbellGroup>,
    end: Arc<DoorbellEnd>,
}

impl DoorbellWindow {
    /// The page through which `end` reaches `group`.
    pub fn new(group: Arc<DoorbellGroup>, end: Arc<DoorbellEnd>) -> Self {
        Self { group, end }
    }
}

impl SharedMmio for DoorbellWindow {
    fn name(&self) -> &'static str {
        "doorbell"
    }

    fn read(&self, offset: u64, width: AccessWidth) -> Result<u64, DeviceError> {
        check_access(offset, width)?;
        let end = &self.end;
        let value = match offset {
            reg::ID => DOORBELL_ID,
            reg::MEMBER => end.member,
            reg::MEMBERS => self.group.members,
            reg::PENDING => u32::from(end.pending.load(Ordering::Acquire)),
            reg::RECEIVED => end.received.load(Ordering::Acquire),
            reg::SENT => end.sent.load(Ordering::Acquire),
            reg::SIZE_LO => self.group.size as u32,
            reg::SIZE_HI => (self.group.size >> 32) as u32,
            reg::RING | reg::ACK => return Err(DeviceError::WriteOnly { offset }),
            _ => return Err(DeviceError::NoRegister { offset }),
        };
        Ok(u64::from(value))
    }

    fn write(&self, offset: u64, width: AccessWidth, value: u64) -> Result<(), DeviceError> {
        check_access(offset, width)?;
        match offset {
            reg::RING => {
                let rung = self.group.ring(&self.end, value as u32);
                self.end.sent.fetch_add(rung, Ordering::AcqRel);
                Ok(())
            }
            reg::ACK => {
                self.end.acknowledge();
                Ok(())
            }
            reg::ID
            | reg::MEMBER
            | reg::MEMBERS
            | reg::PENDING
            | reg::RECEIVED
            | reg::SENT
            | reg::SIZE_LO
            | reg::SIZE_HI => Err(DeviceError::ReadOnly { offset }),
            _ => Err(DeviceError::NoRegister { offset }),
        }
    }
}

/// Every register is 32 bits wide, accessed whole.
fn check_access(offset: u64, width: AccessWidth) -> Result<(), DeviceError> {
    if width != AccessWidth::Word {
        return Err(DeviceError::BadWidth { offset, width });
    }
    if !offset.is_multiple_of(4) {
        return Err(DeviceError::Unaligned { offset, width });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicU32;

    /// A line that records its level and how often it was set high.
    #[derive(Default)]
    struct Line {
        high: AtomicBool,
        rises: AtomicU32,
    }

    struct Probe(Arc<Line>);

    impl DoorbellSignal for Probe {
        fn set_level(&self, high: bool) {
            if high && !self.0.high.load(Ordering::Acquire) {
                self.0.rises.fetch_add(1, Ordering::AcqRel);
            }
            self.0.high.store(high, Ordering::Release);
        }
    }

    /// A region of `members` VMs: each one's window and line.
    fn group(members: u32) -> Vec<(DoorbellWindow, Arc<Line>)> {
        let group = Arc::new(DoorbellGroup::new(0x1_0000, members));
        (0..members)
            .map(|member| {
                let line = Arc::new(Line::default());
                let end = Arc::new(DoorbellEnd::new(member, Box::new(Probe(line.clone()))));
                group.join(end.clone());
                (DoorbellWindow::new(group.clone(), end), line)
            })
            .collect()
    }

    fn read(window: &DoorbellWindow, offset: u64) -> u64 {
        window.read(offset, AccessWidth::Word).unwrap()
    }

    fn write(window: &DoorbellWindow, offset: u64, value: u64) {
        window.write(offset, AccessWidth::Word, value).unwrap();
    }

    #[test]
    fn identity_and_size_are_read() {
        let vms = group(3);
        let (window, _) = &vms[2];
        assert_eq!(read(window, reg::ID), u64::from(DOORBELL_ID));
        assert_eq!(read(window, reg::MEMBER), 2);
        assert_eq!(read(window, reg::MEMBERS), 3);
        assert_eq!(read(window, reg::SIZE_LO), 0x1_0000);
        assert_eq!(read(window, reg::SIZE_HI), 0);
    }

    #[test]
    fn a_ring_raises_the_named_peers_until_they_acknowledge() {
        let vms = group(3);
        write(&vms[0].0, reg::RING, 0b110);
        for (window, line) in &vms[1..] {
            assert!(line.high.load(Ordering::Acquire));
            assert_eq!(read(window, reg::PENDING), 1);
            assert_eq!(read(window, reg::RECEIVED), 1);
        }
        assert!(!vms[0].1.high.load(Ordering::Acquire));
        assert_eq!(read(&vms[0].0, reg::SENT), 2);
        write(&vms[1].0, reg::ACK, 0);
        assert!(!vms[1].1.high.load(Ordering::Acquire));
        assert_eq!(read(&vms[1].0, reg::PENDING), 0);
        assert!(
            vms[2].1.high.load(Ordering::Acquire),
            "the other peer still holds its ring"
        );
    }

    #[test]
    fn the_ringers_own_bit_and_unknown_bits_ring_nobody() {
        let vms = group(2);
        write(&vms[0].0, reg::RING, 0b1 | 0xffff_fffc);
        assert_eq!(read(&vms[0].0, reg::SENT), 0);
        assert_eq!(read(&vms[0].0, reg::RECEIVED), 0);
        assert!(!vms[1].1.high.load(Ordering::Acquire));
        write(&vms[0].0, reg::RING, u64::MAX);
        assert_eq!(
            read(&vms[1].0, reg::RECEIVED),
            1,
            "all ones rings every peer"
        );
    }

    #[test]
    fn rings_while_pending_are_counted_but_raise_the_line_once() {
        let vms = group(2);
        for _ in 0..1000 {
            write(&vms[0].0, reg::RING, 0b10);
        }
        assert_eq!(read(&vms[1].0, reg::RECEIVED), 1000);
        assert_eq!(read(&vms[0].0, reg::SENT), 1000);
        assert_eq!(vms[1].1.rises.load(Ordering::Acquire), 1);
        write(&vms[1].0, reg::ACK, 0);
        write(&vms[0].0, reg::RING, 0b10);
        assert_eq!(
            vms[1].1.rises.load(Ordering::Acquire),
            2,
            "a ring after the ack"
        );
    }

    #[test]
    fn a_member_that_left_is_not_rung_and_a_reset_clears_the_counts() {
        let group = Arc::new(DoorbellGroup::new(0x1000, 2));
        let lines: Vec<Arc<Line>> = (0..2).map(|_| Arc::new(Line::default())).collect();
        let ends: Vec<Arc<DoorbellEnd>> = (0..2)
            .map(|i| {
                Arc::new(DoorbellEnd::new(
                    i,
                    Box::new(Probe(lines[i as usize].clone())),
                ))
            })
            .collect();
        ends.iter().for_each(|end| group.join(end.clone()));
        let first = DoorbellWindow::new(group.clone(), ends[0].clone());
        write(&first, reg::RING, 0b10);
        assert_eq!(ends[1].counts(), (1, 0));
        ends[1].reset();
        assert_eq!(ends[1].counts(), (0, 0));
        assert!(!lines[1].high.load(Ordering::Acquire));
        group.leave(&ends[1]);
        write(&first, reg::RING, 0b10);
        assert_eq!(ends[1].counts(), (0, 0));
        assert_eq!(ends[0].counts(), (0, 1));
    }

    #[test]
    fn bad_accesses_are_refused() {
        let vms = group(2);
        let window = &vms[0].0;
        assert_eq!(
            window.read(reg::ID, AccessWidth::Double),
            Err(DeviceError::BadWidth {
                offset: 0,
                width: AccessWidth::Double
            })
        );
        assert_eq!(
            window.read(0x2, AccessWidth::Word),
            Err(DeviceError::Unaligned {
                offset: 2,
                width: AccessWidth::Word
            })
        );
        assert_eq!(
            window.read(reg::RING, AccessWidth::Word),
            Err(DeviceError::WriteOnly { offset: reg::RING })
        );
        assert_eq!(
            window.write(reg::RECEIVED, AccessWidth::Word, 5),
            Err(DeviceError::ReadOnly {
                offset: reg::RECEIVED
            })
        );
        assert_eq!(
            window.read(0xffc, AccessWidth::Word),
            Err(DeviceError::NoRegister { offset: 0xffc })
        );
    }
}
