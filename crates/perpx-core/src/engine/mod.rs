//! The engine: one deterministic state machine, `apply(command) → events`.
//!
//! No clock, no I/O, no threads, no floats, and no hash-map iteration reaches an output. Time
//! enters only as each command's timestamp and never goes backwards. A command either passes
//! every check and takes effect, or is rejected having changed nothing itself (the clock,
//! triggered stops and the liquidation pass still run in its steps 1, 3 and 4).
//!
//! Inside one command the steps run in the order of `docs/ENGINE.md` ("order of operations"):
//! advance time (client ids, premium samples and funding settlements, scheduled changes, the
//! oracle's clocks), apply the command, trigger stops, run one bounded liquidation pass (with
//! backstops, the waterfall and ADL inside it).

mod accounts;
mod adl;
#[cfg(test)]
mod adl_tests;
mod client_orders;
mod funding;
#[cfg(test)]
mod funding_tests;
mod hash;
mod invariants;
mod lifecycle;
#[cfg(test)]
mod lifecycle_tests;
mod liquidation;
#[cfg(test)]
mod liquidation_tests;
#[cfg(test)]
mod margin_tests;
mod matching;
mod oracle;
mod orders;
mod settlement_walk;
mod snapshot;
#[cfg(test)]
mod stop_tests;
mod stops;
#[cfg(test)]
mod tests;

pub use accounts::{IsolatedSummary, MarginSummary};
pub use adl::AdlComparison;
pub use client_orders::{ClientOrderEntry, ClientOrders};
pub use funding::{FundingInfo, PositionFunding};
pub use hash::{StateHash, StateHasher};
pub use settlement_walk::SettlementWalk;
pub use snapshot::{ClientOrderSnapshot, EngineSnapshot, MarketSnapshot, RestoreError};

use liquidation::QueuedUnits;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::account::{AccountTable, Ledger};
use crate::command::{Command, CommandKind, StpMode};
use crate::event::{CancelReason, Event, EventKind, FundRef, LiquidationScope, OrderStatus};
use crate::ids::{AccountId, MarketId, OrderId, TradeId};
use crate::market::{Market, MarketSpec};
use crate::num::{Price, Timestamp};
use crate::reject::RejectReason;

/// The most money the venue may hold: deposits − withdrawals + venue capital, in micro-units
/// (`i64::MAX / 4`, about 2.3 trillion USD). Deposits and capital beyond it are refused
/// (`balance_overflow`). Balances are `i64`, and the engine credits funds and collateral with
/// plain additions once a command is accepted (a liquidation fee into a fund, a trade's profit
/// into collateral); keeping three quarters of the range as headroom for realised PnL is what
/// keeps those additions in range. (Found by `perpx-check`: 9.2 trillion USD of capital paid
/// into the shared insurance fund was accepted, and the next liquidation fee overflowed it —
/// a panic in debug builds, a silent wrap in release.)
pub const MAX_MONEY_IN: i64 = i64::MAX / 4;

/// The furthest one command may move the clock once a market exists: 366 days (ms). Step 1 of a command settles
/// every funding period that came due since the last one — each with its events — so the work
/// and the events of one command grow with the jump; a timestamp further ahead is refused
/// (`timestamp_too_far_ahead`, 1004) and changes nothing. (Found by `perpx-check`'s fuzzing: a
/// replay script whose timestamp was mutated to year 292,000,000 asked for billions of funding
/// settlements in one command, and the process ran out of memory.) A server stamps commands
/// with its clock, so it reaches this only after a year without any command: then an operator
/// moves the clock on in steps (`tick` commands), deliberately.
pub const MAX_CLOCK_STEP_MS: i64 = 366 * 24 * 60 * 60 * 1000;

/// Engine-wide settings, fixed when the engine is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The most markets one engine holds.
    pub max_markets: u32,
    /// How long a client order id stays held after its order is accepted (ms).
    pub client_order_retention_ms: i64,
    /// The most stops triggered in one command; the rest wait for the next command.
    pub max_stop_triggers_per_command: u32,
    /// The most units (an account's cross positions, or one isolated position) liquidated in
    /// one command; the rest wait in the queue, cancel-only.
    pub max_liquidations_per_pass: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_markets: 256,
            client_order_retention_ms: 24 * 60 * 60 * 1000,
            max_stop_triggers_per_command: 64,
            max_liquidations_per_pass: 64,
        }
    }
}

