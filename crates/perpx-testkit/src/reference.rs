//! A naive reference model of the book-level rules of `docs/ENGINE.md`, written from the
//! document and not from the engine's code.
//!
//! Everything here is the obvious, slow version: each side of a book is a
//! `BTreeMap<price, VecDeque<order>>`, every lookup is a linear scan, the fill-or-kill pre-check
//! runs the matcher on a *copy* of the book, and client order ids are held while
//! `now < accepted_at + retention` or the order is still open, evaluated when asked (no expiry
//! queue). The model answers every command with the sequence of [`Outcome`]s the engine's events
//! must reduce to, and exposes its books as [`MarketSnapshot`]s to compare with the engine's.
//!
//! What the model does not do: it trusts that every created market's specification is valid
//! (specification validation is unit-tested in `perpx-core`), and it compares rejections by
//! their code only, not by the figures they carry.

use std::collections::{BTreeMap, VecDeque};

use perpx_core::{
    AccountId, Amend, CancelReason, ClientOrderId, Command, CommandKind, EngineConfig, Fill, MarketId, MarketSpec,
    NewOrder, OrderId, OrderRef, OrderStatus, OrderType, Price, Qty, QueuePriority, Quote, Side, StpMode, TimeInForce,
    TradeId,
};

/// Reject codes (`docs/ENGINE.md`, "Reject codes"), as the model names them.
pub mod code {
    /// 1001
    pub const TIMESTAMP_REGRESSION: u16 = 1001;
    /// 2001
    pub const UNKNOWN_MARKET: u16 = 2001;
    /// 2002
    pub const NO_MARK_PRICE: u16 = 2002;
    /// 2003
    pub const DUPLICATE_SYMBOL: u16 = 2003;
    /// 2004
    pub const INVALID_MARKET_SPEC: u16 = 2004;
    /// 2005
    pub const TOO_MANY_MARKETS: u16 = 2005;
    /// 2006
    pub const NON_POSITIVE_MARK: u16 = 2006;
    /// 3001
    pub const NON_POSITIVE_QTY: u16 = 3001;
    /// 3002
    pub const QTY_ABOVE_MAX: u16 = 3002;
    /// 3003
    pub const QTY_BELOW_MIN: u16 = 3003;
    /// 3004
    pub const NOTIONAL_BELOW_MIN: u16 = 3004;
    /// 3005
    pub const NON_POSITIVE_PRICE: u16 = 3005;
    /// 3008
    pub const PRICE_OUTSIDE_BAND: u16 = 3008;
    /// 3010
    pub const NOTIONAL_OVERFLOW: u16 = 3010;
    /// 4001
    pub const POST_ONLY_WOULD_TAKE: u16 = 4001;
    /// 4002
    pub const FOK_CANNOT_FILL: u16 = 4002;
    /// 4003
    pub const TOO_MANY_OPEN_ORDERS: u16 = 4003;
    /// 4004
    pub const TOO_MANY_PRICE_LEVELS: u16 = 4004;
    /// 4005
    pub const UNKNOWN_ORDER: u16 = 4005;
    /// 4006
    pub const NOTHING_TO_AMEND: u16 = 4006;
}

/// What a command did, one item per engine event, in event order. Engine events reduce to
/// these with [`crate::compare::outcomes`]; rejections are compared by code only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A market was created.
    MarketCreated {
        /// Its id.
        market: MarketId,
        /// Its symbol.
        symbol: String,
    },
    /// A mark price was set.
    MarkSet {
        /// The market.
        market: MarketId,
        /// The mark.
        price: Price,
    },
    /// An order was accepted.
    Accepted {
        /// Its new id.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// Side.
        side: Side,
        /// Type and time in force as submitted.
        order_type: OrderType,
        /// Size.
        qty: Qty,
        /// Client id.
        client_id: Option<ClientOrderId>,
        /// STP mode.
        stp: StpMode,
    },
    /// A trade.
    Fill(Fill),
    /// An order was amended.
    Amended {
        /// Its id.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The price now.
        price: Price,
        /// The open size now (before any crossing trade).
        qty: Qty,
        /// Whether it kept its place.
        priority: QueuePriority,
    },
    /// An order (or its rest) left the book unfilled.
    Cancelled {
        /// Its id.
        order_id: OrderId,
        /// Owner.
        account: AccountId,
        /// Market.
        market: MarketId,
        /// The size cancelled.
        qty: Qty,
        /// Why.
        reason: CancelReason,
    },
    /// A reused client id: nothing placed, the holder's status reported.
    Duplicate {
        /// Owner.
        account: AccountId,
        /// The id.
        client_id: ClientOrderId,
        /// The holder.
        order_id: OrderId,
        /// Its market.
        market: MarketId,
        /// Its status.
        status: OrderStatus,
        /// Filled so far.
        filled: Qty,
        /// Still open.
        open: Qty,
    },
    /// The command was refused with this reject code.
    Rejected {
        /// The code.
        code: u16,
    },
}

