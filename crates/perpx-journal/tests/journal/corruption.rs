//! Corruption before the tail stops recovery with a distinct error that names the segment file
//! and the byte offset; nothing is ever skipped. Verification reports the same error.

use std::collections::BTreeSet;
use std::mem::discriminant;

use perpx_journal::frame::{RecordRef, encode_record};
use perpx_journal::segment::parse_segment_file_name;
use perpx_journal::{
    Corruption, HeaderFault, Journal, MemStorage, OpenError, ReadError, Storage, SyncPolicy, Truncation,
    records_digest, verify_chain,
};

use crate::support::{FrameAt, frames, journal_with, segment_paths, small_config};

/// A journal of 20 records over several segments, and a middle segment that starts with two
/// records (then their commit, …, a commit and the seal), with its frames.
fn damaged_journal() -> (MemStorage, String, Vec<FrameAt>) {
    let (storage, _) = journal_with(20);
    let segments = segment_paths(&storage);
    assert!(segments.len() >= 6, "the journal spans several segments");
    for middle in &segments[2..segments.len() - 1] {
        let frames = frames(&storage.read(middle).unwrap());
        let n = frames.len();
        if n >= 4 && frames[0].seq.is_some() && frames[1].seq.is_some() && frames[n - 2].commit {
            return (storage, middle.clone(), frames);
        }
    }
    panic!("no middle segment starts with two records");
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

/// Rewrites record `frames[i]` with another payload: a valid frame (CRC recomputed); with
/// `rehash`, the commit that closes it is re-hashed over the forged record too. Returns the
/// commit's index in `frames`.
fn rewrite_record(storage: &MemStorage, path: &str, frames: &[FrameAt], i: usize, rehash: bool) -> usize {
    use perpx_journal::frame::{Body, FrameRead, encode_commit, read_frame};
    let bytes = storage.read(path).unwrap();
    let FrameRead::Valid { body: Body::Record(original), .. } = read_frame(&bytes[frames[i].offset..]) else {
        panic!("not a record");
    };
    let forged = vec![0xEE; original.payload.len()];
    let mut encoded = Vec::new();
    encode_record(&mut encoded, &RecordRef { payload: &forged, ..original });
    assert_eq!(encoded.len(), frames[i].len);
    let frame = frames[i];
    storage.corrupt(path, |b| b[frame.offset..frame.offset + frame.len].copy_from_slice(&encoded));
    let commit_at = i + frames[i..].iter().position(|f| f.commit).expect("a commit closes the record");
    if rehash {
        let first = frames[..i].iter().rposition(|f| f.commit).map_or(0, |c| c + 1);
        let bytes = storage.read(path).unwrap();
        let c = frames[commit_at];
        let FrameRead::Valid { body: Body::Commit(mut commit), .. } = read_frame(&bytes[c.offset..]) else {
            panic!("not a commit");
        };
        commit.hash = commit.compute_hash(&records_digest(&bytes[frames[first].offset..c.offset]));
        let mut encoded = Vec::new();
        encode_commit(&mut encoded, &commit);
        storage.corrupt(path, |b| b[c.offset..c.offset + c.len].copy_from_slice(&encoded));
    }
    commit_at
}

#[test]
fn a_record_rewritten_with_a_fresh_checksum_fails_its_commits_hash() {
    let (storage, middle, frames) = damaged_journal();
    let c = rewrite_record(&storage, &middle, &frames, 0, false);
    assert_eq!(
        corruption_of(&storage),
        Corruption::HashMismatch {
            segment: middle,
            offset: frames[c].offset as u64,
            first_seq: seq_of(&frames[0]),
            last_seq: seq_of(&frames[c - 1]),
        }
    );
}

#[test]
fn a_record_rewritten_and_its_commit_rehashed_breaks_the_next_link() {
    let (storage, middle, frames) = damaged_journal();
    let c = rewrite_record(&storage, &middle, &frames, 0, true);
    let n = frames.len();
    // The next link is the next commit's `prev_hash`, or the seal when the commit was the
    // segment's last.
    let expected = match frames[c + 1..].iter().position(|f| f.commit) {
        Some(i) => Corruption::ChainBreak {
            segment: middle,
            offset: frames[c + 1 + i].offset as u64,
            first_seq: seq_of(&frames[c - 1]) + 1,
        },
        None => Corruption::SealMismatch { segment: middle, offset: frames[n - 1].offset as u64 },
    };
    assert_eq!(corruption_of(&storage), expected);
}

#[test]
fn records_before_a_seal_without_their_commit_are_corruption() {
    let (storage, middle, frames) = damaged_journal();
    let n = frames.len();
    let commit = frames[n - 2];
    storage.corrupt(&middle, |b| {
        b.drain(commit.offset..commit.offset + commit.len);
    });
    let first_open = frames[..n - 2].iter().rposition(|f| f.commit).map_or(0, |c| c + 1);
    assert_eq!(
        corruption_of(&storage),
        Corruption::UncommittedRecords { segment: middle, offset: frames[first_open].offset as u64 }
    );
}

#[test]
fn a_commit_that_does_not_name_the_records_before_it_is_corruption() {
    let (storage, middle, frames) = damaged_journal();
    let c = frames.iter().position(|f| f.commit).unwrap();
    let commit = frames[c];
    // The commit repeated right after itself: the second follows no records.
    storage.corrupt(&middle, |b| {
        let copy = b[commit.offset..commit.offset + commit.len].to_vec();
        b.splice(commit.offset + commit.len..commit.offset + commit.len, copy);
    });
    assert_eq!(
        corruption_of(&storage),
        Corruption::CommitMismatch {
            segment: middle,
            offset: (commit.offset + commit.len) as u64,
            first_seq: seq_of(&frames[0]),
            last_seq: seq_of(&frames[c - 1]),
            records: None,
        }
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
fn damage_in_the_last_segment_before_its_last_frame_is_corruption_not_a_torn_tail() {
    let storage = MemStorage::new();
    let config = perpx_journal::JournalConfig { segment_bytes_target: 1 << 20, ..small_config(SyncPolicy::EveryBatch) };
    let mut recovery = Journal::open(storage.clone(), config).unwrap();
    for i in 0..5 {
        let _ = recovery.writer.append(i, b"some command", b"events").unwrap();
    }
    recovery.writer.commit().unwrap();
    let segment = recovery.writer.active_segment().to_owned();
    let frames = frames(&storage.read(&segment).unwrap());
    assert_eq!(frames.len(), 6, "five records and their commit");

    let damaged = storage.crash(perpx_journal::CrashMode::PowerLoss);
    damaged.corrupt(&segment, |b| b[frames[3].offset + 20] ^= 0x80);
    assert_eq!(
        corruption_of(&damaged),
        Corruption::ChecksumMismatch { segment: segment.clone(), offset: frames[3].offset as u64 }
    );

    // The very last frame, the commit, with a bad checksum and nothing after it looks exactly
    // like a torn write: the whole commit is truncated and reported (docs/JOURNAL.md, "what
    // recovery cannot tell").
    let last = storage.crash(perpx_journal::CrashMode::PowerLoss);
    last.corrupt(&segment, |b| b[frames[5].offset + 40] ^= 0x80);
    let recovered = Journal::open(last, config).unwrap();
    assert_eq!(recovered.head.seq, 0);
    let dropped: usize = frames.iter().map(|f| f.len).sum();
    assert_eq!(recovered.torn_tail.unwrap().bytes_dropped, dropped as u64);
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
            rewrite_record(&s, &m, &f, 0, true);
            corruption_of(&s)
        },
    ];
    let kinds: BTreeSet<String> = cases.iter().map(|c| format!("{:?}", discriminant(c))).collect();
    assert_eq!(kinds.len(), cases.len(), "flip, insert, reorder, truncate, missing and relink differ: {cases:#?}");
}
