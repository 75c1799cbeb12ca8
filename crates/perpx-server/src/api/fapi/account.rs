//! Signed account endpoints: leverage, margin type, isolated margin, brackets, position mode,
//! account and balance views, position risk, ADL quantiles, commission rates — each the
//! engine's own command or figures in Binance's shape.

use axum::http::StatusCode;
use axum::response::Response;
use perpx_core::account::MarginMode;
use perpx_core::market::Market;
use perpx_core::risk::margin::{initial_margin, maintenance_margin};
use perpx_core::{AccountId, Engine, Quote};
use perpx_wire::units::{format_price, format_qty, format_quote, format_rate};
use serde_json::{Map, Value, json};

use super::signed::{ReadSigned, Signed, TradeSigned};
use super::{FapiError, MARGIN_ASSET, SymbolMap, market_of, ok, read, submit};
use crate::api::{Shared, State};

/// The largest notional a leverage allows: the cap of the last tier that still permits it.
fn max_notional(m: &Market, leverage: u32) -> String {
    let cap = m.spec.tiers.iter().filter(|t| t.max_leverage >= leverage).map(|t| t.max_notional).max();
    format_quote(cap.unwrap_or(Quote(0)))
}

/// The account's leverage in a market (the market's default until set).
fn leverage_of(e: &Engine, account: AccountId, m: &Market) -> u32 {
    e.account(account)
        .and_then(|a| a.leverage.get(&m.id).copied())
        .unwrap_or_else(|| perpx_core::account::default_leverage(m.spec.max_leverage))
}

pub(super) async fn leverage(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let symbol = params.req("symbol")?;
    let market = market_of(&s, &symbol)?;
    let leverage = params.int("leverage")?.ok_or_else(|| FapiError::missing("leverage"))?;
    params.finish()?;
    let leverage = u32::try_from(leverage)
        .map_err(|_| FapiError::new(StatusCode::BAD_REQUEST, -4028, format!("Leverage {leverage} is not valid")))?;
    let mut cmd = Map::new();
    cmd.insert("type".into(), json!("set_leverage"));
    cmd.insert("market".into(), json!(market));
    cmd.insert("leverage".into(), json!(leverage));
    submit(&s, account, cmd).await?;
    let m = market.clone();
    let cap = read(&s, move |e| json!(e.market_by_symbol(&m).map(|m| max_notional(m, leverage)))).await?;
    Ok(ok(json!({ "leverage": leverage, "maxNotionalValue": cap, "symbol": symbol })))
}

pub(super) async fn margin_type(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    let mode = match params.req("marginType")?.to_ascii_uppercase().as_str() {
        "ISOLATED" => MarginMode::Isolated,
        "CROSSED" | "CROSS" => MarginMode::Cross,
        other => return Err(FapiError::invalid("marginType", format!("'{other}' is not ISOLATED or CROSSED"))),
    };
    params.finish()?;
    let m = market.clone();
    let current = read(&s, move |e| {
        let id = e.market_by_symbol(&m).map(|m| m.id);
        json!(id.and_then(|id| e.account(AccountId(account)).map(|a| a.mode(id) == mode)))
    })
    .await?;
    if current == json!(true) {
        return Err(FapiError::new(StatusCode::BAD_REQUEST, -4046, "No need to change margin type."));
    }
    let mut cmd = Map::new();
    cmd.insert("type".into(), json!("set_margin_mode"));
    cmd.insert("market".into(), json!(market));
    cmd.insert("mode".into(), json!(if mode == MarginMode::Isolated { "isolated" } else { "cross" }));
    submit(&s, account, cmd).await?;
    Ok(ok(json!({ "code": 200, "msg": "success" })))
}

