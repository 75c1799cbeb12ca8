//! WebSocket streams in Binance's shape.
//!
//! - `/ws/<listenKey>`: the account's user-data stream — `ORDER_TRADE_UPDATE` for every change
//!   of one of its orders (folded by `OrderState`, the same function as the REST answers),
//!   `ACCOUNT_UPDATE` after balance or position changes, `MARGIN_CALL` when the account enters
//!   liquidation, and perpx's `ADL_NOTICE` when a position is auto-deleveraged. Pushed as soon
//!   as the command's batch is durable, like the native account channel. `listenKeyExpired`
//!   then a close when the key lapses.
//! - `/ws/<stream>` (one raw stream) and `/stream?streams=a/b/...` (combined:
//!   `{"stream", "data"}`): `<symbol>@depth`, `@depth@100ms` / `@depth@250ms` / `@depth@500ms`
//!   (diffs: `U` = first sequence number covered, `u` = the command's, `pu` = the previous diff's
//!   `u`, so Binance's local-book algorithm works against `/fapi/v1/depth`'s `lastUpdateId`),
//!   `<symbol>@aggTrade`, `<symbol>@markPrice` / `@markPrice@1s` (every 3 s / 1 s). Live
//!   `SUBSCRIBE`, `UNSUBSCRIBE` and `LIST_SUBSCRIPTIONS` requests are answered as Binance does.
//!
//! Like the native streams, a client that can't keep up is cut off (close code 1008), never
//! waited for.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::orders::OrderState;
use super::{FapiError, SymbolMap};
use crate::api::send_queue::{SendQueue, send_queue};
use crate::api::{Conn, Shared, State, now_ms};
use crate::stream::Published;

/// One market-data stream a connection follows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Stream {
    Depth(String),
    AggTrade(String),
    /// Mark price every `ms`.
    MarkPrice(String, u64),
}

impl Stream {
    /// Parses `btcusdt@depth@100ms` and the like (the symbol in any case).
    fn parse(name: &str, symbols: &SymbolMap) -> Option<Self> {
        let mut parts = name.split('@');
        let market = symbols.perpx(parts.next()?)?;
        let kind = parts.next()?;
        let speed = parts.next();
        if parts.next().is_some() {
            return None;
        }
        match (kind, speed) {
            ("depth", None | Some("100ms" | "250ms" | "500ms")) => Some(Self::Depth(market)),
            ("aggTrade", None) => Some(Self::AggTrade(market)),
            ("markPrice", None) => Some(Self::MarkPrice(market, 3_000)),
            ("markPrice", Some("1s")) => Some(Self::MarkPrice(market, 1_000)),
            _ => None,
        }
    }
}

/// What one connection receives.
#[derive(Debug, Default)]
struct Follow {
    /// Stream name as the client spelled it → what it is.
    streams: BTreeMap<String, Stream>,
    /// Combined (`{"stream", "data"}`) or raw payloads.
    combined: bool,
    /// The user-data stream: its listen key and account.
    user: Option<(String, u64)>,
    /// Orders of the account seen on this connection.
    orders: HashMap<u64, OrderState>,
    /// When each mark-price stream last sent.
    mark_sent: BTreeMap<String, i64>,
}

