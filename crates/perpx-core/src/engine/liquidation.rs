//! The liquidation pipeline and the default waterfall (step 4 of every command).
//!
//! `docs/LIQUIDATION.md` explains it with a diagram and worked numbers. In short:
//!
//! 1. **Who is checked**: every holder of a market whose mark moved (or whose tiers changed),
//!    every funding payer left below maintenance, and every account whose position or
//!    collateral changed in this command. A *unit* is an account's cross positions, or one isolated position; it is
//!    underwater when `equity < MM`.
//! 2. **Queue**: an underwater unit joins a FIFO queue, its orders and stops are cancelled, and
//!    the account is cancel-only until its turn. At most `max_liquidations_per_pass` units are
//!    worked per command; the server injects `tick`s until the queue drains.
//! 3. **Close**, largest MM first: the smallest partial close that leaves `equity ≥ MM × (1 +
//!    buffer)` after slippage and fee, through the book with an IOC limited at the bankruptcy
//!    price; if none does, the whole position: the book, then registered **backstop**
//!    liquidators at `mark ∓ discount` (only the size whose gap to `B` the funds can pay now),
//!    then **ADL** of winners at `B` ([`super::adl`]).
//! 4. **Fee** into the market's insurance fund, capped; a deficit of a closed-out unit is paid by
//!    the insurance fund, then the guaranty fund, and what is left is recorded as `uncovered`.

use std::collections::BTreeSet;
use std::collections::hash_map::Entry;
use std::ops::Bound;

use rustc_hash::FxHashMap;

use super::matching::{Settle, Taker};
use super::{Engine, Out};
use crate::account::{Account, MarginMode, Position};
use crate::book::Side;
use crate::command::StpMode;
use crate::event::{CancelReason, EventKind, FundRef, LiquidationOutcome, LiquidationScope};
use crate::ids::{AccountId, MarketId};
use crate::market::{InsurancePolicy, MAX_SHARED_POSITIONS, Market, SafeBand, shared_headroom};
use crate::num::{Price, Qty, Quote, div_rem};
use crate::risk::liquidation::{BankruptcyPrice, buffered_maintenance, liquidation_fee};
use crate::risk::margin::{covers_maintenance, maintenance_margin, notional};

/// Sorts account ids ascending: a radix sort for many (linear, and only over the bytes in
/// which the ids differ), the standard sort for a few, for which the radix sort's histogram
/// passes and scratch vector are not worth it (the threshold is a round guess, not tuned: the
/// case measured is a mark move's 100,000 holders).
fn sort_account_ids(ids: &mut [AccountId]) {
    const RADIX_MIN: usize = 256;
    if ids.len() >= RADIX_MIN {
        radsort::sort_by_key(ids, |id| id.0);
    } else {
        ids.sort_unstable();
    }
}

/// `(equity, maintenance margin)` of a unit.
type Figures = (Quote, Quote);

/// The pass checks its candidates in one walk over the accounts when there are at least this
/// many and they are at least a quarter of the accounts; otherwise by lookup.
const DENSE_CHECK_MIN: usize = 1_024;

/// The units in the liquidation queue, for lookups: whether a unit is queued, and whether an
/// account has any unit queued (it is then cancel-only). A hash map by account of one of its
/// queued scopes, and an ordered set of the others (an account with several units queued at
/// once: its cross positions and an isolated one, or two isolated ones; rare, and almost always
/// empty). Never iterated on a hot path: nothing about its order reaches an output.
///
/// Measured: as a `BTreeSet<(AccountId, LiquidationScope)>` of the 85,000 queued units of the
/// liquidation benchmark, its insert, remove and per-account range were 11 % of the cascade's
/// instructions; with hash sets (and no allocation per unit) the cascade went from 1,286 M to
/// 1,129 M instructions (callgrind; docs/PERFORMANCE.md, "Liquidation cascade"). Those were
/// two sets, the units and a count per account, so every insert probed two tables and every
/// removal three, each probe a likely cache miss among 85,000 entries: in a `perf` profile of
/// the cascade, the probes of the removal inlined into the pass were most of a fifth of its
/// samples. One map by account probes once per insert or removal (docs/PERFORMANCE.md,
/// "Session 17").
///
/// Why one scope in the map and the rest beside it: the map's entry is then 16 bytes (the id
/// and one 8-byte scope), where a small vector of the scopes made it 32, so the 85,000 queued
/// accounts of a 30 % gap take a table of 131,072 buckets of 2.1 MB instead of 4.2 MB, probed
/// at random once a unit is queued and again when it is liquidated (about the 2 MiB of one
/// core's L2 on the reference machine, not twice it; docs/PERFORMANCE.md, "Session 24").
#[derive(Debug, Clone, Default)]
pub(crate) struct QueuedUnits {
    /// One queued scope of each account with any.
    by_account: FxHashMap<AccountId, LiquidationScope>,
    /// The other queued scopes of accounts with more than one.
    more: BTreeSet<(AccountId, LiquidationScope)>,
}

impl QueuedUnits {
    /// The set of `units` (a unit listed twice counts once: compare `len` with the count).
    pub(crate) fn of(units: impl Iterator<Item = (AccountId, LiquidationScope)>) -> Self {
        let mut set = Self::default();
        for unit in units {
            set.insert(unit);
        }
        set
    }

    /// Room for `n` more accounts without growing.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.by_account.reserve(n);
    }

    /// Adds a unit; false if it was there.
    pub(crate) fn insert(&mut self, (account, scope): (AccountId, LiquidationScope)) -> bool {
        match self.by_account.entry(account) {
            // Almost always: the account's first queued unit.
            Entry::Vacant(v) => {
                v.insert(scope);
                true
            }
            Entry::Occupied(first) if *first.get() == scope => false,
            Entry::Occupied(_) => self.more.insert((account, scope)),
        }
    }

    /// Removes a unit; false if it wasn't there. When the scope in the map leaves and the
    /// account has others queued, the lowest of them takes its place.
    pub(crate) fn remove(&mut self, (account, scope): (AccountId, LiquidationScope)) -> bool {
        let Entry::Occupied(mut first) = self.by_account.entry(account) else { return false };
        if *first.get() != scope {
            return self.more.remove(&(account, scope));
        }
        let next = self.more.range((account, LiquidationScope::Cross)..).next().filter(|(a, _)| *a == account).copied();
        match next {
            Some(unit) => {
                self.more.remove(&unit);
                first.insert(unit.1);
            }
            None => {
                first.remove();
            }
        }
        true
    }

    pub(crate) fn contains(&self, (account, scope): (AccountId, LiquidationScope)) -> bool {
        match self.by_account.get(&account) {
            Some(first) => *first == scope || (!self.more.is_empty() && self.more.contains(&(account, scope))),
            None => false,
        }
    }

    /// Whether any unit of `account` is queued.
    pub(crate) fn has_account(&self, account: AccountId) -> bool {
        self.by_account.contains_key(&account)
    }

    /// How many units are queued.
    pub(crate) fn len(&self) -> usize {
        self.by_account.len() + self.more.len()
    }
}

