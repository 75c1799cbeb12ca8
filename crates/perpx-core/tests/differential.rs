//! Differential tests: the engine against the naive reference model of `docs/ENGINE.md`.
//!
//! For every seed, a generated stream of a few thousand realistic and partly hostile commands
//! is applied to a fresh `Engine` and to `perpx_testkit::reference::RefEngine`. After **every**
//! command the two must agree on:
//! - the outcomes, item by item (accepted ids, every fill with both sides' remaining sizes,
//!   cancels with size and reason, amends with priority, duplicate answers, reject codes);
//! - every market's mark and book (levels in priority order, orders in queue order with id,
//!   account, price, open and filled size, client id, post-only flag and STP mode);
//!
//! and the engine's own invariants must hold, every event must carry the command's sequence
//! number and timestamp, and a rejection that does not move the clock must leave the state
//! hash unchanged.
//!
//! Coverage floors, per stream and over the whole suite, make sure a stream that is mostly
//! rejected, never trades or never reaches a rule cannot pass by saying nothing.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use perpx_core::{Engine, MarketId};
use perpx_testkit::compare::{Coverage, engine_snapshot, outcomes};
use perpx_testkit::reference::{Outcome, RefEngine, code};
use perpx_testkit::stream::{StreamConfig, generate};

/// Seeds of the suite; each stream has [`COMMANDS`] commands.
const SEEDS: std::ops::Range<u64> = 1..41;
const COMMANDS: usize = 3_000;

/// Runs one stream through both and returns what it covered, or a report of the first
/// disagreement.
fn run(cfg: &StreamConfig) -> Result<Coverage, String> {
    let stream = generate(cfg);
    let mut engine = Engine::new(stream.engine.clone());
    let mut model = RefEngine::new(&stream.engine);
    let mut coverage = Coverage::default();
    for (i, cmd) in stream.commands.iter().enumerate() {
        let fail = |what: &str, detail: String| {
            let mut s = format!("{}\ncommand #{i} (seq {}): {what}\n  {cmd:?}\n", cfg.describe(), i + 1);
            s.push_str("  previous commands:\n");
            for c in &stream.commands[i.saturating_sub(6)..i] {
                let _ = writeln!(s, "    {c:?}");
            }
            s.push_str(&detail);
            s
        };
        let clock_before = engine.now();
        let expected = model.apply(cmd);
        // A rejection that does not move the clock must leave the hash as it was. (Hashing is
        // costly in debug builds, so only the commands the model rejects are hashed; if the
        // engine disagrees, the outcomes differ anyway.)
        let rejected = expected.iter().any(|o| matches!(o, Outcome::Rejected { .. }));
        let hash_before = (rejected && cmd.ts <= clock_before).then(|| engine.state_hash());
        let events = engine.apply(cmd);
        let seq = u64::try_from(i + 1).expect("small");
        if let Some(e) = events.iter().find(|e| e.seq != seq || e.ts != cmd.ts) {
            return Err(fail("event not stamped with the command", format!("{e:?}")));
        }
        let got = outcomes(&events);
        if got != expected {
            return Err(fail("outcomes differ", format!("  engine:    {got:?}\n  reference: {expected:?}\n")));
        }
        engine.check_invariants().map_err(|e| fail("invariant broken", e))?;
        if let Some(before) = hash_before {
            if engine.state_hash() != before {
                return Err(fail("a rejection changed the state hash", String::new()));
            }
        }
        if engine.markets().len() != model.markets().len() {
            return Err(fail("market count differs", String::new()));
        }
        for (id, m) in model.markets().iter().enumerate() {
            let id = MarketId(u32::try_from(id).expect("few"));
            let want = m.snapshot();
            let have = engine_snapshot(&engine, id).expect("same market count");
            if have != want {
                return Err(fail(
                    "book differs",
                    format!("  market {id}\n  engine:    {have:?}\n  reference: {want:?}\n"),
                ));
            }
        }
        coverage.record(cmd, &got);
    }
    Ok(coverage)
}

