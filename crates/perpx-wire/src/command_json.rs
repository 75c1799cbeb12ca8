//! Engine commands → JSON command lines: the inverse of [`crate::command::decode_line`].
//!
//! `perpx proof` shows a journaled command in the replay schema (`docs/REPLAY.md`), so that it
//! reads like the request that produced it and can be fed back to `perpx replay`. Markets are
//! named by symbol and numbers are decimal strings in the market's tick and lot, so the engine
//! is needed for its markets. Every optional section of a market specification is written out
//! in full: the line decodes to exactly the same command (a test checks every line of every
//! example script).
//!
//! A command the schema cannot express — one naming a market or oracle source the engine does
//! not know, a funding interval that is not a whole number of hours, a number no decimal string
//! of its field can carry (`i64::MIN` micro-units) — has no line (`None`): every line given is
//! decoded back and compared with the command before it is returned.

use perpx_core::account::MarginMode;
use perpx_core::command::{Amend, NewOrder, NewStop, OrderRef, OrderType, ParamChange, StpMode, TimeInForce};
use perpx_core::event::FundRef;
use perpx_core::market::{HOUR_MS, InsurancePolicy, Market, MarketSpec};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{Command, CommandKind, Engine, MarginTier, MarketId, Side};
use serde_json::{Map, Value, json};

use crate::command::{Line, decode_line};
use crate::units::{format_price, format_qty, format_quote, format_rate, format_units};

/// The JSON line of `cmd` (with `ts` and `type`), or `None` if the schema cannot express it.
/// `engine` names the markets: any engine that holds them (before or after the command).
#[must_use]
pub fn command_line(cmd: &Command, engine: &Engine) -> Option<Value> {
    let (kind, fields) = fields(&cmd.kind, engine)?;
    let mut line = Map::new();
    line.insert("ts".into(), json!(cmd.ts.0));
    line.insert("type".into(), json!(kind));
    line.extend(fields);
    let line = Value::Object(line);
    match decode_line(&line.to_string(), engine) {
        Ok(Some(Line::Command(back))) if back == *cmd => Some(line),
        _ => None,
    }
}

type Fields = Map<String, Value>;