/// The engine state.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
    /// Sequence number of the last command applied (0 before the first).
    seq: u64,
    /// The engine clock: the last command's timestamp.
    now: Timestamp,
    markets: Vec<Market>,
    /// No market has step-1 work — a funding sample or settlement, or a scheduled parameter
    /// change — before this time, so a command stamped earlier skips step 1's walk over the
    /// markets. Derived, never state: `Timestamp(i64::MIN)` ("look at the next command") after
    /// anything that schedules such work, recomputed by each walk, and checked by
    /// `check_invariants` never to be later than the earliest due time.
    clock_work_due: Timestamp,
    /// Until when (exclusive) step 1's oracle evaluation would change nothing in any market
    /// (`oracle::quiet_until`), so step 1 skips it. Derived, never state: recomputed after each
    /// evaluation and after each command that may have changed what it reads, at most the
    /// earliest quiet time of the markets (`check_invariants` checks it), `i64::MIN` when step 1
    /// must look. Why: docs/PERFORMANCE.md, "Session 32".
    oracle_quiet_until: Timestamp,
    /// Whether some market traded in the command being applied, i.e. whether some market's
    /// `traded` flag is set. Most commands trade nowhere: the steps that read those flags then
    /// skip their walks over the markets (docs/PERFORMANCE.md, "Session 28"). Derived, never
    /// state: false between commands, which `check_invariants` checks with every flag.
    traded: bool,
    /// Whether some market's mark may differ from the mark its holders were last checked at
    /// (`Market::checked_mark`): set wherever a mark is set or that check is reset, cleared by
    /// the liquidation pass once it has checked them. Without it the pass compared the two in
    /// every market on every command (docs/PERFORMANCE.md, "Session 29"). Derived, never
    /// state: false between commands, which `check_invariants` checks.
    marks_moved: bool,
    /// Whether an armed stop may fire that the stop pass has not looked for: set by every
    /// trade (a new last price), mark move, resume and oracle recovery; cleared by the stop
    /// pass when it finds nothing to trigger, kept when it ends at its budget. Arming a stop
    /// does not set it: a stop that would fire at once is refused (`StopWouldTriggerNow`).
    /// Without it the pass asked every market's stops on every command (docs/PERFORMANCE.md,
    /// "Session 29"). Derived, never state: `check_invariants` holds that no stop fires while
    /// it is clear.
    stops_due: bool,
    symbols: BTreeMap<String, MarketId>,
    next_order_id: u64,
    next_trade_id: u64,
    client_orders: ClientOrders,
    accounts: AccountTable,
    ledger: Ledger,
    /// Units waiting for liquidation, front first.
    liq_queue: VecDeque<(AccountId, LiquidationScope)>,
    /// The same units, for lookups (an account with one is cancel-only).
    liq_queued: QueuedUnits,
    /// Registered backstop liquidators.
    liquidators: BTreeSet<AccountId>,
    /// Scratch for the safe bands the liquidation pass computes, `(account, market, side,
    /// band)`, kept for its capacity (empty between passes).
    band_updates: Vec<(AccountId, crate::ids::MarketId, usize, crate::market::SafeBand)>,
    /// When observed (the simulator), what each ADL policy would have done at every ADL the
    /// engine ran, on the positions exactly as the pass saw them. An observation, not state:
    /// it changes nothing the engine does and is left out of the state hash.
    adl_observed: Option<Vec<AdlComparison>>,
    /// The ADL ranking kept through a liquidation cascade (`None` when none is under way):
    /// derived, left out of snapshots and the state hash; while it is kept, the accounts log
    /// their changes for it.
    adl_cache: Option<adl::AdlRankingCache>,
    /// How a funding settlement walks the accounts (how, never what: not state).
    settlement_walk: SettlementWalk,
}

/// Collects the events of one command, stamping each with its sequence number and time.
#[derive(Debug)]
pub(crate) struct Out<'a> {
    seq: u64,
    ts: Timestamp,
    events: &'a mut Vec<Event>,
}

impl Out<'_> {
    pub(crate) fn push(&mut self, kind: EventKind) {
        self.events.push(Event { seq: self.seq, ts: self.ts, kind });
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default())
    }
}

