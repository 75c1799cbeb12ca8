//! The journal writer: appends records, groups them into one write and one fsync, rolls
//! segments over, and stops for good at the first storage failure.
//!
//! The writer is synchronous and deterministic: no threads, no clock (time comes in through
//! [`JournalWriter::tick`]). [`JournalWriter::append`] buffers a record and returns its
//! [`Ticket`]; every write closes the records buffered since the last one with a commit frame,
//! which links them to the chain (see [`crate::record`]). A record is durable once
//! [`JournalWriter::durable_seq`] has reached its ticket, which happens only after an fsync
//! that covers its commit. An [`OutputGate`](crate::OutputGate)
//! holds what a command produced until then.
//!
//! **A storage failure stops the writer.** After a failed write or fsync it refuses everything
//! with [`WriteError::Stopped`] and never retries: on Linux a failed fsync may have dropped the
//! dirty pages and marked them clean, so a retry can report success for data that never reached
//! the disk (PostgreSQL's "fsyncgate", 2018). The only safe continuation is to restart and
//! recover from what is on disk.

use crate::config::{JournalConfig, SyncPolicy};
use crate::frame::{
    COMMIT_FRAME_BYTES, RecordRef, SEAL_FRAME_BYTES, encode_commit, encode_record, encode_seal, record_frame_bytes,
};
use crate::limits::{PAYLOAD_BYTES_MAX, SNAPSHOT_BYTES_MAX};
use crate::record::{ChainHead, Commit, Hash, commit_hash, events_digest, push_events_with, records_digest};
use crate::segment::{SEGMENT_HEADER_BYTES, SegmentHeader, TEMP_SUFFIX, segment_file_name};
use crate::snapshot::write_snapshot_file;
use crate::storage::{Storage, StorageError, write_all};
use crate::{ArchiveError, ArchiveReport, Proof, ProofError, archive, latest_valid_snapshot, proof};

/// The sequence number an append was given; durable once `durable_seq() >= seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[must_use = "a ticket is how the caller learns when its record is durable"]
pub struct Ticket {
    /// The record's sequence number.
    pub seq: u64,
}

/// Why an append, commit or tick failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The writer stopped after a storage failure (this one or an earlier one).
    #[error(
        "journal writer stopped after a storage failure ({cause}); it accepts no more records and never \
         retries an fsync: restart the process and recover from what is on disk"
    )]
    Stopped {
        /// The failure that stopped it.
        cause: StorageError,
    },
    /// The payload is larger than a record may carry; nothing was appended.
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why a snapshot was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// A snapshot must include at least one command.
    #[error("a snapshot at sequence 0 is meaningless")]
    SeqZero,
    /// The state includes commands that are not durable yet.
    #[error("snapshot at {seq} is ahead of the durable journal ({durable_seq})")]
    NotDurable {
        /// The snapshot's sequence number.
        seq: u64,
        /// The durable sequence number.
        durable_seq: u64,
    },
    /// The given chain head hash is not the hash of record `seq`.
    #[error("snapshot at {seq}: chain head hash differs from the journal's")]
    ChainHeadMismatch {
        /// The snapshot's sequence number.
        seq: u64,
    },
    /// The state is larger than a snapshot may be.
    #[error("snapshot of {len} bytes exceeds the limit of {SNAPSHOT_BYTES_MAX}")]
    TooLarge {
        /// The state's length.
        len: usize,
    },
    /// The writer is stopped.
    #[error("journal writer stopped: {0}")]
    Stopped(StorageError),
    /// Writing the file failed; the journal writer goes on, older snapshots are untouched.
    #[error("snapshot write failed: {0}")]
    Storage(StorageError),
}

/// Counters of what the writer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records appended.
    pub records_appended: u64,
    /// fsyncs of files and directories issued.
    pub fsyncs: u64,
    /// Frame bytes written to segments.
    pub bytes_written: u64,
    /// Segments created.
    pub segments_created: u64,
}

#[derive(Debug, Clone)]
struct ActiveSegment {
    path: String,
    /// Bytes in the segment, buffered ones included.
    bytes: u64,
    records: u64,
}

