//! Opening a journal: newest valid snapshot, checked replay of the records after it, torn-tail
//! repair, and a writer positioned at the head.
//!
//! 1. Segments are listed (archive and active); the newest valid snapshot is found, invalid
//!    newer ones skipped and reported.
//! 2. The walk starts at the segment holding the snapshot's record (or at genesis without a
//!    snapshot) and checks every frame, sequence number, commit hash and link to the end. The
//!    first commit after the snapshot must link to the snapshot's `chain_head_hash`.
//! 3. A torn tail of the last segment (an unfinished write: records without their commit, a
//!    frame cut short) is truncated and reported with the bytes dropped.
//!    Any other damage stops the open with a [`Corruption`] naming segment and offset.
//! 4. The last segment's valid bytes are rewritten through a fresh copy (written, fsync'd,
//!    renamed over it, directory fsync'd): that cuts the torn tail, and makes durable what was
//!    read even if it came from pages a failed fsync left "clean" but unwritten — a plain fsync
//!    would not write those (see the crate docs on fsyncgate). Then the writer resumes the
//!    segment, or starts the next one if it is sealed.

use std::ops::ControlFlow;

use crate::chain::{Committed, ReadError, SegmentFile, Walker, list_segments};
use crate::config::{ConfigError, JournalConfig};
use crate::corruption::Corruption;
use crate::record::{ChainHead, Commit, Record};
use crate::scan::{SegmentEnd, TornTail};
use crate::segment::SegmentHeader;
use crate::segment::TEMP_SUFFIX;
use crate::snapshot::{SkippedSnapshot, Snapshot, latest_valid_snapshot};
use crate::storage::{Storage, StorageError, write_all};
use crate::writer::JournalWriter;

/// Why a journal could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The configuration is out of limits.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The journal is corrupt (before its tail).
    #[error(transparent)]
    Corruption(#[from] Corruption),
    /// The newest valid snapshot does not belong to this chain.
    #[error(
        "snapshot at {seq} does not match the journal: its chain head hash is not the hash of the commit ending at record {seq}"
    )]
    SnapshotMismatch {
        /// The snapshot's sequence number.
        seq: u64,
    },
    /// The journal ends before the newest valid snapshot: acknowledged records are missing.
    #[error("the journal ends at record {journal_head_seq}, before the snapshot at {snapshot_seq}")]
    JournalBehindSnapshot {
        /// The snapshot's sequence number.
        snapshot_seq: u64,
        /// The journal's last record.
        journal_head_seq: u64,
    },
}

impl From<ReadError> for OpenError {
    fn from(err: ReadError) -> Self {
        match err {
            ReadError::Storage(e) => OpenError::Storage(e),
            ReadError::Corruption(e) => OpenError::Corruption(e),
        }
    }
}

/// Opens journals.
#[derive(Debug, Clone, Copy)]
pub struct Journal;

/// An opened journal: where to restart the engine from, and a writer at the head.
#[derive(Debug)]
pub struct Recovery<S: Storage> {
    /// The writer, positioned after the last record.
    pub writer: JournalWriter<S>,
    /// The newest valid snapshot: the engine starts from it (or from an empty state).
    pub snapshot: Option<Snapshot>,
    /// Snapshot files newer than it that were invalid and skipped.
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    /// The records after the snapshot, in order ([`Journal::open`]; empty with
    /// [`Journal::open_with`], which hands them to its visitor).
    pub records: Vec<Record>,
    /// The commits that close them, in order (likewise).
    pub commits: Vec<Commit>,
    /// The torn tail that was truncated (an unfinished last write), if any.
    pub torn_tail: Option<TornTail>,
    /// The chain head after recovery (everything up to it is durable).
    pub head: ChainHead,
}

impl Journal {
    /// Opens (or creates) the journal in `storage`, collecting the records to replay.
    ///
    /// # Errors
    /// See [`OpenError`].
    pub fn open<S: Storage>(storage: S, config: JournalConfig) -> Result<Recovery<S>, OpenError> {
        let (mut records, mut commits) = (Vec::new(), Vec::new());
        let mut recovery = Self::open_with(storage, config, |c| {
            records.extend(c.records.iter().map(|(_, r)| r.to_record()));
            commits.push(c.commit);
        })?;
        recovery.records = records;
        recovery.commits = commits;
        Ok(recovery)
    }

