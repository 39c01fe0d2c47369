//! Resolving paths and listing directories: long and short names, case, nesting,
//! and the errors for paths that lead nowhere.

use super::{LONG_NAME, sample};
use crate::error::{FileError, FileErrorKind};

#[test]
fn root_listing_has_names_sizes_and_kinds() {
    let image = sample();
    let mut volume = image.mount();
    let listing: Vec<(String, u64, bool)> = volume
        .read_dir("/")
        .unwrap()
        .into_iter()
        .map(|entry| (entry.name, entry.size, entry.is_dir))
        .collect();
    assert_eq!(
        listing,
        [
            ("README.TXT".to_string(), 25, false),
            ("empty.bin".to_string(), 0, false),
            ("images".to_string(), 0, true),
            ("vms".to_string(), 0, true),
            ("a".to_string(), 0, true),
            ("frag".to_string(), 0, true),
        ]
    );
}

#[test]
fn long_names_are_read_whole() {
    let image = sample();
    let mut volume = image.mount();
    let names: Vec<String> = volume
        .read_dir("/images")
        .unwrap()
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    assert_eq!(names, ["Image-6.1.gz", LONG_NAME]);
    let entry = volume.stat(&format!("/images/{LONG_NAME}")).unwrap();
    assert_eq!(entry.size, 3000);
}

#[test]
fn names_match_without_case() {
    let image = sample();
    let mut volume = image.mount();
    assert_eq!(
        volume.file_size("/IMAGES/image-6.1.GZ").unwrap(),
        300 * 1024 + 7
    );
    assert_eq!(volume.file_size("/readme.txt").unwrap(), 25);
    let upper = LONG_NAME.to_uppercase();
    assert!(upper.contains("ÜNÏCÖDÉ"));
    assert_eq!(volume.file_size(&format!("/Images/{upper}")).unwrap(), 3000);
}

#[test]
fn short_aliases_of_long_names_resolve() {
    let mut image = sample();
    let mut short = String::new();
    image.edit(|fs| {
        let dir = fs.root_dir().open_dir("images").unwrap();
        let entry = dir
            .iter()
            .map(Result::unwrap)
            .find(|entry| entry.file_name() == "Image-6.1.gz")
            .unwrap();
        short = entry.short_file_name();
    });
    assert_ne!(short, "Image-6.1.gz");
    let mut volume = image.mount();
    let entry = volume.stat(&format!("/images/{short}")).unwrap();
    assert_eq!(entry.name, "Image-6.1.gz");
}

#[test]
fn nested_directories_and_relative_forms() {
    let image = sample();
    let mut volume = image.mount();
    assert_eq!(volume.read_to_vec("/a/b/c/deep.txt", 16).unwrap(), b"deep");
    assert_eq!(
        volume.read_to_vec("a//b/./c/deep.txt", 16).unwrap(),
        b"deep"
    );
    assert_eq!(
        volume
            .read_to_vec("/a/b/../b/c/../../../README.TXT", 64)
            .unwrap()
            .len(),
        25
    );
    assert_eq!(volume.read_to_vec("/../README.TXT", 64).unwrap().len(), 25);
    let listing = volume.read_dir("/a/b").unwrap();
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].name, "c");
    assert!(listing[0].is_dir);
    assert_eq!(volume.read_dir("").unwrap().len(), 6);
    assert!(volume.stat("/").unwrap().is_dir);
}

fn failure(result: Result<impl std::fmt::Debug, FileError>) -> FileError {
    result.expect_err("the path should fail")
}

#[test]
fn missing_file_names_the_file_and_its_directory() {
    let image = sample();
    let mut volume = image.mount();
    let error = failure(volume.read_to_vec("/images/Image-7.0", 1 << 20));
    assert_eq!(
        error.kind,
        FileErrorKind::NotFound {
            name: "Image-7.0".into(),
            dir: "/images".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "/images/Image-7.0: no \"Image-7.0\" in /images"
    );
}

#[test]
fn missing_directory_is_named() {
    let image = sample();
    let mut volume = image.mount();
    let error = failure(volume.stat("/boot/grub/grub.cfg"));
    assert_eq!(
        error.kind,
        FileErrorKind::NotFound {
            name: "boot".into(),
            dir: "/".into()
        }
    );
    let error = failure(volume.read_dir("/a/b/x/y"));
    assert_eq!(error.to_string(), "/a/b/x/y: no \"x\" in /a/b");
}

#[test]
fn path_through_a_file() {
    let image = sample();
    let mut volume = image.mount();
    let error = failure(volume.stat("/images/image-6.1.gz/inner"));
    assert_eq!(
        error.kind,
        FileErrorKind::NotADirectory {
            file: "/images/Image-6.1.gz".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "/images/image-6.1.gz/inner: /images/Image-6.1.gz is a file, not a directory"
    );
    let error = failure(volume.read_dir("/README.TXT"));
    assert!(matches!(error.kind, FileErrorKind::NotADirectory { .. }));
}

#[test]
fn reading_a_directory_as_a_file() {
    let image = sample();
    let mut volume = image.mount();
    let error = failure(volume.read_to_vec("/vms", 1024));
    assert_eq!(error.kind, FileErrorKind::IsADirectory);
    assert_eq!(error.to_string(), "/vms: is a directory, not a file");
    assert_eq!(
        volume.read_into("/", &mut [0u8; 4]).unwrap_err().kind,
        FileErrorKind::IsADirectory
    );
}

#[test]
fn names_that_fill_their_long_name_entries_exactly() {
    let mut image = super::Image::formatted(super::IMAGE_BYTES);
    let names = [
        "thirteen-char",
        "twenty-six-characters-long",
        "x",
        "Mixed.Case.Name",
    ];
    image.edit(|fs| {
        for name in names {
            super::write_file(fs, name, name.as_bytes());
        }
    });
    let mut volume = image.mount();
    let listed: Vec<String> = volume
        .read_dir("/")
        .unwrap()
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    assert_eq!(listed, names);
    for name in names {
        assert_eq!(volume.read_to_vec(name, 64).unwrap(), name.as_bytes());
    }
}
