//! `perpx serve` end to end: the real binary on a loopback port, real HTTP requests, signed as a
//! client would sign them.

mod common;

use std::time::{Duration, Instant};

use common::{Server, now_ms, order, start};
use perpx_server::auth::{sign, signed_bytes};
use serde_json::{Value, json};

#[test]
fn two_accounts_trade_and_both_see_the_fill() {
    let s = start("trade", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark = s.mark("BTC-PERP");
    let (status, ack) = s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "0.010", "gtc"));
    assert_eq!(status, 200, "{ack}");
    assert!(ack["seq"].as_u64().unwrap() > 0);
    let (status, ack) = s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &mark, "0.010", "ioc"));
    assert_eq!(status, 200, "{ack}");
    let fill = ack["events"].as_array().unwrap().iter().find(|e| e["type"] == "fill").expect("a fill");
    assert_eq!((fill["price"].as_str().unwrap(), fill["qty"].as_str().unwrap()), (mark.as_str(), "0.010"));
    let size = |v: &Value| v["positions"][0]["size"].as_str().unwrap().to_owned();
    assert_eq!(size(&s.account(a)), "-0.010");
    assert_eq!(size(&s.account(b)), "0.010");
    let (_, book) = s.get("/api/v1/depth?market=BTC-PERP");
    assert_eq!(book["asks"], json!([]), "the maker's order was filled");
}

/// Every bad input is a 4xx with its code, and changes nothing: the accounts, orders and book
/// are as before (and gateway refusals take no sequence number).
#[test]
fn bad_input_gets_its_error_and_changes_nothing() {
    let s = start("bad", false);
    let a = &s.traders[0];
    let mark = s.mark("BTC-PERP");
    let snapshot = |s: &Server| {
        let mut acc = s.account(a);
        acc.as_object_mut().unwrap().remove("seq");
        let bids = s.get("/api/v1/depth?market=BTC-PERP").1["bids"].clone();
        let orders = s.signed(a, "GET", "/api/v1/orders", "").1["orders"].clone();
        (acc, bids, orders)
    };
    let before = snapshot(&s);
    let seq_before = s.get("/api/v1/state-hash").1["seq"].as_u64().unwrap();
    let wrong_type = json!({ "market": "BTC-PERP", "side": "buy", "order_type": "limit", "price": 1, "qty": "0.010" });
    let cases: Vec<(&str, String, u16, u64)> = vec![
        ("malformed JSON", "{\"market\": ".into(), 400, 1002),
        ("not an object", "[1, 2]".into(), 400, 1002),
        (
            "unknown field",
            order("BTC-PERP", "buy", &mark, "0.010", "gtc").replace("\"tif\"", "\"colour\": 1, \"tif\""),
            400,
            1002,
        ),
        ("wrong type", wrong_type.to_string(), 400, 1002),
        ("account in the body", json!({ "account": 2, "market": "BTC-PERP" }).to_string(), 400, 6012),
        ("unknown market", order("DOGE-PERP", "buy", &mark, "0.010", "gtc"), 404, 2001),
        ("price off the tick", order("BTC-PERP", "buy", &format!("{mark}5"), "0.010", "gtc"), 400, 3006),
        ("size off the lot", order("BTC-PERP", "buy", &mark, "0.0105", "gtc"), 400, 3007),
        ("oversized body", format!("{{\"pad\": \"{}\"}}", "x".repeat(5_000)), 413, 6009),
    ];
    for (what, body, status, code) in &cases {
        let (got, v) = s.signed(a, "POST", "/api/v1/order", body);
        assert_eq!((got, v["code"].as_u64()), (*status, Some(*code)), "{what}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a message");
    }
    let seq_after = s.get("/api/v1/state-hash").1["seq"].as_u64().unwrap();
    assert_eq!(seq_after, seq_before, "no refusal took a sequence number");
    // Rejected by the engine (journaled, with a sequence number, but changing nothing).
    for (what, body, code) in [
        ("zero size", order("BTC-PERP", "buy", &mark, "0", "gtc"), 3001),
        ("outside the band", order("BTC-PERP", "buy", "1.0", "0.010", "gtc"), 3008),
        ("insufficient margin", order("BTC-PERP", "buy", &mark, "100.000", "gtc"), 5002),
    ] {
        let (got, v) = s.signed(a, "POST", "/api/v1/order", &body);
        assert_eq!((got, v["code"].as_u64()), (422, Some(code)), "{what}: {v}");
        assert!(v["seq"].as_u64().is_some(), "{what}: the rejection is sequenced");
    }
    let (got, v) = s.signed(a, "POST", "/api/v1/leverage", "{\"market\": \"BTC-PERP\", \"leverage\": 500}");
    assert_eq!((got, v["code"].as_u64()), (422, Some(5004)), "over-leverage: {v}");
    assert_eq!(snapshot(&s), before);
}

