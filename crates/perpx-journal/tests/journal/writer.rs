//! The writer: group commit, each sync policy's durability, rollover, limits and output commit.

use perpx_journal::frame::{Body, FrameRead, read_frame};
use perpx_journal::limits::PAYLOAD_BYTES_MAX;
use perpx_journal::segment::SEGMENT_HEADER_BYTES;
use perpx_journal::{
    GateFull, Journal, JournalConfig, JournalWriter, MemStorage, OutputGate, Storage, StorageOp, SyncPolicy, WriteError,
};

use crate::support::{frames, segment_paths, small_config};

fn writer(config: JournalConfig) -> (MemStorage, JournalWriter<MemStorage>) {
    let storage = MemStorage::new();
    let recovery = Journal::open(storage.clone(), config).unwrap();
    (storage, recovery.writer)
}

fn segment_ops(storage: &MemStorage, op: StorageOp) -> usize {
    storage.op_log().iter().filter(|o| o.op == op && o.path.ends_with(".seg")).count()
}

#[test]
fn a_record_is_durable_only_after_the_fsync_that_covers_it() {
    let (storage, mut writer) = writer(JournalConfig::default());
    let tickets: Vec<_> = (0..3).map(|i| writer.append(i, b"cmd", b"events").unwrap()).collect();
    assert_eq!(writer.durable_seq(), 0);
    assert!(tickets.iter().all(|&t| !writer.is_durable(t)));
    assert_eq!(writer.pending_records(), 3);
    assert_eq!(segment_ops(&storage, StorageOp::Sync), 0, "appending alone never fsyncs");

    let head = writer.commit().unwrap();
    assert_eq!(head.seq, 3);
    assert!(tickets.iter().all(|&t| writer.is_durable(t)));
    assert_eq!(writer.pending_records(), 0);
}

#[test]
fn a_batch_of_appends_costs_one_write_and_one_fsync() {
    let (storage, mut writer) = writer(JournalConfig::default());
    let (writes, syncs) = (segment_ops(&storage, StorageOp::Write), segment_ops(&storage, StorageOp::Sync));
    for i in 0..100 {
        let _ = writer.append(i, &[7; 100], b"events").unwrap();
    }
    writer.commit().unwrap();
    assert_eq!(segment_ops(&storage, StorageOp::Write), writes + 1);
    assert_eq!(segment_ops(&storage, StorageOp::Sync), syncs + 1);
    assert_eq!(writer.durable_seq(), 100);
    writer.commit().unwrap();
    assert_eq!(segment_ops(&storage, StorageOp::Sync), syncs + 1, "nothing pending, no fsync");
}

#[test]
fn every_records_n_fsyncs_when_n_records_wait() {
    let (_, mut writer) = writer(JournalConfig { sync_policy: SyncPolicy::EveryRecords(3), ..Default::default() });
    let durable: Vec<u64> = (0..7)
        .map(|i| {
            let _ = writer.append(i, b"cmd", b"events").unwrap();
            writer.durable_seq()
        })
        .collect();
    assert_eq!(durable, [0, 0, 3, 3, 3, 6, 6]);
    assert_eq!(writer.commit().unwrap().seq, 7, "commit still forces the rest");
}

#[test]
fn every_millis_fsyncs_when_the_oldest_waiting_record_is_old_enough() {
    let (_, mut writer) = writer(JournalConfig { sync_policy: SyncPolicy::EveryMillis(10), ..Default::default() });
    writer.tick(1_000).unwrap();
    let _ = writer.append(1, b"a", b"events").unwrap();
    writer.tick(1_004).unwrap();
    let _ = writer.append(2, b"b", b"events").unwrap();
    assert_eq!(writer.tick(1_009).unwrap().seq, 0, "9 ms: not yet");
    assert_eq!(writer.tick(900).unwrap().seq, 0, "time going back is ignored");
    assert_eq!(writer.tick(1_010).unwrap().seq, 2, "10 ms after the oldest: both durable");
    let _ = writer.append(3, b"c", b"events").unwrap();
    assert_eq!(writer.tick(1_015).unwrap().seq, 2, "the clock restarts with the next record");
    assert_eq!(writer.tick(1_020).unwrap().seq, 3);
}

