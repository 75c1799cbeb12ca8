//! Engine snapshots through the codec (`docs/JOURNAL.md`, "Engine snapshots"): encode, decode,
//! restore, and the restored engine is the original — same state hash, same events and hashes
//! for every command after. Damaged snapshot bytes are errors, never panics.

use perpx_core::{Command, Engine, EngineConfig};
use perpx_node::codec::{DecodeError, SNAPSHOT_CODEC_VERSION, decode_snapshot, encode_snapshot};
use perpx_testkit::mixed_stream;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Runs `head`, snapshots through bytes, restores, runs `tail` on both; compares everything.
fn snapshot_restore_continue(context: &str, config: &EngineConfig, head: &[Command], tail: &[Command]) {
    let mut original = Engine::new(config.clone());
    for c in head {
        original.apply(c);
    }
    let snapshot = original.snapshot();
    let bytes = encode_snapshot(&snapshot);
    assert_eq!(bytes[0], SNAPSHOT_CODEC_VERSION);
    let decoded = decode_snapshot(&bytes).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!(decoded, snapshot, "{context}: decode(encode(s)) == s");
    let mut restored = Engine::restore(decoded).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!(restored.state_hash(), original.state_hash(), "{context}");
    assert_eq!(encode_snapshot(&restored.snapshot()), bytes, "{context}: the restored engine encodes the same");
    for (i, c) in tail.iter().enumerate() {
        let (a, b) = (original.apply(c), restored.apply(c));
        assert_eq!(a, b, "{context}: command #{} after the snapshot", i + 1);
        assert_eq!(original.state_hash(), restored.state_hash(), "{context}: command #{} after the snapshot", i + 1);
    }
}

#[test]
fn the_empty_engine_is_pinned() {
    let bytes = encode_snapshot(&Engine::default().snapshot());
    assert_eq!(bytes.len(), 1 + 20 + 32 + 4 * 4 + 56 + 4 + 4);
    assert_eq!(
        blake3::hash(&bytes).to_hex().as_str(),
        "9608217153e11bc4bf55bc58eadc3e3cc8b4ea49c5a24abc7a4a45198425622c"
    );
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert!(matches!(decode_snapshot(&v2), Err(DecodeError::UnsupportedVersion { found: 2, .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(12) })]

    /// A random mixed stream, a snapshot at a random point, restored from its bytes: both
    /// engines go on identically.
    #[test]
    fn a_snapshot_restored_from_bytes_continues_identically(seed in 0u64..10_000, per_mille in 0usize..=1_000) {
        let s = mixed_stream::generate(seed, 500);
        let at = s.commands.len() * per_mille / 1_000;
        let (head, tail) = s.commands.split_at(at);
        snapshot_restore_continue(&format!("seed {seed}, cut at {at}"), &s.engine, head, tail);
    }
}

#[test]
fn damaged_snapshot_bytes_are_errors_never_panics() {
    let s = mixed_stream::generate(3, 400);
    let mut engine = Engine::new(s.engine.clone());
    for c in &s.commands {
        engine.apply(c);
    }
    let bytes = encode_snapshot(&engine.snapshot());
    assert!(bytes.len() > 2_000, "{} bytes", bytes.len());
    for len in (0..bytes.len()).step_by(13) {
        assert!(decode_snapshot(&bytes[..len]).is_err(), "cut at {len}");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut decoded, mut restored) = (0, 0);
    for _ in 0..3_000 {
        let mut damaged = bytes.clone();
        for _ in 0..rng.random_range(1..3) {
            let i = rng.random_range(0..damaged.len());
            damaged[i] ^= rng.random_range(1..=255u8);
        }
        if let Ok(snapshot) = decode_snapshot(&damaged) {
            decoded += 1;
            assert_eq!(encode_snapshot(&snapshot), damaged, "what decodes is canonical");
            if Engine::restore(snapshot).is_ok() {
                restored += 1;
            }
        }
    }
    // Most damage hits a number, which decodes; restore then refuses what breaks the engine's
    // invariants (the state hash check of a snapshot file catches the rest).
    assert!(decoded > 1_000, "{decoded} decoded");
    assert!(restored < decoded, "{restored} of {decoded} restored");
}
