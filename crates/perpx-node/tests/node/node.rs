//! The node (`docs/JOURNAL.md`, "The node"): events come out only once durable, group commit,
//! recovery from snapshot + journal with checked replay, redelivery, refusals.

use perpx_core::{Command, CommandKind, EngineConfig, Timestamp};
use perpx_journal::{
    CrashMode, Fault, FaultPlan, GENESIS_HASH, Journal, JournalConfig, MemStorage, Storage, StorageOp, SyncPolicy,
};
use perpx_node::codec::{encode_command, encode_events};
use perpx_node::{Node, NodeConfig, NodeError, ReplayMismatch, SnapshotLoadError};
use perpx_testkit::mixed_stream;

use crate::support::{Reference, one_of_each, small_node_config};

/// Exactly `commands` commands of a mixed stream.
fn stream(seed: u64, commands: usize) -> (EngineConfig, Vec<Command>) {
    let mut s = mixed_stream::generate(seed, commands);
    s.commands.truncate(commands);
    (s.engine, s.commands)
}

/// Submits `commands` in batches of the node's capacity.
fn submit_all<S: Storage>(node: &mut Node<S>, commands: &[Command]) {
    for batch in commands.chunks(node.config().gate_capacity) {
        node.submit_batch(batch).unwrap();
    }
}

#[test]
fn submitted_commands_give_the_engines_events_once_durable() {
    let (engine, commands) = stream(1, 200);
    let reference = Reference::run(&engine, &commands);
    let storage = MemStorage::new();
    let (mut node, recovered) =
        Node::open(storage.clone(), small_node_config(&engine, SyncPolicy::EveryBatch)).unwrap();
    assert_eq!((recovered.head.seq, recovered.replayed, recovered.redelivered), (0, 0, 0));
    for (i, c) in commands.iter().enumerate() {
        let seq = i as u64 + 1;
        let published = node.submit(c).unwrap();
        assert_eq!(published.seq, seq);
        assert!(!published.redelivered);
        assert_eq!(published.events, reference.events_of(seq), "command {seq}");
        assert_eq!(node.durable_head().seq, seq, "returned only once durable");
        assert_eq!(node.pending(), 0);
    }
    assert_eq!(node.engine().state_hash(), reference.hash_at(commands.len() as u64));
    assert!(node.take_published().is_empty(), "submit hands its events back directly");
}

#[test]
fn a_batch_is_one_write_and_one_fsync() {
    let (engine, commands) = stream(2, 120);
    let reference = Reference::run(&engine, &commands);
    let config = NodeConfig {
        journal: JournalConfig { segment_bytes_target: 1 << 20, ..JournalConfig::default() },
        ..small_node_config(&engine, SyncPolicy::EveryBatch)
    };
    let (mut node, _) = Node::open(MemStorage::new(), config).unwrap();
    let mut seq = 0;
    for batch in commands.chunks(12) {
        let fsyncs = node.writer().stats().fsyncs;
        let published = node.submit_batch(batch).unwrap();
        assert_eq!(node.writer().stats().fsyncs, fsyncs + 1, "one fsync per batch");
        assert_eq!(published.len(), batch.len());
        for p in published {
            seq += 1;
            assert_eq!((p.seq, p.events.as_slice()), (seq, reference.events_of(seq)));
        }
    }
}

/// Under a count policy, events wait in the gate until an fsync covers their record, and
/// come out of the outbox in sequence order.
#[test]
fn pipelined_events_wait_for_the_fsync_that_covers_them() {
    let (engine, commands) = stream(3, 60);
    let reference = Reference::run(&engine, &commands);
    let (mut node, _) = Node::open(MemStorage::new(), small_node_config(&engine, SyncPolicy::EveryRecords(4))).unwrap();
    let mut next = 1;
    for c in &commands {
        let ticket = node.enqueue(c).unwrap();
        let durable = node.durable_head().seq;
        assert!(node.pending() as u64 == ticket.seq - durable, "held exactly the records not yet durable");
        for p in node.take_published() {
            assert!(p.seq <= durable, "published {} before it was durable ({durable})", p.seq);
            assert_eq!((p.seq, p.events.as_slice()), (next, reference.events_of(next)));
            next += 1;
        }
    }
    node.flush().unwrap();
    next += node.take_published().len() as u64;
    assert_eq!(next, commands.len() as u64 + 1);
}

