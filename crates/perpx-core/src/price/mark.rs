//! The mark price: what positions are valued at, liquidations are triggered by and funding is
//! paid on. It must be hard to move with one trade or a thin book.
//!
//! `mark = median(p1, p2, p3)` clamped to `index × (1 ± mark_band)`, where
//! - `p1 = index × (1 + last funding rate × time to next funding / interval)` (the fair price
//!   implied by funding),
//! - `p2 = index + moving average of (mid − index)` (the book's basis, averaged),
//! - `p3 = last trade price`.
//!
//! A missing candidate (no trade yet, no book) is left out: the median of two is the lower one,
//! of one is itself. The clamp to the index band is what makes a single print at any price
//! unable to move the mark more than the band.

use crate::num::{Price, Rate, mul_div_floor};

/// The inputs of the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkInputs {
    /// The index.
    pub index: Price,
    /// The last funding rate (per interval).
    pub last_funding_rate: Rate,
    /// Time to the next funding (ms).
    pub time_to_funding_ms: i64,
    /// The funding interval (ms).
    pub interval_ms: i64,
    /// Moving average of `mid − index` in ticks, if the book had a mid.
    pub basis_average: Option<i64>,
    /// The last trade price, if any.
    pub last_trade: Option<Price>,
    /// How far mark may be from the index.
    pub mark_band: Rate,
}

/// The mark price from its inputs.
#[must_use]
pub fn mark_price(m: &MarkInputs) -> Price {
    mark_from_funding_term(m, funding_term(m))
}

/// The mark price from its inputs, and the span `lo..=hi` of `time_to_funding_ms` over which
/// the mark from the same inputs, the clock apart, is the same.
///
/// Why: the engine derives every oracle market's mark at every command, because the clock
/// moves the funding-basis term `p1`. But `p1` reads the clock only through
/// `⌊rate × time_to_funding / interval⌋`, which changes once in `interval / |rate|`
/// milliseconds (every 2.88 s at 0.01 % a period of 8 h, never at a rate of 0):
/// while the clock stays in the span and no other input changes, the engine can keep the mark
/// it has (`Market::mark_memo`; docs/PERFORMANCE.md, "Session 31").
///
/// With `r` the rate, `I` the interval (at least 1) and `s` the term at `t`, the term is `s`
/// for every `t'` with `s·I ≤ r·t' < (s + 1)·I`: for `r > 0`, `⌈s·I / r⌉ ≤ t' ≤
/// ⌊((s + 1)·I − 1) / r⌋`; for `r < 0`, `⌊−(s + 1)·I / |r|⌋ + 1 ≤ t' ≤ ⌊−s·I / |r|⌋`; for
/// `r = 0`, every `t'`. An overflow in the term (which then counts as 0) gives the span of `t`
/// alone.
#[must_use]
pub fn mark_price_span(m: &MarkInputs) -> (Price, (i64, i64)) {
    let term = funding_term(m);
    let t = m.time_to_funding_ms;
    let span = match term {
        None => (t, t),
        Some(s) => {
            let (r, i) = (i128::from(m.last_funding_rate.0), i128::from(m.interval_ms.max(1)));
            let clamp = |x: i128| i64::try_from(x.clamp(i128::from(i64::MIN), i128::from(i64::MAX))).expect("clamped");
            match r.signum() {
                0 => (i64::MIN, i64::MAX),
                1 => (clamp(-(-(s * i)).div_euclid(r)), clamp(((s + 1) * i - 1).div_euclid(r))),
                _ => (clamp((-(s + 1) * i).div_euclid(-r) + 1), clamp((-s * i).div_euclid(-r))),
            }
        }
    };
    debug_assert!(span.0 <= t && t <= span.1, "the span holds the time it was computed at");
    (mark_from_funding_term(m, term), span)
}

/// `⌊rate × time_to_funding / interval⌋`, the funding basis's share of the period left, or
/// `None` if it overflows.
fn funding_term(m: &MarkInputs) -> Option<i128> {
    mul_div_floor(i128::from(m.last_funding_rate.0), i128::from(m.time_to_funding_ms), i128::from(m.interval_ms.max(1)))
        .ok()
}