/// The same units, whichever of an account's scopes each holds in its map (that depends on
/// the order they came and left in).
impl PartialEq for QueuedUnits {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.by_account.iter().all(|(a, s)| other.contains((*a, *s)))
            && self.more.iter().all(|unit| other.contains(*unit))
    }
}

impl Eq for QueuedUnits {}

/// Equity and maintenance margin of one of `a`'s units at the markets' current marks: the
/// figures [`Engine::unit_figures`] gives, as a function of the account alone, so that a
/// controller holding the account (funding settlement) can check it where it stands.
pub(crate) fn unit_figures_of(markets: &[Market], a: &Account, scope: LiquidationScope) -> Option<Figures> {
    match scope {
        LiquidationScope::Cross => cross_figures_of(markets, a),
        LiquidationScope::Isolated(id) => {
            let p = a.positions.get(&id)?;
            let m = markets.get(id.index())?;
            if a.mode(id) != MarginMode::Isolated || p.size.0 == 0 {
                return None;
            }
            lone_position_figures(m, m.mark?, p, p.isolated_margin)
        }
    }
}

/// The figures of a unit whose only position is `p` and whose cash is `balance` (an isolated
/// position and its margin, or a cross account in one market and its collateral):
/// `(balance + upnl, MM)`; `None` if a figure doesn't fit.
pub(crate) fn lone_position_figures(m: &Market, mark: Price, p: &Position, balance: Quote) -> Option<Figures> {
    let (upnl, mm) = position_figures(m, mark, p)?;
    Some((balance.checked_add(upnl).ok()?, mm))
}

/// Whether a unit whose only position is `p` and whose cash is `balance` stands at or above
/// maintenance at `mark` (`false` if a figure doesn't fit): [`lone_position_figures`]'s
/// `equity ≥ MM`, without computing MM when the equity clearly covers it
/// ([`covers_maintenance`]).
#[inline]
pub(crate) fn lone_position_covers_maintenance(m: &Market, mark: Price, p: &Position, balance: Quote) -> bool {
    let Some((upnl, n)) = upnl_and_notional(p.size.0, mark.0, m.quote_per_tick_lot, p.cost_basis.0) else {
        return false;
    };
    balance
        .checked_add(Quote(upnl))
        .is_ok_and(|equity| covers_maintenance(&m.spec.tiers, Quote(n), equity) == Some(true))
}

/// One position's unrealised PnL and maintenance margin at `mark`, both from its signed
/// notional `v = size × mark × q`: `upnl = v − cost basis`, `MM = maintenance(|v|)`
/// ([`crate::risk::position::unrealized_pnl`], [`notional`], [`maintenance_margin`] with the
/// product taken once); `None` if a figure doesn't fit.
pub(crate) fn position_figures(m: &Market, mark: Price, p: &Position) -> Option<Figures> {
    let (upnl, n) = upnl_and_notional(p.size.0, mark.0, m.quote_per_tick_lot, p.cost_basis.0)?;
    Some((Quote(upnl), maintenance_margin(&m.spec.tiers, Quote(n)).ok()?))
}

/// `(v − cost, |v|)` for `v = size × mark × q`, or `None` if either doesn't fit an `i64`.
///
/// In `i64` with checked steps, not through an `i128` product: with `q ≥ 1` (a market's
/// `quote_per_tick_lot` is at least one micro-unit) a step overflows only when `|v|` itself
/// doesn't fit, so the answer is the wide computation's (a test compares them). Every
/// position valued in a liquidation check comes here (docs/PERFORMANCE.md, "Session 19").
#[inline]
fn upnl_and_notional(size: i64, mark: i64, q: i64, cost: i64) -> Option<(i64, i64)> {
    debug_assert!(q >= 1, "quote_per_tick_lot is at least one micro-unit");
    let v = size.checked_mul(mark)?.checked_mul(q)?;
    Some((v.checked_sub(cost)?, v.checked_abs()?))
}

/// Calls `found` with each unit of `a` below maintenance and its figures: its cross positions
/// (or a negative cross balance with no position left), then each isolated position, in
/// market order.
fn underwater_units_of(markets: &[Market], a: &Account, found: impl FnMut(LiquidationScope, Figures)) {
    check_units_of(markets, a, found, |_, _, _| {});
}

/// [`underwater_units_of`], and `band` with the safe band of each of `a`'s positions, `(market,
/// side, band)`, from the same figures: a position of a unit at or above maintenance gets the
/// band around its mark ([`SafeBand::around`]) with the whole headroom if it is its unit's only
/// one, with a share of it if it is one of at most [`MAX_SHARED_POSITIONS`] cross positions
/// ([`shared_headroom`]); every other position gets [`SafeBand::NONE`] (re-checked at every
/// move).
fn check_units_of(
    markets: &[Market],
    a: &Account,
    mut found: impl FnMut(LiquidationScope, Figures),
    mut band: impl FnMut(MarketId, usize, SafeBand),
) {
    let cross_positions = a.positions.iter().filter(|(m, p)| p.size.0 != 0 && a.mode(**m) == MarginMode::Cross).count();
    let cross = cross_figures_of(markets, a);
    if let Some((e, mm)) = cross {
        if e < mm {
            found(LiquidationScope::Cross, (e, mm));
        }
    }
    for (mid, p) in &a.positions {
        if p.size.0 == 0 {
            continue;
        }
        let m = &markets[mid.index()];
        let figures = if a.mode(*mid) == MarginMode::Isolated {
            let figures = m.mark.and_then(|mark| lone_position_figures(m, mark, p, p.isolated_margin));
            if let Some((e, mm)) = figures {
                if e < mm {
                    found(LiquidationScope::Isolated(*mid), (e, mm));
                }
            }
            figures
        } else if cross_positions <= MAX_SHARED_POSITIONS {
            cross
        } else {
            None
        };
        let side = usize::from(p.size.0 < 0);
        let shares = if a.mode(*mid) == MarginMode::Isolated { 1 } else { cross_positions };
        let b = match (figures, m.mark) {
            (Some((e, mm)), Some(mark)) if e >= mm => SafeBand::around(
                mark,
                p.size,
                shared_headroom(Quote(e.0 - mm.0), shares),
                m.quote_per_tick_lot,
                m.max_maintenance_rate(),
                m.band_shrink[side],
            ),
            _ => SafeBand::NONE,
        };
        band(*mid, side, b);
    }
}

