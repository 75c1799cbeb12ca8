//! Margin: what an account must hold for its positions and orders.
//!
//! - Notional `N = |size| × price × quote_per_tick_lot` (exact).
//! - Initial margin `IM = ⌈N / leverage⌉` (rounded up: the account holds the last unit).
//! - Maintenance margin `MM = max(0, ⌈N × mmr⌉ − amount)` with the tier of `N`, continuous
//!   across tier edges by construction of the amounts.
//! - Per market, the IM requirement of a position with open orders is
//!   `max(IM(|pos|), IM(|pos + Σbuys|), IM(|pos − Σsells|)) + order loss`: the worse of the two
//!   sides filling, not both summed (a market maker quoting both sides can't be long *and*
//!   short after fills), plus the immediate loss of each order's price against mark (a buy above
//!   mark or a sell below it loses the difference the moment it fills). The reserve of the
//!   orders alone is that minus `IM(|pos|)`. Reduce-only orders reserve nothing.

use crate::book::SideTotals;
use crate::market::{MarginTier, tier_for_notional};
use crate::num::{ArithmeticError, Price, Qty, Quote, Rate, mul_div_ceil, narrow};

/// `|size| × price × quote_per_tick_lot` in micro-units, exactly.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if it does not fit an `i64`.
pub fn notional(quote_per_tick_lot: i64, size: Qty, price: Price) -> Result<Quote, ArithmeticError> {
    let v = i128::from(size.0).abs() * i128::from(price.0) * i128::from(quote_per_tick_lot);
    narrow(v).map(Quote)
}

/// `⌈N / leverage⌉`, rounded up so the requirement is never understated.
///
/// # Panics
/// If `leverage` is zero (leverage is validated to be ≥ 1).
#[must_use]
pub fn initial_margin(notional: Quote, leverage: u32) -> Quote {
    assert!(leverage > 0, "leverage is at least 1");
    let l = i64::from(leverage);
    Quote(notional.0.div_euclid(l) + i64::from(notional.0.rem_euclid(l) != 0))
}

/// `max(0, ⌈N × mmr⌉ − amount)` with the tier holding `N`.
///
/// # Errors
/// [`ArithmeticError::Overflow`] for notionals beyond any validated market.
pub fn maintenance_margin(tiers: &[MarginTier], notional: Quote) -> Result<Quote, ArithmeticError> {
    let t = tier_for_notional(tiers, notional);
    let raw = narrow(mul_div_ceil(i128::from(notional.0), i128::from(t.maintenance_rate.0), Rate::SCALE)?)?;
    Ok(Quote((raw - t.maintenance_amount.0).max(0)))
}

/// Whether `equity` covers the maintenance margin of `notional`: `equity ≥ MM(N)`, or `None`
/// if MM doesn't fit (as [`maintenance_margin`]'s error).
///
/// Why not compute MM: a funding payer is checked this way, a million times in one settlement,
/// and almost all stand far above maintenance. A validated tier table's rates never fall and
/// its amounts are never negative (`MarketSpec` validation: tier 1's amount is 0 and each next
/// one adds `edge × rate step ≥ 0`), so `MM(N) ≤ ⌈N × r̄⌉` with `r̄` the last tier's rate, and
/// `equity × S ≥ N × r̄` (one `i128` product each side, no division, no tier search) proves
/// `equity ≥ MM`: an integer at or above `N × r̄ / S` is at or above its ceiling. Only an
/// account nearer maintenance than `N × r̄` pays for the exact figure. Measured on the funding
/// settlement: docs/PERFORMANCE.md, "Funding, session 22".
#[inline]
#[must_use]
pub fn covers_maintenance(tiers: &[MarginTier], notional: Quote, equity: Quote) -> Option<bool> {
    let top = tiers.last().map_or(0, |t| t.maintenance_rate.0);
    if i128::from(equity.0) * Rate::SCALE >= i128::from(notional.0) * i128::from(top) {
        return Some(true);
    }
    maintenance_margin(tiers, notional).ok().map(|mm| equity >= mm)
}

/// An account's exposure in one market: its position and its open (non-reduce-only) orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exposure {
    /// Signed position size.
    pub position: Qty,
    /// Σ open size of buy orders.
    pub open_buys: Qty,
    /// Σ open size of sell orders.
    pub open_sells: Qty,
    /// Σ immediate loss of the orders against mark: `(price − mark) × qty` for buys above
    /// mark, `(mark − price) × qty` for sells below it, in micro-units.
    pub order_loss: Quote,
}

