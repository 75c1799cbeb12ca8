//! Events: everything the engine tells the world. Each carries the sequence number and the
//! timestamp of the command that produced it, in the order the engine produced it.

use crate::account::MarginMode;
use crate::book::Side;
use crate::command::{OrderType, StpMode};
use crate::ids::{AccountId, ClientOrderId, MarketId, OrderId, TradeId};
use crate::market::{AdlPolicy, OracleStage, SourceStatus};
use crate::num::{Price, Qty, Quote, Rate, Timestamp};
use crate::reject::RejectReason;
use crate::stop::{StopKind, TriggerBy};

/// One output of the engine.
///
/// 96 bytes: the engine writes many of them in a burst (a cascade several a liquidated
/// account) into fresh memory, so their size is much of what a burst costs. The payloads wider
/// than 80 bytes are boxed (a fill, a funding settlement) or kept narrow (the ADL rank's
/// alignment, [`AdlRank`]; the two texts of three rejections as `Box<str>`): at 128 bytes the
/// funding settlement over 1,000,000 positions took about 9 % longer (docs/PERFORMANCE.md,
/// "Funding, session 21"). A settlement's payments are one event or a few, 40 bytes a position
/// ([`EventKind::FundingPayments`]), delivered as one notice each ([`Event::notices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The sequence number of the command that produced it.
    pub seq: u64,
    /// That command's timestamp.
    pub ts: Timestamp,
    /// What happened.
    pub kind: EventKind,
}

/// Why an order left the book without filling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// Its owner cancelled it.
    UserRequest,
    /// Its owner cancelled all orders.
    CancelAll,
    /// An admin cancelled every order in the market.
    MassCancel,
    /// The unfilled rest of an IOC order.
    IocRemainder,
    /// The unfilled rest of a market order (market orders never rest).
    MarketRemainder,
    /// Self-trade prevention.
    SelfTradePrevention,
    /// A reduce-only order with nothing left to reduce (the position closed or flipped).
    ReduceOnly,
    /// A stop triggered but its order failed the checks at trigger time (margin, reduce-only…).
    TriggerRejected,
    /// The market was delisted.
    Delisted,
    /// The account's liquidation cancelled it (the account is cancel-only until it is done).
    Liquidation,
    /// Its owner was auto-deleveraged in this market.
    Deleveraged,
}

impl CancelReason {
    /// The stable snake-case name (the `reason` field of the JSON forms).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::UserRequest => "user_request",
            Self::CancelAll => "cancel_all",
            Self::MassCancel => "mass_cancel",
            Self::IocRemainder => "ioc_remainder",
            Self::MarketRemainder => "market_remainder",
            Self::SelfTradePrevention => "self_trade_prevention",
            Self::ReduceOnly => "reduce_only",
            Self::TriggerRejected => "trigger_rejected",
            Self::Delisted => "delisted",
            Self::Liquidation => "liquidation",
            Self::Deleveraged => "deleveraged",
        }
    }
}

/// What a liquidation works on: an account's cross positions together, or one isolated position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LiquidationScope {
    /// Every cross position of the account, against its collateral.
    Cross,
    /// The isolated position in this market, against its own margin.
    Isolated(MarketId),
}

/// How a liquidation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiquidationOutcome {
    /// The unit is back above maintenance with positions left.
    Partial,
    /// Every position of the unit was closed.
    ClosedOut,
    /// Nothing could take the position now (no book, backstop or opposite position): the unit
    /// waits in the queue for the next pass.
    Stalled,
}

/// A fund of the default waterfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FundRef {
    /// A market's own insurance fund.
    Market(MarketId),
    /// The insurance fund shared by the markets with the `shared` policy.
    Shared,
    /// The guaranty fund (venue capital or member contributions), behind every insurance fund.
    Guaranty,
}

/// Whether an amend kept the order's place in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueuePriority {
    /// Size decreased at the same price: same place.
    Kept,
    /// Price changed or size increased: back of the level.
    Lost,
}

/// Where an order stands, for an idempotent reply to a reused client order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Resting in the book.
    Open,
    /// Filled completely.
    Filled,
    /// Left the book unfilled or partly filled.
    Cancelled(CancelReason),
}

