//! Engine-wide invariants, checked after every command in tests, replays and the simulator.

use std::collections::{BTreeMap, BTreeSet};

use super::Engine;
use crate::book::Side;
use crate::ids::AccountId;

impl Engine {
    /// Checks every invariant the engine promises (see `docs/ENGINE.md`, "Invariants"):
    /// each book is well formed and never crossed; no side holds more levels than its market
    /// allows and no account more open orders; every open order with a client id holds that
    /// id in the registry and every open registry entry points at an open order of its owner.
    ///
    /// # Errors
    /// A description of the first violation (always an engine bug).
    pub fn check_invariants(&self) -> Result<(), String> {
        for m in &self.markets {
            let sym = &m.spec.symbol;
            m.book.check_invariants().map_err(|e| format!("{sym}: {e}"))?;
            let limits = &m.spec.limits;
            for side in [Side::Buy, Side::Sell] {
                if m.book.level_count(side) > limits.max_price_levels as usize {
                    return Err(format!("{sym}: {side:?} side has {} levels", m.book.level_count(side)));
                }
                for (_, level) in m.book.levels(side) {
                    for o in m.book.level_orders(level) {
                        if m.book.open_order_count(o.account) > limits.max_open_orders_per_account as usize {
                            return Err(format!("{sym}: account {} is over its open-order limit", o.account));
                        }
                        if !self.accounts.contains_key(&o.account) {
                            return Err(format!("{sym}: order {} belongs to unknown account {}", o.id, o.account));
                        }
                        if o.id.0 >= self.next_order_id {
                            return Err(format!("{sym}: order {} has an id not yet issued", o.id));
                        }
                        if let Some(cid) = &o.client_id {
                            let held = self.client_orders.get(o.account, cid);
                            if !held.is_some_and(|e| e.order_id == o.id && e.market == m.id && e.terminal.is_none()) {
                                return Err(format!("{sym}: open order {} does not hold client id {cid}", o.id));
                            }
                        }
                    }
                }
            }
        }
        // Between commands no trade flag is set: a flag left over would move a mark at the next
        // command for a trade it did not make.
        if self.traded || self.markets.iter().any(|m| m.traded) {
            return Err("a trade flag is set between commands".into());
        }
        // Every moved mark was checked by the liquidation pass (each market's `checked_mark`
        // is compared with its mark in `check_liquidation`).
        if self.marks_moved {
            return Err("a moved mark was not checked by the liquidation pass".into());
        }
        self.check_stops()?;
        self.check_money()?;
        self.check_funding()?;
        self.check_liquidation()?;
        self.client_orders.check_invariants()?;
        for (account, cid, e) in self.client_orders.iter() {
            if e.terminal.is_none() {
                let m = self.markets.get(e.market.index()).ok_or("client id held in an unknown market")?;
                let open = m.book.get(e.order_id);
                let armed = m.stops.get(&e.order_id);
                let held_by_order = open.is_some_and(|o| o.account == account && o.client_id.as_ref() == Some(cid));
                let held_by_stop = armed.is_some_and(|s| s.account == account && s.client_id.as_ref() == Some(cid));
                if !held_by_order && !held_by_stop {
                    return Err(format!(
                        "client id {cid} of account {account} held open but order {} is not",
                        e.order_id
                    ));
                }
            }
        }
        Ok(())
    }

