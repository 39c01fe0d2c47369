//! Tests of the PLIC model.

use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

/// Sources and contexts of a two-hart VM as QEMU `virt` sizes it.
const SOURCES: u32 = 96;
const CONTEXTS: u32 = 4;
/// Hart 0's and hart 1's S-mode contexts.
const S0: u32 = 1;
const S1: u32 = 3;

fn plic() -> Plic {
    Plic::new(SOURCES, CONTEXTS)
}

fn priority(source: u32) -> u64 {
    4 * u64::from(source)
}

fn pending(word: u32) -> u64 {
    0x1000 + 4 * u64::from(word)
}

fn enable(context: u32, word: u32) -> u64 {
    0x2000 + 0x80 * u64::from(context) + 4 * u64::from(word)
}

fn threshold(context: u32) -> u64 {
    0x20_0000 + 0x1000 * u64::from(context)
}

fn claim(context: u32) -> u64 {
    threshold(context) + 4
}

fn rd(p: &mut Plic, offset: u64) -> u32 {
    p.read(offset, Word).unwrap() as u32
}

fn wr(p: &mut Plic, offset: u64, value: u32) {
    p.write(offset, Word, value.into()).unwrap();
}

/// `source` at `prio`, enabled for `context`.
fn route(p: &mut Plic, source: u32, prio: u32, context: u32) {
    wr(p, priority(source), prio);
    let word = enable(context, source / 32);
    let bits = rd(p, word);
    wr(p, word, bits | 1 << (source % 32));
}

#[test]
fn reset_values() {
    let mut p = plic();
    assert_eq!((p.sources(), p.contexts()), (SOURCES, CONTEXTS));
    assert_eq!(p.name(), "plic");
    assert_eq!(Plic::SIZE, 0x400_0000);
    for source in 0..=SOURCES {
        assert_eq!(rd(&mut p, priority(source)), 0);
    }
    for word in 0..32 {
        assert_eq!(rd(&mut p, pending(word)), 0);
    }
    for context in 0..CONTEXTS {
        for word in 0..32 {
            assert_eq!(rd(&mut p, enable(context, word)), 0);
        }
        assert_eq!(rd(&mut p, threshold(context)), 0);
        assert_eq!(rd(&mut p, claim(context)), 0);
        assert!(!p.context_interrupt(context));
    }
    assert_eq!(p.contexts_with_interrupts(), 0);
    assert_eq!(p.take_changed(), 0);
}

#[test]
fn context_numbering() {
    assert_eq!(Plic::machine_context(0), 0);
    assert_eq!(Plic::supervisor_context(0), 1);
    assert_eq!(Plic::machine_context(1), 2);
    assert_eq!(Plic::supervisor_context(1), 3);
}

#[test]
fn priority_registers() {
    let mut p = plic();
    for source in [1, 2, 31, 32, SOURCES] {
        wr(&mut p, priority(source), 0xffff_fffd);
        assert_eq!(rd(&mut p, priority(source)), 5, "source {source}");
        wr(&mut p, priority(source), 0xffff_ffff);
        assert_eq!(rd(&mut p, priority(source)), Plic::MAX_PRIORITY);
    }
    // Source 0 and sources past the last do not exist.
    for source in [0, SOURCES + 1, 1023] {
        wr(&mut p, priority(source), 7);
        assert_eq!(rd(&mut p, priority(source)), 0, "source {source}");
    }
}

