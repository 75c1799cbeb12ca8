//! Seeded generators of realistic command streams.
//!
//! A stream is a plain `Vec<Command>`, a pure function of its [`StreamConfig`]: the same seed
//! gives the same commands, bit for bit (`ChaCha8Rng::seed_from_u64`). To aim amends and
//! cancels at orders that really rest, the generator runs the [reference model](crate::reference)
//! alongside and looks at its books; the engine is never consulted.
//!
//! What a stream holds: one or two markets (the second created part-way, and traded on before
//! its mark is set); 2–12 accounts, so self-trades happen; prices clustered around a slowly
//! moving mark, with crossing, joining, passive and far-away orders; every order type and time
//! in force and every STP mode; client ids on a third of the orders, some deliberately reused;
//! amends down, up and across the book; cancels by id and by client id, cancel-all, the odd
//! mass cancel; and a slice of invalid and adversarial commands (zero, negative and huge sizes,
//! prices outside the band or non-positive, unknown markets and orders, foreign orders,
//! timestamp regressions, overflow-sized values, duplicate markets). Time moves forward by small
//! random steps, so a short client id retention expires ids within a stream.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use perpx_core::{
    AccountId, Amend, ClientOrderId, Command, CommandKind, EngineConfig, MarketId, MarketSpec, NewOrder, OrderId,
    OrderRef, OrderType, Price, Qty, Quote, Side, StpMode, TimeInForce, Timestamp,
};

use crate::fixtures;
use crate::reference::{RefEngine, RefOrder};

/// How a market is traded in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketProfile {
    /// Its specification.
    pub spec: MarketSpec,
    /// The first mark (ticks).
    pub mark: i64,
    /// The price grid orders are placed on, in ticks from the mark (so levels collect queues).
    pub step: i64,
    /// How many steps away from the mark passive orders go.
    pub depth: i64,
    /// Typical sizes (lots): from `qty.0` to `qty.1`.
    pub qty: (i64, i64),
}

impl MarketProfile {
    /// [`fixtures::test_spec`] at 1,000: few levels and open orders, so limits are hit.
    #[must_use]
    pub fn test() -> Self {
        Self { spec: fixtures::test_spec(), mark: fixtures::TEST_MARK.0, step: 1, depth: 24, qty: (2, 12) }
    }

    /// [`fixtures::btc_spec`] at 86,000.0, orders on a 0.5 grid, 0.001–0.2 BTC.
    #[must_use]
    pub fn btc() -> Self {
        Self { spec: fixtures::btc_spec(), mark: fixtures::BTC_MARK.0, step: 5, depth: 30, qty: (1, 200) }
    }

    /// [`fixtures::eth_spec`] at 3,000.00, orders on a 0.10 grid, 0.002–0.5 ETH (1 lot would be below
    /// the minimum notional).
    #[must_use]
    pub fn eth() -> Self {
        Self { spec: fixtures::eth_spec(), mark: fixtures::ETH_MARK.0, step: 10, depth: 30, qty: (2, 500) }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The seed.
    pub seed: u64,
    /// Number of commands.
    pub commands: usize,
    /// The markets traded (1 or 2; the second is created part-way).
    pub markets: Vec<MarketProfile>,
    /// Accounts `1..=accounts`.
    pub accounts: u64,
    /// The engine settings the stream is meant for.
    pub engine: EngineConfig,
    /// Share of deliberately invalid or adversarial commands, per mille.
    pub adversarial_per_mille: u32,
}

impl StreamConfig {
    /// A configuration drawn from the seed: one or two of the test, BTC and ETH markets,
    /// 2–12 accounts, a client id retention that is short (0.3–5 s), about the stream's length
    /// (20–90 s) or the default (24 h), sometimes no room for another market, and 6–10 %
    /// adversarial commands.
    #[must_use]
    pub fn from_seed(seed: u64, commands: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0f1_u64);
        let pick = |rng: &mut ChaCha8Rng| match rng.random_range(0..4) {
            0 | 1 => MarketProfile::test(),
            2 => MarketProfile::btc(),
            _ => MarketProfile::eth(),
        };
        let mut markets = vec![pick(&mut rng)];
        if rng.random_bool(0.4) {
            let mut second = pick(&mut rng);
            if second.spec.symbol == markets[0].spec.symbol {
                second.spec.symbol = format!("{}2", second.spec.symbol.trim_end_matches("-PERP"));
            }
            markets.push(second);
        }
        let retention = match rng.random_range(0..20) {
            0..9 => rng.random_range(300..=5_000),
            9..15 => rng.random_range(20_000..=90_000),
            _ => EngineConfig::default().client_order_retention_ms,
        };
        let tight_markets = rng.random_bool(0.5);
        let max_markets = if tight_markets { u32::try_from(markets.len()).expect("1 or 2") } else { 8 };
        Self {
            seed,
            commands,
            accounts: rng.random_range(2..=12),
            markets,
            engine: EngineConfig { max_markets, client_order_retention_ms: retention, ..EngineConfig::default() },
            adversarial_per_mille: rng.random_range(60..=100),
        }
    }

