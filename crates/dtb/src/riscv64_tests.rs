//! Tests of the riscv64 device tree: build, parse back with the `fdt` crate, compare.

use std::collections::HashMap;

use fdt::Fdt;
use fdt::node::FdtNode;
use tessera_addr::{GuestPhysAddr, GuestRange};

use crate::{
    DtbError, PlicNode, QEMU_VIRT_TIMEBASE_HZ, Riscv64Machine, SharedRegionNode,
    UART16550_CLOCK_HZ, Uart16550Node, build_riscv64,
};

fn range(start: u64, size: u64) -> GuestRange {
    GuestRange::new(GuestPhysAddr::new(start), size)
}

const PLIC: PlicNode = PlicNode {
    base: GuestRange::new(GuestPhysAddr::new(0x0c00_0000), 0x60_0000),
    sources: 96,
};
const UART: Uart16550Node = Uart16550Node {
    base: GuestRange::new(GuestPhysAddr::new(0x1000_0000), 0x100),
    irq: Some(10),
};
const MEMORY: [GuestRange; 1] = [GuestRange::new(
    GuestPhysAddr::new(0x8000_0000),
    0x2000_0000,
)];
const HARTS: [u64; 4] = [0, 1, 2, 3];
const ISA: &str = "rv64imafdc_zicsr_zifencei";

fn qemu_like() -> Riscv64Machine<'static> {
    Riscv64Machine {
        memory: &MEMORY,
        hart_ids: &HARTS,
        isa: ISA,
        timebase_frequency: QEMU_VIRT_TIMEBASE_HZ,
        plic: Some(PLIC),
        uart: Some(UART),
        bootargs: Some("console=ttyS0 earlycon root=/dev/ram"),
        initrd: Some(range(0x8800_0000, 0x12_3456)),
        shared: &[],
    }
}

