//! Who gives up how much in auto-deleveraging: the three policies, on plain numbers.
//!
//! Every policy closes the same `required` lots at the same price; they differ in **who**. The
//! input is the opposite side's positions in rank order ([`super::liquidation::adl_rank`],
//! highest first, ties by account id); `give_up_per_lot` is what one lot closed at the ADL price
//! costs its holder against mark (zero when the bankrupt position still had equity and trades at
//! mark), `value_per_lot` one lot's notional at mark.
//!
//! - **queue**: each position in rank order, fully before the next (BitMEX/Binance).
//! - **pro_rata**: every eligible position gives up the same fraction **of its size**
//!   (`required × size / Σ size`, rounded down, the leftover lots one each to the largest
//!   remainders, ties in rank order). By size, not by profit: every lot on the winning side then
//!   pays the same, and a market maker's book shrinks in proportion instead of losing one leg.
//! - **leverage_drain** (water-filling, Campbell–Hey–Moallemi–Nutz): positions with no equity left
//!   first; then the lowest level `L` (to 1e-8) such that cutting every position above `L` down
//!   to `L` needs at most the required lots, and the leftover lots one at a time to whichever
//!   position is then the most leveraged. No other allocation leaves a lower maximum leverage
//!   (to 1e-8). An isolated position's leverage falls only as far as it keeps more profit per
//!   lot than it gives up (its margin is released in proportion); otherwise it is closed in full
//!   or left alone.
//!
//! **Eligible** positions are the winners (unrealised profit > 0); if they hold fewer lots than
//! required, every opposite position is. The queue takes winners first by its rank order anyway.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::ids::AccountId;
use crate::num::Rate;

/// One position on the side ADL takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdlPosition {
    /// Its account.
    pub account: AccountId,
    /// Its rank (1e-8 units; higher goes first in the queue).
    pub rank: i128,
    /// Its size in lots (absolute).
    pub size: i64,
    /// Unrealised PnL at mark (micro-units).
    pub upnl: i128,
    /// Notional at mark (micro-units).
    pub notional: i128,
    /// The equity that backs it: the account's cross equity, or an isolated position's own.
    pub equity: i128,
    /// An isolated position: giving up lots releases its margin in proportion, so its leverage
    /// only changes when it is closed in full.
    pub isolated: bool,
}

/// The ADL policies (per market, [`crate::market::AdlPolicy`]).
pub use crate::market::AdlPolicy;

/// Lots each position gives up (same order as `positions`), summing to
/// `min(required, Σ size)`.
#[must_use]
pub fn allocate(
    policy: AdlPolicy,
    positions: &[AdlPosition],
    required: i64,
    give_up_per_lot: i128,
    value_per_lot: i128,
) -> Vec<i64> {
    let mut take = vec![0i64; positions.len()];
    if required <= 0 {
        return take;
    }
    if policy == AdlPolicy::Queue {
        queue(positions, required, &mut take);
        return take;
    }
    let total: i64 = positions.iter().map(|p| p.size).sum();
    let required = required.min(total);
    if required == 0 {
        return take;
    }
    let winners: i64 = positions.iter().filter(|p| p.upnl > 0).map(|p| p.size).sum();
    let eligible = |p: &AdlPosition| winners < required || p.upnl > 0;
    if policy == AdlPolicy::ProRata {
        pro_rata(positions, &eligible, required, &mut take);
    } else {
        drain(positions, &eligible, required, give_up_per_lot, value_per_lot, &mut take);
    }
    take
}

/// The queue: winners first in rank order (their ranks are positive, losers' negative), each
/// in full, until `required` is met or the side is used up. Only the positions taken are read:
/// in a cascade served by ADL alone this runs once a bankrupt unit, over the whole opposite
/// side (docs/PERFORMANCE.md, "Session 7: the ADL case").
fn queue(positions: &[AdlPosition], required: i64, take: &mut [i64]) {
    let mut left = required;
    for (t, p) in take.iter_mut().zip(positions) {
        if left == 0 {
            break;
        }
        *t = p.size.min(left);
        left -= *t;
    }
}