/// One order in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSnapshot {
    /// Its id.
    pub id: OrderId,
    /// Owner.
    pub account: AccountId,
    /// Limit price.
    pub price: Price,
    /// Open size.
    pub qty: Qty,
    /// Filled so far (across amends).
    pub filled: Qty,
    /// Client id.
    pub client_id: Option<ClientOrderId>,
    /// Placed post-only.
    pub post_only: bool,
    /// STP mode.
    pub stp: StpMode,
}

/// One price level in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelSnapshot {
    /// The price.
    pub price: Price,
    /// Σ open size (as the book reports it).
    pub total: Qty,
    /// Number of orders (as the book reports it).
    pub count: u32,
    /// The orders in queue order.
    pub orders: Vec<OrderSnapshot>,
}

/// A market as comparable data: mark and both sides, levels in priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketSnapshot {
    /// The mark.
    pub mark: Option<Price>,
    /// Bids, best (highest) first.
    pub bids: Vec<LevelSnapshot>,
    /// Asks, best (lowest) first.
    pub asks: Vec<LevelSnapshot>,
}

/// An order resting in the model's book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefOrder {
    /// Id.
    pub id: u64,
    /// Owner.
    pub account: u64,
    /// Side.
    pub side: Side,
    /// Limit price (ticks).
    pub price: i64,
    /// Open size (lots).
    pub qty: i64,
    /// Filled so far (lots).
    pub filled: i64,
    /// Post-only.
    pub post_only: bool,
    /// STP mode.
    pub stp: StpMode,
    /// Client id.
    pub client_id: Option<ClientOrderId>,
}

/// The numbers of a market spec the model needs, as plain integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefMarketParams {
    /// Symbol.
    pub symbol: String,
    /// Minimum size (lots).
    pub min_qty: i64,
    /// Maximum size (lots).
    pub max_order_qty: i64,
    /// Minimum notional (micro-units).
    pub min_notional: i64,
    /// Micro-units per tick per lot.
    pub quote_per_tick_lot: i64,
    /// The order band (1e-8).
    pub band: i64,
    /// Open orders per account.
    pub max_open_orders: usize,
    /// Levels per side.
    pub max_levels: usize,
    /// Maker fee (1e-8; negative is a rebate).
    pub maker_fee: i64,
    /// Taker fee (1e-8).
    pub taker_fee: i64,
}

/// The fee on `notional` micro-units at `rate` (1e-8): charges rounded up, rebates rounded down.
fn fee(notional: i64, rate: i64) -> i64 {
    let p = i128::from(notional) * i128::from(rate.abs());
    let mag = if rate >= 0 { (p + 99_999_999) / 100_000_000 } else { p / 100_000_000 };
    i64::try_from(if rate >= 0 { mag } else { -mag }).expect("fee fits")
}

impl RefMarketParams {
    /// Reads the numbers off a (valid) spec. `quote_per_tick_lot` is derived here from the
    /// decimals: `tick × lot × 10^6`.
    ///
    /// # Panics
    /// If the product is not a whole number of micro-units (an invalid spec).
    #[must_use]
    pub fn from_spec(spec: &MarketSpec) -> Self {
        let mantissa = i128::from(spec.tick_size.mantissa) * i128::from(spec.lot_size.mantissa);
        let scale = u32::from(spec.tick_size.scale) + u32::from(spec.lot_size.scale);
        let micro = if scale <= 6 {
            mantissa * 10i128.pow(6 - scale)
        } else {
            let d = 10i128.pow(scale - 6);
            assert_eq!(mantissa % d, 0, "tick × lot is not whole micro-units");
            mantissa / d
        };
        Self {
            symbol: spec.symbol.clone(),
            min_qty: spec.min_qty.0,
            max_order_qty: spec.limits.max_order_qty.0,
            min_notional: spec.min_notional.0,
            quote_per_tick_lot: i64::try_from(micro).expect("scale fits i64"),
            band: spec.order_band.0,
            max_open_orders: spec.limits.max_open_orders_per_account as usize,
            max_levels: spec.limits.max_price_levels as usize,
            maker_fee: spec.maker_fee.0,
            taker_fee: spec.taker_fee.0,
        }
    }
}

/// One side of a book: price → FIFO queue.
type Levels = BTreeMap<i64, VecDeque<RefOrder>>;

/// A market in the model.
#[derive(Debug, Clone)]
pub struct RefMarket {
    /// Its numbers.
    pub params: RefMarketParams,
    /// The mark (ticks).
    pub mark: Option<i64>,
    bids: Levels,
    asks: Levels,
}

impl RefMarket {
    fn new(params: RefMarketParams) -> Self {
        Self { params, mark: None, bids: Levels::new(), asks: Levels::new() }
    }

