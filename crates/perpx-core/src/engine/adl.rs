//! Auto-deleveraging: the last layer of the waterfall.
//!
//! What the book and the backstops could not take of a bankrupt position is closed against the
//! opposite side's positions at the bankruptcy price `B`, so the winners give up exactly the
//! deficit no other layer covered. (A position that still has equity — no deficit — is closed at
//! mark instead: at `B` the winners would pocket the loser's remaining margin.) `B` is rarely a
//! whole tick: the trade is at `B` rounded in
//! the winners' favour (`⌊B⌋` when the bankrupt account sells, `⌈B⌉` when it buys) and the
//! sub-tick rest, `⌈lots × |num − P × den| / |size|⌉` micro-units, is paid by the winners in
//! proportion to the lots each gave up (remainder units to the highest ranks first).
//!
//! Ranking (BitMEX's): `pnl_pct × effective leverage` for winners, `pnl_pct / effective
//! leverage` for losers, highest first, ties by account id ([`crate::risk::liquidation::adl_rank`]).
//! Who gives up how many lots is the market's policy: `queue`, `pro_rata` or `leverage_drain`
//! ([`crate::risk::adl`]).
//! Deleveraged accounts pay no fee, lose their open orders and stops in that market, and are
//! checked for liquidation again in the same pass.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::matching::Settle;
use super::{Engine, Out};
use crate::account::MarginMode;
use crate::event::{CancelReason, EventKind, LiquidationScope};
use crate::ids::{AccountId, MarketId, OrderId};
use crate::market::AdlPolicy;
use crate::num::{Price, Qty, Quote};
use crate::risk::adl::{AdlOutcome, AdlPosition, allocate, outcome};
use crate::risk::liquidation::{BankruptcyPrice, adl_rank};
use crate::risk::margin::notional;
use crate::risk::position::unrealized_pnl;

/// What each ADL policy would have done at one ADL the engine ran, computed on the opposite
/// side's positions exactly as the liquidation pass saw them (recorded only when observed:
/// [`Engine::observe_adl`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdlComparison {
    /// The market.
    pub market: MarketId,
    /// The bankrupt account.
    pub bankrupt: AccountId,
    /// The sign of its position (+1 long, −1 short); the winners are on the other side.
    pub bankrupt_sign: i64,
    /// The lots that went to ADL.
    pub lots: Qty,
    /// The ADL price.
    pub price: Price,
    /// The mark at that moment.
    pub mark: Price,
    /// The policy in force (what the engine did).
    pub policy: AdlPolicy,
    /// The opposite side's positions in rank order, as the policies saw them.
    pub positions: Vec<AdlPosition>,
    /// `queue`, `pro_rata` and `leverage_drain`, in that order.
    pub outcomes: Vec<AdlOutcome>,
}

/// The three policies' outcomes on one ranking.
fn compare_on(ranking: &[AdlPosition], lots: i64, give_up_per_lot: i128, value_per_lot: i128) -> Vec<AdlOutcome> {
    [AdlPolicy::Queue, AdlPolicy::ProRata, AdlPolicy::LeverageDrain]
        .into_iter()
        .map(|p| outcome(p, ranking, lots, give_up_per_lot, value_per_lot))
        .collect()
}

/// An entry's place in the ADL rank order as a key: rank descending, then account id. The one
/// definition of the order: the fresh ranking sorts by it, the kept one is a set of it.
type RankKey = (std::cmp::Reverse<i128>, AccountId);

fn rank_key(p: &AdlPosition) -> RankKey {
    (std::cmp::Reverse(p.rank), p.account)
}

