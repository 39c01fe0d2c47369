//! aarch64: EL1 guests under EL2, an emulated GICv3 per VM, PL011 consoles, and the
//! device tree of QEMU's `virt` board.

mod irqchip;
mod vgic_rows;

pub use irqchip::{IrqChip, IrqLine, handle_host_interrupts};

use super::VcpuSetup;
use crate::vmm::DeviceLayout;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use irqchip::GicFrame;
use tessera_addr::{GuestPhysAddr, GuestRange};
use tessera_config::{EmulatedDevice, VmConfig};
use tessera_dtb::{
    Aarch64Machine, CopiedNode, GicLayout, GicV2Layout, GicV3Layout, QEMU_VIRT_PMU_PPI,
    QEMU_VIRT_TIMER_PPIS, SharedRegionNode, UartNode,
};
use tessera_os::hal::gic::HostGic;
use tessera_os::{hal, platform};
use tessera_vdev::{CharSink, Pl011, SerialPort};
use tessera_vgic::{GicVersion, Vgic};
use vgic_rows::GicPart;

/// The vCPU of this architecture.
pub type Vcpu = tessera_vcpu_aarch64::Aarch64Vcpu;
/// The stage-2 table layout of this architecture.
pub type Stage2Format = tessera_stage2::Aarch64Stage2;

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
pub const TARGET: tessera_config::TargetArch = tessera_config::TargetArch::Aarch64;

/// The architecture and the level the hypervisor runs at, for the banner.
pub const NAME: &str = "aarch64, EL2";

/// SPIs an emulated GIC offers its guest: INTIDs 32 to 32 + this - 1.
const VGIC_SPIS: u32 = 96;

/// Sets the per-CPU EL2 controls every guest shares; called once on each CPU.
pub fn init_cpu_for_guests() {
    tessera_vcpu_aarch64::init_cpu_for_guests();
}

/// The physical CPU index of an MPIDR on this platform.
pub fn pcpu_of(mpidr: u64) -> Result<usize, String> {
    let index = ((mpidr >> 8) & 0xff) as usize * 16 + (mpidr & 0xff) as usize;
    if mpidr & 0xff < 16 && index < platform::CPU_COUNT && hal::mpidr_of(index) == mpidr {
        Ok(index)
    } else {
        Err(format!(
            "base.phys_cpu_ids: no physical CPU {mpidr:#x} (this platform has {})",
            platform::CPU_COUNT
        ))
    }
}

/// The vCPU `setup` describes, with a virtual counter that starts at zero when its
/// VM is created (`created_at`, in counter ticks).
pub fn new_vcpu(setup: &VcpuSetup<'_>) -> Result<Vcpu, String> {
    Ok(Vcpu::new(
        setup.vmid,
        setup.root,
        setup.index as u64,
        setup.created_at,
    ))
}

/// A VM's interrupt controller and its place in the guest's memory map.
pub struct ArchDevices {
    /// The emulated GIC (absent when the config has none).
    pub irqchip: IrqChip,
    gic: Option<GicLayout>,
}

