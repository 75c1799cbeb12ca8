//! Crashes: at every storage operation of a recorded workload, and torn writes at random byte
//! offsets. After each, recovery must give back exactly a prefix of what was submitted that
//! holds everything acknowledged — and the journal must go on from there.

use perpx_journal::{
    CrashMode, Fault, FaultPlan, Journal, JournalConfig, MemStorage, Storage, StorageOp, SyncPolicy, verify_chain,
};
use proptest::prelude::*;

use crate::support::{Model, Step, check_recovered, run, small_config, workload};

/// Runs `steps` on a fresh journal in `storage` until it finishes or fails.
fn run_fresh(storage: &MemStorage, config: JournalConfig, steps: &[Step]) -> Model {
    let mut model = Model::default();
    if let Ok(mut recovery) = Journal::open(storage.clone(), config) {
        let _ = run(&mut recovery.writer, steps, &mut model);
    }
    model
}

/// Restarts `storage` under `mode`, checks the recovery, then appends more, reopens and checks
/// that the whole history (recovered plus new) is there and verifies from genesis.
fn restart_and_check(storage: &MemStorage, config: JournalConfig, model: &Model, mode: CrashMode, context: &str) {
    let restarted = storage.crash(mode);
    let mut recovery =
        Journal::open(restarted.clone(), config).unwrap_or_else(|e| panic!("{context}: recovery failed: {e}"));
    let mut model = check_recovered(model, &recovery, mode, context);

    let more = workload(1234, 4);
    run(&mut recovery.writer, &more, &mut model).unwrap_or_else(|e| panic!("{context}: after recovery: {e}"));
    let again = Journal::open(restarted.crash(CrashMode::PowerLoss), config).unwrap();
    let model = check_recovered(&model, &again, CrashMode::PowerLoss, context);
    let summary = verify_chain(again.writer.storage(), |_| {}).unwrap_or_else(|e| panic!("{context}: verify: {e}"));
    assert_eq!(summary.head, model.head(), "{context}: verified head");
}

#[test]
fn a_crash_at_every_storage_operation_loses_nothing_acknowledged_and_invents_nothing() {
    let config = small_config(SyncPolicy::EveryBatch);
    let steps = workload(7, 45);
    let reference = MemStorage::new();
    let complete = run_fresh(&reference, config, &steps);
    assert_eq!(complete.acked, 45);
    let log = reference.op_log();
    assert!(log.len() > 200, "{} operations", log.len());
    // The workload really exercises rollover, snapshots and archiving.
    assert!(log.iter().filter(|o| o.op == StorageOp::Rename && o.path.ends_with(".seg.tmp")).count() > 10);
    assert!(log.iter().any(|o| o.path.starts_with("snapshots/")));
    assert!(log.iter().any(|o| o.op == StorageOp::Rename && !o.path.ends_with(".tmp")));

    for crash in &log {
        let torn_bytes = usize::try_from(crash.index * 37).unwrap() % (crash.bytes + 1);
        for mode in [CrashMode::Process, CrashMode::PowerLoss, CrashMode::PowerLossTorn { seed: crash.index }] {
            let context =
                format!("crash at op {} ({} {}, torn {torn_bytes}), {mode:?}", crash.index, crash.op, crash.path);
            let storage = MemStorage::with_plan(FaultPlan::none().at(crash.index, Fault::Crash { torn_bytes }));
            let model = run_fresh(&storage, config, &steps);
            assert!(storage.is_crashed(), "{context}: the crash did not fire");
            restart_and_check(&storage, config, &model, mode, &context);
        }
    }
}

