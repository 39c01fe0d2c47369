//! Reading `/vms/*.toml` from the disk.

use super::{Disk, GUEST_CONFIG, LINUX_CONFIG};
use crate::configs::{DiskConfigError, read_vm_config, read_vm_configs};
use tessera_config::ImageLocation;
use tessera_fat::FileErrorKind;

/// The Linux config with its images on the disk.
fn linux_on_disk() -> String {
    LINUX_CONFIG
        .replace("image_location = \"memory\"", "image_location = \"fs\"")
        .replace("target/guests/aarch64/linux/", "/images/")
}

#[test]
fn good_and_bad_configs_are_reported_one_by_one() {
    let linux = linux_on_disk();
    let bad = GUEST_CONFIG.replace("cpu_num = 1", "cpu_num = 0");
    let disk = Disk::with(&[
        ("/vms/linux.toml", linux.as_bytes()),
        ("/vms/bad.toml", bad.as_bytes()),
        ("/vms/README.txt", b"not a config"),
        ("/vms/old.toml/", b""),
        ("/vms/nested/other.toml", GUEST_CONFIG.as_bytes()),
        ("/linux.toml", linux.as_bytes()),
    ]);
    let configs = read_vm_configs(&mut disk.mount()).unwrap();
    let files: Vec<&str> = configs.iter().map(|config| config.file.as_str()).collect();
    assert_eq!(files, ["disk:/vms/bad.toml", "disk:/vms/linux.toml"]);

    let error = configs[0].result.as_ref().unwrap_err();
    let messages = error.messages();
    assert!(!messages.is_empty());
    for message in &messages {
        assert!(
            message.starts_with("disk:/vms/bad.toml: field `"),
            "{message}"
        );
    }
    assert!(
        messages.iter().any(|m| m.contains("`base.cpu_num`")),
        "{messages:?}"
    );

    let linux = configs[1].result.as_ref().unwrap();
    assert_eq!(linux.base.name, "linux");
    assert_eq!(linux.kernel.image_location, ImageLocation::Fs);
    assert_eq!(linux.kernel.kernel_path, "/images/Image");
}

#[test]
fn messages_match_those_of_the_build() {
    // The build checks the same text with the same entry, under the host path.
    let bad = GUEST_CONFIG.replace("id = 1", "id = \"one\"");
    let disk = Disk::with(&[("/vms/guest.toml", bad.as_bytes())]);
    let configs = read_vm_configs(&mut disk.mount()).unwrap();
    let Err(DiskConfigError::Invalid(on_disk)) = &configs[0].result else {
        panic!("{:?}", configs[0].result);
    };
    let at_build = tessera_config::VmConfig::from_toml("disk:/vms/guest.toml", &bad).unwrap_err();
    assert_eq!(on_disk, &at_build);
}

#[test]
fn disk_without_a_vms_folder_has_no_configs() {
    let disk = Disk::with(&[("/images/Image", b"kernel")]);
    assert!(read_vm_configs(&mut disk.mount()).unwrap().is_empty());
}

#[test]
fn vms_as_a_file_is_an_error() {
    let disk = Disk::with(&[("/vms", b"oops")]);
    let error = read_vm_configs(&mut disk.mount()).unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::NotADirectory { .. }));
    assert_eq!(error.to_string(), "/vms: /vms is a file, not a directory");
}

#[test]
fn oversized_and_binary_configs_are_refused_by_name() {
    let huge = "# padding\n".repeat(7000);
    let disk = Disk::with(&[
        ("/vms/huge.toml", huge.as_bytes()),
        ("/vms/binary.TOML", &[0x5B, 0xFF, 0xFE, 0x5D]),
        ("/vms/guest.toml", GUEST_CONFIG.as_bytes()),
    ]);
    let configs = read_vm_configs(&mut disk.mount()).unwrap();
    assert_eq!(configs.len(), 3);
    assert_eq!(
        configs[0].result.as_ref().unwrap_err().to_string(),
        "disk:/vms/binary.TOML: the VM config is not UTF-8 text (byte 1)"
    );
    assert!(configs[1].result.is_ok());
    assert_eq!(
        configs[2].result.as_ref().unwrap_err().to_string(),
        "disk:/vms/huge.toml: cannot read the VM config: 70000 bytes, larger than the 65536 bytes allowed"
    );
}

#[test]
fn one_config_is_read_from_any_folder() {
    let linux = linux_on_disk();
    let disk = Disk::with(&[("/spare/linux.toml", linux.as_bytes())]);
    let mut volume = disk.mount();
    let found = read_vm_config(&mut volume, "/spare/linux.toml");
    assert_eq!(found.file, "disk:/spare/linux.toml");
    assert_eq!(found.result.unwrap().base.name, "linux");
    // Not a `/vms` config: nothing is created from it at boot.
    assert!(read_vm_configs(&mut volume).unwrap().is_empty());
    let missing = read_vm_config(&mut volume, "/spare/none.toml");
    let Err(DiskConfigError::Read { file, .. }) = &missing.result else {
        panic!("{:?}", missing.result);
    };
    assert_eq!(file, "disk:/spare/none.toml");
}