/// `type` 1 adds `amount` to the isolated position's margin, 2 removes it.
pub(super) async fn position_margin(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    let amount = params.req("amount")?;
    let kind = params.int("type")?.ok_or_else(|| FapiError::missing("type"))?;
    if params.opt("positionSide").is_some_and(|p| p != "BOTH") {
        return Err(FapiError::invalid("positionSide", "one-way mode: BOTH only"));
    }
    params.finish()?;
    let signed = match kind {
        1 => amount.clone(),
        2 => format!("-{amount}"),
        _ => return Err(FapiError::invalid("type", "1 (add) or 2 (reduce)")),
    };
    let mut cmd = Map::new();
    cmd.insert("type".into(), json!("adjust_isolated_margin"));
    cmd.insert("market".into(), json!(market));
    cmd.insert("amount".into(), json!(signed));
    submit(&s, account, cmd).await?;
    Ok(ok(json!({ "amount": amount, "code": 200,
                  "msg": "Successfully modify position margin.", "type": kind })))
}

/// Notional tiers as Binance brackets (`cum` is the tier's maintenance amount).
fn brackets(m: &Market, symbols: &SymbolMap) -> Value {
    let mut floor = Quote(0);
    let mut out = Vec::new();
    for (i, t) in m.spec.tiers.iter().enumerate() {
        out.push(json!({
            "bracket": i + 1,
            "initialLeverage": t.max_leverage,
            "notionalCap": format_quote(t.max_notional),
            "notionalFloor": format_quote(floor),
            "maintMarginRatio": format_rate(t.maintenance_rate),
            "cum": format_quote(t.maintenance_amount),
        }));
        floor = t.max_notional;
    }
    json!({ "symbol": symbols.binance(&m.spec.symbol), "notionalCoef": 1.0, "brackets": out })
}

pub(super) async fn leverage_bracket(
    s: State,
    ReadSigned(Signed { mut params, .. }): ReadSigned,
) -> Result<Response, FapiError> {
    let symbol = params.opt("symbol");
    let market = symbol.as_deref().map(|sym| market_of(&s, sym)).transpose()?;
    params.finish()?;
    let symbols = s.fapi.symbols.clone();
    let wanted = market.clone();
    let v = read(&s, move |e| {
        json!(
            e.markets()
                .iter()
                .filter(|m| wanted.as_ref().is_none_or(|w| *w == m.spec.symbol))
                .map(|m| brackets(m, &symbols))
                .collect::<Vec<_>>()
        )
    })
    .await?;
    let mut items: Vec<Value> = serde_json::from_value(v).unwrap_or_default();
    match (symbol, items.len()) {
        (Some(sym), 0) => Err(FapiError::bad_symbol(&sym)),
        (Some(_), _) => Ok(ok(items.pop().unwrap_or(Value::Null))),
        (None, _) => Ok(ok(json!(items))),
    }
}

pub(super) async fn get_dual(ReadSigned(Signed { params, .. }): ReadSigned) -> Result<Response, FapiError> {
    params.finish()?;
    Ok(ok(json!({ "dualSidePosition": false })))
}

/// One-way mode only: asking for it again is Binance's "no need to change", asking for hedge
/// mode is refused with the reason.
pub(super) async fn set_dual(TradeSigned(Signed { mut params, .. }): TradeSigned) -> Result<Response, FapiError> {
    let dual = params.bool("dualSidePosition")?.ok_or_else(|| FapiError::missing("dualSidePosition"))?;
    params.finish()?;
    if dual {
        return Err(FapiError::new(
            StatusCode::BAD_REQUEST,
            -4068,
            "Hedge mode (dualSidePosition=true) is not supported: perpx keeps one net position per market.",
        ));
    }
    Err(FapiError::new(StatusCode::BAD_REQUEST, -4059, "No need to change position side."))
}

pub(super) async fn get_multi_assets(ReadSigned(Signed { params, .. }): ReadSigned) -> Result<Response, FapiError> {
    params.finish()?;
    Ok(ok(json!({ "multiAssetsMargin": false })))
}

pub(super) async fn set_multi_assets(
    TradeSigned(Signed { mut params, .. }): TradeSigned,
) -> Result<Response, FapiError> {
    let on = params.bool("multiAssetsMargin")?.ok_or_else(|| FapiError::missing("multiAssetsMargin"))?;
    params.finish()?;
    if on {
        return Err(FapiError::new(
            StatusCode::BAD_REQUEST,
            -4168,
            "Multi-assets mode is not supported: perpx settles in one stablecoin.",
        ));
    }
    Err(FapiError::new(StatusCode::BAD_REQUEST, -4171, "Multi-assets mode is already off."))
}

