//! A live market: its validated spec, its mark price and its book.

use crate::stop::ArmedStops;

use super::funding::FundingState;
use super::holders::Holders;
use super::oracle::{OracleStage, OracleState};
use super::safe_band::SafeBand;
use super::spec::{MarketSpec, ValidMarket};
use crate::book::{Book, Side};
use crate::command::{ParamChange, TimeInForce};
use crate::engine::{StateHasher, stp_tag};
use crate::ids::MarketId;
use crate::num::Timestamp;
use crate::num::{Price, Qty, Quote};
use crate::price::index::IndexResult;
use crate::stop::{StopKind, StopOrder, TriggerBy};

/// A market as the engine holds it.
#[derive(Debug, Clone)]
pub struct Market {
    /// Its id.
    pub id: MarketId,
    /// Its specification (tick and lot never change while it is live).
    pub spec: MarketSpec,
    /// Micro-units per tick per lot.
    pub quote_per_tick_lot: i64,
    /// The mark price, once set (`Market::set_mark` sets it with its band).
    pub mark: Option<Price>,
    /// [`Market::band_around`] the mark, kept with it: every order and amend checks its price
    /// against the band, which costs two wide multiplications and divisions, while the mark
    /// moves far more rarely. Measured (callgrind, `benches/book.rs`): the band computed per
    /// check was 111 instructions of `engine_mix`'s 2,282 a command (docs/PERFORMANCE.md,
    /// session 6). `None` exactly when `mark` is (checked by `Engine::check_invariants`).
    pub(crate) band: Option<(Price, Price)>,
    /// The order book.
    pub book: Book,
    /// The last trade price, once the market has traded.
    pub last_price: Option<Price>,
    /// Untriggered stop and take-profit orders, by id (placement order) and by trigger.
    pub stops: ArmedStops,
    /// Trading, halted or delisted.
    pub status: MarketStatus,
    /// A scheduled parameter change and when it takes effect.
    pub pending_change: Option<(Timestamp, ParamChange)>,
    /// Oracle prices, the index and the stale-index stage.
    pub oracle: OracleState,
    /// The current funding period and its premium samples.
    pub funding: FundingState,
    /// The market's own insurance fund (policy `own`): liquidation fees and funding remainders
    /// in, deficits out.
    pub insurance_fund: Quote,
    /// Under the `shared` policy: what the market has drawn from the shared fund net of what
    /// it paid in (negative when it paid in more).
    pub shared_net_draw: Quote,
    /// Accounts with a position here, by side (longs, shorts), each with its unit's safe
    /// band: ADL ranks only the side opposite a bankrupt position, funding and the console
    /// read them, and a mark move re-checks for liquidation exactly the holders whose band it
    /// leaves. Change them with [`Market::add_holder`] and [`Market::remove_holder`].
    ///
    /// Their order reaches no output (the readers sort what they take from them). Looked up
    /// by a hash map, not a tree: the liquidation pass sets the band of every account it
    /// checks, a probe instead of a tree descent (with the band's 64-bit division, the recovery
    /// workload's engine went from 1,670 M to 1,622 M instructions; docs/PERFORMANCE.md,
    /// "Session 11: the engine on the replay worker"). An ordered set of the same holders was
    /// kept beside it until session 17: each position opened or closed also inserted into or
    /// removed from a 100,000-entry B-tree (5.5 % of the 30 % gap's instructions;
    /// docs/PERFORMANCE.md, "Session 17"). The bands themselves lie in a vector since
    /// session 32, for the walk at each mark move ([`Holders`]).
    pub(crate) holders: [Holders; 2],
    /// How many ticks every band of each side has narrowed by since funding settlements began
    /// ([`crate::market::SafeBand`]): raised for the paying side at each settlement. Derived, like
    /// the bands.
    pub band_shrink: [i64; 2],
    /// Σ long size (= Σ short size).
    pub open_interest: Qty,
    /// Whether the market traded in the running command (its mark is re-derived after step 3);
    /// false between commands.
    pub traded: bool,
    /// The mark the last liquidation pass checked the holders at; `None` forces a check
    /// (funding settled, tiers changed). Equal to `mark` between commands.
    pub checked_mark: Option<Price>,
    /// The last index evaluation and until when it holds (derived: not in snapshots or the
    /// state hash; `Engine::check_invariants` recomputes it).
    pub(crate) index_cache: IndexCache,
    /// The last derived mark and the span it holds over (derived, like the index cache).
    pub(crate) mark_memo: MarkMemo,
}

