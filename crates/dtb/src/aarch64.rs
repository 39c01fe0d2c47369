//! The device tree of an aarch64 VM, shaped like the one QEMU gives its `virt` board.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_addr::GuestRange;
use vm_fdt::FdtWriter;

use crate::common::{
    Chosen, check_memory, cpu_address_cells, first_duplicate, reg, strings, write_aliases,
    write_chosen, write_cpu_reg, write_memory,
};
use crate::shared::{self, SharedRegionNode};
use crate::{CopiedNode, DtbError, check_range};

/// The architected timer's PPIs on QEMU `virt`: secure physical, non-secure
/// physical, virtual, hypervisor physical (INTIDs 29, 30, 27, 26).
pub const QEMU_VIRT_TIMER_PPIS: [u32; 4] = [13, 14, 11, 10];

/// The PMU's overflow PPI on QEMU `virt` (INTID 23).
pub const QEMU_VIRT_PMU_PPI: u32 = 7;

/// Frequency of the fixed `apb-pclk` clock feeding the UART, as on QEMU `virt`.
pub const UART_CLOCK_HZ: u32 = 24_000_000;

/// Interrupt specifier type cell (GIC binding): a shared peripheral interrupt.
const GIC_SPI: u32 = 0;
/// Interrupt specifier type cell (GIC binding): a private peripheral interrupt.
const GIC_PPI: u32 = 1;
/// Interrupt specifier flags cell: level-sensitive, active high.
const IRQ_LEVEL_HIGH: u32 = 4;
/// Phandle of the fixed clock node.
const CLOCK_PHANDLE: u32 = 0x8000;
/// Phandle of the interrupt controller node.
const GIC_PHANDLE: u32 = 0x8001;
/// The affinity fields of MPIDR_EL1: Aff3 (bits 39:32) and Aff2-Aff0 (bits 23:0).
const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// Where a GICv3 sits in the guest's memory map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GicV3Layout {
    /// The distributor (GICD) registers.
    pub distributor: GuestRange,
    /// The redistributor (GICR) frames of all CPUs, one contiguous region.
    pub redistributors: GuestRange,
}

/// Where a GICv2 sits in the guest's memory map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct GicV2Layout {
    /// The distributor (GICD) registers.
    pub distributor: GuestRange,
    /// The CPU interface (GICC) registers.
    pub cpu_interface: GuestRange,
}

/// The interrupt controller of the guest's machine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GicLayout {
    /// A GICv3 (`arm,gic-v3`).
    V3(GicV3Layout),
    /// A GICv2 (`arm,cortex-a15-gic`).
    V2(GicV2Layout),
}

impl GicLayout {
    /// The distributor's window.
    fn distributor(self) -> GuestRange {
        match self {
            Self::V3(gic) => gic.distributor,
            Self::V2(gic) => gic.distributor,
        }
    }
}

/// A PL011 UART in the guest's memory map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UartNode {
    /// The register window.
    pub base: GuestRange,
    /// Its shared peripheral interrupt number (INTID minus 32).
    pub spi: u32,
}

/// Everything the device tree of an aarch64 VM says.
#[derive(Clone, Copy, Debug)]
pub struct Aarch64Machine<'a> {
    /// RAM regions, one `memory@` node each.
    pub memory: &'a [GuestRange],
    /// MPIDR_EL1 of each vCPU; only the affinity fields are used.
    pub cpu_mpidrs: &'a [u64],
    /// The interrupt controller, if the VM has one.
    pub gic: Option<GicLayout>,
    /// The console UART, if the VM has one.
    pub uart: Option<UartNode>,
    /// The timer's PPIs: secure physical, non-secure physical, virtual, hypervisor
    /// (see [`QEMU_VIRT_TIMER_PPIS`]). `None` leaves the timer node out.
    pub timer_ppis: Option<[u32; 4]>,
    /// The PMUv3's overflow PPI (see [`QEMU_VIRT_PMU_PPI`]). `None` leaves the `pmu`
    /// node out.
    pub pmu_ppi: Option<u32>,
    /// The kernel command line.
    pub bootargs: Option<&'a str>,
    /// Where the initial ramdisk was loaded.
    pub initrd: Option<GuestRange>,
    /// Nodes of passthrough devices copied from the host's tree, placed under the
    /// root. Their `clocks` are pointed at the tree's fixed `apb-pclk` (QEMU `virt`
    /// feeds every AMBA device from that one clock).
    pub passthrough: &'a [CopiedNode],
    /// Regions shared with other VMs; their doorbell interrupts are SPIs.
    pub shared: &'a [SharedRegionNode<'a>],
}

