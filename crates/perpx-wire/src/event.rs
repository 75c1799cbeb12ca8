//! Engine events → JSON, with every price, size and amount as a decimal string in its market's
//! precision.

use perpx_core::account::MarginMode;
use perpx_core::command::{OrderType, StpMode, TimeInForce};
use perpx_core::event::{Event, EventKind, FundRef, LiquidationOutcome, LiquidationScope, OrderStatus, QueuePriority};
use perpx_core::market::{AdlPolicy, MarketSpec, OracleStage, SourceStatus};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{Engine, MarketId, RejectReason, Side};
use serde::Serialize;

use crate::command::Refusal;
use crate::units::{format_price, format_qty, format_quote, format_rate};

/// One event as a JSON line: sequence number, timestamp, then the event.
#[derive(Debug, Clone, Serialize)]
pub struct EventLine {
    /// The command's sequence number.
    pub seq: u64,
    /// The command's timestamp (ms).
    pub ts: i64,
    /// The event.
    #[serde(flatten)]
    pub event: WireEvent,
}

/// A refusal of a line that never reached the engine (so it has no sequence number).
#[derive(Debug, Clone, Serialize)]
pub struct RefusalLine {
    /// Always `rejected`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The 1-based line number in the script.
    pub line: usize,
    /// The command's timestamp, if it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// The sender, if it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<u64>,
    /// The client order id, if it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Stable code.
    pub code: u16,
    /// Stable name.
    pub reason: &'static str,
    /// Plain message.
    pub message: String,
}

