//! Binance's request signing, checked the same way as the native API's.
//!
//! A signed request carries `X-MBX-APIKEY: <key id>` and, among its parameters, `timestamp`
//! (ms), an optional `recvWindow` (ms, default 5,000, at most 60,000) and `signature`: the hex
//! HMAC-SHA256, keyed with the secret **as text** (Binance clients key the MAC with the
//! secret string's bytes), of the query string followed directly by the body, both as sent and
//! without the `signature` parameter. The raw bytes are verified, never re-encoded parameters.
//!
//! The rules are the native API's: the timestamp must lie in `[now − recvWindow, now + 1 s]`
//! (`-1021`), a signature already seen inside its window is a replay (`-1022`), comparison is in
//! constant time, and the key's scopes bound what it may do (`-2015`).
//!
//! Listen keys (user-data streams) need only the key header, as on Binance.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use serde_json::json;
use sha2::Sha256;

use super::{FapiError, Params, ok};
use crate::api::{Conn, State, now_ms};
use crate::keys::{ApiKey, Scope};

/// The key header.
pub const KEY_HEADER: &str = "x-mbx-apikey";
/// Default `recvWindow` (ms).
const DEFAULT_RECV_WINDOW: i64 = 5_000;
/// Largest `recvWindow` (ms).
const MAX_RECV_WINDOW: i64 = 60_000;
/// How long a listen key lives without a keep-alive (ms).
pub const LISTEN_KEY_TTL_MS: i64 = 60 * 60 * 1_000;

/// An authenticated request: its key, the account it acts for and its other parameters.
#[derive(Debug)]
pub struct Signed {
    /// The key's account.
    pub account: u64,
    /// Parameters other than `timestamp`, `recvWindow` and `signature`.
    pub params: Params,
}

/// Removes the `signature=` parameter from a form-encoded part; returns the rest as sent and the
/// signature.
fn split_signature(part: &[u8]) -> (Vec<u8>, Option<String>) {
    let mut rest: Vec<&[u8]> = Vec::new();
    let mut signature = None;
    for item in part.split(|b| *b == b'&') {
        match item.strip_prefix(b"signature=") {
            Some(sig) => signature = Some(String::from_utf8_lossy(sig).into_owned()),
            None => rest.push(item),
        }
    }
    (rest.join(&b'&'), signature)
}

/// Whether `signature_hex` is the HMAC-SHA256 of `payload` keyed with `secret` (constant time).
#[must_use]
pub fn verify(secret: &str, payload: &[u8], signature_hex: &str) -> bool {
    let Ok(signature) = hex::decode(signature_hex) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(payload);
    mac.verify_slice(&signature).is_ok()
}

/// The signature a Binance client computes over `payload` (tests and tools).
#[must_use]
pub fn sign(secret: &str, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

fn key_of(s: &crate::api::Shared, headers: &HeaderMap) -> Result<ApiKey, FapiError> {
    let id = headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        FapiError::new(StatusCode::UNAUTHORIZED, -2014, "API-key format invalid: send the X-MBX-APIKEY header.")
    })?;
    s.keys.lock().expect("keys lock").get(id).filter(|k| !k.revoked).cloned().ok_or_else(|| {
        FapiError::new(StatusCode::UNAUTHORIZED, -2015, "Invalid API-key, IP, or permissions for action.")
    })
}

