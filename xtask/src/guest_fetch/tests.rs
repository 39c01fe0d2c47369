//! Tests of the Linux guest fetch: rows, kernel lookup, image checks, paths.

use super::*;
use crate::workspace;
use flate2::{Compression, write::GzEncoder};
use std::io::Write;

/// A host `debian.sources` like Debian's default, plus entries that must be ignored.
const HOST: &str = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian-security
Suites: bookworm-security
Components: main
Enabled: no

types: deb
uris: http://security.example/debian-security
suites: bookworm-security
components: main contrib
signed-by:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZ...
 -----END PGP PUBLIC KEY BLOCK-----
";

/// The bookworm suites of the aarch64 row.
const SUITES: &[(&str, &str)] = &[
    ("bookworm", "bookworm"),
    ("bookworm-updates", "bookworm"),
    ("bookworm-security", "bookworm-security"),
];

/// Each suite copies the URIs and keyring of the right host entry; deb-src and
/// disabled entries are skipped; an inline key keeps its continuation lines.
#[test]
fn private_sources_copy_host_entries() {
    let text = private_sources(&[HOST.to_string()], SUITES).unwrap();
    let expected = "\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian
Suites: bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZ...
 -----END PGP PUBLIC KEY BLOCK-----
";
    assert_eq!(text, expected);
    // The result parses back into three stanzas.
    let stanzas = parse_deb822(&text);
    assert_eq!(stanzas.len(), 3);
    assert_eq!(stanzas[2].words("Suites"), ["bookworm-security"]);
}

/// Entries spread over several files are found; a missing suite is an error naming it.
#[test]
fn private_sources_across_files_and_missing_suite() {
    let main = "Types: deb\nURIs: http://a.example/debian\nSuites: bookworm\nComponents: main\n";
    let security = "Types: deb\nURIs: http://b.example/debian-security\n\
                        Suites: bookworm-security\nComponents: main\n";
    let text = private_sources(&[main.to_string(), security.to_string()], SUITES).unwrap();
    assert!(text.contains("URIs: http://b.example/debian-security\nSuites: bookworm-security"));
    assert!(!text.contains("Signed-By"));
    let err = private_sources(&[main.to_string()], SUITES).unwrap_err();
    assert!(err.to_string().contains("bookworm-security"), "{err}");
}

/// `apt-cache show` output of two versions of the metapackage, older first.
const SHOW: &str = "\
Package: linux-image-arm64
Source: linux-signed-arm64 (6.1.176+1)
Version: 6.1.176-1
Architecture: arm64
Depends: linux-image-6.1.0-50-arm64 (= 6.1.176-1)
Description: Linux for 64-bit ARMv8 machines (meta-package)

Package: linux-image-arm64
Source: linux-signed-arm64 (6.1.192+2)
Version: 6.1.192-2
Architecture: arm64
Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)
Description: Linux for 64-bit ARMv8 machines (meta-package)
";

/// The lookup of the aarch64 row.
const ARM64: KernelLookup = KernelLookup::MetaDepends("linux-image-arm64");

/// The highest ABI wins, whatever the stanza order.
#[test]
fn newest_kernel_from_apt_cache_show() {
    assert_eq!(
        newest_kernel(&ARM64, SHOW, "linux-image-", "-arm64").as_deref(),
        Some("linux-image-6.1.0-56-arm64")
    );
}

/// ABIs compare as numbers (10 > 9); flavours and unsigned builds are not kernels.
#[test]
fn newest_kernel_compares_numbers_and_skips_flavours() {
    let show = "Depends: linux-image-6.1.0-9-arm64 (= 6.1.27-1)\n\
                    Depends: linux-image-6.1.0-10-arm64 (= 6.1.38-1), foo\n\
                    Depends: linux-image-6.1.0-99-rt-arm64, linux-image-6.1.0-98-arm64-unsigned\n\
                    Recommends: linux-image-9.9.9-99-arm64\n";
    assert_eq!(
        newest_kernel(&ARM64, show, "linux-image-", "-arm64").as_deref(),
        Some("linux-image-6.1.0-10-arm64")
    );
    assert_eq!(
        newest_kernel(&ARM64, "Depends: busybox\n", "linux-image-", "-arm64"),
        None
    );
}

/// `apt-cache pkgnames linux-binary-` in sid, during a kernel transition.
const PKGNAMES: &str = "\
linux-binary-7.2.9+deb14-riscv64
linux-binary-7.10.1+deb14-riscv64
linux-binary-7.2.13+deb14-riscv64
linux-binary-7.10.1+deb14-riscv64-dbg
linux-binary-7.11.0+deb14-rt-riscv64
linux-binary-riscv64
";

