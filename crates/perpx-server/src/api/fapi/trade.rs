//! Signed trading endpoints: orders (new, cancel, query, batches, open, all), the countdown
//! cancel, trades and income. Each is a perpx command or a read of the engine and the history
//! read model, reshaped; the order objects come from [`OrderState::fold`].

use axum::http::StatusCode;
use axum::response::Response;
use perpx_core::{AccountId, ClientOrderId};
use serde_json::{Map, Value, json};

use super::amount::Amount;
use super::orders::OrderState;
use super::signed::{ReadSigned, Signed, TradeSigned};
use super::{FapiError, Params, history_caught_up, history_error, market_of, ok, read, submit};
use crate::api::{Shared, State, now_ms};
use crate::history::Range;
use crate::sequencer::Ack;

/// The perpx `place_order` / `place_stop` command of Binance's order parameters.
fn order_command(s: &Shared, p: &mut Params) -> Result<Map<String, Value>, FapiError> {
    let symbol = p.req("symbol")?;
    let market = market_of(s, &symbol)?;
    let side = match p.req("side")?.as_str() {
        "BUY" => "buy",
        "SELL" => "sell",
        other => return Err(FapiError::invalid("side", format!("'{other}' is not BUY or SELL"))),
    };
    let kind = p.req("type")?;
    let qty = p.opt("quantity");
    let price = p.opt("price");
    let stop_price = p.opt("stopPrice");
    let tif = p.opt("timeInForce");
    let reduce_only = p.bool("reduceOnly")?.unwrap_or(false);
    let client_id = p.opt("newClientOrderId");
    match p.opt("positionSide").as_deref() {
        None | Some("BOTH") => {}
        Some(other) => {
            return Err(FapiError::new(
                StatusCode::BAD_REQUEST,
                -4061,
                format!("positionSide {other}: perpx runs one-way mode only (positionSide BOTH)"),
            ));
        }
    }
    if p.bool("closePosition")? == Some(true) {
        return Err(FapiError::invalid("closePosition", "not supported: send reduceOnly=true with a quantity"));
    }
    if p.bool("priceProtect")? == Some(true) {
        return Err(FapiError::invalid("priceProtect", "not supported (perpx's order band always applies)"));
    }
    for unsupported in ["activationPrice", "callbackRate", "priceMatch", "goodTillDate"] {
        if p.opt(unsupported).is_some_and(|v| v != "NONE" && v != "0") {
            return Err(FapiError::invalid(unsupported, "not supported by perpx"));
        }
    }
    let working = match p.opt("workingType").as_deref() {
        None | Some("CONTRACT_PRICE") => "last",
        Some("MARK_PRICE") => "mark",
        Some(other) => return Err(FapiError::invalid("workingType", format!("'{other}'"))),
    };
    let stp = match p.opt("selfTradePreventionMode").as_deref() {
        None | Some("NONE" | "EXPIRE_TAKER") => "expire_taker",
        Some("EXPIRE_MAKER") => "expire_maker",
        Some("EXPIRE_BOTH") => "expire_both",
        Some(other) => return Err(FapiError::invalid("selfTradePreventionMode", format!("'{other}'"))),
    };
    match p.opt("newOrderRespType").as_deref() {
        None | Some("ACK" | "RESULT") => {}
        Some(other) => return Err(FapiError::invalid("newOrderRespType", format!("'{other}' is not ACK or RESULT"))),
    }
    let tif = match tif.as_deref() {
        None | Some("GTC") => "gtc",
        Some("IOC") => "ioc",
        Some("FOK") => "fok",
        Some("GTX") => "post_only",
        Some("GTD") => return Err(FapiError::invalid("timeInForce", "GTD is not supported")),
        Some(other) => return Err(FapiError::invalid("timeInForce", format!("'{other}'"))),
    };
    let qty = qty.ok_or_else(|| FapiError::missing("quantity"))?;
    let mut c = Map::new();
    c.insert("market".into(), json!(market));
    c.insert("side".into(), json!(side));
    c.insert("qty".into(), json!(qty));
    c.insert("stp".into(), json!(stp));
    c.insert("reduce_only".into(), json!(reduce_only));
    if let Some(id) = client_id {
        c.insert("client_id".into(), json!(id));
    }
    let need_price = || price.clone().ok_or_else(|| FapiError::missing("price"));
    let need_stop = || stop_price.clone().ok_or_else(|| FapiError::missing("stopPrice"));
    match kind.as_str() {
        "LIMIT" => {
            c.insert("type".into(), json!("place_order"));
            c.insert("order_type".into(), json!("limit"));
            c.insert("price".into(), json!(need_price()?));
            c.insert("tif".into(), json!(tif));
        }
        "MARKET" => {
            if price.is_some() {
                return Err(FapiError::invalid("price", "a MARKET order takes no price"));
            }
            c.insert("type".into(), json!("place_order"));
            c.insert("order_type".into(), json!("market"));
        }
        "STOP" | "TAKE_PROFIT" | "STOP_MARKET" | "TAKE_PROFIT_MARKET" => {
            let limit = !kind.ends_with("_MARKET");
            let stop_type = match (kind.starts_with("TAKE_PROFIT"), limit) {
                (false, false) => "stop_market",
                (false, true) => "stop_limit",
                (true, false) => "take_profit_market",
                (true, true) => "take_profit_limit",
            };
            c.insert("type".into(), json!("place_stop"));
            c.insert("stop_type".into(), json!(stop_type));
            c.insert("trigger_price".into(), json!(need_stop()?));
            c.insert("trigger_by".into(), json!(working));
            if limit {
                c.insert("price".into(), json!(need_price()?));
                c.insert("tif".into(), json!(tif));
            }
        }
        "TRAILING_STOP_MARKET" => return Err(FapiError::invalid("type", "TRAILING_STOP_MARKET is not supported")),
        other => return Err(FapiError::invalid("type", format!("'{other}'"))),
    }
    Ok(c)
}

