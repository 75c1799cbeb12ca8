//! A leveraged trader: idle → opens a position (an IOC order at its drawn leverage, sized to a
//! share of what its equity allows) → maybe places a reduce-only stop at a drawn distance from
//! its entry → holds for a drawn time → closes (reduce-only IOC) → waits a drawn time → again.
//!
//! The IOC's price tolerance is at most `(1 − size_share) / (2 × leverage)`: the engine counts a
//! limit order's price against the mark as an immediate loss the equity must cover, so a 100x
//! trader can only cross a spread a fraction of a percent wide — as on a real venue. A trader
//! whose equity is gone stops trading; liquidation and stops are the engine's business.

// Sizing and prices are decided in floats and converted in `crate::convert`.
#![allow(clippy::float_arithmetic)]

use perpx_core::command::{NewStop, OrderType, TimeInForce};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{AccountId, CommandKind, NewOrder, Qty, Side, StpMode};

use super::Ctx;
use crate::convert::{quote_f64, round_i64};
use crate::rng::{SimRng, uniform};
use crate::scenario::params::TraderParams;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Idle,
    Opening { stop_pct: Option<f64>, hold_steps: usize },
    Holding { exit_step: usize },
    Closing { tries: u8 },
}

/// A trader's state.
#[derive(Debug, Clone)]
pub struct Trader {
    state: State,
    /// Positions opened.
    pub entries: u64,
}

impl Default for Trader {
    fn default() -> Self {
        Self::new()
    }
}

impl Trader {
    /// An idle trader.
    #[must_use]
    pub fn new() -> Self {
        Self { state: State::Idle, entries: 0 }
    }

    /// The first step a new trader wakes at: within the first `warmup` steps for the share that
    /// opens at the start, after a drawn wait for the others.
    pub fn first_wake(p: &TraderParams, rng: &mut SimRng, ctx_step_ms: i64, warmup: usize) -> usize {
        if uniform(rng) < p.open_at_start {
            1 + round_i64(uniform(rng) * warmup as f64).and_then(|v| usize::try_from(v).ok()).unwrap_or(0)
        } else {
            1 + minutes_to_steps(p.wait_minutes.sample(rng), ctx_step_ms)
        }
    }