    /// Conservation and symmetry of money, to the unit:
    /// `Σ collateral + Σ isolated margin − Σ cost basis + fee account + insurance funds =
    /// deposits − withdrawals + venue capital` (unrealised PnL is zero-sum at any common mark because Σ size = 0), and in
    /// every market Σ long size = Σ short size. A flat position holds no cost basis.
    fn check_money(&self) -> Result<(), String> {
        let mut held = 0i128;
        let mut open_interest = vec![0i128; self.markets.len()];
        for (id, a) in &self.accounts {
            held += i128::from(a.collateral.0);
            for (m, p) in &a.positions {
                held -= i128::from(p.cost_basis.0);
                held += i128::from(p.isolated_margin.0);
                let isolated = a.mode(*m) == crate::account::MarginMode::Isolated;
                if p.isolated_margin.0 != 0 && (p.size.0 == 0 || !isolated) {
                    return Err(format!("account {id}: market {m} holds isolated margin without an isolated position"));
                }
                *open_interest.get_mut(m.index()).ok_or("position in an unknown market")? += i128::from(p.size.0);
                if p.size.0 == 0 && p.cost_basis.0 != 0 {
                    return Err(format!("account {id}: flat position in market {m} with cost basis {}", p.cost_basis));
                }
            }
        }
        let l = &self.ledger;
        let market_funds: i128 = self.markets.iter().map(|m| i128::from(m.insurance_fund.0)).sum();
        let lhs = held
            + i128::from(l.fee_account.0)
            + i128::from(l.insurance_fund.0)
            + market_funds
            + i128::from(l.guaranty_fund.0)
            - i128::from(l.uncovered.0);
        let rhs = i128::from(l.deposits.0) - i128::from(l.withdrawals.0) + i128::from(l.venue_capital.0);
        if lhs != rhs {
            return Err(format!("money not conserved: held {lhs} != deposited {rhs} (difference {})", lhs - rhs));
        }
        if l.fee_account.is_negative() {
            return Err(format!("fee account is negative: {}", l.fee_account));
        }
        for (i, net) in open_interest.iter().enumerate() {
            if *net != 0 {
                return Err(format!("market {i}: long and short open interest differ by {net} lots"));
            }
        }
        let funds = [l.insurance_fund, l.guaranty_fund, l.uncovered];
        if funds.iter().chain(self.markets.iter().map(|m| &m.insurance_fund)).any(|f| f.is_negative()) {
            return Err("a fund or the uncovered total is negative".into());
        }
        Ok(())
    }