/// The JSON shape of each event kind.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum WireEvent {
    MarketCreated {
        market: String,
        market_id: u32,
    },
    MarkPrice {
        market: String,
        price: String,
    },
    IndexPrice {
        market: String,
        price: String,
        sources_used: u32,
    },
    OracleSource {
        market: String,
        source: String,
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        price: Option<String>,
    },
    OracleStage {
        market: String,
        stage: &'static str,
        since: i64,
    },
    FundingSettled {
        market: String,
        funding_time: i64,
        rate: String,
        rate_8h: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mark_price: Option<String>,
        samples: u64,
        missed_samples: u64,
        positions: u64,
        paid: String,
        received: String,
        to_insurance_fund: String,
        next_funding_time: i64,
    },
    FundingPayment {
        account: u64,
        market: String,
        size: String,
        amount: String,
        collateral: String,
        isolated_margin: String,
    },
    FundingSkipped {
        market: String,
        funding_time: i64,
    },
    OrderAccepted {
        order_id: u64,
        account: u64,
        market: String,
        side: &'static str,
        order_type: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        price: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tif: Option<&'static str>,
        qty: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        stp: &'static str,
        reduce_only: bool,
    },
    Fill {
        market: String,
        trade_id: u64,
        price: String,
        qty: String,
        taker_side: &'static str,
        maker_order_id: u64,
        maker_account: u64,
        maker_remaining: String,
        taker_order_id: u64,
        taker_account: u64,
        taker_remaining: String,
        maker_fee: String,
        taker_fee: String,
    },
    StopAccepted {
        stop_id: u64,
        account: u64,
        market: String,
        side: &'static str,
        stop_type: &'static str,
        trigger_price: String,
        trigger_by: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        price: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tif: Option<&'static str>,
        qty: String,
        reduce_only: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    MarketHalted {
        market: String,
    },
    MarketResumed {
        market: String,
    },
    ParamsScheduled {
        market: String,
        effective_at: i64,
        accounts_below_maintenance: u32,
        replaced: bool,
    },
    ParamsChanged {
        market: String,
    },
    PositionSettled {
        account: u64,
        market: String,
        size: String,
        price: String,
        realized_pnl: String,
        collateral: String,
    },
    MarketDelisted {
        market: String,
        price: String,
    },
    StopTriggered {
        stop_id: u64,
        account: u64,
        market: String,
        reference_price: String,
    },
    TriggeredOrderRejected {
        stop_id: u64,
        account: u64,
        market: String,
        code: u16,
        reason: &'static str,
        message: String,
    },
    PositionChanged {
        account: u64,
        market: String,
        size: String,
        cost_basis: String,
        realized_pnl: String,
        fee: String,
        collateral: String,
        isolated_margin: String,
    },
    MarginModeSet {
        account: u64,
        market: String,
        mode: &'static str,
    },
    IsolatedMarginChanged {
        account: u64,
        market: String,
        amount: String,
        isolated_margin: String,
        collateral: String,
    },
    Deposited {
        account: u64,
        amount: String,
        collateral: String,
    },
    Withdrawn {
        account: u64,
        amount: String,
        collateral: String,
    },
    LeverageSet {
        account: u64,
        market: String,
        leverage: u32,
    },
    LiquidationQueued {
        account: u64,
        scope: String,
        equity: String,
        maintenance_margin: String,
        queue_length: u64,
    },
    LiquidationStarted {
        account: u64,
        scope: String,
        equity: String,
        maintenance_margin: String,
    },
    LiquidationAverted {
        account: u64,
        scope: String,
        equity: String,
        maintenance_margin: String,
    },
    LiquidationOrder {
        account: u64,
        market: String,
        order_id: u64,
        side: &'static str,
        qty: String,
        limit: String,
        bankruptcy_price: String,
    },
    BackstopTakeover {
        market: String,
        account: u64,
        liquidator: u64,
        side: &'static str,
        qty: String,
        price: String,
        gap_paid: String,
    },
    Deleveraged {
        market: String,
        account: u64,
        bankrupt: u64,
        qty: String,
        price: String,
        settlement: String,
        profit_given_up: String,
        rank: String,
        policy: &'static str,
    },
    LiquidationFee {
        account: u64,
        market: String,
        amount: String,
        fund: String,
    },
    DeficitCovered {
        account: u64,
        market: String,
        fund: String,
        amount: String,
        balance: String,
    },
    DeficitUncovered {
        account: u64,
        market: String,
        amount: String,
    },
    LiquidationFinished {
        account: u64,
        scope: String,
        outcome: &'static str,
        equity: String,
        maintenance_margin: String,
    },
    LiquidatorSet {
        account: u64,
        active: bool,
    },
    FundCapitalised {
        fund: String,
        amount: String,
        balance: String,
    },
    AdminAudited {
        actor: String,
        action: String,
        detail: String,
    },
    OrderAmended {
        order_id: u64,
        account: u64,
        market: String,
        price: String,
        qty: String,
        priority: &'static str,
    },
    OrderCancelled {
        order_id: u64,
        account: u64,
        market: String,
        qty: String,
        reason: &'static str,
    },
    DuplicateClientOrderId {
        account: u64,
        client_id: String,
        order_id: u64,
        market: String,
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        cancel_reason: Option<&'static str>,
        filled: String,
        open: String,
    },
    Rejected {
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        code: u16,
        reason: &'static str,
        message: String,
    },
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn tif(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "gtc",
        TimeInForce::Ioc => "ioc",
        TimeInForce::Fok => "fok",
        TimeInForce::PostOnly => "post_only",
    }
}

fn stp(s: StpMode) -> &'static str {
    match s {
        StpMode::ExpireTaker => "expire_taker",
        StpMode::ExpireMaker => "expire_maker",
        StpMode::ExpireBoth => "expire_both",
    }
}

/// The stable name of a margin mode.
#[must_use]
pub fn margin_mode(m: MarginMode) -> &'static str {
    match m {
        MarginMode::Cross => "cross",
        MarginMode::Isolated => "isolated",
    }
}

/// The stable name of a stale-index stage.
#[must_use]
pub fn oracle_stage(s: OracleStage) -> &'static str {
    match s {
        OracleStage::Live => "live",
        OracleStage::Stale => "stale",
        OracleStage::ReduceOnly => "reduce_only",
        OracleStage::Halted => "halted",
    }
}

