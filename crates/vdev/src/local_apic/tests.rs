//! Tests of the local APIC model.

use super::registers::*;
use super::*;
use crate::AccessWidth::{Byte, Double, Half, Word};

/// One gigahertz.
const GHZ: u64 = 1_000_000_000;
/// IA32_APIC_BASE in xAPIC mode (no BSP bit).
const XAPIC: u64 = 0xfee0_0800;
/// IA32_APIC_BASE in x2APIC mode (no BSP bit).
const X2APIC: u64 = 0xfee0_0c00;
/// IA32_APIC_BASE with the APIC disabled.
const DISABLED: u64 = 0xfee0_0000;
/// LVT timer modes, bits 18:17.
const PERIODIC: u32 = 1 << 17;
const TSC_DEADLINE: u32 = 2 << 17;

/// The x2APIC MSR of xAPIC offset `offset`.
fn msr(offset: u64) -> u32 {
    0x800 + (offset / 16) as u32
}

/// Reads the xAPIC register at `offset` at time 0.
fn rd(apic: &mut LocalApic, offset: u64) -> u32 {
    apic.read_mmio(offset, Word, 0)
}

/// Writes the xAPIC register at `offset` at time 0.
fn wr(apic: &mut LocalApic, offset: u64, value: u32) -> Effect {
    apic.write_mmio(offset, Word, value, 0)
}

/// A software-enabled xAPIC with id `id`, TSC and timer both at 1 GHz.
fn enabled(id: u32) -> LocalApic {
    let mut apic = LocalApic::new(id, GHZ, GHZ);
    wr(&mut apic, SVR, 0x1ff);
    apic
}

/// A software-enabled x2APIC with id `id`.
fn x2apic(id: u32) -> LocalApic {
    let mut apic = enabled(id);
    apic.set_apic_base(X2APIC).unwrap();
    apic
}

/// The IPI an xAPIC ICR write with destination `destination` sends.
fn send(apic: &mut LocalApic, destination: u8, low: u32) -> Effect {
    wr(apic, ICR_HIGH, u32::from(destination) << 24);
    wr(apic, ICR_LOW, low)
}

/// An IPI as [`Effect::Ipi`].
fn ipi(vector: u8, mode: IcrMode, destination: Destination) -> Effect {
    Effect::Ipi(Ipi {
        vector,
        mode,
        destination,
    })
}

/// Takes every pending interrupt, ending each with an EOI; how many there were.
fn drain(apic: &mut LocalApic) -> usize {
    let mut taken = 0;
    while apic.acknowledge().is_some() {
        wr(apic, EOI, 0);
        taken += 1;
    }
    taken
}

/// Checks every register against its power-up value, for an APIC with id `id`.
fn assert_reset_registers(apic: &mut LocalApic, id: u8) {
    assert_eq!(rd(apic, ID), u32::from(id) << 24);
    assert_eq!(rd(apic, VERSION), 0x0005_0014);
    for (offset, want) in [
        (TPR, 0),
        (APR, 0),
        (PPR, 0),
        (RRD, 0),
        (LDR, 0),
        (DFR, 0xffff_ffff),
        (SVR, 0xff),
        (ESR, 0),
        (ICR_LOW, 0),
        (ICR_HIGH, 0),
        (INITIAL_COUNT, 0),
        (CURRENT_COUNT, 0),
        (DIVIDE_CONFIG, 0),
    ] {
        assert_eq!(rd(apic, offset), want, "offset {offset:#x}");
    }
    for index in 0..8 {
        assert_eq!(rd(apic, ISR + 16 * index), 0);
        assert_eq!(rd(apic, TMR + 16 * index), 0);
        assert_eq!(rd(apic, IRR + 16 * index), 0);
    }
    for index in 0..6 {
        assert_eq!(rd(apic, LVT_FIRST + 16 * index), 0x0001_0000, "masked");
    }
    assert_eq!(apic.timer_deadline(), None);
    assert_eq!(apic.read_tsc_deadline(), 0);
}

#[test]
fn power_up_state() {
    let mut apic = LocalApic::new(3, GHZ, GHZ);
    assert_eq!(apic.mode(), ApicMode::XApic);
    assert_eq!(apic.id(), 3);
    assert_reset_registers(&mut apic, 3);
    assert_eq!(apic.apic_base(), XAPIC, "not the BSP");
    assert_eq!(LocalApic::new(0, GHZ, GHZ).apic_base(), 0xfee0_0900, "BSP");
    assert_eq!(
        (apic.lint0(), apic.lint1()),
        (LintMode::Masked, LintMode::Masked)
    );
    assert_eq!(apic.pending_vector(), None);
    assert_eq!(apic.acknowledge(), None);
}

#[test]
fn init_reset_keeps_id_and_mode() {
    let mut apic = enabled(7);
    wr(&mut apic, ID, 0x0900_0000);
    wr(&mut apic, TPR, 0x20);
    wr(&mut apic, LDR, 0x0100_0000);
    wr(&mut apic, DFR, 0);
    wr(&mut apic, LVT_FIRST, 0x40);
    wr(&mut apic, INITIAL_COUNT, 1000);
    wr(&mut apic, DIVIDE_CONFIG, 0xb);
    send(&mut apic, 1, 0x4040);
    apic.accept(0x50, true);
    apic.acknowledge();
    apic.accept(0x60, true);
    apic.accept(3, false);
    wr(&mut apic, ESR, 0);
    apic.reset();
    assert_eq!(apic.mode(), ApicMode::XApic);
    assert_eq!(apic.id(), 9, "a written xAPIC ID survives INIT");
    assert_reset_registers(&mut apic, 9);
    // In x2APIC mode the mode survives too.
    let mut apic = x2apic(0x123);
    apic.write_msr(msr(TPR), 0x30, 0).unwrap();
    apic.reset();
    assert_eq!(apic.mode(), ApicMode::X2Apic);
    assert_eq!(apic.read_msr(msr(ID), 0), Ok(0x123));
    assert_eq!(apic.read_msr(msr(TPR), 0), Ok(0));
    assert_eq!(apic.read_msr(msr(SVR), 0), Ok(0xff));
}

