//! The price-indexed level table of one side: level slots in a `Vec<u32>` indexed by
//! `price - base` for the prices of a window of [`WINDOW`] ticks, with a two-level bitmap of
//! the occupied prices so the next occupied price in either direction is found by scanning
//! bits (`trailing_zeros` / `leading_zeros`) rather than by walking a tree.
//!
//! Why: looking a level up by price (joining a level, `level_at`, the best level on every fill)
//! was a hash lookup, and a level appearing or emptying was a `BTreeMap` insert or remove —
//! together a large share of the bare book's ~500 instructions a command (callgrind). Inside
//! the window both are an index into a vector and a bit set or cleared. Prices outside the
//! window live in the book's hash map and tree as before (see `store.rs`), so correctness never
//! depends on where the window sits.

/// Ticks covered by a side's window: 65,536 prices, 256 KiB of slots and 8 KiB of bitmap a
/// side, allocated when the side's first level arrives (a side that never rests an order
/// pays nothing). At tick 0.1 on a price of 86,000 that is ±3,277 (±3.8 %) around the centre.
///
/// Why this size (callgrind, instructions per command, `benches/book.rs`): the bare book
/// `book_only` 1k 503 → 417 and 100k 648 → 515. A window of 4,096 ticks gave the same 416 on
/// the 1k book (±250 ticks deep) but nothing on the 100k book (±25,000 ticks: 650), whose
/// levels mostly fell outside it.
pub(super) const WINDOW: usize = 65_536;

/// `WINDOW` as an `i64` (it is far below `i64::MAX`).
#[allow(clippy::cast_possible_wrap)]
const WINDOW_I64: i64 = WINDOW as i64;

/// "No level" in the slot table.
const EMPTY: u32 = u32::MAX;

/// One side's window. Empty (`slots` unallocated) until the side's first level arrives.
#[derive(Debug, Clone, Default)]
pub(super) struct Window {
    /// The price of `slots[0]`; at most `i64::MAX - (WINDOW - 1)`, so every price of the
    /// window is an `i64`.
    base: i64,
    /// Level slot by `price - base`, or `EMPTY`.
    slots: Vec<u32>,
    /// Bit `i` set ⇔ `slots[i]` holds a level.
    bits: Vec<u64>,
    /// Bit `j` set ⇔ `bits[j] != 0`.
    summary: Vec<u64>,
    /// Number of levels held.
    len: u32,
}

impl Window {
    /// The lowest price of the window, or `None` before its first use.
    pub(super) fn base(&self) -> Option<i64> {
        (!self.slots.is_empty()).then_some(self.base)
    }

    /// The highest price of the window (exists: `base` is clamped so it cannot overflow).
    pub(super) fn top(&self) -> Option<i64> {
        self.base().map(|b| b + (WINDOW_I64 - 1))
    }

    /// Number of levels held.
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    /// The index of `price` in the window, if it lies inside it. Overflow-safe: with
    /// `base <= i64::MAX - (WINDOW - 1)`, the wrapping difference read as a `u64` is below
    /// `WINDOW` exactly when `base <= price < base + WINDOW`.
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
    #[inline]
    pub(super) fn offset(&self, price: i64) -> Option<usize> {
        let d = price.wrapping_sub(self.base) as u64;
        (d < self.slots.len() as u64).then_some(d as usize)
    }

    /// The price at index `i`.
    #[allow(clippy::cast_possible_wrap)]
    fn price_at(&self, i: usize) -> i64 {
        self.base + i as i64
    }

    /// The level slot at index `i`, if any.
    #[inline]
    pub(super) fn slot(&self, i: usize) -> Option<u32> {
        let l = self.slots[i];
        (l != EMPTY).then_some(l)
    }

    /// The level slot at `price`: `None` if outside the window, `Some(None)` if inside it with
    /// no level there.
    #[inline]
    pub(super) fn get(&self, price: i64) -> Option<Option<u32>> {
        self.offset(price).map(|i| self.slot(i))
    }

    /// (Re)centres the window on `price`. Only on an empty window; allocates on first use.
    pub(super) fn centre(&mut self, price: i64) {
        debug_assert_eq!(self.len, 0, "re-centring a window that holds levels");
        if self.slots.is_empty() {
            self.slots = vec![EMPTY; WINDOW];
            self.bits = vec![0; WINDOW / 64];
            self.summary = vec![0; WINDOW.div_ceil(64 * 64)];
        }
        self.base = price.saturating_sub(WINDOW_I64 / 2).min(i64::MAX - (WINDOW_I64 - 1));
    }

    /// Files level slot `l` at index `i` (empty).
    pub(super) fn put(&mut self, i: usize, l: u32) {
        debug_assert_eq!(self.slots[i], EMPTY);
        self.slots[i] = l;
        self.bits[i / 64] |= 1 << (i % 64);
        self.summary[i / 4096] |= 1 << ((i / 64) % 64);
        self.len += 1;
    }

