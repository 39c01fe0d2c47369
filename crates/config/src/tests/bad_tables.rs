//! Bad input: file structure (syntax, tables, fields, types, missing fields).

use crate::VmConfig;
use crate::parse::V2_REASON;

use super::{GOOD, edit, errors, expect_error};

#[test]
fn toml_syntax_error_names_line_and_column() {
    let text = edit("cpu_num = 2", "cpu_num = = 2");
    let errors = errors(&text);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "(toml syntax)");
    assert!(
        errors[0].reason.starts_with("line 6, column "),
        "{}",
        errors[0].reason
    );
}

#[test]
fn unknown_top_level_table_lists_accepted_tables() {
    let text = format!("{GOOD}\n[extra]\nx = 1\n");
    expect_error(
        &text,
        "extra",
        "unknown top-level table; accepted tables: base, kernel, devices",
    );
}

#[test]
fn flat_v0_key_says_which_table_it_belongs_in() {
    let text = format!("cpu_num = 1\n{GOOD}");
    expect_error(&text, "cpu_num", "`cpu_num` belongs in the `[base]` table");
}

#[test]
fn v2_tables_get_the_v2_message_only() {
    for (extra, field) in [
        ("[machine]\nmode = \"virtual\"\n", "machine"),
        ("[[memory.regions]]\nguest_base = 0\n", "memory"),
    ] {
        let text = format!("{extra}{GOOD}");
        let errors = errors(&text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, field);
        assert_eq!(errors[0].reason, V2_REASON);
    }
    let text = format!("{GOOD}\n[[devices.virtual]]\nid = \"console0\"\n");
    expect_error(&text, "devices.virtual", "schema v2");
}

#[test]
fn unknown_field_lists_accepted_fields() {
    expect_error(
        &edit("cpu_num = 2", "cpu_num = 2\ncpus = 2"),
        "base.cpus",
        "unknown field in `[base]`; accepted fields: id, name, vm_type, cpu_num, phys_cpu_ids, phys_cpu_sets",
    );
    expect_error(
        &edit("dtb_path", "initrd = \"x\"\ndtb_path"),
        "kernel.initrd",
        "accepted fields: entry_point, image_location, kernel_path",
    );
    expect_error(
        &edit("interrupt_mode", "irq_mode = \"pt\"\ninterrupt_mode"),
        "devices.irq_mode",
        "accepted fields: passthrough_devices, excluded_devices",
    );
}

#[test]
fn every_required_field_is_reported_when_missing() {
    let required = [
        ("id = 1\n", "base.id"),
        ("name = \"test-vm\"\n", "base.name"),
        ("vm_type = 1\n", "base.vm_type"),
        ("cpu_num = 2\n", "base.cpu_num"),
        ("entry_point = 0x4008_0000\n", "kernel.entry_point"),
        ("image_location = \"fs\"\n", "kernel.image_location"),
        (
            "kernel_path = \"/guest/kernel.bin\"\n",
            "kernel.kernel_path",
        ),
        (
            "kernel_load_addr = 0x4008_0000\n",
            "kernel.kernel_load_addr",
        ),
    ];
    for (line, field) in required {
        expect_error(&edit(line, ""), field, "missing required field");
    }
    let start = GOOD.find("memory_regions = [").unwrap();
    let end = start + GOOD[start..].find("]\n\n").unwrap() + 3;
    let text = format!("{}{}", &GOOD[..start], &GOOD[end..]);
    expect_error(&text, "kernel.memory_regions", "missing required field");
}

#[test]
fn missing_table_is_reported() {
    let text = GOOD.replace("[kernel]", "[kernel_typo]");
    expect_error(&text, "kernel", "missing required table");
}

#[test]
fn table_of_the_wrong_type_is_reported() {
    let text = format!("devices = 3\n{}", &GOOD[..GOOD.find("[devices]").unwrap()]);
    expect_error(&text, "devices", "expected a table, found an integer");
}

#[test]
fn wrong_value_types_are_reported() {
    expect_error(
        &edit("name = \"test-vm\"", "name = 7"),
        "base.name",
        "expected a string, found an integer",
    );
    expect_error(
        &edit("[0x4000_0000, 0x1000_0000", "[\"0x4000_0000\", 0x1000_0000"),
        "kernel.memory_regions[0][0]",
        "expected an integer, found a string",
    );
    expect_error(
        &edit("phys_cpu_ids = [0x100, 0x101]", "phys_cpu_ids = 0x100"),
        "base.phys_cpu_ids",
        "expected an array, found an integer",
    );
    expect_error(
        &edit("kernel_path", "enable_bios = \"yes\"\nkernel_path"),
        "kernel.enable_bios",
        "expected a boolean, found a string",
    );
}

#[test]
fn all_problems_are_reported_together() {
    let text = edit("cpu_num = 2", "cpu_num = 0")
        .replace("image_location = \"fs\"", "image_location = \"disk\"")
        .replace(
            "\"gicd\", 0x0800_0000, 0x1_0000",
            "\"gicd\", 0x0800_0000, 0",
        );
    let fields: Vec<_> = errors(&text).into_iter().map(|error| error.field).collect();
    assert_eq!(
        fields,
        [
            "base.cpu_num",
            "kernel.image_location",
            "devices.emu_devices[0][2]"
        ]
    );
}

#[test]
fn error_display_names_file_field_and_reason() {
    let errors = VmConfig::from_toml("vm1.toml", &edit("vm_type = 1", "vm_type = 9")).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "vm1.toml: field `base.vm_type`: unknown VM type 9; accepted: 0 (host), 1 (RTOS), 2 (Linux)"
    );
}
