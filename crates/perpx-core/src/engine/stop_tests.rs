//! Worked examples of stop and take-profit orders (rules in `crate::stop`). Same venue as the
//! margin examples: tick 1, lot 1, mark 100, 5 % band.

use super::margin_tests::{A, B, C, M, Venue, place, spec};
use super::*;
use crate::book::Side::{self, Buy, Sell};
use crate::command::{NewStop, TimeInForce};
use crate::ids::{AccountId, ClientOrderId, OrderId};
use crate::market::MarketLimits;
use crate::num::Qty;
use crate::stop::{StopKind, TriggerBy};

fn stop(
    account: AccountId,
    side: Side,
    kind: StopKind,
    trigger: i64,
    by: TriggerBy,
    qty: i64,
    reduce_only: bool,
) -> CommandKind {
    CommandKind::PlaceStop(NewStop {
        account,
        market: M,
        side,
        kind,
        trigger: Price(trigger),
        trigger_by: by,
        qty: Qty(qty),
        client_id: None,
        stp: StpMode::ExpireTaker,
        reduce_only,
    })
}

fn triggered(ev: &[EventKind]) -> Vec<u64> {
    ev.iter()
        .filter_map(|e| if let EventKind::StopTriggered { stop_id, .. } = e { Some(stop_id.0) } else { None })
        .collect()
}

#[test]
fn a_stop_loss_on_mark_closes_the_long_when_the_mark_falls_to_its_trigger() {
    let mut v = Venue::new(10_000);
    v.trade(B, A, Buy, 100, 10); // A long 10; orders 1, 2
    // A sell stop at or above the mark would trigger at once: refused.
    assert!(matches!(
        v.rejected(stop(A, Sell, StopKind::StopMarket, 100, TriggerBy::Mark, 10, true)),
        RejectReason::StopWouldTriggerNow { .. }
    ));
    v.ok(stop(A, Sell, StopKind::StopMarket, 96, TriggerBy::Mark, 10, true)); // stop 3
    v.ok(place(C, Buy, 95, 10, TimeInForce::Gtc, false)); // order 4
    assert!(triggered(&v.ok(CommandKind::SetMark { market: M, price: Price(97) })).is_empty());
    let ev = v.ok(CommandKind::SetMark { market: M, price: Price(96) });
    assert_eq!(triggered(&ev), vec![3]);
    // The stop became market order 3, sold into C's bid and closed A.
    assert!(ev.iter().any(
        |e| matches!(e, EventKind::Fill(f) if f.taker_order == OrderId(3) && f.price == Price(95) && f.qty == Qty(10))
    ));
    assert_eq!(v.position(A).0, 0);
}

#[test]
fn a_take_profit_limit_on_last_price_rests_its_limit_when_a_trade_reaches_the_trigger() {
    let mut v = Venue::new(10_000);
    v.trade(B, A, Buy, 100, 5); // last price 100
    v.ok(stop(
        A,
        Sell,
        StopKind::TakeProfitLimit { price: Price(104), tif: TimeInForce::Gtc },
        103,
        TriggerBy::Last,
        5,
        true,
    ));
    // The mark moving does not trigger a last-price stop.
    v.ok(CommandKind::SetMark { market: M, price: Price(103) });
    assert!(v.engine.market(M).unwrap().stops.contains_key(&OrderId(3)));
    // A trade at 103 between B and C does.
    let ev = {
        v.ok(place(B, Sell, 103, 1, TimeInForce::Gtc, false));
        v.ok(place(C, Buy, 103, 1, TimeInForce::Ioc, false))
    };
    assert_eq!(triggered(&ev), vec![3]);
    let resting = v.engine.market(M).unwrap().book.get(OrderId(3)).unwrap();
    assert_eq!((resting.price, resting.qty, resting.reduce_only), (Price(104), Qty(5), true));
}

#[test]
fn a_triggered_order_that_fails_its_checks_is_cancelled_with_the_reason() {
    let mut v = Venue::new(10_000);
    v.trade(B, A, Buy, 100, 5);
    let mut s = stop(A, Sell, StopKind::StopMarket, 97, TriggerBy::Mark, 5, true);
    if let CommandKind::PlaceStop(n) = &mut s {
        n.client_id = Some(ClientOrderId::new("sl-1").unwrap());
    }
    v.ok(s); // stop 3
    v.trade(C, A, Sell, 100, 5); // A closes by hand: the reduce-only stop has nothing to reduce
    let ev = v.ok(CommandKind::SetMark { market: M, price: Price(97) });
    assert_eq!(triggered(&ev), vec![3]);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            EventKind::TriggeredOrderRejected { reason: RejectReason::ReduceOnlyWouldIncrease, .. }
        ))
    );
    let cid = ClientOrderId::new("sl-1").unwrap();
    let entry = v.engine.client_orders().get(A, &cid).unwrap();
    assert_eq!(entry.terminal, Some((OrderStatus::Cancelled(CancelReason::TriggerRejected), Qty(0))));
}