    /// One line describing the configuration (for failure messages).
    #[must_use]
    pub fn describe(&self) -> String {
        let symbols: Vec<&str> = self.markets.iter().map(|m| m.spec.symbol.as_str()).collect();
        format!(
            "seed {} ({} commands, markets {:?}, {} accounts, retention {} ms, max_markets {}, {} ‰ adversarial)",
            self.seed,
            self.commands,
            symbols,
            self.accounts,
            self.engine.client_order_retention_ms,
            self.engine.max_markets,
            self.adversarial_per_mille
        )
    }
}

/// A generated stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The engine settings to run it with.
    pub engine: EngineConfig,
    /// The commands, in order.
    pub commands: Vec<Command>,
}

/// Generates a stream (a pure function of `cfg`).
#[must_use]
pub fn generate(cfg: &StreamConfig) -> Stream {
    let mut g = Gen::new(cfg);
    let mut commands = Vec::with_capacity(cfg.commands);
    while commands.len() < cfg.commands {
        let c = g.next_command(commands.len());
        g.model.apply(&c);
        commands.push(c);
    }
    Stream { engine: cfg.engine.clone(), commands }
}

/// A market as the generator knows it.
#[derive(Debug, Clone)]
struct Live {
    id: MarketId,
    profile: MarketProfile,
}

#[derive(Debug)]
struct Gen<'a> {
    cfg: &'a StreamConfig,
    rng: ChaCha8Rng,
    model: RefEngine,
    ts: i64,
    /// Markets created with a profile, in id order.
    live: Vec<Live>,
    /// Index into `cfg.markets` of the next profile to create, and when.
    next_profile: usize,
    create_second_at: usize,
    /// Commands to go before the newest market gets its mark.
    mark_after: Option<usize>,
    /// Client ids used so far, per account (index = account id).
    used_ids: Vec<Vec<ClientOrderId>>,
    fresh: u64,
    extra_markets: u32,
    /// Accounts funded so far (`1..=funded`).
    funded: u64,
}

/// Each stream account's deposit: 100 billion USD. About 23 of them fit under the venue's money
/// ceiling (`perpx_core::engine::MAX_MONEY_IN`).
pub const STREAM_DEPOSIT: Quote = Quote(100_000_000_000_000_000);

const T0: i64 = 1_700_000_000_000;

impl<'a> Gen<'a> {
    fn new(cfg: &'a StreamConfig) -> Self {
        let accounts = usize::try_from(cfg.accounts).expect("few accounts");
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let create_second_at = rng.random_range(cfg.commands / 8..=cfg.commands / 3 + 1);
        Self {
            cfg,
            rng,
            model: RefEngine::new(&cfg.engine),
            ts: T0,
            live: Vec::new(),
            next_profile: 0,
            create_second_at,
            mark_after: None,
            used_ids: vec![Vec::new(); accounts + 1],
            fresh: 0,
            extra_markets: 0,
            funded: 0,
        }
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.rng.random_range(0..1000) < per_mille
    }

    fn cmd(&self, kind: CommandKind) -> Command {
        Command { ts: Timestamp(self.ts), kind }
    }

    fn account(&mut self) -> AccountId {
        AccountId(self.rng.random_range(1..=self.cfg.accounts))
    }

