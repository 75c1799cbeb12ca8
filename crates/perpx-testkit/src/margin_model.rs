//! A naive model of the money side of the venue (`docs/MARGIN.md`), written from the document,
//! to compare the engine with after every command.
//!
//! The model keeps no book. It follows the engine's **events** — `MarketCreated` (with the
//! specification from the `CreateMarket` command that produced it), `MarkPriceSet`, `Fill`,
//! `Deposited`, `Withdrawn`, `LeverageSet`, `MarginModeSet`, `IsolatedMarginChanged`, and the
//! liquidation events — and keeps, per account, collateral, per-market size, cost basis, realised
//! PnL, fees and isolated margin, the chosen leverages and margin modes, and the venue's ledger
//! (deposits, withdrawals, fee account, the funds, venue capital, `uncovered`), each market's
//! own insurance fund and net draw on the shared one, the liquidation queue and the registered
//! liquidators. Every fill is recomputed here with the model's own arithmetic, in plain `i128`,
//! without calling `perpx_core::risk`:
//!
//! - fee `= notional × rate`, charged rounded up, a rebate (negative rate) paid rounded down;
//! - an opening fill adds `qty × price` to the cost basis; a reducing fill removes
//!   `cost × closed / |size|` rounded away from zero (all of it when the position closes) and
//!   realises `±closed × price − removed`; the rest of a larger fill opens the other way;
//! - collateral moves by realised PnL minus the fee; the fee account by both fees;
//! - an isolated position's own margin takes `⌈opened × mark / leverage⌉` from collateral for
//!   the lots a fill opens and gives back `⌊margin × closed / |size|⌋` for the lots it closes
//!   (all of it on a full close; a flip releases all, then opens the rest); `adjust` moves
//!   margin between collateral and the position.
//!
//! The fees, positions and margins the engine reports (`Fill`, `PositionChanged`, `Deposited`,
//! `Withdrawn`, `IsolatedMarginChanged`) are checked against the model's figures as they are read,
//! and so are the liquidation events (see Scope).
//!
//! Margin figures come from the model's positions, its marks and the account's **open orders
//! read from the engine's book** (the one thing the model does not keep): per market
//! `IM = max(IM(|pos|), IM(|pos + buys|), IM(|pos − sells|)) + order loss` with
//! `IM(s) = ⌈|s| × mark / leverage⌉`, reduce-only orders excluded; `MM = max(0, ⌈N × mmr⌉ −
//! amount)` in the tier holding `N`; `equity = collateral + Σ unrealised`; `withdrawable =
//! max(0, equity − IM − max(0, Σ unrealised))`. An isolated market adds to those cross figures
//! only what its open orders need beyond its position, `requirement(orders) − IM(position)`
//! (collateral backs the orders, the position stands on its own margin); the position has its
//! own figures: equity `margin + uPnL`, the IM and MM of its notional, and what may be removed,
//! `max(0, min(margin, margin + min(0, uPnL) − IM))`. From the same figures the model gives its
//! verdict on the account checks of a command before the engine sees it: an order's margin and
//! tier check, a leverage change, a margin mode change, an isolated margin adjustment, a
//! withdrawal, a deposit.
//!
//! Scope: cross and isolated margin, and **liquidations** (`docs/LIQUIDATION.md`; how the model
//! follows them is in `margin_model/liquidation.rs`): the queue and its cancel-only accounts, liquidation
//! orders and their fee-free fills, backstop takeovers and the gaps the funds pay them, ADL
//! trades and their sub-tick settlements, liquidation fees, the default waterfall (insurance
//! funds own and shared, the guaranty fund, `uncovered`), admin capital paid into the funds, and
//! the return of a closed-out isolated position's margin. Every amount is recomputed from the
//! events' quantities and prices and the model's own marks, positions and funds; the figures
//! the events report (equity and MM of a unit, bankruptcy prices, limits, gaps, settlements,
//! fees, fund balances) are checked against the model's. No funding, no delisting or scheduled
//! parameter changes: an event of those (funding payments, settlements, parameter changes) is
//! reported as one the model can't follow rather than silently ignored; any other unknown money
//! movement shows up as a difference in collateral, isolated margin or a fund.

mod liquidation;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use perpx_core::account::MarginMode;
use perpx_core::event::LiquidationScope;
use perpx_core::{
    AccountId, Command, CommandKind, Engine, EngineConfig, Event, EventKind, Fill, MarketId, MarketSpec, NewOrder,
    OrderType, RejectReason, Side,
};

pub use liquidation::LiquidationChecks;

/// 1e-8: the scale of every rate.
const RATE_SCALE: i128 = 100_000_000;
/// Micro-units per unit of the settlement coin.
const MICRO: i128 = 1_000_000;
/// Default leverage cap (Binance's 20x).
const DEFAULT_LEVERAGE_CAP: u32 = 20;

/// A position in one market, in plain integers (lots and micro-units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelPosition {
    /// Signed size in lots.
    pub size: i64,
    /// Signed cost basis in micro-units.
    pub cost_basis: i64,
    /// Σ realised PnL.
    pub realized_pnl: i64,
    /// Σ fees (negative when rebates won).
    pub fees_paid: i64,
    /// The position's own margin in isolated mode (zero in cross).
    pub isolated_margin: i64,
}

/// An account of the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelAccount {
    /// Collateral in micro-units.
    pub collateral: i64,
    /// Positions of every market the account has traded.
    pub positions: BTreeMap<MarketId, ModelPosition>,
    /// Leverage chosen per market (others use the default).
    pub leverage: BTreeMap<MarketId, u32>,
    /// Margin mode chosen per market (others are cross).
    pub margin_mode: BTreeMap<MarketId, MarginMode>,
}

impl ModelAccount {
    /// Whether the account margins `market` in isolation.
    #[must_use]
    pub fn is_isolated(&self, market: MarketId) -> bool {
        self.margin_mode.get(&market) == Some(&MarginMode::Isolated)
    }
}

/// The venue's ledger in the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelLedger {
    /// Σ deposits.
    pub deposits: i64,
    /// Σ withdrawals.
    pub withdrawals: i64,
    /// Σ fees net of rebates.
    pub fee_account: i64,
    /// The shared insurance fund.
    pub insurance_fund: i64,
    /// The guaranty fund.
    pub guaranty_fund: i64,
    /// Deficits no layer covered.
    pub uncovered: i64,
    /// Venue capital paid into the funds.
    pub venue_capital: i64,
}

/// A market as the model knows it.
#[derive(Debug, Clone)]
pub struct ModelMarket {
    /// The specification it was created with.
    pub spec: MarketSpec,
    /// Micro-units per tick × lot, derived here from the decimals.
    pub quote_per_tick_lot: i64,
    /// The mark, once set.
    pub mark: Option<i64>,
    /// Its own insurance fund (policy `own`).
    pub insurance_fund: i64,
    /// Under the `shared` policy, what it drew from the shared fund net of what it paid in.
    pub shared_net_draw: i64,
}

/// An account's margin figures, in micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    /// Collateral.
    pub collateral: i64,
    /// Σ unrealised PnL at mark.
    pub unrealized_pnl: i64,
    /// Collateral + unrealised PnL.
    pub equity: i64,
    /// Initial margin of positions and open orders.
    pub initial_margin: i64,
    /// Maintenance margin of positions.
    pub maintenance_margin: i64,
    /// `max(0, equity − IM − max(0, unrealised))`.
    pub withdrawable: i64,
}

