//! The register model of an emulated GICv3 Distributor and Redistributors for one VM,
//! or of a GICv2 distributor (`Vgic::new_v2`, `distributor_v2`: the same state behind
//! the GICv2 register map; the guest's GICv2 CPU interface is the hardware's virtual
//! one).
//!
//! Written from the GICv3 architecture specification (Arm IHI 0069). The
//! hypervisor traps the guest's accesses to the GICD frame (64 KiB) and to the
//! GICR frames (128 KiB per vCPU: RD_base, then SGI_base) and forwards them to
//! [`Vgic`]; it fills the hardware list registers from [`Vgic::take_pending`].
//!
//! The model is the one a guest sees on a GIC with a single Security state:
//!
//! * Affinity routing is always on: GICD_CTLR.ARE and GICD_CTLR.DS read as 1 and
//!   ignore writes, so the Distributor's SGI/PPI registers and ITARGETSR are RAZ/WI
//!   and SGIs/PPIs live in the Redistributors.
//! * IGROUPR bits are stored and read back, but every interrupt is treated as
//!   Group 1: an SPI is forwarded when GICD_CTLR.EnableGrp1 (bit 1) is set whatever
//!   its group, and an SGI or PPI when its Redistributor enable bit is set.
//!   IGRPMODR and NSACR are RAZ/WI, as the specification requires with DS=1.
//! * Five bits of priority are implemented: the low three bits of IPRIORITYR bytes
//!   read as zero.
//! * The active bits (ISACTIVER/ICACTIVER) are stored and read back only. The real
//!   active state lives in the hardware list registers and is not reflected here;
//!   [`Vgic::take_pending`] does not look at the stored active bits.
//! * Pending is a latch or a line. [`Vgic::raise`] or a write to ISPENDR sets the
//!   latch, [`Vgic::take_pending`] or a write to ICPENDR clears it. A device drives
//!   its line with [`Vgic::set_level`]: a level-sensitive interrupt is pending while
//!   its line is high (ICPENDR and handing it to the guest clear only the latch, as
//!   GICv3 specifies), a rising line latches an edge-triggered one. Lines are the
//!   devices' outputs: a GIC reset keeps the SPIs' lines and drops the PPIs' (their
//!   sources, the vCPUs' timers, are reset with the VM).
//! * No LPIs, no ITS, no extended SPI or PPI ranges, no message-based SPIs.
//! * GICR_WAKER.ProcessorSleep is stored; it does not hold interrupts back.
//! * GICD_IIDR and GICR_IIDR read 0x5400_0000: ProductID 0x54 ('T' for Tessera),
//!   Implementer 0 (no JEP106 code), so no erratum workaround keyed on a real
//!   implementation matches. PIDR2 reads 0x30 (ArchRev 3); the other ID registers
//!   read as zero.
//! * At most [`MAX_VCPUS`] vCPUs, so that sets of vCPUs fit in a `u64` mask.
//!
//! Guest accesses never panic: an access outside a frame, misaligned or with a
//! width the register does not take comes back as a [`DeviceError`]. Reserved
//! locations read as zero and ignore writes, and so do writes to read-only
//! registers (GICD_TYPER, GICD_IIDR, PIDR2, GICR_TYPER, GICR ICFGR0, ...), as the
//! architecture specifies.
//!
//! Access rules: 32-bit accesses everywhere; 8-bit accesses to the byte arrays
//! (IPRIORITYR, ITARGETSR, CPENDSGIR, SPENDSGIR); 64-bit accesses, or 32-bit
//! accesses to either half, to the 64-bit registers (GICD_IROUTER, GICR_TYPER and
//! the LPI registers of RD_base); never 16-bit; always naturally aligned.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unimplemented,
    clippy::todo,
    clippy::indexing_slicing
)]

extern crate alloc;

mod access;
mod bank;
mod bits;
mod delivery;
mod distributor;
mod distributor_v2;
mod redistributor;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use core::fmt;

pub use tessera_vdev::{AccessWidth, DeviceError};

