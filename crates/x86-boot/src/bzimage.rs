//! A bzImage kernel file: its setup header and protected-mode kernel.
//!
//! The file starts with the real-mode setup code: the boot sector and
//! `setup_sects` more 512-byte sectors, with the setup header at 0x1F1. The
//! protected-mode kernel follows at `(setup_sects + 1) * 512`.

use core::fmt;

use crate::bytes::{u8_at, u16_at, u32_at, u64_at};

#[cfg(test)]
mod tests;

/// Setup header fields: offsets in the kernel file, the same in the zero page.
pub(crate) mod field {
    /// Start of the setup header.
    pub(crate) const HEADER_START: usize = 0x1f1;
    /// setup_sects (1 byte): 512-byte sectors of setup code after the boot sector.
    pub(crate) const SETUP_SECTS: usize = 0x1f1;
    /// syssize (4 bytes): size of the protected-mode kernel in 16-byte paragraphs.
    pub(crate) const SYSSIZE: usize = 0x1f4;
    /// vid_mode (2 bytes): video mode control.
    pub(crate) const VID_MODE: usize = 0x1fa;
    /// boot_flag (2 bytes): 0xAA55.
    pub(crate) const BOOT_FLAG: usize = 0x1fe;
    /// The jump instruction's offset byte: the header ends at 0x202 plus it.
    pub(crate) const JUMP_OFFSET: usize = 0x201;
    /// header (4 bytes): "HdrS".
    pub(crate) const HEADER: usize = 0x202;
    /// version (2 bytes): boot protocol version, major in the high byte.
    pub(crate) const VERSION: usize = 0x206;
    /// type_of_loader (1 byte).
    pub(crate) const TYPE_OF_LOADER: usize = 0x210;
    /// loadflags (1 byte).
    pub(crate) const LOADFLAGS: usize = 0x211;
    /// ramdisk_image (4 bytes): initrd address, low 32 bits.
    pub(crate) const RAMDISK_IMAGE: usize = 0x218;
    /// ramdisk_size (4 bytes): initrd size, low 32 bits.
    pub(crate) const RAMDISK_SIZE: usize = 0x21c;
    /// heap_end_ptr (2 bytes): end of the setup heap.
    pub(crate) const HEAP_END_PTR: usize = 0x224;
    /// cmd_line_ptr (4 bytes): command line address, low 32 bits.
    pub(crate) const CMD_LINE_PTR: usize = 0x228;
    /// initrd_addr_max (4 bytes): highest address the initrd may occupy.
    pub(crate) const INITRD_ADDR_MAX: usize = 0x22c;
    /// kernel_alignment (4 bytes): physical alignment the kernel needs.
    pub(crate) const KERNEL_ALIGNMENT: usize = 0x230;
    /// relocatable_kernel (1 byte).
    pub(crate) const RELOCATABLE_KERNEL: usize = 0x234;
    /// xloadflags (2 bytes).
    pub(crate) const XLOADFLAGS: usize = 0x236;
    /// cmdline_size (4 bytes): longest command line, without its NUL.
    pub(crate) const CMDLINE_SIZE: usize = 0x238;
    /// pref_address (8 bytes): preferred load address.
    pub(crate) const PREF_ADDRESS: usize = 0x258;
    /// init_size (4 bytes): memory the kernel needs from its load address.
    pub(crate) const INIT_SIZE: usize = 0x260;
}

/// The setup header magic.
const MAGIC: [u8; 4] = *b"HdrS";
/// The boot sector signature.
const BOOT_FLAG_VALUE: u16 = 0xaa55;
/// The oldest boot protocol with a 64-bit entry point and `xloadflags`: 2.12.
pub(crate) const MIN_VERSION: u16 = 0x020c;
/// The shortest header of a 2.12 kernel ends after `handover_offset` (0x264).
const MIN_HEADER_END: usize = 0x268;
/// The zero page's `edd_mbr_sig_buffer` follows the header: it ends by there.
const MAX_HEADER_END: usize = 0x290;
/// setup_sects 0 means 4 (old kernels).
const DEFAULT_SETUP_SECTS: u8 = 4;
/// Sector size.
const SECTOR: usize = 512;
/// xloadflags bit 0: the kernel has the 64-bit entry point at 0x200.
pub(crate) const XLF_KERNEL_64: u16 = 1 << 0;
/// xloadflags bit 1: kernel, boot_params, command line and initrd may be above 4 GiB.
pub(crate) const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 1 << 1;

