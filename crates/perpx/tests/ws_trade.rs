//! Order entry over the WebSocket against the real binary: acks carry the sequence number and
//! the events REST would answer, pipelined orders are answered in order, refusals carry REST's
//! codes and change nothing, trading needs a signed, fresh login by a key that may trade, and
//! `perpx bench` drives the path.

mod common;

use common::ws::{Socket, auth_message, connect, login, next, send};
use common::{Key, Server, start};
use perpx_server::auth::{sign, signed_bytes};
use serde_json::{Value, json};

/// Sends `{"op": op, "id": id, ...fields}` and returns the answer.
fn call(ws: &mut Socket, op: &str, id: u64, fields: &Value) -> Value {
    let mut m = fields.as_object().unwrap().clone();
    m.insert("op".into(), json!(op));
    m.insert("id".into(), json!(id));
    send(ws, &Value::Object(m));
    next(ws)
}

fn limit(side: &str, price: &str, qty: &str) -> Value {
    json!({ "market": "BTC-PERP", "side": side, "order_type": "limit", "price": price, "qty": qty })
}

fn state(s: &Server) -> Value {
    let (status, v) = s.get("/api/v1/state-hash");
    assert_eq!(status, 200, "{v}");
    v
}

/// A price `ticks` ticks (0.1) below `mark`.
fn below(mark: &str, ticks: i64) -> String {
    let units: i64 = mark.replace('.', "").parse().unwrap();
    let p = units - ticks;
    format!("{}.{}", p / 10, p % 10)
}