/// The notional of the largest position one market's exposure can reach at `mark`: all its
/// buys filled, all its sells filled, or neither —
/// `max(|pos|, |pos + buys|, |pos − sells|) × mark × q`. Both the IM requirement and the
/// margin tier are taken at it.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if a size or the notional does not fit.
pub fn worst_notional(quote_per_tick_lot: i64, mark: Price, e: &Exposure) -> Result<Quote, ArithmeticError> {
    let long = e.position.checked_add(e.open_buys)?;
    let short = e.position.checked_sub(e.open_sells)?;
    let largest = e.position.0.unsigned_abs().max(long.0.unsigned_abs()).max(short.0.unsigned_abs());
    narrow(i128::from(largest) * i128::from(mark.0) * i128::from(quote_per_tick_lot)).map(Quote)
}

/// The IM requirement of one market's exposure at `mark` and `leverage`:
/// `max(IM(|pos|), IM(|pos + buys|), IM(|pos − sells|)) + order_loss`, which is
/// `IM(worst_notional) + order_loss`: IM never falls as |size| grows (N = |size| × mark × q
/// with mark > 0, then ⌈N / lev⌉), so the worst of the three is the IM of the largest |size|,
/// one product and one division instead of three.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if a notional does not fit.
pub fn im_requirement(
    quote_per_tick_lot: i64,
    mark: Price,
    leverage: u32,
    e: &Exposure,
) -> Result<Quote, ArithmeticError> {
    initial_margin(worst_notional(quote_per_tick_lot, mark, e)?, leverage).checked_add(e.order_loss)
}

/// The immediate loss of an order of `qty` at `price` against `mark`: what it gives up the
/// moment it fills, never negative.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if it does not fit.
pub fn order_loss(
    quote_per_tick_lot: i64,
    buy: bool,
    price: Price,
    qty: Qty,
    mark: Price,
) -> Result<Quote, ArithmeticError> {
    let diff = if buy { price.0 - mark.0 } else { mark.0 - price.0 };
    if diff <= 0 {
        return Ok(Quote::ZERO);
    }
    narrow(i128::from(diff) * i128::from(qty.0) * i128::from(quote_per_tick_lot)).map(Quote)
}

