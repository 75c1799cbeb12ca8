//! Engine snapshots (`engine/snapshot.rs`): a restored engine has the state hash of the one the
//! snapshot was taken from and behaves identically afterwards; bad snapshots are errors.

use perpx_core::engine::{EngineSnapshot, RestoreError};
use perpx_core::{Command, Engine, EventKind, Qty};
use perpx_testkit::{mixed_stream, stream};

/// Applies `commands`, returning each command's events and the hash after it.
fn run(engine: &mut Engine, commands: &[Command]) -> Vec<(Vec<perpx_core::Event>, perpx_core::StateHash)> {
    commands.iter().map(|c| (engine.apply(c), engine.state_hash())).collect()
}

/// Snapshots the engine after each cut, restores, and runs both to the end.
fn check_stream(context: &str, config: &perpx_core::EngineConfig, commands: &[Command], cuts: &[usize]) {
    for &cut in cuts {
        let (head, tail) = commands.split_at(cut.min(commands.len()));
        let mut original = Engine::new(config.clone());
        run(&mut original, head);
        let snapshot = original.snapshot();
        let mut restored = Engine::restore(snapshot.clone()).unwrap_or_else(|e| panic!("{context}, cut {cut}: {e}"));
        assert_eq!(restored.state_hash(), original.state_hash(), "{context}, cut {cut}");
        assert_eq!(restored.seq(), original.seq(), "{context}, cut {cut}");
        assert_eq!(restored.snapshot(), snapshot, "{context}, cut {cut}: a restored engine snapshots the same");
        let a = run(&mut original, tail);
        let b = run(&mut restored, tail);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{context}, cut {cut}: command #{} diverged after the restore", cut + i);
        }
        restored.check_invariants().unwrap();
    }
}

#[test]
fn a_restored_engine_continues_like_the_original_on_book_streams() {
    for seed in [3, 11] {
        let cfg = stream::StreamConfig::from_seed(seed, 800);
        let s = stream::generate(&cfg);
        check_stream(&cfg.describe(), &s.engine, &s.commands, &[0, 1, 150, 400, 799]);
    }
}

#[test]
fn a_restored_engine_continues_like_the_original_on_mixed_streams() {
    let mut seen = [false; 6];
    for seed in [1, 2, 7] {
        let s = mixed_stream::generate(seed, 700);
        let mut probe = Engine::new(s.engine.clone());
        for c in &s.commands {
            for e in probe.apply(c) {
                let i = match e.kind {
                    EventKind::FundingSettled { .. } => 0,
                    EventKind::IndexPrice { .. } => 1,
                    EventKind::OracleStageChanged { .. } => 2,
                    EventKind::StopTriggered { .. } => 3,
                    EventKind::LiquidationStarted { .. } => 4,
                    EventKind::ParamsChanged { .. } => 5,
                    _ => continue,
                };
                seen[i] = true;
            }
        }
        let n = s.commands.len();
        check_stream(&format!("mixed seed {seed}"), &s.engine, &s.commands, &[n / 5, n / 2, n * 4 / 5]);
    }
    // The streams reach the parts of the state a snapshot must carry: funding, the oracle and
    // its stages, stops, liquidations, scheduled changes.
    assert_eq!(seen, [true; 6], "funding, index, stage, stop, liquidation, params");
}

fn engine_with_orders() -> (Engine, EngineSnapshot) {
    let s = mixed_stream::generate(5, 300);
    let mut engine = Engine::new(s.engine.clone());
    for c in &s.commands {
        engine.apply(c);
    }
    let snapshot = engine.snapshot();
    assert!(snapshot.markets.iter().any(|m| m.orders.len() >= 2), "the stream leaves orders resting");
    (engine, snapshot)
}

#[test]
fn inconsistent_snapshots_are_refused_with_a_reason() {
    let (_, good) = engine_with_orders();
    let market = good.markets.iter().position(|m| m.orders.len() >= 2).unwrap();
    type Damage = Box<dyn Fn(&mut EngineSnapshot)>;
    let cases: Vec<(&str, Damage)> = vec![
        ("used twice", Box::new(move |s| s.markets[market].orders[1].id = s.markets[market].orders[0].id)),
        ("size", Box::new(move |s| s.markets[market].orders[0].qty = Qty(0))),
        ("outside the ids", Box::new(move |s| s.next_order_id = 1)),
        ("symbol", Box::new(|s| s.markets.push(s.markets[0].clone()))),
        ("unknown market", Box::new(|s| s.markets.truncate(0))),
        ("oracle state", Box::new(|s| s.markets[0].oracle.prices.push(None))),
        (
            "queued for liquidation twice",
            Box::new(|s| {
                let unit = (perpx_core::AccountId(1), perpx_core::event::LiquidationScope::Cross);
                s.liquidation_queue.extend([unit, unit]);
            }),
        ),
        ("invariant", Box::new(|s| s.ledger.deposits.0 += 1)),
    ];
    for (needle, damage) in cases {
        let mut s = good.clone();
        damage(&mut s);
        let err = Engine::restore(s).expect_err(needle);
        assert!(err.to_string().contains(needle), "expected '{needle}' in '{err}'");
    }
    assert!(Engine::restore(good).is_ok());
}

#[test]
fn a_client_id_registry_that_does_not_match_its_queue_is_refused() {
    let s = stream::generate(&stream::StreamConfig::from_seed(104, 400));
    let mut engine = Engine::new(s.engine.clone());
    for c in &s.commands {
        engine.apply(c);
    }
    let good = engine.snapshot();
    assert!(!good.client_order_expiry.is_empty(), "the stream holds client ids");
    let mut missing = good.clone();
    missing.client_order_expiry.pop();
    assert!(matches!(Engine::restore(missing), Err(RestoreError::Invariant(m)) if m.contains("expiry items")));
    let mut twice = good.clone();
    let first = twice.client_order_expiry[0].clone();
    twice.client_order_expiry.push(first);
    assert!(matches!(Engine::restore(twice), Err(RestoreError::Invariant(_))));
    let mut duplicate = good.clone();
    let entry = duplicate.client_orders[0].clone();
    duplicate.client_orders.insert(0, entry);
    assert!(matches!(Engine::restore(duplicate), Err(RestoreError::Inconsistent(m)) if m.contains("held twice")));
}
