//! Encodings of the engine's small types and of market specifications, shared by the command,
//! event and snapshot codecs. Every enumeration has explicit tags, written down here once:
//! reordering or adding variants in `perpx-core` never changes an existing encoding (a new
//! variant fails to compile here until it gets its own tag).

use perpx_core::account::MarginMode;
use perpx_core::command::{OrderRef, OrderType, ParamChange, StpMode, TimeInForce};
use perpx_core::event::{CancelReason, FundRef, LiquidationScope, OrderStatus};
use perpx_core::market::{
    AdlPolicy, FundingSpec, InsurancePolicy, LiquidationSpec, MarketStatus, OracleSource, OracleSpec, OracleStage,
    SourceStatus,
};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{
    AccountId, ClientOrderId, Decimal, MarginTier, MarketId, MarketLimits, MarketSpec, OrderId, Price, Qty, Quote,
    Rate, Side, Timestamp,
};

use super::bytes::{DecodeError, Reader, Writer, unknown};

pub(crate) type R<T> = Result<T, DecodeError>;

// ---- ids and units ----------------------------------------------------------------------

pub(crate) fn get_account(r: &mut Reader<'_>) -> R<AccountId> {
    r.u64("account id").map(AccountId)
}

pub(crate) fn get_market(r: &mut Reader<'_>) -> R<MarketId> {
    r.u32("market id").map(MarketId)
}

pub(crate) fn get_order_id(r: &mut Reader<'_>) -> R<OrderId> {
    r.u64("order id").map(OrderId)
}

pub(crate) fn get_price(r: &mut Reader<'_>) -> R<Price> {
    r.i64("price").map(Price)
}

pub(crate) fn get_qty(r: &mut Reader<'_>) -> R<Qty> {
    r.i64("size").map(Qty)
}

pub(crate) fn get_quote(r: &mut Reader<'_>) -> R<Quote> {
    r.i64("amount").map(Quote)
}

pub(crate) fn get_rate(r: &mut Reader<'_>) -> R<Rate> {
    r.i64("rate").map(Rate)
}

pub(crate) fn get_ts(r: &mut Reader<'_>) -> R<Timestamp> {
    r.i64("timestamp").map(Timestamp)
}

pub(crate) fn put_client_id(w: &mut Writer<'_>, id: &ClientOrderId) {
    w.text_bytes(id.as_bytes());
}

/// A client order id, checked against the id rules (1–36 characters of `A–Z a–z 0–9 . : / _ -`).
pub(crate) fn get_client_id(r: &mut Reader<'_>) -> R<ClientOrderId> {
    let offset = r.offset();
    let text = r.str_ref("client order id")?;
    ClientOrderId::new(text).map_err(|bad| DecodeError::Invalid {
        what: "client order id",
        offset,
        detail: format!("'{bad}' breaks the client order id rules"),
    })
}

pub(crate) fn put_opt_client_id(w: &mut Writer<'_>, id: Option<&ClientOrderId>) {
    w.opt(id, put_client_id);
}

pub(crate) fn get_opt_client_id(r: &mut Reader<'_>) -> R<Option<ClientOrderId>> {
    r.opt("client order id", get_client_id)
}

pub(crate) fn put_decimal(w: &mut Writer<'_>, d: Decimal) {
    w.i64(d.mantissa).u8(d.scale);
}

pub(crate) fn get_decimal(r: &mut Reader<'_>) -> R<Decimal> {
    Ok(Decimal::new(r.i64("decimal mantissa")?, r.u8("decimal scale")?))
}

// ---- small enumerations -----------------------------------------------------------------

