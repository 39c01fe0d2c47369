//! Tessera VM configuration: parses and validates VM config files written in
//! AxVisor's v1 TOML schema (`[base]`, `[kernel]`, `[devices]`) into typed
//! structs.
//!
//! The TOML text is parsed into a `toml::Table`, which is then walked by hand
//! so that every problem is reported with the file, the exact field path (for
//! example `devices.emu_devices[0][1]`) and the reason. All problems in a file
//! are reported together. The crate is `no_std` (with `alloc`) so that the
//! hypervisor can check configs at boot; it never panics on bad input.
#![cfg_attr(not(test), no_std)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

extern crate alloc;

mod cpus;
mod error;
mod flags;
mod images;
mod model;
mod offered;
mod parse;
mod reader;
mod shared;
mod span;
mod validate;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;

pub use error::ConfigError;
pub use flags::MemoryFlags;
pub use model::{
    AXVISOR_GICV2_DISTRIBUTOR, BaseConfig, DeviceConfig, EmuType, EmulatedDevice, ImageLocation,
    InterruptMode, KernelConfig, MapType, MemoryRegion, PassthroughDevice, RegionAccess,
    SharedRegion, VmConfig, VmType,
};
pub use offered::{EMU_TYPE_PLIC, TargetArch, emulates, not_offered};
pub use shared::{SHARED_PAGE, check_shared_regions};

impl VmConfig {
    /// Parses and validates; `file` is only used in messages. Returns every
    /// problem found (at least one on `Err`).
    pub fn from_toml(file: &str, text: &str) -> Result<VmConfig, Vec<ConfigError>> {
        parse::parse(file, text)
    }

    /// Checks the image files named by the config: `file_size(path)` returns
    /// the size of the file at `path` or `None` when it is missing. Checks
    /// that `kernel_path` (and `dtb_path`, `ramdisk_path` when
    /// given) exist, and that each image, loaded at its load address, fits
    /// wholly inside one memory region. Returns every problem.
    ///
    /// When `memory_regions` is empty (guest RAM described by the device tree
    /// at `dtb_path`), only the existence of the files is checked.
    pub fn check_images(
        &self,
        file: &str,
        file_size: &dyn Fn(&str) -> Option<u64>,
    ) -> Vec<ConfigError> {
        images::check(self, file, file_size)
    }

    /// Physical CPU ids of the vCPUs, in vCPU order: `phys_cpu_ids` if given,
    /// else the lowest set bit index of each `phys_cpu_sets` mask, else
    /// `0..cpu_num`.
    pub fn vcpu_phys_ids(&self) -> Vec<u64> {
        cpus::vcpu_phys_ids(&self.base)
    }
}
