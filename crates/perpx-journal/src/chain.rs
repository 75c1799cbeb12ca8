//! Walking the chain across segments: the one reader that recovery, verification and proofs
//! share.
//!
//! Segments are listed from `archive/` and the root together and ordered by first sequence
//! number. For each segment the walker checks, in this order: size, header (magic, version,
//! checksum, first sequence against the file name), continuity with the previous segment (first
//! sequence due, chain anchor), then every frame (checksum; each record's sequence number; each
//! commit's records, own hash and link to the previous commit), then the seal. The first failure
//! is returned with its segment and offset. A commit's records are handed on only once the
//! commit has passed: a visitor never sees a record that is not closed and checked.
//!
//! Segments before the last are read a part at a time ([`READ_PART_BYTES`]); the last is read
//! whole, because the torn-tail rule looks at the rest of the file and recovery rewrites the
//! segment from the bytes it checked. Where a part ends changes nothing of what is found
//! (`chain/tests.rs` holds the two readings to the same result on damaged journals).

use std::ops::ControlFlow;

use crate::corruption::Corruption;
use crate::frame::RecordRef;
use crate::limits::{SEGMENT_FILE_BYTES_MAX, SEGMENTS_MAX};
use crate::record::{ChainHead, Commit, Hash, records_digest};
use crate::scan::{Item, Part, PartEnd, ScanEnd, SegmentEnd, scan_frames};
use crate::segment::{
    ARCHIVE_DIR, FORMAT_VERSION, HeaderFault, HeaderRead, SEGMENT_SUFFIX, SegmentHeader, parse_segment_file_name,
};
use crate::storage::{Storage, StorageError, join};

/// A failure to read the journal: the storage failed, or the data is corrupt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The data is corrupt.
    #[error(transparent)]
    Corruption(#[from] Corruption),
}

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    /// First sequence number (from the file name).
    pub first_seq: u64,
    /// Path from the storage root.
    pub path: String,
    /// Whether it is in `archive/`.
    pub archived: bool,
}

/// Every segment, archived and active, in chain order.
///
/// # Errors
/// A storage failure, a badly named `.seg` file, two files for one first sequence, or more than
/// [`SEGMENTS_MAX`] files.
pub(crate) fn list_segments<S: Storage + ?Sized>(storage: &S) -> Result<Vec<SegmentFile>, ReadError> {
    let mut segments = Vec::new();
    for (dir, archived) in [(ARCHIVE_DIR, true), ("", false)] {
        for name in storage.list(dir)? {
            if !name.ends_with(SEGMENT_SUFFIX) {
                continue;
            }
            let path = join(dir, &name);
            let first_seq =
                parse_segment_file_name(&name).ok_or(Corruption::BadSegmentName { segment: path.clone() })?;
            segments.push(SegmentFile { first_seq, path, archived });
        }
        if segments.len() > SEGMENTS_MAX {
            return Err(StorageError::new(
                crate::storage::StorageOp::List,
                dir,
                crate::storage::StorageErrorKind::Io {
                    kind: std::io::ErrorKind::OutOfMemory,
                    message: format!("more than {SEGMENTS_MAX} segments"),
                },
            )
            .into());
        }
    }
    segments.sort_by_key(|s| s.first_seq);
    for pair in segments.windows(2) {
        if pair[0].first_seq == pair[1].first_seq {
            return Err(Corruption::DuplicateSegment {
                first: pair[0].path.clone(),
                second: pair[1].path.clone(),
                first_seq: pair[0].first_seq,
            }
            .into());
        }
    }
    Ok(segments)
}

/// Bytes of a segment that is not the last read at a time: a part of the file that stays in
/// the processor's caches while it is checked, in a buffer that the walk keeps. Reading a whole
/// 64-MiB segment instead put it out to memory and back, and had the kernel fault in and zero
/// a 72-MiB buffer: on the reference VM, 6.6 % of a recovery's `perf` samples
/// (docs/PERFORMANCE.md, "Session 26").
pub(crate) const READ_PART_BYTES: usize = 1 << 20;