/// The mark from its inputs with the funding term already worked out (`None`, an overflow,
/// counts as 0).
fn mark_from_funding_term(m: &MarkInputs, term: Option<i128>) -> Price {
    let index = i128::from(m.index.0);
    let scaled = term.unwrap_or(0);
    let p1 = index + mul_div_floor(index, scaled, Rate::SCALE).unwrap_or(0);
    // At most three candidates, kept on the stack: this runs for every oracle market at every
    // command.
    let mut candidates = [p1, 0, 0];
    let mut n = 1;
    if let Some(b) = m.basis_average {
        candidates[n] = index + i128::from(b);
        n += 1;
    }
    if let Some(t) = m.last_trade {
        candidates[n] = i128::from(t.0);
        n += 1;
    }
    let candidates = &mut candidates[..n];
    candidates.sort_unstable();
    let median = candidates[(n - 1) / 2];
    let band = mul_div_floor(index, i128::from(m.mark_band.0), Rate::SCALE).unwrap_or(0);
    let clamped = median.clamp(index - band, index + band).max(1);
    Price(i64::try_from(clamped).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> MarkInputs {
        MarkInputs {
            index: Price(100_000),
            last_funding_rate: Rate(10_000), // 0.01 %
            time_to_funding_ms: 4 * 3_600_000,
            interval_ms: 8 * 3_600_000,
            basis_average: Some(20),
            last_trade: Some(Price(100_030)),
            mark_band: Rate(500_000), // 0.5 %
        }
    }

    #[test]
    fn the_mark_is_the_median_of_the_three_fair_prices() {
        // p1 = 100,000 × (1 + 0.01 % × ½) = 100,005; p2 = 100,020; p3 = 100,030 → 100,020.
        assert_eq!(mark_price(&inputs()), Price(100_020));
    }

    #[test]
    fn one_wild_trade_cannot_move_the_mark_and_the_band_caps_everything() {
        // A single print at twice the price: the median stays on the other two candidates.
        let wild = MarkInputs { last_trade: Some(Price(200_000)), ..inputs() };
        assert_eq!(mark_price(&wild), Price(100_020));
        // A thin book dragging the basis far away too: the band around the index caps it.
        let thin = MarkInputs { basis_average: Some(50_000), ..wild };
        assert_eq!(mark_price(&thin), Price(100_500));
        // No trade and no book: the funding-implied price alone.
        let bare = MarkInputs { basis_average: None, last_trade: None, ..inputs() };
        assert_eq!(mark_price(&bare), Price(100_005));
    }

    #[test]
    fn the_mark_holds_while_the_funding_term_keeps_its_value() {
        // 0.01 % over 8 h, 4 h to go: the term is 5,000 (in 10⁻⁸) from exactly 4 h up to the
        // last millisecond before 10,000 × t reaches 5,001 × 8 h, 2,880 ms later.
        let (mark, span) = mark_price_span(&inputs());
        assert_eq!(mark, mark_price(&inputs()));
        assert_eq!(span, (4 * 3_600_000, 4 * 3_600_000 + 2_879));
        // A negative rate: the term is −5,000 over the mirror span.
        let negative = MarkInputs { last_funding_rate: Rate(-10_000), ..inputs() };
        assert_eq!(mark_price_span(&negative).1, (4 * 3_600_000 - 2_879, 4 * 3_600_000));
        // No rate: the clock doesn't enter the mark at all.
        let flat = MarkInputs { last_funding_rate: Rate(0), ..inputs() };
        assert_eq!(mark_price_span(&flat).1, (i64::MIN, i64::MAX));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Inside the span every time gives the same mark (checked at both ends and a point
        /// between), and one step outside it the funding term has changed: the span is exact.
        #[test]
        fn the_span_is_exactly_the_times_with_the_same_funding_term(
            index in 1i64..=10_000_000_000,
            rate in -5_000_000i64..=5_000_000,
            interval in 1i64..=86_400_000,
            ttf_share in 0u32..=1_000,
            basis in proptest::option::of(-100_000i64..=100_000),
            trade in proptest::option::of(1i64..=10_000_000_000),
            band in 0i64..=10_000_000,
            pick in 0u32..=1_000,
        ) {
            let t = interval * i64::from(ttf_share) / 1_000;
            let m = MarkInputs {
                index: Price(index),
                last_funding_rate: Rate(rate),
                time_to_funding_ms: t,
                interval_ms: interval,
                basis_average: basis,
                last_trade: trade.map(Price),
                mark_band: Rate(band),
            };
            let (mark, (lo, hi)) = mark_price_span(&m);
            proptest::prop_assert_eq!(mark, mark_price(&m));
            proptest::prop_assert!(lo <= t && t <= hi);
            let at = |t: i64| MarkInputs { time_to_funding_ms: t, ..m };
            let inside = lo.max(t - 10_000_000) + (hi.min(t + 10_000_000) - lo.max(t - 10_000_000)) / 1_000 * i64::from(pick);
            for t2 in [lo.max(-1_000_000_000), hi.min(1_000_000_000), inside] {
                if lo <= t2 && t2 <= hi {
                    proptest::prop_assert_eq!(funding_term(&at(t2)), funding_term(&m), "at {}", t2);
                    proptest::prop_assert_eq!(mark_price(&at(t2)), mark, "at {}", t2);
                }
            }
            if rate != 0 {
                proptest::prop_assert_ne!(funding_term(&at(lo - 1)), funding_term(&m));
                proptest::prop_assert_ne!(funding_term(&at(hi + 1)), funding_term(&m));
            }
        }
    }
}
