//! Collateral, leverage and margin: the account side of the engine.
//!
//! Margin is computed on demand from positions, open orders and marks, so it can never drift
//! from them: equity `= collateral + Σ unrealised PnL at mark`; the IM requirement is the sum
//! over markets of [`im_requirement`]; maintenance is the sum of [`maintenance_margin`] of each
//! position's notional. An order is accepted if it does not raise the IM requirement, or if
//! equity covers the requirement after it.

use super::{Engine, Out};
use crate::account::{Account, MarginMode, default_leverage};
use crate::book::{Side, SideTotals};
use crate::event::EventKind;
use crate::ids::{AccountId, MarketId};
use crate::market::{Market, tier_for_notional};
use crate::num::{Price, Qty, Quote, narrow};
use crate::reject::RejectReason;
use crate::risk::margin::{
    Exposure, im_requirement, initial_margin, maintenance_margin, notional, order_loss, order_loss_from_totals,
    worst_notional,
};
use crate::risk::position::unrealized_pnl;

/// An account's margin figures at current marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarginSummary {
    /// Collateral.
    pub collateral: Quote,
    /// Σ unrealised PnL at mark.
    pub unrealized_pnl: Quote,
    /// `collateral + unrealised PnL`.
    pub equity: Quote,
    /// Initial margin of positions and open orders.
    pub initial_margin: Quote,
    /// Maintenance margin of positions.
    pub maintenance_margin: Quote,
}

impl MarginSummary {
    /// What may be withdrawn: `equity − IM − unrealised profit` (profit is not withdrawable
    /// until realised), never negative.
    #[must_use]
    pub fn withdrawable(&self) -> Quote {
        let profit = self.unrealized_pnl.0.max(0);
        // Saturating: at a mark near overflow an account's `equity − IM` can lie below i64,
        // and must read as nothing withdrawable, not wrap around.
        Quote(self.equity.0.saturating_sub(self.initial_margin.0).saturating_sub(profit).max(0))
    }
}

/// An isolated position's own figures at mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsolatedSummary {
    /// The position's own margin.
    pub margin: Quote,
    /// Its unrealised PnL at mark.
    pub unrealized_pnl: Quote,
    /// `margin + unrealised PnL`.
    pub equity: Quote,
    /// IM of the position at mark.
    pub initial_margin: Quote,
    /// MM of the position at mark.
    pub maintenance_margin: Quote,
}

impl IsolatedSummary {
    /// What may be taken out of the position's margin: never its unrealised profit, never below
    /// IM: `max(0, min(margin, margin + min(0, uPnL) − IM))`.
    #[must_use]
    pub fn removable(&self) -> Quote {
        let loss = self.unrealized_pnl.0.min(0);
        Quote((self.margin.0 + loss - self.initial_margin.0).min(self.margin.0).max(0))
    }
}

/// A hypothetical order added to an account's exposure for a margin check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtraOrder {
    pub market: MarketId,
    pub side: Side,
    pub qty: Qty,
    pub loss: Quote,
}

fn overflow(_: crate::num::ArithmeticError) -> RejectReason {
    RejectReason::BalanceOverflow
}

impl Engine {
    /// An account by id.
    #[must_use]
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    /// All accounts, by id.
    pub fn accounts(&self) -> impl Iterator<Item = (&AccountId, &Account)> {
        self.accounts.iter()
    }

    pub(crate) fn account_ref(&self, id: AccountId) -> Result<&Account, RejectReason> {
        let Some(a) = self.accounts.get(&id) else { return Err(RejectReason::UnknownAccount(id.0)) };
        Ok(a)
    }

    /// The leverage `account` uses in `market`.
    #[must_use]
    pub fn leverage_of(&self, account: &Account, market: &Market) -> u32 {
        account.leverage.get(&market.id).copied().unwrap_or_else(|| default_leverage(market.spec.max_leverage))
    }

