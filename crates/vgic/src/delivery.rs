//! The hypervisor's side: raising interrupts, SGIs, SPI routing, and choosing what
//! goes into a vCPU's list registers.

use crate::bank::NewlyReady;
use crate::bits::{Flag, IrqBlock, set_bit_indices};
use crate::distributor::{CTLR_ENABLE_GRP0, CTLR_ENABLE_GRP1, IROUTER_IRM};
use crate::{AFFINITY_MASK, GicVersion, PendingIrq, SPI_BASE, Vgic, VgicError};

/// ICC_SGI1R_EL1.TargetList [15:0].
const SGI1R_TARGET_LIST: u64 = 0xffff;
/// ICC_SGI1R_EL1.Aff1 [23:16].
const SGI1R_AFF1_SHIFT: u32 = 16;
/// ICC_SGI1R_EL1.INTID [27:24].
const SGI1R_INTID_SHIFT: u32 = 24;
/// ICC_SGI1R_EL1.Aff2 [39:32].
const SGI1R_AFF2_SHIFT: u32 = 32;
/// ICC_SGI1R_EL1.IRM (bit 40): every PE but the sender.
const SGI1R_IRM: u64 = 1 << 40;
/// ICC_SGI1R_EL1.RS [47:44]: TargetList bit `n` is Aff0 `16 * RS + n`.
const SGI1R_RS_SHIFT: u32 = 44;
/// ICC_SGI1R_EL1.Aff3 [55:48].
const SGI1R_AFF3_SHIFT: u32 = 48;

impl Vgic {
    /// Makes `intid` pending: an SGI or PPI (INTIDs 0-31) on `vcpu`, an SPI on the
    /// vCPU its GICD_IROUTER names (`vcpu` is then unused; 1-of-N routing picks
    /// the lowest-index vCPU). The caller cannot know where an SPI goes, so the
    /// vCPU a raised SPI becomes deliverable to is recorded for
    /// [`Vgic::take_kicks`]; for an SGI or PPI the caller named the vCPU itself.
    pub fn raise(&mut self, vcpu: usize, intid: u32) -> Result<(), VgicError> {
        if intid < SPI_BASE {
            let cpu = self.cpus.get_mut(vcpu).ok_or(VgicError::NoSuchVcpu(vcpu))?;
            cpu.private.set_flag(Flag::Pending, intid, true);
            self.refresh(vcpu);
        } else if self.spi.contains(intid) {
            let before = self.spi_delivery_target(intid);
            self.spi.set_flag(Flag::Pending, intid, true);
            if before.is_none()
                && let Some(target) = self.spi_delivery_target(intid)
            {
                self.kick(target);
            }
        } else {
            return Err(VgicError::NoSuchInterrupt(intid));
        }
        Ok(())
    }

    /// Drives the input line of `intid` from a device (`vcpu` as for [`Vgic::raise`]):
    /// a level-sensitive interrupt is pending while the line is high, so it is
    /// withdrawn when the line drops before the guest took it, and pending again
    /// after the guest handled it while the line stays high; a rising line latches
    /// an edge-triggered interrupt pending. A source calls this when its level
    /// changes, not on every access.
    pub fn set_level(&mut self, vcpu: usize, intid: u32, high: bool) -> Result<(), VgicError> {
        if intid < SPI_BASE {
            let cpu = self.cpus.get_mut(vcpu).ok_or(VgicError::NoSuchVcpu(vcpu))?;
            if cpu.private.set_line(intid, high) {
                self.refresh(vcpu);
            }
        } else if self.spi.contains(intid) {
            let before = self.spi_delivery_target(intid);
            if self.spi.set_line(intid, high)
                && before.is_none()
                && let Some(target) = self.spi_delivery_target(intid)
            {
                self.kick(target);
            }
        } else {
            return Err(VgicError::NoSuchInterrupt(intid));
        }
        Ok(())
    }

    /// Whether `intid` is pending for `vcpu` (latched, or its level-sensitive line
    /// high; `vcpu` as for [`Vgic::raise`]).
    pub fn is_pending(&self, vcpu: usize, intid: u32) -> bool {
        if intid < SPI_BASE {
            self.cpus
                .get(vcpu)
                .is_some_and(|cpu| cpu.private.flag(Flag::Pending, intid))
        } else {
            self.spi.flag(Flag::Pending, intid)
        }
    }

