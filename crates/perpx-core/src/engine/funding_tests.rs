//! Worked examples of index, mark and funding, checkable by hand. Market: tick 1, lot 1 (one
//! tick on one lot is 1 USD), 20x with MM 2 % in tier 1, so the default cap on `F8` is
//! `0.75 × (5 % − 2 %) = 2.25 %`; `I8 = 0.01 %`, `c = 0.05 %`. Invariants (conservation to the
//! unit included) are checked after every command by the harness of `margin_tests.rs`.

use super::margin_tests::{A, B, C, M, Venue, place, spec, usd};
use super::*;
use crate::account::MarginMode;
use crate::book::Side::{Buy, Sell};
use crate::command::{ParamChange, TimeInForce};
use crate::event::{FundingLine, FundingSettlement};
use crate::market::{HOUR_MS, OracleSource, OracleStage, SourceStatus};
use crate::num::{Qty, Quote, Rate};

const D: AccountId = AccountId(4);
const BP: i64 = 10_000;
const H8: i64 = 8 * HOUR_MS;

/// The test market with `sources` oracle sources (weight 1), staleness 10 s, and `interval_h`.
fn oracle_spec(sources: &[&str], interval_h: i64) -> MarketSpec {
    let mut s = spec();
    s.oracle.sources = sources.iter().map(|n| OracleSource { name: (*n).into(), weight: 1 }).collect();
    s.funding.interval_ms = interval_h * HOUR_MS;
    s.funding.impact_notional = Some(usd(100));
    s
}

fn venue(spec: MarketSpec) -> Venue {
    Venue::with(100_000, EngineConfig::default(), spec)
}

/// Runs `kind` stamped exactly `ts`.
fn at(v: &mut Venue, ts: i64, kind: CommandKind) -> Vec<EventKind> {
    assert!(ts > v.ts, "time moves forward");
    v.ts = ts - 1;
    v.run(kind)
}

fn oracle(source: u16, price: i64) -> CommandKind {
    CommandKind::OraclePrice { market: M, source, price: Price(price) }
}

fn settled(events: &[EventKind]) -> Vec<EventKind> {
    events.iter().filter(|e| matches!(e, EventKind::FundingSettled { .. })).cloned().collect()
}

/// `(rate, rate_8h, samples, missed, positions, paid, received, to_fund)` of the only settlement.
fn settlement(events: &[EventKind]) -> (i64, i64, u64, u64, u64, i64, i64, i64) {
    match &settled(events)[..] {
        [EventKind::FundingSettled(s)] => {
            let FundingSettlement {
                rate,
                rate_8h,
                samples,
                missed_samples,
                positions,
                paid,
                received,
                to_insurance_fund,
                ..
            } = &**s;
            (rate.0, rate_8h.0, *samples, *missed_samples, *positions, paid.0, received.0, to_insurance_fund.0)
        }
        other => panic!("expected one settlement, got {other:?} in {events:?}"),
    }
}

/// The lines of each `FundingPayments` batch in `events`, in order.
fn batches(events: &[EventKind]) -> Vec<&Vec<FundingLine>> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::FundingPayments { payments, .. } => Some(payments),
            _ => None,
        })
        .collect()
}

/// The settlements' payments, `(account, amount)` a position in delivery order.
fn payments(events: &[EventKind]) -> Vec<(AccountId, i64)> {
    let batches = batches(events);
    assert!(batches.iter().all(|b| !b.is_empty()), "an empty batch is not emitted: {events:?}");
    assert!(!events.iter().any(|e| matches!(e, EventKind::FundingPayment { .. })), "the engine emits batches");
    batches.into_iter().flatten().map(|l| (l.account, l.amount.0)).collect()
}

fn stages(events: &[EventKind]) -> Vec<(OracleStage, i64)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::OracleStageChanged { stage, since, .. } => Some((*stage, since.0)),
            _ => None,
        })
        .collect()
}

/// A venue whose book shows `bid` and `ask` (two lots each, B and C: more than the 100 USD
/// impact notional) around an index of 100
/// from one source that stays fresh all day; no positions.
fn premium_venue(interval_h: i64, bid: i64, ask: i64, cap: Option<Rate>) -> Venue {
    let mut s = oracle_spec(&["spot"], interval_h);
    s.oracle.staleness_ms = 24 * HOUR_MS;
    s.funding.cap_8h = cap;
    let mut v = venue(s);
    v.ok(oracle(0, 100));
    v.ok(place(B, Buy, bid, 2, TimeInForce::Gtc, false));
    v.ok(place(C, Sell, ask, 2, TimeInForce::Gtc, false));
    v
}

#[test]
fn a_premium_series_gives_the_rate_with_the_clamp_binding_or_not_and_the_cap_binding_or_not() {
    // Impact bid 101 against index 100: every sample is +1 %. F8 = 1 % + clamp(0.01 % − 1 %,
    // ±0.05 %) = 0.95 %: the clamp binds, the cap (2.25 %) does not.
    let mut v = premium_venue(8, 101, 103, None);
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert_eq!(settlement(&ev), (95 * BP, 95 * BP, 480, 0, 0, 0, 0, 0), "480 samples of one minute, no position");
    // Impact bid 104: +4 % → 3.95 %, capped at 2.25 %.
    let mut v = premium_venue(8, 104, 105, None);
    assert_eq!(settlement(&at(&mut v, H8, CommandKind::Tick)).0, 225 * BP);
    // A spread around the index: no premium; F8 = 0 + clamp(0.01 %, ±0.05 %) = I8: the clamp
    // does not bind.
    let mut v = premium_venue(8, 100, 101, None);
    assert_eq!(settlement(&at(&mut v, H8, CommandKind::Tick)).0, BP);
    // Impact ask 98: −2 % → −2 % + 0.05 % = −1.95 %, inside the cap.
    let mut v = premium_venue(8, 97, 98, None);
    assert_eq!(settlement(&at(&mut v, H8, CommandKind::Tick)).0, -195 * BP);
    // A cap of exactly 0.95 %: the rate sits at the cap and is kept.
    let mut v = premium_venue(8, 101, 103, Some(Rate(95 * BP)));
    assert_eq!(settlement(&at(&mut v, H8, CommandKind::Tick)).0, 95 * BP);
}

#[test]
fn one_hour_intervals_pay_an_eighth_of_the_same_premium() {
    let mut v = premium_venue(1, 101, 103, None);
    let ev = at(&mut v, HOUR_MS, CommandKind::Tick);
    // 60 samples; F8 = 0.95 % as above, F = 0.95 % / 8 = 0.11875 %.
    assert_eq!(settlement(&ev), (118_750, 95 * BP, 60, 0, 0, 0, 0, 0));
    let info = v.engine.funding_info(M).unwrap();
    assert_eq!((info.next_funding_time, info.last_rate), (Timestamp(2 * HOUR_MS), Some(Rate(118_750))));
    // The same APR either way: 0.95 % × 3 × 365 = 1,040.25 %.
    assert_eq!(info.last_apr, Some(Rate(118_750 * 24 * 365)));
    let mut v8 = premium_venue(8, 101, 103, None);
    at(&mut v8, H8, CommandKind::Tick);
    assert_eq!(v8.engine.funding_info(M).unwrap().last_apr, info.last_apr);
}