/// The ADL ranking of one side of one market, kept through a liquidation cascade and brought
/// up to date before each use by recomputing only the accounts changed since
/// ([`crate::account::AccountTable::log_changes`]).
///
/// Why: each bankrupt unit ranked the whole opposite side again — every holder's equity and
/// rank computed and the side sorted — so a cascade served by ADL cost O(bankrupt × side).
/// While no mark moves, a holder's rank changes only when its account does (a fill, a
/// settlement share, a fee), and every change to an account is logged. The ranking is dropped
/// when a mark differs from the marks it was computed at, when the log names every account (a
/// walk over them all, such as funding) or more accounts than the ranking holds, and when the
/// liquidation queue empties. Measured on the liquidation bench's ADL case (85,000 bankrupt
/// longs against 1,000 shorts): docs/PERFORMANCE.md, "Accounts in a slab; the ADL case and its
/// ranking" (within one pass) and "Session 18: the ADL ranking kept through the cascade".
///
/// The rank order is an ordered set of `(rank, account)` keys beside the entries by account, so
/// re-ranking an account is a removal and an insertion in O(log n), whatever the side's size.
/// (A sorted vector of the entries, then of 4-byte slots, shifted everything between an entry's
/// old and new place at each re-rank: two-thirds of the ADL case's instructions with 96-byte
/// entries, and still O(side) a unit with slots; docs/PERFORMANCE.md, "Session 18".)
#[derive(Debug, Clone)]
pub(crate) struct AdlRankingCache {
    market: MarketId,
    sign: i64,
    /// Every market's mark when the entries were computed: equities, and so ranks, are figures
    /// at these marks.
    marks: Vec<Option<Price>>,
    /// The side's positions, by account.
    entries: FxHashMap<AccountId, AdlPosition>,
    /// Their keys, in rank order.
    order: BTreeSet<RankKey>,
    /// Buffers kept for their allocations (emptied at every use): the accounts changed since
    /// the last use, and the positions a deleveraging reads.
    changed: Vec<AccountId>,
    front: Vec<AdlPosition>,
}

impl AdlRankingCache {
    fn new(market: MarketId, sign: i64, marks: Vec<Option<Price>>, ranking: Vec<AdlPosition>) -> Self {
        let order = ranking.iter().map(rank_key).collect();
        let entries = ranking.into_iter().map(|p| (p.account, p)).collect();
        Self { market, sign, marks, entries, order, changed: Vec::new(), front: Vec::new() }
    }

    /// How many positions are ranked.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// The positions in rank order.
    fn ranked(&self) -> impl Iterator<Item = &AdlPosition> + '_ {
        self.order.iter().map(|(_, id)| &self.entries[id])
    }

    /// Appends to `front` the front of the ranking through the first position at which the
    /// sizes add up to `lots` (all of it if they never do): all that the queue policy reads,
    /// as it takes positions whole in rank order until `lots` are met.
    fn queue_front_into(&self, lots: i64, front: &mut Vec<AdlPosition>) {
        let mut sum = 0i64;
        for p in self.ranked() {
            if sum >= lots {
                break;
            }
            sum = sum.saturating_add(p.size);
            front.push(*p);
        }
    }

    /// Whether the entries were computed at the markets' current marks.
    fn at_marks(&self, markets: &[crate::market::Market]) -> bool {
        self.marks.iter().eq(markets.iter().map(|m| &m.mark))
    }

    /// Puts account `id`'s new entry `p` in its place: moved, taken out (`None`: no position
    /// on the side any more), or put in.
    fn rerank(&mut self, id: AccountId, p: Option<AdlPosition>) {
        if let Some(old) = self.entries.get(&id) {
            self.order.remove(&rank_key(old));
        }
        match p {
            Some(p) => {
                self.order.insert(rank_key(&p));
                self.entries.insert(id, p);
            }
            None => {
                self.entries.remove(&id);
            }
        }
    }
}

impl Engine {
    /// The positions on the `sign` side of `market` (+1 longs, −1 shorts), in ADL rank order:
    /// rank descending, then account id.
    #[must_use]
    pub fn adl_ranking(&self, market: MarketId, sign: i64) -> Vec<AdlPosition> {
        let Some(m) = self.markets.get(market.index()) else { return Vec::new() };
        let mut ranked: Vec<AdlPosition> =
            m.holders_of(sign).filter_map(|id| self.adl_position(id, market, sign)).collect();
        // Unstable, as the order is total (ties go by account id, and an account is ranked
        // once): the same order as a stable sort, without its scratch buffer and its copies of
        // the 96-byte entries (docs/PERFORMANCE.md, "Session 17: fewer probes a liquidated unit").
        ranked.sort_unstable_by_key(rank_key);
        ranked
    }

