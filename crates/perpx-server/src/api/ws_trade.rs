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

use perpx_wire::json_object::JsonObject;
use perpx_wire::trade_message::TradeMessage;

use super::{ApiError, Shared, acting_account, for_account_id, now_ms};
use crate::keys::Scope;
use crate::sequencer::{Ack, QueueError, Refusal, Submission};

/// The ops this module answers, and the wire command type of each.
const TRADE_OPS: [(&str, &str); 4] =
    [("order", "place_order"), ("amend", "amend_order"), ("cancel", "cancel_order"), ("cancel_all", "cancel_all")];

/// An answer on its way: a refusal known at once, or a command waiting for its commit.
pub(super) enum Entry {
    /// Answer now (nothing was queued).
    Now(String),
    /// Answer when the command is durable.
    Later(Pin<Box<dyn Future<Output = String> + Send>>),
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

/// `{"op":"ack","id","seq","ts","head_seq","head_hash","events"}`, the events' text copied in
/// as it is: written by hand, as the events are (`perpx_wire::json_object`), since serde_json
/// went through every event's text again to copy it (docs/PERFORMANCE.md "Session 16").
fn ack_text(id: Option<u64>, ack: &Ack) -> String {
    let events = ack.events();
    let mut out = String::with_capacity(160 + events.iter().map(|e| e.raw().len() + 1).sum::<usize>());
    let mut o = JsonObject::begin(&mut out);
    o.name("op", "ack");
    match id {
        Some(id) => o.u64("id", id),
        None => o.null("id"),
    }
    o.u64("seq", ack.seq());
    o.i64("ts", ack.ts);
    match ack.head() {
        Some(h) => {
            o.u64("head_seq", h.seq);
            o.str("head_hash", h.hash.as_str());
        }
        None => {
            o.null("head_seq");
            o.null("head_hash");
        }
    }
    o.json_array("events", events.iter().map(crate::stream::EventJson::raw));
    o.end();
    out
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

/// A trading message read the general way: its op's wire command type and its fields without
/// the `op`; `None` for a message that is not a JSON object naming a trading op.
pub(super) fn general_message(text: &str) -> Option<(&'static str, Map<String, Value>)> {
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(text) else { return None };
    let op = m.get("op").and_then(Value::as_str)?;
    let (_, wire_type) = TRADE_OPS.iter().find(|(name, _)| *name == op)?;
    m.remove("op");
    Some((wire_type, m))
}

/// Checks and queues one trading message (`m` without its `op`), for the key (id, secret) that
/// authenticated the connection (`None`: it did not). The general path, for what
/// [`TradeMessage::parse`] did not take: its errors are the precise ones.
pub(super) fn entry(s: &Shared, key: Option<(&str, &str)>, wire_type: &str, mut m: Map<String, Value>) -> Entry {
    let id = match m.remove("id") {
        Some(v) => match v.as_u64() {
            Some(id) => Some(id),
            None => return Entry::Now(error_text(None, &ApiError::bad_request("'id' is an unsigned integer"))),
        },
        None => return Entry::Now(error_text(None, &ApiError::bad_request("a trading message needs an 'id'"))),
    };
    checked_entry(s, key, id, |account| {
        Submission::parse(for_account_id(account, wire_type, m)?).map_err(ApiError::refused)
    })
}

/// [`entry`] for a message the one-pass parser read ([`perpx_wire::trade_message`]): the same
/// checks in the same order, and the same command.
pub(super) fn parsed_entry(s: &Shared, key: Option<(&str, &str)>, message: TradeMessage) -> Entry {
    checked_entry(s, key, Some(message.id()), |account| {
        Ok(Submission::Parsed(message.into_command(acting_account(account)?)))
    })
}

/// The login, the key's state and scope, the rate limit, then the command `command` makes for
/// the key's account, queued.
fn checked_entry(
    s: &Shared,
    key: Option<(&str, &str)>,
    id: Option<u64>,
    command: impl FnOnce(Option<u64>) -> Result<Submission, ApiError>,
) -> Entry {
    let Some(key) = key else {
        let e = ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            6001,
            "missing_credentials",
            "authenticate first: {\"op\": \"auth\", \"key\", \"timestamp\", \"signature\"}",
        );
        return Entry::Now(error_text(id, &e));
    };
    match queue(s, key, command) {
        Ok(rx) => Entry::Later(Box::pin(async move { answer_text(id, rx.await) })),
        Err(e) => Entry::Now(error_text(id, &e)),
    }
}

type AnswerRx = tokio::sync::oneshot::Receiver<Result<Ack, Refusal>>;

fn queue(
    s: &Shared,
    (key, secret): (&str, &str),
    command: impl FnOnce(Option<u64>) -> Result<Submission, ApiError>,
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
    Ok(s.sequencer.submit(command(account)?)?)
}

#[cfg(test)]
mod tests {
    //! The one-pass parser (`perpx_wire::trade_message`) against the general path: whatever it
    //! takes, the general path takes too, with the same `id` and the same command; and it
    //! takes every well-formed message the general path takes, bar those that repeat a key.
    use proptest::prelude::*;

