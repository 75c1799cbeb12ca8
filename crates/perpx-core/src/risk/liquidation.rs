//! The formulas of the liquidation pipeline, on plain numbers (`docs/LIQUIDATION.md`).
//!
//! **Bankruptcy price.** With the account's other positions at mark, the price at which closing
//! position *i* leaves the account's equity at exactly zero:
//! `B_i = mark_i − sign_i × equity / (|size_i| × quote_per_tick_lot)` (in ticks). It is rarely a
//! whole tick, so it is kept as a fraction and rounded only where it is used, always in the
//! direction that cannot create a deficit: a closing **sell** (of a long) is limited at
//! `⌈B⌉`, a closing **buy** (of a short) at `⌊B⌋`.
//!
//! **ADL rank** (BitMEX's definitions): `pnl_pct = uPnL / |cost basis|`, `effective leverage =
//! |notional at mark| / equity` (equity is `notional at mark − notional at bankruptcy`), and
//! `rank = pnl_pct × leverage` for a winner, `pnl_pct / leverage` for a loser, in units of 1e-8.

use crate::num::{Price, Quote, Rate};

/// A bankruptcy price as an exact fraction of ticks: `num / den`, `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankruptcyPrice {
    /// Numerator: `mark × den − sign × equity`.
    pub num: i128,
    /// Denominator: `|size| × quote_per_tick_lot`.
    pub den: i128,
}

impl BankruptcyPrice {
    /// `B = mark − sign × equity / (|size| × q)` for a position of signed `size` lots.
    ///
    /// # Panics
    /// If `size` is zero (a flat position has no bankruptcy price).
    #[must_use]
    pub fn of(mark: Price, size: i64, equity: Quote, quote_per_tick_lot: i64) -> Self {
        assert!(size != 0, "a flat position has no bankruptcy price");
        let den = i128::from(size.unsigned_abs()) * i128::from(quote_per_tick_lot);
        let sign = i128::from(size.signum());
        Self { num: i128::from(mark.0) * den - sign * i128::from(equity.0), den }
    }

    /// `⌊B⌋` in ticks.
    #[must_use]
    pub fn floor(self) -> i128 {
        crate::num::div_euclid(self.num, self.den)
    }

    /// `⌈B⌉` in ticks.
    #[must_use]
    pub fn ceil(self) -> i128 {
        -crate::num::div_euclid(-self.num, self.den)
    }

    /// The safe limit of the order that closes a position of sign `sign` (+1 long, −1 short):
    /// `⌈B⌉` for the sell that closes a long, `⌊B⌋` for the buy that closes a short, so a fill
    /// at the limit never leaves a deficit. `None` when the limit is not a positive price.
    #[must_use]
    pub fn closing_limit(self, sign: i64) -> Option<Price> {
        let p = if sign > 0 { self.ceil() } else { self.floor() };
        i64::try_from(p).ok().filter(|p| *p > 0).map(Price)
    }

    /// The price ADL trades at: `B` rounded to a tick in the winners' favour (`⌊B⌋` when the
    /// bankrupt account sells, `⌈B⌉` when it buys); the sub-tick rest is settled in `Quote`.
    #[must_use]
    pub fn adl_price(self, sign: i64) -> Price {
        let p = if sign > 0 { self.floor() } else { self.ceil() };
        Price(i64::try_from(p.max(1)).unwrap_or(i64::MAX))
    }
}

/// The liquidation fee on a close: `min(⌈rate × closed notional⌉, cap)`, never negative. The cap
/// is `equity − MM(remaining)` after a partial close (the fee can't put the account back under
/// maintenance) and what is left after a full close-out.
#[must_use]
pub fn liquidation_fee(rate: Rate, closed_notional: Quote, cap: Quote) -> Quote {
    let full = crate::num::mul_div_ceil(i128::from(closed_notional.0), i128::from(rate.0), Rate::SCALE)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(i64::MAX);
    Quote(full.min(cap.0).max(0))
}