/// An isolated position's own figures at mark, in micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IsolatedFigures {
    /// The position's own margin.
    pub margin: i64,
    /// Its unrealised PnL at mark.
    pub unrealized_pnl: i64,
    /// `margin + unrealised PnL`.
    pub equity: i64,
    /// IM of its notional at the account's leverage.
    pub initial_margin: i64,
    /// MM of its notional.
    pub maintenance_margin: i64,
    /// `max(0, min(margin, margin + min(0, uPnL) − IM))`: never unrealised profit, never below IM.
    pub removable: i64,
}

/// What a fill did to one side's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FillEffect {
    /// Opened a position from flat.
    Open,
    /// Added to a position on the same side.
    Increase,
    /// Reduced a position without closing it.
    PartialClose,
    /// Closed a position exactly.
    Close,
    /// Closed a position and opened the other way.
    Flip,
}

/// One side of a fill: whose, what it did to the position, and whether the position is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FillSide {
    /// The account.
    pub account: AccountId,
    /// What the fill did.
    pub effect: FillEffect,
    /// Whether the position holds its own margin.
    pub isolated: bool,
    /// Whether the isolated margin the fill moved was rounded: the released share down, or the
    /// opening margin up (not counted for a liquidated side, whose result stays in the margin).
    pub margin_rounded: bool,
    /// How the side was settled.
    pub mode: SettleMode,
}

/// How one side of a trade is settled (`Settle` in the engine's matcher, from LIQUIDATION.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SettleMode {
    /// The resting order's owner: the maker fee.
    Maker,
    /// The incoming order's owner: the taker fee.
    Taker,
    /// The account being liquidated (a liquidation order's fills, a backstop takeover, ADL):
    /// no trading fee, and an isolated position's result stays in its own margin.
    Liquidated,
    /// A backstop liquidator or a deleveraged winner: no fee.
    FeeFree,
}

/// The model's verdict on an order's account checks (reduce-only, tier, margin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderVerdict {
    /// The account checks pass.
    Pass,
    /// A reduce-only order with no position on the other side (5005).
    ReduceOnlyWouldIncrease,
    /// The worst reachable notional is in a tier below the account's leverage (5003).
    LeverageAboveTier {
        /// The account's leverage.
        leverage: u32,
        /// The tier's maximum.
        max: u32,
    },
    /// The order raises the IM requirement beyond equity (5002).
    InsufficientMargin {
        /// IM requirement with the order.
        required: i64,
        /// Equity.
        available: i64,
    },
    /// The account has a unit in the liquidation queue: it is cancel-only (5012).
    AccountInLiquidation,
}

/// The model's verdict on a whole command: accepted, or refused with one of these codes
/// (several where the documents leave the order of two checks open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Takes effect.
    Accept,
    /// Refused with any of these codes.
    Reject(Vec<u16>),
}

/// A hypothetical order added to an account's exposure.
#[derive(Debug, Clone, Copy)]
struct Extra {
    market: MarketId,
    side: Side,
    qty: i64,
    loss: i128,
}

/// The model.
#[derive(Debug, Clone)]
pub struct MarginModel {
    markets: Vec<ModelMarket>,
    accounts: BTreeMap<AccountId, ModelAccount>,
    ledger: ModelLedger,
    /// Per side of the last fills, what its `PositionChanged` event must say beyond the
    /// position itself: (account, market, realised, fee).
    pending: VecDeque<(AccountId, MarketId, i64, i64)>,
    /// Units waiting for liquidation, front first (their accounts are cancel-only).
    queue: VecDeque<(AccountId, LiquidationScope)>,
    /// Registered backstop liquidators.
    liquidators: BTreeSet<AccountId>,
    /// The engine's `max_liquidations_per_pass`.
    pass_limit: u32,
    /// Units taken from the queue in the running command's pass.
    pops: u32,
    /// The unit being liquidated, between its `LiquidationStarted` and `LiquidationFinished`.
    running: Option<liquidation::Running>,
    checks: LiquidationChecks,
    /// What the engine did, followed faithfully, that a document says can't happen.
    discrepancies: Vec<String>,
}

impl Default for MarginModel {
    fn default() -> Self {
        Self::for_engine(&EngineConfig::default())
    }
}

fn narrow(v: i128, what: &str) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| format!("{what} = {v} does not fit an i64"))
}

fn ceil_div(a: i128, d: i128) -> i128 {
    // d > 0
    let q = a.div_euclid(d);
    if a.rem_euclid(d) == 0 { q } else { q + 1 }
}

/// `tick × lot` in micro-units, from the decimals.
fn quote_per_tick_lot(spec: &MarketSpec) -> Result<i64, String> {
    let mantissa = i128::from(spec.tick_size.mantissa) * i128::from(spec.lot_size.mantissa);
    let scale = u32::from(spec.tick_size.scale) + u32::from(spec.lot_size.scale);
    let v = if scale <= 6 {
        mantissa * 10i128.pow(6 - scale)
    } else {
        let d = 10i128.pow(scale - 6);
        if mantissa % d != 0 {
            return Err(format!("{}: tick × lot is not whole micro-units", spec.symbol));
        }
        mantissa / d
    };
    narrow(v, "quote_per_tick_lot")
}

/// The fee on `notional` at `rate` (1e-8): a charge rounded up, a rebate rounded down.
fn fee(notional: i128, rate: i64) -> i128 {
    let r = i128::from(rate);
    if r >= 0 { ceil_div(notional * r, RATE_SCALE) } else { -((notional * -r) / RATE_SCALE) }
}

/// Applies a fill of `signed` lots at `price` to `p`; returns what it realised and what it did.
fn trade(p: &mut ModelPosition, signed: i64, price: i64, qtl: i64) -> Result<(i128, FillEffect), String> {
    let value = |lots: i128| lots * i128::from(price) * i128::from(qtl);
    let (size, cost, q) = (i128::from(p.size), i128::from(p.cost_basis), i128::from(signed));
    let (new_size, new_cost, realized, effect) = if size == 0 || (size > 0) == (q > 0) {
        let effect = if size == 0 { FillEffect::Open } else { FillEffect::Increase };
        (size + q, cost + value(q), 0, effect)
    } else {
        let closed = q.abs().min(size.abs());
        let removed = if closed == size.abs() {
            cost
        } else {
            // cost × closed / |size|, away from zero: realised profit is never overstated.
            let magnitude = ceil_div(cost.abs() * closed, size.abs());
            if cost < 0 { -magnitude } else { magnitude }
        };
        // A long sells the closed lots (receives), a short buys them back (pays).
        let realized = size.signum() * value(closed) - removed;
        let opened = q.abs() - closed;
        let effect = match (closed == size.abs(), opened > 0) {
            (true, true) => FillEffect::Flip,
            (true, false) => FillEffect::Close,
            (false, _) => FillEffect::PartialClose,
        };
        (size + q, cost - removed + q.signum() * value(opened), realized, effect)
    };
    p.size = narrow(new_size, "size")?;
    p.cost_basis = narrow(new_cost, "cost basis")?;
    p.realized_pnl = narrow(i128::from(p.realized_pnl) + realized, "realised PnL")?;
    Ok((realized, effect))
}

/// What a fill does to an isolated position's own margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MarginMove {
    /// Given back to collateral for the closed lots.
    released: i128,
    /// Taken from collateral for the opened lots.
    brought: i128,
    /// Whether either was rounded (the released share down, the opening margin up).
    rounded: bool,
}

