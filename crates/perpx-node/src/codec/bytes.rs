//! The primitives every perpx binary encoding is made of, and the decoding error.
//!
//! | type | bytes |
//! |---|---|
//! | `u8`, tag, `bool` | 1 (a `bool` is 0 or 1; anything else is refused) |
//! | `u16`, `u32`, `u64`, `i64`, `i128` | 2, 4, 8, 8, 16, little-endian |
//! | string | `u32` byte length, then UTF-8 bytes |
//! | list | `u32` element count, then the elements |
//! | option | tag 0 (none) or 1 followed by the value |
//!
//! Fixed-width integers keep the encoding canonical by construction: one value has one
//! encoding, so equal commands give equal payloads and equal events give equal digests.
//! Decoding reads through a `Reader` that checks every length against what is left before
//! allocating, so no input can make it panic or allocate more than the input's size.

/// Why bytes could not be decoded. Offsets count from the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Nothing to decode.
    #[error("the input is empty")]
    Empty,
    /// The version byte names a format this build does not read.
    #[error("{what}: format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version found.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The input ends inside a value.
    #[error("the input ends inside {what} at byte {offset}: {needed} bytes needed, {available} left")]
    UnexpectedEnd {
        /// The value being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A tag that names no variant.
    #[error("unknown {what} tag {tag} at byte {offset}")]
    UnknownTag {
        /// The enumeration.
        what: &'static str,
        /// The tag found.
        tag: u16,
        /// Where it is.
        offset: usize,
    },
    /// A value that its type does not allow (a `bool` of 7, a client order id with a space…).
    #[error("invalid {what} at byte {offset}: {detail}")]
    Invalid {
        /// The value.
        what: &'static str,
        /// Where it is.
        offset: usize,
        /// What is wrong.
        detail: String,
    },
    /// Bytes after the end of the value.
    #[error("{extra} bytes left over after the {what} (from byte {offset})")]
    TrailingBytes {
        /// The value that was decoded.
        what: &'static str,
        /// Where the extra bytes start.
        offset: usize,
        /// How many.
        extra: usize,
    },
}

/// Appends primitives to a byte vector.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out }
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn i128(&mut self, v: i128) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A list length or string length.
    ///
    /// # Panics
    /// Above `u32::MAX` (no engine list or string comes near it).
    pub(crate) fn len(&mut self, n: usize) -> &mut Self {
        self.u32(u32::try_from(n).expect("lengths fit a u32"))
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.text_bytes(s.as_bytes())
    }

    /// The bytes of a text, written as [`Writer::str`] writes the text: for a text held as
    /// bytes known to be ASCII (a client order id), with no UTF-8 check to pass first.
    pub(crate) fn text_bytes(&mut self, b: &[u8]) -> &mut Self {
        self.len(b.len());
        self.out.extend_from_slice(b);
        self
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b);
        self
    }

    /// Tag 0, or tag 1 and the value.
    pub(crate) fn opt<T>(&mut self, v: Option<T>, put: impl FnOnce(&mut Self, T)) -> &mut Self {
        match v {
            None => {
                self.u8(0);
            }
            Some(v) => {
                self.u8(1);
                put(self, v);
            }
        }
        self
    }

    pub(crate) fn opt_i64(&mut self, v: Option<i64>) -> &mut Self {
        self.opt(v, |w, v| {
            w.i64(v);
        })
    }

    /// A `u32` count, then each element.
    pub(crate) fn list<T>(&mut self, items: &[T], mut put: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.len(items.len());
        for item in items {
            put(self, item);
        }
        self
    }
}

/// Reads primitives from a byte slice, with an offset for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn offset(&self) -> usize {
        self.at
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEnd { what, offset: self.at, needed: n, available: self.remaining() });
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    /// A tag byte, with the offset it was read at (for [`DecodeError::UnknownTag`]).
    pub(crate) fn tag(&mut self, what: &'static str) -> Result<(u8, usize), DecodeError> {
        let at = self.at;
        Ok((self.u8(what)?, at))
    }

    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let at = self.at;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => {
                Err(DecodeError::Invalid { what, offset: at, detail: format!("a flag must be 0 or 1, not {other}") })
            }
        }
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn i128(&mut self, what: &'static str) -> Result<i128, DecodeError> {
        Ok(i128::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn str(&mut self, what: &'static str) -> Result<String, DecodeError> {
        self.str_ref(what).map(str::to_owned)
    }

    /// [`Reader::str`] borrowed from the input, for text that is checked and copied into
    /// another type anyway (a client order id): no `String` to allocate and free.
    pub(crate) fn str_ref(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let len = self.u32(what)? as usize;
        let at = self.at;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map_err(|e| DecodeError::Invalid { what, offset: at, detail: e.to_string() })
    }

    /// Tag 0 (none) or 1 and the value.
    pub(crate) fn opt<T>(
        &mut self,
        what: &'static str,
        get: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.tag(what)? {
            (0, _) => Ok(None),
            (1, _) => get(self).map(Some),
            (tag, offset) => Err(DecodeError::UnknownTag { what, tag: u16::from(tag), offset }),
        }
    }

    pub(crate) fn opt_i64(&mut self, what: &'static str) -> Result<Option<i64>, DecodeError> {
        self.opt(what, |r| r.i64(what))
    }

    /// A `u32` count, then `count` elements. Every element takes at least one byte, so the
    /// count is checked against what is left before anything is allocated.
    pub(crate) fn list<T>(
        &mut self,
        what: &'static str,
        mut get: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let at = self.at;
        let count = self.u32(what)? as usize;
        if count > self.remaining() {
            return Err(DecodeError::UnexpectedEnd { what, offset: at, needed: count, available: self.remaining() });
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(get(self)?);
        }
        Ok(items)
    }

    /// Succeeds only if the whole input was read.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes { what, offset: self.at, extra }),
        }
    }

    /// The format version byte, which must be `supported`.
    pub(crate) fn version(&mut self, what: &'static str, supported: u8) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            return Err(DecodeError::Empty);
        }
        let found = self.u8(what)?;
        if found == supported { Ok(()) } else { Err(DecodeError::UnsupportedVersion { what, found, supported }) }
    }
}

/// An unknown-tag error.
pub(crate) fn unknown(what: &'static str, tag: u8, offset: usize) -> DecodeError {
    DecodeError::UnknownTag { what, tag: u16::from(tag), offset }
}
