//! Bridges between the engine and the reference model: engine events reduced to [`Outcome`]s,
//! engine books as [`MarketSnapshot`]s, and a [`Coverage`] tally of what a stream exercised.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use perpx_core::{
    AccountId, CancelReason, ClientOrderId, Command, CommandKind, Engine, Event, EventKind, MarketId, OrderRef,
    OrderStatus, OrderType, QueuePriority, Side, StpMode, TimeInForce,
};

use crate::reference::{LevelSnapshot, MarketSnapshot, OrderSnapshot, Outcome};

/// Reduces one engine event to its book-level outcome (rejections keep only their code); `None`
/// for account-side events (positions, collateral, leverage), which the book model does not
/// track and the margin model checks instead.
#[must_use]
pub fn outcome(event: &Event) -> Option<Outcome> {
    Some(match &event.kind {
        EventKind::MarketCreated { market, symbol } => {
            Outcome::MarketCreated { market: *market, symbol: symbol.clone() }
        }
        EventKind::MarkPriceSet { market, price } => Outcome::MarkSet { market: *market, price: *price },
        EventKind::OrderAccepted { order_id, account, market, side, order_type, qty, client_id, stp, .. } => {
            Outcome::Accepted {
                order_id: *order_id,
                account: *account,
                market: *market,
                side: *side,
                order_type: *order_type,
                qty: *qty,
                client_id: client_id.clone(),
                stp: *stp,
            }
        }
        EventKind::Fill(f) => Outcome::Fill((**f).clone()),
        EventKind::OrderAmended { order_id, account, market, price, qty, priority } => Outcome::Amended {
            order_id: *order_id,
            account: *account,
            market: *market,
            price: *price,
            qty: *qty,
            priority: *priority,
        },
        EventKind::OrderCancelled { order_id, account, market, qty, reason } => {
            Outcome::Cancelled { order_id: *order_id, account: *account, market: *market, qty: *qty, reason: *reason }
        }
        EventKind::DuplicateClientOrderId { account, client_id, order_id, market, status, filled, open } => {
            Outcome::Duplicate {
                account: *account,
                client_id: client_id.clone(),
                order_id: *order_id,
                market: *market,
                status: *status,
                filled: *filled,
                open: *open,
            }
        }
        EventKind::Rejected { reason, .. } => Outcome::Rejected { code: reason.code() },
        EventKind::StopAccepted { .. }
        | EventKind::StopTriggered { .. }
        | EventKind::TriggeredOrderRejected { .. }
        | EventKind::MarketHalted { .. }
        | EventKind::MarketResumed { .. }
        | EventKind::ParamsScheduled { .. }
        | EventKind::ParamsChanged { .. }
        | EventKind::PositionSettled { .. }
        | EventKind::MarketDelisted { .. } => unreachable!("book streams send no stops or lifecycle commands"),
        EventKind::LiquidationQueued { .. }
        | EventKind::LiquidationStarted { .. }
        | EventKind::LiquidationAverted { .. }
        | EventKind::LiquidationOrder { .. }
        | EventKind::BackstopTakeover { .. }
        | EventKind::Deleveraged { .. }
        | EventKind::LiquidationFee { .. }
        | EventKind::DeficitCovered { .. }
        | EventKind::DeficitUncovered { .. }
        | EventKind::LiquidationFinished { .. }
        | EventKind::LiquidatorSet { .. }
        | EventKind::FundCapitalised { .. }
        | EventKind::AdminAudited { .. } => {
            unreachable!("book streams keep every account far above maintenance and send no fund or audit commands")
        }
        EventKind::PositionChanged { .. }
        | EventKind::Deposited { .. }
        | EventKind::Withdrawn { .. }
        | EventKind::LeverageSet { .. }
        | EventKind::MarginModeSet { .. }
        | EventKind::IsolatedMarginChanged { .. }
        | EventKind::IndexPrice { .. }
        | EventKind::OracleSourceStatus { .. }
        | EventKind::OracleStageChanged { .. }
        | EventKind::FundingSettled { .. }
        | EventKind::FundingPayments { .. }
        | EventKind::FundingPayment { .. }
        | EventKind::FundingSkipped { .. } => return None,
    })
}

