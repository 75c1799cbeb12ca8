//! The node: the engine and its journal writer, with output commit.
//!
//! **Submitting.** For each command the node encodes it, applies it to the engine, appends a
//! record (the payload, and the encoding of the events for the commit's digest) and holds the
//! events in an
//! [`OutputGate`] under the record's ticket. Events leave the node only once the record is
//! durable, in sequence order, through the *outbox*: [`Node::submit`] and
//! [`Node::submit_batch`] commit (one write and one fsync for the whole batch — group commit)
//! and hand back their commands' events; the pipelined API ([`Node::enqueue`], then
//! [`Node::flush`] or [`Node::poll`] under a time or count policy) leaves released events in
//! the outbox for [`Node::take_published`]. Either way the events of one command come out
//! once, in sequence order.
//!
//! **Failure.** The first storage failure stops the journal writer for good (it never retries
//! an fsync, see `perpx-journal`), and with it the node: every later call returns
//! [`NodeError::Stopped`]. The engine may then hold commands whose records never reached the
//! disk; nothing it produced for them was published. Restart the process and [`Node::open`]
//! again.
//!
//! **Bounded, so recovery can redeliver.** The outputs that have not left the node — held in
//! the gate or waiting in the outbox — never number more than `gate_capacity` (a full gate is
//! committed; a full outbox refuses more commands until it is taken), and a snapshot is only
//! written when none is waiting. So the commands whose events never left the node are always
//! among the last `gate_capacity` records, all after the newest snapshot.
//!
//! **Recovery.** [`Node::open`] restores the engine from the newest valid snapshot (checking
//! its state hash), replays every record after it — each one checked: the payload decodes, the
//! timestamps agree, the events match the record's check and the commit's digest — and puts the
//! events of the last
//! `gate_capacity` replayed records back in the outbox, marked `redelivered`. By the bound
//! above, every durable command whose events had not left the previous process is among them:
//! nothing that became durable goes unpublished. Some of them may have left before the crash;
//! consumers drop what they have already seen by `seq`.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use perpx_core::{Command, Engine, EngineConfig, Event};
use perpx_journal::limits::PAYLOAD_BYTES_MAX;
use perpx_journal::record::hex;
use perpx_journal::{
    ArchiveError, ChainHead, FileStorage, Journal, JournalConfig, JournalWriter, OpenError, OutputGate,
    SkippedSnapshot, SnapshotError, Storage, StorageError, Ticket, TornTail, WriteError, events_digest,
    push_events_with,
};

use crate::codec::{DecodeError, decode_command, encode_command_into, encode_events_into, encode_snapshot};
use crate::replay::{ReplayMismatch, Replayer, SnapshotLoadError, load_snapshot};

/// The most outputs a node may hold waiting for an fsync.
pub const GATE_CAPACITY_MAX: usize = 1 << 20;

/// How a node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// The journal: segment size, write buffer, durability policy.
    pub journal: JournalConfig,
    /// The engine's settings for a journal without a snapshot; a snapshot taken with other
    /// settings is refused ([`NodeError::ConfigMismatch`]).
    pub engine: EngineConfig,
    /// The most outputs that may not have left the node — held while their records wait for
    /// an fsync, or released and waiting to be taken (1 to [`GATE_CAPACITY_MAX`]). Also the
    /// number of records whose events are redelivered after a restart.
    pub gate_capacity: usize,
    /// Write a snapshot once this many commands have been applied since the last one (at the
    /// first moment after when every output has left the node; `None`: only on
    /// [`Node::snapshot`]). Whatever this says, a journal without a snapshot gets one as soon
    /// as its first commands are durable and taken: it records the engine settings, which a
    /// replay from genesis (`perpx verify`) needs.
    pub snapshot_every: Option<u64>,
    /// After each snapshot, move the segments it covers into `archive/`.
    pub archive_after_snapshot: bool,
    /// Check every engine invariant after every command (tests and simulations: slow).
    pub check_invariants: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            journal: JournalConfig::default(),
            engine: EngineConfig::default(),
            gate_capacity: 4096,
            snapshot_every: None,
            archive_after_snapshot: false,
            check_invariants: false,
        }
    }
}

/// The events of one command, released once its record is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The command's sequence number.
    pub seq: u64,
    /// Its events, in the order the engine produced them (a `tick` may have none).
    pub events: Vec<Event>,
    /// Replayed at [`Node::open`]: the previous process may already have published it.
    pub redelivered: bool,
}

