//! GICR registers: RD_base and SGI_base of each vCPU.

use super::*;
use crate::AccessWidth::{Byte, Double};

fn typer(gic: &mut Vgic, vcpu: usize) -> u64 {
    gic.read_redistributor(rd(vcpu, GICR_TYPER), Double)
        .unwrap()
}

#[test]
fn typer_of_one_vcpu() {
    let mut gic = Vgic::new(vec![0x8000_0000], 32);
    // MPIDR bit 31 (RES1) is not affinity.
    assert_eq!(typer(&mut gic, 0), 1 << 4, "Last, affinity 0, processor 0");
}

#[test]
fn typer_of_two_vcpus() {
    let mut gic = vgic(2, 32);
    assert_eq!(typer(&mut gic, 0), 0);
    assert_eq!(typer(&mut gic, 1), 1 << 32 | 1 << 8 | 1 << 4);
}

#[test]
fn typer_of_four_vcpus_in_two_clusters() {
    let affinities = vec![
        0x00_0000_0000,
        0x00_0000_0001,
        0x00_0001_0100 | 1 << 24, // MT bit dropped
        0x12_0034_0102,
    ];
    let mut gic = Vgic::new(affinities, 32);
    assert_eq!(gic.vcpu_count(), 4);
    let expected = [
        0x0000_0000_0000_0000,
        0x0000_0001_0000_0100,
        0x0001_0100_0000_0200,
        0x1234_0102_0000_0310,
    ];
    for (vcpu, value) in expected.into_iter().enumerate() {
        assert_eq!(typer(&mut gic, vcpu), value, "vCPU {vcpu}");
        // 32-bit halves.
        assert_eq!(
            u64::from(gicr_read(&mut gic, rd(vcpu, GICR_TYPER))),
            value & 0xffff_ffff
        );
        assert_eq!(
            u64::from(gicr_read(&mut gic, rd(vcpu, GICR_TYPER + 4))),
            value >> 32
        );
        assert_eq!(value & 1, 0, "PLPIS");
    }
    // Read-only.
    gic.write_redistributor(rd(3, GICR_TYPER), Double, 0)
        .unwrap();
    gicr_write(&mut gic, rd(3, GICR_TYPER + 4), 0);
    assert_eq!(typer(&mut gic, 3), expected[3]);
}

#[test]
fn identification_and_control() {
    let mut gic = vgic(2, 32);
    for vcpu in 0..2 {
        assert_eq!(gicr_read(&mut gic, rd(vcpu, GICR_IIDR)), 0x5400_0000);
        assert_eq!(gicr_read(&mut gic, rd(vcpu, PIDR2)) >> 4 & 0xf, 3);
        gicr_write(&mut gic, rd(vcpu, GICR_IIDR), 0);
        gicr_write(&mut gic, rd(vcpu, PIDR2), 0);
        assert_eq!(gicr_read(&mut gic, rd(vcpu, GICR_IIDR)), 0x5400_0000);
        assert_eq!(gicr_read(&mut gic, rd(vcpu, PIDR2)), 0x30);
        // GICR_CTLR: EnableLPIs RAZ/WI, RWP reads 0.
        assert_eq!(gicr_read(&mut gic, rd(vcpu, GICR_CTLR)), 0);
        gicr_write(&mut gic, rd(vcpu, GICR_CTLR), u32::MAX);
        assert_eq!(gicr_read(&mut gic, rd(vcpu, GICR_CTLR)), 0);
    }
}

#[test]
fn waker_children_follow_processor_sleep() {
    let mut gic = vgic(2, 32);
    assert_eq!(
        gicr_read(&mut gic, rd(0, GICR_WAKER)),
        0b110,
        "asleep at reset"
    );
    gicr_write(&mut gic, rd(0, GICR_WAKER), 0);
    assert_eq!(gicr_read(&mut gic, rd(0, GICR_WAKER)), 0);
    assert_eq!(gicr_read(&mut gic, rd(1, GICR_WAKER)), 0b110, "per vCPU");
    // ChildrenAsleep is read-only; bits 0 and 31 are RAZ/WI here.
    gicr_write(&mut gic, rd(0, GICR_WAKER), 0x8000_0005);
    assert_eq!(gicr_read(&mut gic, rd(0, GICR_WAKER)), 0);
    gicr_write(&mut gic, rd(0, GICR_WAKER), 0b010);
    assert_eq!(gicr_read(&mut gic, rd(0, GICR_WAKER)), 0b110);
}

#[test]
fn lpi_registers_are_raz_wi_64_bit() {
    let mut gic = vgic(1, 32);
    for offset in [0x40, 0x48, 0x70, 0x78, 0xa0, 0xb0] {
        gic.write_redistributor(rd(0, offset), Double, u64::MAX)
            .unwrap();
        assert_eq!(gic.read_redistributor(rd(0, offset), Double).unwrap(), 0);
        assert_eq!(gicr_read(&mut gic, rd(0, offset + 4)), 0);
    }
    // STATUSR, SYNCR and the other reserved words.
    for offset in [0x10, 0x18, 0xc0, 0x100, 0x8000, 0xfffc] {
        gicr_write(&mut gic, rd(0, offset), u32::MAX);
        assert_eq!(gicr_read(&mut gic, rd(0, offset)), 0, "{offset:#x}");
    }
}

