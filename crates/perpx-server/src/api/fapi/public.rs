//! Public `/fapi` endpoints: market data in Binance's shapes, read from the engine (books,
//! marks, funding) and the history read model (trades, candles, funding history, 24-hour
//! statistics).

use std::collections::BTreeMap;

use axum::extract::{ConnectInfo, Query};
use axum::http::Uri;
use axum::response::Response;
use perpx_core::book::Side;
use perpx_core::market::{Market, MarketStatus};
use perpx_core::{Engine, Price};
use perpx_wire::units::{format_price, format_qty, format_quote, format_rate};
use serde_json::{Value, json};

use super::amount::Amount;
use super::{FapiError, MARGIN_ASSET, Params, SymbolMap, history_error, market_of, ok, read};
use crate::api::{Conn, State, now_ms};
use crate::history::Range;

type Q = Query<BTreeMap<String, String>>;

/// The parameters of a public GET (its query string).
fn params(uri: &Uri) -> Result<Params, FapiError> {
    Params::parse(&[uri.query().unwrap_or_default().as_bytes()])
}

fn limit_ip(s: &crate::api::Shared, addr: std::net::SocketAddr) -> Result<(), FapiError> {
    crate::api::limit_ip(s, addr).map_err(FapiError::from)
}

/// Runs `f` on market `market` (or fails with `-1121`).
async fn on_market(
    s: &crate::api::Shared,
    symbol: &str,
    f: impl FnOnce(&Engine, &Market) -> Value + Send + 'static,
) -> Result<Value, FapiError> {
    let market = market_of(s, symbol)?;
    let v = read(s, move |e| match e.market_by_symbol(&market) {
        Some(m) => f(e, m),
        None => Value::Null,
    })
    .await?;
    if v.is_null() { Err(FapiError::bad_symbol(symbol)) } else { Ok(v) }
}

pub(super) async fn ping() -> Response {
    ok(json!({}))
}

pub(super) async fn time() -> Response {
    ok(json!({ "serverTime": now_ms() }))
}

fn decimals(unit: perpx_core::Decimal) -> u32 {
    let text = unit.to_string();
    text.split_once('.').map_or(0, |(_, f)| u32::try_from(f.len()).unwrap_or(0))
}

fn status(m: &Market) -> &'static str {
    match m.status {
        MarketStatus::Active => "TRADING",
        MarketStatus::Halted => "BREAK",
        MarketStatus::Delisted => "SETTLING",
    }
}

