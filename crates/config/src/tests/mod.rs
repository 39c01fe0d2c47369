//! Tests: the AxVisor corpus, one case per validation rule, and parsed values.

mod axvisor_files;
mod bad_devices;
mod bad_tables;
mod bad_values;
mod good_input;
mod offered;
mod shared_regions;

use crate::{ConfigError, VmConfig};

/// A small valid config that the bad-input cases edit.
pub(crate) const GOOD: &str = r#"
[base]
id = 1
name = "test-vm"
vm_type = 1
cpu_num = 2
phys_cpu_ids = [0x100, 0x101]

[kernel]
entry_point = 0x4008_0000
image_location = "fs"
kernel_path = "/guest/kernel.bin"
kernel_load_addr = 0x4008_0000
dtb_path = "/guest/guest.dtb"
dtb_load_addr = 0x4000_0000
memory_regions = [
  [0x4000_0000, 0x1000_0000, 0x7, 0], # 256 MiB
  [0x6000_0000, 0x0010_0000, 0xf, 2],
]

[devices]
interrupt_mode = "emulated"
passthrough_devices = [["/"]]
excluded_devices = [["/pcie@10000000"]]
passthrough_addresses = [[0x0900_0000, 0x1000]]
emu_devices = [
  ["gicd", 0x0800_0000, 0x1_0000, 0, 0x21, []],
  ["gicr", 0x080a_0000, 0x4_0000, 0, 0x20, [2, 0x2_0000, 0]],
]
"#;

/// `GOOD` with `from` replaced by `to`; fails if `from` is not in it.
pub(crate) fn edit(from: &str, to: &str) -> String {
    assert!(
        GOOD.contains(from),
        "test bug: `{from}` is not in the sample"
    );
    GOOD.replacen(from, to, 1)
}

/// Parses `text`, which must fail, and returns the errors.
pub(crate) fn errors(text: &str) -> Vec<ConfigError> {
    match VmConfig::from_toml("test.toml", text) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => {
            assert!(!errors.is_empty(), "Err must hold at least one error");
            errors
        }
    }
}

/// Asserts that parsing `text` reports `field` with a reason containing `reason`.
#[track_caller]
pub(crate) fn expect_error(text: &str, field: &str, reason: &str) {
    let errors = errors(text);
    assert!(
        errors
            .iter()
            .any(|error| error.field == field && error.reason.contains(reason)),
        "expected field `{field}` with reason containing {reason:?}; got:\n{}",
        list(&errors)
    );
}

/// Parses `text`, which must succeed.
#[track_caller]
pub(crate) fn parse_ok(text: &str) -> VmConfig {
    match VmConfig::from_toml("test.toml", text) {
        Ok(config) => config,
        Err(errors) => panic!("expected success, got:\n{}", list(&errors)),
    }
}

/// The errors, one per line.
pub(crate) fn list(errors: &[ConfigError]) -> String {
    errors.iter().map(|error| format!("  {error}\n")).collect()
}
