//! take_pending, has_pending, kicks, raise and reset.

use super::*;
use crate::AccessWidth::{Byte, Double};

/// Sets the priority of `intid`: in `vcpu`'s Redistributor for SGIs/PPIs.
fn set_priority(gic: &mut Vgic, vcpu: usize, intid: u32, priority: u8) {
    let offset = IPRIORITYR + u64::from(intid);
    if intid < SPI_BASE {
        gic.write_redistributor(sgi(vcpu, offset), Byte, priority.into())
    } else {
        gic.write_distributor(offset, Byte, priority.into())
    }
    .unwrap();
}

/// Enables `intid`: in `vcpu`'s Redistributor for SGIs/PPIs.
fn enable(gic: &mut Vgic, vcpu: usize, intid: u32) {
    let bit = 1 << (intid % 32);
    if intid < SPI_BASE {
        gicr_write(gic, sgi(vcpu, ISENABLER), bit);
    } else {
        gicd_write(gic, ISENABLER + 4 * u64::from(intid / 32), bit);
    }
}

fn route(gic: &mut Vgic, intid: u32, irouter: u64) {
    gic.write_distributor(IROUTER + 8 * u64::from(intid), Double, irouter)
        .unwrap();
}

fn irq(intid: u32, priority: u8) -> Option<PendingIrq> {
    Some(PendingIrq {
        intid,
        priority,
        group1: true,
        source: 0,
    })
}

#[test]
fn highest_priority_first_then_lowest_intid() {
    let mut gic = vgic(2, 64);
    linux_setup(&mut gic);
    for (intid, priority) in [(27, 0x80), (3, 0x80), (40, 0x40), (33, 0x80), (20, 0xf8)] {
        set_priority(&mut gic, 0, intid, priority);
        enable(&mut gic, 0, intid);
        gic.raise(0, intid).unwrap();
    }
    assert!(gic.has_pending(0));
    assert!(!gic.has_pending(1));
    assert_eq!(gic.take_pending(0, &[]), irq(40, 0x40));
    assert_eq!(gic.take_pending(0, &[]), irq(3, 0x80));
    assert_eq!(gic.take_pending(0, &[]), irq(27, 0x80));
    assert_eq!(gic.take_pending(0, &[]), irq(33, 0x80));
    assert_eq!(gic.take_pending(0, &[]), irq(20, 0xf8));
    assert_eq!(gic.take_pending(0, &[]), None);
    assert!(!gic.has_pending(0));
}

#[test]
fn take_pending_clears_the_pending_bit() {
    let mut gic = vgic(1, 32);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 35);
    enable(&mut gic, 0, 27);
    gic.raise(0, 35).unwrap();
    gic.raise(0, 27).unwrap();
    assert_eq!(gicd_read(&mut gic, ISPENDR + 4), 1 << 3);
    assert_eq!(gicr_read(&mut gic, sgi(0, ISPENDR)), 1 << 27);
    assert_eq!(gic.take_pending(0, &[]), irq(27, 0xa0));
    assert_eq!(gicr_read(&mut gic, sgi(0, ISPENDR)), 0);
    assert_eq!(gic.take_pending(0, &[]), irq(35, 0xa0));
    assert_eq!(gicd_read(&mut gic, ISPENDR + 4), 0);
}

#[test]
fn disabled_interrupts_are_held_back() {
    let mut gic = vgic(1, 32);
    linux_setup(&mut gic);
    gic.raise(0, 27).unwrap();
    gic.raise(0, 40).unwrap();
    assert!(!gic.has_pending(0));
    assert_eq!(gic.take_pending(0, &[]), None);
    enable(&mut gic, 0, 40);
    assert_eq!(gic.take_pending(0, &[]), irq(40, 0xa0));
    // Still pending: disabling does not lose it.
    assert_eq!(gicr_read(&mut gic, sgi(0, ISPENDR)), 1 << 27);
    enable(&mut gic, 0, 27);
    gicr_write(&mut gic, sgi(0, ICENABLER), 1 << 27);
    assert!(!gic.has_pending(0));
}

