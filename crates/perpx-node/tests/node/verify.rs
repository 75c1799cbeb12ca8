//! `verify_journal` and `prove` (`docs/JOURNAL.md`, "perpx verify", "perpx proof"): a good
//! journal verifies with its snapshot checked; each kind of problem is reported first in chain
//! order with the record, segment and offset; proofs carry the command and its events.

use perpx_core::{Command, Engine, EngineConfig};
use perpx_journal::{Journal, JournalConfig, MemStorage, ReadError, Storage, SyncPolicy};
use perpx_node::codec::{encode_command, encode_events, encode_snapshot};
use perpx_node::{Node, NodeConfig, ProveError, ReplayMismatch, VerifyError, prove, verify_journal};
use perpx_testkit::mixed_stream;

use crate::support::{Reference, small_node_config};

fn stream(seed: u64, n: usize) -> (EngineConfig, Vec<Command>) {
    let mut s = mixed_stream::generate(seed, n);
    s.commands.truncate(n);
    (s.engine, s.commands)
}

/// A journal written by a node: small segments, snapshots every 60 commands, archiving.
fn node_journal(engine: &EngineConfig, commands: &[Command]) -> MemStorage {
    let storage = MemStorage::new();
    let config = NodeConfig {
        snapshot_every: Some(60),
        archive_after_snapshot: true,
        ..small_node_config(engine, SyncPolicy::EveryBatch)
    };
    let (mut node, _) = Node::open(storage.clone(), config).unwrap();
    for batch in commands.chunks(9) {
        node.submit_batch(batch).unwrap();
    }
    storage
}

/// A journal written record by record with `digest_of(seq, events)` as each events digest.
fn raw_journal(engine: &EngineConfig, commands: &[Command], events_of: impl Fn(u64, Vec<u8>) -> Vec<u8>) -> MemStorage {
    let storage = MemStorage::new();
    let config =
        JournalConfig { sync_policy: SyncPolicy::EveryBatch, segment_bytes_target: 2048, batch_bytes_max: 4096 };
    let mut journal = Journal::open(storage.clone(), config).unwrap();
    let mut e = Engine::new(engine.clone());
    for (i, c) in commands.iter().enumerate() {
        let events = events_of(i as u64 + 1, encode_events(&e.apply(c)));
        let _ticket = journal.writer.append(c.ts.0, &encode_command(c), &events).unwrap();
    }
    journal.writer.commit().unwrap();
    storage
}

#[test]
fn a_node_journal_verifies_and_its_snapshot_is_checked() {
    let (engine, commands) = stream(21, 200);
    let reference = Reference::run(&engine, &commands);
    let storage = node_journal(&engine, &commands);
    let mut calls = Vec::new();
    let report = verify_journal(&storage, None, |p| calls.push(*p)).unwrap();
    assert_eq!(report.chain.records, 200);
    assert!(report.chain.archived_segments > 0);
    assert_eq!(report.engine, engine, "the settings come from the snapshot");
    assert_eq!(report.state_hash, reference.hash_at(200));
    let snapshot = report.snapshot.expect("the newest snapshot is checked");
    assert_eq!(snapshot.seq, 198, "snapshots at 9 (the first), 72, 135 and 198 (batches of 9)");
    assert_eq!(snapshot.state_hash, reference.hash_at(198));
    assert_eq!(calls.len(), report.chain.segments, "progress after each segment");
    assert_eq!(calls.last().unwrap().records, 200);
}

#[test]
fn a_flipped_bit_is_reported_with_its_segment_and_offset() {
    let (engine, commands) = stream(22, 120);
    let storage = node_journal(&engine, &commands);
    let segments: Vec<String> = storage.list("").unwrap().into_iter().filter(|n| n.ends_with(".seg")).collect();
    let victim = &segments[segments.len() / 2];
    storage.flip_bit(victim, (64 + 30) * 8);
    let err = verify_journal(&storage, None, |_| {}).unwrap_err();
    let VerifyError::Chain(ReadError::Corruption(c)) = &err else { panic!("{err}") };
    assert_eq!((c.segment(), c.offset()), (victim.as_str(), 64), "{err}");
}