/// `MM × (1 + buffer)`, rounded up: the equity a partial close must leave.
#[must_use]
pub fn buffered_maintenance(mm: Quote, buffer: Rate) -> i128 {
    i128::from(mm.0)
        + crate::num::mul_div_ceil(i128::from(mm.0), i128::from(buffer.0), Rate::SCALE).unwrap_or(i128::MAX)
}

/// The ADL rank of a position, in units of 1e-8 (higher is deleveraged first). Winners rank
/// `uPnL × notional / (|cost| × equity)`, losers `uPnL × equity / (|cost| × notional)`; a winner
/// with no equity left has infinite leverage and ranks first, a loser with none ranks 0.
#[must_use]
pub fn adl_rank(upnl: Quote, cost_basis: Quote, notional: Quote, equity: Quote) -> i128 {
    let cost = i128::from(cost_basis.0).abs();
    if cost == 0 || notional.0 == 0 {
        return 0;
    }
    let (u, n, e) = (i128::from(upnl.0), i128::from(notional.0), i128::from(equity.0));
    // (a × b × 1e8) / d with d > 0; beyond i128 the rank saturates in the sign's direction.
    let scaled = |a: i128, b: i128, d: i128| -> i128 {
        a.checked_mul(b)
            .and_then(|x| x.checked_mul(Rate::SCALE))
            .map_or(if (a >= 0) == (b >= 0) { i128::MAX } else { i128::MIN }, |x| x.div_euclid(d))
    };
    if e <= 0 {
        return if u > 0 { i128::MAX } else { 0 };
    }
    if u >= 0 {
        cost.checked_mul(e).map_or(i128::MAX, |d| scaled(u, n, d))
    } else {
        cost.checked_mul(n).map_or(0, |d| scaled(u, e, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_with_equity_has_its_bankruptcy_price_below_mark() {
        // 10 lots long, mark 100, equity 45, one micro-unit per tick-lot: B = 100 − 45/10 = 95.5.
        let b = BankruptcyPrice::of(Price(100), 10, Quote(45), 1);
        assert_eq!((b.floor(), b.ceil()), (95, 96));
        assert_eq!(b.closing_limit(1), Some(Price(96)), "a sell limited at ⌈B⌉ never fills below B");
        assert_eq!(b.adl_price(1), Price(95), "ADL rounds in the winners' favour");
    }

    #[test]
    fn a_short_with_negative_equity_is_bankrupt_below_mark() {
        // Short 20 at mark 120 with equity −400: B = 120 + (−400)/20 = 100 (the seed's case 1).
        let b = BankruptcyPrice::of(Price(120), -20, Quote(-400), 1);
        assert_eq!((b.floor(), b.ceil()), (100, 100));
        assert_eq!(b.closing_limit(-1), Some(Price(100)));
    }

    #[test]
    fn the_fee_is_capped_and_never_negative() {
        let n = Quote(1_000_000_000); // 1,000 USD
        assert_eq!(liquidation_fee(Rate(500_000), n, Quote(i64::MAX)), Quote(5_000_000));
        assert_eq!(liquidation_fee(Rate(500_000), n, Quote(1_234)), Quote(1_234));
        assert_eq!(liquidation_fee(Rate(500_000), n, Quote(-7)), Quote::ZERO);
    }

    #[test]
    fn ranks_follow_bitmex() {
        // W: +800 on cost 4,000, notional 4,800, equity 1,800 → 20 % × 2.67 = 0.5333…
        assert_eq!(adl_rank(Quote(800), Quote(4_000), Quote(4_800), Quote(1_800)), 53_333_333);
        // Y (long 20 @ 95): +500 on cost 1,900, notional 2,400, equity 10,500 → 26.3 % × 0.229 = 0.0601…
        assert_eq!(adl_rank(Quote(500), Quote(1_900), Quote(2_400), Quote(10_500)), 6_015_037);
        // A loser ranks below every winner.
        assert!(adl_rank(Quote(-100), Quote(1_000), Quote(900), Quote(500)) < 0);
    }
}
