use super::*;
use crate::record::{GENESIS_HASH, Record, hex};

fn sample() -> Record {
    Record::new(1, 1_700_000_000_000, b"place BTC-PERP buy 0.1 @ 86000".to_vec(), [0xAB; 32], GENESIS_HASH)
}

fn frame_of(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    let r = RecordRef {
        seq: record.seq,
        ts_ms: record.ts_ms,
        payload: &record.payload,
        events_digest: record.events_digest,
        prev_hash: record.prev_hash,
        hash: record.hash,
    };
    encode_record(&mut out, &r);
    out
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
            assert_eq!(r.compute_hash(), record.hash);
        }
        other => panic!("expected a valid record, got {other:?}"),
    }
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
    assert_eq!(&bytes[..4], &(147u32).to_le_bytes(), "body length = 117 + 30-byte payload");
    assert_eq!(bytes[12], KIND_RECORD);
    assert_eq!(&bytes[13..21], &1u64.to_le_bytes());
    assert_eq!(&bytes[21..29], &1_700_000_000_000i64.to_le_bytes());
    assert_eq!(&bytes[29..33], &30u32.to_le_bytes());
    assert_eq!(&bytes[33..63], record.payload.as_slice());
    assert_eq!(&bytes[bytes.len() - 32..], &record.hash);
    assert_eq!(hex(&record.hash), PINNED_HASH);
}

const PINNED_HASH: &str = "3ab5eebc2917168301f3782fe88d315a8e9eb03bee5b138079e2ad9a6ecd7e7d";

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