    fn next_command(&mut self, index: usize) -> Command {
        // Every account is funded first, far beyond what any order here needs, so margin never
        // binds and the book model (which keeps no accounts) stays exact.
        if self.funded < self.cfg.accounts {
            self.funded += 1;
            return self.cmd(CommandKind::Deposit { account: AccountId(self.funded), amount: STREAM_DEPOSIT });
        }
        // Time: often the same millisecond, usually a few ms, sometimes a pause.
        let step = match self.rng.random_range(0..100) {
            0..50 => 0,
            50..90 => self.rng.random_range(1..=10),
            _ => self.rng.random_range(11..=400),
        };
        self.ts += step;

        // Markets: the first at once, the second part-way; each gets its mark a little later.
        let want_create =
            self.next_profile < self.cfg.markets.len() && (self.next_profile == 0 || index >= self.create_second_at);
        if want_create {
            let profile = self.cfg.markets[self.next_profile].clone();
            self.next_profile += 1;
            let id = MarketId(u32::try_from(self.model.markets().len()).expect("few markets"));
            self.live.push(Live { id, profile: profile.clone() });
            self.mark_after = Some(self.rng.random_range(0..=4));
            return self.cmd(CommandKind::CreateMarket(Box::new(profile.spec)));
        }
        if let Some(n) = self.mark_after {
            if n == 0 {
                self.mark_after = None;
                let live = self.live.last().expect("a market was created").clone();
                return self.cmd(CommandKind::SetMark { market: live.id, price: Price(live.profile.mark) });
            }
            self.mark_after = Some(n - 1);
        }

        let tradable: Vec<Live> =
            self.live.iter().filter(|l| self.model.markets()[l.id.0 as usize].mark.is_some()).cloned().collect();
        if tradable.is_empty() || self.chance(self.cfg.adversarial_per_mille) {
            // Before the first mark every order is refused for want of one (or is invalid).
            let live = self.live.clone();
            let pick = self.rng.random_range(0..live.len());
            return self.adversarial(&live[pick]);
        }
        let l = tradable[self.rng.random_range(0..tradable.len())].clone();
        let open = self.model.markets()[l.id.0 as usize].orders().count();
        let per_account = open / usize::try_from(self.cfg.accounts).expect("few");
        // Cancels grow with the book so it stays a realistic size.
        let cancel_weight = 60 + u32::try_from(per_account.min(60) * 4).expect("small");
        let weights = [
            ("limit", 560),
            ("market", 45),
            ("amend", 140),
            ("cancel", cancel_weight),
            ("cancel_all", 12),
            ("mass_cancel", 2),
            ("mark", 30),
            ("tick", 6),
        ];
        let total: u32 = weights.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        let mut action = "limit";
        for (name, w) in weights {
            if roll < w {
                action = name;
                break;
            }
            roll -= w;
        }
        match action {
            "limit" => {
                let o = self.limit_order(&l);
                self.cmd(CommandKind::PlaceOrder(o))
            }
            "market" => {
                let o = self.market_order(&l);
                self.cmd(CommandKind::PlaceOrder(o))
            }
            "amend" => self.amend(&l),
            "cancel" => self.cancel(&l),
            "cancel_all" => {
                let account = self.account();
                let market = if self.chance(700) { Some(l.id) } else { None };
                self.cmd(CommandKind::CancelAll { account, market })
            }
            "mass_cancel" => self.cmd(CommandKind::MassCancel { market: l.id }),
            "mark" => self.move_mark(&l),
            _ => self.cmd(CommandKind::Tick),
        }
    }

    fn band(&self, l: &Live) -> (i64, i64) {
        self.model.markets()[l.id.0 as usize].band().expect("tradable markets have a mark")
    }

    fn mark(&self, l: &Live) -> i64 {
        self.model.markets()[l.id.0 as usize].mark.expect("tradable markets have a mark")
    }