/// What [`Node::open`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The snapshot the engine was restored from.
    pub snapshot_seq: Option<u64>,
    /// Invalid snapshot files newer than it, skipped.
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    /// Records replayed after the snapshot.
    pub replayed: u64,
    /// A torn last record that was cut off.
    pub torn_tail: Option<TornTail>,
    /// The journal's head: the engine has applied every command up to it.
    pub head: ChainHead,
    /// Outputs put back in the outbox for redelivery.
    pub redelivered: usize,
}

/// A snapshot the node wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotWritten {
    /// The last command it includes.
    pub seq: u64,
    /// Its file.
    pub path: String,
    /// The encoded state's size.
    pub state_bytes: usize,
    /// Segments moved into `archive/` after it.
    pub archived_segments: usize,
}

/// Why a node operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The configuration is out of range.
    #[error("invalid node configuration: {0}")]
    Config(String),
    /// The storage could not be opened.
    #[error(transparent)]
    Storage(StorageError),
    /// The journal could not be opened (corruption, storage failure, snapshot mismatch).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The newest valid snapshot could not be loaded.
    #[error("snapshot at {seq}: {source}")]
    Snapshot {
        /// Its sequence number.
        seq: u64,
        /// Why.
        source: SnapshotLoadError,
    },
    /// The newest valid snapshot was taken with other engine settings.
    #[error("snapshot at {seq} was taken with engine settings {snapshot:?}, the node is configured with {node:?}")]
    ConfigMismatch {
        /// Its sequence number.
        seq: u64,
        /// The snapshot's settings.
        snapshot: Box<EngineConfig>,
        /// The node's.
        node: Box<EngineConfig>,
    },
    /// A record did not replay as recorded.
    #[error("replay of record {seq}: {mismatch}")]
    Replay {
        /// The record.
        seq: u64,
        /// What differed.
        mismatch: Box<ReplayMismatch>,
    },
    /// The encoded command is larger than a record may carry; it was not applied.
    #[error("the command encodes to {len} bytes, more than a record carries ({max}); it was not applied")]
    CommandTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The outputs waiting to be taken fill the node's capacity: take them
    /// ([`Node::take_published`]) before submitting more. Nothing was applied.
    #[error("{waiting} outputs wait to be taken (capacity {capacity}): take them before submitting more")]
    OutputsWaiting {
        /// Outputs held or released but not taken.
        waiting: usize,
        /// The node's `gate_capacity`.
        capacity: usize,
    },
    /// A batch larger than the node's capacity; nothing was applied.
    #[error("a batch of {len} commands is larger than the node's gate capacity {capacity}")]
    BatchTooLarge {
        /// The batch's length.
        len: usize,
        /// The node's `gate_capacity`.
        capacity: usize,
    },
    /// The journal writer stopped after a storage failure: restart and recover.
    #[error(
        "the node stopped after a storage failure ({cause}); it accepts nothing more: restart the process to \
         recover from what is on disk"
    )]
    Stopped {
        /// The failure.
        cause: StorageError,
    },
    /// Writing a snapshot failed (the node goes on).
    #[error(transparent)]
    SnapshotWrite(#[from] SnapshotError),
    /// Archiving failed (the node goes on).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl NodeConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`NodeError::Config`].
    pub fn validate(&self) -> Result<(), NodeError> {
        if !(1..=GATE_CAPACITY_MAX).contains(&self.gate_capacity) {
            return Err(NodeError::Config(format!("gate_capacity must be 1..={GATE_CAPACITY_MAX}")));
        }
        if self.snapshot_every == Some(0) {
            return Err(NodeError::Config("snapshot_every must be at least 1".into()));
        }
        self.journal.validate().map_err(|e| NodeError::Open(OpenError::Config(e)))
    }
}

/// The engine and its journal; see the module docs.
#[derive(Debug)]
pub struct Node<S: Storage> {
    engine: Engine,
    writer: JournalWriter<S>,
    gate: OutputGate<Published>,
    outbox: VecDeque<Published>,
    config: NodeConfig,
    payload: Vec<u8>,
    last_snapshot_seq: u64,
    /// Whether the journal has (or this node tried to write) a snapshot recording the engine
    /// settings.
    settings_recorded: bool,
    last_snapshot_error: Option<NodeError>,
}

/// Records handed to the replay worker at a time: enough to make the channel's cost per record
/// negligible, few enough that the worker starts at once.
const REPLAY_BATCH: usize = 256;
/// Batches the reader may run ahead of the worker.
const REPLAY_QUEUE: usize = 8;

/// What the journal reader hands the replay worker during [`Node::open`].
enum ReplayBatch {
    /// The engine to replay into (from the snapshot, or fresh), or why there is none.
    Start(Box<Result<Replayer, NodeError>>),
    /// Records in sequence order, their payloads decoded.
    Records(Vec<DecodedRecord>),
}

