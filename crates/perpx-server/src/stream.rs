//! What the engine thread publishes once a batch is durable: every command's events (encoded to
//! the JSON of `docs/REPLAY.md` by their first reader, with the accounts and market each
//! concerns) and the book changes it caused, for the WebSocket channels (`api/ws.rs`).
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

use perpx_core::Decimal;
use perpx_core::book::Side;
use perpx_core::market::MarketSpec;
use perpx_core::{AccountId, Engine, Event, EventKind, MarketId};
use perpx_wire::units::{format_price, format_qty, format_units};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Levels a side the book channel follows.
pub const BOOK_DEPTH: usize = 50;

/// An event's JSON, encoded once as text (by the first consumer that asks, on its thread:
/// [`PublishedEvent::json`]) and parsed into a [`Value`] only when a consumer looks inside it
/// (a channel rewriting it, the Binance layer): at most once. A WebSocket ack sends the text as
/// it is.
///
/// Why: building a `Value` (a map per event, a string per field) was a quarter of the engine
/// thread's time under load (`perf`, docs/PERFORMANCE.md "Server under load"); writing text is
/// a few times cheaper, and most answers never need the parsed form.
#[derive(Debug)]
pub struct EventJson {
    text: Box<str>,
    raw: OnceLock<Box<RawValue>>,
    value: OnceLock<Value>,
}

impl EventJson {
    /// Wraps `text`, an event's JSON as `perpx_wire::event::write_event` writes it (so valid
    /// JSON, not checked again: a check is a parse, about 7 % of the engine thread under load
    /// when it was done here; docs/PERFORMANCE.md "Server under load", session 6).
    #[must_use]
    pub fn new(text: String) -> Self {
        Self { text: text.into_boxed_str(), raw: OnceLock::new(), value: OnceLock::new() }
    }

    /// The JSON text.
    #[must_use]
    pub fn raw(&self) -> &str {
        &self.text
    }

    /// The event's text with `fields` (`"key":value` pairs, already JSON) put before its own:
    /// a channel's message (`{"channel":"account",…}`) made without parsing the event and
    /// writing it again. Parsing every notice into a `Value` to add two fields was most of the
    /// gateway's notice forwarding (`perf`, docs/PERFORMANCE.md "Session 9"). The event's own
    /// fields never use the names the channels add (`channel`, `head_seq`, `head_hash`).
    #[must_use]
    pub fn with_leading_fields(&self, fields: &str) -> String {
        let raw = self.raw();
        let rest = raw.strip_prefix('{').expect("an event is a JSON object");
        let mut out = String::with_capacity(raw.len() + fields.len() + 2);
        out.push('{');
        out.push_str(fields);
        if rest != "}" {
            out.push(',');
        }
        out.push_str(rest);
        out
    }

    /// The parsed form (parsed on first use).
    #[must_use]
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| serde_json::from_str(&self.text).unwrap_or(Value::Null))
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
        f.write_str(&self.text)
    }
}

/// Serialized as its text, unchanged. Only the answers built with serde (REST, history) take
/// this path; it checks the text once, on first use, as serde_json's `RawValue` requires. The
/// WebSocket ack writes the text as it is (`api::ws_trade`).
impl serde::Serialize for EventJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = self
            .raw
            .get_or_init(|| RawValue::from_string(self.text.to_string()).unwrap_or_else(|_| RawValue::NULL.to_owned()));
        raw.serialize(s)
    }
}

/// The market specifications a publication's events are encoded with: a copy the engine
/// thread takes when the number of markets changes. A copy encodes exactly as the engine would,
/// as the fields an event's text reads are fixed when a market is created
/// (`perpx_wire::event::MarketSpecs`).
pub type Specs = Arc<[MarketSpec]>;

/// Takes a new copy of the market specifications when a market was created (see [`Specs`]).
pub(crate) fn refresh_specs(specs: &mut Specs, engine: &Engine) {
    if specs.len() != engine.markets().len() {
        *specs = engine.markets().iter().map(|m| m.spec.clone()).collect();
    }
}

