//! Checks of shared regions (`devices.shared_regions`): within one file (alignment,
//! names, overlaps with the rest of the VM's memory map), and across the VMs that run
//! together (every region has a peer, and the same size in each VM).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{ConfigError, Errors};
use crate::model::{DeviceConfig, KernelConfig, PassthroughDevice, VmConfig};
use crate::span::{Hex, Span};

/// The page size regions and doorbells are mapped in, and the size of a doorbell page.
pub const SHARED_PAGE: u64 = 0x1000;

/// Something in a VM's memory map, for the overlap checks: its description and span,
/// and which shared-region part it is (row, column), if it is one.
struct Occupant {
    what: String,
    span: Span,
    part: Option<(usize, usize)>,
}

/// Checks the shared regions of one file against themselves and the rest of its map.
pub(crate) fn check_own(devices: &DeviceConfig, kernel: Option<&KernelConfig>, errs: &mut Errors) {
    let regions = &devices.shared_regions;
    for (i, region) in regions.iter().enumerate() {
        let field = format!("devices.shared_regions[{i}]");
        for (column, what, value) in [
            (1, "address", region.gpa),
            (2, "size", region.size),
            (4, "doorbell address", region.doorbell_gpa),
        ] {
            if !value.is_multiple_of(SHARED_PAGE) {
                errs.push(
                    format!("{field}[{column}]"),
                    format!("{what} {} is not a multiple of 4 KiB", Hex(value)),
                );
            }
        }
        if let Some(first) = regions
            .iter()
            .take(i)
            .position(|other| other.name == region.name)
        {
            errs.push(
                format!("{field}[0]"),
                format!(
                    "region `{}` is declared twice (also devices.shared_regions[{first}])",
                    region.name
                ),
            );
        }
        if Span::new(region.doorbell_gpa, SHARED_PAGE).wraps() {
            errs.push(
                format!("{field}[4]"),
                "the doorbell page runs past the end of the 64-bit address space",
            );
        }
    }
    let map = occupants(devices, kernel);
    for part in map.iter().filter(|o| o.part.is_some()) {
        let Some((row, column)) = part.part else {
            continue;
        };
        // Each pair once: against everything that is not a shared region, and
        // against the shared-region parts before this one.
        let clash = map.iter().find(|other| {
            other.span.overlaps(part.span)
                && match other.part {
                    None => true,
                    Some(earlier) => earlier < (row, column),
                }
        });
        if let Some(other) = clash {
            errs.push(
                format!("devices.shared_regions[{row}][{column}]"),
                format!(
                    "{} at {} overlaps {} ({})",
                    part.what, part.span, other.what, other.span
                ),
            );
        }
    }
}

/// Everything the file puts in the guest's memory map: RAM, emulated devices (not
/// those in the I/O port range, see `validate::devices`), passthrough windows and the
/// shared regions with their doorbells.
fn occupants(devices: &DeviceConfig, kernel: Option<&KernelConfig>) -> Vec<Occupant> {
    let mut map = Vec::new();
    let mut add = |what: String, span: Span, part| map.push(Occupant { what, span, part });
    for (i, region) in kernel
        .map_or(&[][..], |k| &k.memory_regions)
        .iter()
        .enumerate()
    {
        add(
            format!("guest RAM kernel.memory_regions[{i}]"),
            Span::new(region.gpa, region.size),
            None,
        );
    }
    for (i, device) in devices.emu_devices.iter().enumerate() {
        let span = Span::new(device.gpa, device.length);
        if !span.in_port_space() {
            add(
                format!("devices.emu_devices[{i}] `{}`", device.name),
                span,
                None,
            );
        }
    }
    for (i, device) in devices.passthrough_devices.iter().enumerate() {
        if let PassthroughDevice::Range {
            name, gpa, length, ..
        } = device
        {
            add(
                format!("devices.passthrough_devices[{i}] `{name}`"),
                Span::new(*gpa, *length),
                None,
            );
        }
    }
    for (i, (gpa, length)) in devices.passthrough_addresses.iter().enumerate() {
        add(
            format!("devices.passthrough_addresses[{i}]"),
            Span::new(*gpa, *length),
            None,
        );
    }
    for (i, region) in devices.shared_regions.iter().enumerate() {
        add(
            format!("shared region `{}`", region.name),
            Span::new(region.gpa, region.size),
            Some((i, 1)),
        );
        add(
            format!("the doorbell of shared region `{}`", region.name),
            Span::new(region.doorbell_gpa, SHARED_PAGE),
            Some((i, 4)),
        );
    }
    map
}

/// Checks the shared regions of VMs that run together (`vms`: each config with the
/// file it came from): every region is declared by at least one other VM, with the
/// same size. Returns every problem, each in the file that has it.
pub fn check_shared_regions(vms: &[(&str, &VmConfig)]) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    for (index, (file, config)) in vms.iter().enumerate() {
        let mut errs = Errors::new(file);
        for (i, region) in config.devices.shared_regions.iter().enumerate() {
            let field = format!("devices.shared_regions[{i}]");
            let peers: Vec<_> = vms
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .filter_map(|(_, (other_file, other))| {
                    let same = other
                        .devices
                        .shared_regions
                        .iter()
                        .find(|theirs| theirs.name == region.name)?;
                    Some((*other_file, other, same))
                })
                .collect();
            if peers.is_empty() {
                errs.push(
                    format!("{field}[0]"),
                    format!(
                        "region `{}` is declared by no other VM: a shared region needs the \
                         VMs on each side to declare it",
                        region.name
                    ),
                );
            }
            for (other_file, other, theirs) in peers {
                if theirs.size != region.size {
                    errs.push(
                        format!("{field}[2]"),
                        format!(
                            "region `{}` is {} bytes here but {} bytes in {other_file} (VM {})",
                            region.name,
                            Hex(region.size),
                            Hex(theirs.size),
                            other.base.id
                        ),
                    );
                }
            }
        }
        problems.extend(errs.into_vec());
    }
    problems
}
