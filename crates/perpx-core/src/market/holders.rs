//! The holders of one side of a market, each with its unit's safe band.
//!
//! **Why dense.** A mark move re-checks the holders whose band it leaves
//! ([`Holders::outside`]): a walk over every band of both sides, at every move. The bands were
//! the values of a hash map from account to band, and walking a hash map reads its control
//! bytes group by group and each entry beside its key: on `engine_mix`'s oracle-marked case
//! (1,133 moves, each over both sides' holders) the walks were 13 % of the engine's
//! instructions. Here the bands sit in one vector, walked in order, and the map only says
//! where each holder's entry is (measured: docs/PERFORMANCE.md, "Session 32").
//!
//! A removal frees its entry where it lies and an insertion takes the last freed one, so the
//! order of the entries is neither the accounts' nor the insertions': nothing that reaches an
//! output may depend on it (the readers sort what they take).

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use super::safe_band::SafeBand;
use crate::ids::AccountId;
use crate::num::Price;

/// The accounts holding a position on one side of a market, with their safe bands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Holders {
    /// Where each holder's entry is in `ids` and `bands`; its keys are the holders. An entry
    /// is live when the map gives its account that entry.
    slot_of: FxHashMap<AccountId, u32>,
    /// The account of each live entry (a free entry's is left as it was).
    ids: Vec<AccountId>,
    /// Each live entry's band (`SafeBand::NONE` until the liquidation pass checks the holder's
    /// unit); `SafeBand::ALL` for a free entry once marked, so a walk passes over it.
    bands: Vec<SafeBand>,
    /// The free entries, reused by the next insertions; the last `unmarked` of them still
    /// hold the band their holder left with.
    free: Vec<u32>,
    unmarked: usize,
}

impl Holders {
    /// How many accounts hold a position on this side.
    pub(crate) fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Adds `id`, without a band (one it had is dropped: its unit changed).
    pub(crate) fn insert(&mut self, id: AccountId) {
        match self.slot_of.entry(id) {
            Entry::Occupied(e) => self.bands[*e.get() as usize] = SafeBand::NONE,
            Entry::Vacant(e) => {
                let slot = if let Some(slot) = self.free.pop() {
                    self.unmarked = self.unmarked.saturating_sub(1);
                    self.ids[slot as usize] = id;
                    self.bands[slot as usize] = SafeBand::NONE;
                    slot
                } else {
                    self.ids.push(id);
                    self.bands.push(SafeBand::NONE);
                    u32::try_from(self.ids.len() - 1).expect("holder count exceeds u32")
                };
                e.insert(slot);
            }
        }
    }

    /// Removes `id` (nothing if it holds nothing here).
    ///
    /// Its entry is freed where it lies, and marked free only by the next walk
    /// ([`Holders::outside`]), which packs the entries instead when half are free. Moving the
    /// last entry into the hole would rewrite the moved holder's place in the map, and marking
    /// it at once writes its band: each a miss into cold memory for every one of the 85,000
    /// positions the 30 % gap closes (measured 15 % and 6 % slower there than the hash map of
    /// bands before; docs/PERFORMANCE.md, "Session 32").
    pub(crate) fn remove(&mut self, id: AccountId) {
        let Some(slot) = self.slot_of.remove(&id) else { return };
        self.free.push(slot);
        self.unmarked += 1;
    }

    /// Removes every holder.
    pub(crate) fn clear(&mut self) {
        self.slot_of.clear();
        self.ids.clear();
        self.bands.clear();
        self.free.clear();
        self.unmarked = 0;
    }

    /// Sets the band of `id` (nothing if it holds nothing here).
    pub(crate) fn set_band(&mut self, id: AccountId, band: SafeBand) {
        if let Some(slot) = self.slot_of.get(&id) {
            self.bands[*slot as usize] = band;
        }
    }

    /// The band of `id`, if it holds a position here.
    pub(crate) fn band(&self, id: AccountId) -> Option<SafeBand> {
        self.slot_of.get(&id).map(|slot| self.bands[*slot as usize])
    }

