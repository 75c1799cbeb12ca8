//! The events encoding (`docs/JOURNAL.md`, "Events encoding"), through blake3 of it: pinned,
//! sensitive to every event and to their order, and injective over every event real streams
//! produce.

use std::collections::HashMap;

use perpx_core::event::{Fill, FundRef, LiquidationScope};
use perpx_core::{
    AccountId, Engine, Event, EventKind, MarketId, OrderId, Price, Qty, Quote, RejectReason, Side, Timestamp, TradeId,
};
use perpx_node::codec::{EVENTS_DIGEST_DOMAIN, encode_events};

/// blake3 of the encoding: equal digests mean equal encodings.
fn events_digest(events: &[Event]) -> [u8; 32] {
    *blake3::hash(&encode_events(events)).as_bytes()
}
use perpx_testkit::mixed_stream;

fn handmade() -> Vec<Event> {
    let e = |kind| Event { seq: 42, ts: Timestamp(1_700_000_000_000), kind };
    vec![
        e(EventKind::Fill(Box::new(Fill {
            market: MarketId(0),
            trade_id: TradeId(9),
            price: Price(860_000),
            qty: Qty(3),
            taker_side: Side::Buy,
            maker_order: OrderId(4),
            maker_account: AccountId(1),
            maker_remaining: Qty(0),
            taker_order: OrderId(5),
            taker_account: AccountId(2),
            taker_remaining: Qty(1),
            maker_fee: Quote(-10),
            taker_fee: Quote(129),
        }))),
        e(EventKind::LiquidationFee {
            account: AccountId(2),
            market: MarketId(0),
            amount: Quote(77),
            fund: FundRef::Shared,
        }),
        e(EventKind::LiquidationStarted {
            account: AccountId(2),
            scope: LiquidationScope::Isolated(MarketId(0)),
            equity: Quote(-5),
            maintenance_margin: Quote(100),
        }),
        e(EventKind::Rejected {
            account: Some(AccountId(2)),
            client_id: None,
            reason: RejectReason::PriceOutsideBand { price: Price(1), low: Price(2), high: Price(3) },
        }),
    ]
}

#[test]
fn the_digest_is_pinned() {
    assert_eq!(EVENTS_DIGEST_DOMAIN, b"perpx-events/v1\0");
    // The empty list: the domain and a zero count.
    let mut empty = EVENTS_DIGEST_DOMAIN.to_vec();
    empty.extend(0u64.to_le_bytes());
    assert_eq!(events_digest(&[]), *blake3::hash(&empty).as_bytes());
    assert_eq!(
        blake3::Hash::from(events_digest(&handmade())).to_hex().as_str(),
        "dbce6e058a0f509230cb4c691d010a9b89ca2c4f29398c8c8bc45affa5289adc"
    );
}

#[test]
fn every_event_and_the_order_count() {
    let events = handmade();
    let base = events_digest(&events);
    let mut reversed = events.clone();
    reversed.reverse();
    assert_ne!(events_digest(&reversed), base);
    assert_ne!(events_digest(&events[..3]), base);
    let mut other_seq = events.clone();
    other_seq[0].seq = 43;
    assert_ne!(events_digest(&other_seq), base);
    let mut other_reason = events.clone();
    other_reason[3].kind = EventKind::Rejected {
        account: Some(AccountId(2)),
        client_id: None,
        reason: RejectReason::PriceOutsideBand { price: Price(1), low: Price(2), high: Price(4) },
    };
    assert_ne!(events_digest(&other_reason), base);
}

/// A settlement's batch of payments is encoded as its notices, a `funding_payment` each (the
/// count theirs): journals written when the engine emitted an event a position keep their
/// digests, and the pinned bytes of one notice are the v1 layout.
#[test]
fn a_funding_batch_is_encoded_as_its_notices() {
    let line = |a: u64, amount: i64| perpx_core::FundingLine {
        account: AccountId(a),
        size: Qty(if amount > 0 { 3 } else { -3 }),
        amount: Quote(amount),
        collateral: Quote(1_000 - amount),
        isolated_margin: Quote(i64::try_from(a).unwrap()),
    };
    let batch = Event {
        seq: 42,
        ts: Timestamp(1_700_000_000_000),
        kind: EventKind::FundingPayments { market: MarketId(1), payments: vec![line(1, 5), line(2, -4), line(8, 5)] },
    };
    let mut with_others = handmade();
    with_others.insert(1, batch.clone());
    let mut expanded = handmade();
    expanded.splice(1..1, batch.notices().map(std::borrow::Cow::into_owned));
    assert_eq!(expanded.len(), handmade().len() + 3);
    assert_eq!(encode_events(&with_others), encode_events(&expanded));
    // One notice's bytes: seq, ts, tag 7, account, market (u32), size, amount, collateral,
    // isolated margin, all little-endian.
    let one = Event { seq: 42, ts: Timestamp(5), kind: line(1, 5).notice(MarketId(1)) };
    let mut want = EVENTS_DIGEST_DOMAIN.to_vec();
    want.extend(1u64.to_le_bytes());
    want.extend(42u64.to_le_bytes());
    want.extend(5i64.to_le_bytes());
    want.push(7);
    want.extend(1u64.to_le_bytes());
    want.extend(1u32.to_le_bytes());
    for v in [3i64, 5, 995, 1] {
        want.extend(v.to_le_bytes());
    }
    assert_eq!(encode_events(&[one]), want);
}

/// Thousands of real events — every kind the mixed streams produce — and not two different
/// ones with the same digest (nor two different event lists of one command).
#[test]
fn no_two_different_events_share_a_digest() {
    let mut singles: HashMap<[u8; 32], Event> = HashMap::new();
    let mut lists: HashMap<[u8; 32], Vec<Event>> = HashMap::new();
    let mut kinds = std::collections::BTreeSet::new();
    for seed in [1, 4] {
        let s = mixed_stream::generate(seed, 1_500);
        let mut engine = Engine::new(s.engine.clone());
        for c in &s.commands {
            let events = engine.apply(c);
            for e in &events {
                kinds.insert(format!("{:?}", e.kind).split([' ', '(', '{']).next().unwrap().to_owned());
                // The same event at another sequence number is another event: normalise.
                let e = Event { seq: 1, ts: Timestamp(0), ..e.clone() };
                let previous = singles.insert(events_digest(std::slice::from_ref(&e)), e.clone());
                assert!(previous.is_none_or(|p| p == e), "digest collision");
            }
            let previous = lists.insert(events_digest(&events), events.clone());
            assert!(previous.is_none_or(|p| p == events), "digest collision");
        }
    }
    assert!(kinds.len() >= 30, "{} kinds of event: {kinds:?}", kinds.len());
}
