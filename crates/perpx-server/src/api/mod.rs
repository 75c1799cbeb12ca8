//! The HTTP API: routes, shared state, authentication and the path from a request to the
//! engine and back. Endpoints are listed in `docs/API.md` and served as OpenAPI at
//! `/openapi.json`.

mod admin;
mod console;
pub mod error;
pub mod fapi;
mod history;
mod private;
mod public;
mod send_queue;
mod ws;
mod ws_trade;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

pub use error::ApiError;

use crate::auth::{KEY_HEADER, RateLimiter, ReplayCache, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use crate::config::ServerConfig;
use crate::keys::{ApiKey, KeyStore, Scope};
use crate::sequencer::{Ack, Sequencer, Submission};

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    /// The engine thread.
    pub sequencer: Sequencer,
    /// API keys.
    pub keys: Mutex<KeyStore>,
    /// Signatures seen inside the receive window.
    pub replays: Mutex<ReplayCache>,
    /// Token buckets per key and per IP.
    pub limiter: Mutex<RateLimiter>,
    /// Settings.
    pub config: ServerConfig,
    /// Dead-man's switches: account → deadline (ms).
    pub deadman: Mutex<BTreeMap<u64, i64>>,
    /// HTTP answers by status.
    pub http_status: Mutex<BTreeMap<u16, u64>>,
    /// WebSocket counters and the pseudonym salt.
    pub ws: WsStats,
    /// The history read model (off: `history = false`).
    pub history: Option<Arc<crate::history::History>>,
    /// The Binance-compatible layer's state.
    pub fapi: fapi::FapiState,
}

/// WebSocket counters.
#[derive(Debug, Default)]
pub struct WsStats {
    /// Open connections.
    pub connections: std::sync::atomic::AtomicU64,
    /// Connections cut off (slow, idle, shutting down).
    pub cut_off: std::sync::atomic::AtomicU64,
    /// Messages sent.
    pub sent: std::sync::atomic::AtomicU64,
    /// Σ and max of (durable → handed to the socket) in µs.
    pub delay_us_sum: std::sync::atomic::AtomicU64,
    /// The largest such delay (µs).
    pub delay_us_max: std::sync::atomic::AtomicU64,
    /// Salt of the pseudonyms on public channels.
    pub salt: [u8; 16],
}

/// The state handlers receive.
pub type State = axum::extract::State<Arc<Shared>>;

/// The current wall-clock time (ms).
#[must_use]
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The router over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(public::index))
        .route("/docs", get(public::docs))
        .route("/openapi.json", get(public::openapi))
        .route("/metrics", get(public::metrics))
        .route("/ws", get(ws::ws))
        .route("/api/v1/time", get(public::time))
        .route("/api/v1/health", get(public::health))
        .route("/api/v1/ready", get(public::ready))
        .route("/api/v1/state-hash", get(public::state_hash))
        .route("/api/v1/journal/head", get(public::journal_head))
        .route("/api/v1/markets", get(public::markets))
        .route("/api/v1/depth", get(public::depth))
        .route("/api/v1/ticker", get(public::ticker))
        .route("/api/v1/funds", get(public::funds))
        .route("/api/v1/account", get(private::account))
        .route("/api/v1/orders", get(private::open_orders))
        .route("/api/v1/order", post(private::place_order))
        .route("/api/v1/order/amend", post(private::amend_order))
        .route("/api/v1/order/cancel", post(private::cancel_order))
        .route("/api/v1/orders/cancel-all", post(private::cancel_all))
        .route("/api/v1/stop", post(private::place_stop))
        .route("/api/v1/batch", post(private::batch))
        .route("/api/v1/deadman", post(private::deadman))
        .route("/api/v1/leverage", post(private::leverage))
        .route("/api/v1/margin-mode", post(private::margin_mode))
        .route("/api/v1/isolated-margin", post(private::isolated_margin))
        .route("/api/v1/withdraw", post(private::withdraw))
        .route("/api/v1/history/trades", get(history::trades))
        .route("/api/v1/history/candles", get(history::candles))
        .route("/api/v1/history/funding", get(history::funding))
        .route("/api/v1/history/insurance", get(history::insurance))
        .route("/api/v1/history/liquidations", get(history::liquidations))
        .route("/api/v1/history/orders", get(history::orders))
        .route("/api/v1/history/fills", get(history::fills))
        .route("/api/v1/history/ledger", get(history::ledger))
        .route("/api/v1/admin/command", post(admin::command))
        .route("/api/v1/admin/keys", get(admin::list_keys).post(admin::create_key))
        .route("/api/v1/admin/keys/revoke", post(admin::revoke_key))
        .route("/api/v1/admin/keys/rotate", post(admin::rotate_key))
        .route("/api/v1/admin/audit", get(admin::audit_log))
        .merge(fapi::router())
        // The web console (docs/CONSOLE.md).
        .route("/console", get(console::redirect))
        .route("/console/", get(console::index))
        .route("/console/{*file}", get(console::file))
        .route("/console/sims.json", get(console::sims))
        .route("/console/sims/{*path}", get(console::sim_file))
        .route("/api/v1/admin/risk", get(console::risk))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&shared), count_status))
        .with_state(shared)
}