/// Appends records to the journal; see the module docs.
#[derive(Debug)]
pub struct JournalWriter<S: Storage> {
    storage: S,
    config: JournalConfig,
    active: ActiveSegment,
    /// Frames appended but not yet written.
    buffer: Vec<u8>,
    /// The records not yet closed by a commit: the first one's sequence number and where its
    /// frame starts in `buffer` (they run from there to the end of it).
    open: Option<(u64, usize)>,
    /// The events stream of the records not yet closed (see [`crate::record::events_digest`]).
    events: Vec<u8>,
    /// The last record appended.
    last_seq: u64,
    /// The last commit.
    head: ChainHead,
    durable: ChainHead,
    now_ms: i64,
    oldest_pending_ms: Option<i64>,
    stopped: Option<StorageError>,
    stats: WriterStats,
}

impl<S: Storage> JournalWriter<S> {
    /// A writer that starts a new segment after `head` (a fresh journal, or after a sealed one).
    pub(crate) fn start_new(storage: S, config: JournalConfig, head: ChainHead) -> Result<Self, StorageError> {
        let placeholder = ActiveSegment { path: String::new(), bytes: 0, records: 0 };
        let mut writer = Self::new(storage, config, placeholder, head);
        writer.create_segment(head.seq + 1, head.hash)?;
        Ok(writer)
    }

    /// A writer that appends to an existing, unsealed segment whose records end at `head`.
    pub(crate) fn resume(
        storage: S,
        config: JournalConfig,
        path: String,
        bytes: u64,
        records: u64,
        head: ChainHead,
    ) -> Self {
        Self::new(storage, config, ActiveSegment { path, bytes, records }, head)
    }

    fn new(storage: S, config: JournalConfig, active: ActiveSegment, head: ChainHead) -> Self {
        Self {
            storage,
            buffer: Vec::with_capacity(config.batch_bytes_max),
            open: None,
            events: Vec::new(),
            last_seq: head.seq,
            config,
            active,
            head,
            durable: head,
            now_ms: i64::MIN,
            oldest_pending_ms: None,
            stopped: None,
            stats: WriterStats::default(),
        }
    }

    /// Buffers a record of the command `payload` whose events encode to `events`; returns its
    /// ticket. Under `EveryRecords(n)` this may write and fsync; a segment rollover (which
    /// fsyncs the full segment) may happen first.
    ///
    /// # Errors
    /// [`WriteError::PayloadTooLarge`] (nothing appended, the writer goes on), or
    /// [`WriteError::Stopped`]: the writer is, or has just become, stopped. After a `Stopped`
    /// error the record may or may not be on disk; it was never acknowledged, and recovery
    /// decides whether it exists.
    pub fn append(&mut self, ts_ms: i64, payload: &[u8], events: &[u8]) -> Result<Ticket, WriteError> {
        self.append_with_events(ts_ms, payload, |stream| stream.extend_from_slice(events))
    }

    /// [`JournalWriter::append`], with the events' encoding written by `write_events` straight
    /// into the commit's events stream (appended to the `Vec` it is given) instead of copied
    /// from a buffer of the caller's.
    ///
    /// # Errors
    /// As [`JournalWriter::append`].
    pub fn append_with_events(
        &mut self,
        ts_ms: i64,
        payload: &[u8],
        write_events: impl FnOnce(&mut Vec<u8>),
    ) -> Result<Ticket, WriteError> {
        self.check_running()?;
        if payload.len() > PAYLOAD_BYTES_MAX {
            return Err(WriteError::PayloadTooLarge { len: payload.len(), max: PAYLOAD_BYTES_MAX });
        }
        let frame_bytes = record_frame_bytes(payload.len()) as u64;
        let would_be = self.active.bytes + frame_bytes + (COMMIT_FRAME_BYTES + SEAL_FRAME_BYTES) as u64;
        if self.active.records > 0 && would_be > self.config.segment_bytes_target {
            self.guarded(Self::roll)?;
        }
        let seq = self.last_seq + 1;
        let events_check = push_events_with(&mut self.events, write_events);
        self.open.get_or_insert((seq, self.buffer.len()));
        encode_record(&mut self.buffer, &RecordRef { seq, ts_ms, payload, events_check });
        self.last_seq = seq;
        self.active.bytes += frame_bytes;
        self.active.records += 1;
        self.stats.records_appended += 1;
        self.oldest_pending_ms.get_or_insert(self.now_ms);
        if self.buffer.len() >= self.config.batch_bytes_max {
            self.guarded(Self::flush)?;
        }
        if let SyncPolicy::EveryRecords(n) = self.config.sync_policy {
            if self.pending_records() >= u64::from(n) {
                self.guarded(Self::sync_now)?;
            }
        }
        Ok(Ticket { seq })
    }

