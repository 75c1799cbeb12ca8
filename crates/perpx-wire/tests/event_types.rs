//! `wire_type` names each event exactly as its encoding does, an encoding from a copy of the
//! market specifications equals one from the engine itself, and every kind's text is pinned by
//! a golden file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use perpx_core::Engine;
use perpx_core::market::MarketSpec;
use perpx_testkit::mixed_stream;
use perpx_wire::event::{event_text, wire_type};

/// Mixed streams (venue traffic, liquidations, ADL, funding, the oracle, admin commands), every
/// event: its text is JSON whose `type` field is `wire_type` of its kind; and encoding it against
/// specs copied when the market count last changed — as the server's publications do — gives
/// the same text as encoding it against the engine right after its command. Returns the first
/// text of each kind; the streams run once for both tests.
fn every_event() -> &'static BTreeMap<&'static str, String> {
    static FIRST: OnceLock<BTreeMap<&'static str, String>> = OnceLock::new();
    FIRST.get_or_init(|| every_event_of(&[1, 2, 3, 7, 11, 13, 17, 19]))
}

fn every_event_of(seeds: &[u64]) -> BTreeMap<&'static str, String> {
    let mut first = BTreeMap::new();
    for &seed in seeds {
        let s = mixed_stream::generate(seed, 1_500);
        let mut engine = Engine::new(s.engine.clone());
        let mut specs: Vec<MarketSpec> = Vec::new();
        for c in &s.commands {
            let events = engine.apply(c);
            if specs.len() != engine.markets().len() {
                specs = engine.markets().iter().map(|m| m.spec.clone()).collect();
            }
            // As delivered: a funding batch as its notices (its own text is pinned below).
            for e in events.iter().flat_map(perpx_core::Event::notices) {
                let e = &*e;
                let line = event_text(e, &engine, None);
                let copied = event_text(e, specs.as_slice(), None);
                assert_eq!(line, copied, "seed {seed}: encoded from copied specs");
                let value: serde_json::Value = serde_json::from_str(&line).unwrap();
                assert_eq!(value["type"], wire_type(&e.kind), "seed {seed}: {line}");
                first.entry(wire_type(&e.kind)).or_insert(line);
            }
        }
    }
    first
}

#[test]
fn wire_type_is_the_encoded_type_and_copied_specs_encode_like_the_engine() {
    let seen = every_event();
    // The streams reach the kinds consumers choose by: trades, marks, funding, liquidations,
    // ADL, rejections, and the admin side.
    for kind in [
        "fill",
        "order_accepted",
        "order_cancelled",
        "mark_price",
        "index_price",
        "funding_settled",
        "funding_payment",
        "liquidation_started",
        "liquidation_finished",
        "rejected",
        "params_changed",
        "market_delisted",
    ] {
        assert!(seen.contains_key(kind), "no {kind} event in the streams (seen: {:?})", seen.keys());
    }
}

