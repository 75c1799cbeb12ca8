//! The matcher: an incoming order against the opposite side of the book.
//!
//! The taker walks the opposite side best price first, earliest order first, while the resting
//! price crosses its limit. Each trade is at the maker's price for `min(taker open, maker open)`.
//! When the front maker belongs to the taker's own account, the taker's self-trade prevention
//! mode decides: `ExpireTaker` stops the taker (its rest is cancelled), `ExpireMaker` cancels
//! that maker and goes on, `ExpireBoth` does both. Fill-or-kill asks [`fillable`] first, which
//! walks the same path without changing anything.

use super::{ClientOrders, Engine, Out};
use crate::book::{Book, RestingOrder, Side};
use crate::command::StpMode;
use crate::event::{CancelReason, EventKind, Fill, OrderStatus};
use crate::ids::{AccountId, MarketId, OrderId};
use crate::num::{Price, Qty};

/// The incoming order, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taker {
    pub order_id: OrderId,
    pub account: AccountId,
    pub side: Side,
    /// The worst price it accepts (for a market order, the edge of the order band).
    pub limit: Price,
    pub stp: StpMode,
}

/// What a match left.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Matched {
    /// Size still open on the taker.
    pub remaining: Qty,
    /// Whether self-trade prevention stopped the taker (its rest must be cancelled).
    pub stopped_by_stp: bool,
}

/// How much of `want` the taker could fill right now, following the matcher's exact path
/// (including self-trade prevention), without changing the book.
pub(crate) fn fillable(book: &Book, taker: &Taker, want: Qty) -> Qty {
    let mut got = 0i64;
    for (price, level) in book.levels(taker.side.opposite()) {
        if !taker.side.crosses(taker.limit, price) {
            break;
        }
        for o in book.level_orders(level) {
            if o.account == taker.account {
                match taker.stp {
                    StpMode::ExpireMaker => continue,
                    StpMode::ExpireTaker | StpMode::ExpireBoth => return Qty(got),
                }
            }
            got += o.qty.0;
            if got >= want.0 {
                return want;
            }
        }
    }
    Qty(got)
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
        let mut remaining = qty;
        let mut stopped_by_stp = false;
        while remaining.is_positive() {
            let book = &mut self.markets[market.index()].book;
            let Some(front) = book.front(maker_side) else {
                break;
            };
            if !taker.side.crosses(taker.limit, front.price) {
                break;
            }
            if front.account == taker.account {
                let expire_maker = matches!(taker.stp, StpMode::ExpireMaker | StpMode::ExpireBoth);
                if expire_maker {
                    let maker = book.remove(front.id).expect("front order is in the book");
                    retire(&mut self.client_orders, &maker, OrderStatus::Cancelled(CancelReason::SelfTradePrevention));
                    out.push(EventKind::OrderCancelled {
                        order_id: maker.id,
                        account: maker.account,
                        market,
                        qty: maker.qty,
                        reason: CancelReason::SelfTradePrevention,
                    });
                }
                if matches!(taker.stp, StpMode::ExpireTaker | StpMode::ExpireBoth) {
                    stopped_by_stp = true;
                    break;
                }
                continue;
            }
            let q = remaining.min(front.qty);
            let ff = book.fill_front(maker_side, q);
            remaining = Qty(remaining.0 - q.0);
            if let Some(done) = &ff.completed {
                retire(&mut self.client_orders, done, OrderStatus::Filled);
            }
            let trade_id = self.take_trade_id();
            out.push(EventKind::Fill(Fill {
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
                taker_remaining: remaining,
            }));
        }
        Matched { remaining, stopped_by_stp }
    }
}
