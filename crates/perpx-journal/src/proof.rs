//! Proofs: a record, the commit that holds it, and the commits after it up to a published head,
//! so that anyone holding only the head `(seq, hash)` can check the record is in the journal.
//!
//! The verifier encodes the commit's records as frames (the encoding is canonical), digests
//! them, recomputes the commit's hash, then each link's hash from its fields and the hash
//! before it, and compares the last one with the trusted head. A change to any byte of any
//! record or commit — or a link left out, added or reordered — changes the final hash (blake3
//! is collision resistant), so the proof fails.
//!
//! A proof shows the records that share the proven record's commit (one group commit, at most
//! the writer's buffer), and of the commits after it only their digests: links are 120 bytes
//! and reveal no command.

use std::ops::ControlFlow;

use crate::chain::{ReadError, Walker, list_segments};
use crate::frame::encode_record;
use crate::limits::PROOF_LINKS_MAX;
use crate::record::{ChainHead, Commit, Hash, Record, commit_hash, records_digest};
use crate::storage::Storage;

/// A record and the chain from its commit to a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The proven record's sequence number.
    pub seq: u64,
    /// Every record of the commit that holds it, in order.
    pub records: Vec<Record>,
    /// That commit.
    pub commit: Commit,
    /// The commits after it up to the head, in order.
    pub links: Vec<CommitLink>,
    /// The head the proof leads to.
    pub head: ChainHead,
}

/// A commit after the proven one: what its hash covers, with its records' digest in place of
/// its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitLink {
    /// Its first record.
    pub first_seq: u64,
    /// Its last record.
    pub last_seq: u64,
    /// The digest of its records' frames.
    pub records_digest: Hash,
    /// The digest of its records' events.
    pub events_digest: Hash,
    /// Its hash.
    pub hash: Hash,
}

impl CommitLink {
    /// The chain head this commit forms.
    #[must_use]
    pub fn head(&self) -> ChainHead {
        ChainHead { seq: self.last_seq, hash: self.hash }
    }
}

impl Proof {
    /// The proven record.
    #[must_use]
    pub fn record(&self) -> Option<&Record> {
        self.records.iter().find(|r| r.seq == self.seq)
    }
}

/// Why a proof could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// `seq` is 0 or after `to_seq`.
    #[error("no proof from record {seq} to record {to_seq}")]
    BadRange {
        /// The record to prove.
        seq: u64,
        /// The head to reach.
        to_seq: u64,
    },
    /// The proof would carry more than [`PROOF_LINKS_MAX`] links.
    #[error("a proof from {seq} to {to_seq} needs more than {PROOF_LINKS_MAX} links")]
    TooLong {
        /// The record to prove.
        seq: u64,
        /// The head to reach.
        to_seq: u64,
    },
    /// The head is not durable yet.
    #[error("record {to_seq} is not durable yet (durable: {durable_seq})")]
    NotDurable {
        /// The head asked for.
        to_seq: u64,
        /// The durable sequence number.
        durable_seq: u64,
    },
    /// A record is not in the journal.
    #[error("record {seq} is not in the journal")]
    NotFound {
        /// The missing record.
        seq: u64,
    },
    /// The head asked for is inside a commit: a head is always a commit's last record.
    #[error(
        "record {to_seq} is not the last of a commit (its commit ends at record {commit_end}), so no head is there"
    )]
    NotAHead {
        /// The head asked for.
        to_seq: u64,
        /// Where its commit ends.
        commit_end: u64,
    },
    /// Reading the journal failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofVerifyError {
    /// The commit's records are not its records `first_seq..=last_seq` in order, or the proven
    /// record is not among them.
    #[error("the proof's records are not those of its commit ({first_seq}..={last_seq}) with record {seq} among them")]
    Records {
        /// The proven record.
        seq: u64,
        /// The commit's first record.
        first_seq: u64,
        /// The commit's last record.
        last_seq: u64,
    },
    /// The commit does not match its records and its hash.
    #[error("the commit of records {first_seq}..={last_seq} does not match its hash")]
    CommitHash {
        /// Its first record.
        first_seq: u64,
        /// Its last record.
        last_seq: u64,
    },
    /// A link does not match its hash (or does not follow the commit before it).
    #[error("the link of records {first_seq}..={last_seq} does not match its hash")]
    LinkHash {
        /// Its first record.
        first_seq: u64,
        /// Its last record.
        last_seq: u64,
    },
    /// A link does not start after the commit before it.
    #[error("link out of sequence: expected a commit from record {expected}, found one from {found}")]
    LinkSequence {
        /// The first record due.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// The chain leads somewhere else than the trusted head.
    #[error("the proof leads to record {computed_seq}, not to the trusted head {trusted_seq}")]
    HeadMismatch {
        /// Where the proof leads.
        computed_seq: u64,
        /// The trusted head's sequence number.
        trusted_seq: u64,
    },
    /// More links than any proof has.
    #[error("more than {PROOF_LINKS_MAX} links")]
    TooLong,
}

