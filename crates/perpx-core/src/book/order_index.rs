//! Open orders' slots by id: the recent ids in a vector indexed by id, the older ones in a hash
//! map.
//!
//! **Why.** The engine numbers orders from one counter, so the open orders of a book are, nearly
//! all, orders placed lately: their ids lie in a narrow range below the newest. A hash lookup of
//! the id was the largest single cost of a bare book against the flat-array reference of the
//! peers' run (an array indexed by id), which it slowed from about 40 to about 25 M commands/s
//! (docs/PERFORMANCE.md, "Session 25"). Here an id in the window `[base, base + width)` is an
//! index into a vector; ids below the window stay in a hash map, as every id did before.
//! Measured: `book_only` 1k 6.68 → 5.74 ms at the median alternated, 100k 14.29 → 11.46 ms once
//! the window doubles in a deep book, `engine_mix` 26.32 → 24.56 ms; memory per resting order
//! 125 → 102 B (the same section).
//!
//! **Where an id lives.** Ids at or above `base` only in the window, ids below it only in the
//! map, so a lookup asks one place. An id arriving at or beyond the window's top moves the
//! window up, leaving the id in its middle (room for half a window of newer ids); the open
//! orders whose ids fall below the new base move into the map, each once. An old id inserted
//! again (an amend that crosses is re-inserted, a stop enters the book when triggered) goes
//! to the map. When the book's open orders fill at least half of the window, it doubles
//! instead of moving (up to `MAX_WIDTH` ids), so a deep book keeps its orders in it. The window
//! is allocated at the first insert: an empty book holds none of it.
//!
//! Nothing observable depends on where an id lives: lookups answer the same, and the only walk
//! over the ids ([`OrderIndex::ids`]) is sorted by its caller.

use rustc_hash::FxHashMap;

use super::store::HalfKey;
use crate::ids::OrderId;

/// "No order" in the window.
const NIL: u32 = u32::MAX;

/// Ids in a new window: 65,536 (256 KiB of `u32` slots a book that has held an order). The
/// book benchmark's and recovery's open orders span a few thousand to a few tens of thousands
/// of ids.
const WIDTH: usize = 1 << 16;
/// The widest a window grows: 4,194,304 ids (16 MiB).
const MAX_WIDTH: usize = 1 << 22;

/// See the module docs.
#[derive(Debug, Clone)]
pub(super) struct OrderIndex {
    /// `window[id − base]`: the slot of open order `id`, or `NIL`. Empty, or `width` long.
    window: Vec<u32>,
    /// The lowest id of the window.
    base: u64,
    width: usize,
    /// The widest the window may grow.
    max_width: usize,
    /// The open orders whose ids lie below `base`.
    older: FxHashMap<HalfKey, u32>,
    len: usize,
}

impl Default for OrderIndex {
    fn default() -> Self {
        Self::with_widths(WIDTH, MAX_WIDTH)
    }
}

impl OrderIndex {
    /// An empty index whose window spans `width` ids and may grow to `max_width` (small in
    /// tests, to move and grow it often).
    pub(super) fn with_widths(width: usize, max_width: usize) -> Self {
        assert!(width >= 2 && width <= max_width, "a window of at least two ids, at most its maximum");
        Self { window: Vec::new(), base: 0, width, max_width, older: FxHashMap::default(), len: 0 }
    }

    /// The offset of `id` in the window, if it is at or above `base` (it may lie beyond the top).
    #[inline(always)]
    fn offset(&self, id: OrderId) -> Option<usize> {
        id.0.checked_sub(self.base).map(|k| usize::try_from(k).unwrap_or(usize::MAX))
    }

    /// The slot of open order `id`.
    #[inline(always)]
    pub(super) fn get(&self, id: OrderId) -> Option<u32> {
        match self.offset(id) {
            Some(k) => self.window.get(k).copied().filter(|s| *s != NIL),
            None => self.older.get(&id.into()).copied(),
        }
    }

