//! How the margin model follows liquidations (`docs/LIQUIDATION.md`).
//!
//! The engine decides *what* happens — which unit, which close, which liquidator, which winner
//! — and tells it in events; the model recomputes *how much* with its own arithmetic and checks
//! every figure the events carry:
//!
//! - a unit's equity and MM (`liquidation_queued`, `_started`, `_averted`, `_finished`) are the
//!   model's own (cross: collateral + Σ cross uPnL against Σ cross MM; isolated: margin + uPnL
//!   against the position's MM); a queued unit is below maintenance, not queued already, and
//!   joins the back; a started or averted unit is the front of the queue (an isolated unit gone
//!   flat in the meantime is dropped silently, as the engine does); after every command's pass
//!   the queue is empty or the pass's budget was spent, and every unit below maintenance is
//!   queued;
//! - the position closed is the unit's largest MM (ties: lowest market); a liquidation order's
//!   bankruptcy price `B = mark − sign × E / (|size| × q)` (⌊B⌋ for a long, ⌈B⌉ for a short) and
//!   its limit (the safe side of `B`, inside the band) are recomputed; its size is checked from
//!   its fills: a partial close of `k` lots clears `E − slippage(k) − fee(k) ≥ MM_after(k) ×
//!   (1 + buffer)` and `k − 1` lots would not (the fills are the book walk's own prefix); a full
//!   close that the book could have filled but for one lot fails the rule at `|size| − 1`;
//! - liquidation fills, backstop takeovers and ADL trades are settled by the model (no fee for
//!   the liquidated side, its isolated result kept in its margin; no fee for the liquidator or
//!   the winner); a takeover's price is `⌈mark × (1 − discount)⌉` / `⌊mark × (1 + discount)⌋`,
//!   its size at most what the funds can pay the gap of, and its gap `⌈s × (|mark − price| × q ×
//!   |size| − E) / |size|⌉`; the funds pay it insurance first (own, or shared up to the market's
//!   draw cap), then guaranty;
//! - an ADL trade is at `B` rounded in the winners' favour when the unit has negative equity, at
//!   mark when it has equity left (`engine/adl.rs`); the sub-tick rest `⌈lots × |B − P| × q⌉` is
//!   shared by the winners in proportion to their lots, remainder units to the first; the
//!   winners are on the other side, in rank order; `profit_given_up` is `(P − mark) × lots × q ×
//!   sign + settlement`;
//! - every close takes all it planned or nothing, and its fee is `min(⌈rate × lots × mark × q⌉,
//!   cap)` (cap `E − MM` while positions remain, else the unit's cash) — charged exactly when
//!   positive, and never capped after a partial close (its size was chosen with the full fee);
//! - a closed-out unit's deficit goes down the waterfall (`deficit_covered` per fund, then
//!   `deficit_uncovered`), charged to its isolated market or its account's lowest-id cross
//!   market (else its lowest-id market); a closed-out isolated unit's margin returns to collateral. A `deficit_uncovered`
//!   is followed like the rest, and also recorded as a discrepancy
//!   ([`MarginModel::discrepancies`]): the document says it cannot arise.

use std::collections::VecDeque;

use perpx_core::account::MarginMode;
use perpx_core::event::{FundRef, LiquidationOutcome, LiquidationScope};
use perpx_core::market::InsurancePolicy;
use perpx_core::{AccountId, EventKind, Fill, MarketId, OrderId, Side};

use super::{FillSide, MarginModel, RATE_SCALE, SettleMode, ceil_div, maintenance, narrow};

/// What the model checked of the liquidations it followed, counted over its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiquidationChecks {
    /// Cross units queued (their figures checked).
    pub queued_cross: u64,
    /// Isolated units queued.
    pub queued_isolated: u64,
    /// Cross units whose liquidation started.
    pub started_cross: u64,
    /// Isolated units whose liquidation started.
    pub started_isolated: u64,
    /// Units back above maintenance at their turn.
    pub averted: u64,
    /// Liquidations that ended partial (back above maintenance with positions left).
    pub partial: u64,
    /// Closed out.
    pub closed_out: u64,
    /// Stalled (nothing could take the position).
    pub stalled: u64,
    /// Isolated units liquidated in part.
    pub isolated_partial: u64,
    /// Isolated units closed out.
    pub isolated_closed_out: u64,
    /// Liquidation orders whose bankruptcy price and limit the model recomputed.
    pub orders: u64,
    /// Liquidation orders whose limit was the band's edge rather than the bankruptcy price.
    pub limits_at_band: u64,
    /// Partial sizes verified to be the smallest that clears the buffer.
    pub partial_sizes: u64,
    /// Full closes verified to have had no partial that clears the buffer with the book.
    pub full_sizes: u64,
    /// Fills of liquidation orders (taker fee-free).
    pub liquidation_fills: u64,
    /// Backstop takeovers.
    pub takeovers: u64,
    /// Takeovers whose gap the funds paid.
    pub gaps: u64,
    /// ADL trades at the bankruptcy price (the unit had negative equity).
    pub adl_at_bankruptcy: u64,
    /// ADL trades at mark (the unit had equity left).
    pub adl_at_mark: u64,
    /// ADL trades whose winner paid a share of the sub-tick rest.
    pub adl_settlements: u64,
    /// ADL closes shared by more than one winner.
    pub adl_shared: u64,
    /// Liquidation fees checked.
    pub fees: u64,
    /// Fees the cap `E − MM` bound, positions remaining.
    pub fees_capped_partial: u64,
    /// Fees the cap "what is left" bound, the unit closed out.
    pub fees_capped_full: u64,
    /// Closes after which no fee was due and none was charged (cap at or below zero).
    pub no_fee: u64,
    /// `deficit_covered` payments checked, from a market's own fund.
    pub covered_market: u64,
    /// From the shared fund.
    pub covered_shared: u64,
    /// From the guaranty fund.
    pub covered_guaranty: u64,
    /// Closed-out units with a deficit the waterfall paid.
    pub closeout_deficits: u64,
    /// `deficit_uncovered` events checked.
    pub uncovered: u64,
    /// Closed-out isolated units whose leftover margin (positive) returned to collateral.
    pub isolated_returned: u64,
    /// Queued isolated units dropped at their turn because the position was gone.
    pub silent_drops: u64,
    /// Capital paid into a fund.
    pub capitalised: u64,
}

impl LiquidationChecks {
    /// Adds another tally to this one.
    pub fn add(&mut self, o: &Self) {
        self.queued_cross += o.queued_cross;
        self.queued_isolated += o.queued_isolated;
        self.started_cross += o.started_cross;
        self.started_isolated += o.started_isolated;
        self.averted += o.averted;
        self.partial += o.partial;
        self.closed_out += o.closed_out;
        self.stalled += o.stalled;
        self.isolated_partial += o.isolated_partial;
        self.isolated_closed_out += o.isolated_closed_out;
        self.orders += o.orders;
        self.limits_at_band += o.limits_at_band;
        self.partial_sizes += o.partial_sizes;
        self.full_sizes += o.full_sizes;
        self.liquidation_fills += o.liquidation_fills;
        self.takeovers += o.takeovers;
        self.gaps += o.gaps;
        self.adl_at_bankruptcy += o.adl_at_bankruptcy;
        self.adl_at_mark += o.adl_at_mark;
        self.adl_settlements += o.adl_settlements;
        self.adl_shared += o.adl_shared;
        self.fees += o.fees;
        self.fees_capped_partial += o.fees_capped_partial;
        self.fees_capped_full += o.fees_capped_full;
        self.no_fee += o.no_fee;
        self.covered_market += o.covered_market;
        self.covered_shared += o.covered_shared;
        self.covered_guaranty += o.covered_guaranty;
        self.closeout_deficits += o.closeout_deficits;
        self.uncovered += o.uncovered;
        self.isolated_returned += o.isolated_returned;
        self.silent_drops += o.silent_drops;
        self.capitalised += o.capitalised;
    }
}

