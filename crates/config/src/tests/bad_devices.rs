//! Bad input: the `[devices]` table, one case per rule.

use super::{GOOD, edit, expect_error, parse_ok};

/// `GOOD` with its emulated devices replaced by `rows`.
fn with_emu_devices(rows: &str) -> String {
    let start = GOOD.find("emu_devices = [").unwrap();
    format!("{}emu_devices = [{rows}]\n", &GOOD[..start])
}

#[test]
fn zero_length_emulated_device_is_rejected() {
    expect_error(
        &with_emu_devices("[\"uart\", 0x0900_0000, 0, 1, 2, []]"),
        "devices.emu_devices[0][2]",
        "length is 0",
    );
}

#[test]
fn emulated_device_reaching_the_top_of_the_address_space_is_accepted() {
    // The largest range TOML can express ends below 2^64, so it cannot wrap
    // (the wrap check itself is tested with the memory regions).
    let text =
        with_emu_devices("[\"top\", 0x7fff_ffff_ffff_f000, 0x7fff_ffff_ffff_ffff, 1, 2, []]");
    assert_eq!(
        parse_ok(&text).devices.emu_devices[0].length,
        i64::MAX as u64
    );
}

#[test]
fn overlapping_emulated_devices_are_rejected() {
    expect_error(
        &with_emu_devices(
            "[\"a\", 0x0900_0000, 0x1000, 1, 2, []], [\"b\", 0x0900_0800, 0x1000, 1, 2, []]",
        ),
        "devices.emu_devices[1]",
        "device `b` at 0x900_0800..0x900_1800 overlaps devices.emu_devices[0] `a` (0x900_0000..0x900_1000)",
    );
}

#[test]
fn emulated_device_inside_ram_is_rejected() {
    expect_error(
        &with_emu_devices("[\"uart\", 0x4800_0000, 0x1000, 1, 2, []]"),
        "devices.emu_devices[0]",
        "overlaps guest RAM kernel.memory_regions[0] (0x4000_0000..0x5000_0000)",
    );
}

#[test]
fn port_range_devices_are_not_checked_against_ram() {
    // x86 COM1 at port 0x3f8 while guest RAM starts at address 0, as in
    // AxVisor's x86_64 Linux configs.
    let text = with_emu_devices("[\"x86-com1\", 0x3f8, 8, 0, 2, []]").replace(
        "[0x4000_0000, 0x1000_0000, 0x7, 0]",
        "[0x0, 0x5000_0000, 0x7, 0]",
    );
    parse_ok(&text);
}

#[test]
fn zero_length_passthrough_range_is_rejected() {
    expect_error(
        &edit("[[\"/\"]]", "[[\"HPET\", 0xfed0_0000, 0xfed0_0000, 0, 0]]"),
        "devices.passthrough_devices[0][3]",
        "length is 0",
    );
}

#[test]
fn passthrough_row_of_another_shape_is_rejected() {
    expect_error(
        &edit("[[\"/\"]]", "[[\"HPET\", 0xfed0_0000]]"),
        "devices.passthrough_devices[0]",
        "expected [device-tree path] or [name, gpa, hpa, length, irq], found 2 items",
    );
}

#[test]
fn empty_passthrough_path_is_rejected() {
    expect_error(
        &edit("[[\"/\"]]", "[[\"\"]]"),
        "devices.passthrough_devices[0][0]",
        "path must not be empty",
    );
}

#[test]
fn empty_excluded_path_is_rejected() {
    expect_error(
        &edit("[[\"/pcie@10000000\"]]", "[[\"/a\"], [\"\"]]"),
        "devices.excluded_devices[1][0]",
        "path must not be empty",
    );
}

#[test]
fn unknown_interrupt_mode_lists_accepted_values() {
    expect_error(
        &edit(
            "interrupt_mode = \"emulated\"",
            "interrupt_mode = \"virtual\"",
        ),
        "devices.interrupt_mode",
        "unknown interrupt mode \"virtual\"; accepted: \"no_irq\", \"emulated\" (or \"emu\"), \"passthrough\" (or \"pt\")",
    );
}

#[test]
fn zero_length_passthrough_address_is_rejected() {
    expect_error(
        &edit("[[0x0900_0000, 0x1000]]", "[[0x0900_0000, 0]]"),
        "devices.passthrough_addresses[0][1]",
        "length is 0",
    );
}

#[test]
fn passthrough_ports_past_0xffff_are_rejected() {
    expect_error(
        &edit(
            "interrupt_mode",
            "passthrough_ports = [[0xfff0, 0x20]]\ninterrupt_mode",
        ),
        "devices.passthrough_ports[0][1]",
        "run past the last I/O port 0xffff",
    );
}

#[test]
fn bad_item_in_nested_config_array_names_its_path() {
    expect_error(
        &edit("[2, 0x2_0000, 0]", "[2, \"stride\", 0]"),
        "devices.emu_devices[1][5][1]",
        "expected an integer, found a string",
    );
}

#[test]
fn emulated_device_row_of_the_wrong_length_is_rejected() {
    expect_error(
        &with_emu_devices("[\"uart\", 0x0900_0000, 0x1000, 1, 2]"),
        "devices.emu_devices[0]",
        "expected 6 items [name, gpa, length, irq, emu_type, [config]], found 5",
    );
}
