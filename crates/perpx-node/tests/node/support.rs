//! Test support: one command of every kind, reference runs of a plain engine, small journal
//! configurations.

use perpx_core::account::MarginMode;
use perpx_core::command::{NewStop, ParamChange};
use perpx_core::event::FundRef;
use perpx_core::market::{AdlPolicy, FundingSpec, InsurancePolicy, LiquidationSpec, OracleSource, OracleSpec};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{
    AccountId, Amend, Command, CommandKind, Decimal, Engine, EngineConfig, Event, MarginTier, MarketId, MarketLimits,
    MarketSpec, NewOrder, OrderId, OrderRef, OrderType, Price, Qty, Quote, Rate, Side, StateHash, StpMode, TimeInForce,
    Timestamp,
};
use perpx_journal::{JournalConfig, SyncPolicy};
use perpx_node::NodeConfig;
use perpx_testkit::fixtures::cid;

/// A BTC-like specification with every field written out (no defaults: the pinned encodings
/// must not move when a default in `perpx-core` does).
pub fn pinned_spec() -> MarketSpec {
    let tier = |n: i64, lev: u32, mmr: i64, amount: i64| MarginTier {
        max_notional: Quote(n),
        max_leverage: lev,
        maintenance_rate: Rate(mmr),
        maintenance_amount: Quote(amount),
    };
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 1),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(5_000_000),
        max_leverage: 125,
        tiers: vec![
            tier(50_000_000_000, 125, 400_000, 0),
            tier(250_000_000_000, 100, 500_000, 50_000_000),
            tier(1_000_000_000_000, 50, 1_000_000, 1_300_000_000),
        ],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits {
            max_open_orders_per_account: 200,
            max_price_levels: 10_000,
            max_stops_per_account: 10,
            max_order_qty: Qty(1_000_000_000),
        },
        oracle: OracleSpec {
            sources: vec![
                OracleSource { name: "binance".into(), weight: 2 },
                OracleSource { name: "okx".into(), weight: 1 },
            ],
            staleness_ms: 10_000,
            outlier_band: Rate(2_000_000),
            quorum: Some(1),
            stale_grace_ms: 30_000,
            max_stale_ms: 300_000,
            mark_band: Rate(500_000),
            mark_basis_samples: 5,
        },
        funding: FundingSpec {
            interval_ms: 8 * 3_600_000,
            interest_8h: Rate(10_000),
            clamp: Rate(50_000),
            cap_8h: Some(Rate(3_000_000)),
            sample_period_ms: 60_000,
            impact_notional: Some(Quote(10_000_000_000)),
        },
        liquidation: LiquidationSpec {
            fee_rate: Rate(500_000),
            buffer: Rate(10_000_000),
            backstop_discount: Rate(1_000_000),
            insurance: InsurancePolicy::Shared { max_draw: Quote(5_000_000) },
            adl: AdlPolicy::LeverageDrain,
            max_open_interest: Some(Qty(1_000_000)),
        },
    }
}

/// One command of every kind, with every optional section filled in somewhere.
pub fn one_of_each() -> Vec<Command> {
    let spec = pinned_spec();
    let (a, m) = (AccountId(7), MarketId(0));
    let kinds = vec![
        CommandKind::CreateMarket(Box::new(spec)),
        CommandKind::SetMark { market: m, price: Price(860_000) },
        CommandKind::OraclePrice { market: m, source: 1, price: Price(860_010) },
        CommandKind::SetLiquidator { account: a, active: true },
        CommandKind::CapitaliseFund { fund: FundRef::Market(m), amount: Quote(1_000_000) },
        CommandKind::PlaceOrder(NewOrder {
            account: a,
            market: m,
            side: Side::Buy,
            order_type: OrderType::Limit { price: Price(859_000), tif: TimeInForce::PostOnly },
            qty: Qty(12),
            client_id: Some(cid("bid-1")),
            stp: StpMode::ExpireBoth,
            reduce_only: false,
        }),
        CommandKind::AmendOrder(Amend {
            account: a,
            market: m,
            order: OrderRef::Client(cid("bid-1")),
            price: Some(Price(859_100)),
            qty: None,
        }),
        CommandKind::CancelOrder { account: a, market: m, order: OrderRef::Id(OrderId(1)) },
        CommandKind::CancelAll { account: a, market: None },
        CommandKind::MassCancel { market: m },
        CommandKind::Tick,
        CommandKind::Deposit { account: a, amount: Quote(50_000_000_000) },
        CommandKind::Withdraw { account: a, amount: Quote(1) },
        CommandKind::PlaceStop(NewStop {
            account: a,
            market: m,
            side: Side::Sell,
            kind: StopKind::TakeProfitLimit { price: Price(870_000), tif: TimeInForce::Ioc },
            trigger: Price(869_000),
            trigger_by: TriggerBy::Last,
            qty: Qty(3),
            client_id: None,
            stp: StpMode::ExpireMaker,
            reduce_only: true,
        }),
        CommandKind::Halt { market: m },
        CommandKind::Resume { market: m },
        CommandKind::ScheduleParams {
            market: m,
            effective_at: Timestamp(1_700_000_100_000),
            change: Box::new(ParamChange {
                tiers: Some(pinned_spec().tiers),
                max_leverage: Some(100),
                maker_fee: Some(Rate(-10_000)),
                taker_fee: None,
                funding_interval_ms: Some(4 * 3_600_000),
            }),
        },
        CommandKind::Delist { market: m, price: Price(860_000) },
        CommandKind::SetMarginMode { account: a, market: m, mode: MarginMode::Isolated },
        CommandKind::AdjustIsolatedMargin { account: a, market: m, amount: Quote(-5) },
        CommandKind::SetLeverage { account: a, market: m, leverage: 25 },
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Command { ts: Timestamp(1_700_000_000_000 + i as i64), kind })
        .collect()
}

/// A plain engine's run: events and state hash after each command (index `i` is seq `i + 1`),
/// plus the hash before the first.
#[derive(Debug, Clone)]
pub struct Reference {
    pub events: Vec<Vec<Event>>,
    pub hashes: Vec<StateHash>,
}

impl Reference {
    pub fn run(config: &EngineConfig, commands: &[Command]) -> Self {
        let mut engine = Engine::new(config.clone());
        let mut hashes = vec![engine.state_hash()];
        let events = commands
            .iter()
            .map(|c| {
                let e = engine.apply(c);
                hashes.push(engine.state_hash());
                e
            })
            .collect();
        Self { events, hashes }
    }

    /// The state hash after `seq` commands.
    pub fn hash_at(&self, seq: u64) -> StateHash {
        self.hashes[usize::try_from(seq).unwrap()]
    }

    /// The events of command `seq`.
    pub fn events_of(&self, seq: u64) -> &[Event] {
        &self.events[usize::try_from(seq).unwrap() - 1]
    }
}

/// A node on small segments (a few records each) with `policy`, checking invariants.
pub fn small_node_config(engine: &EngineConfig, policy: SyncPolicy) -> NodeConfig {
    NodeConfig {
        journal: JournalConfig { sync_policy: policy, segment_bytes_target: 2048, batch_bytes_max: 4096 },
        engine: engine.clone(),
        gate_capacity: 16,
        snapshot_every: None,
        archive_after_snapshot: false,
        check_invariants: true,
    }
}
