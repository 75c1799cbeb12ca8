//! Who an event concerns: its market and its accounts. Streams use it to route private notices
//! to the accounts an event names — every one of them, in the same sequence step — and the
//! public channels to know which market's book or ticker moved.

use perpx_core::event::{EventKind, LiquidationScope};
use perpx_core::{AccountId, MarketId};

/// The market an event is about, if any (a cross liquidation names none).
#[must_use]
pub fn event_market(kind: &EventKind) -> Option<MarketId> {
    use EventKind as E;
    match kind {
        E::MarketCreated { market, .. }
        | E::MarkPriceSet { market, .. }
        | E::IndexPrice { market, .. }
        | E::OracleSourceStatus { market, .. }
        | E::OracleStageChanged { market, .. }
        | E::FundingPayments { market, .. }
        | E::FundingPayment { market, .. }
        | E::FundingSkipped { market, .. }
        | E::OrderAccepted { market, .. }
        | E::OrderAmended { market, .. }
        | E::OrderCancelled { market, .. }
        | E::DuplicateClientOrderId { market, .. }
        | E::MarketHalted { market }
        | E::MarketResumed { market }
        | E::ParamsScheduled { market, .. }
        | E::ParamsChanged { market }
        | E::PositionSettled { market, .. }
        | E::MarketDelisted { market, .. }
        | E::StopAccepted { market, .. }
        | E::StopTriggered { market, .. }
        | E::TriggeredOrderRejected { market, .. }
        | E::PositionChanged { market, .. }
        | E::MarginModeSet { market, .. }
        | E::IsolatedMarginChanged { market, .. }
        | E::LeverageSet { market, .. }
        | E::LiquidationOrder { market, .. }
        | E::BackstopTakeover { market, .. }
        | E::Deleveraged { market, .. }
        | E::LiquidationFee { market, .. }
        | E::DeficitCovered { market, .. }
        | E::DeficitUncovered { market, .. } => Some(*market),
        E::Fill(f) => Some(f.market),
        E::FundingSettled(s) => Some(s.market),
        E::LiquidationQueued { scope, .. }
        | E::LiquidationStarted { scope, .. }
        | E::LiquidationAverted { scope, .. }
        | E::LiquidationFinished { scope, .. } => match scope {
            LiquidationScope::Cross => None,
            LiquidationScope::Isolated(m) => Some(*m),
        },
        E::Deposited { .. }
        | E::Withdrawn { .. }
        | E::LiquidatorSet { .. }
        | E::FundCapitalised { .. }
        | E::AdminAudited { .. }
        | E::Rejected { .. } => None,
    }
}

/// The accounts an event concerns (each gets it on its private channel). A funding batch's are
/// every line's; it is routed as its notices (`Event::notices`), one account each.
#[must_use]
pub fn event_accounts(kind: &EventKind) -> Vec<AccountId> {
    use EventKind as E;
    match kind {
        E::Fill(f) => vec![f.maker_account, f.taker_account],
        E::FundingPayments { payments, .. } => payments.iter().map(|l| l.account).collect(),
        E::FundingPayment { account, .. }
        | E::OrderAccepted { account, .. }
        | E::OrderAmended { account, .. }
        | E::OrderCancelled { account, .. }
        | E::DuplicateClientOrderId { account, .. }
        | E::PositionSettled { account, .. }
        | E::StopAccepted { account, .. }
        | E::StopTriggered { account, .. }
        | E::TriggeredOrderRejected { account, .. }
        | E::PositionChanged { account, .. }
        | E::MarginModeSet { account, .. }
        | E::IsolatedMarginChanged { account, .. }
        | E::Deposited { account, .. }
        | E::Withdrawn { account, .. }
        | E::LeverageSet { account, .. }
        | E::LiquidationQueued { account, .. }
        | E::LiquidationStarted { account, .. }
        | E::LiquidationAverted { account, .. }
        | E::LiquidationOrder { account, .. }
        | E::LiquidationFee { account, .. }
        | E::DeficitCovered { account, .. }
        | E::DeficitUncovered { account, .. }
        | E::LiquidationFinished { account, .. }
        | E::LiquidatorSet { account, .. } => vec![*account],
        E::BackstopTakeover { account, liquidator, .. } => vec![*account, *liquidator],
        E::Deleveraged { account, bankrupt, .. } => vec![*account, *bankrupt],
        E::Rejected { account, .. } => account.iter().copied().collect(),
        E::MarketCreated { .. }
        | E::MarkPriceSet { .. }
        | E::IndexPrice { .. }
        | E::OracleSourceStatus { .. }
        | E::OracleStageChanged { .. }
        | E::FundingSettled(_)
        | E::FundingSkipped { .. }
        | E::MarketHalted { .. }
        | E::MarketResumed { .. }
        | E::ParamsScheduled { .. }
        | E::ParamsChanged { .. }
        | E::MarketDelisted { .. }
        | E::FundCapitalised { .. }
        | E::AdminAudited { .. } => Vec::new(),
    }
}
