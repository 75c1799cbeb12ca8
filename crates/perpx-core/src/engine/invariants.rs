//! Engine-wide invariants, checked after every command in tests, replays and the simulator.

use super::Engine;
use crate::book::Side;

impl Engine {
    /// Checks every invariant the engine promises (see `docs/ENGINE.md`, "Invariants"):
    /// each book is well formed and never crossed; no side holds more levels than its market
    /// allows and no account more open orders; every open order with a client id holds that
    /// id in the registry and every open registry entry points at an open order of its owner.
    ///
    /// # Errors
    /// A description of the first violation (always an engine bug).
    pub fn check_invariants(&self) -> Result<(), String> {
        for m in &self.markets {
            let sym = &m.spec.symbol;
            m.book.check_invariants().map_err(|e| format!("{sym}: {e}"))?;
            let limits = &m.spec.limits;
            for side in [Side::Buy, Side::Sell] {
                if m.book.level_count(side) > limits.max_price_levels as usize {
                    return Err(format!("{sym}: {side:?} side has {} levels", m.book.level_count(side)));
                }
                for (_, level) in m.book.levels(side) {
                    for o in m.book.level_orders(level) {
                        if m.book.orders_of(o.account).len() > limits.max_open_orders_per_account as usize {
                            return Err(format!("{sym}: account {} is over its open-order limit", o.account));
                        }
                        if o.id.0 >= self.next_order_id {
                            return Err(format!("{sym}: order {} has an id not yet issued", o.id));
                        }
                        if let Some(cid) = &o.client_id {
                            let held = self.client_orders.get(o.account, cid);
                            if !held.is_some_and(|e| e.order_id == o.id && e.market == m.id && e.terminal.is_none()) {
                                return Err(format!("{sym}: open order {} does not hold client id {cid}", o.id));
                            }
                        }
                    }
                }
            }
        }
        self.client_orders.check_invariants()?;
        for ((account, cid), e) in self.client_orders.iter() {
            if e.terminal.is_none() {
                let m = self.markets.get(e.market.index()).ok_or("client id held in an unknown market")?;
                let open = m.book.get(e.order_id);
                if !open.is_some_and(|o| o.account == *account && o.client_id.as_ref() == Some(cid)) {
                    return Err(format!(
                        "client id {cid} of account {account} held open but order {} is not",
                        e.order_id
                    ));
                }
            }
        }
        Ok(())
    }
}
