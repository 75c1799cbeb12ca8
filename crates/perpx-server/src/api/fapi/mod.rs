//! The Binance-USDⓈ-M-compatible API under `/fapi/...`: existing bots (ccxt, freqtrade,
//! python-binance, binance-futures-connector, Hummingbot) trade on perpx by changing a base URL.
//!
//! It is a thin translation over the same engine commands, views and history as the native API
//! — no rule is implemented twice. Requests are parsed and signed Binance's way
//! ([`signed`]), turned into perpx commands, and the answers reshaped into Binance's objects;
//! perpx's rejection codes map onto the Binance codes clients turn into exception types
//! ([`FapiError`]). What is supported, what is refused and why: `docs/BINANCE.md`.
//!
//! Symbols: a perpx market `BASE-PERP` is `BASEUSDT` here (the settlement asset is reported as
//! `USDT`), unless `fapi_symbols` in the server settings names another.

mod account;
mod amount;
mod orders;
mod public;
pub mod signed;
mod trade;
pub mod ws;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{ApiError, Shared};

pub use signed::ListenKeys;

/// The asset positions settle in, as Binance clients expect to see it.
pub const MARGIN_ASSET: &str = "USDT";

/// The `/fapi` routes (merged into the main router).
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/fapi/v1/ping", get(public::ping))
        .route("/fapi/v1/time", get(public::time))
        .route("/fapi/v1/exchangeInfo", get(public::exchange_info))
        .route("/fapi/v1/depth", get(public::depth))
        .route("/fapi/v1/trades", get(public::trades))
        .route("/fapi/v1/aggTrades", get(public::agg_trades))
        .route("/fapi/v1/klines", get(public::klines))
        .route("/fapi/v1/ticker/24hr", get(public::ticker_24hr))
        .route("/fapi/v1/ticker/price", get(public::ticker_price))
        .route("/fapi/v2/ticker/price", get(public::ticker_price))
        .route("/fapi/v1/ticker/bookTicker", get(public::book_ticker))
        .route("/fapi/v1/premiumIndex", get(public::premium_index))
        .route("/fapi/v1/fundingRate", get(public::funding_rate))
        .route("/fapi/v1/fundingInfo", get(public::funding_info))
        .route("/fapi/v1/order", post(trade::new_order).delete(trade::cancel_order).get(trade::query_order))
        .route(
            "/fapi/v1/algoOrder",
            post(trade::new_algo_order).delete(trade::cancel_algo_order).get(trade::query_algo_order),
        )
        .route("/fapi/v1/openAlgoOrders", get(trade::open_algo_orders))
        .route("/fapi/v1/allAlgoOrders", get(trade::all_algo_orders))
        .route("/fapi/v1/batchOrders", post(trade::batch_orders).delete(trade::cancel_batch))
        .route("/fapi/v1/allOpenOrders", axum::routing::delete(trade::cancel_all))
        .route("/fapi/v1/countdownCancelAll", post(trade::countdown_cancel_all))
        .route("/fapi/v1/openOrders", get(trade::open_orders))
        .route("/fapi/v1/openOrder", get(trade::query_open_order))
        .route("/fapi/v1/allOrders", get(trade::all_orders))
        .route("/fapi/v1/userTrades", get(trade::user_trades))
        .route("/fapi/v1/income", get(trade::income))
        .route("/fapi/v1/leverage", post(account::leverage))
        .route("/fapi/v1/marginType", post(account::margin_type))
        .route("/fapi/v1/positionMargin", post(account::position_margin))
        .route("/fapi/v1/leverageBracket", get(account::leverage_bracket))
        .route("/fapi/v1/positionSide/dual", get(account::get_dual).post(account::set_dual))
        .route("/fapi/v1/multiAssetsMargin", get(account::get_multi_assets).post(account::set_multi_assets))
        .route("/fapi/v2/account", get(account::account_v2))
        .route("/fapi/v3/account", get(account::account_v3))
        .route("/fapi/v2/balance", get(account::balance))
        .route("/fapi/v3/balance", get(account::balance))
        .route("/fapi/v2/positionRisk", get(account::position_risk_v2))
        .route("/fapi/v3/positionRisk", get(account::position_risk_v3))
        .route("/fapi/v1/adlQuantile", get(account::adl_quantile))
        .route("/fapi/v1/commissionRate", get(account::commission_rate))
        .route(
            "/fapi/v1/listenKey",
            post(signed::create_listen_key).put(signed::keep_alive_listen_key).delete(signed::close_listen_key),
        )
        .route("/ws/{listen_key}", get(ws::user_stream))
        .route("/stream", get(ws::market_streams))
}