/// The unit being liquidated.
#[derive(Debug, Clone)]
pub(super) struct Running {
    account: AccountId,
    scope: LiquidationScope,
    /// The close in progress.
    close: Option<Close>,
    /// Waterfall events the model expects next.
    draws: VecDeque<Draw>,
    /// The ADL trades of the close in progress.
    adl: Option<AdlGroup>,
}

/// One close of one position (one `close_position` of the engine).
#[derive(Debug, Clone)]
struct Close {
    market: MarketId,
    mark: i64,
    /// The position's size when the close began.
    size: i64,
    /// The unit's equity and MM when the close began.
    equity: i128,
    mm: i128,
    /// The lots the close means to take: the liquidation order's size, else the whole position.
    planned: i64,
    /// The liquidation order and its fills (price, lots), in order.
    order: Option<OrderId>,
    fills: Vec<(i64, i64)>,
    /// Lots closed so far (book, backstops, ADL).
    closed: i64,
    /// The last liquidator that took over (they go in id order).
    last_liquidator: Option<AccountId>,
}

/// A waterfall event the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draw {
    Covered { market: MarketId, fund: FundRef, amount: i64 },
    Uncovered { market: MarketId, amount: i64 },
}

/// The ADL trades of one close: `B = num / den` when the first was read.
#[derive(Debug, Clone)]
struct AdlGroup {
    market: MarketId,
    bankrupt: AccountId,
    /// |size| of the bankrupt position when ADL began, and its sign.
    size: i128,
    sign: i64,
    num: i128,
    den: i128,
    at_bankruptcy: bool,
    /// (winner, lots, settlement, rank) in event order.
    trades: Vec<(AccountId, i64, i64, i128)>,
}

/// `⌊num / den⌋`, `⌈num / den⌉` for `den > 0`.
fn floor_ceil(num: i128, den: i128) -> (i128, i128) {
    (num.div_euclid(den), ceil_div(num, den))
}

fn scope_name(scope: LiquidationScope) -> String {
    match scope {
        LiquidationScope::Cross => "cross".into(),
        LiquidationScope::Isolated(m) => format!("isolated in market {m}"),
    }
}

impl MarginModel {
    /// Whether `market` belongs to the unit `scope` of `account`.
    fn in_scope(&self, account: AccountId, scope: LiquidationScope, market: MarketId) -> bool {
        let isolated = self.accounts.get(&account).is_some_and(|a| a.is_isolated(market));
        match scope {
            LiquidationScope::Cross => !isolated,
            LiquidationScope::Isolated(m) => m == market && isolated,
        }
    }

    /// A unit's equity and maintenance margin at the model's marks: `None` for an unknown
    /// account, or an isolated position that is flat.
    fn unit_figures(&self, account: AccountId, scope: LiquidationScope) -> Result<Option<(i128, i128)>, String> {
        let Some(a) = self.accounts.get(&account) else { return Ok(None) };
        match scope {
            LiquidationScope::Isolated(m) => Ok(self
                .isolated(account, m)
                .transpose()?
                .map(|f| (i128::from(f.equity), i128::from(f.maintenance_margin)))),
            LiquidationScope::Cross => {
                let (mut upnl, mut mm) = (0i128, 0i128);
                for (mid, p) in &a.positions {
                    let Some(m) = self.market(*mid) else { continue };
                    let Some(mark) = m.mark else { continue };
                    if a.is_isolated(*mid) || p.size == 0 {
                        continue;
                    }
                    let value = i128::from(p.size) * i128::from(mark) * i128::from(m.quote_per_tick_lot);
                    upnl += value - i128::from(p.cost_basis);
                    mm += maintenance(&m.spec, value.abs());
                }
                Ok(Some((i128::from(a.collateral) + upnl, mm)))
            }
        }
    }

    /// The cash a unit stands on: the account's collateral, or the isolated position's margin.
    fn unit_cash(&self, account: AccountId, scope: LiquidationScope) -> i128 {
        let Some(a) = self.accounts.get(&account) else { return 0 };
        match scope {
            LiquidationScope::Cross => i128::from(a.collateral),
            LiquidationScope::Isolated(m) => i128::from(a.positions.get(&m).map_or(0, |p| p.isolated_margin)),
        }
    }

    fn add_unit_cash(&mut self, account: AccountId, scope: LiquidationScope, amount: i128) -> Result<(), String> {
        let a = self.accounts.get_mut(&account).ok_or_else(|| format!("unknown account {account}"))?;
        let cash = match scope {
            LiquidationScope::Cross => &mut a.collateral,
            LiquidationScope::Isolated(m) => {
                &mut a.positions.get_mut(&m).ok_or_else(|| format!("{account} has no position in {m}"))?.isolated_margin
            }
        };
        *cash = narrow(i128::from(*cash) + amount, "unit cash")?;
        Ok(())
    }

    /// The unit's open position with the largest MM (ties: the lowest market), with its mark.
    fn next_to_close(&self, account: AccountId, scope: LiquidationScope) -> Option<(MarketId, i64)> {
        let a = self.accounts.get(&account)?;
        let mut best: Option<(i128, MarketId, i64)> = None;
        for (mid, p) in &a.positions {
            let Some(m) = self.market(*mid) else { continue };
            let Some(mark) = m.mark else { continue };
            if p.size == 0 || !self.in_scope(account, scope, *mid) {
                continue;
            }
            let n = i128::from(p.size).abs() * i128::from(mark) * i128::from(m.quote_per_tick_lot);
            let mm = maintenance(&m.spec, n);
            if best.is_none_or(|(b, _, _)| mm > b) {
                best = Some((mm, *mid, mark));
            }
        }
        best.map(|(_, m, mark)| (m, mark))
    }

    fn size_of(&self, account: AccountId, market: MarketId) -> i64 {
        self.accounts.get(&account).and_then(|a| a.positions.get(&market)).map_or(0, |p| p.size)
    }

    /// The insurance fund behind `market` and what it can pay now: its own, or the shared fund
    /// up to the market's draw cap.
    fn insurance_of(&self, market: MarketId) -> Result<(FundRef, i128), String> {
        let m = self.market(market).ok_or_else(|| format!("unknown market {market}"))?;
        Ok(match m.spec.liquidation.insurance {
            InsurancePolicy::Own => (FundRef::Market(market), i128::from(m.insurance_fund).max(0)),
            InsurancePolicy::Shared { max_draw } => {
                let room = i128::from(max_draw.0) - i128::from(m.shared_net_draw);
                (FundRef::Shared, i128::from(self.ledger.insurance_fund).min(room).max(0))
            }
        })
    }

    /// The payments the waterfall makes for `amount` charged to `market`, and what stays unpaid.
    fn waterfall(&self, market: MarketId, amount: i128) -> Result<(Vec<Draw>, i128), String> {
        let (fund, available) = self.insurance_of(market)?;
        let mut draws = Vec::new();
        let first = amount.min(available);
        if first > 0 {
            draws.push(Draw::Covered { market, fund, amount: narrow(first, "draw")? });
        }
        let second = (amount - first).min(i128::from(self.ledger.guaranty_fund).max(0));
        if second > 0 {
            draws.push(Draw::Covered { market, fund: FundRef::Guaranty, amount: narrow(second, "draw")? });
        }
        Ok((draws, amount - first - second))
    }