/// The order an acknowledgement created: its id is in its first `order_accepted` or
/// `stop_accepted` for the account, and its whole life so far is in the same events.
fn placed_order(ack: &Ack, account: u64) -> Option<OrderState> {
    let first = ack.events().iter().find(|e| {
        e["account"].as_u64() == Some(account) && matches!(e["type"].as_str(), Some("order_accepted" | "stop_accepted"))
    })?;
    let id = first["order_id"].as_u64().or_else(|| first["stop_id"].as_u64())?;
    OrderState::fold(id, ack.events().iter().map(|e| e.value()))
}

/// Places an order from its parameters (all of them read: an unknown one is refused before
/// anything is sent).
async fn place(s: &Shared, account: u64, mut p: Params) -> Result<Value, FapiError> {
    let cmd = order_command(s, &mut p)?;
    p.finish()?;
    let ack = submit(s, account, cmd).await?;
    let order = placed_order(&ack, account).ok_or_else(|| {
        // A duplicate client order id answers with the existing order's state instead.
        let dup = ack.events().iter().find(|e| e["type"] == "duplicate_client_order_id");
        match dup {
            Some(d) => FapiError::new(
                StatusCode::BAD_REQUEST,
                -4116,
                format!("ClientOrderId is duplicated (order {} holds it).", d["order_id"]),
            ),
            None => FapiError::new(StatusCode::BAD_REQUEST, -2010, "the order was not accepted"),
        }
    })?;
    Ok(order.to_binance(&s.fapi.symbols))
}

pub(super) async fn new_order(
    s: State,
    TradeSigned(Signed { account, params }): TradeSigned,
) -> Result<Response, FapiError> {
    Ok(ok(place(&s, account, params).await?))
}

