//! Private endpoints: signed with the account's key; the account always comes from the key.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use perpx_core::{AccountId, Engine};
use perpx_wire::units::{format_price, format_qty};
use serde_json::{Value, json};

use super::{ApiError, Conn, State, account_of, ack_json, authenticate, for_account, now_ms, object, ok, read, submit};
use crate::keys::Scope;
use crate::sequencer::Submission;

/// The account view: collateral, equity, margin, available, margin ratio, and per position the
/// figures of `docs/REPLAY.md` plus the estimated liquidation price.
fn account_json(e: &Engine, id: AccountId) -> Value {
    let Some(view) = perpx_wire::account::account_view(e, id) else {
        return json!({ "seq": e.seq(), "account": id.0, "exists": false });
    };
    let mut v = serde_json::to_value(view).unwrap_or(Value::Null);
    if let Some(positions) = v.get_mut("positions").and_then(Value::as_array_mut) {
        for p in positions {
            let market = p.get("market").and_then(Value::as_str).and_then(|s| e.market_by_symbol(s));
            if let Some(m) = market {
                p["liquidation_price"] = json!(e.liquidation_price(id, m.id).map(|x| format_price(m, x)));
            }
        }
    }
    if let Ok(margin) = e.margin(id) {
        // MM / equity: 1 means liquidation.
        let ratio = if margin.equity.0 > 0 {
            perpx_wire::units::format_rate(perpx_core::Rate(
                i64::try_from(i128::from(margin.maintenance_margin.0) * 100_000_000 / i128::from(margin.equity.0))
                    .unwrap_or(i64::MAX),
            ))
        } else {
            "inf".into()
        };
        v["margin_ratio"] = json!(ratio);
    }
    v["seq"] = json!(e.seq());
    v
}

pub(super) async fn account(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Read).await?;
    let id = AccountId(account_of(&req.key)?);
    Ok(ok(read(&s, move |e| account_json(e, id)).await?))
}

/// Open orders and armed stops of the account, every market.
pub(super) async fn open_orders(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Read).await?;
    let id = AccountId(account_of(&req.key)?);
    let v = read(&s, move |e| {
        let mut orders = Vec::new();
        let mut stops = Vec::new();
        for m in e.markets() {
            let mut ids = m.book.orders_of(id).collect::<Vec<_>>();
            ids.sort_unstable();
            for oid in ids {
                if let Some(o) = m.book.get(oid) {
                    orders.push(json!({
                        "order_id": o.id.0,
                        "market": m.spec.symbol,
                        "side": if o.side == perpx_core::Side::Buy { "buy" } else { "sell" },
                        "price": format_price(m, o.price),
                        "qty": format_qty(m, o.qty),
                        "filled": format_qty(m, o.filled),
                        "client_id": o.client_id.as_ref().map(ToString::to_string),
                        "reduce_only": o.reduce_only,
                        "post_only": o.post_only,
                    }));
                }
            }
            for st in m.stops.values().filter(|st| st.account == id) {
                stops.push(json!({
                    "stop_id": st.id.0,
                    "market": m.spec.symbol,
                    "side": if st.side == perpx_core::Side::Buy { "buy" } else { "sell" },
                    "trigger_price": format_price(m, st.trigger),
                    "qty": format_qty(m, st.qty),
                }));
            }
        }
        json!({ "seq": e.seq(), "orders": orders, "stops": stops })
    })
    .await?;
    Ok(ok(v))
}

/// One private command of wire type `kind`, its body the command's fields without `type` and
/// `account`.
async fn private_command(
    s: State,
    addr: std::net::SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    kind: &str,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Trade).await?;
    let cmd = Submission::parse(for_account(&req.key, kind, object(&req.body)?)?).map_err(ApiError::refused)?;
    let ack = submit(&s, cmd).await?;
    Ok(ok(ack_json(&ack)))
}

macro_rules! command_endpoint {
    ($name:ident, $kind:literal) => {
        pub(super) async fn $name(
            s: State,
            axum::extract::ConnectInfo(addr): Conn,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: Body,
        ) -> Result<Response, ApiError> {
            private_command(s, addr, method, uri, headers, body, $kind).await
        }
    };
}