use crate::bits::IrqBlock;
pub use distributor_v2::MAX_VCPUS_V2;

/// Size of the GICD frame.
pub const DISTRIBUTOR_SIZE: u64 = 0x1_0000;
/// Size of the frames of one vCPU's Redistributor: RD_base, then SGI_base.
pub const REDISTRIBUTOR_STRIDE: u64 = 0x2_0000;
/// Offset of the SGI_base frame in a Redistributor.
pub const SGI_FRAME_OFFSET: u64 = 0x1_0000;

/// First SGI INTID.
pub const SGI_BASE: u32 = 0;
/// First PPI INTID.
pub const PPI_BASE: u32 = 16;
/// First SPI INTID.
pub const SPI_BASE: u32 = 32;
/// Most SPIs a VM can have (INTIDs 32-1019).
pub const MAX_SPIS: u32 = 988;
/// Most vCPUs a [`Vgic`] serves (vCPU sets are 64-bit masks).
pub const MAX_VCPUS: usize = 64;

/// Every vCPU, as a mask.
const ALL_VCPUS: u64 = u64::MAX;

/// The affinity fields of an MPIDR_EL1 value: Aff3 [39:32], Aff2 [23:16],
/// Aff1 [15:8], Aff0 [7:0]. GICD_IROUTER uses the same layout.
const AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// An interrupt [`Vgic::take_pending`] hands to the hypervisor for a list register.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct PendingIrq {
    /// The INTID.
    pub intid: u32,
    /// Its priority (the low three bits are always zero).
    pub priority: u8,
    /// Its group: Group 1 on a GICv3 (every interrupt is treated as Group 1),
    /// IGROUPR's bit on a GICv2.
    pub group1: bool,
    /// For an SGI of a GICv2, the vCPU that sent it; 0 otherwise.
    pub source: u8,
}

/// Which GIC architecture a [`Vgic`] shows its guest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GicVersion {
    /// Distributor and Redistributors, affinity routing, system register CPU interface.
    V3,
    /// Distributor with banked private interrupts and ITARGETSR; memory-mapped CPU
    /// interface.
    V2,
}

/// Why [`Vgic`] refused a request from the hypervisor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VgicError {
    /// The VM has no interrupt with this INTID.
    NoSuchInterrupt(u32),
    /// The VM has no vCPU with this index.
    NoSuchVcpu(usize),
}

impl fmt::Display for VgicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchInterrupt(intid) => write!(f, "the VM has no interrupt {intid}"),
            Self::NoSuchVcpu(vcpu) => write!(f, "the VM has no vCPU {vcpu}"),
        }
    }
}

impl core::error::Error for VgicError {}

/// The Redistributor of one vCPU.
#[derive(Clone, Debug)]
pub(crate) struct Redistributor {
    /// MPIDR_EL1 affinity fields of the vCPU ([`AFFINITY_MASK`] layout).
    pub(crate) affinity: u64,
    /// SGIs and PPIs (INTIDs 0-31).
    pub(crate) private: IrqBlock,
    /// GICR_WAKER.ProcessorSleep.
    pub(crate) sleep: bool,
    /// GICv2: by SGI, the vCPUs (bit per vCPU) it is pending from.
    pub(crate) sgi_sources: [u8; 16],
}

impl Redistributor {
    fn new(affinity: u64) -> Self {
        Self {
            affinity,
            private: IrqBlock::new(SGI_BASE, SPI_BASE, PPI_BASE),
            sleep: true,
            sgi_sources: [0; 16],
        }
    }
}