/// Puts the config's emulated GIC windows on the VM's bus (see [`vgic_rows`]: a
/// GICv3's distributor and redistributors, or a GICv2's distributor; a GICv2's CPU
/// interface is the hardware's, mapped as [`hardware_windows`] says). `emu_devices`
/// rows of other types are the generic VMM's.
pub fn create_devices(config: &VmConfig, layout: &mut DeviceLayout) -> Result<ArchDevices, String> {
    let rows = vgic_rows::gic_rows(&config.devices.emu_devices)?;
    let Some(version) = rows.first().map(|row| row.2) else {
        return Ok(ArchDevices {
            irqchip: IrqChip::default(),
            gic: None,
        });
    };
    let cpus = config.base.cpu_num;
    let model = match version {
        GicVersion::V3 => Vgic::new((0..cpus as u64).collect(), VGIC_SPIS),
        GicVersion::V2 if cpus > tessera_vgic::MAX_VCPUS_V2 => {
            return Err(format!(
                "base.cpu_num: {cpus} vCPUs, but a GICv2 serves at most {}",
                tessera_vgic::MAX_VCPUS_V2
            ));
        }
        GicVersion::V2 => Vgic::new_v2(cpus, VGIC_SPIS),
    };
    let vgic = IrqChip::new(model);
    let (mut first, mut second) = (None, None);
    for (field, device, _, part) in rows {
        vgic_rows::host_offers(version).map_err(|why| format!("{field}: {why}"))?;
        let needed = vgic_rows::needed(version, part, cpus);
        if device.length < needed {
            return Err(format!(
                "{field}: this {} frame needs {needed:#x} bytes",
                vgic_rows::name(version)
            ));
        }
        let range = match part {
            GicPart::Distributor | GicPart::Redistributors => {
                let frame = if part == GicPart::Distributor {
                    GicFrame::Distributor
                } else {
                    GicFrame::Redistributors
                };
                let window = vgic
                    .window(frame)
                    .ok_or_else(|| format!("{field}: no interrupt controller model"))?;
                layout.insert(&field, device, Box::new(window))?
            }
            GicPart::CpuInterface => GuestRange::new(GuestPhysAddr::new(device.gpa), needed),
        };
        if part == GicPart::Distributor {
            first = Some(range);
        } else {
            second = Some(range);
        }
    }
    let gic = match (version, first, second) {
        (GicVersion::V3, Some(distributor), Some(redistributors)) => GicLayout::V3(GicV3Layout {
            distributor,
            redistributors,
        }),
        (GicVersion::V2, Some(distributor), Some(cpu_interface)) => GicLayout::V2(GicV2Layout {
            distributor,
            cpu_interface,
        }),
        (GicVersion::V3, ..) => {
            return Err(
                "devices.emu_devices: an emulated GICv3 needs both a distributor (0x21) and redistributors (0x20)"
                    .into(),
            );
        }
        (GicVersion::V2, ..) => {
            return Err(
                "devices.emu_devices: an emulated GICv2 needs both a distributor (0x25, or \"vgicd-v2\" 0x1) and a CPU interface (0x26)"
                    .into(),
            );
        }
    };
    Ok(ArchDevices {
        irqchip: vgic,
        gic: Some(gic),
    })
}

/// The windows of the host's GIC itself a VM is given, to map as device memory
/// (field, guest address, host address, size): a GICv2 VM's CPU interface is the
/// hardware's virtual CPU interface (GICV), at the address of its GICC row.
pub fn hardware_windows(config: &VmConfig) -> Result<Vec<(String, u64, u64, u64)>, String> {
    let mut windows = Vec::new();
    for (field, device, version, part) in vgic_rows::gic_rows(&config.devices.emu_devices)? {
        if part != GicPart::CpuInterface {
            continue;
        }
        vgic_rows::host_offers(version).map_err(|why| format!("{field}: {why}"))?;
        let gicv = vgic_rows::host_vcpu_interface()
            .ok_or_else(|| format!("{field}: the host has no GICv2 virtual CPU interface"))?;
        windows.push((field, device.gpa, gicv, vgic_rows::GICV2_CPU_INTERFACE_SIZE));
    }
    Ok(windows)
}

/// The `emu_devices` rows of an emulated GIC like the host's, at its addresses, for
/// a VM of `cpus` vCPUs whose config asks for the host's GIC.
pub fn emulated_interrupt_controller(cpus: usize) -> Option<Vec<EmulatedDevice>> {
    vgic_rows::like_the_host(cpus)
}

/// Whether an `emu_devices` row is one [`create_devices`] handles.
pub fn is_arch_device(device: &EmulatedDevice) -> bool {
    vgic_rows::gic_part(device).is_some()
}

/// The serial port model of a console: a PL011.
pub fn new_console_port(sink: Box<dyn CharSink>) -> Box<dyn SerialPort> {
    Box::new(Pl011::new(sink))
}

