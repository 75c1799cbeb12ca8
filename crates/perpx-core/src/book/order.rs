//! An order at rest in the book.

use crate::command::StpMode;
use crate::ids::{AccountId, ClientOrderId, OrderId};
use crate::num::{Price, Qty, Timestamp};

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Bids: buy at this price or lower.
    Buy,
    /// Asks: sell at this price or higher.
    Sell,
}

impl Side {
    /// The other side.
    #[must_use]
    pub const fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }

    /// Whether an order on this side with `limit` would trade against a resting order at
    /// `resting`: a buy crosses asks at or below its limit, a sell crosses bids at or above.
    #[must_use]
    pub fn crosses(self, limit: Price, resting: Price) -> bool {
        let buy = self == Self::Buy;
        (buy & (resting <= limit)) | (!buy & (resting >= limit))
    }

    /// `+1` for buy, `−1` for sell.
    #[must_use]
    pub const fn sign(self) -> i64 {
        match self {
            Self::Buy => 1,
            Self::Sell => -1,
        }
    }
}

/// An order resting in the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestingOrder {
    /// Engine-assigned id.
    pub id: OrderId,
    /// Owner.
    pub account: AccountId,
    /// Side of the book it rests on.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Size still open.
    pub qty: Qty,
    /// Size filled so far (across amends).
    pub filled: Qty,
    /// Whether it was placed post-only (amends that would take are refused).
    pub post_only: bool,
    /// Its self-trade prevention mode (used again if an amend makes it cross).
    pub stp: StpMode,
    /// Reduce-only: capped at the position when it fills, reserves no margin.
    pub reduce_only: bool,
    /// The account's own id for it, if given.
    pub client_id: Option<ClientOrderId>,
    /// When it took its current place in the queue.
    pub queued_at: Timestamp,
}
