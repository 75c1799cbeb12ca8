//! Snapshots and the archive: atomic snapshot writes, invalid snapshots skipped and reported,
//! recovery from the newest valid one, and segments archived — never deleted — yet still read.

use std::collections::BTreeSet;

use perpx_journal::{
    CrashMode, Fault, FaultPlan, Journal, MemStorage, OpenError, SnapshotError, SnapshotFault, Storage, SyncPolicy,
    latest_valid_snapshot, verify_chain, verify_proof,
};

use crate::support::{Model, check_recovered, journal_with, segment_paths, small_config, state_at};

fn config() -> perpx_journal::JournalConfig {
    small_config(SyncPolicy::EveryBatch)
}

/// Writes the test snapshot at `seq` through a writer reopened on `storage`.
fn snapshot_at(storage: &MemStorage, model: &Model, seq: u64) {
    let mut recovery = Journal::open(storage.clone(), config()).unwrap();
    let (state_hash, state) = state_at(model, seq);
    let head_hash = model.heads[&seq];
    recovery.writer.write_snapshot(seq, state_hash, head_hash, &state).unwrap();
}

#[test]
fn recovery_starts_from_the_newest_valid_snapshot_and_replays_only_what_follows() {
    let (storage, model) = journal_with(20);
    snapshot_at(&storage, &model, 12);
    let recovery = Journal::open(storage.clone(), config()).unwrap();
    let recovered = check_recovered(&model, &recovery, CrashMode::PowerLoss, "snapshot 12");
    assert_eq!(recovery.snapshot.as_ref().map(|s| s.seq), Some(12));
    assert_eq!(recovery.records.len(), 8);
    assert_eq!(recovered.submitted.len(), 20);

    snapshot_at(&storage, &model, 20);
    let recovery = Journal::open(storage.clone(), config()).unwrap();
    assert_eq!(recovery.snapshot.as_ref().map(|s| s.seq), Some(20));
    assert!(recovery.records.is_empty(), "a snapshot at the head leaves nothing to replay");
}

#[test]
fn invalid_snapshots_are_skipped_and_reported_and_the_previous_one_is_used() {
    let (storage, model) = journal_with(20);
    snapshot_at(&storage, &model, 8);
    snapshot_at(&storage, &model, 12);
    snapshot_at(&storage, &model, 16);
    snapshot_at(&storage, &model, 20);
    storage.flip_bit("snapshots/00000000000000000020.snap", 100 * 8 + 3);
    storage.corrupt("snapshots/00000000000000000016.snap", |b| b.truncate(b.len() - 1));
    storage.corrupt("snapshots/00000000000000000012.snap", |b| b[8] = 9);

    let scan = latest_valid_snapshot(&storage).unwrap();
    assert_eq!(scan.snapshot.as_ref().map(|s| s.seq), Some(8));
    let faults: Vec<(String, SnapshotFault)> = scan.skipped.iter().map(|s| (s.path.clone(), s.fault)).collect();
    assert_eq!(
        faults,
        [
            ("snapshots/00000000000000000020.snap".to_owned(), SnapshotFault::Checksum),
            ("snapshots/00000000000000000016.snap".to_owned(), SnapshotFault::Checksum),
            ("snapshots/00000000000000000012.snap".to_owned(), SnapshotFault::UnsupportedVersion(9)),
        ]
    );
    let recovery = Journal::open(storage, config()).unwrap();
    assert_eq!(recovery.skipped_snapshots, scan.skipped);
    check_recovered(&model, &recovery, CrashMode::PowerLoss, "fallback to snapshot 8");
    assert_eq!(recovery.records.first().map(|r| r.seq), Some(9));
}

#[test]
fn a_snapshot_file_under_another_sequence_name_is_refused() {
    let (storage, model) = journal_with(20);
    snapshot_at(&storage, &model, 12);
    let bytes = storage.read("snapshots/00000000000000000012.snap").unwrap();
    storage.put("snapshots/00000000000000000015.snap", &bytes);
    let scan = latest_valid_snapshot(&storage).unwrap();
    assert_eq!(scan.skipped[0].fault, SnapshotFault::NameMismatch { inside: 12, name: 15 });
    assert_eq!(scan.snapshot.map(|s| s.seq), Some(12));
}

