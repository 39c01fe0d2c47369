//! Shared regions (`devices.shared_regions`): the row, the checks within a file, and
//! the checks across the VMs that run together.

use super::{GOOD, expect_error, parse_ok};
use crate::{RegionAccess, SharedRegion, VmConfig, check_shared_regions, not_offered};

/// `GOOD` with a `shared_regions` field of `rows` in its `[devices]` table.
fn with_regions(rows: &str) -> String {
    format!("{GOOD}shared_regions = [{rows}]\n")
}

/// A VM of `GOOD` with id `id` and the shared regions `rows`.
fn vm(id: u64, rows: &str) -> VmConfig {
    parse_ok(&with_regions(rows).replace("id = 1", &format!("id = {id}")))
}

const LOGBOOK: &str = "[\"logbook\", 0x7000_0000, 0x1_0000, \"rw\", 0x7010_0000, 40]";

#[test]
fn a_region_row_is_read() {
    let config = parse_ok(&with_regions(LOGBOOK));
    assert_eq!(
        config.devices.shared_regions,
        [SharedRegion {
            name: "logbook".into(),
            gpa: 0x7000_0000,
            size: 0x1_0000,
            access: RegionAccess::ReadWrite,
            doorbell_gpa: 0x7010_0000,
            irq: 40,
        }]
    );
    let read_only = parse_ok(&with_regions(&LOGBOOK.replace("\"rw\"", "\"ro\"")));
    assert_eq!(
        read_only.devices.shared_regions[0].access,
        RegionAccess::ReadOnly
    );
}

#[test]
fn a_short_row_names_the_layout() {
    expect_error(
        &with_regions("[\"logbook\", 0x7000_0000, 0x1_0000]"),
        "devices.shared_regions[0]",
        "expected 6 items [name, gpa, size, access, doorbell_gpa, irq], found 3",
    );
}

#[test]
fn unknown_access_is_refused() {
    expect_error(
        &with_regions(&LOGBOOK.replace("\"rw\"", "\"wo\"")),
        "devices.shared_regions[0][3]",
        "unknown access \"wo\"; accepted: \"rw\" (read and write), \"ro\" (read only)",
    );
}

#[test]
fn empty_name_and_zero_size_are_refused() {
    expect_error(
        &with_regions(&LOGBOOK.replace("\"logbook\"", "\"\"")),
        "devices.shared_regions[0][0]",
        "name must not be empty",
    );
    expect_error(
        &with_regions(&LOGBOOK.replace("0x1_0000,", "0,")),
        "devices.shared_regions[0][2]",
        "length is 0",
    );
}

#[test]
fn unaligned_addresses_and_sizes_are_refused() {
    for (from, to, field, reason) in [
        (
            "0x7000_0000,",
            "0x7000_0800,",
            "devices.shared_regions[0][1]",
            "address 0x7000_0800 is not a multiple of 4 KiB",
        ),
        (
            "0x1_0000,",
            "0x1_0100,",
            "devices.shared_regions[0][2]",
            "size 0x1_0100 is not a multiple of 4 KiB",
        ),
        (
            "0x7010_0000,",
            "0x7010_0004,",
            "devices.shared_regions[0][4]",
            "doorbell address 0x7010_0004 is not a multiple of 4 KiB",
        ),
    ] {
        expect_error(&with_regions(&LOGBOOK.replace(from, to)), field, reason);
    }
}

#[test]
fn a_name_declared_twice_is_refused() {
    let second = "[\"logbook\", 0x7100_0000, 0x1_0000, \"rw\", 0x7110_0000, 41]";
    expect_error(
        &with_regions(&format!("{LOGBOOK}, {second}")),
        "devices.shared_regions[1][0]",
        "region `logbook` is declared twice (also devices.shared_regions[0])",
    );
}

