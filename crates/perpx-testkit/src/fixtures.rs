//! Market specifications and terse command builders for tests.
//!
//! Prices are in ticks and sizes in lots of the market named, exactly as the engine counts them.

use perpx_core::{
    AccountId, Amend, ClientOrderId, Command, CommandKind, Decimal, MarginTier, MarketId, MarketLimits, MarketSpec,
    NewOrder, OrderId, OrderRef, OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};

/// A mark for [`btc_spec`]: 86,000.0 (tick 0.1).
pub const BTC_MARK: Price = Price(860_000);
/// A mark for [`eth_spec`]: 3,000.00 (tick 0.01).
pub const ETH_MARK: Price = Price(300_000);
/// A mark for [`test_spec`]: 1,000 (tick 1).
pub const TEST_MARK: Price = Price(1_000);

/// BTC-PERP: tick 0.1, lot 0.001, min 1 lot and 5 USD, Binance's first three BTCUSDT brackets
/// (50k@125x 0.4 %; 250k@100x 0.5 % − 50; 1M@50x 1 % − 1,300), maker 2 bp, taker 5 bp, a 5 %
/// order band and the default limits. One tick on one lot is 100 micro-units.
#[must_use]
pub fn btc_spec() -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 1),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(5_000_000),
        max_leverage: 125,
        tiers: vec![
            MarginTier {
                max_notional: Quote(50_000_000_000),
                max_leverage: 125,
                maintenance_rate: Rate(400_000),
                maintenance_amount: Quote(0),
            },
            MarginTier {
                max_notional: Quote(250_000_000_000),
                max_leverage: 100,
                maintenance_rate: Rate(500_000),
                maintenance_amount: Quote(50_000_000),
            },
            MarginTier {
                max_notional: Quote(1_000_000_000_000),
                max_leverage: 50,
                maintenance_rate: Rate(1_000_000),
                maintenance_amount: Quote(1_300_000_000),
            },
        ],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits::default(),
        oracle: perpx_core::market::OracleSpec::default(),
        funding: perpx_core::market::FundingSpec::default(),
        liquidation: perpx_core::market::LiquidationSpec::default(),
    }
}

/// ETH-PERP: tick 0.01, lot 0.001, min 1 lot and 5 USD (so 1 lot at 3,000 is *below* the
/// minimum notional), brackets 50k@100x 0.5 %; 250k@75x 0.65 % − 75; 1M@50x 1 % − 950,
/// maker 2 bp, taker 5 bp, a 5 % band, default limits. One tick on one lot is 10 micro-units.
#[must_use]
pub fn eth_spec() -> MarketSpec {
    MarketSpec {
        symbol: "ETH-PERP".into(),
        tick_size: Decimal::new(1, 2),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(5_000_000),
        max_leverage: 100,
        tiers: vec![
            MarginTier {
                max_notional: Quote(50_000_000_000),
                max_leverage: 100,
                maintenance_rate: Rate(500_000),
                maintenance_amount: Quote(0),
            },
            MarginTier {
                max_notional: Quote(250_000_000_000),
                max_leverage: 75,
                maintenance_rate: Rate(650_000),
                maintenance_amount: Quote(75_000_000),
            },
            MarginTier {
                max_notional: Quote(1_000_000_000_000),
                max_leverage: 50,
                maintenance_rate: Rate(1_000_000),
                maintenance_amount: Quote(950_000_000),
            },
        ],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits::default(),
        oracle: perpx_core::market::OracleSpec::default(),
        funding: perpx_core::market::FundingSpec::default(),
        liquidation: perpx_core::market::LiquidationSpec::default(),
    }
}

/// The limits of [`test_spec`]: small enough that random streams hit them.
pub const TEST_LIMITS: MarketLimits = MarketLimits {
    max_open_orders_per_account: 8,
    max_price_levels: 12,
    max_stops_per_account: 4,
    max_order_qty: Qty(1_000_000_000_000),
};