    /// The account's exposure in a market: its position and its open non-reduce-only orders.
    ///
    /// Read from the book's per-account order totals ([`crate::book::SideTotals`]); the order
    /// loss walks the account's orders only when the mark lies strictly inside one side's price
    /// range ([`order_loss_from_totals`]). Measured in docs/PERFORMANCE.md ("Per-account order
    /// totals"); the margin-model tests compare every verdict with an independent model that
    /// walks the orders.
    ///
    /// Inlined into its callers (the order check calls it for every market it values):
    /// `engine_mix` −1.7 % instructions, `book_mix` 1k −1.7 % (callgrind, docs/PERFORMANCE.md
    /// "Session 14").
    #[inline(always)]
    pub(crate) fn exposure(
        &self,
        id: AccountId,
        account: &Account,
        m: &Market,
        mark: Price,
    ) -> Result<Exposure, RejectReason> {
        let q = m.quote_per_tick_lot;
        let [buys, sells] = m.book.open_totals(id);
        let size = |t: &SideTotals| narrow(t.qty).map(Qty).map_err(overflow);
        let order_loss =
            match (order_loss_from_totals(q, true, &buys, mark), order_loss_from_totals(q, false, &sells, mark)) {
                (Some(b), Some(s)) => b.and_then(|b| b.checked_add(s?)).map_err(overflow)?,
                _ => Self::order_loss_by_walk(id, m, mark)?,
            };
        Ok(Exposure {
            position: account.position(m.id).size,
            open_buys: size(&buys)?,
            open_sells: size(&sells)?,
            order_loss,
        })
    }

    /// Σ immediate loss of the account's non-reduce-only orders against `mark`, order by order.
    fn order_loss_by_walk(id: AccountId, m: &Market, mark: Price) -> Result<Quote, RejectReason> {
        let mut total = Quote::ZERO;
        for oid in m.book.orders_of(id) {
            let o = m.book.get(oid).expect("listed order is open");
            if o.reduce_only {
                continue;
            }
            let loss = order_loss(m.quote_per_tick_lot, o.side == Side::Buy, o.price, o.qty, mark).map_err(overflow)?;
            total = total.checked_add(loss).map_err(overflow)?;
        }
        Ok(total)
    }

    /// Margin figures of an account at current marks.
    pub(crate) fn margin_summary(&self, id: AccountId) -> Result<MarginSummary, RejectReason> {
        let account = self.account_ref(id)?;
        let mut s = MarginSummary { collateral: account.collateral, ..MarginSummary::default() };
        for m in &self.markets {
            if account.position(m.id).size == Qty::ZERO && m.book.open_order_count(id) == 0 {
                continue;
            }
            let Some(mark) = m.mark else { continue };
            let e = self.exposure(id, account, m, mark)?;
            self.add_market_margin(account, m, mark, &e, true, &mut s)?;
        }
        s.equity = s.collateral.checked_add(s.unrealized_pnl).map_err(overflow)?;
        Ok(s)
    }

    /// Adds one market's part (exposure `e` at `mark`) to an account's margin figures; the
    /// maintenance margin only if `maintenance` (the order check compares initial margin with
    /// equity and leaves it at zero: its tier lookup and division were a measurable part of
    /// every order's cost).
    fn add_market_margin(
        &self,
        account: &Account,
        m: &Market,
        mark: Price,
        e: &Exposure,
        maintenance: bool,
        s: &mut MarginSummary,
    ) -> Result<(), RejectReason> {
        let leverage = self.leverage_of(account, m);
        let im = im_requirement(m.quote_per_tick_lot, mark, leverage, e).map_err(overflow)?;
        Self::add_market_part(account, m, mark, leverage, im, maintenance, s)
    }

