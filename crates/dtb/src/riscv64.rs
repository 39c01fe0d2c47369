//! The device tree of a riscv64 VM, shaped like the one QEMU gives its riscv `virt`
//! board: harts with their local interrupt controllers, a PLIC and a 16550 UART
//! under `/soc`.

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
use crate::{DtbError, check_range};

/// Frequency of the timer (`time` CSR) on QEMU `virt`: 10 MHz.
pub const QEMU_VIRT_TIMEBASE_HZ: u32 = 10_000_000;

/// Input clock of the 16550 UART, as on QEMU `virt` (1.8432 MHz times two).
pub const UART16550_CLOCK_HZ: u32 = 3_686_400;

/// The most interrupt sources a PLIC has.
const PLIC_MAX_SOURCES: u32 = 1023;
/// Interrupt cause (and `riscv,cpu-intc` specifier) of machine external interrupts.
const IRQ_M_EXT: u32 = 11;
/// Interrupt cause (and `riscv,cpu-intc` specifier) of supervisor external interrupts.
const IRQ_S_EXT: u32 = 9;
/// Phandle of the PLIC.
const PLIC_PHANDLE: u32 = 1;
/// Phandle of the first hart's interrupt controller; hart n (by position) has this
/// plus n.
const CPU_INTC_PHANDLE_BASE: u32 = 2;

/// A PLIC in the guest's memory map.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PlicNode {
    /// The register window.
    pub base: GuestRange,
    /// Its interrupt sources: IDs 1 to this (`riscv,ndev`), at most 1023.
    pub sources: u32,
}

/// A 16550 UART in the guest's memory map (byte registers, no register shift).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Uart16550Node {
    /// The register window.
    pub base: GuestRange,
    /// Its PLIC source; `None` (or no PLIC) leaves it polled.
    pub irq: Option<u32>,
}

/// Everything the device tree of a riscv64 VM says.
#[derive(Clone, Copy, Debug)]
pub struct Riscv64Machine<'a> {
    /// RAM regions, one `memory@` node each.
    pub memory: &'a [GuestRange],
    /// The hart ID of each vCPU. Hart n of this list has PLIC contexts 2n
    /// (M mode) and 2n+1 (S mode).
    pub hart_ids: &'a [u64],
    /// The ISA string of every hart, such as `"rv64imafdc"`.
    pub isa: &'a str,
    /// Frequency of the `time` CSR (see [`QEMU_VIRT_TIMEBASE_HZ`]).
    pub timebase_frequency: u32,
    /// The interrupt controller, if the VM has one.
    pub plic: Option<PlicNode>,
    /// The console UART, if the VM has one.
    pub uart: Option<Uart16550Node>,
    /// The kernel command line.
    pub bootargs: Option<&'a str>,
    /// Where the initial ramdisk was loaded.
    pub initrd: Option<GuestRange>,
    /// Regions shared with other VMs; their doorbell interrupts are PLIC sources.
    pub shared: &'a [SharedRegionNode<'a>],
}