/// One published event: the engine's event, encoded to JSON when a consumer first asks for it.
///
/// Why not on the engine thread: encoding the events was 61 % of the engine thread's
/// instructions under load (docs/PERFORMANCE.md, "Session 8"), and the engine thread is the one
/// thread every command goes through. A consumer (a WebSocket connection, an answer, the history
/// writer) encodes an event on its own thread, once for all consumers; an event nobody reads —
/// the funding payment of an account with no connection — is never encoded. Consumers choosing
/// events read [`PublishedEvent::kind`], [`PublishedEvent::market`] and
/// [`PublishedEvent::accounts`] without encoding anything.
#[derive(Debug)]
pub struct PublishedEvent {
    event: Event,
    specs: Specs,
    /// The market the command named, to format a rejection's figures.
    command_market: Option<MarketId>,
    json: OnceLock<EventJson>,
    accounts: OnceLock<Vec<AccountId>>,
}

impl PublishedEvent {
    /// `event`, to be encoded against `specs` (`command_market`: the command's, to format a
    /// rejection's figures).
    #[must_use]
    pub fn new(event: Event, specs: &Specs, command_market: Option<MarketId>) -> Self {
        Self { event, specs: Arc::clone(specs), command_market, json: OnceLock::new(), accounts: OnceLock::new() }
    }

    /// A command's events as they are published: a funding batch as one notice a position
    /// (`Event::into_notices`), every other event as itself.
    ///
    /// On the engine thread, after every command, so a command without a batch (all but a
    /// settlement's) is wrapped exactly as before batches existed, one `map` and `collect`.
    /// Measured (callgrind on the `engine_thread` bench): expanding every command's events
    /// through `flat_map(Event::into_notices)` cost 8.5 % more of that thread's instructions,
    /// and a loop pushing each event 2.8 % more (docs/PERFORMANCE.md, "Funding, session 22").
    #[must_use]
    pub fn all(events: Vec<Event>, specs: &Specs, command_market: Option<MarketId>) -> Vec<Self> {
        let wrap = |e: Event| Self::new(e, specs, command_market);
        if events.iter().any(|e| matches!(e.kind, EventKind::FundingPayments { .. })) {
            events.into_iter().flat_map(Event::into_notices).map(wrap).collect()
        } else {
            events.into_iter().map(wrap).collect()
        }
    }

    /// The engine's event.
    #[must_use]
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Its JSON form (`docs/REPLAY.md`), encoded on first use.
    pub fn json(&self) -> &EventJson {
        self.json.get_or_init(|| {
            EventJson::new(perpx_wire::event::event_text(&self.event, &*self.specs, self.command_market))
        })
    }

    /// Its JSON `type` (`fill`, `mark_price`, …), without encoding it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        perpx_wire::event::wire_type(&self.event.kind)
    }

    /// Its market's symbol, if it has one.
    #[must_use]
    pub fn market(&self) -> Option<&str> {
        let id = perpx_wire::routing::event_market(&self.event.kind)?;
        self.specs.get(id.index()).map(|s| s.symbol.as_str())
    }

    /// The accounts it concerns.
    pub fn accounts(&self) -> &[AccountId] {
        self.accounts.get_or_init(|| perpx_wire::routing::event_accounts(&self.event.kind))
    }
}

/// A command's events, serialized as a JSON array of their encoded text.
#[derive(Debug, Clone, Copy)]
pub struct EventsJson<'a>(pub &'a [PublishedEvent]);

impl<'a> EventsJson<'a> {
    /// The events in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a EventJson> + 'a {
        self.0.iter().map(PublishedEvent::json)
    }
}

