//! One adapter per book: each turns a neutral [`Cmd`] into the book's own calls and reports
//! what traded. Translation happens inside the timed loop for every book alike (an id lookup in
//! a `Vec` and building the book's command).

use perpx_core::book::{Book, RestingOrder};
use perpx_core::market::{FundingSpec, LiquidationSpec, MarginTier, MarketLimits, OracleSpec};
use perpx_core::{
    AccountId, Amend, Command, CommandKind, Decimal, Engine, EngineConfig, Event, EventKind, MarketId, MarketSpec,
    NewOrder, OrderId, OrderRef, OrderType, Price, Qty, Quote, Rate, StpMode, TimeInForce, Timestamp,
};

use crate::stream::{Cmd, MID, NaiveBook, Side, Traded};

/// A book driven by the neutral stream.
pub trait Venue {
    /// Applies one command.
    fn apply(&mut self, cmd: &Cmd) -> Traded;
    /// Commands the book refused, or that named an order it did not hold (must stay 0).
    fn refused(&self) -> u64;
}

impl Venue for NaiveBook {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        let t = NaiveBook::apply(self, cmd);
        self.completed.clear();
        t
    }

    fn refused(&self) -> u64 {
        self.unknown
    }
}

fn i(x: u64) -> i64 {
    i64::try_from(x).expect("prices and sizes fit in i64")
}

const fn perpx_side(side: Side) -> perpx_core::Side {
    match side {
        Side::Buy => perpx_core::Side::Buy,
        Side::Sell => perpx_core::Side::Sell,
    }
}

// ---------------------------------------------------------------------------------------------
// perpx: the engine, as `benches/book.rs` drives it.

const MARKET: MarketId = MarketId(0);

/// The same market as `benches/book.rs` (tick 0.1, lot 0.001, a 5 % band), with room for the
/// levels and for one order per account.
fn spec(depth: u64) -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        tick_size: Decimal::new(1, 1),
        lot_size: Decimal::new(1, 3),
        min_qty: Qty(1),
        min_notional: Quote(0),
        max_leverage: 100,
        tiers: vec![MarginTier {
            max_notional: Quote(i64::MAX / 2),
            max_leverage: 100,
            maintenance_rate: Rate(500_000),
            maintenance_amount: Quote(0),
        }],
        maker_fee: Rate(20_000),
        taker_fee: Rate(50_000),
        order_band: Rate(5_000_000),
        limits: MarketLimits {
            max_open_orders_per_account: 1_000,
            max_price_levels: u32::try_from(depth.max(10_000) * 4).expect("fits"),
            max_stops_per_account: 0,
            max_order_qty: Qty(1_000_000),
        },
        oracle: OracleSpec::default(),
        funding: FundingSpec::default(),
        liquidation: LiquidationSpec::default(),
    }
}

/// `Engine::apply_into` with its events: accounts, margin on every order and amend, fees and
/// positions on every fill, funding clocks, the liquidation pass. Every order has its own
/// account, so self-trade prevention never fires, funded with 10 M USD: far beyond what one
/// order needs, and small enough that the sum over all accounts fits the engine's `i64` totals.
#[derive(Debug)]
pub struct PerpxEngine {
    engine: Engine,
    events: Vec<Event>,
    /// Neutral id → engine id.
    ids: Vec<OrderId>,
    ts: i64,
    refused: u64,
}

impl PerpxEngine {
    /// A fresh engine with the market, its mark and `ids` funded accounts.
    pub fn new(ids: u64, depth: u64) -> Self {
        let mut e = Self {
            engine: Engine::new(EngineConfig::default()),
            events: Vec::with_capacity(64),
            ids: vec![OrderId(u64::MAX); usize::try_from(ids).expect("fits")],
            ts: 0,
            refused: 0,
        };
        e.admin(CommandKind::CreateMarket(Box::new(spec(depth))));
        e.admin(CommandKind::SetMark { market: MARKET, price: Price(i(MID)) });
        for a in 0..ids {
            e.admin(CommandKind::Deposit { account: AccountId(a), amount: Quote(10_000_000 * 1_000_000) });
        }
        e
    }

