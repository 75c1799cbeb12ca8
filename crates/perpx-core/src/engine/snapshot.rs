//! Engine snapshots: the logical state as plain data, and the engine rebuilt from it.
//!
//! [`Engine::snapshot`] copies out everything that decides the engine's future behaviour —
//! settings, clock, sequence number, id counters, every market (specification, marks, status,
//! pending change, oracle and funding state, insurance fund, stops, resting orders in priority
//! order), the client order id registry with its expiry queue, accounts, the ledger, the
//! liquidation queue and the liquidators — and nothing that can be derived from it.
//! [`Engine::restore`] rebuilds the derived indexes from that data instead of trusting a copy:
//!
//! | derived | rebuilt from |
//! |---|---|
//! | symbol → market map | the markets' symbols |
//! | book level slabs, price → level maps, best prices, order index, per-account order lists | the resting orders, inserted level by level in queue order |
//! | holders by side, open interest | the accounts' positions |
//! | holders' safe bands, band shrink | nothing: none until the next check (every holder at the next mark move) |
//! | liquidation queue lookup set | the queue |
//!
//! A restored engine has the same [`Engine::state_hash`] as the one the snapshot was taken
//! from, and applies every later command exactly as it would have (same events, same hashes):
//! the property tests in `perpx-core/tests/snapshot.rs` and `perpx-node` check both. Slot numbers
//! inside a book and the order of an account's order list may differ after a restore; nothing
//! that reaches an output depends on them (every walk that does sorts by order id first).
//!
//! The snapshot is plain data with public fields so that any codec can carry it; the journal's
//! binary codec lives in `perpx-node`. Restoring checks the structure (unique ids and symbols,
//! positive sizes, lists that match their specification, a consistent client id registry) and
//! then every engine invariant, so bad data is an error, never a panic or a silently different
//! engine.
//!
//! **Adding state to the engine**: `snapshot` destructures `Engine` and `Market` without `..`,
//! so a new field does not compile until it is either carried here or listed as derived.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::client_orders::{ClientOrderEntry, ClientOrders};
use super::{Engine, EngineConfig, SettlementWalk};
use crate::account::{Account, Ledger};
use crate::book::{Book, RestingOrder, Side};
use crate::command::ParamChange;
use crate::event::LiquidationScope;
use crate::ids::{AccountId, ClientOrderId, MarketId, OrderId};
use crate::market::{FundingState, Market, MarketSpec, MarketStatus, OracleState};
use crate::num::{Price, Qty, Quote, Timestamp};
use crate::stop::{ArmedStops, StopOrder};

/// The engine's logical state after command `seq`: plain data, no derived index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSnapshot {
    /// The engine's settings.
    pub config: EngineConfig,
    /// The sequence number of the last command applied.
    pub seq: u64,
    /// The engine clock.
    pub now: Timestamp,
    /// The next order id to hand out.
    pub next_order_id: u64,
    /// The next trade id to hand out.
    pub next_trade_id: u64,
    /// Every market, in id order (market `i` has id `i`).
    pub markets: Vec<MarketSnapshot>,
    /// Every held client order id, ascending by (account, id).
    pub client_orders: Vec<ClientOrderSnapshot>,
    /// The registry's expiry queue, front first: the held ids whose retention has not ended.
    pub client_order_expiry: Vec<(Timestamp, AccountId, ClientOrderId)>,
    /// Every account by id.
    pub accounts: BTreeMap<AccountId, Account>,
    /// The venue's ledger.
    pub ledger: Ledger,
    /// Units waiting for liquidation, front first.
    pub liquidation_queue: Vec<(AccountId, LiquidationScope)>,
    /// Registered backstop liquidators.
    pub liquidators: BTreeSet<AccountId>,
}