    fn side(&self, side: Side) -> &Levels {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut Levels {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The best price of a side: the highest bid, the lowest ask.
    #[must_use]
    pub fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }

    /// Every order of the market, bids then asks, in priority order.
    pub fn orders(&self) -> impl Iterator<Item = &RefOrder> {
        self.bids.values().rev().chain(self.asks.values()).flat_map(|q| q.iter())
    }

    /// An open order by id (linear scan).
    #[must_use]
    pub fn find(&self, id: u64) -> Option<&RefOrder> {
        self.orders().find(|o| o.id == id)
    }

    /// Number of open orders of `account` (linear scan).
    #[must_use]
    pub fn open_orders_of(&self, account: u64) -> usize {
        self.orders().filter(|o| o.account == account).count()
    }

    /// Number of levels on a side.
    #[must_use]
    pub fn level_count(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// Σ open size on a side.
    #[must_use]
    pub fn side_total(&self, side: Side) -> i64 {
        self.side(side).values().flatten().map(|o| o.qty).sum()
    }

    /// The band `[⌈mark (1 − band)⌉, ⌊mark (1 + band)⌋]`, the low edge at least one tick and
    /// the high edge saturating at `i64::MAX`.
    #[must_use]
    pub fn band(&self) -> Option<(i64, i64)> {
        let mark = i128::from(self.mark?);
        let one = 100_000_000i128;
        let band = i128::from(self.params.band);
        let low_num = mark * (one - band);
        let low = (low_num + one - 1) / one; // positive numerator: this is the ceiling
        let high = mark * (one + band) / one; // positive: truncation is the floor
        let low = i64::try_from(low).unwrap_or(i64::MAX).max(1);
        let high = i64::try_from(high).unwrap_or(i64::MAX);
        Some((low, high))
    }

    /// `price × qty` in micro-units if it fits an `i64`.
    #[must_use]
    pub fn notional(&self, price: i64, qty: i64) -> Option<i64> {
        let v = i128::from(price) * i128::from(qty) * i128::from(self.params.quote_per_tick_lot);
        i64::try_from(v).ok()
    }

    fn remove(&mut self, id: u64) -> Option<RefOrder> {
        for side in [Side::Buy, Side::Sell] {
            let levels = self.side_mut(side);
            let mut found = None;
            for (price, queue) in levels.iter_mut() {
                if let Some(pos) = queue.iter().position(|o| o.id == id) {
                    found = Some((*price, queue.remove(pos).expect("position is valid")));
                    break;
                }
            }
            if let Some((price, order)) = found {
                if levels.get(&price).is_some_and(VecDeque::is_empty) {
                    levels.remove(&price);
                }
                return Some(order);
            }
        }
        None
    }

    fn push_back(&mut self, order: RefOrder) {
        assert!(order.qty > 0, "model bug: resting a non-positive size");
        self.side_mut(order.side).entry(order.price).or_default().push_back(order);
    }

    /// Matches a taker for `qty` against this book: best price first, then queue order, at the
    /// maker's price; the taker's STP mode decides what happens at an order of its own account.
    /// Returns what is left of the taker and whether STP stopped it; makers that left the book
    /// are pushed to `retired` with their final status.
    fn match_taker(
        &mut self,
        market: MarketId,
        t: RefTaker,
        qty: i64,
        next_trade_id: &mut u64,
        out: &mut Vec<Outcome>,
        retired: &mut Vec<(RefOrder, OrderStatus)>,
    ) -> (i64, bool) {
        let mut remaining = qty;
        let maker_side = t.side.opposite();
        let (qptl, maker_rate, taker_rate) =
            (self.params.quote_per_tick_lot, self.params.maker_fee, self.params.taker_fee);
        while remaining > 0 {
            let Some(best) = self.best(maker_side) else {
                break;
            };
            if !crosses(t.side, t.limit, best) {
                break;
            }
            let queue = self.side_mut(maker_side).get_mut(&best).expect("best level");
            let front = queue.front_mut().expect("levels are never empty");
            if front.account == t.account {
                if matches!(t.stp, StpMode::ExpireMaker | StpMode::ExpireBoth) {
                    let maker = queue.pop_front().expect("front exists");
                    if queue.is_empty() {
                        self.side_mut(maker_side).remove(&best);
                    }
                    out.push(Outcome::Cancelled {
                        order_id: OrderId(maker.id),
                        account: AccountId(maker.account),
                        market,
                        qty: Qty(maker.qty),
                        reason: CancelReason::SelfTradePrevention,
                    });
                    retired.push((maker, OrderStatus::Cancelled(CancelReason::SelfTradePrevention)));
                }
                if matches!(t.stp, StpMode::ExpireTaker | StpMode::ExpireBoth) {
                    return (remaining, true);
                }
                continue;
            }
            let q = remaining.min(front.qty);
            front.qty -= q;
            front.filled += q;
            remaining -= q;
            out.push(Outcome::Fill(Fill {
                market,
                trade_id: TradeId(*next_trade_id),
                price: Price(best),
                qty: Qty(q),
                taker_side: t.side,
                maker_order: OrderId(front.id),
                maker_account: AccountId(front.account),
                maker_remaining: Qty(front.qty),
                taker_order: OrderId(t.id),
                taker_account: AccountId(t.account),
                taker_remaining: Qty(remaining),
                maker_fee: Quote(fee(best * q * qptl, maker_rate)),
                taker_fee: Quote(fee(best * q * qptl, taker_rate)),
            }));
            *next_trade_id += 1;
            if front.qty == 0 {
                let done = queue.pop_front().expect("front exists");
                if queue.is_empty() {
                    self.side_mut(maker_side).remove(&best);
                }
                retired.push((done, OrderStatus::Filled));
            }
        }
        (remaining, false)
    }

    /// The model's book as comparable data.
    #[must_use]
    pub fn snapshot(&self) -> MarketSnapshot {
        let level = |(price, queue): (&i64, &VecDeque<RefOrder>)| LevelSnapshot {
            price: Price(*price),
            total: Qty(queue.iter().map(|o| o.qty).sum()),
            count: u32::try_from(queue.len()).expect("small"),
            orders: queue
                .iter()
                .map(|o| OrderSnapshot {
                    id: OrderId(o.id),
                    account: AccountId(o.account),
                    price: Price(o.price),
                    qty: Qty(o.qty),
                    filled: Qty(o.filled),
                    client_id: o.client_id.clone(),
                    post_only: o.post_only,
                    stp: o.stp,
                })
                .collect(),
        };
        MarketSnapshot {
            mark: self.mark.map(Price),
            bids: self.bids.iter().rev().map(level).collect(),
            asks: self.asks.iter().map(level).collect(),
        }
    }
}

/// A client id's holder, in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefClientId {
    /// The order.
    pub order_id: u64,
    /// Its market.
    pub market: u32,
    /// When it was accepted (ms).
    pub accepted_at: i64,
    /// `None` while open; final status and filled size once it left the book.
    pub terminal: Option<(OrderStatus, i64)>,
}

/// Whether a buy (sell) at `limit` trades with a resting ask (bid) at `resting`.
fn crosses(side: Side, limit: i64, resting: i64) -> bool {
    match side {
        Side::Buy => resting <= limit,
        Side::Sell => resting >= limit,
    }
}

/// The incoming side of a match.
#[derive(Debug, Clone, Copy)]
struct RefTaker {
    id: u64,
    account: u64,
    side: Side,
    limit: i64,
    stp: StpMode,
}

/// The reference model: markets, ids, clock and client id registry.
#[derive(Debug, Clone)]
pub struct RefEngine {
    max_markets: usize,
    retention_ms: i64,
    now: i64,
    markets: Vec<RefMarket>,
    next_order_id: u64,
    next_trade_id: u64,
    client_ids: BTreeMap<(u64, ClientOrderId), RefClientId>,
}

type Step = Result<(), u16>;

impl RefEngine {
    /// An empty model with the engine's settings.
    #[must_use]
    pub fn new(config: &EngineConfig) -> Self {
        Self {
            max_markets: config.max_markets as usize,
            retention_ms: config.client_order_retention_ms,
            now: 0,
            markets: Vec::new(),
            next_order_id: 1,
            next_trade_id: 1,
            client_ids: BTreeMap::new(),
        }
    }

