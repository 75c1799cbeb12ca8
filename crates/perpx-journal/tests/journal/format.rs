//! The on-disk format: a new journal's first segment byte by byte, versioned headers (another
//! version is refused by name), file naming, and configuration limits.

use perpx_journal::segment::{SEGMENT_HEADER_BYTES, SegmentHeader, encode_with_version};
use perpx_journal::{
    ConfigError, Corruption, FORMAT_VERSION, GENESIS_HASH, HeaderFault, Journal, JournalConfig, MemStorage, OpenError,
    Storage, SyncPolicy,
};

use crate::support::{journal_with, segment_paths, small_config};

fn open_error(storage: &MemStorage) -> OpenError {
    Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).map(|r| r.head).unwrap_err()
}

#[test]
fn a_new_journal_starts_with_a_version_2_segment_anchored_at_genesis() {
    let storage = MemStorage::new();
    let recovery = Journal::open(storage.clone(), JournalConfig::default()).unwrap();
    assert_eq!(recovery.head.seq, 0);
    assert!(recovery.records.is_empty() && recovery.snapshot.is_none() && recovery.torn_tail.is_none());
    assert_eq!(storage.paths(), ["00000000000000000001.seg"]);
    let bytes = storage.read("00000000000000000001.seg").unwrap();
    assert_eq!(bytes.len(), SEGMENT_HEADER_BYTES);
    assert_eq!(&bytes[..8], b"PERPXJNL");
    assert_eq!(&bytes[8..10], &2u16.to_le_bytes());
    assert_eq!(&bytes[10..12], &[0, 0]);
    assert_eq!(&bytes[12..20], &1u64.to_le_bytes());
    assert_eq!(&bytes[20..52], &GENESIS_HASH);
    assert_eq!(&bytes[52..60], &[0; 8]);
    assert_eq!(&bytes[60..64], &crc32c::crc32c(&bytes[..60]).to_le_bytes());
}

#[test]
fn a_segment_of_another_format_version_is_refused_by_name() {
    for version in [0u16, 1, 3, 7] {
        let (storage, _) = journal_with(10);
        let first = segment_paths(&storage)[0].clone();
        let header = SegmentHeader { first_seq: 1, anchor: GENESIS_HASH };
        storage.corrupt(&first, |b| b[..SEGMENT_HEADER_BYTES].copy_from_slice(&encode_with_version(&header, version)));
        let err = open_error(&storage);
        assert_eq!(
            err,
            OpenError::Corruption(Corruption::UnsupportedVersion {
                segment: first.clone(),
                found: version,
                supported: FORMAT_VERSION,
            })
        );
        assert!(err.to_string().contains(&format!("format version {version} is not supported")), "{err}");
    }
}

#[test]
fn a_file_that_is_not_a_segment_is_refused() {
    let (storage, _) = journal_with(10);
    let first = segment_paths(&storage)[0].clone();
    storage.corrupt(&first, |b| b[..8].copy_from_slice(b"NOTPERPX"));
    assert_eq!(
        open_error(&storage),
        OpenError::Corruption(Corruption::BadHeader { segment: first, fault: HeaderFault::BadMagic })
    );
}

#[test]
fn a_segment_whose_header_disagrees_with_its_name_is_refused() {
    let (storage, _) = journal_with(10);
    let second = segment_paths(&storage)[1].clone();
    storage.corrupt(&second, |b| {
        let mut header = match SegmentHeader::decode(b) {
            perpx_journal::segment::HeaderRead::Valid(h) => h,
            other => panic!("{other:?}"),
        };
        header.first_seq += 1;
        b[..SEGMENT_HEADER_BYTES].copy_from_slice(&header.encode());
    });
    let name_seq = perpx_journal::segment::parse_segment_file_name(&second).unwrap();
    assert_eq!(
        open_error(&storage),
        OpenError::Corruption(Corruption::BadHeader {
            segment: second,
            fault: HeaderFault::NameMismatch { header: name_seq + 1, name: name_seq },
        })
    );
}

#[test]
fn badly_named_and_duplicated_segments_are_refused() {
    let (storage, _) = journal_with(10);
    storage.put("1.seg", b"whatever");
    assert_eq!(open_error(&storage), OpenError::Corruption(Corruption::BadSegmentName { segment: "1.seg".into() }));

    let (storage, _) = journal_with(10);
    let first = segment_paths(&storage)[0].clone();
    storage.put(&format!("archive/{first}"), &storage.read(&first).unwrap());
    assert_eq!(
        open_error(&storage),
        OpenError::Corruption(Corruption::DuplicateSegment {
            first: format!("archive/{first}"),
            second: first,
            first_seq: 1,
        })
    );
}

#[test]
fn leftover_temporary_files_are_ignored_and_reused() {
    let (storage, model) = journal_with(10);
    let next = perpx_journal::segment::segment_file_name(11);
    storage.put(&format!("{next}.tmp"), b"half a header from a crash");
    storage.put("snapshots/00000000000000000005.snap.tmp", b"half a snapshot");
    let recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    assert_eq!(recovery.head, model.head());
    assert!(recovery.snapshot.is_none() && recovery.skipped_snapshots.is_empty());
}

#[test]
fn configuration_values_are_checked_against_their_limits() {
    let base = JournalConfig::default();
    let cases = [
        (JournalConfig { segment_bytes_target: 100, ..base }, ConfigError::SegmentBytes(100)),
        (JournalConfig { segment_bytes_target: 2 << 30, ..base }, ConfigError::SegmentBytes(2 << 30)),
        (JournalConfig { batch_bytes_max: 1, ..base }, ConfigError::BatchBytes(1)),
        (JournalConfig { sync_policy: SyncPolicy::EveryRecords(0), ..base }, ConfigError::EveryRecords(0)),
        (JournalConfig { sync_policy: SyncPolicy::EveryMillis(0), ..base }, ConfigError::EveryMillis(0)),
        (JournalConfig { sync_policy: SyncPolicy::EveryMillis(60_001), ..base }, ConfigError::EveryMillis(60_001)),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected.clone()));
        assert_eq!(Journal::open(MemStorage::new(), config).map(|r| r.head).unwrap_err(), OpenError::Config(expected));
    }
    assert_eq!(base.validate(), Ok(()));
}

#[test]
fn verification_reports_progress_after_each_segment() {
    let (storage, model) = journal_with(20);
    let mut seen = Vec::new();
    let summary = perpx_journal::verify_chain(&storage, |p| {
        seen.push((p.segment.to_owned(), p.segments_done, p.segments_total, p.records, p.bytes));
    })
    .unwrap();
    let segments = segment_paths(&storage);
    assert_eq!(seen.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), segments);
    assert!(seen.iter().enumerate().all(|(i, s)| s.1 == i + 1 && s.2 == segments.len()));
    assert!(seen.windows(2).all(|w| w[0].3 <= w[1].3 && w[0].4 < w[1].4), "counts only grow");
    let last = seen.last().unwrap();
    assert_eq!((last.3, last.4), (summary.records, summary.bytes));
    assert_eq!((summary.records, summary.head, summary.segments), (20, model.head(), segments.len()));
    let on_disk: u64 = segments.iter().map(|p| storage.file_len(p).unwrap()).sum();
    assert_eq!(summary.bytes, on_disk);
}