    use super::{TradeMessage, for_account_id, general_message};
    use crate::sequencer::Submission;

    const ACCOUNT: u64 = 7;

    /// The general path of `ws::trade_op` and `entry`, past the login and the key's checks:
    /// `None` for a message that is not a trading message; the `id` and the command, or why not.
    fn general(text: &str) -> Option<Result<(u64, String), String>> {
        let (wire_type, mut m) = general_message(text)?;
        let Some(id) = m.remove("id").and_then(|v| v.as_u64()) else { return Some(Err("id".into())) };
        let command = for_account_id(Some(ACCOUNT), wire_type, m)
            .map_err(|e| e.message)
            .and_then(|v| Submission::parse(v).map_err(|r| r.2));
        Some(command.map(|c| (id, format!("{c:?}"))))
    }

    fn one_pass(text: &str) -> Option<(u64, String)> {
        let m = TradeMessage::parse(text)?;
        let id = m.id();
        Some((id, format!("{:?}", Submission::Parsed(m.into_command(ACCOUNT)))))
    }

    /// The messages `perpx bench` sends, and the documented shapes: all taken in one pass.
    #[test]
    fn well_formed_messages_take_the_one_pass_path_to_the_same_command() {
        for text in [
            r#"{"op":"order","id":1,"market":"BTC-PERP","side":"buy","order_type":"limit","price":"86000.5","qty":"0.001"}"#,
            r#"{"op":"order","id":2,"market":"BTC-PERP","side":"sell","order_type":"limit","tif":"ioc","price":"85000","qty":"0.001"}"#,
            r#"{"id":3,"op":"order","market":"ETH-PERP","side":"buy","order_type":"market","qty":"1","client_id":"a\"b","stp":"expire_both","reduce_only":true}"#,
            r#"{"op":"amend","id":4,"market":"BTC-PERP","order_id":12,"price":"86001"}"#,
            r#"{"op":"amend","id":5,"market":"BTC-PERP","client_id":"c1","qty":"0.002","price":null}"#,
            r#"{"op":"cancel","id":6,"market":"BTC-PERP","order_id":12}"#,
            r#"{"op":"cancel_all","id":7,"market":"BTC-PERP"}"#,
            r#" { "op" : "cancel_all" , "id" : 8 } "#,
        ] {
            let fast = one_pass(text).unwrap_or_else(|| panic!("not taken in one pass: {text}"));
            assert_eq!(general(text), Some(Ok(fast)), "{text}");
        }
    }

