//! `cargo xtask guest fetch linux`: a Linux guest made from Debian packages.
//!
//! Downloads the newest Debian kernel and `busybox-static` for the guest architecture
//! (aarch64 and x86_64: bookworm; riscv64: sid, the only suite that has it) with
//! `apt-get download` under a private apt root in `target/guests/apt-<debarch>/` (its
//! own sources, state, cache and empty dpkg status; the host's keyrings verify the
//! signatures; the host's apt setup is never changed). Writes:
//!
//! - `target/guests/<arch>/linux/Image` (aarch64, riscv64): the raw kernel image, or
//!   `target/guests/x86_64/linux/bzImage`: the bzImage as Debian ships it; each row of
//!   [`LINUX_SOURCES`] says how its image is unpacked and checked ([`KernelImage`]);
//! - `target/guests/<arch>/linux/initramfs.cpio`: an uncompressed newc archive with
//!   busybox, the directories a system needs, `/dev/console`, and `/init` from
//!   `guests/linux/init.sh`.
//!
//! The private sources copy the URIs and `Signed-By` of the host's own Debian entries
//! (deb822 files in `/etc/apt/sources.list.d`), so no mirror is named here.

use crate::cpio;
use anyhow::{Context, Result, bail};
use flate2::read::GzDecoder;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Where the host's apt sources live.
const HOST_SOURCES_DIR: &str = "/etc/apt/sources.list.d";
/// The init script packed as `/init`.
const INIT_SCRIPT: &str = "guests/linux/init.sh";
/// Folders of the initramfs with their permissions, parents first.
const INITRAMFS_DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sbin", 0o755),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
];

/// Where the Linux guest of one architecture comes from. Adding an architecture is
/// adding a row to [`LINUX_SOURCES`].
struct LinuxSource {
    /// Tessera's architecture name (`aarch64`).
    arch: &'static str,
    /// Debian's architecture name (`arm64`).
    debarch: &'static str,
    /// The Debian release, for messages.
    release: &'static str,
    /// Suites of the private sources, each with the host suite whose entry (URIs and
    /// `Signed-By`) it copies.
    suites: &'static [(&'static str, &'static str)],
    /// How the newest kernel package is found.
    kernel_lookup: KernelLookup,
    /// Kernel packages are `<kernel_prefix><release><kernel_suffix>`, the release
    /// starting with the kernel's version (`6.1.0-56`, `7.2.13+deb14`).
    kernel_prefix: &'static str,
    /// See `kernel_prefix`.
    kernel_suffix: &'static str,
    /// Where the kernel package holds the kernel; `{release}` stands for the package
    /// name without `kernel_prefix` (`6.1.0-56-arm64`).
    kernel_file: &'static str,
    /// The package holding a static `busybox` in one of [`BUSYBOX_PATHS`].
    busybox: &'static str,
    /// What the package's kernel file is and how the guest's kernel is made from it.
    image: KernelImage,
}

/// The kernel file of a package: how it is stored, what the guest boots, and the header
/// bytes that prove it is that.
struct KernelImage {
    /// The file written in `target/guests/<arch>/linux/`, named as Linux's own build
    /// names the architecture's boot image (`Image`, `bzImage`).
    name: &'static str,
    /// How the package stores the image.
    packing: Packing,
    /// What the image is, for messages (`arm64 Image`, `bzImage`).
    format: &'static str,
    /// Offsets and bytes the image must hold, every one of them.
    magic: &'static [(usize, &'static [u8])],
}

/// How a package stores the kernel image.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Packing {
    /// gzip-compressed or not (Debian's arm64 `vmlinuz` has been both): gunzipped
    /// before the check when it is.
    MaybeGzip,
    /// As the guest boots it: taken as it is.
    Raw,
}