    /// Pays `amount` into the fund behind `market` (liquidation fees).
    fn credit_fund(&mut self, market: MarketId, amount: i128) -> Result<FundRef, String> {
        let policy = self.market(market).ok_or_else(|| format!("unknown market {market}"))?.spec.liquidation.insurance;
        Ok(match policy {
            InsurancePolicy::Own => {
                let m = self.market_mut(market)?;
                m.insurance_fund = narrow(i128::from(m.insurance_fund) + amount, "insurance fund")?;
                FundRef::Market(market)
            }
            InsurancePolicy::Shared { .. } => {
                let m = self.market_mut(market)?;
                m.shared_net_draw = narrow(i128::from(m.shared_net_draw) - amount, "net draw")?;
                self.ledger.insurance_fund = narrow(i128::from(self.ledger.insurance_fund) + amount, "shared fund")?;
                FundRef::Shared
            }
        })
    }

    /// A fund's balance after `amount` (signed) moves into it; a draw on the shared fund is
    /// charged to `market`'s net draw.
    fn move_fund(&mut self, fund: FundRef, market: MarketId, amount: i128) -> Result<i64, String> {
        Ok(match fund {
            FundRef::Market(m) => {
                let m = self.market_mut(m)?;
                m.insurance_fund = narrow(i128::from(m.insurance_fund) + amount, "insurance fund")?;
                m.insurance_fund
            }
            FundRef::Shared => {
                if amount < 0 {
                    let m = self.market_mut(market)?;
                    m.shared_net_draw = narrow(i128::from(m.shared_net_draw) - amount, "net draw")?;
                }
                self.ledger.insurance_fund = narrow(i128::from(self.ledger.insurance_fund) + amount, "shared fund")?;
                self.ledger.insurance_fund
            }
            FundRef::Guaranty => {
                self.ledger.guaranty_fund = narrow(i128::from(self.ledger.guaranty_fund) + amount, "guaranty fund")?;
                self.ledger.guaranty_fund
            }
        })
    }

    fn running(&self, account: AccountId, what: &str) -> Result<&Running, String> {
        match &self.running {
            Some(r) if r.account == account => Ok(r),
            Some(r) => Err(format!("{what} for {account} while {} is being liquidated", r.account)),
            None => Err(format!("{what} for {account} outside a liquidation")),
        }
    }

    fn running_mut(&mut self) -> &mut Running {
        self.running.as_mut().expect("checked by running()")
    }

    // ---- events --------------------------------------------------------------------------

    /// Follows one event that is not a plain margin event: the liquidation events, the funds,
    /// the liquidators. Returns the trade sides it settled.
    pub(super) fn liquidation_event(&mut self, kind: &EventKind) -> Result<Vec<FillSide>, String> {
        match kind {
            EventKind::LiquidationQueued { account, scope, equity, maintenance_margin, queue_length } => {
                self.on_queued(*account, *scope, (equity.0, maintenance_margin.0), *queue_length)?;
            }
            EventKind::LiquidationStarted { account, scope, equity, maintenance_margin } => {
                self.on_turn(*account, *scope, (equity.0, maintenance_margin.0), true)?;
            }
            EventKind::LiquidationAverted { account, scope, equity, maintenance_margin } => {
                self.on_turn(*account, *scope, (equity.0, maintenance_margin.0), false)?;
            }
            EventKind::LiquidationOrder { account, market, order_id, side, qty, limit, bankruptcy_price } => {
                self.on_order(*account, *market, *order_id, *side, qty.0, (limit.0, bankruptcy_price.0))?;
            }
            EventKind::BackstopTakeover { market, account, liquidator, side, qty, price, gap_paid } => {
                return self.on_takeover(*market, *account, *liquidator, *side, (qty.0, price.0), gap_paid.0);
            }
            EventKind::Deleveraged {
                market, account, bankrupt, qty, price, settlement, profit_given_up, rank, ..
            } => {
                let figures = (qty.0, price.0, settlement.0, profit_given_up.0);
                return self.on_deleveraged(*market, *account, *bankrupt, figures, rank.get());
            }
            EventKind::LiquidationFee { account, market, amount, fund } => {
                self.on_fee(*account, *market, amount.0, *fund)?;
            }
            EventKind::DeficitCovered { account, market, fund, amount, balance } => {
                self.on_draw(
                    *account,
                    Draw::Covered { market: *market, fund: *fund, amount: amount.0 },
                    Some(balance.0),
                )?;
            }
            EventKind::DeficitUncovered { account, market, amount } => {
                self.on_draw(*account, Draw::Uncovered { market: *market, amount: amount.0 }, None)?;
            }
            EventKind::LiquidationFinished { account, scope, outcome, equity, maintenance_margin } => {
                self.on_finished(*account, *scope, *outcome, (equity.0, maintenance_margin.0))?;
            }
            EventKind::LiquidatorSet { account, active } => {
                if !self.accounts.contains_key(account) {
                    return Err(format!("liquidator {account} set, unknown to the model"));
                }
                if *active {
                    self.liquidators.insert(*account);
                } else {
                    self.liquidators.remove(account);
                }
            }
            EventKind::FundCapitalised { fund, amount, balance } => {
                let market = match fund {
                    FundRef::Market(m) => *m,
                    _ => MarketId(0),
                };
                let after = self.move_fund(*fund, market, i128::from(amount.0))?;
                self.ledger.venue_capital =
                    narrow(i128::from(self.ledger.venue_capital) + i128::from(amount.0), "venue capital")?;
                if after != balance.0 {
                    return Err(format!("{fund:?} capitalised to {balance}, the model {after}"));
                }
                self.checks.capitalised += 1;
            }
            _ => {}
        }
        Ok(Vec::new())
    }

    fn check_figures(
        &self,
        what: &str,
        account: AccountId,
        scope: LiquidationScope,
        got: (i64, i64),
    ) -> Result<(), String> {
        let want = self.unit_figures(account, scope)?;
        if want != Some((i128::from(got.0), i128::from(got.1))) {
            return Err(format!(
                "{what}: {account} {} has (equity, MM) {got:?}, the model {want:?}",
                scope_name(scope)
            ));
        }
        Ok(())
    }

    fn on_queued(
        &mut self,
        account: AccountId,
        scope: LiquidationScope,
        got: (i64, i64),
        length: u64,
    ) -> Result<(), String> {
        self.check_figures("queued", account, scope, got)?;
        if got.0 >= got.1 {
            return Err(format!(
                "{account} {} queued with equity {} at or above MM {}",
                scope_name(scope),
                got.0,
                got.1
            ));
        }
        if self.queue.contains(&(account, scope)) {
            return Err(format!("{account} {} queued twice", scope_name(scope)));
        }
        self.queue.push_back((account, scope));
        if length != self.queue.len() as u64 {
            return Err(format!("queue length {length} reported, the model's queue holds {}", self.queue.len()));
        }
        match scope {
            LiquidationScope::Cross => self.checks.queued_cross += 1,
            LiquidationScope::Isolated(_) => self.checks.queued_isolated += 1,
        }
        Ok(())
    }

    /// A queued unit's turn: it must be the front of the queue (units ahead of it whose isolated
    /// position is gone were dropped without an event).
    fn take_turn(&mut self, account: AccountId, scope: LiquidationScope) -> Result<(), String> {
        loop {
            let front = self.queue.pop_front().ok_or_else(|| {
                format!("{account} {} had its turn, but the model's queue is empty", scope_name(scope))
            })?;
            self.pops += 1;
            if self.pops > self.pass_limit {
                return Err(format!("more than {} units worked in one pass", self.pass_limit));
            }
            if front == (account, scope) {
                return Ok(());
            }
            if self.unit_figures(front.0, front.1)?.is_some() {
                return Err(format!(
                    "{account} {} had its turn before {} {}, ahead of it in the queue",
                    scope_name(scope),
                    front.0,
                    scope_name(front.1)
                ));
            }
            self.checks.silent_drops += 1;
        }
    }