/// `enqueue_taking_events` hands each command's events over at once, exactly the engine's, and
/// still holds the record's place: its output comes out of the outbox only once durable, in
/// order, with no events left in it; and the journal reopens at the flushed head, to the same
/// engine.
#[test]
fn taken_events_leave_only_the_records_place_in_the_gate() {
    let (engine, commands) = stream(5, 60);
    let reference = Reference::run(&engine, &commands);
    let storage = MemStorage::new();
    let (mut node, _) = Node::open(storage.clone(), small_node_config(&engine, SyncPolicy::EveryRecords(4))).unwrap();
    let mut next = 1;
    for c in &commands {
        let (ticket, events) = node.enqueue_taking_events(c).unwrap();
        assert_eq!(events, reference.events_of(ticket.seq), "command {}", ticket.seq);
        let durable = node.durable_head().seq;
        for p in node.take_published() {
            assert!(p.seq <= durable, "released {} before it was durable ({durable})", p.seq);
            assert_eq!((p.seq, p.events.len()), (next, 0));
            next += 1;
        }
    }
    let head = node.flush().unwrap();
    next += node.take_published().len() as u64;
    assert_eq!(next, commands.len() as u64 + 1);
    drop(node);
    let (reopened, recovered) = Node::open(storage, small_node_config(&engine, SyncPolicy::EveryRecords(4))).unwrap();
    assert_eq!((recovered.head.seq, recovered.head.hash), (head.seq, head.hash));
    assert_eq!(reopened.engine().state_hash(), reference.hash_at(commands.len() as u64));
}

/// At most `gate_capacity` outputs wait inside the node: a full gate is committed, and a full
/// outbox refuses new commands (applying nothing) until it is taken.
#[test]
fn outputs_waiting_in_the_node_are_bounded() {
    let (engine, commands) = stream(4, 50);
    let config = NodeConfig { gate_capacity: 5, ..small_node_config(&engine, SyncPolicy::EveryMillis(60_000)) };
    let (mut node, _) = Node::open(MemStorage::new(), config).unwrap();
    let mut taken = Vec::new();
    let mut refused = 0;
    let mut i = 0;
    while i < commands.len() {
        match node.enqueue(&commands[i]) {
            Ok(_) => i += 1,
            Err(NodeError::OutputsWaiting { waiting: 5, capacity: 5 }) => {
                refused += 1;
                assert_eq!(node.engine().seq(), i as u64, "nothing applied");
                taken.extend(node.take_published().into_iter().map(|p| p.seq));
            }
            Err(e) => panic!("{e}"),
        }
        assert!(node.pending() + node.released() <= 5);
    }
    assert!(refused >= 8, "{refused}");
    assert!(matches!(node.submit_batch(&commands[..6]), Err(NodeError::BatchTooLarge { len: 6, capacity: 5 })));
    node.flush().unwrap();
    taken.extend(node.take_published().into_iter().map(|p| p.seq));
    assert_eq!(taken, (1..=commands.len() as u64).collect::<Vec<_>>());
}

/// The redelivery window after a replay of many batches (the replay hands records over 256 at a
/// time) is exactly the last `gate_capacity` records, each with its own events, when the window
/// reaches back into an earlier batch and when it is larger than the replay.
#[test]
fn the_redelivered_tail_spans_the_replay_batches_it_needs() {
    let (engine, commands) = stream(8, 700);
    let reference = Reference::run(&engine, &commands);
    for (capacity, first) in [(300, 401), (256, 445), (1000, 51)] {
        let config = NodeConfig { gate_capacity: capacity, ..small_node_config(&engine, SyncPolicy::EveryBatch) };
        let storage = MemStorage::new();
        let (mut node, _) = Node::open(storage.clone(), config.clone()).unwrap();
        for batch in commands.chunks(capacity.min(50)) {
            node.submit_batch(batch).unwrap();
        }
        drop(node);
        let (mut node, recovered) = Node::open(storage, config).unwrap();
        // The settings' snapshot after the first batch; then every record in three batches.
        assert!(recovered.replayed > 512, "{recovered:?}");
        assert_eq!(recovered.redelivered as u64, 701 - first, "capacity {capacity}");
        let redelivered = node.take_published();
        assert_eq!(redelivered.iter().map(|p| p.seq).collect::<Vec<_>>(), (first..=700).collect::<Vec<_>>());
        for p in &redelivered {
            assert!(p.redelivered);
            assert_eq!(p.events, reference.events_of(p.seq), "capacity {capacity}, record {}", p.seq);
        }
    }
}