/// [`Engine::unit_cash`] on the account in hand.
fn unit_cash_of(a: &Account, scope: LiquidationScope) -> Quote {
    match scope {
        LiquidationScope::Cross => a.collateral,
        LiquidationScope::Isolated(m) => a.position(m).isolated_margin,
    }
}

/// The open position of `a`'s unit with the largest maintenance requirement (ties: lowest
/// market id), with its mark.
fn next_to_close_of(markets: &[Market], a: &Account, scope: LiquidationScope) -> Option<(MarketId, Price)> {
    let mut best: Option<(Quote, MarketId, Price)> = None;
    for (mid, p) in &a.positions {
        let in_scope = match scope {
            LiquidationScope::Cross => a.mode(*mid) == MarginMode::Cross,
            LiquidationScope::Isolated(m) => *mid == m,
        };
        let m = &markets[mid.index()];
        let (true, false, Some(mark)) = (in_scope, p.size.0 == 0, m.mark) else { continue };
        let n = notional(m.quote_per_tick_lot, p.size, mark).unwrap_or(Quote(i64::MAX));
        let mm = maintenance_margin(&m.spec.tiers, n).unwrap_or(Quote(i64::MAX));
        if best.is_none_or(|(b, _, _)| mm > b) {
            best = Some((mm, *mid, mark));
        }
    }
    best.map(|(_, m, mark)| (m, mark))
}

/// Equity and MM of an account's cross positions at current marks: the figures of
/// [`Engine::margin`] without its IM. They come from the positions alone — open orders change
/// the IM, never equity or MM — so that an order whose figures overflow at an absurd mark in
/// another market can't hide an account below maintenance from the pass and the invariants.
/// (Found by `perpx-check`'s simulation, seed 2620: with a mark of `i64::MAX` in a market
/// where it only had an order, an account underwater in another market was never queued.)
///
/// It walks the account's own positions (one map entry for most accounts), not every market.
fn cross_figures_of(markets: &[Market], a: &Account) -> Option<Figures> {
    let (mut upnl, mut mm) = (0i128, 0i128);
    for (id, p) in &a.positions {
        if p.size.0 == 0 || a.mode(*id) == MarginMode::Isolated {
            continue;
        }
        let m = &markets[id.index()];
        let Some(mark) = m.mark else { continue };
        let (u, n) = position_figures(m, mark, p)?;
        upnl += i128::from(u.0);
        mm += i128::from(n.0);
    }
    let equity = i64::try_from(i128::from(a.collateral.0) + upnl).ok()?;
    Some((Quote(equity), Quote(i64::try_from(mm).ok()?)))
}

impl Engine {
    /// Whether any unit of the account is queued or being liquidated (it is then cancel-only).
    #[must_use]
    pub fn in_liquidation(&self, account: AccountId) -> bool {
        self.liq_queued.has_account(account)
    }

    /// Refuses what a cancel-only account may not do.
    pub(crate) fn check_not_liquidating(&self, account: AccountId) -> Result<(), crate::reject::RejectReason> {
        if self.in_liquidation(account) {
            return Err(crate::reject::RejectReason::AccountInLiquidation);
        }
        Ok(())
    }

    /// The liquidation queue, front first.
    pub fn liquidation_queue(&self) -> impl Iterator<Item = &(AccountId, LiquidationScope)> {
        self.liq_queue.iter()
    }

    /// Registered backstop liquidators.
    #[must_use]
    pub fn liquidators(&self) -> &BTreeSet<AccountId> {
        &self.liquidators
    }

    /// The estimated liquidation price of a position: the mark of its market at which its unit's
    /// equity would meet its maintenance margin, every other position and mark unchanged, in the
    /// position's current tier. For a long `p = (MM_o − a − E₀ + s·q·m₀) / (s·q·(1 − r))`, for a
    /// short `p = (E₀ + s·q·m₀ − MM_o + a) / (s·q·(1 + r))` (`s` lots, `q` per tick-lot, `m₀` the
    /// mark, `E₀` the unit's equity, `MM_o` the maintenance of its other positions, `r` and `a`
    /// the tier's rate and amount), rounded to the tick on the safe side (up for a long, down for
    /// a short). `None` without a position or a mark, or if no positive price liquidates it.
    #[must_use]
    pub fn liquidation_price(&self, account: AccountId, market: MarketId) -> Option<Price> {
        let a = self.accounts.get(&account)?;
        let p = a.position(market);
        let m = self.markets.get(market.index())?;
        let mark = m.mark?;
        if p.size.0 == 0 {
            return None;
        }
        let scope = match a.mode(market) {
            MarginMode::Cross => LiquidationScope::Cross,
            MarginMode::Isolated => LiquidationScope::Isolated(market),
        };
        let (equity, mm) = self.unit_figures(account, scope)?;
        let q = i128::from(m.quote_per_tick_lot);
        let n = notional(m.quote_per_tick_lot, p.size, mark).ok()?;
        let tier = crate::market::tier_for_notional(&m.spec.tiers, n);
        let mm_here = maintenance_margin(&m.spec.tiers, n).ok()?;
        let (r, amount) = (i128::from(tier.maintenance_rate.0), i128::from(tier.maintenance_amount.0));
        let s = i128::from(p.size.0.abs());
        let (e0, mm_o, m0) = (i128::from(equity.0), i128::from(mm.0 - mm_here.0), i128::from(mark.0));
        let scale = crate::num::Rate::SCALE;
        let price = if p.size.0 > 0 {
            let num = (mm_o - amount - e0 + s * q * m0) * scale;
            let den = s * q * (scale - r);
            -(-num).div_euclid(den)
        } else {
            let num = (e0 + s * q * m0 - mm_o + amount) * scale;
            let den = s * q * (scale + r);
            num.div_euclid(den)
        };
        i64::try_from(price).ok().filter(|p| *p > 0).map(Price)
    }

