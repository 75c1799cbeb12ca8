//! Order-book and engine benchmarks on an exchange-core-style command mix.
//!
//! A book of ~1,000 (or ~100,000) live orders around the mid (tick 0.1, lot 0.001, mid 86,000),
//! then a seeded stream of roughly 82 % amends/moves, 9 % new GTC orders, 3 % IOC orders,
//! 5 % cancels and 1 % aggressive GTC orders; a few percent of commands cross and trade. The
//! stream is generated once by driving a scratch engine (so every amend and cancel names a live
//! order), then each measured iteration applies it to a clone of the pre-filled state.
//!
//! - `book_only` (the performance issue's mix 1): the bare `perpx_core::book::Book`, driven
//!   with the few lines of price-time matching the engine's matcher wraps around it, on the
//!   one-market stream; no accounts, margin, fees or events.
//! - `book_mix`: the same stream through `Engine::apply_into`, events included (one market,
//!   1,000 accounts).
//! - `engine_mix` (mix 2): the full engine with 10,000 accounts across 2 markets, and 1 % of
//!   the commands stop orders (stop-market, triggered by the last price) so triggers run too.
//!   Its `_oracle` case is the same workload on markets marked as `perpx serve`'s are: an index
//!   from three sources, the mark derived from it at every command, and 1 % of the commands
//!   source prices (the other cases set each mark once, by hand).
//!
//! Invariant checks are off. Run: `cargo bench -p perpx-core --bench book`. Figures:
//! docs/PERFORMANCE.md.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use perpx_core::book::{Book, RestingOrder};
use perpx_core::command::NewStop;
use perpx_core::market::{MarginTier, MarketLimits};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{
    AccountId, Amend, Command, CommandKind, Decimal, Engine, EngineConfig, EventKind, MarketId, MarketSpec, NewOrder,
    OrderId, OrderRef, OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The allocator the `perpx` binary ships with (docs/PERFORMANCE.md, session 6), so the engine
/// is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
const MARKET: MarketId = MarketId(0);
const MID: i64 = 860_000; // 86,000.0 at tick 0.1
/// Sources of each market's index when the workload has an oracle (as the demo venue's).
const ORACLE_SOURCES: u16 = 3;

/// The shape of a workload.
#[derive(Clone, Copy)]
struct Shape {
    live_orders: usize,
    commands: usize,
    markets: u32,
    accounts: u64,
    /// Whether 1 % of the commands are stop orders.
    stops: bool,
    /// Whether the markets take their index from three oracle sources (as `perpx serve`'s demo
    /// markets do), their mark derived from it, and 1 % of the commands are source prices;
    /// else the marks are set by hand once.
    oracle: bool,
}

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
            max_stops_per_account: 100,
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
    shape: Shape,
    live: Vec<(MarketId, OrderId, AccountId, Side, i64)>,
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

    /// A market at random (no draw with one market, so mix 1's stream stays what it was).
    fn market(&mut self) -> MarketId {
        if self.shape.markets == 1 { MARKET } else { MarketId(self.rng.random_range(0..self.shape.markets)) }
    }

    fn passive_price(&mut self, side: Side) -> i64 {
        let off = self.rng.random_range(1..=self.depth);
        if side == Side::Buy { MID - off } else { MID + off }
    }

    fn place(&mut self, side: Side, price: i64, qty: i64, tif: TimeInForce) -> CommandKind {
        let account = AccountId(self.rng.random_range(0..self.shape.accounts));
        let market = self.market();
        CommandKind::PlaceOrder(NewOrder {
            account,
            market,
            side,
            order_type: OrderType::Limit { price: Price(price), tif },
            qty: Qty(qty),
            client_id: None,
            stp: StpMode::ExpireMaker,
            reduce_only: false,
        })
    }

    /// Applies to the scratch engine and keeps the set of live orders in step (O(1) per event).
    /// Returns whether the command was rejected, and the id an accepted order took.
    fn apply(&mut self, cmd: &Command) -> (bool, Option<OrderId>) {
        let events = self.engine.apply(cmd);
        let rejected = events.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. }));
        let mut accepted = None;
        let mut touched = Vec::new();
        for e in &events {
            match &e.kind {
                EventKind::OrderAccepted {
                    order_id,
                    account,
                    market,
                    side,
                    order_type: OrderType::Limit { price, .. },
                    ..
                } => {
                    accepted.get_or_insert(*order_id);
                    self.pos.insert(*order_id, self.live.len());
                    self.live.push((*market, *order_id, *account, *side, price.0));
                    touched.push(*order_id);
                }
                EventKind::OrderAmended { order_id, price, .. } => {
                    if let Some(&i) = self.pos.get(order_id) {
                        self.live[i].4 = price.0;
                    }
                    touched.push(*order_id);
                }
                EventKind::Fill(f) => touched.push(f.maker_order),
                EventKind::OrderCancelled { order_id, .. } => touched.push(*order_id),
                _ => {}
            }
        }
        for id in touched {
            let Some(&i) = self.pos.get(&id) else { continue };
            if self.engine.market(self.live[i].0).unwrap().book.get(id).is_some() {
                continue;
            }
            self.pos.remove(&id);
            self.live.swap_remove(i);
            if let Some(moved) = self.live.get(i) {
                self.pos.insert(moved.1, i);
            }
        }
        let n: usize =
            (0..self.shape.markets).filter_map(|m| self.engine.market(MarketId(m))).map(|m| m.book.order_count()).sum();
        assert_eq!(n, self.live.len(), "after {cmd:?}: {events:?}");
        (rejected, accepted)
    }

    fn next(&mut self, target_live: usize) -> Command {
        // Drawn only with an oracle, so the other streams stay what they were.
        if self.shape.oracle && self.rng.random_range(0..100) == 0 {
            let market = self.market();
            let source = self.rng.random_range(0..ORACLE_SOURCES);
            let price = Price(MID + self.rng.random_range(-3..=3));
            return self.cmd(CommandKind::OraclePrice { market, source, price });
        }
        let r = self.rng.random_range(0..100);
        let side = if self.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        // Hold the book near its target size: below half, add; above 1.1×, new orders become cancels.
        let over = self.live.len() > target_live + target_live / 10;
        let r = if over && (82..91).contains(&r) { 95 } else { r };
        let kind = if self.live.len() < target_live / 2 || (82..91).contains(&r) {
            let p = self.passive_price(side);
            let q = self.rng.random_range(1..=50);
            self.place(side, p, q, TimeInForce::Gtc)
        } else if self.shape.stops && r == 81 {
            // A stop-market a few ticks beyond the mid on the losing side, triggered by the
            // last price: some trigger as trades print around the mid.
            let account = AccountId(self.rng.random_range(0..self.shape.accounts));
            let market = self.market();
            let off = self.rng.random_range(1..=10);
            CommandKind::PlaceStop(NewStop {
                account,
                market,
                side,
                kind: StopKind::StopMarket,
                trigger: Price(if side == Side::Buy { MID + off } else { MID - off }),
                trigger_by: TriggerBy::Last,
                qty: Qty(self.rng.random_range(1..=5)),
                client_id: None,
                stp: StpMode::ExpireMaker,
                reduce_only: false,
            })
        } else if r < 82 {
            let i = self.rng.random_range(0..self.live.len());
            let (market, id, account, side, price) = self.live[i];
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
            CommandKind::AmendOrder(Amend { account, market, order: OrderRef::Id(id), price, qty })
        } else if r < 94 {
            let p = if side == Side::Buy { MID + 10 } else { MID - 10 };
            let q = self.rng.random_range(1..=30);
            self.place(side, p, q, TimeInForce::Ioc)
        } else if r < 99 {
            let i = self.rng.random_range(0..self.live.len());
            let (market, id, account, _, _) = self.live[i];
            CommandKind::CancelOrder { account, market, order: OrderRef::Id(id) }
        } else {
            let p = if side == Side::Buy { MID + 3 } else { MID - 3 };
            let q = self.rng.random_range(1..=20);
            self.place(side, p, q, TimeInForce::Gtc)
        };
        self.cmd(kind)
    }
}

