//! Order-book benchmark on an exchange-core-style command mix.
//!
//! One market (tick 0.1, lot 0.001, mid 86,000), a book of ~1,000 (or ~100,000) live orders
//! around the mid, then a seeded stream of roughly 82 % amends/moves, 9 % new GTC orders,
//! 3 % IOC orders, 5 % cancels and 1 % aggressive GTC orders; a few percent of commands cross
//! and trade. The stream is generated once by driving a scratch engine (so every amend and
//! cancel names a live order), then each measured iteration applies it to a clone of the
//! pre-filled engine. Everything goes through `Engine::apply_into`, events included.
//!
//! Run: `cargo bench -p perpx-core --bench book`. Figures: docs/PERFORMANCE.md.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use perpx_core::market::{MarginTier, MarketLimits};
use perpx_core::{
    AccountId, Amend, Command, CommandKind, Decimal, Engine, EngineConfig, EventKind, MarketId, MarketSpec, NewOrder,
    OrderId, OrderRef, OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MARKET: MarketId = MarketId(0);
const MID: i64 = 860_000; // 86,000.0 at tick 0.1
const ACCOUNTS: u64 = 1_000;

fn spec(live_orders: usize) -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 1),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 100,
        tiers: vec![MarginTier {
            max_notional: Quote(i64::MAX / 2),
            max_leverage: 100,
            maintenance_rate: Rate(500_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits {
            max_open_orders_per_account: 1_000,
            max_price_levels: 100_000,
            max_stops_per_account: 0,
            max_order_qty: Qty(1_000_000),
        },
        oracle: perpx_core::market::OracleSpec::default(),
        funding: perpx_core::market::FundingSpec::default(),
        liquidation: perpx_core::market::LiquidationSpec::default(),
    }
    .tap_levels(live_orders)
}

trait TapLevels {
    fn tap_levels(self, live: usize) -> Self;
}

impl TapLevels for MarketSpec {
    /// Deep books spread over more levels; keep the level limit above what the mix can reach.
    fn tap_levels(mut self, live: usize) -> Self {
        self.limits.max_price_levels = u32::try_from(live.max(10_000) * 2).unwrap();
        self
    }
}

struct Mix {
    engine: Engine,
    live: Vec<(OrderId, AccountId, Side, i64)>,
    /// Position of each live order in `live`.
    pos: HashMap<OrderId, usize>,
    rng: ChaCha8Rng,
    ts: i64,
    /// Half-width of the resting book in ticks on each side of the mid.
    depth: i64,
}

impl Mix {
    fn cmd(&mut self, kind: CommandKind) -> Command {
        self.ts += 1;
        Command { ts: Timestamp(self.ts), kind }
    }

    fn passive_price(&mut self, side: Side) -> i64 {
        let off = self.rng.random_range(1..=self.depth);
        if side == Side::Buy { MID - off } else { MID + off }
    }

    fn place(&mut self, side: Side, price: i64, qty: i64, tif: TimeInForce) -> CommandKind {
        let account = AccountId(self.rng.random_range(0..ACCOUNTS));
        CommandKind::PlaceOrder(NewOrder {
            account,
            market: MARKET,
            side,
            order_type: OrderType::Limit { price: Price(price), tif },
            qty: Qty(qty),
            client_id: None,
            stp: StpMode::ExpireMaker,
            reduce_only: false,
        })
    }

    /// Applies to the scratch engine and keeps the set of live orders in step (O(1) per event).
    /// Returns whether the command was rejected.
    fn apply(&mut self, cmd: &Command) -> bool {
        let events = self.engine.apply(cmd);
        let rejected = events.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. }));
        let mut touched = Vec::new();
        for e in &events {
            match &e.kind {
                EventKind::OrderAccepted {
                    order_id,
                    account,
                    side,
                    order_type: OrderType::Limit { price, .. },
                    ..
                } => {
                    self.pos.insert(*order_id, self.live.len());
                    self.live.push((*order_id, *account, *side, price.0));
                    touched.push(*order_id);
                }
                EventKind::OrderAmended { order_id, price, .. } => {
                    if let Some(&i) = self.pos.get(order_id) {
                        self.live[i].3 = price.0;
                    }
                    touched.push(*order_id);
                }
                EventKind::Fill(f) => touched.push(f.maker_order),
                EventKind::OrderCancelled { order_id, .. } => touched.push(*order_id),
                _ => {}
            }
        }
        for id in touched {
            if self.engine.market(MARKET).unwrap().book.get(id).is_some() {
                continue;
            }
            if let Some(i) = self.pos.remove(&id) {
                self.live.swap_remove(i);
                if let Some(moved) = self.live.get(i) {
                    self.pos.insert(moved.0, i);
                }
            }
        }
        let n = self.engine.market(MARKET).unwrap().book.order_count();
        assert_eq!(n, self.live.len(), "after {cmd:?}: {events:?}");
        rejected
    }

    fn next(&mut self, target_live: usize) -> Command {
        let r = self.rng.random_range(0..100);
        let side = if self.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        // Hold the book near its target size: below half, add; above 1.1×, new orders become cancels.
        let over = self.live.len() > target_live + target_live / 10;
        let r = if over && (82..91).contains(&r) { 95 } else { r };
        let kind = if self.live.len() < target_live / 2 || (82..91).contains(&r) {
            let p = self.passive_price(side);
            let q = self.rng.random_range(1..=50);
            self.place(side, p, q, TimeInForce::Gtc)
        } else if r < 82 {
            let i = self.rng.random_range(0..self.live.len());
            let (id, account, side, price) = self.live[i];
            // Move by a few ticks; about 2 % of moves jump across the mid and trade.
            let cross = self.rng.random_range(0..50) == 0;
            let new_price = if cross {
                if side == Side::Buy { MID + self.rng.random_range(1..=5) } else { MID - self.rng.random_range(1..=5) }
            } else {
                let p = price + self.rng.random_range(-5..=5);
                if side == Side::Buy { p.clamp(MID - self.depth, MID - 1) } else { p.clamp(MID + 1, MID + self.depth) }
            };
            let qty = if self.rng.random_bool(0.5) { None } else { Some(Qty(self.rng.random_range(1..=50))) };
            let price = if new_price == price && qty.is_none() {
                Some(Price(new_price + 1 - 2 * i64::from(side == Side::Sell)))
            } else {
                Some(Price(new_price))
            };
            CommandKind::AmendOrder(Amend { account, market: MARKET, order: OrderRef::Id(id), price, qty })
        } else if r < 94 {
            let p = if side == Side::Buy { MID + 10 } else { MID - 10 };
            let q = self.rng.random_range(1..=30);
            self.place(side, p, q, TimeInForce::Ioc)
        } else if r < 99 {
            let i = self.rng.random_range(0..self.live.len());
            let (id, account, _, _) = self.live[i];
            CommandKind::CancelOrder { account, market: MARKET, order: OrderRef::Id(id) }
        } else {
            let p = if side == Side::Buy { MID + 3 } else { MID - 3 };
            let q = self.rng.random_range(1..=20);
            self.place(side, p, q, TimeInForce::Gtc)
        };
        self.cmd(kind)
    }
}

