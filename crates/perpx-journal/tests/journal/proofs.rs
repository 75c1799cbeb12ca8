//! Proofs: any durable record links to a published head; any tampering makes the proof fail.

use perpx_journal::{ChainHead, Journal, Proof, ProofError, ProofVerifyError, SyncPolicy, build_proof, verify_proof};
use proptest::prelude::*;

use crate::support::{journal_with, small_config};

fn proof_of(records: usize, seq: u64, to_seq: u64) -> (Proof, ChainHead) {
    let (storage, model) = journal_with(records);
    let proof = build_proof(&storage, seq, to_seq).unwrap();
    (proof, model.submitted[usize::try_from(to_seq).unwrap() - 1].head())
}

#[test]
fn every_record_proves_against_the_published_head() {
    let (storage, model) = journal_with(25);
    let recovery = Journal::open(storage, small_config(SyncPolicy::EveryBatch)).unwrap();
    let head = recovery.writer.durable_head();
    assert_eq!(head, model.head());
    for seq in 1..=25 {
        let proof = recovery.writer.proof(seq, 25).unwrap();
        assert_eq!(proof.record, model.submitted[usize::try_from(seq).unwrap() - 1]);
        assert_eq!(proof.links.len() as u64, 25 - seq);
        assert_eq!(proof.head, head);
        assert_eq!(verify_proof(&proof, &head), Ok(()), "record {seq}");
    }
}

#[test]
fn a_proof_to_an_earlier_head_verifies_against_that_head_only() {
    let (proof, head_10) = proof_of(25, 3, 10);
    assert_eq!(verify_proof(&proof, &head_10), Ok(()));
    let (_, head_25) = proof_of(25, 25, 25);
    assert_eq!(
        verify_proof(&proof, &head_25),
        Err(ProofVerifyError::HeadMismatch { computed_seq: 10, trusted_seq: 25 })
    );
}

#[test]
fn tampered_proofs_fail_at_the_first_broken_link() {
    let (proof, head) = proof_of(20, 5, 12);

    let mut payload = proof.clone();
    payload.record.payload.push(0);
    assert_eq!(verify_proof(&payload, &head), Err(ProofVerifyError::RecordHash { seq: 5 }));

    let mut rehashed = proof.clone();
    rehashed.record.ts_ms += 1;
    rehashed.record.hash = rehashed.record.compute_hash();
    assert_eq!(verify_proof(&rehashed, &head), Err(ProofVerifyError::LinkPrev { seq: 6 }));

    let mut digest = proof.clone();
    digest.links[2].events_digest[0] ^= 1;
    assert_eq!(verify_proof(&digest, &head), Err(ProofVerifyError::LinkHash { seq: 8 }));

    let mut dropped = proof.clone();
    dropped.links.remove(3);
    assert_eq!(verify_proof(&dropped, &head), Err(ProofVerifyError::LinkSequence { expected: 9, found: 10 }));

    let mut reordered = proof.clone();
    reordered.links.swap(0, 1);
    assert_eq!(verify_proof(&reordered, &head), Err(ProofVerifyError::LinkSequence { expected: 6, found: 7 }));

    let mut short = proof.clone();
    short.links.pop();
    assert_eq!(verify_proof(&short, &head), Err(ProofVerifyError::HeadMismatch { computed_seq: 11, trusted_seq: 12 }));

    let forged_head = ChainHead { seq: 12, hash: [0; 32] };
    assert!(matches!(verify_proof(&proof, &forged_head), Err(ProofVerifyError::HeadMismatch { .. })));
    assert_eq!(verify_proof(&proof, &head), Ok(()), "the untouched proof still verifies");
}

#[test]
fn proofs_are_only_given_for_durable_records_in_range() {
    let (storage, _) = journal_with(10);
    let mut recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let _ = recovery.writer.append(0, b"pending", [0; 32]).unwrap();
    assert_eq!(recovery.writer.proof(3, 11), Err(ProofError::NotDurable { to_seq: 11, durable_seq: 10 }));
    assert_eq!(build_proof(&storage, 0, 5), Err(ProofError::BadRange { seq: 0, to_seq: 5 }));
    assert_eq!(build_proof(&storage, 6, 5), Err(ProofError::BadRange { seq: 6, to_seq: 5 }));
    assert_eq!(build_proof(&storage, 3, 40), Err(ProofError::NotFound { seq: 40 }));
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(64) })]

    /// Any single-bit change to any field of any record in a proof makes it fail.
    #[test]
    fn any_flipped_bit_in_a_proof_is_detected(seq in 1u64..=15, extra in 0u64..=5, which in any::<usize>(), bit in any::<usize>()) {
        let to_seq = seq + extra;
        let (proof, head) = proof_of(20, seq, to_seq);
        prop_assert_eq!(verify_proof(&proof, &head), Ok(()));
        let mut tampered = proof.clone();
        let index = which % (tampered.links.len() + 1);
        let record = if index == 0 { &mut tampered.record } else { &mut tampered.links[index - 1] };
        let fields = [8, 8, record.payload.len(), 32, 32, 32];
        let total_bits: usize = fields.iter().sum::<usize>() * 8;
        let mut at = bit % total_bits;
        let mut field = 0;
        while at >= fields[field] * 8 {
            at -= fields[field] * 8;
            field += 1;
        }
        let mask = 1u8 << (at % 8);
        let byte = at / 8;
        match field {
            0 => record.seq ^= u64::from(mask) << (8 * byte),
            1 => record.ts_ms ^= i64::from(mask) << (8 * byte),
            2 => record.payload[byte] ^= mask,
            3 => record.events_digest[byte] ^= mask,
            4 => record.prev_hash[byte] ^= mask,
            _ => record.hash[byte] ^= mask,
        }
        prop_assert!(verify_proof(&tampered, &head).is_err(), "field {} bit {} of record {}", field, at, index);
    }
}
