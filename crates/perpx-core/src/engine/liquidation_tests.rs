//! Worked examples of the liquidation pipeline and the waterfall (`docs/LIQUIDATION.md`).
//!
//! Unless a test says otherwise: tick 1 USD, lot 1, one margin tier (10x, MM 5 %), no trading
//! fees, a 50 % order band, liquidation fee 0.5 %, buffer 10 %, backstop discount 1 %, the
//! market's own insurance fund. Every command is followed by `check_invariants` (conservation,
//! open interest, holders, and "every unit below maintenance is queued" by a full scan).

use proptest::prelude::*;

use super::*;
use crate::book::Side::{self, Buy, Sell};
use crate::command::{NewOrder, OrderType, TimeInForce};
use crate::event::LiquidationOutcome;
use crate::market::{InsurancePolicy, LiquidationSpec, MarginTier, MarketLimits, SafeBand};
use crate::num::{Decimal, Qty, Quote, Rate};

const M: MarketId = MarketId(0);
const A: AccountId = AccountId(1);
const B: AccountId = AccountId(2);
const C: AccountId = AccountId(3);
const D: AccountId = AccountId(4);
const LIQ: AccountId = AccountId(9);
const USD: i64 = 1_000_000;

fn usd(x: i64) -> Quote {
    Quote(x * USD)
}

/// Basis points of `Rate`.
fn bp(x: i64) -> Rate {
    Rate(x * 10_000)
}

fn spec(symbol: &str) -> MarketSpec {
    MarketSpec {
        symbol: symbol.into(),
        tick_size: Decimal::new(1, 0),
        lot_size: Decimal::new(1, 0),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 10,
        tiers: vec![MarginTier {
            max_notional: usd(1_000_000_000),
            max_leverage: 10,
            maintenance_rate: bp(500),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(0),
        taker_fee: Rate(0),
        order_band: bp(5_000),
        limits: MarketLimits::default(),
        oracle: crate::market::OracleSpec::default(),
        funding: crate::market::FundingSpec::default(),
        liquidation: LiquidationSpec::default(),
    }
}

struct Venue {
    engine: Engine,
    ts: i64,
    /// Check every invariant after each command (off for bulk set-ups).
    check: bool,
}

impl Venue {
    fn new(spec: MarketSpec) -> Self {
        Self::with(EngineConfig::default(), spec)
    }

    fn with(config: EngineConfig, spec: MarketSpec) -> Self {
        let mut v = Self { engine: Engine::new(config), ts: 0, check: true };
        v.ok(CommandKind::CreateMarket(Box::new(spec)));
        v.ok(CommandKind::SetMark { market: M, price: Price(1_000) });
        v
    }

    fn run(&mut self, kind: CommandKind) -> Vec<EventKind> {
        self.ts += 1;
        let events = self.engine.apply(&Command { ts: Timestamp(self.ts), kind });
        if self.check {
            self.engine.check_invariants().unwrap();
        }
        let kinds: Vec<EventKind> = events.into_iter().map(|e| e.kind).collect();
        for e in &kinds {
            if let EventKind::LiquidationStarted { equity, maintenance_margin, .. } = e {
                assert!(equity < maintenance_margin, "liquidated above maintenance: {e:?}");
            }
        }
        kinds
    }

    fn ok(&mut self, kind: CommandKind) -> Vec<EventKind> {
        let events = self.run(kind);
        assert!(!events.iter().any(|e| matches!(e, EventKind::Rejected { .. })), "{events:?}");
        events
    }

    /// The code of a rejected command, sent at the current time so the clock doesn't move.
    fn code(&mut self, kind: CommandKind) -> u16 {
        let before = self.engine.state_hash();
        let events = self.engine.apply(&Command { ts: Timestamp(self.ts), kind });
        assert_eq!(self.engine.state_hash(), before, "a rejection changed the state");
        match &events[..] {
            [Event { kind: EventKind::Rejected { reason, .. }, .. }] => reason.code(),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn deposit(&mut self, account: AccountId, amount: i64) {
        self.ok(CommandKind::Deposit { account, amount: usd(amount) });
    }

    fn leverage(&mut self, account: AccountId, leverage: u32) {
        self.ok(CommandKind::SetLeverage { account, market: M, leverage });
    }

    fn mark(&mut self, price: i64) -> Vec<EventKind> {
        self.ok(CommandKind::SetMark { market: M, price: Price(price) })
    }

    fn order(&mut self, account: AccountId, side: Side, price: i64, qty: i64, tif: TimeInForce) -> Vec<EventKind> {
        self.ok(order(account, side, price, qty, tif))
    }

    /// `maker` rests, `taker` takes it in full.
    fn trade(&mut self, maker: AccountId, taker: AccountId, taker_side: Side, price: i64, qty: i64) {
        self.order(maker, taker_side.opposite(), price, qty, TimeInForce::Gtc);
        let ev = self.order(taker, taker_side, price, qty, TimeInForce::Ioc);
        assert!(ev.iter().any(|e| matches!(e, EventKind::Fill(f) if f.qty == Qty(qty))), "{ev:?}");
    }

    fn size(&self, a: AccountId) -> i64 {
        self.engine.account(a).unwrap().position(M).size.0
    }

    fn collateral(&self, a: AccountId) -> Quote {
        self.engine.account(a).unwrap().collateral
    }

    fn equity(&self, a: AccountId) -> Quote {
        self.engine.margin(a).unwrap().equity
    }

    fn fund(&self) -> Quote {
        self.engine.market(M).unwrap().insurance_fund
    }
}

fn order(account: AccountId, side: Side, price: i64, qty: i64, tif: TimeInForce) -> CommandKind {
    CommandKind::PlaceOrder(NewOrder {
        account,
        market: M,
        side,
        order_type: OrderType::Limit { price: Price(price), tif },
        qty: Qty(qty),
        client_id: None,
        stp: StpMode::ExpireTaker,
        reduce_only: false,
    })
}

fn finished(ev: &[EventKind], account: AccountId) -> Option<LiquidationOutcome> {
    ev.iter().find_map(|e| match e {
        EventKind::LiquidationFinished { account: a, outcome, .. } if *a == account => Some(*outcome),
        _ => None,
    })
}

fn bankruptcy_prices(ev: &[EventKind]) -> Vec<(MarketId, i64)> {
    ev.iter()
        .filter_map(|e| match e {
            EventKind::LiquidationOrder { market, bankruptcy_price, .. } => Some((*market, bankruptcy_price.0)),
            _ => None,
        })
        .collect()
}

fn fee(ev: &[EventKind]) -> Option<Quote> {
    ev.iter().find_map(|e| match e {
        EventKind::LiquidationFee { amount, .. } => Some(*amount),
        _ => None,
    })
}

/// A long 10 @ 1,000 at 10x on 1,000 USD against B's short; B holds plenty.
fn long_ten(spec: MarketSpec) -> Venue {
    let mut v = Venue::new(spec);
    v.deposit(A, 1_000);
    v.deposit(B, 1_000_000);
    v.leverage(A, 10);
    v.trade(B, A, Buy, 1_000, 10);
    v
}

/// Regulation-T-like margins (the seed's example): at most 2x (initial 50 %), maintenance 25 %,
/// one tier, with the given order band.
fn reg_t_spec(symbol: &str, order_band: Rate) -> MarketSpec {
    let mut s = spec(symbol);
    s.max_leverage = 2;
    s.tiers = vec![MarginTier {
        max_notional: usd(1_000_000_000),
        max_leverage: 2,
        maintenance_rate: bp(2_500),
        maintenance_amount: Quote(0),
    }];
    s.order_band = order_band;
    s
}

#[test]
fn the_seeds_reg_t_long_is_liquidated_at_about_two_thirds_of_entry_and_not_before() {
    // Initial 50 %, maintenance 25 %, one tier, zero fees: a 100,000 USD 2x long funded with
    // 50,000. Equity 50,000 + 1,000 × (p − 100) falls below 25 % × 1,000 × p at p < 66.67.
    let mut s = reg_t_spec("REGT-PERP", bp(9_000));
    s.liquidation.fee_rate = Rate(0);
    let mut v = Venue::new(s);
    v.mark(100);
    v.deposit(A, 50_000);
    v.deposit(B, 1_000_000);
    v.leverage(A, 2);
    v.trade(B, A, Buy, 100, 1_000); // a limit buy at mark
    let ev = v.mark(67);
    assert!(!ev.iter().any(|e| matches!(e, EventKind::LiquidationQueued { .. })), "{ev:?}");
    assert_eq!(v.equity(A), usd(17_000), "above its MM of 16,750");
    let ev = v.mark(66);
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::LiquidationStarted { account, equity, maintenance_margin, .. }
            if *account == A && *equity == usd(16_000) && *maintenance_margin == usd(16_500))));
    // Its bankruptcy price is 66 − 16,000 / 1,000 = 50. No bids, no liquidators: B, the only
    // short, is deleveraged — at mark, because A still has equity (no deficit for B to cover):
    // A keeps its 16,000 (no liquidation fee in this market).
    assert_eq!(bankruptcy_prices(&ev), vec![(M, 50)]);
    assert_eq!(finished(&ev, A), Some(LiquidationOutcome::ClosedOut));
    assert_eq!((v.size(A), v.collateral(A)), (0, usd(16_000)));
    assert_eq!((v.size(B), v.collateral(B)), (0, usd(1_034_000)));
}

#[test]
fn a_closing_order_is_limited_at_the_order_bands_edge_when_bankruptcy_lies_beyond_it() {
    // A 20 % order band, maintenance 25 %: a 2x short of 1 @ 1,000 on 500 USD stands while
    // 1,500 − p ≥ 0.25 p, that is up to 1,200. At 1,201 its equity is 299 against an MM of
    // 300.25, and its bankruptcy price 1,201 + 299 = 1,500 lies beyond the band's high edge
    // ⌊1,201 × 1.2⌋ = 1,441: the closing buy is limited there, as any order would be.
    let mut v = Venue::new(reg_t_spec("BAND-PERP", bp(2_000)));
    v.deposit(A, 500);
    v.deposit(B, 1_000_000);
    v.leverage(A, 2);
    v.trade(B, A, Sell, 1_000, 1);
    assert!(v.mark(1_200).iter().all(|e| !matches!(e, EventKind::LiquidationQueued { .. })));
    let ev = v.mark(1_201);
    let limits: Vec<(i64, i64)> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::LiquidationOrder { account, side: Buy, limit, bankruptcy_price, .. } if *account == A => {
                Some((limit.0, bankruptcy_price.0))
            }
            _ => None,
        })
        .collect();
    assert_eq!(limits, vec![(1_441, 1_500)], "{ev:?}");
    assert_eq!(v.engine.market(M).unwrap().order_band(), Some((Price(961), Price(1_441))));
}