/// The pre-filled engine and the measured command stream.
fn workload(live_orders: usize, commands: usize, seed: u64) -> (Engine, Vec<Command>) {
    let depth = i64::try_from(live_orders / 4).unwrap().max(250);
    let mut mix = Mix {
        engine: Engine::new(EngineConfig::default()),
        live: Vec::new(),
        pos: HashMap::new(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        ts: 0,
        depth,
    };
    let create = mix.cmd(CommandKind::CreateMarket(spec(live_orders)));
    mix.apply(&create);
    let mark = mix.cmd(CommandKind::SetMark { market: MARKET, price: Price(MID) });
    mix.apply(&mark);
    // Fund every account far beyond what its orders need: this benchmark measures the book.
    for a in 0..ACCOUNTS {
        let deposit = mix.cmd(CommandKind::Deposit { account: AccountId(a), amount: Quote(1_000_000_000 * 1_000_000) });
        mix.apply(&deposit);
    }
    while mix.live.len() < live_orders {
        let side = if mix.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        let p = mix.passive_price(side);
        let q = mix.rng.random_range(1..=50);
        let kind = mix.place(side, p, q, TimeInForce::Gtc);
        let c = mix.cmd(kind);
        let rejected = mix.apply(&c);
        assert!(!rejected, "a prefill order was rejected: the workload would never fill the book");
    }
    let start = mix.engine.clone();
    let mut stream = Vec::with_capacity(commands);
    for _ in 0..commands {
        let c = mix.next(live_orders);
        mix.apply(&c);
        stream.push(c);
    }
    (start, stream)
}

fn describe(start: &Engine, stream: &[Command]) {
    let mut e = start.clone();
    let (mut fills, mut rejected, mut trading) = (0usize, 0usize, 0usize);
    for c in stream {
        let ev = e.apply(c);
        let f = ev.iter().filter(|x| matches!(x.kind, EventKind::Fill(_))).count();
        fills += f;
        trading += usize::from(f > 0);
        rejected += ev.iter().filter(|x| matches!(x.kind, EventKind::Rejected { .. })).count();
    }
    eprintln!(
        "mix: {} commands, {} trading ({} %), {} fills, {} rejected, {} live orders at the end",
        stream.len(),
        trading,
        percent(trading, stream.len()),
        fills,
        rejected,
        e.market(MARKET).unwrap().book.order_count()
    );
}

/// A percentage with one decimal, for the report line (integer arithmetic only).
fn percent(part: usize, whole: usize) -> String {
    let tenths = part * 1000 / whole.max(1);
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// The measured loop, a named function so an instruction count can be taken of it alone:
/// `valgrind --tool=callgrind --toggle-collect='*run_stream*' <bench binary> --bench --test`
/// (criterion's test mode runs it once per case). Instruction counts don't move with the
/// machine's load, so they decide small changes when timings can't (docs/PERFORMANCE.md).
#[inline(never)]
fn run_stream(engine: &mut Engine, stream: &[Command], events: &mut Vec<perpx_core::Event>) {
    for cmd in stream {
        events.clear();
        engine.apply_into(cmd, events);
    }
}

fn bench_book(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_mix");
    for (name, live, n) in [("1k_live_orders", 1_000usize, 100_000usize), ("100k_live_orders", 100_000, 100_000)] {
        let (start, stream) = workload(live, n, 42);
        describe(&start, &stream);
        group.throughput(Throughput::Elements(stream.len() as u64));
        group.bench_function(name, |b| {
            let mut events = Vec::with_capacity(64);
            b.iter_batched(
                || start.clone(),
                |mut engine| {
                    run_stream(&mut engine, &stream, &mut events);
                    black_box(engine)
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_book
}
criterion_main!(benches);