#[test]
fn settlement_across_several_accounts_is_zero_sum_to_the_unit() {
    // 1-hour interval, no oracle: F = 0.01 % / 8 = 0.00125 %. A long 3 against B, C and D
    // short 1 each, all at 101; mark 101.
    let mut v = venue(oracle_spec(&[], 1));
    v.ok(CommandKind::Deposit { account: D, amount: usd(100_000) });
    for short in [B, C, D] {
        v.trade(short, A, Buy, 101, 1);
    }
    v.mark(101);
    let before: Vec<Quote> = [A, B, C, D].iter().map(|a| v.engine.account(*a).unwrap().collateral).collect();
    let ev = at(&mut v, HOUR_MS, CommandKind::Tick);
    // A pays ⌈303 USD × 0.00125 %⌉ = ⌈3,787.5⌉ = 3,788 micro; each short receives ⌊1,262.5⌋ =
    // 1,262; the 2 micro left go to the insurance fund.
    assert_eq!(settlement(&ev), (1_250, BP, 0, 0, 4, 3_788, 3_786, 2));
    assert_eq!(payments(&ev), vec![(A, 3_788), (B, -1_262), (C, -1_262), (D, -1_262)]);
    let after: Vec<i64> = [A, B, C, D].iter().map(|a| v.engine.account(*a).unwrap().collateral.0).collect();
    assert_eq!(after, vec![before[0].0 - 3_788, before[1].0 + 1_262, before[2].0 + 1_262, before[3].0 + 1_262]);
    assert_eq!(v.engine.market(M).unwrap().insurance_fund, Quote(2), "the market's own fund");
    let p = v.engine.account(A).unwrap().position(M);
    assert_eq!((p.funding_paid, p.funding_received), (Quote(3_788), Quote(0)));
    assert_eq!(v.engine.account(B).unwrap().position(M).funding_received, Quote(1_262));
}

#[test]
fn the_seeds_numbers_1_bp_per_8h_is_3_bp_a_day_and_at_10x_30_bp_of_margin_a_day() {
    let mut v = venue(spec());
    v.ok(CommandKind::SetLeverage { account: A, market: M, leverage: 10 });
    v.trade(B, A, Buy, 100, 10); // A long 1,000 USD at 10x: 100 USD of margin
    let info = v.engine.funding_info(M).unwrap();
    assert_eq!((info.predicted_rate, info.predicted_apr), (Rate(BP), Rate(10_950_000))); // 10.95 %
    let pf = v.engine.position_funding(A, M).unwrap();
    assert_eq!((pf.apr_on_notional, pf.apr_on_margin, pf.leverage), (Rate(10_950_000), Rate(109_500_000), 10));
    assert_eq!(pf.next_payment, Quote(100_000)); // 0.01 % of 1,000 USD
    // B is short: it receives, so its cost is negative (B uses the default 20x).
    assert_eq!(v.engine.position_funding(B, M).unwrap().apr_on_margin, Rate(-10_950_000 * 20));
    // A day: three settlements of 0.1 USD = 0.3 USD = 3 bp of notional = 30 bp of margin.
    for k in 1..=3 {
        at(&mut v, k * H8, CommandKind::Tick);
    }
    let paid = v.engine.account(A).unwrap().position(M).funding_paid;
    assert_eq!(paid, Quote(300_000));
    assert_eq!(paid.0 * 10_000 / usd(1_000).0, 3, "bp of notional a day");
    assert_eq!(paid.0 * 10_000 / usd(100).0, 30, "bp of margin a day");
}

#[test]
fn a_funding_time_with_no_positions_settles_nothing_and_the_next_period_begins() {
    let mut v = venue(spec());
    let ev = at(&mut v, H8 + 5, CommandKind::Tick);
    assert_eq!(settlement(&ev), (BP, BP, 0, 0, 0, 0, 0, 0));
    assert!(payments(&ev).is_empty());
    assert_eq!(v.engine.funding_info(M).unwrap().next_funding_time, Timestamp(2 * H8));
    // Two funding times passed in one gap: two settlements, in order.
    let ev = at(&mut v, 4 * H8, CommandKind::Tick);
    let times: Vec<i64> =
        settled(&ev).iter().map(|e| if let EventKind::FundingSettled(s) = e { s.funding_time.0 } else { 0 }).collect();
    assert_eq!(times, vec![2 * H8, 3 * H8, 4 * H8]);
}

#[test]
fn commands_between_due_times_skip_the_walk_and_the_first_one_at_a_due_time_settles() {
    // Step 1 runs only from the earliest due time on (`Engine::clock_work_due`); the commands
    // before it change nothing there, and the one stamped at the funding time settles.
    let mut v = venue(spec());
    let due = v.engine.clock_work_due;
    assert_eq!(due, v.engine.next_clock_work());
    assert!(due.0 > v.ts && due.0 <= H8, "the next sample or settlement, at the latest the funding time");
    let ev = at(&mut v, H8 - 1, CommandKind::Tick);
    assert!(settled(&ev).is_empty());
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert_eq!(settled(&ev).len(), 1, "settled at the funding time itself");
    assert_eq!(v.engine.clock_work_due, v.engine.next_clock_work());
    assert!(v.engine.clock_work_due.0 > H8);
    // A change scheduled between the due times is applied on time: scheduling makes the next
    // command look (the test `a_scheduled_change_..._takes_effect_on_time` fails without it).
    let change = ParamChange { taker_fee: Some(Rate(60_000)), ..ParamChange::default() };
    let effective_at = Timestamp(H8 + 10);
    v.ok(CommandKind::ScheduleParams { market: M, effective_at, change: Box::new(change) });
    assert_eq!(v.engine.clock_work_due, Timestamp(i64::MIN));
    let ev = at(&mut v, H8 + 10, CommandKind::Tick);
    assert!(ev.iter().any(|e| matches!(e, EventKind::ParamsChanged { .. })));
}

#[test]
fn the_checker_sees_step_one_skipped_past_a_due_time() {
    // A check that can't fail is no check: a skip that runs past a due sample is caught.
    let mut v = venue(spec());
    v.engine.check_invariants().unwrap();
    v.engine.clock_work_due = Timestamp(i64::MAX);
    let err = v.engine.check_invariants().unwrap_err();
    assert!(err.contains("step 1 skips until"), "{err}");
}

#[test]
fn a_settlement_uses_positions_as_they_were_before_the_command_that_triggers_it() {
    let mut v = venue(spec());
    v.ok(place(B, Sell, 100, 10, TimeInForce::Gtc, false));
    // A's buy is stamped at the funding time: the settlement runs first, on no position.
    let ev = at(&mut v, H8, place(A, Buy, 100, 10, TimeInForce::Ioc, false));
    assert_eq!(settlement(&ev).4, 0);
    assert!(matches!(ev[0], EventKind::FundingSettled { .. }), "step 1 runs before the order: {ev:?}");
    assert_eq!(v.position(A).0, 10);
}

