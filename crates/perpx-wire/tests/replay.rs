//! The replay schema as a specification: what is accepted, what is refused and how, and the
//! exact output of the documented examples (golden files, so any change to the schema shows).

use std::path::PathBuf;

use perpx_wire::replay::{ReplayError, ReplayOptions, replay};
use serde_json::Value;

fn run(script: &str) -> (Vec<Value>, Result<(), String>) {
    let mut out = Vec::new();
    let options = ReplayOptions { check_invariants: true, ..ReplayOptions::default() };
    let r = replay(script.as_bytes(), &mut out, &options).map(|_| ()).map_err(|e| e.to_string());
    let lines = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (lines, r)
}

const MARKET: &str = r#"{"ts": 1, "type": "create_market", "symbol": "BTC-PERP", "tick_size": "0.1", "lot_size": "0.001", "min_qty": "0.001", "min_notional": "5", "max_leverage": 100, "tiers": [{"max_notional": "1000000", "max_leverage": 100, "maintenance_rate": "0.005", "maintenance_amount": "0"}], "maker_fee": "0", "taker_fee": "0.0005", "order_band": "0.05"}
{"ts": 2, "type": "set_mark", "market": "BTC-PERP", "price": "100"}
{"ts": 2, "type": "deposit", "account": 1, "amount": "1000000"}
{"ts": 2, "type": "deposit", "account": 4, "amount": "1000000"}
{"ts": 2, "type": "deposit", "account": 7, "amount": "1000000"}
"#;

/// Output lines of the setup: market, mark, three deposits.
const SETUP_LINES: usize = 5;

/// Runs `line` after the market setup and returns its output line.
fn one(line: &str) -> Value {
    let (out, r) = run(&format!("{MARKET}{line}\n"));
    r.unwrap();
    let tail: Vec<&Value> =
        out[SETUP_LINES..].iter().filter(|v| v["type"] != "account" && v["type"] != "market").collect();
    assert_eq!(tail.len(), 2, "{out:?}");
    tail[0].clone()
}

