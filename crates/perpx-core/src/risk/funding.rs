//! Funding: the periodic payment between longs and shorts that ties a perpetual to its index.
//!
//! Rates are defined per 8 hours and scaled to the market's interval (8 h, 4 h or 1 h):
//!
//! - premium sample `P = (max(0, impact_bid − index) − max(0, index − impact_ask)) / index`
//!   (an empty side contributes no premium);
//! - `F8 = avg(P) + clamp(I8 − avg(P), −c, +c)` with the interest rate `I8` (default 0.01 %) and
//!   the dampener `c` (default 0.05 %), capped at `±0.75 × (1/max_leverage − mmr(tier 1))`;
//! - with no samples in a period, `F8 = I8` (nothing is invented);
//! - `F = F8 × interval / 8 h`; each position pays `size × mark × F` (longs pay when `F > 0`).
//!
//! Rounding: a sample rounds towards zero (no premium is overstated); the average of samples
//! rounds towards zero; scaling to the interval rounds towards zero (the rate charged is never
//! above the published 8-hour rate's share). A payer pays its amount rounded **up**, a receiver
//! gets its share rounded **down**, and the difference goes to the insurance fund: settlement is
//! zero-sum to the unit (see [`settle`]).

use crate::num::{ArithmeticError, Price, Quote, Rate, div_rem, narrow};

/// Eight hours in milliseconds: the period funding rates are quoted for.
pub const EIGHT_HOURS_MS: i64 = 8 * 60 * 60 * 1000;
/// Milliseconds in a 365-day year, for APR.
pub const YEAR_MS: i64 = 365 * 24 * 60 * 60 * 1000;

fn div_toward_zero(n: i128, d: i128) -> i128 {
    n / d
}

/// One premium sample from the impact bid and ask (prices at which the impact notional would
/// fill), in 1e-8 of the index, rounded towards zero.
///
/// # Errors
/// [`ArithmeticError::DivisionByZero`] for a non-positive index.
pub fn premium_sample(
    index: Price,
    impact_bid: Option<Price>,
    impact_ask: Option<Price>,
) -> Result<Rate, ArithmeticError> {
    if index.0 <= 0 {
        return Err(ArithmeticError::DivisionByZero);
    }
    let above = impact_bid.map_or(0, |b| (b.0 - index.0).max(0));
    let below = impact_ask.map_or(0, |a| (index.0 - a.0).max(0));
    let num = i128::from(above - below) * Rate::SCALE;
    narrow(div_toward_zero(num, i128::from(index.0))).map(Rate)
}

/// The parameters of the rate formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingParams {
    /// Interest rate per 8 h (`I8`, default 0.01 %).
    pub interest_8h: Rate,
    /// Dampener around the interest rate (`c`, default 0.05 %).
    pub clamp: Rate,
    /// Cap on `|F8|`.
    pub cap_8h: Rate,
    /// The settlement interval in ms (8 h, 4 h, 1 h…).
    pub interval_ms: i64,
}

/// The cap `0.75 × (1/max_leverage − mmr₁)`, rounded down (a tighter cap, never a looser one).
#[must_use]
pub fn default_cap(max_leverage: u32, tier1_mmr: Rate) -> Rate {
    let initial = Rate::SCALE / i128::from(max_leverage.max(1));
    let gap = (initial - i128::from(tier1_mmr.0)).max(0);
    Rate(i64::try_from(gap * 3 / 4).unwrap_or(i64::MAX))
}

/// The 8-hour rate from the period's samples: `avg(P) + clamp(I8 − avg(P), −c, c)`, capped;
/// `I8` (capped) when there are no samples.
#[must_use]
pub fn rate_8h(samples: &[Rate], p: &FundingParams) -> Rate {
    let f8 = if samples.is_empty() {
        i128::from(p.interest_8h.0)
    } else {
        let sum: i128 = samples.iter().map(|s| i128::from(s.0)).sum();
        let avg = div_toward_zero(sum, samples.len() as i128);
        let c = i128::from(p.clamp.0);
        avg + (i128::from(p.interest_8h.0) - avg).clamp(-c, c)
    };
    let cap = i128::from(p.cap_8h.0);
    Rate(i64::try_from(f8.clamp(-cap, cap)).expect("clamped to an i64 cap"))
}