    /// One account's entry in the ADL ranking of `market`'s `sign` side: `None` if it holds no
    /// position on that side, or it can't be valued.
    fn adl_position(&self, id: AccountId, market: MarketId, sign: i64) -> Option<AdlPosition> {
        let m = self.markets.get(market.index())?;
        let mark = m.mark?;
        let q = m.quote_per_tick_lot;
        let a = self.accounts.get(&id)?;
        let p = a.position(market);
        if p.size.0.signum() != sign || sign == 0 {
            return None;
        }
        let upnl = unrealized_pnl(p.size, p.cost_basis, mark, q).ok()?;
        let n = notional(q, p.size, mark).ok()?;
        let scope = match a.mode(market) {
            MarginMode::Cross => LiquidationScope::Cross,
            MarginMode::Isolated => LiquidationScope::Isolated(market),
        };
        let (equity, _) = self.unit_figures(id, scope)?;
        Some(AdlPosition {
            account: id,
            rank: adl_rank(upnl, p.cost_basis, n, equity),
            size: p.size.0.abs(),
            upnl: i128::from(upnl.0),
            notional: i128::from(n.0),
            equity: i128::from(equity.0),
            isolated: scope != LiquidationScope::Cross,
        })
    }

    /// The ranking `deleverage` uses: the kept one for this side with the accounts changed
    /// since its last use recomputed, or a fresh one. Debug builds (every test) check it
    /// against a fresh ranking each time.
    fn pass_adl_ranking(&mut self, market: MarketId, sign: i64) -> AdlRankingCache {
        let mut cached = self.adl_cache.take();
        let mut ids = cached.as_mut().map(|c| std::mem::take(&mut c.changed)).unwrap_or_default();
        let all = self.accounts.take_changes_into(&mut ids);
        let cached = cached.filter(|c| c.market == market && c.sign == sign && c.at_marks(&self.markets));
        let mut cache = match (cached, all) {
            (Some(mut cache), Some(false)) if ids.len() <= cache.len() => {
                ids.sort_unstable();
                ids.dedup();
                for &id in &ids {
                    let p = self.adl_position(id, market, sign);
                    cache.rerank(id, p);
                }
                cache
            }
            (cached, _) => {
                let marks = self.markets.iter().map(|m| m.mark).collect();
                let fresh = AdlRankingCache::new(market, sign, marks, self.adl_ranking(market, sign));
                // The old ranking's deleveraging buffer, if any, keeps its allocation.
                AdlRankingCache { front: cached.map(|c| c.front).unwrap_or_default(), ..fresh }
            }
        };
        cache.changed = ids;
        debug_assert!(
            cache.ranked().eq(self.adl_ranking(market, sign).iter()),
            "the kept ADL ranking drifted from a fresh one"
        );
        cache
    }

    /// At the start of a liquidation pass: the account log the kept ADL ranking is brought up
    /// to date from runs while a ranking is kept (since it was computed), and starts afresh
    /// otherwise.
    pub(crate) fn start_pass_adl_ranking(&mut self) {
        if self.adl_cache.is_none() {
            self.accounts.log_changes(true);
        }
    }

    /// At the end of a liquidation pass: drops the kept ADL ranking, and stops the log, when the
    /// cascade is over (nobody queued) or more accounts changed since its last use than it
    /// ranks (a fresh ranking is then no dearer, and the log stays bounded).
    pub(crate) fn end_pass_adl_ranking(&mut self) {
        let spent = self.liq_queue.is_empty()
            || self.adl_cache.as_ref().is_none_or(|c| self.accounts.logged_changes() > c.len());
        if spent {
            self.forget_adl_ranking();
        }
    }

    /// Drops the kept ADL ranking, so the next ADL ranks the side afresh (the tests compare an
    /// engine doing this before every command with one that keeps it).
    pub(crate) fn forget_adl_ranking(&mut self) {
        self.adl_cache = None;
        self.accounts.log_changes(false);
    }

    /// A position's ADL percentile (the "lights" of other venues): `100 × (n − i) / n` for the
    /// `i`-th of the `n` positions on its side in rank order (0-based), so the first in the
    /// queue is at 100 and the last above 0. `None` without a position or a mark.
    #[must_use]
    pub fn adl_percentile(&self, account: AccountId, market: MarketId) -> Option<u8> {
        let size = self.accounts.get(&account)?.position(market).size.0;
        if size == 0 {
            return None;
        }
        let ranking = self.adl_ranking(market, size.signum());
        let i = ranking.iter().position(|p| p.account == account)?;
        let n = ranking.len();
        u8::try_from(100 * (n - i) / n).ok()
    }

