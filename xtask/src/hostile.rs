//! `cargo xtask hostile`: every hostile case of the test guest (`tessera.hostile=<case>`)
//! in one VM, beside a neighbour VM (`tessera.neighbour`) on another physical CPU that
//! keeps a pattern in its memory and takes timer interrupts meanwhile. Each case must
//! end in its expected outcome with the hypervisor alive and the neighbour intact.

use crate::build;
use crate::qemu::{self, Typing};
use crate::{BuildArgs, setup};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::time::Duration;

/// How the hypervisor is expected to contain a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The VM is stopped, with a logged reason.
    Stopped,
    /// The access or call is answered (an error code, zero, or ignored) and the guest
    /// runs on.
    Answered,
    /// An exception is delivered to the guest's own vector.
    FaultInjected,
    /// The VM keeps running, confined to its own CPUs (a guest that never yields or
    /// loops in its own exceptions is not wrong in a way the hypervisor can judge);
    /// the run is stopped once the neighbour has finished.
    Running,
}

/// A case, the architectures it exists on, and its expected outcome.
struct Case {
    name: &'static str,
    arches: &'static [&'static str],
    expect: Outcome,
}

const BOTH: &[&str] = &["aarch64", "riscv64"];
const ARM: &[&str] = &["aarch64"];
const RV: &[&str] = &["riscv64"];

/// Every case; docs/security.md says why each outcome is the right one.
const CASES: &[Case] = &[
    Case {
        name: "read-unmapped",
        arches: BOTH,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "write-unmapped",
        arches: BOTH,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "read-past-ram",
        arches: BOTH,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "write-past-ram",
        arches: BOTH,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "write-host-device",
        arches: BOTH,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "write-readonly-ram",
        arches: BOTH,
        expect: Outcome::Stopped,
    },
    Case {
        name: "write-shared-readonly",
        arches: BOTH,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "doorbell-storm",
        arches: BOTH,
        expect: Outcome::Answered,
    },
    Case {
        name: "doorbell-wide-read",
        arches: BOTH,
        expect: Outcome::Stopped,
    },
    Case {
        name: "unmapped-vector",
        arches: BOTH,
        expect: Outcome::Stopped,
    },
    Case {
        name: "reset-loop",
        arches: BOTH,
        expect: Outcome::Stopped,
    },
    Case {
        name: "busy-loop-masked",
        arches: BOTH,
        expect: Outcome::Running,
    },
    Case {
        name: "exception-loop",
        arches: BOTH,
        expect: Outcome::Running,
    },
    Case {
        name: "mmio-wide-read",
        arches: BOTH,
        expect: Outcome::Stopped,
    },
    Case {
        name: "mmio-unknown-register",
        arches: BOTH,
        expect: Outcome::Stopped,
    },
    Case {
        name: "psci-cpu-on-bad-target",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "psci-cpu-on-bad-entry",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "psci-cpu-on-self",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "psci-unknown-function",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "psci-affinity-info-bad-target",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "psci-system-suspend",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "psci-migrate",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "hvc-nonzero-immediate",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "smc-unknown-service",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "sysreg-impdef",
        arches: ARM,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "undefined-flood",
        arches: ARM,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "virtual-instruction-flood",
        arches: RV,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "sysreg-el2",
        arches: ARM,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "cache-set-way",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "debug-registers",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "pmu-count-at-el2",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "sgi-storm",
        arches: ARM,
        expect: Outcome::Answered,
    },
    Case {
        name: "mmio-unaligned",
        arches: ARM,
        expect: Outcome::Stopped,
    },
    Case {
        name: "mmio-readonly-register",
        arches: ARM,
        expect: Outcome::Stopped,
    },
    Case {
        name: "sbi-unknown-extension",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-unknown-function",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-hart-start-bad-hart",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-hart-start-bad-entry",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-hart-start-self",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-hart-status-bad-hart",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-ipi-bad-mask",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-rfence-bad-mask",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-reset-bad-type",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-legacy-ipi-pointer",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-set-timer-past",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-hart-suspend-bad-type",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-dbcn-write-outside-ram",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "sbi-pmu-extension",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "csr-satp-bad-mode",
        arches: RV,
        expect: Outcome::Answered,
    },
    Case {
        name: "csr-hypervisor",
        arches: RV,
        expect: Outcome::FaultInjected,
    },
    Case {
        name: "csr-machine",
        arches: RV,
        expect: Outcome::FaultInjected,
    },
];

/// Seconds one case may take.
const TIMEOUT_SECS: u64 = 60;
/// Seconds a case whose VM keeps running is given before the run is stopped (the
/// neighbour finishes in a few).
const RUNNING_SECS: u64 = 25;