/// One symbol of `exchangeInfo`: precisions and the filters clients check orders against.
fn symbol_info(m: &Market, symbols: &SymbolMap) -> Value {
    let s = &m.spec;
    let tick = s.tick_size.to_string();
    let lot = s.lot_size.to_string();
    let min_qty = format_qty(m, s.min_qty);
    let max_qty = format_qty(m, s.limits.max_order_qty);
    let max_price = format_price(m, Price(i64::MAX / 1_000));
    let base = s.symbol.strip_suffix("-PERP").unwrap_or(&s.symbol).replace('-', "");
    let band = Amount::parse(&format_rate(s.order_band)).unwrap_or_default();
    let one = Amount { units: 1, scale: 0 };
    let tier1 = s.tiers.first();
    json!({
        "symbol": symbols.binance(&s.symbol),
        "pair": symbols.binance(&s.symbol),
        "contractType": "PERPETUAL",
        "deliveryDate": 4_133_404_800_000_i64,
        "onboardDate": 0,
        "status": status(m),
        "maintMarginPercent": tier1.map_or_else(|| "0".into(), |t| format_rate(t.maintenance_rate)),
        "requiredMarginPercent": one
            .div(Amount { units: i128::from(s.max_leverage.max(1)), scale: 0 }, 4)
            .unwrap_or_default()
            .to_string(),
        "baseAsset": base,
        "quoteAsset": MARGIN_ASSET,
        "marginAsset": MARGIN_ASSET,
        "pricePrecision": decimals(s.tick_size),
        "quantityPrecision": decimals(s.lot_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": format_rate(s.order_band),
        "liquidationFee": format_rate(s.liquidation.fee_rate),
        "marketTakeBound": format_rate(s.order_band),
        "maxMoveOrderLimit": 10_000,
        "filters": [
            { "filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": max_price, "tickSize": tick },
            { "filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": lot },
            { "filterType": "MARKET_LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": lot },
            { "filterType": "MAX_NUM_ORDERS", "limit": s.limits.max_open_orders_per_account },
            { "filterType": "MAX_NUM_ALGO_ORDERS", "limit": s.limits.max_stops_per_account },
            { "filterType": "MIN_NOTIONAL", "notional": format_quote(s.min_notional) },
            { "filterType": "PERCENT_PRICE", "multiplierUp": one.add(band).to_string(),
              "multiplierDown": one.sub(band).to_string(), "multiplierDecimal": "4" },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    })
}

pub(super) async fn exchange_info(s: State, ConnectInfo(addr): Conn) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let symbols = s.fapi.symbols.clone();
    let per_key = s.config.rate_limit_per_key;
    let v = read(&s, move |e| {
        json!({
            "timezone": "UTC",
            "serverTime": now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": [
                { "rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 1, "limit": per_key },
                { "rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": per_key },
            ],
            "exchangeFilters": [],
            "assets": [{ "asset": MARGIN_ASSET, "marginAvailable": true, "autoAssetExchange": "0" }],
            "symbols": e.markets().iter().map(|m| symbol_info(m, &symbols)).collect::<Vec<_>>(),
        })
    })
    .await?;
    Ok(ok(v))
}

fn book_side(m: &Market, side: Side, limit: usize) -> Vec<Value> {
    m.book.levels(side).take(limit).map(|(p, l)| json!([format_price(m, p), format_qty(m, l.total)])).collect()
}

pub(super) async fn depth(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let mut p = params(&uri)?;
    let symbol = p.req("symbol")?;
    let limit = p.int("limit")?.unwrap_or(500);
    p.finish()?;
    if ![5, 10, 20, 50, 100, 500, 1000].contains(&limit) {
        return Err(FapiError::invalid("limit", "one of 5, 10, 20, 50, 100, 500, 1000"));
    }
    let limit = usize::try_from(limit).unwrap_or(500);
    let v = on_market(&s, &symbol, move |e, m| {
        let now = now_ms();
        json!({ "lastUpdateId": e.seq(), "E": now, "T": now,
                "bids": book_side(m, Side::Buy, limit), "asks": book_side(m, Side::Sell, limit) })
    })
    .await?;
    Ok(ok(v))
}

fn history(s: &crate::api::Shared) -> Result<&crate::history::History, FapiError> {
    s.history.as_deref().ok_or_else(|| {
        FapiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            -1001,
            "this needs the history read model (history = true)",
        )
    })
}

/// The newest `limit` fills of a market (checked to exist).
async fn recent_fills(s: &crate::api::Shared, symbol: &str, limit: i64) -> Result<Vec<Value>, FapiError> {
    let market = market_of(s, symbol)?;
    on_market(s, symbol, |_, _| json!(true)).await?;
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| (1..=1_000).contains(l))
        .ok_or_else(|| FapiError::invalid("limit", "1 to 1000"))?;
    history(s)?
        .range(&Range {
            account: None,
            market: Some(&market),
            types: &["fill"],
            from_ts: 0,
            to_ts: i64::MAX,
            limit,
            newest: true,
        })
        .map_err(history_error)
}

fn quote_of(f: &Value) -> String {
    let p = f["price"].as_str().and_then(Amount::parse).unwrap_or_default();
    let q = f["qty"].as_str().and_then(Amount::parse).unwrap_or_default();
    p.mul(q).to_string()
}

pub(super) async fn trades(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let mut p = params(&uri)?;
    let symbol = p.req("symbol")?;
    let limit = p.int("limit")?.unwrap_or(500);
    p.finish()?;
    let fills = recent_fills(&s, &symbol, limit).await?;
    Ok(ok(json!(
        fills
            .iter()
            .map(|f| json!({
                "id": f["trade_id"], "price": f["price"], "qty": f["qty"], "quoteQty": quote_of(f),
                "time": f["ts"], "isBuyerMaker": f["taker_side"] == "sell",
            }))
            .collect::<Vec<_>>()
    )))
}

/// Every perpx fill is its own aggregate trade (`a` = `f` = `l` = the trade id).
pub(super) async fn agg_trades(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let mut p = params(&uri)?;
    let symbol = p.req("symbol")?;
    let limit = p.int("limit")?.unwrap_or(500);
    p.finish()?;
    let fills = recent_fills(&s, &symbol, limit).await?;
    Ok(ok(json!(fills.iter().map(agg_trade).collect::<Vec<_>>())))
}

/// A fill as an `aggTrade` (REST and the `@aggTrade` stream share it).
pub(super) fn agg_trade(f: &Value) -> Value {
    json!({ "a": f["trade_id"], "p": f["price"], "q": f["qty"], "f": f["trade_id"], "l": f["trade_id"],
            "T": f["ts"], "m": f["taker_side"] == "sell" })
}

