//! `cargo xtask test`: lint, host unit tests, and QEMU boot tests that read the serial
//! console for exact markers. Ends with one `total: N passed, N failed` line.

use crate::build::{self, Built};
use crate::platform::Platform;
use crate::qemu::Typing;
use crate::{BuildArgs, qemu, setup, workspace};
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a boot test expects.
enum Expect {
    /// Every VM ends cleanly and each of these markers appears on the console.
    Clean(&'static [&'static str]),
    /// As `Clean`, with text typed on the console: (trigger, text) steps.
    Typed(
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    ),
    /// The build is refused before QEMU starts, with an error holding all these pieces.
    BuildError(&'static [&'static str]),
    /// The hypervisor refuses to create a VM at boot and powers off: each of these
    /// markers (the refusal with its reason) appears on the console.
    Refused(&'static [&'static str]),
    /// As `Typed`, in a build that stays up when its VMs stop (the hypervisor shell's
    /// `poweroff` ends the run).
    Shell(
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    ),
}

/// One boot test: a set of VM configs and what must happen.
struct BootTest {
    name: &'static str,
    arch: &'static str,
    /// A platform variant of the architecture (`--platform`), or its default one.
    platform: Option<&'static str>,
    vm_configs: &'static [&'static str],
    expect: Expect,
    timeout_secs: u64,
}

/// Platform variants (`configs/platforms/variants`) the hostile suite and the
/// benchmarks also run on, by architecture.
const PLATFORM_VARIANTS: &[(&str, &str)] = &[("aarch64", "qemu-virt-gicv2")];

/// The platform variants of `arch` the hostile suite and the benchmarks also run on.
fn variants_of(arch: &str) -> impl Iterator<Item = Option<&'static str>> + '_ {
    PLATFORM_VARIANTS
        .iter()
        .filter(move |(a, _)| *a == arch)
        .map(|&(_, variant)| Some(variant))
}

/// What the shell boot tests type (Linux's console in front at boot, the test guest
/// stopped after its checks, a guest that ignores everything), one step each.
const SHELL_STEPS: &[(&str, &str)] = &[
    ("tessera-linux: shell ready", "\x18s"),
    ("tessera: console: the hypervisor shell", "vm list\r"),
    ("EXITS", "vm stop 3\r"),
    (
        "VM 3 (spinner) ended: stopped from the hypervisor shell",
        "vm restart 2\r",
    ),
    ("[guest] tessera-guest: all checks passed", "\x18n"),
    ("tessera: console: VM 1 (linux)", "echo typed-$((6*7))\n"),
    ("typed-42", "\x18s"),
    ("tessera: console: the hypervisor shell", "vm show 3\r"),
    ("last end: stopped from the hypervisor shell", "vm stop 9\r"),
    ("no VM 9", "mem\r"),
    ("tessera: free memory", "vm console 2\r"),
    ("tessera: console: VM 2 (guest)", "\x18s"),
    ("tessera: console: the hypervisor shell", "poweroff\r"),
];

/// What the shell boot tests must show.
const SHELL_MARKERS: &[&str] = &[
    "    1  linux            running        2  0,1",
    "    2  guest            stopped        1  2",
    "    3  spinner          running        1  3",
    "tessera: VM 3 (spinner) ended: stopped from the hypervisor shell",
    "tessera: VM 2 (guest): restart asked",
    "tessera: VM 2 (guest) resetting",
    "tessera: VM 2 (guest) ended: powered off",
    "tessera: console: VM 1 (linux) (Ctrl+X s: the shell, n/p: the other VMs)",
    "typed-42",
    "tessera: VM 3 (spinner): stopped, from xtask/testdata/shell-",
    "tessera: no VM 9 (`vm list` shows the VMs)",
    "frames of 4 KiB)",
    "tessera: console: VM 2 (guest) (Ctrl+X s: the shell, n/p: the other VMs)",
    "tessera: powering off (shell)",
    "tessera: VM 1 (linux) ended: stopped from the hypervisor shell",
    "tessera: all VMs ended cleanly (3 VMs)",
];

