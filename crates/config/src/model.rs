//! The typed VM configuration that a parsed file becomes.

use alloc::string::String;
use alloc::vec::Vec;

use crate::flags::MemoryFlags;

/// A whole VM config file: the `[base]`, `[kernel]` and `[devices]` tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmConfig {
    /// The `[base]` table: identity and vCPUs.
    pub base: BaseConfig,
    /// The `[kernel]` table: images, entry point and guest RAM.
    pub kernel: KernelConfig,
    /// The `[devices]` table (all defaults when the table is absent).
    pub devices: DeviceConfig,
}

/// The `[base]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseConfig {
    /// VM id (`id`).
    pub id: u64,
    /// VM name (`name`), never empty.
    pub name: String,
    /// Kind of guest (`vm_type`).
    pub vm_type: VmType,
    /// Number of vCPUs (`cpu_num`), at least 1.
    pub cpu_num: usize,
    /// Hardware ids of the physical CPUs the vCPUs run on, in vCPU order
    /// (`phys_cpu_ids`): MPIDR affinity on aarch64, hart id on riscv64, APIC id
    /// on x86_64. When given, it lists at least `cpu_num` distinct ids.
    pub phys_cpu_ids: Option<Vec<u64>>,
    /// One physical-CPU bitmask per vCPU (`phys_cpu_sets`); bit `n` is CPU `n`.
    /// When given, it has at least `cpu_num` masks, none of them zero.
    pub phys_cpu_sets: Option<Vec<u64>>,
}

/// The kind of guest (`base.vm_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmType {
    /// 0: the host OS itself, run as a VM.
    Host,
    /// 1: a real-time OS or other small guest.
    Rtos,
    /// 2: a Linux guest.
    Linux,
}

impl VmType {
    /// The type for a `vm_type` number, or `None` if it is not 0, 1 or 2.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Host),
            1 => Some(Self::Rtos),
            2 => Some(Self::Linux),
            _ => None,
        }
    }
}

/// Where the guest images come from (`kernel.image_location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageLocation {
    /// `"memory"`: built into the hypervisor image.
    Memory,
    /// `"fs"`: read from the FAT32 disk at boot.
    Fs,
}

/// The `[kernel]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelConfig {
    /// Guest address where the boot vCPU starts (`entry_point`).
    pub entry_point: u64,
    /// Where the images come from (`image_location`).
    pub image_location: ImageLocation,
    /// Kernel image path (`kernel_path`), never empty.
    pub kernel_path: String,
    /// Guest address the kernel image is loaded at (`kernel_load_addr`).
    pub kernel_load_addr: u64,
    /// BIOS image path (`bios_path`); `bios_load_addr` is then given too.
    pub bios_path: Option<String>,
    /// Guest address the BIOS image is loaded at (`bios_load_addr`).
    pub bios_load_addr: Option<u64>,
    /// Device-tree blob path (`dtb_path`); `dtb_load_addr` is then given too.
    pub dtb_path: Option<String>,
    /// Guest address the device tree is loaded at (`dtb_load_addr`).
    pub dtb_load_addr: Option<u64>,
    /// Initial ramdisk path (`ramdisk_path`); `ramdisk_load_addr` is then given too.
    pub ramdisk_path: Option<String>,
    /// Guest address the ramdisk is loaded at (`ramdisk_load_addr`).
    pub ramdisk_load_addr: Option<u64>,
    /// Kernel command line (`cmdline`).
    pub cmdline: Option<String>,
    /// Disk image path (`disk_path`).
    pub disk_path: Option<String>,
    /// Whether to boot through the BIOS (`enable_bios`, x86).
    pub enable_bios: Option<bool>,
    /// Boot protocol name (`boot_protocol`, x86: e.g. `"multiboot"`, `"uefi"`).
    pub boot_protocol: Option<String>,
    /// UEFI firmware image path (`uefi_firmware_path`, x86).
    pub uefi_firmware_path: Option<String>,
    /// Guest RAM (`memory_regions` rows `[gpa, size, flags, map_type]`).
    ///
    /// Regions do not overlap, with one exception: a row lying wholly inside an
    /// earlier [`MapType::Identical`] row with the same flags is accepted, and
    /// for its addresses the later (inner) row is the one that applies.
    ///
    /// Empty only when `dtb_path` is given: guest RAM is then the `/memory`
    /// nodes of that device tree, and the checks of addresses against guest RAM
    /// are left to the loader, which reads the device tree.
    pub memory_regions: Vec<MemoryRegion>,
}

