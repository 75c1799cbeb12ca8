//! A 30 % gap across 100,000 leveraged accounts: the time to finish every liquidation.
//!
//! One market (tick 1, lot 1, mark 1,000; one tier: 20x, MM 2.5 %). One maker is short 100,000
//! lots against 100,000 accounts long one lot each at leverages 1x … 20x (account `i` posts
//! `1,000 / (1 + i mod 20)`). A registered liquidator and an insurance fund stand behind the
//! market. Each measured iteration applies, to a clone of that engine, a `set_mark` from 1,000
//! to 700 and then `tick`s until the liquidation queue is empty: every account at 4x or more
//! (85,000 of them) is bankrupt and is taken over by the liquidator at ⌈700 × 0.99⌉ with the
//! gap paid by the fund, 64 units per pass. The clone is made outside the measurement.
//!
//! `gap_30pct_100k_accounts_adl`: the same longs against 1,000 shorts of 100 lots each, with
//! no liquidator, an empty fund and no bids left in the book, so every bankrupt long goes to
//! auto-deleveraging against the shorts (the market's default policy): the waterfall's last
//! layer, 85,000 times.
//!
//! Run: `cargo bench -p perpx-core --bench liquidation`. Figures: docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use perpx_core::event::FundRef;
use perpx_core::market::{FundingSpec, LiquidationSpec, MarginTier, MarketLimits, OracleSpec};
use perpx_core::{
    AccountId, Command, CommandKind, Decimal, Engine, EngineConfig, EventKind, MarketId, MarketSpec, NewOrder,
    OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};

/// The allocator the `perpx` binary ships with (docs/PERFORMANCE.md, session 6), so the engine
/// is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
const MARKET: MarketId = MarketId(0);
const ACCOUNTS: u64 = 100_000;
const USD: i64 = 1_000_000;
const LIQUIDATOR: AccountId = AccountId(u64::MAX);

fn spec() -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 0),
        lot_size: Decimal::new(1, 0),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 20,
        tiers: vec![MarginTier {
            max_notional: Quote(i64::MAX / 4),
            max_leverage: 20,
            maintenance_rate: Rate(2_500_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(0),
        taker_fee: Rate(0),
        order_band: Rate(50_000_000),
        limits: MarketLimits::default(),
        oracle: OracleSpec::default(),
        funding: FundingSpec::default(),
        liquidation: LiquidationSpec::default(),
    }
}

/// Shorts that take the other side of the longs: one maker with everything (`backstop`, a
/// registered liquidator and a capitalised fund), or 1,000 shorts of 100 lots and nothing
/// else behind the market (ADL).
const ADL_SHORTS: u64 = 1_000;

/// The engine with 100,000 leveraged longs and, per `backstop`, the liquidator and the fund,
/// or 1,000 shorts and nothing else.
fn setup(backstop: bool) -> (Engine, i64) {
    let mut e = Engine::new(EngineConfig::default());
    let mut ts = 1;
    let mut apply = |e: &mut Engine, kind: CommandKind| {
        let events = e.apply(&Command { ts: Timestamp(ts), kind });
        assert!(!events.iter().any(|x| matches!(x.kind, EventKind::Rejected { .. })), "{events:?}");
        ts += 1;
    };
    apply(&mut e, CommandKind::CreateMarket(Box::new(spec())));
    apply(&mut e, CommandKind::SetMark { market: MARKET, price: Price(1_000) });
    let order = |account, side, qty, tif| {
        CommandKind::PlaceOrder(NewOrder {
            account: AccountId(account),
            market: MARKET,
            side,
            order_type: OrderType::Limit { price: Price(1_000), tif },
            qty: Qty(qty),
            client_id: None,
            stp: StpMode::ExpireTaker,
            reduce_only: false,
        })
    };
    if backstop {
        apply(&mut e, CommandKind::Deposit { account: AccountId(0), amount: Quote(1_000_000_000 * USD) });
        apply(&mut e, CommandKind::Deposit { account: LIQUIDATOR, amount: Quote(100_000_000 * USD) });
        apply(&mut e, CommandKind::SetLiquidator { account: LIQUIDATOR, active: true });
        let fund = FundRef::Market(MARKET);
        apply(&mut e, CommandKind::CapitaliseFund { fund, amount: Quote(100_000_000 * USD) });
        apply(&mut e, order(0, Side::Sell, i64::try_from(ACCOUNTS).unwrap(), TimeInForce::Gtc));
    } else {
        let lots = i64::try_from(ACCOUNTS / ADL_SHORTS).unwrap();
        for s in 0..ADL_SHORTS {
            let short = ACCOUNTS + 1 + s;
            apply(&mut e, CommandKind::Deposit { account: AccountId(short), amount: Quote(1_000_000 * USD) });
            apply(&mut e, order(short, Side::Sell, lots, TimeInForce::Gtc));
        }
    }
    for a in 1..=ACCOUNTS {
        let leverage = 1 + u32::try_from(a % 20).unwrap();
        let deposit = 1_000 * USD / i64::from(leverage) + 1;
        apply(&mut e, CommandKind::Deposit { account: AccountId(a), amount: Quote(deposit) });
        apply(&mut e, CommandKind::SetLeverage { account: AccountId(a), market: MARKET, leverage });
        apply(&mut e, order(a, Side::Buy, 1, TimeInForce::Ioc));
    }
    (e, ts)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("liquidation");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ACCOUNTS));
    for (name, backstop) in [("gap_30pct_100k_accounts", true), ("gap_30pct_100k_accounts_adl", false)] {
        bench_gap(&mut g, name, backstop);
    }
    g.finish();
}

/// Applies the gap and ticks until no unit is queued; checks that the waterfall layer the case
/// is about did the work.
fn bench_gap(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, name: &str, backstop: bool) {
    let (engine, ts) = setup(backstop);
    g.bench_function(name, |b| {
        b.iter_batched(
            || (engine.clone(), Vec::with_capacity(1 << 20)),
            |(mut e, mut events)| {
                let mut t = ts;
                e.apply_into(
                    &Command { ts: Timestamp(t), kind: CommandKind::SetMark { market: MARKET, price: Price(700) } },
                    &mut events,
                );
                let (mut passes, mut deleveraged) = (1, 0usize);
                while e.liquidation_queue().next().is_some() {
                    t += 1;
                    events.clear();
                    e.apply_into(black_box(&Command { ts: Timestamp(t), kind: CommandKind::Tick }), &mut events);
                    deleveraged += events.iter().filter(|x| matches!(x.kind, EventKind::Deleveraged { .. })).count();
                    passes += 1;
                }
                assert!(passes > 1_000, "{passes} passes");
                assert_eq!(deleveraged > 0, !backstop, "{deleveraged} deleveraging fills");
                (e, events)
            },
            BatchSize::PerIteration,
        );
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