/// The immediate loss of one side's orders against `mark` from their totals alone, when the
/// mark is not strictly inside their price range:
/// - no order priced through the mark (buys all at or below it, sells all at or above): `0`;
/// - every order priced through it: `Σ (p − mark) × q = value − mark × qty` for buys
///   (`mark × qty − value` for sells), times `quote_per_tick_lot` — exact, since each term is
///   non-negative and the sum is linear.
///
/// `None` when `low < mark < high`: only a walk over the orders knows which are through it.
/// As [`order_loss`] summed over the orders, it errors only if the total does not fit (all
/// terms are non-negative, so no partial sum overflows before the total does).
#[must_use]
pub fn order_loss_from_totals(
    quote_per_tick_lot: i64,
    buy: bool,
    t: &SideTotals,
    mark: Price,
) -> Option<Result<Quote, ArithmeticError>> {
    let m = i128::from(mark.0);
    let through = if t.count == 0 || (buy && t.high <= mark) || (!buy && t.low >= mark) {
        0
    } else if buy && t.low >= mark {
        t.value - m * t.qty
    } else if !buy && t.high <= mark {
        m * t.qty - t.value
    } else {
        return None;
    };
    // `through ≥ 0` and `quote_per_tick_lot ≥ 1` (a validated market's): the product fits an
    // `i64` only if `through` does, so the product is taken in `i64`.
    let Ok(through) = i64::try_from(through) else { return Some(Err(ArithmeticError::Overflow)) };
    Some(through.checked_mul(quote_per_tick_lot).map(Quote).ok_or(ArithmeticError::Overflow))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's 2021 BTCUSDT brackets: 50k @ 0.4 %, 250k @ 0.5 % − 50, 1M @ 1 % − 1,300.
    fn tiers() -> Vec<MarginTier> {
        let t = |cap: i64, lev: u32, mmr: i64, amount: i64| MarginTier {
            max_notional: Quote(cap * 1_000_000),
            max_leverage: lev,
            maintenance_rate: Rate(mmr),
            maintenance_amount: Quote(amount * 1_000_000),
        };
        vec![t(50_000, 125, 400_000, 0), t(250_000, 100, 500_000, 50), t(1_000_000, 50, 1_000_000, 1_300)]
    }

    #[test]
    fn maintenance_is_continuous_across_tier_edges() {
        let usd = |x: i64| Quote(x * 1_000_000);
        // At the 50k edge both tiers give 200: 50,000 × 0.4 % = 200 = 50,000 × 0.5 % − 50.
        assert_eq!(maintenance_margin(&tiers(), usd(50_000)), Ok(usd(200)));
        assert_eq!(maintenance_margin(&tiers(), Quote(50_000_000_001)), Ok(Quote(200_000_001)));
        // At the 250k edge: 250,000 × 0.5 % − 50 = 1,200 = 250,000 × 1 % − 1,300.
        assert_eq!(maintenance_margin(&tiers(), usd(250_000)), Ok(usd(1_200)));
        assert_eq!(maintenance_margin(&tiers(), usd(250_001)), Ok(Quote(1_200_010_000)));
        assert_eq!(maintenance_margin(&tiers(), usd(10_000)), Ok(usd(40)));
    }

    #[test]
    fn initial_margin_rounds_up() {
        assert_eq!(initial_margin(Quote(1_000_001), 10), Quote(100_001));
        assert_eq!(initial_margin(Quote(1_000_000), 10), Quote(100_000));
        assert_eq!(initial_margin(Quote(0), 3), Quote(0));
    }

    #[test]
    fn the_order_reserve_is_the_worse_side_not_both_sides_summed() {
        // tick 1 lot 1 → 1 USD per tick-lot. Flat, quoting 10 bid and 10 ask at mark 100, 10x.
        let q = 1_000_000;
        let both = Exposure { position: Qty(0), open_buys: Qty(10), open_sells: Qty(10), order_loss: Quote(0) };
        assert_eq!(im_requirement(q, Price(100), 10, &both), Ok(Quote(100 * q)));
        // Long 10 with a 10-lot ask: selling brings it to zero, so the ask reserves nothing.
        let hedged = Exposure { position: Qty(10), open_buys: Qty(0), open_sells: Qty(10), order_loss: Quote(0) };
        assert_eq!(im_requirement(q, Price(100), 10, &hedged), Ok(Quote(100 * q)));
        // Long 10 with a 30-lot ask: flipping to short 20 needs IM on 20.
        let flip = Exposure { position: Qty(10), open_buys: Qty(0), open_sells: Qty(30), order_loss: Quote(0) };
        assert_eq!(im_requirement(q, Price(100), 10, &flip), Ok(Quote(200 * q)));
    }

    proptest::proptest! {
        /// The requirement is the formula of the module docs, `max` of the three IMs plus the
        /// order loss, computed the long way; overflow in either gives an error in both.
        #[test]
        fn the_requirement_is_the_worst_of_the_three_sizes(
            position in -1_000_000_000i64..1_000_000_000,
            buys in 0i64..1_000_000_000,
            sells in 0i64..1_000_000_000,
            loss in 0i64..1_000_000_000,
            mark in 1i64..10_000_000_000,
            q in 1i64..1_000_000,
            leverage in 1u32..200,
        ) {
            let e = Exposure { position: Qty(position), open_buys: Qty(buys), open_sells: Qty(sells), order_loss: Quote(loss) };
            let im = |size: i64| notional(q, Qty(size), Price(mark)).map(|n| initial_margin(n, leverage));
            let long_way = (|| {
                let worst = im(position)?.max(im(position + buys)?).max(im(position - sells)?);
                worst.checked_add(Quote(loss))
            })();
            proptest::prop_assert_eq!(im_requirement(q, Price(mark), leverage, &e), long_way);
            // The worst notional, which the margin tier is taken at, is the larger of the two
            // one-sided fills' (the position itself lies between them).
            let side = |size: i64| notional(q, Qty(size), Price(mark));
            let sides = side(position + buys).and_then(|long| Ok(long.max(side(position - sells)?)));
            proptest::prop_assert_eq!(worst_notional(q, Price(mark), &e), sides);
        }
    }

    proptest::proptest! {
        /// The shortcut answers what the exact maintenance margin answers, on both sides of it,
        /// across every tier of a table whose amounts are not zero.
        #[test]
        fn covers_maintenance_agrees_with_the_exact_figure(
            notional in 0i64..2_000_000_000_000,
            offset in -2_000_000_000i64..2_000_000_000,
            far in proptest::bool::ANY,
        ) {
            let t = tiers();
            let mm = maintenance_margin(&t, Quote(notional)).unwrap();
            // Near MM (within ±2,000 USD) or anywhere from −N to +N.
            let equity = if far { Quote(offset.saturating_mul(notional / 1_000_000_000 + 1)) } else { Quote(mm.0 + offset) };
            proptest::prop_assert_eq!(covers_maintenance(&t, Quote(notional), equity), Some(equity >= mm));
        }
    }

    #[test]
    fn covers_maintenance_holds_at_exactly_maintenance_and_not_a_unit_below() {
        let t = tiers();
        for n in [Quote(0), Quote(1), Quote(50_000_000_000), Quote(50_000_000_001), Quote(999_999_999_999)] {
            let mm = maintenance_margin(&t, n).unwrap();
            assert_eq!(covers_maintenance(&t, n, mm), Some(true), "N {n:?}");
            assert_eq!(covers_maintenance(&t, n, Quote(mm.0 - 1)), Some(false), "N {n:?}");
        }
        // The shortcut's bound is the top tier's rate: in tier 1 it overstates MM by the rate
        // step, and the exact figure decides (1 % against 0.4 % of 10,000 USD: 100 against 40).
        let n = Quote(10_000_000_000);
        assert_eq!(covers_maintenance(&t, n, Quote(40_000_000)), Some(true));
        assert_eq!(covers_maintenance(&t, n, Quote(39_999_999)), Some(false));
    }

    #[test]
    fn order_totals_give_the_loss_unless_the_mark_is_inside_their_range() {
        let q = 1_000_000;
        // Buys 2 @ 103 and 3 @ 105.
        let t = SideTotals {
            count: 2,
            low_exact: true,
            high_exact: true,
            qty: 5,
            value: 2 * 103 + 3 * 105,
            low: Price(103),
            high: Price(105),
        };
        let walk = |mark: i64| {
            let a = order_loss(q, true, Price(103), Qty(2), Price(mark)).unwrap();
            let b = order_loss(q, true, Price(105), Qty(3), Price(mark)).unwrap();
            Quote(a.0 + b.0)
        };
        for mark in [90, 103, 105, 110] {
            assert_eq!(order_loss_from_totals(q, true, &t, Price(mark)), Some(Ok(walk(mark))), "mark {mark}");
        }
        assert_eq!(order_loss_from_totals(q, true, &t, Price(104)), None);
        // The same orders as sells lose below the mark.
        assert_eq!(order_loss_from_totals(q, false, &t, Price(110)), Some(Ok(Quote((2 * 7 + 3 * 5) * q))));
        assert_eq!(order_loss_from_totals(q, false, &t, Price(100)), Some(Ok(Quote(0))));
        assert_eq!(order_loss_from_totals(q, false, &SideTotals::default(), Price(1)), Some(Ok(Quote(0))));
        // Bounds wider than the orders (orders at 100 and 108 have left, their ends not
        // recomputed): still exact outside them, and a walk inside them, even where the exact
        // range would have answered (106 lies above both orders).
        let wide = SideTotals { low: Price(100), high: Price(108), low_exact: false, high_exact: false, ..t };
        for mark in [90, 100, 108, 110] {
            assert_eq!(order_loss_from_totals(q, true, &wide, Price(mark)), Some(Ok(walk(mark))), "mark {mark}");
        }
        assert_eq!(order_loss_from_totals(q, true, &wide, Price(106)), None);
    }

    proptest::proptest! {
        /// Wherever the totals answer, they give what the orders' losses summed one by one give,
        /// overflow included: small books, and prices, sizes and `q` up to 2^31 (products to
        /// 2^93, far past an `i64`, still within the `i128` both compute in).
        #[test]
        fn the_totals_loss_is_the_sum_of_the_orders_losses(
            orders in proptest::collection::vec((1i64..=1 << 31, 1i64..=1 << 31), 1..5),
            small in proptest::collection::vec((90i64..110, 1i64..1_000), 1..5),
            mark in 1i64..=1 << 31, small_mark in 90i64..110,
            q in 1i64..=1 << 31, small_q in 1i64..1_000_000,
            buy in proptest::bool::ANY,
        ) {
            for (orders, mark, q) in [(&orders, mark, q), (&small, small_mark, small_q), (&small, small_mark, q)] {
                let t = SideTotals {
                    count: u32::try_from(orders.len()).unwrap(),
                    low_exact: true,
                    high_exact: true,
                    qty: orders.iter().map(|(_, n)| i128::from(*n)).sum(),
                    value: orders.iter().map(|(p, n)| i128::from(*p) * i128::from(*n)).sum(),
                    low: Price(orders.iter().map(|(p, _)| *p).min().unwrap()),
                    high: Price(orders.iter().map(|(p, _)| *p).max().unwrap()),
                };
                let walk = orders.iter().try_fold(Quote::ZERO, |sum, (p, n)| {
                    sum.checked_add(order_loss(q, buy, Price(*p), Qty(*n), Price(mark))?)
                });
                if let Some(totals) = order_loss_from_totals(q, buy, &t, Price(mark)) {
                    proptest::prop_assert_eq!(totals, walk);
                }
            }
        }
    }

    #[test]
    fn an_order_priced_through_mark_carries_its_immediate_loss() {
        let q = 1_000_000;
        assert_eq!(order_loss(q, true, Price(103), Qty(2), Price(100)), Ok(Quote(6 * q)));
        assert_eq!(order_loss(q, true, Price(97), Qty(2), Price(100)), Ok(Quote(0)));
        assert_eq!(order_loss(q, false, Price(97), Qty(2), Price(100)), Ok(Quote(6 * q)));
    }
}
