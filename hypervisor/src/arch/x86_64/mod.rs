//! x86_64: guests under AMD SVM with nested paging, entered through the Linux boot
//! protocol's 64-bit entry (the boot block: zero page, command line, GDT, identity
//! map) or, with `boot_protocol = "multiboot"`, as multiboot kernels (32-bit entry,
//! the multiboot information block), with their console on COM1's I/O ports and the
//! PC's power and reset ports.

mod ipi;
mod irqchip;

pub use irqchip::{IrqChip, IrqLine, handle_host_interrupts};

use super::VcpuSetup;
use crate::vmm::DeviceLayout;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use tessera_addr::{GuestPhysAddr, GuestRange};
use tessera_config::{EmulatedDevice, VmConfig};
use tessera_dtb::{CopiedNode, SharedRegionNode};
use tessera_os::{hal, platform, println};
use tessera_vcpu_x86::{EntryMode, X86VcpuConfig};
use tessera_vdev::{
    AcpiPmControl, CharSink, KeyboardReset, Locked, ResetControl, SerialPort, Uart16550,
};
use tessera_vm::GuestMemory;
use tessera_x86_boot::{
    AcpiConfig, BzImage, IoApicEntry, IsaOverride, Module, MultibootHeader, PmPorts, ResetRegister,
    ZERO_PAGE_OFFSET, ZERO_PAGE_SIZE, add_setup_header, build_acpi_tables, build_boot_block,
    build_multiboot_info, build_plain_boot_params, cmdline_address, kernel_entry_64, pc_memory_map,
};

/// The vCPU of this architecture.
pub type Vcpu = tessera_vcpu_x86::X86Vcpu;
/// The nested page table layout of this architecture.
pub type Stage2Format = tessera_stage2::X86Npt;

/// This architecture as the VM layer sees it: its vCPU and its VMs' interrupt
/// controller.
pub struct Arch;

impl tessera_vm::Arch for Arch {
    type Vcpu = Vcpu;
    type IrqChip = IrqChip;
}

/// Console UARTs sit on I/O ports, as COM1 does on a PC.
pub const CONSOLE_ON_PORTS: bool = true;

/// The architecture VM configs are checked against (`tessera_config::not_offered`).
pub const TARGET: tessera_config::TargetArch = tessera_config::TargetArch::X86_64;

/// The architecture and the virtualization it uses, for the banner.
pub const NAME: &str = "x86_64, AMD SVM with nested paging";

/// The PC's power and reset ports every VM has: PM1a control (the chipset's ACPI
/// block at 0x600, as on QEMU's q35), reset control, and the keyboard controller's
/// command port.
const PM1A_CONTROL_PORT: u64 = 0x604;
const RESET_CONTROL_PORT: u64 = 0xcf9;
const KEYBOARD_COMMAND_PORT: u64 = 0x64;
/// Where a VM's ACPI tables go: the BIOS area the e820 map reserves, whose 16-byte
/// boundaries a guest scans for the RSDP.
const ACPI_TABLES_GPA: u64 = 0xe_0000;
/// The CMOS index of the century byte (`tessera_vdev::Cmos`).
const CMOS_CENTURY: u8 = 0x32;

/// Turns SVM on for this CPU; without SVM and nested paging no guest can run, so
/// the machine is powered off with the reason.
pub fn init_cpu_for_guests() {
    if let Err(error) = hal::svm::enable() {
        println!("tessera: CPU {}: {error}", hal::cpu_index());
        hal::power_off();
    }
}

/// The physical CPU index of a local APIC id on this platform (the same number).
pub fn pcpu_of(apic_id: u64) -> Result<usize, String> {
    usize::try_from(apic_id)
        .ok()
        .filter(|&index| index < platform::CPU_COUNT)
        .ok_or_else(|| {
            format!(
                "base.phys_cpu_ids: no CPU with APIC id {apic_id} (this platform has {})",
                platform::CPU_COUNT
            )
        })
}

