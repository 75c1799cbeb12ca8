use super::*;

/// The documented byte stream of a commit hash, built the slow, obvious way.
fn documented_stream(first: u64, last: u64, records: &Hash, events: &Hash, prev: &Hash) -> Vec<u8> {
    let mut stream = Vec::new();
    stream.extend_from_slice(b"perpx-journal/commit/v2\0");
    stream.extend_from_slice(&first.to_le_bytes());
    stream.extend_from_slice(&last.to_le_bytes());
    stream.extend_from_slice(records);
    stream.extend_from_slice(events);
    stream.extend_from_slice(prev);
    stream
}

#[test]
fn the_commit_hash_is_blake3_of_the_documented_byte_stream() {
    let expected = *blake3::hash(&documented_stream(5, 9, &[1; 32], &[2; 32], &[3; 32])).as_bytes();
    assert_eq!(commit_hash(5, 9, &[1; 32], &[2; 32], &[3; 32]), expected);
}

#[test]
fn the_digests_are_blake3_derived_keys_of_their_own_contexts() {
    let bytes = b"some frames";
    assert_eq!(records_digest(bytes), blake3::derive_key(RECORDS_CONTEXT, bytes));
    assert_eq!(events_digest(bytes), blake3::derive_key(EVENTS_CONTEXT, bytes));
    assert_ne!(records_digest(bytes), events_digest(bytes), "the two contexts never collide");
}

#[test]
fn changing_any_field_changes_the_commit_hash() {
    let base = commit_hash(5, 9, &[1; 32], &[2; 32], &[3; 32]);
    let variants = [
        commit_hash(6, 9, &[1; 32], &[2; 32], &[3; 32]),
        commit_hash(5, 10, &[1; 32], &[2; 32], &[3; 32]),
        commit_hash(5, 9, &[4; 32], &[2; 32], &[3; 32]),
        commit_hash(5, 9, &[1; 32], &[4; 32], &[3; 32]),
        commit_hash(5, 9, &[1; 32], &[2; 32], &[4; 32]),
    ];
    for variant in variants {
        assert_ne!(variant, base);
    }
}

#[test]
fn an_events_stream_is_each_records_length_and_encoding() {
    let mut stream = Vec::new();
    let first = push_events(&mut stream, b"abc");
    let second = push_events_with(&mut stream, |_| {});
    assert_eq!(stream, [&3u32.to_le_bytes()[..], b"abc", &0u32.to_le_bytes()].concat());
    assert_eq!((first, second), (crc32c::crc32c(b"abc"), crc32c::crc32c(b"")));
}

#[test]
fn a_commit_with_an_edited_field_no_longer_matches_its_hash() {
    let records = [7; 32];
    let mut commit =
        Commit { first_seq: 1, last_seq: 3, events_digest: [1; 32], prev_hash: GENESIS_HASH, hash: [0; 32] };
    commit.hash = commit.compute_hash(&records);
    assert_eq!(commit.head(), ChainHead { seq: 3, hash: commit.hash });
    let mut edited = commit;
    edited.events_digest[0] ^= 1;
    assert_ne!(edited.compute_hash(&records), edited.hash);
    assert_ne!(commit.compute_hash(&[8; 32]), commit.hash, "other records");
}

#[test]
fn hex_is_lower_case_and_64_characters() {
    let mut hash = [0u8; 32];
    hash[0] = 0xAB;
    hash[31] = 0x01;
    let text = hex(&hash);
    assert_eq!(text.len(), 64);
    assert!(text.starts_with("ab00"));
    assert!(text.ends_with("01"));
}
