//! Proptest strategies for arbitrary commands: every kind, every field over its whole range
//! (valid or not — the journal records rejected commands too), client ids that follow the id
//! rules (the only commands that can exist).

use perpx_core::account::MarginMode;
use perpx_core::command::{NewStop, ParamChange};
use perpx_core::event::FundRef;
use perpx_core::market::{AdlPolicy, FundingSpec, InsurancePolicy, LiquidationSpec, OracleSource, OracleSpec};
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{
    AccountId, Amend, ClientOrderId, Command, CommandKind, Decimal, MarginTier, MarketId, MarketLimits, MarketSpec,
    NewOrder, OrderId, OrderRef, OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn account() -> impl Strategy<Value = AccountId> {
    prop_oneof![3 => 1u64..20, 1 => any::<u64>()].prop_map(AccountId)
}

fn market() -> impl Strategy<Value = MarketId> {
    prop_oneof![3 => 0u32..4, 1 => any::<u32>()].prop_map(MarketId)
}

fn price() -> impl Strategy<Value = Price> {
    any::<i64>().prop_map(Price)
}

fn qty() -> impl Strategy<Value = Qty> {
    any::<i64>().prop_map(Qty)
}

fn quote() -> impl Strategy<Value = Quote> {
    any::<i64>().prop_map(Quote)
}

fn rate() -> impl Strategy<Value = Rate> {
    any::<i64>().prop_map(Rate)
}

fn client_id() -> impl Strategy<Value = ClientOrderId> {
    "[A-Za-z0-9.:/_-]{1,36}".prop_map(|s| ClientOrderId::new(&s).expect("the pattern follows the id rules"))
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn tif() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![Just(TimeInForce::Gtc), Just(TimeInForce::Ioc), Just(TimeInForce::Fok), Just(TimeInForce::PostOnly)]
}

fn stp() -> impl Strategy<Value = StpMode> {
    prop_oneof![Just(StpMode::ExpireTaker), Just(StpMode::ExpireMaker), Just(StpMode::ExpireBoth)]
}

fn order_type() -> impl Strategy<Value = OrderType> {
    prop_oneof![Just(OrderType::Market), (price(), tif()).prop_map(|(price, tif)| OrderType::Limit { price, tif })]
}

fn order_ref() -> impl Strategy<Value = OrderRef> {
    prop_oneof![any::<u64>().prop_map(|i| OrderRef::Id(OrderId(i))), client_id().prop_map(OrderRef::Client)]
}

fn stop_kind() -> impl Strategy<Value = StopKind> {
    prop_oneof![
        Just(StopKind::StopMarket),
        Just(StopKind::TakeProfitMarket),
        (price(), tif()).prop_map(|(price, tif)| StopKind::StopLimit { price, tif }),
        (price(), tif()).prop_map(|(price, tif)| StopKind::TakeProfitLimit { price, tif }),
    ]
}

fn fund() -> impl Strategy<Value = FundRef> {
    prop_oneof![market().prop_map(FundRef::Market), Just(FundRef::Shared), Just(FundRef::Guaranty)]
}

fn tier() -> impl Strategy<Value = MarginTier> {
    (quote(), any::<u32>(), rate(), quote()).prop_map(|(max_notional, max_leverage, maintenance_rate, amount)| {
        MarginTier { max_notional, max_leverage, maintenance_rate, maintenance_amount: amount }
    })
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), any::<u8>()).prop_map(|(m, s)| Decimal::new(m, s))
}

fn oracle_spec() -> impl Strategy<Value = OracleSpec> {
    (
        vec(("\\PC{0,24}", any::<u32>()).prop_map(|(name, weight)| OracleSource { name, weight }), 0..5),
        (any::<i64>(), rate(), option::of(any::<u32>())),
        (any::<i64>(), any::<i64>(), rate(), any::<u32>()),
    )
        .prop_map(|(sources, (staleness_ms, outlier_band, quorum), (grace, max_stale, mark_band, basis))| {
            OracleSpec {
                sources,
                staleness_ms,
                outlier_band,
                quorum,
                stale_grace_ms: grace,
                max_stale_ms: max_stale,
                mark_band,
                mark_basis_samples: basis,
            }
        })
}

fn funding_spec() -> impl Strategy<Value = FundingSpec> {
    (any::<i64>(), rate(), rate(), option::of(rate()), any::<i64>(), option::of(quote())).prop_map(
        |(interval_ms, interest_8h, clamp, cap_8h, sample_period_ms, impact_notional)| FundingSpec {
            interval_ms,
            interest_8h,
            clamp,
            cap_8h,
            sample_period_ms,
            impact_notional,
        },
    )
}

fn liquidation_spec() -> impl Strategy<Value = LiquidationSpec> {
    let insurance =
        prop_oneof![Just(InsurancePolicy::Own), quote().prop_map(|max_draw| InsurancePolicy::Shared { max_draw })];
    let adl = prop_oneof![Just(AdlPolicy::Queue), Just(AdlPolicy::ProRata), Just(AdlPolicy::LeverageDrain)];
    (rate(), rate(), rate(), insurance, adl, option::of(qty())).prop_map(
        |(fee_rate, buffer, backstop_discount, insurance, adl, max_open_interest)| LiquidationSpec {
            fee_rate,
            buffer,
            backstop_discount,
            insurance,
            adl,
            max_open_interest,
        },
    )
}