    /// A price for a new order or an amend on `side`: crossing, joining, passive or far.
    fn price(&mut self, l: &Live, side: Side, aggressive: bool) -> i64 {
        let m = &self.model.markets()[l.id.0 as usize];
        let (best_opp, best_own) = (m.best(side.opposite()), m.best(side));
        let mark = self.mark(l);
        let (low, high) = self.band(l);
        let p = &l.profile;
        let dir = side.sign();
        let roll = self.rng.random_range(0..100);
        let price = match (roll, best_opp, best_own) {
            (_, Some(opp), _) if aggressive || roll < 28 => opp + dir * p.step * self.rng.random_range(0..=3),
            (28..40, _, Some(own)) => own,
            (40..45, _, _) => {
                // Far from the mark, anywhere in the band (opens many levels).
                self.rng.random_range(low..=high)
            }
            _ => {
                let a = self.rng.random_range(0..=p.depth);
                let b = self.rng.random_range(0..=p.depth);
                mark - dir * p.step * a.min(b)
            }
        };
        price.clamp(low, high)
    }

    fn qty(&mut self, l: &Live) -> i64 {
        let (lo, hi) = l.profile.qty;
        if self.chance(700) { self.rng.random_range(lo..=(lo * 3).min(hi)) } else { self.rng.random_range(lo..=hi) }
    }

    fn stp(&mut self) -> StpMode {
        match self.rng.random_range(0..100) {
            0..50 => StpMode::ExpireTaker,
            50..75 => StpMode::ExpireMaker,
            _ => StpMode::ExpireBoth,
        }
    }

    /// One of the client ids `account` used before, `per_mille` of the time when there is one.
    fn used_id(&mut self, account: AccountId, per_mille: u32) -> Option<ClientOrderId> {
        let n = self.used_ids[usize::try_from(account.0).expect("small")].len();
        if n == 0 || !self.chance(per_mille) {
            return None;
        }
        let i = self.rng.random_range(0..n);
        Some(self.used_ids[usize::try_from(account.0).expect("small")][i].clone())
    }

    fn client_id(&mut self, account: AccountId) -> Option<ClientOrderId> {
        if !self.chance(350) {
            return None;
        }
        if let Some(reused) = self.used_id(account, 150) {
            return Some(reused);
        }
        self.fresh += 1;
        let text = format!("a{}-{}", account.0, self.fresh);
        let id = ClientOrderId::new(&text).expect("generated ids are valid");
        self.used_ids[usize::try_from(account.0).expect("small")].push(id.clone());
        Some(id)
    }

    fn limit_order(&mut self, l: &Live) -> NewOrder {
        let account = self.account();
        let side = if self.chance(500) { Side::Buy } else { Side::Sell };
        let tif = match self.rng.random_range(0..100) {
            0..50 => TimeInForce::Gtc,
            50..68 => TimeInForce::PostOnly,
            68..85 => TimeInForce::Ioc,
            _ => TimeInForce::Fok,
        };
        let aggressive = match tif {
            TimeInForce::Fok | TimeInForce::Ioc => self.chance(750),
            _ => false,
        };
        let price = self.price(l, side, aggressive);
        let mut qty = self.qty(l);
        if tif == TimeInForce::Fok && self.chance(500) {
            // Aim at what is really there, so a good share of FOKs fill.
            let m = &self.model.markets()[l.id.0 as usize];
            let avail: i64 = m
                .orders()
                .filter(|o| o.side == side.opposite() && side_crosses(side, price, o.price))
                .map(|o| o.qty)
                .sum();
            if avail >= l.profile.qty.0 {
                qty = self.rng.random_range(l.profile.qty.0..=avail);
            }
        }
        NewOrder {
            account,
            market: l.id,
            side,
            order_type: OrderType::Limit { price: Price(price), tif },
            qty: Qty(qty),
            client_id: self.client_id(account),
            stp: self.stp(),
            reduce_only: false,
        }
    }

    fn market_order(&mut self, l: &Live) -> NewOrder {
        let account = self.account();
        let side = if self.chance(500) { Side::Buy } else { Side::Sell };
        NewOrder {
            account,
            market: l.id,
            side,
            order_type: OrderType::Market,
            qty: Qty(self.qty(l)),
            client_id: self.client_id(account),
            stp: self.stp(),
            reduce_only: false,
        }
    }

    fn random_resting(&mut self, l: &Live) -> Option<RefOrder> {
        let m = &self.model.markets()[l.id.0 as usize];
        let n = m.orders().count();
        if n == 0 {
            return None;
        }
        let i = self.rng.random_range(0..n);
        m.orders().nth(i).cloned()
    }