/// The rate for one interval: `F8 × interval / 8 h`, rounded towards zero.
#[must_use]
pub fn rate_for_interval(f8: Rate, interval_ms: i64) -> Rate {
    let v = div_toward_zero(i128::from(f8.0) * i128::from(interval_ms), i128::from(EIGHT_HOURS_MS));
    Rate(i64::try_from(v).expect("an interval of at most 8 h shrinks the rate"))
}

/// The rate as an annual percentage: `F × periods per year` (simple, not compounded — what
/// consumer-credit rules call the APR). The APR on margin at leverage `L` is `APR × L`.
#[must_use]
pub fn apr(rate: Rate, interval_ms: i64) -> Rate {
    let v = i128::from(rate.0) * i128::from(YEAR_MS) / i128::from(interval_ms.max(1));
    Rate(i64::try_from(v).unwrap_or(if v > 0 { i64::MAX } else { i64::MIN }))
}

/// One position's funding: `size × mark × F`, positive = the position pays. Payers' amounts are
/// rounded up, receivers' down.
///
/// # Errors
/// [`ArithmeticError::Overflow`] if the payment does not fit.
pub fn payment(signed_notional: i128, rate: Rate) -> Result<Quote, ArithmeticError> {
    let p = signed_notional * i128::from(rate.0);
    let s = Rate::SCALE;
    // Positive p: the position pays → round up; negative: it receives → round towards zero
    // (it receives less, never more than was paid).
    let v = if p >= 0 { div_rem(p + s - 1, s).0 } else { div_rem(p, s).0 };
    narrow(v).map(Quote)
}

