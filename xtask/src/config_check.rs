//! `cargo xtask config check FILE...`: for each VM config, "accepted" and the machine
//! the VM will see, or every problem with its field and reason: the parser's and
//! validator's, and what Tessera does not offer on the VM's architecture
//! (`tessera_config::not_offered`, the list the hypervisor refuses at boot).

use anyhow::{Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tessera_config::{
    EmuType, ImageLocation, MapType, PassthroughDevice, RegionAccess, TargetArch, VmConfig,
    check_shared_regions, not_offered,
};

/// Checks every file in `files` (relative to `cwd`); `arch` overrides the architecture
/// otherwise read from the path (a folder named after it). Fails when one is refused.
pub fn run(files: &[PathBuf], arch: Option<&str>, cwd: &Path) -> Result<()> {
    let forced = match arch {
        Some(name) => Some(TargetArch::from_name(name).ok_or_else(|| {
            anyhow::anyhow!("--arch {name}: not one of aarch64, riscv64, x86_64")
        })?),
        None => None,
    };
    let mut checked = Vec::new();
    for file in files {
        let path = cwd.join(file);
        let shown = file.display().to_string();
        checked.push(match forced.or_else(|| arch_of(file)) {
            Some(arch) => check(&path, &shown, arch),
            None => (
                None,
                format!(
                    "{shown}: no architecture: put the file in a folder named aarch64, \
                     riscv64 or x86_64, or give --arch\n"
                ),
            ),
        });
    }
    // The files checked together are VMs that run together: their shared regions
    // must match.
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let together: Vec<(&str, &VmConfig)> = names
        .iter()
        .zip(&checked)
        .filter_map(|(name, (config, _))| Some((name.as_str(), config.as_ref()?)))
        .collect();
    let unmatched = check_shared_regions(&together);
    let mut refused = 0;
    for (name, (config, report)) in names.iter().zip(&checked) {
        let problems: Vec<_> = unmatched.iter().filter(|p| &p.file == name).collect();
        if config.is_some() && problems.is_empty() {
            print!("{report}");
            continue;
        }
        refused += 1;
        if problems.is_empty() {
            print!("{report}");
        } else {
            println!("{name}: refused beside the other files given");
            for problem in problems {
                println!("  field `{}`: {}", problem.field, problem.reason);
            }
        }
    }
    println!(
        "tessera: {} accepted, {refused} refused",
        files.len() - refused
    );
    if refused > 0 {
        bail!("{refused} of {} configs refused", files.len());
    }
    Ok(())
}

/// The architecture a path names in one of its folders.
fn arch_of(file: &Path) -> Option<TargetArch> {
    file.parent()?
        .components()
        .rev()
        .find_map(|part| TargetArch::from_name(&part.as_os_str().to_string_lossy()))
}

/// The config at `path` if it is accepted on `arch`, and its report.
fn check(path: &Path, shown: &str, arch: TargetArch) -> (Option<VmConfig>, String) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => return (None, format!("{shown}: cannot read: {error}\n")),
    };
    let problems = match VmConfig::from_toml(shown, &text) {
        Ok(config) => {
            let problems = not_offered(&config, shown, arch);
            if problems.is_empty() {
                let report = format!("{shown}: accepted on {}\n{}", arch.name(), machine(&config));
                return (Some(config), report);
            }
            problems
        }
        Err(problems) => problems,
    };
    let mut report = format!("{shown}: refused on {}\n", arch.name());
    for problem in problems {
        let _ = writeln!(report, "  field `{}`: {}", problem.field, problem.reason);
    }
    (None, report)
}