/// How an isolated position's own margin follows a fill of `signed` lots (MARGIN.md, "Isolated
/// margin"), given its margin with the fill's result (realised PnL − fee) already in it: the
/// closed lots give back `max(0, ⌊margin × closed / |size|⌋)`, all of it when the position closes
/// (a flip closes first), nothing while it is being liquidated (`release` off); the lots the
/// fill opens bring `⌈opened × price / leverage⌉`, `price` being the mark at the fill.
fn isolated_margin_moves(
    margin: i128,
    size: i128,
    signed: i128,
    price: i128,
    qtl: i128,
    leverage: u32,
    release: bool,
) -> MarginMove {
    let closed = if size != 0 && (size > 0) != (signed > 0) { signed.abs().min(size.abs()) } else { 0 };
    let (released, release_rounded) = if closed == 0 || !release {
        (0, false)
    } else if closed == size.abs() {
        (margin, false)
    } else {
        let share = margin * closed;
        (share.div_euclid(size.abs()).max(0), share.rem_euclid(size.abs()) != 0)
    };
    let opened = signed.abs() - closed;
    let (value, leverage) = (opened * price * qtl, i128::from(leverage.max(1)));
    let brought = ceil_div(value, leverage);
    MarginMove { released, brought, rounded: release_rounded || value % leverage != 0 }
}

/// What may be taken out of an isolated position's margin: never its unrealised profit, never
/// below its IM, `max(0, min(margin, margin + min(0, uPnL) − IM))`.
fn removable(margin: i128, upnl: i128, im: i128) -> i128 {
    margin.min(margin + upnl.min(0) - im).max(0)
}

impl MarginModel {
    /// An empty venue, for an engine with the default settings.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty venue, for an engine with `config` (the model needs its liquidation budget per
    /// command to know when the queue must have been worked).
    #[must_use]
    pub fn for_engine(config: &EngineConfig) -> Self {
        Self {
            markets: Vec::new(),
            accounts: BTreeMap::new(),
            ledger: ModelLedger::default(),
            pending: VecDeque::new(),
            queue: VecDeque::new(),
            liquidators: BTreeSet::new(),
            pass_limit: config.max_liquidations_per_pass,
            pops: 0,
            running: None,
            checks: LiquidationChecks::default(),
            discrepancies: Vec::new(),
        }
    }

    /// The liquidation queue, front first.
    #[must_use]
    pub fn liquidation_queue(&self) -> &VecDeque<(AccountId, LiquidationScope)> {
        &self.queue
    }

    /// Registered backstop liquidators.
    #[must_use]
    pub fn liquidators(&self) -> &BTreeSet<AccountId> {
        &self.liquidators
    }

    /// What the model has checked of the liquidations it followed.
    #[must_use]
    pub fn liquidation_checks(&self) -> LiquidationChecks {
        self.checks
    }

    /// What the engine did that the model followed — its figures agree — but a document says
    /// can't happen (so far: a deficit no fund covered, which LIQUIDATION.md says cannot arise).
    /// A test reports these as failures of their own.
    #[must_use]
    pub fn discrepancies(&self) -> &[String] {
        &self.discrepancies
    }

    /// Whether the account has a unit in the liquidation queue (it is then cancel-only).
    #[must_use]
    pub fn in_liquidation(&self, id: AccountId) -> bool {
        self.queue.iter().any(|(a, _)| *a == id)
    }

    /// Markets in id order.
    #[must_use]
    pub fn markets(&self) -> &[ModelMarket] {
        &self.markets
    }

    /// Accounts by id.
    #[must_use]
    pub fn accounts(&self) -> &BTreeMap<AccountId, ModelAccount> {
        &self.accounts
    }

    /// An account by id.
    #[must_use]
    pub fn account(&self, id: AccountId) -> Option<&ModelAccount> {
        self.accounts.get(&id)
    }

    /// The ledger.
    #[must_use]
    pub fn ledger(&self) -> ModelLedger {
        self.ledger
    }

    /// A copy of the model with `market`'s mark at `price`: the state the stop pass of a
    /// `set_mark` starts from, for a verdict on the orders it triggers.
    #[must_use]
    pub fn with_mark(&self, market: MarketId, price: i64) -> Self {
        let mut copy = self.clone();
        if let Some(m) = usize::try_from(market.0).ok().and_then(|i| copy.markets.get_mut(i)) {
            m.mark = Some(price);
        }
        copy
    }

    fn market(&self, id: MarketId) -> Option<&ModelMarket> {
        self.markets.get(usize::try_from(id.0).ok()?)
    }

    /// The leverage `account` uses in `market`.
    fn leverage(&self, account: &ModelAccount, market: MarketId, spec: &MarketSpec) -> u32 {
        account.leverage.get(&market).copied().unwrap_or(spec.max_leverage.min(DEFAULT_LEVERAGE_CAP))
    }

    fn market_mut(&mut self, id: MarketId) -> Result<&mut ModelMarket, String> {
        let i = usize::try_from(id.0).map_err(|e| e.to_string())?;
        self.markets.get_mut(i).ok_or_else(|| format!("unknown market {id}"))
    }

