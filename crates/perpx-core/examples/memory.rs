//! Memory per resting order and per account, **measured**: the process's resident memory
//! (`VmRSS` in `/proc/self/status`) before and after adding a million of each, divided by the
//! count. It includes everything a deployment pays for — the book's slabs and indexes, the
//! per-account order lists, allocator slack and the spare capacity of grown vectors — not the
//! size of one struct.
//!
//! Run: `cargo run --release -p perpx-core --example memory [-- ORDERS ACCOUNTS]` (Linux).
//! Figures: docs/PERFORMANCE.md.

use perpx_core::market::{MarginTier, MarketLimits};
use perpx_core::{
    AccountId, Command, CommandKind, Decimal, Engine, EngineConfig, EventKind, MarketId, MarketSpec, NewOrder,
    OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};

const MARKET: MarketId = MarketId(0);
const MID: i64 = 860_000; // 86,000.0 at tick 0.1
const ORDERS_PER_ACCOUNT: u64 = 1_000;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux: /proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1_024
}

fn spec(levels: u32) -> MarketSpec {
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
        order_band: Rate(20_000_000),
        limits: MarketLimits {
            max_open_orders_per_account: u32::try_from(ORDERS_PER_ACCOUNT).unwrap(),
            max_price_levels: levels,
            max_stops_per_account: 0,
            max_order_qty: Qty(1_000_000),
        },
        oracle: perpx_core::market::OracleSpec::default(),
        funding: perpx_core::market::FundingSpec::default(),
        liquidation: perpx_core::market::LiquidationSpec::default(),
    }
}

struct Driver {
    engine: Engine,
    ts: i64,
    events: Vec<perpx_core::Event>,
}

impl Driver {
    fn run(&mut self, kind: CommandKind) {
        self.ts += 1;
        self.events.clear();
        self.engine.apply_into(&Command { ts: Timestamp(self.ts), kind }, &mut self.events);
        if let Some(e) = self.events.iter().find(|e| matches!(e.kind, EventKind::Rejected { .. })) {
            panic!("refused: {e:?}");
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("a count"));
    let orders = args.next().unwrap_or(1_000_000);
    let accounts = args.next().unwrap_or(1_000_000);
    let levels = 100_000u32;
    let mut d = Driver { engine: Engine::new(EngineConfig::default()), ts: 0, events: Vec::with_capacity(64) };
    d.run(CommandKind::CreateMarket(Box::new(spec(levels * 2))));
    d.run(CommandKind::SetMark { market: MARKET, price: Price(MID) });

    // Accounts: a deposit creates one.
    let before = rss_bytes();
    for a in 0..accounts {
        d.run(CommandKind::Deposit { account: AccountId(1_000_000_000 + a), amount: Quote(1_000_000_000) });
    }
    let per_account = (rss_bytes() - before) / accounts.max(1);

    // Resting orders: ORDERS_PER_ACCOUNT per account, buys below the mid and sells above it,
    // spread over `levels` price levels a side, never crossing.
    let makers = orders.div_ceil(ORDERS_PER_ACCOUNT);
    for a in 0..makers {
        d.run(CommandKind::Deposit { account: AccountId(a), amount: Quote(1_000_000_000_000) });
    }
    let before = rss_bytes();
    for i in 0..orders {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let offset = 1 + i64::try_from((i / 2) % u64::from(levels)).unwrap();
        let price = if side == Side::Buy { MID - offset } else { MID + offset };
        d.run(CommandKind::PlaceOrder(NewOrder {
            account: AccountId(i / ORDERS_PER_ACCOUNT),
            market: MARKET,
            side,
            order_type: OrderType::Limit { price: Price(price), tif: TimeInForce::Gtc },
            qty: Qty(1),
            client_id: None,
            stp: StpMode::ExpireTaker,
            reduce_only: false,
        }));
    }
    let per_order = (rss_bytes() - before) / orders.max(1);
    let m = d.engine.market(MARKET).expect("the market");
    assert_eq!(m.book.order_count(), usize::try_from(orders).unwrap(), "every order rests");
    println!(
        "size of a RestingOrder: {} bytes (Option<RestingOrder>: {})",
        std::mem::size_of::<perpx_core::book::RestingOrder>(),
        std::mem::size_of::<Option<perpx_core::book::RestingOrder>>()
    );
    println!("accounts: {accounts}, resident memory per account: {per_account} bytes");
    println!(
        "resting orders: {orders} over {} levels a side, resident memory per order: {per_order} bytes",
        levels.min(u32::try_from(orders / 2).unwrap_or(u32::MAX))
    );
}