#[test]
fn enable_registers() {
    let mut p = plic();
    for word in 0..32 {
        wr(&mut p, enable(S0, word), u32::MAX);
    }
    // Bit 0 (source 0) is hardwired to zero, and so are sources past 96.
    let expected = [0xffff_fffe, u32::MAX, u32::MAX, 0x1];
    for word in 0..32 {
        let want = expected.get(word as usize).copied().unwrap_or(0);
        assert_eq!(rd(&mut p, enable(S0, word)), want, "word {word}");
    }
    // Other contexts are separate.
    for context in [0, 2, 3] {
        assert_eq!(rd(&mut p, enable(context, 0)), 0);
    }
    wr(&mut p, enable(S0, 1), 0x1234_5678);
    assert_eq!(rd(&mut p, enable(S0, 1)), 0x1234_5678);
    // A source count that ends inside a word.
    let mut p = Plic::new(40, 1);
    wr(&mut p, enable(0, 1), u32::MAX);
    assert_eq!(rd(&mut p, enable(0, 1)), 0x1ff);
    let mut p = Plic::new(31, 1);
    wr(&mut p, enable(0, 0), u32::MAX);
    assert_eq!(rd(&mut p, enable(0, 0)), 0xffff_fffe);
    wr(&mut p, enable(0, 1), u32::MAX);
    assert_eq!(rd(&mut p, enable(0, 1)), 0);
}

#[test]
fn threshold_registers() {
    let mut p = plic();
    for context in 0..CONTEXTS {
        wr(&mut p, threshold(context), 0xf0 | context);
        assert_eq!(rd(&mut p, threshold(context)), context);
    }
    wr(&mut p, threshold(S0), u32::MAX);
    assert_eq!(rd(&mut p, threshold(S0)), Plic::MAX_PRIORITY);
}

#[test]
fn pending_bits_are_read_only() {
    let mut p = plic();
    p.raise(5);
    p.set_level(70, true);
    p.set_level(SOURCES, true);
    assert_eq!(rd(&mut p, pending(0)), 1 << 5);
    assert_eq!(rd(&mut p, pending(1)), 0);
    assert_eq!(rd(&mut p, pending(2)), 1 << 6);
    assert_eq!(rd(&mut p, pending(3)), 1);
    for word in 0..32 {
        let offset = pending(word);
        assert_eq!(
            p.write(offset, Word, 0),
            Err(DeviceError::ReadOnly { offset })
        );
    }
    assert_eq!(rd(&mut p, pending(0)), 1 << 5);
}

#[test]
fn claim_complete_cycle() {
    let mut p = plic();
    route(&mut p, 10, 1, S0);
    assert!(!p.context_interrupt(S0));
    p.set_level(10, true);
    assert!(p.context_interrupt(S0));
    assert!(!p.context_interrupt(0) && !p.context_interrupt(S1));
    assert_eq!(rd(&mut p, claim(S0)), 10);
    // Claimed: no longer pending, the line drops, nothing more to claim.
    assert_eq!(rd(&mut p, pending(0)), 0);
    assert!(!p.context_interrupt(S0));
    assert_eq!(rd(&mut p, claim(S0)), 0);
    // Completed with the line still high: a new request.
    wr(&mut p, claim(S0), 10);
    assert_eq!(rd(&mut p, pending(0)), 1 << 10);
    assert!(p.context_interrupt(S0));
    // The request stays pending when the line drops before the claim.
    p.set_level(10, false);
    assert!(p.context_interrupt(S0));
    assert_eq!(rd(&mut p, claim(S0)), 10);
    wr(&mut p, claim(S0), 10);
    assert_eq!(rd(&mut p, pending(0)), 0);
    assert!(!p.context_interrupt(S0));
    assert_eq!(rd(&mut p, claim(S0)), 0);
}

#[test]
fn claim_order() {
    let mut p = plic();
    for (source, prio) in [(3, 2), (40, 5), (5, 5), (6, 1), (95, 7), (7, 0)] {
        route(&mut p, source, prio, S0);
        p.raise(source);
    }
    // Highest priority first, ties to the lowest ID, priority 0 never.
    let order: Vec<u32> = (0..7).map(|_| rd(&mut p, claim(S0))).collect();
    assert_eq!(order, [95, 5, 40, 3, 6, 0, 0]);
    assert_eq!(rd(&mut p, pending(0)), 1 << 7);
}

