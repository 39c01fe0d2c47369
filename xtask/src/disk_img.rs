//! `cargo xtask disk-img`: the FAT32 disk image the hypervisor reads guest images
//! and VM configs from. The `fatfs` crate writes the file system into a plain file,
//! so nothing is mounted and no root is needed; the result is read back with the
//! hypervisor's own reader (`tessera-fat`) to check it.

use anyhow::{Context, Result, bail};
use fscommon::BufStream;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use tessera_config::{ImageLocation, VmConfig};
use tessera_fat::{BlockDevice, Volume};
use tessera_vm_disk::{CONFIG_DIR, read_vm_configs};

/// Size of a new image unless `--size-mib` says otherwise.
const DEFAULT_SIZE_MIB: u64 = 64;
/// Smallest image: FAT32 with 512-byte clusters needs 65,525 clusters plus its FATs.
const MIN_SIZE_MIB: u64 = 34;
/// Largest file FAT32 can hold.
const MAX_FILE_BYTES: u64 = u32::MAX as u64;

/// Options of `cargo xtask disk-img`.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct Args {
    /// The image file. When it exists, files are added to it (see --new).
    #[arg(long, default_value = "target/disk.img")]
    pub out: PathBuf,
    /// Size of a new image in MiB (at least 34, for FAT32) [default: 64].
    #[arg(long)]
    pub size_mib: Option<u64>,
    /// A host file to put on the disk at PATH (default: /<its file name>);
    /// folders are made as needed. Repeatable.
    #[arg(long = "add", value_name = "FILE[:PATH]", value_parser = Addition::parse)]
    pub add: Vec<Addition>,
    /// A VM config, checked like the build checks it, put at /vms/<its file name>.
    /// Repeatable.
    #[arg(long = "config", value_name = "VM.toml")]
    pub configs: Vec<PathBuf>,
    /// Make a new, empty image even when the file exists.
    #[arg(long)]
    pub new: bool,
}

/// One `--add`: a host file and where it goes on the disk.
#[derive(Clone, Debug, PartialEq)]
pub struct Addition {
    /// The file on the host.
    pub host: PathBuf,
    /// Its absolute path on the disk.
    pub disk: String,
}

impl Addition {
    /// Parses `FILE` or `FILE:PATH` (split at the last `:`; FAT names cannot hold one).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (host, disk) = match spec.rsplit_once(':') {
            Some((host, disk)) => (host, disk.to_string()),
            None => {
                let name = Path::new(spec)
                    .file_name()
                    .ok_or_else(|| format!("--add {spec}: no file name to put on the disk"))?;
                (spec, format!("/{}", name.to_string_lossy()))
            }
        };
        if host.is_empty() {
            return Err(format!("--add {spec}: no host file before the ':'"));
        }
        let disk = disk_path(&disk).map_err(|reason| format!("--add {spec}: {reason}"))?;
        Ok(Self {
            host: PathBuf::from(host),
            disk,
        })
    }
}

/// `path` made absolute and checked: non-empty components, no `.`/`..`, no
/// characters FAT long names cannot hold.
fn disk_path(path: &str) -> Result<String, String> {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    if parts.is_empty() {
        return Err(format!("\"{path}\" names no file on the disk"));
    }
    for part in &parts {
        if *part == "." || *part == ".." {
            return Err(format!("\"{path}\": `.` and `..` are not allowed"));
        }
        if part.chars().count() > 255 {
            return Err(format!("\"{path}\": a name is longer than 255 characters"));
        }
        if let Some(bad) = part
            .chars()
            .find(|c| c.is_control() || "\"*:<>?\\|".contains(*c))
        {
            return Err(format!("\"{path}\": FAT names cannot hold {bad:?}"));
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// A file to write: where from (for the message), where to, and its bytes.
struct Item {
    from: PathBuf,
    disk: String,
    bytes: Vec<u8>,
}

/// `cargo xtask disk-img`.
pub fn run(args: &Args) -> Result<()> {
    let items = collect(args)?;
    let fresh = args.new || !args.out.exists();
    if fresh {
        create(&args.out, args.size_mib.unwrap_or(DEFAULT_SIZE_MIB))?;
    } else if args.size_mib.is_some() {
        println!(
            "tessera: {} exists, so --size-mib does not apply (--new makes a new image)",
            args.out.display()
        );
    }
    let lines = write_items(&args.out, &items)?;
    for line in lines {
        println!("tessera: {}: {line}", args.out.display());
    }
    if !fresh && items.is_empty() {
        println!(
            "tessera: {} exists; nothing to add (--new makes a new one)",
            args.out.display()
        );
    }
    for warning in check(&args.out)? {
        println!("tessera: warning: {warning}");
    }
    Ok(())
}

/// Reads every file to add and checks every config first, so that a bad config
/// leaves the image untouched. Reports every problem together.
fn collect(args: &Args) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for addition in &args.add {
        match std::fs::read(&addition.host) {
            Ok(bytes) => items.push(Item {
                from: addition.host.clone(),
                disk: addition.disk.clone(),
                bytes,
            }),
            Err(err) => problems.push(format!("{}: cannot read: {err}", addition.host.display())),
        }
    }
    for path in &args.configs {
        match config_item(path) {
            Ok(item) => items.push(item),
            Err(errors) => problems.extend(errors),
        }
    }
    for item in &items {
        if item.bytes.len() as u64 > MAX_FILE_BYTES {
            problems.push(format!(
                "{}: {} bytes, larger than the 4 GiB - 1 a FAT32 file can hold",
                item.from.display(),
                item.bytes.len()
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} problem(s); {} was not changed:\n{}",
            problems.len(),
            args.out.display(),
            problems.join("\n")
        );
    }
    Ok(items)
}

/// A VM config checked with the build's rules, to go to `/vms/<file name>`.
fn config_item(path: &Path) -> Result<Item, Vec<String>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|err| vec![format!("{name}: cannot read the VM config: {err}")])?;
    VmConfig::from_toml(&name, &text)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| vec![format!("{name}: no file name")])?;
    let disk = disk_path(&format!("{CONFIG_DIR}/{file_name}")).map_err(|e| vec![e])?;
    Ok(Item {
        from: path.to_path_buf(),
        disk,
        bytes: text.into_bytes(),
    })
}

