//! The neutral command stream and the naive reference book that generates it.
//!
//! The mix is `crates/perpx-core/benches/book.rs`'s (exchange-core style): a book pre-filled to
//! about `live` orders around the mid, then roughly 82 % moves, 9 % new GTC orders, 3 % IOC
//! orders, 5 % cancels and 1 % aggressive GTC orders. It is generated once from a fixed seed by
//! driving the naive reference book (so every move and cancel names an order that is live at
//! that point), and then fed identically to every book.
//!
//! Two choices make the traded volume the same in every correct book, so that it can be
//! asserted: every move changes the price (a price move loses queue priority in perpx, in
//! matchcore and in a cancel + re-add alike, so all books keep the same queues), and perpx gets a
//! distinct account per order (self-trade prevention never fires).

use std::collections::{BTreeMap, HashMap, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 86,000.0 at tick 0.1: prices are in ticks, sizes in lots.
pub const MID: u64 = 860_000;

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Bids.
    Buy,
    /// Asks.
    Sell,
}

/// One command, in terms every book understands. Ids are dense from 0 and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// A new limit order: GTC (the remainder rests) or IOC (the remainder is cancelled).
    Limit {
        /// Its id.
        id: u64,
        /// Side.
        side: Side,
        /// Limit price in ticks.
        price: u64,
        /// Size in lots.
        qty: u64,
        /// Immediate or cancel.
        ioc: bool,
    },
    /// Cancel a live order.
    Cancel {
        /// Which.
        id: u64,
    },
    /// Move a live order to another price with a new open size (it loses its queue place and
    /// may cross).
    Move {
        /// Which.
        id: u64,
        /// New limit price, always different from the current one.
        price: u64,
        /// New open size.
        qty: u64,
    },
}

/// What a command traded: the sum of fill sizes and the number of fills (maker-taker pairs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traded {
    /// Σ fill sizes in lots.
    pub volume: u64,
    /// Number of fills.
    pub fills: u64,
}

impl std::ops::AddAssign for Traded {
    fn add_assign(&mut self, o: Self) {
        self.volume += o.volume;
        self.fills += o.fills;
    }
}

/// The naive reference book: `BTreeMap<price, VecDeque<(id, open size)>>` per side and a
/// `HashMap` from id to where it rests; a cancel scans its level's queue. Obviously right, and
/// the generator's model of which orders are live.
#[derive(Debug, Default)]
pub struct NaiveBook {
    bids: BTreeMap<u64, VecDeque<(u64, u64)>>,
    asks: BTreeMap<u64, VecDeque<(u64, u64)>>,
    at: HashMap<u64, (Side, u64)>,
    /// Makers filled completely by the last command (the generator's bookkeeping).
    pub completed: Vec<u64>,
    /// Commands naming an order that is not live.
    pub unknown: u64,
}

impl NaiveBook {
    /// Whether `id` rests in the book.
    pub fn contains(&self, id: u64) -> bool {
        self.at.contains_key(&id)
    }