/// Among package names, the newest `linux-binary-<release>-riscv64` wins, releases
/// with `+deb14` comparing by their numbers; flavours, debug packages and names
/// without a release are skipped. Depends lines are not names.
#[test]
fn newest_kernel_from_apt_cache_pkgnames() {
    let newest = |text| newest_kernel(&KernelLookup::Names, text, "linux-binary-", "-riscv64");
    assert_eq!(
        newest(PKGNAMES).as_deref(),
        Some("linux-binary-7.10.1+deb14-riscv64")
    );
    assert_eq!(
        newest("linux-binary-7.2.9+deb14-riscv64\nlinux-binary-7.2.13+deb14-riscv64\n").as_deref(),
        Some("linux-binary-7.2.13+deb14-riscv64")
    );
    assert_eq!(
        newest("Depends: linux-binary-7.2.13+deb14-riscv64 (= 7.2.13-1)\n"),
        None
    );
    assert_eq!(newest(""), None);
}

/// Each row finds its kernel where Debian puts it.
#[test]
fn kernel_files() {
    let row = |arch: &str| LINUX_SOURCES.iter().find(|s| s.arch == arch).unwrap();
    assert_eq!(
        row("aarch64").kernel_file("linux-image-6.1.0-56-arm64"),
        "boot/vmlinuz-6.1.0-56-arm64"
    );
    assert_eq!(
        row("riscv64").kernel_file("linux-binary-7.2.13+deb14-riscv64"),
        "usr/lib/modules/7.2.13+deb14-riscv64/vmlinuz"
    );
    assert_eq!(
        row("x86_64").kernel_file("linux-image-6.1.0-56-amd64"),
        "boot/vmlinuz-6.1.0-56-amd64"
    );
}

/// The row of `arch` in [`LINUX_SOURCES`].
fn row(arch: &str) -> &'static LinuxSource {
    LINUX_SOURCES.iter().find(|s| s.arch == arch).unwrap()
}

/// x86_64 comes from bookworm and its security suite, like aarch64, through the
/// amd64 metapackage, and is kept as a bzImage.
#[test]
fn x86_64_row() {
    let row = row("x86_64");
    assert_eq!((row.debarch, row.release), ("amd64", "bookworm"));
    assert_eq!(row.suites, SUITES);
    assert!(matches!(
        row.kernel_lookup,
        KernelLookup::MetaDepends("linux-image-amd64")
    ));
    assert_eq!(
        (row.kernel_prefix, row.kernel_suffix),
        ("linux-image-", "-amd64")
    );
    assert_eq!(row.busybox, "busybox-static");
    assert_eq!(
        (row.image.name, row.image.packing),
        ("bzImage", Packing::Raw)
    );
    // Every architecture has one row, and each unpacks as its Debian kernel needs.
    let packings: Vec<_> = LINUX_SOURCES
        .iter()
        .map(|s| (s.arch, s.image.name, s.image.packing))
        .collect();
    assert_eq!(
        packings,
        [
            ("aarch64", "Image", Packing::MaybeGzip),
            ("riscv64", "Image", Packing::Raw),
            ("x86_64", "bzImage", Packing::Raw),
        ]
    );
}

/// The amd64 metapackage's newest `Depends` wins, as for arm64.
#[test]
fn newest_kernel_amd64() {
    let show = SHOW.replace("arm64", "amd64");
    let row = row("x86_64");
    assert_eq!(
        newest_kernel(
            &row.kernel_lookup,
            &show,
            row.kernel_prefix,
            row.kernel_suffix
        )
        .as_deref(),
        Some("linux-image-6.1.0-56-amd64")
    );
    assert_eq!(
        newest_kernel(
            &row.kernel_lookup,
            SHOW,
            row.kernel_prefix,
            row.kernel_suffix
        ),
        None
    );
}