/// The stable name of an oracle source's status.
#[must_use]
pub fn source_status(s: SourceStatus) -> &'static str {
    match s {
        SourceStatus::Missing => "missing",
        SourceStatus::Used => "used",
        SourceStatus::Stale => "stale",
        SourceStatus::Outlier => "outlier",
    }
}

/// The market specifications an event's text is written with: a market's symbol, its tick and
/// lot (the decimals) and its oracle sources' names. None of these changes once the market
/// exists (`ScheduleParams` changes tiers, leverage, fees and the funding interval), so a copy
/// taken after a command ([`MarketSpecs`] for a slice of specs) encodes its events exactly as
/// the engine would, later and on another thread (the server's publications do this).
pub trait MarketSpecs {
    /// The specification of market `id`, if it exists.
    fn spec(&self, id: MarketId) -> Option<&MarketSpec>;
    /// The id and specification of the market named `symbol`, if it exists (symbols are never
    /// reused, a delisted market's included).
    fn by_symbol(&self, symbol: &str) -> Option<(MarketId, &MarketSpec)>;
}

impl MarketSpecs for Engine {
    fn spec(&self, id: MarketId) -> Option<&MarketSpec> {
        self.market(id).map(|m| &m.spec)
    }
    fn by_symbol(&self, symbol: &str) -> Option<(MarketId, &MarketSpec)> {
        self.market_by_symbol(symbol).map(|m| (m.id, &m.spec))
    }
}

/// Specifications indexed by market id (`markets[id]`), as the engine numbers them.
impl MarketSpecs for [MarketSpec] {
    fn spec(&self, id: MarketId) -> Option<&MarketSpec> {
        self.get(id.index())
    }
    fn by_symbol(&self, symbol: &str) -> Option<(MarketId, &MarketSpec)> {
        let i = self.iter().position(|s| s.symbol == symbol)?;
        Some((MarketId(u32::try_from(i).ok()?), &self[i]))
    }
}

fn market_of<M: MarketSpecs + ?Sized>(markets: &M, id: MarketId) -> &MarketSpec {
    markets.spec(id).expect("events name existing markets")
}

/// A rejection's message, with figures in the market's decimals when the market is known.
#[must_use]
pub fn reject_message(reason: &RejectReason, market: Option<&MarketSpec>) -> String {
    let Some(m) = market else {
        return reason.to_string();
    };
    let p = |x| format_price(m, x);
    let q = |x| format_qty(m, x);
    match reason {
        RejectReason::NonPositiveQty(x) => format!("size must be positive, got {}", q(*x)),
        RejectReason::QtyAboveMax { qty, max } => {
            format!("size {} is above the maximum order size {}", q(*qty), q(*max))
        }
        RejectReason::QtyBelowMin { qty, min } => {
            format!("size {} is below the minimum order size {}", q(*qty), q(*min))
        }
        RejectReason::NotionalBelowMin { notional, min } => {
            format!("notional {} is below the minimum notional {}", format_quote(*notional), format_quote(*min))
        }
        RejectReason::NonPositivePrice(x) => format!("price must be positive, got {}", p(*x)),
        RejectReason::NonPositiveMark(x) => format!("mark price must be positive, got {}", p(*x)),
        RejectReason::PriceOutsideBand { price, low, high } => {
            format!("price {} is outside the order band [{}, {}] around the mark price", p(*price), p(*low), p(*high))
        }
        RejectReason::PostOnlyWouldTake { best_opposite } => {
            format!("post-only order would take liquidity at {}; rejected, not repriced", p(*best_opposite))
        }
        RejectReason::FokCannotFill { qty, available } => {
            format!("fill-or-kill order for {} can fill only {} now", q(*qty), q(*available))
        }
        other => other.to_string(),
    }
}

