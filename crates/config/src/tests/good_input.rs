//! Good input: the values a valid file is read into, and the helper methods.

use std::collections::HashMap;

use crate::{
    EmuType, EmulatedDevice, ImageLocation, InterruptMode, MapType, MemoryFlags, MemoryRegion,
    PassthroughDevice, VmType,
};

use super::{GOOD, edit, parse_ok};

#[test]
fn sample_values_are_read() {
    let config = parse_ok(GOOD);
    assert_eq!(config.base.id, 1);
    assert_eq!(config.base.name, "test-vm");
    assert_eq!(config.base.vm_type, VmType::Rtos);
    assert_eq!(config.base.cpu_num, 2);
    assert_eq!(config.kernel.image_location, ImageLocation::Fs);
    assert_eq!(config.kernel.dtb_path.as_deref(), Some("/guest/guest.dtb"));
    assert_eq!(config.kernel.ramdisk_path, None);
    assert_eq!(config.devices.interrupt_mode, InterruptMode::Emulated);
    assert_eq!(config.devices.excluded_devices, ["/pcie@10000000"]);
    assert_eq!(
        config.devices.passthrough_addresses,
        [(0x0900_0000, 0x1000)]
    );
}

#[test]
fn hex_with_separators_is_read() {
    let config = parse_ok(GOOD);
    assert_eq!(config.kernel.entry_point, 0x4008_0000);
    assert_eq!(
        config.kernel.memory_regions,
        [
            MemoryRegion {
                gpa: 0x4000_0000,
                size: 0x1000_0000,
                flags: MemoryFlags::READ | MemoryFlags::WRITE | MemoryFlags::EXECUTE,
                map_type: MapType::Allocate,
            },
            MemoryRegion {
                gpa: 0x6000_0000,
                size: 0x10_0000,
                flags: MemoryFlags::from_bits(0xf).unwrap(),
                map_type: MapType::Reserved,
            },
        ]
    );
}

#[test]
fn both_passthrough_row_shapes_are_read() {
    let text = edit(
        "passthrough_devices = [[\"/\"]]",
        "passthrough_devices = [\n  [\"/soc/uart\"],\n  [\n    \"HPET\",\n    0xfed0_0000,\n    0xfed0_0000,\n    0x1000,\n    0x1,\n  ],\n]",
    );
    let config = parse_ok(&text);
    assert_eq!(
        config.devices.passthrough_devices,
        [
            PassthroughDevice::Path("/soc/uart".into()),
            PassthroughDevice::Range {
                name: "HPET".into(),
                gpa: 0xfed0_0000,
                hpa: 0xfed0_0000,
                length: 0x1000,
                irq: 1,
            },
        ]
    );
}

#[test]
fn emulated_device_with_nested_config_is_read() {
    let config = parse_ok(GOOD);
    assert_eq!(
        config.devices.emu_devices[1],
        EmulatedDevice {
            name: "gicr".into(),
            gpa: 0x080a_0000,
            length: 0x4_0000,
            irq: 0,
            emu_type: EmuType::GicRedistributor,
            config: vec![2, 0x2_0000, 0],
        }
    );
    assert_eq!(
        config.devices.emu_devices[0].emu_type,
        EmuType::GicDistributor
    );
}

#[test]
fn unnamed_emulated_device_types_are_kept() {
    assert_eq!(EmuType::from_code(0x30), EmuType::Other(0x30));
    for code in [0, 1, 2, 0xa, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x30] {
        assert_eq!(EmuType::from_code(code).code(), code);
    }
}

#[test]
fn cpu_ids_and_masks_together_prefer_ids() {
    let text = edit(
        "phys_cpu_ids = [0x100, 0x101]",
        "phys_cpu_sets = [0b10, 0b1100]\nphys_cpu_ids = [0x100, 0x101]",
    );
    let config = parse_ok(&text);
    assert_eq!(config.base.phys_cpu_sets, Some(vec![2, 12]));
    assert_eq!(config.vcpu_phys_ids(), [0x100, 0x101]);
}

#[test]
fn vcpu_ids_come_from_masks_or_count_when_ids_are_absent() {
    let masks = edit(
        "phys_cpu_ids = [0x100, 0x101]",
        "phys_cpu_sets = [0b10, 0b1100, 1]",
    );
    assert_eq!(parse_ok(&masks).vcpu_phys_ids(), [1, 2]);
    let neither = edit("phys_cpu_ids = [0x100, 0x101]\n", "");
    assert_eq!(parse_ok(&neither).vcpu_phys_ids(), [0, 1]);
    let longer = edit("[0x100, 0x101]", "[0x100, 0x101, 0x200]");
    assert_eq!(parse_ok(&longer).vcpu_phys_ids(), [0x100, 0x101]);
}

