//! x86_64: guests under AMD SVM with nested paging, entered through the Linux boot
//! protocol's 64-bit entry (the boot block: zero page, command line, GDT, identity
//! map), with their console on COM1's I/O ports and the PC's power and reset ports.

mod irqchip;

pub use irqchip::{IrqChip, IrqLine, handle_host_interrupts};

use crate::vmm::{DeviceLayout, VcpuSetup};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use tessera_addr::GuestRange;
use tessera_config::{EmulatedDevice, VmConfig};
use tessera_dtb::CopiedNode;
use tessera_os::{hal, platform, println};
use tessera_vcpu_x86::X86VcpuConfig;
use tessera_vdev::{AcpiPmControl, CharSink, KeyboardReset, ResetControl, SerialPort, Uart16550};
use tessera_x86_boot::{
    BzImage, build_boot_block, build_boot_params, build_plain_boot_params, cmdline_address,
    kernel_entry_64, pc_memory_map,
};

/// The vCPU of this architecture.
pub type Vcpu = tessera_vcpu_x86::X86Vcpu;
/// The nested page table layout of this architecture.
pub type Stage2Format = tessera_stage2::X86Npt;

/// Console UARTs sit on I/O ports, as COM1 does on a PC.
pub const CONSOLE_ON_PORTS: bool = true;

/// The architecture and the virtualization it uses, for the banner.
pub const NAME: &str = "x86_64, AMD SVM with nested paging";

/// The PC's power and reset ports every VM has: PM1a control (the chipset's ACPI
/// block at 0x600, as on QEMU's q35), reset control, and the keyboard controller's
/// command port.
const PM1A_CONTROL_PORT: u64 = 0x604;
const RESET_CONTROL_PORT: u64 = 0xcf9;
const KEYBOARD_COMMAND_PORT: u64 = 0x64;

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
        count: setup.count as u32,
        tsc_offset: setup.created_at.wrapping_neg(),
        ram,
    })
    .ok_or_else(|| "out of host memory for the vCPU's permission maps".to_string())
}

/// A VM's interrupt controller.
pub struct ArchDevices {
    /// Its interrupt state.
    pub irqchip: IrqChip,
}

/// Whether an `emu_devices` row is one [`create_devices`] handles: none yet, the
/// interrupt controllers of a PC are not offered as rows.
pub fn is_arch_device(_device: &EmulatedDevice) -> bool {
    false
}

/// Puts the PC's interrupt controllers, timer, clock, power and reset ports on the
/// VM's port bus.
pub fn create_devices(
    _config: &VmConfig,
    layout: &mut DeviceLayout,
) -> Result<ArchDevices, String> {
    let power = layout.power.clone();
    layout.insert_ports(
        "PM1a control",
        PM1A_CONTROL_PORT,
        2,
        Box::new(AcpiPmControl::new(power.clone())),
    )?;
    layout.insert_ports(
        "reset control",
        RESET_CONTROL_PORT,
        1,
        Box::new(ResetControl::new(power.clone())),
    )?;
    layout.insert_ports(
        "keyboard controller",
        KEYBOARD_COMMAND_PORT,
        1,
        Box::new(KeyboardReset::new(power)),
    )?;
    Ok(ArchDevices {
        irqchip: IrqChip::new(layout)?,
    })
}

/// The serial port model of a console: a 16550.
pub fn new_console_port(sink: Box<dyn CharSink>) -> Box<dyn SerialPort> {
    Box::new(Uart16550::new(sink))
}

/// The bytes of the kernel image to copy to `kernel_load_addr`: a bzImage's
/// protected-mode kernel (its real-mode setup code is not run), any other image as
/// it is.
pub fn kernel_payload(image: &[u8]) -> Result<&[u8], String> {
    if !BzImage::is_bzimage(image) {
        return Ok(image);
    }
    BzImage::parse(image)
        .map(|bz| bz.kernel())
        .map_err(|e| format!("kernel.kernel_path: {e}"))
}