/// One position's figures at the current mark, in the engine's exact units.
struct PositionFigures {
    symbol: String,
    size: String,
    entry: String,
    mark: String,
    upnl: String,
    notional: String,
    initial_margin: String,
    maint_margin: String,
    liquidation: String,
    leverage: u32,
    isolated: bool,
    isolated_margin: String,
    isolated_wallet: String,
    max_notional: String,
    adl: u8,
}

fn positions(e: &Engine, account: AccountId, symbols: &SymbolMap, all_markets: bool) -> Vec<PositionFigures> {
    let view = perpx_wire::account::account_view(e, account);
    let mut out = Vec::new();
    for m in e.markets() {
        let pv = view.as_ref().and_then(|v| v.positions.iter().find(|p| p.market == m.spec.symbol));
        if pv.is_none() && !all_markets {
            continue;
        }
        let position = e.account(account).map(|a| a.position(m.id)).unwrap_or_default();
        let leverage = leverage_of(e, account, m);
        let mark = m.mark.or(m.last_price);
        let notional = mark.and_then(|p| m.notional(p, perpx_core::Qty(position.size.0.abs()))).unwrap_or(Quote(0));
        let signed = if position.size.0 < 0 { Quote(-notional.0) } else { notional };
        let isolated = e.account(account).is_some_and(|a| a.mode(m.id) == MarginMode::Isolated);
        let upnl = pv.map_or_else(|| "0.000000".to_owned(), |p| p.unrealized_pnl.clone());
        let isolated_margin = if isolated { format_quote(position.isolated_margin) } else { "0".into() };
        // Binance's isolatedMargin is the isolated wallet plus unrealised PnL.
        let isolated_equity = pv.and_then(|p| p.isolated_equity.clone()).unwrap_or_else(|| "0".into());
        out.push(PositionFigures {
            symbol: symbols.binance(&m.spec.symbol),
            size: format_qty(m, position.size),
            entry: pv.and_then(|p| p.entry_price.clone()).unwrap_or_else(|| "0".into()),
            mark: mark.map_or_else(|| "0".into(), |p| format_price(m, p)),
            upnl,
            notional: format_quote(signed),
            initial_margin: format_quote(if notional.0 == 0 { Quote(0) } else { initial_margin(notional, leverage) }),
            maint_margin: format_quote(maintenance_margin(&m.spec.tiers, notional).unwrap_or(Quote(0))),
            liquidation: e.liquidation_price(account, m.id).map_or_else(|| "0".into(), |p| format_price(m, p)),
            leverage,
            isolated,
            isolated_margin: if isolated { isolated_equity } else { "0".into() },
            isolated_wallet: isolated_margin,
            max_notional: max_notional(m, leverage),
            adl: pv.and_then(|p| p.adl_percentile).map_or(0, adl_light),
        });
    }
    out
}

/// perpx's ADL percentile (1–100, 100 first in line) as Binance's quantile light (0–4).
fn adl_light(percentile: u8) -> u8 {
    (percentile.saturating_sub(1) / 20).min(4)
}

/// Wallet, margin and balance totals (one asset).
fn totals(e: &Engine, account: AccountId) -> Value {
    let view = perpx_wire::account::account_view(e, account);
    let isolated: i64 =
        e.account(account).map_or(0, |a| a.positions.values().map(|p| p.isolated_margin.0).sum::<i64>());
    let collateral = e.account(account).map_or(Quote(0), |a| a.collateral);
    let wallet = format_quote(Quote(collateral.0 + isolated));
    let field = |f: fn(&perpx_wire::account::AccountView) -> &String| {
        view.as_ref().map_or_else(|| "0.000000".to_owned(), |v| f(v).clone())
    };
    let upnl = field(|v| &v.unrealized_pnl);
    let margin_balance = view
        .as_ref()
        .and_then(|v| {
            let w = super::amount::Amount::parse(&wallet)?;
            Some(w.add(super::amount::Amount::parse(&v.unrealized_pnl)?).to_string())
        })
        .unwrap_or_else(|| wallet.clone());
    json!({
        "wallet": wallet,
        "cross_wallet": format_quote(collateral),
        "upnl": upnl,
        "margin_balance": margin_balance,
        "initial_margin": field(|v| &v.initial_margin),
        "maint_margin": field(|v| &v.maintenance_margin),
        "available": field(|v| &v.withdrawable),
    })
}

