//! `cargo xtask bench`: the benchmark figures of the test guest (`tessera.bench`),
//! booted under Tessera and natively by QEMU, both under `-icount` so virtual time is
//! instruction counts and the figures repeat exactly. Prints a table, writes
//! `target/bench/<arch>.json` and a bar chart of the ratios, `target/bench/<arch>.svg`.

use crate::build::{self, Built};
use crate::platform::Platform;
use crate::qemu::{self, Typing};
use crate::{BuildArgs, setup};
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// QEMU arguments that make virtual time advance one nanosecond per instruction.
const ICOUNT: [&str; 2] = ["-icount", "shift=0,align=off,sleep=off"];
/// Seconds a benchmark boot may take.
const TIMEOUT_SECS: u64 = 120;
/// Figures whose interrupt arrives at a point QEMU may pick by host timing: those
/// that involve two vCPUs (QEMU's single-threaded round robin under icount can
/// switch CPUs at host-dependent points) and the timer latency (on a machine of two
/// CPUs QEMU may leave a translation block early for host events, console output
/// among them, which moves where it checks for the timer: seen natively on aarch64,
/// 6600 and 6605 ticks over 200 rounds). They may differ between runs by a fraction
/// of a percent. Every other figure must repeat exactly.
const MAY_VARY: &[&str] = &[
    "timer_irq_latency",
    "ipi_round_trip",
    "doorbell_round_trip",
    "message_round_trip",
];
/// How far a [`MAY_VARY`] figure may move between two runs.
const MAY_VARY_TOLERANCE: f64 = 0.01;

/// Names of the figures that do not repeat between runs `a` and `b`.
fn unrepeatable(a: &[Figure], b: &[Figure]) -> Vec<String> {
    if a.len() != b.len() {
        return vec!["(a different set of figures)".to_string()];
    }
    a.iter()
        .zip(b)
        .filter(|(x, y)| {
            let same = x.name == y.name
                && if MAY_VARY.contains(&x.name.as_str()) {
                    (x.ns_per_op - y.ns_per_op).abs() <= x.ns_per_op.abs() * MAY_VARY_TOLERANCE
                } else {
                    x.ns_per_op == y.ns_per_op
                };
            !same
        })
        .map(|(x, _)| x.name.clone())
        .collect()
}

/// One figure: nanoseconds of virtual time (instructions) per operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Figure name, such as `hypercall`.
    pub name: String,
    /// Virtual nanoseconds per operation.
    pub ns_per_op: f64,
}

/// Parses the guest's `tessera-bench: name=.. ops=.. ticks=.. hz=..` lines (and
/// passes over its `tessera-bench: <figure> skipped (<reason>)` lines).
pub fn parse_figures(console: &str) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for line in console.lines() {
        let Some(rest) = line.split("tessera-bench: ").nth(1) else {
            continue;
        };
        if rest.trim() == "done" {
            return Ok(figures);
        }
        // `<figure> skipped (<reason>)`: a figure this guest cannot measure here.
        if rest.split_whitespace().nth(1) == Some("skipped") {
            continue;
        }
        let field = |key: &str| {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .with_context(|| format!("benchmark line without `{key}`: {line}"))
        };
        let number = |key: &str| -> Result<f64> {
            field(key)?
                .parse::<u64>()
                .map(|n| n as f64)
                .with_context(|| format!("`{key}` is not a number: {line}"))
        };
        let (ops, ticks, hz) = (number("ops")?, number("ticks")?, number("hz")?);
        if ops == 0.0 || hz == 0.0 {
            bail!("benchmark line with zero ops or frequency: {line}");
        }
        figures.push(Figure {
            name: field("name")?.to_string(),
            ns_per_op: ticks * 1e9 / hz / ops,
        });
    }
    bail!("the benchmark guest did not finish (no `tessera-bench: done`)")
}

/// What the Linux kernel prints when it starts the first process.
const RUN_INIT: &str = "Run /init as init process";
/// Seconds a Linux boot to init may take under icount.
const LINUX_TIMEOUT_SECS: u64 = 900;

/// The kernel's own timestamp, in seconds, on the console line where it starts init.
fn init_time(console: &str) -> Result<f64> {
    let line = console
        .lines()
        .find(|line| line.contains(RUN_INIT))
        .with_context(|| format!("the kernel never printed \"{RUN_INIT}\""))?;
    let before = line.split(RUN_INIT).next().unwrap_or("");
    let stamp = before
        .rfind('[')
        .and_then(|open| {
            let inner = before.get(open + 1..)?;
            inner.get(..inner.find(']')?)
        })
        .with_context(|| format!("no timestamp on the line: {line}"))?;
    stamp
        .trim()
        .parse::<f64>()
        .with_context(|| format!("timestamp `{stamp}` is not a number: {line}"))
}