/// Encodes one event. `command_market` is the market the command named, used to format the
/// figures of a rejection.
#[must_use]
pub fn encode_event<M: MarketSpecs + ?Sized>(e: &Event, markets: &M, command_market: Option<MarketId>) -> EventLine {
    let sym = |id: MarketId| market_of(markets, id).symbol.clone();
    let event = match &e.kind {
        EventKind::MarketCreated { market, symbol } => {
            WireEvent::MarketCreated { market: symbol.clone(), market_id: market.0 }
        }
        EventKind::MarkPriceSet { market, price } => {
            WireEvent::MarkPrice { market: sym(*market), price: format_price(market_of(markets, *market), *price) }
        }
        EventKind::IndexPrice { market, price, sources_used } => {
            let m = market_of(markets, *market);
            WireEvent::IndexPrice {
                market: m.symbol.clone(),
                price: format_price(m, *price),
                sources_used: *sources_used,
            }
        }
        EventKind::OracleSourceStatus { market, source, status, price } => {
            let m = market_of(markets, *market);
            WireEvent::OracleSource {
                market: m.symbol.clone(),
                source: m.oracle.sources.get(usize::from(*source)).map_or_else(String::new, |s| s.name.clone()),
                status: source_status(*status),
                price: price.map(|p| format_price(m, p)),
            }
        }
        EventKind::OracleStageChanged { market, stage, since } => {
            WireEvent::OracleStage { market: sym(*market), stage: oracle_stage(*stage), since: since.0 }
        }
        EventKind::FundingSettled {
            market,
            funding_time,
            rate,
            rate_8h,
            mark,
            samples,
            missed_samples,
            positions,
            paid,
            received,
            to_insurance_fund,
            next_funding_time,
        } => {
            let m = market_of(markets, *market);
            WireEvent::FundingSettled {
                market: m.symbol.clone(),
                funding_time: funding_time.0,
                rate: format_rate(*rate),
                rate_8h: format_rate(*rate_8h),
                mark_price: mark.map(|p| format_price(m, p)),
                samples: *samples,
                missed_samples: *missed_samples,
                positions: *positions,
                paid: format_quote(*paid),
                received: format_quote(*received),
                to_insurance_fund: format_quote(*to_insurance_fund),
                next_funding_time: next_funding_time.0,
            }
        }
        EventKind::FundingPayment { account, market, size, amount, collateral, isolated_margin } => {
            let m = market_of(markets, *market);
            WireEvent::FundingPayment {
                account: account.0,
                market: m.symbol.clone(),
                size: format_qty(m, *size),
                amount: format_quote(*amount),
                collateral: format_quote(*collateral),
                isolated_margin: format_quote(*isolated_margin),
            }
        }
        EventKind::FundingSkipped { market, funding_time } => {
            WireEvent::FundingSkipped { market: sym(*market), funding_time: funding_time.0 }
        }
        EventKind::OrderAccepted {
            order_id,
            account,
            market,
            side: s,
            order_type,
            qty,
            client_id,
            stp: mode,
            reduce_only,
        } => {
            let m = market_of(markets, *market);
            let (kind, price, t) = match order_type {
                OrderType::Limit { price, tif: t } => ("limit", Some(format_price(m, *price)), Some(tif(*t))),
                OrderType::Market => ("market", None, None),
            };
            WireEvent::OrderAccepted {
                order_id: order_id.0,
                account: account.0,
                market: m.symbol.clone(),
                side: side(*s),
                order_type: kind,
                price,
                tif: t,
                qty: format_qty(m, *qty),
                client_id: client_id.as_ref().map(ToString::to_string),
                stp: stp(*mode),
                reduce_only: *reduce_only,
            }
        }
        EventKind::Fill(f) => {
            let m = market_of(markets, f.market);
            WireEvent::Fill {
                market: m.symbol.clone(),
                trade_id: f.trade_id.0,
                price: format_price(m, f.price),
                qty: format_qty(m, f.qty),
                taker_side: side(f.taker_side),
                maker_order_id: f.maker_order.0,
                maker_account: f.maker_account.0,
                maker_remaining: format_qty(m, f.maker_remaining),
                taker_order_id: f.taker_order.0,
                taker_account: f.taker_account.0,
                taker_remaining: format_qty(m, f.taker_remaining),
                maker_fee: format_quote(f.maker_fee),
                taker_fee: format_quote(f.taker_fee),
            }
        }
        EventKind::OrderAmended { order_id, account, market, price, qty, priority } => {
            let m = market_of(markets, *market);
            WireEvent::OrderAmended {
                order_id: order_id.0,
                account: account.0,
                market: m.symbol.clone(),
                price: format_price(m, *price),
                qty: format_qty(m, *qty),
                priority: match priority {
                    QueuePriority::Kept => "kept",
                    QueuePriority::Lost => "lost",
                },
            }
        }
        EventKind::OrderCancelled { order_id, account, market, qty, reason } => {
            let m = market_of(markets, *market);
            WireEvent::OrderCancelled {
                order_id: order_id.0,
                account: account.0,
                market: m.symbol.clone(),
                qty: format_qty(m, *qty),
                reason: reason.name(),
            }
        }
        EventKind::DuplicateClientOrderId { account, client_id, order_id, market, status, filled, open } => {
            let m = market_of(markets, *market);
            let (status, cancel) = match status {
                OrderStatus::Open => ("open", None),
                OrderStatus::Filled => ("filled", None),
                OrderStatus::Cancelled(r) => ("cancelled", Some(r.name())),
            };
            WireEvent::DuplicateClientOrderId {
                account: account.0,
                client_id: client_id.to_string(),
                order_id: order_id.0,
                market: m.symbol.clone(),
                status,
                cancel_reason: cancel,
                filled: format_qty(m, *filled),
                open: format_qty(m, *open),
            }
        }
        EventKind::StopAccepted {
            stop_id,
            account,
            market,
            side: s,
            kind,
            trigger,
            trigger_by,
            qty,
            reduce_only,
            client_id,
        } => {
            let m = market_of(markets, *market);
            let stop_type = match kind {
                StopKind::StopMarket => "stop_market",
                StopKind::StopLimit { .. } => "stop_limit",
                StopKind::TakeProfitMarket => "take_profit_market",
                StopKind::TakeProfitLimit { .. } => "take_profit_limit",
            };
            WireEvent::StopAccepted {
                stop_id: stop_id.0,
                account: account.0,
                market: m.symbol.clone(),
                side: side(*s),
                stop_type,
                trigger_price: format_price(m, *trigger),
                trigger_by: match trigger_by {
                    TriggerBy::Mark => "mark",
                    TriggerBy::Last => "last",
                },
                price: kind.limit().map(|(p, _)| format_price(m, p)),
                tif: kind.limit().map(|(_, t)| tif(t)),
                qty: format_qty(m, *qty),
                reduce_only: *reduce_only,
                client_id: client_id.as_ref().map(ToString::to_string),
            }
        }
        EventKind::MarketHalted { market } => WireEvent::MarketHalted { market: sym(*market) },
        EventKind::MarketResumed { market } => WireEvent::MarketResumed { market: sym(*market) },
        EventKind::ParamsScheduled { market, effective_at, accounts_below_maintenance, replaced } => {
            WireEvent::ParamsScheduled {
                market: sym(*market),
                effective_at: effective_at.0,
                accounts_below_maintenance: *accounts_below_maintenance,
                replaced: *replaced,
            }
        }
        EventKind::ParamsChanged { market } => WireEvent::ParamsChanged { market: sym(*market) },
        EventKind::PositionSettled { account, market, size, price, realized, collateral } => {
            let m = market_of(markets, *market);
            WireEvent::PositionSettled {
                account: account.0,
                market: m.symbol.clone(),
                size: format_qty(m, *size),
                price: format_price(m, *price),
                realized_pnl: format_quote(*realized),
                collateral: format_quote(*collateral),
            }
        }
        EventKind::MarketDelisted { market, price } => {
            let m = market_of(markets, *market);
            WireEvent::MarketDelisted { market: m.symbol.clone(), price: format_price(m, *price) }
        }
        EventKind::StopTriggered { stop_id, account, market, reference } => {
            let m = market_of(markets, *market);
            WireEvent::StopTriggered {
                stop_id: stop_id.0,
                account: account.0,
                market: m.symbol.clone(),
                reference_price: format_price(m, *reference),
            }
        }
        EventKind::TriggeredOrderRejected { stop_id, account, market, reason } => {
            let m = market_of(markets, *market);
            WireEvent::TriggeredOrderRejected {
                stop_id: stop_id.0,
                account: account.0,
                market: m.symbol.clone(),
                code: reason.code(),
                reason: reason.name(),
                message: reject_message(reason, Some(m)),
            }
        }
        EventKind::MarginModeSet { account, market, mode } => {
            WireEvent::MarginModeSet { account: account.0, market: sym(*market), mode: margin_mode(*mode) }
        }
        EventKind::IsolatedMarginChanged { account, market, amount, isolated_margin, collateral } => {
            WireEvent::IsolatedMarginChanged {
                account: account.0,
                market: sym(*market),
                amount: format_quote(*amount),
                isolated_margin: format_quote(*isolated_margin),
                collateral: format_quote(*collateral),
            }
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
            let m = market_of(markets, *market);
            WireEvent::PositionChanged {
                account: account.0,
                market: m.symbol.clone(),
                size: format_qty(m, *size),
                cost_basis: format_quote(*cost_basis),
                realized_pnl: format_quote(*realized),
                fee: format_quote(*fee),
                collateral: format_quote(*collateral),
                isolated_margin: format_quote(*isolated_margin),
            }
        }
        EventKind::Deposited { account, amount, collateral } => WireEvent::Deposited {
            account: account.0,
            amount: format_quote(*amount),
            collateral: format_quote(*collateral),
        },
        EventKind::Withdrawn { account, amount, collateral } => WireEvent::Withdrawn {
            account: account.0,
            amount: format_quote(*amount),
            collateral: format_quote(*collateral),
        },
        EventKind::LeverageSet { account, market, leverage } => {
            WireEvent::LeverageSet { account: account.0, market: sym(*market), leverage: *leverage }
        }
        EventKind::LiquidationQueued { account, scope, equity, maintenance_margin, queue_length } => {
            WireEvent::LiquidationQueued {
                account: account.0,
                scope: scope_name(markets, *scope),
                equity: format_quote(*equity),
                maintenance_margin: format_quote(*maintenance_margin),
                queue_length: *queue_length,
            }
        }
        EventKind::LiquidationStarted { account, scope, equity, maintenance_margin } => WireEvent::LiquidationStarted {
            account: account.0,
            scope: scope_name(markets, *scope),
            equity: format_quote(*equity),
            maintenance_margin: format_quote(*maintenance_margin),
        },
        EventKind::LiquidationAverted { account, scope, equity, maintenance_margin } => WireEvent::LiquidationAverted {
            account: account.0,
            scope: scope_name(markets, *scope),
            equity: format_quote(*equity),
            maintenance_margin: format_quote(*maintenance_margin),
        },
        EventKind::LiquidationOrder { account, market, order_id, side: close_side, qty, limit, bankruptcy_price } => {
            let m = market_of(markets, *market);
            WireEvent::LiquidationOrder {
                account: account.0,
                market: m.symbol.clone(),
                order_id: order_id.0,
                side: side(*close_side),
                qty: format_qty(m, *qty),
                limit: format_price(m, *limit),
                bankruptcy_price: format_price(m, *bankruptcy_price),
            }
        }
        EventKind::BackstopTakeover { market, account, liquidator, side: close_side, qty, price, gap_paid } => {
            let m = market_of(markets, *market);
            WireEvent::BackstopTakeover {
                market: m.symbol.clone(),
                account: account.0,
                liquidator: liquidator.0,
                side: side(*close_side),
                qty: format_qty(m, *qty),
                price: format_price(m, *price),
                gap_paid: format_quote(*gap_paid),
            }
        }
        EventKind::Deleveraged { market, account, bankrupt, qty, price, settlement, profit_given_up, rank, policy } => {
            let m = market_of(markets, *market);
            WireEvent::Deleveraged {
                market: m.symbol.clone(),
                account: account.0,
                bankrupt: bankrupt.0,
                qty: format_qty(m, *qty),
                price: format_price(m, *price),
                settlement: format_quote(*settlement),
                profit_given_up: format_quote(*profit_given_up),
                rank: format_rank(*rank),
                policy: adl_policy_name(*policy),
            }
        }
        EventKind::LiquidationFee { account, market, amount, fund } => WireEvent::LiquidationFee {
            account: account.0,
            market: sym(*market),
            amount: format_quote(*amount),
            fund: fund_name(markets, *fund),
        },
        EventKind::DeficitCovered { account, market, fund, amount, balance } => WireEvent::DeficitCovered {
            account: account.0,
            market: sym(*market),
            fund: fund_name(markets, *fund),
            amount: format_quote(*amount),
            balance: format_quote(*balance),
        },
        EventKind::DeficitUncovered { account, market, amount } => {
            WireEvent::DeficitUncovered { account: account.0, market: sym(*market), amount: format_quote(*amount) }
        }
        EventKind::LiquidationFinished { account, scope, outcome, equity, maintenance_margin } => {
            WireEvent::LiquidationFinished {
                account: account.0,
                scope: scope_name(markets, *scope),
                outcome: match outcome {
                    LiquidationOutcome::Partial => "partial",
                    LiquidationOutcome::ClosedOut => "closed_out",
                    LiquidationOutcome::Stalled => "stalled",
                },
                equity: format_quote(*equity),
                maintenance_margin: format_quote(*maintenance_margin),
            }
        }
        EventKind::LiquidatorSet { account, active } => {
            WireEvent::LiquidatorSet { account: account.0, active: *active }
        }
        EventKind::FundCapitalised { fund, amount, balance } => WireEvent::FundCapitalised {
            fund: fund_name(markets, *fund),
            amount: format_quote(*amount),
            balance: format_quote(*balance),
        },
        EventKind::AdminAudited { actor, action, detail } => {
            WireEvent::AdminAudited { actor: actor.clone(), action: action.clone(), detail: detail.clone() }
        }
        EventKind::Rejected { account, client_id, reason } => WireEvent::Rejected {
            account: account.map(|a| a.0),
            client_id: client_id.as_ref().map(ToString::to_string),
            code: reason.code(),
            reason: reason.name(),
            message: reject_message(reason, command_market.and_then(|id| markets.spec(id))),
        },
    };
    EventLine { seq: e.seq, ts: e.ts.0, event }
}