    fn admin(&mut self, kind: CommandKind) {
        self.ts += 1;
        self.events.clear();
        self.engine.apply_into(&Command { ts: Timestamp(self.ts), kind }, &mut self.events);
        assert!(
            !self.events.iter().any(|e| matches!(e.kind, EventKind::Rejected { .. })),
            "setup rejected: {:?}",
            self.events
        );
    }
}

impl Venue for PerpxEngine {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        let kind = match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => CommandKind::PlaceOrder(NewOrder {
                account: AccountId(id),
                market: MARKET,
                side: perpx_side(side),
                order_type: OrderType::Limit {
                    price: Price(i(price)),
                    tif: if ioc { TimeInForce::Ioc } else { TimeInForce::Gtc },
                },
                qty: Qty(i(qty)),
                client_id: None,
                stp: StpMode::ExpireMaker,
                reduce_only: false,
            }),
            Cmd::Cancel { id } => CommandKind::CancelOrder {
                account: AccountId(id),
                market: MARKET,
                order: OrderRef::Id(self.ids[id as usize]),
            },
            Cmd::Move { id, price, qty } => CommandKind::AmendOrder(Amend {
                account: AccountId(id),
                market: MARKET,
                order: OrderRef::Id(self.ids[id as usize]),
                price: Some(Price(i(price))),
                qty: Some(Qty(i(qty))),
            }),
        };
        self.ts += 1;
        self.events.clear();
        self.engine.apply_into(&Command { ts: Timestamp(self.ts), kind }, &mut self.events);
        let mut t = Traded::default();
        for e in &self.events {
            match &e.kind {
                EventKind::Fill(f) => {
                    t.volume += f.qty.0 as u64;
                    t.fills += 1;
                }
                EventKind::OrderAccepted { order_id, .. } => {
                    if let Cmd::Limit { id, .. } = *cmd {
                        self.ids[id as usize] = *order_id;
                    }
                }
                EventKind::Rejected { .. } => self.refused += 1,
                _ => {}
            }
        }
        t
    }

    fn refused(&self) -> u64 {
        self.refused
    }
}

// ---------------------------------------------------------------------------------------------
// perpx: the bare book (`perpx_core::book::Book`), with the few lines of price-time matching
// the engine's matcher wraps around it (no accounts, margin, fees or events).

/// `perpx_core::book::Book` driven through its public API: `front` / `fill_front` to match,
/// `insert`, `remove`, and `locate` then `requeue_at` for a move that does not cross.
#[derive(Debug, Default)]
pub struct PerpxBook {
    book: Book,
    ts: i64,
    refused: u64,
}

impl PerpxBook {
    fn take(&mut self, side: perpx_core::Side, limit: Price, mut qty: i64) -> (i64, Traded) {
        let mut t = Traded::default();
        let opposite = side.opposite();
        while qty > 0 {
            let Some(front) = self.book.front(opposite) else { break };
            if !side.crosses(limit, front.price) {
                break;
            }
            let q = qty.min(front.qty.0);
            self.book.fill_front(opposite, Qty(q));
            qty -= q;
            t.volume += q as u64;
            t.fills += 1;
        }
        (qty, t)
    }

    fn limit(&mut self, id: u64, side: perpx_core::Side, price: u64, qty: u64, ioc: bool) -> Traded {
        let price = Price(i(price));
        let (rest, t) = self.take(side, price, i(qty));
        if rest > 0 && !ioc {
            self.book.insert(RestingOrder {
                id: OrderId(id),
                account: AccountId(id),
                side,
                price,
                qty: Qty(rest),
                filled: Qty(i(qty) - rest),
                post_only: false,
                stp: StpMode::ExpireMaker,
                reduce_only: false,
                client_id: None,
                queued_at: Timestamp(self.ts),
            });
        }
        t
    }
}

