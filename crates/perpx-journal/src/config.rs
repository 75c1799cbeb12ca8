//! Writer configuration: the sync (group-commit) policy, segment size and write buffer.
//!
//! What each policy means for durability is in the crate docs ("Durability policies"). In every
//! policy, [`JournalWriter::commit`](crate::JournalWriter::commit) forces a write and fsync of
//! everything appended so far, and a record is durable only once `durable_seq()` has reached it.

use crate::limits::{
    BATCH_BYTES_MAX, BATCH_BYTES_MIN, SEGMENT_BYTES_TARGET_MAX, SEGMENT_BYTES_TARGET_MIN, SYNC_EVERY_MILLIS_MAX,
    SYNC_EVERY_RECORDS_MAX,
};

/// When the writer fsyncs on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Only when the caller calls `commit()`: one write and one fsync per batch the caller
    /// forms (for example, every command taken from the inbound queue in one loop turn).
    EveryBatch,
    /// When this many records are waiting (and at `commit()`).
    EveryRecords(u32),
    /// When the oldest waiting record has waited this many milliseconds, by the clock the caller
    /// passes to `tick(now_ms)` (and at `commit()`).
    EveryMillis(u64),
}

/// How a journal writer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    /// When to fsync.
    pub sync_policy: SyncPolicy,
    /// Roll over to a new segment when the next record would take the segment past this size;
    /// a segment with no record yet takes its first record whatever its size.
    pub segment_bytes_target: u64,
    /// Write (without fsync) the buffered frames once they reach this many bytes.
    pub batch_bytes_max: usize,
}

impl Default for JournalConfig {
    /// Group commit per caller batch, 64 MiB segments, a 1 MiB write buffer.
    fn default() -> Self {
        Self { sync_policy: SyncPolicy::EveryBatch, segment_bytes_target: 64 << 20, batch_bytes_max: 1 << 20 }
    }
}

/// A configuration value outside its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `segment_bytes_target` out of range.
    #[error("segment_bytes_target {0} is outside {SEGMENT_BYTES_TARGET_MIN}..={SEGMENT_BYTES_TARGET_MAX}")]
    SegmentBytes(u64),
    /// `batch_bytes_max` out of range.
    #[error("batch_bytes_max {0} is outside {BATCH_BYTES_MIN}..={BATCH_BYTES_MAX}")]
    BatchBytes(usize),
    /// `EveryRecords(n)` out of range.
    #[error("EveryRecords({0}) is outside 1..={SYNC_EVERY_RECORDS_MAX}")]
    EveryRecords(u32),
    /// `EveryMillis(ms)` out of range.
    #[error("EveryMillis({0}) is outside 1..={SYNC_EVERY_MILLIS_MAX}")]
    EveryMillis(u64),
}

impl JournalConfig {
    /// Checks every value against its limit.
    ///
    /// # Errors
    /// The first value out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(SEGMENT_BYTES_TARGET_MIN..=SEGMENT_BYTES_TARGET_MAX).contains(&self.segment_bytes_target) {
            return Err(ConfigError::SegmentBytes(self.segment_bytes_target));
        }
        if !(BATCH_BYTES_MIN..=BATCH_BYTES_MAX).contains(&self.batch_bytes_max) {
            return Err(ConfigError::BatchBytes(self.batch_bytes_max));
        }
        match self.sync_policy {
            SyncPolicy::EveryRecords(n) if !(1..=SYNC_EVERY_RECORDS_MAX).contains(&n) => {
                Err(ConfigError::EveryRecords(n))
            }
            SyncPolicy::EveryMillis(ms) if !(1..=SYNC_EVERY_MILLIS_MAX).contains(&ms) => {
                Err(ConfigError::EveryMillis(ms))
            }
            _ => Ok(()),
        }
    }
}
