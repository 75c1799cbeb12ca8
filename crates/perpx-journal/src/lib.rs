//! # perpx-journal
//!
//! The durability layer and public proof of perpx: every command the engine sees, rejections
//! included, in sequence, in a hash-chained, segmented, checksummed log; snapshots of the engine
//! state; crash recovery; proofs that a record is in the chain. The journal knows nothing of the
//! engine: a record's payload (the encoded command) and its events' encoding are opaque bytes.
//! The byte-level format is in `docs/JOURNAL.md`.
//!
//! Where to start reading:
//! - [`record`]: the record, the commit and their blake3 chain; [`frame`] and [`segment`]: the
//!   bytes on disk;
//! - [`storage`]: the storage trait, the real [`FileStorage`] and the fault-injecting
//!   [`MemStorage`];
//! - [`writer`]: appends, group commit, rollover, the stop-on-failure rule;
//! - [`recover`]: opening a journal after a crash; [`snapshot`] and [`archive`];
//! - [`verify`] and [`proof`]: checking the chain and proving a record.
//!
//! ## Using it
//!
//! ```
//! use perpx_journal::{Journal, JournalConfig, MemStorage, OutputGate};
//!
//! let mut recovery = Journal::open(MemStorage::new(), JournalConfig::default()).unwrap();
//! assert!(recovery.records.is_empty()); // a new journal: nothing to replay
//! let writer = &mut recovery.writer;
//! let mut gate = OutputGate::new(1024);
//! // For each command: apply it to the engine, journal it, hold its events.
//! let ticket = writer.append(1_700_000_000_000, b"encoded command", b"encoded events").unwrap();
//! gate.hold(ticket, "events of the command").unwrap();
//! assert_eq!(gate.release(writer.durable_seq()).count(), 0); // not durable: nothing published
//! writer.commit().unwrap(); // one write and one fsync for the whole batch
//! assert_eq!(gate.release(writer.durable_seq()).collect::<Vec<_>>(), ["events of the command"]);
//! ```
//!
//! ## Durability policies
//!
//! A record is **durable** when an fsync that covers it has returned success; `durable_seq()`
//! says how far that is, and nothing a command produced may be published before (use an
//! [`OutputGate`]). The [`SyncPolicy`] decides when the writer fsyncs on its own; `commit()`
//! always forces one.
//!
//! | policy | fsync happens | a crash may lose | cost |
//! |---|---|---|---|
//! | `EveryBatch` | at each `commit()` the caller makes | records appended since the last `commit()` — none of them acknowledged | one fsync per batch |
//! | `EveryRecords(n)` | when `n` records wait, and at `commit()` | up to `n − 1` unacknowledged records | one fsync per `n` records |
//! | `EveryMillis(ms)` | at the first `tick(now)` with the oldest waiting record `ms` old, and at `commit()` | records of the last `ms` plus one tick period — none acknowledged | at most one fsync per `ms` |
//!
//! In every policy an acknowledged record (one at or before `durable_seq()`) survives any crash,
//! and a record that was never acknowledged may or may not survive: clients that got no answer
//! must not assume either. Segment rollover also fsyncs (the sealed segment is made durable
//! before the next one is started), which only ever makes records durable earlier.
//!
//! ## When storage fails: the writer stops, and never retries an fsync
//!
//! Any failed write, fsync or segment creation puts the writer in a stopped state: every later
//! call returns [`WriteError::Stopped`] with the original failure. An fsync is never retried
//! because Linux (before and after the 2018 "fsyncgate" discussion with PostgreSQL) may drop the
//! dirty pages of a failed write-back and mark them clean: a second fsync then reports success
//! for data that is not on disk. The process must restart and [`Journal::open`] from what is
//! really on disk. [`MemStorage`] models exactly this, and a test shows that a retry would lose
//! an acknowledged record.
//!
//! ## Recovery
//!
//! A torn last record (cut short, or invalid with only zeros after it, at the very end of the
//! last segment) is truncated and reported with the number of bytes dropped. Anything else — a
//! CRC mismatch, a broken hash, a sequence gap or rewind, a broken link, a missing or
//! overlapping segment, a bad header, a truncated middle segment, data after a seal, an unknown
//! format version — stops recovery with a [`Corruption`] naming the segment file and byte
//! offset. Nothing is ever skipped. Recovery then rewrites the last segment through a fresh,
//! fsync'd copy, so that what it read is really on disk even after a process restart that
//! followed a failed fsync (the page cache may serve pages that never reached the disk).
//!
//! Single writer: the caller makes sure one process at a time opens a journal directory.

pub mod archive;
mod bytes;
mod chain;
pub mod config;
pub mod corruption;
pub mod frame;
pub mod gate;
pub mod limits;
pub mod proof;
pub mod record;
pub mod recover;
pub mod scan;
pub mod segment;
pub mod snapshot;
pub mod storage;
pub mod verify;
pub mod writer;

pub use archive::{ArchiveError, ArchiveReport};
pub use chain::{Committed, ReadError};
pub use config::{ConfigError, JournalConfig, SyncPolicy};
pub use corruption::{Corruption, Truncation};
pub use frame::FrameFault;
pub use gate::{GateFull, OutputGate};
pub use proof::{CommitLink, Proof, ProofError, ProofVerifyError, build_proof, verify_proof};
pub use record::{
    ChainHead, Commit, FIRST_SEQ, GENESIS_HASH, Hash, Record, commit_hash, events_check, events_digest, push_events,
    push_events_with, records_digest,
};
pub use recover::{Journal, OpenError, Recovery};
pub use scan::TornTail;
pub use segment::{FORMAT_VERSION, HeaderFault};
pub use snapshot::{SkippedSnapshot, Snapshot, SnapshotFault, SnapshotScan, latest_valid_snapshot};
pub use storage::{
    CrashMode, Fault, FaultPlan, FaultRates, FileStorage, FiredFault, MemStorage, OpRecord, Storage, StorageError,
    StorageErrorKind, StorageOp,
};
pub use verify::{ChainSummary, VerifyProgress, verify_chain, verify_chain_with};
pub use writer::{JournalWriter, SnapshotError, Ticket, WriteError, WriterStats};