    /// The guest's write of `value` to ICC_SGI1R_EL1 on vCPU `sender`: makes SGI
    /// INTID [27:24] pending on every vCPU whose affinity is Aff3 [55:48].Aff2
    /// [39:32].Aff1 [23:16].Aff0, for each Aff0 = 16 * RS [47:44] + n with bit `n`
    /// set in TargetList [15:0]; with IRM (bit 40) set, on every vCPU but the
    /// sender. Targets that do not exist are ignored. Returns the bitmask of the
    /// vCPUs that got the SGI (pending now, whether or not they enabled it).
    pub fn send_sgi(&mut self, sender: usize, value: u64) -> u64 {
        let intid = ((value >> SGI1R_INTID_SHIFT) & 0xf) as u32;
        let mut targets = 0;
        for (vcpu, cpu) in self.cpus.iter_mut().enumerate() {
            let chosen = if value & SGI1R_IRM != 0 {
                vcpu != sender
            } else {
                sgi_targets(value, cpu.affinity)
            };
            if chosen {
                cpu.private.set_flag(Flag::Pending, intid, true);
                targets |= 1 << vcpu;
            }
        }
        self.fresh |= targets;
        targets
    }

    /// The highest-priority interrupt (lowest priority value; ties: lowest INTID)
    /// that is pending, enabled and deliverable to `vcpu` and not in `exclude`
    /// (INTIDs already in list registers). Its pending bit is cleared: the caller
    /// puts it into a list register. SPIs need GICD_CTLR.EnableGrp1 and a route to
    /// `vcpu`; SGIs and PPIs only their enable bit in `vcpu`'s Redistributor.
    /// On a GICv2 an SGI pending from several vCPUs is handed over once per sender
    /// (lowest first), and stays pending until the last.
    pub fn take_pending(&mut self, vcpu: usize, exclude: &[u32]) -> Option<PendingIrq> {
        let mut irq = self.best_pending(vcpu, exclude)?;
        if irq.intid < SPI_BASE {
            if let Some(cpu) = self.cpus.get_mut(vcpu) {
                let mut still_pending = false;
                if self.version == GicVersion::V2
                    && let Some(sources) = cpu.sgi_sources.get_mut(irq.intid as usize)
                    && *sources != 0
                {
                    irq.source = sources.trailing_zeros() as u8;
                    *sources &= *sources - 1;
                    still_pending = *sources != 0;
                }
                cpu.private
                    .set_flag(Flag::Pending, irq.intid, still_pending);
            }
        } else {
            self.spi.set_flag(Flag::Pending, irq.intid, false);
        }
        Some(irq)
    }

    /// Whether [`Vgic::take_pending`] would return something for `vcpu` with an
    /// empty `exclude`.
    pub fn has_pending(&self, vcpu: usize) -> bool {
        self.best_pending(vcpu, &[]).is_some()
    }

    /// Whether GICD_CTLR lets the Distributor forward SPIs (some of them, on a
    /// GICv2: see [`Vgic::spi_group_forwarded`]).
    pub(crate) fn spis_forwarded(&self) -> bool {
        match self.version {
            GicVersion::V3 => self.ctlr & CTLR_ENABLE_GRP1 != 0,
            GicVersion::V2 => self.ctlr & (CTLR_ENABLE_GRP0 | CTLR_ENABLE_GRP1) != 0,
        }
    }

    /// Whether GICD_CTLR enables the group of SPI `intid`: on a GICv3 every SPI is
    /// Group 1, on a GICv2 its IGROUPR bit says.
    fn spi_group_forwarded(&self, intid: u32) -> bool {
        match self.version {
            GicVersion::V3 => self.spis_forwarded(),
            GicVersion::V2 if self.spi.flag(Flag::Group, intid) => {
                self.ctlr & CTLR_ENABLE_GRP1 != 0
            }
            GicVersion::V2 => self.ctlr & CTLR_ENABLE_GRP0 != 0,
        }
    }

