//! riscv64: VS-mode guests under HS-mode, an emulated PLIC per VM, 16550 consoles,
//! SBI IPIs as virtual software interrupts, and the device tree of QEMU's `virt` board.

mod irqchip;

pub use irqchip::{IrqChip, IrqLine, handle_host_interrupts};

use super::VcpuSetup;
use crate::vmm::DeviceLayout;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use tessera_addr::GuestRange;
use tessera_config::{EmuType, EmulatedDevice, VmConfig};
use tessera_dtb::{
    CopiedNode, PlicNode, QEMU_VIRT_TIMEBASE_HZ, Riscv64Machine, SharedRegionNode, Uart16550Node,
};
use tessera_os::{hal, platform};
use tessera_vdev::{CharSink, SerialPort, Uart16550};

/// The vCPU of this architecture.
pub type Vcpu = tessera_vcpu_riscv64::Riscv64Vcpu;
/// The G-stage table layout of this architecture.
pub type Stage2Format = tessera_stage2::Riscv64Sv39x4;

/// This architecture as the VM layer sees it: its vCPU and its VMs' interrupt
/// controller.
pub struct Arch;

impl tessera_vm::Arch for Arch {
    type Vcpu = Vcpu;
    type IrqChip = IrqChip;
}

/// Console UARTs sit on the memory bus (not on I/O ports).
pub const CONSOLE_ON_PORTS: bool = false;

/// The architecture VM configs are checked against (`tessera_config::not_offered`).
pub const TARGET: tessera_config::TargetArch = tessera_config::TargetArch::Riscv64;

/// The architecture and the level the hypervisor runs at, for the banner.
pub const NAME: &str = "riscv64, HS-mode";

/// Interrupt sources an emulated PLIC offers its guest (QEMU `virt` has 95).
const PLIC_SOURCES: u32 = 95;
/// The ISA the guest's device tree names: what QEMU's `rv64` CPU gives a VS-mode
/// guest, with Sstc so it programs its own timer.
const GUEST_ISA: &str = "rv64imafdc_zicntr_zicsr_zifencei_zihpm_sstc";

/// Sets the per-CPU HS-mode controls every guest shares; called once on each CPU.
pub fn init_cpu_for_guests() {
    tessera_vcpu_riscv64::init_cpu_for_guests();
}

/// The physical CPU index of a hart id on this platform (the same number).
pub fn pcpu_of(hart: u64) -> Result<usize, String> {
    usize::try_from(hart)
        .ok()
        .filter(|&index| index < platform::CPU_COUNT)
        .ok_or_else(|| {
            format!(
                "base.phys_cpu_ids: no hart {hart} (this platform has {})",
                platform::CPU_COUNT
            )
        })
}

/// The hart `setup` describes. Guests read the platform's `time` directly
/// (htimedelta 0), so the creation time is not used.
pub fn new_vcpu(setup: &VcpuSetup<'_>) -> Result<Vcpu, String> {
    let harts = setup.pcpus.iter().map(|&pcpu| pcpu as u64).collect();
    Ok(Vcpu::new(
        u16::from(setup.vmid),
        setup.root,
        setup.index as u64,
        harts,
    ))
}

/// A VM's interrupt controller and its place in the guest's memory map.
pub struct ArchDevices {
    /// The emulated PLIC (absent when the config has none).
    pub irqchip: IrqChip,
    plic: Option<GuestRange>,
}

/// The windows of the host's interrupt controller itself a VM is given: none here
/// (every part of it is emulated).
pub fn hardware_windows(_config: &VmConfig) -> Result<Vec<(String, u64, u64, u64)>, String> {
    Ok(Vec::new())
}

/// Whether an `emu_devices` row is one [`create_devices`] handles.
pub fn is_arch_device(device: &EmulatedDevice) -> bool {
    matches!(device.emu_type, EmuType::InterruptController)
        || device.emu_type.code() == tessera_config::EMU_TYPE_PLIC
}

