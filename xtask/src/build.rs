//! Builds the test guests and the hypervisor, with the VM configs validated and
//! compiled in (images with `image_location = "memory"` are embedded).

use crate::BuildArgs;
use crate::guest_fetch;
use crate::platform::Platform;
use crate::setup;
use crate::workspace::run_checked;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use tessera_config::{ImageLocation, VmConfig};

/// Test guests built for every architecture, by package name.
const GUESTS: &[&str] = &["tessera-test-guest"];

/// What a build produced.
pub struct Built {
    /// The platform it was built for.
    pub platform: Platform,
    /// Raw hypervisor image for QEMU's `-kernel`.
    pub image: PathBuf,
    /// The FAT32 disk image QEMU attaches (builds with the `fs` feature).
    pub disk: Option<PathBuf>,
}

/// Hypervisor features `cargo xtask` knows.
const FEATURES: &[&str] = &["fs", "power-off-when-done"];

/// The disk a build with `features` attaches: `disk`, or `target/disk.img`; it must
/// exist. `None` without the `fs` feature.
fn disk_for(features: &[String], disk: Option<&PathBuf>) -> Result<Option<PathBuf>> {
    if let Some(unknown) = features.iter().find(|f| !FEATURES.contains(&f.as_str())) {
        bail!(
            "unknown feature `{unknown}` (known: {})",
            FEATURES.join(", ")
        );
    }
    if !features.iter().any(|f| f == "fs") {
        return Ok(None);
    }
    let disk = disk
        .cloned()
        .unwrap_or_else(|| PathBuf::from("target/disk.img"));
    if !disk.is_file() {
        bail!(
            "no disk image at {} for the `fs` feature: make one with `make disk_img` (cargo xtask disk-img)",
            disk.display()
        );
    }
    Ok(Some(disk))
}

/// A VM config file that passed validation.
struct ValidConfig {
    path: PathBuf,
    config: VmConfig,
}

/// Builds everything `args` asks for.
pub fn build(args: &BuildArgs) -> Result<Built> {
    let platform = Platform::load_variant(&args.arch, args.platform.as_deref())?;
    let disk = disk_for(&args.features, args.disk.as_ref())?;
    setup::ensure_rust(&platform.target)?;
    build_guests(&platform)?;
    let paths = if args.vm_configs.is_empty() {
        vec![
            platform
                .default_vm_config
                .clone()
                .unwrap_or_else(|| default_config(&platform.arch)),
        ]
    } else {
        args.vm_configs.clone()
    };
    let config_files = expand_config_paths(&paths)?;
    // Configs may boot the Linux guest: fetch what is missing (and rebuild its initramfs
    // after an init script edit) before the image files are checked.
    guest_fetch::ensure_for_configs(&config_files)?;
    let configs = validate_configs(&config_files)?;
    let generated = generate(&platform, &configs, &format!("vms-{}", platform.arch))?;
    let image = build_hypervisor(&platform, &generated, &args.log, &args.features)?;
    Ok(Built {
        platform,
        image,
        disk,
    })
}

/// The VM config `make run` boots when none is given: the architecture's Linux
/// config, or its test guest while it has none.
pub fn default_config(arch: &str) -> PathBuf {
    ["smp2", "smp1"]
        .iter()
        .map(|smp| PathBuf::from(format!("configs/vms/linux-{arch}-qemu-{smp}.toml")))
        .find(|linux| linux.exists())
        .unwrap_or_else(|| PathBuf::from(format!("configs/vms/guest-{arch}.toml")))
}

/// Files as given, and the `*.toml` files (sorted) of any folder given.
fn expand_config_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
                .collect();
            inner.sort();
            if inner.is_empty() {
                bail!("{}: folder holds no VM config (*.toml)", path.display());
            }
            files.extend(inner);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Parses and validates each config and its images; reports every problem of every file.