/// The answer for a path no route serves: Binance's error shape under `/fapi`.
pub(super) fn not_found(uri: &axum::http::Uri) -> Response {
    if uri.path().starts_with("/fapi/") {
        FapiError::new(
            StatusCode::NOT_FOUND,
            -1000,
            format!("{} is not served by perpx (see docs/BINANCE.md)", uri.path()),
        )
        .into_response()
    } else {
        ApiError::not_found("no such endpoint: see /docs").into_response()
    }
}

/// The `/fapi` settings (`[fapi]` is not a table: two flat keys in the server settings).
#[derive(Debug, Clone, Default)]
pub struct SymbolMap {
    /// perpx market → Binance symbol, where the default rule doesn't fit.
    pub to_binance: BTreeMap<String, String>,
}

impl SymbolMap {
    /// The Binance symbol of a perpx market: `BASE-PERP` → `BASEUSDT`.
    #[must_use]
    pub fn binance(&self, market: &str) -> String {
        if let Some(s) = self.to_binance.get(market) {
            return s.clone();
        }
        let base = market.strip_suffix("-PERP").unwrap_or(market);
        format!("{}{MARGIN_ASSET}", base.replace('-', ""))
    }

    /// The perpx market of a Binance symbol, if the symbol is well-formed (the engine decides
    /// whether the market exists).
    #[must_use]
    pub fn perpx(&self, symbol: &str) -> Option<String> {
        if let Some((m, _)) = self.to_binance.iter().find(|(_, s)| s.eq_ignore_ascii_case(symbol)) {
            return Some(m.clone());
        }
        let upper = symbol.to_ascii_uppercase();
        let base = upper.strip_suffix(MARGIN_ASSET)?;
        (!base.is_empty() && base.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| format!("{base}-PERP"))
    }
}

/// What the `/fapi` layer keeps: listen keys of the user-data streams.
#[derive(Debug, Default)]
pub struct FapiState {
    /// Open listen keys.
    pub listen_keys: Mutex<HashMap<String, signed::ListenKey>>,
    /// Symbol mapping.
    pub symbols: SymbolMap,
}

/// An error in Binance's shape: `{"code": -NNNN, "msg": "..."}`.
#[derive(Debug, Clone)]
pub struct FapiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Binance's code (negative).
    pub code: i32,
    /// The message.
    pub msg: String,
}

impl FapiError {
    /// An error with Binance code `code`.
    #[must_use]
    pub fn new(status: StatusCode, code: i32, msg: impl Into<String>) -> Self {
        Self { status, code, msg: msg.into() }
    }

    /// `-1102`: a mandatory parameter is missing or empty.
    #[must_use]
    pub fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            -1102,
            format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed."),
        )
    }

    /// `-1130`: a parameter's value is not valid.
    #[must_use]
    pub fn invalid(param: &str, why: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, -1130, format!("Data sent for parameter '{param}' is not valid: {why}"))
    }

    /// `-1121`: no such symbol.
    #[must_use]
    pub fn bad_symbol(symbol: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, -1121, format!("Invalid symbol '{symbol}'."))
    }

    /// `-2013` (query) or `-2011` (cancel): no such order.
    #[must_use]
    pub fn no_order(cancel: bool) -> Self {
        if cancel {
            Self::new(StatusCode::BAD_REQUEST, -2011, "Unknown order sent.")
        } else {
            Self::new(StatusCode::BAD_REQUEST, -2013, "Order does not exist.")
        }
    }
}

impl IntoResponse for FapiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "code": self.code, "msg": self.msg }))).into_response()
    }
}

