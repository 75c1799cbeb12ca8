//! `perpx verify`: check a journal end to end, without changing it.
//!
//! 1. The chain, from genesis, archive included: every header, checksum, sequence number,
//!    commit hash and link ([`perpx_journal::verify_chain_with`]).
//! 2. Every command replayed through a fresh engine (with the settings of the newest valid
//!    snapshot, or the defaults): each payload must decode, carry its record's timestamp, and
//!    produce events with the record's check, and each commit's events their digest.
//! 3. At the newest valid snapshot's sequence number, the replayed engine must have the
//!    snapshot's state hash, and its state must equal the snapshot's decoded state.
//!
//! The first problem in chain order is the error, naming the record, its segment and byte
//! offset, and what differed. Nothing is written: a torn tail is reported, not repaired.

use std::cell::RefCell;

use perpx_core::{Engine, EngineConfig, EventKind, StateHash};
use perpx_journal::record::hex;
use perpx_journal::{
    ChainSummary, ReadError, SkippedSnapshot, Snapshot, Storage, StorageError, latest_valid_snapshot, verify_chain_with,
};

use crate::codec::decode_snapshot;
use crate::replay::{ReplayMismatch, Replayer, SnapshotLoadError, snapshot_config};

/// Where a verification stands, reported after each segment and every
/// [`PROGRESS_EVERY_RECORDS`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records checked and replayed so far.
    pub records: u64,
    /// Segments done.
    pub segments_done: usize,
    /// Segments in all.
    pub segments_total: usize,
    /// Segment bytes done.
    pub bytes: u64,
}

/// How often (in records) progress is reported inside a segment.
pub const PROGRESS_EVERY_RECORDS: u64 = 1 << 16;

/// The newest valid snapshot, checked against the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotCheck {
    /// Its sequence number.
    pub seq: u64,
    /// The state hash both agree on.
    pub state_hash: StateHash,
}

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The chain: segments, records, bytes, head, torn tail.
    pub chain: ChainSummary,
    /// The snapshot checked against the replay.
    pub snapshot: Option<SnapshotCheck>,
    /// Invalid snapshot files newer than it.
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    /// The engine settings of the replay.
    pub engine: EngineConfig,
    /// Commands the engine rejected.
    pub rejected: u64,
    /// Events replayed.
    pub events: u64,
    /// The replayed engine's final state hash.
    pub state_hash: StateHash,
}

/// Why a journal did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The chain is broken (the corruption names segment and offset).
    #[error(transparent)]
    Chain(ReadError),
    /// A record did not replay as recorded.
    #[error("record {seq} (segment {segment}, offset {offset}): {mismatch}")]
    Replay {
        /// The record.
        seq: u64,
        /// Its segment.
        segment: String,
        /// Its frame's offset in the segment.
        offset: u64,
        /// What differed.
        mismatch: Box<ReplayMismatch>,
    },
    /// The replayed state at the snapshot's sequence number is not the snapshot's.
    #[error("snapshot at {seq} (record in segment {segment}, offset {offset}): {detail}")]
    SnapshotState {
        /// The snapshot's sequence number.
        seq: u64,
        /// The segment of record `seq`.
        segment: String,
        /// Its offset.
        offset: u64,
        /// What differed.
        detail: String,
    },
    /// The newest valid snapshot is past the journal's last record.
    #[error("the newest valid snapshot, at {seq}, is beyond the journal's last record {head}")]
    SnapshotBeyondHead {
        /// The snapshot's sequence number.
        seq: u64,
        /// The journal's head.
        head: u64,
    },
    /// The newest valid snapshot's state cannot be read.
    #[error("snapshot at {seq}: {source}")]
    Snapshot {
        /// Its sequence number.
        seq: u64,
        /// Why.
        source: SnapshotLoadError,
    },
}

#[derive(Debug)]
struct Walk {
    replayer: Replayer,
    failure: Option<VerifyError>,
    snapshot_checked: bool,
    rejected: u64,
    events: u64,
    records: u64,
    segments: (usize, usize, u64),
}

