//! Public endpoints: no key needed, rate-limited per IP.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::extract::Query;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use perpx_core::Engine;
use perpx_core::book::Side;
use perpx_core::market::Market;
use perpx_core::market::{InsurancePolicy, MarketStatus};
use perpx_wire::units::{format_price, format_qty, format_quote, format_rate, format_units};
use serde_json::{Value, json};

use super::{ApiError, Conn, State, limit_ip, now_ms, ok, read};

pub(super) async fn index() -> Response {
    Html(
        "<!doctype html><title>perpx</title><h1>perpx</h1><p>An open-source perpetual-futures exchange. \
         Web console: <a href=\"/console/\">/console/</a>. \
         API reference: <a href=\"/docs\">/docs</a> (OpenAPI: <a href=\"/openapi.json\">/openapi.json</a>), \
         metrics: <a href=\"/metrics\">/metrics</a>.</p>",
    )
    .into_response()
}

pub(super) async fn docs() -> Response {
    Html(crate::openapi::docs_page()).into_response()
}

pub(super) async fn openapi() -> Response {
    ok(crate::openapi::spec())
}

pub(super) async fn time() -> Response {
    ok(json!({ "server_time": now_ms() }))
}

pub(super) async fn health() -> Response {
    ok(json!({ "status": "ok" }))
}

/// The engine's sequence number and canonical state hash (compare with `perpx replay`).
pub(super) async fn state_hash(s: State) -> Result<Response, ApiError> {
    let v = read(&s, |e| json!({ "seq": e.seq(), "state_hash": e.state_hash().to_string() })).await?;
    Ok(ok(v))
}

/// The journal's durable head: the last commit's last sequence number and hash (null when
/// volatile).
pub(super) async fn journal_head(s: State) -> Response {
    let head = *s.sequencer.stats.durable_head.lock().expect("stats lock");
    ok(match head {
        Some(h) => json!({ "seq": h.seq, "hash": h.hash }),
        None => json!({ "seq": s.sequencer.stats.seq.load(Ordering::Relaxed), "hash": null }),
    })
}

/// Ready when the engine answers a read.
pub(super) async fn ready(s: State) -> Result<Response, ApiError> {
    let seq = read(&s, |e| json!(e.seq())).await?;
    Ok(ok(json!({ "status": "ready", "seq": seq })))
}

fn status(m: &Market) -> &'static str {
    match m.status {
        MarketStatus::Active => "active",
        MarketStatus::Halted => "halted",
        MarketStatus::Delisted => "delisted",
    }
}

fn market_json(m: &Market) -> Value {
    let s = &m.spec;
    json!({
        "market": s.symbol,
        "status": status(m),
        "tick_size": s.tick_size.to_string(),
        "lot_size": s.lot_size.to_string(),
        "min_qty": format_qty(m, s.min_qty),
        "min_notional": format_quote(s.min_notional),
        "max_leverage": s.max_leverage,
        "tiers": s.tiers.iter().map(|t| json!({
            "max_notional": format_quote(t.max_notional),
            "max_leverage": t.max_leverage,
            "maintenance_rate": format_rate(t.maintenance_rate),
            "maintenance_amount": format_quote(t.maintenance_amount),
        })).collect::<Vec<_>>(),
        "maker_fee": format_rate(s.maker_fee),
        "taker_fee": format_rate(s.taker_fee),
        "order_band": format_rate(s.order_band),
        "funding_interval_hours": s.funding.interval_ms / perpx_core::market::HOUR_MS,
        "oracle_sources": s.oracle.sources.iter().map(|o| o.name.clone()).collect::<Vec<_>>(),
        "liquidation": {
            "fee_rate": format_rate(s.liquidation.fee_rate),
            "buffer": format_rate(s.liquidation.buffer),
            "backstop_discount": format_rate(s.liquidation.backstop_discount),
            "adl": s.liquidation.adl.name(),
            "max_open_interest": s.liquidation.max_open_interest.map(|q| format_qty(m, q)),
        },
    })
}