/// What a VM boots with at `dtb_load_addr` when it has no `dtb_path`: the device
/// tree Tessera builds.
pub fn build_boot_data(
    config: &VmConfig,
    ram: &[GuestRange],
    devices: &ArchDevices,
    console: Option<(GuestRange, u32)>,
    passthrough: &[CopiedNode],
    shared: &[SharedRegionNode],
    initrd: Option<GuestRange>,
) -> Result<Vec<u8>, String> {
    let mpidrs: Vec<u64> = (0..config.base.cpu_num as u64).collect();
    // The GIC binding numbers SPIs from 0: INTID minus 32.
    let shared: Vec<SharedRegionNode> = shared
        .iter()
        .map(|node| SharedRegionNode {
            interrupt: node
                .interrupt
                .map(|intid| intid.saturating_sub(tessera_vgic::SPI_BASE)),
            ..*node
        })
        .collect();
    let machine = Aarch64Machine {
        memory: ram,
        cpu_mpidrs: &mpidrs,
        gic: devices.gic,
        uart: console.map(|(base, intid)| UartNode {
            base,
            spi: intid.saturating_sub(tessera_vgic::SPI_BASE),
        }),
        timer_ppis: devices.gic.map(|_| QEMU_VIRT_TIMER_PPIS),
        pmu_ppi: devices
            .gic
            .filter(|_| tessera_vcpu_aarch64::pmu_offered())
            .map(|_| QEMU_VIRT_PMU_PPI),
        bootargs: config.kernel.cmdline.as_deref(),
        initrd,
        passthrough,
        shared: &shared,
    };
    tessera_dtb::build_aarch64(&machine).map_err(|e| format!("device tree: {e}"))
}

/// Whether `intid` can be a passed-through device's interrupt (an SPI).
pub fn is_device_irq(intid: u32) -> bool {
    (tessera_vgic::SPI_BASE..1020).contains(&intid)
}

/// The interrupt controller a VM gets emulated in place of the host's: the host's kind.
pub fn interrupt_controller() -> &'static str {
    if hal::gic::is_v2() { "GICv2" } else { "GICv3" }
}

/// Bytes of the emulated console UART's window (a PL011).
pub const CONSOLE_WINDOW: u64 = 0x1000;

/// Physical windows of the interrupt controller, which no VM may own:
/// (what, base, size).
pub fn interrupt_controller_windows() -> Vec<(&'static str, u64, u64)> {
    match hal::gic::host() {
        Some(HostGic::V3 {
            distributor,
            redistributors,
            legacy_vcpu_interface,
        }) => {
            let mut windows = alloc::vec![
                ("the GIC distributor", distributor.0, distributor.1),
                ("the GIC redistributors", redistributors.0, redistributors.1),
            ];
            windows.extend(
                legacy_vcpu_interface
                    .map(|(base, size)| ("the GIC virtual CPU interface", base, size)),
            );
            windows
        }
        Some(HostGic::V2 {
            distributor,
            cpu_interface,
            virtualization,
        }) => {
            let mut windows = alloc::vec![
                ("the GIC distributor", distributor.0, distributor.1),
                ("the GIC CPU interface", cpu_interface.0, cpu_interface.1),
            ];
            if let Some((gich, gicv)) = virtualization {
                windows.push(("the GIC hypervisor interface", gich.0, gich.1));
                windows.push(("the GIC virtual CPU interface", gicv.0, gicv.1));
            }
            windows
        }
        None => Vec::new(),
    }
}

/// Routes physical device interrupt `intid` to physical CPU `pcpu`.
pub fn enable_device_irq(intid: u32, pcpu: usize) {
    hal::gic::enable_spi(intid, pcpu);
}

/// Disables physical device interrupt `intid` and ends its active state.
pub fn disable_device_irq(intid: u32) {
    hal::gic::disable_spi(intid);
}

/// Wakes physical CPU `cpu` (or all others) to look at its vCPUs again.
pub fn kick(cpu: Option<usize>) {
    hal::gic::kick(cpu);
}
