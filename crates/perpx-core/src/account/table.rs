//! [`AccountTable`]: every account, found by id in one read (or one hash probe) and walked in
//! id order.
//!
//! Why not a `BTreeMap<AccountId, Account>`: every command looks accounts up (the order's
//! owner, both sides of every fill), and with 10⁴–10⁶ accounts each lookup was a descent of
//! four or five tree nodes, a cache miss each. The tree's descents were about 40 % of the
//! instructions of a liquidation cascade. Here the accounts sit in one vector, addressed
//! through an id → slot index ([`AccountIndex`]: small ids by a direct table, others by a
//! hash); walks that must be in id order (funding, the liquidation check, the state hash,
//! snapshots) read the vector front to back, because accounts are created in id order almost
//! always. When one isn't, the table notes it: a shared walk then sorts a list of slots, and a
//! mutable walk puts the vector back in id order first. Measured gains: docs/PERFORMANCE.md.

use std::collections::BTreeMap;
use std::fmt;

use super::{Account, AccountIndex};
use crate::ids::AccountId;

/// The engine's accounts.
#[derive(Clone, Default)]
pub struct AccountTable {
    /// The id of the account in each slot.
    ids: Vec<AccountId>,
    /// The account in each slot.
    accounts: Vec<Account>,
    /// Slot of each id ([`AccountIndex`]).
    slots: AccountIndex,
    /// Whether an account was created out of id order since the slots were last sorted (until
    /// then the walks read the slots in place).
    out_of_id_order: bool,
    /// While on, the ids of the accounts handed out mutably (see [`AccountTable::log_changes`]).
    changed: Option<ChangeLog>,
    /// Always on: the accounts handed out mutably since the liquidation pass last took them
    /// ([`AccountTable::take_changed`]).
    unchecked: ChangeLog,
}

/// The accounts that may have changed since the log was last read.
#[derive(Debug, Clone, Default)]
pub struct ChangeLog {
    /// Ids, in the order they were handed out (with repeats).
    pub ids: Vec<AccountId>,
    /// Whether every account may have changed (a mutable walk over them all).
    pub all: bool,
}

impl fmt::Debug for AccountTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for AccountTable {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for AccountTable {}

impl AccountTable {
    /// No accounts.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many accounts there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn slot(&self, id: AccountId) -> Option<usize> {
        self.slots.get(id).map(|s| s as usize)
    }

    /// The account `id`.
    #[must_use]
    pub fn get(&self, id: &AccountId) -> Option<&Account> {
        self.slot(*id).map(|s| &self.accounts[s])
    }

    /// The account `id`, mutably.
    pub fn get_mut(&mut self, id: &AccountId) -> Option<&mut Account> {
        let slot = self.slot(*id)?;
        if let Some(log) = &mut self.changed {
            log.ids.push(*id);
        }
        self.unchecked.ids.push(*id);
        Some(&mut self.accounts[slot])
    }

    /// Starts (`true`) or stops logging which accounts are handed out mutably, so that a
    /// figure derived from many accounts (the ADL ranking) can be brought up to date by
    /// recomputing only theirs. Any mutable access counts, whatever it changes: the log can
    /// name too many accounts, never too few. Starting clears the log.
    pub fn log_changes(&mut self, on: bool) {
        self.changed = on.then(ChangeLog::default);
    }

    /// How many ids the log holds (with repeats; 0 when not logging), to bound what a kept
    /// figure will have to recompute.
    #[must_use]
    pub fn logged_changes(&self) -> usize {
        self.changed.as_ref().map_or(0, |log| log.ids.len())
    }

    /// Puts into `ids` (cleared first) the ids of the accounts handed out mutably since the
    /// log started or was last taken, with repeats, and returns whether every account may have
    /// changed (`None` when not logging); the log starts over. The log and `ids` swap buffers,
    /// so a caller that keeps `ids` makes no allocation a call.
    pub fn take_changes_into(&mut self, ids: &mut Vec<AccountId>) -> Option<bool> {
        let log = self.changed.as_mut()?;
        ids.clear();
        std::mem::swap(ids, &mut log.ids);
        Some(std::mem::take(&mut log.all))
    }

