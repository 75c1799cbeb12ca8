//! The spot leg of a basis trader, kept by the simulator: spot trades happen on another venue,
//! at the path's spot price plus a fee, so perpx never sees them. The leg is what turns an ADL
//! of a hedged perp position into open exposure: after the cut, `spot + perp ≠ 0` until the
//! trader re-hedges.

// Spot is not perpx money: its cash is tracked in floats, like the path it trades on.
#![allow(clippy::float_arithmetic)]

use std::collections::VecDeque;

/// A spot position and the cash it cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpotLeg {
    /// Spot held, in the perp market's lots (positive: long).
    pub lots: i64,
    /// Cash spent (negative) or received on spot, USD.
    pub cash: f64,
    /// Spot fees paid, USD.
    pub fees: f64,
    /// Spot trades made.
    pub trades: u64,
    /// The step since which the target has differed from the holding.
    pending_since: Option<usize>,
}

impl SpotLeg {
    /// Moves the holding to `target` lots once it has differed for `delay_steps`: one trade at
    /// `price` (USD per base unit) paying `fee` (a fraction). Returns whether it traded.
    pub fn hedge(&mut self, target: i64, step: usize, delay_steps: usize, price: f64, lot: f64, fee: f64) -> bool {
        if target == self.lots {
            self.pending_since = None;
            return false;
        }
        let since = *self.pending_since.get_or_insert(step);
        if step < since + delay_steps {
            return false;
        }
        let dq = target - self.lots;
        let notional = dq as f64 * lot * price;
        self.cash -= notional;
        self.fees += notional.abs() * fee;
        self.cash -= notional.abs() * fee;
        self.lots = target;
        self.trades += 1;
        self.pending_since = None;
        true
    }

    /// The leg's value at `price`: cash plus holding.
    #[must_use]
    pub fn value(&self, price: f64, lot: f64) -> f64 {
        self.cash + self.lots as f64 * lot * price
    }
}

/// Annualised realised volatility of the last `window` one-step log returns: `√(Σ r² / n × steps
/// a year)`; zero with fewer than two returns.
#[must_use]
pub fn realised_vol(returns: &VecDeque<f64>, window: usize, step_ms: i64) -> f64 {
    let n = returns.len().min(window);
    if n < 2 {
        return 0.0;
    }
    let ss: f64 = returns.iter().rev().take(n).map(|r| r * r).sum();
    let per_year = 365.25 * 86_400_000.0 / step_ms as f64;
    (ss / n as f64 * per_year).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hedge_waits_its_delay_and_trades_to_the_target_then() {
        let mut leg = SpotLeg::default();
        assert!(!leg.hedge(10, 5, 3, 100.0, 1.0, 0.001), "first seen at step 5");
        assert!(!leg.hedge(10, 7, 3, 100.0, 1.0, 0.001));
        assert!(leg.hedge(12, 8, 3, 100.0, 1.0, 0.001), "trades to the target of the moment");
        assert_eq!(leg.lots, 12);
        assert!((leg.cash + 1_200.0 + 1.2).abs() < 1e-9);
        assert!((leg.value(110.0, 1.0) - (1_320.0 - 1_201.2)).abs() < 1e-9);
    }
}
