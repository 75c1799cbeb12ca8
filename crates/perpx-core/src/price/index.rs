//! The index: a robust middle of several spot sources.
//!
//! 1. A source is **fresh** if its last price is at most `staleness_ms` old; stale sources are
//!    dropped (and reported).
//! 2. The median of the fresh prices is a first estimate; a source further than `outlier_band`
//!    from it (`|p − m| > m × band`) is an **outlier**, ignored and reported.
//! 3. The index is the weighted median of the remaining prices (all weights 1 gives the plain
//!    median). With fewer than `quorum` sources left there is **no index**: the caller applies
//!    the stale-index policy instead of inventing one.
//!
//! Medians of an even count take the lower middle value: a real quote, never an average that
//! no source showed. Ties are broken by source id, so the result never depends on input order.

use crate::num::{Price, Rate, Timestamp, mul_div_floor};

/// One source's latest price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePrice {
    /// Which source (stable id, e.g. the position in the market's source list).
    pub source: u16,
    /// Its price in the market's ticks.
    pub price: Price,
    /// When the source published it.
    pub at: Timestamp,
    /// Its weight in the median (≥ 1).
    pub weight: u32,
}

/// Index rules of one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexParams {
    /// A price older than this is stale (ms).
    pub staleness_ms: i64,
    /// How far from the first median a source may be before it is an outlier.
    pub outlier_band: Rate,
    /// The fewest sources an index may stand on.
    pub quorum: u32,
}

/// What the index computation saw and decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexResult {
    /// The index, if at least `quorum` sources were fresh and not outliers.
    pub index: Option<Price>,
    /// Sources used, by id.
    pub used: Vec<u16>,
    /// Sources dropped as stale, by id.
    pub stale: Vec<u16>,
    /// Sources ignored as outliers, by id.
    pub outliers: Vec<u16>,
}

/// The lower weighted median of `(price, weight)` pairs sorted by (price, source), each weight
/// read through `weight` (the first, unweighted median counts every source once).
fn weighted_median(sorted: &[(Price, u16, u32)], weight: impl Fn(u32) -> u32) -> Option<Price> {
    let total: u64 = sorted.iter().map(|x| u64::from(weight(x.2).max(1))).sum();
    if total == 0 {
        return None;
    }
    // The first price at which the cumulative weight reaches half the total (rounded up).
    let half = total.div_ceil(2);
    let mut acc = 0u64;
    for (p, _, w) in sorted {
        acc += u64::from(weight(*w).max(1));
        if acc >= half {
            return Some(*p);
        }
    }
    sorted.last().map(|x| x.0)
}

/// Computes the index at `now` from the sources' latest prices.
///
/// It runs for every oracle market at every command (the mark moves with time), so it works in
/// one vector: the fresh sources, filtered in place to the kept ones. Its temporary copies were
/// half of the oracle step's time on the server's engine thread (docs/PERFORMANCE.md
/// "Session 8").
#[must_use]
pub fn compute_index(sources: &[SourcePrice], now: Timestamp, p: &IndexParams) -> IndexResult {
    let mut r = IndexResult::default();
    let mut fresh: Vec<(Price, u16, u32)> = Vec::with_capacity(sources.len());
    for s in sources {
        if now.0.saturating_sub(s.at.0) > p.staleness_ms || s.price.0 <= 0 {
            r.stale.push(s.source);
        } else {
            fresh.push((s.price, s.source, s.weight));
        }
    }
    fresh.sort_unstable_by_key(|x| (x.0, x.1));
    let Some(first) = weighted_median(&fresh, |_| 1) else {
        r.stale.sort_unstable();
        return r;
    };
    let band = mul_div_floor(i128::from(first.0), i128::from(p.outlier_band.0), Rate::SCALE).unwrap_or(i128::MAX);
    fresh.retain(|x| {
        let inside = (i128::from(x.0.0) - i128::from(first.0)).abs() <= band;
        if !inside {
            r.outliers.push(x.1);
        }
        inside
    });
    let kept = fresh;
    r.used = kept.iter().map(|x| x.1).collect();
    if kept.len() >= p.quorum.max(1) as usize {
        r.index = weighted_median(&kept, |w| w);
    }
    r.used.sort_unstable();
    r.stale.sort_unstable();
    r.outliers.sort_unstable();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(source: u16, price: i64, at: i64) -> SourcePrice {
        SourcePrice { source, price: Price(price), at: Timestamp(at), weight: 1 }
    }

    fn params() -> IndexParams {
        IndexParams { staleness_ms: 10_000, outlier_band: Rate(2_000_000), quorum: 3 }
    }

    #[test]
    fn the_index_is_the_median_of_fresh_sources_without_outliers() {
        let s = [src(0, 10_000, 0), src(1, 10_010, 0), src(2, 9_995, 0), src(3, 10_005, 0), src(4, 12_000, 0)];
        let r = compute_index(&s, Timestamp(5_000), &params());
        // 120.00 is 20 % away: an outlier. The rest: 99.95, 100.00, 100.05, 100.10 → lower middle.
        assert_eq!(r.outliers, vec![4]);
        assert_eq!(r.index, Some(Price(10_000)));
        assert_eq!(r.used, vec![0, 1, 2, 3]);
    }

    #[test]
    fn stale_sources_are_dropped_and_below_quorum_there_is_no_index() {
        let s = [src(0, 10_000, 0), src(1, 10_010, 20_000), src(2, 9_995, 20_000)];
        let r = compute_index(&s, Timestamp(25_000), &params());
        assert_eq!(r.stale, vec![0]);
        assert_eq!(r.index, None, "two fresh sources are below the quorum of three");
        // With a quorum of two the two fresh sources make an index: the lower middle.
        let r = compute_index(&s, Timestamp(25_000), &IndexParams { quorum: 2, ..params() });
        assert_eq!(r.index, Some(Price(9_995)));
    }

    #[test]
    fn weights_move_the_median_and_input_order_does_not() {
        let mut s = vec![src(0, 100, 0), src(1, 101, 0), src(2, 102, 0)];
        s[2].weight = 5;
        let p = IndexParams { quorum: 1, ..params() };
        assert_eq!(compute_index(&s, Timestamp(0), &p).index, Some(Price(102)));
        s.reverse();
        assert_eq!(compute_index(&s, Timestamp(0), &p).index, Some(Price(102)));
    }
}
