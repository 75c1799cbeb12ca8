//! The auditor: an independent, deliberately simple model of every balance and position.
//!
//! It keeps no book, no margin figures and no liquidation queue. It reads the engine's events
//! (and, for the two things events don't carry — a new market's specification and a scheduled
//! parameter change — the command that produced them) and replays every movement of money with
//! its own arithmetic in plain `i128`:
//!
//! | event | what the auditor does |
//! |---|---|
//! | `Deposited`, `Withdrawn` | collateral and the ledger's deposits / withdrawals |
//! | `Fill` | both positions (size, cost basis, realised PnL) recomputed from price and size; both fees recomputed from the market's fee schedule (a liquidation order's own side pays none) and compared with the event's; the result, realised PnL − fee, to the account; fees to the fee account |
//! | `BackstopTakeover`, `Deleveraged` | the same position move at the event's price, fee-free on both sides; an ADL winner's sub-tick settlement moves from the winner to the bankrupt unit |
//! | `PositionChanged` | checked against the position the auditor computed for that side |
//! | `FundingSettled`, `FundingPayment` | every holder's payment recomputed as `⌈size × mark × q × F / 10⁸⌉` (payers round up, receivers toward zero); the sums, the count and the remainder checked; the remainder to the market's fund |
//! | `PositionSettled` (delisting) | realised PnL `size × price × q − cost` recomputed; the position closed; its isolated margin back to collateral |
//! | `LiquidationFee` | from the unit to the fund the market's insurance policy names |
//! | `DeficitCovered`, `DeficitUncovered` | from the fund (balance after checked) or to `uncovered`, into the bankrupt unit |
//! | `FundCapitalised` | venue capital into the fund (balance after checked) |
//! | `ParamsScheduled`, `ParamsChanged`, `MarketDelisted` | the fee schedule follows the change; delisting drops a pending one |
//!
//! After every command, [`Auditor::compare`] checks **every** account's collateral, isolated
//! margins and positions (size, cost basis, realised PnL, fees paid, funding paid and received),
//! the ledger and every market's own fund against the engine's state, and
//! [`Auditor::check_conservation`] checks, on the auditor's own books, that the money held
//! equals the money that came in.
//!
//! What the auditor takes from the events rather than computing: how an isolated position's
//! result is split between its own margin and the account's collateral (the `isolated_margin`
//! figure of `PositionChanged`, `FundingPayment` and `IsolatedMarginChanged`; that rule needs
//! marks and leverage and is what `perpx_testkit::margin_model` checks), the mark a funding
//! period settles at, the ADL settlement share, the backstop gap and what each layer of the
//! waterfall pays (the amounts are moved and the funds' balances checked, but the waterfall's
//! decisions are the engine's). The **sum** of every account's money is always the auditor's:
//! a split that created or lost a unit shows up as a wrong `collateral` in the very event.

use std::collections::{BTreeMap, VecDeque};

use perpx_core::account::MarginMode;
use perpx_core::command::ParamChange;
use perpx_core::event::{FundRef, FundingSettlement, LiquidationOutcome, LiquidationScope};
use perpx_core::market::InsurancePolicy;
use perpx_core::{AccountId, Command, CommandKind, Engine, Event, EventKind, MarketId, MarketSpec, OrderId, Side};

const RATE_SCALE: i128 = 100_000_000;

/// A position as the auditor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditPosition {
    /// Signed size in lots.
    pub size: i128,
    /// Signed cost basis in micro-units.
    pub cost: i128,
    /// Realised PnL to date.
    pub realized: i128,
    /// Trading fees paid to date (negative: rebates).
    pub fees: i128,
    /// The position's own margin (isolated mode).
    pub isolated: i128,
    /// Funding paid to date.
    pub funding_paid: i128,
    /// Funding received to date.
    pub funding_received: i128,
}

#[derive(Debug, Clone, Default)]
struct AuditAccount {
    collateral: i128,
    positions: BTreeMap<MarketId, AuditPosition>,
    modes: BTreeMap<MarketId, MarginMode>,
}

impl AuditAccount {
    fn isolated(&self, m: MarketId) -> bool {
        self.modes.get(&m) == Some(&MarginMode::Isolated)
    }
}

#[derive(Debug, Clone)]
struct AuditMarket {
    /// Micro-units per tick per lot, from the spec's decimals.
    q: i128,
    maker_fee: i128,
    taker_fee: i128,
    shared: bool,
    fund: i128,
    pending: Option<ParamChange>,
}

