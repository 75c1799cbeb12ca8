//! Replaying journal records through the engine, checking each against what it records — the
//! one replay that recovery ([`crate::Node::open`]), `perpx verify` and `perpx proof` share —
//! and starting an engine from a snapshot file.
//!
//! A record is replayed in four checks: its payload decodes; its timestamp is its command's;
//! the engine is at the sequence number before it; and the encoding of the events the engine
//! produces has the record's `events_check` (a CRC32C, which names the record that went wrong).
//! Then the commit's events digest (blake3 over all its records' events) is compared: that is
//! the check a hash chain proves. The first that fails is a [`ReplayMismatch`].

use perpx_core::engine::RestoreError;
use perpx_core::{Command, Engine, EngineConfig, Event};
use perpx_journal::frame::RecordRef;
use perpx_journal::record::hex;
use perpx_journal::{Committed, Hash, Snapshot, events_digest, push_events_with};

use crate::codec::{DecodeError, decode_command, decode_snapshot, encode_events_into};

/// Why a record did not replay as it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayMismatch {
    /// The payload is not a command this build can decode.
    #[error("the payload does not decode: {0}")]
    Decode(DecodeError),
    /// The record's timestamp is not its command's.
    #[error("the record's timestamp {record_ts} differs from its command's {command_ts}")]
    Timestamp {
        /// The record's `ts_ms`.
        record_ts: i64,
        /// The decoded command's timestamp.
        command_ts: i64,
    },
    /// The engine is not at the sequence number before the record.
    #[error("the engine is at command {engine_seq} and cannot apply record {seq}")]
    Sequence {
        /// The record.
        seq: u64,
        /// The engine's last command.
        engine_seq: u64,
    },
    /// The replayed events are not the recorded ones: their encoding does not have the record's
    /// check.
    #[error(
        "the replayed events differ from the recorded ones: events check {recorded:08x} recorded, {replayed:08x} replayed ({} events: {})",
        events.len(), describe(events)
    )]
    Events {
        /// The record's `events_check`.
        recorded: u32,
        /// The check of the replayed events.
        replayed: u32,
        /// The command.
        command: Box<Command>,
        /// The replayed events.
        events: Vec<Event>,
    },
    /// Every record's events had its check, but the commit's events digest differs: the events
    /// differ in a way the checks missed (the digest is the commitment; the checks only name
    /// records).
    #[error(
        "the replayed events of records {first_seq}..={last_seq} differ from the recorded ones: events digest {} recorded, {} replayed",
        hex(recorded),
        hex(replayed)
    )]
    CommitEvents {
        /// The commit's first record.
        first_seq: u64,
        /// Its last record.
        last_seq: u64,
        /// The commit's events digest.
        recorded: Hash,
        /// The digest of the replayed events.
        replayed: Hash,
    },
    /// A replay's events differed from the recorded ones, but not on a second replay of the
    /// same records: the engine did not repeat itself, which no journal damage explains.
    /// ([`crate::Node::open`] finds a mismatch on two threads, then replays again on one to
    /// describe it; see its docs.)
    #[error(
        "the replayed events differed from the recorded ones ({first}), but not on a second replay: the engine is not deterministic"
    )]
    Unrepeatable {
        /// What the first replay found.
        first: String,
    },
}

/// A short list of event kinds, for messages.
fn describe(events: &[Event]) -> String {
    let names: Vec<String> = events
        .iter()
        .take(8)
        .map(|e| {
            let debug = format!("{:?}", e.kind);
            debug.split([' ', '(', '{']).next().unwrap_or_default().to_owned()
        })
        .collect();
    let more = if events.len() > 8 { ", …" } else { "" };
    format!("{}{more}", names.join(", "))
}

/// Applies records to an engine, checking each (see the module docs).
#[derive(Debug)]
pub struct Replayer {
    engine: Engine,
    check_invariants: bool,
    /// The events of the record being replayed, and the commit's events stream: reused.
    events: Vec<Event>,
    stream: Vec<u8>,
}

