//! The order book of one market: price-time priority.
//!
//! **Priority.** Orders rest at their limit price; better prices first (highest bid, lowest
//! ask), and within one price the earlier order first. An order keeps its place when its size
//! is *decreased*; a price change or a size increase sends it to the back of its (new) level,
//! as a new arrival would be, so nobody can jump the queue by amending.
//!
//! **Layout.** Levels live in a slab, found by price and walked in price order through a
//! price-indexed table per side covering a window of ticks (slots indexed by `price - base`
//! and a bitmap of occupied prices), with a hash map and a `BTreeMap` per side for the prices
//! outside the window (see `store.rs`); the best price of each side is cached;
//! each level is a doubly linked FIFO threaded through one slab of order nodes, so removing any
//! order is O(1) once its slot is found. Slots are found by id through a window of recent ids
//! indexed directly, older ids through a hash map (`order_index.rs`). Per account, the ids of
//! its open orders are kept for cancel-all and limits, with the totals of each side that the
//! margin check reads ([`SideTotals`]). The hash maps are only looked up, or iterated into a
//! list that is then sorted, so determinism does not depend on their order.
//!
//! The book knows nothing of matching rules, fees or margin: the engine's matcher drives it
//! with [`Book::front`], [`Book::fill_front`], [`Book::insert`] and [`Book::remove`].

mod invariants;
mod order;
mod order_index;
mod store;
#[cfg(test)]
mod tests;
mod window;

pub use order::{RestingOrder, Side};
pub use store::{AccountOrderIds, Book, FrontFill, Level, LevelIter, LevelOrders, OrderSlot, SideTotals};