#[test]
fn the_liquidation_price_is_where_equity_meets_maintenance() {
    let mut v = long_ten(spec("BTC-PERP"));
    // Long 10 @ 1,000 on 1,000 (MM 5 %): 1,000 + 10 (p − 1,000) = 0.5 p ⇒ p = 9,000 / 9.5 =
    // 947.4, rounded up to 948: at 948 the account stands, at 947 it is liquidated.
    assert_eq!(v.engine.liquidation_price(A, M), Some(Price(948)));
    // B's short 10 @ 1,000 on a million: (1,000,000 + 10,000) / (10 × 1.05) = 96,190.
    assert_eq!(v.engine.liquidation_price(B, M), Some(Price(96_190)));
    assert!(v.mark(948).iter().all(|e| !matches!(e, EventKind::LiquidationQueued { .. })));
    assert!(v.mark(947).iter().any(|e| matches!(e, EventKind::LiquidationQueued { .. })));
}

/// A's safe band in market `M` as `(lo, hi)`, if it has one.
fn band(v: &Venue, a: AccountId) -> Option<(i64, i64)> {
    let m = &v.engine.markets[M.index()];
    let side = usize::from(v.size(a) < 0);
    m.holders[side].band(a).expect("a holder").ends(m.band_shrink[side]).map(|(lo, hi)| (lo.0, hi.0))
}

#[test]
fn a_holder_is_rechecked_only_when_the_mark_leaves_its_safe_band() {
    let mut v = long_ten(spec("BTC-PERP"));
    // Long 10 @ 1,000 on 1,000 USD, MM 5 %: headroom 1,000 − 500 = 500 USD at 1,000. A tick
    // costs at most 10 × (1 + 5 %) = 10.5 USD of it, so the band is ±⌊(500 − 2 µ) / 10.5⌋ = ±47.
    assert_eq!(band(&v, A), Some((953, 1_047)));
    // A move inside it re-checks nobody: the band stays as computed at 1,000.
    v.mark(960);
    assert_eq!(band(&v, A), Some((953, 1_047)));
    // A move out of it re-checks A, whose band is computed again around 950: equity 500, MM
    // 475, so ±⌊25 / 10.5⌋ = ±2 — down to 948, the liquidation price itself.
    v.mark(950);
    assert_eq!(band(&v, A), Some((948, 952)));
    assert_eq!(v.engine.liquidation_price(A, M), Some(Price(948)));
    assert!(v.mark(948).iter().all(|e| !matches!(e, EventKind::LiquidationQueued { .. })));
    assert!(v.mark(947).iter().any(|e| matches!(e, EventKind::LiquidationQueued { account: A, .. })));
}