    fn on_turn(
        &mut self,
        account: AccountId,
        scope: LiquidationScope,
        got: (i64, i64),
        started: bool,
    ) -> Result<(), String> {
        if let Some(r) = &self.running {
            return Err(format!("{account}'s turn came while {} is still being liquidated", r.account));
        }
        self.take_turn(account, scope)?;
        let what = if started { "liquidation started" } else { "liquidation averted" };
        self.check_figures(what, account, scope, got)?;
        if started != (got.0 < got.1) {
            return Err(format!("{what} with equity {} against MM {}", got.0, got.1));
        }
        if started {
            self.running = Some(Running { account, scope, close: None, draws: VecDeque::new(), adl: None });
            match scope {
                LiquidationScope::Cross => self.checks.started_cross += 1,
                LiquidationScope::Isolated(_) => self.checks.started_isolated += 1,
            }
        } else {
            self.checks.averted += 1;
        }
        Ok(())
    }

    /// Begins a close of the unit's position in `market`: it must be the one with the largest MM.
    fn begin_close(&mut self, market: MarketId, planned: Option<i64>, order: Option<OrderId>) -> Result<(), String> {
        self.finish_close()?;
        let r = self.running.as_ref().expect("running");
        let (account, scope) = (r.account, r.scope);
        let Some((next, mark)) = self.next_to_close(account, scope) else {
            return Err(format!("{account} {} has nothing to close, yet market {market} is closed", scope_name(scope)));
        };
        if next != market {
            return Err(format!(
                "{account}'s position in market {market} closed first, the model's largest MM is in {next}"
            ));
        }
        let (equity, mm) = self.unit_figures(account, scope)?.expect("a unit with a position has figures");
        let size = self.size_of(account, market);
        let planned = planned.unwrap_or(size.abs());
        if planned < 1 || planned > size.abs() {
            return Err(format!("a close of {planned} lots of a position of {size}"));
        }
        let close = Close {
            market,
            mark,
            size,
            equity,
            mm,
            planned,
            order,
            fills: Vec::new(),
            closed: 0,
            last_liquidator: None,
        };
        self.running_mut().close = Some(close);
        Ok(())
    }

    /// The close in progress in `market`, or a new one.
    fn close_in(&mut self, market: MarketId) -> Result<(), String> {
        let open = self.running.as_ref().and_then(|r| r.close.as_ref()).is_some_and(|c| c.market == market);
        if open { Ok(()) } else { self.begin_close(market, None, None) }
    }

    /// `B` of the unit's position in `market` now, as `(num, den)`.
    fn bankruptcy(
        &self,
        account: AccountId,
        scope: LiquidationScope,
        market: MarketId,
    ) -> Result<(i128, i128, i128), String> {
        let m = self.market(market).ok_or("unknown market")?;
        let mark = i128::from(m.mark.ok_or("no mark")?);
        let size = i128::from(self.size_of(account, market));
        let (equity, _) = self.unit_figures(account, scope)?.ok_or("a unit without figures")?;
        let den = size.abs() * i128::from(m.quote_per_tick_lot);
        Ok((mark * den - size.signum() * equity, den, equity))
    }

    fn on_order(
        &mut self,
        account: AccountId,
        market: MarketId,
        order: OrderId,
        side: Side,
        qty: i64,
        (limit, bankruptcy_price): (i64, i64),
    ) -> Result<(), String> {
        let scope = self.running(account, "a liquidation order")?.scope;
        self.begin_close(market, Some(qty), Some(order))?;
        let size = self.size_of(account, market);
        let sign = size.signum();
        if side != (if sign > 0 { Side::Sell } else { Side::Buy }) {
            return Err(format!("liquidation order {order} is a {side:?} for a position of {size}"));
        }
        let (num, den, _) = self.bankruptcy(account, scope, market)?;
        let (floor, ceil) = floor_ceil(num, den);
        let adl_price = if sign > 0 { floor } else { ceil }.max(1);
        let (low, high) = Self::band(self.market(market).expect("known")).ok_or("no band")?;
        let safe = if sign > 0 { ceil } else { floor };
        let (want_limit, at_band) = match (safe > 0, sign > 0) {
            (true, true) => (safe.max(i128::from(low)), safe < i128::from(low)),
            (true, false) => (safe.min(i128::from(high)), safe > i128::from(high)),
            (false, true) => (i128::from(low), true),
            (false, false) => return Err(format!("liquidation order {order} sent with no positive limit")),
        };
        if (i128::from(limit), i128::from(bankruptcy_price)) != (want_limit, adl_price) {
            return Err(format!(
                "liquidation order {order} of {account}: (limit, bankruptcy price) ({limit}, {bankruptcy_price}), the \
                 model ({want_limit}, {adl_price}) from B = {num}/{den}"
            ));
        }
        self.checks.orders += 1;
        self.checks.limits_at_band += u64::from(at_band);
        Ok(())
    }

    /// Whether `f` is a fill of the running close's liquidation order (recorded if so).
    pub(super) fn liquidation_fill(&mut self, f: &Fill) -> Result<bool, String> {
        let Some(r) = &mut self.running else { return Ok(false) };
        let Some(c) = r.close.as_mut().filter(|c| c.order == Some(f.taker_order)) else { return Ok(false) };
        if f.taker_account != r.account || f.market != c.market {
            return Err(format!(
                "trade {} of liquidation order {} is not the liquidated account's",
                f.trade_id, f.taker_order
            ));
        }
        c.fills.push((f.price.0, f.qty.0));
        c.closed += f.qty.0;
        self.checks.liquidation_fills += 1;
        Ok(true)
    }

