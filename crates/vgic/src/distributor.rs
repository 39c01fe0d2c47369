//! The GICD frame: global control, identification, the SPI register arrays and
//! GICD_IROUTER.

use crate::access::{self, RegClass};
use crate::bank;
use crate::{AccessWidth, DISTRIBUTOR_SIZE, DeviceError, SPI_BASE, Vgic};

/// GICD_CTLR: control.
const CTLR: u64 = 0x0000;
/// GICD_TYPER: features (read-only).
const TYPER: u64 = 0x0004;
/// GICD_IIDR: implementer identification (read-only).
const IIDR: u64 = 0x0008;
/// GICD_TYPER2: more features (read-only, zero).
const TYPER2: u64 = 0x000c;
/// GICD_IROUTER<n> at `IROUTER + 8 * n`; only n = 32..=1019 exist.
const IROUTER: u64 = 0x6000;
/// One past the last GICD_IROUTER slot.
const IROUTER_END: u64 = 0x8000;
/// GICD_CPENDSGIR<n> and GICD_SPENDSGIR<n>: byte registers, RES0 with affinity routing.
const PENDSGIR: core::ops::Range<u64> = 0x0f10..0x0f30;
/// GICD_PIDR2 (and GICR_PIDR2): peripheral ID 2.
pub(crate) const PIDR2: u64 = 0xffe8;

/// GICD_CTLR.EnableGrp0 (bit 0).
pub(crate) const CTLR_ENABLE_GRP0: u32 = 1 << 0;
/// GICD_CTLR.EnableGrp1 (bit 1; EnableGrp1NS in the two-Security-state view).
pub(crate) const CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// GICD_CTLR.ARE (bit 4): affinity routing, always on.
const CTLR_ARE: u32 = 1 << 4;
/// GICD_CTLR.DS (bit 6): a single Security state.
const CTLR_DS: u32 = 1 << 6;

/// GICD_TYPER.IDbits [23:19]: INTIDs have 10 bits (the field holds bits - 1).
const TYPER_IDBITS: u32 = 9 << 19;
/// GICD_TYPER.A3V (bit 24): non-zero Aff3 values are supported.
const TYPER_A3V: u32 = 1 << 24;
/// GICD_TYPER.RSS (bit 26): SGIs can target Aff0 values 0-255 (ICC_SGI1R_EL1.RS).
const TYPER_RSS: u32 = 1 << 26;

/// GICD_IIDR and GICR_IIDR: ProductID [31:24] 0x54 ('T' for Tessera), Variant and
/// Revision 0, Implementer [11:0] 0 (Tessera has no JEP106 code; no erratum
/// workaround keyed on an implementer can match).
pub(crate) const IIDR_VALUE: u32 = 0x5400_0000;
/// GICD_PIDR2 and GICR_PIDR2: ArchRev [7:4] = 3 for GICv3; the other ID registers
/// are implementation defined and read as zero.
pub(crate) const PIDR2_VALUE: u32 = 0x30;

/// GICD_IROUTER writable bits: Aff0-Aff2 [23:0], Interrupt_Routing_Mode [31], Aff3 [39:32].
pub(crate) const IROUTER_MASK: u64 = 0xff_80ff_ffff;
/// GICD_IROUTER.Interrupt_Routing_Mode (bit 31): 1-of-N routing.
pub(crate) const IROUTER_IRM: u64 = 1 << 31;

impl Vgic {
    /// A read of the GICD frame.
    pub(crate) fn distributor_read(
        &self,
        offset: u64,
        width: AccessWidth,
    ) -> Result<u64, DeviceError> {
        check(offset, width)?;
        let value = match offset {
            CTLR => u64::from(self.ctlr | CTLR_ARE | CTLR_DS),
            TYPER => u64::from(self.typer()),
            IIDR => u64::from(IIDR_VALUE),
            PIDR2 => u64::from(PIDR2_VALUE),
            IROUTER..IROUTER_END => {
                let reg = irouter_intid(offset)
                    .and_then(|intid| self.irouter_of(intid))
                    .unwrap_or(0);
                access::read_part64(reg, offset, width)
            }
            _ => bank::decode(offset).map_or(0, |(reg, rel)| self.spi.read_bank(reg, rel, width)),
        };
        Ok(value)
    }

