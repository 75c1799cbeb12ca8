//! Spot price paths: the exogenous "true" price of each market's underlying, one value per step.
//!
//! A path is a base times a random overlay:
//!
//! `S(t) = base(t) × exp(X(t))`, `X(0) = 0`, and over each step of length `dt` (in years)
//!
//! `ΔX = (μ − σ²/2) dt + σ √dt (ρ Z_common + √(1 − ρ²) Z_own) + J + G`
//!
//! - `base` is the start price (a generated path) or the CSV replay interpolated to the step
//!   ([`csv`]);
//! - `σ` is the path's volatility, or a regime's while one is in force; `μ` the drift;
//! - `ρ` ties the market to a common factor shared by every path of the run (BTC and ETH fall
//!   together);
//! - `J` is a jump with probability `per_day × dt_days`, of size `ln(1 + r)` with `r` normal
//!   (mean, stdev) and floored at −90 %;
//! - `G` is a scripted gap: `ln(1 + move)` spread evenly over its window (−15 % over 20 minutes).
//!
//! Each market draws from its own seeded stream and the common factor from another, so a path
//! depends only on the seed and its own spec.

// Geometric Brownian motion is float math on the input path, converted to ticks only when a
// price enters a command.
#![allow(clippy::float_arithmetic)]

pub mod csv;

use crate::rng::{Domain, normal, stream, uniform};
use crate::time::DAY_MS;

/// Milliseconds in a year of 365.25 days.
const YEAR_MS: f64 = 365.25 * 86_400_000.0;

/// Where a path's base comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSource {
    /// A constant start price.
    Generated {
        /// The price at the start.
        start_price: f64,
    },
    /// A CSV replay.
    Csv {
        /// The file, as written in the scenario.
        file: String,
        /// Its observations.
        points: csv::Points,
    },
}

/// Jumps of a path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jumps {
    /// Expected jumps per day.
    pub per_day: f64,
    /// Mean jump (a fraction: −0.02 is −2 %).
    pub mean: f64,
    /// Its standard deviation.
    pub stdev: f64,
}

/// A volatility regime: `vol` in force over `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regime {
    /// Start (ms since the epoch).
    pub from_ms: i64,
    /// End.
    pub to_ms: i64,
    /// Annualised volatility.
    pub vol: f64,
}

/// A scripted move: the price changes by `change` (a fraction) evenly over `[at_ms, at_ms +
/// over_ms]`, on top of everything else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    /// Start.
    pub at_ms: i64,
    /// Length.
    pub over_ms: i64,
    /// The move: −0.15 is −15 %.
    pub change: f64,
}

/// One market's path specification.
#[derive(Debug, Clone, PartialEq)]
pub struct PathSpec {
    /// The base.
    pub source: PathSource,
    /// Annualised volatility (0.5 = 50 %).
    pub vol: f64,
    /// Annualised drift.
    pub drift: f64,
    /// Loading on the common factor, in [0, 1].
    pub correlation: f64,
    /// Jumps, if any.
    pub jumps: Option<Jumps>,
    /// Volatility regimes.
    pub regimes: Vec<Regime>,
    /// Scripted gaps.
    pub gaps: Vec<Gap>,
}

/// The paths of a run: `spot[market][k]` is the price at `start_ms + k × step_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    /// The first step's time.
    pub start_ms: i64,
    /// The step.
    pub step_ms: i64,
    /// Prices per market per step.
    pub spot: Vec<Vec<f64>>,
}

