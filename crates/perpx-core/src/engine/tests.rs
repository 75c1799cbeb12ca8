//! Worked examples of every order type, amend, self-trade mode and rejection. Each test is a
//! small script: the commands, then the exact events or book it must produce.
//!
//! The market used here has tick 1 and lot 1 (so prices and sizes read as plain numbers), a
//! 5 % order band and mark 100 unless a test moves it: orders must be priced in [95, 105].

use super::*;
use crate::book::Side::{self, Buy, Sell};
use crate::command::{Amend, NewOrder, OrderRef, OrderType, TimeInForce};
use crate::event::{Fill, QueuePriority};
use crate::ids::{AccountId, ClientOrderId, OrderId, TradeId};
use crate::market::{MarginTier, MarketLimits};
use crate::num::{Decimal, Qty, Quote, Rate};

const M: MarketId = MarketId(0);
const A: AccountId = AccountId(1);
const B: AccountId = AccountId(2);
const C: AccountId = AccountId(3);

fn spec() -> MarketSpec {
    MarketSpec {
        symbol: "TEST-PERP".into(),
        tick_size: Decimal::new(1, 0),
        lot_size: Decimal::new(1, 0),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 20,
        tiers: vec![MarginTier {
            max_notional: Quote(1_000_000_000_000),
            max_leverage: 20,
            maintenance_rate: Rate(2_000_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(0),
        taker_fee: Rate(0),
        order_band: Rate(5_000_000),
        limits: MarketLimits {
            max_open_orders_per_account: 4,
            max_price_levels: 6,
            max_stops_per_account: 0,
            max_order_qty: Qty(1_000),
        },
        oracle: crate::market::OracleSpec::default(),
        funding: crate::market::FundingSpec::default(),
        liquidation: crate::market::LiquidationSpec::default(),
    }
}

/// A test venue: one market at mark 100, a clock that ticks 1 ms per command.
struct Venue {
    engine: Engine,
    ts: i64,
}

impl Venue {
    fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    fn with_config(config: EngineConfig) -> Self {
        let mut v = Self { engine: Engine::new(config), ts: 1_000 };
        v.ok(CommandKind::CreateMarket(Box::new(spec())));
        v.ok(CommandKind::SetMark { market: M, price: Price(100) });
        for account in [A, B, C] {
            v.ok(CommandKind::Deposit { account, amount: Quote(1_000_000 * 1_000_000) });
        }
        v
    }

    fn run(&mut self, kind: CommandKind) -> Vec<EventKind> {
        self.ts += 1;
        let events = self.engine.apply(&Command { ts: Timestamp(self.ts), kind });
        self.engine.check_invariants().unwrap();
        events.into_iter().map(|e| e.kind).collect()
    }

    /// Runs a command that must not be rejected.
    fn ok(&mut self, kind: CommandKind) -> Vec<EventKind> {
        let events = self.run(kind);
        assert!(!events.iter().any(|e| matches!(e, EventKind::Rejected { .. })), "{events:?}");
        events
    }

    /// Runs a command that must be rejected with `code`, at the same timestamp as the previous
    /// command, and checks that the state hash did not move.
    fn rejected(&mut self, kind: CommandKind, code: u16) {
        let before = self.engine.state_hash();
        let events = self.engine.apply(&Command { ts: Timestamp(self.ts), kind });
        assert_eq!(events.len(), 1, "{events:?}");
        match &events[0].kind {
            EventKind::Rejected { reason, .. } => assert_eq!(reason.code(), code, "{reason}"),
            other => panic!("expected rejection {code}, got {other:?}"),
        }
        assert_eq!(self.engine.state_hash(), before, "a rejection changed the state");
        self.engine.check_invariants().unwrap();
    }

    fn book(&self, side: Side) -> Vec<(i64, Vec<(u64, i64)>)> {
        let book = &self.engine.market(M).unwrap().book;
        book.levels(side).map(|(p, l)| (p.0, book.level_orders(l).map(|o| (o.id.0, o.qty.0)).collect())).collect()
    }
}

fn order(account: AccountId, side: Side, order_type: OrderType, qty: i64) -> NewOrder {
    NewOrder {
        account,
        market: M,
        side,
        order_type,
        qty: Qty(qty),
        client_id: None,
        stp: StpMode::ExpireTaker,
        reduce_only: false,
    }
}

fn limit(account: AccountId, side: Side, price: i64, qty: i64, tif: TimeInForce) -> CommandKind {
    CommandKind::PlaceOrder(order(account, side, OrderType::Limit { price: Price(price), tif }, qty))
}

fn gtc(account: AccountId, side: Side, price: i64, qty: i64) -> CommandKind {
    limit(account, side, price, qty, TimeInForce::Gtc)
}

fn with_stp(kind: CommandKind, stp: StpMode) -> CommandKind {
    match kind {
        CommandKind::PlaceOrder(o) => CommandKind::PlaceOrder(NewOrder { stp, ..o }),
        other => other,
    }
}

fn with_cid(kind: CommandKind, cid: &str) -> CommandKind {
    match kind {
        CommandKind::PlaceOrder(o) => {
            CommandKind::PlaceOrder(NewOrder { client_id: Some(ClientOrderId::new(cid).unwrap()), ..o })
        }
        other => other,
    }
}

fn amend(account: AccountId, id: u64, price: Option<i64>, qty: Option<i64>) -> CommandKind {
    CommandKind::AmendOrder(Amend {
        account,
        market: M,
        order: OrderRef::Id(OrderId(id)),
        price: price.map(Price),
        qty: qty.map(Qty),
    })
}

fn cancel(account: AccountId, id: u64) -> CommandKind {
    CommandKind::CancelOrder { account, market: M, order: OrderRef::Id(OrderId(id)) }
}

/// (maker order, taker order, price, qty) of every fill.
fn fills(events: &[EventKind]) -> Vec<(u64, u64, i64, i64)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Fill(f) => Some((f.maker_order.0, f.taker_order.0, f.price.0, f.qty.0)),
            _ => None,
        })
        .collect()
}