#[test]
fn isolated_positions_pay_funding_from_their_own_margin() {
    let mut v = venue(spec());
    v.ok(CommandKind::SetMarginMode { account: C, market: M, mode: MarginMode::Isolated });
    v.ok(CommandKind::SetLeverage { account: C, market: M, leverage: 10 });
    v.trade(B, C, Buy, 100, 10); // C's position holds 100 USD, less its taker fee
    let collateral = v.engine.account(C).unwrap().collateral;
    let held = v.engine.account(C).unwrap().position(M).isolated_margin;
    at(&mut v, H8, CommandKind::Tick);
    let a = v.engine.account(C).unwrap();
    assert_eq!(a.collateral, collateral, "the rest of the account is untouched");
    assert_eq!(a.position(M).isolated_margin, Quote(held.0 - 100_000));
}

#[test]
fn an_interval_change_applies_from_the_next_period() {
    let mut v = venue(spec());
    v.trade(B, A, Buy, 100, 10);
    let change = ParamChange { funding_interval_ms: Some(HOUR_MS), ..ParamChange::default() };
    v.ok(CommandKind::ScheduleParams { market: M, effective_at: Timestamp(HOUR_MS), change: Box::new(change) });
    // The running 8-hour period keeps its end and its full rate.
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert_eq!(settlement(&ev).0, BP);
    assert_eq!(v.engine.funding_info(M).unwrap().next_funding_time, Timestamp(H8 + HOUR_MS));
    let ev = at(&mut v, H8 + HOUR_MS, CommandKind::Tick);
    assert_eq!(settlement(&ev).0, BP / 8);
    // A bad interval is refused when scheduled.
    let bad = ParamChange { funding_interval_ms: Some(2 * HOUR_MS), ..ParamChange::default() };
    let effective_at = Timestamp(v.ts + 10);
    assert!(matches!(
        v.rejected(CommandKind::ScheduleParams { market: M, effective_at, change: Box::new(bad) }),
        RejectReason::InvalidMarketSpec(_)
    ));
}

#[test]
fn the_index_is_the_median_of_fresh_sources_and_outliers_are_reported() {
    let mut v = venue(oracle_spec(&["a", "b", "c"], 8));
    v.ok(oracle(0, 1_000));
    let ev = v.ok(oracle(1, 1_002));
    // Two of three: the quorum (a majority) stands; the index is the lower middle, 1,000.
    assert!(ev.contains(&EventKind::IndexPrice { market: M, price: Price(1_000), sources_used: 2 }), "{ev:?}");
    assert!(ev.contains(&EventKind::MarkPriceSet { market: M, price: Price(1_000) }), "{ev:?}");
    let ev = v.ok(oracle(2, 1_100)); // 10 % away: an outlier (band 2 %)
    assert!(ev.contains(&EventKind::OracleSourceStatus {
        market: M,
        source: 2,
        status: SourceStatus::Outlier,
        price: Some(Price(1_100)),
    }));
    assert_eq!(v.engine.market(M).unwrap().oracle.index, Some(Price(1_000)));
    // Back in line: used again, reported.
    let ev = v.ok(oracle(2, 1_001));
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::OracleSourceStatus { source: 2, status: SourceStatus::Used, .. }))
    );
    // Rejections change nothing.
    assert_eq!(v.rejected(oracle(3, 1_000)), RejectReason::UnknownOracleSource("3".into()));
    assert_eq!(v.rejected(oracle(0, 0)), RejectReason::NonPositivePrice(Price(0)));
    let mut plain = venue(spec());
    assert_eq!(plain.rejected(oracle(0, 100)), RejectReason::UnknownOracleSource("0".into()));
}

/// Sources 0, 1 and 2 priced at `prices`, the first at `t0` and the others at the next commands.
fn price_three_sources(v: &mut Venue, t0: i64, prices: [i64; 3]) {
    at(v, t0, oracle(0, prices[0]));
    v.ok(oracle(1, prices[1]));
    v.ok(oracle(2, prices[2]));
}

/// The index is computed once and reused until a price arrives or a source's price expires
/// (the engine re-evaluates the oracle at every command): an expiry is still noticed at the
/// first command at or after it, and a cached result that is not the index now is an invariant
/// violation.
#[test]
fn the_cached_index_holds_until_a_new_price_or_an_expiry() {
    let mut v = venue(oracle_spec(&["a", "b", "c"], 8));
    let t0 = v.ts + 1;
    price_three_sources(&mut v, t0, [100, 101, 102]);
    let now = |v: &Venue| v.engine.now();
    let cached = |v: &Venue| v.engine.market(M).unwrap().index_cache.at(now(v)).cloned();
    let full = cached(&v).expect("computed at the last price");
    assert_eq!((full.index, full.used.clone()), (Some(Price(101)), vec![0, 1, 2]));
    // Source a's price (at t0) is fresh up to t0 + 10,000: the same result, reused.
    at(&mut v, t0 + 10_000, CommandKind::Tick);
    assert_eq!(cached(&v), Some(full.clone()));
    // From t0 + 10,001 it is stale: recomputed at the first command there.
    let ev = at(&mut v, t0 + 10_001, CommandKind::Tick);
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::OracleSourceStatus { source: 0, status: SourceStatus::Stale, .. })),
        "{ev:?}"
    );
    assert_eq!(cached(&v).map(|r| r.used), Some(vec![1, 2]));
    // A new price clears it; at t0 + 10,002 source b's price (from t0 + 1) has expired too.
    let ev = v.ok(oracle(0, 103));
    assert_eq!(now(&v).0, t0 + 10_002);
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::OracleSourceStatus { source: 0, status: SourceStatus::Used, .. }))
    );
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::OracleSourceStatus { source: 1, status: SourceStatus::Stale, .. }))
    );
    assert_eq!(cached(&v).map(|r| r.used), Some(vec![0, 2]));
    v.engine.check_invariants().unwrap();
    // A wrong cached result is caught.
    let t = now(&v);
    v.engine.markets[M.index()].index_cache.set(t, None, crate::price::index::IndexResult::default());
    let err = v.engine.check_invariants().unwrap_err();
    assert!(err.contains("cached oracle index"), "{err}");
}

