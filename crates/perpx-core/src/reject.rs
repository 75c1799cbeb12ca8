//! Why a command was refused. Rejections are data, not errors of the engine: each has a stable
//! numeric code (grouped by the stage that refuses it) and a plain message. A rejected command
//! changes nothing but the sequence number.
//!
//! | codes | stage |
//! |-------|-------|
//! | 1xxx  | the command itself: decoding, timestamps, malformed fields |
//! | 2xxx  | the market: unknown, not trading, its specification |
//! | 3xxx  | the order's own fields: size, price, band, client id |
//! | 4xxx  | the book: post-only, fill-or-kill, limits, unknown orders |
//! | 5xxx  | the account: existence, margin, leverage, reduce-only, withdrawals |
//!
//! Codes are part of the public API (replay output, REST, WebSocket): never renumber one.

use crate::ids::OrderId;
use crate::num::{Price, Qty, Quote, Timestamp};

/// A business refusal, with the figures that explain it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    // ---- 1xxx: the command --------------------------------------------------------------
    /// The command's timestamp is before the engine's clock: time only moves forward.
    #[error("timestamp {got} is before the engine clock {clock}: time only moves forward")]
    TimestampRegression {
        /// The command's timestamp.
        got: Timestamp,
        /// The engine's clock.
        clock: Timestamp,
    },
    /// The command's timestamp is more than [`crate::engine::MAX_CLOCK_STEP_MS`] after the
    /// engine's clock (once a market exists): one command may not make time jump further (the funding settlements due
    /// in a jump are worked, and their events produced, inside that one command).
    #[error("timestamp {got} is more than {max_step_ms} ms after the engine clock {clock}")]
    TimestampTooFarAhead {
        /// The command's timestamp.
        got: Timestamp,
        /// The engine's clock.
        clock: Timestamp,
        /// The largest step allowed.
        max_step_ms: i64,
    },
    /// The command could not be decoded (bad JSON, unknown field, wrong type).
    #[error("malformed command: {0}")]
    Malformed(String),
    /// A number in the command is not a valid decimal for its field.
    #[error("invalid number in '{field}': {detail}")]
    InvalidNumber {
        /// The field.
        field: Box<str>,
        /// What is wrong with it.
        detail: Box<str>,
    },

    // ---- 2xxx: the market ---------------------------------------------------------------
    /// No market has this id or symbol.
    #[error("unknown market '{0}'")]
    UnknownMarket(String),
    /// The market has no mark price yet, so no order band can be checked.
    #[error("market has no mark price yet; it opens for trading once a mark is set")]
    NoMarkPrice,
    /// A market with this symbol exists.
    #[error("a market with symbol '{0}' already exists")]
    DuplicateSymbol(String),
    /// The market specification is inconsistent.
    #[error("invalid market specification: {0}")]
    InvalidMarketSpec(String),
    /// The engine holds its maximum number of markets.
    #[error("the engine already holds its maximum of {0} markets")]
    TooManyMarkets(u32),
    /// The market is halted: only cancels are accepted.
    #[error("the market is halted: only cancels are accepted")]
    MarketHalted,
    /// The market is delisted.
    #[error("the market is delisted")]
    MarketDelisted,
    /// Resume of a market that is not halted.
    #[error("the market is not halted")]
    MarketNotHalted,
    /// A scheduled change must take effect after now.
    #[error("a scheduled change must take effect after now ({now}), not at {effective_at}")]
    ScheduleNotInFuture {
        /// Requested time.
        effective_at: Timestamp,
        /// The engine clock.
        now: Timestamp,
    },
    /// A mark price must be positive.
    #[error("mark price must be positive, got {0} ticks")]
    NonPositiveMark(Price),
    /// The index is stale: only reduce-only orders and cancels are accepted.
    #[error("the market is reduce-only while its index is stale: only reduce-only orders and cancels are accepted")]
    MarketReduceOnly,
    /// The market has no oracle source with this id.
    #[error("the market has no oracle source '{0}'")]
    UnknownOracleSource(String),
    /// The order could raise the market's open interest above its cap.
    #[error(
        "the market's open interest of {open_interest} lots would pass its cap of {cap} lots; only reducing orders are accepted"
    )]
    OpenInterestCap {
        /// The cap.
        cap: Qty,
        /// Open interest now.
        open_interest: Qty,
    },

    // ---- 3xxx: the order's fields -------------------------------------------------------
    /// Sizes are positive.
    #[error("size must be positive, got {0} lots")]
    NonPositiveQty(Qty),
    /// The size is above the market's maximum order size.
    #[error("size {qty} lots is above the market's maximum order size of {max} lots")]
    QtyAboveMax {
        /// The requested size.
        qty: Qty,
        /// The market's limit.
        max: Qty,
    },
    /// The size is below the market's minimum.
    #[error("size {qty} lots is below the market's minimum of {min} lots")]
    QtyBelowMin {
        /// The requested size.
        qty: Qty,
        /// The market's minimum.
        min: Qty,
    },
    /// The order's notional is below the market's minimum.
    #[error("notional {notional} micro-units is below the market's minimum of {min}")]
    NotionalBelowMin {
        /// Price × size.
        notional: Quote,
        /// The market's minimum.
        min: Quote,
    },
    /// Prices are positive.
    #[error("price must be positive, got {0} ticks")]
    NonPositivePrice(Price),
    /// The price is not a whole number of ticks.
    #[error("price {price} is not a multiple of the tick size {tick}")]
    PriceOffTick {
        /// The price as written.
        price: Box<str>,
        /// The market's tick size.
        tick: Box<str>,
    },
    /// The size is not a whole number of lots.
    #[error("size {qty} is not a multiple of the lot size {lot}")]
    QtyOffLot {
        /// The size as written.
        qty: Box<str>,
        /// The market's lot size.
        lot: Box<str>,
    },
    /// The price is outside the order band around the mark price.
    #[error("price {price} ticks is outside the order band [{low}, {high}] around the mark")]
    PriceOutsideBand {
        /// The order's price.
        price: Price,
        /// The lowest price accepted now.
        low: Price,
        /// The highest price accepted now.
        high: Price,
    },
    /// The client order id is not 1–36 characters of `A–Z a–z 0–9 . : / _ -`.
    #[error("client order id '{0}' must be 1-36 characters of A-Z a-z 0-9 . : / _ -")]
    InvalidClientOrderId(String),
    /// Price × size does not fit the engine's numbers.
    #[error("price × size is too large to represent")]
    NotionalOverflow,

    // ---- 4xxx: the book -----------------------------------------------------------------
    /// A post-only order would have traded on arrival; it is rejected, not repriced.
    #[error("post-only order would take liquidity at {best_opposite} ticks; rejected, not repriced")]
    PostOnlyWouldTake {
        /// The best opposite price it would have crossed.
        best_opposite: Price,
    },
    /// A fill-or-kill order cannot be filled in full right now.
    #[error("fill-or-kill order for {qty} lots can fill only {available} lots now")]
    FokCannotFill {
        /// The order's size.
        qty: Qty,
        /// What the book (after self-trade prevention) could fill.
        available: Qty,
    },
    /// The account holds the market's maximum of open orders.
    #[error("the account already has its maximum of {0} open orders in this market")]
    TooManyOpenOrders(u32),
    /// A new price level would exceed the market's limit on levels per side.
    #[error("the book side already has its maximum of {0} price levels")]
    TooManyPriceLevels(u32),
    /// No open order of this account matches.
    #[error("no open order {0} for this account in this market")]
    UnknownOrder(String),
    /// An amend must change the price or the size.
    #[error("amend of order {0} changes neither price nor size")]
    NothingToAmend(OrderId),
    /// The stop's condition already holds: it would trigger at once.
    #[error("the trigger {trigger} ticks is already crossed by the reference price {reference}: send the order itself")]
    StopWouldTriggerNow {
        /// The trigger.
        trigger: Price,
        /// The reference now.
        reference: Price,
    },
    /// The account holds the market's maximum of untriggered stops.
    #[error("the account already has its maximum of {0} stop orders in this market")]
    TooManyStops(u32),

    // ---- 5xxx: the account --------------------------------------------------------------
    /// The account has never been credited.
    #[error("unknown account {0}: an account exists once collateral is deposited")]
    UnknownAccount(u64),
    /// Equity does not cover the initial margin the account would need.
    #[error(
        "insufficient margin: the account would need {required} micro-units of initial margin and has {available} of equity"
    )]
    InsufficientMargin {
        /// The IM requirement after the order (or change).
        required: Quote,
        /// The account's equity.
        available: Quote,
    },
    /// The exposure this would create is in a tier whose maximum leverage is below the account's.
    #[error(
        "leverage {leverage}x is above the {max}x the margin tier of this position size allows; lower the leverage or the size"
    )]
    LeverageAboveTier {
        /// The account's leverage in the market.
        leverage: u32,
        /// The tier's maximum.
        max: u32,
    },
    /// Leverage must be between 1 and the market's maximum.
    #[error("leverage {leverage}x is outside 1x..={max}x")]
    InvalidLeverage {
        /// Requested.
        leverage: u32,
        /// The market's maximum.
        max: u32,
    },
    /// A reduce-only order needs a position on the other side to reduce.
    #[error("reduce-only order would open or increase a position")]
    ReduceOnlyWouldIncrease,
    /// A withdrawal above what may leave the account.
    #[error(
        "withdrawal of {requested} micro-units is above the {available} available (equity − initial margin − unrealised profit)"
    )]
    WithdrawalAboveAvailable {
        /// Requested.
        requested: Quote,
        /// Withdrawable now.
        available: Quote,
    },
    /// Deposits and withdrawals are positive.
    #[error("amount must be positive, got {0} micro-units")]
    NonPositiveAmount(Quote),
    /// The margin mode can change only with no position, order or stop in the market.
    #[error("the margin mode can change only with no position, open order or stop in this market")]
    MarginModeChangeBlocked,
    /// The position is not isolated.
    #[error("there is no isolated position in this market")]
    NotIsolated,
    /// Removing more isolated margin than the position can spare.
    #[error("can remove at most {available} micro-units of this position's margin, not {requested}")]
    IsolatedMarginAboveRemovable {
        /// Requested.
        requested: Quote,
        /// Removable now.
        available: Quote,
    },
    /// The balance would not fit the engine's numbers.
    #[error("the balance would overflow")]
    BalanceOverflow,
    /// The account is queued for or under liquidation.
    #[error(
        "the account is being liquidated: only cancels, deposits and isolated margin additions are accepted until it is done"
    )]
    AccountInLiquidation,
}

