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
    let index = i128::from(m.index.0);
    let scaled = mul_div_floor(
        i128::from(m.last_funding_rate.0),
        i128::from(m.time_to_funding_ms),
        i128::from(m.interval_ms.max(1)),
    )
    .unwrap_or(0);
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
}
