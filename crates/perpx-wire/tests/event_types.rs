//! `wire_type` names each event exactly as its encoding does, and an encoding from a copy of
//! the market specifications equals one from the engine itself.

use std::collections::BTreeSet;

use perpx_core::Engine;
use perpx_core::market::MarketSpec;
use perpx_testkit::mixed_stream;
use perpx_wire::event::{encode_event, wire_type};

/// Mixed streams (venue traffic, liquidations, ADL, funding, the oracle, admin commands), every
/// event: the `type` field of its JSON is `wire_type` of its kind; and encoding it against specs
/// copied when the market count last changed — as the server's publications do — gives the same
/// text as encoding it against the engine right after its command.
#[test]
fn wire_type_is_the_encoded_type_and_copied_specs_encode_like_the_engine() {
    let mut seen = BTreeSet::new();
    for seed in [1, 2, 3, 7, 11] {
        let s = mixed_stream::generate(seed, 1_500);
        let mut engine = Engine::new(s.engine.clone());
        let mut specs: Vec<MarketSpec> = Vec::new();
        for c in &s.commands {
            let events = engine.apply(c);
            if specs.len() != engine.markets().len() {
                specs = engine.markets().iter().map(|m| m.spec.clone()).collect();
            }
            for e in &events {
                let line = serde_json::to_string(&encode_event(e, &engine, None)).unwrap();
                let copied = serde_json::to_string(&encode_event(e, specs.as_slice(), None)).unwrap();
                assert_eq!(line, copied, "seed {seed}: encoded from copied specs");
                let value: serde_json::Value = serde_json::from_str(&line).unwrap();
                assert_eq!(value["type"], wire_type(&e.kind), "seed {seed}: {line}");
                seen.insert(wire_type(&e.kind));
            }
        }
    }
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
        assert!(seen.contains(kind), "no {kind} event in the streams (seen: {seen:?})");
    }
}