#[test]
fn group_disabled_spis_are_held_back() {
    let mut gic = vgic(1, 32);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 40);
    enable(&mut gic, 0, 27);
    gic.raise(0, 40).unwrap();
    gic.raise(0, 27).unwrap();
    // EnableGrp0 does not forward SPIs (every interrupt is treated as Group 1).
    gicd_write(&mut gic, GICD_CTLR, 0b01);
    assert_eq!(gic.take_pending(0, &[]), irq(27, 0xa0), "PPIs unaffected");
    assert!(!gic.has_pending(0));
    assert_eq!(gic.take_kicks(), 1, "from the raise of SPI 40");
    gicd_write(&mut gic, GICD_CTLR, ENABLE_GRP1);
    assert_eq!(gic.take_kicks(), 0b1);
    assert_eq!(gic.take_pending(0, &[]), irq(40, 0xa0));
}

#[test]
fn group_0_spis_are_treated_as_group_1() {
    let mut gic = vgic(1, 32);
    linux_setup(&mut gic);
    gicd_write(&mut gic, IGROUPR + 4, 0);
    enable(&mut gic, 0, 32);
    gic.raise(0, 32).unwrap();
    assert_eq!(gic.take_pending(0, &[]), irq(32, 0xa0));
}

#[test]
fn exclude_list_is_honoured() {
    let mut gic = vgic(1, 32);
    linux_setup(&mut gic);
    for intid in [1, 27, 33] {
        enable(&mut gic, 0, intid);
        gic.raise(0, intid).unwrap();
    }
    assert_eq!(gic.take_pending(0, &[1, 27, 33]), None);
    assert!(gic.has_pending(0), "has_pending ignores the exclude list");
    assert_eq!(gic.take_pending(0, &[1, 33]), irq(27, 0xa0));
    assert_eq!(gic.take_pending(0, &[1]), irq(33, 0xa0));
    assert_eq!(gic.take_pending(0, &[]), irq(1, 0xa0));
}

#[test]
fn spis_go_to_the_vcpu_irouter_names() {
    let mut gic = Vgic::new(vec![aff(0, 0), aff(0, 1), aff(1, 0)], 32);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 50);
    route(&mut gic, 50, aff(1, 0));
    gic.raise(0, 50).unwrap();
    assert_eq!(gic.take_kicks(), 0b100);
    assert!(!gic.has_pending(0));
    assert!(!gic.has_pending(1));
    assert_eq!(gic.take_pending(0, &[]), None);
    assert_eq!(gic.take_pending(2, &[]), irq(50, 0xa0));
    // 1-of-N: the lowest-index vCPU.
    route(&mut gic, 50, 1 << 31 | aff(1, 0));
    gic.raise(1, 50).unwrap();
    assert_eq!(gic.take_kicks(), 0b001);
    assert!(!gic.has_pending(2));
    assert_eq!(gic.take_pending(0, &[]), irq(50, 0xa0));
}

#[test]
fn spis_routed_to_a_missing_vcpu_wait_for_a_new_route() {
    let mut gic = vgic(2, 32);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 33);
    route(&mut gic, 33, aff(0, 2));
    gic.raise(0, 33).unwrap();
    assert_eq!(gic.take_kicks(), 0);
    assert!(!gic.has_pending(0));
    assert!(!gic.has_pending(1));
    // Rerouting kicks the new target; 32-bit halves work too.
    gicd_write(&mut gic, IROUTER + 8 * 33, 1);
    assert_eq!(gic.take_kicks(), 0b10);
    assert_eq!(gic.take_pending(1, &[]), irq(33, 0xa0));
}

