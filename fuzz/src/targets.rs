//! The fuzz targets: each turns random numbers into one input for a parser or model
//! and runs it; the harness only looks for panics.

use crate::Target;
use crate::rng::Rng;
use tessera_addr::{GuestPhysAddr, GuestRange};
use tessera_vdev::{AccessWidth, CharSink, MmioDevice, SerialPort};

/// Every target, in the order they run.
pub const ALL: &[Target] = &[
    Target {
        name: "config-toml",
        run: config_toml,
    },
    Target {
        name: "dtb-aarch64",
        run: dtb_aarch64,
    },
    Target {
        name: "dtb-riscv64",
        run: dtb_riscv64,
    },
    Target {
        name: "dtb-host-device",
        run: dtb_host_device,
    },
    Target {
        name: "aarch64-esr-psci-sysreg",
        run: aarch64_decoders,
    },
    Target {
        name: "riscv64-sbi-insn",
        run: riscv64_decoders,
    },
    Target {
        name: "x86-insn-bzimage",
        run: x86_decoders,
    },
    Target {
        name: "vgic-registers",
        run: vgic_registers,
    },
    Target {
        name: "plic-registers",
        run: plic_registers,
    },
    Target {
        name: "uart-registers",
        run: uart_registers,
    },
];

/// Configs to mutate: the repository's own, one per architecture.
const SEED_CONFIGS: &[&str] = &[
    include_str!("../../configs/vms/linux-aarch64-qemu-smp2.toml"),
    include_str!("../../configs/vms/linux-riscv64-qemu-smp2.toml"),
    include_str!("../../configs/vms/guest-aarch64.toml"),
];

/// A config with random bytes flipped, inserted or removed.
fn config_toml(rng: &mut Rng) {
    let seed = SEED_CONFIGS
        .get(rng.below(SEED_CONFIGS.len() as u64) as usize)
        .copied()
        .unwrap_or("");
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..=rng.below(8) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len() as u64) as usize;
        match rng.below(3) {
            0 => bytes[at] = b"[]=,\"'0x_#\n{}.-9"[rng.below(16) as usize],
            1 => bytes.insert(at, rng.u64() as u8),
            _ => {
                bytes.remove(at);
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let _ = tessera_config::VmConfig::from_toml("fuzz.toml", &text);
}

fn range(rng: &mut Rng) -> GuestRange {
    GuestRange::new(GuestPhysAddr::new(rng.edgy()), rng.edgy())
}

fn ranges(rng: &mut Rng) -> Vec<GuestRange> {
    (0..rng.below(4)).map(|_| range(rng)).collect()
}

fn text(rng: &mut Rng) -> String {
    String::from_utf8_lossy(&rng.bytes(40)).into_owned()
}

/// An aarch64 machine with random layout, CPUs, devices and command line.
fn dtb_aarch64(rng: &mut Rng) {
    let memory = ranges(rng);
    let mpidrs: Vec<u64> = (0..rng.below(5)).map(|_| rng.edgy()).collect();
    let bootargs = text(rng);
    let name = text(rng);
    let node = tessera_dtb::CopiedNode {
        name: text(rng),
        properties: vec![(text(rng), rng.bytes(16))],
        children: Vec::new(),
    };
    let nodes = if rng.one_in(2) {
        vec![node]
    } else {
        Vec::new()
    };
    let machine = tessera_dtb::Aarch64Machine {
        memory: &memory,
        cpu_mpidrs: &mpidrs,
        gic: match rng.u64() % 3 {
            0 => None,
            1 => Some(tessera_dtb::GicLayout::V3(tessera_dtb::GicV3Layout {
                distributor: range(rng),
                redistributors: range(rng),
            })),
            _ => Some(tessera_dtb::GicLayout::V2(tessera_dtb::GicV2Layout {
                distributor: range(rng),
                cpu_interface: range(rng),
            })),
        },
        uart: rng.one_in(2).then(|| tessera_dtb::UartNode {
            base: range(rng),
            spi: rng.u64() as u32,
        }),
        timer_ppis: rng.one_in(2).then_some(tessera_dtb::QEMU_VIRT_TIMER_PPIS),
        pmu_ppi: rng.one_in(2).then_some(tessera_dtb::QEMU_VIRT_PMU_PPI),
        bootargs: rng.one_in(2).then_some(bootargs.as_str()),
        initrd: rng.one_in(2).then(|| range(rng)),
        passthrough: &nodes,
        shared: &shared_regions(rng, &name),
    };
    let _ = tessera_dtb::build_aarch64(&machine);
}

/// None, one or two shared regions named `name`, with random windows and interrupts.
fn shared_regions<'a>(rng: &mut Rng, name: &'a str) -> Vec<tessera_dtb::SharedRegionNode<'a>> {
    (0..rng.below(3))
        .map(|_| tessera_dtb::SharedRegionNode {
            name,
            region: range(rng),
            doorbell: range(rng),
            read_only: rng.one_in(2),
            interrupt: rng.one_in(2).then(|| rng.u64() as u32),
        })
        .collect()
}

