//! The book's storage: price levels in a slab, FIFO queues threaded through a slab of order
//! slots, the order index, and the per-account order lists.
//!
//! Every order slot knows its level's slot, so taking an order out of its queue touches no
//! map at all. Levels are found by price, and walked in price order, through a
//! **price-indexed level table** per side (`window.rs`): a window of ticks whose level slots
//! sit in a vector indexed by `price - base`, with a bitmap of the occupied prices that the
//! best-price recomputation and the ordered walks scan (`trailing_zeros` / `leading_zeros`).
//! Finding a level is then an index, and a level appearing or emptying sets or clears a bit.
//! Measured with callgrind (instructions per command, `benches/book.rs`): `book_only` 1k
//! 503 → 417, 100k 648 → 515; `book_mix` 1k 2,171 → 2,051, 100k 2,308 → 2,143; `engine_mix`
//! 2,738 → 2,462 (on `82f329c`; docs/PERFORMANCE.md).
//!
//! Prices outside a side's window keep the previous structures — a hash map (`LevelIndex`)
//! for lookups and one `BTreeMap<Price, level slot>` per side for ordered walks — which hold
//! *only* those prices, so every level is in exactly one of the two places and correctness
//! never depends on where the window sits. Ordered walks chain the tree's levels beyond the
//! window on the better side, the window's, then the tree's beyond it on the worse side.
//!
//! **Centring.** A side's window is centred on the price of the level that arrives when it is
//! empty (its first level, or the first after every level in it has gone); tree levels that
//! then fall inside it move into it. While it holds a level it stays put, and levels outside
//! it go to the tree. Why lazily: re-centring a window that holds levels would move them all
//! between window and tree (O(levels · log levels)), and a price flipping back and forth
//! across the edge could force that on every command; this way no window level ever moves
//! out, and each tree level moves in at most once per re-centring. The cost: if the market
//! drifts more than half a window (32,768 ticks) from the centre while orders stay behind in
//! the window, new levels near the touch go to the tree, which is the speed before the window
//! — slower, never wrong.
//!
//! The best price of each side is cached and recomputed only when the best level empties:
//! one end of the side's (usually empty) tree and a bitmap scan of its window.
//!
//! **No jumps on coin tosses.** Where a test on the hot paths is close to a coin toss on a
//! busy book (is this order first or last in its level, alone on its account's side, at an
//! end of its range; is this a buy), the code computes both answers and selects one: the
//! queue writes a missing neighbour's link to a sink slot ([`SINK`]), and the bounds and the
//! crossing tests are flags. Measured, each step alternated with the one before: `book_only`
//! 1k 5.70 → 5.16, 5.45 → 4.83 and 4.71 → 4.28 ms (docs/PERFORMANCE.md, "Session 27").
//! The selects stay selects only because LLVM's x86 cmov converter is off
//! (`.cargo/config.toml`). The pass turns a conditional move with an operand in memory back
//! into a jump: 4.26 → 4.00 ms without it ("Session 28").

use std::collections::BTreeMap;
use std::ops::Bound;

use rustc_hash::FxHashMap;

use super::order::{RestingOrder, Side};
use super::order_index::OrderIndex;
use super::window::{Window, WindowIter};
use crate::account::AccountIndex;
use crate::ids::{AccountId, OrderId};
use crate::num::{Price, Qty, Timestamp};

/// "No slot": the end of a queue.
const NIL: u32 = u32::MAX;

/// The sink: slot 0, never an order's, is where a queue writes the link of a neighbour that
/// is not there (an order taken out with no previous or no next order in its level, an order
/// added to a level with no tail). Nothing reads it.
///
/// Why: whether a moved order was first or last in its level, or its new level was empty, is
/// close to a coin toss on a book of a few orders a price, and a jump on it was mispredicted
/// about once an amend. With the sink, the writes happen whatever the answer, to the
/// neighbour or to the sink, and the level's ends are chosen by [`pick`]. Measured alternated
/// with the jumps: `book_only` 1k 4.71 → 4.28 ms at the median, callgrind's simulated
/// mispredictions 216 k → 145 k (docs/PERFORMANCE.md, "Session 27").
const SINK: u32 = 0;

/// `if c { a } else { b }`, computed with a mask so it is not a jump. The mask goes through
/// `black_box`: LLVM otherwise recognises the select and, where `b` is the old value of the
/// place written, turns it back into a jump around the store (the build without it had
/// nearly the simulated mispredictions of plain `if`s: 206 k against 211 k). That rewrite is
/// made before the cmov converter, which the workspace turns off: with the converter off, a
/// plain `if` here still gave 157 k against 86 k (docs/PERFORMANCE.md, "Session 28"). For
/// speed only: the result is the same either way. Where the choice is an index (the sink or a
/// neighbour), a plain `if` already becomes a `cmov`, and `pick` there measured slower (4.34
/// against 4.19 ms).
#[inline(always)]
fn pick(c: bool, a: u32, b: u32) -> u32 {
    let mask = std::hint::black_box(u32::from(c).wrapping_neg());
    (a & mask) | (b & !mask)
}

/// The sink's contents: no order, no links.
const SINK_SLOT: Slot = Slot { order: None, prev: NIL, next: NIL, level: NIL, owner: NIL };

/// A 64-bit key (an order id, a price) as two `u32` halves, the key of the book's hash maps
/// (the level index, and the order index's map of older ids): an entry of it and a `u32` slot
/// is 12 bytes at 4-byte alignment, where a 64-bit key pads the entry to 16 — 4 bytes a
/// bucket; at the memory example's million orders, about 3 bytes an order in the level index
/// (7 in the order index when it held every id; docs/PERFORMANCE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HalfKey([u32; 2]);

