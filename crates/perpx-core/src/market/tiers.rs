//! Finding a position's margin bracket.

use super::MarginTier;
use crate::num::Quote;

/// The bracket whose range `(previous cap, max_notional]` holds `notional`; notionals above the
/// last cap use the last bracket (orders that would create them are refused by the margin check
/// once leverage is enforced, so this is only reached by the mark moving).
#[must_use]
pub fn tier_for_notional(tiers: &[MarginTier], notional: Quote) -> &MarginTier {
    let i = tiers.partition_point(|t| t.max_notional < notional);
    &tiers[i.min(tiers.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::{Quote, Rate};

    #[test]
    fn bracket_edges_are_inclusive_at_the_top() {
        let t = |cap: i64, lev: u32| MarginTier {
            max_notional: Quote(cap),
            max_leverage: lev,
            maintenance_rate: Rate(1),
            maintenance_amount: Quote(0),
        };
        let tiers = [t(100, 50), t(200, 20), t(300, 10)];
        assert_eq!(tier_for_notional(&tiers, Quote(0)).max_leverage, 50);
        assert_eq!(tier_for_notional(&tiers, Quote(100)).max_leverage, 50);
        assert_eq!(tier_for_notional(&tiers, Quote(101)).max_leverage, 20);
        assert_eq!(tier_for_notional(&tiers, Quote(300)).max_leverage, 10);
        assert_eq!(tier_for_notional(&tiers, Quote(10_000)).max_leverage, 10);
    }
}