/// `A` on `collateral` USD, long `btc` BTC-PERP and `eth` ETH-PERP, both at 1,000 and 10x: one
/// cross unit of two positions.
fn long_in_two_markets(collateral: i64, btc: i64, eth: i64) -> (Venue, MarketId) {
    let mut v = Venue::new(spec("BTC-PERP"));
    v.deposit(A, collateral);
    v.deposit(B, 1_000_000);
    v.leverage(A, 10);
    v.trade(B, A, Buy, 1_000, btc);
    v.ok(CommandKind::CreateMarket(Box::new(spec("ETH-PERP"))));
    let eth_market = MarketId(1);
    v.ok(CommandKind::SetMark { market: eth_market, price: Price(1_000) });
    v.ok(CommandKind::SetLeverage { account: A, market: eth_market, leverage: 10 });
    v.ok(order(B, Sell, 1_000, eth, TimeInForce::Gtc).with_market(eth_market));
    v.ok(order(A, Buy, 1_000, eth, TimeInForce::Ioc).with_market(eth_market));
    (v, eth_market)
}

/// The bands a cross unit of `n` positions should have now: each around its mark (1,000 in
/// both markets) with the share [`crate::market::shared_headroom`] gives it of the unit's
/// headroom, read at the side's shrink.
fn shared_band(v: &Venue, a: AccountId, market: MarketId, size: i64, n: usize) -> Option<(i64, i64)> {
    let s = v.engine.margin(a).unwrap();
    let share = crate::market::shared_headroom(Quote(s.equity.0 - s.maintenance_margin.0), n);
    let shrink = v.engine.markets[market.index()].band_shrink[0];
    SafeBand::around(Price(1_000), Qty(size), share, 1_000_000, bp(500), shrink)
        .ends(shrink)
        .map(|(lo, hi)| (lo.0, hi.0))
}

#[test]
fn any_change_to_a_holder_recomputes_its_band_and_a_shared_unit_splits_its_headroom() {
    let mut v = long_ten(spec("BTC-PERP"));
    assert_eq!(band(&v, A), Some((953, 1_047)));
    // A deposit widens it, a withdrawal narrows it: each reaches the next pass.
    v.deposit(A, 500);
    assert_eq!(band(&v, A), Some((905, 1_095)));
    v.ok(CommandKind::Withdraw { account: A, amount: usd(500) });
    assert_eq!(band(&v, A), Some((953, 1_047)));
    // A second cross position shares the headroom between two marks: each band spends
    // ⌊(H − 3) / 2⌋ of it, so that moves inside both can't spend more than H − 3 between them.
    let (v, eth) = long_in_two_markets(2_000, 10, 1);
    let btc = band(&v, A);
    assert!(btc.is_some());
    assert_eq!(btc, shared_band(&v, A, M, 10, 2));
    let eth_band =
        v.engine.markets[eth.index()].holders[0].band(A).expect("a holder").ends(0).map(|(lo, hi)| (lo.0, hi.0));
    assert!(eth_band.is_some());
    assert_eq!(eth_band, shared_band(&v, A, eth, 1, 2));
    // The BTC band is narrower than the whole headroom would have made it.
    let (lo, hi) = btc.unwrap();
    assert!(shared_band(&v, A, M, 10, 1).is_some_and(|(l, h)| l < lo && hi < h));
}

#[test]
fn a_payer_of_a_shared_unit_has_its_bands_derived_again_after_a_settlement() {
    // Long 1 BTC-PERP and 100 ETH-PERP at 1,000 on 20,000 USD: the ETH payments dwarf the BTC
    // ones. The shrink covers each market's payments within that market's band only; what
    // ETH pays must come out of the whole headroom, the BTC band's share included.
    let (mut v, eth) = long_in_two_markets(20_000, 1, 100);
    let (lo, hi) = band(&v, A).unwrap();
    assert_eq!(Some((lo, hi)), shared_band(&v, A, M, 1, 2));
    // Eight hours on, both markets settle at the interest rate: the longs pay in both.
    v.ts += 8 * crate::market::HOUR_MS;
    v.ok(CommandKind::Tick);
    let t = v.engine.markets[M.index()].band_shrink[0];
    assert!(t > 0);
    // The pass derived both bands again from what the payments left; the BTC band's top
    // came down by more than BTC's own shrink (its bottom is the lowest price, 1, either way).
    let after = band(&v, A).unwrap();
    assert_eq!(Some(after), shared_band(&v, A, M, 1, 2));
    assert_eq!((lo, after.0), (1, 1));
    assert!(after.1 < hi - t, "{after:?} against ({lo}, {hi}) less {t}");
    let eth_band = {
        let m = &v.engine.markets[eth.index()];
        m.holders[0].band(A).expect("a holder").ends(m.band_shrink[0]).map(|(lo, hi)| (lo.0, hi.0))
    };
    assert_eq!(eth_band, shared_band(&v, A, eth, 100, 2));
}

#[test]
fn a_funding_settlement_narrows_the_payers_bands_by_what_a_lot_can_pay() {
    let mut v = long_ten(spec("BTC-PERP"));
    let (lo, hi) = band(&v, A).unwrap();
    // Eight hours on, a Tick settles the period at the interest rate (mark = index: no
    // premium): positive, so the longs pay and their side narrows; the shorts' does not.
    v.ts += 8 * crate::market::HOUR_MS;
    let ev = v.ok(CommandKind::Tick);
    let rate = ev
        .iter()
        .find_map(|e| match e {
            EventKind::FundingSettled(s) => Some(s.rate),
            _ => None,
        })
        .expect("a settlement");
    assert!(rate.0 > 0, "{rate:?}");
    let shrink = v.engine.markets[M.index()].band_shrink;
    let t = crate::market::funding_shrink(Price(1_000), 1_000_000, rate, bp(500));
    assert_eq!(shrink, [t, 0]);
    assert_eq!(band(&v, A), Some((lo + t, hi - t)));
}

#[test]
fn a_partial_close_is_the_smallest_that_clears_the_buffer() {
    let mut v = long_ten(spec("BTC-PERP"));
    v.deposit(C, 1_000_000);
    // C bids 10 at 910. Mark 910: A's equity 1,000 − 900 = 100 against MM 455.
    v.order(C, Buy, 910, 10, TimeInForce::Gtc);
    let ev = v.mark(910);
    // Closing k lots at 910 costs a fee of 4.55 × k; it must leave 100 − 4.55k ≥
    // 1.1 × 45.5 × (10 − k), so k ≥ 8.8: 9 lots, not 8 and not all 10.
    assert_eq!(finished(&ev, A), Some(LiquidationOutcome::Partial));
    assert_eq!(v.size(A), 1);
    assert_eq!(fee(&ev), Some(Quote(40_950_000)), "0.5 % of 9 × 910");
    let m = v.engine.margin(A).unwrap();
    assert_eq!((m.equity, m.maintenance_margin), (Quote(59_050_000), Quote(45_500_000)));
    assert!(m.equity.0 >= m.maintenance_margin.0 * 11 / 10);
    assert_eq!(v.fund(), Quote(40_950_000));
}

