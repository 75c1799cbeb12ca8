//! `perpx bench` times the notices, not only the acks: every trade's fill notice reaches the
//! taker's and the maker's account streams, and a price gap's liquidation and ADL notices reach
//! the accounts they name. Counts only: performance is never asserted in tests.

mod common;

use serde_json::Value;

fn bench(s: &common::Server, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_perpx"))
        .args(["bench", "--url", &s.base, "--admin-key", &s.admin.key, "--admin-secret", &s.admin.secret])
        .args(["--clients", "4", "--rate", "400", "--seconds", "1"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn count(report: &Value, section: &str, field: &str) -> u64 {
    report[section][field].as_u64().unwrap_or_else(|| panic!("{section}.{field} in {report}"))
}

/// Every trade an ack reported has exactly one fill notice on each side's stream, none missing.
fn assert_fill_notices(report: &Value) {
    let fills = report["fills_acked"].as_u64().unwrap();
    assert!(fills > 0, "the takers crossed the makers' bids: {report}");
    for side in ["fill_notice_taker", "fill_notice_maker"] {
        assert_eq!((count(report, side, "count"), count(report, side, "missing")), (fills, 0), "{side}: {report}");
        assert!(count(report, side, "p50_us") > 0, "{report}");
    }
    assert_eq!(report["stream_errors"], serde_json::json!([]), "{report}");
}

/// A notice section's received and missing counts.
fn received_and_missing(report: &Value, section: &str) -> (u64, u64) {
    (count(report, section, "count"), count(report, section, "missing"))
}

#[test]
fn the_bench_times_fill_notices_to_both_sides_and_a_gaps_liquidation_and_adl_notices() {
    let s = common::start_with("bench-notices", false, "rate_limit_per_key = 100000\nrate_limit_per_ip = 100000\n");

    let report = bench(&s, &["--transport", "ws", "--liquidations", "3"]);
    assert_eq!(report["answers"]["ack"].as_u64(), Some(400), "{report}");
    assert_fill_notices(&report);
    // Three bankrupt longs with no bid and no liquidator: each is liquidated in the price
    // move's step and ADL closes it against the shorts, each of which hears of it.
    assert_eq!(received_and_missing(&report, "liquidation_notice"), (3, 0), "{report}");
    assert_eq!(count(&report, "liquidation_notice", "in_move_step"), 3, "{report}");
    let adl = count(&report, "adl_notice", "expected");
    assert!(adl >= 1, "the waterfall reached ADL: {report}");
    assert_eq!(received_and_missing(&report, "adl_notice"), (adl, 0), "{report}");
    assert_eq!(report["gap"]["victims"].as_u64(), Some(3), "{report}");
    // The load moves the mark (its book premium); the gap sets back the mark it started from.
    assert_eq!(report["gap"]["mark"].as_str(), Some(s.mark("BTC-PERP").as_str()), "{report}");

    // Again over HTTP on the same server: the same victims are gapped a second time.
    let report = bench(&s, &["--transport", "http", "--liquidations", "2"]);
    assert_eq!(report["statuses"]["200"].as_u64(), Some(400), "{report}");
    assert_fill_notices(&report);
    assert_eq!(received_and_missing(&report, "liquidation_notice"), (2, 0), "{report}");
    assert_eq!(count(&report, "adl_notice", "missing"), 0, "{report}");

    // Without the gap there is no liquidation section; without the streams no notice section.
    let report = bench(&s, &["--transport", "ws"]);
    assert_fill_notices(&report);
    assert!(report.get("liquidation_notice").is_none() && report.get("gap").is_none(), "{report}");
    let report = bench(&s, &["--transport", "ws", "--no-notices"]);
    assert!(report["fills_acked"].as_u64().is_some_and(|n| n > 0), "{report}");
    assert!(report.get("fill_notice_taker").is_none() && report.get("stream_errors").is_none(), "{report}");
}