impl Venue for PerpxBook {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        self.ts += 1;
        match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => self.limit(id, perpx_side(side), price, qty, ioc),
            Cmd::Cancel { id } => {
                if self.book.remove(OrderId(id)).is_none() {
                    self.refused += 1;
                }
                Traded::default()
            }
            // One lookup of the id for the read and the requeue, as the engine's amend does.
            Cmd::Move { id, price, qty } => {
                let Some(at) = self.book.locate(OrderId(id)) else {
                    self.refused += 1;
                    return Traded::default();
                };
                let side = self.book.order_at(at).side;
                let p = Price(i(price));
                let crosses = self.book.best_price(side.opposite()).is_some_and(|best| side.crosses(p, best));
                if crosses {
                    self.book.remove(OrderId(id));
                    self.limit(id, side, price, qty, false)
                } else {
                    self.book.requeue_at(at, p, Qty(i(qty)), Timestamp(self.ts));
                    Traded::default()
                }
            }
        }
    }

    fn refused(&self) -> u64 {
        self.refused
    }
}

// ---------------------------------------------------------------------------------------------
// lobster 0.7: u64 prices and sizes, u128 ids, `execute(OrderType::{Limit, Market, Cancel})`.
// No IOC: a limit order whose remainder rested is cancelled. No amend: cancel + re-add.

/// `lobster::OrderBook`. lobster does not say which side an order rests on, and a re-add needs
/// it, so the adapter keeps each order's side in a `Vec` (as the rust_ob adapter does). lobster
/// answers a cancel of an unknown order with `Canceled` too, so it cannot count refusals.
#[derive(Debug)]
pub struct Lobster {
    book: lobster::OrderBook,
    sides: Vec<Side>,
}

impl Lobster {
    /// An empty book for `ids` order ids, with room for `capacity` resting orders.
    pub fn new(ids: u64, capacity: usize) -> Self {
        Self {
            book: lobster::OrderBook::new(capacity, 16, false),
            sides: vec![Side::Buy; usize::try_from(ids).expect("fits")],
        }
    }

    fn limit(&mut self, id: u64, side: Side, price: u64, qty: u64, ioc: bool) -> Traded {
        let side = match side {
            Side::Buy => lobster::Side::Bid,
            Side::Sell => lobster::Side::Ask,
        };
        let id = u128::from(id);
        let ev = self.book.execute(lobster::OrderType::Limit { id, side, qty, price });
        let (t, rested) = match ev {
            lobster::OrderEvent::Placed { .. } => (Traded::default(), true),
            lobster::OrderEvent::Filled { filled_qty, fills, .. } => {
                (Traded { volume: filled_qty, fills: fills.len() as u64 }, false)
            }
            lobster::OrderEvent::PartiallyFilled { filled_qty, fills, .. } => {
                (Traded { volume: filled_qty, fills: fills.len() as u64 }, true)
            }
            other => unreachable!("a limit order answered {other:?}"),
        };
        if ioc && rested {
            self.book.execute(lobster::OrderType::Cancel { id });
        }
        t
    }
}

impl Venue for Lobster {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => {
                self.sides[id as usize] = side;
                self.limit(id, side, price, qty, ioc)
            }
            Cmd::Cancel { id } => {
                self.book.execute(lobster::OrderType::Cancel { id: u128::from(id) });
                Traded::default()
            }
            Cmd::Move { id, price, qty } => {
                self.book.execute(lobster::OrderType::Cancel { id: u128::from(id) });
                self.limit(id, self.sides[id as usize], price, qty, false)
            }
        }
    }

    fn refused(&self) -> u64 {
        0
    }
}

// ---------------------------------------------------------------------------------------------
// matchcore 0.4: commands with consecutive sequence numbers; an order's id is the sequence
// number of its submit; native IOC and native amend (a price change loses priority, as in perpx).

