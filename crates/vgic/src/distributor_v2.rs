//! The GICv2 front end of the model (Arm IHI 0048B, chapter 4): the distributor a
//! GICv2 guest sees, with the SGI and PPI registers banked per vCPU in its first
//! words, SPIs routed by ITARGETSR, SGIs sent through GICD_SGIR, and the SGI
//! source registers. The state behind it is the GICv3 front end's (an `IrqBlock`
//! per vCPU and one for the SPIs): one model, two register maps.
//!
//! The GICv2 without the Security Extensions: GICD_CTLR enables Group 0 (bit 0)
//! and Group 1 (bit 1), each interrupt is forwarded when its group is enabled, and
//! the list register entry carries its group. CPU interface `n` is vCPU `n`; bits of
//! ITARGETSR and GICD_SGIR for CPU interfaces the VM does not have read as zero
//! and are ignored. The frame is 4 KiB; the rest of the window reads as zero.

use crate::access::{self, RegClass};
use crate::bank::{self, BankReg};
use crate::bits::{Flag, IrqBlock};
use crate::distributor::IIDR_VALUE;
use crate::{AccessWidth, DeviceError, SPI_BASE, Vgic};

/// GICD_CTLR, GICD_TYPER, GICD_IIDR.
const CTLR: u64 = 0x000;
const TYPER: u64 = 0x004;
const IIDR: u64 = 0x008;
/// GICD_SGIR (write-only): TargetListFilter [25:24], CPUTargetList [23:16],
/// SGIINTID [3:0].
const SGIR: u64 = 0xf00;
/// GICD_CPENDSGIR<n> and GICD_SPENDSGIR<n>: a byte per SGI, a bit per sender.
const CPENDSGIR: core::ops::Range<u64> = 0xf10..0xf20;
const SPENDSGIR: core::ops::Range<u64> = 0xf20..0xf30;
/// ICPIDR2: ArchRev [7:4] = 2.
const PIDR2: u64 = 0xfe8;
const PIDR2_VALUE: u32 = 0x20;
/// GICD_TYPER.CPUNumber [7:5]: vCPUs - 1.
const TYPER_CPU_SHIFT: u32 = 5;
/// GICD_CTLR: EnableGrp0 and EnableGrp1.
const CTLR_ENABLES: u32 = 0b11;
/// The SGI INTIDs (bits 0-15 of the first one-bit-per-interrupt word).
const SGI_BITS: u32 = 0xffff;
/// Most vCPUs a GICv2 serves (eight CPU interfaces).
pub const MAX_VCPUS_V2: usize = 8;

/// Which vCPUs a GICD_SGIR write sends to.
fn sgir_targets(value: u32, sender: usize, vcpus: usize) -> u8 {
    let all = ((1u16 << vcpus.min(MAX_VCPUS_V2)) - 1) as u8;
    let own = 1u8.checked_shl(sender as u32).unwrap_or(0);
    match (value >> 24) & 0b11 {
        0 => ((value >> 16) as u8) & all,
        1 => all & !own,
        2 => own & all,
        _ => 0,
    }
}

/// The first INTID an access at byte `rel` of array `reg` touches.
fn first_intid(reg: BankReg, rel: u64) -> u64 {
    match reg {
        BankReg::Priority | BankReg::Targets => rel,
        BankReg::Config => rel / 4 * 16,
        _ => rel / 4 * 32,
    }
}

impl Vgic {
    /// Every CPU interface the VM has, as ITARGETSR bits.
    fn interface_mask(&self) -> u8 {
        ((1u16 << self.cpus.len().min(MAX_VCPUS_V2)) - 1) as u8
    }

    /// The state behind array `reg` at `rel` for an access from `vcpu`: its own SGIs
    /// and PPIs in the first words, the SPIs after.
    fn v2_block(&self, vcpu: usize, reg: BankReg, rel: u64) -> Option<&IrqBlock> {
        if first_intid(reg, rel) < u64::from(SPI_BASE) {
            self.cpus.get(vcpu).map(|cpu| &cpu.private)
        } else {
            Some(&self.spi)
        }
    }