    /// [`Engine::add_market_margin`] with the market's leverage and IM requirement `im` already
    /// worked out: the order check has both in hand for the order's market (working them out
    /// again was 8 % of the check's instructions on `engine_mix`; docs/PERFORMANCE.md,
    /// "Session 13"). The notional is computed only where it is used.
    fn add_market_part(
        account: &Account,
        m: &Market,
        mark: Price,
        leverage: u32,
        im: Quote,
        maintenance: bool,
        s: &mut MarginSummary,
    ) -> Result<(), RejectReason> {
        let q = m.quote_per_tick_lot;
        let p = account.position(m.id);
        if account.mode(m.id) == MarginMode::Isolated {
            // The position stands on its own margin; the account's collateral backs only the
            // orders' increment over the position's IM.
            let n = notional(q, p.size, mark).map_err(overflow)?;
            let orders_only = Quote(im.0 - initial_margin(n, leverage).0);
            s.initial_margin = s.initial_margin.checked_add(orders_only).map_err(overflow)?;
            return Ok(());
        }
        let upnl = unrealized_pnl(p.size, p.cost_basis, mark, q).map_err(overflow)?;
        s.unrealized_pnl = s.unrealized_pnl.checked_add(upnl).map_err(overflow)?;
        s.initial_margin = s.initial_margin.checked_add(im).map_err(overflow)?;
        if maintenance {
            let n = notional(q, p.size, mark).map_err(overflow)?;
            let mm = maintenance_margin(&m.spec.tiers, n).map_err(overflow)?;
            s.maintenance_margin = s.maintenance_margin.checked_add(mm).map_err(overflow)?;
        }
        Ok(())
    }

    /// Margin figures of an account at current marks.
    ///
    /// # Errors
    /// [`RejectReason::UnknownAccount`], or [`RejectReason::BalanceOverflow`] for figures
    /// beyond the engine's numbers.
    pub fn margin(&self, id: AccountId) -> Result<MarginSummary, RejectReason> {
        self.margin_summary(id)
    }

    /// Checks that the tier of `worst`, the largest notional the exposure can reach
    /// ([`worst_notional`]), allows `leverage`.
    pub(crate) fn check_tier(m: &Market, worst: Quote, leverage: u32) -> Result<(), RejectReason> {
        let max = tier_for_notional(&m.spec.tiers, worst).max_leverage;
        if leverage > max {
            return Err(RejectReason::LeverageAboveTier { leverage, max });
        }
        Ok(())
    }

    /// The margin check of a new order (or an amend's change, `extra`): tier, then "does not
    /// raise IM, or equity covers it".
    ///
    /// Only the order's market differs with and without the order, so "raises IM" is decided
    /// on that market's requirement alone (`IM(e + order) > IM(e)`); the whole account —
    /// equity and every market's IM — is valued only when it does. Measured: the check used
    /// to value the whole account before and after every order and amend (docs/PERFORMANCE.md,
    /// "Per-account order totals"); the margin-model tests compare every verdict with an
    /// independent model.
    pub(crate) fn check_order_margin(
        &self,
        id: AccountId,
        m: &Market,
        mark: Price,
        extra: ExtraOrder,
    ) -> Result<(), RejectReason> {
        debug_assert_eq!(extra.market, m.id, "the order is in the market checked");
        let account = self.account_ref(id)?;
        let leverage = self.leverage_of(account, m);
        let e = self.exposure(id, account, m, mark)?;
        let mut e2 = e;
        // Both sides added to, one of them zero: a select, not a jump on the order's side (a
        // coin toss; docs/PERFORMANCE.md, "Session 27").
        let (to_buys, to_sells) = if extra.side == Side::Buy { (extra.qty, Qty::ZERO) } else { (Qty::ZERO, extra.qty) };
        e2.open_buys = e2.open_buys.checked_add(to_buys).map_err(overflow)?;
        e2.open_sells = e2.open_sells.checked_add(to_sells).map_err(overflow)?;
        let q = m.quote_per_tick_lot;
        // The tier and the IM with the order both take its worst notional: one product for
        // the two (they were three; docs/PERFORMANCE.md, "Session 17").
        let worst = worst_notional(q, mark, &e2).map_err(overflow)?;
        Self::check_tier(m, worst, leverage)?;
        e2.order_loss = e2.order_loss.checked_add(extra.loss).map_err(overflow)?;
        let before = im_requirement(q, mark, leverage, &e).map_err(overflow)?;
        let after = initial_margin(worst, leverage).checked_add(e2.order_loss).map_err(overflow)?;
        if after <= before {
            return Ok(());
        }
        // It raises the requirement: the account's equity must cover its whole IM with it.
        let mut s = MarginSummary { collateral: account.collateral, ..MarginSummary::default() };
        for other in &self.markets {
            if other.id == m.id {
                Self::add_market_part(account, m, mark, leverage, after, false, &mut s)?;
                continue;
            }
            if account.position(other.id).size == Qty::ZERO && other.book.open_order_count(id) == 0 {
                continue;
            }
            let Some(other_mark) = other.mark else { continue };
            let e = self.exposure(id, account, other, other_mark)?;
            self.add_market_margin(account, other, other_mark, &e, false, &mut s)?;
        }
        let equity = s.collateral.checked_add(s.unrealized_pnl).map_err(overflow)?;
        if equity < s.initial_margin {
            return Err(RejectReason::InsufficientMargin { required: s.initial_margin, available: equity });
        }
        Ok(())
    }

