//! The seed's auto-deleveraging cases, fully numbered, and properties of the three policies.
//!
//! Market: tick 1, lot 1, no fees (no liquidation fee either), maximum leverage 20x, maintenance
//! 1 %, a 50 % order band, an empty insurance fund and no liquidators; the book is empty before
//! each gap, the mark is set directly. Leverage: W 4x, L 20x, L2 10x, everyone else 1x; every
//! order is a limit at the current mark.

use proptest::prelude::*;

use super::*;
use crate::book::Side::{self, Buy, Sell};
use crate::command::{NewOrder, OrderType, TimeInForce};
use crate::market::{AdlPolicy, LiquidationSpec, MarginTier, MarketLimits};
use crate::num::{Decimal, Qty, Quote, Rate};

const M: MarketId = MarketId(0);
const W: AccountId = AccountId(1);
const L: AccountId = AccountId(2);
const X: AccountId = AccountId(3);
const Y: AccountId = AccountId(4);
const B: AccountId = AccountId(5);
const L2: AccountId = AccountId(6);
const Z: AccountId = AccountId(7);
const USD: i64 = 1_000_000;

fn usd(x: i64) -> Quote {
    Quote(x * USD)
}

fn spec(adl: AdlPolicy) -> MarketSpec {
    MarketSpec {
        symbol: "SEED-PERP".into(),
        tick_size: Decimal::new(1, 0),
        lot_size: Decimal::new(1, 0),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 20,
        tiers: vec![MarginTier {
            max_notional: usd(1_000_000_000),
            max_leverage: 20,
            maintenance_rate: Rate(1_000_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(0),
        taker_fee: Rate(0),
        order_band: Rate(50_000_000),
        limits: MarketLimits::default(),
        oracle: crate::market::OracleSpec::default(),
        funding: crate::market::FundingSpec::default(),
        liquidation: LiquidationSpec { fee_rate: Rate(0), adl, ..LiquidationSpec::default() },
    }
}

struct Venue {
    engine: Engine,
    ts: i64,
}

impl Venue {
    fn new(adl: AdlPolicy) -> Self {
        let mut v = Self { engine: Engine::default(), ts: 0 };
        v.ok(CommandKind::CreateMarket(Box::new(spec(adl))));
        v
    }

    fn ok(&mut self, kind: CommandKind) -> Vec<EventKind> {
        self.ts += 1;
        let events = self.engine.apply(&Command { ts: Timestamp(self.ts), kind });
        self.engine.check_invariants().unwrap();
        assert!(!events.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. })), "{events:?}");
        assert!(events.iter().all(|e| e.seq == self.engine.seq()), "one sequence step");
        events.into_iter().map(|e| e.kind).collect()
    }

    fn mark(&mut self, price: i64) -> Vec<EventKind> {
        self.ok(CommandKind::SetMark { market: M, price: Price(price) })
    }

    fn fund(&mut self, account: AccountId, amount: i64, leverage: u32) {
        self.ok(CommandKind::Deposit { account, amount: usd(amount) });
        self.ok(CommandKind::SetLeverage { account, market: M, leverage });
    }

    /// `maker` rests a limit at `price`, `taker` takes all of it.
    fn trade(&mut self, maker: AccountId, taker: AccountId, taker_side: Side, price: i64, qty: i64) {
        let order = |account, side, tif| {
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
        };
        self.ok(order(maker, taker_side.opposite(), TimeInForce::Gtc));
        self.ok(order(taker, taker_side, TimeInForce::Ioc));
    }

    fn position(&self, a: AccountId) -> (i64, Quote, Quote) {
        let acc = self.engine.account(a).unwrap();
        let p = acc.position(M);
        (p.size.0, p.cost_basis, acc.collateral)
    }
}

/// (winner, lots, price, profit given up) of every ADL trade in `ev`.
fn deleveraged(ev: &[EventKind]) -> Vec<(AccountId, i64, i64, Quote)> {
    ev.iter()
        .filter_map(|e| match e {
            EventKind::Deleveraged { account, qty, price, profit_given_up, .. } => {
                Some((*account, qty.0, price.0, *profit_given_up))
            }
            _ => None,
        })
        .collect()
}