    /// Files open order `id` at `slot`; returns the slot it was filed at, if it was.
    pub(super) fn insert(&mut self, id: OrderId, slot: u32) -> Option<u32> {
        debug_assert_ne!(slot, NIL);
        let previous = match self.offset(id) {
            None => self.older.insert(id.into(), slot),
            Some(k) => {
                let k = if k < self.window.len() { k } else { self.advance(id) };
                let previous = std::mem::replace(&mut self.window[k], slot);
                (previous != NIL).then_some(previous)
            }
        };
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Takes open order `id` out; returns its slot.
    pub(super) fn remove(&mut self, id: OrderId) -> Option<u32> {
        let removed = match self.offset(id) {
            Some(k) => match self.window.get_mut(k) {
                Some(s) if *s != NIL => Some(std::mem::replace(s, NIL)),
                _ => None,
            },
            None => self.older.remove(&id.into()),
        };
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Makes room for `id`, at or beyond the window's top: allocates the window if need be;
    /// doubles it while the book's open orders fill at least half of it (so a deep book keeps
    /// them all in it, up to `max_width`); else moves it up so that `id` lies in its middle, the
    /// open orders below the new base moving into the map. Returns `id`'s offset.
    #[cold]
    fn advance(&mut self, id: OrderId) -> usize {
        if self.window.is_empty() {
            self.window = vec![NIL; self.width];
        }
        while self.offset(id).is_some_and(|k| k >= self.width)
            && self.len * 2 >= self.width
            && self.width < self.max_width
        {
            self.width = (self.width * 2).min(self.max_width);
            self.window.resize(self.width, NIL);
        }
        if let Some(k) = self.offset(id).filter(|k| *k < self.width) {
            return k;
        }
        let half = self.width / 2;
        let new_base = id.0 - half as u64;
        let leaving = usize::try_from(new_base - self.base).map_or(self.width, |n| n.min(self.width));
        for (k, slot) in self.window[..leaving].iter().enumerate() {
            if *slot != NIL {
                self.older.insert(OrderId(self.base + k as u64).into(), *slot);
            }
        }
        self.window.copy_within(leaving.., 0);
        let kept = self.width - leaving;
        self.window[kept..].fill(NIL);
        self.base = new_base;
        half
    }

    /// Number of open orders filed.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Every filed id, in no particular order.
    pub(super) fn ids(&self) -> impl Iterator<Item = OrderId> + '_ {
        let window = self.window.iter().enumerate().filter(|(_, s)| **s != NIL);
        self.older.keys().map(|k| OrderId::from(*k)).chain(window.map(|(k, _)| OrderId(self.base + k as u64)))
    }

    /// The index's own invariants: every id in one place (the map only below `base`), the
    /// window empty or `width` long and no wider than its maximum, and the count right.
    pub(super) fn check(&self) -> Result<(), String> {
        if !(self.window.is_empty() || self.window.len() == self.width) || self.width > self.max_width {
            let (len, width, max) = (self.window.len(), self.width, self.max_width);
            return Err(format!("order index window of {len} ids, not empty or its width {width} (at most {max})"));
        }
        if let Some(id) = self.older.keys().map(|k| OrderId::from(*k)).find(|id| id.0 >= self.base) {
            return Err(format!("order {id} in the index's map, at or above its window's base {}", self.base));
        }
        let filed = self.older.len() + self.window.iter().filter(|s| **s != NIL).count();
        if filed != self.len {
            return Err(format!("order index counts {} but files {filed}", self.len));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn recent_ids_are_in_the_window_and_those_it_leaves_behind_in_the_map() {
        let mut index = OrderIndex::with_widths(8, 8);
        assert_eq!(index.insert(OrderId(3), 30), None);
        assert_eq!((index.window.len(), index.base), (8, 0), "allocated at the first insert");
        assert_eq!(index.insert(OrderId(5), 50), None);
        // Beyond the top: the window moves up to [6, 14), 10 in its middle; 3 and 5 leave to the map.
        assert_eq!(index.insert(OrderId(10), 100), None);
        assert_eq!(index.base, 6);
        assert_eq!(index.older.len(), 2);
        assert_eq!([3, 5, 10].map(|id| index.get(OrderId(id))), [Some(30), Some(50), Some(100)]);
        // An old id comes back (a crossing amend, a triggered stop): to the map.
        assert_eq!(index.remove(OrderId(3)), Some(30));
        assert_eq!(index.insert(OrderId(3), 31), None);
        assert_eq!(index.insert(OrderId(3), 32), Some(31), "filed twice: the slot it had");
        assert_eq!((index.get(OrderId(3)), index.get(OrderId(4)), index.get(OrderId(13))), (Some(32), None, None));
        // Far beyond: every window entry leaves.
        assert_eq!(index.insert(OrderId(1_000), 1), None);
        assert_eq!((index.base, index.older.len()), (996, 3));
        let mut ids: Vec<u64> = index.ids().map(|id| id.0).collect();
        ids.sort_unstable();
        assert_eq!((ids, index.len()), (vec![3, 5, 10, 1_000], 4));
        index.check().unwrap();
    }

    #[test]
    fn a_window_half_full_of_open_orders_doubles_instead_of_moving() {
        let mut index = OrderIndex::with_widths(4, 16);
        for id in 0..10 {
            index.insert(OrderId(id), u32::try_from(id).unwrap() + 1);
        }
        // Id 4 finds 4 open orders in a window of 4: 8 wide; id 8 finds 8 in 8: 16 wide.
        assert_eq!((index.base, index.width, index.window.len(), index.older.len()), (0, 16, 16, 0));
        for id in 0..8 {
            index.remove(OrderId(id));
        }
        // Two open orders in a window of 16: id 16 moves it up, to [8, 24), instead.
        index.insert(OrderId(16), 99);
        assert_eq!((index.base, index.width), (8, 16));
        assert_eq!([8, 9, 16].map(|id| index.get(OrderId(id))), [Some(9), Some(10), Some(99)]);
        index.check().unwrap();
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// A new id: the newest so far plus a gap.
        New(u64),
        /// An id that was used before, filed again.
        Again(usize),
        Remove(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..20).prop_map(Op::New),
            1 => (0u64..40).prop_map(|gap| Op::New(gap * 7)),
            2 => any::<usize>().prop_map(Op::Again),
            3 => any::<usize>().prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The index answers as a map from id to slot, whatever the window did, and keeps its
        /// invariants after every step.
        #[test]
        fn the_index_is_a_map_from_id_to_slot(width in 2usize..12, grows in prop_oneof![Just(1usize), Just(4)], ops in prop::collection::vec(op(), 1..200)) {
            let mut index = OrderIndex::with_widths(width, width * grows);
            let mut model: BTreeMap<u64, u32> = BTreeMap::new();
            let (mut newest, mut used, mut slot) = (0u64, Vec::new(), 0u32);
            for op in ops {
                slot += 1;
                match op {
                    Op::New(gap) => {
                        newest += gap + 1;
                        used.push(newest);
                        prop_assert_eq!(index.insert(OrderId(newest), slot), model.insert(newest, slot));
                    }
                    Op::Again(i) if !used.is_empty() => {
                        let id = used[i % used.len()];
                        prop_assert_eq!(index.insert(OrderId(id), slot), model.insert(id, slot));
                    }
                    Op::Remove(i) if !used.is_empty() => {
                        let id = used[i % used.len()];
                        prop_assert_eq!(index.remove(OrderId(id)), model.remove(&id));
                    }
                    Op::Again(_) | Op::Remove(_) => {}
                }
                index.check().map_err(TestCaseError::fail)?;
                prop_assert_eq!(index.len(), model.len());
                for id in used.iter().copied().chain([newest + 1, 0]) {
                    prop_assert_eq!(index.get(OrderId(id)), model.get(&id).copied());
                }
                let mut ids: Vec<u64> = index.ids().map(|id| id.0).collect();
                ids.sort_unstable();
                prop_assert_eq!(ids, model.keys().copied().collect::<Vec<_>>());
            }
        }
    }
}
