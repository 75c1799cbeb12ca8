//! Corruption before the tail stops recovery with a distinct error that names the segment file
//! and the byte offset; nothing is ever skipped. Verification reports the same error.

use std::collections::BTreeSet;
use std::mem::discriminant;

use perpx_journal::frame::{RecordRef, encode_record};
use perpx_journal::segment::parse_segment_file_name;
use perpx_journal::{
    Corruption, HeaderFault, Journal, MemStorage, OpenError, ReadError, Storage, SyncPolicy, Truncation, verify_chain,
};

use crate::support::{FrameAt, frames, journal_with, segment_paths, small_config};

/// A journal of 20 records over several segments, and its third segment (a middle one) with
/// its frames.
fn damaged_journal() -> (MemStorage, String, Vec<FrameAt>) {
    let (storage, _) = journal_with(20);
    let segments = segment_paths(&storage);
    assert!(segments.len() >= 6, "the journal spans several segments");
    let middle = segments[2].clone();
    let frames = frames(&storage.read(&middle).unwrap());
    assert!(frames.len() >= 3 && frames.last().unwrap().seq.is_none(), "two records or more, then the seal");
    (storage, middle, frames)
}

/// Opening fails with a corruption; verification fails with the same one.
fn corruption_of(storage: &MemStorage) -> Corruption {
    let verified = match verify_chain(storage, |_| {}) {
        Err(ReadError::Corruption(c)) => c,
        other => panic!("verify_chain should find corruption, got {other:?}"),
    };
    let opened = match Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)) {
        Err(OpenError::Corruption(c)) => c,
        other => panic!("open should fail with corruption, got {:?}", other.map(|r| r.head)),
    };
    assert_eq!(opened, verified, "recovery and verification report the same place");
    let message = opened.to_string();
    assert!(message.contains(opened.segment()), "the message names the segment: {message}");
    opened
}

fn seq_of(frame: &FrameAt) -> u64 {
    frame.seq.expect("a record frame")
}

#[test]
fn a_flipped_byte_in_a_middle_segment_is_a_checksum_mismatch_at_its_frame() {
    let (storage, middle, frames) = damaged_journal();
    storage.corrupt(&middle, |b| b[frames[1].offset + 30] ^= 0x01);
    let found = corruption_of(&storage);
    assert_eq!(found, Corruption::ChecksumMismatch { segment: middle, offset: frames[1].offset as u64 });
    assert!(found.to_string().contains(&format!("byte {}", frames[1].offset)));
}

#[test]
fn an_inserted_record_is_a_sequence_rewind_where_it_was_inserted() {
    let (storage, middle, frames) = damaged_journal();
    let first = frames[0];
    storage.corrupt(&middle, |b| {
        let copy = b[first.offset..first.offset + first.len].to_vec();
        b.splice(first.offset + first.len..first.offset + first.len, copy);
    });
    assert_eq!(
        corruption_of(&storage),
        Corruption::SequenceRewind {
            segment: middle,
            offset: (first.offset + first.len) as u64,
            expected: seq_of(&first) + 1,
            found: seq_of(&first),
        }
    );
}

#[test]
fn reordered_records_are_a_sequence_gap_where_the_order_breaks() {
    let (storage, middle, frames) = damaged_journal();
    let (a, b) = (frames[0], frames[1]);
    storage.corrupt(&middle, |bytes| {
        let first = bytes[a.offset..a.offset + a.len].to_vec();
        let second = bytes[b.offset..b.offset + b.len].to_vec();
        let swapped = [second, first].concat();
        bytes.splice(a.offset..b.offset + b.len, swapped);
    });
    assert_eq!(
        corruption_of(&storage),
        Corruption::SequenceGap { segment: middle, offset: a.offset as u64, expected: seq_of(&a), found: seq_of(&b) }
    );
}

#[test]
fn a_middle_segment_cut_inside_a_frame_is_truncated_mid_frame() {
    let (storage, middle, frames) = damaged_journal();
    let cut = frames[1].offset + 5;
    storage.corrupt(&middle, |b| b.truncate(cut));
    assert_eq!(
        corruption_of(&storage),
        Corruption::TruncatedSegment { segment: middle, offset: frames[1].offset as u64, reason: Truncation::MidFrame }
    );
}

#[test]
fn a_middle_segment_cut_on_a_frame_boundary_is_truncated_without_its_seal() {
    let (storage, middle, frames) = damaged_journal();
    let seal = *frames.last().unwrap();
    storage.corrupt(&middle, |b| b.truncate(seal.offset));
    assert_eq!(
        corruption_of(&storage),
        Corruption::TruncatedSegment { segment: middle, offset: seal.offset as u64, reason: Truncation::NoSeal }
    );
}

#[test]
fn a_missing_segment_is_named_by_the_segment_after_the_gap() {
    let (storage, middle, _) = damaged_journal();
    let segments = segment_paths(&storage);
    let next = segments[3].clone();
    storage.remove(&middle);
    assert_eq!(
        corruption_of(&storage),
        Corruption::MissingSegment {
            segment: next.clone(),
            expected_first_seq: parse_segment_file_name(&middle).unwrap(),
            found_first_seq: parse_segment_file_name(&next).unwrap(),
        }
    );
}

