//! Replaying journal records through the engine, checking each against what it records — the
//! one replay that recovery ([`crate::Node::open`]), `perpx verify` and `perpx proof` share —
//! and starting an engine from a snapshot file.
//!
//! A record is replayed in four checks: its payload decodes; its timestamp is its command's;
//! the engine is at the sequence number before it; and the events the engine produces have the
//! digest the record carries. The first that fails is a [`ReplayMismatch`].

use perpx_core::engine::RestoreError;
use perpx_core::{Command, Engine, EngineConfig, Event};
use perpx_journal::Snapshot;
use perpx_journal::record::hex;

use crate::codec::{DecodeError, EventsDigest, EventsDigester, decode_command, decode_snapshot};

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
    /// The replayed events are not the recorded ones.
    #[error(
        "the replayed events differ from the recorded ones: events digest {} recorded, {} replayed ({} events: {})",
        hex(recorded), hex(replayed), events.len(), describe(events)
    )]
    EventsDigest {
        /// The digest in the record.
        recorded: EventsDigest,
        /// The digest of the replayed events.
        replayed: EventsDigest,
        /// The command.
        command: Box<Command>,
        /// The replayed events.
        events: Vec<Event>,
    },
    /// A replay's events did not have the recorded digest, but a second replay of the same
    /// records did: the engine did not repeat itself, which no journal damage explains.
    /// ([`crate::Node::open`] finds a digest mismatch on two threads, then replays again on one
    /// to describe it; see its docs.)
    #[error(
        "the replayed events differ from the recorded ones (events digest {} recorded, {} replayed), but not on a \
         second replay: the engine is not deterministic",
        hex(recorded),
        hex(replayed)
    )]
    Unrepeatable {
        /// The digest in the record.
        recorded: EventsDigest,
        /// The digest of the first replay's events.
        replayed: EventsDigest,
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
    digester: EventsDigester,
    check_invariants: bool,
}

impl Replayer {
    /// A replayer starting from `engine`.
    #[must_use]
    pub fn new(engine: Engine, check_invariants: bool) -> Self {
        Self { engine, digester: EventsDigester::default(), check_invariants }
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

    /// Replays one record; returns its command and events.
    ///
    /// # Errors
    /// The first check that fails; the engine is unchanged unless the events differ (then it
    /// has applied the command).
    ///
    /// # Panics
    /// With `check_invariants`, if an engine invariant breaks (an engine bug).
    pub fn apply(
        &mut self,
        seq: u64,
        ts_ms: i64,
        payload: &[u8],
        recorded: &EventsDigest,
    ) -> Result<(Command, Vec<Event>), ReplayMismatch> {
        let mut events = Vec::new();
        let command = self.apply_into(seq, ts_ms, payload, recorded, &mut events)?;
        Ok((command, events))
    }

    /// As [`Replayer::apply`], with the events written into `events` (cleared first): a
    /// caller replaying millions of records reuses its buffers instead of allocating, growing
    /// and freeing a vector per record. With the stale reduce-only skip, the recovery worker's
    /// instructions over a 300,000-record recovery fell 9 % (callgrind on `recovery_bench`;
    /// docs/PERFORMANCE.md, "Recovery").
    ///
    /// # Errors
    /// As [`Replayer::apply`]; on a digest mismatch the error carries the events (taken out of
    /// `events`).
    ///
    /// # Panics
    /// As [`Replayer::apply`].
    pub fn apply_into(
        &mut self,
        seq: u64,
        ts_ms: i64,
        payload: &[u8],
        recorded: &EventsDigest,
        events: &mut Vec<Event>,
    ) -> Result<Command, ReplayMismatch> {
        let command = self.apply_undigested(seq, ts_ms, decode_command(payload), events)?;
        let replayed = self.digester.digest(events);
        if replayed != *recorded {
            return Err(ReplayMismatch::EventsDigest {
                recorded: *recorded,
                replayed,
                command: Box::new(command),
                events: std::mem::take(events),
            });
        }
        Ok(command)
    }

    /// Every check of [`Replayer::apply_into`] but the last, on a payload already decoded
    /// (`decoded` is what `decode_command` gave for it): the caller compares the events with
    /// the record's digest itself (recovery decodes and hashes on the thread that reads the
    /// journal).
    ///
    /// # Errors
    /// As [`Replayer::apply_into`], but never [`ReplayMismatch::EventsDigest`].
    ///
    /// # Panics
    /// As [`Replayer::apply`].
    pub fn apply_undigested(
        &mut self,
        seq: u64,
        ts_ms: i64,
        decoded: Result<Command, DecodeError>,
        events: &mut Vec<Event>,
    ) -> Result<Command, ReplayMismatch> {
        events.clear();
        let command = decoded.map_err(ReplayMismatch::Decode)?;
        if command.ts.0 != ts_ms {
            return Err(ReplayMismatch::Timestamp { record_ts: ts_ms, command_ts: command.ts.0 });
        }
        if self.engine.seq() + 1 != seq {
            return Err(ReplayMismatch::Sequence { seq, engine_seq: self.engine.seq() });
        }
        self.engine.apply_into(&command, events);
        if self.check_invariants {
            if let Err(e) = self.engine.check_invariants() {
                panic!("engine invariant broken by record {seq} ({command:?}): {e}");
            }
        }
        Ok(command)
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