pub(super) async fn markets(s: State, axum::extract::ConnectInfo(addr): Conn) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let v = read(&s, |e| json!({ "seq": e.seq(), "markets": e.markets().iter().map(market_json).collect::<Vec<_>>() }))
        .await?;
    Ok(ok(v))
}

fn market_param(q: &BTreeMap<String, String>) -> Result<String, ApiError> {
    q.get("market").cloned().ok_or_else(|| ApiError::bad_request("query parameter 'market' is required"))
}

fn with_market(e: &Engine, symbol: &str, f: impl FnOnce(&Market) -> Value) -> Value {
    match e.market_by_symbol(symbol) {
        Some(m) => f(m),
        None => json!({ "error": 2001 }),
    }
}

fn unknown_market(v: &Value, symbol: &str) -> Result<(), ApiError> {
    if v.get("error").is_some() {
        return Err(ApiError::refused((2001, "unknown_market", format!("unknown market '{symbol}'"))));
    }
    Ok(())
}

/// Aggregated depth: up to `limit` (default 20, at most 500) levels a side.
pub(super) async fn depth(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let symbol = market_param(&q)?;
    let limit: usize = match q.get("limit") {
        None => 20,
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::bad_request("limit must be 1..=500"))?,
    };
    let sym = symbol.clone();
    let v = read(&s, move |e| {
        with_market(e, &sym, |m| {
            let side = |side| -> Vec<Value> {
                m.book
                    .levels(side)
                    .take(limit)
                    .map(|(p, l)| json!([format_price(m, p), format_qty(m, l.total)]))
                    .collect()
            };
            json!({ "market": m.spec.symbol, "seq": e.seq(), "bids": side(Side::Buy), "asks": side(Side::Sell) })
        })
    })
    .await?;
    unknown_market(&v, &symbol)?;
    Ok(ok(v))
}

/// Mark, index, last, open interest, funding (predicted and last, with APR), next funding time,
/// the fund behind the market.
pub(super) async fn ticker(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let symbol = market_param(&q)?;
    let sym = symbol.clone();
    let v = read(&s, move |e| {
        with_market(e, &sym, |m| {
            let mut v = serde_json::to_value(perpx_wire::account::market_view(e, m.id)).unwrap_or(Value::Null);
            v["seq"] = json!(e.seq());
            v
        })
    })
    .await?;
    unknown_market(&v, &symbol)?;
    Ok(ok(v))
}

/// Insurance funds, the guaranty fund and uncovered losses.
pub(super) async fn funds(s: State, axum::extract::ConnectInfo(addr): Conn) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let v = read(&s, |e| {
        let l = e.ledger();
        let own: Vec<Value> = e
            .markets()
            .iter()
            .filter(|m| m.spec.liquidation.insurance == InsurancePolicy::Own)
            .map(|m| json!({ "fund": format!("insurance:{}", m.spec.symbol), "balance": format_quote(m.insurance_fund) }))
            .collect();
        json!({
            "seq": e.seq(),
            "market_funds": own,
            "shared_insurance": format_quote(l.insurance_fund),
            "guaranty": format_quote(l.guaranty_fund),
            "uncovered": format_quote(l.uncovered),
            "fee_account": format_quote(l.fee_account),
        })
    })
    .await?;
    Ok(ok(v))
}