impl RejectReason {
    /// The stable numeric code.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            Self::TimestampRegression { .. } => 1001,
            Self::Malformed(_) => 1002,
            Self::InvalidNumber { .. } => 1003,
            Self::TimestampTooFarAhead { .. } => 1004,
            Self::UnknownMarket(_) => 2001,
            Self::NoMarkPrice => 2002,
            Self::DuplicateSymbol(_) => 2003,
            Self::InvalidMarketSpec(_) => 2004,
            Self::TooManyMarkets(_) => 2005,
            Self::NonPositiveMark(_) => 2006,
            Self::MarketHalted => 2007,
            Self::MarketDelisted => 2008,
            Self::MarketNotHalted => 2009,
            Self::ScheduleNotInFuture { .. } => 2010,
            Self::MarketReduceOnly => 2011,
            Self::UnknownOracleSource(_) => 2012,
            Self::NonPositiveQty(_) => 3001,
            Self::QtyAboveMax { .. } => 3002,
            Self::QtyBelowMin { .. } => 3003,
            Self::NotionalBelowMin { .. } => 3004,
            Self::NonPositivePrice(_) => 3005,
            Self::PriceOffTick { .. } => 3006,
            Self::QtyOffLot { .. } => 3007,
            Self::PriceOutsideBand { .. } => 3008,
            Self::InvalidClientOrderId(_) => 3009,
            Self::NotionalOverflow => 3010,
            Self::PostOnlyWouldTake { .. } => 4001,
            Self::FokCannotFill { .. } => 4002,
            Self::TooManyOpenOrders(_) => 4003,
            Self::TooManyPriceLevels(_) => 4004,
            Self::UnknownOrder(_) => 4005,
            Self::NothingToAmend(_) => 4006,
            Self::StopWouldTriggerNow { .. } => 4007,
            Self::TooManyStops(_) => 4008,
            Self::UnknownAccount(_) => 5001,
            Self::InsufficientMargin { .. } => 5002,
            Self::LeverageAboveTier { .. } => 5003,
            Self::InvalidLeverage { .. } => 5004,
            Self::ReduceOnlyWouldIncrease => 5005,
            Self::WithdrawalAboveAvailable { .. } => 5006,
            Self::NonPositiveAmount(_) => 5007,
            Self::BalanceOverflow => 5008,
            Self::MarginModeChangeBlocked => 5009,
            Self::NotIsolated => 5010,
            Self::IsolatedMarginAboveRemovable { .. } => 5011,
            Self::AccountInLiquidation => 5012,
            Self::OpenInterestCap { .. } => 2013,
        }
    }

    /// The stable snake-case name (the `reason` field of the JSON forms).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::TimestampRegression { .. } => "timestamp_regression",
            Self::Malformed(_) => "malformed",
            Self::InvalidNumber { .. } => "invalid_number",
            Self::TimestampTooFarAhead { .. } => "timestamp_too_far_ahead",
            Self::UnknownMarket(_) => "unknown_market",
            Self::NoMarkPrice => "no_mark_price",
            Self::DuplicateSymbol(_) => "duplicate_symbol",
            Self::InvalidMarketSpec(_) => "invalid_market_spec",
            Self::TooManyMarkets(_) => "too_many_markets",
            Self::NonPositiveMark(_) => "non_positive_mark",
            Self::MarketHalted => "market_halted",
            Self::MarketDelisted => "market_delisted",
            Self::MarketNotHalted => "market_not_halted",
            Self::ScheduleNotInFuture { .. } => "schedule_not_in_future",
            Self::MarketReduceOnly => "market_reduce_only",
            Self::UnknownOracleSource(_) => "unknown_oracle_source",
            Self::NonPositiveQty(_) => "non_positive_qty",
            Self::QtyAboveMax { .. } => "qty_above_max",
            Self::QtyBelowMin { .. } => "qty_below_min",
            Self::NotionalBelowMin { .. } => "notional_below_min",
            Self::NonPositivePrice(_) => "non_positive_price",
            Self::PriceOffTick { .. } => "price_off_tick",
            Self::QtyOffLot { .. } => "qty_off_lot",
            Self::PriceOutsideBand { .. } => "price_outside_band",
            Self::InvalidClientOrderId(_) => "invalid_client_order_id",
            Self::NotionalOverflow => "notional_overflow",
            Self::PostOnlyWouldTake { .. } => "post_only_would_take",
            Self::FokCannotFill { .. } => "fok_cannot_fill",
            Self::TooManyOpenOrders(_) => "too_many_open_orders",
            Self::TooManyPriceLevels(_) => "too_many_price_levels",
            Self::UnknownOrder(_) => "unknown_order",
            Self::NothingToAmend(_) => "nothing_to_amend",
            Self::StopWouldTriggerNow { .. } => "stop_would_trigger_now",
            Self::TooManyStops(_) => "too_many_stops",
            Self::UnknownAccount(_) => "unknown_account",
            Self::InsufficientMargin { .. } => "insufficient_margin",
            Self::LeverageAboveTier { .. } => "leverage_above_tier",
            Self::InvalidLeverage { .. } => "invalid_leverage",
            Self::ReduceOnlyWouldIncrease => "reduce_only_would_increase",
            Self::WithdrawalAboveAvailable { .. } => "withdrawal_above_available",
            Self::NonPositiveAmount(_) => "non_positive_amount",
            Self::BalanceOverflow => "balance_overflow",
            Self::MarginModeChangeBlocked => "margin_mode_change_blocked",
            Self::NotIsolated => "not_isolated",
            Self::IsolatedMarginAboveRemovable { .. } => "isolated_margin_above_removable",
            Self::AccountInLiquidation => "account_in_liquidation",
            Self::OpenInterestCap { .. } => "open_interest_cap",
        }
    }
}