/// Rewrites the record of `frame` with another payload: a valid frame (CRC recomputed), with its
/// own hash recomputed too when `rehash`.
fn rewrite_record(storage: &MemStorage, path: &str, frame: FrameAt, rehash: bool) {
    let bytes = storage.read(path).unwrap();
    let original = match perpx_journal::frame::read_frame(&bytes[frame.offset..]) {
        perpx_journal::frame::FrameRead::Valid { body: perpx_journal::frame::Body::Record(r), .. } => r.to_record(),
        other => panic!("not a record: {other:?}"),
    };
    let mut forged = original.clone();
    forged.payload = vec![0xEE; original.payload.len()];
    if rehash {
        forged.hash = forged.compute_hash();
    }
    let mut encoded = Vec::new();
    encode_record(
        &mut encoded,
        &RecordRef {
            seq: forged.seq,
            ts_ms: forged.ts_ms,
            payload: &forged.payload,
            events_digest: forged.events_digest,
            prev_hash: forged.prev_hash,
            hash: forged.hash,
        },
    );
    assert_eq!(encoded.len(), frame.len);
    storage.corrupt(path, |b| b[frame.offset..frame.offset + frame.len].copy_from_slice(&encoded));
}

#[test]
fn a_record_rewritten_with_a_fresh_checksum_fails_its_own_hash() {
    let (storage, middle, frames) = damaged_journal();
    rewrite_record(&storage, &middle, frames[0], false);
    assert_eq!(
        corruption_of(&storage),
        Corruption::HashMismatch { segment: middle, offset: frames[0].offset as u64, seq: seq_of(&frames[0]) }
    );
}

#[test]
fn a_record_rewritten_and_rehashed_breaks_the_link_of_the_next_record() {
    let (storage, middle, frames) = damaged_journal();
    rewrite_record(&storage, &middle, frames[0], true);
    assert_eq!(
        corruption_of(&storage),
        Corruption::ChainBreak { segment: middle, offset: frames[1].offset as u64, seq: seq_of(&frames[1]) }
    );
}

#[test]
fn a_damaged_segment_header_is_a_bad_header() {
    let (storage, middle, _) = damaged_journal();
    storage.flip_bit(&middle, 30 * 8);
    assert_eq!(corruption_of(&storage), Corruption::BadHeader { segment: middle, fault: HeaderFault::Checksum });
}

#[test]
fn bytes_after_a_seal_are_corruption() {
    let (storage, middle, frames) = damaged_journal();
    let end = frames.last().map(|f| f.offset + f.len).unwrap();
    storage.corrupt(&middle, |b| b.extend_from_slice(&[0xAA; 3]));
    assert_eq!(corruption_of(&storage), Corruption::DataAfterSeal { segment: middle, offset: end as u64 });
}

#[test]
fn damage_in_the_last_segment_before_its_last_record_is_corruption_not_a_torn_tail() {
    let storage = MemStorage::new();
    let config = perpx_journal::JournalConfig { segment_bytes_target: 1 << 20, ..small_config(SyncPolicy::EveryBatch) };
    let mut recovery = Journal::open(storage.clone(), config).unwrap();
    for i in 0..5 {
        let _ = recovery.writer.append(i, b"some command", [0; 32]).unwrap();
    }
    recovery.writer.commit().unwrap();
    let segment = recovery.writer.active_segment().to_owned();
    let frames = frames(&storage.read(&segment).unwrap());
    assert_eq!(frames.len(), 5);

    let damaged = storage.crash(perpx_journal::CrashMode::PowerLoss);
    damaged.corrupt(&segment, |b| b[frames[3].offset + 40] ^= 0x80);
    assert_eq!(
        corruption_of(&damaged),
        Corruption::ChecksumMismatch { segment: segment.clone(), offset: frames[3].offset as u64 }
    );

    // The very last record with a bad checksum and nothing after it looks exactly like a torn
    // write: it is truncated and reported (docs/JOURNAL.md, "what recovery cannot tell").
    let last = storage.crash(perpx_journal::CrashMode::PowerLoss);
    last.corrupt(&segment, |b| b[frames[4].offset + 40] ^= 0x80);
    let recovered = Journal::open(last, config).unwrap();
    assert_eq!(recovered.head.seq, 4);
    assert_eq!(recovered.torn_tail.unwrap().bytes_dropped, frames[4].len as u64);
}

#[test]
fn every_kind_of_damage_has_its_own_error() {
    let cases: Vec<Corruption> = vec![
        {
            let (s, m, f) = damaged_journal();
            s.corrupt(&m, |b| b[f[1].offset + 30] ^= 1);
            corruption_of(&s)
        },
        {
            let (s, m, f) = damaged_journal();
            s.corrupt(&m, |b| {
                let copy = b[f[0].offset..f[0].offset + f[0].len].to_vec();
                b.splice(f[1].offset..f[1].offset, copy);
            });
            corruption_of(&s)
        },
        {
            let (s, m, f) = damaged_journal();
            s.corrupt(&m, |b| {
                let (first, second) = (b[f[0].offset..f[1].offset].to_vec(), b[f[1].offset..f[2].offset].to_vec());
                b.splice(f[0].offset..f[2].offset, [second, first].concat());
            });
            corruption_of(&s)
        },
        {
            let (s, m, f) = damaged_journal();
            s.corrupt(&m, |b| b.truncate(f[1].offset + 3));
            corruption_of(&s)
        },
        {
            let (s, m, _) = damaged_journal();
            s.remove(&m);
            corruption_of(&s)
        },
        {
            let (s, m, f) = damaged_journal();
            rewrite_record(&s, &m, f[0], true);
            corruption_of(&s)
        },
    ];
    let kinds: BTreeSet<String> = cases.iter().map(|c| format!("{:?}", discriminant(c))).collect();
    assert_eq!(kinds.len(), cases.len(), "flip, insert, reorder, truncate, missing and relink differ: {cases:#?}");
}