#[test]
fn triggers_are_bounded_per_command_and_the_rest_fire_in_the_next() {
    let config = EngineConfig { max_stop_triggers_per_command: 2, ..EngineConfig::default() };
    let mut v = Venue::with(10_000, config, spec());
    for _ in 0..3 {
        v.ok(stop(
            A,
            Buy,
            StopKind::StopLimit { price: Price(100), tif: TimeInForce::Gtc },
            102,
            TriggerBy::Mark,
            1,
            false,
        ));
    }
    let ev = v.ok(CommandKind::SetMark { market: M, price: Price(102) });
    assert_eq!(triggered(&ev), vec![1, 2]);
    let ev = v.ok(CommandKind::Tick);
    assert_eq!(triggered(&ev), vec![3]);
    assert!(v.engine.market(M).unwrap().stops.is_empty());
}

#[test]
fn stops_are_cancelled_by_id_by_cancel_all_and_limited_per_account() {
    let limits = MarketLimits { max_stops_per_account: 2, ..MarketLimits::default() };
    let mut v = Venue::with(10_000, EngineConfig::default(), MarketSpec { limits, ..spec() });
    v.ok(stop(A, Buy, StopKind::StopMarket, 103, TriggerBy::Mark, 1, false)); // 1
    v.ok(stop(A, Buy, StopKind::TakeProfitMarket, 97, TriggerBy::Mark, 1, false)); // 2
    assert_eq!(
        v.rejected(stop(A, Buy, StopKind::StopMarket, 104, TriggerBy::Mark, 1, false)),
        RejectReason::TooManyStops(2)
    );
    // B can't see or cancel A's stop.
    assert!(matches!(
        v.rejected(CommandKind::CancelOrder { account: B, market: M, order: crate::command::OrderRef::Id(OrderId(1)) }),
        RejectReason::UnknownOrder(_)
    ));
    let ev = v.ok(CommandKind::CancelOrder { account: A, market: M, order: crate::command::OrderRef::Id(OrderId(1)) });
    assert!(matches!(ev[0], EventKind::OrderCancelled { order_id: OrderId(1), reason: CancelReason::UserRequest, .. }));
    let ev = v.ok(CommandKind::CancelAll { account: A, market: None });
    assert!(matches!(ev[0], EventKind::OrderCancelled { order_id: OrderId(2), reason: CancelReason::CancelAll, .. }));
    assert!(v.engine.market(M).unwrap().stops.is_empty());
}

#[test]
fn a_stop_on_last_price_can_trigger_another_in_the_same_command() {
    let mut v = Venue::new(10_000);
    v.ok(place(B, Sell, 101, 1, TimeInForce::Gtc, false)); // 1
    v.ok(place(B, Sell, 103, 1, TimeInForce::Gtc, false)); // 2
    v.ok(stop(A, Buy, StopKind::StopMarket, 101, TriggerBy::Last, 1, false)); // 3: fires on a trade at 101
    v.ok(stop(C, Buy, StopKind::StopMarket, 103, TriggerBy::Last, 1, false)); // 4: fires on a trade at 103
    // C buys at 101: last 101 → stop 3 buys the 103 offer → last 103 → stop 4 fires (nothing left to buy).
    let ev = v.ok(place(C, Buy, 101, 1, TimeInForce::Ioc, false));
    assert_eq!(triggered(&ev), vec![3, 4]);
    assert_eq!(v.engine.market(M).unwrap().last_price, Some(Price(103)));
}

#[test]
fn the_margin_mode_changes_only_with_no_position_no_open_order_and_no_stop() {
    let mut v = Venue::new(10_000);
    let isolated = CommandKind::SetMarginMode { account: A, market: M, mode: crate::account::MarginMode::Isolated };
    // A resting order would be margined one way when placed and another when filled.
    v.ok(place(A, Buy, 99, 10, TimeInForce::Gtc, false));
    assert_eq!(v.rejected(isolated.clone()), RejectReason::MarginModeChangeBlocked);
    v.ok(CommandKind::CancelAll { account: A, market: Some(M) });
    // So would a stop waiting for its trigger.
    v.ok(stop(A, Buy, StopKind::StopMarket, 104, TriggerBy::Mark, 10, false));
    assert_eq!(v.rejected(isolated.clone()), RejectReason::MarginModeChangeBlocked);
    v.ok(CommandKind::CancelAll { account: A, market: Some(M) });
    assert!(v.engine.market(M).unwrap().stops.is_empty(), "cancel-all removes the stops too");
    v.ok(isolated);
    assert_eq!(v.engine.account(A).unwrap().mode(M), crate::account::MarginMode::Isolated);
}
