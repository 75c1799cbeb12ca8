//! Client order ids: unique per account over a retention window, kept *in* the state so that
//! a snapshot, a replay and the live engine agree on which ids are taken.
//!
//! An id is held from the order's acceptance until `retention_ms` after that *and* until the
//! order has left the book, whichever is later (an open order never loses its id). While held,
//! a new order with the same id places nothing and is answered with the holder's status, so a
//! client that retries a request after a timeout can never double-place.
//!
//! Expiry is a FIFO of deadlines; time only moves forward, so pruning pops from the front.
//! An entry whose deadline passes while its order is still open becomes *overdue*: it leaves
//! the queue and is released the moment its order leaves the book.
//!
//! The held ids sit in hash maps, found in one probe each; anything that reads them in order
//! (the state hash, snapshots, the invariant checks) sorts them first ([`ClientOrders::iter`]).
//! Why: as nested `BTreeMap`s, every lookup compared the id's text with `memcmp` at each node of
//! a tree of thousands of ids per market maker; holding, finding and releasing ids were 14 % of
//! the engine's instructions on the recovery benchmark's workload, where 30 % of the quotes carry
//! an id (callgrind; docs/PERFORMANCE.md, "Session 11: the engine on the replay worker").

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::hash::StateHasher;
use crate::event::OrderStatus;
use crate::ids::{AccountId, ClientOrderId, MarketId, OrderId};
use crate::num::{Qty, Timestamp};

/// Where a client id's order stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrderEntry {
    /// The order holding the id.
    pub order_id: OrderId,
    /// Its market.
    pub market: MarketId,
    /// `None` while open; the final status and filled size once it has left the book.
    pub terminal: Option<(OrderStatus, Qty)>,
    /// Acceptance time + retention: the earliest moment the id can be released.
    pub expires_at: Timestamp,
}

/// The registry of held client order ids.
#[derive(Debug, Clone, Default)]
pub struct ClientOrders {
    /// Held ids by account, then id: looked up with the caller's id, no key to build (a
    /// `(account, id)` key cloned the id, an allocation, on every lookup; docs/PERFORMANCE.md).
    /// Never iterated into an output unsorted.
    entries: FxHashMap<AccountId, FxHashMap<ClientOrderId, ClientOrderEntry>>,
    expiry: VecDeque<(Timestamp, AccountId, ClientOrderId)>,
    /// The clock as of the last prune (the engine's clock; not hashed separately).
    now: Timestamp,
}

impl ClientOrders {
    /// The entry holding `(account, id)`, if any.
    #[must_use]
    pub fn get(&self, account: AccountId, id: &ClientOrderId) -> Option<&ClientOrderEntry> {
        self.entries.get(&account)?.get(id)
    }

    /// Releases `(account, id)`.
    fn release(&mut self, account: AccountId, id: &ClientOrderId) {
        if let Some(ids) = self.entries.get_mut(&account) {
            ids.remove(id);
            if ids.is_empty() {
                self.entries.remove(&account);
            }
        }
    }

    /// Holds `(account, id)` for a newly accepted order until at least `expires_at`.
    pub fn hold(
        &mut self,
        account: AccountId,
        id: ClientOrderId,
        order_id: OrderId,
        market: MarketId,
        expires_at: Timestamp,
    ) {
        let entry = ClientOrderEntry { order_id, market, terminal: None, expires_at };
        let previous = self.entries.entry(account).or_default().insert(id.clone(), entry);
        assert!(previous.is_none(), "client id {id} of account {account} held twice");
        // A zero retention makes the id overdue at once: released when the order leaves.
        if expires_at > self.now {
            self.expiry.push_back((expires_at, account, id));
        }
    }

    /// Records that the order holding `(account, id)` left the book; an overdue id (its
    /// retention already over) is released at once.
    pub fn terminate(&mut self, account: AccountId, id: &ClientOrderId, status: OrderStatus, filled: Qty) {
        let entry = self.entries.get_mut(&account).and_then(|ids| ids.get_mut(id));
        let entry = entry.expect("terminated order's client id is held");
        if entry.expires_at <= self.now {
            self.release(account, id);
        } else {
            entry.terminal = Some((status, filled));
        }
    }

