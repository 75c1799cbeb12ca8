//! Structural invariants of the book, checked after every command in tests and the simulator.

use super::order::Side;
use super::store::{Book, SideTotals};
use super::window::{WINDOW, Window};
use crate::num::{Price, Qty};

impl Book {
    /// Checks that the book is never crossed, that every level's totals equal its orders, that
    /// the queues are well linked and each order points at its level, that each side's window
    /// (slot table, bitmap, summary, count) is consistent, that every live level is reached
    /// exactly once through a window or the tree (never a tree price inside the window), that
    /// the hash map agrees with the trees, that `levels()` walks them in price order, that the
    /// cached best prices equal the true best, that the order index and
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
        // Each level slot reached exactly once, through a window or a tree.
        let mut reached = vec![false; raw.levels.len()];
        for (ix, (side, tree)) in [(Side::Buy, raw.bids), (Side::Sell, raw.asks)].into_iter().enumerate() {
            let window = &raw.windows[ix];
            let mut entries = check_window(side, window)?;
            for (price, l) in tree {
                if window.offset(price.0).is_some() {
                    return Err(format!("{side:?} {price}: in the tree but inside the window"));
                }
                if raw.level_of.get(side, *price) != Some(*l) {
                    return Err(format!("{side:?} {price}: level map and price tree disagree"));
                }
                entries.push((*price, *l));
            }
            let true_best = match side {
                Side::Buy => entries.iter().map(|(p, _)| *p).max(),
                Side::Sell => entries.iter().map(|(p, _)| *p).min(),
            };
            if raw.best[ix] != true_best {
                return Err(format!("{side:?}: cached best {:?} but the levels say {true_best:?}", raw.best[ix]));
            }
            if self.level_count(side) != entries.len() {
                return Err(format!("{side:?}: level count {} but {} levels", self.level_count(side), entries.len()));
            }
            // The ordered walk: every level once, in priority order.
            entries.sort_unstable_by_key(|(p, _)| *p);
            if side == Side::Buy {
                entries.reverse();
            }
            let walked: Vec<_> = self.levels(side).collect();
            let same_walk = walked.len() == entries.len()
                && walked
                    .iter()
                    .zip(&entries)
                    .all(|((wp, wl), (p, l))| wp == p && std::ptr::eq(*wl, &raw.levels[*l as usize]));
            if !same_walk {
                return Err(format!("{side:?}: levels() does not walk the levels in price order"));
            }
            for (price, l) in &entries {
                let (price, l) = (price, *l);
                live_levels += 1;
                let reach = reached.get_mut(l as usize).ok_or_else(|| format!("level slot {l} out of range"))?;
                if std::mem::replace(reach, true) {
                    return Err(format!("level slot {l} is reachable twice"));
                }
                let level = &raw.levels[l as usize];
                if Book::level_key(level) != (side, *price) {
                    return Err(format!("level slot {l} is filed under {side:?} {price}"));
                }
                if !self.level_at(side, *price).is_some_and(|found| std::ptr::eq(found, level)) {
                    return Err(format!("{side:?} {price}: level_at does not find level slot {l}"));
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
                    if lv != l {
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
                    if raw.index.get(order.id) != Some(at) {
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
        let tree_levels = raw.bids.len() + raw.asks.len();
        if raw.level_of.len() != tree_levels || raw.free_levels.len() + live_levels != raw.levels.len() {
            return Err("level map, free levels and level slab disagree".to_owned());
        }
        for l in raw.free_levels {
            let reach = reached.get_mut(*l as usize).ok_or_else(|| format!("free level slot {l} out of range"))?;
            if std::mem::replace(reach, true) {
                return Err(format!("free level slot {l} is in use or freed twice"));
            }
        }
        raw.index.check()?;
        if seen != raw.index.len() {
            return Err(format!("{} orders indexed but {seen} in levels", raw.index.len()));
        }
        let listed: usize = raw.by_account.iter().map(|(_, o)| raw.owners[o as usize].slots.len()).sum();
        if listed != seen || raw.by_account.iter().any(|(_, o)| raw.owners[o as usize].slots.is_empty()) {
            return Err(format!("{listed} orders in account lists but {seen} in levels"));
        }
        if raw.by_account.len() + raw.free_owners.len() != raw.owners.len()
            || raw.free_owners.iter().any(|o| !raw.owners[*o as usize].slots.is_empty())
        {
            return Err("account entries, free entries and the owner slab disagree".to_owned());
        }
        raw.by_account.check()?;
        for (account, owner) in raw.by_account.iter() {
            let orders = &raw.owners[owner as usize];
            for i in &orders.slots {
                let order = self.slot_order(*i).ok_or_else(|| format!("account {account} lists an empty slot {i}"))?;
                if order.account != account || self.slot_owner(*i) != owner {
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
                let have = self.open_totals(account)[usize::from(side == Side::Sell)];
                // The bounds hold every order's price, and an end marked exact is an order's.
                let bounds = want.count == 0
                    || (have.low <= want.low
                        && have.high >= want.high
                        && (!have.low_exact || have.low == want.low)
                        && (!have.high_exact || have.high == want.high));
                let same = have.count == want.count && have.qty == want.qty && have.value == want.value && bounds;
                if !same {
                    return Err(format!(
                        "account {account} {side:?}: order totals {have:?} but its orders sum to {want:?}"
                    ));
                }
            }
        }
        // Slot 0 is the queues' sink once the book has held an order: never free, never an
        // order's.
        let sink = usize::from(raw.slots_len > 0);
        if sink == 1 && (self.slot_order(Book::SINK).is_some() || raw.free.contains(&Book::SINK)) {
            return Err("the sink slot holds an order or is free".to_owned());
        }
        if raw.free.iter().any(|i| self.slot_order(*i).is_some()) || raw.free.len() + seen + sink != raw.slots_len {
            return Err("free list disagrees with the slots in use".to_owned());
        }
        Ok(())
    }
}

/// Checks one side's window on its own — slot table, bitmap and summary agree, and the count is
/// the number of occupied slots — and returns its `(price, level slot)` entries.
fn check_window(side: Side, window: &Window) -> Result<Vec<(Price, u32)>, String> {
    let (slots, bits, summary, len) = window.raw();
    if slots.is_empty() {
        return if bits.is_empty() && summary.is_empty() && len == 0 {
            Ok(Vec::new())
        } else {
            Err(format!("{side:?}: unallocated window with bits or levels"))
        };
    }
    if slots.len() != WINDOW || bits.len() != WINDOW / 64 || summary.len() != WINDOW.div_ceil(64 * 64) {
        return Err(format!("{side:?}: window of {}/{}/{} entries", slots.len(), bits.len(), summary.len()));
    }
    if window.base().zip(window.top()).is_none_or(|(b, t)| t.checked_sub(b) != Some(WINDOW as i64 - 1)) {
        return Err(format!("{side:?}: window bounds overflow"));
    }
    let mut entries = Vec::new();
    let empty_word = [Window::EMPTY; 64];
    for (j, word) in bits.iter().enumerate() {
        if (summary[j / 64] >> (j % 64)) & 1 != u64::from(*word != 0) {
            return Err(format!("{side:?}: summary bit of word {j} disagrees with the word"));
        }
        // An empty word's 64 slots in one slice comparison (a `memcmp`: the tests check
        // after every command, in debug builds, and most of a window is empty).
        if *word == 0 {
            if slots[j * 64..(j + 1) * 64] != empty_word {
                return Err(format!("{side:?}: a slot of window word {j} holds a level its bit does not show"));
            }
            continue;
        }
        for b in 0..64 {
            let i = j * 64 + b;
            let occupied = slots[i] != Window::EMPTY;
            if occupied != ((word >> b) & 1 == 1) {
                return Err(format!("{side:?}: window bit {i} disagrees with its slot"));
            }
            if occupied {
                entries.push((Price(window.raw_price(i)), slots[i]));
            }
        }
    }
    let used_summary_bits = bits.len();
    for (k, word) in summary.iter().enumerate() {
        let extra = if (k + 1) * 64 <= used_summary_bits { 0 } else { word >> (used_summary_bits - k * 64) };
        if extra != 0 {
            return Err(format!("{side:?}: summary bits beyond the bitmap"));
        }
    }
    if entries.len() != len {
        return Err(format!("{side:?}: window counts {len} levels but holds {}", entries.len()));
    }
    Ok(entries)
}