/// `matchcore::OrderBook`.
#[derive(Debug)]
pub struct Matchcore {
    book: matchcore::OrderBook,
    seq: u64,
    ids: Vec<matchcore::OrderId>,
    refused: u64,
}

impl Matchcore {
    /// An empty book for `ids` order ids.
    pub fn new(ids: u64) -> Self {
        Self {
            book: matchcore::OrderBook::new("BTC-PERP"),
            seq: 0,
            ids: vec![matchcore::OrderId(u64::MAX); usize::try_from(ids).expect("fits")],
            refused: 0,
        }
    }
}

impl Venue for Matchcore {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        use matchcore::{
            AmendCmd, AmendPatch, CancelCmd, Command, CommandKind, CommandMeta, CommandOutcome, CommandReport,
            LimitOrder, LimitOrderPatch, NewOrder, OrderFlags, OrderKind, Quantity, QuantityPolicy, SequenceNumber,
            SubmitCmd, TimeInForce,
        };
        let meta = CommandMeta { sequence_number: SequenceNumber(self.seq), timestamp: matchcore::Timestamp(self.seq) };
        let kind = match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => {
                self.ids[id as usize] = matchcore::OrderId(self.seq);
                let side = match side {
                    Side::Buy => matchcore::Side::Buy,
                    Side::Sell => matchcore::Side::Sell,
                };
                let tif = if ioc { TimeInForce::Ioc } else { TimeInForce::Gtc };
                CommandKind::Submit(SubmitCmd {
                    order: NewOrder::Limit(LimitOrder::new(
                        matchcore::Price(price),
                        QuantityPolicy::Standard { quantity: Quantity(qty) },
                        OrderFlags::new(side, false, tif),
                    )),
                })
            }
            Cmd::Cancel { id } => {
                CommandKind::Cancel(CancelCmd { order_id: self.ids[id as usize], order_kind: OrderKind::Limit })
            }
            Cmd::Move { id, price, qty } => CommandKind::Amend(AmendCmd {
                order_id: self.ids[id as usize],
                patch: AmendPatch::Limit(
                    LimitOrderPatch::new()
                        .with_price(matchcore::Price(price))
                        .with_quantity_policy(QuantityPolicy::Standard { quantity: Quantity(qty) }),
                ),
            }),
        };
        self.seq += 1;
        let mut t = Traded::default();
        match self.book.execute(&Command { meta, kind }) {
            CommandOutcome::Applied(CommandReport::Submit(fx) | CommandReport::Amend(fx)) => {
                assert!(fx.triggered_orders().is_empty(), "no conditional or pegged orders here");
                if let Some(m) = fx.target_order().match_result() {
                    t.volume = m.executed_quantity().0;
                    t.fills = m.trades().len() as u64;
                }
            }
            CommandOutcome::Applied(CommandReport::Cancel) => {}
            CommandOutcome::Rejected(_) => self.refused += 1,
        }
        t
    }

    fn refused(&self) -> u64 {
        self.refused
    }
}

// ---------------------------------------------------------------------------------------------
// rust_ob 2.5: `rust_decimal::Decimal` prices and sizes, caller-chosen ids, limit orders and
// cancels; no IOC (cancel the remainder) and no amend (cancel + re-add).

/// `rust_ob::OrderBook<u64>`.
#[derive(Debug)]
pub struct RustOb {
    book: rust_ob::OrderBook<u64>,
    sides: Vec<Side>,
    refused: u64,
}

impl RustOb {
    /// An empty book for `ids` order ids.
    pub fn new(ids: u64) -> Self {
        Self {
            book: rust_ob::OrderBook::new(),
            sides: vec![Side::Buy; usize::try_from(ids).expect("fits")],
            refused: 0,
        }
    }