/// What a VM boots with at `dtb_load_addr`: the boot block, whose zero page holds
/// the VM's RAM as the e820 map, its command line and initrd, and, for a bzImage
/// `kernel`, its setup header (the kernel then starts at its 64-bit entry point).
pub fn build_boot_data(
    config: &VmConfig,
    ram: &[GuestRange],
    _devices: &ArchDevices,
    _console: Option<(GuestRange, u32)>,
    passthrough: &[CopiedNode],
    initrd: Option<GuestRange>,
    kernel: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    if !passthrough.is_empty() {
        return Err("devices.passthrough_devices: not offered on x86_64 yet".into());
    }
    let addr = config
        .kernel
        .dtb_load_addr
        .ok_or("kernel.dtb_load_addr: needed to place the boot block")?;
    let cmdline = config.kernel.cmdline.as_deref().unwrap_or("").as_bytes();
    let cmdline_at =
        cmdline_address(addr, cmdline).map_err(|e| format!("kernel.dtb_load_addr: {e}"))?;
    let cmdline_at = if cmdline.is_empty() { 0 } else { cmdline_at };
    let regions: Vec<(u64, u64)> = ram.iter().map(|r| (r.start.raw(), r.size)).collect();
    let e820 = pc_memory_map(&regions).map_err(|e| format!("kernel.memory_regions: {e}"))?;
    let initrd = match initrd {
        Some(range) => Some((
            range.start.raw(),
            u32::try_from(range.size)
                .map_err(|_| "kernel.ramdisk_path: larger than 4 GiB".to_string())?,
        )),
        None => None,
    };
    let zero_page = match kernel.filter(|image| BzImage::is_bzimage(image)) {
        Some(image) => {
            let bz = BzImage::parse(image).map_err(|e| format!("kernel.kernel_path: {e}"))?;
            check_bzimage_placement(config, ram, &bz)?;
            build_boot_params(&bz, &e820, cmdline_at, cmdline.len() as u32, initrd)
        }
        None => build_plain_boot_params(&e820, cmdline_at, initrd),
    }
    .map_err(|e| format!("boot parameters: {e}"))?;
    build_boot_block(addr, &zero_page, cmdline).map_err(|e| format!("kernel.dtb_load_addr: {e}"))
}

/// A bzImage starts at its 64-bit entry point and needs `init_size` bytes of RAM
/// from its load address to decompress and start.
fn check_bzimage_placement(
    config: &VmConfig,
    ram: &[GuestRange],
    bz: &BzImage<'_>,
) -> Result<(), String> {
    let load = config.kernel.kernel_load_addr;
    let entry = kernel_entry_64(load);
    if config.kernel.entry_point != entry {
        return Err(format!(
            "kernel.entry_point: {:#x}, but a bzImage loaded at {load:#x} starts at its \
             64-bit entry point {entry:#x}",
            config.kernel.entry_point
        ));
    }
    let need = u64::from(bz.init_size()).max(bz.kernel().len() as u64);
    let fits = ram.iter().any(|r| {
        let start = r.start.raw();
        load >= start && load - start <= r.size && r.size - (load - start) >= need
    });
    if !fits {
        return Err(format!(
            "kernel.kernel_load_addr: the kernel needs {need:#x} bytes of RAM from \
             {load:#x} (its init_size) and kernel.memory_regions do not have them"
        ));
    }
    Ok(())
}

/// x86 offers no passthrough interrupts yet.
pub fn is_device_irq(_irq: u32) -> bool {
    false
}

/// Physical windows no VM may own: the interrupt controllers (what, base, size).
pub fn reserved_windows() -> Vec<(&'static str, u64, u64)> {
    alloc::vec![
        ("the I/O APIC", platform::IOAPIC_BASE, 0x1000),
        ("the local APICs", platform::LAPIC_BASE, 0x1000),
    ]
}

/// Never called: [`is_device_irq`] admits no passthrough interrupt on x86.
pub fn enable_device_irq(irq: u32, _pcpu: usize) {
    log::warn!("interrupt {irq}: passthrough interrupts are not offered on x86_64");
}

/// Never called: see [`enable_device_irq`].
pub fn disable_device_irq(_irq: u32) {}

/// Wakes physical CPU `cpu` (or all others) to look at its vCPUs again.
pub fn kick(cpu: Option<usize>) {
    hal::kick(cpu);
}