/// Boots per side of `linux_boot`: with two vCPUs QEMU's round robin under icount
/// switches CPUs at host-dependent points (console output), and on riscv64 a Linux
/// boot moves by several percent between runs, so the figure is a median.
const LINUX_BOOTS: usize = 3;

/// The median of [`LINUX_BOOTS`] results of `boot`.
fn median_of_boots(mut boot: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut times = (0..LINUX_BOOTS)
        .map(|_| boot())
        .collect::<Result<Vec<f64>>>()?;
    times.sort_by(f64::total_cmp);
    times
        .get(LINUX_BOOTS / 2)
        .copied()
        .context("no Linux boot was measured")
}

/// `linux_boot`: the same Linux (kernel, initramfs, command line, vCPUs and RAM of
/// the VM config `path`, the platform's `[bench] linux_vm_config`) booted under Tessera
/// and natively, each stopped when the kernel starts init; the figure is the kernel's
/// own timestamp there (its clock starts when it sets up its timer, the same point of
/// the boot both ways), in virtual nanoseconds, the median of three boots. Returns
/// (native, under Tessera).
fn linux_boot(arch: &str, platform: &Platform, path: &Path) -> Result<(Figure, Figure)> {
    crate::guest_fetch::ensure_linux(arch)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = tessera_config::VmConfig::from_toml(&path.display().to_string(), &text)
        .map_err(|errors| anyhow::anyhow!("{}", errors[0]))?;
    let timeout = Duration::from_secs(LINUX_TIMEOUT_SECS);
    let built = build::build(&BuildArgs {
        arch: arch.to_string(),
        platform: None,
        vm_configs: vec![path.to_path_buf()],
        log: "info".to_string(),
        features: vec!["power-off-when-done".to_string()],
        disk: None,
    })?;
    let tessera = median_of_boots(|| {
        let mut cmd = qemu::hypervisor_command(&built);
        cmd.args(ICOUNT);
        let under = qemu::run_until(cmd, timeout, Typing::Nothing, Some(RUN_INIT))?;
        init_time(&under.output).context("linux_boot under Tessera")
    })?;
    let kernel = &config.kernel;
    let ram: u64 = kernel.memory_regions.iter().map(|region| region.size).sum();
    let native = median_of_boots(|| {
        let mut cmd = native_command(
            platform,
            config.base.cpu_num,
            ram >> 20,
            Path::new(&kernel.kernel_path),
            kernel.cmdline.as_deref().unwrap_or(""),
        )?;
        if let Some(ramdisk) = &kernel.ramdisk_path {
            cmd.args(["-initrd", ramdisk]);
        }
        let bare = qemu::run_until(cmd, timeout, Typing::Nothing, Some(RUN_INIT))?;
        init_time(&bare.output).context("linux_boot natively")
    })?;
    let figure = |seconds: f64| Figure {
        name: "linux_boot".to_string(),
        ns_per_op: seconds * 1e9,
    };
    Ok((figure(native), figure(tessera)))
}

/// Architectures whose test guest has a benchmark mode.
const BENCH_ARCHES: &[&str] = &["aarch64", "riscv64", "x86_64"];

/// Whether `arch` has benchmarks.
pub fn covers(arch: &str) -> bool {
    BENCH_ARCHES.contains(&arch)
}

/// `cargo xtask bench [--arch A]`.
pub fn run(arch: Option<&str>, platform: Option<&str>) -> Result<()> {
    if let Some(arch) = arch.filter(|arch| !covers(arch)) {
        bail!(
            "no benchmarks on {arch} yet (they run on {})",
            BENCH_ARCHES.join(", ")
        );
    }
    for arch in crate::boot_tests::arches(arch)
        .into_iter()
        .filter(|a| covers(a))
    {
        bench_arch(arch, platform)?;
    }
    Ok(())
}

