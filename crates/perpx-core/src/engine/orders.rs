//! Placing, amending and cancelling orders.
//!
//! Every check runs before anything changes, so a rejection leaves the state as it was. The
//! rules, in the order they are checked, are in `docs/ENGINE.md` ("Placing an order").

use super::accounts::ExtraOrder;
use super::matching::{Taker, fillable, retire};
use super::{ClientOrderEntry, Engine, Out};
use crate::book::{OrderSlot, RestingOrder, Side};
use crate::command::{Amend, NewOrder, OrderRef, OrderType, TimeInForce};
use crate::event::{CancelReason, EventKind, OrderStatus, QueuePriority};
use crate::ids::{AccountId, ClientOrderId, MarketId, OrderId};
use crate::market::Market;
use crate::num::{ArithmeticError, Price, Qty, Quote};
use crate::reject::RejectReason;
use crate::risk::margin::order_loss;

/// What a market order would take now (size and immediate loss against mark), walking the
/// opposite side up to the band edge: the margin check of a market order counts what it can
/// fill, since the rest is cancelled, not rested.
fn market_order_reach(
    m: &Market,
    side: Side,
    limit: Price,
    qty: Qty,
    mark: Price,
) -> (Qty, Result<Quote, ArithmeticError>) {
    let mut left = qty.0;
    let mut loss = Quote::ZERO;
    for (price, level) in m.book.levels(side.opposite()) {
        if left == 0 || !side.crosses(limit, price) {
            break;
        }
        let q = left.min(level.total.0);
        left -= q;
        match order_loss(m.quote_per_tick_lot, side == Side::Buy, price, Qty(q), mark).and_then(|l| loss.checked_add(l))
        {
            Ok(l) => loss = l,
            Err(e) => return (qty, Err(e)),
        }
    }
    (Qty(qty.0 - left), Ok(loss))
}

fn check_qty(m: &Market, qty: Qty) -> Result<(), RejectReason> {
    if !qty.is_positive() {
        return Err(RejectReason::NonPositiveQty(qty));
    }
    if qty > m.spec.limits.max_order_qty {
        return Err(RejectReason::QtyAboveMax { qty, max: m.spec.limits.max_order_qty });
    }
    Ok(())
}

fn check_price(m: &Market, price: Price) -> Result<(), RejectReason> {
    if !price.is_positive() {
        return Err(RejectReason::NonPositivePrice(price));
    }
    let Some((low, high)) = m.order_band() else { return Err(RejectReason::NoMarkPrice) };
    if price < low || price > high {
        return Err(RejectReason::PriceOutsideBand { price, low, high });
    }
    Ok(())
}

/// A new resting order may not open a price level beyond the market's limit.
///
/// The side's level count is asked first, the level at `price` only when the side is at its
/// limit: a side is almost never there, so the lookup, and the jump on whether it found a level
/// (a coin toss on a book that moves a tick at a time), are skipped on nearly every order and
/// move (docs/PERFORMANCE.md, "Session 28").
///
/// Inlined (every order and amend asks): `engine_mix` −0.7 % instructions (callgrind,
/// docs/PERFORMANCE.md "Session 14"); inlining `Out::push` as well bought only 0.3 % more, for
/// a copy at each of its call sites, and was not kept.
#[inline(always)]
fn check_level_room(m: &Market, side: Side, price: Price) -> Result<(), RejectReason> {
    let max = m.spec.limits.max_price_levels;
    if m.book.level_count(side) >= max as usize && !m.book.has_level(side, price) {
        return Err(RejectReason::TooManyPriceLevels(max));
    }
    Ok(())
}

impl Engine {
    fn market_ref(&self, id: MarketId) -> Result<&Market, RejectReason> {
        self.markets.get(id.index()).ok_or_else(|| RejectReason::UnknownMarket(id.to_string()))
    }

    /// Status, filled and open size of the order holding a client id.
    fn client_order_status(&self, e: &ClientOrderEntry) -> (OrderStatus, Qty, Qty) {
        match e.terminal {
            Some((status, filled)) => (status, filled, Qty::ZERO),
            None => {
                let m = &self.markets[e.market.index()];
                if let Some(o) = m.book.get(e.order_id) {
                    (OrderStatus::Open, o.filled, o.qty)
                } else {
                    let s = m.stops.get(&e.order_id).expect("held open id is a resting order or an armed stop");
                    (OrderStatus::Open, Qty::ZERO, s.qty)
                }
            }
        }
    }

