//! Stop and take-profit orders: orders held outside the book until a reference price crosses
//! their trigger, then placed as a market or limit order.
//!
//! | kind | buy triggers when | sell triggers when | typical use |
//! |------|-------------------|--------------------|-------------|
//! | stop (stop-loss, breakout) | reference ≥ trigger | reference ≤ trigger | cut a loss, chase a move |
//! | take-profit | reference ≤ trigger | reference ≥ trigger | bank a gain |
//!
//! The reference is the market's mark price or its last trade price, chosen per order. A stop
//! whose condition already holds when it is placed is refused (it would trigger at once; send the
//! plain order instead). Untriggered stops reserve no margin; margin, reduce-only and every other
//! order check run when they trigger, and a triggered order that fails them is cancelled with
//! `trigger_rejected`. Triggers are evaluated after each command, in stop id order (placement
//! order), at most `EngineConfig::max_stop_triggers_per_command` per command; the rest stay armed
//! and go first in the next command.

use std::collections::{BTreeMap, BTreeSet};

use crate::book::Side;
use crate::command::{StpMode, TimeInForce};
use crate::ids::{AccountId, ClientOrderId, OrderId};
use crate::num::{Price, Qty, Timestamp};

/// What a stop becomes when it triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopKind {
    /// Stop-loss market: a market order.
    StopMarket,
    /// Stop-loss limit: a limit order at `price`.
    StopLimit {
        /// Limit price of the triggered order.
        price: Price,
        /// Its time in force.
        tif: TimeInForce,
    },
    /// Take-profit market.
    TakeProfitMarket,
    /// Take-profit limit.
    TakeProfitLimit {
        /// Limit price of the triggered order.
        price: Price,
        /// Its time in force.
        tif: TimeInForce,
    },
}

impl StopKind {
    /// Whether this is a take-profit (triggers on a move in the position's favour).
    #[must_use]
    pub const fn is_take_profit(self) -> bool {
        matches!(self, Self::TakeProfitMarket | Self::TakeProfitLimit { .. })
    }

    /// The limit price and time in force of the triggered order, if it is a limit.
    #[must_use]
    pub const fn limit(self) -> Option<(Price, TimeInForce)> {
        match self {
            Self::StopLimit { price, tif } | Self::TakeProfitLimit { price, tif } => Some((price, tif)),
            Self::StopMarket | Self::TakeProfitMarket => None,
        }
    }
}

/// Which price a stop watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerBy {
    /// The mark price (robust to a single trade; the default).
    Mark,
    /// The last trade price in this market.
    Last,
}

/// A stop waiting for its trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopOrder {
    /// Its id (from the order id space; the triggered order keeps it).
    pub id: OrderId,
    /// Owner.
    pub account: AccountId,
    /// Side of the triggered order.
    pub side: Side,
    /// What it becomes.
    pub kind: StopKind,
    /// The trigger price.
    pub trigger: Price,
    /// The reference it watches.
    pub trigger_by: TriggerBy,
    /// Size of the triggered order.
    pub qty: Qty,
    /// Whether the triggered order is reduce-only.
    pub reduce_only: bool,
    /// Self-trade prevention mode of the triggered order.
    pub stp: StpMode,
    /// Client id (held from placement).
    pub client_id: Option<ClientOrderId>,
    /// When it was placed.
    pub placed_at: Timestamp,
}

/// Whether a stop on `side` of `kind` with `trigger` fires at `reference`.
#[must_use]
pub fn is_triggered(side: Side, take_profit: bool, trigger: Price, reference: Price) -> bool {
    // A stop buys on the way up and sells on the way down; a take-profit the reverse.
    match (side, take_profit) {
        (Side::Buy, false) | (Side::Sell, true) => reference >= trigger,
        (Side::Sell, false) | (Side::Buy, true) => reference <= trigger,
    }
}

/// Which way a stop's reference must move to fire it: up to its trigger (a buy stop, a sell
/// take-profit: `reference ≥ trigger`) or down to it (a sell stop, a buy take-profit).
const fn fires_upwards(side: Side, take_profit: bool) -> bool {
    matches!((side, take_profit), (Side::Buy, false) | (Side::Sell, true))
}