/// Binance's kline intervals in ms.
fn interval_ms(text: &str) -> Option<i64> {
    const MIN: i64 = 60_000;
    Some(match text {
        "1m" => MIN,
        "3m" => 3 * MIN,
        "5m" => 5 * MIN,
        "15m" => 15 * MIN,
        "30m" => 30 * MIN,
        "1h" => 60 * MIN,
        "2h" => 120 * MIN,
        "4h" => 240 * MIN,
        "6h" => 360 * MIN,
        "8h" => 480 * MIN,
        "12h" => 720 * MIN,
        "1d" => 1_440 * MIN,
        "3d" => 3 * 1_440 * MIN,
        "1w" => 7 * 1_440 * MIN,
        _ => return None,
    })
}

/// One candle being built from fills (exact sums).
#[derive(Debug, Clone)]
struct Candle {
    open_time: i64,
    open: String,
    high: Amount,
    low: Amount,
    close: String,
    volume: Amount,
    quote: Amount,
    trades: u64,
    taker_buy: Amount,
    taker_buy_quote: Amount,
}

fn candles(fills: &[Value], interval: i64) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for f in fills {
        let (Some(price_text), Some(ts)) = (f["price"].as_str(), f["ts"].as_i64()) else { continue };
        let price = Amount::parse(price_text).unwrap_or_default();
        let qty = f["qty"].as_str().and_then(Amount::parse).unwrap_or_default();
        let quote = price.mul(qty);
        let buy = f["taker_side"] == "buy";
        let open_time = ts - ts.rem_euclid(interval);
        match out.last_mut() {
            Some(c) if c.open_time == open_time => {
                if price.sub(c.high).units > 0 {
                    c.high = price;
                }
                if price.sub(c.low).units < 0 {
                    c.low = price;
                }
                price_text.clone_into(&mut c.close);
                c.volume = c.volume.add(qty);
                c.quote = c.quote.add(quote);
                c.trades += 1;
                if buy {
                    c.taker_buy = c.taker_buy.add(qty);
                    c.taker_buy_quote = c.taker_buy_quote.add(quote);
                }
            }
            _ => out.push(Candle {
                open_time,
                open: price_text.to_owned(),
                high: price,
                low: price,
                close: price_text.to_owned(),
                volume: qty,
                quote,
                trades: 1,
                taker_buy: if buy { qty } else { Amount { units: 0, scale: qty.scale } },
                taker_buy_quote: if buy { quote } else { Amount { units: 0, scale: quote.scale } },
            }),
        }
    }
    out
}

/// Candles from the trades (intervals without a trade are left out).
pub(super) async fn klines(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let mut p = params(&uri)?;
    let symbol = p.req("symbol")?;
    let interval_text = p.req("interval")?;
    let interval = interval_ms(&interval_text).ok_or_else(|| FapiError::invalid("interval", "1m, 5m, 1h, 1d, ..."))?;
    let start = p.int("startTime")?;
    let end = p.int("endTime")?;
    let limit = p.int("limit")?.unwrap_or(500);
    p.finish()?;
    let limit = usize::try_from(limit)
        .ok()
        .filter(|l| (1..=1_500).contains(l))
        .ok_or_else(|| FapiError::invalid("limit", "1 to 1500"))?;
    let market = market_of(&s, &symbol)?;
    on_market(&s, &symbol, |_, _| json!(true)).await?;
    let end = end.unwrap_or(i64::MAX);
    // Without a start, the last `limit` intervals up to the end (or now).
    let from = start.unwrap_or_else(|| {
        let to = if end == i64::MAX { now_ms() } else { end };
        to - to.rem_euclid(interval) - interval * i64::try_from(limit - 1).unwrap_or(0)
    });
    let fills = history(&s)?
        .range(&Range {
            account: None,
            market: Some(&market),
            types: &["fill"],
            from_ts: from - from.rem_euclid(interval),
            to_ts: end,
            limit: 1_000_000,
            newest: false,
        })
        .map_err(history_error)?;
    let rows: Vec<Value> = candles(&fills, interval)
        .into_iter()
        .take(limit)
        .map(|c| {
            json!([
                c.open_time,
                c.open,
                c.high.to_string(),
                c.low.to_string(),
                c.close,
                c.volume.to_string(),
                c.open_time + interval - 1,
                c.quote.to_string(),
                c.trades,
                c.taker_buy.to_string(),
                c.taker_buy_quote.to_string(),
                "0"
            ])
        })
        .collect();
    Ok(ok(json!(rows)))
}

