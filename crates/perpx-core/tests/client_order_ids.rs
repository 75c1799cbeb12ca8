//! Client order ids (`docs/ENGINE.md`, "Client order ids"): an id is held from its order's
//! acceptance until `client_order_retention_ms` later *and* until the order has left the book.
//! While held, a new order with the id places nothing and is answered with the holder's status.

use perpx_core::{
    AccountId, CancelReason, Engine, EngineConfig, EventKind, OrderId, OrderStatus, Qty, Side, StpMode, TimeInForce,
};
use perpx_testkit::fixtures::{TEST_MARK, by_id, cancel, cid, create_market, deposit, limit_with, set_mark, test_spec};
use perpx_testkit::stream::STREAM_DEPOSIT;

const RETENTION: i64 = 1_000;

/// An engine with the test market at its mark and a 1 s retention.
fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig { client_order_retention_ms: RETENTION, ..EngineConfig::default() });
    e.apply(&create_market(0, test_spec()));
    e.apply(&set_mark(0, 0, TEST_MARK.0));
    for account in [1, 2] {
        e.apply(&deposit(0, account, STREAM_DEPOSIT));
    }
    e
}

/// A resting buy of 3 lots at 990 by account 1 with client id `x`.
fn resting_x(ts: i64) -> perpx_core::Command {
    limit_with(ts, 1, 0, Side::Buy, 990, 3, TimeInForce::Gtc, StpMode::ExpireTaker, Some("x"))
}

fn accepted_id(events: &[perpx_core::Event]) -> Option<OrderId> {
    events.iter().find_map(|e| match e.kind {
        EventKind::OrderAccepted { order_id, .. } => Some(order_id),
        _ => None,
    })
}

fn duplicate_status(events: &[perpx_core::Event]) -> Option<(OrderId, OrderStatus, Qty, Qty)> {
    match events {
        [e] => match &e.kind {
            EventKind::DuplicateClientOrderId { order_id, status, filled, open, .. } => {
                Some((*order_id, *status, *filled, *open))
            }
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn an_open_order_keeps_its_id_past_the_retention() {
    let mut e = engine();
    let first = accepted_id(&e.apply(&resting_x(10))).expect("accepted");
    let again = e.apply(&resting_x(10 + 5 * RETENTION));
    assert_eq!(duplicate_status(&again), Some((first, OrderStatus::Open, Qty(0), Qty(3))));
    e.check_invariants().unwrap();
}

#[test]
fn a_cancelled_order_holds_its_id_until_the_retention_has_passed() {
    let mut e = engine();
    let first = accepted_id(&e.apply(&resting_x(10))).expect("accepted");
    e.apply(&cancel(20, 1, 0, by_id(first.0)));
    // Still inside the window: the retried request is answered, not placed.
    let again = e.apply(&resting_x(10 + RETENTION - 1));
    assert_eq!(
        duplicate_status(&again),
        Some((first, OrderStatus::Cancelled(CancelReason::UserRequest), Qty(0), Qty(0)))
    );
    // Exactly one retention after acceptance the id is free again.
    let placed = e.apply(&resting_x(10 + RETENTION));
    assert!(accepted_id(&placed).is_some(), "{placed:?}");
    e.check_invariants().unwrap();
}

#[test]
fn another_account_may_use_the_same_id() {
    let mut e = engine();
    assert!(accepted_id(&e.apply(&resting_x(10))).is_some());
    let other = limit_with(10, 2, 0, Side::Buy, 990, 3, TimeInForce::Gtc, StpMode::ExpireTaker, Some("x"));
    assert!(accepted_id(&e.apply(&other)).is_some());
}

#[test]
fn a_rejected_order_holds_nothing() {
    let mut e = engine();
    // 1 lot is below the market's minimum of 2: rejected.
    let rejected = limit_with(10, 1, 0, Side::Buy, 990, 1, TimeInForce::Gtc, StpMode::ExpireTaker, Some("x"));
    assert!(matches!(e.apply(&rejected)[0].kind, EventKind::Rejected { .. }));
    assert!(e.client_orders().get(AccountId(1), &cid("x")).is_none());
    assert!(accepted_id(&e.apply(&resting_x(10))).is_some());
}

/// The order outlived its retention; once it leaves the book both conditions hold and the id
/// must be free for the next order. (The engine instead re-queues an id found open at its
/// deadline for a whole new window, so it stays held up to one retention after the cancel.)
#[test]
fn an_order_that_outlived_its_retention_frees_its_id_when_it_leaves_the_book() {
    let mut e = engine();
    let first = accepted_id(&e.apply(&resting_x(0))).expect("accepted");
    // 1.5 retentions later: the window has passed but the order is still open, so it is held.
    let cancelled = e.apply(&cancel(1_500, 1, 0, by_id(first.0)));
    assert!(matches!(cancelled[0].kind, EventKind::OrderCancelled { .. }));
    // Accepted 1.6 s ago (> 1 s) and no longer in the book: the id is free.
    let placed = e.apply(&resting_x(1_600));
    assert!(
        accepted_id(&placed).is_some(),
        "client id 'x' should be free (retention passed and the order left the book), got {placed:?}"
    );
    e.check_invariants().unwrap();
}