#[test]
fn signatures_are_checked_and_can_not_be_replayed() {
    let s = start("sig", false);
    let a = &s.traders[0];
    let path = "/api/v1/account";
    let ts = now_ms();
    let good = sign(&a.secret, &signed_bytes(&ts.to_string(), "GET", path, b""));
    let code = |r: (u16, Value)| (r.0, r.1["code"].as_u64().unwrap_or(0));
    // Missing headers.
    let mut r = s.agent.get(format!("{}{path}", s.base)).call().unwrap();
    let v: Value = r.body_mut().read_json().unwrap();
    assert_eq!((r.status().as_u16(), v["code"].as_u64()), (401, Some(6001)));
    // Wrong key, wrong secret, wrong method, wrong path, expired.
    assert_eq!(code(s.raw("GET", path, "", "pk_nobody", ts, &good)), (401, 6002));
    let other = sign(&s.traders[1].secret, &signed_bytes(&ts.to_string(), "GET", path, b""));
    assert_eq!(code(s.raw("GET", path, "", &a.key, ts, &other)), (401, 6003));
    let post = sign(&a.secret, &signed_bytes(&ts.to_string(), "POST", path, b""));
    assert_eq!(code(s.raw("GET", path, "", &a.key, ts, &post)), (401, 6003));
    let orders = sign(&a.secret, &signed_bytes(&ts.to_string(), "GET", "/api/v1/orders", b""));
    assert_eq!(code(s.raw("GET", path, "", &a.key, ts, &orders)), (401, 6003));
    let old = ts - 60_000;
    let stale = sign(&a.secret, &signed_bytes(&old.to_string(), "GET", path, b""));
    assert_eq!(code(s.raw("GET", path, "", &a.key, old, &stale)), (401, 6004));
    // The good one passes once, then is a replay.
    assert_eq!(s.raw("GET", path, "", &a.key, ts, &good).0, 200);
    assert_eq!(code(s.raw("GET", path, "", &a.key, ts, &good)), (401, 6005));
    // Scopes: a trader is not an admin.
    let deposit = json!({ "type": "deposit", "account": 1, "amount": "1000000" }).to_string();
    assert_eq!(code(s.signed(a, "POST", "/api/v1/admin/command", &deposit)), (403, 6006));
    let (status, v) = s.signed(&s.admin, "POST", "/api/v1/admin/command", &deposit);
    assert_eq!(status, 200, "{v}");
}

