//! How a fill changes a position.
//!
//! A position keeps its signed size and its signed **cost basis** exactly (Σ price × size of
//! the fills that opened it, in micro-units; negative for shorts). Unrealised PnL at mark is
//! `size × mark × quote_per_tick_lot − cost_basis`. Entry price is derived for display only.
//!
//! A fill that reduces the position realises PnL on the closed part: the cost removed is the
//! closed fraction of the cost basis, `cost × closed / |size|`, rounded **away from zero** so
//! realised profit (which becomes withdrawable) is never overstated; the unit moves into the
//! remaining cost basis, so nothing is created or lost. Closing everything removes the whole
//! cost basis exactly. A fill larger than the position closes it and opens the rest the other
//! way (a flip): one-way mode, no hedge positions.

use crate::num::{ArithmeticError, Price, Qty, Quote, narrow};

/// The result of applying a fill to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillEffect {
    /// Size after the fill.
    pub size: Qty,
    /// Cost basis after the fill.
    pub cost_basis: Quote,
    /// PnL realised by this fill (zero if it only opened or increased).
    pub realized: Quote,
}

/// Applies a fill of `signed_qty` (buy > 0, sell < 0) at `price` to a position of `size` with
/// `cost_basis`.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if a value does not fit.
pub fn apply_fill(
    size: Qty,
    cost_basis: Quote,
    signed_qty: Qty,
    price: Price,
    quote_per_tick_lot: i64,
) -> Result<FillEffect, ArithmeticError> {
    let value = |q: i64| narrow(i128::from(q) * i128::from(price.0) * i128::from(quote_per_tick_lot));
    let s = size.0;
    let q = signed_qty.0;
    if s == 0 || (s > 0) == (q > 0) {
        // Opening or increasing.
        return Ok(FillEffect {
            size: size.checked_add(signed_qty)?,
            cost_basis: Quote(cost_basis.0.checked_add(value(q)?).ok_or(ArithmeticError::Overflow)?),
            realized: Quote::ZERO,
        });
    }
    let closed = q.abs().min(s.abs()); // lots closed
    let removed = if closed == s.abs() {
        cost_basis.0
    } else {
        // cost × closed / |size|, away from zero.
        let num = i128::from(cost_basis.0) * i128::from(closed);
        let den = i128::from(s.abs());
        let mag = (num.abs() + den - 1) / den;
        narrow(if num < 0 { -mag } else { mag })?
    };
    // Closing `closed` lots of a long sells them (receives value), of a short buys them back.
    let closing_qty = if s > 0 { -closed } else { closed };
    let proceeds = -value(closing_qty)?; // what the account receives for the closed part
    let realized = proceeds - removed;
    let rest = q - closing_qty; // what is left of the fill after closing, opens the other way
    let size_after = s + closing_qty + rest;
    let cost_after = cost_basis.0 - removed + value(rest)?;
    Ok(FillEffect { size: Qty(size_after), cost_basis: Quote(cost_after), realized: Quote(realized) })
}

/// Unrealised PnL at `mark`: `size × mark × quote_per_tick_lot − cost_basis`.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if it does not fit.
pub fn unrealized_pnl(
    size: Qty,
    cost_basis: Quote,
    mark: Price,
    quote_per_tick_lot: i64,
) -> Result<Quote, ArithmeticError> {
    let v = i128::from(size.0) * i128::from(mark.0) * i128::from(quote_per_tick_lot) - i128::from(cost_basis.0);
    narrow(v).map(Quote)
}

