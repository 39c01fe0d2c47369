//! Reading typed values out of a parsed TOML tree, recording a precise error
//! (with the field path) for every value of the wrong shape.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use toml::{Table, Value};

use crate::error::Errors;

/// How a TOML value's type is named in messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// Records that `path` holds the wrong type of value.
fn wrong_type(value: &Value, path: &str, expected: &str, errs: &mut Errors) {
    errs.push(path, format!("expected {expected}, found {}", kind(value)));
}

/// A non-negative integer (addresses, sizes, ids, counts).
pub(crate) fn uint(value: &Value, path: &str, errs: &mut Errors) -> Option<u64> {
    match value {
        Value::Integer(number) => match u64::try_from(*number) {
            Ok(number) => Some(number),
            Err(_) => {
                errs.push(path, format!("must not be negative (found {number})"));
                None
            }
        },
        other => {
            wrong_type(other, path, "an integer", errs);
            None
        }
    }
}

/// A string, possibly empty.
pub(crate) fn string<'v>(value: &'v Value, path: &str, errs: &mut Errors) -> Option<&'v str> {
    match value {
        Value::String(text) => Some(text),
        other => {
            wrong_type(other, path, "a string", errs);
            None
        }
    }
}

/// A string, possibly empty, as an owned `String`.
pub(crate) fn owned_string(value: &Value, path: &str, errs: &mut Errors) -> Option<String> {
    string(value, path, errs).map(String::from)
}

/// A string that must not be empty; `what` names it in the message ("path", "name").
fn non_empty(value: &Value, path: &str, errs: &mut Errors, what: &str) -> Option<String> {
    let text = string(value, path, errs)?;
    if text.is_empty() {
        errs.push(path, format!("{what} must not be empty"));
        return None;
    }
    Some(String::from(text))
}

/// A file or device-tree path: a non-empty string.
pub(crate) fn path_string(value: &Value, path: &str, errs: &mut Errors) -> Option<String> {
    non_empty(value, path, errs, "path")
}

/// A name: a non-empty string.
pub(crate) fn name_string(value: &Value, path: &str, errs: &mut Errors) -> Option<String> {
    non_empty(value, path, errs, "name")
}

/// A boolean.
pub(crate) fn boolean(value: &Value, path: &str, errs: &mut Errors) -> Option<bool> {
    match value {
        Value::Boolean(flag) => Some(*flag),
        other => {
            wrong_type(other, path, "a boolean", errs);
            None
        }
    }
}

/// An array, possibly empty.
pub(crate) fn array<'v>(value: &'v Value, path: &str, errs: &mut Errors) -> Option<&'v [Value]> {
    match value {
        Value::Array(items) => Some(items),
        other => {
            wrong_type(other, path, "an array", errs);
            None
        }
    }
}

/// An array of non-negative integers.
pub(crate) fn uint_list(value: &Value, path: &str, errs: &mut Errors) -> Option<Vec<u64>> {
    list(value, path, errs, uint)
}

/// An array whose items are each read by `item`; item `i` has path `path[i]`.
/// Returns `None` if the array or any item is wrong (all items are checked).
pub(crate) fn list<T>(
    value: &Value,
    path: &str,
    errs: &mut Errors,
    item: impl Fn(&Value, &str, &mut Errors) -> Option<T>,
) -> Option<Vec<T>> {
    let items = array(value, path, errs)?;
    let mut out = Vec::with_capacity(items.len());
    let mut all_good = true;
    for (index, value) in items.iter().enumerate() {
        match item(value, &format!("{path}[{index}]"), errs) {
            Some(parsed) => out.push(parsed),
            None => all_good = false,
        }
    }
    all_good.then_some(out)
}

/// An array of exactly `N` items (a positional row such as `[gpa, size, flags, map_type]`);
/// `layout` describes the columns in the message when the length is wrong.
pub(crate) fn row<'v, const N: usize>(
    value: &'v Value,
    path: &str,
    errs: &mut Errors,
    layout: &str,
) -> Option<&'v [Value; N]> {
    let items = array(value, path, errs)?;
    match <&[Value; N]>::try_from(items) {
        Ok(row) => Some(row),
        Err(_) => {
            errs.push(
                path,
                format!("expected {N} items {layout}, found {}", items.len()),
            );
            None
        }
    }
}

/// One table of the file, e.g. `[kernel]`, with the path prefix of its fields.
pub(crate) struct Section<'t> {
    table: &'t Table,
    name: &'static str,
}

impl<'t> Section<'t> {
    /// The table `table`, whose fields are reported as `name.<field>`.
    pub(crate) fn new(table: &'t Table, name: &'static str) -> Self {
        Self { table, name }
    }

    /// The path of field `key`.
    pub(crate) fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.name)
    }

    /// Records every field not in `accepted`, listing the accepted names.
    pub(crate) fn reject_unknown(&self, accepted: &[&str], errs: &mut Errors) {
        for key in self.table.keys() {
            if !accepted.contains(&key.as_str()) {
                errs.push(
                    self.path(key),
                    format!(
                        "unknown field in `[{}]`; accepted fields: {}",
                        self.name,
                        accepted.join(", ")
                    ),
                );
            }
        }
    }

    /// Reads field `key` with `read`; records an error if it is absent.
    pub(crate) fn required<T>(
        &self,
        key: &str,
        errs: &mut Errors,
        read: impl FnOnce(&'t Value, &str, &mut Errors) -> Option<T>,
    ) -> Option<T> {
        match self.table.get(key) {
            Some(value) => read(value, &self.path(key), errs),
            None => {
                errs.push(self.path(key), "missing required field");
                None
            }
        }
    }

    /// Reads field `key` with `read` if it is present.
    pub(crate) fn optional<T>(
        &self,
        key: &str,
        errs: &mut Errors,
        read: impl FnOnce(&'t Value, &str, &mut Errors) -> Option<T>,
    ) -> Option<T> {
        let value = self.table.get(key)?;
        read(value, &self.path(key), errs)
    }

    /// Reads field `key`, if present, as an array whose items are read by `item`.
    pub(crate) fn optional_list<T>(
        &self,
        key: &str,
        errs: &mut Errors,
        item: impl Fn(&Value, &str, &mut Errors) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.optional(key, errs, |value, path, errs| list(value, path, errs, item))
    }
}