/// The machine an accepted config gives its VM, indented under its verdict.
fn machine(config: &VmConfig) -> String {
    let mut text = String::new();
    let base = &config.base;
    let ids: Vec<String> = config
        .vcpu_phys_ids()
        .iter()
        .map(|id| format!("{id:#x}"))
        .collect();
    let _ = writeln!(
        text,
        "  {} vCPU(s) on physical CPU(s) {}",
        base.cpu_num,
        ids.join(", ")
    );
    let kernel = &config.kernel;
    for region in &kernel.memory_regions {
        let map = match region.map_type {
            MapType::Allocate => "allocated",
            MapType::Identical => "identity",
            MapType::Reserved => "reserved",
        };
        let _ = writeln!(
            text,
            "  RAM {:#x}..{:#x} ({} KiB, {map}, flags {:#x})",
            region.gpa,
            region.gpa.saturating_add(region.size),
            region.size >> 10,
            region.flags.bits()
        );
    }
    let from = match kernel.image_location {
        ImageLocation::Memory => "built in",
        ImageLocation::Fs => "from the disk",
    };
    let _ = writeln!(
        text,
        "  kernel {} ({from}) at {:#x}, entry {:#x}",
        kernel.kernel_path, kernel.kernel_load_addr, kernel.entry_point
    );
    match kernel.dtb_load_addr {
        Some(at) => {
            let _ = writeln!(text, "  boot information at {at:#x}");
        }
        None => {
            let _ = writeln!(text, "  boot information placed in the kernel's region");
        }
    }
    for device in &config.devices.emu_devices {
        let what = match device.emu_type {
            EmuType::Console => "console UART",
            EmuType::GicDistributor | EmuType::InterruptController => "interrupt controller",
            EmuType::GicRedistributor => "GICv3 redistributors",
            _ => "emulated device",
        };
        let _ = writeln!(
            text,
            "  {what} \"{}\" at {:#x} (+{:#x}), interrupt {}",
            device.name, device.gpa, device.length, device.irq
        );
    }
    for device in &config.devices.passthrough_devices {
        let _ = match device {
            PassthroughDevice::Path(path) if path == "/" => {
                let excluded = &config.devices.excluded_devices;
                let except = if excluded.is_empty() {
                    String::new()
                } else {
                    format!(", except {}", excluded.join(", "))
                };
                writeln!(
                    text,
                    "  every host device (\"/\"){except}; the interrupt controller and \
                     console UART emulated at their addresses"
                )
            }
            PassthroughDevice::Path(path) => writeln!(text, "  host device {path}"),
            PassthroughDevice::Range {
                name,
                gpa,
                hpa,
                length,
                ..
            } => writeln!(
                text,
                "  host device \"{name}\" {hpa:#x} at {gpa:#x} (+{length:#x})"
            ),
        };
    }
    for (gpa, length) in &config.devices.passthrough_addresses {
        let _ = writeln!(text, "  host range {gpa:#x} (+{length:#x})");
    }
    for region in &config.devices.shared_regions {
        let access = match region.access {
            RegionAccess::ReadWrite => "read-write",
            RegionAccess::ReadOnly => "read-only",
        };
        let _ = writeln!(
            text,
            "  shared region \"{}\" at {:#x} (+{:#x}, {access}), doorbell at {:#x}, interrupt {}",
            region.name, region.gpa, region.size, region.doorbell_gpa, region.irq
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_architecture_comes_from_a_folder_name() {
        let arch = |path: &str| arch_of(Path::new(path));
        assert_eq!(
            arch("../shared/axvisor-configs/riscv64/a.toml"),
            Some(TargetArch::Riscv64)
        );
        assert_eq!(arch("x86_64/sub/a.toml"), Some(TargetArch::X86_64));
        assert_eq!(arch("configs/vms/a.toml"), None);
        assert_eq!(arch("aarch64.toml"), None, "a file name is not a folder");
    }

    #[test]
    fn verdicts_name_the_field_and_reason() {
        let dir = std::env::temp_dir().join(format!("tessera-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vm.toml");
        std::fs::write(
            &path,
            "[base]\nid = 1\nname = \"a\"\nvm_type = 1\ncpu_num = 1\n\
             [kernel]\nentry_point = 0x8020_0000\nimage_location = \"memory\"\n\
             kernel_path = \"k.bin\"\nkernel_load_addr = 0x8020_0000\n\
             memory_regions = [[0x8000_0000, 0x100_0000, 0x17, 1]]\n",
        )
        .unwrap();
        let (accepted, report) = check(&path, "vm.toml", TargetArch::Riscv64);
        assert!(accepted.is_none());
        assert!(
            report.contains("field `kernel.memory_regions[0][2]`: device or uncached memory"),
            "{report}"
        );
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("0x17, 1]", "0x7, 1]");
        std::fs::write(&path, text).unwrap();
        let (accepted, report) = check(&path, "vm.toml", TargetArch::Riscv64);
        assert!(accepted.is_some(), "{report}");
        assert!(
            report.contains("1 vCPU(s) on physical CPU(s) 0x0"),
            "{report}"
        );
        assert!(
            report.contains("RAM 0x80000000..0x81000000 (16384 KiB, identity"),
            "{report}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
