//! Segment files: names and the 64-byte header.
//!
//! A segment is named after its first sequence number, 20 decimal digits: `00000000000000000001.seg`,
//! so names sort in chain order. Active segments live in the journal root, archived ones in
//! `archive/` under the same name.
//!
//! ```text
//! offset size field
//!  0      8   magic "PERPXJNL"
//!  8      2   format version, u16 LE (this build writes and reads 1)
//! 10      2   flags, u16 LE (0)
//! 12      8   first_seq, u64 LE: sequence number of the segment's first record
//! 20     32   chain anchor: prev_hash of the segment's first record (the hash of record first_seq - 1)
//! 52      8   reserved (0)
//! 60      4   CRC32C of bytes 0..60
//! ```
//!
//! The version is checked before the checksum, so a file of another version is refused by name
//! ("format version 2 is not supported") rather than as a checksum failure.

use crate::bytes::{array_at, u16_at, u32_at, u64_at};
use crate::record::Hash;

/// Magic bytes at the start of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"PERPXJNL";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 2;
/// Bytes of the segment header.
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// File extension of segments.
pub const SEGMENT_SUFFIX: &str = ".seg";
/// Suffix of a segment being created (renamed to its final name once its header is durable).
pub const TEMP_SUFFIX: &str = ".tmp";
/// Directory (under the journal root) holding archived segments.
pub const ARCHIVE_DIR: &str = "archive";

/// The decoded header of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Sequence number of the first record in the segment.
    pub first_seq: u64,
    /// `prev_hash` of the first record: the hash of record `first_seq - 1`.
    pub anchor: Hash,
}

/// Why a segment header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderFault {
    /// The file is shorter than a header.
    #[error("shorter than the {SEGMENT_HEADER_BYTES}-byte header")]
    TooShort,
    /// The magic bytes are wrong: not a perpx segment.
    #[error("bad magic (not a perpx journal segment)")]
    BadMagic,
    /// The header checksum does not match.
    #[error("header checksum mismatch")]
    Checksum,
    /// Flags or reserved bytes are not zero.
    #[error("unknown flags or non-zero reserved bytes")]
    Reserved,
    /// The header's first sequence number is 0 (records are numbered from 1).
    #[error("first sequence number 0")]
    FirstSeqZero,
    /// The header's first sequence number differs from the file name's.
    #[error("first sequence {header} in the header, {name} in the file name")]
    NameMismatch {
        /// From the header.
        header: u64,
        /// From the file name.
        name: u64,
    },
}

/// A header that is valid in itself, or why not. Another format version is reported apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRead {
    /// A valid version-1 header.
    Valid(SegmentHeader),
    /// A header of a format version this build does not read.
    UnsupportedVersion(u16),
    /// A broken header.
    Invalid(HeaderFault),
}

impl SegmentHeader {
    /// The 64 header bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        encode_with_version(self, FORMAT_VERSION)
    }

    /// Decodes the header at the start of `bytes`.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> HeaderRead {
        let Some(header) = bytes.get(..SEGMENT_HEADER_BYTES) else {
            return HeaderRead::Invalid(HeaderFault::TooShort);
        };
        if header[..8] != SEGMENT_MAGIC {
            return HeaderRead::Invalid(HeaderFault::BadMagic);
        }
        let version = u16_at(header, 8);
        if version != FORMAT_VERSION {
            return HeaderRead::UnsupportedVersion(version);
        }
        if crc32c::crc32c(&header[..60]) != u32_at(header, 60) {
            return HeaderRead::Invalid(HeaderFault::Checksum);
        }
        if u16_at(header, 10) != 0 || u64_at(header, 52) != 0 {
            return HeaderRead::Invalid(HeaderFault::Reserved);
        }
        let first_seq = u64_at(header, 12);
        if first_seq == 0 {
            return HeaderRead::Invalid(HeaderFault::FirstSeqZero);
        }
        HeaderRead::Valid(SegmentHeader { first_seq, anchor: array_at(header, 20) })
    }
}

/// The header bytes with an arbitrary version number (tests build foreign-version files with it).
#[must_use]
pub fn encode_with_version(header: &SegmentHeader, version: u16) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut out = [0u8; SEGMENT_HEADER_BYTES];
    out[..8].copy_from_slice(&SEGMENT_MAGIC);
    out[8..10].copy_from_slice(&version.to_le_bytes());
    out[12..20].copy_from_slice(&header.first_seq.to_le_bytes());
    out[20..52].copy_from_slice(&header.anchor);
    let crc = crc32c::crc32c(&out[..60]);
    out[60..64].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The file name of the segment whose first record is `first_seq`.
#[must_use]
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_SUFFIX}")
}

/// The first sequence number a segment file name stands for; `None` unless the name is exactly
/// 20 digits followed by `.seg`.
#[must_use]
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
