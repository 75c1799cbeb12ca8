use super::*;
use crate::record::{GENESIS_HASH, Record, hex};

fn sample() -> Record {
    Record {
        seq: 1,
        ts_ms: 1_700_000_000_000,
        payload: b"place BTC-PERP buy 0.1 @ 86000".to_vec(),
        events_check: 0xABCD_0123,
    }
}

fn frame_of(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    encode_record(&mut out, &record.as_ref());
    out
}

fn sample_commit() -> Commit {
    let mut commit =
        Commit { first_seq: 1, last_seq: 1, events_digest: [0xAB; 32], prev_hash: GENESIS_HASH, hash: [0; 32] };
    commit.hash = commit.compute_hash(&crate::record::records_digest(&frame_of(&sample())));
    commit
}

#[test]
fn a_record_frame_reads_back_as_the_same_record() {
    let record = sample();
    let bytes = frame_of(&record);
    assert_eq!(bytes.len(), record_frame_bytes(record.payload.len()));
    match read_frame(&bytes) {
        FrameRead::Valid { body: Body::Record(r), len } => {
            assert_eq!(len, bytes.len());
            assert_eq!(r.to_record(), record);
        }
        other => panic!("expected a valid record, got {other:?}"),
    }
}

#[test]
fn a_commit_frame_reads_back_as_the_same_commit() {
    let commit = sample_commit();
    let mut bytes = Vec::new();
    encode_commit(&mut bytes, &commit);
    assert_eq!(bytes.len(), COMMIT_FRAME_BYTES);
    assert_eq!(read_frame(&bytes), FrameRead::Valid { body: Body::Commit(commit), len: COMMIT_FRAME_BYTES });
}

#[test]
fn a_seal_frame_reads_back_as_the_same_head() {
    let head = ChainHead { seq: 42, hash: [9; 32] };
    let mut bytes = Vec::new();
    encode_seal(&mut bytes, head);
    assert_eq!(bytes.len(), SEAL_FRAME_BYTES);
    assert_eq!(read_frame(&bytes), FrameRead::Valid { body: Body::Seal(head), len: SEAL_FRAME_BYTES });
}

#[test]
fn the_format_is_pinned_byte_for_byte() {
    // If this changes, the on-disk format changed: bump FORMAT_VERSION and update docs/JOURNAL.md.
    let record = sample();
    let bytes = frame_of(&record);
    assert_eq!(&bytes[..4], &(55u32).to_le_bytes(), "body length = 25 + 30-byte payload");
    assert_eq!(bytes[12], KIND_RECORD);
    assert_eq!(&bytes[13..21], &1u64.to_le_bytes());
    assert_eq!(&bytes[21..29], &1_700_000_000_000i64.to_le_bytes());
    assert_eq!(&bytes[29..33], &30u32.to_le_bytes());
    assert_eq!(&bytes[33..63], record.payload.as_slice());
    assert_eq!(&bytes[63..67], &0xABCD_0123u32.to_le_bytes());
    let commit = sample_commit();
    let mut frame = Vec::new();
    encode_commit(&mut frame, &commit);
    assert_eq!(&frame[..4], &(113u32).to_le_bytes());
    assert_eq!(frame[12], KIND_COMMIT);
    assert_eq!(&frame[13..21], &1u64.to_le_bytes());
    assert_eq!(&frame[21..29], &1u64.to_le_bytes());
    assert_eq!(&frame[29..61], &[0xAB; 32]);
    assert_eq!(&frame[61..93], &GENESIS_HASH);
    assert_eq!(&frame[93..125], &commit.hash);
    assert_eq!(hex(&commit.hash), PINNED_HASH);
}

const PINNED_HASH: &str = "6db9d13b5ff719f8e6b7f17a1731474c6e6a625e2d4eb38152ef42115c35b22a";

#[test]
fn a_flipped_bit_anywhere_in_the_body_fails_the_body_checksum() {
    let bytes = frame_of(&sample());
    for bit in (FRAME_HEADER_BYTES * 8..bytes.len() * 8).step_by(7) {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            read_frame(&damaged),
            FrameRead::Invalid { fault: FrameFault::BodyChecksum, extent: bytes.len() },
            "bit {bit}"
        );
    }
}

#[test]
fn a_flipped_bit_in_the_length_prefix_is_caught_by_the_header_checksum() {
    let bytes = frame_of(&sample());
    for bit in 0..FRAME_HEADER_BYTES * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            read_frame(&damaged),
            FrameRead::Invalid { fault: FrameFault::HeaderChecksum, extent: FRAME_HEADER_BYTES },
            "bit {bit}"
        );
    }
}

#[test]
fn every_prefix_of_a_frame_is_incomplete() {
    let bytes = frame_of(&sample());
    for len in 0..bytes.len() {
        assert_eq!(read_frame(&bytes[..len]), FrameRead::Incomplete, "prefix of {len} bytes");
    }
}

#[test]
fn zero_bytes_are_never_a_valid_frame() {
    // A file extended with zeros (size on disk, data not) must not parse as a record.
    let zeros = [0u8; 256];
    assert_eq!(read_frame(&zeros), FrameRead::Invalid { fault: FrameFault::HeaderChecksum, extent: 12 });
}

#[test]
fn a_length_out_of_range_with_a_valid_header_checksum_is_refused() {
    let too_long = u32::try_from(BODY_BYTES_MAX).unwrap() + 1;
    let mut header = Vec::new();
    header.extend_from_slice(&(too_long).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32c::crc32c(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    header.resize(64, 0xFF);
    assert_eq!(read_frame(&header), FrameRead::Invalid { fault: FrameFault::BadLength(too_long), extent: 12 });
}