/// Walks records segment after segment, checking every link.
#[derive(Debug)]
pub(crate) struct Walker {
    head: ChainHead,
    anchored: bool,
    /// The last segment, read whole ([`Storage::read_into`]): the torn-tail rule looks at the
    /// rest of the file, and recovery rewrites the segment from the bytes it checked.
    bytes: Vec<u8>,
    /// The part of a segment that is not the last being checked (`part_bytes`, or more when
    /// one commit's records are longer).
    part: Vec<u8>,
    /// The size of a part: [`READ_PART_BYTES`] (smaller in tests, to cut segments often).
    part_bytes: usize,
}

/// A commit that passed its checks, with its records, borrowing the segment's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed<'a> {
    /// The segment's path.
    pub segment: &'a str,
    /// The byte offset of the commit frame.
    pub offset: u64,
    /// The records it closes, in order, each with the byte offset of its frame.
    pub records: &'a [(u64, RecordRef<'a>)],
    /// The commit.
    pub commit: Commit,
    /// The digest of its records' frames (computed, not stored: it is in the commit's hash).
    pub records_digest: Hash,
}

/// A visitor of checked commits.
pub(crate) type ChainVisitor<'v> = dyn FnMut(&SegmentFile, &Committed<'_>) -> ControlFlow<()> + 'v;

impl Walker {
    /// A walk from the start of the chain: the first segment must begin at record 1 with the
    /// genesis anchor.
    pub(crate) fn from_genesis() -> Self {
        Self {
            head: ChainHead::GENESIS,
            anchored: true,
            bytes: Vec::new(),
            part: Vec::new(),
            part_bytes: READ_PART_BYTES,
        }
    }

    /// A walk from the middle: the first segment's header is taken as the starting point (the
    /// caller checks it against something trusted, such as a snapshot or a published head).
    pub(crate) fn from_first_segment() -> Self {
        Self {
            head: ChainHead::GENESIS,
            anchored: false,
            bytes: Vec::new(),
            part: Vec::new(),
            part_bytes: READ_PART_BYTES,
        }
    }

    /// The walk with segments before the last read `part_bytes` at a time (at least a segment
    /// header's worth).
    #[cfg(test)]
    pub(crate) fn with_part_bytes(mut self, part_bytes: usize) -> Self {
        assert!(part_bytes >= crate::segment::SEGMENT_HEADER_BYTES, "a part holds the segment header");
        self.part_bytes = part_bytes;
        self
    }

    /// The last record checked (or the starting point).
    pub(crate) fn head(&self) -> ChainHead {
        self.head
    }

    /// The bytes of the last segment walked whole, as read.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Reads and checks one segment, visiting its records; `None` if the visitor stopped. The
    /// last segment is read whole, the others a part at a time.
    ///
    /// # Errors
    /// A storage failure or the first corruption.
    pub(crate) fn walk<S: Storage + ?Sized>(
        &mut self,
        storage: &S,
        segment: &SegmentFile,
        is_last: bool,
        visit: &mut ChainVisitor<'_>,
    ) -> Result<Option<(SegmentHeader, SegmentEnd)>, ReadError> {
        let path = segment.path.as_str();
        let bytes_on_disk = storage.file_len(path)?;
        if bytes_on_disk > SEGMENT_FILE_BYTES_MAX {
            return Err(Corruption::SegmentTooLarge { segment: path.to_owned(), bytes: bytes_on_disk }.into());
        }
        if !is_last {
            let mut buf = std::mem::take(&mut self.part);
            if buf.len() < self.part_bytes {
                buf = vec![0; self.part_bytes];
            }
            let walked = self.walk_in_parts(storage, segment, &mut buf, visit);
            self.part = buf;
            return walked;
        }
        let mut bytes = std::mem::take(&mut self.bytes);
        storage.read_into(path, &mut bytes)?;
        let walked = read_header(segment, &bytes).map_err(ReadError::from).and_then(|header| {
            self.enter(segment, &header)?;
            let PartEnd::Done(end) = self.check(segment, &bytes, Part::WHOLE, true, visit)? else {
                unreachable!("a scan of the whole file runs to its end");
            };
            Ok(into_walked(header, end))
        });
        self.bytes = bytes;
        walked
    }

