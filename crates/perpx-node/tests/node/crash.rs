//! Crashes through the engine (`docs/JOURNAL.md`, "The node", crash tests): a recorded workload
//! of real commands through a node on the in-memory storage, crashed at every storage operation
//! (under each crash mode), torn mid-write at random offsets, and thrown at by a seeded fault
//! simulator across restarts. After each crash the recovered engine must equal a plain replay
//! of exactly the durable prefix, no acknowledged command may be missing, every durable command
//! whose events were not handed out must be redelivered, and the node must go on and verify.

use std::collections::BTreeSet;

use perpx_core::{Command, EngineConfig};
use perpx_journal::{CrashMode, Fault, FaultPlan, FaultRates, MemStorage, StorageOp, SyncPolicy};
use perpx_node::{Node, NodeConfig, verify_journal};
use perpx_testkit::mixed_stream;
use proptest::prelude::*;

use crate::support::{Reference, small_node_config};

/// A recorded workload: commands, their reference run, and how they are batched.
struct Workload {
    engine: EngineConfig,
    commands: Vec<Command>,
    reference: Reference,
    /// Batch sizes, summing to `commands.len()`.
    batches: Vec<usize>,
}

fn workload(seed: u64, commands: usize) -> Workload {
    let s = mixed_stream::generate(seed, commands);
    let reference = Reference::run(&s.engine, &s.commands);
    let mut batches = Vec::new();
    let (mut left, mut x) = (s.commands.len(), seed);
    while left > 0 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let n = (usize::try_from(x >> 60).unwrap() % 4 + 1).min(left);
        batches.push(n);
        left -= n;
    }
    Workload { engine: s.engine, commands: s.commands, reference, batches }
}

/// Small segments, a snapshot (and archiving) every 25 commands, no invariant checks (the
/// reference run is the check).
fn crash_config(engine: &EngineConfig, policy: SyncPolicy) -> NodeConfig {
    NodeConfig {
        snapshot_every: Some(25),
        archive_after_snapshot: true,
        check_invariants: false,
        ..small_node_config(engine, policy)
    }
}

/// What the client side saw before the crash.
#[derive(Debug, Default)]
struct Seen {
    /// The highest sequence number whose events were handed out.
    published: u64,
    /// The node's durable sequence number at the end (after the failing call).
    durable: u64,
}

/// Runs the workload in batches on a fresh node until it finishes or fails.
fn run(storage: &MemStorage, config: &NodeConfig, w: &Workload) -> Seen {
    let mut seen = Seen::default();
    let Ok((mut node, _)) = Node::open(storage.clone(), config.clone()) else { return seen };
    let mut at = 0;
    for &n in &w.batches {
        let result = node.submit_batch(&w.commands[at..at + n]);
        seen.durable = node.durable_head().seq;
        match result {
            Ok(published) => {
                for p in published {
                    assert_eq!(p.seq, seen.published + 1, "published in order");
                    seen.published = p.seq;
                }
            }
            Err(_) => return seen,
        }
        at += n;
    }
    seen
}

