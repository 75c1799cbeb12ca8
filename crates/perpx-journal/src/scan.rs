//! Reading the frames of one segment, and the torn-tail rule.
//!
//! Every write of the writer ends with a commit frame, so records after the last commit of the
//! last segment are the start of a write that did not finish: they are part of the **torn
//! tail**, with whatever frame follows them. (Nothing in them was acknowledged: a record is
//! durable only once an fsync covered its commit.)
//!
//! A frame that is cut short or invalid is part of a torn tail — an interrupted write, repaired
//! by truncation — only when all of these hold:
//! - it is in the last segment;
//! - nothing but zero bytes follows the part of it that can be trusted: the whole frame when its
//!   header checksum holds (its length is then known), else just its 12-byte header.
//!
//! A crash tears only the end of what was being appended, and a file system that extended the
//! file without writing the data shows zeros there; so a torn write always satisfies the rule.
//! A flipped bit anywhere before the last frame leaves valid, non-zero bytes after it and is
//! reported as corruption. (A flipped bit inside the very last frame of the journal is
//! indistinguishable from a torn write and is truncated like one: see docs/JOURNAL.md.)

use std::ops::ControlFlow;

use crate::corruption::{Corruption, Truncation};
use crate::frame::{Body, FrameFault, FrameRead, RecordRef, read_frame};
use crate::record::{ChainHead, Commit};
use crate::segment::SEGMENT_HEADER_BYTES;

/// A torn last record that recovery truncated (or that verification found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment's path.
    pub segment: String,
    /// Offset where the torn frame started: the new length of the file.
    pub offset: u64,
    /// Bytes dropped (the old length minus `offset`).
    pub bytes_dropped: u64,
}

/// How a segment's frames end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentEnd {
    /// Length of the valid part (the file length unless the tail is torn).
    pub valid_len: u64,
    /// The seal, with its offset, if the segment was rolled over.
    pub seal: Option<(u64, ChainHead)>,
    /// The torn tail, if any.
    pub torn: Option<TornTail>,
    /// Records in the segment, those of the torn tail excepted.
    pub records: u64,
}

/// Whether the scan ran to the end or the visitor stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// The visitor asked to stop.
    Stopped,
    /// The end of the segment.
    End(SegmentEnd),
}

/// A frame the scan hands its visitor.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    /// A record (closed by a later commit, or else dropped with the torn tail).
    Record(RecordRef<'a>),
    /// A commit, closing the records since the previous one.
    Commit(Commit),
}

/// A visitor of the frames of a segment: gets each frame's offset and contents.
pub(crate) type FrameVisitor<'v, 'a> = dyn FnMut(u64, Item<'a>) -> Result<ControlFlow<()>, Corruption> + 'v;

/// Scans the frames of segment `path` (`bytes` is the whole file, header included).
///
/// # Errors
/// The first corruption, or the visitor's error.
pub(crate) fn scan_frames<'a>(
    path: &str,
    bytes: &'a [u8],
    is_last: bool,
    visit: &mut FrameVisitor<'_, 'a>,
) -> Result<ScanEnd, Corruption> {
    let mut offset = SEGMENT_HEADER_BYTES;
    // Records seen, and those closed by a commit; where the first record after the last commit
    // starts, if any follows it.
    let (mut records, mut committed) = (0, 0);
    let mut uncommitted: Option<usize> = None;
    loop {
        let at = offset as u64;
        if offset == bytes.len() {
            if !is_last {
                let reason = Truncation::NoSeal;
                return Err(Corruption::TruncatedSegment { segment: path.to_owned(), offset: at, reason });
            }
            if let Some(start) = uncommitted {
                return Ok(ScanEnd::End(torn(path, bytes, start, committed)));
            }
            return Ok(ScanEnd::End(SegmentEnd { valid_len: at, seal: None, torn: None, records }));
        }
        match read_frame(&bytes[offset..]) {
            FrameRead::Valid { body: Body::Record(record), len } => {
                records += 1;
                uncommitted.get_or_insert(offset);
                if visit(at, Item::Record(record))?.is_break() {
                    return Ok(ScanEnd::Stopped);
                }
                offset += len;
            }
            FrameRead::Valid { body: Body::Commit(commit), len } => {
                committed = records;
                uncommitted = None;
                if visit(at, Item::Commit(commit))?.is_break() {
                    return Ok(ScanEnd::Stopped);
                }
                offset += len;
            }
            FrameRead::Valid { body: Body::Seal(head), len } => {
                if let Some(start) = uncommitted {
                    return Err(Corruption::UncommittedRecords { segment: path.to_owned(), offset: start as u64 });
                }
                let after = offset + len;
                if after != bytes.len() {
                    return Err(Corruption::DataAfterSeal { segment: path.to_owned(), offset: after as u64 });
                }
                let end = SegmentEnd { valid_len: after as u64, seal: Some((at, head)), torn: None, records };
                return Ok(ScanEnd::End(end));
            }
            FrameRead::Incomplete if is_last => {
                return Ok(ScanEnd::End(torn(path, bytes, uncommitted.unwrap_or(offset), committed)));
            }
            FrameRead::Incomplete => {
                let reason = Truncation::MidFrame;
                return Err(Corruption::TruncatedSegment { segment: path.to_owned(), offset: at, reason });
            }
            FrameRead::Invalid { fault, extent } => {
                if is_last && bytes[offset + extent..].iter().all(|&b| b == 0) {
                    return Ok(ScanEnd::End(torn(path, bytes, uncommitted.unwrap_or(offset), committed)));
                }
                return Err(match fault {
                    FrameFault::BodyChecksum => Corruption::ChecksumMismatch { segment: path.to_owned(), offset: at },
                    fault => Corruption::BadFrame { segment: path.to_owned(), offset: at, fault },
                });
            }
        }
    }
}

fn torn(path: &str, bytes: &[u8], offset: usize, records: u64) -> SegmentEnd {
    let tail =
        TornTail { segment: path.to_owned(), offset: offset as u64, bytes_dropped: (bytes.len() - offset) as u64 };
    SegmentEnd { valid_len: offset as u64, seal: None, torn: Some(tail), records }
}
