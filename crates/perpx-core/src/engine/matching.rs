//! The matcher: an incoming order against the opposite side of the book.
//!
//! The taker walks the opposite side best price first, earliest order first, while the resting
//! price crosses its limit. Each trade is at the maker's price for `min(taker open, maker open)`.
//! When the front maker belongs to the taker's own account, the taker's self-trade prevention
//! mode decides: `ExpireTaker` stops the taker (its rest is cancelled), `ExpireMaker` cancels
//! that maker and goes on, `ExpireBoth` does both. Fill-or-kill asks [`fillable`] first, which
//! walks the same path without changing anything.
//!
//! Reduce-only orders are capped at fill time at what they can still reduce: a reduce-only
//! maker with nothing left to reduce is cancelled and skipped; a reduce-only taker stops.
//!
//! Every fill is settled at once on both accounts ([`Engine::settle_fill`]): position, cost
//! basis, realised PnL into collateral, and the maker and taker fees into the fee account.

use smallvec::SmallVec;

use super::{ClientOrders, Engine, Out};
use crate::account::{MarginMode, default_leverage};
use crate::book::{RestingOrder, Side};
use crate::command::StpMode;
use crate::event::{CancelReason, EventKind, Fill, OrderStatus};
use crate::ids::{AccountId, MarketId, OrderId};
use crate::num::{Price, Qty, Quote};
use crate::risk::fees::trading_fee;
use crate::risk::margin::notional;
use crate::risk::position::{apply_fill, isolated_margin_on_fill};

/// The incoming order, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taker {
    pub order_id: OrderId,
    pub account: AccountId,
    pub side: Side,
    /// The worst price it accepts (for a market order, the edge of the order band).
    pub limit: Price,
    pub stp: StpMode,
    pub reduce_only: bool,
    /// A liquidation order: the taker pays no trading fee (the liquidation fee replaces it) and
    /// an isolated position's realised PnL stays in its own margin.
    pub liquidation: bool,
}

/// What a match left.
#[derive(Debug, Clone)]
pub(crate) struct Matched {
    /// Size still open on the taker.
    pub remaining: Qty,
    /// Whether self-trade prevention stopped the taker (its rest must be cancelled).
    pub stopped_by_stp: bool,
    /// Whether a reduce-only taker ran out of position to reduce.
    pub stopped_by_reduce_only: bool,
    /// Accounts whose positions changed (the taker's, then makers' in fill order; may repeat).
    /// Inline up to four fills: a `Vec` here was an allocation, and a reallocation as it grew,
    /// per matching taker (docs/PERFORMANCE.md, "Session 12").
    pub traded: SmallVec<[AccountId; 8]>,
}

/// How much of `want` the taker could fill right now, following the matcher's exact path
/// (self-trade prevention and reduce-only caps included), without changing anything.
pub(crate) fn fillable(engine: &Engine, market: MarketId, taker: &Taker, want: Qty) -> Qty {
    let book = &engine.markets[market.index()].book;
    let want = if taker.reduce_only { want.min(engine.reducible(taker.account, market, taker.side)) } else { want };
    let maker_side = taker.side.opposite();
    // What each maker account has traded so far on this walk: any of its fills (reduce-only or
    // not) uses up the position its reduce-only orders may still reduce.
    let mut used: Vec<(AccountId, i64)> = Vec::new();
    let mut got = 0i64;
    for (price, level) in book.levels(maker_side) {
        if !taker.side.crosses(taker.limit, price) {
            break;
        }
        for o in book.level_orders(level) {
            if o.account == taker.account {
                match taker.stp {
                    StpMode::ExpireMaker => continue,
                    StpMode::ExpireTaker | StpMode::ExpireBoth => return Qty(got.min(want.0)),
                }
            }
            let q = reduce_only_capped(engine, market, maker_side, o, &mut used);
            got += q;
            if got >= want.0 {
                return want;
            }
        }
    }
    Qty(got)
}

/// What maker `o` can fill on a walk that has already traded `used` per account: its size,
/// capped for a reduce-only order at what its account can still reduce; records the fill.
pub(crate) fn reduce_only_capped(
    engine: &Engine,
    market: MarketId,
    maker_side: Side,
    o: &RestingOrder,
    used: &mut Vec<(AccountId, i64)>,
) -> i64 {
    let slot = used.iter().position(|(a, _)| *a == o.account).unwrap_or_else(|| {
        used.push((o.account, 0));
        used.len() - 1
    });
    let q = if o.reduce_only {
        let cap = engine.reducible(o.account, market, maker_side).0;
        o.qty.0.min(cap - used[slot].1).max(0)
    } else {
        o.qty.0
    };
    used[slot].1 += q;
    q
}

/// Records in the client id registry that an order left the book.
pub(crate) fn retire(client_orders: &mut ClientOrders, order: &RestingOrder, status: OrderStatus) {
    if let Some(cid) = &order.client_id {
        client_orders.terminate(order.account, cid, status, order.filled);
    }
}

