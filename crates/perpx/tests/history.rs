//! The history read model against the real binary: lists complete to the last acknowledged
//! command, private lists that never leak another account's data, pagination that returns every
//! record once, candles built from the trades.

mod common;

use std::time::{Duration, Instant};

use common::{Key, Server, order, start};
use serde_json::Value;

/// Waits until the read model holds everything up to `seq`, then lists `path` page by page.
fn all_pages(s: &Server, key: Option<&Key>, path: &str, seq: u64, limit: u32) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let sep = if path.contains('?') { '&' } else { '?' };
    let get = |p: &str| match key {
        Some(k) => s.signed(k, "GET", p, ""),
        None => s.get(p),
    };
    loop {
        let (status, v) = get(&format!("{path}{sep}limit=1"));
        assert_eq!(status, 200, "{v}");
        if v["complete_to"].as_u64().unwrap_or(0) >= seq {
            break;
        }
        assert!(Instant::now() < deadline, "the read model never caught up with {seq}: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let c = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, v) = get(&format!("{path}{sep}limit={limit}{c}"));
        assert_eq!(status, 200, "{v}");
        out.extend(v["events"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => return out,
        }
    }
}

fn names(v: &Value, account: u64) -> bool {
    ["account", "maker_account", "taker_account", "bankrupt", "liquidator"]
        .iter()
        .any(|f| v[*f].as_u64() == Some(account))
}

#[test]
fn trades_fills_and_ledger_come_back_complete_and_private() {
    let s = start("history-trades", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark: i64 = s.mark("BTC-PERP").replace('.', "").parse().unwrap();
    let px = |t: i64| format!("{}.{}", t / 10, t % 10);
    // Three trades inside one minute at three prices: A sells, B buys.
    let mut last = 0;
    for (off, qty) in [(0, "0.010"), (50, "0.020"), (-30, "0.005")] {
        s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &px(mark + off), qty, "gtc"));
        let (status, v) = s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &px(mark + off), qty, "ioc"));
        assert_eq!(status, 200, "{v}");
        last = v["seq"].as_u64().unwrap();
    }
    let trades = all_pages(&s, None, "/api/v1/history/trades?market=BTC-PERP", last, 2);
    let got: Vec<(String, String)> = trades
        .iter()
        .map(|t| (t["price"].as_str().unwrap().to_owned(), t["qty"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(got, vec![(px(mark), "0.010".into()), (px(mark + 50), "0.020".into()), (px(mark - 30), "0.005".into())]);
    assert!(trades.iter().all(|t| t.get("maker_account").is_none()), "public trades name no account");
    // Private lists: every event names the key's account, and only it.
    for (k, id) in [(a, 1), (b, 2)] {
        let fills = all_pages(&s, Some(k), "/api/v1/history/fills", last, 2);
        assert_eq!(fills.len(), 3);
        let ledger = all_pages(&s, Some(k), "/api/v1/history/ledger", last, 3);
        assert!(ledger.iter().any(|e| e["type"] == "deposited"), "the demo deposit is in the ledger");
        assert_eq!(ledger.iter().filter(|e| e["type"] == "position_changed").count(), 3);
        assert!(ledger.iter().chain(&fills).all(|e| names(e, id)), "another account's data leaked");
    }
    // One-minute candle of the last price: open, high, low, close, volume.
    let (status, c) = s.get("/api/v1/history/candles?market=BTC-PERP&source=last&interval=1m");
    assert_eq!(status, 200, "{c}");
    let candles = c["candles"].as_array().unwrap();
    let total: usize = candles.len();
    assert!((1..=2).contains(&total), "three trades within a minute or across one boundary: {c}");
    if total == 1 {
        let k = &candles[0];
        assert_eq!(
            (k["open"].as_str(), k["high"].as_str(), k["low"].as_str(), k["close"].as_str(), k["volume"].as_str()),
            (
                Some(px(mark).as_str()),
                Some(px(mark + 50).as_str()),
                Some(px(mark - 30).as_str()),
                Some(px(mark - 30).as_str()),
                Some("0.035")
            )
        );
    }
}

#[test]
fn pagination_returns_every_record_once() {
    let s = start("history-pages", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark: i64 = s.mark("BTC-PERP").replace('.', "").parse().unwrap();
    let px = |t: i64| format!("{}.{}", t / 10, t % 10);
    let mut last = 0;
    for i in 0..30 {
        let (status, v) =
            s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &px(mark - 100 - i * 10), "0.001", "gtc"));
        assert_eq!(status, 200, "{v}");
        last = v["seq"].as_u64().unwrap();
        if i % 6 == 0 {
            s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &px(mark + 100 + i * 10), "0.001", "gtc"));
        }
    }
    let orders = all_pages(&s, Some(a), "/api/v1/history/orders?market=BTC-PERP", last, 7);
    let mut ids: Vec<u64> = orders.iter().map(|o| o["order_id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 30, "every order of A's, none of B's");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "each once");
    assert!(orders.iter().all(|o| o["account"] == 1));
}

#[test]
fn the_read_model_rebuilt_from_the_journal_equals_the_live_one() {
    let s = start("history-rebuild", false);
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let mark: i64 = s.mark("BTC-PERP").replace('.', "").parse().unwrap();
    let px = |t: i64| format!("{}.{}", t / 10, t % 10);
    let mut last = 0;
    for i in 0..20 {
        s.signed(a, "POST", "/api/v1/order", &order("BTC-PERP", "sell", &px(mark + i), "0.003", "gtc"));
        let (status, v) =
            s.signed(b, "POST", "/api/v1/order", &order("BTC-PERP", "buy", &px(mark + i), "0.002", "ioc"));
        assert_eq!(status, 200, "{v}");
        last = v["seq"].as_u64().unwrap();
    }
    let live = (
        all_pages(&s, None, "/api/v1/history/trades?market=BTC-PERP", last, 9),
        all_pages(&s, Some(a), "/api/v1/history/ledger", last, 13),
        all_pages(&s, Some(b), "/api/v1/history/orders", last, 5),
    );
    // Down, the read model deleted, up again: it is rebuilt from the journal.
    let s = s.kill_and_restart_with(|data| {
        for suffix in ["", "-wal", "-shm"] {
            drop(std::fs::remove_file(data.join(format!("history.sqlite{suffix}"))));
        }
    });
    let (a, b) = (&s.traders[0], &s.traders[1]);
    let rebuilt = (
        all_pages(&s, None, "/api/v1/history/trades?market=BTC-PERP", last, 9),
        all_pages(&s, Some(a), "/api/v1/history/ledger", last, 13),
        all_pages(&s, Some(b), "/api/v1/history/orders", last, 5),
    );
    assert_eq!(rebuilt, live);
    assert!(live.0.len() >= 20, "every trade is there: {}", live.0.len());
}
