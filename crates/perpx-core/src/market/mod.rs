//! Markets: what is traded and under which rules.
//!
//! A [`MarketSpec`] is what an admin submits; [`MarketSpec::validate`] checks it and derives
//! the one number the engine's money arithmetic needs, `quote_per_tick_lot` (the value in
//! micro-units of one tick on one lot). A live [`Market`] is the spec plus its book, mark, oracle and funding state.

mod funding;
mod holders;
mod liquidation;
mod oracle;
mod safe_band;
mod spec;
mod state;
mod tiers;

pub use funding::{FUNDING_INTERVALS_MS, FundingSpec, FundingState, HOUR_MS, next_multiple_after};
pub use liquidation::{AdlPolicy, InsurancePolicy, LiquidationSpec};
pub use oracle::{
    MAX_MARK_BASIS_SAMPLES, MAX_ORACLE_SOURCES, OracleSource, OracleSpec, OracleStage, OracleState, SourceStatus,
};
pub(crate) use safe_band::funding_shrink;
pub use safe_band::{MAX_SHARED_POSITIONS, SafeBand, shared_headroom};
pub use spec::{MarginTier, MarketLimits, MarketSpec, ValidMarket};
pub use state::{HolderIds, Market, MarketStatus};
pub(crate) use state::{IndexCache, MarkKey, MarkMemo};
pub use tiers::tier_for_notional;
