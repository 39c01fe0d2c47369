//! Which GIC a VM's config gives it: its `emu_devices` rows (GICv3 distributor `0x21`
//! or `0x1`, redistributors `0x20`; GICv2 distributor `0x25`, or `0x1` named
//! `vgicd-v2` as AxVisor writes it, and CPU interface `0x26`), whether the host's GIC
//! can serve it, and the rows that stand for the host's own GIC.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use tessera_config::{AXVISOR_GICV2_DISTRIBUTOR, EmuType, EmulatedDevice};
use tessera_os::hal::gic::{self, HostGic};
use tessera_vgic::GicVersion;

/// Bytes of the GICv2 CPU interface window (GICC, and the GICV mapped there): two
/// 4 KiB pages, GICC_DIR in the second.
pub const GICV2_CPU_INTERFACE_SIZE: u64 = 0x2000;
/// Bytes of registers of a GICv2 distributor.
const GICV2_DISTRIBUTOR_SIZE: u64 = 0x1000;

/// The part of a GIC a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicPart {
    /// GICD, emulated.
    Distributor,
    /// GICR of every vCPU (GICv3), emulated.
    Redistributors,
    /// GICC (GICv2): the hardware's virtual CPU interface, mapped.
    CpuInterface,
}

/// The GIC architecture and part an `emu_devices` row asks for, if it is a GIC row.
pub fn gic_part(device: &EmulatedDevice) -> Option<(GicVersion, GicPart)> {
    Some(match device.emu_type {
        EmuType::InterruptController if device.name == AXVISOR_GICV2_DISTRIBUTOR => {
            (GicVersion::V2, GicPart::Distributor)
        }
        EmuType::InterruptController | EmuType::GicDistributor => {
            (GicVersion::V3, GicPart::Distributor)
        }
        EmuType::GicRedistributor => (GicVersion::V3, GicPart::Redistributors),
        EmuType::GicV2Distributor => (GicVersion::V2, GicPart::Distributor),
        EmuType::GicV2CpuInterface => (GicVersion::V2, GicPart::CpuInterface),
        _ => return None,
    })
}

/// The bytes the window of `part` needs for `cpus` vCPUs.
pub fn needed(version: GicVersion, part: GicPart, cpus: usize) -> u64 {
    match (version, part) {
        (GicVersion::V3, GicPart::Redistributors) => {
            tessera_vgic::REDISTRIBUTOR_STRIDE * cpus as u64
        }
        (GicVersion::V3, _) => tessera_vgic::DISTRIBUTOR_SIZE,
        (GicVersion::V2, GicPart::CpuInterface) => GICV2_CPU_INTERFACE_SIZE,
        (GicVersion::V2, _) => GICV2_DISTRIBUTOR_SIZE,
    }
}

/// The GIC rows of `rows` (field, row, version, part), all of one architecture.
pub fn gic_rows(
    rows: &[EmulatedDevice],
) -> Result<Vec<(String, &EmulatedDevice, GicVersion, GicPart)>, String> {
    let found: Vec<_> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, device)| {
            let (version, part) = gic_part(device)?;
            let field = format!("devices.emu_devices[{i}] ({})", device.name);
            Some((field, device, version, part))
        })
        .collect();
    if let Some((first, second)) = found
        .first()
        .zip(found.iter().find(|row| row.2 != found[0].2))
    {
        return Err(format!(
            "{}: a {} row beside {}, a {} row: a VM has one GIC",
            second.0,
            name(second.2),
            first.0,
            name(first.2)
        ));
    }
    Ok(found)
}

/// The architecture's name.
pub fn name(version: GicVersion) -> &'static str {
    match version {
        GicVersion::V3 => "GICv3",
        GicVersion::V2 => "GICv2",
    }
}

/// Whether the host's GIC can give a VM a GIC of `version`, or why not.
pub fn host_offers(version: GicVersion) -> Result<(), String> {
    match (version, gic::host()) {
        (GicVersion::V3, Some(HostGic::V3 { .. }))
        | (
            GicVersion::V2,
            Some(HostGic::V2 {
                virtualization: Some(_),
                ..
            }),
        ) => Ok(()),
        (GicVersion::V3, Some(HostGic::V2 { .. })) => Err(
            "this host's GIC is a GICv2, which has no virtual form of the GICv3's system register CPU interface: give the VM a GICv2".into(),
        ),
        (GicVersion::V2, Some(HostGic::V2 { .. })) => Err(
            "this host's GICv2 has no virtualization extensions (its device tree lists no GICH and GICV frames)".into(),
        ),
        (GicVersion::V2, Some(HostGic::V3 { legacy_vcpu_interface: None, .. })) => Err(
            "this host's GICv3 has no GICv2 compatibility (its device tree lists no GICV frame; QEMU's GICv3 has none): give the VM a GICv3".into(),
        ),
        (GicVersion::V2, Some(HostGic::V3 { .. })) => Err(
            "this host's GICv3 lists a GICv2-compatible virtual CPU interface, but Tessera does not drive a GICv3's legacy mode: give the VM a GICv3".into(),
        ),
        (_, None) => Err("the host has no GIC".into()),
    }
}

/// The GICv2 virtual CPU interface (GICV) of the host, mapped at a GICv2 VM's GICC.
pub fn host_vcpu_interface() -> Option<u64> {
    match gic::host()? {
        HostGic::V2 {
            virtualization: Some((_, gicv)),
            ..
        } => Some(gicv.0),
        _ => None,
    }
}

/// The rows of an emulated GIC like the host's, at its addresses, for a VM of
/// `cpus` vCPUs whose config asks for the host's GIC. A distributor takes the 64 KiB
/// window of QEMU's map either way.
pub fn like_the_host(cpus: usize) -> Option<Vec<EmulatedDevice>> {
    let row = |name: &str, gpa, emu_type, version, part| EmulatedDevice {
        name: name.into(),
        gpa,
        length: match part {
            GicPart::Distributor => tessera_vgic::DISTRIBUTOR_SIZE,
            _ => needed(version, part, cpus),
        },
        irq: 0,
        emu_type,
        config: Vec::new(),
    };
    let (v3, v2) = (GicVersion::V3, GicVersion::V2);
    Some(match *gic::host()? {
        HostGic::V3 {
            distributor,
            redistributors,
            ..
        } => alloc::vec![
            row(
                "gicd",
                distributor.0,
                EmuType::GicDistributor,
                v3,
                GicPart::Distributor
            ),
            row(
                "gicr",
                redistributors.0,
                EmuType::GicRedistributor,
                v3,
                GicPart::Redistributors
            ),
        ],
        HostGic::V2 {
            distributor,
            cpu_interface,
            ..
        } => alloc::vec![
            row(
                "gicd",
                distributor.0,
                EmuType::GicV2Distributor,
                v2,
                GicPart::Distributor
            ),
            row(
                "gicc",
                cpu_interface.0,
                EmuType::GicV2CpuInterface,
                v2,
                GicPart::CpuInterface
            ),
        ],
    })
}