    /// The holders, in no particular order.
    pub(crate) fn ids(&self) -> std::iter::Copied<std::collections::hash_map::Keys<'_, AccountId, u32>> {
        self.slot_of.keys().copied()
    }

    /// Every holder with its band, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (AccountId, SafeBand)> + '_ {
        self.slot_of.iter().map(|(id, slot)| (*id, self.bands[*slot as usize]))
    }

    /// Every holder whose band, narrowed by `shrink` ticks at each end, does not hold `mark`:
    /// a walk over the entries in order. The free entries are first packed away when they are
    /// at least half of all, so a walk costs at most twice the holders (the packing costs as
    /// much as the walk, and is paid only after as many removals), else marked.
    pub(crate) fn outside(&mut self, mark: Price, shrink: i64) -> impl Iterator<Item = AccountId> + '_ {
        if self.free.len() >= self.slot_of.len().max(1) {
            self.pack();
        } else {
            for slot in &self.free[self.free.len() - self.unmarked..] {
                self.bands[*slot as usize] = SafeBand::ALL;
            }
            self.unmarked = 0;
        }
        self.bands.iter().zip(&self.ids).filter(move |(b, _)| !b.holds(mark, shrink)).map(|(_, id)| *id)
    }

    /// Whether entry `slot` holds a holder: the map gives its account this entry.
    fn is_live(&self, slot: usize) -> bool {
        self.ids.get(slot).and_then(|id| self.slot_of.get(id)).is_some_and(|s| *s as usize == slot)
    }

    /// Moves the live entries to the front, in their order, and drops the free ones.
    fn pack(&mut self) {
        let mut to = 0;
        for from in 0..self.ids.len() {
            if !self.is_live(from) {
                continue;
            }
            let id = self.ids[from];
            *self.slot_of.get_mut(&id).expect("a live entry is indexed") = u32::try_from(to).expect("bounded");
            self.ids[to] = id;
            self.bands[to] = self.bands[from];
            to += 1;
        }
        self.ids.truncate(to);
        self.bands.truncate(to);
        self.free.clear();
        self.unmarked = 0;
    }

    /// Whether the map and the entries agree: each holder at the entry the map gives it, every
    /// other entry listed free once and, once marked, holding every mark (for the invariant
    /// checker).
    pub(crate) fn check_index(&self) -> Result<(), String> {
        let entries = self.ids.len();
        if self.bands.len() != entries || self.slot_of.len() + self.free.len() != entries {
            return Err(format!(
                "{} holders and {} free entries, against {entries} ids and {} bands",
                self.slot_of.len(),
                self.free.len(),
                self.bands.len()
            ));
        }
        for (id, slot) in &self.slot_of {
            if self.ids.get(*slot as usize) != Some(id) {
                return Err(format!("account {id} indexed at entry {slot}, which does not hold it"));
            }
        }
        if self.unmarked > self.free.len() {
            return Err(format!("{} unmarked of {} free entries", self.unmarked, self.free.len()));
        }
        for (n, slot) in self.free.iter().enumerate() {
            let marked = n < self.free.len() - self.unmarked;
            if self.is_live(*slot as usize) || (marked && self.bands.get(*slot as usize) != Some(&SafeBand::ALL)) {
                return Err(format!("free entry {slot} is live or, marked, has a band"));
            }
        }
        let mut free = self.free.clone();
        free.sort_unstable();
        if free.windows(2).any(|w| w[0] == w[1]) {
            return Err("an entry listed free twice".to_string());
        }
        Ok(())
    }

    /// Drops every band (the tests compare a pass with bands and one without).
    #[cfg(test)]
    pub(crate) fn forget_bands(&mut self) {
        for slot in self.slot_of.values() {
            self.bands[*slot as usize] = SafeBand::NONE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::{Qty, Quote, Rate};

    fn band_around(mark: i64) -> SafeBand {
        SafeBand::around(Price(mark), Qty(1), Quote(52), 1, Rate(0), 0)
    }

    #[test]
    fn removing_a_holder_keeps_every_other_holder_with_its_own_band() {
        let mut h = Holders::default();
        for (id, mark) in [(1, 100), (2, 200), (3, 300), (4, 400)] {
            h.insert(AccountId(id));
            h.set_band(AccountId(id), band_around(mark));
        }
        h.remove(AccountId(2));
        h.remove(AccountId(9));
        assert_eq!(h.len(), 3);
        assert_eq!(h.band(AccountId(2)), None);
        for (id, mark) in [(1, 100), (3, 300), (4, 400)] {
            assert_eq!(h.band(AccountId(id)), Some(band_around(mark)), "holder {id}");
        }
        let mut ids: Vec<u64> = h.ids().map(|a| a.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 3, 4]);
    }

    #[test]
    fn freed_entries_are_reused_and_packed_away_once_they_are_half() {
        let mut h = Holders::default();
        for id in 1..=6 {
            h.insert(AccountId(id));
            h.set_band(AccountId(id), band_around(100 * i64::try_from(id).unwrap()));
        }
        h.remove(AccountId(2));
        h.insert(AccountId(7));
        assert_eq!(h.ids.len(), 6, "the freed entry taken again");
        assert_eq!(h.band(AccountId(7)), Some(SafeBand::NONE));
        for id in [1, 3] {
            h.remove(AccountId(id));
        }
        h.check_index().unwrap();
        assert_eq!(h.outside(Price(600), 0).count(), 3, "holders 4 and 5 outside, 7 without a band");
        assert_eq!(h.ids.len(), 6, "2 free of 6 entries: not packed");
        h.check_index().unwrap();
        h.remove(AccountId(4));
        assert_eq!(h.outside(Price(600), 0).count(), 2);
        h.check_index().unwrap();
        assert_eq!(h.ids.len(), 3, "3 free of 6 entries: packed");
        assert_eq!(h.band(AccountId(5)), Some(band_around(500)));
        assert_eq!(h.band(AccountId(6)), Some(band_around(600)));
        assert_eq!(h.band(AccountId(7)), Some(SafeBand::NONE));
        let mut out: Vec<u64> = h.outside(Price(600), 0).map(|a| a.0).collect();
        out.sort_unstable();
        assert_eq!(out, [5, 7]);
    }

    #[test]
    fn a_freed_entry_is_never_listed_outside_a_band() {
        let mut h = Holders::default();
        h.insert(AccountId(1));
        h.insert(AccountId(2));
        h.remove(AccountId(1));
        h.forget_bands();
        assert_eq!(h.outside(Price(1), 0).map(|a| a.0).collect::<Vec<_>>(), [2]);
        assert_eq!(h.outside(Price(i64::MAX), i64::MAX).map(|a| a.0).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn a_holder_added_again_loses_its_band_and_is_listed_once() {
        let mut h = Holders::default();
        h.insert(AccountId(7));
        h.set_band(AccountId(7), band_around(100));
        h.insert(AccountId(7));
        assert_eq!(h.len(), 1);
        assert_eq!(h.band(AccountId(7)), Some(SafeBand::NONE));
        h.set_band(AccountId(8), band_around(100));
        assert_eq!(h.band(AccountId(8)), None, "a band is set only for a holder");
    }

    #[test]
    fn outside_lists_exactly_the_holders_whose_band_misses_the_mark() {
        let mut h = Holders::default();
        for (id, mark) in [(1, 100), (2, 2_000), (3, 100)] {
            h.insert(AccountId(id));
            h.set_band(AccountId(id), band_around(mark));
        }
        h.insert(AccountId(4));
        let mut out: Vec<u64> = h.outside(Price(150), 0).map(|a| a.0).collect();
        out.sort_unstable();
        assert_eq!(out, [2, 4], "the far band and the holder without one");
        let mut out: Vec<u64> = h.outside(Price(150), 1_000).map(|a| a.0).collect();
        out.sort_unstable();
        assert_eq!(out, [1, 2, 3, 4], "a shrink of 1,000 ticks leaves no band holding");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Against a map from account to band, step by step (0 add, 1 remove, 2 set a band
        /// around `mark`, 3 walk at `mark` with a shrink of `mark % 7` ticks): the holders, their bands and the
        /// walk's answer are the map's (each holder listed once), whatever the adds, removals
        /// and walks in between (walks mark or pack the freed entries), and the map and the
        /// entries agree after every step.
        #[test]
        fn holders_behave_as_a_map_of_bands(
            steps in proptest::collection::vec((0u8..4, 0u64..24, 60i64..400), 1..200),
        ) {
            let mut h = Holders::default();
            let mut model = std::collections::BTreeMap::<u64, SafeBand>::new();
            for (what, id, mark) in steps {
                match what {
                    0 => {
                        h.insert(AccountId(id));
                        model.insert(id, SafeBand::NONE);
                    }
                    1 => {
                        h.remove(AccountId(id));
                        model.remove(&id);
                    }
                    2 => {
                        h.set_band(AccountId(id), band_around(mark));
                        if let Some(b) = model.get_mut(&id) {
                            *b = band_around(mark);
                        }
                    }
                    _ => {
                        let shrink = mark % 7;
                        let mut out: Vec<u64> = h.outside(Price(mark), shrink).map(|a| a.0).collect();
                        out.sort_unstable();
                        let expected: Vec<u64> =
                            model.iter().filter(|(_, b)| !b.holds(Price(mark), shrink)).map(|(id, _)| *id).collect();
                        proptest::prop_assert_eq!(out, expected);
                    }
                }
                proptest::prop_assert_eq!(h.check_index(), Ok(()));
                proptest::prop_assert_eq!(h.len(), model.len());
                let mut listed: Vec<(u64, SafeBand)> = h.iter().map(|(a, b)| (a.0, b)).collect();
                listed.sort_unstable_by_key(|x| x.0);
                proptest::prop_assert_eq!(listed, model.iter().map(|(id, b)| (*id, *b)).collect::<Vec<_>>());
                for id in 0..24 {
                    proptest::prop_assert_eq!(h.band(AccountId(id)), model.get(&id).copied());
                }
            }
        }
    }
}