impl serde::Serialize for EventsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One command's output, published once durable.
#[derive(Debug)]
pub struct Published {
    /// The command's sequence number.
    pub seq: u64,
    /// When its batch became durable (for the durable → sent delay metric).
    pub durable_at: Instant,
    /// Its events.
    pub events: Vec<PublishedEvent>,
    /// Book diffs it caused, one per market.
    pub book: Vec<BookDiff>,
    /// The journal head that made it durable, when journaled.
    pub head: Option<DurableHead>,
}

/// The journal's durable head after a group commit: the last record of the commit that closed
/// the batch and the commit's hash. It commits to every command of the batch (and all before):
/// the receipt a client keeps, and the head `perpx proof` proves a command against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableHead {
    /// The head's sequence number: the commit's last record.
    pub seq: u64,
    /// The commit's hash, as hex.
    pub hash: HashHex,
}

/// A journal hash as the lower-case hex that answers and streams show, written into a fixed
/// buffer on the engine thread (once a group commit). Why not `hex::encode`: collecting 64
/// `char`s into a `String` was 12 % of the engine thread's instructions when it ran once a
/// command (callgrind on `benches/engine_thread.rs`, docs/PERFORMANCE.md "Session 9").
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashHex([u8; 64]);

impl HashHex {
    /// The hex of `hash`.
    #[must_use]
    pub fn new(hash: &[u8; 32]) -> Self {
        Self(perpx_journal::record::hex_digits(hash))
    }

    /// The 64 hex digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl std::fmt::Debug for HashHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for HashHex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

type Levels = Vec<(i64, i64)>;

/// What a market's book looked like when last published.
#[derive(Debug, Default)]
struct LastBook {
    /// The market's symbol, shared by its diffs (a count, not a copy, per diff).
    symbol: Option<Arc<str>>,
    bids: Levels,
    asks: Levels,
    seq: u64,
    /// The book's change counts (`Book::side_changes`, `[bids, asks]`) when `bids` and `asks`
    /// were read; `None` before the first read.
    read_at: Option<[u64; 2]>,
}

/// The engine thread's memory of what each book looked like when last published.
#[derive(Debug, Default)]
pub struct BookTracker {
    last: HashMap<MarketId, LastBook>,
    /// The top levels just read, reused from command to command (this runs after every command
    /// that touched a market, so it allocates nothing unless the book changed).
    bids: Levels,
    asks: Levels,
    /// The markets a command's events name, and the levels a diff found gone: scratch space
    /// kept from command to command, so that a command allocates only the diffs it publishes.
    markets: Vec<MarketId>,
    gone: Levels,
}

/// Reads `market`'s top [`BOOK_DEPTH`] levels of `side` into `out`, in priority order.
fn top_into(m: &perpx_core::market::Market, side: Side, out: &mut Levels) {
    out.clear();
    out.extend(m.book.levels(side).take(BOOK_DEPTH).map(|(p, l)| (p.0, l.total.0)));
}

/// The levels that differ between `old` and `new`, both in the side's priority order
/// (`ahead(a, b)`: price `a` comes before price `b`): first each level of `new` that is new or
/// resized, with its size, then each level of `old` gone from `new`, with size 0.
///
/// One merge walk over the two sorted lists: linear, where comparing every level with every
/// other took up to 2 × 50 × 50 comparisons a command on a full book. `gone` is scratch space.
fn diff(old: &Levels, new: &Levels, ahead: fn(i64, i64) -> bool, gone: &mut Levels) -> Vec<(i64, i64)> {
    let mut changed = Vec::new();
    gone.clear();
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        let ((po, qo), (pn, qn)) = (old[i], new[j]);
        if po == pn {
            if qo != qn {
                changed.push((pn, qn));
            }
            i += 1;
            j += 1;
        } else if ahead(pn, po) {
            changed.push((pn, qn));
            j += 1;
        } else {
            gone.push((po, 0));
            i += 1;
        }
    }
    changed.extend_from_slice(&new[j..]);
    gone.extend(old[i..].iter().map(|(p, _)| (*p, 0)));
    changed.extend_from_slice(gone);
    changed
}