    /// Answers a reused client order id with its holder's status (places nothing).
    pub(crate) fn report_duplicate(
        &self,
        account: AccountId,
        cid: &ClientOrderId,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        let e = self.client_orders.get(account, cid).expect("caller found it held");
        let (status, filled, open) = self.client_order_status(e);
        out.push(EventKind::DuplicateClientOrderId {
            account,
            client_id: cid.clone(),
            order_id: e.order_id,
            market: e.market,
            status,
            filled,
            open,
        });
        Ok(())
    }

    /// Places an order: checks, then accepts, matches and rests or cancels the rest.
    pub(crate) fn place(&mut self, o: &NewOrder, out: &mut Out<'_>) -> Result<(), RejectReason> {
        self.place_as(o, None, out)
    }

    /// Places an order; `stop_id` is set when a triggered stop becomes this order: the order
    /// keeps the stop's id and the client id the stop already holds.
    pub(crate) fn place_as(
        &mut self,
        o: &NewOrder,
        stop_id: Option<OrderId>,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        let m = self.market_ref(o.market)?;
        self.account_ref(o.account)?;
        self.check_trading(o.market)?;
        self.check_not_liquidating(o.account)?;
        if let (Some(cid), None) = (&o.client_id, stop_id) {
            if self.client_orders.get(o.account, cid).is_some() {
                return self.report_duplicate(o.account, cid, out);
            }
        }
        self.check_reduce_only_stage(o.market, o.reduce_only)?;
        check_qty(m, o.qty)?;
        if o.qty < m.spec.min_qty {
            return Err(RejectReason::QtyBelowMin { qty: o.qty, min: m.spec.min_qty });
        }
        let Some(mark) = m.mark else { return Err(RejectReason::NoMarkPrice) };
        let (tif, limit, reference) = match o.order_type {
            OrderType::Limit { price, tif } => {
                check_price(m, price)?;
                (Some(tif), price, price)
            }
            OrderType::Market => {
                let Some((low, high)) = m.order_band() else { return Err(RejectReason::NoMarkPrice) };
                let edge = if o.side == Side::Buy { high } else { low };
                (None, edge, mark)
            }
        };
        let (Some(_), Some(notional)) = (m.notional(limit, o.qty), m.notional(reference, o.qty)) else {
            return Err(RejectReason::NotionalOverflow);
        };
        if notional < m.spec.min_notional {
            return Err(RejectReason::NotionalBelowMin { notional, min: m.spec.min_notional });
        }
        // Limits are checked as if the order will rest, before it matches: a rule the account
        // can predict from the book it sees.
        if matches!(tif, Some(TimeInForce::Gtc | TimeInForce::PostOnly)) {
            let max = m.spec.limits.max_open_orders_per_account;
            if m.book.open_order_count(o.account) >= max as usize {
                return Err(RejectReason::TooManyOpenOrders(max));
            }
            check_level_room(m, o.side, limit)?;
        }
        let taker = Taker {
            order_id: stop_id.unwrap_or(OrderId(self.next_order_id)),
            account: o.account,
            side: o.side,
            limit,
            stp: o.stp,
            reduce_only: o.reduce_only,
            liquidation: false,
        };
        match tif {
            Some(TimeInForce::PostOnly) => {
                if let Some(best) = m.book.best_price(o.side.opposite()) {
                    if o.side.crosses(limit, best) {
                        return Err(RejectReason::PostOnlyWouldTake { best_opposite: best });
                    }
                }
            }
            Some(TimeInForce::Fok) => {
                let available = fillable(self, o.market, &taker, o.qty);
                if available < o.qty {
                    return Err(RejectReason::FokCannotFill { qty: o.qty, available });
                }
            }
            _ => {}
        }
        // Margin: a reduce-only order needs a position to reduce and reserves nothing; any
        // other order must fit its tier and either not raise the IM requirement or be covered.
        if o.reduce_only {
            if !self.reducible(o.account, o.market, o.side).is_positive() {
                return Err(RejectReason::ReduceOnlyWouldIncrease);
            }
        } else {
            if let Some(cap) = m.spec.liquidation.max_open_interest {
                // The part of the order that could open: what it can't reduce of the position.
                let opening = (o.qty.0 - self.reducible(o.account, o.market, o.side).0).max(0);
                if m.open_interest.0.saturating_add(opening) > cap.0 {
                    return Err(RejectReason::OpenInterestCap { cap, open_interest: m.open_interest });
                }
            }
            let (qty, loss) = match tif {
                Some(_) => (o.qty, order_loss(m.quote_per_tick_lot, o.side == Side::Buy, limit, o.qty, mark)),
                None => market_order_reach(m, o.side, limit, o.qty, mark),
            };
            let loss = loss.map_err(|_| RejectReason::NotionalOverflow)?;
            // The account's order bounds made exact where this mark needs them (`SideTotals`).
            self.markets[o.market.index()].book.refresh_bounds(o.account, mark);
            let m = &self.markets[o.market.index()];
            self.check_order_margin(o.account, m, mark, ExtraOrder { market: o.market, side: o.side, qty, loss })?;
        }

        // Accepted: nothing below can fail.
        let id = stop_id.unwrap_or_else(|| self.take_order_id());
        debug_assert_eq!(id, taker.order_id);
        if let (Some(cid), None) = (&o.client_id, stop_id) {
            let expires = self.now.saturating_add_millis(self.config.client_order_retention_ms);
            self.client_orders.hold(o.account, cid.clone(), id, o.market, expires);
        }
        out.push(EventKind::OrderAccepted {
            order_id: id,
            account: o.account,
            market: o.market,
            side: o.side,
            order_type: o.order_type,
            qty: o.qty,
            client_id: o.client_id.clone(),
            stp: o.stp,
            reduce_only: o.reduce_only,
        });
        let matched = self.match_taker(o.market, &taker, o.qty, out);
        let filled = Qty(o.qty.0 - matched.remaining.0);
        let order = RestingOrder {
            id,
            account: o.account,
            side: o.side,
            price: limit,
            qty: matched.remaining,
            filled,
            post_only: tif == Some(TimeInForce::PostOnly),
            stp: o.stp,
            reduce_only: o.reduce_only,
            client_id: o.client_id.clone(),
            queued_at: self.now,
        };
        let rest_reason = if matched.stopped_by_stp {
            Some(CancelReason::SelfTradePrevention)
        } else if matched.stopped_by_reduce_only {
            Some(CancelReason::ReduceOnly)
        } else {
            match tif {
                Some(TimeInForce::Gtc | TimeInForce::PostOnly) => None,
                Some(TimeInForce::Ioc) => Some(CancelReason::IocRemainder),
                Some(TimeInForce::Fok) => {
                    assert!(
                        !matched.remaining.is_positive(),
                        "fill-or-kill order {id} left {} open",
                        matched.remaining
                    );
                    Some(CancelReason::IocRemainder)
                }
                None => Some(CancelReason::MarketRemainder),
            }
        };
        self.finish_taker(o.market, order, rest_reason, out);
        self.cancel_stale_reduce_only(o.market, &matched.traded, out);
        Ok(())
    }

