//! The disk: a virtio-blk device behind a virtio-mmio transport (QEMU's `virt`
//! boards: the VMM finds the windows in the host device tree and hands them to
//! [`Disk::probe_mmio`]) or on PCI bus 0 behind the PCIe configuration window (a
//! PC: [`Disk::probe_pci`]), driven by the `virtio-drivers` crate and read whole
//! sectors at a time with polling.

use crate::frames;
use alloc::format;
use alloc::string::String;
use core::ptr::NonNull;
use virtio_drivers::device::blk::{SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::pci::bus::{Cam, Command, MmioCam, PciRoot};
use virtio_drivers::transport::pci::{PciTransport, virtio_device_type};
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// Bytes in a disk sector.
pub const SECTOR_BYTES: usize = SECTOR_SIZE;

/// DMA memory and address translation for the virtio drivers: frames from the OS
/// allocator, and physical addresses used as they are (RAM and devices are
/// identity-mapped, and the device reads and writes RAM coherently).
pub struct OsHal;

// SAFETY: `dma_alloc` hands out zeroed, page-aligned frames no one else uses until
// `dma_dealloc` returns them; every address translation is the identity, which is
// what the hypervisor's page tables establish.
unsafe impl Hal for OsHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let Some(base) = frames::alloc_zeroed(pages) else {
            // The trait has no way to report failure; this runs only while the disk is
            // set up at boot, with a few pages asked for.
            panic!("out of memory for {pages} page(s) of virtio DMA memory");
        };
        match NonNull::new(base.raw() as *mut u8) {
            Some(pointer) => (base.raw(), pointer),
            None => panic!("the frame allocator returned address 0"),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        frames::free(tessera_addr::HostPhysAddr::new(paddr), pages);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// Why no disk could be used.
#[derive(Debug)]
pub enum DiskError {
    /// No virtio transport holds a block device.
    NotFound,
    /// The block device would not start.
    Setup(virtio_drivers::Error),
    /// The PCI device is not a usable virtio device.
    Pci(virtio_drivers::transport::pci::VirtioPciError),
}

impl core::fmt::Display for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFound => f.write_str("no virtio-blk device"),
            Self::Setup(error) => write!(f, "the virtio-blk device did not start: {error}"),
            Self::Pci(error) => write!(f, "the virtio-blk PCI device is not usable: {error}"),
        }
    }
}

/// A virtio-blk disk.
pub struct Disk {
    device: VirtIOBlk<OsHal, SomeTransport<'static>>,
    /// Its virtio-mmio register window (base, size), which no VM may be given.
    pub window: Option<(u64, u64)>,
    /// Where it is, for messages.
    pub location: String,
}

impl Disk {
    /// The first block device among the virtio-mmio transports at `windows`
    /// (physical base, size).
    ///
    /// # Safety
    /// Each window must be a virtio-mmio transport's register window that nothing
    /// else uses, identity-mapped as device memory.
    pub unsafe fn probe_mmio(windows: &[(u64, u64)]) -> Result<Self, DiskError> {
        for &(base, size) in windows {
            let Some(header) = NonNull::new(base as *mut VirtIOHeader) else {
                continue;
            };
            // SAFETY: the caller vouches for the window.
            let Ok(transport) = (unsafe { MmioTransport::new(header, size as usize) }) else {
                continue;
            };
            if transport.device_type() != DeviceType::Block {
                continue;
            }
            let device = VirtIOBlk::new(transport.into()).map_err(DiskError::Setup)?;
            return Ok(Self {
                device,
                window: Some((base, size)),
                location: format!("virtio-mmio at {base:#x}"),
            });
        }
        Err(DiskError::NotFound)
    }

    /// The first block device on PCI bus 0, whose configuration space is the PCIe
    /// enhanced configuration window at `ecam` (256 MiB); the firmware has given its
    /// BARs addresses.
    ///
    /// # Safety
    /// `ecam` must be the platform's configuration window, identity-mapped as device
    /// memory, and the BARs of its devices must lie in identity-mapped device memory
    /// that nothing else uses.
    pub unsafe fn probe_pci(ecam: u64) -> Result<Self, DiskError> {
        // SAFETY: the caller vouches for the window.
        let cam = unsafe { MmioCam::new(ecam as *mut u8, Cam::Ecam) };
        let mut root = PciRoot::new(cam);
        let (function, _) = root
            .enumerate_bus(0)
            .find(|(_, info)| virtio_device_type(info) == Some(DeviceType::Block))
            .ok_or(DiskError::NotFound)?;
        let (_, command) = root.get_status_command(function);
        root.set_command(
            function,
            command | Command::MEMORY_SPACE | Command::BUS_MASTER,
        );
        let transport =
            PciTransport::new::<OsHal, _>(&mut root, function).map_err(DiskError::Pci)?;
        let device = VirtIOBlk::new(transport.into()).map_err(DiskError::Setup)?;
        Ok(Self {
            device,
            window: None,
            location: format!("virtio-pci {function}"),
        })
    }

    /// Size of the disk in sectors.
    pub fn sectors(&self) -> u64 {
        self.device.capacity()
    }

    /// Reads sectors from `first` into `buf` (a whole number of sectors).
    pub fn read(&mut self, first: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let first =
            usize::try_from(first).map_err(|_| ReadError(virtio_drivers::Error::InvalidParam))?;
        self.device.read_blocks(first, buf).map_err(ReadError)
    }
}

/// A read the device refused or failed.
#[derive(Debug)]
pub struct ReadError(virtio_drivers::Error);

impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "virtio-blk read failed: {}", self.0)
    }
}