/// The oracle index computed at `at` and the first source expiry after it (`until`; `None`:
/// no price can expire). The index reads only the sources' prices, their arrival times and the
/// clock, and between two expiries no price changes freshness, so the same result holds for
/// every `now` in `at..until` until a new price arrives (which clears it).
///
/// Why: the engine re-evaluates every oracle market at every command (the mark moves with
/// time), and recomputing the index each time was 9 % of the server's engine thread
/// (callgrind, docs/PERFORMANCE.md "Session 9").
///
/// `applied` says that an evaluation has already written this result's source statuses and
/// index into the market's oracle state: evaluating the same result again changes nothing
/// there, so step 1 skips that part (docs/PERFORMANCE.md, "Session 31").
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexCache {
    entry: Option<(Timestamp, Option<Timestamp>, IndexResult)>,
    applied: bool,
}

impl IndexCache {
    /// The cached result, if it holds at `now`.
    pub(crate) fn at(&self, now: Timestamp) -> Option<&IndexResult> {
        match &self.entry {
            Some((at, until, r)) if *at <= now && until.is_none_or(|u| now < u) => Some(r),
            _ => None,
        }
    }

    /// Keeps `result`, computed at `at`, valid until `until`; not yet applied.
    pub(crate) fn set(&mut self, at: Timestamp, until: Option<Timestamp>, result: IndexResult) {
        self.entry = Some((at, until, result));
        self.applied = false;
    }

    /// Forgets the result (a source's price changed).
    pub(crate) fn clear(&mut self) {
        self.entry = None;
        self.applied = false;
    }

    /// Records that the result's statuses and index are now the market's.
    pub(crate) fn mark_applied(&mut self) {
        self.applied = true;
    }

    /// Whether the result holding at `now` was already applied to the market.
    pub(crate) fn applied_at(&self, now: Timestamp) -> bool {
        self.applied && self.at(now).is_some()
    }

    /// When the result holding at `now`, already applied, stops holding (exclusive; never:
    /// `i64::MAX`); `None` if no applied result holds at `now`.
    pub(crate) fn applied_until(&self, now: Timestamp) -> Option<Timestamp> {
        match &self.entry {
            Some((_, until, _)) if self.applied_at(now) => Some(until.unwrap_or(Timestamp(i64::MAX))),
            _ => None,
        }
    }
}

/// The mark last derived from the oracle, the inputs it came from (all but the clock), and
/// the span of the clock over which the same inputs give the same mark
/// ([`crate::price::mark::mark_price_span`]).
///
/// Why: step 1 of every command derives every oracle market's mark, because time moves its
/// funding-basis term; with `perpx serve`'s markets (three sources each) that derivation and
/// the index's re-application were about 1,300 of the 4,000 instructions a command of
/// `engine_mix`'s oracle case. The term changes every few seconds at a typical rate, the other
/// inputs with trades, source prices and funding samples (docs/PERFORMANCE.md, "Session 31").
///
/// Derived like the index cache: not in snapshots or the state hash, and
/// `Engine::check_invariants` checks a held mark against a fresh derivation.
#[derive(Debug, Clone, Default)]
pub(crate) struct MarkMemo(Option<(MarkKey, Timestamp, Timestamp, Price)>);

/// What a derived mark reads besides the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MarkKey {
    pub(crate) index: Price,
    pub(crate) last_rate: crate::num::Rate,
    pub(crate) period_start: Timestamp,
    pub(crate) next_funding: Timestamp,
    /// The funding clock's next sample time, which moves forward whenever samples are taken,
    /// and so whenever the book's basis samples (the mark's average) change.
    pub(crate) next_sample_at: Timestamp,
    pub(crate) last_trade: Option<Price>,
    pub(crate) mark_band: crate::num::Rate,
}