/// Restarts `storage` under `mode` and checks the recovery against the workload; then the node
/// goes on with the commands after the recovered head, and the whole journal verifies.
fn restart_and_check(storage: &MemStorage, config: &NodeConfig, w: &Workload, seen: &Seen, mode: CrashMode, ctx: &str) {
    let restarted = storage.crash(mode);
    let (mut node, recovered) =
        Node::open(restarted.clone(), config.clone()).unwrap_or_else(|e| panic!("{ctx}: recovery failed: {e}"));
    let head = recovered.head.seq;
    assert!(seen.published <= head, "{ctx}: acknowledged command lost ({} published, head {head})", seen.published);
    assert!(head <= w.commands.len() as u64, "{ctx}: invented commands");
    if mode == CrashMode::PowerLoss {
        assert_eq!(head, seen.durable, "{ctx}: after a pessimistic power loss exactly the durable prefix survives");
    }
    assert!(recovered.snapshot_seq.unwrap_or(0) <= head, "{ctx}");
    assert_eq!(node.engine().state_hash(), w.reference.hash_at(head), "{ctx}: state after {head} commands");

    // Every durable command whose events were not handed out is redelivered, as recorded.
    let redelivered = node.take_published();
    let seqs: BTreeSet<u64> = redelivered.iter().map(|p| p.seq).collect();
    for seq in seen.published + 1..=head {
        assert!(seqs.contains(&seq), "{ctx}: durable command {seq} was never published nor redelivered");
    }
    for p in &redelivered {
        assert!(p.redelivered && p.seq <= head, "{ctx}");
        assert_eq!(p.events, w.reference.events_of(p.seq), "{ctx}: redelivered events of {}", p.seq);
    }

    // The clients resend what was not acknowledged; the node goes on from the recovered head.
    let resend = &w.commands[usize::try_from(head).unwrap()..];
    for (i, c) in resend.iter().take(6).enumerate() {
        let seq = head + 1 + i as u64;
        let p = node.submit(c).unwrap_or_else(|e| panic!("{ctx}: after recovery: {e}"));
        assert_eq!(p.events, w.reference.events_of(seq), "{ctx}: command {seq} after recovery");
    }
    let final_head = node.durable_head();
    drop(node);
    let report = verify_journal(&restarted, None, |_| {}).unwrap_or_else(|e| panic!("{ctx}: verify: {e}"));
    assert_eq!(report.chain.head, final_head, "{ctx}");
    assert_eq!(report.state_hash, w.reference.hash_at(final_head.seq), "{ctx}");
}

#[test]
fn a_crash_at_every_storage_operation_keeps_exactly_the_durable_prefix() {
    let w = workload(11, 70);
    let config = crash_config(&w.engine, SyncPolicy::EveryBatch);
    let reference = MemStorage::new();
    let complete = run(&reference, &config, &w);
    assert_eq!(complete.published, w.commands.len() as u64);
    let log = reference.op_log();
    assert!(log.len() > 150, "{} operations", log.len());
    assert!(log.iter().any(|o| o.path.starts_with("snapshots/")), "the workload writes snapshots");
    assert!(log.iter().any(|o| o.op == StorageOp::Rename && !o.path.ends_with(".tmp")), "and archives segments");
    assert!(log.iter().filter(|o| o.op == StorageOp::Rename && o.path.ends_with(".seg.tmp")).count() > 4);

    for crash in &log {
        let torn_bytes = usize::try_from(crash.index * 31).unwrap() % (crash.bytes + 1);
        for mode in [CrashMode::Process, CrashMode::PowerLoss, CrashMode::PowerLossTorn { seed: crash.index }] {
            let ctx = format!("crash at op {} ({} {}, torn {torn_bytes}), {mode:?}", crash.index, crash.op, crash.path);
            let storage = MemStorage::with_plan(FaultPlan::none().at(crash.index, Fault::Crash { torn_bytes }));
            let seen = run(&storage, &config, &w);
            assert!(storage.is_crashed(), "{ctx}: the crash did not fire");
            restart_and_check(&storage, &config, &w, &seen, mode, &ctx);
        }
    }
}