#[test]
fn xapic_id_ldr_dfr_and_svr_writes() {
    let mut apic = LocalApic::new(1, GHZ, GHZ);
    wr(&mut apic, ID, 0xffff_ffff);
    assert_eq!(rd(&mut apic, ID), 0xff00_0000);
    assert_eq!(apic.id(), 0xff);
    wr(&mut apic, LDR, 0xffff_ffff);
    assert_eq!(rd(&mut apic, LDR), 0xff00_0000);
    wr(&mut apic, DFR, 0);
    assert_eq!(rd(&mut apic, DFR), 0x0fff_ffff, "bits 27:0 read as 1");
    wr(&mut apic, DFR, 0xffff_ffff);
    assert_eq!(rd(&mut apic, DFR), 0xffff_ffff);
    wr(&mut apic, SVR, 0xffff_ffff);
    assert_eq!(rd(&mut apic, SVR), 0x1ff, "no EOI-broadcast suppression");
    wr(&mut apic, TPR, 0xffff_ffff);
    assert_eq!(rd(&mut apic, TPR), 0xff);
    // ICR: delivery status (bit 12) and reserved bits read 0.
    send(&mut apic, 0xff, 0xffff_ffff);
    assert_eq!(rd(&mut apic, ICR_LOW), 0x000c_cfff);
    assert_eq!(rd(&mut apic, ICR_HIGH), 0xff00_0000);
    wr(&mut apic, DIVIDE_CONFIG, 0xffff_ffff);
    assert_eq!(rd(&mut apic, DIVIDE_CONFIG), 0b1011);
    // LVT entries keep their writable bits only.
    let writable = [
        0x0007_00ff,
        0x0001_07ff,
        0x0001_07ff,
        0x0001_a7ff,
        0x0001_a7ff,
        0x0001_00ff,
    ];
    for (index, want) in (0u64..).zip(writable) {
        wr(&mut apic, LVT_FIRST + 16 * index, 0xffff_ffff);
        assert_eq!(rd(&mut apic, LVT_FIRST + 16 * index), want);
    }
}

#[test]
fn read_only_xapic_registers_ignore_writes() {
    let mut apic = enabled(2);
    apic.accept(0x40, true);
    for offset in [
        VERSION,
        APR,
        PPR,
        RRD,
        ISR + 0x20,
        TMR + 0x20,
        IRR + 0x20,
        CURRENT_COUNT,
    ] {
        let before = rd(&mut apic, offset);
        assert_eq!(wr(&mut apic, offset, 0xffff_ffff), Effect::None);
        assert_eq!(rd(&mut apic, offset), before, "offset {offset:#x}");
    }
    assert_eq!(rd(&mut apic, IRR + 0x20), 1, "vector 0x40");
    assert_eq!(rd(&mut apic, TMR + 0x20), 1);
}

#[test]
fn odd_mmio_accesses_read_zero_and_are_ignored() {
    let mut apic = enabled(2);
    wr(&mut apic, TPR, 0x20);
    for width in [Byte, Half, Double] {
        assert_eq!(apic.read_mmio(TPR, width, 0), 0);
        assert_eq!(apic.write_mmio(TPR, width, 0x30, 0), Effect::None);
    }
    assert_eq!(rd(&mut apic, TPR), 0x20);
    // Inside a register, past the page, CMCI (not offered), SELF IPI (x2APIC
    // only), EOI (write-only).
    for offset in [TPR + 4, 0x1000 + TPR, 0x2f0, SELF_IPI, EOI, 0x3f0, 0xff0] {
        assert_eq!(rd(&mut apic, offset), 0, "offset {offset:#x}");
    }
    wr(&mut apic, TPR + 4, 0x30);
    wr(&mut apic, SELF_IPI, 0x40);
    assert_eq!(rd(&mut apic, TPR), 0x20);
    assert_eq!(apic.pending_vector(), None);
}

#[test]
fn x2apic_id_and_derived_ldr() {
    let mut apic = x2apic(0x123);
    assert_eq!(apic.id(), 0x123);
    assert_eq!(apic.read_msr(0x802, 0), Ok(0x123));
    assert_eq!(
        apic.read_msr(0x80d, 0),
        Ok(0x0012_0008),
        "cluster 0x12, bit 3"
    );
    assert_eq!(apic.read_msr(0x803, 0), Ok(0x0005_0014));
    assert_eq!(
        apic.write_msr(0x802, 5, 0),
        Err(ApicError::ReadOnly { msr: 0x802 })
    );
    assert_eq!(
        apic.write_msr(0x80d, 5, 0),
        Err(ApicError::ReadOnly { msr: 0x80d })
    );
    assert_eq!(apic.read_msr(0x802, 0), Ok(0x123));
    // The xAPIC page is gone in x2APIC mode.
    assert_eq!(rd(&mut apic, ID), 0);
    assert_eq!(rd(&mut apic, SVR), 0);
    wr(&mut apic, TPR, 0x40);
    assert_eq!(apic.read_msr(0x808, 0), Ok(0));
    // Ids past 255: xAPIC mode sees the low 8 bits.
    assert_eq!(LocalApic::new(0x123, GHZ, GHZ).id(), 0x23);
}