impl MarkMemo {
    /// The mark held for `key`, if `now` lies in its span.
    pub(crate) fn get(&self, key: &MarkKey, now: Timestamp) -> Option<Price> {
        self.held_through(key, now).map(|(mark, _)| mark)
    }

    /// The mark held for `key` at `now` and the last clock of its span, if `now` lies in it.
    pub(crate) fn held_through(&self, key: &MarkKey, now: Timestamp) -> Option<(Price, Timestamp)> {
        match &self.0 {
            Some((k, from, to, mark)) if k == key && *from <= now && now <= *to => Some((*mark, *to)),
            _ => None,
        }
    }

    /// Holds `mark`, derived from `key`, for every clock in `from..=to`.
    pub(crate) fn set(&mut self, key: MarkKey, from: Timestamp, to: Timestamp, mark: Price) {
        self.0 = Some((key, from, to, mark));
    }
}

/// The holders of one side of a market ([`Market::holders_of`]), in no particular order.
#[derive(Debug, Clone)]
pub struct HolderIds<'a>(std::iter::Copied<std::collections::hash_map::Keys<'a, crate::ids::AccountId, u32>>);

impl Iterator for HolderIds<'_> {
    type Item = crate::ids::AccountId;

    fn next(&mut self) -> Option<crate::ids::AccountId> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for HolderIds<'_> {}

/// A market's specification, for what reads only that (its text formats: `perpx-wire`).
impl AsRef<MarketSpec> for Market {
    fn as_ref(&self) -> &MarketSpec {
        &self.spec
    }
}

/// Where a market is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarketStatus {
    /// Trading.
    Active,
    /// Cancels only; marks move, nothing trades, stops wait.
    Halted,
    /// Settled and closed: accepts nothing.
    Delisted,
}

impl Market {
    /// A new market created at `now`, with an empty book, no mark and no oracle price.
    #[must_use]
    pub fn new(id: MarketId, valid: ValidMarket, now: Timestamp) -> Self {
        let oracle = OracleState::new(valid.spec.oracle.sources.len());
        let funding = FundingState::new(&valid.spec.funding, now);
        Self {
            id,
            spec: valid.spec,
            quote_per_tick_lot: valid.quote_per_tick_lot,
            mark: None,
            band: None,
            book: Book::new(),
            last_price: None,
            stops: ArmedStops::default(),
            status: MarketStatus::Active,
            pending_change: None,
            oracle,
            funding,
            insurance_fund: Quote::ZERO,
            shared_net_draw: Quote::ZERO,
            holders: [Holders::default(), Holders::default()],
            band_shrink: [0, 0],
            open_interest: Qty::ZERO,
            checked_mark: None,
            traded: false,
            index_cache: IndexCache::default(),
            mark_memo: MarkMemo::default(),
        }
    }

