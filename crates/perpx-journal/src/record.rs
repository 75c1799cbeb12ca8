//! The journal record, the commit that closes a group of records, and the hash chain.
//!
//! A **record** is one engine command: its sequence number, timestamp, payload (the encoded
//! command, opaque here) and `events_check`, a CRC32C of the encoding of the events it produced
//! (which only tells a replay *which* record went wrong; the proof is the commit's digest).
//! Records are grouped into **commits**, one per durable write of the writer (a group commit),
//! and the chain links commits, not records:
//!
//! ```text
//! records_digest = blake3_derive_key(RECORDS_CONTEXT, the commit's record frames, exactly as on disk)
//! events_digest  = blake3_derive_key(EVENTS_CONTEXT,  for each record: events length u32 LE ‖ events)
//! hash = blake3( COMMIT_HASH_DOMAIN               24 bytes, "perpx-journal/commit/v2\0"
//!              ‖ first_seq       u64 little-endian
//!              ‖ last_seq        u64 little-endian
//!              ‖ records_digest  32 bytes
//!              ‖ events_digest   32 bytes
//!              ‖ prev_hash       32 bytes )
//! ```
//!
//! **Why commits, not records** (format version 2). Version 1 chained every record: two blake3
//! hashes a record over a few hundred bytes, where blake3 runs one 64-byte block at a time
//! (about 1.1–1.4 ns a byte on the reference machine). Over a whole commit's bytes it hashes
//! sixteen 1-KiB chunks at once (0.17 ns a byte from 16 KiB on): measured, a 200-byte input
//! took 283 ns and a 64-KiB one 0.169 ns a byte (docs/PERFORMANCE.md, session 10). The hashes
//! were a third of recovery's work and of the server's engine thread.
//!
//! The chain starts at sequence [`FIRST_SEQ`] (1, the engine's first command); the first
//! commit's `prev_hash` is [`GENESIS_HASH`] (32 zero bytes). Publishing a head `(seq, hash)` —
//! a commit's last record and hash — commits to every record up to it: changing any byte of
//! any earlier record changes the head.

/// A blake3 digest.
pub type Hash = [u8; 32];

/// The `prev_hash` of the first commit of every journal.
pub const GENESIS_HASH: Hash = [0; 32];

/// The sequence number of the first record (the engine numbers commands from 1).
pub const FIRST_SEQ: u64 = 1;

/// Domain separation for commit hashes, so they can never collide with another blake3 use.
pub const COMMIT_HASH_DOMAIN: &[u8; 24] = b"perpx-journal/commit/v2\0";

/// The blake3 key-derivation context of a commit's records digest.
pub const RECORDS_CONTEXT: &str = "perpx-journal v2 commit records";

/// The blake3 key-derivation context of a commit's events digest.
pub const EVENTS_CONTEXT: &str = "perpx-journal v2 commit events";

/// One journaled command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The command's sequence number: 1, 2, 3, … with no gaps.
    pub seq: u64,
    /// The command's timestamp, ms since the Unix epoch (not required to increase: the engine
    /// journals rejected commands too, including timestamp regressions).
    pub ts_ms: i64,
    /// The encoded command, opaque to the journal.
    pub payload: Vec<u8>,
    /// CRC32C of the encoding of the command's events (see the module docs).
    pub events_check: u32,
}

/// The frame that closes a group of records and links it to the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// The first record it closes.
    pub first_seq: u64,
    /// The last record it closes.
    pub last_seq: u64,
    /// The digest of its records' events (see the module docs).
    pub events_digest: Hash,
    /// The hash of the commit before it ([`GENESIS_HASH`] for the first).
    pub prev_hash: Hash,
    /// This commit's hash.
    pub hash: Hash,
}

impl Commit {
    /// The chain head this commit forms.
    #[must_use]
    pub fn head(&self) -> ChainHead {
        ChainHead { seq: self.last_seq, hash: self.hash }
    }

    /// The hash the fields give with the records' digest (equal to `self.hash` when both are
    /// untouched).
    #[must_use]
    pub fn compute_hash(&self, records_digest: &Hash) -> Hash {
        commit_hash(self.first_seq, self.last_seq, records_digest, &self.events_digest, &self.prev_hash)
    }
}

/// The commit hash over its fields (see the module docs for the exact byte stream).
#[must_use]
pub fn commit_hash(
    first_seq: u64,
    last_seq: u64,
    records_digest: &Hash,
    events_digest: &Hash,
    prev_hash: &Hash,
) -> Hash {
    let mut stream = [0u8; 24 + 8 + 8 + 32 * 3];
    stream[..24].copy_from_slice(COMMIT_HASH_DOMAIN);
    stream[24..32].copy_from_slice(&first_seq.to_le_bytes());
    stream[32..40].copy_from_slice(&last_seq.to_le_bytes());
    stream[40..72].copy_from_slice(records_digest);
    stream[72..104].copy_from_slice(events_digest);
    stream[104..136].copy_from_slice(prev_hash);
    *blake3::hash(&stream).as_bytes()
}

/// The digest of a commit's record frames, exactly as they lie in the segment.
#[must_use]
pub fn records_digest(frames: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new_derive_key(RECORDS_CONTEXT);
    hasher.update(frames);
    *hasher.finalize().as_bytes()
}

/// The digest of a commit's events stream: for each record, the length of its events'
/// encoding (u32 LE) and the encoding ([`push_events`] builds it).
#[must_use]
pub fn events_digest(stream: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new_derive_key(EVENTS_CONTEXT);
    hasher.update(stream);
    *hasher.finalize().as_bytes()
}

/// Appends one record's events to a commit's events stream; returns the record's
/// `events_check`.
///
/// # Panics
/// If `events` is 4 GiB or longer.
pub fn push_events(stream: &mut Vec<u8>, events: &[u8]) -> u32 {
    push_events_with(stream, |s| s.extend_from_slice(events))
}

/// [`push_events`], with the encoding written by `write` straight into the stream (appended to
/// the `Vec` it is given) instead of copied from a buffer of the caller's.
///
/// # Panics
/// If the encoding is 4 GiB or longer.
pub fn push_events_with(stream: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) -> u32 {
    let start = stream.len();
    stream.extend_from_slice(&[0; 4]);
    write(stream);
    let len = u32::try_from(stream.len() - start - 4).expect("an events encoding under 4 GiB");
    stream[start..start + 4].copy_from_slice(&len.to_le_bytes());
    events_check(&stream[start + 4..])
}

/// A record's `events_check`: the CRC32C of its events' encoding.
#[must_use]
pub fn events_check(events: &[u8]) -> u32 {
    crc32c::crc32c(events)
}

/// A position in the chain: a commit's last sequence number and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHead {
    /// Sequence number of the commit's last record (0 before the first).
    pub seq: u64,
    /// Hash of the commit ([`GENESIS_HASH`] before the first).
    pub hash: Hash,
}

impl ChainHead {
    /// The head of an empty journal.
    pub const GENESIS: ChainHead = ChainHead { seq: 0, hash: GENESIS_HASH };
}

/// Lower-case hex of a hash, for messages and reports.
#[must_use]
pub fn hex(hash: &Hash) -> String {
    hex_digits(hash).iter().copied().map(char::from).collect()
}

/// The 64 lower-case hex digits of a hash, as ASCII bytes in a fixed buffer: for a caller that
/// writes one per command and can't afford a `String` each (the server's engine thread).
#[must_use]
pub fn hex_digits(hash: &Hash) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (pair, byte) in out.chunks_exact_mut(2).zip(hash) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out
}

#[cfg(test)]
mod tests;