/// One market's logical state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketSnapshot {
    /// Its specification.
    pub spec: MarketSpec,
    /// Micro-units per tick per lot (derived from the spec when the market was created).
    pub quote_per_tick_lot: i64,
    /// The mark price, once set.
    pub mark: Option<Price>,
    /// The last trade price.
    pub last_price: Option<Price>,
    /// Trading, halted or delisted.
    pub status: MarketStatus,
    /// A scheduled parameter change and when it takes effect.
    pub pending_change: Option<(Timestamp, ParamChange)>,
    /// Oracle prices, index, stale-index stage and the mark's basis window.
    pub oracle: OracleState,
    /// The funding period and its samples.
    pub funding: FundingState,
    /// The market's own insurance fund.
    pub insurance_fund: Quote,
    /// Net draw on the shared insurance fund.
    pub shared_net_draw: Quote,
    /// The mark the holders were last checked for liquidation at.
    pub checked_mark: Option<Price>,
    /// Untriggered stops, ascending by id.
    pub stops: Vec<StopOrder>,
    /// Resting orders in priority order: bids best price first, then asks best price first,
    /// each level in queue order.
    pub orders: Vec<RestingOrder>,
}

/// One held client order id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrderSnapshot {
    /// The owner.
    pub account: AccountId,
    /// The id.
    pub client_id: ClientOrderId,
    /// The order holding it and its status.
    pub entry: ClientOrderEntry,
}

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The data is inconsistent (duplicate ids, a position in an unknown market…).
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),
    /// The rebuilt engine breaks an engine invariant.
    #[error("the restored engine breaks an invariant: {0}")]
    Invariant(String),
}

fn inconsistent(msg: impl Into<String>) -> RestoreError {
    RestoreError::Inconsistent(msg.into())
}

impl Engine {
    /// The engine's logical state, for [`Engine::restore`]. Taken between commands.
    #[must_use]
    pub fn snapshot(&self) -> EngineSnapshot {
        // No `..`: a new engine field must be carried here or named as derived.
        let Engine {
            config,
            seq,
            now,
            markets,
            // Derived: the restored engine looks at its next command.
            clock_work_due: _,
            oracle_quiet_until: _,
            // False between commands.
            traded: _,
            marks_moved: _,
            // Derived: the restored engine's first stop pass looks.
            stops_due: _,
            symbols: _,
            next_order_id,
            next_trade_id,
            client_orders,
            accounts,
            ledger,
            liq_queue,
            liq_queued: _,
            liquidators,
            // Scratch of the liquidation pass.
            band_updates: _,
            // An observer's log (the simulator's), not state.
            adl_observed: _,
            // Derived (kept through a cascade, and checked against a fresh ranking at every
            // use in debug builds): a restored engine computes it afresh.
            adl_cache: _,
            // How settlements are run, not state: a restored engine walks with the default.
            settlement_walk: _,
        } = self;
        let expiring = client_order_expiry(client_orders);
        EngineSnapshot {
            config: config.clone(),
            seq: *seq,
            now: *now,
            next_order_id: *next_order_id,
            next_trade_id: *next_trade_id,
            markets: markets.iter().map(market_snapshot).collect(),
            client_orders: client_orders
                .iter()
                .map(|(account, client_id, entry)| ClientOrderSnapshot {
                    account,
                    client_id: client_id.clone(),
                    entry: entry.clone(),
                })
                .collect(),
            client_order_expiry: expiring,
            accounts: accounts.to_map(),
            ledger: *ledger,
            liquidation_queue: liq_queue.iter().copied().collect(),
            liquidators: liquidators.clone(),
        }
    }

