//! Seeded workloads: every option of the venue drawn from the seed, a long random stream of
//! valid and invalid commands, edge values and price gaps.
//!
//! A workload is a pure function of its seed and length. What the seed draws:
//! - the venue (`perpx_testkit::venue_stream::VenueConfig::from_seed`): one or two markets
//!   (test, BTC, a BTC with a maker rebate), 3–10 accounts from half a dollar to millions, a
//!   leverage mix and isolated traders, units per liquidation pass, own or shared insurance
//!   funds, the backstop discount — plus here: up to six more accounts, each market's ADL policy
//!   (queue, pro rata, leverage drain), funding interval (1, 4, 8 h) and liquidation fee rate;
//! - what is mixed in (`perpx_testkit::mixed_stream::generate_from`): an oracle market with its
//!   own ADL policy and funding interval, oracle volatility (step per price), outliers, gaps of
//!   the clock past funding times, stale sources, halts, scheduled fee and interval changes,
//!   capital paid into funds, delisting;
//! - **edge commands**, at a per-seed rate of 0–8 %: deposits, withdrawals, orders, stops,
//!   amends, marks, oracle prices, leverage, isolated margin and capital with the values 0, 1,
//!   −1, max and max−1 (and `i64::MIN`), unknown accounts and markets, timestamps one
//!   millisecond in the past, and **price gaps**: the mark of a market moved by up to ±60 % at
//!   once;
//! - in half the workloads, the delisting of one of the venue's markets near the end;
//! - the journal's batch size (commands per group commit), for the simulation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use perpx_core::event::FundRef;
use perpx_core::market::{AdlPolicy, HOUR_MS};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{
    AccountId, Amend, Command, CommandKind, EngineConfig, MarketId, NewOrder, OrderId, OrderRef, OrderType, Price, Qty,
    Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};
use perpx_testkit::mixed_stream::{MixKnobs, generate_from};
use perpx_testkit::venue_stream::VenueConfig;

/// A generated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The seed.
    pub seed: u64,
    /// The length asked for (the workload has more: what is mixed in).
    pub requested: usize,
    /// The engine settings.
    pub engine: EngineConfig,
    /// The commands.
    pub commands: Vec<Command>,
    /// Commands per group commit in the simulation (1–64).
    pub batch: usize,
    /// One line saying what the seed drew.
    pub description: String,
}

const USD: i64 = 1_000_000;

fn edge_i64(rng: &mut ChaCha8Rng, typical: i64) -> i64 {
    match rng.random_range(0..9) {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => i64::MAX,
        4 => i64::MAX - 1,
        5 => i64::MIN,
        _ => typical,
    }
}

fn edge_u32(rng: &mut ChaCha8Rng, typical: u32) -> u32 {
    match rng.random_range(0..6) {
        0 => 0,
        1 => 1,
        2 => u32::MAX,
        3 => u32::MAX - 1,
        _ => typical,
    }
}

/// Draws the workload of `seed` with about `commands` commands.
#[must_use]
pub fn workload(seed: u64, commands: usize) -> Workload {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c4ec_u64);
    let mut venue = VenueConfig::from_seed(seed, commands);
    let extra = rng.random_range(0..=6);
    for _ in 0..extra {
        let funding = match rng.random_range(0..3) {
            0 => rng.random_range(1..=100 * USD),
            1 => rng.random_range(100 * USD..=10_000 * USD),
            _ => rng.random_range(10_000 * USD..=1_000_000 * USD),
        };
        venue.funding.push(Quote(funding));
    }
    let policies = [AdlPolicy::Queue, AdlPolicy::ProRata, AdlPolicy::LeverageDrain];
    let intervals = [HOUR_MS, 4 * HOUR_MS, 8 * HOUR_MS];
    for m in &mut venue.markets {
        m.spec.liquidation.adl = policies[rng.random_range(0..3)];
        m.spec.funding.interval_ms = intervals[rng.random_range(0..3)];
        m.spec.liquidation.fee_rate = Rate([0, 100_000, 500_000, 2_000_000][rng.random_range(0..4)]);
    }
    let knobs = MixKnobs {
        mix_per_mille: rng.random_range(30..=300),
        oracle_step: rng.random_range(2..=400),
        outlier_per_mille: rng.random_range(0..=300),
        oracle_funding_interval_ms: intervals[rng.random_range(0..3)],
        oracle_adl: policies[rng.random_range(0..3)],
    };
    let edge_per_mille = rng.random_range(0..=80u32);
    let batch = [1, 2, 3, 8, 17, 64][rng.random_range(0..6)];
    let description = format!(
        "{}; {} extra accounts; ADL {:?}; funding {:?} h; liquidation fee {:?}; mix {knobs:?}; edge commands {} ‰; \
         batch {batch}",
        venue.describe(),
        extra,
        venue.markets.iter().map(|m| m.spec.liquidation.adl).collect::<Vec<_>>(),
        venue.markets.iter().map(|m| m.spec.funding.interval_ms / HOUR_MS).collect::<Vec<_>>(),
        venue.markets.iter().map(|m| m.spec.liquidation.fee_rate.0).collect::<Vec<_>>(),
        edge_per_mille,
    );
    let accounts = u64::try_from(venue.funding.len()).expect("few accounts");
    let markets = u32::try_from(venue.markets.len()).expect("few markets") + 1;
    let marks: Vec<i64> = venue.markets.iter().map(|m| m.mark).collect();
    let stream = generate_from(&venue, seed, &knobs);
    let mut out = Vec::with_capacity(stream.commands.len() * 11 / 10);
    let mut setup = true;
    // Half the workloads delist one of the venue's own markets (where the positions are) near
    // the end, at a price up to ±30 % from its first mark (now and then at an edge value).
    // (Drawn from a generator of their own, so that adding them changed no other draw.)
    let mut drng = ChaCha8Rng::seed_from_u64(seed ^ 0xde11_5700_u64);
    let delist_at = drng.random_bool(0.5).then(|| stream.commands.len() * drng.random_range(85..98) / 100);
    let delist_market = MarketId(drng.random_range(0..markets - 1));
    let delist_price = {
        let mark = marks[delist_market.index()];
        let p = (mark + mark * drng.random_range(-30..=30i64) / 100).max(1);
        if drng.random_range(0..10) == 0 { edge_i64(&mut drng, p) } else { p }
    };
    for (i, c) in stream.commands.into_iter().enumerate() {
        if Some(i) == delist_at {
            out.push(Command {
                ts: c.ts,
                kind: CommandKind::Delist { market: delist_market, price: Price(delist_price) },
            });
        }
        let ts = c.ts;
        if matches!(c.kind, CommandKind::PlaceOrder(_)) {
            // Edge commands start once the venue is set up (its markets and deposits).
            setup = false;
        }
        out.push(c);
        if !setup && rng.random_range(0..1000) < edge_per_mille {
            out.push(edge_command(&mut rng, ts, accounts, markets, &marks));
        }
    }
    Workload { seed, requested: commands, engine: stream.engine, commands: out, batch, description }
}

