//! The book against a simple model (a `BTreeMap` of FIFO queues per side), at prices inside,
//! at the edge of and far outside each side's price window, and near the ends of `i64`.

use std::collections::{BTreeMap, VecDeque};

use proptest::prelude::*;

use super::window::WINDOW;
use super::{Book, RestingOrder, Side};
use crate::command::StpMode;
use crate::ids::{AccountId, OrderId};
use crate::num::{Price, Qty, Timestamp};

/// Per side: price → queue of `(id, open size)`.
type Model = [BTreeMap<Price, VecDeque<(OrderId, i64)>>; 2];

fn ix(side: Side) -> usize {
    usize::from(side == Side::Sell)
}

fn order(id: u64, side: Side, price: Price, qty: i64) -> RestingOrder {
    RestingOrder {
        id: OrderId(id),
        account: AccountId(id % 7),
        side,
        price,
        qty: Qty(qty),
        filled: Qty::ZERO,
        post_only: false,
        stp: StpMode::ExpireMaker,
        reduce_only: false,
        client_id: None,
        queued_at: Timestamp(0),
    }
}

/// Where an operation's price lies.
#[derive(Debug, Clone, Copy)]
enum At {
    /// `centre ∓ offset` (bids below the centre, asks above it, so the book never crosses).
    Centre(i64),
    /// Near one end of the side's window as it stands (`base + k·WINDOW + delta`).
    Edge(i64, i64),
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Side, At, i64),
    Remove(usize),
    Requeue(usize, At, i64),
    Reduce(usize),
    Fill(Side, i64),
    /// An account's order bounds made exact where a mark at this price needs them.
    Refresh(u64, Side, At),
}

fn offset() -> impl Strategy<Value = i64> {
    let w = i64::try_from(WINDOW).unwrap();
    prop_oneof![
        4 => 1..200i64,
        2 => 1..w,
        2 => (w / 2 - 3)..(w / 2 + 3),
        2 => (w - 3)..(w + 3),
        1 => (2 * w - 3)..(2 * w + 3),
        1 => 1_000_000..1_000_100i64,
        1 => (1i64 << 50)..((1i64 << 50) + 5),
        1 => (i64::MAX - 5)..=i64::MAX,
    ]
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        3 => offset().prop_map(At::Centre),
        1 => ((-1i64..=1), (-3i64..3)).prop_map(|(k, d)| At::Edge(k, d)),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (side(), at(), 1..10i64).prop_map(|(s, a, q)| Op::Insert(s, a, q)),
        2 => any::<usize>().prop_map(Op::Remove),
        3 => (any::<usize>(), at(), 1..10i64).prop_map(|(i, a, q)| Op::Requeue(i, a, q)),
        1 => any::<usize>().prop_map(Op::Reduce),
        2 => (side(), 1..12i64).prop_map(|(s, q)| Op::Fill(s, q)),
        1 => (0..7u64, side(), at()).prop_map(|(a, s, at)| Op::Refresh(a, s, at)),
    ]
}

/// A price on `side` for `at`: bids in `1..centre`, asks in `centre + 1..=i64::MAX`.
fn price(book: &Book, centre: i64, side: Side, at: At) -> Price {
    let w = i64::try_from(WINDOW).unwrap();
    let p = match at {
        At::Centre(off) => match side {
            Side::Buy => centre.saturating_sub(off),
            Side::Sell => centre.saturating_add(off),
        },
        At::Edge(k, d) => match book.raw_parts().windows[ix(side)].base() {
            Some(base) => base.saturating_add(k * w).saturating_add(d),
            None => centre,
        },
    };
    match side {
        Side::Buy => Price(p.clamp(1, centre - 1)),
        Side::Sell => Price(p.clamp(centre + 1, i64::MAX)),
    }
}

/// The book says what the model says: levels in order with their totals and queues, best
/// prices, counts and lookups; and its own invariants hold.
fn agree(book: &Book, model: &Model, probes: &[Price]) -> Result<(), TestCaseError> {
    for side in [Side::Buy, Side::Sell] {
        let m = &model[ix(side)];
        let mut want: Vec<(Price, i64, Vec<OrderId>)> = m
            .iter()
            .map(|(p, q)| (*p, q.iter().map(|(_, n)| n).sum(), q.iter().map(|(id, _)| *id).collect()))
            .collect();
        if side == Side::Buy {
            want.reverse();
        }
        let have: Vec<(Price, i64, Vec<OrderId>)> =
            book.levels(side).map(|(p, l)| (p, l.total.0, book.level_orders(l).map(|o| o.id).collect())).collect();
        prop_assert_eq!(&have, &want, "{:?} levels", side);
        prop_assert_eq!(book.best_price(side), want.first().map(|w| w.0));
        prop_assert_eq!(book.level_count(side), want.len());
        for p in probes.iter().chain(m.keys()) {
            let level = book.level_at(side, *p);
            prop_assert_eq!(level.map(|l| l.total.0), m.get(p).map(|q| q.iter().map(|(_, n)| n).sum::<i64>()));
            prop_assert_eq!(book.has_level(side, *p), m.contains_key(p));
        }
    }
    book.check_invariants().map_err(TestCaseError::fail)
}