#[test]
fn quorum_loss_walks_stale_reduce_only_halted_and_recovery_walks_back() {
    let mut v = venue(oracle_spec(&["a", "b", "c"], 8));
    v.trade(B, A, Buy, 100, 5); // A long 5 at the initial mark 100
    let t0 = v.ts + 1;
    price_three_sources(&mut v, t0, [100, 100, 100]);
    let t_last = v.ts;
    // Source a expires first: two of three still stand.
    let ev = at(&mut v, t0 + 10_001, CommandKind::Tick);
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::OracleSourceStatus { source: 0, status: SourceStatus::Stale, .. }))
    );
    assert!(stages(&ev).is_empty());
    // b expires: below quorum at exactly t_b + 10,001, whenever a command notices.
    let lost = t0 + 1 + 10_001;
    let ev = at(&mut v, lost + 5_000, CommandKind::Tick);
    assert_eq!(stages(&ev), vec![(OracleStage::Stale, lost)]);
    assert_eq!(v.engine.market(M).unwrap().mark, Some(Price(100)), "the last good mark stays");
    // Within grace, trading goes on.
    v.ok(place(C, Sell, 101, 1, TimeInForce::Gtc, false));
    // stale_grace_ms (30 s) after the loss: reduce-only.
    let ev = at(&mut v, lost + 30_000, CommandKind::Tick);
    assert_eq!(stages(&ev), vec![(OracleStage::ReduceOnly, lost)]);
    assert_eq!(v.rejected(place(C, Sell, 101, 1, TimeInForce::Gtc, false)), RejectReason::MarketReduceOnly);
    v.ok(place(A, Sell, 102, 1, TimeInForce::Gtc, true)); // reduces A's long: accepted
    v.ok(CommandKind::CancelAll { account: C, market: Some(M) });
    // max_stale_ms (300 s): halted, cancels only.
    let ev = at(&mut v, lost + 300_000, CommandKind::Tick);
    assert_eq!(stages(&ev), vec![(OracleStage::Halted, lost)]);
    assert_eq!(v.rejected(place(A, Sell, 102, 1, TimeInForce::Gtc, true)), RejectReason::MarketHalted);
    // An admin resume does not lift an oracle halt.
    assert_eq!(v.rejected(CommandKind::Resume { market: M }), RejectReason::MarketNotHalted);
    // Quorum back: the stages are walked back in order, in one command.
    v.ok(oracle(0, 101));
    let ev = v.ok(oracle(1, 101));
    assert_eq!(
        stages(&ev),
        vec![(OracleStage::ReduceOnly, lost), (OracleStage::Stale, lost), (OracleStage::Live, lost)]
    );
    assert!(ev.contains(&EventKind::MarkPriceSet { market: M, price: Price(101) }), "{ev:?}");
    v.ok(place(C, Sell, 103, 1, TimeInForce::Gtc, false));
    assert!(t_last < lost);
}

#[test]
fn a_stop_held_through_an_oracle_halt_fires_at_the_recovery_even_if_the_mark_stays() {
    use crate::command::NewStop;
    use crate::stop::{StopKind, TriggerBy};
    let mut v = venue(oracle_spec(&["a", "b", "c"], 8));
    let t0 = v.ts + 1;
    price_three_sources(&mut v, t0, [100, 100, 100]);
    assert_eq!(v.engine.market(M).unwrap().mark, Some(Price(100)));
    // A buys if the mark reaches 102.
    v.ok(CommandKind::PlaceStop(NewStop {
        account: A,
        market: M,
        side: Buy,
        kind: StopKind::StopMarket,
        trigger: Price(102),
        trigger_by: TriggerBy::Mark,
        qty: Qty(1),
        client_id: None,
        stp: crate::command::StpMode::ExpireTaker,
        reduce_only: false,
    }));
    // Every price expires: halted (max_stale_ms, 300 s, after the loss).
    let ev = at(&mut v, t0 + 400_000, CommandKind::Tick);
    assert_eq!(stages(&ev).last().map(|s| s.0), Some(OracleStage::Halted));
    // The operator's mark crosses the trigger; the halted market holds the stop.
    let ev = v.ok(CommandKind::SetMark { market: M, price: Price(102) });
    assert!(!ev.iter().any(|e| matches!(e, EventKind::StopTriggered { .. })), "{ev:?}");
    // Quorum back at 102: the mark is already there (no mark event), and the stop fires.
    v.ok(oracle(0, 102));
    let ev = v.ok(oracle(1, 102));
    assert_eq!(stages(&ev).last().map(|s| s.0), Some(OracleStage::Live), "{ev:?}");
    assert!(!ev.iter().any(|e| matches!(e, EventKind::MarkPriceSet { .. })), "{ev:?}");
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::StopTriggered { account: A, reference: Price(102), .. })),
        "{ev:?}"
    );
}

#[test]
fn a_sample_time_without_an_index_is_missed_never_invented() {
    let mut v = venue(oracle_spec(&["spot"], 8));
    v.ok(place(B, Buy, 101, 1, TimeInForce::Gtc, false));
    v.ok(place(C, Sell, 103, 1, TimeInForce::Gtc, false));
    // One price at 55 s: fresh until 65 s, so only the 60 s sample sees an index.
    at(&mut v, 55_000, oracle(0, 100));
    let ev = at(&mut v, H8, CommandKind::Tick);
    // One sample of +1 %: F8 = 0.95 %; 479 sample times missed.
    assert_eq!(settlement(&ev), (95 * BP, 95 * BP, 1, 479, 0, 0, 0, 0));
    // The outage walked every stage in that same command, dated from the loss at 65,001.
    assert_eq!(
        stages(&ev),
        vec![(OracleStage::Stale, 65_001), (OracleStage::ReduceOnly, 65_001), (OracleStage::Halted, 65_001)]
    );
    // A whole period without an index: no samples, the interest rate alone.
    let ev = at(&mut v, 2 * H8, CommandKind::Tick);
    assert_eq!(settlement(&ev), (BP, BP, 0, 480, 0, 0, 0, 0));
}

#[test]
fn a_single_trade_or_a_thin_book_cannot_move_the_mark_far() {
    let mut s = oracle_spec(&["spot"], 8);
    s.oracle.staleness_ms = 24 * HOUR_MS;
    let mut v = venue(s);
    v.ok(oracle(0, 1_000)); // index 1,000; mark follows; band 0.5 % = 5 ticks
    assert_eq!(v.engine.market(M).unwrap().mark, Some(Price(1_000)));
    // One lot trades at the top of the order band, 5 % above.
    v.trade(B, A, Buy, 1_050, 1);
    let ev = v.ok(oracle(0, 1_000));
    assert!(!ev.iter().any(|e| matches!(e, EventKind::MarkPriceSet { .. })), "{ev:?}");
    assert_eq!(v.engine.market(M).unwrap().mark, Some(Price(1_000)), "median(1,000, 1,050) is 1,000");
    // A thin book far above the index: one lot bid at 1,040, one offered at 1,049.
    v.ok(place(B, Buy, 1_040, 1, TimeInForce::Gtc, false));
    v.ok(place(C, Sell, 1_049, 1, TimeInForce::Gtc, false));
    at(&mut v, 300_000, oracle(0, 1_000)); // five basis samples of +44
    let at_5min = v.ts;
    // Basis and last trade both say ~1,045: the mark moves, but only to the band's edge.
    assert_eq!(v.engine.market(M).unwrap().mark, Some(Price(1_005)));
    at(&mut v, at_5min + 1_000, oracle(0, 1_000));
    assert_eq!(v.engine.market(M).unwrap().mark, Some(Price(1_005)));
    // A trade inside the band moves the mark in its own command (median(1,000, ~1,044,
    // 1,003)), and the harness's invariants hold the holders checked at it.
    v.ok(CommandKind::CancelAll { account: B, market: Some(M) });
    v.ok(CommandKind::CancelAll { account: C, market: Some(M) });
    v.ok(place(C, Sell, 1_003, 1, TimeInForce::Gtc, false));
    let ev = v.ok(place(B, Buy, 1_003, 1, TimeInForce::Ioc, false));
    assert!(ev.contains(&EventKind::MarkPriceSet { market: M, price: Price(1_003) }), "{ev:?}");
}