#[test]
fn valid_mode_transitions() {
    let mut apic = enabled(0);
    assert_eq!(apic.set_apic_base(0xfee0_0900), Ok(()), "same mode");
    assert_eq!(apic.set_apic_base(X2APIC), Ok(()));
    assert_eq!(apic.mode(), ApicMode::X2Apic);
    assert_eq!(apic.apic_base(), 0xfee0_0d00);
    assert_eq!(apic.set_apic_base(X2APIC), Ok(()), "same mode");
    assert_eq!(apic.set_apic_base(DISABLED), Ok(()));
    assert_eq!(apic.mode(), ApicMode::Disabled);
    assert_eq!(apic.apic_base(), 0xfee0_0100);
    assert_eq!(apic.set_apic_base(XAPIC), Ok(()));
    assert_eq!(apic.set_apic_base(DISABLED), Ok(()));
    assert_eq!(apic.mode(), ApicMode::Disabled);
}

#[test]
fn invalid_mode_transitions_and_base_values() {
    let mut apic = x2apic(1);
    assert_eq!(
        apic.set_apic_base(XAPIC),
        Err(ApicError::InvalidTransition {
            from: ApicMode::X2Apic,
            to: ApicMode::XApic
        })
    );
    assert_eq!(apic.mode(), ApicMode::X2Apic);
    apic.set_apic_base(DISABLED).unwrap();
    assert_eq!(
        apic.set_apic_base(X2APIC),
        Err(ApicError::InvalidTransition {
            from: ApicMode::Disabled,
            to: ApicMode::X2Apic
        })
    );
    let mut apic = enabled(1);
    let extd_only = 0xfee0_0400;
    assert_eq!(
        apic.set_apic_base(extd_only),
        Err(ApicError::InvalidMode { value: extd_only })
    );
    for value in [XAPIC | 1 << 9, XAPIC | 1] {
        assert_eq!(
            apic.set_apic_base(value),
            Err(ApicError::BaseReserved { value })
        );
    }
    for base in [0xfed0_0000, 0x1_fee0_0000, 1 << 52] {
        assert_eq!(
            apic.set_apic_base(base | 0x800),
            Err(ApicError::Relocation { base })
        );
    }
    assert_eq!(apic.mode(), ApicMode::XApic);
    assert_eq!(
        ApicError::Relocation { base: 0xfed0_0000 }.to_string(),
        "APIC base 0xfed00000 moves the page from 0xfee00000"
    );
}

#[test]
fn disabling_resets_and_refuses_everything() {
    let mut apic = enabled(4);
    wr(&mut apic, TPR, 0x20);
    wr(&mut apic, LDR, 0x0100_0000);
    apic.accept(0x40, false);
    apic.set_apic_base(DISABLED).unwrap();
    assert!(!apic.accept(0x41, false));
    assert_eq!(rd(&mut apic, TPR), 0, "no page while disabled");
    assert!(!apic.matches_logical(0xff));
    assert_eq!(
        apic.read_msr(0x808, 0),
        Err(ApicError::NotX2Apic { msr: 0x808 })
    );
    apic.set_apic_base(XAPIC).unwrap();
    assert_reset_registers(&mut apic, 4);
    assert_eq!(apic.pending_vector(), None);
}

#[test]
fn msr_errors() {
    let mut apic = enabled(1);
    assert_eq!(
        apic.read_msr(0x808, 0),
        Err(ApicError::NotX2Apic { msr: 0x808 })
    );
    assert_eq!(
        apic.write_msr(0x808, 0, 0),
        Err(ApicError::NotX2Apic { msr: 0x808 })
    );
    let mut apic = x2apic(1);
    for msr in [0x80b, 0x83f] {
        assert_eq!(apic.read_msr(msr, 0), Err(ApicError::WriteOnly { msr }));
    }
    assert_eq!(
        apic.write_msr(0x80b, 1, 0),
        Err(ApicError::ReservedBits {
            msr: 0x80b,
            value: 1
        })
    );
    // ICR high, DFR, APR, RRD, CMCI, unused and out-of-range MSRs.
    for msr in [
        0x831, 0x80e, 0x809, 0x80c, 0x82f, 0x800, 0x83a, 0x8ff, 0x900, 0x7ff,
    ] {
        assert_eq!(apic.read_msr(msr, 0), Err(ApicError::NoRegister { msr }));
        assert_eq!(
            apic.write_msr(msr, 0, 0),
            Err(ApicError::NoRegister { msr })
        );
    }
    for msr in [0x803, 0x80a, 0x810, 0x818, 0x827, 0x839] {
        assert_eq!(apic.write_msr(msr, 0, 0), Err(ApicError::ReadOnly { msr }));
    }
    let value = 1 << 32;
    for msr in [0x808, 0x80f, 0x832, 0x838, 0x83e, 0x83f] {
        assert_eq!(
            apic.write_msr(msr, value, 0),
            Err(ApicError::ReservedBits { msr, value })
        );
    }
    assert_eq!(
        apic.write_msr(0x828, 1, 0),
        Err(ApicError::ReservedBits {
            msr: 0x828,
            value: 1
        })
    );
    assert_eq!(apic.write_msr(0x828, 0, 0), Ok(Effect::None));
    assert_eq!(
        apic.write_msr(0x80b, 0, 0),
        Ok(Effect::None),
        "nothing in service"
    );
    assert_eq!(
        ApicError::WriteOnly { msr: 0x80b }.to_string(),
        "MSR 0x80b is write-only"
    );
}

#[test]
fn pending_vector_respects_tpr_class() {
    let mut apic = enabled(1);
    assert!(apic.accept(0x45, false));
    wr(&mut apic, TPR, 0x40);
    assert_eq!(apic.pending_vector(), None, "same class as the TPR");
    assert_eq!(rd(&mut apic, PPR), 0x40);
    wr(&mut apic, TPR, 0x3f);
    assert_eq!(apic.pending_vector(), Some(0x45));
    wr(&mut apic, TPR, 0x50);
    assert_eq!(apic.pending_vector(), None);
    assert_eq!(apic.acknowledge(), None);
    assert_eq!(rd(&mut apic, IRR + 0x20), 1 << 5, "still requested");
}