/// The running funding settlement of one market inside a command.
#[derive(Debug, Clone)]
struct Settling {
    market: MarketId,
    rate: i128,
    mark: Option<i128>,
    positions: u64,
    paid: i128,
    received: i128,
    seen: u64,
    seen_paid: i128,
    seen_received: i128,
    /// Holders (by the auditor's books) that must be paid or charged.
    due: Vec<AccountId>,
}

/// One side of a trade the auditor settled, to compare with the `PositionChanged` that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expected {
    account: AccountId,
    market: MarketId,
    size: i128,
    cost: i128,
    realized: i128,
    fee: i128,
}

/// The auditor's ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditLedger {
    /// Σ deposits.
    pub deposits: i128,
    /// Σ withdrawals.
    pub withdrawals: i128,
    /// Fees collected net of rebates.
    pub fee_account: i128,
    /// The shared insurance fund.
    pub shared_fund: i128,
    /// The guaranty fund.
    pub guaranty_fund: i128,
    /// Bad debt recorded.
    pub uncovered: i128,
    /// Capital the venue paid in.
    pub venue_capital: i128,
}

/// What the auditor followed, for coverage floors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditTally {
    /// Commands followed.
    pub commands: u64,
    /// Fills settled.
    pub fills: u64,
    /// Fills of liquidation orders.
    pub liquidation_fills: u64,
    /// Backstop takeovers.
    pub backstops: u64,
    /// ADL trades.
    pub deleveraged: u64,
    /// Funding payments recomputed.
    pub funding_payments: u64,
    /// Delisting settlements.
    pub settlements: u64,
    /// Liquidation fees.
    pub liquidation_fees: u64,
    /// Fund draws (`DeficitCovered`).
    pub deficits_covered: u64,
    /// `DeficitUncovered`.
    pub deficits_uncovered: u64,
    /// Deposits and withdrawals.
    pub fund_flows: u64,
    /// Fee schedule changes followed.
    pub fee_changes: u64,
    /// Capital paid into funds.
    pub capitalised: u64,
}

/// The independent model. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Auditor {
    markets: Vec<AuditMarket>,
    accounts: BTreeMap<AccountId, AuditAccount>,
    ledger: AuditLedger,
    /// Liquidation orders of the current command: their own side is fee-free.
    liquidation_orders: Vec<OrderId>,
    expected: VecDeque<Expected>,
    settling: Option<Settling>,
    /// The unit being liquidated (between `LiquidationStarted` and `LiquidationFinished`).
    unit: Option<(AccountId, LiquidationScope)>,
    tally: AuditTally,
}

/// `a × b / d` rounded up (d > 0).
fn div_ceil(n: i128, d: i128) -> i128 {
    n.div_euclid(d) + i128::from(n.rem_euclid(d) != 0)
}

/// A trading fee: a charge rounds up, a rebate (negative rate) rounds down.
fn fee(notional: i128, rate: i128) -> i128 {
    if rate >= 0 { div_ceil(notional * rate, RATE_SCALE) } else { -((notional * -rate) / RATE_SCALE) }
}

/// `numerator / 10^scale` of two decimals multiplied by 10^6: the spec's tick × lot in micro-units.
fn quote_per_tick_lot(spec: &MarketSpec) -> i128 {
    let n = i128::from(spec.tick_size.mantissa) * i128::from(spec.lot_size.mantissa) * 1_000_000;
    let scale = u32::from(spec.tick_size.scale) + u32::from(spec.lot_size.scale);
    n / 10i128.pow(scale)
}

impl Auditor {
    /// A model of an empty venue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// What was followed so far.
    #[must_use]
    pub fn tally(&self) -> AuditTally {
        self.tally
    }

    /// The auditor's ledger.
    #[must_use]
    pub fn ledger(&self) -> AuditLedger {
        self.ledger
    }

    /// An account's position as the auditor has it.
    #[must_use]
    pub fn position(&self, account: AccountId, market: MarketId) -> AuditPosition {
        self.accounts.get(&account).and_then(|a| a.positions.get(&market)).copied().unwrap_or_default()
    }

    /// An account's collateral as the auditor has it.
    #[must_use]
    pub fn collateral(&self, account: AccountId) -> i128 {
        self.accounts.get(&account).map_or(0, |a| a.collateral)
    }

