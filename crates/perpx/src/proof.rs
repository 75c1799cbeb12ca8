//! `perpx proof DIR --seq N`: a record, its decoded command, its events, and every record
//! linking it to the chain head, as JSON — verified (`perpx_node::prove`).

use std::path::Path;

use perpx_journal::Record;
use perpx_journal::record::hex;
use perpx_node::{ProofReport, prove};
use perpx_wire::command_json::command_line;
use perpx_wire::event::encode_event;
use perpx_wire::replay::command_market;
use serde_json::{Value, json};

/// Builds, verifies and prints the proof.
pub fn run(dir: &Path, seq: u64, to: Option<u64>) -> Result<(), String> {
    let storage = crate::verify::open_existing(dir).map_err(|e| format!("proof {}: {e}", dir.display()))?;
    let report = prove(&storage, seq, to).map_err(|e| format!("proof of record {seq} in {}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(&proof_json(&report)).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn record_json(r: &Record) -> Value {
    json!({
        "seq": r.seq,
        "ts_ms": r.ts_ms,
        "payload": hex_bytes(&r.payload),
        "events_digest": hex(&r.events_digest),
        "prev_hash": hex(&r.prev_hash),
        "hash": hex(&r.hash),
    })
}

fn proof_json(p: &ProofReport) -> Value {
    let market = command_market(&p.command);
    let events: Vec<Value> = p
        .events
        .iter()
        .map(|e| serde_json::to_value(encode_event(e, &p.engine, market)).unwrap_or(Value::Null))
        .collect();
    json!({
        "seq": p.proof.record.seq,
        "segment": p.segment,
        "offset": p.offset,
        "record": record_json(&p.proof.record),
        // The replay line (`docs/REPLAY.md`), or the engine's form if the schema can't say it.
        "command": command_line(&p.command, &p.engine).unwrap_or_else(|| Value::String(format!("{:?}", p.command))),
        "events": events,
        "events_digest_replayed": hex(&p.events_digest),
        "replayed_from_snapshot": p.replayed_from,
        "links": p.proof.links.iter().map(record_json).collect::<Vec<_>>(),
        "head": { "seq": p.proof.head.seq, "hash": hex(&p.proof.head.hash) },
        "journal_head": { "seq": p.journal_head.seq, "hash": hex(&p.journal_head.hash) },
        "verified": true,
    })
}

fn hex_bytes(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