/// How `apt-cache` finds the newest kernel package of an architecture.
enum KernelLookup {
    /// Among the `Depends` of every version of this metapackage (`apt-cache show`).
    MetaDepends(&'static str),
    /// Among every package name starting with the kernel prefix (`apt-cache pkgnames`).
    Names,
}

/// The architectures a Linux guest can be fetched for.
const LINUX_SOURCES: &[LinuxSource] = &[
    LinuxSource {
        arch: "aarch64",
        debarch: "arm64",
        release: "bookworm",
        // bookworm-updates lives on the same mirror as bookworm; bookworm-security has the
        // newest 6.1 kernel.
        suites: &[
            ("bookworm", "bookworm"),
            ("bookworm-updates", "bookworm"),
            ("bookworm-security", "bookworm-security"),
        ],
        kernel_lookup: KernelLookup::MetaDepends("linux-image-arm64"),
        kernel_prefix: "linux-image-",
        kernel_suffix: "-arm64",
        kernel_file: "boot/vmlinuz-{release}",
        busybox: "busybox-static",
        // Debian's arm64 vmlinuz is the kernel's `Image.gz`.
        image: KernelImage {
            name: "Image",
            packing: Packing::MaybeGzip,
            format: "arm64 Image",
            magic: &[(0x38, b"ARM\x64")],
        },
    },
    LinuxSource {
        arch: "riscv64",
        debarch: "riscv64",
        release: "sid",
        // riscv64 is only in sid, on the mirror of the host's main Debian entry. Its
        // `linux-image-*` packages are empty metapackages; the kernel is in
        // `linux-binary-*`, already uncompressed.
        suites: &[("sid", "bookworm")],
        kernel_lookup: KernelLookup::Names,
        kernel_prefix: "linux-binary-",
        kernel_suffix: "-riscv64",
        kernel_file: "usr/lib/modules/{release}/vmlinuz",
        busybox: "busybox-static",
        image: KernelImage {
            name: "Image",
            packing: Packing::Raw,
            format: "riscv64 Image",
            magic: &[(0x30, b"RISCV\0\0\0"), (0x38, b"RSC\x05")],
        },
    },
    LinuxSource {
        arch: "x86_64",
        debarch: "amd64",
        release: "bookworm",
        // As for aarch64: bookworm-security has the newest 6.1 kernel.
        suites: &[
            ("bookworm", "bookworm"),
            ("bookworm-updates", "bookworm"),
            ("bookworm-security", "bookworm-security"),
        ],
        kernel_lookup: KernelLookup::MetaDepends("linux-image-amd64"),
        kernel_prefix: "linux-image-",
        kernel_suffix: "-amd64",
        kernel_file: "boot/vmlinuz-{release}",
        busybox: "busybox-static",
        // amd64's vmlinuz is a bzImage: real-mode setup code followed by the compressed
        // kernel, which is what the x86 boot protocol loads, so it is kept whole. The
        // boot sector ends with 0x55 0xaa at 0x1fe; the setup header (boot protocol
        // 2.00 and later) starts with "HdrS" at 0x202.
        image: KernelImage {
            name: "bzImage",
            packing: Packing::Raw,
            format: "bzImage",
            magic: &[(0x1fe, &[0x55, 0xaa]), (0x202, b"HdrS")],
        },
    },
];

/// Where a busybox package may hold `busybox`, in the order tried (sid's is merged
/// into `/usr`).
const BUSYBOX_PATHS: &[&str] = &["bin/busybox", "usr/bin/busybox"];

impl LinuxSource {
    /// Where kernel package `package` holds the kernel, relative to its root.
    fn kernel_file(&self, package: &str) -> String {
        let release = package.strip_prefix(self.kernel_prefix).unwrap_or(package);
        self.kernel_file.replace("{release}", release)
    }
}

/// The files of a fetched Linux guest.
pub struct LinuxGuest {
    /// Kernel image (a raw `Image`, or a `bzImage` on x86_64).
    pub image: PathBuf,
    /// Uncompressed newc initramfs.
    pub initramfs: PathBuf,
}

/// The folder holding the Linux guest of `arch`, relative to the workspace root.
fn guest_dir(arch: &str) -> PathBuf {
    Path::new("target/guests").join(arch).join("linux")
}

/// Makes sure the Linux guest of `arch` exists, downloading what is missing. Prints
/// nothing when everything is there already.
pub fn ensure_linux(arch: &str) -> Result<LinuxGuest> {
    let Some(source) = LINUX_SOURCES.iter().find(|s| s.arch == arch) else {
        bail!("Linux guest for {arch} not supported yet");
    };
    let dir = guest_dir(arch);
    let guest = LinuxGuest {
        image: dir.join(source.image.name),
        initramfs: dir.join("initramfs.cpio"),
    };
    let root = std::env::current_dir()
        .context("cannot read the current folder")?
        .join(format!("target/guests/apt-{}", source.debarch));
    // The extracted busybox is kept so an edited init script needs no download.
    let busybox = root.join("busybox");
    let need_kernel = !guest.image.exists();
    let need_busybox = !busybox.exists() && !guest.initramfs.exists();
    if need_kernel || need_busybox {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let apt = AptRoot::prepare(source, root)?;
        let mut wanted = Vec::new();
        if need_kernel {
            wanted.push(Wanted::Kernel(guest.image.clone()));
        }
        if need_busybox {
            wanted.push(Wanted::Busybox(busybox.clone()));
        }
        apt.fetch(source, &wanted)?;
    }
    if busybox.exists() {
        write_initramfs(&busybox, &guest.initramfs)?;
    }
    Ok(guest)
}

/// Fetches the Linux guest of every architecture whose `target/guests/<arch>/linux/`
/// a config's `kernel_path` or `ramdisk_path` names (see [`linux_guests_named`]), then
/// checks the named file is one the fetch writes. Configs that cannot be read or parsed
/// are left to the validation that follows.
pub fn ensure_for_configs(configs: &[PathBuf]) -> Result<()> {
    let mut fetched = BTreeMap::new();
    for named in linux_guests_named(configs) {
        let context = || {
            format!(
                "{}: `kernel.{}` = {:?} needs the Linux guest for {}",
                named.config, named.key, named.path, named.arch
            )
        };
        let guest = match fetched.entry(named.arch.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(ensure_linux(&named.arch).with_context(context)?),
        };
        if !Path::new(&named.path).exists() {
            bail!(
                "{}, but the fetch writes {} and {}",
                context(),
                guest.image.display(),
                guest.initramfs.display()
            );
        }
    }
    Ok(())
}

/// A config's path into `target/guests/<arch>/linux/`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct NamedGuest {
    /// The architecture in the path.
    arch: String,
    /// The config file, for messages.
    config: String,
    /// The `[kernel]` key holding the path.
    key: &'static str,
    /// The path as the config writes it.
    path: String,
}

