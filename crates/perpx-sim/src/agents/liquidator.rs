//! A registered backstop liquidator (`set_liquidator`): the engine hands it what the book didn't
//! take, at `mark ∓ backstop_discount`, but only as much as its own margin allows — its capital is
//! finite, and it is liquidated like anyone if the takeovers go against it. Every `unwind_secs`
//! it sells a share of each position back into the book (reduce-only IOC).

// Unwinding prices are float math, converted in `crate::convert`.
#![allow(clippy::float_arithmetic)]

use perpx_core::command::{OrderType, TimeInForce};
use perpx_core::{AccountId, CommandKind, NewOrder, Qty, Side, StpMode};

use super::Ctx;
use crate::convert::round_i64;
use crate::scenario::params::LiquidatorParams;

/// A liquidator's state.
#[derive(Debug, Clone, Default)]
pub struct Liquidator {
    /// Unwinding orders sent.
    pub unwinds: u64,
}

impl Liquidator {
    /// Acts; returns the next step to wake at.
    pub fn act(
        &mut self,
        account: AccountId,
        p: &LiquidatorParams,
        ctx: &Ctx<'_>,
        out: &mut Vec<CommandKind>,
    ) -> Option<usize> {
        let next = Some(ctx.step + ctx.steps(p.unwind_secs));
        if ctx.engine.in_liquidation(account) {
            return next;
        }
        for (m, u) in ctx.units.iter().enumerate() {
            let pos = ctx.position(account, m);
            let Some(mark) = ctx.engine.market(u.id).and_then(|x| x.mark) else { continue };
            if pos == 0 {
                continue;
            }
            let lots = round_i64((pos.abs() as f64 * p.unwind_share).ceil()).unwrap_or(1).clamp(1, pos.abs());
            let mark_f = u.price_f64(mark);
            let (side, target) = if pos > 0 {
                (Side::Sell, mark_f * (1.0 - p.slippage))
            } else {
                (Side::Buy, mark_f * (1.0 + p.slippage))
            };
            let Some(price) = u.in_band(target, mark) else { continue };
            out.push(CommandKind::PlaceOrder(NewOrder {
                account,
                market: u.id,
                side,
                order_type: OrderType::Limit { price, tif: TimeInForce::Ioc },
                qty: Qty(lots),
                client_id: None,
                stp: StpMode::ExpireTaker,
                reduce_only: true,
            }));
            self.unwinds += 1;
        }
        next
    }
}
