//! GICD registers: read back after write, reserved bits, read-only registers.

use super::*;
use crate::AccessWidth::{Byte, Double};

#[test]
fn ctlr_keeps_the_group_enables_only() {
    let mut gic = vgic(1, 64);
    // ARE (bit 4) and DS (bit 6) read as one; RWP (bit 31) as zero.
    assert_eq!(gicd_read(&mut gic, GICD_CTLR), 0x50);
    gicd_write(&mut gic, GICD_CTLR, 0b11);
    assert_eq!(gicd_read(&mut gic, GICD_CTLR), 0x53);
    gicd_write(&mut gic, GICD_CTLR, u32::MAX);
    assert_eq!(gicd_read(&mut gic, GICD_CTLR), 0x53);
    // Clearing ARE and DS is ignored.
    gicd_write(&mut gic, GICD_CTLR, 0b10);
    assert_eq!(gicd_read(&mut gic, GICD_CTLR), 0x52);
    gicd_write(&mut gic, GICD_CTLR, 0);
    assert_eq!(gicd_read(&mut gic, GICD_CTLR), 0x50);
}

#[test]
fn typer_describes_the_vm() {
    for (spis, lines) in [
        (0, 0),
        (32, 1),
        (33, 2),
        (64, 2),
        (960, 30),
        (988, 31),
        (5000, 31),
    ] {
        let mut gic = vgic(2, spis);
        let typer = gicd_read(&mut gic, GICD_TYPER);
        assert_eq!(typer & 0x1f, lines, "ITLinesNumber for {spis} SPIs");
        assert_eq!(typer >> 5 & 0x7, 0, "CPUNumber");
        assert_eq!(typer >> 19 & 0x1f, 9, "IDbits");
        assert_eq!(typer & (1 << 10), 0, "SecurityExtn");
        assert_eq!(typer & (1 << 16), 0, "MBIS");
        assert_eq!(typer & (1 << 17), 0, "LPIS");
        assert_eq!(typer & (1 << 8), 0, "ESPI");
        assert_eq!(typer & (1 << 25), 0, "No1N: 1-of-N supported");
        assert_eq!(typer >> 11 & 0x1f, 0, "num_LPIs");
    }
    assert_eq!(vgic(1, 33).spi_count(), 64);
    assert_eq!(vgic(1, 5000).spi_count(), MAX_SPIS);
}

#[test]
fn identification_registers_are_read_only() {
    let mut gic = vgic(1, 32);
    let typer = gicd_read(&mut gic, GICD_TYPER);
    let iidr = gicd_read(&mut gic, GICD_IIDR);
    assert_eq!(iidr, 0x5400_0000);
    assert_eq!(gicd_read(&mut gic, GICD_TYPER2), 0);
    assert_eq!(gicd_read(&mut gic, PIDR2) >> 4 & 0xf, 3, "ArchRev GICv3");
    for offset in [GICD_TYPER, GICD_IIDR, GICD_TYPER2, PIDR2] {
        gicd_write(&mut gic, offset, 0x1234_5678);
    }
    assert_eq!(gicd_read(&mut gic, GICD_TYPER), typer);
    assert_eq!(gicd_read(&mut gic, GICD_IIDR), iidr);
    assert_eq!(gicd_read(&mut gic, GICD_TYPER2), 0);
    assert_eq!(gicd_read(&mut gic, PIDR2), 0x30);
}

#[test]
fn igroupr_reads_back_for_spis_only() {
    let mut gic = vgic(1, 64);
    gicd_write(&mut gic, IGROUPR + 4, 0xdead_beef);
    gicd_write(&mut gic, IGROUPR + 8, 0x1234_5678);
    assert_eq!(gicd_read(&mut gic, IGROUPR + 4), 0xdead_beef);
    assert_eq!(gicd_read(&mut gic, IGROUPR + 8), 0x1234_5678);
    // SGIs/PPIs are in the Redistributors; INTIDs 96+ do not exist.
    gicd_write(&mut gic, IGROUPR, u32::MAX);
    gicd_write(&mut gic, IGROUPR + 12, u32::MAX);
    assert_eq!(gicd_read(&mut gic, IGROUPR), 0);
    assert_eq!(gicd_read(&mut gic, IGROUPR + 12), 0);
    gicd_write(&mut gic, IGROUPR + 4, 0);
    assert_eq!(gicd_read(&mut gic, IGROUPR + 4), 0);
}