/// The emulated GICv3 of one VM: a Distributor and one Redistributor per vCPU.
#[derive(Clone, Debug)]
pub struct Vgic {
    /// The register map the guest sees.
    version: GicVersion,
    /// GICD_CTLR.EnableGrp0 and EnableGrp1.
    ctlr: u32,
    /// Number of SPIs.
    spis: u32,
    /// SPIs (INTIDs `SPI_BASE..SPI_BASE + spis`).
    spi: IrqBlock,
    /// GICD_IROUTER of each SPI, indexed by INTID - [`SPI_BASE`].
    irouter: Vec<u64>,
    /// GICv2: GICD_ITARGETSR of each SPI, indexed by INTID - [`SPI_BASE`].
    targets: Vec<u8>,
    /// One Redistributor per vCPU, indexed by vCPU.
    cpus: Vec<Redistributor>,
    /// vCPUs to kick (see [`Vgic::take_kicks`]).
    kicks: u64,
    /// vCPUs whose deliverable interrupts may have changed (see [`Vgic::take_fresh`]).
    fresh: u64,
}

impl Vgic {
    /// A GIC in its power-on state for vCPUs with the given MPIDR_EL1 affinities
    /// (Aff3.Aff2.Aff1.Aff0 as in MPIDR bits [39:32] and [23:0]; other bits are
    /// ignored), indexed by vCPU, and `spis` SPIs.
    ///
    /// `spis` is rounded up to a multiple of 32 and capped at [`MAX_SPIS`].
    /// Affinities beyond the first [`MAX_VCPUS`] are dropped.
    pub fn new(vcpu_affinities: Vec<u64>, spis: u32) -> Self {
        let spis = (spis.min(MAX_SPIS).div_ceil(32) * 32).min(MAX_SPIS);
        let cpus = vcpu_affinities
            .into_iter()
            .take(MAX_VCPUS)
            .map(|affinity| Redistributor::new(affinity & AFFINITY_MASK))
            .collect();
        Self {
            version: GicVersion::V3,
            ctlr: 0,
            spis,
            spi: IrqBlock::new(SPI_BASE, SPI_BASE + spis, 0),
            irouter: alloc::vec![0; spis as usize],
            targets: alloc::vec![0; spis as usize],
            cpus,
            kicks: 0,
            fresh: ALL_VCPUS,
        }
    }

    /// A GICv2 distributor in its power-on state for `vcpus` vCPUs (CPU interface
    /// `n` is vCPU `n`; at most [`MAX_VCPUS_V2`]) and `spis` SPIs (as for [`Vgic::new`]).
    pub fn new_v2(vcpus: usize, spis: u32) -> Self {
        let vcpus = vcpus.min(MAX_VCPUS_V2) as u64;
        Self {
            version: GicVersion::V2,
            ..Self::new((0..vcpus).collect(), spis)
        }
    }

    /// The register map the guest sees.
    pub fn version(&self) -> GicVersion {
        self.version
    }

    /// Number of vCPUs.
    pub fn vcpu_count(&self) -> usize {
        self.cpus.len()
    }

    /// Number of SPIs (a multiple of 32, or [`MAX_SPIS`]).
    pub fn spi_count(&self) -> u32 {
        self.spis
    }

    /// A guest read of `width` at `offset` in the GICD frame (as vCPU 0 where a
    /// GICv2 banks registers).
    pub fn read_distributor(
        &mut self,
        offset: u64,
        width: AccessWidth,
    ) -> Result<u64, DeviceError> {
        self.read_distributor_from(0, offset, width)
    }

    /// A guest write of the low `width` bits of `value` at `offset` in the GICD frame
    /// (as vCPU 0 where a GICv2 banks registers).
    pub fn write_distributor(
        &mut self,
        offset: u64,
        width: AccessWidth,
        value: u64,
    ) -> Result<(), DeviceError> {
        self.write_distributor_from(0, offset, width, value)
    }

    /// A read of the GICD frame by vCPU `vcpu`, which a GICv2's banked SGI and PPI
    /// registers answer for (a GICv3 has them in the Redistributors).
    pub fn read_distributor_from(
        &mut self,
        vcpu: usize,
        offset: u64,
        width: AccessWidth,
    ) -> Result<u64, DeviceError> {
        match self.version {
            GicVersion::V3 => self.distributor_read(offset, width),
            GicVersion::V2 => self.distributor_v2_read(vcpu, offset, width),
        }
    }