#[test]
fn with_too_little_book_for_a_partial_the_position_closes_in_full() {
    let mut v = long_ten(spec("BTC-PERP"));
    v.deposit(C, 1_000_000);
    // Bids: 3 at 910, 7 at 901 (above A's bankruptcy price 900). No partial clears the buffer.
    v.order(C, Buy, 910, 3, TimeInForce::Gtc);
    v.order(C, Buy, 901, 7, TimeInForce::Gtc);
    let ev = v.mark(910);
    assert_eq!(bankruptcy_prices(&ev), vec![(M, 900)]);
    assert_eq!(finished(&ev, A), Some(LiquidationOutcome::ClosedOut));
    // Sold 3 @ 910 and 7 @ 901: 100 − 63 = 37 USD left. The fee would be 0.5 % × 9,100 = 45.5
    // but a full close-out pays at most what is left: 37, and A ends at zero.
    assert_eq!(fee(&ev), Some(usd(37)));
    assert_eq!((v.size(A), v.collateral(A)), (0, Quote(0)));
    assert_eq!(v.fund(), usd(37));
}

#[test]
fn the_fee_after_a_close_that_leaves_other_positions_is_capped_at_equity_less_their_maintenance() {
    // 20x with MM 4 %. A: 1,000 USD, long 10 BTC @ 1,000 and long 1 ETH @ 500 (cross).
    let mut s = spec("BTC-PERP");
    s.max_leverage = 20;
    s.tiers[0].max_leverage = 20;
    s.tiers[0].maintenance_rate = bp(400);
    let mut v = Venue::new(s.clone());
    let eth = MarketId(1);
    v.ok(CommandKind::CreateMarket(Box::new(MarketSpec { symbol: "ETH-PERP".into(), ..s })));
    v.ok(CommandKind::SetMark { market: eth, price: Price(500) });
    v.deposit(A, 1_000);
    v.deposit(B, 1_000_000);
    v.deposit(C, 1_000_000);
    v.leverage(A, 20);
    v.ok(CommandKind::SetLeverage { account: A, market: eth, leverage: 20 });
    v.trade(B, A, Buy, 1_000, 10);
    v.ok(order(B, Sell, 500, 1, TimeInForce::Gtc).with_market(eth));
    v.ok(order(A, Buy, 500, 1, TimeInForce::Ioc).with_market(eth));
    v.order(C, Buy, 905, 10, TimeInForce::Gtc);
    let ev = v.mark(910);
    // Equity 100 against MM 364 + 20. No partial of BTC clears the buffer (9 lots would need
    // 148 of equity), so BTC closes in full at 905: 50 of slippage leaves 50, ETH's MM is 20.
    // The fee would be 45.50; it is capped at 50 − 20 = 30 so A is not put back under.
    assert_eq!(fee(&ev), Some(usd(30)));
    assert_eq!(finished(&ev, A), Some(LiquidationOutcome::Partial));
    let m = v.engine.margin(A).unwrap();
    assert_eq!((v.size(A), m.equity, m.maintenance_margin), (0, usd(20), usd(20)));
}

#[test]
fn the_closing_order_never_fills_worse_than_the_bankruptcy_price() {
    let mut v = long_ten(spec("BTC-PERP"));
    v.deposit(C, 1_000_000);
    // Bids below B are left alone; what the book doesn't take goes to ADL at B. A gap to 890
    // makes A bankrupt: equity 1,000 − 1,100 = −100, B = 890 + 100 / 10 = 900.
    v.order(C, Buy, 899, 10, TimeInForce::Gtc);
    let ev = v.mark(890);
    assert!(!ev.iter().any(|e| matches!(e, EventKind::Fill(_))), "{ev:?}");
    let adl: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::Deleveraged { account, qty, price, .. } => Some((*account, qty.0, price.0)),
            _ => None,
        })
        .collect();
    // B buys back at 900, 10 above mark: it gives up exactly A's deficit of 100.
    assert_eq!(adl, vec![(B, 10, 900)]);
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::Deleveraged { profit_given_up, .. } if *profit_given_up == usd(100)))
    );
    assert_eq!((v.size(A), v.collateral(A)), (0, Quote(0)));
    assert_eq!(v.size(C), 0, "C's bid below B was not touched");
}

#[test]
fn a_backstop_takes_over_at_its_discount_when_that_is_above_bankruptcy() {
    let mut v = long_ten(spec("BTC-PERP"));
    v.deposit(LIQ, 1_000_000);
    v.ok(CommandKind::SetLiquidator { account: LIQ, active: true });
    // Empty book. The liquidator buys at ⌈910 × 0.99⌉ = 901 ≥ B = 900: no gap to fund.
    let ev = v.mark(910);
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::BackstopTakeover { liquidator, qty, price, gap_paid, .. }
            if *liquidator == LIQ && qty.0 == 10 && price.0 == 901 && *gap_paid == Quote(0))));
    // A is left 100 − 10 × 9 = 10 USD, all of it the fee (cap: what is left).
    assert_eq!(fee(&ev), Some(usd(10)));
    assert_eq!((v.size(A), v.collateral(A), v.size(LIQ)), (0, Quote(0), 10));
}

/// A long 10 @ 1,000 gapped to 910 (B = 900, equity 100) with a 2 % backstop discount: the
/// liquidator would buy at ⌈891.8⌉ = 892, 8 below B, so every lot it takes needs 8 USD from the
/// funds: the gap is `lots × (18 × 10 − 100) / 10`.
fn gap_venue(insurance: InsurancePolicy) -> Venue {
    let mut s = spec("BTC-PERP");
    s.liquidation.backstop_discount = bp(200);
    s.liquidation.insurance = insurance;
    let mut v = long_ten(s);
    v.deposit(LIQ, 1_000_000);
    v.ok(CommandKind::SetLiquidator { account: LIQ, active: true });
    v
}

fn taken_over(ev: &[EventKind]) -> (i64, Quote) {
    ev.iter()
        .filter_map(|e| match e {
            EventKind::BackstopTakeover { qty, gap_paid, .. } => Some((qty.0, *gap_paid)),
            _ => None,
        })
        .fold((0, Quote(0)), |(q, g), (q2, g2)| (q + q2, Quote(g.0 + g2.0)))
}

fn deleveraged(ev: &[EventKind]) -> i64 {
    ev.iter()
        .filter_map(|e| match e {
            EventKind::Deleveraged { qty, .. } => Some(qty.0),
            _ => None,
        })
        .sum()
}

#[test]
fn waterfall_layer_one_collateral_and_then_adl_when_no_fund_can_pay_the_gap() {
    let mut v = gap_venue(InsurancePolicy::Own);
    let ev = v.mark(910);
    assert_eq!(taken_over(&ev), (0, Quote(0)), "no fund: the backstop can't take any of it");
    // ADL at mark (A still has 100 of equity, no deficit): A keeps 100 less the 45.50 fee.
    assert_eq!(deleveraged(&ev), 10);
    assert_eq!((v.size(A), v.collateral(A)), (0, Quote(54_500_000)));
}