#[test]
fn a_crash_at_every_step_of_a_snapshot_write_leaves_the_previous_snapshot_valid() {
    let (storage, model) = journal_with(20);
    snapshot_at(&storage, &model, 10);
    let base = storage.crash(CrashMode::PowerLoss);
    let reference = base.fork();
    let start = reference.op_count();
    snapshot_at(&reference, &model, 20);
    let snapshot_ops: Vec<u64> = reference
        .op_log()
        .into_iter()
        .filter(|o| o.index >= start && o.path.starts_with("snapshots"))
        .map(|o| o.index)
        .collect();
    assert!(snapshot_ops.len() >= 5, "create, writes, fsync, rename, directory fsync");

    for at in snapshot_ops {
        for mode in [CrashMode::Process, CrashMode::PowerLoss, CrashMode::PowerLossTorn { seed: at }] {
            let disk = base.fork();
            disk.set_plan(FaultPlan::none().at(at, Fault::Crash { torn_bytes: 40 }));
            let mut recovery = Journal::open(disk.clone(), config()).unwrap();
            let (state_hash, state) = state_at(&model, 20);
            let result = recovery.writer.write_snapshot(20, state_hash, model.heads[&20], &state);
            assert!(matches!(result, Err(SnapshotError::Storage(_))), "op {at}: {result:?}");

            let restarted = disk.crash(mode);
            let scan = latest_valid_snapshot(&restarted).unwrap();
            assert!(scan.skipped.is_empty(), "op {at} {mode:?}: a torn snapshot became visible: {:?}", scan.skipped);
            let seq = scan.snapshot.map(|s| s.seq);
            assert!(seq == Some(10) || seq == Some(20), "op {at} {mode:?}: {seq:?}");
            let recovery = Journal::open(restarted, config()).unwrap();
            check_recovered(&model, &recovery, CrashMode::PowerLoss, &format!("op {at} {mode:?}"));
        }
    }
}

#[test]
fn a_snapshot_must_cover_only_durable_records_of_this_chain() {
    let (storage, model) = journal_with(10);
    let mut recovery = Journal::open(storage, config()).unwrap();
    let writer = &mut recovery.writer;
    let _ = writer.append(0, b"not yet durable", b"events").unwrap();
    assert_eq!(writer.write_snapshot(0, [0; 32], [0; 32], b""), Err(SnapshotError::SeqZero));
    assert_eq!(
        writer.write_snapshot(11, [0; 32], writer.head().hash, b""),
        Err(SnapshotError::NotDurable { seq: 11, durable_seq: 10 })
    );
    assert_eq!(writer.write_snapshot(10, [0; 32], [7; 32], b""), Err(SnapshotError::ChainHeadMismatch { seq: 10 }));
    assert!(writer.write_snapshot(10, [0; 32], model.heads[&10], b"state").is_ok());
}

#[test]
fn a_snapshot_that_does_not_belong_to_the_chain_stops_recovery() {
    let (storage, _) = journal_with(20);
    let mut recovery = Journal::open(storage.clone(), config()).unwrap();
    // Below the durable head the writer cannot check the hash; recovery does.
    recovery.writer.write_snapshot(12, [0; 32], [0xBA; 32], b"state").unwrap();
    assert_eq!(Journal::open(storage, config()).unwrap_err(), OpenError::SnapshotMismatch { seq: 12 });
}

#[test]
fn a_journal_that_ends_before_its_snapshot_is_refused() {
    let (storage, model) = journal_with(20);
    snapshot_at(&storage, &model, 20);
    let last = segment_paths(&storage).pop().unwrap();
    storage.remove(&last);
    match Journal::open(storage, config()).unwrap_err() {
        OpenError::JournalBehindSnapshot { snapshot_seq: 20, journal_head_seq } => assert!(journal_head_seq < 20),
        other => panic!("{other}"),
    }
}

fn all_segment_names(storage: &MemStorage) -> BTreeSet<String> {
    segment_paths(storage).into_iter().map(|p| p.rsplit('/').next().unwrap().to_owned()).collect()
}

#[test]
fn covered_segments_are_archived_never_deleted_and_still_verified_from_genesis() {
    let (storage, model) = journal_with(30);
    let names_before = all_segment_names(&storage);
    let mut recovery = Journal::open(storage.clone(), config()).unwrap();
    let nothing = recovery.writer.archive_covered_segments().unwrap();
    assert!(nothing.moved.is_empty() && nothing.snapshot_seq.is_none(), "no snapshot, nothing archived");

    snapshot_at(&storage, &model, 20);
    let mut recovery = Journal::open(storage.clone(), config()).unwrap();
    let report = recovery.writer.archive_covered_segments().unwrap();
    assert_eq!(report.snapshot_seq, Some(20));
    assert!(report.moved.len() >= 4, "{report:?}");
    assert!(report.moved.iter().all(|p| p.starts_with("archive/")));
    assert_eq!(all_segment_names(&storage), names_before, "every segment is still there, in one place or the other");
    assert!(!report.moved.iter().any(|p| p.ends_with(recovery.writer.active_segment())));
    // Every archived segment holds records at or before the snapshot only.
    for path in &report.moved {
        let last = crate::support::frames(&storage.read(path).unwrap()).iter().filter_map(|f| f.seq).max().unwrap();
        assert!(last <= 20, "{path} holds record {last}");
    }

    let summary = verify_chain(&storage, |_| {}).unwrap();
    assert_eq!((summary.records, summary.archived_segments), (30, report.moved.len()));
    let head = recovery.writer.durable_head();
    let proof = recovery.writer.proof(2, head.seq).unwrap();
    assert_eq!(verify_proof(&proof, &head), Ok(()), "a proof reaches into the archive");

    let reopened = Journal::open(storage.crash(CrashMode::PowerLoss), config()).unwrap();
    check_recovered(&model, &reopened, CrashMode::PowerLoss, "after archiving");
    assert_eq!(reopened.records.len(), 10);
}