/// A riscv64 machine with random layout, harts, devices and command line.
fn dtb_riscv64(rng: &mut Rng) {
    let memory = ranges(rng);
    let harts: Vec<u64> = (0..rng.below(5)).map(|_| rng.edgy()).collect();
    let isa = text(rng);
    let bootargs = text(rng);
    let name = text(rng);
    let machine = tessera_dtb::Riscv64Machine {
        memory: &memory,
        hart_ids: &harts,
        isa: &isa,
        timebase_frequency: rng.u64() as u32,
        plic: rng.one_in(2).then(|| tessera_dtb::PlicNode {
            base: range(rng),
            sources: rng.u64() as u32,
        }),
        uart: rng.one_in(2).then(|| tessera_dtb::Uart16550Node {
            base: range(rng),
            irq: rng.one_in(2).then(|| rng.u64() as u32),
        }),
        bootargs: rng.one_in(2).then_some(bootargs.as_str()),
        initrd: rng.one_in(2).then(|| range(rng)),
        shared: &shared_regions(rng, &name),
    };
    let _ = tessera_dtb::build_riscv64(&machine);
}

/// A host device tree that is a valid blob with random bytes overwritten.
fn dtb_host_device(rng: &mut Rng) {
    let memory = [GuestRange::new(GuestPhysAddr::new(0x4000_0000), 0x100_0000)];
    let machine = tessera_dtb::Aarch64Machine {
        memory: &memory,
        cpu_mpidrs: &[0],
        gic: None,
        uart: Some(tessera_dtb::UartNode {
            base: GuestRange::new(GuestPhysAddr::new(0x0900_0000), 0x1000),
            spi: 1,
        }),
        timer_ppis: None,
        pmu_ppi: None,
        bootargs: Some("console=ttyAMA0"),
        initrd: None,
        passthrough: &[],
        shared: &[],
    };
    let Ok(mut blob) = tessera_dtb::build_aarch64(&machine) else {
        return;
    };
    for _ in 0..rng.below(6) {
        let at = rng.below(blob.len() as u64) as usize;
        blob[at] = rng.u64() as u8;
    }
    let path = [
        "/pl011@9000000",
        "/",
        "/memory@40000000",
        "/chosen",
        "pl011",
    ][rng.below(5) as usize];
    let _ = tessera_dtb::find_host_device(&blob, path);
}

/// Exception syndromes, PSCI calls and trapped system registers.
fn aarch64_decoders(rng: &mut Rng) {
    use tessera_vcpu_aarch64::{esr, psci, sysreg};
    let _ = esr::decode(rng.edgy());
    let _ = esr::fault_ipa(rng.edgy(), rng.edgy());
    let _ = psci::decode([rng.edgy(), rng.edgy(), rng.edgy(), rng.edgy()]);
    let v = rng.u64();
    let encoding = esr::SysRegEncoding {
        op0: v as u8,
        op1: (v >> 8) as u8,
        crn: (v >> 16) as u8,
        crm: (v >> 24) as u8,
        op2: (v >> 32) as u8,
    };
    let _ = sysreg::classify(encoding);
    let _ = sysreg::guest_id_value(v as u8, (v >> 8) as u8, rng.u64());
}

