//! Test support: seeded workloads, a model of what was submitted and acknowledged, the
//! recovery check every crash test uses, and helpers to look inside segments.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::BTreeMap;

use perpx_journal::frame::{Body, FrameRead, encode_record, read_frame};
use perpx_journal::segment::{SEGMENT_HEADER_BYTES, parse_segment_file_name};
use perpx_journal::{
    ChainHead, CrashMode, Hash, JournalConfig, JournalWriter, MemStorage, Record, Recovery, SnapshotError, Storage,
    SyncPolicy, WriteError, commit_hash, events_digest, push_events, records_digest,
};

/// SplitMix64: a tiny seeded generator for workloads.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One step of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Append { ts_ms: i64, payload: Vec<u8>, events: Vec<u8> },
    Commit,
    Tick(i64),
    Snapshot,
    Archive,
}

/// A seeded workload of `appends` records: payloads of 0–96 bytes, timestamps that mostly move
/// forward (sometimes back: rejected commands are journaled too), commits after one to four
/// records, a tick now and then, a snapshot and an archive pass every 15 records, a final commit.
pub fn workload(seed: u64, appends: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let mut steps = Vec::new();
    let mut ts = 1_700_000_000_000i64;
    for i in 1..=appends {
        ts += i64::try_from(rng.below(50)).unwrap() - 5;
        let len = usize::try_from(rng.below(97)).unwrap();
        let payload = (0..len).map(|_| u8::try_from(rng.below(256)).unwrap()).collect();
        let events = (0..rng.below(40)).map(|_| u8::try_from(rng.below(256)).unwrap()).collect();
        steps.push(Step::Append { ts_ms: ts, payload, events });
        if rng.below(3) == 0 {
            steps.push(Step::Commit);
        }
        if rng.below(8) == 0 {
            steps.push(Step::Tick(ts));
        }
        if i % 15 == 0 {
            steps.push(Step::Commit);
            steps.push(Step::Snapshot);
            steps.push(Step::Archive);
        }
    }
    steps.push(Step::Commit);
    steps
}

/// Small segments (two or three records each) so workloads roll over often.
pub fn small_config(sync_policy: SyncPolicy) -> JournalConfig {
    JournalConfig { sync_policy, segment_bytes_target: 512, batch_bytes_max: 4096 }
}

/// What the test knows: every record it tried to append (in order) with its events, the highest
/// durable sequence number the writer ever reported, and the heads it reported durable.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub submitted: Vec<Record>,
    pub events: Vec<Vec<u8>>,
    pub acked: u64,
    pub heads: BTreeMap<u64, Hash>,
}

impl Model {
    /// The last head the writer reported durable.
    pub fn head(&self) -> ChainHead {
        self.heads.last_key_value().map_or(ChainHead::GENESIS, |(&seq, &hash)| ChainHead { seq, hash })
    }

    fn observe<S: Storage>(&mut self, writer: &JournalWriter<S>) {
        assert!(writer.durable_seq() >= self.acked, "durable_seq went backwards");
        self.acked = writer.durable_seq();
        let head = writer.durable_head();
        if head.seq > 0 {
            let known = *self.heads.entry(head.seq).or_insert(head.hash);
            assert_eq!(known, head.hash, "the writer reported two hashes for the head at {}", head.seq);
        }
    }

    /// The hash of a commit of the submitted records `first..=last` after `prev`, computed
    /// here from the documented format, not by the writer.
    pub fn commit_hash(&self, first: u64, last: u64, prev: &Hash) -> Hash {
        let (mut frames, mut events) = (Vec::new(), Vec::new());
        for seq in first..=last {
            let i = usize::try_from(seq).unwrap() - 1;
            encode_record(&mut frames, &self.submitted[i].as_ref());
            push_events(&mut events, &self.events[i]);
        }
        commit_hash(first, last, &records_digest(&frames), &events_digest(&events), prev)
    }
}

/// The engine state a snapshot at `seq` stands for in these tests: derived from the records.
pub fn state_at(model: &Model, seq: u64) -> (Hash, Vec<u8>) {
    let record = &model.submitted[usize::try_from(seq).unwrap() - 1];
    let mut state = seq.to_le_bytes().to_vec();
    state.extend_from_slice(&record.payload);
    (*blake3::hash(&state).as_bytes(), state)
}

/// Runs `steps`, recording in `model`; stops at the first failure and says what it was.
pub fn run<S: Storage>(writer: &mut JournalWriter<S>, steps: &[Step], model: &mut Model) -> Result<(), String> {
    for step in steps {
        let outcome = run_step(writer, step, model);
        model.observe(writer);
        outcome?;
    }
    Ok(())
}

fn run_step<S: Storage>(writer: &mut JournalWriter<S>, step: &Step, model: &mut Model) -> Result<(), String> {
    match step {
        Step::Append { ts_ms, payload, events } => {
            let seq = model.submitted.len() as u64 + 1;
            let expected =
                Record { seq, ts_ms: *ts_ms, payload: payload.clone(), events_check: crc32c::crc32c(events) };
            // Pushed before the call: if the call fails the record may still be on disk.
            model.submitted.push(expected);
            model.events.push(events.clone());
            match writer.append(*ts_ms, payload, events) {
                Ok(ticket) => assert_eq!(ticket.seq, seq),
                Err(WriteError::Stopped { cause }) => return Err(format!("append: {cause}")),
                Err(other) => panic!("unexpected append error {other}"),
            }
            assert_eq!(writer.appended_seq(), seq);
        }
        Step::Commit => {
            writer.commit().map_err(|e| format!("commit: {e}"))?;
            assert_eq!(writer.durable_seq(), model.submitted.len() as u64, "commit makes everything durable");
        }
        Step::Tick(now) => {
            writer.tick(*now).map_err(|e| format!("tick: {e}"))?;
        }
        Step::Snapshot => {
            let seq = writer.durable_seq();
            if seq > 0 {
                let (state_hash, state) = state_at(model, seq);
                let head_hash = writer.durable_head().hash;
                match writer.write_snapshot(seq, state_hash, head_hash, &state) {
                    Ok(_) => {}
                    Err(SnapshotError::Storage(e)) => return Err(format!("snapshot: {e}")),
                    Err(other) => panic!("unexpected snapshot error {other}"),
                }
            }
        }
        Step::Archive => {
            writer.archive_covered_segments().map_err(|e| format!("archive: {e}"))?;
        }
    }
    Ok(())
}