    /// Moves the ids of the accounts handed out mutably since the last call onto `into` (with
    /// repeats); returns whether every account may have changed (a mutable walk over them all).
    ///
    /// Always on, unlike [`AccountTable::log_changes`]: the liquidation pass re-checks exactly
    /// these accounts (and the holders a mark move reaches), so any change to a balance or a
    /// position, by whatever command, is seen by the next pass and refreshes the account's safe
    /// bands ([`crate::market::SafeBand`]). It can name too many accounts, never too few.
    #[inline]
    pub fn take_changed(&mut self, into: &mut Vec<AccountId>) -> bool {
        if !self.unchecked.ids.is_empty() {
            into.append(&mut self.unchecked.ids);
        }
        std::mem::take(&mut self.unchecked.all)
    }

    /// Whether [`AccountTable::take_changed`] has anything to give: an account handed out
    /// mutably since it was last called, or a walk over them all.
    #[inline]
    #[must_use]
    pub fn has_unchecked(&self) -> bool {
        !self.unchecked.ids.is_empty() || self.unchecked.all
    }

    /// Notes `id` for the next liquidation pass as if it had been handed out mutably: for a
    /// walk that changed accounts unlogged ([`AccountTable::slices_mut_rechecked_by_caller`]) and
    /// found this one in need of the check.
    pub fn note_changed(&mut self, id: AccountId) {
        self.unchecked.ids.push(id);
    }

    /// Whether account `id` exists.
    #[must_use]
    pub fn contains_key(&self, id: &AccountId) -> bool {
        self.slots.contains(*id)
    }

    /// The account `id`, created empty if it doesn't exist yet.
    pub fn get_or_create(&mut self, id: AccountId) -> &mut Account {
        let slot = match self.slot(id) {
            Some(s) => s,
            None => self.push(id, Account::default()),
        };
        if let Some(log) = &mut self.changed {
            log.ids.push(id);
        }
        self.unchecked.ids.push(id);
        &mut self.accounts[slot]
    }

    /// Adds an account that doesn't exist yet; returns its slot.
    fn push(&mut self, id: AccountId, account: Account) -> usize {
        let slot = self.ids.len();
        let s = u32::try_from(slot).expect("fewer than 2^32 accounts");
        if self.ids.last().is_some_and(|last| *last > id) {
            self.out_of_id_order = true;
        }
        self.ids.push(id);
        self.accounts.push(account);
        self.slots.insert(id, s);
        slot
    }

    /// The slots in ascending id order.
    fn slots_in_id_order(&self) -> SlotOrder {
        if !self.out_of_id_order {
            SlotOrder::InPlace(0..self.ids.len())
        } else {
            let mut slots: Vec<u32> = (0..u32::try_from(self.ids.len()).expect("fewer than 2^32 accounts")).collect();
            // A stable sort, which merges runs: the slots are almost always in id order but for
            // a few accounts created early with large ids (a backstop liquidator, a venue
            // account), so they are a few runs and the sort is a merge of them. The unstable
            // sort (ids are unique, so the order is the same) sorted them from scratch at every
            // walk: 23 M instructions a mark move over the liquidation bench's 100,000 holders,
            // about 4 % of the 30 % gap's (docs/PERFORMANCE.md, "Session 18").
            slots.sort_by_key(|s| self.ids[*s as usize]);
            SlotOrder::Sorted(slots.into_iter())
        }
    }

    /// Moves the accounts into ascending id order (after an account was created out of
    /// order), so that a mutable walk can read them in place.
    fn put_in_id_order(&mut self) {
        if !self.out_of_id_order {
            return;
        }
        let mut pairs: Vec<(AccountId, Account)> =
            std::mem::take(&mut self.ids).into_iter().zip(std::mem::take(&mut self.accounts)).collect();
        pairs.sort_unstable_by_key(|(id, _)| *id);
        self.slots.clear();
        for (slot, (id, account)) in pairs.into_iter().enumerate() {
            self.slots.insert(id, u32::try_from(slot).expect("fewer than 2^32 accounts"));
            self.ids.push(id);
            self.accounts.push(account);
        }
        self.out_of_id_order = false;
    }