/// A market's armed stops: by id, and indexed by trigger price for each reference and
/// direction, so that the check after every command ("has any stop fired?") reads the lowest
/// upward and the highest downward trigger of each reference instead of every stop.
///
/// Why: the check ran over all armed stops after every command. With 1 % of the commands
/// placing stops (the `engine_mix` bench), the index took 7 % off the engine's instructions
/// (2,895 → 2,695 a command, callgrind), and the walk grew with the number armed: 100,000
/// armed stops would have cost 100,000 checks per command. Figures: docs/PERFORMANCE.md
/// ("… stops by trigger (session 5)").
#[derive(Debug, Clone, Default)]
pub struct ArmedStops {
    by_id: BTreeMap<OrderId, StopOrder>,
    /// `[reference][direction]` → (trigger, id): reference 0 mark, 1 last; direction 0 fires
    /// upwards (`reference ≥ trigger`), 1 downwards (`reference ≤ trigger`).
    triggers: [[BTreeSet<(Price, OrderId)>; 2]; 2],
    /// Each account's stop ids, ascending: the per-account limit and the cancellations of one
    /// account's stops (cancel-all, liquidation, ADL) read these instead of every armed stop.
    by_account: BTreeMap<AccountId, BTreeSet<OrderId>>,
    /// The references (mark, last) at which the last check found nothing fired, until a stop
    /// is armed: while they don't move nothing can fire (a stop that would fire at once is
    /// refused when placed), so [`ArmedStops::check`] answers without looking. Most commands
    /// move neither price. Derived: not state, not compared.
    quiet_at: Option<(Option<Price>, Option<Price>)>,
}

/// The stops, not what was last checked.
impl PartialEq for ArmedStops {
    fn eq(&self, other: &Self) -> bool {
        self.by_id == other.by_id && self.triggers == other.triggers && self.by_account == other.by_account
    }
}

impl Eq for ArmedStops {}

impl ArmedStops {
    fn slot(s: &StopOrder) -> (usize, usize) {
        let by = match s.trigger_by {
            TriggerBy::Mark => 0,
            TriggerBy::Last => 1,
        };
        (by, usize::from(!fires_upwards(s.side, s.kind.is_take_profit())))
    }

    /// Arms `stop` (its id must be new).
    pub(crate) fn insert(&mut self, stop: StopOrder) {
        self.quiet_at = None;
        let (by, dir) = Self::slot(&stop);
        self.triggers[by][dir].insert((stop.trigger, stop.id));
        self.by_account.entry(stop.account).or_default().insert(stop.id);
        let previous = self.by_id.insert(stop.id, stop);
        debug_assert!(previous.is_none(), "stop armed twice");
    }

    /// Disarms stop `id`, returning it.
    pub(crate) fn remove(&mut self, id: &OrderId) -> Option<StopOrder> {
        let stop = self.by_id.remove(id)?;
        let (by, dir) = Self::slot(&stop);
        self.triggers[by][dir].remove(&(stop.trigger, stop.id));
        if let Some(ids) = self.by_account.get_mut(&stop.account) {
            ids.remove(&stop.id);
            if ids.is_empty() {
                self.by_account.remove(&stop.account);
            }
        }
        Some(stop)
    }

    /// The first stop, by id, that fires at these references, with the reference it fired at.
    /// The same stop as checking every stop in id order with [`is_triggered`].
    #[must_use]
    pub fn first_fired(&self, mark: Option<Price>, last: Option<Price>) -> Option<(OrderId, Price)> {
        let mut first: Option<(OrderId, Price)> = None;
        if self.by_id.is_empty() {
            return None;
        }
        for (by, reference) in [mark, last].into_iter().enumerate() {
            let Some(r) = reference else { continue };
            let [up, down] = &self.triggers[by];
            // Nothing fired unless the lowest upward or the highest downward trigger did: the
            // common case, answered without building a range.
            if up.first().is_none_or(|(t, _)| *t > r) && down.last().is_none_or(|(t, _)| *t < r) {
                continue;
            }
            let fired_up = up.range(..=(r, OrderId(u64::MAX))).map(|(_, id)| *id);
            let fired_down = down.range((r, OrderId(0))..).map(|(_, id)| *id);
            if let Some(id) = fired_up.chain(fired_down).min() {
                if first.is_none_or(|(f, _)| id < f) {
                    first = Some((id, r));
                }
            }
        }
        first
    }

    /// [`ArmedStops::first_fired`] for the check after a command: when neither reference has
    /// moved since a check that found nothing, and no stop was armed since, nothing has fired.
    pub(crate) fn check(&mut self, mark: Option<Price>, last: Option<Price>) -> Option<(OrderId, Price)> {
        if self.by_id.is_empty() || self.quiet_at == Some((mark, last)) {
            return None;
        }
        let fired = self.first_fired(mark, last);
        self.quiet_at = fired.is_none().then_some((mark, last));
        fired
    }

    /// How many stops `account` has armed here.
    #[must_use]
    pub fn count_of(&self, account: AccountId) -> usize {
        self.by_account.get(&account).map_or(0, BTreeSet::len)
    }

    /// The ids of `account`'s armed stops, ascending.
    #[must_use]
    pub fn ids_of(&self, account: AccountId) -> Vec<OrderId> {
        self.by_account.get(&account).map_or_else(Vec::new, |ids| ids.iter().copied().collect())
    }