command_endpoint!(place_order, "place_order");
command_endpoint!(amend_order, "amend_order");
command_endpoint!(cancel_order, "cancel_order");
command_endpoint!(cancel_all, "cancel_all");
command_endpoint!(place_stop, "place_stop");
command_endpoint!(leverage, "set_leverage");
command_endpoint!(margin_mode, "set_margin_mode");
command_endpoint!(isolated_margin, "adjust_isolated_margin");
command_endpoint!(withdraw, "withdraw");

/// Up to `max_batch` commands (`place_order`, `amend_order`, `cancel_order`, `cancel_all`), each
/// answered on its own, in order: `{"commands": [{"type": "place_order", ...}, ...]}`.
pub(super) async fn batch(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Trade).await?;
    let mut m = object(&req.body)?;
    let Some(Value::Array(items)) = m.remove("commands") else {
        return Err(ApiError::bad_request("the body is {\"commands\": [...]}"));
    };
    if !m.is_empty() {
        return Err(ApiError::bad_request("the body has only 'commands'"));
    }
    if items.is_empty() || items.len() > s.config.max_batch {
        return Err(ApiError::bad_request(format!("a batch holds 1 to {} commands", s.config.max_batch)));
    }
    // Queue them all first (so they are sequenced back to back), then collect the answers.
    let mut pending = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut c) = item else {
            pending.push(Err(ApiError::refused((1002, "malformed", "each command is a JSON object".into()))));
            continue;
        };
        let kind = c.remove("type").and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default();
        if !["place_order", "amend_order", "cancel_order", "cancel_all"].contains(&kind.as_str()) {
            pending.push(Err(ApiError::bad_request(
                "batch commands are place_order, amend_order, cancel_order, cancel_all",
            )));
            continue;
        }
        pending.push(for_account(&req.key, &kind, c).and_then(|cmd| {
            let cmd = Submission::parse(cmd).map_err(ApiError::refused)?;
            Ok(s.sequencer.submit(cmd)?)
        }));
    }
    let mut answers = Vec::with_capacity(pending.len());
    for p in pending {
        let answer = match p {
            Err(e) => Err(e),
            Ok(rx) => match rx.await {
                Err(_) => Err(ApiError::from(crate::sequencer::QueueError::Stopped)),
                Ok(Err(refusal)) => Err(ApiError::refused(refusal)),
                Ok(Ok(ack)) => match &ack.rejection {
                    None => Ok(ack),
                    Some((code, reason, message)) => Err(ApiError {
                        seq: Some((ack.seq(), ack.head().copied().map(Box::new))),
                        ..ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, *code, reason, message.clone())
                    }),
                },
            },
        };
        answers.push(match answer {
            Ok(ack) => {
                json!({ "ok": true, "seq": ack.seq(), "head_seq": ack.head().map(|h| h.seq),
                        "head_hash": ack.head().map(|h| h.hash), "events": ack.events() })
            }
            Err(e) => json!({ "ok": false, "code": e.code, "reason": e.reason, "message": e.message,
                              "seq": e.seq.as_ref().map(|x| x.0),
                              "head_seq": e.seq.as_ref().and_then(|x| x.1.as_deref()).map(|h| h.seq),
                              "head_hash": e.seq.as_ref().and_then(|x| x.1.as_deref()).map(|h| h.hash) }),
        });
    }
    Ok(ok(json!({ "results": answers })))
}

/// The dead-man's switch: `{"timeout_ms": N}` cancels every order of the account unless renewed
/// within N ms; `0` disarms it.
pub(super) async fn deadman(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req = authenticate(&s, addr, &method, &uri, &headers, body, Scope::Trade).await?;
    let account = account_of(&req.key)?;
    let m = object(&req.body)?;
    let timeout = m
        .get("timeout_ms")
        .and_then(Value::as_i64)
        .filter(|t| (0..=s.config.max_deadman_ms).contains(t) && m.len() == 1)
        .ok_or_else(|| {
            ApiError::bad_request(format!("the body is {{\"timeout_ms\": 0..={}}}", s.config.max_deadman_ms))
        })?;
    let mut d = s.deadman.lock().expect("deadman lock");
    if timeout == 0 {
        d.remove(&account);
        return Ok(ok(json!({ "armed": false })));
    }
    let deadline = now_ms() + timeout;
    d.insert(account, deadline);
    Ok(ok(json!({ "armed": true, "deadline": deadline })))
}