fn run(centre: i64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut book = Book::new();
    let mut model: Model = Default::default();
    // Live orders: (id, side); ids never reused.
    let mut live: Vec<(u64, Side)> = Vec::new();
    let mut next_id = 1u64;
    let mut probes = Vec::new();
    for op in ops {
        match *op {
            Op::Insert(side, at, qty) => {
                let p = price(&book, centre, side, at);
                book.insert(order(next_id, side, p, qty));
                model[ix(side)].entry(p).or_default().push_back((OrderId(next_id), qty));
                live.push((next_id, side));
                next_id += 1;
                probes.push(p);
            }
            Op::Remove(_) | Op::Reduce(_) | Op::Requeue(..) if live.is_empty() => {}
            Op::Remove(i) => {
                let (id, side) = live.swap_remove(i % live.len());
                let o = book.remove(OrderId(id)).expect("live order");
                take(&mut model[ix(side)], o.price, OrderId(id));
            }
            Op::Reduce(i) => {
                let (id, side) = live[i % live.len()];
                // Through the handle, as the engine's amend does (`requeue` goes by id).
                let at = book.locate(OrderId(id)).expect("live order");
                let o = book.order_at(at).clone();
                if o.qty.0 > 1 {
                    book.reduce_qty_at(at, Qty(o.qty.0 - 1));
                    let q = model[ix(side)].get_mut(&o.price).expect("model level");
                    q.iter_mut().find(|(x, _)| *x == o.id).expect("model order").1 -= 1;
                }
            }
            Op::Requeue(i, at, qty) => {
                let (id, side) = live[i % live.len()];
                let p = price(&book, centre, side, at);
                let old = book.get(OrderId(id)).expect("live order").price;
                book.requeue(OrderId(id), p, Qty(qty), Timestamp(1));
                take(&mut model[ix(side)], old, OrderId(id));
                model[ix(side)].entry(p).or_default().push_back((OrderId(id), qty));
                probes.push(p);
            }
            Op::Refresh(account, side, at) => {
                // The order totals' bounds hold every order (the checker in `agree`); after a
                // refresh, a mark strictly inside them finds both ends exact.
                let mark = price(&book, centre, side, at);
                book.refresh_bounds(AccountId(account), mark);
                for t in book.open_totals(AccountId(account)) {
                    let inside = t.count > 0 && t.low < mark && mark < t.high;
                    prop_assert!(!inside || (t.low_exact && t.high_exact), "{t:?} around {mark:?}");
                }
            }
            Op::Fill(side, qty) => {
                let Some(front) = book.front(side) else {
                    prop_assert!(model[ix(side)].is_empty());
                    continue;
                };
                let q = qty.min(front.qty.0);
                let fill = book.fill_front(side, Qty(q));
                let mut entry = model[ix(side)].first_entry();
                if side == Side::Buy {
                    entry = model[ix(side)].last_entry();
                }
                let mut entry = entry.expect("model level");
                prop_assert_eq!(*entry.key(), fill.price);
                let head = entry.get_mut().front_mut().expect("model order");
                prop_assert_eq!(head.0, fill.order_id);
                head.1 -= q;
                if head.1 == 0 {
                    entry.get_mut().pop_front();
                    if entry.get().is_empty() {
                        entry.remove();
                    }
                    live.retain(|(id, _)| OrderId(*id) != fill.order_id);
                    prop_assert!(fill.completed.is_some());
                }
            }
        }
        if probes.len() > 64 {
            probes.drain(..32);
        }
        agree(&book, &model, &probes)?;
    }
    Ok(())
}

fn take(side: &mut BTreeMap<Price, VecDeque<(OrderId, i64)>>, price: Price, id: OrderId) {
    let q = side.get_mut(&price).expect("model level");
    q.retain(|(x, _)| *x != id);
    if q.is_empty() {
        side.remove(&price);
    }
}

proptest! {
    #[test]
    fn book_equals_a_btreemap_model(
        centre in prop_oneof![
            Just(860_000i64),
            Just(2i64),
            Just(i64::MAX - 1),
            Just(i64::MAX - i64::try_from(WINDOW).unwrap()),
            2i64..i64::MAX,
        ],
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(centre, &ops)?;
    }
}

