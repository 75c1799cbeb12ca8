//! [`MarketMap`]: an account's per-market values (positions, leverage, margin mode), kept in
//! the account itself.
//!
//! Why not a `BTreeMap`: almost every account holds one or two markets, and a `BTreeMap` puts
//! even one entry in a separately allocated node. Every walk over the accounts (funding, the
//! liquidation check after a mark move) then took a cache miss per account to reach its
//! position. A sorted small vector keeps the first entry inline in the account; more spill to
//! the heap. Lookups are a linear scan over the few entries. Measured on the funding bench
//! (1 M positions): docs/PERFORMANCE.md.

use std::fmt;

use smallvec::SmallVec;

use crate::ids::MarketId;

/// A map from market to `V`, sorted by market id, the first entry stored inline.
///
/// Its methods mirror the `BTreeMap` ones the engine uses, in the same order of iteration
/// (ascending market id), so digests and listings don't depend on which map holds the values.
#[derive(Clone, PartialEq, Eq)]
pub struct MarketMap<V> {
    entries: SmallVec<[(MarketId, V); 1]>,
}

impl<V> Default for MarketMap<V> {
    fn default() -> Self {
        Self { entries: SmallVec::new() }
    }
}

impl<V: fmt::Debug> fmt::Debug for MarketMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> MarketMap<V> {
    /// An empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Where `market` is, or where it would go.
    fn find(&self, market: MarketId) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&market, |(m, _)| *m)
    }

    /// How many markets are listed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no market is listed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value for `market`.
    #[must_use]
    pub fn get(&self, market: &MarketId) -> Option<&V> {
        self.find(*market).ok().map(|i| &self.entries[i].1)
    }

    /// The value for `market`, mutably.
    pub fn get_mut(&mut self, market: &MarketId) -> Option<&mut V> {
        self.find(*market).ok().map(|i| &mut self.entries[i].1)
    }

    /// Whether `market` is listed.
    #[must_use]
    pub fn contains_key(&self, market: &MarketId) -> bool {
        self.find(*market).is_ok()
    }

    /// Sets the value for `market`; returns the value it replaced.
    pub fn insert(&mut self, market: MarketId, value: V) -> Option<V> {
        match self.find(market) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (market, value));
                None
            }
        }
    }

    /// Removes `market`; returns its value.
    pub fn remove(&mut self, market: &MarketId) -> Option<V> {
        self.find(*market).ok().map(|i| self.entries.remove(i).1)
    }

    /// The slot for `market`, to read or fill.
    pub fn entry(&mut self, market: MarketId) -> Entry<'_, V> {
        Entry { map: self, market }
    }

    /// The entries in ascending market order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&MarketId, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(m, v)| (m, v))
    }

    /// The markets in ascending order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &MarketId> + ExactSizeIterator {
        self.entries.iter().map(|(m, _)| m)
    }

    /// The values in ascending market order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// One market's slot in a [`MarketMap`], from [`MarketMap::entry`].
#[derive(Debug)]
pub struct Entry<'a, V> {
    map: &'a mut MarketMap<V>,
    market: MarketId,
}

impl<'a, V: Default> Entry<'a, V> {
    /// The value, inserting `V::default()` first if the market isn't listed.
    pub fn or_default(self) -> &'a mut V {
        let i = match self.map.find(self.market) {
            Ok(i) => i,
            Err(i) => {
                self.map.entries.insert(i, (self.market, V::default()));
                i
            }
        };
        &mut self.map.entries[i].1
    }
}

impl<'a, V> IntoIterator for &'a MarketMap<V> {
    type Item = (&'a MarketId, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (MarketId, V)>, fn(&'a (MarketId, V)) -> (&'a MarketId, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(m, v)| (m, v))
    }
}

impl<V> FromIterator<(MarketId, V)> for MarketMap<V> {
    fn from_iter<I: IntoIterator<Item = (MarketId, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (m, v) in iter {
            map.insert(m, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// What a test does to both maps.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32, i64),
        Remove(u32),
        Bump(u32, i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..6, any::<i64>()).prop_map(|(m, v)| Op::Insert(m, v)),
            (0u32..6).prop_map(Op::Remove),
            (0u32..6, -5i64..5).prop_map(|(m, d)| Op::Bump(m, d)),
        ]
    }

    proptest! {
        /// The map answers exactly like a `BTreeMap` after any sequence of changes, in the
        /// same iteration order.
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec(op(), 0..40)) {
            let mut ours = MarketMap::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(m, v) => prop_assert_eq!(ours.insert(MarketId(m), v), model.insert(MarketId(m), v)),
                    Op::Remove(m) => prop_assert_eq!(ours.remove(&MarketId(m)), model.remove(&MarketId(m))),
                    Op::Bump(m, d) => {
                        *ours.entry(MarketId(m)).or_default() += d;
                        *model.entry(MarketId(m)).or_default() += d;
                    }
                }
                prop_assert!(ours.iter().eq(model.iter()));
                prop_assert_eq!(ours.len(), model.len());
                for m in 0..6 {
                    prop_assert_eq!(ours.get(&MarketId(m)), model.get(&MarketId(m)));
                    prop_assert_eq!(ours.contains_key(&MarketId(m)), model.contains_key(&MarketId(m)));
                }
            }
            prop_assert_eq!(format!("{ours:?}"), format!("{model:?}"));
        }
    }

    #[test]
    fn one_market_is_stored_inline() {
        let mut m = MarketMap::new();
        m.insert(MarketId(3), 7u64);
        assert!(!m.entries.spilled());
        m.insert(MarketId(1), 8);
        assert!(m.entries.spilled());
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), [MarketId(1), MarketId(3)]);
    }
}