    /// The clock (ms).
    #[must_use]
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The markets, in id order.
    #[must_use]
    pub fn markets(&self) -> &[RefMarket] {
        &self.markets
    }

    /// The id the next accepted order will get.
    #[must_use]
    pub fn next_order_id(&self) -> u64 {
        self.next_order_id
    }

    /// Whether `(account, id)` is held now.
    #[must_use]
    pub fn client_id_held(&self, account: u64, id: &ClientOrderId) -> bool {
        self.client_ids.get(&(account, id.clone())).is_some_and(|e| self.held(e))
    }

    /// Every client id entry (held or stale), sorted.
    pub fn client_ids(&self) -> impl Iterator<Item = (&(u64, ClientOrderId), &RefClientId)> {
        self.client_ids.iter()
    }

    fn held(&self, e: &RefClientId) -> bool {
        e.terminal.is_none() || self.now < e.accepted_at.saturating_add(self.retention_ms)
    }

    /// Applies one command and returns what it did.
    pub fn apply(&mut self, cmd: &Command) -> Vec<Outcome> {
        let mut out = Vec::new();
        if cmd.ts.0 < self.now {
            out.push(Outcome::Rejected { code: code::TIMESTAMP_REGRESSION });
            return out;
        }
        self.now = cmd.ts.0;
        let result = match &cmd.kind {
            CommandKind::CreateMarket(spec) => self.create_market(spec, &mut out),
            CommandKind::SetMark { market, price } => self.set_mark(*market, *price, &mut out),
            CommandKind::PlaceOrder(o) => self.place(o, &mut out),
            CommandKind::AmendOrder(a) => self.amend(a, &mut out),
            CommandKind::CancelOrder { account, market, order } => self.cancel(*account, *market, order, &mut out),
            CommandKind::CancelAll { account, market } => self.cancel_all(*account, *market, &mut out),
            CommandKind::MassCancel { market } => self.mass_cancel(*market, &mut out),
            // The book model keeps no accounts: streams fund every account before trading, with
            // far more collateral than any order needs, so margin never binds here.
            CommandKind::Tick
            | CommandKind::Deposit { .. }
            | CommandKind::Withdraw { .. }
            | CommandKind::SetLeverage { .. }
            | CommandKind::SetMarginMode { .. }
            | CommandKind::AdjustIsolatedMargin { .. }
            | CommandKind::OraclePrice { .. } => Ok(()),
            CommandKind::PlaceStop(_)
            | CommandKind::SetLiquidator { .. }
            | CommandKind::CapitaliseFund { .. }
            | CommandKind::Halt { .. }
            | CommandKind::Resume { .. }
            | CommandKind::ScheduleParams { .. }
            | CommandKind::Delist { .. }
            | CommandKind::AdminAudit { .. } => unreachable!("book streams send no stops or lifecycle commands"),
        };
        if let Err(code) = result {
            assert!(out.is_empty(), "model bug: a rejection after outcomes");
            out.push(Outcome::Rejected { code });
        }
        out
    }