/// Builds the device tree blob for `m`.
///
/// The root has two address and size cells and is compatible with
/// `linux,dummy-virt`. Node names follow QEMU's (`memory@`, `cpus/cpu@`, `psci`,
/// `intc@`, `apb-pclk`, `pl011@`, `timer`, `pmu`, `chosen`). Without a GIC the UART
/// node has no `interrupts` property (the guest polls it); a timer or PMU without a
/// GIC is refused.
pub fn build_aarch64(m: &Aarch64Machine) -> Result<Vec<u8>, DtbError> {
    check_machine(m)?;
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "linux,dummy-virt")?;
    fdt.property_string("model", "tessera,virt")?;
    if m.gic.is_some() {
        fdt.property_u32("interrupt-parent", GIC_PHANDLE)?;
    }
    write_psci(&mut fdt)?;
    for region in m.memory {
        write_memory(&mut fdt, *region)?;
    }
    write_cpus(&mut fdt, m.cpu_mpidrs)?;
    if let Some(gic) = m.gic {
        write_gic(&mut fdt, gic)?;
    }
    if m.uart.is_some() || m.passthrough.iter().any(uses_clocks) {
        write_clock(&mut fdt)?;
    }
    for node in m.passthrough {
        write_copied(&mut fdt, node)?;
    }
    let uart_path = match m.uart {
        Some(uart) => Some(write_uart(&mut fdt, uart, m.gic.is_some())?),
        None => None,
    };
    for node in m.shared {
        shared::write(
            &mut fdt,
            node,
            |spi| alloc::vec![GIC_SPI, spi, IRQ_LEVEL_HIGH],
            None,
        )?;
    }
    if let Some(ppis) = m.timer_ppis {
        write_timer(&mut fdt, ppis)?;
    }
    if let Some(ppi) = m.pmu_ppi {
        write_pmu(&mut fdt, ppi)?;
    }
    let chosen = Chosen {
        bootargs: m.bootargs,
        stdout_path: uart_path.as_deref(),
        initrd: m.initrd,
    };
    write_chosen(&mut fdt, &chosen)?;
    if let Some(path) = &uart_path {
        write_aliases(&mut fdt, path)?;
    }
    fdt.end_node(root)?;
    Ok(fdt.finish()?)
}

/// Refuses machines the tree cannot describe.
fn check_machine(m: &Aarch64Machine) -> Result<(), DtbError> {
    check_memory(m.memory)?;
    if m.cpu_mpidrs.is_empty() {
        return Err(DtbError::NoCpus);
    }
    if let Some(mpidr) = first_duplicate(affinities(m.cpu_mpidrs)) {
        return Err(DtbError::DuplicateCpu { mpidr });
    }
    match m.gic {
        Some(GicLayout::V3(gic)) => {
            check_range("gic distributor", gic.distributor)?;
            check_range("gic redistributors", gic.redistributors)?;
        }
        Some(GicLayout::V2(gic)) => {
            check_range("gic distributor", gic.distributor)?;
            check_range("gic cpu interface", gic.cpu_interface)?;
        }
        None => {}
    }
    if let Some(uart) = m.uart {
        check_range("uart", uart.base)?;
    }
    if let Some(initrd) = m.initrd {
        check_range("initrd", initrd)?;
    }
    for node in m.shared {
        shared::check(node)?;
    }
    let interrupts = m.shared.iter().any(|node| node.interrupt.is_some());
    if (m.timer_ppis.is_some() || m.pmu_ppi.is_some() || interrupts) && m.gic.is_none() {
        return Err(DtbError::NoInterruptController);
    }
    Ok(())
}

/// The MPIDR affinity fields of each CPU.
fn affinities(mpidrs: &[u64]) -> impl Iterator<Item = u64> + Clone {
    mpidrs.iter().map(|mpidr| mpidr & MPIDR_AFFINITY_MASK)
}

/// `/psci`: PSCI 1.0 (0.2-compatible) through HVC, so no function IDs are listed.
fn write_psci(fdt: &mut FdtWriter) -> Result<(), DtbError> {
    let node = fdt.begin_node("psci")?;
    fdt.property_string_list("compatible", strings(&["arm,psci-1.0", "arm,psci-0.2"]))?;
    fdt.property_string("method", "hvc")?;
    fdt.end_node(node)?;
    Ok(())
}