/// The vCPU `setup` describes; its VM's ASID is its number plus one (0 is the host's),
/// and its time-stamp counter starts at zero when the VM is created.
pub fn new_vcpu(setup: &VcpuSetup<'_>) -> Result<Vcpu, String> {
    let ram = setup
        .memory
        .regions()
        .iter()
        .map(|region| (region.guest, region.host))
        .collect();
    Vcpu::new(X86VcpuConfig {
        asid: u32::from(setup.vmid) + 1,
        ncr3: setup.root,
        index: setup.index as u32,
        count: setup.pcpus.len() as u32,
        tsc_offset: setup.created_at.wrapping_neg(),
        tsc_hz: hal::timer::counter_frequency(),
        ram,
        entry: if setup.config.kernel.is_multiboot() {
            EntryMode::Multiboot
        } else {
            EntryMode::Linux64
        },
    })
    .ok_or_else(|| "out of host memory for the vCPU's permission maps".to_string())
}

/// A VM's interrupt controller.
pub struct ArchDevices {
    /// Its interrupt state.
    pub irqchip: IrqChip,
}

/// The windows of the host's interrupt controller itself a VM is given: none here
/// (every part of it is emulated).
pub fn hardware_windows(_config: &VmConfig) -> Result<Vec<(String, u64, u64, u64)>, String> {
    Ok(Vec::new())
}

/// Whether an `emu_devices` row is one [`create_devices`] handles: none yet, the
/// interrupt controllers of a PC are not offered as rows.
pub fn is_arch_device(_device: &EmulatedDevice) -> bool {
    false
}

/// Puts the PC's interrupt controllers, timer, clock, power and reset ports on the
/// VM's port bus.
pub fn create_devices(config: &VmConfig, layout: &mut DeviceLayout) -> Result<ArchDevices, String> {
    let power = layout.power.clone();
    layout.insert_ports(
        "PM1a control",
        PM1A_CONTROL_PORT,
        2,
        Box::new(Locked::port(AcpiPmControl::new(power.clone()))),
    )?;
    layout.insert_ports(
        "reset control",
        RESET_CONTROL_PORT,
        1,
        Box::new(Locked::port(ResetControl::new(power.clone()))),
    )?;
    layout.insert_ports(
        "keyboard controller",
        KEYBOARD_COMMAND_PORT,
        1,
        Box::new(Locked::port(KeyboardReset::new(power))),
    )?;
    Ok(ArchDevices {
        irqchip: IrqChip::new(layout, config.base.cpu_num)?,
    })
}

/// The virtio-blk disk on the PC's PCI bus 0.
#[cfg(feature = "fs")]
pub fn find_disk() -> Result<tessera_os::disk::Disk, alloc::string::String> {
    use alloc::string::ToString;
    // SAFETY: the platform's PCIe configuration window and the BARs the firmware
    // assigned lie in the identity-mapped low 4 GiB, uncached by the MTRRs; no VM
    // is given PCI devices.
    unsafe { tessera_os::disk::Disk::probe_pci(tessera_os::platform::ECAM_BASE) }
        .map_err(|e| e.to_string())
}

/// The serial port model of a console: a 16550.
pub fn new_console_port(sink: Box<dyn CharSink>) -> Box<dyn SerialPort> {
    Box::new(Uart16550::new(sink))
}

