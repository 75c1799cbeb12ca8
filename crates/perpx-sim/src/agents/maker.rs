//! A market maker: every `requote_secs` it quotes `levels` post-only orders a side around the
//! index, `spread_bps` wide at the first level and `level_step_bps` apart, `quote_notional` each.
//!
//! - **Inventory**: the quotes' centre moves against the position, `skew_bps × position /
//!   inventory_limit` (a short maker quotes higher, so it buys back and sells less); at the limit
//!   it stops quoting the side that would grow the position.
//! - **Volatility**: when the index's realised volatility over `vol_window_secs` exceeds its
//!   `pull_vol`, it cancels everything and stays out for `pull_minutes` — liquidity withdrawn
//!   exactly when the liquidations need it.
//! - **Hedge** (the basis trade): it holds `−position` in spot, rebalanced `hedge_delay_secs`
//!   after the position changes. An ADL of its perp leg leaves the spot leg open until then.
//!
//! Quotes are moved with amends (one command an order) when they are more than `requote_bps`
//! from where they should be, placed when missing and cancelled when no longer wanted.

// Quoting is float math on prices and sizes, converted to ticks and lots in `crate::convert`.
#![allow(clippy::float_arithmetic)]

use perpx_core::command::{Amend, OrderType, TimeInForce};
use perpx_core::{AccountId, CommandKind, NewOrder, OrderId, OrderRef, Price, Qty, Side, StpMode};

use super::Ctx;
use super::spot::SpotLeg;
use crate::scenario::params::MakerParams;

/// A maker's state.
#[derive(Debug, Clone)]
pub struct Maker {
    /// Notional per level (drawn).
    pub quote_notional: f64,
    /// Inventory limit (drawn).
    pub inventory_limit: f64,
    /// Volatility above which it pulls (drawn).
    pub pull_vol: f64,
    /// Pulled until this step.
    pub pulled_until: usize,
    /// Times it pulled its quotes.
    pub pulls: u64,
    /// Its spot leg.
    pub spot: SpotLeg,
}

impl Maker {
    /// Acts; returns the next step to wake at.
    pub fn act(
        &mut self,
        account: AccountId,
        p: &MakerParams,
        ctx: &Ctx<'_>,
        out: &mut Vec<CommandKind>,
    ) -> Option<usize> {
        let m = p.market_ix;
        let u = &ctx.units[m];
        let k = ctx.step;
        let next = Some(k + ctx.steps(p.requote_secs));
        let pos = ctx.position(account, m);
        if p.hedge {
            let fee = p.spot_fee_bps / 10_000.0;
            self.spot.hedge(-pos, k, ctx.delay_steps(p.hedge_delay_secs), ctx.spot[m], u.lot_f, fee);
        }
        let Some(market) = ctx.engine.market(u.id) else { return next };
        let (Some(index), Some(mark)) = (ctx.index(m), market.mark) else { return next };
        let mine: Vec<(OrderId, Side, Price, Qty)> = market
            .book
            .orders_of(account)
            .filter_map(|id| market.book.get(id).map(|o| (o.id, o.side, o.price, o.qty)))
            .collect();
        if ctx.vol(m, ctx.steps(p.vol_window_secs)) > self.pull_vol && k >= self.pulled_until {
            self.pulled_until = k + ctx.steps(p.pull_minutes * 60.0);
            self.pulls += 1;
        }
        if k < self.pulled_until || ctx.engine.in_liquidation(account) {
            if !mine.is_empty() {
                out.push(CommandKind::CancelAll { account, market: Some(u.id) });
            }
            return next;
        }
        let index_f = u.price_f64(index);
        let inv = if self.inventory_limit > 0.0 {
            (u.notional_f64(pos, index_f) / self.inventory_limit).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let centre = index_f * (1.0 - p.skew_bps / 10_000.0 * inv);
        let half = p.spread_bps / 20_000.0;
        let step = p.level_step_bps / 10_000.0;
        let mut want: [Vec<(Price, Qty)>; 2] = [Vec::new(), Vec::new()];
        for i in 0..p.levels {
            let off = half + step * f64::from(i);
            if inv < 1.0 {
                let price = u.ticks_down(centre * (1.0 - off)).and_then(|x| u.in_band(u.price_f64(x), mark));
                if let Some(price) = price {
                    let qty = u.lots_for(self.quote_notional, u.price_f64(price));
                    if qty >= u.min_qty {
                        want[0].push((price, qty));
                    }
                }
            }
            if inv > -1.0 {
                let price = u.ticks_up(centre * (1.0 + off)).and_then(|x| u.in_band(u.price_f64(x), mark));
                if let Some(price) = price {
                    let qty = u.lots_for(self.quote_notional, u.price_f64(price));
                    if qty >= u.min_qty {
                        want[1].push((price, qty));
                    }
                }
            }
        }
        for (s, side) in [(0, Side::Buy), (1, Side::Sell)] {
            want[s].dedup_by_key(|w| w.0);
            let mut have: Vec<(OrderId, Price, Qty)> =
                mine.iter().filter(|o| o.1 == side).map(|o| (o.0, o.2, o.3)).collect();
            // Best price first on both lists, so level i moves to level i.
            have.sort_by(|a, b| if side == Side::Buy { b.1.cmp(&a.1) } else { a.1.cmp(&b.1) }.then(a.0.cmp(&b.0)));
            for i in 0..have.len().max(want[s].len()) {
                match (have.get(i), want[s].get(i)) {
                    (Some(&(id, price, qty)), Some(&(wp, wq))) => {
                        let qty_off = (qty.0 - wq.0).abs() * 5 > wq.0;
                        let off = (u.price_f64(price) - u.price_f64(wp)).abs() / index_f * 10_000.0;
                        let price_off = off > p.requote_bps;
                        let wp = if price_off { wp } else { price };
                        if price_off || qty_off {
                            out.push(CommandKind::AmendOrder(Amend {
                                account,
                                market: u.id,
                                order: OrderRef::Id(id),
                                price: (price != wp).then_some(wp),
                                qty: qty_off.then_some(wq),
                            }));
                        }
                    }
                    (None, Some(&(wp, wq))) => out.push(CommandKind::PlaceOrder(NewOrder {
                        account,
                        market: u.id,
                        side,
                        order_type: OrderType::Limit { price: wp, tif: TimeInForce::PostOnly },
                        qty: wq,
                        client_id: None,
                        stp: StpMode::ExpireTaker,
                        reduce_only: false,
                    })),
                    (Some(&(id, _, _)), None) => {
                        out.push(CommandKind::CancelOrder { account, market: u.id, order: OrderRef::Id(id) })
                    }
                    (None, None) => {}
                }
            }
        }
        next
    }
}
