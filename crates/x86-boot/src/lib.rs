//! The Linux x86 boot protocol, as a loader that enters the kernel at its 64-bit
//! entry point follows it; and multiboot (v1) for kernels that carry its header
//! (module `multiboot`). Module `acpi` builds the ACPI tables that show a guest its
//! CPUs, interrupt controllers and power-off ([`build_acpi_tables`]).
//!
//! Field names, offsets and rules come from Linux's
//! `Documentation/arch/x86/boot.rst` (the setup header, protocol 2.12 and later)
//! and `Documentation/arch/x86/zero-page.rst` (the `boot_params` page). A loader:
//!
//! 1. parses the kernel file with [`BzImage::parse`], which checks that the kernel
//!    speaks boot protocol 2.12 or later and has a 64-bit entry point;
//! 2. copies [`BzImage::kernel`] (the protected-mode kernel) to a load address
//!    aligned to [`BzImage::kernel_alignment`] (or [`BzImage::pref_address`] if the
//!    kernel is not relocatable), with [`BzImage::init_size`] bytes free from there;
//! 3. writes the command line (NUL-terminated) and the initrd into guest memory;
//! 4. builds the zero page with [`build_boot_params`] from an e820 memory map
//!    ([`e820_from_regions`], or [`pc_memory_map`] for a PC's layout) and puts it in
//!    guest memory (or in two steps, as Tessera does because it reads the kernel
//!    into guest RAM after building the boot block: [`build_plain_boot_params`],
//!    then [`add_setup_header`] on the page in guest memory);
//! 5. starts the vCPU in 64-bit mode at [`kernel_entry_64`] with identity-mapped
//!    page tables covering the kernel, the zero page, the command line and the
//!    initrd, a flat GDT, interrupts off and `rsi` = the zero page's address.
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

mod acpi;
mod boot_block;
mod bytes;
mod bzimage;
mod e820;
mod multiboot;
mod zero_page;

#[cfg(test)]
mod test_image;

pub use acpi::{
    AcpiConfig, AcpiError, IoApicEntry, IsaOverride, PmPorts, ResetRegister, build_acpi_tables,
};
pub use boot_block::{
    BOOT_BLOCK_SIZE, BOOT_CS, BOOT_DS, BootBlockError, CMDLINE_MAX, CMDLINE_OFFSET, GDT_LIMIT,
    GDT_OFFSET, PML4_OFFSET, ZERO_PAGE_OFFSET, build_boot_block, cmdline_address,
};
pub use bzimage::{BzImage, BzImageError};
pub use e820::{E820Entry, E820Error, LEGACY_HOLE, e820_from_regions, pc_memory_map};
pub use multiboot::{
    BOOTLOADER_MAGIC, Module, MultibootError, MultibootHeader, MultibootLayout,
    build_multiboot_info,
};
pub use zero_page::{
    BootParamsError, ZERO_PAGE_SIZE, add_setup_header, build_boot_params, build_plain_boot_params,
};

/// Offset of the 64-bit entry point from the start of the protected-mode kernel.
pub const ENTRY_64_OFFSET: u64 = 0x200;

/// The 64-bit entry point of a protected-mode kernel loaded at `load_addr`: its
/// first byte plus 0x200 (boot protocol 2.12 and later with `XLF_KERNEL_64`).
pub const fn kernel_entry_64(load_addr: u64) -> u64 {
    load_addr.wrapping_add(ENTRY_64_OFFSET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_point() {
        assert_eq!(kernel_entry_64(0x100_0000), 0x100_0200);
        assert_eq!(kernel_entry_64(0x1_2340_0000), 0x1_2340_0200);
        assert_eq!(kernel_entry_64(0), 0x200);
    }
}
