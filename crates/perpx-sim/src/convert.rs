//! The one border between the simulator's floating-point world (price paths, agents' decisions,
//! chart coordinates) and the engine's integers (`Price` ticks, `Qty` lots, `Quote` micro-units).
//!
//! Agents decide in floats the way a market's order flow "decides": that is input, not money
//! math. Every value that enters a `Command` is converted here, explicitly rounded, range-checked
//! and never wrapped; every value the engine returns is read back exactly before it is shown.

// Floats are the agents' and price paths' currency; this module converts them to engine
// integers, so it is the one place besides those modules where float arithmetic is needed.
#![allow(clippy::float_arithmetic)]

use perpx_core::market::Market;
use perpx_core::num::Decimal;
use perpx_core::{MarketId, Price, Qty, Quote, Rate};

/// A decimal as a float (for display and for agents' arithmetic only).
#[must_use]
pub fn decimal_f64(d: Decimal) -> f64 {
    let mut v = d.mantissa as f64;
    for _ in 0..d.scale {
        v /= 10.0;
    }
    v
}

/// A float rounded to the nearest integer, `None` if it is not finite or does not fit an `i64`.
#[must_use]
pub fn round_i64(v: f64) -> Option<i64> {
    let r = v.round();
    // i64::MAX as f64 rounds up to 2^63, so the bound is exclusive.
    #[allow(clippy::cast_possible_truncation)]
    (r.is_finite() && r > -9.2e18 && r < 9.2e18).then_some(r as i64)
}

/// A float rounded down, `None` if it is not finite or does not fit.
#[must_use]
pub fn floor_i64(v: f64) -> Option<i64> {
    round_i64(v.floor())
}

/// A `Quote` in units of the stablecoin (for display and agents).
#[must_use]
pub fn quote_f64(q: Quote) -> f64 {
    q.0 as f64 / 1e6
}

/// An amount of the stablecoin as a `Quote`, rounded down to the micro-unit.
#[must_use]
pub fn usd_quote(usd: f64) -> Option<Quote> {
    floor_i64(usd * 1e6).map(Quote)
}

/// A `Rate` as a fraction.
#[must_use]
pub fn rate_f64(r: Rate) -> f64 {
    r.0 as f64 / 1e8
}

/// What the simulator needs to know about one market to speak the engine's units.
#[derive(Debug, Clone)]
pub struct Units {
    /// The market's id.
    pub id: MarketId,
    /// Its symbol.
    pub symbol: String,
    /// Tick and lot as decimals (for exact formatting).
    pub tick: Decimal,
    /// The lot.
    pub lot: Decimal,
    /// Tick size in the stablecoin (float).
    pub tick_f: f64,
    /// Lot size in base units (float).
    pub lot_f: f64,
    /// Micro-units per tick per lot.
    pub quote_per_tick_lot: i64,
    /// The market's maximum leverage.
    pub max_leverage: u32,
    /// The smallest order size.
    pub min_qty: Qty,
    /// The order band as a fraction.
    pub order_band: f64,
    /// `(max_notional in USD, max_leverage)` of each tier, ascending.
    pub tiers: Vec<(f64, u32)>,
}

impl Units {
    /// The units of `m`.
    #[must_use]
    pub fn of(m: &Market) -> Self {
        Self {
            id: m.id,
            symbol: m.spec.symbol.clone(),
            tick: m.spec.tick_size,
            lot: m.spec.lot_size,
            tick_f: decimal_f64(m.spec.tick_size),
            lot_f: decimal_f64(m.spec.lot_size),
            quote_per_tick_lot: m.quote_per_tick_lot,
            max_leverage: m.spec.max_leverage,
            min_qty: m.spec.min_qty,
            order_band: rate_f64(m.spec.order_band),
            tiers: m.spec.tiers.iter().map(|t| (quote_f64(t.max_notional), t.max_leverage)).collect(),
        }
    }

    /// A price in ticks as a float price.
    #[must_use]
    pub fn price_f64(&self, p: Price) -> f64 {
        p.0 as f64 * self.tick_f
    }

    /// A float price rounded to the nearest tick (at least one tick).
    #[must_use]
    pub fn ticks(&self, price: f64) -> Option<Price> {
        round_i64(price / self.tick_f).filter(|t| *t >= 1).map(Price)
    }

    /// A float price rounded down to a tick (a bid never rounds up into the spread).
    #[must_use]
    pub fn ticks_down(&self, price: f64) -> Option<Price> {
        floor_i64(price / self.tick_f).filter(|t| *t >= 1).map(Price)
    }

    /// A float price rounded up to a tick (an ask never rounds down into the spread).
    #[must_use]
    pub fn ticks_up(&self, price: f64) -> Option<Price> {
        round_i64((price / self.tick_f).ceil()).filter(|t| *t >= 1).map(Price)
    }

    /// Lots in base units (float).
    #[must_use]
    pub fn qty_f64(&self, q: Qty) -> f64 {
        q.0 as f64 * self.lot_f
    }

    /// The whole lots of `notional` USD at `price`, rounded down (zero if it doesn't reach one).
    #[must_use]
    pub fn lots_for(&self, notional: f64, price: f64) -> Qty {
        if !(notional > 0.0 && price > 0.0) {
            return Qty(0);
        }
        Qty(floor_i64(notional / (price * self.lot_f)).unwrap_or(0).max(0))
    }

    /// `lots × price` in USD (float).
    #[must_use]
    pub fn notional_f64(&self, lots: i64, price: f64) -> f64 {
        lots as f64 * self.lot_f * price
    }

    /// The largest notional a position at `leverage` may reach: the cap of the last tier that
    /// still allows that leverage.
    #[must_use]
    pub fn max_notional_at(&self, leverage: u32) -> f64 {
        self.tiers.iter().filter(|(_, l)| *l >= leverage).map(|(n, _)| *n).fold(0.0, f64::max)
    }

    /// Clamps a float price to the order band around `mark` (both in the stablecoin), as ticks.
    #[must_use]
    pub fn in_band(&self, price: f64, mark: Price) -> Option<Price> {
        let m = self.price_f64(mark);
        // A hair inside the band, so the engine's rounding of its edges never refuses it.
        let (lo, hi) = (m * (1.0 - self.order_band * 0.98), m * (1.0 + self.order_band * 0.98));
        self.ticks(price.clamp(lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_explicitly_and_refuse_what_does_not_fit() {
        assert_eq!(decimal_f64(Decimal::new(1, 1)), 0.1);
        assert_eq!(round_i64(2.5), Some(3));
        assert_eq!(round_i64(f64::NAN), None);
        assert_eq!(round_i64(1e30), None);
        assert_eq!(floor_i64(-0.5), Some(-1));
        assert_eq!(usd_quote(1.234_567_89), Some(Quote(1_234_567)));
        assert_eq!(quote_f64(Quote(2_500_000)), 2.5);
    }
}
