//! Synthetic bzImage files for the tests, laid out as boot.rst describes.

use alloc::vec;
use alloc::vec::Vec;

/// What goes into a synthetic kernel file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TestImage {
    /// setup_sects as written (0 means 4).
    pub setup_sects: u8,
    /// Boot protocol version.
    pub version: u16,
    /// The byte at 0x201: the header ends at 0x202 plus it.
    pub jump: u8,
    /// xloadflags.
    pub xloadflags: u16,
    /// loadflags.
    pub loadflags: u8,
    /// Bytes of protected-mode kernel.
    pub kernel_len: usize,
}

impl Default for TestImage {
    /// A 2.15 kernel like x86_64 defconfig builds: 64-bit, loadable above 4 GiB.
    fn default() -> Self {
        Self {
            setup_sects: 27,
            version: 0x020f,
            jump: 0x6a,
            xloadflags: 0x0003,
            loadflags: 0x01,
            kernel_len: 0x1234,
        }
    }
}

impl TestImage {
    /// The kernel file.
    pub(crate) fn build(&self) -> Vec<u8> {
        let sects = if self.setup_sects == 0 {
            4
        } else {
            self.setup_sects
        };
        let kernel_offset = (usize::from(sects) + 1) * 512;
        let mut file = vec![0u8; kernel_offset + self.kernel_len];
        let mut put = |offset: usize, bytes: &[u8]| {
            file[offset..offset + bytes.len()].copy_from_slice(bytes);
        };
        put(0x1f1, &[self.setup_sects]);
        let syssize = self.kernel_len.div_ceil(16) as u32;
        put(0x1f4, &syssize.to_le_bytes());
        put(0x1fe, &0xaa55u16.to_le_bytes());
        put(0x200, &[0xeb, self.jump]);
        put(0x202, b"HdrS");
        put(0x206, &self.version.to_le_bytes());
        put(0x211, &[self.loadflags]);
        put(0x214, &0x10_0000u32.to_le_bytes());
        put(0x22c, &0x7fff_ffffu32.to_le_bytes());
        put(0x230, &0x20_0000u32.to_le_bytes());
        put(0x234, &[1, 21]);
        put(0x236, &self.xloadflags.to_le_bytes());
        put(0x238, &2047u32.to_le_bytes());
        put(0x258, &0x100_0000u64.to_le_bytes());
        put(0x260, &0x0280_0000u32.to_le_bytes());
        put(0x264, &0x190u32.to_le_bytes());
        put(0x268, &0x0123_4000u32.to_le_bytes());
        // The protected-mode kernel: a recognisable pattern.
        for (i, byte) in file[kernel_offset..].iter_mut().enumerate() {
            *byte = (i % 251) as u8;
        }
        file
    }
}
