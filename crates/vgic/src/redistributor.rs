//! The GICR frames of each vCPU: RD_base (control, identification, power) and
//! SGI_base (the SGI/PPI register arrays).

use crate::access::{self, RegClass};
use crate::bank::{self, BankReg};
use crate::distributor::{IIDR_VALUE, PIDR2, PIDR2_VALUE};
use crate::{AccessWidth, DeviceError, REDISTRIBUTOR_STRIDE, SGI_FRAME_OFFSET, Vgic};

/// GICR_CTLR: control; RAZ/WI (no LPIs, RWP always 0).
const CTLR: u64 = 0x0000;
/// GICR_IIDR: implementer identification (read-only).
const IIDR: u64 = 0x0004;
/// GICR_TYPER: features and identity (64-bit, read-only).
const TYPER: u64 = 0x0008;
/// One past GICR_TYPER.
const TYPER_END: u64 = TYPER + 8;
/// GICR_WAKER: power management.
const WAKER: u64 = 0x0014;
/// The 64-bit registers of RD_base: GICR_TYPER, then the LPI registers (SETLPIR,
/// CLRLPIR, PROPBASER, PENDBASER, INVLPIR, INVALLR), RAZ/WI without LPIs.
const DOUBLE_REGISTERS: [u64; 7] = [TYPER, 0x0040, 0x0048, 0x0070, 0x0078, 0x00a0, 0x00b0];

/// GICR_TYPER.Last (bit 4): the last Redistributor of the region.
const TYPER_LAST: u64 = 1 << 4;
/// GICR_WAKER.ProcessorSleep (bit 1).
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
/// GICR_WAKER.ChildrenAsleep (bit 2, read-only): follows ProcessorSleep at once.
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

/// Where an access to the Redistributor region lands.
struct Target {
    /// vCPU of the frames.
    vcpu: usize,
    /// Offset in RD_base or SGI_base.
    offset: u64,
    /// In SGI_base rather than RD_base.
    sgi: bool,
}

impl Vgic {
    /// A read of the Redistributor region.
    pub(crate) fn redistributor_read(
        &self,
        offset: u64,
        width: AccessWidth,
    ) -> Result<u64, DeviceError> {
        let target = self.locate(offset, width)?;
        let Some(cpu) = self.cpus.get(target.vcpu) else {
            return Err(DeviceError::NoRegister { offset });
        };
        if target.sgi {
            return Ok(sgi_decode(target.offset)
                .map_or(0, |(reg, rel)| cpu.private.read_bank(reg, rel, width)));
        }
        let value = match target.offset {
            CTLR => 0,
            IIDR => u64::from(IIDR_VALUE),
            TYPER..TYPER_END => {
                access::read_part64(self.gicr_typer(target.vcpu), target.offset, width)
            }
            WAKER if cpu.sleep => u64::from(WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP),
            PIDR2 => u64::from(PIDR2_VALUE),
            // WAKER when awake, the LPI registers and reserved locations.
            _ => 0,
        };
        Ok(value)
    }

    /// A write of the Redistributor region; `value` holds only the bits of `width`.
    pub(crate) fn redistributor_write(
        &mut self,
        offset: u64,
        width: AccessWidth,
        value: u64,
    ) -> Result<(), DeviceError> {
        let target = self.locate(offset, width)?;
        let Some(cpu) = self.cpus.get_mut(target.vcpu) else {
            return Err(DeviceError::NoRegister { offset });
        };
        if target.sgi {
            if let Some((reg, rel)) = sgi_decode(target.offset)
                && cpu.private.write_bank(reg, rel, width, value).mask != 0
            {
                self.kick(target.vcpu);
            }
            return Ok(());
        }
        // Only GICR_WAKER is writable: GICR_CTLR (EnableLPIs) and the LPI registers
        // are RAZ/WI, GICR_IIDR, GICR_TYPER and PIDR2 read-only, the rest reserved.
        if target.offset == WAKER {
            cpu.sleep = value as u32 & WAKER_PROCESSOR_SLEEP != 0;
        }
        Ok(())
    }

    /// GICR_TYPER of `vcpu`: Affinity_Value [63:32] = Aff3.Aff2.Aff1.Aff0,
    /// Processor_Number [23:8] = the vCPU index, Last [4] on the last vCPU; no
    /// LPIs (PLPIS = 0), no virtual LPIs, no extended PPIs.
    fn gicr_typer(&self, vcpu: usize) -> u64 {
        let affinity = self.cpus.get(vcpu).map_or(0, |cpu| cpu.affinity);
        let compressed = ((affinity >> 32) & 0xff) << 24 | (affinity & 0xff_ffff);
        let last = if vcpu + 1 == self.cpus.len() {
            TYPER_LAST
        } else {
            0
        };
        compressed << 32 | ((vcpu as u64) & 0xffff) << 8 | last
    }

    /// Checks an access to the region and finds its frame.
    fn locate(&self, offset: u64, width: AccessWidth) -> Result<Target, DeviceError> {
        let size = (self.cpus.len() as u64).saturating_mul(REDISTRIBUTOR_STRIDE);
        access::check_range(offset, width, size)?;
        access::check_alignment(offset, width)?;
        let vcpu = usize::try_from(offset / REDISTRIBUTOR_STRIDE)
            .map_err(|_| DeviceError::NoRegister { offset })?;
        let in_frames = offset % REDISTRIBUTOR_STRIDE;
        let sgi = in_frames >= SGI_FRAME_OFFSET;
        let frame_offset = in_frames % SGI_FRAME_OFFSET;
        let class = if sgi {
            sgi_decode(frame_offset).map_or(RegClass::Word, |(reg, _)| reg.class())
        } else if DOUBLE_REGISTERS
            .iter()
            .any(|&reg| (reg..reg + 8).contains(&frame_offset))
        {
            RegClass::Double
        } else {
            RegClass::Word
        };
        access::check_width(offset, width, class)?;
        Ok(Target {
            vcpu,
            offset: frame_offset,
            sgi,
        })
    }
}

/// The register array at `offset` in SGI_base, if a Redistributor has it: only the
/// first word of each array (INTIDs 0-31), two words of ICFGR, and no ITARGETSR.
fn sgi_decode(offset: u64) -> Option<(BankReg, u64)> {
    let (reg, rel) = bank::decode(offset)?;
    let size = match reg {
        BankReg::Priority => 32,
        BankReg::Config => 8,
        BankReg::Targets => 0,
        _ => 4,
    };
    (rel < size).then_some((reg, rel))
}