#[test]
fn prices_near_overflow_settle_exactly_or_skip_with_nothing_moved() {
    let mut v = venue(spec());
    v.trade(B, A, Buy, 100, 50);
    // A mark of 10^12 ticks: the notional (5 × 10^19 micro) is beyond i64, the payment
    // (5 × 10^15) is not: paid and received exactly.
    v.mark(1_000_000_000_000);
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert_eq!(payments(&ev), vec![(A, 5_000_000_000_000_000), (B, -5_000_000_000_000_000)]);
    // 10^5 times more: a payment beyond i64. Nothing moves; the skipped period is reported.
    v.mark(100_000_000_000_000_000);
    let before = (v.engine.account(A).unwrap().clone(), v.engine.market(M).unwrap().insurance_fund);
    let ev = at(&mut v, 2 * H8, CommandKind::Tick);
    assert!(ev.contains(&EventKind::FundingSkipped { market: M, funding_time: Timestamp(2 * H8) }), "{ev:?}");
    assert_eq!((v.engine.account(A).unwrap().clone(), v.engine.market(M).unwrap().insurance_fund), before);
}

#[test]
fn a_settlement_whose_total_overflows_after_positions_paid_undoes_them_all() {
    // Each position pays or receives 6 × 10^18 micro-units (fits an i64), but Σ paid is
    // 1.2 × 10^19 (doesn't): found only once every position has paid, so the payments already
    // made are undone and the period is skipped with nothing moved.
    let mut v = venue(spec());
    v.ok(CommandKind::Deposit { account: D, amount: usd(100_000) });
    v.trade(B, A, Buy, 100, 50);
    v.trade(D, C, Buy, 100, 50);
    v.mark(1_200_000_000_000_000);
    let accounts = |v: &Venue| [A, B, C, D].map(|x| v.engine.account(x).unwrap().clone());
    let before = (accounts(&v), v.engine.market(M).unwrap().insurance_fund);
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert!(ev.contains(&EventKind::FundingSkipped { market: M, funding_time: Timestamp(H8) }), "{ev:?}");
    assert!(payments(&ev).is_empty(), "{ev:?}");
    assert_eq!((accounts(&v), v.engine.market(M).unwrap().insurance_fund), before);
    // The same positions at a mark a thousand times lower settle: 6 × 10^15 each.
    v.mark(1_200_000_000_000);
    let ev = at(&mut v, 2 * H8, CommandKind::Tick);
    let each = 6_000_000_000_000_000;
    assert_eq!(payments(&ev), vec![(A, each), (B, -each), (C, each), (D, -each)]);
}

#[test]
fn funding_state_is_in_the_hash_and_a_rejection_at_the_clock_leaves_it() {
    let mut v = venue(oracle_spec(&["spot"], 8));
    let h = v.engine.state_hash();
    at(&mut v, 120_000, oracle(0, 100));
    assert_ne!(v.engine.state_hash(), h);
    let h = v.engine.state_hash();
    at(&mut v, 240_000, CommandKind::Tick); // two samples taken
    assert_ne!(v.engine.state_hash(), h);
    v.rejected(place(AccountId(99), Buy, 100, 1, TimeInForce::Gtc, false));
}

/// A trade of the proptests: `(maker, taker, qty, price)`, the first two indices into the accounts.
type Trade = (usize, usize, i64, i64);

/// The proptests' positions among `accounts` accounts: fewer than `most` trades
/// `(maker, taker, qty, price)` (indices into the accounts, 1–399 lots at 95–105) and whether
/// each account is isolated, for [`opening`].
fn positions(accounts: usize, most: usize) -> impl proptest::strategy::Strategy<Value = (Vec<Trade>, Vec<bool>)> {
    let trade = (0..accounts, 0..accounts, 1i64..400, 95i64..=105);
    (proptest::collection::vec(trade, 1..most), proptest::collection::vec(proptest::bool::ANY, accounts))
}

/// The commands that open the proptests' positions: each account's margin mode (isolated where
/// `isolated` says) and 5x leverage, then each trade `(maker, taker, qty, price)` between two
/// of `accounts` (the maker rests a sell, the taker buys it with an IOC, the maker's rest is
/// cancelled).
fn opening(accounts: &[AccountId], isolated: &[bool], trades: &[Trade]) -> (Vec<CommandKind>, Vec<CommandKind>) {
    let mut settings = Vec::new();
    for (a, iso) in accounts.iter().zip(isolated) {
        if *iso {
            settings.push(CommandKind::SetMarginMode { account: *a, market: M, mode: MarginMode::Isolated });
        }
        settings.push(CommandKind::SetLeverage { account: *a, market: M, leverage: 5 });
    }
    let mut trading = Vec::new();
    for &(maker, taker, qty, price) in trades.iter().filter(|(maker, taker, ..)| maker != taker) {
        trading.push(place(accounts[maker], Sell, price, qty, TimeInForce::Gtc, false));
        trading.push(place(accounts[taker], Buy, price, qty, TimeInForce::Ioc, false));
        trading.push(CommandKind::CancelAll { account: accounts[maker], market: None });
    }
    (settings, trading)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn settlement_is_zero_sum_to_the_unit_and_every_invariant_holds(
        (trades, isolated) in positions(4, 12),
        mark in 1i64..1_000_000,
        interest in -1_000_000i64..=1_000_000,
        interval in 0usize..3,
    ) {
        let mut s = spec();
        s.funding.interest_8h = Rate(interest);
        s.funding.cap_8h = Some(Rate(1_000_000));
        s.funding.interval_ms = crate::market::FUNDING_INTERVALS_MS[interval];
        let mut v = Venue::with(1_000_000, EngineConfig::default(), s);
        v.ok(CommandKind::Deposit { account: D, amount: usd(1_000_000) });
        let (settings, trading) = opening(&[A, B, C, D], &isolated, &trades);
        for kind in settings {
            v.ok(kind);
        }
        for kind in trading {
            v.run(kind);
        }
        v.mark(mark);
        let fund = v.engine.market(M).unwrap().insurance_fund;
        let interval_ms = crate::market::FUNDING_INTERVALS_MS[interval];
        let ev = at(&mut v, interval_ms, CommandKind::Tick); // invariants checked inside
        let (_, _, _, _, _, paid, received, to_fund) = settlement(&ev);
        let sum: i64 = payments(&ev).iter().map(|p| p.1).sum();
        proptest::prop_assert_eq!(sum, to_fund);
        proptest::prop_assert_eq!(paid - received, to_fund);
        proptest::prop_assert!(to_fund >= 0);
        proptest::prop_assert_eq!(v.engine.market(M).unwrap().insurance_fund.0 - fund.0, to_fund);
        let _ = Qty::ZERO;
    }
}

/// The test market with tick 0.01, so that a mark can put an account a few cents above
/// maintenance.
fn spec_in_cents() -> MarketSpec {
    let mut s = spec();
    s.tick_size = crate::num::Decimal::new(1, 2);
    s
}

