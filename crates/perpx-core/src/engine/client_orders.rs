//! Client order ids: unique per account over a retention window, kept *in* the state so that
//! a snapshot, a replay and the live engine agree on which ids are taken.
//!
//! An id is held from the order's acceptance until `retention_ms` after that *and* until the
//! order has left the book, whichever is later (an open order never loses its id). While held,
//! a new order with the same id places nothing and is answered with the holder's status, so a
//! client that retries a request after a timeout can never double-place.
//!
//! Expiry is a FIFO of deadlines; time only moves forward, so pruning pops from the front.
//! An entry found still open at its deadline is re-queued one window later.

use std::collections::{BTreeMap, VecDeque};

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
}

/// The registry of held client order ids.
#[derive(Debug, Clone, Default)]
pub struct ClientOrders {
    entries: BTreeMap<(AccountId, ClientOrderId), ClientOrderEntry>,
    expiry: VecDeque<(Timestamp, AccountId, ClientOrderId)>,
}

impl ClientOrders {
    /// The entry holding `(account, id)`, if any.
    #[must_use]
    pub fn get(&self, account: AccountId, id: &ClientOrderId) -> Option<&ClientOrderEntry> {
        self.entries.get(&(account, id.clone()))
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
        let previous = self.entries.insert(
            (account, id.clone()),
            ClientOrderEntry {
                order_id,
                market,
                terminal: None,
            },
        );
        assert!(
            previous.is_none(),
            "client id {id} of account {account} held twice"
        );
        self.expiry.push_back((expires_at, account, id));
    }

    /// Records that the order holding `(account, id)` left the book.
    pub fn terminate(
        &mut self,
        account: AccountId,
        id: &ClientOrderId,
        status: OrderStatus,
        filled: Qty,
    ) {
        let entry = self
            .entries
            .get_mut(&(account, id.clone()))
            .expect("terminated order's client id is held");
        entry.terminal = Some((status, filled));
    }

    /// Releases every id whose deadline is at or before `now` and whose order has left the book;
    /// re-queues those still open for another `retention_ms`.
    pub fn prune(&mut self, now: Timestamp, retention_ms: i64) {
        // Each id is popped at most once per call: ids re-queued go behind `now`'s deadline.
        while let Some((deadline, _, _)) = self.expiry.front() {
            if *deadline > now {
                break;
            }
            let (_, account, id) = self.expiry.pop_front().expect("front exists");
            let key = (account, id);
            let open = self.entries.get(&key).is_some_and(|e| e.terminal.is_none());
            if open {
                self.expiry.push_back((
                    now.saturating_add_millis(retention_ms.max(1)),
                    key.0,
                    key.1,
                ));
            } else {
                self.entries.remove(&key);
            }
        }
    }

    /// Number of held ids.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no id is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every held id with its entry, sorted by account then id.
    pub fn iter(&self) -> impl Iterator<Item = (&(AccountId, ClientOrderId), &ClientOrderEntry)> {
        self.entries.iter()
    }

    /// Checks that the expiry queue holds exactly the held ids, with deadlines in order.
    ///
    /// # Errors
    /// A description of the mismatch.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.expiry.len() != self.entries.len() {
            return Err(format!(
                "{} expiry items for {} held client ids",
                self.expiry.len(),
                self.entries.len()
            ));
        }
        let mut last = Timestamp(i64::MIN);
        for (deadline, account, id) in &self.expiry {
            if *deadline < last {
                return Err("client id expiry queue out of order".to_owned());
            }
            last = *deadline;
            if !self.entries.contains_key(&(*account, id.clone())) {
                return Err(format!(
                    "expiry item for unheld client id {id} of account {account}"
                ));
            }
        }
        Ok(())
    }

    /// Feeds the registry into the state hash.
    pub fn hash_into(&self, h: &mut StateHasher) {
        h.u64(self.entries.len() as u64);
        for ((account, id), e) in &self.entries {
            h.u64(account.0)
                .str(id.as_str())
                .u64(e.order_id.0)
                .u64(u64::from(e.market.0));
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