/// `/ws/<listenKey>` or `/ws/<stream>`.
pub(super) async fn user_stream(
    s: State,
    ConnectInfo(addr): Conn,
    Path(name): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, FapiError> {
    crate::api::limit_ip(&s, addr)?;
    let mut follow = Follow::default();
    if name.contains('@') {
        let stream = Stream::parse(&name, &s.fapi.symbols)
            .ok_or_else(|| FapiError::invalid("stream", format!("'{name}' is not a stream perpx serves")))?;
        follow.streams.insert(name, stream);
    } else {
        let account = super::signed::listen_key_account(&s, &name).ok_or_else(|| {
            FapiError::new(axum::http::StatusCode::BAD_REQUEST, -1125, "This listenKey does not exist.")
        })?;
        follow.user = Some((name, account));
    }
    let shared = Arc::clone(&s);
    Ok(crate::api::websocket(upgrade).on_upgrade(move |socket| session(shared, socket, follow, None)))
}

/// `/stream?streams=a/b/c`: combined market streams.
pub(super) async fn market_streams(
    s: State,
    ConnectInfo(addr): Conn,
    Query(q): Query<BTreeMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, FapiError> {
    crate::api::limit_ip(&s, addr)?;
    let mut follow = Follow { combined: true, ..Follow::default() };
    for name in q.get("streams").map(String::as_str).unwrap_or_default().split('/').filter(|n| !n.is_empty()) {
        let stream = Stream::parse(name, &s.fapi.symbols)
            .ok_or_else(|| FapiError::invalid("streams", format!("'{name}' is not a stream perpx serves")))?;
        follow.streams.insert(name.to_owned(), stream);
    }
    let shared = Arc::clone(&s);
    Ok(crate::api::websocket(upgrade).on_upgrade(move |socket| session(shared, socket, follow, None)))
}

/// A connection to the native `/ws` whose first message was a Binance request: served as a
/// Binance stream from there (python-binance and binance-futures-connector open `/ws`, then
/// `SUBSCRIBE` to stream names or a listen key).
pub async fn session_after(s: Arc<Shared>, socket: WebSocket, first: Option<Result<Message, axum::Error>>) {
    session(s, socket, Follow::default(), Some(first)).await;
}

/// `first`: a message already read from the socket (`Some(None)`: it had closed), if any.
async fn session(
    s: Arc<Shared>,
    socket: WebSocket,
    mut follow: Follow,
    first: Option<Option<Result<Message, axum::Error>>>,
) {
    let (mut sink, mut incoming) = socket.split();
    let (out, mut out_rx) = send_queue(s.config.ws_send_buffer);
    let writer = tokio::spawn(async move {
        while let Some(first) = out_rx.recv().await {
            if out_rx.write_burst(&mut sink, first).await != Ok(false) {
                break;
            }
        }
        drop(tokio::time::timeout(Duration::from_secs(1), sink.close()).await);
    });
    let mut published = s.sequencer.published.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last_seen = std::time::Instant::now();
    s.ws.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let send = |out: &SendQueue, values: Vec<Value>| -> Result<(), String> {
        out.push(values.iter().map(|v| Message::Text(v.to_string().into())).collect()).map_err(|slow| slow.to_string())
    };
    let mut first = first;
    let reason: Option<String> = loop {
        tokio::select! {
            msg = async { match first.take() { Some(m) => m, None => incoming.next().await } } => {
                let Some(Ok(msg)) = msg else { break None };
                last_seen = std::time::Instant::now();
                match msg {
                    Message::Text(t) => {
                        if let Err(r) = send(&out, vec![request(&s, &mut follow, &t)]) {
                            break Some(r);
                        }
                    }
                    Message::Close(_) => break None,
                    _ => {}
                }
            }
            p = published.recv() => match p {
                Ok(batch) => {
                    // The whole group commit's messages go in as one (see `send_queue`).
                    let mut msgs = Vec::new();
                    for p in batch.iter() {
                        msgs.extend(forward(&s, &mut follow, p).await);
                    }
                    if let Err(r) = send(&out, msgs) {
                        break Some(r);
                    }
                }
                Err(RecvError::Lagged(n)) => break Some(format!("slow consumer: fell {n} messages behind")),
                Err(RecvError::Closed) => break Some("the server is shutting down".into()),
            },
            _ = tick.tick() => {
                if last_seen.elapsed() > Duration::from_secs(600) {
                    break Some("idle for 10 minutes".into());
                }
                if let Some((key, _)) = &follow.user {
                    if super::signed::listen_key_account(&s, key).is_none() {
                        drop(send(&out, vec![json!({ "e": "listenKeyExpired", "E": now_ms(), "listenKey": key })]));
                        break Some("listen key expired".into());
                    }
                }
                let msgs = mark_prices(&s, &mut follow).await;
                if let Err(r) = send(&out, msgs) {
                    break Some(r);
                }
            }
        }
    };
    if let Some(reason) = reason {
        s.ws.cut_off.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        out.force(vec![Message::Close(Some(CloseFrame { code: 1008, reason: Utf8Bytes::from(reason) }))]);
    }
    drop(out);
    drop(writer.await);
    s.ws.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Answers a live `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS` request.
fn request(s: &Shared, follow: &mut Follow, text: &str) -> Value {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return json!({ "error": { "code": 2, "msg": "Invalid request: not JSON" } });
    };
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let names: Vec<String> = v["params"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect());
    match v["method"].as_str() {
        Some("SUBSCRIBE") => {
            for name in &names {
                if !name.contains('@') {
                    // A listen key: the account's user-data stream.
                    match super::signed::listen_key_account(s, name) {
                        Some(account) => follow.user = Some((name.clone(), account)),
                        None => {
                            return json!({ "error": { "code": 2, "msg": "Invalid request: unknown listen key" }, "id": id });
                        }
                    }
                    continue;
                }
                match Stream::parse(name, &s.fapi.symbols) {
                    Some(stream) => {
                        follow.streams.insert(name.clone(), stream);
                    }
                    None => {
                        return json!({ "error": { "code": 2, "msg": format!("Invalid request: unknown stream '{name}'") }, "id": id });
                    }
                }
            }
            follow.combined |= follow.streams.len() > 1;
            json!({ "result": null, "id": id })
        }
        Some("UNSUBSCRIBE") => {
            for name in &names {
                follow.streams.remove(name);
            }
            json!({ "result": null, "id": id })
        }
        Some("LIST_SUBSCRIPTIONS") => json!({ "result": follow.streams.keys().collect::<Vec<_>>(), "id": id }),
        _ => {
            json!({ "error": { "code": 2, "msg": "Invalid request: method is SUBSCRIBE, UNSUBSCRIBE or LIST_SUBSCRIPTIONS" }, "id": id })
        }
    }
}

fn wrap(follow: &Follow, name: &str, data: Value) -> Value {
    if follow.combined { json!({ "stream": name, "data": data }) } else { data }
}

/// Mark-price streams due now.
async fn mark_prices(s: &Shared, follow: &mut Follow) -> Vec<Value> {
    let now = now_ms();
    let due: Vec<(String, String)> = follow
        .streams
        .iter()
        .filter_map(|(name, st)| match st {
            Stream::MarkPrice(m, every) => {
                let last = follow.mark_sent.get(name).copied().unwrap_or(0);
                (now - last >= i64::try_from(*every).unwrap_or(3_000)).then(|| (name.clone(), m.clone()))
            }
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (name, market) in due {
        follow.mark_sent.insert(name.clone(), now);
        let symbols = s.fapi.symbols.clone();
        let Ok(v) = crate::api::read(s, move |e| {
            e.market_by_symbol(&market).map_or(Value::Null, |m| super::public::premium_index_of(e, m, &symbols))
        })
        .await
        else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let data = json!({ "e": "markPriceUpdate", "E": now, "s": v["symbol"], "p": v["markPrice"],
                           "i": v["indexPrice"], "P": v["estimatedSettlePrice"], "r": v["lastFundingRate"],
                           "T": v["nextFundingTime"] });
        out.push(wrap(follow, &name, data));
    }
    out
}

/// What publication `p` holds for this connection.
async fn forward(s: &Shared, follow: &mut Follow, p: &Published) -> Vec<Value> {
    let mut out = Vec::new();
    let symbols = &s.fapi.symbols;
    let now = now_ms();
    for (name, stream) in &follow.streams {
        match stream {
            Stream::Depth(market) => {
                for d in p.book.iter().filter(|d| *d.market == **market) {
                    let (prev, levels) = (d.prev_seq, d.json());
                    let data = json!({ "e": "depthUpdate", "E": now, "T": now, "s": symbols.binance(market),
                                       "U": prev + 1, "u": d.seq, "pu": prev, "b": levels["bids"], "a": levels["asks"] });
                    out.push(wrap(follow, name, data));
                }
            }
            Stream::AggTrade(market) => {
                for e in p.events.iter().filter(|e| e.kind() == "fill" && e.market() == Some(market)) {
                    let mut data = super::public::agg_trade(e.json());
                    data["e"] = json!("aggTrade");
                    data["E"] = json!(now);
                    data["s"] = json!(symbols.binance(market));
                    out.push(wrap(follow, name, data));
                }
            }
            Stream::MarkPrice(..) => {}
        }
    }
    if let Some((_, account)) = follow.user.clone() {
        out.extend(user_events(s, follow, account, p).await);
    }
    out
}

/// The user-data events of `account` in publication `p`.
async fn user_events(s: &Shared, follow: &mut Follow, account: u64, p: &Published) -> Vec<Value> {
    let events: Vec<&Value> =
        p.events.iter().filter(|e| e.accounts().iter().any(|a| a.0 == account)).map(|e| e.json().value()).collect();
    if events.is_empty() {
        return Vec::new();
    }
    let symbols = &s.fapi.symbols;
    let now = now_ms();
    let mut out = Vec::new();
    let mut account_changed: Option<&'static str> = None;
    for (i, e) in events.iter().enumerate() {
        for order_id in OrderState::orders_of(account, e) {
            if !follow.orders.contains_key(&order_id)
                && !matches!(e["type"].as_str(), Some("order_accepted" | "stop_accepted" | "liquidation_order"))
            {
                // An order from before this connection: its history up to this command.
                if let Some(o) = earlier_state(s, order_id, p.seq).await {
                    follow.orders.insert(order_id, o);
                }
            }
            let mut state = follow.orders.remove(&order_id);
            OrderState::step(&mut state, order_id, e);
            let Some(o) = state else { continue };
            let realized = if e["type"] == "fill" {
                events[i + 1..]
                    .iter()
                    .find(|x| x["type"] == "position_changed" && x["account"].as_u64() == Some(account))
                    .map_or_else(|| "0".to_owned(), |x| x["realized_pnl"].as_str().unwrap_or("0").to_owned())
            } else {
                "0".to_owned()
            };
            out.push(
                json!({ "e": "ORDER_TRADE_UPDATE", "E": now, "T": e["ts"], "o": o.to_update(symbols, &realized) }),
            );
            if o.is_open() {
                follow.orders.insert(order_id, o);
            }
        }
        let reason = match e["type"].as_str().unwrap_or_default() {
            "position_changed" => Some("ORDER"),
            "funding_payment" => Some("FUNDING_FEE"),
            "deposited" => Some("DEPOSIT"),
            "withdrawn" => Some("WITHDRAW"),
            "isolated_margin_changed" | "margin_mode_set" | "leverage_set" => Some("MARGIN_TYPE_CHANGE"),
            "liquidation_fee" | "deficit_covered" => Some("INSURANCE_CLEAR"),
            "deleveraged" | "backstop_takeover" | "position_settled" => Some("ADL"),
            _ => None,
        };
        account_changed = account_changed.or(reason);
        if e["type"] == "liquidation_queued" {
            out.push(margin_call(s, account, e).await);
        }
        if e["type"] == "deleveraged" && e["account"].as_u64() == Some(account) {
            out.push(json!({
                "e": "ADL_NOTICE", "E": now, "T": e["ts"], "s": symbols.binance(e["market"].as_str().unwrap_or_default()),
                "q": e["qty"], "p": e["price"], "profitGivenUp": e["profit_given_up"], "rank": e["rank"],
                "policy": e["policy"], "seq": e["seq"], "headSeq": p.head.map(|h| h.seq), "headHash": p.head.map(|h| h.hash),
            }));
        }
    }
    if let Some(reason) = account_changed {
        if let Some(update) = account_update(s, account, reason, p).await {
            out.push(update);
        }
    }
    out
}

/// An order's state from the history read model, from before command `seq`.
async fn earlier_state(s: &Shared, order_id: u64, seq: u64) -> Option<OrderState> {
    let h = s.history.as_deref()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while h.complete_to.load(std::sync::atomic::Ordering::Relaxed) + 1 < seq && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let events = h.order_events(order_id).ok()?;
    let before: Vec<Value> = events.into_iter().filter(|e| e["seq"].as_u64().is_some_and(|q| q < seq)).collect();
    OrderState::fold(order_id, &before)
}

/// `ACCOUNT_UPDATE`: the balance and positions after the command, with why they changed.
async fn account_update(s: &Shared, account: u64, reason: &'static str, p: &Published) -> Option<Value> {
    let symbols = s.fapi.symbols.clone();
    let ts = p.events.first().map_or(0, |e| e.event().ts.0);
    crate::api::read(s, move |e| {
        let id = perpx_core::AccountId(account);
        let Some(a) = e.account(id) else { return Value::Null };
        let isolated: i64 = a.positions.values().map(|x| x.isolated_margin.0).sum();
        let view = perpx_wire::account::account_view(e, id);
        let positions: Vec<Value> = view.as_ref().map_or_else(Vec::new, |v| {
            v.positions
                .iter()
                .map(|x| json!({
                    "s": symbols.binance(&x.market), "pa": x.size, "ep": x.entry_price.clone().unwrap_or_else(|| "0".into()),
                    "bep": x.entry_price.clone().unwrap_or_else(|| "0".into()), "cr": x.realized_pnl,
                    "up": x.unrealized_pnl, "mt": if x.margin_mode == "isolated" { "isolated" } else { "cross" },
                    "iw": x.isolated_margin.clone().unwrap_or_else(|| "0".into()), "ps": "BOTH",
                }))
                .collect()
        });
        json!({ "e": "ACCOUNT_UPDATE", "E": now_ms(), "T": ts, "a": {
            "m": reason,
            "B": [{ "a": super::MARGIN_ASSET, "wb": perpx_wire::units::format_quote(perpx_core::Quote(a.collateral.0 + isolated)),
                    "cw": perpx_wire::units::format_quote(a.collateral), "bc": "0" }],
            "P": positions,
        }})
    })
    .await
    .ok()
    .filter(|v| !v.is_null())
}

/// `MARGIN_CALL`: sent when the account falls below maintenance and enters liquidation.
async fn margin_call(s: &Shared, account: u64, queued: &Value) -> Value {
    let symbols = s.fapi.symbols.clone();
    let scope = queued["scope"].clone();
    crate::api::read(s, move |e| {
        let id = perpx_core::AccountId(account);
        let view = perpx_wire::account::account_view(e, id);
        let positions: Vec<Value> = view.as_ref().map_or_else(Vec::new, |v| {
            v.positions
                .iter()
                .map(|x| {
                    json!({
                        "s": symbols.binance(&x.market), "ps": "BOTH", "pa": x.size,
                        "mt": if x.margin_mode == "isolated" { "ISOLATED" } else { "CROSSED" },
                        "iw": x.isolated_margin.clone().unwrap_or_else(|| "0".into()),
                        "mp": x.mark_price.clone().unwrap_or_else(|| "0".into()), "up": x.unrealized_pnl,
                        "mm": view.as_ref().map_or_else(|| "0".into(), |v| v.maintenance_margin.clone()),
                    })
                })
                .collect()
        });
        json!({ "e": "MARGIN_CALL", "E": now_ms(),
                "cw": e.account(id).map_or_else(|| "0".into(), |a| perpx_wire::units::format_quote(a.collateral)),
                "p": positions, "scope": scope })
    })
    .await
    .unwrap_or(Value::Null)
}

/// Streams parse for every name the docs promise.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_parse_as_binance_spells_them() {
        let m = SymbolMap::default();
        assert_eq!(Stream::parse("btcusdt@depth@100ms", &m), Some(Stream::Depth("BTC-PERP".into())));
        assert_eq!(Stream::parse("BTCUSDT@depth", &m), Some(Stream::Depth("BTC-PERP".into())));
        assert_eq!(Stream::parse("ethusdt@aggTrade", &m), Some(Stream::AggTrade("ETH-PERP".into())));
        assert_eq!(Stream::parse("btcusdt@markPrice@1s", &m), Some(Stream::MarkPrice("BTC-PERP".into(), 1_000)));
        assert_eq!(Stream::parse("btcusdt@markPrice", &m), Some(Stream::MarkPrice("BTC-PERP".into(), 3_000)));
        for bad in ["btcusdt", "btcusdt@kline_1m", "btcusdt@depth@1ms", "btc@depth", "btcusdt@depth@100ms@x"] {
            assert_eq!(Stream::parse(bad, &m), None, "{bad}");
        }
    }
}