    /// A reference to an order: by client id a quarter of the time when it has one.
    fn reference(&mut self, o: &RefOrder) -> OrderRef {
        match &o.client_id {
            Some(c) if self.chance(300) => OrderRef::Client(c.clone()),
            _ => OrderRef::Id(OrderId(o.id)),
        }
    }

    fn amend(&mut self, l: &Live) -> Command {
        let Some(o) = self.random_resting(l) else {
            let o = self.limit_order(l);
            return self.cmd(CommandKind::PlaceOrder(o));
        };
        let account = if self.chance(60) { self.account() } else { AccountId(o.account) };
        let order = self.reference(&o);
        let (price, qty) = match self.rng.random_range(0..100) {
            0..32 if o.qty > 1 => (None, Some(self.rng.random_range(1..o.qty))),
            0..52 => (None, Some(o.qty + self.rng.random_range(1..=l.profile.qty.1))),
            52..82 => {
                let aggressive = self.chance(300);
                (Some(self.price(l, o.side, aggressive)), None)
            }
            82..93 => {
                let aggressive = self.chance(200);
                let p = self.price(l, o.side, aggressive);
                (Some(p), Some(self.qty(l)))
            }
            93..97 => (Some(o.price), Some(o.qty)),
            _ => (None, None),
        };
        self.cmd(CommandKind::AmendOrder(Amend {
            account,
            market: l.id,
            order,
            price: price.map(Price),
            qty: qty.map(Qty),
        }))
    }

    fn cancel(&mut self, l: &Live) -> Command {
        let roll = self.rng.random_range(0..100);
        let (account, order) = match (roll, self.random_resting(l)) {
            (0..80, Some(o)) => (AccountId(o.account), self.reference(&o)),
            (80..88, Some(o)) => {
                // Someone else's order: unknown to this account.
                let mut a = self.account();
                if a.0 == o.account {
                    a = AccountId(a.0 % self.cfg.accounts + 1);
                }
                (a, OrderRef::Id(OrderId(o.id)))
            }
            _ => {
                // A stale or never-issued id, or a client id that was used before.
                let account = self.account();
                if let Some(c) = self.used_id(account, 500) {
                    (account, OrderRef::Client(c))
                } else {
                    let next = self.model.next_order_id();
                    (account, OrderRef::Id(OrderId(self.rng.random_range(0..next + 5))))
                }
            }
        };
        self.cmd(CommandKind::CancelOrder { account, market: l.id, order })
    }

    fn move_mark(&mut self, l: &Live) -> Command {
        let mark = self.mark(l);
        let p = &l.profile;
        let drift = self.rng.random_range(-3..=3) * p.step;
        // Pulled back towards the first mark so the stream stays near its book.
        let pull = (p.mark - mark).signum() * p.step;
        let next = (mark + drift + pull).max(1);
        self.cmd(CommandKind::SetMark { market: l.id, price: Price(next) })
    }