#[test]
fn kicks_after_enabling_a_pending_interrupt() {
    let mut gic = vgic(2, 32);
    linux_setup(&mut gic);
    assert_eq!(gic.take_kicks(), 0, "setup kicked nobody");
    route(&mut gic, 40, aff(0, 1));
    gic.raise(0, 40).unwrap();
    gic.raise(0, 27).unwrap();
    assert_eq!(gic.take_kicks(), 0, "nothing enabled yet");
    enable(&mut gic, 0, 40);
    assert_eq!(gic.take_kicks(), 0b10);
    assert_eq!(gic.take_kicks(), 0, "take_kicks clears");
    enable(&mut gic, 0, 27);
    assert_eq!(gic.take_kicks(), 0b01);
    // Enabling again is not new.
    enable(&mut gic, 0, 27);
    assert_eq!(gic.take_kicks(), 0);
    // ISPENDR writes kick when the interrupt is enabled.
    gicr_write(&mut gic, sgi(1, ISPENDR), 1 << 5);
    assert_eq!(gic.take_kicks(), 0);
    enable(&mut gic, 1, 5);
    assert_eq!(gic.take_kicks(), 0b10);
    enable(&mut gic, 0, 41);
    gicd_write(&mut gic, ISPENDR + 4, 1 << 9);
    assert_eq!(gic.take_kicks(), 0b01);
    // Raising what is already pending is not new.
    gic.raise(0, 41).unwrap();
    assert_eq!(gic.take_kicks(), 0);
    // The caller of raise for a PPI knows whom to kick.
    enable(&mut gic, 1, 26);
    gic.raise(1, 26).unwrap();
    assert_eq!(gic.take_kicks(), 0);
    assert_eq!(gicr_read(&mut gic, sgi(1, ISPENDR)), 1 << 26 | 1 << 5);
}

#[test]
fn raise_rejects_what_the_vm_does_not_have() {
    let mut gic = vgic(2, 64);
    for intid in [96, 1019, 1020, 1023, 8192, u32::MAX] {
        assert_eq!(gic.raise(0, intid), Err(VgicError::NoSuchInterrupt(intid)));
        assert_eq!(
            gic.set_level(0, intid, true),
            Err(VgicError::NoSuchInterrupt(intid))
        );
    }
    assert_eq!(gic.raise(2, 27), Err(VgicError::NoSuchVcpu(2)));
    assert_eq!(
        gic.raise(usize::MAX, 0),
        Err(VgicError::NoSuchVcpu(usize::MAX))
    );
    assert_eq!(gic.set_level(2, 27, false), Err(VgicError::NoSuchVcpu(2)));
    // SPIs do not need a valid vCPU.
    assert_eq!(gic.raise(7, 95), Ok(()));
    assert_eq!(
        VgicError::NoSuchInterrupt(96).to_string(),
        "the VM has no interrupt 96"
    );
    assert_eq!(VgicError::NoSuchVcpu(2).to_string(), "the VM has no vCPU 2");
    // Nothing to take for a vCPU that does not exist.
    assert_eq!(gic.take_pending(2, &[]), None);
    assert!(!gic.has_pending(2));
}

#[test]
fn a_level_sensitive_interrupt_is_pending_while_its_line_is_high() {
    let mut gic = vgic(1, 32);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 33);
    enable(&mut gic, 0, 27);
    let _ = gic.take_fresh();
    gic.set_level(0, 33, true).unwrap();
    gic.set_level(0, 27, true).unwrap();
    assert_eq!(gic.take_fresh(), 1, "a rising line gives its vCPU work");
    assert_eq!(
        gicd_read(&mut gic, ISPENDR + 4),
        1 << 1,
        "GICD_ISPENDR shows the line"
    );
    assert_eq!(gicr_read(&mut gic, sgi(0, ISPENDR)), 1 << 27);
    assert!(gic.is_pending(0, 33) && gic.is_pending(0, 27) && !gic.is_pending(0, 34));
    assert!(!gic.is_pending(1, 27) && !gic.is_pending(0, 5000));
    // Handed to the guest, it stays pending while the line is high: once the guest
    // handled it (out of the list registers) it comes back.
    assert_eq!(gic.take_pending(0, &[]).map(|irq| irq.intid), Some(27));
    assert_eq!(gic.take_pending(0, &[27]).map(|irq| irq.intid), Some(33));
    assert_eq!(gic.take_pending(0, &[27, 33]), None);
    assert_eq!(gic.take_pending(0, &[]).map(|irq| irq.intid), Some(27));
    // ICPENDR clears only the latch.
    gicd_write(&mut gic, ICPENDR + 4, 1 << 1);
    assert_eq!(gicd_read(&mut gic, ISPENDR + 4), 1 << 1);
    // The line drops before the guest took it: withdrawn, and nobody gets work.
    let _ = gic.take_fresh();
    gic.set_level(0, 33, false).unwrap();
    gic.set_level(0, 27, false).unwrap();
    assert_eq!(gic.take_fresh(), 0);
    assert!(!gic.has_pending(0));
    assert_eq!(gicd_read(&mut gic, ISPENDR + 4), 0);
    // A latch set by ISPENDR stays when the line drops.
    gicd_write(&mut gic, ISPENDR + 4, 1 << 1);
    gic.set_level(0, 33, true).unwrap();
    gic.set_level(0, 33, false).unwrap();
    assert_eq!(gic.take_pending(0, &[]).map(|irq| irq.intid), Some(33));
    assert!(!gic.has_pending(0));
}