#[test]
fn prices_at_the_ends_of_i64() {
    // Bids near 1 and near `i64::MAX`, asks at `i64::MAX` and just below: windows clamp their
    // base so the top price is an `i64`, and lookups of far prices don't wrap into a window.
    let mut book = Book::new();
    let bids = [1, 2, i64::MAX - 10, i64::MAX - 5_000, 3];
    for (n, p) in bids.into_iter().enumerate() {
        book.insert(order(n as u64 + 1, Side::Buy, Price(p), 1));
        book.check_invariants().unwrap();
    }
    book.insert(order(100, Side::Sell, Price(i64::MAX), 2));
    book.insert(order(101, Side::Sell, Price(i64::MAX - 1), 3));
    book.check_invariants().unwrap();
    assert_eq!(book.best_price(Side::Buy), Some(Price(i64::MAX - 10)));
    assert_eq!(book.best_price(Side::Sell), Some(Price(i64::MAX - 1)));
    let walked: Vec<i64> = book.levels(Side::Buy).map(|(p, _)| p.0).collect();
    assert_eq!(walked, [i64::MAX - 10, i64::MAX - 5_000, 3, 2, 1]);
    for p in [i64::MIN, -1, 0, 4, i64::MAX - 11, i64::MAX] {
        assert!(book.level_at(Side::Buy, Price(p)).is_none(), "{p}");
    }
    assert!(book.level_at(Side::Sell, Price(i64::MIN)).is_none());
    assert!(book.level_at(Side::Sell, Price(i64::MAX)).is_some());
    // Emptying the windows re-centres them on the next level.
    for id in [1, 2, 3, 4, 5, 100, 101] {
        book.remove(OrderId(id)).unwrap();
        book.check_invariants().unwrap();
    }
    assert_eq!(book.level_count(Side::Buy) + book.level_count(Side::Sell), 0);
    book.insert(order(200, Side::Buy, Price(1 << 40), 1));
    book.insert(order(201, Side::Buy, Price(1), 1));
    book.check_invariants().unwrap();
    assert_eq!(book.best_price(Side::Buy), Some(Price(1 << 40)));
}

#[test]
fn recentring_moves_tree_levels_into_the_window() {
    // Window centred on 10,000; a level far above goes to the tree; emptying the window and
    // adding a level next to the far one re-centres the window over it and moves it in.
    let mut book = Book::new();
    book.insert(order(1, Side::Sell, Price(10_000), 1));
    book.insert(order(2, Side::Sell, Price(1_000_000), 1));
    assert_eq!(book.raw_parts().asks.len(), 1);
    book.remove(OrderId(1)).unwrap();
    book.insert(order(3, Side::Sell, Price(1_000_010), 1));
    book.check_invariants().unwrap();
    assert!(book.raw_parts().asks.is_empty(), "the far level moved into the window");
    assert_eq!(book.levels(Side::Sell).map(|(p, _)| p.0).collect::<Vec<_>>(), [1_000_000, 1_000_010]);
}

#[test]
fn the_checker_sees_a_broken_window() {
    // A check that can't fail is no check: break the cached best price and see it caught.
    let mut book = Book::new();
    book.insert(order(1, Side::Buy, Price(500), 1));
    book.insert(order(2, Side::Buy, Price(400), 1));
    book.check_invariants().unwrap();
    let mut broken = book.clone();
    broken.corrupt_best_for_test(Side::Buy, Price(400));
    assert!(broken.check_invariants().unwrap_err().contains("best"));
    let mut broken = book.clone();
    broken.corrupt_free_sink_for_test();
    assert!(broken.check_invariants().unwrap_err().contains("sink"));
    let mut broken = book.clone();
    broken.corrupt_window_bit_for_test(Side::Buy, Price(510));
    assert!(broken.check_invariants().unwrap_err().contains("disagrees with its slot"));
    // (500 opens a bitmap word of the window centred on it.) A slot in an otherwise empty
    // bitmap word (the checker's fast path).
    let far = Price(500 + i64::try_from(WINDOW / 4).unwrap());
    let mut broken = book.clone();
    broken.corrupt_window_slot_for_test(Side::Buy, far, 0);
    assert!(broken.check_invariants().unwrap_err().contains("does not show"));
    let mut broken = book.clone();
    broken.corrupt_window_slot_for_test(Side::Buy, Price(501), 0);
    assert!(broken.check_invariants().unwrap_err().contains("disagrees with its slot"));
    let mut broken = book.clone();
    broken.corrupt_window_summary_for_test(Side::Buy, Price(500));
    assert!(broken.check_invariants().unwrap_err().contains("summary"));
    let mut broken = book.clone();
    broken.corrupt_window_summary_for_test(Side::Buy, far);
    assert!(broken.check_invariants().unwrap_err().contains("summary"));
    let mut broken = book;
    broken.corrupt_tree_copy_for_test(Side::Buy, Price(500));
    assert!(broken.check_invariants().unwrap_err().contains("inside the window"));
}

