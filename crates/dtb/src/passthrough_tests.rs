//! Tests of passthrough devices: a host tree shaped like QEMU `virt`'s, devices found
//! in it, and their nodes in the guest's tree.

use fdt::Fdt;
use vm_fdt::FdtWriter;

use crate::aarch64_tests::qemu_like;
use crate::{Aarch64Machine, build_aarch64, find_host_device};

/// A host tree: an RTC at the root, a node with a PPI, and a bus with address translation.
fn host_tree() -> Vec<u8> {
    let mut fdt = FdtWriter::new().unwrap();
    let root = fdt.begin_node("").unwrap();
    fdt.property_u32("#address-cells", 2).unwrap();
    fdt.property_u32("#size-cells", 2).unwrap();
    fdt.property_u32("interrupt-parent", 0x8002).unwrap();
    let clock = fdt.begin_node("apb-pclk").unwrap();
    fdt.property_phandle(0x8000).unwrap();
    fdt.end_node(clock).unwrap();
    let rtc = fdt.begin_node("pl031@9010000").unwrap();
    fdt.property_string("clock-names", "apb_pclk").unwrap();
    fdt.property_array_u32("clocks", &[0x8000]).unwrap();
    fdt.property_array_u32("interrupts", &[0, 2, 4]).unwrap();
    fdt.property_array_u64("reg", &[0x0901_0000, 0x1000])
        .unwrap();
    fdt.property_string_list(
        "compatible",
        vec!["arm,pl031".into(), "arm,primecell".into()],
    )
    .unwrap();
    fdt.property_phandle(0x8010).unwrap();
    fdt.end_node(rtc).unwrap();
    let timer = fdt.begin_node("ppi-device@9020000").unwrap();
    fdt.property_array_u64("reg", &[0x0902_0000, 0x1000])
        .unwrap();
    fdt.property_array_u32("interrupts", &[1, 13, 4]).unwrap();
    fdt.end_node(timer).unwrap();
    let soc = fdt.begin_node("soc").unwrap();
    fdt.property_u32("#address-cells", 1).unwrap();
    fdt.property_u32("#size-cells", 1).unwrap();
    fdt.property_array_u32("ranges", &[0, 0, 0x1000_0000, 0x1000_0000])
        .unwrap();
    let serial = fdt.begin_node("serial@0").unwrap();
    fdt.property_array_u32("reg", &[0, 0x100]).unwrap();
    fdt.end_node(serial).unwrap();
    fdt.end_node(soc).unwrap();
    fdt.end_node(root).unwrap();
    fdt.finish().unwrap()
}

#[test]
fn finds_registers_interrupts_and_properties() {
    let host = host_tree();
    let rtc = find_host_device(&host, "/pl031@9010000").unwrap();
    assert_eq!(rtc.regs, vec![(0x0901_0000, 0x1000)]);
    assert_eq!(rtc.spis, Ok(vec![34]));
    assert_eq!(rtc.node.name, "pl031@9010000");
    let names: Vec<&str> = rtc
        .node
        .properties
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(names.contains(&"compatible") && names.contains(&"clocks"));
    assert!(!names.contains(&"phandle"));
}

#[test]
fn refuses_what_it_cannot_pass_through() {
    let host = host_tree();
    for (path, expected) in [
        ("/", "full path"),
        ("pl031@9010000", "full path"),
        ("/nothing@0", "no such node"),
        ("/pl031", "no such node"),
        ("/apb-pclk", "no `reg`"),
        ("/soc/serial@0", "translates addresses"),
    ] {
        let error = find_host_device(&host, path).unwrap_err();
        assert!(error.contains(expected), "{path}: {error}");
    }
    let ppi = find_host_device(&host, "/ppi-device@9020000").unwrap();
    assert_eq!(
        ppi.regs,
        vec![(0x0902_0000, 0x1000)],
        "found, with its window"
    );
    assert!(
        ppi.spis
            .unwrap_err()
            .contains("only shared peripheral interrupts")
    );
    assert!(
        find_host_device(&[0u8; 64], "/pl031@9010000")
            .unwrap_err()
            .contains("invalid")
    );
}

#[test]
fn copied_nodes_appear_in_the_guest_tree() {
    let host = host_tree();
    let rtc = find_host_device(&host, "/pl031@9010000").unwrap();
    let nodes = [rtc.node];
    let machine = Aarch64Machine {
        uart: None,
        passthrough: &nodes,
        ..qemu_like()
    };
    let blob = build_aarch64(&machine).unwrap();
    let fdt = Fdt::new(&blob).unwrap();
    let node = fdt.find_node("/pl031@9010000").unwrap();
    let clock = fdt.find_node("/apb-pclk").unwrap();
    let clock_phandle = clock.property("phandle").unwrap().as_usize().unwrap();
    assert_eq!(
        node.property("clocks").unwrap().as_usize(),
        Some(clock_phandle)
    );
    assert_eq!(
        node.property("interrupts").unwrap().value,
        [0u8, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4]
    );
    assert_eq!(
        node.reg().unwrap().next().unwrap().starting_address as u64,
        0x0901_0000
    );
}