/// (order, qty, reason) of every cancel.
fn cancels(events: &[EventKind]) -> Vec<(u64, i64, CancelReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::OrderCancelled { order_id, qty, reason, .. } => Some((order_id.0, qty.0, *reason)),
            _ => None,
        })
        .collect()
}

// ---- limit orders and price-time priority ------------------------------------------------

#[test]
fn a_taker_sweeps_levels_best_price_first_then_earliest_first_and_rests_its_rest() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 101, 5)); // order 1
    v.ok(gtc(B, Sell, 101, 3)); // order 2, behind 1 at 101
    v.ok(gtc(A, Sell, 102, 4)); // order 3
    let ev = v.ok(gtc(C, Buy, 102, 10)); // order 4
    assert_eq!(fills(&ev), vec![(1, 4, 101, 5), (2, 4, 101, 3), (3, 4, 102, 2)]);
    // 10 − 8 − 2 = 0: nothing rests on the bid side; 2 of order 3 remain.
    assert_eq!(v.book(Buy), vec![]);
    assert_eq!(v.book(Sell), vec![(102, vec![(3, 2)])]);
    match &ev[..2] {
        [EventKind::OrderAccepted { order_id, .. }, EventKind::Fill(fill)] => {
            let Fill { trade_id, taker_side, maker_remaining, taker_remaining, .. } = &**fill;
            assert_eq!((*order_id, *trade_id, *taker_side), (OrderId(4), TradeId(1), Buy));
            assert_eq!((*maker_remaining, *taker_remaining), (Qty(0), Qty(5)));
        }
        other => panic!("{other:?}"),
    }
    // A buy that crosses only partly rests its rest at its limit.
    let ev = v.ok(gtc(C, Buy, 102, 7)); // order 5
    assert_eq!(fills(&ev), vec![(3, 5, 102, 2)]);
    assert_eq!(v.book(Buy), vec![(102, vec![(5, 5)])]);
    assert_eq!(v.book(Sell), vec![]);
}

#[test]
fn ioc_trades_what_crosses_and_cancels_the_rest() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 100, 3));
    let ev = v.ok(limit(B, Buy, 101, 5, TimeInForce::Ioc));
    assert_eq!(fills(&ev), vec![(1, 2, 100, 3)]);
    assert_eq!(cancels(&ev), vec![(2, 2, CancelReason::IocRemainder)]);
    // Against an empty side an IOC is accepted and cancelled whole.
    let ev = v.ok(limit(B, Buy, 101, 5, TimeInForce::Ioc));
    assert!(matches!(ev[0], EventKind::OrderAccepted { .. }));
    assert_eq!(cancels(&ev), vec![(3, 5, CancelReason::IocRemainder)]);
    assert_eq!(v.book(Buy), vec![]);
}