#[test]
fn a_full_write_buffer_is_written_but_not_fsynced() {
    let config = JournalConfig { batch_bytes_max: 4096, ..Default::default() };
    let (storage, mut writer) = writer(config);
    let writes = segment_ops(&storage, StorageOp::Write);
    for i in 0..40 {
        let _ = writer.append(i, &[1; 200], b"events").unwrap();
    }
    assert!(segment_ops(&storage, StorageOp::Write) >= writes + 2, "the buffer stays bounded");
    assert_eq!(writer.durable_seq(), 0, "a write is not durability");
}

#[test]
fn segments_roll_over_at_their_target_size_and_end_with_a_seal() {
    let config = small_config(SyncPolicy::EveryBatch);
    let (storage, mut writer) = writer(config);
    for i in 0..30 {
        let _ = writer.append(i, &[3; 80], b"events").unwrap();
    }
    writer.commit().unwrap();
    let segments = segment_paths(&storage);
    assert!(segments.len() > 5);
    let mut next_seq = 1;
    for (i, path) in segments.iter().enumerate() {
        let bytes = storage.read(path).unwrap();
        let frames = frames(&bytes);
        assert_eq!(frames.iter().map(|f| f.len).sum::<usize>() + SEGMENT_HEADER_BYTES, bytes.len());
        if i + 1 < segments.len() {
            assert!(bytes.len() as u64 <= config.segment_bytes_target, "{path}: {} bytes", bytes.len());
            let seal = frames.last().unwrap();
            let FrameRead::Valid { body: Body::Seal(head), .. } = read_frame(&bytes[seal.offset..]) else {
                panic!("{path} ends without a seal");
            };
            assert!(frames[frames.len() - 2].commit, "{path}: the seal follows a commit");
            assert_eq!(Some(head.seq), frames.iter().rev().find_map(|f| f.seq));
        }
        for frame in frames.iter().filter(|f| f.seq.is_some()) {
            assert_eq!(frame.seq, Some(next_seq));
            next_seq += 1;
        }
    }
    assert_eq!(next_seq, 31);
}

#[test]
fn an_oversized_payload_is_refused_and_the_writer_goes_on() {
    let (_, mut writer) = writer(JournalConfig::default());
    let too_big = vec![0; PAYLOAD_BYTES_MAX + 1];
    assert_eq!(
        writer.append(0, &too_big, b"events"),
        Err(WriteError::PayloadTooLarge { len: PAYLOAD_BYTES_MAX + 1, max: PAYLOAD_BYTES_MAX })
    );
    assert!(writer.stopped().is_none());
    let largest = writer.append(0, &too_big[1..], b"events").unwrap();
    assert_eq!(largest.seq, 1);
    let empty = writer.append(-5, b"", b"events").unwrap();
    assert_eq!(empty.seq, 2);
    writer.commit().unwrap();
    let recovery = Journal::open(writer.into_storage(), JournalConfig::default()).unwrap();
    assert_eq!(recovery.records[0].payload.len(), PAYLOAD_BYTES_MAX);
    assert_eq!((recovery.records[1].ts_ms, recovery.records[1].payload.len()), (-5, 0));
}

#[test]
fn the_output_gate_publishes_nothing_before_its_record_is_durable() {
    let (_, mut writer) = writer(JournalConfig::default());
    let mut gate = OutputGate::new(3);
    for name in ["fill 1", "fill 2"] {
        let ticket = writer.append(0, name.as_bytes(), b"events").unwrap();
        gate.hold(ticket, name).unwrap();
    }
    assert_eq!(gate.release(writer.durable_seq()).count(), 0);
    writer.commit().unwrap();
    let third = writer.append(0, b"fill 3", b"events").unwrap();
    gate.hold(third, "fill 3").unwrap();
    assert_eq!(gate.release(writer.durable_seq()).collect::<Vec<_>>(), ["fill 1", "fill 2"]);
    assert_eq!(gate.len(), 1);
    for _ in 0..2 {
        gate.hold(third, "more of fill 3").unwrap();
    }
    assert_eq!(gate.hold(third, "one too many"), Err(GateFull { capacity: 3 }));
    writer.commit().unwrap();
    assert_eq!(gate.release(writer.durable_seq()).count(), 3);
    assert!(gate.is_empty());
}