/// What a VM boots with at `dtb_load_addr`: the boot block, whose zero page holds
/// the VM's RAM as the e820 map (with the PC's legacy hole reserved), its command
/// line and initrd (a bzImage's setup header is added by [`place_kernel`]); for a
/// multiboot kernel, the multiboot information block with the same map, command
/// line, and the initrd as its one module.
pub fn build_boot_data(
    config: &VmConfig,
    ram: &[GuestRange],
    _devices: &ArchDevices,
    _console: Option<(GuestRange, u32)>,
    passthrough: &[CopiedNode],
    shared: &[SharedRegionNode],
    initrd: Option<GuestRange>,
) -> Result<Vec<u8>, String> {
    if !passthrough.is_empty() {
        return Err("devices.passthrough_devices: not offered on x86_64 yet".into());
    }
    if !shared.is_empty() {
        return Err("devices.shared_regions: not offered on x86_64 yet".into());
    }
    let addr = config
        .kernel
        .dtb_load_addr
        .ok_or("kernel.dtb_load_addr: needed to place the boot block")?;
    let cmdline = config.kernel.cmdline.as_deref().unwrap_or("").as_bytes();
    let cmdline_at =
        cmdline_address(addr, cmdline).map_err(|e| format!("kernel.dtb_load_addr: {e}"))?;
    let regions: Vec<(u64, u64)> = ram.iter().map(|r| (r.start.raw(), r.size)).collect();
    let e820 = pc_memory_map(&regions).map_err(|e| format!("kernel.memory_regions: {e}"))?;
    if config.kernel.is_multiboot() {
        let module = initrd.map(|range| Module {
            start: range.start.raw(),
            size: range.size,
        });
        return build_multiboot_info(addr, &e820, cmdline, module)
            .map_err(|e| format!("kernel.dtb_load_addr: {e}"));
    }
    let initrd = match initrd {
        Some(range) => Some((
            range.start.raw(),
            u32::try_from(range.size)
                .map_err(|_| "kernel.ramdisk_path: larger than 4 GiB".to_string())?,
        )),
        None => None,
    };
    let zero_page = build_plain_boot_params(
        &e820,
        if cmdline.is_empty() { 0 } else { cmdline_at },
        initrd,
    )
    .map_err(|e| format!("boot parameters: {e}"))?;
    build_boot_block(addr, &zero_page, cmdline).map_err(|e| format!("kernel.dtb_load_addr: {e}"))
}

/// Lays out a kernel that was copied whole (`size` bytes) to `kernel_load_addr`,
/// once the boot information (`boot_data`) is in guest RAM too, and gives the
/// address its vCPU starts at. A multiboot kernel goes where its header says
/// ([`place_multiboot`]). A bzImage is laid out as the Linux boot protocol asks: its
/// setup header goes into the zero page and its protected-mode kernel moves down to
/// `kernel_load_addr`, whose 64-bit entry point (0x200 further on) `entry_point`
/// must be, and the VM's ACPI tables go to the BIOS area ([`place_acpi_tables`]).
/// Other images run as they are, from `entry_point`.
pub fn place_kernel(
    config: &VmConfig,
    memory: &GuestMemory,
    size: u64,
    boot_data: GuestRange,
) -> Result<GuestPhysAddr, String> {
    let load = config.kernel.kernel_load_addr;
    let host = memory
        .host_span(GuestPhysAddr::new(load), size)
        .map_err(|e| format!("kernel.kernel_load_addr: {e}"))?;
    let len = usize::try_from(size).map_err(|_| "kernel.kernel_path: too large".to_string())?;
    // SAFETY: `host_span` proved the `size` bytes lie in this VM's RAM, which the
    // hypervisor allocated and identity-maps; no vCPU of the VM is running.
    let image = unsafe { core::slice::from_raw_parts_mut(host.raw() as *mut u8, len) };
    if config.kernel.is_multiboot() {
        return place_multiboot(config, memory, image, boot_data);
    }
    let start = GuestPhysAddr::new(config.kernel.entry_point);
    if !BzImage::is_bzimage(image) {
        return Ok(start);
    }
    let bz = BzImage::parse(image).map_err(|e| format!("kernel.kernel_path: {e}"))?;
    let entry = kernel_entry_64(load);
    if config.kernel.entry_point != entry {
        return Err(format!(
            "kernel.entry_point: {:#x}, but a bzImage loaded at {load:#x} starts at its \
             64-bit entry point {entry:#x}",
            config.kernel.entry_point
        ));
    }
    let need = u64::from(bz.init_size()).max(size);
    memory
        .host_span(GuestPhysAddr::new(load), need)
        .map_err(|_| {
            format!(
                "kernel.kernel_load_addr: the kernel needs {need:#x} bytes of RAM from \
                 {load:#x} (its init_size)"
            )
        })?;
    let boot_block = config
        .kernel
        .dtb_load_addr
        .ok_or("kernel.dtb_load_addr: needed to place the boot block")?;
    let page_at = boot_block.saturating_add(ZERO_PAGE_OFFSET);
    if page_at < load.saturating_add(size) && load < page_at.saturating_add(ZERO_PAGE_SIZE as u64) {
        return Err(format!(
            "kernel.dtb_load_addr: the boot block at {boot_block:#x} overlaps the kernel \
             image at {load:#x}"
        ));
    }
    let page_host = memory
        .host_span(GuestPhysAddr::new(page_at), ZERO_PAGE_SIZE as u64)
        .map_err(|e| format!("kernel.dtb_load_addr: {e}"))?;
    // SAFETY: the page lies in this VM's RAM (checked above), apart from the image.
    let page = unsafe { &mut *(page_host.raw() as *mut [u8; ZERO_PAGE_SIZE]) };
    let cmdline_len = config.kernel.cmdline.as_deref().map_or(0, str::len);
    add_setup_header(page, &bz, u32::try_from(cmdline_len).unwrap_or(u32::MAX))
        .map_err(|e| format!("boot parameters: {e}"))?;
    let payload = bz.kernel_offset()..len;
    image.copy_within(payload, 0);
    place_acpi_tables(config, memory)?;
    Ok(start)
}