/// A journal record as the reader hands it over: its command decoded (or why it doesn't
/// decode) where the payload was read, so neither a payload copy nor the decoding reaches
/// the replay worker — the busier of the two threads (docs/PERFORMANCE.md, session 6).
struct DecodedRecord {
    seq: u64,
    ts_ms: i64,
    command: Result<Command, DecodeError>,
    events_check: u32,
}

/// A batch's records as the replay worker hands them back to the reader: each record's sequence
/// number, recorded `events_check` and where its events end in `events`, which holds the
/// batch's events one record after the other, moved, not encoded. The reader encodes and checks
/// them and keeps the redelivery window: with the hashing gone from the reader (journal format
/// 2), the worker, which also encoded the events, was the busier thread (docs/PERFORMANCE.md,
/// session 10). The batches come back to the worker emptied, for reuse.
///
/// One vector of events a batch, not one a record: the worker took and filled a vector for
/// every record, and the reader kept each in the window and gave it back; the worker's stores
/// of the records' vectors into its batch were half its own samples outside the engine. With
/// one vector a batch a recovery of 2 M records took 1.69–1.85 s of CPU instead of 2.20–2.30
/// (docs/PERFORMANCE.md, "Session 26").
#[derive(Debug, Default)]
struct ReplayedBatch {
    records: Vec<(u64, u32, usize)>,
    events: Vec<Event>,
}

/// What the replay worker hands back for a batch of records: the records, whose commands the
/// reader frees (it allocated them) and whose vector it reuses, and their events (none when the
/// worker applied none of them).
type Replayed = (Vec<DecodedRecord>, Option<ReplayedBatch>);

impl ReplayedBatch {
    fn clear(&mut self) {
        self.records.clear();
        self.events.clear();
    }
}

/// Replayed events that differ from the journal's: at a record (its check) or at a commit (its
/// digest, when every check held).
#[derive(Debug, Clone)]
struct EventsMismatch {
    seq: u64,
    what: String,
}

/// The reader's side of the replay: each record's events encoded into its commit's events
/// stream and checked against the record's `events_check`; each commit's stream digested in one
/// call (blake3 hashes many chunks at once only within one call) and compared with the
/// commit's digest; the batches holding the last `capacity` records kept for the redelivery
/// window.
#[derive(Debug)]
struct EventsChecker {
    /// The commits read whose records are not all checked yet: last record and events digest.
    commits: VecDeque<(u64, perpx_journal::Hash)>,
    /// The events stream of the commit being checked.
    stream: Vec<u8>,
    mismatch: Option<EventsMismatch>,
    /// The batches checked last: as few as hold the last `capacity` records.
    recent: VecDeque<ReplayedBatch>,
    capacity: usize,
}

impl EventsChecker {
    fn new(capacity: usize) -> Self {
        Self { commits: VecDeque::new(), stream: Vec::new(), mismatch: None, recent: VecDeque::new(), capacity }
    }

    /// Checks a batch; returns the batches to give back to the worker, emptied.
    fn check(&mut self, mut batch: ReplayedBatch) -> Vec<ReplayedBatch> {
        let mut start = 0;
        for &(seq, recorded, end) in &batch.records {
            if self.mismatch.is_some() {
                break;
            }
            let events = &batch.events[start..end];
            start = end;
            let replayed = push_events_with(&mut self.stream, |s| encode_events_into(events, s));
            if replayed != recorded {
                let what = format!("events check {recorded:08x} recorded, {replayed:08x} replayed");
                self.mismatch = Some(EventsMismatch { seq, what });
                break;
            }
            let &(last, digest) = self.commits.front().expect("a commit is read before its records are replayed");
            if seq == last {
                let replayed = events_digest(&self.stream);
                self.stream.clear();
                self.commits.pop_front();
                if replayed != digest {
                    let what = format!("events digest {} recorded, {} replayed", hex(&digest), hex(&replayed));
                    self.mismatch = Some(EventsMismatch { seq, what });
                }
            }
        }
        if self.mismatch.is_some() {
            // The open fails; nothing is redelivered.
            batch.clear();
            return vec![batch];
        }
        self.recent.push_back(batch);
        let mut spare = Vec::new();
        let mut kept = self.recent_records();
        while let Some(oldest) = self.recent.front() {
            if kept - oldest.records.len() < self.capacity {
                break;
            }
            kept -= oldest.records.len();
            let mut oldest = self.recent.pop_front().expect("the front was just read");
            oldest.clear();
            spare.push(oldest);
        }
        spare
    }

    /// Records in the batches kept.
    fn recent_records(&self) -> usize {
        self.recent.iter().map(|b| b.records.len()).sum()
    }