/// Up to `max_batch` orders (`batchOrders`: a JSON array of order parameter objects), each
/// answered on its own: the order, or `{code, msg}`.
pub(super) async fn batch_orders(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let list = params.req("batchOrders")?;
    params.finish()?;
    let items: Vec<Map<String, Value>> =
        serde_json::from_str(&list).map_err(|e| FapiError::invalid("batchOrders", e))?;
    if items.is_empty() || items.len() > s.config.max_batch {
        return Err(FapiError::invalid("batchOrders", format!("1 to {} orders", s.config.max_batch)));
    }
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        let encoded: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                item.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))),
            )
            .finish();
        let answer = match Params::parse(&[encoded.as_bytes()]) {
            Ok(p) => place(&s, account, p).await,
            Err(e) => Err(e),
        };
        answers.push(answer.unwrap_or_else(|e| json!({ "code": e.code, "msg": e.msg })));
    }
    Ok(ok(json!(answers)))
}

/// The order `orderId` or `origClientOrderId` names, as a perpx order id.
async fn order_id(s: &Shared, account: u64, market: &str, p: &mut Params, cancel: bool) -> Result<u64, FapiError> {
    if let Some(id) = p.int("orderId")? {
        return u64::try_from(id).map_err(|_| FapiError::no_order(cancel));
    }
    let cid = p.opt("origClientOrderId").ok_or_else(|| FapiError::missing("orderId"))?;
    let cid = ClientOrderId::new(&cid).map_err(|_| FapiError::no_order(cancel))?;
    let market = market.to_owned();
    let id = read(s, move |e| {
        let m = e.market_by_symbol(&market).map(|m| m.id);
        json!(e.client_orders().get(AccountId(account), &cid).filter(|c| Some(c.market) == m).map(|c| c.order_id.0))
    })
    .await?;
    id.as_u64().ok_or_else(|| FapiError::no_order(cancel))
}

/// Cancels the account's order (or armed stop) `id` in `market`; an unknown one is Binance's
/// `-2011 Unknown order sent.` (the message clients match on).
async fn cancel(s: &Shared, account: u64, market: &str, id: u64) -> Result<(), FapiError> {
    let mut cmd = Map::new();
    cmd.insert("type".into(), json!("cancel_order"));
    cmd.insert("market".into(), json!(market));
    cmd.insert("order_id".into(), json!(id));
    submit(s, account, cmd).await.map(drop).map_err(|e| if e.code == -2011 { FapiError::no_order(true) } else { e })
}

/// The state of the account's order `id` from the history read model.
async fn stored_order(s: &Shared, account: u64, id: u64, cancel: bool) -> Result<OrderState, FapiError> {
    folded(history_caught_up(s).await?, account, id, cancel)
}

/// The order folded from a history that has caught up (see [`history_caught_up`]).
fn folded(h: &crate::history::History, account: u64, id: u64, cancel: bool) -> Result<OrderState, FapiError> {
    let events = h.order_events(id).map_err(|e| FapiError::new(StatusCode::SERVICE_UNAVAILABLE, -1001, e))?;
    OrderState::fold(id, &events).filter(|o| o.account == account).ok_or_else(|| FapiError::no_order(cancel))
}

pub(super) async fn cancel_order(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let symbol = params.req("symbol")?;
    let market = market_of(&s, &symbol)?;
    let id = order_id(&s, account, &market, &mut params, true).await?;
    params.finish()?;
    cancel(&s, account, &market, id).await?;
    let order = stored_order(&s, account, id, true).await?;
    Ok(ok(order.to_binance(&s.fapi.symbols)))
}