    /// A read of the GICv2 distributor from `vcpu`.
    pub(crate) fn distributor_v2_read(
        &self,
        vcpu: usize,
        offset: u64,
        width: AccessWidth,
    ) -> Result<u64, DeviceError> {
        check(offset, width)?;
        let value = match offset {
            CTLR => u64::from(self.ctlr),
            TYPER => {
                let cpus = self.cpus.len().clamp(1, MAX_VCPUS_V2) as u32 - 1;
                u64::from(self.spis.div_ceil(32) | (cpus << TYPER_CPU_SHIFT))
            }
            IIDR => u64::from(IIDR_VALUE),
            PIDR2 => u64::from(PIDR2_VALUE),
            _ if CPENDSGIR.contains(&offset) || SPENDSGIR.contains(&offset) => {
                let first = (offset - CPENDSGIR.start) % 16;
                let sources = self.cpus.get(vcpu).map_or([0; 16], |cpu| cpu.sgi_sources);
                (0..width.bytes()).fold(0, |acc, k| {
                    let byte = sources.get((first + k) as usize).copied().unwrap_or(0);
                    acc | u64::from(byte) << (8 * k)
                })
            }
            _ => match bank::decode(offset) {
                Some((BankReg::Targets, rel)) => self.read_targets(vcpu, rel, width),
                Some((BankReg::GroupModifier | BankReg::NonSecureAccess, _)) | None => 0,
                Some((reg, rel)) => self
                    .v2_block(vcpu, reg, rel)
                    .map_or(0, |block| block.read_bank(reg, rel, width)),
            },
        };
        Ok(value)
    }

    /// A write of the GICv2 distributor from `vcpu`; `value` holds only the bits of
    /// `width`.
    pub(crate) fn distributor_v2_write(
        &mut self,
        vcpu: usize,
        offset: u64,
        width: AccessWidth,
        value: u64,
    ) -> Result<(), DeviceError> {
        check(offset, width)?;
        match offset {
            CTLR => self.write_ctlr_v2(value as u32),
            SGIR => self.send_sgi_v2(vcpu, value as u32),
            _ if SPENDSGIR.contains(&offset) => {
                self.write_sgi_sources(vcpu, offset - SPENDSGIR.start, width, value, true);
            }
            _ if CPENDSGIR.contains(&offset) => {
                self.write_sgi_sources(vcpu, offset - CPENDSGIR.start, width, value, false);
            }
            _ => match bank::decode(offset) {
                Some((BankReg::Targets, rel)) => self.write_targets(rel, width, value),
                Some((BankReg::GroupModifier | BankReg::NonSecureAccess, _)) | None => {}
                Some((reg, rel)) => self.write_bank_v2(vcpu, reg, rel, width, value),
            },
        }
        Ok(())
    }

    /// A write of a per-interrupt array: `vcpu`'s banked SGIs and PPIs (whose SGI
    /// pending bits are read-only here: GICD_SPENDSGIR sets them) or the SPIs.
    fn write_bank_v2(
        &mut self,
        vcpu: usize,
        reg: BankReg,
        rel: u64,
        width: AccessWidth,
        value: u64,
    ) {
        if first_intid(reg, rel) >= u64::from(SPI_BASE) {
            let ready = self.spi.write_bank(reg, rel, width, value);
            self.kick_ready_spis(ready);
            return;
        }
        let value = match reg {
            BankReg::SetPending | BankReg::ClearPending => value & !u64::from(SGI_BITS),
            _ => value,
        };
        if let Some(cpu) = self.cpus.get_mut(vcpu)
            && cpu.private.write_bank(reg, rel, width, value).mask != 0
        {
            self.kick(vcpu);
        }
    }

    /// GICD_CTLR: both group enables stored; a group turned on kicks the targets of
    /// its pending, enabled SPIs.
    fn write_ctlr_v2(&mut self, value: u32) {
        let before = self.ctlr;
        self.ctlr = value & CTLR_ENABLES;
        if self.ctlr & !before != 0 {
            self.kick_all_ready_spis();
        }
    }