    /// Every account, in ascending id order.
    #[must_use]
    pub fn iter(&self) -> Iter<'_> {
        Iter { table: self, order: self.slots_in_id_order() }
    }

    /// Every id, ascending.
    pub fn keys(&self) -> impl Iterator<Item = &AccountId> {
        self.slots_in_id_order().map(|s| &self.ids[s])
    }

    /// Every account, in ascending id order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&AccountId, &mut Account)> {
        self.unchecked.all = true;
        let (ids, accounts) = self.slices_mut_rechecked_by_caller();
        ids.iter().zip(accounts)
    }

    /// Every id and account, in ascending id order, as two slices of equal length (so that a
    /// walk can cut them into stretches), mutably and **without** noting the accounts for the
    /// next liquidation pass ([`AccountTable::take_changed`]): for a walk that answers for the
    /// re-check itself. Funding settlement does: it checks each payer in hand and narrows the
    /// paying side's safe bands by what a payment can cost (`Engine::pay_funding`), where noting
    /// every account would make the pass re-check every holder after every settlement.
    pub fn slices_mut_rechecked_by_caller(&mut self) -> (&[AccountId], &mut [Account]) {
        self.put_in_id_order();
        if let Some(log) = &mut self.changed {
            log.all = true;
        }
        (&self.ids, &mut self.accounts)
    }

    /// The accounts as an ordered map (for snapshots).
    #[must_use]
    pub fn to_map(&self) -> BTreeMap<AccountId, Account> {
        self.iter().map(|(id, a)| (*id, a.clone())).collect()
    }
}

/// Slots in id order: the vector's own when it is in order, else a sorted list.
#[derive(Debug)]
enum SlotOrder {
    InPlace(std::ops::Range<usize>),
    Sorted(std::vec::IntoIter<u32>),
}

impl Iterator for SlotOrder {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            SlotOrder::InPlace(r) => r.next(),
            SlotOrder::Sorted(s) => s.next().map(|s| s as usize),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            SlotOrder::InPlace(r) => r.size_hint(),
            SlotOrder::Sorted(s) => s.size_hint(),
        }
    }
}

impl std::ops::Index<&AccountId> for AccountTable {
    type Output = Account;

    fn index(&self, id: &AccountId) -> &Account {
        self.get(id).expect("account exists")
    }
}

/// The accounts in ascending id order, from [`AccountTable::iter`].
#[derive(Debug)]
pub struct Iter<'a> {
    table: &'a AccountTable,
    order: SlotOrder,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a AccountId, &'a Account);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.order.next()?;
        Some((&self.table.ids[s], &self.table.accounts[s]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.order.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a AccountTable {
    type Item = (&'a AccountId, &'a Account);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<(AccountId, Account)> for AccountTable {
    fn from_iter<I: IntoIterator<Item = (AccountId, Account)>>(iter: I) -> Self {
        let mut table = Self::new();
        for (id, account) in iter {
            match table.slot(id) {
                Some(s) => table.accounts[s] = account,
                None => {
                    table.push(id, account);
                }
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::num::Quote;

    proptest! {
        /// Created in any order and changed in place, the table answers like an ordered map
        /// and walks in ascending id order, shared or mutable.
        #[test]
        fn behaves_like_an_ordered_map(ids in proptest::collection::vec(0u64..50, 0..60), probe in 0u64..50) {
            let mut table = AccountTable::new();
            let mut model: BTreeMap<AccountId, Account> = BTreeMap::new();
            for (n, id) in ids.iter().enumerate() {
                let n = i64::try_from(n).unwrap();
                table.get_or_create(AccountId(*id)).collateral.0 += n;
                model.entry(AccountId(*id)).or_default().collateral.0 += n;
                prop_assert!(table.iter().eq(model.iter()));
            }
            prop_assert_eq!(table.len(), model.len());
            prop_assert_eq!(table.get(&AccountId(probe)), model.get(&AccountId(probe)));
            prop_assert!(table.keys().eq(model.keys()));
            for (id, a) in table.iter_mut() {
                a.collateral = Quote(i64::try_from(id.0).unwrap());
            }
            for (id, a) in &mut model {
                a.collateral = Quote(i64::try_from(id.0).unwrap());
            }
            prop_assert!(table.iter().eq(model.iter()));
            prop_assert_eq!(&table.to_map(), &model);
            prop_assert_eq!(table, model.into_iter().collect::<AccountTable>());
        }
    }
}