/// A node reopened from its storage — from genesis, then from a snapshot with archived
/// segments — is the same engine and goes on like one that never stopped.
#[test]
fn reopening_recovers_the_engine_from_the_snapshot_and_the_journal() {
    let (engine, commands) = stream(5, 400);
    let reference = Reference::run(&engine, &commands);
    let config = NodeConfig {
        snapshot_every: Some(90),
        archive_after_snapshot: true,
        ..small_node_config(&engine, SyncPolicy::EveryBatch)
    };
    let storage = MemStorage::new();
    let (mut node, _) = Node::open(storage.clone(), config.clone()).unwrap();
    let (first, rest) = commands.split_at(250);
    for batch in first.chunks(7) {
        node.submit_batch(batch).unwrap();
    }
    assert!(node.last_snapshot_error().is_none(), "{:?}", node.last_snapshot_error());
    drop(node);
    assert_eq!(storage.list("snapshots").unwrap().len(), 3);
    assert!(!storage.list("archive").unwrap().is_empty(), "covered segments were archived");

    let (mut node, recovered) = Node::open(storage.crash(CrashMode::PowerLoss), config).unwrap();
    // The first snapshot after the first batch (7: it records the engine settings), then one
    // at the end of the first batch 90 commands after the last: 98 and 189 (batches of 7).
    assert_eq!(recovered.snapshot_seq, Some(189));
    assert_eq!(recovered.head.seq, 250);
    assert_eq!(recovered.replayed, 250 - 189);
    assert_eq!(node.engine().state_hash(), reference.hash_at(250));
    // The replayed tail is redelivered (the last gate_capacity records), then the node goes on.
    let redelivered = node.take_published();
    assert_eq!(redelivered.iter().map(|p| p.seq).collect::<Vec<_>>(), (235..=250).collect::<Vec<_>>());
    for p in &redelivered {
        assert!(p.redelivered);
        assert_eq!(p.events, reference.events_of(p.seq));
    }
    for (i, c) in rest.iter().enumerate() {
        let seq = 251 + i as u64;
        assert_eq!(node.submit(c).unwrap().events, reference.events_of(seq));
    }
    assert_eq!(node.engine().state_hash(), reference.hash_at(commands.len() as u64));
}

#[test]
fn a_snapshot_taken_with_other_engine_settings_is_refused() {
    let (engine, commands) = stream(6, 40);
    let storage = MemStorage::new();
    let config = small_node_config(&engine, SyncPolicy::EveryBatch);
    let (mut node, _) = Node::open(storage.clone(), config.clone()).unwrap();
    submit_all(&mut node, &commands);
    node.snapshot().unwrap();
    drop(node);
    let other = NodeConfig { engine: EngineConfig { max_markets: 3, ..engine }, ..config };
    let err = Node::open(storage, other).unwrap_err();
    assert!(matches!(err, NodeError::ConfigMismatch { seq: 40, .. }), "{err}");
}

/// Recovery checks the replayed events on the reading thread, batches behind the replay: a
/// mismatch deep in a long journal, past several batches, is still found, named and described
/// (its command and events), and nothing after it hides it.
#[test]
fn an_events_mismatch_deep_in_the_journal_is_named_and_described() {
    let storage = MemStorage::new();
    let mut journal = Journal::open(storage.clone(), JournalConfig::default()).unwrap();
    let mut engine = perpx_core::Engine::default();
    for i in 1..=1_500i64 {
        let command = Command { ts: Timestamp(1_000 + i), kind: CommandKind::Tick };
        let events = if i == 700 { b"not these events".to_vec() } else { encode_events(&engine.apply(&command)) };
        let _ticket = journal.writer.append(command.ts.0, &encode_command(&command), &events).unwrap();
        if i % 300 == 0 {
            journal.writer.commit().unwrap();
        }
    }
    journal.writer.commit().unwrap();
    match Node::open(storage, NodeConfig::default()) {
        Err(NodeError::Replay { seq: 700, mismatch }) => {
            assert!(
                matches!(&*mismatch, ReplayMismatch::Events { recorded, .. } if *recorded == perpx_journal::events_check(b"not these events")),
                "{mismatch}"
            );
        }
        other => panic!("expected the mismatch at record 700, got {other:?}"),
    }
}

