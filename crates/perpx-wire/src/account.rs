//! The account view: collateral, margin figures and positions, as the API and `perpx replay`
//! show them.

use perpx_core::num::Decimal;
use perpx_core::{AccountId, Engine};
use serde::Serialize;

use crate::units::{format_price, format_qty, format_quote, format_units};

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
        positions,
    })
}