/// Builds the proof of record `seq` up to the head at record `to_seq` (the last record of a
/// commit), reading archived and active segments.
///
/// # Errors
/// See [`ProofError`]; corruption met on the way is reported, never skipped.
pub fn build_proof<S: Storage + ?Sized>(storage: &S, seq: u64, to_seq: u64) -> Result<Proof, ProofError> {
    if seq == 0 || seq > to_seq {
        return Err(ProofError::BadRange { seq, to_seq });
    }
    if to_seq - seq > PROOF_LINKS_MAX {
        return Err(ProofError::TooLong { seq, to_seq });
    }
    let segments = list_segments(storage)?;
    let start = segments.iter().rposition(|s| s.first_seq <= seq).ok_or(ProofError::NotFound { seq })?;
    let mut walker = Walker::from_first_segment();
    let mut proven: Option<(Vec<Record>, Commit)> = None;
    let mut links = Vec::new();
    let mut end = 0;
    for (i, segment) in segments.iter().enumerate().skip(start) {
        let is_last = i + 1 == segments.len();
        let mut collect = |_: &_, c: &crate::Committed<'_>| {
            let commit = c.commit;
            if commit.last_seq < seq {
                return ControlFlow::Continue(());
            }
            end = commit.last_seq;
            if proven.is_none() {
                proven = Some((c.records.iter().map(|(_, r)| r.to_record()).collect(), commit));
            } else {
                links.push(CommitLink {
                    first_seq: commit.first_seq,
                    last_seq: commit.last_seq,
                    records_digest: c.records_digest,
                    events_digest: commit.events_digest,
                    hash: commit.hash,
                });
            }
            if commit.last_seq >= to_seq { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        };
        if walker.walk(storage, segment, is_last, &mut collect)?.is_none() {
            break;
        }
    }
    let Some((records, commit)) = proven.filter(|(records, _)| records.iter().any(|r| r.seq == seq)) else {
        return Err(ProofError::NotFound { seq });
    };
    if end < to_seq {
        return Err(ProofError::NotFound { seq: to_seq });
    }
    if end > to_seq {
        return Err(ProofError::NotAHead { to_seq, commit_end: end });
    }
    let head = links.last().map_or(commit.head(), CommitLink::head);
    Ok(Proof { seq, records, commit, links, head })
}

/// Checks that `proof` links its record to `trusted_head`.
///
/// # Errors
/// The first thing that does not hold.
pub fn verify_proof(proof: &Proof, trusted_head: &ChainHead) -> Result<(), ProofVerifyError> {
    if proof.links.len() as u64 > PROOF_LINKS_MAX {
        return Err(ProofVerifyError::TooLong);
    }
    let commit = &proof.commit;
    let (first_seq, last_seq) = (commit.first_seq, commit.last_seq);
    let in_order = proof.records.iter().zip(first_seq..).all(|(r, due)| r.seq == due)
        && proof.records.last().is_some_and(|r| r.seq == last_seq);
    if !in_order || !(first_seq..=last_seq).contains(&proof.seq) {
        return Err(ProofVerifyError::Records { seq: proof.seq, first_seq, last_seq });
    }
    let mut frames = Vec::new();
    for record in &proof.records {
        encode_record(&mut frames, &record.as_ref());
    }
    if commit.compute_hash(&records_digest(&frames)) != commit.hash {
        return Err(ProofVerifyError::CommitHash { first_seq, last_seq });
    }
    let mut head = commit.head();
    for link in &proof.links {
        if link.first_seq != head.seq + 1 {
            return Err(ProofVerifyError::LinkSequence { expected: head.seq + 1, found: link.first_seq });
        }
        let hash = commit_hash(link.first_seq, link.last_seq, &link.records_digest, &link.events_digest, &head.hash);
        if hash != link.hash || link.last_seq < link.first_seq {
            return Err(ProofVerifyError::LinkHash { first_seq: link.first_seq, last_seq: link.last_seq });
        }
        head = link.head();
    }
    if head != *trusted_head {
        return Err(ProofVerifyError::HeadMismatch { computed_seq: head.seq, trusted_seq: trusted_head.seq });
    }
    Ok(())
}
