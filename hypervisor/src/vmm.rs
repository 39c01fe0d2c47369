//! Creating VMs from their configs: guest memory and its stage-2 table, emulated
//! devices, images and device tree loaded into guest RAM, vCPUs pinned to physical
//! CPUs. A VM that cannot be created is reported and skipped; the others still run.
//! VMs are created at boot and by the shell's `vm create`; a VM gives everything
//! back when its entry is dropped (not created, or deleted).

use crate::arch::{self, ArchDevices};
use crate::console::{self, ConsoleInput, UartWindow};
use crate::guest_ram::{self, Backings};
use crate::images::{VM_IMAGES, VmImages};
use crate::irq;
use crate::passthrough::{self, Passthrough};
use crate::shared_regions::{self, Doorbell, Plan, SharedMapping};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::ManuallyDrop;
use core::sync::atomic::{AtomicBool, Ordering};
use tessera_addr::{GuestPhysAddr, GuestRange, HostPhysAddr};
use tessera_config::{EmuType, EmulatedDevice, ImageLocation, VmConfig};
use tessera_dtb::SharedRegionNode;
use tessera_os::{frames, hal, println};
use tessera_stage2::{FrameAllocator, Stage2Table};
use tessera_vcpu::ArchVcpu;
use tessera_vdev::{
    FirmwareConsole, MmioBus, OnPorts, PortBus, PortRange, PowerLatch, SharedMmio, SharedPort,
};
use tessera_vm::{
    BOOT_DATA_ROOM, GuestMemory, InterruptController, Vm, VmCpus, VmDevices, VmStatus,
    place_boot_data,
};

/// A VM's second-stage translation table.
type Stage2 = Stage2Table<arch::Stage2Format>;

/// Stage-2 tables take their frames from the OS frame allocator.
pub struct OsFrames;

// SAFETY: frames come from the OS allocator, are exclusively ours until freed, and RAM
// is identity-mapped, so a frame's physical address is a valid pointer to it.
unsafe impl FrameAllocator for OsFrames {
    fn alloc_zeroed(&mut self, frames: usize) -> Option<HostPhysAddr> {
        frames::alloc_zeroed(frames)
    }
    fn free(&mut self, base: HostPhysAddr, frames: usize) {
        frames::free(base, frames)
    }
    fn frame_ptr(&self, frame: HostPhysAddr) -> *mut u64 {
        frame.raw() as *mut u64
    }
}

/// What a VM holds of the machine's memory: its stage-2 table (the hardware walks
/// it) and the host frames of its RAM, given back when it is dropped, once no CPU
/// caches a translation of its VMID.
struct Resources {
    vmid: u8,
    stage2: ManuallyDrop<Stage2>,
    backings: Backings,
}

impl Resources {
    /// A VM's with a new, empty stage-2 table.
    fn new(vmid: u8) -> Result<Self, String> {
        let stage2 = Stage2::new(&mut OsFrames).map_err(|e| format!("stage-2 table: {e}"))?;
        Ok(Self {
            vmid,
            stage2: ManuallyDrop::new(stage2),
            backings: Backings::default(),
        })
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        hal::forget_guest_translations(u16::from(self.vmid));
        // SAFETY: the table is taken once, here, and never used again.
        let stage2 = unsafe { ManuallyDrop::take(&mut self.stage2) };
        stage2.destroy(&mut OsFrames);
        self.backings.release();
    }
}

/// Says a deleted VM is gone once everything of it has gone back: the last field
/// of [`VmEntry`], so dropped after the others.
struct Farewell {
    id: u64,
    name: String,
    deleted: AtomicBool,
}

impl Drop for Farewell {
    fn drop(&mut self) {
        if self.deleted.load(Ordering::Acquire) {
            println!(
                "tessera: VM {} ({}) deleted: its memory, CPUs and interrupts are given back",
                self.id, self.name
            );
        }
    }
}

/// A created VM with everything the VMM keeps for it.
pub struct VmEntry {
    /// The VM: its vCPUs, interrupt controller, memory and devices.
    pub vm: Vm<arch::Arch>,
    /// The config file it was created from.
    file: String,
    /// What it boots with at `kernel.dtb_load_addr` (reloaded on reset): its device
    /// tree, or on x86 its boot block.
    dtb: Vec<u8>,
    config: VmConfig,
    images: Images,
    /// Its doorbells of the regions it shares.
    doorbells: Vec<Doorbell>,
    booted: AtomicBool,
    reported: AtomicBool,
    /// Its end has been printed (by whichever CPU won `reported`).
    report_done: AtomicBool,
    /// Its stage-2 table and RAM frames (after `vm`, whose vCPUs use them).
    resources: Resources,
    farewell: Farewell,
}