    /// Follows the events `cmd` produced, checking every money figure they report against the
    /// model's own. Returns what each side of every trade did (maker then taker, liquidator then
    /// liquidated, winner then bankrupt).
    ///
    /// # Errors
    /// A description of the first figure that differs, or of an event the model can't follow.
    pub fn observe(&mut self, cmd: &Command, events: &[Event]) -> Result<Vec<FillSide>, String> {
        let mut effects = Vec::new();
        self.pops = 0;
        for e in events {
            self.end_adl_unless_continued(&e.kind)?;
            match &e.kind {
                EventKind::MarketCreated { market, symbol } => {
                    let CommandKind::CreateMarket(spec) = &cmd.kind else {
                        return Err(format!("market {market} created by a command that creates none"));
                    };
                    if spec.symbol != *symbol || usize::try_from(market.0).ok() != Some(self.markets.len()) {
                        return Err(format!("market {market} '{symbol}' is not the next market '{}'", spec.symbol));
                    }
                    let quote_per_tick_lot = quote_per_tick_lot(spec)?;
                    self.markets.push(ModelMarket {
                        spec: (**spec).clone(),
                        quote_per_tick_lot,
                        mark: None,
                        insurance_fund: 0,
                        shared_net_draw: 0,
                    });
                }
                EventKind::MarkPriceSet { market, price } => {
                    self.market_mut(*market)?.mark = Some(price.0);
                }
                EventKind::Fill(f) => effects.extend(self.fill(f)?),
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
                    let (a, m, want_realized, want_fee) =
                        self.pending.pop_front().ok_or("a position change without a fill")?;
                    let p = self.accounts[&a].positions[&m];
                    let collateral_after = self.accounts[&a].collateral;
                    let want =
                        (a, m, p.size, p.cost_basis, want_realized, want_fee, collateral_after, p.isolated_margin);
                    let got =
                        (*account, *market, size.0, cost_basis.0, realized.0, fee.0, collateral.0, isolated_margin.0);
                    if got != want {
                        return Err(format!(
                            "position change (account, market, size, cost, realised, fee, collateral, isolated \
                             margin) is {got:?}, the model says {want:?}"
                        ));
                    }
                }
                EventKind::Deposited { account, amount, collateral } => {
                    let a = self.accounts.entry(*account).or_default();
                    a.collateral = narrow(i128::from(a.collateral) + i128::from(amount.0), "collateral")?;
                    self.ledger.deposits = narrow(i128::from(self.ledger.deposits) + i128::from(amount.0), "deposits")?;
                    if a.collateral != collateral.0 {
                        return Err(format!("deposit leaves {collateral}, the model {}", a.collateral));
                    }
                }
                EventKind::Withdrawn { account, amount, collateral } => {
                    let a = self.accounts.get_mut(account).ok_or("withdrawal from an unknown account")?;
                    a.collateral = narrow(i128::from(a.collateral) - i128::from(amount.0), "collateral")?;
                    self.ledger.withdrawals =
                        narrow(i128::from(self.ledger.withdrawals) + i128::from(amount.0), "withdrawals")?;
                    if a.collateral != collateral.0 {
                        return Err(format!("withdrawal leaves {collateral}, the model {}", a.collateral));
                    }
                }
                EventKind::LeverageSet { account, market, leverage } => {
                    let a = self.accounts.get_mut(account).ok_or("leverage set for an unknown account")?;
                    a.leverage.insert(*market, *leverage);
                }
                EventKind::MarginModeSet { account, market, mode } => {
                    let a = self.accounts.get_mut(account).ok_or("margin mode set for an unknown account")?;
                    a.margin_mode.insert(*market, *mode);
                }
                EventKind::IsolatedMarginChanged { account, market, amount, isolated_margin, collateral } => {
                    let a = self.accounts.get_mut(account).ok_or("isolated margin moved for an unknown account")?;
                    if !a.is_isolated(*market) {
                        return Err(format!("isolated margin moved in market {market}, which {account} margins cross"));
                    }
                    a.collateral = narrow(i128::from(a.collateral) - i128::from(amount.0), "collateral")?;
                    let p = a.positions.get_mut(market).ok_or("isolated margin moved without a position")?;
                    p.isolated_margin =
                        narrow(i128::from(p.isolated_margin) + i128::from(amount.0), "isolated margin")?;
                    let want = (p.isolated_margin, a.collateral);
                    if (isolated_margin.0, collateral.0) != want {
                        return Err(format!(
                            "isolated margin change leaves (margin, collateral) ({isolated_margin}, {collateral}), \
                             the model {want:?}"
                        ));
                    }
                }
                EventKind::PositionSettled { .. }
                | EventKind::MarketDelisted { .. }
                | EventKind::ParamsChanged { .. }
                | EventKind::FundingPayments { .. }
                | EventKind::FundingPayment { .. } => {
                    return Err(format!("the margin model does not follow {:?}", e.kind));
                }
                EventKind::FundingSettled(s) if s.to_insurance_fund.0 != 0 => {
                    return Err(format!("the margin model does not follow {:?}", e.kind));
                }
                kind => effects.extend(self.liquidation_event(kind)?),
            }
        }
        self.end_adl()?;
        if let Some(p) = self.pending.pop_front() {
            return Err(format!("fill side {p:?} had no position change"));
        }
        // A command refused for its timestamp stops before the liquidation pass.
        let regressed = matches!(
            events.first().map(|e| &e.kind),
            Some(EventKind::Rejected { reason: RejectReason::TimestampRegression { .. }, .. })
        );
        if !regressed {
            self.end_pass()?;
        }
        Ok(effects)
    }

    /// Settles both sides of a fill with the model's own formulas. The taker of a liquidation
    /// order is settled as liquidated (no fee, an isolated result stays in the margin).
    fn fill(&mut self, f: &Fill) -> Result<[FillSide; 2], String> {
        let m = self.market(f.market).ok_or_else(|| format!("fill in unknown market {}", f.market))?;
        let (qtl, maker_rate, taker_rate) = (m.quote_per_tick_lot, m.spec.maker_fee.0, m.spec.taker_fee.0);
        let notional = i128::from(f.qty.0) * i128::from(f.price.0) * i128::from(qtl);
        let liquidation = self.liquidation_fill(f)?;
        let taker_mode = if liquidation { SettleMode::Liquidated } else { SettleMode::Taker };
        let (maker_fee, taker_fee) =
            (fee(notional, maker_rate), if liquidation { 0 } else { fee(notional, taker_rate) });
        if (i128::from(f.maker_fee.0), i128::from(f.taker_fee.0)) != (maker_fee, taker_fee) {
            return Err(format!(
                "trade {}: fees (maker, taker) are ({}, {}), the model says ({maker_fee}, {taker_fee})",
                f.trade_id, f.maker_fee, f.taker_fee
            ));
        }
        if f.maker_account == f.taker_account {
            return Err(format!("trade {} is a self-trade", f.trade_id));
        }
        let (price, qty) = (f.price.0, f.qty.0);
        let maker = self.settle(f.market, f.maker_account, f.taker_side.opposite(), price, qty, SettleMode::Maker)?;
        let taker = self.settle(f.market, f.taker_account, f.taker_side, price, qty, taker_mode)?;
        Ok([maker, taker])
    }

    /// Settles one side of a trade: the position, its isolated margin, realised PnL and the fee
    /// (by `mode`) through collateral — or, for a liquidated isolated position, into its own
    /// margin — and the fee account; queues what its `PositionChanged` must say.
    fn settle(
        &mut self,
        market: MarketId,
        account: AccountId,
        side: Side,
        price: i64,
        qty: i64,
        mode: SettleMode,
    ) -> Result<FillSide, String> {
        let m = self.market(market).ok_or_else(|| format!("trade in unknown market {market}"))?;
        let (qtl, spec) = (m.quote_per_tick_lot, m.spec.clone());
        // Isolated margin is valued at the mark (the fill price when the market has none).
        let margin_price: i64 = m.mark.unwrap_or(price);
        let notional = i128::from(qty) * i128::from(price) * i128::from(qtl);
        let fee = match mode {
            SettleMode::Maker => fee(notional, spec.maker_fee.0),
            SettleMode::Taker => fee(notional, spec.taker_fee.0),
            SettleMode::Liquidated | SettleMode::FeeFree => 0,
        };
        let a = self.accounts.get(&account).ok_or_else(|| format!("trade for unknown account {account}"))?;
        let leverage = self.leverage(a, market, &spec);
        let a = self.accounts.get_mut(&account).expect("found above");
        let isolated = a.is_isolated(market);
        let p = a.positions.entry(market).or_default();
        let signed = if side == Side::Buy { qty } else { -qty };
        let size_before = i128::from(p.size);
        let (realized, effect) = trade(p, signed, price, qtl)?;
        p.fees_paid = narrow(i128::from(p.fees_paid) + fee, "fees")?;
        let liquidated = mode == SettleMode::Liquidated;
        let mut rounded = false;
        if isolated {
            // MARGIN.md: the position is its own wallet — its result stays in its margin, the
            // closed share of the margin goes back, opening lots bring their IM at mark.
            let with_result = i128::from(p.isolated_margin) + realized - fee;
            let mv = isolated_margin_moves(
                with_result,
                size_before,
                signed.into(),
                margin_price.into(),
                qtl.into(),
                leverage,
                !liquidated,
            );
            rounded = mv.rounded;
            // MARGIN.md: opening lots bring at most what the collateral still has; a position
            // the fill closes leaves no margin behind (a loss beyond it is the account's, even
            // below zero collateral).
            let moved = mv.brought - mv.released;
            let short = if p.size == 0 { 0 } else { (moved - i128::from(a.collateral).max(0)).max(0) };
            p.isolated_margin = narrow(with_result - mv.released + mv.brought - short, "isolated margin")?;
            a.collateral = narrow(i128::from(a.collateral) - (moved - short), "collateral")?;
        } else {
            a.collateral = narrow(i128::from(a.collateral) + realized - fee, "collateral")?;
        }
        self.ledger.fee_account = narrow(i128::from(self.ledger.fee_account) + fee, "fee account")?;
        self.pending.push_back((account, market, narrow(realized, "realised")?, narrow(fee, "fee")?));
        Ok(FillSide { account, effect, isolated, margin_rounded: rounded && !liquidated, mode })
    }

    // ---- margin --------------------------------------------------------------------------

    /// The account's margin figures now, with its open orders read from `engine`'s books.
    /// `None` for an account the model does not know.
    ///
    /// # Errors
    /// If a figure does not fit an `i64`.
    pub fn figures(&self, engine: &Engine, id: AccountId) -> Option<Result<Figures, String>> {
        self.accounts.contains_key(&id).then(|| self.figures_with(engine, id, None, None))
    }

    /// Figures with an optional extra order and an optional leverage override in one market.
    fn figures_with(
        &self,
        engine: &Engine,
        id: AccountId,
        extra: Option<Extra>,
        leverage_override: Option<(MarketId, u32)>,
    ) -> Result<Figures, String> {
        let a = &self.accounts[&id];
        let (mut upnl, mut im, mut mm) = (0i128, 0i128, 0i128);
        for (i, m) in self.markets.iter().enumerate() {
            let mid = MarketId(u32::try_from(i).map_err(|e| e.to_string())?);
            let Some(mark) = m.mark else { continue };
            let (mark, qtl) = (i128::from(mark), i128::from(m.quote_per_tick_lot));
            let p = a.positions.get(&mid).copied().unwrap_or_default();
            let pos = i128::from(p.size);
            let (mut buys, mut sells, mut loss) = self.open_orders(engine, id, mid, mark, qtl)?;
            if let Some(x) = extra.filter(|x| x.market == mid) {
                match x.side {
                    Side::Buy => buys += i128::from(x.qty),
                    Side::Sell => sells += i128::from(x.qty),
                }
                loss += x.loss;
            }
            let lev = match leverage_override {
                Some((lm, l)) if lm == mid => l,
                _ => self.leverage(a, mid, &m.spec),
            };
            let im_of = |size: i128| ceil_div(size.abs() * mark * qtl, i128::from(lev));
            let requirement = im_of(pos).max(im_of(pos + buys)).max(im_of(pos - sells)) + loss;
            if a.is_isolated(mid) {
                // The position stands on its own margin; collateral backs only what the orders
                // need beyond it. Its PnL and MM stay out of the account's cross figures.
                im += requirement - im_of(pos);
                continue;
            }
            im += requirement;
            let n = pos.abs() * mark * qtl;
            mm += maintenance(&m.spec, n);
            upnl += pos * mark * qtl - i128::from(p.cost_basis);
        }
        let collateral = i128::from(a.collateral);
        let equity = collateral + upnl;
        let withdrawable = (equity - im - upnl.max(0)).max(0);
        Ok(Figures {
            collateral: a.collateral,
            unrealized_pnl: narrow(upnl, "unrealised PnL")?,
            equity: narrow(equity, "equity")?,
            initial_margin: narrow(im, "initial margin")?,
            maintenance_margin: narrow(mm, "maintenance margin")?,
            withdrawable: narrow(withdrawable, "withdrawable")?,
        })
    }

    /// The figures of an isolated position: `None` for an account the model does not know, a
    /// market it margins cross, a flat position or a market without a mark.
    ///
    /// # Errors
    /// If a figure does not fit an `i64`.
    pub fn isolated(&self, id: AccountId, market: MarketId) -> Option<Result<IsolatedFigures, String>> {
        let a = self.accounts.get(&id)?;
        let p = a.positions.get(&market).filter(|p| p.size != 0 && a.is_isolated(market))?;
        let m = self.market(market)?;
        let (mark, qtl) = (i128::from(m.mark?), i128::from(m.quote_per_tick_lot));
        let n = i128::from(p.size).abs() * mark * qtl;
        let upnl = i128::from(p.size) * mark * qtl - i128::from(p.cost_basis);
        let margin = i128::from(p.isolated_margin);
        let im = ceil_div(n, i128::from(self.leverage(a, market, &m.spec)));
        let figures = || {
            Ok(IsolatedFigures {
                margin: p.isolated_margin,
                unrealized_pnl: narrow(upnl, "isolated unrealised PnL")?,
                equity: narrow(margin + upnl, "isolated equity")?,
                initial_margin: narrow(im, "isolated initial margin")?,
                maintenance_margin: narrow(maintenance(&m.spec, n), "isolated maintenance margin")?,
                removable: narrow(removable(margin, upnl, im), "removable margin")?,
            })
        };
        Some(figures())
    }

    /// Σ open buys, Σ open sells and Σ immediate loss against mark of the account's resting
    /// orders in a market that are not reduce-only, from the engine's book.
    fn open_orders(
        &self,
        engine: &Engine,
        id: AccountId,
        market: MarketId,
        mark: i128,
        qtl: i128,
    ) -> Result<(i128, i128, i128), String> {
        let (mut buys, mut sells, mut loss) = (0i128, 0i128, 0i128);
        let Some(m) = engine.market(market) else { return Ok((0, 0, 0)) };
        for oid in m.book.orders_of(id) {
            let o = m.book.get(oid).ok_or_else(|| format!("order {oid} listed for {id} is not in the book"))?;
            if o.reduce_only {
                continue;
            }
            let (qty, price) = (i128::from(o.qty.0), i128::from(o.price.0));
            match o.side {
                Side::Buy => {
                    buys += qty;
                    loss += (price - mark).max(0) * qty * qtl;
                }
                Side::Sell => {
                    sells += qty;
                    loss += (mark - price).max(0) * qty * qtl;
                }
            }
        }
        Ok((buys, sells, loss))
    }

    /// The largest notional an account can reach in a market (all its buys or all its sells
    /// filling), with an optional extra order.
    fn worst_notional(&self, engine: &Engine, id: AccountId, market: MarketId, extra: Option<Extra>) -> Option<i128> {
        let m = self.market(market)?;
        let (mark, qtl) = (i128::from(m.mark?), i128::from(m.quote_per_tick_lot));
        let pos = i128::from(self.accounts.get(&id)?.positions.get(&market).map_or(0, |p| p.size));
        let (mut buys, mut sells, _) = self.open_orders(engine, id, market, mark, qtl).ok()?;
        if let Some(x) = extra {
            match x.side {
                Side::Buy => buys += i128::from(x.qty),
                Side::Sell => sells += i128::from(x.qty),
            }
        }
        Some(((pos + buys).abs() * mark * qtl).max((pos - sells).abs() * mark * qtl))
    }

    /// How much an order on `side` could reduce of the account's position now.
    fn reducible(&self, id: AccountId, market: MarketId, side: Side) -> i64 {
        let size = self.accounts.get(&id).and_then(|a| a.positions.get(&market)).map_or(0, |p| p.size);
        match side {
            Side::Buy => (-size).max(0),
            Side::Sell => size.max(0),
        }
    }

    /// The order band `[⌈mark × (1 − band)⌉, ⌊mark × (1 + band)⌋]` (low at least 1).
    fn band(m: &ModelMarket) -> Option<(i64, i64)> {
        let mark = i128::from(m.mark?);
        let band = i128::from(m.spec.order_band.0);
        let low = ceil_div(mark * (RATE_SCALE - band), RATE_SCALE).max(1);
        let high = (mark * (RATE_SCALE + band)).div_euclid(RATE_SCALE);
        Some((i64::try_from(low).ok()?, i64::try_from(high).unwrap_or(i64::MAX)))
    }

    /// The model's verdict on the account checks of `o` (reduce-only, tier, margin) against
    /// the state *before* the command: what the engine must conclude if the order reaches them.
    /// `None` where the order can't reach them (unknown market or account, no mark, figures
    /// beyond an `i64`).
    ///
    /// A limit order counts for its whole size at its limit; a market order for what it can
    /// take now walking the opposite side up to the band edge, with the loss of each level
    /// against mark.
    #[must_use]
    pub fn order_verdict(&self, engine: &Engine, o: &NewOrder) -> Option<OrderVerdict> {
        let m = self.market(o.market)?;
        let account = self.accounts.get(&o.account)?;
        if self.in_liquidation(o.account) {
            return Some(OrderVerdict::AccountInLiquidation);
        }
        let mark = m.mark?;
        if o.reduce_only {
            let ok = self.reducible(o.account, o.market, o.side) > 0;
            return Some(if ok { OrderVerdict::Pass } else { OrderVerdict::ReduceOnlyWouldIncrease });
        }
        let (mark, qtl) = (i128::from(mark), i128::from(m.quote_per_tick_lot));
        let loss_at = |price: i128, qty: i128| match o.side {
            Side::Buy => (price - mark).max(0) * qty * qtl,
            Side::Sell => (mark - price).max(0) * qty * qtl,
        };
        let extra = match o.order_type {
            OrderType::Limit { price, .. } => {
                Extra { market: o.market, side: o.side, qty: o.qty.0, loss: loss_at(price.0.into(), o.qty.0.into()) }
            }
            OrderType::Market => {
                let (low, high) = Self::band(m)?;
                let book = engine.market(o.market).map(|em| &em.book)?;
                let (mut left, mut loss) = (i128::from(o.qty.0), 0i128);
                for (price, level) in book.levels(o.side.opposite()) {
                    let crosses = match o.side {
                        Side::Buy => price.0 <= high,
                        Side::Sell => price.0 >= low,
                    };
                    if left == 0 || !crosses {
                        break;
                    }
                    let q = left.min(level.total.0.into());
                    left -= q;
                    loss += loss_at(price.0.into(), q);
                }
                let reach = i64::try_from(i128::from(o.qty.0) - left).expect("at most the order's size");
                Extra { market: o.market, side: o.side, qty: reach, loss }
            }
        };
        let leverage = self.leverage(account, o.market, &m.spec);
        let worst = self.worst_notional(engine, o.account, o.market, Some(extra))?;
        let max = tier_of(&m.spec, worst).max_leverage;
        if leverage > max {
            return Some(OrderVerdict::LeverageAboveTier { leverage, max });
        }
        // Figures beyond an i64 can't be judged: the engine refuses such orders earlier
        // (`qty_above_max`, `notional_overflow`), and accepting one is then a mismatch.
        let (Ok(before), Ok(after)) =
            (self.figures_with(engine, o.account, None, None), self.figures_with(engine, o.account, Some(extra), None))
        else {
            return None;
        };
        if after.initial_margin > before.initial_margin && after.equity < after.initial_margin {
            return Some(OrderVerdict::InsufficientMargin { required: after.initial_margin, available: after.equity });
        }
        Some(OrderVerdict::Pass)
    }

    /// The model's verdict on `set_leverage`: the market and account exist, `1 ≤ leverage ≤
    /// max_leverage`, the tier of the worst reachable notional allows it, and a rise in IM is
    /// covered by equity.
    ///
    /// # Errors
    /// If a figure does not fit an `i64`.
    pub fn leverage_verdict(
        &self,
        engine: &Engine,
        id: AccountId,
        market: MarketId,
        leverage: u32,
    ) -> Result<Verdict, String> {
        let Some(m) = self.market(market) else { return Ok(Verdict::Reject(vec![2001])) };
        if !self.accounts.contains_key(&id) {
            return Ok(Verdict::Reject(vec![5001]));
        }
        if self.in_liquidation(id) {
            return Ok(Verdict::Reject(vec![5012]));
        }
        if leverage == 0 || leverage > m.spec.max_leverage {
            return Ok(Verdict::Reject(vec![5004]));
        }
        if let Some(worst) = self.worst_notional(engine, id, market, None) {
            if leverage > tier_of(&m.spec, worst).max_leverage {
                return Ok(Verdict::Reject(vec![5003]));
            }
        }
        let before = self.figures_with(engine, id, None, None)?;
        let after = self.figures_with(engine, id, None, Some((market, leverage)))?;
        if after.initial_margin > before.initial_margin && after.equity < after.initial_margin {
            return Ok(Verdict::Reject(vec![5002]));
        }
        Ok(Verdict::Accept)
    }

    /// The model's verdict on `set_margin_mode`: the market and account exist, and the account
    /// has no position, order or stop in the market (`margin_mode_change_blocked`, 5009). The
    /// orders and stops are read from `engine` (the model keeps no book).
    #[must_use]
    pub fn margin_mode_verdict(&self, engine: &Engine, id: AccountId, market: MarketId) -> Verdict {
        let (Some(_), Some(em)) = (self.market(market), engine.market(market)) else {
            return Verdict::Reject(vec![2001]);
        };
        let Some(a) = self.accounts.get(&id) else { return Verdict::Reject(vec![5001]) };
        let has_position = a.positions.get(&market).is_some_and(|p| p.size != 0);
        let has_order = em.book.open_order_count(id) != 0;
        let has_stop = em.stops.values().any(|s| s.account == id);
        if has_position || has_order || has_stop { Verdict::Reject(vec![5009]) } else { Verdict::Accept }
    }

    /// The model's verdict on `adjust_isolated_margin` of `amount` (positive adds, negative
    /// removes), with the figure a refusal must name as available: an add at most what could be
    /// withdrawn (`insufficient_margin`, 5002), a removal at most the position's removable margin
    /// (`isolated_margin_above_removable`, 5011); `not_isolated` (5010) without an isolated
    /// position; a zero amount is not an adjustment (5007).
    ///
    /// # Errors
    /// If a figure does not fit an `i64`.
    pub fn adjust_verdict(
        &self,
        engine: &Engine,
        id: AccountId,
        market: MarketId,
        amount: i64,
    ) -> Result<(Verdict, Option<i64>), String> {
        if self.market(market).is_none() {
            return Ok((Verdict::Reject(vec![2001]), None));
        }
        if !self.accounts.contains_key(&id) {
            return Ok((Verdict::Reject(vec![5001]), None));
        }
        let Some(iso) = self.isolated(id, market).transpose()? else {
            // Which of the two the engine names first is not specified.
            let codes = if amount == 0 { vec![5010, 5007] } else { vec![5010] };
            return Ok((Verdict::Reject(codes), None));
        };
        Ok(match amount.signum() {
            0 => (Verdict::Reject(vec![5007]), None),
            1 => {
                let available = self.figures_with(engine, id, None, None)?.withdrawable;
                if amount > available {
                    (Verdict::Reject(vec![5002]), Some(available))
                } else {
                    (Verdict::Accept, None)
                }
            }
            _ if self.in_liquidation(id) => (Verdict::Reject(vec![5012]), None),
            _ => {
                if -i128::from(amount) > i128::from(iso.removable) {
                    (Verdict::Reject(vec![5011]), Some(iso.removable))
                } else {
                    (Verdict::Accept, None)
                }
            }
        })
    }

    /// The model's verdict on a withdrawal: positive, from a known account, at most what is
    /// withdrawable (`equity − IM − max(0, unrealised)`).
    ///
    /// # Errors
    /// If a figure does not fit an `i64`.
    pub fn withdraw_verdict(&self, engine: &Engine, id: AccountId, amount: i64) -> Result<Verdict, String> {
        let known = self.accounts.contains_key(&id);
        Ok(match (amount > 0, known) {
            // Which of the two the engine names first is not specified.
            (false, false) => Verdict::Reject(vec![5001, 5007]),
            (false, true) => Verdict::Reject(vec![5007]),
            (true, false) => Verdict::Reject(vec![5001]),
            (true, true) if self.in_liquidation(id) => Verdict::Reject(vec![5012]),
            (true, true) => {
                if amount > self.figures_with(engine, id, None, None)?.withdrawable {
                    Verdict::Reject(vec![5006])
                } else {
                    Verdict::Accept
                }
            }
        })
    }

    /// Whether a withdrawal of `amount` is above the withdrawable amount only because profit
    /// is not withdrawable until realised: `withdrawable < amount ≤ equity − IM`.
    #[must_use]
    pub fn refused_only_for_profit(&self, engine: &Engine, id: AccountId, amount: i64) -> bool {
        match self.figures(engine, id) {
            Some(Ok(f)) => {
                amount > f.withdrawable && i128::from(amount) <= i128::from(f.equity) - i128::from(f.initial_margin)
            }
            _ => false,
        }
    }

    /// Whether the engine must refuse `kind` with `account_in_liquidation` (5012): an order, a
    /// stop, an amend, a withdrawal, a leverage change or an isolated margin removal by an
    /// account with a unit in the queue, once the checks that come first (the market, the
    /// account, a positive amount, an isolated position to remove from) have passed.
    #[must_use]
    pub fn refused_in_liquidation(&self, kind: &CommandKind) -> bool {
        let known = |m: MarketId, a: AccountId| self.market(m).is_some() && self.accounts.contains_key(&a);
        let (account, ok) = match kind {
            CommandKind::PlaceOrder(o) => (o.account, known(o.market, o.account)),
            CommandKind::PlaceStop(s) => (s.account, known(s.market, s.account)),
            CommandKind::AmendOrder(a) => (a.account, self.market(a.market).is_some()),
            CommandKind::Withdraw { account, amount } => {
                (*account, amount.0 > 0 && self.accounts.contains_key(account))
            }
            CommandKind::SetLeverage { account, market, .. } => (*account, known(*market, *account)),
            CommandKind::AdjustIsolatedMargin { account, market, amount } => {
                (*account, amount.0 < 0 && self.isolated(*account, *market).is_some())
            }
            _ => return false,
        };
        ok && self.in_liquidation(account)
    }

    /// The model's verdict on `capitalise_fund`: a positive amount (5007), into a market's fund
    /// only for a market that exists (2001), without overflowing the fund or venue capital
    /// (5008).
    #[must_use]
    pub fn capitalise_verdict(&self, fund: perpx_core::event::FundRef, amount: i64) -> Verdict {
        use perpx_core::event::FundRef;
        if amount <= 0 {
            return Verdict::Reject(vec![5007]);
        }
        let fits = |x: i64| i64::try_from(i128::from(x) + i128::from(amount)).is_ok();
        let balance = match fund {
            FundRef::Market(m) => match self.market(m) {
                Some(m) => m.insurance_fund,
                None => return Verdict::Reject(if fits(self.ledger.venue_capital) { vec![2001] } else { vec![5008] }),
            },
            FundRef::Shared => self.ledger.insurance_fund,
            FundRef::Guaranty => self.ledger.guaranty_fund,
        };
        if fits(self.ledger.venue_capital) && fits(balance) { Verdict::Accept } else { Verdict::Reject(vec![5008]) }
    }

    /// The model's verdict on `set_liquidator`: the account must exist (5001).
    #[must_use]
    pub fn liquidator_verdict(&self, id: AccountId) -> Verdict {
        if self.accounts.contains_key(&id) { Verdict::Accept } else { Verdict::Reject(vec![5001]) }
    }

    /// The model's verdict on a deposit: positive, and neither the collateral nor the ledger's
    /// deposits overflow.
    #[must_use]
    pub fn deposit_verdict(&self, id: AccountId, amount: i64) -> Verdict {
        if amount <= 0 {
            return Verdict::Reject(vec![5007]);
        }
        let collateral = self.accounts.get(&id).map_or(0, |a| a.collateral);
        let fits = |x: i64| i64::try_from(i128::from(x) + i128::from(amount)).is_ok();
        if fits(collateral) && fits(self.ledger.deposits) { Verdict::Accept } else { Verdict::Reject(vec![5008]) }
    }
}

