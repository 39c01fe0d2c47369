//! `cargo xtask fuzz --seconds N`: runs every target of the `tessera-fuzz` crate for a
//! bounded time each; fails when one panics, naming the seed that reproduces it.

use crate::workspace::run_checked;
use anyhow::Result;
use std::process::Command;

/// Runs the fuzz targets for `seconds` each, or replays one `(target, seed)`.
pub fn run(seconds: f64, replay: Option<(&str, u64)>) -> Result<()> {
    let mut cmd = Command::new("cargo");
    cmd.args(["run", "--quiet", "--release", "-p", "tessera-fuzz", "--"])
        .arg(seconds.to_string());
    if let Some((target, seed)) = replay {
        cmd.arg(target).arg(seed.to_string());
    }
    run_checked(&mut cmd)
}