/// The figures of one architecture on its platform variant `variant` (the default
/// platform when `None`), twice each way to show they repeat: the guest's own
/// figures under Tessera and natively on the same machine
/// (`xtask/testdata/bench-<arch>[-<variant>].toml`), and the doorbell and Linux boot
/// figures where the platform's `[bench]` names their configs (the default
/// platforms of aarch64 and riscv64; x86_64 has Linux but no shared regions).
pub fn bench_arch(arch: &str, variant: Option<&str>) -> Result<()> {
    let config = PathBuf::from(match variant {
        Some(variant) => format!("xtask/testdata/bench-{arch}-{variant}.toml"),
        None => format!("xtask/testdata/bench-{arch}.toml"),
    });
    let built = build::build(&BuildArgs {
        arch: arch.to_string(),
        platform: variant.map(str::to_string),
        vm_configs: vec![config],
        log: "info".to_string(),
        features: vec!["power-off-when-done".to_string()],
        disk: None,
    })?;
    setup::ensure_qemu(&built.platform)?;
    let tessera = [under_tessera(&built)?, under_tessera(&built)?];
    let native = [native(&built.platform)?, native(&built.platform)?];
    let mut differing = unrepeatable(&tessera[0], &tessera[1]);
    differing.extend(unrepeatable(&native[0], &native[1]));
    let name = variant.map_or(arch.to_string(), |v| format!("{arch}-{v}"));
    let mut report = Report {
        arch: name.clone(),
        tessera: tessera[0].clone(),
        native: native[0].clone(),
        hypervisor_only: Vec::new(),
        repeatable: false,
    };
    let mut linux = String::new();
    let bench = built.platform.bench.clone();
    if let Some(folder) = bench.as_ref().and_then(|b| b.doorbell_vm_configs.as_ref()) {
        let doorbell = [doorbell_run(arch, folder)?, doorbell_run(arch, folder)?];
        differing.extend(unrepeatable(&doorbell[0], &doorbell[1]));
        report.hypervisor_only = doorbell[0].clone();
    }
    if let Some(config) = bench.as_ref().and_then(|b| b.linux_vm_config.as_ref()) {
        let (linux_native, linux_tessera) = linux_boot(arch, &built.platform, config)?;
        linux = format!(
            "linux_boot (the kernel's clock at \"{RUN_INIT}\"): native {:.4} s, tessera {:.4} s, {:+.1} %",
            linux_native.ns_per_op / 1e9,
            linux_tessera.ns_per_op / 1e9,
            (linux_tessera.ns_per_op / linux_native.ns_per_op - 1.0) * 100.0
        );
        report.tessera.push(linux_tessera);
        report.native.push(linux_native);
    }
    let repeatable = differing.is_empty();
    report.repeatable = repeatable;
    println!("{}\n{linux}", report.table());
    let dir = Path::new("target/bench");
    std::fs::create_dir_all(dir).context("cannot create target/bench")?;
    let json = dir.join(format!("{name}.json"));
    std::fs::write(&json, report.json())
        .with_context(|| format!("cannot write {}", json.display()))?;
    let svg = dir.join(format!("{name}.svg"));
    std::fs::write(&svg, report.svg())
        .with_context(|| format!("cannot write {}", svg.display()))?;
    println!("tessera: wrote {} and {}", json.display(), svg.display());
    if !repeatable {
        bail!(
            "{name}: two runs gave different instruction-based figures: {}",
            differing.join(", ")
        );
    }
    Ok(())
}

/// The guest's figures under Tessera.
fn under_tessera(built: &Built) -> Result<Vec<Figure>> {
    let mut cmd = qemu::hypervisor_command(built);
    cmd.args(ICOUNT);
    let outcome = qemu::run(cmd, Duration::from_secs(TIMEOUT_SECS), Typing::Nothing)?;
    let figures = parse_figures(&outcome.output)?;
    outcome.into_result()?;
    Ok(figures)
}

/// The doorbell figures of two test guests that share a region (the VM configs in
/// `folder`, `tessera.bench-doorbell`): they exist only under a hypervisor, so they
/// have no native row (the nearest native figure is `ipi_round_trip`, two CPUs of
/// one machine).
fn doorbell_run(arch: &str, folder: &Path) -> Result<Vec<Figure>> {
    let built = build::build(&BuildArgs {
        arch: arch.to_string(),
        platform: None,
        vm_configs: vec![folder.to_path_buf()],
        log: "info".to_string(),
        features: vec!["power-off-when-done".to_string()],
        disk: None,
    })?;
    under_tessera(&built)
}

/// The same guest booted by QEMU directly, at the guest kernel level.
fn native(platform: &Platform) -> Result<Vec<Figure>> {
    let guest = PathBuf::from(format!("target/guests/{}/test-guest.bin", platform.arch));
    let cmd = native_command(platform, 2, 256, &guest, "tessera.bench")?;
    let outcome = qemu::run(cmd, Duration::from_secs(TIMEOUT_SECS), Typing::Nothing)?;
    parse_figures(&outcome.output)
}

