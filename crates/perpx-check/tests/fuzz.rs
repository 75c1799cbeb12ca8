//! Fuzzing on stable Rust: proptest-driven mutation of valid inputs (bit flips, byte
//! overwrites, insertions, deletions, duplicated ranges, truncations, hostile numbers and length
//! prefixes) for every decoder that reads bytes from outside: journal segments (record
//! framing and decoding, through recovery and verification), engine snapshots, command payloads,
//! `perpx replay` scripts (which carry the JSON command forms the API decodes), scenario TOML
//! files and the request signature check. None may panic, hang, or accept damaged data as
//! something else. CI runs a fixed number of cases per target (256; the seed is CI's
//! `PROPTEST_RNG_SEED`); `PERPX_FUZZ_CASES=100000 cargo test -p perpx-check --release --test fuzz`
//! is a longer run (a local run without `PROPTEST_RNG_SEED` explores fresh inputs).
//!
//! `a_hostile_length_prefix_allocates_nothing_near_it` measures the process's peak virtual
//! memory (Linux): a length prefix of 4 GiB in a journal frame, a command payload or a snapshot
//! must be refused before anything of that size is allocated.

use std::io::Cursor;
use std::path::Path;

use perpx_core::Engine;
use perpx_journal::{Journal, JournalConfig, MemStorage, Storage, SyncPolicy, verify_chain};
use perpx_node::codec::{decode_command, decode_snapshot, encode_command, encode_snapshot};
use perpx_node::{Node, NodeConfig};
use perpx_testkit::mixed_stream;
use perpx_wire::replay::{ReplayError, ReplayOptions, replay};
use proptest::prelude::*;

