//! Rejections (`docs/ENGINE.md`, "Placing an order", "Amending", "Reject codes"): after any
//! valid history, every kind of invalid command is answered by exactly one `Rejected` event with
//! its documented code, and changes nothing: the state hash and the invariants are as before.
//!
//! Each proptest case replays a random prefix (a generated stream on the small test market),
//! brings the book into a known shape with valid commands (a mark of 1,000, resting liquidity
//! on both sides), and then sends every invalid command, each at the engine's own clock so time
//! does not move. Rejections that need a particular state (an account at its open-order limit,
//! a side at its level limit, a post-only order to amend, a market without a mark, a full
//! engine) are set up with valid commands on a clone of the engine first.

use perpx_core::{
    AccountId, Command, CommandKind, Decimal, Engine, EngineConfig, EventKind, MarketId, MarketSpec, OrderId, OrderRef,
    Side, StpMode, TimeInForce,
};
use perpx_testkit::compare::outcomes;
use perpx_testkit::fixtures::{
    TEST_LIMITS, TEST_MARK, amend, by_cid, by_id, cancel, cancel_all, create_market, deposit, limit, limit_with,
    market_order, mass_cancel, set_mark, test_spec, test_spec_named, tick,
};
use perpx_testkit::reference::{Outcome, code};
use perpx_testkit::stream::{MarketProfile, STREAM_DEPOSIT, StreamConfig, generate};
use proptest::prelude::*;

const MARKET: u32 = 0;
/// Accounts the prefix never uses (streams use 1..=12).
const BIDDER: u64 = 900;
const ASKER: u64 = 901;
const SECOND_BIDDER: u64 = 902;
const STRANGER: u64 = 950;
/// Room for the few markets a prefix may create, so `duplicate_symbol` is reached.
const MAX_MARKETS: u32 = 16;

/// An engine and the timestamp every further command uses.
#[derive(Clone)]
struct Ctx {
    engine: Engine,
}

impl Ctx {
    fn ts(&self) -> i64 {
        self.engine.now().0
    }

    fn market(&self) -> &perpx_core::market::Market {
        self.engine.market(MarketId(MARKET)).expect("the test market")
    }

    fn band(&self) -> (i64, i64) {
        let m = self.market();
        let (low, high) = m.band_around(m.mark.expect("a mark"));
        (low.0, high.0)
    }

    fn best(&self, side: Side) -> Option<i64> {
        self.market().book.best_price(side).map(|p| p.0)
    }

    fn side_total(&self, side: Side) -> i64 {
        self.market().book.levels(side).map(|(_, level)| level.total.0).sum()
    }

    /// Applies a command that must take effect; returns its outcomes.
    fn ok(&mut self, cmd: &Command) -> Vec<Outcome> {
        let out = outcomes(&self.engine.apply(cmd));
        assert!(
            !out.iter().any(|o| matches!(o, Outcome::Rejected { .. })),
            "setup command {cmd:?} was rejected: {out:?}"
        );
        self.engine.check_invariants().unwrap();
        out
    }

    /// Applies a command that must be rejected with `code` and change nothing.
    fn rejects(&mut self, cmd: &Command, code: u16, what: &str) {
        let before = self.engine.state_hash();
        let seq = self.engine.seq();
        let events = self.engine.apply(cmd);
        assert!(
            matches!(events.as_slice(), [e] if matches!(&e.kind, EventKind::Rejected { reason, .. } if reason.code() == code)),
            "{what}: expected exactly one rejection {code}, got {events:?}\n  for {cmd:?}"
        );
        assert_eq!(events[0].seq, seq + 1, "{what}: a rejection still takes a sequence number");
        assert_eq!(self.engine.state_hash(), before, "{what}: a rejection changed the state ({cmd:?})");
        self.engine.check_invariants().unwrap();
    }

    /// Places a GTC order that must rest in full (asserted); returns its id.
    fn rest(&mut self, account: u64, side: Side, price: i64, qty: i64) -> u64 {
        let out = self.ok(&limit(self.ts(), account, MARKET, side, price, qty, TimeInForce::Gtc));
        match out.as_slice() {
            [Outcome::Accepted { order_id, .. }] => order_id.0,
            other => panic!("expected the order to rest untouched, got {other:?}"),
        }
    }
}