    /// Orders resting.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    fn take(&mut self, side: Side, limit: u64, mut qty: u64) -> (u64, Traded) {
        let mut traded = Traded::default();
        while qty > 0 {
            let mut level = match side {
                Side::Buy => match self.asks.first_entry() {
                    Some(e) if *e.key() <= limit => e,
                    _ => break,
                },
                Side::Sell => match self.bids.last_entry() {
                    Some(e) if *e.key() >= limit => e,
                    _ => break,
                },
            };
            let queue = level.get_mut();
            while qty > 0 {
                let Some(front) = queue.front_mut() else { break };
                let q = qty.min(front.1);
                front.1 -= q;
                qty -= q;
                traded.volume += q;
                traded.fills += 1;
                if front.1 == 0 {
                    let id = front.0;
                    queue.pop_front();
                    self.at.remove(&id);
                    self.completed.push(id);
                }
            }
            if queue.is_empty() {
                level.remove();
            }
        }
        (qty, traded)
    }

    fn limit(&mut self, id: u64, side: Side, price: u64, qty: u64, ioc: bool) -> Traded {
        let (rest, traded) = self.take(side, price, qty);
        if rest > 0 && !ioc {
            let tree = match side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            tree.entry(price).or_default().push_back((id, rest));
            self.at.insert(id, (side, price));
        }
        traded
    }

    fn remove(&mut self, id: u64) -> Option<Side> {
        let (side, price) = self.at.remove(&id)?;
        let tree = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let queue = tree.get_mut(&price).expect("an indexed order's level exists");
        let i = queue.iter().position(|o| o.0 == id).expect("an indexed order is in its level");
        queue.remove(i);
        if queue.is_empty() {
            tree.remove(&price);
        }
        Some(side)
    }

    /// Applies one command.
    pub fn apply(&mut self, cmd: &Cmd) -> Traded {
        match *cmd {
            Cmd::Limit { id, side, price, qty, ioc } => self.limit(id, side, price, qty, ioc),
            Cmd::Cancel { id } => {
                if self.remove(id).is_none() {
                    self.unknown += 1;
                }
                Traded::default()
            }
            Cmd::Move { id, price, qty } => match self.remove(id) {
                Some(side) => self.limit(id, side, price, qty, false),
                None => {
                    self.unknown += 1;
                    Traded::default()
                }
            },
        }
    }
}

/// The measured workload: the pre-fill (not timed) and the stream (timed).
#[derive(Debug)]
pub struct Workload {
    /// Orders that build the starting book (none crosses).
    pub prefill: Vec<Cmd>,
    /// The measured commands.
    pub stream: Vec<Cmd>,
    /// Ids used: `0..ids`.
    pub ids: u64,
    /// The live-order target.
    pub live: usize,
    /// Half-width of the resting book in ticks on each side of the mid.
    pub depth: u64,
}

struct Gen {
    book: NaiveBook,
    live: Vec<(u64, Side, u64)>,
    pos: HashMap<u64, usize>,
    rng: ChaCha8Rng,
    next_id: u64,
    depth: u64,
}

impl Gen {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn side(&mut self) -> Side {
        if self.rng.random_bool(0.5) { Side::Buy } else { Side::Sell }
    }

    fn passive_price(&mut self, side: Side) -> u64 {
        let off = self.rng.random_range(1..=self.depth);
        if side == Side::Buy { MID - off } else { MID + off }
    }

    fn forget(&mut self, id: u64) {
        if let Some(i) = self.pos.remove(&id) {
            self.live.swap_remove(i);
            if let Some(moved) = self.live.get(i) {
                self.pos.insert(moved.0, i);
            }
        }
    }

    /// Applies to the model and keeps the list of live orders in step.
    fn apply(&mut self, cmd: Cmd) -> Cmd {
        self.book.completed.clear();
        self.book.apply(&cmd);
        let completed = std::mem::take(&mut self.book.completed);
        for id in &completed {
            self.forget(*id);
        }
        match cmd {
            Cmd::Limit { id, side, price, .. } => {
                if self.book.contains(id) {
                    self.pos.insert(id, self.live.len());
                    self.live.push((id, side, price));
                }
            }
            Cmd::Cancel { id } => self.forget(id),
            Cmd::Move { id, price, .. } => {
                if self.book.contains(id) {
                    let i = self.pos[&id];
                    self.live[i].2 = price;
                } else {
                    self.forget(id);
                }
            }
        }
        self.book.completed = completed;
        assert_eq!(self.book.len(), self.live.len());
        assert_eq!(self.book.unknown, 0, "the generator named an order that is not live");
        cmd
    }

    fn limit(&mut self, side: Side, price: u64, qty: u64, ioc: bool) -> Cmd {
        let id = self.id();
        Cmd::Limit { id, side, price, qty, ioc }
    }

