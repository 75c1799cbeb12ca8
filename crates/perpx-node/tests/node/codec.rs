//! The command codec (`docs/JOURNAL.md`, "Command payloads"): every kind round-trips, the bytes
//! are pinned, bad bytes are typed errors and never panics, and whatever decodes is canonical.

use perpx_core::{Command, CommandKind, NewOrder, OrderType, Price, Qty, Side, StpMode, TimeInForce, Timestamp};
use perpx_node::codec::{COMMAND_CODEC_VERSION, DecodeError, decode_command, encode_command};
use perpx_testkit::fixtures::cid;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::arb;
use crate::support::one_of_each;

#[test]
fn every_command_kind_round_trips_and_the_encoding_is_pinned() {
    let commands = one_of_each();
    assert_eq!(commands.len(), 21, "one command of each of the 21 kinds");
    let mut all = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        let bytes = encode_command(c);
        assert_eq!(bytes[0], COMMAND_CODEC_VERSION);
        assert_eq!(bytes[9], u8::try_from(i + 1).unwrap(), "kind tags are 1..=21 in this order: {c:?}");
        assert_eq!(decode_command(&bytes).as_ref(), Ok(c));
        all.extend_from_slice(&bytes);
    }
    // Any change to the encoding of any kind changes this: a new format needs a new version.
    assert_eq!(
        blake3::hash(&all).to_hex().as_str(),
        "1d6bbde1d8744cfadad7050bb9496f39401db467c42d72ac39fd7c7515d2fc0a",
        "the version 1 encoding changed ({} bytes)",
        all.len()
    );
}

#[test]
fn a_limit_order_byte_by_byte() {
    let c = Command {
        ts: Timestamp(1_700_000_000_000),
        kind: CommandKind::PlaceOrder(NewOrder {
            account: perpx_core::AccountId(7),
            market: perpx_core::MarketId(2),
            side: Side::Sell,
            order_type: OrderType::Limit { price: Price(859_000), tif: TimeInForce::PostOnly },
            qty: Qty(12),
            client_id: Some(cid("bid-1")),
            stp: StpMode::ExpireBoth,
            reduce_only: true,
        }),
    };
    let mut expected = vec![1u8]; // version
    expected.extend(1_700_000_000_000i64.to_le_bytes()); // ts
    expected.push(6); // place_order
    expected.extend(7u64.to_le_bytes()); // account
    expected.extend(2u32.to_le_bytes()); // market
    expected.push(1); // sell
    expected.push(1); // limit
    expected.extend(859_000i64.to_le_bytes()); // price
    expected.push(3); // post-only
    expected.extend(12i64.to_le_bytes()); // qty
    expected.push(1); // client id: some
    expected.extend(5u32.to_le_bytes());
    expected.extend(b"bid-1");
    expected.push(2); // expire both
    expected.push(1); // reduce-only
    assert_eq!(encode_command(&c), expected);
    assert_eq!(expected.len(), 53);
}

#[test]
fn bad_bytes_are_typed_errors() {
    let tick = encode_command(&Command { ts: Timestamp(5), kind: CommandKind::Tick });
    assert_eq!(decode_command(&[]), Err(DecodeError::Empty));

    let mut v2 = tick.clone();
    v2[0] = 2;
    let err = decode_command(&v2).unwrap_err();
    assert_eq!(err, DecodeError::UnsupportedVersion { what: "command", found: 2, supported: 1 });
    assert!(err.to_string().contains("format version 2 is not supported"), "{err}");

    let mut extra = tick.clone();
    extra.push(0);
    assert_eq!(decode_command(&extra), Err(DecodeError::TrailingBytes { what: "command", offset: 10, extra: 1 }));

    for bad_tag in [0u8, 23, 255] {
        let mut t = tick.clone();
        t[9] = bad_tag;
        assert_eq!(
            decode_command(&t),
            Err(DecodeError::UnknownTag { what: "command kind", tag: u16::from(bad_tag), offset: 9 })
        );
    }

    let liquidator = encode_command(&Command {
        ts: Timestamp(5),
        kind: CommandKind::SetLiquidator { account: perpx_core::AccountId(1), active: true },
    });
    let mut flag = liquidator.clone();
    *flag.last_mut().unwrap() = 2;
    assert!(matches!(decode_command(&flag), Err(DecodeError::Invalid { what: "active", offset: 18, .. })));

    let order = &one_of_each()[5];
    let bytes = encode_command(order);
    let id_at = bytes.windows(5).position(|w| w == b"bid-1").unwrap();
    let mut bad_id = bytes.clone();
    bad_id[id_at + 3] = b' ';
    let err = decode_command(&bad_id).unwrap_err();
    assert!(matches!(err, DecodeError::Invalid { what: "client order id", .. }), "{err}");
    let mut not_utf8 = bytes.clone();
    not_utf8[id_at] = 0xff;
    assert!(matches!(decode_command(&not_utf8), Err(DecodeError::Invalid { what: "client order id", .. })));

    // A length prefix far beyond the input is refused before anything is allocated.
    let mut huge = encode_command(&one_of_each()[0]);
    huge[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(decode_command(&huge), Err(DecodeError::UnexpectedEnd { what: "symbol", .. })));
}

#[test]
fn every_truncation_of_every_kind_is_an_error() {
    for c in one_of_each() {
        let bytes = encode_command(&c);
        for len in 0..bytes.len() {
            let err = decode_command(&bytes[..len]).expect_err("a prefix is never a command");
            assert!(matches!(err, DecodeError::Empty | DecodeError::UnexpectedEnd { .. }), "{c:?} cut at {len}: {err}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

    #[test]
    fn any_command_round_trips(c in arb::command()) {
        let bytes = encode_command(&c);
        prop_assert_eq!(decode_command(&bytes), Ok(c));
    }

    /// Flipped bytes never panic the decoder, and what still decodes re-encodes to exactly the
    /// same bytes: one command, one encoding.
    #[test]
    fn damaged_payloads_never_panic_and_whatever_decodes_is_canonical(
        c in arb::command(),
        flips in vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let mut bytes = encode_command(&c);
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        if let Ok(decoded) = decode_command(&bytes) {
            prop_assert_eq!(encode_command(&decoded), bytes);
        }
    }

    /// Random bytes behind a valid version byte and kind tag.
    #[test]
    fn random_bytes_never_panic_the_decoder(kind in 1u8..=21, ts in any::<i64>(), tail in vec(any::<u8>(), 0..300)) {
        let mut bytes = vec![COMMAND_CODEC_VERSION];
        bytes.extend(ts.to_le_bytes());
        bytes.push(kind);
        bytes.extend(tail);
        if let Ok(decoded) = decode_command(&bytes) {
            prop_assert_eq!(encode_command(&decoded), bytes);
        }
    }
}
