//! Seeded generators of venue-level command streams, where **margin binds**.
//!
//! [`crate::stream`] funds every account with 100 billion so that the book can be tested alone;
//! these streams do the opposite. Accounts hold finite collateral — some only a few dollars —
//! and trade until margin refuses them: orders sized from what the account can afford (and
//! beyond it), leverage changes (valid, above the tier, out of range), margin mode changes
//! (cross ⇄ isolated, some while the account is busy in the market and must be refused),
//! isolated margin added and removed (within and beyond what is allowed), reduce-only closes,
//! stops and take-profits on mark and on last price (market and limit), a mark that wanders
//! and sometimes jumps 5–20 %, withdrawals (within the limit, above it, of unrealised profit),
//! top-up deposits, cancels and amends, and a slice of adversarial values (zero, negative and
//! huge amounts and sizes, unknown accounts and markets, non-positive marks).
//!
//! The venue: one or two markets ([`fixtures::test_spec`], [`fixtures::btc_spec`], the latter
//! also with a maker rebate); account 1 is a well-funded market maker quoting both sides around
//! the mark so takers find liquidity; accounts 2.. are traders, account 2 always tiny, account 3
//! always comfortable. Some traders margin a market in isolation from the start (at least one
//! per stream), and traders switch modes as they go (a busy one first cancels and closes).
//! Orders may also land exactly on a margin tier's cap (or one lot past it) at a mark where the
//! cap is a whole number of lots.
//!
//! Accounts and isolated positions that fall under maintenance are **liquidated**
//! (`docs/LIQUIDATION.md`). Many streams let the engine work only one or two units per command,
//! so units wait in the queue: their accounts then send what a cancel-only account may not
//! (orders, stops, amends, withdrawals, leverage changes, margin removals) and what it may
//! (deposits that sometimes save the unit before its turn, cancels, margin adds), and `tick`s
//! drain the queue. Accounts are registered (and removed) as backstop liquidators, venue capital
//! is paid into the market funds, the shared fund and the guaranty fund (and refused when zero,
//! negative or for an unknown market), and some streams put their markets behind the shared
//! insurance fund with a draw cap, or give them a smaller backstop discount.
//!
//! A stream is a plain `Vec<Command>`, a pure function of its [`VenueConfig`] (the RNG is
//! `ChaCha8Rng::seed_from_u64`). To aim commands at what exists — cancel a resting order,
//! reduce a real position, size an order near the account's limit, set a stop just short of
//! its trigger — the generator runs a private [`Engine`] alongside and looks at it. That engine
//! only shapes the stream: the verdict on the engine under test comes from the
//! [margin model](crate::margin_model), so an engine bug can at worst skew what is generated,
//! never hide a mismatch.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use perpx_core::account::MarginMode;
use perpx_core::command::NewStop;
use perpx_core::event::{FundRef, LiquidationScope};
use perpx_core::market::InsurancePolicy;
use perpx_core::stop::{StopKind, TriggerBy};
use perpx_core::{
    AccountId, Amend, ClientOrderId, Command, CommandKind, Engine, EngineConfig, MarketId, MarketSpec, NewOrder,
    OrderId, OrderRef, OrderType, Price, Qty, Quote, Rate, Side, StpMode, TimeInForce, Timestamp,
};

use crate::fixtures;

/// Micro-units per USD.
const USD: i64 = 1_000_000;
/// The first command's timestamp.
const T0: i64 = 1_700_000_000_000;
/// An account id no stream funds.
const UNKNOWN_ACCOUNT: AccountId = AccountId(9_999);
/// A market id no stream creates.
const UNKNOWN_MARKET: MarketId = MarketId(77);

/// How a market is traded in a venue stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueMarket {
    /// Its specification.
    pub spec: MarketSpec,
    /// The first mark (ticks).
    pub mark: i64,
    /// Typical trader sizes (lots), before margin sizing.
    pub qty: (i64, i64),
}

impl VenueMarket {
    /// [`fixtures::test_spec`] at 1,000: one lot is 1,000 USD, at least 2 lots, 20x.
    #[must_use]
    pub fn test() -> Self {
        Self { spec: fixtures::test_spec(), mark: fixtures::TEST_MARK.0, qty: (2, 12) }
    }

    /// A second test market.
    #[must_use]
    pub fn test2() -> Self {
        Self { spec: fixtures::test_spec_named("TEST2-PERP"), mark: 400, qty: (5, 30) }
    }

    /// [`fixtures::btc_spec`] at 86,000.0: one lot is 86 USD, three tiers (125x, 100x, 50x).
    #[must_use]
    pub fn btc() -> Self {
        Self { spec: fixtures::btc_spec(), mark: fixtures::BTC_MARK.0, qty: (1, 300) }
    }

