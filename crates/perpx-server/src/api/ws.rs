//! WebSocket streams at `/ws`: JSON text frames both ways.
//!
//! Client → server: `{"op": "subscribe", "channel": "book" | "trades" | "ticker", "market": "BTC-PERP"}`,
//! `{"op": "subscribe", "channel": "liquidations"}`, `{"op": "subscribe", "channel": "journal"}` (the
//! durable head, at most once a second), `{"op": "auth", "key", "timestamp",
//! "signature"}` (the REST scheme over `timestamp\nGET\n/ws\n`), then `{"op": "subscribe",
//! "channel": "account"}`; `{"op": "unsubscribe", ...}` likewise.
//!
//! Server → client: a book snapshot then sequenced diffs (see [`crate::stream`]); trades;
//! mark, index and funding; liquidation and ADL events with pseudonymous account ids; on the
//! account channel every event that names the account — order updates, fills with their
//! sequence number, positions, balances, liquidation and ADL notices, funding payments — pushed
//! as soon as the command's batch is durable, before the REST answer leaves.
//!
//! A client that falls behind (`ws_send_buffer` messages still unsent when more arrive: see
//! [`super::send_queue`]; or the publication channel overrun) is closed with code 1008 and a
//! reason; it never slows the engine. The server pings every 20 s and closes a connection
//! silent for 60 s.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::send_queue::send_queue;
use super::{ApiError, Conn, Shared, State, limit_ip, now_ms, ws_trade};
use crate::auth::{signed_bytes, verify};
use crate::keys::Scope;
use crate::stream::{Published, book_snapshot};

pub(super) async fn ws(
    s: State,
    axum::extract::ConnectInfo(addr): Conn,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    limit_ip(&s, addr)?;
    let shared = Arc::clone(&s);
    Ok(super::websocket(upgrade).on_upgrade(move |mut socket| async move {
        // Binance clients open `/ws` too, then send `{"method": "SUBSCRIBE", ...}`: the first
        // message says which protocol the connection speaks.
        // A connection silent for 60 s is closed, as in the session itself.
        let Ok(first) = tokio::time::timeout(Duration::from_secs(60), socket.recv()).await else { return };
        let binance = matches!(&first, Some(Ok(Message::Text(t)))
            if serde_json::from_str::<Value>(t).is_ok_and(|v| v.get("method").is_some() && v.get("op").is_none()));
        if binance {
            super::fapi::ws::session_after(shared, socket, first).await;
        } else {
            session(shared, socket, first).await;
        }
    }))
}

/// What one connection follows.
#[derive(Debug, Default)]
struct Subscriptions {
    /// (channel, market): book diffs after the snapshot's sequence number.
    book: Vec<(String, u64)>,
    trades: BTreeSet<String>,
    ticker: BTreeSet<String>,
    liquidations: bool,
    /// The authenticated account, and whether its channel is on.
    account: Option<u64>,
    /// The key that authenticated the connection and the secret it signed with (trading ops
    /// act for it while it is neither revoked nor rotated: `ws_trade`).
    key: Option<(String, String)>,
    account_channel: bool,
    /// The journal head channel, and when it last sent (once a second at most).
    journal: bool,
    journal_sent: Option<Instant>,
    /// A head held back by the once-a-second limit: sent when the second is up, so the last
    /// head before traffic stops is never lost.
    journal_pending: Option<Value>,
}

impl Subscriptions {
    /// Whether any channel is on.
    fn any(&self) -> bool {
        !self.book.is_empty()
            || !self.trades.is_empty()
            || !self.ticker.is_empty()
            || self.liquidations
            || self.account_channel
            || self.journal
    }
}

/// A pseudonym for an account on public channels: stable for the server's life, not reversible
/// without the server's salt.
pub(crate) fn pseudonym(salt: &[u8; 16], account: u64) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"perpx-pseudonym\0").update(salt).update(&account.to_le_bytes());
    h.finalize().to_hex()[..12].to_owned()
}

fn close_frame(reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code: 1008, reason: Utf8Bytes::from(reason.to_owned()) }))
}

