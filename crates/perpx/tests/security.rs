//! Security checks against the real server (`docs/RELIABILITY.md`), beside what `serve.rs`
//! already checks (missing headers, wrong key, secret, method, path, stale timestamps, a replayed
//! signature, a trader refused the admin command, an oversized order body):
//! - an account can never read or act on another account's orders, positions or history: by
//!   order id, by client order id, through cancel-all, batch, amend, the open-order list, the
//!   account view and every private history list;
//! - every admin endpoint refuses trade and read keys; a read key can't trade;
//! - a signature is bound to its body and query, and to its key: moved onto another body, query
//!   or key it fails; a signature refused once stays refused;
//! - oversized and deeply nested payloads are refused before the engine sees them (no sequence
//!   number is taken);
//! - secrets never appear in the server's logs (at `debug`), its output after the one-time key
//!   listing, or the admin audit log — through key creation and rotation too.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{Key, Server, order, stamp, start, temp_dir};
use perpx_server::auth::{sign, signed_bytes};
use serde_json::{Value, json};

fn code(r: &(u16, Value)) -> (u16, u64) {
    (r.0, r.1["code"].as_u64().unwrap_or(0))
}

fn seq(s: &Server) -> u64 {
    s.get("/api/v1/state-hash").1["seq"].as_u64().unwrap()
}

