//! The FAT32 disk (feature `fs`): found at boot among the board's virtio-mmio
//! transports, mounted once, then read for VM configs (`/vms/*.toml` at boot, any
//! path for the shell's `vm create`) and for the
//! images of VMs with `image_location = "fs"`, straight into their RAM (again on
//! each reset, so nothing is kept in the hypervisor's heap).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use spin::Mutex;
use tessera_addr::GuestPhysAddr;
use tessera_config::VmConfig;
use tessera_fat::{BlockDevice, Volume};
use tessera_os::disk::{Disk, ReadError};
use tessera_os::{hal, println};
use tessera_vm::GuestMemory;
use tessera_vm_disk::{
    DiskConfig, VmLabel, image_specs, place_image, read_vm_config, read_vm_configs,
};

/// The disk as the FAT reader sees it.
struct DiskDevice(Disk);

impl BlockDevice for DiskDevice {
    type Error = ReadError;

    fn read_blocks(&mut self, first_lba: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.0.read(first_lba, buf)
    }
}

/// The mounted volume and the register window of its transport (virtio-mmio).
struct Mounted {
    volume: Volume<DiskDevice>,
    window: Option<(u64, u64)>,
}

static DISK: Mutex<Option<Mounted>> = Mutex::new(None);

/// Finds the board's virtio-blk disk and mounts its FAT32 volume; says what it found.
pub fn mount() {
    match find_and_mount() {
        Ok((mounted, location)) => {
            let info = mounted.volume.info();
            *DISK.lock() = Some(mounted);
            println!(
                "tessera: disk: FAT32 volume of {} MiB on virtio-blk ({location})",
                (info.sectors * 512) >> 20,
            );
        }
        Err(reason) => println!("tessera: disk: not used: {reason}"),
    }
}

/// The mounted disk and where it is.
fn find_and_mount() -> Result<(Mounted, String), String> {
    let disk = crate::arch::find_disk()?;
    let window = disk.window;
    let location = disk.location.clone();
    let volume = Volume::mount(DiskDevice(disk)).map_err(|e| format!("{e}"))?;
    Ok((Mounted { volume, window }, location))
}

/// The register window (base, size) of the disk's transport, which no VM may have.
pub fn window() -> Option<(u64, u64)> {
    DISK.lock().as_ref().and_then(|mounted| mounted.window)
}

/// The VM configs in `/vms` of the disk, each with its file name (none without a disk).
pub fn configs() -> Vec<DiskConfig> {
    let mut disk = DISK.lock();
    let Some(mounted) = disk.as_mut() else {
        return Vec::new();
    };
    match read_vm_configs(&mut mounted.volume) {
        Ok(configs) => configs,
        Err(error) => {
            println!("tessera: disk: VM configs not read: {error}");
            Vec::new()
        }
    }
}

/// The VM config at `path` on the disk (the shell's `vm create`).
pub fn config(path: &str) -> Result<DiskConfig, String> {
    let mut disk = DISK.lock();
    let mounted = disk.as_mut().ok_or_else(|| {
        "no FAT32 disk was found at boot: nothing to create a VM from".to_string()
    })?;
    Ok(read_vm_config(&mut mounted.volume, path))
}

/// Size of the file `path` on the disk.
pub fn file_size(path: &str) -> Result<u64, String> {
    let mut disk = DISK.lock();
    let mounted = disk.as_mut().ok_or_else(no_disk)?;
    mounted.volume.file_size(path).map_err(|e| e.to_string())
}

/// Reads every image `config` names from the disk into the VM's RAM at its load
/// address, after checking it fits there; returns the kernel's size.
pub fn load_images(config: &VmConfig, memory: &GuestMemory) -> Result<u64, String> {
    let mut kernel_size = 0;
    let mut disk = DISK.lock();
    let mounted = disk.as_mut().ok_or_else(no_disk)?;
    let label = VmLabel {
        id: config.base.id,
        name: &config.base.name,
    };
    for spec in image_specs(config) {
        if spec.what == "bios" {
            continue;
        }
        let placement = place_image(
            &mut mounted.volume,
            memory,
            label,
            spec.path,
            spec.load_addr,
        )
        .map_err(|e| e.to_string())?;
        let size =
            usize::try_from(placement.size).map_err(|_| format!("{}: too large", spec.path))?;
        // SAFETY: `place_image` checked that `size` bytes from the load address lie in
        // this VM's RAM, which the hypervisor allocated and identity-maps; no vCPU of
        // the VM runs while its images are loaded.
        let target =
            unsafe { core::slice::from_raw_parts_mut(placement.host.raw() as *mut u8, size) };
        mounted
            .volume
            .read_into(spec.path, target)
            .map_err(|e| format!("VM {} ({}): {e}", label.id, label.name))?;
        hal::sync_caches_for_guest(placement.host.raw(), placement.size);
        if spec.what == "kernel" {
            kernel_size = placement.size;
        }
        log::debug!(
            "VM {}: {} {} ({} bytes) at {:?}",
            label.id,
            spec.what,
            spec.path,
            placement.size,
            GuestPhysAddr::new(spec.load_addr.raw())
        );
    }
    Ok(kernel_size)
}

fn no_disk() -> String {
    "kernel.image_location: \"fs\": no FAT32 disk was found (attach one: make disk_img, then run with APP_FEATURES=fs)".to_string()
}