/// `DELETE /fapi/v1/batchOrders`: `orderIdList` or `origClientOrderIdList` (JSON arrays).
pub(super) async fn cancel_batch(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let symbol = params.req("symbol")?;
    let market = market_of(&s, &symbol)?;
    let ids: Vec<Value> = match (params.opt("orderIdList"), params.opt("origClientOrderIdList")) {
        (Some(l), None) | (None, Some(l)) => {
            serde_json::from_str(&l).map_err(|e| FapiError::invalid("orderIdList", e))?
        }
        _ => return Err(FapiError::missing("orderIdList")),
    };
    params.finish()?;
    if ids.is_empty() || ids.len() > s.config.max_batch {
        return Err(FapiError::invalid("orderIdList", format!("1 to {} orders", s.config.max_batch)));
    }
    let mut answers = Vec::new();
    for id in ids {
        let one = async {
            let mut p = match &id {
                Value::Number(n) => Params::parse(&[format!("orderId={n}").as_bytes()])?,
                Value::String(c) => Params::parse(&[form_urlencoded::Serializer::new(String::new())
                    .append_pair("origClientOrderId", c)
                    .finish()
                    .as_bytes()])?,
                _ => return Err(FapiError::invalid("orderIdList", "ids are numbers or strings")),
            };
            let oid = order_id(&s, account, &market, &mut p, true).await?;
            cancel(&s, account, &market, oid).await?;
            Ok(stored_order(&s, account, oid, true).await?.to_binance(&s.fapi.symbols))
        }
        .await;
        answers.push(one.unwrap_or_else(|e: FapiError| json!({ "code": e.code, "msg": e.msg })));
    }
    Ok(ok(json!(answers)))
}

pub(super) async fn cancel_all(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    params.finish()?;
    let mut cmd = Map::new();
    cmd.insert("type".into(), json!("cancel_all"));
    cmd.insert("market".into(), json!(market));
    submit(&s, account, cmd).await?;
    Ok(ok(json!({ "code": 200, "msg": "The operation of cancel all open order is done." })))
}

/// Binance's countdown cancel is per symbol; perpx's dead-man's switch is per account, so the
/// countdown covers every market of the account (`docs/BINANCE.md`). `0` disarms it.
pub(super) async fn countdown_cancel_all(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let symbol = params.req("symbol")?;
    market_of(&s, &symbol)?;
    let countdown = params.int("countdownTime")?.ok_or_else(|| FapiError::missing("countdownTime"))?;
    params.finish()?;
    if !(0..=s.config.max_deadman_ms).contains(&countdown) {
        return Err(FapiError::invalid("countdownTime", format!("0 to {} ms", s.config.max_deadman_ms)));
    }
    let mut d = s.deadman.lock().expect("deadman lock");
    if countdown == 0 {
        d.remove(&account);
    } else {
        d.insert(account, now_ms() + countdown);
    }
    Ok(ok(json!({ "symbol": symbol, "countdownTime": countdown.to_string() })))
}

pub(super) async fn query_order(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    let id = order_id(&s, account, &market, &mut params, false).await?;
    params.finish()?;
    let order = stored_order(&s, account, id, false).await?;
    if order.market != market {
        return Err(FapiError::no_order(false));
    }
    Ok(ok(order.to_binance(&s.fapi.symbols)))
}

/// The ids of the account's open orders and armed stops (one market or all).
async fn open_ids(s: &Shared, account: u64, market: Option<String>) -> Result<Vec<u64>, FapiError> {
    let v = read(s, move |e| {
        let mut ids = Vec::new();
        for m in e.markets().iter().filter(|m| market.as_ref().is_none_or(|w| *w == m.spec.symbol)) {
            ids.extend(m.book.orders_of(AccountId(account)).map(|o| o.0));
            ids.extend(m.stops.values().filter(|st| st.account == AccountId(account)).map(|st| st.id.0));
        }
        ids.sort_unstable();
        json!(ids)
    })
    .await?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

pub(super) async fn open_orders(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = params.opt("symbol").map(|sym| market_of(&s, &sym)).transpose()?;
    params.finish()?;
    let ids = open_ids(&s, account, market).await?;
    let h = history_caught_up(&s).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(folded(h, account, id, false)?.to_binance(&s.fapi.symbols));
    }
    Ok(ok(json!(out)))
}

pub(super) async fn query_open_order(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    let id = order_id(&s, account, &market, &mut params, false).await?;
    params.finish()?;
    let order = stored_order(&s, account, id, false).await?;
    if !order.is_open() || order.market != market {
        return Err(FapiError::new(StatusCode::BAD_REQUEST, -2013, "Order does not exist."));
    }
    Ok(ok(order.to_binance(&s.fapi.symbols)))
}

/// Time and count bounds shared by the history lists.
struct Window {
    from: i64,
    to: i64,
    limit: u32,
}