    /// Kicks the targets of every pending, enabled SPI (forwarding turned on).
    pub(crate) fn kick_all_ready_spis(&mut self) {
        for word in 0..self.spi.words() {
            let mask = self.spi.ready_word(word);
            self.kick_ready_spis(NewlyReady { word, mask });
        }
    }

    /// The vCPU SPI `intid` goes to: on a GICv3 the one GICD_IROUTER names (the
    /// lowest-index vCPU with 1-of-N routing, none when no vCPU has the affinity),
    /// on a GICv2 the lowest-index vCPU its ITARGETSR names (the GICv2 makes it
    /// pending on each, and the first to take it takes it from all).
    pub(crate) fn spi_target(&self, intid: u32) -> Option<usize> {
        if self.version == GicVersion::V2 {
            let targets = self.spi_targets(intid)?;
            return (targets != 0).then(|| targets.trailing_zeros() as usize);
        }
        let route = self.irouter_of(intid)?;
        if route & IROUTER_IRM != 0 {
            return (!self.cpus.is_empty()).then_some(0);
        }
        let affinity = route & AFFINITY_MASK;
        self.cpus.iter().position(|cpu| cpu.affinity == affinity)
    }

    /// The vCPU SPI `intid` is deliverable to now, if it is.
    pub(crate) fn spi_delivery_target(&self, intid: u32) -> Option<usize> {
        let ready = self.spi.flag(Flag::Pending, intid) && self.spi.flag(Flag::Enabled, intid);
        if ready && self.spi_group_forwarded(intid) {
            self.spi_target(intid)
        } else {
            None
        }
    }

    /// Kicks the vCPUs the SPIs of `ready` are now deliverable to.
    pub(crate) fn kick_ready_spis(&mut self, ready: NewlyReady) {
        if !self.spis_forwarded() {
            return;
        }
        for intid in intids(ready.word, ready.mask) {
            if self.spi_group_forwarded(intid)
                && let Some(vcpu) = self.spi_target(intid)
            {
                self.kick(vcpu);
            }
        }
    }

    /// The interrupt [`Vgic::take_pending`] would return.
    fn best_pending(&self, vcpu: usize, exclude: &[u32]) -> Option<PendingIrq> {
        let cpu = self.cpus.get(vcpu)?;
        let mut best: Option<PendingIrq> = None;
        let v2 = self.version == GicVersion::V2;
        let mut consider = |intid: u32, block: &IrqBlock| {
            let priority = block.priority(intid);
            if !exclude.contains(&intid) && best.is_none_or(|irq| priority < irq.priority) {
                best = Some(PendingIrq {
                    intid,
                    priority,
                    group1: !v2 || block.flag(Flag::Group, intid),
                    source: 0,
                });
            }
        };
        for intid in intids(0, cpu.private.ready_word(0)) {
            consider(intid, &cpu.private);
        }
        if self.spis_forwarded() {
            for word in self.spi.pending_words(SPI_BASE / 32) {
                for intid in intids(word, self.spi.ready_word(word)) {
                    if self.spi_group_forwarded(intid) && self.spi_target(intid) == Some(vcpu) {
                        consider(intid, &self.spi);
                    }
                }
            }
        }
        best
    }
}

/// Whether ICC_SGI1R_EL1 `value` with IRM clear targets a vCPU of `affinity`.
fn sgi_targets(value: u64, affinity: u64) -> bool {
    let field = |shift: u32| (value >> shift) & 0xff;
    let upper = field(SGI1R_AFF3_SHIFT) << 32
        | field(SGI1R_AFF2_SHIFT) << 16
        | field(SGI1R_AFF1_SHIFT) << 8;
    let aff0 = affinity & 0xff;
    let range = (value >> SGI1R_RS_SHIFT) & 0xf;
    affinity & !0xff == upper
        && aff0 >> 4 == range
        && value & SGI1R_TARGET_LIST & (1 << (aff0 & 0xf)) != 0
}

/// The INTIDs of the set bits of `mask` in word `word` of a flag array, ascending:
/// one step per set bit, so an empty word costs nothing.
fn intids(word: u32, mask: u32) -> impl Iterator<Item = u32> {
    let base = word.saturating_mul(32);
    set_bit_indices(u64::from(mask)).map(move |bit| base.saturating_add(bit))
}
