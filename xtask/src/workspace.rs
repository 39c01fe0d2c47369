//! Where the workspace is, and the commands that act on all of it (lint).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bare-metal crates of each architecture, linted with `cargo clippy --target`.
const BARE_METAL_PACKAGES: &[(&str, &[&str])] = &[
    (
        "aarch64",
        &[
            "tessera-os",
            "tessera-vcpu-aarch64",
            "tessera-fat",
            "tessera-vm-disk",
            "tessera-hypervisor",
            "tessera-test-guest",
        ],
    ),
    (
        "riscv64",
        &[
            "tessera-os",
            "tessera-vcpu-riscv64",
            "tessera-fat",
            "tessera-vm-disk",
            "tessera-hypervisor",
            "tessera-test-guest",
        ],
    ),
];

/// Changes the current directory to the workspace root, so relative paths in configs
/// and on the command line mean the same thing wherever `cargo xtask` is started.
pub fn enter_root() -> Result<()> {
    let root = root();
    std::env::set_current_dir(&root).with_context(|| format!("cannot enter {}", root.display()))
}

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `cmd`, failing with its description when it cannot start or exits non-zero.
pub fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// `cargo xtask lint`: formatting and clippy for the host crates and each bare-metal target.
pub fn lint() -> Result<()> {
    run_checked(Command::new("cargo").args(["fmt", "--all", "--", "--check"]))?;
    run_checked(Command::new("cargo").args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
    for (arch, packages) in BARE_METAL_PACKAGES {
        let platform = crate::platform::Platform::load(arch)?;
        // Without and with the optional features (the hypervisor's `fs`).
        for features in [None, Some("--all-features")] {
            let mut cmd = Command::new("cargo");
            cmd.args(["clippy", "--target", &platform.target]);
            cmd.args(features);
            for package in *packages {
                cmd.args(["-p", package]);
            }
            cmd.args(["--", "-D", "warnings"]);
            // The hypervisor embeds the generated VM image table; lint it with the
            // default configs.
            crate::build::lint_environment(&mut cmd, &platform)?;
            run_checked(&mut cmd)?;
        }
    }
    Ok(())
}
