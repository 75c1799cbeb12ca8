//! `summary.json`: what one run did, in the engine's exact units written as decimal strings
//! (money with 6 decimals, prices on the tick, sizes on the lot, rates as fractions). Floats
//! appear only for the basis statistics and spot prices, rounded to 0.01. The field order is
//! fixed and lists are bounded, so the same seed gives the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

/// The whole summary of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// ADL policy per market (`BTC-PERP: queue`).
    pub adl_policy: BTreeMap<String, String>,
    /// Which waterfall: `scenario`, `crypto` (no guaranty fund) or `clearing_house`.
    pub waterfall: String,
    /// First step (RFC 3339).
    pub start: String,
    /// Last step.
    pub end: String,
    /// Steps after the start.
    pub steps: u64,
    /// Step length (ms).
    pub step_ms: i64,
    /// Agents by role.
    pub agents: BTreeMap<String, u64>,
    /// Commands applied (set-up included).
    pub commands: u64,
    /// Commands by kind (the JSON schema's names).
    pub commands_by_kind: BTreeMap<String, u64>,
    /// Commands the engine rejected (agents' orders refused for margin and the like).
    pub rejected: u64,
    /// Rejections by reason.
    pub rejections: BTreeMap<String, u64>,
    /// `check_invariants()` calls, every one passed (a failure stops the run).
    pub invariant_checks: u64,
    /// Per market.
    pub markets: Vec<MarketSummary>,
    /// Liquidations.
    pub liquidations: Liquidations,
    /// Deficits and who paid them.
    pub deficits: Deficits,
    /// The waterfall's funds over the run.
    pub waterfall_funds: Funds,
    /// Auto-deleveraging.
    pub adl: Adl,
    /// The basis traders (makers and arbitrageurs with a spot leg).
    pub basis_traders: BasisTraders,
    /// The engine's state hash after the last command.
    pub final_state_hash: String,
}

/// Start, extremes and end of a series.
#[derive(Debug, Clone, Serialize)]
pub struct Range<T> {
    /// At the start.
    pub start: T,
    /// Lowest.
    pub min: T,
    /// Highest.
    pub max: T,
    /// At the end.
    pub end: T,
}

/// One market.
#[derive(Debug, Clone, Serialize)]
pub struct MarketSummary {
    /// Its symbol.
    pub symbol: String,
    /// The spot path (USD, rounded to 0.01).
    pub spot: Range<f64>,
    /// Spot's largest fall from a high to a later low (%), rounded to 0.01.
    pub spot_drawdown_pct: f64,
    /// Trades.
    pub trades: u64,
    /// Traded notional (USD).
    pub volume: String,
    /// Open interest (base units).
    pub open_interest: Range<String>,
    /// Positions liquidated in this market (a unit's close counts once per market).
    pub positions_liquidated: u64,
    /// Notional closed by liquidation: in the book, by backstops, by ADL (USD).
    pub liquidated_notional: LiquidatedNotional,
    /// ADL trades in this market.
    pub adl_events: u64,
    /// Lots closed by ADL (base units).
    pub adl_qty: String,
    /// Funding.
    pub funding: Funding,
    /// `(perp mid − spot) / spot` in basis points, sampled every step (the mark when the book
    /// is one-sided).
    pub basis_bps: Stats,
    /// `(perp mid − index) / index` in basis points: the premium funding samples.
    pub premium_bps: Stats,
    /// The market's own insurance fund (USD).
    pub insurance_fund: Range<String>,
}

/// Liquidated notional by layer.
#[derive(Debug, Clone, Serialize)]
pub struct LiquidatedNotional {
    /// Total.
    pub total: String,
    /// Closed through the book.
    pub book: String,
    /// Taken over by backstop liquidators.
    pub backstop: String,
    /// Closed by ADL.
    pub adl: String,
}

