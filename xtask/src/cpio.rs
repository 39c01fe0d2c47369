//! A writer of uncompressed cpio archives in the "newc" format (magic `070701`), the
//! format the Linux kernel unpacks as its initramfs.
//!
//! Every entry is a 110-byte ASCII header (the magic, then 13 fields of 8 hex digits),
//! the NUL-terminated path name padded with zeros to a multiple of 4 bytes, and the
//! data padded the same way. The archive ends with an entry named `TRAILER!!!`.
//! Owners are root, times are 0, so the same inputs give the same bytes.

use std::io::{self, Write};

/// Magic of a newc header (no checksums).
const MAGIC: &[u8; 6] = b"070701";
/// Size of a newc header in bytes.
const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// File type bits of a directory.
pub const S_IFDIR: u32 = 0o040_000;
/// File type bits of a regular file.
pub const S_IFREG: u32 = 0o100_000;
/// File type bits of a symbolic link.
pub const S_IFLNK: u32 = 0o120_000;
/// File type bits of a character device.
pub const S_IFCHR: u32 = 0o020_000;

/// Writes a newc archive entry by entry; [`Writer::finish`] adds the trailer.
pub struct Writer<W: Write> {
    /// Where the archive goes.
    out: W,
    /// Inode number of the next entry (each entry gets its own, from 1).
    next_ino: u32,
    /// Bytes written so far, to keep every header 4-byte aligned.
    offset: u64,
}

/// The numeric fields of one header that differ between entry kinds.
struct Meta {
    /// File type and permission bits.
    mode: u32,
    /// Number of links (2 for a directory, else 1).
    nlink: u32,
    /// Device number of a device node (major, minor).
    rdev: (u32, u32),
}

impl<W: Write> Writer<W> {
    /// A writer that appends the archive to `out`.
    pub fn new(out: W) -> Self {
        Writer {
            out,
            next_ino: 1,
            offset: 0,
        }
    }

    /// A directory `name` (no leading `/`) with permission bits `perm`. Directories
    /// must come before what they hold.
    pub fn directory(&mut self, name: &str, perm: u32) -> io::Result<()> {
        let meta = Meta {
            mode: S_IFDIR | (perm & 0o7777),
            nlink: 2,
            rdev: (0, 0),
        };
        self.entry(name, &meta, &[])
    }