impl Paths {
    /// Generates every path for `steps` steps after the start (so `steps + 1` prices each).
    #[must_use]
    pub fn generate(specs: &[PathSpec], start_ms: i64, step_ms: i64, steps: usize, seed: u64) -> Self {
        let mut common = stream(seed, Domain::PathCommon, 0);
        let mut own: Vec<_> = (0..specs.len()).map(|i| stream(seed, Domain::PathMarket, i as u64)).collect();
        let mut x = vec![0.0f64; specs.len()];
        let mut spot: Vec<Vec<f64>> = specs.iter().map(|s| vec![base(s, start_ms)]).collect();
        let dt = step_ms as f64 / YEAR_MS;
        let jump_p = step_ms as f64 / DAY_MS as f64;
        for k in 1..=steps {
            let t1 = start_ms + k as i64 * step_ms;
            let t0 = t1 - step_ms;
            let zc = normal(&mut common);
            for (i, s) in specs.iter().enumerate() {
                let rng = &mut own[i];
                let sigma = s.regimes.iter().find(|r| r.from_ms <= t0 && t0 < r.to_ms).map_or(s.vol, |r| r.vol);
                let rho = s.correlation;
                let z = rho * zc + (1.0 - rho * rho).sqrt() * normal(rng);
                let mut dx = (s.drift - 0.5 * sigma * sigma) * dt + sigma * dt.sqrt() * z;
                if let Some(j) = s.jumps {
                    if uniform(rng) < j.per_day * jump_p {
                        let r = (j.mean + j.stdev * normal(rng)).max(-0.9);
                        dx += (1.0 + r).ln();
                    }
                }
                for g in &s.gaps {
                    let overlap = (t1.min(g.at_ms + g.over_ms) - t0.max(g.at_ms)).max(0);
                    if overlap > 0 {
                        dx += (1.0 + g.change).ln() * overlap as f64 / g.over_ms as f64;
                    }
                }
                x[i] += dx;
                spot[i].push(base(s, t1) * x[i].exp());
            }
        }
        Self { start_ms, step_ms, spot }
    }

    /// The price of market `m` at step `k` (clamped to the path).
    #[must_use]
    pub fn at(&self, m: usize, k: usize) -> f64 {
        let p = &self.spot[m];
        p[k.min(p.len() - 1)]
    }
}

fn base(s: &PathSpec, t: i64) -> f64 {
    match &s.source {
        PathSource::Generated { start_price } => *start_price,
        PathSource::Csv { points, .. } => csv::at(points, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(vol: f64) -> PathSpec {
        PathSpec {
            source: PathSource::Generated { start_price: 100.0 },
            vol,
            drift: 0.0,
            correlation: 0.0,
            jumps: None,
            regimes: Vec::new(),
            gaps: Vec::new(),
        }
    }

    #[test]
    fn a_scripted_gap_moves_the_price_by_exactly_its_size_over_its_window() {
        let mut s = spec(0.0);
        s.gaps.push(Gap { at_ms: 10_000, over_ms: 20_000, change: -0.15 });
        let p = Paths::generate(&[s], 0, 1_000, 60, 1);
        assert!((p.at(0, 10) - 100.0).abs() < 1e-9);
        assert!((p.at(0, 20) - 100.0 * 0.85f64.sqrt()).abs() < 1e-9, "half the move in log terms");
        assert!((p.at(0, 30) - 85.0).abs() < 1e-9);
        assert!((p.at(0, 60) - 85.0).abs() < 1e-9);
    }

    #[test]
    fn paths_depend_on_the_seed_only_and_correlated_markets_move_together() {
        let mut a = spec(0.8);
        a.correlation = 1.0;
        let b = a.clone();
        let p = Paths::generate(&[a.clone(), b], 0, 1_000, 500, 9);
        assert_eq!(p.spot[0], p.spot[1], "fully correlated and no own shocks: the same path");
        assert_eq!(p, Paths::generate(&[a.clone(), a.clone()], 0, 1_000, 500, 9));
        assert_ne!(p.spot[0], Paths::generate(&[a], 0, 1_000, 500, 10).spot[0]);
    }

    #[test]
    fn a_regime_raises_the_realised_volatility() {
        let mut s = spec(0.2);
        s.regimes.push(Regime { from_ms: 500_000, to_ms: 1_000_000, vol: 2.0 });
        let p = Paths::generate(&[s], 0, 1_000, 1_000, 3);
        let rv = |a: usize, b: usize| {
            let r: Vec<f64> = (a..b).map(|k| (p.at(0, k + 1) / p.at(0, k)).ln()).collect();
            (r.iter().map(|x| x * x).sum::<f64>() / r.len() as f64 * YEAR_MS / 1_000.0).sqrt()
        };
        assert!(rv(0, 499) < 0.3 && rv(500, 999) > 1.5, "{} {}", rv(0, 499), rv(500, 999));
    }
}