async fn fallback(uri: axum::http::Uri) -> Response {
    fapi::not_found(&uri)
}

async fn count_status(axum::extract::State(s): State, request: Request, next: axum::middleware::Next) -> Response {
    let r = next.run(request).await;
    *s.http_status.lock().expect("status lock").entry(r.status().as_u16()).or_default() += 1;
    r
}

/// A request as the handlers take it apart: who sent it, and its raw parts (the signature
/// covers the raw bytes).
#[derive(Debug)]
pub struct Signed {
    /// The key that signed it.
    pub key: ApiKey,
    /// The body.
    pub body: Bytes,
}

/// Reads the body up to the configured limit.
pub(crate) async fn read_body(s: &Shared, body: Body) -> Result<Bytes, ApiError> {
    let max = s.config.max_body_bytes;
    axum::body::to_bytes(body, max).await.map_err(|_| ApiError::body_too_large(max))
}

/// The longest WebSocket message a client may send.
const WS_MESSAGE_MAX: usize = 64 * 1024;

/// How much a WebSocket connection reads from its socket at a time.
///
/// tungstenite zero-fills its read buffer's whole free space before every read, and its default
/// buffer is 128 KiB: under load that `memset` was 8 % of the gateway threads' time
/// (docs/PERFORMANCE.md "Session 8"). 8 KiB holds about 50 pipelined orders; a longer message
/// still arrives whole, over several reads.
const WS_READ_BUFFER: usize = 8 * 1024;

/// A WebSocket upgrade with the server's limits.
pub(crate) fn websocket(upgrade: axum::extract::ws::WebSocketUpgrade) -> axum::extract::ws::WebSocketUpgrade {
    upgrade.max_message_size(WS_MESSAGE_MAX).read_buffer_size(WS_READ_BUFFER)
}

/// Rate-limits by client IP.
pub(crate) fn limit_ip(s: &Shared, addr: SocketAddr) -> Result<(), ApiError> {
    let now = now_ms();
    s.limiter
        .lock()
        .expect("limiter lock")
        .take(&addr.ip().to_string(), s.config.rate_limit_per_ip, now)
        .map_err(ApiError::rate_limited)
}

/// Authenticates a private request and checks `scope` (see [`crate::auth`]).
async fn authenticate(
    s: &Shared,
    addr: SocketAddr,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
    scope: Scope,
) -> Result<Signed, ApiError> {
    limit_ip(s, addr)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (Some(key_id), Some(ts), Some(sig)) = (header(KEY_HEADER), header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER))
    else {
        return Err(ApiError::missing_credentials());
    };
    let body = read_body(s, body).await?;
    let key = s
        .keys
        .lock()
        .expect("keys lock")
        .get(&key_id)
        .filter(|k| !k.revoked)
        .cloned()
        .ok_or_else(ApiError::unknown_key)?;
    let now = now_ms();
    s.limiter
        .lock()
        .expect("limiter lock")
        .take(&key.key, s.config.rate_limit_per_key, now)
        .map_err(ApiError::rate_limited)?;
    let window = s.config.recv_window_ms;
    let stamp: i64 = ts.parse().map_err(|_| ApiError::timestamp_outside_window(window))?;
    if (now - stamp).abs() > window {
        return Err(ApiError::timestamp_outside_window(window));
    }
    let path = uri.path_and_query().map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let bytes = crate::auth::signed_bytes(&ts, method.as_str(), &path, &body);
    if !verify(&key.secret, &bytes, &sig) {
        return Err(ApiError::bad_signature());
    }
    if !s.replays.lock().expect("replay lock").insert(&sig.to_ascii_lowercase(), now, stamp + window) {
        return Err(ApiError::replayed());
    }
    if !key.allows(scope) {
        return Err(ApiError::forbidden(match scope {
            Scope::Read => "read",
            Scope::Trade => "trade",
            Scope::Admin => "admin",
        }));
    }
    Ok(Signed { key, body })
}