/// The `type` field [`encode_event`] writes for an event of this kind, without encoding it: a
/// consumer choosing events by type (a WebSocket channel, the Binance layer) reads this and
/// encodes only what it sends. A test checks it against the encoded `type` of every kind.
#[must_use]
pub fn wire_type(kind: &EventKind) -> &'static str {
    use EventKind as E;
    match kind {
        E::MarketCreated { .. } => "market_created",
        E::MarkPriceSet { .. } => "mark_price",
        E::IndexPrice { .. } => "index_price",
        E::OracleSourceStatus { .. } => "oracle_source",
        E::OracleStageChanged { .. } => "oracle_stage",
        E::FundingSettled { .. } => "funding_settled",
        E::FundingPayment { .. } => "funding_payment",
        E::FundingSkipped { .. } => "funding_skipped",
        E::OrderAccepted { .. } => "order_accepted",
        E::Fill(..) => "fill",
        E::OrderAmended { .. } => "order_amended",
        E::OrderCancelled { .. } => "order_cancelled",
        E::DuplicateClientOrderId { .. } => "duplicate_client_order_id",
        E::StopAccepted { .. } => "stop_accepted",
        E::MarketHalted { .. } => "market_halted",
        E::MarketResumed { .. } => "market_resumed",
        E::ParamsScheduled { .. } => "params_scheduled",
        E::ParamsChanged { .. } => "params_changed",
        E::PositionSettled { .. } => "position_settled",
        E::MarketDelisted { .. } => "market_delisted",
        E::StopTriggered { .. } => "stop_triggered",
        E::TriggeredOrderRejected { .. } => "triggered_order_rejected",
        E::MarginModeSet { .. } => "margin_mode_set",
        E::IsolatedMarginChanged { .. } => "isolated_margin_changed",
        E::PositionChanged { .. } => "position_changed",
        E::Deposited { .. } => "deposited",
        E::Withdrawn { .. } => "withdrawn",
        E::LeverageSet { .. } => "leverage_set",
        E::LiquidationQueued { .. } => "liquidation_queued",
        E::LiquidationStarted { .. } => "liquidation_started",
        E::LiquidationAverted { .. } => "liquidation_averted",
        E::LiquidationOrder { .. } => "liquidation_order",
        E::BackstopTakeover { .. } => "backstop_takeover",
        E::Deleveraged { .. } => "deleveraged",
        E::LiquidationFee { .. } => "liquidation_fee",
        E::DeficitCovered { .. } => "deficit_covered",
        E::DeficitUncovered { .. } => "deficit_uncovered",
        E::LiquidationFinished { .. } => "liquidation_finished",
        E::LiquidatorSet { .. } => "liquidator_set",
        E::FundCapitalised { .. } => "fund_capitalised",
        E::AdminAudited { .. } => "admin_audited",
        E::Rejected { .. } => "rejected",
    }
}