#[test]
fn the_backstop_funds_the_gap_of_the_equity_left_after_the_book_took_part() {
    let mut v = gap_venue(InsurancePolicy::Own);
    v.ok(CommandKind::CapitaliseFund { fund: FundRef::Market(M), amount: usd(1_000) });
    v.deposit(C, 1_000_000);
    v.order(C, Buy, 900, 2, TimeInForce::Gtc);
    let ev = v.mark(910);
    // The closing IOC sells 2 at ⌈B⌉ = 900, 10 under mark: A's equity 100 → 80 on 8 lots. The
    // liquidator takes the 8 at 892, 18 under mark: the gap is 8 × 18 − 80 = 64 (with the
    // equity A had before the book's fill, it would be 44, and A left 20 short).
    assert_eq!(v.size(C), 2);
    assert_eq!(taken_over(&ev), (8, usd(64)));
    assert_eq!(fee(&ev), None, "nothing left for a fee");
    assert_eq!((v.size(A), v.collateral(A)), (0, Quote(0)));
    assert_eq!(v.fund(), usd(1_000 - 64));
}

#[test]
fn waterfall_layer_two_the_insurance_fund_pays_the_gap_of_what_it_can_afford() {
    let mut v = gap_venue(InsurancePolicy::Own);
    v.ok(CommandKind::CapitaliseFund { fund: FundRef::Market(M), amount: usd(50) });
    let ev = v.mark(910);
    // 50 USD pays for ⌊50 × 10 / 80⌋ = 6 lots (gap ⌈6 × 80 / 10⌉ = 48), leaving A 40 of equity
    // on its last 4 lots; those go to ADL at mark, and the 40 left pays the fee (cap).
    assert_eq!(taken_over(&ev), (6, usd(48)));
    assert_eq!(deleveraged(&ev), 4);
    assert_eq!(fee(&ev), Some(usd(40)));
    assert_eq!(v.fund(), usd(2 + 40));
    assert_eq!((v.size(A), v.collateral(A)), (0, Quote(0)));
}

#[test]
fn waterfall_layer_three_the_guaranty_fund_pays_after_the_insurance_fund() {
    let mut v = gap_venue(InsurancePolicy::Own);
    v.ok(CommandKind::CapitaliseFund { fund: FundRef::Market(M), amount: usd(50) });
    v.ok(CommandKind::CapitaliseFund { fund: FundRef::Guaranty, amount: usd(30) });
    let ev = v.mark(910);
    assert_eq!(taken_over(&ev), (10, usd(80)));
    assert_eq!(deleveraged(&ev), 0);
    let paid: Vec<(FundRef, Quote)> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::DeficitCovered { fund, amount, .. } => Some((*fund, *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(paid, vec![(FundRef::Market(M), usd(50)), (FundRef::Guaranty, usd(30))]);
    assert_eq!((v.fund(), v.engine.ledger().guaranty_fund), (Quote(0), Quote(0)));
    assert_eq!((v.size(A), v.collateral(A), v.size(LIQ)), (0, Quote(0), 10));
}

#[test]
fn a_shared_fund_pays_a_market_only_up_to_its_draw_cap() {
    let mut v = gap_venue(InsurancePolicy::Shared { max_draw: usd(20) });
    v.ok(CommandKind::CapitaliseFund { fund: FundRef::Shared, amount: usd(1_000) });
    let ev = v.mark(910);
    // The market may draw 20: ⌊20 × 10 / 80⌋ = 2 lots (gap 16); the rest is ADL.
    assert_eq!(taken_over(&ev), (2, usd(16)));
    assert_eq!(deleveraged(&ev), 8);
    // Paid 16 out, then received the fee: ⌈0.5 % × 9,100⌉ = 45.50 of A's 80 left.
    assert_eq!(v.engine.ledger().insurance_fund, Quote(1_029_500_000));
    // Its net draw: 16 out, 45.50 in.
    assert_eq!(v.engine.market(M).unwrap().shared_net_draw, Quote(16_000_000 - 45_500_000));
}

#[test]
fn an_isolated_position_is_liquidated_on_its_own_margin_and_the_loss_stays_inside() {
    let mut v = Venue::new(spec("BTC-PERP"));
    v.deposit(A, 5_000);
    v.deposit(B, 1_000_000);
    v.ok(CommandKind::SetMarginMode { account: A, market: M, mode: crate::account::MarginMode::Isolated });
    v.leverage(A, 10);
    v.trade(B, A, Buy, 1_000, 10); // 1,000 USD of margin moves into the position
    assert_eq!(v.collateral(A), usd(4_000));
    let ev = v.mark(890);
    // The position's equity 1,000 − 1,100 = −100: B = 890 + 100 / 10 = 900. It is bankrupt, but
    // the account's 4,000 of collateral is not the position's to lose.
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::LiquidationStarted { scope: LiquidationScope::Isolated(M), equity, .. } if *equity == usd(-100))));
    assert_eq!(bankruptcy_prices(&ev), vec![(M, 900)]);
    assert_eq!(finished(&ev, A), Some(LiquidationOutcome::ClosedOut));
    assert_eq!((v.size(A), v.collateral(A)), (0, usd(4_000)));
    assert_eq!(v.engine.account(A).unwrap().position(M).isolated_margin, Quote(0));
}

#[test]
fn cross_bankruptcy_prices_value_the_other_positions_at_mark_and_are_recomputed_after_each_close() {
    let mut v = Venue::new(spec("BTC-PERP"));
    let n = MarketId(1);
    v.ok(CommandKind::CreateMarket(Box::new(spec("ETH-PERP"))));
    v.ok(CommandKind::SetMark { market: n, price: Price(1_000) });
    v.deposit(A, 1_500);
    v.deposit(B, 1_000_000);
    v.trade(B, A, Buy, 1_000, 10); // long 10 in BTC
    v.ok(order(B, Buy, 1_000, 5, TimeInForce::Gtc).with_market(n));
    v.ok(order(A, Sell, 1_000, 5, TimeInForce::Ioc).with_market(n)); // short 5 in ETH
    let ev = v.mark(800);
    // Equity 1,500 − 2,000 = −500 against MM 400 + 250. BTC (the larger MM) first:
    // B = 800 + 500 / 10 = 850; after it the account has 0 equity, so ETH's B is its mark.
    assert_eq!(bankruptcy_prices(&ev), vec![(M, 850), (n, 1_000)]);
    assert_eq!(finished(&ev, A), Some(LiquidationOutcome::ClosedOut));
    assert_eq!(v.collateral(A), Quote(0));
}