#[test]
fn devices_table_may_be_absent() {
    let text = &GOOD[..GOOD.find("[devices]").unwrap()];
    let config = parse_ok(text);
    assert_eq!(config.devices, Default::default());
    assert_eq!(config.devices.interrupt_mode, InterruptMode::Emulated);
}

#[test]
fn interrupt_mode_aliases_are_accepted() {
    for (text, mode) in [
        ("no_irq", InterruptMode::NoIrq),
        ("none", InterruptMode::NoIrq),
        ("emu", InterruptMode::Emulated),
        ("pt", InterruptMode::Passthrough),
        ("passthrough", InterruptMode::Passthrough),
    ] {
        let config = parse_ok(&edit("\"emulated\"", &format!("\"{text}\"")));
        assert_eq!(config.devices.interrupt_mode, mode, "{text}");
    }
}

#[test]
fn empty_regions_are_accepted_when_the_device_tree_describes_ram() {
    let start = GOOD.find("memory_regions = [").unwrap();
    let end = start + GOOD[start..].find("]\n\n").unwrap() + 1;
    let text = format!("{}memory_regions = []{}", &GOOD[..start], &GOOD[end..]);
    let config = parse_ok(&text);
    assert!(config.kernel.memory_regions.is_empty());
    // Only the existence of the images can be checked.
    let sizes = |path: &str| (path == "/guest/kernel.bin").then_some(u64::MAX);
    let errors = config.check_images("vm.toml", &sizes);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "kernel.dtb_path");
}

#[test]
fn check_images_accepts_images_that_fit() {
    let config = parse_ok(GOOD);
    let files = HashMap::from([
        ("/guest/kernel.bin", 0x80_0000),
        ("/guest/guest.dtb", 0x1_0000),
    ]);
    let sizes = |path: &str| files.get(path).copied();
    assert_eq!(config.check_images("vm.toml", &sizes), []);
}

#[test]
fn check_images_reports_missing_files() {
    let config = parse_ok(GOOD);
    let errors = config.check_images("vm.toml", &|_| None);
    let fields: Vec<_> = errors.iter().map(|error| error.field.as_str()).collect();
    assert_eq!(fields, ["kernel.kernel_path", "kernel.dtb_path"]);
    assert_eq!(
        errors[0].to_string(),
        "vm.toml: field `kernel.kernel_path`: image file \"/guest/kernel.bin\" not found"
    );
}

#[test]
fn check_images_reports_images_that_do_not_fit() {
    let config = parse_ok(GOOD);
    // RAM is 0x4000_0000..0x5000_0000; the kernel starts at 0x4008_0000.
    let files = HashMap::from([
        ("/guest/kernel.bin", 0x1000_0000),
        ("/guest/guest.dtb", 0x100),
    ]);
    let sizes = |path: &str| files.get(path).copied();
    let errors = config.check_images("vm.toml", &sizes);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "kernel.kernel_load_addr");
    assert!(
        errors[0].reason.contains(
            "would occupy 0x4008_0000..0x5008_0000, which is not inside one guest RAM region"
        ),
        "{}",
        errors[0].reason
    );
}

#[test]
fn check_images_does_not_let_an_image_span_two_regions() {
    // Two adjacent regions: an image crossing the boundary is still refused,
    // since each region may be backed by different host memory.
    let text = GOOD.replace(
        "[0x6000_0000, 0x0010_0000, 0xf, 2]",
        "[0x5000_0000, 0x0010_0000, 0x7, 0]",
    );
    let config = parse_ok(&text);
    let files = HashMap::from([
        ("/guest/kernel.bin", 0x0ff8_0000 + 0x1000),
        ("/guest/guest.dtb", 1),
    ]);
    let sizes = |path: &str| files.get(path).copied();
    let errors = config.check_images("vm.toml", &sizes);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "kernel.kernel_load_addr");
}

#[test]
fn memory_flags_behave_as_bits() {
    let rw = MemoryFlags::READ | MemoryFlags::WRITE;
    assert_eq!(rw.bits(), 3);
    assert!(rw.contains(MemoryFlags::READ));
    assert!(!rw.contains(MemoryFlags::EXECUTE));
    assert_eq!(MemoryFlags::from_bits(0x40), None);
    assert_eq!(MemoryFlags::from_bits(0x3f), Some(MemoryFlags::ALL));
    // AxVisor's bit values: R|W|X|USER is 0xf, and none of it is device memory.
    let axvisor_ram = MemoryFlags::from_bits(0xf).unwrap();
    assert!(axvisor_ram.contains(MemoryFlags::USER));
    assert!(!axvisor_ram.contains(MemoryFlags::DEVICE));
    assert_eq!(MemoryFlags::DEVICE.bits(), 16);
    assert_eq!(MemoryFlags::UNCACHED.bits(), 32);
}
