//! Tests of the setup header parser.

use super::*;
use crate::test_image::TestImage;

fn parse(image: &TestImage) -> Result<(), BzImageError> {
    BzImage::parse(&image.build()).map(|_| ())
}

#[test]
fn parses_the_header_fields() {
    let file = TestImage::default().build();
    let image = BzImage::parse(&file).unwrap();
    assert_eq!(image.version(), 0x020f);
    assert_eq!(image.setup_sects(), 27);
    assert_eq!(image.kernel_offset(), 28 * 512);
    assert_eq!(image.loadflags(), 0x01);
    assert_eq!(image.xloadflags(), 0x0003);
    assert!(image.can_load_above_4g());
    assert_eq!(image.initrd_addr_max(), 0x7fff_ffff);
    assert_eq!(image.kernel_alignment(), 0x20_0000);
    assert!(image.relocatable());
    assert_eq!(image.cmdline_size(), 2047);
    assert_eq!(image.pref_address(), 0x100_0000);
    assert_eq!(image.init_size(), 0x0280_0000);
    // The protected-mode kernel is the rest of the file.
    let kernel = image.kernel();
    assert_eq!(kernel.len(), 0x1234);
    assert_eq!(kernel.as_ptr(), file[28 * 512..].as_ptr());
    // The setup header runs from 0x1F1 to 0x202 + 0x6A.
    let header = image.setup_header();
    assert_eq!(header, &file[0x1f1..0x26c]);
    assert_eq!(&header[0x202 - 0x1f1..0x206 - 0x1f1], b"HdrS");
}

#[test]
fn zero_setup_sects_means_four() {
    let image = TestImage {
        setup_sects: 0,
        ..TestImage::default()
    };
    let file = image.build();
    let parsed = BzImage::parse(&file).unwrap();
    assert_eq!(parsed.setup_sects(), 4);
    assert_eq!(parsed.kernel_offset(), 0xa00);
    assert_eq!(parsed.kernel().first(), Some(&0));
    assert_eq!(parsed.kernel().len(), 0x1234);
}

#[test]
fn oldest_accepted_protocol() {
    // 2.12 with the 2.12 header length (it ends after handover_offset).
    let image = TestImage {
        version: 0x020c,
        jump: 0x66,
        ..TestImage::default()
    };
    let file = image.build();
    let parsed = BzImage::parse(&file).unwrap();
    assert_eq!(parsed.setup_header().len(), 0x268 - 0x1f1);
    assert_eq!(parsed.version(), 0x020c);
}

#[test]
fn tells_a_bzimage_from_a_raw_image() {
    assert!(BzImage::is_bzimage(&TestImage::default().build()));
    let mut file = TestImage::default().build();
    file[0x202..0x206].copy_from_slice(b"HdrZ");
    assert!(!BzImage::is_bzimage(&file));
    assert!(!BzImage::is_bzimage(&[0u8; 0x205]));
    assert!(!BzImage::is_bzimage(&[]));
}

#[test]
fn bad_magic() {
    let mut file = TestImage::default().build();
    file[0x202..0x206].copy_from_slice(b"HdrZ");
    let err = BzImage::parse(&file).unwrap_err();
    assert_eq!(err, BzImageError::BadMagic { found: *b"HdrZ" });
    assert_eq!(
        err.to_string(),
        "setup header magic (header at 0x202) is \"HdrZ\", not \"HdrS\": not a bzImage"
    );
    // An ELF vmlinux, say.
    let mut elf = vec![0u8; 0x1000];
    elf[..4].copy_from_slice(b"\x7fELF");
    let err = BzImage::parse(&elf).unwrap_err();
    assert!(
        err.to_string().contains("\"\\x00\\x00\\x00\\x00\""),
        "{err}"
    );
}

#[test]
fn too_old() {
    let image = TestImage {
        version: 0x020b,
        ..TestImage::default()
    };
    let err = parse(&image).unwrap_err();
    assert_eq!(err, BzImageError::TooOld { version: 0x020b });
    assert_eq!(
        err.to_string(),
        "boot protocol version (version at 0x206) is 2.11, older than 2.12"
    );
    let image = TestImage {
        version: 0x0204,
        ..TestImage::default()
    };
    assert!(parse(&image).unwrap_err().to_string().contains(" 2.04,"));
}

