//! `cargo xtask`: Tessera's one build tool. Builds the hypervisor with its VM configs
//! compiled in, runs it under QEMU, runs the host unit tests and the QEMU boot tests,
//! and installs what the machine lacks.

mod bench;
mod boot_tests;
mod build;
mod config_check;
mod cpio;
mod disk_img;
mod fuzz;
mod guest_fetch;
mod hostile;
mod platform;
mod qemu;
mod setup;
mod workspace;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Command line of `cargo xtask`.
#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, run and test the Tessera hypervisor"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options naming what to build.
#[derive(clap::Args, Clone)]
struct BuildArgs {
    /// Target architecture.
    #[arg(long, default_value = "aarch64")]
    arch: String,
    /// A platform variant of the architecture, such as `qemu-virt-gicv2` (a file in
    /// `configs/platforms/variants/`); the architecture's default platform when absent.
    #[arg(long)]
    platform: Option<String>,
    /// Comma-separated VM config files compiled into the hypervisor.
    #[arg(long, value_delimiter = ',')]
    vm_configs: Vec<PathBuf>,
    /// Hypervisor log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log: String,
    /// Comma-separated hypervisor features: `fs` reads guest images and VM configs
    /// from a FAT32 disk, which QEMU then attaches (see `--disk`).
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// The disk image QEMU attaches with `--features fs` (default `target/disk.img`,
    /// made by `cargo xtask disk-img`).
    #[arg(long)]
    disk: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Install what the machine lacks (rustup components, QEMU from Debian).
    Setup {
        /// Architecture whose QEMU to install.
        #[arg(long, default_value = "aarch64")]
        arch: String,
    },
    /// Build the test guests and the hypervisor with the given VM configs.
    Build(BuildArgs),
    /// Build, then boot under QEMU and stream the console; exits 0 only when every VM ended cleanly.
    Run {
        #[command(flatten)]
        build: BuildArgs,
        /// Seconds before QEMU is stopped.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Run the host unit tests and the QEMU boot tests.
    Test {
        /// Architecture of the boot tests (default: every architecture).
        #[arg(long)]
        arch: Option<String>,
        /// Run only the host unit tests.
        #[arg(long)]
        host_only: bool,
        /// Run only the boot tests whose name holds this text (no lint, unit tests,
        /// fuzzing, hostile suite or benchmarks).
        #[arg(long)]
        only: Option<String>,
    },
    /// `cargo fmt --check` and `cargo clippy -D warnings` for the host and every bare-metal crate.
    Lint,
    /// Random and mutated input to every parser and device model, bounded in time.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Replays one case: the target's name and the seed a failure printed.
        #[arg(long, num_args = 2, value_names = ["TARGET", "SEED"])]
        replay: Vec<String>,
    },
    /// Every hostile-guest case beside a neighbour VM; fails when one is not contained.
    Hostile {
        /// Architecture (default: every architecture).
        #[arg(long)]
        arch: Option<String>,
        /// A platform variant of the architecture, such as `qemu-virt-gicv2`.
        #[arg(long)]
        platform: Option<String>,
    },
    /// Benchmark figures under Tessera and native, under `-icount`; table, JSON, chart.
    Bench {
        /// Architecture (default: every architecture).
        #[arg(long)]
        arch: Option<String>,
        /// A platform variant of the architecture, such as `qemu-virt-gicv2`.
        #[arg(long)]
        platform: Option<String>,
    },
    /// Create or add to the FAT32 disk image (guest images, VM configs in /vms).
    DiskImg(disk_img::Args),
    /// VM configs: what Tessera makes of them.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Guest operating systems made from distribution packages.
    Guest {
        #[command(subcommand)]
        command: GuestCommand,
    },
}

/// `cargo xtask config ...`.
#[derive(Subcommand)]
enum ConfigCommand {
    /// For each file: "accepted" and the machine the VM will see, or every problem
    /// (field and reason), including what Tessera does not offer on its architecture.
    Check {
        /// VM config files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Architecture (default: the folder named aarch64, riscv64 or x86_64 in the path).
        #[arg(long)]
        arch: Option<String>,
    },
}

/// `cargo xtask guest ...`.
#[derive(Subcommand)]
enum GuestCommand {
    /// Download and assemble a guest under `target/guests/<arch>/` (cached: nothing is
    /// done when the files exist).
    Fetch {
        /// Which guest.
        what: GuestKind,
        /// Guest architecture.
        #[arg(long, default_value = "aarch64")]
        arch: String,
    },
}

/// Guests `cargo xtask guest fetch` can assemble.
#[derive(clap::ValueEnum, Clone, Copy)]
enum GuestKind {
    /// Debian's kernel (`Image`) and a busybox initramfs (`initramfs.cpio`) in
    /// `target/guests/<arch>/linux/`.
    Linux,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // Paths on the command line are the caller's, from before entering the root.
    let cwd = std::env::current_dir()?;
    workspace::enter_root()?;
    match cli.command {
        Command::Setup { arch } => setup::ensure_all(&platform::Platform::load(&arch)?),
        Command::Build(args) => build::build(&args).map(|_| ()),
        Command::Run { build, timeout } => run(&build, timeout),
        Command::Test {
            arch,
            host_only,
            only,
        } => boot_tests::run_all(arch.as_deref(), host_only, only.as_deref()),
        Command::Lint => workspace::lint(),
        Command::Bench { arch, platform } => bench::run(arch.as_deref(), platform.as_deref()),
        Command::Hostile { arch, platform } => hostile::run(arch.as_deref(), platform.as_deref()),
        Command::DiskImg(args) => disk_img::run(&args),
        Command::Fuzz { seconds, replay } => {
            let replay = match replay.as_slice() {
                [target, seed] => Some((target.as_str(), seed.parse()?)),
                _ => None,
            };
            fuzz::run(seconds, replay)
        }
        Command::Config {
            command: ConfigCommand::Check { files, arch },
        } => config_check::run(&files, arch.as_deref(), &cwd),
        Command::Guest {
            command:
                GuestCommand::Fetch {
                    what: GuestKind::Linux,
                    arch,
                },
        } => {
            let guest = guest_fetch::ensure_linux(&arch)?;
            println!(
                "tessera: Linux guest for {arch}: {} and {}",
                guest.image.display(),
                guest.initramfs.display()
            );
            Ok(())
        }
    }
}

/// `cargo xtask run`: build, boot, and turn the hypervisor's verdict into an exit status.
fn run(args: &BuildArgs, timeout: u64) -> Result<()> {
    let built = build::build(args)?;
    let outcome = qemu::boot(
        &built,
        std::time::Duration::from_secs(timeout),
        qemu::Typing::User,
    )?;
    outcome.into_result()
}
