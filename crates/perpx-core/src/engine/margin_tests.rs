//! Worked examples of the money: positions, fees, margin, leverage, reduce-only, withdrawals.
//! Market: tick 1, lot 1 (1 USD per tick-lot), mark 100, 5 % band, two tiers:
//! notional ≤ 10,000 USD up to 20x with MM 2 %; ≤ 100,000 USD up to 5x with MM 5 % − 300.
//! Maker fee −0.01 % (a rebate), taker 0.05 %. Conservation and open-interest symmetry are
//! checked after every command by `check_invariants`.

use super::*;
use crate::book::Side::{self, Buy, Sell};
use crate::command::{NewOrder, OrderType, TimeInForce};
use crate::ids::AccountId;
use crate::market::{MarginTier, MarketLimits};
use crate::num::{Decimal, Qty, Quote, Rate};

pub(super) const M: MarketId = MarketId(0);
pub(super) const A: AccountId = AccountId(1);
pub(super) const B: AccountId = AccountId(2);
pub(super) const C: AccountId = AccountId(3);
pub(super) const USD: i64 = 1_000_000;

pub(super) fn usd(x: i64) -> Quote {
    Quote(x * USD)
}

pub(super) fn spec() -> MarketSpec {
    MarketSpec {
        symbol: "TEST-PERP".into(),
        tick_size: Decimal::new(1, 0),
        lot_size: Decimal::new(1, 0),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 20,
        tiers: vec![
            MarginTier {
                max_notional: usd(10_000),
                max_leverage: 20,
                maintenance_rate: Rate(2_000_000),
                maintenance_amount: Quote(0),
            },
            MarginTier {
                max_notional: usd(100_000),
                max_leverage: 5,
                maintenance_rate: Rate(5_000_000),
                maintenance_amount: usd(300),
            },
        ],
        maker_fee: Rate(-10_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits::default(),
        oracle: crate::market::OracleSpec::default(),
        funding: crate::market::FundingSpec::default(),
        liquidation: crate::market::LiquidationSpec::default(),
    }
}

pub(super) struct Venue {
    pub(super) engine: Engine,
    pub(super) ts: i64,
}

impl Venue {
    /// The market at mark 100; A, B and C funded with `collateral` USD each.
    pub(super) fn new(collateral: i64) -> Self {
        Self::with(collateral, EngineConfig::default(), spec())
    }

    /// As [`Venue::new`] with another engine config and market spec.
    pub(super) fn with(collateral: i64, config: EngineConfig, spec: MarketSpec) -> Self {
        let mut v = Self { engine: Engine::new(config), ts: 0 };
        v.ok(CommandKind::CreateMarket(Box::new(spec)));
        v.ok(CommandKind::SetMark { market: M, price: Price(100) });
        for account in [A, B, C] {
            v.ok(CommandKind::Deposit { account, amount: usd(collateral) });
        }
        v
    }

    pub(super) fn run(&mut self, kind: CommandKind) -> Vec<EventKind> {
        self.ts += 1;
        let events = self.engine.apply(&Command { ts: Timestamp(self.ts), kind });
        self.engine.check_invariants().unwrap();
        events.into_iter().map(|e| e.kind).collect()
    }

    pub(super) fn ok(&mut self, kind: CommandKind) -> Vec<EventKind> {
        let events = self.run(kind);
        assert!(!events.iter().any(|e| matches!(e, EventKind::Rejected { .. })), "{events:?}");
        events
    }

    pub(super) fn rejected(&mut self, kind: CommandKind) -> RejectReason {
        let before = self.engine.state_hash();
        let events = self.engine.apply(&Command { ts: Timestamp(self.ts), kind });
        assert_eq!(self.engine.state_hash(), before, "a rejection changed the state");
        match &events[..] {
            [Event { kind: EventKind::Rejected { reason, .. }, .. }] => reason.clone(),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    pub(super) fn mark(&mut self, price: i64) {
        self.ok(CommandKind::SetMark { market: M, price: Price(price) });
    }

    pub(super) fn position(&self, a: AccountId) -> (i64, Quote, Quote) {
        let p = self.engine.account(a).unwrap().position(M);
        (p.size.0, p.cost_basis, p.realized_pnl)
    }

    fn collateral(&self, a: AccountId) -> Quote {
        self.engine.account(a).unwrap().collateral
    }

    fn margin(&self, a: AccountId) -> MarginSummary {
        self.engine.margin(a).unwrap()
    }

    /// `maker` rests a GTC, `taker` crosses it with an IOC, both at `price`.
    pub(super) fn trade(&mut self, maker: AccountId, taker: AccountId, taker_side: Side, price: i64, qty: i64) {
        self.ok(place(maker, taker_side.opposite(), price, qty, TimeInForce::Gtc, false));
        let ev = self.ok(place(taker, taker_side, price, qty, TimeInForce::Ioc, false));
        assert!(ev.iter().any(|e| matches!(e, EventKind::Fill(f) if f.qty == Qty(qty))), "{ev:?}");
    }
}

pub(super) fn place(
    account: AccountId,
    side: Side,
    price: i64,
    qty: i64,
    tif: TimeInForce,
    reduce_only: bool,
) -> CommandKind {
    CommandKind::PlaceOrder(NewOrder {
        account,
        market: M,
        side,
        order_type: OrderType::Limit { price: Price(price), tif },
        qty: Qty(qty),
        client_id: None,
        stp: StpMode::ExpireTaker,
        reduce_only,
    })
}

#[test]
fn fees_charge_the_taker_rounded_up_and_pay_the_maker_rebate_rounded_down() {
    let mut v = Venue::new(10_000);
    v.ok(place(B, Sell, 101, 3, TimeInForce::Gtc, false));
    let ev = v.ok(place(A, Buy, 101, 3, TimeInForce::Ioc, false));
    // Notional 303 USD: taker 0.05 % = 0.1515, maker rebate 0.01 % = 0.0303.
    match &ev[1] {
        EventKind::Fill(f) => assert_eq!((f.taker_fee, f.maker_fee), (Quote(151_500), Quote(-30_300))),
        other => panic!("{other:?}"),
    }
    assert_eq!(v.collateral(A), Quote(10_000 * USD - 151_500));
    assert_eq!(v.collateral(B), Quote(10_000 * USD + 30_300));
    assert_eq!(v.engine.ledger().fee_account, Quote(121_200));
}

#[test]
fn partial_closes_realise_pnl_and_a_flip_reopens_at_the_fill_price() {
    let mut v = Venue::new(10_000);
    v.trade(B, A, Buy, 100, 10); // A long 10 @ 100
    assert_eq!(v.position(A), (10, usd(1_000), Quote(0)));
    v.trade(C, A, Sell, 104, 4); // A sells 4 @ 104: removes 400 of cost, realises +16
    assert_eq!(v.position(A), (6, usd(600), usd(16)));
    v.trade(C, A, Sell, 96, 10); // closes 6 @ 96 (−24), opens short 4 @ 96
    assert_eq!(v.position(A), (-4, usd(-384), usd(16 - 24)));
    // Collateral moved by exactly realised PnL minus taker fees.
    let fees = v.engine.account(A).unwrap().position(M).fees_paid;
    assert_eq!(v.collateral(A), Quote(10_000 * USD - 8 * USD - fees.0));
    // B is short 10 @ 100, C holds the other side: open interest balances (checked every step).
    assert_eq!(v.position(B).0 + v.position(C).0 + v.position(A).0, 0);
}

#[test]
fn a_market_maker_quoting_both_sides_reserves_the_worse_side_not_both() {
    let mut v = Venue::new(1_000);
    v.ok(CommandKind::SetLeverage { account: A, market: M, leverage: 10 });
    v.ok(place(A, Buy, 99, 10, TimeInForce::Gtc, false));
    v.ok(place(A, Sell, 104, 10, TimeInForce::Gtc, false));
    // max(IM(10 @ 100), IM(10 @ 100)) at 10x = 100 USD — not 200.
    assert_eq!(v.margin(A).initial_margin, usd(100));
    // A bid priced above mark carries its immediate loss: 2 lots at 103 lose 3 USD each, and
    // the bid side (12 lots) is now the worse one.
    v.ok(place(A, Buy, 103, 2, TimeInForce::Gtc, false));
    assert_eq!(v.margin(A).initial_margin, usd(120 + 6));
}

#[test]
fn an_order_that_does_not_raise_im_is_accepted_even_below_initial_margin() {
    let mut v = Venue::new(10_000);
    v.ok(CommandKind::Withdraw { account: A, amount: usd(9_900) }); // A keeps 100 USD
    v.trade(B, A, Buy, 100, 20); // 2,000 USD notional at 20x: IM 100, MM 40
    v.mark(97); // equity 100 − 60 = 40 + fee effects: below IM (97), at about MM (38.8)
    let m = v.margin(A);
    assert!(m.equity < m.initial_margin && m.equity > m.maintenance_margin, "{m:?}");
    // Adding exposure is refused, with the figures.
    match v.rejected(place(A, Buy, 97, 1, TimeInForce::Gtc, false)) {
        RejectReason::InsufficientMargin { required, available } => {
            assert_eq!(available, m.equity);
            assert!(required > m.initial_margin);
        }
        other => panic!("{other}"),
    }
    // A sell that reduces the position lowers IM: accepted.
    v.ok(place(A, Sell, 98, 5, TimeInForce::Gtc, false));
}

#[test]
fn unrealised_profit_cannot_be_withdrawn_until_realised() {
    let mut v = Venue::new(1_000);
    v.trade(B, A, Buy, 100, 10); // A long 10
    v.mark(105); // +50 unrealised
    let m = v.margin(A);
    assert_eq!(m.unrealized_pnl, usd(50));
    // withdrawable = equity − IM − profit = collateral − IM.
    assert_eq!(m.withdrawable(), Quote(m.collateral.0 - m.initial_margin.0));
    match v.rejected(CommandKind::Withdraw { account: A, amount: Quote(m.withdrawable().0 + 1) }) {
        RejectReason::WithdrawalAboveAvailable { available, .. } => assert_eq!(available, m.withdrawable()),
        other => panic!("{other}"),
    }
    v.ok(CommandKind::Withdraw { account: A, amount: m.withdrawable() });
    assert!(matches!(
        v.rejected(CommandKind::Withdraw { account: A, amount: Quote(0) }),
        RejectReason::NonPositiveAmount(_)
    ));
}

#[test]
fn leverage_is_bounded_by_the_market_and_by_the_tier_of_the_resulting_notional() {
    let mut v = Venue::new(100_000);
    assert!(matches!(
        v.rejected(CommandKind::SetLeverage { account: A, market: M, leverage: 0 }),
        RejectReason::InvalidLeverage { .. }
    ));
    assert!(matches!(
        v.rejected(CommandKind::SetLeverage { account: A, market: M, leverage: 21 }),
        RejectReason::InvalidLeverage { .. }
    ));
    // At the default 20x, an order reaching 10,100 USD of notional is in tier 2 (max 5x).
    assert_eq!(
        v.rejected(place(A, Buy, 100, 101, TimeInForce::Gtc, false)),
        RejectReason::LeverageAboveTier { leverage: 20, max: 5 }
    );
    v.ok(place(A, Buy, 100, 100, TimeInForce::Gtc, false)); // exactly 10,000: tier 1
    v.ok(CommandKind::SetLeverage { account: A, market: M, leverage: 5 });
    v.ok(place(A, Buy, 100, 1, TimeInForce::Gtc, false));
    // With 101 lots open at 5x, going back to 20x is refused.
    assert_eq!(
        v.rejected(CommandKind::SetLeverage { account: A, market: M, leverage: 20 }),
        RejectReason::LeverageAboveTier { leverage: 20, max: 5 }
    );
}

/// An amend that adds neither size nor immediate loss raises neither the requirement nor the
/// notional reachable, so it is never refused for them — not even when a mark move has put the
/// account beyond its tier. Growing the order, or moving it through the mark, is checked.
#[test]
fn an_account_beyond_its_tier_can_still_move_and_shrink_its_orders_but_not_grow_them() {
    let mut v = Venue::new(100_000);
    v.ok(place(A, Buy, 99, 100, TimeInForce::Gtc, false)); // 10,000 at mark 100: tier 1, 20x
    let bid = v.engine.market(M).unwrap().book.orders_of(A).next().unwrap();
    v.mark(104); // the same bid now reaches 10,400: tier 2, max 5x, and A is at 20x
    let amend = |price: i64, qty: i64| {
        CommandKind::AmendOrder(crate::command::Amend {
            account: A,
            market: M,
            order: crate::command::OrderRef::Id(bid),
            price: Some(Price(price)),
            qty: Some(Qty(qty)),
        })
    };
    let beyond = RejectReason::LeverageAboveTier { leverage: 20, max: 5 };
    assert_eq!(v.rejected(amend(99, 101)), beyond, "growing is checked");
    assert_eq!(v.rejected(amend(105, 100)), beyond, "a buy moved above the mark is checked");
    v.ok(amend(100, 100)); // moved, still below the mark: no loss added
    v.ok(amend(100, 99)); // shrunk, still beyond the tier (99 lots × 104 = 10,296 USD)
    let o = v.engine.market(M).unwrap().book.get(bid).unwrap();
    assert_eq!((o.price, o.qty), (Price(100), Qty(99)));
}

#[test]
fn reduce_only_orders_only_reduce_and_leave_when_the_position_does() {
    let mut v = Venue::new(10_000);
    assert_eq!(v.rejected(place(A, Sell, 100, 1, TimeInForce::Gtc, true)), RejectReason::ReduceOnlyWouldIncrease);
    v.trade(B, A, Buy, 100, 5); // A long 5
    assert_eq!(v.rejected(place(A, Buy, 100, 1, TimeInForce::Gtc, true)), RejectReason::ReduceOnlyWouldIncrease);
    // A reduce-only sell of 8 rests (it reserves nothing) and is capped at 5 when it fills.
    let im = v.margin(A).initial_margin;
    v.ok(place(A, Sell, 101, 8, TimeInForce::Gtc, true));
    v.ok(place(A, Sell, 102, 2, TimeInForce::Gtc, true));
    assert_eq!(v.margin(A).initial_margin, im);
    let ev = v.ok(place(C, Buy, 102, 10, TimeInForce::Ioc, false));
    let filled: i64 = ev.iter().filter_map(|e| if let EventKind::Fill(f) = e { Some(f.qty.0) } else { None }).sum();
    assert_eq!(filled, 5);
    assert_eq!(v.position(A).0, 0);
    // Both reduce-only orders left the book: nothing is left to reduce.
    let reasons: Vec<CancelReason> = ev
        .iter()
        .filter_map(|e| {
            if let EventKind::OrderCancelled { reason, account, .. } = e {
                (*account == A).then_some(*reason)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(reasons, vec![CancelReason::ReduceOnly, CancelReason::ReduceOnly]);
    assert!(v.engine.market(M).unwrap().book.open_order_count(A) == 0);
}

#[test]
fn a_reduce_only_order_the_taker_never_reached_leaves_when_another_trade_closes_the_position() {
    let mut v = Venue::new(10_000);
    v.trade(B, A, Buy, 100, 5); // A long 5
    v.ok(place(A, Sell, 105, 5, TimeInForce::Gtc, true)); // a take-profit, far from the touch
    v.ok(place(A, Buy, 98, 1, TimeInForce::Gtc, false)); // and a plain bid, which stays
    // A closes with a plain sell into C's bid: the take-profit has nothing left to reduce.
    v.ok(place(C, Buy, 100, 5, TimeInForce::Gtc, false));
    let ev = v.ok(place(A, Sell, 100, 5, TimeInForce::Ioc, false));
    assert_eq!(v.position(A).0, 0);
    let cancelled: Vec<(AccountId, CancelReason)> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::OrderCancelled { account, reason, .. } => Some((*account, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, vec![(A, CancelReason::ReduceOnly)]);
    assert_eq!(v.engine.market(M).unwrap().book.open_order_count(A), 1);
}

#[test]
fn accounts_exist_once_funded() {
    let mut v = Venue::new(1_000);
    let stranger = AccountId(99);
    assert_eq!(v.rejected(place(stranger, Buy, 100, 1, TimeInForce::Gtc, false)), RejectReason::UnknownAccount(99));
    assert_eq!(
        v.rejected(CommandKind::Withdraw { account: stranger, amount: usd(1) }),
        RejectReason::UnknownAccount(99)
    );
    assert!(matches!(
        v.rejected(CommandKind::Deposit { account: stranger, amount: Quote(-1) }),
        RejectReason::NonPositiveAmount(_)
    ));
    assert_eq!(v.rejected(CommandKind::Deposit { account: A, amount: Quote(i64::MAX) }), RejectReason::BalanceOverflow);
    v.ok(CommandKind::Deposit { account: stranger, amount: usd(1) });
    assert_eq!(v.collateral(stranger), usd(1));
}

fn isolated(account: AccountId) -> CommandKind {
    CommandKind::SetMarginMode { account, market: M, mode: crate::account::MarginMode::Isolated }
}

#[test]
fn isolated_and_cross_on_the_same_trades_lose_the_same_but_isolated_keeps_the_loss_inside() {
    let mut v = Venue::new(1_000);
    // A trades cross at 10x, C the same trades isolated at 10x; B is the other side of both.
    for a in [A, C] {
        v.ok(CommandKind::SetLeverage { account: a, market: M, leverage: 10 });
    }
    v.ok(isolated(C));
    v.trade(B, A, Buy, 100, 10);
    v.trade(B, C, Buy, 100, 10);
    let fee = Quote(500_000); // 5 bp of 1,000 USD
    // C's position holds 100 USD (1,000 at 10x) moved out of its collateral; its fee is the
    // position's own (the position is its own wallet).
    assert_eq!(v.collateral(A), Quote(1_000 * USD - fee.0));
    assert_eq!(v.collateral(C), usd(900));
    let iso = v.engine.isolated(C, M).unwrap().unwrap();
    assert_eq!((iso.margin, iso.equity), (Quote(100 * USD - fee.0), Quote(100 * USD - fee.0)));
    v.mark(95);
    // Cross: the 50 USD loss is the account's. Isolated: it is the position's alone.
    let cross = v.margin(A);
    assert_eq!(cross.equity, Quote(950 * USD - fee.0));
    let c = v.margin(C);
    assert_eq!((c.equity, c.unrealized_pnl, c.initial_margin), (usd(900), Quote(0), Quote(0)));
    let iso = v.engine.isolated(C, M).unwrap().unwrap();
    assert_eq!((iso.equity, iso.maintenance_margin), (Quote(50 * USD - fee.0), Quote(19_000_000)));
    // Closing both at 95 costs each exactly 50 plus fees: same money, different walls.
    v.trade(B, A, Sell, 95, 10);
    v.trade(B, C, Sell, 95, 10);
    let fees = |a| v.engine.account(a).unwrap().position(M).fees_paid.0;
    assert_eq!(v.collateral(A).0, 1_000 * USD - 50 * USD - fees(A));
    assert_eq!(v.collateral(C).0, 1_000 * USD - 50 * USD - fees(C));
    assert_eq!(v.engine.account(C).unwrap().position(M).isolated_margin, Quote(0));
}

#[test]
fn isolated_margin_is_added_from_free_collateral_and_removed_only_above_im_without_profit() {
    let mut v = Venue::new(1_000);
    assert_eq!(
        v.rejected(CommandKind::AdjustIsolatedMargin { account: C, market: M, amount: usd(1) }),
        RejectReason::NotIsolated
    );
    v.ok(isolated(C));
    v.ok(CommandKind::SetLeverage { account: C, market: M, leverage: 10 });
    v.trade(B, C, Buy, 100, 10); // bucket 100
    // The mode can't change with a position open.
    assert_eq!(
        v.rejected(CommandKind::SetMarginMode { account: C, market: M, mode: crate::account::MarginMode::Cross }),
        RejectReason::MarginModeChangeBlocked
    );
    let free = v.margin(C).withdrawable();
    assert!(matches!(
        v.rejected(CommandKind::AdjustIsolatedMargin { account: C, market: M, amount: Quote(free.0 + 1) }),
        RejectReason::InsufficientMargin { .. }
    ));
    v.ok(CommandKind::AdjustIsolatedMargin { account: C, market: M, amount: usd(50) }); // bucket 150
    // The bucket paid C's taker fee (0.50): it holds 149.50.
    v.mark(110); // +100 unrealised: not removable; IM at 110 is 110
    let iso = v.engine.isolated(C, M).unwrap().unwrap();
    assert_eq!(iso.removable(), Quote(39_500_000)); // 149.50 − 110
    assert_eq!(
        v.rejected(CommandKind::AdjustIsolatedMargin { account: C, market: M, amount: usd(-40) }),
        RejectReason::IsolatedMarginAboveRemovable { requested: usd(40), available: Quote(39_500_000) }
    );
    v.ok(CommandKind::AdjustIsolatedMargin { account: C, market: M, amount: Quote(-39_500_000) });
    assert_eq!(v.engine.account(C).unwrap().position(M).isolated_margin, usd(110));
    assert!(matches!(
        v.rejected(CommandKind::AdjustIsolatedMargin { account: C, market: M, amount: Quote(0) }),
        RejectReason::NonPositiveAmount(_)
    ));
}