/// perpx's codes (`docs/ENGINE.md`, `docs/API.md`) mapped onto Binance's, so that clients raise
/// the exception types they already handle. The message keeps perpx's own words.
impl From<ApiError> for FapiError {
    fn from(e: ApiError) -> Self {
        let (status, code) = match e.code {
            1001 => (StatusCode::BAD_REQUEST, -1021),
            1002 => (StatusCode::BAD_REQUEST, -1102),
            1003 => (StatusCode::BAD_REQUEST, -1111),
            2001 => (StatusCode::BAD_REQUEST, -1121),
            3001 => (StatusCode::BAD_REQUEST, -4003),
            3002 => (StatusCode::BAD_REQUEST, -4005),
            3003 => (StatusCode::BAD_REQUEST, -4004),
            3004 => (StatusCode::BAD_REQUEST, -4164),
            3005 => (StatusCode::BAD_REQUEST, -4001),
            3006 => (StatusCode::BAD_REQUEST, -4014),
            3007 => (StatusCode::BAD_REQUEST, -4023),
            3008 => (StatusCode::BAD_REQUEST, -4016),
            3009 => (StatusCode::BAD_REQUEST, -4015),
            4001 => (StatusCode::BAD_REQUEST, -5022),
            4002 => (StatusCode::BAD_REQUEST, -5021),
            4003 | 4004 | 4008 => (StatusCode::BAD_REQUEST, -2025),
            4005 => (StatusCode::BAD_REQUEST, -2011),
            4007 => (StatusCode::BAD_REQUEST, -2021),
            5001 | 5006 => (StatusCode::BAD_REQUEST, -2018),
            5002 => (StatusCode::BAD_REQUEST, -2019),
            5003 => (StatusCode::BAD_REQUEST, -2027),
            5004 => (StatusCode::BAD_REQUEST, -4028),
            5005 => (StatusCode::BAD_REQUEST, -2022),
            5009 => (StatusCode::BAD_REQUEST, -4048),
            5011 => (StatusCode::BAD_REQUEST, -4051),
            6001 => (StatusCode::UNAUTHORIZED, -2014),
            6002 | 6006 => (StatusCode::UNAUTHORIZED, -2015),
            6003 | 6005 => (StatusCode::BAD_REQUEST, -1022),
            6004 => (StatusCode::BAD_REQUEST, -1021),
            6007 => (StatusCode::TOO_MANY_REQUESTS, -1003),
            6008 => (StatusCode::SERVICE_UNAVAILABLE, -1008),
            6009 => (StatusCode::PAYLOAD_TOO_LARGE, -1100),
            6011 | 6013 => (StatusCode::SERVICE_UNAVAILABLE, -1001),
            // Other order-path refusals (halted market, band, liquidation in progress, ...).
            2000..=5999 => (StatusCode::BAD_REQUEST, -2010),
            _ => (StatusCode::BAD_REQUEST, -1130),
        };
        Self::new(status, code, format!("{} ({}, perpx {})", e.message, e.reason, e.code))
    }
}

/// Request parameters (query string and form body together), with the names read so far so
/// that an unknown parameter is refused (`-1104`) rather than silently ignored.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` parts; a name sent twice is refused.
    ///
    /// # Errors
    /// `-1101` on a duplicate.
    pub fn parse(parts: &[&[u8]]) -> Result<Self, FapiError> {
        let mut values = BTreeMap::new();
        for part in parts {
            for (k, v) in form_urlencoded::parse(part) {
                if values.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                    return Err(FapiError::new(
                        StatusCode::BAD_REQUEST,
                        -1101,
                        format!("Duplicate values for parameter '{k}'."),
                    ));
                }
            }
        }
        Ok(Self { values })
    }

    /// Takes an optional parameter (empty counts as absent).
    pub fn opt(&mut self, name: &str) -> Option<String> {
        self.values.remove(name).filter(|v| !v.is_empty())
    }

    /// Takes a mandatory parameter.
    ///
    /// # Errors
    /// `-1102` when absent.
    pub fn req(&mut self, name: &str) -> Result<String, FapiError> {
        self.opt(name).ok_or_else(|| FapiError::missing(name))
    }

    /// Reads a parameter without taking it.
    #[must_use]
    pub fn peek(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }

    /// Renames parameter `from` to `to` (endpoints that spell a field differently).
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(v) = self.values.remove(from) {
            self.values.insert(to.to_owned(), v);
        }
    }

    /// Takes an optional integer parameter.
    ///
    /// # Errors
    /// `-1130` when it is not an integer.
    pub fn int(&mut self, name: &str) -> Result<Option<i64>, FapiError> {
        self.opt(name).map(|v| v.parse::<i64>().map_err(|_| FapiError::invalid(name, "not an integer"))).transpose()
    }

    /// Takes an optional boolean (`true`/`false`, any case).
    ///
    /// # Errors
    /// `-1130` otherwise.
    pub fn bool(&mut self, name: &str) -> Result<Option<bool>, FapiError> {
        self.opt(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(FapiError::invalid(name, "not true or false")),
            })
            .transpose()
    }

    /// Refuses whatever was not read.
    ///
    /// # Errors
    /// `-1104` naming the parameters no endpoint reads.
    pub fn finish(self) -> Result<(), FapiError> {
        if self.values.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.values.keys().map(String::as_str).collect();
        Err(FapiError::new(
            StatusCode::BAD_REQUEST,
            -1104,
            format!("Not all sent parameters were read; perpx reads no parameter named: {}", names.join(", ")),
        ))
    }
}