    fn market(&self, id: MarketId) -> Result<&RefMarket, u16> {
        self.markets.get(id.0 as usize).ok_or(code::UNKNOWN_MARKET)
    }

    fn create_market(&mut self, spec: &MarketSpec, out: &mut Vec<Outcome>) -> Step {
        if self.markets.len() >= self.max_markets {
            return Err(code::TOO_MANY_MARKETS);
        }
        if self.markets.iter().any(|m| m.params.symbol == spec.symbol) {
            return Err(code::DUPLICATE_SYMBOL);
        }
        let id = MarketId(u32::try_from(self.markets.len()).expect("few markets"));
        self.markets.push(RefMarket::new(RefMarketParams::from_spec(spec)));
        out.push(Outcome::MarketCreated { market: id, symbol: spec.symbol.clone() });
        Ok(())
    }

    fn set_mark(&mut self, market: MarketId, price: Price, out: &mut Vec<Outcome>) -> Step {
        self.market(market)?;
        if price.0 <= 0 {
            return Err(code::NON_POSITIVE_MARK);
        }
        self.markets[market.0 as usize].mark = Some(price.0);
        out.push(Outcome::MarkSet { market, price });
        Ok(())
    }

    /// Records that an order left the book (for its client id).
    fn retire(&mut self, order: &RefOrder, status: OrderStatus) {
        if let Some(c) = &order.client_id {
            let e = self
                .client_ids
                .get_mut(&(order.account, c.clone()))
                .expect("model bug: an open order's client id is not held");
            e.terminal = Some((status, order.filled));
        }
    }