/// Writes the VM's ACPI tables to [`ACPI_TABLES_GPA`]: its vCPUs (local APIC ids 0
/// up), its I/O APIC with the PC's IRQ 0 -> GSI 2 override, the PM timer, PM1 event
/// and control blocks of the chipset's ACPI block at 0x600, the reset register
/// 0xcf9, and `\_S5` (sleep type 5, the power-off PM1a control takes).
fn place_acpi_tables(config: &VmConfig, memory: &GuestMemory) -> Result<(), String> {
    let field = "kernel.memory_regions";
    let tables = build_acpi_tables(&AcpiConfig {
        base: ACPI_TABLES_GPA,
        cpus: u32::try_from(config.base.cpu_num).unwrap_or(u32::MAX),
        io_apic: Some(IoApicEntry {
            id: 0,
            address: tessera_vdev::IoApic::BASE as u32,
            gsi_base: 0,
        }),
        isa_overrides: alloc::vec![IsaOverride {
            irq: 0,
            gsi: 2,
            flags: IsaOverride::CONFORMING,
        }],
        pm: PmPorts {
            pm1a_event: tessera_vdev::PmEvent::PORTS.base,
            pm1a_control: PM1A_CONTROL_PORT as u16,
            pm_timer: tessera_vdev::PmTimer::PORTS.base,
        },
        pm_timer_32bit: true,
        sci_irq: 9,
        reset: Some(ResetRegister {
            port: RESET_CONTROL_PORT as u16,
            value: 0x06,
        }),
        power_button: false,
        legacy_devices: true,
        i8042: false,
        rtc_century: CMOS_CENTURY,
        s5_sleep_type: 5,
        oem_id: *b"TSSERA",
        oem_table_id: *b"TESSERA ",
    })
    .map_err(|e| format!("base.cpu_num: ACPI tables: {e}"))?;
    let host = memory
        .host_span(GuestPhysAddr::new(ACPI_TABLES_GPA), tables.len() as u64)
        .map_err(|e| format!("{field}: the ACPI tables at {ACPI_TABLES_GPA:#x}: {e}"))?;
    // SAFETY: `host_span` proved the bytes lie in this VM's RAM (the BIOS area the
    // e820 map reserves, which no image is loaded into), identity-mapped; no vCPU of
    // the VM runs.
    unsafe { core::ptr::copy_nonoverlapping(tables.as_ptr(), host.raw() as *mut u8, tables.len()) };
    Ok(())
}

