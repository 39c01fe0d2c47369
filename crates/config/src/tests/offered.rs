//! What Tessera does not offer: each refusal names its field and what is missing.

use super::{edit, parse_ok};
use crate::{TargetArch, not_offered};

/// The fields `not_offered` names for `text` on `arch`.
fn refused(text: &str, arch: TargetArch) -> Vec<String> {
    not_offered(&parse_ok(text), "t.toml", arch)
        .into_iter()
        .map(|error| error.field)
        .collect()
}

/// GOOD without its whole-tree passthrough, and with all its RAM allocated.
fn runnable() -> String {
    let text = edit(
        r#"passthrough_devices = [["/"]]"#,
        "passthrough_devices = []",
    );
    edit_in(
        &text,
        "[0x6000_0000, 0x0010_0000, 0xf, 2]",
        "[0x6000_0000, 0x0010_0000, 0xf, 0]",
    )
}

fn edit_in(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from} not in the text");
    text.replace(from, to)
}

#[test]
fn a_plain_aarch64_vm_is_offered() {
    assert_eq!(
        refused(&runnable(), TargetArch::Aarch64),
        Vec::<String>::new()
    );
}

#[test]
fn identity_and_reserved_maps_are_offered() {
    let text = edit_in(&runnable(), "0x7, 0]", "0x7, 1]");
    let text = edit_in(&text, "0xf, 0]", "0xf, 2]");
    assert_eq!(refused(&text, TargetArch::Aarch64), Vec::<String>::new());
}

#[test]
fn device_memory_is_not_guest_ram() {
    let text = edit_in(&runnable(), "0xf, 0]", "0x17, 0]");
    assert_eq!(
        refused(&text, TargetArch::Aarch64),
        ["kernel.memory_regions[1][2]"]
    );
    let text = edit_in(&runnable(), "0xf, 0]", "0x2f, 0]");
    assert_eq!(
        refused(&text, TargetArch::Aarch64),
        ["kernel.memory_regions[1][2]"]
    );
}

#[test]
fn passthrough_by_path_is_offered_on_aarch64_only() {
    let text = edit(
        "[0x6000_0000, 0x0010_0000, 0xf, 2]",
        "[0x6000_0000, 0x0010_0000, 0xf, 0]",
    );
    assert_eq!(refused(&text, TargetArch::Aarch64), Vec::<String>::new());
    let errors = not_offered(&parse_ok(&text), "t.toml", TargetArch::Riscv64);
    let path_error = errors
        .iter()
        .find(|e| e.field == "devices.passthrough_devices[0][0]")
        .expect("the path row is named");
    assert!(
        path_error.reason.contains("not offered on riscv64"),
        "{}",
        path_error.reason
    );
}

#[test]
fn models_are_per_architecture() {
    // GOOD's GICv3 windows exist on aarch64 only.
    assert_eq!(
        refused(&runnable(), TargetArch::Riscv64),
        ["devices.emu_devices[0][4]", "devices.emu_devices[1][4]"]
    );
    let its = edit_in(
        &runnable(),
        r#"["gicd", 0x0800_0000, 0x1_0000, 0, 0x21, []],"#,
        r#"["its", 0x0808_0000, 0x2_0000, 0, 0x22, []],"#,
    );
    let errors = not_offered(&parse_ok(&its), "t.toml", TargetArch::Aarch64);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].reason,
        "emulated device type 0x22 (GICv3 ITS, \"its\") is not offered on aarch64"
    );
    let plic = edit_in(
        &edit_in(
            &runnable(),
            r#"["gicd", 0x0800_0000, 0x1_0000, 0, 0x21, []],"#,
            r#"["plic", 0x0c00_0000, 0x60_0000, 0, 0x30, []],"#,
        ),
        r#"["gicr", 0x080a_0000, 0x4_0000, 0, 0x20, [2, 0x2_0000, 0]],"#,
        r#"["uart", 0x1000_0000, 0x100, 10, 2, []],"#,
    );
    assert_eq!(refused(&plic, TargetArch::Riscv64), Vec::<String>::new());
    assert_eq!(
        refused(&plic, TargetArch::Aarch64),
        ["devices.emu_devices[0][4]"]
    );
}

#[test]
fn x86_passthrough_and_foreign_boot_paths_are_named() {
    let text = edit_in(
        &edit_in(
            &runnable(),
            r#"["gicd", 0x0800_0000, 0x1_0000, 0, 0x21, []],"#,
            "",
        ),
        r#"["gicr", 0x080a_0000, 0x4_0000, 0, 0x20, [2, 0x2_0000, 0]],"#,
        "",
    );
    let text = edit_in(
        &text,
        "dtb_load_addr = 0x4000_0000",
        "dtb_load_addr = 0x4000_0000\nboot_protocol = \"multiboot\"\nenable_bios = true\n\
         uefi_firmware_path = \"/ovmf.fd\"",
    );
    let text = edit_in(
        &text,
        "passthrough_addresses = [[0x0900_0000, 0x1000]]",
        "passthrough_addresses = [[0x0900_0000, 0x1000]]\npassthrough_ports = [[0x60, 8]]",
    );
    // A multiboot kernel with enable_bios is offered on x86_64 (Tessera loads it).
    assert_eq!(
        refused(&text, TargetArch::X86_64),
        [
            "devices.passthrough_addresses",
            "devices.passthrough_ports",
            "kernel.uefi_firmware_path"
        ]
    );
    assert_eq!(
        refused(&text, TargetArch::Aarch64),
        [
            "devices.passthrough_ports",
            "kernel.boot_protocol",
            "kernel.enable_bios",
            "kernel.uefi_firmware_path"
        ]
    );
    let uefi = edit_in(&text, "\"multiboot\"", "\"uefi\"");
    let uefi = edit_in(
        &uefi,
        "enable_bios = true",
        "bios_path = \"bios.bin\"\nbios_load_addr = 0x4000_8000",
    );
    let errors = not_offered(&parse_ok(&uefi), "t.toml", TargetArch::X86_64);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"kernel.boot_protocol"), "{fields:?}");
    assert!(fields.contains(&"kernel.bios_path"), "{fields:?}");
    // AxVisor's older spelling of a multiboot kernel: a BIOS image, no protocol.
    let bios = edit_in(&uefi, "boot_protocol = \"uefi\"\n", "");
    let bios = edit_in(&bios, "uefi_firmware_path = \"/ovmf.fd\"", "");
    assert!(parse_ok(&bios).kernel.is_multiboot());
    assert_eq!(
        refused(&bios, TargetArch::X86_64),
        ["devices.passthrough_addresses", "devices.passthrough_ports"]
    );
    assert_eq!(
        refused(&bios, TargetArch::Aarch64),
        ["devices.passthrough_ports", "kernel.bios_path"]
    );
}

#[test]
fn architecture_names_round_trip() {
    for arch in [TargetArch::Aarch64, TargetArch::Riscv64, TargetArch::X86_64] {
        assert_eq!(TargetArch::from_name(arch.name()), Some(arch));
    }
    assert_eq!(TargetArch::from_name("mips"), None);
}