/// The text of every event kind the mixed streams reach — the first of each, by kind — is
/// exactly `tests/every_event_kind.expected.jsonl`: the field names, their order, and each
/// figure's decimals. The events' JSON is written by hand (`perpx_wire::event::write_event`), so
/// this file is what holds it to `docs/REPLAY.md`; it was first written by the serde-derived
/// encoder that the hand-written one replaced, and the two agreed on every event of these
/// streams. After a deliberate format change, rewrite it with `PERPX_UPDATE_GOLDEN=1` and read
/// the diff.
#[test]
fn every_event_kind_reads_as_its_golden_line() {
    let lines: String = every_event().values().map(|l| format!("{l}\n")).collect();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/every_event_kind.expected.jsonl");
    if std::env::var_os("PERPX_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &lines).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap();
    for (got, want) in lines.lines().zip(golden.lines()) {
        assert_eq!(got, want, "an event's text differs from {}", path.display());
    }
    assert_eq!(lines.lines().count(), golden.lines().count(), "kinds reached: {lines}");
}

/// The kinds the mixed streams don't reach, each with its exact text; an admin entry's free text
/// escaped as JSON escapes it (quotes, backslashes, control characters; other characters as
/// they are).
#[test]
fn the_rarer_kinds_read_as_documented() {
    use perpx_core::event::{FundRef, LiquidationScope};
    use perpx_core::{AccountId, CancelReason, ClientOrderId, EventKind, MarketId, OrderId, OrderStatus};
    use perpx_core::{Price, Qty, Quote, Timestamp};

    let specs = [perpx_testkit::fixtures::btc_spec()];
    let btc = MarketId(0);
    let text = |kind: EventKind| {
        event_text(&perpx_core::Event { seq: 9, ts: Timestamp(1_700_000_000_000), kind }, &specs[..], None)
    };
    let head = r#"{"seq":9,"ts":1700000000000,"type":"#;
    let cases = [
        (
            EventKind::FundingPayments {
                market: btc,
                payments: vec![
                    perpx_core::FundingLine {
                        account: AccountId(4),
                        size: Qty(1_500),
                        amount: Quote(1_290_008),
                        collateral: Quote(998_709_992),
                        isolated_margin: Quote(0),
                    },
                    perpx_core::FundingLine {
                        account: AccountId(7),
                        size: Qty(-1_500),
                        amount: Quote(-1_290_007),
                        collateral: Quote(5_000_000),
                        isolated_margin: Quote(21_290_007),
                    },
                ],
            },
            concat!(
                r#""funding_payments","market":"BTC-PERP","payments":["#,
                r#"{"account":4,"size":"1.500","amount":"1.290008","collateral":"998.709992","isolated_margin":"0.000000"},"#,
                r#"{"account":7,"size":"-1.500","amount":"-1.290007","collateral":"5.000000","isolated_margin":"21.290007"}]}"#
            ),
        ),
        (
            EventKind::FundingSkipped { market: btc, funding_time: Timestamp(28_800_000) },
            r#""funding_skipped","market":"BTC-PERP","funding_time":28800000}"#,
        ),
        (
            EventKind::PositionSettled {
                account: AccountId(4),
                market: btc,
                size: Qty(-1_500),
                price: Price(850_005),
                realized: Quote(-12_345_678),
                collateral: Quote(1_000_000_000),
            },
            r#""position_settled","account":4,"market":"BTC-PERP","size":"-1.500","price":"85000.5","realized_pnl":"-12.345678","collateral":"1000.000000"}"#,
        ),
        (
            EventKind::LiquidationAverted {
                account: AccountId(5),
                scope: LiquidationScope::Isolated(btc),
                equity: Quote(2),
                maintenance_margin: Quote(1),
            },
            r#""liquidation_averted","account":5,"scope":"isolated:BTC-PERP","equity":"0.000002","maintenance_margin":"0.000001"}"#,
        ),
        (
            EventKind::DeficitUncovered { account: AccountId(6), market: btc, amount: Quote(7_000_000) },
            r#""deficit_uncovered","account":6,"market":"BTC-PERP","amount":"7.000000"}"#,
        ),
        (
            EventKind::FundCapitalised { fund: FundRef::Shared, amount: Quote(1), balance: Quote(0) },
            r#""fund_capitalised","fund":"shared_insurance","amount":"0.000001","balance":"0.000000"}"#,
        ),
        (
            EventKind::DuplicateClientOrderId {
                account: AccountId(7),
                client_id: ClientOrderId::new("bot-1:a/b_c.d").unwrap(),
                order_id: OrderId(12),
                market: btc,
                status: OrderStatus::Cancelled(CancelReason::UserRequest),
                filled: Qty(1),
                open: Qty(0),
            },
            r#""duplicate_client_order_id","account":7,"client_id":"bot-1:a/b_c.d","order_id":12,"market":"BTC-PERP","status":"cancelled","cancel_reason":"user_request","filled":"0.001","open":"0.000"}"#,
        ),
        (
            EventKind::AdminAudited {
                actor: "ops \"night\" \\ shift".into(),
                action: "tab\there\nnew\u{1}line\u{7f}".into(),
                detail: r#"{"market":"BTC-PERP","é":"€"}"#.into(),
            },
            r#""admin_audited","actor":"ops \"night\" \\ shift","action":"tab\there\nnew\u0001line"#,
        ),
    ];
    for (kind, want) in cases {
        let got = text(kind);
        assert!(got.starts_with(&format!("{head}{want}")), "got  {got}\nwant {head}{want}");
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert!(v.is_object(), "{got}");
    }
    let admin = text(EventKind::AdminAudited {
        actor: "a".into(),
        action: "\u{7f}\u{8}\u{c}\r\u{1f}".into(),
        detail: r#"{"é":"€"}"#.into(),
    });
    assert_eq!(
        admin,
        format!(
            r#"{head}"admin_audited","actor":"a","action":"{}\b\f\r\u001f","detail":"{{\"é\":\"€\"}}"}}"#,
            '\u{7f}'
        )
    );
}
