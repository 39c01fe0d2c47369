//! The `[devices]` table: passthrough devices and ranges, emulated devices,
//! interrupt mode.

use alloc::format;
use alloc::string::String;

use toml::{Table, Value};

use crate::error::Errors;
use crate::model::{
    DeviceConfig, EmuType, EmulatedDevice, InterruptMode, PassthroughDevice, RegionAccess,
    SharedRegion,
};
use crate::reader::{Section, array, name_string, path_string, row, string, uint, uint_list};
use crate::span::{Hex, Span};

/// The fields `[devices]` accepts.
pub(super) const FIELDS: &[&str] = &[
    "passthrough_devices",
    "excluded_devices",
    "passthrough_addresses",
    "passthrough_ports",
    "emu_devices",
    "interrupt_mode",
    "shared_regions",
];

/// Reads `[devices]`; every field is optional. `None` if a field is wrong.
pub(super) fn parse(table: &Table, errs: &mut Errors) -> Option<DeviceConfig> {
    let section = Section::new(table, "devices");
    section.reject_unknown(FIELDS, errs);
    let before = errs.len();
    let passthrough_devices =
        section.optional_list("passthrough_devices", errs, passthrough_device);
    let excluded_devices = section.optional_list("excluded_devices", errs, excluded_device);
    let passthrough_addresses = section.optional_list("passthrough_addresses", errs, address_range);
    let passthrough_ports = section.optional_list("passthrough_ports", errs, port_range);
    let emu_devices = section.optional_list("emu_devices", errs, emulated_device);
    let interrupt_mode = section.optional("interrupt_mode", errs, interrupt_mode);
    let shared_regions = section.optional_list("shared_regions", errs, shared_region);
    if errs.len() != before {
        return None;
    }
    Some(DeviceConfig {
        passthrough_devices: passthrough_devices.unwrap_or_default(),
        excluded_devices: excluded_devices.unwrap_or_default(),
        passthrough_addresses: passthrough_addresses.unwrap_or_default(),
        passthrough_ports: passthrough_ports.unwrap_or_default(),
        emu_devices: emu_devices.unwrap_or_default(),
        interrupt_mode: interrupt_mode.unwrap_or_default(),
        shared_regions: shared_regions.unwrap_or_default(),
    })
}

/// A `passthrough_devices` row: `[path]` or `[name, gpa, hpa, length, irq]`.
fn passthrough_device(value: &Value, path: &str, errs: &mut Errors) -> Option<PassthroughDevice> {
    let items = array(value, path, errs)?;
    match items {
        [device_path] => {
            path_string(device_path, &format!("{path}[0]"), errs).map(PassthroughDevice::Path)
        }
        [name, gpa, hpa, length, irq] => {
            let name = name_string(name, &format!("{path}[0]"), errs);
            let gpa = uint(gpa, &format!("{path}[1]"), errs);
            let hpa = uint(hpa, &format!("{path}[2]"), errs);
            let length = range_length(gpa, length, &format!("{path}[3]"), errs);
            let irq = uint(irq, &format!("{path}[4]"), errs);
            Some(PassthroughDevice::Range {
                name: name?,
                gpa: gpa?,
                hpa: hpa?,
                length: length?,
                irq: irq?,
            })
        }
        _ => {
            errs.push(
                path,
                format!(
                    "expected [device-tree path] or [name, gpa, hpa, length, irq], found {} items",
                    items.len()
                ),
            );
            None
        }
    }
}

/// An `excluded_devices` row: `[device-tree path]`.
fn excluded_device(value: &Value, path: &str, errs: &mut Errors) -> Option<String> {
    let [device_path] = row::<1>(value, path, errs, "[device-tree path]")?;
    path_string(device_path, &format!("{path}[0]"), errs)
}

/// A `passthrough_addresses` row: `[gpa, length]`.
fn address_range(value: &Value, path: &str, errs: &mut Errors) -> Option<(u64, u64)> {
    let [gpa, length] = row::<2>(value, path, errs, "[gpa, length]")?;
    let gpa = uint(gpa, &format!("{path}[0]"), errs);
    let length = range_length(gpa, length, &format!("{path}[1]"), errs);
    Some((gpa?, length?))
}