fn assert_refused(line: &str, code: u64, needle: &str) {
    let v = one(line);
    assert_eq!(v["type"], "rejected", "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["message"].as_str().unwrap().contains(needle), "'{needle}' not in {v}");
}

#[test]
fn decimals_are_read_exactly_and_printed_in_the_market_precision() {
    let v = one(
        r#"{"ts": 3, "type": "place_order", "account": 7, "market": "BTC-PERP", "side": "buy", "order_type": "limit", "price": "99.50", "qty": "1.5"}"#,
    );
    assert_eq!(v["type"], "order_accepted");
    assert_eq!(v["price"], "99.5");
    assert_eq!(v["qty"], "1.500");
    assert_eq!(v["tif"], "gtc");
    assert_eq!(v["seq"], 6);
}

#[test]
fn malformed_lines_are_refused_with_their_line_number_and_reach_no_engine() {
    assert_refused("not json", 1002, "expected");
    assert_refused("[1, 2]", 1002, "JSON object");
    assert_refused(r#"{"type": "tick"}"#, 1002, "missing field 'ts'");
    assert_refused(r#"{"ts": "3", "type": "tick"}"#, 1002, "'ts' must be an integer");
    assert_refused(r#"{"ts": 3, "type": "teleport"}"#, 1002, "unknown variant");
    assert_refused(r#"{"ts": 3, "type": "tick", "extra": 1}"#, 1002, "unknown field");
    assert_refused(r#"{"ts": 3, "type": "set_mark", "market": "BTC-PERP", "price": 100}"#, 1002, "invalid type");
    assert_refused(
        r#"{"ts": 3, "type": "place_order", "account": 1, "market": "BTC-PERP", "side": "buy", "order_type": "market", "price": "100", "qty": "1"}"#,
        1002,
        "neither 'price' nor 'tif'",
    );
    assert_refused(
        r#"{"ts": 3, "type": "place_order", "account": 1, "market": "BTC-PERP", "side": "buy", "order_type": "limit", "qty": "1"}"#,
        1002,
        "needs 'price'",
    );
    assert_refused(
        r#"{"ts": 3, "type": "cancel_order", "account": 1, "market": "BTC-PERP", "order_id": 1, "client_id": "a"}"#,
        1002,
        "exactly one",
    );
    let (out, _) = run(&format!("{MARKET}oops\n"));
    assert_eq!(out[SETUP_LINES]["line"], 6);
    assert!(out[SETUP_LINES].get("seq").is_none());
    let end = out.last().unwrap();
    assert_eq!(end["refused_lines"], 1);
    assert_eq!(end["commands"], 5);
}

#[test]
fn numbers_off_the_grid_or_too_large_are_refused() {
    let order = |price: &str, qty: &str| {
        format!(
            r#"{{"ts": 3, "type": "place_order", "account": 1, "market": "BTC-PERP", "side": "buy", "order_type": "limit", "price": "{price}", "qty": "{qty}"}}"#
        )
    };
    assert_refused(&order("100.05", "1"), 3006, "tick size 0.1");
    assert_refused(&order("100", "0.0005"), 3007, "lot size 0.001");
    assert_refused(&order("1e3", "1"), 1003, "not a decimal");
    assert_refused(&order("100", "99999999999999999999"), 1003, "too many digits");
    assert_refused(&order("100", "9223372036854775.807"), 3002, "above the maximum");
    assert_refused(&order("100", "0"), 3001, "positive");
    assert_refused(&order("100", "-1"), 3001, "got -1.000");
    assert_refused(&order("95000", "1"), 3008, "[95.0, 105.0]");
    assert_refused(&order("100", "0.01"), 3004, "below the minimum notional 5.000000");
    assert_refused(
        r#"{"ts": 3, "type": "place_order", "account": 1, "market": "ETH-PERP", "side": "buy", "order_type": "market", "qty": "1"}"#,
        2001,
        "ETH-PERP",
    );
    assert_refused(
        r#"{"ts": 3, "type": "place_order", "account": 1, "market": "BTC-PERP", "side": "buy", "order_type": "market", "qty": "1", "client_id": "has space"}"#,
        3009,
        "has space",
    );
}

#[test]
fn rejections_by_the_engine_carry_a_sequence_number_and_the_sender() {
    let v = one(r#"{"ts": 3, "type": "cancel_order", "account": 4, "market": "BTC-PERP", "client_id": "nope"}"#);
    assert_eq!((v["type"].as_str(), v["seq"].as_u64(), v["account"].as_u64()), (Some("rejected"), Some(6), Some(4)));
    assert_eq!(v["reason"], "unknown_order");
    let v = one(r#"{"ts": 1, "type": "tick"}"#);
    assert_eq!(v["code"], 1001);
}

#[test]
fn the_header_is_checked() {
    let (_, r) = run("{\"schema\": \"perpx.replay\", \"version\": 2}\n");
    assert!(r.unwrap_err().contains("version 2"));
    let (_, r) = run(&format!("{MARKET}{{\"schema\": \"perpx.replay\", \"version\": 1}}\n"));
    assert!(r.unwrap_err().contains("before any command"));
    let (out, r) = run(&format!("{{\"schema\": \"perpx.replay\", \"version\": 1}}\n# a comment\n\n{MARKET}"));
    r.unwrap();
    assert_eq!(out.last().unwrap()["commands"], 5);
}

#[test]
fn the_same_script_gives_the_same_output_and_hash() {
    let script = std::fs::read_to_string(examples_dir().join("quickstart.jsonl")).unwrap();
    let (a, _) = run(&script);
    let (b, _) = run(&script);
    assert_eq!(a, b);
    assert_eq!(a.last().unwrap()["state_hash"].as_str().unwrap().len(), 64);
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every `examples/*.jsonl` and `docs/adl/*.jsonl` replays to exactly its `*.expected.jsonl`.
/// Set `PERPX_BLESS=1` to rewrite the expected files after an intended schema change.
#[test]
fn documented_examples_replay_to_their_golden_output() {
    let mut checked = 0;
    let adl = examples_dir().join("../docs/adl");
    let entries = std::fs::read_dir(examples_dir()).unwrap().chain(std::fs::read_dir(adl).unwrap());
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".jsonl") || name.ends_with(".expected.jsonl") {
            continue;
        }
        let script = std::fs::read_to_string(&path).unwrap();
        let mut out = Vec::new();
        let options = ReplayOptions { check_invariants: true, ..ReplayOptions::default() };
        match replay(script.as_bytes(), &mut out, &options) {
            Ok(_) => {}
            Err(ReplayError::Invariant { .. }) => panic!("{name}: invariant broken"),
            Err(e) => panic!("{name}: {e}"),
        }
        let golden = path.with_file_name(name.replace(".jsonl", ".expected.jsonl"));
        let got = String::from_utf8(out).unwrap();
        if std::env::var_os("PERPX_BLESS").is_some() {
            std::fs::write(&golden, &got).unwrap();
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("{} is missing", golden.display()));
        assert_eq!(got, want, "{name} no longer replays to {}", golden.display());
        checked += 1;
    }
    assert!(checked >= 1, "no examples found");
}

/// The seed's toy trade: 0.1 BTC long at 86,000, mark to 90,000 → unrealised +400.000000.
#[test]
fn the_seeds_toy_trade_is_up_exactly_400() {
    let script = std::fs::read_to_string(examples_dir().join("seed-toy-trade.jsonl")).unwrap();
    let (out, r) = run(&script);
    r.unwrap();
    let account = |id: u64| out.iter().find(|v| v["type"] == "account" && v["account"] == id).unwrap().clone();
    let long = account(1);
    assert_eq!(long["positions"][0]["size"], "0.100");
    assert_eq!(long["positions"][0]["cost_basis"], "8600.000000");
    assert_eq!(long["positions"][0]["unrealized_pnl"], "400.000000");
    assert_eq!(long["equity"], "9000.000000");
    // Profit is not withdrawable until realised; the short's loss mirrors it to the unit.
    assert_eq!(long["withdrawable"], "0.000000");
    assert_eq!(account(2)["unrealized_pnl"], "-400.000000");
}

#[test]
fn oracle_prices_name_their_source_and_funding_sections_are_validated() {
    assert_refused(
        r#"{"ts": 3, "type": "oracle_price", "market": "BTC-PERP", "source": "binance", "price": "100"}"#,
        2012,
        "no oracle source 'binance'",
    );
    let v = one(
        r#"{"ts": 3, "type": "create_market", "symbol": "ETH-PERP", "tick_size": "0.01", "lot_size": "0.01", "min_qty": "0.01", "min_notional": "5", "max_leverage": 20, "tiers": [{"max_notional": "1000000", "max_leverage": 20, "maintenance_rate": "0.005", "maintenance_amount": "0"}], "maker_fee": "0", "taker_fee": "0", "order_band": "0.05", "funding": {"interval_hours": 2}}"#,
    );
    assert_eq!((v["code"].as_u64(), v["reason"].as_str()), (Some(2004), Some("invalid_market_spec")), "{v}");
    let v = one(
        r#"{"ts": 3, "type": "create_market", "symbol": "ETH-PERP", "tick_size": "0.01", "lot_size": "0.01", "min_qty": "0.01", "min_notional": "5", "max_leverage": 20, "tiers": [{"max_notional": "1000000", "max_leverage": 20, "maintenance_rate": "0.005", "maintenance_amount": "0"}], "maker_fee": "0", "taker_fee": "0", "order_band": "0.05", "oracle": {"sources": [{"name": "a"}, {"name": "b", "weight": 2}], "quorum": 1}, "funding": {"interval_hours": 4, "interest_8h": "0.0001"}}"#,
    );
    assert_eq!(v["type"], "market_created", "{v}");
}
