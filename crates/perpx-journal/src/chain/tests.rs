//! A segment read a part at a time is checked exactly as if it were read whole: the same
//! commits visited with the same records, the same ends, and on damage the same first error.

use std::ops::ControlFlow;

use proptest::prelude::*;

use super::{ReadError, SegmentFile, Walker, list_segments};
use crate::config::{JournalConfig, SyncPolicy};
use crate::record::Hash;
use crate::recover::Journal;
use crate::scan::SegmentEnd;
use crate::segment::{SEGMENT_HEADER_BYTES, SegmentHeader};
use crate::storage::{MemStorage, Storage};

/// A commit visited: its segment, offset, records' offsets and sequence numbers, and digest.
type Visited = (String, u64, Vec<(u64, u64)>, Hash);

/// What a walk from genesis saw: each commit visited, then each segment's end, or the error it
/// stopped at.
#[derive(Debug, PartialEq, Eq)]
struct Walked {
    commits: Vec<Visited>,
    ends: Result<Vec<Option<(SegmentHeader, SegmentEnd)>>, ReadError>,
}

fn walk(storage: &MemStorage, part_bytes: usize) -> (Walked, Walker) {
    let segments = list_segments(storage).expect("the segments list");
    let mut walker = Walker::from_genesis().with_part_bytes(part_bytes);
    let mut commits = Vec::new();
    let mut visit = |_: &SegmentFile, c: &super::Committed<'_>| {
        let records = c.records.iter().map(|(offset, r)| (*offset, r.seq)).collect();
        commits.push((c.segment.to_owned(), c.offset, records, c.records_digest));
        ControlFlow::Continue(())
    };
    let ends = segments
        .iter()
        .enumerate()
        .map(|(i, segment)| walker.walk(storage, segment, i + 1 == segments.len(), &mut visit))
        .collect();
    (Walked { commits, ends }, walker)
}

/// A journal of `records` records with payloads of 0–`payload_max` bytes, committed in groups of
/// 1–`group_max`, in segments of about 4 KiB.
fn journal(seed: u64, records: u64, payload_max: u64, group_max: u64) -> MemStorage {
    let storage = MemStorage::new();
    let config =
        JournalConfig { sync_policy: SyncPolicy::EveryBatch, segment_bytes_target: 4096, batch_bytes_max: 4096 };
    let mut writer = Journal::open(storage.clone(), config).expect("a new journal opens").writer;
    let mut state = seed;
    let mut next = |n: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let mut in_group = 0;
    let mut group = 1 + next(group_max);
    for i in 0..records {
        let payload: Vec<u8> = (0..next(payload_max + 1)).map(|b| (b ^ i).to_le_bytes()[0]).collect();
        let _ticket = writer.append(1_000 + i as i64, &payload, &payload[..payload.len() / 2]).expect("an append");
        in_group += 1;
        if in_group == group {
            writer.commit().expect("a commit");
            in_group = 0;
            group = 1 + next(group_max);
        }
    }
    writer.commit().expect("the last commit");
    storage
}

/// Larger than any segment here: every segment is read in one part, as a whole file was.
const WHOLE: usize = 1 << 20;

#[test]
fn parts_smaller_than_a_frame_check_what_the_whole_file_checks_and_the_buffer_grows() {
    let storage = journal(7, 300, 200, 12);
    let segments = list_segments(&storage).unwrap();
    assert!(segments.len() >= 5, "several segments before the last: {}", segments.len());

    let (whole, _) = walk(&storage, WHOLE);
    assert!(whole.ends.is_ok(), "the journal is sound: {:?}", whole.ends);
    assert_eq!(whole.commits.iter().map(|c| c.2.len()).sum::<usize>(), 300, "every record visited once");
    // A part the size of a segment header: every frame starts or ends outside the bytes in hand,
    // and a commit's records (up to 12 of up to 237 bytes) fit only once the buffer has grown.
    let (parts, walker) = walk(&storage, SEGMENT_HEADER_BYTES);
    assert_eq!(parts, whole);
    assert!(walker.part.len() > SEGMENT_HEADER_BYTES, "the buffer doubled to hold a commit's records");
}

