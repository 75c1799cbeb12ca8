//! The real file storage: the same journal on a directory of the local file system.

use std::fs;
use std::io::Write;

use perpx_journal::{FileStorage, Journal, Storage, StorageErrorKind, SyncPolicy, latest_valid_snapshot, verify_chain};

use crate::support::{Model, TempDir, run, small_config, workload};

#[test]
fn a_journal_on_real_files_survives_a_restart_with_snapshots_and_archive() {
    let dir = TempDir::new("round-trip");
    let config = small_config(SyncPolicy::EveryBatch);
    let mut model = Model::default();
    {
        let mut recovery = Journal::open(FileStorage::open(dir.path()).unwrap(), config).unwrap();
        run(&mut recovery.writer, &workload(3, 50), &mut model).unwrap();
    }
    assert!(dir.path().join("00000000000000000001.seg").exists() || dir.path().join("archive").exists());
    let archived = fs::read_dir(dir.path().join("archive")).unwrap().count();
    assert!(archived > 0, "the workload's snapshots let segments be archived");

    let storage = FileStorage::open(dir.path()).unwrap();
    let summary = verify_chain(&storage, |_| {}).unwrap();
    assert_eq!((summary.records, summary.archived_segments), (50, archived));
    let recovery = Journal::open(storage, config).unwrap();
    check_recovered_files(&model, &recovery);
    assert_eq!(recovery.snapshot.map(|s| s.seq), Some(45));
}

fn check_recovered_files(model: &Model, recovery: &perpx_journal::Recovery<FileStorage>) {
    let snapshot_seq = recovery.snapshot.as_ref().map_or(0, |s| s.seq);
    assert_eq!(recovery.head, model.head());
    assert_eq!(recovery.records, model.submitted[usize::try_from(snapshot_seq).unwrap()..]);
}

#[test]
fn a_torn_tail_on_a_real_file_is_cut_off_with_the_exact_byte_count() {
    let dir = TempDir::new("torn");
    let config = small_config(SyncPolicy::EveryBatch);
    let config = perpx_journal::JournalConfig { segment_bytes_target: 1 << 20, ..config };
    let mut model = Model::default();
    let segment = {
        let mut recovery = Journal::open(FileStorage::open(dir.path()).unwrap(), config).unwrap();
        run(&mut recovery.writer, &workload(4, 10), &mut model).unwrap();
        recovery.writer.active_segment().to_owned()
    };
    let path = dir.path().join(&segment);
    let durable_len = fs::metadata(&path).unwrap().len();
    // Half of a frame, as a crash in the middle of a write leaves it.
    let half_frame = &fs::read(&path).unwrap()[64..64 + 70];
    fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(half_frame).unwrap();

    let recovery = Journal::open(FileStorage::open(dir.path()).unwrap(), config).unwrap();
    let torn = recovery.torn_tail.clone().expect("the torn tail is reported");
    assert_eq!((torn.segment.as_str(), torn.offset, torn.bytes_dropped), (segment.as_str(), durable_len, 70));
    assert_eq!(fs::metadata(&path).unwrap().len(), durable_len);
    check_recovered_files(&model, &recovery);
}

