//! Engine events → JSON, with every price, size and amount as a decimal string in its market's
//! precision.

use perpx_core::account::MarginMode;
use perpx_core::command::{OrderType, StpMode, TimeInForce};
use perpx_core::event::{
    Event, EventKind, FundRef, FundingSettlement, LiquidationOutcome, LiquidationScope, OrderStatus, QueuePriority,
};
use perpx_core::market::{MarketSpec, OracleStage, SourceStatus};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{Engine, MarketId, Price, Qty, Quote, RejectReason, Side};
use serde::Serialize;

use crate::command::Refusal;
use crate::json_object::JsonObject;
use crate::units::{QUOTE_UNIT, format_price, format_qty, format_quote, format_rate};

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

/// One event's JSON text (`docs/REPLAY.md`): `seq`, `ts`, `type`, then the kind's fields, every
/// figure a decimal string in its market's precision. `command_market` is the market the
/// command named, used to format the figures of a rejection's message.
#[must_use]
pub fn event_text<M: MarketSpecs + ?Sized>(e: &Event, markets: &M, command_market: Option<MarketId>) -> String {
    let mut out = String::with_capacity(256);
    write_event(e, markets, command_market, &mut out);
    out
}

/// [`event_text`] appended to `out`.
///
/// Written field by field ([`JsonObject`]), with no intermediate strings: the server writes
/// every event it publishes this way, and a serde-derived struct of strings was 42 % of its
/// gateway's instructions an order (docs/PERFORMANCE.md "Session 16"). The field names and order
/// are the format: `tests/every_event_kind.expected.jsonl` pins every kind's text.
pub fn write_event<M: MarketSpecs + ?Sized>(
    e: &Event,
    markets: &M,
    command_market: Option<MarketId>,
    out: &mut String,
) {
    let mut o = JsonObject::begin(out);
    o.u64("seq", e.seq);
    o.i64("ts", e.ts.0);
    o.name("type", wire_type(&e.kind));
    let spec = |id: MarketId| market_of(markets, id);
    match &e.kind {
        EventKind::MarketCreated { market, symbol } => {
            o.str("market", symbol);
            o.u64("market_id", u64::from(market.0));
        }
        EventKind::MarkPriceSet { market, price: p } => {
            let m = spec(*market);
            o.str("market", &m.symbol);
            price(&mut o, "price", m, *p);
        }
        EventKind::IndexPrice { market, price: p, sources_used } => {
            let m = spec(*market);
            o.str("market", &m.symbol);
            price(&mut o, "price", m, *p);
            o.u64("sources_used", u64::from(*sources_used));
        }
        EventKind::OracleSourceStatus { market, source, status, price: p } => {
            let m = spec(*market);
            o.str("market", &m.symbol);
            o.str("source", m.oracle.sources.get(usize::from(*source)).map_or("", |s| s.name.as_str()));
            o.name("status", source_status(*status));
            if let Some(p) = p {
                price(&mut o, "price", m, *p);
            }
        }
        EventKind::OracleStageChanged { market, stage, since } => {
            o.str("market", &spec(*market).symbol);
            o.name("stage", oracle_stage(*stage));
            o.i64("since", since.0);
        }
        EventKind::FundingSettled(settlement) => {
            let FundingSettlement {
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
            } = &**settlement;
            let m = spec(*market);
            o.str("market", &m.symbol);
            o.i64("funding_time", funding_time.0);
            o.str("rate", &format_rate(*rate));
            o.str("rate_8h", &format_rate(*rate_8h));
            if let Some(p) = mark {
                price(&mut o, "mark_price", m, *p);
            }
            o.u64("samples", *samples);
            o.u64("missed_samples", *missed_samples);
            o.u64("positions", *positions);
            quote(&mut o, "paid", *paid);
            quote(&mut o, "received", *received);
            quote(&mut o, "to_insurance_fund", *to_insurance_fund);
            o.i64("next_funding_time", next_funding_time.0);
        }
        EventKind::FundingPayments { market, payments } => {
            // Delivered as one `funding_payment` a line (`Event::notices`): this form is for a
            // consumer that writes the batch whole.
            let m = spec(*market);
            o.str("market", &m.symbol);
            let lines: Vec<String> = payments
                .iter()
                .map(|l| {
                    let mut text = String::with_capacity(128);
                    let mut line = JsonObject::begin(&mut text);
                    line.u64("account", l.account.0);
                    qty(&mut line, "size", m, l.size);
                    quote(&mut line, "amount", l.amount);
                    quote(&mut line, "collateral", l.collateral);
                    quote(&mut line, "isolated_margin", l.isolated_margin);
                    line.end();
                    text
                })
                .collect();
            o.json_array("payments", lines.iter().map(String::as_str));
        }
        EventKind::FundingPayment { account, market, size, amount, collateral, isolated_margin } => {
            let m = spec(*market);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            qty(&mut o, "size", m, *size);
            quote(&mut o, "amount", *amount);
            quote(&mut o, "collateral", *collateral);
            quote(&mut o, "isolated_margin", *isolated_margin);
        }
        EventKind::FundingSkipped { market, funding_time } => {
            o.str("market", &spec(*market).symbol);
            o.i64("funding_time", funding_time.0);
        }
        EventKind::OrderAccepted {
            order_id,
            account,
            market,
            side: s,
            order_type,
            qty: q,
            client_id,
            stp: mode,
            reduce_only,
        } => {
            let m = spec(*market);
            o.u64("order_id", order_id.0);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            o.name("side", side(*s));
            match order_type {
                OrderType::Limit { price: p, tif: t } => {
                    o.name("order_type", "limit");
                    price(&mut o, "price", m, *p);
                    o.name("tif", tif(*t));
                }
                OrderType::Market => o.name("order_type", "market"),
            }
            qty(&mut o, "qty", m, *q);
            if let Some(c) = client_id {
                o.str("client_id", c.as_str());
            }
            o.name("stp", stp(*mode));
            o.bool("reduce_only", *reduce_only);
        }
        EventKind::Fill(f) => {
            let m = spec(f.market);
            o.str("market", &m.symbol);
            o.u64("trade_id", f.trade_id.0);
            price(&mut o, "price", m, f.price);
            qty(&mut o, "qty", m, f.qty);
            o.name("taker_side", side(f.taker_side));
            o.u64("maker_order_id", f.maker_order.0);
            o.u64("maker_account", f.maker_account.0);
            qty(&mut o, "maker_remaining", m, f.maker_remaining);
            o.u64("taker_order_id", f.taker_order.0);
            o.u64("taker_account", f.taker_account.0);
            qty(&mut o, "taker_remaining", m, f.taker_remaining);
            quote(&mut o, "maker_fee", f.maker_fee);
            quote(&mut o, "taker_fee", f.taker_fee);
        }
        EventKind::OrderAmended { order_id, account, market, price: p, qty: q, priority } => {
            let m = spec(*market);
            o.u64("order_id", order_id.0);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            price(&mut o, "price", m, *p);
            qty(&mut o, "qty", m, *q);
            o.name(
                "priority",
                match priority {
                    QueuePriority::Kept => "kept",
                    QueuePriority::Lost => "lost",
                },
            );
        }
        EventKind::OrderCancelled { order_id, account, market, qty: q, reason } => {
            let m = spec(*market);
            o.u64("order_id", order_id.0);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            qty(&mut o, "qty", m, *q);
            o.name("reason", reason.name());
        }
        EventKind::DuplicateClientOrderId { account, client_id, order_id, market, status, filled, open } => {
            let m = spec(*market);
            o.u64("account", account.0);
            o.str("client_id", client_id.as_str());
            o.u64("order_id", order_id.0);
            o.str("market", &m.symbol);
            match status {
                OrderStatus::Open => o.name("status", "open"),
                OrderStatus::Filled => o.name("status", "filled"),
                OrderStatus::Cancelled(r) => {
                    o.name("status", "cancelled");
                    o.name("cancel_reason", r.name());
                }
            }
            qty(&mut o, "filled", m, *filled);
            qty(&mut o, "open", m, *open);
        }
        EventKind::StopAccepted {
            stop_id,
            account,
            market,
            side: s,
            kind,
            trigger,
            trigger_by,
            qty: q,
            reduce_only,
            client_id,
        } => {
            let m = spec(*market);
            o.u64("stop_id", stop_id.0);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            o.name("side", side(*s));
            o.name(
                "stop_type",
                match kind {
                    StopKind::StopMarket => "stop_market",
                    StopKind::StopLimit { .. } => "stop_limit",
                    StopKind::TakeProfitMarket => "take_profit_market",
                    StopKind::TakeProfitLimit { .. } => "take_profit_limit",
                },
            );
            price(&mut o, "trigger_price", m, *trigger);
            o.name(
                "trigger_by",
                match trigger_by {
                    TriggerBy::Mark => "mark",
                    TriggerBy::Last => "last",
                },
            );
            if let Some((p, t)) = kind.limit() {
                price(&mut o, "price", m, p);
                o.name("tif", tif(t));
            }
            qty(&mut o, "qty", m, *q);
            o.bool("reduce_only", *reduce_only);
            if let Some(c) = client_id {
                o.str("client_id", c.as_str());
            }
        }
        EventKind::MarketHalted { market }
        | EventKind::MarketResumed { market }
        | EventKind::ParamsChanged { market } => {
            o.str("market", &spec(*market).symbol);
        }
        EventKind::ParamsScheduled { market, effective_at, accounts_below_maintenance, replaced } => {
            o.str("market", &spec(*market).symbol);
            o.i64("effective_at", effective_at.0);
            o.u64("accounts_below_maintenance", u64::from(*accounts_below_maintenance));
            o.bool("replaced", *replaced);
        }
        EventKind::PositionSettled { account, market, size, price: p, realized, collateral } => {
            let m = spec(*market);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            qty(&mut o, "size", m, *size);
            price(&mut o, "price", m, *p);
            quote(&mut o, "realized_pnl", *realized);
            quote(&mut o, "collateral", *collateral);
        }
        EventKind::MarketDelisted { market, price: p } => {
            let m = spec(*market);
            o.str("market", &m.symbol);
            price(&mut o, "price", m, *p);
        }
        EventKind::StopTriggered { stop_id, account, market, reference } => {
            let m = spec(*market);
            o.u64("stop_id", stop_id.0);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            price(&mut o, "reference_price", m, *reference);
        }
        EventKind::TriggeredOrderRejected { stop_id, account, market, reason } => {
            let m = spec(*market);
            o.u64("stop_id", stop_id.0);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            o.u64("code", u64::from(reason.code()));
            o.name("reason", reason.name());
            o.str("message", &reject_message(reason, Some(m)));
        }
        EventKind::MarginModeSet { account, market, mode } => {
            o.u64("account", account.0);
            o.str("market", &spec(*market).symbol);
            o.name("mode", margin_mode(*mode));
        }
        EventKind::IsolatedMarginChanged { account, market, amount, isolated_margin, collateral } => {
            o.u64("account", account.0);
            o.str("market", &spec(*market).symbol);
            quote(&mut o, "amount", *amount);
            quote(&mut o, "isolated_margin", *isolated_margin);
            quote(&mut o, "collateral", *collateral);
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
            let m = spec(*market);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            qty(&mut o, "size", m, *size);
            quote(&mut o, "cost_basis", *cost_basis);
            quote(&mut o, "realized_pnl", *realized);
            quote(&mut o, "fee", *fee);
            quote(&mut o, "collateral", *collateral);
            quote(&mut o, "isolated_margin", *isolated_margin);
        }
        EventKind::Deposited { account, amount, collateral } | EventKind::Withdrawn { account, amount, collateral } => {
            o.u64("account", account.0);
            quote(&mut o, "amount", *amount);
            quote(&mut o, "collateral", *collateral);
        }
        EventKind::LeverageSet { account, market, leverage } => {
            o.u64("account", account.0);
            o.str("market", &spec(*market).symbol);
            o.u64("leverage", u64::from(*leverage));
        }
        EventKind::LiquidationQueued { account, scope, equity, maintenance_margin, queue_length } => {
            o.u64("account", account.0);
            o.str("scope", &scope_name(markets, *scope));
            quote(&mut o, "equity", *equity);
            quote(&mut o, "maintenance_margin", *maintenance_margin);
            o.u64("queue_length", *queue_length);
        }
        EventKind::LiquidationStarted { account, scope, equity, maintenance_margin }
        | EventKind::LiquidationAverted { account, scope, equity, maintenance_margin } => {
            o.u64("account", account.0);
            o.str("scope", &scope_name(markets, *scope));
            quote(&mut o, "equity", *equity);
            quote(&mut o, "maintenance_margin", *maintenance_margin);
        }
        EventKind::LiquidationOrder {
            account,
            market,
            order_id,
            side: close_side,
            qty: q,
            limit,
            bankruptcy_price,
        } => {
            let m = spec(*market);
            o.u64("account", account.0);
            o.str("market", &m.symbol);
            o.u64("order_id", order_id.0);
            o.name("side", side(*close_side));
            qty(&mut o, "qty", m, *q);
            price(&mut o, "limit", m, *limit);
            price(&mut o, "bankruptcy_price", m, *bankruptcy_price);
        }
        EventKind::BackstopTakeover { market, account, liquidator, side: close_side, qty: q, price: p, gap_paid } => {
            let m = spec(*market);
            o.str("market", &m.symbol);
            o.u64("account", account.0);
            o.u64("liquidator", liquidator.0);
            o.name("side", side(*close_side));
            qty(&mut o, "qty", m, *q);
            price(&mut o, "price", m, *p);
            quote(&mut o, "gap_paid", *gap_paid);
        }
        EventKind::Deleveraged {
            market,
            account,
            bankrupt,
            qty: q,
            price: p,
            settlement,
            profit_given_up,
            rank,
            policy,
        } => {
            let m = spec(*market);
            o.str("market", &m.symbol);
            o.u64("account", account.0);
            o.u64("bankrupt", bankrupt.0);
            qty(&mut o, "qty", m, *q);
            price(&mut o, "price", m, *p);
            quote(&mut o, "settlement", *settlement);
            quote(&mut o, "profit_given_up", *profit_given_up);
            o.str("rank", &format_rank(rank.get()));
            o.name("policy", policy.name());
        }
        EventKind::LiquidationFee { account, market, amount, fund } => {
            o.u64("account", account.0);
            o.str("market", &spec(*market).symbol);
            quote(&mut o, "amount", *amount);
            o.str("fund", &fund_name(markets, *fund));
        }
        EventKind::DeficitCovered { account, market, fund, amount, balance } => {
            o.u64("account", account.0);
            o.str("market", &spec(*market).symbol);
            o.str("fund", &fund_name(markets, *fund));
            quote(&mut o, "amount", *amount);
            quote(&mut o, "balance", *balance);
        }
        EventKind::DeficitUncovered { account, market, amount } => {
            o.u64("account", account.0);
            o.str("market", &spec(*market).symbol);
            quote(&mut o, "amount", *amount);
        }
        EventKind::LiquidationFinished { account, scope, outcome, equity, maintenance_margin } => {
            o.u64("account", account.0);
            o.str("scope", &scope_name(markets, *scope));
            o.name(
                "outcome",
                match outcome {
                    LiquidationOutcome::Partial => "partial",
                    LiquidationOutcome::ClosedOut => "closed_out",
                    LiquidationOutcome::Stalled => "stalled",
                },
            );
            quote(&mut o, "equity", *equity);
            quote(&mut o, "maintenance_margin", *maintenance_margin);
        }
        EventKind::LiquidatorSet { account, active } => {
            o.u64("account", account.0);
            o.bool("active", *active);
        }
        EventKind::FundCapitalised { fund, amount, balance } => {
            o.str("fund", &fund_name(markets, *fund));
            quote(&mut o, "amount", *amount);
            quote(&mut o, "balance", *balance);
        }
        EventKind::AdminAudited { actor, action, detail } => {
            o.str("actor", actor);
            o.str("action", action);
            o.str("detail", detail);
        }
        EventKind::Rejected { account, client_id, reason } => {
            if let Some(a) = account {
                o.u64("account", a.0);
            }
            if let Some(c) = client_id {
                o.str("client_id", c.as_str());
            }
            o.u64("code", u64::from(reason.code()));
            o.name("reason", reason.name());
            o.str("message", &reject_message(reason, command_market.and_then(|id| markets.spec(id))));
        }
    }
    o.end();
}

/// A price, in `m`'s tick decimals.
fn price(o: &mut JsonObject<'_>, key: &'static str, m: &MarketSpec, p: Price) {
    o.units(key, p.0, m.tick_size);
}

/// A size, in `m`'s lot decimals.
fn qty(o: &mut JsonObject<'_>, key: &'static str, m: &MarketSpec, q: Qty) {
    o.units(key, q.0, m.lot_size);
}

/// An amount of the settlement stablecoin, 6 decimals.
fn quote(o: &mut JsonObject<'_>, key: &'static str, q: Quote) {
    o.units(key, q.0, QUOTE_UNIT);
}

/// The `type` field [`write_event`] writes for an event of this kind, without encoding it: a
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
        E::FundingPayments { .. } => "funding_payments",
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