/// Authenticates a signed request and checks `scope`.
///
/// # Errors
/// The Binance error a client maps: `-2014`/`-2015` (key), `-1022` (signature or replay),
/// `-1021` (timestamp), `-1102` (missing timestamp or signature), `-1003` (rate limit).
pub async fn authenticate(
    s: &crate::api::Shared,
    addr: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    scope: Scope,
) -> Result<Signed, FapiError> {
    crate::api::limit_ip(s, addr)?;
    let key = key_of(s, headers)?;
    let now = now_ms();
    s.limiter
        .lock()
        .expect("limiter lock")
        .take(&key.key, s.config.rate_limit_per_key, now)
        .map_err(crate::api::ApiError::rate_limited)?;
    let body = crate::api::read_body(s, body).await?;
    let (query, sig_in_query) = split_signature(uri.query().unwrap_or_default().as_bytes());
    let (form, sig_in_body) = split_signature(&body);
    let signature = sig_in_query.or(sig_in_body).ok_or_else(|| FapiError::missing("signature"))?;
    let mut params = Params::parse(&[&query, &form])?;
    let stamp = params.int("timestamp")?.ok_or_else(|| FapiError::missing("timestamp"))?;
    let window = params.int("recvWindow")?.unwrap_or(DEFAULT_RECV_WINDOW);
    if !(1..=MAX_RECV_WINDOW).contains(&window) {
        return Err(FapiError::new(StatusCode::BAD_REQUEST, -1131, "recvWindow must be less than 60000."));
    }
    let mut payload = query;
    payload.extend_from_slice(&form);
    if !verify(&key.secret, &payload, &signature) {
        return Err(FapiError::new(StatusCode::BAD_REQUEST, -1022, "Signature for this request is not valid."));
    }
    if stamp < now - window || stamp > now + 1_000 {
        return Err(FapiError::new(
            StatusCode::BAD_REQUEST,
            -1021,
            format!("Timestamp for this request is outside of the recvWindow (server time {now})."),
        ));
    }
    if !s.replays.lock().expect("replay lock").insert(&signature.to_ascii_lowercase(), now, stamp + window) {
        return Err(FapiError::new(
            StatusCode::BAD_REQUEST,
            -1022,
            "Signature for this request is not valid: it was already used (a replay).",
        ));
    }
    if !key.allows(scope) {
        return Err(FapiError::new(StatusCode::UNAUTHORIZED, -2015, "Invalid API-key, IP, or permissions for action."));
    }
    let account = key.account.ok_or_else(|| FapiError::invalid("X-MBX-APIKEY", "this key acts for no account"))?;
    Ok(Signed { account, params })
}

/// Extractors of a signed request with the scope its handler needs: a handler takes
/// `ReadSigned(Signed { account, params })` or `TradeSigned(..)` and is never reached unless
/// [`authenticate`] accepted the request.
macro_rules! signed_extractor {
    ($name:ident, $scope:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name(pub Signed);

        impl axum::extract::FromRequest<std::sync::Arc<crate::api::Shared>> for $name {
            type Rejection = FapiError;

            async fn from_request(
                req: axum::extract::Request,
                s: &std::sync::Arc<crate::api::Shared>,
            ) -> Result<Self, FapiError> {
                use axum::extract::FromRequestParts;
                let (mut parts, body) = req.into_parts();
                let axum::extract::ConnectInfo(addr) =
                    axum::extract::ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, s)
                        .await
                        .map_err(|e| FapiError::new(StatusCode::INTERNAL_SERVER_ERROR, -1000, e.to_string()))?;
                authenticate(s, addr, &parts.uri, &parts.headers, body, $scope).await.map(Self)
            }
        }
    };
}

signed_extractor!(ReadSigned, Scope::Read, "A signed request allowed to read.");
signed_extractor!(TradeSigned, Scope::Trade, "A signed request allowed to trade.");

/// A user-data stream's key.
#[derive(Debug, Clone)]
pub struct ListenKey {
    /// The account whose events it carries.
    pub account: u64,
    /// The API key that opened it.
    pub api_key: String,
    /// When it lapses without a keep-alive (ms).
    pub expires_ms: i64,
}

/// Open listen keys.
pub type ListenKeys = std::sync::Mutex<std::collections::HashMap<String, ListenKey>>;