    /// The redelivery window: the last `capacity` records checked, with their events.
    fn into_window(self) -> VecDeque<Published> {
        let recent = self.recent_records();
        let mut skip = recent.saturating_sub(self.capacity);
        let mut window = VecDeque::with_capacity(recent - skip);
        for batch in self.recent {
            let mut events = batch.events.into_iter();
            let mut start = 0;
            for (seq, _, end) in batch.records {
                let these: Vec<Event> = events.by_ref().take(end - start).collect();
                start = end;
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                window.push_back(Published { seq, events: these, redelivered: true });
            }
        }
        window
    }
}

/// The replay worker of [`Node::open`]: applies every record it is handed, sends each batch's
/// records and events back (the reader checks the events and frees the commands it decoded;
/// measured, the worker's instructions over 300 k records fell 3.4 %, the reader's rose 1.6 %,
/// with no difference in time shown in 20 alternated rounds: docs/PERFORMANCE.md, "Session 26"),
/// reusing the event batches the reader returns, and stops
/// applying at the first mismatch it finds or once the reader has found one
/// (`events_failed`); the reader goes on to the end of the journal, as it must to find the head.
fn replay_worker(
    batches: mpsc::Receiver<ReplayBatch>,
    replayed: mpsc::Sender<Replayed>,
    returned: mpsc::Receiver<Vec<ReplayedBatch>>,
    events_failed: &AtomicBool,
) -> OpenState {
    let mut st = OpenState { replayer: None, failure: None, replayed: 0 };
    let mut spare: Vec<ReplayedBatch> = Vec::new();
    for batch in batches {
        match batch {
            ReplayBatch::Start(started) => match *started {
                Ok(replayer) => st.replayer = Some(replayer),
                Err(e) => st.failure = Some(e),
            },
            ReplayBatch::Records(records) => {
                if spare.is_empty() {
                    while let Ok(more) = returned.try_recv() {
                        spare.extend(more);
                    }
                }
                let mut batch = spare.pop().unwrap_or_default();
                for record in &records {
                    // The reader found replayed events that differ: what follows is replayed on a
                    // state that already differs, and the one-thread replay describes it instead.
                    if events_failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(replayer) = st.replayer.as_mut().filter(|_| st.failure.is_none()) else { break };
                    match replayer.apply_undigested(record.seq, record.ts_ms, &record.command, &mut batch.events) {
                        Ok(_) => {
                            batch.records.push((record.seq, record.events_check, batch.events.len()));
                            st.replayed += 1;
                        }
                        Err(mismatch) => {
                            st.failure = Some(NodeError::Replay { seq: record.seq, mismatch: Box::new(mismatch) });
                        }
                    }
                }
                // The commands go back to the reader, which decoded them, to be freed there and
                // their vector reused: the worker is the busier thread.
                if batch.records.is_empty() {
                    spare.push(batch);
                    let _ = replayed.send((records, None));
                } else {
                    // A send fails only if the reader has gone, which ends the recovery anyway.
                    let _ = replayed.send((records, Some(batch)));
                }
            }
        }
    }
    st
}

/// What the replay during [`Node::open`] ends with.
#[derive(Debug)]
struct OpenState {
    replayer: Option<Replayer>,
    failure: Option<NodeError>,
    replayed: u64,
}

impl Node<FileStorage> {
    /// Opens (or creates) the journal in directory `dir`; see [`Node::open`].
    ///
    /// # Errors
    /// See [`Node::open`].
    pub fn open_dir(dir: impl AsRef<Path>, config: NodeConfig) -> Result<(Self, Recovered), NodeError> {
        let storage = FileStorage::open(dir.as_ref()).map_err(NodeError::Storage)?;
        Self::open(storage, config)
    }
}

