//! History endpoints over the read model ([`crate::history`]): cursor pagination
//! (`?cursor=SEQ:IDX&limit=N`, oldest first; `next_cursor` is null on the last page) and, in
//! every answer, `complete_to`: the sequence number up to which the read model holds every
//! event (it may lag the engine). Private lists are the key's account's only.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ApiError, Conn, State, account_of, authenticate, limit_ip, ok};
use crate::history;
use crate::keys::Scope;

type Params = Query<BTreeMap<String, String>>;

fn cursor(q: &BTreeMap<String, String>) -> Result<((u64, u64), u32), ApiError> {
    let after = match q.get("cursor") {
        None => (0, 0),
        Some(c) => {
            let (s, i) = c.split_once(':').ok_or_else(|| ApiError::bad_request("cursor is SEQ:IDX"))?;
            let parse = |x: &str| x.parse::<u64>().map_err(|_| ApiError::bad_request("cursor is SEQ:IDX"));
            (parse(s)?, parse(i)?)
        }
    };
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| (1..=1_000).contains(l))
            .ok_or_else(|| ApiError::bad_request("limit is 1..=1000"))?,
    };
    Ok((after, limit))
}

fn store(s: &super::Shared) -> Result<&history::History, ApiError> {
    s.history.as_deref().ok_or_else(|| ApiError::not_found("the history read model is off"))
}

fn page(s: &super::Shared, q: &history::Query<'_>, map: impl Fn(Value) -> Value) -> Result<Response, ApiError> {
    let h = store(s)?;
    let p = h
        .list(q)
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, 6013, "history_error", e))?;
    Ok(ok(json!({
        "complete_to": h.complete_to.load(std::sync::atomic::Ordering::Relaxed),
        "events": p.events.into_iter().map(map).collect::<Vec<_>>(),
        "next_cursor": p.next,
    })))
}

fn public_list(
    s: &super::Shared,
    q: &BTreeMap<String, String>,
    types: &[&str],
    map: impl Fn(Value) -> Value,
) -> Result<Response, ApiError> {
    let (after, limit) = cursor(q)?;
    let market = q.get("market").map(String::as_str);
    page(s, &history::Query { market, account: None, types, after, limit }, map)
}

pub(super) async fn trades(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    Query(q): Params,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    if !q.contains_key("market") {
        return Err(ApiError::bad_request("query parameter 'market' is required"));
    }
    public_list(&s, &q, &["fill"], |f| {
        json!({ "seq": f["seq"], "ts": f["ts"], "trade_id": f["trade_id"], "price": f["price"], "qty": f["qty"],
                "taker_side": f["taker_side"] })
    })
}

pub(super) async fn funding(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    Query(q): Params,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    public_list(&s, &q, &["funding_settled"], |v| v)
}

pub(super) async fn insurance(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    Query(q): Params,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let salt = s.ws.salt;
    public_list(
        &s,
        &q,
        &["liquidation_fee", "deficit_covered", "deficit_uncovered", "fund_capitalised", "funding_settled"],
        move |v| pseudonymous(v, &salt),
    )
}

pub(super) async fn liquidations(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    Query(q): Params,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let salt = s.ws.salt;
    public_list(
        &s,
        &q,
        &["liquidation_started", "liquidation_finished", "backstop_takeover", "deleveraged"],
        move |v| pseudonymous(v, &salt),
    )
}

/// Public history never names an account: ids become the same pseudonyms as on `/ws`.
fn pseudonymous(mut v: Value, salt: &[u8; 16]) -> Value {
    for field in ["account", "bankrupt", "liquidator"] {
        if let Some(id) = v.get(field).and_then(Value::as_u64) {
            v[field] = json!(super::ws::pseudonym(salt, id));
        }
    }
    v
}

/// Candles: `?market=&source=last|mark|index&interval=1m|5m|15m|1h|4h|1d&from=&to=` (ms).
pub(super) async fn candles(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    Query(q): Params,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let market = q.get("market").ok_or_else(|| ApiError::bad_request("query parameter 'market' is required"))?;
    let source = q.get("source").map_or("last", String::as_str);
    let interval = match q.get("interval").map_or("1m", String::as_str) {
        "1m" => 60_000,
        "5m" => 300_000,
        "15m" => 900_000,
        "1h" => 3_600_000,
        "4h" => 14_400_000,
        "1d" => 86_400_000,
        _ => return Err(ApiError::bad_request("interval is 1m, 5m, 15m, 1h, 4h or 1d")),
    };
    let num = |k: &str, d: i64| {
        q.get(k).map_or(Ok(d), |v| v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("{k} is ms"))))
    };
    let (from, to) = (num("from", 0)?, num("to", i64::MAX)?);
    let h = store(&s)?;
    let c = h.candles(market, source, interval, from, to).map_err(ApiError::bad_request)?;
    Ok(ok(json!({ "complete_to": h.complete_to.load(std::sync::atomic::Ordering::Relaxed), "candles": c })))
}

/// The admin audit log's entries (the caller has checked the admin scope).
pub(super) fn audit_page(
    s: &super::Shared,
    q: &BTreeMap<String, String>,
    map: impl Fn(Value) -> Value,
) -> Result<Response, ApiError> {
    let (after, limit) = cursor(q)?;
    page(s, &history::Query { market: None, account: None, types: &["admin_audited"], after, limit }, map)
}

#[allow(clippy::too_many_arguments)]
async fn private_list(
    s: State,
    addr: std::net::SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    q: &BTreeMap<String, String>,
    types: &[&str],
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Read).await?;
    let account = account_of(&req.key)?;
    let (after, limit) = cursor(q)?;
    let market = q.get("market").map(String::as_str);
    page(&s, &history::Query { market, account: Some(account), types, after, limit }, |v| v)
}

macro_rules! private_history {
    ($name:ident, $types:expr) => {
        pub(super) async fn $name(
            s: State,
            axum::extract::ConnectInfo(addr): Conn,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            Query(q): Params,
            body: Body,
        ) -> Result<Response, ApiError> {
            private_list(s, addr, method, uri, headers, body, &q, $types).await
        }
    };
}

private_history!(
    orders,
    &[
        "order_accepted",
        "order_amended",
        "order_cancelled",
        "stop_accepted",
        "stop_triggered",
        "triggered_order_rejected",
        "liquidation_order"
    ]
);
private_history!(fills, &["fill"]);
private_history!(
    ledger,
    &[
        "deposited",
        "withdrawn",
        "position_changed",
        "funding_payment",
        "position_settled",
        "isolated_margin_changed",
        "liquidation_fee",
        "deficit_covered",
        "deleveraged",
        "backstop_takeover",
    ]
);