/// The floors every single stream must reach.
fn check_stream_floors(cfg: &StreamConfig, c: &Coverage) -> Result<(), String> {
    let mut problems = Vec::new();
    if c.accepted_pct() < 30 {
        problems.push(format!("only {} % of commands took effect", c.accepted_pct()));
    }
    if c.fill_pct() < 10 {
        problems.push(format!("only {} % of commands traded", c.fill_pct()));
    }
    for kind in ["gtc", "ioc", "fok", "post_only", "market"] {
        if c.accepted.get(kind).copied().unwrap_or(0) == 0 {
            problems.push(format!("no {kind} order accepted"));
        }
    }
    if c.amends_kept == 0 || c.amends_lost == 0 {
        problems.push("amends did not both keep and lose priority".into());
    }
    if c.reject_codes.len() < 8 {
        problems.push(format!("only {} reject codes seen", c.reject_codes.len()));
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{}: {}\n{c}", cfg.describe(), problems.join("; "))) }
}

/// The floors the whole suite must reach.
fn check_suite_floors(total: &Coverage) {
    let need = |ok: bool, what: &str| assert!(ok, "suite coverage: {what}\n{total}");
    for mode in ["expire_taker", "expire_maker", "expire_both"] {
        need(
            total.stp_by_mode.get(mode).copied().unwrap_or(0) >= 20,
            &format!("self-trade prevention in mode {mode} acted fewer than 20 times"),
        );
    }
    for reason in
        ["user_request", "cancel_all", "mass_cancel", "ioc_remainder", "market_remainder", "self_trade_prevention"]
    {
        need(total.cancels.get(reason).copied().unwrap_or(0) >= 10, &format!("fewer than 10 cancels for {reason}"));
    }
    for status in ["open", "filled", "cancelled"] {
        need(
            total.duplicates.get(status).copied().unwrap_or(0) >= 10,
            &format!("fewer than 10 duplicate client id answers for a {status} holder"),
        );
    }
    need(total.amends_kept >= 100, "fewer than 100 amends kept priority");
    need(total.amends_lost >= 100, "fewer than 100 amends lost priority");
    need(total.amends_crossing >= 50, "fewer than 50 amends crossed");
    need(total.by_client_id >= 100, "fewer than 100 orders named by client id");
    need(total.client_ids_reused >= 50, "fewer than 50 client ids accepted again after their release");
    let aimed: BTreeSet<u16> = [
        code::TIMESTAMP_REGRESSION,
        code::UNKNOWN_MARKET,
        code::NO_MARK_PRICE,
        code::DUPLICATE_SYMBOL,
        code::TOO_MANY_MARKETS,
        code::NON_POSITIVE_MARK,
        code::NON_POSITIVE_QTY,
        code::QTY_ABOVE_MAX,
        code::QTY_BELOW_MIN,
        code::NOTIONAL_BELOW_MIN,
        code::NON_POSITIVE_PRICE,
        code::PRICE_OUTSIDE_BAND,
        code::NOTIONAL_OVERFLOW,
        code::POST_ONLY_WOULD_TAKE,
        code::FOK_CANNOT_FILL,
        code::TOO_MANY_OPEN_ORDERS,
        code::TOO_MANY_PRICE_LEVELS,
        code::UNKNOWN_ORDER,
        code::NOTHING_TO_AMEND,
    ]
    .into();
    for c in &aimed {
        need(total.reject_codes.get(c).copied().unwrap_or(0) >= 5, &format!("reject code {c} seen fewer than 5 times"));
    }
    let unexpected: Vec<&u16> = total.reject_codes.keys().filter(|c| !aimed.contains(c)).collect();
    need(unexpected.is_empty(), &format!("reject codes the generator does not aim at: {unexpected:?}"));
}

/// Runs `seeds` on the machine's cores; returns per-seed results in seed order.
fn run_all(seeds: &[u64]) -> Vec<(StreamConfig, Result<Coverage, String>)> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let chunks: Vec<Vec<u64>> =
        (0..workers).map(|w| seeds.iter().copied().skip(w).step_by(workers).collect()).collect();
    let mut results: Vec<(StreamConfig, Result<Coverage, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|seed| {
                            let cfg = StreamConfig::from_seed(*seed, COMMANDS);
                            let r = run(&cfg);
                            (cfg, r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker panicked")).collect()
    });
    results.sort_by_key(|(cfg, _)| cfg.seed);
    results
}

#[test]
fn the_engine_agrees_with_the_reference_model_after_every_command() {
    let seeds: Vec<u64> = SEEDS.collect();
    let results = run_all(&seeds);
    let mut total = Coverage::default();
    let mut failures = Vec::new();
    for (cfg, r) in &results {
        match r {
            Ok(c) => {
                if let Err(e) = check_stream_floors(cfg, c) {
                    failures.push(format!("coverage floor: {e}"));
                }
                total.merge(c);
            }
            Err(e) => failures.push(e.clone()),
        }
    }
    println!("suite coverage over {} streams:\n{total}", results.len());
    let summary: Vec<String> = failures.iter().map(|f| f.lines().take(2).collect::<Vec<_>>().join(": ")).collect();
    assert!(
        failures.is_empty(),
        "{} of {} streams failed:\n  {}\nthe first in full:\n{}",
        failures.len(),
        results.len(),
        summary.join("\n  "),
        failures[0]
    );
    check_suite_floors(&total);
}

/// A stream is a pure function of its seed.
#[test]
fn streams_are_reproducible_from_their_seed() {
    let cfg = StreamConfig::from_seed(7, 500);
    assert_eq!(generate(&cfg), generate(&cfg));
    assert_ne!(generate(&cfg).commands, generate(&StreamConfig::from_seed(8, 500)).commands);
}

/// One more seed, outside the fixed list, run alone with its coverage printed. To reproduce a
/// failure from the suite: `PERPX_SEED=<seed> cargo test -p perpx-core --test differential one_seed -- --nocapture`.
#[test]
fn one_seed() {
    let seed = std::env::var("PERPX_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let cfg = StreamConfig::from_seed(seed, COMMANDS);
    match run(&cfg) {
        Ok(c) => println!("{}\n{c}", cfg.describe()),
        Err(e) => panic!("{e}"),
    }
}