#[test]
#[should_panic(expected = "stale order slot: order 1 is no longer at slot 1")]
fn a_slot_handle_refuses_a_slot_that_now_holds_another_order() {
    let mut book = Book::new();
    book.insert(order(1, Side::Buy, Price(500), 3));
    let at = book.locate(OrderId(1)).expect("open");
    assert_eq!(book.order_at(at).qty, Qty(3));
    book.remove(OrderId(1)).unwrap();
    // The freed slot is reused by the next order: the handle must not reach it.
    book.insert(order(2, Side::Buy, Price(500), 5));
    assert!(book.locate(OrderId(1)).is_none());
    book.requeue_at(at, Price(501), Qty(1), Timestamp(2));
}

#[test]
fn every_change_to_a_side_moves_its_change_count_and_only_its_own() {
    let mut book = Book::new();
    let counts = |b: &Book| [b.side_changes(Side::Buy), b.side_changes(Side::Sell)];
    let mut before = counts(&book);
    let mut step = |book: &mut Book, moved: Side, change: &dyn Fn(&mut Book)| {
        change(book);
        let after = counts(book);
        assert!(after[ix(moved)] > before[ix(moved)], "{moved:?} count did not move");
        assert_eq!(after[1 - ix(moved)], before[1 - ix(moved)], "the other side's count moved");
        before = after;
    };
    step(&mut book, Side::Buy, &|b| b.insert(order(1, Side::Buy, Price(500), 5)));
    step(&mut book, Side::Sell, &|b| b.insert(order(2, Side::Sell, Price(510), 5)));
    step(&mut book, Side::Buy, &|b| b.reduce_qty(OrderId(1), Qty(4)));
    step(&mut book, Side::Buy, &|b| b.requeue(OrderId(1), Price(501), Qty(4), Timestamp(1)));
    step(&mut book, Side::Sell, &|b| {
        b.fill_front(Side::Sell, Qty(1));
    });
    step(&mut book, Side::Buy, &|b| {
        b.remove(OrderId(1)).unwrap();
    });
}

/// An end whose order leaves stays as a bound until a mark inside the range asks for it; an
/// order at or beyond an end makes it exact again.
#[test]
fn order_bounds_stay_wide_until_a_mark_inside_them_asks() {
    let mut book = Book::new();
    let a = AccountId(1);
    let buy = |id, price| RestingOrder { account: a, ..order(id, Side::Buy, Price(price), 1) };
    for (id, price) in [(1, 100), (2, 103), (3, 105)] {
        book.insert(buy(id, price));
    }
    let ends = |book: &Book| {
        let t = book.open_totals(a)[0];
        (t.low, t.low_exact, t.high, t.high_exact)
    };
    assert_eq!(ends(&book), (Price(100), true, Price(105), true));
    // The best bid leaves: 105 stays the high end, inexact; the book is still consistent.
    book.remove(OrderId(3)).unwrap();
    assert_eq!(ends(&book), (Price(100), true, Price(105), false));
    book.check_invariants().unwrap();
    // A mark outside the range, or none needed: nothing walked.
    book.refresh_bounds(a, Price(106));
    assert_eq!(ends(&book), (Price(100), true, Price(105), false));
    // Quoting again at 104 leaves the end a bound; at 107 makes it exact.
    book.insert(buy(4, 104));
    assert_eq!(ends(&book), (Price(100), true, Price(105), false));
    book.insert(buy(5, 107));
    assert_eq!(ends(&book), (Price(100), true, Price(107), true));
    // The lowest leaves, then the highest: a mark at 104 lies inside the bounds [100, 107]:
    // the walk makes them exact, [103, 104].
    book.remove(OrderId(1)).unwrap();
    book.remove(OrderId(5)).unwrap();
    assert_eq!(ends(&book), (Price(100), false, Price(107), false));
    book.refresh_bounds(a, Price(104));
    assert_eq!(ends(&book), (Price(103), true, Price(104), true));
    // A move outwards keeps an end exact; inwards leaves it a bound.
    book.requeue(OrderId(4), Price(108), Qty(1), Timestamp(1));
    assert_eq!(ends(&book), (Price(103), true, Price(108), true));
    book.requeue(OrderId(4), Price(106), Qty(1), Timestamp(2));
    assert_eq!(ends(&book), (Price(103), true, Price(108), false));
    book.check_invariants().unwrap();
}
