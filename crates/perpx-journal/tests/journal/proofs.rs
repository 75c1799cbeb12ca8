//! Proofs: any durable record links to a published head; any tampering makes the proof fail.

use perpx_journal::{ChainHead, Journal, Proof, ProofError, ProofVerifyError, SyncPolicy, build_proof, verify_proof};
use proptest::prelude::*;

use crate::support::{Model, journal_with, small_config};

/// The head the model knows at `seq` (a commit's end).
fn head_at(model: &Model, seq: u64) -> ChainHead {
    ChainHead { seq, hash: model.heads[&seq] }
}

fn proof_of(records: usize, seq: u64, to_seq: u64) -> (Proof, ChainHead, Model) {
    let (storage, model) = journal_with(records);
    let proof = build_proof(&storage, seq, to_seq).unwrap();
    (proof, head_at(&model, to_seq), model)
}

#[test]
fn every_record_proves_against_the_published_head() {
    let (storage, model) = journal_with(25);
    let recovery = Journal::open(storage, small_config(SyncPolicy::EveryBatch)).unwrap();
    let head = recovery.writer.durable_head();
    assert_eq!(head, model.head());
    for seq in 1..=25 {
        let proof = recovery.writer.proof(seq, 25).unwrap();
        assert_eq!(proof.record(), Some(&model.submitted[usize::try_from(seq).unwrap() - 1]));
        let (first, last) = (proof.commit.first_seq, proof.commit.last_seq);
        assert!(first <= seq && seq <= last && last - first < 2, "commits of at most two records here");
        assert_eq!(proof.records, model.submitted[usize::try_from(first).unwrap() - 1..usize::try_from(last).unwrap()]);
        assert_eq!(proof.head, head);
        assert_eq!(verify_proof(&proof, &head), Ok(()), "record {seq}");
    }
}

#[test]
fn a_proof_to_an_earlier_head_verifies_against_that_head_only() {
    let (proof, head_10, model) = proof_of(25, 3, 10);
    assert_eq!(verify_proof(&proof, &head_10), Ok(()));
    assert_eq!(
        verify_proof(&proof, &head_at(&model, 25)),
        Err(ProofVerifyError::HeadMismatch { computed_seq: 10, trusted_seq: 25 })
    );
}

#[test]
fn tampered_proofs_fail_at_the_first_broken_link() {
    let (proof, head, _) = proof_of(20, 5, 16);
    let (first_seq, last_seq) = (proof.commit.first_seq, proof.commit.last_seq);
    assert!(proof.links.len() >= 4, "{} links", proof.links.len());

    let mut payload = proof.clone();
    payload.records[0].payload.push(0);
    assert_eq!(verify_proof(&payload, &head), Err(ProofVerifyError::CommitHash { first_seq, last_seq }));

    let mut events = proof.clone();
    events.records[0].events_check ^= 1;
    assert_eq!(verify_proof(&events, &head), Err(ProofVerifyError::CommitHash { first_seq, last_seq }));

    let mut missing = proof.clone();
    missing.records.pop();
    assert!(matches!(verify_proof(&missing, &head), Err(ProofVerifyError::Records { .. })));

    let mut elsewhere = proof.clone();
    elsewhere.seq = last_seq + 1;
    assert!(matches!(verify_proof(&elsewhere, &head), Err(ProofVerifyError::Records { .. })));

    let link = proof.links[2];
    let mut digest = proof.clone();
    digest.links[2].events_digest[0] ^= 1;
    assert_eq!(
        verify_proof(&digest, &head),
        Err(ProofVerifyError::LinkHash { first_seq: link.first_seq, last_seq: link.last_seq })
    );

    let mut dropped = proof.clone();
    dropped.links.remove(3);
    assert_eq!(
        verify_proof(&dropped, &head),
        Err(ProofVerifyError::LinkSequence { expected: proof.links[3].first_seq, found: proof.links[4].first_seq })
    );

    let mut reordered = proof.clone();
    reordered.links.swap(0, 1);
    assert_eq!(
        verify_proof(&reordered, &head),
        Err(ProofVerifyError::LinkSequence { expected: proof.links[0].first_seq, found: proof.links[1].first_seq })
    );

    let mut short = proof.clone();
    let before_last = proof.links[proof.links.len() - 2].last_seq;
    short.links.pop();
    assert_eq!(
        verify_proof(&short, &head),
        Err(ProofVerifyError::HeadMismatch { computed_seq: before_last, trusted_seq: 16 })
    );

    let forged_head = ChainHead { seq: 16, hash: [0; 32] };
    assert!(matches!(verify_proof(&proof, &forged_head), Err(ProofVerifyError::HeadMismatch { .. })));
    assert_eq!(verify_proof(&proof, &head), Ok(()), "the untouched proof still verifies");
}