/// Prometheus text format.
pub(super) async fn metrics(s: State) -> Result<Response, ApiError> {
    let st = &s.sequencer.stats;
    let mut out = String::new();
    let mut line = |name: &str, help: &str, kind: &str, samples: Vec<(String, String)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in samples {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let one = |v: u64| vec![(String::new(), v.to_string())];
    line(
        "perpx_engine_queue_depth",
        "Jobs waiting for the engine thread.",
        "gauge",
        one(st.queue_depth.load(Ordering::Relaxed) as u64),
    );
    line(
        "perpx_commands_total",
        "Commands applied by the engine.",
        "counter",
        one(st.commands.load(Ordering::Relaxed)),
    );
    line("perpx_seq", "The last sequence number applied.", "gauge", one(st.seq.load(Ordering::Relaxed)));
    let rejects: Vec<(String, String)> = st
        .rejects
        .lock()
        .expect("stats lock")
        .iter()
        .map(|(c, n)| (format!("{{code=\"{c}\"}}"), n.to_string()))
        .collect();
    line("perpx_rejects_total", "Commands the engine rejected, by code.", "counter", rejects);
    line(
        "perpx_journal_syncs_total",
        "Group commits (one write and fsync per batch).",
        "counter",
        one(st.syncs.load(Ordering::Relaxed)),
    );
    line(
        "perpx_journal_sync_us_sum",
        "Σ of group-commit durations, µs.",
        "counter",
        one(st.sync_us_sum.load(Ordering::Relaxed)),
    );
    line(
        "perpx_journal_sync_us_max",
        "The longest group commit, µs.",
        "gauge",
        one(st.sync_us_max.load(Ordering::Relaxed)),
    );
    line(
        "perpx_engine_apply_us_sum",
        "Σ of the engine thread's time applying batches (decode, apply, journal, publish), µs.",
        "counter",
        one(st.apply_us_sum.load(Ordering::Relaxed)),
    );
    if let Some(h) = &s.history {
        let done = h.complete_to.load(Ordering::Relaxed);
        let lag = st.seq.load(Ordering::Relaxed).saturating_sub(done);
        line(
            "perpx_history_complete_to",
            "The history read model holds every event up to this sequence number.",
            "gauge",
            one(done),
        );
        line("perpx_history_lag", "Commands the history read model is behind the engine.", "gauge", one(lag));
        line(
            "perpx_history_skipped_total",
            "Group commits whose publications the read model missed (rebuild needed).",
            "counter",
            one(h.gap.load(Ordering::Relaxed)),
        );
    }
    line("perpx_liquidations_total", "Liquidations started.", "counter", one(st.liquidations.load(Ordering::Relaxed)));
    line("perpx_adl_trades_total", "Auto-deleveraging trades.", "counter", one(st.adl_trades.load(Ordering::Relaxed)));
    line(
        "perpx_liquidation_ticks_total",
        "Ticks injected to drain the liquidation queue.",
        "counter",
        one(st.liquidation_ticks.load(Ordering::Relaxed)),
    );
    let http: Vec<(String, String)> = s
        .http_status
        .lock()
        .expect("status lock")
        .iter()
        .map(|(c, n)| (format!("{{status=\"{c}\"}}"), n.to_string()))
        .collect();
    let w = &s.ws;
    line("perpx_ws_connections", "Open WebSocket connections.", "gauge", one(w.connections.load(Ordering::Relaxed)));
    line(
        "perpx_ws_cut_off_total",
        "WebSocket connections cut off (slow, idle).",
        "counter",
        one(w.cut_off.load(Ordering::Relaxed)),
    );
    line("perpx_ws_messages_total", "WebSocket messages sent.", "counter", one(w.sent.load(Ordering::Relaxed)));
    line(
        "perpx_ws_notice_delay_us_sum",
        "Σ of (durable → handed to the socket) over messages sent, µs.",
        "counter",
        one(w.delay_us_sum.load(Ordering::Relaxed)),
    );
    line(
        "perpx_ws_notice_delay_us_max",
        "Largest durable → sent delay, µs.",
        "gauge",
        one(w.delay_us_max.load(Ordering::Relaxed)),
    );
    line("perpx_http_responses_total", "HTTP responses by status.", "counter", http);
    let funds = read(&s, |e| {
        let mut v: Vec<(String, i64)> =
            e.markets().iter().map(|m| (format!("insurance:{}", m.spec.symbol), m.insurance_fund.0)).collect();
        v.push(("shared_insurance".into(), e.ledger().insurance_fund.0));
        v.push(("guaranty".into(), e.ledger().guaranty_fund.0));
        json!(v)
    })
    .await?;
    let samples: Vec<(String, String)> = funds
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                format!("{{fund=\"{}\"}}", p.get(0)?.as_str()?),
                format_units(p.get(1)?.as_i64()?, perpx_core::Decimal::new(1, 6)),
            ))
        })
        .collect();
    line("perpx_fund_balance", "Insurance and guaranty fund balances (USD).", "gauge", samples);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
