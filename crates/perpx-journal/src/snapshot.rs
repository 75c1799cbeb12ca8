//! Snapshots: the engine state at a sequence number, written atomically.
//!
//! `snapshots/NNNNNNNNNNNNNNNNNNNN.snap` (20 digits: the sequence number of the last command the
//! state includes):
//!
//! ```text
//! offset size field
//!  0      8   magic "PERPXSNP"
//!  8      2   format version u16 LE (1)
//! 10      2   reserved (0)
//! 12      8   seq u64 LE
//! 20     32   state_hash: the engine's canonical state hash at seq
//! 52     32   chain_head_hash: the hash of journal record seq
//! 84      8   state length u64 LE
//! 92      n   state bytes (opaque to the journal)
//! 92+n   32   blake3 of bytes 0..92+n
//! ```
//!
//! Writing: `NAME.snap.tmp` is emptied, written, fsync'd, renamed to `NAME.snap`, and the
//! directory is fsync'd. A crash at any point leaves either no new file or a complete one, so
//! the previous snapshot stays valid. Reading: newest first, a file that fails any check is
//! skipped and reported, never trusted.

use crate::bytes::{array_at, u16_at, u64_at};
use crate::limits::{SNAPSHOT_BYTES_MAX, SNAPSHOTS_SCANNED_MAX};
use crate::record::Hash;
use crate::segment::TEMP_SUFFIX;
use crate::storage::{Storage, StorageError, join, write_all};

/// Directory (under the journal root) of snapshots.
pub const SNAPSHOT_DIR: &str = "snapshots";
/// Magic bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"PERPXSNP";
/// Snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u16 = 1;
/// File extension of snapshots.
pub const SNAPSHOT_SUFFIX: &str = ".snap";
const HEADER_BYTES: usize = 92;
const TRAILER_BYTES: usize = 32;

/// Engine state at a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last command the state includes.
    pub seq: u64,
    /// The engine's state hash at `seq`.
    pub state_hash: Hash,
    /// The hash of journal record `seq`: ties the snapshot to the chain.
    pub chain_head_hash: Hash,
    /// The encoded state, opaque to the journal.
    pub state: Vec<u8>,
}

/// Why a snapshot file was not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotFault {
    /// Shorter than header and checksum.
    #[error("too short")]
    TooShort,
    /// Not a snapshot file.
    #[error("bad magic")]
    BadMagic,
    /// Another format version.
    #[error("format version {0} is not supported (this build reads {SNAPSHOT_VERSION})")]
    UnsupportedVersion(u16),
    /// Reserved bytes are not zero.
    #[error("non-zero reserved bytes")]
    Reserved,
    /// The stated length disagrees with the file's.
    #[error("state length disagrees with the file length")]
    LengthMismatch,
    /// The checksum does not match (torn or damaged).
    #[error("checksum mismatch")]
    Checksum,
    /// The sequence number inside differs from the file name's.
    #[error("sequence {inside} inside, {name} in the file name")]
    NameMismatch {
        /// From the contents.
        inside: u64,
        /// From the name.
        name: u64,
    },
    /// Larger than any snapshot the writer makes.
    #[error("{0} bytes is larger than any snapshot")]
    TooLarge(u64),
}

/// A snapshot file that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSnapshot {
    /// The file's path.
    pub path: String,
    /// What is wrong with it.
    pub fault: SnapshotFault,
}

/// The newest valid snapshot and the newer files skipped on the way to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotScan {
    /// The newest valid snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Invalid files newer than it, newest first.
    pub skipped: Vec<SkippedSnapshot>,
}

/// The file name of the snapshot at `seq`.
#[must_use]
pub fn snapshot_file_name(seq: u64) -> String {
    format!("{seq:020}{SNAPSHOT_SUFFIX}")
}