/// Hashed as the one `u64` it holds (a derived hash would hash a slice: its length, then bytes).
impl std::hash::Hash for HalfKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.value());
    }
}

impl HalfKey {
    #[allow(clippy::cast_possible_truncation)] // the two halves, by construction
    const fn of(v: u64) -> Self {
        Self([(v >> 32) as u32, v as u32])
    }

    const fn value(self) -> u64 {
        ((self.0[0] as u64) << 32) | self.0[1] as u64
    }
}

impl From<OrderId> for HalfKey {
    fn from(id: OrderId) -> Self {
        Self::of(id.0)
    }
}

impl From<HalfKey> for OrderId {
    fn from(k: HalfKey) -> Self {
        OrderId(k.value())
    }
}

impl From<Price> for HalfKey {
    fn from(p: Price) -> Self {
        Self::of(u64::from_ne_bytes(p.0.to_ne_bytes()))
    }
}

/// Level slots by price, one map per side, for the prices outside the side's window.
#[derive(Debug, Clone, Default)]
pub(super) struct LevelIndex([FxHashMap<HalfKey, u32>; 2]);

impl LevelIndex {
    pub(super) fn get(&self, side: Side, price: Price) -> Option<u32> {
        self.0[side_ix(side)].get(&price.into()).copied()
    }

    fn insert(&mut self, side: Side, price: Price, l: u32) {
        self.0[side_ix(side)].insert(price.into(), l);
    }

    fn remove(&mut self, side: Side, price: Price) {
        self.0[side_ix(side)].remove(&price.into());
    }

    pub(super) fn len(&self) -> usize {
        self.0[0].len() + self.0[1].len()
    }
}

#[derive(Debug, Clone)]
struct Slot {
    order: Option<RestingOrder>,
    prev: u32,
    next: u32,
    /// The slot of the level this order rests in.
    level: u32,
    /// The entry of the order's account in `owners`.
    owner: u32,
}

/// One price level: its FIFO queue and the totals kept in step with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Σ open size of the orders at this level.
    pub total: Qty,
    /// Number of orders at this level (0 only for a free slot).
    pub count: u32,
    head: u32,
    tail: u32,
    price: Price,
    side: Side,
}

/// The order book of one market. See the module docs for priority and layout.
#[derive(Debug, Clone, Default)]
pub struct Book {
    /// Level slots by price for the prices inside a window of ticks, per side `[bids, asks]`:
    /// the fast path for lookups and ordered walks (see the module docs).
    windows: [Window; 2],
    /// Price → level slot, per side, for ordered walks: prices outside the side's window only.
    bids: BTreeMap<Price, u32>,
    asks: BTreeMap<Price, u32>,
    /// (side, price) → level slot, for lookups: prices outside the side's window only.
    level_of: LevelIndex,
    levels: Vec<Level>,
    free_levels: Vec<u32>,
    /// Cached best price per side: `[bid, ask]`.
    best: [Option<Price>; 2],
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Open orders' slots by id ([`OrderIndex`]: recent ids by index, older ones hashed).
    index: OrderIndex,
    /// Account → its entry in `owners` ([`AccountIndex`]: small ids by a direct table).
    by_account: AccountIndex,
    /// Each account's open orders and totals, in a slab: every order slot names its owner's
    /// entry, so fills, amends and removals reach the totals without a hash lookup (measured:
    /// docs/PERFORMANCE.md, "Per-account order totals").
    owners: Vec<AccountOrders>,
    free_owners: Vec<u32>,
    /// Changes to each side's levels so far, `[bids, asks]` ([`Book::side_changes`]).
    side_changes: [u64; 2],
}

/// Totals of one account's open orders on one side of one book, kept in step with the book on
/// every insert, fill, amend and removal so the margin check reads them instead of walking the
/// account's orders. Reduce-only orders are left out: they reserve no margin.
///
/// `low` and `high` bound the prices of those orders: with them the orders' immediate loss
/// against a mark is `0` or a linear formula of `qty` and `value` unless the mark lies strictly
/// between them (see `Engine::exposure`, which walks the orders then).
///
/// **Bounds, exact when it matters.** When an order at an end leaves, that end is not
/// recomputed: it stays where it was, still a bound, and is marked inexact (`low_exact`,
/// `high_exact`). An order added at or beyond an end makes it exact again (a maker who cancels
/// its best quote and quotes again at or past it: the usual case). The account's orders are walked to
/// make both ends exact only when a mark falls strictly inside a range with an inexact end,
/// at the next margin check of one of its orders ([`Book::refresh_bounds`]). A formula read
/// off a wider range is still exact (the orders are all on one side of a mark outside it), so
/// nothing anyone sees depends on whether an end is exact. Why: recomputing an end at every
/// removal walked all the account's orders each time the best of them filled or was
/// cancelled, 4.5 % of the bare book's instructions on the exchange-core mix and 3.3 % of the
/// replay worker's (docs/PERFORMANCE.md, "Session 24").
///
/// Measured: the exposure walk was half the engine's time on the book benchmark with about
/// 100 orders per account (docs/PERFORMANCE.md, "Per-account order totals").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SideTotals {
    /// Number of orders counted.
    pub count: u32,
    /// Whether `low` is the lowest order's price (else it lies below it).
    pub low_exact: bool,
    /// Whether `high` is the highest order's price (else it lies above it).
    pub high_exact: bool,
    /// Σ open size, in lots.
    pub qty: i128,
    /// Σ price × open size, in ticks × lots.
    pub value: i128,
    /// At or below every order's price (meaningless when `count` is 0).
    pub low: Price,
    /// At or above every order's price (meaningless when `count` is 0).
    pub high: Price,
}