/// Reduces a command's events to outcomes.
#[must_use]
pub fn outcomes(events: &[Event]) -> Vec<Outcome> {
    events.iter().filter_map(outcome).collect()
}

/// The engine's market `id` as comparable data, or `None` if it has no such market.
#[must_use]
pub fn engine_snapshot(engine: &Engine, id: MarketId) -> Option<MarketSnapshot> {
    let m = engine.market(id)?;
    let side = |side: Side| -> Vec<LevelSnapshot> {
        m.book
            .levels(side)
            .map(|(price, level)| LevelSnapshot {
                price,
                total: level.total,
                count: level.count,
                orders: m
                    .book
                    .level_orders(level)
                    .map(|o| OrderSnapshot {
                        id: o.id,
                        account: o.account,
                        price: o.price,
                        qty: o.qty,
                        filled: o.filled,
                        client_id: o.client_id.clone(),
                        post_only: o.post_only,
                        stp: o.stp,
                    })
                    .collect(),
            })
            .collect()
    };
    Some(MarketSnapshot { mark: m.mark, bids: side(Side::Buy), asks: side(Side::Sell) })
}

/// The kind of an order, for tallies: `gtc`, `ioc`, `fok`, `post_only` or `market`.
#[must_use]
pub fn order_kind(t: &OrderType) -> &'static str {
    match t {
        OrderType::Market => "market",
        OrderType::Limit { tif, .. } => match tif {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
            TimeInForce::PostOnly => "post_only",
        },
    }
}

/// A short name of an STP mode.
#[must_use]
pub fn stp_name(stp: StpMode) -> &'static str {
    match stp {
        StpMode::ExpireTaker => "expire_taker",
        StpMode::ExpireMaker => "expire_maker",
        StpMode::ExpireBoth => "expire_both",
    }
}

/// What a stream exercised, counted from commands and their outcomes.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Commands applied.
    pub commands: u64,
    /// Commands answered with a rejection.
    pub rejected: u64,
    /// Rejections by code.
    pub reject_codes: BTreeMap<u16, u64>,
    /// Place commands.
    pub places: u64,
    /// Orders accepted, by kind (`gtc`, `ioc`, `fok`, `post_only`, `market`).
    pub accepted: BTreeMap<&'static str, u64>,
    /// Commands that produced at least one fill.
    pub commands_with_fills: u64,
    /// Fills.
    pub fills: u64,
    /// Place commands in which self-trade prevention acted, by the taker's mode.
    pub stp_by_mode: BTreeMap<&'static str, u64>,
    /// Amends that kept their queue place.
    pub amends_kept: u64,
    /// Amends that lost it.
    pub amends_lost: u64,
    /// Amends that crossed and traded.
    pub amends_crossing: u64,
    /// Successful amends and cancels that named the order by client id.
    pub by_client_id: u64,
    /// Duplicate client id answers, by the holder's status (`open`, `filled`, `cancelled`).
    pub duplicates: BTreeMap<&'static str, u64>,
    /// Orders cancelled, by reason.
    pub cancels: BTreeMap<&'static str, u64>,
    /// Orders accepted with a client id this account had used before (released by retention).
    pub client_ids_reused: u64,
    /// Mark prices set.
    pub marks: u64,
    seen_client_ids: BTreeSet<(AccountId, ClientOrderId)>,
}

