//! The flat-array reference: about the least work a price-time book can do on this stream, run
//! as a floor for the other books' times, not as a book anyone could deploy.
//!
//! The performance issue sets the bare book's target beside "a bare flat-array book", said to
//! do 40–50 M commands/s on a 2-core machine. This is that book, so the claim is measured on the
//! machine that runs the table: orders in a `Vec` indexed by their id (the stream's ids are
//! dense from 0 and never reused), price levels in a `Vec` per side indexed by `price − lowest
//! price in the stream`, each level a FIFO queue threaded through the orders, and the best level
//! per side found again by a linear scan when it empties. What it leaves out, and perpx's book
//! does not: ids and prices from anywhere in `u64`/`i64` (perpx hashes ids and keeps a window of
//! levels with a tree beyond it), each account's order totals for the margin check, the whole
//! order (owner, time, flags, client id) in each slot, and the checks that turn an engine bug
//! into a panic instead of a wrong book.

use crate::books::Venue;
use crate::stream::{Cmd, Side, Traded, Workload};

/// "No order": the end of a queue.
const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Order {
    qty: u64,
    prev: u32,
    next: u32,
    level: u32,
    side: Side,
    live: bool,
}

#[derive(Debug, Clone, Copy)]
struct Level {
    head: u32,
    tail: u32,
}

/// The flat-array reference book (see the module docs).
#[derive(Debug)]
pub struct FlatBook {
    orders: Vec<Order>,
    /// `[bids, asks]`, each indexed by `price − lo`.
    levels: [Vec<Level>; 2],
    lo: u64,
    /// The best level of each side, `[bid, ask]`.
    best: [Option<u32>; 2],
    refused: u64,
}