/// One mutation of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(prop::sample::Index, u8),
    Overwrite(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Duplicate(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
    /// Writes a hostile little-endian integer (0, 1, max, max − 1 of u32 / u64) at a position.
    Hostile(prop::sample::Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        1 => (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        2 => (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, k)| Mutation::Hostile(i, k)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        bytes.push(0);
    }
    let len = bytes.len();
    match m {
        Mutation::FlipBit(i, b) => bytes[i.index(len)] ^= 1 << b,
        Mutation::Overwrite(i, v) => bytes[i.index(len)] = *v,
        Mutation::Insert(i, v) => {
            let at = i.index(len + 1);
            bytes.splice(at..at, v.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i.index(len);
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Duplicate(i, n) => {
            let at = i.index(len);
            let part: Vec<u8> = bytes[at..(at + n).min(len)].to_vec();
            bytes.splice(at..at, part);
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        Mutation::Hostile(i, k) => {
            let v: Vec<u8> = match k {
                0 => 0u32.to_le_bytes().to_vec(),
                1 => 1u32.to_le_bytes().to_vec(),
                2 => u32::MAX.to_le_bytes().to_vec(),
                3 => (u32::MAX - 1).to_le_bytes().to_vec(),
                4 => 0x0100_0000u32.to_le_bytes().to_vec(),
                5 => u64::MAX.to_le_bytes().to_vec(),
                6 => (u64::MAX - 1).to_le_bytes().to_vec(),
                _ => (1u64 << 40).to_le_bytes().to_vec(),
            };
            let at = i.index(len);
            for (k, b) in v.into_iter().enumerate() {
                if let Some(x) = bytes.get_mut(at + k) {
                    *x = b;
                }
            }
        }
    }
}

/// `n` cases per target in CI; `PERPX_FUZZ_CASES` asks for more (or fewer) on demand.
fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PERPX_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(n);
    ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(n) }
}

/// A journal written by a node from a mixed stream: small segments, one snapshot.
fn journal() -> (MemStorage, Vec<perpx_journal::Record>) {
    let s = mixed_stream::generate(7, 120);
    let storage = MemStorage::new();
    let config = NodeConfig {
        journal: JournalConfig {
            sync_policy: SyncPolicy::EveryBatch,
            segment_bytes_target: 2048,
            batch_bytes_max: 4096,
        },
        engine: s.engine.clone(),
        gate_capacity: 64,
        snapshot_every: Some(60),
        archive_after_snapshot: false,
        check_invariants: false,
    };
    let (mut node, _) = Node::open(storage.clone(), config).expect("open");
    for chunk in s.commands.chunks(8) {
        node.submit_batch(chunk).expect("submit");
    }
    drop(node);
    let records = Journal::open(storage.fork(), JournalConfig::default()).expect("reopen").records;
    (storage, records)
}

proptest! {
    #![proptest_config(cases(256))]

    /// Damaged segment files: recovery and verification return errors or recover a **prefix**
    /// of what was written — never a record that was not written — and never panic.
    #[test]
    fn damaged_segments_are_refused_or_cut_never_misread(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let (storage, written) = journal();
        let mut segments: Vec<String> = storage.paths().into_iter().filter(|p| p.ends_with(".seg")).collect();
        segments.sort();
        let path = segments[pick.index(segments.len())].clone();
        let mut bytes = storage.read(&path).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        storage.put(&path, &bytes);
        let _ = verify_chain(&storage.fork(), |_| {});
        if let Ok(recovery) = Journal::open(storage.fork(), JournalConfig::default()) {
            // Records after the snapshot: each must be the one written at its sequence number.
            for r in &recovery.records {
                let original = &written.iter().find(|w| w.seq == r.seq);
                prop_assert_eq!(Some(r), original.as_ref().copied(), "record {} misread", r.seq);
            }
        }
    }

    /// Damaged command payloads decode to an error or to a command that re-encodes to the same
    /// bytes (nothing is read loosely).
    #[test]
    fn damaged_command_payloads_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let s = mixed_stream::generate(3, 150);
        let mut bytes = encode_command(&s.commands[pick.index(s.commands.len())]);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(c) = decode_command(&bytes) {
            prop_assert_eq!(encode_command(&c), bytes);
        }
    }

    /// Damaged engine snapshots decode to an error or to data the engine then checks.
    #[test]
    fn damaged_snapshots_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let s = mixed_stream::generate(5, 200);
        let mut engine = Engine::new(s.engine.clone());
        for c in &s.commands {
            engine.apply(c);
        }
        let mut bytes = encode_snapshot(&engine.snapshot());
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(snap) = decode_snapshot(&bytes) {
            let _ = Engine::restore(snap);
        }
    }

    /// Damaged `perpx replay` scripts (the JSON command forms of the API): refused lines or
    /// rejected commands, never a panic, and never a broken engine invariant.
    #[test]
    fn damaged_replay_scripts_never_panic_nor_break_an_invariant(
        pick in 0usize..4,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let name = ["quickstart", "funding", "liquidation", "seed-toy-trade"][pick];
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(format!("{name}.jsonl"));
        let mut bytes = std::fs::read(path).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let options = ReplayOptions { check_invariants: true, config: perpx_core::EngineConfig::default() };
        if let Err(ReplayError::Invariant { line, detail, .. }) = replay(Cursor::new(bytes), &mut std::io::sink(), &options) {
            prop_assert!(false, "line {line}: invariant broken: {detail}");
        }
    }

    /// Damaged scenario files: a typed error or a scenario, never a panic.
    #[test]
    fn damaged_scenarios_never_panic(pick in 0usize..4, mutations in prop::collection::vec(mutation(), 1..6)) {
        let name = ["calm", "gap-20pct", "cascade-2025-10-10", "basis-squeeze"][pick];
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut bytes = std::fs::read(dir.join(format!("{name}.toml"))).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = perpx_sim::scenario::Scenario::parse(&text, name, &dir);
    }

    /// The signature check: a valid signature verifies; any damage to the signed bytes, the
    /// signature or the secret fails; arbitrary strings never panic.
    #[test]
    fn signatures_verify_exactly(
        secret in prop::collection::vec(any::<u8>(), 16..64),
        body in prop::collection::vec(any::<u8>(), 0..256),
        flip in any::<prop::sample::Index>(),
        junk_sig in ".{0,80}",
        junk_secret in ".{0,80}",
    ) {
        use perpx_server::auth::{sign, signed_bytes, verify};
        let secret = hex::encode(secret);
        let bytes = signed_bytes("1700000000000", "POST", "/api/v1/order", &body);
        let sig = sign(&secret, &bytes);
        prop_assert!(verify(&secret, &bytes, &sig));
        let mut damaged = bytes.clone();
        let i = flip.index(damaged.len());
        damaged[i] ^= 1;
        prop_assert!(!verify(&secret, &damaged, &sig));
        let mut sig2 = sig.clone().into_bytes();
        let j = flip.index(sig2.len());
        sig2[j] = if sig2[j] == b'0' { b'1' } else { b'0' };
        prop_assert!(!verify(&secret, &bytes, std::str::from_utf8(&sig2).unwrap()));
        prop_assert!(!verify(&secret, &bytes, &junk_sig) || junk_sig == sig);
        let _ = verify(&junk_secret, &bytes, &junk_sig);
    }
}

#[test]
fn deeply_nested_json_is_refused_not_a_stack_overflow() {
    let engine = Engine::new(perpx_core::EngineConfig::default());
    for depth in [200, 10_000, 1_000_000] {
        let line = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(perpx_wire::command::decode_line(&line, &engine).is_err());
        let line = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        assert!(perpx_wire::command::decode_line(&line, &engine).is_err());
    }
}

/// Peak virtual memory of this process, in KiB (Linux).
fn vm_peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPeak:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A 4 GiB length prefix must be refused before anything near that size is allocated. This test
/// lives alone in its own check of the process's peak virtual memory: a `Vec::with_capacity` of
/// the prefix, even never touched, would raise it by gigabytes.
#[test]
fn a_hostile_length_prefix_allocates_nothing_near_it() {
    let Some(before) = vm_peak_kib() else { return };
    // A command payload whose client id claims u32::MAX bytes.
    let s = mixed_stream::generate(3, 60);
    for c in &s.commands {
        let bytes = encode_command(c);
        for at in 0..bytes.len().saturating_sub(4) {
            let mut b = bytes.clone();
            b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            let _ = decode_command(&b);
        }
    }
    // A snapshot whose lists claim u32::MAX elements.
    let mut engine = Engine::new(s.engine.clone());
    for c in &s.commands {
        engine.apply(c);
    }
    let snap = encode_snapshot(&engine.snapshot());
    for at in (0..snap.len().saturating_sub(4)).step_by(3) {
        let mut b = snap.clone();
        b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let _ = decode_snapshot(&b);
    }
    // A journal frame whose length claims u32::MAX bytes, with its own header checksum right.
    let (storage, _) = journal();
    let mut segments: Vec<String> = storage.paths().into_iter().filter(|p| p.ends_with(".seg")).collect();
    segments.sort();
    let path = segments.last().unwrap().clone();
    let mut bytes = storage.read(&path).unwrap();
    let at = 64; // the first frame
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[at..at + 8]);
    bytes[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
    storage.put(&path, &bytes);
    let _ = Journal::open(storage.fork(), JournalConfig::default());
    let _ = verify_chain(&storage.fork(), |_| {});
    let after = vm_peak_kib().unwrap();
    assert!(after - before < 512 * 1024, "peak virtual memory grew by {} MiB", (after - before) / 1024);
}