/// A price for a new resting order on `side`: inside the band, not crossing, preferably on an
/// existing level (so no level limit applies), else next to the touch.
fn resting_price(c: &Ctx, side: Side) -> i64 {
    let (low, high) = c.band();
    match (side, c.best(side), c.best(side.opposite())) {
        (_, Some(own), _) if (low..=high).contains(&own) => own,
        (Side::Buy, _, Some(ask)) => (ask - 1).clamp(low, high),
        (Side::Sell, _, Some(bid)) => (bid + 1).clamp(low, high),
        (Side::Buy, _, None) => TEST_MARK.0 - 5,
        (Side::Sell, _, None) => TEST_MARK.0 + 5,
    }
}

/// Replays the prefix and seeds the book: mark 1,000, room for a new level on each side, a 4-lot
/// bid of [`BIDDER`] with client id
/// `bid-1` and a 4-lot ask of [`ASKER`], both resting at or next to the touch.
fn prepared(seed: u64, prefix: usize) -> (Ctx, u64, u64) {
    let mut cfg = StreamConfig::from_seed(seed, prefix);
    cfg.markets = vec![MarketProfile::test()];
    cfg.engine.max_markets = MAX_MARKETS;
    let stream = generate(&cfg);
    let mut engine = Engine::new(stream.engine.clone());
    for cmd in &stream.commands {
        engine.apply(cmd);
    }
    let mut c = Ctx { engine };
    if c.engine.markets().is_empty() {
        c.ok(&create_market(c.ts(), test_spec()));
    }
    c.ok(&set_mark(c.ts(), MARKET, TEST_MARK.0));
    for account in [BIDDER, ASKER, SECOND_BIDDER, STRANGER, 960, 970] {
        c.ok(&deposit(c.ts(), account, STREAM_DEPOSIT));
    }
    // A side at its level limit would refuse the crossing post-only orders below for want of a
    // level before their crossing is looked at: such a book is cleared first.
    let limit_reached = [Side::Buy, Side::Sell]
        .iter()
        .any(|s| c.market().book.level_count(*s) + 1 >= TEST_LIMITS.max_price_levels as usize);
    // Orders the prefix left at a band edge (placed under an earlier mark) can leave the other
    // side no price inside the band that does not cross: such a book is cleared too.
    let (low, high) = c.band();
    let no_room = c.best(Side::Buy).is_some_and(|b| b >= high) || c.best(Side::Sell).is_some_and(|a| a <= low);
    if limit_reached || no_room {
        c.ok(&mass_cancel(c.ts(), MARKET));
    }
    let bid_price = resting_price(&c, Side::Buy);
    let bid = match c
        .ok(&limit_with(
            c.ts(),
            BIDDER,
            MARKET,
            Side::Buy,
            bid_price,
            4,
            TimeInForce::Gtc,
            StpMode::ExpireTaker,
            Some("bid-1"),
        ))
        .as_slice()
    {
        [Outcome::Accepted { order_id, .. }] => order_id.0,
        other => panic!("seed bid did not rest: {other:?}"),
    };
    let ask_price = resting_price(&c, Side::Sell);
    let ask = c.rest(ASKER, Side::Sell, ask_price, 4);
    (c, bid, ask)
}