async fn account_json(s: &Shared, account: u64, v2: bool) -> Result<Value, FapiError> {
    let symbols = s.fapi.symbols.clone();
    read(s, move |e| {
        let id = AccountId(account);
        let t = totals(e, id);
        let now = e.now().0;
        let positions: Vec<Value> = positions(e, id, &symbols, v2)
            .into_iter()
            .map(|p| {
                let mut v = json!({
                    "symbol": p.symbol, "positionSide": "BOTH", "positionAmt": p.size,
                    "unrealizedProfit": p.upnl, "isolatedMargin": p.isolated_margin, "notional": p.notional,
                    "isolatedWallet": p.isolated_wallet, "initialMargin": p.initial_margin,
                    "maintMargin": p.maint_margin, "updateTime": now,
                });
                if v2 {
                    v["leverage"] = json!(p.leverage.to_string());
                    v["isolated"] = json!(p.isolated);
                    v["entryPrice"] = json!(p.entry);
                    v["maxNotional"] = json!(p.max_notional);
                    v["positionInitialMargin"] = json!(p.initial_margin);
                    v["openOrderInitialMargin"] = json!("0");
                    v["bidNotional"] = json!("0");
                    v["askNotional"] = json!("0");
                }
                v
            })
            .collect();
        let asset = json!({
            "asset": MARGIN_ASSET, "walletBalance": t["wallet"], "unrealizedProfit": t["upnl"],
            "marginBalance": t["margin_balance"], "maintMargin": t["maint_margin"],
            "initialMargin": t["initial_margin"], "positionInitialMargin": t["initial_margin"],
            "openOrderInitialMargin": "0", "crossWalletBalance": t["cross_wallet"], "crossUnPnl": t["upnl"],
            "availableBalance": t["available"], "maxWithdrawAmount": t["available"], "marginAvailable": true,
            "updateTime": now,
        });
        let mut v = json!({
            "totalInitialMargin": t["initial_margin"], "totalMaintMargin": t["maint_margin"],
            "totalWalletBalance": t["wallet"], "totalUnrealizedProfit": t["upnl"],
            "totalMarginBalance": t["margin_balance"], "totalPositionInitialMargin": t["initial_margin"],
            "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": t["cross_wallet"],
            "totalCrossUnPnl": t["upnl"], "availableBalance": t["available"],
            "maxWithdrawAmount": t["available"], "assets": [asset], "positions": positions,
        });
        if v2 {
            v["feeTier"] = json!(0);
            v["canTrade"] = json!(true);
            v["canDeposit"] = json!(true);
            v["canWithdraw"] = json!(true);
            v["updateTime"] = json!(now);
            v["multiAssetsMargin"] = json!(false);
            v["tradeGroupId"] = json!(-1);
        }
        v
    })
    .await
}

pub(super) async fn account_v2(
    s: State,
    ReadSigned(Signed { account, params }): ReadSigned,
) -> Result<Response, FapiError> {
    params.finish()?;
    Ok(ok(account_json(&s, account, true).await?))
}

pub(super) async fn account_v3(
    s: State,
    ReadSigned(Signed { account, params }): ReadSigned,
) -> Result<Response, FapiError> {
    params.finish()?;
    Ok(ok(account_json(&s, account, false).await?))
}

pub(super) async fn balance(
    s: State,
    ReadSigned(Signed { account, params }): ReadSigned,
) -> Result<Response, FapiError> {
    params.finish()?;
    let v = read(&s, move |e| {
        let t = totals(e, AccountId(account));
        json!([{
            "accountAlias": format!("perpx{account}"), "asset": MARGIN_ASSET, "balance": t["wallet"],
            "crossWalletBalance": t["cross_wallet"], "crossUnPnl": t["upnl"], "availableBalance": t["available"],
            "maxWithdrawAmount": t["available"], "marginAvailable": true, "updateTime": e.now().0,
        }])
    })
    .await?;
    Ok(ok(v))
}

