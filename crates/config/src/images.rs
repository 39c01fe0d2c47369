//! Checking the image files a config names: they exist, and each fits in guest
//! RAM from its load address.

use alloc::format;
use alloc::vec::Vec;

use crate::error::{ConfigError, Errors};
use crate::model::VmConfig;
use crate::span::{Hex, Span};
use crate::validate::span;

/// One image to check: its field prefix (`kernel`, `dtb`, ...), path and load address.
struct Image<'c> {
    what: &'static str,
    path: &'c str,
    load_addr: Option<u64>,
}

/// See [`VmConfig::check_images`].
pub(crate) fn check(
    config: &VmConfig,
    file: &str,
    file_size: &dyn Fn(&str) -> Option<u64>,
) -> Vec<ConfigError> {
    let mut errs = Errors::new(file);
    for image in images(config) {
        let path_field = format!("kernel.{}_path", image.what);
        let Some(size) = file_size(image.path) else {
            errs.push(
                path_field,
                format!("image file \"{}\" not found", image.path),
            );
            continue;
        };
        // Without a load address (already reported by `from_toml`) or without
        // listed regions (RAM then comes from the device tree) there is
        // nothing to fit the image into here.
        let Some(load_addr) = image.load_addr else {
            continue;
        };
        if config.kernel.memory_regions.is_empty() {
            continue;
        }
        let image_span = Span::new(load_addr, size);
        let fits = config
            .kernel
            .memory_regions
            .iter()
            .any(|region| span(region).covers(image_span));
        if !fits {
            errs.push(
                format!("kernel.{}_load_addr", image.what),
                format!(
                    "{} image \"{}\" ({} bytes) loaded at {} would occupy {}, which is not inside one guest RAM region",
                    image.what,
                    image.path,
                    size,
                    Hex(load_addr),
                    image_span
                ),
            );
        }
    }
    errs.into_vec()
}

/// The kernel image, then each optional image the config names that is loaded (a
/// `bios_path` image never is: see `offered`).
fn images(config: &VmConfig) -> Vec<Image<'_>> {
    let kernel = &config.kernel;
    let mut images = Vec::new();
    images.push(Image {
        what: "kernel",
        path: &kernel.kernel_path,
        load_addr: Some(kernel.kernel_load_addr),
    });
    let optional = [
        ("dtb", &kernel.dtb_path, kernel.dtb_load_addr),
        ("ramdisk", &kernel.ramdisk_path, kernel.ramdisk_load_addr),
    ];
    for (what, path, load_addr) in optional {
        if let Some(path) = path {
            images.push(Image {
                what,
                path,
                load_addr,
            });
        }
    }
    images
}
