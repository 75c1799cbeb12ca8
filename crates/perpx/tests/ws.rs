//! WebSocket streams against the real binary: book diffs that reproduce the REST book, gap
//! detection and resync, private notices with the same sequence numbers as REST answers,
//! liquidation and ADL notices, and a slow consumer cut off while a fast one keeps up.

mod common;

use std::time::Duration;

use common::ws::{Socket, connect, login, next, send};
use common::{Key, Server, order, start, start_with};
use serde_json::{Value, json};
use tungstenite::Message;

/// Reads until `pred` holds for a message; returns it.
fn until(ws: &mut Socket, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = next(ws);
        if pred(&v) {
            return v;
        }
    }
}

fn auth(ws: &mut Socket, k: &Key) {
    login(ws, k);
    send(ws, &json!({ "op": "subscribe", "channel": "account" }));
    assert_eq!(next(ws)["op"], "subscribe");
}

/// A client-side book: price → size per side, kept from a snapshot and diffs.
#[derive(Default, Debug, PartialEq)]
struct Book {
    bids: std::collections::BTreeMap<String, String>,
    asks: std::collections::BTreeMap<String, String>,
    /// The last sequence number applied.
    seq: u64,
}

impl Book {
    fn from_snapshot(v: &Value) -> Self {
        let mut b = Self { seq: v["seq"].as_u64().unwrap(), ..Self::default() };
        b.apply_levels(v);
        b
    }

    fn apply_levels(&mut self, v: &Value) {
        for (side, map) in [("bids", &mut self.bids), ("asks", &mut self.asks)] {
            for l in v[side].as_array().unwrap() {
                let (p, q) = (l[0].as_str().unwrap().to_owned(), l[1].as_str().unwrap().to_owned());
                if q.chars().all(|c| c == '0' || c == '.') {
                    map.remove(&p);
                } else {
                    map.insert(p, q);
                }
            }
        }
    }

    /// Applies a diff; `false` if one was missed (the caller resyncs).
    fn apply(&mut self, v: &Value) -> bool {
        let (seq, prev) = (v["seq"].as_u64().unwrap(), v["prev_seq"].as_u64().unwrap());
        if seq <= self.seq {
            return true; // already in the snapshot
        }
        if prev > self.seq {
            return false;
        }
        self.apply_levels(v);
        self.seq = seq;
        true
    }

    /// The REST view at the same depth.
    fn rest(s: &Server) -> (Vec<Value>, Vec<Value>) {
        let (_, d) = s.get("/api/v1/depth?market=BTC-PERP&limit=50");
        (d["bids"].as_array().unwrap().clone(), d["asks"].as_array().unwrap().clone())
    }

    fn levels(&self) -> (Vec<Value>, Vec<Value>) {
        let mut bids: Vec<(&String, &String)> = self.bids.iter().collect();
        bids.sort_by_key(|l| std::cmp::Reverse(ticks(l.0)));
        let mut asks: Vec<(&String, &String)> = self.asks.iter().collect();
        asks.sort_by_key(|l| ticks(l.0));
        let j = |v: Vec<(&String, &String)>| v.into_iter().take(50).map(|(p, q)| json!([p, q])).collect();
        (j(bids), j(asks))
    }
}

fn subscribe_book(ws: &mut Socket) -> Book {
    send(ws, &json!({ "op": "subscribe", "channel": "book", "market": "BTC-PERP" }));
    Book::from_snapshot(&until(ws, |v| v["type"] == "snapshot"))
}

/// `n` batches of 20 orders around `mark` from the two traders, some crossing, with a cancel-all
/// every tenth; returns the last sequence number.
/// A BTC-PERP price (one decimal) in ticks of 0.1.
fn ticks(price: &str) -> i64 {
    price.replace('.', "").parse().unwrap()
}

/// Ticks of 0.1 as a BTC-PERP price.
fn price(ticks: i64) -> String {
    format!("{}.{}", ticks / 10, ticks % 10)
}