    /// Follows one command and the events it produced.
    ///
    /// # Errors
    /// The first figure an event reports that the auditor computes differently.
    pub fn apply(&mut self, cmd: &Command, events: &[Event]) -> Result<(), String> {
        self.tally.commands += 1;
        self.liquidation_orders.clear();
        // A funding batch is checked as its notices, a payment each, as they are delivered.
        for (i, e) in events.iter().flat_map(Event::notices).enumerate() {
            self.event(cmd, &e).map_err(|m| format!("event {i} ({:?}): {m}", e.kind))?;
        }
        self.finish_settlement()?;
        if let Some(x) = self.expected.pop_front() {
            return Err(format!("a trade side was settled without its position_changed: {x:?}"));
        }
        Ok(())
    }

    fn market(&mut self, m: MarketId) -> Result<&mut AuditMarket, String> {
        self.markets.get_mut(m.index()).ok_or_else(|| format!("event names unknown market {m}"))
    }

    fn account(&mut self, a: AccountId) -> Result<&mut AuditAccount, String> {
        self.accounts.get_mut(&a).ok_or_else(|| format!("event names account {a} that never received money"))
    }

    /// Which balance of `account` a liquidation amount in `market` moves: the unit being
    /// liquidated if it is this account's, else by the account's margin mode in the market.
    fn unit_is_isolated(&self, account: AccountId, market: MarketId) -> Option<MarketId> {
        match self.unit {
            Some((a, LiquidationScope::Isolated(m))) if a == account => Some(m),
            Some((a, LiquidationScope::Cross)) if a == account => None,
            _ => self.accounts.get(&account).filter(|a| a.isolated(market)).map(|_| market),
        }
    }

    fn add_cash(&mut self, account: AccountId, market: MarketId, amount: i128) -> Result<(), String> {
        let iso = self.unit_is_isolated(account, market);
        let a = self.account(account)?;
        match iso {
            Some(m) => a.positions.entry(m).or_default().isolated += amount,
            None => a.collateral += amount,
        }
        Ok(())
    }

    fn credit_fund(&mut self, market: MarketId, amount: i128) -> Result<FundRef, String> {
        let m = self.market(market)?;
        if m.shared {
            self.ledger.shared_fund += amount;
            Ok(FundRef::Shared)
        } else {
            m.fund += amount;
            Ok(FundRef::Market(market))
        }
    }

    /// Moves `qty` lots (signed: + buys) of `market` at `price` into `account`'s position and
    /// settles `result − fee`; queues the `PositionChanged` expected for it.
    fn trade(
        &mut self,
        account: AccountId,
        market: MarketId,
        signed: i128,
        price: i128,
        fee: i128,
    ) -> Result<(), String> {
        let q = self.market(market)?.q;
        let a = self.account(account)?;
        let p = a.positions.entry(market).or_default();
        let mut realized = 0;
        let mut open = signed;
        if p.size != 0 && p.size.signum() != signed.signum() {
            let closed = signed.abs().min(p.size.abs());
            let removed = if closed == p.size.abs() {
                p.cost
            } else {
                // The closed share of the cost, rounded away from zero.
                let n = p.cost * closed;
                let d = p.size.abs();
                if n >= 0 { div_ceil(n, d) } else { -div_ceil(-n, d) }
            };
            realized = p.size.signum() * closed * price * q - removed;
            p.cost -= removed;
            p.size += signed.signum() * closed;
            open = signed - signed.signum() * closed;
        }
        p.size += open;
        p.cost += open * price * q;
        p.realized += realized;
        p.fees += fee;
        let (size, cost) = (p.size, p.cost);
        self.ledger.fee_account += fee;
        self.expected.push_back(Expected { account, market, size, cost, realized, fee });
        // The result goes to the account's money; where exactly (collateral or the isolated
        // margin) is read from the `PositionChanged` that follows.
        self.account(account)?.collateral += realized - fee;
        Ok(())
    }

