//! [`AccountIndex`]: an account id → `u32` slot map, direct for the small ids a venue hands
//! out in sequence, hashed for the rest.
//!
//! **Why.** Every command looks its account up at least twice: in the engine's account table
//! (the collateral and positions) and in a book's list of the account's orders (their totals,
//! for the margin check), often in both books. As hash maps these lookups were 6 % of
//! `engine_mix`'s instructions and 17 % of its simulated L1 data read misses: a hash, a probe
//! of the control bytes and a read of the bucket's key, each group and bucket a random line of
//! a table larger than L1. Venues usually number accounts in sequence (perpx's operator picks
//! the numbers when creating keys; the demo funds 1 and 2), so nearly every id is small, and an
//! id below the direct table's length is one read of a `u32` in a table four bytes an account
//! (docs/PERFORMANCE.md, "Session 30").
//!
//! **Where an id lives.** An id below `direct.len()` only in the direct table, any other only
//! in the hash map, so a lookup asks one place. The table grows (doubling, at least to cover
//! the new id) when an id arrives that it doesn't cover but that lies below
//! `direct_limit`, a bound of a few times the accounts held: ids handed out in
//! sequence all land in it, while a sparse id (a hash of a key, a random `u64`) goes to the map
//! and costs no memory for the ids below it. When it grows, the map's ids that it now covers
//! move into it, so the rule holds. It never shrinks: a book's entries come and go with the
//! account's orders, and the table stays at its high-water mark. At that mark it holds at
//! most about 32 bytes an entry (the bound, then a doubling), 4 when the ids are dense; the
//! hash map held 16-byte buckets at most 7/8 full. The one-place rule is the book's order
//! index's ([`crate::book`]'s `OrderIndex`), whose window slides with the newest order ids;
//! account ids don't move, so this table starts at id 0 and only grows.
//!
//! Nothing observable depends on where an id lives: lookups answer the same, and
//! [`AccountIndex::iter`] (for the invariant checks) is in no particular order.

use rustc_hash::FxHashMap;

use crate::ids::AccountId;

/// "No account" in the direct table.
const NIL: u32 = u32::MAX;

/// The direct table may always cover this many ids, whatever the count of accounts.
const MIN_DIRECT: u64 = 1 << 10;

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct AccountIndex {
    /// `direct[id]`: the slot of account `id`, or `NIL`.
    direct: Vec<u32>,
    /// The accounts whose ids are at or beyond `direct.len()`.
    sparse: FxHashMap<AccountId, u32>,
    /// Entries held, in both parts.
    len: usize,
}

impl AccountIndex {
    /// An empty index.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of `id`, if held.
    #[inline(always)]
    #[must_use]
    pub fn get(&self, id: AccountId) -> Option<u32> {
        match self.direct_position(id) {
            Some(k) => Some(self.direct[k]).filter(|s| *s != NIL),
            None => self.sparse.get(&id).copied(),
        }
    }

    /// Whether `id` is held.
    #[must_use]
    pub fn contains(&self, id: AccountId) -> bool {
        self.get(id).is_some()
    }

