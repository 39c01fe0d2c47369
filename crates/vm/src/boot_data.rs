//! Where a VM's boot information (the device tree Tessera builds, or x86's boot
//! block) goes when its config gives no `kernel.dtb_load_addr`: a bare-metal guest
//! that never reads a device tree need not name an address for one.

use tessera_addr::{GuestPhysAddr, GuestRange};

/// The room kept for boot information Tessera places itself: 2 MiB, the most a device
/// tree may be for Linux (arm64 booting.rst), in a 2 MiB block of its own.
pub const BOOT_DATA_ROOM: u64 = 2 << 20;

/// How much of the top of the region is left alone: guests often keep their stack or
/// scratch data at the very end of RAM.
const TOP_SPARE: u64 = 2 << 20;

/// The address for boot information when the config gives none: in the RAM region
/// that holds `kernel_load_addr`, the highest 2 MiB-aligned block of [`BOOT_DATA_ROOM`]
/// bytes that leaves the region's top 2 MiB free and starts above the kernel's load
/// address. `None` when the region is too small for that (the config must then name
/// an address).
pub fn place_boot_data(ram: &[GuestRange], kernel_load_addr: u64) -> Option<GuestPhysAddr> {
    let kernel = GuestPhysAddr::new(kernel_load_addr);
    let region = ram.iter().find(|region| region.contains(kernel))?;
    let end = region.start.raw().checked_add(region.size)?;
    let top = end.checked_sub(TOP_SPARE)?.checked_sub(BOOT_DATA_ROOM)?;
    let at = top & !(BOOT_DATA_ROOM - 1);
    (at > kernel_load_addr && at >= region.start.raw()).then_some(GuestPhysAddr::new(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, size: u64) -> GuestRange {
        GuestRange::new(GuestPhysAddr::new(start), size)
    }

    #[test]
    fn placed_high_in_the_kernels_region_clear_of_its_top() {
        // 16 MiB at 0x8000_0000: the block 0x80c0_0000..0x80e0_0000, top 2 MiB free.
        let ram = [range(0x8000_0000, 16 << 20)];
        assert_eq!(
            place_boot_data(&ram, 0x8020_0000),
            Some(GuestPhysAddr::new(0x80c0_0000))
        );
        // An unaligned region end is rounded down to a 2 MiB boundary.
        let ram = [range(0x4000_0000, (16 << 20) + 0x1234)];
        assert_eq!(
            place_boot_data(&ram, 0x4000_0000),
            Some(GuestPhysAddr::new(0x40c0_0000))
        );
    }

    #[test]
    fn the_region_holding_the_kernel_is_used() {
        let ram = [range(0x4000_0000, 8 << 20), range(0x8000_0000, 64 << 20)];
        assert_eq!(
            place_boot_data(&ram, 0x8000_0000),
            Some(GuestPhysAddr::new(0x83c0_0000))
        );
        assert_eq!(
            place_boot_data(&ram, 0x4000_0000),
            Some(GuestPhysAddr::new(0x4040_0000))
        );
    }

    #[test]
    fn no_place_when_the_region_is_too_small_or_the_kernel_is_elsewhere() {
        assert_eq!(
            place_boot_data(&[range(0x4000_0000, 4 << 20)], 0x4000_0000),
            None
        );
        // The block would start below the kernel's load address.
        assert_eq!(
            place_boot_data(&[range(0x4000_0000, 8 << 20)], 0x4050_0000),
            None
        );
        assert_eq!(
            place_boot_data(&[range(0x4000_0000, 64 << 20)], 0x9000_0000),
            None
        );
        assert_eq!(place_boot_data(&[], 0), None);
        // A region reaching the end of the address space: no overflow, no place.
        let top = u64::MAX - (16 << 20) + 1;
        assert_eq!(place_boot_data(&[range(top, 16 << 20)], top), None);
    }
}