    /// [`Walker::walk`] for a segment that is not the last: read `buf.len()` bytes at a time
    /// ([`READ_PART_BYTES`]) into `buf`, a buffer kept from one segment to the next. A part that
    /// ends inside a commit's records is scanned again from the first of them with the next
    /// bytes read after it, so every commit is checked with its records in one buffer; the
    /// buffer doubles when they don't fit in it.
    fn walk_in_parts<S: Storage + ?Sized>(
        &mut self,
        storage: &S,
        segment: &SegmentFile,
        buf: &mut Vec<u8>,
        visit: &mut ChainVisitor<'_>,
    ) -> Result<Option<(SegmentHeader, SegmentEnd)>, ReadError> {
        let path = segment.path.as_str();
        let mut filled = read_fully(storage, path, 0, buf)?;
        let header = read_header(segment, &buf[..filled])?;
        self.enter(segment, &header)?;
        let mut part = Part { to_end: filled < buf.len(), ..Part::WHOLE };
        loop {
            let (resume, records) = match self.check(segment, &buf[..filled], part, false, visit)? {
                PartEnd::Done(end) => return Ok(into_walked(header, end)),
                PartEnd::NeedMore { resume, records } => (resume, records),
            };
            let keep = usize::try_from(resume - part.base).expect("resume lies in the bytes scanned");
            buf.copy_within(keep..filled, 0);
            let kept = filled - keep;
            if kept == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            filled = kept + read_fully(storage, path, resume + kept as u64, &mut buf[kept..])?;
            part = Part { base: resume, start: 0, records, to_end: filled < buf.len() };
        }
    }