impl SideTotals {
    pub(super) fn add(&mut self, price: Price, qty: Qty) {
        let alone = self.count == 0;
        self.bound_added(price);
        self.bound_if_alone(alone, price);
        self.count += 1;
        self.qty += i128::from(qty.0);
        self.value += i128::from(price.0) * i128::from(qty.0);
    }

    /// Takes an order out. An end it sat at stays as a bound, inexact, if the range is wider
    /// than one price (a range of one price holds every order left at that price).
    fn sub(&mut self, price: Price, qty: Qty) {
        self.count -= 1;
        self.qty -= i128::from(qty.0);
        self.value -= i128::from(price.0) * i128::from(qty.0);
        self.bound_removed(price);
    }

    /// Moves an order from `(old_price, old_qty)` to `(price, qty)`: the same totals and bounds
    /// as `sub` then `add`, with the count left alone and each sum changed once. Measured
    /// (callgrind): `book_only` 1k 33.69 M → 32.46 M instructions (−3.7 %), 100k −2.5 %,
    /// `engine_mix` −1.0 %; no time difference shown alternated (docs/PERFORMANCE.md,
    /// "Session 25").
    #[inline(always)]
    fn replace(&mut self, old_price: Price, old_qty: Qty, price: Price, qty: Qty) {
        let alone = self.count == 1;
        self.bound_removed(old_price);
        self.bound_added(price);
        self.bound_if_alone(alone, price);
        self.qty += i128::from(qty.0 - old_qty.0);
        self.value += i128::from(price.0) * i128::from(qty.0) - i128::from(old_price.0) * i128::from(old_qty.0);
    }

    // The bounds are kept without a branch on the data: each test below is a flag and each
    // update a select (`cmov`), not a jump. Whether an account's order is its only one on a
    // side, or at an end of its range, is close to a coin toss on a book of many accounts with
    // a few orders each (the benchmark's 1,000 accounts for about 1,000 orders), and a
    // mispredicted jump costs more than the few instructions of the select. Measured alternated: `book_only` 1k 5.70 → 5.16 ms at
    // the median (docs/PERFORMANCE.md, "Session 27"). Hence `&` and `|`, not `&&` and `||`.

    /// The bounds of a side whose one order is at `price` when `alone`: both ends there,
    /// exact; else as they are.
    #[inline(always)]
    fn bound_if_alone(&mut self, alone: bool, price: Price) {
        self.low = if alone { price } else { self.low };
        self.high = if alone { price } else { self.high };
        self.low_exact |= alone;
        self.high_exact |= alone;
    }

    /// The bounds once an order at `price` joined others: at or beyond an end, an order sits
    /// there and none lies beyond, so that end is exact.
    #[inline(always)]
    fn bound_added(&mut self, price: Price) {
        let (lower, higher) = (price <= self.low, price >= self.high);
        self.low = if lower { price } else { self.low };
        self.high = if higher { price } else { self.high };
        self.low_exact |= lower;
        self.high_exact |= higher;
    }

    /// The bounds once an order at `price` left (others may remain): an end it sat at stays,
    /// inexact, unless the range is one price.
    #[inline(always)]
    fn bound_removed(&mut self, price: Price) {
        let one_price = self.low == self.high;
        self.low_exact = (self.low_exact & (price != self.low)) | one_price;
        self.high_exact = (self.high_exact & (price != self.high)) | one_price;
    }

    /// Whether `mark` lies strictly inside the range and an end of it may not be an order's
    /// price: a walk over the orders would then make the range narrower, perhaps leaving the
    /// mark outside it.
    fn worth_refreshing(&self, mark: Price) -> bool {
        self.count > 0 && !(self.low_exact && self.high_exact) && self.low < mark && mark < self.high
    }
}

/// An account's open orders in one book: their slots (for cancel-all and limits; a `u32` slot
/// rather than the 8-byte id saves 4 bytes an order) and the totals of each side,
/// `[buys, sells]`.
#[derive(Debug, Clone, Default)]
pub(super) struct AccountOrders {
    pub(super) slots: Vec<u32>,
    pub(super) totals: [SideTotals; 2],
}

/// The levels of one side in priority order ([`Book::levels`]): the tree's levels on the
/// better side of the window, the window's, then the tree's on the worse side.
#[derive(Debug, Clone)]
pub struct LevelIter<'a> {
    book: &'a Book,
    better: std::collections::btree_map::Range<'a, Price, u32>,
    window: WindowIter<'a>,
    worse: std::collections::btree_map::Range<'a, Price, u32>,
    stage: Stage,
    /// Bids: the tree's ranges are walked from their high end.
    descending: bool,
}

/// Which part of a side [`LevelIter`] is walking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Better,
    Window,
    Worse,
}