#[test]
fn overlaps_with_the_rest_of_the_map_are_refused() {
    for (row, field, reason) in [
        (
            "[\"logbook\", 0x4800_0000, 0x1_0000, \"rw\", 0x7010_0000, 40]",
            "devices.shared_regions[0][1]",
            "shared region `logbook` at 0x4800_0000..0x4801_0000 overlaps guest RAM kernel.memory_regions[0] (0x4000_0000..0x5000_0000)",
        ),
        (
            "[\"logbook\", 0x7000_0000, 0x1_0000, \"rw\", 0x0800_0000, 40]",
            "devices.shared_regions[0][4]",
            "the doorbell of shared region `logbook` at 0x800_0000..0x800_1000 overlaps devices.emu_devices[0] `gicd`",
        ),
        (
            "[\"logbook\", 0x0900_0000, 0x1000, \"rw\", 0x7010_0000, 40]",
            "devices.shared_regions[0][1]",
            "overlaps devices.passthrough_addresses[0] (0x900_0000..0x900_1000)",
        ),
        (
            "[\"logbook\", 0x7000_0000, 0x1_0000, \"rw\", 0x7000_8000, 40]",
            "devices.shared_regions[0][4]",
            "the doorbell of shared region `logbook` at 0x7000_8000..0x7000_9000 overlaps shared region `logbook` (0x7000_0000..0x7001_0000)",
        ),
    ] {
        expect_error(&with_regions(row), field, reason);
    }
    let other = "[\"other\", 0x7000_f000, 0x1000, \"rw\", 0x7020_0000, 41]";
    expect_error(
        &with_regions(&format!("{LOGBOOK}, {other}")),
        "devices.shared_regions[1][1]",
        "shared region `other` at 0x7000_f000..0x7001_0000 overlaps shared region `logbook`",
    );
}

#[test]
fn a_region_needs_a_peer() {
    let alone = vm(1, LOGBOOK);
    let problems = check_shared_regions(&[("a.toml", &alone)]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, "a.toml");
    assert_eq!(problems[0].field, "devices.shared_regions[0][0]");
    assert!(
        problems[0]
            .reason
            .contains("region `logbook` is declared by no other VM"),
        "{}",
        problems[0].reason
    );
}

#[test]
fn peers_with_the_same_size_are_accepted_wherever_they_map_it() {
    let a = vm(1, LOGBOOK);
    let b = vm(
        2,
        "[\"logbook\", 0x7800_0000, 0x1_0000, \"ro\", 0x7900_0000, 50]",
    );
    let plain = vm(3, "");
    assert_eq!(
        check_shared_regions(&[("a.toml", &a), ("b.toml", &b), ("c.toml", &plain)]),
        []
    );
}

#[test]
fn peers_with_different_sizes_are_refused_in_each_file() {
    let a = vm(1, LOGBOOK);
    let b = vm(
        2,
        "[\"logbook\", 0x7000_0000, 0x2_0000, \"rw\", 0x7010_0000, 40]",
    );
    let problems = check_shared_regions(&[("a.toml", &a), ("b.toml", &b)]);
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "a.toml: field `devices.shared_regions[0][2]`: region `logbook` is 0x1_0000 bytes here but 0x2_0000 bytes in b.toml (VM 2)",
            "b.toml: field `devices.shared_regions[0][2]`: region `logbook` is 0x2_0000 bytes here but 0x1_0000 bytes in a.toml (VM 1)",
        ]
    );
}

#[test]
fn shared_regions_are_not_offered_on_x86_64_yet() {
    let config = vm(1, LOGBOOK);
    let refused = not_offered(&config, "a.toml", crate::TargetArch::X86_64);
    assert!(
        refused
            .iter()
            .any(|problem| problem.field == "devices.shared_regions"),
        "{refused:?}"
    );
    assert!(
        not_offered(&config, "a.toml", crate::TargetArch::Riscv64)
            .iter()
            .all(|problem| problem.field != "devices.shared_regions")
    );
}