#[test]
fn crashes_under_every_sync_policy_keep_the_acknowledged_prefix() {
    for policy in [SyncPolicy::EveryRecords(3), SyncPolicy::EveryMillis(20)] {
        let config = small_config(policy);
        let steps: Vec<Step> = workload(11, 30).into_iter().filter(|s| !matches!(s, Step::Commit)).collect();
        let reference = MemStorage::new();
        run_fresh(&reference, config, &steps);
        for crash in reference.op_log().iter().step_by(3) {
            let context = format!("{policy:?}: crash at op {} ({} {})", crash.index, crash.op, crash.path);
            let plan = FaultPlan::none().at(crash.index, Fault::Crash { torn_bytes: crash.bytes / 2 });
            let storage = MemStorage::with_plan(plan);
            let model = run_fresh(&storage, config, &steps);
            restart_and_check(&storage, config, &model, CrashMode::PowerLoss, &context);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(64) })]

    /// A write torn at a random byte (the prefix reaches the page cache, then the machine dies):
    /// the torn record is truncated, reported with the bytes dropped, and the rest is intact.
    #[test]
    fn a_write_torn_at_a_random_byte_is_truncated_and_reported(
        seed in any::<u64>(),
        pick in any::<u64>(),
        cut in any::<u64>(),
        process_crash in any::<bool>(),
    ) {
        let config = small_config(SyncPolicy::EveryBatch);
        let steps = workload(seed, 20);
        let reference = MemStorage::new();
        run_fresh(&reference, config, &steps);
        let writes: Vec<_> = reference
            .op_log()
            .into_iter()
            .filter(|o| o.op == StorageOp::Write && o.path.ends_with(".seg") && o.bytes > 1)
            .collect();
        let write = &writes[usize::try_from(pick % writes.len() as u64).unwrap()];
        let torn_bytes = 1 + usize::try_from(cut % (write.bytes as u64 - 1)).unwrap();
        let storage = MemStorage::with_plan(FaultPlan::none().at(write.index, Fault::Crash { torn_bytes }));
        let model = run_fresh(&storage, config, &steps);
        let mode = if process_crash { CrashMode::Process } else { CrashMode::PowerLossTorn { seed } };
        let context = format!("seed {seed}, write op {} torn at {torn_bytes} of {}, {mode:?}", write.index, write.bytes);

        let restarted = storage.crash(mode);
        let recovery = Journal::open(restarted.clone(), config).unwrap();
        check_recovered(&model, &recovery, mode, &context);
        if let Some(torn) = &recovery.torn_tail {
            prop_assert!(torn.bytes_dropped > 0, "{}", context);
            prop_assert_eq!(restarted.file_len(&torn.segment).unwrap(), torn.offset, "{}", context);
        }
        // Recovery repaired the tail: a read-only verification finds nothing torn.
        let verify = verify_chain(&restarted, |_| {}).unwrap();
        prop_assert!(verify.torn_tail.is_none(), "{}: recovery left a torn tail", context);
        prop_assert_eq!(verify.head, recovery.head);
    }
}

#[test]
fn a_record_torn_at_every_byte_offset_is_dropped_with_its_exact_byte_count() {
    let config = JournalConfig { segment_bytes_target: 1 << 20, ..small_config(SyncPolicy::EveryBatch) };
    let payload = b"place order 12 BTC-PERP".to_vec();
    let frame_len = perpx_journal::frame::record_frame_bytes(payload.len());
    for torn_bytes in 1..frame_len {
        let storage = MemStorage::new();
        let mut recovery = Journal::open(storage.clone(), config).unwrap();
        for i in 0..5 {
            let _ = recovery.writer.append(i, &payload, b"events").unwrap();
        }
        recovery.writer.commit().unwrap();
        let segment = recovery.writer.active_segment().to_owned();
        let durable_len = storage.file_len(&segment).unwrap();
        storage.set_plan(FaultPlan::none().at(storage.op_count(), Fault::Crash { torn_bytes }));
        let _ = recovery.writer.append(5, &payload, b"events").unwrap();
        assert!(recovery.writer.commit().is_err());

        let restarted = storage.crash(CrashMode::Process);
        assert_eq!(restarted.file_len(&segment).unwrap(), durable_len + torn_bytes as u64);
        let recovered = Journal::open(restarted.clone(), config).unwrap();
        assert_eq!(recovered.head.seq, 5, "torn at {torn_bytes}");
        let torn = recovered.torn_tail.expect("a torn tail is reported");
        assert_eq!(torn.segment, segment);
        assert_eq!(torn.offset, durable_len);
        assert_eq!(torn.bytes_dropped, torn_bytes as u64, "torn at {torn_bytes}");
        assert_eq!(restarted.file_len(&segment).unwrap(), durable_len, "the file is cut back to the last whole record");
    }
}

#[test]
fn a_crash_at_every_step_of_recovery_itself_is_recovered_from() {
    let config = small_config(SyncPolicy::EveryBatch);
    // A journal whose last segment has a torn tail, so recovery has a repair to make.
    let steps = workload(21, 12);
    let reference = MemStorage::new();
    let model = run_fresh(&reference, config, &steps);
    let last_write = reference.op_log().into_iter().rfind(|o| o.op == StorageOp::Write && o.bytes > 10).unwrap();
    let torn = MemStorage::with_plan(FaultPlan::none().at(last_write.index, Fault::Crash { torn_bytes: 7 }));
    let torn_model = run_fresh(&torn, config, &steps);
    assert!(torn_model.acked < model.acked);
    let disk = torn.crash(CrashMode::Process);

    let probe = disk.fork();
    Journal::open(probe.clone(), config).unwrap();
    for op in probe.op_log() {
        for mode in [CrashMode::Process, CrashMode::PowerLoss, CrashMode::PowerLossTorn { seed: op.index }] {
            let context = format!("crash in recovery at op {} ({} {}), {mode:?}", op.index, op.op, op.path);
            let attempt = disk.fork();
            attempt.set_plan(FaultPlan::none().at(op.index, Fault::Crash { torn_bytes: op.bytes / 3 }));
            assert!(Journal::open(attempt.clone(), config).is_err(), "{context}");
            restart_and_check(&attempt, config, &torn_model, mode, &context);
        }
    }
}
