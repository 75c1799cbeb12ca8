//! Pure risk math: functions over plain values, no state. The engine's controllers call them
//! and apply the results. Each function's doc gives its formula and rounding.
//!
//! - [`margin`]: notional, initial and maintenance margin, the open-order reserve;
//! - [`position`]: how a fill changes a position's size, cost basis and realised PnL;
//! - [`adl`]: who gives up how much under each auto-deleveraging policy;
//! - [`fees`]: maker and taker fees;
//! - [`funding`]: premium samples, the funding rate, APR and zero-sum settlement;
//! - [`liquidation`]: bankruptcy prices, the liquidation fee, the partial-close buffer, ADL ranks.

pub mod adl;
pub mod fees;
pub mod funding;
pub mod liquidation;
pub mod margin;
pub mod position;