async fn session(s: Arc<Shared>, socket: WebSocket, first: Option<Result<Message, axum::Error>>) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = send_queue(s.config.ws_send_buffer);
    let (close_tx, mut close_rx) = tokio::sync::watch::channel::<Option<String>>(None);
    // The writer: the only task that touches the socket's sink. On a cut-off it skips what is
    // still queued and sends the close frame next (after the message in flight, if the client's
    // buffers are full: a half-written frame can't be taken back).
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                _ = close_rx.changed() => break,
                m = out_rx.recv() => match m {
                    Some(first) => {
                        if out_rx.write_burst(&mut sink, first).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
            }
        }
        let reason = close_rx.borrow().clone();
        if let Some(reason) = reason {
            let close = sink.send(close_frame(&reason));
            drop(tokio::time::timeout(Duration::from_secs(10), close).await);
        }
        drop(tokio::time::timeout(Duration::from_secs(1), sink.close()).await);
    });
    // Subscribed to the publications at the first `subscribe`: a connection that only trades
    // is never woken by them, and can't be cut off for lagging behind streams it doesn't read.
    let mut published: Option<tokio::sync::broadcast::Receiver<crate::sequencer::PublishedBatch>> = None;
    let mut subs = Subscriptions::default();
    let mut last_seen = Instant::now();
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    let mut journal_tick = tokio::time::interval(Duration::from_millis(250));
    s.ws.connections.fetch_add(1, Ordering::Relaxed);
    let mut first = Some(first);
    // Trading commands queued or waiting for their commit (`ws_trade`).
    let mut in_flight: FuturesOrdered<Pin<Box<dyn Future<Output = String> + Send>>> = FuturesOrdered::new();
    let in_flight_max = s.config.ws_in_flight_max();
    let reason = loop {
        tokio::select! {
            // At the in-flight limit the socket is not read until answers go out.
            msg = async { match first.take() { Some(m) => m, None => stream.next().await } },
                if in_flight.len() < in_flight_max => {
                let Some(Ok(msg)) = msg else { break None };
                last_seen = Instant::now();
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(_) => break None,
                    _ => continue,
                };
                match trade_op(&s, &subs, &text) {
                    Some(ws_trade::Entry::Later(answer)) => in_flight.push_back(answer),
                    // Behind the answers still waiting: every trading answer goes out in the
                    // order its message came in.
                    Some(ws_trade::Entry::Now(reply)) => in_flight.push_back(Box::pin(std::future::ready(reply))),
                    None => {
                        // Before the op runs: a book snapshot must not miss a diff.
                        if published.is_none() && text.contains("subscribe") {
                            published = Some(s.sequencer.published.subscribe());
                        }
                        let replies = handle_op(&s, &mut subs, &text).await;
                        if let Err(slow) = out.push(replies.iter().map(|r| Message::Text(r.to_string().into())).collect()) {
                            break Some(slow.to_string());
                        }
                    }
                }
            }
            Some(reply) = in_flight.next(), if !in_flight.is_empty() => {
                if let Err(slow) = out.push_one(Message::Text(reply.into())) {
                    break Some(slow.to_string());
                }
            }
            p = async { match published.as_mut() { Some(r) => r.recv().await, None => std::future::pending().await } } => match p {
                Ok(batch) => {
                    // The whole group commit's messages go in as one (see `send_queue`).
                    let mut messages = Vec::new();
                    forward(&s, &mut subs, &batch, &mut messages);
                    let (count, durable_at) = (messages.len() as u64, batch.first().map(|p| p.durable_at));
                    if let Err(slow) = out.push(messages) {
                        break Some(slow.to_string());
                    }
                    if let (1.., Some(durable_at)) = (count, durable_at) {
                        let delay = u64::try_from(durable_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                        s.ws.sent.fetch_add(count, Ordering::Relaxed);
                        s.ws.delay_us_sum.fetch_add(delay.saturating_mul(count), Ordering::Relaxed);
                        s.ws.delay_us_max.fetch_max(delay, Ordering::Relaxed);
                    }
                }
                Err(RecvError::Lagged(n)) => break Some(format!("slow consumer: fell {n} messages behind")),
                Err(RecvError::Closed) => break Some("the server is shutting down".to_owned()),
            },
            _ = journal_tick.tick() => {
                if let Some(head) = due_journal_head(&mut subs) {
                    if let Err(slow) = out.push_one(Message::Text(head.to_string().into())) {
                        break Some(slow.to_string());
                    }
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > Duration::from_secs(60) {
                    break Some("idle for 60 s".to_owned());
                }
                // A ping behind a full queue is not needed: the queue's messages show the
                // connection is alive, or cut it off.
                let _ = out.push_one(Message::Ping(Vec::new().into()));
            }
        }
    };
    if let Some(reason) = reason {
        s.ws.cut_off.fetch_add(1, Ordering::Relaxed);
        drop(close_tx.send(Some(reason)));
        // The closing handshake (RFC 6455 §7.1.1): the server closes the TCP connection after the
        // client's close frame, and reads (and drops) what the client still sends until then,
        // bounded in time. Dropping the socket at once reset the connection as soon as the
        // client wrote anything — a pong to an early ping, read late from a full buffer — and
        // the reset discarded everything the client had not read yet, the close frame with its
        // reason included (seen in CI: "Connection reset by peer" instead of the close frame).
        let drain = async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        };
        drop(tokio::time::timeout(Duration::from_secs(10), drain).await);
    }
    drop(out);
    drop(writer.await);
    s.ws.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Adds to `out` what a group commit's publications hold for this client.