#[test]
fn proofs_are_only_given_for_durable_records_in_range_up_to_a_head() {
    let (storage, model) = journal_with(10);
    let mut recovery = Journal::open(storage.clone(), small_config(SyncPolicy::EveryBatch)).unwrap();
    let _ = recovery.writer.append(0, b"pending", b"events").unwrap();
    assert_eq!(recovery.writer.proof(3, 11), Err(ProofError::NotDurable { to_seq: 11, durable_seq: 10 }));
    assert_eq!(build_proof(&storage, 0, 5), Err(ProofError::BadRange { seq: 0, to_seq: 5 }));
    assert_eq!(build_proof(&storage, 6, 5), Err(ProofError::BadRange { seq: 6, to_seq: 5 }));
    assert_eq!(build_proof(&storage, 3, 40), Err(ProofError::NotFound { seq: 40 }));
    // A sequence number inside a commit is not a head.
    let inside = (1..10).find(|s| !model.heads.contains_key(s)).expect("a record inside a commit");
    let end = *model.heads.range(inside..).next().unwrap().0;
    assert_eq!(build_proof(&storage, 1, inside), Err(ProofError::NotAHead { to_seq: inside, commit_end: end }));
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(64) })]

    /// Any single-bit change to any field of any record, the commit or any link of a proof
    /// makes it fail.
    #[test]
    fn any_flipped_bit_in_a_proof_is_detected(seq in 1u64..=15, extra in 0u64..=5, which in any::<usize>(), bit in any::<usize>()) {
        let (storage, model) = journal_with(20);
        let to_seq = *model.heads.range(seq + extra..).next().unwrap().0;
        let proof = build_proof(&storage, seq, to_seq).unwrap();
        let head = head_at(&model, to_seq);
        prop_assert_eq!(verify_proof(&proof, &head), Ok(()));
        let mut tampered = proof.clone();
        let parts = tampered.records.len() + 1 + tampered.links.len();
        let part = which % parts;
        let bit = bit % 8;
        let mask = 1u8 << bit;
        if part < tampered.records.len() {
            let record = &mut tampered.records[part];
            let fields = 8 + 8 + record.payload.len() + 4;
            match (bit * 131 + which) % fields {
                at @ 0..8 => record.seq ^= u64::from(mask) << (8 * at),
                at @ 8..16 => record.ts_ms ^= i64::from(mask) << (8 * (at - 8)),
                at if at < 16 + record.payload.len() => record.payload[at - 16] ^= mask,
                at => record.events_check ^= u32::from(mask) << (8 * (at - 16 - record.payload.len())),
            }
        } else if part == tampered.records.len() {
            let commit = &mut tampered.commit;
            match (bit * 131 + which) % 112 {
                at @ 0..8 => commit.first_seq ^= u64::from(mask) << (8 * at),
                at @ 8..16 => commit.last_seq ^= u64::from(mask) << (8 * (at - 8)),
                at @ 16..48 => commit.events_digest[at - 16] ^= mask,
                at @ 48..80 => commit.prev_hash[at - 48] ^= mask,
                at => commit.hash[at - 80] ^= mask,
            }
        } else {
            let link = &mut tampered.links[part - tampered.records.len() - 1];
            match (bit * 131 + which) % 112 {
                at @ 0..8 => link.first_seq ^= u64::from(mask) << (8 * at),
                at @ 8..16 => link.last_seq ^= u64::from(mask) << (8 * (at - 8)),
                at @ 16..48 => link.records_digest[at - 16] ^= mask,
                at @ 48..80 => link.events_digest[at - 48] ^= mask,
                at => link.hash[at - 80] ^= mask,
            }
        }
        prop_assert!(verify_proof(&tampered, &head).is_err(), "part {} of {}", part, parts);
    }
}