    /// Cancels the reduce-only orders of `accounts` in `market` that have nothing left to reduce
    /// (their position closed, or flipped to the order's side).
    fn cancel_stale_reduce_only(&mut self, market: MarketId, accounts: &[AccountId], out: &mut Out<'_>) {
        for (i, a) in accounts.iter().enumerate() {
            // Each account once, without a set: a taker meets a handful of makers.
            if accounts[..i].contains(a) {
                continue;
            }
            let book = &self.markets[market.index()].book;
            // Most accounts, at most fills, have no reduce-only order: nothing to walk (the walk
            // was 5 % of a recovery's instructions, docs/PERFORMANCE.md).
            if !book.has_reduce_only(*a) {
                continue;
            }
            let mut stale: Vec<OrderId> = book
                .orders_of(*a)
                .filter(|id| {
                    book.get(*id).is_some_and(|o| o.reduce_only && !self.reducible(*a, market, o.side).is_positive())
                })
                .collect();
            stale.sort_unstable();
            for id in stale {
                self.cancel_resting(market, id, CancelReason::ReduceOnly, out);
            }
        }
    }

    /// After matching: rest the open rest, or cancel it with `reason`, or record the fill.
    fn finish_taker(&mut self, market: MarketId, order: RestingOrder, reason: Option<CancelReason>, out: &mut Out<'_>) {
        if !order.qty.is_positive() {
            retire(&mut self.client_orders, &order, OrderStatus::Filled);
            return;
        }
        match reason {
            None => self.markets[market.index()].book.insert(order),
            Some(reason) => {
                retire(&mut self.client_orders, &order, OrderStatus::Cancelled(reason));
                out.push(EventKind::OrderCancelled {
                    order_id: order.id,
                    account: order.account,
                    market,
                    qty: order.qty,
                    reason,
                });
            }
        }
    }