/// The symbols a market-data call covers: one (`symbol`) or all.
async fn markets(s: &crate::api::Shared, symbol: Option<&str>) -> Result<Vec<String>, FapiError> {
    match symbol {
        Some(sym) => {
            on_market(s, sym, |_, _| json!(true)).await?;
            Ok(vec![market_of(s, sym)?])
        }
        None => {
            let v = read(s, |e| json!(e.markets().iter().map(|m| m.spec.symbol.clone()).collect::<Vec<_>>())).await?;
            Ok(serde_json::from_value(v).unwrap_or_default())
        }
    }
}

/// A one-or-all answer: a bare object for one symbol, an array for all (Binance's rule).
fn one_or_all(symbol: Option<&str>, mut items: Vec<Value>) -> Value {
    match symbol {
        Some(_) => items.pop().unwrap_or(Value::Null),
        None => Value::Array(items),
    }
}

/// Rolling 24-hour statistics from the trades.
pub(super) async fn ticker_24hr(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let mut p = params(&uri)?;
    let symbol = p.opt("symbol");
    p.finish()?;
    let now = now_ms();
    let from = now - 24 * 3_600_000;
    let h = history(&s)?;
    let mut items = Vec::new();
    for market in markets(&s, symbol.as_deref()).await? {
        let fills = h
            .range(&Range {
                account: None,
                market: Some(&market),
                types: &["fill"],
                from_ts: from,
                to_ts: now,
                limit: 1_000_000,
                newest: false,
            })
            .map_err(history_error)?;
        let day = candles(&fills, i64::MAX);
        let c = day.first();
        let last = c.map_or_else(|| "0".to_owned(), |c| c.close.clone());
        let open = c.map_or_else(|| "0".to_owned(), |c| c.open.clone());
        let (o, l) = (Amount::parse(&open).unwrap_or_default(), Amount::parse(&last).unwrap_or_default());
        let change = l.sub(o);
        let percent =
            change.mul(Amount { units: 100, scale: 0 }).div(o, 3).map_or_else(|| "0".into(), |a| a.to_string());
        let weighted = c.and_then(|c| c.quote.div(c.volume, o.scale)).map_or_else(|| "0".into(), |a| a.to_string());
        items.push(json!({
            "symbol": s.fapi.symbols.binance(&market),
            "priceChange": change.to_string(),
            "priceChangePercent": percent,
            "weightedAvgPrice": weighted,
            "lastPrice": last,
            "lastQty": fills.last().map_or(json!("0"), |f| f["qty"].clone()),
            "openPrice": open,
            "highPrice": c.map_or_else(|| "0".into(), |c| c.high.to_string()),
            "lowPrice": c.map_or_else(|| "0".into(), |c| c.low.to_string()),
            "volume": c.map_or_else(|| "0".into(), |c| c.volume.to_string()),
            "quoteVolume": c.map_or_else(|| "0".into(), |c| c.quote.to_string()),
            "openTime": fills.first().map_or(json!(from), |f| f["ts"].clone()),
            "closeTime": now,
            "firstId": fills.first().map_or(json!(0), |f| f["trade_id"].clone()),
            "lastId": fills.last().map_or(json!(0), |f| f["trade_id"].clone()),
            "count": fills.len(),
        }));
    }
    Ok(ok(one_or_all(symbol.as_deref(), items)))
}

/// A one-or-all market-data answer (`symbol` optional): `f` gives one market's object, read
/// from the engine; a bare object for one symbol, an array for all (Binance's rule).
async fn each_market(
    s: &crate::api::Shared,
    uri: &Uri,
    f: fn(&Engine, &Market, &SymbolMap) -> Value,
) -> Result<Response, FapiError> {
    let mut p = params(uri)?;
    let symbol = p.opt("symbol");
    p.finish()?;
    let wanted = markets(s, symbol.as_deref()).await?;
    let symbols = s.fapi.symbols.clone();
    let items = read(s, move |e| {
        json!(wanted.iter().filter_map(|w| e.market_by_symbol(w)).map(|m| f(e, m, &symbols)).collect::<Vec<_>>())
    })
    .await?;
    Ok(ok(one_or_all(symbol.as_deref(), serde_json::from_value(items).unwrap_or_default())))
}

/// The last trade price per market (the mark before the first trade).
pub(super) async fn ticker_price(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    each_market(&s, &uri, |_, m, symbols| {
        json!({
            "symbol": symbols.binance(&m.spec.symbol),
            "price": m.last_price.or(m.mark).map_or_else(|| "0".into(), |p| format_price(m, p)),
            "time": now_ms(),
        })
    })
    .await
}