    /// What each policy would do if `qty` lots of a position of sign `bankrupt_sign` in `market`
    /// went to ADL now at `price`: the comparison the simulator reports (haircut spread,
    /// accounts hit, notional closed, leverage left). Nothing changes.
    #[must_use]
    pub fn adl_compare(&self, market: MarketId, bankrupt_sign: i64, qty: Qty, price: Price) -> Vec<AdlOutcome> {
        let Some(m) = self.markets.get(market.index()) else { return Vec::new() };
        let Some(mark) = m.mark else { return Vec::new() };
        let q = i128::from(m.quote_per_tick_lot);
        let ranking = self.adl_ranking(market, -bankrupt_sign);
        let give_up = (i128::from(price.0 - mark.0) * i128::from(bankrupt_sign) * q).max(0);
        compare_on(&ranking, qty.0, give_up, i128::from(mark.0) * q)
    }

    /// Starts (or stops) recording an [`AdlComparison`] at every ADL the engine runs: the
    /// comparison of [`Engine::adl_compare`], on the positions as the pass saw them (with the
    /// pass's per-lot cost, sub-tick settlement included). For the simulator; it changes nothing
    /// the engine does, and the record is not part of the state (nor of its hash).
    pub fn observe_adl(&mut self, on: bool) {
        self.adl_observed = on.then(Vec::new);
    }

