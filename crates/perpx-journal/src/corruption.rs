//! Corruption: every way the on-disk journal can be wrong, each naming the segment file and the
//! byte offset where the reader found it.
//!
//! Recovery and verification stop at the first one: a journal is never read past a bad byte,
//! and nothing is ever skipped. The only damage repaired on its own is a torn last record (see
//! [`TornTail`](crate::TornTail)), which is not corruption but an interrupted write.

use crate::frame::FrameFault;
use crate::segment::HeaderFault;

/// Truncation of a segment that is not the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Truncation {
    /// The segment ends in the middle of a frame.
    #[error("it ends inside a frame")]
    MidFrame,
    /// The segment ends on a frame boundary but without the seal every rolled-over segment has.
    #[error("it ends without its seal")]
    NoSeal,
}

/// The journal on disk is not what the writer wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// A segment header is broken.
    #[error("segment {segment}: bad header: {fault}")]
    BadHeader {
        /// The segment's path.
        segment: String,
        /// What is wrong.
        fault: HeaderFault,
    },
    /// A segment is of a format version this build does not read.
    #[error("segment {segment}: format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The segment's path.
        segment: String,
        /// The version in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// A record's bytes do not match their CRC32C (a flipped bit, a bad sector).
    #[error("segment {segment} at byte {offset}: checksum mismatch (CRC32C of the record body)")]
    ChecksumMismatch {
        /// The segment's path.
        segment: String,
        /// Offset of the frame.
        offset: u64,
    },
    /// A frame is broken in another way (its length prefix, its kind, its inner lengths).
    #[error("segment {segment} at byte {offset}: {fault}")]
    BadFrame {
        /// The segment's path.
        segment: String,
        /// Offset of the frame.
        offset: u64,
        /// What is wrong.
        fault: FrameFault,
    },
    /// A segment that is not the last one is cut short.
    #[error("segment {segment} is truncated at byte {offset}: {reason}")]
    TruncatedSegment {
        /// The segment's path.
        segment: String,
        /// Offset where the valid data ends.
        offset: u64,
        /// How it ends.
        reason: Truncation,
    },
    /// A commit's stored hash differs from the hash of its fields and records (a rewritten
    /// record or commit).
    #[error(
        "segment {segment} at byte {offset}: the commit of records {first_seq}..={last_seq} does not match its hash"
    )]
    HashMismatch {
        /// The segment's path.
        segment: String,
        /// Offset of the commit frame.
        offset: u64,
        /// Its first record.
        first_seq: u64,
        /// Its last record.
        last_seq: u64,
    },
    /// A commit does not name the records it follows (since the previous commit).
    #[error(
        "segment {segment} at byte {offset}: a commit of records {first_seq}..={last_seq} follows records {}",
        match records { Some((first, last)) => format!("{first}..={last}"), None => "none".to_owned() }
    )]
    CommitMismatch {
        /// The segment's path.
        segment: String,
        /// Offset of the commit frame.
        offset: u64,
        /// The first record it names.
        first_seq: u64,
        /// The last record it names.
        last_seq: u64,
        /// The records it follows, first and last (none: it follows another commit).
        records: Option<(u64, u64)>,
    },
    /// Records before a seal are not closed by a commit: the writer always commits first.
    #[error("segment {segment} at byte {offset}: records not closed by a commit before the seal")]
    UncommittedRecords {
        /// The segment's path.
        segment: String,
        /// Offset of the first record not closed.
        offset: u64,
    },
    /// A record's sequence number is higher than the next one: records are missing here (or a
    /// later record was moved here).
    #[error("segment {segment} at byte {offset}: sequence gap, expected record {expected}, found {found}")]
    SequenceGap {
        /// The segment's path.
        segment: String,
        /// Offset of the frame.
        offset: u64,
        /// The sequence number due.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// A record's sequence number is lower than the next one: a record repeats or was inserted
    /// or moved back.
    #[error("segment {segment} at byte {offset}: sequence goes back, expected record {expected}, found {found}")]
    SequenceRewind {
        /// The segment's path.
        segment: String,
        /// Offset of the frame.
        offset: u64,
        /// The sequence number due.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// A commit's `prev_hash` is not the hash of the commit before it.
    #[error(
        "segment {segment} at byte {offset}: chain broken, the commit from record {first_seq} does not link to the one ending at record {}",
        first_seq.saturating_sub(1)
    )]
    ChainBreak {
        /// The segment's path.
        segment: String,
        /// Offset of the commit frame.
        offset: u64,
        /// The commit's first record.
        first_seq: u64,
    },
    /// A segment's first sequence number is past the one due: a whole segment is missing.
    #[error(
        "missing segment before {segment}: expected first record {expected_first_seq}, it starts at {found_first_seq}"
    )]
    MissingSegment {
        /// The segment found after the gap.
        segment: String,
        /// The sequence number due.
        expected_first_seq: u64,
        /// The segment's first sequence number.
        found_first_seq: u64,
    },
    /// A segment starts before the sequence number due: it overlaps the one before.
    #[error(
        "segment {segment} overlaps its predecessor: expected first record {expected_first_seq}, it starts at {found_first_seq}"
    )]
    SegmentOverlap {
        /// The overlapping segment.
        segment: String,
        /// The sequence number due.
        expected_first_seq: u64,
        /// The segment's first sequence number.
        found_first_seq: u64,
    },
    /// A segment's chain anchor is not the hash of the record before it.
    #[error("segment {segment}: chain anchor does not match the last record of the previous segment")]
    AnchorMismatch {
        /// The segment's path.
        segment: String,
    },
    /// A seal names another record than the segment's last.
    #[error("segment {segment} at byte {offset}: seal does not match the segment's last record")]
    SealMismatch {
        /// The segment's path.
        segment: String,
        /// Offset of the seal.
        offset: u64,
    },
    /// Bytes follow a segment's seal.
    #[error("segment {segment} at byte {offset}: data after the seal")]
    DataAfterSeal {
        /// The segment's path.
        segment: String,
        /// Offset of the first byte after the seal.
        offset: u64,
    },
    /// Two segment files start at the same sequence number (one active, one archived).
    #[error("segments {first} and {second} both start at record {first_seq}")]
    DuplicateSegment {
        /// One path.
        first: String,
        /// The other.
        second: String,
        /// Their first sequence number.
        first_seq: u64,
    },
    /// A `.seg` file whose name is not 20 digits.
    #[error("segment {segment}: file name is not 20 digits and .seg")]
    BadSegmentName {
        /// The file's path.
        segment: String,
    },
    /// A segment file larger than any writer makes.
    #[error("segment {segment}: {bytes} bytes is larger than any segment")]
    SegmentTooLarge {
        /// The segment's path.
        segment: String,
        /// Its size.
        bytes: u64,
    },
    /// The newest segment is in the archive: the active one is missing.
    #[error("the newest segment {segment} is archived; the active segment after it is missing")]
    NoActiveSegment {
        /// The archived segment.
        segment: String,
    },
}

