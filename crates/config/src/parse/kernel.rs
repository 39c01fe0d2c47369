//! The `[kernel]` table: images, load addresses, entry point and guest RAM rows.

use alloc::format;
use alloc::string::String;

use toml::{Table, Value};

use crate::error::Errors;
use crate::flags::MemoryFlags;
use crate::model::{ImageLocation, KernelConfig, MapType, MemoryRegion};
use crate::reader::{Section, boolean, list, owned_string, path_string, row, string, uint};
use crate::span::{Hex, Span};

/// The fields `[kernel]` accepts.
pub(super) const FIELDS: &[&str] = &[
    "entry_point",
    "image_location",
    "kernel_path",
    "kernel_load_addr",
    "bios_path",
    "bios_load_addr",
    "dtb_path",
    "dtb_load_addr",
    "ramdisk_path",
    "ramdisk_load_addr",
    "cmdline",
    "disk_path",
    "enable_bios",
    "boot_protocol",
    "uefi_firmware_path",
    "memory_regions",
];

/// Reads `[kernel]`; `None` if a field is missing or wrong (each one recorded).
///
/// Every field is read before any missing one ends the function, so that one
/// missing field does not hide mistakes in the others.
pub(super) fn parse(table: &Table, errs: &mut Errors) -> Option<KernelConfig> {
    let section = Section::new(table, "kernel");
    section.reject_unknown(FIELDS, errs);
    let before = errs.len();
    let entry_point = section.required("entry_point", errs, uint);
    let image_location = section.required("image_location", errs, image_location);
    let kernel_path = section.required("kernel_path", errs, path_string);
    let kernel_load_addr = section.required("kernel_load_addr", errs, uint);
    let memory_regions = section.required("memory_regions", errs, |value, path, errs| {
        list(value, path, errs, region)
    });
    let (bios_path, bios_load_addr) = image(&section, "bios", errs);
    let (dtb_path, dtb_load_addr) = image(&section, "dtb", errs);
    let (ramdisk_path, ramdisk_load_addr) = image(&section, "ramdisk", errs);
    let cmdline = section.optional("cmdline", errs, owned_string);
    let disk_path = section.optional("disk_path", errs, path_string);
    let enable_bios = section.optional("enable_bios", errs, boolean);
    let boot_protocol = section.optional("boot_protocol", errs, owned_string);
    let uefi_firmware_path = section.optional("uefi_firmware_path", errs, path_string);
    if errs.len() != before {
        return None;
    }
    Some(KernelConfig {
        entry_point: entry_point?,
        image_location: image_location?,
        kernel_path: kernel_path?,
        kernel_load_addr: kernel_load_addr?,
        bios_path,
        bios_load_addr,
        dtb_path,
        dtb_load_addr,
        ramdisk_path,
        ramdisk_load_addr,
        cmdline,
        disk_path,
        enable_bios,
        boot_protocol,
        uefi_firmware_path,
        memory_regions: memory_regions?,
    })
}

/// The optional `<what>_path` and `<what>_load_addr` fields of one image.
fn image(section: &Section<'_>, what: &str, errs: &mut Errors) -> (Option<String>, Option<u64>) {
    let path = section.optional(&format!("{what}_path"), errs, path_string);
    let load_addr = section.optional(&format!("{what}_load_addr"), errs, uint);
    (path, load_addr)
}

/// `image_location`: `"memory"` or `"fs"`.
fn image_location(value: &Value, path: &str, errs: &mut Errors) -> Option<ImageLocation> {
    match string(value, path, errs)? {
        "memory" => Some(ImageLocation::Memory),
        "fs" => Some(ImageLocation::Fs),
        other => {
            errs.push(
                path,
                format!("unknown image location \"{other}\"; accepted: \"memory\", \"fs\""),
            );
            None
        }
    }
}

/// One `memory_regions` row: `[gpa, size, flags, map_type]`.
fn region(value: &Value, path: &str, errs: &mut Errors) -> Option<MemoryRegion> {
    let [gpa, size, flags, map_type] = row::<4>(value, path, errs, "[gpa, size, flags, map_type]")?;
    let gpa = uint(gpa, &format!("{path}[0]"), errs);
    let size = region_size(gpa, size, &format!("{path}[1]"), errs);
    let flags = region_flags(flags, &format!("{path}[2]"), errs);
    let map_type = map_type_code(map_type, &format!("{path}[3]"), errs);
    Some(MemoryRegion {
        gpa: gpa?,
        size: size?,
        flags: flags?,
        map_type: map_type?,
    })
}

/// A region size: not zero, and the region must not run past 2^64.
fn region_size(gpa: Option<u64>, value: &Value, path: &str, errs: &mut Errors) -> Option<u64> {
    let size = uint(value, path, errs)?;
    if size == 0 {
        errs.push(path, "memory region size is 0");
        return None;
    }
    let gpa = gpa?;
    if Span::new(gpa, size).wraps() {
        errs.push(
            path,
            format!(
                "memory region at {} of size {} runs past the end of the 64-bit address space",
                Hex(gpa),
                Hex(size)
            ),
        );
        return None;
    }
    Some(size)
}

/// Region flags: only known bits, and always readable.
fn region_flags(value: &Value, path: &str, errs: &mut Errors) -> Option<MemoryFlags> {
    let bits = uint(value, path, errs)?;
    let Some(flags) = MemoryFlags::from_bits(bits) else {
        errs.push(
            path,
            format!(
                "unknown flag bits {} in {}; accepted flags: READ 0x1, WRITE 0x2, EXECUTE 0x4, USER 0x8, DEVICE 0x10, UNCACHED 0x20",
                Hex(bits & !MemoryFlags::ALL.bits()),
                Hex(bits)
            ),
        );
        return None;
    };
    if !flags.contains(MemoryFlags::READ) {
        errs.push(
            path,
            format!(
                "flags {} lack READ (0x1); guest RAM must be readable",
                Hex(bits)
            ),
        );
        return None;
    }
    Some(flags)
}

/// `map_type`: 0, 1 or 2.
fn map_type_code(value: &Value, path: &str, errs: &mut Errors) -> Option<MapType> {
    let code = uint(value, path, errs)?;
    let map_type = MapType::from_code(code);
    if map_type.is_none() {
        errs.push(
            path,
            format!("unknown map type {code}; accepted: 0 (allocate), 1 (identical), 2 (reserved)"),
        );
    }
    map_type
}
