//! Determinism (`docs/ENGINE.md`, first paragraph and "State hash"): the same commands give the
//! same events and the same state hash, bit for bit; a clone taken mid-stream is a full copy
//! of the state and continues exactly like the original; and the hash does see every change.

use perpx_core::{Command, Engine, Event, EventKind, StateHash};
use perpx_testkit::stream::{StreamConfig, generate};

/// Streams of different shapes: one or two markets, short and long client id retention.
const SEEDS: [u64; 4] = [3, 5, 11, 104];
const COMMANDS: usize = 1_500;

fn run(engine: &mut Engine, commands: &[Command]) -> Vec<(Vec<Event>, StateHash)> {
    commands
        .iter()
        .map(|c| {
            let events = engine.apply(c);
            (events, engine.state_hash())
        })
        .collect()
}

#[test]
fn the_same_stream_gives_the_same_events_and_hashes_at_every_step() {
    for seed in SEEDS {
        let cfg = StreamConfig::from_seed(seed, COMMANDS);
        let stream = generate(&cfg);
        let a = run(&mut Engine::new(stream.engine.clone()), &stream.commands);
        let b = run(&mut Engine::new(stream.engine.clone()), &stream.commands);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{}: command #{i} diverged", cfg.describe());
        }
        assert_eq!(a.len(), stream.commands.len());
        // The stream did something: most steps change the hash.
        let distinct: std::collections::BTreeSet<[u8; 32]> = a.iter().map(|(_, h)| h.0).collect();
        assert!(
            distinct.len() * 2 > a.len(),
            "{}: only {} distinct states in {} steps",
            cfg.describe(),
            distinct.len(),
            a.len()
        );
    }
}

#[test]
fn a_clone_taken_mid_stream_continues_identically() {
    for seed in SEEDS {
        let cfg = StreamConfig::from_seed(seed, COMMANDS);
        let stream = generate(&cfg);
        let (head, tail) = stream.commands.split_at(COMMANDS / 2);
        let mut original = Engine::new(stream.engine.clone());
        run(&mut original, head);
        let mut copy = original.clone();
        assert_eq!(copy.state_hash(), original.state_hash());
        assert_eq!(copy.seq(), original.seq());
        let a = run(&mut original, tail);
        let b = run(&mut copy, tail);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{}: command #{} diverged", cfg.describe(), head.len() + i);
        }
        // And both equal a fresh engine that saw the whole stream.
        let mut fresh = Engine::new(stream.engine.clone());
        run(&mut fresh, &stream.commands);
        assert_eq!(fresh.state_hash(), original.state_hash());
        assert_eq!(fresh.state_hash(), copy.state_hash());
    }
}

#[test]
fn apply_into_a_reused_buffer_gives_the_same_events_as_apply() {
    let stream = generate(&StreamConfig::from_seed(SEEDS[0], COMMANDS));
    let mut a = Engine::new(stream.engine.clone());
    let mut b = Engine::new(stream.engine.clone());
    let mut buffer = Vec::new();
    for c in &stream.commands {
        let events = a.apply(c);
        buffer.clear();
        b.apply_into(c, &mut buffer);
        assert_eq!(events, buffer);
    }
    assert_eq!(a.state_hash(), b.state_hash());
}

/// A hash that skipped part of the state would pass the tests above; this one would not:
/// every command that accepts, trades, amends or cancels an order changes the hash, and so does
/// every command that moves the clock.
#[test]
fn every_effective_command_changes_the_state_hash() {
    for seed in SEEDS {
        let cfg = StreamConfig::from_seed(seed, COMMANDS);
        let stream = generate(&cfg);
        let mut engine = Engine::new(stream.engine.clone());
        let mut changes = 0;
        for (i, c) in stream.commands.iter().enumerate() {
            let before = engine.state_hash();
            let clock = engine.now();
            let events = engine.apply(c);
            let effective = events.iter().any(|e| {
                matches!(
                    e.kind,
                    EventKind::OrderAccepted { .. }
                        | EventKind::Fill(_)
                        | EventKind::OrderAmended { .. }
                        | EventKind::OrderCancelled { .. }
                        | EventKind::MarketCreated { .. }
                )
            });
            let rejected = events.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. }));
            let moved = engine.now() != clock;
            if effective || moved {
                assert_ne!(
                    engine.state_hash(),
                    before,
                    "{}: command #{i} changed the state but not its hash: {c:?} -> {events:?}",
                    cfg.describe()
                );
                changes += 1;
            }
            if rejected && !moved {
                assert_eq!(engine.state_hash(), before, "{}: #{i}", cfg.describe());
            }
        }
        assert!(changes * 2 > stream.commands.len(), "{}", cfg.describe());
    }
}