    /// A deliberately invalid or hostile command.
    #[allow(clippy::too_many_lines)]
    fn adversarial(&mut self, l: &Live) -> Command {
        let has_mark = self.model.markets()[l.id.0 as usize].mark.is_some();
        let n_markets = u32::try_from(self.model.markets().len()).expect("few");
        let account = self.account();
        let side = if self.chance(500) { Side::Buy } else { Side::Sell };
        let base_qty = l.profile.qty.0.max(l.profile.spec.min_qty.0);
        let max_qty = l.profile.spec.limits.max_order_qty.0;
        let gtc = |price: i64| OrderType::Limit { price: Price(price), tif: TimeInForce::Gtc };
        let mid = if has_mark { self.mark(l) } else { l.profile.mark };
        let order = |order_type, qty: i64| NewOrder {
            account,
            market: l.id,
            side,
            order_type,
            qty: Qty(qty),
            client_id: None,
            stp: StpMode::ExpireTaker,
            reduce_only: false,
        };
        let kind = self.rng.random_range(0..22);
        match kind {
            0 => self.cmd(CommandKind::PlaceOrder(order(gtc(mid), 0))),
            1 => {
                let q = match self.rng.random_range(0..3) {
                    0 => -1,
                    1 => -self.rng.random_range(1..=1_000_000),
                    _ => i64::MIN,
                };
                self.cmd(CommandKind::PlaceOrder(order(gtc(mid), q)))
            }
            2 => {
                let q =
                    if self.chance(500) { i64::MAX } else { max_qty.saturating_add(self.rng.random_range(1..=1_000)) };
                self.cmd(CommandKind::PlaceOrder(order(OrderType::Market, q)))
            }
            3 => {
                // Overflow-sized: the largest size allowed at a high price (overflows on the
                // test market; on the others it is a huge immediate-or-cancel sweep).
                let (p, tif) = if has_mark { (self.band(l).1, TimeInForce::Ioc) } else { (mid, TimeInForce::Ioc) };
                let ot = OrderType::Limit { price: Price(p), tif };
                self.cmd(CommandKind::PlaceOrder(order(ot, max_qty)))
            }
            4 => {
                let p = match self.rng.random_range(0..3) {
                    0 => 0,
                    1 => -self.rng.random_range(1..=mid),
                    _ => i64::MIN,
                };
                self.cmd(CommandKind::PlaceOrder(order(gtc(p), base_qty)))
            }
            5 => {
                let (low, high) = if has_mark { self.band(l) } else { (mid - 1, mid + 1) };
                let p = match self.rng.random_range(0..3) {
                    0 => high + self.rng.random_range(1..=50) * l.profile.step,
                    1 => (low - self.rng.random_range(1..=50) * l.profile.step).max(1),
                    _ => i64::MAX,
                };
                self.cmd(CommandKind::PlaceOrder(order(gtc(p), base_qty)))
            }
            6 => {
                let unknown = if self.chance(500) {
                    MarketId(n_markets + self.rng.random_range(0..3))
                } else {
                    MarketId(u32::MAX)
                };
                match self.rng.random_range(0..6) {
                    0 => {
                        let mut o = order(gtc(mid), base_qty);
                        o.market = unknown;
                        self.cmd(CommandKind::PlaceOrder(o))
                    }
                    1 => self.cmd(CommandKind::AmendOrder(Amend {
                        account,
                        market: unknown,
                        order: OrderRef::Id(OrderId(1)),
                        price: None,
                        qty: Some(Qty(1)),
                    })),
                    2 => {
                        self.cmd(CommandKind::CancelOrder { account, market: unknown, order: OrderRef::Id(OrderId(1)) })
                    }
                    3 => self.cmd(CommandKind::CancelAll { account, market: Some(unknown) }),
                    4 => self.cmd(CommandKind::MassCancel { market: unknown }),
                    _ => self.cmd(CommandKind::SetMark { market: unknown, price: Price(mid) }),
                }
            }
            7 => {
                let id = if self.chance(500) {
                    OrderId(0)
                } else {
                    OrderId(self.model.next_order_id() + self.rng.random_range(0..1_000))
                };
                if self.chance(500) {
                    self.cmd(CommandKind::CancelOrder { account, market: l.id, order: OrderRef::Id(id) })
                } else {
                    self.cmd(CommandKind::AmendOrder(Amend {
                        account,
                        market: l.id,
                        order: OrderRef::Id(id),
                        price: None,
                        qty: Some(Qty(base_qty)),
                    }))
                }
            }
            8 => {
                let never = ClientOrderId::new("never-used").expect("valid");
                self.cmd(CommandKind::CancelOrder { account, market: l.id, order: OrderRef::Client(never) })
            }
            9 => {
                let back = self.rng.random_range(1..=100).min(self.ts - T0).max(1);
                Command { ts: Timestamp(self.ts - back), kind: CommandKind::Tick }
            }
            10 => {
                let o = order(gtc(mid), base_qty);
                let back = self.rng.random_range(1..=5);
                Command { ts: Timestamp(self.ts - back), kind: CommandKind::PlaceOrder(o) }
            }
            11 => {
                let p = if self.chance(500) { 0 } else { -self.rng.random_range(1..=mid) };
                self.cmd(CommandKind::SetMark { market: l.id, price: Price(p) })
            }
            12 => {
                // A market that exists, or a new one (refused once the engine is full).
                // New symbols only once every profiled market exists, so none is crowded out.
                let all_created = self.next_profile == self.cfg.markets.len();
                let spec = if !all_created || self.chance(600) {
                    l.profile.spec.clone()
                } else {
                    self.extra_markets += 1;
                    MarketSpec { symbol: format!("X{}-PERP", self.extra_markets), ..fixtures::test_spec() }
                };
                self.cmd(CommandKind::CreateMarket(Box::new(spec)))
            }
            13 => {
                // An order in a market without a mark (if there is one), else a market order.
                let no_mark = (0..n_markets).find(|i| self.model.markets()[*i as usize].mark.is_none()).map(MarketId);
                let mut o = order(OrderType::Market, base_qty);
                if let Some(id) = no_mark {
                    o.market = id;
                }
                self.cmd(CommandKind::PlaceOrder(o))
            }
            14 | 15 if has_mark => {
                // Post-only that crosses, or a fill-or-kill larger than the book.
                let m = &self.model.markets()[l.id.0 as usize];
                let best = m.best(side.opposite());
                let total = m.side_total(side.opposite());
                let (low, high) = self.band(l);
                let price = best.unwrap_or(mid).clamp(low, high);
                let (tif, qty) =
                    if kind == 14 { (TimeInForce::PostOnly, base_qty) } else { (TimeInForce::Fok, total + base_qty) };
                let ot = OrderType::Limit { price: Price(price), tif };
                let mut o = order(ot, qty.min(max_qty));
                o.stp = self.stp();
                self.cmd(CommandKind::PlaceOrder(o))
            }
            16 => {
                // Below the minimum size or notional.
                let qty = l.profile.spec.min_qty.0 - 1;
                let qty = if qty >= 1 && self.chance(500) { qty } else { l.profile.spec.min_qty.0 };
                let price = if has_mark { self.band(l).0 } else { mid };
                self.cmd(CommandKind::PlaceOrder(order(gtc(price), qty)))
            }
            17..=19 if has_mark => {
                // A hostile amend of a real order.
                let Some(o) = self.random_resting(l) else {
                    return self.cmd(CommandKind::Tick);
                };
                let (low, high) = self.band(l);
                let (price, qty) = match self.rng.random_range(0..6) {
                    0 => (None, Some(0)),
                    1 => (None, Some(-self.rng.random_range(1..=100))),
                    2 => (None, Some(i64::MAX)),
                    3 => (None, Some(max_qty)),
                    4 => (Some(high + self.rng.random_range(1..=20)), None),
                    _ => (Some((low - self.rng.random_range(1..=20)).max(0)), None),
                };
                let order = self.reference(&o);
                self.cmd(CommandKind::AmendOrder(Amend {
                    account: AccountId(o.account),
                    market: l.id,
                    order,
                    price: price.map(Price),
                    qty: qty.map(Qty),
                }))
            }
            20 => {
                // A client id reused on purpose (a retried request), sometimes with fields that
                // would be refused: a held id is answered before the fields are checked.
                let Some(c) = self.used_id(account, 1000) else {
                    return self.cmd(CommandKind::Tick);
                };
                let qty = match self.rng.random_range(0..6) {
                    0 => 0,
                    1 => i64::MAX,
                    _ => base_qty,
                };
                let price = if self.chance(200) { -mid } else { mid };
                let mut o = order(gtc(price), qty);
                o.client_id = Some(c);
                self.cmd(CommandKind::PlaceOrder(o))
            }
            _ => {
                // A burst of resting orders far apart: fills the levels and open-order limits.
                let (low, high) = if has_mark { self.band(l) } else { (mid - 1, mid + 1) };
                let (from, to) = match side {
                    Side::Buy => (low, mid.max(low)),
                    Side::Sell => (mid.min(high), high),
                };
                let p = self.rng.random_range(from..=to);
                let mut o = order(gtc(p), base_qty);
                o.client_id = self.client_id(account);
                o.order_type = OrderType::Limit { price: Price(p), tif: TimeInForce::PostOnly };
                self.cmd(CommandKind::PlaceOrder(o))
            }
        }
    }
}

fn side_crosses(side: Side, limit: i64, resting: i64) -> bool {
    match side {
        Side::Buy => resting <= limit,
        Side::Sell => resting >= limit,
    }
}
