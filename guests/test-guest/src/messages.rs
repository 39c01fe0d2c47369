//! Messages through a region shared with other VMs (`tessera.messages=<count>` on the
//! command line, a `tessera,shared-region` node in the device tree).
//!
//! The protocol, which a Linux guest can follow with busybox `devmem` (the `init.sh`
//! of the Linux test guest does): the region holds one mailbox of 0x100 bytes per
//! member, at `member * 0x100`: a sequence number (written last), a word count (1 to
//! 62), then the words; word `i` of message `n` is [`word`]`(n, i)`. Member 0 sends
//! messages 1, 2, ... `count`, each in its mailbox, and rings the others; a peer
//! checks each message, answers it in its own mailbox with the same count, every word
//! inverted and the same sequence number, and rings member 0, which checks the answer
//! before it sends the next.

use crate::boot_info::SharedRegion;
use crate::{Console, arch, irq, say};
use core::fmt::Write;
use core::sync::atomic::{Ordering, fence};

/// What the doorbell's ID register reads ("TSDB").
const DOORBELL_ID: u32 = u32::from_le_bytes(*b"TSDB");

/// Doorbell registers.
const ID: u64 = 0x00;
const MEMBER: u64 = 0x04;
const MEMBERS: u64 = 0x08;
const RING: u64 = 0x0c;
const ACK: u64 = 0x14;
const RECEIVED: u64 = 0x18;
const SENT: u64 = 0x1c;

/// Bytes of one member's mailbox, the most words a message has, and the words of
/// the messages this program sends.
const MAILBOX: u64 = 0x100;
const MAX_WORDS: u32 = 62;
const WORDS: u32 = 16;

/// A 32-bit read at `addr` (shared memory or a doorbell register). On aarch64 it is
/// one plain `ldr` without address writeback: an emulated register's access must be
/// one the hypervisor can complete from its syndrome (ESR_EL2.ISV), and a compiler
/// may otherwise fold the address update into the load (`ldr w, [x, #24]!`).
fn read32(addr: u64) -> u32 {
    #[cfg(target_arch = "aarch64")]
    {
        let value: u32;
        // SAFETY: an address in the shared region or the doorbell page the device
        // tree gives this program.
        unsafe {
            core::arch::asm!("ldr {v:w}, [{a}]", v = out(reg) value, a = in(reg) addr,
                             options(nostack, readonly))
        };
        value
    }
    #[cfg(not(target_arch = "aarch64"))]
    // SAFETY: as above.
    unsafe {
        core::ptr::read_volatile(addr as *const u32)
    }
}

/// A 32-bit write at `addr`, one plain store on aarch64 (see [`read32`]).
fn write32(addr: u64, value: u32) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as in `read32`.
    unsafe {
        core::arch::asm!("str {v:w}, [{a}]", v = in(reg) value, a = in(reg) addr,
                         options(nostack))
    };
    #[cfg(not(target_arch = "aarch64"))]
    // SAFETY: as in `read32`.
    unsafe {
        core::ptr::write_volatile(addr as *mut u32, value)
    }
}

/// Word `i` of message `n`.
fn word(n: u32, i: u32) -> u32 {
    n.wrapping_mul(0x0100_0193) ^ i.wrapping_mul(0x9e37_79b9)
}

/// The doorbell page of the region in use, for the interrupt handler.
static DOORBELL: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The doorbell rang: acknowledged; the waiting loop looks at the region.
pub fn on_doorbell() {
    let doorbell = DOORBELL.load(Ordering::Acquire);
    if doorbell != 0 {
        write32(doorbell + ACK, 0);
    }
}

/// Writes message `n` of `words` words (`invert`ed for an answer) into the mailbox
/// at `mailbox`: the words, their count, then (after a barrier) its sequence number.
fn post(mailbox: u64, n: u32, words: u32, invert: bool) {
    for i in 0..words {
        let value = word(n, i);
        let value = if invert { !value } else { value };
        write32(mailbox + 8 + 4 * u64::from(i), value);
    }
    write32(mailbox + 4, words);
    fence(Ordering::SeqCst);
    write32(mailbox, n);
}

/// The word count of the mailbox at `mailbox` if it holds message `n` (`invert`ed
/// for an answer) whole.
fn holds(mailbox: u64, n: u32, invert: bool) -> Option<u32> {
    fence(Ordering::SeqCst);
    let words = read32(mailbox + 4);
    let whole = read32(mailbox) == n
        && (1..=MAX_WORDS).contains(&words)
        && (0..words).all(|i| {
            let value = word(n, i);
            read32(mailbox + 8 + 4 * u64::from(i)) == if invert { !value } else { value }
        });
    whole.then_some(words)
}

/// This VM's side of a shared region: its doorbell, the first mailbox and its own.
struct Link {
    doorbell: u64,
    first: u64,
    mine: u64,
    member: u32,
    members: u32,
}