/// The perpx market a `symbol` parameter names.
fn market_of(s: &Shared, symbol: &str) -> Result<String, FapiError> {
    s.fapi.symbols.perpx(symbol).ok_or_else(|| FapiError::bad_symbol(symbol))
}

/// `Json(value)` as a response.
fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

/// Reads the engine (after the commands queued before), or fails in Binance's shape.
async fn read(s: &Shared, f: impl FnOnce(&perpx_core::Engine) -> Value + Send + 'static) -> Result<Value, FapiError> {
    super::read(s, f).await.map_err(FapiError::from)
}

/// Submits a perpx command in its JSON form for `account` (from the key, never from the
/// request) and waits for it to be durable; an engine rejection becomes its Binance error.
async fn submit(
    s: &Shared,
    account: u64,
    mut cmd: serde_json::Map<String, Value>,
) -> Result<crate::sequencer::Ack, FapiError> {
    cmd.insert("account".into(), json!(account));
    super::submit(s, crate::sequencer::Submission::Json(Value::Object(cmd))).await.map_err(FapiError::from)
}

/// A read of the history read model failed.
fn history_error(e: String) -> FapiError {
    FapiError::new(StatusCode::SERVICE_UNAVAILABLE, -1001, format!("history: {e}"))
}

/// Waits (briefly) until the history read model holds everything up to the engine's current
/// sequence number, so that an order just acknowledged is found in it (read-your-writes).
async fn history_caught_up(s: &Shared) -> Result<&crate::history::History, FapiError> {
    let h = s.history.as_deref().ok_or_else(|| {
        FapiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            -1001,
            "order history needs the history read model (history = true)",
        )
    })?;
    let seq = read(s, |e| json!(e.seq())).await?.as_u64().unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while h.complete_to.load(std::sync::atomic::Ordering::Relaxed) < seq {
        if std::time::Instant::now() > deadline {
            return Err(FapiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                -1001,
                "the history read model is behind; retry",
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_map_both_ways() {
        let mut m = SymbolMap::default();
        assert_eq!(m.binance("BTC-PERP"), "BTCUSDT");
        assert_eq!(m.perpx("BTCUSDT").as_deref(), Some("BTC-PERP"));
        assert_eq!(m.perpx("ethusdt").as_deref(), Some("ETH-PERP"), "clients may lower-case");
        assert_eq!(m.perpx("USDT"), None);
        assert_eq!(m.perpx("BTCUSD"), None);
        m.to_binance.insert("1000PEPE-PERP".into(), "1000PEPEUSDT".into());
        m.to_binance.insert("XBT-PERP".into(), "BTCUSDT".into());
        assert_eq!(m.binance("XBT-PERP"), "BTCUSDT");
        assert_eq!(m.perpx("BTCUSDT").as_deref(), Some("XBT-PERP"), "an override wins");
    }

    #[test]
    fn params_refuse_duplicates_and_unread_names() {
        assert_eq!(Params::parse(&[b"a=1&a=2"]).unwrap_err().code, -1101);
        assert_eq!(Params::parse(&[b"a=1", b"a=2"]).unwrap_err().code, -1101, "query and body together");
        let mut p = Params::parse(&[b"symbol=BTCUSDT&quantity=0.010&reduceOnly=TRUE&x=%20y"]).unwrap();
        assert_eq!(p.req("symbol").unwrap(), "BTCUSDT");
        assert_eq!(p.bool("reduceOnly").unwrap(), Some(true));
        assert_eq!(p.req("price").unwrap_err().code, -1102);
        assert_eq!(p.opt("quantity").as_deref(), Some("0.010"));
        let e = p.finish().unwrap_err();
        assert_eq!(e.code, -1104);
        assert!(e.msg.contains('x'), "{}", e.msg);
    }

    #[test]
    fn perpx_codes_become_the_binance_codes_clients_map() {
        let code = |c: u16| FapiError::from(ApiError::new(StatusCode::BAD_REQUEST, c, "r", "m")).code;
        assert_eq!(code(5002), -2019, "insufficient margin");
        assert_eq!(code(5005), -2022, "reduce-only");
        assert_eq!(code(3004), -4164, "min notional");
        assert_eq!(code(2001), -1121, "unknown symbol");
        assert_eq!(code(6003), -1022, "bad signature");
        assert_eq!(code(6004), -1021, "outside recvWindow");
        assert_eq!(code(4005), -2011, "unknown order");
        assert_eq!(code(2007), -2010, "halted: a refused order");
    }
}