#[test]
fn a_record_whose_events_differ_is_named_with_its_segment_and_offset() {
    let (engine, commands) = stream(23, 80);
    let storage = raw_journal(&engine, &commands, |seq, e| if seq == 37 { Vec::new() } else { e });
    let err = verify_journal(&storage, Some(engine.clone()), |_| {}).unwrap_err();
    let VerifyError::Replay { seq: 37, segment, offset, mismatch } = &err else { panic!("{err}") };
    assert!(matches!(&**mismatch, ReplayMismatch::Events { recorded, .. } if *recorded == 0), "{err}");
    assert!(segment.ends_with(".seg") && *offset >= 64, "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("record 37 (segment {segment}, offset {offset}): the replayed events differ"))
    );
    assert!(message.contains("events check 00000000 recorded"), "{message}");

    // Without the engine settings, a journal that has no snapshot is replayed with the defaults,
    // and the first command they change is reported.
    let err = verify_journal(&raw_journal(&engine, &commands, |_, e| e), None, |_| {});
    assert!(matches!(err, Ok(_) | Err(VerifyError::Replay { .. })));
}

#[test]
fn a_snapshot_that_is_not_the_replayed_state_is_reported() {
    let (engine, commands) = stream(24, 50);
    let storage = raw_journal(&engine, &commands, |_, e| e);
    let mut journal = Journal::open(storage.clone(), JournalConfig::default()).unwrap();
    let head = journal.head;
    let mut e = Engine::new(engine.clone());
    for c in &commands {
        e.apply(c);
    }
    // The right state, but recorded with another state hash.
    journal.writer.write_snapshot(head.seq, [7; 32], head.hash, &encode_snapshot(&e.snapshot())).unwrap();
    let err = verify_journal(&storage, None, |_| {}).unwrap_err();
    assert!(matches!(&err, VerifyError::SnapshotState { seq: 50, .. }), "{err}");
    assert!(err.to_string().contains("the snapshot records 0707"), "{err}");
}

#[test]
fn a_proof_carries_the_command_its_events_and_the_links_to_the_head() {
    let (engine, commands) = stream(25, 150);
    let reference = Reference::run(&engine, &commands);
    let storage = node_journal(&engine, &commands);
    // A head is a commit's last record: one inside a commit is refused, naming the commit's end.
    let to_120 = match prove(&storage, 100, Some(120)) {
        Ok(_) => 120,
        Err(ProveError::NotAHead { to: 120, commit_end }) => commit_end,
        Err(e) => panic!("{e}"),
    };
    for (seq, to) in [(1, None), (40, None), (100, Some(to_120)), (150, None)] {
        let report = prove(&storage, seq, to).unwrap_or_else(|e| panic!("{seq}: {e}"));
        let head = to.unwrap_or(150);
        assert_eq!(report.proof.record().map(|r| r.seq), Some(seq));
        assert!(report.proof.links.len() as u64 <= head - report.proof.commit.last_seq);
        assert_eq!(report.proof.head.seq, head);
        assert_eq!(report.command, commands[usize::try_from(seq).unwrap() - 1]);
        assert_eq!(report.events, reference.events_of(seq));
        assert_eq!(report.engine.state_hash(), reference.hash_at(report.proof.commit.last_seq));
        // Records after a snapshot are replayed from it; earlier ones from genesis.
        assert_eq!(report.replayed_from.is_some(), seq > 135, "{seq}");
    }
    assert!(matches!(prove(&storage, 151, None), Err(ProveError::NotFound { seq: 151, head: 150 })));
    assert!(matches!(prove(&storage, 10, Some(5)), Err(ProveError::BadRange { .. })));
}