/// Bids come in descending price order.
fn bid_ahead(a: i64, b: i64) -> bool {
    a > b
}

/// Asks come in ascending price order.
fn ask_ahead(a: i64, b: i64) -> bool {
    a < b
}

/// One market's book change after a command: the levels that changed, in units. Formatted into
/// the book channel's JSON only when a channel sends it, on the consumer's thread and at most
/// once: with nobody following the book, no JSON is made at all (building it on the engine
/// thread after every command was a tenth of that thread's time, docs/PERFORMANCE.md
/// "Session 8").
#[derive(Debug)]
pub struct BookDiff {
    /// The market's symbol.
    pub market: Arc<str>,
    /// The sequence number of the command that changed the book.
    pub seq: u64,
    /// The sequence number of the market's previous book message (0: none).
    pub prev_seq: u64,
    tick: Decimal,
    lot: Decimal,
    /// Changed bid levels (price, size in units; size 0: the level is gone).
    bids: Levels,
    /// Changed ask levels.
    asks: Levels,
    json: OnceLock<Value>,
}

impl BookDiff {
    /// The book channel's message: `{"channel": "book", "market", "seq", "prev_seq", "bids",
    /// "asks"}`, each level `[price, size]` as decimal strings.
    pub fn json(&self) -> &Value {
        self.json.get_or_init(|| {
            let fmt = |levels: &Levels| -> Vec<Value> {
                levels.iter().map(|(p, q)| json!([format_units(*p, self.tick), format_units(*q, self.lot)])).collect()
            };
            json!({
                "channel": "book", "market": self.market, "seq": self.seq, "prev_seq": self.prev_seq,
                "bids": fmt(&self.bids), "asks": fmt(&self.asks),
            })
        })
    }
}