/// Funding paid and received by side.
#[derive(Debug, Clone, Serialize)]
pub struct Funding {
    /// Settlements.
    pub settlements: u64,
    /// Settlements whose 8-hour rate was at the cap.
    pub settlements_at_cap: u64,
    /// Lowest 8-hour rate settled.
    pub rate_8h_min: String,
    /// Highest.
    pub rate_8h_max: String,
    /// The cap on the 8-hour rate.
    pub cap_8h: String,
    /// Highest APR settled (on notional).
    pub apr_max: String,
    /// Longs paid (USD).
    pub longs_paid: String,
    /// Longs received.
    pub longs_received: String,
    /// Shorts paid.
    pub shorts_paid: String,
    /// Shorts received.
    pub shorts_received: String,
}

/// Float statistics.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Observations.
    pub samples: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
}

/// Liquidations over the run.
#[derive(Debug, Clone, Serialize)]
pub struct Liquidations {
    /// Units queued.
    pub queued: u64,
    /// Units whose liquidation started.
    pub started: u64,
    /// Ended partial (back above maintenance).
    pub partial: u64,
    /// Closed out.
    pub closed_out: u64,
    /// Stalled (waited for a later pass).
    pub stalled: u64,
    /// Averted at their turn.
    pub averted: u64,
    /// Distinct accounts liquidated.
    pub accounts: u64,
    /// Notional closed (USD).
    pub notional: String,
    /// Liquidation fees into the funds.
    pub fees_to_funds: String,
    /// Backstop takeovers.
    pub backstop_takeovers: u64,
    /// Gaps the funds paid to backstop liquidators.
    pub backstop_gaps_paid: String,
    /// The minute with the most liquidations started.
    pub peak_minute: Option<PeakMinute>,
}

/// The busiest minute.
#[derive(Debug, Clone, Serialize)]
pub struct PeakMinute {
    /// Its start.
    pub at: String,
    /// Liquidations started in it.
    pub count: u64,
}

/// Deficits: backstop gaps and closed-out negative balances, by the layer that paid.
#[derive(Debug, Clone, Serialize)]
pub struct Deficits {
    /// Everything the funds paid plus what nothing covered.
    pub total: String,
    /// Paid by the markets' own insurance funds.
    pub insurance: String,
    /// Paid by the shared insurance fund.
    pub shared_insurance: String,
    /// Paid by the guaranty fund.
    pub guaranty: String,
    /// Covered by no layer (the engine's `uncovered`).
    pub uncovered: String,
}

/// The funds' paths.
#[derive(Debug, Clone, Serialize)]
pub struct Funds {
    /// Every insurance fund together (USD).
    pub insurance_total: Range<String>,
    /// Each fund.
    pub funds: Vec<FundPath>,
    /// The waterfall layers that paid anything, in order (`insurance`, `shared_insurance`,
    /// `guaranty`, `adl`).
    pub layers_used: Vec<String>,
}

/// One fund's path.
#[derive(Debug, Clone, Serialize)]
pub struct FundPath {
    /// `insurance:SYMBOL`, `shared_insurance` or `guaranty`.
    pub fund: String,
    /// Its balance over the run (USD).
    pub balance: Range<String>,
}

/// Auto-deleveraging over the run.
#[derive(Debug, Clone, Serialize)]
pub struct Adl {
    /// ADL trades (one per winner per bankrupt position).
    pub events: u64,
    /// Bankrupt positions that went to ADL.
    pub bankruptcies: u64,
    /// Distinct winners hit.
    pub accounts_hit: u64,
    /// Notional closed (USD).
    pub notional: String,
    /// Profit the winners gave up against closing at mark (USD).
    pub profit_given_up: String,
    /// The largest single account's share of what was given up (fraction).
    pub largest_share: String,
    /// Gini coefficient of what was given up over every winner that was eligible at any ADL.
    pub gini: String,
    /// The largest single account's share of the notional closed by ADL (an ADL at the mark
    /// takes positions, not profit: this is its haircut).
    pub closed_largest_share: String,
    /// Gini coefficient of the notional closed over the same winners.
    pub closed_gini: String,
    /// The highest leverage left on a winning side right after an ADL (`null`: none).
    pub max_leverage_left: Option<String>,
    /// The ADL trades (the first ones, bounded).
    pub trades: Vec<AdlTrade>,
    /// ADL trades left out of the list.
    pub trades_omitted: u64,
    /// What each policy would have done at each ADL, on the same positions (the engine's
    /// `adl_compare` at the moment it ran), bounded.
    pub per_event_comparison: Vec<AdlComparisonRecord>,
    /// Comparisons left out of the list.
    pub comparisons_omitted: u64,
    /// Per policy, over every ADL of the run.
    pub policy_totals: Vec<PolicyTotals>,
}

