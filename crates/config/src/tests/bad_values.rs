//! Bad input: values in `[base]` and `[kernel]`, one case per rule.

use crate::span::Span;

use super::{GOOD, edit, expect_error, parse_ok};

/// `GOOD` with its memory regions replaced by `rows`.
fn with_regions(rows: &str) -> String {
    let start = GOOD.find("memory_regions = [").unwrap();
    let end = start + GOOD[start..].find("]\n\n").unwrap() + 1;
    format!(
        "{}memory_regions = [{rows}]{}",
        &GOOD[..start],
        &GOOD[end..]
    )
}

#[test]
fn negative_address_is_rejected() {
    expect_error(
        &edit("entry_point = 0x4008_0000", "entry_point = -1"),
        "kernel.entry_point",
        "must not be negative (found -1)",
    );
}

#[test]
fn zero_vcpus_is_rejected() {
    expect_error(
        &edit("cpu_num = 2", "cpu_num = 0"),
        "base.cpu_num",
        "at least 1 vCPU",
    );
}

#[test]
fn empty_name_is_rejected() {
    expect_error(
        &edit("name = \"test-vm\"", "name = \"\""),
        "base.name",
        "name must not be empty",
    );
}

#[test]
fn unknown_vm_type_is_rejected() {
    expect_error(
        &edit("vm_type = 1", "vm_type = 3"),
        "base.vm_type",
        "unknown VM type 3",
    );
}

#[test]
fn more_vcpus_than_listed_cpu_ids_is_rejected() {
    expect_error(
        &edit("phys_cpu_ids = [0x100, 0x101]", "phys_cpu_ids = [0x100]"),
        "base.phys_cpu_ids",
        "lists 1 physical CPUs but cpu_num is 2",
    );
}

#[test]
fn more_vcpus_than_cpu_masks_is_rejected() {
    expect_error(
        &edit("phys_cpu_ids = [0x100, 0x101]", "phys_cpu_sets = [1]"),
        "base.phys_cpu_sets",
        "lists 1 physical CPUs but cpu_num is 2",
    );
}

#[test]
fn duplicate_cpu_id_is_rejected() {
    expect_error(
        &edit("[0x100, 0x101]", "[0x100, 0x100]"),
        "base.phys_cpu_ids[1]",
        "physical CPU id 0x100 is listed twice (also base.phys_cpu_ids[0])",
    );
}

#[test]
fn zero_cpu_mask_is_rejected() {
    expect_error(
        &edit("phys_cpu_ids = [0x100, 0x101]", "phys_cpu_sets = [1, 0]"),
        "base.phys_cpu_sets[1]",
        "CPU mask is 0",
    );
}

#[test]
fn empty_memory_regions_without_device_tree_is_rejected() {
    let text = with_regions("").replace("dtb_path = \"/guest/guest.dtb\"\n", "");
    expect_error(&text, "kernel.memory_regions", "no guest RAM");
}

#[test]
fn zero_size_region_is_rejected() {
    expect_error(
        &with_regions("[0x4000_0000, 0, 0x7, 0]"),
        "kernel.memory_regions[0][1]",
        "memory region size is 0",
    );
}

#[test]
fn region_past_the_address_space_cannot_be_written() {
    // TOML integers are signed 64-bit, so `gpa + size` of a written row is at
    // most 2^64 - 2 and the parser's wrap check cannot fire from text; check
    // the range arithmetic it relies on, and that addresses from 2^63 up are
    // reported with the line they are on.
    assert!(Span::new(u64::MAX - 0xfff, 0x2000).wraps());
    assert!(!Span::new(u64::MAX - 0xfff, 0x1000).wraps());
    expect_error(
        &with_regions("[0xffff_ffff_ffff_f000, 0x2000, 0x7, 0]"),
        "(toml syntax)",
        "line 16, column 20: ",
    );
    expect_error(
        &with_regions("[0xffff_ffff_ffff_f000, 0x2000, 0x7, 0]"),
        "(toml syntax)",
        "TOML integers are signed 64-bit",
    );
}

#[test]
fn unknown_flag_bits_are_rejected() {
    expect_error(
        &edit("0x1000_0000, 0x7, 0]", "0x1000_0000, 0x47, 0]"),
        "kernel.memory_regions[0][2]",
        "unknown flag bits 0x40 in 0x47",
    );
}

#[test]
fn region_without_read_is_rejected() {
    expect_error(
        &edit("0x1000_0000, 0x7, 0]", "0x1000_0000, 0x6, 0]"),
        "kernel.memory_regions[0][2]",
        "lack READ",
    );
}

#[test]
fn unknown_map_type_is_rejected() {
    expect_error(
        &edit("0x1000_0000, 0x7, 0]", "0x1000_0000, 0x7, 3]"),
        "kernel.memory_regions[0][3]",
        "unknown map type 3",
    );
}