/// Verifies the journal in `storage`; see the module docs. `engine` overrides the settings of
/// the replay (by default: the newest valid snapshot's, or [`EngineConfig::default`]).
///
/// # Errors
/// The first problem, in chain order; see [`VerifyError`].
pub fn verify_journal<S: Storage + ?Sized>(
    storage: &S,
    engine: Option<EngineConfig>,
    progress: impl FnMut(&Progress),
) -> Result<VerifyReport, VerifyError> {
    let scan = latest_valid_snapshot(storage)?;
    let snapshot = scan.snapshot;
    let config = match (engine, &snapshot) {
        (Some(config), _) => config,
        (None, Some(s)) => snapshot_config(s).map_err(|source| VerifyError::Snapshot { seq: s.seq, source })?,
        (None, None) => EngineConfig::default(),
    };
    let walk = RefCell::new(Walk {
        replayer: Replayer::new(Engine::new(config.clone()), false),
        failure: None,
        snapshot_checked: false,
        rejected: 0,
        events: 0,
        records: 0,
        segments: (0, 0, 0),
    });
    let progress = RefCell::new(progress);
    let report = |w: &Walk| {
        let (segments_done, segments_total, bytes) = w.segments;
        (progress.borrow_mut())(&Progress { records: w.records, segments_done, segments_total, bytes });
    };
    let on_segment = |p: &perpx_journal::VerifyProgress<'_>| {
        let mut w = walk.borrow_mut();
        w.segments = (p.segments_done, p.segments_total, p.bytes);
        report(&w);
    };
    let on_commit = |c: &perpx_journal::Committed<'_>| {
        let mut w = walk.borrow_mut();
        let w = &mut *w;
        if w.failure.is_some() {
            return;
        }
        let (mut records, mut events, mut rejected) = (0, 0, 0);
        let replayed = w.replayer.apply_commit(c, |_, _, e| {
            records += 1;
            events += e.len() as u64;
            rejected += u64::from(e.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. })));
        });
        let before = w.records;
        (w.records, w.events, w.rejected) = (w.records + records, w.events + events, w.rejected + rejected);
        if let Err((seq, mismatch)) = replayed {
            let offset = c.records.iter().find(|(_, r)| r.seq == seq).map_or(c.offset, |(o, _)| *o);
            let segment = c.segment.to_owned();
            w.failure = Some(VerifyError::Replay { seq, segment, offset, mismatch: Box::new(mismatch) });
            return;
        }
        if before / PROGRESS_EVERY_RECORDS != w.records / PROGRESS_EVERY_RECORDS {
            report(w);
        }
        let commit = &c.commit;
        if let Some(s) = snapshot.as_ref().filter(|s| (commit.first_seq..=commit.last_seq).contains(&s.seq)) {
            w.snapshot_checked = true;
            let (segment, offset) = (c.segment.to_owned(), c.offset);
            let compared = if s.seq == commit.last_seq {
                compare_with_snapshot(w.replayer.engine(), s)
            } else {
                Err(format!(
                    "the snapshot is inside the commit of records {}..={}: a snapshot is taken at a commit's end",
                    commit.first_seq, commit.last_seq
                ))
            };
            if let Err(detail) = compared {
                w.failure = Some(VerifyError::SnapshotState { seq: s.seq, segment, offset, detail });
            }
        }
    };
    let chain = verify_chain_with(storage, on_segment, on_commit);
    let walk = walk.into_inner();
    if let Some(failure) = walk.failure {
        return Err(failure);
    }
    let chain = chain.map_err(VerifyError::Chain)?;
    if let Some(s) = &snapshot {
        if !walk.snapshot_checked {
            return Err(VerifyError::SnapshotBeyondHead { seq: s.seq, head: chain.head.seq });
        }
    }
    Ok(VerifyReport {
        snapshot: snapshot.map(|s| SnapshotCheck { seq: s.seq, state_hash: StateHash(s.state_hash) }),
        skipped_snapshots: scan.skipped,
        engine: config,
        rejected: walk.rejected,
        events: walk.events,
        state_hash: walk.replayer.engine().state_hash(),
        chain,
    })
}

/// The replayed engine against a snapshot file at its sequence number: the state hash, then
/// the whole decoded state (which also covers what the hash leaves out).
fn compare_with_snapshot(engine: &Engine, snapshot: &Snapshot) -> Result<(), String> {
    let found = engine.state_hash().0;
    if found != snapshot.state_hash {
        return Err(format!(
            "the replayed state hash is {}, the snapshot records {}",
            hex(&found),
            hex(&snapshot.state_hash)
        ));
    }
    let state = decode_snapshot(&snapshot.state).map_err(|e| format!("the state does not decode: {e}"))?;
    if state != engine.snapshot() {
        return Err("the snapshot's state differs from the replayed one (with the same state hash)".into());
    }
    Ok(())
}