fn parse_snapshot_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SNAPSHOT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Finds the newest valid snapshot, skipping (and reporting) invalid newer files. Looks at most
/// at [`SNAPSHOTS_SCANNED_MAX`] files.
///
/// # Errors
/// A storage failure (an unreadable file is an error, not a skip: it may be valid).
pub fn latest_valid_snapshot<S: Storage + ?Sized>(storage: &S) -> Result<SnapshotScan, StorageError> {
    let mut named: Vec<(u64, String)> =
        storage.list(SNAPSHOT_DIR)?.into_iter().filter_map(|n| parse_snapshot_file_name(&n).map(|s| (s, n))).collect();
    named.sort_unstable_by_key(|(seq, _)| std::cmp::Reverse(*seq));
    let mut scan = SnapshotScan::default();
    for (seq, name) in named.into_iter().take(SNAPSHOTS_SCANNED_MAX) {
        let path = join(SNAPSHOT_DIR, &name);
        match read_snapshot(storage, &path, seq)? {
            Ok(snapshot) => {
                scan.snapshot = Some(snapshot);
                break;
            }
            Err(fault) => scan.skipped.push(SkippedSnapshot { path, fault }),
        }
    }
    Ok(scan)
}

/// Reads and checks the snapshot at `path`, whose name says `name_seq`.
fn read_snapshot<S: Storage + ?Sized>(
    storage: &S,
    path: &str,
    name_seq: u64,
) -> Result<Result<Snapshot, SnapshotFault>, StorageError> {
    let len = storage.file_len(path)?;
    if len > SNAPSHOT_BYTES_MAX + (HEADER_BYTES + TRAILER_BYTES) as u64 {
        return Ok(Err(SnapshotFault::TooLarge(len)));
    }
    let bytes = storage.read(path)?;
    Ok(decode(&bytes, name_seq))
}

fn decode(bytes: &[u8], name_seq: u64) -> Result<Snapshot, SnapshotFault> {
    if bytes.len() < HEADER_BYTES + TRAILER_BYTES {
        return Err(SnapshotFault::TooShort);
    }
    if bytes[..8] != SNAPSHOT_MAGIC {
        return Err(SnapshotFault::BadMagic);
    }
    let version = u16_at(bytes, 8);
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotFault::UnsupportedVersion(version));
    }
    let body_end = bytes.len() - TRAILER_BYTES;
    if *blake3::hash(&bytes[..body_end]).as_bytes() != array_at::<32>(bytes, body_end) {
        return Err(SnapshotFault::Checksum);
    }
    if u16_at(bytes, 10) != 0 {
        return Err(SnapshotFault::Reserved);
    }
    if u64_at(bytes, 84) != (body_end - HEADER_BYTES) as u64 {
        return Err(SnapshotFault::LengthMismatch);
    }
    let seq = u64_at(bytes, 12);
    if seq != name_seq {
        return Err(SnapshotFault::NameMismatch { inside: seq, name: name_seq });
    }
    Ok(Snapshot {
        seq,
        state_hash: array_at(bytes, 20),
        chain_head_hash: array_at(bytes, 52),
        state: bytes[HEADER_BYTES..body_end].to_vec(),
    })
}

/// Writes a snapshot atomically (see the module docs); returns its path.
///
/// # Errors
/// A storage failure; the previous snapshots are untouched whatever happens.
pub(crate) fn write_snapshot_file<S: Storage + ?Sized>(
    storage: &mut S,
    seq: u64,
    state_hash: &Hash,
    chain_head_hash: &Hash,
    state: &[u8],
) -> Result<String, StorageError> {
    let mut header = [0u8; HEADER_BYTES];
    header[..8].copy_from_slice(&SNAPSHOT_MAGIC);
    header[8..10].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    header[12..20].copy_from_slice(&seq.to_le_bytes());
    header[20..52].copy_from_slice(state_hash);
    header[52..84].copy_from_slice(chain_head_hash);
    header[84..92].copy_from_slice(&(state.len() as u64).to_le_bytes());
    let mut hasher = blake3::Hasher::new();
    hasher.update(&header);
    hasher.update(state);
    let checksum = *hasher.finalize().as_bytes();

    if !storage.exists(SNAPSHOT_DIR)? {
        storage.create_dir(SNAPSHOT_DIR)?;
        storage.sync_dir("")?;
    }
    let path = join(SNAPSHOT_DIR, &snapshot_file_name(seq));
    let temp = format!("{path}{TEMP_SUFFIX}");
    storage.create(&temp)?;
    write_all(storage, &temp, &header)?;
    write_all(storage, &temp, state)?;
    write_all(storage, &temp, &checksum)?;
    storage.sync(&temp)?;
    storage.rename(&temp, &path)?;
    storage.sync_dir(SNAPSHOT_DIR)?;
    Ok(path)
}