#[test]
fn a_segment_cut_where_a_part_ends_is_still_missing_its_seal() {
    let storage = journal(3, 80, 60, 4);
    let first = list_segments(&storage).unwrap().remove(0).path;
    let len = storage.file_len(&first).unwrap();
    // Cut just after a whole frame (the last commit before the seal), so the part that ends
    // with it sees no frame cut short.
    let (whole, _) = walk(&storage, WHOLE);
    let (_, cut_at, _, _) = whole.commits.iter().rfind(|c| c.0 == first).cloned().expect("a commit in it");
    let commit_end = usize::try_from(cut_at).unwrap() + crate::frame::COMMIT_FRAME_BYTES;
    assert!((commit_end as u64) < len, "the seal follows the last commit");
    storage.corrupt(&first, |b| b.truncate(commit_end));
    for part_bytes in [commit_end, commit_end - 1, SEGMENT_HEADER_BYTES, 100, WHOLE] {
        let (walked, _) = walk(&storage, part_bytes);
        let err = walked.ends.as_ref().expect_err("a segment without its seal");
        assert!(
            matches!(err, ReadError::Corruption(crate::Corruption::TruncatedSegment { offset, .. }) if *offset == commit_end as u64),
            "part of {part_bytes} bytes: {err:?}"
        );
    }
}

#[test]
fn bytes_after_a_seal_that_ends_a_part_are_found() {
    let storage = journal(5, 80, 60, 4);
    let first = list_segments(&storage).unwrap().remove(0).path;
    let len = usize::try_from(storage.file_len(&first).unwrap()).unwrap();
    storage.corrupt(&first, |b| b.extend_from_slice(&[1, 2, 3]));
    // The first part ends exactly where the seal does, so only the next read shows the bytes.
    for part_bytes in [len, len - 1, WHOLE] {
        let (walked, _) = walk(&storage, part_bytes);
        let err = walked.ends.as_ref().expect_err("bytes after the seal");
        assert!(
            matches!(err, ReadError::Corruption(crate::Corruption::DataAfterSeal { offset, .. }) if *offset == len as u64),
            "part of {part_bytes} bytes: {err:?}"
        );
    }
}

/// How a segment before the last is damaged.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, bit: u8 },
    Truncate { at: usize },
    Append { bytes: Vec<u8> },
    Zero { at: usize, len: usize },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Damage::Flip { at, bit }),
        any::<usize>().prop_map(|at| Damage::Truncate { at }),
        proptest::collection::vec(any::<u8>(), 1..80).prop_map(|bytes| Damage::Append { bytes }),
        (any::<usize>(), 1usize..300).prop_map(|(at, len)| Damage::Zero { at, len }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(64) })]

    /// Whatever the part size and whatever the damage to a segment before the last, the walk
    /// visits the same commits and ends the same way (the same error at the same offset) as a
    /// walk that reads every segment whole.
    #[test]
    fn a_walk_in_parts_checks_what_a_walk_of_whole_segments_checks(
        seed in any::<u64>(),
        group_max in 1u64..24,
        part_bytes in SEGMENT_HEADER_BYTES..3000,
        damaged in proptest::option::of((any::<prop::sample::Index>(), damage())),
    ) {
        let storage = journal(seed, 120, 150, group_max);
        if let Some((which, damage)) = damaged {
            let mut segments = list_segments(&storage).unwrap();
            segments.pop();
            let path = &segments[which.index(segments.len())].path;
            storage.corrupt(path, |b| match &damage {
                Damage::Flip { at, bit } => { let i = at % b.len(); b[i] ^= 1 << bit; }
                Damage::Truncate { at } => b.truncate(at % b.len()),
                Damage::Append { bytes } => b.extend_from_slice(bytes),
                Damage::Zero { at, len } => { let i = at % b.len(); let end = (i + len).min(b.len()); b[i..end].fill(0); }
            });
        }
        let (whole, _) = walk(&storage, WHOLE);
        let (parts, _) = walk(&storage, part_bytes);
        prop_assert_eq!(parts, whole);
    }
}