/// SBI calls and trapped loads and stores.
fn riscv64_decoders(rng: &mut Rng) {
    use tessera_vcpu_riscv64::{insn, sbi};
    let mut args = [0u64; 8];
    for arg in &mut args {
        *arg = rng.edgy();
    }
    if rng.one_in(2) {
        // A known extension id, so the functions behind it are reached.
        args[7] = [
            0x10,
            0x5449_4D45,
            0x73_5049,
            0x5246_4E43,
            0x48_534D,
            0x5352_5354,
            0x4442_434E,
            1,
        ][rng.below(8) as usize];
        args[6] = rng.below(8);
    }
    let _ = sbi::decode(args);
    let _ = insn::decode(rng.u64() as u32);
    let _ = insn::decode_transformed(rng.edgy());
}

/// MMIO instructions and kernel images.
fn x86_decoders(rng: &mut Rng) {
    let bytes = rng.bytes(16);
    if let Some(insn) = tessera_vcpu_x86::insn::decode(&bytes) {
        let _ = insn.store_value(rng.u64());
        let _ = insn.load_result(rng.u64(), rng.u64());
    }
    let mut image = rng.bytes(0x300);
    if image.len() > 0x206 && rng.one_in(2) {
        image[0x202..0x206].copy_from_slice(b"HdrS");
    }
    let _ = tessera_x86_boot::BzImage::parse(&image);
}

fn width(rng: &mut Rng) -> AccessWidth {
    [
        AccessWidth::Byte,
        AccessWidth::Half,
        AccessWidth::Word,
        AccessWidth::Double,
    ][rng.below(4) as usize]
}

/// A vGIC driven by random register accesses, interrupts and SGIs.
fn vgic_registers(rng: &mut Rng) {
    let vcpus: Vec<u64> = (0..rng.below(5)).map(|_| rng.edgy()).collect();
    let mut vgic = tessera_vgic::Vgic::new(vcpus, rng.below(1100) as u32);
    for _ in 0..64 {
        let offset = if rng.one_in(4) {
            rng.edgy()
        } else {
            rng.below(0x5_0000)
        };
        let vcpu = rng.below(6) as usize;
        let intid = rng.below(1100) as u32;
        match rng.below(9) {
            0 => drop(vgic.read_distributor(offset, width(rng))),
            1 => drop(vgic.write_distributor(offset, width(rng), rng.edgy())),
            2 => drop(vgic.read_redistributor(offset, width(rng))),
            3 => drop(vgic.write_redistributor(offset, width(rng), rng.edgy())),
            4 => drop(vgic.raise(vcpu, intid)),
            5 => drop(vgic.send_sgi(vcpu, rng.edgy())),
            6 => drop(vgic.take_pending(vcpu, &[intid])),
            7 => drop(vgic.take_kicks() | u64::from(vgic.has_pending(vcpu))),
            _ => vgic.reset(),
        }
    }
}

/// A PLIC driven by random register accesses and interrupt lines.
fn plic_registers(rng: &mut Rng) {
    let mut plic = tessera_vdev::Plic::new(rng.below(1100) as u32, rng.below(70) as u32);
    for _ in 0..64 {
        let offset = if rng.one_in(4) {
            rng.edgy()
        } else {
            rng.below(0x40_0000)
        };
        let source = rng.below(1100) as u32;
        match rng.below(6) {
            0 => drop(plic.read(offset, width(rng))),
            1 => drop(plic.write(offset, width(rng), rng.edgy())),
            2 => plic.set_level(source, rng.one_in(2)),
            3 => plic.raise(source),
            4 => drop(plic.context_interrupt(rng.below(70) as u32)),
            _ => drop(plic.take_changed() | plic.contexts_with_interrupts()),
        }
    }
}

/// Output goes nowhere.
struct Discard;

impl CharSink for Discard {
    fn write_bytes(&mut self, _bytes: &[u8]) {}
}

/// The console UARTs driven by random register accesses and input.
fn uart_registers(rng: &mut Rng) {
    let mut uart: Box<dyn SerialPort> = if rng.one_in(2) {
        Box::new(tessera_vdev::Pl011::new(Box::new(Discard)))
    } else {
        Box::new(tessera_vdev::Uart16550::new(Box::new(Discard)))
    };
    for _ in 0..64 {
        let offset = if rng.one_in(4) {
            rng.edgy()
        } else {
            rng.below(0x1000)
        };
        match rng.below(4) {
            0 => drop(uart.read(offset, width(rng))),
            1 => drop(uart.write(offset, width(rng), rng.edgy())),
            2 => uart.push_input(rng.u64() as u8),
            _ => drop(uart.interrupt_pending() | uart.can_take_input()),
        }
    }
}
