//! A scenario small enough to work out by hand, run through the real engine, and every figure of
//! its summary checked against the hand computation below.
//!
//! ## The set-up
//!
//! Market `HAND-PERP`: tick 1 USD, lot 0.01, so one tick on one lot is 0.01 USD (10,000
//! micro-units); no fees, no liquidation fee, maintenance 1 %, no oracle (the mark is the spot
//! path, set every step), no insurance fund, no liquidator. Spot is flat at 10,000 (vol 0: the
//! path is exact); twenty minutes in it drops 1 % in one step (9,900 at step 1,201), and five
//! seconds later it gaps to 8,000 (step 1,206).
//!
//! - Account 1, a maker with 1,000,000 USD at 10x, one level a side, 10 bp wide: bid
//!   `⌊10,000 × 0.9995⌋ = 9,995`, ask `⌈10,000 × 1.0005⌉ = 10,005`, 1,000,000 USD each. It
//!   hedges in spot at once (no delay, no fee), and pulls its quotes when the realised
//!   volatility of the last 300 steps passes 100 %: the 1 % step makes it
//!   `√(ln(0.99)² / 300 × 31,557,600 steps a year) ≈ 326 %`, so from step 1,201 the book is
//!   empty.
//! - Accounts 2 and 3, traders with 1,000 USD at 10x, always long, holding far beyond the run.
//!   Each opens `⌊1,000 × 10 × 0.9 / (10,000 × 0.01)⌋ = 90` lots with an IOC buy limited at
//!   `10,000 × (1 + min(1 %, 0.1 / 20)) = 10,050`, and fills at the maker's ask, 10,005.
//!   Margin check: IM `90 × 10,000 × 0.01 / 10 = 900` plus the order's loss against the mark
//!   `(10,050 − 10,000) × 90 × 0.01 = 45`: 945 ≤ 1,000, accepted. Each trader: long 90, cost
//!   `90 × 10,005 × 0.01 = 9,004.50`. The maker: short 180, long 180 lots (1.80) of spot.
//!
//! At 9,900 each trader still has `1,000 + 90 × (9,900 − 10,005) × 0.01 = 905.50` of equity.
//!
//! ## The gap (step 1,206, mark 8,000)
//!
//! Each trader: equity `1,000 + 90 × (8,000 − 10,005) × 0.01 = −804.50` < MM
//! `1 % × 90 × 8,000 × 0.01 = 72`: liquidated, bankrupt. Bankruptcy price
//! `B = 8,000 + 804.50 / (90 × 0.01) = 8,893.888…`. The closing sell (limited at `⌈B⌉ = 8,894`)
//! finds no bid (the maker has pulled its quotes), there is no backstop and no fund: the whole
//! position goes to ADL against the only short, the maker, at `⌊B⌋ = 8,893`, and the maker pays
//! the sub-tick rest `⌈90 × 0.888… × 0.01⌉ = 0.80` USD. Per trader the maker gives up
//! `(8,893 − 8,000) × 90 × 0.01 + 0.80 = 804.50` — exactly the trader's deficit — and the trader
//! ends at zero: `1,000 + (8,893 × 90 × 0.01 − 9,004.50) + 0.80 = 0`.
//!
//! So: 2 liquidations, both closed out, 2 ADL trades of 0.90 at 8,893 (8,003.70 USD each,
//! 16,007.40 in all), 1 account hit, 1,609.00 USD of profit given up, no deficit paid by a fund
//! and none uncovered, layers used: ADL only. The maker is a basis trader: ADL closed 1.80 of its
//! perp short while its 1.80 of spot stayed, so it was net long 1.80 (14,400 USD at 8,000) right
//! after the command that ran both ADL trades, until it sold the spot in the same step.

use std::path::Path;

use perpx_sim::{RunOptions, Scenario, run};

const HAND: &str = r#"
name = "hand"
start = 2025-01-01T00:10:00Z
duration = "30m"
step = "1s"

[[market]]
symbol = "HAND-PERP"
tick_size = "1"
lot_size = "0.01"
min_qty = "0.01"
min_notional = "0"
max_leverage = 20
maker_fee = "0"
taker_fee = "0"
order_band = "0.5"
tiers = [{ max_notional = "1000000000", max_leverage = 20, maintenance_rate = "0.01", maintenance_amount = "0" }]
liquidation = { fee_rate = "0", adl = "queue" }