async fn position_risk(s: &Shared, account: u64, symbol: Option<String>, v2: bool) -> Result<Value, FapiError> {
    let market = symbol.as_deref().map(|sym| market_of(s, sym)).transpose()?;
    let symbols = s.fapi.symbols.clone();
    let wanted = market.map(|m| symbols.binance(&m));
    read(s, move |e| {
        let now = e.now().0;
        json!(
            positions(e, AccountId(account), &symbols, v2)
                .into_iter()
                .filter(|p| wanted.as_ref().is_none_or(|w| *w == p.symbol))
                .map(|p| {
                    let mut v = json!({
                        "symbol": p.symbol, "positionSide": "BOTH", "positionAmt": p.size, "entryPrice": p.entry,
                        "breakEvenPrice": p.entry, "markPrice": p.mark, "unRealizedProfit": p.upnl,
                        "liquidationPrice": p.liquidation, "isolatedMargin": p.isolated_margin,
                        "notional": p.notional, "marginAsset": MARGIN_ASSET, "isolatedWallet": p.isolated_wallet,
                        "initialMargin": p.initial_margin, "maintMargin": p.maint_margin,
                        "positionInitialMargin": p.initial_margin, "openOrderInitialMargin": "0", "adl": p.adl,
                        "bidNotional": "0", "askNotional": "0", "updateTime": now,
                        // ccxt reads these from v2; perpx answers them on v3 too.
                        "leverage": p.leverage.to_string(),
                        "marginType": if p.isolated { "isolated" } else { "cross" },
                    });
                    if v2 {
                        v["maxNotionalValue"] = json!(p.max_notional);
                        v["isAutoAddMargin"] = json!("false");
                    }
                    v
                })
                .collect::<Vec<_>>()
        )
    })
    .await
}

pub(super) async fn position_risk_v2(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let symbol = params.opt("symbol");
    params.finish()?;
    Ok(ok(position_risk(&s, account, symbol, true).await?))
}

pub(super) async fn position_risk_v3(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let symbol = params.opt("symbol");
    params.finish()?;
    Ok(ok(position_risk(&s, account, symbol, false).await?))
}

pub(super) async fn adl_quantile(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let symbol = params.opt("symbol");
    params.finish()?;
    let market = symbol.as_deref().map(|sym| market_of(&s, sym)).transpose()?;
    let symbols = s.fapi.symbols.clone();
    let wanted = market.map(|m| symbols.binance(&m));
    let v = read(&s, move |e| {
        json!(
            positions(e, AccountId(account), &symbols, false)
                .into_iter()
                .filter(|p| wanted.as_ref().is_none_or(|w| *w == p.symbol))
                .map(|p| json!({ "symbol": p.symbol, "adlQuantile": { "LONG": 0, "SHORT": 0, "BOTH": p.adl } }))
                .collect::<Vec<_>>()
        )
    })
    .await?;
    Ok(ok(v))
}

pub(super) async fn commission_rate(
    s: State,
    ReadSigned(Signed { mut params, .. }): ReadSigned,
) -> Result<Response, FapiError> {
    let symbol = params.req("symbol")?;
    let market = market_of(&s, &symbol)?;
    params.finish()?;
    let v = read(&s, move |e| {
        json!(e.market_by_symbol(&market).map(|m| json!({
            "symbol": symbol, "makerCommissionRate": format_rate(m.spec.maker_fee),
            "takerCommissionRate": format_rate(m.spec.taker_fee),
        })))
    })
    .await?;
    if v.is_null() {
        return Err(FapiError::new(StatusCode::BAD_REQUEST, -1121, "Invalid symbol."));
    }
    Ok(ok(v))
}

#[cfg(test)]
mod tests {
    use super::adl_light;

    #[test]
    fn the_adl_percentile_maps_onto_five_lights() {
        assert_eq!([1, 20, 21, 40, 60, 80, 81, 100].map(adl_light), [0, 0, 1, 1, 2, 3, 4, 4]);
    }
}