impl Engine {
    /// Matches `taker` for `qty` in `market`, emitting fills and self-trade cancels.
    pub(crate) fn match_taker(&mut self, market: MarketId, taker: &Taker, qty: Qty, out: &mut Out<'_>) -> Matched {
        let maker_side = taker.side.opposite();
        let mut m =
            Matched { remaining: qty, stopped_by_stp: false, stopped_by_reduce_only: false, traded: SmallVec::new() };
        while m.remaining.is_positive() {
            let book = &self.markets[market.index()].book;
            let Some(front) = book.front(maker_side) else { break };
            if !taker.side.crosses(taker.limit, front.price) {
                break;
            }
            let (front_id, front_account, front_qty, front_reduce_only) =
                (front.id, front.account, front.qty, front.reduce_only);
            if front_account == taker.account {
                if matches!(taker.stp, StpMode::ExpireMaker | StpMode::ExpireBoth) {
                    self.cancel_resting(market, front_id, CancelReason::SelfTradePrevention, out);
                }
                if matches!(taker.stp, StpMode::ExpireTaker | StpMode::ExpireBoth) {
                    m.stopped_by_stp = true;
                    break;
                }
                continue;
            }
            let mut q = m.remaining.min(front_qty);
            if taker.reduce_only {
                let cap = self.reducible(taker.account, market, taker.side);
                if !cap.is_positive() {
                    m.stopped_by_reduce_only = true;
                    break;
                }
                q = q.min(cap);
            }
            if front_reduce_only {
                let cap = self.reducible(front_account, market, maker_side);
                if !cap.is_positive() {
                    self.cancel_resting(market, front_id, CancelReason::ReduceOnly, out);
                    continue;
                }
                q = q.min(cap);
            }
            let ff = self.markets[market.index()].book.fill_front(maker_side, q);
            self.markets[market.index()].last_price = Some(ff.price);
            self.markets[market.index()].traded = true;
            self.traded = true;
            self.stops_due = true;
            m.remaining = Qty(m.remaining.0 - q.0);
            if let Some(done) = &ff.completed {
                retire(&mut self.client_orders, done, OrderStatus::Filled);
            }
            let trade_id = self.take_trade_id();
            let (buyer, seller) = match taker.side {
                Side::Buy => (taker.account, ff.account),
                Side::Sell => (ff.account, taker.account),
            };
            let taker_mode = if taker.liquidation { Settle::Liquidated } else { Settle::Taker };
            let maker_change = self.settle_fill(market, ff.account, maker_side, ff.price, q, Settle::Maker);
            let taker_change = self.settle_fill(market, taker.account, taker.side, ff.price, q, taker_mode);
            debug_assert_ne!(buyer, seller, "self-trades are prevented");
            out.push(EventKind::Fill(Box::new(Fill {
                market,
                trade_id,
                price: ff.price,
                qty: q,
                taker_side: taker.side,
                maker_order: ff.order_id,
                maker_account: ff.account,
                maker_remaining: ff.remaining,
                taker_order: taker.order_id,
                taker_account: taker.account,
                taker_remaining: m.remaining,
                maker_fee: maker_change.fee,
                taker_fee: taker_change.fee,
            })));
            out.push(maker_change.event(ff.account, market));
            out.push(taker_change.event(taker.account, market));
            m.traded.push(ff.account);
            m.traded.push(taker.account);
        }
        m
    }

    /// Removes a resting order and tells its owner why.
    pub(crate) fn cancel_resting(&mut self, market: MarketId, id: OrderId, reason: CancelReason, out: &mut Out<'_>) {
        let order = self.markets[market.index()].book.remove(id).expect("cancelled order is open");
        retire(&mut self.client_orders, &order, OrderStatus::Cancelled(reason));
        out.push(EventKind::OrderCancelled {
            order_id: order.id,
            account: order.account,
            market,
            qty: order.qty,
            reason,
        });
    }