fn churn(s: &Server, mark: i64, n: usize, from: usize) -> u64 {
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mut last_seq = 0;
    for i in from..from + n {
        let mut commands = Vec::new();
        for j in 0..20 {
            let k = i64::try_from(i * 20 + j).unwrap();
            // Whole dollars around the mark; one in 13 crosses to the other side (and trades).
            let (side, off) = if k % 2 == 0 { ("buy", -(k % 37) - 1) } else { ("sell", k % 41 + 1) };
            let cross = if k % 13 == 0 { -off * 3 / 2 } else { 0 };
            let at = price(mark + (off + cross) * 10);
            commands.push(json!({ "type": "place_order", "market": "BTC-PERP", "side": side, "order_type": "limit",
                                  "price": at, "qty": format!("0.{:03}", 1 + k % 9) }));
        }
        let who = if i % 2 == 0 { a } else { b };
        let (status, v) = s.signed(who, "POST", "/api/v1/batch", &json!({ "commands": commands }).to_string());
        assert_eq!(status, 200, "{v}");
        last_seq = v["results"].as_array().unwrap().iter().filter_map(|r| r["seq"].as_u64()).max().unwrap_or(last_seq);
        if i % 10 == 9 {
            let (_, v) = s.signed(who, "POST", "/api/v1/orders/cancel-all", "{\"market\": \"BTC-PERP\"}");
            last_seq = v["seq"].as_u64().unwrap_or(last_seq).max(last_seq);
        }
    }
    last_seq
}

/// Follows book messages up to `last_seq`; `drop_first` skips one diff on purpose and expects
/// the next to reveal the gap (then resyncs). Returns the diffs applied.
fn follow(ws: &mut Socket, book: &mut Book, last_seq: u64, drop_first: bool) -> usize {
    let (mut diffs, mut dropped, mut resynced) = (0, !drop_first, false);
    while book.seq < last_seq {
        let v = next(ws);
        if v["channel"] != "book" || v["type"] == "snapshot" {
            continue;
        }
        if !dropped {
            dropped = true;
            continue;
        }
        if book.apply(&v) {
            diffs += 1;
        } else {
            assert!(drop_first && !resynced, "a gap nobody made");
            send(ws, &json!({ "op": "unsubscribe", "channel": "book", "market": "BTC-PERP" }));
            *book = subscribe_book(ws);
            resynced = true;
        }
    }
    assert_eq!(resynced, drop_first, "the dropped diff was detected");
    diffs
}

#[test]
fn the_book_stream_reproduces_the_rest_book_and_a_gap_is_resynced() {
    let s = start("ws-book", false);
    let mut ws = connect(&s);
    let mut book = subscribe_book(&mut ws);
    let mark = ticks(&s.mark("BTC-PERP"));
    // Thousands of book updates, followed diff by diff.
    let last = churn(&s, mark, 120, 0);
    let diffs = follow(&mut ws, &mut book, last, false);
    assert!(diffs > 1_000, "{diffs} diffs");
    assert_eq!(book.levels(), Book::rest(&s));
    // A diff lost on the way: the next one's prev_seq gives it away; a fresh snapshot resyncs.
    let last = churn(&s, mark, 10, 120);
    follow(&mut ws, &mut book, last, true);
    assert_eq!(book.levels(), Book::rest(&s));
}

#[test]
fn each_account_sees_its_fill_with_the_rest_sequence_number() {
    let s = start("ws-fill", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let (mut wa, mut wb) = (connect(&s), connect(&s));
    auth(&mut wa, a);
    auth(&mut wb, b);
    let mark = s.mark("BTC-PERP");
    s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "0.010", "gtc"));
    let (status, ack) = s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &mark, "0.010", "ioc"));
    assert_eq!(status, 200, "{ack}");
    let seq = ack["seq"].as_u64().unwrap();
    for ws in [&mut wa, &mut wb] {
        let fill = until(ws, |v| v["type"] == "fill");
        assert_eq!((fill["seq"].as_u64(), fill["price"].as_str()), (Some(seq), Some(mark.as_str())));
        assert_eq!(
            (&fill["head_seq"], &fill["head_hash"]),
            (&ack["head_seq"], &ack["head_hash"]),
            "the notice carries the same receipt as the answer"
        );
        let pos = until(ws, |v| v["type"] == "position_changed");
        assert_eq!(pos["seq"].as_u64(), Some(seq));
    }
}