/// The seed's case 1 up to the gap: W long 40 @ 100 at 4x, L short 20 @ 95 at 20x against Y.
fn case_one(adl: AdlPolicy) -> (Venue, Vec<EventKind>) {
    let mut v = Venue::new(adl);
    v.mark(100);
    v.fund(W, 1_000, 4);
    v.fund(X, 1_000_000, 1);
    v.trade(X, W, Buy, 100, 40);
    v.mark(95);
    v.fund(L, 100, 20);
    v.fund(Y, 10_000, 1);
    v.trade(Y, L, Sell, 95, 20);
    // The mark gaps 95 → 120 in one step.
    let ev = v.mark(120);
    (v, ev)
}

#[test]
fn case_1_you_were_only_2x_leveraged_so_you_earned_40_percent() {
    let (v, ev) = case_one(AdlPolicy::Queue);
    // L: equity 100 − 20 × 25 = −400, bankruptcy price 120 − 400 / 20 = 100.
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::LiquidationStarted { account, equity, .. } if *account == L && *equity == usd(-400))));
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::LiquidationOrder { account, bankruptcy_price, .. } if *account == L && bankruptcy_price.0 == 100)));
    // W ranks first (20 % × 4,800 / 1,800 ≈ 0.53 against Y's 26.3 % × 2,400 / 10,500 ≈ 0.06).
    let ranks: Vec<(AccountId, i128)> = v.engine.adl_ranking(M, 1).iter().map(|p| (p.account, p.rank)).collect();
    assert_eq!(ranks.iter().map(|r| r.0).collect::<Vec<_>>(), vec![W, Y]);
    assert_eq!(deleveraged(&ev), vec![(W, 20, 100, usd(400))], "W gives up exactly L's deficit");
    // W: long 20, cost 2,000, collateral 1,000, unrealised +400: 40 % on its margin, not 80 %.
    assert_eq!(v.position(W), (20, usd(2_000), usd(1_000)));
    assert_eq!(v.engine.margin(W).unwrap().unrealized_pnl, usd(400));
    assert_eq!(v.position(L), (0, Quote(0), Quote(0)), "L ends at exactly zero");
    assert_eq!(v.position(Y), (20, usd(1_900), usd(10_000)), "Y untouched");
}

#[test]
fn case_2_the_basis_trader_is_deleveraged_in_the_same_step_as_the_bankruptcy() {
    let mut v = Venue::new(AdlPolicy::Queue);
    v.mark(100);
    v.fund(B, 10_000, 1);
    v.fund(L2, 500, 10);
    v.fund(Z, 1_000_000, 1);
    v.trade(B, L2, Buy, 100, 50);
    v.trade(B, Z, Buy, 100, 50); // B is short 100 (its spot hedge lives elsewhere)
    let ev = v.mark(80);
    // L2: equity 500 − 50 × 20 = −500, bankruptcy price 80 + 500 / 50 = 90.
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::LiquidationOrder { account, bankruptcy_price, .. } if *account == L2 && bankruptcy_price.0 == 90)));
    assert_eq!(deleveraged(&ev), vec![(B, 50, 90, usd(500))]);
    // B is short 50 now: with its 100 of spot, net long 50 — hedged exposure ADL created.
    assert_eq!(v.position(B).0, -50);
    assert_eq!(v.position(L2), (0, Quote(0), Quote(0)));
}

#[test]
fn case_3_pro_rata_cuts_everyone_by_a_third_and_leverage_drain_only_w() {
    // Pro rata by size: 20 of 60 long lots, a third each: W 13⅓ → 13, Y 6⅔ → 7 (the leftover
    // lot to the larger remainder). Both at 100, 20 below mark: W gives up 260, Y 140.
    let (v, ev) = case_one(AdlPolicy::ProRata);
    assert_eq!(deleveraged(&ev), vec![(W, 13, 100, usd(260)), (Y, 7, 100, usd(140))]);
    assert_eq!(v.position(W), (27, usd(2_700), usd(1_000)));
    // Y sold 7 of 20 bought at 95: cost 1,900 × 7 / 20 = 665 removed, 35 realised.
    assert_eq!(v.position(Y), (13, usd(1_235), usd(10_035)));
    assert_eq!(v.position(L), (0, Quote(0), Quote(0)));
    // Leverage drain: W's leverage after giving up q lots, 120 × (40 − q) / (1,800 − 20 q), is
    // still 2,400 / 1,400 ≈ 1.71x at q = 20, above Y's 2,400 / 10,500 ≈ 0.23x: only W is cut.
    let (v, ev) = case_one(AdlPolicy::LeverageDrain);
    assert_eq!(deleveraged(&ev), vec![(W, 20, 100, usd(400))]);
    assert_eq!(v.position(Y), (20, usd(1_900), usd(10_000)));
}