#[test]
fn fok_fills_completely_or_is_rejected_with_nothing_done() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 100, 3));
    v.ok(gtc(A, Sell, 101, 3));
    v.rejected(limit(B, Buy, 101, 7, TimeInForce::Fok), 4002);
    v.rejected(limit(B, Buy, 100, 4, TimeInForce::Fok), 4002); // limit 100 reaches only 3
    let ev = v.ok(limit(B, Buy, 101, 6, TimeInForce::Fok));
    assert_eq!(fills(&ev), vec![(1, 3, 100, 3), (2, 3, 101, 3)]);
    assert!(cancels(&ev).is_empty());
}

#[test]
fn fok_counts_only_liquidity_that_self_trade_prevention_lets_it_reach() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 100, 3)); // own order in front
    v.ok(gtc(B, Sell, 100, 3));
    // expire_taker would stop at A's own order: nothing reachable.
    v.rejected(limit(A, Buy, 100, 3, TimeInForce::Fok), 4002);
    // expire_maker skips (and cancels) A's order: B's 3 are reachable.
    let ev = v.ok(with_stp(limit(A, Buy, 100, 3, TimeInForce::Fok), StpMode::ExpireMaker));
    assert_eq!(cancels(&ev), vec![(1, 3, CancelReason::SelfTradePrevention)]);
    assert_eq!(fills(&ev), vec![(2, 3, 100, 3)]);
}

#[test]
fn post_only_rests_or_is_rejected_never_repriced() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 101, 3));
    v.rejected(limit(B, Buy, 101, 1, TimeInForce::PostOnly), 4001);
    v.rejected(limit(B, Buy, 102, 1, TimeInForce::PostOnly), 4001);
    let ev = v.ok(limit(B, Buy, 100, 1, TimeInForce::PostOnly));
    assert_eq!(ev.len(), 1);
    assert_eq!(v.book(Buy), vec![(100, vec![(2, 1)])]);
}

#[test]
fn a_market_order_trades_up_to_the_band_edge_and_never_rests() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 104, 2)); // inside the band at mark 100: [95, 105]
    v.ok(gtc(A, Sell, 105, 2));
    // The mark falls to 96: band [⌈91.2⌉, ⌊100.8⌋] = [92, 100]. Both asks are beyond it now.
    v.ok(CommandKind::SetMark { market: M, price: Price(96) });
    let ev = v.ok(CommandKind::PlaceOrder(order(B, Buy, OrderType::Market, 3)));
    assert!(fills(&ev).is_empty());
    assert_eq!(cancels(&ev), vec![(3, 3, CancelReason::MarketRemainder)]);
    // Back at 100 the band is [95, 105]: the market buy takes 104 then 105, the rest is cancelled.
    v.ok(CommandKind::SetMark { market: M, price: Price(100) });
    let ev = v.ok(CommandKind::PlaceOrder(order(B, Buy, OrderType::Market, 5)));
    assert_eq!(fills(&ev), vec![(1, 4, 104, 2), (2, 4, 105, 2)]);
    assert_eq!(cancels(&ev), vec![(4, 1, CancelReason::MarketRemainder)]);
    assert_eq!(v.book(Sell), vec![]);
}

#[test]
fn limit_prices_are_checked_against_the_band_of_the_current_mark() {
    let outside = RejectReason::PriceOutsideBand { price: Price(0), low: Price(0), high: Price(0) }.code();
    let mut v = Venue::new();
    v.ok(gtc(A, Buy, 95, 1)); // the band's low edge at mark 100
    v.rejected(gtc(A, Buy, 94, 1), outside);
    // Mark 96: [92, 100]. 94 is in, 101 is out, and an amend is checked the same way.
    v.ok(CommandKind::SetMark { market: M, price: Price(96) });
    assert_eq!(v.engine.market(M).unwrap().order_band(), Some((Price(92), Price(100))));
    v.ok(gtc(A, Buy, 94, 1));
    v.rejected(gtc(B, Sell, 101, 1), outside);
    v.rejected(amend(A, 1, Some(91), None), outside);
    // The band is kept with the mark; one that is not is an invariant breach.
    v.engine.markets[M.index()].band = Some((Price(95), Price(105)));
    assert!(v.engine.check_invariants().unwrap_err().contains("order band"));
}