/// What one run showed.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    outcome: Option<Outcome>,
    hypervisor_alive: bool,
    neighbour_intact: bool,
    /// The hypervisor printed at most [`MAX_WARNINGS`] warnings: a guest cannot
    /// flood its console.
    quiet: bool,
}

/// Most hypervisor warning lines one case may cause (a guest repeating what draws a
/// warning gets a few, then thinned-out lines with counts).
const MAX_WARNINGS: usize = 40;

/// Reads a case's console.
fn observe(case: &str, console: &str) -> Observed {
    let outcome = if console.contains("tessera: VM 1 (hostile) ended: stopped") {
        Some(Outcome::Stopped)
    } else if console.contains(&format!("[hostile] tessera-hostile: {case} fault injected")) {
        Some(Outcome::FaultInjected)
    } else if console.contains(&format!("[hostile] tessera-hostile: {case} answered")) {
        Some(Outcome::Answered)
    } else if console.contains(&format!("[hostile] tessera-hostile: case {case}"))
        && !console.contains("tessera: VM 1 (hostile) ended")
    {
        Some(Outcome::Running)
    } else {
        None
    };
    let crashed = [
        "hypervisor panic",
        "hypervisor exception",
        "hypervisor trap",
    ]
    .iter()
    .any(|m| console.contains(m));
    let verdict = console.contains("tessera: all VMs ended cleanly")
        || console.contains("VMs did not end cleanly");
    // A VM that keeps running holds the verdict back; then the hypervisor is alive
    // when it went on serving the neighbour to its end.
    let served = outcome == Some(Outcome::Running)
        && console.contains("tessera: VM 2 (neighbour) ended: powered off");
    Observed {
        outcome,
        quiet: console.lines().filter(|l| l.contains(" WARN ]")).count() <= MAX_WARNINGS,
        hypervisor_alive: (verdict || served) && !crashed,
        neighbour_intact: console.contains("[neighbour] tessera-guest: neighbour ok")
            && console.contains("[neighbour] tessera-guest: all checks passed")
            && console.contains("tessera: VM 2 (neighbour) ended: powered off"),
    }
}

/// Whether `arch` has hostile cases.
pub fn covers(arch: &str) -> bool {
    CASES.iter().any(|case| case.arches.contains(&arch))
}

/// `cargo xtask hostile [--arch A] [--platform P]`: fails when a case is not contained.
pub fn run(arch: Option<&str>, platform: Option<&str>) -> Result<()> {
    if let Some(arch) = arch.filter(|arch| !covers(arch)) {
        bail!("no hostile cases on {arch} yet");
    }
    let mut failures = 0;
    for arch in crate::boot_tests::arches(arch)
        .into_iter()
        .filter(|a| covers(a))
    {
        failures += run_arch(arch, platform)?;
    }
    if failures > 0 {
        bail!("{failures} hostile case(s) not contained");
    }
    Ok(())
}

/// Runs every case of `arch` on its platform variant `platform` (its default one
/// when `None`); returns how many were not contained.
pub fn run_arch(arch: &str, platform: Option<&str>) -> Result<usize> {
    let cases: Vec<&Case> = CASES.iter().filter(|c| c.arches.contains(&arch)).collect();
    let mut rows = Vec::new();
    let label = platform.map_or(arch.to_string(), |p| format!("{arch} ({p})"));
    for case in &cases {
        let dir = write_configs(arch, platform, case.name)?;
        let built = build::build(&BuildArgs {
            arch: arch.to_string(),
            platform: platform.map(str::to_string),
            vm_configs: vec![dir],
            log: "info".to_string(),
            features: vec!["power-off-when-done".to_string()],
            disk: None,
        })?;
        setup::ensure_qemu(&built.platform)?;
        println!("---- hostile case {label}/{} ----", case.name);
        let seconds = if case.expect == Outcome::Running {
            RUNNING_SECS
        } else {
            TIMEOUT_SECS
        };
        let console = qemu::run(
            qemu::hypervisor_command(&built),
            Duration::from_secs(seconds),
            Typing::Nothing,
        )?
        .output;
        rows.push((case.name, case.expect, observe(case.name, &console)));
    }
    println!(
        "{label}: {:<26} {:<15} {:<15} {:<10} {:<10} {:<8}",
        "case", "expected", "outcome", "alive", "neighbour", "console"
    );
    let mut contained = 0;
    let mut dead = 0;
    let mut neighbour_faults = 0;
    for (name, expect, seen) in &rows {
        let ok = seen.outcome == Some(*expect)
            && seen.hypervisor_alive
            && seen.neighbour_intact
            && seen.quiet;
        contained += usize::from(ok);
        dead += usize::from(!seen.hypervisor_alive);
        neighbour_faults += usize::from(!seen.neighbour_intact);
        let outcome = seen
            .outcome
            .map_or("none".to_string(), |o| format!("{o:?}"));
        println!(
            "{label}: {name:<26} {:<15} {outcome:<15} {:<10} {:<10} {:<8}{}",
            format!("{expect:?}"),
            if seen.hypervisor_alive { "yes" } else { "NO" },
            if seen.neighbour_intact {
                "intact"
            } else {
                "FAULT"
            },
            if seen.quiet { "quiet" } else { "FLOOD" },
            if ok { "" } else { "  <- not contained" }
        );
    }
    println!(
        "{label}: {} cases, {contained} contained, {dead} hypervisor panics, {neighbour_faults} neighbour faults",
        rows.len()
    );
    Ok(rows.len() - contained)
}