    /// Files `id` at `slot`; returns the slot it was filed at before, if it was.
    ///
    /// # Panics
    /// If `slot` is `u32::MAX` (the direct table's "none"; slots are indexes of vectors).
    pub fn insert(&mut self, id: AccountId, slot: u32) -> Option<u32> {
        assert_ne!(slot, NIL, "slot u32::MAX is the index's own 'none'");
        if self.direct_position(id).is_none() && id.0 < self.direct_limit() {
            self.grow_to_cover(id);
        }
        let previous = match self.direct_position(id) {
            Some(k) => Some(std::mem::replace(&mut self.direct[k], slot)).filter(|s| *s != NIL),
            None => self.sparse.insert(id, slot),
        };
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Takes `id` out; returns its slot, if it was held.
    pub fn remove(&mut self, id: AccountId) -> Option<u32> {
        let removed = match self.direct_position(id) {
            Some(k) => Some(std::mem::replace(&mut self.direct[k], NIL)).filter(|s| *s != NIL),
            None => self.sparse.remove(&id),
        };
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Drops every entry (the direct table keeps its length, all `NIL`).
    pub fn clear(&mut self) {
        self.direct.fill(NIL);
        self.sparse.clear();
        self.len = 0;
    }

    /// Every `(id, slot)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (AccountId, u32)> + '_ {
        let direct = self.direct.iter().enumerate().filter(|(_, s)| **s != NIL).map(|(k, s)| (AccountId(k as u64), *s));
        direct.chain(self.sparse.iter().map(|(id, s)| (*id, *s)))
    }

    /// Checks the index's own rules: no id in the map that the direct table covers, and a
    /// count that matches the entries.
    ///
    /// # Errors
    /// Names the first rule broken.
    pub fn check(&self) -> Result<(), String> {
        if let Some(id) = self.sparse.keys().find(|id| self.direct_position(**id).is_some()) {
            return Err(format!("account {id} is hashed but lies in the direct table's range"));
        }
        let held = self.direct.iter().filter(|s| **s != NIL).count() + self.sparse.len();
        if held != self.len {
            return Err(format!("the account index counts {} entries but holds {held}", self.len));
        }
        Ok(())
    }

    /// `id`'s position in the direct table, if the table covers it.
    #[inline(always)]
    fn direct_position(&self, id: AccountId) -> Option<usize> {
        usize::try_from(id.0).ok().filter(|k| *k < self.direct.len())
    }

    /// The ids below which the direct table may grow to take a new one: four times the
    /// entries held (at least `MIN_DIRECT`), so a table grown for an id under it is at most
    /// twice that: 32 bytes an entry held.
    fn direct_limit(&self) -> u64 {
        (self.len as u64).saturating_add(1).saturating_mul(4).max(MIN_DIRECT)
    }

    /// Grows the direct table to cover `id` (at least doubling it), and moves the map's ids
    /// that it now covers into it.
    fn grow_to_cover(&mut self, id: AccountId) {
        let want = usize::try_from(id.0).expect("below the direct limit, which fits memory") + 1;
        let len = want.max(self.direct.len() * 2).max(64);
        self.direct.resize(len, NIL);
        if !self.sparse.is_empty() {
            let covered: Vec<AccountId> = self.sparse.keys().copied().filter(|k| k.0 < len as u64).collect();
            for k in covered {
                let slot = self.sparse.remove(&k).expect("listed just now");
                self.direct[usize::try_from(k.0).expect("below len")] = slot;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn sequential_ids_sit_in_the_direct_table() {
        let mut index = AccountIndex::new();
        for k in 1..=5_000u32 {
            assert_eq!(index.insert(AccountId(k.into()), k * 3), None);
        }
        assert!(index.sparse.is_empty(), "ids handed out in sequence are never hashed");
        assert!(index.direct.len() <= 2 * 5_001, "the table is at most twice the ids it covers");
        assert_eq!(index.get(AccountId(4_321)), Some(12_963));
        assert_eq!(index.len(), 5_000);
        index.check().unwrap();
    }

    #[test]
    fn a_sparse_id_is_hashed_and_costs_no_table() {
        let mut index = AccountIndex::new();
        index.insert(AccountId(1), 0);
        index.insert(AccountId(u64::MAX), 1);
        index.insert(AccountId(1 << 40), 2);
        assert!(index.direct.len() < 1 << 11, "no table grown for a far id");
        assert_eq!(index.get(AccountId(u64::MAX)), Some(1));
        assert_eq!(index.get(AccountId(1 << 40)), Some(2));
        assert_eq!(index.get(AccountId(1 << 39)), None);
        index.check().unwrap();
    }

    #[test]
    fn a_hashed_id_moves_into_the_table_when_it_grows_over_it() {
        let mut index = AccountIndex::new();
        index.insert(AccountId(3_000), 7);
        assert!(index.sparse.contains_key(&AccountId(3_000)), "beyond the limit of one account");
        for k in 0..2_047u32 {
            index.insert(AccountId(k.into()), k);
        }
        assert_eq!(index.direct.len(), 2_048);
        assert!(index.sparse.contains_key(&AccountId(3_000)), "not covered yet");
        index.insert(AccountId(2_047), 2_047);
        index.insert(AccountId(2_048), 2_048);
        assert!(index.sparse.is_empty(), "the table doubled over 3,000 and took it");
        assert_eq!(index.get(AccountId(3_000)), Some(7));
        index.check().unwrap();
    }

    #[test]
    fn the_check_finds_a_hashed_id_in_the_table_range_and_a_wrong_count() {
        let mut index = AccountIndex::new();
        index.insert(AccountId(5), 1);
        index.sparse.insert(AccountId(6), 2);
        index.len += 1;
        assert!(index.check().unwrap_err().contains("account 6 is hashed"));
        index.sparse.clear();
        assert!(index.check().unwrap_err().contains("counts 2 entries but holds 1"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the ids (small, clustered or far), the index answers as a map would.
        #[test]
        fn it_answers_as_a_map(ops in prop::collection::vec(
            (0u8..3, prop_oneof![0u64..2_000, 1u64 << 32..(1u64 << 32) + 50, Just(u64::MAX)], 0u32..1_000),
            1..400,
        )) {
            let mut index = AccountIndex::new();
            let mut model = BTreeMap::new();
            for (op, id, slot) in ops {
                let id = AccountId(id);
                match op {
                    0 | 1 => prop_assert_eq!(index.insert(id, slot), model.insert(id, slot)),
                    _ => prop_assert_eq!(index.remove(id), model.remove(&id)),
                }
                prop_assert_eq!(index.len(), model.len());
                index.check().map_err(TestCaseError::fail)?;
            }
            for (id, slot) in &model {
                prop_assert_eq!(index.get(*id), Some(*slot));
            }
            let mut all: Vec<(AccountId, u32)> = index.iter().collect();
            all.sort_unstable();
            prop_assert_eq!(all, model.into_iter().collect::<Vec<_>>());
        }
    }
}