impl BookTracker {
    /// The book diffs of the markets `events` touched, after the command with sequence `seq`.
    pub fn diffs(&mut self, engine: &Engine, seq: u64, events: &[Event]) -> Vec<BookDiff> {
        let Self { last: published, bids, asks, markets, gone } = self;
        markets.clear();
        markets.extend(events.iter().filter_map(|e| perpx_wire::routing::event_market(&e.kind)));
        markets.sort_unstable();
        markets.dedup();
        let mut out = Vec::new();
        for &id in markets.iter() {
            let Some(m) = engine.market(id) else { continue };
            let last = published.entry(id).or_default();
            // A side the command did not change (the same change count as at the last read)
            // keeps its levels, and is neither re-read nor compared: an order that rests, a
            // cancel or an amend that does not trade changes one side (measured:
            // docs/PERFORMANCE.md, "Session 13").
            let now = [m.book.side_changes(Side::Buy), m.book.side_changes(Side::Sell)];
            let moved = |s: usize| last.read_at.is_none_or(|at| at[s] != now[s]);
            let (bids_moved, asks_moved) = (moved(0), moved(1));
            last.read_at = Some(now);
            if bids_moved {
                top_into(m, Side::Buy, bids);
            }
            if asks_moved {
                top_into(m, Side::Sell, asks);
            }
            let bids_differ = bids_moved && last.bids != *bids;
            let asks_differ = asks_moved && last.asks != *asks;
            if !bids_differ && !asks_differ {
                continue;
            }
            let symbol = last.symbol.get_or_insert_with(|| Arc::from(m.spec.symbol.as_str()));
            out.push(BookDiff {
                market: Arc::clone(symbol),
                seq,
                prev_seq: last.seq,
                tick: m.spec.tick_size,
                lot: m.spec.lot_size,
                bids: if bids_differ { diff(&last.bids, bids, bid_ahead, gone) } else { Levels::new() },
                asks: if asks_differ { diff(&last.asks, asks, ask_ahead, gone) } else { Levels::new() },
                json: OnceLock::new(),
            });
            if bids_differ {
                std::mem::swap(&mut last.bids, bids);
            }
            if asks_differ {
                std::mem::swap(&mut last.asks, asks);
            }
            last.seq = seq;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::borrow::Cow;

    /// The definition the merge walk must match: the levels of `new` not in `old` with the same
    /// size, then the prices of `old` missing from `new`, at size 0.
    fn diff_by_definition(old: &Levels, new: &Levels) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = new.iter().filter(|l| !old.contains(l)).copied().collect();
        out.extend(old.iter().filter(|(p, _)| !new.iter().any(|(q, _)| q == p)).map(|(p, _)| (*p, 0)));
        out
    }

    /// A side's levels: distinct prices in priority order, positive sizes.
    fn side(bids: bool) -> impl Strategy<Value = Levels> {
        proptest::collection::btree_map(0_i64..40, 1_i64..4, 0..12).prop_map(move |m| {
            let mut v: Levels = m.into_iter().collect();
            if bids {
                v.reverse();
            }
            v
        })
    }

    /// A follower that applies every published book diff to its own copy holds, after every
    /// command, exactly the top levels of each side, though the tracker re-reads only the sides
    /// whose change count moved.
    #[test]
    fn a_follower_of_the_diffs_holds_the_top_levels_after_every_command() {
        use std::collections::BTreeMap;
        for seed in [3, 7, 11] {
            let s = perpx_testkit::mixed_stream::generate(seed, 1_500);
            let mut engine = Engine::new(s.engine.clone());
            let mut tracker = BookTracker::default();
            let mut follower: HashMap<MarketId, [BTreeMap<i64, i64>; 2]> = HashMap::new();
            let (mut one_sided, mut diffs_seen) = (0, 0);
            for c in &s.commands {
                let events = engine.apply(c);
                for d in tracker.diffs(&engine, engine.seq(), &events) {
                    let id = engine.market_by_symbol(&d.market).expect("a market of the engine").id;
                    let book = follower.entry(id).or_default();
                    for (side, levels) in [(0, &d.bids), (1, &d.asks)] {
                        for (p, q) in levels {
                            if *q == 0 {
                                book[side].remove(p)
                            } else {
                                book[side].insert(*p, *q)
                            };
                        }
                    }
                    one_sided += usize::from(d.bids.is_empty() != d.asks.is_empty());
                    diffs_seen += 1;
                }
                for (id, book) in &follower {
                    let m = engine.market(*id).expect("a market of the engine");
                    let (mut bids, mut asks) = (Levels::new(), Levels::new());
                    top_into(m, Side::Buy, &mut bids);
                    top_into(m, Side::Sell, &mut asks);
                    let held_bids: Levels = book[0].iter().rev().map(|(p, q)| (*p, *q)).collect();
                    let held_asks: Levels = book[1].iter().map(|(p, q)| (*p, *q)).collect();
                    assert_eq!((held_bids, held_asks), (bids, asks), "seed {seed}, after seq {}", engine.seq());
                }
            }
            assert!(diffs_seen > 200, "seed {seed}: {diffs_seen} diffs");
            assert!(one_sided > 50, "seed {seed}: {one_sided} one-sided diffs");
        }
    }

    /// A published event, encoded on demand against the copied specifications (refreshed as
    /// the stream creates markets), reads exactly as the engine's own encoding right after its
    /// command: the same text, and the type, market and accounts consumers choose by.
    #[test]
    fn a_published_event_encodes_on_demand_as_the_engine_would() {
        for seed in [3, 7] {
            let s = perpx_testkit::mixed_stream::generate(seed, 800);
            let mut engine = Engine::new(s.engine.clone());
            let mut specs: Specs = Arc::new([]);
            let (mut refreshed, mut events_seen, mut funding_payments) = (0, 0, 0);
            for c in &s.commands {
                let events = engine.apply(c);
                let before = Arc::as_ptr(&specs);
                refresh_specs(&mut specs, &engine);
                refreshed += usize::from(!std::ptr::addr_eq(before, Arc::as_ptr(&specs)));
                // Published as delivered: a funding batch as its notices, in order.
                let notices: Vec<Event> = events.iter().flat_map(Event::notices).map(Cow::into_owned).collect();
                let published = PublishedEvent::all(events, &specs, None);
                assert_eq!(published.len(), notices.len(), "seed {seed}");
                for (p, e) in published.into_iter().zip(notices) {
                    assert_eq!(p.event(), &e, "seed {seed}");
                    funding_payments += usize::from(p.kind() == "funding_payment");
                    let want = perpx_wire::event::event_text(&e, &engine, None);
                    let routed = perpx_wire::routing::event_accounts(&e.kind);
                    let market = perpx_wire::routing::event_market(&e.kind)
                        .and_then(|m| engine.market(m))
                        .map(|m| m.spec.symbol.clone());
                    assert_eq!(p.json().raw(), want, "seed {seed}");
                    let v: Value = serde_json::from_str(&want).unwrap();
                    assert_eq!(p.kind(), v["type"], "seed {seed}: {want}");
                    assert_eq!(p.market(), market.as_deref(), "seed {seed}: {want}");
                    assert_eq!(p.accounts(), routed.as_slice());
                    events_seen += 1;
                }
            }
            // The venue's markets at the start, the oracle market mid-stream.
            assert!(refreshed >= 2, "seed {seed}: specs copied {refreshed} times");
            assert!(events_seen > 1_000, "seed {seed}: {events_seen} events");
            assert!(funding_payments > 0, "seed {seed}: no funding payment published");
        }
    }

    #[test]
    fn leading_fields_are_put_before_the_events_own() {
        let event = Event {
            seq: 7,
            ts: perpx_core::Timestamp(1_700_000_000_000),
            kind: perpx_core::EventKind::FundingSkipped { market: MarketId(0), funding_time: perpx_core::Timestamp(5) },
        };
        let e = EventJson::new(perpx_wire::event::event_text(&event, &[perpx_testkit::fixtures::btc_spec()][..], None));
        let text = e.with_leading_fields(r#""channel":"account","head_hash":null"#);
        assert!(text.starts_with(r#"{"channel":"account","head_hash":null,"seq":7,"#), "{text}");
        let mut want = e.value().clone();
        want["channel"] = json!("account");
        want["head_hash"] = Value::Null;
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), want);
    }

    #[test]
    fn a_head_hash_is_written_as_lower_case_hex() {
        let hash: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 8 + 7).unwrap());
        let hex = HashHex::new(&hash);
        assert_eq!(hex.as_str(), hex::encode(hash), "as `hex::encode` wrote it");
        assert_eq!(hex.as_str(), "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
        assert_eq!(serde_json::to_value(Some(hex)).unwrap(), json!(hex.as_str()));
    }

    #[test]
    fn a_diff_names_new_resized_and_gone_levels() {
        let old = vec![(103, 1), (102, 2), (100, 5)];
        let new = vec![(104, 1), (102, 3), (100, 5), (99, 1)];
        assert_eq!(diff(&old, &new, bid_ahead, &mut Vec::new()), vec![(104, 1), (102, 3), (99, 1), (103, 0)]);
        assert_eq!(diff(&old, &old, bid_ahead, &mut Vec::new()), vec![]);
        assert_eq!(diff(&old, &vec![], bid_ahead, &mut vec![(1, 1)]), vec![(103, 0), (102, 0), (100, 0)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_merge_walk_diff_is_the_definition(
            (bids, old, new) in any::<bool>().prop_flat_map(|b| (Just(b), side(b), side(b)))
        ) {
            let ahead = if bids { bid_ahead } else { ask_ahead };
            prop_assert_eq!(diff(&old, &new, ahead, &mut vec![(7, 7)]), diff_by_definition(&old, &new));
        }
    }
}
