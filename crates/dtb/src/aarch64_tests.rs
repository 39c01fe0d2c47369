//! Tests of the aarch64 device tree: build, parse back with the `fdt` crate, compare.

use fdt::Fdt;
use fdt::node::FdtNode;
use tessera_addr::{GuestPhysAddr, GuestRange};

use crate::{
    Aarch64Machine, DtbError, GicLayout, GicV2Layout, GicV3Layout, QEMU_VIRT_PMU_PPI,
    QEMU_VIRT_TIMER_PPIS, SharedRegionNode, UART_CLOCK_HZ, UartNode, build_aarch64,
};

fn range(start: u64, size: u64) -> GuestRange {
    GuestRange::new(GuestPhysAddr::new(start), size)
}

const GIC: GicV3Layout = GicV3Layout {
    distributor: GuestRange::new(GuestPhysAddr::new(0x0800_0000), 0x1_0000),
    redistributors: GuestRange::new(GuestPhysAddr::new(0x080a_0000), 0xf6_0000),
};
const UART: UartNode = UartNode {
    base: GuestRange::new(GuestPhysAddr::new(0x0900_0000), 0x1000),
    spi: 1,
};
const MEMORY: [GuestRange; 1] = [GuestRange::new(
    GuestPhysAddr::new(0x4000_0000),
    0x2000_0000,
)];
/// MPIDRs with the RES1 bit 31 set, as the hardware reports them.
const MPIDRS: [u64; 4] = [0x8000_0000, 0x8000_0001, 0x8000_0100, 0x8001_0000];

pub(crate) fn qemu_like() -> Aarch64Machine<'static> {
    Aarch64Machine {
        memory: &MEMORY,
        cpu_mpidrs: &MPIDRS,
        gic: Some(GicLayout::V3(GIC)),
        uart: Some(UART),
        timer_ppis: Some(QEMU_VIRT_TIMER_PPIS),
        pmu_ppi: Some(QEMU_VIRT_PMU_PPI),
        bootargs: Some("console=ttyAMA0 earlycon root=/dev/ram"),
        initrd: Some(range(0x4800_0000, 0x12_3456)),
        passthrough: &[],
        shared: &[],
    }
}

fn minimal() -> Aarch64Machine<'static> {
    Aarch64Machine {
        memory: &MEMORY,
        cpu_mpidrs: &MPIDRS[..1],
        gic: None,
        uart: None,
        timer_ppis: None,
        pmu_ppi: None,
        bootargs: None,
        initrd: None,
        passthrough: &[],
        shared: &[],
    }
}