    fn on_takeover(
        &mut self,
        market: MarketId,
        account: AccountId,
        liquidator: AccountId,
        side: Side,
        (qty, price): (i64, i64),
        gap_paid: i64,
    ) -> Result<Vec<FillSide>, String> {
        let scope = self.running(account, "a backstop takeover")?.scope;
        self.close_in(market)?;
        if !self.liquidators.contains(&liquidator) || liquidator == account || self.in_liquidation(liquidator) {
            return Err(format!("{liquidator} took over from {account} but is not a registered liquidator free to"));
        }
        let r = self.running.as_ref().expect("running");
        let close = r.close.as_ref().expect("open");
        if close.last_liquidator.is_some_and(|l| l >= liquidator) {
            return Err(format!(
                "liquidator {liquidator} took over after {:?}: not in id order",
                close.last_liquidator
            ));
        }
        if !r.draws.is_empty() {
            return Err(format!("a takeover before the expected waterfall payments {:?}", r.draws));
        }
        let size = self.size_of(account, market);
        let m = self.market(market).expect("known");
        let (mark, q) = (i128::from(m.mark.ok_or("no mark")?), i128::from(m.quote_per_tick_lot));
        let discount = i128::from(m.spec.liquidation.backstop_discount.0);
        let want_price = if size > 0 {
            ceil_div(mark * (RATE_SCALE - discount), RATE_SCALE).max(1)
        } else {
            (mark * (RATE_SCALE + discount)).div_euclid(RATE_SCALE)
        };
        let want_side = if size > 0 { Side::Sell } else { Side::Buy };
        if (side, i128::from(price)) != (want_side, want_price) {
            return Err(format!(
                "takeover of {account}'s {size} lots: ({side:?}, price {price}), the model ({want_side:?}, \
                 {want_price})"
            ));
        }
        // The gap to B: s × (|mark − price| × q × |size| − E) / |size|, paid at once.
        let s0 = i128::from(size.abs());
        let (equity, _) = self.unit_figures(account, scope)?.expect("a unit with a position");
        let gap_den = (mark - i128::from(price)).abs() * q * s0 - equity;
        let fundable = if gap_den > 0 { self.funds_available(market)? * s0 / gap_den } else { s0 };
        let want_gap = if gap_den > 0 { ceil_div(i128::from(qty) * gap_den, s0) } else { 0 };
        if qty < 1 || i128::from(qty) > fundable.min(s0) || i128::from(gap_paid) != want_gap {
            return Err(format!(
                "takeover of {qty} of {size} lots with gap {gap_paid}: the model's funds pay for at most {fundable} \
                 lots and the gap is {want_gap}"
            ));
        }
        let sides = [
            self.settle(market, liquidator, side.opposite(), price, qty, SettleMode::FeeFree)?,
            self.settle(market, account, side, price, qty, SettleMode::Liquidated)?,
        ];
        let (draws, unpaid) = self.waterfall(market, want_gap)?;
        if unpaid != 0 {
            return Err(format!(
                "the funds can't pay the gap {want_gap} of a takeover sized for them ({unpaid} short)"
            ));
        }
        let r = self.running_mut();
        r.draws.extend(draws);
        let c = r.close.as_mut().expect("open");
        c.closed += qty;
        c.last_liquidator = Some(liquidator);
        self.checks.takeovers += 1;
        self.checks.gaps += u64::from(want_gap > 0);
        Ok(sides.to_vec())
    }

    /// What the funds behind `market` can pay now.
    fn funds_available(&self, market: MarketId) -> Result<i128, String> {
        Ok(self.insurance_of(market)?.1 + i128::from(self.ledger.guaranty_fund).max(0))
    }

    fn on_deleveraged(
        &mut self,
        market: MarketId,
        winner: AccountId,
        bankrupt: AccountId,
        (qty, price, settlement, given_up): (i64, i64, i64, i64),
        rank: i128,
    ) -> Result<Vec<FillSide>, String> {
        let scope = self.running(bankrupt, "a deleveraging")?.scope;
        let size = self.size_of(bankrupt, market);
        let sign = size.signum();
        if self.running.as_ref().and_then(|r| r.adl.as_ref()).is_none() {
            self.close_in(market)?;
            if !self.running.as_ref().expect("running").draws.is_empty() {
                return Err("ADL before the expected waterfall payments".into());
            }
            let (num, den, equity) = self.bankruptcy(bankrupt, scope, market)?;
            let group = AdlGroup {
                market,
                bankrupt,
                size: i128::from(size.abs()),
                sign,
                num,
                den,
                at_bankruptcy: equity < 0,
                trades: Vec::new(),
            };
            self.running_mut().adl = Some(group);
        }
        let m = self.market(market).expect("known");
        let (mark, q) = (m.mark.ok_or("no mark")?, i128::from(m.quote_per_tick_lot));
        let g = self.running.as_ref().and_then(|r| r.adl.as_ref()).expect("open");
        // engine/adl.rs: a bankrupt position trades at B rounded in the winners' favour, one with
        // equity left at mark (the winners never receive the loser's margin).
        let want_price = if g.at_bankruptcy {
            let (floor, ceil) = floor_ceil(g.num, g.den);
            narrow(if sign > 0 { floor } else { ceil }.max(1), "ADL price")?
        } else {
            mark
        };
        let winner_size = self.size_of(winner, market);
        if winner == bankrupt || winner_size.signum() != -sign || winner_size.abs() < qty || qty < 1 {
            return Err(format!(
                "{winner} (size {winner_size}) deleveraged for {qty} lots against {bankrupt}'s {size}"
            ));
        }
        if g.trades.last().is_some_and(|(a, _, _, r)| *r < rank || (*r == rank && *a > winner)) {
            return Err(format!("{winner} (rank {rank}) deleveraged after {:?}: not in rank order", g.trades.last()));
        }
        let want_given_up = i128::from(price - mark) * i128::from(qty) * q * i128::from(sign) + i128::from(settlement);
        if price != want_price || i128::from(given_up) != want_given_up || settlement < 0 {
            return Err(format!(
                "{winner} deleveraged against {bankrupt} at {price} giving up {given_up} (settlement {settlement}), \
                 the model: at {want_price} giving up {want_given_up}"
            ));
        }
        let w = self.accounts.get_mut(&winner).ok_or("unknown winner")?;
        // The winner pays from where its result goes: an isolated position's own margin.
        if w.is_isolated(market) {
            let p = w.positions.get_mut(&market).ok_or("winner without a position")?;
            p.isolated_margin = narrow(i128::from(p.isolated_margin) - i128::from(settlement), "isolated margin")?;
        } else {
            w.collateral = narrow(i128::from(w.collateral) - i128::from(settlement), "collateral")?;
        }
        self.add_unit_cash(bankrupt, scope, settlement.into())?;
        let side = if sign > 0 { Side::Sell } else { Side::Buy };
        let sides = [
            self.settle(market, winner, side.opposite(), price, qty, SettleMode::FeeFree)?,
            self.settle(market, bankrupt, side, price, qty, SettleMode::Liquidated)?,
        ];
        let r = self.running_mut();
        r.close.as_mut().expect("open").closed += qty;
        r.adl.as_mut().expect("open").trades.push((winner, qty, settlement, rank));
        Ok(sides.to_vec())
    }

    /// Ends the running ADL group unless `kind` belongs to it (its next trade, a position change,
    /// a winner's cancelled order).
    pub(super) fn end_adl_unless_continued(&mut self, kind: &EventKind) -> Result<(), String> {
        let Some(g) = self.running.as_ref().and_then(|r| r.adl.as_ref()) else { return Ok(()) };
        let continued = match kind {
            EventKind::Deleveraged { market, bankrupt, .. } => *market == g.market && *bankrupt == g.bankrupt,
            EventKind::PositionChanged { .. } | EventKind::OrderCancelled { .. } => true,
            _ => false,
        };
        if continued { Ok(()) } else { self.end_adl() }
    }

    /// Checks the sub-tick settlement of the ADL group that just ended: `⌈lots × |num − P × den| /
    /// |size|⌉` in all, shared in proportion to the lots, remainder units to the first winners.
    pub(super) fn end_adl(&mut self) -> Result<(), String> {
        let Some(g) = self.running.as_mut().and_then(|r| r.adl.take()) else { return Ok(()) };
        let taken: i128 = g.trades.iter().map(|t| i128::from(t.1)).sum();
        let price = if g.at_bankruptcy {
            let (floor, ceil) = floor_ceil(g.num, g.den);
            if g.sign > 0 { floor } else { ceil }.max(1)
        } else {
            0
        };
        let diff = if g.at_bankruptcy { (g.num - price * g.den).abs() } else { 0 };
        let delta = ceil_div(taken * diff, g.size);
        let mut shares: Vec<i128> = g.trades.iter().map(|t| delta * i128::from(t.1) / taken).collect();
        let mut rest = delta - shares.iter().sum::<i128>();
        for s in &mut shares {
            if rest == 0 {
                break;
            }
            *s += 1;
            rest -= 1;
        }
        let got: Vec<i128> = g.trades.iter().map(|t| i128::from(t.2)).collect();
        if got != shares {
            return Err(format!(
                "ADL of {taken} lots of {}'s position in market {}: settlements {got:?}, the model {shares:?} \
                 (sub-tick rest {delta})",
                g.bankrupt, g.market
            ));
        }
        let trades = g.trades.len() as u64;
        if g.at_bankruptcy {
            self.checks.adl_at_bankruptcy += trades;
        } else {
            self.checks.adl_at_mark += trades;
        }
        self.checks.adl_settlements += got.iter().filter(|s| **s > 0).count() as u64;
        self.checks.adl_shared += u64::from(trades > 1);
        Ok(())
    }