fn forward(s: &Shared, subs: &mut Subscriptions, batch: &[Arc<Published>], out: &mut Vec<Message>) {
    if !subs.any() {
        return;
    }
    // Every publication of a group commit has the same durable head: the journal channel's
    // news, and the receipt on each account notice.
    let head = batch.last().and_then(|p| p.head);
    if let (true, Some(head)) = (subs.journal, head) {
        subs.journal_pending = Some(json!({ "channel": "journal", "seq": head.seq, "hash": head.hash }));
        if let Some(message) = due_journal_head(subs) {
            out.push(Message::Text(message.to_string().into()));
        }
    }
    let account_fields = match (subs.account_channel, head) {
        (false, _) => String::new(),
        (true, None) => r#""channel":"account","head_seq":null,"head_hash":null"#.to_owned(),
        (true, Some(h)) => format!(r#""channel":"account","head_seq":{},"head_hash":"{}""#, h.seq, h.hash.as_str()),
    };
    for p in batch {
        forward_publication(s, subs, p, &account_fields, out);
    }
}

/// Adds to `out` what `p` holds for this client on its book, trades, ticker, liquidations and
/// account channels; `account_fields` lead each account notice.
fn forward_publication(s: &Shared, subs: &Subscriptions, p: &Published, account_fields: &str, out: &mut Vec<Message>) {
    let mut send = |text: String| out.push(Message::Text(text.into()));
    for diff in &p.book {
        if subs.book.iter().any(|(m, from)| **m == *diff.market && p.seq > *from) {
            send(diff.json().to_string());
        }
    }
    for e in &p.events {
        let kind = e.kind();
        let market = e.market().unwrap_or_default();
        if kind == "fill" && subs.trades.contains(market) {
            let f = e.json();
            send(
                json!({ "channel": "trades", "market": market, "seq": f["seq"], "ts": f["ts"],
                        "trade_id": f["trade_id"], "price": f["price"], "qty": f["qty"], "taker_side": f["taker_side"] })
                .to_string(),
            );
        }
        if matches!(kind, "mark_price" | "index_price" | "funding_settled") && subs.ticker.contains(market) {
            send(e.json().with_leading_fields(r#""channel":"ticker""#));
        }
        if subs.liquidations
            && matches!(kind, "liquidation_started" | "liquidation_finished" | "deleveraged" | "backstop_takeover")
        {
            let mut v = Value::clone(e.json());
            v["channel"] = json!("liquidations");
            for field in ["account", "bankrupt", "liquidator"] {
                if let Some(id) = v.get(field).and_then(Value::as_u64) {
                    v[field] = json!(pseudonym(&s.ws.salt, id));
                }
            }
            send(v.to_string());
        }
        if subs.account_channel {
            if let Some(a) = subs.account {
                if e.accounts().iter().any(|x| x.0 == a) {
                    // With its receipt: the durable head that holds it, for `perpx proof`.
                    send(e.json().with_leading_fields(account_fields));
                }
            }
        }
    }
}

/// The held journal head, if a second has passed since the last one was sent.
fn due_journal_head(subs: &mut Subscriptions) -> Option<Value> {
    if subs.journal_pending.is_none() || subs.journal_sent.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
        return None;
    }
    subs.journal_sent = Some(Instant::now());
    subs.journal_pending.take()
}

fn error(code: u16, message: &str) -> Value {
    json!({ "op": "error", "code": code, "message": message })
}

/// A trading message (`ws_trade`), queued or refused; `None` for any other message.
fn trade_op(s: &Shared, subs: &Subscriptions, text: &str) -> Option<ws_trade::Entry> {
    let key = subs.key.as_ref().map(|(k, secret)| (k.as_str(), secret.as_str()));
    // A well-formed order, amend or cancel: read in one pass (`perpx_wire::trade_message`).
    if let Some(message) = perpx_wire::trade_message::TradeMessage::parse(text) {
        return Some(ws_trade::parsed_entry(s, key, message));
    }
    // Only a message that names a trading op is parsed here; the rest go to `handle_op`.
    let (wire_type, m) = ws_trade::general_message(text)?;
    Some(ws_trade::entry(s, key, wire_type, m))
}

/// Handles one client message; returns the replies.
async fn handle_op(s: &Shared, subs: &mut Subscriptions, text: &str) -> Vec<Value> {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) else {
        return vec![error(1002, "each message is a JSON object with an 'op'")];
    };
    let op = m.get("op").and_then(Value::as_str).unwrap_or_default();
    let channel = m.get("channel").and_then(Value::as_str).unwrap_or_default();
    let market = m.get("market").and_then(Value::as_str).map(str::to_owned);
    match op {
        "auth" => vec![auth(s, subs, &m)],
        "subscribe" | "unsubscribe" => {
            let on = op == "subscribe";
            let needs_market = matches!(channel, "book" | "trades" | "ticker");
            let Some(market) = market.or_else(|| (!needs_market).then(String::new)) else {
                return vec![error(6012, "this channel needs a 'market'")];
            };
            if needs_market && !market_exists(s, &market).await {
                return vec![error(2001, &format!("unknown market '{market}'"))];
            }
            let mut replies = vec![json!({ "op": op, "channel": channel, "market": market })];
            match channel {
                "book" => {
                    subs.book.retain(|(m, _)| *m != market);
                    if on {
                        let id = market.clone();
                        let snapshot = read_snapshot(s, id).await;
                        let seq = snapshot["seq"].as_u64().unwrap_or(0);
                        subs.book.push((market, seq));
                        replies.push(snapshot);
                    }
                }
                "trades" => toggle(&mut subs.trades, market, on),
                "ticker" => toggle(&mut subs.ticker, market, on),
                "liquidations" => subs.liquidations = on,
                "journal" => subs.journal = on,
                "account" => {
                    if subs.account.is_none() {
                        return vec![error(6001, "authenticate first: {\"op\": \"auth\", ...}")];
                    }
                    subs.account_channel = on;
                }
                _ => return vec![error(6012, "channels: book, trades, ticker, liquidations, journal, account")],
            }
            replies
        }
        _ => vec![error(6012, "ops: auth, subscribe, unsubscribe, order, amend, cancel, cancel_all")],
    }
}

fn toggle(set: &mut BTreeSet<String>, market: String, on: bool) {
    if on {
        set.insert(market);
    } else {
        set.remove(&market);
    }
}

async fn market_exists(s: &Shared, symbol: &str) -> bool {
    let sym = symbol.to_owned();
    super::read(s, move |e| json!(e.market_by_symbol(&sym).is_some())).await.is_ok_and(|v| v == json!(true))
}

async fn read_snapshot(s: &Shared, symbol: String) -> Value {
    super::read(s, move |e| e.market_by_symbol(&symbol).map_or(Value::Null, |m| book_snapshot(e, m.id)))
        .await
        .unwrap_or(Value::Null)
}

fn auth(s: &Shared, subs: &mut Subscriptions, m: &serde_json::Map<String, Value>) -> Value {
    let get = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(key), Some(ts), Some(sig)) =
        (get("key"), m.get("timestamp").map(|t| t.to_string().trim_matches('"').to_owned()), get("signature"))
    else {
        return error(6001, "auth needs 'key', 'timestamp' and 'signature'");
    };
    let Some(k) = s.keys.lock().expect("keys lock").get(&key).filter(|k| !k.revoked).cloned() else {
        return error(6002, "unknown or revoked API key");
    };
    let now = now_ms();
    let window = s.config.recv_window_ms;
    let Ok(stamp) = ts.parse::<i64>() else { return error(6004, "bad timestamp") };
    if (now - stamp).abs() > window {
        return error(6004, "timestamp outside the receive window");
    }
    if !verify(&k.secret, &signed_bytes(&ts, "GET", "/ws", b""), &sig) {
        return error(6003, "bad signature: HMAC-SHA256 of timestamp\\nGET\\n/ws\\n");
    }
    if !s.replays.lock().expect("replay lock").insert(&sig.to_ascii_lowercase(), now, stamp + window) {
        return error(6005, "replayed signature");
    }
    if !k.allows(Scope::Read) || k.account.is_none() {
        return error(6006, "this key can't read an account");
    }
    subs.account = k.account;
    subs.key = Some((k.key, k.secret));
    json!({ "op": "auth", "account": k.account })
}