/// Why a kernel file is not a bzImage this loader can boot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BzImageError {
    /// The file ends before a part the loader needs.
    Truncated {
        /// The part that is cut off.
        field: &'static str,
        /// Bytes the file needs for it.
        needed: usize,
        /// Bytes the file has.
        len: usize,
    },
    /// `header` at 0x202 is not "HdrS": not a bzImage (or older than protocol 2.00).
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// `version` at 0x206 is older than 2.12.
    TooOld {
        /// The version found, major in the high byte.
        version: u16,
    },
    /// `boot_flag` at 0x1FE is not 0xAA55.
    BadBootFlag {
        /// The value found.
        found: u16,
    },
    /// The setup header length (0x202 plus the byte at 0x201) is too short for a
    /// 2.12 header or runs into the rest of the zero page.
    BadHeaderLength {
        /// Where the header would end.
        end: usize,
    },
    /// `xloadflags` at 0x236 lacks `XLF_KERNEL_64`: no 64-bit entry point.
    NotKernel64 {
        /// The value found.
        xloadflags: u16,
    },
}

impl fmt::Display for BzImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { field, needed, len } => write!(
                f,
                "kernel file is truncated: {field} needs {needed:#x} bytes, the file has {len:#x}"
            ),
            Self::BadMagic { found } => write!(
                f,
                "setup header magic (header at 0x202) is \"{}\", not \"HdrS\": not a bzImage",
                found.escape_ascii()
            ),
            Self::TooOld { version } => write!(
                f,
                "boot protocol version (version at 0x206) is {}.{:02}, older than 2.12",
                version >> 8,
                version & 0xff
            ),
            Self::BadBootFlag { found } => {
                write!(f, "boot_flag at 0x1fe is {found:#06x}, not 0xaa55")
            }
            Self::BadHeaderLength { end } => write!(
                f,
                "setup header length (jump at 0x200) ends it at {end:#x}, \
                 outside {MIN_HEADER_END:#x}..={MAX_HEADER_END:#x}"
            ),
            Self::NotKernel64 { xloadflags } => write!(
                f,
                "xloadflags at 0x236 is {xloadflags:#06x}: XLF_KERNEL_64 is clear, \
                 the kernel has no 64-bit entry point"
            ),
        }
    }
}

impl core::error::Error for BzImageError {}

/// A parsed bzImage, borrowing the kernel file.
#[derive(Clone, Copy, Debug)]
pub struct BzImage<'a> {
    file: &'a [u8],
    header_end: usize,
    setup_sects: u8,
    version: u16,
    loadflags: u8,
    xloadflags: u16,
    initrd_addr_max: u32,
    kernel_alignment: u32,
    relocatable: bool,
    cmdline_size: u32,
    pref_address: u64,
    init_size: u32,
}

/// `read(file, offset)`, or [`BzImageError::Truncated`] naming `field`.
fn need<T>(
    file: &[u8],
    offset: usize,
    size: usize,
    field: &'static str,
    read: fn(&[u8], usize) -> Option<T>,
) -> Result<T, BzImageError> {
    read(file, offset).ok_or(BzImageError::Truncated {
        field,
        needed: offset + size,
        len: file.len(),
    })
}

impl<'a> BzImage<'a> {
    /// Whether `file` carries a setup header ("HdrS" at 0x202): a bzImage to
    /// [`BzImage::parse`], not a raw image to copy as it is.
    pub fn is_bzimage(file: &[u8]) -> bool {
        file.get(field::HEADER..field::HEADER + 4) == Some(&MAGIC[..])
    }

    /// Parses and checks the setup header of the kernel file `file`.
    pub fn parse(file: &'a [u8]) -> Result<Self, BzImageError> {
        let magic = need(file, field::HEADER, 4, "header", u32_at)?;
        if magic.to_le_bytes() != MAGIC {
            return Err(BzImageError::BadMagic {
                found: magic.to_le_bytes(),
            });
        }
        let version = need(file, field::VERSION, 2, "version", u16_at)?;
        if version < MIN_VERSION {
            return Err(BzImageError::TooOld { version });
        }
        let jump = need(file, field::JUMP_OFFSET, 1, "jump", u8_at)?;
        let header_end = field::HEADER + usize::from(jump);
        if !(MIN_HEADER_END..=MAX_HEADER_END).contains(&header_end) {
            return Err(BzImageError::BadHeaderLength { end: header_end });
        }
        if file.len() < header_end {
            return Err(BzImageError::Truncated {
                field: "setup header",
                needed: header_end,
                len: file.len(),
            });
        }
        let boot_flag = u16_at(file, field::BOOT_FLAG).unwrap_or(0);
        if boot_flag != BOOT_FLAG_VALUE {
            return Err(BzImageError::BadBootFlag { found: boot_flag });
        }
        let xloadflags = u16_at(file, field::XLOADFLAGS).unwrap_or(0);
        if xloadflags & XLF_KERNEL_64 == 0 {
            return Err(BzImageError::NotKernel64 { xloadflags });
        }
        let setup_sects = match u8_at(file, field::SETUP_SECTS).unwrap_or(0) {
            0 => DEFAULT_SETUP_SECTS,
            sects => sects,
        };
        let image = Self {
            file,
            header_end,
            setup_sects,
            version,
            loadflags: u8_at(file, field::LOADFLAGS).unwrap_or(0),
            xloadflags,
            initrd_addr_max: u32_at(file, field::INITRD_ADDR_MAX).unwrap_or(0),
            kernel_alignment: u32_at(file, field::KERNEL_ALIGNMENT).unwrap_or(0),
            relocatable: u8_at(file, field::RELOCATABLE_KERNEL).unwrap_or(0) != 0,
            cmdline_size: u32_at(file, field::CMDLINE_SIZE).unwrap_or(0),
            pref_address: u64_at(file, field::PREF_ADDRESS).unwrap_or(0),
            init_size: u32_at(file, field::INIT_SIZE).unwrap_or(0),
        };
        image.check_kernel_size()?;
        Ok(image)
    }

