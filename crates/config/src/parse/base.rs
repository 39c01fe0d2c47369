//! The `[base]` table: VM identity and vCPUs.

use alloc::format;
use alloc::vec::Vec;

use toml::{Table, Value};

use crate::error::Errors;
use crate::model::{BaseConfig, VmType};
use crate::reader::{Section, name_string, uint, uint_list};

/// The fields `[base]` accepts.
pub(super) const FIELDS: &[&str] = &[
    "id",
    "name",
    "vm_type",
    "cpu_num",
    "phys_cpu_ids",
    "phys_cpu_sets",
];

/// Reads `[base]`; `None` if a field is missing or wrong (each one recorded).
pub(super) fn parse(table: &Table, errs: &mut Errors) -> Option<BaseConfig> {
    let section = Section::new(table, "base");
    section.reject_unknown(FIELDS, errs);
    let before = errs.len();
    let id = section.required("id", errs, uint);
    let name = section.required("name", errs, name_string);
    let vm_type = section.required("vm_type", errs, vm_type);
    let cpu_num = section.required("cpu_num", errs, cpu_num);
    let phys_cpu_ids = section.optional("phys_cpu_ids", errs, uint_list);
    let phys_cpu_sets = section.optional("phys_cpu_sets", errs, cpu_masks);
    if errs.len() != before {
        return None;
    }
    Some(BaseConfig {
        id: id?,
        name: name?,
        vm_type: vm_type?,
        cpu_num: cpu_num?,
        phys_cpu_ids,
        phys_cpu_sets,
    })
}

/// `vm_type`: 0, 1 or 2.
fn vm_type(value: &Value, path: &str, errs: &mut Errors) -> Option<VmType> {
    let code = uint(value, path, errs)?;
    let vm_type = VmType::from_code(code);
    if vm_type.is_none() {
        errs.push(
            path,
            format!("unknown VM type {code}; accepted: 0 (host), 1 (RTOS), 2 (Linux)"),
        );
    }
    vm_type
}

/// `cpu_num`: at least one vCPU.
fn cpu_num(value: &Value, path: &str, errs: &mut Errors) -> Option<usize> {
    let count = uint(value, path, errs)?;
    if count == 0 {
        errs.push(path, "a VM needs at least 1 vCPU (found 0)");
        return None;
    }
    match usize::try_from(count) {
        Ok(count) => Some(count),
        Err(_) => {
            errs.push(
                path,
                format!("{count} vCPUs is more than this machine can address"),
            );
            None
        }
    }
}

/// `phys_cpu_sets`: one non-zero CPU bitmask per vCPU.
fn cpu_masks(value: &Value, path: &str, errs: &mut Errors) -> Option<Vec<u64>> {
    let masks = uint_list(value, path, errs)?;
    let mut all_good = true;
    for (index, mask) in masks.iter().enumerate() {
        if *mask == 0 {
            errs.push(
                format!("{path}[{index}]"),
                "CPU mask is 0, so this vCPU could run on no physical CPU",
            );
            all_good = false;
        }
    }
    all_good.then_some(masks)
}