const BOOT_TESTS: &[BootTest] = &[
    BootTest {
        name: "aarch64 test guest",
        arch: "aarch64",
        platform: None,
        vm_configs: &["configs/vms/guest-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-aarch64) created",
            "tessera-guest: console ok",
            "tessera-guest: el1 ok",
            "tessera-guest: memory ok",
            "tessera-guest: abort ok (syndrome 0x96000010)",
            "tessera-guest: debug ok (breakpoint, watchpoint, single step)",
            "tessera-guest: pmu ok (cycle counter rising, ",
            "tessera-guest: psci version ok",
            "tessera-guest: all checks passed",
            "tessera: VM 1 (guest-aarch64) ended: powered off",
            "tessera: all VMs ended cleanly",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 on a GICv2 host (qemu-virt-gicv2): the hypervisor drives the GIC it finds in the device tree",
        arch: "aarch64",
        platform: Some("qemu-virt-gicv2"),
        vm_configs: &["configs/vms/guest-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-aarch64) created",
            "tessera-guest: debug ok (breakpoint, watchpoint, single step)",
            "tessera-guest: pmu ok (cycle counter rising, ",
            "tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 test guest with a GICv2 (\"vgicd-v2\" row, the host's GICV as its CPU interface): timer level, PMU interrupt",
        arch: "aarch64",
        platform: Some("qemu-virt-gicv2"),
        vm_configs: &["xtask/testdata/guest-gicv2-aarch64.toml"],
        expect: Expect::Clean(&[
            "[guest-gicv2] tessera-guest: timer level ok",
            "[guest-gicv2] tessera-guest: pmu interrupt ok (overflow raised it, clearing it lowered it)",
            "[guest-gicv2] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 Debian Linux on a GICv2 host with a GICv2, 2 vCPUs, passthrough RTC, scripted check",
        arch: "aarch64",
        platform: Some("qemu-virt-gicv2"),
        vm_configs: &["xtask/testdata/linux-check-gicv2-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (linux) created: 2 vCPU(s)",
            "[linux] tessera-linux: online cpus 2",
            "[linux] tessera-linux: timer rising ok",
            "[linux] tessera-linux: ipi rising ok",
            "[linux] tessera-linux: passthrough interrupt ok",
            "[linux] tessera-linux: check done",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 300,
    },
    BootTest {
        name: "aarch64 a VM's GIC must be its host's kind: a GICv2 VM on a GICv3 host is refused, with the reason",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-gicv2-aarch64.toml"],
        expect: Expect::Refused(&[
            "tessera: VM of xtask/testdata/guest-gicv2-aarch64.toml not created: devices.emu_devices[1] (gicc): this host's GICv3 has no GICv2 compatibility (its device tree lists no GICV frame; QEMU's GICv3 has none): give the VM a GICv3",
            "tessera: 1 of 1 VMs did not end cleanly",
        ]),
        timeout_secs: 60,
    },
    BootTest {
        name: "aarch64 a GICv3 VM on a GICv2 host is refused, with the reason",
        arch: "aarch64",
        platform: Some("qemu-virt-gicv2"),
        vm_configs: &["xtask/testdata/guest-gic-aarch64.toml"],
        expect: Expect::Refused(&[
            "tessera: VM of xtask/testdata/guest-gic-aarch64.toml not created: devices.emu_devices[0] (gicd): this host's GIC is a GICv2, which has no virtual form of the GICv3's system register CPU interface: give the VM a GICv2",
            "tessera: 1 of 1 VMs did not end cleanly",
        ]),
        timeout_secs: 60,
    },
    BootTest {
        name: "aarch64 identity-mapped RAM region (map type 1)",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-identity-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-identity): kernel.memory_regions[1]: 0x80000000..0x81000000 identity-mapped (guest address = host address)",
            "tessera: VM 1 (guest-identity) created",
            "[guest-identity] tessera-guest: RAM 0x40000000..",
            "[guest-identity] tessera-guest: RAM 0x80000000..0x81000000 (16 MiB) ok",
            "[guest-identity] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 whole-tree passthrough (\"/\") with excluded_devices: GIC and console UART emulated in their place",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-whole-tree-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-whole-tree): devices.passthrough_devices[0] (\"/\"): 38 host device nodes, 1 excluded",
            "tessera: VM 1 (guest-whole-tree): devices.passthrough_devices[0] (/pl011@9000000): the hypervisor keeps the console UART; the VM gets an emulated console UART (interrupt 33) at 0x9000000 instead",
            "tessera: VM 1 (guest-whole-tree): devices.passthrough_devices[0] (/intc@8000000): the hypervisor keeps the GIC distributor; the VM gets an emulated GICv3 at 0x8000000 instead",
            "tessera: VM 1 (guest-whole-tree) created",
            "[guest-whole-tree] tessera-guest: RAM 0x80000000..0x81000000 (16 MiB) ok",
            "[guest-whole-tree] tessera-guest: rtc ok (pl031 at 0x9010000)",
            "[guest-whole-tree] tessera-guest: timer level ok",
            "[guest-whole-tree] tessera-guest: pmu interrupt ok (overflow raised it, clearing it lowered it)",
            "[guest-whole-tree] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 config passing the GIC and the console UART through: emulated in their place",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-kept-devices-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-kept-devices): devices.passthrough_devices[0] (intc@8000000): the hypervisor keeps the GIC distributor; the VM gets an emulated GICv3 at 0x8000000 instead",
            "tessera: VM 1 (guest-kept-devices): devices.passthrough_devices[1] (pl011@9000000): the hypervisor keeps the console UART; the VM gets an emulated console UART (interrupt 33) at 0x9000000 instead",
            "[guest-kept-devices] tessera-guest: timer level ok",
            "[guest-kept-devices] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 AxVisor-style config: RAM flags 0xf, no dtb_load_addr",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-axvisor-style-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-axvisor-style): no kernel.dtb_load_addr: boot information placed at 0x40c00000",
            "tessera: VM 1 (guest-axvisor-style) created",
            "[guest-axvisor-style] tessera-guest: memory ok",
            "[guest-axvisor-style] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 test guest with a GICv3: the timer PPI is the timer's level, the PMU PPI the overflow's",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-gic-aarch64.toml"],
        expect: Expect::Clean(&[
            "[guest-gic] tessera-guest: abort ok (syndrome 0x96000010)",
            "[guest-gic] tessera-guest: timer level ok",
            "[guest-gic] tessera-guest: pmu ok (cycle counter rising, ",
            "[guest-gic] tessera-guest: pmu interrupt ok (overflow raised it, clearing it lowered it)",
            "[guest-gic] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 two VMs at once",
        arch: "aarch64",
        platform: None,
        vm_configs: &["configs/vms/two-guests-aarch64"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-a) created",
            "tessera: VM 2 (guest-b) created",
            "tessera: VM 1 (guest-a) booted on CPU 1",
            "tessera: VM 2 (guest-b) booted on CPU 2",
            "[guest-a] tessera-guest: debug ok (breakpoint, watchpoint, single step)",
            "[guest-b] tessera-guest: debug ok (breakpoint, watchpoint, single step)",
            "[guest-a] tessera-guest: pmu ok (cycle counter rising, ",
            "[guest-b] tessera-guest: pmu ok (cycle counter rising, ",
            "[guest-a] tessera-guest: all checks passed",
            "[guest-b] tessera-guest: all checks passed",
            "tessera: VM 1 (guest-a) ended: powered off",
            "tessera: VM 2 (guest-b) ended: powered off",
            "tessera: all VMs ended cleanly",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 two test guests exchange messages through a shared region; a third VM cannot read it",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/messages-aarch64"],
        expect: Expect::Clean(&[
            "[msg-a] tessera-guest: messages ok (1000 through `mailbox`, member 0 of 2, 1000 rings received, 1000 sent)",
            "[msg-b] tessera-guest: messages ok (1000 through `mailbox`, member 1 of 2, 1000 rings received, 1000 sent)",
            "[msg-snoop] tessera-guest: probe ok (0x70000000 is not there: syndrome 0x96000010)",
            "[msg-a] tessera-guest: all checks passed",
            "[msg-b] tessera-guest: all checks passed",
            "[msg-snoop] tessera-guest: all checks passed",
            "tessera: VM 1 (msg-a) shared region `mailbox`: 1000 rings received, 1000 sent",
            "tessera: VM 2 (msg-b) shared region `mailbox`: 1000 rings received, 1000 sent",
            "tessera: all VMs ended cleanly (3 VMs)",
        ]),
        timeout_secs: 180,
    },
    BootTest {
        name: "aarch64 hypervisor shell: vm list, vm stop of a guest that ignores everything, vm restart, the console moved to Linux and back, poweroff",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/shell-aarch64"],
        expect: Expect::Shell(SHELL_STEPS, SHELL_MARKERS),
        timeout_secs: 400,
    },
    BootTest {
        name: "aarch64 two VMs on one physical CPU, each woken by its own timer while the other is loaded, their timer and PMU interrupt levels switched with them",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/shared-cpu-aarch64"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (tick-a) created: 1 vCPU(s) on CPU(s) [1]",
            "tessera: VM 2 (tick-b) created: 1 vCPU(s) on CPU(s) [1]",
            "[tick-a] tessera-guest: timer level ok",
            "[tick-b] tessera-guest: timer level ok",
            "[tick-a] tessera-guest: pmu interrupt ok (overflow raised it, clearing it lowered it)",
            "[tick-b] tessera-guest: pmu interrupt ok (overflow raised it, clearing it lowered it)",
            "[tick-a] tessera-guest: neighbour ok (20 timer ticks, memory intact)",
            "[tick-b] tessera-guest: neighbour ok (20 timer ticks, memory intact)",
            "[tick-a] tessera-guest: all checks passed",
            "[tick-b] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (2 VMs)",
        ]),
        timeout_secs: 180,
    },
    BootTest {
        name: "aarch64 guest resets its VM (PSCI SYSTEM_RESET)",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-reset-aarch64.toml"],
        expect: Expect::Clean(&[
            "[guest-reset] tessera-guest: resetting the VM",
            "tessera: VM 1 (guest-reset) resetting",
            "[guest-reset] tessera-guest: reset ok",
            "[guest-reset] tessera-guest: all checks passed",
            "tessera: VM 1 (guest-reset) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "aarch64 Debian Linux, 2 vCPUs, passthrough RTC, scripted check",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/linux-check-aarch64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (linux) created: 2 vCPU(s)",
            "[linux] tessera-linux: online cpus 2",
            "[linux] tessera-linux: processors 2",
            "[linux] tessera-linux: timer rising ok",
            "[linux] tessera-linux: ipi rising ok",
            "hw perfevents: enabled with armv8_pmuv3 PMU driver",
            "rtc-pl031 9010000.pl031: registered as rtc0",
            "[linux] tessera-linux: device tree node pl031@9010000 ok",
            "[linux] tessera-linux: passthrough read ok",
            "[linux] tessera-linux: passthrough interrupt ok",
            "[linux] tessera-linux: check done",
            "tessera: VM 1 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 300,
    },
    BootTest {
        name: "aarch64 make run's Linux: shell takes typed commands",
        arch: "aarch64",
        platform: None,
        vm_configs: &["configs/vms/linux-aarch64-qemu-smp2.toml"],
        expect: Expect::Typed(
            &[
                ("tessera-linux: shell ready", "echo typed-$((6*7))\n"),
                ("typed-42", "poweroff -f\n"),
            ],
            &[
                "[linux] tessera-linux: online cpus 2",
                "[linux] typed-42",
                "tessera: VM 1 (linux) ended: powered off",
                "tessera: all VMs ended cleanly (1 VMs)",
            ],
        ),
        timeout_secs: 300,
    },
    BootTest {
        name: "aarch64 Linux beside the test guest, sending it messages through a shared region",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/linux-plus-guest-check"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (linux) created: 2 vCPU(s) on CPU(s) [0, 1]",
            "tessera: VM 2 (guest) created: 1 vCPU(s) on CPU(s) [2]",
            "[guest] tessera-guest: messages ok (3 through `mailbox`, member 1 of 2, 3 rings received, 3 sent)",
            "[guest] tessera-guest: all checks passed",
            "tessera: VM 2 (guest) ended: powered off",
            "[linux] tessera-linux: online cpus 2",
            "[linux] tessera-linux: messages ok (3 through `mailbox`, member 0 of 2)",
            "[linux] tessera-linux: check done",
            "tessera: VM 1 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (2 VMs)",
        ]),
        timeout_secs: 300,
    },
    BootTest {
        name: "riscv64 test guest",
        arch: "riscv64",
        platform: None,
        vm_configs: &["configs/vms/guest-riscv64.toml"],
        expect: Expect::Clean(&[
            "tessera: Tessera hypervisor 0.1.0 (riscv64, HS-mode)",
            "tessera: VM 1 (guest-riscv64) created",
            "[guest-riscv64] tessera-guest: console ok",
            "[guest-riscv64] tessera-guest: s-mode ok",
            "[guest-riscv64] tessera-guest: memory ok",
            "[guest-riscv64] tessera-guest: abort ok (syndrome 0x5)",
            "[guest-riscv64] tessera-guest: sbi version ok (2.0)",
            "[guest-riscv64] tessera-guest: sbi debug console ok",
            "[guest-riscv64] tessera-guest: sbi legacy console ok",
            "[guest-riscv64] tessera-guest: sbi hart masks ok",
            "[guest-riscv64] tessera-guest: hsm suspend ok (retentive, non-retentive)",
            "[guest-riscv64] tessera-guest: timer level ok",
            "[guest-riscv64] tessera-guest: all checks passed",
            "tessera: VM 1 (guest-riscv64) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "riscv64 identity-mapped RAM region (map type 1)",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-identity-riscv64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-identity): kernel.memory_regions[1]: 0xc0000000..0xc1000000 identity-mapped (guest address = host address)",
            "tessera: VM 1 (guest-identity) created",
            "[guest-identity] tessera-guest: RAM 0x80000000..",
            "[guest-identity] tessera-guest: RAM 0xc0000000..0xc1000000 (16 MiB) ok",
            "[guest-identity] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "riscv64 config passing the PLIC and the console UART through: emulated in their place",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-kept-devices-riscv64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-kept-devices): devices.passthrough_devices[0] (PLIC@c000000): the hypervisor keeps the PLIC; the VM gets an emulated PLIC at 0xc000000 instead",
            "tessera: VM 1 (guest-kept-devices): devices.passthrough_devices[1] (UART@10000000): the hypervisor keeps the console UART; the VM gets an emulated console UART (interrupt 10) at 0x10000000 instead",
            "[guest-kept-devices] tessera-guest: sbi debug console ok",
            "[guest-kept-devices] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "riscv64 AxVisor-style config: RAM flags 0xf, no dtb_load_addr",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-axvisor-style-riscv64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-axvisor-style): no kernel.dtb_load_addr: boot information placed at 0x80c00000",
            "tessera: VM 1 (guest-axvisor-style) created",
            "[guest-axvisor-style] tessera-guest: memory ok",
            "[guest-axvisor-style] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "riscv64 two VMs at once",
        arch: "riscv64",
        platform: None,
        vm_configs: &["configs/vms/two-guests-riscv64"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-a) booted on CPU 1",
            "tessera: VM 2 (guest-b) booted on CPU 2",
            "[guest-a] tessera-guest: sbi debug console ok",
            "[guest-b] tessera-guest: sbi debug console ok",
            "[guest-a] tessera-guest: timer level ok",
            "[guest-b] tessera-guest: timer level ok",
            "[guest-a] tessera-guest: all checks passed",
            "[guest-b] tessera-guest: all checks passed",
            "tessera: VM 1 (guest-a) ended: powered off",
            "tessera: VM 2 (guest-b) ended: powered off",
            "tessera: all VMs ended cleanly (2 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "riscv64 two test guests exchange messages through a shared region; a third VM cannot read it",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/messages-riscv64"],
        expect: Expect::Clean(&[
            "[msg-a] tessera-guest: messages ok (1000 through `mailbox`, member 0 of 2, 1000 rings received, 1000 sent)",
            "[msg-b] tessera-guest: messages ok (1000 through `mailbox`, member 1 of 2, 1000 rings received, 1000 sent)",
            "[msg-snoop] tessera-guest: probe ok (0x90000000 is not there: syndrome 0x5)",
            "[msg-a] tessera-guest: all checks passed",
            "[msg-b] tessera-guest: all checks passed",
            "[msg-snoop] tessera-guest: all checks passed",
            "tessera: VM 1 (msg-a) shared region `mailbox`: 1000 rings received, 1000 sent",
            "tessera: VM 2 (msg-b) shared region `mailbox`: 1000 rings received, 1000 sent",
            "tessera: all VMs ended cleanly (3 VMs)",
        ]),
        timeout_secs: 180,
    },
    BootTest {
        name: "riscv64 hypervisor shell: vm list, vm stop of a guest that ignores everything, vm restart, the console moved to Linux and back, poweroff",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/shell-riscv64"],
        expect: Expect::Shell(SHELL_STEPS, SHELL_MARKERS),
        timeout_secs: 400,
    },
    BootTest {
        name: "riscv64 two VMs on one physical CPU, each woken by its own timer while the other is loaded",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/shared-cpu-riscv64"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (tick-a) created: 1 vCPU(s) on CPU(s) [1]",
            "tessera: VM 2 (tick-b) created: 1 vCPU(s) on CPU(s) [1]",
            "[tick-a] tessera-guest: neighbour ok (20 timer ticks, memory intact)",
            "[tick-b] tessera-guest: neighbour ok (20 timer ticks, memory intact)",
            "[tick-a] tessera-guest: all checks passed",
            "[tick-b] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (2 VMs)",
        ]),
        timeout_secs: 180,
    },
    BootTest {
        name: "riscv64 test guest with two harts: a suspended hart is SUSPENDED to the other",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-smp-riscv64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-smp) created: 2 vCPU(s) on CPU(s) [0, 1]",
            "[guest-smp] tessera-guest: hsm suspend ok (retentive, non-retentive)",
            "[guest-smp] tessera-guest: hsm status ok (a suspended hart is SUSPENDED to another)",
            "[guest-smp] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "riscv64 guest resets its VM (SBI system reset)",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-reset-riscv64.toml"],
        expect: Expect::Clean(&[
            "[guest-reset] tessera-guest: resetting the VM",
            "tessera: VM 1 (guest-reset) resetting",
            "[guest-reset] tessera-guest: reset ok",
            "[guest-reset] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "riscv64 Debian Linux, 2 vCPUs, scripted check",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/linux-check-riscv64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (linux) created: 2 vCPU(s)",
            "[linux] tessera-linux: online cpus 2",
            "[linux] tessera-linux: processors 2",
            "[linux] tessera-linux: timer rising ok",
            "[linux] tessera-linux: ipi rising ok",
            "[linux] tessera-linux: check done",
            "tessera: VM 1 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 300,
    },
    BootTest {
        name: "riscv64 make run's Linux: shell takes typed commands",
        arch: "riscv64",
        platform: None,
        vm_configs: &["configs/vms/linux-riscv64-qemu-smp2.toml"],
        expect: Expect::Typed(
            &[
                ("tessera-linux: shell ready", "echo typed-$((6*7))\n"),
                ("typed-42", "poweroff -f\n"),
            ],
            &[
                "[linux] tessera-linux: online cpus 2",
                "[linux] typed-42",
                "tessera: VM 1 (linux) ended: powered off",
                "tessera: all VMs ended cleanly (1 VMs)",
            ],
        ),
        timeout_secs: 300,
    },
    BootTest {
        name: "riscv64 Linux beside the test guest, answering its messages through a shared region",
        arch: "riscv64",
        platform: None,
        vm_configs: &["xtask/testdata/linux-plus-guest-check-riscv64"],
        expect: Expect::Clean(&[
            "tessera: VM 2 (linux) created: 2 vCPU(s) on CPU(s) [0, 1]",
            "tessera: VM 1 (guest) created: 1 vCPU(s) on CPU(s) [2]",
            "[guest] tessera-guest: messages ok (3 through `mailbox`, member 0 of 2, 3 rings received, 3 sent)",
            "[guest] tessera-guest: all checks passed",
            "tessera: VM 1 (guest) ended: powered off",
            "[linux] tessera-linux: online cpus 2",
            "[linux] tessera-linux: messages ok (3 through `mailbox`, member 1 of 2)",
            "[linux] tessera-linux: check done",
            "tessera: VM 2 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (2 VMs)",
        ]),
        timeout_secs: 300,
    },
    BootTest {
        name: "invalid config is refused before QEMU starts",
        arch: "aarch64",
        platform: None,
        vm_configs: &["xtask/testdata/unknown-field.toml"],
        expect: Expect::BuildError(&["xtask/testdata/unknown-field.toml", "kernel.entry_pointt"]),
        timeout_secs: 60,
    },
    BootTest {
        name: "a shared region no other VM declares is refused before QEMU starts",
        arch: "aarch64",
        platform: None,
        vm_configs: &[
            "xtask/testdata/messages-aarch64/guest-a.toml",
            "xtask/testdata/messages-aarch64/guest-c.toml",
        ],
        expect: Expect::BuildError(&[
            "xtask/testdata/messages-aarch64/guest-a.toml",
            "devices.shared_regions[0][0]",
            "region `mailbox` is declared by no other VM",
        ]),
        timeout_secs: 60,
    },
    BootTest {
        name: "x86_64 test guest",
        arch: "x86_64",
        platform: None,
        vm_configs: &["configs/vms/guest-x86_64.toml"],
        expect: Expect::Clean(&[
            "tessera: Tessera hypervisor 0.1.0 (x86_64, AMD SVM with nested paging)",
            "tessera: VM 1 (guest-x86_64) created",
            "[guest-x86_64] tessera-guest: console ok",
            "[guest-x86_64] tessera-guest: ring 0 ok",
            "[guest-x86_64] tessera-guest: RAM 0x100000..0x1000000 (15 MiB)",
            "[guest-x86_64] tessera-guest: memory ok",
            "[guest-x86_64] tessera-guest: open bus ok (past RAM reads all ones, writes dropped)",
            "[guest-x86_64] tessera-guest: vmmcall version ok (1.0)",
            "[guest-x86_64] tessera-guest: apic ok (timer interrupt, a self IPI held back by the task priority until it dropped)",
            "[guest-x86_64] tessera-guest: all checks passed",
            "tessera: VM 1 (guest-x86_64) ended: powered off",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "x86_64 test guest as a multiboot kernel (AxVisor-style config, enable_bios)",
        arch: "x86_64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-multiboot-x86_64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-multiboot): multiboot kernel entered at 0x200",
            "(kernel.entry_point 0x8000 is not used: Tessera loads the kernel itself)",
            "tessera: VM 1 (guest-multiboot) created",
            "[guest-multiboot] tessera-guest: multiboot ok (eax 0x2badb002, information at 0x10000, command line \"tessera.multiboot-check\")",
            "[guest-multiboot] tessera-guest: memory ok",
            "[guest-multiboot] tessera-guest: open bus ok (past RAM reads all ones, writes dropped)",
            "[guest-multiboot] tessera-guest: apic ok (timer interrupt, a self IPI held back by the task priority until it dropped)",
            "[guest-multiboot] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "x86_64 multiboot kernel in AxVisor's older spelling (bios_path, no protocol, no dtb_load_addr)",
        arch: "x86_64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-multiboot-bios-x86_64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-multiboot-bios): no kernel.dtb_load_addr: boot information placed at 0xc00000",
            "tessera: VM 1 (guest-multiboot-bios): kernel.bios_path \"axvm-bios.bin\" is not run: Tessera loads and enters the multiboot kernel as that BIOS would",
            "[guest-multiboot-bios] tessera-guest: multiboot ok (eax 0x2badb002, information at 0xc00000, command line \"\")",
            "[guest-multiboot-bios] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "x86_64 two VMs at once",
        arch: "x86_64",
        platform: None,
        vm_configs: &["configs/vms/two-guests-x86_64"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (guest-a) booted on CPU 1",
            "tessera: VM 2 (guest-b) booted on CPU 2",
            "[guest-a] tessera-guest: all checks passed",
            "[guest-b] tessera-guest: all checks passed",
            "tessera: VM 1 (guest-a) ended: powered off",
            "tessera: VM 2 (guest-b) ended: powered off",
            "tessera: all VMs ended cleanly (2 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "x86_64 guest resets its VM (reset control port 0xcf9)",
        arch: "x86_64",
        platform: None,
        vm_configs: &["xtask/testdata/guest-reset-x86_64.toml"],
        expect: Expect::Clean(&[
            "[guest-reset] tessera-guest: resetting the VM",
            "tessera: VM 1 (guest-reset) resetting",
            "[guest-reset] tessera-guest: reset ok",
            "[guest-reset] tessera-guest: all checks passed",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 120,
    },
    BootTest {
        name: "x86_64 Debian Linux, PIC mode (acpi=off, one vCPU), scripted check",
        arch: "x86_64",
        platform: None,
        vm_configs: &["xtask/testdata/linux-check-x86_64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (linux) created: 1 vCPU(s)",
            "serial8250: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A",
            "rtc_cmos rtc_cmos: registered as rtc0",
            "[linux] tessera-linux: online cpus 1",
            "[linux] tessera-linux: processors 1",
            "[linux] tessera-linux: timer rising ok",
            "[linux] tessera-linux: check done",
            "reboot: System halted",
            "tessera: VM 1 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 300,
    },
    BootTest {
        name: "x86_64 Debian Linux, 2 vCPUs with ACPI (MADT, I/O APIC, PM timer), scripted check",
        arch: "x86_64",
        platform: None,
        vm_configs: &["xtask/testdata/linux-check-smp2-x86_64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (linux) created: 2 vCPU(s)",
            "ACPI: PM-Timer IO Port: 0x608",
            "IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23",
            "smp: Brought up 1 node, 2 CPUs",
            "[linux] tessera-linux: online cpus 2",
            "[linux] tessera-linux: processors 2",
            "[linux] tessera-linux: timer rising ok",
            "[linux] tessera-linux: ipi rising ok",
            "[linux] tessera-linux: check done",
            "reboot: Power down",
            "tessera: VM 1 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 400,
    },
    BootTest {
        name: "x86_64 Debian Linux, 4 vCPUs with ACPI (MADT, I/O APIC, PM timer), scripted check",
        arch: "x86_64",
        platform: None,
        vm_configs: &["xtask/testdata/linux-check-smp4-x86_64.toml"],
        expect: Expect::Clean(&[
            "tessera: VM 1 (linux) created: 4 vCPU(s)",
            "ACPI: PM-Timer IO Port: 0x608",
            "IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23",
            "smp: Brought up 1 node, 4 CPUs",
            "[linux] tessera-linux: online cpus 4",
            "[linux] tessera-linux: processors 4",
            "[linux] tessera-linux: timer rising ok",
            "[linux] tessera-linux: ipi rising ok",
            "[linux] tessera-linux: check done",
            "reboot: Power down",
            "tessera: VM 1 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]),
        timeout_secs: 400,
    },
    BootTest {
        name: "x86_64 make run's Linux: shell takes typed commands",
        arch: "x86_64",
        platform: None,
        vm_configs: &["configs/vms/linux-x86_64-qemu-smp1.toml"],
        expect: Expect::Typed(
            &[
                ("tessera-linux: shell ready", "echo typed-$((6*7))\n"),
                ("typed-42", "poweroff -f\n"),
            ],
            &[
                "[linux] tessera-linux: online cpus 1",
                "[linux] typed-42",
                "tessera: VM 1 (linux) ended: powered off",
                "tessera: all VMs ended cleanly (1 VMs)",
            ],
        ),
        timeout_secs: 300,
    },
];

/// Tally of passed and failed tests.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Each failure's name and the first line of its reason, for the summary.
    failures: Vec<String>,
}

impl Tally {
    /// Prints the summary, the last thing printed so that the end of a long log says
    /// what failed: a failed run exits here rather than returning an error (whose
    /// backtrace would follow).
    fn finish(&self) -> Result<()> {
        for failure in &self.failures {
            println!("failed: {failure}");
        }
        println!("total: {} passed, {} failed", self.passed, self.failed);
        if self.failed > 0 {
            std::process::exit(1);
        }
        Ok(())
    }

    fn record(&mut self, name: &str, result: Result<()>, started: Instant) {
        let secs = started.elapsed().as_secs_f32();
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("PASS {name} ({secs:.1} s)");
            }
            Err(err) => {
                self.failed += 1;
                let reason = format!("{err:#}");
                println!("FAIL {name} ({secs:.1} s): {reason}");
                let first = reason.lines().next().unwrap_or("");
                self.failures.push(format!("{name}: {first}"));
            }
        }
    }
}

/// Architectures with boot tests, in the order they run.
const ARCHES: &[&str] = &["aarch64", "riscv64", "x86_64"];

/// `arch` alone, or every architecture with boot tests.
pub fn arches(arch: Option<&str>) -> Vec<&str> {
    arch.map_or_else(|| ARCHES.to_vec(), |arch| vec![arch])
}

/// Runs everything (the boot tests of `arch`, or of every architecture), or with
/// `only` just the boot tests whose name holds it; fails when any test failed.
pub fn run_all(arch: Option<&str>, host_only: bool, only: Option<&str>) -> Result<()> {
    let arches = arches(arch);
    let platforms = arches
        .iter()
        .map(|arch| Platform::load(arch))
        .collect::<Result<Vec<_>>>()?;
    for platform in &platforms {
        setup::ensure_rust(&platform.target)?;
    }
    let mut tally = Tally::default();
    if let Some(only) = only {
        run_only(&platforms, only, &mut tally)?;
        return tally.finish();
    }
    let started = Instant::now();
    tally.record(
        "lint (fmt, clippy host + bare-metal)",
        workspace::lint(),
        started,
    );
    let (unit_passed, unit_failed) = run_unit_tests()?;
    tally.passed += unit_passed;
    tally.failed += unit_failed;
    if unit_failed > 0 {
        tally.failures.push(format!(
            "cargo test: {unit_failed} failed (see `FAILED` above)"
        ));
    }
    let started = Instant::now();
    tally.record(
        "fuzz targets, 1 s each, no panic",
        crate::fuzz::run(1.0, None),
        started,
    );
    for platform in platforms.iter().filter(|_| !host_only) {
        setup::ensure_qemu(platform)?;
        run_boot_tests(platform, "", &mut tally);
        // Every hostile case must be contained, with the neighbour intact.
        for variant in core::iter::once(None).chain(variants_of(&platform.arch)) {
            if !crate::hostile::covers(&platform.arch) {
                break;
            }
            let started = Instant::now();
            let on = variant.map_or(String::new(), |v| format!(" on {v}"));
            let name = format!("{} hostile guests contained{on}", platform.arch);
            println!("---- {name} ----");
            let hostile =
                crate::hostile::run_arch(&platform.arch, variant).and_then(|failed| match failed {
                    0 => Ok(()),
                    n => bail!("{n} hostile case(s) not contained"),
                });
            tally.record(&name, hostile, started);
        }
        // The benchmarks run once to prove they work; nothing is asserted about speed.
        for variant in core::iter::once(None).chain(variants_of(&platform.arch)) {
            if !crate::bench::covers(&platform.arch) {
                break;
            }
            let started = Instant::now();
            let on = variant.map_or(String::new(), |v| format!(" on {v}"));
            let name = format!("{} benchmarks run and repeat{on}", platform.arch);
            println!("---- {name} ----");
            tally.record(
                &name,
                crate::bench::bench_arch(&platform.arch, variant),
                started,
            );
        }
    }
    tally.finish()
}

/// The boot tests (disk ones too) of `platforms` whose name holds `only`.
fn run_only(platforms: &[Platform], only: &str, tally: &mut Tally) -> Result<()> {
    for platform in platforms {
        setup::ensure_qemu(platform)?;
        run_boot_tests(platform, only, tally);
    }
    Ok(())
}

/// The boot tests (disk ones too) of `platform` whose name holds `only`.
fn run_boot_tests(platform: &Platform, only: &str, tally: &mut Tally) {
    for test in BOOT_TESTS
        .iter()
        .filter(|t| t.arch == platform.arch && t.name.contains(only))
    {
        let started = Instant::now();
        println!("---- boot test: {} ----", test.name);
        tally.record(test.name, run_boot_test(test), started);
    }
    for test in disk_tests(&platform.arch)
        .into_iter()
        .filter(|t| t.name.contains(only))
    {
        let started = Instant::now();
        println!("---- boot test: {} ----", test.name);
        tally.record(&test.name, run_disk_test(platform, &test), started);
    }
}

/// `cargo test` over the host-testable crates; returns the summed pass/fail counts.
fn run_unit_tests() -> Result<(usize, usize)> {
    let out = Command::new("cargo")
        .args(["test", "--color", "never"])
        .stderr(Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let (mut passed, mut failed) = (0, 0);
    for line in text.lines().filter(|l| l.starts_with("test result:")) {
        passed += count_before(line, " passed");
        failed += count_before(line, " failed");
    }
    if !out.status.success() && failed == 0 {
        failed = 1;
        println!("FAIL cargo test did not finish");
    }
    Ok((passed, failed))
}

/// The number just before `word` in a `test result:` line.
fn count_before(line: &str, word: &str) -> usize {
    line.split(word)
        .next()
        .and_then(|head| head.rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn run_boot_test(test: &BootTest) -> Result<()> {
    let features = match test.expect {
        Expect::Shell(..) => Vec::new(),
        _ => vec!["power-off-when-done".to_string()],
    };
    let args = BuildArgs {
        arch: test.arch.to_string(),
        platform: test.platform.map(str::to_string),
        vm_configs: test.vm_configs.iter().map(PathBuf::from).collect(),
        log: "info".to_string(),
        features,
        disk: None,
    };
    match (&test.expect, build::build(&args)) {
        (Expect::BuildError(pieces), Err(err)) => check_build_error(pieces, &format!("{err:#}")),
        (Expect::BuildError(_), Ok(_)) => bail!("the build accepted an invalid config"),
        (
            Expect::Clean(_) | Expect::Typed(..) | Expect::Shell(..) | Expect::Refused(_),
            Err(err),
        ) => Err(err),
        (Expect::Refused(markers), Ok(built)) => {
            let outcome = qemu::boot(
                &built,
                Duration::from_secs(test.timeout_secs),
                Typing::Nothing,
            )?;
            outcome.powered_off()?;
            all_markers_shown(markers, &outcome.output)
        }
        (Expect::Clean(markers), Ok(built)) => {
            check_clean_boot(&built, markers, test.timeout_secs, Typing::Nothing)
        }
        (Expect::Typed(steps, markers) | Expect::Shell(steps, markers), Ok(built)) => {
            check_clean_boot(&built, markers, test.timeout_secs, Typing::Script(steps))
        }
    }
}

/// The refusal must name every piece (the file and the field).
fn check_build_error(pieces: &[&str], error: &str) -> Result<()> {
    for piece in pieces {
        if !error.contains(piece) {
            bail!("the error does not name `{piece}`:\n{error}");
        }
    }
    println!("refused as expected:\n{error}");
    Ok(())
}

fn check_clean_boot(
    built: &Built,
    markers: &[&str],
    timeout_secs: u64,
    typing: Typing,
) -> Result<()> {
    let outcome = qemu::boot(built, Duration::from_secs(timeout_secs), typing)?;
    all_markers_shown(markers, &outcome.output)?;
    outcome.into_result()
}

/// Fails naming the first of `markers` the console `output` lacks.
fn all_markers_shown(markers: &[&str], output: &str) -> Result<()> {
    match markers.iter().find(|m| !output.contains(*m)) {
        Some(marker) => bail!("marker `{marker}` missing on the console"),
        None => Ok(()),
    }
}

/// Architectures whose hypervisor reads a virtio-blk disk, and those whose Linux
/// guest is also booted from the disk.
const DISK_ARCHES: &[&str] = &["aarch64", "riscv64", "x86_64"];
const LINUX_ARCHES: &[&str] = &["aarch64", "riscv64", "x86_64"];
/// Architectures with the hypervisor shell's disk test (x86_64 has no shell test
/// configs yet).
const SHELL_ARCHES: &[&str] = &["aarch64", "riscv64"];

/// A boot test with a FAT32 disk: the disk is written first, then the hypervisor is
/// built with the `fs` feature and QEMU attaches the disk.
struct DiskTest {
    name: String,
    vm_configs: Vec<PathBuf>,
    /// Files put on the disk: (host file, path on the disk).
    files: Vec<(PathBuf, String)>,
    /// VM configs put in the disk's `/vms`.
    disk_configs: Vec<PathBuf>,
    markers: Vec<String>,
    /// Every VM must end cleanly (else QEMU must only power off by itself).
    clean: bool,
    /// The disk holds the Debian Linux guest (fetched first when missing).
    linux: bool,
    /// A hypervisor-shell test: the build stays up when its VMs stop, these
    /// (trigger, text) steps are typed, and every free-memory figure `mem` prints
    /// must be the same.
    shell: Option<Vec<(String, String)>>,
}

/// Times `vm create` then `vm delete` of the same config in the shell disk test.
const CREATE_DELETE_ROUNDS: usize = 20;

/// The shell disk test's typing: `mem`, then `vm create` of a config on the disk
/// (refused a second time while the VM exists), its guest's checks, `vm delete`,
/// [`CREATE_DELETE_ROUNDS`] times, then `mem` again, a refused delete of a running
/// VM, and `poweroff`.
fn create_delete_steps() -> Vec<(String, String)> {
    let create = "vm create /spare/disk-guest.toml\r";
    let mut steps = vec![
        ("tessera: VM 3 (spinner) booted", "\x18s"),
        ("tessera: console: the hypervisor shell", "mem\r"),
        ("frames of 4 KiB)", create),
        ("VM 2 (disk-guest) ended: powered off", create),
        ("VM id 2 is already taken", "vm create /spare/none.toml\r"),
        ("no \"none.toml\" in /spare", "vm delete 2\r"),
    ];
    for round in 0..CREATE_DELETE_ROUNDS {
        if round > 0 {
            steps.push(("VM 2 (disk-guest) ended: powered off", "vm delete 2\r"));
        }
        let next = if round + 1 < CREATE_DELETE_ROUNDS {
            create
        } else {
            "mem\r"
        };
        steps.push(("VM 2 (disk-guest) deleted", next));
    }
    steps.extend([
        ("frames of 4 KiB)", "vm delete 3\r"),
        ("stop it first", "poweroff\r"),
    ]);
    steps
        .into_iter()
        .map(|(trigger, text)| (trigger.to_string(), text.to_string()))
        .collect()
}

/// The disk boot tests of `arch`: the test guest from the disk beside a VM whose
/// config is on the disk, and a VM whose image is missing beside a healthy one.
fn disk_tests(arch: &str) -> Vec<DiskTest> {
    if !DISK_ARCHES.contains(&arch) {
        return Vec::new();
    }
    let guest = PathBuf::from(format!("target/guests/{arch}/test-guest.bin"));
    let testdata = |name: &str| PathBuf::from(format!("xtask/testdata/{name}"));
    let strings = |items: &[&str]| items.iter().map(ToString::to_string).collect();
    let mut tests = vec![
        DiskTest {
            name: format!("{arch} test guest and a VM config from the FAT32 disk"),
            vm_configs: vec![testdata(&format!("fs-guest-{arch}.toml"))],
            files: vec![(guest.clone(), "/images/test-guest.bin".to_string())],
            disk_configs: vec![testdata(&format!("disk-guest-{arch}.toml"))],
            markers: strings(&[
                "tessera: disk: FAT32 volume of 64 MiB on virtio-blk (virtio-",
                "tessera: VM 1 (fs-guest) created",
                "tessera: VM 2 (disk-guest) created",
                "[fs-guest] tessera-guest: memory ok",
                "[fs-guest] tessera-guest: all checks passed",
                "[disk-guest] tessera-guest: all checks passed",
                "tessera: all VMs ended cleanly (2 VMs)",
            ]),
            clean: true,
            linux: false,
            shell: None,
        },
        DiskTest {
            name: format!("{arch} VM whose image is missing from the disk, beside a healthy VM"),
            vm_configs: vec![testdata(&format!("fs-missing-image-{arch}"))],
            files: vec![(guest.clone(), "/images/test-guest.bin".to_string())],
            disk_configs: Vec::new(),
            markers: strings(&[
                "not created: VM 1 (missing-image): /images/not-there.bin: no \"not-there.bin\" in /images",
                "tessera: VM 2 (healthy) created",
                "[healthy] tessera-guest: all checks passed",
                "tessera: VM 2 (healthy) ended: powered off",
                "tessera: 1 of 2 VMs did not end cleanly",
            ]),
            clean: false,
            linux: false,
            shell: None,
        },
    ];
    if SHELL_ARCHES.contains(&arch) {
        tests.push(DiskTest {
                name: format!(
                    "{arch} hypervisor shell: vm create of a config on the disk (a taken id and a missing file refused), then vm delete and vm create {CREATE_DELETE_ROUNDS} times with the free memory unchanged"
                ),
                vm_configs: vec![testdata(&format!("shell-{arch}/spinner.toml"))],
                files: vec![
                    (guest, "/images/test-guest.bin".to_string()),
                    (
                        testdata(&format!("disk-guest-{arch}.toml")),
                        "/spare/disk-guest.toml".to_string(),
                    ),
                ],
                disk_configs: Vec::new(),
                markers: strings(&[
                    "tessera: VM 2 (disk-guest) created: 1 vCPU(s) on CPU(s) [1]",
                    "tessera: VM 2 (disk-guest) started (vm create /spare/disk-guest.toml)",
                    "tessera: vm create /spare/disk-guest.toml: not created: base.id: VM id 2 is already taken by VM 2 (disk-guest)",
                    "tessera: vm create /spare/none.toml: not created: disk:/spare/none.toml: cannot read the VM config: no \"none.toml\" in /spare",
                    "[disk-guest] tessera-guest: all checks passed",
                    "tessera: VM 2 (disk-guest): delete asked",
                    "tessera: VM 2 (disk-guest) deleted: its memory, CPUs and interrupts are given back",
                    "tessera: vm delete 3: VM 3 (spinner): it is running: stop it first",
                    "tessera: powering off (shell)",
                    "tessera: all VMs ended cleanly (1 VMs)",
                ]),
                clean: true,
                linux: false,
                shell: Some(create_delete_steps()),
            });
    }
    if LINUX_ARCHES.contains(&arch) {
        // x86_64's Linux is a bzImage with 1 vCPU (PIC mode: no IPIs).
        let (kernel, cpus) = if arch == "x86_64" {
            ("bzImage", 1)
        } else {
            ("Image", 2)
        };
        let mut markers = vec![
            format!("tessera: VM 1 (linux) created: {cpus} vCPU(s)"),
            format!("[linux] tessera-linux: online cpus {cpus}"),
            format!("[linux] tessera-linux: processors {cpus}"),
            "[linux] tessera-linux: timer rising ok".to_string(),
        ];
        if cpus > 1 {
            markers.push("[linux] tessera-linux: ipi rising ok".to_string());
        }
        markers.extend(strings(&[
            "[linux] tessera-linux: check done",
            "tessera: VM 1 (linux) ended: powered off",
            "tessera: all VMs ended cleanly (1 VMs)",
        ]));
        tests.push(DiskTest {
            name: format!("{arch} Debian Linux from the FAT32 disk, scripted check"),
            vm_configs: vec![testdata(&format!("linux-fs-check-{arch}.toml"))],
            files: vec![
                (
                    PathBuf::from(format!("target/guests/{arch}/linux/{kernel}")),
                    format!("/linux/{kernel}"),
                ),
                (
                    PathBuf::from(format!("target/guests/{arch}/linux/initramfs.cpio")),
                    "/linux/initramfs.cpio".to_string(),
                ),
            ],
            disk_configs: Vec::new(),
            markers,
            clean: true,
            linux: true,
            shell: None,
        });
    }
    tests
}

fn run_disk_test(platform: &Platform, test: &DiskTest) -> Result<()> {
    // The disk holds the test guest (and Linux): have them before writing the disk.
    build::build_guests(platform)?;
    if test.linux {
        crate::guest_fetch::ensure_linux(&platform.arch)?;
    }
    let disk = PathBuf::from(format!("target/disk-tests/{}.img", platform.arch));
    if let Some(dir) = disk.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::disk_img::run(&crate::disk_img::Args {
        out: disk.clone(),
        size_mib: None,
        add: test
            .files
            .iter()
            .map(|(host, path)| crate::disk_img::Addition {
                host: host.clone(),
                disk: path.clone(),
            })
            .collect(),
        configs: test.disk_configs.clone(),
        new: true,
    })?;
    let mut features = vec!["fs".to_string()];
    let (typing, timeout) = match &test.shell {
        // The steps live as long as the run: leaked, as `Typing` wants them static.
        Some(steps) => {
            let steps: Vec<(&'static str, &'static str)> = steps
                .iter()
                .map(|(trigger, text)| (leak(trigger), leak(text)))
                .collect();
            (Typing::Script(Vec::leak(steps)), 600)
        }
        None => {
            features.push("power-off-when-done".to_string());
            (Typing::Nothing, 120)
        }
    };
    let built = build::build(&BuildArgs {
        arch: platform.arch.clone(),
        platform: None,
        vm_configs: test.vm_configs.clone(),
        log: "info".to_string(),
        features,
        disk: Some(disk),
    })?;
    let outcome = qemu::boot(&built, Duration::from_secs(timeout), typing)?;
    if let Some(marker) = test
        .markers
        .iter()
        .find(|m| !outcome.output.contains(m.as_str()))
    {
        bail!("marker `{marker}` missing on the console");
    }
    if test.shell.is_some() {
        same_free_memory(&outcome.output)?;
    }
    if test.clean {
        outcome.into_result()
    } else {
        outcome.powered_off()
    }
}

/// A string that lives for the rest of the run.
fn leak(text: &str) -> &'static str {
    String::leak(text.to_string())
}

/// Every free-memory figure the shell's `mem` printed (at least two) is the same.
fn same_free_memory(output: &str) -> Result<()> {
    let figures: Vec<&str> = output
        .lines()
        .filter_map(|line| line.split("tessera: free memory ").nth(1))
        .map(str::trim)
        .collect();
    match figures.as_slice() {
        [first, rest @ ..] if !rest.is_empty() && rest.iter().all(|f| f == first) => {
            println!("free memory the same {} times: {first}", figures.len());
            Ok(())
        }
        _ => bail!("the free-memory figures differ or are missing: {figures:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{count_before, same_free_memory};

    #[test]
    fn free_memory_figures_must_match() {
        let same = "tessera: free memory 10 KiB (2 frames of 4 KiB)\r\nx\ntessera: free memory 10 KiB (2 frames of 4 KiB)\n";
        assert!(same_free_memory(same).is_ok());
        let leaked = "tessera: free memory 10 KiB (2 frames of 4 KiB)\ntessera: free memory 6 KiB (1 frames of 4 KiB)\n";
        assert!(same_free_memory(leaked).is_err());
        assert!(same_free_memory("tessera: free memory 10 KiB\n").is_err());
    }

    #[test]
    fn counts_from_cargo_summary() {
        let line = "test result: ok. 17 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(count_before(line, " passed"), 17);
        assert_eq!(count_before(line, " failed"), 2);
    }
}
