//! Safe bands: how far a market's mark can move before a holder could fall below maintenance.
//!
//! **Why.** A mark move used to re-check every holder of the market: equity and maintenance
//! margin of each holder's unit. On the recovery benchmark's workload (a mark move in 1 % of
//! the commands, a few hundred holders) that was 23 % of the engine's instructions
//! (callgrind), and it grows with the holders: a market with 100,000 positions paid 100,000
//! unit valuations per mark tick. Each holder now carries, in the market's holder index, the
//! range of marks over which its unit provably stays at or above maintenance, and a mark move
//! re-checks only the holders whose range it leaves (measured: docs/PERFORMANCE.md, "Session
//! 11: the engine on the replay worker").
//!
//! **The bound.** A unit whose only position is `s` lots here (an isolated position, or a
//! cross account with one position), with headroom `H = equity − MM ≥ 0` at mark `P`: at mark
//! `P + Δ` its equity moves by exactly `s·q·Δ` (`q` micro-units per tick and lot), and its
//! maintenance margin by less than `|s|·q·|Δ|·r̄/S + 1`: MM is `max(0, ⌈N·r/S⌉ − amount)` of the
//! notional's tier, continuous at the tier edges (`validate_tiers` refuses any other amount)
//! with slopes the tiers' rates, the largest of which is the last tier's `r̄` (rates never
//! decrease), and the ceiling adds less than one micro-unit. So while
//! `|s|·q·|Δ|·(S + r̄) ≤ (H − 2)·S`, the headroom stays at least 1 and the unit is not below
//! maintenance. The band is `[P − D, P + D]` with
//!
//! ```text
//! D = ⌊(H − 2) / k⌋,   k = |s|·q + ⌈|s|·q·r̄ / S⌉ ≥ |s|·q·(S + r̄) / S
//! ```
//!
//! (`S` = `Rate::SCALE`; `k` rounded up, so the band is if anything narrower, and `D` is one
//! 64-bit division where the exact quotient took a 128-bit one), and no band at all when
//! `H < 2`.
//!
//! **Funding.** A settlement takes from each payer at most
//! `⌈|s|·P·q·|f|/S⌉ ≤ |s|·(P·q·|f| + S)/S`. Rather than recompute every payer's band (a
//! division and a tree descent each, over a million positions in the funding benchmark), the
//! market keeps one cumulative **shrink** per side, in ticks, raised by
//! `t = ⌈(P·q·|f| + S) / (q·(S + r̄))⌉` for the paying side at each settlement: `t` ticks of
//! band are worth at least the payment, so narrowing the band by `t` at both ends keeps the
//! bound. A band is stored against the shrink at the time it was computed and read as
//! `[lo + shrink, hi − shrink]`.
//!
//! **Who has one.** Every isolated position, and the cross positions of an account that holds
//! at most [`MAX_SHARED_POSITIONS`] of them. A unit of `n` cross positions shares its headroom
//! between `n` marks: at marks `P + Δ` its headroom is at least `H − Σ (k_m·|Δ_m| + 1)` (each
//! market's maintenance margin moves by less than its slope and a rounding unit), so if every
//! market's band spends at most its share `H_m` with `Σ H_m ≤ H − n − 1`, the headroom stays at
//! least 1 whichever marks move, in whichever order, and a move inside every band needs no
//! re-check. Each position's band is [`SafeBand::around`] its mark with the headroom
//! [`shared_headroom`] gives it (`⌊(H − n − 1) / n⌋ + 2`, which is `H` for a lone position:
//! the single-position band above). Funding: the shrink covers a market's payments only up to
//! that market's band, and payments beyond it would eat into the other markets' shares, so a
//! payer of a shared unit is re-checked by the pass after every settlement, its bands derived
//! again from what the payment left (`Engine::pay_funding`). Before session 31 a
//! unit of several cross positions had no band and was re-checked at every move of any of its
//! marks; with two markets whose marks follow an oracle, that was 41 % of the engine's
//! instructions (docs/PERFORMANCE.md, "Session 31"). A unit of more positions still
//! has none: the invariant checker proves every shared band at all `2ⁿ` corners of the box of
//! bands (the headroom is concave in the marks jointly — linear equity less a sum of convex
//! MMs — so its minimum over the box is at a corner), and `n` is kept small for that. Anything
//! else that changes an account (a fill, a withdrawal, a transfer, a mode change, a
//! liquidation) makes it a candidate of the next liquidation pass, because the account table
//! logs every mutable access ([`crate::account::AccountTable::take_changed`]); that check
//! recomputes its bands. New tiers re-check every holder of the market.
//!
//! The bands are derived state: not in snapshots or the state hash, and a restored engine
//! starts without any (every holder is checked at the next mark move). They change only
//! *which* holders a pass re-checks, never what it finds: a unit inside its band is not below
//! maintenance, so re-checking it would queue nothing.