fn validate_configs(paths: &[PathBuf]) -> Result<Vec<ValidConfig>> {
    let mut valid = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                problems.push(format!("{name}: cannot read the VM config: {err}"));
                continue;
            }
        };
        match VmConfig::from_toml(&name, &text) {
            Ok(config) => {
                let image_errors = if config.kernel.image_location == ImageLocation::Memory {
                    config.check_images(&name, &|file: &str| {
                        std::fs::metadata(file).ok().map(|m| m.len())
                    })
                } else {
                    Vec::new()
                };
                problems.extend(image_errors.iter().map(ToString::to_string));
                valid.push(ValidConfig {
                    path: path.clone(),
                    config,
                });
            }
            Err(errors) => problems.extend(errors.iter().map(ToString::to_string)),
        }
    }
    let names: Vec<String> = valid.iter().map(|v| v.path.display().to_string()).collect();
    let together: Vec<(&str, &VmConfig)> = names
        .iter()
        .map(String::as_str)
        .zip(valid.iter().map(|v| &v.config))
        .collect();
    problems.extend(
        tessera_config::check_shared_regions(&together)
            .iter()
            .map(ToString::to_string),
    );
    if !problems.is_empty() {
        bail!(
            "{} problem(s) in the VM configs; nothing was started:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(valid)
}

/// Writes the generated sources the hypervisor includes: platform constants, the linker
/// script, and the table of compiled-in VMs. Returns the folder.
fn generate(platform: &Platform, configs: &[ValidConfig], name: &str) -> Result<PathBuf> {
    let dir = std::env::current_dir()?.join("target/tessera").join(name);
    std::fs::create_dir_all(&dir)?;
    write_if_changed(&dir.join("platform.rs"), &platform.constants_source())?;
    write_if_changed(
        &dir.join("linker.ld"),
        &linker_script(platform.memory.load_addr),
    )?;
    let mut table = String::from(
        "/// The VMs compiled into this hypervisor.\npub static VM_IMAGES: &[VmImages] = &[\n",
    );
    for config in configs {
        table.push_str(&vm_entry(&config.path, &config.config)?);
    }
    table.push_str("];\n");
    write_if_changed(&dir.join("vm_images.rs"), &table)?;
    Ok(dir)
}

/// One `VmImages { .. }` entry of the generated table.
fn vm_entry(path: &Path, config: &VmConfig) -> Result<String> {
    let absolute = |p: &Path| -> Result<String> {
        let abs =
            std::fs::canonicalize(p).with_context(|| format!("cannot find {}", p.display()))?;
        Ok(format!("{:?}", abs.display().to_string()))
    };
    let embedded = config.kernel.image_location == ImageLocation::Memory;
    let image = |file: &Option<String>| -> Result<String> {
        match file {
            Some(file) if embedded => Ok(format!(
                "Some(include_bytes!({}))",
                absolute(Path::new(file))?
            )),
            _ => Ok("None".to_string()),
        }
    };
    let mut entry = String::new();
    writeln!(entry, "    VmImages {{")?;
    writeln!(
        entry,
        "        config_file: {:?},",
        path.display().to_string()
    )?;
    writeln!(entry, "        config: include_str!({}),", absolute(path)?)?;
    writeln!(
        entry,
        "        kernel: {},",
        image(&Some(config.kernel.kernel_path.clone()))?
    )?;
    writeln!(entry, "        dtb: {},", image(&config.kernel.dtb_path)?)?;
    writeln!(
        entry,
        "        ramdisk: {},",
        image(&config.kernel.ramdisk_path)?
    )?;
    writeln!(entry, "    }},")?;
    Ok(entry)
}

/// The hypervisor's linker script: one loadable image at `load_addr`.
fn linker_script(load_addr: u64) -> String {
    format!(
        "ENTRY(_start)\nSECTIONS\n{{\n    . = {load_addr:#x};\n    __image_start = .;\n\
         .text : {{ KEEP(*(.text.boot)) *(.text .text.*) }}\n\
         .rodata : ALIGN(4096) {{ *(.rodata .rodata.*) *(.srodata .srodata.*) }}\n\
         .data : ALIGN(4096) {{ *(.data .data.*) *(.sdata .sdata.*) *(.got .got.*) }}\n\
         . = ALIGN(4096);\n    __image_file_end = .;\n\
         .bss (NOLOAD) : ALIGN(4096) {{ __bss_start = .; *(.sbss .sbss.*) *(.bss .bss.*) *(COMMON) . = ALIGN(4096); __bss_end = .; }}\n\
         __image_end = .;\n\
         /DISCARD/ : {{ *(.comment) *(.eh_frame*) }}\n}}\n"
    )
}

/// Writes `text` unless the file already holds it (keeps cargo from rebuilding).
fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Sets the environment the hypervisor crate builds with.
fn hypervisor_env(cmd: &mut Command, generated: &Path, log: &str) {
    cmd.env("TESSERA_GENERATED_DIR", generated)
        .env("TESSERA_LOG", log);
}

/// Prepares `cmd` (a clippy run over the bare-metal crates) to see an empty VM table.
pub fn lint_environment(cmd: &mut Command, platform: &Platform) -> Result<()> {
    let generated = generate(platform, &[], &format!("lint-{}", platform.arch))?;
    hypervisor_env(cmd, &generated, "info");
    Ok(())
}

/// Builds the test guests and turns each into a raw image under `target/guests/<arch>/`.
pub fn build_guests(platform: &Platform) -> Result<()> {
    for guest in GUESTS {
        let mut cmd = Command::new("cargo");
        cmd.args([
            "build",
            "--quiet",
            "--release",
            "-p",
            guest,
            "--target",
            &platform.target,
        ]);
        run_checked(&mut cmd)?;
        let elf = Path::new("target")
            .join(&platform.target)
            .join("release")
            .join(guest);
        let out_dir = PathBuf::from(format!("target/guests/{}", platform.arch));
        std::fs::create_dir_all(&out_dir)?;
        let name = guest.trim_start_matches("tessera-");
        objcopy(&elf, &out_dir.join(format!("{name}.bin")))?;
    }
    Ok(())
}

/// Builds the hypervisor (with `features`) and returns its raw image.
fn build_hypervisor(
    platform: &Platform,
    generated: &Path,
    log: &str,
    features: &[String],
) -> Result<PathBuf> {
    let mut cmd = Command::new("cargo");
    cmd.args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "tessera-hypervisor",
        "--target",
        &platform.target,
    ]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    hypervisor_env(&mut cmd, generated, log);
    run_checked(&mut cmd)?;
    let elf = Path::new("target")
        .join(&platform.target)
        .join("release/tessera-hypervisor");
    let image = Path::new("target/tessera").join(format!("tessera-{}.bin", platform.arch));
    objcopy(&elf, &image)?;
    Ok(image)
}

/// `llvm-objcopy -O binary` from the pinned toolchain's llvm-tools.
fn objcopy(elf: &Path, bin: &Path) -> Result<()> {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let host = Command::new("rustc")
        .args(["--print", "host-tuple"])
        .output()?;
    let host = String::from_utf8_lossy(&host.stdout).trim().to_string();
    let tool = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(host)
        .join("bin/llvm-objcopy");
    run_checked(Command::new(tool).args(["-O", "binary"]).arg(elf).arg(bin))
}