#[test]
fn a_rising_line_latches_an_edge_triggered_interrupt() {
    let mut gic = vgic(1, 32);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 34);
    gicd_write(&mut gic, ICFGR + 8, 2 << 4);
    gic.set_level(0, 34, true).unwrap();
    gic.set_level(0, 34, false).unwrap();
    assert_eq!(gic.take_pending(0, &[]).map(|irq| irq.intid), Some(34));
    assert!(!gic.has_pending(0), "taken once per edge");
    gic.set_level(0, 34, true).unwrap();
    gic.set_level(0, 34, true).unwrap();
    assert_eq!(gic.take_pending(0, &[]).map(|irq| irq.intid), Some(34));
    assert!(!gic.has_pending(0), "a line that stays high is one edge");
    // Made level-sensitive while the line is high: pending from the line.
    gicd_write(&mut gic, ICFGR + 8, 0);
    assert!(gic.has_pending(0));
}

#[test]
fn a_reset_keeps_the_lines_of_spis_and_drops_those_of_ppis() {
    let mut gic = vgic(1, 32);
    gic.set_level(0, 33, true).unwrap();
    gic.set_level(0, 27, true).unwrap();
    gic.reset();
    linux_setup(&mut gic);
    enable(&mut gic, 0, 33);
    enable(&mut gic, 0, 27);
    assert_eq!(gic.take_pending(0, &[]).map(|irq| irq.intid), Some(33));
    assert_eq!(gic.take_pending(0, &[33]), None);
}

#[test]
fn is_enabled_follows_the_guest() {
    let mut gic = vgic(2, 32);
    assert!(!gic.is_enabled(0, 27));
    enable(&mut gic, 1, 27);
    assert!(gic.is_enabled(1, 27));
    assert!(!gic.is_enabled(0, 27));
    enable(&mut gic, 0, 40);
    assert!(gic.is_enabled(0, 40));
    assert!(gic.is_enabled(1, 40));
    assert!(!gic.is_enabled(2, 27));
    assert!(!gic.is_enabled(0, 64));
    assert!(!gic.is_enabled(0, u32::MAX));
}

#[test]
fn reset_returns_to_power_on() {
    let affinities = vec![aff(0, 0), aff(1, 3)];
    let mut gic = Vgic::new(affinities.clone(), 64);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 40);
    enable(&mut gic, 1, 27);
    route(&mut gic, 40, aff(1, 3));
    gic.raise(0, 40).unwrap();
    gic.raise(1, 27).unwrap();
    gicr_write(&mut gic, sgi(1, ICFGR + 4), u32::MAX);
    gicd_write(&mut gic, ICFGR + 8, u32::MAX);
    gicd_write(&mut gic, ISACTIVER + 4, 1);
    assert_ne!(gic.take_kicks(), 0);
    gic.raise(0, 41).unwrap();
    enable(&mut gic, 0, 41);

    gic.reset();
    assert_eq!(gic.take_kicks(), 0);
    assert!(!gic.has_pending(0));
    assert!(!gic.has_pending(1));
    assert!(!gic.is_enabled(1, 27));
    assert_eq!(gic.vcpu_count(), 2);
    assert_eq!(gic.spi_count(), 64);
    let mut fresh = Vgic::new(affinities, 64);
    for offset in (0..DISTRIBUTOR_SIZE).step_by(4) {
        assert_eq!(
            gic.read_distributor(offset, Word),
            fresh.read_distributor(offset, Word),
            "GICD {offset:#x}"
        );
    }
    for offset in (0..2 * REDISTRIBUTOR_STRIDE).step_by(4) {
        assert_eq!(
            gic.read_redistributor(offset, Word),
            fresh.read_redistributor(offset, Word),
            "GICR {offset:#x}"
        );
    }
    assert_eq!(gicr_read(&mut gic, rd(1, GICR_WAKER)), 0b110);
    assert_eq!(
        gic.read_redistributor(rd(1, GICR_TYPER), Double).unwrap() >> 32,
        0x0000_0103
    );
}