fn listen_key_owner(s: &crate::api::Shared, addr: SocketAddr, headers: &HeaderMap) -> Result<ApiKey, FapiError> {
    crate::api::limit_ip(s, addr)?;
    let key = key_of(s, headers)?;
    if !key.allows(Scope::Read) || key.account.is_none() {
        return Err(FapiError::new(StatusCode::UNAUTHORIZED, -2015, "Invalid API-key, IP, or permissions for action."));
    }
    Ok(key)
}

/// `POST /fapi/v1/listenKey`: the key's open listen key (extended), or a new one.
pub(super) async fn create_listen_key(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    headers: HeaderMap,
) -> Result<Response, FapiError> {
    let key = listen_key_owner(&s, addr, &headers)?;
    let now = now_ms();
    let mut keys = s.fapi.listen_keys.lock().expect("listen keys lock");
    keys.retain(|_, k| k.expires_ms > now);
    let expires_ms = now + LISTEN_KEY_TTL_MS;
    if let Some((id, k)) = keys.iter_mut().find(|(_, k)| k.api_key == key.key) {
        k.expires_ms = expires_ms;
        return Ok(ok(json!({ "listenKey": id })));
    }
    let id: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(64).map(char::from).collect();
    keys.insert(
        id.clone(),
        ListenKey { account: key.account.unwrap_or_default(), api_key: key.key.clone(), expires_ms },
    );
    Ok(ok(json!({ "listenKey": id })))
}

/// `PUT /fapi/v1/listenKey`: keeps the key's listen key alive for another hour.
pub(super) async fn keep_alive_listen_key(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    headers: HeaderMap,
) -> Result<Response, FapiError> {
    let key = listen_key_owner(&s, addr, &headers)?;
    let now = now_ms();
    let mut keys = s.fapi.listen_keys.lock().expect("listen keys lock");
    match keys.iter_mut().find(|(_, k)| k.api_key == key.key && k.expires_ms > now) {
        Some((id, k)) => {
            k.expires_ms = now + LISTEN_KEY_TTL_MS;
            Ok(ok(json!({ "listenKey": id })))
        }
        None => Err(FapiError::new(StatusCode::BAD_REQUEST, -1125, "This listenKey does not exist.")),
    }
}

/// `DELETE /fapi/v1/listenKey`: closes the key's listen key (its streams end).
pub(super) async fn close_listen_key(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    headers: HeaderMap,
) -> Result<Response, FapiError> {
    let key = listen_key_owner(&s, addr, &headers)?;
    s.fapi.listen_keys.lock().expect("listen keys lock").retain(|_, k| k.api_key != key.key);
    Ok(ok(json!({})))
}

/// The account a listen key streams, if it is open.
pub fn listen_key_account(s: &crate::api::Shared, id: &str) -> Option<u64> {
    let now = now_ms();
    s.fapi.listen_keys.lock().expect("listen keys lock").get(id).filter(|k| k.expires_ms > now).map(|k| k.account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_cut_out_of_the_bytes_as_sent() {
        let (rest, sig) = split_signature(b"symbol=BTCUSDT&timestamp=1&signature=abc");
        assert_eq!((rest.as_slice(), sig.as_deref()), (&b"symbol=BTCUSDT&timestamp=1"[..], Some("abc")));
        let (rest, sig) = split_signature(b"a=%20b&c=d");
        assert_eq!((rest.as_slice(), sig), (&b"a=%20b&c=d"[..], None), "percent-encoding kept as sent");
    }

    #[test]
    fn binance_signatures_key_the_mac_with_the_secret_text() {
        // Binance's documented example (USDⓈ-M "SIGNED Endpoint Examples").
        let secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
        let payload = b"symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943";
        let sig = sign(secret, payload);
        assert_eq!(sig, "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9");
        assert!(verify(secret, payload, &sig));
        assert!(!verify(secret, b"symbol=BTCUSDT", &sig));
        assert!(!verify("another", payload, &sig));
        assert!(!verify(secret, payload, "not hex"));
    }
}