    /// [`fixtures::btc_spec`] as `BTC2-PERP` with a maker **rebate** of 1 bp, whose notionals
    /// (100 micro-units per tick-lot) make the rounding of rebates and fees matter.
    #[must_use]
    pub fn btc_rebate() -> Self {
        let spec = MarketSpec { symbol: "BTC2-PERP".into(), maker_fee: Rate(-10_000), ..fixtures::btc_spec() };
        Self { spec, mark: fixtures::BTC_MARK.0, qty: (1, 300) }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueConfig {
    /// The seed.
    pub seed: u64,
    /// Number of commands.
    pub commands: usize,
    /// The markets (1 or 2), created first.
    pub markets: Vec<VenueMarket>,
    /// The first deposit of accounts `1..=funding.len()` (account 1 is the market maker).
    pub funding: Vec<Quote>,
    /// Traders that choose isolated margin in a market right after their first deposit.
    pub isolated: Vec<(AccountId, MarketId)>,
    /// The engine settings the stream is meant for.
    pub engine: EngineConfig,
}

impl VenueConfig {
    /// A configuration drawn from the seed: the test market, BTC, or two of them (one with a
    /// maker rebate); 3–10 accounts: the maker with 5–20 million USD, account 2 with under
    /// 150 USD, account 3 with 3,000–150,000 USD, the others anywhere from half a dollar to
    /// 150,000. Each trader starts isolated in each market with a chance of 2 in 5, except
    /// account 3 in the first market; when none does, one trader that can afford to trade
    /// does, so that every stream trades isolated. The engine works one unit per liquidation
    /// pass in 3 streams of 5, two in 3 of 20, the default 64 in the rest; two markets stand
    /// behind the shared insurance fund (draw cap 50–5,000 USD) in a third of the streams that
    /// have two; each market has a 0.2 % backstop discount with a chance of 1 in 3.
    #[must_use]
    pub fn from_seed(seed: u64, commands: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7e57_0f5e_ed00_u64);
        let markets = match rng.random_range(0..4) {
            0 => vec![VenueMarket::test()],
            1 => vec![VenueMarket::btc()],
            2 => vec![VenueMarket::test(), VenueMarket::btc()],
            _ => vec![VenueMarket::btc_rebate(), VenueMarket::test2()],
        };
        let accounts = rng.random_range(3..=10usize);
        let mut funding = vec![Quote(rng.random_range(5_000_000..=20_000_000) * USD)];
        for i in 2..=accounts {
            let class = match i {
                2 => 0,
                3 => 2,
                _ => rng.random_range(0..3),
            };
            let micro = match class {
                0 => rng.random_range(500_000..=150 * USD),
                1 => rng.random_range(150 * USD..=3_000 * USD),
                _ => rng.random_range(3_000 * USD..=150_000 * USD),
            };
            funding.push(Quote(micro));
        }
        let mut isolated = Vec::new();
        let market_ids = || (0..markets.len()).map(Gen::market_id);
        for a in (2..=accounts).map(|a| AccountId(u64::try_from(a).expect("few accounts"))) {
            // Account 3 stays cross in the first market: every stream keeps a comfortable cross
            // trader, whose unrealised profit is the account's.
            for m in market_ids().filter(|m| a != AccountId(3) || m.0 > 0) {
                if rng.random_range(0..5) < 2 {
                    isolated.push((a, m));
                }
            }
        }
        if isolated.is_empty() {
            // One that can trade: account 3 in the second market, else another trader with
            // at least 3,000 USD, else account 3 after all.
            let able: Vec<AccountId> = (4..=accounts)
                .filter(|a| funding[a - 1].0 >= 3_000 * USD)
                .map(|a| AccountId(u64::try_from(a).expect("few accounts")))
                .collect();
            let pick = match (markets.len(), able.is_empty()) {
                (2, _) => (AccountId(3), Gen::market_id(1)),
                (_, false) => (able[rng.random_range(0..able.len())], Gen::market_id(0)),
                _ => (AccountId(3), Gen::market_id(0)),
            };
            isolated.push(pick);
        }
        // Liquidation settings, drawn after everything else: how many units a pass may work
        // (often one or two, so units wait in the queue, cancel-only), which insurance fund
        // stands behind the markets (their own, or — with two markets, now and then — the
        // shared fund with a draw cap), and the backstop discount (the default 1 %, or 0.2 %,
        // below BTC's 0.4 % maintenance rate, so that some takeovers need no gap paid).
        let max_liquidations_per_pass = match rng.random_range(0..20) {
            0..12 => 1,
            12..15 => 2,
            _ => EngineConfig::default().max_liquidations_per_pass,
        };
        let mut markets = markets;
        if markets.len() == 2 && rng.random_range(0..3) == 0 {
            let max_draw = Quote(rng.random_range(50..=5_000) * USD);
            for m in &mut markets {
                m.spec.liquidation.insurance = InsurancePolicy::Shared { max_draw };
            }
        }
        for m in &mut markets {
            if rng.random_range(0..3) == 0 {
                m.spec.liquidation.backstop_discount = Rate(200_000);
            }
        }
        // Client ids are held 20 s (a stream spans minutes), so the registry, which the state
        // hash and the invariants walk after every command, stays small.
        let engine =
            EngineConfig { client_order_retention_ms: 20_000, max_liquidations_per_pass, ..EngineConfig::default() };
        Self { seed, commands, markets, funding, isolated, engine }
    }

    /// One line describing the configuration (for failure messages).
    #[must_use]
    pub fn describe(&self) -> String {
        let symbols: Vec<&str> = self.markets.iter().map(|m| m.spec.symbol.as_str()).collect();
        let funding: Vec<i64> = self.funding.iter().map(|q| q.0 / USD).collect();
        let isolated: Vec<(u64, u32)> = self.isolated.iter().map(|(a, m)| (a.0, m.0)).collect();
        let liquidation: Vec<String> = self
            .markets
            .iter()
            .map(|m| {
                let l = &m.spec.liquidation;
                format!("{:?} discount {} bp", l.insurance, l.backstop_discount.0 / 10_000)
            })
            .collect();
        format!(
            "venue seed {} ({} commands, markets {symbols:?}, funding in USD {funding:?}, isolated (account, market) \
             {isolated:?}, {} units per pass, {liquidation:?})",
            self.seed, self.commands, self.engine.max_liquidations_per_pass
        )
    }
}

/// A generated stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueStream {
    /// The engine settings to run it with.
    pub engine: EngineConfig,
    /// The commands, in order.
    pub commands: Vec<Command>,
}

/// Generates a stream (a pure function of `cfg`).
#[must_use]
pub fn generate(cfg: &VenueConfig) -> VenueStream {
    let mut g = Gen::new(cfg);
    let mut commands = Vec::with_capacity(cfg.commands);
    while commands.len() < cfg.commands {
        let c = g.next_command();
        g.engine.apply(&c);
        commands.push(c);
    }
    VenueStream { engine: cfg.engine.clone(), commands }
}

/// One kind of command the generator makes, for a market.
type Action<'a> = fn(&mut Gen<'a>, MarketId) -> Command;

#[derive(Debug)]
struct Gen<'a> {
    cfg: &'a VenueConfig,
    rng: ChaCha8Rng,
    /// The private engine the generator aims with (see the module docs).
    engine: Engine,
    ts: i64,
    /// Commands sent before any is drawn: the venue's setup, then the rest of a planned
    /// sequence (making room for a margin mode change).
    queued: VecDeque<CommandKind>,
    fresh: u64,
}

