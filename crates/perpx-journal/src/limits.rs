//! Every limit of the journal, in one place.
//!
//! A limit bounds memory, a loop or a file. Configurable values (segment size, batch size,
//! sync policy) are checked against these bounds by [`JournalConfig::validate`]; fixed values
//! protect readers from files that claim to be larger than any writer makes them.
//!
//! [`JournalConfig::validate`]: crate::JournalConfig::validate

/// Largest command payload a record may carry (1 MiB). An engine command is a few hundred bytes.
pub const PAYLOAD_BYTES_MAX: usize = 1 << 20;

/// Smallest segment size target a configuration may ask for (small targets exist for tests).
pub const SEGMENT_BYTES_TARGET_MIN: u64 = 256;
/// Largest segment size target a configuration may ask for (1 GiB).
pub const SEGMENT_BYTES_TARGET_MAX: u64 = 1 << 30;
/// Largest segment file a reader accepts: the target maximum plus one maximal record and seal.
/// A segment may pass its target only by the one record that did not fit.
pub const SEGMENT_FILE_BYTES_MAX: u64 = SEGMENT_BYTES_TARGET_MAX + 2 * (PAYLOAD_BYTES_MAX as u64);

/// Smallest write buffer a configuration may ask for.
pub const BATCH_BYTES_MIN: usize = 4 << 10;
/// Largest write buffer a configuration may ask for (64 MiB).
pub const BATCH_BYTES_MAX: usize = 64 << 20;

/// Largest `EveryRecords(n)` sync policy.
pub const SYNC_EVERY_RECORDS_MAX: u32 = 1_000_000;
/// Largest `EveryMillis(ms)` sync policy (one minute).
pub const SYNC_EVERY_MILLIS_MAX: u64 = 60_000;

/// Largest snapshot body (1 GiB): snapshots are read whole into memory.
pub const SNAPSHOT_BYTES_MAX: u64 = 1 << 30;
/// How many snapshot files `latest_valid_snapshot` inspects, newest first, before giving up.
pub const SNAPSHOTS_SCANNED_MAX: usize = 64;

/// Most segment files a journal directory (active plus archive) may hold.
pub const SEGMENTS_MAX: usize = 10_000_000;

/// Most links (records after the proven one) a proof may carry.
pub const PROOF_LINKS_MAX: u64 = 1_000_000;

/// Most open file handles the file storage keeps (the writer needs two).
pub const OPEN_FILES_MAX: usize = 16;