impl KernelConfig {
    /// Whether the kernel starts as a multiboot (v1) kernel: `boot_protocol =
    /// "multiboot"`, or AxVisor's older spelling, a `bios_path` with no boot protocol
    /// named (that small BIOS enters multiboot kernels). Offered on x86_64 only.
    pub fn is_multiboot(&self) -> bool {
        match self.boot_protocol.as_deref() {
            Some(protocol) => protocol == "multiboot",
            None => self.bios_path.is_some(),
        }
    }
}

/// How a memory region is backed (`map_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapType {
    /// 0: host memory allocated anywhere, mapped at the region's guest address.
    Allocate,
    /// 1: guest addresses equal host addresses.
    Identical,
    /// 2: a reserved host range.
    Reserved,
}

impl MapType {
    /// The type for a `map_type` number, or `None` if it is not 0, 1 or 2.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Allocate),
            1 => Some(Self::Identical),
            2 => Some(Self::Reserved),
            _ => None,
        }
    }
}

/// One guest RAM region (a `memory_regions` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRegion {
    /// First guest-physical address.
    pub gpa: u64,
    /// Size in bytes: not zero, and `gpa + size` does not pass 2^64.
    pub size: u64,
    /// Access permissions; always include [`MemoryFlags::READ`].
    pub flags: MemoryFlags,
    /// How the region is backed.
    pub map_type: MapType,
}

/// A device given to the guest directly (a `passthrough_devices` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassthroughDevice {
    /// `[path]`: a host device-tree path, e.g. `"/"` (everything) or `"/pcie@10000000"`.
    Path(String),
    /// `[name, gpa, hpa, length, irq]`: an explicit address range.
    Range {
        /// Device name (for messages).
        name: String,
        /// First guest-physical address.
        gpa: u64,
        /// First host-physical address.
        hpa: u64,
        /// Length in bytes, not zero.
        length: u64,
        /// Interrupt number.
        irq: u64,
    },
}

/// An emulated device (an `emu_devices` row `[name, gpa, length, irq, emu_type, config]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedDevice {
    /// Device name.
    pub name: String,
    /// First guest address (an I/O port number for x86 port devices).
    pub gpa: u64,
    /// Length in bytes (or ports), not zero.
    pub length: u64,
    /// Interrupt number.
    pub irq: u64,
    /// Which device model.
    pub emu_type: EmuType,
    /// Device-specific parameters.
    pub config: Vec<u64>,
}

/// The name AxVisor gives an interrupt controller row (`emu_type` 0x1) that is a
/// GICv2 distributor.
pub const AXVISOR_GICV2_DISTRIBUTOR: &str = "vgicd-v2";

/// Emulated device models (`emu_type`), numbered as in AxVisor (0x25 and 0x26 are
/// Tessera's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmuType {
    /// 0x0: a device that does nothing.
    Dummy,
    /// 0x1: the architecture's interrupt controller.
    InterruptController,
    /// 0x2: a serial console.
    Console,
    /// 0xA: an inter-VM communication channel.
    IvcChannel,
    /// 0x20: GICv3 redistributor (partial passthrough).
    GicRedistributor,
    /// 0x21: GICv3 distributor (partial passthrough).
    GicDistributor,
    /// 0x22: GICv3 ITS (partial passthrough).
    GicIts,
    /// 0x25 (Tessera's): GICv2 distributor, emulated (4 KiB of registers; AxVisor's
    /// row `["vgicd-v2", .., 0x1, ..]`, an interrupt controller by that name, is the same).
    GicV2Distributor,
    /// 0x26 (Tessera's): GICv2 CPU interface: the hardware's virtual CPU interface
    /// (GICV, 8 KiB) mapped at this address.
    GicV2CpuInterface,
    /// Any other number, kept as written. AxVisor files also use 0x23 (x86
    /// I/O APIC), 0x24 (x86 PIT) and 0x30 (RISC-V PLIC), which AxVisor's own
    /// enum does not name.
    Other(u64),
}

