//! The account and market views: collateral, margin figures, positions and their funding; a
//! market's prices and funding disclosure — as the API and `perpx replay` show them.

use perpx_core::event::FundRef;
use perpx_core::market::InsurancePolicy;
use perpx_core::market::MarketStatus;
use perpx_core::num::Decimal;
use perpx_core::{AccountId, Engine, MarketId};
use serde::Serialize;

use crate::units::{format_price, format_qty, format_quote, format_rate, format_units};

/// One account, at current marks.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// Always `account`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The account.
    pub account: u64,
    /// Collateral.
    pub collateral: String,
    /// Σ unrealised PnL at mark.
    pub unrealized_pnl: String,
    /// Collateral + unrealised PnL.
    pub equity: String,
    /// Initial margin of positions and orders.
    pub initial_margin: String,
    /// Maintenance margin of positions.
    pub maintenance_margin: String,
    /// Equity − IM − unrealised profit.
    pub withdrawable: String,
    /// Queued for or under liquidation: cancel-only until it is done.
    pub in_liquidation: bool,
    /// Positions, by market id.
    pub positions: Vec<PositionView>,
}

/// One position.
#[derive(Debug, Clone, Serialize)]
pub struct PositionView {
    /// Market symbol.
    pub market: String,
    /// Signed size.
    pub size: String,
    /// Signed cost basis.
    pub cost_basis: String,
    /// `cost basis / size`, two decimals finer than the tick, truncated (display only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_price: Option<String>,
    /// The market's mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark_price: Option<String>,
    /// `size × mark − cost basis`.
    pub unrealized_pnl: String,
    /// Realised PnL to date.
    pub realized_pnl: String,
    /// Fees paid to date.
    pub fees_paid: String,
    /// The account's leverage in the market.
    pub leverage: u32,
    /// `cross` or `isolated`.
    pub margin_mode: &'static str,
    /// The position's own margin (isolated mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolated_margin: Option<String>,
    /// Isolated margin + unrealised PnL (isolated mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolated_equity: Option<String>,
    /// Funding paid to date.
    pub funding_paid: String,
    /// Funding received to date.
    pub funding_received: String,
    /// The next payment at the predicted rate and current mark (positive: pays).
    pub next_funding_payment: String,
    /// The predicted rate as a yearly cost on the notional, for this position (positive: pays).
    pub funding_apr: String,
    /// The same on the position's own margin at its leverage (`funding_apr × leverage`).
    pub funding_apr_on_margin: String,
    /// Where the position stands in its side's ADL ranking, 1–100 (100: first to be
    /// deleveraged), while it is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adl_percentile: Option<u8>,
}

/// One market's prices and funding disclosure.
#[derive(Debug, Clone, Serialize)]
pub struct MarketView {
    /// Always `market`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Symbol.
    pub market: String,
    /// `active`, `halted` or `delisted` (the admin status).
    pub status: &'static str,
    /// The stale-index stage: `live`, `stale`, `reduce_only`, `halted`.
    pub oracle_stage: &'static str,
    /// The index, if it stands on a quorum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_price: Option<String>,
    /// The mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark_price: Option<String>,
    /// The last trade price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_price: Option<String>,
    /// The funding interval in force for the next period (hours).
    pub funding_interval_hours: i64,
    /// The rate the current period would settle at with the samples so far.
    pub predicted_rate: String,
    /// Its 8-hour form.
    pub predicted_rate_8h: String,
    /// `predicted_rate × periods per year`.
    pub predicted_apr: String,
    /// The last settled rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rate: Option<String>,
    /// Its APR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_apr: Option<String>,
    /// When the last settlement was due (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_funding_time: Option<i64>,
    /// When the current period ends (ms).
    pub next_funding_time: i64,
    /// The cap on `|F8|`.
    pub cap_8h: String,
    /// Premium samples taken in the current period.
    pub samples: u64,
    /// Sample times of the current period at which no index stood.
    pub missed_samples: u64,
    /// The fund behind the market (`insurance:SYMBOL` or `shared_insurance`) and its balance.
    pub insurance_fund: String,
    /// Its balance (for the shared fund, the whole shared balance).
    pub insurance_fund_balance: String,
    /// Open interest (Σ long size).
    pub open_interest: String,
}

