use super::*;

/// The documented byte stream of a record, built the slow, obvious way.
fn documented_stream(seq: u64, ts_ms: i64, payload: &[u8], events_digest: &Hash, prev_hash: &Hash) -> Vec<u8> {
    let mut stream = Vec::new();
    stream.extend_from_slice(b"perpx-journal/record/v1\0");
    stream.extend_from_slice(&seq.to_le_bytes());
    stream.extend_from_slice(&ts_ms.to_le_bytes());
    stream.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    stream.extend_from_slice(payload);
    stream.extend_from_slice(events_digest);
    stream.extend_from_slice(prev_hash);
    stream
}

#[test]
fn the_hash_is_blake3_of_the_documented_byte_stream() {
    let payload = b"cancel order 7".to_vec();
    let record = Record::new(5, -3, payload.clone(), [1; 32], [2; 32]);
    assert_eq!(record.hash, *blake3::hash(&documented_stream(5, -3, &payload, &[1; 32], &[2; 32])).as_bytes());
    assert!(record.hash_is_valid());
}

/// Short payloads are hashed from one stack buffer, long ones incrementally: both give the
/// hash of the documented stream, on either side of the switch and far beyond it.
#[test]
fn the_hash_is_the_same_for_payloads_on_either_side_of_the_buffer() {
    for len in [0, 1, 63, 64, 800, 911, 912, 913, 1024, 5000, crate::limits::PAYLOAD_BYTES_MAX] {
        let payload: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).expect("below 251")).collect();
        let expected = *blake3::hash(&documented_stream(9, 7, &payload, &[3; 32], &[4; 32])).as_bytes();
        assert_eq!(record_hash(9, 7, &payload, &[3; 32], &[4; 32]), expected, "payload of {len} bytes");
    }
}

#[test]
fn changing_any_field_changes_the_hash() {
    let base = Record::new(5, 100, b"abc".to_vec(), [1; 32], [2; 32]);
    let variants = [
        Record::new(6, 100, b"abc".to_vec(), [1; 32], [2; 32]),
        Record::new(5, 101, b"abc".to_vec(), [1; 32], [2; 32]),
        Record::new(5, 100, b"abd".to_vec(), [1; 32], [2; 32]),
        Record::new(5, 100, b"abc\0".to_vec(), [1; 32], [2; 32]),
        Record::new(5, 100, b"abc".to_vec(), [3; 32], [2; 32]),
        Record::new(5, 100, b"abc".to_vec(), [1; 32], [4; 32]),
    ];
    for variant in variants {
        assert_ne!(variant.hash, base.hash, "{variant:?}");
    }
}

#[test]
fn a_record_with_an_edited_field_no_longer_matches_its_hash() {
    let mut record = Record::new(1, 0, b"x".to_vec(), [0; 32], GENESIS_HASH);
    record.payload[0] = b'y';
    assert!(!record.hash_is_valid());
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
