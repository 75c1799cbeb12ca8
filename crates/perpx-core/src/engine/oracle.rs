//! The oracle controller: stores source prices, evaluates the index, runs the stale-index
//! policy and derives the mark.
//!
//! - `oracle_price` (step 2) stores one source's price at the command's time, re-evaluates the
//!   index and recomputes the mark from it.
//! - Step 1 of every command re-evaluates every oracle market at the command's time: sources
//!   go stale with time alone, so the quorum can be lost without any command for the market.
//!   The moment of the loss is exact — the first source expiry at which the index falls below
//!   quorum — so the `stale_grace_ms` and `max_stale_ms` clocks start when the outage began,
//!   not when a command noticed it.
//! - The mark is recomputed whenever an oracle price arrives, in step 1 of every command (time
//!   moves its funding-basis term), and after the command's trades (its last-price input), before
//!   the liquidation pass; it stays at its last good value while the index is stale.
//! - Both are kept from redoing work: the index result is cached until a price arrives or
//!   expires, and written into the market's oracle state once (`IndexCache`); the mark is held
//!   with the inputs it came from and the span of the clock over which the funding term keeps
//!   its value (`MarkMemo`, [`crate::price::mark::mark_price_span`]). The invariant checker
//!   compares both with a fresh evaluation.
//! - And step 1 is skipped altogether before the engine's quiet time, when none of that can
//!   have changed: the earliest source expiry or end of a held mark's span over the markets
//!   ([`quiet_until`]), worked out again after every evaluation and after every command that
//!   traded or is not among the kinds that leave oracle state alone ([`leaves_oracles_alone`]).
//!
//! A market that never had an index stays `live` (there was nothing to lose); one with no
//! sources at all is marked by `set_mark` only.

use super::{Engine, Out};
use crate::command::CommandKind;
use crate::event::EventKind;
use crate::ids::MarketId;
use crate::market::{MarkKey, Market, MarketStatus, OracleStage, SourceStatus};
use crate::num::{Price, Timestamp};
use crate::price::index::{IndexParams, IndexResult, SourcePrice, compute_index};
use crate::price::mark::{MarkInputs, mark_price_span};
use crate::reject::RejectReason;

/// Until when (exclusive) evaluating `m` at any clock from `now` on changes nothing, as long
/// as nothing else changes `m`; `None` if an evaluation at `now` might.
///
/// It changes nothing while the index result applied to the market still holds (no source
/// price expires) and no outage clock runs, so statuses, index and stages stay; and while the
/// mark held in the memo was derived from the market's present inputs, the clock is in its span
/// and it is the market's mark, so the mark stays.
pub(crate) fn quiet_until(m: &Market, now: Timestamp) -> Option<Timestamp> {
    if m.oracle.stale_since.is_some() {
        return None;
    }
    let until = m.index_cache.applied_until(now)?;
    if m.oracle.index.is_none() {
        return Some(until);
    }
    let (mark, to) = m.mark_memo.held_through(&mark_key(m)?, now)?;
    (m.mark == Some(mark)).then(|| until.min(Timestamp(to.0.saturating_add(1))))
}

/// Whether a command of this kind leaves alone all that step 1's oracle evaluation reads
/// (`quiet_until`), but for the last price of a market it trades in: source prices, the
/// funding clocks and samples, the market's parameters, status and mark. The order commands,
/// account commands and ticks do: after them the engine's quiet time still holds unless they
/// traded. Every kind is named, so a new one is decided, not defaulted.
pub(crate) fn leaves_oracles_alone(kind: &CommandKind) -> bool {
    match kind {
        CommandKind::PlaceOrder(_)
        | CommandKind::PlaceStop(_)
        | CommandKind::AmendOrder(_)
        | CommandKind::CancelOrder { .. }
        | CommandKind::CancelAll { .. }
        | CommandKind::MassCancel { .. }
        | CommandKind::Tick
        | CommandKind::Deposit { .. }
        | CommandKind::Withdraw { .. }
        | CommandKind::SetLeverage { .. }
        | CommandKind::SetMarginMode { .. }
        | CommandKind::AdjustIsolatedMargin { .. }
        | CommandKind::SetLiquidator { .. }
        | CommandKind::CapitaliseFund { .. }
        | CommandKind::AdminAudit { .. } => true,
        CommandKind::CreateMarket(_)
        | CommandKind::SetMark { .. }
        | CommandKind::OraclePrice { .. }
        | CommandKind::Halt { .. }
        | CommandKind::Resume { .. }
        | CommandKind::ScheduleParams { .. }
        | CommandKind::Delist { .. } => false,
    }
}

