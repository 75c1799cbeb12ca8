//! JSON command lines → engine commands.
//!
//! A line is one JSON object: `"ts"` (ms, integer), `"type"` (the command) and the command's
//! fields. Unknown fields, missing fields and wrong types are refused (`malformed`, 1002), as
//! are numbers that aren't decimal strings on the market's tick or lot. Decoding needs the
//! engine for one thing only: to look up markets by symbol and learn their tick and lot.

use perpx_core::account::MarginMode;
use perpx_core::command::{
    Amend, Command, CommandKind, NewOrder, NewStop, OrderRef, OrderType, ParamChange, StpMode, TimeInForce,
};
use perpx_core::event::FundRef;
use perpx_core::market::{AdlPolicy, InsurancePolicy, LiquidationSpec};
use perpx_core::market::{FundingSpec, HOUR_MS, MarginTier, MarketLimits, MarketSpec, OracleSource, OracleSpec};
use perpx_core::num::Decimal;
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{AccountId, ClientOrderId, Engine, MarketId, OrderId, Price, Rate, RejectReason, Side, Timestamp};
use serde::Deserialize;
use serde_json::Value;

use crate::event::MarketSpecs;
use crate::units::{parse_price, parse_qty, parse_qty_in, parse_quote, parse_rate};

/// The optional first line of a script: `{"schema": "perpx.replay", "version": 1}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always `perpx.replay`.
    pub schema: String,
    /// The schema version the script was written for.
    pub version: u32,
}

/// A decoded line.
#[derive(Debug)]
pub enum Line {
    /// The schema header.
    Header(Header),
    /// A command for the engine.
    Command(Command),
}