use crate::num::{Price, Qty, Quote, Rate};

/// The marks over which one holder's unit stays at or above maintenance, stored against the
/// market's shrink for the holder's side (see the module docs). `NONE` when the unit has no
/// band: it is re-checked at every mark move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeBand {
    lo: i64,
    hi: i64,
}

impl Default for SafeBand {
    fn default() -> Self {
        Self::NONE
    }
}

impl SafeBand {
    /// No band: re-checked at every move.
    pub const NONE: Self = Self { lo: i64::MAX, hi: i64::MIN };

    /// Every mark, at any shrink: the band of a free entry of a market's holders, which a walk
    /// for the holders a move leaves passes over. Never a unit's band.
    pub(crate) const ALL: Self = Self { lo: i64::MIN, hi: i64::MAX };

    /// The band of a single-position unit of `size` lots with headroom `headroom`
    /// (`equity − MM`) at `mark`, in a market of `q` micro-units per tick and lot whose
    /// largest maintenance rate is `max_rate`, stored against the side's current `shrink`.
    /// `NONE` if the headroom is below 2 micro-units or an end of the band would leave the
    /// positive prices or a notional that fits an `i64`.
    #[must_use]
    pub fn around(mark: Price, size: Qty, headroom: Quote, q: i64, max_rate: Rate, shrink: i64) -> Self {
        const S: i64 = 100_000_000;
        const _: () = assert!(S as i128 == Rate::SCALE);
        let h = headroom.0.saturating_sub(2);
        let Ok(sq) = i64::try_from(i128::from(size.0).abs() * i128::from(q)) else { return Self::NONE };
        // ⌈sq·r̄ / S⌉, in 64 bits when the product fits (a division by a constant).
        let r = max_rate.0.max(0);
        let slope = match sq.checked_mul(r) {
            Some(p) => p / S + i64::from(p % S != 0),
            None => {
                i64::try_from((i128::from(sq) * i128::from(r) + (Rate::SCALE - 1)) / Rate::SCALE).unwrap_or(i64::MAX)
            }
        };
        let per_tick = sq.saturating_add(slope);
        if h < 0 || per_tick <= 0 || mark.0 <= 0 {
            return Self::NONE;
        }
        let d = i128::from(h / per_tick);
        let lo = (i128::from(mark.0) - d).max(1);
        let hi = i128::from(mark.0) + d;
        // The highest notional in the band must fit, as the figures at the mark did.
        let top = i128::from(size.0).abs() * i128::from(q) * hi;
        let (Ok(lo), Ok(hi)) = (i64::try_from(lo), i64::try_from(hi)) else { return Self::NONE };
        if i64::try_from(top).is_err() {
            return Self::NONE;
        }
        Self { lo: lo.saturating_sub(shrink), hi: hi.saturating_add(shrink) }
    }