/// A journal whose records do not replay as recorded: the payload does not decode, or the
/// events differ. Recovery refuses it and names the record.
#[test]
fn records_that_do_not_replay_as_recorded_are_refused() {
    let commands = one_of_each();
    let good = |c: &Command| encode_events(&perpx_core::Engine::default().apply(c));
    for (case, payload, events) in [
        ("decode", vec![1u8, 2, 3], Vec::new()),
        ("events", encode_command(&commands[0]), b"other events".to_vec()),
        ("timestamp", encode_command(&Command { ts: Timestamp(99), kind: CommandKind::Tick }), Vec::new()),
        ("ok", encode_command(&commands[0]), good(&commands[0])),
    ] {
        let storage = MemStorage::new();
        let mut journal = Journal::open(storage.clone(), JournalConfig::default()).unwrap();
        let ts = commands[0].ts.0;
        let _ticket = journal.writer.append(ts, &payload, &events).unwrap();
        journal.writer.commit().unwrap();
        let result = Node::open(storage, NodeConfig::default());
        match (case, result) {
            ("ok", Ok((node, _))) => assert_eq!(node.engine().seq(), 1),
            ("decode", Err(NodeError::Replay { seq: 1, mismatch })) => {
                assert!(matches!(*mismatch, ReplayMismatch::Decode(_)), "{mismatch}");
            }
            ("events", Err(NodeError::Replay { seq: 1, mismatch })) => {
                assert!(matches!(*mismatch, ReplayMismatch::Events { .. }), "{mismatch}");
                assert!(mismatch.to_string().contains("MarketCreated"), "{mismatch}");
            }
            ("timestamp", Err(NodeError::Replay { seq: 1, mismatch })) => {
                assert!(matches!(*mismatch, ReplayMismatch::Timestamp { record_ts: _, command_ts: 99 }), "{mismatch}");
            }
            (case, other) => panic!("{case}: {other:?}"),
        }
    }
}

#[test]
fn a_snapshot_whose_state_does_not_match_its_hash_is_refused() {
    let (engine, commands) = stream(7, 30);
    let storage = MemStorage::new();
    let config = small_node_config(&engine, SyncPolicy::EveryBatch);
    let (mut node, _) = Node::open(storage.clone(), config.clone()).unwrap();
    submit_all(&mut node, &commands);
    let head = node.durable_head();
    // A snapshot file (valid as a file) whose state is another engine's.
    let other = perpx_node::codec::encode_snapshot(&perpx_core::Engine::new(engine.clone()).snapshot());
    let storage = node.into_storage();
    let mut journal = Journal::open(storage.clone(), config.journal).unwrap();
    journal.writer.write_snapshot(head.seq, [1; 32], head.hash, &other).unwrap();
    let err = Node::open(storage, config).unwrap_err();
    assert!(
        matches!(
            &err,
            NodeError::Snapshot { seq: 30, source: SnapshotLoadError::Sequence { file_seq: 30, state_seq: 0 } }
        ),
        "{err}"
    );
}