impl<'a> Iterator for LevelIter<'a> {
    type Item = (Price, &'a Level);

    #[inline]
    fn next(&mut self) -> Option<(Price, &'a Level)> {
        let levels = &self.book.levels;
        if self.stage == Stage::Better {
            let next = if self.descending { self.better.next_back() } else { self.better.next() };
            if let Some((p, l)) = next {
                return Some((*p, &levels[*l as usize]));
            }
            self.stage = Stage::Window;
        }
        if self.stage == Stage::Window {
            if let Some((p, l)) = self.window.next() {
                return Some((Price(p), &levels[l as usize]));
            }
            self.stage = Stage::Worse;
        }
        let next = if self.descending { self.worse.next_back() } else { self.worse.next() };
        next.map(|(p, l)| (*p, &levels[*l as usize]))
    }
}

/// What happened to the front order of a side when it was (partly) filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontFill {
    /// The maker order.
    pub order_id: OrderId,
    /// Its owner.
    pub account: AccountId,
    /// Its price (the trade price).
    pub price: Price,
    /// What is still open after this fill.
    pub remaining: Qty,
    /// The order itself if the fill completed it (it has left the book).
    pub completed: Option<RestingOrder>,
}

/// Where an open order sits in the book: found once by its id ([`Book::locate`]), then used
/// for the reads and the one change that follow without hashing the id again. An amend used to
/// look its order up three times (ownership check, current values, requeue); with the handle
/// it is once (measured: docs/PERFORMANCE.md, "Session 13").
///
/// It is valid until the book next changes: every use checks that the slot still holds the
/// order it was found for, and panics otherwise (an engine bug, like an unknown id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSlot {
    slot: u32,
    id: OrderId,
}

impl OrderSlot {
    /// The order's id.
    #[must_use]
    pub const fn id(self) -> OrderId {
        self.id
    }
}

/// The ids of one account's open orders ([`Book::orders_of`]).
#[derive(Debug, Clone)]
pub struct AccountOrderIds<'a> {
    book: &'a Book,
    slots: std::slice::Iter<'a, u32>,
}

impl Iterator for AccountOrderIds<'_> {
    type Item = OrderId;

    fn next(&mut self) -> Option<OrderId> {
        let i = *self.slots.next()?;
        Some(self.book.slots[i as usize].order.as_ref().expect("listed slot holds an order").id)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl ExactSizeIterator for AccountOrderIds<'_> {}

/// The orders of one level in queue order.
#[derive(Debug)]
pub struct LevelOrders<'a> {
    book: &'a Book,
    at: u32,
}

impl<'a> Iterator for LevelOrders<'a> {
    type Item = &'a RestingOrder;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at == NIL {
            return None;
        }
        let slot = &self.book.slots[self.at as usize];
        self.at = slot.next;
        slot.order.as_ref()
    }
}