    /// The liquidation size rule at `k` lots of the close, with the slippage of its fills' first
    /// `k` lots: `E − slippage − ⌈rate × k × mark × q⌉ ≥ MM_after × (1 + buffer)`.
    fn clears(&self, c: &Close, k: i64) -> bool {
        let m = self.market(c.market).expect("known");
        let (mark, q) = (i128::from(c.mark), i128::from(m.quote_per_tick_lot));
        let (rate, buffer) = (i128::from(m.spec.liquidation.fee_rate.0), i128::from(m.spec.liquidation.buffer.0));
        let (mut left, mut value) = (i128::from(k), 0i128);
        for (price, lots) in &c.fills {
            let take = left.min(i128::from(*lots));
            value += take * i128::from(*price) * q;
            left -= take;
        }
        let at_mark = i128::from(k) * mark * q;
        if left > 0 || i64::try_from(at_mark).is_err() {
            return false;
        }
        let slippage = if c.size > 0 { at_mark - value } else { value - at_mark };
        let fee = ceil_div(at_mark * rate, RATE_SCALE);
        let size = i128::from(c.size).abs();
        let mm_here = maintenance(&m.spec, size * mark * q);
        let mm_rest = maintenance(&m.spec, (size - i128::from(k)) * mark * q);
        let mm_after = c.mm - mm_here + mm_rest;
        c.equity - slippage - fee >= mm_after + ceil_div(mm_after * buffer, RATE_SCALE)
    }

    /// Checks the size of a close with a liquidation order against the partial-close rule.
    fn check_size(&mut self, c: &Close) -> Result<(), String> {
        if c.order.is_none() {
            return Ok(());
        }
        let filled: i64 = c.fills.iter().map(|f| f.1).sum();
        let size = c.size.abs();
        if c.planned < size {
            if filled < c.planned {
                return Err(format!("a partial close of {} lots filled only {filled} in the book", c.planned));
            }
            if !self.clears(c, c.planned) {
                return Err(format!(
                    "the partial close of {} of {size} lots leaves less than MM × (1 + buffer)",
                    c.planned
                ));
            }
            if c.planned > 1 && self.clears(c, c.planned - 1) {
                return Err(format!(
                    "a partial close of {} lots would clear the buffer; the engine closed {}",
                    c.planned - 1,
                    c.planned
                ));
            }
            self.checks.partial_sizes += 1;
        } else if size >= 2 && filled >= size - 1 {
            if self.clears(c, size - 1) {
                return Err(format!(
                    "a partial close of {} of {size} lots clears the buffer; the engine closed all",
                    size - 1
                ));
            }
            self.checks.full_sizes += 1;
        }
        Ok(())
    }

    /// The liquidation fee due for the close `c` now, and the uncapped fee.
    fn fee_due(&self, c: &Close) -> Result<(i128, i128), String> {
        let r = self.running.as_ref().expect("running");
        let m = self.market(c.market).expect("known");
        let closed = i128::from(c.planned) * i128::from(c.mark) * i128::from(m.quote_per_tick_lot);
        let full = ceil_div(closed * i128::from(m.spec.liquidation.fee_rate.0), RATE_SCALE);
        let cap = match self.unit_figures(r.account, r.scope)? {
            Some((e, mm)) if self.next_to_close(r.account, r.scope).is_some() => e - mm,
            _ => self.unit_cash(r.account, r.scope),
        };
        Ok((full.min(cap).max(0), full))
    }

    /// Ends the close in progress when no fee event came: it took all it planned or nothing,
    /// and no fee was due.
    fn finish_close(&mut self) -> Result<(), String> {
        self.end_adl()?;
        let Some(c) = self.running.as_mut().and_then(|r| r.close.take()) else { return Ok(()) };
        self.check_close(&c)?;
        let (due, _) = self.fee_due(&c)?;
        if due != 0 {
            return Err(format!(
                "no liquidation fee charged for the close in market {}; the model's is {due}",
                c.market
            ));
        }
        self.checks.no_fee += 1;
        Ok(())
    }

    fn check_close(&mut self, c: &Close) -> Result<(), String> {
        self.check_size(c)?;
        if c.closed != c.planned && c.closed != 0 {
            return Err(format!("a close of {} lots in market {} took {}", c.planned, c.market, c.closed));
        }
        let r = self.running.as_ref().expect("running");
        if !r.draws.is_empty() {
            return Err(format!("waterfall payments {:?} expected, not made", r.draws));
        }
        Ok(())
    }

    fn on_fee(&mut self, account: AccountId, market: MarketId, amount: i64, fund: FundRef) -> Result<(), String> {
        let scope = self.running(account, "a liquidation fee")?.scope;
        self.end_adl()?;
        let Some(c) = self.running.as_mut().and_then(|r| r.close.take()).filter(|c| c.market == market) else {
            return Err(format!("a liquidation fee in market {market} without a close there"));
        };
        self.check_close(&c)?;
        let (due, full) = self.fee_due(&c)?;
        if due != i128::from(amount) || due <= 0 {
            return Err(format!("liquidation fee {amount} for {} lots in market {market}, the model {due}", c.planned));
        }
        let remaining = self.next_to_close(account, scope).is_some();
        self.add_unit_cash(account, scope, -due)?;
        let to = self.credit_fund(market, due)?;
        if to != fund {
            return Err(format!("liquidation fee paid into {fund:?}, the model's fund is {to:?}"));
        }
        self.checks.fees += 1;
        if due < full && remaining && c.planned < c.size.abs() {
            // LIQUIDATION.md: the partial size is chosen with the full fee, so its cap never binds.
            return Err(format!(
                "the fee of a partial close of {} of {} lots was capped at {due} (full {full}); LIQUIDATION.md says \
                 the cap never binds a partial close",
                c.planned,
                c.size.abs()
            ));
        }
        if due < full {
            if remaining {
                self.checks.fees_capped_partial += 1;
            } else {
                self.checks.fees_capped_full += 1;
            }
        }
        Ok(())
    }