    /// A write of the GICD frame by vCPU `vcpu` (see [`Vgic::read_distributor_from`]).
    pub fn write_distributor_from(
        &mut self,
        vcpu: usize,
        offset: u64,
        width: AccessWidth,
        value: u64,
    ) -> Result<(), DeviceError> {
        self.fresh = ALL_VCPUS;
        let value = value & width.mask();
        match self.version {
            GicVersion::V3 => self.distributor_write(offset, width, value),
            GicVersion::V2 => self.distributor_v2_write(vcpu, offset, width, value),
        }
    }

    /// A guest read of `width` at `offset` from the start of the whole
    /// Redistributor region (vCPU `i`'s frames at `i * REDISTRIBUTOR_STRIDE`).
    pub fn read_redistributor(
        &mut self,
        offset: u64,
        width: AccessWidth,
    ) -> Result<u64, DeviceError> {
        self.redistributor_read(offset, width)
    }

    /// A guest write of the low `width` bits of `value` at `offset` from the start
    /// of the whole Redistributor region.
    pub fn write_redistributor(
        &mut self,
        offset: u64,
        width: AccessWidth,
        value: u64,
    ) -> Result<(), DeviceError> {
        self.fresh = ALL_VCPUS;
        self.redistributor_write(offset, width, value & width.mask())
    }

    /// Bitmask of the vCPUs that got newly deliverable interrupts since the last
    /// call, and clears it. Writes to ISPENDR and ISENABLER, enabling Group 1 in
    /// GICD_CTLR, rerouting a pending SPI through GICD_IROUTER, and
    /// [`Vgic::raise`] of an SPI record kicks; the hypervisor kicks those vCPUs so
    /// that they refill their list registers. ([`Vgic::send_sgi`] returns its
    /// targets instead, and a raised SGI or PPI goes to the vCPU the caller named.)
    pub fn take_kicks(&mut self) -> u64 {
        core::mem::take(&mut self.kicks)
    }

    /// Bitmask of the vCPUs whose deliverable interrupts may have changed since the
    /// last call, and clears it: a vCPU not in it has nothing to take that the last
    /// [`Vgic::take_pending`] left behind, so its entry need not look. Every raise,
    /// SGI, kick and guest register write marks the vCPUs it concerns (a register
    /// write all of them); withdrawing a pending interrupt marks none.
    pub fn take_fresh(&mut self) -> u64 {
        core::mem::take(&mut self.fresh)
    }

    /// Whether the guest enabled `intid` for `vcpu`: an SGI or PPI in `vcpu`'s
    /// Redistributor, an SPI in the Distributor (wherever it is routed). False for
    /// a vCPU or an INTID the VM does not have.
    pub fn is_enabled(&self, vcpu: usize, intid: u32) -> bool {
        let Some(cpu) = self.cpus.get(vcpu) else {
            return false;
        };
        if intid < SPI_BASE {
            cpu.private.flag(bits::Flag::Enabled, intid)
        } else {
            self.spi.flag(bits::Flag::Enabled, intid)
        }
    }

    /// Returns to the power-on state (VM reset): everything disabled, idle, Group 0,
    /// priority 0, level-sensitive SPIs and PPIs, SPIs routed to affinity 0.0.0.0,
    /// Redistributors asleep, no kicks; the SPIs' input lines stay as the devices drive them.
    pub fn reset(&mut self) {
        let affinities = self.cpus.iter().map(|cpu| cpu.affinity).collect();
        let lines = self.spi.clone();
        *self = Self {
            version: self.version,
            ..Self::new(affinities, self.spis)
        };
        self.spi.keep_lines_of(&lines);
    }

    /// Records that `vcpu` has something new to take.
    fn kick(&mut self, vcpu: usize) {
        if vcpu < MAX_VCPUS {
            self.kicks |= 1 << vcpu;
        }
        self.refresh(vcpu);
    }

    /// Records that `vcpu`'s deliverable interrupts may have changed.
    fn refresh(&mut self, vcpu: usize) {
        if vcpu < MAX_VCPUS {
            self.fresh |= 1 << vcpu;
        }
    }
}