    /// What the one-pass parser leaves to the general path, which answers it precisely.
    #[test]
    fn anything_doubtful_is_left_to_the_general_path() {
        for text in [
            r#"{"op":"order","market":"BTC-PERP","side":"buy","order_type":"limit","price":"1","qty":"1"}"#, // no id
            r#"{"op":"order","id":-1,"market":"BTC-PERP","side":"buy","order_type":"limit","price":"1","qty":"1"}"#,
            r#"{"op":"order","id":1,"account":9,"market":"BTC-PERP","side":"buy","order_type":"limit","qty":"1"}"#,
            r#"{"op":"order","id":1,"type":"place_order","market":"BTC-PERP","side":"buy","order_type":"market","qty":"1"}"#,
            r#"{"op":"order","id":1,"ts":5,"market":"BTC-PERP","side":"buy","order_type":"market","qty":"1"}"#,
            r#"{"op":"order","id":1,"market":"BTC-PERP","market":"ETH-PERP","side":"buy","order_type":"market","qty":"1"}"#,
            r#"{"op":"ord\u0065r","id":1,"market":"BTC-PERP","side":"buy","order_type":"market","qty":"1"}"#,
            r#"{"op":"order","id":1,"market":"BTC-PERP","side":"buy","order_type":"limit","price":86000,"qty":"1"}"#,
            r#"{"op":"cancel","id":1,"market":"BTC-PERP","price":"1"}"#,
            r#"{"op":"subscribe","channel":"trades","market":"BTC-PERP"}"#,
            r#"{"op":"order","id":1,"market":"BTC-PERP","side":"buy","order_type":"market","qty":"1"} x"#,
            // The op read off the message's start: the rest must still be the op's message.
            r#"{"op":"order","op":"cancel","id":1,"market":"BTC-PERP","order_id":5}"#,
            r#"{"op":"cancel","id":1,"market":"BTC-PERP","side":"buy","order_type":"market","qty":"1"}"#,
            r#"{"op":"ord\"er","id":1,"market":"BTC-PERP","side":"buy","order_type":"market","qty":"1"}"#,
            r#"{"op":"cancel_all","id":1,"#,
            r#"{"op":"cancel_all"}"#,
        ] {
            assert!(one_pass(text).is_none(), "taken in one pass: {text}");
        }
        // The escaped op and the repeated key are well-formed for the general path, which takes them.
        assert!(matches!(
            general(r#"{"op":"ord\u0065r","id":1,"market":"BTC-PERP","side":"buy","order_type":"market","qty":"1"}"#),
            Some(Ok(_))
        ));
    }

    /// A field of a trading message: a name and a JSON value, some of the wrong type.
    fn field() -> impl Strategy<Value = (&'static str, &'static str)> {
        prop::sample::select(vec![
            ("market", r#""BTC-PERP""#),
            ("market", "5"),
            ("market", "null"),
            ("side", r#""buy""#),
            ("side", r#""sell""#),
            ("side", r#""BUY""#),
            ("order_type", r#""limit""#),
            ("order_type", r#""market""#),
            ("order_type", r#""stop""#),
            ("price", r#""86000.5""#),
            ("price", "86000"),
            ("price", "null"),
            ("qty", r#""0.001""#),
            ("qty", r#""x""#),
            ("qty", "1"),
            ("tif", r#""gtc""#),
            ("tif", r#""post_only""#),
            ("tif", r#""day""#),
            ("tif", "null"),
            ("client_id", r#""a\"b""#),
            ("client_id", "7"),
            ("client_id", "null"),
            ("stp", r#""expire_maker""#),
            ("stp", r#""none""#),
            ("reduce_only", "true"),
            ("reduce_only", "null"),
            ("reduce_only", r#""true""#),
            ("order_id", "5"),
            ("order_id", r#""5""#),
            ("order_id", "-3"),
            ("order_id", "null"),
            ("account", "9"),
            ("type", r#""place_order""#),
            ("ts", "1"),
            ("extra", r#""x""#),
        ])
    }

    fn message() -> impl Strategy<Value = (String, bool)> {
        // Most messages start from an op's well-formed fields (few random ones are well-formed);
        // some from another op's, or from nothing.
        let op_and_base = prop::sample::select(vec![
            (
                r#""order""#,
                vec![
                    ("market", r#""BTC-PERP""#),
                    ("side", r#""buy""#),
                    ("order_type", r#""limit""#),
                    ("qty", r#""0.001""#),
                ],
            ),
            (
                r#""order""#,
                vec![
                    ("market", r#""BTC-PERP""#),
                    ("side", r#""sell""#),
                    ("order_type", r#""market""#),
                    ("qty", r#""1""#),
                ],
            ),
            (r#""amend""#, vec![("market", r#""BTC-PERP""#), ("order_id", "5"), ("price", r#""86000.5""#)]),
            (r#""cancel""#, vec![("market", r#""BTC-PERP""#), ("order_id", "5")]),
            (r#""cancel""#, vec![("market", r#""BTC-PERP""#), ("client_id", r#""c1""#)]),
            (r#""cancel_all""#, vec![("market", r#""BTC-PERP""#)]),
            (r#""cancel_all""#, vec![]),
            (
                r#""cancel""#,
                vec![
                    ("market", r#""BTC-PERP""#),
                    ("side", r#""buy""#),
                    ("order_type", r#""limit""#),
                    ("qty", r#""1""#),
                ],
            ),
            (r#""order""#, vec![("market", r#""BTC-PERP""#)]),
            (r#""subscribe""#, vec![("market", r#""BTC-PERP""#)]),
            ("3", vec![]),
        ]);
        let id = prop_oneof![
            3 => (0_u64..=u64::MAX).prop_map(|id| Some(id.to_string())),
            1 => prop::sample::select(vec![Some("-1".to_owned()), Some("1.5".to_owned()), Some(r#""7""#.to_owned()), Some("null".to_owned()), None]),
        ];
        (op_and_base, id, prop::collection::vec(field(), 0..4))
            .prop_map(|((op, base), id, more)| {
                let mut fields: Vec<(&str, String)> =
                    base.into_iter().chain(more).chain([("op", op)]).map(|(n, v)| (n, v.to_owned())).collect();
                fields.extend(id.map(|id| ("id", id)));
                fields
            })
            // The op and the id anywhere among the fields.
            .prop_flat_map(|fields| Just(fields).prop_shuffle())
            .prop_map(|fields| {
                let mut names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                names.sort_unstable();
                let repeats = names.windows(2).any(|w| w[0] == w[1]);
                let body: Vec<String> = fields.iter().map(|(n, v)| format!(r#""{n}":{v}"#)).collect();
                (format!("{{{}}}", body.join(",")), repeats)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_one_pass_parser_takes_what_the_general_path_takes_to_the_same_command((text, repeats) in message()) {
            let fast = one_pass(&text);
            let slow = general(&text);
            match (&fast, &slow) {
                (Some(f), s) => prop_assert_eq!(s, &Some(Ok(f.clone())), "{}", text),
                (None, Some(Ok(_))) => prop_assert!(repeats, "left to the general path, which took it: {}", text),
                (None, _) => {}
            }
        }
    }
}