    #[allow(clippy::too_many_lines)]
    fn event(&mut self, cmd: &Command, e: &Event) -> Result<(), String> {
        if !matches!(e.kind, EventKind::FundingPayment { .. }) {
            self.finish_settlement()?;
        }
        match &e.kind {
            EventKind::MarketCreated { market, .. } => {
                let CommandKind::CreateMarket(spec) = &cmd.kind else {
                    return Err("market created by a command that is not create_market".into());
                };
                if market.index() != self.markets.len() {
                    return Err(format!("market id {market} out of order"));
                }
                self.markets.push(AuditMarket {
                    q: quote_per_tick_lot(spec),
                    maker_fee: i128::from(spec.maker_fee.0),
                    taker_fee: i128::from(spec.taker_fee.0),
                    shared: matches!(spec.liquidation.insurance, InsurancePolicy::Shared { .. }),
                    fund: 0,
                    pending: None,
                });
            }
            EventKind::ParamsScheduled { market, .. } => {
                let CommandKind::ScheduleParams { change, .. } = &cmd.kind else {
                    return Err("params scheduled by another command".into());
                };
                self.market(*market)?.pending = Some((**change).clone());
            }
            EventKind::ParamsChanged { market } => {
                let m = self.market(*market)?;
                let c = m.pending.take().ok_or("a change took effect that was never scheduled")?;
                if let Some(f) = c.maker_fee {
                    m.maker_fee = i128::from(f.0);
                }
                if let Some(f) = c.taker_fee {
                    m.taker_fee = i128::from(f.0);
                }
                self.tally.fee_changes += 1;
            }
            EventKind::MarketDelisted { market, .. } => self.market(*market)?.pending = None,
            EventKind::Deposited { account, amount, collateral } => {
                let a = self.accounts.entry(*account).or_default();
                a.collateral += i128::from(amount.0);
                if a.collateral != i128::from(collateral.0) {
                    return Err(format!(
                        "deposit: collateral after {} but the auditor has {}",
                        collateral.0, a.collateral
                    ));
                }
                self.ledger.deposits += i128::from(amount.0);
                self.tally.fund_flows += 1;
            }
            EventKind::Withdrawn { account, amount, collateral } => {
                let a = self.account(*account)?;
                a.collateral -= i128::from(amount.0);
                if a.collateral != i128::from(collateral.0) {
                    return Err(format!(
                        "withdrawal: collateral after {} but auditor has {}",
                        collateral.0, a.collateral
                    ));
                }
                self.ledger.withdrawals += i128::from(amount.0);
                self.tally.fund_flows += 1;
            }
            EventKind::MarginModeSet { account, market, mode } => {
                self.account(*account)?.modes.insert(*market, *mode);
            }
            EventKind::IsolatedMarginChanged { account, market, amount, isolated_margin, collateral } => {
                let a = self.account(*account)?;
                a.collateral -= i128::from(amount.0);
                let p = a.positions.entry(*market).or_default();
                p.isolated += i128::from(amount.0);
                if p.isolated != i128::from(isolated_margin.0) || a.collateral != i128::from(collateral.0) {
                    return Err(format!(
                        "isolated margin change: engine says margin {} collateral {}, auditor {} {}",
                        isolated_margin.0, collateral.0, p.isolated, a.collateral
                    ));
                }
            }
            EventKind::LiquidationOrder { order_id, .. } => self.liquidation_orders.push(*order_id),
            EventKind::Fill(f) => {
                let m = &self.markets.get(f.market.index()).ok_or("fill in an unknown market")?;
                let notional = i128::from(f.price.0) * i128::from(f.qty.0) * m.q;
                let maker_fee = fee(notional, m.maker_fee);
                let liquidation = self.liquidation_orders.contains(&f.taker_order);
                let taker_fee = if liquidation { 0 } else { fee(notional, m.taker_fee) };
                if (maker_fee, taker_fee) != (i128::from(f.maker_fee.0), i128::from(f.taker_fee.0)) {
                    return Err(format!(
                        "fees: engine maker {} taker {}, auditor {maker_fee} {taker_fee} (notional {notional})",
                        f.maker_fee.0, f.taker_fee.0
                    ));
                }
                if f.qty.0 <= 0 || f.price.0 <= 0 {
                    return Err("a fill of a non-positive size or price".into());
                }
                let qty = i128::from(f.qty.0);
                let taker_signed = if f.taker_side == Side::Buy { qty } else { -qty };
                let price = i128::from(f.price.0);
                self.trade(f.maker_account, f.market, -taker_signed, price, maker_fee)?;
                self.trade(f.taker_account, f.market, taker_signed, price, taker_fee)?;
                self.tally.fills += 1;
                self.tally.liquidation_fills += u64::from(liquidation);
            }
            EventKind::BackstopTakeover { market, account, liquidator, side, qty, price, .. } => {
                let qty = i128::from(qty.0);
                let signed = if *side == Side::Buy { qty } else { -qty };
                self.trade(*liquidator, *market, -signed, i128::from(price.0), 0)?;
                self.trade(*account, *market, signed, i128::from(price.0), 0)?;
                self.tally.backstops += 1;
            }
            EventKind::Deleveraged { market, account, bankrupt, qty, price, settlement, .. } => {
                // The winner's share of the sub-tick rest moves first, then the trade.
                let share = i128::from(settlement.0);
                if share < 0 {
                    return Err("a negative ADL settlement".into());
                }
                self.add_cash(*account, *market, -share)?;
                self.add_cash(*bankrupt, *market, share)?;
                // The bankrupt side's direction: the winner's position is opposite to it.
                let winner_size = self.position(*account, *market).size;
                let qty = i128::from(qty.0);
                let winner_signed = -winner_size.signum() * qty;
                self.trade(*account, *market, winner_signed, i128::from(price.0), 0)?;
                self.trade(*bankrupt, *market, -winner_signed, i128::from(price.0), 0)?;
                self.tally.deleveraged += 1;
            }
            EventKind::PositionChanged {
                account,
                market,
                size,
                cost_basis,
                realized,
                fee,
                collateral,
                isolated_margin,
            } => {
                let x = self.expected.pop_front().ok_or("position_changed without a trade")?;
                let got = Expected {
                    account: *account,
                    market: *market,
                    size: i128::from(size.0),
                    cost: i128::from(cost_basis.0),
                    realized: i128::from(realized.0),
                    fee: i128::from(fee.0),
                };
                if x != got {
                    return Err(format!("position change: engine {got:?}, auditor {x:?}"));
                }
                // The split of the account's money: the isolated margin the engine reports, the
                // collateral what is left of the auditor's total.
                let a = self.account(*account)?;
                let p = a.positions.entry(*market).or_default();
                a.collateral -= i128::from(isolated_margin.0) - p.isolated;
                p.isolated = i128::from(isolated_margin.0);
                if a.collateral != i128::from(collateral.0) {
                    return Err(format!(
                        "position change: collateral after {} but the auditor's money for the account leaves {}",
                        collateral.0, a.collateral
                    ));
                }
            }
            EventKind::FundingSettled(settlement) => {
                let FundingSettlement { market, rate, mark, positions, paid, received, to_insurance_fund, .. } =
                    &**settlement;
                if paid.0 - received.0 != to_insurance_fund.0 {
                    return Err("funding: remainder is not paid − received".into());
                }
                let due: Vec<AccountId> = self
                    .accounts
                    .iter()
                    .filter(|(_, a)| a.positions.get(market).is_some_and(|p| p.size != 0))
                    .map(|(id, _)| *id)
                    .collect();
                self.credit_fund(*market, i128::from(to_insurance_fund.0))?;
                self.settling = Some(Settling {
                    market: *market,
                    rate: i128::from(rate.0),
                    mark: mark.map(|p| i128::from(p.0)),
                    positions: *positions,
                    paid: i128::from(paid.0),
                    received: i128::from(received.0),
                    seen: 0,
                    seen_paid: 0,
                    seen_received: 0,
                    due,
                });
            }
            EventKind::FundingPayment { account, market, size, amount, collateral, isolated_margin } => {
                let s = self.settling.as_mut().ok_or("funding payment outside a settlement")?;
                if s.market != *market {
                    return Err("funding payment of another market".into());
                }
                let mark = s.mark.ok_or("funding paid without a mark")?;
                let (rate, market) = (s.rate, *market);
                let q = self.market(market)?.q;
                let iso = self.accounts.get(account).is_some_and(|a| a.isolated(market));
                let a = self.account(*account)?;
                let p = a.positions.entry(market).or_default();
                if p.size != i128::from(size.0) {
                    return Err(format!("funding on size {} but the auditor's position is {}", size.0, p.size));
                }
                let n = p.size * mark * q * rate;
                let want = if n >= 0 { div_ceil(n, RATE_SCALE) } else { n / RATE_SCALE };
                if want != i128::from(amount.0) {
                    return Err(format!("funding payment {} but the auditor computes {want}", amount.0));
                }
                if want > 0 {
                    p.funding_paid += want;
                } else {
                    p.funding_received -= want;
                }
                if iso {
                    p.isolated -= want;
                } else {
                    a.collateral -= want;
                }
                if a.collateral != i128::from(collateral.0) || p.isolated != i128::from(isolated_margin.0) {
                    return Err(format!(
                        "funding: engine collateral {} margin {}, auditor {} {}",
                        collateral.0, isolated_margin.0, a.collateral, p.isolated
                    ));
                }
                let s = self.settling.as_mut().expect("checked above");
                s.seen += 1;
                if want > 0 {
                    s.seen_paid += want;
                } else {
                    s.seen_received -= want;
                }
                s.due.retain(|d| d != account);
                self.tally.funding_payments += 1;
            }
            EventKind::PositionSettled { account, market, size, price, realized, collateral } => {
                let q = self.market(*market)?.q;
                let a = self.account(*account)?;
                let p = a.positions.entry(*market).or_default();
                if p.size != i128::from(size.0) || p.size == 0 {
                    return Err(format!("delisting settles size {} but the auditor has {}", size.0, p.size));
                }
                let want = p.size * i128::from(price.0) * q - p.cost;
                if want != i128::from(realized.0) {
                    return Err(format!("delisting realises {} but the auditor computes {want}", realized.0));
                }
                p.size = 0;
                p.cost = 0;
                p.realized += want;
                let released = std::mem::take(&mut p.isolated);
                a.collateral += want + released;
                if a.collateral != i128::from(collateral.0) {
                    return Err(format!("delisting: collateral {} but the auditor has {}", collateral.0, a.collateral));
                }
                self.tally.settlements += 1;
            }
            EventKind::LiquidationStarted { account, scope, .. } => self.unit = Some((*account, *scope)),
            EventKind::LiquidationFinished { account, scope, outcome, .. } => {
                if *outcome == LiquidationOutcome::ClosedOut
                    && let LiquidationScope::Isolated(m) = scope
                {
                    // What is left of a closed-out isolated position's margin goes back.
                    let a = self.account(*account)?;
                    let p = a.positions.entry(*m).or_default();
                    a.collateral += std::mem::take(&mut p.isolated);
                }
                self.unit = None;
            }
            EventKind::LiquidationFee { account, market, amount, fund } => {
                self.add_cash(*account, *market, -i128::from(amount.0))?;
                let to = self.credit_fund(*market, i128::from(amount.0))?;
                if to != *fund {
                    return Err(format!("liquidation fee paid to {fund:?}, but the market's policy names {to:?}"));
                }
                self.tally.liquidation_fees += 1;
            }
            EventKind::DeficitCovered { account, market, fund, amount, balance } => {
                let amount = i128::from(amount.0);
                let after = match fund {
                    FundRef::Market(m) => {
                        let m = self.market(*m)?;
                        m.fund -= amount;
                        m.fund
                    }
                    FundRef::Shared => {
                        self.ledger.shared_fund -= amount;
                        self.ledger.shared_fund
                    }
                    FundRef::Guaranty => {
                        self.ledger.guaranty_fund -= amount;
                        self.ledger.guaranty_fund
                    }
                };
                if after != i128::from(balance.0) || after < 0 || amount <= 0 {
                    return Err(format!(
                        "fund {fund:?} paid {amount}: balance {} but the auditor has {after}",
                        balance.0
                    ));
                }
                self.add_cash(*account, *market, amount)?;
                self.tally.deficits_covered += 1;
            }
            EventKind::DeficitUncovered { account, market, amount } => {
                self.ledger.uncovered += i128::from(amount.0);
                self.add_cash(*account, *market, i128::from(amount.0))?;
                self.tally.deficits_uncovered += 1;
            }
            EventKind::FundCapitalised { fund, amount, balance } => {
                let amount = i128::from(amount.0);
                let after = match fund {
                    FundRef::Market(m) => {
                        let m = self.market(*m)?;
                        m.fund += amount;
                        m.fund
                    }
                    FundRef::Shared => {
                        self.ledger.shared_fund += amount;
                        self.ledger.shared_fund
                    }
                    FundRef::Guaranty => {
                        self.ledger.guaranty_fund += amount;
                        self.ledger.guaranty_fund
                    }
                };
                if after != i128::from(balance.0) {
                    return Err(format!("capital into {fund:?}: balance {} but the auditor has {after}", balance.0));
                }
                self.ledger.venue_capital += amount;
                self.tally.capitalised += 1;
            }
            _ => {}
        }
        Ok(())
    }