impl<S: Storage> Node<S> {
    /// Opens (or creates) the journal in `storage` and recovers the engine: the newest valid
    /// snapshot, then every record after it, checked; the events of the last
    /// `gate_capacity` replayed records go back in the outbox (see the module docs).
    ///
    /// # Errors
    /// [`NodeError::Open`] (corruption names segment and offset), [`NodeError::Snapshot`],
    /// [`NodeError::ConfigMismatch`], [`NodeError::Replay`] (names the record and what differed).
    pub fn open(storage: S, config: NodeConfig) -> Result<(Self, Recovered), NodeError> {
        config.validate()?;
        // Two threads: this one reads the journal (segments, CRC32C, commit hashes, links),
        // decodes the commands, and encodes and checks the replayed events, while a worker
        // applies the records it is handed in batches. Measured in docs/PERFORMANCE.md
        // ("Recovery", sessions 6 and 10): the two halves overlap on two cores. A mismatch of
        // the events found this way names only the record or commit; the journal is then
        // replayed again on one thread to describe it (`describe_mismatch`).
        let mut checker = EventsChecker::new(config.gate_capacity);
        let events_failed = AtomicBool::new(false);
        let (recovery, joined) = std::thread::scope(|scope| {
            let (to_worker, from_reader) = mpsc::sync_channel::<ReplayBatch>(REPLAY_QUEUE);
            // Unbounded, so the two threads can never block on each other's full queue; it holds
            // at most the batches the worker is ahead of the reader's checks, which the bounded
            // queue above limits to `REPLAY_QUEUE` and the one in hand.
            let (to_reader, from_worker) = mpsc::channel::<Replayed>();
            let (give_back, returned) = mpsc::channel::<Vec<ReplayedBatch>>();
            let failed = &events_failed;
            let worker = scope.spawn(move || replay_worker(from_reader, to_reader, returned, failed));
            // Record vectors back from the worker, emptied here.
            let mut used: Vec<Vec<DecodedRecord>> = Vec::new();
            let check = |(mut records, replayed): Replayed, checker: &mut EventsChecker, used: &mut Vec<_>| {
                records.clear();
                used.push(records);
                let Some(batch) = replayed else { return };
                let spare = checker.check(batch);
                events_failed.store(checker.mismatch.is_some(), Ordering::Relaxed);
                if !spare.is_empty() {
                    // Fails only once the worker has ended; the batches are dropped then.
                    let _ = give_back.send(spare);
                }
            };
            let mut batch = Vec::with_capacity(REPLAY_BATCH);
            let start = |snapshot: Option<&perpx_journal::Snapshot>| {
                let started = start_engine(snapshot, &config.engine).map(|e| Replayer::new(e, config.check_invariants));
                // A send fails only if the worker is gone, which the join below reports.
                let _ = to_worker.send(ReplayBatch::Start(Box::new(started)));
            };
            let replay = |committed: &perpx_journal::Committed<'_>| {
                let commit = &committed.commit;
                checker.commits.push_back((commit.last_seq, commit.events_digest));
                for (_, record) in committed.records {
                    batch.push(DecodedRecord {
                        seq: record.seq,
                        ts_ms: record.ts_ms,
                        command: decode_command(record.payload),
                        events_check: record.events_check,
                    });
                    if batch.len() == REPLAY_BATCH {
                        let next = used.pop().unwrap_or_else(|| Vec::with_capacity(REPLAY_BATCH));
                        let full = std::mem::replace(&mut batch, next);
                        let _ = to_worker.send(ReplayBatch::Records(full));
                    }
                }
                while let Ok(replayed) = from_worker.try_recv() {
                    check(replayed, &mut checker, &mut used);
                }
            };
            let recovery = Journal::open_with_snapshot(storage, config.journal, start, replay);
            if !batch.is_empty() {
                let _ = to_worker.send(ReplayBatch::Records(batch));
            }
            drop(to_worker);
            // Until the worker ends and drops its sender.
            for replayed in from_worker {
                check(replayed, &mut checker, &mut used);
            }
            (recovery, worker.join())
        });
        let recovery = recovery?;
        if let Some(mismatch) = checker.mismatch {
            // Also when the worker panicked: records past the mismatch ran on a state that
            // already differed (the one-thread replay stops before them).
            return Err(describe_mismatch(recovery.writer.into_storage(), &config, mismatch));
        }
        let state = joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let OpenState { replayer, failure, replayed } = state;
        let window = checker.into_window();
        if let Some(failure) = failure {
            return Err(failure);
        }
        let engine = replayer.expect("the journal shows the snapshot before replaying").into_engine();
        if engine.seq() != recovery.head.seq {
            let mismatch = ReplayMismatch::Sequence { seq: recovery.head.seq, engine_seq: engine.seq() };
            return Err(NodeError::Replay { seq: recovery.head.seq, mismatch: Box::new(mismatch) });
        }
        let report = Recovered {
            snapshot_seq: recovery.snapshot.as_ref().map(|s| s.seq),
            skipped_snapshots: recovery.skipped_snapshots,
            replayed,
            torn_tail: recovery.torn_tail,
            head: recovery.head,
            redelivered: window.len(),
        };
        let node = Self {
            engine,
            writer: recovery.writer,
            gate: OutputGate::new(config.gate_capacity),
            outbox: window,
            last_snapshot_seq: report.snapshot_seq.unwrap_or(0),
            settings_recorded: report.snapshot_seq.is_some(),
            config,
            payload: Vec::with_capacity(256),
            last_snapshot_error: None,
        };
        Ok((node, report))
    }

    /// Applies `cmd`, journals it and waits for its record to be durable (one commit); returns
    /// its events. Outputs of earlier [`Node::enqueue`]d commands released by the same commit
    /// stay in the outbox.
    ///
    /// # Errors
    /// See [`Node::submit_batch`].
    pub fn submit(&mut self, cmd: &Command) -> Result<Published, NodeError> {
        let mut batch = self.submit_batch(std::slice::from_ref(cmd))?;
        Ok(batch.pop().expect("one output per command"))
    }

    /// Applies and journals `commands` in order, then commits once (group commit: one write
    /// and one fsync); returns their events, in order. A batch holds at most `gate_capacity`
    /// commands, and must fit next to the outputs not yet taken. On an error after the first
    /// command, the commands before the failing one were applied and journaled; their events
    /// come out of [`Node::take_published`] once durable.
    ///
    /// # Errors
    /// [`NodeError::BatchTooLarge`] or [`NodeError::OutputsWaiting`] (nothing applied),
    /// [`NodeError::CommandTooLarge`] or [`NodeError::Stopped`].
    pub fn submit_batch(&mut self, commands: &[Command]) -> Result<Vec<Published>, NodeError> {
        self.check_running()?;
        let capacity = self.config.gate_capacity;
        if commands.len() > capacity {
            return Err(NodeError::BatchTooLarge { len: commands.len(), capacity });
        }
        let waiting = self.waiting();
        if waiting + commands.len() > capacity {
            return Err(NodeError::OutputsWaiting { waiting, capacity });
        }
        for cmd in commands {
            let _ticket = self.enqueue(cmd)?;
        }
        self.commit_and_release()?;
        let first = self.outbox.len().checked_sub(commands.len()).expect("the batch's outputs were released");
        let batch = self.outbox.split_off(first).into();
        self.maybe_snapshot();
        Ok(batch)
    }

    /// Applies `cmd` and appends its record; its events wait in the gate until the record is
    /// durable (after [`Node::flush`], or a [`Node::poll`] or append that fsyncs under the
    /// journal's policy), then in the outbox until [`Node::take_published`]. When the outputs
    /// held and waiting fill `gate_capacity`, commits first.
    ///
    /// # Errors
    /// [`NodeError::CommandTooLarge`] or [`NodeError::OutputsWaiting`] (nothing applied), or
    /// [`NodeError::Stopped`] (the command may have been applied; its events are never
    /// released).
    ///
    /// # Panics
    /// With `check_invariants`, if an engine invariant breaks (an engine bug).
    pub fn enqueue(&mut self, cmd: &Command) -> Result<Ticket, NodeError> {
        self.enqueue_inner(cmd, false).map(|(ticket, _)| ticket)
    }

    /// [`Node::enqueue`], handing the command's events to the caller at once — for a server
    /// that holds its answers until the record is durable itself, and must encode the events
    /// against the engine state right after the command (its book, its marks). The record's
    /// place in the gate is held as for [`Node::enqueue`], and its output still comes out of
    /// [`Node::take_published`] once durable, with no events. The hash that commits to the
    /// record is the one [`Node::flush`] returns.
    ///
    /// Why not a copy kept in the gate: the server dropped it unread after every flush, and
    /// cloning then freeing every event was about a tenth of its engine thread's samples
    /// under load (docs/PERFORMANCE.md "Session 16").
    ///
    /// # Errors
    /// As [`Node::enqueue`].
    pub fn enqueue_taking_events(&mut self, cmd: &Command) -> Result<(Ticket, Vec<Event>), NodeError> {
        self.enqueue_inner(cmd, true)
    }

    fn enqueue_inner(&mut self, cmd: &Command, take: bool) -> Result<(Ticket, Vec<Event>), NodeError> {
        self.check_running()?;
        self.payload.clear();
        encode_command_into(cmd, &mut self.payload);
        if self.payload.len() > PAYLOAD_BYTES_MAX {
            return Err(NodeError::CommandTooLarge { len: self.payload.len(), max: PAYLOAD_BYTES_MAX });
        }
        let capacity = self.config.gate_capacity;
        if self.waiting() >= capacity {
            if !self.gate.is_empty() {
                self.commit_and_release()?;
            }
            if self.outbox.len() >= capacity {
                return Err(NodeError::OutputsWaiting { waiting: self.outbox.len(), capacity });
            }
        }
        let events = self.engine.apply(cmd);
        if self.config.check_invariants {
            if let Err(e) = self.engine.check_invariants() {
                panic!("engine invariant broken by command {} ({cmd:?}): {e}", self.engine.seq());
            }
        }
        let ticket = self
            .writer
            .append_with_events(cmd.ts.0, &self.payload, |stream| encode_events_into(&events, stream))
            .map_err(stopped)?;
        assert_eq!(ticket.seq, self.engine.seq(), "journal and engine sequence numbers agree");
        let (kept, taken) = if take { (Vec::new(), events) } else { (events, Vec::new()) };
        let output = Published { seq: ticket.seq, events: kept, redelivered: false };
        self.gate.hold(ticket, output).expect("the gate had room");
        self.release();
        Ok((ticket, taken))
    }

    /// Writes and fsyncs every appended record and moves the released events to the outbox.
    /// Returns the durable head: the commit that closes the records appended so far.
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub fn flush(&mut self) -> Result<ChainHead, NodeError> {
        self.check_running()?;
        let head = self.commit_and_release()?;
        self.maybe_snapshot();
        Ok(head)
    }

    /// Tells the journal the time (ms), which fsyncs under `SyncPolicy::EveryMillis` once the
    /// oldest waiting record is old enough; moves released events to the outbox. Returns the
    /// durable head.
    ///
    /// # Errors
    /// [`NodeError::Stopped`].
    pub fn poll(&mut self, now_ms: i64) -> Result<ChainHead, NodeError> {
        self.check_running()?;
        let head = self.writer.tick(now_ms).map_err(stopped)?;
        self.release();
        self.maybe_snapshot();
        Ok(head)
    }

    /// Takes the released events, in sequence order (after a restart, the redelivered ones
    /// first).
    pub fn take_published(&mut self) -> Vec<Published> {
        let taken = self.outbox.drain(..).collect();
        self.maybe_snapshot();
        taken
    }

    /// Commits, then writes a snapshot of the engine at the durable head (and archives the
    /// segments it covers if configured). Every output must have been taken: a snapshot only
    /// covers commands whose events left the node, so that recovery can redeliver the others.
    ///
    /// # Errors
    /// [`NodeError::Stopped`], [`NodeError::OutputsWaiting`], [`NodeError::SnapshotWrite`] or
    /// [`NodeError::Archive`] (the node goes on after the last three).
    pub fn snapshot(&mut self) -> Result<SnapshotWritten, NodeError> {
        self.flush()?;
        if !self.outbox.is_empty() {
            return Err(NodeError::OutputsWaiting { waiting: self.outbox.len(), capacity: self.config.gate_capacity });
        }
        self.snapshot_now()
    }

    /// Outputs held in the gate or waiting in the outbox: the commands whose events have not
    /// left the node. Never more than `gate_capacity`.
    fn waiting(&self) -> usize {
        self.gate.len() + self.outbox.len()
    }

    fn commit_and_release(&mut self) -> Result<ChainHead, NodeError> {
        let head = self.writer.commit().map_err(stopped)?;
        self.release();
        Ok(head)
    }

    fn snapshot_now(&mut self) -> Result<SnapshotWritten, NodeError> {
        let head = self.writer.durable_head();
        debug_assert_eq!(head.seq, self.engine.seq(), "a snapshot is taken with nothing pending");
        let state = encode_snapshot(&self.engine.snapshot());
        let path = self.writer.write_snapshot(head.seq, self.engine.state_hash().0, head.hash, &state)?;
        self.last_snapshot_seq = head.seq;
        self.settings_recorded = true;
        let archived_segments =
            if self.config.archive_after_snapshot { self.writer.archive_covered_segments()?.moved.len() } else { 0 };
        Ok(SnapshotWritten { seq: head.seq, path, state_bytes: state.len(), archived_segments })
    }

    /// Writes a snapshot when one is due and every output has left the node (so a snapshot
    /// never covers a command to redeliver): the journal's first (it records the engine
    /// settings that `perpx verify` needs to replay from genesis), then every `snapshot_every`
    /// commands.
    fn maybe_snapshot(&mut self) {
        if self.waiting() > 0 || self.engine.seq() == 0 || self.writer.stopped().is_some() {
            return;
        }
        let due = match self.config.snapshot_every {
            // The first snapshot is due until one is written — `snapshot_now` notes it — not
            // merely tried: after a failed attempt it is tried again once `gate_capacity` more
            // commands have passed. (Noting it before the attempt left a journal without any
            // snapshot when the first write failed and `snapshot_every` was unset, and
            // `perpx verify` then replayed it with default settings to another state — found by
            // `perpx-check`'s simulation, seed 2897.)
            _ if !self.settings_recorded => {
                self.last_snapshot_error.is_none()
                    || self.engine.seq() >= self.last_snapshot_seq.saturating_add(self.config.gate_capacity as u64)
            }
            Some(every) => self.engine.seq() >= self.last_snapshot_seq.saturating_add(every),
            None => false,
        };
        if !due {
            return;
        }
        match self.snapshot_now() {
            Ok(_) => self.last_snapshot_error = None,
            Err(e) => {
                // Retry at the next interval, not at every commit.
                self.last_snapshot_seq = self.engine.seq();
                self.last_snapshot_error = Some(e);
            }
        }
    }

    fn release(&mut self) {
        let released = self.gate.release(self.writer.durable_seq());
        self.outbox.extend(released);
    }

    fn check_running(&self) -> Result<(), NodeError> {
        match self.writer.stopped() {
            Some(cause) => Err(NodeError::Stopped { cause: cause.clone() }),
            None => Ok(()),
        }
    }

    /// The engine, including commands whose records are not durable yet (see
    /// [`Node::pending`]); after a stop it may hold commands the journal does not.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Commands applied whose events wait for their records to become durable.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.gate.len()
    }

    /// Released outputs waiting in the outbox for [`Node::take_published`].
    #[must_use]
    pub fn released(&self) -> usize {
        self.outbox.len()
    }

    /// The durable chain head: what may be published as the journal's head.
    #[must_use]
    pub fn durable_head(&self) -> ChainHead {
        self.writer.durable_head()
    }

    /// The failure that stopped the node, if it stopped.
    #[must_use]
    pub fn stopped(&self) -> Option<&StorageError> {
        self.writer.stopped()
    }

    /// Why the last automatic snapshot failed, if it did.
    #[must_use]
    pub fn last_snapshot_error(&self) -> Option<&NodeError> {
        self.last_snapshot_error.as_ref()
    }

    /// The journal writer (statistics, configuration, proofs).
    #[must_use]
    pub fn writer(&self) -> &JournalWriter<S> {
        &self.writer
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Gives the storage back; records not yet durable are dropped, as at a crash.
    #[must_use]
    pub fn into_storage(self) -> S {
        self.writer.into_storage()
    }
}

