//! Reading a file's contents: its cluster chain, checked against its size, with
//! runs of consecutive clusters read in one device request.

use crate::device::{BlockDevice, read_bytes};
use crate::dir::DirEntry;
use crate::error::FileErrorKind;
use crate::fat::{Chain, Disk};

/// Most bytes asked of the device in one request.
pub const MAX_REQUEST_BYTES: u64 = 1 << 20;

/// Consecutive clusters: the first and how many.
#[derive(Clone, Copy)]
struct Run {
    first: u32,
    clusters: u64,
}

/// Fills `buf`, which is exactly `file.size` bytes long, with the file's contents.
/// The chain must cover the size and end right after it.
pub(crate) fn read_file<D: BlockDevice>(
    disk: &mut Disk<D>,
    file: &DirEntry,
    buf: &mut [u8],
) -> Result<(), FileErrorKind> {
    if buf.is_empty() {
        return Ok(());
    }
    let cluster_bytes = disk.geometry.cluster_bytes();
    let needed = (buf.len() as u64).div_ceil(cluster_bytes);
    let max_run = (MAX_REQUEST_BYTES / cluster_bytes).max(1);
    let mut chain = Chain::new(&disk.geometry, file.first_cluster)?;
    let mut filled = 0usize;
    let mut run: Option<Run> = None;
    for walked in 0..needed {
        let Some(cluster) = chain.next(disk)? else {
            return Err(FileErrorKind::ChainTooShort {
                clusters: walked,
                needed,
            });
        };
        run = match run {
            Some(Run { first, clusters })
                if u64::from(first) + clusters == u64::from(cluster) && clusters < max_run =>
            {
                Some(Run {
                    first,
                    clusters: clusters + 1,
                })
            }
            _ => {
                if let Some(done) = run {
                    filled = read_run(disk, done, buf, filled)?;
                }
                Some(Run {
                    first: cluster,
                    clusters: 1,
                })
            }
        };
    }
    if let Some(done) = run {
        read_run(disk, done, buf, filled)?;
    }
    if !chain.at_end() {
        return Err(FileErrorKind::ChainTooLong { needed });
    }
    Ok(())
}

/// Reads `run` into `buf` from `filled` on (the last run may end inside a cluster);
/// returns the new fill level.
fn read_run<D: BlockDevice>(
    disk: &mut Disk<D>,
    run: Run,
    buf: &mut [u8],
    filled: usize,
) -> Result<usize, FileErrorKind> {
    let run_bytes = run.clusters * disk.geometry.cluster_bytes();
    let left = buf.len().saturating_sub(filled);
    let bytes = usize::try_from(run_bytes).map_or(left, |run_bytes| run_bytes.min(left));
    let lba = disk.geometry.cluster_lba(run.first);
    if let Some(target) = buf.get_mut(filled..filled + bytes) {
        read_bytes(&mut disk.device, lba, target)?;
    }
    Ok(filled + bytes)
}