#[test]
fn threshold_masks_the_line_not_the_claim() {
    let mut p = plic();
    route(&mut p, 9, 3, S0);
    p.raise(9);
    assert!(p.context_interrupt(S0));
    wr(&mut p, threshold(S0), 3);
    assert!(!p.context_interrupt(S0));
    wr(&mut p, threshold(S0), 2);
    assert!(p.context_interrupt(S0));
    wr(&mut p, threshold(S0), 7);
    assert!(!p.context_interrupt(S0));
    // A context may poll with the threshold at its maximum.
    assert_eq!(rd(&mut p, claim(S0)), 9);
    // A higher priority than the threshold shows again.
    wr(&mut p, threshold(S0), 4);
    route(&mut p, 11, 5, S0);
    p.raise(11);
    assert!(p.context_interrupt(S0));
    route(&mut p, 12, 4, S0);
    wr(&mut p, priority(11), 4);
    assert!(!p.context_interrupt(S0));
}

#[test]
fn priority_zero_never_interrupts() {
    let mut p = plic();
    route(&mut p, 20, 0, S0);
    p.set_level(20, true);
    assert_eq!(rd(&mut p, pending(0)), 1 << 20);
    assert!(!p.context_interrupt(S0));
    assert_eq!(rd(&mut p, claim(S0)), 0);
    wr(&mut p, priority(20), 1);
    assert!(p.context_interrupt(S0));
    assert_eq!(rd(&mut p, claim(S0)), 20);
}

#[test]
fn disabled_sources() {
    let mut p = plic();
    wr(&mut p, priority(33), 1);
    p.set_level(33, true);
    assert_eq!(rd(&mut p, pending(1)), 1 << 1);
    assert!(!p.context_interrupt(S0));
    assert_eq!(rd(&mut p, claim(S0)), 0);
    wr(&mut p, enable(S0, 1), 1 << 1);
    assert!(p.context_interrupt(S0));
    assert_eq!(rd(&mut p, claim(S0)), 33);
    // Completion of a source the context no longer has enabled is ignored
    // (the specification's rule), so the source stays in service.
    wr(&mut p, enable(S0, 1), 0);
    wr(&mut p, claim(S0), 33);
    wr(&mut p, enable(S0, 1), 1 << 1);
    assert_eq!(rd(&mut p, pending(1)), 0);
    wr(&mut p, claim(S0), 33);
    assert_eq!(rd(&mut p, pending(1)), 1 << 1);
    assert_eq!(rd(&mut p, claim(S0)), 33);
}

#[test]
fn completion_by_the_wrong_context_is_ignored() {
    let mut p = plic();
    route(&mut p, 4, 1, S0);
    route(&mut p, 4, 1, S1);
    p.set_level(4, true);
    assert_eq!(rd(&mut p, claim(S0)), 4);
    // The other hart has it enabled but did not claim it.
    wr(&mut p, claim(S1), 4);
    assert_eq!(rd(&mut p, pending(0)), 0);
    // Nor do completions of other IDs count.
    for id in [0, 3, 5, SOURCES, SOURCES + 1, 1023, u32::MAX] {
        wr(&mut p, claim(S0), id);
    }
    assert_eq!(rd(&mut p, pending(0)), 0);
    wr(&mut p, claim(S0), 4);
    assert_eq!(rd(&mut p, pending(0)), 1 << 4);
    // Now hart 1 claims it and hart 0's completion is ignored.
    assert_eq!(rd(&mut p, claim(S1)), 4);
    wr(&mut p, claim(S0), 4);
    assert_eq!(rd(&mut p, pending(0)), 0);
    wr(&mut p, claim(S1), 4);
    assert_eq!(rd(&mut p, pending(0)), 1 << 4);
}

#[test]
fn level_triggered_gateway() {
    let mut p = plic();
    route(&mut p, 8, 1, S0);
    p.set_level(8, true);
    p.set_level(8, true);
    assert_eq!(rd(&mut p, claim(S0)), 8);
    // While in service, a line that drops and rises again forwards nothing.
    p.set_level(8, false);
    p.set_level(8, true);
    assert_eq!(rd(&mut p, pending(0)), 0);
    assert_eq!(rd(&mut p, claim(S0)), 0);
    // One new request at completion, since the line is high.
    wr(&mut p, claim(S0), 8);
    assert_eq!(rd(&mut p, claim(S0)), 8);
    // Low at completion: nothing more.
    p.set_level(8, false);
    wr(&mut p, claim(S0), 8);
    assert_eq!(rd(&mut p, claim(S0)), 0);
    assert_eq!(rd(&mut p, pending(0)), 0);
}