/// `/cpus` with one `cpu@<affinity>` per vCPU, started through PSCI.
///
/// `reg` is the MPIDR affinity; two address cells are used only if some CPU has
/// a non-zero Aff3 (as the arm CPU binding asks).
fn write_cpus(fdt: &mut FdtWriter, mpidrs: &[u64]) -> Result<(), DtbError> {
    let cells = cpu_address_cells(affinities(mpidrs));
    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", cells)?;
    fdt.property_u32("#size-cells", 0)?;
    for affinity in affinities(mpidrs) {
        let cpu = fdt.begin_node(&format!("cpu@{affinity:x}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_string("compatible", "arm,armv8")?;
        write_cpu_reg(fdt, cells, affinity)?;
        fdt.property_string("enable-method", "psci")?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(cpus)?;
    Ok(())
}

/// `/intc@<distributor>`: a GICv3 (distributor then redistributor region in `reg`)
/// or a GICv2 (distributor then CPU interface).
fn write_gic(fdt: &mut FdtWriter, gic: GicLayout) -> Result<(), DtbError> {
    let node = fdt.begin_node(&format!("intc@{:x}", gic.distributor().start.raw()))?;
    let (compatible, windows) = match gic {
        GicLayout::V3(gic) => ("arm,gic-v3", [gic.distributor, gic.redistributors]),
        GicLayout::V2(gic) => ("arm,cortex-a15-gic", [gic.distributor, gic.cpu_interface]),
    };
    fdt.property_string("compatible", compatible)?;
    fdt.property_u32("#interrupt-cells", 3)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_null("ranges")?;
    fdt.property_array_u64("reg", &reg(&windows))?;
    if let GicLayout::V3(_) = gic {
        fdt.property_u32("#redistributor-regions", 1)?;
    }
    fdt.property_phandle(GIC_PHANDLE)?;
    fdt.end_node(node)?;
    Ok(())
}

/// `/apb-pclk`: the fixed clock of the UART and of AMBA passthrough devices.
fn write_clock(fdt: &mut FdtWriter) -> Result<(), DtbError> {
    let clock = fdt.begin_node("apb-pclk")?;
    fdt.property_string("compatible", "fixed-clock")?;
    fdt.property_u32("#clock-cells", 0)?;
    fdt.property_u32("clock-frequency", UART_CLOCK_HZ)?;
    fdt.property_string("clock-output-names", "clk24mhz")?;
    fdt.property_phandle(CLOCK_PHANDLE)?;
    fdt.end_node(clock)?;
    Ok(())
}

/// Whether a copied node or one of its children names clocks.
fn uses_clocks(node: &CopiedNode) -> bool {
    node.properties.iter().any(|(name, _)| name == "clocks")
        || node.children.iter().any(uses_clocks)
}

/// A node copied from the host tree, its `clocks` cells pointed at `apb-pclk`.
fn write_copied(fdt: &mut FdtWriter, node: &CopiedNode) -> Result<(), DtbError> {
    let handle = fdt.begin_node(&node.name)?;
    for (name, value) in &node.properties {
        if name == "clocks" {
            let cells: Vec<u32> = value.chunks(4).map(|_| CLOCK_PHANDLE).collect();
            fdt.property_array_u32(name, &cells)?;
        } else {
            fdt.property(name, value)?;
        }
    }
    for child in &node.children {
        write_copied(fdt, child)?;
    }
    fdt.end_node(handle)?;
    Ok(())
}

/// `/pl011@<base>`; returns the UART's path.
fn write_uart(fdt: &mut FdtWriter, uart: UartNode, has_gic: bool) -> Result<String, DtbError> {
    let name = format!("pl011@{:x}", uart.base.start.raw());
    let node = fdt.begin_node(&name)?;
    fdt.property_string_list("compatible", strings(&["arm,pl011", "arm,primecell"]))?;
    fdt.property_array_u64("reg", &reg(&[uart.base]))?;
    if has_gic {
        fdt.property_array_u32("interrupts", &[GIC_SPI, uart.spi, IRQ_LEVEL_HIGH])?;
    }
    fdt.property_array_u32("clocks", &[CLOCK_PHANDLE, CLOCK_PHANDLE])?;
    fdt.property_string_list("clock-names", strings(&["uartclk", "apb_pclk"]))?;
    fdt.end_node(node)?;
    Ok(format!("/{name}"))
}

/// `/pmu`: the PMUv3 with its overflow PPI, level-high.
fn write_pmu(fdt: &mut FdtWriter, ppi: u32) -> Result<(), DtbError> {
    let node = fdt.begin_node("pmu")?;
    fdt.property_string("compatible", "arm,armv8-pmuv3")?;
    fdt.property_array_u32("interrupts", &[GIC_PPI, ppi, IRQ_LEVEL_HIGH])?;
    fdt.end_node(node)?;
    Ok(())
}

/// `/timer`: the architected timer with its four PPIs, level-high.
fn write_timer(fdt: &mut FdtWriter, ppis: [u32; 4]) -> Result<(), DtbError> {
    let node = fdt.begin_node("timer")?;
    fdt.property_string_list(
        "compatible",
        strings(&["arm,armv8-timer", "arm,armv7-timer"]),
    )?;
    fdt.property_null("always-on")?;
    let cells: Vec<u32> = ppis
        .iter()
        .flat_map(|ppi| [GIC_PPI, *ppi, IRQ_LEVEL_HIGH])
        .collect();
    fdt.property_array_u32("interrupts", &cells)?;
    fdt.end_node(node)?;
    Ok(())
}