/// QEMU booting `kernel` directly (no hypervisor) on the platform's `[bench]` machine
/// with `cpus` CPUs, `memory_mib` of RAM and command line `append`, under icount.
fn native_command(
    platform: &Platform,
    cpus: usize,
    memory_mib: u64,
    kernel: &Path,
    append: &str,
) -> Result<Command> {
    let bench = platform.bench.as_ref().with_context(|| {
        format!(
            "{}: the platform file has no [bench] section",
            platform.arch
        )
    })?;
    let q = &platform.qemu;
    let mut cmd = Command::new(&q.binary);
    cmd.args(["-machine", &bench.native_machine, "-cpu", &bench.native_cpu])
        .args(["-smp", &cpus.to_string(), "-m", &format!("{memory_mib}M")])
        .args(&q.extra_args)
        .args(["-nographic", "-monitor", "none", "-serial", "stdio"])
        .args(ICOUNT)
        .arg("-kernel")
        .arg(kernel)
        .args(["-append", append]);
    Ok(cmd)
}

/// The figures of one architecture, both ways.
struct Report {
    arch: String,
    tessera: Vec<Figure>,
    native: Vec<Figure>,
    /// Figures only a hypervisor has (between VMs), without a native row.
    hypervisor_only: Vec<Figure>,
    repeatable: bool,
}

impl Report {
    /// (name, native, tessera, ratio) for every figure measured both ways.
    fn rows(&self) -> Vec<(&str, f64, f64, f64)> {
        self.tessera
            .iter()
            .filter_map(|t| {
                let n = self.native.iter().find(|n| n.name == t.name)?;
                let ratio = if n.ns_per_op > 0.0 {
                    t.ns_per_op / n.ns_per_op
                } else {
                    0.0
                };
                Some((t.name.as_str(), n.ns_per_op, t.ns_per_op, ratio))
            })
            .collect()
    }

    fn table(&self) -> String {
        let mut out = format!(
            "{} (virtual ns per operation = instructions, -icount shift=0)\n{:<18} {:>12} {:>12} {:>8}\n",
            self.arch, "figure", "native", "tessera", "ratio"
        );
        for (name, native, tessera, ratio) in self.rows() {
            let _ = writeln!(
                out,
                "{name:<18} {native:>12.1} {tessera:>12.1} {ratio:>8.2}"
            );
        }
        for figure in &self.hypervisor_only {
            let _ = writeln!(
                out,
                "{:<18} {:>12} {:>12.1} {:>8}",
                figure.name, "(two VMs)", figure.ns_per_op, "-"
            );
        }
        let _ = write!(
            out,
            "repeatable: {}",
            if self.repeatable {
                "yes (two runs each: identical, the timer and cross-CPU figures within 1%)"
            } else {
                "NO"
            }
        );
        out
    }

    fn json(&self) -> String {
        let rows: Vec<String> = self
            .rows()
            .iter()
            .map(|(name, native, tessera, ratio)| {
                format!(
                    "    {{\"figure\": \"{name}\", \"native_ns\": {native:.3}, \"tessera_ns\": {tessera:.3}, \"ratio\": {ratio:.4}}}"
                )
            })
            .chain(self.hypervisor_only.iter().map(|figure| {
                format!(
                    "    {{\"figure\": \"{}\", \"native_ns\": null, \"tessera_ns\": {:.3}, \"ratio\": null}}",
                    figure.name, figure.ns_per_op
                )
            }))
            .collect();
        format!(
            "{{\n  \"arch\": \"{}\",\n  \"unit\": \"virtual ns per operation (instructions) under -icount shift=0\",\n  \"repeatable\": {},\n  \"figures\": [\n{}\n  ]\n}}\n",
            self.arch,
            self.repeatable,
            rows.join(",\n")
        )
    }

