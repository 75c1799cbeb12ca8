//! The embedded demo venue: two markets with realistic parameters, a seeded oracle random walk
//! over three sources each, and funded demo accounts — so `perpx serve` with no setup is a
//! venue whose prices move, whose funding accrues and whose liquidations can happen.
//!
//! The walk is integer arithmetic (basis points), seeded: the same seed gives the same prices.
//! Its output enters the engine only as journaled `oracle_price` commands.

use perpx_core::market::{FundingSpec, HOUR_MS, LiquidationSpec, MarginTier, MarketLimits, OracleSource, OracleSpec};
use perpx_core::{Decimal, MarketSpec, Qty, Quote, Rate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const USD: i64 = 1_000_000;

fn sources() -> Vec<OracleSource> {
    ["binance", "coinbase", "kraken"].iter().map(|n| OracleSource { name: (*n).into(), weight: 1 }).collect()
}

fn oracle() -> OracleSpec {
    OracleSpec { sources: sources(), ..OracleSpec::default() }
}

fn funding() -> FundingSpec {
    // Hourly, so a demo session sees settlements.
    FundingSpec { interval_ms: HOUR_MS, ..FundingSpec::default() }
}

/// BTC-PERP: tick 0.1, lot 0.001, Binance-like brackets up to 100x.
#[must_use]
pub fn btc() -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 1),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(5 * USD),
        max_leverage: 100,
        tiers: vec![
            MarginTier {
                max_notional: Quote(50_000 * USD),
                max_leverage: 100,
                maintenance_rate: Rate(400_000),
                maintenance_amount: Quote(0),
            },
            MarginTier {
                max_notional: Quote(250_000 * USD),
                max_leverage: 50,
                maintenance_rate: Rate(500_000),
                maintenance_amount: Quote(50 * USD),
            },
            MarginTier {
                max_notional: Quote(1_000_000 * USD),
                max_leverage: 20,
                maintenance_rate: Rate(1_000_000),
                maintenance_amount: Quote(1_300 * USD),
            },
        ],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits::default(),
        oracle: oracle(),
        funding: funding(),
        liquidation: LiquidationSpec::default(),
    }
}

/// ETH-PERP: tick 0.01, lot 0.01, up to 50x.
#[must_use]
pub fn eth() -> MarketSpec {
    MarketSpec {
        symbol: "ETH-PERP".into(),
        tick_size: Decimal::new(1, 2),
        lot_size: Decimal::new(1, 2),
        min_qty: Qty(1),
        min_notional: Quote(5 * USD),
        max_leverage: 50,
        tiers: vec![
            MarginTier {
                max_notional: Quote(100_000 * USD),
                max_leverage: 50,
                maintenance_rate: Rate(500_000),
                maintenance_amount: Quote(0),
            },
            MarginTier {
                max_notional: Quote(1_000_000 * USD),
                max_leverage: 20,
                maintenance_rate: Rate(1_000_000),
                maintenance_amount: Quote(500 * USD),
            },
        ],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits::default(),
        oracle: oracle(),
        funding: funding(),
        liquidation: LiquidationSpec::default(),
    }
}

/// Collateral each demo trading account starts with (USD).
pub const DEMO_COLLATERAL: i64 = 100_000;

/// The demo oracle: per market a common random walk in basis points, and per source a small
/// independent offset, so the index is a real median of three prices.
#[derive(Debug)]
pub struct DemoOracle {
    rng: ChaCha8Rng,
    /// Per market: (symbol, price in ticks).
    prices: Vec<(String, i64)>,
}

impl DemoOracle {
    /// BTC at 86,000.0 and ETH at 3,000.00, walking from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            prices: vec![("BTC-PERP".into(), 860_000), ("ETH-PERP".into(), 300_000)],
        }
    }

    /// The next step: per market, three `(source, price in ticks)`. Each step moves the common
    /// price by up to ±5 bp (uniform), with a 1-in-600 chance of a ±3 % jump; each source sits
    /// within ±2 bp of it.
    pub fn step(&mut self) -> Vec<(String, Vec<(u16, i64)>)> {
        let mut out = Vec::with_capacity(self.prices.len());
        for (symbol, price) in &mut self.prices {
            let mut bp = self.rng.random_range(-5i64..=5);
            if self.rng.random_range(0..600) == 0 {
                bp = if self.rng.random::<bool>() { 300 } else { -300 };
            }
            *price = (*price + *price * bp / 10_000).max(1);
            let quotes = (0u16..3)
                .map(|s| {
                    let noise = self.rng.random_range(-2i64..=2);
                    (s, (*price + *price * noise / 10_000).max(1))
                })
                .collect();
            out.push((symbol.clone(), quotes));
        }
        out
    }
}