/// Any market specification, every section included.
pub fn market_spec() -> impl Strategy<Value = MarketSpec> {
    (
        ("\\PC{0,24}", decimal(), decimal(), qty(), quote(), any::<u32>(), vec(tier(), 0..4)),
        (rate(), rate(), rate()),
        (any::<u32>(), any::<u32>(), any::<u32>(), qty()),
        (oracle_spec(), funding_spec(), liquidation_spec()),
    )
        .prop_map(
            |(
                (symbol, tick_size, lot_size, min_qty, min_notional, max_leverage, tiers),
                (maker_fee, taker_fee, order_band),
                (orders, levels, stops, max_order_qty),
                (oracle, funding, liquidation),
            )| MarketSpec {
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
                limits: MarketLimits {
                    max_open_orders_per_account: orders,
                    max_price_levels: levels,
                    max_stops_per_account: stops,
                    max_order_qty,
                },
                oracle,
                funding,
                liquidation,
            },
        )
}

fn param_change() -> impl Strategy<Value = ParamChange> {
    (
        option::of(vec(tier(), 0..3)),
        option::of(any::<u32>()),
        option::of(rate()),
        option::of(rate()),
        option::of(any::<i64>()),
    )
        .prop_map(|(tiers, max_leverage, maker_fee, taker_fee, funding_interval_ms)| ParamChange {
            tiers,
            max_leverage,
            maker_fee,
            taker_fee,
            funding_interval_ms,
        })
}

fn new_order() -> impl Strategy<Value = NewOrder> {
    (account(), market(), side(), order_type(), qty(), option::of(client_id()), stp(), any::<bool>()).prop_map(
        |(account, market, side, order_type, qty, client_id, stp, reduce_only)| NewOrder {
            account,
            market,
            side,
            order_type,
            qty,
            client_id,
            stp,
            reduce_only,
        },
    )
}

fn new_stop() -> impl Strategy<Value = NewStop> {
    let trigger_by = prop_oneof![Just(TriggerBy::Mark), Just(TriggerBy::Last)];
    (
        (account(), market(), side(), stop_kind(), price(), trigger_by),
        (qty(), option::of(client_id()), stp(), any::<bool>()),
    )
        .prop_map(|((account, market, side, kind, trigger, trigger_by), (qty, client_id, stp, reduce_only))| {
            NewStop { account, market, side, kind, trigger, trigger_by, qty, client_id, stp, reduce_only }
        })
}

/// Any command kind.
pub fn command_kind() -> impl Strategy<Value = CommandKind> {
    let mode = prop_oneof![Just(MarginMode::Cross), Just(MarginMode::Isolated)];
    prop_oneof![
        market_spec().prop_map(|s| CommandKind::CreateMarket(Box::new(s))),
        (market(), price()).prop_map(|(market, price)| CommandKind::SetMark { market, price }),
        (market(), any::<u16>(), price()).prop_map(|(market, source, price)| CommandKind::OraclePrice {
            market,
            source,
            price
        }),
        (account(), any::<bool>()).prop_map(|(account, active)| CommandKind::SetLiquidator { account, active }),
        (fund(), quote()).prop_map(|(fund, amount)| CommandKind::CapitaliseFund { fund, amount }),
        new_order().prop_map(CommandKind::PlaceOrder),
        (account(), market(), order_ref(), option::of(price()), option::of(qty())).prop_map(
            |(account, market, order, price, qty)| CommandKind::AmendOrder(Amend {
                account,
                market,
                order,
                price,
                qty
            })
        ),
        (account(), market(), order_ref()).prop_map(|(account, market, order)| CommandKind::CancelOrder {
            account,
            market,
            order
        }),
        (account(), option::of(market())).prop_map(|(account, market)| CommandKind::CancelAll { account, market }),
        market().prop_map(|market| CommandKind::MassCancel { market }),
        Just(CommandKind::Tick),
        (".{0,70}", "[a-z_]{0,70}", ".{0,200}").prop_map(|(actor, action, detail)| CommandKind::AdminAudit {
            actor,
            action,
            detail
        }),
        (account(), quote()).prop_map(|(account, amount)| CommandKind::Deposit { account, amount }),
        (account(), quote()).prop_map(|(account, amount)| CommandKind::Withdraw { account, amount }),
        new_stop().prop_map(CommandKind::PlaceStop),
        market().prop_map(|market| CommandKind::Halt { market }),
        market().prop_map(|market| CommandKind::Resume { market }),
        (market(), any::<i64>(), param_change()).prop_map(|(market, at, change)| CommandKind::ScheduleParams {
            market,
            effective_at: Timestamp(at),
            change: Box::new(change)
        }),
        (market(), price()).prop_map(|(market, price)| CommandKind::Delist { market, price }),
        (account(), market(), mode).prop_map(|(account, market, mode)| CommandKind::SetMarginMode {
            account,
            market,
            mode
        }),
        (account(), market(), quote()).prop_map(|(account, market, amount)| CommandKind::AdjustIsolatedMargin {
            account,
            market,
            amount
        }),
        (account(), market(), any::<u32>()).prop_map(|(account, market, leverage)| CommandKind::SetLeverage {
            account,
            market,
            leverage
        }),
    ]
}

/// Any command.
pub fn command() -> impl Strategy<Value = Command> {
    (any::<i64>(), command_kind()).prop_map(|(ts, kind)| Command { ts: Timestamp(ts), kind })
}