    /// Equity and maintenance margin of a unit at current marks; `None` if it can't be valued
    /// (an isolated position that is flat or has no mark).
    pub(crate) fn unit_figures(&self, account: AccountId, scope: LiquidationScope) -> Option<Figures> {
        unit_figures_of(&self.markets, self.accounts.get(&account)?, scope)
    }

    /// The units of an account below maintenance: its cross positions (or a negative cross
    /// balance with no position left), then each isolated position, in market order.
    pub(crate) fn underwater_units(&self, id: AccountId) -> Vec<(LiquidationScope, Figures)> {
        let mut units = Vec::new();
        if let Some(a) = self.accounts.get(&id) {
            underwater_units_of(&self.markets, a, |scope, figures| units.push((scope, figures)));
        }
        units
    }

    /// Step 4: one bounded liquidation pass.
    ///
    /// The candidates are a sorted, deduplicated `Vec` (the order a `BTreeSet` gave, without a
    /// tree insert per holder: a mark move over 100,000 holders built a 100,000-node set).
    /// With the figures computed on the account in hand (`unit_figures_of`), this took the
    /// liquidation benchmark's cascade from 1,823 M to 1,286 M instructions (callgrind;
    /// docs/PERFORMANCE.md, "Liquidation cascade").
    pub(crate) fn liquidation_pass(&mut self, out: &mut Out<'_>) {
        // Most commands: no account changed, no mark moved, nobody queued — nothing to do, and
        // the pass's set-up skipped (with `ClientOrders::prune`'s check inlined, the engine's
        // instructions −4.7 % on the recovery workload; docs/PERFORMANCE.md, "Session 12").
        if !self.accounts.has_unchecked() && self.liq_queue.is_empty() && !self.marks_moved {
            return;
        }
        // The ADL ranking is kept through a cascade, brought up to date from the accounts
        // changed since its last use (`engine/adl.rs`).
        self.start_pass_adl_ranking();
        let mut candidates = Vec::new();
        self.take_changed_accounts(&mut candidates);
        self.take_moved_mark_holders(&mut candidates);
        self.enqueue_underwater(&mut candidates, out);
        let mut budget = self.config.max_liquidations_per_pass;
        self.warm_queue_front(budget as usize);
        while budget > 0 {
            let Some((account, scope)) = self.liq_queue.pop_front() else { break };
            budget -= 1;
            self.liq_queued.remove((account, scope));
            self.liquidate(account, scope, out);
            // Counterparties and deleveraged winners are checked in the same pass.
            self.take_changed_accounts(&mut candidates);
            self.enqueue_underwater(&mut candidates, out);
        }
        self.end_pass_adl_ranking();
    }

    /// Adds to `candidates` the holders of every market whose mark moved since they were
    /// checked (on a move, those whose safe band it leaves; on a first mark or new tiers,
    /// all), and records the mark they are checked at. Nothing when no mark moved: marks
    /// don't move inside the pass, so one call per pass checks them all.
    fn take_moved_mark_holders(&mut self, candidates: &mut Vec<AccountId>) {
        if !std::mem::take(&mut self.marks_moved) {
            return;
        }
        for m in &mut self.markets {
            if m.mark != m.checked_mark {
                let from = candidates.len();
                match (m.checked_mark, m.mark) {
                    // A move: the holders whose safe band it leaves.
                    (Some(_), Some(mark)) => {
                        candidates.extend(m.holders_outside_band(0, mark));
                        candidates.extend(m.holders_outside_band(1, mark));
                    }
                    // The first mark, new tiers: every holder.
                    _ => candidates.extend(m.holders_of(1).chain(m.holders_of(-1))),
                }
                // They come in hash order: sorted here, as one run for the merging sort in
                // `enqueue_underwater`. A large move's holders by radix sort (ids are integers):
                // 100,000 of them took 12.6 M instructions by `sort_unstable`, 2.3 % of the
                // liquidation benchmark's gap (docs/PERFORMANCE.md, "Session 20").
                sort_account_ids(&mut candidates[from..]);
                m.checked_mark = m.mark;
            }
        }
    }

    /// Reads, for the first `n` units of the queue, what working each will reach first: its
    /// queue entry, its account and its positions' safe bands. Nothing is changed.
    ///
    /// Why: each of those is a hash probe into a table of as many entries as there are queued
    /// units or holders, a cache miss each when the pass reaches the unit. One after the other,
    /// the pass waits for each miss; here the probes of all `n` units are independent of each
    /// other, so the processor has several in flight at once, and the pass then finds them
    /// in cache (docs/PERFORMANCE.md, "Session 18" in the liquidation section: measured
    /// about a third less time on the 30 % gap, for 2 % more instructions).
    fn warm_queue_front(&self, n: usize) {
        for &(account, scope) in self.liq_queue.iter().take(n) {
            std::hint::black_box(self.liq_queued.contains((account, scope)));
            let Some(a) = self.accounts.get(&account) else { continue };
            for (mid, p) in a.positions.iter().filter(|(_, p)| p.size.0 != 0) {
                if let Some(m) = self.markets.get(mid.index()) {
                    std::hint::black_box(m.holders[usize::from(p.size.0 < 0)].band(account));
                }
            }
        }
    }

    /// Drops every holder's safe band, so the next mark move re-checks every holder (as the
    /// engine did before the bands): the tests compare the two.
    #[cfg(test)]
    pub(crate) fn forget_safe_bands(&mut self) {
        for m in &mut self.markets {
            m.holders.iter_mut().for_each(|h| h.forget_bands());
        }
    }