[[path]]
market = "HAND-PERP"
start_price = 10000
vol = 0
gaps = [{ at = "20m", over = "1s", move = -0.01 }, { at = "20m5s", over = "1s", move = -0.19191919191919 }]

[[agents.maker]]
market = "HAND-PERP"
count = 1
capital = 1000000
leverage = 10
spread_bps = 10
levels = 1
quote_notional = 1000000
inventory_limit = 100000000
skew_bps = 0
pull_vol = 1
hedge_delay_secs = 0
spot_fee_bps = 0

[[agents.trader]]
market = "HAND-PERP"
count = 2
capital = 1000
leverage = 10
long_bias = 1
hold_minutes = 1000
wait_minutes = 1000
open_at_start = 1
"#;

#[test]
fn the_hand_computed_gap_matches_the_engine_to_the_micro_unit() {
    let sc = Scenario::parse(HAND, "hand.toml", Path::new(".")).unwrap();
    let o = RunOptions { check_every_command: true, ..RunOptions::new(7) };
    let out = run(&sc, &o).unwrap();
    let s = &out.summary;
    assert_eq!(s.invariant_checks, s.commands, "checked after every command");
    let m = &s.markets[0];
    assert_eq!((m.spot.start, m.spot.min), (10_000.0, 8_000.0));
    let l = &s.liquidations;
    assert_eq!((l.started, l.closed_out, l.partial, l.accounts), (2, 2, 0, 2));
    assert_eq!(l.notional, "16007.400000");
    assert_eq!(m.liquidated_notional.book, "0.000000");
    assert_eq!(m.liquidated_notional.backstop, "0.000000");
    assert_eq!(m.liquidated_notional.adl, "16007.400000");
    let a = &s.adl;
    assert_eq!((a.events, a.bankruptcies, a.accounts_hit), (2, 2, 1));
    assert_eq!((a.notional.as_str(), a.profit_given_up.as_str()), ("16007.400000", "1609.000000"));
    let trades: Vec<(u64, u64, &str, &str, &str)> = a
        .trades
        .iter()
        .map(|t| (t.account, t.bankrupt, t.qty.as_str(), t.price.as_str(), t.profit_given_up.as_str()))
        .collect();
    assert_eq!(trades, vec![(1, 2, "0.90", "8893", "804.500000"), (1, 3, "0.90", "8893", "804.500000")]);
    assert!(a.trades.iter().all(|t| t.role == "maker" && t.at == "2025-01-01T00:30:06Z"));
    // One winner: every policy would have cut the maker alone. The comparison plans with the
    // sub-tick rest per lot rounded up, ⌈800,000 / 90⌉ = 8,889 micro-units a lot, so it counts
    // 803.70 + 90 × 0.008889 = 804.500010 (the trade itself settled the exact 0.80).
    assert_eq!(a.per_event_comparison.len(), 2);
    for c in &a.per_event_comparison {
        assert!(c.outcomes.iter().all(|o| o.accounts_hit == 1 && o.given_up == "804.500010"), "{c:?}");
    }
    let d = &s.deficits;
    assert_eq!((d.total.as_str(), d.insurance.as_str(), d.uncovered.as_str()), ("0.000000", "0.000000", "0.000000"));
    assert_eq!(s.waterfall_funds.layers_used, vec!["adl".to_owned()]);
    let b = &s.basis_traders;
    assert_eq!((b.accounts, b.adl_hits), (1, 2));
    assert_eq!(b.unhedged_created_notional, "16007.400000");
    assert_eq!(b.unhedged_created_qty.get("HAND-PERP").map(String::as_str), Some("1.80"));
    let nets: Vec<(&str, &str, &str, f64)> = b
        .net_exposure_after_adl
        .iter()
        .map(|n| (n.perp.as_str(), n.spot.as_str(), n.net.as_str(), n.net_notional))
        .collect();
    assert_eq!(nets, vec![("0.00", "1.80", "1.80", 14_400.0)], "one record: both ADL trades are one command");
    assert_eq!(b.end_net_exposure, 0.0, "re-hedged in the same step");
}