#[test]
fn sgi_base_bit_arrays() {
    let mut gic = vgic(2, 32);
    gicr_write(&mut gic, sgi(1, IGROUPR), 0xffff_0001);
    assert_eq!(gicr_read(&mut gic, sgi(1, IGROUPR)), 0xffff_0001);
    assert_eq!(gicr_read(&mut gic, sgi(0, IGROUPR)), 0);
    for (set, clear) in [
        (ISENABLER, ICENABLER),
        (ISPENDR, ICPENDR),
        (ISACTIVER, ICACTIVER),
    ] {
        gicr_write(&mut gic, sgi(1, set), 0x0800_0003);
        gicr_write(&mut gic, sgi(1, set), 0x0000_0010);
        assert_eq!(gicr_read(&mut gic, sgi(1, set)), 0x0800_0013);
        assert_eq!(gicr_read(&mut gic, sgi(1, clear)), 0x0800_0013);
        assert_eq!(gicr_read(&mut gic, sgi(0, set)), 0, "other vCPU untouched");
        gicr_write(&mut gic, sgi(1, clear), 0x0000_0011);
        assert_eq!(gicr_read(&mut gic, sgi(1, set)), 0x0800_0002);
        gicr_write(&mut gic, sgi(1, clear), u32::MAX);
        assert_eq!(gicr_read(&mut gic, sgi(1, clear)), 0);
        // No extended PPIs: the next word is reserved.
        gicr_write(&mut gic, sgi(1, set + 4), u32::MAX);
        assert_eq!(gicr_read(&mut gic, sgi(1, set + 4)), 0);
    }
}

#[test]
fn sgi_base_priorities() {
    let mut gic = vgic(1, 32);
    for word in 0..8 {
        gicr_write(
            &mut gic,
            sgi(0, IPRIORITYR + 4 * word),
            0x1f2f_3f4f + word as u32,
        );
    }
    for word in 0..8 {
        let expected = (0x1f2f_3f4f + word as u32) & 0xf8f8_f8f8;
        assert_eq!(gicr_read(&mut gic, sgi(0, IPRIORITYR + 4 * word)), expected);
    }
    gic.write_redistributor(sgi(0, IPRIORITYR + 27), Byte, 0x81)
        .unwrap();
    assert_eq!(
        gic.read_redistributor(sgi(0, IPRIORITYR + 27), Byte)
            .unwrap(),
        0x80
    );
    // IPRIORITYR8+ would be extended PPIs: reserved, 32-bit only.
    gicr_write(&mut gic, sgi(0, IPRIORITYR + 32), u32::MAX);
    assert_eq!(gicr_read(&mut gic, sgi(0, IPRIORITYR + 32)), 0);
    assert!(
        gic.read_redistributor(sgi(0, IPRIORITYR + 32), Byte)
            .is_err()
    );
}

#[test]
fn sgi_base_icfgr() {
    let mut gic = vgic(1, 32);
    // SGIs are always edge-triggered: ICFGR0 is read-only.
    assert_eq!(gicr_read(&mut gic, sgi(0, ICFGR)), 0xaaaa_aaaa);
    gicr_write(&mut gic, sgi(0, ICFGR), 0);
    assert_eq!(gicr_read(&mut gic, sgi(0, ICFGR)), 0xaaaa_aaaa);
    // PPIs: level-sensitive at reset, odd bits programmable.
    assert_eq!(gicr_read(&mut gic, sgi(0, ICFGR + 4)), 0);
    gicr_write(&mut gic, sgi(0, ICFGR + 4), u32::MAX);
    assert_eq!(gicr_read(&mut gic, sgi(0, ICFGR + 4)), 0xaaaa_aaaa);
    gicr_write(&mut gic, sgi(0, ICFGR + 4), 0x0080_0000);
    assert_eq!(gicr_read(&mut gic, sgi(0, ICFGR + 4)), 0x0080_0000);
    // ICFGR2+ (extended PPIs) are reserved.
    gicr_write(&mut gic, sgi(0, ICFGR + 8), u32::MAX);
    assert_eq!(gicr_read(&mut gic, sgi(0, ICFGR + 8)), 0);
}

#[test]
fn sgi_base_raz_wi() {
    let mut gic = vgic(1, 32);
    // IGRPMODR0, NSACR, reserved words (ITARGETSR does not exist in a Redistributor).
    for offset in [IGRPMODR, NSACR, 0x0000, 0x0800, 0x0f00, 0xfffc, PIDR2] {
        gicr_write(&mut gic, sgi(0, offset), u32::MAX);
        assert_eq!(gicr_read(&mut gic, sgi(0, offset)), 0, "{offset:#x}");
    }
    assert!(gic.read_redistributor(sgi(0, ITARGETSR), Byte).is_err());
}