impl CommandKind {
    /// The same order in another market (test helper).
    fn with_market(self, market: MarketId) -> Self {
        match self {
            CommandKind::PlaceOrder(o) => CommandKind::PlaceOrder(NewOrder { market, ..o }),
            other => other,
        }
    }
}

#[test]
fn the_open_interest_cap_refuses_orders_that_could_raise_it_but_not_reducing_ones() {
    let mut s = spec("BTC-PERP");
    s.liquidation.max_open_interest = Some(Qty(15));
    let mut v = Venue::new(s);
    for a in [A, B, C] {
        v.deposit(a, 1_000_000);
    }
    v.trade(B, A, Buy, 1_000, 10); // open interest 10
    // Each side's opening part counts on its own: B's new sell could add 6, beyond the cap.
    assert_eq!(v.code(order(B, Sell, 1_000, 6, TimeInForce::Gtc)), 2013);
    v.order(B, Sell, 1_000, 5, TimeInForce::Gtc);
    assert_eq!(v.code(order(C, Buy, 1_000, 6, TimeInForce::Ioc)), 2013);
    v.order(C, Buy, 1_000, 5, TimeInForce::Ioc); // exactly to the cap
    // A sells 3 of its long: it can only reduce, so the cap does not stop it.
    v.order(A, Sell, 1_000, 3, TimeInForce::Gtc);
    assert_eq!(v.engine.market(M).unwrap().open_interest, Qty(15));
}

/// The reject code in a command's events (the same command's pass may also liquidate).
fn refused(ev: &[EventKind]) -> Option<u16> {
    ev.iter().find_map(|e| match e {
        EventKind::Rejected { reason, .. } => Some(reason.code()),
        _ => None,
    })
}

#[test]
fn a_queued_account_is_cancel_only_until_its_turn_and_the_queue_drains_over_ticks() {
    let config = EngineConfig { max_liquidations_per_pass: 1, ..EngineConfig::default() };
    let mut v = Venue::with(config, spec("BTC-PERP"));
    let x = AccountId(5);
    v.deposit(B, 1_000_000);
    for a in [A, C, D, x] {
        v.deposit(a, 1_000);
        v.trade(B, a, Buy, 1_000, 10);
        v.order(a, Sell, 1_400, 1, TimeInForce::Gtc); // a resting order each
    }
    let ev = v.mark(910);
    let queued: Vec<AccountId> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::LiquidationQueued { account, .. } => Some(*account),
            _ => None,
        })
        .collect();
    assert_eq!(queued, vec![A, C, D, x]);
    let cancelled =
        ev.iter().filter(|e| matches!(e, EventKind::OrderCancelled { reason: CancelReason::Liquidation, .. }));
    assert_eq!(cancelled.count(), 4, "every queued account's orders are cancelled at once");
    assert_eq!(finished(&ev, A), Some(LiquidationOutcome::ClosedOut));
    // One unit per pass: C, D and x wait, cancel-only. D deposits enough to be safe again (a
    // deposit is always accepted); this command's pass works on C.
    assert!(v.engine.in_liquidation(C) && v.engine.in_liquidation(D));
    let ev = v.ok(CommandKind::Deposit { account: D, amount: usd(10_000) });
    assert_eq!(finished(&ev, C), Some(LiquidationOutcome::ClosedOut));
    // x may not trade or withdraw while it waits; D's turn comes and it is spared.
    let ev = v.run(order(x, Sell, 1_000, 1, TimeInForce::Gtc));
    assert_eq!(refused(&ev), Some(5012));
    assert!(ev.iter().any(|e| matches!(e, EventKind::LiquidationAverted { account, .. } if *account == D)));
    let ev = v.run(CommandKind::Withdraw { account: x, amount: usd(1) });
    assert_eq!(refused(&ev), Some(5012));
    assert_eq!(finished(&ev, x), Some(LiquidationOutcome::ClosedOut));
    assert_eq!(v.engine.liquidation_queue().count(), 0);
    assert_eq!(v.size(D), 10);
    v.order(D, Sell, 1_000, 1, TimeInForce::Gtc); // trading again
}

#[test]
fn a_cascade_of_ten_thousand_accounts_finishes_over_bounded_passes() {
    let mut v = Venue::new(spec("BTC-PERP"));
    v.check = false; // set-up in bulk; every step of the cascade is checked below
    v.deposit(B, 100_000_000);
    v.deposit(LIQ, 10_000_000);
    v.ok(CommandKind::SetLiquidator { account: LIQ, active: true });
    v.ok(CommandKind::CapitaliseFund { fund: FundRef::Market(M), amount: usd(3_000_000) });
    v.order(B, Sell, 1_000, 10_000, TimeInForce::Gtc);
    let accounts: Vec<AccountId> = (100..10_100).map(AccountId).collect();
    for a in &accounts {
        v.deposit(*a, 100);
        v.order(*a, Buy, 1_000, 1, TimeInForce::Ioc);
    }
    v.check = true;
    // A 30 % gap: every long is bankrupt (equity 100 − 300 = −200, B = 900).
    let ev = v.mark(700);
    let queued = ev.iter().filter(|e| matches!(e, EventKind::LiquidationQueued { .. })).count();
    assert_eq!(queued, 10_000);
    let mut passes = 1;
    while let Some((last, _)) = v.engine.liquidation_queue().last().copied() {
        // Each command runs one pass; the last in the queue is cancel-only meanwhile.
        let ev = v.run(order(last, Buy, 700, 1, TimeInForce::Ioc));
        assert_eq!(refused(&ev), Some(5012), "cancel-only while queued");
        passes += 1;
    }
    assert_eq!(passes, 10_000_usize.div_ceil(64));
    assert!(accounts.iter().all(|a| v.size(*a) == 0 && v.collateral(*a) == Quote(0)));
    // The liquidator bought 10,000 lots at ⌈700 × 0.99⌉ = 693; the fund paid 207 a lot.
    assert_eq!(v.size(LIQ), 10_000);
    assert_eq!(v.fund(), usd(3_000_000 - 2_070_000));
}

#[derive(Debug, Clone)]
struct Trader {
    deposit: i64,
    leverage: u32,
    long: bool,
    lots: i64,
    isolated: bool,
}

fn trader() -> impl Strategy<Value = Trader> {
    (50i64..5_000, 1u32..=10, any::<bool>(), 1i64..40, prop::bool::weighted(0.25))
        .prop_map(|(deposit, leverage, long, lots, isolated)| Trader { deposit, leverage, long, lots, isolated })
}

/// Trader `i` (account `100 + i`) deposits, picks its mode and leverage, and takes its position
/// at 1,000 from `maker`'s quote; an order the margin refuses is fine (the quote is cancelled).
fn open_traders(v: &mut Venue, maker: AccountId, traders: &[Trader]) {
    for (i, t) in traders.iter().enumerate() {
        let a = AccountId(100 + i as u64);
        v.deposit(a, t.deposit);
        if t.isolated {
            v.ok(CommandKind::SetMarginMode { account: a, market: M, mode: crate::account::MarginMode::Isolated });
        }
        v.leverage(a, t.leverage);
        let side = if t.long { Buy } else { Sell };
        v.order(maker, side.opposite(), 1_000, t.lots, TimeInForce::Gtc);
        v.run(order(a, side, 1_000, t.lots, TimeInForce::Ioc));
        v.run(CommandKind::CancelAll { account: maker, market: Some(M) });
    }
}