/// Builds the device tree blob for `m`.
///
/// The root has two address and size cells and is compatible with `riscv-virtio`.
/// Node names follow QEMU's (`memory@`, `cpus/cpu@`, `cpus/cpu@/interrupt-controller`,
/// `soc/plic@`, `soc/serial@`, `chosen`). The PLIC's `interrupts-extended` lists each
/// hart's M-mode then S-mode external interrupt, in the order of `hart_ids`, which
/// numbers its contexts as the emulated PLIC does.
pub fn build_riscv64(m: &Riscv64Machine) -> Result<Vec<u8>, DtbError> {
    check_machine(m)?;
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "riscv-virtio")?;
    fdt.property_string("model", "tessera,virt")?;
    for region in m.memory {
        write_memory(&mut fdt, *region)?;
    }
    write_cpus(&mut fdt, m)?;
    let uart_path = if m.plic.is_some() || m.uart.is_some() {
        write_soc(&mut fdt, m)?
    } else {
        None
    };
    for node in m.shared {
        shared::write(&mut fdt, node, |irq| alloc::vec![irq], Some(PLIC_PHANDLE))?;
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
fn check_machine(m: &Riscv64Machine) -> Result<(), DtbError> {
    check_memory(m.memory)?;
    if m.hart_ids.is_empty() {
        return Err(DtbError::NoCpus);
    }
    if let Some(hart_id) = first_duplicate(m.hart_ids.iter().copied()) {
        return Err(DtbError::DuplicateHart { hart_id });
    }
    if let Some(plic) = m.plic {
        check_range("plic", plic.base)?;
        if !(1..=PLIC_MAX_SOURCES).contains(&plic.sources) {
            return Err(DtbError::BadPlicSources {
                sources: plic.sources,
            });
        }
    }
    if let Some(uart) = m.uart {
        check_range("uart", uart.base)?;
        if let (Some(irq), Some(plic)) = (uart.irq, m.plic)
            && !(1..=plic.sources).contains(&irq)
        {
            return Err(DtbError::BadIrq {
                what: "uart",
                irq,
                sources: plic.sources,
            });
        }
    }
    if let Some(initrd) = m.initrd {
        check_range("initrd", initrd)?;
    }
    for node in m.shared {
        shared::check(node)?;
        match (node.interrupt, m.plic) {
            (Some(_), None) => return Err(DtbError::NoInterruptController),
            (Some(irq), Some(plic)) if !(1..=plic.sources).contains(&irq) => {
                return Err(DtbError::BadIrq {
                    what: "shared region doorbell",
                    irq,
                    sources: plic.sources,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The phandle of the interrupt controller of the hart at `index` in `hart_ids`.
fn cpu_intc_phandle(index: usize) -> u32 {
    CPU_INTC_PHANDLE_BASE.wrapping_add(index as u32)
}

/// `/cpus` with the timebase and one `cpu@<hart id>` per vCPU.
fn write_cpus(fdt: &mut FdtWriter, m: &Riscv64Machine) -> Result<(), DtbError> {
    let cells = cpu_address_cells(m.hart_ids.iter().copied());
    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", cells)?;
    fdt.property_u32("#size-cells", 0)?;
    fdt.property_u32("timebase-frequency", m.timebase_frequency)?;
    for (index, hart_id) in m.hart_ids.iter().enumerate() {
        let cpu = fdt.begin_node(&format!("cpu@{hart_id:x}"))?;
        fdt.property_string("device_type", "cpu")?;
        write_cpu_reg(fdt, cells, *hart_id)?;
        fdt.property_string("status", "okay")?;
        fdt.property_string("compatible", "riscv")?;
        fdt.property_string("riscv,isa", m.isa)?;
        fdt.property_string("mmu-type", "riscv,sv39")?;
        write_cpu_intc(fdt, cpu_intc_phandle(index))?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(cpus)?;
    Ok(())
}

/// A hart's `interrupt-controller` (its `riscv,cpu-intc`; specifiers are causes).
fn write_cpu_intc(fdt: &mut FdtWriter, phandle: u32) -> Result<(), DtbError> {
    let node = fdt.begin_node("interrupt-controller")?;
    fdt.property_u32("#interrupt-cells", 1)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_string("compatible", "riscv,cpu-intc")?;
    fdt.property_phandle(phandle)?;
    fdt.end_node(node)?;
    Ok(())
}

/// `/soc` with the PLIC and the UART; returns the UART's path.
fn write_soc(fdt: &mut FdtWriter, m: &Riscv64Machine) -> Result<Option<String>, DtbError> {
    let soc = fdt.begin_node("soc")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "simple-bus")?;
    fdt.property_null("ranges")?;
    if let Some(plic) = m.plic {
        write_plic(fdt, plic, m.hart_ids.len())?;
    }
    let uart_path = match m.uart {
        Some(uart) => Some(write_uart(fdt, uart, m.plic.is_some())?),
        None => None,
    };
    fdt.end_node(soc)?;
    Ok(uart_path)
}

/// `/soc/plic@<base>`, wired to every hart's M-mode and S-mode external interrupt.
fn write_plic(fdt: &mut FdtWriter, plic: PlicNode, harts: usize) -> Result<(), DtbError> {
    let node = fdt.begin_node(&format!("plic@{:x}", plic.base.start.raw()))?;
    fdt.property_u32("#interrupt-cells", 1)?;
    fdt.property_u32("#address-cells", 0)?;
    fdt.property_string_list("compatible", strings(&["sifive,plic-1.0.0", "riscv,plic0"]))?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_array_u64("reg", &reg(&[plic.base]))?;
    fdt.property_u32("riscv,ndev", plic.sources)?;
    let contexts: Vec<u32> = (0..harts)
        .map(cpu_intc_phandle)
        .flat_map(|intc| [intc, IRQ_M_EXT, intc, IRQ_S_EXT])
        .collect();
    fdt.property_array_u32("interrupts-extended", &contexts)?;
    fdt.property_phandle(PLIC_PHANDLE)?;
    fdt.end_node(node)?;
    Ok(())
}

/// `/soc/serial@<base>`; returns the UART's path.
fn write_uart(
    fdt: &mut FdtWriter,
    uart: Uart16550Node,
    has_plic: bool,
) -> Result<String, DtbError> {
    let name = format!("serial@{:x}", uart.base.start.raw());
    let node = fdt.begin_node(&name)?;
    fdt.property_string("compatible", "ns16550a")?;
    fdt.property_array_u64("reg", &reg(&[uart.base]))?;
    fdt.property_u32("clock-frequency", UART16550_CLOCK_HZ)?;
    if has_plic && let Some(irq) = uart.irq {
        fdt.property_u32("interrupts", irq)?;
        fdt.property_u32("interrupt-parent", PLIC_PHANDLE)?;
    }
    fdt.end_node(node)?;
    Ok(format!("/soc/{name}"))
}