fn minimal() -> Riscv64Machine<'static> {
    Riscv64Machine {
        memory: &MEMORY,
        hart_ids: &HARTS[..1],
        isa: ISA,
        timebase_frequency: QEMU_VIRT_TIMEBASE_HZ,
        plic: None,
        uart: None,
        bootargs: None,
        initrd: None,
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

/// A property as a string.
fn string<'a>(node: FdtNode<'_, 'a>, name: &str) -> &'a str {
    node.property(name)
        .and_then(|p| p.as_str())
        .unwrap_or_else(|| panic!("no string {name} in {}", node.name))
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

/// The phandle of each hart's interrupt controller, mapped to the hart ID.
fn intc_phandles(fdt: &Fdt<'_>) -> HashMap<u32, u64> {
    fdt.cpus()
        .map(|cpu| {
            let id = cpu.ids().first() as u64;
            let name = format!("/cpus/cpu@{id:x}/interrupt-controller");
            let intc = fdt.find_node(&name).unwrap();
            (cells(intc, "phandle")[0], id)
        })
        .collect()
}

#[test]
fn root_and_memory() {
    let blob = build_riscv64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let root = fdt.root();
    let sizes = root.cell_sizes();
    assert_eq!((sizes.address_cells, sizes.size_cells), (2, 2));
    assert_eq!(compatibles(fdt.find_node("/").unwrap()), ["riscv-virtio"]);
    assert_eq!(root.model(), "tessera,virt");
    let memory = fdt.find_node("/memory@80000000").unwrap();
    assert_eq!(string(memory, "device_type"), "memory");
    assert_eq!(regs(memory), [(0x8000_0000, 0x2000_0000)]);
}

#[test]
fn several_memory_regions() {
    let memory = [
        range(0x8000_0000, 0x1000_0000),
        range(0x1_0000_0000, 0x4000_0000),
    ];
    let blob = build_riscv64(&Riscv64Machine {
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
        [(0x8000_0000, 0x1000_0000), (0x1_0000_0000, 0x4000_0000)]
    );
}

#[test]
fn cpus() {
    let blob = build_riscv64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let cpus = fdt.find_node("/cpus").unwrap();
    assert_eq!(cells(cpus, "#address-cells"), [1]);
    assert_eq!(cells(cpus, "#size-cells"), [0]);
    assert_eq!(cells(cpus, "timebase-frequency"), [10_000_000]);
    let ids: Vec<usize> = fdt.cpus().map(|cpu| cpu.ids().first()).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
    for cpu in fdt.cpus() {
        assert_eq!(cpu.timebase_frequency(), 10_000_000);
        let prop = |name| cpu.property(name).and_then(|p| p.as_str());
        assert_eq!(prop("device_type"), Some("cpu"));
        assert_eq!(prop("status"), Some("okay"));
        assert_eq!(prop("compatible"), Some("riscv"));
        assert_eq!(prop("riscv,isa"), Some(ISA));
        assert_eq!(prop("mmu-type"), Some("riscv,sv39"));
    }
    for hart in HARTS {
        let path = format!("/cpus/cpu@{hart:x}/interrupt-controller");
        let intc = fdt.find_node(&path).unwrap();
        assert_eq!(compatibles(intc), ["riscv,cpu-intc"]);
        assert_eq!(cells(intc, "#interrupt-cells"), [1]);
        assert!(intc.property("interrupt-controller").is_some());
    }
    // Every hart's controller has its own phandle, distinct from the PLIC's.
    let phandles = intc_phandles(&fdt);
    assert_eq!(phandles.len(), HARTS.len());
    let plic = fdt.find_node("/soc/plic@c000000").unwrap();
    assert!(!phandles.contains_key(&cells(plic, "phandle")[0]));
}

#[test]
fn sparse_and_wide_hart_ids() {
    let harts = [5, 0x1_0000_0000, 0];
    let blob = build_riscv64(&Riscv64Machine {
        hart_ids: &harts,
        plic: Some(PLIC),
        ..minimal()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert_eq!(
        cells(fdt.find_node("/cpus").unwrap(), "#address-cells"),
        [2]
    );
    let ids: Vec<usize> = fdt.cpus().map(|cpu| cpu.ids().first()).collect();
    assert_eq!(ids, [5, 0x1_0000_0000, 0]);
    assert!(fdt.find_node("/cpus/cpu@100000000").is_some());
    // Contexts follow the order of `hart_ids`, not the IDs.
    let phandles = intc_phandles(&fdt);
    let plic = fdt.find_node("/soc/plic@c000000").unwrap();
    let harts_in_order: Vec<u64> = cells(plic, "interrupts-extended")
        .chunks(2)
        .map(|pair| phandles[&pair[0]])
        .collect();
    assert_eq!(harts_in_order, [5, 5, 0x1_0000_0000, 0x1_0000_0000, 0, 0]);
}

#[test]
fn soc_and_plic() {
    let blob = build_riscv64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let soc = fdt.find_node("/soc").unwrap();
    assert_eq!(compatibles(soc), ["simple-bus"]);
    assert_eq!(cells(soc, "#address-cells"), [2]);
    assert_eq!(cells(soc, "#size-cells"), [2]);
    assert!(soc.property("ranges").unwrap().value.is_empty());
    let plic = fdt.find_node("/soc/plic@c000000").unwrap();
    assert_eq!(compatibles(plic), ["sifive,plic-1.0.0", "riscv,plic0"]);
    assert_eq!(regs(plic), [(0x0c00_0000, 0x60_0000)]);
    assert_eq!(cells(plic, "#interrupt-cells"), [1]);
    assert_eq!(cells(plic, "#address-cells"), [0]);
    assert!(plic.property("interrupt-controller").is_some());
    assert_eq!(cells(plic, "riscv,ndev"), [96]);
    // Context 2h is hart h's M mode (cause 11), 2h+1 its S mode (cause 9).
    let phandles = intc_phandles(&fdt);
    let contexts: Vec<(u64, u32)> = cells(plic, "interrupts-extended")
        .chunks(2)
        .map(|pair| (phandles[&pair[0]], pair[1]))
        .collect();
    let want: Vec<(u64, u32)> = HARTS.iter().flat_map(|&h| [(h, 11), (h, 9)]).collect();
    assert_eq!(contexts, want);
}

#[test]
fn serial() {
    let blob = build_riscv64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let uart = fdt.find_node("/soc/serial@10000000").unwrap();
    assert_eq!(compatibles(uart), ["ns16550a"]);
    assert_eq!(regs(uart), [(0x1000_0000, 0x100)]);
    assert_eq!(cells(uart, "clock-frequency"), [UART16550_CLOCK_HZ]);
    assert_eq!(UART16550_CLOCK_HZ, 3_686_400);
    assert_eq!(cells(uart, "interrupts"), [10]);
    assert_eq!(uart.interrupt_parent().unwrap().name, "plic@c000000");
    assert!(uart.property("reg-shift").is_none());
}

#[test]
fn chosen_and_aliases() {
    let blob = build_riscv64(&qemu_like()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let chosen = fdt.chosen();
    assert_eq!(
        chosen.bootargs(),
        Some("console=ttyS0 earlycon root=/dev/ram")
    );
    assert_eq!(
        string(fdt.find_node("/chosen").unwrap(), "stdout-path"),
        "/soc/serial@10000000"
    );
    assert_eq!(chosen.stdout().unwrap().name, "serial@10000000");
    let node = fdt.find_node("/chosen").unwrap();
    assert_eq!(u64_prop(node, "linux,initrd-start"), 0x8800_0000);
    assert_eq!(u64_prop(node, "linux,initrd-end"), 0x8812_3456);
    assert_eq!(
        fdt.aliases().unwrap().resolve("serial0"),
        Some("/soc/serial@10000000")
    );
}

#[test]
fn minimal_machine_leaves_optional_nodes_out() {
    let blob = build_riscv64(&minimal()).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    for path in ["/soc", "/aliases"] {
        assert!(fdt.find_node(path).is_none(), "{path}");
    }
    let chosen = fdt.find_node("/chosen").unwrap();
    assert_eq!(chosen.properties().count(), 0);
    assert_eq!(fdt.cpus().count(), 1);
    assert!(fdt.find_node("/cpus/cpu@0/interrupt-controller").is_some());
}

#[test]
fn polled_uarts() {
    // No PLIC: the UART's interrupt is left out.
    let blob = build_riscv64(&Riscv64Machine {
        uart: Some(UART),
        ..minimal()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert!(fdt.find_node("/soc/plic@c000000").is_none());
    let uart = fdt.find_node("/soc/serial@10000000").unwrap();
    assert!(uart.property("interrupts").is_none());
    assert!(uart.property("interrupt-parent").is_none());
    assert_eq!(fdt.chosen().stdout().unwrap().name, "serial@10000000");
    // A PLIC but no interrupt for the UART.
    let blob = build_riscv64(&Riscv64Machine {
        uart: Some(Uart16550Node { irq: None, ..UART }),
        ..qemu_like()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let uart = fdt.find_node("/soc/serial@10000000").unwrap();
    assert!(uart.property("interrupts").is_none());
    // A PLIC without a UART.
    let blob = build_riscv64(&Riscv64Machine {
        uart: None,
        ..qemu_like()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    assert!(fdt.find_node("/soc/plic@c000000").is_some());
    assert!(fdt.find_node("/aliases").is_none());
    assert!(fdt.chosen().stdout().is_none());
}

#[test]
fn refused_machines() {
    let empty = [range(0x8000_0000, 0)];
    let overlapping = [range(0x8000_0000, 0x1000_0000), range(0x8fff_f000, 0x1000)];
    let plic = |sources| Some(PlicNode { sources, ..PLIC });
    let uart_irq = |irq| Some(Uart16550Node { irq, ..UART });
    let cases: Vec<(Riscv64Machine, DtbError)> = vec![
        (
            Riscv64Machine {
                memory: &[],
                ..qemu_like()
            },
            DtbError::NoMemory,
        ),
        (
            Riscv64Machine {
                hart_ids: &[],
                ..qemu_like()
            },
            DtbError::NoCpus,
        ),
        (
            Riscv64Machine {
                hart_ids: &[0, 1, 2, 1],
                ..qemu_like()
            },
            DtbError::DuplicateHart { hart_id: 1 },
        ),
        (
            Riscv64Machine {
                memory: &empty,
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "memory",
                range: range(0x8000_0000, 0),
            },
        ),
        (
            Riscv64Machine {
                memory: &overlapping,
                ..qemu_like()
            },
            DtbError::MemoryOverlap {
                first: range(0x8000_0000, 0x1000_0000),
                second: range(0x8fff_f000, 0x1000),
            },
        ),
        (
            Riscv64Machine {
                plic: plic(0),
                ..qemu_like()
            },
            DtbError::BadPlicSources { sources: 0 },
        ),
        (
            Riscv64Machine {
                plic: plic(1024),
                ..qemu_like()
            },
            DtbError::BadPlicSources { sources: 1024 },
        ),
        (
            Riscv64Machine {
                plic: Some(PlicNode {
                    base: range(u64::MAX, 2),
                    ..PLIC
                }),
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "plic",
                range: range(u64::MAX, 2),
            },
        ),
        (
            Riscv64Machine {
                uart: uart_irq(Some(0)),
                ..qemu_like()
            },
            DtbError::BadIrq {
                what: "uart",
                irq: 0,
                sources: 96,
            },
        ),
        (
            Riscv64Machine {
                uart: uart_irq(Some(97)),
                ..qemu_like()
            },
            DtbError::BadIrq {
                what: "uart",
                irq: 97,
                sources: 96,
            },
        ),
        (
            Riscv64Machine {
                uart: Some(Uart16550Node {
                    base: range(0x1000_0000, 0),
                    ..UART
                }),
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "uart",
                range: range(0x1000_0000, 0),
            },
        ),
        (
            Riscv64Machine {
                initrd: Some(range(0x8800_0000, 0)),
                ..qemu_like()
            },
            DtbError::BadRange {
                what: "initrd",
                range: range(0x8800_0000, 0),
            },
        ),
        (
            Riscv64Machine {
                isa: "rv64\0imac",
                ..qemu_like()
            },
            DtbError::Fdt(vm_fdt::Error::InvalidString),
        ),
    ];
    for (machine, want) in cases {
        assert_eq!(build_riscv64(&machine), Err(want));
    }
    // The largest PLIC and its last source are fine.
    let machine = Riscv64Machine {
        plic: plic(1023),
        uart: uart_irq(Some(1023)),
        ..qemu_like()
    };
    assert!(build_riscv64(&machine).is_ok());
}

#[test]
fn error_messages() {
    assert_eq!(
        DtbError::DuplicateHart { hart_id: 3 }.to_string(),
        "two harts have hart ID 3"
    );
    assert_eq!(
        DtbError::BadPlicSources { sources: 0 }.to_string(),
        "a PLIC has 1 to 1023 interrupt sources, not 0"
    );
    let err = DtbError::BadIrq {
        what: "uart",
        irq: 97,
        sources: 96,
    };
    assert_eq!(
        err.to_string(),
        "uart interrupt 97 is not a PLIC source (1 to 96)"
    );
}

/// The shared region of the node tests, its doorbell on PLIC source `interrupt`.
fn logbook(interrupt: Option<u32>) -> SharedRegionNode<'static> {
    SharedRegionNode {
        name: "logbook",
        region: range(0x9000_0000, 0x1_0000),
        doorbell: range(0x9010_0000, 0x1000),
        read_only: false,
        interrupt,
    }
}

#[test]
fn shared_region_node() {
    let shared = [logbook(Some(12))];
    let blob = build_riscv64(&Riscv64Machine {
        shared: &shared,
        ..qemu_like()
    })
    .unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let node = fdt.find_node("/shared-region@90000000").unwrap();
    assert_eq!(compatibles(node), ["tessera,shared-region"]);
    assert_eq!(regs(node), [(0x9000_0000, 0x1_0000), (0x9010_0000, 0x1000)]);
    assert_eq!(string(node, "label"), "logbook");
    assert_eq!(cells(node, "interrupts"), [12]);
    let plic = fdt.find_compatible(&["sifive,plic-1.0.0"]).unwrap();
    assert_eq!(
        cells(node, "interrupt-parent"),
        cells(plic, "phandle"),
        "from the PLIC"
    );
}

#[test]
fn a_doorbell_interrupt_needs_a_plic_source() {
    let shared = [logbook(Some(PLIC.sources + 1))];
    assert!(matches!(
        build_riscv64(&Riscv64Machine {
            shared: &shared,
            ..qemu_like()
        }),
        Err(DtbError::BadIrq {
            what: "shared region doorbell",
            ..
        })
    ));
    let shared = [logbook(Some(1))];
    assert_eq!(
        build_riscv64(&Riscv64Machine {
            shared: &shared,
            ..minimal()
        }),
        Err(DtbError::NoInterruptController)
    );
}
