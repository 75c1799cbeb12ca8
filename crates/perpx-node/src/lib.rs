//! # perpx-node
//!
//! The engine and its journal together: what the server runs and what `perpx verify` and
//! `perpx proof` check. `perpx-core` knows nothing of bytes on disk and `perpx-journal`
//! nothing of the engine; this crate is the seam.
//!
//! - [`codec`]: the binary encodings the journal carries — commands (record payloads), events
//!   (checked by each record's `events_check` and each commit's `events_digest`) and engine
//!   snapshots — versioned, hand-written with explicit tags, and refusing bad bytes with a
//!   typed [`codec::DecodeError`];
//! - [`node`]: [`Node`], the engine and the journal writer with output commit (events leave
//!   only once their record is durable), group commit, snapshots, and recovery that replays
//!   and checks the journal and redelivers what may not have been published;
//! - [`replay`]: the checked replay of records that recovery, verification and proofs share;
//! - [`mod@verify`] and [`mod@prove`]: the library behind `perpx verify` and `perpx proof`.
//!
//! The formats are in `docs/JOURNAL.md` ("The engine in the journal").
//!
//! ```
//! use perpx_core::{Command, CommandKind, Timestamp};
//! use perpx_journal::MemStorage;
//! use perpx_node::{Node, NodeConfig};
//!
//! let (mut node, recovered) = Node::open(MemStorage::new(), NodeConfig::default()).unwrap();
//! assert_eq!(recovered.head.seq, 0);
//! let tick = Command { ts: Timestamp(1_700_000_000_000), kind: CommandKind::Tick };
//! let published = node.submit(&tick).unwrap(); // returns once the record is durable
//! assert_eq!(published.seq, 1);
//! ```

pub mod codec;
pub mod node;
pub mod prove;
pub mod replay;
pub mod verify;

pub use node::{Node, NodeConfig, NodeError, Published, Recovered, SnapshotWritten};
pub use prove::{ProofReport, ProveError, prove};
pub use replay::{ReplayMismatch, Replayer, SnapshotLoadError, load_snapshot};
pub use verify::{Progress, SnapshotCheck, VerifyError, VerifyReport, verify_journal};