/// The view of market `id`, or `None` for an unknown market.
#[must_use]
pub fn market_view(engine: &Engine, id: MarketId) -> Option<MarketView> {
    let m = engine.market(id)?;
    let f = engine.funding_info(id)?;
    Some(MarketView {
        kind: "market",
        market: m.spec.symbol.clone(),
        status: match m.status {
            MarketStatus::Active => "active",
            MarketStatus::Halted => "halted",
            MarketStatus::Delisted => "delisted",
        },
        oracle_stage: crate::event::oracle_stage(m.oracle.stage),
        index_price: m.oracle.index.map(|p| format_price(m, p)),
        mark_price: m.mark.map(|p| format_price(m, p)),
        last_price: m.last_price.map(|p| format_price(m, p)),
        funding_interval_hours: m.spec.funding.interval_ms / perpx_core::market::HOUR_MS,
        predicted_rate: format_rate(f.predicted_rate),
        predicted_rate_8h: format_rate(f.predicted_rate_8h),
        predicted_apr: format_rate(f.predicted_apr),
        last_rate: f.last_rate.map(format_rate),
        last_apr: f.last_apr.map(format_rate),
        last_funding_time: f.last_funding_time.map(|t| t.0),
        next_funding_time: f.next_funding_time.0,
        cap_8h: format_rate(f.cap_8h),
        samples: f.samples,
        missed_samples: f.missed_samples,
        insurance_fund: match m.spec.liquidation.insurance {
            InsurancePolicy::Own => crate::event::fund_name(engine, FundRef::Market(id)),
            InsurancePolicy::Shared { .. } => crate::event::fund_name(engine, FundRef::Shared),
        },
        insurance_fund_balance: format_quote(match m.spec.liquidation.insurance {
            InsurancePolicy::Own => m.insurance_fund,
            InsurancePolicy::Shared { .. } => engine.ledger().insurance_fund,
        }),
        open_interest: crate::units::format_qty(m, m.open_interest),
    })
}

/// The view of `id`, or `None` for an unknown account.
#[must_use]
pub fn account_view(engine: &Engine, id: AccountId) -> Option<AccountView> {
    let account = engine.account(id)?;
    let margin = engine.margin(id).ok()?;
    let positions = account
        .positions
        .iter()
        .filter_map(|(mid, p)| {
            let m = engine.market(*mid)?;
            let q = i128::from(m.quote_per_tick_lot);
            let entry = (p.size.0 != 0).then(|| {
                let hundredths = i128::from(p.cost_basis.0) * 100 / (i128::from(p.size.0) * q);
                let fine = Decimal::new(m.spec.tick_size.mantissa, m.spec.tick_size.scale + 2);
                format_units(i64::try_from(hundredths).unwrap_or(i64::MAX), fine)
            });
            let iso = engine.isolated(id, *mid).ok().flatten();
            let funding = engine.position_funding(id, *mid)?;
            let upnl = m.mark.and_then(|mark| {
                perpx_core::risk::position::unrealized_pnl(p.size, p.cost_basis, mark, m.quote_per_tick_lot).ok()
            });
            Some(PositionView {
                market: m.spec.symbol.clone(),
                size: format_qty(m, p.size),
                cost_basis: format_quote(p.cost_basis),
                entry_price: entry,
                mark_price: m.mark.map(|x| format_price(m, x)),
                unrealized_pnl: format_quote(upnl.unwrap_or_default()),
                realized_pnl: format_quote(p.realized_pnl),
                fees_paid: format_quote(p.fees_paid),
                leverage: engine.leverage_of(account, m),
                margin_mode: crate::event::margin_mode(account.mode(*mid)),
                isolated_margin: iso.map(|i| format_quote(i.margin)),
                isolated_equity: iso.map(|i| format_quote(i.equity)),
                funding_paid: format_quote(funding.paid),
                funding_received: format_quote(funding.received),
                next_funding_payment: format_quote(funding.next_payment),
                funding_apr: format_rate(funding.apr_on_notional),
                funding_apr_on_margin: format_rate(funding.apr_on_margin),
                adl_percentile: engine.adl_percentile(id, *mid),
            })
        })
        .collect();
    Some(AccountView {
        kind: "account",
        account: id.0,
        collateral: format_quote(margin.collateral),
        unrealized_pnl: format_quote(margin.unrealized_pnl),
        equity: format_quote(margin.equity),
        initial_margin: format_quote(margin.initial_margin),
        maintenance_margin: format_quote(margin.maintenance_margin),
        withdrawable: format_quote(margin.withdrawable()),
        in_liquidation: engine.in_liquidation(id),
        positions,
    })
}
