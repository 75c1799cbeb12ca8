//! Seeded streams that touch every part of the engine state: a [venue stream](crate::venue_stream)
//! (margin binds, marks jump, accounts get liquidated) with admin, oracle and clock commands
//! mixed in.
//!
//! What is added, at random points of the venue stream:
//! - a third market, `ORC-PERP`, whose mark follows three oracle sources (shared insurance
//!   fund, pro-rata ADL), fed with prices around its mark — some outliers, some for a source
//!   that does not exist — and left stale now and then, so the index, the source statuses, the
//!   stale-index stages and the basis window all move; it is delisted near the end;
//! - jumps of the clock (seconds to hours, sometimes past a funding time) carried by `tick`
//!   commands; every later command is shifted by the jump, so funding samples and settlements
//!   run and client ids expire;
//! - liquidators registered and removed, venue capital paid into every kind of fund (and
//!   refused amounts), halts and resumes, scheduled fee and funding-interval changes, top-up
//!   deposits.
//!
//! These streams are for snapshot, journal and replay tests, which need the state to be
//! *varied*, not a model to agree with. A stream is a pure function of its seed and length.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use perpx_core::command::ParamChange;
use perpx_core::event::FundRef;
use perpx_core::market::{AdlPolicy, HOUR_MS, InsurancePolicy, OracleSource, OracleSpec};
use perpx_core::{AccountId, Command, CommandKind, MarketId, Price, Quote, Rate, Timestamp};

use crate::fixtures;
use crate::venue_stream::{VenueConfig, VenueStream, generate as generate_venue};

/// The oracle market's first mark (ticks of [`fixtures::test_spec`]).
const ORACLE_MARK: i64 = 2_000;

/// Generates a mixed stream of about `commands` commands (the venue stream's `commands` plus
/// what is mixed in) from `seed`.
#[must_use]
pub fn generate(seed: u64, commands: usize) -> VenueStream {
    generate_from(&VenueConfig::from_seed(seed, commands), seed, &MixKnobs::default())
}

/// How much is mixed in, and how wild the oracle market is. The defaults are what
/// [`generate`] uses; the deterministic simulation (`perpx-check`) draws them from its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixKnobs {
    /// Chance per mille that a command is followed by a mixed-in one.
    pub mix_per_mille: u32,
    /// The largest step of the oracle market's price between two oracle prices (ticks).
    pub oracle_step: i64,
    /// Chance per mille that an oracle price is an outlier (twice the price).
    pub outlier_per_mille: u32,
    /// The oracle market's funding interval (1, 4 or 8 hours, in ms).
    pub oracle_funding_interval_ms: i64,
    /// The oracle market's ADL policy.
    pub oracle_adl: AdlPolicy,
}

impl Default for MixKnobs {
    fn default() -> Self {
        Self {
            mix_per_mille: 150,
            oracle_step: 40,
            outlier_per_mille: 100,
            oracle_funding_interval_ms: 8 * HOUR_MS,
            oracle_adl: AdlPolicy::ProRata,
        }
    }
}

