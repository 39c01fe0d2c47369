//! Argument parsing, and images made, extended and read back with `tessera-fat`.

use super::*;
use clap::Parser;
use tessera_fat::FileErrorKind;

/// `cargo xtask disk-img` arguments on their own.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn parse(line: &[&str]) -> Result<Args, clap::Error> {
    Cli::try_parse_from(std::iter::once("disk-img").chain(line.iter().copied())).map(|c| c.args)
}

const GUEST_CONFIG: &str = include_str!("../../../configs/vms/guest-aarch64.toml");

/// The test guest config with its kernel on the disk at `kernel`.
fn fs_config(kernel: &str) -> String {
    GUEST_CONFIG
        .replace("image_location = \"memory\"", "image_location = \"fs\"")
        .replace("target/guests/aarch64/test-guest.bin", kernel)
}

/// A fresh folder under the system's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-disk-img-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mount(image: &Path) -> Volume<FileDevice> {
    Volume::mount(FileDevice(File::open(image).unwrap())).unwrap()
}

#[test]
fn defaults() {
    let args = parse(&[]).unwrap();
    assert_eq!(
        args,
        Args {
            out: PathBuf::from("target/disk.img"),
            size_mib: None,
            add: vec![],
            configs: vec![],
            new: false,
        }
    );
}

#[test]
fn every_option_and_repeats() {
    let args = parse(&[
        "--out",
        "x.img",
        "--size-mib",
        "128",
        "--add",
        "target/guests/aarch64/linux/Image",
        "--add",
        "initramfs.cpio:/images/initrd.cpio",
        "--add",
        "dtb.bin:boot/virt.dtb",
        "--config",
        "configs/vms/a.toml",
        "--config",
        "b.toml",
        "--new",
    ])
    .unwrap();
    assert_eq!(args.out, PathBuf::from("x.img"));
    assert_eq!(args.size_mib, Some(128));
    assert!(args.new);
    let add: Vec<(&str, &str)> = args
        .add
        .iter()
        .map(|a| (a.host.to_str().unwrap(), a.disk.as_str()))
        .collect();
    assert_eq!(
        add,
        [
            ("target/guests/aarch64/linux/Image", "/Image"),
            ("initramfs.cpio", "/images/initrd.cpio"),
            ("dtb.bin", "/boot/virt.dtb"),
        ]
    );
    assert_eq!(
        args.configs,
        [PathBuf::from("configs/vms/a.toml"), PathBuf::from("b.toml")]
    );
}

#[test]
fn bad_additions_are_refused() {
    for (spec, reason) in [
        (":/images/x", "no host file before the ':'"),
        ("Image:", "names no file on the disk"),
        ("Image:/", "names no file on the disk"),
        ("Image:/a/../b", "`.` and `..` are not allowed"),
        ("Image:/a/b?c", "FAT names cannot hold '?'"),
        ("/", "no file name to put on the disk"),
    ] {
        let error = Addition::parse(spec).unwrap_err();
        assert!(error.contains(reason), "{spec}: {error}");
        assert!(error.starts_with(&format!("--add {spec}: ")), "{error}");
        assert!(parse(&["--add", spec]).is_err());
    }
    assert!(parse(&["--size-mib", "lots"]).is_err());
}

#[test]
fn image_round_trip() {
    let dir = scratch("round-trip");
    let kernel: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 513) as u8).collect();
    std::fs::write(dir.join("Image"), &kernel).unwrap();
    std::fs::write(dir.join("notes.txt"), b"hello").unwrap();
    std::fs::write(dir.join("guest.toml"), fs_config("/images/Image-6.1")).unwrap();
    let out = dir.join("out/disk.img");
    let args = parse(&[
        "--out",
        out.to_str().unwrap(),
        "--size-mib",
        "34",
        "--add",
        &format!("{}:/images/Image-6.1", dir.join("Image").display()),
        "--add",
        dir.join("notes.txt").to_str().unwrap(),
        "--config",
        dir.join("guest.toml").to_str().unwrap(),
    ])
    .unwrap();
    run(&args).unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 34 << 20);
    let mut volume = mount(&out);
    assert_eq!(
        volume.read_to_vec("/images/Image-6.1", 1 << 20).unwrap(),
        kernel
    );
    assert_eq!(volume.read_to_vec("/notes.txt", 16).unwrap(), b"hello");
    let configs = read_vm_configs(&mut volume).unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].file, "disk:/vms/guest.toml");
    assert_eq!(
        configs[0].result.as_ref().unwrap().kernel.kernel_path,
        "/images/Image-6.1"
    );
    assert!(check(&out).unwrap().is_empty());

    // Without --new, files are added to the image and replaced by name.
    std::fs::write(dir.join("notes.txt"), b"second").unwrap();
    let again = parse(&[
        "--out",
        out.to_str().unwrap(),
        "--add",
        &format!("{}:/docs/a/b/notes.txt", dir.join("notes.txt").display()),
        "--add",
        dir.join("notes.txt").to_str().unwrap(),
    ])
    .unwrap();
    run(&again).unwrap();
    let mut volume = mount(&out);
    assert_eq!(volume.read_to_vec("/notes.txt", 16).unwrap(), b"second");
    assert_eq!(
        volume.read_to_vec("/docs/a/b/notes.txt", 16).unwrap(),
        b"second"
    );
    assert_eq!(volume.file_size("/images/Image-6.1").unwrap(), 300_000);

    // --new starts over.
    let fresh = parse(&["--out", out.to_str().unwrap(), "--size-mib", "40", "--new"]).unwrap();
    run(&fresh).unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 40 << 20);
    let error = mount(&out).stat("/notes.txt").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::NotFound { .. }));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_config_leaves_no_image() {
    let dir = scratch("bad-config");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, GUEST_CONFIG.replace("cpu_num = 1", "cpu_num = 0")).unwrap();
    let out = dir.join("disk.img");
    let args = parse(&[
        "--out",
        out.to_str().unwrap(),
        "--config",
        bad.to_str().unwrap(),
        "--add",
        dir.join("missing.bin").to_str().unwrap(),
    ])
    .unwrap();
    let error = run(&args).unwrap_err().to_string();
    assert!(
        error.contains(&format!("{}: field `base.cpu_num`", bad.display())),
        "{error}"
    );
    assert!(error.contains("missing.bin: cannot read"), "{error}");
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_and_misplaced_images_are_warned_about() {
    let dir = scratch("warnings");
    std::fs::write(dir.join("a.toml"), fs_config("/images/nowhere")).unwrap();
    std::fs::write(dir.join("b.toml"), GUEST_CONFIG).unwrap();
    let out = dir.join("disk.img");
    let args = parse(&[
        "--out",
        out.to_str().unwrap(),
        "--size-mib",
        "34",
        "--config",
        dir.join("a.toml").to_str().unwrap(),
        "--config",
        dir.join("b.toml").to_str().unwrap(),
    ])
    .unwrap();
    run(&args).unwrap();
    let warnings = check(&out).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "disk:/vms/a.toml: field `kernel.kernel_path`: image file \"/images/nowhere\" not found"
        ),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("disk:/vms/b.toml: kernel.image_location is \"memory\"; "),
        "{warnings:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn too_small_an_image_is_refused() {
    let dir = scratch("small");
    let out = dir.join("disk.img");
    let args = parse(&["--out", out.to_str().unwrap(), "--size-mib", "16"]).unwrap();
    let error = run(&args).unwrap_err().to_string();
    assert_eq!(error, "--size-mib 16: FAT32 needs at least 34 MiB");
    let _ = std::fs::remove_dir_all(&dir);
}