/// Every eligible winner gives up the same fraction, `⌊required × size / Σ size⌋`, and the
/// lots left over go one each to the largest remainders (ties in rank order).
fn pro_rata(positions: &[AdlPosition], eligible: &dyn Fn(&AdlPosition) -> bool, required: i64, take: &mut [i64]) {
    let sum: i128 = positions.iter().filter(|p| eligible(p)).map(|p| i128::from(p.size)).sum();
    let mut rest = required;
    let mut remainders: Vec<(i128, usize)> = Vec::new();
    for (i, p) in positions.iter().enumerate().filter(|(_, p)| eligible(p)) {
        let exact = i128::from(required) * i128::from(p.size);
        take[i] = i64::try_from(exact / sum).expect("at most the size");
        rest -= take[i];
        remainders.push((exact % sum, i));
    }
    // Largest remainder first; ties in rank order (the index).
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take(usize::try_from(rest).expect("fewer than the positions")) {
        take[i] += 1;
    }
}

/// A position's leverage after giving up `q < size` lots, as a fraction; `None` is infinite
/// (no equity left). Cross: `(size − q) × value / (equity − q × g)` (the realised part goes to
/// collateral, which still backs it). Isolated: its margin keeps the realised result and releases
/// the closed share, so its equity becomes `(s − q)/s × (E + q (u − g))` with `u = uPnL / s`, and
/// its leverage `s × value / (E + q (u − g))` — as a fraction `s² v / (s E + q (uPnL − g s))`.
fn leverage_after(p: &AdlPosition, q: i64, g: i128, v: i128) -> Option<(i128, i128)> {
    let (s, q) = (i128::from(p.size), i128::from(q));
    if p.isolated {
        let den = s * p.equity + q * (p.upnl - g * s);
        return (den > 0).then(|| (s * s * v, den));
    }
    let den = p.equity - q * g;
    (den > 0).then(|| ((s - q) * v, den))
}

/// The smallest cut that brings `p` to leverage ≤ `level` (1e-8 units).
fn cut_to(p: &AdlPosition, level: i128, g: i128, v: i128) -> i64 {
    if p.isolated {
        // s² v S ≤ L (s E + q (uPnL − g s)): cutting helps only while the position keeps more
        // profit per lot than it gives up; otherwise only closing it takes it off the side.
        let s = i128::from(p.size);
        let need = s * s * v * Rate::SCALE - level * s * p.equity;
        if need <= 0 {
            return 0;
        }
        let per_lot = level * (p.upnl - g * s);
        if per_lot <= 0 {
            return p.size;
        }
        return i64::try_from(((need + per_lot - 1) / per_lot).min(s)).expect("at most the size");
    }
    // (s − q) v S ≤ L (E − q g)  ⇔  q (v S − L g) ≥ s v S − L E.
    let s = i128::from(p.size);
    let den = v * Rate::SCALE - level * g;
    let num = s * v * Rate::SCALE - level * p.equity;
    if num <= 0 {
        return 0;
    }
    if den <= 0 {
        return p.size;
    }
    i64::try_from(((num + den - 1) / den).min(s)).expect("at most the size")
}

/// An entry of the water-filling heap: the position's leverage after its current cut.
#[derive(Debug, PartialEq, Eq)]
struct Level {
    /// `None`: infinite.
    leverage: Option<(i128, i128)>,
    index: usize,
}

impl Ord for Level {
    fn cmp(&self, other: &Self) -> Ordering {
        let by_leverage = match (self.leverage, other.leverage) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some((a, b)), Some((c, d))) => (a * d).cmp(&(c * b)),
        };
        // The max-heap pops the highest leverage; on a tie the earlier rank (lower index).
        by_leverage.then(other.index.cmp(&self.index))
    }
}

impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn drain(
    positions: &[AdlPosition],
    eligible: &dyn Fn(&AdlPosition) -> bool,
    required: i64,
    g: i128,
    v: i128,
    take: &mut [i64],
) {
    let mut left = required;
    // No equity left: infinite leverage, cut first, in rank order.
    for (i, p) in positions.iter().enumerate() {
        if eligible(p) && p.equity - i128::from(p.size) * g <= 0 && left > 0 {
            take[i] = p.size.min(left);
            left -= take[i];
        }
    }
    let open: Vec<usize> = (0..positions.len()).filter(|i| eligible(&positions[*i]) && take[*i] == 0).collect();
    if left == 0 || open.is_empty() {
        return;
    }
    let needed = |level: i128| -> i64 { open.iter().map(|i| cut_to(&positions[*i], level, g, v)).sum() };
    // The lowest level whose cuts fit in what is left; at level 0 every position is cut fully.
    let (mut lo, mut hi) = (0i128, 1i128);
    while needed(hi) > left {
        hi *= 2;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if needed(mid) <= left {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut heap = BinaryHeap::new();
    for i in &open {
        let q = cut_to(&positions[*i], lo, g, v);
        take[*i] = q;
        left -= q;
        if q < positions[*i].size {
            heap.push(Level { leverage: leverage_after(&positions[*i], q, g, v), index: *i });
        }
    }
    // The leftover lots, one at a time, to the most leveraged position.
    while left > 0 {
        let Some(top) = heap.pop() else { break };
        take[top.index] += 1;
        left -= 1;
        let p = &positions[top.index];
        if take[top.index] < p.size {
            heap.push(Level { leverage: leverage_after(p, take[top.index], g, v), index: top.index });
        }
    }
}

/// How an allocation falls on the accounts: the figures to compare policies by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdlOutcome {
    /// The policy.
    pub policy: AdlPolicy,
    /// Lots each account gives up, with the notional closed and the value given up (micro),
    /// for every account hit, in rank order.
    pub hit: Vec<(AccountId, i64, i128, i128)>,
    /// The largest single share of the value given up (1e-8).
    pub largest_share: i128,
    /// The Gini coefficient of the value given up over the eligible positions (1e-8).
    pub gini: i128,
    /// The highest leverage left on the side after the cut (1e-8; `i128::MAX` if an account
    /// is left with a position and no equity).
    pub max_leverage_left: i128,
}

/// The outcome of `policy` on `positions` for `required` lots.
#[must_use]
pub fn outcome(
    policy: AdlPolicy,
    positions: &[AdlPosition],
    required: i64,
    give_up_per_lot: i128,
    value_per_lot: i128,
) -> AdlOutcome {
    let take = allocate(policy, positions, required, give_up_per_lot, value_per_lot);
    let total: i64 = positions.iter().map(|p| p.size).sum();
    let winners: i64 = positions.iter().filter(|p| p.upnl > 0).map(|p| p.size).sum();
    let hit: Vec<(AccountId, i64, i128, i128)> = positions
        .iter()
        .zip(&take)
        .filter(|(_, q)| **q > 0)
        .map(|(p, q)| (p.account, *q, i128::from(*q) * value_per_lot, i128::from(*q) * give_up_per_lot))
        .collect();
    let sum: i128 = hit.iter().map(|h| h.3).sum();
    let largest_share = if sum > 0 { hit.iter().map(|h| h.3).max().unwrap_or(0) * Rate::SCALE / sum } else { 0 };
    // Gini over the eligible positions (zeros included): Σ (2i − n − 1) x_(i) / (n Σ x).
    let mut given: Vec<i128> = positions
        .iter()
        .zip(&take)
        .filter(|(p, _)| winners < required.min(total) || p.upnl > 0)
        .map(|(_, q)| i128::from(*q) * give_up_per_lot)
        .collect();
    given.sort_unstable();
    let n = i128::try_from(given.len()).unwrap_or(i128::MAX);
    let gini = if sum > 0 && n > 0 {
        let weighted: i128 = given.iter().enumerate().map(|(i, x)| (2 * (i as i128 + 1) - n - 1) * x).sum();
        weighted * Rate::SCALE / (n * given.iter().sum::<i128>())
    } else {
        0
    };
    let max_leverage_left = positions
        .iter()
        .zip(&take)
        .filter(|(p, q)| p.size > **q)
        .map(|(p, q)| match leverage_after(p, *q, give_up_per_lot, value_per_lot) {
            Some((num, den)) => num * Rate::SCALE / den,
            None => i128::MAX,
        })
        .max()
        .unwrap_or(0);
    AdlOutcome { policy, hit, largest_share, gini, max_leverage_left }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(account: u64, size: i64, upnl: i128, equity: i128) -> AdlPosition {
        let notional = i128::from(size) * 120;
        AdlPosition { account: AccountId(account), rank: 0, size, upnl, notional, equity, isolated: false }
    }

    #[test]
    fn pro_rata_gives_the_leftover_lot_to_the_largest_remainder() {
        // The seed's case 1 winners: W long 40, Y long 20; 20 lots to close: 13⅓ and 6⅔.
        let p = [pos(1, 40, 800, 1_800), pos(2, 20, 500, 10_500)];
        assert_eq!(allocate(AdlPolicy::ProRata, &p, 20, 20, 120), vec![13, 7]);
        assert_eq!(allocate(AdlPolicy::Queue, &p, 20, 20, 120), vec![20, 0]);
    }

    #[test]
    fn leverage_drain_cuts_the_most_leveraged_down_to_a_common_level() {
        // W: 4,800 / 1,800 = 2.67x; Y: 2,400 / 10,500 = 0.23x. Each lot W gives up takes 120 of
        // notional and 20 of equity: W alone reaches Y's level only after more than 20 lots, so
        // all 20 come from W.
        let p = [pos(1, 40, 800, 1_800), pos(2, 20, 500, 10_500)];
        assert_eq!(allocate(AdlPolicy::LeverageDrain, &p, 20, 20, 120), vec![20, 0]);
        // Two equal positions share the cut equally: splitting an account changes nothing.
        let twins = [pos(1, 20, 400, 900), pos(3, 20, 400, 900), pos(2, 20, 500, 10_500)];
        assert_eq!(allocate(AdlPolicy::LeverageDrain, &twins, 20, 20, 120), vec![10, 10, 0]);
    }

    #[test]
    fn the_outcome_measures_the_spread_of_the_haircut() {
        let p = [pos(1, 40, 800, 1_800), pos(2, 20, 500, 10_500)];
        let q = outcome(AdlPolicy::Queue, &p, 20, 20, 120);
        assert_eq!((q.largest_share, q.gini), (Rate::SCALE, Rate::SCALE / 2));
        let r = outcome(AdlPolicy::ProRata, &p, 20, 20, 120);
        assert_eq!(r.hit.iter().map(|h| h.3).collect::<Vec<_>>(), vec![260, 140]);
        assert!(r.gini < q.gini);
        let d = outcome(AdlPolicy::LeverageDrain, &p, 20, 20, 120);
        assert!(d.max_leverage_left <= q.max_leverage_left && d.max_leverage_left <= r.max_leverage_left);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Every policy closes exactly `min(required, Σ size)` lots (nothing for a requirement
        /// of zero or less), no position more than its size; the queue fills positions in rank
        /// order, each in full before the next, and reads none after the last it takes.
        #[test]
        fn every_policy_closes_exactly_what_is_required_and_the_queue_in_rank_order(
            sides in proptest::collection::vec((1i64..200, -5_000i128..5_000, 1i128..50_000), 0..40),
            required in -5i64..3_000,
        ) {
            let positions: Vec<AdlPosition> =
                sides.iter().enumerate().map(|(i, &(size, upnl, equity))| pos(i as u64, size, upnl, equity)).collect();
            let total: i64 = positions.iter().map(|p| p.size).sum();
            let expected = required.clamp(0, total);
            for policy in [AdlPolicy::Queue, AdlPolicy::ProRata, AdlPolicy::LeverageDrain] {
                let take = allocate(policy, &positions, required, 20, 120);
                proptest::prop_assert_eq!(take.len(), positions.len());
                proptest::prop_assert_eq!(take.iter().sum::<i64>(), expected, "{:?}", policy);
                for (t, p) in take.iter().zip(&positions) {
                    proptest::prop_assert!((0..=p.size).contains(t));
                }
                if policy == AdlPolicy::Queue {
                    let partial = take.iter().zip(&positions).position(|(t, p)| *t < p.size).unwrap_or(take.len());
                    proptest::prop_assert!(take[partial.min(take.len())..].iter().skip(1).all(|t| *t == 0));
                }
            }
        }
    }
}
