//! Funding settlement over 1,000,000 open positions.
//!
//! One market (tick 0.1, lot 0.001, mark 86,000): one maker short 999,999 lots against
//! 999,999 takers long one lot each — 1,000,000 open positions. Each measured iteration applies
//! one `tick` stamped at the funding time to a clone of that engine: step 1 settles the period
//! (rate 0.01 %, no premium samples), moving every position's collateral and emitting the
//! market's `funding_settled` and `FundingPayments` batches with a 40-byte line a position
//! (until session 22, a 96-byte `funding_payment` event each): one a stretch of the walk, which
//! the engine's default `SettlementWalk` cuts in two at this size, the second run on a thread
//! of its own (session 23). The clone is made outside the
//! measurement. The batch's lines go into fresh memory, as every settlement's do: its
//! first-touch page faults are part of what a settlement costs (mimalloc, which the `perpx`
//! binary and these benches use, backs it with transparent huge pages). The settlement sizes the
//! batch once for every holder: mimalloc grows a large vector by copying it, which was a third
//! of the settlement (docs/PERFORMANCE.md, "Funding, session 7").
//!
//! Run: `cargo bench -p perpx-core --bench funding`. Figures: docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use perpx_core::market::LiquidationSpec;
use perpx_core::market::{FundingSpec, MarginTier, MarketLimits, OracleSpec};
use perpx_core::{
    AccountId, Command, CommandKind, Decimal, Engine, EngineConfig, EventKind, MarketId, MarketSpec, NewOrder,
    OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};

/// The allocator the `perpx` binary ships with (docs/PERFORMANCE.md, session 6), so the engine
/// is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MARKET: MarketId = MarketId(0);
const POSITIONS: u64 = 1_000_000;
const MARK: Price = Price(860_000);

fn spec() -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 1),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 20,
        tiers: vec![MarginTier {
            max_notional: Quote(1_000_000_000_000_000),
            max_leverage: 20,
            maintenance_rate: Rate(500_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(0),
        taker_fee: Rate(0),
        order_band: Rate(5_000_000),
        limits: MarketLimits::default(),
        oracle: OracleSpec::default(),
        funding: FundingSpec::default(),
        liquidation: LiquidationSpec::default(),
    }
}

/// The engine with 1,000,000 open positions, its clock just before the first funding time.
fn setup() -> Engine {
    let mut e = Engine::new(EngineConfig::default());
    let mut ts = 1;
    let mut apply = |e: &mut Engine, kind: CommandKind| {
        let events = e.apply(&Command { ts: Timestamp(ts), kind });
        assert!(!events.iter().any(|x| matches!(x.kind, EventKind::Rejected { .. })), "{events:?}");
        ts += 1;
    };
    apply(&mut e, CommandKind::CreateMarket(Box::new(spec())));
    apply(&mut e, CommandKind::SetMark { market: MARKET, price: MARK });
    let order = |account, side, qty, tif| {
        CommandKind::PlaceOrder(NewOrder {
            account: AccountId(account),
            market: MARKET,
            side,
            order_type: OrderType::Limit { price: MARK, tif },
            qty: Qty(qty),
            client_id: None,
            stp: StpMode::ExpireTaker,
            reduce_only: false,
        })
    };
    apply(&mut e, CommandKind::Deposit { account: AccountId(0), amount: Quote(1_000_000_000_000_000) });
    let takers = i64::try_from(POSITIONS - 1).unwrap();
    apply(&mut e, order(0, Side::Sell, takers, TimeInForce::Gtc));
    for a in 1..POSITIONS {
        apply(&mut e, CommandKind::Deposit { account: AccountId(a), amount: Quote(1_000_000_000) });
        apply(&mut e, order(a, Side::Buy, 1, TimeInForce::Ioc));
    }
    e
}

fn bench(c: &mut Criterion) {
    let engine = setup();
    let due = engine.funding_info(MARKET).unwrap().next_funding_time;
    assert!(engine.now() < due);
    let tick = Command { ts: due, kind: CommandKind::Tick };
    let mut g = c.benchmark_group("funding_settlement");
    g.sample_size(10);
    g.throughput(Throughput::Elements(POSITIONS));
    g.bench_function("1m_positions", |b| {
        b.iter_batched(
            || (engine.clone(), Vec::new()),
            |(mut e, mut events)| {
                e.apply_into(black_box(&tick), &mut events);
                match &events[..] {
                    [settled, batches @ ..] => {
                        assert!(matches!(settled.kind, EventKind::FundingSettled(_)));
                        assert!(batches.iter().all(|b| matches!(b.kind, EventKind::FundingPayments { .. })));
                        let notices: usize = batches.iter().map(perpx_core::Event::notice_count).sum();
                        assert_eq!(notices, usize::try_from(POSITIONS).unwrap());
                    }
                    [] => panic!("no settlement"),
                }
                (e, events)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