    /// Empties index `i` (occupied).
    pub(super) fn take(&mut self, i: usize) {
        debug_assert_ne!(self.slots[i], EMPTY);
        self.slots[i] = EMPTY;
        let w = &mut self.bits[i / 64];
        *w &= !(1 << (i % 64));
        if *w == 0 {
            self.summary[i / 4096] &= !(1 << ((i / 64) % 64));
        }
        self.len -= 1;
    }

    /// The lowest occupied index `>= i`.
    fn next_from(&self, i: usize) -> Option<usize> {
        if i >= self.slots.len() {
            return None;
        }
        let w = i / 64;
        let m = self.bits[w] & (u64::MAX << (i % 64));
        if m != 0 {
            return Some(w * 64 + m.trailing_zeros() as usize);
        }
        // The next non-empty word after `w`, through the summary.
        let s = w + 1;
        if s >= self.bits.len() {
            return None;
        }
        let mut sw = s / 64;
        let mut sm = self.summary[sw] & (u64::MAX << (s % 64));
        loop {
            if sm != 0 {
                let word = sw * 64 + sm.trailing_zeros() as usize;
                return Some(word * 64 + self.bits[word].trailing_zeros() as usize);
            }
            sw += 1;
            sm = *self.summary.get(sw)?;
        }
    }

    /// The highest occupied index `<= i`.
    fn prev_from(&self, i: usize) -> Option<usize> {
        let i = i.min(self.slots.len().checked_sub(1)?);
        let w = i / 64;
        let m = self.bits[w] & (u64::MAX >> (63 - i % 64));
        if m != 0 {
            return Some(w * 64 + 63 - m.leading_zeros() as usize);
        }
        // The previous non-empty word before `w`, through the summary.
        let s = w.checked_sub(1)?;
        let mut sw = s / 64;
        let mut sm = self.summary[sw] & (u64::MAX >> (63 - s % 64));
        loop {
            if sm != 0 {
                let word = sw * 64 + 63 - sm.leading_zeros() as usize;
                return Some(word * 64 + 63 - self.bits[word].leading_zeros() as usize);
            }
            sw = sw.checked_sub(1)?;
            sm = self.summary[sw];
        }
    }

    /// The highest price held.
    pub(super) fn highest(&self) -> Option<i64> {
        self.prev_from(usize::MAX).map(|i| self.price_at(i))
    }

    /// The lowest price held.
    pub(super) fn lowest(&self) -> Option<i64> {
        self.next_from(0).map(|i| self.price_at(i))
    }

    /// An iterator over none of the window's levels.
    pub(super) fn iter_none(&self, descending: bool) -> WindowIter<'_> {
        WindowIter { window: self, at: None, descending }
    }

    /// The levels held, `(price, level slot)`, ascending or descending.
    pub(super) fn iter(&self, descending: bool) -> WindowIter<'_> {
        let at = if descending { self.prev_from(usize::MAX) } else { self.next_from(0) };
        WindowIter { window: self, at, descending }
    }

    /// For the invariant checker: the raw table, bitmap and summary, and the count.
    pub(super) fn raw(&self) -> (&[u32], &[u64], &[u64], usize) {
        (&self.slots, &self.bits, &self.summary, self.len as usize)
    }

    /// For the invariant checker: the price of index `i`.
    pub(super) fn raw_price(&self, i: usize) -> i64 {
        self.price_at(i)
    }

    #[cfg(test)]
    pub(super) fn flip_bit_for_test(&mut self, i: usize) {
        self.bits[i / 64] ^= 1 << (i % 64);
    }

    #[cfg(test)]
    pub(super) fn set_slot_for_test(&mut self, i: usize, l: u32) {
        self.slots[i] = l;
    }

    #[cfg(test)]
    pub(super) fn flip_summary_for_test(&mut self, word: usize) {
        self.summary[word / 64] ^= 1 << (word % 64);
    }

    /// The "no level" value of the slot table.
    pub(super) const EMPTY: u32 = EMPTY;
}

/// The levels of a window in price order, found by scanning the bitmap.
#[derive(Debug, Clone)]
pub(super) struct WindowIter<'a> {
    window: &'a Window,
    at: Option<usize>,
    descending: bool,
}

impl Iterator for WindowIter<'_> {
    type Item = (i64, u32);

    fn next(&mut self) -> Option<(i64, u32)> {
        let i = self.at?;
        self.at = if self.descending {
            i.checked_sub(1).and_then(|j| self.window.prev_from(j))
        } else {
            self.window.next_from(i + 1)
        };
        Some((self.window.price_at(i), self.window.slots[i]))
    }
}