/// That market at mark 100.00, with A, B and C holding 100 USD each.
fn venue_in_cents() -> Venue {
    let mut v = Venue::with(100, EngineConfig::default(), spec_in_cents());
    v.ok(CommandKind::SetMark { market: M, price: Price(10_000) });
    v
}

#[test]
fn funding_that_takes_an_account_under_maintenance_liquidates_it_in_the_same_command() {
    let mut v = venue_in_cents();
    v.trade(B, A, Buy, 10_000, 10); // A long 10 @ 100.00 on 100 USD, 0.50 taker fee
    // Mark 91.89: equity 99.50 − 81.10 = 18.40 against MM 2 % × 918.90 = 18.378: 2.2 cents above.
    v.ok(CommandKind::SetMark { market: M, price: Price(9_189) });
    let m = v.engine.margin(A).unwrap();
    assert_eq!((m.equity, m.maintenance_margin), (Quote(18_400_000), Quote(18_378_000)));
    // The 8-hour settlement charges 0.01 % of 918.90 = 0.09189: A is under maintenance, and the
    // liquidation pass of the same command takes it.
    let ev = at(&mut v, H8, CommandKind::Tick);
    let settled_at = ev.iter().position(|e| matches!(e, EventKind::FundingSettled { .. })).expect("settled");
    let queued_at = ev
        .iter()
        .position(|e| matches!(e, EventKind::LiquidationQueued { account, .. } if *account == A))
        .expect("liquidated in the same command");
    assert!(settled_at < queued_at);
}

#[test]
fn funding_that_takes_an_isolated_position_under_maintenance_liquidates_it_in_the_same_command() {
    // The isolated position pays from its own margin, and its own margin is what is checked.
    let mut v = venue_in_cents();
    v.ok(CommandKind::SetMarginMode { account: A, market: M, mode: MarginMode::Isolated });
    v.trade(B, A, Buy, 10_000, 10); // A long 10 @ 100.00: IM 1,000 / 20 = 50 moves in, less the 0.50 fee
    let margin = v.engine.account(A).unwrap().position(M).isolated_margin;
    assert_eq!(margin, Quote(49_500_000));
    // Mark 96.99: the position's equity 49.50 − 30.10 = 19.40 against MM 2 % × 969.90 = 19.398,
    // 0.2 cents above; the account's 50 USD of collateral is not the position's.
    v.ok(CommandKind::SetMark { market: M, price: Price(9_699) });
    // The settlement charges 0.01 % of 969.90 = 0.09699 from the position's margin.
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert!(payments(&ev).contains(&(A, 96_990)));
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::LiquidationQueued { account, scope: LiquidationScope::Isolated(m), .. } if *account == A && *m == M)));
}

#[test]
fn funding_checks_a_cross_payer_on_all_its_markets() {
    // A is long in M and short in N; N's loss is what leaves it close to maintenance, so a check
    // of the paying market alone would miss that M's funding takes it under.
    const N: MarketId = MarketId(1);
    let mut v = venue_in_cents();
    v.ok(CommandKind::CreateMarket(Box::new(MarketSpec { symbol: "OTHER-PERP".into(), ..spec_in_cents() })));
    v.ok(CommandKind::SetMark { market: N, price: Price(10_000) });
    v.trade(B, A, Buy, 10_000, 10); // A long 10 in M @ 100.00, 0.50 fee
    let in_n = |kind| match kind {
        CommandKind::PlaceOrder(o) => CommandKind::PlaceOrder(crate::command::NewOrder { market: N, ..o }),
        other => other,
    };
    v.ok(in_n(place(C, Buy, 10_000, 5, TimeInForce::Gtc, false)));
    v.ok(in_n(place(A, Sell, 10_000, 5, TimeInForce::Ioc, false))); // short 5 in N, 0.25 fee
    // N at 110.00: −50 on the short, MM 2 % × 550 = 11. M at 98.14: −18.60, MM 19.628. Equity
    // 99.25 − 50 − 18.60 = 30.65 against MM 30.628: 2.2 cents above.
    v.ok(CommandKind::SetMark { market: N, price: Price(11_000) });
    v.ok(CommandKind::SetMark { market: M, price: Price(9_814) });
    let m = v.engine.margin(A).unwrap();
    assert_eq!((m.equity, m.maintenance_margin), (Quote(30_650_000), Quote(30_628_000)));
    // M charges A 0.09814 (N then pays the short 0.055): A is queued in the same command.
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert!(payments(&ev).contains(&(A, 98_140)));
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::LiquidationQueued { account, scope: LiquidationScope::Cross, .. } if *account == A)));
}

// ---- the walk cut into stretches (settlement_walk.rs) ------------------------------------------

/// The walks compared: one walk, then cut into 2, 3 and 7 stretches from the first holder on
/// (7: more stretches than the venues below have accounts, so some stretches are empty).
const WALKS: [SettlementWalk; 4] = [
    SettlementWalk { stretches: 1, min_holders: 0 },
    SettlementWalk { stretches: 2, min_holders: 1 },
    SettlementWalk { stretches: 3, min_holders: 1 },
    SettlementWalk { stretches: 7, min_holders: 1 },
];

/// The events as delivered: each `FundingPayments` batch as a notice a line.
fn delivered(events: &[EventKind]) -> Vec<EventKind> {
    events
        .iter()
        .flat_map(|e| match e {
            EventKind::FundingPayments { market, payments } => payments.iter().map(|l| l.notice(*market)).collect(),
            other => vec![other.clone()],
        })
        .collect()
}

/// How many `FundingPayments` batches `events` hold, and whether each lists its accounts in
/// ascending id order.
fn batches_in_order(events: &[EventKind]) -> (usize, bool) {
    let batches = batches(events);
    let ordered = batches.iter().all(|b| b.windows(2).all(|w| w[0].account < w[1].account));
    (batches.len(), ordered)
}

/// One venue per walk in [`WALKS`], each with six funded accounts (A, B, C, D, E, F).
fn venues_per_walk(spec: &MarketSpec) -> Vec<Venue> {
    WALKS
        .iter()
        .map(|walk| {
            let mut v = Venue::with(1_000_000, EngineConfig::default(), spec.clone());
            v.engine.set_settlement_walk(*walk);
            for account in [D, E, F] {
                v.ok(CommandKind::Deposit { account, amount: usd(1_000_000) });
            }
            v
        })
        .collect()
}