/// busybox is found in `/bin` (bookworm) or `/usr/bin` (sid).
#[test]
fn busybox_in_bin_or_usr_bin() {
    let dir = std::env::temp_dir().join(format!("tessera-busybox-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("usr/bin")).unwrap();
    assert!(find_busybox(&dir, "busybox-static").is_err());
    std::fs::write(dir.join("usr/bin/busybox"), b"BUSYBOX").unwrap();
    assert_eq!(
        find_busybox(&dir, "busybox-static").unwrap(),
        dir.join("usr/bin/busybox")
    );
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/busybox"), b"BUSYBOX").unwrap();
    assert_eq!(
        find_busybox(&dir, "busybox-static").unwrap(),
        dir.join("bin/busybox")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fake arm64 image header: 64 bytes with the magic at 0x38.
fn fake_image() -> Vec<u8> {
    let mut image = vec![0u8; 64];
    image[0x38..0x3c].copy_from_slice(b"ARM\x64");
    image.extend_from_slice(b"kernel text");
    image
}

/// `data` gzip-compressed.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// The aarch64 row gunzips a compressed vmlinuz, takes an uncompressed one as it
/// is, and checks the arm64 magic either way.
#[test]
fn kernel_image_aarch64_gunzips_and_checks_magic() {
    let image = &row("aarch64").image;
    assert_eq!(image.unpack(&gzip(&fake_image())).unwrap(), fake_image());
    // Debian's arm64 vmlinuz is not always compressed.
    assert_eq!(image.unpack(&fake_image()).unwrap(), fake_image());
    assert!(image.unpack(&gzip(b"MZ not an image")).is_err());
    assert!(image.unpack(b"MZ not an image either").is_err());
}

/// The riscv64 row takes an uncompressed image with `RISCV\0\0\0` at 0x30 and
/// `RSC\x05` at 0x38 and refuses an arm64 one.
#[test]
fn kernel_image_riscv64_magic() {
    let row = row("riscv64");
    let mut image = vec![0u8; 64];
    image[..2].copy_from_slice(b"MZ");
    image[0x30..0x3c].copy_from_slice(b"RISCV\0\0\0RSC\x05");
    assert_eq!(row.image.unpack(&image).unwrap(), image);
    assert!(row.image.unpack(&fake_image()).is_err());
    image[0x38] = b'X';
    assert!(row.image.unpack(&image).is_err());
}

/// A minimal bzImage: an EFI-stub boot sector with its 0x55 0xaa signature, a jump,
/// and a setup header starting with "HdrS" at 0x202, then some kernel bytes.
fn fake_bzimage() -> Vec<u8> {
    let mut image = vec![0u8; 0x400];
    image[..2].copy_from_slice(b"MZ");
    image[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    image[0x200..0x202].copy_from_slice(&[0xeb, 0x6a]);
    image[0x202..0x206].copy_from_slice(b"HdrS");
    image[0x206..0x208].copy_from_slice(&0x020f_u16.to_le_bytes());
    image.extend_from_slice(b"compressed kernel");
    image
}

/// The x86_64 row keeps a bzImage byte for byte (no gunzip) and refuses a gzip
/// blob, an arm64 Image, a file without the boot sector signature and a file too
/// short to hold the setup header, each with a message saying why.
#[test]
fn kernel_image_x86_64_keeps_bzimage() {
    let image = &row("x86_64").image;
    assert_eq!(image.unpack(&fake_bzimage()).unwrap(), fake_bzimage());
    let refused = |file: &[u8]| image.unpack(file).unwrap_err().to_string();
    let gzipped = refused(&gzip(&fake_bzimage()));
    assert!(gzipped.starts_with("not a bzImage: "), "{gzipped}");
    let arm64 = refused(&fake_image());
    assert!(arm64.contains("too short"), "{arm64}");
    let mut padded_arm64 = fake_image();
    padded_arm64.resize(0x400, 0);
    let padded = refused(&padded_arm64);
    assert!(padded.contains("offset 0x1fe"), "{padded}");
    let mut no_signature = fake_bzimage();
    no_signature[0x1ff] = 0;
    let signature = refused(&no_signature);
    assert!(
        signature.contains("\"U\\x00\" at offset 0x1fe"),
        "{signature}"
    );
    let mut no_header = fake_bzimage();
    no_header[0x205] = b'Z';
    assert_eq!(
        refused(&no_header),
        "not a bzImage: \"HdrZ\" at offset 0x202 instead of \"HdrS\""
    );
    assert_eq!(
        refused(&fake_bzimage()[..0x204]),
        "not a bzImage: 516 bytes, too short for \"HdrS\" at offset 0x202"
    );
}

/// Paths inside `target/guests/<arch>/linux/` name their architecture.
#[test]
fn linux_guest_paths() {
    let arch = |p: &str| linux_guest_arch(Path::new(p));
    assert_eq!(
        arch("target/guests/aarch64/linux/Image").as_deref(),
        Some("aarch64")
    );
    assert_eq!(
        arch("./target/guests/riscv64/linux/initramfs.cpio").as_deref(),
        Some("riscv64")
    );
    assert_eq!(
        arch("target/guests/x86_64/linux/bzImage").as_deref(),
        Some("x86_64")
    );
    assert_eq!(arch("target/guests/aarch64/test-guest.bin"), None);
    assert_eq!(arch("target/guests/aarch64/linux"), None);
    assert_eq!(arch("/abs/target/guests/aarch64/linux/Image"), None);
}

/// Architectures without a row are refused with a clear message.
#[test]
fn unsupported_arch() {
    let err = ensure_linux("loongarch64").err().unwrap();
    assert_eq!(
        err.to_string(),
        "Linux guest for loongarch64 not supported yet"
    );
}

/// Configs naming a file under `target/guests/<arch>/linux/` fetch that guest:
/// always for a supported arch (x86_64 included), when missing for another (refused
/// then, with the config named); other configs, and unreadable ones, fetch nothing.
#[test]
fn configs_trigger_the_fetch() {
    let dir = std::env::temp_dir().join(format!("tessera-xtask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let x86 = config(
        "x86.toml",
        "[kernel]\nkernel_path = \"target/guests/x86_64/linux/bzImage\"\n\
             ramdisk_path = \"target/guests/x86_64/linux/initramfs.cpio\"\n",
    );
    let other = config(
        "other.toml",
        "[kernel]\nkernel_path = \"target/guests/loongarch64/linux/Image\"\n",
    );
    let plain = config(
        "plain.toml",
        "[kernel]\nkernel_path = \"target/guests/aarch64/test-guest.bin\"\n",
    );
    let broken = config("broken.toml", "[kernel\n");
    let missing = dir.join("missing.toml");
    let named = linux_guests_named(&[plain.clone(), x86.clone(), broken.clone()]);
    let named: Vec<_> = named
        .iter()
        .map(|n| (n.arch.as_str(), n.key, n.path.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (
                "x86_64",
                "kernel_path",
                "target/guests/x86_64/linux/bzImage"
            ),
            (
                "x86_64",
                "ramdisk_path",
                "target/guests/x86_64/linux/initramfs.cpio"
            ),
        ]
    );
    ensure_for_configs(&[plain.clone(), broken, missing]).unwrap();
    let err = ensure_for_configs(&[plain, other.clone()]).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains(&other.display().to_string()), "{text}");
    assert!(
        text.contains("Linux guest for loongarch64 not supported yet"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The initramfs holds the folders, the console node, busybox, `/bin/sh` and `/init`.
#[test]
fn initramfs_contents() {
    let archive = initramfs(b"BUSYBOX", b"#!/bin/busybox sh\n").unwrap();
    let entries = cpio::testing::parse(&archive);
    let entry = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    for dir in [
        "dev", "proc", "sys", "tmp", "root", "etc", "bin", "sbin", "usr/bin", "usr/sbin",
    ] {
        assert_eq!(entry(dir).mode & 0o170_000, cpio::S_IFDIR, "{dir}");
    }
    let console = entry("dev/console");
    assert_eq!(
        (console.mode, console.rdev),
        (cpio::S_IFCHR | 0o600, (5, 1))
    );
    let busybox = entry("bin/busybox");
    assert_eq!(
        (busybox.mode, busybox.data.as_slice()),
        (cpio::S_IFREG | 0o755, &b"BUSYBOX"[..])
    );
    assert_eq!(entry("bin/sh").mode, cpio::S_IFLNK | 0o777);
    assert_eq!(entry("bin/sh").data, b"busybox");
    let init = entry("init");
    assert_eq!(init.mode, cpio::S_IFREG | 0o755);
    assert_eq!(init.data, b"#!/bin/busybox sh\n");
    // Every folder comes before what it holds.
    for (i, e) in entries.iter().enumerate() {
        if let Some((parent, _)) = e.name.rsplit_once('/') {
            assert!(entries[..i].iter().any(|p| p.name == parent), "{}", e.name);
        }
    }
}

/// The init script in the repository parses as an initramfs `/init`: a busybox
/// shebang and the markers the boot tests look for.
#[test]
fn init_script_markers() {
    let script = std::fs::read_to_string(workspace::root().join(INIT_SCRIPT)).unwrap();
    assert!(script.starts_with("#!/bin/busybox sh\n"));
    for marker in [
        "tessera-linux: uname ",
        "tessera-linux: online cpus ",
        "tessera-linux: processors ",
        "tessera-linux: timer interrupts ",
        "tessera-linux: ipi interrupts ",
        "tessera-linux: timer rising ",
        "tessera-linux: ipi rising ",
        "tessera-linux: check done",
        "tessera-linux: shell ready",
    ] {
        assert!(script.contains(marker), "{marker}");
    }
}