    fn place(&mut self, o: &NewOrder, out: &mut Vec<Outcome>) -> Step {
        let m = self.market(o.market)?;
        // 2. client id reuse: answered, not rejected.
        if let Some(c) = &o.client_id {
            let key = (o.account.0, c.clone());
            if let Some(e) = self.client_ids.get(&key) {
                if self.held(e) {
                    let (status, filled, open) = match e.terminal {
                        Some((status, filled)) => (status, filled, 0),
                        None => {
                            let r = self.markets[e.market as usize]
                                .find(e.order_id)
                                .expect("model bug: open holder not in its book");
                            (OrderStatus::Open, r.filled, r.qty)
                        }
                    };
                    out.push(Outcome::Duplicate {
                        account: o.account,
                        client_id: c.clone(),
                        order_id: OrderId(e.order_id),
                        market: MarketId(e.market),
                        status,
                        filled: Qty(filled),
                        open: Qty(open),
                    });
                    return Ok(());
                }
            }
        }
        // 3. size.
        let qty = o.qty.0;
        if qty <= 0 {
            return Err(code::NON_POSITIVE_QTY);
        }
        if qty > m.params.max_order_qty {
            return Err(code::QTY_ABOVE_MAX);
        }
        if qty < m.params.min_qty {
            return Err(code::QTY_BELOW_MIN);
        }
        // 4. a mark.
        let Some(mark) = m.mark else {
            return Err(code::NO_MARK_PRICE);
        };
        let (low, high) = m.band().expect("a mark gives a band");
        // 5. price and band; market orders take the band edge as their limit.
        let (tif, limit, reference_price) = match o.order_type {
            OrderType::Limit { price, tif } => {
                if price.0 <= 0 {
                    return Err(code::NON_POSITIVE_PRICE);
                }
                if price.0 < low || price.0 > high {
                    return Err(code::PRICE_OUTSIDE_BAND);
                }
                (Some(tif), price.0, price.0)
            }
            OrderType::Market => {
                let edge = match o.side {
                    Side::Buy => high,
                    Side::Sell => low,
                };
                (None, edge, mark)
            }
        };
        // 6. notional: representable at the limit (and at the mark for market orders), and
        // at least the minimum at the limit (the mark for market orders).
        if m.notional(limit, qty).is_none() {
            return Err(code::NOTIONAL_OVERFLOW);
        }
        let Some(notional) = m.notional(reference_price, qty) else {
            return Err(code::NOTIONAL_OVERFLOW);
        };
        if notional < m.params.min_notional {
            return Err(code::NOTIONAL_BELOW_MIN);
        }
        // 7. limits, for orders that can rest.
        if matches!(tif, Some(TimeInForce::Gtc | TimeInForce::PostOnly)) {
            if m.open_orders_of(o.account.0) >= m.params.max_open_orders {
                return Err(code::TOO_MANY_OPEN_ORDERS);
            }
            let side = m.side(o.side);
            if !side.contains_key(&limit) && side.len() >= m.params.max_levels {
                return Err(code::TOO_MANY_PRICE_LEVELS);
            }
        }
        let taker = RefTaker { id: self.next_order_id, account: o.account.0, side: o.side, limit, stp: o.stp };
        // 8. post-only must not cross.
        if tif == Some(TimeInForce::PostOnly)
            && m.best(o.side.opposite()).is_some_and(|best| crosses(o.side, limit, best))
        {
            return Err(code::POST_ONLY_WOULD_TAKE);
        }
        // 9. fill-or-kill: run the matcher on a scratch copy of the book and see if it fills.
        if tif == Some(TimeInForce::Fok) {
            let mut scratch = m.clone();
            let mut trade_id = self.next_trade_id;
            let (remaining, _) =
                scratch.match_taker(o.market, taker, qty, &mut trade_id, &mut Vec::new(), &mut Vec::new());
            if remaining > 0 {
                return Err(code::FOK_CANNOT_FILL);
            }
        }

        // Accepted.
        let id = self.next_order_id;
        self.next_order_id += 1;
        if let Some(c) = &o.client_id {
            self.client_ids.insert(
                (o.account.0, c.clone()),
                RefClientId { order_id: id, market: o.market.0, accepted_at: self.now, terminal: None },
            );
        }
        out.push(Outcome::Accepted {
            order_id: OrderId(id),
            account: o.account,
            market: o.market,
            side: o.side,
            order_type: o.order_type,
            qty: o.qty,
            client_id: o.client_id.clone(),
            stp: o.stp,
        });
        let (remaining, stopped) = self.match_taker(o.market, taker, qty, out);
        let order = RefOrder {
            id,
            account: o.account.0,
            side: o.side,
            price: limit,
            qty: remaining,
            filled: qty - remaining,
            post_only: tif == Some(TimeInForce::PostOnly),
            stp: o.stp,
            client_id: o.client_id.clone(),
        };
        let reason = if stopped {
            Some(CancelReason::SelfTradePrevention)
        } else {
            match tif {
                Some(TimeInForce::Gtc | TimeInForce::PostOnly) => None,
                Some(TimeInForce::Ioc | TimeInForce::Fok) => Some(CancelReason::IocRemainder),
                None => Some(CancelReason::MarketRemainder),
            }
        };
        self.finish(o.market, order, reason, out);
        Ok(())
    }

    /// After a match: a filled order is done; otherwise its rest rests or is cancelled.
    fn finish(&mut self, market: MarketId, order: RefOrder, reason: Option<CancelReason>, out: &mut Vec<Outcome>) {
        if order.qty == 0 {
            self.retire(&order, OrderStatus::Filled);
            return;
        }
        match reason {
            None => self.markets[market.0 as usize].push_back(order),
            Some(reason) => {
                self.retire(&order, OrderStatus::Cancelled(reason));
                out.push(Outcome::Cancelled {
                    order_id: OrderId(order.id),
                    account: AccountId(order.account),
                    market,
                    qty: Qty(order.qty),
                    reason,
                });
            }
        }
    }

    /// Matches a taker for `qty`; returns what is left and whether STP stopped it.
    fn match_taker(&mut self, market: MarketId, t: RefTaker, qty: i64, out: &mut Vec<Outcome>) -> (i64, bool) {
        let mut retired = Vec::new();
        let result =
            self.markets[market.0 as usize].match_taker(market, t, qty, &mut self.next_trade_id, out, &mut retired);
        for (order, status) in retired {
            self.retire(&order, status);
        }
        result
    }

    /// The open order `r` names for `account` in `market`, or `unknown_order`.
    fn resolve(&self, account: AccountId, market: MarketId, r: &OrderRef) -> Result<u64, u16> {
        let m = self.market(market)?;
        let id = match r {
            OrderRef::Id(id) => id.0,
            OrderRef::Client(c) => {
                let e = self.client_ids.get(&(account.0, c.clone())).ok_or(code::UNKNOWN_ORDER)?;
                if e.terminal.is_some() || e.market != market.0 {
                    return Err(code::UNKNOWN_ORDER);
                }
                e.order_id
            }
        };
        match m.find(id) {
            Some(o) if o.account == account.0 => Ok(id),
            _ => Err(code::UNKNOWN_ORDER),
        }
    }

