//! What a valid config asks for that Tessera does not offer (yet) on an architecture:
//! the one list both the hypervisor (which refuses such a VM at boot) and
//! `cargo xtask config check` (which reports it ahead of time) use, so the two give
//! the same verdict with the same words.

use alloc::format;
use alloc::vec::Vec;

use crate::error::Errors;
use crate::{ConfigError, EmuType, MemoryFlags, PassthroughDevice, VmConfig};

/// `emu_type` AxVisor's files use for a RISC-V PLIC (its own enum does not name it).
pub const EMU_TYPE_PLIC: u64 = 0x30;

/// The architecture a VM is to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetArch {
    /// Arm 64-bit, guests at EL1 under EL2.
    Aarch64,
    /// RISC-V 64-bit, guests in VS-mode.
    Riscv64,
    /// x86-64 with AMD SVM.
    X86_64,
}

impl TargetArch {
    /// The architecture of a Rust target-arch name (`"aarch64"`, `"riscv64"`,
    /// `"x86_64"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "aarch64" => Some(Self::Aarch64),
            "riscv64" => Some(Self::Riscv64),
            "x86_64" => Some(Self::X86_64),
            _ => None,
        }
    }

    /// Its name, as in [`TargetArch::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Aarch64 => "aarch64",
            Self::Riscv64 => "riscv64",
            Self::X86_64 => "x86_64",
        }
    }
}

/// Whether Tessera has a model for emulated device `emu_type` on `arch`.
pub fn emulates(arch: TargetArch, emu_type: EmuType) -> bool {
    match (arch, emu_type) {
        (_, EmuType::Console) => true,
        (
            TargetArch::Aarch64,
            EmuType::InterruptController
            | EmuType::GicDistributor
            | EmuType::GicRedistributor
            | EmuType::GicV2Distributor
            | EmuType::GicV2CpuInterface,
        ) => true,
        (TargetArch::Riscv64, EmuType::InterruptController) => true,
        (TargetArch::Riscv64, EmuType::Other(code)) => code == EMU_TYPE_PLIC,
        _ => false,
    }
}

/// A name for an `emu_type` in messages.
fn model_name(emu_type: EmuType) -> &'static str {
    match emu_type {
        EmuType::Dummy => "dummy device",
        EmuType::InterruptController => "interrupt controller",
        EmuType::Console => "console",
        EmuType::IvcChannel => "inter-VM communication channel",
        EmuType::GicRedistributor => "GICv3 redistributor",
        EmuType::GicDistributor => "GICv3 distributor",
        EmuType::GicIts => "GICv3 ITS",
        EmuType::GicV2Distributor => "GICv2 distributor",
        EmuType::GicV2CpuInterface => "GICv2 CPU interface",
        EmuType::Other(0x23) => "x86 I/O APIC",
        EmuType::Other(0x24) => "x86 PIT",
        EmuType::Other(EMU_TYPE_PLIC) => "RISC-V PLIC",
        EmuType::Other(_) => "unknown model",
    }
}

/// Every part of a valid `config` that Tessera does not offer on `arch`, each naming
/// the field and what is missing; empty when the VM can run. `file` is only used in
/// messages.
pub fn not_offered(config: &VmConfig, file: &str, arch: TargetArch) -> Vec<ConfigError> {
    let mut errors = Errors::new(file);
    memory(config, &mut errors);
    devices(config, arch, &mut errors);
    boot(config, arch, &mut errors);
    errors.into_vec()
}

/// Guest RAM is normal, cacheable memory (allocated anywhere, or identity-mapped for
/// map types 1 and 2, whose host range the hypervisor checks at boot).
fn memory(config: &VmConfig, errors: &mut Errors) {
    for (i, region) in config.kernel.memory_regions.iter().enumerate() {
        let field = format!("kernel.memory_regions[{i}]");
        if region.flags.contains(MemoryFlags::DEVICE)
            || region.flags.contains(MemoryFlags::UNCACHED)
        {
            errors.push(
                format!("{field}[2]"),
                "device or uncached memory (flags 0x10, 0x20) is not offered as guest RAM; \
                 give device windows in devices.passthrough_devices or passthrough_addresses",
            );
        }
    }
}

