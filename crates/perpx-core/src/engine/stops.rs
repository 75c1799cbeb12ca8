//! The stop controller: arming stops, cancelling them, and triggering them after each command
//! (step 3 of the order of operations). The rules are in [`crate::stop`].

use super::{Engine, Out};
use crate::command::{NewOrder, NewStop, OrderType};
use crate::event::{CancelReason, EventKind, OrderStatus};
use crate::ids::{AccountId, MarketId, OrderId};
use crate::market::Market;
use crate::num::{Price, Qty};
use crate::reject::RejectReason;
use crate::stop::{StopOrder, TriggerBy, is_triggered};

/// The reference price a stop watches, if the market has one yet.
fn reference(m: &Market, by: TriggerBy) -> Option<Price> {
    match by {
        TriggerBy::Mark => m.mark,
        TriggerBy::Last => m.last_price,
    }
}

impl Engine {
    /// Arms a stop or take-profit order.
    pub(crate) fn place_stop(&mut self, s: &NewStop, out: &mut Out<'_>) -> Result<(), RejectReason> {
        let m = self.markets.get(s.market.index()).ok_or_else(|| RejectReason::UnknownMarket(s.market.to_string()))?;
        self.account_ref(s.account)?;
        self.check_trading(s.market)?;
        self.check_not_liquidating(s.account)?;
        if let Some(cid) = &s.client_id {
            if self.client_orders.get(s.account, cid).is_some() {
                return self.report_duplicate(s.account, cid, out);
            }
        }
        self.check_reduce_only_stage(s.market, s.reduce_only)?;
        if !s.qty.is_positive() {
            return Err(RejectReason::NonPositiveQty(s.qty));
        }
        let limits = &m.spec.limits;
        if s.qty > limits.max_order_qty {
            return Err(RejectReason::QtyAboveMax { qty: s.qty, max: limits.max_order_qty });
        }
        if s.qty < m.spec.min_qty {
            return Err(RejectReason::QtyBelowMin { qty: s.qty, min: m.spec.min_qty });
        }
        if !s.trigger.is_positive() {
            return Err(RejectReason::NonPositivePrice(s.trigger));
        }
        if let Some((price, _)) = s.kind.limit() {
            if !price.is_positive() {
                return Err(RejectReason::NonPositivePrice(price));
            }
            if m.notional(price, s.qty).is_none() {
                return Err(RejectReason::NotionalOverflow);
            }
        }
        let held = m.stops.count_of(s.account);
        if held >= limits.max_stops_per_account as usize {
            return Err(RejectReason::TooManyStops(limits.max_stops_per_account));
        }
        if let Some(r) = reference(m, s.trigger_by) {
            if is_triggered(s.side, s.kind.is_take_profit(), s.trigger, r) {
                return Err(RejectReason::StopWouldTriggerNow { trigger: s.trigger, reference: r });
            }
        }
        let id = self.take_order_id();
        if let Some(cid) = &s.client_id {
            let expires = self.now.saturating_add_millis(self.config.client_order_retention_ms);
            self.client_orders.hold(s.account, cid.clone(), id, s.market, expires);
        }
        let stop = StopOrder {
            id,
            account: s.account,
            side: s.side,
            kind: s.kind,
            trigger: s.trigger,
            trigger_by: s.trigger_by,
            qty: s.qty,
            reduce_only: s.reduce_only,
            stp: s.stp,
            client_id: s.client_id.clone(),
            placed_at: self.now,
        };
        self.markets[s.market.index()].stops.insert(stop);
        out.push(EventKind::StopAccepted {
            stop_id: id,
            account: s.account,
            market: s.market,
            side: s.side,
            kind: s.kind,
            trigger: s.trigger,
            trigger_by: s.trigger_by,
            qty: s.qty,
            reduce_only: s.reduce_only,
            client_id: s.client_id.clone(),
        });
        Ok(())
    }

    /// Whether `id` is an armed stop of `account` in `market`.
    pub(crate) fn is_stop_of(&self, account: AccountId, market: MarketId, id: OrderId) -> bool {
        self.markets[market.index()].stops.get(&id).is_some_and(|s| s.account == account)
    }

    /// Disarms a stop and tells its owner.
    pub(crate) fn cancel_stop(&mut self, market: MarketId, id: OrderId, reason: CancelReason, out: &mut Out<'_>) {
        let s = self.markets[market.index()].stops.remove(&id).expect("cancelled stop is armed");
        if let Some(cid) = &s.client_id {
            self.client_orders.terminate(s.account, cid, OrderStatus::Cancelled(reason), Qty::ZERO);
        }
        out.push(EventKind::OrderCancelled { order_id: id, account: s.account, market, qty: s.qty, reason });
    }

    /// Step 3: triggers every stop whose reference crossed its trigger, in (market, stop id)
    /// order, at most `max_stop_triggers_per_command` of them. A triggered order that trades may
    /// move the last price and trigger more stops in the same pass.
    ///
    /// Nothing to look for unless `stops_due`: no reference moved, no market resumed and the
    /// last pass found nothing left to trigger.
    pub(crate) fn trigger_stops(&mut self, out: &mut Out<'_>) {
        if !self.stops_due {
            return;
        }
        // A pass that ends at its budget leaves the flag set: the rest fire in the next command.
        let mut budget = self.config.max_stop_triggers_per_command;
        while budget > 0 {
            let next = self
                .markets
                .iter_mut()
                .filter(|m| m.stops_watched())
                .find_map(|m| m.stops.check(m.mark, m.last_price).map(|(id, r)| (m.id, id, r)));
            let Some((market, id, reference)) = next else {
                // Found after this pass's own trades too: nothing fires until a reference moves.
                self.stops_due = false;
                return;
            };
            budget -= 1;
            let stop = self.markets[market.index()].stops.remove(&id).expect("found above");
            out.push(EventKind::StopTriggered { stop_id: id, account: stop.account, market, reference });
            let order_type = match stop.kind.limit() {
                Some((price, tif)) => OrderType::Limit { price, tif },
                None => OrderType::Market,
            };
            let order = NewOrder {
                account: stop.account,
                market,
                side: stop.side,
                order_type,
                qty: stop.qty,
                client_id: stop.client_id.clone(),
                stp: stop.stp,
                reduce_only: stop.reduce_only,
            };
            if let Err(reason) = self.place_as(&order, Some(id), out) {
                if let Some(cid) = &stop.client_id {
                    self.client_orders.terminate(
                        stop.account,
                        cid,
                        OrderStatus::Cancelled(CancelReason::TriggerRejected),
                        Qty::ZERO,
                    );
                }
                out.push(EventKind::TriggeredOrderRejected { stop_id: id, account: stop.account, market, reason });
            }
        }
    }
}