    /// Adds to `candidates` every account changed since the last call (every account, after a
    /// mutable walk over them all): see [`crate::account::AccountTable::take_changed`].
    fn take_changed_accounts(&mut self, candidates: &mut Vec<AccountId>) {
        if self.accounts.take_changed(candidates) {
            candidates.extend(self.accounts.keys().copied());
        }
    }

    /// Queues the underwater units of `candidates` (in account order, each once) that aren't
    /// queued yet, cancelling their orders and stops: from here the account is cancel-only.
    /// Sets the safe band of every position of every candidate from the same figures.
    /// Leaves `candidates` empty.
    fn enqueue_underwater(&mut self, candidates: &mut Vec<AccountId>, out: &mut Out<'_>) {
        if candidates.is_empty() {
            // Most commands: no fill, no mark move.
            return;
        }
        // A stable sort: it merges runs, and the candidates are the touched accounts followed
        // by each moved market's holders, already in order (an unstable sort of 100,000
        // holders was 4 % of the liquidation benchmark's instructions).
        candidates.sort();
        candidates.dedup();
        // First every candidate's underwater units (figures come from positions and balances,
        // which the cancellations below don't change), then the queueing in the same order.
        let mut units: Vec<(AccountId, LiquidationScope, Figures)> = Vec::new();
        let mut bands = std::mem::take(&mut self.band_updates);
        if candidates.len() >= DENSE_CHECK_MIN && candidates.len() * 4 >= self.accounts.len() {
            // Most accounts are candidates (a mark move checks every holder): one walk over the
            // accounts in id order instead of a tree descent per candidate, which also reads
            // accounts and positions in the order they sit in memory. Room for a unit and a band
            // a candidate, reserved once: grown from empty, the vectors were re-allocated and
            // copied at every doubling (docs/PERFORMANCE.md, "Session 19").
            units.reserve(candidates.len());
            bands.reserve(candidates.len());
            let mut wanted = candidates.iter().copied().peekable();
            for (id, a) in &self.accounts {
                while wanted.next_if(|w| w < id).is_some() {}
                if wanted.next_if_eq(id).is_some() {
                    check_units_of(
                        &self.markets,
                        a,
                        |scope, f| units.push((*id, scope, f)),
                        |m, side, b| bands.push((*id, m, side, b)),
                    );
                }
                if wanted.peek().is_none() {
                    break;
                }
            }
        } else {
            for &id in candidates.iter() {
                if let Some(a) = self.accounts.get(&id) {
                    check_units_of(
                        &self.markets,
                        a,
                        |scope, f| units.push((id, scope, f)),
                        |m, side, b| bands.push((id, m, side, b)),
                    );
                }
            }
        }
        for (id, m, side, b) in bands.drain(..) {
            self.markets[m.index()].set_safe_band(side, id, b);
        }
        self.band_updates = bands;
        // Room for them all at once: a mark move can queue tens of thousands, and growing the
        // lookups' table step by step moved every entry at each doubling.
        self.liq_queued.reserve(units.len());
        self.liq_queue.reserve(units.len());
        for (id, scope, (equity, mm)) in units {
            if !self.liq_queued.insert((id, scope)) {
                continue;
            }
            self.liq_queue.push_back((id, scope));
            out.push(EventKind::LiquidationQueued {
                account: id,
                scope,
                equity,
                maintenance_margin: mm,
                queue_length: self.liq_queue.len() as u64,
            });
            self.cancel_for_liquidation(id, scope, out);
        }
        candidates.clear();
    }

    /// Cancels the orders and stops a unit's liquidation frees: all of the account's for its
    /// cross positions (collateral backs every order), the market's for an isolated position.
    fn cancel_for_liquidation(&mut self, id: AccountId, scope: LiquidationScope, out: &mut Out<'_>) {
        let markets = match scope {
            LiquidationScope::Cross => 0..self.markets.len(),
            LiquidationScope::Isolated(m) => m.index()..m.index() + 1,
        };
        for i in markets {
            let market = self.markets[i].id;
            let mut ids = self.markets[market.index()].book.orders_of(id).collect::<Vec<_>>();
            ids.sort_unstable();
            for oid in ids {
                self.cancel_resting(market, oid, CancelReason::Liquidation, out);
            }
            for stop in self.markets[market.index()].stops.ids_of(id) {
                self.cancel_stop(market, stop, CancelReason::Liquidation, out);
            }
        }
    }

    /// Liquidates one unit: re-check, close positions until it is back above maintenance or
    /// flat, charge the fee, run the waterfall on a deficit.
    fn liquidate(&mut self, account: AccountId, scope: LiquidationScope, out: &mut Out<'_>) {
        let Some((equity, mm)) = self.unit_figures(account, scope) else { return };
        if equity >= mm {
            out.push(EventKind::LiquidationAverted { account, scope, equity, maintenance_margin: mm });
            return;
        }
        out.push(EventKind::LiquidationStarted { account, scope, equity, maintenance_margin: mm });
        // The figures just computed serve the first round (nothing changed since); the market
        // and size of the last close tell a stalled round. One lookup of the account a round.
        let mut known = Some((equity, mm));
        let mut closed: Option<(MarketId, Qty)> = None;
        let outcome = loop {
            let a = &self.accounts[&account];
            if closed.is_some_and(|(market, before)| a.position(market).size == before) {
                // Nothing could take any of it (no book, no backstop, no opposite position).
                break LiquidationOutcome::Stalled;
            }
            let Some((market, mark)) = next_to_close_of(&self.markets, a, scope) else {
                break LiquidationOutcome::ClosedOut;
            };
            let figures = match known.take() {
                Some(f) => f,
                None => unit_figures_of(&self.markets, a, scope).expect("a unit with a position has figures"),
            };
            if figures.0 >= figures.1 {
                break LiquidationOutcome::Partial;
            }
            let before = a.position(market).size;
            self.close_position(account, scope, (market, mark, before), figures, out);
            closed = Some((market, before));
        };
        if outcome == LiquidationOutcome::ClosedOut {
            self.settle_closed_out(account, scope, out);
        }
        let (equity, mm) =
            self.unit_figures(account, scope).unwrap_or_else(|| (self.unit_cash(account, scope), Quote::ZERO));
        out.push(EventKind::LiquidationFinished { account, scope, outcome, equity, maintenance_margin: mm });
        if outcome == LiquidationOutcome::Stalled {
            // It waits, cancel-only, for the next pass.
            self.liq_queue.push_back((account, scope));
            self.liq_queued.insert((account, scope));
        }
    }

