//! The server's request parsers, fuzzed through the real binary (`docs/RELIABILITY.md`): valid
//! bodies of every private and admin endpoint, mutated (bytes flipped, inserted, deleted,
//! truncated; values swapped for hostile ones: huge, negative, fractional, exponent, wrong
//! types, nested, unknown fields), correctly signed. Every answer must be a documented 2xx/4xx
//! with a JSON error body (never a 5xx, never a dropped connection), and the server must be
//! alive and consistent at the end (its state hash answers, its journal verifies). Seeded:
//! `PERPX_HTTP_FUZZ_CASES` (default 40 per endpoint) and `PERPX_HTTP_FUZZ_SEED` for longer runs.

mod common;

use common::{Key, Server, start_with};
use serde_json::{Value, json};

/// The last timestamp each (key, path, body) was signed with.
static LAST: std::sync::Mutex<Option<std::collections::HashMap<String, i64>>> = std::sync::Mutex::new(None);

/// A signed POST stamped with the wall clock (the harness's one strictly increasing stamp runs
/// ahead of the clock at thousands of requests a second, out of the server's window), moved on
/// by a millisecond only when the same body was signed in the same millisecond (the server would
/// refuse the second as a replay). `None` when the connection fails.
fn post(s: &Server, k: &Key, path: &str, body: &str) -> Option<(u16, Value)> {
    let ts = {
        let mut last = LAST.lock().unwrap();
        let last = last.get_or_insert_with(Default::default);
        let prev = last.entry(format!("{}{path}{body}", k.key)).or_insert(0);
        *prev = common::now_ms().max(*prev + 1);
        *prev
    };
    let (status, v) = s.post_stamped(k, "POST", path, body, ts)?;
    Some((status, v.unwrap_or(Value::Null)))
}

/// SplitMix64: a seeded generator without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }
}

const HOSTILE: [&str; 16] = [
    "0",
    "-1",
    "\"-0.001\"",
    "\"1e400\"",
    "\"99999999999999999999999999999\"",
    "\"0.0000000001\"",
    "1e308",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"\\u0000\"",
    "18446744073709551616",
    "-9223372036854775809",
    "\"NaN\"",
];

