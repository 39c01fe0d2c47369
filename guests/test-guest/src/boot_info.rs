//! What the VM tells the program at entry: its RAM, its command line and, where the
//! platform says it, the counter frequency. aarch64 and riscv64 read the device tree
//! the VM passed; x86_64 reads the Linux boot protocol's zero page, or the multiboot
//! information block when it was entered as a multiboot kernel.

/// Most RAM regions kept.
const MAX_REGIONS: usize = 8;

/// The boot information of this run.
pub struct BootInfo {
    regions: [(u64, u64); MAX_REGIONS],
    count: usize,
    /// The command line, if any.
    pub cmdline: Option<&'static str>,
    /// The counter frequency the device tree gives, if any (none on x86_64).
    pub timebase: Option<u64>,
    /// The register window of a PL031 real-time clock the device tree describes.
    #[cfg(target_arch = "aarch64")]
    pub rtc: Option<u64>,
    /// The first region shared with other VMs the device tree describes.
    #[cfg(not(target_arch = "x86_64"))]
    pub shared: Option<SharedRegion>,
}

/// A region shared with other VMs (a `tessera,shared-region` node).
#[cfg(not(target_arch = "x86_64"))]
#[derive(Clone, Copy)]
pub struct SharedRegion {
    /// Its name (`label`).
    pub name: &'static str,
    /// Where it is, and its size.
    pub base: u64,
    /// Its size in bytes.
    pub size: u64,
    /// This VM's doorbell page.
    pub doorbell: u64,
    /// The doorbell's interrupt: an INTID on aarch64, a PLIC source on riscv64.
    pub interrupt: Option<u32>,
}

impl BootInfo {
    /// The RAM regions as (base, size).
    pub fn ram(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.regions.iter().take(self.count).copied()
    }

    /// Whether the command line holds `word`.
    pub fn has_word(&self, word: &str) -> bool {
        self.cmdline
            .is_some_and(|args| args.split_whitespace().any(|w| w == word))
    }

    /// The value of the first `<prefix><value>` word of the command line.
    #[cfg(not(target_arch = "x86_64"))]
    pub fn word_value(&self, prefix: &str) -> Option<&'static str> {
        self.cmdline?
            .split_whitespace()
            .find_map(|word| word.strip_prefix(prefix))
    }

    fn push(&mut self, region: (u64, u64)) {
        if let Some(slot) = self.regions.get_mut(self.count) {
            *slot = region;
            self.count += 1;
        }
    }

    fn empty() -> Self {
        Self {
            regions: [(0, 0); MAX_REGIONS],
            count: 0,
            cmdline: None,
            timebase: None,
            #[cfg(target_arch = "aarch64")]
            rtc: None,
            #[cfg(not(target_arch = "x86_64"))]
            shared: None,
        }
    }
}

/// Reads the device tree blob at `dtb`.
#[cfg(not(target_arch = "x86_64"))]
pub fn read(dtb: usize) -> Result<BootInfo, &'static str> {
    // SAFETY: the VM passes the address of a device tree blob in its RAM, which stays
    // in place for the program's life.
    let fdt = unsafe { fdt::Fdt::from_ptr(dtb as *const u8) }
        .map_err(|_| "memory: no valid device tree")?;
    let mut info = BootInfo::empty();
    // Every `/memory@...` node (one per RAM region), each with its `reg` entries.
    fdt.find_all_nodes("/memory")
        .filter_map(|node| node.reg())
        .flatten()
        .filter_map(|r| Some((r.starting_address as u64, r.size? as u64)))
        .for_each(|region| info.push(region));
    info.cmdline = fdt.chosen().bootargs();
    info.timebase = fdt
        .find_node("/cpus")
        .and_then(|cpus| cpus.property("timebase-frequency")?.as_usize())
        .map(|hz| hz as u64);
    #[cfg(target_arch = "aarch64")]
    {
        info.rtc = fdt
            .find_compatible(&["arm,pl031"])
            .and_then(|node| node.reg()?.next())
            .map(|reg| reg.starting_address as u64);
    }
    info.shared = fdt
        .find_compatible(&["tessera,shared-region"])
        .and_then(shared_region);
    Ok(info)
}

/// What a `tessera,shared-region` node says: its two windows, its name and its
/// interrupt (aarch64: `<type spi flags>`, an SPI numbered from INTID 32; riscv64:
/// `<source>`).
#[cfg(not(target_arch = "x86_64"))]
fn shared_region(node: fdt::node::FdtNode<'_, 'static>) -> Option<SharedRegion> {
    let mut reg = node.reg()?;
    let region = reg.next()?;
    let doorbell = reg.next()?;
    let cells = node.property("interrupts").map(|p| p.value);
    let cell = |i: usize| -> Option<u32> {
        let bytes = cells?.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    };
    #[cfg(target_arch = "aarch64")]
    let interrupt = cell(1).map(|spi| spi + 32);
    #[cfg(target_arch = "riscv64")]
    let interrupt = cell(0);
    Some(SharedRegion {
        name: node.property("label")?.as_str()?,
        base: region.starting_address as u64,
        size: region.size? as u64,
        doorbell: doorbell.starting_address as u64,
        interrupt,
    })
}