    /// ITARGETSR bytes from `rel`: an SGI's or PPI's reads the reading vCPU's own
    /// interface, an SPI's its targets.
    fn read_targets(&self, vcpu: usize, rel: u64, width: AccessWidth) -> u64 {
        (0..width.bytes()).fold(0, |acc, k| {
            let intid = rel + k;
            let byte = if intid < u64::from(SPI_BASE) {
                1u8.checked_shl(vcpu as u32).unwrap_or(0)
            } else {
                self.spi_targets(intid as u32).unwrap_or(0)
            };
            acc | u64::from(byte) << (8 * k)
        })
    }

    /// ITARGETSR bytes from `rel` for SPIs (those of SGIs and PPIs are read-only):
    /// a pending, enabled SPI whose target changes kicks its new target.
    fn write_targets(&mut self, rel: u64, width: AccessWidth, value: u64) {
        let mask = self.interface_mask();
        for k in 0..width.bytes() {
            let Ok(intid) = u32::try_from(rel + k) else {
                continue;
            };
            let Some(index) = intid.checked_sub(SPI_BASE) else {
                continue;
            };
            let before = self.spi_delivery_target(intid);
            if let Some(slot) = self.targets.get_mut(index as usize) {
                *slot = (value >> (8 * k)) as u8 & mask;
            }
            let after = self.spi_delivery_target(intid);
            if let Some(target) = after
                && before != after
            {
                self.kick(target);
            }
        }
    }

    /// The ITARGETSR byte of SPI `intid`, if the VM has it.
    pub(crate) fn spi_targets(&self, intid: u32) -> Option<u8> {
        let index = intid.checked_sub(SPI_BASE)?;
        self.targets.get(index as usize).copied()
    }

    /// GICD_SGIR from `sender`: SGI `value[3:0]` pending on each target, from `sender`.
    fn send_sgi_v2(&mut self, sender: usize, value: u32) {
        let intid = value & 0xf;
        let targets = sgir_targets(value, sender, self.cpus.len());
        let from = 1u8.checked_shl(sender as u32).unwrap_or(0);
        for vcpu in 0..self.cpus.len().min(MAX_VCPUS_V2) {
            if targets & (1 << vcpu) == 0 {
                continue;
            }
            if let Some(cpu) = self.cpus.get_mut(vcpu) {
                if let Some(sources) = cpu.sgi_sources.get_mut(intid as usize) {
                    *sources |= from;
                }
                cpu.private.set_flag(Flag::Pending, intid, true);
            }
            self.kick(vcpu);
        }
    }

    /// GICD_SPENDSGIR (`set`) or GICD_CPENDSGIR bytes from `first` (SGI numbers) for
    /// `vcpu`: senders' bits set or cleared; an SGI stays pending while a sender's is.
    fn write_sgi_sources(
        &mut self,
        vcpu: usize,
        first: u64,
        width: AccessWidth,
        value: u64,
        set: bool,
    ) {
        let mask = self.interface_mask();
        let Some(cpu) = self.cpus.get_mut(vcpu) else {
            return;
        };
        let mut raised = false;
        for k in 0..width.bytes() {
            let intid = (first + k) as u32;
            let Some(sources) = cpu.sgi_sources.get_mut(intid as usize) else {
                continue;
            };
            let bits = (value >> (8 * k)) as u8 & mask;
            if set {
                *sources |= bits;
                raised |= bits != 0;
            } else {
                *sources &= !bits;
            }
            let pending = *sources != 0;
            cpu.private.set_flag(Flag::Pending, intid, pending);
        }
        if raised {
            self.kick(vcpu);
        }
    }
}

/// Checks an access to the GICv2 distributor window.
fn check(offset: u64, width: AccessWidth) -> Result<(), DeviceError> {
    access::check_range(offset, width, crate::DISTRIBUTOR_SIZE)?;
    access::check_alignment(offset, width)?;
    let class = match bank::decode(offset) {
        Some((reg, _)) => reg.class(),
        _ if CPENDSGIR.contains(&offset) || SPENDSGIR.contains(&offset) => RegClass::Bytes,
        _ => RegClass::Word,
    };
    if width == AccessWidth::Double {
        return Err(DeviceError::BadWidth { offset, width });
    }
    access::check_width(offset, width, class)
}