#[test]
fn not_64_bit() {
    let image = TestImage {
        xloadflags: 0x0002,
        ..TestImage::default()
    };
    let err = parse(&image).unwrap_err();
    assert_eq!(err, BzImageError::NotKernel64 { xloadflags: 2 });
    assert_eq!(
        err.to_string(),
        "xloadflags at 0x236 is 0x0002: XLF_KERNEL_64 is clear, \
         the kernel has no 64-bit entry point"
    );
}

#[test]
fn bad_boot_flag() {
    let mut file = TestImage::default().build();
    file[0x1fe] = 0;
    let err = BzImage::parse(&file).unwrap_err();
    assert_eq!(err, BzImageError::BadBootFlag { found: 0xaa00 });
    assert_eq!(err.to_string(), "boot_flag at 0x1fe is 0xaa00, not 0xaa55");
}

#[test]
fn bad_header_length() {
    for (jump, end) in [(0x65, 0x267), (0x00, 0x202), (0x8f, 0x291), (0xff, 0x301)] {
        let image = TestImage {
            jump,
            ..TestImage::default()
        };
        let err = parse(&image).unwrap_err();
        assert_eq!(err, BzImageError::BadHeaderLength { end }, "{jump:#x}");
    }
    let image = TestImage {
        jump: 0x8e,
        ..TestImage::default()
    };
    assert!(parse(&image).is_ok(), "a header ending at 0x290 fits");
    let err = BzImageError::BadHeaderLength { end: 0x291 };
    assert_eq!(
        err.to_string(),
        "setup header length (jump at 0x200) ends it at 0x291, outside 0x268..=0x290"
    );
}

#[test]
fn truncated_files() {
    let file = TestImage::default().build();
    let kernel_offset = 28 * 512;
    for (len, field, needed) in [
        (0, "header", 0x206),
        (0x205, "header", 0x206),
        (0x207, "version", 0x208),
        (0x240, "setup header", 0x26c),
        (
            kernel_offset,
            "protected-mode kernel (after setup_sects)",
            kernel_offset + 1,
        ),
        (
            kernel_offset + 0x1234 - 16,
            "protected-mode kernel (syssize)",
            kernel_offset + 0x1240,
        ),
    ] {
        let err = BzImage::parse(&file[..len]).unwrap_err();
        assert_eq!(
            err,
            BzImageError::Truncated { field, needed, len },
            "{len:#x}"
        );
    }
    // syssize rounds up to whole paragraphs.
    assert!(BzImage::parse(&file[..kernel_offset + 0x1231]).is_ok());
    let err = BzImage::parse(&file[..0x240]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kernel file is truncated: setup header needs 0x26c bytes, the file has 0x240"
    );
}

#[test]
fn no_input_panics() {
    let file = TestImage::default().build();
    for len in 0..0x300 {
        let _ = BzImage::parse(&file[..len]);
    }
    let mut file = file;
    for offset in 0x1f1..0x270 {
        for value in [0x00, 0x01, 0x7f, 0xff] {
            let saved = file[offset];
            file[offset] = value;
            if let Ok(image) = BzImage::parse(&file) {
                let _ = (image.kernel(), image.setup_header());
            }
            file[offset] = saved;
        }
    }
}

/// The real kernel, when the Linux guest has been fetched. Nothing is downloaded:
/// without the file the test checks nothing.
#[test]
fn real_bzimage_if_present() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/guests/x86_64/linux/bzImage"
    );
    let Ok(file) = std::fs::read(path) else {
        return;
    };
    let image = BzImage::parse(&file).unwrap();
    assert!(image.version() >= 0x020c);
    assert_ne!(image.xloadflags() & 1, 0);
    assert!(image.kernel_alignment().is_power_of_two());
    assert!(image.cmdline_size() >= 255);
    assert!(u64::from(image.init_size()) >= image.kernel().len() as u64);
}
