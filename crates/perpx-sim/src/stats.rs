//! Statistics of a run's observations and of Monte Carlo distributions.
//!
//! Money statistics are exact (integers, nearest-rank percentiles, the Gini coefficient in
//! 1e-8 units like the engine's `adl_compare`); the basis statistics are float summaries of
//! float observations, rounded to 0.01 before they are written so reports stay byte-stable.

// Means and deviations of float observations (basis in basis points, spot prices).
#![allow(clippy::float_arithmetic)]

/// Count, mean, deviation, minimum and maximum of a stream of floats.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Running {
    n: u64,
    sum: f64,
    sum_sq: f64,
    min: f64,
    max: f64,
}

impl Running {
    /// Adds one observation.
    pub fn push(&mut self, x: f64) {
        if self.n == 0 {
            (self.min, self.max) = (x, x);
        }
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Observations.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.n
    }

    /// `(mean, standard deviation, min, max)`, each rounded to 0.01; zeros when empty.
    #[must_use]
    pub fn summary(&self) -> (f64, f64, f64, f64) {
        if self.n == 0 {
            return (0.0, 0.0, 0.0, 0.0);
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        (round2(mean), round2(var.sqrt()), round2(self.min), round2(self.max))
    }
}

/// `x` rounded to two decimals.
#[must_use]
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The nearest-rank `p`-th percentile (0–100) of sorted values; `None` when empty.
#[must_use]
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // rank = ⌈p/100 × n⌉, at least 1.
    let rank = (usize::try_from(p).unwrap_or(100) * n).div_ceil(100).max(1);
    Some(sorted[rank.min(n) - 1])
}

/// The Gini coefficient of non-negative amounts in 1e-8 units: `Σ (2i − n − 1) x_(i) / (n Σ x)`
/// over the sorted amounts (zeros included); zero when nothing was taken.
#[must_use]
pub fn gini(amounts: &[i128]) -> i128 {
    let mut xs = amounts.to_vec();
    xs.sort_unstable();
    let n = i128::try_from(xs.len()).unwrap_or(i128::MAX);
    let total: i128 = xs.iter().sum();
    if n == 0 || total <= 0 {
        return 0;
    }
    let weighted: i128 = xs.iter().zip(1i128..).map(|(x, i)| (2 * i - n - 1) * x).sum();
    weighted * 100_000_000 / (n * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_gini_matches_the_engine_formula() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&v, 100), Some(100));
        assert_eq!(percentile(&[7], 1), Some(7));
        assert_eq!(percentile(&[], 50), None);
        // One of two takes everything: 1/2. Equal shares: 0.
        assert_eq!(gini(&[0, 400]), 50_000_000);
        assert_eq!(gini(&[5, 5, 5]), 0);
        assert_eq!(gini(&[]), 0);
        let mut r = Running::default();
        for x in [1.0, 2.0, 3.0] {
            r.push(x);
        }
        assert_eq!(r.summary(), (2.0, 0.82, 1.0, 3.0));
    }
}