#[test]
fn ppr_follows_the_highest_vector_in_service() {
    let mut apic = enabled(1);
    apic.accept(0x31, false);
    apic.acknowledge();
    wr(&mut apic, TPR, 0x25);
    assert_eq!(
        rd(&mut apic, PPR),
        0x30,
        "ISR class above TPR's: class only"
    );
    wr(&mut apic, TPR, 0x3a);
    assert_eq!(rd(&mut apic, PPR), 0x3a, "equal classes: the TPR");
    wr(&mut apic, TPR, 0x45);
    assert_eq!(rd(&mut apic, PPR), 0x45);
}

#[test]
fn nested_vectors_end_in_order() {
    let mut apic = enabled(1);
    apic.accept(0x31, false);
    assert_eq!(apic.acknowledge(), Some(0x31));
    assert_eq!(rd(&mut apic, ISR + 0x10), 1 << 17);
    assert_eq!(rd(&mut apic, IRR + 0x10), 0);
    apic.accept(0x35, false);
    assert_eq!(apic.pending_vector(), None, "class 3 is in service");
    apic.accept(0x61, false);
    assert_eq!(apic.acknowledge(), Some(0x61));
    assert_eq!(rd(&mut apic, PPR), 0x60);
    assert_eq!(
        wr(&mut apic, EOI, 0),
        Effect::Eoi {
            vector: 0x61,
            level: false
        }
    );
    assert_eq!(apic.pending_vector(), None);
    assert_eq!(
        wr(&mut apic, EOI, 0),
        Effect::Eoi {
            vector: 0x31,
            level: false
        }
    );
    assert_eq!(apic.acknowledge(), Some(0x35));
}

#[test]
fn eoi_of_a_level_vector_reports_it_and_clears_tmr() {
    let mut apic = enabled(1);
    apic.accept(0x50, true);
    assert_eq!(rd(&mut apic, TMR + 0x20), 1 << 16);
    apic.acknowledge();
    assert_eq!(
        wr(&mut apic, EOI, 0),
        Effect::Eoi {
            vector: 0x50,
            level: true
        }
    );
    assert_eq!(rd(&mut apic, TMR + 0x20), 0);
    assert_eq!(wr(&mut apic, EOI, 0), Effect::None, "nothing in service");
    // An edge acceptance clears a TMR bit a level one set.
    apic.accept(0x50, true);
    apic.accept(0x50, false);
    assert_eq!(rd(&mut apic, TMR + 0x20), 0);
}

#[test]
fn illegal_vector_accept_sets_esr_and_signals_lvt_error() {
    let mut apic = enabled(1);
    assert!(!apic.accept(15, false));
    assert_eq!(apic.pending_vector(), None, "LVT error masked");
    let mut apic = enabled(1);
    wr(&mut apic, LVT_FIRST + 0x50, 0xfe);
    assert!(!apic.accept(5, false));
    assert_eq!(rd(&mut apic, IRR), 0);
    assert_eq!(apic.pending_vector(), Some(0xfe));
    wr(&mut apic, ESR, 0);
    assert_eq!(rd(&mut apic, ESR), 1 << 6);
    // The same error again before the next ESR write is no new error.
    drain(&mut apic);
    apic.accept(5, false);
    apic.accept(5, false);
    wr(&mut apic, ESR, 0);
    assert_eq!(rd(&mut apic, ESR), 1 << 6);
    assert_eq!(drain(&mut apic), 1);
}

#[test]
fn esr_reads_what_the_last_write_collected() {
    let mut apic = enabled(1);
    apic.accept(1, false);
    assert_eq!(rd(&mut apic, ESR), 0, "not before a write");
    wr(&mut apic, ESR, 0xffff_ffff);
    assert_eq!(rd(&mut apic, ESR), 1 << 6);
    send(&mut apic, 1, 0x0002);
    assert_eq!(rd(&mut apic, ESR), 1 << 6, "unchanged until the next write");
    wr(&mut apic, ESR, 0);
    assert_eq!(rd(&mut apic, ESR), 1 << 5);
    wr(&mut apic, ESR, 0);
    assert_eq!(rd(&mut apic, ESR), 0);
}

#[test]
fn icr_destinations() {
    let mut apic = enabled(1);
    let fixed = |destination| ipi(0x30, IcrMode::Fixed, destination);
    assert_eq!(send(&mut apic, 3, 0x4030), fixed(Destination::Physical(3)));
    assert_eq!(
        send(&mut apic, 0xff, 0x4030),
        fixed(Destination::AllIncludingSelf)
    );
    assert_eq!(
        send(&mut apic, 0x0c, 0x4830),
        fixed(Destination::Logical(0x0c))
    );
    assert_eq!(
        send(&mut apic, 0xff, 0x4830),
        fixed(Destination::Logical(0xff))
    );
    assert_eq!(send(&mut apic, 3, 0x4_4030), fixed(Destination::SelfOnly));
    assert_eq!(
        send(&mut apic, 3, 0x8_4030),
        fixed(Destination::AllIncludingSelf)
    );
    assert_eq!(
        send(&mut apic, 3, 0xc_4030),
        fixed(Destination::AllExcludingSelf)
    );
    // The high register alone sends nothing.
    assert_eq!(wr(&mut apic, ICR_HIGH, 0x0500_0000), Effect::None);
}