/// One mutation of a JSON text: structural (a value replaced, a field added or removed) or raw
/// bytes.
fn mutate(rng: &mut Rng, body: &Value) -> String {
    match rng.below(3) {
        0 => {
            let mut v = body.clone();
            if let Some(map) = v.as_object_mut() {
                let keys: Vec<String> = map.keys().cloned().collect();
                if !keys.is_empty() {
                    let k = &keys[rng.below(keys.len())];
                    match rng.below(3) {
                        0 => {
                            let hostile: Value = serde_json::from_str(HOSTILE[rng.below(HOSTILE.len())]).unwrap();
                            map.insert(k.clone(), hostile);
                        }
                        1 => {
                            map.remove(k);
                        }
                        _ => {
                            map.insert(format!("{k}_x"), json!(1));
                        }
                    }
                }
            }
            v.to_string()
        }
        1 => {
            let mut b = body.to_string().into_bytes();
            for _ in 0..=rng.below(4) {
                let i = rng.below(b.len());
                match rng.below(4) {
                    0 => b[i] ^= 1 << rng.below(8),
                    1 => b.insert(i, b"{}[]\",:0-9e."[rng.below(12)]),
                    2 => {
                        b.remove(i);
                    }
                    _ => b.truncate(i),
                }
                if b.is_empty() {
                    b.push(b'{');
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        }
        _ => {
            // A nested or repeated body: the same object inside a list or under a field.
            let depth = 1 + rng.below(40);
            format!("{}{}{}", "[".repeat(depth), body, "]".repeat(depth))
        }
    }
}

#[test]
fn mutated_requests_to_every_endpoint_get_documented_answers_and_the_server_stays_consistent() {
    let cases: usize = std::env::var("PERPX_HTTP_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let seed: u64 = std::env::var("PERPX_HTTP_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_261_126);
    let s = start_with("fuzz-http", false, "rate_limit_per_key = 100000\nrate_limit_per_ip = 100000\n");
    let a = &s.traders[0];
    let mark = s.mark("BTC-PERP");
    let order = json!({ "market": "BTC-PERP", "side": "buy", "order_type": "limit", "price": mark, "qty": "0.010",
        "tif": "gtc", "client_id": "fz-1", "stp": "expire_maker", "reduce_only": false });
    let private: Vec<(&str, Value)> = vec![
        ("/api/v1/order", order.clone()),
        ("/api/v1/order/amend", json!({ "market": "BTC-PERP", "order_id": 1, "price": mark, "qty": "0.005" })),
        ("/api/v1/order/cancel", json!({ "market": "BTC-PERP", "client_id": "fz-1" })),
        ("/api/v1/orders/cancel-all", json!({ "market": "BTC-PERP" })),
        (
            "/api/v1/stop",
            json!({ "market": "BTC-PERP", "side": "sell", "stop_type": "stop_market", "trigger": mark, "trigger_by": "mark",
                    "qty": "0.010", "reduce_only": true }),
        ),
        (
            "/api/v1/batch",
            json!({ "commands": [{ "type": "place_order", "market": "BTC-PERP", "side": "buy",
            "order_type": "limit", "price": mark, "qty": "0.010" }] }),
        ),
        ("/api/v1/deadman", json!({ "timeout_ms": 60000 })),
        ("/api/v1/leverage", json!({ "market": "BTC-PERP", "leverage": 5 })),
        ("/api/v1/margin-mode", json!({ "market": "ETH-PERP", "mode": "isolated" })),
        ("/api/v1/isolated-margin", json!({ "market": "ETH-PERP", "amount": "1.5" })),
        ("/api/v1/withdraw", json!({ "amount": "1.25" })),
    ];
    let admin: Vec<(&str, Value)> = vec![
        ("/api/v1/admin/command", json!({ "type": "deposit", "account": 7, "amount": "1000" })),
        ("/api/v1/admin/command", json!({ "type": "set_mark", "market": "BTC-PERP", "price": mark })),
        ("/api/v1/admin/keys", json!({ "account": 3, "scopes": ["read"] })),
    ];
    let mut rng = Rng(seed);
    let mut answers = std::collections::BTreeMap::<u16, u64>::new();
    let targets = private.iter().map(|(p, b)| (p, b, a)).chain(admin.iter().map(|(p, b)| (p, b, &s.admin)));
    for (path, body, key) in targets {
        for _ in 0..cases {
            let mutated = mutate(&mut rng, body);
            let (status, v) = post(&s, key, path, &mutated).unwrap_or_else(|| {
                panic!("{path}: the connection failed (the server died?) on {mutated}");
            });
            *answers.entry(status).or_default() += 1;
            assert!((200..500).contains(&status), "{path}: {status} {v} for {mutated}");
            if status >= 400 {
                assert!(v["code"].as_u64().is_some() && v["message"].is_string(), "{path}: {status} {v} for {mutated}");
            }
        }
    }
    assert!(answers.get(&400).is_some_and(|n| *n > 0), "nothing was refused: {answers:?}");
    let total: u64 = answers.values().sum();
    assert!(
        answers.get(&401).copied().unwrap_or(0) * 100 <= total,
        "the requests did not reach the parsers: {answers:?}"
    );
    assert!(answers.keys().any(|k| *k == 200 || *k == 422), "nothing reached the engine: {answers:?}");
    // The server is alive and its state answers; after a restart the journal replays to it.
    let (status, h) = s.get("/api/v1/state-hash");
    assert_eq!(status, 200, "{h}");
    let s = s.kill_and_restart();
    let (_, after) = s.get("/api/v1/state-hash");
    assert_eq!(after["seq"], h["seq"], "the journal holds every command");
    assert_eq!(after["state_hash"], h["state_hash"], "and replays to the same state");
    println!("http fuzz: {cases} cases per endpoint, seed {seed}, answers {answers:?}");
}
