//! An arbitrageur (basis trader): every `interval_secs` it compares the book with the index.
//!
//! - The best bid more than `entry_bps` above the index (the perp trades rich): it sells the
//!   perp into that bid and buys spot — short perp, long spot, paid the funding longs pay.
//! - The best ask more than `entry_bps` below the index: the reverse.
//! - When the premium has closed to within `exit_bps`, it unwinds a trade's worth (reduce-only).
//!
//! Trades are `trade_notional` each, the position at most `max_notional`; the spot leg follows
//! the perp position `hedge_delay_secs` later.

// Premiums and sizes are float math, converted in `crate::convert`.
#![allow(clippy::float_arithmetic)]

use perpx_core::command::{OrderType, TimeInForce};
use perpx_core::{AccountId, CommandKind, NewOrder, Price, Qty, Side, StpMode};

use super::Ctx;
use super::spot::SpotLeg;
use crate::scenario::params::ArbParams;

/// An arbitrageur's state.
#[derive(Debug, Clone)]
pub struct Arb {
    /// Notional of one trade (drawn).
    pub trade_notional: f64,
    /// The largest position (drawn).
    pub max_notional: f64,
    /// Its spot leg.
    pub spot: SpotLeg,
}

impl Arb {
    /// Acts; returns the next step to wake at.
    pub fn act(
        &mut self,
        account: AccountId,
        p: &ArbParams,
        ctx: &Ctx<'_>,
        out: &mut Vec<CommandKind>,
    ) -> Option<usize> {
        let m = p.market_ix;
        let u = &ctx.units[m];
        let k = ctx.step;
        let next = Some(k + ctx.steps(p.interval_secs));
        let pos = ctx.position(account, m);
        let fee = p.spot_fee_bps / 10_000.0;
        self.spot.hedge(-pos, k, ctx.delay_steps(p.hedge_delay_secs), ctx.spot[m], u.lot_f, fee);
        if ctx.engine.in_liquidation(account) {
            return next;
        }
        let Some(market) = ctx.engine.market(u.id) else { return next };
        let Some(index) = ctx.index(m) else { return next };
        let index_f = u.price_f64(index);
        let (bid, ask) = (market.book.best_price(Side::Buy), market.book.best_price(Side::Sell));
        let prem = |p: Price| (u.price_f64(p) - index_f) / index_f * 10_000.0;
        let held = u.notional_f64(pos.abs(), index_f);
        let room = (self.max_notional - held).max(0.0);
        let order = |side: Side, price: Price, qty: Qty, reduce_only: bool| {
            CommandKind::PlaceOrder(NewOrder {
                account,
                market: u.id,
                side,
                order_type: OrderType::Limit { price, tif: TimeInForce::Ioc },
                qty,
                client_id: None,
                stp: StpMode::ExpireTaker,
                reduce_only,
            })
        };
        if let Some(b) = bid.filter(|b| pos <= 0 && prem(*b) > p.entry_bps) {
            let qty = u.lots_for(self.trade_notional.min(room), u.price_f64(b));
            if qty >= u.min_qty {
                out.push(order(Side::Sell, b, qty, false));
            }
        } else if let Some(a) = ask.filter(|a| pos >= 0 && prem(*a) < -p.entry_bps) {
            let qty = u.lots_for(self.trade_notional.min(room), u.price_f64(a));
            if qty >= u.min_qty {
                out.push(order(Side::Buy, a, qty, false));
            }
        } else if let Some(a) = ask.filter(|a| pos < 0 && prem(*a) < p.exit_bps) {
            let qty = u.lots_for(self.trade_notional, u.price_f64(a)).0.clamp(1, pos.abs());
            out.push(order(Side::Buy, a, Qty(qty), true));
        } else if let Some(b) = bid.filter(|b| pos > 0 && prem(*b) > -p.exit_bps) {
            let qty = u.lots_for(self.trade_notional, u.price_f64(b)).0.clamp(1, pos);
            out.push(order(Side::Sell, b, Qty(qty), true));
        }
        next
    }
}