/// The pre-filled engine, the measured command stream, and the id each accepted order took
/// (`None` for other commands and rejections; the bare-book bench replays with the same ids).
fn workload(shape: Shape, seed: u64) -> (Engine, Vec<Command>, Vec<Option<OrderId>>) {
    let live_orders = shape.live_orders;
    let depth = i64::try_from(live_orders / 4).unwrap().max(250);
    let mut mix = Mix {
        engine: Engine::new(EngineConfig::default()),
        shape,
        live: Vec::new(),
        pos: HashMap::new(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        ts: 0,
        depth,
    };
    for m in 0..shape.markets {
        let mut spec = spec(live_orders);
        spec.symbol = ["BTC-PERP", "ETH-PERP"][m as usize].into();
        if shape.oracle {
            spec.oracle.sources = (0..ORACLE_SOURCES)
                .map(|s| perpx_core::market::OracleSource { name: format!("source-{s}"), weight: 1 })
                .collect();
        }
        let create = mix.cmd(CommandKind::CreateMarket(Box::new(spec)));
        mix.apply(&create);
        if shape.oracle {
            for source in 0..ORACLE_SOURCES {
                let price = mix.cmd(CommandKind::OraclePrice { market: MarketId(m), source, price: Price(MID) });
                let (rejected, _) = mix.apply(&price);
                assert!(!rejected, "an oracle price was rejected: {price:?}");
            }
        } else {
            let mark = mix.cmd(CommandKind::SetMark { market: MarketId(m), price: Price(MID) });
            mix.apply(&mark);
        }
    }
    // Fund every account far beyond what its orders need (10^18 micro-units in all, under the
    // engine's cap on money in): this benchmark measures the book.
    let each = Quote(1_000_000_000_000_000_000 / i64::try_from(shape.accounts).unwrap());
    for a in 0..shape.accounts {
        let deposit = mix.cmd(CommandKind::Deposit { account: AccountId(a), amount: each });
        mix.apply(&deposit);
    }
    while mix.live.len() < live_orders {
        let side = if mix.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        let p = mix.passive_price(side);
        let q = mix.rng.random_range(1..=50);
        let kind = mix.place(side, p, q, TimeInForce::Gtc);
        let c = mix.cmd(kind);
        let (rejected, _) = mix.apply(&c);
        assert!(!rejected, "a prefill order was rejected: the workload would never fill the book: {c:?}");
    }
    let start = mix.engine.clone();
    let mut stream = Vec::with_capacity(shape.commands);
    let mut ids = Vec::with_capacity(shape.commands);
    for _ in 0..shape.commands {
        let c = mix.next(live_orders);
        let (_, id) = mix.apply(&c);
        stream.push(c);
        ids.push(id);
    }
    (start, stream, ids)
}

fn describe(start: &Engine, stream: &[Command]) {
    let mut e = start.clone();
    let (mut fills, mut rejected, mut trading, mut stops, mut triggered, mut marks) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let mut reasons = std::collections::BTreeMap::<&str, usize>::new();
    for c in stream {
        let ev = e.apply(c);
        let f = ev.iter().filter(|x| matches!(x.kind, EventKind::Fill(_))).count();
        fills += f;
        trading += usize::from(f > 0);
        for x in &ev {
            match &x.kind {
                EventKind::Rejected { reason, .. } => {
                    rejected += 1;
                    *reasons.entry(reason.name()).or_default() += 1;
                }
                EventKind::StopAccepted { .. } => stops += 1,
                EventKind::StopTriggered { .. } => triggered += 1,
                EventKind::MarkPriceSet { .. } => marks += 1,
                _ => {}
            }
        }
    }
    eprintln!(
        "mix: {} commands, {} trading ({} %), {} fills, {} rejected {:?}, {} stops placed, {} triggered, {} marks set, {} live orders at the end",
        stream.len(),
        trading,
        percent(trading, stream.len()),
        fills,
        rejected,
        reasons,
        stops,
        triggered,
        marks,
        (0..2).filter_map(|m| e.market(MarketId(m))).map(|m| m.book.order_count()).sum::<usize>()
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

/// The bare book with the few lines of price-time matching the engine's matcher wraps around
/// it (`front` / `fill_front`, `insert`, `remove`, `requeue`), replaying the one-market stream
/// with the ids the engine gave: no accounts, margin, fees, self-trade prevention or events.
#[derive(Clone)]
struct BareBook {
    book: Book,
    ts: i64,
    fills: u64,
}

impl BareBook {
    fn take(&mut self, side: Side, limit: Price, mut qty: i64) -> i64 {
        let opposite = side.opposite();
        while qty > 0 {
            let Some(front) = self.book.front(opposite) else { break };
            if !side.crosses(limit, front.price) {
                break;
            }
            let q = qty.min(front.qty.0);
            self.book.fill_front(opposite, Qty(q));
            qty -= q;
            self.fills += 1;
        }
        qty
    }

    fn limit(&mut self, id: OrderId, account: AccountId, side: Side, price: Price, qty: i64, rest: bool) {
        let left = self.take(side, price, qty);
        if left > 0 && rest {
            self.book.insert(RestingOrder {
                id,
                account,
                side,
                price,
                qty: Qty(left),
                filled: Qty(qty - left),
                post_only: false,
                stp: StpMode::ExpireMaker,
                reduce_only: false,
                client_id: None,
                queued_at: Timestamp(self.ts),
            });
        }
    }

    fn apply(&mut self, cmd: &Command, accepted: Option<OrderId>) {
        self.ts = cmd.ts.0;
        match &cmd.kind {
            CommandKind::PlaceOrder(o) => {
                let (Some(id), OrderType::Limit { price, tif }) = (accepted, o.order_type) else { return };
                self.limit(id, o.account, o.side, price, o.qty.0, tif == TimeInForce::Gtc);
            }
            CommandKind::CancelOrder { order: OrderRef::Id(id), .. } => {
                self.book.remove(*id);
            }
            CommandKind::AmendOrder(a) => {
                let OrderRef::Id(id) = a.order else { return };
                let Some(at) = self.book.locate(id) else { return };
                let o = self.book.order_at(at);
                let (side, account) = (o.side, o.account);
                let price = a.price.unwrap_or(o.price);
                let qty = a.qty.unwrap_or(o.qty);
                if self.book.best_price(side.opposite()).is_some_and(|best| side.crosses(price, best)) {
                    self.book.remove(id);
                    self.limit(id, account, side, price, qty.0, true);
                } else if price == o.price && qty < o.qty {
                    self.book.reduce_qty_at(at, qty);
                } else {
                    self.book.requeue_at(at, price, qty, Timestamp(self.ts));
                }
            }
            _ => {}
        }
    }
}

#[inline(never)]
fn run_bare(book: &mut BareBook, stream: &[Command], ids: &[Option<OrderId>]) {
    for (cmd, id) in stream.iter().zip(ids) {
        book.apply(cmd, *id);
    }
}

const MIX_1: [(&str, usize); 2] = [("1k_live_orders", 1_000), ("100k_live_orders", 100_000)];

fn one_market(live_orders: usize) -> Shape {
    Shape { live_orders, commands: 100_000, markets: 1, accounts: 1_000, stops: false, oracle: false }
}

fn bench_book_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_only");
    for (name, live) in MIX_1 {
        let (start, stream, ids) = workload(one_market(live), 42);
        let bare = BareBook { book: start.market(MARKET).unwrap().book.clone(), ts: 0, fills: 0 };
        let mut probe = bare.clone();
        // Not through `run_bare`, so an instruction count of it sees only the measured run.
        for (cmd, id) in stream.iter().zip(&ids) {
            probe.apply(cmd, *id);
        }
        eprintln!("book_only {name}: {} fills, {} live orders at the end", probe.fills, probe.book.order_count());
        group.throughput(Throughput::Elements(stream.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || bare.clone(),
                |mut book| {
                    run_bare(&mut book, &stream, &ids);
                    black_box(book)
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

fn bench_engine(c: &mut Criterion, group_name: &str, shapes: &[(&str, Shape)]) {
    let mut group = c.benchmark_group(group_name);
    for (name, shape) in shapes {
        let (start, stream, _) = workload(*shape, 42);
        describe(&start, &stream);
        group.throughput(Throughput::Elements(stream.len() as u64));
        group.bench_function(*name, |b| {
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

fn bench_book(c: &mut Criterion) {
    let shapes: Vec<(&str, Shape)> = MIX_1.iter().map(|(n, live)| (*n, one_market(*live))).collect();
    bench_engine(c, "book_mix", &shapes);
}

fn bench_engine_mix(c: &mut Criterion) {
    let shape =
        Shape { live_orders: 10_000, commands: 100_000, markets: 2, accounts: 10_000, stops: true, oracle: false };
    let oracle = Shape { oracle: true, ..shape };
    bench_engine(c, "engine_mix", &[("10k_accounts_2_markets", shape), ("10k_accounts_2_markets_oracle", oracle)]);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_book_only, bench_book, bench_engine_mix
}
criterion_main!(benches);