#[test]
fn orders_are_acked_with_their_sequence_number_and_pipelined_in_order() {
    let s = start("ws-trade-ack", false);
    let a = &s.traders[0];
    let mut ws = connect(&s);
    login(&mut ws, a);
    let mark = s.mark("BTC-PERP");
    let price = below(&mark, 50);

    let ack = call(&mut ws, "order", 1, &limit("buy", &price, "0.010"));
    assert_eq!((ack["op"].as_str(), ack["id"].as_u64()), (Some("ack"), Some(1)), "{ack}");
    let seq = ack["seq"].as_u64().unwrap();
    assert_eq!(state(&s)["seq"].as_u64(), Some(seq), "the ack's seq is the engine's");
    let (status, head) = s.get("/api/v1/journal/head");
    assert_eq!(status, 200);
    assert!(head["seq"].as_u64().unwrap() >= seq, "acked only once durable: {head}");
    assert_eq!(ack["events"][0]["type"], "order_accepted", "{ack}");
    assert!(ack["head_hash"].as_str().is_some_and(|h| h.len() == 64), "{ack}");
    assert!(ack["head_seq"].as_u64() >= ack["seq"].as_u64(), "the head that made it durable holds it: {ack}");
    let order_id = ack["events"][0]["order_id"].as_u64().unwrap();
    let (_, orders) = s.signed(a, "GET", "/api/v1/orders", "");
    assert!(orders["orders"].as_array().unwrap().iter().any(|o| o["order_id"].as_u64() == Some(order_id)));

    // 100 orders sent without waiting: 100 answers, in the order sent, on consecutive seqs.
    for id in 2..102 {
        let mut m = limit("buy", &price, "0.001").as_object().unwrap().clone();
        m.insert("op".into(), json!("order"));
        m.insert("id".into(), json!(id));
        send(&mut ws, &Value::Object(m));
    }
    let answers: Vec<Value> = (2..102).map(|_| next(&mut ws)).collect();
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["op"], "ack", "{a}");
        assert_eq!(a["id"].as_u64(), Some(i as u64 + 2), "answers come in the order sent");
    }
    let seqs: Vec<u64> = answers.iter().map(|a| a["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // Cancel one, then the rest: acks with the engine's events.
    let cancel = call(&mut ws, "cancel", 200, &json!({ "market": "BTC-PERP", "order_id": order_id }));
    assert_eq!(cancel["op"], "ack", "{cancel}");
    assert_eq!(cancel["events"][0]["type"], "order_cancelled", "{cancel}");
    let all = call(&mut ws, "cancel_all", 201, &json!({ "market": "BTC-PERP" }));
    assert_eq!(all["op"], "ack", "{all}");
    let (_, orders) = s.signed(a, "GET", "/api/v1/orders", "");
    assert_eq!(orders["orders"], json!([]), "{orders}");
}

#[test]
fn refusals_carry_the_rest_codes_and_change_nothing() {
    let s = start("ws-trade-refuse", false);
    let a = &s.traders[0];
    let mut ws = connect(&s);
    login(&mut ws, a);
    let mark = s.mark("BTC-PERP");
    let bad = [
        json!({ "market": "NOPE-PERP", "side": "buy", "order_type": "limit", "price": "1.0", "qty": "0.010" }),
        limit("buy", &format!("{mark}5"), "0.010"),
        limit("buy", &below(&mark, 50), "0.0001"),
        json!({ "market": "BTC-PERP", "side": "buy", "order_type": "limit", "price": mark, "qty": "0.010", "account": 2 }),
        json!({ "market": "BTC-PERP", "side": "sideways", "order_type": "limit", "price": mark, "qty": "0.010" }),
    ];
    for (i, body) in bad.iter().enumerate() {
        let before = state(&s);
        let got = call(&mut ws, "order", i as u64, body);
        assert_eq!(state(&s), before, "a refusal before the engine changes nothing: {got}");
        let (status, rest) = s.signed(a, "POST", "/api/v1/order", &body.to_string());
        assert!(status >= 400, "{rest}");
        assert_eq!((got["op"].as_str(), got["id"].as_u64()), (Some("error"), Some(i as u64)), "{got}");
        assert_eq!((&got["code"], &got["reason"]), (&rest["code"], &rest["reason"]), "ws {got} vs REST {rest}");
    }

    // An engine rejection is sequenced and journaled (it has a seq) but changes no account.
    let account = s.account(a);
    let huge = limit("buy", &below(&mark, 50), "100000.000");
    let got = call(&mut ws, "order", 10, &huge);
    let (status, rest) = s.signed(a, "POST", "/api/v1/order", &huge.to_string());
    assert_eq!(status, 422, "{rest}");
    assert_eq!((got["op"].as_str(), &got["code"]), (Some("error"), &rest["code"]), "{got}");
    assert!(got["seq"].as_u64().is_some() && got["head_hash"].as_str().is_some(), "{got}");
    let after = s.account(a);
    for field in ["collateral", "equity", "positions"] {
        assert_eq!(after[field], account[field], "{field}");
    }
    let (_, orders) = s.signed(a, "GET", "/api/v1/orders", "");
    assert_eq!(orders["orders"], json!([]), "{orders}");

    // A message longer than one read from the socket (the server reads 8 KiB at a time)
    // arrives whole and is answered on the same connection.
    let mut long = limit("buy", &below(&mark, 50), "0.010");
    long["client_id"] = json!("x".repeat(20_000));
    let got = call(&mut ws, "order", 11, &long);
    assert_eq!((got["op"].as_str(), got["id"].as_u64()), (Some("error"), Some(11)), "{got}");
    assert!(got["message"].as_str().is_some_and(|m| m.contains("client")), "{got}");

    // Malformed messages: no id, an id that isn't a number.
    let got = call(&mut ws, "order", 0, &json!({})).clone();
    assert_eq!(got["op"], "error");
    let mut m = limit("buy", &mark, "0.010").as_object().unwrap().clone();
    m.insert("op".into(), json!("order"));
    send(&mut ws, &Value::Object(m));
    let got = next(&mut ws);
    assert_eq!((got["op"].as_str(), got["code"].as_u64()), (Some("error"), Some(6012)), "{got}");
}

#[test]
fn trading_needs_a_fresh_signed_login_by_a_key_that_may_trade() {
    let s = start("ws-trade-auth", false);
    let a = &s.traders[0];
    let mark = s.mark("BTC-PERP");
    let order = limit("buy", &below(&mark, 50), "0.010");
    let before = state(&s);

    // No login.
    let mut ws = connect(&s);
    let got = call(&mut ws, "order", 1, &order);
    assert_eq!((got["op"].as_str(), got["id"].as_u64(), got["code"].as_u64()), (Some("error"), Some(1), Some(6001)));

    // A bad signature, a stale timestamp: refused, and still no trading.
    let mut forged = auth_message(a);
    forged["signature"] = json!(sign(&a.secret, b"something else"));
    send(&mut ws, &forged);
    assert_eq!(next(&mut ws)["code"], 6003);
    let ts = common::now_ms() - 60_000;
    let sig = sign(&a.secret, &signed_bytes(&ts.to_string(), "GET", "/ws", b""));
    send(&mut ws, &json!({ "op": "auth", "key": a.key, "timestamp": ts, "signature": sig }));
    assert_eq!(next(&mut ws)["code"], 6004);
    assert_eq!(call(&mut ws, "order", 2, &order)["code"], 6001);

    // A login replayed on another connection is refused.
    let login_msg = auth_message(a);
    send(&mut ws, &login_msg);
    assert_eq!(next(&mut ws)["op"], "auth");
    let mut thief = connect(&s);
    send(&mut thief, &login_msg);
    assert_eq!(next(&mut thief)["code"], 6005);
    assert_eq!(call(&mut thief, "order", 3, &order)["code"], 6001);
    assert_eq!(state(&s), before, "nothing was sequenced");

    // A read-only key logs in but can't trade.
    let (status, k) =
        s.signed(&s.admin, "POST", "/api/v1/admin/keys", &json!({ "account": 1, "scopes": ["read"] }).to_string());
    assert_eq!(status, 200, "{k}");
    let reader = Key { key: k["key"].as_str().unwrap().into(), secret: k["secret"].as_str().unwrap().into() };
    let mut ro = connect(&s);
    login(&mut ro, &reader);
    assert_eq!(call(&mut ro, "order", 4, &order)["code"], 6006);

    // The logged-in connection trades until its key is revoked.
    assert_eq!(call(&mut ws, "order", 5, &order)["op"], "ack");
    let (status, v) = s.signed(&s.admin, "POST", "/api/v1/admin/keys/revoke", &json!({ "key": a.key }).to_string());
    assert_eq!(status, 200, "{v}");
    let seq = state(&s)["seq"].clone();
    assert_eq!(call(&mut ws, "order", 6, &order)["code"], 6002);
    assert_eq!(state(&s)["seq"], seq, "nothing sequenced after the revocation");
}

/// `perpx bench` drives both transports end to end, bounded in time and count: every order
/// it sends is answered and acked.
#[test]
fn the_bench_drives_the_websocket_and_http_paths() {
    let s = common::start_with("ws-trade-bench", false, "rate_limit_per_key = 100000\nrate_limit_per_ip = 100000\n");
    for transport in ["ws", "http"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_perpx"))
            .args(["bench", "--url", &s.base, "--admin-key", &s.admin.key, "--admin-secret", &s.admin.secret])
            .args(["--transport", transport, "--clients", "2", "--rate", "200", "--seconds", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        if transport == "ws" {
            assert_eq!((report["sent"].as_u64(), report["unanswered"].as_u64()), (Some(200), Some(0)), "{report}");
            assert_eq!(report["answers"]["ack"].as_u64(), Some(200), "{report}");
            assert_eq!(report["order_stream_errors"], serde_json::json!([]), "no order connection closed: {report}");
        } else {
            assert_eq!(report["orders"].as_u64(), Some(200), "{report}");
            assert_eq!(report["statuses"]["200"].as_u64(), Some(200), "{report}");
        }
        assert!(report["ack_latency_us"]["p50"].as_u64().is_some_and(|p| p > 0), "{report}");
    }
}