/// Generates a mixed stream from an explicit venue configuration, `seed` driving what is mixed
/// in (for [`generate`], the venue's own seed) and `knobs` how much.
#[must_use]
pub fn generate_from(venue: &VenueConfig, seed: u64, knobs: &MixKnobs) -> VenueStream {
    let commands = venue.commands;
    let base = generate_venue(venue);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b5e_55ed_u64);
    let base_markets = u32::try_from(venue.markets.len()).expect("few markets");
    let oracle_market = MarketId(base_markets);
    let accounts = u64::try_from(venue.funding.len()).expect("few accounts");
    let mut out = Vec::with_capacity(commands + commands / 4);
    let mut shift = 0i64;
    let mut created = false;
    let mut delisted = false;
    let mut oracle_price = ORACLE_MARK;
    for (i, c) in base.commands.into_iter().enumerate() {
        let mut ts = c.ts.0 + shift;
        out.push(Command { ts: Timestamp(ts), kind: c.kind });
        // The venue's markets come first; the oracle market right after them.
        if !created && i + 1 >= venue.markets.len() {
            created = true;
            out.push(Command {
                ts: Timestamp(ts),
                kind: CommandKind::CreateMarket(Box::new(oracle_spec(&mut rng, knobs))),
            });
            continue;
        }
        if !created || !rng.random_ratio(knobs.mix_per_mille, 1000) {
            continue;
        }
        let kind = match rng.random_range(0..100) {
            0..35 => {
                oracle_price = (oracle_price + rng.random_range(-knobs.oracle_step..=knobs.oracle_step)).max(100);
                let outlier = rng.random_ratio(knobs.outlier_per_mille, 1000);
                let price = if outlier { oracle_price * 2 } else { oracle_price };
                CommandKind::OraclePrice { market: oracle_market, source: rng.random_range(0..4), price: Price(price) }
            }
            35..50 => {
                let jump = match rng.random_range(0..10) {
                    0..6 => rng.random_range(1_000..60_000),
                    6..9 => rng.random_range(60_000..2 * HOUR_MS),
                    _ => rng.random_range(8 * HOUR_MS..9 * HOUR_MS),
                };
                shift += jump;
                ts += jump;
                CommandKind::Tick
            }
            50..60 => CommandKind::SetLiquidator {
                account: AccountId(rng.random_range(1..=accounts + 1)),
                active: rng.random_bool(0.7),
            },
            60..70 => {
                let fund = match rng.random_range(0..4) {
                    0 => FundRef::Shared,
                    1 => FundRef::Guaranty,
                    _ => FundRef::Market(MarketId(rng.random_range(0..=base_markets + 1))),
                };
                let amount = if rng.random_bool(0.1) { 0 } else { rng.random_range(1..=5_000) * 1_000_000 };
                CommandKind::CapitaliseFund { fund, amount: Quote(amount) }
            }
            70..78 => {
                let market = MarketId(rng.random_range(0..=base_markets));
                if rng.random_bool(0.2) { CommandKind::Halt { market } } else { CommandKind::Resume { market } }
            }
            78..88 => {
                let market = MarketId(rng.random_range(0..=base_markets));
                let change = ParamChange {
                    taker_fee: rng.random_bool(0.5).then(|| Rate(rng.random_range(50_000..=80_000))),
                    funding_interval_ms: rng.random_bool(0.5).then(|| [1, 4, 8][rng.random_range(0..3)] * HOUR_MS),
                    ..ParamChange::default()
                };
                let effective_at = Timestamp(ts + rng.random_range(1..120_000));
                CommandKind::ScheduleParams { market, effective_at, change: Box::new(change) }
            }
            88..96 => CommandKind::Deposit {
                account: AccountId(rng.random_range(2..=accounts)),
                amount: Quote(rng.random_range(1..=2_000) * 1_000_000),
            },
            _ if !delisted && out.len() > commands * 9 / 10 => {
                delisted = true;
                CommandKind::Delist { market: oracle_market, price: Price(oracle_price) }
            }
            _ => CommandKind::Tick,
        };
        out.push(Command { ts: Timestamp(ts), kind });
    }
    VenueStream { engine: base.engine, commands: out }
}

/// `ORC-PERP`: the test market's rules with three oracle sources, a quorum of two, short
/// staleness and grace so outages happen within a stream, the shared insurance fund and
/// pro-rata ADL.
fn oracle_spec(rng: &mut ChaCha8Rng, knobs: &MixKnobs) -> perpx_core::MarketSpec {
    let mut spec = fixtures::test_spec_named("ORC-PERP");
    spec.oracle = OracleSpec {
        sources: ["alpha", "beta", "gamma"]
            .iter()
            .map(|n| OracleSource { name: (*n).to_owned(), weight: rng.random_range(1..=3) })
            .collect(),
        staleness_ms: 20_000,
        quorum: Some(2),
        stale_grace_ms: 10_000,
        max_stale_ms: 60_000,
        mark_basis_samples: 3,
        ..OracleSpec::default()
    };
    spec.liquidation.insurance = InsurancePolicy::Shared { max_draw: Quote(1_000_000_000) };
    spec.liquidation.adl = knobs.oracle_adl;
    spec.funding.interval_ms = knobs.oracle_funding_interval_ms;
    spec
}
