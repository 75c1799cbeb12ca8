//! The binary encodings the journal carries for the engine: commands (record payloads), events
//! (checked by a record's `events_check` and a commit's `events_digest`) and engine snapshots (a
//! snapshot file's state).
//!
//! All three are hand-written over the same fixed-width little-endian primitives
//! ([`bytes`]), with explicit tags for every enumeration (`types`), rather than derived from
//! the core types: a derived encoding (serde with a binary format) numbers enum variants by
//! their position in the source, so moving or inserting a variant in `perpx-core` would
//! silently change the meaning of every journal already written. Here a new variant does not
//! compile until it is given its own tag, and golden-byte tests pin the encodings. The layouts
//! are in `docs/JOURNAL.md`.

pub mod bytes;
pub mod command;
pub mod events;
pub mod snapshot;
pub(crate) mod types;

pub use bytes::DecodeError;
pub use command::{COMMAND_CODEC_VERSION, decode_command, encode_command, encode_command_into};
pub use events::{EVENTS_DIGEST_DOMAIN, encode_events, encode_events_into};
pub use snapshot::{SNAPSHOT_CODEC_VERSION, decode_snapshot, encode_snapshot};
