//! Checks that relate fields to each other: vCPU lists against `cpu_num`,
//! memory regions against each other, addresses against guest RAM, emulated
//! devices against each other and against guest RAM.

use alloc::format;

use crate::error::Errors;
use crate::model::{BaseConfig, DeviceConfig, KernelConfig, MapType, MemoryRegion};
use crate::span::{Hex, Span};

/// Checks `[base]`: enough physical CPUs for the vCPUs, and no id listed twice.
pub(crate) fn base(base: &BaseConfig, errs: &mut Errors) {
    if let Some(ids) = &base.phys_cpu_ids {
        enough_cpus("base.phys_cpu_ids", ids.len(), base.cpu_num, errs);
        for (later, id) in ids.iter().enumerate() {
            if let Some(first) = ids.iter().take(later).position(|other| other == id) {
                errs.push(
                    format!("base.phys_cpu_ids[{later}]"),
                    format!(
                        "physical CPU id {} is listed twice (also base.phys_cpu_ids[{first}])",
                        Hex(*id)
                    ),
                );
            }
        }
    }
    if let Some(masks) = &base.phys_cpu_sets {
        enough_cpus("base.phys_cpu_sets", masks.len(), base.cpu_num, errs);
    }
}

/// Records an error if a per-vCPU list at `path` has fewer than `cpu_num` entries.
fn enough_cpus(path: &str, listed: usize, cpu_num: usize, errs: &mut Errors) {
    if listed < cpu_num {
        errs.push(
            path,
            format!("lists {listed} physical CPUs but cpu_num is {cpu_num}: each vCPU needs one"),
        );
    }
}

/// Checks `[kernel]`: images have load addresses, RAM regions are sound, and
/// the entry point and load addresses lie in guest RAM.
pub(crate) fn kernel(kernel: &KernelConfig, errs: &mut Errors) {
    for (what, path, load_addr) in [
        ("bios", &kernel.bios_path, kernel.bios_load_addr),
        ("dtb", &kernel.dtb_path, kernel.dtb_load_addr),
        ("ramdisk", &kernel.ramdisk_path, kernel.ramdisk_load_addr),
    ] {
        if path.is_some() && load_addr.is_none() {
            errs.push(
                format!("kernel.{what}_load_addr"),
                format!("missing: required when `{what}_path` is given"),
            );
        }
    }
    if kernel.memory_regions.is_empty() {
        // Relaxed for AxVisor's `linux-qemu-aarch64.toml` (commit c922ec7),
        // which comments out its only region and supplies its own device tree:
        // with `dtb_path`, guest RAM is the device tree's `/memory` nodes, so
        // the checks against guest RAM wait until the loader has read them.
        if kernel.dtb_path.is_none() {
            errs.push(
                "kernel.memory_regions",
                "no guest RAM: list at least one region, or give `dtb_path` (its /memory nodes then describe guest RAM)",
            );
        }
        return;
    }
    overlapping_regions(&kernel.memory_regions, errs);
    addresses_in_ram(kernel, errs);
}

/// Records every pair of overlapping memory regions, except a region nested
/// in an earlier identical one with the same flags.
///
/// That exception comes from two AxVisor files. `rdk-s100/linux-smp1.toml`
/// lists the same identical region three times (the last one half as long):
/// repeating an identical mapping maps the same guest addresses to the same
/// host addresses with the same permissions, so nothing conflicts.
/// `qemu/x86_64/linux-smp1.toml` puts a 1 MiB allocated "low boot scratch"
/// region inside its 128 MiB identical RAM, so that the real-mode stub and
/// `boot_params` get private memory rather than the host's own low memory:
/// the inner, later region applies to its addresses. (AxVisor itself places
/// identical regions wherever the host allocator finds memory, so it never
/// sees these overlaps.) Partial overlaps, and overlaps with an allocated or
/// reserved region, stay errors.
fn overlapping_regions(regions: &[MemoryRegion], errs: &mut Errors) {
    for (later, inner) in regions.iter().enumerate() {
        for (earlier, outer) in regions.iter().enumerate().take(later) {
            let (outer_span, inner_span) = (span(outer), span(inner));
            if !outer_span.overlaps(inner_span) {
                continue;
            }
            let nested = outer.map_type == MapType::Identical
                && outer.flags == inner.flags
                && outer_span.covers(inner_span);
            if !nested {
                errs.push(
                    format!("kernel.memory_regions[{later}]"),
                    format!(
                        "region {inner_span} overlaps kernel.memory_regions[{earlier}] ({outer_span})"
                    ),
                );
            }
        }
    }
}

/// Records the entry point and each load address that is outside guest RAM.
fn addresses_in_ram(kernel: &KernelConfig, errs: &mut Errors) {
    let regions = &kernel.memory_regions;
    let in_ram = |address: u64| regions.iter().any(|region| span(region).contains(address));
    let addresses = [
        ("entry_point", "entry point", Some(kernel.entry_point)),
        (
            "kernel_load_addr",
            "kernel load address",
            Some(kernel.kernel_load_addr),
        ),
        ("bios_load_addr", "BIOS load address", kernel.bios_load_addr),
        (
            "dtb_load_addr",
            "device tree load address",
            kernel.dtb_load_addr,
        ),
        (
            "ramdisk_load_addr",
            "ramdisk load address",
            kernel.ramdisk_load_addr,
        ),
    ];
    for (field, what, address) in addresses {
        if let Some(address) = address.filter(|address| !in_ram(*address)) {
            errs.push(
                format!("kernel.{field}"),
                format!("{what} {} is outside guest RAM", Hex(address)),
            );
        }
    }
}

/// Checks `[devices]`: emulated devices overlap neither each other nor guest RAM.
pub(crate) fn devices(devices: &DeviceConfig, kernel: Option<&KernelConfig>, errs: &mut Errors) {
    let emulated = &devices.emu_devices;
    for (later, device) in emulated.iter().enumerate() {
        let device_span = Span::new(device.gpa, device.length);
        for (earlier, other) in emulated.iter().enumerate().take(later) {
            let other_span = Span::new(other.gpa, other.length);
            if device_span.overlaps(other_span) {
                errs.push(
                    format!("devices.emu_devices[{later}]"),
                    format!(
                        "device `{}` at {device_span} overlaps devices.emu_devices[{earlier}] `{}` ({other_span})",
                        device.name, other.name
                    ),
                );
            }
        }
        // A device wholly below 0x1_0000 may be an x86 I/O port range, which
        // is a separate address space from guest RAM: AxVisor's x86 files
        // put the COM1 console at port 0x3f8 and the PIT at ports 0x40..0x62
        // while guest RAM starts at address 0. The config does not say which
        // space a device is in, so such devices are not checked against RAM.
        if device_span.in_port_space() {
            continue;
        }
        let regions = kernel.map_or(&[][..], |kernel| &kernel.memory_regions);
        for (index, region) in regions.iter().enumerate() {
            if device_span.overlaps(span(region)) {
                errs.push(
                    format!("devices.emu_devices[{later}]"),
                    format!(
                        "device `{}` at {device_span} overlaps guest RAM kernel.memory_regions[{index}] ({})",
                        device.name,
                        span(region)
                    ),
                );
            }
        }
    }
}

/// The addresses a memory region covers.
pub(crate) fn span(region: &MemoryRegion) -> Span {
    Span::new(region.gpa, region.size)
}