/// The paths into `target/guests/<arch>/linux/` that the configs' `kernel_path` or
/// `ramdisk_path` name and that need a fetch: every one for an architecture with a
/// row in [`LINUX_SOURCES`] (which costs no download when the files exist, and
/// rebuilds the initramfs after an edit of the init script), and missing ones for
/// others (so the fetch names the missing support).
fn linux_guests_named(configs: &[PathBuf]) -> BTreeSet<NamedGuest> {
    let mut named = BTreeSet::new();
    for config in configs {
        let Ok(text) = std::fs::read_to_string(config) else {
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        let kernel = table.get("kernel").and_then(|k| k.as_table());
        for key in ["kernel_path", "ramdisk_path"] {
            let Some(path) = kernel.and_then(|k| k.get(key)).and_then(|v| v.as_str()) else {
                continue;
            };
            if let Some(arch) = linux_guest_arch(Path::new(path))
                && (!Path::new(path).exists() || LINUX_SOURCES.iter().any(|s| s.arch == arch))
            {
                named.insert(NamedGuest {
                    arch,
                    config: config.display().to_string(),
                    key,
                    path: path.to_string(),
                });
            }
        }
    }
    named
}

/// The architecture of a path inside `target/guests/<arch>/linux/`, if it is one.
fn linux_guest_arch(path: &Path) -> Option<String> {
    let mut parts = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        });
    let (target, guests, arch, linux, file) = (
        parts.next()??,
        parts.next()??,
        parts.next()??,
        parts.next()??,
        parts.next(),
    );
    (target == "target" && guests == "guests" && linux == "linux" && file.is_some())
        .then(|| arch.to_string())
}

/// What a fetch must produce.
enum Wanted {
    /// The kernel image, written to this path.
    Kernel(PathBuf),
    /// The static busybox binary, written to this path.
    Busybox(PathBuf),
}

/// A private apt configuration under `target/guests/apt-<debarch>/`.
struct AptRoot {
    /// The folder (absolute: apt resolves relative `Dir::` paths against `/`).
    root: PathBuf,
    /// The `-o` options that make apt use only this folder and the host's keyrings.
    options: Vec<String>,
}