/// Every invalid new order, on the prepared state.
fn invalid_orders(c: &mut Ctx) {
    let ts = c.ts();
    let (low, high) = c.band();
    let gtc = |price: i64, qty: i64| limit(ts, STRANGER, MARKET, Side::Buy, price, qty, TimeInForce::Gtc);
    let max = TEST_LIMITS.max_order_qty.0;

    c.rejects(&gtc(1_000, 0), code::NON_POSITIVE_QTY, "zero size");
    c.rejects(&gtc(1_000, -1), code::NON_POSITIVE_QTY, "negative size");
    c.rejects(&gtc(1_000, i64::MIN), code::NON_POSITIVE_QTY, "i64::MIN size");
    c.rejects(&gtc(1_000, i64::MAX), code::QTY_ABOVE_MAX, "i64::MAX size");
    c.rejects(&gtc(1_000, max + 1), code::QTY_ABOVE_MAX, "one lot above the maximum");
    c.rejects(&market_order(ts, STRANGER, MARKET, Side::Sell, i64::MAX), code::QTY_ABOVE_MAX, "i64::MAX market order");
    c.rejects(&gtc(1_000, 1), code::QTY_BELOW_MIN, "one lot below the minimum");
    // 2 lots × 999 = 1,998 < 2,000.
    c.rejects(&gtc(999.max(low), 2), code::NOTIONAL_BELOW_MIN, "notional below minimum");
    c.rejects(&gtc(0, 5), code::NON_POSITIVE_PRICE, "zero price");
    c.rejects(&gtc(-1_000, 5), code::NON_POSITIVE_PRICE, "negative price");
    c.rejects(&gtc(i64::MIN, 5), code::NON_POSITIVE_PRICE, "i64::MIN price");
    c.rejects(&gtc(high + 1, 5), code::PRICE_OUTSIDE_BAND, "one tick above the band");
    c.rejects(&gtc(low - 1, 5), code::PRICE_OUTSIDE_BAND, "one tick below the band");
    c.rejects(&gtc(i64::MAX, 5), code::PRICE_OUTSIDE_BAND, "i64::MAX price");
    let sell_below = limit(ts, STRANGER, MARKET, Side::Sell, low - 1, 5, TimeInForce::Ioc);
    c.rejects(&sell_below, code::PRICE_OUTSIDE_BAND, "an IOC sell below the band");
    // 10^12 lots × 1,000 × 10^6 micro-units does not fit an i64.
    c.rejects(&gtc(1_000, max), code::NOTIONAL_OVERFLOW, "overflowing notional");
    c.rejects(&market_order(ts, STRANGER, MARKET, Side::Buy, max), code::NOTIONAL_OVERFLOW, "overflowing market order");

    // Post-only orders that would take, on each side.
    let ask = c.best(Side::Sell).expect("seeded ask");
    let bid = c.best(Side::Buy).expect("seeded bid");
    let po = |side, price| limit(ts, STRANGER, MARKET, side, price, 5, TimeInForce::PostOnly);
    c.rejects(&po(Side::Buy, ask), code::POST_ONLY_WOULD_TAKE, "post-only buy at the ask");
    c.rejects(&po(Side::Sell, bid), code::POST_ONLY_WOULD_TAKE, "post-only sell at the bid");
    c.rejects(&po(Side::Buy, high), code::POST_ONLY_WOULD_TAKE, "post-only buy through the book");

    // Fill-or-kill for more than the whole opposite side within the band.
    let asks = c.side_total(Side::Sell);
    let fok = limit(ts, STRANGER, MARKET, Side::Buy, high, asks + 1, TimeInForce::Fok);
    c.rejects(&fok, code::FOK_CANNOT_FILL, "fill-or-kill larger than the book");
    let bids = c.side_total(Side::Buy);
    let fok = limit(ts, STRANGER, MARKET, Side::Sell, low, bids + 1, TimeInForce::Fok);
    c.rejects(&fok, code::FOK_CANNOT_FILL, "fill-or-kill sell larger than the book");
}

/// A fill-or-kill that would fill only by trading with its own account's order: self-trade
/// prevention stops (or skips) it before, so it can't fill, in every mode, and no maker is
/// expired by the check.
fn fok_blocked_by_self_trade(c: &Ctx) {
    let mut c = c.clone();
    let ask = c.best(Side::Sell).expect("seeded ask");
    // STRANGER joins the back of the best ask level.
    c.rest(STRANGER, Side::Sell, ask, 3);
    let level: i64 = c.market().book.levels(Side::Sell).next().map(|(_, l)| l.total.0).expect("a best level");
    for stp in [StpMode::ExpireTaker, StpMode::ExpireMaker, StpMode::ExpireBoth] {
        let fok = limit_with(c.ts(), STRANGER, MARKET, Side::Buy, ask, level, TimeInForce::Fok, stp, None);
        c.rejects(&fok, code::FOK_CANNOT_FILL, &format!("FOK against itself ({stp:?})"));
    }
}

