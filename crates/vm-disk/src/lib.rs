//! What the hypervisor reads from its FAT32 disk: the VM configs in `/vms/*.toml`
//! and the guest images of VMs with `image_location = "fs"`.
//!
//! This sits in its own crate, between `tessera-fat` (a file system, which knows
//! nothing of VMs or TOML), `tessera-config` (which knows nothing of disks) and
//! `tessera-vm` (guest memory and the load bounds check), so that each of those
//! stays about one thing and the glue is tested on the host like they are. The
//! hypervisor supplies the block device (virtio-blk) and copies the bytes.
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

mod configs;
mod images;

#[cfg(test)]
mod tests;

pub use configs::{
    CONFIG_DIR, DISK_PREFIX, DiskConfig, DiskConfigError, MAX_CONFIG_BYTES, read_vm_config,
    read_vm_configs,
};
pub use images::{
    DiskImageError, ImageProblem, ImageSpec, Placement, VmLabel, image_specs, place_image,
    read_image,
};