#[test]
fn the_dead_mans_switch_cancels_every_order_unless_renewed() {
    let s = start("deadman", false);
    let a = &s.traders[0];
    let mark = s.mark("BTC-PERP");
    let (status, v) = s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "0.010", "gtc"));
    assert_eq!(status, 200, "{v}");
    let (status, v) = s.signed(a, "POST", "/api/v1/deadman", "{\"timeout_ms\": 300}");
    assert_eq!((status, v["armed"].as_bool()), (200, Some(true)), "{v}");
    let open = |s: &Server| s.signed(a, "GET", "/api/v1/orders", "").1["orders"].as_array().unwrap().len();
    assert_eq!(open(&s), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while open(&s) > 0 {
        assert!(Instant::now() < deadline, "the switch never fired");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn batch_items_are_answered_one_by_one() {
    let s = start("batch", false);
    let a = &s.traders[0];
    let mark = s.mark("BTC-PERP");
    let item = |price: &str| {
        json!({ "type": "place_order", "market": "BTC-PERP", "side": "sell", "order_type": "limit",
                "price": price, "qty": "0.010" })
    };
    let body = json!({ "commands": [
        item(&mark),
        item(&format!("{mark}5")),
        { "type": "cancel_order", "market": "BTC-PERP", "order_id": 999_999 },
        { "type": "deposit", "amount": "1" },
    ]})
    .to_string();
    let (status, v) = s.signed(a, "POST", "/api/v1/batch", &body);
    assert_eq!(status, 200, "{v}");
    let r = v["results"].as_array().unwrap();
    let codes: Vec<(bool, Option<u64>)> = r.iter().map(|x| (x["ok"].as_bool().unwrap(), x["code"].as_u64())).collect();
    assert_eq!(codes, vec![(true, None), (false, Some(3006)), (false, Some(4005)), (false, Some(6012))]);
    assert!(r[2]["seq"].as_u64().is_some(), "the engine's rejection is sequenced");
}

#[test]
fn the_demo_venue_moves_by_itself() {
    let s = start("live", true);
    let (_, first) = s.get("/api/v1/state-hash");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, now) = s.get("/api/v1/state-hash");
        if now["seq"].as_u64() > first["seq"].as_u64() {
            break;
        }
        assert!(Instant::now() < deadline, "no oracle price or tick arrived");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, m) = s.get("/api/v1/markets");
    assert_eq!(status, 200);
    assert_eq!(m["markets"].as_array().unwrap().len(), 2);
    let metrics = s.agent.get(format!("{}/metrics", s.base)).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("perpx_commands_total"), "{metrics}");
    let (status, spec) = s.get("/openapi.json");
    assert_eq!((status, spec["openapi"].as_str()), (200, Some("3.1.0")));
}

/// The open order ids of an account.
fn open_ids(s: &Server, k: &common::Key) -> Vec<u64> {
    let (status, v) = s.signed(k, "GET", "/api/v1/orders", "");
    assert_eq!(status, 200, "{v}");
    let mut ids: Vec<u64> = v["orders"].as_array().unwrap().iter().map(|o| o["order_id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_restart_finds_every_acknowledged_order_and_fill() {
    let s = start("restart", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark = s.mark("BTC-PERP");
    let low: i64 = mark.replace('.', "").parse::<i64>().unwrap() - 1_000;
    let px = |t: i64| format!("{}.{}", t / 10, t % 10);
    for i in 0..3 {
        let (status, v) = s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &px(low - i), "0.010", "gtc"));
        assert_eq!(status, 200, "{v}");
        assert!(v["head_hash"].as_str().is_some_and(|h| h.len() == 64), "acknowledged with its durable head: {v}");
    }
    s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "0.020", "gtc"));
    let (status, v) = s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &mark, "0.020", "ioc"));
    assert_eq!(status, 200, "{v}");
    let orders = open_ids(&s, a);
    let accounts = (s.account(a), s.account(b));
    let (_, hash) = s.get("/api/v1/state-hash");
    let (_, head) = s.get("/api/v1/journal/head");
    assert_eq!(head["seq"], hash["seq"], "every command is durable");
    // kill -9, then start again on the same data.
    let s = s.kill_and_restart();
    let (a, b) = (&s.traders[0], &s.traders[1]);
    assert_eq!(open_ids(&s, a), orders);
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("seq");
        v
    };
    assert_eq!((strip(s.account(a)), strip(s.account(b))), (strip(accounts.0), strip(accounts.1)));
    let (_, after) = s.get("/api/v1/state-hash");
    assert_eq!(after["state_hash"], hash["state_hash"], "the same state, bit for bit");
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_command() {
    let s = start("kill9", false);
    let mark: i64 = s.mark("BTC-PERP").replace('.', "").parse().unwrap();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = std::sync::Arc::new(s);
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (s, acked, stop) =
                (std::sync::Arc::clone(&s), std::sync::Arc::clone(&acked), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let k = &s.traders[w];
                let side = if w == 0 { "buy" } else { "sell" };
                for i in 0..150i64 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let t = if w == 0 { mark - 1_000 - i * 10 } else { mark + 1_000 + i * 10 };
                    let price = format!("{}.{}", t / 10, t % 10);
                    match s.try_signed(k, "POST", "/api/v1/order", &order("BTC-PERP", side, &price, "0.001", "gtc")) {
                        Some((200, v)) => {
                            let id = v["events"][0]["order_id"].as_u64().unwrap();
                            acked.lock().unwrap().push(id);
                        }
                        _ => return, // the server died mid-request: not acknowledged
                    }
                }
            })
        })
        .collect();
    // Kill -9 while the writers are still sending.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 20 {
        assert!(Instant::now() < deadline, "no orders acknowledged");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = s.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let s = std::sync::Arc::into_inner(s).expect("the writers are done").kill_and_restart();
    let acknowledged = acked.lock().unwrap().clone();
    let mut open = open_ids(&s, &s.traders[0]);
    open.extend(open_ids(&s, &s.traders[1]));
    for id in &acknowledged {
        assert!(open.contains(id), "acknowledged order {id} was lost");
    }
}

