//! `perpx verify DIR`: checks a journal end to end (`perpx_node::verify`), with a progress line
//! on standard error for long journals and a JSON report on standard output.

use std::path::Path;
use std::time::{Duration, Instant};

use perpx_journal::record::hex;
use perpx_journal::{Corruption, FileStorage, ReadError};
use perpx_node::{Progress, VerifyError, VerifyReport, verify_journal};
use serde_json::{Value, json};

/// How often the progress line is printed at most.
const PROGRESS_PERIOD: Duration = Duration::from_secs(2);

/// Runs the verification; on a problem, prints the JSON report and returns the message.
pub fn run(dir: &Path, quiet: bool) -> Result<(), String> {
    let storage = open_existing(dir).map_err(|e| format!("verify {}: {e}", dir.display()))?;
    let started = Instant::now();
    let mut last = started;
    let progress = |p: &Progress| {
        let now = Instant::now();
        if quiet || now.duration_since(last) < PROGRESS_PERIOD {
            return;
        }
        last = now;
        let ms = u64::try_from(now.duration_since(started).as_millis()).unwrap_or(u64::MAX).max(1);
        eprintln!(
            "perpx verify: {} records, segment {}/{}, {} MiB, {} records/s",
            p.records,
            p.segments_done,
            p.segments_total,
            p.bytes >> 20,
            p.records.saturating_mul(1000) / ms
        );
    };
    match verify_journal(&storage, None, progress) {
        Ok(report) if report.chain.segments == 0 => {
            Err(format!("verify {}: not a journal: no segment file in it or in its archive", dir.display()))
        }
        Ok(report) => {
            println!("{}", report_json(&report));
            if !quiet {
                eprintln!("{}", summary(&report, started.elapsed()));
            }
            Ok(())
        }
        Err(e) => {
            println!("{}", json!({ "ok": false, "error": error_json(&e) }));
            Err(format!("verify {}: {e}", dir.display()))
        }
    }
}

fn summary(r: &VerifyReport, elapsed: Duration) -> String {
    let snapshot = r
        .snapshot
        .as_ref()
        .map_or_else(|| "no snapshot".to_owned(), |s| format!("the state hash matches the snapshot at {}", s.seq));
    let plural = if r.chain.segments == 1 { "" } else { "s" };
    format!(
        "perpx verify: OK: {} records in {} segment{plural} ({} archived), head {} {}, final state hash {}; {snapshot}; \
         {:.1?}",
        r.chain.records,
        r.chain.segments,
        r.chain.archived_segments,
        r.chain.head.seq,
        hex(&r.chain.head.hash),
        r.state_hash,
        elapsed
    )
}

fn report_json(r: &VerifyReport) -> Value {
    json!({
        "ok": true,
        "records": r.chain.records,
        "segments": r.chain.segments,
        "archived_segments": r.chain.archived_segments,
        "bytes": r.chain.bytes,
        "head": { "seq": r.chain.head.seq, "hash": hex(&r.chain.head.hash) },
        "state_hash": r.state_hash.to_hex(),
        "snapshot": r.snapshot.as_ref().map(|s| json!({ "seq": s.seq, "state_hash": s.state_hash.to_hex() })),
        "skipped_snapshots": r.skipped_snapshots.iter().map(|s| json!({ "path": s.path, "fault": s.fault.to_string() })).collect::<Vec<_>>(),
        "torn_tail": r.chain.torn_tail.as_ref().map(|t| json!({ "segment": t.segment, "offset": t.offset, "bytes_dropped": t.bytes_dropped })),
        "engine": {
            "max_markets": r.engine.max_markets,
            "client_order_retention_ms": r.engine.client_order_retention_ms,
            "max_stop_triggers_per_command": r.engine.max_stop_triggers_per_command,
            "max_liquidations_per_pass": r.engine.max_liquidations_per_pass,
        },
        "rejected": r.rejected,
        "events": r.events,
    })
}

/// The error as JSON: its kind, the record, segment and offset when known, and the message.
pub fn error_json(e: &VerifyError) -> Value {
    let message = e.to_string();
    match e {
        VerifyError::Replay { seq, segment, offset, mismatch } => {
            let kind = match **mismatch {
                perpx_node::ReplayMismatch::Decode(_) => "payload_decode",
                perpx_node::ReplayMismatch::Timestamp { .. } => "timestamp",
                perpx_node::ReplayMismatch::Sequence { .. } => "sequence",
                perpx_node::ReplayMismatch::Events { .. } => "events",
                perpx_node::ReplayMismatch::CommitEvents { .. } => "commit_events",
                perpx_node::ReplayMismatch::Unrepeatable { .. } => "events_unrepeatable",
            };
            json!({ "kind": kind, "seq": seq, "segment": segment, "offset": offset, "message": message })
        }
        VerifyError::SnapshotState { seq, segment, offset, .. } => {
            json!({ "kind": "snapshot_state", "seq": seq, "segment": segment, "offset": offset, "message": message })
        }
        VerifyError::Chain(ReadError::Corruption(c)) => corruption_json(c, &message),
        VerifyError::Chain(ReadError::Storage(_)) | VerifyError::Storage(_) => {
            json!({ "kind": "storage", "message": message })
        }
        VerifyError::SnapshotBeyondHead { seq, .. } => {
            json!({ "kind": "snapshot_beyond_head", "seq": seq, "message": message })
        }
        VerifyError::Snapshot { seq, .. } => json!({ "kind": "snapshot", "seq": seq, "message": message }),
    }
}

fn corruption_json(c: &Corruption, message: &str) -> Value {
    json!({ "kind": "corruption", "segment": c.segment(), "offset": c.offset(), "message": message })
}

/// The storage of an existing journal directory (`FileStorage::open` would create a missing one).
pub fn open_existing(dir: &Path) -> Result<FileStorage, String> {
    if !dir.is_dir() {
        return Err("no such directory".into());
    }
    FileStorage::open(dir).map_err(|e| e.to_string())
}
