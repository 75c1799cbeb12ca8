//! `perpx bench --liquidations N`: a price gap after the load, to time liquidation and ADL
//! notices.
//!
//! 1. Every bench client cancels its orders: the book is left with no bids, so nothing can
//!    absorb a liquidation (no demo liquidator is registered either).
//! 2. N fresh accounts ("victims") each deposit 3 % of a 0.010 long's notional, set 50x
//!    leverage (2 % initial margin) and buy 0.010 at the mark from a resting sell of the first
//!    taker client.
//! 3. The admin moves the mark down [`GAP_PERCENT`] in one `set_mark`: each victim loses 5 %
//!    of its notional against 3 % of collateral, so it is below maintenance *and* bankrupt.
//!    The engine liquidates it in that command's sequence step; with no bids and no backstop,
//!    the waterfall ends in ADL against the most profitable shorts (the bench takers, short
//!    from the load, and the seller). The insurance fund is not asked for anything here: ADL at
//!    the bankruptcy price leaves no deficit (docs/LIQUIDATION.md).
//! 4. Each victim's first liquidation notice (`liquidation_queued` or `liquidation_started`) and
//!    each `deleveraged` notice to a deleveraged bench account are timed from the instant the
//!    `set_mark` request was sent. The `set_mark` answer lists the command's events: its
//!    `deleveraged` events are the ADL notices expected, so a notice that never arrives is
//!    `missing`, and an ADL count of 0 is reported as such, with the reason, never faked.
//! 5. The mark is set back, so the bench can run again on the same server.
//!
//! Sizes are for a market whose lot divides 0.010 and that allows 50x (the demo `BTC-PERP`).

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::notices::{Latency, NOTICE_WAIT, Streams};
use super::{BenchConfig, Client, Setup, key_of, read_mark};

/// How far the mark falls, in percent of the mark.
pub const GAP_PERCENT: i64 = 5;

/// The most victims: the engine's default `max_liquidations_per_pass`, so all of them are
/// liquidated in the price move's own step and its answer lists every ADL that follows.
pub const MAX_VICTIMS: usize = 64;

/// A victim's long, in thousandths of the market's size unit (0.010).
const VICTIM_QTY_THOUSANDTHS: i64 = 10;

/// A victim's leverage: initial margin 2 % of the notional.
const LEVERAGE: u32 = 50;

/// A victim's collateral, in percent of its notional: above the 2 % initial margin (and the
/// fee), below the [`GAP_PERCENT`] loss, so the gap makes it bankrupt.
const COLLATERAL_PERCENT: i64 = 3;

/// The victims' account ids start this far past the bench's first account (clear of the
/// clients whatever their number).
const VICTIM_OFFSET: u64 = 100_000;

/// A size of `thousandths` / 1000, as the API writes it.
fn thousandths(n: i64) -> String {
    format!("{}.{:03}", n / 1000, n % 1000)
}

