//! Order entry over the native WebSocket (`/ws`): after a signed `auth` (once per connection),
//! a client sends `{"op": "order" | "amend" | "cancel" | "cancel_all", "id": N, ...}` — the
//! fields of the REST endpoint's body — and gets `{"op": "ack", "id": N, "seq", "ts",
//! "head_seq", "head_hash", "events"}` or `{"op": "error", "id": N, "code", "reason", "message"}` on the
//! same socket.
//!
//! **The same path as REST.** The body becomes the same JSON command (`for_account`: the account
//! comes from the key, never from the message), is decoded and validated by the engine thread
//! against the live engine, and is answered only once its journal record is durable (output
//! commit). Refusals carry the REST codes: 1xxx–5xxx from the engine (a rejection has its `seq`
//! and the durable head: it is journaled, nothing changed), 6006 without the `trade` scope, 6002 if
//! the key was revoked or rotated since `auth` (log in again), 6001 before a login, 6007 over the key's rate limit (each message takes one
//! token of `rate_limit_per_key`, like a REST request), 6008 when the engine queue is full.
//!
//! **Many in flight.** A connection may have up to `ws_max_in_flight` commands queued or waiting
//! for their commit; beyond that the server stops reading the socket until answers go out
//! (TCP pushes back on the client). Answers go out in the order the messages came in (the
//! engine sequences them in that order too); `id` pairs them.
//!
//! **Why unsigned messages are safe here.** The `auth` message is signed with the key's secret
//! and refused if replayed or outside the receive window; after it, the connection itself is
//! the credential (as a session cookie over TLS would be). A captured order message can't be
//! sent on another connection, and a captured `auth` can't be replayed.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{ApiError, Shared, for_account_id, now_ms};
use crate::keys::Scope;
use crate::sequencer::{Ack, QueueError, Refusal, Submission};

/// The ops this module answers, and the wire command type of each.
pub(super) const TRADE_OPS: [(&str, &str); 4] =
    [("order", "place_order"), ("amend", "amend_order"), ("cancel", "cancel_order"), ("cancel_all", "cancel_all")];

/// An answer on its way: a refusal known at once, or a command waiting for its commit.
pub(super) enum Entry {
    /// Answer now (nothing was queued).
    Now(String),
    /// Answer when the command is durable.
    Later(Pin<Box<dyn Future<Output = String> + Send>>),
}

#[derive(Serialize)]
struct AckMessage<'a> {
    op: &'static str,
    id: Option<u64>,
    seq: u64,
    ts: i64,
    head_seq: Option<u64>,
    head_hash: Option<&'a str>,
    events: crate::stream::EventsJson<'a>,
}

#[derive(Serialize)]
struct ErrorMessage<'a> {
    op: &'static str,
    id: Option<u64>,
    code: u16,
    reason: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<i64>,
}

fn error_text(id: Option<u64>, e: &ApiError) -> String {
    let (seq, head_seq, head_hash) = match &e.seq {
        Some((seq, head)) => (Some(*seq), head.as_deref().map(|h| h.seq), head.as_deref().map(|h| h.hash.as_str())),
        None => (None, None, None),
    };
    let m = ErrorMessage {
        op: "error",
        id,
        code: e.code,
        reason: e.reason,
        message: &e.message,
        seq,
        head_seq,
        head_hash,
        retry_after_ms: e.retry_after_ms,
    };
    serde_json::to_string(&m).unwrap_or_default()
}

fn ack_text(id: Option<u64>, ack: &Ack) -> String {
    let head = ack.head();
    let m = AckMessage {
        op: "ack",
        id,
        seq: ack.seq(),
        ts: ack.ts,
        head_seq: head.map(|h| h.seq),
        head_hash: head.map(|h| h.hash.as_str()),
        events: ack.events(),
    };
    serde_json::to_string(&m).unwrap_or_default()
}

/// The answer to a command once the engine thread has answered it: REST's codes, an engine
/// rejection with its sequence number.
fn answer_text(
    id: Option<u64>,
    answer: Result<Result<Ack, Refusal>, tokio::sync::oneshot::error::RecvError>,
) -> String {
    match answer {
        Err(_) => error_text(id, &ApiError::from(QueueError::Stopped)),
        Ok(Err(refusal)) => error_text(id, &ApiError::refused(refusal)),
        Ok(Ok(ack)) => match &ack.rejection {
            None => ack_text(id, &ack),
            Some((code, reason, message)) => {
                let e = ApiError {
                    seq: Some((ack.seq(), ack.head().copied().map(Box::new))),
                    ..ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, *code, reason, message.clone())
                };
                error_text(id, &e)
            }
        },
    }
}

/// Checks and queues one trading message (`m` without its `op`), for the key (id, secret) that
/// authenticated the connection (`None`: it did not).
pub(super) fn entry(s: &Shared, key: Option<(&str, &str)>, wire_type: &str, mut m: Map<String, Value>) -> Entry {
    let id = match m.remove("id") {
        Some(v) => match v.as_u64() {
            Some(id) => Some(id),
            None => return Entry::Now(error_text(None, &ApiError::bad_request("'id' is an unsigned integer"))),
        },
        None => return Entry::Now(error_text(None, &ApiError::bad_request("a trading message needs an 'id'"))),
    };
    let Some(key) = key else {
        let e = ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            6001,
            "missing_credentials",
            "authenticate first: {\"op\": \"auth\", \"key\", \"timestamp\", \"signature\"}",
        );
        return Entry::Now(error_text(id, &e));
    };
    match queue(s, key, wire_type, m) {
        Ok(rx) => Entry::Later(Box::pin(async move { answer_text(id, rx.await) })),
        Err(e) => Entry::Now(error_text(id, &e)),
    }
}

type AnswerRx = tokio::sync::oneshot::Receiver<Result<Ack, Refusal>>;

fn queue(
    s: &Shared,
    (key, secret): (&str, &str),
    wire_type: &str,
    m: Map<String, Value>,
) -> Result<AnswerRx, ApiError> {
    // The key as it is now: revoked or rotated since `auth` means refused from now on.
    let account = {
        let keys = s.keys.lock().expect("keys lock");
        let k = keys.get(key).filter(|k| !k.revoked && k.secret == secret).ok_or_else(|| ApiError {
            message: "the key was revoked or rotated since auth".into(),
            ..ApiError::unknown_key()
        })?;
        if !k.allows(Scope::Trade) {
            return Err(ApiError::forbidden("trade"));
        }
        k.account
    };
    s.limiter
        .lock()
        .expect("limiter lock")
        .take(key, s.config.rate_limit_per_key, now_ms())
        .map_err(ApiError::rate_limited)?;
    let cmd = Submission::parse(for_account_id(account, wire_type, m)?).map_err(ApiError::refused)?;
    Ok(s.sequencer.submit(cmd)?)
}