/// The body as a JSON object (an empty body is `{}`).
fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::refused((1002, "malformed", "the body must be a JSON object".into()))),
        Err(e) => Err(ApiError::refused((1002, "malformed", e.to_string()))),
    }
}

/// The account a key acts for.
fn account_of(key: &ApiKey) -> Result<u64, ApiError> {
    acting_account(key.account)
}

/// Builds a command of `kind` for the key's account from a request body: the account comes from
/// the key, never from the body.
fn for_account(key: &ApiKey, kind: &str, m: Map<String, Value>) -> Result<Value, ApiError> {
    for_account_id(key.account, kind, m)
}

/// [`for_account`] for the account of a key already looked up (`None`: an admin key).
fn for_account_id(account: Option<u64>, kind: &str, mut m: Map<String, Value>) -> Result<Value, ApiError> {
    if m.contains_key("account") || m.contains_key("type") {
        return Err(ApiError::bad_request("'account' and 'type' come from the key and the endpoint, not the body"));
    }
    let account = acting_account(account)?;
    m.insert("type".into(), json!(kind));
    m.insert("account".into(), json!(account));
    Ok(Value::Object(m))
}

/// The account a key acts for (the key's `account`, when only that was kept): refused for a key
/// that acts for none.
fn acting_account(account: Option<u64>) -> Result<u64, ApiError> {
    account.ok_or_else(|| ApiError::bad_request("this key acts for no account"))
}

/// The JSON answer of an acknowledged command.
fn ack_json(ack: &Ack) -> Value {
    json!({ "seq": ack.seq(), "ts": ack.ts, "head_seq": ack.head().map(|h| h.seq), "head_hash": ack.head().map(|h| h.hash),
            "events": ack.events() })
}

/// Submits a command and waits for its durable acknowledgement. An engine rejection is a 422
/// carrying the command's sequence number (the rejection is journaled too).
pub(crate) async fn submit(s: &Shared, sub: Submission) -> Result<Ack, ApiError> {
    let rx = s.sequencer.submit(sub)?;
    let answer = rx.await.map_err(|_| ApiError::from(crate::sequencer::QueueError::Stopped))?;
    let ack = answer.map_err(ApiError::refused)?;
    if let Some((code, reason, message)) = &ack.rejection {
        let status =
            if *code == 2001 || *code == 4005 { StatusCode::NOT_FOUND } else { StatusCode::UNPROCESSABLE_ENTITY };
        return Err(ApiError {
            seq: Some((ack.seq(), ack.head().copied().map(Box::new))),
            ..ApiError::new(status, *code, reason, message.clone())
        });
    }
    Ok(ack)
}

/// Reads engine state through the queue (after the commands before it).
pub(crate) async fn read(
    s: &Shared,
    f: impl FnOnce(&perpx_core::Engine) -> Value + Send + 'static,
) -> Result<Value, ApiError> {
    let rx = s.sequencer.read(f)?;
    rx.await.map_err(|_| ApiError::from(crate::sequencer::QueueError::Stopped))
}

/// Records an admin action in the audit log: an `admin_audit` command, so the entry is
/// journaled and hash-chained with the trades (the log can't be edited after the fact) and
/// reaches the history read model (`GET /api/v1/admin/audit`). The actor is the key's public
/// id; secrets never enter the detail.
///
/// The action itself is already done when this runs (a key created, a command sequenced); if
/// the entry can't be journaled the admin is told so with a 503 rather than a silent gap.
async fn audit(s: &Shared, key: &ApiKey, action: &str, detail: &Value) -> Result<Ack, ApiError> {
    let cmd = json!({ "type": "admin_audit", "actor": key.key, "action": action, "detail": detail.to_string() });
    submit(s, Submission::Json(cmd)).await.map_err(|e| {
        tracing::error!(action, code = e.code, "the audit entry of an admin action could not be journaled");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.code,
            "audit_failed",
            format!("the {action} was done but its audit entry could not be journaled: {}", e.message),
        )
    })
}

/// `Json(value)` as a response.
fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

pub(crate) type Conn = ConnectInfo<SocketAddr>;