/// Buy 0, sell 1.
pub(crate) fn side_tag(s: Side) -> u8 {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

pub(crate) fn get_side(r: &mut Reader<'_>) -> R<Side> {
    match r.tag("side")? {
        (0, _) => Ok(Side::Buy),
        (1, _) => Ok(Side::Sell),
        (t, at) => Err(unknown("side", t, at)),
    }
}

/// GTC 0, IOC 1, FOK 2, post-only 3.
pub(crate) fn tif_tag(t: TimeInForce) -> u8 {
    match t {
        TimeInForce::Gtc => 0,
        TimeInForce::Ioc => 1,
        TimeInForce::Fok => 2,
        TimeInForce::PostOnly => 3,
    }
}

pub(crate) fn get_tif(r: &mut Reader<'_>) -> R<TimeInForce> {
    match r.tag("time in force")? {
        (0, _) => Ok(TimeInForce::Gtc),
        (1, _) => Ok(TimeInForce::Ioc),
        (2, _) => Ok(TimeInForce::Fok),
        (3, _) => Ok(TimeInForce::PostOnly),
        (t, at) => Err(unknown("time in force", t, at)),
    }
}

/// Expire taker 0, expire maker 1, expire both 2.
pub(crate) fn stp_tag(s: StpMode) -> u8 {
    match s {
        StpMode::ExpireTaker => 0,
        StpMode::ExpireMaker => 1,
        StpMode::ExpireBoth => 2,
    }
}

pub(crate) fn get_stp(r: &mut Reader<'_>) -> R<StpMode> {
    match r.tag("self-trade prevention mode")? {
        (0, _) => Ok(StpMode::ExpireTaker),
        (1, _) => Ok(StpMode::ExpireMaker),
        (2, _) => Ok(StpMode::ExpireBoth),
        (t, at) => Err(unknown("self-trade prevention mode", t, at)),
    }
}

/// Market 0; limit 1, price, time in force.
pub(crate) fn put_order_type(w: &mut Writer<'_>, t: OrderType) {
    match t {
        OrderType::Market => {
            w.u8(0);
        }
        OrderType::Limit { price, tif } => {
            w.u8(1).i64(price.0).u8(tif_tag(tif));
        }
    }
}

pub(crate) fn get_order_type(r: &mut Reader<'_>) -> R<OrderType> {
    match r.tag("order type")? {
        (0, _) => Ok(OrderType::Market),
        (1, _) => Ok(OrderType::Limit { price: get_price(r)?, tif: get_tif(r)? }),
        (t, at) => Err(unknown("order type", t, at)),
    }
}

/// By id 0 (u64); by client id 1 (string).
pub(crate) fn put_order_ref(w: &mut Writer<'_>, o: &OrderRef) {
    match o {
        OrderRef::Id(id) => {
            w.u8(0).u64(id.0);
        }
        OrderRef::Client(c) => {
            w.u8(1);
            put_client_id(w, c);
        }
    }
}

pub(crate) fn get_order_ref(r: &mut Reader<'_>) -> R<OrderRef> {
    match r.tag("order reference")? {
        (0, _) => Ok(OrderRef::Id(get_order_id(r)?)),
        (1, _) => Ok(OrderRef::Client(get_client_id(r)?)),
        (t, at) => Err(unknown("order reference", t, at)),
    }
}

/// Stop market 0; stop limit 1, price, tif; take-profit market 2; take-profit limit 3, price, tif.
pub(crate) fn put_stop_kind(w: &mut Writer<'_>, k: StopKind) {
    match k {
        StopKind::StopMarket => {
            w.u8(0);
        }
        StopKind::StopLimit { price, tif } => {
            w.u8(1).i64(price.0).u8(tif_tag(tif));
        }
        StopKind::TakeProfitMarket => {
            w.u8(2);
        }
        StopKind::TakeProfitLimit { price, tif } => {
            w.u8(3).i64(price.0).u8(tif_tag(tif));
        }
    }
}

pub(crate) fn get_stop_kind(r: &mut Reader<'_>) -> R<StopKind> {
    match r.tag("stop type")? {
        (0, _) => Ok(StopKind::StopMarket),
        (1, _) => Ok(StopKind::StopLimit { price: get_price(r)?, tif: get_tif(r)? }),
        (2, _) => Ok(StopKind::TakeProfitMarket),
        (3, _) => Ok(StopKind::TakeProfitLimit { price: get_price(r)?, tif: get_tif(r)? }),
        (t, at) => Err(unknown("stop type", t, at)),
    }
}

/// Mark 0, last 1.
pub(crate) fn trigger_by_tag(t: TriggerBy) -> u8 {
    match t {
        TriggerBy::Mark => 0,
        TriggerBy::Last => 1,
    }
}

pub(crate) fn get_trigger_by(r: &mut Reader<'_>) -> R<TriggerBy> {
    match r.tag("trigger reference")? {
        (0, _) => Ok(TriggerBy::Mark),
        (1, _) => Ok(TriggerBy::Last),
        (t, at) => Err(unknown("trigger reference", t, at)),
    }
}

/// Cross 0, isolated 1.
pub(crate) fn margin_mode_tag(m: MarginMode) -> u8 {
    match m {
        MarginMode::Cross => 0,
        MarginMode::Isolated => 1,
    }
}

pub(crate) fn get_margin_mode(r: &mut Reader<'_>) -> R<MarginMode> {
    match r.tag("margin mode")? {
        (0, _) => Ok(MarginMode::Cross),
        (1, _) => Ok(MarginMode::Isolated),
        (t, at) => Err(unknown("margin mode", t, at)),
    }
}

/// A market's insurance fund 0 (market id); the shared fund 1; the guaranty fund 2.
pub(crate) fn put_fund(w: &mut Writer<'_>, f: FundRef) {
    match f {
        FundRef::Market(m) => {
            w.u8(0).u32(m.0);
        }
        FundRef::Shared => {
            w.u8(1);
        }
        FundRef::Guaranty => {
            w.u8(2);
        }
    }
}

pub(crate) fn get_fund(r: &mut Reader<'_>) -> R<FundRef> {
    match r.tag("fund")? {
        (0, _) => Ok(FundRef::Market(get_market(r)?)),
        (1, _) => Ok(FundRef::Shared),
        (2, _) => Ok(FundRef::Guaranty),
        (t, at) => Err(unknown("fund", t, at)),
    }
}

/// Cross 0; isolated 1 (market id).
pub(crate) fn put_scope(w: &mut Writer<'_>, s: LiquidationScope) {
    match s {
        LiquidationScope::Cross => {
            w.u8(0);
        }
        LiquidationScope::Isolated(m) => {
            w.u8(1).u32(m.0);
        }
    }
}

pub(crate) fn get_scope(r: &mut Reader<'_>) -> R<LiquidationScope> {
    match r.tag("liquidation scope")? {
        (0, _) => Ok(LiquidationScope::Cross),
        (1, _) => Ok(LiquidationScope::Isolated(get_market(r)?)),
        (t, at) => Err(unknown("liquidation scope", t, at)),
    }
}

/// The cancel reasons, 0–10 in the order of `docs/REPLAY.md`.
pub(crate) fn cancel_reason_tag(c: CancelReason) -> u8 {
    match c {
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

pub(crate) fn get_cancel_reason(r: &mut Reader<'_>) -> R<CancelReason> {
    Ok(match r.tag("cancel reason")? {
        (0, _) => CancelReason::UserRequest,
        (1, _) => CancelReason::CancelAll,
        (2, _) => CancelReason::MassCancel,
        (3, _) => CancelReason::IocRemainder,
        (4, _) => CancelReason::MarketRemainder,
        (5, _) => CancelReason::SelfTradePrevention,
        (6, _) => CancelReason::ReduceOnly,
        (7, _) => CancelReason::TriggerRejected,
        (8, _) => CancelReason::Delisted,
        (9, _) => CancelReason::Liquidation,
        (10, _) => CancelReason::Deleveraged,
        (t, at) => return Err(unknown("cancel reason", t, at)),
    })
}

/// Open 0; filled 1; cancelled 2 (reason).
pub(crate) fn put_order_status(w: &mut Writer<'_>, s: OrderStatus) {
    match s {
        OrderStatus::Open => {
            w.u8(0);
        }
        OrderStatus::Filled => {
            w.u8(1);
        }
        OrderStatus::Cancelled(reason) => {
            w.u8(2).u8(cancel_reason_tag(reason));
        }
    }
}

pub(crate) fn get_order_status(r: &mut Reader<'_>) -> R<OrderStatus> {
    match r.tag("order status")? {
        (0, _) => Ok(OrderStatus::Open),
        (1, _) => Ok(OrderStatus::Filled),
        (2, _) => Ok(OrderStatus::Cancelled(get_cancel_reason(r)?)),
        (t, at) => Err(unknown("order status", t, at)),
    }
}

/// Queue 0, pro rata 1, leverage drain 2.
pub(crate) fn adl_tag(a: AdlPolicy) -> u8 {
    match a {
        AdlPolicy::Queue => 0,
        AdlPolicy::ProRata => 1,
        AdlPolicy::LeverageDrain => 2,
    }
}

pub(crate) fn get_adl(r: &mut Reader<'_>) -> R<AdlPolicy> {
    match r.tag("ADL policy")? {
        (0, _) => Ok(AdlPolicy::Queue),
        (1, _) => Ok(AdlPolicy::ProRata),
        (2, _) => Ok(AdlPolicy::LeverageDrain),
        (t, at) => Err(unknown("ADL policy", t, at)),
    }
}

/// Live 0, stale 1, reduce-only 2, halted 3.
pub(crate) fn oracle_stage_tag(s: OracleStage) -> u8 {
    match s {
        OracleStage::Live => 0,
        OracleStage::Stale => 1,
        OracleStage::ReduceOnly => 2,
        OracleStage::Halted => 3,
    }
}

pub(crate) fn get_oracle_stage(r: &mut Reader<'_>) -> R<OracleStage> {
    match r.tag("oracle stage")? {
        (0, _) => Ok(OracleStage::Live),
        (1, _) => Ok(OracleStage::Stale),
        (2, _) => Ok(OracleStage::ReduceOnly),
        (3, _) => Ok(OracleStage::Halted),
        (t, at) => Err(unknown("oracle stage", t, at)),
    }
}

/// Missing 0, used 1, stale 2, outlier 3.
pub(crate) fn source_status_tag(s: SourceStatus) -> u8 {
    match s {
        SourceStatus::Missing => 0,
        SourceStatus::Used => 1,
        SourceStatus::Stale => 2,
        SourceStatus::Outlier => 3,
    }
}

pub(crate) fn get_source_status(r: &mut Reader<'_>) -> R<SourceStatus> {
    match r.tag("oracle source status")? {
        (0, _) => Ok(SourceStatus::Missing),
        (1, _) => Ok(SourceStatus::Used),
        (2, _) => Ok(SourceStatus::Stale),
        (3, _) => Ok(SourceStatus::Outlier),
        (t, at) => Err(unknown("oracle source status", t, at)),
    }
}

/// Active 0, halted 1, delisted 2.
pub(crate) fn market_status_tag(s: MarketStatus) -> u8 {
    match s {
        MarketStatus::Active => 0,
        MarketStatus::Halted => 1,
        MarketStatus::Delisted => 2,
    }
}

pub(crate) fn get_market_status(r: &mut Reader<'_>) -> R<MarketStatus> {
    match r.tag("market status")? {
        (0, _) => Ok(MarketStatus::Active),
        (1, _) => Ok(MarketStatus::Halted),
        (2, _) => Ok(MarketStatus::Delisted),
        (t, at) => Err(unknown("market status", t, at)),
    }
}

// ---- market specifications ----------------------------------------------------------------

/// A margin tier: max notional, max leverage, maintenance rate, maintenance amount.
pub(crate) fn put_tier(w: &mut Writer<'_>, t: &MarginTier) {
    let MarginTier { max_notional, max_leverage, maintenance_rate, maintenance_amount } = t;
    w.i64(max_notional.0).u32(*max_leverage).i64(maintenance_rate.0).i64(maintenance_amount.0);
}

pub(crate) fn get_tier(r: &mut Reader<'_>) -> R<MarginTier> {
    Ok(MarginTier {
        max_notional: get_quote(r)?,
        max_leverage: r.u32("max leverage")?,
        maintenance_rate: get_rate(r)?,
        maintenance_amount: get_quote(r)?,
    })
}

/// The whole specification, every section in declaration order (see `docs/JOURNAL.md`).
pub(crate) fn put_spec(w: &mut Writer<'_>, s: &MarketSpec) {
    let MarketSpec {
        symbol,
        tick_size,
        lot_size,
        min_qty,
        min_notional,
        max_leverage,
        tiers,
        maker_fee,
        taker_fee,
        order_band,
        limits,
        oracle,
        funding,
        liquidation,
    } = s;
    w.str(symbol);
    put_decimal(w, *tick_size);
    put_decimal(w, *lot_size);
    w.i64(min_qty.0).i64(min_notional.0).u32(*max_leverage);
    w.list(tiers, |w, t| put_tier(w, t));
    w.i64(maker_fee.0).i64(taker_fee.0).i64(order_band.0);
    let MarketLimits { max_open_orders_per_account, max_price_levels, max_stops_per_account, max_order_qty } = limits;
    w.u32(*max_open_orders_per_account).u32(*max_price_levels).u32(*max_stops_per_account).i64(max_order_qty.0);
    put_oracle_spec(w, oracle);
    put_funding_spec(w, funding);
    put_liquidation_spec(w, liquidation);
}

pub(crate) fn get_spec(r: &mut Reader<'_>) -> R<MarketSpec> {
    Ok(MarketSpec {
        symbol: r.str("symbol")?,
        tick_size: get_decimal(r)?,
        lot_size: get_decimal(r)?,
        min_qty: get_qty(r)?,
        min_notional: get_quote(r)?,
        max_leverage: r.u32("max leverage")?,
        tiers: r.list("margin tiers", get_tier)?,
        maker_fee: get_rate(r)?,
        taker_fee: get_rate(r)?,
        order_band: get_rate(r)?,
        limits: MarketLimits {
            max_open_orders_per_account: r.u32("max open orders")?,
            max_price_levels: r.u32("max price levels")?,
            max_stops_per_account: r.u32("max stops")?,
            max_order_qty: get_qty(r)?,
        },
        oracle: get_oracle_spec(r)?,
        funding: get_funding_spec(r)?,
        liquidation: get_liquidation_spec(r)?,
    })
}

fn put_oracle_spec(w: &mut Writer<'_>, o: &OracleSpec) {
    let OracleSpec {
        sources,
        staleness_ms,
        outlier_band,
        quorum,
        stale_grace_ms,
        max_stale_ms,
        mark_band,
        mark_basis_samples,
    } = o;
    w.list(sources, |w, s| {
        let OracleSource { name, weight } = s;
        w.str(name).u32(*weight);
    });
    w.i64(*staleness_ms).i64(outlier_band.0);
    w.opt(*quorum, |w, q| {
        w.u32(q);
    });
    w.i64(*stale_grace_ms).i64(*max_stale_ms).i64(mark_band.0).u32(*mark_basis_samples);
}

fn get_oracle_spec(r: &mut Reader<'_>) -> R<OracleSpec> {
    Ok(OracleSpec {
        sources: r.list("oracle sources", |r| {
            Ok(OracleSource { name: r.str("oracle source name")?, weight: r.u32("oracle source weight")? })
        })?,
        staleness_ms: r.i64("staleness")?,
        outlier_band: get_rate(r)?,
        quorum: r.opt("quorum", |r| r.u32("quorum"))?,
        stale_grace_ms: r.i64("stale grace")?,
        max_stale_ms: r.i64("max stale")?,
        mark_band: get_rate(r)?,
        mark_basis_samples: r.u32("mark basis samples")?,
    })
}

fn put_funding_spec(w: &mut Writer<'_>, f: &FundingSpec) {
    let FundingSpec { interval_ms, interest_8h, clamp, cap_8h, sample_period_ms, impact_notional } = f;
    w.i64(*interval_ms).i64(interest_8h.0).i64(clamp.0).opt_i64(cap_8h.map(|r| r.0));
    w.i64(*sample_period_ms).opt_i64(impact_notional.map(|q| q.0));
}

fn get_funding_spec(r: &mut Reader<'_>) -> R<FundingSpec> {
    Ok(FundingSpec {
        interval_ms: r.i64("funding interval")?,
        interest_8h: get_rate(r)?,
        clamp: get_rate(r)?,
        cap_8h: r.opt_i64("funding cap")?.map(Rate),
        sample_period_ms: r.i64("sample period")?,
        impact_notional: r.opt_i64("impact notional")?.map(Quote),
    })
}

fn put_liquidation_spec(w: &mut Writer<'_>, l: &LiquidationSpec) {
    let LiquidationSpec { fee_rate, buffer, backstop_discount, insurance, adl, max_open_interest } = l;
    w.i64(fee_rate.0).i64(buffer.0).i64(backstop_discount.0);
    match insurance {
        InsurancePolicy::Own => w.u8(0),
        InsurancePolicy::Shared { max_draw } => w.u8(1).i64(max_draw.0),
    };
    w.u8(adl_tag(*adl)).opt_i64(max_open_interest.map(|q| q.0));
}

fn get_liquidation_spec(r: &mut Reader<'_>) -> R<LiquidationSpec> {
    Ok(LiquidationSpec {
        fee_rate: get_rate(r)?,
        buffer: get_rate(r)?,
        backstop_discount: get_rate(r)?,
        insurance: match r.tag("insurance policy")? {
            (0, _) => InsurancePolicy::Own,
            (1, _) => InsurancePolicy::Shared { max_draw: get_quote(r)? },
            (t, at) => return Err(unknown("insurance policy", t, at)),
        },
        adl: get_adl(r)?,
        max_open_interest: r.opt_i64("max open interest")?.map(Qty),
    })
}

/// A scheduled change: optional tiers, max leverage, maker fee, taker fee, funding interval.
pub(crate) fn put_param_change(w: &mut Writer<'_>, c: &ParamChange) {
    let ParamChange { tiers, max_leverage, maker_fee, taker_fee, funding_interval_ms } = c;
    w.opt(tiers.as_ref(), |w, t| {
        w.list(t, |w, t| put_tier(w, t));
    });
    w.opt(*max_leverage, |w, l| {
        w.u32(l);
    });
    w.opt_i64(maker_fee.map(|r| r.0)).opt_i64(taker_fee.map(|r| r.0)).opt_i64(*funding_interval_ms);
}

pub(crate) fn get_param_change(r: &mut Reader<'_>) -> R<ParamChange> {
    Ok(ParamChange {
        tiers: r.opt("new tiers", |r| r.list("margin tiers", get_tier))?,
        max_leverage: r.opt("new max leverage", |r| r.u32("max leverage"))?,
        maker_fee: r.opt_i64("new maker fee")?.map(Rate),
        taker_fee: r.opt_i64("new taker fee")?.map(Rate),
        funding_interval_ms: r.opt_i64("new funding interval")?,
    })
}