#[test]
fn a_crash_at_every_step_of_archiving_leaves_each_segment_in_exactly_one_place() {
    let (storage, model) = journal_with(30);
    snapshot_at(&storage, &model, 20);
    let base = storage.crash(CrashMode::PowerLoss);
    let names = all_segment_names(&base);
    let reference = base.fork();
    let start = reference.op_count();
    Journal::open(reference.clone(), config()).unwrap().writer.archive_covered_segments().unwrap();
    let archive_ops: Vec<u64> = reference.op_log().into_iter().filter(|o| o.index >= start).map(|o| o.index).collect();

    for at in archive_ops {
        for mode in [CrashMode::Process, CrashMode::PowerLoss, CrashMode::PowerLossTorn { seed: at }] {
            let disk = base.fork();
            disk.set_plan(FaultPlan::none().at(at, Fault::Crash { torn_bytes: 0 }));
            if let Ok(mut recovery) = Journal::open(disk.clone(), config()) {
                assert!(recovery.writer.archive_covered_segments().is_err(), "op {at}");
            }
            let restarted = disk.crash(mode);
            assert_eq!(all_segment_names(&restarted), names, "op {at} {mode:?}");
            let summary = verify_chain(&restarted, |_| {}).unwrap_or_else(|e| panic!("op {at} {mode:?}: {e}"));
            assert_eq!(summary.records, 30);
            let recovery = Journal::open(restarted, config()).unwrap();
            check_recovered(&model, &recovery, CrashMode::PowerLoss, &format!("op {at} {mode:?}"));
        }
    }
}

/// `open_with_snapshot` shows the snapshot before the first record it replays (so the engine
/// can be restored first), and `open_with` is the same without it.
#[test]
fn open_with_snapshot_shows_the_snapshot_before_the_records_after_it() {
    let (storage, model) = journal_with(20);
    snapshot_at(&storage, &model, 12);
    let seen = std::cell::RefCell::new(Vec::new());
    let recovery = Journal::open_with_snapshot(
        storage.clone(),
        config(),
        |s| seen.borrow_mut().push(format!("snapshot {:?}", s.map(|s| s.seq))),
        |c| seen.borrow_mut().extend(c.records.iter().map(|(_, r)| format!("record {}", r.seq))),
    )
    .unwrap();
    let expected: Vec<String> =
        std::iter::once("snapshot Some(12)".to_owned()).chain((13..=20).map(|s| format!("record {s}"))).collect();
    assert_eq!(seen.into_inner(), expected);
    assert_eq!(recovery.head, model.head());
}

/// `verify_chain_with` hands over every commit of the chain with its records, archive included,
/// in order, with the segment and the offsets they were read at.
#[test]
fn verify_chain_with_visits_every_record_with_its_segment_and_offset() {
    let (storage, model) = journal_with(20);
    snapshot_at(&storage, &model, 12);
    let mut recovery = Journal::open(storage.clone(), config()).unwrap();
    assert!(!recovery.writer.archive_covered_segments().unwrap().moved.is_empty());
    let mut visited = Vec::new();
    let summary = perpx_journal::verify_chain_with(
        &storage,
        |_| {},
        |c| {
            visited.extend(c.records.iter().map(|(offset, r)| (c.segment.to_owned(), *offset, r.to_record())));
            assert!(c.offset > c.records.last().unwrap().0, "the commit follows its records");
        },
    )
    .unwrap();
    assert_eq!(visited.iter().map(|(_, _, r)| r.clone()).collect::<Vec<_>>(), model.submitted);
    assert!(visited[0].0.starts_with("archive/"), "{}", visited[0].0);
    for (segment, offset, record) in &visited {
        let bytes = storage.read(segment).unwrap();
        let at = usize::try_from(*offset).unwrap();
        assert!(bytes.len() > at + 12 && *offset >= 64, "{segment} @ {offset}");
        let seq_at = at + 12 + 1;
        assert_eq!(u64::from_le_bytes(bytes[seq_at..seq_at + 8].try_into().unwrap()), record.seq);
    }
    assert_eq!(summary.records, 20);
}