    /// The stop `id`.
    #[must_use]
    pub fn get(&self, id: &OrderId) -> Option<&StopOrder> {
        self.by_id.get(id)
    }

    /// Whether stop `id` is armed.
    #[must_use]
    pub fn contains_key(&self, id: &OrderId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Number of armed stops.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none is armed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The armed stops in id order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &StopOrder> + ExactSizeIterator {
        self.by_id.values()
    }

    /// Their ids, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &OrderId> + ExactSizeIterator {
        self.by_id.keys()
    }

    /// Checks that the trigger index holds exactly the armed stops.
    ///
    /// # Errors
    /// A description of the first difference.
    pub fn check_index(&self) -> Result<(), String> {
        let indexed: usize = self.triggers.iter().flatten().map(BTreeSet::len).sum();
        if indexed != self.by_id.len() {
            return Err(format!("{indexed} stops in the trigger index, {} armed", self.by_id.len()));
        }
        for s in self.by_id.values() {
            let (by, dir) = Self::slot(s);
            if !self.triggers[by][dir].contains(&(s.trigger, s.id)) {
                return Err(format!("stop {} is armed but missing from the trigger index", s.id));
            }
            if !self.by_account.get(&s.account).is_some_and(|ids| ids.contains(&s.id)) {
                return Err(format!("stop {} is armed but missing from its account's list", s.id));
            }
        }
        let listed: usize = self.by_account.values().map(BTreeSet::len).sum();
        if listed != self.by_id.len() || self.by_account.values().any(BTreeSet::is_empty) {
            return Err(format!("{listed} stops in the accounts' lists, {} armed", self.by_id.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_follow_the_move_take_profits_meet_it() {
        let p = Price;
        // A long's stop-loss sells when the price falls to the trigger.
        assert!(is_triggered(Side::Sell, false, p(95), p(95)));
        assert!(!is_triggered(Side::Sell, false, p(95), p(96)));
        // A long's take-profit sells when the price rises to the trigger.
        assert!(is_triggered(Side::Sell, true, p(110), p(111)));
        assert!(!is_triggered(Side::Sell, true, p(110), p(109)));
        // A short's stop-loss buys on the way up, its take-profit on the way down.
        assert!(is_triggered(Side::Buy, false, p(105), p(105)));
        assert!(is_triggered(Side::Buy, true, p(90), p(89)));
        assert!(!is_triggered(Side::Buy, true, p(90), p(91)));
    }

    proptest::proptest! {
        /// The trigger index finds the same stop, at the same reference, as checking every
        /// armed stop in id order, after any arming and disarming.
        #[test]
        fn the_first_fired_stop_is_the_one_a_full_scan_finds(
            stops in proptest::collection::vec((0u8..8, 90i64..110, proptest::bool::ANY), 0..40),
            removed in proptest::collection::vec(0u64..40, 0..10),
            mark in proptest::option::of(85i64..115),
            last in proptest::option::of(85i64..115),
        ) {
            let mut armed = ArmedStops::default();
            for (i, (shape, trigger, by_mark)) in stops.iter().enumerate() {
                let kind = if shape & 1 == 0 { StopKind::StopMarket } else { StopKind::TakeProfitMarket };
                armed.insert(StopOrder {
                    id: OrderId(i as u64),
                    account: AccountId(u64::from(shape >> 2)),
                    side: if shape & 2 == 0 { Side::Buy } else { Side::Sell },
                    kind,
                    trigger: Price(*trigger),
                    trigger_by: if *by_mark { TriggerBy::Mark } else { TriggerBy::Last },
                    qty: Qty(1),
                    reduce_only: false,
                    stp: StpMode::ExpireTaker,
                    client_id: None,
                    placed_at: Timestamp(0),
                });
            }
            for id in &removed {
                armed.remove(&OrderId(*id));
            }
            proptest::prop_assert!(armed.check_index().is_ok());
            let (mark, last) = (mark.map(Price), last.map(Price));
            let scan = armed.values().find_map(|s| {
                let r = match s.trigger_by { TriggerBy::Mark => mark, TriggerBy::Last => last }?;
                is_triggered(s.side, s.kind.is_take_profit(), s.trigger, r).then_some((s.id, r))
            });
            proptest::prop_assert_eq!(armed.first_fired(mark, last), scan);
            for account in 0..2 {
                let listed: Vec<OrderId> =
                    armed.values().filter(|s| s.account == AccountId(account)).map(|s| s.id).collect();
                proptest::prop_assert_eq!(armed.count_of(AccountId(account)), listed.len());
                proptest::prop_assert_eq!(armed.ids_of(AccountId(account)), listed);
            }
        }
    }
}