impl Engine {
    /// An empty engine: no markets, clock at 0.
    #[must_use]
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            seq: 0,
            now: Timestamp(0),
            markets: Vec::new(),
            clock_work_due: Timestamp(i64::MIN),
            oracle_quiet_until: Timestamp(i64::MIN),
            traded: false,
            marks_moved: false,
            stops_due: false,
            symbols: BTreeMap::new(),
            next_order_id: 1,
            next_trade_id: 1,
            client_orders: ClientOrders::default(),
            accounts: AccountTable::new(),
            ledger: Ledger::default(),
            liq_queue: VecDeque::new(),
            liq_queued: QueuedUnits::default(),
            liquidators: BTreeSet::new(),
            band_updates: Vec::new(),
            adl_observed: None,
            adl_cache: None,
            settlement_walk: SettlementWalk::default(),
        }
    }

    /// Applies one command and returns its events.
    pub fn apply(&mut self, cmd: &Command) -> Vec<Event> {
        let mut events = Vec::new();
        self.apply_into(cmd, &mut events);
        events
    }

    /// Applies one command, appending its events to `events` (reuse the buffer on hot paths).
    /// Every command gets the next sequence number, rejected or not.
    pub fn apply_into(&mut self, cmd: &Command, events: &mut Vec<Event>) {
        self.seq += 1;
        let mut out = Out { seq: self.seq, ts: cmd.ts, events };
        if cmd.ts < self.now {
            out.push(EventKind::Rejected {
                account: None,
                client_id: None,
                reason: RejectReason::TimestampRegression { got: cmd.ts, clock: self.now },
            });
            return;
        }
        // (Before the first market nothing is due in a jump: the first command sets the clock.)
        if !self.markets.is_empty() && i128::from(cmd.ts.0) - i128::from(self.now.0) > i128::from(MAX_CLOCK_STEP_MS) {
            out.push(EventKind::Rejected {
                account: None,
                client_id: None,
                reason: RejectReason::TimestampTooFarAhead {
                    got: cmd.ts,
                    clock: self.now,
                    max_step_ms: MAX_CLOCK_STEP_MS,
                },
            });
            return;
        }
        // Step 1: advance time.
        self.now = cmd.ts;
        self.client_orders.prune(self.now);
        if self.now >= self.clock_work_due {
            self.advance_funding(&mut out);
            self.apply_due_params(&mut out);
            self.clock_work_due = self.next_clock_work();
            // Samples, settlements and new parameters are inputs of the marks.
            self.oracle_quiet_until = Timestamp(i64::MIN);
        }
        self.advance_oracles(&mut out);
        // Step 2: the command itself.
        if let Err(reason) = self.dispatch(&cmd.kind, &mut out) {
            // Addressed to the sender; worked out only for rejections (no clone on the hot path).
            let (account, client_id) = sender(&cmd.kind);
            out.push(EventKind::Rejected { account, client_id, reason });
        }
        // Step 3: stops whose trigger was crossed; then the marks follow the trades.
        self.trigger_stops(&mut out);
        self.refresh_marks(&mut out);
        // Step 4: one bounded liquidation pass (backstops, waterfall and ADL inside it).
        self.liquidation_pass(&mut out);
        // Trades inside the pass move no mark until the next command: their flags are dropped.
        let traded = std::mem::take(&mut self.traded);
        if traded {
            for m in &mut self.markets {
                m.traded = false;
            }
        }
        // A trade (its last price) or a command that reaches the oracle state may have changed
        // what step 1 reads: when it may next have work is worked out again.
        if traded || !oracle::leaves_oracles_alone(&cmd.kind) {
            self.oracle_quiet_until = self.oracles_quiet_until();
        }
    }

    fn dispatch(&mut self, kind: &CommandKind, out: &mut Out<'_>) -> Result<(), RejectReason> {
        match kind {
            CommandKind::CreateMarket(spec) => self.create_market(spec, out),
            CommandKind::SetMark { market, price } => self.set_mark(*market, *price, out),
            CommandKind::OraclePrice { market, source, price } => self.oracle_price(*market, *source, *price, out),
            CommandKind::SetLiquidator { account, active } => self.set_liquidator(*account, *active, out),
            CommandKind::CapitaliseFund { fund, amount } => self.capitalise_fund(*fund, *amount, out),
            CommandKind::PlaceOrder(o) => self.place(o, out),
            CommandKind::PlaceStop(s) => self.place_stop(s, out),
            CommandKind::AmendOrder(a) => self.amend(a, out),
            CommandKind::CancelOrder { account, market, order } => self.cancel(*account, *market, order, out),
            CommandKind::CancelAll { account, market } => self.cancel_all(*account, *market, out),
            CommandKind::MassCancel { market } => self.mass_cancel(*market, out),
            CommandKind::Tick => Ok(()),
            CommandKind::AdminAudit { actor, action, detail } => Self::admin_audit(actor, action, detail, out),
            CommandKind::Halt { market } => self.set_halted(*market, true, out),
            CommandKind::Resume { market } => self.set_halted(*market, false, out),
            CommandKind::ScheduleParams { market, effective_at, change } => {
                self.schedule_params(*market, *effective_at, change, out)
            }
            CommandKind::Delist { market, price } => self.delist(*market, *price, out),
            CommandKind::SetMarginMode { account, market, mode } => self.set_margin_mode(*account, *market, *mode, out),
            CommandKind::AdjustIsolatedMargin { account, market, amount } => {
                self.adjust_isolated_margin(*account, *market, *amount, out)
            }
            CommandKind::Deposit { account, amount } => self.deposit(*account, *amount, out),
            CommandKind::Withdraw { account, amount } => self.withdraw(*account, *amount, out),
            CommandKind::SetLeverage { account, market, leverage } => {
                self.set_leverage(*account, *market, *leverage, out)
            }
        }
    }

    fn create_market(&mut self, spec: &MarketSpec, out: &mut Out<'_>) -> Result<(), RejectReason> {
        if self.markets.len() >= self.config.max_markets as usize {
            return Err(RejectReason::TooManyMarkets(self.config.max_markets));
        }
        if self.symbols.contains_key(&spec.symbol) {
            return Err(RejectReason::DuplicateSymbol(spec.symbol.clone()));
        }
        let valid = spec.clone().validate()?;
        let id = MarketId(u32::try_from(self.markets.len()).expect("bounded by max_markets"));
        self.symbols.insert(spec.symbol.clone(), id);
        self.markets.push(Market::new(id, valid, self.now));
        self.clock_work_due = Timestamp(i64::MIN);
        out.push(EventKind::MarketCreated { market: id, symbol: spec.symbol.clone() });
        Ok(())
    }

    fn set_mark(&mut self, market: MarketId, price: Price, out: &mut Out<'_>) -> Result<(), RejectReason> {
        if self.markets.get(market.index()).is_some_and(|m| m.status == crate::market::MarketStatus::Delisted) {
            return Err(RejectReason::MarketDelisted);
        }
        let m = self.market_mut(market)?;
        if !price.is_positive() {
            return Err(RejectReason::NonPositiveMark(price));
        }
        m.set_mark(Some(price));
        self.note_mark_moved();
        out.push(EventKind::MarkPriceSet { market, price });
        Ok(())
    }

    /// After a market's mark is set: its holders are due for the liquidation pass's check and
    /// its stops for the stop pass's.
    pub(crate) fn note_mark_moved(&mut self) {
        self.marks_moved = true;
        self.stops_due = true;
    }

    /// An audit entry: checked for size and recorded as an event; nothing else changes.
    fn admin_audit(actor: &str, action: &str, detail: &str, out: &mut Out<'_>) -> Result<(), RejectReason> {
        use crate::command::{AUDIT_DETAIL_MAX, AUDIT_LABEL_MAX};
        for (what, text, max) in [
            ("actor", actor, AUDIT_LABEL_MAX),
            ("action", action, AUDIT_LABEL_MAX),
            ("detail", detail, AUDIT_DETAIL_MAX),
        ] {
            if text.len() > max || (what != "detail" && text.is_empty()) {
                return Err(RejectReason::Malformed(format!("audit {what} must be 1 to {max} bytes")));
            }
        }
        out.push(EventKind::AdminAudited { actor: actor.into(), action: action.into(), detail: detail.into() });
        Ok(())
    }

    fn set_liquidator(&mut self, account: AccountId, active: bool, out: &mut Out<'_>) -> Result<(), RejectReason> {
        self.account_ref(account)?;
        if active {
            self.liquidators.insert(account);
        } else {
            self.liquidators.remove(&account);
        }
        out.push(EventKind::LiquidatorSet { account, active });
        Ok(())
    }

    /// Venue capital into a fund: the ledger's `venue_capital` grows by the same amount.
    fn capitalise_fund(
        &mut self,
        fund: FundRef,
        amount: crate::num::Quote,
        out: &mut Out<'_>,
    ) -> Result<(), RejectReason> {
        if !amount.is_positive() {
            return Err(RejectReason::NonPositiveAmount(amount));
        }
        let overflow = |_| RejectReason::BalanceOverflow;
        self.check_money_in(amount)?;
        let capital = self.ledger.venue_capital.checked_add(amount).map_err(overflow)?;
        let balance = match fund {
            FundRef::Market(id) => {
                let m = self.market_mut(id)?;
                m.insurance_fund = m.insurance_fund.checked_add(amount).map_err(overflow)?;
                m.insurance_fund
            }
            FundRef::Shared => {
                self.ledger.insurance_fund = self.ledger.insurance_fund.checked_add(amount).map_err(overflow)?;
                self.ledger.insurance_fund
            }
            FundRef::Guaranty => {
                self.ledger.guaranty_fund = self.ledger.guaranty_fund.checked_add(amount).map_err(overflow)?;
                self.ledger.guaranty_fund
            }
        };
        self.ledger.venue_capital = capital;
        out.push(EventKind::FundCapitalised { fund, amount, balance });
        Ok(())
    }

    /// Refuses money coming in (a deposit, venue capital) that would take the money in the
    /// venue — deposits − withdrawals + venue capital — above [`MAX_MONEY_IN`].
    pub(crate) fn check_money_in(&self, amount: crate::num::Quote) -> Result<(), RejectReason> {
        let l = &self.ledger;
        let after = i128::from(l.deposits.0) - i128::from(l.withdrawals.0)
            + i128::from(l.venue_capital.0)
            + i128::from(amount.0);
        if after > i128::from(MAX_MONEY_IN) { Err(RejectReason::BalanceOverflow) } else { Ok(()) }
    }

    fn market_mut(&mut self, id: MarketId) -> Result<&mut Market, RejectReason> {
        self.markets.get_mut(id.index()).ok_or_else(|| RejectReason::UnknownMarket(id.to_string()))
    }

    fn take_order_id(&mut self) -> OrderId {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        id
    }

    fn take_trade_id(&mut self) -> TradeId {
        let id = TradeId(self.next_trade_id);
        self.next_trade_id += 1;
        id
    }

    // ---- read access --------------------------------------------------------------------

    /// The engine's settings.
    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// How funding settlements walk the accounts ([`SettlementWalk`]).
    #[must_use]
    pub fn settlement_walk(&self) -> SettlementWalk {
        self.settlement_walk
    }

    /// Sets how funding settlements walk the accounts: into how many stretches run at once,
    /// from how many holders on. How, never what: every payment, balance and notice is the
    /// same whatever the walk; only how many `FundingPayments` batches carry the lines changes
    /// (one a stretch that paid any). Not state: snapshots and the state hash leave it out.
    pub fn set_settlement_walk(&mut self, walk: SettlementWalk) {
        self.settlement_walk = walk;
    }

    /// Sequence number of the last command applied.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The engine clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// A market by id.
    #[must_use]
    pub fn market(&self, id: MarketId) -> Option<&Market> {
        self.markets.get(id.index())
    }

    /// A market by symbol.
    #[must_use]
    pub fn market_by_symbol(&self, symbol: &str) -> Option<&Market> {
        self.symbols.get(symbol).and_then(|id| self.market(*id))
    }

    /// All markets in id order.
    #[must_use]
    pub fn markets(&self) -> &[Market] {
        &self.markets
    }

    /// The client order id registry.
    #[must_use]
    pub fn client_orders(&self) -> &ClientOrders {
        &self.client_orders
    }

    /// The venue's ledger: deposits, withdrawals, fees and funds.
    #[must_use]
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The canonical state hash (everything but the sequence number; see the `hash` module).
    #[must_use]
    pub fn state_hash(&self) -> StateHash {
        let mut h = StateHasher::new("perpx-state-v1");
        h.i64(self.config.client_order_retention_ms)
            .u64(u64::from(self.config.max_markets))
            .u64(u64::from(self.config.max_stop_triggers_per_command))
            .u64(u64::from(self.config.max_liquidations_per_pass));
        h.i64(self.now.0).u64(self.next_order_id).u64(self.next_trade_id);
        h.u64(self.markets.len() as u64);
        for m in &self.markets {
            m.hash_into(&mut h);
        }
        self.client_orders.hash_into(&mut h);
        h.u64(self.accounts.len() as u64);
        for (id, a) in &self.accounts {
            h.u64(id.0).i64(a.collateral.0).u64(a.positions.len() as u64);
            for (m, p) in &a.positions {
                h.u64(u64::from(m.0)).i64(p.size.0).i64(p.cost_basis.0).i64(p.realized_pnl.0).i64(p.fees_paid.0);
                h.i64(p.isolated_margin.0).i64(p.funding_paid.0).i64(p.funding_received.0);
            }
            h.u64(a.leverage.len() as u64);
            for (m, l) in &a.leverage {
                h.u64(u64::from(m.0)).u64(u64::from(*l));
            }
            h.u64(a.margin_mode.len() as u64);
            for (m, mode) in &a.margin_mode {
                h.u64(u64::from(m.0)).tag(u8::from(*mode == crate::account::MarginMode::Isolated));
            }
        }
        let l = &self.ledger;
        h.i64(l.deposits.0).i64(l.withdrawals.0).i64(l.fee_account.0).i64(l.insurance_fund.0).i64(l.venue_capital.0);
        h.i64(l.guaranty_fund.0).i64(l.uncovered.0);
        h.u64(self.liq_queue.len() as u64);
        for (account, scope) in &self.liq_queue {
            h.u64(account.0);
            match scope {
                LiquidationScope::Cross => h.tag(0),
                LiquidationScope::Isolated(m) => h.tag(1).u64(u64::from(m.0)),
            };
        }
        h.u64(self.liquidators.len() as u64);
        for id in &self.liquidators {
            h.u64(id.0);
        }
        h.finish()
    }
}