impl EmuType {
    /// The model for an `emu_type` number.
    pub fn from_code(code: u64) -> Self {
        match code {
            0x0 => Self::Dummy,
            0x1 => Self::InterruptController,
            0x2 => Self::Console,
            0xA => Self::IvcChannel,
            0x20 => Self::GicRedistributor,
            0x21 => Self::GicDistributor,
            0x22 => Self::GicIts,
            0x25 => Self::GicV2Distributor,
            0x26 => Self::GicV2CpuInterface,
            other => Self::Other(other),
        }
    }

    /// The `emu_type` number of this model.
    pub fn code(self) -> u64 {
        match self {
            Self::Dummy => 0x0,
            Self::InterruptController => 0x1,
            Self::Console => 0x2,
            Self::IvcChannel => 0xA,
            Self::GicRedistributor => 0x20,
            Self::GicDistributor => 0x21,
            Self::GicIts => 0x22,
            Self::GicV2Distributor => 0x25,
            Self::GicV2CpuInterface => 0x26,
            Self::Other(code) => code,
        }
    }
}

/// How the guest's interrupts are delivered (`devices.interrupt_mode`).
///
/// When the field is absent the mode is [`InterruptMode::Emulated`]. (AxVisor
/// defaults to `no_irq`; Tessera gives every guest a virtual interrupt
/// controller unless told otherwise.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterruptMode {
    /// `"no_irq"` (also `"no"`, `"none"`): the guest gets no interrupts.
    NoIrq,
    /// `"emulated"` or `"emu"`: interrupts go through an emulated controller.
    #[default]
    Emulated,
    /// `"passthrough"` or `"pt"`: the guest drives the interrupt controller.
    Passthrough,
}

/// The `[devices]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceConfig {
    /// Devices given to the guest directly (`passthrough_devices`).
    pub passthrough_devices: Vec<PassthroughDevice>,
    /// Host device-tree paths never given to the guest (`excluded_devices`, rows `[path]`).
    pub excluded_devices: Vec<String>,
    /// Extra guest ranges mapped straight through (`passthrough_addresses`, `[gpa, length]`).
    pub passthrough_addresses: Vec<(u64, u64)>,
    /// x86 I/O port ranges given to the guest (`passthrough_ports`, `[port, count]`).
    pub passthrough_ports: Vec<(u64, u64)>,
    /// Emulated devices (`emu_devices`).
    pub emu_devices: Vec<EmulatedDevice>,
    /// How interrupts are delivered (`interrupt_mode`).
    pub interrupt_mode: InterruptMode,
    /// Memory shared with other VMs, each with a doorbell (`shared_regions`, a field
    /// Tessera adds).
    pub shared_regions: Vec<SharedRegion>,
}

/// What a VM may do with a shared region (`shared_regions` column 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionAccess {
    /// `"rw"`: read and write.
    ReadWrite,
    /// `"ro"`: read only; a write is refused as one to memory that is not there.
    ReadOnly,
}

/// A memory region this VM shares with the other VMs that declare the same name (a
/// `shared_regions` row `[name, gpa, size, access, doorbell_gpa, irq]`).
///
/// The region is one block of host memory, mapped into every VM that names it at
/// that VM's `gpa`; `size` is the same in each. Beside it each VM gets a 4 KiB
/// doorbell page at `doorbell_gpa`: a write there raises interrupt `irq` in the peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRegion {
    /// The region's name, which the VMs sharing it all use.
    pub name: String,
    /// Where the region appears in this VM (4 KiB aligned).
    pub gpa: u64,
    /// Its size in bytes (a non-zero multiple of 4 KiB).
    pub size: u64,
    /// What this VM may do with it.
    pub access: RegionAccess,
    /// Where this VM's doorbell page is (4 KiB aligned).
    pub doorbell_gpa: u64,
    /// The interrupt a peer's ring raises in this VM (an SPI INTID on aarch64, a PLIC
    /// source on riscv64).
    pub irq: u64,
}