/// Every invalid amend, cancel and unknown reference.
fn invalid_amends_and_cancels(c: &mut Ctx, bid: u64) {
    let ts = c.ts();
    let (low, high) = c.band();
    let max = TEST_LIMITS.max_order_qty.0;
    let bid_order = c.market().book.get(OrderId(bid)).expect("seeded bid").clone();
    let (price, qty) = (bid_order.price.0, bid_order.qty.0);
    let am = |price: Option<i64>, qty: Option<i64>| amend(ts, BIDDER, MARKET, by_id(bid), price, qty);

    c.rejects(&am(Some(price), Some(qty)), code::NOTHING_TO_AMEND, "amend to the same");
    c.rejects(&am(None, None), code::NOTHING_TO_AMEND, "amend of nothing");
    c.rejects(&am(None, Some(qty)), code::NOTHING_TO_AMEND, "amend to the same size");
    c.rejects(
        &amend(ts, BIDDER, MARKET, by_cid("bid-1"), Some(price), None),
        code::NOTHING_TO_AMEND,
        "amend by client id to the same price",
    );
    c.rejects(&am(None, Some(0)), code::NON_POSITIVE_QTY, "amend to zero");
    c.rejects(&am(None, Some(-3)), code::NON_POSITIVE_QTY, "amend to a negative size");
    c.rejects(&am(None, Some(i64::MAX)), code::QTY_ABOVE_MAX, "amend to i64::MAX");
    c.rejects(&am(None, Some(max + 1)), code::QTY_ABOVE_MAX, "amend above the maximum");
    c.rejects(&am(None, Some(max)), code::NOTIONAL_OVERFLOW, "amend to an overflowing size");
    c.rejects(&am(Some(0), None), code::NON_POSITIVE_PRICE, "amend to price zero");
    c.rejects(&am(Some(-7), None), code::NON_POSITIVE_PRICE, "amend to a negative price");
    c.rejects(&am(Some(high + 1), None), code::PRICE_OUTSIDE_BAND, "amend above the band");
    c.rejects(&am(Some(low - 1), None), code::PRICE_OUTSIDE_BAND, "amend below the band");

    // Unknown orders: never issued, another account's, gone, unknown client ids.
    let next = c.engine.markets().iter().map(|m| m.book.order_count()).sum::<usize>();
    let never = OrderId(u64::MAX - u64::try_from(next).expect("small"));
    let unknown = [
        (by_id(0), STRANGER, "order id 0"),
        (OrderRef::Id(never), STRANGER, "an id never issued"),
        (by_id(bid), STRANGER, "another account's order by id"),
        (by_cid("bid-1"), STRANGER, "another account's client id"),
        (by_cid("never-used"), BIDDER, "a client id never used"),
    ];
    for (r, account, what) in unknown {
        c.rejects(&cancel(ts, account, MARKET, r.clone()), code::UNKNOWN_ORDER, what);
        let a = amend(ts, account, MARKET, r, None, Some(1));
        c.rejects(&a, code::UNKNOWN_ORDER, what);
    }
    // An id that was issued but is no longer in the book (filled or cancelled), if any.
    let book = &c.market().book;
    if let Some(gone) = (1..bid).find(|id| book.get(OrderId(*id)).is_none()) {
        c.rejects(&cancel(ts, BIDDER, MARKET, by_id(gone)), code::UNKNOWN_ORDER, "an order that left the book");
    }
    // A client id still held by an order that left the book names no open order.
    let terminal = c
        .engine
        .client_orders()
        .iter()
        .find(|(_, _, e)| e.terminal.is_some())
        .map(|(account, id, _)| (account, id.clone()));
    if let Some((account, id)) = terminal {
        let r = OrderRef::Client(id);
        c.rejects(
            &cancel(ts, account.0, MARKET, r.clone()),
            code::UNKNOWN_ORDER,
            "a held client id whose order left the book",
        );
        c.rejects(
            &amend(ts, account.0, MARKET, r, None, Some(5)),
            code::UNKNOWN_ORDER,
            "amend by a held client id whose order left the book",
        );
    }
}