#[test]
fn liquidation_and_adl_reach_the_accounts_in_the_same_step() {
    let s = start("ws-liq", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let (mut wa, mut wb) = (connect(&s), connect(&s));
    auth(&mut wa, a);
    auth(&mut wb, b);
    let mut public = connect(&s);
    send(&mut public, &json!({ "op": "subscribe", "channel": "liquidations" }));
    next(&mut public);
    // A keeps 3,000 USD and goes 50x long 1 BTC against B's short; then the mark falls 5 %:
    // A is bankrupt, and with no bids and no liquidator, B is deleveraged.
    let (status, v) = s.signed(a, "POST", "/api/v1/withdraw", "{\"amount\": \"97000\"}");
    assert_eq!(status, 200, "{v}");
    s.signed(a, "POST", "/api/v1/leverage", "{\"market\": \"BTC-PERP\", \"leverage\": 50}");
    let mark = s.mark("BTC-PERP");
    s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "1.000", "gtc"));
    let (status, v) = s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &mark, "1.000", "ioc"));
    assert_eq!(status, 200, "{v}");
    let low = price(ticks(&mark) * 95 / 100);
    let cmd = json!({ "type": "set_mark", "market": "BTC-PERP", "price": low }).to_string();
    let (status, v) = s.signed(&s.admin, "POST", "/api/v1/admin/command", &cmd);
    assert_eq!(status, 200, "{v}");
    let seq = v["seq"].as_u64().unwrap();
    let started = until(&mut wa, |v| v["type"] == "liquidation_started");
    assert_eq!(started["seq"].as_u64(), Some(seq));
    let adl = until(&mut wb, |v| v["type"] == "deleveraged");
    assert_eq!(adl["seq"].as_u64(), Some(seq), "B's notice is in the bankruptcy's sequence step");
    let p = until(&mut public, |v| v["type"] == "deleveraged");
    assert!(p["account"].is_string() && p["bankrupt"].is_string(), "pseudonymous on the public channel: {p}");
}

#[test]
fn a_command_with_more_notices_than_the_send_queue_reaches_a_client_that_reads() {
    // One `cancel_all` over 100 resting orders gives the account 100 notices in one command,
    // more than the connection's queue of 64 holds. The bound applies to what is still unsent
    // when a group commit's messages arrive, so a client that reads gets all of them (it used
    // to be cut off here as a slow consumer before it could read the first).
    let s = start_with("ws-burst", false, "ws_send_buffer = 64\n");
    let a = &s.traders[0];
    let mut ws = connect(&s);
    auth(&mut ws, a);
    let mark = ticks(&s.mark("BTC-PERP"));
    for batch in 0..5i64 {
        let commands: Vec<Value> = (0..20i64)
            .map(|i| {
                json!({ "type": "place_order", "market": "BTC-PERP", "side": "buy", "order_type": "limit",
                        "price": price(mark - 10 - (batch * 20 + i) * 10), "qty": "0.001" })
            })
            .collect();
        let (status, v) = s.signed(a, "POST", "/api/v1/batch", &json!({ "commands": commands }).to_string());
        assert_eq!(status, 200, "{v}");
    }
    let (status, v) = s.signed(a, "POST", "/api/v1/orders/cancel-all", &json!({ "market": "BTC-PERP" }).to_string());
    assert_eq!(status, 200, "{v}");
    let (mut accepted, mut cancelled) = (0, 0);
    while cancelled < 100 {
        match ws.read().expect("the stream stays open") {
            Message::Text(t) => {
                let n: Value = serde_json::from_str(&t).unwrap();
                match (n["channel"].as_str(), n["type"].as_str()) {
                    (Some("account"), Some("order_accepted")) => accepted += 1,
                    (Some("account"), Some("order_cancelled")) => cancelled += 1,
                    _ => {}
                }
            }
            Message::Close(f) => panic!("cut off after {accepted} accepted and {cancelled} cancelled: {f:?}"),
            _ => {}
        }
    }
    assert_eq!(accepted, 100, "every order's notice came before its cancellation's");
}