    /// A waterfall payment: the next the model expects, or the first of a closed-out unit's
    /// deficit.
    fn on_draw(&mut self, account: AccountId, got: Draw, balance: Option<i64>) -> Result<(), String> {
        let scope = self.running(account, "a waterfall payment")?.scope;
        if self.running.as_ref().expect("running").draws.is_empty() {
            // A closed-out unit's deficit.
            self.finish_close()?;
            if self.next_to_close(account, scope).is_some() {
                return Err(format!("{got:?} for {account}, which still has a position to close"));
            }
            let cash = self.unit_cash(account, scope);
            if cash >= 0 {
                return Err(format!("{got:?} for {account}, whose unit has no deficit ({cash})"));
            }
            let market = match scope {
                LiquidationScope::Isolated(m) => m,
                LiquidationScope::Cross => {
                    let a = &self.accounts[&account];
                    let traded = || a.positions.keys().copied();
                    traded().find(|m| !a.is_isolated(*m)).or_else(|| traded().next()).unwrap_or(MarketId(0))
                }
            };
            let (mut draws, unpaid) = self.waterfall(market, -cash)?;
            if unpaid > 0 {
                draws.push(Draw::Uncovered { market, amount: narrow(unpaid, "uncovered")? });
            }
            self.running_mut().draws.extend(draws);
            self.checks.closeout_deficits += 1;
        }
        let want = self.running_mut().draws.pop_front().expect("not empty");
        if got != want {
            return Err(format!("waterfall: {got:?}, the model expects {want:?}"));
        }
        match got {
            Draw::Covered { market, fund, amount } => {
                let after = self.move_fund(fund, market, -i128::from(amount))?;
                if Some(after) != balance {
                    return Err(format!("{fund:?} left at {balance:?} after paying {amount}, the model {after}"));
                }
                match fund {
                    FundRef::Market(_) => self.checks.covered_market += 1,
                    FundRef::Shared => self.checks.covered_shared += 1,
                    FundRef::Guaranty => self.checks.covered_guaranty += 1,
                }
                self.add_unit_cash(account, scope, amount.into())?;
            }
            Draw::Uncovered { market, amount } => {
                self.ledger.uncovered = narrow(i128::from(self.ledger.uncovered) + i128::from(amount), "uncovered")?;
                self.add_unit_cash(account, scope, amount.into())?;
                self.checks.uncovered += 1;
                let held: Vec<(MarketId, i64, i64)> = self.accounts[&account]
                    .positions
                    .iter()
                    .filter(|(_, p)| p.size != 0 && p.isolated_margin != 0)
                    .map(|(m, p)| (*m, p.size, p.isolated_margin))
                    .collect();
                self.discrepancies.push(format!(
                    "LIQUIDATION.md, \"The waterfall\": uncovered deficits \"cannot arise\" (the property tests assert \
                     `uncovered` stays zero), yet {account} {} closed out with {} no fund covered (charged to market \
                     {market}); the account still holds isolated positions (market, size, margin) {held:?}",
                    scope_name(scope),
                    super::units(amount)
                ));
            }
        }
        Ok(())
    }

    fn on_finished(
        &mut self,
        account: AccountId,
        scope: LiquidationScope,
        outcome: LiquidationOutcome,
        got: (i64, i64),
    ) -> Result<(), String> {
        if self.running(account, "a liquidation's end")?.scope != scope {
            return Err(format!("{account} {} finished, another unit was started", scope_name(scope)));
        }
        self.finish_close()?;
        let remaining = self.next_to_close(account, scope).is_some();
        let figures = self.unit_figures(account, scope)?;
        let below = figures.is_some_and(|(e, mm)| e < mm);
        let consistent = match outcome {
            LiquidationOutcome::ClosedOut => !remaining,
            LiquidationOutcome::Partial => remaining && !below,
            LiquidationOutcome::Stalled => remaining && below,
        };
        if !consistent {
            return Err(format!(
                "{account} {} finished {outcome:?}; the model's unit has a position left: {remaining}, (equity, \
                 MM) {figures:?}",
                scope_name(scope)
            ));
        }
        if outcome == LiquidationOutcome::ClosedOut {
            let cash = self.unit_cash(account, scope);
            if cash < 0 {
                return Err(format!("{account} {} closed out with a deficit of {cash} left", scope_name(scope)));
            }
            if let LiquidationScope::Isolated(m) = scope {
                let a = self.accounts.get_mut(&account).expect("known");
                let p = a.positions.get_mut(&m).expect("closed position");
                let margin = std::mem::take(&mut p.isolated_margin);
                a.collateral = narrow(i128::from(a.collateral) + i128::from(margin), "collateral")?;
                self.checks.isolated_returned += u64::from(margin > 0);
            }
        }
        let want = match self.unit_figures(account, scope)? {
            Some(f) => f,
            None => (self.unit_cash(account, scope), 0),
        };
        if (i128::from(got.0), i128::from(got.1)) != want {
            return Err(format!(
                "{account} {} finished with (equity, MM) {got:?}, the model {want:?}",
                scope_name(scope)
            ));
        }
        let isolated = matches!(scope, LiquidationScope::Isolated(_));
        match outcome {
            LiquidationOutcome::Partial => {
                self.checks.partial += 1;
                self.checks.isolated_partial += u64::from(isolated);
            }
            LiquidationOutcome::ClosedOut => {
                self.checks.closed_out += 1;
                self.checks.isolated_closed_out += u64::from(isolated);
            }
            LiquidationOutcome::Stalled => {
                self.checks.stalled += 1;
                self.queue.push_back((account, scope));
            }
        }
        self.running = None;
        Ok(())
    }

