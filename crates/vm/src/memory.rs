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