    /// A write of the GICD frame; `value` holds only the bits of `width`.
    pub(crate) fn distributor_write(
        &mut self,
        offset: u64,
        width: AccessWidth,
        value: u64,
    ) -> Result<(), DeviceError> {
        check(offset, width)?;
        match offset {
            CTLR => self.write_ctlr(value as u32),
            IROUTER..IROUTER_END => {
                if let Some(intid) = irouter_intid(offset) {
                    self.write_irouter(intid, offset, width, value);
                }
            }
            // GICD_TYPER, GICD_IIDR, GICD_TYPER2, PIDR2 are read-only: writes are ignored.
            TYPER | IIDR | TYPER2 | PIDR2 => {}
            _ => {
                if let Some((reg, rel)) = bank::decode(offset) {
                    let ready = self.spi.write_bank(reg, rel, width, value);
                    self.kick_ready_spis(ready);
                }
            }
        }
        Ok(())
    }

    /// GICD_TYPER: ITLinesNumber [4:0] = SPIs / 32, CPUNumber 0 (affinity routing),
    /// no security extension, LPIs or message-based SPIs; 10 INTID bits, Aff3 and
    /// range selector supported, 1-of-N routing supported (No1N = 0).
    fn typer(&self) -> u32 {
        self.spis.div_ceil(32) | TYPER_IDBITS | TYPER_A3V | TYPER_RSS
    }

    /// GICD_CTLR: EnableGrp0 and EnableGrp1 are stored; turning Group 1 on kicks
    /// the targets of pending, enabled SPIs.
    fn write_ctlr(&mut self, value: u32) {
        let was_forwarding = self.spis_forwarded();
        self.ctlr = value & (CTLR_ENABLE_GRP0 | CTLR_ENABLE_GRP1);
        if !was_forwarding && self.spis_forwarded() {
            self.kick_all_ready_spis();
        }
    }

    /// GICD_IROUTER of SPI `intid`, if the VM has it.
    pub(crate) fn irouter_of(&self, intid: u32) -> Option<u64> {
        let index = intid.checked_sub(SPI_BASE)?;
        self.irouter.get(index as usize).copied()
    }

    /// A write of (half of) GICD_IROUTER of `intid`; an SPI the VM does not have
    /// ignores it. A pending, enabled SPI moved to another vCPU kicks that vCPU.
    fn write_irouter(&mut self, intid: u32, offset: u64, width: AccessWidth, value: u64) {
        let Some(old) = self.irouter_of(intid) else {
            return;
        };
        let before = self.spi_delivery_target(intid);
        let new = access::merge_part64(old, offset, width, value) & IROUTER_MASK;
        if let Some(slot) = intid
            .checked_sub(SPI_BASE)
            .and_then(|index| self.irouter.get_mut(index as usize))
        {
            *slot = new;
        }
        let after = self.spi_delivery_target(intid);
        if let Some(vcpu) = after
            && before != after
        {
            self.kick(vcpu);
        }
    }
}

/// The INTID whose GICD_IROUTER is at `offset` (in the IROUTER range).
fn irouter_intid(offset: u64) -> Option<u32> {
    u32::try_from(offset.checked_sub(IROUTER)? / 8).ok()
}

/// Checks an access to the GICD frame.
fn check(offset: u64, width: AccessWidth) -> Result<(), DeviceError> {
    access::check_range(offset, width, DISTRIBUTOR_SIZE)?;
    access::check_alignment(offset, width)?;
    let class = if let Some((reg, _)) = bank::decode(offset) {
        reg.class()
    } else if (IROUTER..IROUTER_END).contains(&offset) {
        RegClass::Double
    } else if PENDSGIR.contains(&offset) {
        RegClass::Bytes
    } else {
        RegClass::Word
    };
    access::check_width(offset, width, class)
}