fn window(p: &mut Params, default_limit: i64) -> Result<Window, FapiError> {
    let from = p.int("startTime")?.unwrap_or(0);
    let to = p.int("endTime")?.unwrap_or(i64::MAX);
    let limit = p.int("limit")?.unwrap_or(default_limit);
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| (1..=1_000).contains(l))
        .ok_or_else(|| FapiError::invalid("limit", "1 to 1000"))?;
    if from > to {
        return Err(FapiError::invalid("startTime", "after endTime"));
    }
    Ok(Window { from, to, limit })
}

pub(super) async fn all_orders(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    let from_id = params.int("orderId")?;
    let w = window(&mut params, 500)?;
    params.finish()?;
    let h = history_caught_up(&s).await?;
    let firsts = h
        .range(&Range {
            account: Some(account),
            market: Some(&market),
            types: &["order_accepted", "stop_accepted", "liquidation_order"],
            from_ts: w.from,
            to_ts: w.to,
            limit: 100_000,
            newest: from_id.is_none() && w.from == 0,
        })
        .map_err(history_error)?;
    let mut ids: Vec<u64> =
        firsts.iter().filter_map(|e| e["order_id"].as_u64().or_else(|| e["stop_id"].as_u64())).collect();
    ids.sort_unstable();
    ids.dedup();
    if let Some(from) = from_id {
        ids.retain(|id| i64::try_from(*id).is_ok_and(|i| i >= from));
        ids.truncate(w.limit as usize);
    } else if w.from == 0 {
        // The most recent `limit` orders.
        let skip = ids.len().saturating_sub(w.limit as usize);
        ids.drain(..skip);
    } else {
        ids.truncate(w.limit as usize);
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let events = h.order_events(id).map_err(history_error)?;
        if let Some(o) = OrderState::fold(id, &events).filter(|o| o.account == account) {
            out.push(o.to_binance(&s.fapi.symbols));
        }
    }
    Ok(ok(json!(out)))
}

/// The account's fills with the realised PnL of each (from the `position_changed` that follows
/// the fill for the same account in the same command).
fn trades_of(events: &[Value], account: u64, symbols: &super::SymbolMap) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, f) in events.iter().enumerate().filter(|(_, e)| e["type"] == "fill") {
        let maker = f["maker_account"].as_u64() == Some(account);
        let taker_buys = f["taker_side"] == "buy";
        let buyer = maker != taker_buys;
        let realized = events[i + 1..]
            .iter()
            .take_while(|e| e["seq"] == f["seq"])
            .find(|e| e["type"] == "position_changed" && e["account"].as_u64() == Some(account))
            .map_or(json!("0"), |p| p["realized_pnl"].clone());
        let price = f["price"].as_str().and_then(Amount::parse).unwrap_or_default();
        let qty = f["qty"].as_str().and_then(Amount::parse).unwrap_or_default();
        out.push(json!({
            "symbol": symbols.binance(f["market"].as_str().unwrap_or_default()),
            "id": f["trade_id"],
            "orderId": if maker { &f["maker_order_id"] } else { &f["taker_order_id"] },
            "side": if buyer { "BUY" } else { "SELL" },
            "price": f["price"],
            "qty": f["qty"],
            "realizedPnl": realized,
            "quoteQty": price.mul(qty).to_string(),
            "commission": if maker { &f["maker_fee"] } else { &f["taker_fee"] },
            "commissionAsset": super::MARGIN_ASSET,
            "time": f["ts"],
            "positionSide": "BOTH",
            "buyer": buyer,
            "maker": maker,
        }));
    }
    out
}