    /// Liquidation: every market's holders and open interest match the positions; every unit
    /// below maintenance is in the liquidation queue (a full scan, which the pass's candidate
    /// tracking must agree with); the queue and its lookup set hold the same units, once each;
    /// no account outside the queue has a negative balance it could lose.
    fn check_liquidation(&self) -> Result<(), String> {
        for m in &self.markets {
            let mut holders = [BTreeSet::new(), BTreeSet::new()];
            let mut long = 0i64;
            for (id, a) in &self.accounts {
                let p = a.position(m.id);
                if p.size.0 != 0 {
                    holders[usize::from(p.size.0 < 0)].insert(*id);
                }
                long += p.size.0.max(0);
            }
            let indexed = [1, -1].map(|sign| m.holders_of(sign).collect::<BTreeSet<_>>());
            if holders != indexed {
                return Err(format!("{}: holders index differs from the positions", m.spec.symbol));
            }
            self.check_safe_bands(m)?;
            if long != m.open_interest.0 {
                return Err(format!("{}: open interest {} but Σ long is {long}", m.spec.symbol, m.open_interest));
            }
            if m.order_band() != m.mark.map(|p| m.band_around(p)) {
                return Err(format!("{}: the order band is not the band around the mark", m.spec.symbol));
            }
            if m.checked_mark != m.mark && m.status != crate::market::MarketStatus::Delisted {
                return Err(format!("{}: holders were not checked at the current mark", m.spec.symbol));
            }
            if let Some(cached) = m.index_cache.at(self.now) {
                if *cached != super::oracle::index_at(m, self.now) {
                    return Err(format!("{}: the cached oracle index is not the index now", m.spec.symbol));
                }
                if m.index_cache.applied_at(self.now)
                    && (m.oracle.index != cached.index
                        || (0..m.oracle.status.len())
                            .any(|s| m.oracle.status[s] != super::oracle::source_status(m, cached, s)))
                {
                    return Err(format!("{}: the oracle state is not the applied cached index's", m.spec.symbol));
                }
            }
            if let Some(key) = super::oracle::mark_key(m) {
                if let Some((held, to)) = m.mark_memo.held_through(&key, self.now) {
                    // Held through the span's last clock too: step 1 relies on it until then.
                    for at in [self.now, to] {
                        let fresh = crate::price::mark::mark_price(&super::oracle::mark_inputs(m, &key, at));
                        if held != fresh {
                            return Err(format!(
                                "{}: the held mark {held} is not the mark derived at {} ({fresh})",
                                m.spec.symbol, at.0
                            ));
                        }
                    }
                }
            }
        }
        // Step 1 skips the oracles before the quiet time: each live oracle market must be quiet
        // at least that long, by its present state.
        let quiet = self.oracles_quiet_until();
        if self.now < self.oracle_quiet_until && self.oracle_quiet_until > quiet {
            return Err(format!(
                "step 1 skips the oracles until {} but they are quiet only until {}",
                self.oracle_quiet_until.0, quiet.0
            ));
        }
        let queued = super::liquidation::QueuedUnits::of(self.liq_queue.iter().copied());
        if queued.len() != self.liq_queue.len() || queued != self.liq_queued {
            return Err("liquidation queue and its lookup set differ".into());
        }
        for id in self.accounts.keys() {
            for (scope, (equity, mm)) in self.underwater_units(*id) {
                if !self.liq_queued.contains((*id, scope)) {
                    return Err(format!(
                        "account {id} {scope:?} is below maintenance (equity {equity}, MM {mm}) but not queued"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every holder's safe band is sound: its unit is the position's alone, and at both ends
    /// of the band (as the side's shrink reads it), all else unchanged, the unit is at least
    /// one micro-unit above maintenance, which by the concavity of headroom in the mark holds
    /// across the band (`crate::market::SafeBand`). This checks the band's formula, the
    /// funding shrink, and that every change to an account reached the liquidation pass.
    fn check_safe_bands(&self, m: &crate::market::Market) -> Result<(), String> {
        use crate::account::MarginMode;
        for (side, holders) in m.holders.iter().enumerate() {
            holders.check_index().map_err(|e| format!("{}'s holders of side {side}: {e}", m.spec.symbol))?;
            for (id, band) in holders.iter() {
                let Some((lo, hi)) = band.ends(m.band_shrink[side]) else { continue };
                let a = &self.accounts[&id];
                let p = a.position(m.id);
                let isolated = a.mode(m.id) == MarginMode::Isolated;
                let shared = !isolated
                    && a.positions
                        .iter()
                        .any(|(mid, q)| *mid != m.id && q.size.0 != 0 && a.mode(*mid) == MarginMode::Cross);
                if shared {
                    self.check_shared_bands(id)?;
                    continue;
                }
                let cash = if isolated { p.isolated_margin } else { a.collateral };
                for end in [lo, hi] {
                    let sound = super::liquidation::lone_position_figures(m, end, &p, cash)
                        .is_some_and(|(equity, mm)| equity.0 >= mm.0.saturating_add(1));
                    if !sound {
                        return Err(format!(
                            "account {id}'s safe band [{lo}, {hi}] in {} reaches maintenance at {end}",
                            m.spec.symbol
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The safe bands of an account's cross positions, when it holds several: at every corner
    /// of the box they span (a market whose position has no band stays at its mark) its cross
    /// unit is above maintenance, by exact figures. The headroom is concave in the marks, so
    /// the corners are where it is lowest (`market/safe_band.rs`).
    fn check_shared_bands(&self, id: crate::ids::AccountId) -> Result<(), String> {
        use crate::account::MarginMode;
        let a = &self.accounts[&id];
        // Per cross position: its market, the marks its coordinate takes, its size and cost.
        let mut axes = Vec::new();
        for (mid, p) in &a.positions {
            if p.size.0 == 0 || a.mode(*mid) != MarginMode::Cross {
                continue;
            }
            let m = &self.markets[mid.index()];
            let Some(mark) = m.mark else { continue };
            let side = usize::from(p.size.0 < 0);
            let ends = m.holders[side].band(id).and_then(|b| b.ends(m.band_shrink[side]));
            axes.push((m, ends.map_or(vec![mark], |(lo, hi)| vec![lo, hi]), p));
        }
        if axes.len() > crate::market::MAX_SHARED_POSITIONS && axes.iter().any(|(_, marks, _)| marks.len() > 1) {
            return Err(format!("account {id} has safe bands for a unit of {} positions", axes.len()));
        }
        let corners = axes.iter().map(|(_, marks, _)| marks.len()).product::<usize>();
        for corner in 0..corners {
            let (mut equity, mut mm, mut at) = (i128::from(a.collateral.0), 0i128, Vec::new());
            let mut rest = corner;
            for (m, marks, p) in &axes {
                let mark = marks[rest % marks.len()];
                rest /= marks.len();
                at.push(format!("{} {mark}", m.spec.symbol));
                // The engine's own valuation of a position; a figure that doesn't fit fails the
                // band, as for a lone position.
                let (upnl, need) = super::liquidation::position_figures(m, mark, p)
                    .ok_or_else(|| format!("account {id}'s band reaches a figure beyond i64 at {mark}"))?;
                equity += i128::from(upnl.0);
                mm += i128::from(need.0);
            }
            if equity < mm + 1 {
                return Err(format!(
                    "account {id}'s shared safe bands reach maintenance at [{}] (equity {equity}, MM {mm})",
                    at.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Funding and oracle state: every live market's clocks are ahead of the engine clock (every
    /// due sample and settlement ran), its period is at most 8 hours, its oracle state matches
    /// its sources, and the stale stage is `live` exactly when no outage is running; funding
    /// totals of positions are never negative.
    fn check_funding(&self) -> Result<(), String> {
        let due = self.next_clock_work();
        if self.clock_work_due > due {
            return Err(format!("step 1 skips until {} but work is due at {}", self.clock_work_due.0, due.0));
        }
        for m in &self.markets {
            let sym = &m.spec.symbol;
            let f = &m.funding;
            if m.status != crate::market::MarketStatus::Delisted
                && (f.next_funding <= self.now || f.next_sample_at <= self.now)
            {
                return Err(format!("{sym}: a due funding time or sample did not run"));
            }
            let period = f.next_funding.0 - f.period_start.0;
            if period <= 0 || period > crate::risk::funding::EIGHT_HOURS_MS {
                return Err(format!("{sym}: funding period of {period} ms"));
            }
            let o = &m.oracle;
            let n = m.spec.oracle.sources.len();
            if o.prices.len() != n || o.status.len() != n {
                return Err(format!("{sym}: oracle state does not match its {n} sources"));
            }
            if (o.stage == crate::market::OracleStage::Live) != o.stale_since.is_none() {
                return Err(format!("{sym}: stale stage {:?} with outage start {:?}", o.stage, o.stale_since));
            }
            if o.index.is_some() && o.stage != crate::market::OracleStage::Live {
                return Err(format!("{sym}: an index stands but the market is {:?}", o.stage));
            }
            if o.basis.len() > m.spec.oracle.mark_basis_samples as usize {
                return Err(format!("{sym}: basis window over its length"));
            }
        }
        for (id, a) in &self.accounts {
            for (m, p) in &a.positions {
                if p.funding_paid.is_negative() || p.funding_received.is_negative() {
                    return Err(format!("account {id}: negative funding totals in market {m}"));
                }
            }
        }
        Ok(())
    }

    /// Every armed stop belongs to a funded account, has an issued id that is not also a resting
    /// order, holds its client id, and no account holds more stops than its market allows.
    fn check_stops(&self) -> Result<(), String> {
        for m in &self.markets {
            let sym = &m.spec.symbol;
            // A stop that fires where the stop pass will look for it: it looks only when due.
            if !self.stops_due && m.stops_watched() {
                if let Some((id, _)) = m.stops.first_fired(m.mark, m.last_price) {
                    return Err(format!("{sym}: stop {id} fires but the stop pass is not due to look"));
                }
            }
            let mut per_account: BTreeMap<AccountId, u32> = BTreeMap::new();
            m.stops.check_index().map_err(|e| format!("{sym}: {e}"))?;
            for s in m.stops.values() {
                let id = s.id;
                if id.0 >= self.next_order_id || m.book.get(id).is_some() {
                    return Err(format!("{sym}: stop {id} has an id not yet issued, or is also in the book"));
                }
                if !self.accounts.contains_key(&s.account) {
                    return Err(format!("{sym}: stop {id} belongs to unknown account {}", s.account));
                }
                let n = per_account.entry(s.account).or_default();
                *n += 1;
                if *n > m.spec.limits.max_stops_per_account {
                    return Err(format!("{sym}: account {} holds more stops than allowed", s.account));
                }
                if let Some(cid) = &s.client_id {
                    let held = self.client_orders.get(s.account, cid);
                    if !held.is_some_and(|e| e.order_id == id && e.terminal.is_none()) {
                        return Err(format!("{sym}: stop {id} does not hold client id {cid}"));
                    }
                }
            }
        }
        Ok(())
    }
}
