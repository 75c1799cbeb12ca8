//! The native WebSocket's trading messages, `{"op": "order" | "amend" | "cancel" |
//! "cancel_all", "id": N, ...}` with the fields of the REST endpoint's body, parsed straight
//! from their text into the command they carry.
//!
//! **Why a second parser.** The general path reads a message into a `serde_json::Value` (a map
//! node and a string for every field), adds the command's `type` and `account`, and decodes
//! that map into the command through serde's internally tagged enum, which buffers every field
//! once more. On the server's gateway threads that was the largest part of an order message's
//! parsing (`perf`, docs/PERFORMANCE.md "Session 15"). Here the text is read once into a struct
//! of exactly the op's fields (twice when `op` is not its first field: once for the op).
//!
//! **The same answer.** [`TradeMessage::parse`] takes only what it can read without doubt: a
//! JSON object whose `op` is one of the four, with a `u64` `id` and exactly the op's fields,
//! each of the type the general path wants, each once. Anything else — a missing or malformed
//! field, an unknown one (`account`, `type`, `ts` included), a repeated key, an escaped `op` —
//! gives `None`, and the caller takes the general path, which gives the precise error. For
//! what it takes, the command is the one the general path makes (tested on random messages in
//! the server, `api::ws_trade`).

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::command::{ParsedCommand, WireKind, WireOrderType, WireSide, WireStp, WireTif};

/// A well-formed trading message: its `id` and its command, waiting for the account the
/// connection acts for.
#[derive(Debug, Clone)]
pub struct TradeMessage {
    id: u64,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Order(Order),
    Amend(Amend),
    Cancel(Cancel),
    CancelAll(CancelAll),
}

/// The message's `op` alone (its other fields skipped unread).
#[derive(Deserialize)]
struct Op<'a> {
    op: &'a str,
}

/// `op` is read by [`leading_op`] or [`Op`]; each struct below names it only so that it is not
/// an unknown field. The structs repeat the fields of their `WireKind` variant, less `account`,
/// rather than share them: serde's `flatten` can't be combined with `deny_unknown_fields`. The
/// server's property test (`api::ws_trade`) holds the two to the same commands.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Order {
    #[serde(rename = "op")]
    _op: IgnoredAny,
    id: u64,
    market: String,
    side: WireSide,
    order_type: WireOrderType,
    #[serde(default)]
    price: Option<String>,
    qty: String,
    #[serde(default)]
    tif: Option<WireTif>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    stp: Option<WireStp>,
    #[serde(default)]
    reduce_only: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Amend {
    #[serde(rename = "op")]
    _op: IgnoredAny,
    id: u64,
    market: String,
    #[serde(default)]
    order_id: Option<u64>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    qty: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cancel {
    #[serde(rename = "op")]
    _op: IgnoredAny,
    id: u64,
    market: String,
    #[serde(default)]
    order_id: Option<u64>,
    #[serde(default)]
    client_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelAll {
    #[serde(rename = "op")]
    _op: IgnoredAny,
    id: u64,
    #[serde(default)]
    market: Option<String>,
}

/// The `op` of a message that begins `{"op":"`, read off the text: a third of the parse when
/// read by a pass of its own (callgrind, docs/PERFORMANCE.md "Session 15"), and how clients
/// write it (`perpx bench`, the docs' examples). The op's struct then reads the whole message,
/// so a message malformed after this prefix is still refused; a repeated `op` is refused as a
/// repeated field. `None` (read by [`Op`] instead) for any other start, and for an op with an
/// escape in it.
fn leading_op(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"op":""#)?;
    let op = &rest[..rest.find('"')?];
    (!op.contains('\\')).then_some(op)
}

impl TradeMessage {
    /// The message in `text`, if it is a well-formed trading message (see the module docs);
    /// `None` sends the caller to the general path.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let op = match leading_op(text) {
            Some(op) => op,
            None => serde_json::from_str::<Op<'_>>(text).ok()?.op,
        };
        let (id, body) = match op {
            "order" => serde_json::from_str::<Order>(text).ok().map(|o| (o.id, Body::Order(o)))?,
            "amend" => serde_json::from_str::<Amend>(text).ok().map(|a| (a.id, Body::Amend(a)))?,
            "cancel" => serde_json::from_str::<Cancel>(text).ok().map(|c| (c.id, Body::Cancel(c)))?,
            "cancel_all" => serde_json::from_str::<CancelAll>(text).ok().map(|c| (c.id, Body::CancelAll(c)))?,
            _ => return None,
        };
        Some(Self { id, body })
    }

    /// The client's `id` for the message, which its answer repeats.
    #[must_use]
    pub const fn id(&self) -> u64 {
        self.id
    }

    /// The command it carries, for `account` (the connection's, never the message's).
    #[must_use]
    pub fn into_command(self, account: u64) -> ParsedCommand {
        ParsedCommand::from_kind(match self.body {
            Body::Order(o) => WireKind::PlaceOrder {
                account,
                market: o.market,
                side: o.side,
                order_type: o.order_type,
                price: o.price,
                qty: o.qty,
                tif: o.tif,
                client_id: o.client_id,
                stp: o.stp,
                reduce_only: o.reduce_only,
            },
            Body::Amend(a) => WireKind::AmendOrder {
                account,
                market: a.market,
                order_id: a.order_id,
                client_id: a.client_id,
                price: a.price,
                qty: a.qty,
            },
            Body::Cancel(c) => {
                WireKind::CancelOrder { account, market: c.market, order_id: c.order_id, client_id: c.client_id }
            }
            Body::CancelAll(c) => WireKind::CancelAll { account, market: c.market },
        })
    }
}