#[test]
fn at_most_64_vcpus() {
    let gic = Vgic::new((0..100).collect(), 32);
    assert_eq!(gic.vcpu_count(), MAX_VCPUS);
    let mut gic = Vgic::new((0..64).collect(), 32);
    linux_setup(&mut gic);
    assert_eq!(gic.send_sgi(0, 1 << 40), !1);
    gicr_write(&mut gic, sgi(63, ISENABLER), 1);
    assert_eq!(gic.take_kicks(), 1 << 63);
    assert!(gic.has_pending(63));
}

#[test]
fn no_vcpus_no_panics() {
    let mut gic = Vgic::new(Vec::new(), 32);
    linux_setup(&mut gic);
    enable(&mut gic, 0, 32);
    route(&mut gic, 32, 1 << 31);
    assert_eq!(gic.raise(0, 32), Ok(()));
    assert_eq!(gic.raise(0, 0), Err(VgicError::NoSuchVcpu(0)));
    assert_eq!(gic.send_sgi(0, 1 << 40), 0);
    assert_eq!(gic.take_pending(0, &[]), None);
    assert_eq!(gic.take_kicks(), 0);
    assert!(gic.read_redistributor(0, Word).is_err());
}

#[test]
fn fresh_marks_the_vcpus_a_change_concerns() {
    let mut gic = Vgic::new(vec![aff(0, 0), aff(0, 1), aff(1, 0)], 32);
    assert_eq!(
        gic.take_fresh(),
        u64::MAX,
        "after power-on every vCPU looks once"
    );
    linux_setup(&mut gic);
    assert_eq!(
        gic.take_fresh(),
        u64::MAX,
        "a register write concerns every vCPU"
    );
    assert_eq!(gic.take_fresh(), 0, "taken");
    gic.raise(1, 27).unwrap();
    assert_eq!(gic.take_fresh(), 0b010, "a PPI: the vCPU named");
    enable(&mut gic, 0, 50);
    route(&mut gic, 50, aff(1, 0));
    let _ = gic.take_fresh();
    gic.raise(0, 50).unwrap();
    assert_eq!(gic.take_fresh(), 0b100, "an SPI: the vCPU it is routed to");
    gic.raise(0, 50).unwrap();
    assert_eq!(gic.take_fresh(), 0, "already pending there: nothing new");
    gic.set_level(0, 50, false).unwrap();
    assert_eq!(gic.take_fresh(), 0, "a falling line gives nobody work");
    let targets = gic.send_sgi(0, 1 << 40 | 5 << 24);
    assert_eq!(targets, 0b110);
    assert_eq!(gic.take_fresh(), 0b110, "an SGI: its targets");
    gic.reset();
    assert_eq!(gic.take_fresh(), u64::MAX, "a reset: everyone");
}

#[test]
fn scans_find_interrupts_in_every_spi_word() {
    let mut gic = vgic(1, 988);
    linux_setup(&mut gic);
    for intid in [32, 63, 64, 500, 1019] {
        enable(&mut gic, 0, intid);
        gic.raise(0, intid).unwrap();
    }
    set_priority(&mut gic, 0, 500, 0x10);
    assert_eq!(gic.take_pending(0, &[]), irq(500, 0x10));
    for intid in [32, 63, 64, 1019] {
        assert_eq!(gic.take_pending(0, &[]), irq(intid, 0xa0));
    }
    assert!(!gic.has_pending(0));
}