const fn side_ix(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

impl Book {
    /// An empty book.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn tree(&self, side: Side) -> &BTreeMap<Price, u32> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn tree_mut(&mut self, side: Side) -> &mut BTreeMap<Price, u32> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The best price of `side` from its window and tree (the slow path behind the cache): a
    /// scan of the window's bitmap and one end of the (usually empty) tree.
    fn side_best(&self, side: Side) -> Option<Price> {
        let w = &self.windows[side_ix(side)];
        match side {
            Side::Buy => {
                let tree = self.bids.last_key_value().map(|(p, _)| *p);
                tree.max(w.highest().map(Price))
            }
            Side::Sell => {
                let tree = self.asks.first_key_value().map(|(p, _)| *p);
                match (tree, w.lowest().map(Price)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }

    /// The level slot at `price` on `side`: an index into the window when the price lies
    /// inside it, else the hash lookup. The fast path of `level_at`, `fill_front` and the
    /// level search of `link_back`: with it, and the bit set or cleared in place of a tree
    /// insert or remove when a level appears or empties, `book_only` 1k 503 → 417 and 100k
    /// 648 → 515 instructions per command (callgrind, docs/PERFORMANCE.md).
    #[inline]
    fn find(&self, side: Side, price: Price) -> Option<u32> {
        match self.windows[side_ix(side)].get(price.0) {
            Some(l) => l,
            None => self.level_of.get(side, price),
        }
    }

    /// The best price resting on `side`: the highest bid or the lowest ask.
    #[must_use]
    pub fn best_price(&self, side: Side) -> Option<Price> {
        self.best[side_ix(side)]
    }

    /// How many times `side`'s levels have changed in this book (an order joined or left a
    /// level, or its size changed): equal counts mean the side is exactly as it was, so a
    /// reader of the top levels (the server's book channel) re-reads only a side that moved.
    /// A count of this book value, not state: a clone keeps it, a restored book starts at 0.
    #[must_use]
    pub fn side_changes(&self, side: Side) -> u64 {
        self.side_changes[side_ix(side)]
    }

    fn best_level(&self, side: Side) -> Option<&Level> {
        let p = self.best_price(side)?;
        self.level_at(side, p)
    }

    /// The order first in line on `side`: best price, earliest arrival.
    #[must_use]
    pub fn front(&self, side: Side) -> Option<&RestingOrder> {
        let level = self.best_level(side)?;
        self.slots[level.head as usize].order.as_ref()
    }

    /// An open order by id.
    #[must_use]
    pub fn get(&self, id: OrderId) -> Option<&RestingOrder> {
        let slot = self.index.get(id)?;
        self.slots[slot as usize].order.as_ref()
    }

    /// Where the open order `id` sits, if it is open: one lookup for what follows.
    #[must_use]
    pub fn locate(&self, id: OrderId) -> Option<OrderSlot> {
        let slot = self.index.get(id)?;
        Some(OrderSlot { slot, id })
    }

    /// The order at `at`.
    ///
    /// # Panics
    /// If the book changed since `at` was found and the slot no longer holds that order.
    #[must_use]
    pub fn order_at(&self, at: OrderSlot) -> &RestingOrder {
        self.slots[self.held_slot(at) as usize].order.as_ref().expect("checked by held_slot")
    }

    /// The slot of `at`, checked to still hold the order it was found for.
    fn held_slot(&self, at: OrderSlot) -> u32 {
        match self.slots.get(at.slot as usize).and_then(|s| s.order.as_ref()) {
            Some(o) if o.id == at.id => at.slot,
            _ => panic!("stale order slot: order {} is no longer at slot {}", at.id, at.slot),
        }
    }

    /// Number of open orders.
    #[must_use]
    pub fn order_count(&self) -> usize {
        self.index.len()
    }

    /// Number of price levels on `side`.
    #[must_use]
    pub fn level_count(&self, side: Side) -> usize {
        self.windows[side_ix(side)].len() + self.tree(side).len()
    }

    /// Whether `side` has a level at `price`.
    #[must_use]
    pub fn has_level(&self, side: Side, price: Price) -> bool {
        self.find(side, price).is_some()
    }

    /// The level at `price` on `side`, if any.
    #[must_use]
    pub fn level_at(&self, side: Side, price: Price) -> Option<&Level> {
        self.find(side, price).map(|l| &self.levels[l as usize])
    }

    /// The ids of an account's open orders, in no particular order.
    #[must_use]
    pub fn orders_of(&self, account: AccountId) -> AccountOrderIds<'_> {
        let slots = self.by_account.get(account).map_or(&[][..], |o| self.owners[o as usize].slots.as_slice());
        AccountOrderIds { book: self, slots: slots.iter() }
    }

    /// How many open orders an account has here.
    #[must_use]
    pub fn open_order_count(&self, account: AccountId) -> usize {
        self.by_account.get(account).map_or(0, |o| self.owners[o as usize].slots.len())
    }

    /// Whether `account` has a reduce-only order open here: the totals count every other
    /// order, so the difference is the reduce-only ones (one lookup, no walk).
    #[must_use]
    pub fn has_reduce_only(&self, account: AccountId) -> bool {
        self.by_account.get(account).is_some_and(|o| {
            let o = &self.owners[o as usize];
            o.slots.len() > o.totals.iter().map(|t| t.count as usize).sum::<usize>()
        })
    }

    /// The totals of `account`'s open non-reduce-only orders, `[buys, sells]` (zero if none).
    #[must_use]
    pub fn open_totals(&self, account: AccountId) -> [SideTotals; 2] {
        self.by_account.get(account).map_or_else(<[SideTotals; 2]>::default, |o| self.owners[o as usize].totals)
    }

    /// Levels of `side` in priority order (bids descending, asks ascending): the tree's levels
    /// beyond the window on the better side, the window's by bitmap scan, then the tree's
    /// levels beyond it on the worse side (the tree holds no price inside the window).
    ///
    /// A concrete iterator ([`LevelIter`]), not a boxed chain of three: the box was an
    /// allocation a call (every taker's walk of the book, every margin walk, every read of the
    /// server's book channel) and a dynamic call a level. The server's engine thread −1.4 %
    /// instructions journaled, −1.9 % without the journal; `engine_mix` −0.1 %
    /// (docs/PERFORMANCE.md "Session 16").
    pub fn levels(&self, side: Side) -> LevelIter<'_> {
        let w = &self.windows[side_ix(side)];
        let descending = side == Side::Buy;
        let tree = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        let (better, window, worse) = if let (Some(base), Some(top)) = (w.base(), w.top()) {
            let below = tree.range(..Price(base));
            let above = tree.range((Bound::Excluded(Price(top)), Bound::Unbounded));
            let (better, worse) = if descending { (above, below) } else { (below, above) };
            (better, w.iter(descending), worse)
        } else {
            // Never used: the tree holds every level (none at all, in fact).
            (tree.range(..), w.iter_none(descending), tree.range(Price(i64::MIN)..Price(i64::MIN)))
        };
        LevelIter { book: self, better, window, worse, stage: Stage::Better, descending }
    }

    /// The orders of `level` in queue order.
    #[must_use]
    pub fn level_orders(&self, level: &Level) -> LevelOrders<'_> {
        LevelOrders { book: self, at: level.head }
    }

    /// Every open order id, ascending (for deterministic mass actions).
    #[must_use]
    pub fn all_order_ids_sorted(&self) -> Vec<OrderId> {
        let mut ids: Vec<OrderId> = self.index.ids().collect();
        ids.sort_unstable();
        ids
    }

    fn alloc(&mut self, order: RestingOrder) -> u32 {
        if self.slots.is_empty() {
            self.slots.push(SINK_SLOT);
        }
        let slot = Slot { order: Some(order), prev: NIL, next: NIL, level: NIL, owner: NIL };
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = slot;
            i
        } else {
            let i = u32::try_from(self.slots.len()).expect("book slot count exceeds u32");
            self.slots.push(slot);
            i
        }
    }

    /// The level slot for `price` on `side`, created (and the best price updated) if new.
    ///
    /// A new level goes into the side's window when its price lies inside it, else into the
    /// hash map and tree; an empty window is first re-centred on the new price (see the module
    /// docs for why).
    ///
    /// Inlined: see `link_back`.
    #[inline(always)]
    fn level_for(&mut self, side: Side, price: Price) -> u32 {
        let ix = side_ix(side);
        let at = match self.windows[ix].offset(price.0) {
            Some(i) => match self.windows[ix].slot(i) {
                Some(l) => return l,
                None => Some(i),
            },
            None => {
                if let Some(l) = self.level_of.get(side, price) {
                    return l;
                }
                if self.windows[ix].len() == 0 {
                    self.recentre(side, price);
                    self.windows[ix].offset(price.0)
                } else {
                    None
                }
            }
        };
        let level = Level { total: Qty::ZERO, count: 0, head: NIL, tail: NIL, price, side };
        let l = if let Some(l) = self.free_levels.pop() {
            self.levels[l as usize] = level;
            l
        } else {
            let l = u32::try_from(self.levels.len()).expect("level count exceeds u32");
            self.levels.push(level);
            l
        };
        if let Some(i) = at {
            self.windows[ix].put(i, l);
        } else {
            self.level_of.insert(side, price, l);
            self.tree_mut(side).insert(price, l);
        }
        let best = &mut self.best[side_ix(side)];
        // Flags, not a `match` on the side (a coin toss: see `Side::crosses`).
        let buy = side == Side::Buy;
        let better = best.is_none_or(|b| (buy & (price > b)) | (!buy & (price < b)));
        if better {
            *best = Some(price);
        }
        l
    }

    /// Centres `side`'s (empty) window on `price` and moves the tree's levels that now fall
    /// inside it into it, so the tree keeps only prices outside the window. Each level moves
    /// at most once per re-centring, and a window is re-centred only when empty.
    fn recentre(&mut self, side: Side, price: Price) {
        let ix = side_ix(side);
        self.windows[ix].centre(price.0);
        let (Some(base), Some(top)) = (self.windows[ix].base(), self.windows[ix].top()) else {
            unreachable!("a centred window has bounds")
        };
        let inside: Vec<(Price, u32)> =
            self.tree(side).range(Price(base)..=Price(top)).map(|(p, l)| (*p, *l)).collect();
        for (p, l) in inside {
            self.tree_mut(side).remove(&p);
            self.level_of.remove(side, p);
            let i = self.windows[ix].offset(p.0).expect("inside the window");
            self.windows[ix].put(i, l);
        }
    }

    /// Appends slot `i` (holding an order at `price` on `side`) at the back of its level.
    ///
    /// Inlined into its callers, as are `unlink` and `level_for`: an amend is an unlink and a
    /// link, and the opening and closing lines of the two calls (saving and restoring
    /// registers) held 7 % of the bare book's instructions. With the calls gone, `book_only` 1k
    /// 40.92 M → 36.28 M instructions (−11 %), 100k 50.69 M → 45.74 M (callgrind,
    /// docs/PERFORMANCE.md "Session 14").
    #[inline(always)]
    fn link_back(&mut self, side: Side, price: Price, i: u32, qty: Qty) {
        self.side_changes[side_ix(side)] += 1;
        let l = self.level_for(side, price);
        let level = &mut self.levels[l as usize];
        let old_tail = level.tail;
        let first = old_tail == NIL;
        level.tail = i;
        level.head = pick(first, i, level.head);
        level.total = Qty(level.total.0 + qty.0);
        level.count += 1;
        self.slots[if first { SINK } else { old_tail } as usize].next = i;
        let s = &mut self.slots[i as usize];
        s.prev = old_tail;
        s.next = NIL;
        s.level = l;
    }

    /// Unlinks slot `i` from its level, dropping the level if it empties. Inlined: see
    /// `link_back`.
    #[inline(always)]
    fn unlink(&mut self, i: u32) {
        let (qty, prev, next, l) = {
            let s = &self.slots[i as usize];
            let o = s.order.as_ref().expect("unlink of an empty slot");
            (o.qty, s.prev, s.next, s.level)
        };
        let (no_prev, no_next) = (prev == NIL, next == NIL);
        self.slots[if no_prev { SINK } else { prev } as usize].next = next;
        self.slots[if no_next { SINK } else { next } as usize].prev = prev;
        let level = &mut self.levels[l as usize];
        self.side_changes[side_ix(level.side)] += 1;
        level.head = pick(no_prev, next, level.head);
        level.tail = pick(no_next, prev, level.tail);
        level.total = Qty(level.total.0 - qty.0);
        level.count -= 1;
        if level.count == 0 {
            let (side, price) = (level.side, level.price);
            let w = &mut self.windows[side_ix(side)];
            if let Some(at) = w.offset(price.0) {
                w.take(at);
            } else {
                self.level_of.remove(side, price);
                self.tree_mut(side).remove(&price);
            }
            self.free_levels.push(l);
            if self.best[side_ix(side)] == Some(price) {
                self.best[side_ix(side)] = self.side_best(side);
            }
        }
        self.slots[i as usize].level = NIL;
    }

    /// Adds an order at the back of its price level.
    ///
    /// # Panics
    /// If an order with the same id is already in the book, or its size is not positive
    /// (both are engine bugs: ids are unique and sizes validated).
    pub fn insert(&mut self, order: RestingOrder) {
        assert!(order.qty.is_positive(), "resting order {} must have a positive size", order.id);
        let (id, account, side, price, qty) = (order.id, order.account, order.side, order.price, order.qty);
        let counted = !order.reduce_only;
        let i = self.alloc(order);
        let previous = self.index.insert(id, i);
        assert!(previous.is_none(), "order {id} inserted twice");
        self.link_back(side, price, i, qty);
        let owner = match self.by_account.get(account) {
            Some(o) => o,
            None => {
                let o = if let Some(o) = self.free_owners.pop() {
                    o
                } else {
                    self.owners.push(AccountOrders::default());
                    u32::try_from(self.owners.len() - 1).expect("account count exceeds u32")
                };
                self.by_account.insert(account, o);
                o
            }
        };
        self.slots[i as usize].owner = owner;
        let entry = &mut self.owners[owner as usize];
        entry.slots.push(i);
        if counted {
            entry.totals[side_ix(side)].add(price, qty);
        }
    }

    /// Removes an open order, returning it.
    pub fn remove(&mut self, id: OrderId) -> Option<RestingOrder> {
        let i = self.index.remove(id)?;
        self.unlink(i);
        let slot = &mut self.slots[i as usize];
        let order = slot.order.take().expect("indexed slot holds an order");
        let owner = std::mem::replace(&mut slot.owner, NIL);
        self.free.push(i);
        let entry = &mut self.owners[owner as usize];
        if let Some(pos) = entry.slots.iter().position(|x| *x == i) {
            entry.slots.swap_remove(pos);
        }
        if entry.slots.is_empty() {
            // The entry goes to the free list with its `slots` allocation kept, so the next
            // account given it pushes without allocating. Resetting it to the default freed
            // the vector each time an account's last order left and allocated it again at the
            // next insert: 2,431 of `engine_mix`'s 2,850 allocations, 0.4 % of its
            // instructions (docs/PERFORMANCE.md "Session 16").
            entry.totals = <[SideTotals; 2]>::default();
            self.free_owners.push(owner);
            self.by_account.remove(order.account);
        } else if !order.reduce_only {
            entry.totals[side_ix(order.side)].sub(order.price, order.qty);
        }
        Some(order)
    }

    /// Recomputes the price bounds of an account's totals on one side from its orders, both
    /// exact: O(its orders), paid only when a margin check needs them ([`Book::refresh_bounds`]).
    fn rebound(&mut self, owner: u32, side: Side) {
        let Self { owners, slots, .. } = self;
        let entry = &mut owners[owner as usize];
        let (mut low, mut high) = (Price(i64::MAX), Price(i64::MIN));
        for i in &entry.slots {
            let o = slots[*i as usize].order.as_ref().expect("listed slot holds an order");
            if o.side == side && !o.reduce_only {
                low = low.min(o.price);
                high = high.max(o.price);
            }
        }
        let t = &mut entry.totals[side_ix(side)];
        (t.low, t.high) = (low, high);
        (t.low_exact, t.high_exact) = (true, true);
    }

    /// Makes exact the bounds of `account`'s order totals on each side where `mark` lies
    /// strictly inside them and an end is inexact ([`SideTotals`]): a walk over the account's
    /// orders, paid only then. Called by the engine before the margin check of the account's
    /// order; nothing it changes reaches an output.
    pub fn refresh_bounds(&mut self, account: AccountId, mark: Price) {
        let Some(owner) = self.by_account.get(account) else { return };
        for side in [Side::Buy, Side::Sell] {
            if self.owners[owner as usize].totals[side_ix(side)].worth_refreshing(mark) {
                self.rebound(owner, side);
            }
        }
    }

    /// Keeps an account's totals in step with a size change of one of its orders at `price`.
    fn retotal_qty(&mut self, owner: u32, side: Side, price: Price, delta: i64) {
        let t = &mut self.owners[owner as usize].totals[side_ix(side)];
        t.qty += i128::from(delta);
        t.value += i128::from(price.0) * i128::from(delta);
    }

    /// Fills `qty` of the front order of `side` (the maker), removing it if it completes.
    ///
    /// # Panics
    /// If the side is empty or `qty` is not in `1..=front.qty` (matcher bugs).
    pub fn fill_front(&mut self, side: Side, qty: Qty) -> FrontFill {
        let price = self.best_price(side).expect("fill_front on an empty side");
        let l = self.find(side, price).expect("best level exists");
        let i = self.levels[l as usize].head;
        let slot = &mut self.slots[i as usize];
        let owner = slot.owner;
        let order = slot.order.as_mut().expect("level head holds an order");
        assert!(qty.is_positive() && qty <= order.qty, "fill of {qty} against {} open", order.qty);
        order.qty = Qty(order.qty.0 - qty.0);
        order.filled = Qty(order.filled.0 + qty.0);
        let (order_id, account, remaining, counted) = (order.id, order.account, order.qty, !order.reduce_only);
        let level = &mut self.levels[l as usize];
        level.total = Qty(level.total.0 - qty.0);
        self.side_changes[side_ix(side)] += 1;
        if counted {
            self.retotal_qty(owner, side, price, -qty.0);
        }
        let completed = if remaining.is_positive() {
            None
        } else {
            // The level and account totals already dropped by `qty` and the order holds 0, so
            // `remove` subtracts nothing more from them.
            self.remove(order_id)
        };
        FrontFill { order_id, account, price, remaining, completed }
    }

    /// Lowers an open order's size in place; it keeps its queue position.
    ///
    /// # Panics
    /// If the order is unknown or `new_qty` is not in `1..current` (engine bugs).
    pub fn reduce_qty(&mut self, id: OrderId, new_qty: Qty) {
        let at = self.locate(id).expect("reduce of an unknown order");
        self.reduce_qty_at(at, new_qty);
    }

    /// [`Book::reduce_qty`] of the order at `at`.
    ///
    /// # Panics
    /// If the slot no longer holds the order, or `new_qty` is not in `1..current` (engine bugs).
    pub fn reduce_qty_at(&mut self, at: OrderSlot, new_qty: Qty) {
        let i = self.held_slot(at);
        let slot = &mut self.slots[i as usize];
        let owner = slot.owner;
        let order = slot.order.as_mut().expect("indexed slot holds an order");
        assert!(new_qty.is_positive() && new_qty < order.qty, "reduce to {new_qty} from {}", order.qty);
        let delta = order.qty.0 - new_qty.0;
        order.qty = new_qty;
        let (side, price, counted) = (order.side, order.price, !order.reduce_only);
        let level = &mut self.levels[slot.level as usize];
        level.total = Qty(level.total.0 - delta);
        self.side_changes[side_ix(side)] += 1;
        if counted {
            self.retotal_qty(owner, side, price, -delta);
        }
    }

    /// Moves an open order to the back of the level at `price` with size `qty`: the queue
    /// position of a new arrival. Used by amends that change the price or raise the size.
    ///
    /// # Panics
    /// If the order is unknown or `qty` is not positive (engine bugs).
    pub fn requeue(&mut self, id: OrderId, price: Price, qty: Qty, queued_at: Timestamp) {
        let at = self.locate(id).expect("requeue of an unknown order");
        self.requeue_at(at, price, qty, queued_at);
    }

    /// [`Book::requeue`] of the order at `at`.
    ///
    /// # Panics
    /// If the slot no longer holds the order, or `qty` is not positive (engine bugs).
    pub fn requeue_at(&mut self, at: OrderSlot, price: Price, qty: Qty, queued_at: Timestamp) {
        assert!(qty.is_positive(), "requeue to a non-positive size");
        let i = self.held_slot(at);
        self.unlink(i);
        let (owner, side, old_price, old_qty, counted) = {
            let slot = &mut self.slots[i as usize];
            let owner = slot.owner;
            let order = slot.order.as_mut().expect("indexed slot holds an order");
            let old = (owner, order.side, order.price, order.qty, !order.reduce_only);
            order.price = price;
            order.qty = qty;
            order.queued_at = queued_at;
            old
        };
        self.link_back(side, price, i, qty);
        if counted {
            // An end order moving outwards (or not at all) leaves its end exact after `add`; one
            // moving inwards leaves it a bound ([`SideTotals`]).
            self.owners[owner as usize].totals[side_ix(side)].replace(old_price, old_qty, price, qty);
        }
    }

    /// Read-only access to the internals for the invariant checker.
    pub(super) fn raw_parts(&self) -> RawParts<'_> {
        RawParts {
            windows: &self.windows,
            bids: &self.bids,
            asks: &self.asks,
            level_of: &self.level_of,
            levels: &self.levels,
            free_levels: &self.free_levels,
            best: self.best,
            index: &self.index,
            by_account: &self.by_account,
            owners: &self.owners,
            free_owners: &self.free_owners,
            slots_len: self.slots.len(),
            free: &self.free,
        }
    }

    pub(super) fn slot_order(&self, i: u32) -> Option<&RestingOrder> {
        self.slots.get(i as usize).and_then(|s| s.order.as_ref())
    }

    /// `(prev, next, level slot)` of an order slot.
    pub(super) fn slot_links(&self, i: u32) -> (u32, u32, u32) {
        let s = &self.slots[i as usize];
        (s.prev, s.next, s.level)
    }

    /// The owner entry an order slot names.
    pub(super) fn slot_owner(&self, i: u32) -> u32 {
        self.slots[i as usize].owner
    }

    pub(super) fn level_ends(level: &Level) -> (u32, u32) {
        (level.head, level.tail)
    }

    pub(super) fn level_key(level: &Level) -> (Side, Price) {
        (level.side, level.price)
    }

    pub(super) const NIL: u32 = NIL;
    pub(super) const SINK: u32 = SINK;
}

