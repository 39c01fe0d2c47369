//! ICC_SGI1R_EL1 writes: SGI targets.

use super::*;

/// An ICC_SGI1R_EL1 value.
fn sgi1r(intid: u64, aff3: u64, aff2: u64, aff1: u64, rs: u64, targets: u64) -> u64 {
    aff3 << 48 | rs << 44 | aff2 << 32 | intid << 24 | aff1 << 16 | targets
}

/// IRM: every vCPU but the sender.
const IRM: u64 = 1 << 40;

/// Four vCPUs, two per cluster: 0.0.0.0, 0.0.0.1, 0.0.1.0, 0.0.1.1.
fn clusters() -> Vgic {
    Vgic::new(vec![aff(0, 0), aff(0, 1), aff(1, 0), aff(1, 1)], 32)
}

fn pending_sgis(gic: &mut Vgic, vcpu: usize) -> u32 {
    gicr_read(gic, sgi(vcpu, ISPENDR)) & 0xffff
}

#[test]
fn target_list_with_aff1() {
    let mut gic = clusters();
    assert_eq!(gic.send_sgi(0, sgi1r(3, 0, 0, 1, 0, 0b10)), 0b1000);
    assert_eq!(pending_sgis(&mut gic, 3), 1 << 3);
    for vcpu in 0..3 {
        assert_eq!(pending_sgis(&mut gic, vcpu), 0);
    }
    assert_eq!(gic.send_sgi(3, sgi1r(15, 0, 0, 0, 0, 0b11)), 0b0011);
    assert_eq!(pending_sgis(&mut gic, 0), 1 << 15);
    assert_eq!(pending_sgis(&mut gic, 1), 1 << 15);
}

#[test]
fn the_sender_can_target_itself() {
    let mut gic = clusters();
    assert_eq!(gic.send_sgi(2, sgi1r(1, 0, 0, 1, 0, 0b1)), 0b0100);
    assert_eq!(pending_sgis(&mut gic, 2), 0b10);
}

#[test]
fn irm_targets_everyone_but_the_sender() {
    let mut gic = clusters();
    // TargetList and affinity fields are ignored with IRM.
    assert_eq!(gic.send_sgi(1, IRM | sgi1r(5, 9, 9, 9, 0, 0)), 0b1101);
    assert_eq!(pending_sgis(&mut gic, 1), 0);
    for vcpu in [0, 2, 3] {
        assert_eq!(pending_sgis(&mut gic, vcpu), 1 << 5);
    }
    // A sender that does not exist excludes nobody.
    assert_eq!(gic.send_sgi(99, IRM | sgi1r(6, 0, 0, 0, 0, 0)), 0b1111);
    // One vCPU alone gets nothing.
    let mut single = vgic(1, 32);
    assert_eq!(single.send_sgi(0, IRM), 0);
}

#[test]
fn nonexistent_targets_are_ignored() {
    let mut gic = clusters();
    assert_eq!(gic.send_sgi(0, sgi1r(2, 0, 0, 0, 0, 0xffff)), 0b0011);
    assert_eq!(gic.send_sgi(0, sgi1r(2, 0, 0, 5, 0, 0xffff)), 0);
    assert_eq!(gic.send_sgi(0, sgi1r(2, 0, 1, 0, 0, 0xffff)), 0);
    assert_eq!(gic.send_sgi(0, sgi1r(2, 1, 0, 0, 0, 0xffff)), 0);
    assert_eq!(gic.send_sgi(0, sgi1r(2, 0, 0, 0, 1, 0xffff)), 0);
    assert_eq!(gic.send_sgi(0, sgi1r(2, 0, 0, 1, 0, 0)), 0);
    for vcpu in [2, 3] {
        assert_eq!(pending_sgis(&mut gic, vcpu), 0);
    }
}

#[test]
fn range_selector_and_upper_affinity() {
    let mut gic = Vgic::new(vec![0x0000_0000, 0x0000_0011, 0x12_0034_0520], 32);
    // Aff0 17 = 16 * RS 1 + bit 1.
    assert_eq!(gic.send_sgi(0, sgi1r(4, 0, 0, 0, 1, 0b10)), 0b010);
    assert_eq!(gic.send_sgi(0, sgi1r(4, 0, 0, 0, 0, 0b10)), 0);
    // Aff3 0x12, Aff2 0x34, Aff1 5, Aff0 0x20 = 16 * 2 + 0.
    assert_eq!(gic.send_sgi(0, sgi1r(7, 0x12, 0x34, 5, 2, 0b1)), 0b100);
    assert_eq!(pending_sgis(&mut gic, 2), 1 << 7);
}

#[test]
fn sgis_wait_for_their_enable() {
    let mut gic = clusters();
    linux_setup(&mut gic);
    assert_eq!(gic.send_sgi(0, sgi1r(1, 0, 0, 0, 0, 0b10)), 0b10);
    assert!(!gic.has_pending(1), "SGI 1 disabled");
    gicr_write(&mut gic, sgi(1, ISENABLER), 1 << 1);
    assert_eq!(gic.take_kicks(), 0b10);
    assert_eq!(
        gic.take_pending(1, &[]),
        Some(PendingIrq {
            intid: 1,
            priority: 0xa0,
            group1: true,
            source: 0,
        })
    );
    assert!(!gic.has_pending(1));
}