impl Link {
    /// The link through `region`, with its doorbell interrupt enabled.
    fn open(region: &SharedRegion) -> Result<Self, &'static str> {
        let doorbell = region.doorbell;
        if read32(doorbell + ID) != DOORBELL_ID {
            return Err("messages: no doorbell at the address the device tree gives");
        }
        let member = read32(doorbell + MEMBER);
        let members = read32(doorbell + MEMBERS);
        if members < 2 || u64::from(members) * MAILBOX > region.size {
            return Err("messages: the region has no room for a mailbox per member");
        }
        let interrupt = region
            .interrupt
            .ok_or("messages: the shared region has no doorbell interrupt")?;
        DOORBELL.store(doorbell, Ordering::Release);
        arch::init_cpu();
        arch::enable_device_interrupt(interrupt);
        Ok(Self {
            doorbell,
            first: region.base,
            mine: region.base + u64::from(member) * MAILBOX,
            member,
            members,
        })
    }

    /// Rings received so far.
    fn received(&self) -> u32 {
        read32(self.doorbell + RECEIVED)
    }

    /// Rings member 0 (from a peer) or every peer (from member 0).
    fn ring(&self) {
        write32(self.doorbell + RING, if self.member == 0 { !1 } else { 1 });
    }

    /// Rings this VM gets per round: one from each peer (member 0), else one.
    fn rings_per_round(&self) -> u32 {
        if self.member == 0 {
            self.members - 1
        } else {
            1
        }
    }

    /// The mailbox of member `peer`.
    fn mailbox(&self, peer: u32) -> u64 {
        self.first + u64::from(peer) * MAILBOX
    }

    /// Rings answered by rings, `rounds` times (member 0 rings first); `before` rings
    /// came in earlier.
    fn ping_pong(&self, rounds: u32, before: u32) {
        let per_round = self.rings_per_round();
        for k in 1..=rounds {
            if self.member == 0 {
                self.ring();
            }
            irq::wait_until(|| self.received() >= before + k * per_round);
            if self.member != 0 {
                self.ring();
            }
        }
    }

    /// Exchanges messages 1 to `count` (the module's protocol); `before` rings came in
    /// earlier.
    fn exchange(&self, count: u32, before: u32) -> Result<(), &'static str> {
        let peers = 1..self.members;
        for n in 1..=count {
            if self.member == 0 {
                post(self.mine, n, WORDS, false);
                self.ring();
                // Each peer's answer in its own mailbox, and its ring.
                irq::wait_until(|| {
                    self.received() >= before + n * (self.members - 1)
                        && peers.clone().all(|peer| read32(self.mailbox(peer)) == n)
                });
                if !peers
                    .clone()
                    .all(|peer| holds(self.mailbox(peer), n, true) == Some(WORDS))
                {
                    return Err("messages: an answer is not its message inverted");
                }
            } else {
                irq::wait_until(|| self.received() >= before + n && read32(self.first) >= n);
                let words = holds(self.first, n, false)
                    .ok_or("messages: a message arrived changed or out of order")?;
                post(self.mine, n, words, true);
                self.ring();
            }
        }
        Ok(())
    }
}

/// Exchanges `count` messages through `region`; prints the verdict.
pub fn run(region: SharedRegion, count: u32) -> Result<(), &'static str> {
    let link = Link::open(&region)?;
    link.exchange(count, 0)?;
    say!(
        "tessera-guest: messages ok ({count} through `{}`, member {} of {}, \
         {} rings received, {} sent)",
        region.name,
        link.member,
        link.members,
        link.received(),
        read32(link.doorbell + SENT)
    );
    Ok(())
}

/// Rounds of each doorbell figure.
const BENCH_ROUNDS: u32 = 200;

/// The doorbell figures (`tessera.bench-doorbell`), measured by member 0 with its
/// counter (`hz`): a ring answered by a ring (`doorbell_round_trip`: the ring, the
/// peer's interrupt and wake-up, its ring back, this VM's interrupt), and a 16-word
/// message answered and checked (`message_round_trip`). The peers answer.
pub fn bench(region: SharedRegion, hz: u64) -> Result<(), &'static str> {
    let link = Link::open(&region)?;
    let per_round = link.rings_per_round();
    // One round untimed: it waits for the peers to get here.
    link.ping_pong(1, 0);
    let start = arch::counter();
    link.ping_pong(BENCH_ROUNDS, per_round);
    let rings = arch::counter().wrapping_sub(start);
    let start = arch::counter();
    link.exchange(BENCH_ROUNDS, (BENCH_ROUNDS + 1) * per_round)?;
    let messages = arch::counter().wrapping_sub(start);
    if link.member == 0 {
        let rounds = u64::from(BENCH_ROUNDS);
        crate::bench::report("doorbell_round_trip", rounds, rings, hz);
        crate::bench::report("message_round_trip", rounds, messages, hz);
        say!("tessera-bench: done");
    }
    Ok(())
}