/// The index of `m` at time `at`, from the prices it holds now.
pub(crate) fn index_at(m: &Market, at: Timestamp) -> IndexResult {
    let o = &m.spec.oracle;
    let sources: Vec<SourcePrice> = m
        .oracle
        .prices
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.map(|(price, t)| SourcePrice {
                source: u16::try_from(i).expect("at most MAX_ORACLE_SOURCES"),
                price,
                at: t,
                weight: o.sources[i].weight,
            })
        })
        .collect();
    let params =
        IndexParams { staleness_ms: o.staleness_ms, outlier_band: o.outlier_band, quorum: o.effective_quorum() };
    compute_index(&sources, at, &params)
}

/// The first moment after `t` at which one of `m`'s source prices becomes stale (a price
/// received at `a` is stale from `a + staleness_ms + 1`), if any.
pub(crate) fn next_expiry_after(m: &Market, t: Timestamp) -> Option<Timestamp> {
    let staleness = m.spec.oracle.staleness_ms;
    m.oracle
        .prices
        .iter()
        .filter_map(|p| p.map(|(_, a)| Timestamp(a.0.saturating_add(staleness).saturating_add(1))))
        .filter(|e| *e > t)
        .min()
}

/// What source `s` of `m` is in the index result `r`.
pub(crate) fn source_status(m: &Market, r: &IndexResult, s: usize) -> SourceStatus {
    let id = u16::try_from(s).expect("at most MAX_ORACLE_SOURCES");
    if m.oracle.prices[s].is_none() {
        SourceStatus::Missing
    } else if r.used.contains(&id) {
        SourceStatus::Used
    } else if r.outliers.contains(&id) {
        SourceStatus::Outlier
    } else {
        SourceStatus::Stale
    }
}

/// What `m`'s derived mark reads besides the clock; `None` without an index.
pub(crate) fn mark_key(m: &Market) -> Option<MarkKey> {
    let f = &m.funding;
    Some(MarkKey {
        index: m.oracle.index?,
        last_rate: f.last_rate.unwrap_or_default(),
        period_start: f.period_start,
        next_funding: f.next_funding,
        next_sample_at: f.next_sample_at,
        last_trade: m.last_price,
        mark_band: m.spec.oracle.mark_band,
    })
}

/// The inputs of `m`'s mark at `now` ([`crate::price::mark`]), `key` being [`mark_key`]'s.
pub(crate) fn mark_inputs(m: &Market, key: &MarkKey, now: Timestamp) -> MarkInputs {
    MarkInputs {
        index: key.index,
        last_funding_rate: key.last_rate,
        time_to_funding_ms: key.next_funding.0.saturating_sub(now.0),
        interval_ms: key.next_funding.0.saturating_sub(key.period_start.0),
        basis_average: m.oracle.basis_average(),
        last_trade: key.last_trade,
        mark_band: key.mark_band,
    }
}

impl Engine {
    /// Step 2 of an `oracle_price` command.
    pub(crate) fn oracle_price(
        &mut self,
        market: MarketId,
        source: u16,
        price: Price,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        let m = self.market_mut(market)?;
        if m.status == MarketStatus::Delisted {
            return Err(RejectReason::MarketDelisted);
        }
        if usize::from(source) >= m.spec.oracle.sources.len() {
            return Err(RejectReason::UnknownOracleSource(source.to_string()));
        }
        if !price.is_positive() {
            return Err(RejectReason::NonPositivePrice(price));
        }
        let now = self.now;
        let m = &mut self.markets[market.index()];
        m.oracle.prices[usize::from(source)] = Some((price, now));
        m.index_cache.clear();
        self.evaluate_oracle(market.index(), true, out);
        Ok(())
    }

    /// Step 1: re-evaluates every live oracle market at the engine clock.
    pub(crate) fn advance_oracles(&mut self, out: &mut Out<'_>) {
        // Nothing changed that the evaluations read, and no source price expires and no
        // funding term moves before the quiet time: they would change nothing.
        if self.now < self.oracle_quiet_until {
            return;
        }
        for i in 0..self.markets.len() {
            let m = &self.markets[i];
            if m.has_oracle() && m.status != MarketStatus::Delisted {
                // The mark moves with time too (its funding-basis term shrinks to the funding
                // time), so it is re-derived at every command, not only when the index moves.
                self.evaluate_oracle(i, true, out);
            }
        }
        self.oracle_quiet_until = self.oracles_quiet_until();
    }