    /// Settles one side of a fill: the position moves; realised PnL less the fee goes to
    /// collateral (cross) or stays in the position's own margin (isolated, with the closed share
    /// of the margin released — [`isolated_margin_on_fill`]); the fee goes to the fee account.
    /// The account is noted for the liquidation pass (by the account table's `get_mut`), and
    /// the market's holders and open interest follow the position.
    ///
    /// # Panics
    /// On arithmetic overflow: order sizes and notionals are validated, so an overflow here means
    /// a position beyond anything margin allows — an engine bug.
    pub(crate) fn settle_fill(
        &mut self,
        market: MarketId,
        account: AccountId,
        side: Side,
        price: Price,
        qty: Qty,
        mode: Settle,
    ) -> PositionChange {
        let m = &self.markets[market.index()];
        let q = m.quote_per_tick_lot;
        let fee = match mode {
            Settle::Maker => notional(q, qty, price).and_then(|n| trading_fee(n, m.spec.maker_fee)),
            Settle::Taker => notional(q, qty, price).and_then(|n| trading_fee(n, m.spec.taker_fee)),
            Settle::Liquidated | Settle::FeeFree => Ok(Quote::ZERO),
        }
        .expect("validated notional");
        let margin_price = m.mark.unwrap_or(price);
        let acct = self.accounts.get_mut(&account).expect("orders belong to existing accounts");
        let leverage = acct.leverage.get(&market).copied().unwrap_or_else(|| default_leverage(m.spec.max_leverage));
        let isolated = acct.mode(market) == MarginMode::Isolated;
        let pos = acct.positions.entry(market).or_default();
        let signed = Qty(qty.0 * side.sign());
        let size_before = pos.size;
        let eff = apply_fill(pos.size, pos.cost_basis, signed, price, q).expect("position within numeric range");
        if isolated {
            // The position is its own wallet: its result stays in its margin, the closed share
            // of the margin goes back to collateral, opening lots bring their IM at mark.
            let result = eff.realized.checked_sub(fee).expect("result in range");
            let release = mode != Settle::Liquidated;
            let (margin, moved) = isolated_margin_on_fill(
                pos.isolated_margin,
                size_before,
                signed,
                margin_price,
                q,
                leverage,
                result,
                release,
            )
            .expect("isolated margin within numeric range");
            // A resting order isn't re-checked when the mark moves (on no venue), so at its fill
            // the IM of the opening lots may exceed what the account still has: it brings what
            // there is, and a position left under maintenance is for the liquidation pass.
            // Collateral never goes negative to margin a position.
            //
            // A position that this fill closes is different: its margin can't stay behind on a
            // flat position (nothing would ever settle it — the liquidation pass works units
            // with a position). When the account's own trade lost more than the margin, the
            // account pays the rest from collateral even below zero, exactly as a cross account
            // does after the same trade. (Found by the auditor's simulation, `perpx-check`: a
            // reduce-only stop filled across a 60 % gap left −18,937 USD of margin on a flat
            // position, an invariant violation.)
            let short = if eff.size.0 == 0 { 0 } else { (moved.0 - acct.collateral.0.max(0)).max(0) };
            pos.isolated_margin = Quote(margin.0 - short);
            acct.collateral = acct.collateral.checked_sub(Quote(moved.0 - short)).expect("collateral in range");
        } else {
            let delta = eff.realized.checked_sub(fee).expect("result in range");
            acct.collateral = acct.collateral.checked_add(delta).expect("collateral in range");
        }
        pos.size = eff.size;
        pos.cost_basis = eff.cost_basis;
        pos.realized_pnl = pos.realized_pnl.checked_add(eff.realized).expect("realised PnL in range");
        pos.fees_paid = pos.fees_paid.checked_add(fee).expect("fees in range");
        let (size, cost_basis, isolated_margin) = (pos.size, pos.cost_basis, pos.isolated_margin);
        let collateral = acct.collateral;
        self.ledger.fee_account = self.ledger.fee_account.checked_add(fee).expect("fee account in range");
        let m = &mut self.markets[market.index()];
        // The holders index changes only when the position opens, closes or flips (a remove and
        // re-insert in a 100,000-holder set was 10 % of the liquidation benchmark's instructions).
        let side_of = |s: Qty| (s.0 != 0).then_some(usize::from(s.0 < 0));
        if side_of(size_before) != side_of(size) {
            if let Some(i) = side_of(size_before) {
                m.remove_holder(i, account);
            }
            if let Some(i) = side_of(size) {
                // No safe band until the liquidation pass checks it (the account is noted as
                // changed by the `get_mut` above).
                m.add_holder(i, account);
            }
        }
        m.open_interest = Qty(m.open_interest.0 - size_before.0.max(0) + size.0.max(0));
        PositionChange { size, cost_basis, realized: eff.realized, fee, collateral, isolated_margin }
    }
}

/// Which fees a side of a fill pays and where its result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// The resting order's owner: the maker fee.
    Maker,
    /// The incoming order's owner: the taker fee.
    Taker,
    /// An account being liquidated: no trading fee (the liquidation fee replaces it), and an
    /// isolated position's realised PnL stays in its margin.
    Liquidated,
    /// A backstop liquidator or a deleveraged winner: no fee.
    FeeFree,
}

/// One side's settlement of a fill, for its event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PositionChange {
    size: Qty,
    cost_basis: Quote,
    realized: Quote,
    fee: Quote,
    collateral: Quote,
    isolated_margin: Quote,
}

impl PositionChange {
    pub(crate) fn event(self, account: AccountId, market: MarketId) -> EventKind {
        EventKind::PositionChanged {
            account,
            market,
            size: self.size,
            cost_basis: self.cost_basis,
            realized: self.realized,
            fee: self.fee,
            collateral: self.collateral,
            isolated_margin: self.isolated_margin,
        }
    }
}
