//! The VM configs and guest images compiled into this build by `cargo xtask`.

/// One VM's config text and its embedded images (`None` when not given or on disk).
pub struct VmImages {
    /// Path of the config file, for messages.
    pub config_file: &'static str,
    /// The config's TOML text.
    pub config: &'static str,
    /// Kernel image.
    pub kernel: Option<&'static [u8]>,
    /// Device tree blob.
    pub dtb: Option<&'static [u8]>,
    /// Initial ramdisk.
    pub ramdisk: Option<&'static [u8]>,
}

include!(concat!(env!("TESSERA_GENERATED_DIR"), "/vm_images.rs"));
