//! Proofs: a record and the records after it up to a published head, so that anyone holding
//! only the head `(seq, hash)` can check the record is in the journal.
//!
//! The verifier recomputes the record's hash from its fields, then each link's hash from its
//! fields and the hash before it, and compares the last one with the trusted head. A change to
//! any byte of the record or of a link — or a link left out, added or reordered — changes the
//! final hash (blake3 is collision resistant), so the proof fails. A proof carries whole link
//! records because the record hash covers the payload itself (see [`crate::record`]).

use std::ops::ControlFlow;

use crate::chain::{ReadError, Walker, list_segments};
use crate::limits::PROOF_LINKS_MAX;
use crate::record::{ChainHead, Record};
use crate::storage::Storage;

/// A record and the chain from it to a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The proven record.
    pub record: Record,
    /// Records `record.seq + 1 ..= head.seq`, in order.
    pub links: Vec<Record>,
    /// The head the proof leads to.
    pub head: ChainHead,
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
    /// Reading the journal failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofVerifyError {
    /// The proven record does not match its hash.
    #[error("record {seq} does not match its hash")]
    RecordHash {
        /// Its sequence number.
        seq: u64,
    },
    /// A link does not match its hash.
    #[error("link {seq} does not match its hash")]
    LinkHash {
        /// Its sequence number.
        seq: u64,
    },
    /// A link's sequence number is not the next.
    #[error("link out of sequence: expected {expected}, found {found}")]
    LinkSequence {
        /// The sequence number due.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// A link does not point at the hash before it.
    #[error("link {seq} does not point at record {}", seq.saturating_sub(1))]
    LinkPrev {
        /// Its sequence number.
        seq: u64,
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

/// Builds the proof of record `seq` up to record `to_seq`, reading archived and active segments.
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
    let mut records: Vec<Record> = Vec::new();
    for (i, segment) in segments.iter().enumerate().skip(start) {
        let is_last = i + 1 == segments.len();
        let mut collect = |_: &_, _: u64, record: &crate::frame::RecordRef<'_>| {
            if record.seq >= seq {
                records.push(record.to_record());
            }
            if record.seq >= to_seq { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        };
        if walker.walk(storage, segment, is_last, &mut collect)?.is_none() {
            break;
        }
    }
    match records.last() {
        Some(last) if last.seq == to_seq => {}
        _ => return Err(ProofError::NotFound { seq: if records.is_empty() { seq } else { to_seq } }),
    }
    let head = records[records.len() - 1].head();
    let mut records = records.into_iter();
    let record = records.next().expect("at least the last record");
    Ok(Proof { record, links: records.collect(), head })
}

/// Checks that `proof` links its record to `trusted_head`.
///
/// # Errors
/// The first thing that does not hold.
pub fn verify_proof(proof: &Proof, trusted_head: &ChainHead) -> Result<(), ProofVerifyError> {
    if proof.links.len() as u64 > PROOF_LINKS_MAX {
        return Err(ProofVerifyError::TooLong);
    }
    if !proof.record.hash_is_valid() {
        return Err(ProofVerifyError::RecordHash { seq: proof.record.seq });
    }
    let mut head = proof.record.head();
    for link in &proof.links {
        if link.seq != head.seq + 1 {
            return Err(ProofVerifyError::LinkSequence { expected: head.seq + 1, found: link.seq });
        }
        if link.prev_hash != head.hash {
            return Err(ProofVerifyError::LinkPrev { seq: link.seq });
        }
        if !link.hash_is_valid() {
            return Err(ProofVerifyError::LinkHash { seq: link.seq });
        }
        head = link.head();
    }
    if head != *trusted_head {
        return Err(ProofVerifyError::HeadMismatch { computed_seq: head.seq, trusted_seq: trusted_head.seq });
    }
    Ok(())
}