impl Corruption {
    /// The segment path the error names.
    #[must_use]
    pub fn segment(&self) -> &str {
        match self {
            Corruption::BadHeader { segment, .. }
            | Corruption::UnsupportedVersion { segment, .. }
            | Corruption::ChecksumMismatch { segment, .. }
            | Corruption::BadFrame { segment, .. }
            | Corruption::TruncatedSegment { segment, .. }
            | Corruption::HashMismatch { segment, .. }
            | Corruption::CommitMismatch { segment, .. }
            | Corruption::UncommittedRecords { segment, .. }
            | Corruption::SequenceGap { segment, .. }
            | Corruption::SequenceRewind { segment, .. }
            | Corruption::ChainBreak { segment, .. }
            | Corruption::MissingSegment { segment, .. }
            | Corruption::SegmentOverlap { segment, .. }
            | Corruption::AnchorMismatch { segment }
            | Corruption::SealMismatch { segment, .. }
            | Corruption::DataAfterSeal { segment, .. }
            | Corruption::BadSegmentName { segment }
            | Corruption::SegmentTooLarge { segment, .. }
            | Corruption::NoActiveSegment { segment } => segment,
            Corruption::DuplicateSegment { second, .. } => second,
        }
    }

    /// The byte offset the error names (0 for whole-file errors).
    #[must_use]
    pub fn offset(&self) -> u64 {
        match self {
            Corruption::ChecksumMismatch { offset, .. }
            | Corruption::BadFrame { offset, .. }
            | Corruption::TruncatedSegment { offset, .. }
            | Corruption::HashMismatch { offset, .. }
            | Corruption::SequenceGap { offset, .. }
            | Corruption::SequenceRewind { offset, .. }
            | Corruption::ChainBreak { offset, .. }
            | Corruption::SealMismatch { offset, .. }
            | Corruption::DataAfterSeal { offset, .. } => *offset,
            _ => 0,
        }
    }
}