/// TEST-PERP: tick 1, lot 1 (one tick on one lot is a whole unit, 1,000,000 micro-units),
/// min 2 lots and 2,000 units of notional (so 2 lots below a price of 1,000 are refused),
/// one bracket at 20x, a 5 % band and [`TEST_LIMITS`]: 8 open orders per account, 12 levels
/// per side and a maximum size of 10^12 lots, large enough that `price × qty` can overflow.
#[must_use]
pub fn test_spec() -> MarketSpec {
    MarketSpec {
        symbol: "TEST-PERP".into(),
        tick_size: Decimal::new(1, 0),
        lot_size: Decimal::new(1, 0),
        min_qty: Qty(2),
        min_notional: Quote(2_000_000_000),
        max_leverage: 20,
        tiers: vec![MarginTier {
            max_notional: Quote(1_000_000_000_000_000),
            max_leverage: 20,
            maintenance_rate: Rate(1_000_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(0),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: TEST_LIMITS,
        oracle: perpx_core::market::OracleSpec::default(),
        funding: perpx_core::market::FundingSpec::default(),
        liquidation: perpx_core::market::LiquidationSpec::default(),
    }
}

/// [`test_spec`] under another symbol (for a second small market).
#[must_use]
pub fn test_spec_named(symbol: &str) -> MarketSpec {
    MarketSpec { symbol: symbol.into(), ..test_spec() }
}

// ---- command builders -------------------------------------------------------------------

/// A command at `ts` ms.
#[must_use]
pub fn cmd(ts: i64, kind: CommandKind) -> Command {
    Command { ts: Timestamp(ts), kind }
}

/// A client order id (panics on an invalid one: fixtures only use valid ids).
#[must_use]
pub fn cid(text: &str) -> ClientOrderId {
    ClientOrderId::new(text).expect("fixture client ids are valid")
}

/// An order reference by engine id.
#[must_use]
pub fn by_id(id: u64) -> OrderRef {
    OrderRef::Id(OrderId(id))
}

/// An order reference by client id.
#[must_use]
pub fn by_cid(text: &str) -> OrderRef {
    OrderRef::Client(cid(text))
}

/// A new order with the default STP mode and no client id.
#[must_use]
pub fn new_order(account: u64, market: u32, side: Side, order_type: OrderType, qty: i64) -> NewOrder {
    NewOrder {
        account: AccountId(account),
        market: MarketId(market),
        side,
        order_type,
        qty: Qty(qty),
        client_id: None,
        stp: StpMode::default(),
        reduce_only: false,
    }
}

/// Places `order` at `ts`.
#[must_use]
pub fn place(ts: i64, order: NewOrder) -> Command {
    cmd(ts, CommandKind::PlaceOrder(order))
}

/// A limit order with the default STP mode and no client id.
#[must_use]
pub fn limit(ts: i64, account: u64, market: u32, side: Side, price: i64, qty: i64, tif: TimeInForce) -> Command {
    let order_type = OrderType::Limit { price: Price(price), tif };
    place(ts, new_order(account, market, side, order_type, qty))
}

/// A limit order with an explicit STP mode and an optional client id.
#[allow(clippy::too_many_arguments)]
#[must_use]
pub fn limit_with(
    ts: i64,
    account: u64,
    market: u32,
    side: Side,
    price: i64,
    qty: i64,
    tif: TimeInForce,
    stp: StpMode,
    client_id: Option<&str>,
) -> Command {
    let order_type = OrderType::Limit { price: Price(price), tif };
    let mut o = new_order(account, market, side, order_type, qty);
    o.stp = stp;
    o.client_id = client_id.map(cid);
    place(ts, o)
}

/// A market order with the default STP mode and no client id.
#[must_use]
pub fn market_order(ts: i64, account: u64, market: u32, side: Side, qty: i64) -> Command {
    place(ts, new_order(account, market, side, OrderType::Market, qty))
}

/// An amend of `order` to a new price and/or open size.
#[must_use]
pub fn amend(ts: i64, account: u64, market: u32, order: OrderRef, price: Option<i64>, qty: Option<i64>) -> Command {
    cmd(
        ts,
        CommandKind::AmendOrder(Amend {
            account: AccountId(account),
            market: MarketId(market),
            order,
            price: price.map(Price),
            qty: qty.map(Qty),
        }),
    )
}

/// A cancel of one order.
#[must_use]
pub fn cancel(ts: i64, account: u64, market: u32, order: OrderRef) -> Command {
    cmd(ts, CommandKind::CancelOrder { account: AccountId(account), market: MarketId(market), order })
}

/// A cancel of all of an account's orders, in one market or in all.
#[must_use]
pub fn cancel_all(ts: i64, account: u64, market: Option<u32>) -> Command {
    cmd(ts, CommandKind::CancelAll { account: AccountId(account), market: market.map(MarketId) })
}

/// An admin cancel of every order of a market.
#[must_use]
pub fn mass_cancel(ts: i64, market: u32) -> Command {
    cmd(ts, CommandKind::MassCancel { market: MarketId(market) })
}

/// Sets a market's mark price.
#[must_use]
pub fn set_mark(ts: i64, market: u32, price: i64) -> Command {
    cmd(ts, CommandKind::SetMark { market: MarketId(market), price: Price(price) })
}

/// Creates a market.
#[must_use]
pub fn create_market(ts: i64, spec: MarketSpec) -> Command {
    cmd(ts, CommandKind::CreateMarket(Box::new(spec)))
}

/// Advances time only.
#[must_use]
pub fn tick(ts: i64) -> Command {
    cmd(ts, CommandKind::Tick)
}

/// An admin deposit of `amount` into `account`.
#[must_use]
pub fn deposit(ts: i64, account: u64, amount: perpx_core::Quote) -> Command {
    Command { ts: Timestamp(ts), kind: CommandKind::Deposit { account: AccountId(account), amount } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_spec_validates_with_the_expected_scale() {
        assert_eq!(btc_spec().validate().unwrap().quote_per_tick_lot, 100);
        assert_eq!(eth_spec().validate().unwrap().quote_per_tick_lot, 10);
        assert_eq!(test_spec().validate().unwrap().quote_per_tick_lot, 1_000_000);
        assert!(test_spec_named("TEST2-PERP").validate().is_ok());
    }
}