    /// Horizontal bars of the ratios (log scale would hide small overheads, so linear
    /// up to the largest ratio), one per figure, with the values written beside them.
    fn svg(&self) -> String {
        let rows = self.rows();
        let max = rows.iter().map(|r| r.3).fold(1.0_f64, f64::max);
        let (left, width, bar, gap) = (150.0, 420.0, 22.0, 10.0);
        let height = 50.0 + rows.len() as f64 * (bar + gap);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"680\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n\
             <text x=\"10\" y=\"22\">{}: under Tessera / native (virtual time per operation)</text>\n",
            self.arch
        );
        for (i, (name, _, _, ratio)) in rows.iter().enumerate() {
            let y = 40.0 + i as f64 * (bar + gap);
            let w = (ratio / max * width).max(1.0);
            let _ = write!(
                svg,
                "<text x=\"10\" y=\"{:.0}\">{name}</text>\n<rect x=\"{left}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"#4a7ab0\"/>\n<text x=\"{:.1}\" y=\"{:.0}\">{ratio:.2}x</text>\n",
                y + 16.0,
                left + w + 6.0,
                y + 16.0
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_guest_lines() {
        let console = "noise\n[bench] tessera-bench: name=hypercall ops=2000 ticks=18000 hz=1000000000\n\
                       [bench] tessera-bench: name=mmio_read ops=2000 ticks=80 hz=10000000\n\
                       [bench] tessera-bench: timer_irq_latency skipped (no local APIC)\n\
                       [bench] tessera-bench: done\n";
        let figures = parse_figures(console).unwrap();
        assert_eq!(figures.len(), 2);
        assert_eq!(figures[0].name, "hypercall");
        assert!((figures[0].ns_per_op - 9.0).abs() < 1e-9);
        assert!((figures[1].ns_per_op - 4.0).abs() < 1e-9);
    }

    #[test]
    fn init_time_is_the_kernel_stamp_of_its_line() {
        let console = "[    0.783626] Freeing unused kernel memory: 6464K\n\
                       [linux] [    0.793953] Run /init as init process\n";
        assert!((init_time(console).unwrap() - 0.793953).abs() < 1e-12);
        assert!(init_time("[ 1.0] Freeing\n").is_err());
        assert!(init_time("Run /init as init process\n").is_err());
        assert!(init_time("[ x ] Run /init as init process\n").is_err());
    }

    #[test]
    fn refuses_unfinished_or_broken_output() {
        assert!(parse_figures("tessera-bench: name=x ops=1 ticks=1 hz=1\n").is_err());
        assert!(
            parse_figures("tessera-bench: name=x ops=0 ticks=1 hz=1\ntessera-bench: done\n")
                .is_err()
        );
        assert!(
            parse_figures("tessera-bench: name=x ops=a ticks=1 hz=1\ntessera-bench: done\n")
                .is_err()
        );
        assert!(parse_figures("tessera-bench: ops=1 ticks=1 hz=1\ntessera-bench: done\n").is_err());
        assert!(parse_figures("tessera-bench: x skip\ntessera-bench: done\n").is_err());
    }

    #[test]
    fn repeatability_is_exact_except_where_host_timing_shows() {
        let fig = |name: &str, ns| Figure {
            name: name.into(),
            ns_per_op: ns,
        };
        let a = vec![fig("hypercall", 266.0), fig("ipi_round_trip", 1000.0)];
        assert!(unrepeatable(&a, &a.clone()).is_empty());
        let b = vec![fig("hypercall", 266.0), fig("ipi_round_trip", 1005.0)];
        assert!(unrepeatable(&a, &b).is_empty());
        let c = vec![fig("hypercall", 266.5), fig("ipi_round_trip", 1100.0)];
        assert_eq!(unrepeatable(&a, &c), vec!["hypercall", "ipi_round_trip"]);
        assert!(!unrepeatable(&a, &a[..1]).is_empty());
        let timer = |ns| vec![fig("timer_irq_latency", ns)];
        assert!(unrepeatable(&timer(33.0), &timer(33.025)).is_empty());
        assert!(!unrepeatable(&timer(33.0), &timer(34.0)).is_empty());
    }

    #[test]
    fn report_rows_json_and_chart() {
        let fig = |name: &str, ns| Figure {
            name: name.into(),
            ns_per_op: ns,
        };
        let report = Report {
            arch: "aarch64".into(),
            tessera: vec![fig("hypercall", 900.0), fig("only_here", 1.0)],
            native: vec![fig("hypercall", 9.0)],
            hypervisor_only: vec![fig("doorbell_round_trip", 1234.5)],
            repeatable: true,
        };
        assert_eq!(report.rows(), vec![("hypercall", 9.0, 900.0, 100.0)]);
        assert!(report.table().contains("hypercall"));
        assert!(
            report
                .table()
                .contains("doorbell_round_trip    (two VMs)       1234.5"),
            "{}",
            report.table()
        );
        assert!(report.json().contains("\"ratio\": 100.0000"));
        assert!(report.json().contains(
            "{\"figure\": \"doorbell_round_trip\", \"native_ns\": null, \"tessera_ns\": 1234.500, \"ratio\": null}"
        ));
        assert!(report.svg().contains("100.00x"));
    }
}
