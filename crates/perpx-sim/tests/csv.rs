//! Replayed price paths: a CSV in the layout of an exchange's kline dump is read (header, epoch
//! milliseconds, extra columns, Windows line endings) and followed by the run; a malformed one
//! is refused with its file and line.

use std::path::{Path, PathBuf};

use perpx_sim::path::{PathSource, Paths};
use perpx_sim::{RunOptions, Scenario, run};

const SCENARIO: &str = r#"
name = "replay"
start = 2025-10-10T20:50:00Z
duration = "20m"
step = "10s"

[[market]]
symbol = "BTC-PERP"
tick_size = "0.1"
lot_size = "0.001"
min_qty = "0.001"
min_notional = "5"
max_leverage = 20
maker_fee = "0"
taker_fee = "0.0005"
order_band = "0.05"
tiers = [{ max_notional = "10000000", max_leverage = 20, maintenance_rate = "0.01", maintenance_amount = "0" }]

[[path]]
market = "BTC-PERP"
csv = "CSV"

[[agents.maker]]
market = "BTC-PERP"
count = 1
capital = 1000000
quote_notional = 50000
inventory_limit = 500000
"#;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn a_kline_dump_is_read_and_followed() {
    let text = SCENARIO.replace("CSV", "btc-kline-sample.csv");
    let sc = Scenario::parse(&text, "replay.toml", &data()).unwrap();
    let PathSource::Csv { points, .. } = &sc.paths[0].source else { panic!("a CSV path") };
    assert_eq!(points.len(), 30);
    assert_eq!(points[0], (1_760_129_400_000, 117_800.0), "the close of 20:50");
    assert_eq!(sc.paths[0].vol, 0.0, "a replay adds no noise unless asked");
    let paths = Paths::generate(&sc.paths, sc.start_ms, sc.step_ms, sc.steps(), 1);
    // 20:50:30 is halfway between the closes of 20:50 (117,800.0) and 20:51 (117,564.4).
    let expected = 117_800.0 + (points[1].1 - 117_800.0) / 2.0;
    assert!((paths.at(0, 3) - expected).abs() < 1e-6, "{} vs {expected}", paths.at(0, 3));
    let out = run(&sc, &RunOptions::new(1)).unwrap();
    let m = &out.summary.markets[0];
    assert_eq!(m.spot.start, 117_800.0);
    assert!(m.spot.min < 107_000.0 && m.spot_drawdown_pct > 9.0, "{:?}", m.spot);
}

#[test]
fn a_malformed_csv_is_refused_with_its_line() {
    let dir = std::env::temp_dir().join(format!("perpx-sim-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(data().join("btc-kline-sample.csv")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines[4] = "1760129640000,117500.0,117600.0,117400.0,n/a,812.0,1760129699999,1,1,1,1,0";
    std::fs::write(dir.join("bad.csv"), lines.join("\n")).unwrap();
    std::fs::write(dir.join("replay.toml"), SCENARIO.replace("CSV", "bad.csv")).unwrap();
    let e = Scenario::load(&dir.join("replay.toml")).unwrap_err().to_string();
    let csv_path = dir.join("bad.csv").display().to_string();
    assert!(e.contains(&format!("{csv_path}:5: price 'n/a' is not a positive number")), "{e}");
    assert!(e.contains("replay.toml:21:") && e.contains("| csv = \"bad.csv\""), "and the scenario line naming it: {e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
