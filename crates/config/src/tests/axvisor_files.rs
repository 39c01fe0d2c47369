//! Every AxVisor v1-early and v1 VM config must be accepted; every v2 one must
//! be rejected with the v2 message.

use std::path::{Path, PathBuf};

use crate::VmConfig;
use crate::parse::V2_REASON;

use super::list;

/// The copied AxVisor configs, a sibling of the repository (`shared/`).
fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/axvisor-configs");
    assert!(
        dir.is_dir(),
        "AxVisor config corpus not found at {}: the tests need the `shared/` folder \
         beside the repository (as CI clones it)",
        dir.display()
    );
    dir
}

/// Every `.toml` file directly in the per-architecture folders (not `board/`,
/// which holds build configs, and not the `.dts` files), sorted.
fn vm_config_files() -> Vec<PathBuf> {
    let root = corpus_dir();
    let mut files = Vec::new();
    for arch in ["aarch64", "riscv64", "x86_64"] {
        let dir = root.join(arch);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() && path.extension().is_some_and(|ext| ext == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Whether a corpus file is in the experimental v2 schema (named `*-v2-*`).
fn is_v2(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().contains("-v2-"))
}

#[test]
fn every_v1_file_is_accepted() {
    let mut checked = 0;
    let mut failures = String::new();
    for path in vm_config_files().iter().filter(|path| !is_v2(path)) {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.display().to_string();
        if let Err(errors) = VmConfig::from_toml(&name, &text) {
            failures.push_str(&list(&errors));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "AxVisor files rejected:\n{failures}");
    assert!(checked >= 60, "only {checked} v1 files were checked");
}

#[test]
fn every_v2_file_is_rejected_with_the_v2_message() {
    let mut checked = 0;
    for path in vm_config_files().iter().filter(|path| is_v2(path)) {
        let text = std::fs::read_to_string(path).unwrap();
        let errors = VmConfig::from_toml("v2.toml", &text).unwrap_err();
        assert_eq!(errors.len(), 1, "{}: {}", path.display(), list(&errors));
        assert_eq!(errors[0].field, "machine", "{}", path.display());
        assert_eq!(errors[0].reason, V2_REASON);
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} v2 files were checked");
}

#[test]
fn corpus_values_are_read_correctly() {
    let path = corpus_dir().join("x86_64/tgoskits-qemu-x86_64-linux-smp1.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let config = VmConfig::from_toml("x86", &text).unwrap();
    assert_eq!(config.kernel.entry_point, 0x8000);
    assert_eq!(config.kernel.enable_bios, Some(false));
    assert_eq!(config.devices.passthrough_ports, vec![(0x6000, 0x80)]);
    assert_eq!(config.devices.passthrough_addresses.len(), 6);
    assert_eq!(config.devices.emu_devices[2].name, "x86-pit");
    assert_eq!(config.vcpu_phys_ids(), vec![0]);
}