#[test]
fn icr_delivery_modes() {
    let mut apic = enabled(1);
    let to_2 = Destination::Physical(2);
    for (low, want) in [
        (0x0000_4130, ipi(0x30, IcrMode::LowestPriority, to_2)),
        (0x0000_4200, ipi(0, IcrMode::Smi, to_2)),
        (0x0000_4400, ipi(0, IcrMode::Nmi, to_2)),
        (0x0000_c500, ipi(0, IcrMode::Init, to_2)),
        (0x0000_4500, ipi(0, IcrMode::Init, to_2)),
        (0x0000_8500, ipi(0, IcrMode::InitDeassert, to_2)),
        (0x0000_4608, ipi(0x08, IcrMode::Startup, to_2)),
        (0x0000_4300, ipi(0, IcrMode::Reserved(3), to_2)),
        (0x0000_4700, ipi(0, IcrMode::Reserved(7), to_2)),
    ] {
        assert_eq!(send(&mut apic, 2, low), want, "ICR low {low:#x}");
    }
    // INIT de-assert to everyone, as MP start-up code sends it.
    assert_eq!(
        wr(&mut apic, ICR_LOW, 0x000c_8500),
        ipi(0, IcrMode::InitDeassert, Destination::AllExcludingSelf)
    );
    wr(&mut apic, ESR, 0);
    assert_eq!(
        rd(&mut apic, ESR),
        0,
        "vectors below 16 are legal for these"
    );
}

#[test]
fn icr_illegal_vector_sends_nothing() {
    let mut apic = enabled(1);
    wr(&mut apic, LVT_FIRST + 0x50, 0xfe);
    assert_eq!(send(&mut apic, 2, 0x4005), Effect::None);
    assert_eq!(send(&mut apic, 2, 0x410f), Effect::None, "lowest priority");
    wr(&mut apic, ESR, 0);
    assert_eq!(rd(&mut apic, ESR), 1 << 5);
    assert_eq!(apic.acknowledge(), Some(0xfe), "LVT error");
    assert_eq!(
        send(&mut apic, 2, 0x4010),
        ipi(0x10, IcrMode::Fixed, Destination::Physical(2))
    );
}

#[test]
fn x2apic_icr_is_one_64_bit_msr() {
    let mut apic = x2apic(1);
    let value = 0x1234_5678_0000_4031;
    assert_eq!(
        apic.write_msr(0x830, value, 0),
        Ok(ipi(
            0x31,
            IcrMode::Fixed,
            Destination::Physical(0x1234_5678)
        ))
    );
    assert_eq!(apic.read_msr(0x830, 0), Ok(value));
    // The delivery status bit is gone; bits 31:20 are dropped.
    assert_eq!(
        apic.write_msr(0x830, 0xfff0_1031 | 0xff << 32, 0),
        Ok(ipi(0x31, IcrMode::Fixed, Destination::Physical(0xff)))
    );
    assert_eq!(apic.read_msr(0x830, 0), Ok(0xff_0000_0031));
    assert_eq!(
        apic.write_msr(0x830, 0xffff_ffff_0000_4031, 0),
        Ok(ipi(0x31, IcrMode::Fixed, Destination::AllIncludingSelf))
    );
    assert_eq!(
        apic.write_msr(0x830, 0x0003_0004_0000_4831, 0),
        Ok(ipi(0x31, IcrMode::Fixed, Destination::Logical(0x0003_0004)))
    );
}

#[test]
fn x2apic_self_ipi() {
    let mut apic = x2apic(1);
    assert_eq!(apic.write_msr(0x83f, 0x141, 0), Ok(Effect::None));
    assert_eq!(apic.read_msr(0x820 + 2, 0), Ok(1 << 1), "vector 0x41");
    assert_eq!(apic.read_msr(0x818 + 2, 0), Ok(0), "edge-triggered");
    assert_eq!(apic.acknowledge(), Some(0x41));
    apic.write_msr(0x83f, 3, 0).unwrap();
    assert_eq!(apic.pending_vector(), None);
    apic.write_msr(0x828, 0, 0).unwrap();
    assert_eq!(apic.read_msr(0x828, 0), Ok(1 << 5), "send illegal vector");
}

#[test]
fn logical_flat_model() {
    let mut apic = enabled(1);
    assert!(!apic.matches_logical(0x01), "LDR 0 is in no set");
    wr(&mut apic, LDR, 0x0600_0000);
    assert!(apic.matches_logical(0x02));
    assert!(apic.matches_logical(0x0c));
    assert!(!apic.matches_logical(0x09));
    assert!(apic.matches_logical(0xff));
    assert!(!apic.matches_logical(0x0100), "bits 7:0 only");
}

#[test]
fn logical_cluster_model() {
    let mut apic = enabled(1);
    wr(&mut apic, DFR, 0x0fff_ffff);
    wr(&mut apic, LDR, 0x2100_0000);
    assert!(apic.matches_logical(0x23), "cluster 2, member bit 0");
    assert!(!apic.matches_logical(0x22), "cluster 2, other members");
    assert!(!apic.matches_logical(0x31), "cluster 3");
    assert!(apic.matches_logical(0xff));
    // The same LDR in the flat model.
    wr(&mut apic, DFR, 0xffff_ffff);
    assert!(apic.matches_logical(0x01));
    assert!(apic.matches_logical(0x31));
}

#[test]
fn logical_x2apic_model() {
    let apic = x2apic(0x25);
    assert!(apic.matches_logical(0x0002_0020), "cluster 2, bit 5");
    assert!(apic.matches_logical(0x0002_ffff));
    assert!(!apic.matches_logical(0x0002_0010));
    assert!(!apic.matches_logical(0x0003_0020));
    assert!(apic.matches_logical(u32::MAX));
}