    /// A regular file `name` holding `data`, with permission bits `perm`.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        let meta = Meta {
            mode: S_IFREG | (perm & 0o7777),
            nlink: 1,
            rdev: (0, 0),
        };
        self.entry(name, &meta, data)
    }

    /// A symbolic link `name` pointing at `target` (the link's data is the target).
    pub fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        let meta = Meta {
            mode: S_IFLNK | 0o777,
            nlink: 1,
            rdev: (0, 0),
        };
        self.entry(name, &meta, target.as_bytes())
    }

    /// A character device node `name` with device number `major:minor`.
    pub fn char_device(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        let meta = Meta {
            mode: S_IFCHR | (perm & 0o7777),
            nlink: 1,
            rdev: (major, minor),
        };
        self.entry(name, &meta, &[])
    }

    /// Writes the `TRAILER!!!` entry and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let meta = Meta {
            mode: 0,
            nlink: 1,
            rdev: (0, 0),
        };
        self.write_entry(TRAILER, 0, &meta, &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Checks `name` and writes one entry with a fresh inode number.
    fn entry(&mut self, name: &str, meta: &Meta, data: &[u8]) -> io::Result<()> {
        if name.is_empty() || name.starts_with('/') || name.contains('\0') || name == TRAILER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cpio: invalid entry name {name:?}"),
            ));
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.write_entry(name, ino, meta, data)
    }

    /// Header, name and data of one entry, each padded to 4 bytes.
    fn write_entry(&mut self, name: &str, ino: u32, meta: &Meta, data: &[u8]) -> io::Result<()> {
        let too_big = || io::Error::new(io::ErrorKind::InvalidInput, "cpio: entry too large");
        let file_size = u32::try_from(data.len()).map_err(|_| too_big())?;
        let name_size = u32::try_from(name.len() + 1).map_err(|_| too_big())?;
        let fields = [
            ino,
            meta.mode,
            0, // uid
            0, // gid
            meta.nlink,
            0, // mtime
            file_size,
            0, // devmajor
            0, // devminor
            meta.rdev.0,
            meta.rdev.1,
            name_size,
            0, // check
        ];
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        for field in fields {
            header.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        self.put(&header)?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    /// Writes `bytes` and counts them.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Zero bytes up to the next multiple of 4.
    fn pad(&mut self) -> io::Result<()> {
        let padding = (4 - (self.offset % 4) as usize) % 4;
        self.put(&[0; 3][..padding])
    }
}

#[cfg(test)]
pub mod testing {
    //! A strict newc reader for tests.

    use super::{HEADER_LEN, MAGIC, TRAILER};

    /// One parsed entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Entry {
        /// Inode number.
        pub ino: u32,
        /// File type and permission bits.
        pub mode: u32,
        /// Owner.
        pub uid: u32,
        /// Group.
        pub gid: u32,
        /// Number of links.
        pub nlink: u32,
        /// Modification time.
        pub mtime: u32,
        /// Device number (major, minor).
        pub rdev: (u32, u32),
        /// Path name.
        pub name: String,
        /// File data or link target.
        pub data: Vec<u8>,
    }

    /// Parses a whole archive strictly: magic, hex fields, zero padding to 4 bytes,
    /// a final `TRAILER!!!` and nothing after it. Returns the entries before the trailer.
    pub fn parse(archive: &[u8]) -> Vec<Entry> {
        let mut entries = Vec::new();
        let mut at = 0;
        loop {
            assert_eq!(at % 4, 0, "header at {at} not aligned");
            let header = &archive[at..at + HEADER_LEN];
            assert_eq!(&header[..6], MAGIC, "magic at {at}");
            let field = |i: usize| {
                let text = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i]).unwrap();
                assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "field {text}");
                u32::from_str_radix(text, 16).unwrap()
            };
            let (file_size, name_size) = (field(6) as usize, field(11) as usize);
            assert_eq!((field(7), field(8)), (0, 0), "devmajor/devminor");
            assert_eq!(field(12), 0, "check");
            at += HEADER_LEN;
            let name_bytes = &archive[at..at + name_size];
            assert_eq!(name_bytes.last(), Some(&0), "name not NUL-terminated");
            let name = std::str::from_utf8(&name_bytes[..name_size - 1])
                .unwrap()
                .to_string();
            at += name_size;
            while at % 4 != 0 {
                assert_eq!(archive[at], 0, "name padding");
                at += 1;
            }
            let data = archive[at..at + file_size].to_vec();
            at += file_size;
            while at % 4 != 0 {
                assert_eq!(archive[at], 0, "data padding");
                at += 1;
            }
            if name == TRAILER {
                assert_eq!(at, archive.len(), "bytes after the trailer");
                assert_eq!(file_size, 0);
                return entries;
            }
            entries.push(Entry {
                ino: field(0),
                mode: field(1),
                uid: field(2),
                gid: field(3),
                nlink: field(4),
                mtime: field(5),
                rdev: (field(9), field(10)),
                name,
                data,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::parse;
    use super::*;

    /// Every kind of entry survives a round trip with its type, mode, device and data.
    #[test]
    fn round_trip() {
        let mut w = Writer::new(Vec::new());
        w.directory("bin", 0o755).unwrap();
        w.file("bin/busybox", 0o755, b"\x7fELF12345").unwrap();
        w.symlink("bin/sh", "busybox").unwrap();
        w.directory("dev", 0o755).unwrap();
        w.char_device("dev/console", 0o600, 5, 1).unwrap();
        w.file("init", 0o755, b"#!/bin/busybox sh\n").unwrap();
        w.file("empty", 0o644, b"").unwrap();
        let archive = w.finish().unwrap();
        let entries = parse(&archive);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "init",
                "empty"
            ]
        );
        let by_name = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();
        let bin = by_name("bin");
        assert_eq!((bin.mode, bin.nlink), (0o040_755, 2));
        let busybox = by_name("bin/busybox");
        assert_eq!(busybox.mode, 0o100_755);
        assert_eq!(busybox.data, b"\x7fELF12345");
        let sh = by_name("bin/sh");
        assert_eq!(sh.mode, 0o120_777);
        assert_eq!(sh.data, b"busybox");
        let console = by_name("dev/console");
        assert_eq!((console.mode, console.rdev), (0o020_600, (5, 1)));
        assert!(console.data.is_empty());
        assert_eq!(by_name("empty").mode, 0o100_644);
        for entry in &entries {
            assert_eq!((entry.uid, entry.gid, entry.mtime), (0, 0, 0));
        }
        let mut inos: Vec<u32> = entries.iter().map(|e| e.ino).collect();
        inos.dedup();
        assert_eq!(inos, (1..=7).collect::<Vec<_>>(), "distinct inode numbers");
    }

    /// Headers are exact: the first entry's bytes spelled out by hand.
    #[test]
    fn header_layout() {
        let mut w = Writer::new(Vec::new());
        w.file("ab", 0o644, b"xyz").unwrap();
        let archive = w.finish().unwrap();
        let expected_header = "070701\
             00000001000081A4000000000000000000000001\
             000000000000000300000000000000000000000000000000\
             0000000300000000";
        assert_eq!(&archive[..HEADER_LEN], expected_header.as_bytes());
        // Name "ab\0" ends at 113; three pad bytes to 116; data 3 bytes plus one pad byte.
        assert_eq!(&archive[HEADER_LEN..116], b"ab\0\0\0\0");
        assert_eq!(&archive[116..120], b"xyz\0");
        assert_eq!(&archive[120..126], MAGIC);
        assert_eq!(archive.len() % 4, 0);
    }

    /// Name lengths of every residue modulo 4 keep the archive aligned.
    #[test]
    fn padding_for_every_name_length() {
        let mut w = Writer::new(Vec::new());
        for len in 1..=8 {
            let name = "n".repeat(len);
            w.file(&name, 0o600, &vec![b'd'; len]).unwrap();
        }
        let entries = parse(&w.finish().unwrap());
        assert_eq!(entries.len(), 8);
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(entry.data.len(), i + 1);
        }
    }

    /// An empty archive is just the trailer.
    #[test]
    fn empty_archive() {
        let archive = Writer::new(Vec::new()).finish().unwrap();
        assert!(parse(&archive).is_empty());
        assert_eq!(archive.len(), 124); // 110 + "TRAILER!!!\0" (11) padded to 124
    }

    /// Absolute, empty and reserved names are refused.
    #[test]
    fn refuses_bad_names() {
        let mut w = Writer::new(Vec::new());
        assert!(w.file("/init", 0o755, b"").is_err());
        assert!(w.file("", 0o755, b"").is_err());
        assert!(w.directory(TRAILER, 0o755).is_err());
        assert!(w.symlink("a\0b", "x").is_err());
    }
}