    /// The engine's quiet time: the earliest of the live oracle markets' ([`quiet_until`]), or
    /// `i64::MIN` if one of them has work now.
    pub(crate) fn oracles_quiet_until(&self) -> Timestamp {
        let mut until = Timestamp(i64::MAX);
        for m in self.markets.iter().filter(|m| m.has_oracle() && m.status != MarketStatus::Delisted) {
            match quiet_until(m, self.now) {
                Some(t) => until = until.min(t),
                None => return Timestamp(i64::MIN),
            }
        }
        until
    }

    /// After the command's trades (end of step 3, before the liquidation pass): re-derives the
    /// mark of every oracle market that traded, from its new last price. Trades inside the
    /// liquidation pass don't move it until the next command.
    pub(crate) fn refresh_marks(&mut self, out: &mut Out<'_>) {
        // No market traded: no flag to read. (`self.traded` stays set until the command ends,
        // for the pass's trades; `apply_into` clears it and the flags then.)
        if !self.traded {
            return;
        }
        let now = self.now;
        let mut moved = false;
        for m in &mut self.markets {
            if !std::mem::take(&mut m.traded)
                || !m.has_oracle()
                || m.status == MarketStatus::Delisted
                || m.oracle.index.is_none()
            {
                continue;
            }
            if let Some(mark) = Self::derived_mark(m, now).filter(|p| m.mark != Some(*p)) {
                m.set_mark(Some(mark));
                moved = true;
                out.push(EventKind::MarkPriceSet { market: m.id, price: mark });
            }
        }
        if moved {
            self.note_mark_moved();
        }
    }

    /// When the quorum was lost: the first source expiry up to now at which the index falls
    /// below quorum, or now if no expiry explains it (a new price made a source an outlier).
    fn quorum_lost_at(m: &Market, now: Timestamp) -> Timestamp {
        let mut t = Timestamp(i64::MIN);
        while let Some(e) = next_expiry_after(m, t) {
            if e > now {
                break;
            }
            if index_at(m, e).index.is_none() && m.oracle.prices.iter().flatten().all(|(_, a)| *a <= e) {
                return e;
            }
            t = e;
        }
        now
    }

    /// Re-evaluates market `i`'s index at the clock: source statuses, index, stale stage and
    /// (when the index moved, or `force_mark`) the mark — each change an event.
    fn evaluate_oracle(&mut self, i: usize, force_mark: bool, out: &mut Out<'_>) {
        let now = self.now;
        let m = &mut self.markets[i];
        if m.index_cache.at(now).is_none() {
            let r = index_at(m, now);
            m.index_cache.set(now, next_expiry_after(m, now), r);
        }
        // The index result was applied by an earlier evaluation and no outage clock runs: the
        // statuses, the index and the stage are what applying it again would leave, so only
        // the mark (which the clock moves) is left to derive. Most commands: no price arrived
        // and none expired since the last one (docs/PERFORMANCE.md, "Session 31").
        let (new_index, index_moved, resumed) = if m.index_cache.applied_at(now) && m.oracle.stale_since.is_none() {
            (m.oracle.index, false, false)
        } else {
            self.apply_index(i, out)
        };
        let m = &mut self.markets[i];
        let market = m.id;
        if new_index.is_some() && (force_mark || index_moved) {
            if let Some(mark) = Self::derived_mark(m, now).filter(|p| m.mark != Some(*p)) {
                m.set_mark(Some(mark));
                out.push(EventKind::MarkPriceSet { market, price: mark });
                self.note_mark_moved();
            }
        }
        if resumed {
            self.stops_due = true;
        }
    }

    /// The mark from the index, the funding basis, the book's basis average and the last trade
    /// (see [`crate::price::mark`]); `None` without an index. The mark held in the market's
    /// memo when its inputs are the same and the clock is inside its span.
    fn derived_mark(m: &mut Market, now: Timestamp) -> Option<Price> {
        let key = mark_key(m)?;
        if let Some(mark) = m.mark_memo.get(&key, now) {
            return Some(mark);
        }
        Some(Self::derive_mark_afresh(m, key, now))
    }