    /// Rebuilds an engine from a snapshot: derived indexes are recomputed (see the module
    /// docs), then every invariant is checked. The result has the same state hash as the
    /// engine the snapshot was taken from and behaves identically from here on.
    ///
    /// # Errors
    /// [`RestoreError`] if the snapshot is inconsistent or the engine it describes breaks an
    /// invariant.
    pub fn restore(snapshot: EngineSnapshot) -> Result<Self, RestoreError> {
        let EngineSnapshot {
            config,
            seq,
            now,
            next_order_id,
            next_trade_id,
            markets: market_snapshots,
            client_orders,
            client_order_expiry,
            accounts,
            ledger,
            liquidation_queue,
            liquidators,
        } = snapshot;
        if market_snapshots.len() > config.max_markets as usize {
            return Err(inconsistent(format!("{} markets, more than max_markets", market_snapshots.len())));
        }
        let mut symbols = BTreeMap::new();
        let mut order_ids = BTreeSet::new();
        let mut markets = Vec::with_capacity(market_snapshots.len());
        for (i, m) in market_snapshots.into_iter().enumerate() {
            let id = MarketId(u32::try_from(i).map_err(|_| inconsistent("too many markets"))?);
            if symbols.insert(m.spec.symbol.clone(), id).is_some() {
                return Err(inconsistent(format!("symbol '{}' used twice", m.spec.symbol)));
            }
            markets.push(restore_market(id, m, next_order_id, &mut order_ids)?);
        }
        for (account, a) in &accounts {
            // A chosen leverage is at least 1 in a known market: the margin figures divide by it
            // (a damaged snapshot with a leverage of 0 made `check_invariants` below panic
            // instead of refusing it — found by `perpx-check`'s snapshot fuzzing).
            for (market, leverage) in &a.leverage {
                if market.index() >= markets.len() {
                    return Err(inconsistent(format!("account {account} has a leverage in unknown market {market}")));
                }
                if *leverage == 0 {
                    return Err(inconsistent(format!("account {account}: leverage 0 in market {market}")));
                }
            }
            for (market, p) in &a.positions {
                let m = markets.get_mut(market.index()).ok_or_else(|| {
                    inconsistent(format!("account {account} has a position in unknown market {market}"))
                })?;
                if p.size.0 != 0 {
                    m.add_holder(usize::from(p.size.0 < 0), *account);
                }
                let long = m.open_interest.checked_add(Qty(p.size.0.max(0)));
                m.open_interest = long.map_err(|_| inconsistent("open interest overflows"))?;
            }
        }
        let client_orders = restore_client_orders(now, client_orders, client_order_expiry)?;
        let liq_queued = super::liquidation::QueuedUnits::of(liquidation_queue.iter().copied());
        if liq_queued.len() != liquidation_queue.len() {
            return Err(inconsistent("a unit is queued for liquidation twice"));
        }
        // Holders a snapshot records as unchecked at their mark are checked by the first pass.
        let marks_moved = markets.iter().any(|m| m.mark != m.checked_mark);
        let engine = Engine {
            config,
            seq,
            now,
            markets,
            clock_work_due: Timestamp(i64::MIN),
            oracle_quiet_until: Timestamp(i64::MIN),
            traded: false,
            marks_moved,
            stops_due: true,
            symbols,
            next_order_id,
            next_trade_id,
            client_orders,
            accounts: accounts.into_iter().collect(),
            ledger,
            liq_queue: VecDeque::from(liquidation_queue),
            liq_queued,
            liquidators,
            band_updates: Vec::new(),
            adl_observed: None,
            adl_cache: None,
            settlement_walk: SettlementWalk::default(),
        };
        engine.check_invariants().map_err(RestoreError::Invariant)?;
        Ok(engine)
    }
}

fn market_snapshot(m: &Market) -> MarketSnapshot {
    // No `..`: a new market field must be carried here or named as derived.
    let Market {
        id: _,
        spec,
        quote_per_tick_lot,
        mark,
        // Derived from the mark.
        band: _,
        book,
        last_price,
        stops,
        status,
        pending_change,
        oracle,
        funding,
        insurance_fund,
        shared_net_draw,
        holders: _,
        band_shrink: _,
        open_interest: _,
        checked_mark,
        // Transient: false between commands.
        traded: _,
        // Derived from the oracle's prices and the clock.
        index_cache: _,
        mark_memo: _,
    } = m;
    let mut orders = Vec::with_capacity(book.order_count());
    for side in [Side::Buy, Side::Sell] {
        for (_, level) in book.levels(side) {
            orders.extend(book.level_orders(level).cloned());
        }
    }
    MarketSnapshot {
        spec: spec.clone(),
        quote_per_tick_lot: *quote_per_tick_lot,
        mark: *mark,
        last_price: *last_price,
        status: *status,
        pending_change: pending_change.clone(),
        oracle: oracle.clone(),
        funding: funding.clone(),
        insurance_fund: *insurance_fund,
        shared_net_draw: *shared_net_draw,
        checked_mark: *checked_mark,
        stops: stops.values().cloned().collect(),
        orders,
    }
}

