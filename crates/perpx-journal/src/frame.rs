//! Frames: how one record (or a segment's closing seal) is laid out on disk.
//!
//! ```text
//! frame  = body_len u32 LE ‖ body_crc u32 LE ‖ head_crc u32 LE ‖ body
//!          body_crc = CRC32C(body), head_crc = CRC32C(body_len ‖ body_crc)
//! body   = kind u8 ‖ …
//! record = 0x01 ‖ seq u64 ‖ ts_ms i64 ‖ payload_len u32 ‖ payload ‖ events_check u32
//!                                                                 (25 + payload_len bytes)
//! seal   = 0x02 ‖ last_seq u64 ‖ last_hash[32]                  (41 bytes)
//! commit = 0x03 ‖ first_seq u64 ‖ last_seq u64 ‖ events_digest[32] ‖ prev_hash[32] ‖ hash[32]
//!                                                                 (113 bytes)
//! ```
//!
//! The length prefix has its own checksum (`head_crc`) so that a flipped bit in a length is
//! caught as corruption at once instead of making the reader skip or swallow good records.
//! [`read_frame`] only parses; whether a bad frame is a torn tail or corruption is decided by
//! the segment scanner, which knows where the frame sits.

use crate::bytes::{array_at, u32_at, u64_at};
use crate::limits::PAYLOAD_BYTES_MAX;
use crate::record::{ChainHead, Commit, Record};

/// Bytes of the frame header (`body_len`, `body_crc`, `head_crc`).
pub const FRAME_HEADER_BYTES: usize = 12;
/// Body kind of a record.
pub const KIND_RECORD: u8 = 1;
/// Body kind of a seal (the last frame of a segment that was rolled over).
pub const KIND_SEAL: u8 = 2;
/// Body kind of a commit (closes the records before it since the previous commit).
pub const KIND_COMMIT: u8 = 3;
/// Body bytes of a record besides its payload.
pub const RECORD_BODY_FIXED_BYTES: usize = 1 + 8 + 8 + 4 + 4;
/// Body bytes of a seal.
pub const SEAL_BODY_BYTES: usize = 1 + 8 + 32;
/// Bytes of a whole seal frame.
pub const SEAL_FRAME_BYTES: usize = FRAME_HEADER_BYTES + SEAL_BODY_BYTES;
/// Body bytes of a commit.
pub const COMMIT_BODY_BYTES: usize = 1 + 8 + 8 + 32 * 3;
/// Bytes of a whole commit frame.
pub const COMMIT_FRAME_BYTES: usize = FRAME_HEADER_BYTES + COMMIT_BODY_BYTES;
/// Smallest valid body.
pub const BODY_BYTES_MIN: usize = RECORD_BODY_FIXED_BYTES;
/// Largest valid body.
pub const BODY_BYTES_MAX: usize = RECORD_BODY_FIXED_BYTES + PAYLOAD_BYTES_MAX;

/// Bytes of the frame of a record with a payload of `payload_len` bytes.
#[must_use]
pub const fn record_frame_bytes(payload_len: usize) -> usize {
    FRAME_HEADER_BYTES + RECORD_BODY_FIXED_BYTES + payload_len
}

/// A decoded record body, borrowing its payload from the segment bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp, ms.
    pub ts_ms: i64,
    /// The encoded command.
    pub payload: &'a [u8],
    /// CRC32C of the encoding of the command's events.
    pub events_check: u32,
}

impl RecordRef<'_> {
    /// An owned copy.
    #[must_use]
    pub fn to_record(&self) -> Record {
        Record { seq: self.seq, ts_ms: self.ts_ms, payload: self.payload.to_vec(), events_check: self.events_check }
    }
}

impl Record {
    /// The record, borrowed as it is read from a segment.
    #[must_use]
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef { seq: self.seq, ts_ms: self.ts_ms, payload: &self.payload, events_check: self.events_check }
    }
}

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// A journaled command.
    Record(RecordRef<'a>),
    /// The records since the previous commit are closed and linked to the chain.
    Commit(Commit),
    /// The segment is closed; its last commit is this head.
    Seal(ChainHead),
}

/// Why a frame that is fully present is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameFault {
    /// The length prefix does not match its checksum.
    #[error("frame header checksum mismatch")]
    HeaderChecksum,
    /// The length prefix (with a valid checksum) is outside the possible range.
    #[error("frame length {0} out of range")]
    BadLength(u32),
    /// The body does not match its CRC32C.
    #[error("body CRC32C mismatch")]
    BodyChecksum,
    /// The body kind byte is unknown.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// The body's inner lengths disagree with the frame length.
    #[error("malformed body")]
    Malformed,
}

/// The outcome of reading one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRead<'a> {
    /// A valid frame of `len` bytes.
    Valid {
        /// The body.
        body: Body<'a>,
        /// Bytes of the whole frame.
        len: usize,
    },
    /// The bytes end before the frame does (the header is missing or the body is short).
    Incomplete,
    /// The frame is present but invalid. `extent` is how many bytes from the frame start it
    /// certainly covers: the header when the length can't be trusted, the whole frame otherwise.
    Invalid {
        /// What is wrong.
        fault: FrameFault,
        /// Bytes covered by this frame, from its start.
        extent: usize,
    },
}

