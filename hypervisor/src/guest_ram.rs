//! A VM's RAM: each `memory_regions` row backed by host frames and mapped into its
//! stage-2 table. Map type 0 takes frames from anywhere; map types 1 (identical) and
//! 2 (reserved) take the frames at the guest address itself, so the guest address is
//! the host address (a guest that programs DMA with its own addresses, or that is
//! linked for the board's RAM, needs this). Every region is zero-filled.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_config::{MapType, MemoryFlags, MemoryRegion, VmConfig};
use tessera_os::{frames, hal, platform, println};
use tessera_stage2::{MappingFlags, Stage2Table};
use tessera_vm::{GuestMemory, RamRegion, uncovered};

use crate::arch;
use crate::vmm::OsFrames;

/// How a region's frames were obtained, so that they go back the same way.
enum Backing {
    /// From anywhere: [`frames::alloc_zeroed`].
    Allocated(HostPhysAddr, usize),
    /// At a fixed host address: [`frames::claim_zeroed`].
    Claimed(HostPhysAddr, usize),
}

/// The host frames backing a VM's RAM; given back when the VM is not created or is
/// deleted.
#[derive(Default)]
pub struct Backings(Vec<Backing>);

impl Backings {
    /// Gives every frame back (once: the record is emptied).
    pub fn release(&mut self) {
        for backing in self.0.drain(..) {
            match backing {
                Backing::Allocated(base, count) => frames::free(base, count),
                Backing::Claimed(base, count) => frames::unclaim(base, count),
            }
        }
    }
}

/// Backs and maps every RAM region of `config`, recording the frames in `backings`.
/// A region that lies inside an earlier identical region (the nesting the config
/// checks allow) is backed on its own; the outer one keeps the rest.
pub fn map_all(
    config: &VmConfig,
    stage2: &mut Stage2Table<arch::Stage2Format>,
    backings: &mut Backings,
) -> Result<GuestMemory, String> {
    let rows = &config.kernel.memory_regions;
    let mut regions = Vec::new();
    for (i, region) in rows.iter().enumerate() {
        let field = format!("kernel.memory_regions[{i}]");
        let count = region.size.div_ceil(frames::FRAME_SIZE) as usize;
        let host = back(region, count, &field, backings)?;
        let whole = GuestRange::new(GuestPhysAddr::new(region.gpa), region.size);
        let inner: Vec<GuestRange> = rows[i + 1..].iter().map(guest_range).collect();
        let flags = MappingFlags::from_bits_truncate(region.flags.bits() & 0x7);
        for piece in uncovered(whole, &inner) {
            let offset = piece.start.raw() - region.gpa;
            let size = piece.size.div_ceil(frames::FRAME_SIZE) * frames::FRAME_SIZE;
            let host = HostPhysAddr::new(host.raw() + offset);
            stage2
                .map(&mut OsFrames, piece.start, host, size, flags)
                .map_err(|e| format!("{field}: stage-2 mapping failed: {e}"))?;
            regions.push(RamRegion {
                guest: GuestRange::new(piece.start, size),
                host,
                executable: region.flags.contains(MemoryFlags::EXECUTE),
            });
        }
        let kind = match region.map_type {
            MapType::Allocate => continue,
            MapType::Identical => "identity-mapped",
            MapType::Reserved => "reserved and identity-mapped",
        };
        println!(
            "tessera: VM {} ({}): {field}: {:#x}..{:#x} {kind} (guest address = host address)",
            config.base.id,
            config.base.name,
            region.gpa,
            region.gpa + region.size
        );
    }
    Ok(GuestMemory::new(regions))
}

/// The guest range of a row.
fn guest_range(region: &MemoryRegion) -> GuestRange {
    GuestRange::new(GuestPhysAddr::new(region.gpa), region.size)
}

/// Takes `count` frames for `region`: anywhere, or at its guest address.
fn back(
    region: &MemoryRegion,
    count: usize,
    field: &str,
    backings: &mut Backings,
) -> Result<HostPhysAddr, String> {
    if region.map_type == MapType::Allocate {
        let host = frames::alloc_zeroed(count)
            .ok_or_else(|| format!("{field}: out of host memory for {} MiB", region.size >> 20))?;
        backings.0.push(Backing::Allocated(host, count));
        return Ok(host);
    }
    let host = HostPhysAddr::new(region.gpa);
    if !region.gpa.is_multiple_of(frames::FRAME_SIZE) {
        return Err(format!(
            "{field}: an identity-mapped region must start on a {} KiB page, not at {:#x}",
            frames::FRAME_SIZE >> 10,
            region.gpa
        ));
    }
    if !frames::claim_zeroed(host, count) {
        return Err(format!(
            "{field}: {}",
            why_not_free(region.gpa, count as u64 * frames::FRAME_SIZE)
        ));
    }
    backings.0.push(Backing::Claimed(host, count));
    Ok(host)
}

/// Why host frames `[base, base + size)` could not be claimed.
fn why_not_free(base: u64, size: u64) -> String {
    let end = base.saturating_add(size);
    let (ram, ram_end) = (platform::RAM_BASE, platform::RAM_BASE + platform::RAM_SIZE);
    let span = format!("host memory {base:#x}..{end:#x}");
    if base < ram || end > ram_end {
        format!(
            "{span} is not all host RAM (RAM is {ram:#x}..{ram_end:#x}): an identity-mapped \
             region must lie in it"
        )
    } else if base < hal::image_end() {
        format!(
            "{span} overlaps the hypervisor's image and boot data ({ram:#x}..{:#x})",
            hal::image_end()
        )
    } else {
        format!("{span} is already in use (by the hypervisor's tables or an earlier VM)")
    }
}
