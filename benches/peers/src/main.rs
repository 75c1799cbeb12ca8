//! perpx's order book against peer order-book crates, in the same run, on the same commands.
//!
//! ```sh
//! cargo run --release --manifest-path benches/peers/Cargo.toml              # 1k and 100k books
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- --live 1000 --commands 200000 --reps 3
//! ```
//!
//! One neutral command stream (`stream.rs`: `benches/book.rs`'s exchange-core-style mix, from a
//! fixed seed) is fed to every book through a small adapter (`books.rs`). Before any time is
//! printed, every book must have traded exactly the naive reference book's volume and number of
//! fills and refused nothing: a mismatch is a bug in an adapter, not a result.
//!
//! Timing: each repetition builds and pre-fills a fresh book (not timed), then times the whole
//! stream with `Instant`; a first, untimed round is the warm-up and the check. The books take
//! turns within each round, so a load change on the machine hits them alike. The table shows
//! the median repetition and the fastest and slowest.

mod books;
mod flat;
mod stream;

use std::hint::black_box;
use std::time::{Duration, Instant};

use books::{Lobster, Matchcore, OrderbookRs, PerpxBook, PerpxEngine, RustOb, RustOrderBook, Venue};
use flat::FlatBook;
use stream::{Cmd, Mix, NaiveBook, Traded, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PerpxEngine,
    PerpxBook,
    Naive,
    Flat,
    Lobster,
    Matchcore,
    RustOb,
    RustOrderBook,
    OrderbookRs,
}

const KINDS: [Kind; 9] = [
    Kind::PerpxEngine,
    Kind::PerpxBook,
    Kind::Naive,
    Kind::Flat,
    Kind::OrderbookRs,
    Kind::Lobster,
    Kind::RustOb,
    Kind::RustOrderBook,
    Kind::Matchcore,
];

impl Kind {
    const fn name(self) -> &'static str {
        match self {
            Self::PerpxEngine => "perpx engine (Engine::apply_into)",
            Self::PerpxBook => "perpx book (perpx_core::book::Book)",
            Self::Naive => "naive reference (BTreeMap + VecDeque)",
            Self::Flat => "flat-array reference (ids and prices as indices)",
            Self::Lobster => "lobster 0.7.0",
            Self::Matchcore => "matchcore 0.4.0",
            Self::RustOb => "rust_ob 2.5.3",
            Self::RustOrderBook => "rust-order-book 0.0.2",
            Self::OrderbookRs => "orderbook-rs 0.15.3",
        }
    }

    /// Whether the book reports its fills (rust-order-book 0.0.2 reports only the volume).
    const fn counts_fills(self) -> bool {
        !matches!(self, Self::RustOrderBook)
    }

    /// A peer known to trade differently, with the reason: checked and reported, never timed.
    /// Any other mismatch stops the run.
    const fn known_divergence(self) -> Option<&'static str> {
        match self {
            Self::Matchcore => Some(
                "it matches a crossing limit order with no limit price (`match_order(.., None, ..)` in \
                 `submit_crossable_order` and in amend), so it trades through its limit; see the test \
                 `matchcore_0_4_0_trades_through_the_limit`",
            ),
            _ => None,
        }
    }
}

/// One repetition's outcome.
#[derive(Debug, Clone, Copy)]
struct Run {
    elapsed: Duration,
    traded: Traded,
}

fn prefill<V: Venue>(v: &mut V, w: &Workload) {
    for c in &w.prefill {
        let t = v.apply(c);
        assert_eq!(t, Traded::default(), "the pre-fill never crosses");
    }
}

fn time<V: Venue>(mut v: V, w: &Workload) -> Run {
    prefill(&mut v, w);
    let stream: &[Cmd] = &w.stream;
    let start = Instant::now();
    let mut traded = Traded::default();
    for c in stream {
        traded += v.apply(black_box(c));
    }
    let elapsed = start.elapsed();
    black_box(&v);
    drop(v);
    Run { elapsed, traded }
}

/// What each command traded, and what the book refused: the check (and warm-up) round.
fn trace<V: Venue>(mut v: V, w: &Workload) -> (Vec<Traded>, u64) {
    prefill(&mut v, w);
    let per_command = w.stream.iter().map(|c| v.apply(c)).collect();
    (per_command, v.refused())
}

/// Builds a fresh `$kind` book for `$w` and hands it to `$f` (`time` or `trace`), monomorphised
/// per book so no dynamic dispatch sits in the timed loop.
macro_rules! per_book {
    ($kind:expr, $w:expr, $f:ident) => {{
        let w: &Workload = $w;
        match $kind {
            Kind::PerpxEngine => $f(PerpxEngine::new(w.ids, w.depth), w),
            Kind::PerpxBook => $f(PerpxBook::default(), w),
            Kind::Naive => $f(NaiveBook::default(), w),
            Kind::Flat => $f(FlatBook::new(w), w),
            Kind::Lobster => $f(Lobster::new(w.ids, w.live * 2), w),
            Kind::Matchcore => $f(Matchcore::new(w.ids), w),
            Kind::RustOb => $f(RustOb::new(w.ids), w),
            Kind::RustOrderBook => $f(RustOrderBook::new(w.ids), w),
            Kind::OrderbookRs => $f(OrderbookRs::new(w.ids), w),
        }
    }};
}

