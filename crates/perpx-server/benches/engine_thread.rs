//! The server's engine thread, in process: what one command costs it under the load tool's mix,
//! without the network, the gateway or the fsync.
//!
//! The loopback server figure (`perpx bench`) is set by the engine thread, which applies,
//! journals and encodes every command and publishes its book diffs (docs/PERFORMANCE.md "Server
//! under load"). Timed over loopback, that work drowns in the noise of two busy cores (the
//! bench client, the gateway and the kernel share them); here it is timed alone, so a change to
//! it can be measured.
//!
//! The stream is `perpx bench --transport ws --clients 4`'s: two makers posting 0.001 BTC bids
//! on 20 prices below the mark (every 100th message a `cancel_all`), two takers selling 0.001
//! BTC IOC through them, round robin. Commands are parsed on this thread as the gateway does
//! (`Submission::parse`) and answered by the engine thread, a batch of [`BATCH`] at a time so
//! they share a group commit; each answer's events are written out as JSON on this thread, as
//! the gateway writes an ack, while the engine thread applies the next batch (pipelined, as
//! the load tool's clients are). The journal is real (records, hashes, segment writes) on a
//! storage that skips the fsync; the volatile case has no journal.
//!
//! ```sh
//! cargo bench -p perpx-server --bench engine_thread
//! ```

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use perpx_core::{AccountId, CommandKind, Engine, EngineConfig, MarketId, Price, Quote};
use perpx_journal::FileStorage;
use perpx_node::{Node, NodeConfig};
use perpx_server::sequencer::{Ack, Journaled, Refusal, Sequencer, Store, Submission, Volatile};
use perpx_wire::units::format_units;
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Commands in flight together (they share one group commit, as under load).
const BATCH: usize = 256;
/// Commands per measured iteration.
const COMMANDS: usize = 4_096;
/// The mark the market is fed: 86,000.0 (tick 0.1).
const MARK_TICKS: i64 = 860_000;
/// Every maker's 100th message cancels its orders (the load tool's `CANCEL_EVERY`).
const CANCEL_EVERY: usize = 100;

/// A price of the demo's BTC-PERP as the API writes it.
fn price(ticks: i64) -> String {
    format_units(ticks, perpx_server::demo::btc().tick_size)
}

/// The load tool's four clients' messages, as the gateway hands them to the engine thread.
struct Mix {
    n: usize,
}

impl Mix {
    fn next(&mut self) -> Value {
        let n = self.n;
        self.n += 1;
        let client = n % 4;
        let k = n / 4;
        let account = 10 + client as u64;
        if client % 2 == 1 {
            return json!({ "type": "place_order", "account": account, "market": "BTC-PERP", "side": "sell",
                           "order_type": "limit", "tif": "ioc", "price": price(MARK_TICKS - MARK_TICKS / 100),
                           "qty": "0.001" });
        }
        if k % CANCEL_EVERY == CANCEL_EVERY - 1 {
            return json!({ "type": "cancel_all", "account": account, "market": "BTC-PERP" });
        }
        let offset = 10 * (1 + i64::try_from(k % 20).expect("small"));
        json!({ "type": "place_order", "account": account, "market": "BTC-PERP", "side": "buy",
                "order_type": "limit", "price": price(MARK_TICKS - offset), "qty": "0.001" })
    }
}

type Pending = Vec<tokio::sync::oneshot::Receiver<Result<Ack, Refusal>>>;

/// Submits `subs` without waiting for their answers.
fn submit(seq: &Sequencer, subs: Vec<Submission>) -> Pending {
    subs.into_iter().map(|s| seq.submit(s).expect("the queue has room")).collect()
}

/// Waits for the answers, writing each answer's events as the WebSocket ack does (on this
/// thread, as the gateway's: events are encoded by their first reader, so an ack's are encoded
/// there).
fn answer(pending: Pending) {
    for rx in pending {
        let ack = rx.blocking_recv().expect("answered").expect("decoded");
        assert!(ack.rejection.is_none(), "the mix is accepted: {:?}", ack.rejection);
        let text = serde_json::to_string(&ack.events()).expect("events serialize");
        black_box((ack, text));
    }
}

fn submit_all(seq: &Sequencer, subs: Vec<Submission>) {
    answer(submit(seq, subs));
}

/// The oracle's three sources at the mark (sent before each iteration, as the demo feed does,
/// so the index never goes stale).
fn oracle_feed() -> Vec<Submission> {
    (0..3)
        .map(|source| {
            Submission::Kind(Box::new(CommandKind::OraclePrice {
                market: MarketId(0),
                source,
                price: Price(MARK_TICKS),
            }))
        })
        .collect()
}

/// A venue with the demo's BTC-PERP and four funded accounts, on `store`.
fn venue(store: Box<dyn Store>) -> (Sequencer, std::thread::JoinHandle<()>) {
    let (seq, handle, ()) = Sequencer::start(store, 2 * BATCH, |_| ());
    let mut setup = vec![Submission::Kind(Box::new(CommandKind::CreateMarket(Box::new(perpx_server::demo::btc()))))];
    setup.extend(oracle_feed());
    for a in 10..14 {
        setup.push(Submission::Kind(Box::new(CommandKind::Deposit {
            account: AccountId(a),
            amount: Quote(1_000_000_000_000_000),
        })));
    }
    submit_all(&seq, setup);
    (seq, handle)
}

fn run(c: &mut Criterion, name: &str, store: Box<dyn Store>) {
    let (seq, handle) = venue(store);
    let mut mix = Mix { n: 0 };
    let mut g = c.benchmark_group("engine_thread");
    g.throughput(Throughput::Elements(COMMANDS as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            submit_all(&seq, oracle_feed());
            // Pipelined as the server's clients are: the next batch is in the engine thread's
            // queue while this thread answers the last one.
            let mut in_flight: Option<Pending> = None;
            for _ in 0..COMMANDS / BATCH {
                let subs = (0..BATCH).map(|_| Submission::parse(mix.next()).expect("a well-formed command")).collect();
                let next = submit(&seq, subs);
                if let Some(previous) = in_flight.replace(next) {
                    answer(previous);
                }
            }
            answer(in_flight.take().expect("a batch was sent"));
        });
    });
    g.finish();
    drop(seq);
    handle.join().expect("the engine thread stops cleanly");
}

fn journal_dir() -> PathBuf {
    std::env::temp_dir().join(format!("perpx-engine-thread-bench-{}", std::process::id()))
}

fn engine_thread(c: &mut Criterion) {
    run(c, "volatile", Box::new(Volatile(Engine::new(EngineConfig::default()))));
    let dir = journal_dir();
    drop(std::fs::remove_dir_all(&dir));
    let storage = FileStorage::open_without_fsync(&dir).expect("a fresh journal directory");
    let (node, _) = Node::open(storage, NodeConfig::default()).expect("an empty journal opens");
    run(c, "journaled_no_fsync", Box::new(Journaled(node)));
    drop(std::fs::remove_dir_all(&dir));
}

criterion_group!(benches, engine_thread);
criterion_main!(benches);