pub(super) async fn user_trades(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    let from_id = params.int("fromId")?;
    let _order = params.int("orderId")?;
    let w = window(&mut params, 500)?;
    params.finish()?;
    let h = history_caught_up(&s).await?;
    let events = h
        .range(&Range {
            account: Some(account),
            market: Some(&market),
            types: &["fill", "position_changed"],
            from_ts: w.from,
            to_ts: w.to,
            limit: 200_000,
            newest: from_id.is_none() && w.from == 0,
        })
        .map_err(history_error)?;
    let mut trades = trades_of(&events, account, &s.fapi.symbols);
    if let Some(from) = from_id {
        trades.retain(|t| t["id"].as_i64().is_some_and(|i| i >= from));
        trades.truncate(w.limit as usize);
    } else {
        let skip = trades.len().saturating_sub(w.limit as usize);
        trades.drain(..skip);
    }
    if let Some(order) = _order {
        trades.retain(|t| t["orderId"].as_i64() == Some(order));
    }
    Ok(ok(json!(trades)))
}

/// Binance income records from the account's ledger events.
fn income_of(e: &Value, symbols: &super::SymbolMap) -> Vec<(&'static str, String, Value)> {
    let neg = |v: &Value| {
        v.as_str().and_then(Amount::parse).map_or_else(|| "0".into(), |a| Amount { units: -a.units, ..a }.to_string())
    };
    let symbol = e["market"].as_str().map_or_else(String::new, |m| symbols.binance(m));
    let nonzero = |v: &Value| v.as_str().and_then(Amount::parse).is_some_and(|a| !a.is_zero());
    let mut out = Vec::new();
    match e["type"].as_str().unwrap_or_default() {
        "position_changed" => {
            if nonzero(&e["realized_pnl"]) {
                out.push(("REALIZED_PNL", symbol.clone(), e["realized_pnl"].clone()));
            }
            if nonzero(&e["fee"]) {
                out.push(("COMMISSION", symbol, json!(neg(&e["fee"]))));
            }
        }
        "funding_payment" => out.push(("FUNDING_FEE", symbol, json!(neg(&e["amount"])))),
        "deposited" => out.push(("TRANSFER", symbol, e["amount"].clone())),
        "withdrawn" => out.push(("TRANSFER", symbol, json!(neg(&e["amount"])))),
        "liquidation_fee" => out.push(("INSURANCE_CLEAR", symbol, json!(neg(&e["amount"])))),
        _ => {}
    }
    out
}

pub(super) async fn income(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = params.opt("symbol").map(|sym| market_of(&s, &sym)).transpose()?;
    let kind = params.opt("incomeType");
    let w = window(&mut params, 100)?;
    params.finish()?;
    let h = history_caught_up(&s).await?;
    let events = h
        .range(&Range {
            account: Some(account),
            market: market.as_deref(),
            types: &["position_changed", "funding_payment", "deposited", "withdrawn", "liquidation_fee"],
            from_ts: w.from,
            to_ts: w.to,
            limit: 100_000,
            newest: w.from == 0,
        })
        .map_err(history_error)?;
    let mut out = Vec::new();
    for e in &events {
        for (n, (t, symbol, amount)) in income_of(e, &s.fapi.symbols).into_iter().enumerate() {
            if kind.as_deref().is_some_and(|k| k != t) {
                continue;
            }
            let seq = e["seq"].as_u64().unwrap_or(0);
            out.push(json!({
                "symbol": symbol, "incomeType": t, "income": amount, "asset": super::MARGIN_ASSET,
                "info": t, "time": e["ts"], "tranId": seq * 100 + n as u64, "tradeId": "",
            }));
        }
    }
    let skip = if w.from == 0 { out.len().saturating_sub(w.limit as usize) } else { 0 };
    out.drain(..skip);
    out.truncate(w.limit as usize);
    Ok(ok(json!(out)))
}