    /// Writes and fsyncs everything appended so far; returns the durable head.
    ///
    /// # Errors
    /// [`WriteError::Stopped`].
    pub fn commit(&mut self) -> Result<ChainHead, WriteError> {
        self.check_running()?;
        self.guarded(Self::sync_now)?;
        Ok(self.durable)
    }

    /// Tells the writer the time (ms; a time earlier than one seen before is ignored). Under
    /// `EveryMillis(ms)` it writes and fsyncs once the oldest waiting record has waited `ms`.
    /// Returns the durable head.
    ///
    /// # Errors
    /// [`WriteError::Stopped`].
    pub fn tick(&mut self, now_ms: i64) -> Result<ChainHead, WriteError> {
        self.check_running()?;
        self.now_ms = self.now_ms.max(now_ms);
        if let (SyncPolicy::EveryMillis(interval), Some(oldest)) = (self.config.sync_policy, self.oldest_pending_ms) {
            let waited = i128::from(self.now_ms) - i128::from(oldest);
            if waited >= i128::from(interval) {
                self.guarded(Self::sync_now)?;
            }
        }
        Ok(self.durable)
    }

    /// The last durable sequence number (0 if none).
    #[must_use]
    pub fn durable_seq(&self) -> u64 {
        self.durable.seq
    }

    /// The durable chain head: what may be published.
    #[must_use]
    pub fn durable_head(&self) -> ChainHead {
        self.durable
    }

    /// The last commit, durable or not. Records appended since are not in a commit yet: the
    /// next write closes them.
    #[must_use]
    pub fn head(&self) -> ChainHead {
        self.head
    }

    /// The last record appended, committed or not.
    #[must_use]
    pub fn appended_seq(&self) -> u64 {
        self.last_seq
    }

    /// Whether the record of `ticket` is durable.
    #[must_use]
    pub fn is_durable(&self, ticket: Ticket) -> bool {
        ticket.seq <= self.durable.seq
    }

    /// Records appended but not yet durable.
    #[must_use]
    pub fn pending_records(&self) -> u64 {
        self.last_seq - self.durable.seq
    }

    /// The failure that stopped the writer, if it is stopped.
    #[must_use]
    pub fn stopped(&self) -> Option<&StorageError> {
        self.stopped.as_ref()
    }