    /// Checks the frames of one segment in `bytes` (what they hold: see [`scan_frames`] and
    /// `part`), visiting its records once their commit has passed.
    fn check(
        &mut self,
        segment: &SegmentFile,
        bytes: &[u8],
        part: Part,
        is_last: bool,
        visit: &mut ChainVisitor<'_>,
    ) -> Result<PartEnd, ReadError> {
        let path = segment.path.as_str();
        let head = &mut self.head;
        let mut open: Vec<(u64, RecordRef<'_>)> = Vec::new();
        let mut check = |offset: u64, item| match item {
            Item::Record(record) => {
                check_sequence(path, offset, &record, head.seq + 1 + open.len() as u64)?;
                open.push((offset, record));
                Ok(ControlFlow::Continue(()))
            }
            Item::Commit(commit) => {
                let records_digest = check_commit(path, offset, bytes, part.base, &open, &commit, *head)?;
                let committed = Committed { segment: path, offset, records: &open, commit, records_digest };
                let flow = visit(segment, &committed);
                *head = commit.head();
                open.clear();
                Ok(flow)
            }
        };
        let scanned = scan_frames(path, bytes, part, is_last, &mut check)?;
        if let PartEnd::Done(ScanEnd::End(SegmentEnd { seal: Some((offset, seal)), .. })) = &scanned {
            if *seal != self.head {
                return Err(Corruption::SealMismatch { segment: path.to_owned(), offset: *offset }.into());
            }
        }
        Ok(scanned)
    }

    /// Checks that `segment` continues the chain where the walk stands.
    fn enter(&mut self, segment: &SegmentFile, header: &SegmentHeader) -> Result<(), Corruption> {
        let path = segment.path.clone();
        if !self.anchored {
            self.head = ChainHead { seq: header.first_seq - 1, hash: header.anchor };
            self.anchored = true;
            return Ok(());
        }
        let expected = self.head.seq + 1;
        if header.first_seq > expected {
            return Err(Corruption::MissingSegment {
                segment: path,
                expected_first_seq: expected,
                found_first_seq: header.first_seq,
            });
        }
        if header.first_seq < expected {
            return Err(Corruption::SegmentOverlap {
                segment: path,
                expected_first_seq: expected,
                found_first_seq: header.first_seq,
            });
        }
        if header.anchor != self.head.hash {
            return Err(Corruption::AnchorMismatch { segment: path });
        }
        Ok(())
    }
}

/// The header of `segment`, checked against its file name.
fn read_header(segment: &SegmentFile, bytes: &[u8]) -> Result<SegmentHeader, Corruption> {
    let path = segment.path.clone();
    match SegmentHeader::decode(bytes) {
        HeaderRead::Valid(header) if header.first_seq == segment.first_seq => Ok(header),
        HeaderRead::Valid(header) => Err(Corruption::BadHeader {
            segment: path,
            fault: HeaderFault::NameMismatch { header: header.first_seq, name: segment.first_seq },
        }),
        HeaderRead::UnsupportedVersion(found) => {
            Err(Corruption::UnsupportedVersion { segment: path, found, supported: FORMAT_VERSION })
        }
        HeaderRead::Invalid(fault) => Err(Corruption::BadHeader { segment: path, fault }),
    }
}

/// What [`Walker::walk`] returns for a segment's scan.
fn into_walked(header: SegmentHeader, end: ScanEnd) -> Option<(SegmentHeader, SegmentEnd)> {
    match end {
        ScanEnd::Stopped => None,
        ScanEnd::End(end) => Some((header, end)),
    }
}

/// Reads `path` from `offset` into `buf` until it is full or the file ends; returns the bytes
/// read (fewer than `buf.len()` only at the end of the file).
fn read_fully<S: Storage + ?Sized>(
    storage: &S,
    path: &str,
    offset: u64,
    buf: &mut [u8],
) -> Result<usize, StorageError> {
    let mut filled = 0;
    while filled < buf.len() {
        match storage.read_at(path, offset + filled as u64, &mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Checks that a record has the sequence number due.
fn check_sequence(path: &str, offset: u64, record: &RecordRef<'_>, expected: u64) -> Result<(), Corruption> {
    let segment = || path.to_owned();
    if record.seq > expected {
        return Err(Corruption::SequenceGap { segment: segment(), offset, expected, found: record.seq });
    }
    if record.seq < expected {
        return Err(Corruption::SequenceRewind { segment: segment(), offset, expected, found: record.seq });
    }
    Ok(())
}

/// Checks a commit against the records it follows (`open`, whose frames run from the first's
/// offset to the commit's in `bytes`, which hold the file from offset `base`), its own hash and
/// the head before it; returns its records' digest.
fn check_commit(
    path: &str,
    offset: u64,
    bytes: &[u8],
    base: u64,
    open: &[(u64, RecordRef<'_>)],
    commit: &Commit,
    before: ChainHead,
) -> Result<Hash, Corruption> {
    let segment = || path.to_owned();
    let (first_seq, last_seq) = (commit.first_seq, commit.last_seq);
    let (Some((start, first)), Some((_, last))) = (open.first(), open.last()) else {
        return Err(Corruption::CommitMismatch { segment: segment(), offset, first_seq, last_seq, records: None });
    };
    if (first.seq, last.seq) != (first_seq, last_seq) {
        let records = Some((first.seq, last.seq));
        return Err(Corruption::CommitMismatch { segment: segment(), offset, first_seq, last_seq, records });
    }
    let index = |at: u64| usize::try_from(at - base).ok();
    let frames = index(*start).zip(index(offset)).and_then(|(a, b)| bytes.get(a..b));
    let digest = records_digest(frames.expect("the scan read the records before the commit"));
    if commit.compute_hash(&digest) != commit.hash {
        return Err(Corruption::HashMismatch { segment: segment(), offset, first_seq, last_seq });
    }
    if commit.prev_hash != before.hash {
        return Err(Corruption::ChainBreak { segment: segment(), offset, first_seq });
    }
    Ok(digest)
}

#[cfg(test)]
mod tests;