/// A trade between a resting maker order and an incoming taker order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The market.
    pub market: MarketId,
    /// The trade's id.
    pub trade_id: TradeId,
    /// Trade price: the maker's limit.
    pub price: Price,
    /// Traded size.
    pub qty: Qty,
    /// The side of the taker (the aggressor); the maker was on the other side.
    pub taker_side: Side,
    /// The resting order.
    pub maker_order: OrderId,
    /// Its owner.
    pub maker_account: AccountId,
    /// What the maker order has left open.
    pub maker_remaining: Qty,
    /// The incoming order.
    pub taker_order: OrderId,
    /// Its owner.
    pub taker_account: AccountId,
    /// What the taker order has left to fill.
    pub taker_remaining: Qty,
    /// Fee charged to the maker (negative: a rebate paid to it).
    pub maker_fee: Quote,
    /// Fee charged to the taker.
    pub taker_fee: Quote,
}

/// One position's line of a settlement ([`EventKind::FundingPayments`]): the fields of its
/// [`EventKind::FundingPayment`] notice but the market, which the batch holds once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingLine {
    /// The account.
    pub account: AccountId,
    /// The position's size.
    pub size: Qty,
    /// Signed: positive the position paid, negative it received.
    pub amount: Quote,
    /// Collateral after.
    pub collateral: Quote,
    /// The position's own margin after (isolated mode; zero in cross).
    pub isolated_margin: Quote,
}

impl FundingLine {
    /// Its notice in `market`.
    #[must_use]
    pub fn notice(&self, market: MarketId) -> EventKind {
        let Self { account, size, amount, collateral, isolated_margin } = *self;
        EventKind::FundingPayment { account, market, size, amount, collateral, isolated_margin }
    }
}

impl Event {
    /// How many notices it is delivered as: a [`EventKind::FundingPayments`] batch one a
    /// line, any other event one (itself).
    #[must_use]
    pub fn notice_count(&self) -> usize {
        match &self.kind {
            EventKind::FundingPayments { payments, .. } => payments.len(),
            _ => 1,
        }
    }

    /// The event as it is delivered: a [`EventKind::FundingPayments`] batch as one
    /// [`EventKind::FundingPayment`] a line (same sequence number and timestamp), any other
    /// event as itself. What a consumer that writes or routes events one by one reads
    /// (the JSON forms, the streams, the auditor).
    pub fn notices(&self) -> impl Iterator<Item = std::borrow::Cow<'_, Event>> {
        let (one, lines) = match &self.kind {
            EventKind::FundingPayments { market, payments } => (None, Some((*market, payments))),
            _ => (Some(std::borrow::Cow::Borrowed(self)), None),
        };
        let (seq, ts) = (self.seq, self.ts);
        one.into_iter().chain(lines.into_iter().flat_map(move |(market, lines)| {
            lines.iter().map(move |l| std::borrow::Cow::Owned(Event { seq, ts, kind: l.notice(market) }))
        }))
    }

    /// [`Event::notices`], by value.
    pub fn into_notices(self) -> impl Iterator<Item = Event> {
        let (seq, ts) = (self.seq, self.ts);
        let (one, lines) = match self.kind {
            EventKind::FundingPayments { market, payments } => (None, Some((market, payments))),
            kind => (Some(Event { seq, ts, kind }), None),
        };
        one.into_iter().chain(
            lines.into_iter().flat_map(move |(market, lines)| {
                lines.into_iter().map(move |l| Event { seq, ts, kind: l.notice(market) })
            }),
        )
    }
}

/// A settled funding period: what [`EventKind::FundingSettled`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingSettlement {
    /// The market.
    pub market: MarketId,
    /// The funding time that was due.
    pub funding_time: Timestamp,
    /// The rate of the period (`F`, positive: longs pay).
    pub rate: Rate,
    /// The 8-hour rate it was scaled from (`F8`).
    pub rate_8h: Rate,
    /// The mark the payments were computed at (none: the market never had one).
    pub mark: Option<Price>,
    /// Premium samples taken in the period.
    pub samples: u64,
    /// Sample times at which no index stood.
    pub missed_samples: u64,
    /// Positions that paid or received.
    pub positions: u64,
    /// Σ paid by payers.
    pub paid: Quote,
    /// Σ received by receivers.
    pub received: Quote,
    /// `paid − received`: the rounding remainder, to the insurance fund.
    pub to_insurance_fund: Quote,
    /// The next funding time.
    pub next_funding_time: Timestamp,
}

