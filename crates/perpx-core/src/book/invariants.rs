//! Structural invariants of the book, checked after every command in tests and the simulator.

use super::order::Side;
use super::store::{Book, SideTotals};
use crate::num::Qty;

impl Book {
    /// Checks that the book is never crossed, that every level's totals equal its orders, that
    /// the queues are well linked and each order points at its level, that the price → level
    /// maps, the level slab and the cached best prices agree, that the order index and
    /// per-account lists match the levels exactly, and that each account's order totals (count,
    /// size, value and exact price bounds per side) equal its orders.
    ///
    /// # Errors
    /// A description of the first violation found (a violation is always an engine bug).
    pub fn check_invariants(&self) -> Result<(), String> {
        if let (Some(bid), Some(ask)) = (self.best_price(Side::Buy), self.best_price(Side::Sell)) {
            if bid >= ask {
                return Err(format!("book crossed: best bid {bid} >= best ask {ask}"));
            }
        }
        let raw = self.raw_parts();
        let mut seen = 0usize;
        let mut live_levels = 0usize;
        for (ix, (side, tree)) in [(Side::Buy, raw.bids), (Side::Sell, raw.asks)].into_iter().enumerate() {
            let tree_best = match side {
                Side::Buy => tree.last_key_value().map(|(p, _)| *p),
                Side::Sell => tree.first_key_value().map(|(p, _)| *p),
            };
            if raw.best[ix] != tree_best {
                return Err(format!("{side:?}: cached best {:?} but the levels say {tree_best:?}", raw.best[ix]));
            }
            for (price, l) in tree {
                live_levels += 1;
                if raw.level_of.get(side, *price) != Some(*l) {
                    return Err(format!("{side:?} {price}: level map and price tree disagree"));
                }
                let level = raw.levels.get(*l as usize).ok_or_else(|| format!("level slot {l} out of range"))?;
                if Book::level_key(level) != (side, *price) {
                    return Err(format!("level slot {l} is filed under {side:?} {price}"));
                }
                let (head, tail) = Book::level_ends(level);
                let mut at = head;
                let mut prev = Book::NIL;
                let mut count = 0u32;
                let mut total = 0i64;
                while at != Book::NIL {
                    let order =
                        self.slot_order(at).ok_or_else(|| format!("level {price}: empty slot {at} in queue"))?;
                    let (p, n, lv) = self.slot_links(at);
                    if p != prev {
                        return Err(format!("order {}: prev link {p} != {prev}", order.id));
                    }
                    if lv != *l {
                        return Err(format!("order {} points at level slot {lv}, rests in {l}", order.id));
                    }
                    if order.side != side || order.price != *price {
                        return Err(format!(
                            "order {} ({:?} {}) filed under {side:?} {price}",
                            order.id, order.side, order.price
                        ));
                    }
                    if !order.qty.is_positive() {
                        return Err(format!("order {} rests with size {}", order.id, order.qty));
                    }
                    if raw.index.get(&order.id.into()) != Some(&at) {
                        return Err(format!("order {} is not indexed at slot {at}", order.id));
                    }
                    if !self.orders_of(order.account).any(|id| id == order.id) {
                        return Err(format!("order {} missing from account {}'s list", order.id, order.account));
                    }
                    count += 1;
                    total += order.qty.0;
                    prev = at;
                    at = n;
                }
                if prev != tail {
                    return Err(format!("level {price}: tail {tail} but queue ends at {prev}"));
                }
                if count == 0 {
                    return Err(format!("level {price} is empty but present"));
                }
                if count != level.count || Qty(total) != level.total {
                    return Err(format!(
                        "level {price}: totals {}/{} but orders sum to {count}/{total}",
                        level.count, level.total
                    ));
                }
                seen += count as usize;
            }
        }
        if raw.level_of.len() != live_levels || raw.free_levels.len() + live_levels != raw.levels.len() {
            return Err("level map, free levels and level slab disagree".to_owned());
        }
        if seen != raw.index.len() {
            return Err(format!("{} orders indexed but {seen} in levels", raw.index.len()));
        }
        let listed: usize = raw.by_account.values().map(|o| raw.owners[*o as usize].slots.len()).sum();
        if listed != seen || raw.by_account.values().any(|o| raw.owners[*o as usize].slots.is_empty()) {
            return Err(format!("{listed} orders in account lists but {seen} in levels"));
        }
        if raw.by_account.len() + raw.free_owners.len() != raw.owners.len()
            || raw.free_owners.iter().any(|o| !raw.owners[*o as usize].slots.is_empty())
        {
            return Err("account entries, free entries and the owner slab disagree".to_owned());
        }
        for (account, owner) in raw.by_account {
            let orders = &raw.owners[*owner as usize];
            for i in &orders.slots {
                let order = self.slot_order(*i).ok_or_else(|| format!("account {account} lists an empty slot {i}"))?;
                if order.account != *account || self.slot_owner(*i) != *owner {
                    return Err(format!("order {} is listed for account {account} but owned elsewhere", order.id));
                }
            }
            for side in [Side::Buy, Side::Sell] {
                let mut want = SideTotals::default();
                for o in orders.slots.iter().filter_map(|i| self.slot_order(*i)) {
                    if o.side == side && !o.reduce_only {
                        want.add(o.price, o.qty);
                    }
                }
                let have = self.open_totals(*account)[usize::from(side == Side::Sell)];
                let same = have.count == want.count
                    && have.qty == want.qty
                    && have.value == want.value
                    && (want.count == 0 || (have.low, have.high) == (want.low, want.high));
                if !same {
                    return Err(format!(
                        "account {account} {side:?}: order totals {have:?} but its orders sum to {want:?}"
                    ));
                }
            }
        }
        if raw.free.iter().any(|i| self.slot_order(*i).is_some()) || raw.free.len() + seen != raw.slots_len {
            return Err("free list disagrees with the slots in use".to_owned());
        }
        Ok(())
    }
}