/// A set/clear register pair reads the same state through both offsets.
fn check_set_clear_pair(set: u64, clear: u64) {
    let mut gic = vgic(1, 64);
    gicd_write(&mut gic, set + 4, 0x0000_00ff);
    gicd_write(&mut gic, set + 4, 0x0f00_0000);
    assert_eq!(gicd_read(&mut gic, set + 4), 0x0f00_00ff);
    assert_eq!(gicd_read(&mut gic, clear + 4), 0x0f00_00ff);
    // Zero bits change nothing.
    gicd_write(&mut gic, set + 4, 0);
    gicd_write(&mut gic, clear + 4, 0);
    assert_eq!(gicd_read(&mut gic, set + 4), 0x0f00_00ff);
    gicd_write(&mut gic, clear + 4, 0x0000_000f);
    assert_eq!(gicd_read(&mut gic, set + 4), 0x0f00_00f0);
    assert_eq!(gicd_read(&mut gic, clear + 4), 0x0f00_00f0);
    // The SGI/PPI word and INTIDs beyond the VM's SPIs are RAZ/WI.
    gicd_write(&mut gic, set, u32::MAX);
    gicd_write(&mut gic, set + 12, u32::MAX);
    assert_eq!(gicd_read(&mut gic, set), 0);
    assert_eq!(gicd_read(&mut gic, clear), 0);
    assert_eq!(gicd_read(&mut gic, set + 12), 0);
    gicd_write(&mut gic, set + 8, u32::MAX);
    assert_eq!(gicd_read(&mut gic, clear + 8), u32::MAX);
    gicd_write(&mut gic, clear + 8, u32::MAX);
    assert_eq!(gicd_read(&mut gic, set + 8), 0);
}

#[test]
fn isenabler_icenabler() {
    check_set_clear_pair(ISENABLER, ICENABLER);
}

#[test]
fn ispendr_icpendr() {
    check_set_clear_pair(ISPENDR, ICPENDR);
}

#[test]
fn isactiver_icactiver() {
    check_set_clear_pair(ISACTIVER, ICACTIVER);
}

#[test]
fn spi_count_not_multiple_of_32_stops_at_1019() {
    let mut gic = vgic(1, MAX_SPIS);
    gicd_write(&mut gic, ISENABLER + 4 * 31, u32::MAX);
    assert_eq!(gicd_read(&mut gic, ISENABLER + 4 * 31), 0x0fff_ffff);
    gicd_write(&mut gic, IPRIORITYR + 1016, 0xffff_ffff);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 1016), 0xf8f8_f8f8);
    gicd_write(&mut gic, IPRIORITYR + 1020, 0xffff_ffff);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 1020), 0);
}

#[test]
fn ipriorityr_bytes_and_words() {
    let mut gic = vgic(1, 64);
    gicd_write(&mut gic, IPRIORITYR + 32, 0x8040_2010);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 32), 0x8040_2010);
    // Five bits implemented: the low three read as zero.
    gicd_write(&mut gic, IPRIORITYR + 36, 0xffff_ff07);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 36), 0xf8f8_f800);
    gic.write_distributor(IPRIORITYR + 33, Byte, 0xa7).unwrap();
    assert_eq!(gic.read_distributor(IPRIORITYR + 33, Byte).unwrap(), 0xa0);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 32), 0x8040_a010);
    // Byte writes carry only eight bits.
    gic.write_distributor(IPRIORITYR + 34, Byte, 0xffff_0018)
        .unwrap();
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 32), 0x8018_a010);
    // SGIs/PPIs (INTIDs 0-31) and INTIDs beyond the SPIs are RAZ/WI.
    gicd_write(&mut gic, IPRIORITYR, u32::MAX);
    gic.write_distributor(IPRIORITYR + 31, Byte, 0xff).unwrap();
    gicd_write(&mut gic, IPRIORITYR + 96, u32::MAX);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR), 0);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 28), 0);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 96), 0);
    assert_eq!(gicd_read(&mut gic, IPRIORITYR + 92), 0);
}

