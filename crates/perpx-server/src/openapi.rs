//! The endpoint table, served as an OpenAPI 3.1 document (`/openapi.json`) and as a readable
//! page (`/docs`) — one table, so the two can't disagree.

use serde_json::{Map, Value, json};

/// One endpoint: method, path, scope (`public`, `read`, `trade`, `admin`), what it does.
const ENDPOINTS: &[(&str, &str, &str, &str)] = &[
    ("get", "/api/v1/time", "public", "Server time (ms)."),
    ("get", "/api/v1/health", "public", "Liveness."),
    ("get", "/api/v1/ready", "public", "Readiness: the engine answers; its sequence number."),
    ("get", "/api/v1/state-hash", "public", "The engine's sequence number and canonical state hash."),
    (
        "get",
        "/api/v1/journal/head",
        "public",
        "The journal's durable head: sequence number and record hash (publish it; `perpx proof` links records to it).",
    ),
    (
        "get",
        "/api/v1/markets",
        "public",
        "Every market with its parameters: tick, lot, tiers, fees, funding, liquidation.",
    ),
    ("get", "/api/v1/depth", "public", "Aggregated book: `?market=BTC-PERP&limit=20`."),
    (
        "get",
        "/api/v1/ticker",
        "public",
        "Mark, index, last, open interest, funding rates and APR, next funding time, insurance fund: `?market=`.",
    ),
    ("get", "/api/v1/funds", "public", "Insurance funds, guaranty fund, uncovered losses, fee account."),
    ("get", "/metrics", "public", "Prometheus metrics."),
    ("get", "/console/", "public", "The web console: trade, risk and simulator views (docs/CONSOLE.md)."),
    (
        "get",
        "/console/sims.json",
        "public",
        "The finished `perpx sim` runs under `--sim-reports DIR` (404 without one): run, kind, files.",
    ),
    ("get", "/console/sims/{run}/{file}", "public", "One file of a finished run, read-only (json, csv, svg, html)."),
    (
        "get",
        "/api/v1/history/trades",
        "public",
        "Trades of a market: `?market=&cursor=&limit=` (every history answer has `complete_to` and `next_cursor`).",
    ),
    (
        "get",
        "/api/v1/history/candles",
        "public",
        "OHLC(V): `?market=&source=last|mark|index&interval=1m|5m|15m|1h|4h|1d&from=&to=`.",
    ),
    ("get", "/api/v1/history/funding", "public", "Funding settlements: `?market=`."),
    ("get", "/api/v1/history/insurance", "public", "Insurance and guaranty fund flows (pseudonymous)."),
    ("get", "/api/v1/history/liquidations", "public", "Liquidations, backstop take-overs and ADL (pseudonymous)."),
    ("get", "/api/v1/history/orders", "read", "The account's order events: `?market=&cursor=&limit=`."),
    ("get", "/api/v1/history/fills", "read", "The account's fills."),
    (
        "get",
        "/api/v1/history/ledger",
        "read",
        "The account's ledger: deposits, withdrawals, fills (fees, realised PnL), funding, liquidation and ADL.",
    ),
    (
        "get",
        "/api/v1/account",
        "read",
        "The key's account: collateral, equity, margin, available, margin ratio; positions with entry, mark, PnL, liquidation price, ADL percentile, funding.",
    ),
    ("get", "/api/v1/orders", "read", "Open orders and armed stops."),
    (
        "post",
        "/api/v1/order",
        "trade",
        "Place an order: `market, side, order_type (limit|market), price, qty, tif?, client_id?, stp?, reduce_only?`.",
    ),
    ("post", "/api/v1/order/amend", "trade", "Amend: `market, order_id | client_id, price?, qty?`."),
    ("post", "/api/v1/order/cancel", "trade", "Cancel: `market, order_id | client_id`."),
    ("post", "/api/v1/orders/cancel-all", "trade", "Cancel every order: `market?`."),
    ("post", "/api/v1/stop", "trade", "Place a stop or take-profit (fields of `place_stop`, docs/REPLAY.md)."),
    (
        "post",
        "/api/v1/batch",
        "trade",
        "`{\"commands\": [{\"type\": \"place_order\", ...}, ...]}`, each answered on its own.",
    ),
    (
        "post",
        "/api/v1/deadman",
        "trade",
        "Dead-man's switch: `{\"timeout_ms\": N}` cancels all orders unless renewed; 0 disarms.",
    ),
    ("post", "/api/v1/leverage", "trade", "`market, leverage`."),
    ("post", "/api/v1/margin-mode", "trade", "`market, mode (cross|isolated)`."),
    ("post", "/api/v1/isolated-margin", "trade", "`market, amount` (signed: adds or removes)."),
    ("post", "/api/v1/withdraw", "trade", "`amount`."),
    (
        "post",
        "/api/v1/admin/command",
        "admin",
        "Any engine command in its JSON form without `ts` (deposit, create_market, oracle_price, halt, resume, delist, schedule_params, set_liquidator, capitalise_fund, ...).",
    ),
    (
        "get",
        "/api/v1/admin/risk",
        "admin",
        "Per market: open interest and holders of each side, and each side's ADL queue in rank order (pseudonyms, percentile, size, PnL, leverage): `?market=&depth=`.",
    ),
    ("get", "/api/v1/admin/keys", "admin", "API keys (secrets blanked)."),
    (
        "post",
        "/api/v1/admin/keys",
        "admin",
        "Create a key: `{\"account\": N, \"scopes\": [\"read\", \"trade\"]}`; the secret is shown once.",
    ),
    ("post", "/api/v1/admin/keys/revoke", "admin", "`{\"key\": \"pk_...\"}`."),
    ("post", "/api/v1/admin/keys/rotate", "admin", "`{\"key\": \"pk_...\"}`: a new secret, shown once."),
    ("get", "/api/v1/admin/audit", "admin", "The admin audit log (journaled): `?cursor=SEQ:IDX&limit=N`."),
];

