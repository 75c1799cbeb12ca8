//! Stop and take-profit orders: orders held outside the book until a reference price crosses
//! their trigger, then placed as a market or limit order.
//!
//! | kind | buy triggers when | sell triggers when | typical use |
//! |------|-------------------|--------------------|-------------|
//! | stop (stop-loss, breakout) | reference ≥ trigger | reference ≤ trigger | cut a loss, chase a move |
//! | take-profit | reference ≤ trigger | reference ≥ trigger | bank a gain |
//!
//! The reference is the market's mark price or its last trade price, chosen per order. A stop
//! whose condition already holds when it is placed is refused (it would trigger at once; send the
//! plain order instead). Untriggered stops reserve no margin; margin, reduce-only and every other
//! order check run when they trigger, and a triggered order that fails them is cancelled with
//! `trigger_rejected`. Triggers are evaluated after each command, in stop id order (placement
//! order), at most `EngineConfig::max_stop_triggers_per_command` per command; the rest stay armed
//! and go first in the next command.

use crate::book::Side;
use crate::command::{StpMode, TimeInForce};
use crate::ids::{AccountId, ClientOrderId, OrderId};
use crate::num::{Price, Qty, Timestamp};

/// What a stop becomes when it triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopKind {
    /// Stop-loss market: a market order.
    StopMarket,
    /// Stop-loss limit: a limit order at `price`.
    StopLimit {
        /// Limit price of the triggered order.
        price: Price,
        /// Its time in force.
        tif: TimeInForce,
    },
    /// Take-profit market.
    TakeProfitMarket,
    /// Take-profit limit.
    TakeProfitLimit {
        /// Limit price of the triggered order.
        price: Price,
        /// Its time in force.
        tif: TimeInForce,
    },
}

impl StopKind {
    /// Whether this is a take-profit (triggers on a move in the position's favour).
    #[must_use]
    pub const fn is_take_profit(self) -> bool {
        matches!(self, Self::TakeProfitMarket | Self::TakeProfitLimit { .. })
    }

    /// The limit price and time in force of the triggered order, if it is a limit.
    #[must_use]
    pub const fn limit(self) -> Option<(Price, TimeInForce)> {
        match self {
            Self::StopLimit { price, tif } | Self::TakeProfitLimit { price, tif } => Some((price, tif)),
            Self::StopMarket | Self::TakeProfitMarket => None,
        }
    }
}

/// Which price a stop watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerBy {
    /// The mark price (robust to a single trade; the default).
    Mark,
    /// The last trade price in this market.
    Last,
}

/// A stop waiting for its trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopOrder {
    /// Its id (from the order id space; the triggered order keeps it).
    pub id: OrderId,
    /// Owner.
    pub account: AccountId,
    /// Side of the triggered order.
    pub side: Side,
    /// What it becomes.
    pub kind: StopKind,
    /// The trigger price.
    pub trigger: Price,
    /// The reference it watches.
    pub trigger_by: TriggerBy,
    /// Size of the triggered order.
    pub qty: Qty,
    /// Whether the triggered order is reduce-only.
    pub reduce_only: bool,
    /// Self-trade prevention mode of the triggered order.
    pub stp: StpMode,
    /// Client id (held from placement).
    pub client_id: Option<ClientOrderId>,
    /// When it was placed.
    pub placed_at: Timestamp,
}

/// Whether a stop on `side` of `kind` with `trigger` fires at `reference`.
#[must_use]
pub fn is_triggered(side: Side, take_profit: bool, trigger: Price, reference: Price) -> bool {
    // A stop buys on the way up and sells on the way down; a take-profit the reverse.
    match (side, take_profit) {
        (Side::Buy, false) | (Side::Sell, true) => reference >= trigger,
        (Side::Sell, false) | (Side::Buy, true) => reference <= trigger,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_follow_the_move_take_profits_meet_it() {
        let p = Price;
        // A long's stop-loss sells when the price falls to the trigger.
        assert!(is_triggered(Side::Sell, false, p(95), p(95)));
        assert!(!is_triggered(Side::Sell, false, p(95), p(96)));
        // A long's take-profit sells when the price rises to the trigger.
        assert!(is_triggered(Side::Sell, true, p(110), p(111)));
        assert!(!is_triggered(Side::Sell, true, p(110), p(109)));
        // A short's stop-loss buys on the way up, its take-profit on the way down.
        assert!(is_triggered(Side::Buy, false, p(105), p(105)));
        assert!(is_triggered(Side::Buy, true, p(90), p(89)));
        assert!(!is_triggered(Side::Buy, true, p(90), p(91)));
    }
}
