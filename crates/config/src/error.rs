//! The error type: one problem in a config file, naming the file, the field and the reason.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// One problem found in a VM config file.
///
/// Displays as ``{file}: field `{field}`: {reason}``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file, as named by the caller (only used in messages).
    pub file: String,
    /// The path of the offending field, e.g. `devices.emu_devices[0][1]`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: field `{}`: {}", self.file, self.field, self.reason)
    }
}

impl core::error::Error for ConfigError {}

/// Collects the problems found while reading one file.
pub(crate) struct Errors {
    file: String,
    list: Vec<ConfigError>,
}

impl Errors {
    /// An empty collection for `file`.
    pub(crate) fn new(file: &str) -> Self {
        Self {
            file: String::from(file),
            list: Vec::new(),
        }
    }

    /// Records that `field` is wrong because of `reason`.
    pub(crate) fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.list.push(ConfigError {
            file: self.file.clone(),
            field: field.into(),
            reason: reason.into(),
        });
    }

    /// How many problems have been recorded so far.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The recorded problems.
    pub(crate) fn into_vec(self) -> Vec<ConfigError> {
        self.list
    }
}
