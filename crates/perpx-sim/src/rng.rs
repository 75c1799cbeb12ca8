//! Randomness, deterministic from the run's seed: every consumer (the price path, each oracle
//! source, each agent) gets its own ChaCha8 stream derived from `(seed, domain, index)`, so
//! adding an agent or a market never changes the numbers another one draws, and a run is the
//! same on any machine and any number of threads.

// Samplers turn uniform draws into normal and exponential variates: float math by nature, used
// only for inputs (paths, agents), never for money.
#![allow(clippy::float_arithmetic)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The stream of one consumer.
pub type SimRng = ChaCha8Rng;

/// Consumers of randomness, each with its own streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// The common factor of the price paths.
    PathCommon = 1,
    /// One market's own price shocks and jumps.
    PathMarket = 2,
    /// One oracle source's noise.
    Oracle = 3,
    /// One agent's decisions.
    Agent = 4,
    /// Population set-up (capital, leverage draws).
    Population = 5,
}

/// SplitMix64's finaliser: a good 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream of `(domain, index)` in the run with `seed`.
#[must_use]
pub fn stream(seed: u64, domain: Domain, index: u64) -> SimRng {
    let key = mix(mix(seed) ^ mix((domain as u64) << 56 ^ index));
    ChaCha8Rng::seed_from_u64(key)
}

/// A uniform draw in `[0, 1)`.
pub fn uniform(rng: &mut SimRng) -> f64 {
    rng.random::<f64>()
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut SimRng) -> f64 {
    // 1 − u is in (0, 1]: the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An exponential draw with the given mean.
pub fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<u64> = (0..4).map(|_| stream(7, Domain::Agent, 3).random()).collect();
        let mut r = stream(7, Domain::Agent, 3);
        let first: u64 = r.random();
        assert_eq!(a[0], first);
        assert_ne!(stream(7, Domain::Agent, 4).random::<u64>(), first);
        assert_ne!(stream(8, Domain::Agent, 3).random::<u64>(), first);
        assert_ne!(stream(7, Domain::Oracle, 3).random::<u64>(), first);
    }

    #[test]
    fn the_samplers_have_the_right_moments() {
        let mut r = stream(1, Domain::PathCommon, 0);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut r)).collect();
        let mean = xs.iter().sum::<f64>() / f64::from(n);
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
        let e = (0..n).map(|_| exponential(&mut r, 5.0)).sum::<f64>() / f64::from(n);
        assert!((e - 5.0).abs() < 0.2, "{e}");
    }
}