fn edge_command(rng: &mut ChaCha8Rng, ts: Timestamp, accounts: u64, markets: u32, marks: &[i64]) -> Command {
    let account = match rng.random_range(0..10) {
        0 => AccountId(0),
        1 => AccountId(u64::MAX),
        2 => AccountId(accounts + 1),
        _ => AccountId(rng.random_range(1..=accounts)),
    };
    let market = match rng.random_range(0..10) {
        0 => MarketId(u32::MAX),
        1 => MarketId(markets + 3),
        _ => MarketId(rng.random_range(0..markets)),
    };
    let typical_mark = marks.get(market.index()).copied().unwrap_or(2_000);
    let side = if rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
    let kind = match rng.random_range(0..13) {
        0 => CommandKind::Deposit {
            account,
            amount: {
                let t = rng.random_range(1..=1_000) * USD;
                Quote(edge_i64(rng, t))
            },
        },
        1 => CommandKind::Withdraw {
            account,
            amount: {
                let t = rng.random_range(1..=1_000) * USD;
                Quote(edge_i64(rng, t))
            },
        },
        2 | 3 => {
            let order_type = if rng.random_bool(0.3) {
                OrderType::Market
            } else {
                let tif = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok, TimeInForce::PostOnly]
                    [rng.random_range(0..4)];
                OrderType::Limit { price: Price(edge_i64(rng, typical_mark)), tif }
            };
            CommandKind::PlaceOrder(NewOrder {
                account,
                market,
                side,
                order_type,
                qty: {
                    let t = rng.random_range(1..=50);
                    Qty(edge_i64(rng, t))
                },
                client_id: None,
                stp: StpMode::ExpireMaker,
                reduce_only: rng.random_bool(0.2),
            })
        }
        4 => {
            // A price gap: the mark moves by up to ±60 % at once (or to an edge value).
            let pct = rng.random_range(-60..=60i64);
            let gapped = (typical_mark + typical_mark * pct / 100).max(1);
            CommandKind::SetMark { market, price: Price(if rng.random_bool(0.8) { gapped } else { edge_i64(rng, 1) }) }
        }
        5 => CommandKind::OraclePrice {
            market,
            source: [0, 1, 2, 3, u16::MAX][rng.random_range(0..5)],
            price: Price(edge_i64(rng, typical_mark)),
        },
        6 => CommandKind::SetLeverage {
            account,
            market,
            leverage: {
                let t = rng.random_range(1..=125);
                edge_u32(rng, t)
            },
        },
        7 => CommandKind::AdjustIsolatedMargin { account, market, amount: Quote(edge_i64(rng, 10 * USD)) },
        8 => {
            let fund = [FundRef::Shared, FundRef::Guaranty, FundRef::Market(market)][rng.random_range(0..3)];
            CommandKind::CapitaliseFund { fund, amount: Quote(edge_i64(rng, 100 * USD)) }
        }
        9 => CommandKind::AmendOrder(Amend {
            account,
            market,
            order: OrderRef::Id(OrderId(rng.random_range(0..2_000))),
            price: rng.random_bool(0.5).then(|| Price(edge_i64(rng, typical_mark))),
            qty: rng.random_bool(0.5).then(|| Qty(edge_i64(rng, 5))),
        }),
        10 => CommandKind::PlaceStop(perpx_core::command::NewStop {
            account,
            market,
            side,
            kind: StopKind::StopMarket,
            trigger: Price(edge_i64(rng, typical_mark)),
            trigger_by: if rng.random_bool(0.5) { TriggerBy::Mark } else { TriggerBy::Last },
            qty: Qty(edge_i64(rng, 3)),
            client_id: None,
            stp: StpMode::ExpireTaker,
            reduce_only: rng.random_bool(0.5),
        }),
        11 => {
            CommandKind::CancelOrder { account, market, order: OrderRef::Id(OrderId(edge_i64(rng, 5).unsigned_abs())) }
        }
        _ => CommandKind::Tick,
    };
    // Now and then one millisecond in the past: refused, journaled, nothing changes.
    let ts = if rng.random_range(0..10) == 0 { Timestamp(ts.0 - 1) } else { ts };
    Command { ts, kind }
}
