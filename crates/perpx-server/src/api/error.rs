//! API errors: JSON `{"code", "reason", "message"}` with a stable code, and the HTTP status.
//!
//! Engine codes (1xxx–5xxx, `docs/ENGINE.md`) keep their meaning; the gateway adds 6xxx for what
//! is refused before the engine (`docs/API.md`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sequencer::QueueError;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable numeric code.
    pub code: u16,
    /// Stable name.
    pub reason: &'static str,
    /// What a person reads.
    pub message: String,
    /// When to retry (429, 503).
    pub retry_after_ms: Option<i64>,
    /// For an engine rejection: the command's sequence number and the journal head that made
    /// it durable (it is journaled).
    pub seq: Option<(u64, Option<Box<crate::stream::DurableHead>>)>,
}

impl ApiError {
    /// A gateway error.
    #[must_use]
    pub fn new(status: StatusCode, code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, reason, message: message.into(), retry_after_ms: None, seq: None }
    }

    /// 6001: no or incomplete credentials.
    #[must_use]
    pub fn missing_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            6001,
            "missing_credentials",
            "send X-PERPX-APIKEY, X-PERPX-TIMESTAMP and X-PERPX-SIGNATURE",
        )
    }

    /// 6002.
    #[must_use]
    pub fn unknown_key() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 6002, "unknown_api_key", "unknown or revoked API key")
    }

    /// 6003.
    #[must_use]
    pub fn bad_signature() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            6003,
            "bad_signature",
            "the signature does not match: HMAC-SHA256 of timestamp\\nMETHOD\\npath?query\\nbody with the key's secret",
        )
    }

    /// 6004.
    #[must_use]
    pub fn timestamp_outside_window(window_ms: i64) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            6004,
            "timestamp_outside_window",
            format!("the request timestamp must be within {window_ms} ms of the server clock"),
        )
    }

    /// 6005.
    #[must_use]
    pub fn replayed() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 6005, "replayed_signature", "this signed request was already received")
    }

    /// 6006.
    #[must_use]
    pub fn forbidden(scope: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, 6006, "forbidden_scope", format!("this key lacks the '{scope}' scope"))
    }

    /// 6007.
    #[must_use]
    pub fn rate_limited(retry_after_ms: i64) -> Self {
        Self {
            retry_after_ms: Some(retry_after_ms),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, 6007, "rate_limited", "too many requests")
        }
    }

    /// 6009.
    #[must_use]
    pub fn body_too_large(max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            6009,
            "body_too_large",
            format!("request bodies are at most {max} bytes"),
        )
    }

    /// 6010.
    #[must_use]
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 6010, "not_found", what)
    }

    /// 6012: a request the gateway can't accept as sent.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 6012, "bad_request", message)
    }

    /// An engine refusal before sequencing (decoding: malformed, unknown market, off tick...).
    #[must_use]
    pub fn refused((code, reason, message): (u16, &'static str, String)) -> Self {
        let status = if code == 2001 { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
        Self::new(status, code, reason, message)
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Full => Self {
                retry_after_ms: Some(100),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    6008,
                    "overloaded",
                    "the engine queue is full; retry shortly",
                )
            },
            QueueError::Stopped => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, 6011, "unavailable", "the engine has stopped")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "reason": self.reason, "message": self.message });
        if let Some((seq, head)) = &self.seq {
            body["seq"] = json!(seq);
            if let Some(h) = head {
                body["head_seq"] = json!(h.seq);
                body["head_hash"] = json!(h.hash);
            }
        }
        if let Some(ms) = self.retry_after_ms {
            body["retry_after_ms"] = json!(ms);
        }
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(ms) = self.retry_after_ms {
            let secs = (ms + 999) / 1_000;
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}