/// The tier holding `notional`: the first whose cap is at least it, else the last.
fn tier_of(spec: &MarketSpec, notional: i128) -> &perpx_core::MarginTier {
    spec.tiers
        .iter()
        .find(|t| i128::from(t.max_notional.0) >= notional)
        .unwrap_or_else(|| spec.tiers.last().expect("a validated market has tiers"))
}

/// `max(0, ⌈N × mmr⌉ − amount)` in the tier holding `N`.
fn maintenance(spec: &MarketSpec, notional: i128) -> i128 {
    let t = tier_of(spec, notional);
    (ceil_div(notional * i128::from(t.maintenance_rate.0), RATE_SCALE) - i128::from(t.maintenance_amount.0)).max(0)
}

/// Whole units of `micro` micro-units, for messages.
#[must_use]
pub fn units(micro: i64) -> String {
    let m = i128::from(micro);
    let sign = if m < 0 { "-" } else { "" };
    format!("{sign}{}.{:06}", m.abs() / MICRO, m.abs() % MICRO)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USD: i64 = 1_000_000;

    #[test]
    fn the_worked_example_of_margin_md_realises_16_then_minus_24() {
        // tick 1, lot 1: long 10 @ 100; sell 4 @ 104; sell 10 @ 96.
        let mut p = ModelPosition::default();
        assert_eq!(trade(&mut p, 10, 100, USD), Ok((0, FillEffect::Open)));
        assert_eq!(trade(&mut p, -4, 104, USD), Ok((i128::from(16 * USD), FillEffect::PartialClose)));
        assert_eq!((p.size, p.cost_basis), (6, 600 * USD));
        assert_eq!(trade(&mut p, -10, 96, USD), Ok((i128::from(-24 * USD), FillEffect::Flip)));
        assert_eq!((p.size, p.cost_basis, p.realized_pnl), (-4, -384 * USD, -8 * USD));
    }

    #[test]
    fn an_inexact_share_of_cost_is_removed_away_from_zero() {
        let mut long = ModelPosition { size: 3, cost_basis: 100, ..ModelPosition::default() };
        assert_eq!(trade(&mut long, -1, 0, 1), Ok((-34, FillEffect::PartialClose)));
        assert_eq!(long.cost_basis, 66);
        let mut short = ModelPosition { size: -3, cost_basis: -100, ..ModelPosition::default() };
        assert_eq!(trade(&mut short, 1, 0, 1), Ok((34, FillEffect::PartialClose)));
        assert_eq!(short.cost_basis, -66);
    }

    #[test]
    fn an_isolated_position_holds_the_im_of_its_opening_lots_and_releases_the_closed_share() {
        // MARGIN.md: 10x, buy 10 @ 100 (one USD per tick-lot) → the position holds 100.
        let usd = i128::from(USD);
        let moves = |margin, size, signed, price, qtl, leverage| {
            let m = isolated_margin_moves(margin, size, signed, price, qtl, leverage, true);
            (m.released, m.brought, m.rounded)
        };
        assert_eq!(moves(0, 0, 10, 100, usd, 10), (0, 100 * usd, false));
        // Adding 5 @ 101 brings ⌈505 / 10⌉ = 50.5 more.
        assert_eq!(moves(100 * usd, 10, 5, 101, usd, 10), (0, 50_500_000, false));
        // Selling 3 of 10 releases ⌊100 × 3 / 10⌋ = 30, whatever the price.
        assert_eq!(moves(100 * usd, 10, -3, 90, usd, 10), (30 * usd, 0, false));
        // Short 3 holding 10 micro-units, buy 1 back: ⌊10 / 3⌋ = 3 released, the unit stays.
        assert_eq!(moves(10, -3, 1, 1, 1, 1), (3, 0, true));
        // Closing all releases all, even when the share would not divide.
        assert_eq!(moves(10, -3, 3, 1, 1, 1), (10, 0, false));
        // A flip releases all, then opens the rest: long 7 holding 70, sell 12 @ 80 → short 5
        // holding ⌈400 / 10⌉ = 40.
        assert_eq!(moves(70 * usd, 7, -12, 80, usd, 10), (70 * usd, 40 * usd, false));
        // Opening lots round the margin up: 3 micro-units of notional at 2x hold 2.
        assert_eq!(moves(0, 0, -3, 1, 1, 2), (0, 2, true));
        // A margin a loss took below zero releases nothing on a partial close.
        assert_eq!(moves(-10, 3, -1, 1, 1, 1), (0, 0, true));
        // While liquidated, nothing is released.
        let m = isolated_margin_moves(100, 10, -3, 1, 1, 1, false);
        assert_eq!((m.released, m.brought), (0, 0));
    }

    #[test]
    fn removable_margin_is_never_unrealised_profit_nor_below_im() {
        let usd = i128::from(USD);
        // margin_tests: 150 held, +100 unrealised at mark 110, IM 110 → 40.
        assert_eq!(removable(150 * usd, 100 * usd, 110 * usd), 40 * usd);
        // A loss counts: 150 held, −50 unrealised, IM 90 → 10.
        assert_eq!(removable(150 * usd, -50 * usd, 90 * usd), 10 * usd);
        // Under IM: nothing.
        assert_eq!(removable(100 * usd, -20 * usd, 91 * usd), 0);
        // Never more than the margin itself (IM 0 cannot happen with a position, but the bound holds).
        assert_eq!(removable(5, 1_000, 0), 5);
    }

    /// MARGIN.md's worked example, run on the engine and followed by the model: A (cross) and C
    /// (isolated), both 10x, buy 10 @ 100; C's position holds 100; at mark 95 (as in the engine's
    /// `margin_tests`: at MARGIN.md's 91 the position would now be liquidated) A's equity falls
    /// by 50, C's cross equity does not move and its position's equity is 50 against an MM of
    /// 19; closed at 95 both have lost 50 plus fees.
    #[test]
    fn the_isolated_worked_example_of_margin_md() {
        use perpx_core::{Decimal, MarginTier, Price, Quote, Rate, TimeInForce, Timestamp};

        use crate::fixtures;

        let (a, b, c) = (AccountId(1), AccountId(2), AccountId(3));
        let market = MarketId(0);
        let spec = MarketSpec {
            tick_size: Decimal::new(1, 0),
            lot_size: Decimal::new(1, 0),
            min_notional: Quote(USD),
            tiers: vec![MarginTier {
                max_notional: Quote(1_000_000 * USD),
                max_leverage: 20,
                maintenance_rate: Rate(2_000_000),
                maintenance_amount: Quote(0),
            }],
            ..fixtures::test_spec()
        };
        let mut engine = Engine::default();
        let mut model = MarginModel::new();
        let mut ts = 0;
        let mut run = |engine: &mut Engine, model: &mut MarginModel, kind: CommandKind| {
            ts += 1;
            let cmd = Command { ts: Timestamp(ts), kind };
            let events = engine.apply(&cmd);
            assert!(!events.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. })), "{events:?}");
            model.observe(&cmd, &events).expect("the model follows the engine");
        };
        run(&mut engine, &mut model, CommandKind::CreateMarket(Box::new(spec)));
        run(&mut engine, &mut model, CommandKind::SetMark { market, price: Price(100) });
        for account in [a, b, c] {
            run(&mut engine, &mut model, CommandKind::Deposit { account, amount: Quote(1_000 * USD) });
        }
        run(&mut engine, &mut model, CommandKind::SetMarginMode { account: c, market, mode: MarginMode::Isolated });
        for account in [a, c] {
            run(&mut engine, &mut model, CommandKind::SetLeverage { account, market, leverage: 10 });
        }
        let order = |account: AccountId, side: Side, price: i64, tif: TimeInForce| {
            CommandKind::PlaceOrder(fixtures::new_order(
                account.0,
                0,
                side,
                OrderType::Limit { price: Price(price), tif },
                10,
            ))
        };
        for taker in [a, c] {
            run(&mut engine, &mut model, order(b, Side::Sell, 100, TimeInForce::Gtc));
            run(&mut engine, &mut model, order(taker, Side::Buy, 100, TimeInForce::Ioc));
        }
        let fee = USD / 2; // 5 bp of 1,000
        assert_eq!(model.account(a).map(|x| x.collateral), Some(1_000 * USD - fee));
        // C's fee stays with its position: the position is its own wallet.
        assert_eq!(model.account(c).map(|x| x.collateral), Some(900 * USD));
        let iso = model.isolated(c, market).expect("isolated position").expect("in range");
        assert_eq!((iso.margin, iso.equity), (100 * USD - fee, 100 * USD - fee));

        run(&mut engine, &mut model, CommandKind::SetMark { market, price: Price(95) });
        let figures = |model: &MarginModel, id| model.figures(&engine, id).expect("known").expect("in range");
        assert_eq!(figures(&model, a).equity, 950 * USD - fee);
        let cross = figures(&model, c);
        assert_eq!((cross.equity, cross.unrealized_pnl, cross.initial_margin), (900 * USD, 0, 0));
        let iso = model.isolated(c, market).expect("isolated position").expect("in range");
        assert_eq!((iso.equity, iso.maintenance_margin, iso.removable), (50 * USD - fee, 19 * USD, 0));

        for taker in [a, c] {
            run(&mut engine, &mut model, order(b, Side::Buy, 95, TimeInForce::Gtc));
            run(&mut engine, &mut model, order(taker, Side::Sell, 95, TimeInForce::Ioc));
        }
        for id in [a, c] {
            let x = model.account(id).expect("known");
            let fees = x.positions[&market].fees_paid;
            assert_eq!(x.collateral, 1_000 * USD - 50 * USD - fees);
            assert_eq!(x.positions[&market].isolated_margin, 0);
        }
    }

    #[test]
    fn fees_are_charged_up_and_rebates_paid_down() {
        // MARGIN.md: 3 @ 101, taker 5 bp, maker −1 bp → 0.151500 and −0.030300.
        assert_eq!(fee(303 * i128::from(USD), 50_000), 151_500);
        assert_eq!(fee(303 * i128::from(USD), -10_000), -30_300);
        assert_eq!(fee(10_000_001, 50_000), 5_001);
        assert_eq!(fee(10_000_001, -11_000), -1_100);
    }
}
