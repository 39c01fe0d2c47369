//! Tests of the GIC model, one file per area (`v2`: the GICv2 front end).

mod accesses;
mod delivery;
mod distributor;
mod redistributor;
mod sgi;
mod v2;

use crate::AccessWidth::Word;
use crate::*;

/// GICD_CTLR.
const GICD_CTLR: u64 = 0x0000;
/// GICD_TYPER.
const GICD_TYPER: u64 = 0x0004;
/// GICD_IIDR.
const GICD_IIDR: u64 = 0x0008;
/// GICD_TYPER2.
const GICD_TYPER2: u64 = 0x000c;
/// GICD_IGROUPR<n>.
const IGROUPR: u64 = 0x0080;
/// GICD_ISENABLER<n>.
const ISENABLER: u64 = 0x0100;
/// GICD_ICENABLER<n>.
const ICENABLER: u64 = 0x0180;
/// GICD_ISPENDR<n>.
const ISPENDR: u64 = 0x0200;
/// GICD_ICPENDR<n>.
const ICPENDR: u64 = 0x0280;
/// GICD_ISACTIVER<n>.
const ISACTIVER: u64 = 0x0300;
/// GICD_ICACTIVER<n>.
const ICACTIVER: u64 = 0x0380;
/// GICD_IPRIORITYR<n>.
const IPRIORITYR: u64 = 0x0400;
/// GICD_ITARGETSR<n>.
const ITARGETSR: u64 = 0x0800;
/// GICD_ICFGR<n>.
const ICFGR: u64 = 0x0c00;
/// GICD_IGRPMODR<n>.
const IGRPMODR: u64 = 0x0d00;
/// GICD_NSACR<n>.
const NSACR: u64 = 0x0e00;
/// GICD_IROUTER<n>.
const IROUTER: u64 = 0x6000;
/// GICD_PIDR2 / GICR_PIDR2.
const PIDR2: u64 = 0xffe8;

/// GICR_CTLR.
const GICR_CTLR: u64 = 0x0000;
/// GICR_IIDR.
const GICR_IIDR: u64 = 0x0004;
/// GICR_TYPER.
const GICR_TYPER: u64 = 0x0008;
/// GICR_WAKER.
const GICR_WAKER: u64 = 0x0014;

/// GICD_CTLR.EnableGrp1.
const ENABLE_GRP1: u32 = 1 << 1;

/// Affinity 0.0.`aff1`.`aff0`.
const fn aff(aff1: u64, aff0: u64) -> u64 {
    aff1 << 8 | aff0
}

/// A GIC for `vcpus` vCPUs with affinities 0.0.0.0, 0.0.0.1, ... and `spis` SPIs.
fn vgic(vcpus: usize, spis: u32) -> Vgic {
    Vgic::new((0..vcpus as u64).collect(), spis)
}

fn gicd_read(gic: &mut Vgic, offset: u64) -> u32 {
    gic.read_distributor(offset, Word).unwrap() as u32
}

fn gicd_write(gic: &mut Vgic, offset: u64, value: u32) {
    gic.write_distributor(offset, Word, value.into()).unwrap();
}

/// Offset of `offset` in RD_base of `vcpu` in the Redistributor region.
fn rd(vcpu: usize, offset: u64) -> u64 {
    vcpu as u64 * REDISTRIBUTOR_STRIDE + offset
}

/// Offset of `offset` in SGI_base of `vcpu` in the Redistributor region.
fn sgi(vcpu: usize, offset: u64) -> u64 {
    rd(vcpu, SGI_FRAME_OFFSET + offset)
}

fn gicr_read(gic: &mut Vgic, offset: u64) -> u32 {
    gic.read_redistributor(offset, Word).unwrap() as u32
}

fn gicr_write(gic: &mut Vgic, offset: u64, value: u32) {
    gic.write_redistributor(offset, Word, value.into()).unwrap();
}

/// What Linux does at boot: every interrupt Group 1 at priority 0xa0, Group 1
/// forwarding on, every Redistributor awake.
fn linux_setup(gic: &mut Vgic) {
    let words = gic.spi_count().div_ceil(32);
    for word in 1..=u64::from(words) {
        gicd_write(gic, IGROUPR + 4 * word, u32::MAX);
    }
    for intid in u64::from(SPI_BASE)..u64::from(SPI_BASE + gic.spi_count()) {
        gic.write_distributor(IPRIORITYR + intid, AccessWidth::Byte, 0xa0)
            .unwrap();
    }
    for vcpu in 0..gic.vcpu_count() {
        gicr_write(gic, rd(vcpu, GICR_WAKER), 0);
        gicr_write(gic, sgi(vcpu, IGROUPR), u32::MAX);
        for word in 0..8 {
            gicr_write(gic, sgi(vcpu, IPRIORITYR + 4 * word), 0xa0a0_a0a0);
        }
    }
    gicd_write(gic, GICD_CTLR, ENABLE_GRP1);
}