/// Best bid and ask per market.
pub(super) async fn book_ticker(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    each_market(&s, &uri, book_ticker_of).await
}

/// A market's best bid and ask (REST `bookTicker`).
pub(super) fn book_ticker_of(e: &Engine, m: &Market, symbols: &SymbolMap) -> Value {
    let best = |side| {
        m.book
            .levels(side)
            .next()
            .map_or_else(|| ("0".to_owned(), "0".to_owned()), |(p, l)| (format_price(m, p), format_qty(m, l.total)))
    };
    let (bid, bid_qty) = best(Side::Buy);
    let (ask, ask_qty) = best(Side::Sell);
    json!({ "symbol": symbols.binance(&m.spec.symbol), "bidPrice": bid, "bidQty": bid_qty, "askPrice": ask,
            "askQty": ask_qty, "time": now_ms(), "lastUpdateId": e.seq() })
}

/// Mark, index and funding of a market, Binance's `premiumIndex` (also the `@markPrice`
/// stream's payload).
pub(super) fn premium_index_of(e: &Engine, m: &Market, symbols: &SymbolMap) -> Value {
    let view = perpx_wire::account::market_view(e, m.id);
    let price = |p: Option<Price>| p.map_or_else(|| "0".into(), |p| format_price(m, p));
    let (rate, interest, next) = view.as_ref().map_or_else(
        || ("0".to_owned(), "0".to_owned(), 0),
        |v| (v.predicted_rate.clone(), format_rate(m.spec.funding.interest_8h), v.next_funding_time),
    );
    json!({
        "symbol": symbols.binance(&m.spec.symbol),
        "markPrice": price(m.mark),
        "indexPrice": view.as_ref().and_then(|v| v.index_price.clone()).unwrap_or_else(|| "0".into()),
        "estimatedSettlePrice": price(m.mark),
        "lastFundingRate": rate,
        "interestRate": interest,
        "nextFundingTime": next,
        "time": e.now().0,
    })
}

pub(super) async fn premium_index(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    each_market(&s, &uri, premium_index_of).await
}

/// Settled funding rates, oldest first.
pub(super) async fn funding_rate(s: State, ConnectInfo(addr): Conn, uri: Uri) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let mut p = params(&uri)?;
    let symbol = p.opt("symbol");
    let start = p.int("startTime")?;
    let end = p.int("endTime")?;
    let limit = p.int("limit")?.unwrap_or(100);
    p.finish()?;
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| (1..=1_000).contains(l))
        .ok_or_else(|| FapiError::invalid("limit", "1 to 1000"))?;
    let market = match &symbol {
        Some(sym) => {
            on_market(&s, sym, |_, _| json!(true)).await?;
            Some(market_of(&s, sym)?)
        }
        None => None,
    };
    let events = history(&s)?
        .range(&Range {
            account: None,
            market: market.as_deref(),
            types: &["funding_settled"],
            from_ts: start.unwrap_or(0),
            to_ts: end.unwrap_or(i64::MAX),
            limit,
            newest: start.is_none(),
        })
        .map_err(history_error)?;
    Ok(ok(json!(
        events
            .iter()
            .map(|f| json!({
                "symbol": s.fapi.symbols.binance(f["market"].as_str().unwrap_or_default()),
                "fundingRate": f["rate"], "fundingTime": f["funding_time"], "markPrice": f["mark_price"],
            }))
            .collect::<Vec<_>>()
    )))
}

/// Funding caps and intervals per market.
pub(super) async fn funding_info(s: State, ConnectInfo(addr): Conn, _q: Q) -> Result<Response, FapiError> {
    limit_ip(&s, addr)?;
    let symbols = s.fapi.symbols.clone();
    let v = read(&s, move |e| {
        json!(
            e.markets()
                .iter()
                .map(|m| {
                    let view = perpx_wire::account::market_view(e, m.id);
                    let cap = view.map_or_else(|| "0".to_owned(), |v| v.cap_8h);
                    let floor =
                        Amount::parse(&cap).map_or_else(|| "0".into(), |c| Amount { units: -c.units, ..c }.to_string());
                    json!({
                        "symbol": symbols.binance(&m.spec.symbol),
                        "adjustedFundingRateCap": cap,
                        "adjustedFundingRateFloor": floor,
                        "fundingIntervalHours": m.spec.funding.interval_ms / perpx_core::market::HOUR_MS,
                        "disclaimer": false,
                    })
                })
                .collect::<Vec<_>>()
        )
    })
    .await?;
    Ok(ok(v))
}
