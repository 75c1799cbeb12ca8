//! Storage faults injected by the in-memory storage: a failed fsync stops the writer for good
//! (and why a retry would lose data), short writes are completed, ENOSPC stops the writer, and
//! a seeded simulator throws all of them at long workloads. No acknowledged record is ever lost.

use perpx_journal::{
    CrashMode, Fault, FaultPlan, FaultRates, Journal, MemStorage, Storage, StorageErrorKind, StorageOp, SyncPolicy,
    WriteError, verify_chain,
};
use proptest::prelude::*;

use crate::support::{Model, check_recovered, run, small_config, workload};

/// The index of the first operation matching `pred` in a fault-free run of `steps`.
fn first_op(steps: &[crate::support::Step], pred: impl Fn(&perpx_journal::OpRecord) -> bool, skip: usize) -> u64 {
    let reference = MemStorage::new();
    let mut recovery = Journal::open(reference.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    run(&mut recovery.writer, steps, &mut Model::default()).unwrap();
    reference.op_log().into_iter().filter(|o| pred(o)).nth(skip).expect("such an operation").index
}

#[test]
fn a_failed_fsync_stops_the_writer_for_good_and_nothing_acknowledged_is_lost() {
    let steps = workload(5, 30);
    let sync_at = first_op(&steps, |o| o.op == StorageOp::Sync && o.path.ends_with(".seg"), 12);
    let storage = MemStorage::with_plan(FaultPlan::none().at(sync_at, Fault::SyncError));
    let mut recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let mut model = Model::default();

    let failure = run(&mut recovery.writer, &steps, &mut model).unwrap_err();
    assert!(failure.contains("EIO"), "{failure}");
    let writer = &mut recovery.writer;
    let cause = writer.stopped().cloned().expect("the writer is stopped");
    assert_eq!(cause.op, StorageOp::Sync);
    let durable = writer.durable_seq();
    assert!(durable < model.submitted.len() as u64, "the failed fsync acknowledged nothing");

    // Every later call is refused with the original failure, and touches no storage at all:
    // in particular, the fsync is never retried.
    let ops_before = storage.op_count();
    let refused = WriteError::Stopped { cause: cause.clone() };
    assert_eq!(writer.append(1, b"after", b"events"), Err(refused.clone()));
    assert_eq!(writer.commit(), Err(refused.clone()));
    assert_eq!(writer.tick(i64::MAX), Err(refused.clone()));
    assert!(refused.to_string().contains("never retries an fsync"), "{refused}");
    assert_eq!(storage.op_count(), ops_before, "a stopped writer does no I/O");
    assert_eq!(writer.durable_seq(), durable);

    for mode in [CrashMode::Process, CrashMode::PowerLoss, CrashMode::PowerLossTorn { seed: 3 }] {
        let recovered = Journal::open(storage.crash(mode), small_config(SyncPolicy::EveryBatch)).unwrap();
        check_recovered(&model, &recovered, mode, &format!("{mode:?}"));
    }
}

#[test]
fn why_an_fsync_is_never_retried_the_second_fsync_lies() {
    // The storage model of Linux after a write-back error: the dirty pages are marked clean
    // without reaching the disk, so a retried fsync "succeeds" and the data is gone anyway.
    let mut storage = MemStorage::new();
    storage.create("file").unwrap();
    storage.sync_dir("").unwrap();
    storage.write("file", b"acknowledged?").unwrap();
    storage.set_plan(FaultPlan::none().at(storage.op_count(), Fault::SyncError));
    assert!(storage.sync("file").is_err());
    assert_eq!(storage.read("file").unwrap(), b"acknowledged?", "the page cache still shows the data");
    storage.sync("file").expect("the retried fsync reports success");
    let after_power_loss = storage.crash(CrashMode::PowerLoss);
    assert_eq!(after_power_loss.read("file").unwrap(), vec![0; 13], "…but the data never reached the disk");
}

#[test]
fn short_writes_are_completed_and_lose_nothing() {
    let rates = FaultRates { short_write_per_million: 500_000, ..FaultRates::default() };
    let storage = MemStorage::with_plan(FaultPlan::seeded(42, rates));
    let mut recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let mut model = Model::default();
    run(&mut recovery.writer, &workload(8, 40), &mut model).unwrap();
    let shorts = storage.fired_faults().iter().filter(|f| matches!(f.fault, Fault::ShortWrite { .. })).count();
    assert!(shorts > 20, "short writes did happen ({shorts})");
    assert_eq!(recovery.writer.durable_seq(), 40);

    let recovered = Journal::open(storage.crash(CrashMode::PowerLoss), small_config(SyncPolicy::EveryBatch)).unwrap();
    check_recovered(&model, &recovered, CrashMode::PowerLoss, "short writes");
    assert_eq!(verify_chain(recovered.writer.storage(), |_| {}).unwrap().records, 40);
}

#[test]
fn no_space_left_stops_the_writer_and_the_partial_record_is_dropped_at_recovery() {
    let steps = workload(6, 30);
    let write_at = first_op(&steps, |o| o.op == StorageOp::Write && o.path.ends_with(".seg") && o.bytes > 100, 10);
    let storage = MemStorage::with_plan(FaultPlan::none().at(write_at, Fault::NoSpace { bytes: 50 }));
    let mut recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let mut model = Model::default();
    run(&mut recovery.writer, &steps, &mut model).unwrap_err();
    assert_eq!(recovery.writer.stopped().map(|c| c.kind.clone()), Some(StorageErrorKind::NoSpace));

    // The process restarts (the kernel kept the 50 bytes written before ENOSPC).
    let recovered = Journal::open(storage.crash(CrashMode::Process), small_config(SyncPolicy::EveryBatch)).unwrap();
    check_recovered(&model, &recovered, CrashMode::Process, "ENOSPC");
    assert_eq!(recovered.torn_tail.map(|t| t.bytes_dropped), Some(50));
}

#[test]
fn a_failed_directory_fsync_during_rollover_stops_the_writer() {
    let steps = workload(9, 30);
    let sync_dir_at = first_op(&steps, |o| o.op == StorageOp::SyncDir && o.path.is_empty(), 4);
    let storage = MemStorage::with_plan(FaultPlan::none().at(sync_dir_at, Fault::SyncError));
    let mut recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let mut model = Model::default();
    run(&mut recovery.writer, &steps, &mut model).unwrap_err();
    assert_eq!(recovery.writer.stopped().map(|c| c.op), Some(StorageOp::SyncDir));
    for mode in [CrashMode::Process, CrashMode::PowerLoss] {
        let recovered = Journal::open(storage.crash(mode), small_config(SyncPolicy::EveryBatch)).unwrap();
        check_recovered(&model, &recovered, mode, &format!("{mode:?}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(32) })]

    /// The simulator: a seeded storage throws crashes, fsync errors, short writes and ENOSPC at
    /// a long workload; after each failure the machine restarts (in a random crash mode), the
    /// journal recovers, is checked, and the workload goes on — five lives per seed.
    #[test]
    fn seeded_faults_across_restarts_never_lose_an_acknowledged_record(seed in any::<u64>()) {
        let rates = FaultRates {
            crash_per_million: 4_000,
            sync_error_per_million: 10_000,
            short_write_per_million: 100_000,
            no_space_per_million: 5_000,
        };
        let config = small_config(SyncPolicy::EveryRecords(2));
        let mut storage = MemStorage::with_plan(FaultPlan::seeded(seed, rates));
        let mut model = Model::default();
        for life in 0..5u64 {
            let mode = match (seed ^ life) % 3 {
                0 => CrashMode::Process,
                1 => CrashMode::PowerLoss,
                _ => CrashMode::PowerLossTorn { seed: seed ^ life },
            };
            let context = format!("seed {seed}, life {life}, {mode:?}");
            // Opening may itself meet a fault; then this life ends at once.
            if let Ok(mut recovery) = Journal::open(storage.clone(), config) {
                model = check_recovered(&model, &recovery, CrashMode::Process, &context);
                let outcome = run(&mut recovery.writer, &workload(seed.wrapping_add(life), 25), &mut model);
                if outcome.is_ok() {
                    prop_assert_eq!(recovery.writer.durable_seq(), model.submitted.len() as u64);
                }
            }
            let restarted = storage.crash(mode);
            // What a fault-free restart of this disk recovers is the history from now on.
            let recovered = Journal::open(restarted.fork(), config)
                .map_err(|e| TestCaseError::fail(format!("{context}: {e}; faults {:?}", storage.fired_faults())))?;
            // Bounds only (no "exactly the acknowledged prefix"): across lives, a recovery that
            // failed late may already have made unacknowledged records durable. And the fork's
            // recovery made its copy durable, not this disk: what is acknowledged here stays what
            // a writer or a real recovery acknowledged here.
            let acked = model.acked;
            model = check_recovered(&model, &recovered, CrashMode::Process, &context);
            model.acked = acked;
            restarted.set_plan(FaultPlan::seeded(seed.wrapping_mul(31).wrapping_add(life), rates));
            storage = restarted;
        }
        let verified = verify_chain(&storage, |_| {});
        prop_assert!(verified.is_ok(), "seed {}: {:?}", seed, verified);
    }
}

#[test]
fn a_process_restart_after_a_failed_fsync_makes_what_recovery_read_durable() {
    // The failed fsync left the segment's newest pages "clean" in the page cache but not on disk.
    // A process restart (no reboot) reads them back; recovery must rewrite them, because a plain
    // fsync would not, and a later power loss would lose records the new process acknowledged.
    let steps = workload(12, 30);
    let reference = MemStorage::new();
    run(
        &mut Journal::open(reference.clone(), small_config(SyncPolicy::EveryBatch)).unwrap().writer,
        &steps,
        &mut Model::default(),
    )
    .unwrap();
    let log = reference.op_log();
    // An fsync right after a write of several records.
    let sync_at = log
        .windows(2)
        .find(|w| w[0].op == StorageOp::Write && w[0].bytes > 400 && w[1].op == StorageOp::Sync && w[1].index > 20)
        .map(|w| w[1].index)
        .unwrap();
    let storage = MemStorage::with_plan(FaultPlan::none().at(sync_at, Fault::SyncError));
    let mut recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let mut model = Model::default();
    run(&mut recovery.writer, &steps, &mut model).unwrap_err();

    let restarted = storage.crash(CrashMode::Process);
    let recovered = Journal::open(restarted.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let model = check_recovered(&model, &recovered, CrashMode::Process, "process restart");
    assert!(model.acked > recovery.writer.durable_seq(), "the restart read back records the failed fsync lost");

    let after_power_loss = Journal::open(restarted.crash(CrashMode::PowerLoss), small_config(SyncPolicy::EveryBatch));
    check_recovered(&model, &after_power_loss.unwrap(), CrashMode::PowerLoss, "power loss after the restart");
}
