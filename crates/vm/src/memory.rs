//! The guest-physical RAM map of a VM and where each region sits in host memory.

use alloc::vec::Vec;
use core::fmt;
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};

/// One RAM region: guest range, its host backing, and whether code may run from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamRegion {
    /// Guest-physical range.
    pub guest: GuestRange,
    /// Host-physical address of the region's first byte.
    pub host: HostPhysAddr,
    /// The guest may execute from it.
    pub executable: bool,
}

/// A VM's RAM regions (non-overlapping).
#[derive(Clone, Debug, Default)]
pub struct GuestMemory {
    regions: Vec<RamRegion>,
}

/// The parts of `range` that none of `holes` covers, in address order (the pieces of
/// an outer region left for its own backing when inner regions sit inside it).
pub fn uncovered(range: GuestRange, holes: &[GuestRange]) -> Vec<GuestRange> {
    let mut holes: Vec<GuestRange> = holes
        .iter()
        .copied()
        .filter(|hole| hole.overlaps(&range))
        .collect();
    holes.sort_by_key(|hole| hole.start);
    let end = |r: &GuestRange| r.start.raw() as u128 + r.size as u128;
    let mut pieces = Vec::new();
    let mut at = range.start.raw() as u128;
    for hole in &holes {
        let start = hole.start.raw() as u128;
        if start > at {
            pieces.push(GuestRange::new(
                GuestPhysAddr::new(at as u64),
                (start - at) as u64,
            ));
        }
        at = at.max(end(hole));
    }
    if end(&range) > at {
        pieces.push(GuestRange::new(
            GuestPhysAddr::new(at as u64),
            (end(&range) - at) as u64,
        ));
    }
    pieces
}

/// A guest range that is not wholly inside one RAM region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryError {
    /// First address of the range.
    pub addr: GuestPhysAddr,
    /// Its length.
    pub len: u64,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#x} bytes at {:?} are not inside the VM's RAM",
            self.len, self.addr
        )
    }
}

impl GuestMemory {
    /// A map of `regions`.
    pub fn new(regions: Vec<RamRegion>) -> Self {
        Self { regions }
    }

    /// The regions.
    pub fn regions(&self) -> &[RamRegion] {
        &self.regions
    }

    /// Host address of `[addr, addr + len)`, which must lie inside one region.
    pub fn host_span(&self, addr: GuestPhysAddr, len: u64) -> Result<HostPhysAddr, MemoryError> {
        self.regions
            .iter()
            .find(|region| region.guest.contains_span(addr, len))
            .and_then(|region| {
                let offset = addr.offset_from(region.guest.start)?;
                HostPhysAddr::new(region.host.raw()).checked_add(offset)
            })
            .ok_or(MemoryError { addr, len })
    }

    /// Copies the guest bytes at `addr` into `buf`; the span must lie inside one region.
    ///
    /// # Safety
    /// Every region's host range is memory the caller may read at that address (the
    /// VM's own RAM, identity-mapped, not freed).
    pub unsafe fn read(&self, addr: GuestPhysAddr, buf: &mut [u8]) -> Result<(), MemoryError> {
        let host = self.host_span(addr, buf.len() as u64)?;
        let base = host.raw() as *const u8;
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: `host_span` put the span inside a region, which the caller
            // promises is readable; the guest may write it meanwhile, so each byte is
            // read once, volatile.
            *byte = unsafe { base.add(i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `bytes` to guest address `addr`; the span must lie inside one region.
    ///
    /// # Safety
    /// Every region's host range is memory the caller may write at that address (the
    /// VM's own RAM, identity-mapped, not freed).
    pub unsafe fn write(&self, addr: GuestPhysAddr, bytes: &[u8]) -> Result<(), MemoryError> {
        let host = self.host_span(addr, bytes.len() as u64)?;
        let base = host.raw() as *mut u8;
        for (i, &byte) in bytes.iter().enumerate() {
            // SAFETY: as in `read`, for writing.
            unsafe { base.add(i).write_volatile(byte) };
        }
        Ok(())
    }

    /// Whether a vCPU may start executing at `addr`.
    pub fn is_executable(&self, addr: GuestPhysAddr) -> bool {
        self.regions
            .iter()
            .any(|region| region.executable && region.guest.contains(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, size: u64) -> GuestRange {
        GuestRange::new(GuestPhysAddr::new(start), size)
    }

    #[test]
    fn uncovered_leaves_the_parts_around_the_holes() {
        let outer = range(0x1000, 0x9000);
        assert_eq!(uncovered(outer, &[]), [outer]);
        assert_eq!(
            uncovered(outer, &[range(0x6000, 0x1000), range(0x2000, 0x1000)]),
            [
                range(0x1000, 0x1000),
                range(0x3000, 0x3000),
                range(0x7000, 0x3000)
            ]
        );
        // Holes at either end, overlapping each other, or outside the range.
        let holes = [
            range(0x1000, 0x2000),
            range(0x2000, 0x2000),
            range(0x9000, 0x1000),
            range(0x20000, 0x1000),
        ];
        assert_eq!(uncovered(outer, &holes), [range(0x4000, 0x5000)]);
        assert!(uncovered(outer, &[outer]).is_empty());
    }

    #[test]
    fn uncovered_reaches_the_top_of_the_address_space() {
        let top = range(u64::MAX - 0xfff, 0x1000);
        assert_eq!(uncovered(top, &[]), [top]);
        assert_eq!(
            uncovered(top, &[range(u64::MAX - 0xfff, 0x800)]),
            [range(u64::MAX - 0x7ff, 0x800)]
        );
    }
}