/// Runs the scenario; returns the report's sections.
///
/// # Errors
/// A step that builds the positions fails (a refused order, a long that did not fill), or the
/// price move is refused.
pub fn run(c: &BenchConfig, setup: &Setup, streams: &mut Streams) -> Result<Map<String, Value>, String> {
    let admin = Client::new(&c.url, &c.admin_key, &c.admin_secret);
    let market = &c.market;
    for (key, secret) in &setup.keys {
        Client::new(&c.url, key, secret).post_ok("/api/v1/orders/cancel-all", &json!({ "market": market }))?;
    }
    let (mark, _) = read_mark(c)?;
    let n = i64::try_from(c.liquidations).map_err(|_| "too many victims")?;
    let qty = thousandths(VICTIM_QTY_THOUSANDTHS);
    let collateral = setup.fmt(mark * VICTIM_QTY_THOUSANDTHS * COLLATERAL_PERCENT / 100 / 1000);
    let (seller_key, seller_secret) = &setup.keys[1];
    Client::new(&c.url, seller_key, seller_secret).post_ok(
        "/api/v1/order",
        &json!({ "market": market, "side": "sell", "order_type": "limit", "tif": "gtc",
                 "price": setup.fmt(mark), "qty": thousandths(VICTIM_QTY_THOUSANDTHS * n) }),
    )?;
    let mut victims = Vec::with_capacity(c.liquidations);
    for i in 0..c.liquidations {
        let account = c.first_account + VICTIM_OFFSET + i as u64;
        let k = admin.post_ok("/api/v1/admin/keys", &json!({ "account": account, "scopes": ["read", "trade"] }))?;
        let (key, secret) = key_of(&k);
        admin.post_ok(
            "/api/v1/admin/command",
            &json!({ "type": "deposit", "account": account, "amount": collateral }),
        )?;
        let victim = Client::new(&c.url, &key, &secret);
        victim.post_ok("/api/v1/leverage", &json!({ "market": market, "leverage": LEVERAGE }))?;
        streams.open(&c.url, account, &key, &secret)?;
        let ack = victim.post_ok(
            "/api/v1/order",
            &json!({ "market": market, "side": "buy", "order_type": "limit", "tif": "ioc",
                     "price": setup.fmt(mark), "qty": qty }),
        )?;
        if !ack["events"].as_array().is_some_and(|e| e.iter().any(|e| e["type"] == "fill")) {
            return Err(format!("account {account}'s long did not fill: {ack}"));
        }
        victims.push(account);
    }
    let low = mark * (100 - GAP_PERCENT) / 100;
    let sent = Instant::now();
    let moved = admin
        .post_ok("/api/v1/admin/command", &json!({ "type": "set_mark", "market": market, "price": setup.fmt(low) }));
    let report = moved.map(|ack| measure(streams, &victims, &ack, sent));
    // Set back whatever happened, so the server is left at the price it had.
    let restored = admin
        .post_ok("/api/v1/admin/command", &json!({ "type": "set_mark", "market": market, "price": setup.fmt(mark) }));
    let mut report = report?;
    restored?;
    report.insert(
        "gap".into(),
        json!({ "victims": victims.len(), "mark": setup.fmt(mark), "moved_to": setup.fmt(low),
                "gap_percent": GAP_PERCENT, "victim_qty": qty, "victim_collateral": collateral,
                "victim_leverage": LEVERAGE }),
    );
    Ok(report)
}

/// Waits (bounded) for the notices the price move caused and times them from `sent`.
fn measure(streams: &Streams, victims: &[u64], ack: &Value, sent: Instant) -> Map<String, Value> {
    let seq = ack["seq"].as_u64().unwrap_or(0);
    let events = ack["events"].as_array().map_or(&[][..], Vec::as_slice);
    // The ADL notices expected: the move's `deleveraged` events that name a followed account as
    // the one deleveraged (the bankrupt side learns of it in its liquidation).
    let mut adl_expected = BTreeMap::<u64, usize>::new();
    for e in events.iter().filter(|e| e["type"] == "deleveraged") {
        if let Some(a) = e["account"].as_u64().filter(|a| streams.has(*a)) {
            *adl_expected.entry(a).or_default() += 1;
        }
    }
    let liquidated_in_step = events
        .iter()
        .filter(|e| e["type"] == "liquidation_started" && e["account"].as_u64().is_some_and(|a| victims.contains(&a)))
        .count();
    let first_liquidation = |s: &Streams, a: u64| {
        s.with(a, |r| r.liquidations.iter().filter(|(q, _)| *q >= seq).map(|(_, t)| *t).min()).flatten()
    };
    let adl_received = |s: &Streams, a: u64| {
        s.with(a, |r| r.deleveraged.iter().filter(|(q, _)| *q == seq).map(|(_, t)| *t).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    streams.wait_until(NOTICE_WAIT, |s| {
        victims.iter().all(|a| first_liquidation(s, *a).is_some())
            && adl_expected.iter().all(|(a, n)| adl_received(s, *a).len() >= *n)
    });
    let mut liquidation = Latency::default();
    for a in victims {
        match first_liquidation(streams, *a) {
            Some(t) => liquidation.record(t, sent),
            None => liquidation.missing += 1,
        }
    }
    let mut adl = Latency::default();
    for (a, n) in &adl_expected {
        let got = adl_received(streams, *a);
        for t in got.iter().take(*n) {
            adl.record(*t, sent);
        }
        adl.missing += (*n - got.len().min(*n)) as u64;
    }
    let mut adl_report = adl.report();
    adl_report["expected"] = json!(adl_expected.values().sum::<usize>());
    if adl_expected.is_empty() {
        adl_report["note"] = json!(
            "the waterfall did not reach ADL (the book or a backstop liquidator absorbed the positions): \
             no ADL notice to time"
        );
    }
    let mut liquidation_report = liquidation.report();
    liquidation_report["in_move_step"] = json!(liquidated_in_step);
    let mut out = Map::new();
    out.insert("liquidation_notice".into(), liquidation_report);
    out.insert("adl_notice".into(), adl_report);
    out
}