    /// Opens (or creates) the journal in `storage`, handing each commit after the snapshot, with
    /// its records, to `replay` in order, once it has passed its checks. On an error, discard
    /// whatever `replay` received: the journal is not usable as it is.
    ///
    /// Records are lent, not given: a payload is a slice of the segment read, so a replay that
    /// decodes it at once allocates nothing per record (`RecordRef::to_record` makes an owned
    /// copy). Measured: the allocation of every record's payload on the reader, freed on the
    /// replay worker, was about 9 % of a recovery's profile (docs/PERFORMANCE.md, session 6).
    ///
    /// # Errors
    /// See [`OpenError`].
    pub fn open_with<S: Storage>(
        storage: S,
        config: JournalConfig,
        replay: impl FnMut(&Committed<'_>),
    ) -> Result<Recovery<S>, OpenError> {
        Self::open_with_snapshot(storage, config, |_| {}, replay)
    }

    /// [`Journal::open_with`], first showing `start` the snapshot the replay starts from (none:
    /// from genesis), so the caller can restore its state before the first record arrives.
    ///
    /// # Errors
    /// See [`OpenError`].
    pub fn open_with_snapshot<S: Storage>(
        mut storage: S,
        config: JournalConfig,
        start: impl FnOnce(Option<&Snapshot>),
        mut replay: impl FnMut(&Committed<'_>),
    ) -> Result<Recovery<S>, OpenError> {
        config.validate()?;
        let segments = list_segments(&storage)?;
        let scan = latest_valid_snapshot(&storage)?;
        let snapshot = scan.snapshot;
        start(snapshot.as_ref());
        let base = snapshot.as_ref().map_or(ChainHead::GENESIS, |s| ChainHead { seq: s.seq, hash: s.chain_head_hash });
        let recovery = |writer, torn_tail, head| Recovery {
            writer,
            snapshot: snapshot.clone(),
            skipped_snapshots: scan.skipped.clone(),
            records: Vec::new(),
            commits: Vec::new(),
            torn_tail,
            head,
        };

        let Some(last) = segments.last() else {
            if base.seq > 0 {
                return Err(OpenError::JournalBehindSnapshot { snapshot_seq: base.seq, journal_head_seq: 0 });
            }
            let writer = JournalWriter::start_new(storage, config, ChainHead::GENESIS)?;
            return Ok(recovery(writer, None, ChainHead::GENESIS));
        };
        if last.archived {
            return Err(Corruption::NoActiveSegment { segment: last.path.clone() }.into());
        }

        let (head, last_header, last_end, last_bytes) = walk_from(&storage, &segments, base, &mut replay)?;
        if head.seq < base.seq {
            return Err(OpenError::JournalBehindSnapshot { snapshot_seq: base.seq, journal_head_seq: head.seq });
        }
        if head.seq == base.seq && head.hash != base.hash {
            return Err(OpenError::SnapshotMismatch { seq: base.seq });
        }

        let last_path = last.path.clone();
        persist_segment(&mut storage, &last_path, &last_bytes, last_end.valid_len)?;
        let writer = if last_end.seal.is_some() {
            JournalWriter::start_new(storage, config, head)?
        } else {
            debug_assert_eq!(last_header.first_seq + last_end.records, head.seq + 1);
            JournalWriter::resume(storage, config, last_path, last_end.valid_len, last_end.records, head)
        };
        Ok(recovery(writer, last_end.torn, head))
    }
}

/// Rewrites segment `path` as the first `valid_len` of `bytes`, the segment as the walk read
/// and checked it, through a fresh, fsync'd copy renamed over it: this drops a torn tail, and
/// makes what recovery read durable even if it came from page-cache pages that a failed fsync
/// marked clean without writing (a plain fsync would not write those again). A crash at any
/// point leaves either the old file or the complete copy.
///
/// The bytes written are the ones checked, not a second read of the file: nothing read after
/// the checks can reach the copy, and recovery does not read (and fault in a fresh buffer for)
/// up to a 64-MiB segment twice. Measured: the second read was 2.3 % of a recovery's `perf`
/// samples, most of it the kernel zeroing the new buffer's pages (docs/PERFORMANCE.md,
/// "Session 25").
fn persist_segment<S: Storage>(storage: &mut S, path: &str, bytes: &[u8], valid_len: u64) -> Result<(), StorageError> {
    let valid = usize::try_from(valid_len).ok().and_then(|len| bytes.get(..len)).expect("the walk checked these bytes");
    let temp = format!("{path}{TEMP_SUFFIX}");
    storage.create(&temp)?;
    write_all(storage, &temp, valid)?;
    storage.sync(&temp)?;
    storage.rename(&temp, path)?;
    storage.sync_dir("")
}

/// Walks from the segment holding record `base.seq` to the end, replaying the commits after it
/// and checking that the first of them links to `base.hash` (`base` must be a commit's end).
/// Returns the head and the last segment's header, end and bytes as read.
fn walk_from<S: Storage>(
    storage: &S,
    segments: &[SegmentFile],
    base: ChainHead,
    replay: &mut impl FnMut(&Committed<'_>),
) -> Result<(ChainHead, SegmentHeader, SegmentEnd, Vec<u8>), OpenError> {
    let (start, mut walker) = if base.seq == 0 {
        (0, Walker::from_genesis())
    } else {
        match segments.iter().rposition(|s| s.first_seq <= base.seq) {
            Some(i) => (i, Walker::from_first_segment()),
            None if segments[0].first_seq == base.seq + 1 => (0, Walker::from_first_segment()),
            None => {
                return Err(Corruption::MissingSegment {
                    segment: segments[0].path.clone(),
                    expected_first_seq: base.seq + 1,
                    found_first_seq: segments[0].first_seq,
                }
                .into());
            }
        }
    };
    let mut mismatch = false;
    let mut visit = |_: &SegmentFile, c: &Committed<'_>| {
        let commit = &c.commit;
        if commit.last_seq <= base.seq {
            return ControlFlow::Continue(());
        }
        // The snapshot must be at a commit's end, and the next commit must link to it.
        if commit.first_seq <= base.seq || (commit.first_seq == base.seq + 1 && commit.prev_hash != base.hash) {
            mismatch = true;
            return ControlFlow::Break(());
        }
        replay(c);
        ControlFlow::Continue(())
    };
    let mut last = None;
    for (i, segment) in segments.iter().enumerate().skip(start) {
        let is_last = i + 1 == segments.len();
        match walker.walk(storage, segment, is_last, &mut visit)? {
            Some(end) => last = Some(end),
            None => break,
        }
    }
    if mismatch {
        return Err(OpenError::SnapshotMismatch { seq: base.seq });
    }
    let (header, end) = last.expect("at least one segment walked");
    Ok((walker.head(), header, end, walker.into_bytes()))
}