impl AptRoot {
    /// Creates the folder layout and writes the private sources from the host's entries.
    fn prepare(source: &LinuxSource, root: PathBuf) -> Result<Self> {
        for sub in [
            "sources.list.d",
            "preferences.d",
            "state/lists/partial",
            "cache/archives/partial",
        ] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let host = host_sources()?;
        let sources = private_sources(&host, source.suites)?;
        write(
            &root.join("sources.list.d/debian.sources"),
            sources.as_bytes(),
        )?;
        write(&root.join("sources.list"), b"")?;
        // No packages are installed in this root: dpkg's status is empty.
        write(&root.join("status"), b"")?;
        let path = |sub: &str| root.join(sub).display().to_string();
        let options = [
            format!("Dir::Etc::SourceList={}", path("sources.list")),
            format!("Dir::Etc::SourceParts={}", path("sources.list.d")),
            format!("Dir::Etc::Preferences={}", path("preferences")),
            format!("Dir::Etc::PreferencesParts={}", path("preferences.d")),
            format!("Dir::State={}", path("state")),
            format!("Dir::State::status={}", path("status")),
            format!("Dir::Cache={}", path("cache")),
            "Dir::Etc::trusted=/etc/apt/trusted.gpg".to_string(),
            "Dir::Etc::TrustedParts=/etc/apt/trusted.gpg.d".to_string(),
            format!("APT::Architecture={}", source.debarch),
            format!("APT::Architectures={}", source.debarch),
            "Acquire::Languages=none".to_string(),
            // Downloads land in folders under target/ that apt's `_apt` user may not
            // be able to enter; without this, apt warns and downloads as root anyway.
            "APT::Sandbox::User=root".to_string(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_string(), o])
        .collect();
        Ok(AptRoot { root, options })
    }

