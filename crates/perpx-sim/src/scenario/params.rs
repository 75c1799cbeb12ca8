//! Agent populations as a scenario file describes them: `[[agents.trader]]`, `[[agents.maker]]`,
//! `[[agents.arbitrageur]]`, `[[agents.liquidator]]`. Each table is one population: a count and
//! the parameters (numbers or [`Dist`]ributions) its agents draw from. The behaviour itself lives
//! in [`crate::agents`]; `docs/SIMULATOR.md` lists every key.

use serde::Deserialize;
use toml::Spanned;

use super::dist::Dist;

fn half() -> f64 {
    0.5
}
fn size_share() -> f64 {
    0.9
}
fn slippage() -> f64 {
    0.01
}
fn stop_pct() -> Dist {
    Dist::fixed(0.05)
}
fn never() -> Dist {
    Dist::fixed(f64::INFINITY)
}
fn maker_leverage() -> u32 {
    10
}
fn arb_leverage() -> u32 {
    5
}
fn spread_bps() -> f64 {
    10.0
}
fn levels() -> u32 {
    3
}
fn level_step_bps() -> f64 {
    10.0
}
fn skew_bps() -> f64 {
    20.0
}
fn requote_secs() -> f64 {
    1.0
}
fn requote_bps() -> f64 {
    2.0
}
fn vol_window_secs() -> f64 {
    300.0
}
fn pull_minutes() -> f64 {
    10.0
}
fn yes() -> bool {
    true
}
fn hedge_delay_secs() -> f64 {
    5.0
}
fn spot_fee_bps() -> f64 {
    1.0
}
fn entry_bps() -> f64 {
    15.0
}
fn exit_bps() -> f64 {
    3.0
}
fn arb_interval_secs() -> f64 {
    10.0
}
fn unwind_secs() -> f64 {
    30.0
}
fn unwind_share() -> f64 {
    0.25
}

/// Leveraged traders: they open a position, hold it, maybe protect it with a stop, close it,
/// wait, and do it again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraderParams {
    /// A label for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The market they trade.
    pub market: Spanned<String>,
    /// How many.
    pub count: u32,
    /// Collateral each deposits (USD).
    pub capital: Dist,
    /// Leverage of each position, rounded to a whole number, 1 up to the market's maximum.
    pub leverage: Dist,
    /// The probability that a position is long.
    #[serde(default = "half")]
    pub long_bias: f64,
    /// How long a position is held (minutes).
    pub hold_minutes: Dist,
    /// How long a trader waits between positions (minutes).
    pub wait_minutes: Dist,
    /// The share of positions protected by a stop.
    #[serde(default)]
    pub stop_share: f64,
    /// The stop's distance from the entry, as a fraction of it.
    #[serde(default = "stop_pct")]
    pub stop_pct: Dist,
    /// The share of the largest position the leverage allows that a trader opens.
    #[serde(default = "size_share")]
    pub size_share: f64,
    /// The share of traders who open a position in the run's first minutes.
    #[serde(default = "half")]
    pub open_at_start: f64,
    /// The share of traders using isolated margin.
    #[serde(default)]
    pub isolated_share: f64,
    /// How far from the mark their IOC orders may fill (fraction).
    #[serde(default = "slippage")]
    pub slippage: f64,
    /// The market's index, once resolved.
    #[serde(skip)]
    pub market_ix: usize,
}