    /// How much an order on `side` may still reduce of the account's position (0 if the position
    /// is flat or on the same side).
    pub(crate) fn reducible(&self, id: AccountId, market: MarketId, side: Side) -> Qty {
        let size = self.accounts.get(&id).map_or(Qty::ZERO, |a| a.position(market).size);
        match side {
            Side::Buy if size.is_negative() => Qty(-size.0),
            Side::Sell if size.is_positive() => size,
            _ => Qty::ZERO,
        }
    }

    /// The figures of an isolated position, or `None` if the account has none in `market`.
    ///
    /// # Errors
    /// [`RejectReason::BalanceOverflow`] for figures beyond the engine's numbers.
    pub fn isolated(&self, id: AccountId, market: MarketId) -> Result<Option<IsolatedSummary>, RejectReason> {
        let (Some(a), Some(m)) = (self.accounts.get(&id), self.markets.get(market.index())) else { return Ok(None) };
        let p = a.position(market);
        if a.mode(market) != MarginMode::Isolated || p.size.0 == 0 {
            return Ok(None);
        }
        let Some(mark) = m.mark else { return Ok(None) };
        let q = m.quote_per_tick_lot;
        let n = notional(q, p.size, mark).map_err(overflow)?;
        let upnl = unrealized_pnl(p.size, p.cost_basis, mark, q).map_err(overflow)?;
        Ok(Some(IsolatedSummary {
            margin: p.isolated_margin,
            unrealized_pnl: upnl,
            equity: p.isolated_margin.checked_add(upnl).map_err(overflow)?,
            initial_margin: initial_margin(n, self.leverage_of(a, m)),
            maintenance_margin: maintenance_margin(&m.spec.tiers, n).map_err(overflow)?,
        }))
    }

    pub(crate) fn set_margin_mode(
        &mut self,
        id: AccountId,
        market: MarketId,
        mode: MarginMode,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        let m = self.markets.get(market.index()).ok_or_else(|| RejectReason::UnknownMarket(market.to_string()))?;
        let account = self.account_ref(id)?;
        let busy =
            account.position(market).size.0 != 0 || m.book.open_order_count(id) != 0 || m.stops.count_of(id) != 0;
        if busy {
            return Err(RejectReason::MarginModeChangeBlocked);
        }
        self.accounts.get_mut(&id).expect("checked").margin_mode.insert(market, mode);
        out.push(EventKind::MarginModeSet { account: id, market, mode });
        Ok(())
    }