    /// Closes the running funding settlement: every holder paid, the sums as announced.
    fn finish_settlement(&mut self) -> Result<(), String> {
        let Some(s) = self.settling.take() else { return Ok(()) };
        if s.seen != s.positions || s.seen_paid != s.paid || s.seen_received != s.received {
            return Err(format!(
                "funding settlement of {} announced {} positions paying {} receiving {}, the payments were {} {} {}",
                s.market, s.positions, s.paid, s.received, s.seen, s.seen_paid, s.seen_received
            ));
        }
        if !s.due.is_empty() {
            return Err(format!("funding settlement of {} skipped holders {:?}", s.market, s.due));
        }
        Ok(())
    }

    /// Compares every account, the ledger and every market's fund with the engine's state.
    ///
    /// # Errors
    /// The first difference.
    pub fn compare(&self, engine: &Engine) -> Result<(), String> {
        for (id, a) in engine.accounts() {
            let model =
                self.accounts.get(id).ok_or_else(|| format!("engine has account {id} the auditor never saw"))?;
            if i128::from(a.collateral.0) != model.collateral {
                return Err(format!(
                    "account {id}: collateral {} but the auditor has {}",
                    a.collateral.0, model.collateral
                ));
            }
            for (m, p) in &a.positions {
                let got = AuditPosition {
                    size: i128::from(p.size.0),
                    cost: i128::from(p.cost_basis.0),
                    realized: i128::from(p.realized_pnl.0),
                    fees: i128::from(p.fees_paid.0),
                    isolated: i128::from(p.isolated_margin.0),
                    funding_paid: i128::from(p.funding_paid.0),
                    funding_received: i128::from(p.funding_received.0),
                };
                let want = model.positions.get(m).copied().unwrap_or_default();
                if got != want {
                    return Err(format!("account {id} market {m}: engine {got:?}, auditor {want:?}"));
                }
            }
            for (m, p) in &model.positions {
                if !a.positions.contains_key(m) && *p != AuditPosition::default() {
                    return Err(format!("account {id} market {m}: the auditor has {p:?}, the engine nothing"));
                }
            }
        }
        for id in self.accounts.keys() {
            if engine.account(*id).is_none() {
                return Err(format!("the auditor has account {id}, the engine does not"));
            }
        }
        let l = engine.ledger();
        let got = AuditLedger {
            deposits: i128::from(l.deposits.0),
            withdrawals: i128::from(l.withdrawals.0),
            fee_account: i128::from(l.fee_account.0),
            shared_fund: i128::from(l.insurance_fund.0),
            guaranty_fund: i128::from(l.guaranty_fund.0),
            uncovered: i128::from(l.uncovered.0),
            venue_capital: i128::from(l.venue_capital.0),
        };
        if got != self.ledger {
            return Err(format!("ledger: engine {got:?}, auditor {:?}", self.ledger));
        }
        if engine.markets().len() != self.markets.len() {
            return Err(format!("{} markets, the auditor has {}", engine.markets().len(), self.markets.len()));
        }
        for (m, model) in engine.markets().iter().zip(&self.markets) {
            if i128::from(m.insurance_fund.0) != model.fund {
                return Err(format!(
                    "market {}: own fund {} but the auditor has {}",
                    m.id, m.insurance_fund.0, model.fund
                ));
            }
            if i128::from(m.quote_per_tick_lot) != model.q {
                return Err(format!("market {}: quote per tick-lot differs", m.id));
            }
        }
        Ok(())
    }

    /// The auditor's own books balance: money held (collateral, isolated margins, minus cost
    /// bases, the fee account, every fund, minus bad debt) equals money in (deposits −
    /// withdrawals + venue capital).
    ///
    /// # Errors
    /// The two sides when they differ.
    pub fn check_conservation(&self) -> Result<(), String> {
        let mut held: i128 = 0;
        for a in self.accounts.values() {
            held += a.collateral;
            for p in a.positions.values() {
                held += p.isolated - p.cost;
            }
        }
        held += self.ledger.fee_account + self.ledger.shared_fund + self.ledger.guaranty_fund - self.ledger.uncovered;
        held += self.markets.iter().map(|m| m.fund).sum::<i128>();
        let came_in = self.ledger.deposits - self.ledger.withdrawals + self.ledger.venue_capital;
        if held == came_in { Ok(()) } else { Err(format!("auditor's books: held {held}, came in {came_in}")) }
    }
}