    /// At the end of a command's liquidation pass: no unit is being liquidated; the queue is
    /// empty unless the pass's budget was spent (isolated units whose position is gone are
    /// dropped silently at their turn); every unit below maintenance is queued.
    pub(super) fn end_pass(&mut self) -> Result<(), String> {
        if let Some(r) = &self.running {
            return Err(format!("the liquidation of {} {} did not finish", r.account, scope_name(r.scope)));
        }
        while self.pops < self.pass_limit {
            let Some(&(account, scope)) = self.queue.front() else { break };
            if self.unit_figures(account, scope)?.is_some() {
                return Err(format!(
                    "{account} {} is left in the queue with {} of the pass's {} units unspent",
                    scope_name(scope),
                    self.pass_limit - self.pops,
                    self.pass_limit
                ));
            }
            self.queue.pop_front();
            self.pops += 1;
            self.checks.silent_drops += 1;
        }
        let mut units = Vec::new();
        for (id, a) in &self.accounts {
            units.push((*id, LiquidationScope::Cross));
            for (m, p) in &a.positions {
                if p.size != 0 && a.margin_mode.get(m) == Some(&MarginMode::Isolated) {
                    units.push((*id, LiquidationScope::Isolated(*m)));
                }
            }
        }
        for (id, scope) in units {
            if let Some((e, mm)) = self.unit_figures(id, scope)? {
                if e < mm && !self.queue.contains(&(id, scope)) {
                    return Err(format!(
                        "{id} {} is below maintenance (equity {e}, MM {mm}) and not queued",
                        scope_name(scope)
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! LIQUIDATION.md's worked examples, run on the engine and followed by the model.

    use perpx_core::command::{NewOrder, OrderType, StpMode, TimeInForce};
    use perpx_core::market::{LiquidationSpec, MarketLimits};
    use perpx_core::{
        Command, CommandKind, Decimal, Engine, EngineConfig, MarginTier, MarketSpec, Price, Qty, Quote, Rate, Timestamp,
    };

    use super::*;

    const M: MarketId = MarketId(0);
    const A: AccountId = AccountId(1);
    const B: AccountId = AccountId(2);
    const C: AccountId = AccountId(3);
    const LIQ: AccountId = AccountId(9);
    const USD: i64 = 1_000_000;

    /// The document's market: tick 1 USD, lot 1, 10x with MM 5 %, no trading fees, a 50 % band.
    fn spec() -> MarketSpec {
        MarketSpec {
            symbol: "BTC-PERP".into(),
            tick_size: Decimal::new(1, 0),
            lot_size: Decimal::new(1, 0),
            min_qty: Qty(1),
            min_notional: Quote(0),
            max_leverage: 10,
            tiers: vec![MarginTier {
                max_notional: Quote(1_000_000_000 * USD),
                max_leverage: 10,
                maintenance_rate: Rate(5_000_000),
                maintenance_amount: Quote(0),
            }],
            maker_fee: Rate(0),
            taker_fee: Rate(0),
            order_band: Rate(50_000_000),
            limits: MarketLimits::default(),
            oracle: perpx_core::market::OracleSpec::default(),
            funding: perpx_core::market::FundingSpec::default(),
            liquidation: LiquidationSpec::default(),
        }
    }

    struct Venue {
        engine: Engine,
        model: MarginModel,
        ts: i64,
    }

    impl Venue {
        /// A long 10 @ 1,000 on 1,000 of collateral at 10x (B the short), C and the liquidator
        /// funded.
        fn long_ten(spec: MarketSpec, config: EngineConfig) -> Self {
            let mut v = Self { engine: Engine::new(config.clone()), model: MarginModel::for_engine(&config), ts: 0 };
            v.run(CommandKind::CreateMarket(Box::new(spec)));
            v.run(CommandKind::SetMark { market: M, price: Price(1_000) });
            for (account, amount) in [(A, 1_000), (B, 1_000_000), (C, 1_000_000), (LIQ, 1_000_000)] {
                v.run(CommandKind::Deposit { account, amount: Quote(amount * USD) });
            }
            v.run(CommandKind::SetLeverage { account: A, market: M, leverage: 10 });
            v.order(B, Side::Sell, 1_000, 10, TimeInForce::Gtc);
            v.order(A, Side::Buy, 1_000, 10, TimeInForce::Ioc);
            v
        }

        fn run(&mut self, kind: CommandKind) -> Vec<EventKind> {
            self.ts += 1;
            let cmd = Command { ts: Timestamp(self.ts), kind };
            let events = self.engine.apply(&cmd);
            self.model.observe(&cmd, &events).expect("the model follows the engine");
            events.into_iter().map(|e| e.kind).collect()
        }

        fn order(&mut self, account: AccountId, side: Side, price: i64, qty: i64, tif: TimeInForce) -> Vec<EventKind> {
            let order_type = OrderType::Limit { price: Price(price), tif };
            let o = NewOrder {
                account,
                market: M,
                side,
                order_type,
                qty: Qty(qty),
                client_id: None,
                stp: StpMode::ExpireTaker,
                reduce_only: false,
            };
            self.run(CommandKind::PlaceOrder(o))
        }

        fn fund(&self) -> i64 {
            self.model.markets()[0].insurance_fund
        }
    }

    #[test]
    fn a_partial_close_is_the_smallest_that_clears_the_buffer() {
        // Mark 910, bids for 10 at 910: 9 lots are sold, the fund receives 0.5 % × 9 × 910.
        let mut v = Venue::long_ten(spec(), EngineConfig::default());
        v.order(C, Side::Buy, 910, 10, TimeInForce::Gtc);
        v.run(CommandKind::SetMark { market: M, price: Price(910) });
        let c = v.model.liquidation_checks();
        assert_eq!((c.started_cross, c.partial, c.partial_sizes, c.fees), (1, 1, 1, 1));
        assert_eq!(v.model.account(A).map(|a| a.positions[&M].size), Some(1));
        assert_eq!(v.fund(), 40_950_000);
        assert_eq!(v.model.unit_figures(A, LiquidationScope::Cross), Ok(Some((59_050_000, 45_500_000))));
    }

    #[test]
    fn fifty_in_the_insurance_fund_pay_the_gap_of_six_lots_and_adl_takes_the_rest_at_mark() {
        // Discount 2 %: the liquidator buys at 892, 8 below B = 900; 50 pays for 6 lots (48);
        // 4 lots go to ADL at mark (A still has equity), and A's last 40 is the fee (cap).
        let mut s = spec();
        s.liquidation.backstop_discount = Rate(2_000_000);
        let mut v = Venue::long_ten(s, EngineConfig::default());
        v.run(CommandKind::SetLiquidator { account: LIQ, active: true });
        v.run(CommandKind::CapitaliseFund { fund: FundRef::Market(M), amount: Quote(50 * USD) });
        let ev = v.run(CommandKind::SetMark { market: M, price: Price(910) });
        assert!(ev.iter().any(|e| matches!(e,
            EventKind::BackstopTakeover { qty, price, gap_paid, .. }
                if (qty.0, price.0, gap_paid.0) == (6, 892, 48 * USD))));
        let c = v.model.liquidation_checks();
        assert_eq!((c.takeovers, c.gaps, c.covered_market, c.adl_at_mark, c.fees_capped_full), (1, 1, 1, 1, 1));
        assert_eq!(v.fund(), 42 * USD);
        assert_eq!(v.model.ledger().venue_capital, 50 * USD);
        assert_eq!(v.model.account(A).map(|a| (a.positions[&M].size, a.collateral)), Some((0, 0)));
        assert_eq!(v.model.account(LIQ).map(|a| a.positions[&M].size), Some(6));
    }

    #[test]
    fn a_bankrupt_isolated_position_is_deleveraged_at_b_and_the_rest_of_the_account_is_untouched() {
        // 5,000 of collateral, 1,000 of it in the isolated long; mark 890: equity −100, B = 900.
        let config = EngineConfig::default();
        let mut v = Venue { engine: Engine::new(config.clone()), model: MarginModel::for_engine(&config), ts: 0 };
        v.run(CommandKind::CreateMarket(Box::new(spec())));
        v.run(CommandKind::SetMark { market: M, price: Price(1_000) });
        for (account, amount) in [(A, 5_000), (B, 1_000_000)] {
            v.run(CommandKind::Deposit { account, amount: Quote(amount * USD) });
        }
        v.run(CommandKind::SetMarginMode { account: A, market: M, mode: MarginMode::Isolated });
        v.run(CommandKind::SetLeverage { account: A, market: M, leverage: 10 });
        v.order(B, Side::Sell, 1_000, 10, TimeInForce::Gtc);
        v.order(A, Side::Buy, 1_000, 10, TimeInForce::Ioc);
        let ev = v.run(CommandKind::SetMark { market: M, price: Price(890) });
        assert!(ev.iter().any(|e| matches!(e, EventKind::Deleveraged { price, .. } if price.0 == 900)));
        let c = v.model.liquidation_checks();
        assert_eq!((c.started_isolated, c.isolated_closed_out, c.adl_at_bankruptcy), (1, 1, 1));
        let a = v.model.account(A).expect("known");
        assert_eq!((a.collateral, a.positions[&M].isolated_margin), (4_000 * USD, 0));
    }

    #[test]
    fn a_queued_account_is_cancel_only_until_its_turn() {
        // One unit per pass: A and D go under together, D waits cancel-only for the next command.
        const D: AccountId = AccountId(4);
        let config = EngineConfig { max_liquidations_per_pass: 1, ..EngineConfig::default() };
        let mut v = Venue::long_ten(spec(), config);
        v.run(CommandKind::Deposit { account: D, amount: Quote(1_000 * USD) });
        v.run(CommandKind::SetLeverage { account: D, market: M, leverage: 10 });
        v.order(B, Side::Sell, 1_000, 10, TimeInForce::Gtc);
        v.order(D, Side::Buy, 1_000, 10, TimeInForce::Ioc);
        v.run(CommandKind::SetMark { market: M, price: Price(900) });
        assert_eq!(v.model.liquidation_queue().iter().copied().collect::<Vec<_>>(), vec![(D, LiquidationScope::Cross)]);
        let withdraw = CommandKind::Withdraw { account: D, amount: Quote(USD) };
        assert!(v.model.refused_in_liquidation(&withdraw));
        assert_eq!(v.model.withdraw_verdict(&v.engine, D, USD), Ok(super::super::Verdict::Reject(vec![5012])));
        let ev = v.run(withdraw);
        assert!(matches!(&ev[0], EventKind::Rejected { reason, .. } if reason.code() == 5012), "{ev:?}");
        // Its turn came with that command's pass.
        assert!(v.model.liquidation_queue().is_empty());
    }
}