    /// Advances the registry's clock to `now`: releases every id whose deadline has come and
    /// whose order has left the book; ids whose order is still open become overdue.
    #[inline]
    pub fn prune(&mut self, now: Timestamp) {
        self.now = now;
        // Most commands release nothing: the check inline, the work behind a call.
        if self.expiry.front().is_some_and(|(deadline, _, _)| *deadline <= now) {
            self.release_due(now);
        }
    }

    /// [`ClientOrders::prune`] once a deadline has come.
    #[inline(never)]
    fn release_due(&mut self, now: Timestamp) {
        while let Some((deadline, _, _)) = self.expiry.front() {
            if *deadline > now {
                break;
            }
            let (_, account, id) = self.expiry.pop_front().expect("front exists");
            let open = self.get(account, &id).is_some_and(|e| e.terminal.is_none());
            if !open {
                self.release(account, &id);
            }
        }
    }

    /// Number of held ids.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.values().map(FxHashMap::len).sum()
    }

    /// Whether no id is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every held id with its entry, sorted by account then id (sorted here, at each call:
    /// the callers are the state hash, snapshots and the invariant checks).
    pub fn iter(&self) -> impl Iterator<Item = (AccountId, &ClientOrderId, &ClientOrderEntry)> {
        let mut held: Vec<(AccountId, &ClientOrderId, &ClientOrderEntry)> =
            self.entries.iter().flat_map(|(account, ids)| ids.iter().map(|(id, e)| (*account, id, e))).collect();
        held.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        held.into_iter()
    }

    /// The expiry queue, front first: `(deadline, account, id)` of every held id whose
    /// retention has not ended, in the order they will be released (for snapshots).
    pub fn expiry_items(&self) -> impl Iterator<Item = (Timestamp, AccountId, &ClientOrderId)> {
        self.expiry.iter().map(|(deadline, account, id)| (*deadline, *account, id))
    }

    /// A registry from its parts, as a snapshot carries them (`engine/snapshot.rs`). Nothing
    /// is checked here: the restore runs [`ClientOrders::check_invariants`] after.
    pub(crate) fn from_parts(
        entries: impl IntoIterator<Item = (AccountId, ClientOrderId, ClientOrderEntry)>,
        expiry: VecDeque<(Timestamp, AccountId, ClientOrderId)>,
        now: Timestamp,
    ) -> Self {
        let mut registry = Self { entries: FxHashMap::default(), expiry, now };
        for (account, id, entry) in entries {
            registry.entries.entry(account).or_default().insert(id, entry);
        }
        registry
    }

    /// Checks that the expiry queue holds exactly the held ids whose deadline is still ahead,
    /// in deadline order, and that every other held id is overdue and open.
    ///
    /// # Errors
    /// A description of the mismatch.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut last = Timestamp(i64::MIN);
        for (deadline, account, id) in &self.expiry {
            if *deadline < last {
                return Err("client id expiry queue out of order".to_owned());
            }
            last = *deadline;
            let e = self.get(*account, id);
            if !e.is_some_and(|e| e.expires_at == *deadline && *deadline > self.now) {
                return Err(format!("expiry item for client id {id} of account {account} does not match its entry"));
            }
        }
        let mut queued = 0usize;
        for (account, id, e) in self.iter() {
            if e.expires_at > self.now {
                queued += 1;
            } else if e.terminal.is_some() {
                return Err(format!("client id {id} of account {account} is past retention and closed but still held"));
            }
        }
        if queued != self.expiry.len() {
            return Err(format!("{} expiry items for {queued} client ids within retention", self.expiry.len()));
        }
        Ok(())
    }

    /// Feeds the registry into the state hash.
    pub fn hash_into(&self, h: &mut StateHasher) {
        h.u64(self.len() as u64);
        for (account, id, e) in self.iter() {
            h.u64(account.0).str(id.as_str()).u64(e.order_id.0).u64(u64::from(e.market.0));
            match e.terminal {
                None => h.tag(0),
                Some((status, filled)) => super::hash_status(h.tag(1), status).i64(filled.0),
            };
        }
        h.u64(self.expiry.len() as u64);
        for (deadline, account, id) in &self.expiry {
            h.i64(deadline.0).u64(account.0).str(id.as_str());
        }
    }
}