/// Found by `cargo xtask fuzz` (dtb-host-device): a corrupted blob made the `fdt` crate
/// panic on a property name that was not UTF-8; it is refused now.
#[test]
fn corrupted_host_trees_are_refused_not_a_panic() {
    let host = host_tree();
    assert!(crate::is_well_formed(&host));
    for at in 0..host.len() {
        for value in [0x00, 0x01, 0x7f, 0xff] {
            let mut blob = host.clone();
            blob[at] = value;
            let _ = find_host_device(&blob, "/pl031@9010000");
        }
    }
    let mut truncated = host.clone();
    truncated.truncate(host.len() / 2);
    assert!(!crate::is_well_formed(&truncated));
    assert!(
        find_host_device(&truncated, "/pl031@9010000")
            .unwrap_err()
            .contains("invalid")
    );
}

/// A tree with three virtio-mmio transports, one disabled, and an unrelated node.
fn virtio_tree() -> Vec<u8> {
    let mut fdt = FdtWriter::new().unwrap();
    let root = fdt.begin_node("").unwrap();
    fdt.property_u32("#address-cells", 2).unwrap();
    fdt.property_u32("#size-cells", 2).unwrap();
    for (base, status) in [
        (0x0a00_0000u64, None),
        (0x0a00_0200, Some("disabled")),
        (0x0a00_0400, Some("okay")),
    ] {
        let node = fdt.begin_node(&format!("virtio_mmio@{base:x}")).unwrap();
        fdt.property_string("compatible", "virtio,mmio").unwrap();
        fdt.property_array_u64("reg", &[base, 0x200]).unwrap();
        if let Some(status) = status {
            fdt.property_string("status", status).unwrap();
        }
        fdt.end_node(node).unwrap();
    }
    let rtc = fdt.begin_node("pl031@9010000").unwrap();
    fdt.property_string("compatible", "arm,pl031").unwrap();
    fdt.property_array_u64("reg", &[0x0901_0000, 0x1000])
        .unwrap();
    fdt.end_node(rtc).unwrap();
    fdt.end_node(root).unwrap();
    fdt.finish().unwrap()
}

#[test]
fn compatible_nodes_are_found_in_tree_order_without_disabled_ones() {
    let tree = virtio_tree();
    assert_eq!(
        crate::find_compatible(&tree, "virtio,mmio").unwrap(),
        vec![(0x0a00_0000, 0x200), (0x0a00_0400, 0x200)]
    );
    assert_eq!(crate::find_compatible(&tree, "ns16550a").unwrap(), vec![]);
    let mut broken = tree.clone();
    broken.truncate(40);
    assert!(crate::find_compatible(&broken, "virtio,mmio").is_err());
}

/// A host tree with machine-description nodes, a disabled device, a node without
/// `reg`, a one-to-one bus and a translating bus.
fn whole_tree() -> Vec<u8> {
    let mut fdt = FdtWriter::new().unwrap();
    let root = fdt.begin_node("").unwrap();
    fdt.property_u32("#address-cells", 2).unwrap();
    fdt.property_u32("#size-cells", 2).unwrap();
    for name in ["chosen", "aliases", "cpus", "reserved-memory"] {
        let node = fdt.begin_node(name).unwrap();
        fdt.end_node(node).unwrap();
    }
    let with_reg = |fdt: &mut FdtWriter, name: &str, base: u64, status: Option<&str>| {
        let node = fdt.begin_node(name).unwrap();
        fdt.property_array_u64("reg", &[base, 0x1000]).unwrap();
        if let Some(status) = status {
            fdt.property_string("status", status).unwrap();
        }
        fdt.end_node(node).unwrap();
    };
    with_reg(&mut fdt, "memory@40000000", 0x4000_0000, None);
    with_reg(&mut fdt, "pl011@9000000", 0x0900_0000, None);
    with_reg(&mut fdt, "pl061@9030000", 0x0903_0000, Some("disabled"));
    let keys = fdt.begin_node("gpio-keys").unwrap();
    fdt.end_node(keys).unwrap();
    let bus = fdt.begin_node("bus").unwrap();
    fdt.property_null("ranges").unwrap();
    with_reg(&mut fdt, "rtc@9010000", 0x0901_0000, Some("okay"));
    fdt.end_node(bus).unwrap();
    let soc = fdt.begin_node("soc").unwrap();
    fdt.property_array_u32("ranges", &[0, 0, 0, 0x1000_0000, 0, 0x1000_0000])
        .unwrap();
    with_reg(&mut fdt, "serial@0", 0, None);
    fdt.end_node(soc).unwrap();
    let intc = fdt.begin_node("intc@8000000").unwrap();
    fdt.property_array_u64("reg", &[0x0800_0000, 0x1_0000])
        .unwrap();
    with_reg(&mut fdt, "its@8080000", 0x0808_0000, None);
    fdt.end_node(intc).unwrap();
    fdt.end_node(root).unwrap();
    fdt.finish().unwrap()
}

#[test]
fn the_whole_tree_is_every_enabled_device_node() {
    assert_eq!(
        crate::device_paths(&whole_tree()).unwrap(),
        vec!["/pl011@9000000", "/bus/rtc@9010000", "/intc@8000000"],
        "no machine nodes, disabled or reg-less nodes, translated buses; children go with their parent"
    );
    let mut broken = whole_tree();
    broken.truncate(60);
    assert!(crate::device_paths(&broken).is_err());
}