    fn next(&mut self, target: usize) -> Cmd {
        let r = self.rng.random_range(0..100);
        let side = self.side();
        // Hold the book near its target size: below half, add; above 1.1×, new orders become cancels.
        let over = self.live.len() > target + target / 10;
        let r = if over && (82..91).contains(&r) { 95 } else { r };
        if self.live.len() < target / 2 || (82..91).contains(&r) {
            let p = self.passive_price(side);
            let q = self.rng.random_range(1..=50);
            self.limit(side, p, q, false)
        } else if r < 82 {
            let i = self.rng.random_range(0..self.live.len());
            let (id, side, price) = self.live[i];
            // Move by a few ticks; about 2 % of moves jump across the mid and trade.
            let cross = self.rng.random_range(0..50) == 0;
            let mut new_price = if cross {
                if side == Side::Buy { MID + self.rng.random_range(1..=5) } else { MID - self.rng.random_range(1..=5) }
            } else {
                let p = price.saturating_add_signed(self.rng.random_range(-5..=5));
                if side == Side::Buy { p.clamp(MID - self.depth, MID - 1) } else { p.clamp(MID + 1, MID + self.depth) }
            };
            if new_price == price {
                // Every move changes the price (see the module docs): one tick toward the mid.
                new_price = if side == Side::Buy { price + 1 } else { price - 1 };
            }
            let qty = self.rng.random_range(1..=50);
            Cmd::Move { id, price: new_price, qty }
        } else if r < 94 {
            let p = if side == Side::Buy { MID + 10 } else { MID - 10 };
            let q = self.rng.random_range(1..=30);
            self.limit(side, p, q, true)
        } else if r < 99 {
            let i = self.rng.random_range(0..self.live.len());
            Cmd::Cancel { id: self.live[i].0 }
        } else {
            let p = if side == Side::Buy { MID + 3 } else { MID - 3 };
            let q = self.rng.random_range(1..=20);
            self.limit(side, p, q, false)
        }
    }
}

/// Generates the pre-fill to `live` orders and `commands` measured commands from `seed`.
pub fn workload(live: usize, commands: usize, seed: u64) -> Workload {
    let depth = (live as u64 / 4).max(250);
    let mut g = Gen {
        book: NaiveBook::default(),
        live: Vec::new(),
        pos: HashMap::new(),
        rng: ChaCha8Rng::seed_from_u64(seed),
        next_id: 0,
        depth,
    };
    let mut prefill = Vec::with_capacity(live);
    while g.live.len() < live {
        let side = g.side();
        let p = g.passive_price(side);
        let q = g.rng.random_range(1..=50);
        let c = g.limit(side, p, q, false);
        prefill.push(g.apply(c));
    }
    let mut stream = Vec::with_capacity(commands);
    for _ in 0..commands {
        let c = g.next(live);
        stream.push(g.apply(c));
    }
    Workload { prefill, stream, ids: g.next_id, live, depth }
}

/// Counts of each kind of command in a stream, for the report.
#[derive(Debug, Default)]
pub struct Mix {
    /// Moves.
    pub moves: usize,
    /// New passive GTC orders (limit price on its own side of the mid).
    pub gtc: usize,
    /// IOC orders.
    pub ioc: usize,
    /// Cancels.
    pub cancels: usize,
    /// Aggressive GTC orders (limit price across the mid).
    pub aggressive: usize,
}

impl Mix {
    /// Counts `stream`.
    pub fn of(stream: &[Cmd]) -> Self {
        let mut m = Self::default();
        for c in stream {
            match *c {
                Cmd::Move { .. } => m.moves += 1,
                Cmd::Cancel { .. } => m.cancels += 1,
                Cmd::Limit { ioc: true, .. } => m.ioc += 1,
                Cmd::Limit { side: Side::Buy, price, .. } if price > MID => m.aggressive += 1,
                Cmd::Limit { side: Side::Sell, price, .. } if price < MID => m.aggressive += 1,
                Cmd::Limit { .. } => m.gtc += 1,
            }
        }
        m
    }
}
