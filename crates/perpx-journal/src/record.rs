//! The journal record and its hash chain.
//!
//! Each record binds one engine command (opaque bytes here), its sequence number, its timestamp
//! and a digest of the events it produced to the hash of the record before it:
//!
//! ```text
//! hash = blake3( RECORD_HASH_DOMAIN              24 bytes, "perpx-journal/record/v1\0"
//!              ‖ seq            u64 little-endian
//!              ‖ ts_ms          i64 little-endian
//!              ‖ payload length u64 little-endian
//!              ‖ payload        the encoded command
//!              ‖ events_digest  32 bytes
//!              ‖ prev_hash      32 bytes )
//! ```
//!
//! The chain starts at sequence [`FIRST_SEQ`] (1, the engine's first command) whose `prev_hash`
//! is [`GENESIS_HASH`] (32 zero bytes). Publishing the head `(seq, hash)` commits to every
//! record before it: changing any byte of any earlier record changes the head.

/// A blake3 digest.
pub type Hash = [u8; 32];

/// The `prev_hash` of the first record of every journal.
pub const GENESIS_HASH: Hash = [0; 32];

/// The sequence number of the first record (the engine numbers commands from 1).
pub const FIRST_SEQ: u64 = 1;

/// Domain separation for record hashes, so they can never collide with another blake3 use.
pub const RECORD_HASH_DOMAIN: &[u8; 24] = b"perpx-journal/record/v1\0";

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
    /// A digest of the events the command produced (computed by the engine integration).
    pub events_digest: Hash,
    /// The hash of record `seq - 1` ([`GENESIS_HASH`] for the first record).
    pub prev_hash: Hash,
    /// This record's hash (see the module docs).
    pub hash: Hash,
}

impl Record {
    /// A record with its hash computed from the other fields.
    #[must_use]
    pub fn new(seq: u64, ts_ms: i64, payload: Vec<u8>, events_digest: Hash, prev_hash: Hash) -> Self {
        let hash = record_hash(seq, ts_ms, &payload, &events_digest, &prev_hash);
        Self { seq, ts_ms, payload, events_digest, prev_hash, hash }
    }

    /// The hash the record's fields give (equal to `self.hash` for an untampered record).
    #[must_use]
    pub fn compute_hash(&self) -> Hash {
        record_hash(self.seq, self.ts_ms, &self.payload, &self.events_digest, &self.prev_hash)
    }

    /// Whether the stored hash matches the fields.
    #[must_use]
    pub fn hash_is_valid(&self) -> bool {
        self.compute_hash() == self.hash
    }

    /// The chain head this record forms.
    #[must_use]
    pub fn head(&self) -> ChainHead {
        ChainHead { seq: self.seq, hash: self.hash }
    }
}

/// The record hash over its fields (see the module docs for the exact byte stream).
#[must_use]
pub fn record_hash(seq: u64, ts_ms: i64, payload: &[u8], events_digest: &Hash, prev_hash: &Hash) -> Hash {
    // The stream of a usual record (a command of a few dozen bytes) is laid out in one stack
    // buffer and hashed in one call; a larger one goes through the incremental hasher. The same
    // parts either way. Measured: blake3's per-`update` bookkeeping was about 850 instructions
    // a record over seven updates (callgrind on `recovery_bench`; docs/PERFORMANCE.md, session 6).
    const BUFFER: usize = 1024;
    let (seq, ts_ms, len) = (seq.to_le_bytes(), ts_ms.to_le_bytes(), (payload.len() as u64).to_le_bytes());
    let parts: [&[u8]; 7] = [RECORD_HASH_DOMAIN, &seq, &ts_ms, &len, payload, events_digest, prev_hash];
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total <= BUFFER {
        let mut buf = [0u8; BUFFER];
        let mut at = 0;
        for part in parts {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        return *blake3::hash(&buf[..at]).as_bytes();
    }
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    *hasher.finalize().as_bytes()
}

/// A position in the chain: the last record's sequence number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHead {
    /// Sequence number of the last record (0 before the first).
    pub seq: u64,
    /// Hash of the last record ([`GENESIS_HASH`] before the first).
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