/// The error [`Node::open`] returns for replayed events its two threads found different at
/// `found`: the journal replayed again on one thread with every check in order, which stops at
/// the first record or commit that does not replay (the one found, as the engine is
/// deterministic) and describes it — the command and its events. Only a failed recovery pays
/// for the second replay. If that replay passes `found` without failing there, the engine did
/// not repeat itself ([`ReplayMismatch::Unrepeatable`]); if the journal or the snapshot can't be
/// read again, that error is returned (the storage failing is the more urgent news).
fn describe_mismatch<S: Storage>(storage: S, config: &NodeConfig, found: EventsMismatch) -> NodeError {
    let replayer = std::cell::RefCell::new(None);
    let mut failure = None;
    let start = |snapshot: Option<&perpx_journal::Snapshot>| {
        *replayer.borrow_mut() =
            Some(start_engine(snapshot, &config.engine).map(|e| Replayer::new(e, config.check_invariants)));
    };
    let replay = |c: &perpx_journal::Committed<'_>| {
        if failure.is_some() || c.commit.first_seq > found.seq {
            return;
        }
        if let Some(Ok(replayer)) = replayer.borrow_mut().as_mut() {
            if let Err((seq, mismatch)) = replayer.apply_commit(c, |_, _, _| {}) {
                failure = Some(NodeError::Replay { seq, mismatch: Box::new(mismatch) });
            }
        }
    };
    if let Err(e) = Journal::open_with_snapshot(storage, config.journal, start, replay) {
        return e.into();
    }
    if let Some(Err(e)) = replayer.into_inner() {
        return e;
    }
    failure.unwrap_or_else(|| NodeError::Replay {
        seq: found.seq,
        mismatch: Box::new(ReplayMismatch::Unrepeatable { first: found.what }),
    })
}

/// The engine recovery starts from: restored from the snapshot (and checked against it and
/// the node's settings), or a fresh one.
fn start_engine(snapshot: Option<&perpx_journal::Snapshot>, config: &EngineConfig) -> Result<Engine, NodeError> {
    let Some(snapshot) = snapshot else { return Ok(Engine::new(config.clone())) };
    let engine = load_snapshot(snapshot).map_err(|source| NodeError::Snapshot { seq: snapshot.seq, source })?;
    if engine.config() != config {
        return Err(NodeError::ConfigMismatch {
            seq: snapshot.seq,
            snapshot: Box::new(engine.config().clone()),
            node: Box::new(config.clone()),
        });
    }
    Ok(engine)
}

fn stopped(e: WriteError) -> NodeError {
    match e {
        WriteError::Stopped { cause } => NodeError::Stopped { cause },
        WriteError::PayloadTooLarge { len, max } => NodeError::CommandTooLarge { len, max },
    }
}