const fn ix(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

const fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

impl FlatBook {
    /// An empty book sized for `w`: its ids and the range of its prices.
    pub fn new(w: &Workload) -> Self {
        let prices = w.prefill.iter().chain(&w.stream).filter_map(|c| match *c {
            Cmd::Limit { price, .. } | Cmd::Move { price, .. } => Some(price),
            Cmd::Cancel { .. } => None,
        });
        let (lo, hi) = prices.fold((u64::MAX, 0), |(lo, hi), p| (lo.min(p), hi.max(p)));
        let width = usize::try_from(hi - lo + 1).expect("the price range fits in memory");
        let ids = usize::try_from(w.ids).expect("ids fit in memory");
        assert!(u32::try_from(w.ids).is_ok_and(|n| n < NIL), "ids fit in u32");
        let empty = Level { head: NIL, tail: NIL };
        let order = Order { qty: 0, prev: NIL, next: NIL, level: 0, side: Side::Buy, live: false };
        Self {
            orders: vec![order; ids],
            levels: [vec![empty; width], vec![empty; width]],
            lo,
            best: [None; 2],
            refused: 0,
        }
    }

    #[allow(clippy::cast_possible_truncation)] // within the range `new` sized the levels for
    fn level_of(&self, price: u64) -> u32 {
        (price - self.lo) as u32
    }

    /// The best non-empty level of `side` at or beyond `from` (away from the spread).
    fn scan_best(&self, side: Side, from: u32) -> Option<u32> {
        let levels = &self.levels[ix(side)];
        let occupied = |l: &u32| levels[*l as usize].head != NIL;
        match side {
            Side::Buy => (0..=from).rev().find(occupied),
            #[allow(clippy::cast_possible_truncation)] // as `level_of`
            Side::Sell => (from..levels.len() as u32).find(occupied),
        }
    }

    fn link_back(&mut self, id: u32, side: Side, level: u32, qty: u64) {
        let s = ix(side);
        let queue = &mut self.levels[s][level as usize];
        let tail = queue.tail;
        queue.tail = id;
        if tail == NIL {
            queue.head = id;
        } else {
            self.orders[tail as usize].next = id;
        }
        self.orders[id as usize] = Order { qty, prev: tail, next: NIL, level, side, live: true };
        let better = match (side, self.best[s]) {
            (_, None) => true,
            (Side::Buy, Some(b)) => level > b,
            (Side::Sell, Some(b)) => level < b,
        };
        if better {
            self.best[s] = Some(level);
        }
    }

    fn unlink(&mut self, id: u32) {
        let o = self.orders[id as usize];
        let s = ix(o.side);
        if o.prev == NIL {
            self.levels[s][o.level as usize].head = o.next;
        } else {
            self.orders[o.prev as usize].next = o.next;
        }
        if o.next == NIL {
            self.levels[s][o.level as usize].tail = o.prev;
        } else {
            self.orders[o.next as usize].prev = o.prev;
        }
        self.orders[id as usize].live = false;
        if self.levels[s][o.level as usize].head == NIL && self.best[s] == Some(o.level) {
            self.best[s] = self.scan_best(o.side, o.level);
        }
    }

    /// Fills `qty` against the other side up to `limit` (a level index); returns what is left.
    fn take(&mut self, side: Side, limit: u32, mut qty: u64) -> (u64, Traded) {
        let mut traded = Traded::default();
        let other = opposite(side);
        while qty > 0 {
            let Some(level) = self.best[ix(other)] else { break };
            let crosses = match side {
                Side::Buy => level <= limit,
                Side::Sell => level >= limit,
            };
            if !crosses {
                break;
            }
            let head = self.levels[ix(other)][level as usize].head;
            let maker = &mut self.orders[head as usize];
            let q = qty.min(maker.qty);
            maker.qty -= q;
            qty -= q;
            traded.volume += q;
            traded.fills += 1;
            if maker.qty == 0 {
                self.unlink(head);
            }
        }
        (qty, traded)
    }

    #[allow(clippy::cast_possible_truncation)] // ids checked to fit in `new`
    fn limit(&mut self, id: u64, side: Side, price: u64, qty: u64, ioc: bool) -> Traded {
        let level = self.level_of(price);
        let (rest, traded) = self.take(side, level, qty);
        if rest > 0 && !ioc {
            self.link_back(id as u32, side, level, rest);
        }
        traded
    }

    fn live(&self, id: u64) -> bool {
        self.orders.get(usize::try_from(id).unwrap_or(usize::MAX)).is_some_and(|o| o.live)
    }
}

impl Venue for FlatBook {
    #[allow(clippy::cast_possible_truncation)] // ids checked to fit in `new`
    fn apply(&mut self, cmd: &Cmd) -> Traded {
        match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => self.limit(id, side, price, qty, ioc),
            Cmd::Cancel { id } => {
                if self.live(id) {
                    self.unlink(id as u32);
                } else {
                    self.refused += 1;
                }
                Traded::default()
            }
            // A move leaves its queue, may cross, and rests at the back of its new level.
            Cmd::Move { id, price, qty } => {
                if !self.live(id) {
                    self.refused += 1;
                    return Traded::default();
                }
                let side = self.orders[id as usize].side;
                self.unlink(id as u32);
                self.limit(id, side, price, qty, false)
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

    fn book(stream: &[Cmd]) -> FlatBook {
        let w = Workload { prefill: Vec::new(), stream: stream.to_vec(), ids: 8, live: 0, depth: 0 };
        FlatBook::new(&w)
    }

    fn lim(id: u64, side: Side, price: u64, qty: u64) -> Cmd {
        Cmd::Limit { id, side, price, qty, ioc: false }
    }

    #[test]
    fn a_limit_order_stops_at_its_limit_and_an_emptied_best_is_found_again() {
        let stream = [
            lim(0, Side::Sell, 100, 1),
            lim(1, Side::Sell, 105, 1),
            lim(2, Side::Buy, 101, 2), // takes the ask at 100 only, rests 1 at 101
            lim(3, Side::Buy, 98, 1),
            Cmd::Cancel { id: 2 }, // the best bid leaves
            Cmd::Limit { id: 4, side: Side::Sell, price: 97, qty: 3, ioc: true }, // meets 98, not 101
            Cmd::Move { id: 1, price: 98, qty: 1 }, // the ask moves to 98: nothing to meet
            Cmd::Cancel { id: 3 }, // already filled
        ];
        let mut b = book(&stream);
        let traded: Vec<u64> = stream.iter().map(|c| b.apply(c).volume).collect();
        assert_eq!(traded, [0, 0, 1, 0, 0, 1, 0, 0]);
        assert_eq!(b.refused(), 1, "the cancel of a filled order");
        assert_eq!(b.best, [None, Some(b.level_of(98))]);
    }
}
