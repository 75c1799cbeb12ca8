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

/// How a scan of part of a segment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PartEnd {
    /// The segment's end, or the visitor stopped the scan.
    Done(ScanEnd),
    /// The bytes ran out before the segment did: scan again from file offset `resume` once
    /// more of the file is read. `resume` is the first record after the last commit (its
    /// group is scanned again whole, so a commit always finds its records in the bytes it is
    /// scanned with), else the frame the bytes cut short, else where they end.
    NeedMore {
        /// The file offset to scan from.
        resume: u64,
        /// Records in the segment before `resume`.
        records: u64,
    },
}

/// Which bytes of a segment a scan is given, and where in them it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    /// File offset of the first byte given.
    pub base: u64,
    /// Index in the bytes of the first frame to read.
    pub start: usize,
    /// Records in the segment before that frame.
    pub records: u64,
    /// Whether the bytes run to the end of the file. If not, running out of bytes asks for
    /// more ([`PartEnd::NeedMore`]) instead of deciding how the segment ends.
    pub to_end: bool,
}

impl Part {
    /// A whole segment file, header included.
    pub(crate) const WHOLE: Part = Part { base: 0, start: SEGMENT_HEADER_BYTES, records: 0, to_end: true };
}

/// A frame the scan hands its visitor.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    /// A record (closed by a later commit, or else dropped with the torn tail).
    Record(RecordRef<'a>),
    /// A commit, closing the records since the previous one.
    Commit(Commit),
}

/// A visitor of the frames of a segment: gets each frame's file offset and contents.
pub(crate) type FrameVisitor<'v, 'a> = dyn FnMut(u64, Item<'a>) -> Result<ControlFlow<()>, Corruption> + 'v;

/// Scans the frames of segment `path` in `bytes`, which hold the file from offset `part.base`,
/// starting at `bytes[part.start]`. The torn-tail rule (`is_last`) needs the rest of the file
/// to look at, so a scan of the last segment must be given the whole file ([`Part::WHOLE`]).
///
/// Cutting the file into parts changes nothing of what a scan finds: a frame is read the same
/// whether it is whole in the bytes or not ([`read_frame`] says `Incomplete` on a short frame
/// before judging anything the missing bytes would decide), and a part asks for more exactly
/// where a whole file would have gone on.
///
/// # Errors
/// The first corruption, or the visitor's error.
pub(crate) fn scan_frames<'a>(
    path: &str,
    bytes: &'a [u8],
    part: Part,
    is_last: bool,
    visit: &mut FrameVisitor<'_, 'a>,
) -> Result<PartEnd, Corruption> {
    debug_assert!(part.to_end || !is_last, "the last segment is scanned whole");
    let Part { base, start, records: before, to_end } = part;
    let mut offset = start;
    // Records seen, and those closed by a commit; where the first record after the last commit
    // starts, if any follows it.
    let (mut records, mut committed) = (before, before);
    let mut uncommitted: Option<usize> = None;
    let need_more = |from: usize, committed| PartEnd::NeedMore { resume: base + from as u64, records: committed };
    loop {
        let at = base + offset as u64;
        if offset == bytes.len() {
            if !to_end {
                return Ok(need_more(uncommitted.unwrap_or(offset), committed));
            }
            if !is_last {
                let reason = Truncation::NoSeal;
                return Err(Corruption::TruncatedSegment { segment: path.to_owned(), offset: at, reason });
            }
            if let Some(start) = uncommitted {
                return Ok(PartEnd::Done(ScanEnd::End(torn(path, bytes, start, committed))));
            }
            return Ok(PartEnd::Done(ScanEnd::End(SegmentEnd { valid_len: at, seal: None, torn: None, records })));
        }
        match read_frame(&bytes[offset..]) {
            FrameRead::Valid { body: Body::Record(record), len } => {
                records += 1;
                uncommitted.get_or_insert(offset);
                if visit(at, Item::Record(record))?.is_break() {
                    return Ok(PartEnd::Done(ScanEnd::Stopped));
                }
                offset += len;
            }
            FrameRead::Valid { body: Body::Commit(commit), len } => {
                committed = records;
                uncommitted = None;
                if visit(at, Item::Commit(commit))?.is_break() {
                    return Ok(PartEnd::Done(ScanEnd::Stopped));
                }
                offset += len;
            }
            FrameRead::Valid { body: Body::Seal(head), len } => {
                if let Some(start) = uncommitted {
                    return Err(Corruption::UncommittedRecords {
                        segment: path.to_owned(),
                        offset: base + start as u64,
                    });
                }
                let after = offset + len;
                if after != bytes.len() {
                    return Err(Corruption::DataAfterSeal { segment: path.to_owned(), offset: base + after as u64 });
                }
                if !to_end {
                    // Whether the file ends here too is for the next part to say.
                    return Ok(need_more(offset, committed));
                }
                let end = SegmentEnd { valid_len: base + after as u64, seal: Some((at, head)), torn: None, records };
                return Ok(PartEnd::Done(ScanEnd::End(end)));
            }
            FrameRead::Incomplete if !to_end => return Ok(need_more(uncommitted.unwrap_or(offset), committed)),
            FrameRead::Incomplete if is_last => {
                return Ok(PartEnd::Done(ScanEnd::End(torn(path, bytes, uncommitted.unwrap_or(offset), committed))));
            }
            FrameRead::Incomplete => {
                let reason = Truncation::MidFrame;
                return Err(Corruption::TruncatedSegment { segment: path.to_owned(), offset: at, reason });
            }
            FrameRead::Invalid { fault, extent } => {
                if is_last && bytes[offset + extent..].iter().all(|&b| b == 0) {
                    return Ok(PartEnd::Done(ScanEnd::End(torn(
                        path,
                        bytes,
                        uncommitted.unwrap_or(offset),
                        committed,
                    ))));
                }
                return Err(match fault {
                    FrameFault::BodyChecksum => Corruption::ChecksumMismatch { segment: path.to_owned(), offset: at },
                    fault => Corruption::BadFrame { segment: path.to_owned(), offset: at, fault },
                });
            }
        }
    }
}

/// The end of a last segment scanned whole (so offsets in `bytes` are file offsets) whose tail
/// from `offset` is torn.
fn torn(path: &str, bytes: &[u8], offset: usize, records: u64) -> SegmentEnd {
    let tail =
        TornTail { segment: path.to_owned(), offset: offset as u64, bytes_dropped: (bytes.len() - offset) as u64 };
    SegmentEnd { valid_len: offset as u64, seal: None, torn: Some(tail), records }
}