    /// [`Engine::derived_mark`] when the memo doesn't hold: the mark from its inputs, kept in
    /// the memo with the span of the clock it holds over. Out of line, as `apply_index`.
    #[inline(never)]
    fn derive_mark_afresh(m: &mut Market, key: MarkKey, now: Timestamp) -> Price {
        let (mark, (lo, hi)) = mark_price_span(&mark_inputs(m, &key, now));
        // The time to funding is `next_funding − now`: its span is a span of the clock (held
        // only where that difference doesn't saturate, as it never does at real times).
        let next = key.next_funding.0;
        if next.checked_sub(now.0).is_some() {
            let from = Timestamp(next.checked_sub(hi).unwrap_or(i64::MIN));
            let to = Timestamp(next.checked_sub(lo).unwrap_or(i64::MAX));
            m.mark_memo.set(key, from, to, mark);
        }
        mark
    }

    /// Writes the cached index result into market `i`'s oracle state: source statuses, the
    /// index, the stale-index stages (one event each change). Returns the index, whether it
    /// moved, and whether the market left a halt.
    ///
    /// Out of line: most evaluations skip it, and inlined it made every evaluation pay for its
    /// registers and stack (`engine_mix`'s oracle case 302.59 M → 298.83 M instructions with
    /// the mark's slow path out of line too).
    #[inline(never)]
    fn apply_index(&mut self, i: usize, out: &mut Out<'_>) -> (Option<Price>, bool, bool) {
        let now = self.now;
        let m = &self.markets[i];
        let market = m.id;
        let r = m.index_cache.at(now).expect("computed by the caller");
        // Source statuses, in source order; those that changed are announced.
        let mut changed_sources: Vec<(u16, SourceStatus, Option<Price>)> = Vec::new();
        for (s, before) in m.oracle.status.iter().enumerate() {
            let id = u16::try_from(s).expect("bounded");
            let now_status = source_status(m, r, s);
            if now_status != *before {
                changed_sources.push((id, now_status, m.oracle.prices[s].map(|p| p.0)));
            }
        }
        let lost_at = (r.index.is_none() && m.oracle.stage == OracleStage::Live && m.oracle.last_good_index.is_some())
            .then(|| Self::quorum_lost_at(m, now));
        let index_moved = r.index.is_some() && r.index != m.oracle.index;
        let (new_index, used) = (r.index, r.used.len());

        let mut resumed = false;
        let m = &mut self.markets[i];
        for (source, status, price) in changed_sources {
            m.oracle.status[usize::from(source)] = status;
            out.push(EventKind::OracleSourceStatus { market, source, status, price });
        }
        m.oracle.index = new_index;
        if let Some(index) = new_index {
            m.oracle.last_good_index = Some(index);
            if index_moved {
                let sources_used = u32::try_from(used).expect("bounded");
                out.push(EventKind::IndexPrice { market, price: index, sources_used });
            }
            // Recovery: walk the stages back, one event each. Stops held while halted may
            // fire again.
            if let Some(since) = m.oracle.stale_since.take() {
                resumed = m.oracle.stage == OracleStage::Halted;
                while m.oracle.stage != OracleStage::Live {
                    m.oracle.stage = match m.oracle.stage {
                        OracleStage::Halted => OracleStage::ReduceOnly,
                        OracleStage::ReduceOnly => OracleStage::Stale,
                        OracleStage::Stale | OracleStage::Live => OracleStage::Live,
                    };
                    out.push(EventKind::OracleStageChanged { market, stage: m.oracle.stage, since });
                }
            }
        } else if let Some(at) = lost_at {
            m.oracle.stale_since = Some(at);
        }
        // Time-driven stages of an outage.
        if let Some(since) = m.oracle.stale_since {
            let o = &m.spec.oracle;
            let elapsed = now.0.saturating_sub(since.0);
            let target = if elapsed >= o.max_stale_ms {
                OracleStage::Halted
            } else if elapsed >= o.stale_grace_ms {
                OracleStage::ReduceOnly
            } else {
                OracleStage::Stale
            };
            while m.oracle.stage < target {
                m.oracle.stage = match m.oracle.stage {
                    OracleStage::Live => OracleStage::Stale,
                    OracleStage::Stale => OracleStage::ReduceOnly,
                    OracleStage::ReduceOnly | OracleStage::Halted => OracleStage::Halted,
                };
                out.push(EventKind::OracleStageChanged { market, stage: m.oracle.stage, since });
            }
        }
        m.index_cache.mark_applied();
        (new_index, index_moved, resumed)
    }
}
