//! Tests of finding the host's GIC: QEMU `virt`'s GICv2 and GICv3 nodes, and trees
//! that describe no usable one.

use vm_fdt::FdtWriter;

use crate::{HostGic, host_gic};

/// A root with one interrupt controller node `compatible` whose `reg` holds `frames`.
fn tree(compatible: &str, frames: &[(u64, u64)], controller: bool) -> Vec<u8> {
    let mut fdt = FdtWriter::new().unwrap();
    let root = fdt.begin_node("").unwrap();
    fdt.property_u32("#address-cells", 2).unwrap();
    fdt.property_u32("#size-cells", 2).unwrap();
    let uart = fdt.begin_node("pl011@9000000").unwrap();
    fdt.property_string("compatible", "arm,pl011").unwrap();
    fdt.property_array_u64("reg", &[0x0900_0000, 0x1000])
        .unwrap();
    fdt.end_node(uart).unwrap();
    let intc = fdt.begin_node("intc@8000000").unwrap();
    fdt.property_string("compatible", compatible).unwrap();
    if controller {
        fdt.property_null("interrupt-controller").unwrap();
    }
    let reg: Vec<u64> = frames
        .iter()
        .flat_map(|&(base, size)| [base, size])
        .collect();
    fdt.property_array_u64("reg", &reg).unwrap();
    fdt.end_node(intc).unwrap();
    fdt.end_node(root).unwrap();
    fdt.finish().unwrap()
}

const GICD: (u64, u64) = (0x0800_0000, 0x1_0000);
const GICC: (u64, u64) = (0x0801_0000, 0x1_0000);
const GICH: (u64, u64) = (0x0803_0000, 0x1_0000);
const GICV: (u64, u64) = (0x0804_0000, 0x1_0000);
const GICR: (u64, u64) = (0x080a_0000, 0xf6_0000);

#[test]
fn finds_qemu_virts_gicv2_with_virtualization() {
    let dtb = tree("arm,cortex-a15-gic", &[GICD, GICC, GICH, GICV], true);
    assert_eq!(
        host_gic(&dtb),
        Ok(HostGic::V2 {
            distributor: GICD,
            cpu_interface: GICC,
            virtualization: Some((GICH, GICV)),
        })
    );
    let plain = tree("arm,gic-400", &[GICD, GICC], true);
    assert_eq!(
        host_gic(&plain),
        Ok(HostGic::V2 {
            distributor: GICD,
            cpu_interface: GICC,
            virtualization: None,
        })
    );
}

#[test]
fn finds_a_gicv3_and_its_legacy_frame_only_when_listed() {
    let dtb = tree("arm,gic-v3", &[GICD, GICR], true);
    assert_eq!(
        host_gic(&dtb),
        Ok(HostGic::V3 {
            distributor: GICD,
            redistributors: GICR,
            legacy_vcpu_interface: None,
        })
    );
    let legacy = tree("arm,gic-v3", &[GICD, GICR, GICC, GICH, GICV], true);
    assert!(matches!(
        host_gic(&legacy),
        Ok(HostGic::V3 {
            legacy_vcpu_interface: Some(GICV),
            ..
        })
    ));
}

#[test]
fn refuses_trees_without_a_usable_gic() {
    let no_controller = tree("arm,cortex-a15-gic", &[GICD, GICC], false);
    assert!(
        host_gic(&no_controller)
            .unwrap_err()
            .contains("no GICv2 or GICv3")
    );
    let other = tree("riscv,plic0", &[GICD], true);
    assert!(host_gic(&other).is_err());
    let no_cpu_interface = tree("arm,gic-400", &[GICD], true);
    assert_eq!(
        host_gic(&no_cpu_interface),
        Err("the host GIC node intc@8000000 has no CPU interface in `reg`".into())
    );
    assert!(host_gic(b"not a tree").unwrap_err().contains("invalid"));
}
