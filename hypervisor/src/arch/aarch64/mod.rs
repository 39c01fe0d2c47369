//! aarch64: EL1 guests under EL2, an emulated GICv3 per VM, PL011 consoles, and the
//! device tree of QEMU's `virt` board.

mod irqchip;

pub use irqchip::{IrqChip, IrqLine, handle_host_interrupts};

use super::VcpuSetup;
use crate::vmm::DeviceLayout;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use irqchip::GicFrame;
use tessera_addr::GuestRange;
use tessera_config::{EmuType, EmulatedDevice, VmConfig};
use tessera_dtb::{
    Aarch64Machine, CopiedNode, GicV3Layout, QEMU_VIRT_PMU_PPI, QEMU_VIRT_TIMER_PPIS,
    SharedRegionNode, UartNode,
};
use tessera_os::hal::gic::HostGic;
use tessera_os::{hal, platform};
use tessera_vdev::{CharSink, Pl011, SerialPort};
use tessera_vgic::Vgic;

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
    /// The emulated GICv3 (absent when the config has none).
    pub irqchip: IrqChip,
    gic: Option<GicV3Layout>,
}

/// Puts the config's interrupt controller windows (GICv3 distributor `0x21` or `0x1`,
/// redistributors `0x20`, 128 KiB per vCPU) on `bus`. `emu_devices` rows of other
/// types are the generic VMM's.
pub fn create_devices(config: &VmConfig, layout: &mut DeviceLayout) -> Result<ArchDevices, String> {
    let vgic = IrqChip::new(Vgic::new(
        (0..config.base.cpu_num as u64).collect(),
        VGIC_SPIS,
    ));
    let mut distributor = None;
    let mut redistributors = None;
    for (i, device) in config.devices.emu_devices.iter().enumerate() {
        let (frame, needed) = match device.emu_type {
            EmuType::GicDistributor | EmuType::InterruptController => {
                (GicFrame::Distributor, tessera_vgic::DISTRIBUTOR_SIZE)
            }
            EmuType::GicRedistributor => (
                GicFrame::Redistributors,
                tessera_vgic::REDISTRIBUTOR_STRIDE * config.base.cpu_num as u64,
            ),
            _ => continue,
        };
        let field = format!("devices.emu_devices[{i}] ({})", device.name);
        if hal::gic::is_v2() {
            return Err(format!(
                "{field}: this host's GIC is a GICv2, which has no virtual form of the GICv3's system register CPU interface: give the VM a GICv2"
            ));
        }
        if device.length < needed {
            return Err(format!("{field}: this GICv3 frame needs {needed:#x} bytes"));
        }
        let window = vgic
            .window(frame)
            .ok_or_else(|| format!("{field}: no interrupt controller model"))?;
        let range = layout.insert(&field, device, Box::new(window))?;
        match frame {
            GicFrame::Distributor => distributor = Some(range),
            GicFrame::Redistributors => redistributors = Some(range),
        }
    }
    let gic = match (distributor, redistributors) {
        (Some(distributor), Some(redistributors)) => Some(GicV3Layout {
            distributor,
            redistributors,
        }),
        (None, None) => None,
        _ => {
            return Err(
                "devices.emu_devices: an emulated GICv3 needs both a distributor (0x21) and redistributors (0x20)"
                    .into(),
            );
        }
    };
    Ok(ArchDevices {
        irqchip: if gic.is_some() {
            vgic
        } else {
            IrqChip::default()
        },
        gic,
    })
}

/// The `emu_devices` rows of an emulated GICv3 at the host GIC's addresses, for a VM
/// of `cpus` vCPUs whose config asks for the host's GIC.
pub fn emulated_interrupt_controller(cpus: usize) -> Option<Vec<EmulatedDevice>> {
    let Some(&HostGic::V3 {
        distributor,
        redistributors,
        ..
    }) = hal::gic::host()
    else {
        return None;
    };
    let row = |name: &str, gpa, length, emu_type| EmulatedDevice {
        name: name.into(),
        gpa,
        length,
        irq: 0,
        emu_type,
        config: Vec::new(),
    };
    Some(alloc::vec![
        row(
            "gicd",
            distributor.0,
            tessera_vgic::DISTRIBUTOR_SIZE,
            EmuType::GicDistributor
        ),
        row(
            "gicr",
            redistributors.0,
            tessera_vgic::REDISTRIBUTOR_STRIDE * cpus as u64,
            EmuType::GicRedistributor
        ),
    ])
}

/// Whether an `emu_devices` row is one [`create_devices`] handles.
pub fn is_arch_device(device: &EmulatedDevice) -> bool {
    matches!(
        device.emu_type,
        EmuType::GicDistributor | EmuType::GicRedistributor | EmuType::InterruptController
    )
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

/// The interrupt controller a VM gets emulated in place of the host's.
pub const INTERRUPT_CONTROLLER: &str = "GICv3";

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
