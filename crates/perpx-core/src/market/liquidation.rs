//! A market's liquidation rules: the fee, the partial-close buffer, the backstop discount, which
//! insurance fund stands behind the market, the auto-deleveraging policy and the open-interest
//! cap. The pipeline itself is `engine/liquidation.rs`; the rules are explained with worked
//! numbers in `docs/LIQUIDATION.md`.

use crate::engine::StateHasher;
use crate::num::{Qty, Quote, Rate};

/// Which insurance fund covers the market's deficits and receives its liquidation fees and
/// funding remainders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsurancePolicy {
    /// The market has its own fund: what it earns covers only its own deficits.
    Own,
    /// One fund shared by every market with this policy. A market may take out at most
    /// `max_draw` more than it has paid in (its net draw), so one market's crash can't drain
    /// what the others built.
    Shared {
        /// The most the market's net draw on the shared fund may reach.
        max_draw: Quote,
    },
}

/// How auto-deleveraging chooses the winners who give up position when no other layer can
/// take a bankrupt position (`docs/LIQUIDATION.md`, "Auto-deleveraging").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdlPolicy {
    /// Rank order (`pnl_pct × effective leverage`), each winner fully before the next
    /// (BitMEX/Binance since ~2015).
    Queue,
    /// Every winner gives up the same fraction of its position.
    ProRata,
    /// Water-filling on leverage: the most leveraged winners are cut down to a common level.
    LeverageDrain,
}

impl AdlPolicy {
    /// The stable snake-case name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::ProRata => "pro_rata",
            Self::LeverageDrain => "leverage_drain",
        }
    }
}

/// The liquidation section of a market specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiquidationSpec {
    /// The liquidation fee as a share of the closed notional (default 0.5 %), paid into the
    /// insurance fund, capped so it never makes a surviving account liquidatable again nor
    /// takes more than a closed-out account has left.
    pub fee_rate: Rate,
    /// A partial close must leave `equity ≥ MM × (1 + buffer)` (default 10 %), so the account
    /// isn't liquidated again by the next tick.
    pub buffer: Rate,
    /// Backstop liquidators take positions over at `mark × (1 ∓ discount)` (default 1 %): the
    /// discount is what pays them to stand ready.
    pub backstop_discount: Rate,
    /// The fund behind the market.
    pub insurance: InsurancePolicy,
    /// The ADL policy.
    pub adl: AdlPolicy,
    /// The most open interest (Σ long lots) the market may carry; an order that could raise it
    /// above the cap is refused. `None`: no cap.
    pub max_open_interest: Option<Qty>,
}

impl Default for LiquidationSpec {
    fn default() -> Self {
        Self {
            fee_rate: Rate(500_000),
            buffer: Rate(10_000_000),
            backstop_discount: Rate(1_000_000),
            insurance: InsurancePolicy::Own,
            adl: AdlPolicy::Queue,
            max_open_interest: None,
        }
    }
}

impl LiquidationSpec {
    /// Checks the section: fee 0–10 %, buffer 0–100 %, discount 0–50 %, a non-negative shared
    /// draw cap, an open-interest cap of at least one lot.
    ///
    /// # Errors
    /// The first rule broken, as a message for `invalid_market_spec`.
    pub fn validate(&self) -> Result<(), String> {
        if self.fee_rate.is_negative() || self.fee_rate > Rate(10_000_000) {
            return Err("liquidation: fee_rate must be between 0 and 10 %".into());
        }
        if self.buffer.is_negative() || self.buffer > Rate::ONE {
            return Err("liquidation: buffer must be between 0 and 100 %".into());
        }
        if self.backstop_discount.is_negative() || self.backstop_discount > Rate(50_000_000) {
            return Err("liquidation: backstop_discount must be between 0 and 50 %".into());
        }
        if let InsurancePolicy::Shared { max_draw } = self.insurance {
            if max_draw.is_negative() {
                return Err("liquidation: the shared fund's max_draw must not be negative".into());
            }
        }
        if self.max_open_interest.is_some_and(|q| !q.is_positive()) {
            return Err("liquidation: max_open_interest must be at least one lot".into());
        }
        Ok(())
    }

    pub(crate) fn hash_into(&self, h: &mut StateHasher) {
        h.i64(self.fee_rate.0).i64(self.buffer.0).i64(self.backstop_discount.0);
        match self.insurance {
            InsurancePolicy::Own => h.tag(0),
            InsurancePolicy::Shared { max_draw } => h.tag(1).i64(max_draw.0),
        };
        h.tag(match self.adl {
            AdlPolicy::Queue => 0,
            AdlPolicy::ProRata => 1,
            AdlPolicy::LeverageDrain => 2,
        });
        match self.max_open_interest {
            None => h.tag(0),
            Some(q) => h.tag(1).i64(q.0),
        };
    }
}