/// Binance's algo-order API for conditional orders (what current clients such as ccxt use for
/// stops): the same perpx stop commands, answered as algo objects. `algoId` is the perpx id.
pub(super) async fn new_algo_order(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    match params.req("algoType")?.as_str() {
        "CONDITIONAL" => {}
        other => return Err(FapiError::invalid("algoType", format!("'{other}': perpx serves CONDITIONAL only"))),
    }
    params.rename("triggerPrice", "stopPrice");
    params.rename("clientAlgoId", "newClientOrderId");
    let kind = params.peek("type").unwrap_or_default();
    if !matches!(kind.as_str(), "STOP" | "STOP_MARKET" | "TAKE_PROFIT" | "TAKE_PROFIT_MARKET") {
        return Err(FapiError::invalid("type", format!("'{kind}' is not a conditional type")));
    }
    let cmd = order_command(&s, &mut params)?;
    params.finish()?;
    let ack = submit(&s, account, cmd).await?;
    let order = placed_order(&ack, account)
        .ok_or_else(|| FapiError::new(StatusCode::BAD_REQUEST, -2010, "the order was not accepted"))?;
    Ok(ok(order.to_algo(&s.fapi.symbols)))
}

/// The stop `algoId` or `clientAlgoId` names.
async fn algo_id(s: &Shared, account: u64, p: &mut Params, cancel: bool) -> Result<u64, FapiError> {
    if let Some(id) = p.int("algoId")? {
        return u64::try_from(id).map_err(|_| FapiError::no_order(cancel));
    }
    let cid = p.opt("clientAlgoId").ok_or_else(|| FapiError::missing("algoId"))?;
    let cid = ClientOrderId::new(&cid).map_err(|_| FapiError::no_order(cancel))?;
    let id = read(s, move |e| json!(e.client_orders().get(AccountId(account), &cid).map(|c| c.order_id.0))).await?;
    id.as_u64().ok_or_else(|| FapiError::no_order(cancel))
}

pub(super) async fn cancel_algo_order(
    s: State,
    TradeSigned(Signed { account, mut params }): TradeSigned,
) -> Result<Response, FapiError> {
    let _symbol = params.opt("symbol");
    let id = algo_id(&s, account, &mut params, true).await?;
    params.finish()?;
    let order = stored_order(&s, account, id, true).await?;
    if !order.is_conditional() {
        return Err(FapiError::no_order(true));
    }
    cancel(&s, account, &order.market, id).await?;
    Ok(ok(json!({ "algoId": id, "clientAlgoId": order.client_id, "code": "200", "msg": "success" })))
}

pub(super) async fn query_algo_order(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let _symbol = params.opt("symbol");
    let id = algo_id(&s, account, &mut params, false).await?;
    params.finish()?;
    let order = stored_order(&s, account, id, false).await?;
    if !order.is_conditional() {
        return Err(FapiError::no_order(false));
    }
    Ok(ok(order.to_algo(&s.fapi.symbols)))
}

pub(super) async fn open_algo_orders(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = params.opt("symbol").map(|sym| market_of(&s, &sym)).transpose()?;
    let _algo_type = params.opt("algoType");
    params.finish()?;
    let ids = open_ids(&s, account, market).await?;
    let h = history_caught_up(&s).await?;
    let mut out = Vec::new();
    for id in ids {
        let o = folded(h, account, id, false)?;
        if o.is_conditional() && o.triggered_at.is_none() {
            out.push(o.to_algo(&s.fapi.symbols));
        }
    }
    Ok(ok(json!(out)))
}

pub(super) async fn all_algo_orders(
    s: State,
    ReadSigned(Signed { account, mut params }): ReadSigned,
) -> Result<Response, FapiError> {
    let market = market_of(&s, &params.req("symbol")?)?;
    let _from_id = params.int("algoId")?;
    let w = window(&mut params, 500)?;
    params.finish()?;
    let h = history_caught_up(&s).await?;
    let firsts = h
        .range(&Range {
            account: Some(account),
            market: Some(&market),
            types: &["stop_accepted"],
            from_ts: w.from,
            to_ts: w.to,
            limit: w.limit,
            newest: w.from == 0,
        })
        .map_err(history_error)?;
    let mut out = Vec::new();
    for id in firsts.iter().filter_map(|e| e["stop_id"].as_u64()) {
        let events = h.order_events(id).map_err(history_error)?;
        if let Some(o) = OrderState::fold(id, &events).filter(|o| o.account == account) {
            out.push(o.to_algo(&s.fapi.symbols));
        }
    }
    Ok(ok(json!(out)))
}