#[test]
fn lint_modes() {
    let mut apic = enabled(0);
    wr(&mut apic, LVT_FIRST + 0x30, 0x0700);
    wr(&mut apic, LVT_FIRST + 0x40, 0x0400);
    assert_eq!(
        (apic.lint0(), apic.lint1()),
        (LintMode::ExtInt, LintMode::Nmi)
    );
    for (value, want) in [
        (0x0033, LintMode::Fixed(0x33)),
        (0x0200, LintMode::Smi),
        (0x0500, LintMode::Init),
        (0x0100, LintMode::Reserved(1)),
        (0x1_0700, LintMode::Masked),
    ] {
        wr(&mut apic, LVT_FIRST + 0x30, value);
        assert_eq!(apic.lint0(), want, "LVT LINT0 {value:#x}");
    }
}

#[test]
fn software_disable_masks_the_lvt_and_keeps_it_masked() {
    let mut apic = enabled(0);
    for index in 0..6 {
        wr(&mut apic, LVT_FIRST + 16 * index, 0x40 + index as u32);
    }
    assert_eq!(wr(&mut apic, SVR, 0xff), Effect::TimerChanged);
    for index in 0..6 {
        let want = 0x1_0040 + index as u32;
        assert_eq!(rd(&mut apic, LVT_FIRST + 16 * index), want, "entry {index}");
    }
    wr(&mut apic, LVT_FIRST + 0x30, 0x0700);
    assert_eq!(rd(&mut apic, LVT_FIRST + 0x30), 0x1_0700);
    assert_eq!(apic.lint0(), LintMode::Masked);
    // Enabling again does not unmask; a write then can.
    assert_eq!(wr(&mut apic, SVR, 0x1ff), Effect::None);
    assert_eq!(apic.lint0(), LintMode::Masked);
    wr(&mut apic, LVT_FIRST + 0x30, 0x0700);
    assert_eq!(apic.lint0(), LintMode::ExtInt);
}

#[test]
fn software_disabled_apic_accepts_nothing() {
    let mut apic = LocalApic::new(1, GHZ, GHZ);
    assert!(!apic.accept(0x40, false));
    assert!(!apic.accept(5, false));
    assert_eq!(rd(&mut apic, IRR + 0x20), 0);
    wr(&mut apic, ESR, 0);
    assert_eq!(rd(&mut apic, ESR), 0, "not even as an error");
    // Requests already held stay for the vCPU to take.
    wr(&mut apic, SVR, 0x1ff);
    apic.accept(0x40, false);
    wr(&mut apic, SVR, 0xff);
    assert_eq!(apic.acknowledge(), Some(0x40));
}

#[test]
fn one_shot_count_divide_by_1() {
    let mut apic = enabled(1);
    wr(&mut apic, DIVIDE_CONFIG, 0b1011);
    wr(&mut apic, LVT_FIRST, 0x40);
    let effect = apic.write_mmio(INITIAL_COUNT, Word, 1000, 100);
    assert_eq!(effect, Effect::TimerChanged);
    for (now, want) in [(100, 1000), (600, 500), (1099, 1), (1100, 0), (5000, 0)] {
        assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, now), want, "at {now}");
    }
    assert_eq!(apic.timer_deadline(), Some(1100));
    apic.tick(1099);
    assert_eq!(apic.pending_vector(), None);
    apic.tick(1100);
    assert_eq!(apic.acknowledge(), Some(0x40));
    assert_eq!(apic.timer_deadline(), None, "one-shot: disarmed");
    assert_eq!(rd(&mut apic, INITIAL_COUNT), 1000);
    apic.tick(10_000);
    assert_eq!(apic.pending_vector(), None);
    // Initial count 0 stops the timer.
    apic.write_mmio(INITIAL_COUNT, Word, 10, 20_000);
    apic.write_mmio(INITIAL_COUNT, Word, 0, 20_001);
    assert_eq!(apic.timer_deadline(), None);
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 20_002), 0);
}

#[test]
fn one_shot_count_divide_by_16() {
    // TSC at 2 GHz, timer clock at 1 GHz divided by 16: 32 TSC ticks a count.
    let mut apic = LocalApic::new(1, 2 * GHZ, GHZ);
    wr(&mut apic, SVR, 0x1ff);
    wr(&mut apic, DIVIDE_CONFIG, 0b0011);
    wr(&mut apic, LVT_FIRST, 0x40);
    wr(&mut apic, INITIAL_COUNT, 10);
    for (now, want) in [(0, 10), (31, 10), (32, 9), (319, 1), (320, 0)] {
        assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, now), want, "at {now}");
    }
    assert_eq!(apic.timer_deadline(), Some(320));
    // Divide by 128 (0b1010) once the next count starts, not before.
    apic.write_mmio(DIVIDE_CONFIG, Word, 0b1010, 100);
    assert_eq!(apic.timer_deadline(), Some(320));
    apic.write_mmio(INITIAL_COUNT, Word, 10, 1000);
    assert_eq!(apic.timer_deadline(), Some(1000 + 10 * 256));
}

#[test]
fn periodic_deadlines_and_missed_periods() {
    let mut apic = enabled(1);
    wr(&mut apic, DIVIDE_CONFIG, 0b1011);
    wr(&mut apic, LVT_FIRST, PERIODIC | 0x40);
    wr(&mut apic, INITIAL_COUNT, 100);
    assert_eq!(apic.timer_deadline(), Some(100));
    apic.tick(100);
    assert_eq!(drain(&mut apic), 1);
    assert_eq!(apic.timer_deadline(), Some(200));
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 150), 50);
    // Nine periods missed: one interrupt, the next expiry still on the grid.
    apic.tick(1050);
    assert_eq!(drain(&mut apic), 1);
    assert_eq!(apic.timer_deadline(), Some(1100));
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 1050), 50);
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 1100), 100, "reloaded");
    apic.tick(1099);
    assert_eq!(drain(&mut apic), 0);
}

