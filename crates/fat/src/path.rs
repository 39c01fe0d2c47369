//! Paths: `/`-separated, absolute or not (both start at the root), resolved one
//! component at a time with FAT's case-insensitive names.

use alloc::string::String;
use alloc::vec::Vec;

use crate::device::BlockDevice;
use crate::dir::{DirEntry, walk};
use crate::error::FileErrorKind;
use crate::fat::Disk;
use crate::name::same_name;

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// The root directory.
    Root,
    /// A file or directory below it.
    Entry(DirEntry),
}

/// Resolves `path`. `.` stays, `..` goes up (not above the root), empty components
/// are ignored.
pub(crate) fn resolve<D: BlockDevice>(
    disk: &mut Disk<D>,
    path: &str,
) -> Result<Node, FileErrorKind> {
    let mut parents: Vec<Node> = Vec::new();
    let mut current = Node::Root;
    let mut walked = String::new();
    for component in path.split('/').filter(|part| !part.is_empty()) {
        match component {
            "." => continue,
            ".." => {
                current = parents.pop().unwrap_or(Node::Root);
                walked.push_str("/..");
                continue;
            }
            _ => {}
        }
        let dir_cluster = match &current {
            Node::Root => disk.geometry.root_cluster,
            Node::Entry(entry) if entry.is_dir => entry.first_cluster,
            Node::Entry(_) => {
                return Err(FileErrorKind::NotADirectory { file: walked });
            }
        };
        let found = walk(disk, dir_cluster, |entry| {
            (same_name(&entry.name, component) || same_name(&entry.short_name, component))
                .then_some(entry)
        })?;
        let Some(entry) = found else {
            let dir = if walked.is_empty() {
                String::from("/")
            } else {
                walked
            };
            return Err(FileErrorKind::NotFound {
                name: String::from(component),
                dir,
            });
        };
        walked.push('/');
        walked.push_str(&entry.name);
        parents.push(core::mem::replace(&mut current, Node::Entry(entry)));
    }
    Ok(current)
}