/// The OpenAPI document.
#[must_use]
pub fn spec() -> Value {
    let mut paths = Map::new();
    for (method, path, scope, summary) in ENDPOINTS {
        let mut op = json!({
            "summary": summary,
            "responses": {
                "200": { "description": "OK; private answers carry `seq`, `head_seq` and `head_hash`" },
                "4XX": { "description": "`{\"code\", \"reason\", \"message\"}` (docs/API.md)" },
            },
        });
        if *scope != "public" {
            op["security"] = json!([{ "perpxKey": [], "perpxTimestamp": [], "perpxSignature": [] }]);
            op["x-perpx-scope"] = json!(scope);
        }
        if *method == "post" {
            op["requestBody"] = json!({ "content": { "application/json": { "schema": { "type": "object" } } } });
        }
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "perpx API",
            "version": "1",
            "description": "Signed requests: HMAC-SHA256 with the key's secret over `timestamp\\nMETHOD\\npath?query\\nbody`. Numbers are decimal strings.",
        },
        "components": { "securitySchemes": {
            "perpxKey": { "type": "apiKey", "in": "header", "name": "X-PERPX-APIKEY" },
            "perpxTimestamp": { "type": "apiKey", "in": "header", "name": "X-PERPX-TIMESTAMP" },
            "perpxSignature": { "type": "apiKey", "in": "header", "name": "X-PERPX-SIGNATURE" },
        }},
        "paths": paths,
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The readable page.
#[must_use]
pub fn docs_page() -> String {
    let mut rows = String::new();
    for (method, path, scope, summary) in ENDPOINTS {
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
            method.to_uppercase(),
            escape(path),
            scope,
            escape(summary)
        ));
    }
    format!(
        "<!doctype html><meta charset=utf-8><title>perpx API</title>\
         <style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}td{{padding:.3em .6em;vertical-align:top}}</style>\
         <h1>perpx API</h1><p>Private requests carry <code>X-PERPX-APIKEY</code>, <code>X-PERPX-TIMESTAMP</code> (ms) and \
         <code>X-PERPX-SIGNATURE</code>: the hex HMAC-SHA256, keyed with the secret, of \
         <code>timestamp\\nMETHOD\\npath?query\\nbody</code>. Numbers are decimal strings in the market's precision. \
         Errors are <code>{{\"code\", \"reason\", \"message\"}}</code>. Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>.</p>\
         <table><tr><th>method</th><th>path</th><th>scope</th><th>what</th></tr>\n{rows}</table>"
    )
}