fn restore_market(
    id: MarketId,
    m: MarketSnapshot,
    next_order_id: u64,
    order_ids: &mut BTreeSet<OrderId>,
) -> Result<Market, RestoreError> {
    let sym = m.spec.symbol.clone();
    // The specification (and a pending change applied to it) passes the rules a new market
    // does, with the derived scale it states: the margin and fee arithmetic relies on them (a
    // damaged tier made the margin figures overflow inside the invariant check instead of
    // refusing the snapshot — found by `perpx-check`'s snapshot fuzzing).
    let valid = m.spec.clone().validate().map_err(|e| inconsistent(format!("{sym}: {e}")))?;
    if valid.quote_per_tick_lot != m.quote_per_tick_lot {
        return Err(inconsistent(format!("{sym}: quote_per_tick_lot is not tick × lot")));
    }
    if let Some((_, change)) = &m.pending_change {
        Engine::changed_spec(&m.spec, change).map_err(|e| inconsistent(format!("{sym}: pending change: {e}")))?;
    }
    let sources = m.spec.oracle.sources.len();
    if m.oracle.prices.len() != sources || m.oracle.status.len() != sources {
        return Err(inconsistent(format!("{sym}: oracle state does not match its {sources} sources")));
    }
    let mut take_id = |what: &str, oid: OrderId| {
        if oid.0 == 0 || oid.0 >= next_order_id {
            return Err(inconsistent(format!("{sym}: {what} {oid} is outside the ids handed out")));
        }
        if !order_ids.insert(oid) {
            return Err(inconsistent(format!("{sym}: id {oid} used twice")));
        }
        Ok(())
    };
    let mut stops = ArmedStops::default();
    for s in m.stops {
        take_id("stop", s.id)?;
        stops.insert(s);
    }
    let mut book = Book::new();
    for o in m.orders {
        take_id("order", o.id)?;
        if !o.qty.is_positive() || o.filled.is_negative() || !o.price.is_positive() {
            return Err(inconsistent(format!("{sym}: order {} has a size, fill or price out of range", o.id)));
        }
        book.insert(o);
    }
    let mut market = Market {
        id,
        spec: m.spec,
        quote_per_tick_lot: m.quote_per_tick_lot,
        mark: None,
        band: None,
        book,
        last_price: m.last_price,
        stops,
        status: m.status,
        pending_change: m.pending_change,
        oracle: m.oracle,
        funding: m.funding,
        insurance_fund: m.insurance_fund,
        shared_net_draw: m.shared_net_draw,
        holders: Default::default(),
        band_shrink: [0, 0],
        open_interest: Qty::ZERO,
        checked_mark: m.checked_mark,
        traded: false,
        index_cache: crate::market::IndexCache::default(),
        mark_memo: crate::market::MarkMemo::default(),
    };
    market.set_mark(m.mark);
    Ok(market)
}

/// The expiry queue of the registry: the held ids whose retention has not ended, in the order
/// the registry will release them. Read back through the public accessors: an id is in the
/// queue exactly when its deadline is after the clock (the registry's invariant).
fn client_order_expiry(registry: &ClientOrders) -> Vec<(Timestamp, AccountId, ClientOrderId)> {
    registry.expiry_items().map(|(t, a, c)| (t, a, c.clone())).collect()
}

/// Rebuilds the registry from the snapshot's sorted list and its queue. The list must be
/// strictly ascending (as [`Engine::snapshot`] writes it), which also rules out an id held
/// twice; that the queue and the entries agree is the registry's own invariant, checked with
/// the engine's after the restore.
fn restore_client_orders(
    now: Timestamp,
    held: Vec<ClientOrderSnapshot>,
    expiry: Vec<(Timestamp, AccountId, ClientOrderId)>,
) -> Result<ClientOrders, RestoreError> {
    let mut previous: Option<(AccountId, &ClientOrderId)> = None;
    for h in &held {
        if previous.is_some_and(|p| p >= (h.account, &h.client_id)) {
            return Err(inconsistent(format!(
                "client ids out of order or held twice at {} of account {}",
                h.client_id, h.account
            )));
        }
        previous = Some((h.account, &h.client_id));
    }
    let entries = held.into_iter().map(|h| (h.account, h.client_id, h.entry));
    Ok(ClientOrders::from_parts(entries, VecDeque::from(expiry), now))
}
