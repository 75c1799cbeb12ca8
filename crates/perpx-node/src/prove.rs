//! `perpx proof`: a record, what it did, and the chain linking it to a head — verified.
//!
//! The journal is walked once from genesis (every check of `perpx verify`'s chain step), and
//! the commands up to the record's commit are replayed — from the newest valid snapshot when it
//! is before the record, else from genesis — to show the command's events and check them
//! against the record's check and the commit's digest. Then the proof (the commit holding the
//! record, and every commit after it up to the head) is built and verified against the head
//! the walk found.

use std::cell::RefCell;

use perpx_core::{Command, Engine, EngineConfig, Event};
use perpx_journal::{
    ChainHead, Proof, ProofError, ProofVerifyError, ReadError, Storage, StorageError, build_proof,
    latest_valid_snapshot, verify_chain_with, verify_proof,
};

use crate::replay::{ReplayMismatch, Replayer, SnapshotLoadError, load_snapshot, snapshot_config};

/// A verified proof with the record's command and events.
#[derive(Debug, Clone)]
pub struct ProofReport {
    /// The record, its commit, the links and the head; verified.
    pub proof: Proof,
    /// The segment holding the record.
    pub segment: String,
    /// The record's frame offset in it.
    pub offset: u64,
    /// The decoded command.
    pub command: Command,
    /// The events the replay produced for it (their check is the record's, and its commit's
    /// events digest held).
    pub events: Vec<Event>,
    /// The engine after the record's commit (to name markets and format numbers).
    pub engine: Engine,
    /// The snapshot the replay started from, if any.
    pub replayed_from: Option<u64>,
    /// The journal's last record.
    pub journal_head: ChainHead,
}

/// Why no proof was produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProveError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The chain is broken.
    #[error(transparent)]
    Chain(ReadError),
    /// The head asked for is inside a commit: heads are commits' last records.
    #[error("record {to} is not a head: its commit ends at record {commit_end}")]
    NotAHead {
        /// The head asked for.
        to: u64,
        /// Where its commit ends.
        commit_end: u64,
    },
    /// The record or the head is not in the journal.
    #[error("record {seq} is not in the journal, whose last record is {head}")]
    NotFound {
        /// The record asked for.
        seq: u64,
        /// The journal's head.
        head: u64,
    },
    /// The head asked for is before the record.
    #[error("the head {to} is before the record {seq}")]
    BadRange {
        /// The record.
        seq: u64,
        /// The head.
        to: u64,
    },
    /// A record up to the proven one did not replay as recorded.
    #[error("record {seq} (segment {segment}, offset {offset}): {mismatch}")]
    Replay {
        /// The record.
        seq: u64,
        /// Its segment.
        segment: String,
        /// Its offset.
        offset: u64,
        /// What differed.
        mismatch: Box<ReplayMismatch>,
    },
    /// The snapshot the replay starts from cannot be used.
    #[error("snapshot at {seq}: {source}")]
    Snapshot {
        /// Its sequence number.
        seq: u64,
        /// Why.
        source: SnapshotLoadError,
    },
    /// Building the proof failed.
    #[error(transparent)]
    Build(#[from] ProofError),
    /// The proof does not verify against the head (the journal changed under the walk?).
    #[error(transparent)]
    Verify(#[from] ProofVerifyError),
}

#[derive(Debug)]
struct Walk {
    replayer: Replayer,
    failure: Option<ProveError>,
    found: Option<(String, u64, Command, Vec<Event>, Engine)>,
    head_at_to: Option<ChainHead>,
}

/// Proves record `seq` up to record `to` (default: the journal's last record).
///
/// # Errors
/// See [`ProveError`].
pub fn prove<S: Storage + ?Sized>(storage: &S, seq: u64, to: Option<u64>) -> Result<ProofReport, ProveError> {
    if let Some(to) = to.filter(|to| *to < seq) {
        return Err(ProveError::BadRange { seq, to });
    }
    let scan = latest_valid_snapshot(storage)?;
    let (engine, replayed_from) = match &scan.snapshot {
        Some(s) if s.seq < seq => {
            (load_snapshot(s).map_err(|source| ProveError::Snapshot { seq: s.seq, source })?, Some(s.seq))
        }
        Some(s) => {
            let config = snapshot_config(s).map_err(|source| ProveError::Snapshot { seq: s.seq, source })?;
            (Engine::new(config), None)
        }
        None => (Engine::new(EngineConfig::default()), None),
    };
    let start = engine.seq();
    let walk =
        RefCell::new(Walk { replayer: Replayer::new(engine, false), failure: None, found: None, head_at_to: None });
    let visit = |c: &perpx_journal::Committed<'_>| {
        let mut w = walk.borrow_mut();
        let w = &mut *w;
        let commit = &c.commit;
        if let Some(to) = to.filter(|to| (commit.first_seq..=commit.last_seq).contains(to)) {
            if to == commit.last_seq {
                w.head_at_to = Some(commit.head());
            } else if w.failure.is_none() {
                w.failure = Some(ProveError::NotAHead { to, commit_end: commit.last_seq });
            }
        }
        if commit.last_seq <= start || commit.first_seq > seq || w.failure.is_some() {
            return;
        }
        let mut found = None;
        match w.replayer.apply_commit(c, |r, command, events| {
            if r.seq == seq {
                found = Some((command.clone(), events.to_vec()));
            }
        }) {
            Ok(()) => {
                if let Some((command, events)) = found {
                    let offset = c.records.iter().find(|(_, r)| r.seq == seq).map_or(c.offset, |(o, _)| *o);
                    w.found = Some((c.segment.to_owned(), offset, command, events, w.replayer.engine().clone()));
                }
            }
            Err((failed, mismatch)) => {
                let offset = c.records.iter().find(|(_, r)| r.seq == failed).map_or(c.offset, |(o, _)| *o);
                w.failure = Some(ProveError::Replay {
                    seq: failed,
                    segment: c.segment.to_owned(),
                    offset,
                    mismatch: Box::new(mismatch),
                });
            }
        }
    };
    let chain = verify_chain_with(storage, |_| {}, visit);
    let walk = walk.into_inner();
    if let Some(failure) = walk.failure {
        return Err(failure);
    }
    let chain = chain.map_err(ProveError::Chain)?;
    let trusted = match to {
        None => chain.head,
        Some(to) => walk.head_at_to.ok_or(ProveError::NotFound { seq: to, head: chain.head.seq })?,
    };
    let Some((segment, offset, command, events, engine)) = walk.found else {
        return Err(ProveError::NotFound { seq, head: chain.head.seq });
    };
    let proof = build_proof(storage, seq, trusted.seq)?;
    verify_proof(&proof, &trusted)?;
    Ok(ProofReport { proof, segment, offset, command, events, engine, replayed_from, journal_head: chain.head })
}