    fn limit(&mut self, id: u64, side: Side, price: u64, qty: u64, ioc: bool) -> Traded {
        use rust_ob::Decimal;
        let s = match side {
            Side::Buy => rust_ob::Side::Buy,
            Side::Sell => rust_ob::Side::Sell,
        };
        let Ok(matches) = self.book.process_limit_order(id, s, Decimal::from(price), Decimal::from(qty)) else {
            self.refused += 1;
            return Traded::default();
        };
        // One entry per maker, then the taker's own (its total) if anything traded.
        let t = match matches.last() {
            Some(taker) => {
                Traded { volume: u64::try_from(taker.quantity).expect("whole lots"), fills: matches.len() as u64 - 1 }
            }
            None => Traded::default(),
        };
        if ioc && t.volume < qty {
            self.book.cancel_order(id).expect("the IOC remainder rests");
        }
        t
    }
}

impl Venue for RustOb {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => {
                self.sides[id as usize] = side;
                self.limit(id, side, price, qty, ioc)
            }
            Cmd::Cancel { id } => {
                if self.book.cancel_order(id).is_err() {
                    self.refused += 1;
                }
                Traded::default()
            }
            Cmd::Move { id, price, qty } => {
                if self.book.cancel_order(id).is_err() {
                    self.refused += 1;
                    return Traded::default();
                }
                self.limit(id, self.sides[id as usize], price, qty, false)
            }
        }
    }

    fn refused(&self) -> u64 {
        self.refused
    }
}

// ---------------------------------------------------------------------------------------------
// rust-order-book 0.0.2: u64 prices and sizes, book-assigned ids, native IOC, `modify` (cancel
// + a new order with a new id, at the back of the queue).

/// `rust_order_book::OrderBook`.
pub struct RustOrderBook {
    book: rust_order_book::OrderBook,
    ids: Vec<u64>,
    refused: u64,
}

impl std::fmt::Debug for RustOrderBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustOrderBook").field("refused", &self.refused).finish_non_exhaustive()
    }
}

impl RustOrderBook {
    /// An empty book (journaling off) for `ids` order ids.
    pub fn new(ids: u64) -> Self {
        Self {
            book: rust_order_book::OrderBookBuilder::new("BTC-PERP").build(),
            ids: vec![u64::MAX; usize::try_from(ids).expect("fits")],
            refused: 0,
        }
    }

    fn report(
        &mut self,
        id: u64,
        r: Result<rust_order_book::ExecutionReport, rust_order_book::OrderBookError>,
    ) -> Traded {
        match r {
            Ok(r) => {
                self.ids[id as usize] = r.order_id.0;
                // Its reports carry no fills (0.0.2 matches into a local list and drops it), so
                // only the volume is compared for this book.
                Traded { volume: r.executed_qty.0, fills: 0 }
            }
            Err(_) => {
                self.refused += 1;
                Traded::default()
            }
        }
    }
}

impl Venue for RustOrderBook {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        use rust_order_book::TimeInForce;
        match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => {
                let side = match side {
                    Side::Buy => rust_order_book::Side::Buy,
                    Side::Sell => rust_order_book::Side::Sell,
                };
                let tif = if ioc { TimeInForce::IOC } else { TimeInForce::GTC };
                let r = self.book.limit_raw(side, qty, price, Some(tif), None);
                self.report(id, r)
            }
            Cmd::Cancel { id } => {
                if self.book.cancel_raw(self.ids[id as usize]).is_err() {
                    self.refused += 1;
                }
                Traded::default()
            }
            Cmd::Move { id, price, qty } => {
                let r = self.book.modify_raw(self.ids[id as usize], Some(price), Some(qty));
                self.report(id, r)
            }
        }
    }

    fn refused(&self) -> u64 {
        self.refused
    }
}

// ---------------------------------------------------------------------------------------------
// orderbook-rs 0.15: a concurrent book (`&self` methods, lock-free levels), u128 prices, u64
// sizes, caller-chosen ids. Its IOC returns an error when a remainder goes unfilled and reports
// those fills to a trade listener only, and its modify reports no fills: so, as for lobster,
// an IOC is a limit order whose remainder is cancelled and a move is cancel + re-add. Each
// order has its own owner, as in perpx: with the default owner (zero) for every order, its
// per-owner order list makes each cancel O(orders) (a `Vec::remove`), which is not the book.