/// A failed fsync stops the node for good: the command's events are never released, every
/// later call is refused without touching the storage, and a restart recovers what is on disk.
#[test]
fn a_failed_fsync_stops_the_node_and_a_restart_recovers() {
    let (engine, commands) = stream(8, 80);
    let reference = Reference::run(&engine, &commands);
    let config = small_node_config(&engine, SyncPolicy::EveryBatch);
    // The first fsync of the commit of command 41, found on a fault-free run.
    let probe = MemStorage::new();
    let (mut node, _) = Node::open(probe.clone(), config.clone()).unwrap();
    submit_all(&mut node, &commands[..40]);
    let after_40 = probe.op_count();
    node.submit(&commands[40]).unwrap();
    let sync_at = probe.op_log().iter().find(|o| o.index >= after_40 && o.op == StorageOp::Sync).unwrap().index;
    drop(node);

    let storage = MemStorage::with_plan(FaultPlan::none().at(sync_at, Fault::SyncError));
    let (mut node, _) = Node::open(storage.clone(), config.clone()).unwrap();
    submit_all(&mut node, &commands[..40]);
    let ops = storage.op_log();
    assert!(ops.iter().all(|o| o.index < sync_at), "the fault is ahead");
    let err = node.submit(&commands[40]).unwrap_err();
    let NodeError::Stopped { cause } = &err else { panic!("{err}") };
    assert_eq!(cause.op, StorageOp::Sync);
    assert!(err.to_string().contains("restart the process"), "{err}");
    assert!(node.take_published().is_empty(), "nothing of the failed command is published");
    let before = storage.op_count();
    for c in &commands[41..45] {
        assert!(matches!(node.submit(c), Err(NodeError::Stopped { .. })));
    }
    assert!(matches!(node.flush(), Err(NodeError::Stopped { .. })));
    assert!(matches!(node.snapshot(), Err(NodeError::Stopped { .. })));
    assert_eq!(storage.op_count(), before, "a stopped node does no I/O");

    for mode in [CrashMode::Process, CrashMode::PowerLoss] {
        let (node, recovered) = Node::open(storage.crash(mode), config.clone()).unwrap();
        assert!(recovered.head.seq >= 40, "{mode:?}: acknowledged commands survive");
        assert_eq!(node.engine().state_hash(), reference.hash_at(recovered.head.seq), "{mode:?}");
    }
}

#[test]
fn the_chain_starts_at_genesis_and_commands_are_the_payloads() {
    let commands = one_of_each();
    let storage = MemStorage::new();
    let (mut node, _) = Node::open(storage.clone(), NodeConfig::default()).unwrap();
    node.submit_batch(&commands).unwrap();
    drop(node);
    let (mut records, mut commits) = (Vec::new(), Vec::new());
    perpx_journal::verify_chain_with(
        &storage,
        |_| {},
        |c| {
            records.extend(c.records.iter().map(|(_, r)| r.to_record()));
            commits.push(c.commit);
        },
    )
    .unwrap();
    assert_eq!(records.len(), commands.len());
    assert_eq!(commits.len(), 1, "one batch, one commit");
    assert_eq!(commits[0].prev_hash, GENESIS_HASH);
    for (record, c) in records.iter().zip(&commands) {
        assert_eq!(record.payload, encode_command(c));
        assert_eq!(record.ts_ms, c.ts.0);
    }
}

/// Every record's events can have their check while the commit's digest differs (the checks
/// are CRCs, not a commitment): the replay still refuses the commit, naming its range.
#[test]
fn a_commit_whose_events_digest_differs_is_refused_even_when_every_check_holds() {
    let commands = one_of_each();
    let storage = MemStorage::new();
    let (mut node, _) = Node::open(storage.clone(), NodeConfig::default()).unwrap();
    node.submit_batch(&commands).unwrap();
    drop(node);
    let (mut honest, mut forged) = (Vec::new(), Vec::new());
    perpx_journal::verify_chain_with(
        &storage,
        |_| {},
        |c| {
            let mut replayer = perpx_node::Replayer::new(perpx_core::Engine::default(), true);
            honest.push(replayer.apply_commit(c, |_, _, _| {}));
            let mut other = *c;
            other.commit.events_digest[0] ^= 1;
            let mut replayer = perpx_node::Replayer::new(perpx_core::Engine::default(), true);
            forged.push(replayer.apply_commit(&other, |_, _, _| {}));
        },
    )
    .unwrap();
    assert_eq!(honest.len(), 1);
    assert!(honest[0].is_ok(), "{:?}", honest[0]);
    let last = commands.len() as u64;
    match &forged[0] {
        Err((seq, ReplayMismatch::CommitEvents { first_seq: 1, last_seq, .. })) => {
            assert_eq!((*seq, *last_seq), (last, last));
        }
        other => panic!("{other:?}"),
    }
}