#[test]
fn crashes_under_the_count_and_time_policies_keep_what_was_acknowledged() {
    for policy in [SyncPolicy::EveryRecords(3), SyncPolicy::EveryMillis(20)] {
        let w = workload(12, 50);
        let config = crash_config(&w.engine, policy);
        let reference = MemStorage::new();
        run(&reference, &config, &w);
        for crash in reference.op_log().iter().step_by(4) {
            let ctx = format!("{policy:?}: crash at op {} ({} {})", crash.index, crash.op, crash.path);
            let storage = MemStorage::with_plan(FaultPlan::none().at(crash.index, Fault::Crash { torn_bytes: 5 }));
            let seen = run(&storage, &config, &w);
            restart_and_check(&storage, &config, &w, &seen, CrashMode::PowerLoss, &ctx);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(16) })]

    /// A segment write torn at a random byte, then a crash: the torn record is cut off and the
    /// engine is the replay of exactly what survived.
    #[test]
    fn a_write_torn_at_a_random_byte_recovers_the_durable_prefix(
        seed in 0u64..1_000,
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        process_crash in any::<bool>(),
    ) {
        let w = workload(seed, 40);
        let config = crash_config(&w.engine, SyncPolicy::EveryBatch);
        let reference = MemStorage::new();
        run(&reference, &config, &w);
        let writes: Vec<_> = reference
            .op_log()
            .into_iter()
            .filter(|o| o.op == StorageOp::Write && o.path.ends_with(".seg") && o.bytes > 1)
            .collect();
        let write = &writes[pick.index(writes.len())];
        let torn_bytes = 1 + cut.index(write.bytes - 1);
        let storage = MemStorage::with_plan(FaultPlan::none().at(write.index, Fault::Crash { torn_bytes }));
        let seen = run(&storage, &config, &w);
        let mode = if process_crash { CrashMode::Process } else { CrashMode::PowerLossTorn { seed } };
        let ctx = format!("seed {seed}, write op {} torn at {torn_bytes} of {}, {mode:?}", write.index, write.bytes);
        restart_and_check(&storage, &config, &w, &seen, mode, &ctx);
    }
}

/// The simulator: seeded random crashes, failed fsyncs, short writes and full disks across many
/// restarts. Each restart recovers, redelivers, and the clients resend what was not
/// acknowledged; in the end every command is in, once, and the journal verifies.
#[test]
fn a_seeded_fault_simulator_across_restarts_loses_nothing_acknowledged() {
    for seed in 0..6u64 {
        let w = workload(100 + seed, 80);
        let config = crash_config(&w.engine, SyncPolicy::EveryBatch);
        let rates = FaultRates {
            crash_per_million: 8_000,
            sync_error_per_million: 8_000,
            short_write_per_million: 50_000,
            no_space_per_million: 4_000,
        };
        let mut storage = MemStorage::with_plan(FaultPlan::seeded(seed, rates));
        let mut restarts = 0;
        let mut published = 0u64;
        loop {
            let ctx = format!("simulator seed {seed}, restart {restarts}");
            let opened = Node::open(storage.clone(), config.clone());
            let mut stopped = opened.is_err();
            if let Ok((mut node, recovered)) = opened {
                let head = recovered.head.seq;
                assert!(published <= head, "{ctx}: acknowledged command lost");
                assert_eq!(node.engine().state_hash(), w.reference.hash_at(head), "{ctx}");
                for p in node.take_published() {
                    assert_eq!(p.events, w.reference.events_of(p.seq), "{ctx}");
                    published = published.max(p.seq);
                }
                assert_eq!(published, head, "{ctx}: the durable tail was redelivered");
                let mut at = usize::try_from(head).unwrap();
                while at < w.commands.len() && !stopped {
                    let n = (w.commands.len() - at).min(1 + at % 3);
                    match node.submit_batch(&w.commands[at..at + n]) {
                        Ok(batch) => {
                            for p in batch {
                                assert_eq!(p.events, w.reference.events_of(p.seq), "{ctx}");
                                published = p.seq;
                            }
                            at += n;
                        }
                        Err(_) => stopped = true,
                    }
                }
                if !stopped {
                    break;
                }
            }
            restarts += 1;
            assert!(restarts < 200, "{ctx}: no progress");
            let mode = match restarts % 3 {
                0 => CrashMode::Process,
                1 => CrashMode::PowerLoss,
                _ => CrashMode::PowerLossTorn { seed: seed * 1_000 + restarts },
            };
            storage = storage.crash(mode);
            storage.set_plan(FaultPlan::seeded(seed * 7_919 + restarts, rates));
        }
        assert!(restarts >= 2, "seed {seed}: the simulator should have hit faults ({restarts} restarts)");
        storage.set_plan(FaultPlan::none());
        let report = verify_journal(&storage, None, |_| {}).unwrap();
        assert_eq!(report.chain.head.seq, w.commands.len() as u64, "seed {seed}: every command in, once");
        assert_eq!(report.state_hash, w.reference.hash_at(w.commands.len() as u64), "seed {seed}");
    }
}
