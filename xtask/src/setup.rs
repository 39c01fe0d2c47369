//! Installs what the machine lacks: the pinned Rust toolchain's components and targets,
//! and QEMU 10 from Debian's bookworm-backports suite (bookworm's own QEMU 7.2 hangs
//! under `-icount` with several vCPUs). Each install prints one line saying what it is.

use crate::platform::Platform;
use crate::workspace::run_checked;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Command, Stdio};

/// Rustup components the build needs (also pinned in `rust-toolchain.toml`).
const COMPONENTS: &[&str] = &["rust-src", "llvm-tools", "clippy", "rustfmt"];
/// Oldest QEMU major version that runs our multi-CPU icount tests.
const MIN_QEMU_MAJOR: u32 = 9;
/// The apt source file this tool writes.
const BACKPORTS_SOURCE: &str = "/etc/apt/sources.list.d/tessera-bookworm-backports.sources";

/// Everything `run` and `test` need for `platform`.
pub fn ensure_all(platform: &Platform) -> Result<()> {
    ensure_rust(&platform.target)?;
    ensure_qemu(platform)
}

/// Rustup components and the bare-metal target.
pub fn ensure_rust(target: &str) -> Result<()> {
    let installed = capture(Command::new("rustup").args(["component", "list", "--installed"]))?;
    for component in COMPONENTS {
        if !installed.lines().any(|line| line.starts_with(component)) {
            println!("tessera: installing the rustup component {component}");
            run_checked(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    let targets = capture(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !targets.lines().any(|line| line.trim() == target) {
        println!("tessera: installing the rustup target {target}");
        run_checked(Command::new("rustup").args(["target", "add", target]))?;
    }
    Ok(())
}

/// The platform's QEMU, at least version 9, from bookworm-backports when missing or too old.
pub fn ensure_qemu(platform: &Platform) -> Result<()> {
    let binary = &platform.qemu.binary;
    if qemu_major(binary).is_some_and(|major| major >= MIN_QEMU_MAJOR) {
        return Ok(());
    }
    println!(
        "tessera: installing {} (QEMU 10) from Debian bookworm-backports",
        platform.qemu.package
    );
    ensure_backports_source()?;
    apt(&["update", "-q"])?;
    apt(&[
        "install",
        "-y",
        "-q",
        "-t",
        "bookworm-backports",
        &platform.qemu.package,
    ])?;
    match qemu_major(binary) {
        Some(major) if major >= MIN_QEMU_MAJOR => Ok(()),
        Some(major) => bail!(
            "{binary} is version {major} after the install; {MIN_QEMU_MAJOR} or newer is needed"
        ),
        None => bail!(
            "{binary} is still missing after installing {}",
            platform.qemu.package
        ),
    }
}

/// Major version of an installed QEMU, or `None` when it is not installed.
fn qemu_major(binary: &str) -> Option<u32> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split("version ").nth(1)?;
    version.split('.').next()?.trim().parse().ok()
}

/// Writes a deb822 source for bookworm-backports, copying the URIs and keyring of the
/// host's own Debian entry, unless one exists already.
fn ensure_backports_source() -> Result<()> {
    let dir = Path::new("/etc/apt/sources.list.d");
    let mut debian_stanza = None;
    for entry in std::fs::read_dir(dir).context("cannot read /etc/apt/sources.list.d")? {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "sources") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for stanza in text.split("\n\n") {
            let suites = field(stanza, "Suites").unwrap_or_default();
            if suites.split_whitespace().any(|s| s == "bookworm-backports") {
                return Ok(());
            }
            if debian_stanza.is_none() && suites.split_whitespace().any(|s| s == "bookworm") {
                debian_stanza = Some(stanza.to_string());
            }
        }
    }
    let stanza = debian_stanza
        .context("no Debian bookworm entry found in /etc/apt/sources.list.d to copy")?;
    let uris = field(&stanza, "URIs").context("the host's Debian entry has no URIs")?;
    let mut source =
        format!("Types: deb\nURIs: {uris}\nSuites: bookworm-backports\nComponents: main\n");
    if let Some(keyring) = field(&stanza, "Signed-By") {
        source.push_str(&format!("Signed-By: {keyring}\n"));
    }
    std::fs::write(BACKPORTS_SOURCE, source)
        .with_context(|| format!("cannot write {BACKPORTS_SOURCE}"))
}

/// The value of `name:` in a deb822 stanza.
fn field(stanza: &str, name: &str) -> Option<String> {
    stanza.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_string())
    })
}

/// Runs apt-get quietly, as root or through sudo.
fn apt(args: &[&str]) -> Result<()> {
    let is_root = capture(Command::new("id").arg("-u"))
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false);
    let mut cmd = if is_root {
        Command::new("apt-get")
    } else {
        sudo_apt()
    };
    cmd.args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null());
    run_checked(&mut cmd)
}

fn sudo_apt() -> Command {
    let mut cmd = Command::new("sudo");
    cmd.arg("apt-get");
    cmd
}

/// Standard output of a command that must succeed.
fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
