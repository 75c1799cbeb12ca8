//! What the observer hands out: the time series, its rows, and the integer figures Monte Carlo
//! and comparisons are built from.

use perpx_core::{Price, Qty, Quote, Rate};

/// One sample of the time series (per market, every report interval).
#[derive(Debug, Clone)]
pub struct Row {
    /// Time (ms).
    pub ts: i64,
    /// The market's index.
    pub market: usize,
    /// Spot (the path).
    pub spot: f64,
    /// Index, mark, last trade, best bid and ask.
    pub index: Option<Price>,
    /// The mark.
    pub mark: Option<Price>,
    /// The last trade price.
    pub last: Option<Price>,
    /// Best bid.
    pub bid: Option<Price>,
    /// Best ask.
    pub ask: Option<Price>,
    /// Predicted 8-hour funding rate.
    pub rate_8h: Rate,
    /// Its APR on notional.
    pub apr: Rate,
    /// Open interest.
    pub open_interest: Qty,
    /// The market's own insurance fund.
    pub insurance: Quote,
    /// The shared insurance fund.
    pub shared: Quote,
    /// The guaranty fund.
    pub guaranty: Quote,
    /// Positions liquidated in the interval.
    pub liquidations: u64,
    /// Notional they closed.
    pub liquidated_notional: Quote,
    /// ADL trades in the interval.
    pub adl_events: u64,
    /// Their notional.
    pub adl_notional: Quote,
    /// Bids within 1 % of the index (USD notional).
    pub depth_bid: Quote,
    /// Asks within 1 % of the index.
    pub depth_ask: Quote,
}

/// The time series of a run.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Every sample, in time then market order.
    pub rows: Vec<Row>,
    /// ADL trades `(ts, market, notional)`.
    pub adl_points: Vec<(i64, usize, Quote)>,
    /// Liquidations started per minute `(minute start, count)`.
    pub per_minute: Vec<(i64, u64)>,
}

/// The integer figures Monte Carlo and comparisons are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    /// Liquidations started.
    pub liquidations: u64,
    /// Notional closed by liquidation (micro-units).
    pub liquidated_notional: i128,
    /// Deficits paid by a fund or uncovered.
    pub deficits: i64,
    /// Uncovered.
    pub uncovered: i64,
    /// All insurance funds at the start, their lowest total, at the end.
    pub insurance_start: i64,
    /// Lowest total.
    pub insurance_min: i64,
    /// At the end.
    pub insurance_end: i64,
    /// Paid by the guaranty fund.
    pub guaranty_used: i64,
    /// ADL trades.
    pub adl_events: u64,
    /// Bankrupt positions sent to ADL.
    pub adl_bankruptcies: u64,
    /// Winners hit.
    pub adl_accounts_hit: u64,
    /// ADL notional.
    pub adl_notional: i128,
    /// Profit given up.
    pub adl_given_up: i128,
    /// Largest single share (1e-8).
    pub largest_share: i128,
    /// Gini over eligible winners (1e-8).
    pub gini: i128,
    /// Largest single share of the notional closed by ADL (1e-8).
    pub closed_largest_share: i128,
    /// Gini of the notional closed over eligible winners (1e-8).
    pub closed_gini: i128,
    /// Highest leverage left on a winning side (1e-8; `None`: no ADL, `Some(i128::MAX)`: a
    /// position without equity left).
    pub max_leverage_left: Option<i128>,
    /// Spot exposure ADL left unhedged (micro-units at the ADL price).
    pub unhedged_notional: i128,
    /// ADL trades on basis traders.
    pub basis_adl_hits: u64,
}