fn obj(v: Value) -> Fields {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
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

fn hours(ms: i64) -> Option<i64> {
    (ms % HOUR_MS == 0).then_some(ms / HOUR_MS)
}

/// Adds `order_id` or `client_id`.
fn order_ref(f: &mut Fields, o: &OrderRef) {
    match o {
        OrderRef::Id(id) => f.insert("order_id".into(), json!(id.0)),
        OrderRef::Client(c) => f.insert("client_id".into(), json!(c.as_str())),
    };
}

fn tiers(ts: &[MarginTier]) -> Value {
    ts.iter()
        .map(|t| {
            json!({
                "max_notional": format_quote(t.max_notional),
                "max_leverage": t.max_leverage,
                "maintenance_rate": format_rate(t.maintenance_rate),
                "maintenance_amount": format_quote(t.maintenance_amount),
            })
        })
        .collect()
}

fn spec(s: &MarketSpec) -> Option<Fields> {
    let lot = s.lot_size;
    let o = &s.oracle;
    let f = &s.funding;
    let l = &s.liquidation;
    let mut oracle = obj(json!({
        "sources": o.sources.iter().map(|s| json!({ "name": s.name, "weight": s.weight })).collect::<Vec<_>>(),
        "staleness_ms": o.staleness_ms,
        "outlier_band": format_rate(o.outlier_band),
        "stale_grace_ms": o.stale_grace_ms,
        "max_stale_ms": o.max_stale_ms,
        "mark_band": format_rate(o.mark_band),
        "mark_basis_samples": o.mark_basis_samples,
    }));
    if let Some(q) = o.quorum {
        oracle.insert("quorum".into(), json!(q));
    }
    let mut funding = obj(json!({
        "interval_hours": hours(f.interval_ms)?,
        "interest_8h": format_rate(f.interest_8h),
        "clamp": format_rate(f.clamp),
        "sample_period_ms": f.sample_period_ms,
    }));
    if let Some(c) = f.cap_8h {
        funding.insert("cap_8h".into(), json!(format_rate(c)));
    }
    if let Some(n) = f.impact_notional {
        funding.insert("impact_notional".into(), json!(format_quote(n)));
    }
    let mut liquidation = obj(json!({
        "fee_rate": format_rate(l.fee_rate),
        "buffer": format_rate(l.buffer),
        "backstop_discount": format_rate(l.backstop_discount),
        "adl": l.adl.name(),
    }));
    if let InsurancePolicy::Shared { max_draw } = l.insurance {
        liquidation.insert("shared_fund_max_draw".into(), json!(format_quote(max_draw)));
    }
    if let Some(q) = l.max_open_interest {
        liquidation.insert("max_open_interest".into(), json!(format_units(q.0, lot)));
    }
    Some(obj(json!({
        "symbol": s.symbol,
        "tick_size": s.tick_size.to_string(),
        "lot_size": lot.to_string(),
        "min_qty": format_units(s.min_qty.0, lot),
        "min_notional": format_quote(s.min_notional),
        "max_leverage": s.max_leverage,
        "tiers": tiers(&s.tiers),
        "maker_fee": format_rate(s.maker_fee),
        "taker_fee": format_rate(s.taker_fee),
        "order_band": format_rate(s.order_band),
        "limits": {
            "max_open_orders_per_account": s.limits.max_open_orders_per_account,
            "max_price_levels": s.limits.max_price_levels,
            "max_stops_per_account": s.limits.max_stops_per_account,
            "max_order_qty": format_units(s.limits.max_order_qty.0, lot),
        },
        "oracle": oracle,
        "funding": funding,
        "liquidation": liquidation,
    })))
}

fn change(f: &mut Fields, c: &ParamChange) -> Option<()> {
    if let Some(t) = &c.tiers {
        f.insert("tiers".into(), tiers(t));
    }
    if let Some(l) = c.max_leverage {
        f.insert("max_leverage".into(), json!(l));
    }
    if let Some(r) = c.maker_fee {
        f.insert("maker_fee".into(), json!(format_rate(r)));
    }
    if let Some(r) = c.taker_fee {
        f.insert("taker_fee".into(), json!(format_rate(r)));
    }
    if let Some(ms) = c.funding_interval_ms {
        f.insert("funding_interval_hours".into(), json!(hours(ms)?));
    }
    Some(())
}

#[allow(clippy::too_many_lines)] // one arm per command kind
fn fields(kind: &CommandKind, engine: &Engine) -> Option<(&'static str, Fields)> {
    let market = |id: MarketId| -> Option<&Market> { engine.market(id) };
    let sym = |id: MarketId| market(id).map(|m| m.spec.symbol.clone());
    Some(match kind {
        CommandKind::CreateMarket(s) => ("create_market", spec(s)?),
        CommandKind::SetMark { market: id, price } => {
            let m = market(*id)?;
            ("set_mark", obj(json!({ "market": m.spec.symbol, "price": format_price(m, *price) })))
        }
        CommandKind::OraclePrice { market: id, source, price } => {
            let m = market(*id)?;
            let name = m.spec.oracle.sources.get(usize::from(*source))?.name.clone();
            ("oracle_price", obj(json!({ "market": m.spec.symbol, "source": name, "price": format_price(m, *price) })))
        }
        CommandKind::SetLiquidator { account, active } => {
            ("set_liquidator", obj(json!({ "account": account.0, "active": active })))
        }
        CommandKind::CapitaliseFund { fund, amount } => {
            let fund = match fund {
                FundRef::Market(id) => format!("insurance:{}", sym(*id)?),
                FundRef::Shared => "shared_insurance".into(),
                FundRef::Guaranty => "guaranty".into(),
            };
            ("capitalise_fund", obj(json!({ "fund": fund, "amount": format_quote(*amount) })))
        }
        CommandKind::PlaceOrder(NewOrder {
            account,
            market: id,
            side: s,
            order_type,
            qty,
            client_id,
            stp: mode,
            reduce_only,
        }) => {
            let m = market(*id)?;
            let mut f = obj(json!({
                "account": account.0,
                "market": m.spec.symbol,
                "side": side(*s),
                "qty": format_qty(m, *qty),
                "stp": stp(*mode),
                "reduce_only": reduce_only,
            }));
            match order_type {
                OrderType::Market => f.insert("order_type".into(), json!("market")),
                OrderType::Limit { price, tif: t } => {
                    f.insert("price".into(), json!(format_price(m, *price)));
                    f.insert("tif".into(), json!(tif(*t)));
                    f.insert("order_type".into(), json!("limit"))
                }
            };
            if let Some(c) = client_id {
                f.insert("client_id".into(), json!(c.as_str()));
            }
            ("place_order", f)
        }
        CommandKind::AmendOrder(Amend { account, market: id, order, price, qty }) => {
            let m = market(*id)?;
            let mut f = obj(json!({ "account": account.0, "market": m.spec.symbol }));
            order_ref(&mut f, order);
            if let Some(p) = price {
                f.insert("price".into(), json!(format_price(m, *p)));
            }
            if let Some(q) = qty {
                f.insert("qty".into(), json!(format_qty(m, *q)));
            }
            ("amend_order", f)
        }
        CommandKind::CancelOrder { account, market: id, order } => {
            let mut f = obj(json!({ "account": account.0, "market": sym(*id)? }));
            order_ref(&mut f, order);
            ("cancel_order", f)
        }
        CommandKind::CancelAll { account, market: id } => {
            let mut f = obj(json!({ "account": account.0 }));
            if let Some(id) = id {
                f.insert("market".into(), json!(sym(*id)?));
            }
            ("cancel_all", f)
        }
        CommandKind::MassCancel { market: id } => ("mass_cancel", obj(json!({ "market": sym(*id)? }))),
        CommandKind::Tick => ("tick", Map::new()),
        CommandKind::AdminAudit { actor, action, detail } => {
            ("admin_audit", obj(json!({ "actor": actor, "action": action, "detail": detail })))
        }
        CommandKind::Deposit { account, amount } => {
            ("deposit", obj(json!({ "account": account.0, "amount": format_quote(*amount) })))
        }
        CommandKind::Withdraw { account, amount } => {
            ("withdraw", obj(json!({ "account": account.0, "amount": format_quote(*amount) })))
        }
        CommandKind::PlaceStop(NewStop {
            account,
            market: id,
            side: s,
            kind,
            trigger,
            trigger_by,
            qty,
            client_id,
            stp: mode,
            reduce_only,
        }) => {
            let m = market(*id)?;
            let (stop_type, limit) = match kind {
                StopKind::StopMarket => ("stop_market", None),
                StopKind::TakeProfitMarket => ("take_profit_market", None),
                StopKind::StopLimit { price, tif: t } => ("stop_limit", Some((*price, *t))),
                StopKind::TakeProfitLimit { price, tif: t } => ("take_profit_limit", Some((*price, *t))),
            };
            let mut f = obj(json!({
                "account": account.0,
                "market": m.spec.symbol,
                "side": side(*s),
                "stop_type": stop_type,
                "trigger_price": format_price(m, *trigger),
                "trigger_by": match trigger_by { TriggerBy::Mark => "mark", TriggerBy::Last => "last" },
                "qty": format_qty(m, *qty),
                "stp": stp(*mode),
                "reduce_only": reduce_only,
            }));
            if let Some((price, t)) = limit {
                f.insert("price".into(), json!(format_price(m, price)));
                f.insert("tif".into(), json!(tif(t)));
            }
            if let Some(c) = client_id {
                f.insert("client_id".into(), json!(c.as_str()));
            }
            ("place_stop", f)
        }
        CommandKind::Halt { market: id } => ("halt", obj(json!({ "market": sym(*id)? }))),
        CommandKind::Resume { market: id } => ("resume", obj(json!({ "market": sym(*id)? }))),
        CommandKind::ScheduleParams { market: id, effective_at, change: c } => {
            let mut f = obj(json!({ "market": sym(*id)?, "effective_at": effective_at.0 }));
            change(&mut f, c)?;
            ("schedule_params", f)
        }
        CommandKind::Delist { market: id, price } => {
            let m = market(*id)?;
            ("delist", obj(json!({ "market": m.spec.symbol, "price": format_price(m, *price) })))
        }
        CommandKind::SetMarginMode { account, market: id, mode } => {
            let mode = match mode {
                MarginMode::Cross => "cross",
                MarginMode::Isolated => "isolated",
            };
            ("set_margin_mode", obj(json!({ "account": account.0, "market": sym(*id)?, "mode": mode })))
        }
        CommandKind::AdjustIsolatedMargin { account, market: id, amount } => (
            "adjust_isolated_margin",
            obj(json!({ "account": account.0, "market": sym(*id)?, "amount": format_quote(*amount) })),
        ),
        CommandKind::SetLeverage { account, market: id, leverage } => {
            ("set_leverage", obj(json!({ "account": account.0, "market": sym(*id)?, "leverage": leverage })))
        }
    })
}
