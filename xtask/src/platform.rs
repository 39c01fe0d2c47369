//! Platform descriptions (`configs/platforms/*.toml`): how to start QEMU for an
//! architecture and the board facts the hypervisor is built with.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::PathBuf;

/// One platform file.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Architecture name (`aarch64`, `riscv64`, `x86_64`).
    pub arch: String,
    /// Rust target of the hypervisor and the test guests.
    pub target: String,
    /// How QEMU is started.
    pub qemu: Qemu,
    /// Physical memory layout.
    pub memory: Memory,
    /// The hypervisor's console UART.
    pub console: Console,
    /// The PLIC (riscv64).
    #[serde(default)]
    pub plic: Option<Plic>,
    /// The ACLINT supervisor software-interrupt device (riscv64), if the machine has one.
    #[serde(default)]
    pub sswi: Option<Sswi>,
    /// The interrupt controllers of a PC (x86_64).
    #[serde(default)]
    pub x86: Option<X86>,
    /// How `cargo xtask bench` boots the benchmark guest natively.
    #[serde(default)]
    pub bench: Option<Bench>,
    /// The VM config `make run` boots on this platform when none is given (default:
    /// the architecture's Linux config).
    #[serde(default)]
    pub default_vm_config: Option<PathBuf>,
}

/// The APIC windows of a PC.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct X86 {
    /// I/O APIC base.
    pub ioapic: u64,
    /// Local APIC base (xAPIC mode).
    pub lapic: u64,
    /// PCIe enhanced configuration window (256 MiB) the firmware sets up.
    pub ecam: u64,
}

/// The native baseline of the benchmarks: QEMU booting the guest directly.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Bench {
    /// `-machine` value without virtualization extensions.
    pub native_machine: String,
    /// `-cpu` value.
    pub native_cpu: String,
    /// The Linux VM config whose boot `linux_boot` measures, natively and under
    /// Tessera (absent: no `linux_boot` figure on this platform).
    #[serde(default)]
    pub linux_vm_config: Option<PathBuf>,
    /// The folder of VM configs of the doorbell figures, two test guests sharing a
    /// region (absent: no doorbell figures on this platform).
    #[serde(default)]
    pub doorbell_vm_configs: Option<PathBuf>,
}

/// QEMU command line pieces.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    /// QEMU program name.
    pub binary: String,
    /// Debian package providing it.
    pub package: String,
    /// `-machine` value.
    pub machine: String,
    /// `-cpu` value.
    pub cpu: String,
    /// Number of physical CPUs.
    pub smp: u32,
    /// RAM size in MiB.
    pub memory_mib: u64,
    /// Further arguments (such as `-bios default` for the firmware).
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// The QEMU device that attaches the FAT32 disk (default `virtio-blk-device`,
    /// a virtio-mmio transport).
    #[serde(default)]
    pub disk_device: Option<String>,
}

/// Physical memory of the board.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// First RAM address.
    pub ram_base: u64,
    /// Address the hypervisor image is loaded and linked at.
    pub load_addr: u64,
}

/// Console UART.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// MMIO base of the UART.
    pub uart_base: u64,
    /// The UART's interrupt (INTID of its SPI).
    pub uart_irq: u32,
}

/// PLIC layout.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Plic {
    /// Base of the register window.
    pub base: u64,
}

/// ACLINT SSWI layout: one SETSSIP word per hart.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Sswi {
    /// Base of the register window (hart `n`'s SETSSIP at `base + 4 * n`).
    pub base: u64,
}

impl Platform {
    /// Loads the one platform file `configs/platforms/qemu-<machine>-<arch>.toml`.
    pub fn load(arch: &str) -> Result<Self> {
        Self::read(&Self::path_of(arch)?, arch)
    }

    /// Loads platform variant `name` of `arch`
    /// (`configs/platforms/variants/<name>-<arch>.toml`), or the default platform of
    /// `arch` when `name` is `None`.
    pub fn load_variant(arch: &str, name: Option<&str>) -> Result<Self> {
        let Some(name) = name else {
            return Self::load(arch);
        };
        let path = PathBuf::from(format!("configs/platforms/variants/{name}-{arch}.toml"));
        if !path.exists() {
            anyhow::bail!(
                "no platform `{name}` for arch `{arch}`: no {} (the variants are the files in configs/platforms/variants)",
                path.display()
            );
        }
        Self::read(&path, arch)
    }

    /// Reads the platform file at `path`, which must be for `arch`.
    fn read(path: &std::path::Path, arch: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "no platform for arch `{arch}`: cannot read {}",
                path.display()
            )
        })?;
        let platform: Self = toml::from_str(&text)
            .with_context(|| format!("{}: invalid platform file", path.display()))?;
        if platform.arch != arch {
            anyhow::bail!(
                "{}: arch: `{}`, but it was loaded for `{arch}`",
                path.display(),
                platform.arch
            );
        }
        Ok(platform)
    }

    /// The platform file of `arch`: the file in `configs/platforms` named
    /// `qemu-<machine>-<arch>.toml`.
    fn path_of(arch: &str) -> Result<PathBuf> {
        let dir = PathBuf::from("configs/platforms");
        let suffix = format!("-{arch}.toml");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("qemu-") && n.ends_with(&suffix))
            })
            .collect();
        found.sort();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => anyhow::bail!(
                "no platform for arch `{arch}`: no {}/qemu-<machine>{suffix}",
                dir.display()
            ),
            _ => anyhow::bail!(
                "more than one platform for arch `{arch}` in {}: {found:?}",
                dir.display()
            ),
        }
    }

    /// RAM size in bytes.
    pub fn ram_size(&self) -> u64 {
        self.qemu.memory_mib << 20
    }

    /// Rust source of the constants the hypervisor is built with.
    pub fn constants_source(&self) -> String {
        let mut source = format!(
            "/// Number of physical CPUs.\npub const CPU_COUNT: usize = {};\n\
             /// First RAM address.\npub const RAM_BASE: u64 = {:#x};\n\
             /// RAM size in bytes.\npub const RAM_SIZE: u64 = {:#x};\n\
             /// Console UART base.\npub const UART_BASE: u64 = {:#x};\n\
             /// Console UART interrupt.\npub const UART_IRQ: u32 = {};\n",
            self.qemu.smp,
            self.memory.ram_base,
            self.ram_size(),
            self.console.uart_base,
            self.console.uart_irq,
        );
        if let Some(x86) = &self.x86 {
            source.push_str(&format!(
                "/// I/O APIC base.\npub const IOAPIC_BASE: u64 = {:#x};\n\
                 /// Local APIC base (xAPIC mode).\npub const LAPIC_BASE: u64 = {:#x};\n\
                 /// PCIe enhanced configuration window.\npub const ECAM_BASE: u64 = {:#x};\n",
                x86.ioapic, x86.lapic, x86.ecam
            ));
        }
        if let Some(plic) = &self.plic {
            source.push_str(&format!(
                "/// PLIC base.\npub const PLIC_BASE: u64 = {:#x};\n",
                plic.base
            ));
            let sswi = self
                .sswi
                .as_ref()
                .map_or("None".to_string(), |sswi| format!("Some({:#x})", sswi.base));
            source.push_str(&format!(
                "/// ACLINT SSWI base (supervisor software interrupts without the firmware), \
                 if the machine has one.\npub const SSWI_BASE: Option<u64> = {sswi};\n"
            ));
        }
        source
    }
}