const E: AccountId = AccountId(5);
const F: AccountId = AccountId(6);

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// However the walk is cut, every command delivers the same events, notice for notice, and
    /// leaves the same state: the settlements' payments, balances and totals, the accounts
    /// queued for liquidation, and the periods skipped when a figure doesn't fit (marks up to
    /// 10^15 ticks make some payments overflow, in any stretch, so a settlement is undone in
    /// every stretch). Only the batches differ: at most one a stretch, each in id order.
    #[test]
    fn the_walk_cut_into_stretches_pays_exactly_what_one_walk_pays(
        (trades, isolated) in positions(6, 16),
        marks in proptest::collection::vec((0u32..16, 1i64..10), 1..4),
        interest in -1_000_000i64..=1_000_000,
    ) {
        let mut s = spec();
        s.funding.interest_8h = Rate(interest);
        s.funding.cap_8h = Some(Rate(1_000_000));
        let mut venues = venues_per_walk(&s);
        let (settings, trading) = opening(&[A, B, C, D, E, F], &isolated, &trades);
        for kind in settings.into_iter().chain(trading) {
            let events: Vec<Vec<EventKind>> = venues.iter_mut().map(|v| v.run(kind.clone())).collect();
            proptest::prop_assert!(events.iter().all(|e| *e == events[0]));
        }
        // Settle once a mark: `digit × 10^power` ticks, from 1 to 9 × 10^15.
        for (period, (power, digit)) in (1..).zip(marks) {
            let mark = digit * 10i64.pow(power);
            let events: Vec<Vec<EventKind>> = venues
                .iter_mut()
                .map(|v| {
                    v.mark(mark);
                    at(v, period * H8, CommandKind::Tick) // invariants checked inside
                })
                .collect();
            let one_walk = delivered(&events[0]);
            proptest::prop_assert_eq!(batches_in_order(&events[0]).0, usize::from(!payments(&events[0]).is_empty()));
            for (walk, events) in WALKS.iter().zip(&events) {
                proptest::prop_assert_eq!(&delivered(events), &one_walk, "walk {:?}", walk);
                let (batches, ordered) = batches_in_order(events);
                proptest::prop_assert!(ordered && batches <= walk.stretches, "walk {:?}: {:?}", walk, events);
            }
            let hashes: Vec<StateHash> = venues.iter().map(|v| v.engine.state_hash()).collect();
            proptest::prop_assert!(hashes.iter().all(|h| *h == hashes[0]));
        }
    }
}

#[test]
fn a_settlement_that_overflows_in_a_later_stretch_is_undone_in_the_earlier_ones_too() {
    // Cut in two stretches of three accounts: A, B, C, then D, E, F. A is long 1 against B, C
    // long 1 against D, and E long 900 against F (at 5x: tier 2). At a mark of 2 × 10^14 ticks
    // (tick 1, lot 1: 2 × 10^20 micro-units of notional a lot) and 0.01 %, a one-lot position
    // pays or receives 2 × 10^16 micro-units, which fits; E and F's 1.8 × 10^19 don't. The
    // first stretch pays A, B and C in full; the second pays D, then stops at E; the whole
    // settlement is then undone, D and the first stretch too, and the period reported skipped,
    // as one walk does.
    let mut venues = venues_per_walk(&spec());
    let walks = [0, 1]; // one walk; two stretches
    for v in &mut venues {
        for account in [E, F] {
            v.ok(CommandKind::SetLeverage { account, market: M, leverage: 5 });
        }
        v.trade(B, A, Buy, 100, 1);
        v.trade(D, C, Buy, 100, 1);
        v.trade(F, E, Buy, 100, 900);
        v.mark(200_000_000_000_000);
    }
    let all = [A, B, C, D, E, F];
    for w in walks {
        let v = &mut venues[w];
        let before = (all.map(|x| v.engine.account(x).unwrap().clone()), v.engine.market(M).unwrap().insurance_fund);
        let ev = at(v, H8, CommandKind::Tick);
        assert!(ev.contains(&EventKind::FundingSkipped { market: M, funding_time: Timestamp(H8) }), "{ev:?}");
        assert!(payments(&ev).is_empty(), "{ev:?}");
        let after = (all.map(|x| v.engine.account(x).unwrap().clone()), v.engine.market(M).unwrap().insurance_fund);
        assert_eq!(after, before, "walk {:?}", WALKS[w]);
    }
    assert_eq!(venues[0].engine.state_hash(), venues[1].engine.state_hash());
    // Back at a mark of 100 every payment fits: two batches, A to C's, then D to F's.
    for w in walks {
        let v = &mut venues[w];
        v.mark(100);
        let ev = at(v, 2 * H8, CommandKind::Tick);
        let lines = vec![(A, 10_000), (B, -10_000), (C, 10_000), (D, -10_000), (E, 9_000_000), (F, -9_000_000)];
        assert_eq!(payments(&ev), lines);
        assert_eq!(batches_in_order(&ev), (w + 1, true), "walk {:?}", WALKS[w]);
    }
    assert_eq!(venues[0].engine.state_hash(), venues[1].engine.state_hash());
}

#[test]
fn funding_that_takes_a_payer_under_maintenance_queues_it_from_any_stretch() {
    // The first test of this kind with C as the payer: C is in the second of two stretches
    // (A, B | C) and the third of three (A | B | C), so its check is made on another thread.
    for walk in WALKS {
        let mut v = venue_in_cents();
        v.engine.set_settlement_walk(walk);
        v.trade(B, C, Buy, 10_000, 10); // C long 10 @ 100.00 on 100 USD, 0.50 taker fee
        v.ok(CommandKind::SetMark { market: M, price: Price(9_189) }); // 2.2 cents above MM
        let ev = at(&mut v, H8, CommandKind::Tick);
        assert!(payments(&ev).contains(&(C, 91_890)), "walk {walk:?}: {ev:?}");
        assert!(
            ev.iter().any(|e| matches!(e, EventKind::LiquidationQueued { account, .. } if *account == C)),
            "walk {walk:?}: {ev:?}"
        );
    }
}

#[test]
fn a_mark_near_overflow_liquidates_without_overflowing_the_liquidation_fee() {
    // The case the walk's proptest found (shrunk): F long 35 from A, then short 161 to B, so
    // short 126 @ 95 (5x, tier 2); A short 35. At a mark of 7 × 10^10 ticks F's equity is about
    // −8.8 × 10^18 micro-units and its MM about 4.4 × 10^17: `equity − MM`, the room above
    // maintenance that caps the liquidation fee, lies beyond i64, and the fee's cap overflowed.
    let mut v = venues_per_walk(&spec()).swap_remove(0);
    let (settings, trading) = opening(&[A, B, C, D, E, F], &[false; 6], &[(0, 5, 35, 95), (5, 1, 161, 95)]);
    for kind in settings {
        v.ok(kind);
    }
    for kind in trading {
        v.ok(kind);
    }
    v.mark(70_000_000_000); // the liquidation pass, invariants checked after it
    // Until it is liquidated, nothing can be withdrawn: `equity − IM` (about −1.06 × 10^19)
    // lies beyond i64 too, and must not wrap into a withdrawable sum.
    assert_eq!(v.engine.margin(F).unwrap().withdrawable(), Quote::ZERO);
    let ev = at(&mut v, H8, CommandKind::Tick);
    assert!(ev.iter().any(|e| matches!(e, EventKind::LiquidationStarted { account, .. } if *account == F)), "{ev:?}");
    // No room above maintenance: no fee is charged.
    assert!(!ev.iter().any(|e| matches!(e, EventKind::LiquidationFee { account, .. } if *account == F)), "{ev:?}");
}