#[test]
fn the_file_storage_keeps_its_contract() {
    let dir = TempDir::new("contract");
    let mut storage = FileStorage::open(dir.path()).unwrap();
    storage.create("a.tmp").unwrap();
    assert_eq!(storage.write("a.tmp", b"hello").unwrap(), 5);
    storage.sync("a.tmp").unwrap();
    storage.create("a.tmp").unwrap();
    assert_eq!(storage.file_len("a.tmp").unwrap(), 0, "create empties an existing file");
    perpx_journal::storage::write_all(&mut storage, "a.tmp", b"again").unwrap();
    storage.rename("a.tmp", "b.seg").unwrap();
    perpx_journal::storage::write_all(&mut storage, "b.seg", b"!").unwrap();
    storage.sync("b.seg").unwrap();
    storage.sync_dir("").unwrap();
    assert_eq!(storage.read("b.seg").unwrap(), b"again!");
    storage.truncate("b.seg", 2).unwrap();
    perpx_journal::storage::write_all(&mut storage, "b.seg", b"X").unwrap();
    assert_eq!(storage.read("b.seg").unwrap(), b"agX", "writes after a truncate append at the new end");

    storage.create_dir("archive").unwrap();
    storage.rename("b.seg", "archive/b.seg").unwrap();
    assert_eq!(storage.list("").unwrap(), Vec::<String>::new(), "directories are not listed");
    assert_eq!(storage.list("archive").unwrap(), ["b.seg"]);
    assert_eq!(storage.list("nowhere").unwrap(), Vec::<String>::new());
    assert!(storage.exists("archive/b.seg").unwrap() && !storage.exists("b.seg").unwrap());
    assert_eq!(storage.read("missing").unwrap_err().kind, StorageErrorKind::NotFound);
    assert_eq!(storage.read("../escape").unwrap_err().kind, StorageErrorKind::InvalidPath);
    assert!(latest_valid_snapshot(&storage).unwrap().snapshot.is_none());
}

/// `read_into` replaces the buffer's contents with the file's, whatever the buffer held and
/// whether it must grow, on both storages; a missing file is an error.
#[test]
fn reading_into_a_kept_buffer_gives_each_file_whole() {
    fn check(storage: &mut impl Storage) {
        let files: [(&str, Vec<u8>); 3] = [
            ("a.seg", (0..=200).collect()),
            ("b.seg", vec![7; 3]),
            ("c.seg", (0..5_000u32).map(|i| u8::try_from(i % 251).unwrap()).collect()),
        ];
        for (path, bytes) in &files {
            storage.create(path).unwrap();
            let mut done = 0;
            while done < bytes.len() {
                done += storage.write(path, &bytes[done..]).unwrap();
            }
        }
        let mut buf = vec![0xAA; 64];
        for (path, bytes) in files.iter().chain(files.iter().rev()) {
            storage.read_into(path, &mut buf).unwrap();
            assert_eq!(&buf, bytes, "{path}");
            assert_eq!(storage.read(path).unwrap(), *bytes, "{path}");
        }
        assert_eq!(storage.read_into("missing.seg", &mut buf).unwrap_err().kind, StorageErrorKind::NotFound);
    }
    let dir = TempDir::new("read-into");
    check(&mut FileStorage::open(dir.path()).unwrap());
    check(&mut perpx_journal::MemStorage::new());
}

/// `read_at` gives the file's bytes from an offset, at least one when any are there and the
/// buffer has room, never more than asked, none at or past the end; on both storages.
#[test]
fn reading_at_an_offset_gives_the_bytes_there() {
    fn check(storage: &mut impl Storage) {
        let bytes: Vec<u8> = (0..5_000u32).map(|i| u8::try_from(i % 251).unwrap()).collect();
        storage.create("a.seg").unwrap();
        let mut done = 0;
        while done < bytes.len() {
            done += storage.write("a.seg", &bytes[done..]).unwrap();
        }
        for offset in [0, 1, 100, 4_095, 4_999, 5_000, 6_000] {
            for room in [0, 1, 64, 4_096, 10_000] {
                let mut buf = vec![0xAA; room];
                let mut read = 0;
                loop {
                    let n = storage.read_at("a.seg", (offset + read) as u64, &mut buf[read..]).unwrap();
                    assert!(n <= room - read, "never more than asked");
                    if n == 0 {
                        break;
                    }
                    read += n;
                }
                let expected = &bytes[offset.min(5_000)..(offset + room).min(5_000)];
                assert_eq!(&buf[..read], expected, "{room} bytes at {offset}");
            }
        }
        assert_eq!(storage.read_at("missing.seg", 0, &mut [0; 8]).unwrap_err().kind, StorageErrorKind::NotFound);
    }
    let dir = TempDir::new("read-at");
    check(&mut FileStorage::open(dir.path()).unwrap());
    check(&mut perpx_journal::MemStorage::new());
}