/// A `passthrough_ports` row: `[first port, count]`, inside the 16-bit port space.
fn port_range(value: &Value, path: &str, errs: &mut Errors) -> Option<(u64, u64)> {
    let [port, count] = row::<2>(value, path, errs, "[port, count]")?;
    let port = uint(port, &format!("{path}[0]"), errs)?;
    let count = uint(count, &format!("{path}[1]"), errs)?;
    if count == 0 {
        errs.push(format!("{path}[1]"), "port count is 0");
        return None;
    }
    if !Span::new(port, count).in_port_space() {
        errs.push(
            format!("{path}[1]"),
            format!(
                "ports {} run past the last I/O port 0xffff",
                Span::new(port, count)
            ),
        );
        return None;
    }
    Some((port, count))
}

/// An `emu_devices` row: `[name, gpa, length, irq, emu_type, [config ints]]`.
fn emulated_device(value: &Value, path: &str, errs: &mut Errors) -> Option<EmulatedDevice> {
    let layout = "[name, gpa, length, irq, emu_type, [config]]";
    let [name, gpa, length, irq, emu_type, config] = row::<6>(value, path, errs, layout)?;
    let name = name_string(name, &format!("{path}[0]"), errs);
    let gpa = uint(gpa, &format!("{path}[1]"), errs);
    let length = range_length(gpa, length, &format!("{path}[2]"), errs);
    let irq = uint(irq, &format!("{path}[3]"), errs);
    let emu_type = uint(emu_type, &format!("{path}[4]"), errs);
    let config = uint_list(config, &format!("{path}[5]"), errs);
    Some(EmulatedDevice {
        name: name?,
        gpa: gpa?,
        length: length?,
        irq: irq?,
        emu_type: EmuType::from_code(emu_type?),
        config: config?,
    })
}

/// A `shared_regions` row: `[name, gpa, size, access, doorbell_gpa, irq]`.
fn shared_region(value: &Value, path: &str, errs: &mut Errors) -> Option<SharedRegion> {
    let layout = "[name, gpa, size, access, doorbell_gpa, irq]";
    let [name, gpa, size, access, doorbell, irq] = row::<6>(value, path, errs, layout)?;
    let name = name_string(name, &format!("{path}[0]"), errs);
    let gpa = uint(gpa, &format!("{path}[1]"), errs);
    let size = range_length(gpa, size, &format!("{path}[2]"), errs);
    let access = region_access(access, &format!("{path}[3]"), errs);
    let doorbell_gpa = uint(doorbell, &format!("{path}[4]"), errs);
    let irq = uint(irq, &format!("{path}[5]"), errs);
    Some(SharedRegion {
        name: name?,
        gpa: gpa?,
        size: size?,
        access: access?,
        doorbell_gpa: doorbell_gpa?,
        irq: irq?,
    })
}

/// A shared region's access: `"rw"` or `"ro"`.
fn region_access(value: &Value, path: &str, errs: &mut Errors) -> Option<RegionAccess> {
    match string(value, path, errs)? {
        "rw" => Some(RegionAccess::ReadWrite),
        "ro" => Some(RegionAccess::ReadOnly),
        other => {
            errs.push(
                path,
                format!("unknown access \"{other}\"; accepted: \"rw\" (read and write), \"ro\" (read only)"),
            );
            None
        }
    }
}

/// The length of a device range starting at `start`: not zero and not past 2^64.
fn range_length(start: Option<u64>, value: &Value, path: &str, errs: &mut Errors) -> Option<u64> {
    let length = uint(value, path, errs)?;
    if length == 0 {
        errs.push(path, "length is 0");
        return None;
    }
    let start = start?;
    if Span::new(start, length).wraps() {
        errs.push(
            path,
            format!(
                "range at {} of length {} runs past the end of the 64-bit address space",
                Hex(start),
                Hex(length)
            ),
        );
        return None;
    }
    Some(length)
}

/// `interrupt_mode`: `"no_irq"`, `"emulated"`/`"emu"` or `"passthrough"`/`"pt"`.
/// `"no"` and `"none"` are also accepted for `"no_irq"`, as AxVisor does.
fn interrupt_mode(value: &Value, path: &str, errs: &mut Errors) -> Option<InterruptMode> {
    match string(value, path, errs)? {
        "no_irq" | "no" | "none" => Some(InterruptMode::NoIrq),
        "emulated" | "emu" => Some(InterruptMode::Emulated),
        "passthrough" | "pt" => Some(InterruptMode::Passthrough),
        other => {
            errs.push(
                path,
                format!(
                    "unknown interrupt mode \"{other}\"; accepted: \"no_irq\", \"emulated\" (or \"emu\"), \"passthrough\" (or \"pt\")"
                ),
            );
            None
        }
    }
}
