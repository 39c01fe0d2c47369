//! The GICv2 front end: banked private registers, ITARGETSR routing, GICD_SGIR
//! target filters and SGI senders, groups, and the accesses it takes.

use super::*;
use crate::AccessWidth::{Byte, Double, Half};

/// GICD_SGIR.
const SGIR: u64 = 0x0f00;
/// GICD_CPENDSGIR<n>, GICD_SPENDSGIR<n>.
const CPENDSGIR: u64 = 0x0f10;
const SPENDSGIR: u64 = 0x0f20;
/// ICPIDR2 of a GICv2.
const PIDR2_V2: u64 = 0x0fe8;

fn read_as(gic: &mut Vgic, vcpu: usize, offset: u64) -> u32 {
    gic.read_distributor_from(vcpu, offset, Word).unwrap() as u32
}

fn write_as(gic: &mut Vgic, vcpu: usize, offset: u64, value: u32) {
    gic.write_distributor_from(vcpu, offset, Word, value.into())
        .unwrap();
}

/// A GICv2 with `vcpus` vCPUs, 64 SPIs, forwarding Group 0 (what Linux writes),
/// SGIs enabled on every vCPU.
fn v2(vcpus: usize) -> Vgic {
    let mut gic = Vgic::new_v2(vcpus, 64);
    for vcpu in 0..vcpus {
        write_as(&mut gic, vcpu, ISENABLER, 0xffff);
    }
    write_as(&mut gic, 0, GICD_CTLR, 1);
    gic.take_kicks();
    gic
}

#[test]
fn identifies_as_a_gicv2() {
    let mut gic = Vgic::new_v2(3, 64);
    assert_eq!(gic.version(), GicVersion::V2);
    // ITLinesNumber 2 (96 INTIDs), CPUNumber 2 (three interfaces), no security.
    assert_eq!(read_as(&mut gic, 0, GICD_TYPER), 2 | (2 << 5));
    assert_eq!(read_as(&mut gic, 0, PIDR2_V2), 0x20);
    assert_eq!(read_as(&mut gic, 0, GICD_IIDR), 0x5400_0000);
    write_as(&mut gic, 0, GICD_CTLR, 0xffff_ffff);
    assert_eq!(read_as(&mut gic, 0, GICD_CTLR), 0b11);
    // Beyond the 4 KiB frame and GICv3 locations: nothing.
    assert_eq!(read_as(&mut gic, 0, IROUTER + 8 * 40), 0);
    assert_eq!(Vgic::new_v2(12, 32).vcpu_count(), MAX_VCPUS_V2);
    gic.reset();
    assert_eq!(gic.version(), GicVersion::V2);
    assert_eq!(read_as(&mut gic, 0, GICD_CTLR), 0);
}

#[test]
fn private_registers_are_banked_per_vcpu() {
    let mut gic = Vgic::new_v2(2, 32);
    write_as(&mut gic, 1, ISENABLER, 1 << 27);
    assert_eq!(read_as(&mut gic, 1, ISENABLER), 1 << 27);
    assert_eq!(read_as(&mut gic, 0, ISENABLER), 0);
    assert!(gic.is_enabled(1, 27) && !gic.is_enabled(0, 27));
    gic.write_distributor_from(0, IPRIORITYR + 27, Byte, 0xa0)
        .unwrap();
    assert_eq!(
        gic.read_distributor_from(0, IPRIORITYR + 27, Byte),
        Ok(0xa0)
    );
    assert_eq!(gic.read_distributor_from(1, IPRIORITYR + 27, Byte), Ok(0));
    // ITARGETSR0-7 read as the reader's own interface, and ignore writes.
    assert_eq!(read_as(&mut gic, 0, ITARGETSR), 0x0101_0101);
    write_as(&mut gic, 1, ITARGETSR + 4, 0xffff_ffff);
    assert_eq!(read_as(&mut gic, 1, ITARGETSR + 4), 0x0202_0202);
    // SGI pending bits are set only through GICD_SPENDSGIR.
    write_as(&mut gic, 0, ISPENDR, 0x0001_0003);
    assert_eq!(read_as(&mut gic, 0, ISPENDR), 0x0001_0000);
}

#[test]
fn spis_go_where_itargetsr_sends_them() {
    let mut gic = v2(3);
    write_as(&mut gic, 0, ISENABLER + 4, 1 << 8); // SPI 40
    // Only existing CPU interfaces stick.
    gic.write_distributor_from(0, ITARGETSR + 40, Byte, 0xf6)
        .unwrap();
    assert_eq!(gic.read_distributor_from(2, ITARGETSR + 40, Byte), Ok(0x06));
    gic.raise(0, 40).unwrap();
    assert_eq!(gic.take_kicks(), 0b010);
    assert_eq!(gic.take_pending(0, &[]), None);
    let irq = gic.take_pending(1, &[]).unwrap();
    assert_eq!((irq.intid, irq.group1, irq.source), (40, false, 0));
    // Retargeting a pending SPI kicks its new target.
    gic.raise(0, 40).unwrap();
    gic.take_kicks();
    gic.write_distributor_from(0, ITARGETSR + 40, Byte, 0x04)
        .unwrap();
    assert_eq!(gic.take_kicks(), 0b100);
    assert!(gic.take_pending(2, &[]).is_some());
}

