//! Markets: what is traded and under which rules.
//!
//! A [`MarketSpec`] is what an admin submits; [`MarketSpec::validate`] checks it and derives
//! the one number the engine's money arithmetic needs, `quote_per_tick_lot` (the value in
//! micro-units of one tick on one lot). A live [`Market`] is the spec plus its book and mark.

mod spec;
mod state;
mod tiers;

pub use spec::{MarginTier, MarketLimits, MarketSpec, ValidMarket};
pub use state::{Market, MarketStatus};
pub use tiers::tier_for_notional;