#[test]
fn periodic_with_a_fractional_period_stays_in_phase() {
    // A 3 Hz TSC and a 2 Hz timer clock: 1.5 TSC ticks a count, so expiry k of a
    // count of 1 falls at ceil(1.5 k); rounding the period would drift.
    let mut apic = LocalApic::new(1, 3, 2);
    wr(&mut apic, SVR, 0x1ff);
    wr(&mut apic, DIVIDE_CONFIG, 0b1011);
    wr(&mut apic, LVT_FIRST, PERIODIC | 0x40);
    wr(&mut apic, INITIAL_COUNT, 1);
    for want in [2, 3, 5, 6, 8, 9, 11, 12] {
        assert_eq!(apic.timer_deadline(), Some(want));
        apic.tick(want);
        assert_eq!(drain(&mut apic), 1, "at {want}");
    }
    // 200 counts by 300: the next is count 201, at 301.5.
    apic.tick(300);
    assert_eq!(drain(&mut apic), 1);
    assert_eq!(apic.timer_deadline(), Some(302));
}

#[test]
fn a_period_of_one_count_at_the_end_of_time() {
    let mut apic = LocalApic::new(1, u64::MAX, u64::MAX);
    wr(&mut apic, SVR, 0x1ff);
    wr(&mut apic, DIVIDE_CONFIG, 0b1011);
    wr(&mut apic, LVT_FIRST, PERIODIC | 0x40);
    apic.write_mmio(INITIAL_COUNT, Word, 1, 5);
    assert_eq!(apic.timer_deadline(), Some(6));
    apic.tick(u64::MAX - 1);
    assert_eq!(drain(&mut apic), 1);
    assert_eq!(apic.timer_deadline(), Some(u64::MAX));
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, u64::MAX - 1), 1);
    // The largest count with the largest divisor does not overflow either.
    wr(&mut apic, DIVIDE_CONFIG, 0b1010);
    apic.write_mmio(INITIAL_COUNT, Word, u32::MAX, u64::MAX - 3);
    assert_eq!(apic.timer_deadline(), Some(u64::MAX));
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, u64::MAX), u32::MAX);
    // Rates of 0 count as 1: no division by zero.
    let mut apic = LocalApic::new(1, 0, 0);
    wr(&mut apic, SVR, 0x1ff);
    wr(&mut apic, LVT_FIRST, 0x40);
    apic.write_mmio(INITIAL_COUNT, Word, 4, 10);
    assert_eq!(apic.timer_deadline(), Some(10 + 4 * 2));
}

#[test]
fn tsc_deadline_mode() {
    let mut apic = enabled(1);
    assert_eq!(
        apic.write_tsc_deadline(500, 0),
        Effect::None,
        "one-shot mode"
    );
    assert_eq!(apic.read_tsc_deadline(), 0);
    wr(&mut apic, LVT_FIRST, TSC_DEADLINE | 0x50);
    assert_eq!(apic.write_tsc_deadline(500, 0), Effect::TimerChanged);
    assert_eq!(apic.read_tsc_deadline(), 500);
    assert_eq!(apic.timer_deadline(), Some(500));
    // The initial count is ignored in this mode, the current count reads 0.
    wr(&mut apic, INITIAL_COUNT, 10);
    assert_eq!(rd(&mut apic, INITIAL_COUNT), 0);
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 100), 0);
    apic.tick(499);
    assert_eq!(apic.pending_vector(), None);
    apic.tick(500);
    assert_eq!(drain(&mut apic), 1);
    assert_eq!((apic.read_tsc_deadline(), apic.timer_deadline()), (0, None));
    // A deadline already past fires at the next tick.
    apic.write_tsc_deadline(100, 1000);
    assert_eq!(apic.timer_deadline(), Some(100));
    apic.tick(1000);
    assert_eq!(drain(&mut apic), 1);
    // 0 disarms.
    apic.write_tsc_deadline(2000, 1000);
    apic.write_tsc_deadline(0, 1001);
    apic.tick(5000);
    assert_eq!((drain(&mut apic), apic.timer_deadline()), (0, None));
}

#[test]
fn timer_mode_change_disarms() {
    let mut apic = enabled(1);
    wr(&mut apic, DIVIDE_CONFIG, 0b1011);
    wr(&mut apic, LVT_FIRST, 0x40);
    wr(&mut apic, INITIAL_COUNT, 1000);
    assert_eq!(
        apic.write_mmio(LVT_FIRST, Word, PERIODIC | 0x40, 10),
        Effect::TimerChanged
    );
    assert_eq!(apic.timer_deadline(), None);
    assert_eq!(rd(&mut apic, INITIAL_COUNT), 0);
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 20), 0);
    // Same mode, new vector: the count goes on.
    wr(&mut apic, INITIAL_COUNT, 1000);
    wr(&mut apic, LVT_FIRST, PERIODIC | 0x41);
    assert_eq!(apic.timer_deadline(), Some(1000));
    // TSC-deadline and back: the deadline is gone.
    wr(&mut apic, LVT_FIRST, TSC_DEADLINE | 0x41);
    apic.write_tsc_deadline(700, 0);
    wr(&mut apic, LVT_FIRST, 0x41);
    wr(&mut apic, LVT_FIRST, TSC_DEADLINE | 0x41);
    assert_eq!((apic.read_tsc_deadline(), apic.timer_deadline()), (0, None));
    apic.tick(10_000);
    assert_eq!(apic.pending_vector(), None);
}