#[test]
fn each_group_is_forwarded_by_its_own_enable() {
    let mut gic = v2(1);
    write_as(&mut gic, 0, ISENABLER + 4, 0b11); // SPIs 32 and 33
    write_as(&mut gic, 0, ITARGETSR + 32, 0x0101);
    write_as(&mut gic, 0, IGROUPR + 4, 0b10); // SPI 33 in Group 1
    gic.raise(0, 32).unwrap();
    gic.raise(0, 33).unwrap();
    assert_eq!(gic.take_pending(0, &[]).map(|irq| irq.intid), Some(32));
    assert_eq!(gic.take_pending(0, &[]), None);
    gic.take_kicks();
    write_as(&mut gic, 0, GICD_CTLR, 0b10);
    assert_eq!(gic.take_kicks(), 1);
    let irq = gic.take_pending(0, &[]).unwrap();
    assert_eq!((irq.intid, irq.group1), (33, true));
}

#[test]
fn sgir_target_filters() {
    let mut gic = v2(4);
    // TargetListFilter 0: the list (vCPUs 1 and 3; bits for absent interfaces ignored).
    write_as(&mut gic, 0, SGIR, (0b1111_1010 << 16) | 5);
    assert_eq!(gic.take_kicks(), 0b1010);
    // 1: every vCPU but the sender.
    write_as(&mut gic, 2, SGIR, (1 << 24) | 6);
    assert_eq!(gic.take_kicks(), 0b1011);
    // 2: the sender only.
    write_as(&mut gic, 3, SGIR, (2 << 24) | (0xff << 16) | 7);
    assert_eq!(gic.take_kicks(), 0b1000);
    // 3: reserved, nothing.
    write_as(&mut gic, 0, SGIR, (3 << 24) | 7);
    assert_eq!(gic.take_kicks(), 0);
    assert!(gic.is_pending(1, 5) && gic.is_pending(3, 5) && !gic.is_pending(2, 5));
    assert!(gic.is_pending(0, 6) && !gic.is_pending(2, 6));
    assert!(gic.is_pending(3, 7) && !gic.is_pending(0, 7));
}

#[test]
fn an_sgi_is_taken_once_per_sender() {
    let mut gic = v2(4);
    write_as(&mut gic, 3, SGIR, (0b10 << 16) | 2);
    write_as(&mut gic, 0, SGIR, (0b10 << 16) | 2);
    // GICD_SPENDSGIR0 byte 2 of vCPU 1: senders 0 and 3.
    assert_eq!(read_as(&mut gic, 1, SPENDSGIR) >> 16 & 0xff, 0b1001);
    assert_eq!(read_as(&mut gic, 1, CPENDSGIR) >> 16 & 0xff, 0b1001);
    let first = gic.take_pending(1, &[]).unwrap();
    assert_eq!((first.intid, first.source), (2, 0));
    assert!(gic.is_pending(1, 2));
    let second = gic.take_pending(1, &[]).unwrap();
    assert_eq!((second.intid, second.source), (2, 3));
    assert!(!gic.is_pending(1, 2));
    assert_eq!(gic.take_pending(1, &[]), None);
}

#[test]
fn sgi_source_registers_set_and_clear_senders() {
    let mut gic = v2(2);
    gic.write_distributor_from(1, SPENDSGIR + 4, Byte, 0xff)
        .unwrap();
    assert_eq!(gic.take_kicks(), 0b10);
    // Only the two existing interfaces stick.
    assert_eq!(gic.read_distributor_from(1, SPENDSGIR + 4, Byte), Ok(0b11));
    assert!(gic.is_pending(1, 4));
    gic.write_distributor_from(1, CPENDSGIR + 4, Byte, 0b01)
        .unwrap();
    assert!(gic.is_pending(1, 4));
    gic.write_distributor_from(1, CPENDSGIR + 4, Byte, 0b10)
        .unwrap();
    assert!(!gic.is_pending(1, 4));
    assert_eq!(read_as(&mut gic, 1, SPENDSGIR + 4), 0);
}

#[test]
fn accesses_a_gicv2_refuses() {
    let mut gic = v2(1);
    assert!(gic.read_distributor_from(0, GICD_CTLR, Double).is_err());
    assert!(gic.read_distributor_from(0, ITARGETSR, Half).is_err());
    assert!(gic.read_distributor_from(0, GICD_CTLR, Byte).is_err());
    assert!(gic.read_distributor_from(0, ITARGETSR + 1, Byte).is_ok());
    assert!(gic.read_distributor_from(0, SPENDSGIR + 3, Byte).is_ok());
    assert!(gic.read_distributor_from(0, ISENABLER + 2, Word).is_err());
    assert!(
        gic.read_distributor_from(0, DISTRIBUTOR_SIZE, Word)
            .is_err()
    );
}