    fn amend(&mut self, a: &Amend, out: &mut Vec<Outcome>) -> Step {
        let id = self.resolve(a.account, a.market, &a.order)?;
        let m = self.market(a.market)?;
        let cur = m.find(id).expect("resolved").clone();
        let price = a.price.map_or(cur.price, |p| p.0);
        let qty = a.qty.map_or(cur.qty, |q| q.0);
        if price == cur.price && qty == cur.qty {
            return Err(code::NOTHING_TO_AMEND);
        }
        if qty <= 0 {
            return Err(code::NON_POSITIVE_QTY);
        }
        if qty > m.params.max_order_qty {
            return Err(code::QTY_ABOVE_MAX);
        }
        if price != cur.price {
            if price <= 0 {
                return Err(code::NON_POSITIVE_PRICE);
            }
            let (low, high) = m.band().ok_or(code::NO_MARK_PRICE)?;
            if price < low || price > high {
                return Err(code::PRICE_OUTSIDE_BAND);
            }
            let side = m.side(cur.side);
            // Moving the only order of a level frees that level: the count does not grow.
            let frees_its_level = side.get(&cur.price).is_some_and(|q| q.len() == 1);
            if !side.contains_key(&price) && side.len() >= m.params.max_levels && !frees_its_level {
                return Err(code::TOO_MANY_PRICE_LEVELS);
            }
        }
        if m.notional(price, qty).is_none() {
            return Err(code::NOTIONAL_OVERFLOW);
        }
        let crossing = m.best(cur.side.opposite()).is_some_and(|best| crosses(cur.side, price, best));
        if crossing && cur.post_only {
            return Err(code::POST_ONLY_WOULD_TAKE);
        }

        let amended = |priority| Outcome::Amended {
            order_id: OrderId(id),
            account: a.account,
            market: a.market,
            price: Price(price),
            qty: Qty(qty),
            priority,
        };
        let mi = a.market.0 as usize;
        if price == cur.price && qty < cur.qty {
            // Same price, smaller size: it keeps its place in the queue.
            let queue = self.markets[mi].side_mut(cur.side).get_mut(&cur.price).expect("its level");
            let o = queue.iter_mut().find(|o| o.id == id).expect("resolved");
            o.qty = qty;
            out.push(amended(QueuePriority::Kept));
            return Ok(());
        }
        // Otherwise it leaves the queue and arrives anew at the back of its (new) level.
        let mut order = self.markets[mi].remove(id).expect("resolved");
        out.push(amended(QueuePriority::Lost));
        order.price = price;
        order.qty = qty;
        if crossing {
            let taker = RefTaker { id, account: a.account.0, side: cur.side, limit: price, stp: cur.stp };
            let (remaining, stopped) = self.match_taker(a.market, taker, qty, out);
            order.filled += qty - remaining;
            order.qty = remaining;
            let reason = stopped.then_some(CancelReason::SelfTradePrevention);
            self.finish(a.market, order, reason, out);
        } else {
            self.markets[mi].push_back(order);
        }
        Ok(())
    }

    fn cancel(&mut self, account: AccountId, market: MarketId, r: &OrderRef, out: &mut Vec<Outcome>) -> Step {
        let id = self.resolve(account, market, r)?;
        self.cancel_ids(market, &[id], CancelReason::UserRequest, out);
        Ok(())
    }

    fn cancel_ids(&mut self, market: MarketId, ids: &[u64], reason: CancelReason, out: &mut Vec<Outcome>) {
        for id in ids {
            let order = self.markets[market.0 as usize].remove(*id).expect("cancelled order is open");
            self.retire(&order, OrderStatus::Cancelled(reason));
            out.push(Outcome::Cancelled {
                order_id: OrderId(order.id),
                account: AccountId(order.account),
                market,
                qty: Qty(order.qty),
                reason,
            });
        }
    }

    fn cancel_all(&mut self, account: AccountId, market: Option<MarketId>, out: &mut Vec<Outcome>) -> Step {
        let markets: Vec<MarketId> = match market {
            Some(id) => {
                self.market(id)?;
                vec![id]
            }
            None => (0..self.markets.len()).map(|i| MarketId(u32::try_from(i).expect("few markets"))).collect(),
        };
        for id in markets {
            let mut ids: Vec<u64> =
                self.markets[id.0 as usize].orders().filter(|o| o.account == account.0).map(|o| o.id).collect();
            ids.sort_unstable();
            self.cancel_ids(id, &ids, CancelReason::CancelAll, out);
        }
        Ok(())
    }