// ---- amend --------------------------------------------------------------------------------

#[test]
fn a_size_decrease_keeps_the_queue_place_an_increase_or_a_price_change_loses_it() {
    let mut v = Venue::new();
    v.ok(gtc(A, Buy, 99, 5)); // 1
    v.ok(gtc(B, Buy, 99, 5)); // 2
    let ev = v.ok(amend(A, 1, None, Some(4)));
    assert!(matches!(ev[0], EventKind::OrderAmended { priority: QueuePriority::Kept, qty: Qty(4), .. }));
    assert_eq!(v.book(Buy), vec![(99, vec![(1, 4), (2, 5)])]);
    let ev = v.ok(amend(A, 1, None, Some(6)));
    assert!(matches!(ev[0], EventKind::OrderAmended { priority: QueuePriority::Lost, .. }));
    assert_eq!(v.book(Buy), vec![(99, vec![(2, 5), (1, 6)])]);
    let ev = v.ok(amend(B, 2, Some(98), None));
    assert!(matches!(ev[0], EventKind::OrderAmended { priority: QueuePriority::Lost, price: Price(98), .. }));
    v.ok(amend(B, 2, Some(99), None));
    assert_eq!(v.book(Buy), vec![(99, vec![(1, 6), (2, 5)])]);
    // A seller now meets order 1 first.
    let ev = v.ok(gtc(C, Sell, 99, 7));
    assert_eq!(fills(&ev), vec![(1, 3, 99, 6), (2, 3, 99, 1)]);
}

#[test]
fn an_amend_that_crosses_trades_as_a_taker_and_rests_the_rest() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 101, 2)); // 1
    v.ok(gtc(B, Buy, 99, 5)); // 2
    let ev = v.ok(amend(B, 2, Some(101), None));
    assert!(matches!(ev[0], EventKind::OrderAmended { priority: QueuePriority::Lost, .. }));
    assert_eq!(fills(&ev), vec![(1, 2, 101, 2)]);
    assert_eq!(v.book(Buy), vec![(101, vec![(2, 3)])]);
    // Filled size accumulates across the amend.
    assert_eq!(v.engine.market(M).unwrap().book.get(OrderId(2)).unwrap().filled, Qty(2));
}

#[test]
fn amend_rejections() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 101, 2)); // 1
    v.ok(limit(B, Buy, 99, 5, TimeInForce::PostOnly)); // 2
    v.rejected(amend(B, 2, Some(101), None), 4001); // post-only would take
    v.rejected(amend(B, 2, Some(99), Some(5)), 4006); // nothing changes
    v.rejected(amend(B, 2, None, Some(0)), 3001);
    v.rejected(amend(B, 2, None, Some(1_001)), 3002);
    v.rejected(amend(B, 2, Some(94), None), 3008);
    v.rejected(amend(A, 2, None, Some(1)), 4005); // not A's order
    v.rejected(amend(B, 77, None, Some(1)), 4005);
}

// ---- self-trade prevention ------------------------------------------------------------

#[test]
fn expire_taker_cancels_the_incoming_rest_and_keeps_the_resting_order() {
    let mut v = Venue::new();
    v.ok(gtc(B, Sell, 100, 2)); // 1
    v.ok(gtc(A, Sell, 100, 2)); // 2 (own, behind B)
    v.ok(gtc(B, Sell, 100, 2)); // 3
    let ev = v.ok(gtc(A, Buy, 100, 6)); // 4
    assert_eq!(fills(&ev), vec![(1, 4, 100, 2)]);
    assert_eq!(cancels(&ev), vec![(4, 4, CancelReason::SelfTradePrevention)]);
    assert_eq!(v.book(Sell), vec![(100, vec![(2, 2), (3, 2)])]);
    assert_eq!(v.book(Buy), vec![]);
}

