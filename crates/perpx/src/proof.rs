//! `perpx proof DIR --seq N`: a record, its decoded command, its events, the commit that holds
//! it, and every commit linking it to the chain head, as JSON — verified (`perpx_node::prove`).

use std::path::Path;

use perpx_journal::record::hex;
use perpx_journal::{CommitLink, Record};
use perpx_node::{ProofReport, prove};
use perpx_wire::command_json::command_line;
use perpx_wire::event::event_text;
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
        "events_check": format!("{:08x}", r.events_check),
    })
}

fn link_json(l: &CommitLink) -> Value {
    json!({
        "first_seq": l.first_seq,
        "last_seq": l.last_seq,
        "records_digest": hex(&l.records_digest),
        "events_digest": hex(&l.events_digest),
        "hash": hex(&l.hash),
    })
}

fn proof_json(p: &ProofReport) -> Value {
    let market = command_market(&p.command);
    let events: Vec<Value> = p
        .events
        .iter()
        .flat_map(perpx_core::Event::notices)
        .map(|e| serde_json::from_str(&event_text(&e, &p.engine, market)).unwrap_or(Value::Null))
        .collect();
    let commit = &p.proof.commit;
    json!({
        "seq": p.proof.seq,
        "segment": p.segment,
        "offset": p.offset,
        "record": p.proof.record().map(record_json),
        "commit": {
            "first_seq": commit.first_seq,
            "last_seq": commit.last_seq,
            "events_digest": hex(&commit.events_digest),
            "prev_hash": hex(&commit.prev_hash),
            "hash": hex(&commit.hash),
            "records": p.proof.records.iter().map(record_json).collect::<Vec<_>>(),
        },
        // The replay line (`docs/REPLAY.md`), or the engine's form if the schema can't say it.
        "command": command_line(&p.command, &p.engine).unwrap_or_else(|| Value::String(format!("{:?}", p.command))),
        "events": events,
        "replayed_from_snapshot": p.replayed_from,
        "links": p.proof.links.iter().map(link_json).collect::<Vec<_>>(),
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