    /// The band's ends at the side's current `shrink`, if it is not empty.
    #[must_use]
    pub fn ends(self, shrink: i64) -> Option<(Price, Price)> {
        let (lo, hi) = (self.lo.saturating_add(shrink), self.hi.saturating_sub(shrink));
        (lo <= hi).then_some((Price(lo), Price(hi)))
    }

    /// Whether `mark` lies inside the band at the side's current `shrink`.
    #[inline]
    #[must_use]
    pub fn holds(self, mark: Price, shrink: i64) -> bool {
        mark.0.saturating_sub(shrink) >= self.lo && mark.0.saturating_add(shrink) <= self.hi
    }
}

/// The most cross positions a unit may hold and still have safe bands (module docs).
pub const MAX_SHARED_POSITIONS: usize = 4;

/// The headroom the band of each of a unit's `n` positions may spend, from the unit's headroom
/// `headroom` (module docs): `⌊(H − n − 1) / n⌋ + 2`, so that the `n` bands' spendable parts
/// ([`SafeBand::around`] keeps 2 back) add up to at most `H − n − 1`. `H` itself for `n = 1`.
#[must_use]
pub fn shared_headroom(headroom: Quote, n: usize) -> Quote {
    debug_assert!(n >= 1, "a unit with a position");
    if n <= 1 {
        // The formula's value, without its division: most units hold one position.
        return headroom;
    }
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    Quote(headroom.0.saturating_sub(n.saturating_add(1)).div_euclid(n).saturating_add(2))
}