#[test]
fn expire_maker_cancels_the_resting_order_and_keeps_matching() {
    let mut v = Venue::new();
    v.ok(gtc(B, Sell, 100, 2)); // 1
    v.ok(gtc(A, Sell, 100, 2)); // 2
    v.ok(gtc(B, Sell, 100, 2)); // 3
    let ev = v.ok(with_stp(gtc(A, Buy, 100, 6), StpMode::ExpireMaker)); // 4
    assert_eq!(fills(&ev), vec![(1, 4, 100, 2), (3, 4, 100, 2)]);
    assert_eq!(cancels(&ev), vec![(2, 2, CancelReason::SelfTradePrevention)]);
    assert_eq!(v.book(Buy), vec![(100, vec![(4, 2)])]);
}

#[test]
fn expire_both_cancels_the_resting_order_and_the_incoming_rest() {
    let mut v = Venue::new();
    v.ok(gtc(B, Sell, 100, 2)); // 1
    v.ok(gtc(A, Sell, 100, 2)); // 2
    v.ok(gtc(B, Sell, 100, 2)); // 3
    let ev = v.ok(with_stp(gtc(A, Buy, 100, 6), StpMode::ExpireBoth)); // 4
    assert_eq!(fills(&ev), vec![(1, 4, 100, 2)]);
    assert_eq!(
        cancels(&ev),
        vec![(2, 2, CancelReason::SelfTradePrevention), (4, 4, CancelReason::SelfTradePrevention)]
    );
    assert_eq!(v.book(Sell), vec![(100, vec![(3, 2)])]);
}

// ---- client order ids -----------------------------------------------------------------

#[test]
fn a_reused_client_id_places_nothing_and_answers_with_the_original_status() {
    let mut v = Venue::new();
    v.ok(with_cid(gtc(A, Buy, 99, 5), "bid-1"));
    let before = v.engine.state_hash();
    let ev = v.engine.apply(&Command { ts: Timestamp(v.ts), kind: with_cid(gtc(A, Buy, 98, 1), "bid-1") });
    assert_eq!(v.engine.state_hash(), before);
    match &ev[..] {
        [Event { kind: EventKind::DuplicateClientOrderId { order_id, status, filled, open, .. }, .. }] => {
            assert_eq!((*order_id, *status, *filled, *open), (OrderId(1), OrderStatus::Open, Qty(0), Qty(5)));
        }
        other => panic!("{other:?}"),
    }
    // Another account may use the same id.
    v.ok(with_cid(gtc(B, Sell, 99, 2), "bid-1"));
    let ev = v.ok(with_cid(gtc(A, Buy, 98, 1), "bid-1"));
    assert!(matches!(
        ev[0],
        EventKind::DuplicateClientOrderId { status: OrderStatus::Open, filled: Qty(2), open: Qty(3), .. }
    ));
    // Cancel by client id; the id stays held with the final status.
    let cid = ClientOrderId::new("bid-1").unwrap();
    v.ok(CommandKind::CancelOrder { account: A, market: M, order: OrderRef::Client(cid) });
    let ev = v.ok(with_cid(gtc(A, Buy, 98, 1), "bid-1"));
    assert!(matches!(
        ev[0],
        EventKind::DuplicateClientOrderId {
            status: OrderStatus::Cancelled(CancelReason::UserRequest),
            filled: Qty(2),
            open: Qty(0),
            ..
        }
    ));
}

#[test]
fn a_client_id_is_released_after_retention_once_its_order_has_left_the_book() {
    let mut v = Venue::with_config(EngineConfig { client_order_retention_ms: 100, ..EngineConfig::default() });
    v.ok(with_cid(gtc(A, Buy, 99, 5), "x")); // 1, stays open
    v.ok(with_cid(limit(A, Buy, 99, 5, TimeInForce::Ioc), "y")); // 2, cancelled at once
    v.ts += 200;
    // "y" is free again; "x" is still held because its order is still open.
    let ev = v.ok(with_cid(gtc(A, Buy, 98, 1), "y"));
    assert!(matches!(ev[0], EventKind::OrderAccepted { order_id: OrderId(3), .. }));
    let ev = v.ok(with_cid(gtc(A, Buy, 98, 1), "x"));
    assert!(matches!(ev[0], EventKind::DuplicateClientOrderId { order_id: OrderId(1), .. }));
    v.ok(cancel(A, 1));
    v.ts += 200;
    let ev = v.ok(with_cid(gtc(A, Buy, 97, 1), "x"));
    assert!(matches!(ev[0], EventKind::OrderAccepted { order_id: OrderId(4), .. }));
}