    /// What the writer did so far.
    #[must_use]
    pub fn stats(&self) -> WriterStats {
        self.stats
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &JournalConfig {
        &self.config
    }

    /// The path of the segment being appended to.
    #[must_use]
    pub fn active_segment(&self) -> &str {
        &self.active.path
    }

    /// The storage.
    #[must_use]
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Gives the storage back. Records not yet durable are dropped, as at a crash.
    #[must_use]
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// Writes a snapshot of the engine state at `seq` atomically (see [`crate::snapshot`]).
    /// `seq` must be durable, and `chain_head_hash` the hash of record `seq` (checked when `seq`
    /// is the durable head; otherwise recovery checks it). A failure here does not stop the
    /// writer. Returns the snapshot's path.
    ///
    /// # Errors
    /// See [`SnapshotError`].
    pub fn write_snapshot(
        &mut self,
        seq: u64,
        state_hash: Hash,
        chain_head_hash: Hash,
        state: &[u8],
    ) -> Result<String, SnapshotError> {
        if let Some(cause) = &self.stopped {
            return Err(SnapshotError::Stopped(cause.clone()));
        }
        if seq == 0 {
            return Err(SnapshotError::SeqZero);
        }
        if seq > self.durable.seq {
            return Err(SnapshotError::NotDurable { seq, durable_seq: self.durable.seq });
        }
        if seq == self.durable.seq && chain_head_hash != self.durable.hash {
            return Err(SnapshotError::ChainHeadMismatch { seq });
        }
        if state.len() as u64 > SNAPSHOT_BYTES_MAX {
            return Err(SnapshotError::TooLarge { len: state.len() });
        }
        write_snapshot_file(&mut self.storage, seq, &state_hash, &chain_head_hash, state)
            .map_err(SnapshotError::Storage)
    }

    /// Moves every segment whose records the newest valid snapshot covers into `archive/`
    /// (never the active segment; nothing is deleted). A failure here does not stop the writer.
    ///
    /// # Errors
    /// See [`ArchiveError`].
    pub fn archive_covered_segments(&mut self) -> Result<ArchiveReport, ArchiveError> {
        if let Some(cause) = &self.stopped {
            return Err(ArchiveError::Stopped(cause.clone()));
        }
        let scan = latest_valid_snapshot(&self.storage)?;
        let Some(snapshot) = scan.snapshot else {
            return Ok(ArchiveReport { snapshot_seq: None, moved: Vec::new() });
        };
        let snapshot_seq = snapshot.seq.min(self.durable.seq);
        let moved = archive::archive_covered(&mut self.storage, snapshot_seq, &self.active.path)?;
        Ok(ArchiveReport { snapshot_seq: Some(snapshot.seq), moved })
    }

    /// A proof linking record `seq` to the durable record `to_seq` (see [`crate::proof`]).
    ///
    /// # Errors
    /// See [`ProofError`].
    pub fn proof(&self, seq: u64, to_seq: u64) -> Result<Proof, ProofError> {
        if to_seq > self.durable.seq {
            return Err(ProofError::NotDurable { to_seq, durable_seq: self.durable.seq });
        }
        proof::build_proof(&self.storage, seq, to_seq)
    }

    fn check_running(&self) -> Result<(), WriteError> {
        match &self.stopped {
            Some(cause) => Err(WriteError::Stopped { cause: cause.clone() }),
            None => Ok(()),
        }
    }

    /// Runs a storage step; a failure stops the writer for good.
    fn guarded(&mut self, step: fn(&mut Self) -> Result<(), StorageError>) -> Result<(), WriteError> {
        step(self).map_err(|cause| {
            self.stopped = Some(cause.clone());
            WriteError::Stopped { cause }
        })
    }

    /// Closes the records appended since the last commit with a commit frame.
    fn close_commit(&mut self) {
        let Some((first_seq, start)) = self.open.take() else { return };
        let records = records_digest(&self.buffer[start..]);
        let events = events_digest(&self.events);
        self.events.clear();
        let prev_hash = self.head.hash;
        let hash = commit_hash(first_seq, self.last_seq, &records, &events, &prev_hash);
        let commit = Commit { first_seq, last_seq: self.last_seq, events_digest: events, prev_hash, hash };
        encode_commit(&mut self.buffer, &commit);
        self.active.bytes += COMMIT_FRAME_BYTES as u64;
        self.head = commit.head();
    }

    /// Closes the open commit and writes the buffered frames (no fsync): every write ends with
    /// a commit frame.
    fn flush(&mut self) -> Result<(), StorageError> {
        self.close_commit();
        if self.buffer.is_empty() {
            return Ok(());
        }
        write_all(&mut self.storage, &self.active.path, &self.buffer)?;
        self.stats.bytes_written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Writes and fsyncs the active segment; everything appended becomes durable.
    fn sync_now(&mut self) -> Result<(), StorageError> {
        if self.durable.seq == self.last_seq {
            return Ok(());
        }
        self.flush()?;
        self.storage.sync(&self.active.path)?;
        self.stats.fsyncs += 1;
        self.mark_durable();
        Ok(())
    }

    fn mark_durable(&mut self) {
        self.durable = self.head;
        self.oldest_pending_ms = None;
    }

    /// Seals the active segment (durably) and starts the next one.
    fn roll(&mut self) -> Result<(), StorageError> {
        self.close_commit();
        encode_seal(&mut self.buffer, self.head);
        self.flush()?;
        self.storage.sync(&self.active.path)?;
        self.stats.fsyncs += 1;
        self.mark_durable();
        self.create_segment(self.head.seq + 1, self.head.hash)
    }

    /// Creates segment `first_seq`: header written and fsync'd under a temporary name, renamed,
    /// directory fsync'd. Records are appended only once the name is durable.
    fn create_segment(&mut self, first_seq: u64, anchor: Hash) -> Result<(), StorageError> {
        let path = segment_file_name(first_seq);
        let temp = format!("{path}{TEMP_SUFFIX}");
        self.storage.create(&temp)?;
        write_all(&mut self.storage, &temp, &SegmentHeader { first_seq, anchor }.encode())?;
        self.storage.sync(&temp)?;
        self.storage.rename(&temp, &path)?;
        self.storage.sync_dir("")?;
        self.stats.fsyncs += 2;
        self.stats.segments_created += 1;
        self.active = ActiveSegment { path, bytes: SEGMENT_HEADER_BYTES as u64, records: 0 };
        Ok(())
    }
}
