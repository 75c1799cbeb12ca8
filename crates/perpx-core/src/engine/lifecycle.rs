//! Market lifecycle: halt and resume, scheduled parameter changes, delisting.
//!
//! - **Halt**: a halted market accepts cancels only. Its mark keeps moving and its clocks keep
//!   running, but nothing trades: new orders, amends and stops are refused, and armed stops do
//!   not trigger until it resumes.
//! - **Scheduled changes** (tiers, maximum leverage, fees) take effect at an announced time, at
//!   the first command stamped at or after it. The announcement carries a dry-run count of the
//!   accounts the new tiers would put below maintenance at current marks (computed on a copy of
//!   the engine: exact, and an admin command is rare enough to afford it). Tick and lot can't be
//!   changed: a new tick is a new market. One change is pending per market; scheduling another
//!   replaces it. Accounts whose leverage is above a lowered maximum are brought down to it.
//! - **Delisting** settles every position at a published price (normally the index), zero-sum:
//!   each position realises `size × price − cost basis`, whose sum over the market is zero
//!   because long and short sizes are equal. Orders and stops are cancelled and the market
//!   accepts nothing more.

use super::{Engine, Out};
use crate::command::ParamChange;
use crate::event::{CancelReason, EventKind};
use crate::ids::{AccountId, MarketId, OrderId};
use crate::market::{MarketSpec, MarketStatus, OracleStage};
use crate::num::{Price, Quote, Timestamp};
use crate::reject::RejectReason;

impl Engine {
    /// Refuses anything but cancels in a market that is not trading: halted by an admin, halted
    /// by a stale index, or delisted. The admin status and the oracle stage are independent;
    /// the stricter applies (an admin `resume` does not lift an oracle halt, nor a recovered
    /// index an admin halt).
    ///
    /// Inlined (it runs for every order and amend): `engine_mix` −1.6 % instructions,
    /// `book_mix` 1k −1.9 % (callgrind, docs/PERFORMANCE.md "Session 14").
    #[inline(always)]
    pub(crate) fn check_trading(&self, market: MarketId) -> Result<(), RejectReason> {
        let m = self.markets.get(market.index()).ok_or_else(|| RejectReason::UnknownMarket(market.to_string()))?;
        match (m.status, m.oracle.stage) {
            (MarketStatus::Delisted, _) => Err(RejectReason::MarketDelisted),
            (MarketStatus::Halted, _) | (_, OracleStage::Halted) => Err(RejectReason::MarketHalted),
            (MarketStatus::Active, _) => Ok(()),
        }
    }

    /// In a market made reduce-only by a stale index, refuses what is not reduce-only.
    pub(crate) fn check_reduce_only_stage(&self, market: MarketId, reduce_only: bool) -> Result<(), RejectReason> {
        let stage = self.markets.get(market.index()).map(|m| m.oracle.stage);
        if stage == Some(OracleStage::ReduceOnly) && !reduce_only {
            return Err(RejectReason::MarketReduceOnly);
        }
        Ok(())
    }

    pub(crate) fn set_halted(&mut self, market: MarketId, halted: bool, out: &mut Out<'_>) -> Result<(), RejectReason> {
        let m = self.market_mut(market)?;
        let status = match (m.status, halted) {
            (MarketStatus::Delisted, _) => return Err(RejectReason::MarketDelisted),
            (MarketStatus::Active, true) => MarketStatus::Halted,
            (MarketStatus::Halted, false) => MarketStatus::Active,
            (MarketStatus::Halted, true) => return Err(RejectReason::MarketHalted),
            (MarketStatus::Active, false) => return Err(RejectReason::MarketNotHalted),
        };
        m.status = status;
        // Stops held while halted may fire now.
        self.stops_due |= !halted;
        out.push(if halted { EventKind::MarketHalted { market } } else { EventKind::MarketResumed { market } });
        Ok(())
    }

    /// The spec with `change` applied, validated.
    pub(crate) fn changed_spec(spec: &MarketSpec, change: &ParamChange) -> Result<MarketSpec, RejectReason> {
        let mut s = spec.clone();
        if let Some(t) = &change.tiers {
            s.tiers.clone_from(t);
        }
        if let Some(l) = change.max_leverage {
            s.max_leverage = l;
        }
        if let Some(f) = change.maker_fee {
            s.maker_fee = f;
        }
        if let Some(f) = change.taker_fee {
            s.taker_fee = f;
        }
        if let Some(i) = change.funding_interval_ms {
            s.funding.interval_ms = i;
        }
        Ok(s.validate()?.spec)
    }