/// Step 1 skips the oracle evaluation before the engine's quiet time, and skipping is what
/// makes it pay: after the evaluation that follows three source prices, the engine is quiet
/// until a source price first expires (or the mark's span ends), a tick before then finds it
/// quiet, and one at the expiry evaluates again and announces the stale source.
#[test]
fn step_one_skips_the_oracles_until_a_source_price_expires() {
    let mut v = venue(oracle_spec(&["a", "b", "c"], 8));
    let t0 = v.ts + 1;
    price_three_sources(&mut v, t0, [100, 101, 102]);
    // Source a's price, at t0, is stale from t0 + 10,001; the others' later.
    at(&mut v, t0 + 5, CommandKind::Tick);
    let quiet = v.engine.oracle_quiet_until;
    assert!(quiet.0 > t0 + 5 && quiet.0 <= t0 + 10_001, "quiet until {}", quiet.0);
    let ev = at(&mut v, quiet.0 - 1, CommandKind::Tick);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(v.engine.oracle_quiet_until, quiet, "a quiet tick keeps the quiet time");
    let ev = at(&mut v, t0 + 10_001, CommandKind::Tick);
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::OracleSourceStatus { source: 0, status: SourceStatus::Stale, .. })),
        "{ev:?}"
    );
    // A quiet time later than the markets' is an invariant violation.
    v.engine.oracle_quiet_until = Timestamp(i64::MAX);
    let err = v.engine.check_invariants().unwrap_err();
    assert!(err.contains("quiet only until"), "{err}");
}

/// A trade inside the liquidation pass moves the mark's last-price input without re-deriving
/// the mark (that waits for the next command), so the engine's quiet time must not outlive
/// it: a tick at which the oldest source expires drops the index 5 %, D's long is liquidated
/// into A's bid in that tick's pass, and the next tick, a millisecond later, derives the mark
/// from the pass's price. (Keeping the quiet time of the tick's step 1 there would skip that,
/// and `check_invariants`, run after every command, would refuse it first.)
#[test]
fn a_trade_in_the_pass_ends_the_quiet_time() {
    const P: i64 = 5_000;
    let mut s = oracle_spec(&["a", "b", "c"], 8);
    s.oracle.outlier_band = Rate(10_000_000);
    let mut v = venue(s);
    let t0 = v.ts + 1;
    at(&mut v, t0, oracle(0, P));
    at(&mut v, t0 + 5_000, oracle(1, P));
    v.ok(oracle(2, P * 95 / 100));
    v.ok(CommandKind::Deposit { account: D, amount: usd(260) });
    v.trade(B, D, Buy, P, 1);
    v.ok(place(A, Buy, P * 96 / 100, 1, TimeInForce::Gtc, false));
    let last_trade = |v: &Venue| v.engine.market(M).unwrap().last_price;
    assert_eq!(last_trade(&v), Some(Price(P)));
    // Source a (priced at t0) expires: the index is the lower of b's P and c's 95 % of P.
    let ev = at(&mut v, t0 + 10_001, CommandKind::Tick);
    assert!(ev.iter().any(|e| matches!(e, EventKind::IndexPrice { price, .. } if price.0 == P * 95 / 100)), "{ev:?}");
    assert!(ev.iter().any(|e| matches!(e, EventKind::Fill(f) if f.taker_account == D)), "{ev:?}");
    assert_eq!(last_trade(&v), Some(Price(P * 96 / 100)));
    assert!(v.engine.oracle_quiet_until.0 <= v.engine.now().0, "quiet though the last price moved");
    at(&mut v, t0 + 10_002, CommandKind::Tick);
    let key = super::oracle::mark_key(v.engine.market(M).unwrap()).unwrap();
    assert_eq!(key.last_trade, Some(Price(P * 96 / 100)));
    assert!(v.engine.market(M).unwrap().mark_memo.get(&key, v.engine.now()).is_some(), "the mark derived from it");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
    /// Skipping step 1's oracle evaluation before the quiet time never changes what a command
    /// does: random source prices (up to 6 % off, enough to liquidate a leveraged long through
    /// the book, whose trades move the mark's last-price input inside the pass), trades,
    /// resting orders, deposits and clock jumps from a millisecond to past source expiries,
    /// funding samples and hourly settlements (at a rate large enough for the mark's funding
    /// term to change within minutes) give, command by command, the same events as the same
    /// engine made to evaluate at every command (its quiet time dropped before each), and the
    /// same state at the end.
    #[test]
    fn the_quiet_time_never_changes_what_a_command_does(
        steps in proptest::collection::vec((0u8..8, 0u16..3, -6i64..=6, 0usize..4), 10..80),
    ) {
        const P: i64 = 5_000;
        let mut s = oracle_spec(&["a", "b", "c"], 1);
        s.funding.interest_8h = Rate(1_000_000);
        s.funding.cap_8h = Some(Rate(2_000_000));
        let mut v = venue(s);
        let t0 = v.ts + 1;
        price_three_sources(&mut v, t0, [P, P, P]);
        // D long 1 lot at P on 300 USD (about 17x): liquidated below about 96 % of P, into A's bids.
        v.ok(CommandKind::Deposit { account: D, amount: usd(300) });
        v.trade(B, D, Buy, P, 1);
        v.ok(place(A, Buy, P * 96 / 100, 2, TimeInForce::Gtc, false));
        let mut full = v.engine.clone();
        let mut skipped = 0;
        // A tick first, inside the quiet time the prices left; then the random steps.
        for (what, source, offset, scale) in std::iter::once((5, 0, 0, 0)).chain(steps) {
            let kinds = match what {
                // Every source priced (so a quorum returns after an outage), one of them off.
                0 | 1 => (0..3).map(|s| oracle(s, P + 50 * offset + i64::from(s == source))).collect(),
                // A resting order away from the touch, or a trade: B takes what A rests.
                2 => vec![place(A, Sell, P + 50 + 10 * offset.abs(), 1, TimeInForce::Gtc, false)],
                3 => vec![
                    place(A, Sell, P + 10 * offset, 1, TimeInForce::Gtc, false),
                    place(B, Buy, P + 10 * offset, 1, TimeInForce::Ioc, false),
                ],
                4 => vec![CommandKind::Deposit { account: C, amount: usd(1) }],
                // Clock jumps: milliseconds, seconds (sources expire after 10 s), minutes
                // (a sample a minute) and hours (a settlement an hour).
                _ => {
                    v.ts += [3, 4_000, 170_000, 2_900_000][scale] * (1 + offset.abs());
                    vec![CommandKind::Tick]
                }
            };
            for kind in kinds {
                full.oracle_quiet_until = Timestamp(i64::MIN);
                skipped += usize::from(v.ts + 1 < v.engine.oracle_quiet_until.0);
                let cmd = Command { ts: Timestamp(v.ts + 1), kind: kind.clone() };
                let expected: Vec<EventKind> = full.apply(&cmd).into_iter().map(|e| e.kind).collect();
                let got = v.run(kind);
                proptest::prop_assert_eq!(got, expected);
            }
        }
        proptest::prop_assert_eq!(v.engine.state_hash(), full.state_hash());
        full.check_invariants().unwrap();
        // The skip ran (at the first tick at least), so the comparison compares something.
        proptest::prop_assert!(skipped > 0);
    }
}