/// Emulated models per architecture; passthrough by device-tree path (one node, or
/// `"/"` for the whole tree) on aarch64, by address range on aarch64 and riscv64.
fn devices(config: &VmConfig, arch: TargetArch, errors: &mut Errors) {
    let devices = &config.devices;
    for (i, device) in devices.emu_devices.iter().enumerate() {
        if !emulates(arch, device.emu_type) {
            errors.push(
                format!("devices.emu_devices[{i}][4]"),
                format!(
                    "emulated device type {:#x} ({}, \"{}\") is not offered on {}",
                    device.emu_type.code(),
                    model_name(device.emu_type),
                    device.name,
                    arch.name()
                ),
            );
        }
    }
    for (i, device) in devices.passthrough_devices.iter().enumerate() {
        let field = format!("devices.passthrough_devices[{i}]");
        match (arch, device) {
            (TargetArch::X86_64, _) => {
                errors.push(field, "device passthrough is not offered on x86_64 yet")
            }
            (TargetArch::Riscv64, PassthroughDevice::Path(_)) => errors.push(
                format!("{field}[0]"),
                "passthrough by device-tree path is not offered on riscv64 yet: \
                 give the device's window as a [name, gpa, hpa, length, irq] row",
            ),
            _ => {}
        }
    }
    if arch == TargetArch::X86_64 && !devices.passthrough_addresses.is_empty() {
        errors.push(
            "devices.passthrough_addresses",
            "passthrough address ranges are not offered on x86_64 yet",
        );
    }
    if arch == TargetArch::X86_64 && !devices.shared_regions.is_empty() {
        errors.push(
            "devices.shared_regions",
            "shared regions are not offered on x86_64 yet: nothing in its boot \
             information (the zero page) tells the guest where they are",
        );
    }
    if !devices.passthrough_ports.is_empty() {
        errors.push(
            "devices.passthrough_ports",
            "I/O port passthrough is not offered yet",
        );
    }
}

/// Guests start through the Linux boot protocol (or bare at their entry point), and
/// on x86_64 also as multiboot kernels. `enable_bios = true` and `bios_path` are
/// accepted with a multiboot kernel: Tessera then does what AxVisor's small BIOS
/// does (it loads the kernel and enters it in 32-bit protected mode itself); no BIOS
/// image is run.
fn boot(config: &VmConfig, arch: TargetArch, errors: &mut Errors) {
    let kernel = &config.kernel;
    let protocol = kernel.boot_protocol.as_deref();
    let multiboot = arch == TargetArch::X86_64 && kernel.is_multiboot();
    if let Some(protocol) = protocol
        && protocol != "linux"
        && !multiboot
    {
        errors.push(
            "kernel.boot_protocol",
            format!(
                "boot protocol \"{protocol}\" is not offered on {}: guests start through \
                 the Linux boot protocol{}",
                arch.name(),
                if arch == TargetArch::X86_64 {
                    " or as multiboot kernels (\"multiboot\")"
                } else {
                    ""
                }
            ),
        );
    }
    if kernel.enable_bios == Some(true) && !multiboot {
        errors.push(
            "kernel.enable_bios",
            "booting through a BIOS is not offered: Tessera enters the kernel directly \
             (with boot_protocol = \"multiboot\" on x86_64 it loads the kernel as the BIOS would)",
        );
    }
    if kernel.bios_path.is_some() && !multiboot {
        errors.push(
            "kernel.bios_path",
            "a BIOS image is not run: Tessera enters the kernel directly (on x86_64 a \
             multiboot kernel, which it loads as the BIOS would)",
        );
    }
    if kernel.uefi_firmware_path.is_some() {
        errors.push(
            "kernel.uefi_firmware_path",
            "UEFI firmware is not offered: Tessera enters the kernel directly",
        );
    }
}
