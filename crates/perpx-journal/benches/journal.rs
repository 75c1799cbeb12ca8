//! Journal benchmarks on the real file storage, in a directory under the system temp dir.
//!
//! - `append/*`: group commit. Each iteration appends a batch of records with 128-byte payloads
//!   (a 257-byte frame each) and commits: one write, and one fdatasync unless `no_fsync`.
//!   `no_fsync` runs the same code over `FileStorage::open_without_fsync`: the cost of the
//!   journal and the write system calls, without the disk's flush latency. `fsync_batch_1` is one fsync per record,
//!   what group commit saves.
//! - `verify/full_scan`: `verify_chain` over a 100,000-record journal (25.7 MB in 8 MiB
//!   segments, so the scan crosses four): read every segment, check every CRC32C, record hash,
//!   sequence number and link.
//!
//! Run: `cargo bench -p perpx-journal --bench journal`. Figures: docs/JOURNAL.md.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use perpx_journal::frame::record_frame_bytes;
use perpx_journal::{FileStorage, Journal, JournalConfig, JournalWriter, Storage, SyncPolicy, verify_chain};

const PAYLOAD_BYTES: usize = 128;
const SCAN_RECORDS: u64 = 100_000;

/// A fresh directory under the system temp dir, removed on drop.
struct BenchDir(PathBuf);

impl BenchDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("perpx-journal-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn payload() -> Vec<u8> {
    (0..PAYLOAD_BYTES).map(|i| u8::try_from((i * 131 + 7) % 251).expect("below 256")).collect()
}

fn config() -> JournalConfig {
    JournalConfig { sync_policy: SyncPolicy::EveryBatch, segment_bytes_target: 8 << 20, batch_bytes_max: 1 << 20 }
}

/// One iteration: a batch of appends and the commit that makes them durable.
fn append_batch<S: Storage>(writer: &mut JournalWriter<S>, ts: &mut i64, batch: u64, payload: &[u8]) -> u64 {
    *ts += 1;
    for _ in 0..batch {
        let _ = writer.append(*ts, payload, b"events").expect("append");
    }
    writer.commit().expect("commit").seq
}

fn bench_append(c: &mut Criterion) {
    let payload = payload();
    let frame = record_frame_bytes(PAYLOAD_BYTES) as u64;
    let mut group = c.benchmark_group("append");
    let cases = [("fsync_batch_64", true, 64u64), ("no_fsync_batch_64", false, 64), ("fsync_batch_1", true, 1)];
    for (name, fsync, batch) in cases {
        let dir = BenchDir::new(name);
        group.throughput(Throughput::ElementsAndBytes { elements: batch, bytes: batch * frame });
        let storage = if fsync { FileStorage::open(&dir.0) } else { FileStorage::open_without_fsync(&dir.0) };
        let mut writer = Journal::open(storage.expect("storage"), config()).expect("open").writer;
        let mut ts = 1_700_000_000_000i64;
        group.bench_function(name, |b| b.iter(|| append_batch(&mut writer, &mut ts, batch, &payload)));
    }
    group.finish();
}

fn bench_verify(c: &mut Criterion) {
    let dir = BenchDir::new("verify");
    let payload = payload();
    {
        let storage = FileStorage::open_without_fsync(&dir.0).expect("storage");
        let mut writer = Journal::open(storage, config()).expect("open").writer;
        for i in 0..SCAN_RECORDS {
            let _ = writer.append(i64::try_from(i).expect("small"), &payload, b"events").expect("append");
        }
        writer.commit().expect("commit");
    }
    let storage = FileStorage::open(&dir.0).expect("storage");
    let summary = verify_chain(&storage, |_| {}).expect("a valid journal");
    assert_eq!(summary.records, SCAN_RECORDS);
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::ElementsAndBytes { elements: SCAN_RECORDS, bytes: summary.bytes });
    group.sample_size(10);
    group.bench_function("full_scan", |b| {
        b.iter(|| black_box(verify_chain(&storage, |_| {}).expect("valid").head));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = bench_append, bench_verify
}
criterion_main!(benches);