/// Puts the config's PLIC window (`emu_type` 0x30 or 0x1) on the bus.
pub fn create_devices(config: &VmConfig, layout: &mut DeviceLayout) -> Result<ArchDevices, String> {
    let harts = u32::try_from(config.base.cpu_num).unwrap_or(u32::MAX);
    let has_plic = config.devices.emu_devices.iter().any(is_arch_device);
    let chip = IrqChip::new(harts, has_plic.then_some(PLIC_SOURCES));
    let mut plic = None;
    for (i, device) in config.devices.emu_devices.iter().enumerate() {
        if !is_arch_device(device) {
            continue;
        }
        let field = format!("devices.emu_devices[{i}] ({})", device.name);
        if plic.is_some() {
            return Err(format!("{field}: a VM has one PLIC"));
        }
        let window = chip
            .window()
            .ok_or_else(|| format!("{field}: no interrupt controller model"))?;
        plic = Some(layout.insert(&field, device, Box::new(window))?);
    }
    Ok(ArchDevices {
        irqchip: chip,
        plic,
    })
}

/// The serial port model of a console: a 16550.
pub fn new_console_port(sink: Box<dyn CharSink>) -> Box<dyn SerialPort> {
    Box::new(Uart16550::new(sink))
}

/// What a VM boots with at `dtb_load_addr` when it has no `dtb_path`: the device
/// tree Tessera builds. No node is passed through on riscv64 (`not_offered` refuses
/// path rows), so `_passthrough` is empty.
pub fn build_boot_data(
    config: &VmConfig,
    ram: &[GuestRange],
    devices: &ArchDevices,
    console: Option<(GuestRange, u32)>,
    _passthrough: &[CopiedNode],
    shared: &[SharedRegionNode],
    initrd: Option<GuestRange>,
) -> Result<Vec<u8>, String> {
    let harts: Vec<u64> = (0..config.base.cpu_num as u64).collect();
    let machine = Riscv64Machine {
        memory: ram,
        hart_ids: &harts,
        isa: GUEST_ISA,
        timebase_frequency: QEMU_VIRT_TIMEBASE_HZ,
        plic: devices.plic.map(|base| PlicNode {
            base,
            sources: PLIC_SOURCES,
        }),
        uart: console.map(|(base, irq)| Uart16550Node {
            base,
            irq: (irq != 0).then_some(irq),
        }),
        bootargs: config.kernel.cmdline.as_deref(),
        initrd,
        shared,
    };
    tessera_dtb::build_riscv64(&machine).map_err(|e| format!("device tree: {e}"))
}

/// Whether `irq` can be a passed-through device's interrupt (a PLIC source).
pub fn is_device_irq(irq: u32) -> bool {
    (1..=PLIC_SOURCES).contains(&irq)
}

/// The interrupt controller a VM gets emulated in place of the host's.
pub fn interrupt_controller() -> &'static str {
    "PLIC"
}

/// Bytes of the emulated console UART's window (a 16550).
pub const CONSOLE_WINDOW: u64 = 0x100;

/// Bytes of a PLIC's register window.
const PLIC_WINDOW: u64 = 0x400_0000;

/// Physical windows of the interrupt controller, which no VM may own:
/// (what, base, size).
pub fn interrupt_controller_windows() -> Vec<(&'static str, u64, u64)> {
    alloc::vec![("the PLIC", platform::PLIC_BASE, PLIC_WINDOW)]
}

/// The `emu_devices` row of an emulated PLIC at the host PLIC's address, for a VM
/// whose config asks for the host's PLIC.
pub fn emulated_interrupt_controller(_cpus: usize) -> Option<Vec<EmulatedDevice>> {
    Some(alloc::vec![EmulatedDevice {
        name: "plic".into(),
        gpa: platform::PLIC_BASE,
        length: PLIC_WINDOW,
        irq: 0,
        emu_type: EmuType::InterruptController,
        config: Vec::new(),
    }])
}

/// Routes physical device interrupt `irq` to CPU `pcpu`.
pub fn enable_device_irq(irq: u32, pcpu: usize) {
    hal::plic::enable(irq, pcpu);
}

/// Stops physical device interrupt `irq`.
pub fn disable_device_irq(irq: u32) {
    hal::plic::disable(irq);
}

/// Wakes physical CPU `cpu` (or all others) to look at its vCPUs again.
pub fn kick(cpu: Option<usize>) {
    hal::kick(cpu);
}
