//! `perpx sim` end to end: the real binary on a tiny scenario — a report, a Monte Carlo batch,
//! a comparison, and a malformed scenario refused with its line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../perpx-sim/tests/data/tiny.toml")
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("perpx-sim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn perpx(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_perpx")).args(args).output().expect("perpx runs")
}

#[test]
fn a_single_run_writes_the_report() {
    let dir = out_dir("one");
    let out = perpx(&["sim", tiny().to_str().unwrap(), "--seed", "3", "--out", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("scenario tiny, seed 3: ") && stdout.contains("report: "), "{stdout}");
    for f in [
        "summary.json",
        "timeseries.csv",
        "report.html",
        "prices-BTC-PERP.svg",
        "funding.svg",
        "funding-apr.svg",
        "open-interest.svg",
        "insurance-fund.svg",
        "liquidations.svg",
        "adl.svg",
        "liquidity.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 3);
    assert!(summary["final_state_hash"].as_str().is_some_and(|h| h.len() == 64));
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    assert!(csv.starts_with("time,ts_ms,market,spot,index,mark,last,"));
    assert_eq!(csv.lines().count(), 1 + 11, "a header and one row a minute over ten minutes, and the last step");
    // The same command again: the same bytes.
    let again = out_dir("again");
    assert!(
        perpx(&["sim", tiny().to_str().unwrap(), "--seed", "3", "--out", again.to_str().unwrap()]).status.success()
    );
    assert_eq!(std::fs::read(dir.join("summary.json")).unwrap(), std::fs::read(again.join("summary.json")).unwrap());
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<h2>What happened</h2>") && html.contains("<svg"));
    for d in [dir, again] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn monte_carlo_and_comparison_modes_write_their_reports() {
    let dir = out_dir("mc");
    let out =
        perpx(&["sim", tiny().to_str().unwrap(), "--runs", "3", "--threads", "2", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mc: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("montecarlo.json")).unwrap()).unwrap();
    assert_eq!((mc["runs"].as_u64(), mc["first_seed"].as_u64()), (Some(3), Some(5)), "from the scenario's seed");
    let worst = mc["fund_drawdown"]["worst_seed"].as_u64().unwrap();
    assert!(dir.join(format!("worst-seed-{worst}/report.html")).is_file());
    assert!(dir.join("montecarlo.html").is_file() && dir.join("runs.csv").is_file());
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = out_dir("compare");
    let out = perpx(&["sim", tiny().to_str().unwrap(), "--compare", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("compare.json")).unwrap()).unwrap();
    assert_eq!(c["variants"].as_array().map(Vec::len), Some(6));
    assert!(dir.join("clearing_house-leverage_drain/summary.json").is_file() && dir.join("compare.html").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_malformed_scenario_is_refused_with_its_line_and_key() {
    let dir = out_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(tiny()).unwrap().replace("count = 24", "count = 24\nleverag = 5");
    let line = text.lines().position(|l| l.starts_with("leverag =")).unwrap() + 1;
    let file = dir.join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = perpx(&["sim", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("bad.toml:{line}:")) && err.contains("unknown field `leverag`"), "{err}");
    assert!(perpx(&["sim", tiny().to_str().unwrap(), "--runs", "2", "--compare"]).status.code() == Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}