#[test]
fn a_slow_consumer_is_cut_off_while_a_fast_one_keeps_up() {
    let s = start_with("ws-slow", false, "ws_send_buffer = 64\n");
    let a = &s.traders[0];
    let mut slow = connect(&s);
    auth(&mut slow, a);
    send(&mut slow, &json!({ "op": "subscribe", "channel": "book", "market": "BTC-PERP" }));
    let mut fast = connect(&s);
    auth(&mut fast, a);
    let mark = ticks(&s.mark("BTC-PERP"));
    const BATCHES: usize = 800;
    // Enough traffic to fill the kernel's socket buffers and then the slow client's queue: each
    // batch places 10 orders with long client ids and cancels the previous batch's 10.
    let reader = std::thread::spawn(move || {
        let mut n = 0;
        while n < BATCHES * 10 {
            if next(&mut fast)["type"] == "order_accepted" {
                n += 1;
            }
        }
        n
    });
    for i in 0..BATCHES {
        let mut commands: Vec<Value> = (0..10)
            .map(|j| {
                let below = i64::try_from((i * 10 + j) % 300).unwrap();
                json!({ "type": "place_order", "market": "BTC-PERP", "side": "buy", "order_type": "limit",
                        "price": price(mark - 10 - below * 10), "qty": "0.001", "client_id": format!("order-{i}-{j}-with-a-long-client-id") })
            })
            .collect();
        if i > 0 {
            commands.extend((0..10).map(|j| {
                json!({ "type": "cancel_order", "market": "BTC-PERP", "client_id": format!("order-{}-{j}-with-a-long-client-id", i - 1) })
            }));
        }
        // Paced by the per-key rate limit, as any client is: on a 429, wait as told and retry
        // (a producer free of it outran even the fast reader on a loaded machine).
        let body = json!({ "commands": commands }).to_string();
        loop {
            let (status, v) = s.signed(a, "POST", "/api/v1/batch", &body);
            if status == 429 {
                std::thread::sleep(Duration::from_millis(v["retry_after_ms"].as_u64().unwrap_or(10).max(1)));
                continue;
            }
            assert_eq!(status, 200, "{v}");
            break;
        }
    }
    assert_eq!(reader.join().unwrap(), BATCHES * 10, "the fast client saw every order");
    // The slow one was closed with a reason.
    let closed = loop {
        match slow.read() {
            Ok(Message::Close(f)) => break f,
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    };
    let reason = closed.map(|f| f.reason.to_string()).unwrap_or_default();
    assert!(reason.contains("slow consumer"), "{reason}");
}

#[test]
fn the_journal_head_is_published_and_matches_the_endpoint() {
    let s = start("ws-journal", false);
    let mut ws = connect(&s);
    send(&mut ws, &json!({ "op": "subscribe", "channel": "journal" }));
    next(&mut ws);
    let a = &s.traders[0];
    let mark = s.mark("BTC-PERP");
    let (status, ack) = s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "0.010", "gtc"));
    assert_eq!(status, 200, "{ack}");
    let head = until(&mut ws, |v| v["channel"] == "journal");
    assert_eq!((head["seq"].as_u64(), &head["hash"]), (ack["head_seq"].as_u64(), &ack["head_hash"]));
    let (_, rest) = s.get("/api/v1/journal/head");
    assert_eq!((rest["seq"].as_u64(), &rest["hash"]), (ack["head_seq"].as_u64(), &ack["head_hash"]));
    // Two more commands inside the same second, then nothing: the once-a-second limit holds
    // the last head back, and it still arrives.
    for _ in 0..2 {
        let (status, v) = s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "0.010", "gtc"));
        assert_eq!(status, 200, "{v}");
    }
    let (_, last) = s.get("/api/v1/journal/head");
    let head = until(&mut ws, |v| v["channel"] == "journal" && v["seq"] == last["seq"]);
    assert_eq!(head["hash"], last["hash"]);
}