    /// Finds an account's open order in a market by id or client id.
    ///
    /// Inlined, with `resolve_id`, into the amend and cancel paths. The gain is more than the
    /// calls' frames: as calls, each also wrote its `Result` to memory for the caller to read
    /// back and match (our reading of the difference). `engine_mix` −5.2 % instructions,
    /// `book_mix` 1k −6.2 % (callgrind, docs/PERFORMANCE.md "Session 14").
    #[inline(always)]
    fn resolve(&self, account: AccountId, market: MarketId, r: &OrderRef) -> Result<OrderSlot, RejectReason> {
        let id = self.resolve_id(account, market, r)?;
        // Another account's order is "unknown" to this one: existence is not leaked.
        let book = &self.markets[market.index()].book;
        match book.locate(id) {
            Some(at) if book.order_at(at).account == account => Ok(at),
            _ => Err(RejectReason::UnknownOrder(r.to_string())),
        }
    }

    /// The id an order reference names (book order or stop), without checking where it is.
    #[inline(always)]
    fn resolve_id(&self, account: AccountId, market: MarketId, r: &OrderRef) -> Result<OrderId, RejectReason> {
        self.market_ref(market)?;
        let unknown = || RejectReason::UnknownOrder(r.to_string());
        let id = match r {
            OrderRef::Id(id) => *id,
            OrderRef::Client(cid) => {
                let e = self.client_orders.get(account, cid).ok_or_else(unknown)?;
                if e.terminal.is_some() || e.market != market {
                    return Err(unknown());
                }
                e.order_id
            }
        };
        Ok(id)
    }

    /// Amends an open order. A size decrease at the same price keeps the queue place; a price
    /// change or a size increase goes to the back. An amended price that crosses the book trades
    /// like a new taker (post-only orders are refused instead).
    pub(crate) fn amend(&mut self, a: &Amend, out: &mut Out<'_>) -> Result<(), RejectReason> {
        self.check_trading(a.market)?;
        self.check_not_liquidating(a.account)?;
        let at = self.resolve(a.account, a.market, &a.order)?;
        let id = at.id();
        let m = self.market_ref(a.market)?;
        let current = m.book.order_at(at);
        let (side, old_price, old_qty, post_only, stp) =
            (current.side, current.price, current.qty, current.post_only, current.stp);
        self.check_reduce_only_stage(a.market, current.reduce_only)?;
        let price = a.price.unwrap_or(old_price);
        let qty = a.qty.unwrap_or(old_qty);
        if price == old_price && qty == old_qty {
            return Err(RejectReason::NothingToAmend(id));
        }
        check_qty(m, qty)?;
        if price != old_price {
            check_price(m, price)?;
            if let Err(too_many) = check_level_room(m, side, price) {
                // Moving the only order of a level frees that level, so the count can't grow:
                // asked only when the new price would open a level beyond the limit.
                let alone_at_old_level = m.book.level_at(side, old_price).is_some_and(|l| l.count == 1);
                if !alone_at_old_level {
                    return Err(too_many);
                }
            }
        }
        if m.notional(price, qty).is_none() {
            return Err(RejectReason::NotionalOverflow);
        }
        // Margin: an amend that raises the requirement is checked like a new order — the
        // change is the new order minus the old one (reduce-only orders reserve nothing).
        if !current.reduce_only {
            let Some(mark) = m.mark else { return Err(RejectReason::NoMarkPrice) };
            let loss = |p: Price, q: Qty| order_loss(m.quote_per_tick_lot, side == Side::Buy, p, q, mark);
            let loss_delta = loss(price, qty)
                .and_then(|new| loss(old_price, old_qty).and_then(|old| new.checked_sub(old)))
                .map_err(|_| RejectReason::NotionalOverflow)?;
            let extra = ExtraOrder { market: a.market, side, qty: Qty(qty.0 - old_qty.0), loss: loss_delta };
            // An amend that adds neither size nor immediate loss raises neither the requirement
            // nor the notional the account can reach (both are nondecreasing in an order's size
            // and loss): like a cancel, it needs no check, and is not refused even when the
            // account is already beyond its tier or its initial margin (docs/MARGIN.md). Most
            // amends are such moves: measured in docs/PERFORMANCE.md, "Session 12".
            if extra.qty.is_positive() || extra.loss.is_positive() {
                // The account's order bounds made exact where this mark needs them (`SideTotals`).
                self.markets[a.market.index()].book.refresh_bounds(a.account, mark);
                self.check_order_margin(a.account, &self.markets[a.market.index()], mark, extra)?;
            }
        }
        let m = &self.markets[a.market.index()];
        let crosses = m.book.best_price(side.opposite()).is_some_and(|best| side.crosses(price, best));
        if crosses && post_only {
            let best = m.book.best_price(side.opposite()).expect("crossing implies a best price");
            return Err(RejectReason::PostOnlyWouldTake { best_opposite: best });
        }

        let now = self.now;
        let amended = |priority| EventKind::OrderAmended {
            order_id: id,
            account: a.account,
            market: a.market,
            price,
            qty,
            priority,
        };
        let book = &mut self.markets[a.market.index()].book;
        if crosses {
            let mut order = book.remove(id).expect("resolved order is open");
            out.push(amended(QueuePriority::Lost));
            let taker = Taker {
                order_id: id,
                account: a.account,
                side,
                limit: price,
                stp,
                reduce_only: order.reduce_only,
                liquidation: false,
            };
            let matched = self.match_taker(a.market, &taker, qty, out);
            order.filled = Qty(order.filled.0 + qty.0 - matched.remaining.0);
            order.price = price;
            order.qty = matched.remaining;
            order.queued_at = now;
            let reason = if matched.stopped_by_stp {
                Some(CancelReason::SelfTradePrevention)
            } else if matched.stopped_by_reduce_only {
                Some(CancelReason::ReduceOnly)
            } else {
                None
            };
            self.finish_taker(a.market, order, reason, out);
            self.cancel_stale_reduce_only(a.market, &matched.traded, out);
        } else if price == old_price && qty < old_qty {
            book.reduce_qty_at(at, qty);
            out.push(amended(QueuePriority::Kept));
        } else {
            book.requeue_at(at, price, qty, now);
            out.push(amended(QueuePriority::Lost));
        }
        Ok(())
    }