/// One ADL trade.
#[derive(Debug, Clone, Serialize)]
pub struct AdlTrade {
    /// When.
    pub at: String,
    /// The market.
    pub market: String,
    /// The winner deleveraged.
    pub account: u64,
    /// Its role.
    pub role: String,
    /// The bankrupt account.
    pub bankrupt: u64,
    /// Size closed (base units; the winner's side).
    pub qty: String,
    /// Price.
    pub price: String,
    /// Notional (USD).
    pub notional: String,
    /// Profit given up (USD).
    pub profit_given_up: String,
}

/// The three policies at one ADL.
#[derive(Debug, Clone, Serialize)]
pub struct AdlComparisonRecord {
    /// When.
    pub at: String,
    /// The market.
    pub market: String,
    /// The bankrupt account.
    pub bankrupt: u64,
    /// Size to ADL (base units).
    pub qty: String,
    /// Price.
    pub price: String,
    /// The policy in force.
    pub in_force: String,
    /// One per policy.
    pub outcomes: Vec<PolicyOutcome>,
}

/// One policy's allocation at one ADL.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyOutcome {
    /// The policy.
    pub policy: String,
    /// Accounts hit.
    pub accounts_hit: u64,
    /// Value given up (USD).
    pub given_up: String,
    /// Largest single share (fraction).
    pub largest_share: String,
    /// Gini over the eligible winners.
    pub gini: String,
    /// Highest leverage left on the side (`null`: a position without equity is left).
    pub max_leverage_left: Option<String>,
}

/// One policy over every ADL of a run (per-event comparisons summed).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyTotals {
    /// The policy.
    pub policy: String,
    /// Σ accounts hit.
    pub accounts_hit: u64,
    /// Σ notional closed (USD).
    pub notional: String,
    /// Σ value given up (USD).
    pub given_up: String,
    /// Mean of the events' largest share.
    pub mean_largest_share: String,
    /// Mean Gini.
    pub mean_gini: String,
    /// Highest leverage left after any event (`null`: unbounded).
    pub max_leverage_left: Option<String>,
}

/// The basis traders.
#[derive(Debug, Clone, Serialize)]
pub struct BasisTraders {
    /// Makers and arbitrageurs with a spot leg.
    pub accounts: u64,
    /// ADL trades that hit one.
    pub adl_hits: u64,
    /// Spot exposure left unhedged by those ADL trades, at the ADL price (USD).
    pub unhedged_created_notional: String,
    /// The same in base units per market.
    pub unhedged_created_qty: BTreeMap<String, String>,
    /// Net exposure (`spot + perp`) of each hit trader right after the ADL (bounded list).
    pub net_exposure_after_adl: Vec<NetExposure>,
    /// The largest net exposure seen right after an ADL (USD at spot).
    pub max_net_exposure_after_adl: f64,
    /// Σ |net exposure| of all basis traders at the end (USD at spot), rounded to 0.01.
    pub end_net_exposure: f64,
    /// Σ spot-leg fees paid (USD).
    pub spot_fees: f64,
}

/// A basis trader's net exposure at a moment.
#[derive(Debug, Clone, Serialize)]
pub struct NetExposure {
    /// When.
    pub at: String,
    /// The account.
    pub account: u64,
    /// Its role.
    pub role: String,
    /// The market.
    pub market: String,
    /// Perp position (base units).
    pub perp: String,
    /// Spot holding (base units).
    pub spot: String,
    /// `perp + spot` (base units).
    pub net: String,
    /// Its value at spot (USD), rounded to 0.01.
    pub net_notional: f64,
}
