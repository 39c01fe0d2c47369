//! Reading file contents: many clusters, fragmented chains, empty files, limits,
//! and a disk that ends early.

use super::{LONG_NAME, pattern, sample};
use crate::device::SliceDevice;
use crate::error::FileErrorKind;
use crate::volume::Volume;

#[test]
fn file_of_many_clusters_reads_back() {
    let image = sample();
    let mut volume = image.mount();
    let contents = volume.read_to_vec("/images/Image-6.1.gz", 1 << 20).unwrap();
    assert_eq!(contents, pattern(300 * 1024 + 7, 1));
    assert_eq!(
        image
            .chain(image.first_cluster("/images/Image-6.1.gz"))
            .len(),
        601
    );
    let long = volume
        .read_to_vec(&format!("/images/{LONG_NAME}"), 3000)
        .unwrap();
    assert_eq!(long, pattern(3000, 2));
}

#[test]
fn fragmented_files_read_back() {
    let image = sample();
    for (name, seed) in [("one", 3), ("two", 4)] {
        let path = format!("/frag/{name}.bin");
        let chain = image.chain(image.first_cluster(&path));
        assert_eq!(chain.len(), 80);
        let jumps = chain
            .windows(2)
            .filter(|pair| pair[1] != pair[0] + 1)
            .count();
        assert!(jumps >= 40, "{path} is not fragmented: {chain:?}");
        let contents = image.mount().read_to_vec(&path, 40 * 1024).unwrap();
        assert_eq!(contents, pattern(40 * 1024, seed), "{path}");
    }
}

#[test]
fn empty_file() {
    let image = sample();
    let mut volume = image.mount();
    assert_eq!(volume.read_to_vec("/empty.bin", 0).unwrap(), b"");
    let mut buf = [7u8; 4];
    assert_eq!(volume.read_into("/empty.bin", &mut buf).unwrap(), 0);
    assert_eq!(buf, [7; 4]);
    assert_eq!(volume.file_size("/empty.bin").unwrap(), 0);
}

#[test]
fn file_larger_than_the_limit() {
    let image = sample();
    let mut volume = image.mount();
    let error = volume.read_to_vec("/README.TXT", 24).unwrap_err();
    assert_eq!(error.kind, FileErrorKind::TooLarge { size: 25, max: 24 });
    assert_eq!(
        error.to_string(),
        "/README.TXT: 25 bytes, larger than the 24 bytes allowed"
    );
    assert_eq!(volume.read_to_vec("/README.TXT", 25).unwrap().len(), 25);
}

#[test]
fn read_into_a_buffer() {
    let image = sample();
    let mut volume = image.mount();
    let mut small = [0u8; 24];
    let error = volume.read_into("/README.TXT", &mut small).unwrap_err();
    assert_eq!(error.kind, FileErrorKind::TooLarge { size: 25, max: 24 });
    let mut buf = vec![0xEEu8; 4096];
    assert_eq!(volume.read_into("/README.TXT", &mut buf).unwrap(), 25);
    assert_eq!(&buf[..25], b"read me, I am a 8.3 file\n");
    assert!(buf[25..].iter().all(|&byte| byte == 0xEE));
    let mut exact = vec![0u8; 300 * 1024 + 7];
    volume
        .read_into("/images/Image-6.1.gz", &mut exact)
        .unwrap();
    assert_eq!(exact, pattern(300 * 1024 + 7, 1));
}

#[test]
fn truncated_disk_gives_a_device_error() {
    let image = sample();
    let cluster = image.first_cluster("/images/Image-6.1.gz");
    // The disk ends in the middle of the file's data.
    let end = image.cluster_offset(cluster) + 100 * 1024;
    let mut volume = Volume::mount(SliceDevice::new(&image.bytes[..end])).unwrap();
    assert_eq!(volume.read_to_vec("/README.TXT", 64).unwrap().len(), 25);
    let error = volume
        .read_to_vec("/images/Image-6.1.gz", 1 << 20)
        .unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Device(_)), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("/images/Image-6.1.gz: reading "),
        "{error}"
    );
    assert!(error.to_string().contains("past the end of the"), "{error}");
}

#[test]
fn disk_ending_before_the_root_directory() {
    let image = sample();
    let geometry = image.geometry();
    let end = geometry.data_lba as usize * 512;
    let mut volume = Volume::mount(SliceDevice::new(&image.bytes[..end])).unwrap();
    let error = volume.read_dir("/").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Device(_)), "{error}");
}

#[test]
fn device_is_given_back() {
    let image = sample();
    let device = image.mount().into_device();
    assert!(Volume::mount(device).is_ok());
}

/// A device that checks every request against the [`BlockDevice`] contract.
struct Checked<'a> {
    inner: SliceDevice<'a>,
    largest: usize,
    requests: usize,
}

impl crate::device::BlockDevice for Checked<'_> {
    type Error = crate::device::PastEnd;

    fn read_blocks(&mut self, first_lba: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        assert!(
            !buf.is_empty() && buf.len().is_multiple_of(512),
            "{}",
            buf.len()
        );
        assert!(buf.len() as u64 <= crate::read::MAX_REQUEST_BYTES);
        self.largest = self.largest.max(buf.len());
        self.requests += 1;
        self.inner.read_blocks(first_lba, buf)
    }
}

#[test]
fn requests_are_whole_sectors_and_bounded() {
    let mut image = super::Image::formatted(super::IMAGE_BYTES);
    let big = pattern(3 << 20 | 123, 9);
    image.edit(|fs| super::write_file(fs, "big.bin", &big));
    let device = Checked {
        inner: SliceDevice::new(&image.bytes),
        largest: 0,
        requests: 0,
    };
    let mut volume = Volume::mount(device).unwrap();
    assert_eq!(volume.read_to_vec("/big.bin", 4 << 20).unwrap(), big);
    let device = volume.into_device();
    assert_eq!(device.largest, 1 << 20);
    // Data in 4 requests; the rest are the boot sector, the root directory and
    // the FAT sectors the chain runs through (128 entries each).
    assert!(
        device.requests < 4 + 3 + (3 << 20) / 512 / 128 + 2,
        "{}",
        device.requests
    );
}
