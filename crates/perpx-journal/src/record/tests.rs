use super::*;

#[test]
fn the_hash_is_blake3_of_the_documented_byte_stream() {
    let payload = b"cancel order 7".to_vec();
    let record = Record::new(5, -3, payload.clone(), [1; 32], [2; 32]);
    let mut stream = Vec::new();
    stream.extend_from_slice(b"perpx-journal/record/v1\0");
    stream.extend_from_slice(&5u64.to_le_bytes());
    stream.extend_from_slice(&(-3i64).to_le_bytes());
    stream.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    stream.extend_from_slice(&payload);
    stream.extend_from_slice(&[1; 32]);
    stream.extend_from_slice(&[2; 32]);
    assert_eq!(record.hash, *blake3::hash(&stream).as_bytes());
    assert!(record.hash_is_valid());
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