// ---- cancels ----------------------------------------------------------------------------

#[test]
fn cancel_all_and_mass_cancel_go_in_order_id_order() {
    let mut v = Venue::new();
    v.ok(gtc(A, Buy, 99, 1)); // 1
    v.ok(gtc(B, Buy, 99, 1)); // 2
    v.ok(gtc(A, Sell, 101, 1)); // 3
    v.ok(gtc(A, Buy, 98, 1)); // 4
    let ev = v.ok(CommandKind::CancelAll { account: A, market: Some(M) });
    let ids: Vec<u64> = cancels(&ev).iter().map(|c| c.0).collect();
    assert_eq!(ids, vec![1, 3, 4]);
    assert!(cancels(&ev).iter().all(|c| c.2 == CancelReason::CancelAll));
    v.ok(gtc(C, Sell, 102, 1)); // 5
    let ev = v.ok(CommandKind::MassCancel { market: M });
    assert_eq!(cancels(&ev), vec![(2, 1, CancelReason::MassCancel), (5, 1, CancelReason::MassCancel)]);
    assert_eq!(v.engine.market(M).unwrap().book.order_count(), 0);
    // cancelling again is a rejection; cancelling nothing in bulk is not
    v.rejected(cancel(A, 1), 4005);
    assert!(v.ok(CommandKind::CancelAll { account: A, market: None }).is_empty());
}

// ---- rejections -------------------------------------------------------------------------

#[test]
fn every_order_rejection_names_its_reason_and_changes_nothing() {
    let mut v = Venue::new();
    v.ok(gtc(A, Sell, 101, 2));
    v.rejected(gtc(A, Buy, 99, 0), 3001);
    v.rejected(gtc(A, Buy, 99, -5), 3001);
    v.rejected(gtc(A, Buy, 99, 1_001), 3002);
    v.rejected(gtc(A, Buy, 99, i64::MAX), 3002);
    v.rejected(gtc(A, Buy, 0, 1), 3005);
    v.rejected(gtc(A, Buy, -99, 1), 3005);
    v.rejected(gtc(A, Buy, 94, 1), 3008);
    v.rejected(gtc(A, Sell, 106, 1), 3008);
    v.rejected(gtc(A, Buy, i64::MAX, 1), 3008);
    v.rejected(CommandKind::PlaceOrder(NewOrder { market: MarketId(9), ..order(A, Buy, OrderType::Market, 1) }), 2001);
    v.rejected(CommandKind::SetMark { market: M, price: Price(0) }, 2006);
    v.rejected(CommandKind::CreateMarket(Box::new(spec())), 2003);
    v.rejected(
        CommandKind::CreateMarket(Box::new(MarketSpec { symbol: "X".into(), order_band: Rate(0), ..spec() })),
        2004,
    );
    // time never goes backwards
    let before = v.engine.state_hash();
    let ev = v.engine.apply(&Command { ts: Timestamp(v.ts - 1), kind: CommandKind::Tick });
    assert!(matches!(&ev[0].kind, EventKind::Rejected { reason, .. } if reason.code() == 1001));
    assert_eq!(v.engine.state_hash(), before);
}

#[test]
fn orders_wait_for_a_mark_price() {
    let mut v = Venue::new();
    v.ok(CommandKind::CreateMarket(Box::new(MarketSpec { symbol: "NEW-PERP".into(), ..spec() })));
    let new = MarketId(1);
    v.rejected(CommandKind::PlaceOrder(NewOrder { market: new, ..order(A, Buy, OrderType::Market, 1) }), 2002);
    v.rejected(
        CommandKind::PlaceOrder(NewOrder {
            market: new,
            ..order(A, Buy, OrderType::Limit { price: Price(100), tif: TimeInForce::Gtc }, 1)
        }),
        2002,
    );
}

