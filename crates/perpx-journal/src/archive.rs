//! Archive: segments a snapshot fully covers move to `archive/`. Nothing is ever deleted.
//!
//! A segment is covered when the segment after it starts at or before `snapshot_seq + 1`: every
//! record in it is then at or before the snapshot. The active segment never moves. Each move is
//! one atomic rename; `archive/` is made durable before the first move, and both directories are
//! fsync'd after the last, so a crash leaves every segment in exactly one of the two places —
//! and readers (recovery, verification, proofs) look in both.

use crate::chain::ReadError;
use crate::segment::{ARCHIVE_DIR, parse_segment_file_name};
use crate::storage::{Storage, StorageError, join};

/// What an archive pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// The snapshot that covered the moved segments (`None`: no valid snapshot, nothing moved).
    pub snapshot_seq: Option<u64>,
    /// The new paths of the moved segments, in chain order.
    pub moved: Vec<String>,
}

/// Why an archive pass failed. Segments already moved stay moved (and stay readable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// A storage operation failed.
    #[error("archive failed: {0}")]
    Storage(#[from] StorageError),
    /// The target already exists in `archive/`: two copies of a segment; refusing to overwrite.
    #[error("{path} already exists; refusing to overwrite an archived segment")]
    AlreadyArchived {
        /// The existing archived file.
        path: String,
    },
    /// The writer is stopped.
    #[error("journal writer stopped: {0}")]
    Stopped(StorageError),
    /// Reading the snapshots failed.
    #[error("archive failed: {0}")]
    Read(#[from] ReadError),
}

/// Moves the active-directory segments covered by `snapshot_seq` (never `active_path`) into
/// `archive/`; returns their new paths.
///
/// # Errors
/// See [`ArchiveError`].
pub(crate) fn archive_covered<S: Storage + ?Sized>(
    storage: &mut S,
    snapshot_seq: u64,
    active_path: &str,
) -> Result<Vec<String>, ArchiveError> {
    let mut segments: Vec<(u64, String)> =
        storage.list("")?.into_iter().filter_map(|n| parse_segment_file_name(&n).map(|s| (s, n))).collect();
    segments.sort_unstable();
    let covered: Vec<String> = segments
        .windows(2)
        .filter(|pair| pair[1].0 <= snapshot_seq.saturating_add(1) && pair[0].1 != active_path)
        .map(|pair| pair[0].1.clone())
        .collect();
    if covered.is_empty() {
        return Ok(Vec::new());
    }
    storage.create_dir(ARCHIVE_DIR)?;
    storage.sync_dir("")?;
    let mut moved = Vec::with_capacity(covered.len());
    for name in covered {
        let target = join(ARCHIVE_DIR, &name);
        if storage.exists(&target)? {
            return Err(ArchiveError::AlreadyArchived { path: target });
        }
        storage.rename(&name, &target)?;
        moved.push(target);
    }
    storage.sync_dir(ARCHIVE_DIR)?;
    storage.sync_dir("")?;
    Ok(moved)
}
