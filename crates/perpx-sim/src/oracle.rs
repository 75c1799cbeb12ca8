//! The oracle feed: turns the spot paths into `oracle_price` commands, one per source per
//! update, with each source's behaviour — a delay (it reports the spot of `delay` ago), noise
//! (`× exp(noise_bps/10⁴ × N(0,1))`), its own update period — and scripted faults:
//!
//! - `stale`: the source sends nothing in the window (the engine drops it after `staleness_ms`
//!   and, below quorum, walks the stale-index policy);
//! - `freeze`: it keeps sending the price it had when the fault began (stuck, but fresh);
//! - `outlier`: it reports `spot × (1 + move)` (the engine's outlier band should ignore it).
//!
//! A market without oracle sources gets `set_mark` at the spot instead.

// Noise and delays are float math on inputs; prices are converted to ticks in `convert`.
#![allow(clippy::float_arithmetic)]

use perpx_core::CommandKind;
use perpx_core::Price;

use crate::convert::Units;
use crate::path::Paths;
use crate::rng::{Domain, SimRng, normal, stream};

/// How one named source behaves (in every market that lists it).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceBehaviour {
    /// The source's name, as in the markets' `oracle.sources`.
    pub name: String,
    /// How late its prices are (ms).
    pub delay_ms: i64,
    /// Noise (basis points, one standard deviation).
    pub noise_bps: f64,
    /// Its update period (ms); `None`: the feed's.
    pub update_every_ms: Option<i64>,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// Sends nothing.
    Stale,
    /// Sends the price it had when the fault began.
    Freeze,
    /// Sends `spot × (1 + move)`.
    Outlier(f64),
}

/// A scripted fault of one source, in one market or all.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The source's name.
    pub source: String,
    /// The market (its index), or every market.
    pub market: Option<usize>,
    /// What happens.
    pub kind: FaultKind,
    /// Start (ms since the epoch).
    pub from_ms: i64,
    /// End (exclusive).
    pub to_ms: i64,
}

/// The oracle section of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleBehaviour {
    /// How often sources update by default (ms).
    pub update_every_ms: i64,
    /// Per-source behaviour; sources not listed are punctual and exact.
    pub sources: Vec<SourceBehaviour>,
    /// Scripted faults.
    pub faults: Vec<Fault>,
}

#[derive(Debug)]
struct Feed {
    source: u16,
    delay_steps: usize,
    noise: f64,
    every_steps: usize,
    faults: Vec<(FaultKind, i64, i64)>,
    frozen: Option<Price>,
    rng: SimRng,
}

/// The running feed of a run.
#[derive(Debug)]
pub struct OracleFeed {
    /// Per market: its sources' feeds (empty: `set_mark`).
    feeds: Vec<Vec<Feed>>,
    /// For markets without sources: the `set_mark` period in steps.
    mark_every_steps: usize,
}

fn steps_of(ms: i64, step_ms: i64) -> usize {
    usize::try_from((ms + step_ms - 1) / step_ms).unwrap_or(1).max(1)
}

impl OracleFeed {
    /// The feed for markets with the given source names (`sources[m]`), seeded.
    #[must_use]
    pub fn new(b: &OracleBehaviour, sources: &[Vec<String>], step_ms: i64, seed: u64) -> Self {
        let mut n = 0u64;
        let feeds = sources
            .iter()
            .enumerate()
            .map(|(m, names)| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let sb = b.sources.iter().find(|s| &s.name == name);
                        n += 1;
                        Feed {
                            source: u16::try_from(i).expect("at most 32 sources"),
                            delay_steps: usize::try_from(sb.map_or(0, |s| s.delay_ms) / step_ms).unwrap_or(0),
                            noise: sb.map_or(0.0, |s| s.noise_bps) / 10_000.0,
                            every_steps: steps_of(
                                sb.and_then(|s| s.update_every_ms).unwrap_or(b.update_every_ms),
                                step_ms,
                            ),
                            faults: b
                                .faults
                                .iter()
                                .filter(|f| &f.source == name && f.market.is_none_or(|x| x == m))
                                .map(|f| (f.kind, f.from_ms, f.to_ms))
                                .collect(),
                            frozen: None,
                            rng: stream(seed, Domain::Oracle, n),
                        }
                    })
                    .collect()
            })
            .collect();
        Self { feeds, mark_every_steps: steps_of(b.update_every_ms, step_ms) }
    }

    /// The commands of step `k` (time `ts`) for every market, in market and source order.
    pub fn commands(&mut self, k: usize, ts: i64, paths: &Paths, units: &[Units], out: &mut Vec<CommandKind>) {
        for (m, feeds) in self.feeds.iter_mut().enumerate() {
            let u = &units[m];
            if feeds.is_empty() {
                if k % self.mark_every_steps == 0 {
                    if let Some(price) = u.ticks(paths.at(m, k)) {
                        out.push(CommandKind::SetMark { market: u.id, price });
                    }
                }
                continue;
            }
            for f in feeds.iter_mut() {
                if k % f.every_steps != 0 {
                    continue;
                }
                let fault = f.faults.iter().find(|(_, from, to)| *from <= ts && ts < *to).map(|x| x.0);
                if !matches!(fault, Some(FaultKind::Freeze)) {
                    f.frozen = None;
                }
                let spot = paths.at(m, k.saturating_sub(f.delay_steps));
                let noisy = if f.noise > 0.0 { spot * (f.noise * normal(&mut f.rng)).exp() } else { spot };
                let price = match fault {
                    Some(FaultKind::Stale) => continue,
                    Some(FaultKind::Freeze) => *f.frozen.get_or_insert(u.ticks(noisy).unwrap_or(Price(1))),
                    Some(FaultKind::Outlier(mv)) => u.ticks(noisy * (1.0 + mv)).unwrap_or(Price(1)),
                    None => u.ticks(noisy).unwrap_or(Price(1)),
                };
                out.push(CommandKind::OraclePrice { market: u.id, source: f.source, price });
            }
        }
    }
}