/// Appends the frame of a record to `out`.
///
/// # Panics
/// If the payload exceeds [`PAYLOAD_BYTES_MAX`] (the writer checks before calling).
pub fn encode_record(out: &mut Vec<u8>, record: &RecordRef<'_>) {
    let payload_len = u32::try_from(record.payload.len()).expect("payload length checked by the writer");
    assert!(record.payload.len() <= PAYLOAD_BYTES_MAX, "payload length checked by the writer");
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    out.push(KIND_RECORD);
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(&record.ts_ms.to_le_bytes());
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(record.payload);
    out.extend_from_slice(&record.events_check.to_le_bytes());
    finish_frame(out, start);
}

/// Appends the frame of a commit to `out`.
pub fn encode_commit(out: &mut Vec<u8>, commit: &Commit) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    out.push(KIND_COMMIT);
    out.extend_from_slice(&commit.first_seq.to_le_bytes());
    out.extend_from_slice(&commit.last_seq.to_le_bytes());
    out.extend_from_slice(&commit.events_digest);
    out.extend_from_slice(&commit.prev_hash);
    out.extend_from_slice(&commit.hash);
    finish_frame(out, start);
}

/// Appends a seal frame naming the segment's last commit.
pub fn encode_seal(out: &mut Vec<u8>, last: ChainHead) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    out.push(KIND_SEAL);
    out.extend_from_slice(&last.seq.to_le_bytes());
    out.extend_from_slice(&last.hash);
    finish_frame(out, start);
}

/// Fills in the header of the frame that starts at `start` and runs to the end of `out`.
fn finish_frame(out: &mut [u8], start: usize) {
    let body_start = start + FRAME_HEADER_BYTES;
    let body_len = u32::try_from(out.len() - body_start).expect("body length bounded by BODY_BYTES_MAX");
    let body_crc = crc32c::crc32c(&out[body_start..]);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&body_crc.to_le_bytes());
    let head_crc = crc32c::crc32c(&out[start..start + 8]);
    out[start + 8..start + 12].copy_from_slice(&head_crc.to_le_bytes());
}

/// Reads the frame that starts at `bytes[0]` (`bytes` runs to the end of the segment).
#[must_use]
pub fn read_frame(bytes: &[u8]) -> FrameRead<'_> {
    let Some(header) = bytes.get(..FRAME_HEADER_BYTES) else {
        return FrameRead::Incomplete;
    };
    let body_len = u32_at(header, 0);
    let body_crc = u32_at(header, 4);
    if crc32c::crc32c(&header[..8]) != u32_at(header, 8) {
        return FrameRead::Invalid { fault: FrameFault::HeaderChecksum, extent: FRAME_HEADER_BYTES };
    }
    let len = body_len as usize;
    if !(BODY_BYTES_MIN..=BODY_BYTES_MAX).contains(&len) {
        return FrameRead::Invalid { fault: FrameFault::BadLength(body_len), extent: FRAME_HEADER_BYTES };
    }
    let frame_len = FRAME_HEADER_BYTES + len;
    let Some(body) = bytes.get(FRAME_HEADER_BYTES..frame_len) else {
        return FrameRead::Incomplete;
    };
    if crc32c::crc32c(body) != body_crc {
        return FrameRead::Invalid { fault: FrameFault::BodyChecksum, extent: frame_len };
    }
    match decode_body(body) {
        Ok(body) => FrameRead::Valid { body, len: frame_len },
        Err(fault) => FrameRead::Invalid { fault, extent: frame_len },
    }
}

fn decode_body(body: &[u8]) -> Result<Body<'_>, FrameFault> {
    match body[0] {
        KIND_RECORD => {
            let payload_len = u32_at(body, 17) as usize;
            if body.len() != RECORD_BODY_FIXED_BYTES + payload_len {
                return Err(FrameFault::Malformed);
            }
            let tail = 21 + payload_len;
            Ok(Body::Record(RecordRef {
                seq: u64_at(body, 1),
                ts_ms: i64::from_le_bytes(array_at(body, 9)),
                payload: &body[21..tail],
                events_check: u32_at(body, tail),
            }))
        }
        KIND_COMMIT if body.len() == COMMIT_BODY_BYTES => Ok(Body::Commit(Commit {
            first_seq: u64_at(body, 1),
            last_seq: u64_at(body, 9),
            events_digest: array_at(body, 17),
            prev_hash: array_at(body, 49),
            hash: array_at(body, 81),
        })),
        KIND_SEAL if body.len() == SEAL_BODY_BYTES => {
            Ok(Body::Seal(ChainHead { seq: u64_at(body, 1), hash: array_at(body, 9) }))
        }
        KIND_SEAL | KIND_COMMIT => Err(FrameFault::Malformed),
        kind => Err(FrameFault::UnknownKind(kind)),
    }
}

#[cfg(test)]
mod tests;