/// `orderbook_rs::OrderBook<()>`.
pub struct OrderbookRs {
    book: orderbook_rs::OrderBook<()>,
    sides: Vec<Side>,
    refused: u64,
}

impl std::fmt::Debug for OrderbookRs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderbookRs").field("refused", &self.refused).finish_non_exhaustive()
    }
}

impl OrderbookRs {
    /// An empty book for `ids` order ids.
    pub fn new(ids: u64) -> Self {
        Self {
            book: orderbook_rs::OrderBook::new("BTC-PERP"),
            sides: vec![Side::Buy; usize::try_from(ids).expect("fits")],
            refused: 0,
        }
    }

    fn limit(&mut self, id: u64, side: Side, price: u64, qty: u64, ioc: bool) -> Traded {
        let s = match side {
            Side::Buy => orderbook_rs::Side::Buy,
            Side::Sell => orderbook_rs::Side::Sell,
        };
        let oid = orderbook_rs::Id::sequential(id);
        let r =
            self.book.add_limit_order_with_result(oid, u128::from(price), qty, s, orderbook_rs::TimeInForce::Gtc, None);
        let t = match r {
            Ok((_, None)) => Traded::default(),
            Ok((_, Some(tr))) => Traded {
                volume: tr.match_result.executed_quantity().expect("no overflow").as_u64(),
                fills: tr.match_result.trades().len() as u64,
            },
            Err(_) => {
                self.refused += 1;
                return Traded::default();
            }
        };
        if ioc && t.volume < qty && !matches!(self.book.cancel_order(oid), Ok(Some(_))) {
            self.refused += 1;
        }
        t
    }
}

impl Venue for OrderbookRs {
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => {
                self.sides[id as usize] = side;
                self.limit(id, side, price, qty, ioc)
            }
            Cmd::Cancel { id } => {
                if !matches!(self.book.cancel_order(orderbook_rs::Id::sequential(id)), Ok(Some(_))) {
                    self.refused += 1;
                }
                Traded::default()
            }
            Cmd::Move { id, price, qty } => {
                if !matches!(self.book.cancel_order(orderbook_rs::Id::sequential(id)), Ok(Some(_))) {
                    self.refused += 1;
                    return Traded::default();
                }
                self.limit(id, self.sides[id as usize], price, qty, false)
            }
        }
    }

    fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(id: u64, side: Side, price: u64, qty: u64) -> Cmd {
        Cmd::Limit { id, side, price, qty, ioc: false }
    }

    /// Two asks, at 100 and 105; a buy limited to 101 for 2 lots may take only the first.
    fn trade_through<V: Venue>(mut v: V) -> Traded {
        v.apply(&lim(0, Side::Sell, 100, 1));
        v.apply(&lim(1, Side::Sell, 105, 1));
        v.apply(&lim(2, Side::Buy, 101, 2))
    }

    #[test]
    fn limit_orders_stop_at_their_limit() {
        let one = Traded { volume: 1, fills: 1 };
        assert_eq!(trade_through(NaiveBook::default()), one);
        assert_eq!(trade_through(PerpxBook::default()), one);
        assert_eq!(trade_through(Lobster::new(3, 8)), one);
        assert_eq!(trade_through(RustOb::new(3)), one);
        assert_eq!(trade_through(RustOrderBook::new(3)).volume, one.volume);
        assert_eq!(trade_through(OrderbookRs::new(3)), one);
    }

    /// matchcore 0.4.0 matches a crossing limit order with no limit price
    /// (`match_order(…, None, …)` in `submit_crossable_order` and in the amend path), so it
    /// trades through its limit: here it buys the ask at 105 too.
    #[test]
    fn matchcore_0_4_0_trades_through_the_limit() {
        assert_eq!(trade_through(Matchcore::new(3)), Traded { volume: 2, fills: 2 });
    }
}