    /// Acts; returns the next step to wake at.
    pub fn act(
        &mut self,
        account: AccountId,
        p: &TraderParams,
        ctx: &Ctx<'_>,
        rng: &mut SimRng,
        out: &mut Vec<CommandKind>,
    ) -> Option<usize> {
        let m = p.market_ix;
        let u = &ctx.units[m];
        let k = ctx.step;
        let Some(mark) = ctx.engine.market(u.id).and_then(|x| x.mark) else { return Some(k + 1) };
        let pos = ctx.position(account, m);
        let wait = |rng: &mut SimRng| k + 1 + minutes_to_steps(p.wait_minutes.sample(rng), ctx.step_ms);
        let close = |out: &mut Vec<CommandKind>| {
            let side = if pos > 0 { Side::Sell } else { Side::Buy };
            let mark_f = u.price_f64(mark);
            let target = if pos > 0 { mark_f * (1.0 - p.slippage) } else { mark_f * (1.0 + p.slippage) };
            out.push(CommandKind::CancelAll { account, market: Some(u.id) });
            if let Some(price) = u.in_band(target, mark) {
                out.push(ioc(account, u.id, side, price, Qty(pos.abs()), true));
            }
        };
        match self.state {
            State::Idle => {
                if pos != 0 {
                    close(out);
                    self.state = State::Closing { tries: 1 };
                    return Some(k + 1);
                }
                if ctx.engine.in_liquidation(account) {
                    return Some(wait(rng));
                }
                let equity = quote_f64(ctx.engine.margin(account).ok()?.equity);
                if equity < 1.0 {
                    return None; // broke: it leaves the game
                }
                let lev_f = p.leverage.sample(rng).round().clamp(1.0, f64::from(u.max_leverage));
                let lev = u32::try_from(round_i64(lev_f).unwrap_or(1)).unwrap_or(1);
                let long = uniform(rng) < p.long_bias;
                let hold_steps = minutes_to_steps(p.hold_minutes.sample(rng), ctx.step_ms);
                let stop_pct = (uniform(rng) < p.stop_share).then(|| p.stop_pct.sample(rng)).filter(|s| *s > 0.0);
                let mark_f = u.price_f64(mark);
                let notional = (equity * lev_f * p.size_share).min(u.max_notional_at(lev) * 0.98);
                let qty = u.lots_for(notional, mark_f);
                if qty < u.min_qty {
                    return Some(wait(rng));
                }
                let current = ctx
                    .engine
                    .account(account)
                    .zip(ctx.engine.market(u.id))
                    .map(|(a, mk)| ctx.engine.leverage_of(a, mk));
                if current != Some(lev) {
                    out.push(CommandKind::SetLeverage { account, market: u.id, leverage: lev });
                }
                let slip = p.slippage.min((1.0 - p.size_share) / (2.0 * lev_f));
                let (side, target) =
                    if long { (Side::Buy, mark_f * (1.0 + slip)) } else { (Side::Sell, mark_f * (1.0 - slip)) };
                let price = u.in_band(target, mark)?;
                out.push(ioc(account, u.id, side, price, qty, false));
                self.entries += 1;
                self.state = State::Opening { stop_pct, hold_steps };
                Some(k + 1)
            }
            State::Opening { stop_pct, hold_steps } => {
                if pos == 0 {
                    self.state = State::Idle;
                    return Some(wait(rng));
                }
                if let Some(s) = stop_pct {
                    let cost = ctx.engine.account(account).map_or(0, |a| a.position(u.id).cost_basis.0);
                    let entry = cost as f64 / (pos as f64 * u.quote_per_tick_lot as f64) * u.tick_f;
                    let (side, trigger) =
                        if pos > 0 { (Side::Sell, entry * (1.0 - s)) } else { (Side::Buy, entry * (1.0 + s)) };
                    if let Some(trigger) = u.ticks(trigger) {
                        out.push(CommandKind::PlaceStop(NewStop {
                            account,
                            market: u.id,
                            side,
                            kind: StopKind::StopMarket,
                            trigger,
                            trigger_by: TriggerBy::Mark,
                            qty: Qty(pos.abs()),
                            client_id: None,
                            stp: StpMode::ExpireTaker,
                            reduce_only: true,
                        }));
                    }
                }
                self.state = State::Holding { exit_step: k + hold_steps };
                Some(k + hold_steps)
            }
            State::Holding { exit_step } => {
                if k < exit_step {
                    return Some(exit_step);
                }
                if pos == 0 {
                    // Stopped out or liquidated while holding: clear any stop left and rest.
                    out.push(CommandKind::CancelAll { account, market: Some(u.id) });
                    self.state = State::Idle;
                    return Some(wait(rng));
                }
                close(out);
                self.state = State::Closing { tries: 1 };
                Some(k + 1)
            }
            State::Closing { tries } => {
                if pos == 0 {
                    self.state = State::Idle;
                    return Some(wait(rng));
                }
                if tries >= 5 {
                    // The book won't take it now: hold on a while and try again.
                    self.state = State::Holding { exit_step: k + minutes_to_steps(5.0, ctx.step_ms) };
                    return Some(k + minutes_to_steps(5.0, ctx.step_ms));
                }
                close(out);
                self.state = State::Closing { tries: tries + 1 };
                Some(k + 1)
            }
        }
    }
}

/// Steps in `minutes`, at least one.
#[must_use]
pub fn minutes_to_steps(minutes: f64, step_ms: i64) -> usize {
    super::steps_for(minutes * 60.0, step_ms)
}

fn ioc(
    account: AccountId,
    market: perpx_core::MarketId,
    side: Side,
    price: perpx_core::Price,
    qty: Qty,
    reduce_only: bool,
) -> CommandKind {
    CommandKind::PlaceOrder(NewOrder {
        account,
        market,
        side,
        order_type: OrderType::Limit { price, tif: TimeInForce::Ioc },
        qty,
        client_id: None,
        stp: StpMode::ExpireTaker,
        reduce_only,
    })
}
