//! VM configs on the disk: every `/vms/*.toml`, read with a size limit and checked
//! by the same `tessera-config` entry the build uses, so a config gets the same
//! messages wherever it is checked.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use tessera_config::{ConfigError, VmConfig};
use tessera_fat::{BlockDevice, FileError, FileErrorKind, Volume};

/// The folder holding the VM configs.
pub const CONFIG_DIR: &str = "/vms";
/// Largest config file read.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// Put before a path on the disk in messages (`disk:/vms/linux.toml`).
pub const DISK_PREFIX: &str = "disk:";

/// One config file of the disk and what came of it.
#[derive(Clone, Debug)]
pub struct DiskConfig {
    /// The file as messages name it, e.g. `disk:/vms/linux.toml`.
    pub file: String,
    /// The checked config, or why there is none.
    pub result: Result<VmConfig, DiskConfigError>,
}

/// Why a config file of the disk gave no VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskConfigError {
    /// The file could not be read (too large, damaged chain, device error).
    Read {
        /// The file, e.g. `disk:/vms/linux.toml`.
        file: String,
        /// Why.
        reason: FileErrorKind,
    },
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// The file.
        file: String,
        /// Offset of the first byte that is not.
        offset: usize,
    },
    /// The config breaks the schema's rules: every problem found, each naming the
    /// file, the field and the reason.
    Invalid(Vec<ConfigError>),
}

impl DiskConfigError {
    /// One message per problem, each naming the file.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Self::Invalid(errors) => errors.iter().map(ToString::to_string).collect(),
            other => alloc::vec![format!("{other}")],
        }
    }
}

impl fmt::Display for DiskConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { file, reason } => {
                write!(f, "{file}: cannot read the VM config: {reason}")
            }
            Self::NotUtf8 { file, offset } => {
                write!(f, "{file}: the VM config is not UTF-8 text (byte {offset})")
            }
            Self::Invalid(errors) => {
                for (i, error) in errors.iter().enumerate() {
                    let separator = if i == 0 { "" } else { "; " };
                    write!(f, "{separator}{error}")?;
                }
                Ok(())
            }
        }
    }
}

impl core::error::Error for DiskConfigError {}

/// Reads and checks every `*.toml` file in `/vms` (not in folders below it), in
/// name order; other files and folders are skipped. A bad file gives an error in
/// its own entry and the others are still read. A disk without `/vms` has no
/// configs; an error is returned only when `/vms` cannot be listed.
pub fn read_vm_configs<D: BlockDevice>(
    volume: &mut Volume<D>,
) -> Result<Vec<DiskConfig>, FileError> {
    let entries = match volume.read_dir(CONFIG_DIR) {
        Ok(entries) => entries,
        Err(FileError {
            kind: FileErrorKind::NotFound { .. },
            ..
        }) => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut names: Vec<String> = entries
        .into_iter()
        .filter(|entry| !entry.is_dir && is_toml(&entry.name))
        .map(|entry| entry.name)
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| read_vm_config(volume, &format!("{CONFIG_DIR}/{name}")))
        .collect())
}

/// Whether a file name ends in `.toml`, in any case (FAT ignores case).
fn is_toml(name: &str) -> bool {
    name.len() > 5
        && name
            .get(name.len() - 5..)
            .is_some_and(|end| end.eq_ignore_ascii_case(".toml"))
}

/// Reads and checks the one config file at `path` (anywhere on the disk: the
/// hypervisor shell's `vm create` names one), as [`read_vm_configs`] reads each.
pub fn read_vm_config<D: BlockDevice>(volume: &mut Volume<D>, path: &str) -> DiskConfig {
    let file = format!("{DISK_PREFIX}{path}");
    let result = match volume.read_to_vec(path, MAX_CONFIG_BYTES) {
        Err(error) => Err(DiskConfigError::Read {
            file: file.clone(),
            reason: error.kind,
        }),
        Ok(bytes) => match core::str::from_utf8(&bytes) {
            Err(error) => Err(DiskConfigError::NotUtf8 {
                file: file.clone(),
                offset: error.valid_up_to(),
            }),
            Ok(text) => VmConfig::from_toml(&file, text).map_err(DiskConfigError::Invalid),
        },
    };
    DiskConfig { file, result }
}