proptest! {
    /// Random traders, leverages, books and funds, then price paths with 20–50 % gaps: after
    /// every command the invariants hold (money to the unit, open interest, every unit below
    /// maintenance queued by a full scan), nothing is liquidated above maintenance, and ticks
    /// drain the queue.
    #[test]
    fn gaps_of_twenty_to_fifty_percent_keep_every_invariant(
        traders in prop::collection::vec(trader(), 2..12),
        gaps in prop::collection::vec((20i64..=50, any::<bool>()), 1..5),
        liquidator in any::<bool>(),
        fund in 0i64..2_000,
        depth in 0i64..30,
        per_pass in 1u32..5,
    ) {
        let config = EngineConfig { max_liquidations_per_pass: per_pass, ..EngineConfig::default() };
        let mut v = Venue::with(config, spec("BTC-PERP"));
        let maker = AccountId(50);
        v.deposit(maker, 10_000_000);
        if liquidator {
            v.deposit(LIQ, 1_000_000);
            v.ok(CommandKind::SetLiquidator { account: LIQ, active: true });
        }
        if fund > 0 {
            v.ok(CommandKind::CapitaliseFund { fund: FundRef::Market(M), amount: usd(fund) });
        }
        open_traders(&mut v, maker, &traders);
        let mut mark = 1_000i64;
        for (pct, up) in gaps {
            mark = if up { mark * (100 + pct) / 100 } else { (mark * (100 - pct) / 100).max(1) };
            // The maker quotes around the new mark (the book the closing orders meet).
            v.run(CommandKind::CancelAll { account: maker, market: Some(M) });
            v.run(CommandKind::SetMark { market: M, price: Price(mark) });
            if depth > 0 {
                v.run(order(maker, Buy, mark * 99 / 100, depth, TimeInForce::Gtc));
                v.run(order(maker, Sell, mark * 101 / 100 + 1, depth, TimeInForce::Gtc));
            }
            for _ in 0..20 {
                if v.engine.liquidation_queue().count() == 0 {
                    break;
                }
                v.run(CommandKind::Tick);
            }
            prop_assert_eq!(v.engine.liquidation_queue().count(), 0);
        }
        prop_assert_eq!(v.engine.ledger().uncovered, Quote(0));
    }
}

proptest! {
    /// The safe bands change which holders a pass re-checks, never what it finds: random
    /// traders (cross and isolated), a random walk of the mark with small steps and jumps,
    /// funding settlements, deposits, withdrawals and margin moves give, command by command,
    /// the same events as the same engine re-checking every holder at every move (its bands
    /// dropped before each command), and every band stays sound (`check_invariants`).
    #[test]
    fn the_safe_bands_never_change_what_a_pass_finds(
        traders in prop::collection::vec(trader(), 2..10),
        steps in prop::collection::vec((-40i64..=40, 0u8..10, 0usize..10, 1i64..200), 10..60),
        per_pass in 1u32..4,
    ) {
        let config = EngineConfig { max_liquidations_per_pass: per_pass, ..EngineConfig::default() };
        let mut v = Venue::with(config, spec("BTC-PERP"));
        let maker = AccountId(50);
        v.deposit(maker, 10_000_000);
        v.deposit(LIQ, 1_000_000);
        v.ok(CommandKind::SetLiquidator { account: LIQ, active: true });
        open_traders(&mut v, maker, &traders);
        let mut full = v.engine.clone();
        let mut mark = 1_000i64;
        for (step, what, who, amount) in steps {
            let a = AccountId(100 + (who % traders.len()) as u64);
            let kind = match what {
                // Mostly small moves (within most bands), sometimes a jump of up to 40 %.
                0..=5 => {
                    let pct = if what == 0 { step } else { step / 10 };
                    mark = (mark * (1_000 + 10 * pct) / 1_000).max(1);
                    CommandKind::SetMark { market: M, price: Price(mark) }
                }
                6 => {
                    v.ts += 8 * crate::market::HOUR_MS;
                    CommandKind::Tick
                }
                7 => CommandKind::Withdraw { account: a, amount: usd(amount) },
                8 => CommandKind::Deposit { account: a, amount: usd(amount) },
                _ => CommandKind::AdjustIsolatedMargin { account: a, market: M, amount: usd(amount - 100) },
            };
            full.forget_safe_bands();
            let cmd = Command { ts: Timestamp(v.ts + 1), kind: kind.clone() };
            let expected = full.apply(&cmd);
            let got = v.run(kind);
            let expected: Vec<EventKind> = expected.into_iter().map(|e| e.kind).collect();
            prop_assert_eq!(got, expected);
        }
    }
}

proptest! {
    /// The ADL ranking kept through a cascade never changes what ADL does. Five 10x longs
    /// (accounts 10–14) and random traders face a 40 % fall with no book, no backstop and an
    /// empty fund, one unit a pass, so every bankrupt unit goes to ADL against the maker and
    /// the shorts; between the passes, random commands: trades with the maker, deposits,
    /// withdrawals, small mark moves, funding settlements, further gaps. Command by command
    /// the events equal those of the same engine ranking afresh at every ADL (its kept ranking
    /// dropped before each command).
    #[test]
    fn the_kept_adl_ranking_never_changes_what_adl_does(
        traders in prop::collection::vec(trader(), 2..10),
        steps in prop::collection::vec((0u8..10, 0usize..10, -30i64..=30, 1i64..20), 5..40),
    ) {
        let config = EngineConfig { max_liquidations_per_pass: 1, ..EngineConfig::default() };
        let mut v = Venue::with(config, spec("BTC-PERP"));
        let maker = AccountId(50);
        v.deposit(maker, 10_000_000);
        for a in 10..15 {
            let a = AccountId(a);
            v.deposit(a, 1_000);
            v.leverage(a, 10);
            v.trade(maker, a, Buy, 1_000, 10);
        }
        open_traders(&mut v, maker, &traders);
        let mut fresh = v.engine.clone();
        let mut both = |v: &mut Venue, kind: CommandKind| -> Result<Vec<EventKind>, TestCaseError> {
            fresh.forget_adl_ranking();
            let expected = fresh.apply(&Command { ts: Timestamp(v.ts + 1), kind: kind.clone() });
            let got = v.run(kind);
            let expected: Vec<EventKind> = expected.into_iter().map(|e| e.kind).collect();
            prop_assert_eq!(&got, &expected);
            Ok(got)
        };
        let gap = both(&mut v, CommandKind::SetMark { market: M, price: Price(600) })?;
        prop_assert!(gap.iter().any(|e| matches!(e, EventKind::Deleveraged { .. })), "{gap:?}");
        let mut mark = 600i64;
        for (what, who, step, lots) in steps {
            let a = AccountId(100 + (who % traders.len()) as u64);
            let kinds = match what {
                0..=3 => vec![CommandKind::Tick],
                4 => {
                    mark = (mark * (100 + step) / 100).max(1);
                    vec![CommandKind::SetMark { market: M, price: Price(mark) }]
                }
                5 => {
                    let side = if step < 0 { Sell } else { Buy };
                    vec![
                        order(maker, side.opposite(), mark, lots, TimeInForce::Gtc),
                        order(a, side, mark, lots, TimeInForce::Ioc),
                        CommandKind::CancelAll { account: maker, market: Some(M) },
                    ]
                }
                6 => vec![CommandKind::Deposit { account: a, amount: usd(lots * 10) }],
                7 => vec![CommandKind::Withdraw { account: a, amount: usd(lots * 10) }],
                8 => {
                    v.ts += 8 * crate::market::HOUR_MS;
                    vec![CommandKind::Tick]
                }
                _ => {
                    mark = (mark * (100 + step / 10) / 100).max(1);
                    vec![CommandKind::SetMark { market: M, price: Price(mark) }]
                }
            };
            for kind in kinds {
                both(&mut v, kind)?;
            }
        }
    }
}