#[test]
fn region_row_of_the_wrong_length_is_rejected() {
    expect_error(
        &edit("0x1000_0000, 0x7, 0]", "0x1000_0000, 0x7]"),
        "kernel.memory_regions[0]",
        "expected 4 items [gpa, size, flags, map_type], found 3",
    );
}

#[test]
fn overlapping_regions_name_both_indexes() {
    expect_error(
        &with_regions("[0x4000_0000, 0x1000_0000, 0x7, 0], [0x4fff_f000, 0x2000, 0x7, 0]"),
        "kernel.memory_regions[1]",
        "region 0x4fff_f000..0x5000_1000 overlaps kernel.memory_regions[0] (0x4000_0000..0x5000_0000)",
    );
}

#[test]
fn nested_region_is_accepted_only_inside_an_identical_one_with_the_same_flags() {
    // Accepted: nested in an earlier identical region with the same flags.
    parse_ok(&with_regions(
        "[0x4000_0000, 0x1000_0000, 0x7, 1], [0x4000_0000, 0x10_0000, 0x7, 0]",
    ));
    // Rejected: the outer region is allocated, not identical.
    expect_error(
        &with_regions("[0x4000_0000, 0x1000_0000, 0x7, 0], [0x4000_0000, 0x10_0000, 0x7, 0]"),
        "kernel.memory_regions[1]",
        "overlaps kernel.memory_regions[0]",
    );
    // Rejected: different flags.
    expect_error(
        &with_regions("[0x4000_0000, 0x1000_0000, 0x7, 1], [0x4000_0000, 0x10_0000, 0x3, 0]"),
        "kernel.memory_regions[1]",
        "overlaps kernel.memory_regions[0]",
    );
    // Rejected: the identical region comes later (the inner row must come after).
    expect_error(
        &with_regions("[0x4000_0000, 0x10_0000, 0x7, 0], [0x4000_0000, 0x1000_0000, 0x7, 1]"),
        "kernel.memory_regions[1]",
        "overlaps kernel.memory_regions[0]",
    );
}

#[test]
fn entry_point_outside_ram_is_rejected() {
    expect_error(
        &edit("entry_point = 0x4008_0000", "entry_point = 0x3000_0000"),
        "kernel.entry_point",
        "entry point 0x3000_0000 is outside guest RAM",
    );
}

#[test]
fn load_addresses_outside_ram_are_rejected() {
    expect_error(
        &edit(
            "kernel_load_addr = 0x4008_0000",
            "kernel_load_addr = 0x5000_0000",
        ),
        "kernel.kernel_load_addr",
        "kernel load address 0x5000_0000 is outside guest RAM",
    );
    expect_error(
        &edit("dtb_load_addr = 0x4000_0000", "dtb_load_addr = 0x8000"),
        "kernel.dtb_load_addr",
        "device tree load address 0x8000 is outside guest RAM",
    );
    let image_lines = "ramdisk_path = \"/r\"\nramdisk_load_addr = 0x7000_0000\n\
                       bios_path = \"/b\"\nbios_load_addr = 0xffc0_0000\nkernel_path";
    let text = edit("kernel_path", image_lines);
    expect_error(
        &text,
        "kernel.ramdisk_load_addr",
        "ramdisk load address 0x7000_0000 is outside guest RAM",
    );
    expect_error(
        &text,
        "kernel.bios_load_addr",
        "BIOS load address 0xffc0_0000 is outside guest RAM",
    );
}

#[test]
fn image_path_without_load_address_is_rejected() {
    expect_error(
        &edit("dtb_load_addr = 0x4000_0000\n", ""),
        "kernel.dtb_load_addr",
        "missing: required when `dtb_path` is given",
    );
    expect_error(
        &edit("kernel_path", "ramdisk_path = \"/initrd\"\nkernel_path"),
        "kernel.ramdisk_load_addr",
        "missing: required when `ramdisk_path` is given",
    );
    expect_error(
        &edit("kernel_path", "bios_path = \"/bios.bin\"\nkernel_path"),
        "kernel.bios_load_addr",
        "missing: required when `bios_path` is given",
    );
}

#[test]
fn unknown_image_location_lists_accepted_values() {
    expect_error(
        &edit("image_location = \"fs\"", "image_location = \"disk\""),
        "kernel.image_location",
        "unknown image location \"disk\"; accepted: \"memory\", \"fs\"",
    );
}

#[test]
fn empty_paths_are_rejected() {
    expect_error(
        &edit("kernel_path = \"/guest/kernel.bin\"", "kernel_path = \"\""),
        "kernel.kernel_path",
        "path must not be empty",
    );
    expect_error(
        &edit("dtb_path = \"/guest/guest.dtb\"", "dtb_path = \"\""),
        "kernel.dtb_path",
        "path must not be empty",
    );
}