#[test]
fn edge_triggered_gateway() {
    let mut p = plic();
    route(&mut p, 12, 1, S0);
    p.raise(12);
    // A second edge before the claim is kept for after the completion.
    p.raise(12);
    assert_eq!(rd(&mut p, claim(S0)), 12);
    assert_eq!(rd(&mut p, claim(S0)), 0);
    wr(&mut p, claim(S0), 12);
    assert_eq!(rd(&mut p, claim(S0)), 12);
    // Several edges while in service make one request.
    p.raise(12);
    p.raise(12);
    p.raise(12);
    assert_eq!(rd(&mut p, claim(S0)), 0);
    wr(&mut p, claim(S0), 12);
    assert_eq!(rd(&mut p, claim(S0)), 12);
    wr(&mut p, claim(S0), 12);
    assert_eq!(rd(&mut p, claim(S0)), 0);
    // An edge leaves no level behind.
    assert_eq!(rd(&mut p, pending(0)), 0);
}

#[test]
fn lines_and_changed_contexts() {
    let mut p = plic();
    route(&mut p, 2, 1, S0);
    route(&mut p, 2, 1, S1);
    route(&mut p, 3, 1, S1);
    assert_eq!(p.take_changed(), 0);
    p.raise(2);
    // Both harts are told; the first to claim gets it.
    assert_eq!(p.contexts_with_interrupts(), 1 << S0 | 1 << S1);
    assert_eq!(p.take_changed(), 1 << S0 | 1 << S1);
    assert_eq!(p.take_changed(), 0);
    p.raise(3);
    assert_eq!(p.take_changed(), 0, "hart 1's line was already up");
    assert_eq!(rd(&mut p, claim(S1)), 2);
    assert_eq!(p.contexts_with_interrupts(), 1 << S1);
    assert_eq!(p.take_changed(), 1 << S0);
    assert_eq!(rd(&mut p, claim(S0)), 0);
    assert_eq!(rd(&mut p, claim(S1)), 3);
    assert_eq!(p.contexts_with_interrupts(), 0);
    assert_eq!(p.take_changed(), 1 << S1);
    // Register writes change lines too.
    p.raise(4);
    route(&mut p, 4, 2, S0);
    assert_eq!(p.take_changed(), 1 << S0);
    wr(&mut p, threshold(S0), 2);
    assert_eq!(p.take_changed(), 1 << S0);
    assert!(!p.context_interrupt(S0));
}

#[test]
fn out_of_range_sources_and_contexts() {
    let mut p = plic();
    for source in [0, SOURCES + 1, 1023, u32::MAX] {
        p.set_level(source, true);
        p.raise(source);
    }
    for word in 0..32 {
        assert_eq!(rd(&mut p, pending(word)), 0);
    }
    assert_eq!(p.take_changed(), 0);
    // Contexts past the last read zero and ignore writes.
    route(&mut p, 1, 1, S0);
    p.raise(1);
    for context in [CONTEXTS, 63, 64, 15871] {
        wr(&mut p, enable(context, 0), u32::MAX);
        wr(&mut p, threshold(context), 7);
        wr(&mut p, claim(context), 1);
        assert_eq!(rd(&mut p, enable(context, 0)), 0);
        assert_eq!(rd(&mut p, threshold(context)), 0);
        assert_eq!(rd(&mut p, claim(context)), 0);
        assert!(!p.context_interrupt(context));
    }
    assert!(!p.context_interrupt(u32::MAX));
    assert_eq!(p.contexts_with_interrupts(), 1 << S0);
    // Counts are capped.
    let p = Plic::new(5000, 1000);
    assert_eq!((p.sources(), p.contexts()), (1023, 64));
    let mut p = Plic::new(1023, 64);
    route(&mut p, 1023, 7, 63);
    p.raise(1023);
    assert_eq!(p.contexts_with_interrupts(), 1 << 63);
    assert_eq!(rd(&mut p, pending(31)), 1 << 31);
    assert_eq!(rd(&mut p, claim(63)), 1023);
    // A PLIC without sources or contexts.
    let mut p = Plic::new(0, 0);
    p.raise(1);
    wr(&mut p, priority(1), 1);
    wr(&mut p, enable(0, 0), u32::MAX);
    assert_eq!(rd(&mut p, priority(1)), 0);
    assert_eq!(rd(&mut p, claim(0)), 0);
    assert_eq!(p.contexts_with_interrupts(), 0);
}