/// Unknown markets, marks, market specs and time going backwards.
fn invalid_admin_and_time(c: &mut Ctx) {
    let ts = c.ts();
    let n = u32::try_from(c.engine.markets().len()).expect("few");
    for m in [n, n + 1, u32::MAX] {
        let o = limit(ts, STRANGER, m, Side::Buy, 1_000, 5, TimeInForce::Gtc);
        c.rejects(&o, code::UNKNOWN_MARKET, "order in an unknown market");
        c.rejects(
            &market_order(ts, STRANGER, m, Side::Sell, 5),
            code::UNKNOWN_MARKET,
            "market order in an unknown market",
        );
        c.rejects(&amend(ts, BIDDER, m, by_id(1), None, Some(5)), code::UNKNOWN_MARKET, "amend in an unknown market");
        c.rejects(&cancel(ts, BIDDER, m, by_id(1)), code::UNKNOWN_MARKET, "cancel in an unknown market");
        c.rejects(&cancel_all(ts, BIDDER, Some(m)), code::UNKNOWN_MARKET, "cancel-all in an unknown market");
        c.rejects(&mass_cancel(ts, m), code::UNKNOWN_MARKET, "mass cancel of an unknown market");
        c.rejects(&set_mark(ts, m, 1_000), code::UNKNOWN_MARKET, "mark of an unknown market");
    }
    c.rejects(&set_mark(ts, MARKET, 0), code::NON_POSITIVE_MARK, "mark zero");
    c.rejects(&set_mark(ts, MARKET, -1), code::NON_POSITIVE_MARK, "negative mark");
    c.rejects(&set_mark(ts, MARKET, i64::MIN), code::NON_POSITIVE_MARK, "i64::MIN mark");
    c.rejects(&create_market(ts, test_spec()), code::DUPLICATE_SYMBOL, "duplicate symbol");
    let broken = MarketSpec { tick_size: Decimal::new(0, 0), ..test_spec_named("BROKEN-PERP") };
    c.rejects(&create_market(ts, broken), code::INVALID_MARKET_SPEC, "a zero tick");
    for back in [1, 1_000, ts.max(1)] {
        c.rejects(&tick(ts - back), code::TIMESTAMP_REGRESSION, "tick in the past");
        let o = limit(ts - back, STRANGER, MARKET, Side::Buy, 1_000, 5, TimeInForce::Gtc);
        c.rejects(&o, code::TIMESTAMP_REGRESSION, "a valid order in the past");
        c.rejects(&cancel_all(ts - back, BIDDER, None), code::TIMESTAMP_REGRESSION, "cancel-all in the past");
    }
}

/// The open-order limit: an account holding the maximum can place no resting order.
fn too_many_open_orders(c: &Ctx) {
    let mut c = c.clone();
    let price = resting_price(&c, Side::Buy);
    let account = 960;
    for _ in 0..TEST_LIMITS.max_open_orders_per_account {
        c.rest(account, Side::Buy, price, 3);
    }
    let ts = c.ts();
    for tif in [TimeInForce::Gtc, TimeInForce::PostOnly] {
        let o = limit(ts, account, MARKET, Side::Buy, price, 3, tif);
        c.rejects(&o, code::TOO_MANY_OPEN_ORDERS, "one order over the limit");
    }
}

/// The level limit: a side holding the maximum of levels takes no order at a new price, and no
/// amend to one; an existing level still takes orders. (The book is cleared first so the
/// levels fit the band whatever the prefix left.)
fn too_many_price_levels(c: &Ctx) {
    let mut c = c.clone();
    c.ok(&mass_cancel(c.ts(), MARKET));
    let top = TEST_MARK.0 - 1;
    // Two orders share the top level, so moving the first away would not free a level.
    let moved = c.rest(SECOND_BIDDER, Side::Buy, top, 3);
    c.rest(BIDDER, Side::Buy, top, 3);
    let max = i64::from(TEST_LIMITS.max_price_levels);
    for (i, price) in (top - max + 1..top).rev().enumerate() {
        // (One million USD each: the level fillers rest 3 lots; the venue's money ceiling,
        // `MAX_MONEY_IN`, holds about 23 stream deposits.)
        c.ok(&deposit(c.ts(), 1_000 + i as u64, perpx_core::Quote(1_000_000_000_000)));
        c.rest(1_000 + i as u64, Side::Buy, price, 3);
    }
    assert_eq!(c.market().book.level_count(Side::Buy), TEST_LIMITS.max_price_levels as usize);
    let fresh = top - max;
    let ts = c.ts();
    for tif in [TimeInForce::Gtc, TimeInForce::PostOnly] {
        let o = limit(ts, STRANGER, MARKET, Side::Buy, fresh, 3, tif);
        c.rejects(&o, code::TOO_MANY_PRICE_LEVELS, "a new level over the limit");
    }
    c.rejects(
        &amend(ts, SECOND_BIDDER, MARKET, by_id(moved), Some(fresh), None),
        code::TOO_MANY_PRICE_LEVELS,
        "an amend to a new level over the limit",
    );
    // The limit is on levels, not orders: joining a level is fine, and so is an IOC at a new
    // price (it never rests).
    c.rest(STRANGER, Side::Buy, top, 3);
    let ioc = c.ok(&limit(ts, STRANGER, MARKET, Side::Buy, fresh, 3, TimeInForce::Ioc));
    assert!(matches!(ioc.as_slice(), [Outcome::Accepted { .. }, Outcome::Cancelled { .. }]), "{ioc:?}");
}