/// Breakage for the tests of the invariant checker.
#[cfg(test)]
impl Book {
    /// Puts the sink slot on the free list, so the next order would be given it.
    pub(super) fn corrupt_free_sink_for_test(&mut self) {
        self.free.push(SINK);
    }

    pub(super) fn corrupt_best_for_test(&mut self, side: Side, price: Price) {
        self.best[side_ix(side)] = Some(price);
    }

    pub(super) fn corrupt_window_bit_for_test(&mut self, side: Side, price: Price) {
        let w = &mut self.windows[side_ix(side)];
        let i = w.offset(price.0).expect("inside the window");
        w.flip_bit_for_test(i);
    }

    /// Files level slot `l` at `price` in the window's table alone (no bit, no count).
    pub(super) fn corrupt_window_slot_for_test(&mut self, side: Side, price: Price, l: u32) {
        let w = &mut self.windows[side_ix(side)];
        let i = w.offset(price.0).expect("inside the window");
        w.set_slot_for_test(i, l);
    }

    /// Flips the summary bit of the bitmap word holding `price`.
    pub(super) fn corrupt_window_summary_for_test(&mut self, side: Side, price: Price) {
        let w = &mut self.windows[side_ix(side)];
        let i = w.offset(price.0).expect("inside the window");
        w.flip_summary_for_test(i / 64);
    }

    /// Moves a window level into the tree as well (reachable twice).
    pub(super) fn corrupt_tree_copy_for_test(&mut self, side: Side, price: Price) {
        let l = self.find(side, price).expect("a level");
        self.tree_mut(side).insert(price, l);
        self.level_of.insert(side, price, l);
    }
}

/// Read-only access to the internals for the invariant checker.
pub(super) struct RawParts<'a> {
    pub windows: &'a [Window; 2],
    pub bids: &'a BTreeMap<Price, u32>,
    pub asks: &'a BTreeMap<Price, u32>,
    pub level_of: &'a LevelIndex,
    pub levels: &'a [Level],
    pub free_levels: &'a [u32],
    pub best: [Option<Price>; 2],
    pub index: &'a OrderIndex,
    pub by_account: &'a AccountIndex,
    pub owners: &'a [AccountOrders],
    pub free_owners: &'a [u32],
    pub slots_len: usize,
    pub free: &'a [u32],
}