    fn mass_cancel(&mut self, market: MarketId, out: &mut Vec<Outcome>) -> Step {
        let mut ids: Vec<u64> = self.market(market)?.orders().map(|o| o.id).collect();
        ids.sort_unstable();
        self.cancel_ids(market, &ids, CancelReason::MassCancel, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The model against the document's own examples, so it is trusted on its own terms and not
    //! only because it agrees with the engine.

    use super::*;
    use crate::fixtures::{amend, by_id, create_market, limit, limit_with, set_mark, test_spec};

    fn model() -> RefEngine {
        let mut m = RefEngine::new(&EngineConfig::default());
        m.apply(&create_market(0, test_spec()));
        m.apply(&set_mark(0, 0, 1_000));
        m
    }

    fn queue(m: &RefEngine, side: Side) -> Vec<(i64, Vec<u64>)> {
        let s = m.markets()[0].snapshot();
        let levels = if side == Side::Buy { s.bids } else { s.asks };
        levels.into_iter().map(|l| (l.price.0, l.orders.iter().map(|o| o.id.0).collect())).collect()
    }

    #[test]
    fn best_price_first_then_earliest_at_the_makers_price() {
        let mut m = model();
        m.apply(&limit(1, 1, 0, Side::Sell, 1_002, 3, TimeInForce::Gtc)); // #1
        m.apply(&limit(1, 2, 0, Side::Sell, 1_001, 3, TimeInForce::Gtc)); // #2
        m.apply(&limit(1, 3, 0, Side::Sell, 1_001, 3, TimeInForce::Gtc)); // #3
        let out = m.apply(&limit(2, 4, 0, Side::Buy, 1_002, 7, TimeInForce::Ioc));
        let fills: Vec<(u64, i64, i64)> = out
            .iter()
            .filter_map(|o| match o {
                Outcome::Fill(f) => Some((f.maker_order.0, f.price.0, f.qty.0)),
                _ => None,
            })
            .collect();
        assert_eq!(fills, vec![(2, 1_001, 3), (3, 1_001, 3), (1, 1_002, 1)]);
        assert_eq!(queue(&m, Side::Sell), vec![(1_002, vec![1])]);
    }

    #[test]
    fn the_takers_stp_mode_decides() {
        for (stp, maker_stays, taker_goes_on) in [
            (StpMode::ExpireTaker, true, false),
            (StpMode::ExpireMaker, false, true),
            (StpMode::ExpireBoth, false, false),
        ] {
            let mut m = model();
            m.apply(&limit(1, 1, 0, Side::Sell, 1_001, 3, TimeInForce::Gtc)); // #1, own
            m.apply(&limit(1, 2, 0, Side::Sell, 1_002, 3, TimeInForce::Gtc)); // #2
            let taker = limit_with(2, 1, 0, Side::Buy, 1_002, 3, TimeInForce::Gtc, stp, None);
            let out = m.apply(&taker);
            let traded = out.iter().any(|o| matches!(o, Outcome::Fill(_)));
            assert_eq!(traded, taker_goes_on, "{stp:?}: {out:?}");
            let asks = queue(&m, Side::Sell);
            assert_eq!(asks.iter().any(|(_, ids)| ids.contains(&1)), maker_stays, "{stp:?}");
            // The taker's rest is cancelled by STP unless it went on (and then it filled).
            let bids = queue(&m, Side::Buy);
            assert!(bids.is_empty(), "{stp:?}: {bids:?}");
        }
    }

    #[test]
    fn amends_keep_priority_only_when_the_size_goes_down() {
        let mut m = model();
        m.apply(&limit(1, 1, 0, Side::Buy, 990, 5, TimeInForce::Gtc)); // #1
        m.apply(&limit(1, 2, 0, Side::Buy, 990, 5, TimeInForce::Gtc)); // #2
        m.apply(&amend(2, 1, 0, by_id(1), None, Some(4)));
        assert_eq!(queue(&m, Side::Buy), vec![(990, vec![1, 2])]);
        m.apply(&amend(2, 1, 0, by_id(1), None, Some(6)));
        assert_eq!(queue(&m, Side::Buy), vec![(990, vec![2, 1])]);
        m.apply(&amend(2, 2, 0, by_id(2), Some(991), None));
        assert_eq!(queue(&m, Side::Buy), vec![(991, vec![2]), (990, vec![1])]);
    }

    #[test]
    fn fill_or_kill_counts_only_what_stp_lets_it_reach() {
        let mut m = model();
        m.apply(&limit(1, 2, 0, Side::Sell, 1_001, 3, TimeInForce::Gtc)); // #1
        m.apply(&limit(1, 1, 0, Side::Sell, 1_001, 3, TimeInForce::Gtc)); // #2, own
        m.apply(&limit(1, 3, 0, Side::Sell, 1_001, 3, TimeInForce::Gtc)); // #3
        let fok = |stp| limit_with(2, 1, 0, Side::Buy, 1_001, 6, TimeInForce::Fok, stp, None);
        for stp in [StpMode::ExpireTaker, StpMode::ExpireBoth] {
            let out = m.apply(&fok(stp));
            assert_eq!(out, vec![Outcome::Rejected { code: code::FOK_CANNOT_FILL }]);
        }
        // Expire-maker skips (and cancels) its own order and reaches #3.
        let out = m.apply(&fok(StpMode::ExpireMaker));
        assert_eq!(out.iter().filter(|o| matches!(o, Outcome::Fill(_))).count(), 2);
        assert!(queue(&m, Side::Sell).is_empty());
    }
}
