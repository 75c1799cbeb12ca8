//! Scenario files: what is accepted, and how mistakes are reported (file, line, column, the
//! offending line).

use std::path::Path;

use super::*;

/// A complete small scenario; tests edit it.
pub(crate) const SMALL: &str = r#"
name = "small"
start = 2025-01-01T00:10:00Z
duration = "5m"
step = "1s"

[[market]]
symbol = "T-PERP"
tick_size = "1"
lot_size = "0.01"
min_qty = "0.01"
min_notional = "0"
max_leverage = 20
maker_fee = "0"
taker_fee = "0"
order_band = "0.5"
tiers = [{ max_notional = "1000000000", max_leverage = 20, maintenance_rate = "0.01", maintenance_amount = "0" }]

[[path]]
market = "T-PERP"
start_price = 10000
vol = 0.5

[[agents.trader]]
market = "T-PERP"
count = 3
capital = 1000
leverage = { dist = "choice", values = [5, 20] }
hold_minutes = 2
wait_minutes = 1
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "s.toml", Path::new("."))
}

#[test]
fn a_small_scenario_reads_with_its_defaults() {
    let s = parse(SMALL).unwrap();
    assert_eq!((s.name.as_str(), s.step_ms, s.steps()), ("small", 1_000, 300));
    assert_eq!(s.markets[0].symbol, "T-PERP");
    assert_eq!(s.markets[0].liquidation.adl, perpx_core::market::AdlPolicy::Queue, "the schema's default");
    assert_eq!(s.agents.trader[0].market_ix, 0);
    assert_eq!(s.oracle.update_every_ms, 1_000);
    assert_eq!(s.report_interval_ms, 60_000);
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn an_unknown_key_is_refused_with_its_line_and_the_key() {
    let text = SMALL.replace("hold_minutes = 2", "hold_minutes = 2\nhodl_minutes = 9");
    let e = err(&text);
    let line = text.lines().position(|l| l.starts_with("hodl_minutes")).unwrap() + 1;
    assert!(e.starts_with(&format!("s.toml:{line}:")), "{e}");
    assert!(e.contains("unknown field `hodl_minutes`") && e.contains("| hodl_minutes = 9"), "{e}");
}

/// The 1-based line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).expect("present") + 1
}

#[test]
fn a_wrong_type_a_bad_duration_and_a_bad_distribution_name_their_line() {
    let text = SMALL.replace("count = 3", "count = \"three\"");
    let e = err(&text);
    assert!(e.starts_with(&format!("s.toml:{}:", line_of(&text, "count"))), "{e}");
    assert!(e.contains("expected u32") && e.contains("| count = \"three\""), "{e}");
    let e = err(&SMALL.replace("duration = \"5m\"", "duration = \"5 minutes\""));
    assert!(e.starts_with(&format!("s.toml:{}:", line_of(SMALL, "duration"))) && e.contains("unknown unit"), "{e}");
    let e = err(&SMALL.replace("values = [5, 20]", "values = [5, 20], weights = [1]"));
    assert!(e.starts_with(&format!("s.toml:{}:", line_of(SMALL, "leverage"))), "{e}");
    assert!(e.contains("'weights' as long as 'values'"), "{e}");
}

#[test]
fn a_market_the_engine_refuses_is_reported_at_its_table() {
    // MM must be below the initial rate: 6 % at 20x (5 %) is not.
    let e = err(&SMALL.replace("maintenance_rate = \"0.01\"", "maintenance_rate = \"0.06\""));
    let at = line_of(SMALL, "[[market]]");
    assert!(e.starts_with(&format!("s.toml:{at}:")), "{e}");
    assert!(e.contains("market 'T-PERP'") && e.contains("initial rate"), "{e}");
    // The JSON schema's own refusals come through too (decimal strings, as in JSON), at the
    // line of the key.
    let text = SMALL.replace("tick_size = \"1\"", "tick_size = 1");
    let e = err(&text);
    assert!(e.starts_with(&format!("s.toml:{}:", line_of(&text, "tick_size"))), "{e}");
    assert!(e.contains("market 'T-PERP' (key 'tick_size')") && e.contains("expected a string"), "{e}");
    let text = SMALL.replace("order_band = \"0.5\"", "order_band = \"0.5\"\nfee = \"0\"");
    let e = err(&text);
    assert!(e.starts_with(&format!("s.toml:{}:", line_of(&text, "fee ="))) && e.contains("unknown field `fee`"), "{e}");
}

#[test]
fn references_to_markets_and_sources_must_exist() {
    let text = SMALL.replace("market = \"T-PERP\"\ncount", "market = \"X-PERP\"\ncount");
    let e = err(&text);
    assert!(e.starts_with(&format!("s.toml:{}:", line_of(&text, "market = \"X-PERP\""))), "{e}");
    assert!(e.contains("unknown market 'X-PERP'"), "{e}");
    let e = err(&SMALL.replace("[[path]]\nmarket = \"T-PERP\"\nstart_price = 10000\nvol = 0.5\n", ""));
    assert!(e.contains("market 'T-PERP' has no [[path]]"), "{e}");
    let text = format!("{SMALL}\n[[oracle.fault]]\nsource = \"nope\"\nkind = \"stale\"\nfrom = \"1m\"\nto = \"2m\"\n");
    assert!(err(&text).contains("no market lists oracle source 'nope'"));
    let e = err(&SMALL.replace("leverage = { dist = \"choice\", values = [5, 20] }", "leverage = 50"));
    assert!(e.contains("leverage: draws must lie in [1, 20]"), "{e}");
}

#[test]
fn times_are_offsets_or_datetimes_and_gaps_resolve_to_the_clock() {
    let text = SMALL.replace(
        "vol = 0.5\n",
        "vol = 0.5\ngaps = [{ at = \"2m\", over = \"20s\", move = -0.15 }, \
         { at = 2025-01-01T00:13:00Z, over = \"1s\", move = 0.05 }]\n",
    );
    let s = parse(&text).unwrap();
    let start = s.start_ms;
    assert_eq!(s.paths[0].gaps[0].at_ms, start + 120_000);
    assert_eq!(s.paths[0].gaps[1].at_ms, start + 180_000);
    let e = err(&SMALL.replace("start = 2025-01-01T00:10:00Z", "start = 2025-01-01T00:10:00"));
    assert!(e.starts_with("s.toml:3:") && e.contains("offset"), "{e}");
}