fn qty_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl<'a> Gen<'a> {
    fn new(cfg: &'a VenueConfig) -> Self {
        let mut setup = VecDeque::new();
        for m in &cfg.markets {
            setup.push_back(CommandKind::CreateMarket(Box::new(m.spec.clone())));
        }
        for (i, m) in cfg.markets.iter().enumerate() {
            setup.push_back(CommandKind::SetMark { market: Self::market_id(i), price: Price(m.mark) });
        }
        for (i, amount) in cfg.funding.iter().enumerate() {
            let account = AccountId(u64::try_from(i).expect("few accounts") + 1);
            setup.push_back(CommandKind::Deposit { account, amount: *amount });
        }
        for (account, market) in &cfg.isolated {
            setup.push_back(CommandKind::SetMarginMode {
                account: *account,
                market: *market,
                mode: MarginMode::Isolated,
            });
        }
        Self {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            engine: Engine::new(cfg.engine.clone()),
            ts: T0,
            queued: setup,
            fresh: 0,
        }
    }

    fn market_id(i: usize) -> MarketId {
        MarketId(u32::try_from(i).expect("few markets"))
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.rng.random_range(0..1000) < per_mille
    }

    fn cmd(&self, kind: CommandKind) -> Command {
        Command { ts: Timestamp(self.ts), kind }
    }

    fn accounts(&self) -> u64 {
        u64::try_from(self.cfg.funding.len()).expect("few accounts")
    }

    fn trader(&mut self) -> AccountId {
        AccountId(self.rng.random_range(2..=self.accounts()))
    }

    fn any_account(&mut self) -> AccountId {
        AccountId(self.rng.random_range(1..=self.accounts()))
    }

    fn pick_market(&mut self) -> (MarketId, usize) {
        let i = self.rng.random_range(0..self.cfg.markets.len());
        (Self::market_id(i), i)
    }

    // ---- what the generator sees ---------------------------------------------------------

    fn mark(&self, m: MarketId) -> i64 {
        self.engine.market(m).and_then(|x| x.mark).map_or(self.cfg.markets[m.index()].mark, |p| p.0)
    }

    fn last(&self, m: MarketId) -> Option<i64> {
        self.engine.market(m).and_then(|x| x.last_price).map(|p| p.0)
    }

    fn band(&self, m: MarketId) -> (i64, i64) {
        let market = self.engine.market(m).expect("created in setup");
        let (low, high) = market.band_around(Price(self.mark(m)));
        (low.0, high.0)
    }

    fn qtl(&self, m: MarketId) -> i64 {
        self.engine.market(m).expect("created in setup").quote_per_tick_lot
    }

    fn position(&self, a: AccountId, m: MarketId) -> i64 {
        self.engine.account(a).map_or(0, |x| x.position(m).size.0)
    }

    fn mode(&self, a: AccountId, m: MarketId) -> MarginMode {
        self.engine.account(a).map_or(MarginMode::Cross, |x| x.mode(m))
    }

    fn leverage(&self, a: AccountId, m: MarketId) -> u32 {
        let market = self.engine.market(m).expect("created in setup");
        self.engine.account(a).map_or(20, |x| self.engine.leverage_of(x, market))
    }

    /// (id, side, price, qty, client id) of the account's open orders in a market, by id.
    fn orders(&self, a: AccountId, m: MarketId) -> Vec<(OrderId, Side, i64, i64, Option<ClientOrderId>)> {
        let book = &self.engine.market(m).expect("created in setup").book;
        let mut v: Vec<_> = book
            .orders_of(a)
            .filter_map(|id| book.get(id))
            .map(|o| (o.id, o.side, o.price.0, o.qty.0, o.client_id.clone()))
            .collect();
        v.sort_by_key(|o| o.0);
        v
    }

    fn stops(&self, a: AccountId, m: MarketId) -> Vec<OrderId> {
        let market = self.engine.market(m).expect("created in setup");
        market.stops.values().filter(|s| s.account == a).map(|s| s.id).collect()
    }

    /// Equity above the IM requirement, in micro-units (0 if none).
    fn free(&self, a: AccountId) -> i64 {
        self.engine.margin(a).map_or(0, |s| (s.equity.0 - s.initial_margin.0).max(0))
    }

    /// `bp` basis points of the mark, in ticks (at least one).
    fn off(&self, m: MarketId, bp: i64) -> i64 {
        (self.mark(m) * bp / 10_000).max(1)
    }

    /// The fewest lots an order at `price` may have (minimum size and notional).
    fn min_lots(&self, m: MarketId, price: i64) -> i64 {
        let spec = &self.cfg.markets[m.index()].spec;
        let per_lot = i128::from(price.max(1)) * i128::from(self.qtl(m));
        let by_notional = (i128::from(spec.min_notional.0) + per_lot - 1) / per_lot;
        qty_i64(by_notional).max(spec.min_qty.0)
    }

    /// Lots the account's free margin buys at its leverage at `price`.
    fn affordable(&self, a: AccountId, m: MarketId, price: i64) -> i64 {
        let per_lot = i128::from(price.max(1)) * i128::from(self.qtl(m));
        qty_i64(i128::from(self.free(a)) * i128::from(self.leverage(a, m)) / per_lot)
    }

    /// A size for a new order of `a`: mostly within what it can afford, often near the limit,
    /// sometimes well beyond it.
    fn sized(&mut self, a: AccountId, m: MarketId, price: i64) -> i64 {
        let min = self.min_lots(m, price);
        let afford = self.affordable(a, m, price).min(2_000_000);
        let (lo, hi) = self.cfg.markets[m.index()].qty;
        let q = match self.rng.random_range(0..100) {
            0..40 => self.rng.random_range(lo..=hi),
            40..70 if afford > min => self.rng.random_range(min..=min.max(afford * 4 / 5)),
            70..90 if afford > min => self.rng.random_range(afford * 4 / 5..=afford * 3 / 2 + 1),
            90..97 => self.rng.random_range(hi..=(hi * 50).max(afford * 4 + 1)),
            _ => self.rng.random_range(lo..=hi),
        };
        q.max(min)
    }

    fn client_id(&mut self, a: AccountId) -> Option<ClientOrderId> {
        if !self.chance(300) {
            return None;
        }
        self.fresh += 1;
        Some(ClientOrderId::new(&format!("v{}-{}", a.0, self.fresh)).expect("generated ids are valid"))
    }

    fn stp(&mut self) -> StpMode {
        match self.rng.random_range(0..10) {
            0..6 => StpMode::ExpireTaker,
            6..8 => StpMode::ExpireMaker,
            _ => StpMode::ExpireBoth,
        }
    }

    fn side(&mut self) -> Side {
        if self.chance(500) { Side::Buy } else { Side::Sell }
    }

    fn order(&mut self, a: AccountId, m: MarketId, side: Side, order_type: OrderType, qty: i64) -> Command {
        let o = NewOrder {
            account: a,
            market: m,
            side,
            order_type,
            qty: Qty(qty),
            client_id: self.client_id(a),
            stp: self.stp(),
            reduce_only: false,
        };
        self.cmd(CommandKind::PlaceOrder(o))
    }

    // ---- the stream ----------------------------------------------------------------------

    fn next_command(&mut self) -> Command {
        if let Some(kind) = self.queued.pop_front() {
            return self.cmd(kind);
        }
        self.ts += match self.rng.random_range(0..100) {
            0..50 => 0,
            50..95 => self.rng.random_range(1..=20),
            _ => self.rng.random_range(21..=2_000),
        };
        let (m, _) = self.pick_market();
        if self.engine.liquidation_queue().next().is_some() && self.chance(600) {
            return self.cancel_only(m);
        }
        let weights: [(u32, Action<'a>); 20] = [
            (100, Self::mark_move),
            (9, Self::mark_jump),
            (170, Self::maker_quote),
            (330, Self::trader_order),
            (80, Self::reduce_only),
            (80, Self::stop),
            (70, Self::cancel),
            (25, Self::amend),
            (45, Self::withdraw),
            (30, Self::deposit),
            (45, Self::set_leverage),
            (40, Self::adversarial),
            (10, Self::cancel_all),
            (20, Self::tier_edge),
            (20, Self::margin_mode),
            (40, Self::adjust_margin),
            (6, Self::set_liquidator),
            (8, Self::capitalise),
            (5, Self::tick),
            (10, Self::cascade),
        ];
        let total: u32 = weights.iter().map(|(w, _)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for (w, f) in weights {
            if roll < w {
                return f(self, m);
            }
            roll -= w;
        }
        unreachable!("the roll is below the total")
    }

    /// A small move of the mark: up to 0.3 %, drawn back towards the first mark when far.
    fn mark_move(&mut self, m: MarketId) -> Command {
        let mark = self.mark(m);
        let start = self.cfg.markets[m.index()].mark;
        let bp = self.rng.random_range(0..=30);
        let up = if mark > start * 3 / 2 {
            false
        } else if mark < start * 2 / 3 {
            true
        } else {
            self.chance(500)
        };
        let delta = mark * bp / 10_000;
        let price = if up { mark + delta.max(1) } else { (mark - delta.max(1)).max(1) };
        self.cmd(CommandKind::SetMark { market: m, price: Price(price) })
    }

    /// A jump of the mark by 5–20 %, either way (towards the first mark when far from it).
    fn mark_jump(&mut self, m: MarketId) -> Command {
        let mark = self.mark(m);
        let start = self.cfg.markets[m.index()].mark;
        let bp = self.rng.random_range(500..=2_000);
        let up = if mark > start * 3 / 2 {
            false
        } else if mark < start * 2 / 3 {
            true
        } else {
            self.chance(500)
        };
        let delta = mark * bp / 10_000;
        let price = if up { mark + delta } else { (mark - delta).max(1) };
        self.cmd(CommandKind::SetMark { market: m, price: Price(price) })
    }

    /// The market maker keeps a few bids and asks a little away from the mark; when it has
    /// enough it cancels its oldest, or everything after a big move; now and then it takes.
    fn maker_quote(&mut self, m: MarketId) -> Command {
        let a = AccountId(1);
        let orders = self.orders(a, m);
        let limit = self.cfg.markets[m.index()].spec.limits.max_open_orders_per_account as usize;
        let mark = self.mark(m);
        let (low, high) = self.band(m);
        if orders.iter().any(|o| o.2 < low || o.2 > high) && self.chance(500) {
            return self.cmd(CommandKind::CancelAll { account: a, market: Some(m) });
        }
        if orders.len() >= limit.min(8) || (orders.len() >= 4 && self.chance(250)) {
            return self.cmd(CommandKind::CancelOrder { account: a, market: m, order: OrderRef::Id(orders[0].0) });
        }
        // Now and then the maker takes: it hits the best order of someone else.
        if self.chance(120) {
            let side = self.side();
            let book = &self.engine.market(m).expect("created in setup").book;
            if let Some(front) = book.front(side.opposite()).filter(|o| o.account != a) {
                let (price, qty) = (front.price, front.qty.0);
                return self.order(a, m, side, OrderType::Limit { price, tif: TimeInForce::Ioc }, qty);
            }
        }
        // Quote the side with fewer orders, or lean against the maker's position.
        let bids = orders.iter().filter(|o| o.1 == Side::Buy).count();
        let pos = self.position(a, m);
        let side = if pos != 0 && self.chance(300) {
            if pos > 0 { Side::Sell } else { Side::Buy }
        } else if bids * 2 < orders.len() {
            Side::Buy
        } else if bids * 2 > orders.len() {
            Side::Sell
        } else {
            self.side()
        };
        let bp = self.rng.random_range(1..=40);
        let price = (mark - side.sign() * self.off(m, bp)).clamp(low, high);
        let (lo, hi) = self.cfg.markets[m.index()].qty;
        let qty = self.rng.random_range(lo..=hi * 2).max(self.min_lots(m, price));
        let tif = if self.chance(300) { TimeInForce::PostOnly } else { TimeInForce::Gtc };
        self.order(a, m, side, OrderType::Limit { price: Price(price), tif }, qty)
    }

    /// A trader's order: takes liquidity (IOC, market, FOK, crossing GTC) or rests near mark
    /// (now and then at the far edge of the band).
    fn trader_order(&mut self, m: MarketId) -> Command {
        // Mostly a trader that can afford the smallest order, so that trading goes on while
        // others are broke; a quarter of the time anyone.
        let mark = self.mark(m);
        let min = self.min_lots(m, mark);
        let able: Vec<AccountId> =
            (2..=self.accounts()).map(AccountId).filter(|a| self.affordable(*a, m, mark) >= min).collect();
        let a = if !able.is_empty() && self.chance(750) {
            able[self.rng.random_range(0..able.len())]
        } else {
            self.trader()
        };
        let side = self.side();
        let (low, high) = self.band(m);
        let best_opposite = self.engine.market(m).and_then(|x| x.book.best_price(side.opposite())).map(|p| p.0);
        let roll = self.rng.random_range(0..100);
        let (order_type, price) = match roll {
            0..22 => (OrderType::Market, mark),
            _ => {
                let tif = match roll {
                    22..45 => TimeInForce::Ioc,
                    45..52 => TimeInForce::Fok,
                    52..60 => TimeInForce::PostOnly,
                    _ => TimeInForce::Gtc,
                };
                let aggressive = matches!(tif, TimeInForce::Ioc | TimeInForce::Fok) || self.chance(350);
                let (near, away) = (self.rng.random_range(0..=15), self.rng.random_range(0..=60));
                let price = match best_opposite {
                    Some(best) if aggressive => best + side.sign() * self.off(m, near),
                    // At the far edge of the band, where a large market order's walk ends.
                    _ if self.chance(60) => match side {
                        Side::Buy => low,
                        Side::Sell => high,
                    },
                    _ => mark - side.sign() * self.off(m, away),
                };
                let price = price.clamp(low, high);
                (OrderType::Limit { price: Price(price), tif }, price)
            }
        };
        let qty = self.sized(a, m, price);
        self.order(a, m, side, order_type, qty)
    }

    /// A reduce-only order against a real position (or, now and then, against none).
    fn reduce_only(&mut self, m: MarketId) -> Command {
        let a = if self.chance(150) { AccountId(1) } else { self.trader() };
        let pos = self.position(a, m);
        let side = match pos.signum() {
            1 => Side::Sell,
            -1 => Side::Buy,
            _ => self.side(),
        };
        let side = if pos != 0 && self.chance(80) { side.opposite() } else { side };
        let size = pos.abs().max(1);
        let min = self.min_lots(m, self.mark(m));
        let qty = match self.rng.random_range(0..10) {
            0..4 => self.rng.random_range(1..=size),
            4..7 => size,
            _ => self.rng.random_range(size..=size * 3),
        }
        .max(min);
        let mark = self.mark(m);
        let (low, high) = self.band(m);
        let order_type = match self.rng.random_range(0..10) {
            0..4 => OrderType::Market,
            4..6 => OrderType::Limit {
                price: Price((mark + side.sign() * self.off(m, 30)).clamp(low, high)),
                tif: TimeInForce::Ioc,
            },
            _ => {
                // A resting close a little away from the mark: often cancelled later with
                // `reduce_only` when the position closes or flips first.
                let bp = self.rng.random_range(0..=40);
                OrderType::Limit {
                    price: Price((mark - side.sign() * self.off(m, bp)).clamp(low, high)),
                    tif: TimeInForce::Gtc,
                }
            }
        };
        let o = NewOrder {
            account: a,
            market: m,
            side,
            order_type,
            qty: Qty(qty),
            client_id: self.client_id(a),
            stp: self.stp(),
            reduce_only: true,
        };
        self.cmd(CommandKind::PlaceOrder(o))
    }

    /// A stop or take-profit a little short of its trigger: protective (reduce-only, on the
    /// closing side) for a position, or an entry on a breakout.
    fn stop(&mut self, m: MarketId) -> Command {
        let a = self.trader();
        let limit = self.cfg.markets[m.index()].spec.limits.max_stops_per_account as usize;
        let held = self.stops(a, m);
        if held.len() >= limit && self.chance(850) {
            let i = self.rng.random_range(0..held.len());
            return self.cmd(CommandKind::CancelOrder { account: a, market: m, order: OrderRef::Id(held[i]) });
        }
        let pos = self.position(a, m);
        let protective = pos != 0 && self.chance(650);
        let side = if protective { if pos > 0 { Side::Sell } else { Side::Buy } } else { self.side() };
        let take_profit = self.chance(400);
        let limit_kind = self.chance(450);
        let by_last = self.last(m).is_some() && self.chance(450);
        let reference = if by_last { self.last(m).expect("checked") } else { self.mark(m) };
        // Which way the reference must move to trigger: a buy stop and a sell take-profit go
        // up, the others down.
        let up = (side == Side::Buy) != take_profit;
        let bp = self.rng.random_range(3..=150);
        let distance = self.off(m, bp);
        let trigger = if self.chance(40) {
            // Already triggered: refused (`stop_would_trigger_now`).
            reference
        } else if up {
            reference + distance
        } else {
            (reference - distance).max(1)
        };
        let bp = self.rng.random_range(0..=60);
        let slip = self.off(m, bp);
        let price = Price((trigger + side.sign() * slip).max(1));
        let tif = match self.rng.random_range(0..10) {
            0..6 => TimeInForce::Gtc,
            6..9 => TimeInForce::Ioc,
            _ => TimeInForce::PostOnly,
        };
        let kind = match (take_profit, limit_kind) {
            (false, false) => StopKind::StopMarket,
            (false, true) => StopKind::StopLimit { price, tif },
            (true, false) => StopKind::TakeProfitMarket,
            (true, true) => StopKind::TakeProfitLimit { price, tif },
        };
        let qty = if protective && self.chance(700) {
            pos.abs().max(self.min_lots(m, trigger))
        } else {
            self.sized(a, m, trigger)
        };
        let s = NewStop {
            account: a,
            market: m,
            side,
            kind,
            trigger: Price(trigger),
            trigger_by: if by_last { TriggerBy::Last } else { TriggerBy::Mark },
            qty: Qty(qty),
            client_id: self.client_id(a),
            stp: self.stp(),
            reduce_only: protective && self.chance(850),
        };
        self.cmd(CommandKind::PlaceStop(s))
    }

    /// An order whose worst reachable notional lands exactly on a tier's cap, or one lot past
    /// it, by an account at that tier's maximum leverage: `leverage_above_tier` must name the
    /// edge exactly. First moves the mark to a price at which the cap is a whole number of lots,
    /// and raises the account's leverage, when needed.
    fn tier_edge(&mut self, m: MarketId) -> Command {
        let tiers = self.cfg.markets[m.index()].spec.tiers.clone();
        if tiers.len() < 2 {
            return self.trader_order(m);
        }
        let (mark, qtl) = (i128::from(self.mark(m)), i128::from(self.qtl(m)));
        let k = self.rng.random_range(0..tiers.len() - 1);
        let cap = i128::from(tiers[k].max_notional.0);
        if cap % (mark * qtl) != 0 {
            return self.edge_mark(m, cap);
        }
        let a = self.trader();
        if self.leverage(a, m) <= tiers[k + 1].max_leverage && self.chance(700) {
            return self.cmd(CommandKind::SetLeverage { account: a, market: m, leverage: tiers[k].max_leverage });
        }
        let lots = cap / (mark * qtl);
        let pos = i128::from(self.position(a, m));
        let book = &self.engine.market(m).expect("created in setup").book;
        let (mut buys, mut sells) = (0i128, 0i128);
        for o in book.orders_of(a).filter_map(|id| book.get(id)).filter(|o| !o.reduce_only) {
            match o.side {
                Side::Buy => buys += i128::from(o.qty.0),
                Side::Sell => sells += i128::from(o.qty.0),
            }
        }
        let side = self.side();
        let past = i128::from(self.chance(500));
        // A buy of q reaches pos + buys + q; a sell of q reaches |pos − sells − q|.
        let qty = match side {
            Side::Buy => lots - (pos + buys) + past,
            Side::Sell => lots + (pos - sells) + past,
        };
        let price = self.mark(m);
        let qty = qty_i64(qty);
        if qty < self.min_lots(m, price) {
            return self.trader_order(m);
        }
        let tif = if self.chance(500) { TimeInForce::Gtc } else { TimeInForce::Ioc };
        self.order(a, m, side, OrderType::Limit { price: Price(price), tif }, qty)
    }

    /// Moves the mark to the price nearest to it at which `cap` is a whole number of lots,
    /// within a fifth of the first mark (else a plain move).
    fn edge_mark(&mut self, m: MarketId, cap: i128) -> Command {
        let qtl = i128::from(self.qtl(m));
        let (mark, start) = (i128::from(self.mark(m)), i128::from(self.cfg.markets[m.index()].mark));
        if cap % qtl != 0 {
            return self.mark_move(m);
        }
        let ticks = cap / qtl;
        let mut best: Option<i128> = None;
        let mut d = 1i128;
        while d * d <= ticks {
            if ticks % d == 0 {
                for p in [d, ticks / d] {
                    let near = (p - start).abs() * 5 <= start;
                    if near && best.is_none_or(|b| (p - mark).abs() < (b - mark).abs()) {
                        best = Some(p);
                    }
                }
            }
            d += 1;
        }
        match best {
            Some(p) => self.cmd(CommandKind::SetMark { market: m, price: Price(qty_i64(p)) }),
            None => self.mark_move(m),
        }
    }

    /// Cancels one order or stop: by id, by client id, or one that does not exist.
    fn cancel(&mut self, m: MarketId) -> Command {
        let a = self.any_account();
        let orders = self.orders(a, m);
        let stops = self.stops(a, m);
        let order = match self.rng.random_range(0..10) {
            0..6 if !orders.is_empty() => {
                let o = &orders[self.rng.random_range(0..orders.len())];
                match &o.4 {
                    Some(c) if self.chance(400) => OrderRef::Client(c.clone()),
                    _ => OrderRef::Id(o.0),
                }
            }
            6..9 if !stops.is_empty() => OrderRef::Id(stops[self.rng.random_range(0..stops.len())]),
            _ => OrderRef::Id(OrderId(self.rng.random_range(1..=5_000))),
        };
        self.cmd(CommandKind::CancelOrder { account: a, market: m, order })
    }

    fn cancel_all(&mut self, m: MarketId) -> Command {
        let a = self.trader();
        let market = if self.chance(600) { Some(m) } else { None };
        self.cmd(CommandKind::CancelAll { account: a, market })
    }

    /// Amends a resting order: a new size (smaller or larger) or a new price near the mark,
    /// sometimes across the book.
    fn amend(&mut self, m: MarketId) -> Command {
        let a = self.any_account();
        let orders = self.orders(a, m);
        if orders.is_empty() {
            return self.trader_order(m);
        }
        let (id, side, _, qty, _) = orders[self.rng.random_range(0..orders.len())].clone();
        let (low, high) = self.band(m);
        let mark = self.mark(m);
        let (away, toward) = (self.rng.random_range(0..=40), self.rng.random_range(0..=20));
        let (price, new_qty) = match self.rng.random_range(0..3) {
            0 => (None, Some(Qty(self.rng.random_range(1..=qty * 2 + 1)))),
            1 => (Some(Price((mark - side.sign() * self.off(m, away)).clamp(low, high))), None),
            _ => (
                Some(Price((mark + side.sign() * self.off(m, toward)).clamp(low, high))),
                Some(Qty(self.rng.random_range(1..=qty + 1))),
            ),
        };
        self.cmd(CommandKind::AmendOrder(Amend { account: a, market: m, order: OrderRef::Id(id), price, qty: new_qty }))
    }

    /// A withdrawal: within the limit, just above it, of unrealised profit, or everything. Now
    /// and then by a trader with unrealised profit on its cross positions, mostly of that profit:
    /// such traders are rarer where many trade isolated (an isolated position's profit is not
    /// the account's).
    fn withdraw(&mut self, _m: MarketId) -> Command {
        let in_profit: Vec<AccountId> = (2..=self.accounts())
            .map(AccountId)
            .filter(|a| self.engine.margin(*a).is_ok_and(|s| s.unrealized_pnl.0 > 0))
            .collect();
        let targeted = !in_profit.is_empty() && self.chance(250);
        let a = if targeted { in_profit[self.rng.random_range(0..in_profit.len())] } else { self.trader() };
        let Ok(s) = self.engine.margin(a) else {
            return self.cmd(CommandKind::Withdraw { account: a, amount: Quote(USD) });
        };
        let w = s.withdrawable().0;
        let free = s.equity.0 - s.initial_margin.0;
        let roll = if targeted && self.chance(600) { 4 } else { self.rng.random_range(0..10) };
        let amount = match roll {
            0..4 if w > 0 => self.rng.random_range(1..=w),
            4..7 if s.unrealized_pnl.0 > 0 && free > w => self.rng.random_range(w + 1..=free),
            7 => s.collateral.0.max(1),
            _ => w + self.rng.random_range(1..=10 * USD),
        };
        self.cmd(CommandKind::Withdraw { account: a, amount: Quote(amount) })
    }

    /// A top-up, most often to the account with the least equity; one under water is often
    /// brought back above zero.
    fn deposit(&mut self, _m: MarketId) -> Command {
        let equity = |g: &Self, a: AccountId| g.engine.margin(a).map_or(0, |s| s.equity.0);
        let a = if self.chance(500) {
            (1..=self.accounts()).map(AccountId).min_by_key(|a| equity(self, *a)).expect("accounts exist")
        } else {
            self.trader()
        };
        let deficit = (-equity(self, a)).max(0);
        let amount = match self.rng.random_range(0..10) {
            0..3 if deficit > 0 => deficit + self.rng.random_range(100 * USD..=20_000 * USD),
            0..5 => self.rng.random_range(USD..=500 * USD),
            5..8 => self.rng.random_range(500 * USD..=20_000 * USD),
            _ => self.rng.random_range(1..=USD),
        };
        self.cmd(CommandKind::Deposit { account: a, amount: Quote(amount) })
    }

    /// A leverage change: usually valid for the market, sometimes above what the tier of the
    /// account's exposure allows, sometimes out of range.
    fn set_leverage(&mut self, m: MarketId) -> Command {
        let a = if self.chance(100) { AccountId(1) } else { self.trader() };
        let max = self.cfg.markets[m.index()].spec.max_leverage;
        let leverage = match self.rng.random_range(0..20) {
            0 => 0,
            1 => max + 1,
            2 => u32::MAX,
            3..8 => max,
            _ => {
                let choices = [1, 2, 3, 5, 10, 20, 25, 50, 75, 100, 125];
                let valid: Vec<u32> = choices.into_iter().filter(|l| *l <= max).collect();
                valid[self.rng.random_range(0..valid.len())]
            }
        };
        self.cmd(CommandKind::SetLeverage { account: a, market: m, leverage })
    }

    /// A margin mode change, mostly to the other mode: by an account free to change it (flat,
    /// nothing resting, no stop), by one that is not (`margin_mode_change_blocked`), or by a
    /// busy one that first makes room — cancels everything it has in the market and closes its
    /// position with a reduce-only market order, then asks (refused if the close left some).
    fn margin_mode(&mut self, m: MarketId) -> Command {
        let busy =
            |g: &Self, a: AccountId| g.position(a, m) != 0 || !g.orders(a, m).is_empty() || !g.stops(a, m).is_empty();
        // Often one that is free to change, as few are for long while they trade.
        let free: Vec<AccountId> = (2..=self.accounts()).map(AccountId).filter(|a| !busy(self, *a)).collect();
        let a = if !free.is_empty() && self.chance(400) {
            free[self.rng.random_range(0..free.len())]
        } else {
            self.trader()
        };
        let mode = match (self.mode(a, m), self.chance(850)) {
            (MarginMode::Cross, true) | (MarginMode::Isolated, false) => MarginMode::Isolated,
            _ => MarginMode::Cross,
        };
        let change = CommandKind::SetMarginMode { account: a, market: m, mode };
        if !busy(self, a) || self.chance(400) {
            return self.cmd(change);
        }
        let pos = self.position(a, m);
        if pos != 0 {
            let side = if pos > 0 { Side::Sell } else { Side::Buy };
            let close = NewOrder {
                account: a,
                market: m,
                side,
                order_type: OrderType::Market,
                qty: Qty(pos.abs().max(self.min_lots(m, self.mark(m)))),
                client_id: None,
                stp: self.stp(),
                reduce_only: true,
            };
            self.queued.push_back(CommandKind::PlaceOrder(close));
        }
        self.queued.push_back(change);
        self.cmd(CommandKind::CancelAll { account: a, market: Some(m) })
    }

    /// Isolated margin added or removed, mostly for a real isolated position: an add within
    /// what could be withdrawn or beyond it (`insufficient_margin`), a removal within what is
    /// removable, all of it, or beyond it (`isolated_margin_above_removable`); now and then for
    /// a position that is not isolated (`not_isolated`).
    fn adjust_margin(&mut self, m: MarketId) -> Command {
        let mut held = Vec::new();
        for a in (2..=self.accounts()).map(AccountId) {
            for i in 0..self.cfg.markets.len() {
                let market = Self::market_id(i);
                if let Ok(Some(iso)) = self.engine.isolated(a, market) {
                    held.push((a, market, iso));
                }
            }
        }
        if held.is_empty() || self.chance(120) {
            let a = self.trader();
            let amount = self.rng.random_range(1..=100 * USD);
            let amount = if self.chance(500) { amount } else { -amount };
            return self.cmd(CommandKind::AdjustIsolatedMargin { account: a, market: m, amount: Quote(amount) });
        }
        let (a, market, iso) = held[self.rng.random_range(0..held.len())];
        let withdrawable = self.engine.margin(a).map_or(0, |s| s.withdrawable().0);
        let (margin, removable) = (iso.margin.0, iso.removable().0);
        // Removals are rarely allowed (only margin added beyond IM can go), so a position that
        // has some to spare is more often asked for it.
        let add = self.chance(if removable > 0 { 350 } else { 550 });
        let amount = if add {
            match self.rng.random_range(0..10) {
                0..6 if withdrawable > 0 => self.rng.random_range(1..=withdrawable),
                6..8 => withdrawable + self.rng.random_range(1..=10 * USD),
                _ => self.rng.random_range(1..=USD),
            }
        } else {
            match self.rng.random_range(0..10) {
                0..5 if removable > 0 => -self.rng.random_range(1..=removable),
                5..7 if removable > 0 => -removable,
                7 => -margin.max(1),
                _ => -(removable + self.rng.random_range(1..=(margin / 4).max(1))),
            }
        };
        self.cmd(CommandKind::AdjustIsolatedMargin { account: a, market, amount: Quote(amount) })
    }

    /// Registers a backstop liquidator — most often the market maker or the comfortable account
    /// 3 — or removes one; now and then an account that does not exist (`unknown_account`).
    fn set_liquidator(&mut self, _m: MarketId) -> Command {
        let account = match self.rng.random_range(0..10) {
            0..4 => AccountId(1),
            4..7 => AccountId(3),
            7..9 => self.trader(),
            _ => UNKNOWN_ACCOUNT,
        };
        let registered = self.engine.liquidators().contains(&account);
        let active = if registered { self.chance(200) } else { self.chance(900) };
        self.cmd(CommandKind::SetLiquidator { account, active })
    }

    /// Venue capital into a market's own fund, the shared fund or the guaranty fund; now and
    /// then a zero or negative amount, or an unknown market.
    fn capitalise(&mut self, m: MarketId) -> Command {
        let fund = match self.rng.random_range(0..10) {
            0..5 => FundRef::Market(m),
            5..7 => FundRef::Shared,
            _ => FundRef::Guaranty,
        };
        let amount = match self.rng.random_range(0..20) {
            0 => Quote(0),
            1 => Quote(-self.rng.random_range(1..=USD)),
            2 => {
                return self
                    .cmd(CommandKind::CapitaliseFund { fund: FundRef::Market(UNKNOWN_MARKET), amount: Quote(USD) });
            }
            3..12 => Quote(self.rng.random_range(USD..=200 * USD)),
            _ => Quote(self.rng.random_range(200 * USD..=5_000 * USD)),
        };
        self.cmd(CommandKind::CapitaliseFund { fund, amount })
    }

    /// A move of the mark, either way, far enough to put several units under maintenance at
    /// once (the smallest of 1 %, 2 %, … 20 % that puts three under, else the smallest that puts
    /// two, staying within 60–160 % of the first mark), so that with a small per-pass budget
    /// some wait in the queue; a plain jump when none does.
    fn cascade(&mut self, m: MarketId) -> Command {
        let mark = self.mark(m);
        let start = self.cfg.markets[m.index()].mark;
        let up = self.chance(500);
        let mut two = None;
        for pct in 1..=20 {
            let delta = (mark * pct / 100).max(1);
            let price = if up { mark + delta } else { mark - delta };
            if price * 5 < start * 3 || price * 5 > start * 8 {
                break;
            }
            let cmd = self.cmd(CommandKind::SetMark { market: m, price: Price(price) });
            let mut trial = self.engine.clone();
            let queued = trial
                .apply(&cmd)
                .iter()
                .filter(|e| matches!(e.kind, perpx_core::EventKind::LiquidationQueued { .. }))
                .count();
            if queued >= 3 {
                return cmd;
            }
            if queued == 2 && two.is_none() {
                two = Some(cmd);
            }
        }
        two.unwrap_or_else(|| self.mark_jump(m))
    }

    /// Time passing (the server's ticks drain the liquidation queue).
    fn tick(&mut self, _m: MarketId) -> Command {
        self.cmd(CommandKind::Tick)
    }

    /// A command of an account with a unit waiting in the liquidation queue: mostly what a
    /// cancel-only account may not send (an order, a stop, an amend, a withdrawal, a leverage
    /// change, an isolated margin removal: `account_in_liquidation`), sometimes what it may (a
    /// deposit — large enough, now and then, to save the unit before its turn — a cancel, an
    /// isolated margin add), or a tick.
    fn cancel_only(&mut self, m: MarketId) -> Command {
        let queue: Vec<(AccountId, LiquidationScope)> = self.engine.liquidation_queue().copied().collect();
        let (a, scope) = queue[self.rng.random_range(0..queue.len())];
        let market = match scope {
            LiquidationScope::Isolated(im) => im,
            LiquidationScope::Cross => m,
        };
        let mark = self.mark(market);
        match self.rng.random_range(0..20) {
            0..4 => {
                let side = self.side();
                let qty = self.sized(a, market, mark);
                let tif = if self.chance(500) { TimeInForce::Gtc } else { TimeInForce::Ioc };
                self.order(a, market, side, OrderType::Limit { price: Price(mark), tif }, qty)
            }
            4 => {
                let side = self.side();
                let trigger = Price(mark + side.sign() * self.off(market, 100));
                let s = NewStop {
                    account: a,
                    market,
                    side,
                    kind: StopKind::StopMarket,
                    trigger,
                    trigger_by: TriggerBy::Mark,
                    qty: Qty(self.min_lots(market, mark)),
                    client_id: None,
                    stp: self.stp(),
                    reduce_only: false,
                };
                self.cmd(CommandKind::PlaceStop(s))
            }
            5 => {
                let other = Self::market_id((market.index() + 1) % self.cfg.markets.len());
                match self.orders(a, other).first() {
                    Some(o) => self.cmd(CommandKind::AmendOrder(Amend {
                        account: a,
                        market: other,
                        order: OrderRef::Id(o.0),
                        price: None,
                        qty: Some(Qty(o.3 + 1)),
                    })),
                    None => self.cmd(CommandKind::Withdraw { account: a, amount: Quote(USD) }),
                }
            }
            6..8 => {
                let amount = Quote(self.rng.random_range(1..=50 * USD));
                self.cmd(CommandKind::Withdraw { account: a, amount })
            }
            8 => {
                let leverage = self.rng.random_range(1..=self.cfg.markets[market.index()].spec.max_leverage.min(20));
                self.cmd(CommandKind::SetLeverage { account: a, market, leverage })
            }
            9..11 => {
                let amount = self.rng.random_range(1..=20 * USD);
                let amount = if self.chance(600) { -amount } else { amount };
                self.cmd(CommandKind::AdjustIsolatedMargin { account: a, market, amount: Quote(amount) })
            }
            11..15 => {
                // Enough to lift the unit above maintenance now and then.
                let short = match scope {
                    LiquidationScope::Cross => self.engine.margin(a).map_or(0, |s| s.maintenance_margin.0 - s.equity.0),
                    LiquidationScope::Isolated(im) => {
                        self.engine.isolated(a, im).ok().flatten().map_or(0, |s| s.maintenance_margin.0 - s.equity.0)
                    }
                };
                let amount = if self.chance(500) {
                    short.max(0) + self.rng.random_range(1..=500 * USD)
                } else {
                    self.rng.random_range(1..=50 * USD)
                };
                // An isolated unit is saved by margin added to it (from what could be withdrawn).
                if matches!(scope, LiquidationScope::Isolated(_)) && self.chance(500) {
                    let amount = Quote(amount);
                    return self.cmd(CommandKind::AdjustIsolatedMargin { account: a, market, amount });
                }
                self.cmd(CommandKind::Deposit { account: a, amount: Quote(amount) })
            }
            15..19 => self.cmd(CommandKind::CancelAll { account: a, market: None }),
            _ => self.cmd(CommandKind::Tick),
        }
    }

    /// Values no client should send.
    fn adversarial(&mut self, m: MarketId) -> Command {
        let a = self.trader();
        let mark = self.mark(m);
        let max_qty = self.cfg.markets[m.index()].spec.limits.max_order_qty.0;
        match self.rng.random_range(0..20) {
            0 => self.cmd(CommandKind::Deposit { account: a, amount: Quote(0) }),
            1 => {
                let amount = Quote(-self.rng.random_range(1..=USD));
                self.cmd(CommandKind::Deposit { account: a, amount })
            }
            2 => self.cmd(CommandKind::Deposit { account: a, amount: Quote(i64::MAX) }),
            3 => self.cmd(CommandKind::Withdraw { account: a, amount: Quote(-5 * USD) }),
            4 => self.cmd(CommandKind::Withdraw { account: UNKNOWN_ACCOUNT, amount: Quote(USD) }),
            5 => self.cmd(CommandKind::Withdraw { account: a, amount: Quote(i64::MAX) }),
            6 => self.cmd(CommandKind::SetLeverage { account: UNKNOWN_ACCOUNT, market: m, leverage: 5 }),
            7 => self.cmd(CommandKind::SetLeverage { account: a, market: UNKNOWN_MARKET, leverage: 5 }),
            8 => self.order(UNKNOWN_ACCOUNT, m, Side::Buy, OrderType::Market, 10),
            9 => self.order(a, m, Side::Sell, OrderType::Market, 0),
            10 => self.order(a, m, Side::Buy, OrderType::Limit { price: Price(mark), tif: TimeInForce::Gtc }, -3),
            11 => self.order(a, m, Side::Buy, OrderType::Market, max_qty),
            12 => self.order(
                a,
                m,
                Side::Sell,
                OrderType::Limit { price: Price(mark), tif: TimeInForce::Gtc },
                max_qty + 1,
            ),
            13 => {
                let price = Price(-self.rng.random_range(0..=5));
                self.cmd(CommandKind::SetMark { market: m, price })
            }
            14 => self.cmd(CommandKind::Withdraw { account: a, amount: Quote(0) }),
            15 => {
                self.cmd(CommandKind::SetMarginMode { account: a, market: UNKNOWN_MARKET, mode: MarginMode::Isolated })
            }
            16 => {
                let amount = Quote(USD);
                self.cmd(CommandKind::AdjustIsolatedMargin { account: UNKNOWN_ACCOUNT, market: m, amount })
            }
            17 => self.cmd(CommandKind::AdjustIsolatedMargin { account: a, market: m, amount: Quote(0) }),
            18 => self.cmd(CommandKind::AdjustIsolatedMargin { account: a, market: m, amount: Quote(i64::MIN) }),
            _ => {
                let (_, high) = self.band(m);
                let bp = self.rng.random_range(1..=300);
                let price = Price(high + self.off(m, bp));
                self.order(a, m, Side::Buy, OrderType::Limit { price, tif: TimeInForce::Gtc }, 2)
            }
        }
    }
}