/// The admin audit log is journaled: who did what, with the sequence number of the command it
/// caused, and it comes back from the journal alone after a crash (the history file deleted).
#[test]
fn the_admin_audit_log_is_journaled_and_survives_a_crash() {
    let s = start("audit", false);
    let code = |r: (u16, Value)| (r.0, r.1["code"].as_u64().unwrap_or(0));
    let deposit = json!({ "type": "deposit", "account": 1, "amount": "1000" }).to_string();
    let (status, ack) = s.signed(&s.admin, "POST", "/api/v1/admin/command", &deposit);
    assert_eq!(status, 200, "{ack}");
    let (status, key) = s.signed(&s.admin, "POST", "/api/v1/admin/keys", "{\"account\": 2, \"scopes\": [\"read\"]}");
    assert_eq!(status, 200, "{key}");
    // Nobody writes an audit entry by hand, and traders can't read the log.
    let forged = json!({ "type": "admin_audit", "actor": "someone-else", "action": "x", "detail": "" }).to_string();
    assert_eq!(code(s.signed(&s.admin, "POST", "/api/v1/admin/command", &forged)), (400, 6012));
    assert_eq!(code(s.signed(&s.traders[0], "GET", "/api/v1/admin/audit", "")), (403, 6006));
    let entries = |s: &Server| -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, v) = s.signed(&s.admin, "GET", "/api/v1/admin/audit", "");
            assert_eq!(status, 200, "{v}");
            let list = v["events"].as_array().unwrap().clone();
            if list.len() >= 5 || Instant::now() > deadline {
                return list;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let before = entries(&s);
    let actions: Vec<(&str, &str)> =
        before.iter().map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap())).collect();
    let admin = s.admin.key.as_str();
    assert_eq!(
        actions,
        [
            ("perpx-serve", "create_key"),
            ("perpx-serve", "create_key"),
            ("perpx-serve", "create_key"),
            (admin, "command"),
            (admin, "create_key")
        ]
    );
    assert_eq!(before[3]["detail"], json!({ "type": "deposit", "seq": ack["seq"], "error": null }));
    assert_eq!(before[4]["detail"]["key"], key["key"]);
    assert!(before.iter().all(|e| !e.to_string().contains(&s.admin.secret)), "no secret in the log");
    let s = s.kill_and_restart_with(|data| {
        for suffix in ["", "-wal", "-shm"] {
            drop(std::fs::remove_file(data.join(format!("history.sqlite{suffix}"))));
        }
    });
    assert_eq!(entries(&s), before, "the log is rebuilt from the journal");
}