#[test]
fn masked_timer_counts_silently() {
    let mut apic = enabled(1);
    wr(&mut apic, DIVIDE_CONFIG, 0b1011);
    wr(&mut apic, LVT_FIRST, 0x1_0040);
    wr(&mut apic, INITIAL_COUNT, 100);
    assert_eq!(apic.timer_deadline(), None);
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 40), 60);
    // Expired while masked: unmasking later brings no interrupt.
    apic.write_mmio(LVT_FIRST, Word, 0x40, 200);
    apic.tick(300);
    assert_eq!(apic.pending_vector(), None);
    assert_eq!(apic.timer_deadline(), None);
    // A masked periodic count keeps its phase.
    wr(&mut apic, LVT_FIRST, PERIODIC | 0x1_0040);
    apic.write_mmio(INITIAL_COUNT, Word, 100, 1000);
    apic.tick(1150);
    assert_eq!(apic.pending_vector(), None);
    assert_eq!(apic.read_mmio(CURRENT_COUNT, Word, 1250), 50);
    apic.write_mmio(LVT_FIRST, Word, PERIODIC | 0x40, 1250);
    assert_eq!(apic.timer_deadline(), Some(1300));
    // Software disable masks it too.
    wr(&mut apic, SVR, 0xff);
    assert_eq!(apic.timer_deadline(), None);
    apic.tick(5000);
    assert_eq!(apic.pending_vector(), None);
}

#[test]
fn x2apic_timer_registers() {
    let mut apic = x2apic(1);
    apic.write_msr(0x83e, 0b1011, 0).unwrap();
    apic.write_msr(0x832, 0x40, 0).unwrap();
    assert_eq!(apic.write_msr(0x838, 100, 10), Ok(Effect::TimerChanged));
    assert_eq!(apic.read_msr(0x838, 30), Ok(100));
    assert_eq!(apic.read_msr(0x839, 30), Ok(80));
    assert_eq!(apic.read_msr(0x83e, 30), Ok(0b1011));
    apic.tick(110);
    assert_eq!(apic.acknowledge(), Some(0x40));
    assert_eq!(
        apic.write_msr(0x80b, 0, 111),
        Ok(Effect::Eoi {
            vector: 0x40,
            level: false
        })
    );
}

#[test]
fn logical_ids_survive_their_word() {
    let mut flat = enabled(1);
    wr(&mut flat, LDR, 0x0600_0000);
    let mut cluster = enabled(2);
    wr(&mut cluster, DFR, 0x0fff_ffff);
    wr(&mut cluster, LDR, 0x2100_0000);
    let mut disabled = enabled(3);
    disabled.set_apic_base(DISABLED).unwrap();
    for apic in [flat, cluster, x2apic(0x25), disabled] {
        let id = LogicalId::from_bits(apic.logical_id().to_bits());
        assert_eq!(id, apic.logical_id());
        for destination in [0x01, 0x02, 0x23, 0x31, 0xff, 0x0002_0020, u32::MAX] {
            assert_eq!(id.matches(destination), apic.matches_logical(destination));
        }
    }
    assert!(!LogicalId::NONE.matches(u32::MAX));
}

#[test]
fn ipis_survive_their_word() {
    let modes = [
        IcrMode::Fixed,
        IcrMode::LowestPriority,
        IcrMode::Smi,
        IcrMode::Nmi,
        IcrMode::Init,
        IcrMode::InitDeassert,
        IcrMode::Startup,
        IcrMode::Reserved(3),
        IcrMode::Reserved(7),
    ];
    let destinations = [
        Destination::Physical(0),
        Destination::Physical(u32::MAX - 1),
        Destination::Logical(0x0002_0020),
        Destination::SelfOnly,
        Destination::AllIncludingSelf,
        Destination::AllExcludingSelf,
    ];
    for mode in modes {
        for destination in destinations {
            let ipi = Ipi {
                vector: 0x9a,
                mode,
                destination,
            };
            assert_eq!(Ipi::from_word(ipi.to_word()), Some(ipi));
        }
    }
    assert_eq!(Ipi::from_word(5 << 12), None, "no such destination kind");
    assert_eq!(Ipi::from_word(7 << 8), None, "no such mode");
}

#[test]
fn ipi_targets_by_destination() {
    let fixed = |destination| Ipi {
        vector: 0x40,
        mode: IcrMode::Fixed,
        destination,
    };
    // Processors 0-3; 1 and 2 are in logical set 0x02 (flat), 3 in 0x08.
    let ids = |n: usize| {
        let mut apic = enabled(n as u32);
        wr(&mut apic, LDR, [0x01, 0x02, 0x02, 0x08][n] << 24);
        apic.logical_id()
    };
    let targets = |ipi: Ipi, sender| ipi.targets(sender, 4, ids);
    assert_eq!(targets(fixed(Destination::Physical(2)), 0), 0b0100);
    assert_eq!(
        targets(fixed(Destination::Physical(4)), 0),
        0,
        "no such processor"
    );
    assert_eq!(targets(fixed(Destination::Physical(u32::MAX - 1)), 0), 0);
    assert_eq!(targets(fixed(Destination::Logical(0x02)), 0), 0b0110);
    assert_eq!(targets(fixed(Destination::Logical(0x0a)), 0), 0b1110);
    assert_eq!(targets(fixed(Destination::SelfOnly), 3), 0b1000);
    assert_eq!(targets(fixed(Destination::AllIncludingSelf), 1), 0b1111);
    assert_eq!(targets(fixed(Destination::AllExcludingSelf), 1), 0b1101);
    let lowest = Ipi {
        mode: IcrMode::LowestPriority,
        ..fixed(Destination::Logical(0x0a))
    };
    assert_eq!(
        targets(lowest, 0),
        0b0010,
        "one processor, the lowest numbered"
    );
    // 64 processors and more: all of the first 64, none past them.
    let all = fixed(Destination::AllIncludingSelf).targets(0, 70, |_| LogicalId::NONE);
    assert_eq!(all, u64::MAX);
    let far = fixed(Destination::Physical(65)).targets(0, 70, |_| LogicalId::NONE);
    assert_eq!(far, 0);
}