    /// The cash of a unit with no position: the account's collateral, or what is left of an
    /// isolated position's margin.
    fn unit_cash(&self, account: AccountId, scope: LiquidationScope) -> Quote {
        unit_cash_of(&self.accounts[&account], scope)
    }

    pub(crate) fn add_unit_cash(&mut self, account: AccountId, scope: LiquidationScope, amount: Quote) {
        let a = self.accounts.get_mut(&account).expect("liquidated account exists");
        let cash = match scope {
            LiquidationScope::Cross => &mut a.collateral,
            LiquidationScope::Isolated(m) => &mut a.positions.get_mut(&m).expect("position exists").isolated_margin,
        };
        *cash = Quote(cash.0 + amount.0);
    }

    /// Closes part or all of the unit's position of `size` in `market` at `mark`; `(equity, mm)`
    /// are the unit's figures now.
    fn close_position(
        &mut self,
        account: AccountId,
        scope: LiquidationScope,
        (market, mark, size): (MarketId, Price, Qty),
        (equity, mm): Figures,
        out: &mut Out<'_>,
    ) {
        let sign = size.0.signum();
        let side = if sign > 0 { Side::Sell } else { Side::Buy };
        let b = BankruptcyPrice::of(mark, size.0, equity, self.markets[market.index()].quote_per_tick_lot);
        let tradable = self.check_trading(market).is_ok();
        let limit = self.closing_limit(market, mark, b, sign);
        let partial = match (tradable, limit) {
            (true, Some(limit)) => self.partial_size(market, mark, size, side, limit, equity, mm),
            _ => None,
        };
        let qty = partial.unwrap_or(Qty(size.0.abs()));
        let mut left = qty;
        if let (true, Some(limit)) = (tradable, limit) {
            let order_id = self.take_order_id();
            out.push(EventKind::LiquidationOrder {
                account,
                market,
                order_id,
                side,
                qty,
                limit,
                bankruptcy_price: b.adl_price(sign),
            });
            let taker = Taker {
                order_id,
                account,
                side,
                limit,
                stp: StpMode::ExpireMaker,
                reduce_only: true,
                liquidation: true,
            };
            left = self.match_taker(market, &taker, qty, out).remaining;
        }
        if left.is_positive() {
            // The unit's equity is still the one it came with if the book filled none of it.
            let equity_now = (left == qty).then_some(equity);
            left = self.backstop(account, scope, (market, mark), side, left, equity_now, out);
        }
        if left.is_positive() {
            self.deleverage(account, scope, market, mark, left, out);
        }
        self.charge_liquidation_fee(account, scope, market, mark, qty, out);
    }

    /// The limit of the closing IOC: the safe side of `B`, and never beyond the order band's
    /// worse edge (a long sells at `max(⌈B⌉, band low)`, a short buys at `min(⌊B⌋, band high)`).
    fn closing_limit(&self, market: MarketId, mark: Price, b: BankruptcyPrice, sign: i64) -> Option<Price> {
        let (low, high) = self.markets[market.index()].band_at(mark);
        match b.closing_limit(sign) {
            Some(l) if sign > 0 => Some(l.max(low)),
            Some(l) => Some(l.min(high)),
            None if sign > 0 => Some(low),
            None => None,
        }
    }

    /// What a closing order of `k` lots would fill in the book within `limit`, and the value of
    /// those fills (Σ price × lots × q), walking the matcher's path (the liquidated account has
    /// no orders left, so no self-trade; reduce-only makers count only what they can reduce).
    fn walk_close(&self, market: MarketId, side: Side, limit: Price, k: i64) -> (i64, i128) {
        let m = &self.markets[market.index()];
        let maker_side = side.opposite();
        let mut used: Vec<(AccountId, i64)> = Vec::new();
        let (mut got, mut value) = (0i64, 0i128);
        for (price, level) in m.book.levels(maker_side) {
            if got >= k || !side.crosses(limit, price) {
                break;
            }
            for o in m.book.level_orders(level) {
                let q = super::matching::reduce_only_capped(self, market, maker_side, o, &mut used);
                let take = q.min(k - got);
                got += take;
                value += i128::from(take) * i128::from(price.0) * i128::from(m.quote_per_tick_lot);
                if got >= k {
                    break;
                }
            }
        }
        (got, value)
    }