#[test]
fn an_account_never_reads_or_acts_on_another_accounts_orders_positions_or_history() {
    let s = start("sec-accounts", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark = s.mark("BTC-PERP");
    // A rests a bid with a client id, and trades once with B so both hold positions.
    let bid = json!({ "market": "BTC-PERP", "side": "buy", "order_type": "limit", "price": mark, "qty": "0.010",
        "tif": "gtc", "client_id": "a-secret-1" });
    let (status, placed) = s.signed(a, "POST", "/api/v1/order", &bid.to_string());
    assert_eq!(status, 200, "{placed}");
    let id = placed["events"].as_array().unwrap().iter().find(|e| e["type"] == "order_accepted").unwrap()["order_id"]
        .as_u64()
        .unwrap();
    let (status, v) = s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &mark, "0.004", "ioc"));
    assert_eq!(status, 200, "{v}");

    // B acts on A's order: by id, by A's client id, amend, batch — each answered as an unknown
    // order (existence does not leak), and A's order is untouched.
    let unknown = 4005;
    for (path, body) in [
        ("/api/v1/order/cancel", json!({ "market": "BTC-PERP", "order_id": id })),
        ("/api/v1/order/cancel", json!({ "market": "BTC-PERP", "client_id": "a-secret-1" })),
        ("/api/v1/order/amend", json!({ "market": "BTC-PERP", "order_id": id, "qty": "0.001" })),
        ("/api/v1/order/amend", json!({ "market": "BTC-PERP", "client_id": "a-secret-1", "price": mark })),
    ] {
        let r = s.signed(b, "POST", path, &body.to_string());
        assert_eq!(code(&r), (404, unknown), "{path} {body}: {}", r.1);
    }
    let batch = json!({ "commands": [{ "type": "cancel_order", "market": "BTC-PERP", "order_id": id }] });
    let (status, v) = s.signed(b, "POST", "/api/v1/batch", &batch.to_string());
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["results"][0]["code"].as_u64(), Some(unknown), "batch cancel of another's order: {v}");
    let (status, v) = s.signed(b, "POST", "/api/v1/orders/cancel-all", &json!({ "market": "BTC-PERP" }).to_string());
    assert_eq!(status, 200, "{v}");
    // Naming the account in the body is refused outright.
    let r = s.signed(
        b,
        "POST",
        "/api/v1/order/cancel",
        &json!({ "account": 1, "market": "BTC-PERP", "order_id": id }).to_string(),
    );
    assert_eq!(code(&r), (400, 6012), "{}", r.1);
    let (_, a_orders) = s.signed(a, "GET", "/api/v1/orders", "");
    let open: Vec<u64> = a_orders["orders"].as_array().unwrap().iter().filter_map(|o| o["order_id"].as_u64()).collect();
    assert!(open.contains(&id), "A's order survived every attempt: {a_orders}");

    // B's views show nothing of A's: not the order, not A's client id, not A's position.
    let (_, b_orders) = s.signed(b, "GET", "/api/v1/orders", "");
    assert!(!b_orders.to_string().contains("a-secret-1"), "{b_orders}");
    assert!(b_orders["orders"].as_array().unwrap().iter().all(|o| o["order_id"].as_u64() != Some(id)));
    let b_account = s.account(b);
    assert_eq!(b_account["account"].as_u64(), Some(2), "{b_account}");
    // Private history, once the read model has caught up: every record names B, none carries
    // A's client id; a query naming account 1 changes nothing (or is refused).
    let last = seq(&s);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.signed(b, "GET", "/api/v1/history/fills?limit=1", "").1["complete_to"].as_u64().unwrap_or(0) < last {
        assert!(std::time::Instant::now() < deadline, "the read model never caught up");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let names_b = |e: &Value| {
        ["account", "maker_account", "taker_account", "bankrupt", "liquidator"]
            .iter()
            .any(|f| e[*f].as_u64() == Some(2))
    };
    let mut seen = 0;
    for path in ["/api/v1/history/orders", "/api/v1/history/fills", "/api/v1/history/ledger"] {
        for q in ["?limit=100", "?limit=100&account=1"] {
            let (status, v) = s.signed(b, "GET", &format!("{path}{q}"), "");
            if status != 200 {
                assert_eq!(status, 400, "{path}{q}: {v}");
                continue;
            }
            assert!(!v.to_string().contains("a-secret-1"), "{path}{q} leaked A's client id: {v}");
            for e in v["events"].as_array().expect("a list") {
                assert!(names_b(e), "{path}{q}: a record that is not B's: {e}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "B's history is not empty (the check would say nothing): {seen}");
}

#[test]
fn admin_endpoints_refuse_trade_and_read_keys_and_a_read_key_cannot_trade() {
    let s = start("sec-admin", false);
    let a = &s.traders[0];
    let forbidden = (403, 6006);
    let admin_calls: [(&str, &str, String); 5] = [
        ("POST", "/api/v1/admin/command", json!({ "type": "deposit", "account": 1, "amount": "1000000" }).to_string()),
        ("GET", "/api/v1/admin/keys", String::new()),
        ("POST", "/api/v1/admin/keys", json!({ "account": 1, "scopes": ["read", "trade", "admin"] }).to_string()),
        ("POST", "/api/v1/admin/keys/revoke", json!({ "key": s.admin.key }).to_string()),
        ("POST", "/api/v1/admin/keys/rotate", json!({ "key": s.admin.key }).to_string()),
    ];
    let before = seq(&s);
    for (method, path, body) in &admin_calls {
        assert_eq!(code(&s.signed(a, method, path, body)), forbidden, "trade key on {method} {path}");
    }
    // A read-only key for account 1.
    let (status, v) =
        s.signed(&s.admin, "POST", "/api/v1/admin/keys", &json!({ "account": 1, "scopes": ["read"] }).to_string());
    assert_eq!(status, 200, "{v}");
    let reader = Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() };
    // The key creation's audit entry is journaled: one command, and only that one.
    assert_eq!(seq(&s), before + 1, "the refused calls reached nothing; the key creation was audited");
    let before = before + 1;
    for (method, path, body) in &admin_calls {
        assert_eq!(code(&s.signed(&reader, method, path, body)), forbidden, "read key on {method} {path}");
    }
    let mark = s.mark("BTC-PERP");
    for (path, body) in [
        ("/api/v1/order", order("BTC-PERP", "buy", &mark, "0.010", "gtc")),
        ("/api/v1/orders/cancel-all", json!({}).to_string()),
        ("/api/v1/withdraw", json!({ "amount": "1" }).to_string()),
        ("/api/v1/leverage", json!({ "market": "BTC-PERP", "leverage": 2 }).to_string()),
    ] {
        assert_eq!(code(&s.signed(&reader, "POST", path, &body)), forbidden, "read key on {path}");
    }
    assert_eq!(s.signed(&reader, "GET", "/api/v1/account", "").0, 200, "a read key reads");
    assert_eq!(seq(&s), before, "no refused call reached the engine");
    // The admin key still works: nothing above revoked or rotated it.
    assert_eq!(s.signed(&s.admin, "GET", "/api/v1/admin/keys", "").0, 200);
}

#[test]
fn a_signature_is_bound_to_its_body_query_and_key_and_stays_refused() {
    let s = start("sec-sig", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark = s.mark("BTC-PERP");
    let body = order("BTC-PERP", "buy", &mark, "0.010", "gtc");
    let other_body = order("BTC-PERP", "buy", &mark, "0.020", "gtc");
    let ts = stamp();
    let sig = sign(&a.secret, &signed_bytes(&ts.to_string(), "POST", "/api/v1/order", body.as_bytes()));
    let before = seq(&s);
    // Another body under the same signature.
    assert_eq!(code(&s.raw("POST", "/api/v1/order", &other_body, &a.key, ts, &sig)), (401, 6003));
    // Another key presenting A's signature.
    assert_eq!(code(&s.raw("POST", "/api/v1/order", &body, &b.key, ts, &sig)), (401, 6003));
    // A query added to a signed path.
    let get_ts = stamp();
    let get_sig = sign(&a.secret, &signed_bytes(&get_ts.to_string(), "GET", "/api/v1/history/fills", b""));
    assert_eq!(code(&s.raw("GET", "/api/v1/history/fills?limit=1", "", &a.key, get_ts, &get_sig)), (401, 6003));
    assert_eq!(seq(&s), before, "nothing reached the engine");
    // The genuine request passes once; then it is a replay, again and again.
    assert_eq!(s.raw("POST", "/api/v1/order", &body, &a.key, ts, &sig).0, 200);
    for _ in 0..3 {
        assert_eq!(code(&s.raw("POST", "/api/v1/order", &body, &a.key, ts, &sig)), (401, 6005));
    }
    assert_eq!(seq(&s), before + 1, "the order was placed exactly once");
}

#[test]
fn oversized_and_deeply_nested_payloads_are_refused_before_the_engine() {
    let s = start("sec-payloads", false);
    let a = &s.traders[0];
    let before = seq(&s);
    // max_body_bytes is 4096 in the test servers.
    let big = format!("{{\"commands\": [{}]}}", vec!["{\"type\": \"cancel_all\"}"; 400].join(","));
    for path in ["/api/v1/order", "/api/v1/batch", "/api/v1/withdraw"] {
        assert_eq!(code(&s.signed(a, "POST", path, &big)), (413, 6009), "{path}");
    }
    assert_eq!(code(&s.signed(&s.admin, "POST", "/api/v1/admin/command", &big)), (413, 6009));
    // Nesting deep enough to exhaust a recursive parser, within the size limit.
    for nested in ["[".repeat(2_000) + &"]".repeat(2_000), "{\"a\":".repeat(600) + "1" + &"}".repeat(600)] {
        for path in ["/api/v1/order", "/api/v1/batch"] {
            let r = s.signed(a, "POST", path, &nested);
            assert_eq!(code(&r), (400, 1002), "{path}: {}", r.1);
        }
        let r = s.signed(&s.admin, "POST", "/api/v1/admin/command", &nested);
        assert_eq!(code(&r), (400, 1002), "admin: {}", r.1);
    }
    // An unsigned oversized request is refused too (and the server stays up).
    let r = s.agent.post(format!("{}/api/v1/order", s.base)).send("x".repeat(100_000)).unwrap();
    assert!(r.status().as_u16() == 413 || r.status().as_u16() == 401, "{}", r.status());
    assert_eq!(seq(&s), before, "no payload above took a sequence number");
    assert_eq!(s.get("/api/v1/health").0, 200);
}

/// Runs the server with `RUST_LOG=debug`, creates and rotates keys, trades and fails to
/// authenticate, then looks for every secret in everything it wrote.
#[test]
fn secrets_never_appear_in_logs_output_or_the_audit_log() {
    let dir = temp_dir("sec-logs");
    let config = dir.0.join("perpx.toml");
    std::fs::write(&config, "oracle_interval_ms = 3600000\ntick_interval_ms = 3600000\nmax_body_bytes = 4096\n")
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_perpx"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.0.join("data"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        drop(stderr.read_to_string(&mut s));
        s
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut keys, mut listing) = (None, Vec::new(), Vec::new());
    while base.is_none() || keys.len() < 3 {
        let line = lines.next().expect("the server prints its address and keys").unwrap();
        if let Some(rest) = line.strip_prefix("perpx: serving on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
        } else if let Some((_, j)) = line.split_once("(shown once): ") {
            let v: Value = serde_json::from_str(j).unwrap();
            keys.push((
                v["role"] == "admin",
                Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() },
            ));
            listing.push(line.clone());
        }
    }
    let out_reader = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<String>>());
    let base = base.unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let call = |k: &Key, method: &str, path: &str, body: &str| -> Value {
        let ts = stamp();
        let sig = sign(&k.secret, &signed_bytes(&ts.to_string(), method, path, body.as_bytes()));
        let url = format!("{base}{path}");
        let mut r = if method == "GET" {
            agent
                .get(&url)
                .header("X-PERPX-APIKEY", &k.key)
                .header("X-PERPX-TIMESTAMP", ts.to_string())
                .header("X-PERPX-SIGNATURE", &sig)
                .call()
                .unwrap()
        } else {
            agent
                .post(&url)
                .header("X-PERPX-APIKEY", &k.key)
                .header("X-PERPX-TIMESTAMP", ts.to_string())
                .header("X-PERPX-SIGNATURE", &sig)
                .header("content-type", "application/json")
                .send(body)
                .unwrap()
        };
        r.body_mut().read_json().unwrap_or(Value::Null)
    };
    let admin = &keys.iter().find(|(is_admin, _)| *is_admin).unwrap().1;
    let trader = &keys.iter().find(|(is_admin, _)| !*is_admin).unwrap().1;
    let mut secrets: Vec<String> = keys.iter().map(|(_, k)| k.secret.clone()).collect();
    // A new key and a rotation: their secrets are shown in the answers only.
    let created = call(admin, "POST", "/api/v1/admin/keys", &json!({ "account": 1, "scopes": ["read"] }).to_string());
    secrets.push(created["secret"].as_str().expect("a new secret").to_owned());
    let new_key = created["key"].as_str().unwrap().to_owned();
    let rotated = call(admin, "POST", "/api/v1/admin/keys/rotate", &json!({ "key": new_key }).to_string());
    secrets.push(rotated["secret"].as_str().expect("a rotated secret").to_owned());
    // Traffic, good and bad: an order, a bad signature, a wrong key.
    call(trader, "GET", "/api/v1/account", "");
    call(trader, "POST", "/api/v1/order", &order("BTC-PERP", "buy", "1.0", "0.010", "gtc"));
    let wrong = Key { key: trader.key.clone(), secret: admin.secret.clone() };
    call(&wrong, "GET", "/api/v1/account", "");
    let forged = Key { key: "pk_nobody".into(), secret: trader.secret.clone() };
    call(&forged, "GET", "/api/v1/orders", "");
    // A clean shutdown (SIGTERM) logs its drain: the log pipe is shown to carry the server's logs.
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    drop(child.wait());
    let logs = err_reader.join().unwrap();
    let output = out_reader.join().unwrap().join("\n");
    // Everything the server stored (the journal holds the audit log; history, snapshots)
    // except the key store itself.
    fn stored(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stored(&path, out);
            } else if path.file_name().is_some_and(|n| n != "keys.json") {
                out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    let mut audit = String::new();
    stored(&dir.0.join("data"), &mut audit);
    assert!(logs.contains("draining the engine"), "the server's logs were not captured: {logs}");
    assert!(audit.contains("create_key"), "the journaled audit log recorded the key creation");
    for secret in &secrets {
        assert!(secret.len() >= 32, "a secret: {secret}");
        assert!(!logs.contains(secret.as_str()), "a secret was logged");
        assert!(!output.contains(secret.as_str()), "a secret was printed after the key listing");
        assert!(!audit.contains(secret.as_str()), "a secret is stored outside keys.json (journal, audit, history)");
    }
    assert_eq!(listing.len(), 3, "each initial secret is shown exactly once");
}