/// How an isolated position's own margin moves on a fill.
///
/// The position is its own wallet: the fill's result (`realised PnL − fee`) stays in its margin,
/// so a loss can't reach the rest of the account. Then a reducing fill releases the closed
/// fraction of that margin to collateral, `max(0, ⌊margin × closed / |size|⌋)` (closing all
/// releases all — negative only after the account's own trade at a loss beyond the margin,
/// which it then pays), unless `release` is off (a liquidation keeps everything in the position
/// until the waterfall settles it). The lots that open or increase the position bring
/// `⌈opened × price / leverage⌉` from collateral, `price` being the **mark** (the IM of those
/// lots as the order's margin check reserved it; a fill far better than mark can't pull more).
/// Returns the new margin and the signed amount moved *from* collateral (negative: released).
///
/// # Errors
/// [`ArithmeticError::Overflow`] if a value does not fit.
#[allow(clippy::too_many_arguments)]
pub fn isolated_margin_on_fill(
    margin: Quote,
    size: Qty,
    signed_qty: Qty,
    price: Price,
    quote_per_tick_lot: i64,
    leverage: u32,
    result: Quote,
    release: bool,
) -> Result<(Quote, Quote), ArithmeticError> {
    let s = size.0;
    let q = signed_qty.0;
    let closed = if s != 0 && (s > 0) != (q > 0) { q.abs().min(s.abs()) } else { 0 };
    let m = margin.0.checked_add(result.0).ok_or(ArithmeticError::Overflow)?;
    let released = if closed == 0 || !release {
        0
    } else if closed == s.abs() {
        m
    } else {
        narrow((i128::from(m) * i128::from(closed)).div_euclid(i128::from(s.abs())))?.max(0)
    };
    let opened = q.abs() - closed;
    let value = i128::from(opened) * i128::from(price.0) * i128::from(quote_per_tick_lot);
    let lev = i128::from(leverage.max(1));
    let added = narrow((value + lev - 1) / lev)?;
    let after = m.checked_sub(released).and_then(|m| m.checked_add(added)).ok_or(ArithmeticError::Overflow)?;
    Ok((Quote(after), Quote(added - released)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const USD: i64 = 1_000_000;

    #[test]
    fn the_seeds_toy_trade_is_up_exactly_400() {
        // 0.1 BTC long at 86,000 with tick 0.1 and lot 0.001 (100 micro-units per tick-lot):
        // 100 lots × 860,000 ticks × 100 = 8,600 USD of cost basis.
        let e = apply_fill(Qty(0), Quote(0), Qty(100), Price(860_000), 100).unwrap();
        assert_eq!(e, FillEffect { size: Qty(100), cost_basis: Quote(8_600 * USD), realized: Quote(0) });
        assert_eq!(unrealized_pnl(e.size, e.cost_basis, Price(900_000), 100), Ok(Quote(400 * USD)));
    }

    #[test]
    fn partial_closes_realise_the_closed_fraction_and_flips_reopen_at_the_fill_price() {
        // tick 1, lot 1, 1 USD per tick-lot. Long 3 at 100, 101, 102: cost 303.
        let mut p = apply_fill(Qty(0), Quote(0), Qty(1), Price(100), USD).unwrap();
        p = apply_fill(p.size, p.cost_basis, Qty(1), Price(101), USD).unwrap();
        p = apply_fill(p.size, p.cost_basis, Qty(1), Price(102), USD).unwrap();
        assert_eq!((p.size, p.cost_basis), (Qty(3), Quote(303 * USD)));
        // Sell 1 at 110: removes 303/3 = 101 of cost, realises 9.
        let p = apply_fill(p.size, p.cost_basis, Qty(-1), Price(110), USD).unwrap();
        assert_eq!(p, FillEffect { size: Qty(2), cost_basis: Quote(202 * USD), realized: Quote(9 * USD) });
        // Sell 5 at 90: closes 2 (realises 180 − 202 = −22), opens short 3 at 90.
        let p = apply_fill(p.size, p.cost_basis, Qty(-5), Price(90), USD).unwrap();
        assert_eq!(p, FillEffect { size: Qty(-3), cost_basis: Quote(-270 * USD), realized: Quote(-22 * USD) });
        // Buy back 3 at 80: closes all, realises 270 − 240 = 30.
        let p = apply_fill(p.size, p.cost_basis, Qty(3), Price(80), USD).unwrap();
        assert_eq!(p, FillEffect { size: Qty(0), cost_basis: Quote(0), realized: Quote(30 * USD) });
    }

    #[test]
    fn an_inexact_fraction_of_cost_is_removed_away_from_zero() {
        // Long 3 with cost 100 micro-units; sell 1 at 0 → remove ⌈100/3⌉ = 34, realise −34.
        let p = apply_fill(Qty(3), Quote(100), Qty(-1), Price(0), 1).unwrap();
        assert_eq!(p, FillEffect { size: Qty(2), cost_basis: Quote(66), realized: Quote(-34) });
        // Short 3 with cost −100: remove −34.
        let p = apply_fill(Qty(-3), Quote(-100), Qty(1), Price(0), 1).unwrap();
        assert_eq!(p, FillEffect { size: Qty(-2), cost_basis: Quote(-66), realized: Quote(34) });
    }

    #[test]
    fn isolated_margin_comes_in_with_opened_lots_and_goes_out_with_closed_ones() {
        const U: i64 = 1_000_000;
        // Open 10 @ 100 at 10x: 100 comes from collateral.
        assert_eq!(
            isolated_margin_on_fill(Quote(0), Qty(0), Qty(10), Price(100), U, 10, Quote(0), true),
            Ok((Quote(100 * U), Quote(100 * U)))
        );
        // Close 3 of 10: 30 released.
        assert_eq!(
            isolated_margin_on_fill(Quote(100 * U), Qty(10), Qty(-3), Price(90), U, 10, Quote(0), true),
            Ok((Quote(70 * U), Quote(-30 * U)))
        );
        // Flip: sell 12 of a long 7 holding 70 → releases 70, brings 5 × 80 / 10 = 40.
        assert_eq!(
            isolated_margin_on_fill(Quote(70 * U), Qty(7), Qty(-12), Price(80), U, 10, Quote(0), true),
            Ok((Quote(40 * U), Quote(-30 * U)))
        );
        // An inexact release rounds down: 10 micro-units, close 1 of 3 → releases 3.
        let inexact = isolated_margin_on_fill(Quote(10), Qty(3), Qty(-1), Price(1), 1, 1, Quote(0), true);
        assert_eq!(inexact, Ok((Quote(7), Quote(-3))));
        // The fill's result stays in the position first: a 40 loss on 100 held, closing 3 of 10,
        // releases ⌊60 × 3 / 10⌋ = 18 of what is left.
        let loss = isolated_margin_on_fill(Quote(100 * U), Qty(10), Qty(-3), Price(90), U, 10, Quote(-40 * U), true);
        assert_eq!(loss, Ok((Quote(42 * U), Quote(-18 * U))));
        // A loss beyond the margin releases nothing on a partial close; a liquidation releases
        // nothing at all.
        let under = isolated_margin_on_fill(Quote(10 * U), Qty(10), Qty(-3), Price(90), U, 10, Quote(-20 * U), true);
        assert_eq!(under, Ok((Quote(-10 * U), Quote(0))));
        let liquidated = isolated_margin_on_fill(Quote(100 * U), Qty(10), Qty(-3), Price(90), U, 10, Quote(0), false);
        assert_eq!(liquidated, Ok((Quote(100 * U), Quote(0))));
    }

    proptest::proptest! {
        /// Whatever the fills, size × price moves between cost basis and realised PnL without a
        /// unit created or lost: cost basis − Σ realised = Σ signed fill values paid.
        #[test]
        fn cost_basis_and_realised_pnl_account_for_every_unit(fills in proptest::collection::vec((-50i64..50, 1i64..1_000), 1..40)) {
            let (mut size, mut cost, mut realized, mut paid) = (Qty(0), Quote(0), 0i64, 0i64);
            for (q, price) in fills {
                if q == 0 { continue; }
                let e = apply_fill(size, cost, Qty(q), Price(price), 7).unwrap();
                paid += q * price * 7;
                realized += e.realized.0;
                size = e.size;
                cost = e.cost_basis;
                proptest::prop_assert!(size.0 != 0 || cost.0 == 0);
            }
            proptest::prop_assert_eq!(cost.0 - realized, paid);
        }
    }
}
