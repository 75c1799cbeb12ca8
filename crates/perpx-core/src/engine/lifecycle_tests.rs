//! Worked examples of the market lifecycle: halt and resume, scheduled parameter changes with
//! their dry run, and delisting at a published price. Same venue as the margin examples.

use super::margin_tests::{A, B, C, M, USD, Venue, place, usd};
use super::*;
use crate::book::Side::{Buy, Sell};
use crate::command::{NewStop, OrderRef, ParamChange, TimeInForce};
use crate::ids::OrderId;
use crate::market::{MarginTier, MarketStatus};
use crate::num::{Qty, Quote, Rate};
use crate::stop::{StopKind, TriggerBy};

fn buy_stop(trigger: i64) -> CommandKind {
    CommandKind::PlaceStop(NewStop {
        account: A,
        market: M,
        side: Buy,
        kind: StopKind::StopMarket,
        trigger: Price(trigger),
        trigger_by: TriggerBy::Mark,
        qty: Qty(1),
        client_id: None,
        stp: StpMode::ExpireTaker,
        reduce_only: false,
    })
}

#[test]
fn a_halted_market_accepts_cancels_only_and_its_stops_wait_for_the_resume() {
    let mut v = Venue::new(10_000);
    v.ok(place(B, Sell, 103, 5, TimeInForce::Gtc, false)); // 1
    v.ok(buy_stop(102)); // 2
    v.ok(CommandKind::Halt { market: M });
    assert_eq!(v.rejected(place(A, Buy, 100, 1, TimeInForce::Gtc, false)), RejectReason::MarketHalted);
    assert_eq!(v.rejected(buy_stop(104)), RejectReason::MarketHalted);
    assert_eq!(v.rejected(CommandKind::Halt { market: M }), RejectReason::MarketHalted);
    // The mark still moves; the stop's condition now holds but it does not fire while halted.
    let ev = v.ok(CommandKind::SetMark { market: M, price: Price(102) });
    assert!(!ev.iter().any(|e| matches!(e, EventKind::StopTriggered { .. })));
    // Resuming runs the stop pass in the same command: the stop buys B's offer.
    let ev = v.ok(CommandKind::Resume { market: M });
    assert!(matches!(ev[0], EventKind::MarketResumed { .. }));
    assert!(ev.iter().any(|e| matches!(e, EventKind::Fill(f) if f.taker_order == OrderId(2) && f.price == Price(103))));
    assert_eq!(v.rejected(CommandKind::Resume { market: M }), RejectReason::MarketNotHalted);
    // Cancels went through during the halt too.
    v.ok(CommandKind::Halt { market: M });
    v.ok(CommandKind::CancelOrder { account: B, market: M, order: OrderRef::Id(OrderId(1)) });
}

#[test]
fn a_scheduled_change_is_announced_with_its_dry_run_and_takes_effect_on_time() {
    let mut v = Venue::new(10_000);
    v.ok(CommandKind::Withdraw { account: A, amount: usd(9_900) }); // A keeps 100 USD
    v.trade(B, A, Buy, 100, 20); // 2,000 USD at 20x: MM 2 % = 40
    v.ok(CommandKind::SetLeverage { account: B, market: M, leverage: 20 });
    // New tiers: MM 6 % (120 USD for A — above its ~100 of equity), max leverage 10x.
    let tiers = vec![
        MarginTier {
            max_notional: usd(10_000),
            max_leverage: 10,
            maintenance_rate: Rate(6_000_000),
            maintenance_amount: Quote(0),
        },
        MarginTier {
            max_notional: usd(100_000),
            max_leverage: 5,
            maintenance_rate: Rate(8_000_000),
            maintenance_amount: usd(200),
        },
    ];
    let change = ParamChange { tiers: Some(tiers), max_leverage: Some(10), ..ParamChange::default() };
    let at = Timestamp(v.ts + 1_000);
    assert_eq!(
        v.rejected(CommandKind::ScheduleParams {
            market: M,
            effective_at: Timestamp(v.ts),
            change: Box::new(change.clone())
        }),
        RejectReason::ScheduleNotInFuture { effective_at: Timestamp(v.ts), now: Timestamp(v.ts) }
    );
    let bad = ParamChange { max_leverage: Some(50), ..change.clone() };
    assert!(matches!(
        v.rejected(CommandKind::ScheduleParams { market: M, effective_at: at, change: Box::new(bad) }),
        RejectReason::InvalidMarketSpec(_)
    ));
    let ev = v.ok(CommandKind::ScheduleParams { market: M, effective_at: at, change: Box::new(change) });
    assert!(
        matches!(ev[0], EventKind::ParamsScheduled { accounts_below_maintenance: 1, replaced: false, .. }),
        "{ev:?}"
    );
    // Nothing changes before the time.
    assert_eq!(v.engine.margin(A).unwrap().maintenance_margin, usd(40));
    v.ts = at.0 - 1; // the next command is stamped exactly at `at`
    let ev = v.ok(CommandKind::Tick);
    assert!(matches!(ev[0], EventKind::ParamsChanged { .. }), "{ev:?}");
    // B's explicit 20x is brought down to the new maximum.
    assert!(ev.iter().any(|e| matches!(e, EventKind::LeverageSet { account, leverage: 10, .. } if *account == B)));
    // The account the dry run counted is below the new maintenance and is liquidated at once.
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::LiquidationQueued { account, maintenance_margin, .. }
            if *account == A && *maintenance_margin == usd(120))),
        "{ev:?}"
    );
    assert_eq!(v.engine.market(M).unwrap().spec.max_leverage, 10);
}