impl Coverage {
    /// Counts one command and its outcomes.
    pub fn record(&mut self, cmd: &Command, outs: &[Outcome]) {
        self.commands += 1;
        let mut rejected = false;
        let mut fills = 0;
        let mut stp_cancels = 0;
        for o in outs {
            match o {
                Outcome::Rejected { code } => {
                    rejected = true;
                    *self.reject_codes.entry(*code).or_default() += 1;
                }
                Outcome::Accepted { order_type, account, client_id, .. } => {
                    *self.accepted.entry(order_kind(order_type)).or_default() += 1;
                    if let Some(c) = client_id {
                        if !self.seen_client_ids.insert((*account, c.clone())) {
                            self.client_ids_reused += 1;
                        }
                    }
                }
                Outcome::Fill(_) => fills += 1,
                Outcome::Amended { priority, .. } => match priority {
                    QueuePriority::Kept => self.amends_kept += 1,
                    QueuePriority::Lost => self.amends_lost += 1,
                },
                Outcome::Cancelled { reason, .. } => {
                    *self.cancels.entry(reason.name()).or_default() += 1;
                    if *reason == CancelReason::SelfTradePrevention {
                        stp_cancels += 1;
                    }
                }
                Outcome::Duplicate { status, .. } => {
                    let s = match status {
                        OrderStatus::Open => "open",
                        OrderStatus::Filled => "filled",
                        OrderStatus::Cancelled(_) => "cancelled",
                    };
                    *self.duplicates.entry(s).or_default() += 1;
                }
                Outcome::MarkSet { .. } => self.marks += 1,
                Outcome::MarketCreated { .. } => {}
            }
        }
        if rejected {
            self.rejected += 1;
        }
        if fills > 0 {
            self.commands_with_fills += 1;
            self.fills += fills;
        }
        match &cmd.kind {
            CommandKind::PlaceOrder(o) => {
                self.places += 1;
                if stp_cancels > 0 {
                    *self.stp_by_mode.entry(stp_name(o.stp)).or_default() += 1;
                }
            }
            CommandKind::AmendOrder(a) if !rejected => {
                if fills > 0 {
                    self.amends_crossing += 1;
                }
                if matches!(a.order, OrderRef::Client(_)) {
                    self.by_client_id += 1;
                }
            }
            CommandKind::CancelOrder { order: OrderRef::Client(_), .. } if !rejected => self.by_client_id += 1,
            _ => {}
        }
    }

    /// Adds another tally's counts to this one.
    pub fn merge(&mut self, other: &Self) {
        fn add<K: Ord + Clone>(a: &mut BTreeMap<K, u64>, b: &BTreeMap<K, u64>) {
            for (k, v) in b {
                *a.entry(k.clone()).or_default() += v;
            }
        }
        self.commands += other.commands;
        self.rejected += other.rejected;
        add(&mut self.reject_codes, &other.reject_codes);
        self.places += other.places;
        add(&mut self.accepted, &other.accepted);
        self.commands_with_fills += other.commands_with_fills;
        self.fills += other.fills;
        add(&mut self.stp_by_mode, &other.stp_by_mode);
        self.amends_kept += other.amends_kept;
        self.amends_lost += other.amends_lost;
        self.amends_crossing += other.amends_crossing;
        self.by_client_id += other.by_client_id;
        add(&mut self.duplicates, &other.duplicates);
        add(&mut self.cancels, &other.cancels);
        self.client_ids_reused += other.client_ids_reused;
        self.marks += other.marks;
    }

    /// Commands not rejected, in per cent (whole).
    #[must_use]
    pub fn accepted_pct(&self) -> u64 {
        pct(self.commands - self.rejected, self.commands)
    }

    /// Commands with fills, in per cent (whole).
    #[must_use]
    pub fn fill_pct(&self) -> u64 {
        pct(self.commands_with_fills, self.commands)
    }

    /// Orders accepted, all kinds.
    #[must_use]
    pub fn orders_accepted(&self) -> u64 {
        self.accepted.values().sum()
    }
}

/// `num / den` in whole per cent (0 for an empty denominator).
#[must_use]
pub fn pct(num: u64, den: u64) -> u64 {
    (num * 100).checked_div(den).unwrap_or(0)
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} commands: {} % not rejected, {} % with fills ({} fills); {} places, {} orders accepted {:?}",
            self.commands,
            self.accepted_pct(),
            self.fill_pct(),
            self.fills,
            self.places,
            self.orders_accepted(),
            self.accepted
        )?;
        writeln!(f, "  stp by taker mode: {:?}", self.stp_by_mode)?;
        writeln!(
            f,
            "  amends: {} kept, {} lost, {} crossing; {} by client id; {} marks",
            self.amends_kept, self.amends_lost, self.amends_crossing, self.by_client_id, self.marks
        )?;
        writeln!(
            f,
            "  duplicates: {:?}; client ids reused after release: {}",
            self.duplicates, self.client_ids_reused
        )?;
        writeln!(f, "  cancels: {:?}", self.cancels)?;
        write!(f, "  rejects: {:?}", self.reject_codes)
    }
}