/// The shrink, in ticks, that one funding settlement at rate `f` and mark `mark` adds to the
/// paying side's bands (module docs): `⌈(mark·q·|f| + S) / (q·(S + r̄))⌉`, saturating.
#[must_use]
pub fn funding_shrink(mark: Price, q: i64, f: Rate, max_rate: Rate) -> i64 {
    let q = i128::from(q);
    let num = i128::from(mark.0).abs().saturating_mul(q).saturating_mul(i128::from(f.0).abs()) + Rate::SCALE;
    let den = q * (Rate::SCALE + i128::from(max_rate.0));
    if den <= 0 {
        return i64::MAX;
    }
    i64::try_from((num + den - 1) / den).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_is_the_headroom_over_the_worst_loss_a_tick() {
        // 10 lots at 1 USD a tick-lot, MM rate at most 1 %: a tick costs at most
        // 10 × 1.01 = 10.1 USD of headroom; 1,010 USD (and the 2 µ kept back) is 100 ticks.
        let b = SafeBand::around(Price(5_000), Qty(10), Quote(1_010_000_002), 1_000_000, Rate(1_000_000), 0);
        assert_eq!(b.ends(0), Some((Price(4_900), Price(5_100))));
        assert!(b.holds(Price(4_900), 0) && b.holds(Price(5_100), 0));
        assert!(!b.holds(Price(4_899), 0) && !b.holds(Price(5_101), 0));
        // Shorts and longs alike: the band is symmetric, the size's sign doesn't matter.
        assert_eq!(SafeBand::around(Price(5_000), Qty(-10), Quote(1_010_000_002), 1_000_000, Rate(1_000_000), 0), b);
    }

    #[test]
    fn the_cost_of_a_tick_is_rounded_up_to_the_micro_unit_so_the_band_only_narrows() {
        // 10 lots at 1 micro-unit a tick-lot: 10.1 µ a tick, counted as 11: 1,010 µ of
        // headroom is 91 ticks, not 100.
        let b = SafeBand::around(Price(5_000), Qty(10), Quote(1_012), 1, Rate(1_000_000), 0);
        assert_eq!(b.ends(0), Some((Price(4_909), Price(5_091))));
    }

    #[test]
    fn too_little_headroom_gives_no_band() {
        assert_eq!(SafeBand::around(Price(5_000), Qty(10), Quote(1), 1, Rate(0), 0), SafeBand::NONE);
        assert_eq!(SafeBand::around(Price(5_000), Qty(10), Quote(-5), 1, Rate(0), 0), SafeBand::NONE);
        assert!(!SafeBand::NONE.holds(Price(5_000), 0));
        assert_eq!(SafeBand::NONE.ends(0), None);
        // Headroom of 2 to 11: a band of the mark alone.
        let b = SafeBand::around(Price(5_000), Qty(10), Quote(11), 1, Rate(0), 0);
        assert_eq!(b.ends(0), Some((Price(5_000), Price(5_000))));
    }

    #[test]
    fn a_band_reads_narrower_as_the_side_shrinks() {
        // Computed when the side's shrink was 7: read at 7 it is as computed, 3 ticks later
        // it is 3 ticks narrower at both ends, and it empties once the shrink passes its half.
        let b = SafeBand::around(Price(5_000), Qty(10), Quote(1_010_000_002), 1_000_000, Rate(1_000_000), 7);
        assert_eq!(b.ends(7), Some((Price(4_900), Price(5_100))));
        assert_eq!(b.ends(10), Some((Price(4_903), Price(5_097))));
        assert!(!b.holds(Price(4_902), 10));
        assert_eq!(b.ends(107), Some((Price(5_000), Price(5_000))));
        assert_eq!(b.ends(108), None);
    }

    #[test]
    fn the_funding_shrink_covers_the_largest_payment_a_lot_can_make() {
        // Mark 5,000 ticks, 1 micro-unit a tick-lot, 0.01 % funding: a lot pays at most
        // ⌈5,000 × 0.0001⌉ = 1 micro-unit, and 1 + 1 (rounding) over 1.01 a tick is 2 ticks.
        assert_eq!(funding_shrink(Price(5_000), 1, Rate(10_000), Rate(1_000_000)), 2);
        // A negative rate shrinks the shorts' side by as much.
        assert_eq!(funding_shrink(Price(5_000), 1, Rate(-10_000), Rate(1_000_000)), 2);
        // Zero funding still allows for the rounding of a zero payment: one tick.
        assert_eq!(funding_shrink(Price(5_000), 1, Rate(0), Rate(0)), 1);
    }

    #[test]
    fn positions_sharing_a_unit_share_what_is_left_of_its_headroom() {
        // A lone position spends all of it (less the 2 `around` keeps back).
        assert_eq!(shared_headroom(Quote(1_000), 1), Quote(1_000));
        // Two: (1,000 − 3) / 2 = 498, plus the 2 kept back: each spends 498, 996 ≤ 1,000 − 3.
        assert_eq!(shared_headroom(Quote(1_000), 2), Quote(500));
        // Four: ⌊995 / 4⌋ = 248 each, 992 ≤ 995.
        assert_eq!(shared_headroom(Quote(1_000), 4), Quote(250));
        // Too little to share: a negative spendable part, so `around` gives no band.
        assert_eq!(shared_headroom(Quote(2), 2), Quote(1));
        assert_eq!(
            SafeBand::around(Price(5_000), Qty(10), shared_headroom(Quote(2), 2), 1, Rate(0), 0),
            SafeBand::NONE
        );
        // Never more in all than the unit can spend.
        for h in 0..200 {
            for n in 1..=MAX_SHARED_POSITIONS {
                let spend = (shared_headroom(Quote(h), n).0 - 2).max(0) * n as i64;
                assert!(spend <= (h - n as i64 - 1).max(0), "h {h} n {n}");
            }
        }
    }

    #[test]
    fn a_band_never_reaches_a_notional_that_does_not_fit() {
        let b = SafeBand::around(Price(1 << 40), Qty(1 << 20), Quote(i64::MAX), 1, Rate(0), 0);
        assert_eq!(b, SafeBand::NONE);
        // Nor below a price of 1.
        let b = SafeBand::around(Price(10), Qty(1), Quote(1_000), 1, Rate(0), 0);
        assert_eq!(b.ends(0), Some((Price(1), Price(1_008))));
    }
}