#[test]
fn delisting_settles_every_position_at_the_price_zero_sum_and_closes_the_market() {
    let mut v = Venue::new(10_000);
    v.trade(B, A, Buy, 100, 10); // A long 10 @ 100, B short 10 @ 100
    v.trade(C, A, Buy, 101, 5); // A long 15, C short 5 @ 101
    v.ok(place(C, Sell, 104, 3, TimeInForce::Gtc, false));
    let collateral = |v: &Venue, a| v.engine.account(a).unwrap().collateral.0;
    let before = [collateral(&v, A), collateral(&v, B), collateral(&v, C)];
    let ev = v.ok(CommandKind::Delist { market: M, price: Price(98) });
    // A: 15 × 98 − 1,505 = −35; B: −(10 × 98) + 1,000 = +20; C: −(5 × 98) + 505 = +15. Σ = 0.
    let after = [collateral(&v, A), collateral(&v, B), collateral(&v, C)];
    let realized: Vec<i64> = before.iter().zip(after).map(|(b, a)| a - b).collect();
    assert_eq!(realized, vec![-35 * USD, 20 * USD, 15 * USD]);
    assert!(ev.iter().any(|e| matches!(e, EventKind::OrderCancelled { reason: CancelReason::Delisted, .. })));
    assert!(matches!(ev.last(), Some(EventKind::MarketDelisted { price: Price(98), .. })));
    assert_eq!(v.position(A).0, 0);
    assert_eq!(v.engine.market(M).unwrap().status, MarketStatus::Delisted);
    assert_eq!(v.rejected(place(A, Buy, 98, 1, TimeInForce::Gtc, false)), RejectReason::MarketDelisted);
    assert_eq!(v.rejected(CommandKind::SetMark { market: M, price: Price(99) }), RejectReason::MarketDelisted);
    assert_eq!(v.rejected(CommandKind::Delist { market: M, price: Price(98) }), RejectReason::MarketDelisted);
    // Withdrawals no longer count the closed market.
    let free = v.engine.margin(B).unwrap().withdrawable();
    assert_eq!(free, v.engine.account(B).unwrap().collateral);
}

#[test]
fn an_audit_entry_is_recorded_as_an_event_and_changes_nothing_else() {
    let mut v = Venue::new(10_000);
    // The same engine given a tick at the same time is the yardstick.
    let mut twin = v.engine.clone();
    twin.apply(&Command { ts: Timestamp(v.ts + 1), kind: CommandKind::Tick });
    let audit = |actor: &str, detail: String| CommandKind::AdminAudit {
        actor: actor.into(),
        action: "create_key".into(),
        detail,
    };
    let ev = v.ok(audit("pk_admin", r#"{"key":"pk_1"}"#.into()));
    assert_eq!(
        ev,
        vec![EventKind::AdminAudited {
            actor: "pk_admin".into(),
            action: "create_key".into(),
            detail: r#"{"key":"pk_1"}"#.into()
        }]
    );
    assert_eq!(v.engine.state_hash(), twin.state_hash(), "an audit entry moves no money and no order");
    // Bounded sizes: an empty or oversized label, an oversized detail.
    for bad in [audit("", String::new()), audit(&"k".repeat(65), String::new()), audit("pk", "x".repeat(4_097))] {
        assert!(matches!(v.rejected(bad), RejectReason::Malformed(_)));
    }
}