#[test]
fn icfgr_keeps_odd_bits_of_spis() {
    let mut gic = vgic(1, 64);
    assert_eq!(
        gicd_read(&mut gic, ICFGR + 8),
        0,
        "SPIs level-sensitive at reset"
    );
    gicd_write(&mut gic, ICFGR + 8, u32::MAX);
    assert_eq!(gicd_read(&mut gic, ICFGR + 8), 0xaaaa_aaaa);
    gicd_write(&mut gic, ICFGR + 12, 0x0000_0008);
    assert_eq!(gicd_read(&mut gic, ICFGR + 12), 0x0000_0008);
    gicd_write(&mut gic, ICFGR + 8, 0x5555_5555);
    assert_eq!(gicd_read(&mut gic, ICFGR + 8), 0);
    // SGI and PPI configuration lives in the Redistributors.
    gicd_write(&mut gic, ICFGR, u32::MAX);
    gicd_write(&mut gic, ICFGR + 4, u32::MAX);
    assert_eq!(gicd_read(&mut gic, ICFGR), 0);
    assert_eq!(gicd_read(&mut gic, ICFGR + 4), 0);
    // INTIDs 96+ do not exist.
    gicd_write(&mut gic, ICFGR + 24, u32::MAX);
    assert_eq!(gicd_read(&mut gic, ICFGR + 24), 0);
}

#[test]
fn raz_wi_arrays() {
    let mut gic = vgic(1, 64);
    for offset in [IGRPMODR + 4, NSACR + 8, ITARGETSR + 32] {
        gicd_write(&mut gic, offset, u32::MAX);
        assert_eq!(gicd_read(&mut gic, offset), 0, "{offset:#x}");
    }
    // ITARGETSR is a byte array.
    gic.write_distributor(ITARGETSR + 33, Byte, 0xff).unwrap();
    assert_eq!(gic.read_distributor(ITARGETSR + 33, Byte).unwrap(), 0);
}

#[test]
fn irouter_reads_back() {
    let mut gic = vgic(2, 64);
    let spi40 = IROUTER + 8 * 40;
    assert_eq!(gic.read_distributor(spi40, Double).unwrap(), 0);
    gic.write_distributor(spi40, Double, 0x0000_0012_0034_5601)
        .unwrap();
    assert_eq!(
        gic.read_distributor(spi40, Double).unwrap(),
        0x0000_0012_0034_5601
    );
    // Reserved bits (30:24 and 63:40) are dropped; IRM (bit 31) is kept.
    gic.write_distributor(spi40, Double, u64::MAX).unwrap();
    assert_eq!(gic.read_distributor(spi40, Double).unwrap(), 0xff_80ff_ffff);
    // 32-bit accesses reach either half.
    gicd_write(&mut gic, spi40, 0x0000_0102);
    assert_eq!(gic.read_distributor(spi40, Double).unwrap(), 0xff_0000_0102);
    gicd_write(&mut gic, spi40 + 4, 0x0000_0003);
    assert_eq!(gicd_read(&mut gic, spi40 + 4), 3);
    assert_eq!(gicd_read(&mut gic, spi40), 0x0102);
    // The neighbours did not change.
    assert_eq!(gic.read_distributor(spi40 - 8, Double).unwrap(), 0);
    assert_eq!(gic.read_distributor(spi40 + 8, Double).unwrap(), 0);
    // IROUTER0-31 do not exist, nor do the ones beyond the VM's SPIs.
    for intid in [0, 31, 96, 1019, 1023] {
        let offset = IROUTER + 8 * intid;
        gic.write_distributor(offset, Double, 0x0101).unwrap();
        assert_eq!(gic.read_distributor(offset, Double).unwrap(), 0, "{intid}");
    }
}

#[test]
fn irouter_to_a_missing_vcpu_is_stored() {
    let mut gic = vgic(2, 32);
    let spi33 = IROUTER + 8 * 33;
    gic.write_distributor(spi33, Double, aff(7, 7)).unwrap();
    assert_eq!(gic.read_distributor(spi33, Double).unwrap(), aff(7, 7));
}

#[test]
fn reserved_locations_are_raz_wi() {
    let mut gic = vgic(1, 64);
    // STATUSR, SETSPI/CLRSPI (no MBIS), SGIR, extended SPI ranges, the gap before
    // IGRPMODR, the other ID registers.
    for offset in [
        0x0010, 0x0040, 0x0048, 0x0050, 0x0058, 0x0d80, 0x0f00, 0x1000, 0x2000, 0x8000, 0xc000,
        0xffd0, 0xffe0, 0xfffc,
    ] {
        gicd_write(&mut gic, offset, u32::MAX);
        assert_eq!(gicd_read(&mut gic, offset), 0, "{offset:#x}");
    }
    // CPENDSGIR/SPENDSGIR are RES0 byte registers with affinity routing.
    gic.write_distributor(0x0f10, Byte, 0xff).unwrap();
    assert_eq!(gic.read_distributor(0x0f21, Byte).unwrap(), 0);
}