/// A property as big-endian 32-bit cells.
fn cells(node: FdtNode<'_, '_>, name: &str) -> Vec<u32> {
    let prop = node
        .property(name)
        .unwrap_or_else(|| panic!("no {name} in {}", node.name));
    prop.value
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

/// A property as a big-endian 64-bit value.
fn u64_prop(node: FdtNode<'_, '_>, name: &str) -> u64 {
    u64::from_be_bytes(node.property(name).unwrap().value.try_into().unwrap())
}

/// `reg` as (address, size) pairs of a node under two-cell parents.
fn regs(node: FdtNode<'_, '_>) -> Vec<(u64, u64)> {
    node.reg()
        .unwrap()
        .map(|r| (r.starting_address as u64, r.size.unwrap() as u64))
        .collect()
}

fn compatibles<'a>(node: FdtNode<'_, 'a>) -> Vec<&'a str> {
    node.compatible().unwrap().all().collect()
}

#[test]
fn root_psci_and_memory() {
    let blob = build_aarch64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let root = fdt.root();
    assert_eq!(
        (
            root.cell_sizes().address_cells,
            root.cell_sizes().size_cells
        ),
        (2, 2)
    );
    assert_eq!(root.compatible().first(), "linux,dummy-virt");
    let psci = fdt.find_node("/psci").unwrap();
    assert_eq!(compatibles(psci), ["arm,psci-1.0", "arm,psci-0.2"]);
    assert_eq!(psci.property("method").unwrap().as_str(), Some("hvc"));
    let memory = fdt.find_node("/memory@40000000").unwrap();
    assert_eq!(
        memory.property("device_type").unwrap().as_str(),
        Some("memory")
    );
    assert_eq!(regs(memory), [(0x4000_0000, 0x2000_0000)]);
}

#[test]
fn several_memory_regions() {
    let memory = [
        range(0x4000_0000, 0x1000_0000),
        range(0x1_0000_0000, 0x4000_0000),
    ];
    let blob = build_aarch64(&Aarch64Machine {
        memory: &memory,
        ..minimal()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let found: Vec<(u64, u64)> = fdt
        .all_nodes()
        .filter(|n| n.property("device_type").and_then(|p| p.as_str()) == Some("memory"))
        .flat_map(regs)
        .collect();
    assert_eq!(
        found,
        [(0x4000_0000, 0x1000_0000), (0x1_0000_0000, 0x4000_0000)]
    );
    assert!(fdt.find_node("/memory@100000000").is_some());
}

#[test]
fn cpus() {
    let blob = build_aarch64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let ids: Vec<usize> = fdt.cpus().map(|cpu| cpu.ids().first()).collect();
    assert_eq!(ids, [0x0, 0x1, 0x100, 0x1_0000]);
    let cpus = fdt.find_node("/cpus").unwrap();
    assert_eq!(
        (cells(cpus, "#address-cells"), cells(cpus, "#size-cells")),
        (vec![1], vec![0])
    );
    for cpu in fdt.cpus() {
        assert_eq!(
            cpu.property("enable-method").unwrap().as_str(),
            Some("psci")
        );
        assert_eq!(
            cpu.property("compatible").unwrap().as_str(),
            Some("arm,armv8")
        );
        assert_eq!(cpu.property("device_type").unwrap().as_str(), Some("cpu"));
    }
    assert!(fdt.find_node("/cpus/cpu@100").is_some());
}

#[test]
fn cpus_with_aff3_use_two_cells() {
    let mpidrs = [0x8000_0000, 0x01_8000_0002];
    let blob = build_aarch64(&Aarch64Machine {
        cpu_mpidrs: &mpidrs,
        ..minimal()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let cpus = fdt.find_node("/cpus").unwrap();
    assert_eq!(cells(cpus, "#address-cells"), [2]);
    let ids: Vec<usize> = fdt.cpus().map(|cpu| cpu.ids().first()).collect();
    assert_eq!(ids, [0, 0x1_0000_0002]);
    assert!(fdt.find_node("/cpus/cpu@100000002").is_some());
}

#[test]
fn gicv2_node_lists_distributor_and_cpu_interface() {
    let machine = Aarch64Machine {
        gic: Some(GicLayout::V2(GicV2Layout {
            distributor: range(0x0800_0000, 0x1_0000),
            cpu_interface: range(0x0801_0000, 0x2000),
        })),
        ..qemu_like()
    };
    let blob = build_aarch64(&machine).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let gic = fdt.find_node("/intc@8000000").unwrap();
    assert_eq!(compatibles(gic), ["arm,cortex-a15-gic"]);
    assert_eq!(regs(gic), [(0x0800_0000, 0x1_0000), (0x0801_0000, 0x2000)]);
    assert_eq!(cells(gic, "#interrupt-cells"), [3]);
    assert!(gic.property("#redistributor-regions").is_none());
    assert!(fdt.find_node("/timer").is_some());
}

#[test]
fn gic_node() {
    let blob = build_aarch64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let gic = fdt.find_node("/intc@8000000").unwrap();
    assert_eq!(compatibles(gic), ["arm,gic-v3"]);
    assert_eq!(
        regs(gic),
        [(0x0800_0000, 0x1_0000), (0x080a_0000, 0xf6_0000)]
    );
    assert_eq!(cells(gic, "#interrupt-cells"), [3]);
    assert_eq!(cells(gic, "#redistributor-regions"), [1]);
    assert!(gic.property("interrupt-controller").is_some());
    let phandle = cells(gic, "phandle");
    assert_eq!(
        cells(fdt.find_node("/").unwrap(), "interrupt-parent"),
        phandle
    );
    assert_eq!(
        fdt.find_node("/").unwrap().interrupt_parent().unwrap().name,
        gic.name
    );
}

#[test]
fn uart_and_clock() {
    let blob = build_aarch64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let uart = fdt.find_node("/pl011@9000000").unwrap();
    assert_eq!(compatibles(uart), ["arm,pl011", "arm,primecell"]);
    assert_eq!(regs(uart), [(0x0900_0000, 0x1000)]);
    assert_eq!(cells(uart, "interrupts"), [0, 1, 4]);
    let names: Vec<&str> = uart
        .property("clock-names")
        .unwrap()
        .value
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| core::str::from_utf8(s).unwrap())
        .collect();
    assert_eq!(names, ["uartclk", "apb_pclk"]);
    let clocks = cells(uart, "clocks");
    assert_eq!(clocks.len(), 2);
    assert_eq!(clocks[0], clocks[1]);
    let clock = fdt.find_phandle(clocks[0]).unwrap();
    assert_eq!(clock.name, "apb-pclk");
    assert_eq!(compatibles(clock), ["fixed-clock"]);
    assert_eq!(cells(clock, "clock-frequency"), [UART_CLOCK_HZ]);
    assert_eq!(cells(clock, "#clock-cells"), [0]);
}

#[test]
fn timer_node() {
    let blob = build_aarch64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let timer = fdt.find_node("/timer").unwrap();
    assert_eq!(compatibles(timer), ["arm,armv8-timer", "arm,armv7-timer"]);
    assert_eq!(
        cells(timer, "interrupts"),
        [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]
    );
    assert!(timer.property("always-on").is_some());
}

#[test]
fn pmu_node_needs_a_gic() {
    let blob = build_aarch64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let pmu = fdt.find_node("/pmu").unwrap();
    assert_eq!(compatibles(pmu), ["arm,armv8-pmuv3"]);
    assert_eq!(cells(pmu, "interrupts"), [1, 7, 4]);
    let no_gic = Aarch64Machine {
        pmu_ppi: Some(QEMU_VIRT_PMU_PPI),
        ..minimal()
    };
    assert!(matches!(
        build_aarch64(&no_gic),
        Err(DtbError::NoInterruptController)
    ));
}

#[test]
fn chosen_and_aliases() {
    let blob = build_aarch64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let chosen = fdt.chosen();
    assert_eq!(
        chosen.bootargs(),
        Some("console=ttyAMA0 earlycon root=/dev/ram")
    );
    assert_eq!(chosen.stdout().unwrap().name, "pl011@9000000");
    let node = fdt.find_node("/chosen").unwrap();
    assert_eq!(u64_prop(node, "linux,initrd-start"), 0x4800_0000);
    assert_eq!(u64_prop(node, "linux,initrd-end"), 0x4812_3456);
    assert_eq!(
        fdt.aliases().unwrap().resolve("serial0"),
        Some("/pl011@9000000")
    );
}

#[test]
fn minimal_machine_leaves_optional_nodes_out() {
    let blob = build_aarch64(&minimal()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    for path in ["/intc", "/timer", "/pl011", "/apb-pclk", "/aliases"] {
        assert!(fdt.find_node(path).is_none(), "{path}");
    }
    assert!(
        fdt.find_node("/")
            .unwrap()
            .property("interrupt-parent")
            .is_none()
    );
    let chosen = fdt.find_node("/chosen").unwrap();
    assert_eq!(chosen.properties().count(), 0);
    assert_eq!(fdt.cpus().count(), 1);
}

#[test]
fn uart_without_gic_is_polled() {
    let blob = build_aarch64(&Aarch64Machine {
        uart: Some(UART),
        ..minimal()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let uart = fdt.find_node("/pl011@9000000").unwrap();
    assert!(uart.property("interrupts").is_none());
    assert_eq!(fdt.chosen().stdout().unwrap().name, "pl011@9000000");
}

#[test]
fn refused_machines() {
    let empty = [range(0x4000_0000, 0)];
    let wrapping = [range(u64::MAX - 0xfff, 0x2000)];
    let overlapping = [range(0x4000_0000, 0x1000_0000), range(0x4fff_f000, 0x1000)];
    let cases: Vec<(Aarch64Machine, DtbError)> = vec![
        (
            Aarch64Machine {
                memory: &[],
                ..qemu_like()
            },
            DtbError::NoMemory,
        ),
        (
            Aarch64Machine {
                cpu_mpidrs: &[],
                ..qemu_like()
            },
            DtbError::NoCpus,
        ),
        (
            Aarch64Machine {
                cpu_mpidrs: &[0x8000_0001, 0x1],
                ..qemu_like()
            },
            DtbError::DuplicateCpu { mpidr: 1 },
        ),
        (
            Aarch64Machine {
                memory: &empty,
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "memory",
                range: range(0x4000_0000, 0),
            },
        ),
        (
            Aarch64Machine {
                memory: &wrapping,
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "memory",
                range: range(u64::MAX - 0xfff, 0x2000),
            },
        ),
        (
            Aarch64Machine {
                memory: &overlapping,
                ..qemu_like()
            },
            DtbError::MemoryOverlap {
                first: range(0x4000_0000, 0x1000_0000),
                second: range(0x4fff_f000, 0x1000),
            },
        ),
        (
            Aarch64Machine {
                gic: None,
                ..qemu_like()
            },
            DtbError::NoInterruptController,
        ),
        (
            Aarch64Machine {
                initrd: Some(range(0x4800_0000, 0)),
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "initrd",
                range: range(0x4800_0000, 0),
            },
        ),
        (
            Aarch64Machine {
                uart: Some(UartNode {
                    base: range(0, 0),
                    spi: 1,
                }),
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "uart",
                range: range(0, 0),
            },
        ),
        (
            Aarch64Machine {
                gic: Some(GicLayout::V3(GicV3Layout {
                    redistributors: range(u64::MAX, 2),
                    ..GIC
                })),
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "gic redistributors",
                range: range(u64::MAX, 2),
            },
        ),
        (
            Aarch64Machine {
                bootargs: Some("bad\0args"),
                ..qemu_like()
            },
            DtbError::Fdt(vm_fdt::Error::InvalidString),
        ),
    ];
    for (machine, want) in cases {
        assert_eq!(build_aarch64(&machine), Err(want));
    }
}

#[test]
fn error_messages() {
    assert_eq!(DtbError::NoCpus.to_string(), "the machine has no CPU");
    let err = DtbError::BadRange {
        what: "memory",
        range: range(0x4000_0000, 0),
    };
    assert_eq!(
        err.to_string(),
        "memory range 0x40000000+0x0 is empty or wraps around"
    );
    let err = DtbError::Fdt(vm_fdt::Error::InvalidString);
    assert_eq!(
        err.to_string(),
        "device tree writer: Strings cannot contain NUL"
    );
}

/// The shared region of the node tests: interrupt `interrupt`, read-only or not.
fn logbook(interrupt: Option<u32>, read_only: bool) -> SharedRegionNode<'static> {
    SharedRegionNode {
        name: "logbook",
        region: range(0x7000_0000, 0x1_0000),
        doorbell: range(0x7010_0000, 0x1000),
        read_only,
        interrupt,
    }
}

#[test]
fn shared_region_node() {
    let shared = [logbook(Some(8), true)];
    let blob = build_aarch64(&Aarch64Machine {
        shared: &shared,
        ..qemu_like()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let node = fdt.find_node("/shared-region@70000000").unwrap();
    assert_eq!(compatibles(node), ["tessera,shared-region"]);
    assert_eq!(regs(node), [(0x7000_0000, 0x1_0000), (0x7010_0000, 0x1000)]);
    assert_eq!(node.property("label").unwrap().as_str(), Some("logbook"));
    assert!(node.property("read-only").is_some());
    assert_eq!(cells(node, "interrupts"), [0, 8, 4], "SPI 8, level high");
    let writable = [logbook(None, false)];
    let blob = build_aarch64(&Aarch64Machine {
        shared: &writable,
        ..minimal()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let node = fdt.find_node("/shared-region@70000000").unwrap();
    assert!(node.property("read-only").is_none());
    assert!(
        node.property("interrupts").is_none(),
        "polled without a GIC"
    );
}

#[test]
fn a_doorbell_interrupt_needs_a_gic() {
    let shared = [logbook(Some(8), false)];
    assert_eq!(
        build_aarch64(&Aarch64Machine {
            shared: &shared,
            ..minimal()
        }),
        Err(DtbError::NoInterruptController)
    );
}