fn percent(part: usize, whole: usize) -> String {
    let tenths = part * 1000 / whole.max(1);
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn ns_per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

fn variant(live: usize, commands: usize, reps: usize, seed: u64) {
    let w = stream::workload(live, commands, seed);
    let m = Mix::of(&w.stream);
    let n = w.stream.len();
    println!(
        "\n## ~{live} live orders: {} pre-fill orders, {n} measured commands (seed {seed}), book ±{} ticks around the mid",
        w.prefill.len(),
        w.depth
    );
    println!(
        "mix: {} % moves, {} % new GTC, {} % IOC, {} % cancels, {} % aggressive GTC",
        percent(m.moves, n),
        percent(m.gtc, n),
        percent(m.ioc, n),
        percent(m.cancels, n),
        percent(m.aggressive, n)
    );

    // Round 0: warm-up and the check. Every book must trade, command by command, what the
    // reference trades, and refuse nothing.
    let (reference, _) = per_book!(Kind::Naive, &w, trace);
    let total = reference.iter().fold(Traded::default(), |mut a, t| {
        a += *t;
        a
    });
    let mut timed = Vec::new();
    for k in KINDS {
        let (got, refused) = per_book!(k, &w, trace);
        let same = |a: &Traded, b: &Traded| a.volume == b.volume && (!k.counts_fills() || a.fills == b.fills);
        let first_difference = got.iter().zip(&reference).position(|(a, b)| !same(a, b));
        match (first_difference, refused, k.known_divergence()) {
            (None, 0, None) => timed.push(k),
            (None, 0, Some(_)) => panic!("{} now agrees with the reference: time it", k.name()),
            (Some(i), _, Some(why)) => {
                let volume: u64 = got.iter().map(|t| t.volume).sum();
                println!(
                    "excluded: {} first differs at command {i} ({:?}: traded {} lots, the reference {}); {refused} \
                     refused; {volume} lots in all against {}. Not timed: {why}.",
                    k.name(),
                    w.stream[i],
                    got[i].volume,
                    reference[i].volume,
                    total.volume
                );
            }
            (d, r, None) => panic!(
                "{} differs from the reference (first at command {d:?}) or refused {r} commands: an adapter bug",
                k.name()
            ),
            (None, r, Some(_)) => panic!("{} refused {r} commands", k.name()),
        }
    }
    let reference = total;
    println!(
        "check: {} books traded, command by command, the same {} lots in {} fills and refused nothing; {} of \
         {} commands traded",
        timed.len(),
        reference.volume,
        reference.fills,
        trading_commands(&w),
        n
    );

    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(reps); timed.len()];
    for _ in 0..reps {
        for (i, k) in timed.iter().enumerate() {
            let r = per_book!(*k, &w, time);
            assert_eq!(r.traded.volume, reference.volume, "{}: a different volume on a repetition", k.name());
            times[i].push(r.elapsed);
        }
    }
    for t in &mut times {
        t.sort();
    }
    let median = |i: usize| times[i][times[i].len() / 2];
    let engine = ns_per(median(0), n);
    let book = ns_per(median(1), n);
    println!();
    println!(
        "| book | M commands/s | ns/command (median) | fastest–slowest | × perpx engine | × perpx book | traded volume (lots) | fills |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (i, k) in timed.iter().enumerate() {
        let ns = ns_per(median(i), n);
        println!(
            "| {} | {:.2} | {:.0} | {:.0}–{:.0} | {:.2} | {:.2} | {} | {} |",
            k.name(),
            1e3 / ns,
            ns,
            ns_per(times[i][0], n),
            ns_per(times[i][times[i].len() - 1], n),
            engine / ns,
            book / ns,
            reference.volume,
            if k.counts_fills() { reference.fills.to_string() } else { "(not reported)".into() }
        );
    }
    println!(
        "\n(× = throughput relative to the perpx row: above 1 is faster than perpx. The engine row does\n\
         more per command than a bare book: accounts, margin on every order and amend, fees and\n\
         positions on every fill, events, funding clocks and the liquidation pass.)"
    );
}

/// Commands that traded at all (by the reference book).
fn trading_commands(w: &Workload) -> usize {
    let mut b = NaiveBook::default();
    for c in &w.prefill {
        b.apply(c);
    }
    w.stream.iter().filter(|c| b.apply(c).volume > 0).count()
}

fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown", |m| m.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{model}, {cores} CPUs")
}

fn main() {
    let mut live: Vec<usize> = vec![1_000, 100_000];
    let mut commands: Option<usize> = None;
    let mut reps = 7;
    let mut seed = 42;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--live" => live = value().split(',').map(|x| x.parse().expect("--live N[,N…]")).collect(),
            "--commands" => commands = Some(value().parse().expect("--commands N")),
            "--reps" => reps = value().parse().expect("--reps N"),
            "--seed" => seed = value().parse().expect("--seed N"),
            _ => {
                eprintln!("usage: perpx-peers [--live 1000,100000] [--commands N] [--reps 7] [--seed 42]");
                std::process::exit(2);
            }
        }
    }
    println!("# perpx and peer order books, one command stream\n\nmachine: {}", cpu());
    for l in live {
        // Deep books are slow in the engine (see PERFORMANCE.md): fewer commands there.
        let n = commands.unwrap_or(if l >= 10_000 { 200_000 } else { 1_000_000 });
        variant(l, n, reps, seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check the run makes, on a small stream: every book that is timed trades, command by
    /// command, what the reference trades; matchcore still diverges (or its exclusion is stale).
    #[test]
    fn every_timed_book_trades_what_the_reference_trades() {
        let w = stream::workload(300, 20_000, 7);
        let (reference, _) = per_book!(Kind::Naive, &w, trace);
        assert!(reference.iter().filter(|t| t.volume > 0).count() > 100, "the stream trades");
        for k in KINDS {
            let (got, refused) = per_book!(k, &w, trace);
            let same = got
                .iter()
                .zip(&reference)
                .all(|(a, b)| a.volume == b.volume && (!k.counts_fills() || a.fills == b.fills));
            assert_eq!(same && refused == 0, k.known_divergence().is_none(), "{}", k.name());
        }
    }
}