#[test]
fn bad_accesses() {
    let mut p = plic();
    for offset in [
        priority(1),
        pending(0),
        enable(S0, 0),
        threshold(S0),
        claim(S0),
    ] {
        for width in [Byte, Half, Double] {
            let err = DeviceError::BadWidth { offset, width };
            assert_eq!(p.read(offset, width), Err(err));
            assert_eq!(p.write(offset, width, 0), Err(err));
        }
    }
    for offset in [1, 2, 3, 0x1001, 0x2002, 0x20_0006] {
        let err = DeviceError::Unaligned {
            offset,
            width: Word,
        };
        assert_eq!(p.read(offset, Word), Err(err));
        assert_eq!(p.write(offset, Word, 0), Err(err));
    }
    for offset in [Plic::SIZE, Plic::SIZE + 4, u64::MAX - 3] {
        let err = DeviceError::NoRegister { offset };
        assert_eq!(p.read(offset, Word), Err(err));
        assert_eq!(p.write(offset, Word, 0), Err(err));
    }
    // Reserved holes read zero and ignore writes.
    for offset in [0x1080, 0x1ffc, 0x1f_2000, 0x1f_fffc, 0x20_0008, 0x20_0ffc] {
        wr(&mut p, offset, u32::MAX);
        assert_eq!(rd(&mut p, offset), 0, "offset {offset:#x}");
    }
    assert_eq!(p.contexts_with_interrupts(), 0);
}

#[test]
fn no_offset_or_width_panics() {
    let offsets = (0..0x3000)
        .chain(0x1f_1f00..0x20_3010)
        .chain((0..=16_000u32).map(threshold))
        .chain((0..=16_000u32).map(claim))
        .chain(Plic::SIZE - 0x10..Plic::SIZE + 0x10)
        .chain([u64::MAX - 7, u64::MAX]);
    for (sources, contexts) in [(SOURCES, CONTEXTS), (1023, 64), (1, 1), (0, 0)] {
        let mut p = Plic::new(sources, contexts);
        for offset in offsets.clone() {
            for width in [Byte, Half, Word, Double] {
                let read = p.read(offset, width);
                let write = p.write(offset, width, u64::MAX);
                let aligned = width == Word && offset % 4 == 0 && offset < Plic::SIZE;
                assert_eq!(read.is_ok(), aligned, "{offset:#x} {width}");
                let pending_array = (0x1000..0x1080).contains(&offset);
                assert_eq!(write.is_ok(), aligned && !pending_array, "{offset:#x}");
            }
        }
    }
}

#[test]
fn works_behind_the_bus() {
    use crate::{Locked, MmioBus};
    use tessera_addr::{GuestPhysAddr, GuestRange};

    let mut bus = MmioBus::new();
    let base = 0x0c00_0000;
    let gpa = |offset: u64| GuestPhysAddr::new(base + offset);
    bus.insert(
        GuestRange::new(gpa(0), Plic::SIZE),
        Box::new(Locked::mmio(plic())),
    )
    .unwrap();
    bus.write(gpa(priority(10)), Word, 0xff).unwrap();
    assert_eq!(bus.read(gpa(priority(10)), Word), Ok(7));
    assert_eq!(bus.read(gpa(claim(S0)), Word), Ok(0));
    let err = bus.write(gpa(pending(0)), Word, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "device plic at 0xc001000: register at offset 0x1000 is read-only"
    );
}
