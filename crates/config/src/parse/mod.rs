//! Turning config text into a [`VmConfig`]: TOML syntax, the set of tables, then
//! one module per table, then the checks that relate fields to each other.

mod base;
mod devices;
mod kernel;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use toml::{Table, Value};

use crate::error::{ConfigError, Errors};
use crate::model::{DeviceConfig, VmConfig};
use crate::reader::kind;
use crate::{shared, validate};

/// The tables a v1 file may have.
const TABLES: &[&str] = &["base", "kernel", "devices"];

/// The reason given for any file in the experimental v2 schema.
pub(crate) const V2_REASON: &str = "schema v2 (`[machine]`, `[[memory.regions]]`) is not supported; use the v1 `[base]`/`[kernel]`/`[devices]` schema";

/// Parses and validates `text`; `file` only appears in messages.
pub(crate) fn parse(file: &str, text: &str) -> Result<VmConfig, Vec<ConfigError>> {
    let mut errs = Errors::new(file);
    let root = match text.parse::<Table>() {
        Ok(root) => root,
        Err(error) => {
            syntax_error(text, &error, &mut errs);
            return Err(errs.into_vec());
        }
    };
    if let Some(marker) = v2_marker(&root) {
        errs.push(marker, V2_REASON);
        return Err(errs.into_vec());
    }
    match read_tables(&root, &mut errs) {
        Some(config) if errs.len() == 0 => Ok(config),
        _ => Err(errs.into_vec()),
    }
}

/// Records a TOML syntax error with its line and column.
fn syntax_error(text: &str, error: &toml::de::Error, errs: &mut Errors) {
    let location = match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .map_or(0, |tail| tail.chars().count())
                + 1;
            format!("line {line}, column {column}: ")
        }
        None => String::new(),
    };
    let message = error.message().trim_end();
    // TOML integers are signed 64-bit, so addresses from 2^63 up cannot be
    // written at all; toml's own message for that does not say so.
    let hint = if message.contains("too large") {
        " (TOML integers are signed 64-bit: at most 0x7fff_ffff_ffff_ffff)"
    } else {
        ""
    };
    errs.push("(toml syntax)", format!("{location}{message}{hint}"));
}

/// The first v2-only key in the file, if any (`machine`, `memory`, `devices.virtual`, ...).
fn v2_marker(root: &Table) -> Option<&'static str> {
    if root.contains_key("machine") {
        return Some("machine");
    }
    if root.contains_key("memory") {
        return Some("memory");
    }
    let devices = match root.get("devices") {
        Some(Value::Table(devices)) => devices,
        _ => return None,
    };
    ["virtual", "deny", "disable_defaults"]
        .into_iter()
        .zip([
            "devices.virtual",
            "devices.deny",
            "devices.disable_defaults",
        ])
        .find(|(key, _)| devices.contains_key(*key))
        .map(|(_, path)| path)
}

/// Reads and checks the three tables; `None` if any of them is missing or has
/// a wrong field. Each table that reads cleanly is checked on its own, so a
/// mistake in one table does not hide the problems of another.
fn read_tables(root: &Table, errs: &mut Errors) -> Option<VmConfig> {
    reject_unknown_tables(root, errs);
    let base = table(root, "base", errs).and_then(|table| base::parse(table, errs));
    if let Some(base) = &base {
        validate::base(base, errs);
    }
    let kernel = table(root, "kernel", errs).and_then(|table| kernel::parse(table, errs));
    if let Some(kernel) = &kernel {
        validate::kernel(kernel, errs);
    }
    let devices = match root.get("devices") {
        None => Some(DeviceConfig::default()),
        Some(_) => table(root, "devices", errs).and_then(|table| devices::parse(table, errs)),
    };
    if let Some(devices) = &devices {
        validate::devices(devices, kernel.as_ref(), errs);
        shared::check_own(devices, kernel.as_ref(), errs);
    }
    Some(VmConfig {
        base: base?,
        kernel: kernel?,
        devices: devices?,
    })
}

/// Records every top-level key that is not one of [`TABLES`].
fn reject_unknown_tables(root: &Table, errs: &mut Errors) {
    for key in root.keys().filter(|key| !TABLES.contains(&key.as_str())) {
        let hint = match owning_table(key) {
            Some(table) => format!("; `{key}` belongs in the `[{table}]` table"),
            None => String::new(),
        };
        errs.push(
            key.as_str(),
            format!("unknown top-level table; accepted tables: base, kernel, devices{hint}"),
        );
    }
}

/// Which table a field name belongs to (for files in the flat v0 layout).
fn owning_table(key: &str) -> Option<&'static str> {
    if base::FIELDS.contains(&key) {
        Some("base")
    } else if kernel::FIELDS.contains(&key) {
        Some("kernel")
    } else if devices::FIELDS.contains(&key) {
        Some("devices")
    } else {
        None
    }
}

/// The table `name` of the file; records an error if it is missing or not a table.
fn table<'t>(root: &'t Table, name: &str, errs: &mut Errors) -> Option<&'t Table> {
    match root.get(name) {
        Some(Value::Table(table)) => Some(table),
        Some(other) => {
            errs.push(name, format!("expected a table, found {}", kind(other)));
            None
        }
        None => {
            errs.push(name, "missing required table");
            None
        }
    }
}