/// An ADL rank (1e-8 units) as [`EventKind::Deleveraged`] carries it: an `i128` kept as two
/// 64-bit halves, so that it is 8-byte aligned. A bare `i128` is 16-byte aligned on x86-64, and
/// one such field made every event of every kind 128 bytes instead of 96 ([`Event`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdlRank([u64; 2]);

impl AdlRank {
    /// The rank kept.
    #[must_use]
    pub fn new(rank: i128) -> Self {
        let bits = u128::from_le_bytes(rank.to_le_bytes());
        let low = u64::try_from(bits & u128::from(u64::MAX)).expect("masked to 64 bits");
        let high = u64::try_from(bits >> 64).expect("the high 64 bits");
        Self([low, high])
    }

    /// The rank.
    #[must_use]
    pub fn get(self) -> i128 {
        let [low, high] = self.0;
        i128::from_le_bytes(((u128::from(high) << 64) | u128::from(low)).to_le_bytes())
    }
}

impl From<i128> for AdlRank {
    fn from(rank: i128) -> Self {
        Self::new(rank)
    }
}

impl std::fmt::Debug for AdlRank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// The event variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A market was created.
    MarketCreated {
        /// Its id.
        market: MarketId,
        /// Its symbol.
        symbol: String,
    },
    /// A market's mark price was set.
    MarkPriceSet {
        /// The market.
        market: MarketId,
        /// The new mark.
        price: Price,
    },
    /// The index changed (a new oracle price, or a source going stale with time).
    IndexPrice {
        /// The market.
        market: MarketId,
        /// The new index.
        price: Price,
        /// How many sources it stands on.
        sources_used: u32,
    },
    /// An oracle source changed status (used, stale, outlier): reported, never silently dropped.
    OracleSourceStatus {
        /// The market.
        market: MarketId,
        /// The source's id (its position in the market's source list).
        source: u16,
        /// Its status now.
        status: SourceStatus,
        /// Its last price, if it ever sent one.
        price: Option<Price>,
    },
    /// The stale-index policy moved the market one stage (`live`, `stale`, `reduce_only`,
    /// `halted`); a recovery emits one event per stage walked back.
    OracleStageChanged {
        /// The market.
        market: MarketId,
        /// The stage now.
        stage: OracleStage,
        /// When the quorum was lost (for a recovery: when the outage began).
        since: Timestamp,
    },
    /// A funding period was settled (its payments follow: [`EventKind::FundingPayments`]).
    /// Boxed ([`Event`]).
    FundingSettled(Box<FundingSettlement>),
    /// The payments of one settlement, a line a position, in account-id order: what the engine
    /// emits after the `FundingSettled` (none when no position paid or received). One batch
    /// holds them all, or, when the settlement's walk is cut into stretches run at once
    /// ([`crate::SettlementWalk`]), one batch a stretch that paid any, in order. It is delivered as
    /// one [`EventKind::FundingPayment`] notice a position ([`Event::notices`]), in the same
    /// order, so its JSON, its journal encoding and its routing are those of the notices.
    ///
    /// Why one event: a settlement pays every open position at once, a million in the
    /// benchmark, and a 96-byte event each (seq, timestamp and market repeated) into fresh
    /// memory was much of its time; with a 40-byte [`FundingLine`] instead the settlement took
    /// about a sixth less (docs/PERFORMANCE.md, "Funding, session 22").
    FundingPayments {
        /// The market.
        market: MarketId,
        /// One line a position.
        payments: Vec<FundingLine>,
    },
    /// One position's funding payment: the notice a line of [`EventKind::FundingPayments`] is
    /// delivered as ([`Event::notices`]); the engine emits the batch, never this.
    FundingPayment {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// The position's size.
        size: Qty,
        /// Signed: positive the position paid, negative it received.
        amount: Quote,
        /// Collateral after.
        collateral: Quote,
        /// The position's own margin after (isolated mode; zero in cross).
        isolated_margin: Quote,
    },
    /// A due settlement could not be computed within the engine's numbers: nothing moved for
    /// that period (nothing invented, nothing lost) and the next period began.
    FundingSkipped {
        /// The market.
        market: MarketId,
        /// The funding time that was due.
        funding_time: Timestamp,
    },
    /// An order passed every check; fills (if any) follow.
    OrderAccepted {
        /// Its id.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Side.
        side: Side,
        /// Type and time in force.
        order_type: OrderType,
        /// Size.
        qty: Qty,
        /// Client id.
        client_id: Option<ClientOrderId>,
        /// Self-trade prevention mode.
        stp: StpMode,
        /// Reduce-only.
        reduce_only: bool,
    },
    /// A trade. Boxed, like the other payloads wider than 80 bytes, so that an event is 96
    /// bytes rather than 128 ([`Event`]).
    Fill(Box<Fill>),
    /// An open order was amended.
    OrderAmended {
        /// Its id.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The price now.
        price: Price,
        /// The open size now.
        qty: Qty,
        /// Whether it kept its queue place.
        priority: QueuePriority,
    },
    /// An order (or its unfilled rest) left the book without filling.
    OrderCancelled {
        /// Its id.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The size that was cancelled.
        qty: Qty,
        /// Why.
        reason: CancelReason,
    },
    /// An order reused a client id that is still retained: nothing was placed, and this is the
    /// status of the order that holds the id (so a retried request is answered idempotently).
    DuplicateClientOrderId {
        /// Owner.
        account: AccountId,
        /// The reused id.
        client_id: ClientOrderId,
        /// The order that holds it.
        order_id: OrderId,
        /// Its market.
        market: MarketId,
        /// Its status now.
        status: OrderStatus,
        /// Filled so far.
        filled: Qty,
        /// Still open.
        open: Qty,
    },
    /// A market stopped trading (cancels only).
    MarketHalted {
        /// The market.
        market: MarketId,
    },
    /// A halted market trades again.
    MarketResumed {
        /// The market.
        market: MarketId,
    },
    /// A parameter change was announced.
    ParamsScheduled {
        /// The market.
        market: MarketId,
        /// When it takes effect.
        effective_at: Timestamp,
        /// Dry run: accounts the new tiers would put below maintenance at current marks.
        accounts_below_maintenance: u32,
        /// Whether it replaced a pending change.
        replaced: bool,
    },
    /// A scheduled parameter change took effect.
    ParamsChanged {
        /// The market.
        market: MarketId,
    },
    /// A position was settled at the delisting price.
    PositionSettled {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// The size that was settled.
        size: Qty,
        /// The settlement price.
        price: Price,
        /// PnL realised by the settlement.
        realized: Quote,
        /// Collateral after.
        collateral: Quote,
    },
    /// A market was delisted: every position settled, nothing more accepted.
    MarketDelisted {
        /// The market.
        market: MarketId,
        /// The settlement price.
        price: Price,
    },
    /// A stop or take-profit was accepted and is armed.
    StopAccepted {
        /// Its id.
        stop_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Side of the order it becomes.
        side: Side,
        /// What it becomes.
        kind: StopKind,
        /// Trigger price.
        trigger: Price,
        /// Mark or last.
        trigger_by: TriggerBy,
        /// Size.
        qty: Qty,
        /// Reduce-only.
        reduce_only: bool,
        /// Client id.
        client_id: Option<ClientOrderId>,
    },
    /// A stop's reference crossed its trigger: its order follows (accepted and matched, or
    /// cancelled with `trigger_rejected` and the reason).
    StopTriggered {
        /// The stop (the order keeps this id).
        stop_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The reference price that crossed.
        reference: Price,
    },
    /// A triggered stop's order failed the order checks; the stop is gone.
    TriggeredOrderRejected {
        /// The stop's id.
        stop_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Why.
        reason: RejectReason,
    },
    /// A fill changed an account's position (one per side of every fill).
    PositionChanged {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// Size after the fill.
        size: Qty,
        /// Cost basis after the fill.
        cost_basis: Quote,
        /// PnL realised by this fill.
        realized: Quote,
        /// Fee of this fill (negative: rebate).
        fee: Quote,
        /// The account's collateral after the fill.
        collateral: Quote,
        /// The position's own margin after the fill (isolated mode; zero in cross).
        isolated_margin: Quote,
    },
    /// An account chose cross or isolated margin in a market.
    MarginModeSet {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// The mode.
        mode: MarginMode,
    },
    /// Margin was added to or removed from an isolated position.
    IsolatedMarginChanged {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// Signed change (positive: added from collateral).
        amount: Quote,
        /// The position's margin after.
        isolated_margin: Quote,
        /// Collateral after.
        collateral: Quote,
    },
    /// Collateral was credited.
    Deposited {
        /// The account.
        account: AccountId,
        /// Amount.
        amount: Quote,
        /// Collateral after.
        collateral: Quote,
    },
    /// Collateral was paid out.
    Withdrawn {
        /// The account.
        account: AccountId,
        /// Amount.
        amount: Quote,
        /// Collateral after.
        collateral: Quote,
    },
    /// An account chose its leverage in a market.
    LeverageSet {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// The leverage.
        leverage: u32,
    },
    /// A unit fell below maintenance and joined the liquidation queue; its orders and stops are
    /// cancelled and the account is cancel-only until its liquidation is done.
    LiquidationQueued {
        /// The account.
        account: AccountId,
        /// What is liquidated.
        scope: LiquidationScope,
        /// Its equity.
        equity: Quote,
        /// Its maintenance margin.
        maintenance_margin: Quote,
        /// The queue's length with it.
        queue_length: u64,
    },
    /// A queued unit's turn came and it was liquidated from here on.
    LiquidationStarted {
        /// The account.
        account: AccountId,
        /// What is liquidated.
        scope: LiquidationScope,
        /// Its equity.
        equity: Quote,
        /// Its maintenance margin.
        maintenance_margin: Quote,
    },
    /// A queued unit was back above maintenance when its turn came (a deposit or the mark).
    LiquidationAverted {
        /// The account.
        account: AccountId,
        /// What was queued.
        scope: LiquidationScope,
        /// Its equity.
        equity: Quote,
        /// Its maintenance margin.
        maintenance_margin: Quote,
    },
    /// The liquidation's closing order: an IOC limited at the safe side of the bankruptcy
    /// price, inside the order band. Its fills follow as `fill` events.
    LiquidationOrder {
        /// The account.
        account: AccountId,
        /// The market.
        market: MarketId,
        /// The order's id.
        order_id: OrderId,
        /// Its side.
        side: Side,
        /// Its size.
        qty: Qty,
        /// Its limit.
        limit: Price,
        /// The position's bankruptcy price, rounded to a tick in the winners' favour.
        bankruptcy_price: Price,
    },
    /// A backstop liquidator took over part of a position the book didn't take.
    BackstopTakeover {
        /// The market.
        market: MarketId,
        /// The liquidated account.
        account: AccountId,
        /// The liquidator.
        liquidator: AccountId,
        /// The liquidated account's side (the liquidator took the other).
        side: Side,
        /// Size taken over.
        qty: Qty,
        /// Price: mark ∓ the market's backstop discount.
        price: Price,
        /// What the funds paid at once for the gap between that price and the bankruptcy price.
        gap_paid: Quote,
    },
    /// A winner was auto-deleveraged against a bankrupt position.
    Deleveraged {
        /// The market.
        market: MarketId,
        /// The deleveraged account.
        account: AccountId,
        /// The bankrupt account on the other side.
        bankrupt: AccountId,
        /// Size closed.
        qty: Qty,
        /// Price (the bankruptcy price rounded to a tick in the winner's favour).
        price: Price,
        /// The winner's share of the sub-tick rest, paid in micro-units.
        settlement: Quote,
        /// What the winner gave up against closing at mark: `(price − mark) × qty × sign +
        /// settlement`.
        profit_given_up: Quote,
        /// Its ADL rank (1e-8).
        rank: AdlRank,
        /// The market's ADL policy.
        policy: AdlPolicy,
    },
    /// The liquidation fee, paid into the insurance fund.
    LiquidationFee {
        /// The account.
        account: AccountId,
        /// The market whose close it was charged on.
        market: MarketId,
        /// Amount.
        amount: Quote,
        /// The fund it went to.
        fund: FundRef,
    },
    /// A fund paid part of a deficit.
    DeficitCovered {
        /// The bankrupt account.
        account: AccountId,
        /// The market the deficit is charged to.
        market: MarketId,
        /// The fund that paid.
        fund: FundRef,
        /// Amount paid.
        amount: Quote,
        /// The fund's balance after.
        balance: Quote,
    },
    /// A deficit no layer could cover: recorded in the ledger's `uncovered`, loudly.
    DeficitUncovered {
        /// The account.
        account: AccountId,
        /// The market it is charged to.
        market: MarketId,
        /// Amount.
        amount: Quote,
    },
    /// A unit's liquidation is done.
    LiquidationFinished {
        /// The account.
        account: AccountId,
        /// What was liquidated.
        scope: LiquidationScope,
        /// Partial (back above maintenance) or closed out.
        outcome: LiquidationOutcome,
        /// Equity after.
        equity: Quote,
        /// Maintenance margin after.
        maintenance_margin: Quote,
    },
    /// Admin: a liquidator was registered or removed.
    LiquidatorSet {
        /// The account.
        account: AccountId,
        /// Registered (true) or removed.
        active: bool,
    },
    /// Admin: venue capital was paid into a fund.
    FundCapitalised {
        /// The fund.
        fund: FundRef,
        /// Amount.
        amount: Quote,
        /// Its balance after.
        balance: Quote,
    },
    /// Admin: an entry of the audit log was recorded (see `CommandKind::AdminAudit`).
    AdminAudited {
        /// Who acted.
        actor: String,
        /// What kind of action.
        action: String,
        /// Details (JSON text).
        detail: String,
    },
    /// The command was refused; nothing changed.
    Rejected {
        /// The account that sent it, if any.
        account: Option<AccountId>,
        /// The client order id it carried, if any.
        client_id: Option<ClientOrderId>,
        /// Why.
        reason: RejectReason,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_event_is_96_bytes() {
        // Every event is as wide as the widest kind: a new kind wider than 80 bytes, or a field
        // of 16-byte alignment, makes each of the millions a settlement or a cascade writes
        // wider (see `Event`). Box its payload instead.
        assert_eq!(std::mem::size_of::<EventKind>(), 80);
        assert_eq!(std::mem::size_of::<Event>(), 96);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_funding_line_is_40_bytes() {
        assert_eq!(std::mem::size_of::<FundingLine>(), 40);
    }

    #[test]
    fn a_batch_of_payments_is_delivered_as_one_notice_a_line_in_order() {
        let line = |a: u64, amount: i64| FundingLine {
            account: AccountId(a),
            size: Qty(i64::try_from(a).unwrap()),
            amount: Quote(amount),
            collateral: Quote(1_000 - amount),
            isolated_margin: Quote(0),
        };
        let market = MarketId(3);
        let batch = Event {
            seq: 9,
            ts: Timestamp(77),
            kind: EventKind::FundingPayments { market, payments: vec![line(1, 5), line(4, -2)] },
        };
        let want: Vec<Event> = [(1, 5), (4, -2)]
            .into_iter()
            .map(|(a, amount)| Event {
                seq: 9,
                ts: Timestamp(77),
                kind: EventKind::FundingPayment {
                    account: AccountId(a),
                    market,
                    size: Qty(i64::try_from(a).unwrap()),
                    amount: Quote(amount),
                    collateral: Quote(1_000 - amount),
                    isolated_margin: Quote(0),
                },
            })
            .collect();
        assert_eq!(batch.notice_count(), 2);
        assert_eq!(batch.notices().map(std::borrow::Cow::into_owned).collect::<Vec<_>>(), want);
        assert_eq!(batch.clone().into_notices().collect::<Vec<_>>(), want);
        // Any other event is its own one notice.
        let other = Event { seq: 9, ts: Timestamp(77), kind: EventKind::MarketHalted { market } };
        assert_eq!(other.notice_count(), 1);
        assert_eq!(other.notices().map(std::borrow::Cow::into_owned).collect::<Vec<_>>(), vec![other.clone()]);
        assert_eq!(other.clone().into_notices().collect::<Vec<_>>(), vec![other]);
    }

    proptest! {
        #[test]
        fn an_adl_rank_keeps_every_i128(rank in any::<i128>()) {
            prop_assert_eq!(AdlRank::new(rank).get(), rank);
            prop_assert_eq!(format!("{:?}", AdlRank::from(rank)), format!("{rank:?}"));
        }
    }

    #[test]
    fn an_adl_rank_keeps_the_extremes() {
        for rank in [i128::MIN, -1, 0, 1, i128::from(u64::MAX), i128::from(u64::MAX) + 1, i128::MAX] {
            assert_eq!(AdlRank::new(rank).get(), rank);
        }
    }
}