    /// Checks that the protected-mode kernel is there, as long as `syssize` says
    /// (in 16-byte paragraphs, rounded up).
    fn check_kernel_size(&self) -> Result<(), BzImageError> {
        let offset = self.kernel_offset();
        let len = self.file.len();
        if len <= offset {
            return Err(BzImageError::Truncated {
                field: "protected-mode kernel (after setup_sects)",
                needed: offset + 1,
                len,
            });
        }
        let paragraphs = u32_at(self.file, field::SYSSIZE).unwrap_or(0) as usize;
        let have = (len - offset).div_ceil(16);
        if have < paragraphs {
            return Err(BzImageError::Truncated {
                field: "protected-mode kernel (syssize)",
                needed: offset.saturating_add(paragraphs.saturating_mul(16)),
                len,
            });
        }
        Ok(())
    }

    /// The boot protocol version, major in the high byte (0x020F is 2.15).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Sectors of real-mode setup code after the boot sector (`setup_sects`, 0
    /// read as 4).
    pub fn setup_sects(&self) -> u8 {
        self.setup_sects
    }

    /// Where the protected-mode kernel starts in the file: `(setup_sects + 1) * 512`.
    pub fn kernel_offset(&self) -> usize {
        (usize::from(self.setup_sects) + 1) * SECTOR
    }

    /// The protected-mode kernel: what the loader copies to the load address.
    pub fn kernel(&self) -> &'a [u8] {
        self.file.get(self.kernel_offset()..).unwrap_or(&[])
    }

    /// The setup header, bytes 0x1F1 to 0x202 plus the byte at 0x201, as the zero
    /// page takes it.
    pub fn setup_header(&self) -> &'a [u8] {
        self.file
            .get(field::HEADER_START..self.header_end)
            .unwrap_or(&[])
    }

    /// `loadflags` (0x211) as the kernel has it.
    pub fn loadflags(&self) -> u8 {
        self.loadflags
    }

    /// `xloadflags` (0x236).
    pub fn xloadflags(&self) -> u16 {
        self.xloadflags
    }

    /// Whether kernel, zero page, command line and initrd may lie above 4 GiB
    /// (`XLF_CAN_BE_LOADED_ABOVE_4G`).
    pub fn can_load_above_4g(&self) -> bool {
        self.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G != 0
    }

    /// `initrd_addr_max` (0x22C): the highest address the initrd may occupy when
    /// the kernel cannot take it above 4 GiB.
    pub fn initrd_addr_max(&self) -> u32 {
        self.initrd_addr_max
    }

    /// `kernel_alignment` (0x230): the alignment of a relocated load address.
    pub fn kernel_alignment(&self) -> u32 {
        self.kernel_alignment
    }

    /// `relocatable_kernel` (0x234): whether any address aligned to
    /// [`BzImage::kernel_alignment`] will do, rather than [`BzImage::pref_address`].
    pub fn relocatable(&self) -> bool {
        self.relocatable
    }

    /// `cmdline_size` (0x238): the longest command line, without its NUL.
    pub fn cmdline_size(&self) -> u32 {
        self.cmdline_size
    }

    /// `pref_address` (0x258): the preferred load address of the kernel.
    pub fn pref_address(&self) -> u64 {
        self.pref_address
    }

    /// `init_size` (0x260): bytes the kernel needs from its load address while it
    /// decompresses and starts.
    pub fn init_size(&self) -> u32 {
        self.init_size
    }
}