#[test]
fn an_observed_adl_records_what_each_policy_would_have_done_on_the_same_positions() {
    // Case 1 with the recorder on: the queue's outcome is what the engine did (W 20 @ 100, 400
    // given up), pro rata's is case 3's (W 13, Y 7) — on one run, without re-running it.
    let mut v = Venue::new(AdlPolicy::Queue);
    v.engine.observe_adl(true);
    v.mark(100);
    v.fund(W, 1_000, 4);
    v.fund(X, 1_000_000, 1);
    v.trade(X, W, Buy, 100, 40);
    v.mark(95);
    v.fund(L, 100, 20);
    v.fund(Y, 10_000, 1);
    v.trade(Y, L, Sell, 95, 20);
    let hash_before = v.engine.state_hash();
    let ev = v.mark(120);
    assert_eq!(deleveraged(&ev), vec![(W, 20, 100, usd(400))]);
    let log = v.engine.take_adl_comparisons();
    assert_eq!(log.len(), 1);
    let c = &log[0];
    assert_eq!((c.bankrupt, c.bankrupt_sign, c.lots, c.price, c.mark), (L, -1, Qty(20), Price(100), Price(120)));
    assert_eq!(c.positions.iter().map(|p| p.account).collect::<Vec<_>>(), vec![W, Y]);
    let hits = |i: usize| c.outcomes[i].hit.iter().map(|h| (h.0, h.1, h.3)).collect::<Vec<_>>();
    assert_eq!(hits(0), vec![(W, 20, 400 * i128::from(USD))]);
    assert_eq!(hits(1), vec![(W, 13, 260 * i128::from(USD)), (Y, 7, 140 * i128::from(USD))]);
    assert_eq!(hits(2), vec![(W, 20, 400 * i128::from(USD))]);
    assert!(v.engine.take_adl_comparisons().is_empty(), "taken once");
    // The recorder is not state: an unobserved twin ends with the same hash.
    let (twin, _) = case_one(AdlPolicy::Queue);
    assert_eq!(twin.engine.state_hash(), v.engine.state_hash());
    assert_ne!(hash_before, v.engine.state_hash());
}

#[test]
fn percentiles_follow_the_rank_order() {
    let (v, _) = case_one(AdlPolicy::Queue);
    // Longs after the ADL: W (20 @ 100, +400 on 1,400 of equity) and Y.
    assert_eq!(v.engine.adl_percentile(W, M), Some(100));
    assert_eq!(v.engine.adl_percentile(Y, M), Some(50));
    assert_eq!(v.engine.adl_percentile(X, M), Some(100), "alone on the short side");
    assert_eq!(v.engine.adl_percentile(L, M), None, "no position");
}