/// Market makers: quote levels around the index, skew with inventory, pull their quotes when
/// volatility spikes, and hedge their inventory in spot (the basis trade).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakerParams {
    /// A label for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The market they quote.
    pub market: Spanned<String>,
    /// How many.
    pub count: u32,
    /// Collateral each deposits (USD).
    pub capital: Dist,
    /// Their leverage.
    #[serde(default = "maker_leverage")]
    pub leverage: u32,
    /// The full spread of the first level (basis points of the index).
    #[serde(default = "spread_bps")]
    pub spread_bps: f64,
    /// Levels per side.
    #[serde(default = "levels")]
    pub levels: u32,
    /// The distance between levels (basis points).
    #[serde(default = "level_step_bps")]
    pub level_step_bps: f64,
    /// Notional of each level (USD).
    pub quote_notional: Dist,
    /// The position (USD notional) at which a maker stops quoting the side that would grow it.
    pub inventory_limit: Dist,
    /// How far the quotes' centre moves away from the inventory at the limit (basis points).
    #[serde(default = "skew_bps")]
    pub skew_bps: f64,
    /// How often they requote (seconds).
    #[serde(default = "requote_secs")]
    pub requote_secs: f64,
    /// A quote is moved only when it is further than this from where it should be (basis
    /// points): makers don't chase every tick.
    #[serde(default = "requote_bps")]
    pub requote_bps: f64,
    /// The window of their volatility estimate (seconds).
    #[serde(default = "vol_window_secs")]
    pub vol_window_secs: f64,
    /// Annualised volatility above which a maker pulls its quotes (1.5 = 150 %).
    #[serde(default = "never")]
    pub pull_vol: Dist,
    /// How long quotes stay pulled (minutes).
    #[serde(default = "pull_minutes")]
    pub pull_minutes: f64,
    /// Whether they hedge their perp inventory in spot.
    #[serde(default = "yes")]
    pub hedge: bool,
    /// The delay before a change of perp inventory is hedged (seconds).
    #[serde(default = "hedge_delay_secs")]
    pub hedge_delay_secs: f64,
    /// Spot trading fee (basis points).
    #[serde(default = "spot_fee_bps")]
    pub spot_fee_bps: f64,
    /// The market's index, once resolved.
    #[serde(skip)]
    pub market_ix: usize,
}

/// Arbitrageurs: sell the perp and buy spot when the perp trades rich against the index (and
/// the reverse), and unwind when the premium closes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArbParams {
    /// A label for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The market they trade.
    pub market: Spanned<String>,
    /// How many.
    pub count: u32,
    /// Collateral each deposits (USD).
    pub capital: Dist,
    /// Their leverage.
    #[serde(default = "arb_leverage")]
    pub leverage: u32,
    /// The premium at which they enter (basis points of the index).
    #[serde(default = "entry_bps")]
    pub entry_bps: f64,
    /// The premium at which they unwind.
    #[serde(default = "exit_bps")]
    pub exit_bps: f64,
    /// Notional of one trade (USD).
    pub trade_notional: Dist,
    /// The largest position (USD notional).
    pub max_notional: Dist,
    /// How often they look (seconds).
    #[serde(default = "arb_interval_secs")]
    pub interval_secs: f64,
    /// The delay before a perp fill is hedged in spot (seconds).
    #[serde(default)]
    pub hedge_delay_secs: f64,
    /// Spot trading fee (basis points).
    #[serde(default = "spot_fee_bps")]
    pub spot_fee_bps: f64,
    /// The market's index, once resolved.
    #[serde(skip)]
    pub market_ix: usize,
}

/// Registered backstop liquidators: they take over what the book didn't, within their own
/// margin, and unwind into the book over time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiquidatorParams {
    /// A label for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// How many.
    pub count: u32,
    /// Collateral each deposits (USD): their finite capacity.
    pub capital: Dist,
    /// Their leverage in every market.
    #[serde(default = "maker_leverage")]
    pub leverage: u32,
    /// How often they unwind (seconds).
    #[serde(default = "unwind_secs")]
    pub unwind_secs: f64,
    /// The share of each position they try to unwind each time.
    #[serde(default = "unwind_share")]
    pub unwind_share: f64,
    /// How far from the mark their unwinding IOC orders may fill (fraction).
    #[serde(default = "slippage")]
    pub slippage: f64,
}

/// Every population of the scenario.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Populations {
    /// Leveraged traders.
    #[serde(default)]
    pub trader: Vec<TraderParams>,
    /// Market makers.
    #[serde(default)]
    pub maker: Vec<MakerParams>,
    /// Arbitrageurs.
    #[serde(default)]
    pub arbitrageur: Vec<ArbParams>,
    /// Backstop liquidators.
    #[serde(default)]
    pub liquidator: Vec<LiquidatorParams>,
}