    pub(crate) fn schedule_params(
        &mut self,
        market: MarketId,
        effective_at: Timestamp,
        change: &ParamChange,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        self.check_not_delisted(market)?;
        if effective_at <= self.now {
            return Err(RejectReason::ScheduleNotInFuture { effective_at, now: self.now });
        }
        let m = &self.markets[market.index()];
        let new_spec = Self::changed_spec(&m.spec, change)?;
        // Dry run on a copy: how many accounts would be below maintenance with the new tiers now.
        let mut trial = self.clone();
        trial.apply_params(market, new_spec, None);
        let below =
            trial.accounts.keys().filter(|a| trial.margin(**a).is_ok_and(|s| s.equity < s.maintenance_margin)).count();
        let replaced = self.markets[market.index()].pending_change.replace((effective_at, change.clone())).is_some();
        self.clock_work_due = Timestamp(i64::MIN);
        out.push(EventKind::ParamsScheduled {
            market,
            effective_at,
            accounts_below_maintenance: u32::try_from(below).unwrap_or(u32::MAX),
            replaced,
        });
        Ok(())
    }

    /// Step 1: applies every pending change whose time has come.
    pub(crate) fn apply_due_params(&mut self, out: &mut Out<'_>) {
        for i in 0..self.markets.len() {
            let due = self.markets[i].pending_change.as_ref().is_some_and(|(at, _)| *at <= self.now);
            if !due {
                continue;
            }
            let (_, change) = self.markets[i].pending_change.take().expect("due change exists");
            let market = self.markets[i].id;
            // Validated when scheduled against the same immutable tick and lot.
            let spec = Self::changed_spec(&self.markets[i].spec, &change).expect("validated when scheduled");
            out.push(EventKind::ParamsChanged { market });
            self.apply_params(market, spec, Some(out));
        }
    }

    /// Installs a new spec and lowers leverage settings above its maximum.
    fn apply_params(&mut self, market: MarketId, spec: MarketSpec, mut out: Option<&mut Out<'_>>) {
        let max = spec.max_leverage;
        self.markets[market.index()].spec = spec;
        // New tiers move every holder's maintenance margin: the liquidation pass checks them.
        self.markets[market.index()].checked_mark = None;
        self.marks_moved = true;
        let lowered: Vec<AccountId> = self
            .accounts
            .iter()
            .filter(|(_, a)| a.leverage.get(&market).is_some_and(|l| *l > max))
            .map(|(id, _)| *id)
            .collect();
        for id in lowered {
            self.accounts.get_mut(&id).expect("listed").leverage.insert(market, max);
            if let Some(out) = out.as_deref_mut() {
                out.push(EventKind::LeverageSet { account: id, market, leverage: max });
            }
        }
    }

    fn check_not_delisted(&self, market: MarketId) -> Result<(), RejectReason> {
        match self.markets.get(market.index()).map(|m| m.status) {
            None => Err(RejectReason::UnknownMarket(market.to_string())),
            Some(MarketStatus::Delisted) => Err(RejectReason::MarketDelisted),
            Some(_) => Ok(()),
        }
    }

    pub(crate) fn delist(&mut self, market: MarketId, price: Price, out: &mut Out<'_>) -> Result<(), RejectReason> {
        self.check_not_delisted(market)?;
        if !price.is_positive() {
            return Err(RejectReason::NonPositivePrice(price));
        }
        let q = self.markets[market.index()].quote_per_tick_lot;
        // Check every settlement fits before changing anything.
        let mut settlements: Vec<(AccountId, Quote)> = Vec::new();
        for (id, a) in &self.accounts {
            let p = a.position(market);
            if p.size.0 == 0 {
                continue;
            }
            let realized = crate::risk::position::unrealized_pnl(p.size, p.cost_basis, price, q)
                .map_err(|_| RejectReason::BalanceOverflow)?;
            a.collateral
                .checked_add(realized)
                .and_then(|c| c.checked_add(p.isolated_margin))
                .map_err(|_| RejectReason::BalanceOverflow)?;
            settlements.push((*id, realized));
        }
        let ids = self.markets[market.index()].book.all_order_ids_sorted();
        for id in ids {
            self.cancel_resting(market, id, CancelReason::Delisted, out);
        }
        let stops: Vec<OrderId> = self.markets[market.index()].stops.keys().copied().collect();
        for id in stops {
            self.cancel_stop(market, id, CancelReason::Delisted, out);
        }
        for (id, realized) in settlements {
            let a = self.accounts.get_mut(&id).expect("listed above");
            let pos = a.positions.get_mut(&market).expect("has a position");
            let size = pos.size;
            pos.size = crate::num::Qty::ZERO;
            pos.cost_basis = Quote::ZERO;
            pos.realized_pnl = Quote(pos.realized_pnl.0.saturating_add(realized.0));
            // An isolated position's own margin goes back to collateral with its settlement.
            let released = std::mem::take(&mut pos.isolated_margin);
            a.collateral = Quote(a.collateral.0 + realized.0 + released.0);
            out.push(EventKind::PositionSettled {
                account: id,
                market,
                size,
                price,
                realized,
                collateral: a.collateral,
            });
        }
        let m = &mut self.markets[market.index()];
        m.status = MarketStatus::Delisted;
        m.pending_change = None;
        m.clear_holders();
        m.open_interest = crate::num::Qty::ZERO;
        out.push(EventKind::MarketDelisted { market, price });
        Ok(())
    }
}
