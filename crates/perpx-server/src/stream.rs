//! What the engine thread publishes once a batch is durable: every command's events (in the
//! JSON of `docs/REPLAY.md`, with the accounts and market each concerns) and the book changes
//! it caused, for the WebSocket channels (`api/ws.rs`).
//!
//! **Book diffs.** After each command that touched a market, the engine thread compares the
//! market's top [`BOOK_DEPTH`] levels a side with those it last published and sends the levels
//! that changed (`"0"` size: the level is gone), stamped with the command's sequence number and
//! the sequence number of the previous book message for that market (`prev_seq`). A client
//! applies a diff only if its `prev_seq` is the last it applied (or, right after a snapshot
//! taken at sequence `S`, is at most `S`); otherwise it missed one and resyncs.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use perpx_core::book::Side;
use perpx_core::{AccountId, Engine, Event, MarketId};
use perpx_wire::units::{format_price, format_qty};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Levels a side the book channel follows.
pub const BOOK_DEPTH: usize = 50;

/// An event's JSON, encoded once on the engine thread as text and parsed into a [`Value`] only
/// when a consumer looks inside it (a channel filtering by type, the Binance layer, the history
/// writer): at most once, on the consumer's thread. A WebSocket ack sends the text as it is.
///
/// Why: building a `Value` (a map per event, a string per field) was a quarter of the engine
/// thread's time under load (`perf`, docs/PERFORMANCE.md "Server under load"); writing text is
/// a few times cheaper, and most answers never need the parsed form.
#[derive(Debug)]
pub struct EventJson {
    raw: Box<RawValue>,
    value: OnceLock<Value>,
}

impl EventJson {
    /// Encodes `line`. `to_raw_value` keeps the text serde_json wrote as it is, where
    /// `RawValue::from_string` parsed it again to check it: about 7 % of the engine thread under
    /// load (`perf`, docs/PERFORMANCE.md "Server under load", session 6).
    #[must_use]
    pub fn new(line: &perpx_wire::event::EventLine) -> Self {
        let raw = serde_json::value::to_raw_value(line).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Self { raw, value: OnceLock::new() }
    }

    /// The JSON text.
    #[must_use]
    pub fn raw(&self) -> &str {
        self.raw.get()
    }

    /// The parsed form (parsed on first use).
    #[must_use]
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| serde_json::from_str(self.raw.get()).unwrap_or(Value::Null))
    }
}

impl std::ops::Deref for EventJson {
    type Target = Value;
    fn deref(&self) -> &Value {
        self.value()
    }
}

impl std::fmt::Display for EventJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.raw.get())
    }
}

impl serde::Serialize for EventJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

/// One published event.
#[derive(Debug, Clone)]
pub struct PublishedEvent {
    /// Its JSON form, shared with the command's answer (encoded once, never copied).
    pub json: Arc<EventJson>,
    /// The accounts it concerns.
    pub accounts: Vec<AccountId>,
    /// Its market's symbol, if it has one.
    pub market: Option<String>,
}

impl PublishedEvent {
    /// `e` in its JSON form, against the engine state right after its command (`market`: the
    /// command's, to format a rejection's figures).
    #[must_use]
    pub fn encode(e: &Event, engine: &Engine, market: Option<MarketId>) -> Self {
        Self {
            json: Arc::new(EventJson::new(&perpx_wire::event::encode_event(e, engine, market))),
            accounts: perpx_wire::routing::event_accounts(&e.kind),
            market: perpx_wire::routing::event_market(&e.kind)
                .and_then(|m| engine.market(m))
                .map(|m| m.spec.symbol.clone()),
        }
    }
}

/// One command's output, published once durable.
#[derive(Debug, Clone)]
pub struct Published {
    /// The command's sequence number.
    pub seq: u64,
    /// When its batch became durable (for the durable → sent delay metric).
    pub durable_at: Instant,
    /// Its events.
    pub events: Vec<PublishedEvent>,
    /// Book diffs it caused, one per market.
    pub book: Vec<Value>,
    /// Its journal record's hash (hex), when journaled.
    pub record_hash: Option<String>,
}

type Levels = Vec<(i64, i64)>;

/// The engine thread's memory of what each book looked like when last published.
#[derive(Debug, Default)]
pub struct BookTracker {
    last: HashMap<MarketId, (Levels, Levels, u64)>,
}

fn top(engine: &Engine, market: MarketId, side: Side) -> Levels {
    engine
        .market(market)
        .map_or_else(Vec::new, |m| m.book.levels(side).take(BOOK_DEPTH).map(|(p, l)| (p.0, l.total.0)).collect())
}

fn diff(old: &Levels, new: &Levels) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = new.iter().filter(|l| !old.contains(l)).copied().collect();
    out.extend(old.iter().filter(|(p, _)| !new.iter().any(|(q, _)| q == p)).map(|(p, _)| (*p, 0)));
    out
}

impl BookTracker {
    /// The book diffs of the markets `events` touched, after the command with sequence `seq`.
    pub fn diffs(&mut self, engine: &Engine, seq: u64, events: &[Event]) -> Vec<Value> {
        let mut markets: Vec<MarketId> =
            events.iter().filter_map(|e| perpx_wire::routing::event_market(&e.kind)).collect();
        markets.sort_unstable();
        markets.dedup();
        let mut out = Vec::new();
        for id in markets {
            let Some(m) = engine.market(id) else { continue };
            let (bids, asks) = (top(engine, id, Side::Buy), top(engine, id, Side::Sell));
            let entry = self.last.entry(id).or_insert_with(|| (Vec::new(), Vec::new(), 0));
            let (db, da) = (diff(&entry.0, &bids), diff(&entry.1, &asks));
            if db.is_empty() && da.is_empty() {
                continue;
            }
            let fmt = |levels: Vec<(i64, i64)>| -> Vec<Value> {
                levels
                    .into_iter()
                    .map(|(p, q)| json!([format_price(m, perpx_core::Price(p)), format_qty(m, perpx_core::Qty(q))]))
                    .collect()
            };
            out.push(json!({
                "channel": "book", "market": m.spec.symbol, "seq": seq, "prev_seq": entry.2,
                "bids": fmt(db), "asks": fmt(da),
            }));
            *entry = (bids, asks, seq);
        }
        out
    }
}

/// A book snapshot for a new subscriber: the top levels at the engine's current sequence.
#[must_use]
pub fn book_snapshot(engine: &Engine, market: MarketId) -> Value {
    let Some(m) = engine.market(market) else { return Value::Null };
    let side = |s| -> Vec<Value> {
        m.book.levels(s).take(BOOK_DEPTH).map(|(p, l)| json!([format_price(m, p), format_qty(m, l.total)])).collect()
    };
    json!({ "channel": "book", "type": "snapshot", "market": m.spec.symbol, "seq": engine.seq(),
            "bids": side(Side::Buy), "asks": side(Side::Sell) })
}
