//! Full verification: every segment, archived first, from the genesis record to the head.
//!
//! Checks every header, every CRC32C, every sequence number, every commit hash and every link,
//! and stops at the first mismatch with its segment and byte offset. It only reads: a torn tail
//! is reported in the summary, not repaired. Compare `head` with a published head to detect a
//! journal cut after a segment boundary, which no local check can see.

use std::ops::ControlFlow;

use crate::chain::{Committed, ReadError, Walker, list_segments};
use crate::corruption::Corruption;
use crate::record::ChainHead;
use crate::scan::TornTail;
use crate::storage::Storage;

/// Progress of a verification, reported after each segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyProgress<'a> {
    /// The segment just verified.
    pub segment: &'a str,
    /// Segments verified so far.
    pub segments_done: usize,
    /// Segments in all.
    pub segments_total: usize,
    /// Records verified so far.
    pub records: u64,
    /// Bytes verified so far.
    pub bytes: u64,
}

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// Segments verified.
    pub segments: usize,
    /// Of which archived.
    pub archived_segments: usize,
    /// Records verified.
    pub records: u64,
    /// Bytes verified (valid part of every segment).
    pub bytes: u64,
    /// The head: the last commit's last record and hash.
    pub head: ChainHead,
    /// A torn tail (an unfinished last write), left in place.
    pub torn_tail: Option<TornTail>,
}

/// Verifies the whole chain; see the module docs.
///
/// # Errors
/// A storage failure or the first corruption.
pub fn verify_chain<S: Storage + ?Sized>(
    storage: &S,
    progress: impl FnMut(&VerifyProgress<'_>),
) -> Result<ChainSummary, ReadError> {
    verify_chain_with(storage, progress, |_| {})
}

/// [`verify_chain`], handing every commit, with its records, to `visit` in chain order as it
/// passes its checks (to replay the payloads, for instance). A corruption found later in the walk still fails
/// the verification, after `visit` has seen the records before it.
///
/// # Errors
/// A storage failure or the first corruption.
pub fn verify_chain_with<S: Storage + ?Sized>(
    storage: &S,
    mut progress: impl FnMut(&VerifyProgress<'_>),
    mut visit: impl FnMut(&Committed<'_>),
) -> Result<ChainSummary, ReadError> {
    let segments = list_segments(storage)?;
    if let Some(last) = segments.last().filter(|s| s.archived) {
        return Err(Corruption::NoActiveSegment { segment: last.path.clone() }.into());
    }
    let mut walker = Walker::from_genesis();
    let mut summary = ChainSummary {
        segments: 0,
        archived_segments: 0,
        records: 0,
        bytes: 0,
        head: ChainHead::GENESIS,
        torn_tail: None,
    };
    for (i, segment) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        let (_, end) = walker
            .walk(storage, segment, is_last, &mut |_, committed| {
                visit(committed);
                ControlFlow::Continue(())
            })?
            .expect("the visitor never stops the walk");
        summary.segments += 1;
        summary.archived_segments += usize::from(segment.archived);
        summary.records += end.records;
        summary.bytes += end.valid_len;
        summary.torn_tail = end.torn;
        progress(&VerifyProgress {
            segment: &segment.path,
            segments_done: i + 1,
            segments_total: segments.len(),
            records: summary.records,
            bytes: summary.bytes,
        });
    }
    summary.head = walker.head();
    Ok(summary)
}