proptest! {
    /// Random winners (cross accounts with a second position, isolated ones, losers on the
    /// same side) and a bankrupt counterparty, under each policy: money conserved and open
    /// interest symmetric (checked after every command), the value given up equals the deficit
    /// to the unit, nobody is reduced beyond its position or flipped, and `leverage_drain`
    /// leaves no higher maximum leverage than the other two (to 0.1 %: it plans with the
    /// sub-tick settlement at its upper bound of one tick a lot).
    #[test]
    fn every_policy_takes_exactly_the_deficit_and_drain_minimises_leverage(
        winners in prop::collection::vec((1i64..30, 0i64..3_000, 80i64..=100, prop::bool::weighted(0.3)), 1..7),
        gap in 5i64..30,
        hedge in any::<bool>(),
        share in 1i64..=100,
    ) {
        let mut outcomes = Vec::new();
        for policy in [AdlPolicy::Queue, AdlPolicy::ProRata, AdlPolicy::LeverageDrain] {
            let mut v = Venue::new(policy);
            v.mark(100);
            v.fund(X, 10_000_000, 1);
            v.ok(CommandKind::CreateMarket(Box::new(MarketSpec { symbol: "HEDGE-PERP".into(), ..spec(policy) })));
            v.ok(CommandKind::SetMark { market: MarketId(1), price: Price(100) });
            for (i, (size, extra, entry, isolated)) in winners.iter().enumerate() {
                let a = AccountId(100 + i as u64);
                // At least the initial margin (10x) and a little more; `extra` on top.
                v.ok(CommandKind::Deposit { account: a, amount: usd(size * 12 + extra) });
                if *isolated {
                    v.ok(CommandKind::SetMarginMode { account: a, market: M, mode: crate::account::MarginMode::Isolated });
                }
                v.ok(CommandKind::SetLeverage { account: a, market: M, leverage: 10 });
                // Winners bought from X at `entry` ≤ 100 (the mark moved to 100 after).
                v.mark(*entry);
                v.trade(X, a, Buy, *entry, *size);
                v.mark(100);
                if hedge && !isolated {
                    // A second, cross position elsewhere (a short in another market).
                    v.fund(Z, 1_000_000, 1);
                    let order = |account, side, tif| CommandKind::PlaceOrder(NewOrder {
                        account, market: MarketId(1), side,
                        order_type: OrderType::Limit { price: Price(100), tif },
                        qty: Qty(1), client_id: None, stp: StpMode::ExpireTaker, reduce_only: false,
                    });
                    v.ok(order(Z, Buy, TimeInForce::Gtc));
                    v.ok(order(a, Sell, TimeInForce::Ioc));
                }
            }
            // The bankrupt short: 20x on a thin deposit, sold to X (who buys back part of its short).
            let total: i64 = winners.iter().map(|w| w.0).sum();
            let lots = (total * share / 100).max(1);
            v.fund(L, lots * 5 + 1, 20);
            v.trade(X, L, Sell, 100, lots);
            // Percentiles follow the rank order on each side.
            for sign in [1, -1] {
                let pct: Vec<u8> = v.engine.adl_ranking(M, sign).iter()
                    .map(|p| v.engine.adl_percentile(p.account, M).unwrap()).collect();
                prop_assert!(pct.windows(2).all(|w| w[0] >= w[1]), "{pct:?}");
                prop_assert!(pct.first().is_none_or(|p| *p == 100));
            }
            let before: Vec<(AccountId, i64)> =
                (0..winners.len()).map(|i| AccountId(100 + i as u64)).map(|a| (a, v.position(a).0)).collect();
            let mark = 100 + gap;
            let l_equity = v.engine.margin(L).unwrap().equity.0 - lots * gap * USD;
            prop_assume!(l_equity < 0);
            let ev = v.mark(mark);
            let adl = deleveraged(&ev);
            let given: i64 = adl.iter().map(|d| d.3.0).sum();
            prop_assert_eq!(given, -l_equity, "winners give up exactly the deficit under {:?}", policy);
            prop_assert_eq!(v.position(L), (0, Quote(0), Quote(0)));
            for (a, size) in &before {
                let after = v.position(*a).0;
                prop_assert!(after >= 0 && after <= *size, "{a} went from {size} to {after}");
            }
            let max_leverage = before.iter().filter_map(|(a, _)| {
                let s = v.engine.account(*a)?.position(M);
                if s.size.0 == 0 { return None; }
                let e = match v.engine.isolated(*a, M).unwrap() {
                    Some(iso) => iso.equity.0,
                    None => v.engine.margin(*a).unwrap().equity.0,
                };
                Some(i128::from(s.size.0) * i128::from(mark) * i128::from(USD) * Rate::SCALE / i128::from(e.max(1)))
            }).max().unwrap_or(0);
            outcomes.push(max_leverage);
        }
        // Within 0.1 %: the allocation counts each lot's sub-tick settlement at its upper bound.
        let best = outcomes[0].min(outcomes[1]);
        prop_assert!(outcomes[2] <= best + best / 1_000 + 1, "{outcomes:?}");
    }
}