/// `cross`, or `isolated:SYMBOL`.
fn scope_name<M: MarketSpecs + ?Sized>(markets: &M, scope: LiquidationScope) -> String {
    match scope {
        LiquidationScope::Cross => "cross".into(),
        LiquidationScope::Isolated(m) => format!("isolated:{}", market_of(markets, m).symbol),
    }
}

/// `insurance:SYMBOL`, `shared_insurance` or `guaranty`.
pub fn fund_name<M: MarketSpecs + ?Sized>(markets: &M, fund: FundRef) -> String {
    match fund {
        FundRef::Market(m) => format!("insurance:{}", market_of(markets, m).symbol),
        FundRef::Shared => "shared_insurance".into(),
        FundRef::Guaranty => "guaranty".into(),
    }
}

fn adl_policy_name(p: AdlPolicy) -> &'static str {
    p.name()
}

/// An ADL rank (units of 1e-8) as a decimal with 8 places; the saturated ends as `inf`/`-inf`.
fn format_rank(rank: i128) -> String {
    match rank {
        i128::MAX => "inf".into(),
        i128::MIN => "-inf".into(),
        r => {
            let sign = if r < 0 { "-" } else { "" };
            let a = r.unsigned_abs();
            format!("{sign}{}.{:08}", a / 100_000_000, a % 100_000_000)
        }
    }
}

/// Encodes a refusal of script line `line` (1-based).
#[must_use]
pub fn encode_refusal(r: &Refusal, line: usize, engine: &Engine) -> RefusalLine {
    let market = r.market.as_deref().and_then(|s| engine.market_by_symbol(s)).map(|m| &m.spec);
    RefusalLine {
        kind: "rejected",
        line,
        ts: r.ts,
        account: r.account,
        client_id: r.client_id.clone(),
        code: r.reason.code(),
        reason: r.reason.name(),
        message: reject_message(&r.reason, market),
    }
}
