//! Guest images on the disk: which files a config names, and reading one into
//! memory only after its size has been checked against the RAM at its load address.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use tessera_addr::{GuestPhysAddr, HostPhysAddr};
use tessera_config::VmConfig;
use tessera_fat::{BlockDevice, FileErrorKind, Volume};
use tessera_vm::{GuestMemory, ImageError, LoadError, check_load};

/// One image a config names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSpec<'c> {
    /// Its kind, as in the config's field names: `kernel`, `bios`, `dtb`, `ramdisk`.
    pub what: &'static str,
    /// Its path on the disk.
    pub path: &'c str,
    /// Where it goes in guest memory.
    pub load_addr: GuestPhysAddr,
}

/// The images of `config`: the kernel, then the BIOS, device tree and ramdisk when
/// it names them (each has its load address then; validation made sure).
pub fn image_specs(config: &VmConfig) -> Vec<ImageSpec<'_>> {
    let kernel = &config.kernel;
    let optional = [
        ("bios", &kernel.bios_path, kernel.bios_load_addr),
        ("dtb", &kernel.dtb_path, kernel.dtb_load_addr),
        ("ramdisk", &kernel.ramdisk_path, kernel.ramdisk_load_addr),
    ];
    let mut specs = alloc::vec![ImageSpec {
        what: "kernel",
        path: &kernel.kernel_path,
        load_addr: GuestPhysAddr::new(kernel.kernel_load_addr),
    }];
    for (what, path, load_addr) in optional {
        if let (Some(path), Some(load_addr)) = (path, load_addr) {
            specs.push(ImageSpec {
                what,
                path,
                load_addr: GuestPhysAddr::new(load_addr),
            });
        }
    }
    specs
}

/// The VM an image belongs to, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmLabel<'a> {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: &'a str,
}

/// Why an image could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageProblem {
    /// The file could not be found or read.
    Disk(FileErrorKind),
    /// It does not fit in guest RAM at its load address.
    Load(LoadError),
}

impl fmt::Display for ImageProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disk(reason) => write!(f, "{reason}"),
            Self::Load(reason) => write!(f, "{reason}"),
        }
    }
}

/// An image that could not be loaded, naming the VM, the file and the reason, e.g.
/// `VM 2 (linux): /images/Image: no "Image" in /images`.
pub type DiskImageError = ImageError<ImageProblem>;

/// Where an image goes: the host address of its load address, and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Host address the image's first byte goes to.
    pub host: HostPhysAddr,
    /// Size of the image file in bytes.
    pub size: u64,
}

/// Checks that the file `path` exists and fits in `memory` at `load_addr`, without
/// reading it. The caller then reads it into guest RAM at `host` with
/// [`Volume::read_into`].
pub fn place_image<D: BlockDevice>(
    volume: &mut Volume<D>,
    memory: &GuestMemory,
    vm: VmLabel<'_>,
    path: &str,
    load_addr: GuestPhysAddr,
) -> Result<Placement, DiskImageError> {
    let size = volume
        .file_size(path)
        .map_err(|failure| image_error(vm, path, ImageProblem::Disk(failure.kind)))?;
    let host = check_load(memory, load_addr, size)
        .map_err(|reason| image_error(vm, path, ImageProblem::Load(reason)))?;
    Ok(Placement { host, size })
}

/// The error for image `path` of `vm`.
fn image_error(vm: VmLabel<'_>, path: &str, reason: ImageProblem) -> DiskImageError {
    ImageError {
        vm_id: vm.id,
        vm_name: String::from(vm.name),
        path: String::from(path),
        reason,
    }
}

/// Reads the file `path` into a `Vec` once [`place_image`] has accepted it; the
/// bytes are then copied to `load_addr` (and again on each reset of the VM).
pub fn read_image<D: BlockDevice>(
    volume: &mut Volume<D>,
    memory: &GuestMemory,
    vm: VmLabel<'_>,
    path: &str,
    load_addr: GuestPhysAddr,
) -> Result<Vec<u8>, DiskImageError> {
    let placement = place_image(volume, memory, vm, path, load_addr)?;
    let max = usize::try_from(placement.size).unwrap_or(usize::MAX);
    volume
        .read_to_vec(path, max)
        .map_err(|failure| image_error(vm, path, ImageProblem::Disk(failure.kind)))
}