    /// The comparisons recorded since the last call (empty when not observing).
    pub fn take_adl_comparisons(&mut self) -> Vec<AdlComparison> {
        self.adl_observed.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Closes `left` lots of the bankrupt unit's position in `market` against the opposite side,
    /// chosen by the market's policy, at the bankruptcy price.
    pub(crate) fn deleverage(
        &mut self,
        account: AccountId,
        scope: LiquidationScope,
        market: MarketId,
        mark: Price,
        left: Qty,
        out: &mut Out<'_>,
    ) {
        let size = self.accounts[&account].position(market).size;
        let sign = size.0.signum();
        let side = if sign > 0 { crate::book::Side::Sell } else { crate::book::Side::Buy };
        let q = self.markets[market.index()].quote_per_tick_lot;
        let (equity, _) = self.unit_figures(account, scope).expect("unit has a position");
        let b = BankruptcyPrice::of(mark, size.0, equity, q);
        // A bankrupt position (negative equity: B beyond mark, against the winners) trades at B;
        // one with equity left trades at mark, so the winners never receive the loser's margin
        // and give up exactly the deficit no other layer covered — zero here.
        let bankrupt = equity.is_negative();
        let price = if bankrupt { b.adl_price(sign) } else { mark };
        let policy = self.markets[market.index()].spec.liquidation.adl;
        let mut cache = self.pass_adl_ranking(market, -sign);
        // The queue reads only the front of the ranking; the other policies, and the
        // comparison, all of it.
        let mut front = std::mem::take(&mut cache.front);
        front.clear();
        if policy == AdlPolicy::Queue && self.adl_observed.is_none() {
            cache.queue_front_into(left.0, &mut front);
        } else {
            front.extend(cache.ranked().copied());
        }
        let ranking = &front;
        debug_assert!(ranking.iter().all(|p| p.account != account), "the bankrupt side is not ranked");
        // What one lot costs its winner: the price against mark, plus at most the sub-tick rest
        // (`diff / |size|` a lot, counted rounded up so the plan never underestimates it).
        let s0 = i128::from(size.0.abs());
        let diff = if bankrupt { (b.num - i128::from(price.0) * b.den).abs() } else { 0 };
        let give_up = (i128::from(price.0 - mark.0) * i128::from(sign) * i128::from(q)).max(0) + (diff + s0 - 1) / s0;
        let value_per_lot = i128::from(mark.0) * i128::from(q);
        if let Some(log) = &mut self.adl_observed {
            log.push(AdlComparison {
                market,
                bankrupt: account,
                bankrupt_sign: sign,
                lots: left,
                price,
                mark,
                policy,
                outcomes: compare_on(ranking, left.0, give_up, value_per_lot),
                positions: ranking.clone(),
            });
        }
        let lots = allocate(policy, ranking, left.0, give_up, value_per_lot);
        // Only the positions that give up lots are copied (a 96-byte entry each), each with
        // the lots it gives up and its share of the sub-tick rest (filled in below).
        let mut takes: Vec<(AdlPosition, i64, i64)> =
            ranking.iter().zip(lots).filter(|(_, t)| *t > 0).map(|(p, t)| (*p, t, 0)).collect();
        // Kept, with its buffer, for the cascade's next unit; the winners changed below are
        // recomputed then.
        cache.front = front;
        self.adl_cache = Some(cache);
        let taken: i64 = takes.iter().map(|(_, t, _)| *t).sum();
        if taken == 0 {
            return;
        }
        // The sub-tick rest the winners owe: ⌈taken × |num − P × den| / |size|⌉, shared in
        // proportion to the lots given up, the remainder one unit each from the front.
        let delta = (i128::from(taken) * diff + s0 - 1) / s0;
        let delta = i64::try_from(delta).expect("less than a tick per lot");
        let mut rest = delta;
        for (_, t, share) in &mut takes {
            *share = i64::try_from(i128::from(delta) * i128::from(*t) / i128::from(taken)).expect("share");
            rest -= *share;
        }
        for (_, _, share) in &mut takes {
            if rest == 0 {
                break;
            }
            *share += 1;
            rest -= 1;
        }
        for (c, t, share) in takes {
            let winner = c.account;
            let book = &self.markets[market.index()].book;
            let mut ids: Vec<OrderId> = book.orders_of(winner).collect::<Vec<_>>();
            ids.sort_unstable();
            for id in ids {
                self.cancel_resting(market, id, CancelReason::Deleveraged, out);
            }
            for stop in self.markets[market.index()].stops.ids_of(winner) {
                self.cancel_stop(market, stop, CancelReason::Deleveraged, out);
            }
            if share > 0 {
                // Paid from where the winner's result goes: an isolated position's own margin.
                let w = self.accounts.get_mut(&winner).expect("winner exists");
                if w.mode(market) == MarginMode::Isolated {
                    let p = w.positions.get_mut(&market).expect("the winner holds a position");
                    p.isolated_margin = Quote(p.isolated_margin.0 - share);
                } else {
                    w.collateral = Quote(w.collateral.0 - share);
                }
                self.add_unit_cash(account, scope, Quote(share));
            }
            let wc = self.settle_fill(market, winner, side.opposite(), price, Qty(t), Settle::FeeFree);
            let ac = self.settle_fill(market, account, side, price, Qty(t), Settle::Liquidated);
            let at_mark = i128::from(price.0 - mark.0) * i128::from(t) * i128::from(q) * i128::from(sign);
            let given_up = Quote(i64::try_from(at_mark).expect("within notional") + share);
            out.push(EventKind::Deleveraged {
                market,
                account: winner,
                bankrupt: account,
                qty: Qty(t),
                price,
                settlement: Quote(share),
                profit_given_up: given_up,
                rank: c.rank.into(),
                policy,
            });
            out.push(wc.event(winner, market));
            out.push(ac.event(account, market));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(account: u64, rank: i128) -> AdlPosition {
        AdlPosition { account: AccountId(account), rank, size: 1, upnl: 0, notional: 0, equity: 0, isolated: false }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Re-ranking accounts one by one (moved, taken out, put in) keeps the kept ranking
        /// equal to a fresh sort of the entries as they now are; the queue's front is a prefix
        /// of it that holds the lots asked for, ending at the first position that meets them.
        #[test]
        fn a_kept_ranking_equals_a_fresh_one_after_any_changes(
            ranks in proptest::collection::vec(-50i128..50, 0..30),
            changes in proptest::collection::vec((0u64..40, proptest::option::of(-60i128..60)), 0..30),
            lots in 1i64..40,
        ) {
            let mut now: std::collections::BTreeMap<u64, AdlPosition> =
                ranks.iter().enumerate().map(|(a, r)| (a as u64, entry(a as u64, *r))).collect();
            let mut fresh: Vec<AdlPosition> = now.values().copied().collect();
            fresh.sort_by_key(rank_key);
            let mut cache = AdlRankingCache::new(MarketId(0), 1, Vec::new(), fresh);
            for (account, rank) in changes {
                let p = rank.map(|r| entry(account, r));
                match p {
                    Some(p) => now.insert(account, p),
                    None => now.remove(&account),
                };
                cache.rerank(AccountId(account), p);
            }
            let mut expected: Vec<AdlPosition> = now.values().copied().collect();
            expected.sort_by_key(rank_key);
            let ranked: Vec<AdlPosition> = cache.ranked().copied().collect();
            proptest::prop_assert_eq!(&ranked, &expected);
            proptest::prop_assert_eq!(cache.len(), expected.len());
            let mut front = Vec::new();
            cache.queue_front_into(lots, &mut front);
            proptest::prop_assert_eq!(&front[..], &expected[..front.len()]);
            let held: i64 = front.iter().map(|p| p.size).sum();
            if front.len() < expected.len() {
                proptest::prop_assert!(held >= lots);
                proptest::prop_assert!(held - front.last().map_or(0, |p| p.size) < lots);
            }
        }
    }
}