    /// The holders of positions of sign `sign` (+1 longs, −1 shorts), in no particular order:
    /// sort what reaches an output.
    #[must_use]
    pub fn holders_of(&self, sign: i64) -> HolderIds<'_> {
        HolderIds(self.holders[usize::from(sign < 0)].ids())
    }

    /// How many accounts hold a position here, both sides.
    #[must_use]
    pub fn holder_count(&self) -> usize {
        self.holders[0].len() + self.holders[1].len()
    }

    /// Adds `id` to the holders of `side` (0 longs, 1 shorts), without a safe band until the
    /// liquidation pass checks it.
    pub(crate) fn add_holder(&mut self, side: usize, id: crate::ids::AccountId) {
        self.holders[side].insert(id);
    }

    /// Removes `id` from the holders of `side`.
    pub(crate) fn remove_holder(&mut self, side: usize, id: crate::ids::AccountId) {
        self.holders[side].remove(id);
    }

    /// Removes every holder (a delisted market settled every position).
    pub(crate) fn clear_holders(&mut self) {
        self.holders.iter_mut().for_each(Holders::clear);
    }

    /// Sets the safe band of holder `id` of `side` (nothing if it holds nothing there).
    pub(crate) fn set_safe_band(&mut self, side: usize, id: crate::ids::AccountId, band: SafeBand) {
        self.holders[side].set_band(id, band);
    }

    /// The largest maintenance rate of the market's tiers (the last tier's: rates never
    /// decrease), the slope bound of its safe bands.
    #[must_use]
    pub fn max_maintenance_rate(&self) -> crate::num::Rate {
        self.spec.tiers.last().map_or(crate::num::Rate(0), |t| t.maintenance_rate)
    }

    /// Every holder of `side` (0 longs, 1 shorts) whose safe band does not hold `mark`: the
    /// holders a move to `mark` re-checks.
    pub(crate) fn holders_outside_band(
        &mut self,
        side: usize,
        mark: Price,
    ) -> impl Iterator<Item = crate::ids::AccountId> + '_ {
        self.holders[side].outside(mark, self.band_shrink[side])
    }

    /// Where the market is in the stale-index policy.
    #[must_use]
    pub fn oracle_stage(&self) -> OracleStage {
        self.oracle.stage
    }

    /// Whether the market has oracle sources (its mark follows the index).
    #[must_use]
    pub fn has_oracle(&self) -> bool {
        !self.spec.oracle.sources.is_empty()
    }

    /// `price × qty` in micro-units, exactly (`price_ticks × qty_lots × quote_per_tick_lot`),
    /// or `None` if it does not fit an `i64`.
    #[must_use]
    pub fn notional(&self, price: Price, qty: Qty) -> Option<Quote> {
        let v = i128::from(price.0) * i128::from(qty.0) * i128::from(self.quote_per_tick_lot);
        i64::try_from(v).ok().map(Quote)
    }

    /// Whether the stop pass triggers this market's stops: a market halted by an admin or a
    /// stale index keeps them armed until it resumes.
    #[must_use]
    pub fn stops_watched(&self) -> bool {
        self.status == MarketStatus::Active && self.oracle.stage != OracleStage::Halted
    }

    /// Sets the mark price and the order band around it.
    pub(crate) fn set_mark(&mut self, mark: Option<Price>) {
        self.mark = mark;
        self.band = mark.map(|p| self.band_around(p));
    }

    /// The order band around the current mark (see [`Market::band_around`]); `None` without
    /// a mark.
    #[must_use]
    pub fn order_band(&self) -> Option<(Price, Price)> {
        self.band
    }

    /// [`Market::band_around`] `mark`, taken from the band kept with the mark when `mark` is
    /// the market's (it is, for every liquidation's closing order): two multiply-divides
    /// saved each time, 1.5 % of the liquidation benchmark's gap (docs/PERFORMANCE.md,
    /// "Session 20").
    #[must_use]
    pub fn band_at(&self, mark: Price) -> (Price, Price) {
        match self.band {
            Some(band) if self.mark == Some(mark) => band,
            _ => self.band_around(mark),
        }
    }

    /// The order band around `mark`: `[⌈mark × (1 − band)⌉, ⌊mark × (1 + band)⌋]`, rounded
    /// inwards so both edges are inside the band. An upper edge beyond `i64` saturates.
    #[must_use]
    pub fn band_around(&self, mark: Price) -> (Price, Price) {
        let band = self.spec.order_band;
        let low = mark.scale_down_ceil(band).unwrap_or(Price(1)).max(Price(1));
        let high = mark.scale_up_floor(band).unwrap_or(Price(i64::MAX));
        (low, high)
    }

    /// Feeds the market into the state hash: spec, scale, mark, then the book side by side in
    /// priority order, every order in queue order.
    pub(crate) fn hash_into(&self, h: &mut StateHasher) {
        let s = &self.spec;
        h.u64(u64::from(self.id.0)).str(&s.symbol);
        h.i64(s.tick_size.mantissa).tag(s.tick_size.scale).i64(s.lot_size.mantissa).tag(s.lot_size.scale);
        h.i64(s.min_qty.0).i64(s.min_notional.0).u64(u64::from(s.max_leverage));
        h.u64(s.tiers.len() as u64);
        for t in &s.tiers {
            h.i64(t.max_notional.0)
                .u64(u64::from(t.max_leverage))
                .i64(t.maintenance_rate.0)
                .i64(t.maintenance_amount.0);
        }
        h.i64(s.maker_fee.0).i64(s.taker_fee.0).i64(s.order_band.0);
        let l = &s.limits;
        h.u64(u64::from(l.max_open_orders_per_account))
            .u64(u64::from(l.max_price_levels))
            .u64(u64::from(l.max_stops_per_account))
            .i64(l.max_order_qty.0);
        s.oracle.hash_into(h);
        s.funding.hash_into(h);
        s.liquidation.hash_into(h);
        h.i64(self.quote_per_tick_lot).i64(self.insurance_fund.0).i64(self.shared_net_draw.0);
        for price in [self.mark, self.last_price] {
            match price {
                None => h.tag(0),
                Some(p) => h.tag(1).i64(p.0),
            };
        }
        h.tag(match self.status {
            MarketStatus::Active => 0,
            MarketStatus::Halted => 1,
            MarketStatus::Delisted => 2,
        });
        match &self.pending_change {
            None => h.tag(0),
            Some((at, c)) => hash_change(h.tag(1).i64(at.0), c),
        };
        self.oracle.hash_into(h);
        self.funding.hash_into(h);
        h.u64(self.stops.len() as u64);
        for s in self.stops.values() {
            hash_stop(h, s);
        }
        for side in [Side::Buy, Side::Sell] {
            h.u64(self.book.level_count(side) as u64);
            for (price, level) in self.book.levels(side) {
                h.i64(price.0).i64(level.total.0).u64(u64::from(level.count));
                for o in self.book.level_orders(level) {
                    h.u64(o.id.0).u64(o.account.0).i64(o.qty.0).i64(o.filled.0);
                    h.tag(u8::from(o.post_only)).tag(u8::from(o.reduce_only)).tag(stp_tag(o.stp)).i64(o.queued_at.0);
                    match &o.client_id {
                        None => h.tag(0),
                        Some(c) => h.tag(1).str(c.as_str()),
                    };
                }
            }
        }
    }
}