impl Replayer {
    /// A replayer starting from `engine`.
    #[must_use]
    pub fn new(engine: Engine, check_invariants: bool) -> Self {
        Self { engine, check_invariants, events: Vec::new(), stream: Vec::new() }
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Gives the engine back.
    #[must_use]
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// Replays the records of one commit in order, each checked (see the module docs), handing
    /// each record, its command and its events to `each` as it passes; then checks the
    /// commit's events digest.
    ///
    /// # Errors
    /// The record (its sequence number) and the first check that failed. The engine has applied
    /// the records before it, and the failing one too if only its events differ.
    ///
    /// # Panics
    /// With `check_invariants`, if an engine invariant breaks (an engine bug).
    pub fn apply_commit(
        &mut self,
        committed: &Committed<'_>,
        mut each: impl FnMut(&RecordRef<'_>, &Command, &[Event]),
    ) -> Result<(), (u64, ReplayMismatch)> {
        self.stream.clear();
        let mut events = std::mem::take(&mut self.events);
        for (_, record) in committed.records {
            events.clear();
            let command = decode_command(record.payload).map_err(|e| (record.seq, ReplayMismatch::Decode(e)))?;
            let applied = self.apply_command(record.seq, record.ts_ms, &command, &mut events);
            applied.map_err(|mismatch| (record.seq, mismatch))?;
            let replayed = push_events_with(&mut self.stream, |s| encode_events_into(&events, s));
            if replayed != record.events_check {
                let mismatch = ReplayMismatch::Events {
                    recorded: record.events_check,
                    replayed,
                    command: Box::new(command),
                    events: std::mem::take(&mut events),
                };
                return Err((record.seq, mismatch));
            }
            each(record, &command, &events);
        }
        self.events = events;
        let commit = &committed.commit;
        let replayed = events_digest(&self.stream);
        if replayed != commit.events_digest {
            let mismatch = ReplayMismatch::CommitEvents {
                first_seq: commit.first_seq,
                last_seq: commit.last_seq,
                recorded: commit.events_digest,
                replayed,
            };
            return Err((commit.last_seq, mismatch));
        }
        Ok(())
    }

    /// Every check of [`Replayer::apply_commit`] but the events', for one record whose payload
    /// is already decoded (`decoded` is what `decode_command` gave for it), its events appended
    /// to `events` (none on an error): the caller checks the events itself (recovery decodes and
    /// hashes on the thread that reads the journal). The command is lent, so that recovery's
    /// reader, which decoded it, also frees it.
    ///
    /// # Errors
    /// The decoding, timestamp or sequence mismatch.
    ///
    /// # Panics
    /// As [`Replayer::apply_commit`].
    pub fn apply_undigested(
        &mut self,
        seq: u64,
        ts_ms: i64,
        decoded: &Result<Command, DecodeError>,
        events: &mut Vec<Event>,
    ) -> Result<(), ReplayMismatch> {
        let command = decoded.as_ref().map_err(|e| ReplayMismatch::Decode(e.clone()))?;
        self.apply_command(seq, ts_ms, command, events)
    }

    /// Checks `command`'s timestamp against its record's and `seq` against the engine's next,
    /// then applies it, appending its events to `events`.
    fn apply_command(
        &mut self,
        seq: u64,
        ts_ms: i64,
        command: &Command,
        events: &mut Vec<Event>,
    ) -> Result<(), ReplayMismatch> {
        if command.ts.0 != ts_ms {
            return Err(ReplayMismatch::Timestamp { record_ts: ts_ms, command_ts: command.ts.0 });
        }
        if self.engine.seq() + 1 != seq {
            return Err(ReplayMismatch::Sequence { seq, engine_seq: self.engine.seq() });
        }
        self.engine.apply_into(command, events);
        if self.check_invariants {
            if let Err(e) = self.engine.check_invariants() {
                panic!("engine invariant broken by record {seq} ({command:?}): {e}");
            }
        }
        Ok(())
    }
}

/// Why an engine could not be started from a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotLoadError {
    /// The state does not decode.
    #[error("the state does not decode: {0}")]
    Decode(DecodeError),
    /// The state is of another command than the file says.
    #[error("the file is for command {file_seq} but holds the state after command {state_seq}")]
    Sequence {
        /// From the file's header.
        file_seq: u64,
        /// From the state.
        state_seq: u64,
    },
    /// The state is not a consistent engine.
    #[error(transparent)]
    Restore(RestoreError),
    /// The restored engine does not have the state hash the file records.
    #[error("the restored engine's state hash is {}, the file records {}", hex(found), hex(recorded))]
    StateHash {
        /// From the file.
        recorded: [u8; 32],
        /// Of the restored engine.
        found: [u8; 32],
    },
}

/// The engine settings a snapshot was taken with (to replay from genesis with the same ones).
///
/// # Errors
/// If the state does not decode.
pub fn snapshot_config(snapshot: &Snapshot) -> Result<EngineConfig, SnapshotLoadError> {
    decode_snapshot(&snapshot.state).map(|s| s.config).map_err(SnapshotLoadError::Decode)
}

/// Restores the engine a snapshot file holds, and checks it against the file: same sequence
/// number, same state hash.
///
/// # Errors
/// See [`SnapshotLoadError`].
pub fn load_snapshot(snapshot: &Snapshot) -> Result<Engine, SnapshotLoadError> {
    let state = decode_snapshot(&snapshot.state).map_err(SnapshotLoadError::Decode)?;
    if state.seq != snapshot.seq {
        return Err(SnapshotLoadError::Sequence { file_seq: snapshot.seq, state_seq: state.seq });
    }
    let engine = Engine::restore(state).map_err(SnapshotLoadError::Restore)?;
    let found = engine.state_hash().0;
    if found != snapshot.state_hash {
        return Err(SnapshotLoadError::StateHash { recorded: snapshot.state_hash, found });
    }
    Ok(engine)
}