    /// Updates the package lists, downloads what `wanted` needs, and writes it.
    fn fetch(&self, source: &LinuxSource, wanted: &[Wanted]) -> Result<()> {
        println!(
            "tessera: downloading the Debian {} package lists ({}) into {}",
            source.release,
            source.debarch,
            self.root.display()
        );
        self.run("apt-get", &["update"], None)?;
        let mut packages = Vec::new();
        for item in wanted {
            match item {
                Wanted::Kernel(_) => {
                    let (args, place) = match source.kernel_lookup {
                        KernelLookup::MetaDepends(meta) => {
                            (["show", meta], format!("the Depends of {meta}"))
                        }
                        KernelLookup::Names => (
                            ["pkgnames", source.kernel_prefix],
                            format!("Debian {}", source.release),
                        ),
                    };
                    let listed = self.run("apt-cache", &args, None)?;
                    let kernel = newest_kernel(
                        &source.kernel_lookup,
                        &listed,
                        source.kernel_prefix,
                        source.kernel_suffix,
                    )
                    .with_context(|| {
                        format!(
                            "no {}<version>{} package in {place}",
                            source.kernel_prefix, source.kernel_suffix
                        )
                    })?;
                    packages.push(kernel);
                }
                Wanted::Busybox(_) => packages.push(source.busybox.to_string()),
            }
        }
        println!(
            "tessera: downloading {} ({}) from Debian {}",
            packages.join(" and "),
            source.debarch,
            source.release
        );
        let debs = self.root.join("debs");
        let extract = self.root.join("extract");
        for dir in [&debs, &extract] {
            if dir.exists() {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut args = vec!["download"];
        args.extend(packages.iter().map(String::as_str));
        self.run("apt-get", &args, Some(&debs))?;
        for (item, package) in wanted.iter().zip(&packages) {
            let deb = find_deb(&debs, package)?;
            let into = extract.join(package);
            let mut cmd = Command::new("dpkg-deb");
            cmd.arg("-x").arg(&deb).arg(&into);
            capture(&mut cmd)?;
            match item {
                Wanted::Kernel(out) => {
                    let vmlinuz = into.join(source.kernel_file(package));
                    let data = read(&vmlinuz)?;
                    let image = source
                        .image
                        .unpack(&data)
                        .with_context(|| format!("{} from {package}", vmlinuz.display()))?;
                    write(out, &image)?;
                }
                Wanted::Busybox(out) => write(out, &read(&find_busybox(&into, package)?)?)?,
            }
        }
        for dir in [&debs, &extract] {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        Ok(())
    }

    /// Runs an apt tool with the private options; returns its standard output.
    fn run(&self, tool: &str, args: &[&str], dir: Option<&Path>) -> Result<String> {
        let mut cmd = Command::new(tool);
        cmd.arg("-q")
            .args(&self.options)
            .args(args)
            .env("LC_ALL", "C")
            .env("DEBIAN_FRONTEND", "noninteractive");
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        capture(&mut cmd)
    }
}

/// The text of every deb822 `*.sources` file of the host, sorted by name.
fn host_sources() -> Result<Vec<String>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(HOST_SOURCES_DIR)
        .with_context(|| format!("cannot read {HOST_SOURCES_DIR}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "sources"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display())))
        .collect()
}

/// One stanza of a deb822 file: its fields in order. A value spanning several lines
/// keeps its continuation lines (with their leading space) after `\n`.
#[derive(Debug, Default)]
struct Stanza {
    /// `(name, value)` pairs.
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// The value of field `name` (field names are case-insensitive).
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The whitespace-separated words of field `name`.
    fn words(&self, name: &str) -> Vec<&str> {
        self.get(name)
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    }
}

/// Parses deb822 text: stanzas separated by blank lines, `#` comment lines skipped,
/// lines starting with a space or tab continuing the previous field.
fn parse_deb822(text: &str) -> Vec<Stanza> {
    let mut stanzas = Vec::new();
    let mut current = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
        } else if line.starts_with('#') {
            continue;
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.fields.last_mut() {
                value.push('\n');
                value.push_str(line);
            }
        } else if let Some((key, value)) = line.split_once(':') {
            current
                .fields
                .push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.fields.is_empty() {
        stanzas.push(current);
    }
    stanzas
}

/// The private deb822 sources: for each `(suite, host_suite)`, a `deb` entry for
/// `suite` (component `main`) with the URIs and `Signed-By` of the host's enabled
/// `deb` entry listing `host_suite`.
fn private_sources(host_files: &[String], suites: &[(&str, &str)]) -> Result<String> {
    let stanzas: Vec<Stanza> = host_files
        .iter()
        .flat_map(|text| parse_deb822(text))
        .filter(|s| s.words("Types").contains(&"deb"))
        .filter(|s| {
            !s.get("Enabled")
                .is_some_and(|v| v.eq_ignore_ascii_case("no"))
        })
        .collect();
    let mut out = String::new();
    for (suite, host_suite) in suites {
        let stanza = stanzas
            .iter()
            .find(|s| s.words("Suites").contains(host_suite))
            .with_context(|| {
                format!("no Debian entry for {host_suite} in {HOST_SOURCES_DIR}/*.sources to copy")
            })?;
        let uris = stanza
            .get("URIs")
            .with_context(|| format!("the host's entry for {host_suite} has no URIs"))?;
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("Types: deb\n");
        out.push_str(&field_line("URIs", uris));
        out.push_str(&field_line("Suites", suite));
        out.push_str("Components: main\n");
        if let Some(keyring) = stanza.get("Signed-By") {
            out.push_str(&field_line("Signed-By", keyring));
        }
    }
    Ok(out)
}

/// One deb822 field line; a value that starts on the next line (an inline key) keeps
/// its continuation lines.
fn field_line(name: &str, value: &str) -> String {
    if value.starts_with('\n') {
        format!("{name}:{value}\n")
    } else {
        format!("{name}: {value}\n")
    }
}

/// The newest kernel package in `apt-cache` output: for [`KernelLookup::MetaDepends`],
/// `apt-cache show` of the metapackage (one stanza per version), whose `Depends` name
/// the kernels; for [`KernelLookup::Names`], `apt-cache pkgnames`, one name per line.
/// Kernels are named `<prefix><release><suffix>`, the release being numbers joined by
/// `.`, `-` or `+`, each number perhaps after letters (`6.1.0-56`, `7.2.13+deb14`);
/// the numbers compare one by one.
fn newest_kernel(
    lookup: &KernelLookup,
    apt_cache_output: &str,
    prefix: &str,
    suffix: &str,
) -> Option<String> {
    let names: Vec<&str> = match lookup {
        KernelLookup::MetaDepends(_) => apt_cache_output
            .lines()
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                matches!(key, "Depends" | "Pre-Depends").then_some(value)
            })
            .flat_map(|value| value.split([',', '|']))
            .filter_map(|alternative| alternative.split_whitespace().next())
            .collect(),
        KernelLookup::Names => apt_cache_output.lines().map(str::trim).collect(),
    };
    names
        .into_iter()
        .filter_map(|name| {
            let release = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
            let numbers = release
                .split(['.', '-', '+'])
                .map(|part| {
                    part.trim_start_matches(|c: char| c.is_ascii_lowercase())
                        .parse::<u64>()
                        .ok()
                })
                .collect::<Option<Vec<u64>>>()?;
            Some((numbers, name.to_string()))
        })
        .max()
        .map(|(_, name)| name)
}

/// The one `.deb` of `package` that `apt-get download` wrote into `dir`.
fn find_deb(dir: &Path, package: &str) -> Result<PathBuf> {
    let prefix = format!("{package}_");
    std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .with_context(|| {
            format!(
                "apt-get download wrote no {prefix}*.deb in {}",
                dir.display()
            )
        })
}

/// The first of [`BUSYBOX_PATHS`] that package `package`, extracted into `root`, holds.
fn find_busybox(root: &Path, package: &str) -> Result<PathBuf> {
    BUSYBOX_PATHS
        .iter()
        .map(|path| root.join(path))
        .find(|path| path.is_file())
        .with_context(|| format!("no {} in {package}", BUSYBOX_PATHS.join(" or ")))
}

impl KernelImage {
    /// The image the guest boots, from the package's kernel file: gunzipped or taken as
    /// it is, as `packing` says, then checked against every `magic`.
    fn unpack(&self, file: &[u8]) -> Result<Vec<u8>> {
        let image = match self.packing {
            Packing::MaybeGzip if file.starts_with(&[0x1f, 0x8b]) => {
                let mut image = Vec::new();
                GzDecoder::new(file)
                    .read_to_end(&mut image)
                    .context("cannot gunzip the kernel")?;
                image
            }
            Packing::MaybeGzip | Packing::Raw => file.to_vec(),
        };
        self.check(&image)?;
        Ok(image)
    }

    /// Refuses an image lacking any of the magic bytes, or too short to hold them.
    fn check(&self, image: &[u8]) -> Result<()> {
        for &(offset, magic) in self.magic {
            let expected = magic.escape_ascii();
            match image.get(offset..offset + magic.len()) {
                Some(found) if found == magic => {}
                Some(found) => bail!(
                    "not a {}: \"{}\" at offset {offset:#x} instead of \"{expected}\"",
                    self.format,
                    found.escape_ascii()
                ),
                None => bail!(
                    "not a {}: {} bytes, too short for \"{expected}\" at offset {offset:#x}",
                    self.format,
                    image.len()
                ),
            }
        }
        Ok(())
    }
}

/// Builds the initramfs from `busybox` and the init script; writes it unless the file
/// already holds the same bytes.
fn write_initramfs(busybox: &Path, out: &Path) -> Result<()> {
    let archive = initramfs(&read(busybox)?, &read(Path::new(INIT_SCRIPT))?)
        .with_context(|| format!("cannot build {}", out.display()))?;
    if std::fs::read(out).ok().as_deref() == Some(archive.as_slice()) {
        return Ok(());
    }
    println!(
        "tessera: writing {} (busybox, /init from {INIT_SCRIPT})",
        out.display()
    );
    write(out, &archive)
}

/// The initramfs: its folders, `/dev/console` (char 5:1, so the kernel has a console
/// before devtmpfs is mounted), `/bin/busybox`, `/bin/sh` and `/init`.
fn initramfs(busybox: &[u8], init: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut w = cpio::Writer::new(Vec::new());
    for (dir, perm) in INITRAMFS_DIRS {
        w.directory(dir, *perm)?;
    }
    w.char_device("dev/console", 0o600, 5, 1)?;
    w.file("bin/busybox", 0o755, busybox)?;
    w.symlink("bin/sh", "busybox")?;
    w.file("init", 0o755, init)?;
    w.finish()
}

/// Reads a whole file, naming it on failure.
fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a file through a temporary sibling and a rename, so an interrupted run never
/// leaves a partial file that looks cached.
fn write(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, data).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// Standard output of a command that must succeed; its output is in the error otherwise.
fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests;
