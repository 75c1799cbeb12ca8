//! Accounts: collateral, positions and per-market leverage.
//!
//! Collateral is held in the settlement stablecoin (custody is outside perpx: deposits and
//! withdrawals are admin commands). Positions are one-way per market: a signed size and an exact
//! signed cost basis (see [`crate::risk::position`]).

mod index;
mod market_map;
mod table;

pub use index::AccountIndex;
pub use market_map::{Entry as MarketEntry, MarketMap};
pub use table::AccountTable;

use crate::ids::MarketId;
use crate::num::{Qty, Quote};

/// A position in one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Signed size in lots (long > 0).
    pub size: Qty,
    /// Signed cost basis in micro-units (Σ price × size of the open part).
    pub cost_basis: Quote,
    /// PnL realised in this market since the account first traded it.
    pub realized_pnl: Quote,
    /// Trading fees paid in this market (negative if rebates exceeded fees).
    pub fees_paid: Quote,
    /// Margin held by the position itself in isolated mode (zero in cross mode).
    pub isolated_margin: Quote,
    /// Funding paid in this market to date (≥ 0).
    pub funding_paid: Quote,
    /// Funding received in this market to date (≥ 0).
    pub funding_received: Quote,
}

/// How an account margins its position in one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MarginMode {
    /// The position shares the account's collateral with every other cross position.
    #[default]
    Cross,
    /// The position holds its own margin; its losses can't reach the rest of the account.
    Isolated,
}

/// An account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Collateral in micro-units. May go negative only through losses; the liquidation
    /// pipeline (a later issue) is what brings it back.
    pub collateral: Quote,
    /// Positions by market; a market is listed once the account has traded it.
    pub positions: MarketMap<Position>,
    /// Leverage chosen per market; markets not listed use the market's default.
    pub leverage: MarketMap<u32>,
    /// Margin mode per market; markets not listed are cross.
    pub margin_mode: MarketMap<MarginMode>,
}

impl Account {
    /// The position in `market` (flat if never traded).
    #[must_use]
    pub fn position(&self, market: MarketId) -> Position {
        self.positions.get(&market).copied().unwrap_or_default()
    }

    /// The margin mode in `market`.
    #[must_use]
    pub fn mode(&self, market: MarketId) -> MarginMode {
        self.margin_mode.get(&market).copied().unwrap_or_default()
    }
}

/// Money that entered or left the venue, and where fees went: the other side of the
/// conservation equation `Σ collateral + Σ isolated margin − Σ cost basis + fee account +
/// insurance funds + guaranty fund − uncovered = deposits − withdrawals + venue capital`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Σ deposits.
    pub deposits: Quote,
    /// Σ withdrawals.
    pub withdrawals: Quote,
    /// Trading fees collected, net of maker rebates.
    pub fee_account: Quote,
    /// The shared insurance fund (markets with the `shared` policy): their liquidation fees
    /// and funding remainders in, their deficits out. Markets with their own fund keep it in
    /// [`crate::market::Market::insurance_fund`].
    pub insurance_fund: Quote,
    /// The guaranty fund behind every insurance fund (venue capital or member contributions).
    pub guaranty_fund: Quote,
    /// Deficits no layer of the waterfall covered (bad debt), recorded loudly.
    pub uncovered: Quote,
    /// Capital the venue injected.
    pub venue_capital: Quote,
}

/// The default leverage of a market for accounts that never set one: 20x, or the market's
/// maximum if lower (Binance's default).
#[must_use]
pub fn default_leverage(max_leverage: u32) -> u32 {
    max_leverage.min(20)
}