fn hash_stop(h: &mut StateHasher, s: &StopOrder) {
    h.u64(s.id.0).u64(s.account.0).tag(u8::from(s.side == Side::Buy)).i64(s.trigger.0).i64(s.qty.0);
    h.tag(match s.trigger_by {
        TriggerBy::Mark => 0,
        TriggerBy::Last => 1,
    });
    match s.kind {
        StopKind::StopMarket => h.tag(0),
        StopKind::TakeProfitMarket => h.tag(1),
        StopKind::StopLimit { price, tif } => h.tag(2).i64(price.0).tag(tif_tag(tif)),
        StopKind::TakeProfitLimit { price, tif } => h.tag(3).i64(price.0).tag(tif_tag(tif)),
    };
    h.tag(u8::from(s.reduce_only)).tag(stp_tag(s.stp)).i64(s.placed_at.0);
    match &s.client_id {
        None => h.tag(0),
        Some(c) => h.tag(1).str(c.as_str()),
    };
}

fn tif_tag(t: TimeInForce) -> u8 {
    match t {
        TimeInForce::Gtc => 0,
        TimeInForce::Ioc => 1,
        TimeInForce::Fok => 2,
        TimeInForce::PostOnly => 3,
    }
}

fn hash_change<'h>(h: &'h mut StateHasher, c: &ParamChange) -> &'h mut StateHasher {
    match &c.tiers {
        None => {
            h.tag(0);
        }
        Some(tiers) => {
            h.tag(1).u64(tiers.len() as u64);
            for t in tiers {
                h.i64(t.max_notional.0)
                    .u64(u64::from(t.max_leverage))
                    .i64(t.maintenance_rate.0)
                    .i64(t.maintenance_amount.0);
            }
        }
    }
    for v in [c.max_leverage.map(i64::from), c.maker_fee.map(|r| r.0), c.taker_fee.map(|r| r.0), c.funding_interval_ms]
    {
        match v {
            None => h.tag(0),
            Some(x) => h.tag(1).i64(x),
        };
    }
    h
}