/// Copies a multiboot kernel's loaded part from where the image was copied
/// (`image`, at `kernel_load_addr`) to the header's `load_addr`, zeroes its bss, and
/// gives its 32-bit entry point; the information block (`boot_data`) and the
/// initrd must lie outside what it occupies.
fn place_multiboot(
    config: &VmConfig,
    memory: &GuestMemory,
    image: &[u8],
    boot_data: GuestRange,
) -> Result<GuestPhysAddr, String> {
    let field = "kernel.kernel_path";
    let header = MultibootHeader::find(image).map_err(|e| format!("{field}: {e}"))?;
    let layout = header
        .layout(image.len())
        .map_err(|e| format!("{field}: {e}"))?;
    let kernel = &config.kernel;
    if header.needs_aligned_modules() && kernel.ramdisk_load_addr.is_some_and(|at| at % 4096 != 0) {
        return Err(
            "kernel.ramdisk_load_addr: the multiboot kernel asks for modules on 4 KiB pages".into(),
        );
    }
    let occupied = GuestRange::new(
        GuestPhysAddr::new(layout.load_addr),
        layout.bss_end - layout.load_addr,
    );
    let target = memory
        .host_span(occupied.start, occupied.size)
        .map_err(|e| format!("{field}: the multiboot kernel's load_addr..bss_end_addr: {e}"))?;
    if occupied.overlaps(&boot_data) {
        return Err(format!(
            "kernel.dtb_load_addr: the multiboot information at {:#x} overlaps the kernel at {:#x}..{:#x}",
            boot_data.start.raw(),
            layout.load_addr,
            layout.bss_end
        ));
    }
    if kernel
        .ramdisk_load_addr
        .is_some_and(|at| occupied.contains(GuestPhysAddr::new(at)))
    {
        return Err(format!(
            "kernel.ramdisk_load_addr: inside the multiboot kernel at {:#x}..{:#x}",
            layout.load_addr, layout.bss_end
        ));
    }
    // `layout` keeps the file range inside the file.
    let (start, end) = layout.file_range;
    let loaded = end - start;
    let source = image.as_ptr().wrapping_add(start);
    // SAFETY: `target` is `occupied.size` bytes of this VM's RAM (checked above), at
    // least `loaded` of them, which the hypervisor identity-maps and no vCPU of the VM
    // runs on; `source` is `loaded` bytes of the image in the same RAM, and `copy`
    // allows the two to overlap.
    unsafe {
        let dest = target.raw() as *mut u8;
        core::ptr::copy(source, dest, loaded);
        core::ptr::write_bytes(dest.add(loaded), 0, occupied.size as usize - loaded);
    }
    hal::sync_caches_for_guest(target.raw(), occupied.size);
    if kernel.entry_point != layout.entry {
        println!(
            "tessera: VM {} ({}): multiboot kernel entered at {:#x}, its header's entry (kernel.entry_point {:#x} is not used: Tessera loads the kernel itself)",
            config.base.id, config.base.name, layout.entry, kernel.entry_point
        );
    }
    if let Some(bios) = &kernel.bios_path {
        println!(
            "tessera: VM {} ({}): kernel.bios_path \"{bios}\" is not run: Tessera loads and enters the multiboot kernel as that BIOS would",
            config.base.id, config.base.name
        );
    }
    Ok(GuestPhysAddr::new(layout.entry))
}

/// x86 offers no passthrough interrupts yet.
pub fn is_device_irq(_irq: u32) -> bool {
    false
}

/// The interrupt controller named in messages.
pub fn interrupt_controller() -> &'static str {
    "PIC pair"
}

/// The console is on I/O ports: no window in the address space.
pub const CONSOLE_WINDOW: u64 = 0;

/// Physical windows no VM may own: the interrupt controllers (what, base, size).
pub fn interrupt_controller_windows() -> Vec<(&'static str, u64, u64)> {
    alloc::vec![
        ("the I/O APIC", platform::IOAPIC_BASE, 0x1000),
        ("the local APICs", platform::LAPIC_BASE, 0x1000),
    ]
}

/// None: every x86 VM has the PC's PIC pair, and x86 offers no passthrough yet.
pub fn emulated_interrupt_controller(_cpus: usize) -> Option<Vec<EmulatedDevice>> {
    None
}

/// Never called: [`is_device_irq`] admits no passthrough interrupt on x86.
pub fn enable_device_irq(irq: u32, _pcpu: usize) {
    log::warn!("interrupt {irq}: passthrough interrupts are not offered on x86_64");
}

/// Never called: see [`enable_device_irq`].
pub fn disable_device_irq(_irq: u32) {}

/// Sets this CPU's wake-up timer for host counter value `at` (the earliest local
/// APIC timer of its waiting vCPUs, `ArchVcpu::timer_deadline`), unless it is set
/// earlier already.
pub fn wake_at(at: Option<u64>) {
    if let Some(at) = at {
        hal::timer::wake_at(at);
    }
}

/// Wakes physical CPU `cpu` (or all others) to look at its vCPUs again.
pub fn kick(cpu: Option<usize>) {
    hal::kick(cpu);
}