/// The account a command comes from and the client order id it carries, if any.
fn sender(kind: &CommandKind) -> (Option<AccountId>, Option<crate::ids::ClientOrderId>) {
    match kind {
        CommandKind::PlaceOrder(o) => (Some(o.account), o.client_id.clone()),
        CommandKind::PlaceStop(s) => (Some(s.account), s.client_id.clone()),
        CommandKind::AmendOrder(a) => (Some(a.account), None),
        CommandKind::CancelOrder { account, .. }
        | CommandKind::CancelAll { account, .. }
        | CommandKind::Deposit { account, .. }
        | CommandKind::Withdraw { account, .. }
        | CommandKind::SetLeverage { account, .. }
        | CommandKind::SetMarginMode { account, .. }
        | CommandKind::AdjustIsolatedMargin { account, .. }
        | CommandKind::SetLiquidator { account, .. } => (Some(*account), None),
        _ => (None, None),
    }
}

/// Hash encoding of an order status (shared by the registry and markets).
pub(crate) fn hash_status(h: &mut StateHasher, status: OrderStatus) -> &mut StateHasher {
    match status {
        OrderStatus::Open => h.tag(0),
        OrderStatus::Filled => h.tag(1),
        OrderStatus::Cancelled(reason) => h.tag(2).tag(cancel_reason_tag(reason)),
    }
}

pub(crate) fn cancel_reason_tag(reason: CancelReason) -> u8 {
    match reason {
        CancelReason::UserRequest => 0,
        CancelReason::CancelAll => 1,
        CancelReason::MassCancel => 2,
        CancelReason::IocRemainder => 3,
        CancelReason::MarketRemainder => 4,
        CancelReason::SelfTradePrevention => 5,
        CancelReason::ReduceOnly => 6,
        CancelReason::TriggerRejected => 7,
        CancelReason::Delisted => 8,
        CancelReason::Liquidation => 9,
        CancelReason::Deleveraged => 10,
    }
}

pub(crate) fn stp_tag(stp: StpMode) -> u8 {
    match stp {
        StpMode::ExpireTaker => 0,
        StpMode::ExpireMaker => 1,
        StpMode::ExpireBoth => 2,
    }
}