    pub(crate) fn adjust_isolated_margin(
        &mut self,
        id: AccountId,
        market: MarketId,
        amount: Quote,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        if self.markets.get(market.index()).is_none() {
            return Err(RejectReason::UnknownMarket(market.to_string()));
        }
        self.account_ref(id)?;
        let Some(iso) = self.isolated(id, market)? else { return Err(RejectReason::NotIsolated) };
        if amount.is_positive() {
            let available = self.margin(id)?.withdrawable();
            if amount > available {
                return Err(RejectReason::InsufficientMargin { required: amount, available });
            }
        } else if amount.is_negative() {
            self.check_not_liquidating(id)?;
            let requested = Quote(amount.0.saturating_neg());
            if requested > iso.removable() {
                return Err(RejectReason::IsolatedMarginAboveRemovable { requested, available: iso.removable() });
            }
        } else {
            return Err(RejectReason::NonPositiveAmount(amount));
        }
        let a = self.accounts.get_mut(&id).expect("checked");
        a.collateral = Quote(a.collateral.0 - amount.0);
        let pos = a.positions.get_mut(&market).expect("isolated position exists");
        pos.isolated_margin = Quote(pos.isolated_margin.0 + amount.0);
        out.push(EventKind::IsolatedMarginChanged {
            account: id,
            market,
            amount,
            isolated_margin: pos.isolated_margin,
            collateral: a.collateral,
        });
        Ok(())
    }

    pub(crate) fn deposit(&mut self, id: AccountId, amount: Quote, out: &mut Out<'_>) -> Result<(), RejectReason> {
        if !amount.is_positive() {
            return Err(RejectReason::NonPositiveAmount(amount));
        }
        self.check_money_in(amount)?;
        let current = self.accounts.get(&id).map_or(Quote::ZERO, |a| a.collateral);
        let collateral = current.checked_add(amount).map_err(overflow)?;
        let deposits = self.ledger.deposits.checked_add(amount).map_err(overflow)?;
        self.accounts.get_or_create(id).collateral = collateral;
        self.ledger.deposits = deposits;
        out.push(EventKind::Deposited { account: id, amount, collateral });
        Ok(())
    }

    pub(crate) fn withdraw(&mut self, id: AccountId, amount: Quote, out: &mut Out<'_>) -> Result<(), RejectReason> {
        if !amount.is_positive() {
            return Err(RejectReason::NonPositiveAmount(amount));
        }
        self.account_ref(id)?;
        self.check_not_liquidating(id)?;
        let available = self.margin(id)?.withdrawable();
        if amount > available {
            return Err(RejectReason::WithdrawalAboveAvailable { requested: amount, available });
        }
        let withdrawals = self.ledger.withdrawals.checked_add(amount).map_err(overflow)?;
        let account = self.accounts.get_mut(&id).expect("checked above");
        account.collateral = Quote(account.collateral.0 - amount.0);
        self.ledger.withdrawals = withdrawals;
        out.push(EventKind::Withdrawn { account: id, amount, collateral: account.collateral });
        Ok(())
    }

    pub(crate) fn set_leverage(
        &mut self,
        id: AccountId,
        market: MarketId,
        leverage: u32,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        let m = self.markets.get(market.index()).ok_or_else(|| RejectReason::UnknownMarket(market.to_string()))?;
        let account = self.account_ref(id)?;
        self.check_not_liquidating(id)?;
        let max = m.spec.max_leverage;
        if leverage == 0 || leverage > max {
            return Err(RejectReason::InvalidLeverage { leverage, max });
        }
        if let Some(mark) = m.mark {
            let e = self.exposure(id, account, m, mark)?;
            Self::check_tier(m, worst_notional(m.quote_per_tick_lot, mark, &e).map_err(overflow)?, leverage)?;
        }
        let before = self.margin(id)?;
        let previous = self.accounts.get_mut(&id).expect("checked").leverage.insert(market, leverage);
        let after = self.margin(id);
        let refused = match &after {
            Err(r) => Some(r.clone()),
            Ok(a) if a.initial_margin > before.initial_margin && a.equity < a.initial_margin => {
                Some(RejectReason::InsufficientMargin { required: a.initial_margin, available: a.equity })
            }
            Ok(_) => None,
        };
        if let Some(reason) = refused {
            // Restore: a rejection changes nothing.
            let lev = &mut self.accounts.get_mut(&id).expect("checked").leverage;
            match previous {
                Some(p) => lev.insert(market, p),
                None => lev.remove(&market),
            };
            return Err(reason);
        }
        out.push(EventKind::LeverageSet { account: id, market, leverage });
        Ok(())
    }
}