    fn cancel_ids(&mut self, market: MarketId, ids: &[OrderId], reason: CancelReason, out: &mut Out<'_>) {
        for id in ids {
            self.cancel_resting(market, *id, reason, out);
        }
    }

    /// Cancels one open order of the account.
    pub(crate) fn cancel(
        &mut self,
        account: AccountId,
        market: MarketId,
        r: &OrderRef,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        let id = self.resolve_id(account, market, r)?;
        if self.is_stop_of(account, market, id) {
            self.cancel_stop(market, id, CancelReason::UserRequest, out);
            return Ok(());
        }
        let id = self.resolve(account, market, r)?.id();
        self.cancel_ids(market, &[id], CancelReason::UserRequest, out);
        Ok(())
    }

    /// Cancels all open orders of the account in one market or in every market, each market in
    /// id order and orders in id order.
    pub(crate) fn cancel_all(
        &mut self,
        account: AccountId,
        market: Option<MarketId>,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        let markets: Vec<MarketId> = match market {
            Some(id) => vec![self.market_ref(id)?.id],
            None => self.markets.iter().map(|m| m.id).collect(),
        };
        for id in markets {
            let mut ids = self.markets[id.index()].book.orders_of(account).collect::<Vec<_>>();
            ids.sort_unstable();
            self.cancel_ids(id, &ids, CancelReason::CancelAll, out);
            for stop in self.markets[id.index()].stops.ids_of(account) {
                self.cancel_stop(id, stop, CancelReason::CancelAll, out);
            }
        }
        Ok(())
    }

    /// Cancels every open order of a market, in id order.
    pub(crate) fn mass_cancel(&mut self, market: MarketId, out: &mut Out<'_>) -> Result<(), RejectReason> {
        let ids = self.market_ref(market)?.book.all_order_ids_sorted();
        self.cancel_ids(market, &ids, CancelReason::MassCancel, out);
        let stops: Vec<OrderId> = self.markets[market.index()].stops.keys().copied().collect();
        for stop in stops {
            self.cancel_stop(market, stop, CancelReason::MassCancel, out);
        }
        Ok(())
    }
}