/// A post-only order is refused, not repriced, when an amend would make it cross.
fn post_only_amend_that_would_take(c: &Ctx) {
    let mut c = c.clone();
    let price = resting_price(&c, Side::Buy);
    let out = c.ok(&limit(c.ts(), 970, MARKET, Side::Buy, price, 3, TimeInForce::PostOnly));
    let [Outcome::Accepted { order_id, .. }] = out.as_slice() else {
        panic!("post-only bid did not rest: {out:?}");
    };
    let ask = c.best(Side::Sell).expect("seeded ask");
    let a = amend(c.ts(), 970, MARKET, OrderRef::Id(*order_id), Some(ask), None);
    c.rejects(&a, code::POST_ONLY_WOULD_TAKE, "post-only amended onto the ask");
}

/// A market without a mark takes no order; an engine at its market limit takes no market.
fn no_mark_and_too_many_markets(c: &Ctx) {
    let mut c = c.clone();
    let mut created = 0;
    while c.engine.markets().len() < MAX_MARKETS as usize {
        created += 1;
        let spec = test_spec_named(&format!("NEW{created}-PERP"));
        c.ok(&create_market(c.ts(), spec));
    }
    let ts = c.ts();
    let last = u32::try_from(c.engine.markets().len() - 1).expect("few");
    if c.engine.market(MarketId(last)).is_some_and(|m| m.mark.is_none()) {
        let o = limit(ts, STRANGER, last, Side::Buy, 1_000, 5, TimeInForce::Gtc);
        c.rejects(&o, code::NO_MARK_PRICE, "an order before the first mark");
        c.rejects(
            &market_order(ts, STRANGER, last, Side::Buy, 5),
            code::NO_MARK_PRICE,
            "a market order before the first mark",
        );
    }
    c.rejects(
        &create_market(ts, test_spec_named("ONE-TOO-MANY")),
        code::TOO_MANY_MARKETS,
        "a market over the engine's limit",
    );
}

/// A mark so large that the band's upper edge saturates: no size can be represented at the
/// band's prices, so orders are refused for overflow rather than wrapped.
fn huge_mark(c: &Ctx) {
    let mut c = c.clone();
    c.ok(&set_mark(c.ts(), MARKET, i64::MAX));
    let ts = c.ts();
    let (low, high) = c.band();
    assert_eq!(high, i64::MAX, "the upper edge saturates");
    for (side, price) in [(Side::Buy, high), (Side::Sell, low)] {
        let o = limit(ts, STRANGER, MARKET, side, price, 2, TimeInForce::Gtc);
        c.rejects(&o, code::NOTIONAL_OVERFLOW, "an order at a saturated band");
        c.rejects(
            &market_order(ts, STRANGER, MARKET, side, 2),
            code::NOTIONAL_OVERFLOW,
            "a market order at a saturated band",
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(64)
    })]

    #[test]
    fn every_invalid_command_is_rejected_with_its_code_and_changes_nothing(
        seed in any::<u64>(),
        prefix in 0usize..400,
    ) {
        let (mut c, bid, _ask) = prepared(seed, prefix);
        invalid_orders(&mut c);
        fok_blocked_by_self_trade(&c);
        invalid_amends_and_cancels(&mut c, bid);
        invalid_admin_and_time(&mut c);
        too_many_open_orders(&c);
        too_many_price_levels(&c);
        post_only_amend_that_would_take(&c);
        no_mark_and_too_many_markets(&c);
        huge_mark(&c);
    }
}

/// The engine's own settings do not matter to the checks above; a fresh engine with no market
/// at all rejects every order for its market.
#[test]
fn an_empty_engine_knows_no_market() {
    let mut c = Ctx { engine: Engine::new(EngineConfig::default()) };
    c.rejects(&limit(0, 1, 0, Side::Buy, 1_000, 5, TimeInForce::Gtc), code::UNKNOWN_MARKET, "an order with no market");
    c.rejects(
        &Command {
            ts: perpx_core::Timestamp(0),
            kind: CommandKind::CancelAll { account: AccountId(1), market: Some(MarketId(0)) },
        },
        code::UNKNOWN_MARKET,
        "cancel-all with no market",
    );
}