impl Drop for VmEntry {
    fn drop(&mut self) {
        console::unregister_input(self.vm.id);
        irq::release(self.vm.id);
    }
}

/// The VMs as one physical CPU sees them (a snapshot of [`crate::registry`]).
#[derive(Clone)]
pub struct Vms {
    /// The VMs that exist.
    pub entries: Vec<Arc<VmEntry>>,
    /// How many configs given at boot could not be made into a VM.
    pub not_created: usize,
}

/// Where a VM's images come from.
#[derive(Clone, Copy)]
pub enum Images {
    /// Built into the hypervisor image (`image_location = "memory"`).
    Embedded(&'static VmImages),
    /// Read from the FAT32 disk into the VM's RAM at each start (`"fs"`).
    Disk,
}

/// A VM config to create a VM from: the file it came from, the config (or why it is
/// not valid), and where its images are.
struct Source {
    file: String,
    config: Result<VmConfig, String>,
    images: Images,
}

/// The compiled-in configs, then (with the `fs` feature) those in `/vms` of the disk.
fn sources() -> Vec<Source> {
    let mut sources: Vec<Source> = VM_IMAGES
        .iter()
        .map(|images| {
            let config = VmConfig::from_toml(images.config_file, images.config)
                .map_err(|errors| join_errors(&errors));
            let on_disk = config
                .as_ref()
                .is_ok_and(|c| c.kernel.image_location == ImageLocation::Fs);
            Source {
                file: images.config_file.to_string(),
                config,
                images: if on_disk {
                    Images::Disk
                } else {
                    Images::Embedded(images)
                },
            }
        })
        .collect();
    sources.extend(disk_sources());
    sources
}

/// The configs in `/vms` of the FAT32 disk (its images are on the disk too).
#[cfg(feature = "fs")]
fn disk_sources() -> Vec<Source> {
    crate::disk::mount();
    crate::disk::configs()
        .into_iter()
        .map(disk_source)
        .collect()
}

/// A config read from the disk, whose images must be on the disk too.
#[cfg(feature = "fs")]
fn disk_source(found: tessera_vm_disk::DiskConfig) -> Source {
    Source {
        file: found.file,
        config: found
            .result
            .map_err(|error| error.messages().join("; "))
            .and_then(|config| match config.kernel.image_location {
                ImageLocation::Fs => Ok(config),
                ImageLocation::Memory => Err(
                    "kernel.image_location: a config on the disk must say \"fs\": nothing is built in for it"
                        .to_string(),
                ),
            }),
        images: Images::Disk,
    }
}

/// Without the `fs` feature there is no disk to read configs from.
#[cfg(not(feature = "fs"))]
fn disk_sources() -> Vec<Source> {
    Vec::new()
}

/// Config errors as one line.
fn join_errors<E: ToString>(errors: &[E]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Creates a VM for each config, reporting each outcome.
pub fn create_all() -> Vms {
    let mut vms = Vms {
        entries: Vec::new(),
        not_created: 0,
    };
    let mut sources = sources();
    refuse_unmatched_regions(&mut sources, &[]);
    let plan = Plan::of(sources.iter().filter_map(|s| s.config.as_ref().ok()));
    for source in sources {
        let file = source.file.clone();
        match create_beside(source, &vms.entries, &plan) {
            Ok(entry) => vms.entries.push(Arc::new(entry)),
            Err(reason) => {
                println!("tessera: VM of {file} not created: {reason}");
                vms.not_created += 1;
            }
        }
    }
    vms
}

/// `vm create PATH`: a VM from the config at `path` on the FAT32 disk, checked as
/// at boot and beside the VMs that exist (`live`): its id free, its shared regions
/// matching theirs. Its images are read from the disk, and it runs.
#[cfg(feature = "fs")]
pub fn create_from_disk(path: &str, live: &[Arc<VmEntry>]) -> Result<VmEntry, String> {
    let found = crate::disk::config(path)?;
    let mut sources = [disk_source(found)];
    let others: Vec<(&str, &VmConfig)> = live
        .iter()
        .map(|entry| (entry.file.as_str(), &entry.config))
        .collect();
    refuse_unmatched_regions(&mut sources, &others);
    let [source] = sources;
    let plan = Plan::of(
        live.iter()
            .map(|entry| &entry.config)
            .chain(source.config.as_ref().ok()),
    );
    create_beside(source, live, &plan)
}

/// Without the `fs` feature there is no disk to create a VM from.
#[cfg(not(feature = "fs"))]
pub fn create_from_disk(_path: &str, _live: &[Arc<VmEntry>]) -> Result<VmEntry, String> {
    Err("vm create reads configs from the FAT32 disk, which this build does not read (build with APP_FEATURES=fs)".to_string())
}

/// Creates the VM of `source` beside the VMs `others` (its id must be free, and it
/// takes the lowest VMID they leave), and says so.
fn create_beside(
    mut source: Source,
    others: &[Arc<VmEntry>],
    plan: &Plan,
) -> Result<VmEntry, String> {
    // Ids name VMs in every message: a second VM with a taken id is refused.
    if let Ok(config) = &source.config
        && let Some(taken) = others.iter().find(|e| e.vm.id == config.base.id)
    {
        source.config = Err(format!(
            "base.id: VM id {} is already taken by VM {} ({})",
            config.base.id, taken.vm.id, taken.vm.name
        ));
    }
    let vmid = (1..=u8::MAX)
        .find(|vmid| others.iter().all(|e| e.resources.vmid != *vmid))
        .ok_or_else(|| "too many VMs (255 at most)".to_string())?;
    let entry = create(vmid, source, plan)?;
    let pcpus: Vec<usize> = entry.vm.cpus.iter().map(|slot| slot.pcpu).collect();
    println!(
        "tessera: VM {} ({}) created: {} vCPU(s) on CPU(s) {:?}, {} MiB RAM",
        entry.vm.id,
        entry.vm.name,
        entry.vm.cpus.len(),
        pcpus,
        entry
            .vm
            .memory
            .regions()
            .iter()
            .map(|r| r.guest.size)
            .sum::<u64>()
            >> 20
    );
    Ok(entry)
}

/// Refuses the configs whose shared regions do not match those of the VMs created
/// with them or already running (`live`): a region nobody else declares, or of
/// another size elsewhere.
fn refuse_unmatched_regions(sources: &mut [Source], live: &[(&str, &VmConfig)]) {
    let problems = {
        let mut valid: Vec<(&str, &VmConfig)> = live.to_vec();
        valid.extend(
            sources
                .iter()
                .filter_map(|s| Some((s.file.as_str(), s.config.as_ref().ok()?))),
        );
        tessera_config::check_shared_regions(&valid)
    };
    for source in sources.iter_mut() {
        let reasons: Vec<String> = problems
            .iter()
            .filter(|problem| problem.file == source.file)
            .map(|problem| format!("{}: {}", problem.field, problem.reason))
            .collect();
        if !reasons.is_empty() {
            source.config = Err(reasons.join("; "));
        }
    }
}

/// Marks each vCPU pinned to a physical CPU that no other vCPU of any VM shares:
/// nothing else could run there while it waits, so its waits may stay in the guest.
pub fn mark_lone_vcpus(entries: &[Arc<VmEntry>]) {
    let mut pinned = alloc::collections::BTreeMap::<usize, usize>::new();
    for slot in entries.iter().flat_map(|entry| entry.vm.cpus.iter()) {
        *pinned.entry(slot.pcpu).or_default() += 1;
    }
    for slot in entries.iter().flat_map(|entry| entry.vm.cpus.iter()) {
        slot.alone
            .store(pinned.get(&slot.pcpu) == Some(&1), Ordering::Relaxed);
    }
}

fn create(vmid: u8, source: Source, plan: &Plan) -> Result<VmEntry, String> {
    let images = source.images;
    let file = source.file;
    let mut config = source.config?;
    let refused = tessera_config::not_offered(&config, &file, arch::TARGET);
    if !refused.is_empty() {
        let reasons: Vec<String> = refused
            .iter()
            .map(|problem| format!("{}: {}", problem.field, problem.reason))
            .collect();
        return Err(reasons.join("; "));
    }
    place_boot_information(&mut config)?;
    let pcpus = config
        .vcpu_phys_ids()
        .into_iter()
        .map(arch::pcpu_of)
        .collect::<Result<Vec<_>, _>>()?;
    // Whatever fails from here gives the frames back as `resources` is dropped.
    let mut resources = Resources::new(vmid)?;
    let memory = guest_ram::map_all(&config, &mut resources.stage2, &mut resources.backings)?;
    let given = passthrough::assign(&mut config, &mut resources.stage2)?;
    for (field, gpa, hpa, size) in arch::hardware_windows(&config)? {
        passthrough::map_window(&mut resources.stage2, &field, gpa, hpa, size)?;
    }
    let shared = shared_regions::map(&config, plan, &mut resources.stage2)?;
    build(
        file, config, images, pcpus, memory, resources, given, shared,
    )
}

/// Gives a config without `kernel.dtb_load_addr` (and without `dtb_path`, which needs
/// one) the address [`place_boot_data`] picks for the device tree or boot block, and
/// says so.
fn place_boot_information(config: &mut VmConfig) -> Result<(), String> {
    if config.kernel.dtb_load_addr.is_some() {
        return Ok(());
    }
    let ram: Vec<GuestRange> = config
        .kernel
        .memory_regions
        .iter()
        .map(|region| GuestRange::new(GuestPhysAddr::new(region.gpa), region.size))
        .collect();
    let at = place_boot_data(&ram, config.kernel.kernel_load_addr).ok_or_else(|| {
        format!(
            "kernel.dtb_load_addr: not given, and the RAM region holding the kernel has no \
             free {} MiB block above it below its top 2 MiB for the boot information: \
             give an address",
            BOOT_DATA_ROOM >> 20
        )
    })?;
    println!(
        "tessera: VM {} ({}): no kernel.dtb_load_addr: boot information placed at {:#x}",
        config.base.id,
        config.base.name,
        at.raw()
    );
    config.kernel.dtb_load_addr = Some(at.raw());
    Ok(())
}

/// Devices, images and vCPUs of a VM whose memory is ready.
#[allow(clippy::too_many_arguments)]
fn build(
    file: String,
    config: VmConfig,
    images: Images,
    pcpus: Vec<usize>,
    memory: GuestMemory,
    resources: Resources,
    given: Passthrough,
    shared: Vec<SharedMapping>,
) -> Result<VmEntry, String> {
    let mut devices = create_devices(&config, shared, &pcpus)?;
    let console = devices.console.take();
    let dtb = match (images, &config.kernel.dtb_path) {
        (Images::Embedded(VmImages { dtb: Some(dtb), .. }), _) => dtb.to_vec(),
        // Loaded from the disk with the other images.
        (Images::Disk, Some(_)) => Vec::new(),
        _ => {
            let initrd = ramdisk_size(images, &config)?
                .zip(config.kernel.ramdisk_load_addr)
                .map(|(size, addr)| GuestRange::new(GuestPhysAddr::new(addr), size));
            let ram: Vec<GuestRange> = memory.regions().iter().map(|r| r.guest).collect();
            let shared: Vec<SharedRegionNode> =
                devices.doorbells.iter().map(Doorbell::node).collect();
            arch::build_boot_data(
                &config,
                &ram,
                &devices.arch,
                devices.console_node,
                &given.nodes,
                &shared,
                initrd,
            )?
        }
    };
    let created_at = hal::counter_ticks();
    let vcpus = pcpus
        .iter()
        .enumerate()
        .map(|(index, &pcpu)| {
            let setup = arch::VcpuSetup {
                vmid: resources.vmid,
                root: resources.stage2.root(),
                index,
                pcpus: &pcpus,
                created_at,
                memory: &memory,
                config: &config,
            };
            Ok((pcpu, arch::new_vcpu(&setup)?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if !given.irqs.is_empty() && !devices.arch.irqchip.is_present() {
        return Err(
            "devices.passthrough_devices: the devices' interrupts need an emulated interrupt controller in emu_devices".to_string(),
        );
    }
    // SAFETY: every region of `memory` is RAM `guest_ram::map_all` took from the frame
    // allocator for this VM (identity-mapped), given back only when the VM is not
    // created.
    let vm = unsafe {
        Vm::new(
            config.base.id,
            config.base.name.clone(),
            memory,
            VmDevices {
                mmio: devices.bus,
                ports: devices.ports,
                power: devices.power,
                console: devices.firmware_console,
            },
            VmCpus {
                vcpus,
                irqchip: devices.arch.irqchip.clone(),
                passthrough_irqs: given.irqs,
            },
        )
    };
    let farewell = Farewell {
        id: vm.id,
        name: vm.name.clone(),
        deleted: AtomicBool::new(false),
    };
    let entry = VmEntry {
        vm,
        file,
        dtb,
        config,
        images,
        doorbells: devices.doorbells,
        booted: AtomicBool::new(false),
        reported: AtomicBool::new(false),
        report_done: AtomicBool::new(false),
        resources,
        farewell,
    };
    entry.load_and_reset()?;
    let pcpu = entry.vm.cpus.first().map_or(0, |slot| slot.pcpu);
    irq::claim(entry.vm.id, &entry.vm.passthrough_irqs, pcpu)?;
    if let Some(input) = console {
        console::register_input(input);
    }
    Ok(entry)
}

/// The size of the VM's ramdisk, if it has one.
fn ramdisk_size(images: Images, config: &VmConfig) -> Result<Option<u64>, String> {
    match (images, &config.kernel.ramdisk_path) {
        (Images::Embedded(images), _) => Ok(images.ramdisk.map(|r| r.len() as u64)),
        (Images::Disk, None) => Ok(None),
        #[cfg(feature = "fs")]
        (Images::Disk, Some(path)) => crate::disk::file_size(path)
            .map(Some)
            .map_err(|e| format!("kernel.ramdisk_path: {e}")),
        #[cfg(not(feature = "fs"))]
        (Images::Disk, Some(_)) => Err(NO_DISK_SUPPORT.to_string()),
    }
}

/// Why an `"fs"` VM cannot start in a build without the disk.
#[cfg(not(feature = "fs"))]
const NO_DISK_SUPPORT: &str = "kernel.image_location: \"fs\" images are on the FAT32 disk, which this build does not read (build with APP_FEATURES=fs)";

/// A VM's emulated devices, and what its device tree says of them.
struct Devices {
    bus: MmioBus,
    ports: PortBus,
    power: Arc<PowerLatch>,
    console: Option<ConsoleInput>,
    /// The console as firmware calls reach it.
    firmware_console: Option<Arc<dyn FirmwareConsole>>,
    /// The console's window and interrupt, for the device tree.
    console_node: Option<(GuestRange, u32)>,
    /// The doorbells of the regions it shares.
    doorbells: Vec<Doorbell>,
    arch: ArchDevices,
}

/// The buses under construction, placing each `emu_devices` row's model.
pub struct DeviceLayout {
    bus: MmioBus,
    ports: PortBus,
    /// Where the VM's power and reset registers put the guest's requests.
    pub power: Arc<PowerLatch>,
}

impl DeviceLayout {
    /// Puts `model` at the window `device` names; returns that window.
    pub fn insert(
        &mut self,
        field: &str,
        device: &EmulatedDevice,
        model: Box<dyn SharedMmio>,
    ) -> Result<GuestRange, String> {
        let range = GuestRange::new(GuestPhysAddr::new(device.gpa), device.length);
        self.insert_window(field, range, model)?;
        Ok(range)
    }

    /// Puts `model` at the window `range`, for `field`.
    pub fn insert_window(
        &mut self,
        field: &str,
        range: GuestRange,
        model: Box<dyn SharedMmio>,
    ) -> Result<(), String> {
        self.bus
            .insert(range, model)
            .map_err(|e| format!("{field}: {e}"))
    }

    /// Puts `model` on the I/O ports at `base` (`count` of them), for `field`.
    pub fn insert_ports(
        &mut self,
        field: &str,
        base: u64,
        count: u64,
        model: Box<dyn SharedPort>,
    ) -> Result<(), String> {
        let (Ok(base), Ok(count)) = (u16::try_from(base), u16::try_from(count)) else {
            return Err(format!(
                "{field}: I/O ports {base:#x} (+{count:#x}) lie beyond port 0xffff"
            ));
        };
        self.insert_port_windows(field, &[PortRange::new(base, count)], model)
    }

    /// Puts `model` on the I/O port windows `ranges` (its port offsets run through
    /// them in order); `what` names it in errors.
    pub fn insert_port_windows(
        &mut self,
        what: &str,
        ranges: &[PortRange],
        model: Box<dyn SharedPort>,
    ) -> Result<(), String> {
        self.ports
            .insert_windows(ranges, model)
            .map_err(|e| format!("{what}: {e}"))
    }
}

/// The emulated devices of the config: the architecture's interrupt controller, the
/// console, then the doorbells of the regions it shares (its vCPUs on `pcpus`).
fn create_devices(
    config: &VmConfig,
    shared: Vec<SharedMapping>,
    pcpus: &[usize],
) -> Result<Devices, String> {
    let mut layout = DeviceLayout {
        bus: MmioBus::new(),
        ports: PortBus::new(),
        power: Arc::new(PowerLatch::default()),
    };
    let arch = arch::create_devices(config, &mut layout)?;
    let mut console = None;
    let mut firmware_console: Option<Arc<dyn FirmwareConsole>> = None;
    let mut console_node = None;
    for (i, device) in config.devices.emu_devices.iter().enumerate() {
        let field = format!("devices.emu_devices[{i}] ({})", device.name);
        match device.emu_type {
            EmuType::Console => {
                let line = u32::try_from(device.irq)
                    .ok()
                    .and_then(|irq| arch.irqchip.line(irq));
                let window = UartWindow::new(config.base.id, &config.base.name, line);
                console = Some(window.input());
                firmware_console = Some(Arc::new(window.firmware_console()));
                let range = if arch::CONSOLE_ON_PORTS {
                    layout.insert_ports(
                        &field,
                        device.gpa,
                        device.length,
                        Box::new(OnPorts(window)),
                    )?;
                    GuestRange::new(GuestPhysAddr::new(device.gpa), device.length)
                } else {
                    layout.insert(&field, device, Box::new(window))?
                };
                console_node = Some((range, u32::try_from(device.irq).unwrap_or(0)));
            }
            _ if arch::is_arch_device(device) => {}
            other => {
                return Err(format!(
                    "{field}: emulated device type {:#x} is not supported on this architecture yet",
                    other.code()
                ));
            }
        }
    }
    let doorbells = shared_regions::attach_doorbells(shared, &arch.irqchip, pcpus, &mut layout)?;
    Ok(Devices {
        doorbells,
        bus: layout.bus,
        ports: layout.ports,
        power: layout.power,
        console,
        firmware_console,
        console_node,
        arch,
    })
}

impl VmEntry {
    /// Copies the images and device tree (or boot block) into guest RAM, lays the
    /// kernel out as its boot protocol asks, and puts vCPU 0 at the entry point (its
    /// argument the device tree's address); used at creation and on reset.
    pub fn load_and_reset(&self) -> Result<(), String> {
        let kernel = &self.config.kernel;
        let kernel_size = match self.images {
            Images::Embedded(images) => {
                let image = images
                    .kernel
                    .ok_or_else(|| "kernel.kernel_path: no image was built in".to_string())?;
                self.load("kernel.kernel_load_addr", kernel.kernel_load_addr, image)?;
                if let (Some(ramdisk), Some(addr)) = (images.ramdisk, kernel.ramdisk_load_addr) {
                    self.load("kernel.ramdisk_load_addr", addr, ramdisk)?;
                }
                image.len() as u64
            }
            #[cfg(feature = "fs")]
            Images::Disk => crate::disk::load_images(&self.config, &self.vm.memory)?,
            #[cfg(not(feature = "fs"))]
            Images::Disk => return Err(NO_DISK_SUPPORT.to_string()),
        };
        self.vm.irqchip.reset();
        self.doorbells.iter().for_each(Doorbell::reset);
        let dtb_addr = kernel
            .dtb_load_addr
            .ok_or_else(|| "kernel.dtb_load_addr: needed to place the device tree".to_string())?;
        let dtb = GuestRange::new(GuestPhysAddr::new(dtb_addr), self.dtb.len() as u64);
        // Empty when the device tree came from the disk with the images.
        if !self.dtb.is_empty() {
            let image = GuestRange::new(GuestPhysAddr::new(kernel.kernel_load_addr), kernel_size);
            if dtb.overlaps(&image) {
                return Err(format!(
                    "kernel.dtb_load_addr: the boot information at {dtb_addr:#x} ({} bytes) \
                     overlaps the kernel image at {:#x} ({kernel_size} bytes)",
                    self.dtb.len(),
                    kernel.kernel_load_addr
                ));
            }
            self.load("kernel.dtb_load_addr", dtb_addr, &self.dtb)?;
        }
        let entry = arch::place_kernel(&self.config, &self.vm.memory, kernel_size, dtb)?;
        let first = self
            .vm
            .cpus
            .first()
            .ok_or_else(|| "base.cpu_num: the VM has no vCPU".to_string())?;
        first.vcpu.lock().reset(entry, dtb_addr);
        Ok(())
    }

    /// Copies `bytes` to guest address `addr`, which must leave them wholly in RAM.
    fn load(&self, field: &str, addr: u64, bytes: &[u8]) -> Result<(), String> {
        let host = self
            .vm
            .memory
            .host_span(GuestPhysAddr::new(addr), bytes.len() as u64)
            .map_err(|e| format!("{field}: {e}"))?;
        // SAFETY: `host_span` proved the span lies in this VM's RAM, which the
        // hypervisor allocated, identity-maps, and no vCPU of the VM is running.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), host.raw() as *mut u8, bytes.len())
        };
        hal::sync_caches_for_guest(host.raw(), bytes.len() as u64);
        Ok(())
    }

    /// Prints the VM's first boot once.
    pub fn note_boot(&self, cpu: usize) {
        if !self.booted.swap(true, Ordering::AcqRel) {
            println!(
                "tessera: VM {} ({}) booted on CPU {cpu}",
                self.vm.id, self.vm.name
            );
        }
    }

    /// Readies a VM the operator starts or restarts: its next end is reported again,
    /// and a stopped VM takes its passthrough interrupts back.
    pub fn prepare_start(&self) -> Result<(), String> {
        if self.vm.status() == VmStatus::Stopped {
            let pcpu = self.vm.cpus.first().map_or(0, |slot| slot.pcpu);
            irq::claim(self.vm.id, &self.vm.passthrough_irqs, pcpu)?;
        }
        self.reported.store(false, Ordering::Release);
        self.report_done.store(false, Ordering::Release);
        Ok(())
    }

    /// `vm show`: where the VM comes from, what it has, its exits, how it last ended.
    pub fn show(&self) {
        let vm = &self.vm;
        let kernel = &self.config.kernel;
        println!(
            "tessera: VM {} ({}): {}, from {}",
            vm.id,
            vm.name,
            vm.status().name(),
            self.file
        );
        let cpus: Vec<String> = vm
            .cpus
            .iter()
            .map(|slot| format!("{}", slot.pcpu))
            .collect();
        println!("  vCPUs: {} on CPU(s) {}", vm.cpus.len(), cpus.join(", "));
        for region in vm.memory.regions() {
            println!(
                "  RAM: {:#x}..{:#x} ({} KiB)",
                region.guest.start.raw(),
                region.guest.start.raw() + region.guest.size,
                region.guest.size >> 10
            );
        }
        println!(
            "  kernel: {} at {:#x}, entry {:#x}",
            kernel.kernel_path, kernel.kernel_load_addr, kernel.entry_point
        );
        if let Some(cmdline) = &kernel.cmdline {
            println!("  command line: {cmdline}");
        }
        for device in &self.config.devices.emu_devices {
            println!(
                "  emulated: {} at {:#x} (+{:#x}), interrupt {}",
                device.name, device.gpa, device.length, device.irq
            );
        }
        for doorbell in &self.doorbells {
            println!("  {}", doorbell.report());
        }
        println!("  {}", vm.exits);
        match vm.last_end() {
            Some(reason) => println!("  last end: {reason}"),
            None => println!("  last end: none yet"),
        }
    }

    /// Marks the VM as deleted: when the last CPU lets it go, its resources go back
    /// and the console says so.
    pub fn mark_deleted(&self) {
        self.farewell.deleted.store(true, Ordering::Release);
    }

    /// Whether the VM's end has been printed.
    pub fn end_reported(&self) -> bool {
        self.report_done.load(Ordering::Acquire)
    }

    /// Prints how the VM ended, once.
    pub fn report_end(&self) {
        if let Some(reason) = self.vm.end_reason()
            && !self.reported.swap(true, Ordering::AcqRel)
        {
            irq::release(self.vm.id);
            self.vm.flush_console();
            console::end_guest_line();
            println!(
                "tessera: VM {} ({}) ended: {reason}",
                self.vm.id, self.vm.name
            );
            println!(
                "tessera: VM {} ({}) {}",
                self.vm.id, self.vm.name, self.vm.exits
            );
            for doorbell in &self.doorbells {
                println!(
                    "tessera: VM {} ({}) {}",
                    self.vm.id,
                    self.vm.name,
                    doorbell.report()
                );
            }
            self.report_done.store(true, Ordering::Release);
        }
    }
}