/// The two VM configs of a case, in `target/hostile/<arch>[-<platform>]/<case>/`.
fn write_configs(arch: &str, platform: Option<&str>, case: &str) -> Result<PathBuf> {
    let folder = platform.map_or(arch.to_string(), |p| format!("{arch}-{p}"));
    let dir = PathBuf::from(format!("target/hostile/{folder}/{case}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let layout = Layout::of(arch, platform)?;
    // The SGI storm of a GICv2 goes through its distributor: the hostile VM has one.
    // With an interrupt controller its doorbell needs an interrupt of its own.
    let (hostile_irqchip, hostile_mode, hostile_bell_irq) =
        if case == "sgi-storm" && platform.is_some() {
            (
                layout.neighbour_irqchip,
                "emulated",
                layout.neighbour_doorbell_irq + 1,
            )
        } else {
            ("", "no_irq", 0)
        };
    let hostile = format!(
        "# Hostile case `{case}` (generated by cargo xtask hostile).\n\
         [base]\nid = 1\nname = \"hostile\"\nvm_type = 1\ncpu_num = 2\nphys_cpu_ids = [1, 3]\n\n\
         [kernel]\nentry_point = {load:#x}\nimage_location = \"memory\"\n\
         kernel_path = \"target/guests/{arch}/test-guest.bin\"\nkernel_load_addr = {load:#x}\n\
         dtb_load_addr = {ram:#x}\ncmdline = \"tessera.hostile={case}\"\n\
         memory_regions = [[{ram:#x}, 0x100_0000, 0x7, 0], [{readonly:#x}, 0x1_0000, 0x1, 0]]\n\n\
         [devices]\npassthrough_devices = []\nemu_devices = [{hostile_irqchip}[\"uart\", {uart:#x}, {uart_len:#x}, 0, 2, []]]\n\
         interrupt_mode = \"{hostile_mode}\"\n\
         shared_regions = [[\"ring\", {shared:#x}, 0x1_0000, \"ro\", {bell:#x}, {hostile_bell_irq}]]\n",
        load = layout.load,
        ram = layout.ram,
        readonly = layout.readonly,
        shared = layout.shared,
        bell = layout.doorbell,
        uart = layout.uart,
        uart_len = layout.uart_len,
    );
    let neighbour = format!(
        "# The neighbour of hostile case `{case}` (generated by cargo xtask hostile).\n\
         [base]\nid = 2\nname = \"neighbour\"\nvm_type = 1\ncpu_num = 1\nphys_cpu_ids = [2]\n\n\
         [kernel]\nentry_point = {load:#x}\nimage_location = \"memory\"\n\
         kernel_path = \"target/guests/{arch}/test-guest.bin\"\nkernel_load_addr = {load:#x}\n\
         dtb_load_addr = {ram:#x}\ncmdline = \"tessera.neighbour\"\n\
         memory_regions = [[{ram:#x}, 0x100_0000, 0x7, 0]]\n\n\
         [devices]\npassthrough_devices = []\nemu_devices = [{irqchip}[\"uart\", {uart:#x}, {uart_len:#x}, 0, 2, []]]\n\
         interrupt_mode = \"emulated\"\n\
         shared_regions = [[\"ring\", {shared:#x}, 0x1_0000, \"rw\", {bell:#x}, {bell_irq}]]\n",
        load = layout.load,
        ram = layout.ram,
        shared = layout.shared,
        bell = layout.doorbell,
        bell_irq = layout.neighbour_doorbell_irq,
        uart = layout.uart,
        uart_len = layout.uart_len,
        irqchip = layout.neighbour_irqchip,
    );
    std::fs::write(dir.join("hostile.toml"), hostile)?;
    std::fs::write(dir.join("neighbour.toml"), neighbour)?;
    Ok(dir)
}

/// The guest-physical layout the test guest expects on an architecture.
struct Layout {
    ram: u64,
    load: u64,
    readonly: u64,
    uart: u64,
    uart_len: u64,
    /// The neighbour's interrupt controller rows (it takes timer interrupts).
    neighbour_irqchip: &'static str,
    /// The region the hostile VM shares read-only with the neighbour, its doorbell
    /// page, and the interrupt that doorbell raises in the neighbour.
    shared: u64,
    doorbell: u64,
    neighbour_doorbell_irq: u64,
}

/// The rows of an emulated GICv3 and of a GICv2 on QEMU `virt`'s layout.
const GICV3_ROWS: &str = "[\"gicd\", 0x0800_0000, 0x1_0000, 0, 0x21, []], [\"gicr\", 0x080A_0000, 0x2_0000, 0, 0x20, []], ";
const GICV2_ROWS: &str = "[\"gicd\", 0x0800_0000, 0x1_0000, 0, 0x25, []], [\"gicc\", 0x0801_0000, 0x2000, 0, 0x26, []], ";

impl Layout {
    /// The layout on `arch`'s platform `platform` (the GICv2 variant gives GICv2 rows).
    fn of(arch: &str, platform: Option<&str>) -> Result<Self> {
        match arch {
            "aarch64" => Ok(Self {
                ram: 0x4000_0000,
                load: 0x4008_0000,
                readonly: 0x4200_0000,
                uart: 0x0900_0000,
                uart_len: 0x1000,
                neighbour_irqchip: if platform == Some("qemu-virt-gicv2") {
                    GICV2_ROWS
                } else {
                    GICV3_ROWS
                },
                shared: 0x7000_0000,
                doorbell: 0x7010_0000,
                neighbour_doorbell_irq: 40,
            }),
            "riscv64" => Ok(Self {
                ram: 0x8000_0000,
                load: 0x8020_0000,
                readonly: 0x8200_0000,
                uart: 0x1000_0000,
                uart_len: 0x100,
                neighbour_irqchip: "",
                shared: 0x9000_0000,
                doorbell: 0x9010_0000,
                neighbour_doorbell_irq: 0,
            }),
            other => bail!("no hostile cases for {other} yet"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_outcomes_from_the_console() {
        let alive = "tessera: VM 2 (neighbour) ended: powered off\n[neighbour] tessera-guest: neighbour ok (20 timer ticks, memory intact)\n[neighbour] tessera-guest: all checks passed\n";
        let stopped = format!(
            "{alive}tessera: VM 1 (hostile) ended: stopped: vCPU 0: x\ntessera: 1 of 2 VMs did not end cleanly\n"
        );
        assert_eq!(
            observe("read-unmapped", &stopped),
            Observed {
                outcome: Some(Outcome::Stopped),
                hypervisor_alive: true,
                neighbour_intact: true,
                quiet: true,
            }
        );
        let answered = format!(
            "{alive}[hostile] tessera-hostile: sgi-storm answered (0x0)\ntessera: all VMs ended cleanly (2 VMs)\n"
        );
        assert_eq!(
            observe("sgi-storm", &answered).outcome,
            Some(Outcome::Answered)
        );
        let injected =
            "[hostile] tessera-hostile: sysreg-el2 fault injected (syndrome 0x2000000)\n";
        let seen = observe("sysreg-el2", injected);
        assert_eq!(seen.outcome, Some(Outcome::FaultInjected));
        assert!(!seen.hypervisor_alive && !seen.neighbour_intact);
        let panic = format!("{answered}tessera: hypervisor panic on CPU 1: x\n");
        assert!(!observe("sgi-storm", &panic).hypervisor_alive);
        let flood = format!(
            "{answered}{}",
            "[cpu 1 WARN ] guest access: undefined\n".repeat(41)
        );
        assert!(!observe("sgi-storm", &flood).quiet);
        let running = format!("[hostile] tessera-hostile: case busy-loop-masked\n{alive}");
        assert_eq!(
            observe("busy-loop-masked", &running),
            Observed {
                outcome: Some(Outcome::Running),
                hypervisor_alive: true,
                neighbour_intact: true,
                quiet: true,
            }
        );
    }

    #[test]
    fn every_case_runs_somewhere_and_names_are_unique() {
        for (i, case) in CASES.iter().enumerate() {
            assert!(!case.arches.is_empty());
            assert!(
                CASES
                    .iter()
                    .skip(i + 1)
                    .all(|other| other.name != case.name)
            );
        }
        for arch in BOTH {
            assert!(CASES.iter().filter(|c| c.arches.contains(arch)).count() >= 25);
        }
    }
}
