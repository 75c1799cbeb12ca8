//! The canonical state hash: blake3 over a stable, sorted walk of the whole state.
//!
//! Two engines that received the same commands have equal hashes, bit for bit; a replay, a
//! snapshot plus replay and a simulator run with the same seed prove their equality with it.
//! The walk writes every field in a fixed order, integers little-endian, strings and lists
//! length-prefixed, so no two different states can write the same byte stream.
//!
//! The command sequence number is *not* hashed: it is the journal's position, which the journal
//! chain binds. So a rejected command — which changes nothing but the sequence number — leaves
//! the hash unchanged, and tests can say so.

use std::fmt;

/// A 32-byte blake3 digest of the engine state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateHash(pub [u8; 32]);

impl StateHash {
    /// Lower-case hex, 64 characters.
    #[must_use]
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl fmt::Display for StateHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Writes typed fields into the hash in a canonical encoding.
#[derive(Debug, Default)]
pub struct StateHasher(blake3::Hasher);

impl StateHasher {
    /// A fresh hasher with a domain tag, so a state hash can't collide with another blake3 use.
    #[must_use]
    pub fn new(domain: &str) -> Self {
        let mut h = Self(blake3::Hasher::new());
        h.str(domain);
        h
    }

    /// An unsigned integer.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.update(&v.to_le_bytes());
        self
    }

    /// A signed integer.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.update(&v.to_le_bytes());
        self
    }

    /// A small tag (enum discriminant, flag).
    pub fn tag(&mut self, v: u8) -> &mut Self {
        self.0.update(&[v]);
        self
    }

    /// A length-prefixed string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
        self
    }

    /// The digest.
    #[must_use]
    pub fn finish(&self) -> StateHash {
        StateHash(*self.0.finalize().as_bytes())
    }
}