/// Offsets in the zero page: e820_entries, e820_table (20-byte entries),
/// cmd_line_ptr, ext_cmd_line_ptr.
#[cfg(target_arch = "x86_64")]
mod zero_page {
    pub const E820_ENTRIES: usize = 0x1e8;
    pub const E820_TABLE: usize = 0x2d0;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const EXT_CMD_LINE_PTR: usize = 0x0c8;
    /// e820 type of usable RAM.
    pub const E820_RAM: u32 = 1;
}

/// Offsets in the multiboot information block: flags, cmdline, mmap_length,
/// mmap_addr; and the flag bits of the command line and the memory map.
#[cfg(target_arch = "x86_64")]
mod multiboot {
    pub const FLAGS: usize = 0;
    pub const CMDLINE: usize = 16;
    pub const MMAP_LENGTH: usize = 44;
    pub const MMAP_ADDR: usize = 48;
    pub const HAS_CMDLINE: u32 = 1 << 2;
    pub const HAS_MMAP: u32 = 1 << 6;
    /// Memory map type of usable RAM.
    pub const RAM: u32 = 1;
}

/// The little-endian `u32` at `addr`.
#[cfg(target_arch = "x86_64")]
fn read_u32(addr: usize) -> u32 {
    // SAFETY: the boot information the VM passed lies in its RAM; fields are read
    // one by one, unaligned.
    unsafe { (addr as *const u32).read_unaligned() }
}

/// The NUL-terminated string at `addr`, if it is UTF-8.
#[cfg(target_arch = "x86_64")]
fn read_str(addr: usize) -> Option<&'static str> {
    // SAFETY: the VM wrote a NUL-terminated string at this address in its RAM, which
    // stays in place for the program's life.
    unsafe { core::ffi::CStr::from_ptr(addr as *const core::ffi::c_char) }
        .to_str()
        .ok()
}

/// Reads the boot information at `addr`: the multiboot information block when a
/// multiboot loader entered this program, else the Linux zero page.
#[cfg(target_arch = "x86_64")]
pub fn read(addr: usize) -> Result<BootInfo, &'static str> {
    if crate::arch::multiboot_magic().is_some() {
        read_multiboot(addr)
    } else {
        read_zero_page(addr)
    }
}

/// Reads the multiboot information block at `block`: RAM from its memory map, the
/// command line.
#[cfg(target_arch = "x86_64")]
fn read_multiboot(block: usize) -> Result<BootInfo, &'static str> {
    use multiboot::*;
    let flags = read_u32(block + FLAGS);
    if flags & HAS_MMAP == 0 {
        return Err("memory: the multiboot information has no memory map");
    }
    let mut info = BootInfo::empty();
    let start = read_u32(block + MMAP_ADDR) as usize;
    let end = start + read_u32(block + MMAP_LENGTH) as usize;
    let mut at = start;
    // Each entry: its size (not counting the size field), base, length, type.
    while at + 24 <= end {
        let base = u64::from(read_u32(at + 4)) | (u64::from(read_u32(at + 8)) << 32);
        let len = u64::from(read_u32(at + 12)) | (u64::from(read_u32(at + 16)) << 32);
        if read_u32(at + 20) == RAM {
            info.push((base, len));
        }
        at += read_u32(at) as usize + 4;
    }
    if flags & HAS_CMDLINE != 0 {
        info.cmdline = read_str(read_u32(block + CMDLINE) as usize);
    }
    Ok(info)
}

/// Reads the zero page at `zero_page`.
#[cfg(target_arch = "x86_64")]
fn read_zero_page(zero_page: usize) -> Result<BootInfo, &'static str> {
    use zero_page::*;
    // SAFETY: the VM passes the address of its zero page (4 KiB) in its RAM, which
    // stays in place for the program's life.
    let page = unsafe { core::slice::from_raw_parts(zero_page as *const u8, 4096) };
    let u32_at = |at: usize| {
        page.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
    let mut info = BootInfo::empty();
    let entries = usize::from(page.get(E820_ENTRIES).copied().unwrap_or(0)).min(128);
    for i in 0..entries {
        let at = E820_TABLE + i * 20;
        if u32_at(at + 16) == E820_RAM {
            info.push((u64_at(at), u64_at(at + 8)));
        }
    }
    let cmdline = u64::from(u32_at(CMD_LINE_PTR)) | (u64::from(u32_at(EXT_CMD_LINE_PTR)) << 32);
    if cmdline != 0 {
        info.cmdline = read_str(cmdline as usize);
    }
    Ok(info)
}