/// Makes a new, empty FAT32 image of `size_mib` MiB at `out`.
fn create(out: &Path, size_mib: u64) -> Result<()> {
    if size_mib < MIN_SIZE_MIB {
        bail!("--size-mib {size_mib}: FAT32 needs at least {MIN_SIZE_MIB} MiB");
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    file.set_len(size_mib << 20)?;
    let options = fatfs::FormatVolumeOptions::new()
        .fat_type(fatfs::FatType::Fat32)
        .volume_label(*b"TESSERA    ");
    fatfs::format_volume(BufStream::new(file), options)
        .with_context(|| format!("cannot format {} as FAT32", out.display()))?;
    println!("tessera: created {} ({size_mib} MiB, FAT32)", out.display());
    Ok(())
}

/// Writes `items` into the image; returns one line per file.
fn write_items(out: &Path, items: &[Item]) -> Result<Vec<String>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(out)
        .with_context(|| format!("cannot open {}", out.display()))?;
    let fs = fatfs::FileSystem::new(BufStream::new(file), fatfs::FsOptions::new())
        .with_context(|| format!("{} is not a FAT file system", out.display()))?;
    let mut lines = Vec::new();
    for item in items {
        let replaced = write_file(&fs, &item.disk, &item.bytes)
            .with_context(|| format!("cannot write {} into {}", item.disk, out.display()))?;
        lines.push(format!(
            "{} {} ({} bytes) from {}",
            if replaced { "replaced" } else { "added" },
            item.disk,
            item.bytes.len(),
            item.from.display()
        ));
    }
    fs.unmount()
        .with_context(|| format!("cannot finish writing {}", out.display()))?;
    Ok(lines)
}

/// Writes one file, making its folders; returns whether it replaced one.
fn write_file<T: fatfs::ReadWriteSeek>(
    fs: &fatfs::FileSystem<T>,
    disk: &str,
    bytes: &[u8],
) -> Result<bool> {
    let path = disk.trim_start_matches('/');
    let root = fs.root_dir();
    if let Some((folders, _)) = path.rsplit_once('/') {
        let mut made = String::new();
        for part in folders.split('/') {
            made = if made.is_empty() {
                part.to_string()
            } else {
                format!("{made}/{part}")
            };
            root.create_dir(&made)
                .with_context(|| format!("cannot make folder /{made}"))?;
        }
    }
    let replaced = root.open_file(path).is_ok();
    let mut file = root.create_file(path)?;
    file.truncate()?;
    file.write_all(bytes)?;
    file.flush()?;
    Ok(replaced)
}

/// A disk image file read as a block device.
pub struct FileDevice(pub File);

impl BlockDevice for FileDevice {
    type Error = std::io::Error;

    fn read_blocks(&mut self, first_lba: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.seek(SeekFrom::Start(first_lba * 512))?;
        self.0.read_exact(buf)
    }
}

/// Reads the image back with the hypervisor's reader: it must mount, and every
/// config in `/vms` is checked like at boot. Returns warnings: configs the
/// hypervisor would refuse, and images of `image_location = "fs"` configs that are
/// missing or do not fit their memory regions.
fn check(out: &Path) -> Result<Vec<String>> {
    let file = File::open(out).with_context(|| format!("cannot open {}", out.display()))?;
    let mut volume = Volume::mount(FileDevice(file))
        .map_err(|err| anyhow::anyhow!("{}: {err}", out.display()))?;
    let configs =
        read_vm_configs(&mut volume).map_err(|err| anyhow::anyhow!("{}: {err}", out.display()))?;
    let mut warnings = Vec::new();
    for config in configs {
        let vm = match config.result {
            Ok(vm) => vm,
            Err(error) => {
                warnings.extend(error.messages());
                continue;
            }
        };
        if vm.kernel.image_location != ImageLocation::Fs {
            warnings.push(format!(
                "{}: kernel.image_location is \"memory\"; a config on the disk takes its images from the disk (\"fs\")",
                config.file
            ));
            continue;
        }
        let volume = std::cell::RefCell::new(&mut volume);
        let size = |path: &str| volume.borrow_mut().file_size(path).ok();
        warnings.extend(
            vm.check_images(&config.file, &size)
                .iter()
                .map(ToString::to_string),
        );
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests;