#[test]
fn limits_on_open_orders_and_price_levels_hold() {
    let mut v = Venue::new();
    for p in [95, 96, 97, 98] {
        v.ok(gtc(A, Buy, p, 1));
    }
    v.rejected(gtc(A, Buy, 99, 1), 4003); // A has 4 open orders, the limit
    // An IOC can't rest, so the open-order limit does not apply to it.
    v.ok(limit(A, Buy, 99, 1, TimeInForce::Ioc));
    v.ok(gtc(B, Buy, 99, 1));
    v.ok(gtc(B, Buy, 100, 1));
    // Six bid levels exist: a seventh is refused, joining an existing level is fine.
    v.rejected(gtc(C, Buy, 94 + 7, 1), 4004);
    v.ok(gtc(C, Buy, 100, 1));
    // Order 1 is alone at 95: moving it to a new price frees 95, so the side does not grow.
    v.ok(amend(A, 1, Some(101), None));
    // Order 7 (B at 100) shares its level with C's order: moving it to a new price would.
    v.rejected(amend(B, 7, Some(102), None), 4004);
    // Moving it to a price that has a level is fine at the limit.
    v.ok(amend(B, 7, Some(98), None));
}

#[test]
fn every_reject_code_is_unique() {
    let samples = [
        RejectReason::TimestampRegression { got: Timestamp(0), clock: Timestamp(1) },
        RejectReason::TimestampTooFarAhead { got: Timestamp(0), clock: Timestamp(1), max_step_ms: 0 },
        RejectReason::Malformed(String::new()),
        RejectReason::InvalidNumber { field: "".into(), detail: "".into() },
        RejectReason::UnknownMarket(String::new()),
        RejectReason::NoMarkPrice,
        RejectReason::DuplicateSymbol(String::new()),
        RejectReason::InvalidMarketSpec(String::new()),
        RejectReason::TooManyMarkets(0),
        RejectReason::NonPositiveMark(Price(0)),
        RejectReason::NonPositiveQty(Qty(0)),
        RejectReason::QtyAboveMax { qty: Qty(0), max: Qty(0) },
        RejectReason::QtyBelowMin { qty: Qty(0), min: Qty(0) },
        RejectReason::NotionalBelowMin { notional: Quote(0), min: Quote(0) },
        RejectReason::NonPositivePrice(Price(0)),
        RejectReason::PriceOffTick { price: "".into(), tick: "".into() },
        RejectReason::QtyOffLot { qty: "".into(), lot: "".into() },
        RejectReason::PriceOutsideBand { price: Price(0), low: Price(0), high: Price(0) },
        RejectReason::InvalidClientOrderId(String::new()),
        RejectReason::NotionalOverflow,
        RejectReason::PostOnlyWouldTake { best_opposite: Price(0) },
        RejectReason::FokCannotFill { qty: Qty(0), available: Qty(0) },
        RejectReason::TooManyOpenOrders(0),
        RejectReason::TooManyPriceLevels(0),
        RejectReason::UnknownOrder(String::new()),
        RejectReason::NothingToAmend(OrderId(0)),
        RejectReason::StopWouldTriggerNow { trigger: Price(0), reference: Price(0) },
        RejectReason::TooManyStops(0),
        RejectReason::MarketHalted,
        RejectReason::MarketDelisted,
        RejectReason::MarketNotHalted,
        RejectReason::ScheduleNotInFuture { effective_at: Timestamp(0), now: Timestamp(0) },
        RejectReason::MarketReduceOnly,
        RejectReason::UnknownOracleSource(String::new()),
        RejectReason::UnknownAccount(0),
        RejectReason::InsufficientMargin { required: Quote(0), available: Quote(0) },
        RejectReason::LeverageAboveTier { leverage: 0, max: 0 },
        RejectReason::InvalidLeverage { leverage: 0, max: 0 },
        RejectReason::ReduceOnlyWouldIncrease,
        RejectReason::WithdrawalAboveAvailable { requested: Quote(0), available: Quote(0) },
        RejectReason::NonPositiveAmount(Quote(0)),
        RejectReason::BalanceOverflow,
        RejectReason::MarginModeChangeBlocked,
        RejectReason::NotIsolated,
        RejectReason::IsolatedMarginAboveRemovable { requested: Quote(0), available: Quote(0) },
    ];
    let mut codes: Vec<u16> = samples.iter().map(RejectReason::code).collect();
    let mut names: Vec<&str> = samples.iter().map(RejectReason::name).collect();
    codes.sort_unstable();
    names.sort_unstable();
    let n = samples.len();
    codes.dedup();
    names.dedup();
    assert_eq!((codes.len(), names.len()), (n, n));
}