#[test]
fn a_halted_market_liquidates_through_backstops_and_adl_only() {
    let mut v = long_ten(spec("BTC-PERP"));
    v.deposit(C, 1_000_000);
    v.order(C, Buy, 905, 10, TimeInForce::Gtc); // bids the book would otherwise fill
    v.ok(CommandKind::Halt { market: M });
    let ev = v.mark(890);
    assert!(!ev.iter().any(|e| matches!(e, EventKind::LiquidationOrder { .. } | EventKind::Fill(_))), "{ev:?}");
    assert_eq!(deleveraged(&ev), 10, "no backstop registered: ADL takes it");
    assert_eq!((v.size(A), v.size(C)), (0, 0));
}

#[test]
fn a_mark_move_over_thousands_of_holders_queues_exactly_the_units_below_maintenance_in_id_order() {
    // 3,000 holders among 4,000 accounts: the pass checks them in one walk over the accounts
    // (the dense path of `enqueue_underwater`); what it queues must be, in id order, exactly
    // what a lookup per account finds below maintenance. Every seventh holder is isolated, and
    // every fourth account holds nothing (the walk skips it). No unit is worked in the pass, so
    // the queue is the whole answer.
    let config = EngineConfig { max_liquidations_per_pass: 0, ..EngineConfig::default() };
    let mut v = Venue::with(config, spec("BTC-PERP"));
    v.check = false;
    v.deposit(A, 10_000_000);
    let mut holders = 0;
    for i in 0..4_000u64 {
        let id = AccountId(100 + i);
        v.deposit(id, 1_000 / (1 + i64::try_from(i % 10).unwrap()) + 1);
        if i % 4 == 3 {
            continue;
        }
        v.leverage(id, 10);
        if i % 7 == 0 {
            v.ok(CommandKind::SetMarginMode { account: id, market: M, mode: crate::account::MarginMode::Isolated });
        }
        v.trade(A, id, Buy, 1_000, 1);
        holders += 1;
    }
    assert_eq!(holders, 3_000);
    v.check = true;
    let ev = v.mark(900);
    let queued: Vec<(AccountId, LiquidationScope, Quote, Quote)> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::LiquidationQueued { account, scope, equity, maintenance_margin, .. } => {
                Some((*account, *scope, *equity, *maintenance_margin))
            }
            _ => None,
        })
        .collect();
    let expected: Vec<(AccountId, LiquidationScope, Quote, Quote)> = v
        .engine
        .accounts()
        .flat_map(|(id, _)| v.engine.underwater_units(*id).into_iter().map(|(s, (e, mm))| (*id, s, e, mm)))
        .collect();
    assert!(queued.len() > 1_000 && queued.iter().any(|u| matches!(u.1, LiquidationScope::Isolated(_))));
    assert_eq!(queued, expected);
}

/// The queue's lookup set: an account is cancel-only while any of its units is queued; a unit
/// is counted once however often it is added; the set is the same whatever the order the
/// units came in (restored from a snapshot's queue, it must equal the live one).
#[test]
fn queued_units_are_a_set_by_account() {
    use super::liquidation::QueuedUnits;
    use crate::event::LiquidationScope::{Cross, Isolated};
    let mut q = QueuedUnits::default();
    assert!(q.insert((A, Isolated(MarketId(1)))));
    assert!(q.insert((A, Cross)));
    assert!(!q.insert((A, Cross)), "already queued");
    assert!(q.insert((B, Isolated(M))));
    assert_eq!(q.len(), 3);
    assert!(q.has_account(A) && q.has_account(B) && !q.has_account(C));
    assert!(q.contains((A, Cross)) && q.contains((A, Isolated(MarketId(1)))) && !q.contains((A, Isolated(M))));
    assert_eq!(q, QueuedUnits::of([(B, Isolated(M)), (A, Cross), (A, Isolated(MarketId(1))), (A, Cross)].into_iter()));
    assert!(!q.remove((A, Isolated(M))), "never queued");
    assert!(q.remove((A, Cross)));
    assert!(q.has_account(A), "its isolated unit is still queued");
    assert!(q.remove((A, Isolated(MarketId(1)))));
    assert!(!q.has_account(A) && !q.remove((A, Cross)));
    assert_eq!(q.len(), 1);
    assert_eq!(q, QueuedUnits::of(std::iter::once((B, Isolated(M)))));
    // Three units of one account, the first in leaving first: the others stay queued.
    for unit in [(C, Isolated(MarketId(2))), (C, Isolated(MarketId(1))), (C, Cross)] {
        assert!(q.insert(unit));
    }
    assert!(q.remove((C, Isolated(MarketId(2)))));
    assert!(!q.contains((C, Isolated(MarketId(2)))) && !q.remove((C, Isolated(MarketId(2)))));
    assert!(q.contains((C, Cross)) && q.contains((C, Isolated(MarketId(1)))) && q.has_account(C));
    assert!(!q.insert((C, Cross)), "still queued");
    assert_eq!(q.len(), 3);
    assert_eq!(q, QueuedUnits::of([(C, Isolated(MarketId(1))), (B, Isolated(M)), (C, Cross)].into_iter()));
    assert_ne!(q, QueuedUnits::of([(C, Isolated(MarketId(2))), (B, Isolated(M)), (C, Cross)].into_iter()));
    assert!(q.remove((C, Cross)) && q.remove((C, Isolated(MarketId(1)))));
    assert!(!q.has_account(C) && q.len() == 1);
}
