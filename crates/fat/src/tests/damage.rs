//! Damaged FATs and directories: loops, broken links, bad clusters, chains that do
//! not match sizes, bad long-name checksums, endless directories.

use super::{Image, sample};
use crate::error::FileErrorKind;

const END: u32 = 0x0FFF_FFFF;

fn read_error(image: &Image, path: &str) -> FileErrorKind {
    image.mount().read_to_vec(path, 1 << 20).unwrap_err().kind
}

#[test]
fn directory_chain_looping_on_itself() {
    let mut image = sample();
    let dir = image.first_cluster("/images");
    image.set_fat(dir, dir);
    let error = image.mount().read_dir("/images").unwrap_err();
    assert_eq!(error.kind, FileErrorKind::Loop { cluster: dir });
    assert_eq!(
        error.to_string(),
        format!("/images: its cluster chain loops (through cluster {dir})")
    );
    // The loop is also found on the way to a file below.
    assert!(matches!(
        read_error(&image, "/images/nothing-here"),
        FileErrorKind::Loop { .. }
    ));
}

#[test]
fn directory_chain_with_a_long_loop() {
    // The root directory goes on into 5 clusters of the big file and loops back
    // into them; every slot on the way is a free entry, so no end mark stops the walk.
    let mut image = sample();
    let root = image.geometry().root_cluster;
    let file = image.chain(image.first_cluster("/images/Image-6.1.gz"));
    for cluster in [root, file[0], file[1], file[2], file[3], file[4]] {
        let at = image.cluster_offset(cluster);
        image.bytes[at..at + 512].fill(0xE5);
    }
    image.set_fat(root, file[0]);
    image.set_fat(file[4], file[1]);
    let error = image.mount().read_dir("/").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Loop { .. }), "{error}");
}

#[test]
fn file_chain_looping_back() {
    let mut image = sample();
    let chain = image.chain(image.first_cluster("/images/Image-6.1.gz"));
    let last = *chain.last().unwrap();
    image.set_fat(last, chain[0]);
    let error = read_error(&image, "/images/Image-6.1.gz");
    assert_eq!(error, FileErrorKind::ChainTooLong { needed: 601 });
    // A loop that closes before the size is covered.
    image.set_fat(chain[9], chain[5]);
    let error = read_error(&image, "/images/Image-6.1.gz");
    assert!(matches!(error, FileErrorKind::Loop { .. }), "{error:?}");
}

#[test]
fn file_chain_ending_early() {
    let mut image = sample();
    let chain = image.chain(image.first_cluster("/images/Image-6.1.gz"));
    image.set_fat(chain[99], END);
    assert_eq!(
        read_error(&image, "/images/Image-6.1.gz"),
        FileErrorKind::ChainTooShort {
            clusters: 100,
            needed: 601
        }
    );
}

#[test]
fn links_outside_the_volume_free_or_bad() {
    let mut image = sample();
    let chain = image.chain(image.first_cluster("/images/Image-6.1.gz"));
    let clusters = image.geometry().cluster_count;
    for (value, expected) in [
        (
            clusters + 2,
            FileErrorKind::BadLink {
                cluster: chain[3],
                next: clusters + 2,
            },
        ),
        (
            0,
            FileErrorKind::BadLink {
                cluster: chain[3],
                next: 0,
            },
        ),
        (
            1,
            FileErrorKind::BadLink {
                cluster: chain[3],
                next: 1,
            },
        ),
        (0x0FFF_FFF7, FileErrorKind::BadCluster { cluster: chain[3] }),
    ] {
        image.set_fat(chain[3], value);
        assert_eq!(read_error(&image, "/images/Image-6.1.gz"), expected);
    }
    // The high four bits of an entry are not part of it.
    image.set_fat(chain[3], 0xF000_0000 | chain[4]);
    assert!(
        image
            .mount()
            .read_to_vec("/images/Image-6.1.gz", 1 << 20)
            .is_ok()
    );
}

/// Offset of the directory entry named `short` (11 bytes, space padded) in the
/// first cluster of the directory at `dir`.
fn entry_offset(image: &Image, dir: &str, short: &[u8; 11]) -> usize {
    let at = image.cluster_offset(image.first_cluster(dir));
    (0..16)
        .map(|i| at + 32 * i)
        .find(|&entry| &image.bytes[entry..entry + 11] == short)
        .unwrap()
}

#[test]
fn first_cluster_outside_the_volume() {
    let mut image = sample();
    let at = entry_offset(&image, "/a/b/c", b"DEEP    TXT");
    image.bytes[at + 20..at + 22].copy_from_slice(&0x0FFFu16.to_le_bytes());
    let error = read_error(&image, "/a/b/c/deep.txt");
    assert!(
        matches!(error, FileErrorKind::BadFirstCluster { .. }),
        "{error:?}"
    );
    // A non-empty file without a first cluster.
    image.bytes[at + 20..at + 22].fill(0);
    image.bytes[at + 26..at + 28].fill(0);
    assert_eq!(
        read_error(&image, "/a/b/c/deep.txt"),
        FileErrorKind::BadFirstCluster { cluster: 0 }
    );
}

#[test]
fn long_name_with_a_wrong_checksum_falls_back_to_the_short_name() {
    let mut image = sample();
    // The long-name entry right before the short entry of Image-6.1.gz.
    let entry = entry_offset(&image, "/images", b"IMAGE-~1GZ ") - 32;
    assert_eq!(image.bytes[entry + 11], 0x0F);
    image.bytes[entry + 13] ^= 0xFF;
    let names: Vec<String> = image
        .mount()
        .read_dir("/images")
        .unwrap()
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    assert_eq!(names[0], "IMAGE-~1.GZ");
    assert_eq!(names.len(), 2);
}

#[test]
fn directory_with_more_entries_than_fat_allows() {
    // 4097 clusters of 16 free entries each, chained, as the root directory.
    let mut image = sample();
    let free_start = image.geometry().cluster_count - 5000;
    let clusters: Vec<u32> = (free_start..free_start + 4097).collect();
    for pair in clusters.windows(2) {
        image.set_fat(pair[0], pair[1]);
        let at = image.cluster_offset(pair[0]);
        image.bytes[at..at + 512].fill(0xE5);
    }
    image.set_fat(*clusters.last().unwrap(), END);
    let root = image.geometry().root_cluster;
    image.set_fat(root, clusters[0]);
    let root_at = image.cluster_offset(root);
    image.bytes[root_at..root_at + 512].fill(0xE5);
    let error = image.mount().read_dir("/").unwrap_err();
    assert_eq!(error.kind, FileErrorKind::DirectoryTooLarge);
}