    /// The smallest partial close (in lots) that the book fills within `limit` and that leaves
    /// `equity − slippage − fee ≥ MM × (1 + buffer)`; `None` if no size short of the whole
    /// position does. Found by bisection over `1..|size|`.
    #[allow(clippy::too_many_arguments)]
    fn partial_size(
        &self,
        market: MarketId,
        mark: Price,
        size: Qty,
        side: Side,
        limit: Price,
        equity: Quote,
        mm: Quote,
    ) -> Option<Qty> {
        let m = &self.markets[market.index()];
        let q = m.quote_per_tick_lot;
        let abs = size.0.abs();
        let mm_here = maintenance_margin(&m.spec.tiers, notional(q, size, mark).ok()?).ok()?;
        let ok = |k: i64| -> bool {
            let (got, value) = self.walk_close(market, side, limit, k);
            if got < k {
                return false;
            }
            let at_mark = i128::from(k) * i128::from(mark.0) * i128::from(q);
            let slippage = if side == Side::Sell { at_mark - value } else { value - at_mark };
            let Ok(closed) = i64::try_from(at_mark) else { return false };
            let fee = liquidation_fee(m.spec.liquidation.fee_rate, Quote(closed), Quote(i64::MAX));
            let rest = Qty(size.0 - size.0.signum() * k);
            let Ok(n_rest) = notional(q, rest, mark) else { return false };
            let Ok(mm_rest) = maintenance_margin(&m.spec.tiers, n_rest) else { return false };
            let mm_after = Quote(mm.0 - mm_here.0 + mm_rest.0);
            let after = i128::from(equity.0) - slippage - i128::from(fee.0);
            after >= buffered_maintenance(mm_after, m.spec.liquidation.buffer)
        };
        let (mut lo, mut hi) = (1, abs - 1);
        if hi < lo || !ok(hi) {
            return None;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if ok(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(Qty(lo))
    }

    /// What the layers under a market can pay now: its insurance fund (its own, or the shared
    /// one up to its draw cap), then the guaranty fund.
    pub(crate) fn funds_available(&self, market: MarketId) -> i128 {
        let (_, insurance) = self.insurance_available(market);
        i128::from(insurance) + i128::from(self.ledger.guaranty_fund.0.max(0))
    }

    /// The insurance fund behind `market` and what the market may draw from it now: its own
    /// fund's balance, or the shared fund's up to the market's remaining draw cap.
    fn insurance_available(&self, market: MarketId) -> (FundRef, i64) {
        let m = &self.markets[market.index()];
        match m.spec.liquidation.insurance {
            InsurancePolicy::Own => (FundRef::Market(market), m.insurance_fund.0.max(0)),
            InsurancePolicy::Shared { max_draw } => (
                FundRef::Shared,
                self.ledger.insurance_fund.0.min(max_draw.0.saturating_sub(m.shared_net_draw.0)).max(0),
            ),
        }
    }

    /// Registered liquidators take over what the book didn't, at `mark ∓ discount`, each in id
    /// order for what its own margin allows, and only for the size whose gap to the bankruptcy
    /// price the funds can pay now; the gap is paid at once. Returns the size still open.
    /// `equity_now` is the unit's equity when the caller knows it unchanged since its figures
    /// were taken (the book filled none of it): valuing the unit again took about 185
    /// instructions a unit, 2.8 % of the 30 % gap's (docs/PERFORMANCE.md, "Session 19").
    #[allow(clippy::too_many_arguments)]
    fn backstop(
        &mut self,
        account: AccountId,
        scope: LiquidationScope,
        (market, mark): (MarketId, Price),
        side: Side,
        mut left: Qty,
        mut equity_now: Option<Quote>,
        out: &mut Out<'_>,
    ) -> Qty {
        let discount = self.markets[market.index()].spec.liquidation.backstop_discount;
        let price = match side {
            Side::Sell => mark.scale_down_ceil(discount).unwrap_or(Price(1)).max(Price(1)),
            Side::Buy => mark.scale_up_floor(discount).unwrap_or(Price(i64::MAX)),
        };
        let q = i128::from(self.markets[market.index()].quote_per_tick_lot);
        // In id order (the set doesn't change in a pass: registering is a command), walked by
        // key because the loop changes the engine.
        let mut next = self.liquidators.first().copied();
        while let Some(liq) = next {
            next = self.liquidators.range((Bound::Excluded(liq), Bound::Unbounded)).next().copied();
            if !left.is_positive() {
                break;
            }
            if liq == account || self.in_liquidation(liq) || !self.accounts.contains_key(&liq) {
                continue;
            }
            // The gap per lot to B: closing s lots at `price` instead of B costs
            // s × ((|mark − price| × q × |size|) − equity) / |size|.
            let a = &self.accounts[&account];
            let s0 = i128::from(a.position(market).size.0.abs());
            let equity = match equity_now {
                Some(e) => e,
                None => unit_figures_of(&self.markets, a, scope).expect("unit has a position").0,
            };
            let adverse = i128::from((mark.0 - price.0).abs()) * q;
            let gap_den = adverse * s0 - i128::from(equity.0);
            let fundable = if gap_den > 0 { div_rem(self.funds_available(market) * s0, gap_den).0 } else { s0 };
            let want = left.0.min(i64::try_from(fundable).unwrap_or(i64::MAX));
            let take = self.affordable(liq, market, mark, side.opposite(), want);
            if take == 0 {
                continue;
            }
            let gap = if gap_den > 0 {
                let num = i128::from(take) * gap_den;
                Quote(i64::try_from(div_rem(num + s0 - 1, s0).0).expect("gap within the funds"))
            } else {
                Quote::ZERO
            };
            let lc = self.settle_fill(market, liq, side.opposite(), price, Qty(take), Settle::FeeFree);
            let ac = self.settle_fill(market, account, side, price, Qty(take), Settle::Liquidated);
            equity_now = None;
            out.push(EventKind::BackstopTakeover {
                market,
                account,
                liquidator: liq,
                side,
                qty: Qty(take),
                price,
                gap_paid: gap,
            });
            out.push(lc.event(liq, market));
            out.push(ac.event(account, market));
            if gap.is_positive() {
                let paid = self.draw_funds(account, market, gap, out);
                debug_assert_eq!(paid, gap, "the size was bounded by the funds");
                self.add_unit_cash(account, scope, paid);
            }
            left = Qty(left.0 - take);
        }
        left
    }

    /// The largest size up to `want` the liquidator's own margin allows it to take on `side`.
    fn affordable(&self, liq: AccountId, market: MarketId, mark: Price, side: Side, want: i64) -> i64 {
        let fits = |k: i64| {
            let extra = super::accounts::ExtraOrder { market, side, qty: Qty(k), loss: Quote::ZERO };
            self.check_order_margin(liq, &self.markets[market.index()], mark, extra).is_ok()
        };
        if want <= 0 {
            return 0;
        }
        if fits(want) {
            return want;
        }
        let (mut lo, mut hi) = (0, want);
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    /// Draws up to `amount` from the layers under `market` (insurance fund, then guaranty fund),
    /// announcing each draw; returns what was paid.
    pub(crate) fn draw_funds(
        &mut self,
        account: AccountId,
        market: MarketId,
        amount: Quote,
        out: &mut Out<'_>,
    ) -> Quote {
        let mut left = amount.0;
        let (fund, available) = self.insurance_available(market);
        let take = left.min(available);
        if take > 0 {
            let balance = match fund {
                FundRef::Market(_) => {
                    let m = &mut self.markets[market.index()];
                    m.insurance_fund = Quote(m.insurance_fund.0 - take);
                    m.insurance_fund
                }
                _ => {
                    self.markets[market.index()].shared_net_draw.0 += take;
                    self.ledger.insurance_fund = Quote(self.ledger.insurance_fund.0 - take);
                    self.ledger.insurance_fund
                }
            };
            out.push(EventKind::DeficitCovered { account, market, fund, amount: Quote(take), balance });
            left -= take;
        }
        let take = left.min(self.ledger.guaranty_fund.0.max(0));
        if take > 0 {
            self.ledger.guaranty_fund = Quote(self.ledger.guaranty_fund.0 - take);
            out.push(EventKind::DeficitCovered {
                account,
                market,
                fund: FundRef::Guaranty,
                amount: Quote(take),
                balance: self.ledger.guaranty_fund,
            });
            left -= take;
        }
        Quote(amount.0 - left)
    }

    /// Pays `amount` into the fund behind `market` (liquidation fees, funding remainders).
    pub(crate) fn credit_fund(&mut self, market: MarketId, amount: Quote) -> FundRef {
        let m = &mut self.markets[market.index()];
        match m.spec.liquidation.insurance {
            InsurancePolicy::Own => {
                m.insurance_fund = Quote(m.insurance_fund.0 + amount.0);
                FundRef::Market(market)
            }
            InsurancePolicy::Shared { .. } => {
                m.shared_net_draw = Quote(m.shared_net_draw.0 - amount.0);
                self.ledger.insurance_fund = Quote(self.ledger.insurance_fund.0 + amount.0);
                FundRef::Shared
            }
        }
    }

    /// The liquidation fee for closing `qty` lots (valued at mark): capped at `equity − MM` of
    /// what remains, or at what is left once the unit is flat.
    fn charge_liquidation_fee(
        &mut self,
        account: AccountId,
        scope: LiquidationScope,
        market: MarketId,
        mark: Price,
        qty: Qty,
        out: &mut Out<'_>,
    ) {
        let m = &self.markets[market.index()];
        let Ok(closed) = notional(m.quote_per_tick_lot, qty, mark) else { return };
        let rate = m.spec.liquidation.fee_rate;
        let a = &self.accounts[&account];
        let cap = match unit_figures_of(&self.markets, a, scope) {
            // Saturating: a unit far below bankruptcy at a mark near overflow has `e − mm` below
            // i64 (a negative room, so no fee, either way).
            Some((e, mm)) if next_to_close_of(&self.markets, a, scope).is_some() => Quote(e.0.saturating_sub(mm.0)),
            _ => unit_cash_of(a, scope),
        };
        let fee = liquidation_fee(rate, closed, cap);
        if !fee.is_positive() {
            return;
        }
        self.add_unit_cash(account, scope, Quote(-fee.0));
        let fund = self.credit_fund(market, fee);
        out.push(EventKind::LiquidationFee { account, market, amount: fee, fund });
    }

    /// A unit with nothing left open: a deficit goes down the waterfall (what no layer covers
    /// is recorded as uncovered and the balance reset to zero); an isolated position's leftover
    /// margin returns to the account's collateral.
    fn settle_closed_out(&mut self, account: AccountId, scope: LiquidationScope, out: &mut Out<'_>) {
        let cash = self.unit_cash(account, scope);
        if cash.is_negative() {
            let market = self.last_market_of(account, scope);
            let paid = self.draw_funds(account, market, Quote(-cash.0), out);
            self.add_unit_cash(account, scope, paid);
            let rest = self.unit_cash(account, scope);
            if rest.is_negative() {
                self.ledger.uncovered = Quote(self.ledger.uncovered.0 - rest.0);
                self.add_unit_cash(account, scope, Quote(-rest.0));
                out.push(EventKind::DeficitUncovered { account, market, amount: Quote(-rest.0) });
            }
        }
        if let LiquidationScope::Isolated(m) = scope {
            let a = self.accounts.get_mut(&account).expect("exists");
            let margin = std::mem::take(&mut a.positions.get_mut(&m).expect("position exists").isolated_margin);
            a.collateral = Quote(a.collateral.0 + margin.0);
        }
    }

    /// The market a closed-out unit's deficit is charged to: the isolated position's, or for
    /// cross the lowest-id market the account has traded in cross mode (else the lowest it has
    /// traded at all, else market 0).
    fn last_market_of(&self, account: AccountId, scope: LiquidationScope) -> MarketId {
        match scope {
            LiquidationScope::Isolated(m) => m,
            LiquidationScope::Cross => {
                let a = &self.accounts[&account];
                let traded = || a.positions.keys().copied();
                traded().find(|m| a.mode(*m) == MarginMode::Cross).or_else(|| traded().next()).unwrap_or(MarketId(0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{sort_account_ids, upnl_and_notional};
    use crate::ids::AccountId;
    use crate::num::narrow;

    proptest! {
        /// The holders' sort orders ids as the standard sort does, below and above the length
        /// where it turns to the radix sort, for ids anywhere in `u64` (the radix sort skips
        /// only the bytes every id shares) and with repeats.
        #[test]
        fn the_holders_sort_orders_ids_as_the_standard_sort(
            ids in prop::collection::vec(any::<u64>(), 0..600),
            narrow_ids in prop::collection::vec(0u64..70_000, 200..700),
            high in any::<u64>(),
        ) {
            let shifted: Vec<u64> = narrow_ids.iter().map(|i| i.wrapping_add(high)).collect();
            for raw in [ids, narrow_ids, shifted] {
                let mut ours: Vec<AccountId> = raw.iter().copied().map(AccountId).collect();
                let mut expected = ours.clone();
                expected.sort_unstable();
                sort_account_ids(&mut ours);
                prop_assert_eq!(ours, expected);
            }
        }

        /// The `i64` steps give what the `i128` product and its narrowing give, overflow
        /// included, for any size, mark, cost and `q ≥ 1`.
        #[test]
        fn upnl_and_notional_in_i64_equals_the_wide_computation(
            size in any::<i64>(), mark in any::<i64>(), q in 1i64..=i64::MAX, cost in any::<i64>(),
            small in -1_000_000i64..1_000_000, small_q in 1i64..1_000_000,
        ) {
            for (size, mark, q) in [(size, mark, q), (small, mark, small_q), (size, small, small_q), (small, small, small_q), (small, small, q)] {
                // Three `i64` factors can overflow even an `i128`: then `v` fits nothing.
                let v = i128::from(size).checked_mul(i128::from(mark)).and_then(|x| x.checked_mul(i128::from(q)));
                let wide = v.and_then(|v| narrow(v - i128::from(cost)).ok().zip(narrow(v.abs()).ok()));
                prop_assert_eq!(upnl_and_notional(size, mark, q, cost), wide);
            }
        }
    }
}