/// The recovery check: nothing acknowledged lost, nothing unacknowledged invented, the replay
/// is exactly the submitted records after the snapshot, every commit's hash is what the model
/// computes from them, and the snapshot belongs to the chain. Returns the model of the journal
/// as recovered (what was lost is no longer history).
pub fn check_recovered(model: &Model, recovery: &Recovery<MemStorage>, mode: CrashMode, context: &str) -> Model {
    let head = usize::try_from(recovery.head.seq).unwrap();
    assert!(
        recovery.head.seq >= model.acked,
        "{context}: acknowledged record lost (head {head}, acked {})",
        model.acked
    );
    assert!(
        head <= model.submitted.len(),
        "{context}: recovered {head} records, only {} submitted",
        model.submitted.len()
    );
    if mode == CrashMode::PowerLoss {
        assert_eq!(recovery.head.seq, model.acked, "{context}: after a power loss exactly the durable prefix survives");
    }
    if let Some(hash) = model.heads.get(&recovery.head.seq) {
        assert_eq!(recovery.head.hash, *hash, "{context}: head");
    }
    let snapshot_seq = recovery.snapshot.as_ref().map_or(0, |s| s.seq);
    if let Some(snapshot) = &recovery.snapshot {
        assert_eq!(Some(&snapshot.chain_head_hash), model.heads.get(&snapshot.seq), "{context}: snapshot chain head");
        assert_eq!((snapshot.state_hash, snapshot.state.clone()), state_at(model, snapshot.seq), "{context}");
    }
    let replay_from = usize::try_from(snapshot_seq).unwrap();
    assert_eq!(recovery.records, model.submitted[replay_from..head], "{context}: replayed records");
    let mut prev = recovery.snapshot.as_ref().map_or(perpx_journal::GENESIS_HASH, |s| s.chain_head_hash);
    let mut next = snapshot_seq + 1;
    let mut heads = model.heads.clone();
    for commit in &recovery.commits {
        assert_eq!(commit.first_seq, next, "{context}: commits cover the records in order");
        assert_eq!(commit.prev_hash, prev, "{context}: commit link");
        assert_eq!(commit.hash, model.commit_hash(commit.first_seq, commit.last_seq, &prev), "{context}: commit hash");
        heads.insert(commit.last_seq, commit.hash);
        (prev, next) = (commit.hash, commit.last_seq + 1);
    }
    assert_eq!(next, recovery.head.seq + 1, "{context}: the commits end at the head");
    assert_eq!(recovery.writer.durable_head(), recovery.head, "{context}: the recovered head is durable");
    heads.retain(|&seq, _| seq <= recovery.head.seq);
    Model {
        submitted: model.submitted[..head].to_vec(),
        events: model.events[..head].to_vec(),
        acked: recovery.head.seq,
        heads,
    }
}

/// The segment files (archived and active) in chain order.
pub fn segment_paths(storage: &impl Storage) -> Vec<String> {
    let mut paths: Vec<(u64, String)> = Vec::new();
    for dir in ["archive", ""] {
        for name in storage.list(dir).unwrap() {
            if let Some(seq) = parse_segment_file_name(&name) {
                paths.push((seq, if dir.is_empty() { name } else { format!("{dir}/{name}") }));
            }
        }
    }
    paths.sort();
    paths.into_iter().map(|(_, p)| p).collect()
}

/// A frame inside a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameAt {
    pub offset: usize,
    pub len: usize,
    /// The record's sequence number; `None` for a commit or the seal.
    pub seq: Option<u64>,
    /// Whether it is a commit.
    pub commit: bool,
}

/// The valid frames of a segment file, in order.
pub fn frames(bytes: &[u8]) -> Vec<FrameAt> {
    let mut out = Vec::new();
    let mut offset = SEGMENT_HEADER_BYTES;
    while let FrameRead::Valid { body, len } = read_frame(&bytes[offset..]) {
        let seq = match body {
            Body::Record(r) => Some(r.seq),
            Body::Commit(_) | Body::Seal(_) => None,
        };
        out.push(FrameAt { offset, len, seq, commit: matches!(body, Body::Commit(_)) });
        offset += len;
    }
    out
}

/// A journal of `records` records on small segments, all durable, with no snapshot: a commit
/// after every even record and after the last (so every even sequence number is a head), and
/// more where a segment rolls over.
pub fn journal_with(records: usize) -> (MemStorage, Model) {
    let storage = MemStorage::new();
    let mut recovery = perpx_journal::Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let mut steps = Vec::new();
    for (i, step) in workload(99, records).into_iter().filter(|s| matches!(s, Step::Append { .. })).enumerate() {
        steps.push(step);
        if i % 2 == 1 {
            steps.push(Step::Commit);
        }
    }
    steps.push(Step::Commit);
    let mut model = Model::default();
    run(&mut recovery.writer, &steps, &mut model).unwrap();
    (storage, model)
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("perpx-journal-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