/// Settles one funding period over positions given as signed notionals at mark (`size × mark`
/// in micro-units): returns each position's payment (positive pays) and the remainder that goes
/// to the insurance fund, with `Σ payments = remainder` exactly (paid = received + remainder).
///
/// # Errors
/// [`ArithmeticError::Overflow`] if an amount does not fit.
pub fn settle(signed_notionals: &[i128], rate: Rate) -> Result<(Vec<Quote>, Quote), ArithmeticError> {
    let payments = signed_notionals.iter().map(|n| payment(*n, rate)).collect::<Result<Vec<_>, _>>()?;
    let sum: i128 = payments.iter().map(|q| i128::from(q.0)).sum();
    Ok((payments, Quote(narrow(sum)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BP: i64 = 10_000; // one basis point in Rate units

    fn params(interval_h: i64) -> FundingParams {
        FundingParams {
            interest_8h: Rate(BP),
            clamp: Rate(5 * BP),
            cap_8h: Rate(75 * BP * 5),
            interval_ms: interval_h * 3_600_000,
        }
    }

    #[test]
    fn a_premium_sample_measures_impact_prices_against_the_index() {
        // Index 100.00 (ticks of 0.01 → 10,000); impact bid 100.10 → +0.1 %.
        assert_eq!(premium_sample(Price(10_000), Some(Price(10_010)), Some(Price(10_020))), Ok(Rate(100_000)));
        // Impact ask below the index → negative premium.
        assert_eq!(premium_sample(Price(10_000), Some(Price(9_970)), Some(Price(9_990))), Ok(Rate(-100_000)));
        // Inside the spread, or an empty side: no premium.
        assert_eq!(premium_sample(Price(10_000), Some(Price(9_999)), None), Ok(Rate(0)));
        assert_eq!(premium_sample(Price(0), None, None), Err(ArithmeticError::DivisionByZero));
    }

    #[test]
    fn the_clamp_pulls_small_premiums_to_the_interest_rate_and_the_cap_binds_large_ones() {
        let p = params(8);
        // avg P = 0.03 %: within c of I → F8 = I = 0.01 %.
        assert_eq!(rate_8h(&[Rate(3 * BP), Rate(3 * BP)], &p), Rate(BP));
        // avg P = 0.2 %: clamp(0.01 − 0.2, ±0.05) = −0.05 → 0.15 %.
        assert_eq!(rate_8h(&[Rate(20 * BP)], &p), Rate(15 * BP));
        // At 100x with a 0.5 % tier-1 MM the cap is 0.75 × (1 % − 0.5 %) = 0.375 %:
        // avg P = 3 % gives 2.95 %, capped at ±0.375 %.
        let capped = FundingParams { cap_8h: default_cap(100, Rate(50 * BP)), ..p };
        assert_eq!(capped.cap_8h, Rate(375_000));
        assert_eq!(rate_8h(&[Rate(300 * BP)], &capped), Rate(375_000));
        assert_eq!(rate_8h(&[Rate(-300 * BP)], &capped), Rate(-375_000));
        // A rate exactly at the cap is kept.
        assert_eq!(rate_8h(&[Rate(375_000 + 5 * BP)], &capped), Rate(375_000));
        // No samples: the interest rate alone.
        assert_eq!(rate_8h(&[], &p), Rate(BP));
    }

    #[test]
    fn one_hour_intervals_pay_an_eighth_of_the_eight_hour_rate() {
        assert_eq!(rate_for_interval(Rate(15 * BP), 8 * 3_600_000), Rate(15 * BP));
        assert_eq!(rate_for_interval(Rate(15 * BP), 3_600_000), Rate(15 * BP / 8));
        assert_eq!(rate_for_interval(Rate(-15 * BP), 4 * 3_600_000), Rate(-15 * BP / 2));
    }

    #[test]
    fn the_seeds_numbers_one_bp_per_8h_is_10_95_percent_apr_and_109_5_at_10x() {
        // "1 bp per 8 h = 3 bps/day; at 10x, 30 bps/day of margin; APR 10.95 % of notional".
        let a = apr(Rate(BP), EIGHT_HOURS_MS);
        assert_eq!(a, Rate(10_950_000)); // 10.95 %
        assert_eq!(Rate(a.0 * 10), Rate(109_500_000)); // 109.5 % on margin at 10x
        assert_eq!(apr(Rate(BP), EIGHT_HOURS_MS).0 / 365, 3 * BP); // 3 bp a day
    }

    #[test]
    fn settlement_is_zero_sum_with_the_rounding_remainder_to_the_fund() {
        // Longs 3 × 333.333333 and a short of 1,000: F = 0.01 %.
        let n = [333_333_333i128, 333_333_333, 333_333_334, -1_000_000_000];
        let (pay, remainder) = settle(&n, Rate(BP)).unwrap();
        // Each long pays ⌈33,333.3333⌉ = 33,334 micro; the short receives 100,000.
        assert_eq!(pay, vec![Quote(33_334), Quote(33_334), Quote(33_334), Quote(-100_000)]);
        assert_eq!(remainder, Quote(2));
    }

    proptest::proptest! {
        #[test]
        fn payers_never_pay_less_than_receivers_get(notionals in proptest::collection::vec(-1_000_000_000_000i128..1_000_000_000_000, 1..50), rate in -5_000_000i64..5_000_000) {
            // Make the positions balance (Σ size = 0) as open interest does.
            let mut n = notionals.clone();
            let total: i128 = n.iter().sum();
            n.push(-total);
            let (pay, remainder) = settle(&n, Rate(rate)).unwrap();
            let sum: i64 = pay.iter().map(|q| q.0).sum();
            proptest::prop_assert_eq!(sum, remainder.0);
            proptest::prop_assert!(remainder.0 >= 0);
            proptest::prop_assert!(remainder.0 <= i64::try_from(n.len()).unwrap());
        }
    }
}
