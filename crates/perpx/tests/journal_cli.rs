//! `perpx verify` and `perpx proof` on journals written by a node on real files: the binary's
//! exit status, its JSON, and how it names a problem.

use std::path::{Path, PathBuf};
use std::process::Output;

use perpx_core::{Command, Engine, EngineConfig};
use perpx_journal::{FileStorage, Journal, JournalConfig, SyncPolicy};
use perpx_node::codec::{encode_command, encode_events};
use perpx_node::{Node, NodeConfig};
use perpx_testkit::mixed_stream;
use serde_json::Value;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("perpx-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn perpx(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_perpx")).args(args).output().expect("the perpx binary runs")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn stream(seed: u64, n: usize) -> (EngineConfig, Vec<Command>) {
    let mut s = mixed_stream::generate(seed, n);
    s.commands.truncate(n);
    (s.engine, s.commands)
}

/// A journal written by a node: 4 KiB segments, a snapshot every 100 commands, archiving.
fn node_journal(dir: &Path, engine: &EngineConfig, commands: &[Command]) -> String {
    let config = NodeConfig {
        journal: JournalConfig {
            sync_policy: SyncPolicy::EveryBatch,
            segment_bytes_target: 4096,
            batch_bytes_max: 4096,
        },
        engine: engine.clone(),
        snapshot_every: Some(100),
        archive_after_snapshot: true,
        ..NodeConfig::default()
    };
    let (mut node, _) = Node::open_dir(dir, config).unwrap();
    for batch in commands.chunks(10) {
        node.submit_batch(batch).unwrap();
    }
    node.engine().state_hash().to_hex()
}

#[test]
fn verify_checks_a_good_journal_and_reports_in_json() {
    let dir = TempDir::new("verify-good");
    let (engine, commands) = stream(31, 300);
    let state_hash = node_journal(&dir.0, &engine, &commands);
    let out = perpx(&["verify", dir.0.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(report["records"], 300);
    assert_eq!(report["head"]["seq"], 300);
    assert_eq!(report["state_hash"], state_hash.as_str());
    assert_eq!(report["snapshot"]["seq"], 210, "snapshots at 10 (the first), 110 and 210");
    assert!(report["archived_segments"].as_u64().unwrap() > 0);
    assert_eq!(report["engine"]["client_order_retention_ms"], engine.client_order_retention_ms);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("perpx verify: OK: 300 records"), "{stderr}");
}

#[test]
fn verify_names_the_segment_and_offset_of_a_damaged_record() {
    let dir = TempDir::new("verify-damaged");
    let (engine, commands) = stream(32, 200);
    node_journal(&dir.0, &engine, &commands);
    let mut segments: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 2, "{segments:?}");
    let victim = dir.0.join(&segments[0]);
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[64 + 40] ^= 0x10;
    std::fs::write(&victim, bytes).unwrap();

    let out = perpx(&["verify", "--quiet", dir.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["error"]["kind"], "corruption");
    assert_eq!(report["error"]["segment"], segments[0].as_str());
    assert_eq!(report["error"]["offset"], 64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&segments[0]) && stderr.contains("64"), "{stderr}");
}

#[test]
fn verify_names_the_first_record_whose_events_differ() {
    let dir = TempDir::new("verify-digest");
    let (_, commands) = stream(33, 120);
    // Default engine settings, so verify (which has no snapshot here) replays with the same.
    let storage = FileStorage::open(&dir.0).unwrap();
    let config = JournalConfig { segment_bytes_target: 4096, ..JournalConfig::default() };
    let mut journal = Journal::open(storage, config).unwrap();
    let mut engine = Engine::default();
    for (i, c) in commands.iter().enumerate() {
        let events = if i + 1 == 77 { Vec::new() } else { encode_events(&engine.apply(c)) };
        let _ticket = journal.writer.append(c.ts.0, &encode_command(c), &events).unwrap();
    }
    journal.writer.commit().unwrap();
    drop(journal);

    let out = perpx(&["verify", "--quiet", dir.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let error = &stdout_json(&out)["error"];
    assert_eq!(error["kind"], "events");
    assert_eq!(error["seq"], 77);
    assert!(error["segment"].as_str().unwrap().ends_with(".seg"));
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("record 77 (segment "), "{message}");
    assert!(message.contains("events check 00000000 recorded"), "{message}");
}

#[test]
fn proof_shows_the_record_its_command_events_and_links_and_verifies() {
    let dir = TempDir::new("proof");
    let (engine, commands) = stream(34, 150);
    node_journal(&dir.0, &engine, &commands);
    let d = dir.0.to_str().unwrap();

    let out = perpx(&["proof", d, "--seq", "120"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proof = stdout_json(&out);
    assert_eq!(proof["verified"], true);
    assert_eq!(proof["record"]["seq"], 120);
    let commit = &proof["commit"];
    let (first, last) = (commit["first_seq"].as_u64().unwrap(), commit["last_seq"].as_u64().unwrap());
    assert!(first <= 120 && 120 <= last, "{commit}");
    assert_eq!(commit["records"].as_array().unwrap().len() as u64, last - first + 1);
    let links = proof["links"].as_array().unwrap();
    assert_eq!(links[0]["first_seq"].as_u64(), Some(last + 1), "the links follow the commit");
    assert!(links.windows(2).all(|w| w[1]["first_seq"].as_u64() == w[0]["last_seq"].as_u64().map(|s| s + 1)));
    assert_eq!(proof["head"]["seq"], 150);
    assert_eq!(links.last().unwrap()["hash"], proof["head"]["hash"]);
    assert!(links.iter().all(|l| l.get("payload").is_none()), "links carry digests, not commands");
    assert_eq!(proof["replayed_from_snapshot"], 110);
    let c = &commands[119];
    assert_eq!(proof["record"]["payload"].as_str().unwrap().len(), encode_command(c).len() * 2);
    assert_eq!(proof["command"]["ts"], c.ts.0, "the command as a replay line");
    assert!(proof["command"]["type"].is_string());
    for e in proof["events"].as_array().unwrap() {
        assert_eq!(e["seq"], 120);
        assert!(e["type"].is_string());
    }

    let out = perpx(&["proof", d, "--seq", "10", "--to", "20"]);
    assert!(out.status.success());
    let proof = stdout_json(&out);
    let last_link = proof["links"].as_array().unwrap().last().cloned().unwrap_or_default();
    assert_eq!(proof["head"]["seq"].as_u64(), Some(20));
    assert!(last_link.is_null() || last_link["last_seq"] == 20, "{last_link}");
    assert_eq!(proof["replayed_from_snapshot"], Value::Null, "before the snapshot: replayed from genesis");

    let out = perpx(&["proof", d, "--seq", "151"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("record 151 is not in the journal, whose last record is 150"), "{stderr}");
}

#[test]
fn verify_refuses_what_is_not_a_journal() {
    let dir = TempDir::new("verify-empty");
    let missing = dir.0.join("missing");
    let out = perpx(&["verify", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such directory"));
    assert!(!missing.exists(), "verify creates nothing");
    let out = perpx(&["verify", dir.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a journal"));
}