/// Why a line was refused before reaching the engine, with the account and client id it
/// carried when they could be read (so the refusal can be addressed to its sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub reason: RejectReason,
    /// The command's timestamp, if it could be read.
    pub ts: Option<i64>,
    /// The sender, if it could be read.
    pub account: Option<u64>,
    /// The client order id, if it could be read.
    pub client_id: Option<String>,
    /// The market symbol the command named, if any (to format figures in messages).
    pub market: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum WireKind {
    CreateMarket(Box<WireMarketSpec>),
    SetMark {
        market: String,
        price: String,
    },
    OraclePrice {
        market: String,
        source: String,
        price: String,
    },
    PlaceOrder {
        account: u64,
        market: String,
        side: WireSide,
        order_type: WireOrderType,
        #[serde(default)]
        price: Option<String>,
        qty: String,
        #[serde(default)]
        tif: Option<WireTif>,
        #[serde(default)]
        client_id: Option<String>,
        #[serde(default)]
        stp: Option<WireStp>,
        #[serde(default)]
        reduce_only: bool,
    },
    AmendOrder {
        account: u64,
        market: String,
        #[serde(default)]
        order_id: Option<u64>,
        #[serde(default)]
        client_id: Option<String>,
        #[serde(default)]
        price: Option<String>,
        #[serde(default)]
        qty: Option<String>,
    },
    CancelOrder {
        account: u64,
        market: String,
        #[serde(default)]
        order_id: Option<u64>,
        #[serde(default)]
        client_id: Option<String>,
    },
    CancelAll {
        account: u64,
        #[serde(default)]
        market: Option<String>,
    },
    MassCancel {
        market: String,
    },
    Tick {},
    AdminAudit {
        actor: String,
        action: String,
        #[serde(default)]
        detail: String,
    },
    PlaceStop {
        account: u64,
        market: String,
        side: WireSide,
        stop_type: WireStopType,
        trigger_price: String,
        #[serde(default)]
        trigger_by: Option<WireTriggerBy>,
        #[serde(default)]
        price: Option<String>,
        qty: String,
        #[serde(default)]
        tif: Option<WireTif>,
        #[serde(default)]
        client_id: Option<String>,
        #[serde(default)]
        stp: Option<WireStp>,
        #[serde(default)]
        reduce_only: bool,
    },
    Deposit {
        account: u64,
        amount: String,
    },
    /// `fund`: `insurance:SYMBOL`, `shared_insurance` or `guaranty`.
    CapitaliseFund {
        fund: String,
        amount: String,
    },
    SetLiquidator {
        account: u64,
        active: bool,
    },
    SetMarginMode {
        account: u64,
        market: String,
        mode: WireMarginMode,
    },
    AdjustIsolatedMargin {
        account: u64,
        market: String,
        amount: String,
    },
    Halt {
        market: String,
    },
    Resume {
        market: String,
    },
    ScheduleParams {
        market: String,
        effective_at: i64,
        #[serde(default)]
        tiers: Option<Vec<WireTier>>,
        #[serde(default)]
        max_leverage: Option<u32>,
        #[serde(default)]
        maker_fee: Option<String>,
        #[serde(default)]
        taker_fee: Option<String>,
        #[serde(default)]
        funding_interval_hours: Option<i64>,
    },
    Delist {
        market: String,
        price: String,
    },
    Withdraw {
        account: u64,
        amount: String,
    },
    SetLeverage {
        account: u64,
        market: String,
        leverage: u32,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireSide {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireOrderType {
    Limit,
    Market,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireMarginMode {
    Cross,
    Isolated,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireStopType {
    StopMarket,
    StopLimit,
    TakeProfitMarket,
    TakeProfitLimit,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireTriggerBy {
    Mark,
    Last,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireTif {
    Gtc,
    Ioc,
    Fok,
    PostOnly,
}

// The variant names are the wire strings (`expire_taker`, …), Binance's names for the modes.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireStp {
    ExpireTaker,
    ExpireMaker,
    ExpireBoth,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireMarketSpec {
    symbol: String,
    tick_size: String,
    lot_size: String,
    min_qty: String,
    min_notional: String,
    max_leverage: u32,
    tiers: Vec<WireTier>,
    maker_fee: String,
    taker_fee: String,
    order_band: String,
    #[serde(default)]
    limits: Option<WireLimits>,
    #[serde(default)]
    oracle: Option<WireOracle>,
    #[serde(default)]
    funding: Option<WireFunding>,
    #[serde(default)]
    liquidation: Option<WireLiquidation>,
}

/// The liquidation section; every field optional (defaults in `LiquidationSpec::default`).
/// `shared_fund_max_draw` puts the market on the shared insurance fund with that cap.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLiquidation {
    #[serde(default)]
    fee_rate: Option<String>,
    #[serde(default)]
    buffer: Option<String>,
    #[serde(default)]
    backstop_discount: Option<String>,
    #[serde(default)]
    shared_fund_max_draw: Option<String>,
    #[serde(default)]
    adl: Option<String>,
    #[serde(default)]
    max_open_interest: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOracle {
    sources: Vec<WireSource>,
    #[serde(default)]
    staleness_ms: Option<i64>,
    #[serde(default)]
    outlier_band: Option<String>,
    #[serde(default)]
    quorum: Option<u32>,
    #[serde(default)]
    stale_grace_ms: Option<i64>,
    #[serde(default)]
    max_stale_ms: Option<i64>,
    #[serde(default)]
    mark_band: Option<String>,
    #[serde(default)]
    mark_basis_samples: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSource {
    name: String,
    #[serde(default)]
    weight: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFunding {
    #[serde(default)]
    interval_hours: Option<i64>,
    #[serde(default)]
    interest_8h: Option<String>,
    #[serde(default)]
    clamp: Option<String>,
    #[serde(default)]
    cap_8h: Option<String>,
    #[serde(default)]
    sample_period_ms: Option<i64>,
    #[serde(default)]
    impact_notional: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireTier {
    max_notional: String,
    max_leverage: u32,
    maintenance_rate: String,
    maintenance_amount: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLimits {
    max_open_orders_per_account: u32,
    max_price_levels: u32,
    max_stops_per_account: u32,
    max_order_qty: String,
}

fn malformed(msg: impl Into<String>) -> RejectReason {
    RejectReason::Malformed(msg.into())
}

/// Decodes one line. `Ok(None)` for a blank line or a `#` comment.
///
/// # Errors
/// A [`Refusal`] naming the first problem: malformed JSON or fields (1002), a bad number
/// (1003), an unknown market (2001), a price off the tick (3006), a size off the lot (3007), an
/// invalid client order id (3009).
pub fn decode_line(text: &str, engine: &Engine) -> Result<Option<Line>, Box<Refusal>> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let refuse = |reason, ts, account, client_id, market| Box::new(Refusal { reason, ts, account, client_id, market });
    let value: Value =
        serde_json::from_str(trimmed).map_err(|e| refuse(malformed(e.to_string()), None, None, None, None))?;
    let Value::Object(mut map) = value else {
        return Err(refuse(malformed("a line must be a JSON object"), None, None, None, None));
    };
    if map.contains_key("schema") {
        let header: Header = serde_json::from_value(Value::Object(map))
            .map_err(|e| refuse(malformed(e.to_string()), None, None, None, None))?;
        return Ok(Some(Line::Header(header)));
    }
    // What can be read of the sender before full decoding, to address a refusal.
    let account = map.get("account").and_then(Value::as_u64);
    let client_id = map.get("client_id").and_then(Value::as_str).map(str::to_owned);
    let market = map.get("market").and_then(Value::as_str).map(str::to_owned);
    let ts = match map.remove("ts") {
        Some(v) => v.as_i64().ok_or_else(|| {
            refuse(
                malformed("'ts' must be an integer (ms since the epoch)"),
                None,
                account,
                client_id.clone(),
                market.clone(),
            )
        })?,
        None => {
            return Err(refuse(malformed("missing field 'ts'"), None, account, client_id, market));
        }
    };
    let refuse_here = |reason| refuse(reason, Some(ts), account, client_id.clone(), market.clone());
    let kind: WireKind =
        serde_json::from_value(Value::Object(map)).map_err(|e| refuse_here(malformed(e.to_string())))?;
    let kind = to_kind(kind, engine).map_err(refuse_here)?;
    Ok(Some(Line::Command(Command { ts: Timestamp(ts), kind })))
}

/// Decodes one command given as a JSON object without its `ts` (the API server stamps time
/// itself), e.g. `{"type": "place_order", "account": 1, "market": "BTC-PERP", ...}`.
///
/// # Errors
/// The first problem, as for [`decode_line`].
pub fn decode_command(value: Value, ts: Timestamp, engine: &Engine) -> Result<Command, RejectReason> {
    parse_command(value)?.resolve(ts, engine)
}

/// A command in its JSON form, parsed and checked for shape but not yet resolved against an
/// engine (market symbols, tick and lot scales). Splitting [`decode_command`] in two lets a
/// server parse on its request threads and leave only [`ParsedCommand::resolve`] to the
/// engine thread; the result and every error are the same.
#[derive(Debug, Clone)]
pub struct ParsedCommand(Box<WireKind>);

/// The first half of [`decode_command`]: the shape (an object, no `ts`, a known `type`, known
/// fields of the right types).
///
/// # Errors
/// As [`decode_command`], for what needs no engine.
pub fn parse_command(value: Value) -> Result<ParsedCommand, RejectReason> {
    let Value::Object(map) = value else { return Err(malformed("a command must be a JSON object")) };
    if map.contains_key("ts") {
        return Err(malformed("unknown field 'ts': the server stamps the time"));
    }
    let kind: WireKind = serde_json::from_value(Value::Object(map)).map_err(|e| malformed(e.to_string()))?;
    Ok(ParsedCommand(Box::new(kind)))
}

impl ParsedCommand {
    /// A command whose shape was checked by another parser of this crate
    /// ([`crate::trade_message`]).
    pub(crate) fn from_kind(kind: WireKind) -> Self {
        Self(Box::new(kind))
    }

    /// The second half of [`decode_command`]: markets, prices and sizes against `engine`.
    ///
    /// # Errors
    /// As [`decode_command`], for what needs the engine.
    pub fn resolve<M: MarketSpecs + ?Sized>(self, ts: Timestamp, markets: &M) -> Result<Command, RejectReason> {
        Ok(Command { ts, kind: self.kind(markets)? })
    }

    /// The command's kind against `markets` (the engine, or a copy of its specifications).
    ///
    /// # Errors
    /// As [`decode_command`], for what needs the markets.
    pub fn kind<M: MarketSpecs + ?Sized>(self, markets: &M) -> Result<CommandKind, RejectReason> {
        to_kind(*self.0, markets)
    }
}

fn market_id<M: MarketSpecs + ?Sized>(markets: &M, symbol: &str) -> Result<MarketId, RejectReason> {
    named(markets, symbol).map(|m| m.id)
}

/// A market a command names: its id and specification.
#[derive(Clone, Copy)]
struct Named<'a> {
    id: MarketId,
    spec: &'a MarketSpec,
}

impl AsRef<MarketSpec> for Named<'_> {
    fn as_ref(&self) -> &MarketSpec {
        self.spec
    }
}

fn named<'a, M: MarketSpecs + ?Sized>(markets: &'a M, symbol: &str) -> Result<Named<'a>, RejectReason> {
    let (id, spec) = markets.by_symbol(symbol).ok_or_else(|| RejectReason::UnknownMarket(symbol.to_owned()))?;
    Ok(Named { id, spec })
}

fn client_order_id(text: &str) -> Result<ClientOrderId, RejectReason> {
    ClientOrderId::new(text).map_err(RejectReason::InvalidClientOrderId)
}

fn order_ref(order_id: Option<u64>, client_id: Option<String>) -> Result<OrderRef, RejectReason> {
    match (order_id, client_id) {
        (Some(id), None) => Ok(OrderRef::Id(OrderId(id))),
        (None, Some(c)) => Ok(OrderRef::Client(client_order_id(&c)?)),
        _ => Err(malformed("give exactly one of 'order_id' and 'client_id'")),
    }
}

fn to_kind<M: MarketSpecs + ?Sized>(kind: WireKind, markets: &M) -> Result<CommandKind, RejectReason> {
    Ok(match kind {
        WireKind::CreateMarket(spec) => CommandKind::CreateMarket(Box::new(to_spec(*spec)?)),
        WireKind::SetMark { market, price } => {
            let m = named(markets, &market)?;
            CommandKind::SetMark { market: m.id, price: parse_price(&m, &price)? }
        }
        WireKind::OraclePrice { market, source, price } => {
            let m = named(markets, &market)?;
            let id = m
                .spec
                .oracle
                .sources
                .iter()
                .position(|s| s.name == source)
                .and_then(|i| u16::try_from(i).ok())
                .ok_or(RejectReason::UnknownOracleSource(source))?;
            CommandKind::OraclePrice { market: m.id, source: id, price: parse_price(&m, &price)? }
        }
        WireKind::PlaceOrder { account, market, side, order_type, price, qty, tif, client_id, stp, reduce_only } => {
            let m = named(markets, &market)?;
            let order_type = match (order_type, price, tif) {
                (WireOrderType::Limit, Some(p), tif) => {
                    OrderType::Limit { price: parse_price(&m, &p)?, tif: to_tif(tif.unwrap_or(WireTif::Gtc)) }
                }
                (WireOrderType::Limit, None, _) => {
                    return Err(malformed("a limit order needs 'price'"));
                }
                (WireOrderType::Market, None, None) => OrderType::Market,
                (WireOrderType::Market, _, _) => {
                    return Err(malformed("a market order takes neither 'price' nor 'tif'"));
                }
            };
            CommandKind::PlaceOrder(NewOrder {
                account: AccountId(account),
                market: m.id,
                side: to_side(side),
                order_type,
                qty: parse_qty(&m, &qty)?,
                client_id: client_id.as_deref().map(client_order_id).transpose()?,
                stp: to_stp(stp),
                reduce_only,
            })
        }
        WireKind::AmendOrder { account, market, order_id, client_id, price, qty } => {
            let m = named(markets, &market)?;
            CommandKind::AmendOrder(Amend {
                account: AccountId(account),
                market: m.id,
                order: order_ref(order_id, client_id)?,
                price: price.map(|p| parse_price(&m, &p)).transpose()?,
                qty: qty.map(|q| parse_qty(&m, &q)).transpose()?,
            })
        }
        WireKind::CancelOrder { account, market, order_id, client_id } => CommandKind::CancelOrder {
            account: AccountId(account),
            market: market_id(markets, &market)?,
            order: order_ref(order_id, client_id)?,
        },
        WireKind::CancelAll { account, market } => CommandKind::CancelAll {
            account: AccountId(account),
            market: market.map(|s| market_id(markets, &s)).transpose()?,
        },
        WireKind::MassCancel { market } => CommandKind::MassCancel { market: market_id(markets, &market)? },
        WireKind::Tick {} => CommandKind::Tick,
        WireKind::AdminAudit { actor, action, detail } => CommandKind::AdminAudit { actor, action, detail },
        WireKind::PlaceStop {
            account,
            market,
            side,
            stop_type,
            trigger_price,
            trigger_by,
            price,
            qty,
            tif,
            client_id,
            stp,
            reduce_only,
        } => {
            let m = named(markets, &market)?;
            let limit = |price: Option<String>| -> Result<(Price, TimeInForce), RejectReason> {
                let p = price.ok_or_else(|| malformed("a limit stop needs 'price'"))?;
                Ok((parse_price(&m, &p)?, to_tif(tif.unwrap_or(WireTif::Gtc))))
            };
            let market_only = |price: &Option<String>| {
                if price.is_some() || tif.is_some() {
                    Err(malformed("a market stop takes neither 'price' nor 'tif'"))
                } else {
                    Ok(())
                }
            };
            let kind = match stop_type {
                WireStopType::StopMarket => market_only(&price).map(|()| StopKind::StopMarket)?,
                WireStopType::TakeProfitMarket => market_only(&price).map(|()| StopKind::TakeProfitMarket)?,
                WireStopType::StopLimit => {
                    let (price, tif) = limit(price)?;
                    StopKind::StopLimit { price, tif }
                }
                WireStopType::TakeProfitLimit => {
                    let (price, tif) = limit(price)?;
                    StopKind::TakeProfitLimit { price, tif }
                }
            };
            CommandKind::PlaceStop(NewStop {
                account: AccountId(account),
                market: m.id,
                side: to_side(side),
                kind,
                trigger: parse_price(&m, &trigger_price)?,
                trigger_by: match trigger_by.unwrap_or(WireTriggerBy::Mark) {
                    WireTriggerBy::Mark => TriggerBy::Mark,
                    WireTriggerBy::Last => TriggerBy::Last,
                },
                qty: parse_qty(&m, &qty)?,
                client_id: client_id.as_deref().map(client_order_id).transpose()?,
                stp: to_stp(stp),
                reduce_only,
            })
        }
        WireKind::SetMarginMode { account, market, mode } => CommandKind::SetMarginMode {
            account: AccountId(account),
            market: market_id(markets, &market)?,
            mode: match mode {
                WireMarginMode::Cross => MarginMode::Cross,
                WireMarginMode::Isolated => MarginMode::Isolated,
            },
        },
        WireKind::AdjustIsolatedMargin { account, market, amount } => CommandKind::AdjustIsolatedMargin {
            account: AccountId(account),
            market: market_id(markets, &market)?,
            amount: parse_quote("amount", &amount)?,
        },
        WireKind::Halt { market } => CommandKind::Halt { market: market_id(markets, &market)? },
        WireKind::Resume { market } => CommandKind::Resume { market: market_id(markets, &market)? },
        WireKind::ScheduleParams {
            market,
            effective_at,
            tiers,
            max_leverage,
            maker_fee,
            taker_fee,
            funding_interval_hours,
        } => CommandKind::ScheduleParams {
            market: market_id(markets, &market)?,
            effective_at: Timestamp(effective_at),
            change: Box::new(ParamChange {
                tiers: tiers.as_deref().map(to_tiers).transpose()?,
                max_leverage,
                maker_fee: maker_fee.map(|f| parse_rate("maker_fee", &f)).transpose()?,
                taker_fee: taker_fee.map(|f| parse_rate("taker_fee", &f)).transpose()?,
                funding_interval_ms: funding_interval_hours.map(hours_to_ms).transpose()?,
            }),
        },
        WireKind::Delist { market, price } => {
            let m = named(markets, &market)?;
            CommandKind::Delist { market: m.id, price: parse_price(&m, &price)? }
        }
        WireKind::Deposit { account, amount } => {
            CommandKind::Deposit { account: AccountId(account), amount: parse_quote("amount", &amount)? }
        }
        WireKind::CapitaliseFund { fund, amount } => {
            let fund = match fund.as_str() {
                "shared_insurance" => FundRef::Shared,
                "guaranty" => FundRef::Guaranty,
                other => match other.strip_prefix("insurance:") {
                    Some(symbol) => FundRef::Market(market_id(markets, symbol)?),
                    None => {
                        return Err(malformed(format!(
                            "fund '{other}' is not insurance:SYMBOL, shared_insurance or guaranty"
                        )));
                    }
                },
            };
            CommandKind::CapitaliseFund { fund, amount: parse_quote("amount", &amount)? }
        }
        WireKind::SetLiquidator { account, active } => {
            CommandKind::SetLiquidator { account: AccountId(account), active }
        }
        WireKind::Withdraw { account, amount } => {
            CommandKind::Withdraw { account: AccountId(account), amount: parse_quote("amount", &amount)? }
        }
        WireKind::SetLeverage { account, market, leverage } => {
            CommandKind::SetLeverage { account: AccountId(account), market: market_id(markets, &market)?, leverage }
        }
    })
}

fn to_side(s: WireSide) -> Side {
    match s {
        WireSide::Buy => Side::Buy,
        WireSide::Sell => Side::Sell,
    }
}

fn to_stp(s: Option<WireStp>) -> StpMode {
    match s.unwrap_or(WireStp::ExpireTaker) {
        WireStp::ExpireTaker => StpMode::ExpireTaker,
        WireStp::ExpireMaker => StpMode::ExpireMaker,
        WireStp::ExpireBoth => StpMode::ExpireBoth,
    }
}

fn to_tif(t: WireTif) -> TimeInForce {
    match t {
        WireTif::Gtc => TimeInForce::Gtc,
        WireTif::Ioc => TimeInForce::Ioc,
        WireTif::Fok => TimeInForce::Fok,
        WireTif::PostOnly => TimeInForce::PostOnly,
    }
}

fn decimal(field: &str, text: &str) -> Result<Decimal, RejectReason> {
    Decimal::parse(text).map_err(|e| RejectReason::InvalidNumber { field: field.into(), detail: e.to_string().into() })
}

fn to_spec(w: WireMarketSpec) -> Result<MarketSpec, RejectReason> {
    let lot_size = decimal("lot_size", &w.lot_size)?;
    if lot_size.mantissa <= 0 {
        return Err(RejectReason::InvalidMarketSpec("tick_size and lot_size must be positive".into()));
    }
    let tiers = to_tiers(&w.tiers)?;
    let limits = match w.limits {
        None => MarketLimits::default(),
        Some(l) => MarketLimits {
            max_open_orders_per_account: l.max_open_orders_per_account,
            max_price_levels: l.max_price_levels,
            max_stops_per_account: l.max_stops_per_account,
            max_order_qty: parse_qty_in(lot_size, "max_order_qty", &l.max_order_qty)?,
        },
    };
    Ok(MarketSpec {
        symbol: w.symbol,
        tick_size: decimal("tick_size", &w.tick_size)?,
        lot_size,
        min_qty: parse_qty_in(lot_size, "min_qty", &w.min_qty)?,
        min_notional: parse_quote("min_notional", &w.min_notional)?,
        max_leverage: w.max_leverage,
        tiers,
        maker_fee: parse_rate("maker_fee", &w.maker_fee)?,
        taker_fee: parse_rate("taker_fee", &w.taker_fee)?,
        order_band: parse_rate("order_band", &w.order_band)?,
        limits,
        oracle: w.oracle.map(to_oracle).transpose()?.unwrap_or_default(),
        funding: w.funding.map(to_funding).transpose()?.unwrap_or_default(),
        liquidation: w.liquidation.map(|l| to_liquidation(l, lot_size)).transpose()?.unwrap_or_default(),
    })
}

fn to_liquidation(w: WireLiquidation, lot_size: Decimal) -> Result<LiquidationSpec, RejectReason> {
    let d = LiquidationSpec::default();
    let rate = |field: &str, v: Option<String>, default: Rate| {
        v.map(|r| parse_rate(field, &r)).transpose().map(|r| r.unwrap_or(default))
    };
    Ok(LiquidationSpec {
        fee_rate: rate("fee_rate", w.fee_rate, d.fee_rate)?,
        buffer: rate("buffer", w.buffer, d.buffer)?,
        backstop_discount: rate("backstop_discount", w.backstop_discount, d.backstop_discount)?,
        insurance: match w.shared_fund_max_draw {
            None => InsurancePolicy::Own,
            Some(q) => InsurancePolicy::Shared { max_draw: parse_quote("shared_fund_max_draw", &q)? },
        },
        adl: match w.adl.as_deref() {
            None | Some("queue") => AdlPolicy::Queue,
            Some("pro_rata") => AdlPolicy::ProRata,
            Some("leverage_drain") => AdlPolicy::LeverageDrain,
            Some(other) => {
                return Err(malformed(format!(
                    "liquidation.adl: unknown policy '{other}' (queue, pro_rata, leverage_drain)"
                )));
            }
        },
        max_open_interest: w.max_open_interest.map(|q| parse_qty_in(lot_size, "max_open_interest", &q)).transpose()?,
    })
}

/// Hours (1, 4 or 8 — the engine checks which) to ms.
fn hours_to_ms(hours: i64) -> Result<i64, RejectReason> {
    hours
        .checked_mul(HOUR_MS)
        .ok_or_else(|| RejectReason::InvalidNumber { field: "interval_hours".into(), detail: "too large".into() })
}

fn to_oracle(w: WireOracle) -> Result<OracleSpec, RejectReason> {
    let d = OracleSpec::default();
    Ok(OracleSpec {
        sources: w.sources.into_iter().map(|s| OracleSource { name: s.name, weight: s.weight.unwrap_or(1) }).collect(),
        staleness_ms: w.staleness_ms.unwrap_or(d.staleness_ms),
        outlier_band: w.outlier_band.map(|r| parse_rate("outlier_band", &r)).transpose()?.unwrap_or(d.outlier_band),
        quorum: w.quorum,
        stale_grace_ms: w.stale_grace_ms.unwrap_or(d.stale_grace_ms),
        max_stale_ms: w.max_stale_ms.unwrap_or(d.max_stale_ms),
        mark_band: w.mark_band.map(|r| parse_rate("mark_band", &r)).transpose()?.unwrap_or(d.mark_band),
        mark_basis_samples: w.mark_basis_samples.unwrap_or(d.mark_basis_samples),
    })
}

fn to_funding(w: WireFunding) -> Result<FundingSpec, RejectReason> {
    let d = FundingSpec::default();
    Ok(FundingSpec {
        interval_ms: w.interval_hours.map(hours_to_ms).transpose()?.unwrap_or(d.interval_ms),
        interest_8h: w.interest_8h.map(|r| parse_rate("interest_8h", &r)).transpose()?.unwrap_or(d.interest_8h),
        clamp: w.clamp.map(|r| parse_rate("clamp", &r)).transpose()?.unwrap_or(d.clamp),
        cap_8h: w.cap_8h.map(|r| parse_rate("cap_8h", &r)).transpose()?,
        sample_period_ms: w.sample_period_ms.unwrap_or(d.sample_period_ms),
        impact_notional: w.impact_notional.map(|n| parse_quote("impact_notional", &n)).transpose()?,
    })
}

fn to_tiers(tiers: &[WireTier]) -> Result<Vec<MarginTier>, RejectReason> {
    tiers
        .iter()
        .map(|t| {
            Ok(MarginTier {
                max_notional: parse_quote("max_notional", &t.max_notional)?,
                max_leverage: t.max_leverage,
                maintenance_rate: parse_rate("maintenance_rate", &t.maintenance_rate)?,
                maintenance_amount: parse_quote("maintenance_amount", &t.maintenance_amount)?,
            })
        })
        .collect()
}
